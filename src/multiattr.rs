//! Multi-attribute range queries: a box over the two attributes of a point dataset
//! ([`crate::data::points`]), decomposed into curve-index intervals ([`crate::curve`]).
//!
//! A box query asks for every point inside an axis-aligned square covering `selectivity` of the
//! attribute square, centred on a data point (so boxes fall where the data is). Its exact answer
//! (the points inside) is the ground truth every system is measured against; the intervals are
//! what MARQUES and LEAD look up (a superset of the box when capped; peers filter by the box).

use crate::curve::{Curve, Space};
use anyhow::Result;

/// One box query over sorted 2-D curve indices.
#[derive(Clone, Debug, PartialEq)]
pub struct BoxQuery {
    /// Lower corner (inclusive), per attribute.
    pub lo: [u32; 2],
    /// Upper corner (inclusive), per attribute.
    pub hi: [u32; 2],
    /// Curve-index intervals covering the box (sorted, disjoint, inclusive).
    pub intervals: Vec<(u64, u64)>,
    space: Space,
    curve: Curve,
}

impl BoxQuery {
    /// The box of `selectivity` (share of the attribute square's area) centred on the point
    /// `keys[center]`, clipped to the square, decomposed into at most `max_intervals` intervals.
    pub fn around(
        keys: &[u64],
        center: usize,
        selectivity: f64,
        max_intervals: usize,
    ) -> Result<BoxQuery> {
        let (space, curve) = crate::data::points::space();
        let mut c = [0u32; 2];
        space.decode(curve, keys[center], &mut c);
        let side = (selectivity.sqrt() * 4_294_967_296.0).max(1.0) as u64;
        let mut lo = [0u32; 2];
        let mut hi = [0u32; 2];
        for d in 0..2 {
            let a = u64::from(c[d]).saturating_sub(side / 2);
            let b = (a + side - 1).min(u64::from(u32::MAX));
            lo[d] = a as u32;
            hi[d] = b as u32;
        }
        let intervals = space.intervals(curve, &lo, &hi, max_intervals)?;
        Ok(BoxQuery {
            lo,
            hi,
            intervals,
            space,
            curve,
        })
    }

    /// Whether the point with curve index `index` lies in the box.
    #[inline]
    pub fn contains(&self, index: u64) -> bool {
        let mut p = [0u32; 2];
        self.space.decode(self.curve, index, &mut p);
        (0..2).all(|d| self.lo[d] <= p[d] && p[d] <= self.hi[d])
    }

    /// Points of `keys[a..b]` (indices, end exclusive) inside the box.
    pub fn count(&self, keys: &[u64], a: usize, b: usize) -> u64 {
        keys[a..b.max(a)]
            .iter()
            .filter(|&&k| self.contains(k))
            .count() as u64
    }

    /// Points with a curve index in `[x, y]` inside the box.
    pub fn count_between(&self, keys: &[u64], x: u64, y: u64) -> u64 {
        let (a, b) = index_run(keys, x, y);
        self.count(keys, a, b)
    }

    /// The key-index run `[a, b)` of each interval.
    pub fn runs(&self, keys: &[u64]) -> Vec<(usize, usize)> {
        self.intervals
            .iter()
            .map(|&(x, y)| index_run(keys, x, y))
            .collect()
    }

    /// The points inside the box (their exact count is what a query requests).
    pub fn requested(&self, keys: &[u64]) -> u64 {
        self.runs(keys)
            .iter()
            .map(|&(a, b)| self.count(keys, a, b))
            .sum()
    }

    /// Key indices of the points inside the box, ascending.
    pub fn members(&self, keys: &[u64]) -> Vec<u64> {
        let mut out = Vec::new();
        for (a, b) in self.runs(keys) {
            out.extend((a..b).filter(|&i| self.contains(keys[i])).map(|i| i as u64));
        }
        out
    }
}

/// Refuses box queries on a dataset that is not made of 2-D points (their keys would decode to
/// meaningless attributes).
pub fn check_dataset(kind: crate::workload::QueryKind, dataset: &str) -> Result<()> {
    if kind == crate::workload::QueryKind::Box && !dataset.starts_with("points-") {
        anyhow::bail!(
            "workload.query = \"box\" needs a two-attribute point dataset (dataset.name = \"points-uniform\" or \"points-osm-like\"), not {dataset}"
        );
    }
    Ok(())
}

/// The key-index run `[a, b)` of the keys with a value in `[x, y]`.
pub fn index_run(keys: &[u64], x: u64, y: u64) -> (usize, usize) {
    (
        keys.partition_point(|&k| k < x),
        keys.partition_point(|&k| k <= y),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::points::{generate, PointShape};

    #[test]
    fn a_box_finds_exactly_the_points_inside_it_whatever_the_interval_cap() {
        let keys = generate(PointShape::OsmLike, 100_000, 5);
        let (space, curve) = crate::data::points::space();
        for (center, sel) in [(10usize, 1e-4), (50_000, 1e-3), (99_999, 1e-2), (777, 1e-6)] {
            let b = BoxQuery::around(&keys, center, sel, 1).unwrap();
            let truth: Vec<u64> = (0..keys.len() as u64)
                .filter(|&i| {
                    let mut p = [0u32; 2];
                    space.decode(curve, keys[i as usize], &mut p);
                    (0..2).all(|d| b.lo[d] <= p[d] && p[d] <= b.hi[d])
                })
                .collect();
            assert!(!truth.is_empty(), "the box holds its centre");
            for cap in [1, 4, 16, 256] {
                let b = BoxQuery::around(&keys, center, sel, cap).unwrap();
                assert!(b.intervals.len() <= cap);
                assert_eq!(b.members(&keys), truth, "sel {sel} cap {cap}");
                assert_eq!(b.requested(&keys), truth.len() as u64);
            }
        }
    }
}
