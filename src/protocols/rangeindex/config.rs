//! The `[range_index]` table, shared by the coordinator-built range indexes of Fig 1
//! (`c-table`, `rp-bst`): failure detection by heartbeats and RPC timeouts.

use crate::engine::{time, Time};
use crate::settings::{KeyDoc, Settings, TableDef};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Settings of a coordinator-built range index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeIndexConfig {
    /// Every peer sends the coordinator a heartbeat this often (ms; default 1000, the Chord
    /// substrate's stabilisation period, so maintenance rates compare).
    #[serde(default = "d_beat")]
    pub heartbeat_ms: f64,
    /// The coordinator declares a peer failed after this many missed heartbeats (default 3).
    #[serde(default = "d_missed")]
    pub missed_beats: u32,
    /// RPC timeout in RTTs to the callee (default 3, as the Chord substrate) ...
    #[serde(default = "d_rtts")]
    pub rpc_timeout_rtts: f64,
    /// ... capped at this many ms (default 1000).
    #[serde(default = "d_cap")]
    pub rpc_timeout_cap_ms: f64,
    /// A query gives up after this many timed-out attempts (default 4).
    #[serde(default = "d_attempts")]
    pub attempts: u32,
    /// Bytes of the value stored with each key (default 8, as `chord.value_bytes`).
    #[serde(default = "d_value")]
    pub value_bytes: u32,
}

fn d_beat() -> f64 {
    1000.0
}
fn d_missed() -> u32 {
    3
}
fn d_rtts() -> f64 {
    3.0
}
fn d_cap() -> f64 {
    1000.0
}
fn d_attempts() -> u32 {
    4
}
fn d_value() -> u32 {
    8
}

impl Default for RangeIndexConfig {
    fn default() -> Self {
        toml::from_str("").expect("all keys have defaults")
    }
}

/// [`RangeIndexConfig`] validated, times in µs.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Heartbeat period.
    pub beat: Time,
    /// Missed heartbeats before a peer is declared failed.
    pub missed: u32,
    /// Timeout multiplier of the RTT.
    pub rtts: f64,
    /// Timeout cap.
    pub cap: Time,
    /// Attempts per query.
    pub attempts: u32,
    /// Value bytes.
    pub value_bytes: u32,
}

impl RangeIndexConfig {
    /// Validates and converts to µs.
    pub fn params(&self) -> Result<Params> {
        if !(self.heartbeat_ms >= 1.0 && self.heartbeat_ms <= 86_400_000.0) {
            bail!(
                "range_index.heartbeat_ms must be in [1, 86400000] ms, got {}",
                self.heartbeat_ms
            );
        }
        if !(1..=1000).contains(&self.missed_beats) {
            bail!(
                "range_index.missed_beats must be in [1, 1000], got {}",
                self.missed_beats
            );
        }
        if !(self.rpc_timeout_rtts > 0.0 && self.rpc_timeout_rtts <= 1000.0) {
            bail!(
                "range_index.rpc_timeout_rtts must be in (0, 1000], got {}",
                self.rpc_timeout_rtts
            );
        }
        if !(self.rpc_timeout_cap_ms >= 0.001 && self.rpc_timeout_cap_ms <= 86_400_000.0) {
            bail!(
                "range_index.rpc_timeout_cap_ms must be in [0.001, 86400000] ms, got {}",
                self.rpc_timeout_cap_ms
            );
        }
        if !(1..=100).contains(&self.attempts) {
            bail!(
                "range_index.attempts must be in [1, 100], got {}",
                self.attempts
            );
        }
        Ok(Params {
            beat: time::from_ms_f64(self.heartbeat_ms),
            missed: self.missed_beats,
            rtts: self.rpc_timeout_rtts,
            cap: time::from_ms_f64(self.rpc_timeout_cap_ms).max(1),
            attempts: self.attempts,
            value_bytes: self.value_bytes,
        })
    }
}

impl Settings for RangeIndexConfig {
    fn validate(&self) -> Result<()> {
        self.params().map(|_| ())
    }
}

/// The `[range_index]` table's definition.
pub const TABLE: TableDef = TableDef::new::<RangeIndexConfig>(
    "range_index",
    "coordinator-built range indexes (C-Table, RP-BST): heartbeats, failure detection, timeouts",
    &[
        KeyDoc::new(
            "heartbeat_ms",
            "[1, 86400000]",
            "every peer sends the coordinator a heartbeat this often",
        ),
        KeyDoc::new(
            "missed_beats",
            "1..=1000",
            "missed heartbeats before the coordinator declares a peer failed",
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
            "attempts",
            "1..=100",
            "a query gives up after this many timed-out attempts",
        ),
        KeyDoc::new(
            "value_bytes",
            ">= 0",
            "bytes of the value stored with each key",
        ),
    ],
);
