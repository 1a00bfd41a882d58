//! Monotone key shapes: each maps a quantile `u` in [0, 1) (and the key's global index) to a key,
//! non-decreasing in `u`. The generator ([`super::synth`]) feeds them sorted, stratified uniforms,
//! so a shape may keep a *cursor* (where the previous key landed) to make the walk amortised O(1).

use crate::rng::{mix2, unit_from_bits};

/// Inverse standard normal CDF (Acklam's rational approximation plus one Halley step on `libm`'s
/// erfc: ~1e-15 relative error, bit-identical on every build).
pub fn probit(p: f64) -> f64 {
    let x = probit_fast(p);
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * libm::sqrt(std::f64::consts::TAU) * libm::exp(x * x / 2.0);
    x - u / (1.0 + x * u / 2.0)
}

/// Acklam's approximation alone (relative error < 1.2e-9): what the generators use, for speed.
pub fn probit_fast(p: f64) -> f64 {
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let plow = 0.02425;
    if p < plow {
        let q = libm::sqrt(-2.0 * libm::log(p));
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = libm::sqrt(-2.0 * libm::log(1.0 - p));
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// An approximately standard normal variate from one hash: the sum of four 16-bit uniforms,
/// centred and scaled (Irwin–Hall). Cheap and bounded to +-3.46; fine for cascade weights.
#[inline]
pub fn irwin_hall_normal(h: u64) -> f64 {
    let s = (h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48);
    (s as f64 / 65_536.0 - 2.0) * 3f64.sqrt()
}

/// Float to u64 with saturation (NaN -> 0).
#[inline]
pub fn sat_u64(x: f64) -> u64 {
    if x >= 18_446_744_073_709_551_615.0 {
        u64::MAX
    } else if x > 0.0 {
        x as u64
    } else {
        0
    }
}

/// A random multiplicative cascade on a quadtree: the measure of each cell is split among its
/// four children by random weights (some exactly zero: "empty oceans"), recursively, `depth`
/// levels deep. Weights come from a keyed hash of the cell, so nothing is stored.
#[derive(Clone, Debug)]
pub struct Cascade {
    /// Hash key of the cascade.
    pub seed: u64,
    /// Quadtree depth (cells at the bottom: 4^depth).
    pub depth: usize,
    /// Probability that a child gets weight zero (at least one child always survives).
    pub p_empty: f64,
    /// Sigma of the log-normal child weights (larger = more clustered).
    pub sigma: f64,
}

/// Where the previous quantile landed in a [`Cascade`] (the path and its quantile intervals).
#[derive(Clone, Debug, Default)]
pub struct CascadeCursor {
    /// Valid levels on the stack.
    len: usize,
    lo: Vec<f64>,
    hi: Vec<f64>,
    cell: Vec<u64>,
}

impl Cascade {
    fn child_weights(&self, level: usize, cell: u64) -> [f64; 4] {
        let mut w = [0.0; 4];
        let mut any = false;
        for (c, wc) in w.iter_mut().enumerate() {
            let h = mix2(self.seed ^ ((level as u64) << 58), (cell << 2) | c as u64);
            if unit_from_bits(h) >= self.p_empty {
                *wc = libm::exp(self.sigma * irwin_hall_normal(mix2(h, 0xC0FFEE)));
                any = true;
            }
        }
        if !any {
            let c = (mix2(self.seed, cell) % 4) as usize;
            w[c] = 1.0;
        }
        w
    }

    /// Locates quantile `u` in [0, 1): the bottom cell (`2 x depth` bits) and the position within it.
    pub fn locate(&self, u: f64, cur: &mut CascadeCursor) -> (u64, f64) {
        if cur.lo.is_empty() {
            cur.lo = vec![0.0; self.depth + 1];
            cur.hi = vec![0.0; self.depth + 1];
            cur.cell = vec![0; self.depth + 1];
        }
        if cur.len == 0 {
            cur.lo[0] = 0.0;
            cur.hi[0] = 1.0;
            cur.cell[0] = 0;
            cur.len = 1;
        }
        // Pop levels until u is inside (the root always contains u).
        while cur.len > 1 && !(u >= cur.lo[cur.len - 1] && u < cur.hi[cur.len - 1]) {
            cur.len -= 1;
        }
        while cur.len <= self.depth {
            let level = cur.len - 1;
            let (lo, hi, cell) = (cur.lo[level], cur.hi[level], cur.cell[level]);
            let w = self.child_weights(level, cell);
            let total: f64 = w.iter().sum();
            let mut acc = 0.0;
            let mut chosen = 3;
            let mut clo = lo;
            let mut chi = hi;
            for (c, &wc) in w.iter().enumerate() {
                if wc == 0.0 {
                    continue;
                }
                let b_lo = lo + (hi - lo) * (acc / total);
                acc += wc;
                let b_hi = if acc >= total {
                    hi
                } else {
                    lo + (hi - lo) * (acc / total)
                };
                chosen = c;
                clo = b_lo;
                chi = b_hi;
                if u < b_hi {
                    break;
                }
            }
            cur.lo[level + 1] = clo;
            cur.hi[level + 1] = chi;
            cur.cell[level + 1] = (cell << 2) | chosen as u64;
            cur.len += 1;
        }
        let (lo, hi) = (cur.lo[self.depth], cur.hi[self.depth]);
        let frac = if hi > lo {
            ((u - lo) / (hi - lo)).clamp(0.0, 1.0 - f64::EPSILON)
        } else {
            0.0
        };
        (cur.cell[self.depth], frac)
    }
}

/// Hourly activity weights over ~17 years (wiki64-like): growing density, daily and weekly cycles,
/// per-hour log-normal noise; inverse CDF by a forward-walking cursor.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// First timestamp (seconds).
    pub start: u64,
    /// Cumulative normalised weights, one per hour, ending at 1.
    pub cum: Vec<f64>,
}

impl Timeline {
    /// Builds the hourly weights from `seed`.
    pub fn new(seed: u64) -> Self {
        let hours = 17 * 8766;
        let mut cum = Vec::with_capacity(hours + 1);
        cum.push(0.0);
        let mut acc = 0.0;
        for h in 0..hours {
            let years = h as f64 / 8766.0;
            let growth = libm::exp(0.25 * years); // editing activity grows ~28%/year
            let hour_of_day = (h % 24) as f64;
            let daily = 1.0 + 0.6 * libm::sin(std::f64::consts::TAU * (hour_of_day - 8.0) / 24.0);
            let weekday = (h / 24) % 7;
            let weekly = if weekday >= 5 { 0.8 } else { 1.05 };
            let noise = libm::exp(0.35 * crate::rng::normal_from_hash(mix2(seed, h as u64)));
            acc += growth * daily * weekly * noise;
            cum.push(acc);
        }
        for c in &mut cum {
            *c /= acc;
        }
        Timeline {
            start: 978_307_200,
            cum,
        }
    }

    /// Timestamp (seconds) at quantile `u`; `cursor` is the hour of the previous call.
    pub fn at(&self, u: f64, cursor: &mut usize) -> u64 {
        let last = self.cum.len() - 2;
        if *cursor == 0 || self.cum[*cursor] > u {
            *cursor = self
                .cum
                .partition_point(|&c| c <= u)
                .saturating_sub(1)
                .min(last);
        }
        while *cursor < last && self.cum[*cursor + 1] <= u {
            *cursor += 1;
        }
        let (lo, hi) = (self.cum[*cursor], self.cum[*cursor + 1]);
        let frac = if hi > lo {
            ((u - lo) / (hi - lo)).clamp(0.0, 1.0 - f64::EPSILON)
        } else {
            0.0
        };
        self.start + *cursor as u64 * 3600 + (frac * 3600.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probit_inverts_the_normal_cdf() {
        for &p in &[1e-10, 0.001, 0.1, 0.5, 0.9, 0.999] {
            let x = probit(p);
            let back = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
            assert!((back - p).abs() / p < 1e-9, "{p} -> {x} -> {back}");
        }
    }

    #[test]
    fn cascade_is_monotone_and_reuses_the_cursor() {
        let c = Cascade {
            seed: 5,
            depth: 10,
            p_empty: 0.3,
            sigma: 1.5,
        };
        let mut cur = CascadeCursor::default();
        let mut prev = (0u64, 0.0f64);
        for i in 0..100_000 {
            let u = i as f64 / 100_000.0;
            let got = c.locate(u, &mut cur);
            assert!(
                got.0 > prev.0 || (got.0 == prev.0 && got.1 >= prev.1),
                "not monotone at {u}"
            );
            prev = got;
        }
        // Fresh cursor gives the same answer as a warm one.
        let mut fresh = CascadeCursor::default();
        assert_eq!(
            c.locate(0.123456, &mut fresh),
            c.locate(0.123456, &mut CascadeCursor::default())
        );
    }
}
