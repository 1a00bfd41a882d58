//! `ping`: the minimal built-in workload. Queries arrive as a Poisson process (or periodically);
//! each picks a random live origin peer and a random target peer (alive or not), sends a ping and
//! waits for the pong until `ping.timeout_ms`. It exercises the kernel, the network (latency,
//! co-located vnodes, losses at dead hosts), churn, the ledger and the output pipeline end to end.

use crate::driver::{drive, Driven, ProtocolOutput, World};
use crate::engine::{time, Time, TimerHandle};
use crate::ids::{PeerId, GLOBAL};
use crate::ledger::{Ledger, QueryId, QueryStream};
use crate::network::Message;
use crate::output::Outcome;
use crate::settings::{KeyDoc, Settings, TableDef};
use crate::sim::{Protocol, Sim};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// The manifest's `[ping]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingConfig {
    /// How long an origin waits for the pong before recording a failure (default 1000 ms).
    #[serde(default = "default_timeout")]
    pub timeout_ms: f64,
    /// Bytes per ping or pong on the wire (default 48: IP + UDP headers and a query id).
    #[serde(default = "default_size")]
    pub message_bytes: u32,
}

fn default_timeout() -> f64 {
    1000.0
}
fn default_size() -> u32 {
    48
}

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            timeout_ms: default_timeout(),
            message_bytes: default_size(),
        }
    }
}

impl Settings for PingConfig {
    fn validate(&self) -> Result<()> {
        if !(self.timeout_ms >= 0.001 && self.timeout_ms <= 86_400_000.0) {
            bail!(
                "ping.timeout_ms must be in [0.001, 86400000] ms (at most one day), got {}",
                self.timeout_ms
            );
        }
        Ok(())
    }
}

/// The `[ping]` table's definition.
pub const TABLE: TableDef = TableDef::new::<PingConfig>(
    "ping",
    "settings of the ping workload",
    &[
        KeyDoc {
            key: "timeout_ms",
            range: "[0.001, 86400000]",
            doc: "how long an origin waits for the pong before the query fails",
        },
        KeyDoc {
            key: "message_bytes",
            range: ">= 0",
            doc: "bytes per ping or pong on the wire",
        },
    ],
);

/// Ping messages.
#[derive(Clone, Copy, Debug)]
pub enum Msg {
    /// Request, carrying the query number and the size.
    Ping(QueryId, u32),
    /// Reply.
    Pong(QueryId, u32),
}

/// Names of [`Msg`]'s kinds.
pub const KINDS: &[&str] = &["ping", "pong"];

impl Message for Msg {
    fn kind(&self) -> usize {
        match self {
            Msg::Ping(..) => 0,
            Msg::Pong(..) => 1,
        }
    }
    fn size_bytes(&self) -> u32 {
        match *self {
            Msg::Ping(_, b) | Msg::Pong(_, b) => b,
        }
    }
}

/// Ping timers.
#[derive(Clone, Copy, Debug)]
pub enum Timer {
    /// Global: issue the next query.
    Issue,
    /// The origin's wait for query `q` is over.
    Timeout(QueryId),
}

struct PingProtocol {
    stream: QueryStream,
    timeout: Time,
    bytes: u32,
    ledger: Ledger,
    timers: Vec<TimerHandle>,
}

impl Protocol for PingProtocol {
    type Msg = Msg;
    type Timer = Timer;

    fn start(&mut self, k: &mut Sim<Msg, Timer>) {
        let first = self.stream.first();
        k.set_global_timer(first, Timer::Issue);
    }

    fn on_message(&mut self, k: &mut Sim<Msg, Timer>, from: PeerId, to: PeerId, msg: Msg) {
        match msg {
            Msg::Ping(q, b) => {
                self.ledger.charge(q, 1, 0);
                k.send(to, from, Msg::Pong(q, b));
            }
            Msg::Pong(q, _) => {
                // A late pong, or the origin crashed and came back meanwhile: not an answer.
                if self.ledger.origin_alive(q, k.net()) {
                    k.cancel(self.timers[q as usize]);
                    self.ledger.close(q, k.now(), Outcome::Ok);
                }
            }
        }
    }

    fn on_timer(&mut self, k: &mut Sim<Msg, Timer>, peer: PeerId, timer: Timer) {
        match timer {
            Timer::Issue => {
                debug_assert_eq!(peer, GLOBAL);
                if let Some(gap) = self.stream.next_gap(k.now()) {
                    k.set_global_timer(gap, Timer::Issue);
                }
                let Some(origin) = self.stream.live_peer(k.net()) else {
                    return;
                };
                let n = k.net().peer_count() as u64;
                let target = if n > 1 {
                    ((origin as u64 + 1 + self.stream.rng.below(n - 1)) % n) as PeerId
                } else {
                    origin
                };
                let inc = k.net().incarnation(k.net().host_of(origin));
                let q = self.ledger.open(origin, inc, k.now(), "ping", 0);
                self.ledger.charge(q, 1, 0);
                self.ledger.note_hops(q, 1); // a ping is one direct hop
                k.send(origin, target, Msg::Ping(q, self.bytes));
                let h = k.set_timer(origin, self.timeout, Timer::Timeout(q));
                self.timers.push(h);
            }
            Timer::Timeout(q) => {
                self.ledger.charge(q, 0, 1);
                self.ledger.close(q, k.now(), Outcome::Failed);
            }
        }
    }
}

impl Driven for PingProtocol {
    fn ledger(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    fn metrics(&mut self) -> Vec<(&'static str, f64)> {
        let ok: Vec<f64> = self
            .ledger
            .records()
            .iter()
            .filter(|r| r.outcome == Outcome::Ok)
            .map(|r| r.latency_us as f64)
            .collect();
        vec![(
            "ping_rtt_ms_mean",
            ok.iter().sum::<f64>() / ok.len().max(1) as f64 / 1000.0,
        )]
    }
}

/// Runs the ping workload described by `world`.
pub fn run(world: &World) -> Result<ProtocolOutput> {
    let cfg: PingConfig = world.settings("ping")?;
    let mut p = PingProtocol {
        stream: QueryStream::new(
            world.seed,
            "workload",
            world.workload.arrivals()?,
            world.duration,
        ),
        timeout: time::from_ms_f64(cfg.timeout_ms),
        bytes: cfg.message_bytes,
        ledger: Ledger::default(),
        timers: Vec::new(),
    };
    // No query is issued after the end; the drain lets the last ones finish or time out.
    let drain = p.timeout;
    drive(
        world,
        &mut p,
        KINDS.iter().map(|k| k.to_string()).collect(),
        drain,
    )
}
