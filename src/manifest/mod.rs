//! Experiment manifests: one TOML file describing one run. Every key has a default (the paper
//! profile), unknown keys are rejected, and every error names the file, the key and its line.

mod systems;

use crate::churn::ChurnSpec;
use crate::data::DatasetSpec;
use crate::driver::SystemSpec;
use crate::engine::{time, Time};
use crate::network::{LatencySpec, OverlaySpec};
use crate::settings::Tables;
use crate::topology::TopologySpec;
use crate::workload::WorkloadSpec;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `[output]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Directory of the run's files (default `results/run`); `leadsim run --out` overrides it.
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// Write the per-query CSV `queries.csv` (default true).
    #[serde(default = "default_true")]
    pub queries: bool,
    /// Also write the churn schedule as `churn.csv` (default false); replay it with `churn.model = "trace"`.
    #[serde(default)]
    pub churn_trace: bool,
    /// Also write per-host facts (e.g. keys stored) as `hosts.csv` (default false; protocols that
    /// store data).
    #[serde(default)]
    pub hosts: bool,
    /// Also write time series a protocol records per window (e.g. LEAD's per-host load CoV) as
    /// `series.csv` (default false).
    #[serde(default)]
    pub series: bool,
}

fn default_dir() -> PathBuf {
    PathBuf::from("results/run")
}
fn default_true() -> bool {
    true
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec {
            dir: default_dir(),
            queries: true,
            churn_trace: false,
            hosts: false,
            series: false,
        }
    }
}

/// One run, fully described. Defaults are the paper profile.
///
/// The manifest owns the shared sections; protocol tables (e.g. `[chord]`, `[chord_batch]`) are
/// read and validated by the tables the protocol's registry entry lists, and kept resolved in
/// [`Manifest::tables`]. Unknown top-level keys are refused by [`Manifest::parse`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// A label for this run, copied to every output row (default: the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// Master seed; every random stream of the run derives from it (default 1).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated duration in seconds (default 7200 = 120 min).
    #[serde(default = "default_duration")]
    pub duration_s: f64,
    /// Which system to simulate (see `leadsim protocols`; default `ping`).
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// Latency model.
    #[serde(default)]
    pub topology: TopologySpec,
    /// How matrix entries become message delays.
    #[serde(default)]
    pub latency: LatencySpec,
    /// Virtual peers per host.
    #[serde(default)]
    pub overlay: OverlaySpec,
    /// Host churn.
    #[serde(default)]
    pub churn: ChurnSpec,
    /// Keys (only for protocols that store data).
    #[serde(default)]
    pub dataset: Option<DatasetSpec>,
    /// Query arrivals.
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// Output files.
    #[serde(default)]
    pub output: OutputSpec,
    /// Parameter sweep: dotted manifest keys with lists of values, plus `replications` and
    /// `master_seed` (see [`crate::experiment::sweep`]). Ignored by `leadsim run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<toml::Table>,
    /// The protocol's settings tables, resolved (every default written out), by table name.
    #[serde(skip)]
    pub tables: Tables,
    /// The run's query systems, resolved: the `[[systems]]` entries, or one system running the
    /// manifest's protocol (see [`systems`]).
    #[serde(skip)]
    pub systems: Vec<SystemSpec>,
}

fn default_seed() -> u64 {
    1
}
fn default_duration() -> f64 {
    7200.0
}
fn default_protocol() -> String {
    "ping".into()
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest::parse("", "(defaults)").expect("all keys have defaults")
    }
}

/// The shared sections (tables owned by the manifest).
pub const SHARED_SECTIONS: &[&str] = &[
    "topology", "latency", "overlay", "churn", "dataset", "workload", "output", "sweep",
];

/// The shared top-level keys.
const TOP_KEYS: &[&str] = &["name", "seed", "duration_s", "protocol", "systems"];

/// Sections whose keys may be named in errors (for line lookup): shared and protocol tables.
fn sections() -> Vec<&'static str> {
    let mut v = SHARED_SECTIONS.to_vec();
    v.extend(crate::protocols::all_tables().iter().map(|t| t.name));
    v
}

/// The line of top-level key or table header `key` in `text` (0 if not found).
fn top_line(text: &str, key: &str) -> usize {
    let mut in_table = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            let h = t.trim_start_matches('[').trim_end_matches(']').trim();
            if h == key || h.starts_with(&format!("{key}.")) {
                return i + 1;
            }
            in_table = true;
            continue;
        }
        let lhs = t.split('=').next().unwrap_or("").trim().trim_matches('"');
        if !in_table && (lhs == key || lhs.starts_with(&format!("{key}."))) {
            return i + 1;
        }
    }
    0
}

/// The protocols a `[sweep]` table's `protocol` axis names (empty without one).
pub fn swept_protocols(t: &toml::Table) -> Vec<String> {
    t.get("sweep")
        .and_then(|s| s.get("protocol"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A protocol sweep may carry the tables of each swept protocol (e.g. `[chord_batch]` beside
/// `protocol = ["lead", "chord-batch"]`): each run keeps only those its own protocol accepts.
/// Tables no swept protocol owns stay, so that they are still reported as errors.
pub fn strip_foreign_tables(t: &mut toml::Table, swept: &[String]) {
    if swept.is_empty() {
        return;
    }
    let own = t
        .get("protocol")
        .and_then(|v| v.as_str())
        .and_then(|p| crate::protocols::find(p).ok());
    let Some(own) = own else { return };
    t.retain(|key, _| {
        let foreign = !own.all_tables().any(|d| d.name == key)
            && crate::protocols::owners_of(key)
                .iter()
                .any(|o| swept.iter().any(|s| s == o));
        !foreign
    });
}

impl Manifest {
    /// Parses manifest text; `origin` names the file in errors. A manifest whose `[sweep]` has a
    /// `protocol` axis may carry the tables of the swept protocols; those its own protocol does
    /// not accept are left out ([`strip_foreign_tables`]).
    pub fn parse(text: &str, origin: &str) -> Result<Manifest> {
        let mut m: Manifest = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            anyhow::anyhow!("{origin}:{line}:{col}: {}", e.message())
        })?;
        let mut top: toml::Table =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: {}", e.message()))?;
        let swept = swept_protocols(&top);
        strip_foreign_tables(&mut top, &swept);
        m.tables = Self::protocol_tables(&m.protocol, &top, text, origin)?;
        m.systems = systems::resolve(&m, &top, text, origin)?;
        m.validate().map_err(|e| {
            let msg = format!("{e:#}");
            match key_line(text, &msg) {
                Some((key, line)) => anyhow::anyhow!("{origin}:{line}: {key}: {msg}"),
                None => anyhow::anyhow!("{origin}: {msg}"),
            }
        })?;
        Ok(m)
    }

    /// Checks the top-level keys and reads the protocol's tables (resolved, validated).
    fn protocol_tables(
        protocol: &str,
        top: &toml::Table,
        text: &str,
        origin: &str,
    ) -> Result<Tables> {
        let proto = crate::protocols::find(protocol).map_err(|e| {
            anyhow::anyhow!("{origin}:{}: protocol: {e}", top_line(text, "protocol"))
        })?;
        for key in top.keys() {
            if TOP_KEYS.contains(&key.as_str()) || SHARED_SECTIONS.contains(&key.as_str()) {
                continue;
            }
            let line = top_line(text, key);
            if proto.all_tables().any(|t| t.name == key) {
                continue;
            }
            let owners = crate::protocols::owners_of(key);
            if owners.is_empty() {
                let mut known: Vec<&str> = TOP_KEYS.to_vec();
                known.extend(sections());
                bail!(
                    "{origin}:{line}: unknown key `{key}`; the manifest accepts {}",
                    known.join(", ")
                );
            }
            bail!(
                "{origin}:{line}: {key}: the [{key}] table applies only to protocol {}; this manifest runs \"{protocol}\": remove it",
                owners.iter().map(|o| format!("\"{o}\"")).collect::<Vec<_>>().join(" or ")
            );
        }
        let mut tables = Tables::new();
        for t in proto.all_tables() {
            let resolved = (t.resolve)(text, t.name).map_err(|e| {
                if e.line > 0 {
                    anyhow::anyhow!("{origin}:{}:{}: {}", e.line, e.col, e.message)
                } else {
                    match key_line(text, &e.message) {
                        Some((key, line)) => {
                            anyhow::anyhow!("{origin}:{line}: {key}: {}", e.message)
                        }
                        None => anyhow::anyhow!("{origin}: {}", e.message),
                    }
                }
            })?;
            tables.insert(t.name.to_string(), resolved);
        }
        Ok(tables)
    }

    /// Reads and parses a manifest file.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read manifest {}: {e}", path.display()))?;
        let mut m = Manifest::parse(&text, &path.display().to_string())?;
        if m.name.is_none() {
            m.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        Ok(m)
    }

    /// Checks every cross-key rule (the parser already checked types and names).
    pub fn validate(&self) -> Result<()> {
        if !(self.duration_s > 0.0 && self.duration_s.is_finite()) {
            bail!("duration_s must be > 0, got {}", self.duration_s);
        }
        // Event times are 44-bit µs in the queue; keep a day of margin for drains and timeouts.
        let max_s = (crate::engine::queue::MAX_TIME / time::SEC) as f64 - 86_400.0;
        if self.duration_s > max_s {
            bail!(
                "duration_s = {} exceeds the simulator's horizon of {max_s} s (~202 days)",
                self.duration_s
            );
        }
        let proto = crate::protocols::find(&self.protocol)?;
        let needs_dataset = proto.needs_dataset
            || self
                .systems
                .iter()
                .any(|s| crate::protocols::find(&s.protocol).is_ok_and(|p| p.needs_dataset));
        self.topology.validate()?;
        self.check_sizes()?;
        self.overlay
            .vnodes_per_host(self.topology.hosts, self.seed)?;
        self.churn.validate()?;
        self.workload.arrivals()?;
        if let Some(d) = &self.dataset {
            if !needs_dataset {
                bail!(
                    "dataset: protocol \"{}\" stores no keys; remove the [dataset] table",
                    self.protocol
                );
            }
            d.validate()?;
        }
        if needs_dataset {
            self.workload.query_shape()?;
        } else if self.workload.query.is_some()
            || self.workload.range_keys.is_some()
            || self.workload.range_keys_max.is_some()
        {
            bail!("workload.query: protocol \"{}\" issues no data queries; remove workload.query / range_keys / range_keys_max", self.protocol);
        }
        self.check_limits(proto.uses_ring())
    }

    /// Peers of the run (slots included), as a float so that huge counts cannot overflow.
    fn peer_estimate(&self) -> f64 {
        let hosts = self.topology.hosts as f64;
        match &self.overlay.vnodes_per_host {
            Some(v) => v.iter().map(|&x| f64::from(x)).sum(),
            None => {
                let per = self.overlay.max_vnodes.unwrap_or(self.overlay.vnodes);
                hosts * f64::from(per.max(self.overlay.vnodes))
            }
        }
    }

    /// Refuses sizes this machine cannot hold, before anything is allocated: the topology,
    /// ~400 bytes of routing state per peer and 8 bytes per key.
    fn check_sizes(&self) -> Result<()> {
        use crate::limits::check_memory;
        let hosts = self.topology.hosts as f64;
        let peers = self.peer_estimate();
        let net = self.topology.memory_bytes() + 400.0 * peers;
        check_memory(
            &format!(
                "topology.hosts = {} with {} peers per host",
                self.topology.hosts,
                peers / hosts.max(1.0)
            ),
            net,
        )?;
        // Every distinct dataset a run holds: its own and those its systems name.
        let mut ids: Vec<String> = Vec::new();
        let mut held = 0.0;
        let own = self.dataset.iter();
        for d in own.chain(self.systems.iter().filter_map(|s| s.dataset.as_ref())) {
            if ids.contains(&d.id()) {
                continue;
            }
            ids.push(d.id());
            check_memory(&format!("dataset.keys = {}", d.keys), 8.0 * d.keys as f64)?;
            held += 8.0 * d.keys as f64;
        }
        if held > 0.0 {
            check_memory(
                &format!("the network and {} dataset(s) together", ids.len()),
                net + held,
            )?;
        }
        Ok(())
    }

    /// Refuses what cannot be represented or cannot finish: times beyond the horizon, sizes
    /// beyond this machine's memory, and runs estimated to need more than
    /// [`crate::limits::MAX_EVENTS`] events (see `docs/modelling.md`, *Limits*).
    fn check_limits(&self, on_chord: bool) -> Result<()> {
        use crate::limits;
        if self.duration() == 0 {
            bail!(
                "duration_s = {} is shorter than the simulator's 1 µs resolution",
                self.duration_s
            );
        }
        if self.output.dir.as_os_str().is_empty() {
            bail!("output.dir is empty: name a directory (the default is results/run)");
        }
        if self.workload.warmup_s >= self.duration_s {
            bail!(
                "workload.warmup_s = {} leaves no time for queries: it must be below duration_s = {}",
                self.workload.warmup_s,
                self.duration_s
            );
        }
        if self.latency.local_us > limits::MAX_DELAY {
            bail!(
                "latency.local_us = {} exceeds one day ({} µs)",
                self.latency.local_us,
                limits::MAX_DELAY
            );
        }
        let peers = self.peer_estimate();
        self.churn
            .check_work(self.topology.hosts, self.duration())?;
        let d = self.duration_s;
        let queries = self.workload.queries_per_s * (d - self.workload.warmup_s);
        if queries > limits::MAX_QUERIES {
            bail!(
                "workload.queries_per_s = {} over {} s is {queries:.3e} queries; the limit is {:.0e} (each keeps a record)",
                self.workload.queries_per_s,
                d - self.workload.warmup_s,
                limits::MAX_QUERIES
            );
        }
        let mut events = queries * 200.0;
        if on_chord {
            let c: crate::overlay::ChordConfig = self.settings("chord")?;
            if c.replicas > self.topology.hosts {
                bail!(
                    "chord.replicas = {} but there are only {} hosts: replicas sit on distinct hosts",
                    c.replicas,
                    self.topology.hosts
                );
            }
            // ~8 events per peer and maintenance period (calibrated on the paper runs).
            events += peers * d * 8.0 * (1000.0 / c.stabilize_ms + 1000.0 / c.fix_fingers_ms);
        }
        limits::check_events(
            &format!(
                "{} peers over {d} s with {} queries/s",
                peers, self.workload.queries_per_s
            ),
            events,
        )
    }

    /// Simulated duration.
    pub fn duration(&self) -> Time {
        time::from_secs_f64(self.duration_s)
    }

    /// The run label.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or("run")
    }

    /// The fully resolved manifest (every default written out, protocol tables included) as TOML.
    pub fn to_toml(&self) -> String {
        let mut t = match toml::Table::try_from(self) {
            Ok(t) => t,
            Err(e) => return format!("# cannot render: {e}"),
        };
        let sweep = t.remove("sweep");
        for (name, table) in &self.tables {
            t.insert(name.clone(), toml::Value::Table(table.clone()));
        }
        if let Some(v) = systems::to_value(&self.systems) {
            t.insert("systems".into(), v);
        }
        if let Some(s) = sweep {
            t.insert("sweep".into(), s);
        }
        toml::to_string_pretty(&t).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }

    /// Reads protocol table `name` of this manifest into its settings type.
    pub fn settings<S: serde::de::DeserializeOwned>(&self, name: &str) -> Result<S> {
        crate::settings::from_table(name, self.tables.get(name))
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

/// Finds the first `section.key` (or top-level key) named in `msg` and its line in `text`.
fn key_line(text: &str, msg: &str) -> Option<(String, usize)> {
    let sections = sections();
    for word in msg.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')) {
        if sections.contains(&word) {
            // A whole table is at fault: point at its header.
            let header = format!("[{word}]");
            if let Some(i) = text.lines().position(|l| l.trim() == header) {
                return Some((word.to_string(), i + 1));
            }
        }
        let (section, key) = match word.split_once('.') {
            Some((s, k)) if sections.contains(&s) && !k.is_empty() => (Some(s), k),
            _ if ["duration_s", "seed", "protocol", "name"].contains(&word) => (None, word),
            _ => continue,
        };
        let mut current: Option<&str> = None;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if let Some(h) = t.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                current = Some(h.trim());
                continue;
            }
            let lhs = t.split('=').next().unwrap_or("").trim();
            let dotted = section.map(|s| format!("{s}.{key}"));
            if (current == section && lhs == key)
                || (current.is_none() && Some(lhs.to_string()) == dotted)
            {
                return Some((word.to_string(), i + 1));
            }
        }
        // Named but not written: the default is at fault, point at the section header.
        if let Some(s) = section {
            let header = format!("[{s}]");
            if let Some(i) = text.lines().position(|l| l.trim() == header) {
                return Some((word.to_string(), i + 1));
            }
        }
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::OneWay;

    #[test]
    fn defaults_are_the_paper_profile() {
        let m = Manifest::default();
        assert_eq!(m.topology.hosts, 490);
        assert_eq!(m.overlay.vnodes, 10);
        assert_eq!(m.duration_s, 7200.0);
        assert_eq!(m.churn.lifetime_mean_s, 4800.0);
        assert_eq!(m.churn.downtime_mean_s, 600.0);
        assert_eq!(m.latency.one_way, OneWay::HalfRtt);
    }

    #[test]
    fn unknown_key_names_file_key_and_line() {
        let e = Manifest::parse("seed = 3\n[topology]\nhosts = 10\nhsots = 3\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.toml:4:"), "{e}");
        assert!(e.contains("hsots"), "{e}");
    }

    #[test]
    fn wrong_type_names_line() {
        let e = Manifest::parse("duration_s = \"long\"\n", "y.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("y.toml:1:"), "{e}");
    }

    #[test]
    fn semantic_errors_name_key_and_line() {
        let e = Manifest::parse(
            "seed = 1\n\n[topology]\nkind = \"euclidean\"\nhosts = 0\n",
            "z.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("z.toml:5: topology.hosts:"), "{e}");
        let e = Manifest::parse("[churn]\nmodel = \"pareto\"\nalpha = 1.0\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("alpha > 1") && e.contains("p.toml:"), "{e}");
        let e = Manifest::parse("protocol = \"pastry\"\n", "q.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("q.toml:1: protocol") && e.contains("ping"),
            "{e}"
        );
    }

    #[test]
    fn protocol_tables_are_validated_at_parse_time_with_their_line() {
        let e = Manifest::parse("seed = 1\n[ping]\ntimeout_ms = -5\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:3: ping.timeout_ms:"), "{e}");
        let e = Manifest::parse(
            "protocol = \"chord-batch\"\n[chord_batch]\nbatchsize = 3\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("c.toml:3:1:") && e.contains("batchsize"),
            "{e}"
        );
        let e = Manifest::parse("protocl = \"ping\"\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.toml:1: unknown key `protocl`"), "{e}");
    }

    #[test]
    fn paired_manifest_round_trips() {
        let text = "protocol = \"chord-batch\"\n[chord_batch]\nmode = \"parallel\"\n\
            [[systems]]\nname = \"a\"\n[[systems]]\nname = \"b\"\nchord_batch = { batch_size = 7 }\n\
            workload = { range_keys = 9 }\n";
        let m = Manifest::parse(text, "s.toml").unwrap();
        assert_eq!(m.systems.len(), 2);
        assert_eq!(m.systems[1].stream, "workload:b");
        let b: crate::protocols::chord_batch::ChordBatchConfig =
            m.systems[1].settings("chord_batch").unwrap();
        assert_eq!(b.batch_size, 7);
        assert_eq!(
            b.mode,
            crate::protocols::chord_batch::BatchMode::Parallel,
            "inherited"
        );
        assert_eq!(m.systems[1].workload.range_keys, Some(9));
        let again = Manifest::parse(&m.to_toml(), "again").unwrap();
        assert_eq!(m, again);
    }

    #[test]
    fn resolved_manifest_round_trips() {
        let m = Manifest::parse("seed = 9\n[churn]\nmodel = \"exponential\"\n", "r.toml").unwrap();
        let again = Manifest::parse(&m.to_toml(), "again").unwrap();
        assert_eq!(m, again);
    }
}
