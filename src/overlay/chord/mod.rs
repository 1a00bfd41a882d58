//! Chord with virtual nodes: the ring substrate shared by Chord-batch, LEAD and MARQUES.
//!
//! [`Ring`] holds every peer's routing state in flat arrays (predecessor, successor list, 64
//! base-2 fingers) and implements the protocol message by message: join through a live
//! bootstrap peer, stabilise / notify, predecessor checks, round-robin finger repair, and
//! recursive greedy routing of *target lists* (a single lookup is a list of one; a consolidated
//! batch splits at every peer by next hop). Every hop is an RPC acknowledged by the next peer; on
//! timeout the forwarder forgets the dead peer and routes around it.
//!
//! The ring never calls the application: its handlers return a [`Delivery`] (targets this peer is
//! responsible for) that the composite protocol ([`super::Overlay`]) hands to the app.

pub mod config;
mod maintenance;
pub mod routing;

use super::arena::{Arena, Handle};
use super::id::RingId;
use super::view::GlobalView;
use crate::engine::Time;
use crate::ledger::Ledger;
use crate::ids::{HostId, PeerId};
use crate::network::Message;
use crate::rng::SimRng;
pub use config::{ChordConfig, RingInit, Timing, MAX_SUCCESSORS};

/// "No peer".
pub const NONE: PeerId = PeerId::MAX;
/// Fingers per peer (one per bit of the identifier).
pub const FINGERS: usize = 64;
/// Bytes of headers on every message (IP + UDP + overlay header with ids).
pub const HEADER_BYTES: u32 = 40;
/// Bytes per routing entry carried (VID + address).
pub const ENTRY_BYTES: u32 = 12;

/// Kind names of ring messages (the app's kinds follow).
pub const RING_KINDS: &[&str] = &[
    "lookup",
    "finger",
    "join",
    "hop_ack",
    "found",
    "stabilize",
    "successor_list",
    "notify",
    "check_pred",
    "check_pred_reply",
    "key_request",
    "key_transfer",
];

/// Why a list of targets is being routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// An application query (its own context number).
    App(u32),
    /// A joining peer looking for its successor.
    Join,
    /// Finger `i` repair.
    Finger(u8),
}

/// One routed target: a ring position and the app's tag for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// Ring position looked up.
    pub id: RingId,
    /// The application's reference (e.g. index of the key in its query).
    pub tag: u32,
    /// Set by the forwarder that found the receiver to be the responsible peer.
    pub final_hop: bool,
}

/// A successor list carried inline in a message.
#[derive(Clone, Copy, Debug)]
pub struct SuccList {
    len: u8,
    peers: [PeerId; MAX_SUCCESSORS],
}

impl SuccList {
    /// The peers.
    pub fn as_slice(&self) -> &[PeerId] {
        &self.peers[..self.len as usize]
    }
}

/// Ring messages, with the application's messages wrapped in `App`.
#[derive(Clone, Debug)]
pub enum Msg<A> {
    /// A list of targets being routed; `rpc` is the forwarder's pending hop (for the ack).
    Route {
        list: Handle,
        len: u32,
        origin: PeerId,
        hops: u16,
        purpose: Purpose,
        rpc: Handle,
    },
    /// The next hop got a routed list.
    HopAck { rpc: Handle },
    /// Result of a ring-internal lookup (join, finger), sent by the responsible peer.
    Found {
        purpose: Purpose,
        owner: PeerId,
        hops: u16,
    },
    /// Stabilisation: "send me your predecessor and successor list".
    GetSuccs { rpc: Handle },
    /// The answer (the list travels in the ring's side arena, so messages stay small).
    Succs {
        rpc: Handle,
        pred: PeerId,
        list: Handle,
        len: u8,
    },
    /// "I might be your predecessor."
    Notify,
    /// "I might be your successor" (sent by a joining peer to its predecessor).
    NotifyPred,
    /// Predecessor liveness check.
    Ping { rpc: Handle },
    /// Its answer.
    Pong { rpc: Handle },
    /// A joined peer asks its successor for the keys it now owns.
    KeyRequest { rpc: Handle, lo: RingId },
    /// The keys (count and byte size; data itself stays implicit).
    KeyData { rpc: Handle, keys: u64, bytes: u32 },
    /// An application message.
    App(A),
}

impl<A: Message> Message for Msg<A> {
    fn kind(&self) -> usize {
        match self {
            Msg::Route {
                purpose: Purpose::App(_),
                ..
            } => 0,
            Msg::Route {
                purpose: Purpose::Finger(_),
                ..
            } => 1,
            Msg::Route {
                purpose: Purpose::Join,
                ..
            } => 2,
            Msg::HopAck { .. } => 3,
            Msg::Found { .. } => 4,
            Msg::GetSuccs { .. } => 5,
            Msg::Succs { .. } => 6,
            Msg::Notify | Msg::NotifyPred => 7,
            Msg::Ping { .. } => 8,
            Msg::Pong { .. } => 9,
            Msg::KeyRequest { .. } => 10,
            Msg::KeyData { .. } => 11,
            Msg::App(a) => RING_KINDS.len() + a.kind(),
        }
    }

    fn size_bytes(&self) -> u32 {
        match self {
            Msg::Route { len, .. } => HEADER_BYTES + 16 + 12 * len,
            Msg::Succs { len, .. } => HEADER_BYTES + ENTRY_BYTES * (1 + u32::from(*len)),
            Msg::Found { .. } => HEADER_BYTES + ENTRY_BYTES,
            Msg::KeyData { bytes, .. } => HEADER_BYTES + bytes,
            Msg::App(a) => a.size_bytes(),
            _ => HEADER_BYTES,
        }
    }
}

/// Ring timers, with the application's timers wrapped in `App`.
#[derive(Clone, Copy, Debug)]
pub enum Timer<T> {
    /// Periodic stabilisation and predecessor check.
    Stabilize,
    /// Periodic finger repair.
    FixFinger,
    /// An RPC's timeout.
    Rpc(Handle),
    /// Start joining (with `init = join`, or after a crash).
    Join,
    /// The join lookup took too long: retry.
    JoinDeadline(u32),
    /// An application timer.
    App(T),
}

/// What an outstanding RPC is.
#[derive(Clone, Copy, Debug)]
enum RpcKind {
    /// A routed list handed to the next hop; the list comes back here if the message is lost.
    Hop {
        list: Option<Handle>,
        origin: PeerId,
        hops: u16,
        purpose: Purpose,
    },
    Stabilize,
    JoinInfo,
    CheckPred,
    KeyRequest,
}

#[derive(Clone, Copy, Debug)]
struct Rpc {
    from: PeerId,
    to: PeerId,
    timer: crate::engine::TimerHandle,
    kind: RpcKind,
}

/// Targets handed to the application at the peer responsible for them.
#[derive(Clone, Copy, Debug)]
pub struct Delivery {
    /// Who asked.
    pub origin: PeerId,
    /// The app's query context.
    pub query: u32,
    /// The targets (owned by the app now: free it with [`Ring::free_list`]).
    pub list: Handle,
    /// Overlay hops the targets travelled.
    pub hops: u16,
}

/// Counters of the ring's own work, reported per run.
#[derive(Clone, Debug, Default)]
pub struct RingStats {
    /// RPC timeouts (a peer suspected dead).
    pub timeouts: u64,
    /// Completed joins.
    pub joins: u64,
    /// Join lookups that had to be retried.
    pub join_retries: u64,
    /// Targets dropped because a peer had no live route at all.
    pub unroutable: u64,
}

/// Computes the number of stored keys in a ring arc `(a, b]` (for key-transfer sizes).
pub type ArcKeys = Box<dyn Fn(RingId, RingId) -> u64>;

/// The ring: per-peer Chord state plus the global view and in-flight RPCs.
pub struct Ring {
    /// Validated timers and limits.
    pub timing: Timing,
    /// Ground truth (checks, bootstrap choice, data placement).
    pub view: GlobalView,
    pred: Vec<PeerId>,
    succ: Vec<PeerId>,
    succ_len: Vec<u8>,
    finger: Vec<PeerId>,
    next_finger: Vec<u8>,
    joined: Vec<bool>,
    /// Founded a ring and has not learnt of any other peer yet (Chord's "successor = self").
    alone: Vec<bool>,
    join_attempt: Vec<u32>,
    rpcs: Arena<Rpc>,
    lists: Arena<Vec<Target>>,
    succ_lists: Arena<SuccList>,
    spare_lists: Vec<Vec<Target>>,
    scratch_buckets: Vec<(PeerId, Handle, u32)>,
    rng: SimRng,
    arc_keys: ArcKeys,
    /// The application's query ledger: every routed message and timeout of an application
    /// query is charged to it here, where it happens.
    pub ledger: Ledger,
    /// What the ring did.
    pub stats: RingStats,
}

impl Ring {
    /// A ring over the peers of `view`, with routing state empty (see [`Ring::build_converged`]).
    pub fn new(view: GlobalView, timing: Timing, seed: u64, arc_keys: ArcKeys) -> Ring {
        let n = view.peers();
        Ring {
            timing,
            view,
            pred: vec![NONE; n],
            succ: vec![NONE; n * timing.successors],
            succ_len: vec![0; n],
            finger: vec![NONE; n * FINGERS],
            next_finger: vec![(FINGERS - 1) as u8; n],
            joined: vec![false; n],
            alone: vec![false; n],
            join_attempt: vec![0; n],
            rpcs: Arena::default(),
            lists: Arena::default(),
            succ_lists: Arena::default(),
            spare_lists: Vec::new(),
            scratch_buckets: Vec::new(),
            rng: SimRng::stream(seed, "chord"),
            arc_keys,
            ledger: Ledger::default(),
            stats: RingStats::default(),
        }
    }

    /// Number of peers.
    pub fn peers(&self) -> usize {
        self.view.peers()
    }

    /// A peer's VID.
    #[inline]
    pub fn vid(&self, p: PeerId) -> RingId {
        self.view.vid(p)
    }

    /// Whether the peer has completed its join.
    pub fn is_joined(&self, p: PeerId) -> bool {
        self.joined[p as usize]
    }

    /// The peer's predecessor ([`NONE`] if unknown).
    pub fn predecessor(&self, p: PeerId) -> PeerId {
        self.pred[p as usize]
    }

    /// The peer's successor list.
    pub fn successors(&self, p: PeerId) -> &[PeerId] {
        let s = self.timing.successors;
        &self.succ[p as usize * s..p as usize * s + self.succ_len[p as usize] as usize]
    }

    /// The peer's fingers (index i targets VID + 2^i; [`NONE`] when unknown).
    pub fn fingers(&self, p: PeerId) -> &[PeerId] {
        &self.finger[p as usize * FINGERS..(p as usize + 1) * FINGERS]
    }

    /// A new target list from the pool (reusing buffers).
    pub fn new_list(&mut self) -> Handle {
        let v = self.spare_lists.pop().unwrap_or_default();
        self.lists.insert(v)
    }

    /// Appends a target to a list.
    pub fn push_target(&mut self, list: Handle, t: Target) {
        if let Some(v) = self.lists.get_mut(list) {
            v.push(t);
        }
    }

    /// The targets of a list.
    pub fn list(&self, list: Handle) -> &[Target] {
        self.lists.get(list).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// Returns a list to the pool.
    pub fn free_list(&mut self, list: Handle) {
        if let Some(mut v) = self.lists.remove(list) {
            v.clear();
            self.spare_lists.push(v);
        }
    }

    /// Charges traffic to an application query (ring-internal purposes are not attributed).
    #[inline]
    fn attribute(&mut self, purpose: Purpose, messages: u32, timeouts: u32) {
        if let Purpose::App(q) = purpose {
            self.ledger.charge(q, messages, timeouts);
        }
    }

    /// Lists currently allocated (a leak check for tests).
    pub fn lists_in_use(&self) -> usize {
        self.lists.len()
    }

    /// RPCs currently outstanding.
    pub fn rpcs_in_flight(&self) -> usize {
        self.rpcs.len()
    }

    fn set_successors(&mut self, p: PeerId, list: &[PeerId]) {
        let s = self.timing.successors;
        let base = p as usize * s;
        let mut n = 0;
        for &q in list {
            if q == p || q == NONE || self.succ[base..base + n].contains(&q) {
                continue;
            }
            if n == s {
                break;
            }
            self.succ[base + n] = q;
            n += 1;
        }
        self.succ_len[p as usize] = n as u8;
        if n > 0 {
            self.alone[p as usize] = false;
        }
    }

    /// Removes a peer believed dead from `p`'s successor list, fingers and predecessor.
    fn forget(&mut self, p: PeerId, dead: PeerId) {
        let s = self.timing.successors;
        let base = p as usize * s;
        let len = self.succ_len[p as usize] as usize;
        let mut n = 0;
        for i in 0..len {
            let q = self.succ[base + i];
            if q != dead {
                self.succ[base + n] = q;
                n += 1;
            }
        }
        self.succ_len[p as usize] = n as u8;
        for f in &mut self.finger[p as usize * FINGERS..(p as usize + 1) * FINGERS] {
            if *f == dead {
                *f = NONE;
            }
        }
        if self.pred[p as usize] == dead {
            self.pred[p as usize] = NONE;
        }
    }

    fn reset(&mut self, p: PeerId) {
        self.pred[p as usize] = NONE;
        self.succ_len[p as usize] = 0;
        self.finger[p as usize * FINGERS..(p as usize + 1) * FINGERS].fill(NONE);
        self.joined[p as usize] = false;
        self.alone[p as usize] = false;
        self.next_finger[p as usize] = (FINGERS - 1) as u8;
    }

    /// Builds the converged ring from the global view of live peers (p2psim's `initstate`).
    pub fn build_converged(&mut self) {
        let live: Vec<PeerId> = self.view.live().iter().map(|&(_, p)| p).collect();
        let mut buf = Vec::new();
        for &p in &live {
            self.view
                .live_successors_of(p, self.timing.successors, &mut buf);
            let list = std::mem::take(&mut buf);
            self.set_successors(p, &list);
            buf = list;
            self.pred[p as usize] = self.view.live_predecessor_of(p).unwrap_or(NONE);
            for i in 0..FINGERS {
                let target = self.vid(p).wrapping_add(1u64 << i);
                self.finger[p as usize * FINGERS + i] =
                    self.view.live_successor(target).unwrap_or(NONE);
            }
            self.joined[p as usize] = true;
        }
    }

    /// Marks a host's peers dead in the global view and drops their outstanding RPCs
    /// (their timers are already void).
    pub fn host_down(&mut self, h: HostId, host_of: impl Fn(PeerId) -> HostId) {
        self.view.host_down(h);
        let mut dead = Vec::new();
        // Collect the RPCs of the dead host (rare event: a scan is fine).
        for (handle, rpc) in self.rpcs_iter() {
            if host_of(rpc.from) == h {
                dead.push(handle);
            }
        }
        for handle in dead {
            if let Some(Rpc {
                kind: RpcKind::Hop { list: Some(l), .. },
                ..
            }) = self.rpcs.remove(handle)
            {
                self.free_list(l);
            }
        }
    }

    fn rpcs_iter(&self) -> impl Iterator<Item = (Handle, &Rpc)> {
        self.rpcs.iter()
    }

    /// The RPC timeout towards a peer: `rpc_timeout_rtts` x RTT, capped.
    fn rpc_timeout(&self, rtt: Time) -> Time {
        ((rtt as f64 * self.timing.rpc_timeout_rtts) as Time).clamp(1, self.timing.rpc_timeout_cap)
    }
}
