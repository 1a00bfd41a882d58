//! Executing a sweep plan: run what the cache cannot serve, in parallel, each run into its own
//! directory (index last), and report what was reused.

use super::cache::{run_key, simulation_key, status, write_index, Status};
use super::schedule;
use super::sweep::{PlannedRun, SweepPlan};
use super::{datasets_of, keys_with, run_with_inputs, RunKeys, RunResult, DATASET_CACHE};
use crate::data::{DatasetSpec, KeySet};
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
    /// Runs written from an identical run simulated now for another sweep point (the same
    /// [`simulation_key`]: only their names and directories differ), not simulated again.
    pub shared: usize,
    /// Of the executed: finished before by another configuration, profile, input or code.
    pub stale: usize,
    /// Of the executed: finished before but with a missing or altered file.
    pub damaged: usize,
    /// Simulation wall time of the executed runs, summed (milliseconds of one core each).
    pub run_ms: u64,
}

impl std::fmt::Display for ExecReport {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "{} run(s) executed, {} reused from the cache",
            self.executed, self.reused
        )?;
        if self.shared > 0 {
            write!(
                f,
                ", {} written from an identical run of another sweep point",
                self.shared
            )?;
        }
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
    let mut reports = execute_all(&[plan], opts)?;
    Ok(reports.remove(0))
}

/// A run to execute now, and the identical runs of other sweep points it also writes.
struct Job<'a> {
    plan: usize,
    run: &'a PlannedRun,
    key: String,
    expected_s: f64,
    /// Runs with the same simulation key: (plan, run, run key).
    same: Vec<(usize, &'a PlannedRun, String)>,
}

/// Datasets shared by the pending runs: each is loaded when a run first needs it and released
/// when the last run that needs it has finished (so a figures run does not hold every dataset
/// at once).
struct Inputs {
    /// Per dataset id: the loaded keys and how many pending runs still need them.
    slots: BTreeMap<String, (Slot, AtomicUsize)>,
}

/// A loaded dataset (`None`: not loaded yet, or released).
type Slot = Mutex<Option<Arc<KeySet>>>;

/// The ids of the datasets run `r` reads ([`datasets_of`]).
fn needed(r: &PlannedRun) -> Result<Vec<String>> {
    let (own, others) = datasets_of(&r.manifest)?;
    Ok(own.iter().chain(&others).map(DatasetSpec::id).collect())
}

impl Inputs {
    fn new<'a>(jobs: impl Iterator<Item = &'a PlannedRun>) -> Result<Inputs> {
        let mut slots: BTreeMap<String, (Mutex<_>, AtomicUsize)> = BTreeMap::new();
        for r in jobs {
            for id in needed(r)? {
                *slots.entry(id).or_default().1.get_mut() += 1;
            }
        }
        Ok(Inputs { slots })
    }

    fn load(&self, d: &DatasetSpec) -> Result<Arc<KeySet>> {
        let (slot, _) = &self.slots[&d.id()];
        let mut slot = slot.lock().map_err(|_| anyhow!("a run panicked"))?;
        if slot.is_none() {
            *slot = Some(Arc::new(d.load(Path::new(DATASET_CACHE))?));
        }
        Ok(slot.clone().expect("loaded above"))
    }

    fn get(&self, r: &PlannedRun) -> Result<RunKeys> {
        keys_with(&r.manifest, |d| self.load(d))
    }

    fn release(&self, r: &PlannedRun) -> Result<()> {
        for id in needed(r)? {
            let (slot, left) = &self.slots[&id];
            if left.fetch_sub(1, Ordering::SeqCst) == 1 {
                if let Ok(mut s) = slot.lock() {
                    *s = None;
                }
            }
        }
        Ok(())
    }
}

/// Runs the pending runs of several plans (each its shard, if `opts.shard`) in one pool of
/// `opts.jobs` workers, longest expected first ([`super::schedule`]), and reports per plan.
/// Which worker runs what, and in which order runs finish, changes no output.
pub fn execute_all(plans: &[&SweepPlan], opts: &Exec) -> Result<Vec<ExecReport>> {
    let mut reports = vec![ExecReport::default(); plans.len()];
    let mut pending: Vec<Job> = Vec::new();
    // Pending runs by simulation key: the first of each key is simulated, the others are
    // written from its result.
    let mut by_simulation: BTreeMap<String, usize> = BTreeMap::new();
    for (pi, plan) in plans.iter().enumerate() {
        let selected: Vec<&PlannedRun> = match opts.shard {
            Some((i, n)) => plan.shard(i, n),
            None => plan.runs.iter().collect(),
        };
        let report = &mut reports[pi];
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
                    let sim = simulation_key(plan, r)?;
                    if let Some(&leader) = by_simulation.get(&sim) {
                        pending[leader].same.push((pi, r, key));
                        report.shared += 1;
                        continue;
                    }
                    by_simulation.insert(sim, pending.len());
                    let expected_s = schedule::expected_s(r, &dir);
                    pending.push(Job {
                        plan: pi,
                        run: r,
                        key,
                        expected_s,
                        same: Vec::new(),
                    });
                    report.executed += 1;
                }
            }
        }
    }
    // Longest first; ties keep plan and run order.
    pending.sort_by(|a, b| b.expected_s.total_cmp(&a.expected_s));
    let inputs = Inputs::new(pending.iter().map(|j| j.run))?;
    let total = pending.len();
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let busy_ms: Vec<AtomicU64> = plans.iter().map(|_| AtomicU64::new(0)).collect();
    let failed: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let tty = std::io::stderr().is_terminal();
    let start = std::time::Instant::now();
    let workers = opts.jobs.max(1).min(total.max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()?;
    let one = |job: &Job| -> Result<()> {
        let (plan, r) = (plans[job.plan], job.run);
        let m = &r.manifest;
        let topology = Arc::new(m.topology.build(m.seed)?);
        let keys = inputs.get(r)?;
        let result = run_with_inputs(m, topology, keys).with_context(|| {
            format!(
                "{}: run {} ({})",
                plan.dir.display(),
                r.index,
                r.params.join(", ")
            )
        })?;
        inputs.release(r)?;
        let out = plan.dir.join("runs").join(r.dir_name());
        write_run(&result, &out, &plan.code, &job.key, "")?;
        // Identical runs of other sweep points: the same result under their own manifest (name).
        let mut result = result;
        for (pj, rj, key) in &job.same {
            let dir = plans[*pj].dir.join("runs").join(rj.dir_name());
            result.manifest = rj.manifest.clone();
            write_run(
                &result,
                &dir,
                &plans[*pj].code,
                key,
                &out.display().to_string(),
            )?;
        }
        let p = result.provenance();
        busy_ms[job.plan].fetch_add((p.wall_s * 1e3) as u64, Ordering::SeqCst);
        let k = finished.fetch_add(1, Ordering::SeqCst) + 1;
        if tty {
            let el = start.elapsed().as_secs_f64();
            eprint!(
                "\r{}[{k}/{total}] {} run {} done in {:.1} s ({:.1} M events/s); elapsed {el:.0} s   ",
                if opts.label.is_empty() { String::new() } else { format!("{}: ", opts.label) },
                plan.dir.display(),
                r.index,
                p.wall_s,
                p.events_per_s / 1e6
            );
        }
        Ok(())
    };
    // Each worker takes the next job in order until none is left or one failed; a run's own
    // parallel work (rayon) stays inside the same `jobs` threads.
    pool.install(|| {
        rayon::scope(|s| {
            for _ in 0..workers {
                s.spawn(|_| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total || failed.lock().map_or(true, |f| f.is_some()) {
                        break;
                    }
                    if let Err(e) = one(&pending[i]) {
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(e);
                        }
                        break;
                    }
                });
            }
        })
    });
    if let Some(e) = failed.into_inner().map_err(|_| anyhow!("a run panicked"))? {
        return Err(e);
    }
    if tty && total > 0 {
        eprintln!();
    }
    for (r, ms) in reports.iter_mut().zip(&busy_ms) {
        r.run_ms = ms.load(Ordering::SeqCst);
    }
    Ok(reports)
}

/// Writes a finished run into `dir` (emptied first), its index last; `same_as` names the
/// directory of the run that was simulated when this one was written from an identical run.
fn write_run(result: &RunResult, dir: &Path, code: &str, key: &str, same_as: &str) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let files = result.write_with(dir, code, key, same_as)?;
    write_index(dir, key, code, &files)
}
