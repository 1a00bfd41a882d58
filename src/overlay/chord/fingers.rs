//! Every member's fingers: one row of [`FINGERS`] peers per member, each row starting a cache
//! line.
//!
//! A hop reads one finger near the top of its row (a ring of n peers has about log2(n)
//! distinct fingers, at the highest indices), most of the time a cache miss. Rows packed at the
//! allocator's 16-byte alignment put fingers 48..63 across two lines; aligned, they share one
//! (on the paper's 4,900-peer ring, whose successors lie about 2^52 away, nearly every finger
//! that differs from the successor is among them): one line per member to keep warm for
//! routing instead of two.

use super::{FINGERS, NONE};
use crate::ids::PeerId;
use std::ops::{Index, IndexMut};

/// One member's fingers (index i targets VID + 2^i; [`NONE`] when unknown).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Row([PeerId; FINGERS]);

/// The rows of all members, by member index; also indexable by the flat finger slot
/// (member index x [`FINGERS`] + finger).
#[derive(Clone, Debug, Default)]
pub(super) struct FingerTable {
    rows: Vec<Row>,
}

impl FingerTable {
    /// Grows (or shrinks) to `n` members; new rows are unknown fingers.
    pub fn resize(&mut self, n: usize) {
        self.rows.resize(n, Row([NONE; FINGERS]));
    }

    /// Member `i`'s row.
    #[inline]
    pub fn row(&self, i: usize) -> &[PeerId] {
        &self.rows[i].0
    }

    /// Member `i`'s row, if there is such a member.
    #[inline]
    pub fn get_row(&self, i: usize) -> Option<&[PeerId]> {
        self.rows.get(i).map(|r| &r.0[..])
    }

    /// Member `i`'s row, to write.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [PeerId] {
        &mut self.rows[i].0
    }
}

impl Index<usize> for FingerTable {
    type Output = PeerId;
    #[inline]
    fn index(&self, fi: usize) -> &PeerId {
        &self.rows[fi / FINGERS].0[fi % FINGERS]
    }
}

impl IndexMut<usize> for FingerTable {
    #[inline]
    fn index_mut(&mut self, fi: usize) -> &mut PeerId {
        &mut self.rows[fi / FINGERS].0[fi % FINGERS]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_start_cache_lines_and_flat_slots_name_row_places() {
        let mut t = FingerTable::default();
        t.resize(3);
        for i in 0..3 {
            assert_eq!(
                t.row(i).as_ptr() as usize % 64,
                0,
                "row {i} is not line-aligned"
            );
            assert!(t.row(i).iter().all(|&f| f == NONE));
        }
        t[FINGERS + 5] = 7;
        t.row_mut(2)[63] = 9;
        assert_eq!(t.row(1)[5], 7);
        assert_eq!(t[2 * FINGERS + 63], 9);
        assert!(t.get_row(3).is_none());
    }
}
