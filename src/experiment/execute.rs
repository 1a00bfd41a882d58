//! Executing a sweep plan: run what the cache cannot serve, in parallel, each run into its own
//! directory (index last), and report what was reused.

use super::cache::{run_key, status, write_index, Status};
use super::sweep::{PlannedRun, SweepPlan};
use super::{load_keys, run_with_inputs, DATASET_CACHE};
use crate::data::KeySet;
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// How to execute a plan.
#[derive(Clone, Debug, Default)]
pub struct Exec {
    /// Parallel runs (at least 1).
    pub jobs: usize,
    /// Only shard i of N (1-based).
    pub shard: Option<(usize, usize)>,
    /// Run everything again, whatever the cache holds.
    pub rerun: bool,
    /// A label for the progress line (e.g. the figure id).
    pub label: String,
}

/// What an execution did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecReport {
    /// Runs executed now.
    pub executed: usize,
    /// Runs served from the cache.
    pub reused: usize,
    /// Of the executed: finished before by another configuration, profile, input or code.
    pub stale: usize,
    /// Of the executed: finished before but with a missing or altered file.
    pub damaged: usize,
}

impl std::fmt::Display for ExecReport {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "{} run(s) executed, {} reused from the cache",
            self.executed, self.reused
        )?;
        if self.stale + self.damaged > 0 {
            write!(
                f,
                " ({} re-run because their configuration, inputs or code changed, {} because a file was missing or altered)",
                self.stale, self.damaged
            )?;
        }
        Ok(())
    }
}

/// Runs the (shard of the) plan, reusing every run the cache can serve.
pub fn execute(plan: &SweepPlan, opts: &Exec) -> Result<ExecReport> {
    let selected: Vec<&PlannedRun> = match opts.shard {
        Some((i, n)) => plan.shard(i, n),
        None => plan.runs.iter().collect(),
    };
    let mut report = ExecReport::default();
    let mut pending: Vec<(&PlannedRun, String)> = Vec::new();
    for r in selected {
        let key = run_key(plan, r)?;
        let dir = plan.dir.join("runs").join(r.dir_name());
        match (opts.rerun, status(&dir, &key)) {
            (false, Status::Fresh) => report.reused += 1,
            (_, s) => {
                match s {
                    Status::Stale => report.stale += 1,
                    Status::Damaged(_) => report.damaged += 1,
                    _ => {}
                }
                pending.push((r, key));
            }
        }
    }
    // Shared read-only inputs: each distinct dataset is loaded once.
    let mut datasets: BTreeMap<String, Option<Arc<KeySet>>> = BTreeMap::new();
    for (r, _) in &pending {
        let k = dataset_key(r);
        if let std::collections::btree_map::Entry::Vacant(e) = datasets.entry(k) {
            e.insert(load_keys(&r.manifest, Path::new(DATASET_CACHE))?);
        }
    }
    let total = pending.len();
    let finished = AtomicUsize::new(0);
    let tty = std::io::stderr().is_terminal();
    let start = std::time::Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()?;
    pool.install(|| {
        pending.par_iter().try_for_each(|(r, key)| -> Result<()> {
            let m = &r.manifest;
            let topology = Arc::new(m.topology.build(m.seed)?);
            let result = run_with_inputs(m, topology, datasets[&dataset_key(r)].clone())
                .with_context(|| format!("run {} ({})", r.index, r.params.join(", ")))?;
            let out = plan.dir.join("runs").join(r.dir_name());
            if out.exists() {
                std::fs::remove_dir_all(&out)
                    .with_context(|| format!("cannot clear {}", out.display()))?;
            }
            let files = result.write_with(&out, &plan.code, key)?;
            write_index(&out, key, &plan.code, &files)?;
            let k = finished.fetch_add(1, Ordering::SeqCst) + 1;
            if tty {
                let el = start.elapsed().as_secs_f64();
                let eta = el / k as f64 * (total - k) as f64;
                let p = result.provenance();
                eprint!(
                    "\r{}[{k}/{total}] run {} done in {:.1} s ({:.1} M events/s); elapsed {el:.0} s, ETA {eta:.0} s   ",
                    if opts.label.is_empty() { String::new() } else { format!("{}: ", opts.label) },
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
    report.executed = total;
    Ok(report)
}

fn dataset_key(r: &PlannedRun) -> String {
    format!(
        "{:?}|{:?}|{:?}",
        r.manifest.protocol,
        r.manifest
            .systems
            .iter()
            .map(|s| &s.protocol)
            .collect::<Vec<_>>(),
        r.manifest.dataset
    )
}
