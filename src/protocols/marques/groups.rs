//! MARQUES's two levels: peers grouped by latency proximity, the outer ring of groups, the inner
//! order of each group, and where every cell and key lives.
//!
//! - **Groups.** `P` peers form `max(1, P / group_size)` groups of `P / G` or `P / G + 1`
//!   members. Greedy and deterministic: the host with the most ungrouped peers seeds a group and
//!   the nearest hosts (by RTT from it) with ungrouped peers each add one, so a group's members
//!   sit on distinct nearby hosts (a host crash costs a group one member); only when fewer
//!   distinct hosts are left than a group needs do members share a host (counted).
//! - **Outer ring.** Group `g` has the identifier `GroupHASH(g)` (SHA-1, like PeerHASH); its
//!   members sit at the consecutive positions `GroupHASH(g) + j`, so on the ring of all peers
//!   each group is one contiguous run: routing to a cell's hash reaches the group's first live
//!   member, and the group stays reachable while any member is up.
//! - **Inner ring.** Inside a group the members sit on an inner Chord ring over the curve-index
//!   space at their PeerHASH (`inner` id), and keys are placed by curve index: member `j` holds
//!   the keys of its group's cells whose curve index falls in `(inner[j-1], inner[j]]` (member 0
//!   wraps). A cell is narrow, so it usually lies on one member. Replicas: the next
//!   `replicas - 1` members in inner order.

use crate::ids::{HostId, PeerId};
use crate::overlay::id::{key_hash, RingId};
use crate::topology::Topology;
use anyhow::{bail, Result};
use std::collections::BinaryHeap;

/// GroupHASH: the first 8 bytes of SHA-1 over `"group:<g>"` (groups' outer identifiers).
pub fn group_hash(g: u32) -> RingId {
    crate::overlay::id::sha1_id(format!("group:{g}").as_bytes())
}

/// The cells and the groups: every static fact of MARQUES's placement.
pub struct Groups {
    /// Member peers of all groups, group by group, each group in inner order.
    members: Vec<PeerId>,
    /// Inner (PeerHASH) identifier of each entry of `members`.
    inner: Vec<RingId>,
    /// Start of each group in `members` (one more entry than groups).
    offsets: Vec<u32>,
    /// Outer position of each group's member 0.
    start: Vec<RingId>,
    /// (outer position of the group's last member, group), sorted: hash -> group.
    by_end: Vec<(RingId, u32)>,
    /// Group and index in the group of each network peer (`u32::MAX` for non-members).
    of_peer: Vec<(u32, u8)>,
    /// Bits of a cell (a cell is `2^cell_bits` consecutive curve indices).
    pub cell_bits: u32,
    /// Groups with two members on one host (when too few distinct hosts were left).
    pub colocated: usize,
}

impl Groups {
    /// Groups the `peers` ((peer, host, PeerHASH)) by latency proximity into groups of about
    /// `size`.
    pub fn form(
        peers: &[(PeerId, HostId, RingId)],
        topology: &Topology,
        size: usize,
        cell_bits: u32,
    ) -> Result<Groups> {
        if peers.is_empty() {
            bail!("marques needs at least one peer");
        }
        let hosts = peers.iter().map(|p| p.1 as usize + 1).max().unwrap_or(0);
        let mut pool: Vec<Vec<PeerId>> = vec![Vec::new(); hosts];
        for &(p, h, _) in peers.iter().rev() {
            pool[h as usize].push(p); // popped lowest peer first
        }
        let n = peers.len();
        let count = (n / size.max(1)).max(1);
        let mut heap: BinaryHeap<(usize, std::cmp::Reverse<usize>)> = (0..hosts)
            .filter(|&h| !pool[h].is_empty())
            .map(|h| (pool[h].len(), std::cmp::Reverse(h)))
            .collect();
        let mut members = Vec::with_capacity(n);
        let mut offsets = vec![0u32];
        let mut colocated = 0;
        let mut near: Vec<(u64, usize)> = Vec::with_capacity(hosts);
        for g in 0..count {
            let want = n / count + usize::from(g < n % count);
            // Seed: the host with the most ungrouped peers (stale heap entries skipped).
            let seed = loop {
                let (c, std::cmp::Reverse(h)) = heap.pop().expect("peers left for every group");
                if c == pool[h].len() && c > 0 {
                    break h;
                }
            };
            let mut group: Vec<(PeerId, usize)> = vec![(pool[seed].pop().expect("seed"), seed)];
            near.clear();
            near.extend(
                (0..hosts)
                    .filter(|&h| h != seed && !pool[h].is_empty())
                    .map(|h| (topology.rtt_us(0, seed as HostId, h as HostId), h)),
            );
            let k = (want - 1).min(near.len());
            if k > 0 && k < near.len() {
                near.select_nth_unstable(k - 1);
            }
            near[..k].sort_unstable();
            for &(_, h) in &near[..k] {
                group.push((pool[h].pop().expect("listed host has a peer"), h));
            }
            // Too few distinct hosts left: fill from the nearest hosts again (shared hosts).
            let mut shared = false;
            while group.len() < want {
                let h = (0..hosts)
                    .filter(|&h| !pool[h].is_empty())
                    .min_by_key(|&h| (topology.rtt_us(0, seed as HostId, h as HostId), h))
                    .expect("enough peers for every group");
                group.push((pool[h].pop().expect("non-empty"), h));
                shared = true;
            }
            colocated += usize::from(shared);
            for &(_, h) in &group {
                if !pool[h].is_empty() {
                    heap.push((pool[h].len(), std::cmp::Reverse(h)));
                }
            }
            members.extend(group.iter().map(|m| m.0));
            offsets.push(members.len() as u32);
        }
        Self::build(members, offsets, peers, cell_bits, colocated)
    }

    /// Orders each group by inner id and lays the groups out on the outer ring.
    fn build(
        mut members: Vec<PeerId>,
        offsets: Vec<u32>,
        peers: &[(PeerId, HostId, RingId)],
        cell_bits: u32,
        colocated: usize,
    ) -> Result<Groups> {
        let max_peer = peers.iter().map(|p| p.0 as usize + 1).max().unwrap_or(0);
        let mut peer_hash = vec![0u64; max_peer];
        for &(p, _, id) in peers {
            peer_hash[p as usize] = id;
        }
        let groups = offsets.len() - 1;
        let mut of_peer = vec![(u32::MAX, 0u8); max_peer];
        let mut inner = Vec::with_capacity(members.len());
        let mut start = Vec::with_capacity(groups);
        let mut by_end = Vec::with_capacity(groups);
        for g in 0..groups {
            let (a, b) = (offsets[g] as usize, offsets[g + 1] as usize);
            let slice = &mut members[a..b];
            slice.sort_unstable_by_key(|&p| (peer_hash[p as usize], p));
            for (j, &p) in slice.iter().enumerate() {
                of_peer[p as usize] = (g as u32, j as u8);
                inner.push(peer_hash[p as usize]);
            }
            let s = group_hash(g as u32).min(u64::MAX - 64);
            start.push(s);
            by_end.push((s + (b - a - 1) as u64, g as u32));
        }
        by_end.sort_unstable();
        for w in by_end.windows(2) {
            let lo = start[w[1].1 as usize];
            if lo <= w[0].0 {
                bail!(
                    "marques: groups {} and {} collide on the outer ring; use another group_size",
                    w[0].1,
                    w[1].1
                );
            }
        }
        Ok(Groups {
            members,
            inner,
            offsets,
            start,
            by_end,
            of_peer,
            cell_bits,
            colocated,
        })
    }

    /// Number of groups.
    pub fn count(&self) -> usize {
        self.start.len()
    }

    /// Member slots over all groups (group offset + index in the group).
    pub fn slots(&self) -> usize {
        self.members.len()
    }

    /// The slot of member `j` of group `g` (an index for per-member arrays).
    pub fn slot(&self, g: u32, j: usize) -> usize {
        self.offsets[g as usize] as usize + j
    }

    /// The outer position of group `g`'s member 0 (member `j` sits at this + `j`).
    pub fn outer_start(&self, g: u32) -> RingId {
        self.start[g as usize]
    }

    /// Members of group `g`, in inner order.
    pub fn members(&self, g: u32) -> &[PeerId] {
        let (a, b) = (self.offsets[g as usize], self.offsets[g as usize + 1]);
        &self.members[a as usize..b as usize]
    }

    /// Inner ids of group `g`'s members.
    pub fn inner(&self, g: u32) -> &[RingId] {
        let (a, b) = (self.offsets[g as usize], self.offsets[g as usize + 1]);
        &self.inner[a as usize..b as usize]
    }

    /// (group, index in the group) of peer `p`, if it is a member.
    pub fn of(&self, p: PeerId) -> Option<(u32, usize)> {
        self.of_peer
            .get(p as usize)
            .filter(|x| x.0 != u32::MAX)
            .map(|&(g, j)| (g, usize::from(j)))
    }

    /// Every member's outer ring position: (peer, position).
    pub fn outer_positions(&self) -> Vec<(PeerId, RingId)> {
        let mut out = Vec::with_capacity(self.members.len());
        for g in 0..self.count() {
            for (j, &p) in self.members(g as u32).iter().enumerate() {
                out.push((p, self.start[g] + j as u64));
            }
        }
        out
    }

    /// The group responsible for outer ring position `h` (the group of its t = 0 owner).
    pub fn group_of_hash(&self, h: RingId) -> u32 {
        let i = self.by_end.partition_point(|&(end, _)| end < h);
        self.by_end[if i == self.by_end.len() { 0 } else { i }].1
    }

    /// The cell of curve index `x`.
    pub fn cell(&self, x: u64) -> u64 {
        x.checked_shr(self.cell_bits).unwrap_or(0)
    }

    /// The first curve index of cell `c`.
    pub fn cell_start(&self, c: u64) -> u64 {
        c.checked_shl(self.cell_bits).unwrap_or(0)
    }

    /// The largest offset inside a cell.
    pub fn cell_mask(&self) -> u64 {
        if self.cell_bits >= 64 {
            u64::MAX
        } else {
            (1u64 << self.cell_bits) - 1
        }
    }

    /// The group that stores cell `c` (by the hash of its number on the outer ring).
    pub fn group_of_cell(&self, c: u64) -> u32 {
        self.group_of_hash(key_hash(c))
    }

    /// The curve indices (inclusive ranges) member `j` of group `g` holds as primary, of the
    /// cells its group stores: `(inner[j-1], inner[j]]`, or for member 0 the wrapping arc (two
    /// ranges); an arc may be empty.
    pub fn arc(&self, g: u32, j: usize) -> [Option<(u64, u64)>; 2] {
        let inner = self.inner(g);
        let last = inner[inner.len() - 1];
        if inner.len() == 1 {
            [Some((0, u64::MAX)), None]
        } else if j == 0 {
            [
                Some((0, inner[0])),
                (last < u64::MAX).then(|| (last + 1, u64::MAX)),
            ]
        } else {
            let (lo, hi) = (inner[j - 1], inner[j]);
            [(hi > lo).then(|| (lo + 1, hi)), None]
        }
    }

    /// The members of group `g` (indices) holding member `j`'s keys: `j` and its next
    /// `replicas - 1` in inner order.
    pub fn holders(&self, g: u32, j: usize, replicas: usize) -> impl Iterator<Item = usize> {
        let s = self.members(g).len();
        (0..replicas.clamp(1, s)).map(move |i| (j + i) % s)
    }
}

/// Cell bits for `auto`: the smallest `b` that cuts the keys' span `[min, max]` into at most
/// `target` cells of `2^b` curve indices.
pub fn auto_cell_bits(min: u64, max: u64, target: u64) -> u32 {
    let span = u128::from(max - min) + 1;
    let mut b = 0;
    while b < 64 && span.div_ceil(1u128 << b) > u128::from(target.max(1)) {
        b += 1;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(size: usize, per_host: u32, hosts: usize) -> Groups {
        let topo = crate::topology::TopologySpec {
            hosts,
            ..Default::default()
        }
        .build(7)
        .unwrap();
        let peers = crate::overlay::view::peer_hash_positions(&vec![per_host; hosts]);
        Groups::form(&peers, &topo, size, 40).unwrap()
    }

    #[test]
    fn groups_cover_every_peer_once_on_distinct_hosts() {
        let g = groups(6, 10, 50);
        assert_eq!(g.count(), 500 / 6);
        let mut seen = vec![false; 500];
        for i in 0..g.count() as u32 {
            let m = g.members(i);
            assert!((6..=7).contains(&m.len()), "group {i} has {}", m.len());
            let mut hosts: Vec<u32> = m.iter().map(|p| p / 10).collect();
            hosts.sort_unstable();
            hosts.dedup();
            if g.colocated == 0 {
                assert_eq!(hosts.len(), m.len(), "group {i} shares a host");
            }
            for &p in m {
                assert!(!seen[p as usize]);
                seen[p as usize] = true;
                assert_eq!(g.of(p).unwrap().0, i);
            }
            assert!(g.inner(i).windows(2).all(|w| w[0] < w[1]));
        }
        assert!(seen.iter().all(|&s| s));
        assert!(g.colocated <= 2, "{} groups share a host", g.colocated);
    }

    #[test]
    fn arcs_partition_every_cell_and_hashes_find_their_group() {
        let g = groups(6, 4, 30);
        for i in 0..g.count() as u32 {
            let n = g.members(i).len();
            let mut width: u128 = 0;
            for j in 0..n {
                for (lo, hi) in g.arc(i, j).into_iter().flatten() {
                    assert!(lo <= hi);
                    assert!(g.inner(i).contains(&hi) || hi == u64::MAX);
                    width += u128::from(hi - lo) + 1;
                }
            }
            assert_eq!(width, 1u128 << 64, "group {i}");
        }
        for (p, pos) in g.outer_positions() {
            assert_eq!(g.group_of_hash(pos), g.of(p).unwrap().0);
        }
    }

    #[test]
    fn auto_cell_bits_bounds_the_cell_count() {
        assert_eq!(auto_cell_bits(0, 1023, 1024), 0);
        assert_eq!(auto_cell_bits(0, 1023, 512), 1);
        assert_eq!(auto_cell_bits(0, u64::MAX, 1 << 16), 48);
        assert_eq!(auto_cell_bits(5, 5, 1), 0);
        assert_eq!(auto_cell_bits(0, u64::MAX, 1), 64);
    }
}
