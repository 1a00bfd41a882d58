//! The manifest's `[chord]` table: timers and limits of the ring maintenance and routing, with
//! the defaults of model.md §2 (the authors' p2psim configuration where the spec is silent).

use crate::engine::Time;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Longest successor list a peer may keep (messages carry it inline).
pub const MAX_SUCCESSORS: usize = 24;

/// How the ring exists at t = 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RingInit {
    /// Built converged from the global view (p2psim's `initstate`): static experiments.
    #[default]
    Converged,
    /// Every peer joins through the real protocol, at times spread over `join_spread_s`.
    Join,
}

/// The `[chord]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChordConfig {
    /// Successor-list length (default 15, at most 24).
    #[serde(default = "d_successors")]
    pub successors: usize,
    /// Stabilisation (and predecessor check) period in ms (default 1000).
    #[serde(default = "d_1000")]
    pub stabilize_ms: f64,
    /// One finger is refreshed every `fix_fingers_ms` (default 1000), round robin.
    #[serde(default = "d_1000")]
    pub fix_fingers_ms: f64,
    /// RPC timeout = `rpc_timeout_rtts` x RTT to the callee ... (default 3)
    #[serde(default = "d_3")]
    pub rpc_timeout_rtts: f64,
    /// ... capped at `rpc_timeout_cap_ms` (default 1000).
    #[serde(default = "d_1000")]
    pub rpc_timeout_cap_ms: f64,
    /// A lookup (or batch) unanswered after this long fails (default 10000 ms).
    #[serde(default = "d_10000")]
    pub max_lookup_ms: f64,
    /// `converged` (default) or `join`.
    #[serde(default)]
    pub init: RingInit,
    /// With `init = "join"`: joins are spread uniformly over this many seconds (default 60).
    #[serde(default = "d_60")]
    pub join_spread_s: f64,
    /// Copies of each key: the owner and the next `replicas - 1` distinct-host successors
    /// (default 1, the paper's setting; model.md suggests 3 for availability studies).
    #[serde(default = "d_1")]
    pub replicas: usize,
    /// Bytes of the value stored with each 8-byte key, for transfer sizes (default 8).
    #[serde(default = "d_8")]
    pub value_bytes: u32,
    /// A peer whose query hop or application RPC times out removes the silent peer from its
    /// routing state (p2psim's Chord does). Default false (model.md §9: ring maintenance must not
    /// depend on the query system): a timed-out query routes around the silent peer for itself
    /// alone and only the ring's own maintenance changes routing state, so query systems sharing
    /// a ring cannot influence each other.
    #[serde(default)]
    pub learn_from_queries: bool,
}

fn d_successors() -> usize {
    15
}
fn d_1000() -> f64 {
    1000.0
}
fn d_3() -> f64 {
    3.0
}
fn d_10000() -> f64 {
    10_000.0
}
fn d_60() -> f64 {
    60.0
}
fn d_1() -> usize {
    1
}
fn d_8() -> u32 {
    8
}

impl Default for ChordConfig {
    fn default() -> Self {
        toml::from_str("").expect("all keys have defaults")
    }
}

/// [`ChordConfig`] validated and converted to µs.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Successor-list length.
    pub successors: usize,
    /// Stabilisation period.
    pub stabilize: Time,
    /// Finger refresh period (one finger each).
    pub fix_fingers: Time,
    /// RPC timeout multiplier of the RTT.
    pub rpc_timeout_rtts: f64,
    /// `rpc_timeout_rtts` when it is a whole number, else 0: the timeout is then computed in
    /// integers, with the same result ([`Timing::rpc_timeout`]).
    rpc_timeout_whole: u64,
    /// RPC timeout cap.
    pub rpc_timeout_cap: Time,
    /// Lookup deadline.
    pub max_lookup: Time,
    /// Ring construction.
    pub init: RingInit,
    /// Join spread with `init = join`.
    pub join_spread: Time,
    /// Replicas per key.
    pub replicas: usize,
    /// Value size per key.
    pub value_bytes: u32,
    /// Query timeouts update routing state.
    pub learn_from_queries: bool,
}

impl Timing {
    /// The RPC timeout towards a peer `rtt` away: `rpc_timeout_rtts` x `rtt`, truncated to
    /// whole µs, capped at `rpc_timeout_cap`, at least 1 µs. A whole multiplier is applied in
    /// integers: exact (and equal to the floating-point product) while `rtt` stays below 2^40
    /// µs, since the product then stays below 2^53.
    ///
    /// ```
    /// use leadsim::overlay::chord::config::ChordConfig;
    /// let t = ChordConfig::default().timing().unwrap();
    /// assert_eq!(t.rpc_timeout(30_000), 90_000); // 3 RTTs
    /// assert_eq!(t.rpc_timeout(600_000), 1_000_000); // capped at 1 s
    /// ```
    #[inline]
    pub fn rpc_timeout(&self, rtt: Time) -> Time {
        let whole = self.rpc_timeout_whole;
        let t = if whole != 0 && rtt < 1 << 40 {
            rtt * whole
        } else {
            (rtt as f64 * self.rpc_timeout_rtts) as Time
        };
        t.clamp(1, self.rpc_timeout_cap)
    }
}

impl ChordConfig {
    /// Validates and converts.
    pub fn timing(&self) -> Result<Timing> {
        if self.successors == 0 || self.successors > MAX_SUCCESSORS {
            bail!(
                "chord.successors must be in 1..={MAX_SUCCESSORS}, got {}",
                self.successors
            );
        }
        use crate::limits::{delay_ms, delay_s};
        let stabilize = delay_ms("chord.stabilize_ms", self.stabilize_ms, 1.0)?;
        let fix_fingers = delay_ms("chord.fix_fingers_ms", self.fix_fingers_ms, 1.0)?;
        let rpc_timeout_cap = delay_ms("chord.rpc_timeout_cap_ms", self.rpc_timeout_cap_ms, 0.001)?;
        let max_lookup = delay_ms("chord.max_lookup_ms", self.max_lookup_ms, 0.001)?;
        let join_spread = delay_s("chord.join_spread_s", self.join_spread_s, 0.0)?;
        if !(self.rpc_timeout_rtts > 0.0 && self.rpc_timeout_rtts <= 1000.0) {
            bail!(
                "chord.rpc_timeout_rtts must be in (0, 1000], got {}",
                self.rpc_timeout_rtts
            );
        }
        if self.replicas == 0 || self.replicas > 8 {
            bail!(
                "chord.replicas must be in 1..=8 (1 = the paper's setting), got {}",
                self.replicas
            );
        }
        Ok(Timing {
            successors: self.successors,
            stabilize,
            fix_fingers,
            rpc_timeout_rtts: self.rpc_timeout_rtts,
            rpc_timeout_whole: if self.rpc_timeout_rtts.fract() == 0.0 {
                self.rpc_timeout_rtts as u64
            } else {
                0
            },
            rpc_timeout_cap: rpc_timeout_cap.max(1),
            max_lookup: max_lookup.max(1),
            init: self.init,
            join_spread,
            replicas: self.replicas,
            value_bytes: self.value_bytes,
            learn_from_queries: self.learn_from_queries,
        })
    }
}

use crate::settings::{KeyDoc, Settings, TableDef};

impl Settings for ChordConfig {
    fn validate(&self) -> Result<()> {
        self.timing().map(|_| ())
    }
}

/// The `[chord]` table's definition: the ring substrate's settings, accepted by every protocol
/// that runs on the Chord ring.
pub const TABLE: TableDef = TableDef::new::<ChordConfig>(
    "chord",
    "Chord ring maintenance and routing (every ring-based protocol)",
    &[
        KeyDoc::new("successors", "1..=24", "successor-list length"),
        KeyDoc::new("stabilize_ms", "[1, 86400000]", "stabilisation and predecessor-check period"),
        KeyDoc::new("fix_fingers_ms", "[1, 86400000]", "one finger is refreshed per period, round robin"),
        KeyDoc::new("rpc_timeout_rtts", "(0, 1000]", "RPC timeout in RTTs to the callee ..."),
        KeyDoc::new("rpc_timeout_cap_ms", "[0.001, 86400000]", "... capped at this many ms"),
        KeyDoc::new("max_lookup_ms", "[0.001, 86400000]", "a lookup (or batch) unanswered this long fails"),
        KeyDoc::new("init", "converged | join", "ring built converged at t = 0, or by the join protocol"),
        KeyDoc::new("join_spread_s", "[0, 86400]", "with init = join: joins spread over this many seconds"),
        KeyDoc::new("replicas", "1..=8", "copies of each key (owner + distinct-host successors)"),
        KeyDoc::new("value_bytes", ">= 0", "bytes of the value stored with each 8-byte key"),
        KeyDoc::new(
            "learn_from_queries",
            "true | false",
            "a query or app RPC timeout also removes the silent peer from the forwarder's routing state, as p2psim does (default false: routed around for that query only, so systems sharing a ring stay independent, model.md §9)",
        ),
    ],
);

#[cfg(test)]
mod tests {
    use super::ChordConfig;

    /// The integer path of a whole multiplier gives the floating-point product, capped, for
    /// RTTs from 1 µs to beyond the cap and for every whole multiplier a manifest may give;
    /// a fractional multiplier keeps the float path.
    #[test]
    fn whole_rpc_timeouts_equal_the_float_rule() {
        let mut rng = crate::rng::SimRng::from_seed(3);
        for rtts in [1.0, 2.0, 3.0, 7.0, 1000.0, 2.5] {
            let cfg = ChordConfig {
                rpc_timeout_rtts: rtts,
                rpc_timeout_cap_ms: 1e6,
                ..ChordConfig::default()
            };
            let t = cfg.timing().unwrap();
            assert_eq!(t.rpc_timeout_whole != 0, rtts.fract() == 0.0);
            for _ in 0..20_000 {
                let rtt = rng.below(1 << 36);
                let float = ((rtt as f64 * rtts) as u64).clamp(1, t.rpc_timeout_cap);
                assert_eq!(t.rpc_timeout(rtt), float, "rtt {rtt} x {rtts}");
            }
        }
    }
}
