//! Cache hints: what a ring's handler of the next event will read, loaded while the current
//! event runs (see [`crate::sim::Protocol::prefetch_message`]). Hints never change a result.

use super::Ring;
use crate::engine::prefetch;
use crate::ids::PeerId;
use crate::overlay::wire::{RingMsg, RingTimer, Targets};

/// Rings with more members than this also hint the per-member scalars a hop reads (at 4,900
/// members those arrays are a few KB and always cached, and the hints only cost instructions).
const SCALAR_HINTS_ABOVE: usize = 1 << 15;

impl Ring {
    /// `p`'s finger row and its whole successor row, or `None` when `p` never was a member of
    /// this ring. Found without reading any per-member flag (on a full ring, without any load
    /// at all): a hint that stalled on its own cache miss would cost what it hides.
    #[inline(always)]
    fn rows(&self, p: PeerId) -> Option<(&[PeerId], &[PeerId])> {
        let i = self.view.ix_hint(p)?;
        let s = self.timing.successors;
        // The flags every handler checks first (member? joined?).
        self.view.prefetch_presence(i);
        if let Some(j) = self.joined.get(i) {
            prefetch(j);
        }
        if self.view.slots() > SCALAR_HINTS_ABOVE {
            // The scalars a hop reads before its scan (own VID, predecessor and its VID,
            // alone, successor count), each in its own per-member array: a miss of
            // its own on a large ring, already cached on a small one.
            self.view.prefetch_vid(i);
            if let Some(p) = self.pred.get(i) {
                prefetch(p);
            }
            if let Some(v) = self.pred_vid.get(i) {
                prefetch(v);
            }
            if let Some(a) = self.alone.get(i) {
                prefetch(a);
            }
            if let Some(n) = self.succ_len.get(i) {
                prefetch(n);
            }
        }
        Some((self.finger.get_row(i)?, self.succ.get(i * s..(i + 1) * s)?))
    }

    /// Starts loading what `to`'s handler of `m` will read: the routed list and the
    /// forwarder's RPC (its acknowledgement is settled on arrival), the peer's fingers for
    /// routing and lookup results, its successor row for maintenance.
    #[inline]
    pub fn prefetch_message(&self, to: PeerId, m: &RingMsg) {
        let Some((fingers, succs)) = self.rows(to) else {
            return;
        };
        match m {
            RingMsg::Route { targets, rpc, .. } => {
                if let Targets::List(list) = targets {
                    if let Some(t) = self.lists.get(*list).and_then(|v| v.first()) {
                        prefetch(t);
                    }
                }
                self.rpcs.prefetch(*rpc);
                prefetch(fingers);
                prefetch(succs);
            }
            RingMsg::Found { .. } => prefetch(fingers),
            RingMsg::Succs { rpc, list, .. } => {
                self.rpcs.prefetch(*rpc);
                self.succ_lists.prefetch(*list);
                prefetch(succs);
            }
            RingMsg::GetSuccs { rpc } | RingMsg::Ping { rpc } | RingMsg::Pong { rpc } => {
                self.rpcs.prefetch(*rpc);
                prefetch(succs);
            }
            _ => prefetch(succs),
        }
    }

    /// The same hint for a ring timer of `p`: its successor row (stabilisation reads it) and
    /// fingers (a finger repair routes from them); an RPC timeout's record.
    #[inline]
    pub fn prefetch_timer(&self, p: PeerId, t: &RingTimer) {
        let Some((fingers, succs)) = self.rows(p) else {
            return;
        };
        match t {
            RingTimer::Stabilize => prefetch(succs),
            RingTimer::FixFinger => {
                prefetch(fingers);
                prefetch(succs);
            }
            RingTimer::Rpc(rpc) => self.rpcs.prefetch(*rpc),
            RingTimer::Join | RingTimer::JoinDeadline(_) => {}
        }
    }
}
