//! A symmetric latency matrix stored as its upper triangle, in as few bytes per entry as its
//! largest value needs.
//!
//! Every hop of a simulated lookup reads one entry for a pair of hosts that has nothing to do
//! with the pair read before it, so the read is a cache miss whenever the triangle does not fit
//! in the core's cache: on the paper's 490 hosts the triangle (119,805 pairs) takes 479 KB at 4
//! bytes per entry, beside a megabyte of routing state in a 1 MB L2. Round-trip times are
//! whole microseconds and stay below 2^24 µs (16.8 s) in every matrix seen so far, so entries
//! are packed in 3 bytes (359 KB) when they all fit, and in 4 otherwise. The values are exactly
//! the matrix's: the packing is lossless by construction and chosen per triangle.
//!
//! ```
//! use leadsim::topology::triangle::Triangle;
//! // Three hosts, row-major: 0-1 is 40 ms, 0-2 is 20 s (needs 4 bytes), 1-2 is 7 µs.
//! let m = [0, 40_000, 20_000_000, 40_000, 0, 7, 20_000_000, 7, 0];
//! let t = Triangle::from_matrix(&m, 3);
//! assert_eq!((t.width(), t.rtt(1, 0), t.rtt(2, 0), t.rtt(1, 2), t.rtt(2, 2)), (4, 40_000, 20_000_000, 7, 0));
//! let small = Triangle::from_matrix(&[0, 40_000, 40_000, 0], 2);
//! assert_eq!((small.width(), small.rtt(0, 1)), (3, 40_000));
//! ```

use crate::engine::Time;
use crate::ids::HostId;

/// The upper triangle (pairs `i < j`, row by row) of one symmetric N x N matrix of µs.
#[derive(Clone, Debug)]
pub struct Triangle {
    hosts: usize,
    /// Bytes per entry: 3 or 4.
    width: usize,
    /// Keeps the entry's own bytes of a 4-byte little-endian read.
    mask: u32,
    /// The entries, little-endian, `width` bytes each, then 3 bytes of padding so that every
    /// entry can be read as 4 bytes.
    bytes: Vec<u8>,
}

impl Triangle {
    /// The triangle of the row-major `hosts` x `hosts` matrix `m` (only `i < j` is read).
    pub fn from_matrix(m: &[u32], hosts: usize) -> Triangle {
        let pairs = || (0..hosts).flat_map(|a| m[a * hosts + a + 1..(a + 1) * hosts].iter());
        let width = if pairs().all(|&v| v < 1 << 24) { 3 } else { 4 };
        let mut bytes = Vec::with_capacity(hosts * hosts.saturating_sub(1) / 2 * width + 3);
        for &v in pairs() {
            bytes.extend_from_slice(&v.to_le_bytes()[..width]);
        }
        bytes.extend_from_slice(&[0; 3]);
        Triangle {
            hosts,
            width,
            mask: if width == 3 { (1 << 24) - 1 } else { u32::MAX },
            bytes,
        }
    }

    /// Bytes per entry (3 or 4).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The RTT between hosts `a` and `b` in µs (0 when `a == b`).
    #[inline(always)]
    pub fn rtt(&self, a: HostId, b: HostId) -> Time {
        let (i, j) = if a < b {
            (a as usize, b as usize)
        } else {
            (b as usize, a as usize)
        };
        if i == j {
            return 0;
        }
        // Row i starts after the rows above it: i * (2n - i - 1) / 2 entries.
        let at = (i * (2 * self.hosts - i - 1) / 2 + j - i - 1) * self.width;
        let b = &self.bytes[at..at + 4];
        Time::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & self.mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair of a matrix with values up to the given bound reads back exactly, in both
    /// orders, whichever width the bound makes the triangle choose.
    #[test]
    fn every_pair_reads_back_exactly() {
        for (top, width) in [((1u32 << 24) - 1, 3), (1 << 24, 4), (u32::MAX, 4)] {
            let n = 37;
            let mut m = vec![0u32; n * n];
            let mut x = 0x9E37_79B9u32;
            for a in 0..n {
                for b in a + 1..n {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let v = if (a, b) == (3, 30) { top } else { x % top };
                    m[a * n + b] = v;
                    m[b * n + a] = v;
                }
            }
            let t = Triangle::from_matrix(&m, n);
            assert_eq!(t.width(), width, "values up to {top}");
            for a in 0..n {
                for b in 0..n {
                    let want = if a == b { 0 } else { u64::from(m[a * n + b]) };
                    assert_eq!(t.rtt(a as HostId, b as HostId), want, "{a}-{b} up to {top}");
                }
            }
        }
    }
}
