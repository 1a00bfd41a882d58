//! The global view of one ring: ground truth that no peer has, used to build a converged ring, to
//! check invariants, to pick bootstrap peers, and to place data.
//!
//! A ring has *members*: network peers with a position (VID) on it. By default every network
//! peer is a member at its PeerHASH position; a protocol may choose other positions, build a ring
//! of a subset of the peers (MARQUES's inner rings), add members and remove them at run time.
//! Per-member state is indexed by a dense member index ([`GlobalView::ix`]).

use super::id::{host_address, in_open_closed, peer_hash, vnode_port, RingId};
use super::liveset::LiveSet;
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
    /// Which positions of `all` are on live hosts (O(log n) per churn event).
    alive: LiveSet,
    /// Member indices of each host, in member-index order (churn touches only these).
    of_host: Vec<Vec<u32>>,
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
            alive: LiveSet::default(),
            of_host: Vec::new(),
            identity: true,
        };
        for &(p, h, id) in members {
            v.push_member(p, h, id);
            v.all.push((id, p));
        }
        v.all.sort_unstable();
        v.alive = LiveSet::new(v.all.len(), true);
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
        if self.of_host.len() <= h as usize {
            self.of_host.resize_with(h as usize + 1, Vec::new);
        }
        self.of_host[h as usize].push((self.member.len() - 1) as u32);
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

    /// The member index of `p` if it ever was a member, for cache hints: no load at all on a
    /// full ring (member index == peer id), and no check that it is still present (a hint for
    /// a removed member loads rows nobody reads, which changes nothing).
    #[inline]
    pub fn ix_hint(&self, p: PeerId) -> Option<usize> {
        if self.identity {
            return ((p as usize) < self.member.len()).then_some(p as usize);
        }
        match self.index.get(p as usize) {
            Some(&i) if i != OUT => Some(i as usize),
            _ => None,
        }
    }

    /// Whether network peer `p` is currently on this ring.
    #[inline]
    pub fn is_member(&self, p: PeerId) -> bool {
        // On a full ring the member index is the peer id: no load of `index` (at 10^6 peers a
        // cache miss on every message, before the one on `present`).
        self.ix_hint(p).is_some_and(|i| self.present[i])
    }

    /// Starts loading `present` for member index `i` (a cache hint for [`Self::is_member`]).
    #[inline]
    pub fn prefetch_presence(&self, i: usize) {
        if let Some(f) = self.present.get(i) {
            crate::engine::prefetch(f);
        }
    }

    /// Starts loading the VID of member index `i` (a cache hint for [`Self::vid_at`]).
    #[inline]
    pub fn prefetch_vid(&self, i: usize) {
        if let Some(v) = self.vid.get(i) {
            crate::engine::prefetch(v);
        }
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

    /// The VID of member index `i` (see [`GlobalView::ix`]).
    #[inline]
    pub fn vid_at(&self, i: usize) -> RingId {
        self.vid[i]
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

    /// Number of live members (present, on a live host).
    pub fn live_len(&self) -> usize {
        self.alive.count()
    }

    /// The `r`-th live member in VID order (`r < live_len()`), O(log n).
    pub fn live_at(&self, r: usize) -> (RingId, PeerId) {
        self.all[self.alive.select(r)]
    }

    /// Live members in VID order.
    pub fn live_iter(&self) -> impl Iterator<Item = (RingId, PeerId)> + '_ {
        (0..self.all.len())
            .filter(|&i| self.alive.get(i))
            .map(|i| self.all[i])
    }

    /// Whether `p` (at `vid`) is a live member.
    pub fn is_live(&self, vid: RingId, p: PeerId) -> bool {
        self.all
            .binary_search(&(vid, p))
            .is_ok_and(|at| self.alive.get(at))
    }

    /// Present members of host `h`, in member-index order.
    pub fn members_of_host(&self, h: HostId) -> impl Iterator<Item = PeerId> + '_ {
        let ixs = self.of_host.get(h as usize).map_or(&[][..], |v| &v[..]);
        ixs.iter()
            .map(|&i| i as usize)
            .filter(|&i| self.present[i])
            .map(|i| self.member[i])
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
        match self.all.binary_search(&e) {
            Err(at) => {
                self.all.insert(at, e);
                self.alive.insert(at, live);
            }
            Ok(at) => {
                if live {
                    self.alive.set(at, true);
                }
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
            self.alive.remove(at);
        }
    }

    /// Marks every member of a host down (removes them from the live ring): O(members of the
    /// host x log n).
    pub fn host_down(&mut self, h: HostId) {
        self.set_host_live(h, false);
    }

    /// Marks every present member of a host up again: O(members of the host x log n).
    pub fn host_up(&mut self, h: HostId) {
        self.set_host_live(h, true);
    }

    fn set_host_live(&mut self, h: HostId, live: bool) {
        let Some(ixs) = self.of_host.get(h as usize) else {
            return;
        };
        for &i in ixs {
            let i = i as usize;
            if self.present[i] {
                if let Ok(at) = self.all.binary_search(&(self.vid[i], self.member[i])) {
                    self.alive.set(at, live);
                }
            }
        }
    }

    /// Position in `all` of the first live member whose VID is >= `id` (wrapping).
    #[inline]
    fn live_successor_pos(&self, id: RingId) -> Option<usize> {
        self.alive
            .next_live(self.all.partition_point(|&(v, _)| v < id))
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
        self.live_successor_pos(id).map(|at| self.all[at].1)
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
        let Some(mut at) = self.live_successor_pos(self.vid(p).wrapping_add(1)) else {
            return;
        };
        for _ in 0..self.live_len().min(k + 1) {
            let q = self.all[at].1;
            if q != p && out.len() < k {
                out.push(q);
            }
            at = self.alive.next_live(at + 1).unwrap_or(at);
        }
    }

    /// The live predecessor of peer `p` (excluding `p`).
    pub fn live_predecessor_of(&self, p: PeerId) -> Option<PeerId> {
        let n = self.live_len();
        if n == 0 || (n == 1 && self.live_at(0).1 == p) {
            return None;
        }
        let i = self.all.partition_point(|&(v, _)| v < self.vid(p));
        self.alive.prev_live(i).map(|at| self.all[at].1)
    }

    /// Whether `p` is in the replica set of `id`: the first `replicas` present members clockwise
    /// from `id`, taking at most one peer per host.
    pub fn holds_replica(&self, p: PeerId, id: RingId, replicas: usize) -> bool {
        self.holds_replica_from(p, Self::successor_index(&self.all, id), replicas)
    }

    /// For the ids of a list delivered at `p`: how many have a live successor other than `p`,
    /// and of how many `p` holds a replica. The same counts as [`GlobalView::live_successor`] and
    /// [`GlobalView::holds_replica`] id by id, with `p`'s live arc and its own replica answer
    /// computed once (a consolidated batch delivers hundreds of ids that `p` owns).
    pub fn audit_delivery(
        &self,
        p: PeerId,
        ids: impl Iterator<Item = RingId>,
        replicas: usize,
    ) -> (u64, u32) {
        let n = self.all.len();
        let me = self.vid(p);
        let Ok(pos) = self.all.binary_search(&(me, p)) else {
            // Not a present member: the generic answers.
            let (mut wrong, mut held) = (0, 0);
            for id in ids {
                wrong += u64::from(self.live_successor(id) != Some(p));
                held += u32::from(self.holds_replica(p, id, replicas));
            }
            return (wrong, held);
        };
        // Live successor of id is p  <=>  p is live and id in (live predecessor, p] (everything
        // when p is the only live member).
        let owned_arc = if !self.alive.get(pos) {
            None
        } else {
            Some(self.live_predecessor_of(p).map(|q| self.vid(q)))
        };
        // Ids in (previous present member, p] start their replica walk at p's position.
        let prev = self.all[(pos + n - 1) % n].0;
        let at_me = self.holds_replica_from(p, pos, replicas);
        let mut memo: Option<(usize, bool)> = None;
        let (mut wrong, mut held) = (0u64, 0u32);
        for id in ids {
            let owner = match owned_arc {
                None => false,
                Some(None) => true,
                Some(Some(lo)) => in_open_closed(id, lo, me),
            };
            wrong += u64::from(!owner);
            let h = if in_open_closed(id, prev, me) {
                at_me
            } else {
                let start = Self::successor_index(&self.all, id);
                match memo {
                    Some((s, h)) if s == start => h,
                    _ => {
                        let h = self.holds_replica_from(p, start, replicas);
                        memo = Some((start, h));
                        h
                    }
                }
            };
            held += u32::from(h);
        }
        (wrong, held)
    }

    /// [`GlobalView::holds_replica`] for the walk starting at position `start` of `all`.
    fn holds_replica_from(&self, p: PeerId, start: usize, replicas: usize) -> bool {
        let n = self.all.len();
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

#[cfg(test)]
mod tests {
    use super::GlobalView;
    use crate::ids::{HostId, PeerId};

    /// The project's generator as a closure, for the random churn sequences below.
    fn random(seed: u64) -> impl FnMut() -> u64 {
        let mut rng = crate::rng::SimRng::from_seed(seed);
        move || rng.next_u64()
    }

    /// Crashes and returns keep every live-ring query equal to a scan of the members.
    #[test]
    fn churn_keeps_the_live_ring_exact() {
        let hosts = 40usize;
        let mut v = GlobalView::new(&vec![3u32; hosts]);
        let mut up = vec![true; hosts];
        let mut rnd = random(99);
        for _ in 0..300 {
            let h = (rnd() % hosts as u64) as usize;
            up[h] = !up[h];
            if up[h] {
                v.host_up(h as HostId);
            } else {
                v.host_down(h as HostId);
            }
            let mut truth: Vec<(u64, PeerId)> = v
                .all()
                .iter()
                .copied()
                .filter(|&(_, p)| up[v.host(p) as usize])
                .collect();
            truth.sort_unstable();
            assert_eq!(v.live_iter().collect::<Vec<_>>(), truth);
            assert_eq!(v.live_len(), truth.len());
            if truth.is_empty() {
                assert_eq!(v.live_successor(rnd()), None);
                continue;
            }
            let r = (rnd() % truth.len() as u64) as usize;
            assert_eq!(v.live_at(r), truth[r]);
            let id = rnd();
            let want = truth.iter().find(|e| e.0 >= id).unwrap_or(&truth[0]).1;
            assert_eq!(v.live_successor(id), Some(want));
            let p = truth[r].1;
            let want_pred = if truth.len() == 1 {
                None
            } else {
                Some(truth[(r + truth.len() - 1) % truth.len()].1)
            };
            assert_eq!(v.live_predecessor_of(p), want_pred);
            let mut out = Vec::new();
            v.live_successors_of(p, 4, &mut out);
            let want_succ: Vec<PeerId> = (1..truth.len().min(5))
                .map(|j| truth[(r + j) % truth.len()].1)
                .collect();
            assert_eq!(out, want_succ);
            assert!(v.is_live(truth[r].0, p));
        }
    }

    #[test]
    fn a_delivery_audit_counts_as_the_checks_id_by_id() {
        let hosts = 30usize;
        let mut v = GlobalView::new(&vec![3u32; hosts]);
        let mut rnd = random(7);
        for round in 0..200 {
            let h = (rnd() % hosts as u64) as HostId;
            if round % 3 == 0 {
                v.host_up(h);
            } else {
                v.host_down(h);
            }
            let all = v.all().to_vec();
            // Live and crashed members alike, with ids around their own and their neighbours'
            // VIDs (inside and outside their arcs) and random ones.
            let p = all[(rnd() % all.len() as u64) as usize].1;
            let mut ids: Vec<u64> = (0..20).map(|_| rnd()).collect();
            for &(vid, _) in &all {
                ids.extend([vid, vid.wrapping_add(1), vid.wrapping_sub(1)]);
            }
            for replicas in [1, 2, 3] {
                let want_wrong = ids
                    .iter()
                    .filter(|&&id| v.live_successor(id) != Some(p))
                    .count() as u64;
                let want_held = ids
                    .iter()
                    .filter(|&&id| v.holds_replica(p, id, replicas))
                    .count() as u32;
                assert_eq!(
                    v.audit_delivery(p, ids.iter().copied(), replicas),
                    (want_wrong, want_held),
                    "round {round}, {replicas} replicas"
                );
            }
        }
    }

    /// The hint index is the member index of every peer that ever was a member (present or
    /// removed), on full rings and on subsets, and `None` for peers that never were.
    #[test]
    fn hint_indices_are_member_indices() {
        let full = GlobalView::new(&[2, 3]);
        for p in 0..5 {
            assert_eq!(full.ix_hint(p), Some(full.ix(p)));
        }
        assert_eq!(full.ix_hint(5), None);
        // A subset ring (members 4, 1 and 3, in that order): member index != peer id.
        let mut sub = GlobalView::from_members(&[(4, 1, 40), (1, 0, 10), (3, 1, 30)]);
        sub.remove(1);
        for p in [4, 1, 3] {
            assert_eq!(sub.ix_hint(p), Some(sub.ix(p)), "peer {p}");
        }
        assert_eq!(sub.ix_hint(4), Some(0));
        for p in [0, 2, 9] {
            assert_eq!(sub.ix_hint(p), None, "peer {p} never was a member");
        }
    }

    /// Membership answers alike with the member index read from the table and, on a full
    /// ring, taken to be the peer id: removed, returned and never-seen peers included.
    #[test]
    fn membership_is_the_same_with_and_without_the_identity_shortcut() {
        let full: Vec<(PeerId, HostId, u64)> =
            (0..12).map(|p| (p, p / 3, p as u64 * 1000)).collect();
        let sparse: Vec<(PeerId, HostId, u64)> = (0..12)
            .map(|p| (p * 2 + 1, p / 3, p as u64 * 1000))
            .collect();
        for members in [full, sparse] {
            let mut v = GlobalView::from_members(&members);
            let (gone, back) = (members[4].0, members[7].0);
            v.remove(gone);
            v.remove(back);
            v.add(back, members[7].1, 123_456, true);
            for p in 0..40 {
                let expected = members.iter().any(|m| m.0 == p) && p != gone;
                assert_eq!(v.is_member(p), expected, "peer {p}");
            }
        }
    }
}
