//! Keeping what each member's routing derives from its table current as the table changes:
//! the next-hop [`Shortcuts`] (from its fingers and successors) and its predecessor's VID; and
//! checking that they are (audits for tests).

use super::nexthop::{self, Shortcuts};
use super::{Ring, FINGERS, NONE};
use crate::ids::PeerId;
use crate::overlay::id::RingId;

impl Ring {
    /// Sets member `i`'s predecessor (or [`NONE`]) and the VID kept beside it.
    pub(super) fn set_pred(&mut self, i: usize, p: PeerId) {
        self.pred[i] = p;
        self.pred_vid[i] = if p == NONE { 0 } else { self.vid(p) };
    }

    /// Member `i`'s arc, (predecessor's VID, own VID], when its predecessor is known. The
    /// predecessor's VID is the one kept beside it, except on a ring whose members move (a
    /// moved predecessor's VID changes after it was kept).
    #[inline(always)]
    pub(super) fn arc_of(&self, i: usize) -> Option<(RingId, RingId)> {
        let pred = self.pred[i];
        if pred == NONE {
            return None;
        }
        let lo = if self.moves {
            self.vid(pred)
        } else {
            self.pred_vid[i]
        };
        Some((lo, self.view.vid_at(i)))
    }

    /// Checks that every member's kept predecessor VID is its predecessor's VID (on a ring
    /// whose members do not move), naming the first member where it is not.
    pub fn audit_pred_vids(&self) -> Result<(), String> {
        if self.moves {
            return Ok(());
        }
        for i in 0..self.view.slots() {
            let pred = self.pred[i];
            if pred != NONE && self.pred_vid[i] != self.vid(pred) {
                return Err(format!(
                    "ring {}: member {} (peer {}) keeps VID {} for predecessor {pred}, whose VID is {}",
                    self.id,
                    i,
                    self.view.member(i),
                    self.pred_vid[i],
                    self.vid(pred)
                ));
            }
        }
        Ok(())
    }

    /// Updates finger `fi`'s early bit (member index x [`FINGERS`] + finger) after it changed.
    pub(super) fn note_finger(&mut self, fi: usize) {
        let (i, f) = (fi / FINGERS, fi % FINGERS);
        let (me, p) = (self.view.member(i), self.finger[fi]);
        let early = p != NONE && p != me && nexthop::is_early(self.view.vid_at(i), f, self.vid(p));
        let cuts = self.finger.cuts_mut(i);
        cuts.early = cuts.early & !(1 << f) | u64::from(early) << f;
    }

    /// Recomputes member `i`'s early bits after its whole finger row was written.
    pub(super) fn note_fingers(&mut self, i: usize) {
        self.finger.cuts_mut(i).early = self.early_mask_of(i);
    }

    /// Recomputes member `i`'s successor reach after its successor list changed.
    pub(super) fn note_successors(&mut self, i: usize) {
        self.finger.cuts_mut(i).succ_reach = self.succ_reach_of(i);
    }

    fn early_mask_of(&self, i: usize) -> u64 {
        let me = self.view.member(i);
        let vid = |c| self.vid(c);
        nexthop::early_mask(me, self.view.vid_at(i), self.finger_row(i), vid)
    }

    fn succ_reach_of(&self, i: usize) -> u64 {
        nexthop::succ_reach(self.view.vid_at(i), self.succ_row(i), |c| self.vid(c))
    }

    /// Checks that every member's shortcuts match its fingers and successors (exact early
    /// bits; a successor reach no nearer than its farthest successor), naming the first member
    /// that does not. Returns how many early fingers there are, for tests that must see some.
    /// A ring whose members move does not use its shortcuts, and passes.
    pub fn audit_shortcuts(&self) -> Result<u64, String> {
        if !self.scan_cuts {
            return Ok(0);
        }
        let mut early = 0;
        for i in 0..self.view.slots() {
            let want = Shortcuts {
                early: self.early_mask_of(i),
                succ_reach: self.succ_reach_of(i),
            };
            let have = self.finger.cuts(i);
            if have.early != want.early || have.succ_reach < want.succ_reach {
                return Err(format!(
                    "ring {}: member {} (peer {}) has shortcuts {have:?}, its table needs {want:?}",
                    self.id,
                    i,
                    self.view.member(i)
                ));
            }
            early += u64::from(want.early.count_ones());
        }
        Ok(early)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ChordConfig, Ring, FINGERS, NONE};
    use crate::overlay::view::GlobalView;
    use crate::rng::SimRng;

    /// Fingers planted before their start (as a lookup answered by a lagging peer leaves them)
    /// are noted, audited, and routed around exactly as the plain scan does.
    #[test]
    fn early_fingers_are_noted_and_routed_as_by_the_full_scan() {
        let timing = ChordConfig::default().timing().unwrap();
        let mut ring = Ring::new(0, GlobalView::new(&[4; 50]), timing, 1, Box::new(|_, _| 0));
        ring.build_converged();
        assert_eq!(
            ring.audit_shortcuts(),
            Ok(0),
            "a converged ring has no early finger"
        );
        let members: Vec<_> = (0..ring.view.slots())
            .map(|i| ring.view.member(i))
            .collect();
        let mut rng = SimRng::from_seed(3);
        let mut planted = 0;
        for _ in 0..2_000 {
            let i = rng.below(members.len() as u64) as usize;
            let f = rng.below(FINGERS as u64) as usize;
            let p = match rng.below(8) {
                0 => NONE,
                _ => members[rng.below(members.len() as u64) as usize],
            };
            ring.set_finger(i * FINGERS + f, p);
            planted += 1;
        }
        let early = ring.audit_shortcuts().unwrap();
        assert!(early >= 20, "{early} early fingers after {planted} plants");
        // Routing with the shortcuts equals routing without them, for targets everywhere.
        let mut plain = Ring::new(0, GlobalView::new(&[4; 50]), timing, 1, Box::new(|_, _| 0));
        plain.scan_cuts = false;
        plain.finger.clone_from(&ring.finger);
        plain.succ.clone_from(&ring.succ);
        plain.succ_len.clone_from(&ring.succ_len);
        for _ in 0..20_000 {
            let at = members[rng.below(members.len() as u64) as usize];
            let t = rng.next_u64();
            assert_eq!(
                ring.next_hop(at, t),
                plain.next_hop(at, t),
                "at {at}, target {t}"
            );
        }
        // A wrong bit is caught and named.
        ring.finger.cuts_mut(0).early ^= 1 << 63;
        let err = ring.audit_shortcuts().unwrap_err();
        assert!(err.contains("member 0"), "{err}");
    }
}
