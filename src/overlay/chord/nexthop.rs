//! Chord's next-hop rule, for one target and for many targets at one peer.
//!
//! The rule (closest preceding node): if the target lies in (me, first successor] the successor
//! is responsible; otherwise the farthest-indexed finger inside (me, target) is taken, and a
//! successor strictly farther from me inside (me, target) replaces it; with no candidate at all
//! the first successor is the next hop. [`scan`] applies it to one target by scanning the
//! routing table (what a single lookup needs). A consolidated batch asks the same peer for
//! hundreds of targets at once, so [`HopTable`] reduces the table once to the candidates that can
//! ever be chosen, sorted by distance from me, and answers each target by a binary search: the
//! same answer as [`scan`] for every target (property test below), in O(log table) instead of
//! O(table) with a VID load per entry. [`Shortcuts`], kept by the ring per member, let
//! [`scan`] pass the fingers and successors that cannot be chosen without loading their VIDs.

use super::NONE;
use crate::ids::PeerId;
use crate::overlay::id::{distance, RingId};

/// Peers a list routes around after timing out on them, [`NONE`] in unused places (a fixed
/// size, so that a membership test is four compares).
pub type Avoid = [PeerId; 4];

/// One peer's routing table as the next-hop rule sees it.
#[derive(Clone, Copy, Debug)]
pub struct Table<'a, V: Fn(PeerId) -> RingId> {
    /// The peer itself.
    pub me: PeerId,
    /// Its VID.
    pub me_vid: RingId,
    /// Its fingers (index i targets VID + 2^i; [`NONE`] when unknown).
    pub fingers: &'a [PeerId],
    /// What [`scan`] may pass without loading VIDs ([`Shortcuts::ALL`] to look at everything).
    pub cuts: Shortcuts,
    /// Its successor list, nearest first.
    pub succs: &'a [PeerId],
    /// Peers to route around (silent for this list; [`NONE`] in unused places).
    pub avoid: &'a Avoid,
    /// The VID of a peer.
    pub vid: V,
}

impl<V: Fn(PeerId) -> RingId> Table<'_, V> {
    /// The successors left after skipping the leading avoided ones.
    fn live_succs(&self) -> &[PeerId] {
        let skip = self
            .succs
            .iter()
            .take_while(|s| self.avoid.contains(s))
            .count();
        &self.succs[skip..]
    }
}

/// The target's distance from `me` as an open bound: a target equal to `me` bounds the whole
/// ring (every other identifier lies in the open arc (me, me)).
fn bound(me: RingId, t: RingId) -> u128 {
    match distance(me, t) {
        0 => 1 << 64,
        d => u128::from(d),
    }
}

/// Whether `t` lies in (me, s], the successor's arc (the whole ring when `s == me`).
fn in_succ_arc(me: RingId, s: RingId, t: RingId) -> bool {
    s == me || (t != me && distance(me, t) <= distance(me, s))
}

/// The next hop towards `t` and whether it is the responsible peer, by scanning the table.
pub fn scan<V: Fn(PeerId) -> RingId>(tb: &Table<'_, V>, t: RingId) -> Option<(PeerId, bool)> {
    let succs = tb.live_succs();
    let &s0 = succs.first()?;
    let me = tb.me_vid;
    if in_succ_arc(me, (tb.vid)(s0), t) {
        return Some((s0, true));
    }
    let lim = bound(me, t);
    let inside = |v: RingId| {
        let d = u128::from(distance(me, v));
        d > 0 && d < lim
    };
    // Fingers from the farthest down: the first one inside (me, t). A finger i at distance
    // 2^i or more lies outside when 2^i >= lim, so only the early ones and those below the
    // bound's top bit are looked at.
    let below = match lim - 1 {
        0 => 0,
        m if m >= 1 << 63 => u64::MAX,
        m => (2u64 << (63 - (m as u64).leading_zeros())) - 1,
    };
    let mut look = (tb.cuts.early | below) & low_bits(tb.fingers.len());
    let mut best = NONE;
    let mut best_d = 0;
    while look != 0 {
        let i = 63 - look.leading_zeros() as usize;
        look &= !(1 << i);
        let c = tb.fingers[i];
        if c != NONE && c != tb.me && inside((tb.vid)(c)) && !tb.avoid.contains(&c) {
            best = c;
            best_d = distance(me, (tb.vid)(c));
            break;
        }
    }
    // The successor list may offer a closer one (none when the finger is as far as any).
    if best_d < tb.cuts.succ_reach {
        for &c in succs {
            let v = (tb.vid)(c);
            if inside(v) && distance(me, v) > best_d && !tb.avoid.contains(&c) {
                best = c;
                best_d = distance(me, v);
            }
        }
    }
    Some((if best == NONE { s0 } else { best }, false))
}

/// What a peer's next-hop scan may pass without loading the VIDs of its table, kept up to
/// date by the ring as the table changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shortcuts {
    /// Bit i set when finger i lies nearer than 2^i ([`early_mask`]): every other finger
    /// above a target's bound lies beyond the target.
    pub early: u64,
    /// No successor lies farther than this from the peer: when the best finger is at least
    /// as far, no successor can replace it.
    pub succ_reach: u64,
}

impl Shortcuts {
    /// Nothing known: the scan looks at every finger and successor.
    pub const ALL: Shortcuts = Shortcuts {
        early: u64::MAX,
        succ_reach: u64::MAX,
    };
    /// An empty table's.
    pub const EMPTY: Shortcuts = Shortcuts {
        early: 0,
        succ_reach: 0,
    };
}

/// The largest distance from `me` of the peers in `succs`.
pub fn succ_reach(me: RingId, succs: &[PeerId], vid: impl Fn(PeerId) -> RingId) -> u64 {
    succs
        .iter()
        .map(|&c| distance(me, vid(c)))
        .max()
        .unwrap_or(0)
}

/// The lowest `n` bits (all 64 when `n >= 64`).
fn low_bits(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1 << n) - 1
    }
}

/// Whether finger `i` of a peer at `me` pointing at `vid` must be looked at by [`scan`] even
/// above a target's bound: it lies nearer than 2^i from `me` (a stale or inexact finger; a
/// finger that a correct lookup set lies at 2^i or beyond).
#[inline]
pub fn is_early(me: RingId, i: usize, vid: RingId) -> bool {
    u128::from(distance(me, vid)) < 1u128 << i
}

/// [`Shortcuts::early`] for a whole finger row of the peer `me_peer` at `me` (unknown fingers and
/// the peer itself are never chosen, so their bits stay clear).
pub fn early_mask(
    me_peer: PeerId,
    me: RingId,
    fingers: &[PeerId],
    vid: impl Fn(PeerId) -> RingId,
) -> u64 {
    let mut m = 0;
    for (i, &c) in fingers.iter().enumerate().take(64) {
        if c != NONE && c != me_peer && is_early(me, i, vid(c)) {
            m |= 1 << i;
        }
    }
    m
}

/// A peer's routing table reduced to the candidates [`scan`] can choose, for many targets.
#[derive(Debug, Default)]
pub struct HopTable {
    me: RingId,
    s0: PeerId,
    s0_vid: RingId,
    /// Candidates' distances from me, strictly increasing, and the candidates themselves.
    dists: Vec<u64>,
    peers: Vec<PeerId>,
    scratch: Vec<(u64, u8, usize, PeerId)>,
}

impl HopTable {
    /// Rebuilds the table for one peer (reusing the buffers). With no usable successor every
    /// [`HopTable::next_hop`] is `None`, as with [`scan`].
    pub fn build<V: Fn(PeerId) -> RingId>(&mut self, tb: &Table<'_, V>) {
        self.me = tb.me_vid;
        self.dists.clear();
        self.peers.clear();
        self.scratch.clear();
        let succs = tb.live_succs();
        self.s0 = succs.first().copied().unwrap_or(NONE);
        if self.s0 == NONE {
            return;
        }
        self.s0_vid = (tb.vid)(self.s0);
        // Fingers that some target picks: scanning from the top, those nearer than every
        // usable finger above them (the first finger inside (me, t) from the top is then the
        // farthest such record below t). A repeated finger is never a record again.
        let mut floor = u64::MAX;
        let mut any = false;
        let mut prev = NONE;
        for &c in tb.fingers.iter().rev() {
            if c == prev || c == NONE || c == tb.me || tb.avoid.contains(&c) {
                continue;
            }
            prev = c;
            let d = distance(self.me, (tb.vid)(c));
            if d > 0 && (!any || d < floor) {
                self.scratch.push((d, 0, 0, c));
                floor = d;
                any = true;
            }
        }
        // Records were found farthest first: nearest first now, then the successors (nearest
        // first on a consistent ring; sorted below otherwise).
        self.scratch.reverse();
        let records = self.scratch.len();
        for (j, &c) in succs.iter().enumerate() {
            if tb.avoid.contains(&c) {
                continue;
            }
            let d = distance(self.me, (tb.vid)(c));
            if d > 0 {
                self.scratch.push((d, 1, j, c));
            }
        }
        // At equal distance the finger wins (a successor must be strictly farther), then the
        // first such successor in list order: the order of (distance, kind, index).
        let (f, s) = self.scratch.split_at_mut(records);
        if !s.is_sorted() {
            s.sort_unstable();
        }
        let (mut i, mut j) = (0, 0);
        while i < f.len() || j < s.len() {
            let e = if j == s.len() || (i < f.len() && f[i] <= s[j]) {
                i += 1;
                f[i - 1]
            } else {
                j += 1;
                s[j - 1]
            };
            if self.dists.last() != Some(&e.0) {
                self.dists.push(e.0);
                self.peers.push(e.3);
            }
        }
    }

    /// The next hop towards `t` and whether it is the responsible peer: exactly [`scan`]'s
    /// answer for the table this was built from.
    pub fn next_hop(&self, t: RingId) -> Option<(PeerId, bool)> {
        self.next_hop_slot(t).map(|(p, fin, _)| (p, fin))
    }

    /// Candidate slots: [`HopTable::next_hop_slot`]'s slots are below this.
    pub fn slots(&self) -> usize {
        self.dists.len() + 1
    }

    /// [`HopTable::next_hop`] with the answer's slot in this table (below
    /// [`HopTable::slots`]): equal slots mean the same peer, so a caller can group targets by
    /// slot without comparing peers (one peer may have two slots: the first successor).
    pub fn next_hop_slot(&self, t: RingId) -> Option<(PeerId, bool, usize)> {
        if self.s0 == NONE {
            return None;
        }
        if in_succ_arc(self.me, self.s0_vid, t) {
            return Some((self.s0, true, 0));
        }
        // The farthest candidate strictly inside (me, t): count those nearer than t (a short,
        // branch-free pass; every candidate when t is me).
        let n = match distance(self.me, t) {
            0 => self.dists.len(),
            lim => self.dists.iter().map(|&d| usize::from(d < lim)).sum(),
        };
        Some((if n == 0 { self.s0 } else { self.peers[n - 1] }, false, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A ring of `vids.len()` peers whose tables are arbitrary (stale, repeated, unknown).
    fn check(vids: &[u64], me: usize, fingers: &[usize], succs: &[usize], avoid: &[usize], t: u64) {
        let n = vids.len();
        let pid = |i: usize| if i >= n { NONE } else { i as PeerId };
        let fingers: Vec<PeerId> = fingers.iter().map(|&i| pid(i)).collect();
        let succs: Vec<PeerId> = succs.iter().map(|&i| pid(i % n)).collect();
        let mut avoid_at = [NONE; 4];
        for (a, &i) in avoid_at.iter_mut().zip(avoid) {
            *a = pid(i % n);
        }
        let avoid = avoid_at;
        let vid = |p: PeerId| vids[p as usize];
        let tb = Table {
            me: me as PeerId,
            me_vid: vids[me],
            fingers: &fingers,
            succs: &succs,
            avoid: &avoid,
            cuts: Shortcuts::ALL,
            vid,
        };
        // The scan that passes what its shortcuts rule out answers as the full one.
        let masked = Table {
            cuts: Shortcuts {
                early: early_mask(me as PeerId, vids[me], &fingers, vid),
                succ_reach: succ_reach(vids[me], &succs, vid),
            },
            ..tb
        };
        let mut h = HopTable::default();
        h.build(&tb);
        // Targets around every VID (equal, one before, one after) and the random one.
        let mut targets = vec![t];
        for &v in vids {
            targets.extend([v, v.wrapping_sub(1), v.wrapping_add(1)]);
        }
        // A slot names one peer (what the router groups targets by).
        let mut peer_of_slot = vec![None; h.slots()];
        for t in targets {
            assert_eq!(h.next_hop(t), scan(&tb, t), "target {t}");
            assert_eq!(scan(&masked, t), scan(&tb, t), "target {t}, shortcuts");
            if let Some((p, _, slot)) = h.next_hop_slot(t) {
                assert!(slot < h.slots(), "slot {slot} out of range");
                let seen = *peer_of_slot[slot].get_or_insert(p);
                assert_eq!(seen, p, "slot {slot} names two peers");
            }
        }
    }

    proptest! {
        #[test]
        fn the_table_answers_as_the_scan(
            vids in proptest::collection::btree_set(any::<u64>(), 2..40),
            me in any::<prop::sample::Index>(),
            // Indices past the ring are unknown fingers.
            fingers in proptest::collection::vec(0usize..48, 64),
            succs in proptest::collection::vec(0usize..40, 0..16),
            avoid in proptest::collection::vec(0usize..40, 0..4),
            t in any::<u64>(),
        ) {
            let vids: Vec<u64> = vids.into_iter().collect();
            check(&vids, me.index(vids.len()), &fingers, &succs, &avoid, t);
        }

        #[test]
        fn the_table_answers_as_the_scan_on_a_small_id_space(
            // Few distinct identifiers: targets often equal a VID or me.
            vids in proptest::collection::btree_set(0u64..64, 2..12),
            me in any::<prop::sample::Index>(),
            fingers in proptest::collection::vec(0usize..16, 64),
            succs in proptest::collection::vec(0usize..12, 0..8),
            avoid in proptest::collection::vec(0usize..12, 0..4),
            t in 0u64..64,
        ) {
            let vids: Vec<u64> = vids.into_iter().collect();
            check(&vids, me.index(vids.len()), &fingers, &succs, &avoid, t);
        }
    }
}
