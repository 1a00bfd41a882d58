//! Invariant checks against the global view (tests and `leadsim run --check`).

use super::chord::{Ring, NONE};
use crate::ids::PeerId;
use crate::network::Network;
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
    /// Unjoined peers, wrong successors or wrong predecessors whose true neighbour is
    /// unreachable under the RPC timeout rule (its RTT is at least the timeout, so every RPC to
    /// it times out).
    pub unreachable: usize,
    /// One such pair: (peer, true neighbour, RTT in µs, timeout in µs).
    pub unreachable_example: Option<(PeerId, PeerId, u64, u64)>,
}

impl RingReport {
    /// True when every live peer is joined and has the true successor and predecessor.
    pub fn consistent(&self) -> bool {
        self.unjoined == 0 && self.wrong_successor == 0 && self.wrong_predecessor == 0
    }

    /// True when every wrong successor or predecessor is a pair the timeout rule makes
    /// unreachable (the protocol behaves as specified; the topology is the cause).
    pub fn explained_by_timeouts(&self) -> bool {
        let wrong = self.unjoined + self.wrong_successor + self.wrong_predecessor;
        wrong > 0 && self.unreachable == wrong
    }
}

/// Compares every live peer's successor and predecessor with the global view; a mismatch with
/// a true neighbour that RPCs cannot reach in time (RTT >= the RPC timeout) is also counted as
/// unreachable.
pub fn check_ring(ring: &Ring, net: &Network) -> RingReport {
    let mut r = RingReport {
        live: ring.view.live_len(),
        ..Default::default()
    };
    let mut truth = Vec::new();
    let live: Vec<_> = ring.view.live_iter().map(|(_, p)| p).collect();
    for &p in &live {
        ring.view.live_successors_of(p, 1, &mut truth);
        if !ring.is_joined(p) {
            r.unjoined += 1;
            // A joining peer that cannot reach its true successor in time never completes.
            if let Some(&w) = truth.first() {
                let rtt = net.rtt_peers(p, w);
                let timeout = ring.rpc_timeout(rtt);
                if rtt >= timeout {
                    r.unreachable += 1;
                    r.unreachable_example.get_or_insert((p, w, rtt, timeout));
                }
            }
            continue;
        }
        let unreachable = |r: &mut RingReport, q: PeerId| {
            let rtt = net.rtt_peers(p, q);
            let timeout = ring.rpc_timeout(rtt);
            if rtt >= timeout {
                r.unreachable += 1;
                r.unreachable_example.get_or_insert((p, q, rtt, timeout));
            }
        };
        let want = truth.first().copied();
        if let Some(w) = want.filter(|&w| ring.successors(p).first().copied() != Some(w)) {
            r.wrong_successor += 1;
            unreachable(&mut r, w);
        }
        let pred = ring.predecessor(p);
        let want_pred = ring.view.live_predecessor_of(p);
        if let Some(w) = want_pred.filter(|&w| pred != w) {
            r.wrong_predecessor += 1;
            unreachable(&mut r, w);
        }
        if ring
            .successors(p)
            .iter()
            .any(|&q| q == NONE || !ring.view.is_live(ring.vid(q), q))
        {
            r.dead_in_successor_list += 1;
        }
    }
    r
}
