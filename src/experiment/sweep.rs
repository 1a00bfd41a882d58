//! Parameter sweeps: a manifest's `[sweep]` table expands into many runs, executed in parallel,
//! resumable, shardable, and always assembled in run order (bytes independent of thread count and
//! finishing order).
//!
//! ```toml
//! [sweep]
//! replications = 3             # default 1
//! master_seed = 7              # default: the manifest's seed
//! "topology.hosts" = [100, 490]
//! "chord_batch.batch_size" = [100, 1000]   # last axis varies fastest
//! ```
//! Each run's seed is derived from (master seed, its parameter values, replication), so adding an
//! axis value never changes the other runs' seeds. Every run writes its files into
//! `<output.dir>/runs/<index>-<id>/` (provenance last: its presence marks the run finished); the
//! combined `summary.csv` and `queries.csv` (sweep columns first) are assembled from them.

use super::{load_keys, run_with_inputs, DATASET_CACHE};
use crate::data::KeySet;
use crate::manifest::Manifest;
use crate::output::{csv_field, write_atomic};
use crate::rng::derive_seed;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// One run of a sweep.
#[derive(Clone, Debug)]
pub struct PlannedRun {
    /// Position in the sweep (run order).
    pub index: usize,
    /// Axis values, as written in the CSVs (same order as the axes).
    pub params: Vec<String>,
    /// Replication number (0-based).
    pub replication: u32,
    /// The derived seed.
    pub seed: u64,
    /// The run's resolved manifest.
    pub manifest: Manifest,
}

impl PlannedRun {
    /// Name of its output directory under `runs/`.
    pub fn dir_name(&self) -> String {
        format!("{:05}-s{:016x}", self.index, self.seed)
    }
}

/// A sweep expanded into runs.
#[derive(Clone, Debug)]
pub struct SweepPlan {
    /// Axis keys (dotted manifest keys), in file order.
    pub axes: Vec<String>,
    /// Replications per parameter combination.
    pub replications: u32,
    /// The master seed.
    pub master_seed: u64,
    /// All runs, in run order.
    pub runs: Vec<PlannedRun>,
    /// Where outputs go (the base manifest's `output.dir`).
    pub dir: PathBuf,
}

fn render(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut t = table;
    for p in &parts[..parts.len() - 1] {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .with_context(|| format!("sweep.\"{key}\": '{p}' is not a table"))?;
    }
    t.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

impl SweepPlan {
    /// Expands a manifest file. A manifest without `[sweep]` is a sweep of one run.
    pub fn load(path: &Path) -> Result<SweepPlan> {
        Self::load_with(path, &[])
    }

    /// Expands a manifest file after overriding some dotted keys (e.g. a figure profile's
    /// shorter duration); with overrides, errors refer to the overridden manifest.
    pub fn load_with(path: &Path, overrides: &[(&str, toml::Value)]) -> Result<SweepPlan> {
        let mut text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        if !overrides.is_empty() {
            let mut t: toml::Table = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
            for (k, v) in overrides {
                set_dotted(&mut t, k, v.clone())?;
            }
            text = toml::to_string(&t)?;
        }
        let origin = path.display().to_string();
        let mut base = Manifest::parse(&text, &origin)?;
        if base.name.is_none() {
            base.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        let mut table: toml::Table = toml::from_str(&text)?;
        table.remove("sweep");
        table.insert("name".into(), toml::Value::String(base.label().to_string()));
        let sweep = base.sweep.clone().unwrap_or_default();
        let line_of = |key: &str| -> usize {
            text.lines()
                .position(|l| l.trim_start().trim_start_matches('"').starts_with(key))
                .map_or(0, |i| i + 1)
        };
        let mut replications = 1u32;
        let mut master_seed = base.seed;
        let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
        for (k, v) in &sweep {
            match k.as_str() {
                "replications" => match v.as_integer() {
                    Some(r) if r >= 1 && r <= u32::MAX as i64 => replications = r as u32,
                    _ => bail!(
                        "{origin}:{}: sweep.replications must be an integer >= 1",
                        line_of("replications")
                    ),
                },
                "master_seed" => match v.as_integer() {
                    Some(s) if s >= 0 => master_seed = s as u64,
                    _ => bail!(
                        "{origin}:{}: sweep.master_seed must be a non-negative integer",
                        line_of("master_seed")
                    ),
                },
                axis => {
                    let Some(values) = v.as_array() else {
                        bail!(
                            "{origin}:{}: sweep.\"{axis}\" must be a list of values",
                            line_of(axis)
                        );
                    };
                    if values.is_empty() {
                        bail!("{origin}:{}: sweep.\"{axis}\" is an empty list: a sweep axis needs at least one value", line_of(axis));
                    }
                    if axis == "seed" || axis == "name" || axis.starts_with("sweep") {
                        bail!("{origin}:{}: sweep.\"{axis}\" cannot be swept (use replications / master_seed)", line_of(axis));
                    }
                    axes.push((axis.to_string(), values.clone()));
                }
            }
        }
        // Cartesian product, last axis innermost.
        let mut combos: Vec<Vec<usize>> = vec![Vec::new()];
        for (_, values) in &axes {
            combos = combos
                .into_iter()
                .flat_map(|c| (0..values.len()).map(move |i| [c.clone(), vec![i]].concat()))
                .collect();
        }
        let mut runs = Vec::new();
        for combo in &combos {
            let params: Vec<String> = combo
                .iter()
                .zip(&axes)
                .map(|(&i, (_, vals))| render(&vals[i]))
                .collect();
            let identity: String = axes
                .iter()
                .zip(&params)
                .map(|((k, _), v)| format!("{k}={v};"))
                .collect::<Vec<_>>()
                .concat();
            for r in 0..replications {
                let mut t = table.clone();
                for (&i, (k, vals)) in combo.iter().zip(&axes) {
                    set_dotted(&mut t, k, vals[i].clone())?;
                }
                // TOML integers are i64: keep seeds in 63 bits.
                let seed = derive_seed(master_seed, &format!("run:{identity}"), u64::from(r)) >> 1;
                t.insert("seed".into(), toml::Value::Integer(seed as i64));
                let run_text = toml::to_string(&t)?;
                let what = format!("{origin} (run {}: {identity} replication {r})", runs.len());
                let manifest = Manifest::parse(&run_text, &what)?;
                runs.push(PlannedRun {
                    index: runs.len(),
                    params: params.clone(),
                    replication: r,
                    seed,
                    manifest,
                });
            }
        }
        Ok(SweepPlan {
            axes: axes.into_iter().map(|(k, _)| k).collect(),
            replications,
            master_seed,
            runs,
            dir: base.output.dir.clone(),
        })
    }

    /// The runs of shard `i` of `n` (1-based): every n-th run starting at the i-th.
    pub fn shard(&self, i: usize, n: usize) -> Vec<&PlannedRun> {
        self.runs.iter().filter(|r| r.index % n == i - 1).collect()
    }

    /// Prefix columns of the combined CSVs.
    fn header_prefix(&self) -> String {
        let mut h: String = self.axes.iter().map(|a| format!("{a},")).collect();
        h.push_str("replication,");
        h
    }
}

/// Parses `--shard i/N`.
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let (i, n) = s
        .split_once('/')
        .with_context(|| format!("--shard '{s}': expected i/N, e.g. 2/8"))?;
    let (i, n): (usize, usize) = (
        i.parse().context("--shard: bad i")?,
        n.parse().context("--shard: bad N")?,
    );
    if n == 0 || i == 0 || i > n {
        bail!("--shard {s}: need 1 <= i <= N");
    }
    Ok((i, n))
}

fn done(dir: &Path, run: &PlannedRun) -> bool {
    dir.join("runs")
        .join(run.dir_name())
        .join("provenance.json")
        .exists()
}

/// Runs the (shard of the) sweep with `jobs` threads, skipping finished runs. Returns how many
/// runs were executed now.
pub fn execute(plan: &SweepPlan, shard: Option<(usize, usize)>, jobs: usize) -> Result<usize> {
    let selected: Vec<&PlannedRun> = match shard {
        Some((i, n)) => plan.shard(i, n),
        None => plan.runs.iter().collect(),
    };
    let pending: Vec<&PlannedRun> = selected
        .into_iter()
        .filter(|r| !done(&plan.dir, r))
        .collect();
    // Shared read-only inputs: each distinct dataset is loaded once.
    let mut datasets: BTreeMap<String, Option<Arc<KeySet>>> = BTreeMap::new();
    for r in &pending {
        let key = format!("{:?}|{:?}", r.manifest.protocol, r.manifest.dataset);
        if let std::collections::btree_map::Entry::Vacant(e) = datasets.entry(key) {
            e.insert(load_keys(&r.manifest, Path::new(DATASET_CACHE))?);
        }
    }
    let total = pending.len();
    let finished = AtomicUsize::new(0);
    let tty = std::io::stderr().is_terminal();
    let start = std::time::Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()?;
    pool.install(|| {
        pending.par_iter().try_for_each(|r| -> Result<()> {
            let m = &r.manifest;
            let key = format!("{:?}|{:?}", m.protocol, m.dataset);
            let topology = Arc::new(m.topology.build(m.seed)?);
            let result = run_with_inputs(m, topology, datasets[&key].clone())
                .with_context(|| format!("run {} ({})", r.index, r.params.join(", ")))?;
            let out = plan.dir.join("runs").join(r.dir_name());
            result.write(&out)?;
            let k = finished.fetch_add(1, Ordering::SeqCst) + 1;
            if tty {
                let el = start.elapsed().as_secs_f64();
                let eta = el / k as f64 * (total - k) as f64;
                let p = result.provenance();
                eprint!(
                    "\r[{k}/{total}] run {} done in {:.1} s ({:.1} M events/s); elapsed {el:.0} s, ETA {eta:.0} s   ",
                    r.index,
                    p.wall_s,
                    p.events_per_s / 1e6
                );
            }
            Ok(())
        })
    })?;
    if tty && total > 0 {
        eprintln!();
    }
    Ok(total)
}

/// Assembles the combined `summary.csv` and `queries.csv` in `out` from run directories found in
/// any of `sources` (their `runs/` subfolders), in run order. Fails listing missing runs.
pub fn assemble(plan: &SweepPlan, sources: &[PathBuf], out: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut found = Vec::new();
    for r in &plan.runs {
        match sources
            .iter()
            .map(|s| s.join("runs").join(r.dir_name()))
            .find(|d| d.join("provenance.json").exists())
        {
            Some(d) => found.push((r, d)),
            None => missing.push(r.index),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(|i| i.to_string()).collect();
        bail!(
            "{} of {} runs are not finished (runs {}{})",
            missing.len(),
            plan.runs.len(),
            shown.join(", "),
            if missing.len() > 20 { ", ..." } else { "" }
        );
    }
    for file in ["summary.csv", "queries.csv"] {
        let mut combined = Vec::new();
        let mut header_written = false;
        for (r, d) in &found {
            let p = d.join(file);
            if !p.exists() {
                continue;
            }
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            if !header_written {
                combined
                    .extend_from_slice(format!("{}{header}\n", plan.header_prefix()).as_bytes());
                header_written = true;
            }
            let prefix: String = r
                .params
                .iter()
                .map(|v| format!("{},", csv_field(v)))
                .collect::<String>()
                + &format!("{},", r.replication);
            for line in lines {
                combined.extend_from_slice(prefix.as_bytes());
                combined.extend_from_slice(line.as_bytes());
                combined.push(b'\n');
            }
        }
        if header_written {
            write_atomic(&out.join(file), &combined)?;
        }
    }
    Ok(())
}
