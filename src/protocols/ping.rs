//! `ping`: the minimal built-in workload. Queries arrive as a Poisson process (or periodically);
//! each picks a random live origin peer and a random target peer (alive or not), sends a ping and
//! waits for the pong until `ping.timeout_ms`. It exercises the kernel, the network (latency,
//! co-located vnodes, losses at dead hosts), churn and the output pipeline end to end.

use super::{ProtocolOutput, World};
use crate::engine::{run_until, time, HostId, Kernel, PeerId, Protocol, Time, TimerHandle, GLOBAL};
use crate::network::{Message, Network};
use crate::output::{Outcome, QueryRecord};
use crate::rng::SimRng;
use crate::workload::Arrivals;
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

/// Ping messages.
#[derive(Clone, Copy, Debug)]
pub enum Msg {
    /// Request, carrying the query number.
    Ping(u32, u32),
    /// Reply.
    Pong(u32, u32),
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
    Timeout(u32),
}

struct Pending {
    origin: PeerId,
    origin_incarnation: u32,
    issued: Time,
    timeout: Option<TimerHandle>,
    messages: u32,
    done: bool,
}

struct PingProtocol {
    rng: SimRng,
    arrivals: Arrivals,
    timeout: Time,
    bytes: u32,
    end: Time,
    queries: Vec<Pending>,
    records: Vec<QueryRecord>,
}

impl PingProtocol {
    fn finish(&mut self, q: u32, latency: Time, outcome: Outcome) {
        let p = &mut self.queries[q as usize];
        p.done = true;
        self.records.push(QueryRecord {
            query: u64::from(q),
            kind: "ping",
            origin: p.origin,
            issued_us: p.issued,
            latency_us: latency,
            hops: 1,
            messages: p.messages,
            keys_requested: 0,
            keys_returned: 0,
            timeouts: u32::from(outcome == Outcome::Failed),
            outcome,
        });
    }
}

/// Picks a uniformly random live peer (None if every host is down).
pub fn random_live_peer(net: &Network, rng: &mut SimRng) -> Option<PeerId> {
    if net.live_hosts() == 0 {
        return None;
    }
    loop {
        let p = rng.below(net.peer_count() as u64) as PeerId;
        if net.is_peer_up(p) {
            return Some(p);
        }
    }
}

impl Protocol for PingProtocol {
    type Msg = Msg;
    type Timer = Timer;

    fn start(&mut self, k: &mut Kernel<Msg, Timer>) {
        let first = self.arrivals.first(&mut self.rng);
        k.set_global_timer(first, Timer::Issue);
    }

    fn on_message(&mut self, k: &mut Kernel<Msg, Timer>, from: PeerId, to: PeerId, msg: Msg) {
        match msg {
            Msg::Ping(q, b) => {
                self.queries[q as usize].messages += 1;
                k.send(to, from, Msg::Pong(q, b));
            }
            Msg::Pong(q, _) => {
                let p = &self.queries[q as usize];
                if p.done || k.net.incarnation(k.net.host_of(to)) != p.origin_incarnation {
                    return; // late pong, or the origin crashed and came back meanwhile
                }
                if let Some(h) = p.timeout {
                    k.cancel(h);
                }
                let latency = k.now() - p.issued;
                self.finish(q, latency, Outcome::Ok);
            }
        }
    }

    fn on_timer(&mut self, k: &mut Kernel<Msg, Timer>, peer: PeerId, timer: Timer) {
        match timer {
            Timer::Issue => {
                debug_assert_eq!(peer, GLOBAL);
                let next = self.arrivals.next_gap(&mut self.rng);
                if k.now() + next <= self.end {
                    k.set_global_timer(next, Timer::Issue);
                }
                let Some(origin) = random_live_peer(&k.net, &mut self.rng) else {
                    return;
                };
                let n = k.net.peer_count() as u64;
                let target = if n > 1 {
                    ((origin as u64 + 1 + self.rng.below(n - 1)) % n) as PeerId
                } else {
                    origin
                };
                let q = self.queries.len() as u32;
                self.queries.push(Pending {
                    origin,
                    origin_incarnation: k.net.incarnation(k.net.host_of(origin)),
                    issued: k.now(),
                    timeout: None,
                    messages: 1,
                    done: false,
                });
                k.send(origin, target, Msg::Ping(q, self.bytes));
                let h = k.set_timer(origin, self.timeout, Timer::Timeout(q));
                self.queries[q as usize].timeout = Some(h);
            }
            Timer::Timeout(q) => {
                if !self.queries[q as usize].done {
                    self.finish(q, self.timeout, Outcome::Failed);
                }
            }
        }
    }

    fn on_host_down(&mut self, _k: &mut Kernel<Msg, Timer>, _host: HostId) {}
}

/// Runs the ping workload described by `world`.
pub fn run(world: &World) -> Result<ProtocolOutput> {
    let m = world.manifest;
    let cfg = m.ping.clone().unwrap_or_default();
    if !(cfg.timeout_ms > 0.0 && cfg.timeout_ms.is_finite()) {
        bail!("ping.timeout_ms must be > 0, got {}", cfg.timeout_ms);
    }
    let vnodes = m.overlay.vnodes_per_host(world.topology.host_count())?;
    let net = Network::new(
        world.topology.clone(),
        m.latency.one_way,
        m.latency.local_us,
        &vnodes,
        KINDS.len(),
    );
    let mut k: Kernel<Msg, Timer> = Kernel::new(net, world.churn.clone());
    let end = m.duration();
    let mut p = PingProtocol {
        rng: SimRng::stream(m.seed, "workload"),
        arrivals: m.workload.arrivals()?,
        timeout: time::from_ms_f64(cfg.timeout_ms),
        bytes: cfg.message_bytes,
        end,
        queries: Vec::new(),
        records: Vec::new(),
    };
    p.start(&mut k);
    // No query is issued after `end`; the drain lets the last ones finish or time out.
    let drain_end = end + p.timeout;
    run_until(&mut k, &mut p, drain_end);
    // Queries still open at the end: the origin crashed, or the answer was not due yet.
    for q in 0..p.queries.len() as u32 {
        let pq = &p.queries[q as usize];
        if !pq.done {
            let host = k.net.host_of(pq.origin);
            let crashed = k.net.incarnation(host) != pq.origin_incarnation;
            let latency = end - pq.issued;
            p.finish(
                q,
                latency,
                if crashed {
                    Outcome::OriginDown
                } else {
                    Outcome::Unfinished
                },
            );
        }
    }
    p.records.sort_by_key(|r| r.query);
    let ok: Vec<f64> = p
        .records
        .iter()
        .filter(|r| r.outcome == Outcome::Ok)
        .map(|r| r.latency_us as f64)
        .collect();
    let mean_rtt_ms = ok.iter().sum::<f64>() / ok.len().max(1) as f64 / 1000.0;
    Ok(ProtocolOutput {
        records: p.records,
        kinds: KINDS.to_vec(),
        counters: k.net.counters().clone(),
        events: k.events_processed(),
        metrics: vec![("ping_rtt_ms_mean", mean_rtt_ms)],
        ring: None,
    })
}
