//! FRM's update rounds: a flagged peer with a quorum of ready neighbours becomes a transient
//! coordinator, collects their leaf segments by RPC, averages them into a patch and publishes it.

use super::model::{aggregate, Segment};
use super::{Frm, Round};
use crate::ids::PeerId;
use crate::overlay::{Ctx, Failover};
use crate::protocols::lead::{Lead, LeadMsg, LeadTimer, RING};

impl Frm {
    /// The neighbours whose flags a peer sees: its successor list and as many predecessors.
    fn neighbours(&self, ctx: &Ctx<Lead>, k: usize, up: &[bool]) -> Vec<usize> {
        let me = self.peer_of[k];
        let succ = ctx.ring(RING).successors(me);
        let mut out: Vec<usize> = succ.iter().map(|&q| self.rank(q)).collect();
        let p = self.peer_of.len();
        let mut j = k;
        let mut taken = 0;
        for _ in 0..p {
            if taken >= succ.len() {
                break;
            }
            j = (j + p - 1) % p;
            if j == k {
                break;
            }
            if up[j] {
                out.push(j);
                taken += 1;
            }
        }
        out.sort_unstable();
        out.dedup();
        out.retain(|&j| j != k);
        out
    }

    pub(super) fn maybe_coordinate(&mut self, ctx: &mut Ctx<Lead>, k: usize, up: &[bool]) {
        let nb = self.neighbours(ctx, k, up);
        if nb.is_empty() {
            return;
        }
        // Ready: flagged, or updated since this peer's last update (that neighbour reached the
        // threshold too; its round lowered its flag).
        let ready = nb
            .iter()
            .filter(|&&j| self.flag[j] || self.epoch[j] > self.epoch[k] || self.empty[j])
            .count();
        if (ready as f64) < self.cfg.quorum * nb.len() as f64 {
            return;
        }
        let flagged: Vec<usize> = nb.iter().copied().filter(|&j| self.flag[j]).collect();
        let r = self.rounds.len() as u32;
        self.busy[k] = r + 1;
        self.flag[k] = false;
        let seg = self.segment(k);
        let me = self.peer_of[k];
        let mut round = Round {
            coord: k,
            members: vec![k],
            segs: vec![seg],
            pending: 0,
            done: false,
            msgs: 0,
            bytes: 0,
        };
        for &j in &flagged {
            round.pending += 1;
            // Request and acknowledgement.
            round.msgs += 2;
            round.bytes += 2 * u64::from(crate::overlay::app::app_bytes(4));
            ctx.call(
                RING,
                me,
                self.peer_of[j],
                LeadMsg::Collect { round: r },
                None,
                Failover::None,
            );
        }
        self.rounds.push(round);
        ctx.set_timer(me, 4 * self.stabilize, LeadTimer::FrmRoundEnd(r));
    }

    /// Rank `k`'s contribution to a round.
    fn segment(&self, k: usize) -> Segment {
        let held = self.store.held(k);
        let (median_pos, median_rank) = if held > 0 {
            let r = held / 2;
            let i = self.store.local_select(k, r);
            (
                self.versions.position(k, self.keys.keys()[i as usize]),
                r as f64,
            )
        } else {
            (0.0, 0.0)
        };
        Segment {
            rank: k,
            key_span: self.key_span(k, held),
            holds: self.store.parts(k)[0],
            sums: self.shadow[k].leaves.clone(),
            median_pos,
            median_rank,
            held,
            window_end: self.versions.ring_to_position(self.vids[k]),
        }
    }

    /// Positions (rank `k`'s view) of its lowest and highest present key.
    fn key_span(&self, k: usize, held: u64) -> (f64, f64) {
        if held == 0 {
            return (0.0, 0.0);
        }
        let pos = |r: u64| {
            let i = self.store.local_select(k, r);
            self.versions.position(k, self.keys.keys()[i as usize])
        };
        (pos(0), pos(held - 1))
    }

    /// A coordinator's `collect` reached `to`: it joins the round or declines.
    pub fn on_collect(&mut self, ctx: &mut Ctx<Lead>, from: PeerId, to: PeerId, r: u32) {
        let k = self.rank(to);
        let accept = self.busy[k] == 0 && self.flag[k];
        let mut bytes = u64::from(crate::overlay::app::app_bytes(4));
        if accept {
            self.busy[k] = r + 1;
            self.flag[k] = false;
            let seg = self.segment(k);
            bytes += seg.bytes();
            let round = &mut self.rounds[r as usize];
            round.segs.push(seg);
            round.members.push(k);
        }
        let round = &mut self.rounds[r as usize];
        round.msgs += 1;
        round.bytes += bytes;
        ctx.send(
            to,
            from,
            LeadMsg::Segments {
                round: r,
                bytes: bytes.min(u64::from(u32::MAX)) as u32,
            },
            None,
        );
    }

    /// A reply reached the coordinator.
    pub fn on_segments(&mut self, ctx: &mut Ctx<Lead>, r: u32) {
        let round = &mut self.rounds[r as usize];
        round.pending = round.pending.saturating_sub(1);
        if round.pending == 0 {
            self.finish(ctx, r);
        }
    }

    /// A `collect` was not acknowledged.
    pub fn on_collect_failed(&mut self, ctx: &mut Ctx<Lead>, r: u32) {
        self.on_segments(ctx, r);
    }

    /// The round's coordinator averages what it has and publishes the patch.
    pub fn finish(&mut self, ctx: &mut Ctx<Lead>, r: u32) {
        let round = &mut self.rounds[r as usize];
        if round.done {
            return;
        }
        round.done = true;
        let segs = std::mem::take(&mut round.segs);
        let members = round.members.clone();
        let coord = round.coord;
        let patch = aggregate(&segs, self.cfg.scale, &self.table);
        let bytes = patch.bytes();
        let id = self.versions.publish(patch);
        self.last_publish = Some(ctx.now());
        for &m in &members {
            self.busy[m] = 0;
            self.inserted[m] = 0;
            self.epoch[m] += 1;
        }
        self.versions.adopt(coord, id);
        let cp = self.peer_of[coord];
        for &m in &members[1..] {
            let round = &mut self.rounds[r as usize];
            round.msgs += 1;
            round.bytes += bytes + u64::from(crate::overlay::app::app_bytes(0));
            self.send_patches(ctx, cp, self.peer_of[m], vec![id], bytes);
        }
    }
}
