//! The coordinator-built range indexes of the paper's Fig 1 micro-benchmark: **C-Table** (a
//! coordinator's sorted table of key ranges to owners) and **RP-BST** (a distributed binary
//! search tree over key intervals, DBST style). Both partition the sorted keys into equal,
//! contiguous ranges, one per peer in peer order, and both need the coordinator (peer 0) to stay
//! correct under churn: every peer heartbeats it; after `missed_beats` silent periods it hands a
//! failed peer's range to the next live peer in key order (a replica holder) and tells whoever
//! must know (C-Table: the stand-in; RP-BST: the stand-in and every node whose pointers name
//! the range: parent, children, in-order neighbours, and every peer when the root moves).
//!
//! - **C-Table query**: the origin asks the coordinator for the owners of its range (request +
//!   reply), then fetches each owner's part in parallel (request + reply with the keys).
//! - **RP-BST query**: the origin sends the query to the root; each node forwards it to the child
//!   towards the first key (acknowledged hops); the node holding it replies its keys to the origin
//!   and passes the rest to its in-order successor (acknowledged), which does the same.
//!
//! A timed-out request is retried (C-Table: after asking the coordinator again; RP-BST: to the
//! range's current holder) up to `attempts` times. Memory is counted from the structures: see
//! [`RangeIndex::memory`].

pub mod config;
mod flow;
pub mod tree;

pub use config::{RangeIndexConfig, TABLE};

use crate::data::KeySet;
use crate::driver::{Check, Driven, ProtocolOutput, World};
use crate::engine::Time;
use crate::ids::{HostId, PeerId};
use crate::ledger::{Ledger, QueryId, QueryStream};
use crate::network::Message;
use crate::output::Outcome;
use crate::overlay::arena::Handle;
use crate::rpc::Calls;
use crate::sim::{Protocol, Sim};
use crate::workload::QueryKind;
use anyhow::{bail, Result};
use config::Params;
use std::sync::Arc;
use tree::Tree;

/// Which index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The coordinator's range table.
    CTable,
    /// The distributed BST.
    RpBst,
}

/// Bytes of a message header, as elsewhere.
const HEADER: u32 = 48;
/// Bytes of a peer address in a table or pointer (4-byte IPv4 address, 2-byte port).
const ADDR: u64 = 6;
/// Bytes of an interval (two 8-byte keys).
const INTERVAL: u64 = 16;

/// The indexes' messages.
#[derive(Clone, Copy, Debug)]
pub enum Msg {
    /// C-Table: who holds the ranges of query `q`?
    Locate {
        /// The caller's RPC.
        rpc: Handle,
        /// The query.
        q: QueryId,
    },
    /// C-Table: the holders (`parts` entries of 14 bytes).
    Located {
        /// The caller's RPC.
        rpc: Handle,
        /// The query.
        q: QueryId,
        /// Entries in the answer.
        parts: u32,
    },
    /// C-Table: send me your part of query `q` (range `part`).
    Fetch {
        /// The caller's RPC.
        rpc: Handle,
        /// The query.
        q: QueryId,
        /// The range.
        part: u32,
    },
    /// A part's keys, to the origin (RP-BST sends them unsolicited: `rpc` is `NONE`).
    Keys {
        /// The caller's RPC (C-Table).
        rpc: Handle,
        /// The query.
        q: QueryId,
        /// The range.
        part: u32,
        /// Keys carried.
        n: u32,
    },
    /// RP-BST: query `q` reaches the holder of range `part` (descending or walking).
    Step {
        /// The sender's RPC.
        rpc: Handle,
        /// The query.
        q: QueryId,
        /// The range it is sent to.
        part: u32,
        /// Still descending (not yet at the first key's range).
        descend: bool,
    },
    /// RP-BST: a step was received.
    Ack {
        /// The sender's RPC.
        rpc: Handle,
    },
    /// A peer's heartbeat to the coordinator.
    Heartbeat,
    /// The coordinator tells a peer that a range changed holder.
    Update,
}

/// Names of the message kinds.
pub const KINDS: &[&str] = &[
    "locate",
    "located",
    "fetch",
    "keys",
    "step",
    "ack",
    "heartbeat",
    "update",
];

impl Msg {
    fn bytes(&self, value: u32) -> u32 {
        match *self {
            Msg::Locate { .. } => HEADER + 16,
            Msg::Located { parts, .. } => HEADER + 14 * parts,
            Msg::Fetch { .. } => HEADER + 16,
            Msg::Keys { n, .. } => HEADER + n * (8 + value),
            Msg::Step { .. } => HEADER + 20,
            Msg::Ack { .. } | Msg::Heartbeat => HEADER,
            Msg::Update => HEADER + 14,
        }
    }
}

/// A message on the wire with its size (the value bytes are a run setting).
#[derive(Clone, Copy, Debug)]
pub struct Wire {
    /// The message.
    pub msg: Msg,
    size: u32,
}

impl Message for Wire {
    fn kind(&self) -> usize {
        match self.msg {
            Msg::Locate { .. } => 0,
            Msg::Located { .. } => 1,
            Msg::Fetch { .. } => 2,
            Msg::Keys { .. } => 3,
            Msg::Step { .. } => 4,
            Msg::Ack { .. } => 5,
            Msg::Heartbeat => 6,
            Msg::Update => 7,
        }
    }
    fn size_bytes(&self) -> u32 {
        self.size
    }
    fn query_traffic(&self) -> bool {
        !matches!(self.msg, Msg::Heartbeat | Msg::Update)
    }
}

/// Timers.
#[derive(Clone, Copy, Debug)]
pub enum Timer {
    /// Global: the next query.
    Issue,
    /// An RPC's wait is over.
    Rpc(Handle),
    /// A peer's heartbeat.
    Beat,
    /// The coordinator's failure detector.
    Detect,
}

/// What a caller waits for: a range of a query (and, for RP-BST, whether it was descending).
#[derive(Clone, Copy, Debug)]
struct Pending {
    q: QueryId,
    part: u32,
    descend: bool,
}

/// A query at its origin.
#[derive(Clone, Copy, Debug)]
struct Request {
    first: usize,
    n: usize,
    parts: (u32, u32),
    answered: u32,
    attempts: u32,
}

/// Counts behind the metrics.
#[derive(Clone, Debug, Default)]
struct Stats {
    failovers: u64,
    restores: u64,
    updates: u64,
    wrong_holder: u64,
}

/// A C-Table or RP-BST network.
pub struct RangeIndex {
    variant: Variant,
    p: Params,
    peers: usize,
    coordinator: PeerId,
    first_peer: Vec<PeerId>,
    /// Key-index bounds of each range (range i = `bounds[i]..bounds[i + 1]`).
    bounds: Vec<usize>,
    /// The coordinator's belief: who serves range i.
    holder: Vec<PeerId>,
    /// The coordinator's belief: whether peer i is alive.
    believed: Vec<bool>,
    last_beat: Vec<Time>,
    tree: Tree,
    rpcs: Calls<Pending>,
    reqs: Vec<Request>,
    /// Per query, which of its ranges the origin has.
    done: Vec<Vec<bool>>,
    keys: Arc<KeySet>,
    kind: QueryKind,
    range: usize,
    stream: QueryStream,
    ledger: Ledger,
    stats: Stats,
    static_run: bool,
}

impl RangeIndex {
    fn send(&self, k: &mut Sim<Wire, Timer>, from: PeerId, to: PeerId, msg: Msg) {
        let size = msg.bytes(self.p.value_bytes);
        k.send(from, to, Wire { msg, size });
    }

    /// The range holding key index `i`.
    fn part_of(&self, i: usize) -> u32 {
        (self.bounds.partition_point(|&b| b <= i) - 1) as u32
    }

    /// Keys of query `q` inside range `part`.
    fn keys_in(&self, r: &Request, part: u32) -> u32 {
        let lo = self.bounds[part as usize].max(r.first);
        let hi = self.bounds[part as usize + 1].min(r.first + r.n);
        hi.saturating_sub(lo) as u32
    }

    /// Peers of host `h`.
    fn peers_of(&self, h: HostId) -> std::ops::Range<PeerId> {
        let first = self.first_peer[h as usize];
        let last = self
            .first_peer
            .get(h as usize + 1)
            .copied()
            .unwrap_or(self.peers as PeerId);
        first..last
    }

    /// Memory of the index, counted from its structures: (bytes per peer, bytes in total).
    ///
    /// - C-Table: the coordinator's table, one entry per range (8-byte lower key + 6-byte
    ///   address), plus at every peer its own interval and the coordinator's address.
    /// - RP-BST: at every peer its interval, five pointers (parent, left, right, in-order
    ///   predecessor and successor) and the root's address; the coordinator keeps the whole tree
    ///   (interval and five pointers per node) to repair it.
    pub fn memory(&self) -> (f64, f64) {
        let n = self.peers as u64;
        let total = match self.variant {
            Variant::CTable => n * (8 + ADDR) + n * (INTERVAL + ADDR),
            Variant::RpBst => n * (INTERVAL + 6 * ADDR) + n * (INTERVAL + 5 * ADDR),
        };
        (total as f64 / n as f64, total as f64)
    }
}

impl Protocol for RangeIndex {
    type Msg = Wire;
    type Timer = Timer;

    fn start(&mut self, k: &mut Sim<Wire, Timer>) {
        for p in 0..self.peers as PeerId {
            if k.net().is_peer_up(p) {
                // Spread the heartbeats over one period.
                let offset = 1 + (p as Time * self.p.beat) / self.peers as Time;
                k.set_timer(p, offset, Timer::Beat);
            } else {
                self.believed[p as usize] = false;
            }
        }
        self.reassign_all(k);
        k.set_timer(self.coordinator, self.p.beat, Timer::Detect);
        let first = self.stream.first();
        k.set_global_timer(first, Timer::Issue);
    }

    fn on_message(&mut self, k: &mut Sim<Wire, Timer>, from: PeerId, to: PeerId, w: Wire) {
        self.on_msg(k, from, to, w.msg);
    }

    fn on_timer(&mut self, k: &mut Sim<Wire, Timer>, peer: PeerId, timer: Timer) {
        match timer {
            Timer::Issue => {
                if let Some(gap) = self.stream.next_gap(k.now()) {
                    k.set_global_timer(gap, Timer::Issue);
                }
                self.issue(k);
            }
            Timer::Rpc(h) => self.on_timeout(k, h),
            Timer::Beat => {
                k.set_timer(peer, self.p.beat, Timer::Beat);
                if peer != self.coordinator {
                    self.send(k, peer, self.coordinator, Msg::Heartbeat);
                } else {
                    self.last_beat[peer as usize] = k.now();
                }
            }
            Timer::Detect => {
                k.set_timer(peer, self.p.beat, Timer::Detect);
                self.detect(k);
            }
        }
    }

    fn on_host_down(&mut self, k: &mut Sim<Wire, Timer>, host: HostId) {
        // A crashed caller's calls can never time out (its timers are void): free them.
        let net = k.net();
        self.rpcs.forget_callers(|c| net.host_of(c) == host);
    }

    fn on_host_up(&mut self, k: &mut Sim<Wire, Timer>, host: HostId) {
        let now = k.now();
        for p in self.peers_of(host) {
            k.set_timer(p, 1 + p as Time % self.p.beat, Timer::Beat);
            if p == self.coordinator {
                // Back with its table; it gives every peer a fresh grace period.
                self.last_beat.iter_mut().for_each(|t| *t = now);
                k.set_timer(p, self.p.beat, Timer::Detect);
            }
        }
    }
}

impl Driven for RangeIndex {
    fn ledger(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    fn metrics(&mut self) -> Vec<(&'static str, f64)> {
        let (per_peer, total) = self.memory();
        vec![
            ("memory_bytes_per_peer", per_peer),
            ("index_bytes_total", total),
            ("index_failovers", self.stats.failovers as f64),
            ("index_restores", self.stats.restores as f64),
            ("index_update_messages", self.stats.updates as f64),
            ("index_wrong_holder", self.stats.wrong_holder as f64),
        ]
    }

    fn checks(&mut self, _world: &World) -> Vec<Check> {
        let recs = self.ledger.records();
        let ok: Vec<_> = recs.iter().filter(|r| r.outcome == Outcome::Ok).collect();
        let complete = ok
            .iter()
            .filter(|r| r.keys_returned == r.keys_requested)
            .count();
        vec![Check {
            name: "every key of a range returned",
            holds: complete == ok.len() && ok.len() == recs.len(),
            enforced: self.static_run,
            detail: format!(
                "{complete} of {} queries answered complete ({} answered)",
                recs.len(),
                ok.len()
            ),
        }]
    }
}

/// Runs one C-Table system.
pub fn run_ctable(world: &World) -> Result<ProtocolOutput> {
    run(world, Variant::CTable)
}

/// Runs one RP-BST system.
pub fn run_rpbst(world: &World) -> Result<ProtocolOutput> {
    run(world, Variant::RpBst)
}

fn run(world: &World, variant: Variant) -> Result<ProtocolOutput> {
    let [spec] = world.systems else {
        bail!(
            "{} runs one system per run; compare it with a sweep over protocol",
            world.protocol
        );
    };
    let cfg: RangeIndexConfig = spec.settings("range_index")?;
    let p = cfg.params()?;
    let keys = world.keys(world.protocol)?;
    let (kind, range) = spec.workload.query_shape()?;
    if kind == QueryKind::Box {
        bail!(
            "{} answers workload.query = \"range\" or \"lookup\", not boxes",
            world.protocol
        );
    }
    if range > keys.len() {
        bail!(
            "workload.range_keys = {range} exceeds the dataset's {} keys",
            keys.len()
        );
    }
    if world.slots != world.vnodes {
        bail!(
            "{} has no balancer: overlay slots must equal vnodes",
            world.protocol
        );
    }
    let mut first_peer = Vec::with_capacity(world.vnodes.len());
    let mut peers = 0usize;
    for &n in &world.vnodes {
        first_peer.push(peers as PeerId);
        peers += n as usize;
    }
    let total = keys.len();
    let bounds: Vec<usize> = (0..=peers).map(|i| i * total / peers).collect();
    let mut proto = RangeIndex {
        variant,
        p,
        peers,
        coordinator: 0,
        first_peer,
        bounds,
        holder: (0..peers as PeerId).collect(),
        believed: vec![true; peers],
        last_beat: vec![0; peers],
        tree: Tree::balanced(peers as u32),
        rpcs: Calls::default(),
        reqs: Vec::new(),
        done: Vec::new(),
        keys,
        kind,
        range,
        stream: spec.data_stream(world)?,
        ledger: Ledger::default(),
        stats: Stats::default(),
        static_run: world.churn.crash_count() == 0,
    };
    let drain = p.cap * (p.attempts as Time + 1) * 20;
    crate::driver::drive(
        world,
        &mut proto,
        KINDS.iter().map(|k| k.to_string()).collect(),
        drain,
    )
}
