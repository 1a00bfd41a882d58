//! The live subset of a sorted ring, as flags over its positions: O(1) marking up and down,
//! O(log n) rank and select, and successor / predecessor scans over a bitset.
//!
//! [`GlobalView`](super::view::GlobalView) keeps every present member sorted by VID; which of
//! them are live changes at every crash and return. Keeping a second sorted vector of the live
//! ones cost O(peers) per churn event (a filter over the whole ring on a crash, a scan of every
//! member on a return); these flags cost O(log peers) per member instead, so 10^6 peers under
//! churn do no per-event work proportional to the ring.

/// Live flags over positions `0..len` of a sorted ring, with a Fenwick tree of live counts.
#[derive(Clone, Debug, Default)]
pub struct LiveSet {
    /// One bit per position.
    bits: Vec<u64>,
    /// Fenwick (binary indexed) tree of live counts, 1-based.
    tree: Vec<u32>,
    len: usize,
    live: usize,
}

impl LiveSet {
    /// `len` positions, all live when `live` is set.
    pub fn new(len: usize, live: bool) -> Self {
        let mut s = LiveSet {
            bits: vec![0; len.div_ceil(64)],
            tree: vec![0; len + 1],
            len,
            live: 0,
        };
        if live {
            for (w, word) in s.bits.iter_mut().enumerate() {
                let n = (len - w * 64).min(64);
                *word = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            }
            s.rebuild();
        }
        s
    }

    /// Rebuilds the counts from the bits (O(n)).
    fn rebuild(&mut self) {
        self.tree.iter_mut().for_each(|t| *t = 0);
        self.live = 0;
        for i in 0..self.len {
            if self.get(i) {
                self.live += 1;
                self.tree[i + 1] += 1;
            }
        }
        for i in 1..=self.len {
            let j = i + (i & i.wrapping_neg());
            if j <= self.len {
                self.tree[j] += self.tree[i];
            }
        }
    }

    /// Number of positions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no positions.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of live positions.
    #[inline]
    pub fn count(&self) -> usize {
        self.live
    }

    /// Whether position `i` is live.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        self.bits[i / 64] >> (i % 64) & 1 == 1
    }

    /// Marks position `i` live or not; returns whether it changed.
    pub fn set(&mut self, i: usize, live: bool) -> bool {
        if self.get(i) == live {
            return false;
        }
        self.bits[i / 64] ^= 1 << (i % 64);
        let mut j = i + 1;
        while j <= self.len {
            if live {
                self.tree[j] += 1;
            } else {
                self.tree[j] -= 1;
            }
            j += j & j.wrapping_neg();
        }
        if live {
            self.live += 1;
        } else {
            self.live -= 1;
        }
        true
    }

    /// Inserts a position at `i` (later positions shift up by one): O(n), for ring changes.
    pub fn insert(&mut self, i: usize, live: bool) {
        let mut flags: Vec<bool> = (0..self.len).map(|j| self.get(j)).collect();
        flags.insert(i, live);
        self.assign(&flags);
    }

    /// Removes position `i` (later positions shift down by one): O(n), for ring changes.
    pub fn remove(&mut self, i: usize) {
        let mut flags: Vec<bool> = (0..self.len).map(|j| self.get(j)).collect();
        flags.remove(i);
        self.assign(&flags);
    }

    fn assign(&mut self, flags: &[bool]) {
        self.len = flags.len();
        self.bits = vec![0; self.len.div_ceil(64)];
        self.tree = vec![0; self.len + 1];
        for (i, &f) in flags.iter().enumerate() {
            if f {
                self.bits[i / 64] |= 1 << (i % 64);
            }
        }
        self.rebuild();
    }

    /// Live positions before position `i`.
    pub fn rank(&self, i: usize) -> usize {
        let mut j = i;
        let mut n = 0usize;
        while j > 0 {
            n += self.tree[j] as usize;
            j &= j - 1;
        }
        n
    }

    /// The position of the `r`-th live position (0-based); `r < count()`.
    pub fn select(&self, r: usize) -> usize {
        debug_assert!(r < self.live);
        let mut pos = 0usize;
        let mut rem = r as u32;
        let mut step = if self.len == 0 {
            0
        } else {
            1usize << (usize::BITS - 1 - self.len.leading_zeros())
        };
        while step > 0 {
            let next = pos + step;
            if next <= self.len && self.tree[next] <= rem {
                pos = next;
                rem -= self.tree[next];
            }
            step >>= 1;
        }
        pos
    }

    /// The first live position at or after `i`, wrapping; `None` when nothing is live.
    #[inline]
    pub fn next_live(&self, i: usize) -> Option<usize> {
        if self.live == 0 {
            return None;
        }
        let i = if i >= self.len { 0 } else { i };
        self.scan_up(i).or_else(|| self.scan_up(0))
    }

    fn scan_up(&self, i: usize) -> Option<usize> {
        let mut w = i / 64;
        let mut word = self.bits[w] & (u64::MAX << (i % 64));
        loop {
            if word != 0 {
                return Some(w * 64 + word.trailing_zeros() as usize);
            }
            w += 1;
            if w >= self.bits.len() {
                return None;
            }
            word = self.bits[w];
        }
    }

    /// The last live position before `i` (at or after it wraps around); `None` when nothing
    /// is live.
    pub fn prev_live(&self, i: usize) -> Option<usize> {
        if self.live == 0 {
            return None;
        }
        (i > 0)
            .then(|| self.scan_down(i - 1))
            .flatten()
            .or_else(|| self.scan_down(self.len - 1))
    }

    fn scan_down(&self, i: usize) -> Option<usize> {
        let mut w = i / 64;
        let sh = 63 - (i % 64);
        let mut word = (self.bits[w] << sh) >> sh;
        loop {
            if word != 0 {
                return Some(w * 64 + 63 - word.leading_zeros() as usize);
            }
            if w == 0 {
                return None;
            }
            w -= 1;
            word = self.bits[w];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LiveSet;

    /// Every query against a plain vector of flags, over a random walk of changes.
    #[test]
    fn matches_a_vector_of_flags() {
        let mut x: u64 = 7;
        let mut rnd = |m: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m as u64) as usize
        };
        for len in [1usize, 63, 64, 65, 200] {
            let mut s = LiveSet::new(len, true);
            let mut f = vec![true; len];
            for step in 0..2000 {
                let i = rnd(f.len());
                let v = rnd(3) == 0;
                assert_eq!(s.set(i, v), f[i] != v);
                f[i] = v;
                if step % 97 == 0 && f.len() > 1 {
                    let j = rnd(f.len());
                    f.remove(j);
                    s.remove(j);
                    let j = rnd(f.len() + 1);
                    f.insert(j, true);
                    s.insert(j, true);
                }
                let live: Vec<usize> = (0..f.len()).filter(|&j| f[j]).collect();
                assert_eq!(s.count(), live.len());
                let q = rnd(f.len());
                assert_eq!(s.rank(q), live.iter().filter(|&&j| j < q).count());
                if !live.is_empty() {
                    let r = rnd(live.len());
                    assert_eq!(s.select(r), live[r]);
                    let next = live.iter().find(|&&j| j >= q).or(live.first()).copied();
                    assert_eq!(s.next_live(q), next);
                    let prev = live.iter().rev().find(|&&j| j < q).or(live.last()).copied();
                    assert_eq!(s.prev_live(q), prev);
                } else {
                    assert_eq!(s.next_live(q), None);
                    assert_eq!(s.prev_live(q), None);
                }
            }
        }
    }
}
