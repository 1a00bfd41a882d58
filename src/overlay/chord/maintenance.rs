//! Ring maintenance: joining, stabilisation, notification, predecessor checks, finger repair,
//! key transfer on join, and the reaction to crashes and rejoins.

use super::routing::{Routed, NO_AVOID};
use super::{
    Ledgers, OverlaySim, Purpose, Ring, Rpc, RpcKind, SuccList, Target, FINGERS, MAX_SUCCESSORS,
    NONE,
};
use crate::ids::{HostId, PeerId};
use crate::network::Path;
use crate::overlay::arena::Handle;
use crate::overlay::id::{in_open, in_open_closed};
use crate::overlay::wire::{Msg, RingMsg, RingTimer, Targets, Timer};
use crate::overlay::RingInit;

impl Ring {
    /// Starts the ring at t = 0: converged state or scheduled joins, plus periodic timers.
    pub fn start(&mut self, k: &mut OverlaySim) {
        match self.timing.init {
            RingInit::Converged => self.build_converged(),
            RingInit::Join => {
                for p in self.members() {
                    let at = self.rng.below(self.timing.join_spread.max(1));
                    self.set_timer(k, p, at, RingTimer::Join);
                }
            }
        }
        for p in self.members() {
            self.arm_periodic(k, p);
        }
    }

    /// The present members, in member-index order.
    pub fn members(&self) -> Vec<PeerId> {
        (0..self.view.slots())
            .map(|i| self.view.member(i))
            .filter(|&p| self.view.is_member(p))
            .collect()
    }

    pub(super) fn arm_periodic(&mut self, k: &mut OverlaySim, p: PeerId) {
        let s = self.rng.below(self.timing.stabilize);
        let a = self.set_timer(k, p, s + 1, RingTimer::Stabilize);
        let f = self.rng.below(self.timing.fix_fingers);
        let b = self.set_timer(k, p, f + 1, RingTimer::FixFinger);
        let i = self.ix(p);
        self.periodic[i] = [a, b];
    }

    /// Registers an RPC from `from` to `to` and arms its timeout; returns its handle and the
    /// pair's [`Path`] for the request.
    pub(super) fn call(
        &mut self,
        k: &mut OverlaySim,
        from: PeerId,
        to: PeerId,
        kind: RpcKind,
    ) -> (Handle, Path) {
        let place = self.call_place(k, from, to);
        if let Some(carried) = self.unrecorded_hop(k, from, &kind, place.deferred, place.rtt) {
            return (carried, place.path);
        }
        (self.record_call(k, (from, to), kind, &place), place.path)
    }

    /// What an RPC from `from` to `to` needs before it is recorded: the pair's path and RTT,
    /// its timeout, and the timeout's place in the event order when it is deferred.
    ///
    /// Every ring request is answered the moment it arrives, so with fixed latencies the reply
    /// is back after exactly `rtt` unless the request or the reply is not heard (a crashed or
    /// departed peer). When `rtt < timeout`, the timeout can only matter in those cases: it
    /// keeps its place in the event order but stays out of the queue until one of them happens
    /// (most are cancelled, so most never enter it).
    #[inline(always)]
    fn call_place(&mut self, k: &mut OverlaySim, from: PeerId, to: PeerId) -> CallPlace {
        let path = k.net().path(from, to);
        let rtt = k.net().rtt_on(path, from, to);
        let timeout = self.rpc_timeout(rtt);
        let certain = rtt < timeout && k.net().slice_period().is_none();
        CallPlace {
            path,
            rtt,
            timeout,
            deferred: certain.then(|| k.defer_timer(from, timeout)),
        }
    }

    /// Records an RPC placed by [`Ring::call_place`], arming its timeout unless deferred.
    fn record_call(
        &mut self,
        k: &mut OverlaySim,
        (from, to): (PeerId, PeerId),
        kind: RpcKind,
        place: &CallPlace,
    ) -> Handle {
        let rpc = self.insert_rpc(k, (from, to), kind, place.path, place.deferred);
        if place.deferred.is_none() {
            let timer = self.set_timer(k, from, place.timeout, RingTimer::Rpc(rpc));
            if let Some(r) = self.rpcs.get_mut(rpc) {
                r.timer = timer;
            }
        }
        rpc
    }

    /// Stores the record of an RPC from `from` to `to` (no timer yet), with its caller's host
    /// and incarnation.
    pub(super) fn insert_rpc(
        &mut self,
        k: &OverlaySim,
        (from, to): (PeerId, PeerId),
        kind: RpcKind,
        path: Path,
        deferred: Option<crate::sim::DeferredTimer>,
    ) -> Handle {
        let host = k.net().host_of(from);
        self.rpcs.insert(Rpc {
            from,
            to,
            host,
            incarnation: k.net().incarnation(host),
            timer: Default::default(),
            deferred,
            path,
            kind,
        })
    }

    /// A ring message from `from` to `to` that nobody heard: lost at a crashed host, or
    /// addressed to a peer that left the ring. Its side storage is released, and the RPC it
    /// belongs to will time out.
    pub fn unheard(&mut self, k: &mut OverlaySim, (from, to): (PeerId, PeerId), m: RingMsg) {
        match m {
            RingMsg::Route {
                targets,
                rpc,
                origin,
                hops,
                purpose,
                ..
            } => match rpc.carried() {
                Some(seq) => {
                    let purpose = purpose.get();
                    self.rebuild_hop(k, (from, to), targets, origin, hops, purpose, seq);
                }
                None => {
                    self.on_route_lost(k, targets, rpc);
                    self.unanswered(k, rpc);
                }
            },
            RingMsg::Succs { list, rpc, .. } => {
                self.on_succs_lost(list);
                self.unanswered(k, rpc);
            }
            RingMsg::GetSuccs { rpc }
            | RingMsg::Ping { rpc }
            | RingMsg::Pong { rpc }
            | RingMsg::KeyRequest { rpc, .. }
            | RingMsg::KeyData { rpc, .. }
            | RingMsg::HopAck { rpc, .. } => self.unanswered(k, rpc),
            RingMsg::Found { .. }
            | RingMsg::Notify
            | RingMsg::NotifyPred
            | RingMsg::LeaveToPred { .. }
            | RingMsg::LeaveToSucc { .. } => {}
        }
    }

    /// RPC `rpc`'s request or reply was not heard (lost at a crashed host, or addressed to a
    /// peer that left the ring): its deferred timeout, if any, is scheduled in its place.
    pub fn unanswered(&mut self, k: &mut OverlaySim, rpc: Handle) {
        let id = self.id;
        if let Some(r) = self.rpc_mut(k, rpc) {
            if let Some(d) = r.deferred.take() {
                r.timer = k.set_deferred_timer(d, Timer::Ring(id, RingTimer::Rpc(rpc)));
            }
        }
    }

    /// Removes a peer believed dead (or gone) from `p`'s successor list, fingers and predecessor.
    pub fn forget(&mut self, p: PeerId, dead: PeerId) {
        self.routing_changed();
        let s = self.timing.successors;
        let i = self.ix(p);
        let base = i * s;
        let len = self.succ_len[i] as usize;
        let mut n = 0;
        for j in 0..len {
            let q = self.succ[base + j];
            if q != dead {
                self.succ[base + n] = q;
                n += 1;
            }
        }
        self.succ_len[i] = n as u8;
        self.note_successors(i);
        let (row, cuts) = self.finger.row_and_cuts_mut(i);
        for (j, f) in row.iter_mut().enumerate() {
            if *f == dead {
                *f = NONE;
                cuts.early &= !(1 << j);
            }
        }
        if self.pred[i] == dead {
            self.set_pred(i, NONE);
        }
    }

    fn complete(&mut self, k: &mut OverlaySim, rpc: Handle) -> Option<Rpc> {
        let r = self.take_rpc(k, rpc)?;
        k.cancel(r.timer);
        Some(r)
    }

    /// Handles a ring timer of a live peer. Returns what a re-routed list produced, if anything.
    pub fn on_timer(
        &mut self,
        k: &mut OverlaySim,
        p: PeerId,
        timer: RingTimer,
        led: &mut Ledgers,
    ) -> Routed {
        if !self.view.is_member(p) {
            return Routed::default(); // it left the ring: its periodic timers stop here
        }
        match timer {
            RingTimer::Stabilize => {
                let h = self.set_timer(k, p, self.timing.stabilize, RingTimer::Stabilize);
                let i = self.ix(p);
                self.periodic[i][0] = h;
                self.stabilize(k, p, led);
            }
            RingTimer::FixFinger => {
                let h = self.set_timer(k, p, self.timing.fix_fingers, RingTimer::FixFinger);
                let i = self.ix(p);
                self.periodic[i][1] = h;
                self.fix_finger(k, p, led);
            }
            RingTimer::Rpc(h) => {
                if let Some(r) = self.take_rpc(k, h) {
                    return self.on_rpc_timeout(k, r, led);
                }
            }
            RingTimer::Join => self.begin_join(k, p, led),
            RingTimer::JoinDeadline(attempt) => {
                if !self.joined[self.ix(p)] && self.join_attempt[self.ix(p)] == attempt {
                    self.stats.join_retries += 1;
                    self.begin_join(k, p, led);
                }
            }
        }
        Routed::default()
    }

    fn on_rpc_timeout(&mut self, k: &mut OverlaySim, r: Rpc, led: &mut Ledgers) -> Routed {
        match r.kind {
            RpcKind::Hop { .. } => return self.on_hop_timeout(k, r, led),
            RpcKind::Stabilize | RpcKind::CheckPred | RpcKind::KeyRequest => {
                self.stats.timeouts += 1;
                self.forget(r.from, r.to);
            }
            RpcKind::JoinInfo => {
                self.stats.timeouts += 1;
                self.stats.join_retries += 1;
                self.begin_join(k, r.from, led);
            }
        }
        Routed::default()
    }

    fn stabilize(&mut self, k: &mut OverlaySim, p: PeerId, led: &mut Ledgers) {
        if !self.joined[self.ix(p)] {
            return;
        }
        let s0 = match self.successors(p).first() {
            Some(&s) => s,
            None if self.alone[self.ix(p)] => {
                // Founder with successor = self: the first peer that notified it closes the ring.
                let pred = self.pred[self.ix(p)];
                if pred == NONE {
                    return;
                }
                self.set_successors(p, &[pred]);
                pred
            }
            None => {
                // Every successor is gone: this peer is cut off and must rejoin.
                self.begin_join(k, p, led);
                return;
            }
        };
        let (rpc, path) = self.call(k, p, s0, RpcKind::Stabilize);
        self.send_on(k, p, s0, path, RingMsg::GetSuccs { rpc });
        let pred = self.pred[self.ix(p)];
        if pred != NONE {
            self.check_pred(k, p, pred);
        }
    }

    /// Checks `p`'s predecessor `pred`: an RPC, or settled now when its outcome is already
    /// certain (then no record is kept). The callee answers a ping at once and changes nothing,
    /// and the reply only completes the RPC: with the timeout deferred ([`Ring::call_place`]),
    /// both hosts without a churn transition until the ping and the pong arrive
    /// ([`OverlaySim::settle_exchange_on`]), and no member able to leave the ring meanwhile (no
    /// [`Ring::expect_moves`]), the exchange is counted as sent and delivered and the RPC is
    /// done, as the two delivery events would have done it; no other event can observe the
    /// difference.
    fn check_pred(&mut self, k: &mut OverlaySim, p: PeerId, pred: PeerId) {
        let place = self.call_place(k, p, pred);
        let certain = !self.moves && self.view.is_member(pred) && place.deferred.is_some();
        // (The handle in the messages only matters for counting them: kind and size.)
        let rpc = Handle::NONE;
        if certain
            && k.settle_exchange_on(
                p,
                pred,
                place.path,
                &Msg::Ring(self.id, RingMsg::Ping { rpc }),
                &Msg::Ring(self.id, RingMsg::Pong { rpc }),
            )
        {
            return;
        }
        let rpc = self.record_call(k, (p, pred), RpcKind::CheckPred, &place);
        self.send_on(k, p, pred, place.path, RingMsg::Ping { rpc });
    }

    fn fix_finger(&mut self, k: &mut OverlaySim, p: PeerId, led: &mut Ledgers) {
        if !self.joined[self.ix(p)] {
            return;
        }
        let me = self.vid(p);
        let s0 = self.successors(p).first().copied();
        let down = |i: usize| if i == 0 { FINGERS - 1 } else { i - 1 };
        // Round robin from `next_finger` downwards, at most one turn.
        let mut left = FINGERS;
        while left > 0 {
            let pi = self.ix(p);
            let i = self.next_finger[pi] as usize;
            let start = me.wrapping_add(1u64 << i);
            match s0 {
                Some(s) if in_open_closed(start, me, self.vid(s)) => {
                    // Trivial finger: it is the successor (no message needed), and so is every
                    // lower one (their starts lie nearer): set them down to finger 0 at once.
                    let n = (i + 1).min(left);
                    for j in (i + 1 - n..=i).rev() {
                        self.set_finger(pi * FINGERS + j, s);
                    }
                    left -= n;
                    self.next_finger[pi] = down(i + 1 - n) as u8;
                }
                Some(_) => {
                    self.next_finger[pi] = down(i) as u8;
                    let one = Targets::One(Target::new(start, i as u32).into());
                    let purpose = Purpose::Finger(i as u8);
                    let routed = self.route_avoiding(k, p, one, p, 0, purpose, led, NO_AVOID);
                    debug_assert!(routed.delivered.is_none() && routed.failed.is_none());
                    return;
                }
                None => {
                    self.next_finger[pi] = down(i) as u8;
                    return;
                }
            }
        }
    }

    /// Starts (or restarts) the join of peer `p` through a random live joined bootstrap peer.
    pub fn begin_join(&mut self, k: &mut OverlaySim, p: PeerId, led: &mut Ledgers) {
        self.reset(p);
        {
            let i = self.ix(p);
            self.join_attempt[i] += 1;
        }
        let attempt = self.join_attempt[self.ix(p)];
        // A random live joined peer: a seeded random start in the live ring, then the first
        // joined peer from there (never a second ring while one exists).
        let live = self.view.live_len();
        let mut bootstrap = NONE;
        if live > 0 {
            let start = self.rng.below(live as u64) as usize;
            for j in 0..live {
                let q = self.view.live_at((start + j) % live).1;
                if q != p && self.joined[self.ix(q)] {
                    bootstrap = q;
                    break;
                }
            }
        }
        if bootstrap == NONE {
            // Nobody to join: p starts a ring of its own.
            {
                let i = self.ix(p);
                self.joined[i] = true;
            }
            {
                let i = self.ix(p);
                self.alone[i] = true;
            }
            self.stats.joins += 1;
            return;
        }
        // Until the lookup returns, the bootstrap stands in as successor (so p can route).
        self.set_successors(p, &[bootstrap]);
        let one = Targets::One(Target::new(self.vid(p), 0).into());
        self.forward(k, p, bootstrap, one, 1, p, 1, Purpose::Join, led, NO_AVOID);
        self.set_timer(
            k,
            p,
            self.timing.max_lookup,
            RingTimer::JoinDeadline(attempt),
        );
    }

    /// A join or finger lookup found its responsible peer.
    pub fn on_found(&mut self, k: &mut OverlaySim, at: PeerId, purpose: Purpose, owner: PeerId) {
        match purpose {
            // (An unjoined peer routes nothing, so its join never finds the peer itself.)
            Purpose::Join if !self.joined[self.ix(at)] && owner != at => {
                self.set_successors(at, &[owner]);
                let (rpc, path) = self.call(k, at, owner, RpcKind::JoinInfo);
                self.send_on(k, at, owner, path, RingMsg::GetSuccs { rpc });
            }
            Purpose::Finger(i) if self.joined[self.ix(at)] => {
                let fi = self.ix(at) * FINGERS + i as usize;
                self.set_finger(fi, owner);
            }
            _ => {}
        }
    }

    /// Handles a ring message (everything but `Route` and `App`, which the overlay dispatches).
    pub fn on_message(&mut self, k: &mut OverlaySim, from: PeerId, to: PeerId, msg: RingMsg) {
        match msg {
            RingMsg::HopAck { rpc, .. } => self.on_hop_ack(k, rpc),
            RingMsg::Found { purpose, owner, .. } => self.on_found(k, to, purpose.get(), owner),
            RingMsg::GetSuccs { rpc } => {
                let mut list = SuccList {
                    len: 0,
                    peers: [NONE; MAX_SUCCESSORS],
                };
                let s = self.successors(to);
                list.peers[..s.len()].copy_from_slice(s);
                list.len = s.len() as u8;
                let len = list.len;
                let list = self.succ_lists.insert(list);
                let m = RingMsg::Succs {
                    rpc,
                    pred: self.pred[self.ix(to)],
                    list,
                    len,
                };
                let path = self.reply_path(rpc);
                self.send_on(k, to, from, path, m);
            }
            RingMsg::Succs {
                rpc, pred, list, ..
            } => {
                let Some(list) = self.succ_lists.remove(list) else {
                    return;
                };
                let Some(r) = self.complete(k, rpc) else {
                    return;
                };
                match r.kind {
                    RpcKind::Stabilize => {
                        self.adopt_successor_view(k, to, from, pred, list.as_slice())
                    }
                    RpcKind::JoinInfo => self.finish_join(k, to, from, pred, list.as_slice()),
                    _ => {}
                }
            }
            RingMsg::Notify => {
                let pred = self.pred[self.ix(to)];
                if self.joined[self.ix(to)]
                    && (pred == NONE || in_open(self.vid(from), self.vid(pred), self.vid(to)))
                {
                    self.set_pred(self.ix(to), from);
                    if self.alone[self.ix(to)] {
                        // successor = self: stabilisation would adopt successor.predecessor = from.
                        self.set_successors(to, &[from]);
                    }
                }
            }
            RingMsg::NotifyPred => {
                let s0 = self.successors(to).first().copied();
                if self.joined[self.ix(to)]
                    && s0.is_none_or(|s| in_open(self.vid(from), self.vid(to), self.vid(s)))
                {
                    let mut list = [NONE; MAX_SUCCESSORS + 1];
                    list[0] = from;
                    let cur = self.successors(to);
                    list[1..=cur.len()].copy_from_slice(cur);
                    let n = cur.len() + 1;
                    self.set_successors(to, &list[..n]);
                }
            }
            RingMsg::Ping { rpc } => self.reply(k, to, from, RingMsg::Pong { rpc }, rpc),
            RingMsg::Pong { rpc } => {
                self.complete(k, rpc);
            }
            RingMsg::KeyRequest { rpc, lo } => {
                let lo = lo.get();
                let keys = (self.arc_keys)(lo, self.vid(from));
                let per_key = 8 + u64::from(self.timing.value_bytes);
                let bytes = (keys * per_key)
                    .min(u64::from(u32::MAX - crate::overlay::wire::HEADER_BYTES))
                    as u32;
                self.reply(k, to, from, RingMsg::KeyData { rpc, bytes }, rpc);
            }
            RingMsg::KeyData { rpc, .. } => {
                self.complete(k, rpc);
            }
            RingMsg::Route { .. } => unreachable!("routed lists are dispatched by the overlay"),
            RingMsg::LeaveToPred { succ } => self.on_leave_to_pred(to, from, succ),
            RingMsg::LeaveToSucc { pred, .. } => self.on_leave_to_succ(to, from, pred),
        }
    }

    fn adopt_successor_view(
        &mut self,
        k: &mut OverlaySim,
        p: PeerId,
        s: PeerId,
        s_pred: PeerId,
        s_list: &[PeerId],
    ) {
        let mut list = [NONE; MAX_SUCCESSORS + 2];
        let mut n = 0;
        if s_pred != NONE && s_pred != p && in_open(self.vid(s_pred), self.vid(p), self.vid(s)) {
            list[n] = s_pred;
            n += 1;
        }
        list[n] = s;
        n += 1;
        let take = s_list.len().min(MAX_SUCCESSORS);
        list[n..n + take].copy_from_slice(&s_list[..take]);
        n += take;
        self.set_successors(p, &list[..n]);
        if let Some(&s0) = self.successors(p).first() {
            self.send(k, p, s0, RingMsg::Notify);
        }
    }

    fn finish_join(
        &mut self,
        k: &mut OverlaySim,
        p: PeerId,
        s: PeerId,
        s_pred: PeerId,
        s_list: &[PeerId],
    ) {
        if self.joined[self.ix(p)] {
            return;
        }
        let mut list = [NONE; MAX_SUCCESSORS + 1];
        list[0] = s;
        let take = s_list.len().min(MAX_SUCCESSORS);
        list[1..=take].copy_from_slice(&s_list[..take]);
        self.set_successors(p, &list[..=take]);
        // The successor's predecessor is ours only if it precedes us; a stale one (a peer that
        // joined between us and s, or an old pointer) would make (pred, p] cover most of the ring.
        let precedes =
            s_pred != NONE && s_pred != p && in_open(self.vid(p), self.vid(s_pred), self.vid(s));
        if precedes {
            self.set_pred(self.ix(p), s_pred);
        }
        // Copy the successor's fingers as a starting point (the paper's join step); they are read
        // when its answer arrives and repaired by fix-fingers like any other.
        for i in 0..FINGERS {
            let f = self.finger[self.ix(s) * FINGERS + i];
            let fi = self.ix(p) * FINGERS + i;
            self.set_finger(fi, if f == p { NONE } else { f });
        }
        {
            let i = self.ix(p);
            self.joined[i] = true;
        }
        self.stats.joins += 1;
        self.send(k, p, s, RingMsg::Notify);
        if precedes {
            self.send(k, p, s_pred, RingMsg::NotifyPred);
            let (rpc, path) = self.call(k, p, s, RpcKind::KeyRequest);
            let lo = self.vid(s_pred);
            let lo = crate::overlay::wire::Wide::new(lo);
            self.send_on(k, p, s, path, RingMsg::KeyRequest { rpc, lo });
        }
    }

    /// A host came back: its peers rejoin with empty routing state through the join protocol.
    pub fn host_up(&mut self, k: &mut OverlaySim, h: HostId) {
        self.view.host_up(h);
        let mut peers = std::mem::take(&mut self.scratch_peers);
        peers.clear();
        peers.extend(self.view.members_of_host(h));
        for &p in &peers {
            self.reset(p);
            self.set_timer(k, p, 0, RingTimer::Join);
            self.arm_periodic(k, p);
        }
        self.scratch_peers = peers;
    }
}

/// An RPC's path, RTT and timeout, and its deferred timeout's place ([`Ring::call_place`]).
struct CallPlace {
    path: Path,
    rtt: crate::engine::Time,
    timeout: crate::engine::Time,
    deferred: Option<crate::sim::DeferredTimer>,
}
