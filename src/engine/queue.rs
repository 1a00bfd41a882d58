//! The pending-event set: a min-queue on `(time, insertion sequence)`.
//!
//! Each pending event is one packed 128-bit key — `time` (44 bits of µs, i.e. up to 203 simulated
//! days) | insertion sequence (52 bits) | payload slot (32 bits) — so ordering is one integer
//! compare and payloads (in the kernel's arena) never move. Equal times pop in insertion order,
//! which makes the run a pure function of the seed.
//!
//! [`EventQueue`] is a calendar queue: keys due within the next [`WHEEL_SLOTS`] slots of
//! 2^[`SLOT_SHIFT`] µs (about 2.1 s) are appended to their slot's bucket in O(1); when simulated
//! time reaches a slot, its bucket becomes a small binary heap; keys beyond the horizon wait in an
//! overflow heap and move into the wheel as it turns. A network simulation keeps most of its
//! pending events (message deliveries, RPC timeouts that will mostly be cancelled) inside a few
//! seconds, so almost every push is a vector append and every pop works on a heap that fits in
//! L1. [`HeapQueue`] (one `BinaryHeap` of packed keys) is the simpler alternative, kept for the
//! benchmark; numbers in `docs/performance.md`.
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

/// Bucket width: 2^8 µs = 256 µs. Narrower buckets make smaller heaps to pop from: against
/// 1,024 µs, the paper's Chord-batch run takes 0.92x the time and the 10^6-peer run 0.92x the
/// time and 0.83x the memory (docs/performance.md, step 17); at 128 µs the 1-s maintenance
/// timers no longer fit the wheel.
pub const SLOT_SHIFT: u32 = 8;
/// Buckets in the wheel (horizon = 8,192 x 256 µs = 2.1 s: RPC timeouts and 1-s timers fit).
pub const WHEEL_SLOTS: usize = 8192;

/// The calendar queue used by the kernel (see the module documentation).
#[derive(Debug)]
pub struct EventQueue {
    /// Slot whose events are in `current`; every key elsewhere is in a later slot.
    now_slot: u64,
    current: BinaryHeap<u128>,
    wheel: Vec<Vec<u128>>,
    in_wheel: usize,
    far: BinaryHeap<u128>,
}

impl Default for EventQueue {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

#[inline]
fn slot_of(key: u128) -> u64 {
    QueueEntry::unpack(key).time >> SLOT_SHIFT
}

impl EventQueue {
    /// An empty queue (`cap` is a hint for the current-slot heap).
    pub fn with_capacity(cap: usize) -> Self {
        EventQueue {
            now_slot: 0,
            current: BinaryHeap::with_capacity(cap.min(1 << 16)),
            wheel: (0..WHEEL_SLOTS).map(|_| Vec::new()).collect(),
            in_wheel: 0,
            far: BinaryHeap::new(),
        }
    }

    /// Adds an entry.
    #[inline]
    pub fn push(&mut self, e: QueueEntry) {
        let key = e.pack();
        let slot = e.time >> SLOT_SHIFT;
        if slot <= self.now_slot {
            self.current.push(key);
        } else if slot < self.now_slot + WHEEL_SLOTS as u64 {
            self.wheel[slot as usize % WHEEL_SLOTS].push(key);
            self.in_wheel += 1;
        } else {
            self.far.push(key);
        }
    }

    /// Moves to the next slot holding events, making it current. False if nothing is pending.
    fn advance(&mut self) -> bool {
        loop {
            if self.in_wheel == 0 {
                // Jump straight to the overflow's earliest slot.
                let Some(&k) = self.far.peek() else {
                    return false;
                };
                self.now_slot = slot_of(k);
                self.migrate_far();
                let idx = self.now_slot as usize % WHEEL_SLOTS;
                self.take_bucket(idx);
                if !self.current.is_empty() {
                    return true;
                }
                continue;
            }
            self.now_slot += 1;
            self.migrate_far();
            let idx = self.now_slot as usize % WHEEL_SLOTS;
            if !self.wheel[idx].is_empty() {
                self.take_bucket(idx);
                return true;
            }
        }
    }

    /// Moves overflow keys that are now within the horizon into the wheel.
    fn migrate_far(&mut self) {
        let horizon = self.now_slot + WHEEL_SLOTS as u64;
        while let Some(&k) = self.far.peek() {
            let slot = slot_of(k);
            if slot >= horizon {
                break;
            }
            self.far.pop();
            if slot <= self.now_slot {
                self.current.push(k);
            } else {
                self.wheel[slot as usize % WHEEL_SLOTS].push(k);
                self.in_wheel += 1;
            }
        }
    }

    /// Turns bucket `idx` (the current slot's) into the current heap, recycling buffers.
    fn take_bucket(&mut self, idx: usize) {
        let bucket = std::mem::take(&mut self.wheel[idx]);
        self.in_wheel -= bucket.len();
        let mut old = std::mem::take(&mut self.current).into_vec();
        if old.is_empty() {
            self.current = BinaryHeap::from(bucket);
            self.wheel[idx] = old;
        } else {
            old.extend_from_slice(&bucket);
            self.current = BinaryHeap::from(old);
            let mut bucket = bucket;
            bucket.clear();
            self.wheel[idx] = bucket;
        }
    }

    /// Removes and returns the earliest entry.
    #[inline]
    pub fn pop(&mut self) -> Option<QueueEntry> {
        if self.current.is_empty() && !self.advance() {
            return None;
        }
        self.current.pop().map(QueueEntry::unpack)
    }

    /// Removes and returns the earliest entry if it is due at or before `end` (may turn the
    /// wheel to find it).
    #[inline]
    pub fn pop_until(&mut self, end: Time) -> Option<QueueEntry> {
        if self.current.is_empty() && !self.advance() {
            return None;
        }
        let &top = self.current.peek()?;
        if QueueEntry::unpack(top).time > end {
            return None;
        }
        self.current.pop().map(QueueEntry::unpack)
    }

    /// The payload slot of the earliest entry if it is in the current time slot (no wheel
    /// turn): a hint for prefetching the next event's payload while this one runs.
    #[inline]
    pub fn peek_current_slot(&self) -> Option<u32> {
        self.current.peek().map(|&k| QueueEntry::unpack(k).slot)
    }

    /// The payload slot of the second-earliest entry of the current time slot (a child of the
    /// heap's root), for prefetching one event further ahead.
    #[inline]
    pub fn peek_current_second_slot(&self) -> Option<u32> {
        let h = self.current.as_slice();
        let k = match (h.get(1), h.get(2)) {
            (Some(&a), Some(&b)) => a.max(b), // keys are inverted: the larger is earlier
            (Some(&a), None) => a,
            _ => return None,
        };
        Some(QueueEntry::unpack(k).slot)
    }

    /// Number of pending entries (cancelled timers included until they surface).
    pub fn len(&self) -> usize {
        self.current.len() + self.in_wheel + self.far.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The plain alternative: one `BinaryHeap` of packed keys (benchmark baseline).
#[derive(Debug, Default)]
pub struct HeapQueue {
    heap: BinaryHeap<u128>,
}

impl HeapQueue {
    /// An empty queue with room for `cap` entries.
    pub fn with_capacity(cap: usize) -> Self {
        HeapQueue {
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
    fn calendar_queue_matches_a_sorted_reference() {
        // Random times near, far (beyond the wheel) and equal; interleaved pushes and pops.
        let mut rng = crate::rng::SimRng::from_seed(9);
        let mut q = EventQueue::default();
        let mut reference = Vec::new();
        let mut now = 0u64;
        let mut seq = 0u64;
        let mut popped = Vec::new();
        let mut expected = Vec::new();
        let mut hinted = [0u32; 2];
        for round in 0..20_000u32 {
            let pushes = rng.below(3);
            for _ in 0..pushes {
                let dt = match rng.below(4) {
                    0 => 0,
                    1 => rng.below(2_000),
                    2 => rng.below(5_000_000),
                    _ => rng.below(60_000_000),
                };
                let e = QueueEntry {
                    time: now + dt,
                    seq,
                    slot: seq as u32,
                };
                seq += 1;
                q.push(e);
                reference.push(e);
            }
            if rng.below(2) == 0 {
                // The prefetch hints name the next two entries whenever they are current.
                reference.sort_by_key(|r| (r.time, r.seq));
                if let Some(s) = q.peek_current_slot() {
                    assert_eq!(s, reference[0].slot, "round {round}: wrong next slot");
                    hinted[0] += 1;
                }
                if let Some(s) = q.peek_current_second_slot() {
                    assert_eq!(s, reference[1].slot, "round {round}: wrong second slot");
                    hinted[1] += 1;
                }
                if let Some(e) = q.pop() {
                    now = e.time;
                    popped.push(e);
                    reference.sort_by_key(|r| (r.time, r.seq));
                    expected.push(reference.remove(0));
                }
            }
            assert_eq!(q.len(), reference.len());
        }
        while let Some(e) = q.pop() {
            popped.push(e);
        }
        reference.sort_by_key(|r| (r.time, r.seq));
        expected.extend(reference);
        assert_eq!(popped, expected);
        assert!(
            hinted.iter().all(|&n| n > 1_000),
            "hints rarely checked: {hinted:?}"
        );
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
