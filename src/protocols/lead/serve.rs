//! How a LEAD peer serves a range walk: from the t = 0 placement with replicas (and the
//! balancer's fresh virtual peers), or from FRM's holdings when the key set grows.

use super::frm::{self, Step};
use super::{Lead, LeadMsg, RING};
use crate::ids::PeerId;
use crate::ledger::QueryId;
use crate::overlay::app::app_bytes;
use crate::overlay::{Ctx, Ring};

impl Lead {
    /// Serves the range at `at` from `cursor`, then walks on or replies.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn serve(
        &mut self,
        ctx: &mut Ctx<Self>,
        at: PeerId,
        q: QueryId,
        cursor: u64,
        end: u64,
        returned: u64,
        origin: PeerId,
        hops: u16,
    ) {
        if let Some(w) = &mut self.load {
            w.served(at);
        }
        if self.frm.is_some() {
            return self.serve_frm(ctx, at, q, cursor, end, returned, origin, hops);
        }
        if let Some(pred) = self.redirect(ctx, at, cursor) {
            let msg = LeadMsg::Walk {
                query: q,
                cursor,
                end,
                returned,
                origin,
                hops: hops.saturating_add(1),
            };
            ctx.send(at, pred, msg, Some(q));
            return;
        }
        let (upto, held) = self.held_from(ctx.ring(RING), at, q, cursor as usize, end as usize);
        let returned = returned + held;
        if upto as u64 >= end {
            return self.answer(ctx, at, q, returned, origin, hops);
        }
        let msg = LeadMsg::Walk {
            query: q,
            cursor: upto as u64,
            end,
            returned,
            origin,
            hops: hops.saturating_add(1),
        };
        // No successor known: the walk stops here and the origin's deadline fails the query.
        let _ = ctx.walk(RING, at, msg, Some(q));
    }

    /// The last peer of a walk returns the whole result to the origin.
    fn answer(
        &mut self,
        ctx: &mut Ctx<Self>,
        at: PeerId,
        q: QueryId,
        returned: u64,
        origin: PeerId,
        hops: u16,
    ) {
        let per_key = 8 + u64::from(self.value_bytes);
        let bytes = (u64::from(app_bytes(16)) + returned * per_key).min(u64::from(u32::MAX)) as u32;
        let msg = LeadMsg::Result {
            query: q,
            returned,
            hops,
            bytes,
        };
        if at == origin {
            self.on_result(ctx, msg);
        } else {
            ctx.send(at, origin, msg, Some(q));
        }
    }

    /// A walk step on FRM's holdings: `at` serves what it holds (or replicates for a crashed
    /// holder) and walks on, or forwards the walk towards the holder of the cursor's key (a
    /// query that reached a peer that has not received its keys yet or has handed them on).
    #[allow(clippy::too_many_arguments)]
    fn serve_frm(
        &mut self,
        ctx: &mut Ctx<Self>,
        at: PeerId,
        q: QueryId,
        cursor: u64,
        end: u64,
        returned: u64,
        origin: PeerId,
        hops: u16,
    ) {
        let Some(f) = self.frm.as_ref() else {
            return;
        };
        let limit = self.limits[q as usize];
        let (cursor, returned, forward) = match f.step(ctx, at, cursor, end, limit) {
            Step::Served { upto, held } if upto >= end => {
                return self.answer(ctx, at, q, returned + held, origin, hops);
            }
            Step::Served { upto, held } => (upto, returned + held, true),
            Step::Move {
                cursor,
                held,
                forward,
            } => (cursor, returned + held, forward),
        };
        if hops >= frm::MAX_HOPS {
            return; // a routing loop: the origin's deadline fails the query
        }
        let msg = LeadMsg::Walk {
            query: q,
            cursor,
            end,
            returned,
            origin,
            hops: hops + 1,
        };
        if forward {
            let _ = ctx.walk(RING, at, msg, Some(q));
        } else {
            let pred = ctx.ring(RING).predecessor(at);
            if pred != crate::overlay::NONE {
                ctx.send(at, pred, msg, Some(q));
            }
        }
    }

    /// What peer `at` serves from key index `cursor` (up to `end`): the index where its part
    /// ends, and how many keys of that part it holds (its own arc on the t = 0 ring, and the arcs
    /// of skipped peers it holds replicas of).
    fn held_from(
        &self,
        ring: &Ring,
        at: PeerId,
        q: QueryId,
        cursor: usize,
        end: usize,
    ) -> (usize, u64) {
        let view = &ring.view;
        let all = view.all();
        if all.is_empty() || cursor >= end {
            return (cursor, 0);
        }
        let p = &self.place;
        let v = view.vid(at);
        let h = p.hash_at(cursor);
        let max_vid = all[all.len() - 1].0;
        let wraps = h > max_vid && all[0].1 == at;
        let upto = if h > v && !wraps {
            return (cursor, 0); // the keys lie beyond this peer: nothing here
        } else if wraps {
            end
        } else {
            p.first_above(cursor, v).min(end)
        };
        // Walk the t = 0 arcs from the owner of the cursor's key to `at`.
        let mut held = 0;
        let mut c = cursor;
        while c < upto {
            let hc = p.hash_at(c);
            let Some(owner) = self.data_owner(ring, hc) else {
                break;
            };
            let ov = view.vid(owner);
            let arc_end = if hc > ov {
                upto // the wrap arc runs to the end of the key array
            } else {
                p.first_above(c, ov).min(upto)
            };
            if owner == at || view.holds_replica(at, ov, self.replicas) {
                held += self.wanted(q, c, arc_end);
            }
            if arc_end <= c {
                break;
            }
            c = arc_end;
        }
        (upto, held)
    }

    /// The member that holds the data of ring position `id`: its owner in the view, except that
    /// a virtual peer the balancer added holds nothing until its successor knows it (until then
    /// the successor, which held the arc before, still serves it).
    fn data_owner(&self, ring: &Ring, id: u64) -> Option<PeerId> {
        let view = &ring.view;
        let mut owner = view.owner(id)?;
        if let Some(w) = &self.load {
            for _ in 0..view.all().len() {
                if !w.without_data(ring, owner) {
                    break;
                }
                owner = view.owner(view.vid(owner).wrapping_add(1))?;
            }
        }
        Some(owner)
    }

    /// Where `at` sends a range whose first key it neither owns nor replicates but its
    /// predecessor (joined, up) owns: a peer that just handed its arc's head to a new
    /// predecessor (a join or rejoin its routing neighbours have not learnt of yet) points the
    /// query back to it instead of answering without those keys. A new virtual peer that holds
    /// no data yet sends the range on to its successor.
    fn redirect(&self, ctx: &Ctx<Self>, at: PeerId, cursor: u64) -> Option<PeerId> {
        let ring = ctx.ring(RING);
        if self.load.as_ref().is_some_and(|w| w.without_data(ring, at)) {
            // A virtual peer still waiting for its arc's keys hands the range to its successor.
            return ring.successors(at).first().copied();
        }
        let owner = self.data_owner(ring, self.place.hash_at(cursor as usize))?;
        let pred = ring.predecessor(at);
        (owner != at
            && owner == pred
            && ring.is_joined(owner)
            && ctx.net().is_peer_up(owner)
            && !ring
                .view
                .holds_replica(at, ring.view.vid(owner), self.replicas))
        .then_some(owner)
    }
}
