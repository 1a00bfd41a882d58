//! Implicit storage for a growing key set (FRM runs): which keys of the shared sorted array are
//! stored yet, and which peer holds them, without any per-peer copy of the keys.
//!
//! - **Arrival order**: a seeded permutation of the key indices (a Feistel network with cycle
//!   walking, so no table of N entries): arrivals `0 .. n_train` are the training set, placed and
//!   learned at t = 0; the others arrive one insert at a time, in that order.
//! - **Presence**: a stamp per key (0 = not stored, 1 = training key, `s + 2` = the `s`-th
//!   insert stored) and a Fenwick tree of present keys (ranks and counts in O(log N)).
//! - **Holdings**: every ring member (in VID order, rank `k`) holds the key indices
//!   `[hi[k - 1], hi[k])`; rank 0 also holds the wrap part `[hi[P - 1], N)` (keys hashed beyond
//!   the last VID). Holdings follow the ring order at all times: keys only ever move across the
//!   boundary between two ring neighbours (re-homing moves a boundary), so a range is always a
//!   run of consecutive holders and a walk can never miss a key.

use crate::rng::{mix2, splitmix64};

/// A bijection of `[0, n)` (a 4-round Feistel network on the smallest even-bit power of two
/// `>= n`, cycle-walking back into range).
#[derive(Clone, Debug)]
pub struct Arrivals {
    n: u64,
    half: u32,
    keys: [u64; 4],
}

impl Arrivals {
    /// The permutation of `[0, n)` of seed `seed`.
    pub fn new(n: u64, seed: u64) -> Self {
        let bits = (64 - n.max(2).saturating_sub(1).leading_zeros()).max(2);
        let half = bits.div_ceil(2);
        let mut keys = [0u64; 4];
        for (i, k) in keys.iter_mut().enumerate() {
            *k = mix2(seed, i as u64 + 1);
        }
        Arrivals { n, half, keys }
    }

    #[inline]
    fn round(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half) - 1;
        let (mut l, mut r) = (x >> self.half, x & mask);
        for k in self.keys {
            let f = splitmix64(r ^ k) & mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half) | r
    }

    /// The key index of arrival `j` (`j < n`).
    pub fn at(&self, j: u64) -> u64 {
        debug_assert!(j < self.n);
        let mut x = self.round(j);
        while x >= self.n {
            x = self.round(x);
        }
        x
    }
}

/// Counts of present keys by index (a Fenwick tree).
#[derive(Clone, Debug)]
struct Fenwick {
    t: Vec<u32>,
}

impl Fenwick {
    fn new(n: usize) -> Self {
        Fenwick { t: vec![0; n + 1] }
    }
    fn add(&mut self, i: usize) {
        let mut i = i + 1;
        while i < self.t.len() {
            self.t[i] += 1;
            i += i & i.wrapping_neg();
        }
    }
    /// Present keys among indices `< i`.
    fn prefix(&self, i: usize) -> u64 {
        let mut i = i.min(self.t.len() - 1);
        let mut s = 0u64;
        while i > 0 {
            s += u64::from(self.t[i]);
            i &= i - 1;
        }
        s
    }
    /// The smallest index `i` with `prefix(i + 1) > r` (the present key of rank `r`).
    fn select(&self, mut r: u64) -> usize {
        let mut pos = 0usize;
        let mut step = (self.t.len()).next_power_of_two();
        while step > 0 {
            let nxt = pos + step;
            if nxt < self.t.len() && u64::from(self.t[nxt]) <= r {
                pos = nxt;
                r -= u64::from(self.t[nxt]);
            }
            step >>= 1;
        }
        pos
    }
}

/// Sums of per-key values of present keys by index (a Fenwick tree of f64).
#[derive(Clone, Debug, Default)]
struct FenwickSum {
    t: Vec<f64>,
}

impl FenwickSum {
    fn add(&mut self, i: usize, v: f64) {
        let mut i = i + 1;
        while i < self.t.len() {
            self.t[i] += v;
            i += i & i.wrapping_neg();
        }
    }
    fn prefix(&self, i: usize) -> f64 {
        let mut i = i.min(self.t.len().saturating_sub(1));
        let mut s = 0.0;
        while i > 0 {
            s += self.t[i];
            i &= i - 1;
        }
        s
    }
}

/// Which keys are stored and which ring member holds them.
#[derive(Clone, Debug)]
pub struct Store {
    n: u64,
    stamp: Vec<u32>,
    present: Fenwick,
    /// Sums of each present key's value (its offset in its leaf, see [`Store::set_values`]).
    values: FenwickSum,
    value_of: Vec<f64>,
    /// Arrival order of the keys.
    pub arrivals: Arrivals,
    /// Keys placed and learned at t = 0.
    pub n_train: u64,
    /// Arrivals issued so far (`n_train ..= n`).
    pub next_arrival: u64,
    /// Inserts stored so far.
    pub stored: u64,
    hi: Vec<u64>,
}

impl Store {
    /// `n` keys of which the first `n_train` arrivals (of seed `seed`) are present.
    pub fn new(n: u64, n_train: u64, seed: u64) -> Self {
        let arrivals = Arrivals::new(n, seed);
        let mut stamp = vec![0u32; n as usize];
        let mut present = Fenwick::new(n as usize);
        for j in 0..n_train {
            let i = arrivals.at(j) as usize;
            stamp[i] = 1;
            present.add(i);
        }
        Store {
            n,
            stamp,
            present,
            values: FenwickSum::default(),
            value_of: Vec::new(),
            arrivals,
            n_train,
            next_arrival: n_train,
            stored: 0,
            hi: Vec::new(),
        }
    }

    /// Total keys (present or to come).
    pub fn len(&self) -> u64 {
        self.n
    }

    /// True when the dataset is empty.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Indices of the training keys, ascending.
    pub fn training(&self) -> Vec<usize> {
        (0..self.n as usize)
            .filter(|&i| self.stamp[i] == 1)
            .collect()
    }

    /// Sets the holdings: `hi[k]` ends rank `k`'s part (non-decreasing, at most N).
    pub fn set_bounds(&mut self, hi: Vec<u64>) {
        debug_assert!(hi.windows(2).all(|w| w[0] <= w[1]));
        self.hi = hi;
    }

    /// The boundary after rank `k`.
    pub fn bound(&self, k: usize) -> u64 {
        self.hi[k]
    }

    /// Moves the boundary after rank `k` to `to`, clamped between its neighbours; returns the
    /// boundary actually set.
    pub fn move_bound(&mut self, k: usize, to: u64) -> u64 {
        let (lo, hi) = self.bound_range(k);
        let v = to.clamp(lo, hi);
        self.hi[k] = v;
        v
    }

    /// Where the boundary after rank `k` may lie without reordering holdings.
    pub fn bound_range(&self, k: usize) -> (u64, u64) {
        let lo = if k == 0 { 0 } else { self.hi[k - 1] };
        let hi = self.hi.get(k + 1).copied().unwrap_or(self.n);
        (lo, hi)
    }

    /// Ring members.
    pub fn ranks(&self) -> usize {
        self.hi.len()
    }

    /// Rank `k`'s holdings as up to two index intervals in key order (rank 0: `[0, hi[0])` and
    /// the wrap part).
    pub fn parts(&self, k: usize) -> [(u64, u64); 2] {
        let p = self.hi.len();
        if k == 0 {
            [(0, self.hi[0]), (self.hi[p - 1], self.n)]
        } else {
            [(self.hi[k - 1], self.hi[k]), (0, 0)]
        }
    }

    /// The rank holding key index `i`.
    pub fn holder(&self, i: u64) -> usize {
        let k = self.hi.partition_point(|&h| h <= i);
        if k == self.hi.len() {
            0
        } else {
            k
        }
    }

    /// Whether key index `i` is stored.
    #[inline]
    pub fn is_present(&self, i: u64) -> bool {
        self.stamp[i as usize] != 0
    }

    /// Stores key index `i` (an insert arrived); false when it was stored already.
    pub fn store(&mut self, i: u64) -> bool {
        if self.stamp[i as usize] != 0 {
            return false;
        }
        self.stored += 1;
        self.stamp[i as usize] = (self.stored + 1).min(u64::from(u32::MAX)) as u32;
        self.present.add(i as usize);
        if let Some(&v) = self.value_of.get(i as usize) {
            self.values.add(i as usize, v);
        }
        true
    }

    /// Gives every key a value (`value_of[i]`) whose sums over present keys
    /// [`Store::value_sum`] returns.
    pub fn set_values(&mut self, value_of: Vec<f64>) {
        let mut f = FenwickSum {
            t: vec![0.0; self.n as usize + 1],
        };
        for (i, &v) in value_of.iter().enumerate() {
            if self.stamp[i] != 0 {
                f.add(i, v);
            }
        }
        self.values = f;
        self.value_of = value_of;
    }

    /// Sum of the values of the present keys of `[a, b)`.
    pub fn value_sum(&self, a: u64, b: u64) -> f64 {
        if b <= a {
            return 0.0;
        }
        self.values.prefix(b as usize) - self.values.prefix(a as usize)
    }

    /// The stamp below which keys were present when `stored` inserts had been stored (a query
    /// counts the keys present when it was issued).
    pub fn stamp_limit(stored: u64) -> u32 {
        (stored + 1).min(u64::from(u32::MAX)) as u32
    }

    /// Keys of `[a, b)` present with a stamp `<= limit`.
    pub fn count_at(&self, a: u64, b: u64, limit: u32) -> u64 {
        (a..b.min(self.n))
            .filter(|&i| {
                let s = self.stamp[i as usize];
                s != 0 && s <= limit
            })
            .count() as u64
    }

    /// Present keys of `[a, b)`.
    pub fn count(&self, a: u64, b: u64) -> u64 {
        if b <= a {
            return 0;
        }
        self.present.prefix(b as usize) - self.present.prefix(a as usize)
    }

    /// Present keys rank `k` holds.
    pub fn held(&self, k: usize) -> u64 {
        self.parts(k).iter().map(|&(a, b)| self.count(a, b)).sum()
    }

    /// Present keys `k` holds below index `i` (its local rank of `i`).
    pub fn local_rank(&self, k: usize, i: u64) -> u64 {
        self.parts(k)
            .iter()
            .map(|&(a, b)| self.count(a, b.min(i)))
            .sum()
    }

    /// The present key of local rank `r` at rank `k` (`r < held(k)`).
    pub fn local_select(&self, k: usize, mut r: u64) -> u64 {
        for (a, b) in self.parts(k) {
            let c = self.count(a, b);
            if r < c {
                return self.present.select(self.present.prefix(a as usize) + r) as u64;
            }
            r -= c;
        }
        self.n.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_a_permutation() {
        for n in [1u64, 2, 3, 17, 1000, 4097] {
            let a = Arrivals::new(n, 7);
            let mut seen = vec![false; n as usize];
            for j in 0..n {
                let i = a.at(j) as usize;
                assert!(!seen[i], "n = {n}: {i} twice");
                seen[i] = true;
            }
        }
        let (a, b) = (Arrivals::new(1000, 1), Arrivals::new(1000, 2));
        assert_ne!(
            (0..10).map(|j| a.at(j)).collect::<Vec<_>>(),
            (0..10).map(|j| b.at(j)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn ranks_selects_and_holders() {
        let mut s = Store::new(1000, 300, 3);
        assert_eq!(s.count(0, 1000), 300);
        assert_eq!(s.training().len(), 300);
        s.set_bounds(vec![100, 400, 400, 900]);
        assert_eq!(s.holder(50), 0);
        assert_eq!(s.holder(100), 1);
        assert_eq!(s.holder(450), 3);
        assert_eq!(s.holder(950), 0, "the wrap part");
        assert_eq!((0..4).map(|k| s.held(k)).sum::<u64>(), 300);
        let free = (0..1000u64).find(|&i| !s.is_present(i)).unwrap();
        assert!(s.store(free) && !s.store(free));
        assert_eq!(s.count(0, 1000), 301);
        for k in 0..4 {
            let h = s.held(k);
            for r in (0..h).step_by(7) {
                let i = s.local_select(k, r);
                assert!(s.is_present(i));
                assert_eq!(s.local_rank(k, i), r, "rank {k}, r {r}");
                assert_eq!(s.holder(i), k);
            }
        }
        assert_eq!(s.move_bound(1, 50), 100, "clamped at the previous boundary");
        assert_eq!(s.move_bound(1, 2000), 400, "clamped at the next boundary");
        assert_eq!(s.count_at(0, 1000, Store::stamp_limit(0)), 300);
    }
}
