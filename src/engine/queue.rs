//! The pending-event set: a min-queue on `(time, insertion sequence)`.
//!
//! Entries are small fixed-size keys (`time`, `seq`, payload slot); payloads live in an arena
//! ([`super::Kernel`]) so that sifting never moves large values. Equal times pop in insertion
//! order, which makes the run a pure function of the seed.
//!
//! The implementation is `std::collections::BinaryHeap`, chosen by measurement against the
//! `priority-queue` crate and a 4-ary heap (see `leadsim bench engine` and `docs/performance.md`).

use super::time::Time;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

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

impl Ord for QueueEntry {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap, we want the earliest (time, seq) first.
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

impl PartialOrd for QueueEntry {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A min-queue of events by `(time, seq)`.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<QueueEntry>,
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
        self.heap.push(e);
    }

    /// Removes and returns the earliest entry.
    #[inline]
    pub fn pop(&mut self) -> Option<QueueEntry> {
        self.heap.pop()
    }

    /// The time of the earliest entry.
    #[inline]
    pub fn peek_time(&self) -> Option<Time> {
        self.heap.peek().map(|e| e.time)
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
                slot: i as u32,
            });
        }
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|e| e.slot).collect();
        assert_eq!(order, vec![3, 1, 4, 0, 2, 5]);
    }
}
