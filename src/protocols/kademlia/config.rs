//! The `[kademlia]` table: bucket size, parallelism, refresh, timeouts and the IPFS-style batching
//! of a range request.

use crate::engine::{time, Time};
use crate::settings::{KeyDoc, Settings, TableDef};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Settings of a Kademlia system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KademliaConfig {
    /// Bucket size and replication: a bucket keeps at most k contacts, a lookup ends at the k
    /// closest, a value lives on the k closest live peers (default 20, as in IPFS).
    #[serde(default = "d_k")]
    pub k: usize,
    /// Requests a lookup keeps in flight (default 3).
    #[serde(default = "d_alpha")]
    pub alpha: usize,
    /// A bucket no lookup has targeted for this long is refreshed by a lookup of a random id in
    /// its range (seconds; default 600, go-libp2p's refresh period; 0 = never).
    #[serde(default = "d_refresh")]
    pub refresh_s: f64,
    /// RPC timeout in RTTs to the callee (default 3, as the Chord substrate) ...
    #[serde(default = "d_rtts")]
    pub rpc_timeout_rtts: f64,
    /// ... capped at this many ms (default 1000).
    #[serde(default = "d_cap")]
    pub rpc_timeout_cap_ms: f64,
    /// A range request's keys are looked up in this many consecutive batches, the lookups of a
    /// batch in parallel (default 10: the paper's IPFS emulation).
    #[serde(default = "d_batches")]
    pub batches: usize,
    /// Bytes of the value returned with a key (default 8, as `chord.value_bytes`).
    #[serde(default = "d_value")]
    pub value_bytes: u32,
}

fn d_k() -> usize {
    20
}
fn d_alpha() -> usize {
    3
}
fn d_refresh() -> f64 {
    600.0
}
fn d_rtts() -> f64 {
    3.0
}
fn d_cap() -> f64 {
    1000.0
}
fn d_batches() -> usize {
    10
}
fn d_value() -> u32 {
    8
}

impl Default for KademliaConfig {
    fn default() -> Self {
        toml::from_str("").expect("all keys have defaults")
    }
}

/// [`KademliaConfig`] validated, times in µs.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Bucket size and replication.
    pub k: usize,
    /// Requests in flight per lookup.
    pub alpha: usize,
    /// Refresh period (0 = never).
    pub refresh: Time,
    /// Timeout multiplier of the RTT.
    pub rtts: f64,
    /// Timeout cap.
    pub cap: Time,
    /// Batches per range request.
    pub batches: usize,
    /// Value bytes.
    pub value_bytes: u32,
}

impl KademliaConfig {
    /// Validates and converts to µs.
    pub fn params(&self) -> Result<Params> {
        if !(1..=256).contains(&self.k) {
            bail!("kademlia.k must be in [1, 256], got {}", self.k);
        }
        if !(1..=self.k).contains(&self.alpha) {
            bail!(
                "kademlia.alpha must be in [1, k = {}], got {}",
                self.k,
                self.alpha
            );
        }
        if !(self.refresh_s == 0.0 || (1.0..=86_400.0).contains(&self.refresh_s)) {
            bail!(
                "kademlia.refresh_s must be 0 (never) or in [1, 86400] s, got {}",
                self.refresh_s
            );
        }
        if !(self.rpc_timeout_rtts > 0.0 && self.rpc_timeout_rtts <= 1000.0) {
            bail!(
                "kademlia.rpc_timeout_rtts must be in (0, 1000], got {}",
                self.rpc_timeout_rtts
            );
        }
        if !(self.rpc_timeout_cap_ms >= 0.001 && self.rpc_timeout_cap_ms <= 86_400_000.0) {
            bail!(
                "kademlia.rpc_timeout_cap_ms must be in [0.001, 86400000] ms, got {}",
                self.rpc_timeout_cap_ms
            );
        }
        if !(1..=100_000).contains(&self.batches) {
            bail!(
                "kademlia.batches must be in [1, 100000], got {}",
                self.batches
            );
        }
        Ok(Params {
            k: self.k,
            alpha: self.alpha,
            refresh: time::from_ms_f64(self.refresh_s * 1000.0),
            rtts: self.rpc_timeout_rtts,
            cap: time::from_ms_f64(self.rpc_timeout_cap_ms).max(1),
            batches: self.batches,
            value_bytes: self.value_bytes,
        })
    }
}

impl Settings for KademliaConfig {
    fn validate(&self) -> Result<()> {
        self.params().map(|_| ())
    }
}

/// The `[kademlia]` table's definition.
pub const TABLE: TableDef = TableDef::new::<KademliaConfig>(
    "kademlia",
    "Kademlia: XOR-metric k-buckets, iterative alpha-parallel lookups, IPFS-style batched ranges",
    &[
        KeyDoc::new(
            "k",
            "1..=256",
            "bucket size; lookups end at the k closest; values live on the k closest live peers",
        ),
        KeyDoc::new("alpha", "1..=k", "requests a lookup keeps in flight"),
        KeyDoc::new(
            "refresh_s",
            "0 or [1, 86400]",
            "a bucket untouched this long is refreshed by a lookup (0 = never)",
        ),
        KeyDoc::new(
            "rpc_timeout_rtts",
            "(0, 1000]",
            "RPC timeout in RTTs to the callee ...",
        ),
        KeyDoc::new(
            "rpc_timeout_cap_ms",
            "[0.001, 86400000]",
            "... capped at this many ms",
        ),
        KeyDoc::new(
            "batches",
            "1..=100000",
            "a range request's keys are looked up in this many consecutive batches",
        ),
        KeyDoc::new(
            "value_bytes",
            ">= 0",
            "bytes of the value returned with a key",
        ),
    ],
);
