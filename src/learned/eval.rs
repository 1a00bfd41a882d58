//! Model evaluation (`leadsim model eval`, Table I).
//!
//! For every key, the error is `e = |predicted - true|` where `true` is the position of the key's
//! first occurrence (lower bound); the per-key log2 error is `log2(e + 1)`. We report its mean and
//! maximum over all keys, and the p50 / p99 of `e` (from a histogram exact below 4,096 and within
//! 1.1% above). SOSD's published figures use log2 of each leaf's *error bound*; the per-key mean is
//! smaller (most keys are closer than their leaf's worst key), the per-key max is the same.

use super::{LearnedModel, ModelSpec};
use anyhow::Result;
use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;

const EXACT: usize = 4096;
const LOG_BUCKETS: usize = 64 * 64;

/// A histogram of non-negative values: exact below 4,096, log-spaced (1.1%) above.
#[derive(Clone)]
pub(super) struct Hist {
    exact: Vec<u64>,
    log: Vec<u64>,
    sum_log2: f64,
    max_log2: f64,
    count: u64,
}

impl Hist {
    pub(super) fn new() -> Self {
        Hist {
            exact: vec![0; EXACT],
            log: vec![0; LOG_BUCKETS],
            sum_log2: 0.0,
            max_log2: 0.0,
            count: 0,
        }
    }
    pub(super) fn add(&mut self, e: f64) {
        let l = (e + 1.0).log2();
        self.sum_log2 += l;
        self.max_log2 = self.max_log2.max(l);
        self.count += 1;
        let r = e.round();
        if r < EXACT as f64 {
            self.exact[r as usize] += 1;
        } else {
            self.log[((l * 64.0) as usize).min(LOG_BUCKETS - 1)] += 1;
        }
    }
    pub(super) fn merge(mut self, o: Hist) -> Hist {
        for (a, b) in self.exact.iter_mut().zip(&o.exact) {
            *a += b;
        }
        for (a, b) in self.log.iter_mut().zip(&o.log) {
            *a += b;
        }
        self.sum_log2 += o.sum_log2;
        self.max_log2 = self.max_log2.max(o.max_log2);
        self.count += o.count;
        self
    }
    pub(super) fn quantile(&self, q: f64) -> f64 {
        let target = (q * self.count as f64).ceil() as u64;
        let mut acc = 0;
        for (e, &c) in self.exact.iter().enumerate() {
            acc += c;
            if acc >= target {
                return e as f64;
            }
        }
        for (b, &c) in self.log.iter().enumerate() {
            acc += c;
            if acc >= target {
                return 2f64.powf((b as f64 + 0.5) / 64.0) - 1.0;
            }
        }
        f64::NAN
    }
}

/// A model-evaluation config file (e.g. `experiments/table1.toml`): a dataset, optional further
/// dataset names, the models and the CSV to write.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// The keys (the same `[dataset]` table as in run manifests).
    #[serde(default)]
    pub dataset: crate::data::DatasetSpec,
    /// Synthetic dataset names to repeat the evaluation on (same size and seed).
    #[serde(default)]
    pub also_datasets: Vec<String>,
    /// Model specifications (see [`ModelSpec::parse`]).
    pub models: Vec<String>,
    /// CSV to write.
    pub output: std::path::PathBuf,
}

impl EvalConfig {
    /// Reads and validates a config; errors name the file and line.
    pub fn load(path: &std::path::Path) -> Result<EvalConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let c: EvalConfig = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start].matches('\n').count() + 1)
                .unwrap_or(0);
            anyhow::anyhow!("{}:{line}: {}", path.display(), e.message())
        })?;
        c.datasets()
            .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
        for m in &c.models {
            ModelSpec::parse(m)
                .map_err(|e| anyhow::anyhow!("{}: models: {e:#}", path.display()))?;
        }
        Ok(c)
    }

    /// The datasets to evaluate on, validated.
    pub fn datasets(&self) -> Result<Vec<crate::data::DatasetSpec>> {
        let mut v = vec![self.dataset.clone()];
        for name in &self.also_datasets {
            v.push(crate::data::DatasetSpec {
                name: name.clone(),
                ..self.dataset.clone()
            });
        }
        for d in &v {
            d.validate()?;
        }
        Ok(v)
    }
}

/// One row of the evaluation table.
#[derive(Clone, Debug, Serialize)]
pub struct EvalRow {
    /// Dataset label.
    pub dataset: String,
    /// Number of keys.
    pub keys: usize,
    /// Model configuration.
    pub model: String,
    /// Parameter bytes.
    pub size_bytes: usize,
    /// Size in MiB.
    pub size_mib: f64,
    /// Max over keys of log2(e + 1).
    pub max_log2_error: f64,
    /// Mean over keys of log2(e + 1).
    pub avg_log2_error: f64,
    /// Median absolute error (positions).
    pub p50_error: f64,
    /// 99th percentile absolute error (positions).
    pub p99_error: f64,
    /// Training wall time (seconds, all cores).
    pub train_s: f64,
    /// Prediction cost, ns per key, one core, keys in random order.
    pub eval_ns_per_key: f64,
}

/// Errors of `model` on every key (parallel over fixed chunks; deterministic).
fn errors(model: &dyn LearnedModel, keys: &[u64]) -> Hist {
    const CHUNK: usize = 1 << 20;
    (0..keys.len().div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let s = c * CHUNK;
            let e = (s + CHUNK).min(keys.len());
            let mut h = Hist::new();
            let mut run = keys.partition_point(|&k| k < keys[s]);
            for i in s..e {
                if i > s && keys[i] != keys[i - 1] {
                    run = i;
                }
                h.add((model.predict(keys[i]) - run as f64).abs());
            }
            h
        })
        .reduce(Hist::new, Hist::merge)
}

/// Mean prediction time over up to 10 M keys taken in a fixed pseudo-random order (one core).
fn time_predictions(model: &dyn LearnedModel, keys: &[u64]) -> f64 {
    let probes = keys.len().min(10_000_000);
    let mut rng = crate::rng::SimRng::from_seed(17);
    // Gather the probe keys first so the timing measures the model, not fetching the keys.
    let probe: Vec<u64> = (0..probes)
        .map(|_| keys[rng.below(keys.len() as u64) as usize])
        .collect();
    let t = Instant::now();
    let mut acc = 0.0;
    for &k in &probe {
        acc += model.predict(k);
    }
    std::hint::black_box(acc);
    t.elapsed().as_secs_f64() * 1e9 / probes as f64
}

/// Trains and evaluates one model on `keys`.
pub fn evaluate(spec: &ModelSpec, keys: &[u64], dataset: &str) -> Result<EvalRow> {
    let t = Instant::now();
    let model = spec.train(keys)?;
    let train_s = t.elapsed().as_secs_f64();
    let h = errors(model.as_ref(), keys);
    let eval_ns = time_predictions(model.as_ref(), keys);
    let size = model.size_bytes();
    Ok(EvalRow {
        dataset: dataset.to_string(),
        keys: keys.len(),
        model: model.name(),
        size_bytes: size,
        size_mib: size as f64 / (1024.0 * 1024.0),
        max_log2_error: h.max_log2,
        avg_log2_error: h.sum_log2 / h.count.max(1) as f64,
        p50_error: h.quantile(0.5),
        p99_error: h.quantile(0.99),
        train_s,
        eval_ns_per_key: eval_ns,
    })
}

/// p99 absolute error of a trained model on `keys` (used by Model-Scout).
pub fn p99_error(model: &dyn LearnedModel, keys: &[u64]) -> f64 {
    errors(model, keys).quantile(0.99)
}

/// The table as CSV (header included); timing columns last (they vary between machines).
pub fn to_csv(rows: &[EvalRow]) -> Vec<u8> {
    to_csv_with(rows, true)
}

/// The CSV without the wall-clock columns (`train_s`, `eval_ns_per_key`): bytes that depend only
/// on the data and the models, for committed results.
pub fn to_csv_deterministic(rows: &[EvalRow]) -> Vec<u8> {
    to_csv_with(rows, false)
}

fn to_csv_with(rows: &[EvalRow], timings: bool) -> Vec<u8> {
    let mut out = String::from(
        "dataset,keys,model,size_bytes,size_mib,max_log2_error,avg_log2_error,p50_error,p99_error",
    );
    out.push_str(if timings {
        ",train_s,eval_ns_per_key\n"
    } else {
        "\n"
    });
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{:.4},{:.4},{:.4},{:.2},{:.2}",
            crate::output::csv_field(&r.dataset),
            r.keys,
            crate::output::csv_field(&r.model),
            r.size_bytes,
            r.size_mib,
            r.max_log2_error,
            r.avg_log2_error,
            r.p50_error,
            r.p99_error,
        ));
        if timings {
            out.push_str(&format!(",{:.3},{:.1}", r.train_s, r.eval_ns_per_key));
        }
        out.push('\n');
    }
    out.into_bytes()
}
