//! The deterministic discrete-event kernel.
//!
//! A [`Kernel`] owns simulated time, the pending-event queue, the event payload arena, the
//! simulated [`Network`] and the churn player. A protocol implements [`Protocol`]; the run loop
//! ([`run_until`]) pops events in `(time, insertion sequence)` order and hands them to it.
//!
//! Events are a plain enum stored in a reusable arena: no boxing, no allocation and no hashing per
//! event once the arena has grown to the peak number of pending events. Timers are cancellable in
//! O(1) through generation-checked handles, and every timer of a host that crashes is voided at
//! once through the host's incarnation number (lazy cancellation).

pub mod queue;
pub mod time;

use crate::churn::ChurnSchedule;
use crate::network::{Message, Network};
use queue::{EventQueue, QueueEntry};
pub use time::Time;

/// Index of a physical host.
pub type HostId = u32;
/// Index of a (virtual) peer; several peers may run on one host.
pub type PeerId = u32;

/// The pseudo-peer of global timers (workload drivers): never crashes.
pub const GLOBAL: PeerId = PeerId::MAX;

/// A pending event's payload.
#[derive(Clone, Debug)]
pub enum Event<M, T> {
    /// A message arriving at `to`.
    Deliver { from: PeerId, to: PeerId, msg: M },
    /// A protocol timer of `peer`, valid only while the peer's host keeps `incarnation`.
    Timer {
        peer: PeerId,
        incarnation: u32,
        timer: T,
    },
    /// The next up/down transition of `host` in the churn schedule.
    Churn { host: HostId },
    /// Switch the latency model to time slice `index`.
    Slice { index: u32 },
}

/// A handle to cancel a timer; stale handles (fired or cancelled) are harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimerHandle {
    slot: u32,
    generation: u32,
}

#[derive(Debug)]
struct Slot<E> {
    generation: u32,
    event: Option<E>,
}

/// What a protocol implements to run on the kernel.
pub trait Protocol {
    /// The messages it sends (a plain enum; see [`Message`]).
    type Msg: Message;
    /// Its timer kinds (a small `Copy` enum).
    type Timer: Copy + std::fmt::Debug;

    /// Called once at time 0 before the first event: schedule initial timers here.
    fn start(&mut self, k: &mut Kernel<Self::Msg, Self::Timer>);
    /// A message reached a live peer.
    fn on_message(
        &mut self,
        k: &mut Kernel<Self::Msg, Self::Timer>,
        from: PeerId,
        to: PeerId,
        msg: Self::Msg,
    );
    /// A timer of a live peer fired.
    fn on_timer(
        &mut self,
        k: &mut Kernel<Self::Msg, Self::Timer>,
        peer: PeerId,
        timer: Self::Timer,
    );
    /// A message was lost: its receiver's host was down on arrival. The sender is *not* told
    /// (it learns by timeout); this hook only lets the protocol reclaim resources the message
    /// referenced (e.g. a payload list it will re-send on timeout).
    fn on_lost(
        &mut self,
        _k: &mut Kernel<Self::Msg, Self::Timer>,
        _from: PeerId,
        _to: PeerId,
        _msg: Self::Msg,
    ) {
    }
    /// A host crashed: all its peers are now silent (their timers are already void).
    fn on_host_down(&mut self, _k: &mut Kernel<Self::Msg, Self::Timer>, _host: HostId) {}
    /// A host came back (with its stored data, but protocol state is the protocol's business).
    fn on_host_up(&mut self, _k: &mut Kernel<Self::Msg, Self::Timer>, _host: HostId) {}
}

/// The simulation kernel: clock, queue, event arena, network and churn.
pub struct Kernel<M, T> {
    now: Time,
    seq: u64,
    queue: EventQueue,
    slots: Vec<Slot<Event<M, T>>>,
    free: Vec<u32>,
    /// The simulated network: latency, liveness and message counters.
    pub net: Network,
    churn: ChurnSchedule,
    churn_cursor: Vec<u32>,
    events_processed: u64,
}

impl<M: Message, T: Copy + std::fmt::Debug> Kernel<M, T> {
    /// A kernel at time 0 over `net`, replaying `churn` (one schedule entry per host).
    pub fn new(net: Network, churn: ChurnSchedule) -> Self {
        let hosts = net.host_count();
        let mut k = Kernel {
            now: 0,
            seq: 0,
            queue: EventQueue::with_capacity(1024),
            slots: Vec::with_capacity(1024),
            free: Vec::new(),
            net,
            churn,
            churn_cursor: vec![0; hosts],
            events_processed: 0,
        };
        for h in 0..hosts as HostId {
            if let Some(&t) = k.churn.transitions(h).first() {
                k.schedule_at(t, Event::Churn { host: h });
            }
        }
        if let Some(period) = k.net.slice_period() {
            k.schedule_at(period, Event::Slice { index: 1 });
        }
        k
    }

    /// Current simulated time.
    #[inline]
    pub fn now(&self) -> Time {
        self.now
    }

    /// Number of events processed so far (deliveries, live timers, churn and slice switches;
    /// cancelled or voided timers excluded).
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    /// Number of pending queue entries.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// The churn schedule being replayed.
    pub fn churn(&self) -> &ChurnSchedule {
        &self.churn
    }

    fn alloc(&mut self, ev: Event<M, T>) -> (u32, u32) {
        match self.free.pop() {
            Some(slot) => {
                let s = &mut self.slots[slot as usize];
                s.event = Some(ev);
                (slot, s.generation)
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    event: Some(ev),
                });
                ((self.slots.len() - 1) as u32, 0)
            }
        }
    }

    fn schedule_at(&mut self, time: Time, ev: Event<M, T>) -> TimerHandle {
        debug_assert!(time >= self.now, "scheduling into the past");
        let (slot, generation) = self.alloc(ev);
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(QueueEntry { time, seq, slot });
        TimerHandle { slot, generation }
    }

    /// Sends `msg` from peer `from` to peer `to`: counts it and schedules its delivery after the
    /// one-way latency between their hosts. If `to`'s host is down on arrival, the message is lost
    /// (counted) and the sender only learns of it through its own timeout.
    #[inline]
    pub fn send(&mut self, from: PeerId, to: PeerId, msg: M) {
        self.net.count_sent(&msg);
        let delay = self.net.one_way(from, to);
        self.schedule_at(self.now + delay, Event::Deliver { from, to, msg });
    }

    /// Starts a timer for `peer` firing after `delay`; it is void if the peer's host crashes first.
    #[inline]
    pub fn set_timer(&mut self, peer: PeerId, delay: Time, timer: T) -> TimerHandle {
        let incarnation = self.net.incarnation(self.net.host_of(peer));
        self.schedule_at(
            self.now + delay,
            Event::Timer {
                peer,
                incarnation,
                timer,
            },
        )
    }

    /// Starts a global timer (not owned by any peer, immune to churn), e.g. a workload driver;
    /// it is delivered to [`Protocol::on_timer`] with peer [`GLOBAL`].
    pub fn set_global_timer(&mut self, delay: Time, timer: T) -> TimerHandle {
        self.schedule_at(
            self.now + delay,
            Event::Timer {
                peer: GLOBAL,
                incarnation: 0,
                timer,
            },
        )
    }

    /// Cancels a timer; a no-op if it already fired or was cancelled.
    #[inline]
    pub fn cancel(&mut self, h: TimerHandle) {
        if let Some(s) = self.slots.get_mut(h.slot as usize) {
            if s.generation == h.generation {
                s.event = None;
            }
        }
    }

    fn take(&mut self, slot: u32) -> Option<Event<M, T>> {
        let s = &mut self.slots[slot as usize];
        let ev = s.event.take();
        s.generation = s.generation.wrapping_add(1);
        self.free.push(slot);
        ev
    }
}

/// Runs events with time `<= end`, then sets the clock to `end`. Returns the number processed.
pub fn run_until<P: Protocol>(k: &mut Kernel<P::Msg, P::Timer>, proto: &mut P, end: Time) -> u64 {
    let before = k.events_processed;
    while let Some(t) = k.queue.peek_time() {
        if t > end {
            break;
        }
        let entry = k.queue.pop().expect("peeked");
        k.now = entry.time;
        let Some(ev) = k.take(entry.slot) else {
            continue; // cancelled timer
        };
        match ev {
            Event::Deliver { from, to, msg } => {
                k.events_processed += 1;
                if !k.net.is_peer_up(to) {
                    k.net.count_lost(&msg);
                    proto.on_lost(k, from, to, msg);
                    continue;
                }
                proto.on_message(k, from, to, msg);
            }
            Event::Timer {
                peer,
                incarnation,
                timer,
            } => {
                if peer != GLOBAL {
                    let host = k.net.host_of(peer);
                    if !k.net.is_host_up(host) || k.net.incarnation(host) != incarnation {
                        continue; // the host crashed since the timer was set
                    }
                }
                k.events_processed += 1;
                proto.on_timer(k, peer, timer);
            }
            Event::Churn { host } => {
                k.events_processed += 1;
                let cursor = &mut k.churn_cursor[host as usize];
                *cursor += 1;
                let next = k.churn.transitions(host).get(*cursor as usize).copied();
                let going_up = !k.net.is_host_up(host);
                k.net.set_host_up(host, going_up);
                if let Some(t) = next {
                    k.schedule_at(t, Event::Churn { host });
                }
                if going_up {
                    proto.on_host_up(k, host);
                } else {
                    proto.on_host_down(k, host);
                }
            }
            Event::Slice { index } => {
                k.events_processed += 1;
                k.net.set_slice(index as usize);
                if let Some(period) = k.net.slice_period() {
                    k.schedule_at(k.now + period, Event::Slice { index: index + 1 });
                }
            }
        }
    }
    k.now = k.now.max(end);
    k.events_processed - before
}
