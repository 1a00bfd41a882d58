//! Kademlia's 160-bit identifiers, the XOR metric, k-bucket indices, and the ground truth
//! "which live peers are the k closest to an id" (what a lookup should find, and which peers hold
//! a block under ideal republishing).

use crate::ids::PeerId;
use crate::rng::SimRng;
use sha1::{Digest, Sha1};

/// Identifier bits.
pub const BITS: u32 = 160;

/// A 160-bit Kademlia identifier (a SHA-1 digest), as its top 128 and low 32 bits, so that the
/// derived order is the numeric order and XOR distances compare with `<`.
///
/// ```
/// use leadsim::protocols::kademlia::id::Kid;
/// let a = Kid::sha1(b"10.0.0.1:4000");
/// let b = Kid::sha1(b"10.0.0.2:4000");
/// assert_eq!(a.xor(a), Kid::ZERO);
/// assert_eq!(a.xor(b), b.xor(a));
/// // The bucket of b at a: the position of the highest differing bit.
/// let i = a.bucket_of(b).unwrap();
/// assert!(a.xor(b).bit(i) && (i + 1..160).all(|j| !a.xor(b).bit(j)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kid {
    hi: u128,
    lo: u32,
}

impl Kid {
    /// The zero id (distance of an id to itself).
    pub const ZERO: Kid = Kid { hi: 0, lo: 0 };

    /// The id made of a 20-byte digest (big-endian).
    pub fn from_digest(d: &[u8]) -> Kid {
        let mut hi = [0u8; 16];
        hi.copy_from_slice(&d[..16]);
        let mut lo = [0u8; 4];
        lo.copy_from_slice(&d[16..20]);
        Kid {
            hi: u128::from_be_bytes(hi),
            lo: u32::from_be_bytes(lo),
        }
    }

    /// SHA-1 of `bytes`: how peer ids (of `"<address>:<port>"`) and block ids (of a key's 8
    /// little-endian bytes, like Chord's KeyHASH) are made.
    pub fn sha1(bytes: &[u8]) -> Kid {
        Kid::from_digest(&Sha1::digest(bytes))
    }

    /// XOR: the Kademlia distance between two ids.
    #[inline]
    pub fn xor(self, o: Kid) -> Kid {
        Kid {
            hi: self.hi ^ o.hi,
            lo: self.lo ^ o.lo,
        }
    }

    /// Bit `i` (0 = least significant, 159 = most).
    #[inline]
    pub fn bit(self, i: u32) -> bool {
        if i < 32 {
            (self.lo >> i) & 1 == 1
        } else {
            (self.hi >> (i - 32)) & 1 == 1
        }
    }

    /// Leading zero bits (160 for zero).
    #[inline]
    pub fn leading_zeros(self) -> u32 {
        if self.hi != 0 {
            self.hi.leading_zeros()
        } else {
            128 + self.lo.leading_zeros()
        }
    }

    /// The k-bucket of `other` in the table of `self`: bucket `i` holds the ids at distance in
    /// [2^i, 2^(i+1)); `None` for `self` itself.
    #[inline]
    pub fn bucket_of(self, other: Kid) -> Option<u32> {
        let lz = self.xor(other).leading_zeros();
        (lz < BITS).then(|| BITS - 1 - lz)
    }

    /// A random id in bucket `i` of `self`'s table (bit `i` of the distance set, the bits above
    /// it clear, the bits below random): the target of a bucket refresh.
    pub fn random_in_bucket(self, i: u32, rng: &mut SimRng) -> Kid {
        let r = Kid {
            hi: ((rng.next_u64() as u128) << 64) | rng.next_u64() as u128,
            lo: rng.next_u64() as u32,
        };
        // Keep the bits below i, set bit i, clear the bits above.
        let (hi_mask, lo_mask) = if i < 32 {
            (0u128, (1u32 << i) - 1)
        } else {
            let s = i - 32;
            (((1u128 << s) - 1), u32::MAX)
        };
        let mut d = Kid {
            hi: r.hi & hi_mask,
            lo: r.lo & lo_mask,
        };
        if i < 32 {
            d.lo |= 1 << i;
        } else {
            d.hi |= 1 << (i - 32);
        }
        self.xor(d)
    }
}

/// Every peer's id in id order: the ground truth of who is closest to an id.
pub struct IdIndex {
    sorted: Vec<(Kid, PeerId)>,
    by_peer: Vec<Kid>,
}

/// Ranges at most this long are sorted by distance instead of split further.
const LEAF: usize = 24;

impl IdIndex {
    /// The index of `ids[p]` for every peer `p`.
    pub fn new(ids: &[Kid]) -> IdIndex {
        let mut sorted: Vec<(Kid, PeerId)> = ids
            .iter()
            .enumerate()
            .map(|(p, &id)| (id, p as PeerId))
            .collect();
        sorted.sort_unstable();
        IdIndex {
            sorted,
            by_peer: ids.to_vec(),
        }
    }

    /// Whether `p` is among the `k` peers closest to `target` that `keep` accepts (`p` itself
    /// accepted): fewer than `k` accepted peers are closer. Walks down the target's bits; where
    /// `p`'s distance has a 1, the side agreeing with the target is wholly closer and is counted
    /// (stopping at `k`), so the cost is O(160 log n + k) whatever the network size.
    pub fn is_among_closest(
        &self,
        target: Kid,
        p: PeerId,
        k: usize,
        keep: &impl Fn(PeerId) -> bool,
    ) -> bool {
        let d = self.by_peer[p as usize].xor(target);
        let (mut lo, mut hi) = (0, self.sorted.len());
        let mut closer = 0usize;
        let mut b = BITS;
        while b > 0 && hi - lo > 1 {
            b -= 1;
            let mid = lo + self.sorted[lo..hi].partition_point(|e| !e.0.bit(b));
            let (same, other) = if target.bit(b) {
                ((mid, hi), (lo, mid))
            } else {
                ((lo, mid), (mid, hi))
            };
            if d.bit(b) {
                closer += self.sorted[same.0..same.1]
                    .iter()
                    .filter(|e| keep(e.1))
                    .take(k - closer)
                    .count();
                if closer >= k {
                    return false;
                }
                (lo, hi) = other;
            } else {
                (lo, hi) = same;
            }
        }
        true
    }

    /// Appends to `out` the (at most) `k` peers closest to `target` among those `keep` accepts,
    /// closest first. The XOR order is a trie order: every id whose prefix agrees with the
    /// target's for longer is closer, so the search splits the sorted ids bit by bit and visits
    /// the target's side first, sorting only small ranges.
    pub fn closest(
        &self,
        target: Kid,
        k: usize,
        keep: &impl Fn(PeerId) -> bool,
        out: &mut Vec<PeerId>,
    ) {
        let start = out.len();
        self.visit(target, 0, self.sorted.len(), BITS, start + k, keep, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn visit(
        &self,
        t: Kid,
        lo: usize,
        hi: usize,
        bit: u32,
        want: usize,
        keep: &impl Fn(PeerId) -> bool,
        out: &mut Vec<PeerId>,
    ) {
        if lo >= hi || out.len() >= want {
            return;
        }
        if bit == 0 || hi - lo <= LEAF {
            let s = out.len();
            out.extend(
                self.sorted[lo..hi]
                    .iter()
                    .filter(|e| keep(e.1))
                    .map(|e| e.1),
            );
            let ids = &self.by_peer;
            out[s..].sort_unstable_by_key(|&p| ids[p as usize].xor(t));
            out.truncate(want);
            return;
        }
        let b = bit - 1;
        let mid = lo + self.sorted[lo..hi].partition_point(|e| !e.0.bit(b));
        if t.bit(b) {
            self.visit(t, mid, hi, b, want, keep, out);
            self.visit(t, lo, mid, b, want, keep, out);
        } else {
            self.visit(t, lo, mid, b, want, keep, out);
            self.visit(t, mid, hi, b, want, keep, out);
        }
    }

    /// For each bucket of `me`'s table (index 0..160), the range of `sorted` it covers: walking
    /// down `me`'s bits, the side that differs from `me` at bit `b` is bucket `b`.
    pub fn bucket_ranges(&self, me: Kid) -> Vec<(u32, &[(Kid, PeerId)])> {
        let mut out = Vec::new();
        let (mut lo, mut hi) = (0, self.sorted.len());
        let mut b = BITS;
        while b > 0 && lo < hi {
            b -= 1;
            let mid = lo + self.sorted[lo..hi].partition_point(|e| !e.0.bit(b));
            let (other, mine) = if me.bit(b) {
                ((lo, mid), (mid, hi))
            } else {
                ((mid, hi), (lo, mid))
            };
            if other.0 < other.1 {
                out.push((b, &self.sorted[other.0..other.1]));
            }
            (lo, hi) = mine;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u32) -> Vec<Kid> {
        (0..n)
            .map(|i| Kid::sha1(format!("p{i}").as_bytes()))
            .collect()
    }

    #[test]
    fn closest_matches_a_full_sort() {
        let ids = ids(500);
        let ix = IdIndex::new(&ids);
        let mut rng = SimRng::from_seed(3);
        for round in 0..200 {
            let t = Kid::sha1(format!("t{round}").as_bytes());
            let keep = |p: PeerId| p % 3 != 0;
            let mut got = Vec::new();
            ix.closest(t, 20, &keep, &mut got);
            let mut all: Vec<PeerId> = (0..500).filter(|&p| keep(p)).collect();
            all.sort_by_key(|&p| ids[p as usize].xor(t));
            all.truncate(20);
            assert_eq!(got, all, "round {round}");
            let p = rng.below(500) as PeerId;
            assert_eq!(
                ix.is_among_closest(t, p, 20, &keep),
                all.contains(&p)
                    || (!keep(p) && {
                        // A rejected p: still "among" when fewer than k accepted peers are closer.
                        all.len() < 20 || ids[p as usize].xor(t) < ids[all[19] as usize].xor(t)
                    }),
                "round {round}, peer {p}"
            );
        }
    }

    #[test]
    fn buckets_partition_the_other_ids() {
        let ids = ids(300);
        let ix = IdIndex::new(&ids);
        let me = ids[7];
        let ranges = ix.bucket_ranges(me);
        let total: usize = ranges.iter().map(|r| r.1.len()).sum();
        assert_eq!(total, 299, "every other id in exactly one bucket");
        for (b, r) in ranges {
            assert!(r.iter().all(|e| me.bucket_of(e.0) == Some(b)));
        }
    }

    #[test]
    fn random_ids_fall_in_their_bucket() {
        let me = Kid::sha1(b"me");
        let mut rng = SimRng::from_seed(1);
        for i in [0, 5, 31, 32, 33, 100, 127, 128, 159] {
            for _ in 0..20 {
                assert_eq!(me.bucket_of(me.random_in_bucket(i, &mut rng)), Some(i));
            }
        }
    }
}
