//! Key datasets: the SOSD format, synthetic look-alikes, statistics and an on-disk cache.
//!
//! A run sees one shared, read-only, sorted key array ([`KeySet`]); peers own index ranges of it,
//! never copies (model.md §3).

pub mod kvcache;
pub mod points;
pub mod shapes;
pub mod sosd;
pub mod synth;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
pub use sosd::{load_sosd, write_sosd, KeySet};
use std::path::{Path, PathBuf};
pub use synth::SynthName;

/// The manifest's `[dataset]` table: a synthetic `name` (with `keys`) or a SOSD `file`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Synthetic dataset name (default `osmc64-like`); see `datasets/README.md`.
    #[serde(default = "default_name")]
    pub name: String,
    /// Number of keys to generate (default 200,000,000, the paper's size).
    #[serde(default = "default_keys")]
    pub keys: usize,
    /// Generator seed (default 1): fixed, so every run of a sweep shares one dataset.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// A real SOSD file to use instead of a generator (then `name`, `keys`, `seed` must be unset).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Cache generated datasets under `datasets/` (default true).
    #[serde(default = "default_true")]
    pub cache: bool,
}

fn default_name() -> String {
    "osmc64-like".into()
}
fn default_keys() -> usize {
    200_000_000
}
fn default_seed() -> u64 {
    1
}
fn default_true() -> bool {
    true
}

impl Default for DatasetSpec {
    fn default() -> Self {
        DatasetSpec {
            name: default_name(),
            keys: default_keys(),
            seed: default_seed(),
            file: None,
            cache: true,
        }
    }
}

impl DatasetSpec {
    /// Checks that the name exists and that the key count is possible.
    pub fn validate(&self) -> Result<()> {
        if self.file.is_some() {
            let d = DatasetSpec::default();
            if self.name != d.name || self.keys != d.keys || self.seed != d.seed {
                bail!("dataset.file excludes dataset.name / keys / seed (a file is used as it is)");
            }
            return Ok(());
        }
        if SynthName::parse(&self.name).is_none() {
            bail!(
                "dataset.name = \"{}\" is not a known dataset; choose one of {} or give dataset.file",
                self.name,
                SynthName::ALL.map(|n| n.as_str()).join(", ")
            );
        }
        if self.keys == 0 {
            bail!("dataset.keys = 0: a dataset needs at least one key");
        }
        if self.name == SynthName::KvCacheLike.as_str() {
            let max = kvcache::max_keys(self.seed);
            if self.keys as u64 > max {
                bail!(
                    "dataset.keys = {} is more than kvcache-like can encode with seed {} ({max}: {} documents x {} layer-head pairs x their blocks)",
                    self.keys,
                    self.seed,
                    kvcache::DOCS,
                    kvcache::MAX_LAYER_HEADS
                );
            }
        }
        Ok(())
    }

    /// What identifies the keys (`name:keys:seed`, or the file's path): two specs with the same
    /// id load the same keys, so loaded sets and models derived from them are shared by id.
    pub fn id(&self) -> String {
        match &self.file {
            Some(f) => f.display().to_string(),
            None => format!("{}:{}:{}", self.name, self.keys, self.seed),
        }
    }

    /// A short label for reports and file names.
    pub fn label(&self) -> String {
        match &self.file {
            Some(f) => f
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            None => self.name.clone(),
        }
    }

    /// Loads the file, or generates the keys (through the cache in `cache_dir` when enabled).
    pub fn load(&self, cache_dir: &Path) -> Result<KeySet> {
        self.validate()?;
        if let Some(f) = &self.file {
            return load_sosd(f);
        }
        let name = SynthName::parse(&self.name).expect("validated");
        if !self.cache {
            return Ok(KeySet::Owned(synth::generate(name, self.keys, self.seed)));
        }
        let path = cache_path(cache_dir, name, self.keys, self.seed);
        if path.exists() {
            if let Ok(set) = load_sosd(&path) {
                if set.len() == self.keys {
                    return Ok(set);
                }
            }
            eprintln!("warning: ignoring unusable cache file {}", path.display());
        }
        let keys = synth::generate(name, self.keys, self.seed);
        // The cache is optional: if it cannot be written, say so and go on from memory.
        let cached = std::fs::create_dir_all(cache_dir)
            .with_context(|| format!("cannot create {}", cache_dir.display()))
            .and_then(|()| write_sosd(&path, &keys));
        match cached {
            // Served from the file just written: held datasets are page cache the kernel can
            // reclaim, not anonymous memory (a figures run keeps several alive at once).
            Ok(()) => match load_sosd(&path) {
                Ok(set) if set.len() == keys.len() => Ok(set),
                _ => Ok(KeySet::Owned(keys)),
            },
            Err(e) => {
                eprintln!("warning: dataset not cached ({e:#}); using it from memory");
                Ok(KeySet::Owned(keys))
            }
        }
    }
}

/// The cache file of a generated dataset (name, size, seed and generator version in the name).
pub fn cache_path(dir: &Path, name: SynthName, keys: usize, seed: u64) -> PathBuf {
    dir.join(format!(
        "{}_n{keys}_s{seed}_g{}.sosd",
        name.as_str(),
        synth::GENERATOR_VERSION
    ))
}

/// Summary of a key array (`leadsim dataset stats`).
#[derive(Clone, Debug, Serialize)]
pub struct DatasetStats {
    /// Number of keys.
    pub count: usize,
    /// Smallest key.
    pub min: u64,
    /// Largest key.
    pub max: u64,
    /// Share of keys equal to their predecessor.
    pub duplicate_share: f64,
    /// Key values at the 1st, 10th, 25th, 50th, 75th, 90th and 99th percentiles.
    pub quantiles: Vec<(f64, u64)>,
}

/// Computes [`DatasetStats`] (keys must be sorted).
pub fn dataset_stats(keys: &[u64]) -> DatasetStats {
    use rayon::prelude::*;
    let dups: usize = keys.par_windows(2).filter(|w| w[0] == w[1]).count();
    let qs = [0.01, 0.10, 0.25, 0.50, 0.75, 0.90, 0.99];
    let quantiles = qs
        .iter()
        .map(|&q| {
            let i = ((keys.len().saturating_sub(1)) as f64 * q).round() as usize;
            (q, keys.get(i).copied().unwrap_or(0))
        })
        .collect();
    DatasetStats {
        count: keys.len(),
        min: keys.first().copied().unwrap_or(0),
        max: keys.last().copied().unwrap_or(0),
        duplicate_share: dups as f64 / keys.len().max(1) as f64,
        quantiles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_reused_and_keyed_by_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DatasetSpec {
            name: "amzn64-like".into(),
            keys: 10_000,
            ..Default::default()
        };
        let a = spec.load(dir.path()).unwrap();
        // Generated, written, and served from the file just written (page cache, not heap).
        assert!(matches!(a, KeySet::Mapped { .. }));
        let name = SynthName::parse(&spec.name).unwrap();
        let path = cache_path(dir.path(), name, spec.keys, spec.seed);
        let written = std::fs::metadata(&path).unwrap().modified().unwrap();
        let b = spec.load(dir.path()).unwrap();
        assert!(matches!(b, KeySet::Mapped { .. }));
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            written,
            "second load must come from the cache, not a new generation"
        );
        assert_eq!(a.keys(), b.keys());
        assert_eq!(
            a.keys(),
            synth::generate(name, spec.keys, spec.seed).as_slice()
        );
        let other = DatasetSpec {
            seed: 2,
            ..spec.clone()
        };
        assert_ne!(other.load(dir.path()).unwrap().keys(), a.keys());
    }

    #[test]
    fn unknown_names_and_zero_keys_are_explained() {
        let e = DatasetSpec {
            name: "osm".into(),
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("osmc64-like"), "{e}");
        let e = DatasetSpec {
            keys: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("at least one key"), "{e}");
    }

    #[test]
    fn stats_count_duplicates() {
        let s = dataset_stats(&[1, 1, 2, 3, 3, 3]);
        assert_eq!((s.count, s.min, s.max), (6, 1, 3));
        assert!((s.duplicate_share - 3.0 / 6.0).abs() < 1e-12);
    }
}
