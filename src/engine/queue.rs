//! The pending-event set: a min-queue on `(time, insertion sequence)`.
//!
//! Each pending event is one packed 128-bit key — `time` (44 bits of µs, i.e. up to 203 simulated
//! days) | insertion sequence (52 bits) | payload slot (32 bits) — in a `std` `BinaryHeap`. Payloads
//! live in the kernel's arena, so sifting moves 16 bytes and compares one integer. Equal times pop
//! in insertion order, which makes the run a pure function of the seed.
//!
//! Chosen by measurement (`leadsim bench engine`, numbers in `docs/performance.md`): the packed
//! heap beats a 24-byte `(time, seq, slot)` struct heap by ~35%, a 4-ary heap by ~85% and the
//! `priority-queue` crate by ~3.8x at 10k pending events.

use super::time::Time;
use std::collections::BinaryHeap;

/// Largest representable event time (2^44 - 1 µs, about 203 days).
pub const MAX_TIME: Time = (1 << 44) - 1;
const SEQ_BITS: u32 = 52;
const SLOT_BITS: u32 = 32;

/// One pending event's ordering key and the arena slot of its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueEntry {
    /// When the event fires.
    pub time: Time,
    /// Global insertion sequence number: the tie-breaker.
    pub seq: u64,
    /// Where the payload lives in the kernel's arena.
    pub slot: u32,
}

impl QueueEntry {
    #[inline]
    fn pack(self) -> u128 {
        debug_assert!(self.time <= MAX_TIME, "event time beyond 2^44 us");
        debug_assert!(self.seq < 1 << SEQ_BITS);
        // Inverted: BinaryHeap is a max-heap and we want the smallest key first.
        !((u128::from(self.time) << (SEQ_BITS + SLOT_BITS))
            | (u128::from(self.seq) << SLOT_BITS)
            | u128::from(self.slot))
    }

    #[inline]
    fn unpack(k: u128) -> Self {
        let k = !k;
        QueueEntry {
            time: (k >> (SEQ_BITS + SLOT_BITS)) as Time,
            seq: ((k >> SLOT_BITS) as u64) & ((1 << SEQ_BITS) - 1),
            slot: k as u32,
        }
    }
}

/// A min-queue of events by `(time, seq)`.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<u128>,
}

impl EventQueue {
    /// An empty queue with room for `cap` entries.
    pub fn with_capacity(cap: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(cap),
        }
    }

    /// Adds an entry.
    #[inline]
    pub fn push(&mut self, e: QueueEntry) {
        self.heap.push(e.pack());
    }

    /// Removes and returns the earliest entry.
    #[inline]
    pub fn pop(&mut self) -> Option<QueueEntry> {
        self.heap.pop().map(QueueEntry::unpack)
    }

    /// The time of the earliest entry.
    #[inline]
    pub fn peek_time(&self) -> Option<Time> {
        self.heap.peek().map(|&k| QueueEntry::unpack(k).time)
    }

    /// Number of pending entries (cancelled timers included until they surface).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut q = EventQueue::default();
        let times = [5u64, 3, 5, 1, 3, 5];
        for (i, &t) in times.iter().enumerate() {
            q.push(QueueEntry {
                time: t,
                seq: i as u64,
                slot: 100 - i as u32,
            });
        }
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|e| e.slot).collect();
        assert_eq!(order, vec![97, 99, 96, 100, 98, 95]);
    }

    #[test]
    fn packing_round_trips_extremes() {
        for e in [
            QueueEntry {
                time: MAX_TIME,
                seq: (1 << 52) - 1,
                slot: u32::MAX,
            },
            QueueEntry {
                time: 0,
                seq: 0,
                slot: 0,
            },
            QueueEntry {
                time: 123_456_789,
                seq: 987_654_321,
                slot: 4_000_000_000,
            },
        ] {
            assert_eq!(QueueEntry::unpack(e.pack()), e);
        }
        // A later time always sorts after, whatever the sequence and slot.
        let a = QueueEntry {
            time: 10,
            seq: (1 << 52) - 1,
            slot: u32::MAX,
        }
        .pack();
        let b = QueueEntry {
            time: 11,
            seq: 0,
            slot: 0,
        }
        .pack();
        assert!(
            a > b,
            "max-heap order: earlier time has the larger (inverted) key"
        );
    }
}
