//! Invariant checks against the global view (tests and `leadsim run --check`).

use super::chord::{Ring, NONE};
use serde::Serialize;

/// How far the peers' routing state is from the truth.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RingReport {
    /// Live peers.
    pub live: usize,
    /// Live peers that have not completed a join.
    pub unjoined: usize,
    /// Live peers whose first successor is not the true live successor.
    pub wrong_successor: usize,
    /// Live peers whose predecessor is not the true live predecessor.
    pub wrong_predecessor: usize,
    /// Live peers whose successor list contains a dead peer.
    pub dead_in_successor_list: usize,
}

impl RingReport {
    /// True when every live peer is joined and has the true successor and predecessor.
    pub fn consistent(&self) -> bool {
        self.unjoined == 0 && self.wrong_successor == 0 && self.wrong_predecessor == 0
    }
}

/// Compares every live peer's successor and predecessor with the global view.
pub fn check_ring(ring: &Ring) -> RingReport {
    let mut r = RingReport {
        live: ring.view.live().len(),
        ..Default::default()
    };
    let mut truth = Vec::new();
    let live: Vec<_> = ring.view.live().iter().map(|&(_, p)| p).collect();
    for &p in &live {
        if !ring.is_joined(p) {
            r.unjoined += 1;
            continue;
        }
        ring.view.live_successors_of(p, 1, &mut truth);
        let want = truth.first().copied();
        if want.is_some() && ring.successors(p).first().copied() != want {
            r.wrong_successor += 1;
        }
        let pred = ring.predecessor(p);
        let want_pred = ring.view.live_predecessor_of(p);
        if want_pred.is_some() && Some(pred) != want_pred {
            r.wrong_predecessor += 1;
        }
        if ring
            .successors(p)
            .iter()
            .any(|&q| q == NONE || ring.view.live().binary_search(&(ring.vid(q), q)).is_err())
        {
            r.dead_in_successor_list += 1;
        }
    }
    r
}
