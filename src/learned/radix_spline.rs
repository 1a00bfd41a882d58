//! RadixSpline (Kipf et al., aiDM 2020): an error-bounded linear spline over (key, position)
//! built in one pass by the greedy spline corridor, plus a radix table over the spline points'
//! key prefixes to find the right segment quickly. Monotone: spline points increase in key and
//! position, and predictions interpolate between consecutive points.

use super::LearnedModel;

/// A trained RadixSpline.
pub struct RadixSpline {
    keys: Vec<u64>,
    pos: Vec<f64>,
    min: u64,
    shift: u32,
    table: Vec<u32>,
    n: usize,
    epsilon: usize,
    radix_bits: u32,
}

impl RadixSpline {
    /// Builds the spline with maximal error `epsilon` and a `radix_bits`-bit radix table.
    pub fn train(keys: &[u64], epsilon: usize, radix_bits: u32) -> RadixSpline {
        let n = keys.len();
        let eps = epsilon as f64;
        let mut sk: Vec<u64> = vec![keys[0]];
        let mut sp: Vec<f64> = vec![0.0];
        let (mut base_k, mut base_p) = (keys[0], 0f64);
        let (mut prev_k, mut prev_p) = (keys[0], 0f64);
        let (mut upper, mut lower) = (f64::INFINITY, f64::NEG_INFINITY);
        // Walk the unique keys with the position of their first occurrence.
        let mut i = keys.partition_point(|&x| x == keys[0]);
        while i < n {
            let (k, p) = (keys[i], i as f64);
            let dx = (k - base_k) as f64;
            let slope = (p - base_p) / dx;
            if slope > upper || slope < lower {
                // The corridor closed: the previous point becomes a knot.
                sk.push(prev_k);
                sp.push(prev_p);
                base_k = prev_k;
                base_p = prev_p;
                let dx = (k - base_k) as f64;
                upper = (p + eps - base_p) / dx;
                lower = (p - eps - base_p) / dx;
            } else {
                upper = upper.min((p + eps - base_p) / dx);
                lower = lower.max((p - eps - base_p) / dx);
            }
            prev_k = k;
            prev_p = p;
            i += 1;
            while i < n && keys[i] == k {
                i += 1;
            }
        }
        if *sk.last().expect("non-empty") != prev_k {
            sk.push(prev_k);
            sp.push(prev_p);
        }
        // Radix table: table[p] = index of the first knot whose prefix is >= p.
        let min = sk[0];
        let span = sk[sk.len() - 1] - min;
        let used = 64 - span.leading_zeros();
        let shift = used.saturating_sub(radix_bits);
        let slots = ((span >> shift) as usize) + 1;
        let mut table = vec![0u32; slots + 1];
        let mut knot = 0usize;
        for (p, slot) in table.iter_mut().enumerate() {
            let bound = min.saturating_add((p as u64) << shift);
            while knot < sk.len() && sk[knot] < bound {
                knot += 1;
            }
            *slot = knot as u32;
        }
        table[slots] = sk.len() as u32;
        RadixSpline {
            keys: sk,
            pos: sp,
            min,
            shift,
            table,
            n,
            epsilon,
            radix_bits,
        }
    }

    /// Number of spline knots.
    pub fn knots(&self) -> usize {
        self.keys.len()
    }
}

impl LearnedModel for RadixSpline {
    fn name(&self) -> String {
        format!("rs:{},{}", self.epsilon, self.radix_bits)
    }

    fn n(&self) -> usize {
        self.n
    }

    #[inline]
    fn predict(&self, key: u64) -> f64 {
        let last = self.keys.len() - 1;
        if key <= self.keys[0] {
            return self.pos[0];
        }
        if key >= self.keys[last] {
            return self.pos[last];
        }
        let p = (((key - self.min) >> self.shift) as usize).min(self.table.len() - 2);
        let lo = self.table[p].saturating_sub(1) as usize;
        let hi = (self.table[p + 1] as usize).clamp(lo + 1, last + 1);
        // The segment [keys[j], keys[j + 1]] containing key.
        let j = lo + self.keys[lo..hi].partition_point(|&k| k <= key) - 1;
        let j = j.min(last - 1);
        let (k0, k1) = (self.keys[j], self.keys[j + 1]);
        let (p0, p1) = (self.pos[j], self.pos[j + 1]);
        let t = (key - k0) as f64 / (k1 - k0) as f64;
        (p0 + t * (p1 - p0)).clamp(p0, p1)
    }

    fn size_bytes(&self) -> usize {
        // Knots (u64 key + f64 position), radix table (u32), min and shift.
        self.keys.len() * 16 + self.table.len() * 4 + 12
    }
}
