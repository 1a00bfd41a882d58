//! Members moving at run time: graceful leaves and members added (or put back at a new
//! position) while the ring runs, as the Shadow Balancer does, and the two leave notices.

use super::{OverlaySim, Ring, Rpc, RpcKind, MAX_SUCCESSORS, NONE};
use crate::ids::{HostId, PeerId};
use crate::overlay::arena::Handle;
use crate::overlay::id::RingId;
use crate::overlay::wire::{RingMsg, RingTimer};

impl Ring {
    /// Graceful leave of member `p`: it hands the keys of its arc to its successor (one transfer
    /// message with their byte size), tells its predecessor who its new successor is, and leaves
    /// the ring (routing state reset, periodic timers stop). Every message is counted. Peers
    /// whose fingers still point at it learn by timeout, as after a crash.
    pub fn leave(&mut self, k: &mut OverlaySim, p: PeerId) {
        self.check_moves_declared();
        if !self.view.is_member(p) {
            return;
        }
        let i = self.ix(p);
        let succ = self.successors(p).first().copied();
        let pred = self.pred[i];
        if self.joined[i] {
            if let Some(s) = succ {
                let lo = if pred != NONE {
                    self.vid(pred)
                } else {
                    self.vid(s)
                };
                let keys = (self.arc_keys)(lo, self.vid(p));
                let per_key = 8 + u64::from(self.timing.value_bytes);
                let bytes = (keys * per_key).min(u64::from(u32::MAX - 64)) as u32;
                self.send(k, p, s, RingMsg::LeaveToSucc { pred, bytes });
                if pred != NONE && pred != s {
                    self.send(k, p, pred, RingMsg::LeaveToPred { succ: s });
                }
            }
        }
        self.stats.leaves += 1;
        for h in self.periodic[i] {
            k.cancel(h);
        }
        self.reset(p); // (notes the routing change)
        self.view.remove(p);
        let dead: Vec<Handle> = (self.rpcs.iter())
            .filter(|(_, r)| r.from == p)
            .map(|(handle, _)| handle)
            .collect();
        self.drop_rpcs(dead);
    }

    /// Adds network peer `p` (on host `h`) to the ring at position `id`, or puts a member that
    /// left back at a new position. If its host is up it joins at once through the join protocol
    /// (and requests its keys from its successor); otherwise it joins when the host comes back.
    pub fn add_member(&mut self, k: &mut OverlaySim, p: PeerId, h: HostId, id: RingId, up: bool) {
        self.check_moves_declared();
        self.view.add(p, h, id, up);
        self.grow();
        self.reset(p); // (notes the routing change: p's VID is new)
        if up {
            self.set_timer(k, p, 0, RingTimer::Join);
            self.arm_periodic(k, p);
        }
    }

    /// A member leaves or is added: the ring must have been told before the run
    /// ([`Ring::expect_moves`]), or some of its predecessor checks may have been settled as
    /// answered by a peer that left before they arrived.
    fn check_moves_declared(&self) {
        assert!(
            self.moves,
            "ring {}: a member left or was added, but the ring was not told before the run that \
             its members move (a system that moves members calls Ring::expect_moves in its \
             add_system)",
            self.id
        );
    }

    /// Drops outstanding RPCs (their callers are gone), releasing the lists they held.
    pub(super) fn drop_rpcs(&mut self, handles: Vec<Handle>) {
        for handle in handles {
            if let Some(Rpc {
                kind: RpcKind::Hop {
                    targets: Some(l), ..
                },
                ..
            }) = self.rpcs.remove(handle)
            {
                self.release(l);
            }
        }
    }

    pub(super) fn on_leave_to_pred(&mut self, to: PeerId, from: PeerId, succ: PeerId) {
        if !self.is_joined(to) {
            return;
        }
        let mut list = [NONE; MAX_SUCCESSORS + 1];
        list[0] = succ;
        let mut n = 1;
        for &q in self.successors(to) {
            if q != from && n < list.len() {
                list[n] = q;
                n += 1;
            }
        }
        self.forget(to, from);
        self.set_successors(to, &list[..n]);
    }

    pub(super) fn on_leave_to_succ(&mut self, to: PeerId, from: PeerId, pred: PeerId) {
        if !self.is_joined(to) {
            return;
        }
        let i = self.ix(to);
        let was_pred = self.pred[i] == from;
        self.forget(to, from);
        if was_pred && pred != to {
            self.set_pred(i, pred);
        }
    }
}
