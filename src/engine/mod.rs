//! The deterministic discrete-event kernel: simulated time, the pending-event queue and the event
//! payload arena. Nothing else: the network, churn and time slices are layers above it
//! ([`crate::sim`]), so the kernel can be tested and reused without any of them.
//!
//! Events are any payload type `E` stored in a reusable arena: no boxing, no allocation and no
//! hashing per event once the arena has grown to the peak number of pending events. Events run in
//! `(time, insertion sequence)` order, and any scheduled event can be cancelled in O(1) through a
//! generation-checked [`TimerHandle`].
//!
//! ```
//! use leadsim::engine::Kernel;
//! let mut k: Kernel<&str> = Kernel::new();
//! k.schedule_in(10, "b");
//! k.schedule_in(5, "a");
//! let c = k.schedule_in(7, "cancelled");
//! k.cancel(c);
//! let mut seen = Vec::new();
//! while let Some(ev) = k.pop_until(100) {
//!     seen.push((k.now(), ev));
//! }
//! assert_eq!(seen, vec![(5, "a"), (10, "b")]);
//!
//! // A reserved place: scheduled later, the event still runs before "y", which was scheduled
//! // for the same time after the place was taken.
//! let r = k.reserve_in(20);
//! k.schedule_in(20, "y");
//! k.schedule_reserved(r, "x");
//! assert_eq!((k.pop_until(200), k.pop_until(200)), (Some("x"), Some("y")));
//! ```

pub mod queue;
pub mod time;

pub use crate::ids::{HostId, PeerId, GLOBAL};
use queue::{EventQueue, QueueEntry};
pub use time::Time;

/// A place in the event order, taken now, for an event that may never be scheduled: scheduled
/// later with [`Kernel::schedule_reserved`], it runs exactly where it would have run had it been
/// scheduled when the place was taken (same time, same insertion sequence). This is how a
/// timeout that is almost always cancelled can stay out of the queue without changing the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Reservation {
    time: Time,
    seq: u64,
}

/// The sequence of a reservation beyond the horizon (never scheduled).
const BEYOND: u64 = u64::MAX;

impl Reservation {
    /// The place's insertion sequence, for carrying it where a whole reservation does not fit
    /// (e.g. in a message; [`Reservation::carried`] puts it back together). `None` for a place
    /// beyond the horizon, which is never scheduled.
    #[inline]
    pub fn seq(self) -> Option<u64> {
        (self.seq != BEYOND).then_some(self.seq)
    }

    /// The place at `time` with sequence `seq`, both taken from a reservation made earlier
    /// ([`Reservation::seq`] and the time it was made for). Only for putting a carried place
    /// back together: any other pair may collide with another event's place.
    #[inline]
    pub fn carried(time: Time, seq: u64) -> Reservation {
        Reservation { time, seq }
    }
}

/// A handle to cancel a scheduled event; stale handles (fired or cancelled) are harmless, and
/// the default handle refers to no event (generations start at 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimerHandle {
    slot: u32,
    generation: u32,
}

/// One payload place. Cache-line aligned: a slot is read once, a cache miss most of the
/// time (written thousands of events earlier). The simulator's events make 60-byte slots,
/// which packed at a 60-byte stride straddle two lines in fifteen places of sixteen; smaller
/// payloads (tests, the kernel benchmark) pay the padding up to 64 bytes.
#[derive(Debug)]
#[repr(align(64))]
struct Slot<E> {
    generation: u32,
    event: Option<E>,
}

/// Asks the CPU to start loading every cache line of `v` (a hint: no effect on results; a no-op
/// off x86-64). The kernel uses it for the next event's payload, protocols for the state the
/// next event will touch ([`crate::sim::Protocol::prefetch_message`]).
///
/// ```
/// let fingers = vec![7u32; 64];
/// leadsim::engine::prefetch(&fingers[..]); // its four 64-byte lines (a hint only)
/// ```
#[inline(always)]
pub fn prefetch<T: ?Sized>(v: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = std::ptr::from_ref(v).cast::<i8>();
        let size = std::mem::size_of_val(v);
        // SAFETY: a prefetch never faults and never changes memory; every address hinted lies
        // within `v` (`p + size - 1` is its last byte), one per 64-byte line and the last.
        unsafe {
            let mut off = 0;
            while off < size {
                _mm_prefetch::<_MM_HINT_T0>(p.add(off));
                off += 64;
            }
            if size > 1 {
                _mm_prefetch::<_MM_HINT_T0>(p.add(size - 1));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// The simulation kernel: clock, queue and event arena.
pub struct Kernel<E> {
    /// Events dropped because their time lay beyond the horizon.
    pub beyond_horizon: u64,
    now: Time,
    seq: u64,
    queue: EventQueue,
    slots: Vec<Slot<E>>,
    free: Vec<u32>,
}

impl<E> Default for Kernel<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Kernel<E> {
    /// An empty kernel at time 0.
    pub fn new() -> Self {
        Kernel {
            beyond_horizon: 0,
            now: 0,
            seq: 0,
            queue: EventQueue::with_capacity(1024),
            slots: Vec::with_capacity(1024),
            free: Vec::new(),
        }
    }

    /// Current simulated time.
    #[inline]
    pub fn now(&self) -> Time {
        self.now
    }

    /// Number of pending queue entries (cancelled ones included until they surface).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    fn alloc(&mut self, ev: E) -> (u32, u32) {
        match self.free.pop() {
            Some(slot) => {
                let s = &mut self.slots[slot as usize];
                s.event = Some(ev);
                (slot, s.generation)
            }
            None => {
                self.slots.push(Slot {
                    generation: 1,
                    event: Some(ev),
                });
                ((self.slots.len() - 1) as u32, 1)
            }
        }
    }

    /// Schedules `ev` at absolute time `time` (never in the past).
    #[inline]
    pub fn schedule_at(&mut self, time: Time, ev: E) -> TimerHandle {
        debug_assert!(time >= self.now, "scheduling into the past");
        if time > queue::MAX_TIME {
            // Beyond the horizon (~203 days): the event never happens within a run (inputs are
            // validated so that runs end a day before it); it is dropped, never wrapped.
            self.beyond_horizon += 1;
            return TimerHandle::default();
        }
        let (slot, generation) = self.alloc(ev);
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(QueueEntry { time, seq, slot });
        TimerHandle { slot, generation }
    }

    /// Takes the place `delay` from now in the event order (see [`Reservation`]).
    #[inline]
    pub fn reserve_in(&mut self, delay: Time) -> Reservation {
        let time = self.now.saturating_add(delay);
        if time > queue::MAX_TIME {
            self.beyond_horizon += 1;
            return Reservation { time, seq: BEYOND };
        }
        let seq = self.seq;
        self.seq += 1;
        Reservation { time, seq }
    }

    /// Schedules `ev` in a reserved place (its time must not have passed).
    #[inline]
    pub fn schedule_reserved(&mut self, r: Reservation, ev: E) -> TimerHandle {
        if r.seq == BEYOND {
            return TimerHandle::default();
        }
        debug_assert!(r.time >= self.now, "a reservation scheduled after its time");
        let (slot, generation) = self.alloc(ev);
        self.queue.push(QueueEntry {
            time: r.time,
            seq: r.seq,
            slot,
        });
        TimerHandle { slot, generation }
    }

    /// Schedules `ev` after `delay`.
    #[inline]
    pub fn schedule_in(&mut self, delay: Time, ev: E) -> TimerHandle {
        self.schedule_at(self.now.saturating_add(delay), ev)
    }

    /// Cancels a scheduled event; a no-op if it already ran or was cancelled.
    #[inline]
    pub fn cancel(&mut self, h: TimerHandle) {
        if let Some(s) = self.slots.get_mut(h.slot as usize) {
            if s.generation == h.generation {
                s.event = None;
            }
        }
    }

    /// The next live event with time `<= end`, advancing the clock to it; `None` when there is
    /// none (the clock then stays where it is: call [`Kernel::advance_to`]).
    #[inline]
    pub fn pop_until(&mut self, end: Time) -> Option<E> {
        while let Some(entry) = self.queue.pop_until(end) {
            // A payload is, most of the time, a cache miss (written when it was scheduled,
            // thousands of events ago): start loading the one after next while this one runs;
            // the next one's was started one event ago (see [`Kernel::peek_next`]).
            if let Some(after) = self.queue.peek_current_second_slot() {
                if let Some(s) = self.slots.get(after as usize) {
                    prefetch(s);
                }
            }
            self.now = entry.time;
            let s = &mut self.slots[entry.slot as usize];
            let ev = s.event.take();
            s.generation = s.generation.wrapping_add(1).max(1);
            self.free.push(entry.slot);
            if ev.is_some() {
                return ev;
            }
        }
        None
    }

    /// The payload of the next event when it is due in the current calendar slot (else
    /// `None`), for prefetching what it will touch while the current one runs. Its own payload
    /// was hinted to the cache when the current event was popped.
    #[inline]
    pub fn peek_next(&self) -> Option<&E> {
        let slot = self.queue.peek_current_slot()?;
        self.slots.get(slot as usize)?.event.as_ref()
    }

    /// Moves the clock forward to `t` (no-op if already past it).
    pub fn advance_to(&mut self, t: Time) {
        self.now = self.now.max(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_next_shows_the_event_popped_next() {
        let mut k: Kernel<u32> = Kernel::new();
        for (i, dt) in [300u64, 5, 5, 40, 2_000, 7, 5_000_000]
            .into_iter()
            .enumerate()
        {
            k.schedule_in(dt, i as u32);
        }
        let c = k.schedule_in(6, 99);
        k.cancel(c);
        let mut seen = 0;
        while let Some(ev) = k.pop_until(u64::MAX >> 20) {
            // Whatever the hint showed before this pop must be what this pop returned.
            if let Some(&hint) = k.peek_next() {
                let next = k.pop_until(u64::MAX >> 20);
                assert_eq!(next, Some(hint), "after {ev}");
                seen += 1;
            }
        }
        assert!(seen >= 2, "the hint was never given");
    }

    #[test]
    fn the_default_handle_cancels_nothing_and_stale_handles_are_harmless() {
        let mut k: Kernel<u32> = Kernel::new();
        let a = k.schedule_in(5, 1);
        k.cancel(TimerHandle::default());
        assert_eq!(
            k.pop_until(10),
            Some(1),
            "the default handle cancelled a live event"
        );
        // The slot is reused: the old handle must not cancel the new event.
        let _b = k.schedule_in(1, 2);
        k.cancel(a);
        assert_eq!(k.pop_until(20), Some(2));
        let c = k.schedule_in(1, 3);
        k.cancel(c);
        assert_eq!(k.pop_until(30), None);
    }

    #[test]
    fn events_beyond_the_horizon_never_happen_and_never_wrap() {
        let mut k: Kernel<u32> = Kernel::new();
        k.schedule_at(queue::MAX_TIME + 1 + 2_000_000, 1);
        k.schedule_at(u64::MAX, 2);
        k.schedule_at(5, 3);
        assert_eq!(k.pop_until(queue::MAX_TIME), Some(3));
        assert_eq!(k.pop_until(queue::MAX_TIME), None);
        assert_eq!(k.beyond_horizon, 2);
    }
}
