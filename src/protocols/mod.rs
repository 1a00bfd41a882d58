//! The simulated systems. Each protocol is one file exposing a `run` function with the
//! [`RunFn`] signature, registered once in [`REGISTRY`] (plus, if it has its own settings, one
//! optional table in [`crate::manifest::Manifest`]).

pub mod chord_batch;
pub mod ping;

use crate::churn::ChurnSchedule;
use crate::data::KeySet;
use crate::manifest::Manifest;
use crate::network::Counters;
use crate::output::QueryRecord;
use crate::topology::Topology;
use anyhow::{bail, Result};
use std::sync::Arc;

/// Everything a protocol run is given: the resolved manifest and the shared, read-only inputs.
pub struct World<'a> {
    /// The run's settings.
    pub manifest: &'a Manifest,
    /// The latency model (shared between runs).
    pub topology: Arc<Topology>,
    /// The churn schedule of this run.
    pub churn: ChurnSchedule,
    /// The sorted keys, for protocols that store data.
    pub keys: Option<Arc<KeySet>>,
}

/// What a protocol run returns.
pub struct ProtocolOutput {
    /// One record per query, in issue order.
    pub records: Vec<QueryRecord>,
    /// Message kind names (column names of the counters).
    pub kinds: Vec<&'static str>,
    /// Message counters by kind.
    pub counters: Counters,
    /// Events processed by the kernel.
    pub events: u64,
    /// Protocol-specific per-run metrics (name, value), in a fixed order.
    pub metrics: Vec<(&'static str, f64)>,
    /// Ring consistency at the end of the simulated duration (ring-based protocols only).
    pub ring: Option<crate::overlay::check::RingReport>,
}

/// Signature of a protocol's entry point.
pub type RunFn = fn(&World) -> Result<ProtocolOutput>;

/// A registered protocol.
pub struct ProtocolEntry {
    /// Manifest spelling (`protocol = "..."`).
    pub name: &'static str,
    /// One-line description for `--help` and errors.
    pub about: &'static str,
    /// Whether it needs the `[dataset]` keys.
    pub needs_dataset: bool,
    /// Whether it runs on the Chord ring (accepts the `[chord]` table).
    pub uses_ring: bool,
    /// Entry point.
    pub run: RunFn,
}

/// Every protocol leadsim can simulate.
pub const REGISTRY: &[ProtocolEntry] = &[
    ProtocolEntry {
        name: "ping",
        about: "built-in workload: random peers ping random peers under churn (exercises engine, network, churn, output)",
        needs_dataset: false,
        uses_ring: false,
        run: ping::run,
    },
    ProtocolEntry {
        name: "chord-batch",
        about: "Chord with random key hashing; a range is fetched as consecutive batches of point lookups (the paper's baseline)",
        needs_dataset: true,
        uses_ring: true,
        run: chord_batch::run,
    },
];

/// Looks a protocol up by name, explaining the choices when it is unknown.
pub fn find(name: &str) -> Result<&'static ProtocolEntry> {
    match REGISTRY.iter().find(|p| p.name == name) {
        Some(p) => Ok(p),
        None => bail!(
            "protocol = \"{name}\" is not a known protocol; choose one of: {}",
            REGISTRY
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
