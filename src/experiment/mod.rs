//! Running one manifest: build the shared inputs, run the protocol, write the outputs.
//!
//! Output files of a run, in `output.dir`:
//! - `queries.csv`: one row per query (run columns, then [`crate::output::records::QUERY_COLUMNS`]);
//! - `summary.csv`: one row per run (latency statistics, success, messages by kind);
//! - `provenance.json`: leadsim version, manifest hash, seed, wall time, events, events/s;
//! - `churn.csv` (if `output.churn_trace`): the churn schedule, replayable.
//!
//! CSV bytes depend only on the manifest and its seed; wall-clock facts go to the provenance only.

pub mod assemble;
pub mod cache;
pub mod execute;
pub mod schedule;
pub mod sweep;

pub use assemble::assemble;
pub use execute::{execute, execute_all, Exec, ExecReport};

use crate::churn::ChurnSchedule;
use crate::data::{DatasetSpec, KeySet};
use crate::driver::{ProtocolOutput, World};
use crate::engine::time::to_ms_f64;
use crate::manifest::Manifest;
use crate::output::records::QUERY_COLUMNS;
use crate::output::{csv_field, write_atomic, Outcome, Summary};
use crate::protocols;
use crate::rng::name_hash;
use crate::topology::Topology;
use anyhow::Result;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Where generated datasets are cached (relative to the working directory).
pub const DATASET_CACHE: &str = "datasets";

/// The result of one run, before it is written.
pub struct RunResult {
    /// The manifest that was run.
    pub manifest: Manifest,
    /// What the protocol returned.
    pub output: ProtocolOutput,
    /// The churn schedule that was replayed.
    pub churn: ChurnSchedule,
    /// Wall time of the simulation proper (seconds).
    pub wall_s: f64,
}

/// Provenance of a run (`provenance.json`).
#[derive(Serialize)]
pub struct Provenance {
    /// leadsim version.
    pub leadsim_version: &'static str,
    /// The run label.
    pub name: String,
    /// FNV-1a-64 of the resolved manifest (hex).
    pub manifest_hash: String,
    /// Master seed.
    pub seed: u64,
    /// Protocol.
    pub protocol: String,
    /// Topology description.
    pub topology: String,
    /// Simulated seconds.
    pub simulated_s: f64,
    /// Simulated time at which the run ended, in seconds: `simulated_s` plus the drain of the
    /// queries still running at the end (per-second rates over the run divide by this).
    pub ended_s: f64,
    /// Wall-clock seconds of the simulation (inputs excluded).
    pub wall_s: f64,
    /// Events processed.
    pub events: u64,
    /// Events per wall-clock second.
    pub events_per_s: f64,
    /// Of `events`, the replies settled at send time, without a queue entry.
    pub events_settled: u64,
    /// The code that produced the run (crate version, git commit, binary hash).
    pub code: String,
    /// The run's cache key (sweeps and figures; empty for `leadsim run`).
    pub run_key: String,
    /// When this run was not simulated itself but written from an identical run of another
    /// sweep point (same simulation, another name): that run's directory. Absent otherwise.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub same_run_as: String,
    /// Wall-clock facts of the protocol (e.g. `lead_model_train_s`), never part of a CSV.
    pub facts: std::collections::BTreeMap<String, f64>,
}

/// One system's table of named columns: (system, row labels, columns).
type ColumnTable<'a> = (&'a str, Vec<String>, &'a [(&'static str, Vec<f64>)]);

/// Builds the shared inputs and runs one manifest (nothing is written).
pub fn run_manifest(m: &Manifest) -> Result<RunResult> {
    let topology = Arc::new(m.topology.build(m.seed)?);
    let keys = load_keys(m, Path::new(DATASET_CACHE))?;
    run_with_inputs(m, topology, keys)
}

/// The keys a run reads: the run's dataset (when a system stores it) and the other datasets its
/// systems name (`[[systems]] dataset`), by [`DatasetSpec::id`].
#[derive(Clone, Default)]
pub struct RunKeys {
    /// The run's dataset (`[dataset]`), or `None` when no system stores it.
    pub own: Option<Arc<KeySet>>,
    /// The datasets systems name besides the run's, by id.
    pub systems: Vec<(String, Arc<KeySet>)>,
}

/// The datasets run `m` reads: the run's own (when its protocol, or a system without a dataset
/// of its own, stores keys) and those its systems name, distinct by id.
pub fn datasets_of(m: &Manifest) -> Result<(Option<DatasetSpec>, Vec<DatasetSpec>)> {
    let needs = |p: &str| protocols::find(p).map(|e| e.needs_dataset);
    let mut own = needs(&m.protocol)?;
    let mut others: Vec<DatasetSpec> = Vec::new();
    for s in &m.systems {
        match &s.dataset {
            Some(d) => {
                if !others.iter().any(|o| o.id() == d.id()) {
                    others.push(d.clone());
                }
            }
            None => own |= needs(&s.protocol)?,
        }
    }
    Ok((own.then(|| m.dataset.clone().unwrap_or_default()), others))
}

/// Loads the datasets run `m` reads ([`datasets_of`]).
pub fn load_keys(m: &Manifest, cache: &Path) -> Result<RunKeys> {
    keys_with(m, |d| d.load(cache).map(Arc::new))
}

/// The keys of the datasets run `m` reads, each obtained from `load` (which may share them
/// between runs).
pub fn keys_with(
    m: &Manifest,
    load: impl Fn(&DatasetSpec) -> Result<Arc<KeySet>>,
) -> Result<RunKeys> {
    let (own, others) = datasets_of(m)?;
    Ok(RunKeys {
        own: own.as_ref().map(&load).transpose()?,
        systems: others
            .iter()
            .map(|d| Ok((d.id(), load(d)?)))
            .collect::<Result<_>>()?,
    })
}

/// Runs one manifest on already-built inputs (shared read-only between runs of a sweep).
pub fn run_with_inputs(m: &Manifest, topology: Arc<Topology>, keys: RunKeys) -> Result<RunResult> {
    let proto = protocols::find(&m.protocol)?;
    let churn = m
        .churn
        .schedule(topology.host_count(), m.duration(), m.seed)?;
    let t0 = Instant::now();
    let output = with_world(m, topology, keys, churn.clone(), |w| (proto.run)(w))?;
    Ok(RunResult {
        manifest: m.clone(),
        output,
        churn,
        wall_s: t0.elapsed().as_secs_f64(),
    })
}

/// Builds the [`World`] of manifest `m` on the given inputs and hands it to `f` (how a protocol
/// under development, a test or a doc example drives its own code without a registry entry).
///
/// ```
/// use leadsim::{experiment, manifest::Manifest};
/// use std::sync::Arc;
/// let m = Manifest::parse("duration_s = 5\n[topology]\nhosts = 3\n", "doc").unwrap();
/// let topo = Arc::new(m.topology.build(m.seed).unwrap());
/// let churn = m.churn.schedule(3, m.duration(), m.seed).unwrap();
/// let none = experiment::RunKeys::default();
/// let peers = experiment::with_world(&m, topo, none, churn, |w| Ok(w.vnodes.iter().sum::<u32>()));
/// assert_eq!(peers.unwrap(), 30);
/// ```
pub fn with_world<T>(
    m: &Manifest,
    topology: Arc<Topology>,
    keys: RunKeys,
    churn: ChurnSchedule,
    f: impl FnOnce(&World) -> Result<T>,
) -> Result<T> {
    let vnodes = m.overlay.vnodes_per_host(topology.host_count(), m.seed)?;
    let world = World {
        label: m.label(),
        protocol: &m.protocol,
        seed: m.seed,
        duration: m.duration(),
        slots: m.overlay.slots_per_host(&vnodes),
        min_vnodes: m.overlay.min_vnodes,
        vnodes,
        topology,
        latency: m.latency.clone(),
        churn,
        workload: &m.workload,
        dataset: m.dataset.clone().unwrap_or_default().id(),
        keys: keys.own,
        system_keys: keys.systems,
        tables: &m.tables,
        systems: &m.systems,
        host_stats: m.output.hosts,
        series: m.output.series,
    };
    f(&world)
}

impl RunResult {
    /// Columns that identify the run on every CSV row.
    fn run_columns(&self) -> (String, String) {
        let m = &self.manifest;
        let header = "run,protocol,topology,hosts,vnodes,churn,seed,".to_string();
        let values = format!(
            "{},{},{},{},{},{},{},",
            m.label(),
            m.protocol,
            serde_plain(&m.topology.kind),
            m.topology.hosts,
            m.overlay.vnodes,
            serde_plain(&m.churn.model),
            m.seed
        );
        (header, values)
    }

    /// The per-query CSV (header included): every system's queries, system by system.
    pub fn queries_csv(&self) -> Vec<u8> {
        let (h, v) = self.run_columns();
        let n: usize = self.output.records.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(64 + n * 96);
        out.extend_from_slice(format!("{h}system,{QUERY_COLUMNS}\n").as_bytes());
        for (name, recs) in self.output.systems.iter().zip(&self.output.records) {
            let prefix = format!("{v}{},", csv_field(name));
            for r in recs {
                r.write_csv_line(&prefix, &mut out);
            }
        }
        out
    }

    /// The per-host CSV (header included): for every system, one row per host.
    pub fn hosts_csv(&self) -> Vec<u8> {
        let tables: Vec<ColumnTable> = (self.output.hosts.iter())
            .map(|t| {
                let n = t.columns.first().map_or(0, |c| c.1.len());
                (
                    t.system.as_str(),
                    (0..n).map(|h| h.to_string()).collect(),
                    &t.columns[..],
                )
            })
            .collect();
        self.columns_csv("host", &tables)
    }

    /// The time-series CSV (header included): for every system, one row per time point.
    pub fn series_csv(&self) -> Vec<u8> {
        let tables: Vec<ColumnTable> = (self.output.series.iter())
            .map(|t| {
                let ts = t.t_s.iter().map(|&x| fmt_plain(x)).collect();
                (t.system.as_str(), ts, &t.columns[..])
            })
            .collect();
        self.columns_csv("t_s", &tables)
    }

    /// Tables of named columns, one per system, as CSV: the run columns, `system`, the row
    /// label column `index`, then the columns (named after the first table's).
    fn columns_csv(&self, index: &str, tables: &[ColumnTable]) -> Vec<u8> {
        let (h, v) = self.run_columns();
        let mut out = String::new();
        let cols: Vec<&str> = tables
            .first()
            .map(|t| t.2.iter().map(|c| c.0).collect())
            .unwrap_or_default();
        let _ = writeln!(out, "{h}system,{index},{}", cols.join(","));
        for (system, labels, columns) in tables {
            for (i, label) in labels.iter().enumerate() {
                let vals: Vec<String> = columns.iter().map(|c| fmt_plain(c.1[i])).collect();
                let _ = writeln!(out, "{v}{},{label},{}", csv_field(system), vals.join(","));
            }
        }
        out.into_bytes()
    }

    /// The summary CSV (header included): one row per system. Message, byte and event counters
    /// are run-wide (every system's rows repeat them); query statistics are the system's own.
    pub fn summary_csv(&self) -> Vec<u8> {
        let mut out = String::new();
        for (i, name) in self.output.systems.iter().enumerate() {
            let (h, v) = self.summary_row(i, name);
            if i == 0 {
                out.push_str(&h);
                out.push('\n');
            }
            out.push_str(&v);
            out.push('\n');
        }
        out.into_bytes()
    }

    /// Header and values of system `sys`'s summary row.
    fn summary_row(&self, sys: usize, name: &str) -> (String, String) {
        let (mut h, mut v) = self.run_columns();
        h.push_str("system,");
        v.push_str(&csv_field(name));
        v.push(',');
        let recs = &self.output.records[sys];
        let ok: Vec<f64> = recs
            .iter()
            .filter(|r| r.outcome == Outcome::Ok)
            .map(|r| to_ms_f64(r.latency_us))
            .collect();
        let count = |o: Outcome| recs.iter().filter(|r| r.outcome == o).count();
        let lat = Summary::of(&ok);
        let msgs = Summary::of(
            &recs
                .iter()
                .map(|r| f64::from(r.messages))
                .collect::<Vec<_>>(),
        );
        let hops = Summary::of(
            &recs
                .iter()
                .filter(|r| r.outcome == Outcome::Ok)
                .map(|r| f64::from(r.hops))
                .collect::<Vec<_>>(),
        );
        let resolved = count(Outcome::Ok) + count(Outcome::Failed);
        let mut col = |name: &str, value: String| {
            // Column names may hold system names (message kinds of a system), so quote them.
            let _ = write!(h, "{},", csv_field(name));
            let _ = write!(v, "{value},");
        };
        col("queries", recs.len().to_string());
        col("ok", count(Outcome::Ok).to_string());
        col("failed", count(Outcome::Failed).to_string());
        col("origin_down", count(Outcome::OriginDown).to_string());
        col("unfinished", count(Outcome::Unfinished).to_string());
        col(
            "success_rate",
            fmt(count(Outcome::Ok) as f64 / resolved.max(1) as f64),
        );
        col("latency_ms_mean", fmt(lat.mean));
        col("latency_ms_ci95", fmt(lat.ci95));
        col("latency_ms_median", fmt(lat.median));
        col("latency_ms_p95", fmt(lat.p95));
        col("hops_mean", fmt(hops.mean));
        col("messages_per_query_mean", fmt(msgs.mean));
        col("messages_per_query_ci95", fmt(msgs.ci95));
        let c = &self.output.counters;
        for (i, kind) in self.output.kinds.iter().enumerate() {
            col(&format!("msgs_{kind}"), c.sent[i].to_string());
        }
        for (i, kind) in self.output.kinds.iter().enumerate() {
            col(&format!("lost_{kind}"), c.lost[i].to_string());
        }
        col("bytes_total", c.bytes.iter().sum::<u64>().to_string());
        col("crashes", self.churn.crash_count().to_string());
        col("events", self.output.events.to_string());
        for (name, value) in &self.output.metrics {
            col(name, fmt(*value));
        }
        // Every system's metric names (first appearance), each row with its own values.
        let sm = &self.output.system_metrics;
        let mut names: Vec<&str> = Vec::new();
        for (n, _) in sm.iter().flatten() {
            if !names.contains(n) {
                names.push(n);
            }
        }
        for n in names {
            let own = sm.get(sys).and_then(|m| m.iter().find(|(k, _)| *k == n));
            col(n, own.map_or(String::new(), |(_, v)| fmt(*v)));
        }
        h.pop();
        v.pop();
        (h, v)
    }

    /// The provenance record.
    pub fn provenance(&self) -> Provenance {
        let m = &self.manifest;
        Provenance {
            leadsim_version: env!("CARGO_PKG_VERSION"),
            name: m.label().to_string(),
            manifest_hash: format!("{:016x}", name_hash(&m.to_toml())),
            seed: m.seed,
            protocol: m.protocol.clone(),
            topology: serde_plain(&m.topology.kind),
            simulated_s: m.duration_s,
            ended_s: self.output.ended_us as f64 / 1e6,
            wall_s: self.wall_s,
            events: self.output.events,
            events_per_s: self.output.events as f64 / self.wall_s.max(1e-9),
            events_settled: self.output.events_settled,
            code: cache::code_fingerprint().to_string(),
            run_key: String::new(),
            same_run_as: String::new(),
            facts: self.output.facts.iter().cloned().collect(),
        }
    }

    /// Writes the run's files into `dir` (atomically, file by file). Returns the paths written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        self.write_with(dir, cache::code_fingerprint(), "", "")
    }

    /// [`RunResult::write`] recording the code fingerprint, run key and (when written from an
    /// identical run of another sweep point) that run's directory in the provenance.
    pub fn write_with(
        &self,
        dir: &Path,
        code: &str,
        key: &str,
        same_as: &str,
    ) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        if self.manifest.output.queries {
            let p = dir.join("queries.csv");
            write_atomic(&p, &self.queries_csv())?;
            written.push(p);
        }
        let p = dir.join("summary.csv");
        write_atomic(&p, &self.summary_csv())?;
        written.push(p);
        if !self.output.hosts.is_empty() {
            let p = dir.join("hosts.csv");
            write_atomic(&p, &self.hosts_csv())?;
            written.push(p);
        }
        if !self.output.series.is_empty() {
            let p = dir.join("series.csv");
            write_atomic(&p, &self.series_csv())?;
            written.push(p);
        }
        if self.manifest.output.churn_trace {
            let p = dir.join("churn.csv");
            self.churn.write_csv(&p)?;
            written.push(p);
        }
        let p = dir.join("provenance.json");
        let mut prov = self.provenance();
        prov.code = code.to_string();
        prov.run_key = key.to_string();
        prov.same_run_as = same_as.to_string();
        write_atomic(&p, serde_json::to_string_pretty(&prov)?.as_bytes())?;
        written.push(p);
        Ok(written)
    }
}

/// Reports the protocol's invariant checks of a finished run (`leadsim run --check`): fails when
/// an enforced check does not hold (e.g. ring consistency once churn was off or had stopped long
/// enough, or answers from wrong owners on a static ring).
pub fn check_invariants(r: &RunResult) -> Result<String> {
    let checks = &r.output.checks;
    if checks.is_empty() {
        anyhow::bail!(
            "--check: protocol \"{}\" runs no invariant checks; nothing to check",
            r.manifest.protocol
        );
    }
    let mut text = String::new();
    let mut failed = false;
    for c in checks {
        let verdict = match (c.holds, c.enforced) {
            (true, _) => "OK",
            (false, true) => {
                failed = true;
                "FAILED"
            }
            (false, false) => "not enforced (churn active, or explained below)",
        };
        let _ = writeln!(text, "{}: {verdict}; {}", c.name, c.detail);
    }
    if failed {
        anyhow::bail!("{text}an invariant that must hold in this run does not");
    }
    Ok(text.trim_end().to_string())
}

/// An integer-valued float without decimals, others as [`fmt`].
fn fmt_plain(x: f64) -> String {
    if x.is_finite() && x == x.trunc() && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        fmt(x)
    }
}

/// Fixed-precision float for CSVs (stable bytes; NaN as empty).
pub fn fmt(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.6}")
    } else {
        String::new()
    }
}

/// The kebab-case spelling of a serde enum value.
fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_default()
}
