//! Space-filling curves: d-dimensional Z-order (Morton) and Hilbert indices of up to 64 bits in
//! total, and the decomposition of a box into a bounded set of curve-index intervals. MARQUES
//! places multi-attribute points by such an index; LEAD can answer box queries by walking the
//! intervals of a box.
//!
//! Index layout (both curves): bit level `j` from the most significant down, and within a level
//! dimension 0 first, so the index of a dyadic sub-cube is one contiguous range.
//!
//! ```
//! use leadsim::curve::{Curve, Space};
//! let s = Space::new(2, 4).unwrap(); // a 16 x 16 grid
//! let h = s.encode(Curve::Hilbert, &[3, 5]);
//! let mut back = [0; 2];
//! s.decode(Curve::Hilbert, h, &mut back);
//! assert_eq!(back, [3, 5]);
//! // The box [2, 5] x [4, 7] as index intervals (inclusive), merged, at most 4 of them.
//! let iv = s.intervals(Curve::Hilbert, &[2, 4], &[5, 7], 4).unwrap();
//! assert!(iv.len() <= 4 && iv.iter().any(|&(a, b)| a <= h && h <= b));
//! ```

use anyhow::{bail, Result};

/// Which curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// Bit interleaving (Morton order): cheap, with jumps between quadrants.
    Z,
    /// Hilbert order: consecutive indices are neighbouring cells (better locality).
    Hilbert,
}

/// A grid of `dims` dimensions with `bits` bits per coordinate (`dims x bits <= 64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    dims: usize,
    bits: u32,
}

/// Most dimensions a space may have (boxes are split into 2^dims children).
pub const MAX_DIMS: usize = 16;

impl Space {
    /// A space, or an error when `dims x bits` exceeds 64 or either is 0.
    pub fn new(dims: usize, bits: u32) -> Result<Space> {
        if dims == 0 || dims > MAX_DIMS || bits == 0 || bits > 32 || dims as u32 * bits > 64 {
            bail!(
                "a curve space needs 1..={MAX_DIMS} dimensions and 1..=32 bits per dimension with dims x bits <= 64, got {dims} x {bits}"
            );
        }
        Ok(Space { dims, bits })
    }

    /// Dimensions.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Bits per coordinate.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Bits of an index.
    pub fn index_bits(&self) -> u32 {
        self.dims as u32 * self.bits
    }

    /// The largest coordinate.
    pub fn max_coord(&self) -> u32 {
        (((1u64 << self.bits) - 1) & u64::from(u32::MAX)) as u32
    }

    /// Interleaves the transposed form (dimension 0 most significant within a level).
    fn interleave(&self, x: &[u32]) -> u64 {
        let mut h = 0u64;
        for j in (0..self.bits).rev() {
            for &xi in x.iter().take(self.dims) {
                h = (h << 1) | u64::from((xi >> j) & 1);
            }
        }
        h
    }

    fn deinterleave(&self, h: u64, x: &mut [u32]) {
        x[..self.dims].fill(0);
        let mut k = self.index_bits();
        for j in (0..self.bits).rev() {
            for xi in x.iter_mut().take(self.dims) {
                k -= 1;
                *xi |= (((h >> k) & 1) as u32) << j;
            }
        }
    }

    /// The curve index of the cell at `coords` (each `<= max_coord()`, `dims` of them).
    pub fn encode(&self, curve: Curve, coords: &[u32]) -> u64 {
        debug_assert!(coords.len() >= self.dims);
        match curve {
            Curve::Z => self.interleave(coords),
            Curve::Hilbert => {
                let mut x = [0u32; MAX_DIMS];
                x[..self.dims].copy_from_slice(&coords[..self.dims]);
                axes_to_transpose(&mut x[..self.dims], self.bits);
                self.interleave(&x)
            }
        }
    }

    /// The cell of curve index `index`, written into `out` (`dims` coordinates).
    pub fn decode(&self, curve: Curve, index: u64, out: &mut [u32]) {
        self.deinterleave(index, out);
        if curve == Curve::Hilbert {
            transpose_to_axes(&mut out[..self.dims], self.bits);
        }
    }

    /// The index intervals (inclusive, sorted, disjoint, non-adjacent) whose union covers the
    /// box `lo..=hi` (per dimension): exactly when at most `max_intervals` are needed and the
    /// refinement budget suffices; otherwise a superset with at most `max_intervals` intervals
    /// (the smallest gaps are closed first, so the extra cells are as few as this greedy step
    /// can make them). Work is bounded: a quadtree level is refined only while it holds at most
    /// `64 x max_intervals` partly covered cubes.
    pub fn intervals(
        &self,
        curve: Curve,
        lo: &[u32],
        hi: &[u32],
        max_intervals: usize,
    ) -> Result<Vec<(u64, u64)>> {
        let d = self.dims;
        if lo.len() != d || hi.len() != d {
            bail!("a box needs {d} lower and {d} upper coordinates");
        }
        if let Some(i) = (0..d).find(|&i| lo[i] > hi[i] || hi[i] > self.max_coord()) {
            bail!(
                "box dimension {i}: need lo <= hi <= {}, got {} ..= {}",
                self.max_coord(),
                lo[i],
                hi[i]
            );
        }
        if max_intervals == 0 {
            bail!("max_intervals must be >= 1");
        }
        let budget = max_intervals.saturating_mul(64);
        let mut out: Vec<(u64, u64)> = Vec::new();
        // Partly covered cubes of the current level: their lower corners; side 2^(bits - level).
        let mut level_cubes: Vec<[u32; MAX_DIMS]> = vec![[0; MAX_DIMS]];
        let mut next = Vec::new();
        for level in 0..=self.bits {
            let side_log = self.bits - level;
            let refine = level < self.bits && level_cubes.len() <= budget;
            for c in &level_cubes {
                if !refine {
                    out.push(self.cube_range(curve, c, side_log));
                    continue;
                }
                // Split into 2^d children of half the side.
                let half = 1u64 << (side_log - 1);
                for mask in 0..(1u32 << d) {
                    let mut child = *c;
                    let mut disjoint = false;
                    let mut inside = true;
                    for i in 0..d {
                        let a = u64::from(c[i]) + if mask >> i & 1 == 1 { half } else { 0 };
                        let b = a + half - 1;
                        child[i] = a as u32;
                        if b < u64::from(lo[i]) || a > u64::from(hi[i]) {
                            disjoint = true;
                            break;
                        }
                        inside &= a >= u64::from(lo[i]) && b <= u64::from(hi[i]);
                    }
                    if disjoint {
                        continue;
                    }
                    if inside {
                        out.push(self.cube_range(curve, &child, side_log - 1));
                    } else {
                        next.push(child);
                    }
                }
            }
            if !refine {
                break;
            }
            std::mem::swap(&mut level_cubes, &mut next);
            next.clear();
            if level_cubes.is_empty() {
                break;
            }
        }
        out.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(out.len());
        for (a, b) in out {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        if merged.len() > max_intervals {
            // Close the smallest gaps.
            let mut gaps: Vec<(u64, usize)> = (1..merged.len())
                .map(|i| (merged[i].0 - merged[i - 1].1, i))
                .collect();
            gaps.sort_unstable();
            let mut close = vec![false; merged.len()];
            for &(_, i) in gaps.iter().take(merged.len() - max_intervals) {
                close[i] = true;
            }
            let mut fewer: Vec<(u64, u64)> = Vec::with_capacity(max_intervals);
            for (i, iv) in merged.into_iter().enumerate() {
                match fewer.last_mut() {
                    Some(last) if close[i] => last.1 = iv.1,
                    _ => fewer.push(iv),
                }
            }
            merged = fewer;
        }
        Ok(merged)
    }

    /// The index range of the aligned cube with lower corner `c` and side `2^side_log`.
    fn cube_range(&self, curve: Curve, c: &[u32; MAX_DIMS], side_log: u32) -> (u64, u64) {
        let shift = side_log * self.dims as u32;
        let first = self.encode(curve, &c[..self.dims]);
        if shift >= 64 {
            return (0, u64::MAX >> (64 - self.index_bits()));
        }
        let base = first >> shift << shift;
        (base, base | ((1u64 << shift) - 1))
    }
}

/// Skilling's transform (AIP Conf. Proc. 707, 2004): axes to the transposed Hilbert index.
fn axes_to_transpose(x: &mut [u32], bits: u32) {
    let n = x.len();
    let m = 1u32 << (bits - 1);
    let mut q = m;
    while q > 1 {
        let p = q - 1;
        for i in 0..n {
            if x[i] & q != 0 {
                x[0] ^= p;
            } else {
                let t = (x[0] ^ x[i]) & p;
                x[0] ^= t;
                x[i] ^= t;
            }
        }
        q >>= 1;
    }
    for i in 1..n {
        x[i] ^= x[i - 1];
    }
    let mut t = 0;
    let mut q = m;
    while q > 1 {
        if x[n - 1] & q != 0 {
            t ^= q - 1;
        }
        q >>= 1;
    }
    for xi in x.iter_mut() {
        *xi ^= t;
    }
}

/// The inverse of [`axes_to_transpose`].
fn transpose_to_axes(x: &mut [u32], bits: u32) {
    let n = x.len();
    let top = 1u64 << bits;
    let t = x[n - 1] >> 1;
    for i in (1..n).rev() {
        x[i] ^= x[i - 1];
    }
    x[0] ^= t;
    let mut q = 2u64;
    while q != top {
        let p = (q - 1) as u32;
        let qq = q as u32;
        for i in (0..n).rev() {
            if x[i] & qq != 0 {
                x[0] ^= p;
            } else {
                let t = (x[0] ^ x[i]) & p;
                x[0] ^= t;
                x[i] ^= t;
            }
        }
        q <<= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_order_interleaves_and_hilbert_steps_to_neighbours() {
        let s = Space::new(2, 3).unwrap();
        assert_eq!(s.encode(Curve::Z, &[0b101, 0b011]), 0b10_01_11);
        for (d, b) in [(1, 6), (2, 4), (3, 3), (4, 2)] {
            let s = Space::new(d, b).unwrap();
            let n = 1u64 << s.index_bits();
            let (mut p, mut q) = ([0u32; 4], [0u32; 4]);
            s.decode(Curve::Hilbert, 0, &mut p);
            assert_eq!(
                &p[..d],
                &vec![0; d][..],
                "the Hilbert curve starts at the origin"
            );
            for h in 1..n {
                s.decode(Curve::Hilbert, h, &mut q);
                let steps: u32 = (0..d).map(|i| p[i].abs_diff(q[i])).sum();
                assert_eq!(steps, 1, "{d}-D, {b} bits: {h} is not next to {}", h - 1);
                assert_eq!(s.encode(Curve::Hilbert, &q[..d]), h);
                p = q;
            }
        }
    }

    #[test]
    fn bad_spaces_and_boxes_are_explained() {
        assert!(Space::new(3, 22).is_err() && Space::new(0, 4).is_err());
        assert!(Space::new(2, 32).is_ok() && Space::new(64, 1).is_err());
        let s = Space::new(2, 4).unwrap();
        assert!(s.intervals(Curve::Z, &[3, 0], &[2, 5], 4).is_err());
        assert!(s.intervals(Curve::Z, &[0, 0], &[16, 5], 4).is_err());
        assert!(s.intervals(Curve::Z, &[0, 0], &[1, 1], 0).is_err());
    }
}
