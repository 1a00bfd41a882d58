//! Least-squares fitting helpers (numerically centred, deterministic).

/// A line `y = slope * (x - x0) + y0`, with `x` and `y` centred for precision.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Line {
    /// Reference key.
    pub x0: f64,
    /// Value at `x0`.
    pub y0: f64,
    /// Slope (never negative: predictions must be monotone).
    pub slope: f64,
}

impl Line {
    /// Evaluates the line.
    #[inline]
    pub fn at(&self, x: f64) -> f64 {
        self.slope * (x - self.x0) + self.y0
    }
}

/// Least-squares line through `(xs[i], y0 + i)` (positions are consecutive), slope clamped >= 0.
pub fn fit_positions(xs: &[u64], first_pos: usize) -> Line {
    let n = xs.len();
    if n == 0 {
        return Line {
            x0: 0.0,
            y0: first_pos as f64,
            slope: 0.0,
        };
    }
    let base = xs[0];
    let mx = xs.iter().map(|&x| (x - base) as f64).sum::<f64>() / n as f64;
    let my = (n - 1) as f64 / 2.0;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, &x) in xs.iter().enumerate() {
        let dx = (x - base) as f64 - mx;
        sxy += dx * (i as f64 - my);
        sxx += dx * dx;
    }
    let slope = if sxx > 0.0 { (sxy / sxx).max(0.0) } else { 0.0 };
    Line {
        x0: base as f64 + mx,
        y0: first_pos as f64 + my,
        slope,
    }
}

/// Line through the first and last point (SOSD's `linear_spline` leaf).
pub fn spline_positions(xs: &[u64], first_pos: usize) -> Line {
    let n = xs.len();
    if n < 2 || xs[n - 1] == xs[0] {
        return Line {
            x0: xs.first().map_or(0.0, |&x| x as f64),
            y0: first_pos as f64,
            slope: 0.0,
        };
    }
    let slope = (n - 1) as f64 / (xs[n - 1] - xs[0]) as f64;
    Line {
        x0: xs[0] as f64,
        y0: first_pos as f64,
        slope,
    }
}

/// Least-squares cubic `y = a + b t + c t^2 + d t^3` with `t = (x - lo) / (hi - lo)` in [0, 1].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cubic {
    /// Key at t = 0.
    pub lo: f64,
    /// Key span (t = 1 at lo + span).
    pub span: f64,
    /// Coefficients a, b, c, d.
    pub coef: [f64; 4],
}

impl Cubic {
    /// Evaluates the cubic; `t` is clamped to [0, 1], so outside the fitted range the value is
    /// constant (a cubic checked monotone on [0, 1] stays monotone everywhere).
    #[inline]
    pub fn at(&self, x: f64) -> f64 {
        let t = if self.span > 0.0 {
            ((x - self.lo) / self.span).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let [a, b, c, d] = self.coef;
        a + t * (b + t * (c + t * d))
    }

    /// Whether the cubic is non-decreasing on t in [0, 1] (derivative >= 0 there).
    pub fn monotone_on_unit(&self) -> bool {
        let [_, b, c, d] = self.coef;
        // p'(t) = b + 2c t + 3d t^2: check the ends and the interior extremum.
        let dp = |t: f64| b + 2.0 * c * t + 3.0 * d * t * t;
        if dp(0.0) < 0.0 || dp(1.0) < 0.0 {
            return false;
        }
        if d != 0.0 {
            let t = -c / (3.0 * d);
            if (0.0..=1.0).contains(&t) && dp(t) < 0.0 {
                return false;
            }
        }
        true
    }
}

/// Least-squares cubic through `(xs[i], ys[i])` (normal equations, 4x4, solved by Gaussian
/// elimination with partial pivoting). `None` if the system is singular.
pub fn fit_cubic(xs: &[f64], ys: &[f64]) -> Option<Cubic> {
    let n = xs.len();
    if n < 4 {
        return None;
    }
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    if span <= 0.0 {
        return None;
    }
    let mut m = [[0.0f64; 5]; 4];
    for (&x, &y) in xs.iter().zip(ys) {
        let t = (x - lo) / span;
        let p = [1.0, t, t * t, t * t * t];
        for r in 0..4 {
            for c in 0..4 {
                m[r][c] += p[r] * p[c];
            }
            m[r][4] += p[r] * y;
        }
    }
    for col in 0..4 {
        let piv = (col..4).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[piv][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, piv);
        let pivot_row = m[col];
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (x, p) in row.iter_mut().zip(pivot_row.iter()).skip(col) {
                    *x -= f * p;
                }
            }
        }
    }
    let coef = [
        m[0][4] / m[0][0],
        m[1][4] / m[1][1],
        m[2][4] / m[2][2],
        m[3][4] / m[3][3],
    ];
    Some(Cubic { lo, span, coef })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_fits_exact_data() {
        let xs: Vec<u64> = (0..100).map(|i| 1000 + 10 * i).collect();
        let l = fit_positions(&xs, 5);
        for (i, &x) in xs.iter().enumerate() {
            assert!((l.at(x as f64) - (5 + i) as f64).abs() < 1e-9);
        }
        let s = spline_positions(&xs, 5);
        assert!((s.at(1990.0) - 104.0).abs() < 1e-9);
    }

    #[test]
    fn cubic_fits_a_cubic() {
        let xs: Vec<f64> = (0..200).map(|i| i as f64).collect();
        let ys: Vec<f64> = xs
            .iter()
            .map(|x| 3.0 + 0.5 * x + 0.01 * x * x + 1e-4 * x * x * x)
            .collect();
        let c = fit_cubic(&xs, &ys).unwrap();
        for (&x, &y) in xs.iter().zip(&ys) {
            assert!((c.at(x) - y).abs() < 1e-6, "{x}: {} vs {y}", c.at(x));
        }
        assert!(c.monotone_on_unit());
        let wiggly = Cubic {
            lo: 0.0,
            span: 1.0,
            coef: [0.0, 1.0, -3.0, 2.0],
        };
        assert!(!wiggly.monotone_on_unit());
    }
}

/// Fixed-point scale of a [`FixedCubic`]'s output (2^-90 positions): with coefficients up to
/// 2^34 positions every i128 term stays below 2^126, and a 2^32-step grid loses at most 8
/// positions to coefficient rounding (far less on finer grids relative to the span).
const OUT_BITS: u32 = 90;

/// A cubic evaluated **exactly**: the key is quantised monotonically to `u = (key - lo) >> shift`
/// (clamped to `0..=umax`, at most 2^grid_bits steps), the coefficients are fixed-point integers, and
/// `P(u) = c0 + c1 u + c2 u^2 + c3 u^3` is computed in `i128` without rounding. Monotonicity is
/// verified exactly on the integer grid, so it holds for every key, unlike a floating-point
/// Horner evaluation whose rounding can make a monotone cubic step down by an ulp.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedCubic {
    lo: u64,
    shift: u32,
    umax: u32,
    c: [i128; 4],
}

impl FixedCubic {
    /// Quantises `cubic` (defined on t in [0, 1] over keys `lo..=hi`).
    fn quantize(cubic: &Cubic, lo: u64, hi: u64, grid_bits: u32) -> FixedCubic {
        let span = hi - lo;
        let used = 64 - span.leading_zeros();
        let shift = used.saturating_sub(grid_bits);
        let umax = (span >> shift) as u32;
        // t = u * 2^shift / span; coefficient of u^k = coef_k * (2^shift / span)^k * 2^OUT_BITS.
        let r = if span > 0 {
            (1u64 << shift) as f64 / span as f64
        } else {
            0.0
        };
        let scale = (1u128 << OUT_BITS) as f64;
        let mut c = [0i128; 4];
        for (k, ck) in c.iter_mut().enumerate() {
            *ck = (cubic.coef[k] * r.powi(k as i32) * scale).round() as i128;
        }
        FixedCubic { lo, shift, umax, c }
    }

    /// `P(u + 1) - P(u) >= 0` for every grid step (a quadratic in u: ends and vertex).
    fn monotone(&self) -> bool {
        let [_, c1, c2, c3] = self.c;
        let d = |u: i128| c1 + c2 * (2 * u + 1) + c3 * (3 * u * u + 3 * u + 1);
        if self.umax == 0 {
            return true;
        }
        let last = i128::from(self.umax) - 1;
        if d(0) < 0 || d(last) < 0 {
            return false;
        }
        if c3 != 0 {
            // Vertex of 3 c3 u^2 + (3 c3 + 2 c2) u + ...: u* = -(3 c3 + 2 c2) / (6 c3).
            let v = -(3 * c3 + 2 * c2) as f64 / (6 * c3) as f64;
            for u in [v.floor(), v.ceil()] {
                let u = u as i128;
                if (0..=last).contains(&u) && d(u) < 0 {
                    return false;
                }
            }
        }
        true
    }

    /// Bytes of its parameters (origin, shift, grid size, four i128 coefficients).
    pub const BYTES: usize = 8 + 4 + 4 + 64;

    /// The value at `key` (exact up to the final conversion to f64, which is monotone).
    #[inline]
    pub fn eval(&self, key: u64) -> f64 {
        let u = i128::from((key.saturating_sub(self.lo) >> self.shift).min(u64::from(self.umax)));
        let [c0, c1, c2, c3] = self.c;
        let p = c0 + u * (c1 + u * (c2 + u * c3));
        p as f64 / (1u128 << OUT_BITS) as f64
    }

    /// Least-squares cubic of positions `ys` over keys `xs` (sorted), made monotone on the grid
    /// by blending with the chord `(xs[0], ys[0])`–`(xs[last], ys[last])` where needed.
    /// `grid_bits` (at most 32) sets the key resolution: 32 for a root over all keys, 20 for a leaf.
    pub fn fit(xs: &[u64], ys: &[f64], grid_bits: u32) -> Option<FixedCubic> {
        let grid_bits = grid_bits.min(32);
        let (lo, hi) = (*xs.first()?, *xs.last()?);
        if hi == lo {
            return None;
        }
        let xf: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
        let c = fit_cubic(&xf, ys)?;
        // Re-express on t over [lo, hi] exactly as quantize() expects.
        let c = Cubic {
            lo: lo as f64,
            span: (hi - lo) as f64,
            coef: reparam(&c, lo as f64, (hi - lo) as f64),
        };
        let chord = [ys[0], ys[ys.len() - 1] - ys[0]];
        let blend = |w: f64| Cubic {
            coef: [
                w * c.coef[0] + (1.0 - w) * chord[0],
                w * c.coef[1] + (1.0 - w) * chord[1],
                w * c.coef[2],
                w * c.coef[3],
            ],
            ..c
        };
        let ok = |w: f64| {
            let q = FixedCubic::quantize(&blend(w), lo, hi, grid_bits);
            q.monotone().then_some(q)
        };
        if let Some(q) = ok(1.0) {
            return Some(q);
        }
        let (mut wlo, mut whi) = (0.0, 1.0);
        for _ in 0..30 {
            let mid = (wlo + whi) / 2.0;
            if ok(mid).is_some() {
                wlo = mid;
            } else {
                whi = mid;
            }
        }
        // w = 0 is the chord (non-negative slope): always monotone.
        ok(wlo).or_else(|| ok(0.0))
    }
}

/// Coefficients of cubic `c` re-expressed on t' = (x - lo) / span.
fn reparam(c: &Cubic, lo: f64, span: f64) -> [f64; 4] {
    // t = (x - c.lo) / c.span = a + b t' with a = (lo - c.lo) / c.span, b = span / c.span.
    let a = if c.span > 0.0 {
        (lo - c.lo) / c.span
    } else {
        0.0
    };
    let b = if c.span > 0.0 { span / c.span } else { 0.0 };
    let [p0, p1, p2, p3] = c.coef;
    // p(a + b t') expanded.
    [
        p0 + p1 * a + p2 * a * a + p3 * a * a * a,
        p1 * b + 2.0 * p2 * a * b + 3.0 * p3 * a * a * b,
        p2 * b * b + 3.0 * p3 * a * b * b,
        p3 * b * b * b,
    ]
}
