//! The state of one iterative Kademlia lookup at its origin: the shortlist of candidates ordered
//! by XOR distance to the target, each unasked, asked (an RPC in flight), answered or silent.
//!
//! The origin keeps `alpha` requests in flight to the closest unasked candidates among the `k`
//! closest that have not failed; a node lookup ends when those `k` have all answered (nothing
//! closer is left to ask), a value lookup as soon as one peer returns the value.

use super::id::Kid;
use crate::ids::PeerId;
use crate::ledger::QueryId;
use crate::overlay::arena::Handle;

/// What a lookup asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Find {
    /// FIND_NODE: the k closest peers.
    Node,
    /// FIND_VALUE: a value stored under the target (stops at the first holder).
    Value,
}

/// Why a lookup runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A key of data query `q`.
    Query(QueryId),
    /// A bucket refresh.
    Refresh,
    /// A (re)joining peer's lookup of its own id.
    Join,
}

/// A candidate's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not asked yet.
    New,
    /// Asked; the RPC is in flight.
    Asked(Handle),
    /// Answered.
    Done,
    /// Timed out.
    Failed,
}

/// One candidate of the shortlist.
#[derive(Clone, Copy, Debug)]
pub struct Cand {
    /// The peer.
    pub peer: PeerId,
    /// Its distance to the target.
    pub dist: Kid,
    /// Its state.
    pub state: State,
    /// Hops from the origin at which it was learnt (1 = from the origin's own table).
    pub hops: u8,
}

/// An iterative lookup in progress.
#[derive(Clone, Debug)]
pub struct Lookup {
    /// The peer running it.
    pub origin: PeerId,
    /// The origin host's incarnation when it started (replies to an older life are dropped).
    pub incarnation: u32,
    /// The id looked up.
    pub target: Kid,
    /// Node or value.
    pub find: Find,
    /// Why.
    pub purpose: Purpose,
    /// The shortlist, closest first.
    pub cands: Vec<Cand>,
    /// RPCs in flight.
    pub inflight: u32,
    /// The peer that returned the value, and at which hop.
    pub found: Option<(PeerId, u8)>,
}

impl Lookup {
    /// Adds `peer` at `dist` learnt at `hops` unless already listed; the list keeps the `cap`
    /// closest (farther ones could never be asked before nearer ones).
    pub fn add(&mut self, peer: PeerId, dist: Kid, hops: u8, cap: usize) {
        let i = self.cands.partition_point(|c| c.dist < dist);
        if self.cands.get(i).is_some_and(|c| c.peer == peer) {
            return;
        }
        if i >= cap {
            return;
        }
        self.cands.insert(
            i,
            Cand {
                peer,
                dist,
                state: State::New,
                hops,
            },
        );
        if self.cands.len() > cap {
            // Never drop an asked candidate: its RPC handle lives in its state.
            if let Some(j) = self
                .cands
                .iter()
                .rposition(|c| !matches!(c.state, State::Asked(_)))
                .filter(|&j| j >= cap)
            {
                self.cands.remove(j);
            }
        }
    }

    /// The next candidate to ask: the closest unasked one among the `k` closest that have not
    /// failed.
    pub fn next(&self, k: usize) -> Option<usize> {
        self.cands
            .iter()
            .enumerate()
            .filter(|(_, c)| c.state != State::Failed)
            .take(k)
            .find(|(_, c)| c.state == State::New)
            .map(|(i, _)| i)
    }

    /// Position of `peer` in the shortlist.
    pub fn position(&self, peer: PeerId) -> Option<usize> {
        self.cands.iter().position(|c| c.peer == peer)
    }

    /// Whether it is over: nothing in flight and nothing left to ask.
    pub fn exhausted(&self, k: usize) -> bool {
        self.inflight == 0 && self.next(k).is_none()
    }

    /// The at most `k` closest candidates that answered (a node lookup's result), closest first.
    pub fn result(&self, k: usize, out: &mut Vec<PeerId>) {
        out.clear();
        out.extend(
            self.cands
                .iter()
                .filter(|c| c.state == State::Done)
                .take(k)
                .map(|c| c.peer),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup() -> Lookup {
        Lookup {
            origin: 0,
            incarnation: 0,
            target: Kid::ZERO,
            find: Find::Node,
            purpose: Purpose::Refresh,
            cands: Vec::new(),
            inflight: 0,
            found: None,
        }
    }

    #[test]
    fn shortlist_stays_sorted_unique_and_capped() {
        let mut l = lookup();
        let ids: Vec<Kid> = (0..40u32).map(|i| Kid::sha1(&i.to_le_bytes())).collect();
        for (p, id) in ids.iter().enumerate() {
            l.add(p as PeerId, *id, 1, 8);
            l.add(p as PeerId, *id, 2, 8);
        }
        assert_eq!(l.cands.len(), 8);
        assert!(l.cands.windows(2).all(|w| w[0].dist < w[1].dist));
        let mut best: Vec<Kid> = ids.clone();
        best.sort();
        assert_eq!(l.cands[0].dist, best[0]);
        assert_eq!(l.cands[7].dist, best[7]);
        // Asking: the closest unasked among the k = 3 closest not failed.
        assert_eq!(l.next(3), Some(0));
        l.cands[0].state = State::Failed;
        l.cands[1].state = State::Done;
        assert_eq!(l.next(3), Some(2));
        l.cands[2].state = State::Done;
        l.cands[3].state = State::Done;
        assert_eq!(l.next(3), None, "the 3 closest alive have answered");
        assert!(l.exhausted(3));
        let mut out = Vec::new();
        l.result(3, &mut out);
        assert_eq!(out, vec![l.cands[1].peer, l.cands[2].peer, l.cands[3].peer]);
    }
}
