//! Two-stage Recursive Model Index (SOSD's RMI layout): a root model predicts a position, which
//! picks one of B leaf models; the leaf predicts the position. Training is least squares per leaf,
//! parallel across leaves and deterministic (each leaf's sums run over its own contiguous keys).
//!
//! Monotonicity by construction: the root is non-decreasing (clamped non-negative slopes, a cubic
//! root is blended towards a line where it is not monotone on the data range, the radix table
//! is a CDF), so leaves own contiguous, ordered key ranges; each leaf's prediction is clamped to its
//! position window `[first_j, first_{j+1} - 1]`, and leaf lines have non-negative slopes (a cubic
//! leaf that is not monotone on its range is replaced by its line).

use super::fit::{fit_positions, spline_positions, FixedCubic, Line};
use super::LearnedModel;
use anyhow::{bail, Result};
use rayon::prelude::*;

/// Root model families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    /// Least-squares line over all keys.
    Linear,
    /// Line fitted on the keys between the 0.1% and 99.9% quantiles (robust to outliers).
    RobustLinear,
    /// Least-squares cubic (blended towards a line where it is not monotone).
    Cubic,
    /// Radix table over the top `bits` bits of `key - min`, interpolated.
    Radix(u32),
}

impl Root {
    /// Parses `linear`, `robust-linear` (or `robust_linear`), `cubic`, `radixN`.
    pub fn parse(s: &str) -> Result<Root> {
        Ok(match s {
            "linear" => Root::Linear,
            "robust-linear" | "robust_linear" => Root::RobustLinear,
            "cubic" => Root::Cubic,
            r if r.starts_with("radix") => {
                let bits: u32 = r[5..].parse().unwrap_or(18);
                if !(1..=28).contains(&bits) {
                    bail!("radix root bits must be in 1..=28, got {bits}");
                }
                Root::Radix(bits)
            }
            _ => bail!("unknown RMI root '{s}': linear, robust-linear, cubic, radixN"),
        })
    }

    fn label(&self) -> String {
        match self {
            Root::Linear => "linear".into(),
            Root::RobustLinear => "robust-linear".into(),
            Root::Cubic => "cubic".into(),
            Root::Radix(b) => format!("radix{b}"),
        }
    }
}

/// Leaf model families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafKind {
    /// Least-squares line.
    Linear,
    /// Line through the leaf's first and last key.
    LinearSpline,
    /// Least-squares cubic (replaced by its line where not monotone).
    Cubic,
}

impl LeafKind {
    /// Parses `linear`, `linear-spline` (or `linear_spline`), `cubic`.
    pub fn parse(s: &str) -> Result<LeafKind> {
        Ok(match s {
            "linear" => LeafKind::Linear,
            "linear-spline" | "linear_spline" => LeafKind::LinearSpline,
            "cubic" => LeafKind::Cubic,
            _ => bail!("unknown RMI leaf '{s}': linear, linear-spline, cubic"),
        })
    }

    fn label(&self) -> &'static str {
        match self {
            LeafKind::Linear => "linear",
            LeafKind::LinearSpline => "linear-spline",
            LeafKind::Cubic => "cubic",
        }
    }
}

enum RootModel {
    Line(Line),
    Cubic(FixedCubic),
    Radix {
        min: u64,
        shift: u32,
        table: Vec<u32>,
    },
}

impl RootModel {
    fn bytes(&self) -> usize {
        match self {
            RootModel::Line(_) => 16,
            RootModel::Cubic(_) => FixedCubic::BYTES,
            RootModel::Radix { table, .. } => 4 * table.len() + 8,
        }
    }

    /// Predicted position (monotone in key).
    #[inline]
    fn position(&self, key: u64) -> f64 {
        match self {
            RootModel::Line(l) => l.at(key as f64),
            RootModel::Cubic(c) => c.eval(key),
            RootModel::Radix { min, shift, table } => {
                let off = key.saturating_sub(*min);
                let p = ((off >> shift) as usize).min(table.len() - 2);
                let frac = if *shift == 0 {
                    0.0
                } else {
                    (off - ((p as u64) << shift)).min((1u64 << shift) - 1) as f64
                        / (1u64 << shift) as f64
                };
                let (a, b) = (f64::from(table[p]), f64::from(table[p + 1]));
                a + frac * (b - a)
            }
        }
    }
}

/// A linear leaf: 24 bytes, as in SOSD (slope, intercept, and two u32: first position, error).
#[derive(Clone, Copy, Debug, Default)]
struct LinearLeaf {
    slope: f64,
    intercept: f64,
    first: u32,
    err: u32,
}

/// A cubic leaf: an exactly evaluated cubic, plus first position and error.
#[derive(Clone, Copy, Debug)]
struct CubicLeaf {
    cubic: Option<FixedCubic>,
    line: (f64, f64),
    first: u32,
    err: u32,
}

enum Leaves {
    Linear(Vec<LinearLeaf>),
    Cubic(Vec<CubicLeaf>),
}

/// A trained two-stage RMI.
pub struct Rmi {
    root_kind: Root,
    leaf_kind: LeafKind,
    root: RootModel,
    leaves: Leaves,
    n: usize,
    b: usize,
}

fn line_root(keys: &[u64]) -> Line {
    fit_positions(keys, 0)
}

fn train_root(keys: &[u64], kind: Root) -> RootModel {
    let n = keys.len();
    match kind {
        Root::Linear => RootModel::Line(line_root(keys)),
        Root::RobustLinear => {
            let lo = n / 1000;
            let hi = (n - n / 1000).max(lo + 1);
            let mut l = fit_positions(&keys[lo..hi], lo);
            if l.slope == 0.0 {
                l = line_root(keys);
            }
            RootModel::Line(l)
        }
        Root::Cubic => {
            // Fit on a deterministic sample of up to 1M points (a cubic has 4 parameters); the
            // fixed-point cubic is monotone on its whole key range by construction.
            let step = (n / 1_000_000).max(1);
            let xs: Vec<u64> = keys.iter().step_by(step).copied().collect();
            let ys: Vec<f64> = (0..n).step_by(step).map(|i| i as f64).collect();
            match FixedCubic::fit(&xs, &ys, 32) {
                Some(c) => RootModel::Cubic(c),
                None => RootModel::Line(line_root(keys)),
            }
        }
        Root::Radix(bits) => {
            let min = keys[0];
            let span = keys[n - 1] - min;
            let used = 64 - span.leading_zeros();
            let shift = used.saturating_sub(bits);
            let slots = ((span >> shift) as usize) + 1;
            let mut table = vec![0u32; slots + 1];
            // table[p] = number of keys whose prefix is < p (a CDF on prefixes).
            for (p, slot) in table.iter_mut().enumerate().skip(1) {
                let bound = min.saturating_add((p as u64) << shift);
                *slot = keys.partition_point(|&k| k < bound) as u32;
            }
            table[slots] = n as u32;
            RootModel::Radix { min, shift, table }
        }
    }
}

impl Rmi {
    /// Trains on sorted `keys` with `b` leaves.
    pub fn train(keys: &[u64], root: Root, leaf: LeafKind, b: usize) -> Rmi {
        let n = keys.len();
        let root_model = train_root(keys, root);
        let scale = b as f64 / n as f64;
        let leaf_of = |k: u64| -> usize {
            (root_model.position(k) * scale).clamp(0.0, (b - 1) as f64) as usize
        };
        // Leaf j owns keys[first[j]..first[j + 1]] (contiguous: leaf_of is monotone).
        let first: Vec<usize> = (0..=b)
            .into_par_iter()
            .map(|j| {
                if j == b {
                    n
                } else {
                    keys.partition_point(|&k| leaf_of(k) < j)
                }
            })
            .collect();
        let leaves = match leaf {
            LeafKind::Linear | LeafKind::LinearSpline => Leaves::Linear(
                (0..b)
                    .into_par_iter()
                    .map(|j| {
                        let (s, e) = (first[j], first[j + 1]);
                        let line = match leaf {
                            LeafKind::LinearSpline => spline_positions(&keys[s..e], s),
                            _ => fit_positions(&keys[s..e], s),
                        };
                        let mut l = LinearLeaf {
                            slope: line.slope,
                            intercept: line.y0 - line.slope * line.x0,
                            first: s as u32,
                            err: 0,
                        };
                        l.err = leaf_error(&keys[s..e], s, e, |k| l.slope * k as f64 + l.intercept);
                        l
                    })
                    .collect(),
            ),
            LeafKind::Cubic => Leaves::Cubic(
                (0..b)
                    .into_par_iter()
                    .map(|j| {
                        let (s, e) = (first[j], first[j + 1]);
                        let ys: Vec<f64> = (s..e).map(|i| i as f64).collect();
                        // Fewer than 4 points, or a single key: the leaf's line instead.
                        let cubic = if e - s >= 4 {
                            FixedCubic::fit(&keys[s..e], &ys, 20)
                        } else {
                            None
                        };
                        let l = fit_positions(&keys[s..e], s);
                        let line = (l.slope, l.y0 - l.slope * l.x0);
                        let mut leaf = CubicLeaf {
                            cubic,
                            line,
                            first: s as u32,
                            err: 0,
                        };
                        leaf.err = leaf_error(&keys[s..e], s, e, |k| eval_cubic(&leaf, k));
                        leaf
                    })
                    .collect(),
            ),
        };
        Rmi {
            root_kind: root,
            leaf_kind: leaf,
            root: root_model,
            leaves,
            n,
            b,
        }
    }

    /// The leaf the root sends `key` to.
    #[inline]
    pub fn leaf_index(&self, key: u64) -> usize {
        (self.root.position(key) * (self.b as f64 / self.n as f64)).clamp(0.0, (self.b - 1) as f64)
            as usize
    }

    /// Number of leaves.
    pub fn leaves(&self) -> usize {
        self.b
    }

    /// Leaf `j`'s line (slope, intercept over the raw key) when the leaves are linear.
    pub fn linear_line(&self, j: usize) -> Option<(f64, f64)> {
        match &self.leaves {
            Leaves::Linear(v) => v.get(j).map(|l| (l.slope, l.intercept)),
            Leaves::Cubic(_) => None,
        }
    }

    /// The prediction of leaf `j` for `key` with the line `(slope, intercept)` in place of the
    /// leaf's own, clamped to the leaf's position window like [`LearnedModel::predict`]: any
    /// line with a non-negative slope keeps the model monotone (FRM's updated leaves).
    #[inline]
    pub fn predict_with(&self, key: u64, j: usize, (slope, intercept): (f64, f64)) -> f64 {
        let (lo, hi) = self.window(j);
        (slope.max(0.0) * key as f64 + intercept)
            .clamp(lo, hi)
            .min((self.n - 1) as f64)
    }

    /// Leaf `j`'s position window `[first_j, first_{j+1} - 1]`.
    pub fn window(&self, j: usize) -> (f64, f64) {
        let (first, next) = match &self.leaves {
            Leaves::Linear(v) => (v[j].first, v.get(j + 1).map_or(self.n as u32, |x| x.first)),
            Leaves::Cubic(v) => (v[j].first, v.get(j + 1).map_or(self.n as u32, |x| x.first)),
        };
        (
            f64::from(first),
            f64::from(next.saturating_sub(1).max(first)),
        )
    }

    /// The largest per-leaf error bound (positions).
    pub fn max_leaf_error(&self) -> u32 {
        match &self.leaves {
            Leaves::Linear(v) => v.iter().map(|l| l.err).max().unwrap_or(0),
            Leaves::Cubic(v) => v.iter().map(|l| l.err).max().unwrap_or(0),
        }
    }
}

#[inline]
fn eval_cubic(l: &CubicLeaf, key: u64) -> f64 {
    match &l.cubic {
        Some(c) => c.eval(key),
        None => l.line.0 * key as f64 + l.line.1,
    }
}

/// Max |prediction (clamped to the window) - first position of the key| over a leaf's keys.
fn leaf_error(keys: &[u64], s: usize, e: usize, f: impl Fn(u64) -> f64) -> u32 {
    let hi = e.saturating_sub(1).max(s) as f64;
    let mut err = 0.0f64;
    let mut run_start = s;
    for (i, &k) in keys.iter().enumerate() {
        if i > 0 && keys[i - 1] != k {
            run_start = s + i;
        }
        let p = f(k).clamp(s as f64, hi);
        err = err.max((p - run_start as f64).abs());
    }
    err.ceil().min(f64::from(u32::MAX)) as u32
}

impl LearnedModel for Rmi {
    fn name(&self) -> String {
        format!(
            "rmi:{},{},{}",
            self.root_kind.label(),
            self.leaf_kind.label(),
            self.b
        )
    }

    fn n(&self) -> usize {
        self.n
    }

    #[inline]
    fn predict(&self, key: u64) -> f64 {
        let j = self.leaf_index(key);
        let (first, next, raw) = match &self.leaves {
            Leaves::Linear(v) => {
                let l = &v[j];
                let next = v.get(j + 1).map_or(self.n as u32, |x| x.first);
                (l.first, next, l.slope * key as f64 + l.intercept)
            }
            Leaves::Cubic(v) => {
                let l = &v[j];
                let next = v.get(j + 1).map_or(self.n as u32, |x| x.first);
                (l.first, next, eval_cubic(l, key))
            }
        };
        let lo = f64::from(first);
        let hi = f64::from(next.saturating_sub(1).max(first));
        raw.clamp(lo, hi).min((self.n - 1) as f64)
    }

    fn size_bytes(&self) -> usize {
        let leaves = match &self.leaves {
            Leaves::Linear(v) => v.len() * std::mem::size_of::<LinearLeaf>(),
            // Each leaf holds a fixed-point cubic (or its line) and its first position and error.
            Leaves::Cubic(v) => v.len() * (FixedCubic::BYTES + 8),
        };
        self.root.bytes() + leaves
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_one_sizes_match_sosd() {
        let keys: Vec<u64> = (0..100_000u64).map(|i| i * i).collect();
        assert_eq!(
            Rmi::train(&keys, Root::RobustLinear, LeafKind::Linear, 32_768).size_bytes(),
            786_448
        );
        assert_eq!(
            Rmi::train(&keys, Root::Cubic, LeafKind::Linear, 1024).size_bytes(),
            80 + 1024 * 24
        );
        let radix = Rmi::train(&keys, Root::Radix(18), LeafKind::Linear, 32_768);
        // 2^18 + 1 table entries (a CDF needs both ends) + min and shift + the leaves.
        assert!(
            radix.size_bytes() <= 1_835_008 + 8 + 4 + 24,
            "{}",
            radix.size_bytes()
        );
    }

    #[test]
    fn exact_on_linear_data() {
        let keys: Vec<u64> = (0..50_000u64).map(|i| 7 + 3 * i).collect();
        let m = Rmi::train(&keys, Root::Linear, LeafKind::Linear, 128);
        for (i, &k) in keys.iter().enumerate().step_by(97) {
            assert!(
                (m.predict(k) - i as f64).abs() < 1e-3,
                "{i}: {}",
                m.predict(k)
            );
        }
        assert!(
            m.max_leaf_error() <= 1,
            "error bounds are ceilings of float errors"
        );
    }
}
