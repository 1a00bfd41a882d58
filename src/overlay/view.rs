//! The global view: ground truth that no peer has, used to build a converged ring, to check
//! invariants, to pick bootstrap peers, and to place data.

use super::id::{host_address, peer_hash, vnode_port, RingId};
use crate::ids::{HostId, PeerId};

/// Every peer's identifier, and the sorted ring of all peers and of the live ones.
pub struct GlobalView {
    vid: Vec<RingId>,
    host: Vec<HostId>,
    /// All peers sorted by VID (the t = 0 ring; data placement).
    all: Vec<(RingId, PeerId)>,
    /// Live peers sorted by VID.
    live: Vec<(RingId, PeerId)>,
}

impl GlobalView {
    /// Identifiers for peers laid out as in [`crate::network::Network`]: host `h` runs
    /// `vnodes[h]` consecutive peers, vnode `v` listening on port `4000 + v`.
    pub fn new(vnodes: &[u32]) -> Self {
        let mut vid = Vec::new();
        let mut host = Vec::new();
        for (h, &n) in vnodes.iter().enumerate() {
            let addr = host_address(h as u32);
            for v in 0..n {
                vid.push(peer_hash(&addr, vnode_port(v)));
                host.push(h as HostId);
            }
        }
        let mut all: Vec<(RingId, PeerId)> = vid
            .iter()
            .enumerate()
            .map(|(p, &v)| (v, p as PeerId))
            .collect();
        all.sort_unstable();
        GlobalView {
            vid,
            host,
            live: all.clone(),
            all,
        }
    }

    /// A peer's VID.
    #[inline]
    pub fn vid(&self, p: PeerId) -> RingId {
        self.vid[p as usize]
    }

    /// Number of peers.
    pub fn peers(&self) -> usize {
        self.vid.len()
    }

    /// Live peers, sorted by VID.
    pub fn live(&self) -> &[(RingId, PeerId)] {
        &self.live
    }

    /// All peers (the t = 0 ring), sorted by VID.
    pub fn all(&self) -> &[(RingId, PeerId)] {
        &self.all
    }

    /// Marks every peer of a host down (removes them from the live ring).
    pub fn host_down(&mut self, h: HostId) {
        let host = &self.host;
        self.live.retain(|&(_, p)| host[p as usize] != h);
    }

    /// Marks every peer of a host up again.
    pub fn host_up(&mut self, h: HostId) {
        for (p, &hh) in self.host.iter().enumerate() {
            if hh == h {
                let e = (self.vid[p], p as PeerId);
                if let Err(i) = self.live.binary_search(&e) {
                    self.live.insert(i, e);
                }
            }
        }
    }

    /// Index in `ring` of the first peer whose VID is >= `id` (wrapping).
    fn successor_index(ring: &[(RingId, PeerId)], id: RingId) -> usize {
        let i = ring.partition_point(|&(v, _)| v < id);
        if i == ring.len() {
            0
        } else {
            i
        }
    }

    /// The live peer responsible for `id` (the first live VID >= id, wrapping).
    pub fn live_successor(&self, id: RingId) -> Option<PeerId> {
        if self.live.is_empty() {
            return None;
        }
        Some(self.live[Self::successor_index(&self.live, id)].1)
    }

    /// The `k` live peers following peer `p`'s VID (excluding `p`), for successor lists.
    pub fn live_successors_of(&self, p: PeerId, k: usize, out: &mut Vec<PeerId>) {
        out.clear();
        if self.live.is_empty() {
            return;
        }
        let start = Self::successor_index(&self.live, self.vid(p).wrapping_add(1));
        for j in 0..self.live.len().min(k + 1) {
            let q = self.live[(start + j) % self.live.len()].1;
            if q != p && out.len() < k {
                out.push(q);
            }
        }
    }

    /// The live predecessor of peer `p` (excluding `p`).
    pub fn live_predecessor_of(&self, p: PeerId) -> Option<PeerId> {
        let n = self.live.len();
        if n == 0 || (n == 1 && self.live[0].1 == p) {
            return None;
        }
        let i = self.live.partition_point(|&(v, _)| v < self.vid(p));
        let j = (i + n - 1) % n;
        Some(self.live[j].1)
    }

    /// Whether `p` is in the t = 0 replica set of `id`: the first `replicas` peers clockwise
    /// from `id` on the full ring, taking at most one peer per host.
    pub fn holds_replica(&self, p: PeerId, id: RingId, replicas: usize) -> bool {
        let n = self.all.len();
        let start = Self::successor_index(&self.all, id);
        let mut hosts: [HostId; 8] = [HostId::MAX; 8];
        let mut found = 0;
        for j in 0..n {
            let q = self.all[(start + j) % n].1;
            let h = self.host[q as usize];
            if hosts[..found.min(8)].contains(&h) {
                continue;
            }
            if q == p {
                return true;
            }
            if found < 8 {
                hosts[found] = h;
            }
            found += 1;
            if found >= replicas {
                return false;
            }
        }
        false
    }
}
