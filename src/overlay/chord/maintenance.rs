//! Ring maintenance: joining, stabilisation, notification, predecessor checks, finger repair,
//! key transfer on join, and the reaction to crashes and rejoins.

use super::routing::Routed;
use super::{
    Msg, Purpose, Ring, Rpc, RpcKind, SuccList, Target, Timer, FINGERS, MAX_SUCCESSORS, NONE,
};
use crate::ids::{HostId, PeerId};
use crate::sim::Sim;
use crate::network::Message;
use crate::overlay::arena::Handle;
use crate::overlay::id::{in_open, in_open_closed};
use crate::overlay::RingInit;

impl Ring {
    /// Starts the ring at t = 0: converged state or scheduled joins, plus periodic timers.
    pub fn start<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
    ) {
        match self.timing.init {
            RingInit::Converged => self.build_converged(),
            RingInit::Join => {
                for p in 0..self.peers() as PeerId {
                    let at = self.rng.below(self.timing.join_spread.max(1));
                    k.set_timer(p, at, Timer::Join);
                }
            }
        }
        for p in 0..self.peers() as PeerId {
            self.arm_periodic(k, p);
        }
    }

    fn arm_periodic<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        p: PeerId,
    ) {
        let s = self.rng.below(self.timing.stabilize);
        k.set_timer(p, s + 1, Timer::Stabilize);
        let f = self.rng.below(self.timing.fix_fingers);
        k.set_timer(p, f + 1, Timer::FixFinger);
    }

    /// Registers an RPC from `from` to `to` and arms its timeout; returns its handle.
    pub(super) fn call<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        from: PeerId,
        to: PeerId,
        kind: RpcKind,
    ) -> Handle {
        let timeout = self.rpc_timeout(k.net().rtt_peers(from, to));
        let rpc = self.rpcs.insert(Rpc {
            from,
            to,
            timer: Default::default(),
            kind,
        });
        let timer = k.set_timer(from, timeout, Timer::Rpc(rpc));
        if let Some(r) = self.rpcs.get_mut(rpc) {
            r.timer = timer;
        }
        rpc
    }

    fn complete<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        rpc: Handle,
    ) -> Option<Rpc> {
        let r = self.rpcs.remove(rpc)?;
        k.cancel(r.timer);
        Some(r)
    }

    /// Handles a ring timer of a live peer. Returns what a re-routed list produced, if anything.
    pub fn on_timer<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        p: PeerId,
        timer: Timer<T>,
    ) -> Routed {
        match timer {
            Timer::Stabilize => {
                k.set_timer(p, self.timing.stabilize, Timer::Stabilize);
                self.stabilize(k, p);
            }
            Timer::FixFinger => {
                k.set_timer(p, self.timing.fix_fingers, Timer::FixFinger);
                self.fix_finger(k, p);
            }
            Timer::Rpc(h) => {
                if let Some(r) = self.rpcs.remove(h) {
                    return self.on_rpc_timeout(k, r);
                }
            }
            Timer::Join => self.begin_join(k, p),
            Timer::JoinDeadline(attempt) => {
                if !self.joined[p as usize] && self.join_attempt[p as usize] == attempt {
                    self.stats.join_retries += 1;
                    self.begin_join(k, p);
                }
            }
            Timer::App(_) => {}
        }
        Routed::default()
    }

    fn on_rpc_timeout<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        r: Rpc,
    ) -> Routed {
        match r.kind {
            RpcKind::Hop { .. } => return self.on_hop_timeout(k, r),
            RpcKind::Stabilize | RpcKind::CheckPred | RpcKind::KeyRequest => {
                self.stats.timeouts += 1;
                self.forget(r.from, r.to);
            }
            RpcKind::JoinInfo => {
                self.stats.timeouts += 1;
                self.stats.join_retries += 1;
                self.begin_join(k, r.from);
            }
        }
        Routed::default()
    }

    fn stabilize<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        p: PeerId,
    ) {
        if !self.joined[p as usize] {
            return;
        }
        let s0 = match self.successors(p).first() {
            Some(&s) => s,
            None if self.alone[p as usize] => {
                // Founder with successor = self: the first peer that notified it closes the ring.
                let pred = self.pred[p as usize];
                if pred == NONE {
                    return;
                }
                self.set_successors(p, &[pred]);
                pred
            }
            None => {
                // Every successor is gone: this peer is cut off and must rejoin.
                self.begin_join(k, p);
                return;
            }
        };
        let rpc = self.call(k, p, s0, RpcKind::Stabilize);
        k.send(p, s0, Msg::GetSuccs { rpc });
        let pred = self.pred[p as usize];
        if pred != NONE {
            let rpc = self.call(k, p, pred, RpcKind::CheckPred);
            k.send(p, pred, Msg::Ping { rpc });
        }
    }

    fn fix_finger<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        p: PeerId,
    ) {
        if !self.joined[p as usize] {
            return;
        }
        let me = self.vid(p);
        let s0 = self.successors(p).first().copied();
        for _ in 0..FINGERS {
            let i = self.next_finger[p as usize] as usize;
            self.next_finger[p as usize] = if i == 0 {
                (FINGERS - 1) as u8
            } else {
                (i - 1) as u8
            };
            let start = me.wrapping_add(1u64 << i);
            match s0 {
                Some(s) if in_open_closed(start, me, self.vid(s)) => {
                    // Trivial finger: it is the successor (no message needed).
                    self.finger[p as usize * FINGERS + i] = s;
                }
                Some(_) => {
                    let list = self.new_list();
                    self.push_target(
                        list,
                        Target {
                            id: start,
                            tag: i as u32,
                            final_hop: false,
                        },
                    );
                    let routed = self.route(k, p, list, p, 0, Purpose::Finger(i as u8));
                    debug_assert!(routed.delivered.is_none() && routed.failed.is_none());
                    return;
                }
                None => return,
            }
        }
    }

    /// Starts (or restarts) the join of peer `p` through a random live joined bootstrap peer.
    pub fn begin_join<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        p: PeerId,
    ) {
        self.reset(p);
        self.join_attempt[p as usize] += 1;
        let attempt = self.join_attempt[p as usize];
        // A random live joined peer: a seeded random start in the live ring, then the first
        // joined peer from there (never a second ring while one exists).
        let live = self.view.live().len();
        let mut bootstrap = NONE;
        if live > 0 {
            let start = self.rng.below(live as u64) as usize;
            for j in 0..live {
                let q = self.view.live()[(start + j) % live].1;
                if q != p && self.joined[q as usize] {
                    bootstrap = q;
                    break;
                }
            }
        }
        if bootstrap == NONE {
            // Nobody to join: p starts a ring of its own.
            self.joined[p as usize] = true;
            self.alone[p as usize] = true;
            self.stats.joins += 1;
            return;
        }
        // Until the lookup returns, the bootstrap stands in as successor (so p can route).
        self.set_successors(p, &[bootstrap]);
        let list = self.new_list();
        let me = self.vid(p);
        self.push_target(
            list,
            Target {
                id: me,
                tag: 0,
                final_hop: false,
            },
        );
        self.forward(k, p, bootstrap, list, 1, p, 1, Purpose::Join);
        k.set_timer(p, self.timing.max_lookup, Timer::JoinDeadline(attempt));
    }

    /// A join or finger lookup found its responsible peer.
    pub fn on_found<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        at: PeerId,
        purpose: Purpose,
        owner: PeerId,
    ) {
        match purpose {
            Purpose::Join if !self.joined[at as usize] => {
                self.set_successors(at, &[owner]);
                let rpc = self.call(k, at, owner, RpcKind::JoinInfo);
                k.send(at, owner, Msg::GetSuccs { rpc });
            }
            Purpose::Finger(i) if self.joined[at as usize] => {
                self.finger[at as usize * FINGERS + i as usize] = owner;
            }
            _ => {}
        }
    }

    /// Handles a ring message (everything but `Route` and `App`, which the overlay dispatches).
    pub fn on_message<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        from: PeerId,
        to: PeerId,
        msg: Msg<A>,
    ) {
        match msg {
            Msg::HopAck { rpc } => self.on_hop_ack(k, rpc),
            Msg::Found { purpose, owner, .. } => self.on_found(k, to, purpose, owner),
            Msg::GetSuccs { rpc } => {
                let mut list = SuccList {
                    len: 0,
                    peers: [NONE; MAX_SUCCESSORS],
                };
                let s = self.successors(to);
                list.peers[..s.len()].copy_from_slice(s);
                list.len = s.len() as u8;
                let len = list.len;
                let list = self.succ_lists.insert(list);
                k.send(
                    to,
                    from,
                    Msg::Succs {
                        rpc,
                        pred: self.pred[to as usize],
                        list,
                        len,
                    },
                );
            }
            Msg::Succs {
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
            Msg::Notify => {
                let pred = self.pred[to as usize];
                if self.joined[to as usize]
                    && (pred == NONE || in_open(self.vid(from), self.vid(pred), self.vid(to)))
                {
                    self.pred[to as usize] = from;
                    if self.alone[to as usize] {
                        // successor = self: stabilisation would adopt successor.predecessor = from.
                        self.set_successors(to, &[from]);
                    }
                }
            }
            Msg::NotifyPred => {
                let s0 = self.successors(to).first().copied();
                if self.joined[to as usize]
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
            Msg::Ping { rpc } => k.send(to, from, Msg::Pong { rpc }),
            Msg::Pong { rpc } => {
                self.complete(k, rpc);
            }
            Msg::KeyRequest { rpc, lo } => {
                let keys = (self.arc_keys)(lo, self.vid(from));
                let per_key = 8 + u64::from(self.timing.value_bytes);
                let bytes = (keys * per_key).min(u64::from(u32::MAX - super::HEADER_BYTES)) as u32;
                k.send(to, from, Msg::KeyData { rpc, keys, bytes });
            }
            Msg::KeyData { rpc, .. } => {
                self.complete(k, rpc);
            }
            Msg::Route { .. } | Msg::App(_) => unreachable!("dispatched by the overlay"),
        }
    }

    fn adopt_successor_view<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
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
            k.send(p, s0, Msg::Notify);
        }
    }

    fn finish_join<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        p: PeerId,
        s: PeerId,
        s_pred: PeerId,
        s_list: &[PeerId],
    ) {
        if self.joined[p as usize] {
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
            self.pred[p as usize] = s_pred;
        }
        // Copy the successor's fingers as a starting point (the paper's join step); they are read
        // when its answer arrives and repaired by fix-fingers like any other.
        for i in 0..FINGERS {
            let f = self.finger[s as usize * FINGERS + i];
            self.finger[p as usize * FINGERS + i] = if f == p { NONE } else { f };
        }
        self.joined[p as usize] = true;
        self.stats.joins += 1;
        k.send(p, s, Msg::Notify);
        if precedes {
            k.send(p, s_pred, Msg::NotifyPred);
            let rpc = self.call(k, p, s, RpcKind::KeyRequest);
            let lo = self.vid(s_pred);
            k.send(p, s, Msg::KeyRequest { rpc, lo });
        }
    }

    /// A host came back: its peers rejoin with empty routing state through the join protocol.
    pub fn host_up<A: Message + Clone, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<Msg<A>, Timer<T>>,
        h: HostId,
    ) {
        self.view.host_up(h);
        for p in 0..self.peers() as PeerId {
            if k.net().host_of(p) == h {
                self.reset(p);
                k.set_timer(p, 0, Timer::Join);
                self.arm_periodic(k, p);
            }
        }
    }
}
