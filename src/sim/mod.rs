//! The simulated environment above the kernel: the [`Network`] (latency, liveness, counters),
//! the churn player and latency time slices. A protocol implements [`Protocol`] and runs on a
//! [`Sim`]; [`run_until`] pops kernel events and dispatches them: deliveries to live peers,
//! timers of peers whose host has not crashed since, host up/down transitions, slice switches.
//!
//! Every timer of a host that crashes is voided at once through the host's *incarnation* number
//! (checked when the timer surfaces), so a crashed host's pending work disappears without
//! scanning the queue.

use crate::churn::ChurnSchedule;
use crate::engine::{Kernel, Time, TimerHandle};
use crate::ids::{HostId, PeerId, GLOBAL};
use crate::network::{Message, Network, Path};

thread_local! {
    static SETTLING: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Whether [`Sim`]s created on this thread from now on settle replies at send time
/// ([`Sim::send_settled`]; on by default). Turning it off changes nothing but speed and the
/// `events_settled` count: the tests run churned systems both ways and compare every byte.
pub fn set_settling(on: bool) {
    SETTLING.with(|s| s.set(on));
}

/// Networks of at least this many peers get the per-event cache hints
/// ([`Protocol::prefetch_message`], [`Protocol::prefetch_timer`] and the network's own). Below
/// it, what they load is mostly cached and they only cost instructions. Measured (LEAD,
/// planetlab-like, docs/performance.md): without them 0.95x the time at 4,900 peers and 0.93x
/// at 10^4, but 1.1x at 2 x 10^4 and 1.4x at 10^5.
pub const HINTS_FROM_PEERS: usize = 1 << 14;

thread_local! {
    static HINTS: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Forces the per-event cache hints on or off for [`Sim`]s created on this thread from now on
/// (`None`, the default: on from [`HINTS_FROM_PEERS`] peers). Hints change nothing but speed:
/// a test runs a churned system both ways and compares every byte.
pub fn set_hints(force: Option<bool>) {
    HINTS.with(|h| h.set(force));
}

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

/// A timer whose place in the event order is taken but which is not scheduled yet
/// ([`Sim::defer_timer`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct DeferredTimer {
    at: crate::engine::Reservation,
    peer: PeerId,
    incarnation: u32,
}

impl DeferredTimer {
    /// The sequence of its place in the event order (`None` beyond the horizon), for
    /// carrying it in a message instead of keeping the timer ([`Sim::defer_again`]).
    #[inline]
    pub fn seq(&self) -> Option<u64> {
        self.at.seq()
    }
}

/// What a protocol implements to run on a [`Sim`].
pub trait Protocol {
    /// The messages it sends (a plain enum; see [`Message`]).
    type Msg: Message;
    /// Its timer kinds (a small `Copy` enum).
    type Timer: Copy + std::fmt::Debug;

    /// Called once at time 0, by the run driver, before the first event: schedule initial
    /// timers here.
    fn start(&mut self, k: &mut Sim<Self::Msg, Self::Timer>);
    /// A message reached a live peer.
    fn on_message(
        &mut self,
        k: &mut Sim<Self::Msg, Self::Timer>,
        from: PeerId,
        to: PeerId,
        msg: Self::Msg,
    );
    /// A timer of a live peer (or a global timer) fired.
    fn on_timer(&mut self, k: &mut Sim<Self::Msg, Self::Timer>, peer: PeerId, timer: Self::Timer);
    /// A message was lost: its receiver's host was down on arrival. The sender is *not* told
    /// (it learns by timeout); this hook only lets the protocol reclaim resources the message
    /// referenced (e.g. a payload list it will re-send on timeout).
    fn on_lost(
        &mut self,
        _k: &mut Sim<Self::Msg, Self::Timer>,
        _from: PeerId,
        _to: PeerId,
        _msg: Self::Msg,
    ) {
    }
    /// A hint, called before each event is handled: the next event (when due within the same
    /// millisecond) delivers `msg` to `to`; start loading the state its handler will touch with
    /// [`crate::engine::prefetch`]. Must not change anything: results are the same without it.
    fn prefetch_message(&self, _to: PeerId, _msg: &Self::Msg) {}
    /// The same hint for a timer of `peer` firing next (possibly a void one).
    fn prefetch_timer(&self, _peer: PeerId, _timer: &Self::Timer) {}
    /// A host crashed: all its peers are now silent (their timers are already void).
    fn on_host_down(&mut self, _k: &mut Sim<Self::Msg, Self::Timer>, _host: HostId) {}
    /// A host came back (with its stored data, but protocol state is the protocol's business).
    fn on_host_up(&mut self, _k: &mut Sim<Self::Msg, Self::Timer>, _host: HostId) {}
}

/// The kernel plus the network, churn and time slices of one run.
pub struct Sim<M, T> {
    kernel: Kernel<Event<M, T>>,
    net: Network,
    churn: ChurnSchedule,
    churn_cursor: Vec<u32>,
    /// Each host's next pending churn transition ([`Time::MAX`] if none): one read for
    /// [`Sim::send_settled`].
    next_churn: Vec<Time>,
    events_processed: u64,
    /// The end of the running [`run_until`] call: no message is settled at send time that
    /// would arrive after it (a later call, or none, would have delivered it).
    horizon: Time,
    settled: u64,
    settling: bool,
    /// Whether [`run_until`] gives the protocol and network cache hints for the next event.
    hints: bool,
}

impl<M: Message, T: Copy + std::fmt::Debug> Sim<M, T> {
    /// A simulation at time 0 over `net`, replaying `churn` (one schedule entry per host).
    pub fn new(net: Network, churn: ChurnSchedule) -> Self {
        let hosts = net.host_count();
        let hints = HINTS
            .with(std::cell::Cell::get)
            .unwrap_or(net.peer_count() >= HINTS_FROM_PEERS);
        let mut s = Sim {
            kernel: Kernel::new(),
            net,
            churn,
            churn_cursor: vec![0; hosts],
            next_churn: vec![Time::MAX; hosts],
            events_processed: 0,
            horizon: 0,
            settled: 0,
            settling: SETTLING.with(std::cell::Cell::get),
            hints,
        };
        for h in 0..hosts as HostId {
            if let Some(&t) = s.churn.transitions(h).first() {
                s.kernel.schedule_at(t, Event::Churn { host: h });
                s.next_churn[h as usize] = t;
            }
        }
        if let Some(period) = s.net.slice_period() {
            s.kernel.schedule_at(period, Event::Slice { index: 1 });
        }
        s
    }

    /// Current simulated time.
    #[inline]
    pub fn now(&self) -> Time {
        self.kernel.now()
    }

    /// The network (read-only: liveness, latencies, counters).
    #[inline]
    pub fn net(&self) -> &Network {
        &self.net
    }

    /// Number of events processed so far (deliveries, live timers, churn and slice switches;
    /// cancelled or voided timers excluded).
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    /// Of [`Sim::events_processed`], the deliveries settled at send time ([`Sim::send_settled`])
    /// rather than through the queue.
    pub fn events_settled(&self) -> u64 {
        self.settled
    }

    /// Number of pending queue entries.
    pub fn pending(&self) -> usize {
        self.kernel.pending()
    }

    /// The churn schedule being replayed.
    pub fn churn(&self) -> &ChurnSchedule {
        &self.churn
    }

    /// Sends `msg` from peer `from` to peer `to`: counts it and schedules its delivery after the
    /// one-way latency between their hosts. If `to`'s host is down on arrival, the message is lost
    /// (counted) and the sender only learns of it through its own timeout.
    #[inline]
    pub fn send(&mut self, from: PeerId, to: PeerId, msg: M) {
        self.send_on(from, to, Path::default(), msg);
    }

    /// [`Sim::send`] with the delay taken from `path`, read for this pair by
    /// [`Network::path`] (a request and its reply read their latency once).
    #[inline(always)]
    pub fn send_on(&mut self, from: PeerId, to: PeerId, path: Path, msg: M) {
        self.net.count_sent(&msg);
        let delay = self.net.one_way_on(path, from, to);
        self.kernel
            .schedule_in(delay, Event::Deliver { from, to, msg });
    }

    /// Sends a message whose delivery can change nothing but counters, settling it now instead
    /// of queueing it, when that is exact; returns whether it did (else it was [`Sim::send`]).
    ///
    /// For replies whose only effect at a live receiver is to complete an RPC that the caller
    /// completes itself when this returns `true`, and that do nothing at a crashed or departed
    /// receiver (whose RPCs are dropped when it goes). The message is settled when the
    /// receiver's host has no churn transition up to its arrival and it arrives within the
    /// running [`run_until`] call: it is then counted sent, and delivered (or lost, if the host
    /// is down) exactly as its delivery event would have counted it, including as an event.
    /// Events keep their order (ties break by insertion sequence, and a settled message takes
    /// no place in the order that any other event could observe).
    #[inline]
    pub fn send_settled(&mut self, from: PeerId, to: PeerId, msg: M) -> bool {
        self.send_settled_on(from, to, Path::default(), msg)
    }

    /// [`Sim::send_settled`] with the delay taken from `path` (see [`Sim::send_on`]).
    #[inline(always)]
    pub fn send_settled_on(&mut self, from: PeerId, to: PeerId, path: Path, msg: M) -> bool {
        let delay = self.net.one_way_on(path, from, to);
        let arrival = self.kernel.now() + delay;
        let h = self.net.host_of(to);
        if !self.certain_until(h, arrival) {
            self.net.count_sent(&msg);
            self.kernel
                .schedule_in(delay, Event::Deliver { from, to, msg });
            return false;
        }
        self.settle_promised(to, msg);
        true
    }

    /// Whether a message reaching peer `to` at `arrival` could be settled at its sending
    /// ([`Sim::send_settled`]): settling is on, it arrives within the running [`run_until`]
    /// call and `to`'s host has no churn transition until then. Once true it stays true until
    /// `arrival`, so a protocol may ask it now for a reply it will send later, at a time up to
    /// `arrival`, and settle that reply then with [`Sim::settle_promised`].
    #[inline]
    pub fn settles(&self, to: PeerId, arrival: Time) -> bool {
        self.certain_until(self.net.host_of(to), arrival)
    }

    /// Settles `msg` to `to` now, as [`Sim::send_settled`] does when it can: counted
    /// sent, then delivered (or lost if `to`'s host is down) and as an event, without a queue
    /// entry. Only for a message whose arrival [`Sim::settles`] promised when it was asked.
    #[inline(always)]
    pub fn settle_promised(&mut self, to: PeerId, msg: M) {
        let h = self.net.host_of(to);
        self.net.count_sent(&msg);
        self.events_processed += 1;
        self.settled += 1;
        if self.net.is_host_up(h) {
            self.net.count_delivered(to, &msg);
        } else {
            self.net.count_lost(&msg);
        }
    }

    /// Whether a message arriving at host `h` at `arrival` may be settled now: settling is on,
    /// it arrives within the running [`run_until`] call, and `h` has no churn transition until
    /// then (so whether it is heard is known now).
    #[inline]
    fn certain_until(&self, h: HostId, arrival: Time) -> bool {
        self.settling && arrival <= self.horizon && self.next_churn[h as usize] > arrival
    }

    /// Settles a request from `from` to `to` and its reply now, both counted sent and delivered
    /// (and as two events), when that is exact; returns whether it did (else nothing happened).
    ///
    /// For exchanges whose request changes nothing at a live receiver but send the reply at
    /// once, and whose reply only completes an RPC that the caller completes itself when this
    /// returns `true` (a predecessor ping). Exact when neither host has a churn transition until
    /// its message arrives (both are up now) and the reply arrives within the running
    /// [`run_until`] call; the caller checks the rest (the receiver stays a member, the RPC's
    /// timeout is deferred). Like [`Sim::send_settled`], it takes no place in the event order.
    #[inline]
    pub fn settle_exchange_on(
        &mut self,
        from: PeerId,
        to: PeerId,
        path: Path,
        request: &M,
        reply: &M,
    ) -> bool {
        let there = self.kernel.now() + self.net.one_way_on(path, from, to);
        let back = there + self.net.one_way_on(path.reversed(), to, from);
        let (hf, ht) = (self.net.host_of(from), self.net.host_of(to));
        if !(self.certain_until(ht, there)
            && self.certain_until(hf, back)
            && self.net.is_host_up(ht)
            && self.net.is_host_up(hf))
        {
            return false;
        }
        self.net.count_sent(request);
        self.net.count_delivered(to, request);
        self.net.count_sent(reply);
        self.net.count_delivered(from, reply);
        self.events_processed += 2;
        self.settled += 2;
        true
    }

    /// Takes the place of a timer of `peer` firing after `delay` without scheduling it: a
    /// timeout that is only needed if its request goes unanswered
    /// ([`Sim::set_deferred_timer`] schedules it in that place when it is).
    #[inline]
    pub fn defer_timer(&mut self, peer: PeerId, delay: Time) -> DeferredTimer {
        DeferredTimer {
            at: self.kernel.reserve_in(delay),
            peer,
            incarnation: self.net.incarnation(self.net.host_of(peer)),
        }
    }

    /// The deferred timer of `peer` at `time` whose place's sequence was carried elsewhere
    /// ([`DeferredTimer::seq`]), put back together: valid while `peer`'s host keeps the
    /// incarnation it had when the place was taken.
    #[inline]
    pub fn defer_again(&self, peer: PeerId, time: Time, seq: u64) -> DeferredTimer {
        DeferredTimer {
            at: crate::engine::Reservation::carried(time, seq),
            peer,
            incarnation: self.net.incarnation(self.net.host_of(peer)),
        }
    }

    /// Schedules a deferred timer in its reserved place, exactly as [`Sim::set_timer`] would
    /// have when it was deferred (nothing when its peer's host has crashed since: it would be
    /// void).
    #[inline]
    pub fn set_deferred_timer(&mut self, d: DeferredTimer, timer: T) -> TimerHandle {
        if self.net.incarnation(self.net.host_of(d.peer)) != d.incarnation {
            return TimerHandle::default();
        }
        self.kernel.schedule_reserved(
            d.at,
            Event::Timer {
                peer: d.peer,
                incarnation: d.incarnation,
                timer,
            },
        )
    }

    /// Starts a timer for `peer` firing after `delay`; it is void if the peer's host crashes first.
    #[inline]
    pub fn set_timer(&mut self, peer: PeerId, delay: Time, timer: T) -> TimerHandle {
        let incarnation = self.net.incarnation(self.net.host_of(peer));
        self.kernel.schedule_in(
            delay,
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
        self.kernel.schedule_in(
            delay,
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
        self.kernel.cancel(h);
    }
}

/// Runs events with time `<= end`, then sets the clock to `end`. Returns the number processed.
pub fn run_until<P: Protocol>(k: &mut Sim<P::Msg, P::Timer>, proto: &mut P, end: Time) -> u64 {
    let before = k.events_processed;
    k.horizon = end;
    while let Some(ev) = k.kernel.pop_until(end) {
        // Hints for the next event (results never depend on them): what its handler reads.
        if k.hints {
            match k.kernel.peek_next() {
                Some(Event::Deliver { from, to, msg }) => {
                    k.net.prefetch_host_of(*to);
                    if let Some(h) = k.net.prefetch_host_of(*from) {
                        // A reply to the sender is settled against its host's next transition.
                        if let Some(t) = k.next_churn.get(h as usize) {
                            crate::engine::prefetch(t);
                        }
                    }
                    proto.prefetch_message(*to, msg);
                }
                Some(Event::Timer { peer, timer, .. }) => {
                    if *peer != GLOBAL {
                        k.net.prefetch_host_of(*peer);
                    }
                    proto.prefetch_timer(*peer, timer);
                }
                _ => {}
            }
        }
        match ev {
            Event::Deliver { from, to, msg } => {
                k.events_processed += 1;
                if !k.net.is_peer_up(to) {
                    k.net.count_lost(&msg);
                    proto.on_lost(k, from, to, msg);
                    continue;
                }
                k.net.count_delivered(to, &msg);
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
                k.next_churn[host as usize] = next.unwrap_or(Time::MAX);
                let going_up = !k.net.is_host_up(host);
                k.net.set_host_up(host, going_up);
                if let Some(t) = next {
                    k.kernel.schedule_at(t, Event::Churn { host });
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
                    k.kernel
                        .schedule_in(period, Event::Slice { index: index + 1 });
                }
            }
        }
    }
    k.kernel.advance_to(end);
    k.events_processed - before
}
