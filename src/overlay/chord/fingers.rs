//! Every member's fingers and next-hop shortcuts: one row per member, five cache lines.
//!
//! A hop reads the member's shortcuts and then one finger near the top of its row (a ring of n
//! peers has about log2(n) distinct fingers, at the highest indices), both most of the time a
//! cache miss. A row puts fingers 52..63 and the shortcuts in its last line: on the paper's
//! 4,900-peer ring, whose successors lie about 2^52 away, nearly every finger that differs from
//! the successor is among them, and on larger rings the top ones still are, so a hop's scan
//! usually misses once where it missed on two arrays. Fingers 0..51 fill the lines before
//! (the row's first 48 bytes are unused).

use super::nexthop::Shortcuts;
use super::{FINGERS, NONE};
use crate::ids::PeerId;
use std::ops::{Index, IndexMut};

/// Fingers below this index lie in the lines before the row's last one.
const LAST_LINE_FROM: usize = 52;
/// Unused 4-byte places before finger 0, so that finger [`LAST_LINE_FROM`] starts a line.
const PAD: usize = (16 - LAST_LINE_FROM % 16) % 16;

/// One member's fingers (index i targets VID + 2^i; [`NONE`] when unknown) and shortcuts.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Row {
    _unused: [u32; PAD],
    fingers: [PeerId; FINGERS],
    cuts: Shortcuts,
}

/// The rows of all members, by member index; fingers also indexable by the flat finger slot
/// (member index x [`FINGERS`] + finger).
#[derive(Clone, Debug, Default)]
pub(super) struct FingerTable {
    rows: Vec<Row>,
}

impl FingerTable {
    /// Grows (or shrinks) to `n` members; new rows are unknown fingers with empty shortcuts.
    pub fn resize(&mut self, n: usize) {
        self.rows.resize(
            n,
            Row {
                _unused: [0; PAD],
                fingers: [NONE; FINGERS],
                cuts: Shortcuts::EMPTY,
            },
        );
    }

    /// Member `i`'s row.
    #[inline]
    pub fn row(&self, i: usize) -> &[PeerId] {
        &self.rows[i].fingers
    }

    /// Member `i`'s row, if there is such a member.
    #[inline]
    pub fn get_row(&self, i: usize) -> Option<&[PeerId]> {
        self.rows.get(i).map(|r| &r.fingers[..])
    }

    /// Member `i`'s row, to write.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [PeerId] {
        &mut self.rows[i].fingers
    }

    /// Member `i`'s shortcuts.
    #[inline]
    pub fn cuts(&self, i: usize) -> Shortcuts {
        self.rows[i].cuts
    }

    /// Member `i`'s shortcuts, to write.
    #[inline]
    pub fn cuts_mut(&mut self, i: usize) -> &mut Shortcuts {
        &mut self.rows[i].cuts
    }

    /// Member `i`'s row and shortcuts, to write both.
    #[inline]
    pub fn row_and_cuts_mut(&mut self, i: usize) -> (&mut [PeerId], &mut Shortcuts) {
        let r = &mut self.rows[i];
        (&mut r.fingers, &mut r.cuts)
    }
}

impl Index<usize> for FingerTable {
    type Output = PeerId;
    #[inline]
    fn index(&self, fi: usize) -> &PeerId {
        &self.rows[fi / FINGERS].fingers[fi % FINGERS]
    }
}

impl IndexMut<usize> for FingerTable {
    #[inline]
    fn index_mut(&mut self, fi: usize) -> &mut PeerId {
        &mut self.rows[fi / FINGERS].fingers[fi % FINGERS]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_fingers_share_a_line_with_the_shortcuts_and_flat_slots_name_row_places() {
        assert_eq!(std::mem::size_of::<Row>(), 5 * 64);
        let mut t = FingerTable::default();
        t.resize(3);
        for i in 0..3 {
            let line = |p: *const u8| p as usize / 64;
            let top = t.row(i)[LAST_LINE_FROM..].as_ptr().cast::<u8>();
            assert_eq!(
                top as usize % 64,
                0,
                "row {i}: finger 52 does not start a line"
            );
            let last = std::ptr::from_ref(&t.row(i)[FINGERS - 1]).cast::<u8>();
            let cuts = std::ptr::from_ref(&t.rows[i].cuts).cast::<u8>();
            assert_eq!(line(last), line(top), "row {i}: finger 63 on another line");
            assert_eq!(line(cuts), line(top), "row {i}: shortcuts on another line");
            assert_eq!(
                line(cuts.wrapping_add(15)),
                line(top),
                "row {i}: shortcuts straddle"
            );
            assert!(t.row(i).iter().all(|&f| f == NONE));
            assert_eq!(t.cuts(i), Shortcuts::EMPTY);
        }
        t[FINGERS + 5] = 7;
        t.row_mut(2)[63] = 9;
        t.cuts_mut(1).early = 3;
        assert_eq!(t.row(1)[5], 7);
        assert_eq!(t[2 * FINGERS + 63], 9);
        assert_eq!((t.cuts(1).early, t.cuts(0).early), (3, 0));
        assert!(t.get_row(3).is_none());
    }
}
