//! The routing decision for one target at one peer: keep it (responsible), pass it on (to
//! the next hop of Chord's rule, or back to the predecessor when a forwarder's stale successor
//! handed it over), or give up (no live route). Shared by a routed list's split and by a
//! single target ([`super::routing`]).

use super::nexthop;
use super::routing::{Avoid, MAX_HOPS};
use super::{Ring, Target, NONE};
use crate::ids::PeerId;
use crate::overlay::id::{in_open_closed, RingId};

/// Where one target goes from the peer routing it.
pub(super) enum Step {
    /// The peer is responsible (or must keep it: see [`Here::step`]).
    Local,
    /// No live route at all.
    Unroutable,
    /// Forward to `next` (the responsible peer when `is_final`); `slot` is the candidate's
    /// index in the peer's next-hop table when one was used.
    Next {
        next: PeerId,
        is_final: bool,
        slot: Option<usize>,
    },
}

/// What a peer reads once to route a whole list: its arc and predecessor, the list's hops and
/// the peers it avoids.
pub(super) struct Here {
    pub(super) at: PeerId,
    pred: PeerId,
    /// (predecessor's VID, own VID] when the predecessor is known.
    arc: Option<(RingId, RingId)>,
    alone: bool,
    pub(super) hops: u16,
    pub(super) avoid: Avoid,
}

impl Here {
    pub(super) fn of(ring: &Ring, at: PeerId, hops: u16, avoid: Avoid) -> Here {
        let i = ring.ix(at);
        Here {
            at,
            pred: ring.pred[i],
            arc: ring.arc_of(i),
            alone: ring.alone[i],
            hops,
            avoid,
        }
    }

    /// The routing decision for target `t`, by scan or by the peer's reduced `table`.
    pub(super) fn step(&self, ring: &Ring, t: &Target, table: Option<&nexthop::HopTable>) -> Step {
        let responsible = match self.arc {
            Some((lo, hi)) => in_open_closed(t.id, lo, hi),
            None => self.alone,
        };
        let pred_gone = self.pred == NONE || self.avoid.contains(&self.pred);
        if responsible || (t.final_hop && (pred_gone || self.hops >= MAX_HOPS)) {
            return Step::Local;
        }
        // Handed over as "responsible" by a forwarder with a stale successor, but our own
        // predecessor shows the target lies before us: pass it back to the predecessor.
        // `slot`: the table's candidate index, which finds the bucket without a search.
        let (step, slot) = if t.final_hop {
            (Some((self.pred, true)), None)
        } else if let Some(table) = table {
            match table.next_hop_slot(t.id) {
                Some((next, is_final, slot)) => (Some((next, is_final)), Some(slot)),
                None => (None, None),
            }
        } else {
            (ring.next_hop_avoiding(self.at, t.id, &self.avoid), None)
        };
        match step.filter(|_| self.hops < MAX_HOPS) {
            None => Step::Unroutable,
            Some((next, is_final)) => Step::Next {
                next,
                is_final,
                slot,
            },
        }
    }
}
