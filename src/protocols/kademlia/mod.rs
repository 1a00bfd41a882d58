//! Kademlia (Maymounkov and Mazières, IPTPS 2002), the DHT under IPFS: the first overlay of
//! leadsim that is not a ring, run as its own protocol on the shared kernel, network, churn and
//! query ledger.
//!
//! - **Ids**: 160-bit SHA-1 of `"<address>:<port>"` (peers) and of a key's 8 little-endian bytes
//!   (blocks, as Chord's KeyHASH); distance is XOR ([`id`]).
//! - **Routing state**: 160 k-buckets, least recently seen first; a contact heard from moves to the
//!   tail; a full bucket pings its oldest contact and keeps it if it answers, else takes the new
//!   one ([`table`]). A contact silent in a lookup is dropped.
//! - **Lookups** are iterative from the origin with `alpha` requests in flight ([`lookup`]);
//!   FIND_NODE ends when the k closest known peers have all answered, FIND_VALUE at the first peer
//!   holding the value. Every request and reply is a message charged to the query.
//! - **Storage**: a block's value lives on the k live peers closest to its id (ideal republishing:
//!   a best case for Kademlia under churn, documented in `docs/modelling.md`).
//! - **Maintenance**: a bucket no lookup has targeted for `refresh_s` is refreshed by a lookup of a
//!   random id in its range; a restarted peer rejoins through a random live peer with a lookup of
//!   its own id, then refreshes its buckets farther than its nearest contact.
//! - **Queries**: a lookup query is one FIND_VALUE; a range request knows its n block ids (the
//!   best case, as for Chord-batch) and fetches them in `batches` consecutive batches, the
//!   lookups of a batch in parallel (the paper's IPFS emulation).

pub mod config;
pub mod id;
pub mod lookup;
mod maintenance;
mod queries;
mod report;
mod steps;
pub mod table;

pub use config::{KademliaConfig, TABLE};

use crate::data::KeySet;
use crate::driver::{Driven, ProtocolOutput, World};
use crate::engine::Time;
use crate::ids::{HostId, PeerId};
use crate::ledger::{Ledger, QueryId, QueryStream};
use crate::network::Message;
use crate::overlay::arena::{Arena, Handle};
use crate::overlay::id::{host_address, vnode_port};
use crate::rng::SimRng;
use crate::rpc::{self, Calls};
use crate::sim::{Protocol, Sim};
use crate::workload::QueryKind;
use anyhow::{bail, Result};
use config::Params;
use id::{IdIndex, Kid};
use lookup::{Cand, Lookup, Purpose, State};
use std::sync::Arc;
use table::Table;

/// No query (maintenance traffic).
const NO_QUERY: QueryId = QueryId::MAX;
/// Bytes of a message header (IP + UDP + RPC id), as the ping workload's messages.
const HEADER: u32 = 48;
/// Bytes of one contact in a reply: 20-byte id, 4-byte address, 2-byte port.
const CONTACT: u32 = 26;

/// Kademlia's messages.
#[derive(Clone, Copy, Debug)]
pub enum Msg {
    /// FIND_NODE (`value` false) or FIND_VALUE for `target`, on behalf of query `q`.
    Find {
        /// The caller's RPC.
        rpc: Handle,
        /// The id looked up.
        target: Kid,
        /// FIND_VALUE.
        value: bool,
        /// The query it serves, or none.
        q: QueryId,
    },
    /// The callee's closest contacts (a list in the protocol's pool, `n` long).
    Nodes {
        /// The caller's RPC.
        rpc: Handle,
        /// The contacts.
        list: Handle,
        /// Their number.
        n: u16,
        /// The query it serves, or none.
        q: QueryId,
    },
    /// The value (the callee holds it).
    Value {
        /// The caller's RPC.
        rpc: Handle,
        /// Bytes of the value.
        bytes: u32,
        /// The query it serves.
        q: QueryId,
    },
    /// Liveness probe of a bucket's oldest contact.
    Ping {
        /// The caller's RPC.
        rpc: Handle,
    },
    /// Its answer.
    Pong {
        /// The caller's RPC.
        rpc: Handle,
    },
}

/// Names of the message kinds (counter columns).
pub const KINDS: &[&str] = &["find_node", "find_value", "nodes", "value", "ping", "pong"];

impl Message for Msg {
    fn kind(&self) -> usize {
        match self {
            Msg::Find { value: false, .. } => 0,
            Msg::Find { value: true, .. } => 1,
            Msg::Nodes { .. } => 2,
            Msg::Value { .. } => 3,
            Msg::Ping { .. } => 4,
            Msg::Pong { .. } => 5,
        }
    }
    fn size_bytes(&self) -> u32 {
        match *self {
            Msg::Find { .. } => HEADER + 20,
            Msg::Nodes { n, .. } => HEADER + CONTACT * u32::from(n),
            Msg::Value { bytes, .. } => HEADER + 20 + bytes,
            Msg::Ping { .. } | Msg::Pong { .. } => HEADER,
        }
    }
    fn query_traffic(&self) -> bool {
        match *self {
            Msg::Find { q, .. } | Msg::Nodes { q, .. } | Msg::Value { q, .. } => q != NO_QUERY,
            Msg::Ping { .. } | Msg::Pong { .. } => false,
        }
    }
}

/// Kademlia's timers.
#[derive(Clone, Copy, Debug)]
pub enum Timer {
    /// Global: issue the next query.
    Issue,
    /// The caller's wait for an RPC is over.
    Rpc(Handle),
    /// A peer's periodic bucket refresh.
    Refresh,
}

/// What an RPC in flight is for.
#[derive(Clone, Copy, Debug)]
enum RpcFor {
    /// A step of a lookup.
    Lookup(Handle),
    /// A ping of bucket `bucket`'s oldest contact.
    Ping { bucket: u32 },
}

/// A data query at its origin: its keys and batch progress.
#[derive(Clone, Copy, Debug)]
struct Request {
    first: usize,
    n: usize,
    next: usize,
    pending: usize,
}

/// Counts for the run's metrics.
#[derive(Clone, Debug, Default)]
struct Stats {
    lookups: [u64; 3],
    node_checked: u64,
    node_exact: u64,
    node_nearest: u64,
    value_lookups: u64,
    value_found: u64,
    value_hops: u64,
    joins: u64,
    timeouts: u64,
    pings: u64,
}

/// A Kademlia network: every peer's table, the lookups and RPCs in flight, one query system.
pub struct Kademlia {
    p: Params,
    ids: Vec<Kid>,
    index: IdIndex,
    first_peer: Vec<PeerId>,
    tables: Vec<Table>,
    joined: Vec<bool>,
    rpcs: Calls<RpcFor>,
    lookups: Arena<Lookup>,
    lists: Arena<Vec<PeerId>>,
    spare_lists: Vec<Vec<PeerId>>,
    spare_cands: Vec<Vec<Cand>>,
    reqs: Vec<Request>,
    keys: Arc<KeySet>,
    kind: QueryKind,
    range: usize,
    stream: QueryStream,
    rng: SimRng,
    ledger: Ledger,
    scratch: Vec<PeerId>,
    truth: Vec<PeerId>,
    stats: Stats,
    static_run: bool,
}

impl Kademlia {
    fn up(&self, net: &crate::network::Network, p: PeerId) -> bool {
        net.is_peer_up(p)
    }

    /// Shortlist length kept per lookup.
    fn cap(&self) -> usize {
        4 * self.p.k
    }

    /// Starts an RPC from `caller` to `callee` (the caller sends the request with the handle).
    fn new_rpc(
        &mut self,
        k: &mut Sim<Msg, Timer>,
        caller: PeerId,
        callee: PeerId,
        what: RpcFor,
    ) -> Handle {
        let wait = rpc::timeout(k.net().rtt_peers(caller, callee), self.p.rtts, self.p.cap);
        self.rpcs.start(k, (caller, callee), what, wait, Timer::Rpc)
    }
}

impl Protocol for Kademlia {
    type Msg = Msg;
    type Timer = Timer;

    fn start(&mut self, k: &mut Sim<Msg, Timer>) {
        self.warm_start(k);
        let first = self.stream.first();
        k.set_global_timer(first, Timer::Issue);
    }

    fn on_message(&mut self, k: &mut Sim<Msg, Timer>, from: PeerId, to: PeerId, msg: Msg) {
        match msg {
            Msg::Find {
                rpc,
                target,
                value,
                q,
            } => {
                self.heard(k, to, from);
                let reply = if value && self.holds(k, to, target) {
                    Msg::Value {
                        rpc,
                        bytes: self.p.value_bytes,
                        q,
                    }
                } else {
                    let kk = self.p.k;
                    self.tables[to as usize].closest(&self.ids, target, kk + 1, &mut self.scratch);
                    let mut list = self.spare_lists.pop().unwrap_or_default();
                    list.clear();
                    list.extend(self.scratch.iter().copied().filter(|&p| p != from).take(kk));
                    let n = list.len() as u16;
                    Msg::Nodes {
                        rpc,
                        list: self.lists.insert(list),
                        n,
                        q,
                    }
                };
                if q != NO_QUERY {
                    self.ledger.charge(q, 1, 0);
                }
                k.send(to, from, reply);
            }
            Msg::Nodes { rpc, list, .. } => {
                let contacts = self.lists.remove(list).unwrap_or_default();
                self.on_reply(k, from, to, rpc, Some(&contacts));
                self.spare_lists.push(contacts);
            }
            Msg::Value { rpc, .. } => self.on_reply(k, from, to, rpc, None),
            Msg::Ping { rpc } => {
                self.heard(k, to, from);
                k.send(to, from, Msg::Pong { rpc });
            }
            Msg::Pong { rpc } => {
                if let Some(r) = self.rpcs.answered(k, rpc, from, to) {
                    if let RpcFor::Ping { bucket } = r.payload {
                        self.tables[to as usize].ping_done(bucket, from, true);
                    }
                }
            }
        }
    }

    fn on_lost(&mut self, _k: &mut Sim<Msg, Timer>, _from: PeerId, _to: PeerId, msg: Msg) {
        if let Msg::Nodes { list, .. } = msg {
            if let Some(l) = self.lists.remove(list) {
                self.spare_lists.push(l);
            }
        }
    }

    fn on_timer(&mut self, k: &mut Sim<Msg, Timer>, peer: PeerId, timer: Timer) {
        match timer {
            Timer::Issue => {
                if let Some(gap) = self.stream.next_gap(k.now()) {
                    k.set_global_timer(gap, Timer::Issue);
                }
                self.issue(k);
            }
            Timer::Refresh => self.refresh(k, peer),
            Timer::Rpc(h) => {
                let Some(r) = self.rpcs.expired(h) else {
                    return;
                };
                self.stats.timeouts += 1;
                let me = self.ids[r.caller as usize];
                match r.payload {
                    RpcFor::Ping { bucket } => {
                        self.tables[r.caller as usize].ping_done(bucket, r.callee, false)
                    }
                    RpcFor::Lookup(lh) => {
                        self.tables[r.caller as usize].remove(me, &self.ids, r.callee);
                        let Some(l) = self.lookups.get_mut(lh) else {
                            return;
                        };
                        if let Purpose::Query(q) = l.purpose {
                            self.ledger.charge(q, 0, 1);
                        }
                        l.inflight -= 1;
                        if let Some(i) = l.position(r.callee) {
                            l.cands[i].state = State::Failed;
                        }
                        self.pump(k, lh);
                    }
                }
            }
        }
    }

    fn on_host_down(&mut self, k: &mut Sim<Msg, Timer>, host: HostId) {
        // The crashed peers' lookups and calls can never finish (their timers are void): free
        // them. Their queries stay open and end as `origin_down`.
        let net = k.net();
        let dead: Vec<Handle> = self
            .lookups
            .iter()
            .filter(|(_, l)| net.host_of(l.origin) == host)
            .map(|(h, _)| h)
            .collect();
        for h in dead {
            if let Some(mut l) = self.lookups.remove(h) {
                l.cands.clear();
                self.spare_cands.push(l.cands);
            }
        }
        self.rpcs.forget_callers(|c| net.host_of(c) == host);
    }

    fn on_host_up(&mut self, k: &mut Sim<Msg, Timer>, host: HostId) {
        let first = self.first_peer[host as usize];
        let last = self
            .first_peer
            .get(host as usize + 1)
            .copied()
            .unwrap_or(self.ids.len() as PeerId);
        for p in first..last {
            self.rejoin(k, p);
        }
    }
}

impl Driven for Kademlia {
    fn ledger(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    fn metrics(&mut self) -> Vec<(&'static str, f64)> {
        report::metrics(self)
    }

    fn checks(&mut self, world: &World) -> Vec<crate::driver::Check> {
        report::checks(self, world)
    }
}

/// Runs one Kademlia system (the manifest's protocol `kademlia`).
pub fn run(world: &World) -> Result<ProtocolOutput> {
    let [spec] = world.systems else {
        bail!("kademlia runs one system per run (it does not share a ring); remove the other [[systems]] or run them in their own runs");
    };
    let cfg: KademliaConfig = spec.settings("kademlia")?;
    let p = cfg.params()?;
    let keys = world.keys("kademlia")?;
    let (kind, range) = spec.workload.query_shape()?;
    if kind == QueryKind::Box {
        bail!("kademlia answers workload.query = \"range\" or \"lookup\", not boxes");
    }
    if range > keys.len() {
        bail!(
            "workload.range_keys = {range} exceeds the dataset's {} keys",
            keys.len()
        );
    }
    if world.slots != world.vnodes {
        bail!("kademlia has no balancer: overlay slots must equal vnodes");
    }
    let mut ids = Vec::new();
    let mut first_peer = Vec::with_capacity(world.vnodes.len());
    for (h, &n) in world.vnodes.iter().enumerate() {
        first_peer.push(ids.len() as PeerId);
        let addr = host_address(h as u32);
        for v in 0..n {
            ids.push(Kid::sha1(format!("{addr}:{}", vnode_port(v)).as_bytes()));
        }
    }
    let peers = ids.len();
    let mut proto = Kademlia {
        p,
        index: IdIndex::new(&ids),
        ids,
        first_peer,
        tables: vec![Table::default(); peers],
        joined: vec![false; peers],
        rpcs: Calls::default(),
        lookups: Arena::default(),
        lists: Arena::default(),
        spare_lists: Vec::new(),
        spare_cands: Vec::new(),
        reqs: Vec::new(),
        keys,
        kind,
        range,
        stream: spec.data_stream(world)?,
        rng: SimRng::stream(world.seed, "kademlia"),
        ledger: Ledger::default(),
        scratch: Vec::new(),
        truth: Vec::new(),
        stats: Stats::default(),
        static_run: world.churn.crash_count() == 0,
    };
    // A request's batches each wait at most a few timeouts per lookup round.
    let drain = p.cap * 20 * (p.batches as Time + 1);
    crate::driver::drive(
        world,
        &mut proto,
        KINDS.iter().map(|k| k.to_string()).collect(),
        drain,
    )
}
