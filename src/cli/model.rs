//! `leadsim model ...`: train and evaluate learned hash functions.

use anyhow::Result;
use leadsim::data::{DatasetSpec, KeySet};
use leadsim::learned::eval::{evaluate, to_csv, EvalConfig, EvalRow};
use leadsim::learned::scout::scout;
use leadsim::learned::spans::{range_spans, RangeSpans};
use leadsim::learned::ModelSpec;
use leadsim::output::write_atomic;
use std::path::{Path, PathBuf};

/// The keys a model subcommand trains on: a SOSD file or a synthetic dataset.
#[derive(clap::Args)]
pub struct KeySource {
    /// A SOSD file or a synthetic dataset name.
    #[arg(long, default_value = "osmc64-like")]
    dataset: String,
    /// Keys of a synthetic dataset.
    #[arg(long, default_value_t = 200_000_000)]
    keys: usize,
    /// Seed of a synthetic dataset.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn load_keys(src: &KeySource) -> Result<(String, KeySet)> {
    let spec = if Path::new(&src.dataset).exists() {
        DatasetSpec {
            file: Some(src.dataset.clone().into()),
            ..Default::default()
        }
    } else {
        DatasetSpec {
            name: src.dataset.clone(),
            keys: src.keys,
            seed: src.seed,
            ..Default::default()
        }
    };
    let set = spec.load(Path::new(leadsim::experiment::DATASET_CACHE))?;
    Ok((spec.label(), set))
}

fn print_rows(rows: &[EvalRow]) {
    println!(
        "{:<14} {:<30} {:>10} {:>9} {:>9} {:>10} {:>10} {:>8} {:>8}",
        "dataset",
        "model",
        "size MiB",
        "max log2",
        "avg log2",
        "p50 err",
        "p99 err",
        "train s",
        "ns/key"
    );
    for r in rows {
        println!(
            "{:<14} {:<30} {:>10.3} {:>9.2} {:>9.2} {:>10.1} {:>10.1} {:>8.2} {:>8.1}",
            r.dataset,
            r.model,
            r.size_mib,
            r.max_log2_error,
            r.avg_log2_error,
            r.p50_error,
            r.p99_error,
            r.train_s,
            r.eval_ns_per_key
        );
    }
}

/// `leadsim model eval`.
pub fn eval(
    config: Option<PathBuf>,
    dataset: Option<String>,
    keys: usize,
    seed: u64,
    models: Vec<String>,
    out: Option<PathBuf>,
) -> Result<()> {
    let (sources, models, out) = match config {
        Some(path) => {
            let c = EvalConfig::load(&path)?;
            let sources = c
                .datasets()?
                .into_iter()
                .map(|d| {
                    let l = d.label();
                    (d, l)
                })
                .collect();
            (sources, c.models, Some(out.unwrap_or(c.output)))
        }
        None => {
            let source = dataset.unwrap_or_else(|| "osmc64-like".into());
            let spec = if Path::new(&source).exists() {
                DatasetSpec {
                    file: Some(source.into()),
                    ..Default::default()
                }
            } else {
                DatasetSpec {
                    name: source,
                    keys,
                    seed,
                    ..Default::default()
                }
            };
            let label = spec.label();
            (vec![(spec, label)], models, out)
        }
    };
    let specs: Vec<ModelSpec> = models
        .iter()
        .map(|m| ModelSpec::parse(m))
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for (spec, label) in sources {
        let set = spec.load(Path::new(leadsim::experiment::DATASET_CACHE))?;
        for m in &specs {
            let row = evaluate(m, set.keys(), &label)?;
            print_rows(std::slice::from_ref(&row));
            rows.push(row);
        }
    }
    if let Some(out) = out {
        write_atomic(&out, &to_csv(&rows))?;
        eprintln!("written to {}", out.display());
    }
    Ok(())
}

/// `leadsim model scout`.
pub fn scout_cmd(source: &KeySource, budget: usize) -> Result<()> {
    let (label, set) = load_keys(source)?;
    let c = scout(set.keys(), budget)?;
    println!("dataset {label}: Model-Scout picks {:?}", c.spec);
    println!(
        "estimated size {} bytes, estimated p99 error {:.1} positions",
        c.size_bytes, c.p99_error
    );
    Ok(())
}

/// `leadsim model spans`.
pub fn spans_cmd(
    source: &KeySource,
    spec: &str,
    range: usize,
    peers: &[u64],
    over: f64,
) -> Result<()> {
    if !(over.is_finite() && over >= 0.0) {
        anyhow::bail!("--over {over}: a number of peers >= 0");
    }
    let m = ModelSpec::parse(spec)?;
    let (label, set) = load_keys(source)?;
    let model = m.train(set.keys())?;
    let n = set.len();
    let peers: Vec<usize> = peers.iter().map(|&p| p as usize).collect();
    let limits: Vec<f64> = peers
        .iter()
        .map(|&p| RangeSpans::limit_for(n, over, p))
        .collect();
    let s = range_spans(model.as_ref(), set.keys(), range, &limits)
        .map_err(|e| anyhow::anyhow!("--range {range}: {e}"))?;
    println!(
        "dataset {label} ({n} keys), model {spec}: {} windows of {range} keys",
        s.windows
    );
    let qs = [0.5, 0.9, 0.99, 0.999];
    let row = |name: &str, f: &dyn Fn(f64) -> f64, share: String| {
        let cells: Vec<String> = qs
            .iter()
            .map(|&q| f(s.quantile(q)))
            .chain([f(s.mean), f(s.max as f64)])
            .map(|v| format!("{v:>11.1}"))
            .collect();
        println!("{name:<22}{}{share:>14}", cells.join(""));
    };
    println!(
        "{:<22}{:>11}{:>11}{:>11}{:>11}{:>11}{:>11}{:>14}",
        "span in",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "mean",
        "max",
        format!("over {over}")
    );
    row("positions", &|v| v, String::new());
    println!(
        "{:<22}{:>11.1}  (an exact order-preserving hash)",
        "ideal positions",
        (range - 1) as f64
    );
    for (&p, &o) in peers.iter().zip(&s.over) {
        let share = format!("{:.5}", o as f64 / s.windows as f64);
        row(&format!("peers at {p}"), &|v| s.peers_in(v, p), share);
    }
    Ok(())
}
