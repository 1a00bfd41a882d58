//! The one run driver every protocol uses: it builds the network and the simulation, starts the
//! protocol, runs the simulated duration, lets the queries in flight finish (the drain), closes
//! the ledger and collects the outputs. Arrival handling, latency and outcome classification are
//! the ledger's ([`crate::ledger`]), so they are the same for every system.

use crate::churn::ChurnSchedule;
use crate::data::{DatasetSpec, KeySet};
use crate::engine::{time, Time};
use crate::ledger::{Ledger, QueryStream};
use crate::network::{Counters, LatencySpec, Network};
use crate::output::QueryRecord;
use crate::settings::{from_table, Tables};
use crate::sim::{run_until, Protocol, Sim};
use crate::topology::Topology;
use crate::workload::{Popularity, WorkloadSpec};
use anyhow::Result;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// One query system of a run: its name, protocol, query stream, workload and settings tables.
/// A manifest without `[[systems]]` has one, named after its protocol, drawing from the stream
/// `workload`; each `[[systems]]` entry draws from `workload:<name>`.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemSpec {
    /// Name (unique in the run; the `system` column of the run's own CSVs).
    pub name: String,
    /// The system it is one workload of (`[[systems]] group`, default: its name): members of a
    /// group share protocol and tables, their data and rings, and a sweep's assembled CSVs name
    /// them by the group (`[sweep] paired`).
    pub group: String,
    /// Its protocol.
    pub protocol: String,
    /// Name of its random stream (arrivals, origins, per-query draws).
    pub stream: String,
    /// Its workload (the manifest's, with the system's overrides).
    pub workload: WorkloadSpec,
    /// Its protocol tables, resolved (the substrate's tables are the run's).
    pub tables: Tables,
    /// Its own dataset (`[[systems]] dataset`, merged over the manifest's `[dataset]`) when that
    /// differs from the run's; `None`: the run's dataset. Systems on one ring may store different
    /// data (a dataset axis paired in a sweep), since Chord's ring does not depend on the keys.
    pub dataset: Option<DatasetSpec>,
}

impl SystemSpec {
    /// Reads table `name` of this system (defaults when absent).
    pub fn settings<S: DeserializeOwned>(&self, name: &str) -> Result<S> {
        from_table(name, self.tables.get(name))
    }

    /// This system's keys and their dataset's id ([`DatasetSpec::id`]): its own dataset's, or
    /// the run's; an error names `protocol` when there are none.
    pub fn keys(&self, world: &World) -> Result<(Arc<KeySet>, String)> {
        let Some(d) = &self.dataset else {
            return Ok((world.keys(&self.protocol)?, world.dataset.clone()));
        };
        let id = d.id();
        match world.system_keys.iter().find(|(k, _)| *k == id) {
            Some((_, keys)) if !keys.is_empty() => Ok((keys.clone(), id)),
            Some(_) => anyhow::bail!(
                "system \"{}\" needs keys, but its dataset ({id}) holds none",
                self.name
            ),
            None => anyhow::bail!(
                "system \"{}\": its dataset ({id}) was not loaded for this run",
                self.name
            ),
        }
    }

    /// This system's data-query stream: its own RNG stream, its workload's arrivals over the
    /// run, and start keys by the workload's popularity (hotspots from the master seed).
    pub fn data_stream(&self, world: &World) -> Result<QueryStream> {
        let span = self.workload.range_span()?;
        let stream = QueryStream::new(
            world.seed,
            &self.stream,
            self.workload.arrivals()?,
            world.duration,
        );
        if let Some(bits) = self.workload.range_prefix_bits {
            let (keys, _) = self.keys(world)?;
            let groups = crate::workload::prefix_groups(keys.keys(), bits);
            let p = Popularity::parse_over(&self.workload.popularity, world.seed, groups.len())?;
            return Ok(stream.with_groups(groups, p));
        }
        Ok(stream
            .with_popularity(self.workload.popularity(world.seed)?)
            .with_range_span(span.0, span.1))
    }

    /// The most keys one data query of this system asks for, when known before the run: the
    /// largest prefix group, or `range` (the workload's range length).
    pub fn most_keys(&self, world: &World, range: usize) -> Result<usize> {
        match self.workload.range_prefix_bits {
            Some(bits) => {
                let (keys, _) = self.keys(world)?;
                Ok(crate::workload::prefix_groups(keys.keys(), bits)
                    .iter()
                    .map(|g| g.1)
                    .max()
                    .unwrap_or(0))
            }
            None => Ok(range),
        }
    }
}

/// The outcome of an invariant check a protocol ran at the end of a run (`leadsim run --check`).
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Whether it holds.
    pub holds: bool,
    /// Whether it must hold in this run (e.g. ring consistency only once churn has stopped).
    pub enforced: bool,
    /// The measured facts.
    pub detail: String,
}

/// Everything a protocol run is given: resolved shared settings, its own tables, and the shared,
/// read-only inputs.
pub struct World<'a> {
    /// The run's label.
    pub label: &'a str,
    /// The protocol's name (the default system name).
    pub protocol: &'a str,
    /// Master seed.
    pub seed: u64,
    /// Simulated duration.
    pub duration: Time,
    /// The latency model (shared between runs).
    pub topology: Arc<Topology>,
    /// How matrix entries become delays.
    pub latency: LatencySpec,
    /// Virtual peers of each host at the start.
    pub vnodes: Vec<u32>,
    /// Network peer slots of each host (>= `vnodes`; spare slots are peers a balancer may add).
    pub slots: Vec<u32>,
    /// The fewest virtual peers a balancer may leave a host with (`overlay.min_vnodes`).
    pub min_vnodes: u32,
    /// The churn schedule of this run.
    pub churn: ChurnSchedule,
    /// Query arrivals and shapes.
    pub workload: &'a WorkloadSpec,
    /// The sorted keys, for protocols that store data.
    pub keys: Option<Arc<KeySet>>,
    /// The run's dataset id (e.g. `osmc64-like:2000000:1`, [`DatasetSpec::id`]), for caches of
    /// derived data.
    pub dataset: String,
    /// The datasets systems name besides the run's (`[[systems]] dataset`), by id.
    pub system_keys: Vec<(String, Arc<KeySet>)>,
    /// The protocol tables of the manifest, resolved.
    pub tables: &'a Tables,
    /// The query systems (at least one).
    pub systems: &'a [SystemSpec],
    /// Whether per-host facts are wanted (`output.hosts`).
    pub host_stats: bool,
    /// Whether per-window time series are wanted (`output.series`).
    pub series: bool,
}

impl World<'_> {
    /// Reads protocol table `name` (defaults when the manifest has none).
    pub fn settings<S: DeserializeOwned>(&self, name: &str) -> Result<S> {
        from_table(name, self.tables.get(name))
    }

    /// The run's network, counting `kinds` message kinds.
    pub fn network(&self, kinds: usize) -> Network {
        Network::new(
            self.topology.clone(),
            self.latency.one_way,
            self.latency.local_us,
            &self.slots,
            kinds,
        )
    }

    /// The dataset, or an error naming the protocol that needs one.
    pub fn keys(&self, protocol: &str) -> Result<Arc<KeySet>> {
        let keys = self
            .keys
            .clone()
            .ok_or_else(|| anyhow::anyhow!("{protocol} needs a dataset"))?;
        if keys.is_empty() {
            anyhow::bail!(
                "{protocol} needs keys, but the dataset ({}) holds none",
                self.dataset
            );
        }
        Ok(keys)
    }
}

/// What a protocol run returns.
pub struct ProtocolOutput {
    /// The query systems of the run (one, or several in a paired run), in index order.
    pub systems: Vec<String>,
    /// Per system, one record per query, in issue order.
    pub records: Vec<Vec<QueryRecord>>,
    /// Message kind names (column names of the counters).
    pub kinds: Vec<String>,
    /// Message counters by kind.
    pub counters: Counters,
    /// Events processed by the kernel.
    pub events: u64,
    /// Of `events`, the replies settled at send time without a queue entry
    /// ([`crate::sim::Sim::send_settled`]).
    pub events_settled: u64,
    /// Simulated time when the run ended: the duration plus the drain of unfinished queries.
    pub ended_us: crate::engine::Time,
    /// Protocol-specific per-run metrics (name, value), in a fixed order: run-wide ones (the
    /// ring's, or a single-system protocol's).
    pub metrics: Vec<(&'static str, f64)>,
    /// Per system (index order), that system's own metrics (name, value): paired systems
    /// of one protocol report the same names with their own values.
    pub system_metrics: Vec<Vec<(&'static str, f64)>>,
    /// Invariant checks the protocol ran at the end.
    pub checks: Vec<Check>,
    /// Per-host facts per system (only with `output.hosts`).
    pub hosts: Vec<HostTable>,
    /// Per-window time series per system (`series.csv`).
    pub series: Vec<SeriesTable>,
    /// Facts for the provenance only (e.g. model training seconds): not results, may vary
    /// between runs, never written to a CSV.
    pub facts: Vec<(String, f64)>,
}

/// A time series of one system (`series.csv`): named columns, one value per time point.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesTable {
    /// The system.
    pub system: String,
    /// Time points (simulated seconds).
    pub t_s: Vec<f64>,
    /// (column, one value per time point).
    pub columns: Vec<(&'static str, Vec<f64>)>,
}

/// Per-host facts of one system (`hosts.csv`): named columns, one value per host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTable {
    /// The system.
    pub system: String,
    /// (column, one value per host).
    pub columns: Vec<(&'static str, Vec<f64>)>,
}

impl ProtocolOutput {
    /// Metric `name`: run-wide, or else the first system's that reports it.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .chain(self.system_metrics.iter().flatten())
            .find(|m| m.0 == name)
            .map(|m| m.1)
    }

    /// The check named `name`, if the protocol ran it.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// A protocol the driver can run: it exposes its ledger(s) and, optionally, end-of-run facts.
pub trait Driven: Protocol {
    /// The query ledger (of the first system).
    fn ledger(&mut self) -> &mut Ledger;
    /// Every system's ledger (one system by default).
    fn ledgers(&mut self) -> &mut [Ledger] {
        std::slice::from_mut(self.ledger())
    }
    /// The systems' names; empty = one system named after the protocol.
    fn system_names(&self) -> Vec<String> {
        Vec::new()
    }
    /// Called once at the end of the simulated duration, before the drain (e.g. ring checks).
    fn at_end(&mut self, _k: &mut Sim<Self::Msg, Self::Timer>) {}
    /// Per-run metrics, after the drain.
    fn metrics(&mut self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
    /// Per system, its own metrics after the drain (empty: only run-wide [`Driven::metrics`]).
    fn system_metrics(&mut self) -> Vec<Vec<(&'static str, f64)>> {
        Vec::new()
    }
    /// Invariant checks at the end of the run.
    fn checks(&mut self, _world: &World) -> Vec<Check> {
        Vec::new()
    }
    /// Per-host facts at the end of the run (asked for with `output.hosts`).
    fn host_tables(&mut self, _world: &World) -> Vec<HostTable> {
        Vec::new()
    }
    /// Time series recorded during the run (`series.csv`).
    fn series(&mut self) -> Vec<SeriesTable> {
        Vec::new()
    }
    /// Provenance-only facts (wall-clock measurements such as training time).
    fn facts(&mut self) -> Vec<(String, f64)> {
        Vec::new()
    }
}

/// Coefficient of variation (sample SD / mean, as for keys per host) of per-host counts; 0 when
/// all are zero.
///
/// ```
/// assert_eq!(leadsim::driver::load_cov(&[5, 5, 5, 5]), 0.0);
/// assert!((leadsim::driver::load_cov(&[8, 0, 0, 0]) - 2.0).abs() < 1e-12);
/// ```
pub fn load_cov(load: &[u64]) -> f64 {
    let v: Vec<f64> = load.iter().map(|&x| x as f64).collect();
    let s = crate::output::Summary::of(&v);
    if s.n == 0 || s.mean <= 0.0 {
        0.0
    } else {
        s.cov()
    }
}

/// Runs `proto` on the world's network and churn: start at 0, run to the end of the simulated
/// duration, then drain for at most `drain` (checked every simulated second, stopping as soon as
/// no query is open), then classify what is still open.
pub fn drive<P: Driven>(
    world: &World,
    proto: &mut P,
    kinds: Vec<String>,
    drain: Time,
) -> Result<ProtocolOutput> {
    let n = proto.ledgers().len();
    drive_systems(world, proto, kinds, &vec![drain; n])
}

/// [`drive`] with a drain per system (`drains[i]` for ledger `i`): each system's ledger is
/// finished at its own end of drain, or as soon as it has nothing open, so a system's records
/// do not depend on the other systems of the run (their drains, their open queries).
pub fn drive_systems<P: Driven>(
    world: &World,
    proto: &mut P,
    kinds: Vec<String>,
    drains: &[Time],
) -> Result<ProtocolOutput> {
    let mut k: Sim<P::Msg, P::Timer> = Sim::new(world.network(kinds.len()), world.churn.clone());
    proto.start(&mut k);
    let end = world.duration;
    run_until(&mut k, proto, end);
    proto.at_end(&mut k);
    let n = proto.ledgers().len();
    assert_eq!(drains.len(), n, "one drain per system");
    let mut done = vec![false; n];
    let mut t = end;
    loop {
        let now = k.now();
        for (i, l) in proto.ledgers().iter_mut().enumerate() {
            if !done[i] && (l.open_count() == 0 || t >= end + drains[i]) {
                l.finish(now, k.net());
                done[i] = true;
            }
        }
        let Some(limit) = (0..n).filter(|&i| !done[i]).map(|i| end + drains[i]).min() else {
            break;
        };
        t = (t + time::SEC).min(limit);
        run_until(&mut k, proto, t);
    }
    let mut systems = proto.system_names();
    if systems.is_empty() {
        systems.push(world.protocol.to_string());
    }
    let records: Vec<Vec<QueryRecord>> = proto.ledgers().iter().map(Ledger::records).collect();
    let mut metrics = proto.metrics();
    // Index and overlay maintenance: every message not charged to a query (stabilisation,
    // fingers, heartbeats, refreshes, repairs), per peer and simulated second.
    let charged: u64 = records
        .iter()
        .flatten()
        .map(|r| u64::from(r.messages))
        .sum();
    let sent = k.net().counters().total_sent();
    let peer_s = world
        .vnodes
        .iter()
        .map(|&v| u64::from(v))
        .sum::<u64>()
        .max(1) as f64
        * (world.duration as f64 / time::SEC as f64).max(1e-9);
    metrics.push((
        "maintenance_msgs_per_peer_s",
        sent.saturating_sub(charged) as f64 / peer_s,
    ));
    // Query-load balance: how evenly the hosts shared the query messages they received (the
    // paper's "query CoV", Fig 15). Zero when the protocol marks no message as query traffic.
    metrics.push(("query_load_cov", load_cov(k.net().query_load())));
    let hosts = if world.host_stats {
        let mut tables = proto.host_tables(world);
        // A one-system run: the query messages each host received (its query load).
        if let [name] = systems.as_slice() {
            let load: Vec<f64> = k.net().query_load().iter().map(|&x| x as f64).collect();
            match tables.first_mut() {
                Some(t) => t.columns.push(("query_msgs", load)),
                None => tables.push(HostTable {
                    system: name.clone(),
                    columns: vec![("query_msgs", load)],
                }),
            }
        }
        tables
    } else {
        Vec::new()
    };
    // Prefix workloads: each system's cache-hit rate (the KV-cache case study).
    let mut system_metrics = proto.system_metrics();
    for (i, l) in proto.ledgers().iter().enumerate() {
        if let Some(rate) = l.cache_hit_rate() {
            if system_metrics.len() <= i {
                system_metrics.resize(i + 1, Vec::new());
            }
            system_metrics[i].push(("cache_hit_rate", rate));
        }
    }
    Ok(ProtocolOutput {
        systems,
        records,
        kinds,
        counters: k.net().counters().clone(),
        events: k.events_processed(),
        events_settled: k.events_settled(),
        ended_us: k.now(),
        metrics,
        system_metrics,
        checks: proto.checks(world),
        hosts,
        series: proto.series(),
        facts: proto.facts(),
    })
}
