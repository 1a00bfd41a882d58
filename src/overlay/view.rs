//! The global view of one ring: ground truth that no peer has, used to build a converged ring, to
//! check invariants, to pick bootstrap peers, and to place data.
//!
//! A ring has *members*: network peers with a position (VID) on it. By default every network
//! peer is a member at its PeerHASH position; a protocol may choose other positions, build a ring
//! of a subset of the peers (MARQUES's inner rings), add members and remove them at run time.
//! Per-member state is indexed by a dense member index ([`GlobalView::ix`]).

use super::id::{host_address, peer_hash, vnode_port, RingId};
use crate::ids::{HostId, PeerId};

/// "Not a member".
const OUT: u32 = u32::MAX;

/// Every member's identifier, and the sorted ring of all members and of the live ones.
pub struct GlobalView {
    /// Member index of each network peer (`OUT` when not a member).
    index: Vec<u32>,
    /// Network peer of each member index.
    member: Vec<PeerId>,
    vid: Vec<RingId>,
    host: Vec<HostId>,
    /// Whether the member is currently on the ring (removed members keep their index).
    present: Vec<bool>,
    /// Member index == peer id for every member (the usual full ring): skip the index lookup.
    identity: bool,
    /// Present members sorted by VID (data placement, replica sets).
    all: Vec<(RingId, PeerId)>,
    /// Present members on live hosts, sorted by VID.
    live: Vec<(RingId, PeerId)>,
}

/// PeerHASH positions for peers laid out as in [`crate::network::Network`]: host `h` runs
/// `vnodes[h]` consecutive peers, vnode `v` listening on port `4000 + v`.
pub fn peer_hash_positions(vnodes: &[u32]) -> Vec<(PeerId, HostId, RingId)> {
    slot_positions(vnodes, vnodes)
}

/// PeerHASH positions of the first `vnodes[h]` of host `h`'s `slots[h]` consecutive network
/// peers (the spare slots are peers a balancer may add later).
pub fn slot_positions(vnodes: &[u32], slots: &[u32]) -> Vec<(PeerId, HostId, RingId)> {
    let mut out = Vec::new();
    let mut first: PeerId = 0;
    for (h, (&n, &s)) in vnodes.iter().zip(slots).enumerate() {
        let addr = host_address(h as u32);
        for v in 0..n.min(s) {
            out.push((first + v, h as HostId, peer_hash(&addr, vnode_port(v))));
        }
        first += s;
    }
    out
}

impl GlobalView {
    /// Every network peer a member at its PeerHASH position.
    pub fn new(vnodes: &[u32]) -> Self {
        Self::from_members(&peer_hash_positions(vnodes))
    }

    /// The first `vnodes[h]` of each host's `slots[h]` network peers as members.
    pub fn with_slots(vnodes: &[u32], slots: &[u32]) -> Self {
        Self::from_members(&slot_positions(vnodes, slots))
    }

    /// A ring of the given members: (network peer, its host, its position).
    pub fn from_members(members: &[(PeerId, HostId, RingId)]) -> Self {
        let n_peers = members.iter().map(|m| m.0 as usize + 1).max().unwrap_or(0);
        let mut v = GlobalView {
            index: vec![OUT; n_peers],
            member: Vec::with_capacity(members.len()),
            vid: Vec::with_capacity(members.len()),
            host: Vec::with_capacity(members.len()),
            present: Vec::with_capacity(members.len()),
            all: Vec::with_capacity(members.len()),
            live: Vec::new(),
            identity: true,
        };
        for &(p, h, id) in members {
            v.push_member(p, h, id);
            v.all.push((id, p));
        }
        v.all.sort_unstable();
        v.live = v.all.clone();
        v
    }

    fn push_member(&mut self, p: PeerId, h: HostId, id: RingId) -> usize {
        if self.index.len() <= p as usize {
            self.index.resize(p as usize + 1, OUT);
        }
        assert_eq!(self.index[p as usize], OUT, "peer {p} is a member already");
        self.identity &= p as usize == self.member.len();
        self.index[p as usize] = self.member.len() as u32;
        self.member.push(p);
        self.vid.push(id);
        self.host.push(h);
        self.present.push(true);
        self.member.len() - 1
    }

    /// The member index of network peer `p` (panics if it never was a member: a protocol bug).
    #[inline]
    pub fn ix(&self, p: PeerId) -> usize {
        if self.identity {
            return p as usize;
        }
        let i = self.index[p as usize];
        debug_assert!(i != OUT, "peer {p} is not a member of this ring");
        i as usize
    }

    /// Whether network peer `p` is currently on this ring.
    #[inline]
    pub fn is_member(&self, p: PeerId) -> bool {
        self.index
            .get(p as usize)
            .is_some_and(|&i| i != OUT && self.present[i as usize])
    }

    /// Number of member slots (present or removed), the size of per-member arrays.
    pub fn slots(&self) -> usize {
        self.member.len()
    }

    /// The network peer of member index `i`.
    pub fn member(&self, i: usize) -> PeerId {
        self.member[i]
    }

    /// A member's VID.
    #[inline]
    pub fn vid(&self, p: PeerId) -> RingId {
        self.vid[self.ix(p)]
    }

    /// A member's host.
    #[inline]
    pub fn host(&self, p: PeerId) -> HostId {
        self.host[self.ix(p)]
    }

    /// Number of present members.
    pub fn peers(&self) -> usize {
        self.all.len()
    }

    /// Live members, sorted by VID.
    pub fn live(&self) -> &[(RingId, PeerId)] {
        &self.live
    }

    /// All present members (live or not), sorted by VID.
    pub fn all(&self) -> &[(RingId, PeerId)] {
        &self.all
    }

    /// Adds network peer `p` (on host `h`, up when `live`) at position `id`, or puts a removed
    /// member back at a new position. Returns its member index.
    pub fn add(&mut self, p: PeerId, h: HostId, id: RingId, live: bool) -> usize {
        let i = match self.index.get(p as usize).copied() {
            Some(i) if i != OUT => {
                let i = i as usize;
                assert!(!self.present[i], "peer {p} is on the ring already");
                self.present[i] = true;
                self.vid[i] = id;
                i
            }
            _ => self.push_member(p, h, id),
        };
        let e = (id, p);
        if let Err(at) = self.all.binary_search(&e) {
            self.all.insert(at, e);
        }
        if live {
            if let Err(at) = self.live.binary_search(&e) {
                self.live.insert(at, e);
            }
        }
        i
    }

    /// Removes member `p` from the ring (graceful leave or a protocol's decision).
    pub fn remove(&mut self, p: PeerId) {
        let i = self.ix(p);
        if !self.present[i] {
            return;
        }
        self.present[i] = false;
        let e = (self.vid[i], p);
        if let Ok(at) = self.all.binary_search(&e) {
            self.all.remove(at);
        }
        if let Ok(at) = self.live.binary_search(&e) {
            self.live.remove(at);
        }
    }

    /// Marks every member of a host down (removes them from the live ring).
    pub fn host_down(&mut self, h: HostId) {
        let (host, index) = (&self.host, &self.index);
        self.live
            .retain(|&(_, p)| host[index[p as usize] as usize] != h);
    }

    /// Marks every present member of a host up again.
    pub fn host_up(&mut self, h: HostId) {
        for i in 0..self.member.len() {
            if self.host[i] == h && self.present[i] {
                let e = (self.vid[i], self.member[i]);
                if let Err(at) = self.live.binary_search(&e) {
                    self.live.insert(at, e);
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

    /// The present member responsible for `id` whether it is up or not (data placement).
    pub fn owner(&self, id: RingId) -> Option<PeerId> {
        if self.all.is_empty() {
            return None;
        }
        Some(self.all[Self::successor_index(&self.all, id)].1)
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

    /// Whether `p` is in the replica set of `id`: the first `replicas` present members clockwise
    /// from `id`, taking at most one peer per host.
    pub fn holds_replica(&self, p: PeerId, id: RingId, replicas: usize) -> bool {
        let n = self.all.len();
        let start = Self::successor_index(&self.all, id);
        let mut hosts: [HostId; 8] = [HostId::MAX; 8];
        let mut found = 0;
        for j in 0..n {
            let q = self.all[(start + j) % n].1;
            let h = self.host(q);
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
