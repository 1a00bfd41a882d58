//! Chord with virtual nodes: the ring substrate shared by Chord-batch, LEAD and MARQUES.
//!
//! [`Ring`] holds every member's routing state in flat arrays indexed by member index
//! (predecessor, successor list, 64 base-2 fingers) and implements the protocol message by
//! message: join through a live bootstrap peer, stabilise / notify, predecessor checks,
//! round-robin finger repair, graceful leave, and recursive greedy routing of *target lists* (a
//! single lookup is a list of one, carried inside its messages; a consolidated batch splits at
//! every peer by next hop). Every
//! hop is an RPC acknowledged by the next peer; on timeout the forwarder routes around the silent
//! peer.
//!
//! The ring never calls an application: its handlers return a [`Routed`] (targets this peer is
//! responsible for) that the overlay hands to the application system they belong to. Messages
//! and timeouts of application queries are charged to the system's [`Ledger`] where they happen.

pub mod config;
mod fingers;
mod hints;
mod maintenance;
mod membership;
pub mod nexthop;
pub mod routing;
mod shortcuts;
mod step;
mod unrecorded;
pub use unrecorded::rebuilt_hops;

use super::arena::{Arena, Handle};
use super::id::RingId;
use super::view::GlobalView;
use super::wire::{Msg, Purpose, RingIx, RingMsg, RingTimer, SuccList, Target, Targets, Timer};
use crate::engine::Time;
use crate::ids::{HostId, PeerId};
use crate::ledger::Ledger;
use crate::network::Path;
use crate::rng::SimRng;
use crate::sim::Sim;
pub use config::{ChordConfig, RingInit, Timing, MAX_SUCCESSORS};
pub use routing::Routed;

/// "No peer".
pub const NONE: PeerId = PeerId::MAX;
/// Fingers per peer (one per bit of the identifier).
pub const FINGERS: usize = 64;

/// The simulation an overlay runs on.
pub type OverlaySim = Sim<Msg, Timer>;

/// What an outstanding RPC is.
#[derive(Clone, Copy, Debug)]
enum RpcKind {
    /// Targets handed to the next hop; they come back here if the message is lost.
    Hop {
        targets: Option<Targets>,
        origin: PeerId,
        hops: u16,
        purpose: Purpose,
        /// Peers this list already timed out on (routed around, per query).
        avoid: routing::Avoid,
    },
    Stabilize,
    JoinInfo,
    CheckPred,
    KeyRequest,
}

#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Rpc {
    /// First, so that the record is copied in the same 16-byte pieces as the kind was written
    /// in (placed after other fields, the copy's loads straddled those stores and stalled).
    kind: RpcKind,
    from: PeerId,
    to: PeerId,
    /// The caller's host and its incarnation when the call was made: a crash of that host
    /// voids the RPC (checked when the RPC is next looked at, see [`Ring::rpc_mut`]).
    host: HostId,
    incarnation: u32,
    timer: crate::engine::TimerHandle,
    /// The timeout's place in the event order while it is not scheduled: an RPC whose reply is
    /// certain to beat its timeout once the callee has answered keeps its timeout out of the
    /// queue, and [`Ring::unanswered`] schedules it if the request or the reply goes unheard.
    deferred: Option<crate::sim::DeferredTimer>,
    /// The latencies between caller and callee, read once for the request and the reply.
    path: Path,
}

/// Targets handed to the application at the peer responsible for them.
#[derive(Clone, Copy, Debug)]
pub struct Delivery {
    /// The ring they were routed on.
    pub ring: RingIx,
    /// The application system whose query it is.
    pub sys: super::wire::SysIx,
    /// Who asked.
    pub origin: PeerId,
    /// The app's query.
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
    /// Graceful leaves.
    pub leaves: u64,
}

/// Computes the number of stored keys in a ring arc `(a, b]` (for key-transfer sizes).
pub type ArcKeys = Box<dyn Fn(RingId, RingId) -> u64>;

/// The ledgers of an overlay run's systems, indexed by system (charged by [`Purpose::App`]).
pub type Ledgers = [Ledger];

/// The ring: per-member Chord state plus the global view and in-flight RPCs.
pub struct Ring {
    /// This ring's index in the run (tags its messages and timers).
    pub id: RingIx,
    /// Validated timers and limits.
    pub timing: Timing,
    /// Ground truth (checks, bootstrap choice, data placement).
    pub view: GlobalView,
    pred: Vec<PeerId>,
    /// Per member, its predecessor's VID, written with `pred` ([`Ring::set_pred`]): a hop
    /// reads it beside its own row instead of after `pred` (a dependent miss at 10^6 peers).
    /// Read from the view instead on a ring whose members move.
    pred_vid: Vec<RingId>,
    succ: Vec<PeerId>,
    succ_len: Vec<u8>,
    /// Per member, its fingers and what its next-hop scan may pass without VIDs
    /// ([`nexthop::Shortcuts`], updated with its fingers and successors).
    finger: fingers::FingerTable,
    /// Whether the scan uses `cuts`: not on a ring whose members move (a moved member's new
    /// VID would invalidate others' shortcuts), nor when turned off for a test.
    scan_cuts: bool,
    next_finger: Vec<u8>,
    joined: Vec<bool>,
    /// Founded a ring and has not learnt of any other peer yet (Chord's "successor = self").
    alone: Vec<bool>,
    join_attempt: Vec<u32>,
    /// Each member's pending stabilise and fix-finger timers (cancelled when it leaves, so a
    /// member that leaves and is added again runs one maintenance loop, not two).
    periodic: Vec<[crate::engine::TimerHandle; 2]>,
    rpcs: Arena<Rpc>,
    lists: Arena<Vec<Target>>,
    succ_lists: Arena<SuccList>,
    spare_lists: Vec<Vec<Target>>,
    /// A list's targets grouped by next hop while it is split (first appearance first).
    scratch_buckets: Vec<(PeerId, Vec<Target>)>,
    /// Bucket index per next-hop table candidate while a list is split.
    scratch_slots: Vec<u16>,
    scratch_hops: nexthop::HopTable,
    /// Next-hop tables of recently routing peers, direct-mapped by peer: (peer, the
    /// [`Ring::routing_gen`] it was built at, table). A long list reuses its peer's table while no
    /// routing state of the ring has changed (a static ring: nearly always).
    hop_cache: Vec<(PeerId, u64, nexthop::HopTable)>,
    /// Bumped whenever any member's fingers, successors or the ring's membership (hence a VID)
    /// change: a cached next-hop table built at an older generation is built again.
    routing_gen: u64,
    /// Members may leave or be re-added while the run goes on ([`Ring::expect_moves`]): a
    /// predecessor check is then never settled at send time (its callee could leave while it
    /// is in flight).
    moves: bool,
    scratch_peers: Vec<PeerId>,
    rng: SimRng,
    arc_keys: ArcKeys,
    /// What the ring did.
    pub stats: RingStats,
}

impl Ring {
    /// Ring `id` over the members of `view`, with routing state empty (see
    /// [`Ring::build_converged`]). Ring 0 draws from the stream `chord`, ring i from `chord:i`.
    pub fn new(id: RingIx, view: GlobalView, timing: Timing, seed: u64, arc_keys: ArcKeys) -> Ring {
        let stream = if id == 0 {
            SimRng::stream(seed, "chord")
        } else {
            SimRng::stream(seed, &format!("chord:{id}"))
        };
        let mut r = Ring {
            id,
            timing,
            view,
            pred: Vec::new(),
            pred_vid: Vec::new(),
            succ: Vec::new(),
            succ_len: Vec::new(),
            finger: Default::default(),
            scan_cuts: routing::scan_shortcuts(),
            next_finger: Vec::new(),
            joined: Vec::new(),
            alone: Vec::new(),
            join_attempt: Vec::new(),
            periodic: Vec::new(),
            rpcs: Arena::default(),
            lists: Arena::default(),
            succ_lists: Arena::default(),
            spare_lists: Vec::new(),
            scratch_buckets: Vec::new(),
            scratch_slots: Vec::new(),
            scratch_hops: nexthop::HopTable::default(),
            hop_cache: Vec::new(),
            routing_gen: 0,
            moves: false,
            scratch_peers: Vec::new(),
            rng: stream,
            arc_keys,
            stats: RingStats::default(),
        };
        r.grow();
        r
    }

    /// Declares, before the run, that members of this ring may leave it or be put back at a new
    /// position while it runs ([`Ring::leave`], [`Ring::add_member`]; the Shadow Balancer). A
    /// system that moves members must call it from its `add_system`: predecessor checks whose
    /// callee cannot leave before they arrive are settled at send time otherwise, so
    /// [`Ring::leave`] and [`Ring::add_member`] panic on a ring that was not told.
    pub fn expect_moves(&mut self) {
        self.moves = true;
        self.scan_cuts = false;
    }

    /// Sizes the per-member arrays to the view's member slots.
    fn grow(&mut self) {
        let n = self.view.slots();
        let s = self.timing.successors;
        self.pred.resize(n, NONE);
        self.pred_vid.resize(n, 0);
        self.succ.resize(n * s, NONE);
        self.succ_len.resize(n, 0);
        self.finger.resize(n);
        self.next_finger.resize(n, (FINGERS - 1) as u8);
        self.joined.resize(n, false);
        self.alone.resize(n, false);
        self.join_attempt.resize(n, 0);
        self.periodic.resize(n, Default::default());
    }

    /// Draws this ring's randomness (bootstrap choices, join spread) from stream `name` of
    /// `seed` instead of the default by ring index: a system that brings its own ring names
    /// the stream after itself, so its ring behaves the same whatever index it gets in a run.
    pub fn set_stream(&mut self, seed: u64, name: &str) {
        self.rng = SimRng::stream(seed, name);
    }

    /// Replaces the function giving the keys stored in an arc (key-transfer sizes).
    pub fn set_arc_keys(&mut self, f: ArcKeys) {
        self.arc_keys = f;
    }

    /// The member index of peer `p`.
    #[inline]
    fn ix(&self, p: PeerId) -> usize {
        self.view.ix(p)
    }

    /// The outstanding RPC behind `h`, unless its caller's host has crashed since the call.
    /// A crash voids its hosts' RPCs lazily: the first look at a voided RPC drops it (and
    /// the list it holds), which is what dropping them all at the crash did, without a scan of
    /// every RPC in flight per crash.
    fn rpc_mut(&mut self, k: &OverlaySim, h: Handle) -> Option<&mut Rpc> {
        let r = self.rpcs.get(h)?;
        if k.net().incarnation(r.host) != r.incarnation {
            if let Some(Rpc {
                kind: RpcKind::Hop {
                    targets: Some(l), ..
                },
                ..
            }) = self.rpcs.remove(h)
            {
                self.release(l);
            }
            return None;
        }
        self.rpcs.get_mut(h)
    }

    /// Removes and returns the outstanding RPC behind `h` (see [`Ring::rpc_mut`]).
    fn take_rpc(&mut self, k: &OverlaySim, h: Handle) -> Option<Rpc> {
        self.rpc_mut(k, h)?;
        self.rpcs.remove(h)
    }

    /// Sends a ring message tagged with this ring.
    #[inline]
    fn send(&self, k: &mut OverlaySim, from: PeerId, to: PeerId, m: RingMsg) {
        k.send(from, to, Msg::Ring(self.id, m));
    }

    /// Sends `m`, the reply that completes RPC `rpc` and does nothing else (a hop ack, a pong,
    /// key data). When the RPC's timeout is deferred, the reply is certain to arrive before it,
    /// so the RPC is completed now and the reply settled without a queue entry where that is
    /// exact ([`Sim::send_settled`]); otherwise it is sent and completes the RPC on arrival.
    #[inline(always)]
    fn reply(&mut self, k: &mut OverlaySim, from: PeerId, to: PeerId, m: RingMsg, rpc: Handle) {
        if rpc.carried().is_some() {
            // An unrecorded hop RPC: its acknowledgement was promised to settle.
            return k.settle_promised(to, Msg::Ring(self.id, m));
        }
        self.reply_recorded(k, from, to, m, rpc);
    }

    /// [`Ring::reply`] to an RPC that keeps a record.
    fn reply_recorded(
        &mut self,
        k: &mut OverlaySim,
        from: PeerId,
        to: PeerId,
        m: RingMsg,
        rpc: Handle,
    ) {
        let Some(r) = self.rpc_mut(k, rpc) else {
            return self.send(k, from, to, m);
        };
        let (path, deferred) = (r.path.reversed(), r.deferred.is_some());
        if !deferred {
            self.send_on(k, from, to, path, m);
        } else if k.send_settled_on(from, to, path, Msg::Ring(self.id, m)) {
            self.rpcs.remove(rpc);
        }
    }

    /// Sends a ring message along `path`, read for this pair ([`OverlaySim::send_on`]).
    #[inline]
    fn send_on(&self, k: &mut OverlaySim, from: PeerId, to: PeerId, path: Path, m: RingMsg) {
        k.send_on(from, to, path, Msg::Ring(self.id, m));
    }

    /// The path an answer to RPC `rpc` travels: the request's, reversed (when the record is
    /// gone, a path that is read again at use).
    #[inline]
    fn reply_path(&self, rpc: Handle) -> Path {
        self.rpcs
            .get(rpc)
            .map_or_else(Path::default, |r| r.path.reversed())
    }

    /// Starts a ring timer for `p`.
    #[inline]
    fn set_timer(
        &self,
        k: &mut OverlaySim,
        p: PeerId,
        delay: Time,
        t: RingTimer,
    ) -> crate::engine::TimerHandle {
        k.set_timer(p, delay, Timer::Ring(self.id, t))
    }

    /// Number of present members.
    pub fn peers(&self) -> usize {
        self.view.peers()
    }

    /// A member's VID.
    #[inline]
    pub fn vid(&self, p: PeerId) -> RingId {
        self.view.vid(p)
    }

    /// Mean bytes of routing state per joined member, counted from the actual tables: the
    /// predecessor, the successor list and the distinct finger entries, 14 bytes each (8-byte
    /// VID, 4-byte address, 2-byte port). Fig 1's memory comparison.
    pub fn routing_bytes_mean(&self) -> f64 {
        let (mut bytes, mut n) = (0u64, 0u64);
        let mut distinct: Vec<PeerId> = Vec::with_capacity(FINGERS);
        for i in 0..self.view.slots() {
            let p = self.view.member(i);
            if !self.is_joined(p) {
                continue;
            }
            distinct.clear();
            distinct.extend(self.finger.row(i).iter().copied().filter(|&f| f != NONE));
            distinct.sort_unstable();
            distinct.dedup();
            let entries = distinct.len() as u64
                + u64::from(self.succ_len[i])
                + u64::from(self.pred[i] != NONE);
            bytes += 14 * entries;
            n += 1;
        }
        bytes as f64 / n.max(1) as f64
    }

    /// Whether the peer is a present member that has completed its join.
    pub fn is_joined(&self, p: PeerId) -> bool {
        self.view.is_member(p) && self.joined[self.ix(p)]
    }

    /// Whether member `p` answers `m`. A peer that has not completed its (re)join is not part
    /// of the ring yet: it routes nothing and has no successor list to give, so routed lists
    /// and successor-list requests sent to it go unanswered, as to a crashed peer, and the
    /// caller forgets it by timeout. (Otherwise a host that comes back before its neighbours
    /// noticed its crash is handed its own join lookup by a stale pointer, joins with itself as
    /// successor and hands a random bootstrap peer out as its successor list.) Every other
    /// message is served: answers to its own join, pings, notifications, key transfers.
    #[inline]
    pub fn serves(&self, p: PeerId, m: &RingMsg) -> bool {
        self.joined[self.ix(p)] || !matches!(m, RingMsg::Route { .. } | RingMsg::GetSuccs { .. })
    }

    /// The peer's predecessor ([`NONE`] if unknown).
    pub fn predecessor(&self, p: PeerId) -> PeerId {
        self.pred[self.ix(p)]
    }

    /// The peer's successor list.
    pub fn successors(&self, p: PeerId) -> &[PeerId] {
        self.succ_row(self.ix(p))
    }

    /// The peer's fingers (index i targets VID + 2^i; [`NONE`] when unknown).
    pub fn fingers(&self, p: PeerId) -> &[PeerId] {
        self.finger_row(self.ix(p))
    }

    /// The successor list of member index `i`.
    #[inline]
    fn succ_row(&self, i: usize) -> &[PeerId] {
        let s = self.timing.successors;
        &self.succ[i * s..i * s + usize::from(self.succ_len[i])]
    }

    /// The fingers of member index `i`.
    #[inline]
    fn finger_row(&self, i: usize) -> &[PeerId] {
        self.finger.row(i)
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

    /// Releases the side storage of a routed message's targets (an inline one has none).
    fn release(&mut self, t: Targets) {
        if let Targets::List(l) = t {
            self.free_list(l);
        }
    }

    /// Charges traffic to an application query (ring-internal purposes are not attributed).
    #[inline]
    fn attribute(led: &mut Ledgers, purpose: Purpose, messages: u32, timeouts: u32) {
        if let Purpose::App { sys, query } = purpose {
            led[usize::from(sys)].charge(query, messages, timeouts);
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
        let i = self.ix(p);
        let base = i * s;
        // The usual answer: the list it holds (already without itself, unknowns and repeats),
        // perhaps with more entries than fit. Nothing changes.
        let held = self.succ_row(i);
        if !held.is_empty() && (list == held || (held.len() == s && list.get(..s) == Some(held))) {
            self.alone[i] = false;
            return;
        }
        let mut n = 0;
        // Peers already taken, by their low 6 bits: the search of the list so far (quadratic
        // in its length) runs only when the bit says the peer may be in it.
        let mut taken = 0u64;
        let mut changed = false;
        for &q in list {
            let bit = 1u64 << (q % 64);
            if q == p || q == NONE || (taken & bit != 0 && self.succ[base..base + n].contains(&q)) {
                continue;
            }
            if n == s {
                break;
            }
            if self.succ[base + n] != q {
                self.succ[base + n] = q;
                changed = true;
            }
            taken |= bit;
            n += 1;
        }
        if self.succ_len[i] != n as u8 {
            self.succ_len[i] = n as u8;
            changed = true;
        }
        if changed {
            self.routing_changed();
            self.note_successors(i);
        }
        if n > 0 {
            self.alone[i] = false;
        }
    }

    fn reset(&mut self, p: PeerId) {
        self.routing_changed();
        let i = self.ix(p);
        self.set_pred(i, NONE);
        self.succ_len[i] = 0;
        self.finger.row_mut(i).fill(NONE);
        *self.finger.cuts_mut(i) = nexthop::Shortcuts::EMPTY;
        self.joined[i] = false;
        self.alone[i] = false;
        self.next_finger[i] = (FINGERS - 1) as u8;
    }

    /// Builds the converged ring from the global view of live peers (p2psim's `initstate`).
    pub fn build_converged(&mut self) {
        let live: Vec<PeerId> = self.view.live_iter().map(|(_, p)| p).collect();
        let mut buf = Vec::new();
        for &p in &live {
            self.view
                .live_successors_of(p, self.timing.successors, &mut buf);
            let list = std::mem::take(&mut buf);
            self.set_successors(p, &list);
            buf = list;
            let i = self.ix(p);
            self.set_pred(i, self.view.live_predecessor_of(p).unwrap_or(NONE));
            for f in 0..FINGERS {
                let target = self.vid(p).wrapping_add(1u64 << f);
                self.finger[i * FINGERS + f] = self.view.live_successor(target).unwrap_or(NONE);
            }
            self.note_fingers(i);
            self.joined[i] = true;
        }
        self.routing_changed();
    }

    /// Notes a change of routing state (fingers, successors, membership): cached next-hop tables
    /// are stale from now on.
    #[inline]
    fn routing_changed(&mut self) {
        self.routing_gen += 1;
    }

    /// Sets finger slot `fi` (member index x [`FINGERS`] + finger), noting a change.
    #[inline]
    fn set_finger(&mut self, fi: usize, p: PeerId) {
        if self.finger[fi] != p {
            self.finger[fi] = p;
            self.note_finger(fi);
            self.routing_changed();
        }
    }

    /// Marks a host's members dead in the global view. Their outstanding RPCs are void from
    /// now on (the host's incarnation changed, see [`Ring::rpc_mut`]) and their timers too.
    pub fn host_down(&mut self, h: HostId) {
        self.view.host_down(h);
    }

    /// The RPC timeout towards a peer: `rpc_timeout_rtts` x RTT, capped.
    #[inline]
    pub fn rpc_timeout(&self, rtt: Time) -> Time {
        self.timing.rpc_timeout(rtt)
    }
}
