//! The ring application API: what a system running on the ring implements ([`RingApp`]) and
//! what it may do ([`Ctx`], a context object in the style of dslab's `SimulationContext`).
//!
//! Through the context an application routes target lists to their responsible peers, sends its
//! own messages, makes RPCs with the substrate's timeout and failover to the next live
//! successor, walks successors one acknowledged step at a time, reads a peer's predecessor and
//! successor list, charges work to its queries in its [`Ledger`], sets timers, and adds,
//! moves or removes ring members (graceful leave). Several applications (query systems) can run
//! on one overlay; each has its own ledger, message kinds, timers and RPCs.

use super::arena::{Arena, Handle};
use super::chord::{Delivery, OverlaySim, Ring, Routed, NONE};
use super::id::RingId;
use super::wire::{
    AppEnvelope, AppTimerHandle, Msg, Purpose, RingIx, SysIx, Target, Timer, HEADER_BYTES,
};
use crate::engine::Time;
use crate::ids::PeerId;
use crate::ledger::{Ledger, QueryId, QueryStream};
use crate::network::{Message, Network};
use crate::rng::SimRng;
use crate::workload::QueryKind;

/// An application (a query system) running on the overlay's rings.
pub trait RingApp: Sized + 'static {
    /// Its own messages (kinds are numbered after the substrate's).
    type Msg: Message + Clone;
    /// Its own timers.
    type Timer: Copy + std::fmt::Debug;

    /// Names of its message kinds (CSV columns `msgs_<kind>`).
    fn kinds(&self) -> &'static [&'static str];
    /// Called once after the rings started.
    fn start(&mut self, ctx: &mut Ctx<Self>);
    /// Targets of one of its queries reached the peer `at` responsible for them.
    fn on_deliver(&mut self, ctx: &mut Ctx<Self>, at: PeerId, d: Delivery);
    /// Targets that could not be routed at all from `at` (no live routing entry). By default
    /// they are dropped (the query's deadline will notice).
    fn on_route_failed(&mut self, ctx: &mut Ctx<Self>, _at: PeerId, d: Delivery) {
        ctx.ring_mut(d.ring).free_list(d.list);
    }
    /// One of its messages (plain, or an RPC request already acknowledged) arrived.
    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: PeerId, to: PeerId, msg: Self::Msg);
    /// One of its timers fired.
    fn on_timer(&mut self, ctx: &mut Ctx<Self>, peer: PeerId, timer: Self::Timer);
    /// An RPC it made was acknowledged by `callee` (after failovers, maybe not the first callee).
    fn on_call_acked(&mut self, _ctx: &mut Ctx<Self>, _call: CallId, _callee: PeerId) {}
    /// An RPC it made timed out on every candidate: `msg` was not delivered.
    fn on_call_failed(
        &mut self,
        _ctx: &mut Ctx<Self>,
        _call: CallId,
        _from: PeerId,
        _msg: Self::Msg,
    ) {
    }
    /// One of its plain messages was lost at a dead receiver (reclaim resources only).
    fn on_lost(&mut self, _ctx: &mut Ctx<Self>, _msg: Self::Msg) {}
    /// Its per-run metrics (name, value), reported before the rings' own.
    fn metrics(&self, _rings: &[Ring]) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
    /// Per-host facts at the end of the run (`hosts.csv`), e.g. keys stored per host.
    fn host_metrics(&self, _rings: &[Ring], _hosts: usize) -> Vec<(&'static str, Vec<f64>)> {
        Vec::new()
    }
    /// Its invariant checks at the end of the run; `static_ring` = no churn and a converged
    /// start, where every answer must come from the true owner.
    fn checks(&self, _rings: &[Ring], _static_ring: bool) -> Vec<crate::driver::Check> {
        Vec::new()
    }
    /// A time series it recorded (`series.csv`; the overlay fills in the system's name).
    fn series(&self) -> Option<crate::driver::SeriesTable> {
        None
    }
    /// Provenance-only facts (wall-clock measurements, e.g. model training seconds).
    fn facts(&self) -> Vec<(String, f64)> {
        Vec::new()
    }
    /// Hands what routing produced at `at` to [`RingApp::on_deliver`] / [`RingApp::on_route_failed`].
    fn handle_routed(&mut self, ctx: &mut Ctx<Self>, at: PeerId, r: Routed) {
        if let Some(d) = r.delivered {
            self.on_deliver(ctx, at, d);
        }
        if let Some(d) = r.failed {
            self.on_route_failed(ctx, at, d);
        }
    }
}

/// A data query just issued ([`Ctx::issue_data_query`]).
#[derive(Clone, Copy, Debug)]
pub struct DataQuery {
    /// Its ledger id.
    pub query: QueryId,
    /// The issuing peer.
    pub origin: PeerId,
    /// Index of its first key in the sorted key array.
    pub first: usize,
    /// Keys asked for.
    pub n: usize,
}

/// What an application RPC does when its callee stays silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failover {
    /// Give up after the timeout: [`RingApp::on_call_failed`].
    None,
    /// Try the caller's next live successor on the ring (after the silent callee), until its
    /// successor list is exhausted.
    NextSuccessor,
}

/// An application RPC in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallId(pub(crate) Handle);

#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    pub(super) ring: RingIx,
    pub(super) from: PeerId,
    pub(super) to: PeerId,
    pub(super) query: Option<QueryId>,
    pub(super) failover: Failover,
    pub(super) payload: Handle,
    pub(super) timer: crate::engine::TimerHandle,
    /// Callees that stayed silent (routed around for this call only).
    pub(super) avoid: [PeerId; 4],
    /// The current attempt's request was lost at a dead callee.
    pub(super) lost: bool,
    /// The current attempt's timeout fired.
    pub(super) timed_out: bool,
}

/// The environment handed to every system callback: the simulation, the rings and the ledgers.
pub(crate) struct Env<'a> {
    pub sim: &'a mut OverlaySim,
    pub rings: &'a mut [Ring],
    pub ledgers: &'a mut [Ledger],
}

/// A system's private stores: payloads of its messages and timers, and its RPCs.
pub(crate) struct Stores<A: RingApp> {
    pub(super) msgs: Arena<A::Msg>,
    pub(super) timers: Arena<A::Timer>,
    pub(super) calls: Arena<Call>,
}

impl<A: RingApp> Default for Stores<A> {
    fn default() -> Self {
        Stores {
            msgs: Arena::default(),
            timers: Arena::default(),
            calls: Arena::default(),
        }
    }
}

/// What an application may do: its window onto the overlay during a callback.
pub struct Ctx<'a, A: RingApp> {
    pub(super) env: Env<'a>,
    pub(super) stores: &'a mut Stores<A>,
    pub(super) sys: SysIx,
    pub(super) kind_base: usize,
}

impl<'a, A: RingApp> Ctx<'a, A> {
    /// Current simulated time.
    #[inline]
    pub fn now(&self) -> Time {
        self.env.sim.now()
    }

    /// The network (liveness, hosts, latencies, counters).
    #[inline]
    pub fn net(&self) -> &Network {
        self.env.sim.net()
    }

    /// This system's index in the run.
    pub fn system(&self) -> SysIx {
        self.sys
    }

    /// Ring `r` (read access: views, successor lists, fingers).
    #[inline]
    pub fn ring(&self, r: RingIx) -> &Ring {
        &self.env.rings[usize::from(r)]
    }

    /// Ring `r`, mutable (target lists).
    #[inline]
    pub fn ring_mut(&mut self, r: RingIx) -> &mut Ring {
        &mut self.env.rings[usize::from(r)]
    }

    /// This system's query ledger.
    #[inline]
    pub fn ledger(&mut self) -> &mut Ledger {
        &mut self.env.ledgers[usize::from(self.sys)]
    }

    /// Whether query `q` is open and its origin has not crashed since issuing it (an answer
    /// arriving otherwise is not for it).
    pub fn origin_alive(&self, q: QueryId) -> bool {
        self.env.ledgers[usize::from(self.sys)].origin_alive(q, self.env.sim.net())
    }

    /// Opens a query at `origin` now (see [`Ledger::open`]).
    pub fn open_query(&mut self, origin: PeerId, kind: &'static str, keys: u64) -> QueryId {
        let net = self.env.sim.net();
        let inc = net.incarnation(net.host_of(origin));
        let now = self.now();
        self.ledger().open(origin, inc, now, kind, keys)
    }

    /// Credits an answer that reached query `q`'s origin: `keys` received, over a path of `hops`.
    /// False (and nothing credited) when the answer is late or the origin restarted since it
    /// asked, so the caller drops it.
    pub fn accept_answer(&mut self, q: QueryId, keys: u64, hops: u16) -> bool {
        if !self.origin_alive(q) {
            return false;
        }
        let l = self.ledger();
        l.add_returned(q, keys);
        l.note_hops(q, u32::from(hops));
        true
    }

    /// Closes query `q` as answered now and cancels its `deadline`; returns its keys
    /// (requested, returned) for the system's completeness tally.
    pub fn complete(&mut self, q: QueryId, deadline: AppTimerHandle) -> (u64, u64) {
        let now = self.now();
        self.ledger().close(q, now, crate::output::Outcome::Ok);
        self.cancel(deadline);
        let r = self.ledger().record(q);
        (r.keys_requested, r.keys_returned)
    }

    /// `p`'s predecessor on ring `r` ([`NONE`] when unknown).
    pub fn predecessor(&self, r: RingIx, p: PeerId) -> PeerId {
        self.ring(r).predecessor(p)
    }

    /// `p`'s successor list on ring `r`.
    pub fn successors(&self, r: RingIx, p: PeerId) -> &[PeerId] {
        self.ring(r).successors(p)
    }

    /// Routes the targets of `list` (see [`Ring::new_list`]) from `at` for query `query` of
    /// this system; every hop is an acknowledged message charged to the query. Targets `at` is
    /// responsible for come back at once in the result (hand it to
    /// [`RingApp::handle_routed`]); the others arrive later through [`RingApp::on_deliver`].
    pub fn route(&mut self, r: RingIx, at: PeerId, list: Handle, query: QueryId) -> Routed {
        let purpose = Purpose::App {
            sys: self.sys,
            query,
        };
        let ring = &mut self.env.rings[usize::from(r)];
        ring.route(self.env.sim, at, list, at, 0, purpose, self.env.ledgers)
    }

    /// Routes one target: a lookup of ring position `id` with the app's `tag`.
    pub fn lookup(
        &mut self,
        r: RingIx,
        at: PeerId,
        id: RingId,
        tag: u32,
        query: QueryId,
    ) -> Routed {
        let ring = self.ring_mut(r);
        let list = ring.new_list();
        ring.push_target(list, Target::new(id, tag));
        self.route(r, at, list, query)
    }

    fn envelope(&mut self, msg: A::Msg, call: Handle, query: bool) -> AppEnvelope {
        let kind = (self.kind_base + msg.kind()) as u16;
        let bytes = msg.size_bytes();
        AppEnvelope {
            sys: self.sys,
            kind,
            bytes,
            payload: self.stores.msgs.insert(msg),
            call,
            query,
        }
    }

    /// Sends one of its messages from `from` to `to`, charged to `query` when given.
    pub fn send(&mut self, from: PeerId, to: PeerId, msg: A::Msg, query: Option<QueryId>) {
        if let Some(q) = query {
            self.ledger().charge(q, 1, 0);
        }
        let e = self.envelope(msg, Handle::NONE, query.is_some());
        self.env.sim.send(from, to, Msg::App(e));
    }

    /// An RPC: sends `msg` from `from` to `to` on ring `r`; the callee's substrate acknowledges
    /// it (a counted message) and hands it to [`RingApp::on_message`]. Without an ack within
    /// the ring's RPC timeout the call fails over as `failover` says. Every attempt, ack and
    /// timeout is charged to `query` when given.
    pub fn call(
        &mut self,
        r: RingIx,
        from: PeerId,
        to: PeerId,
        msg: A::Msg,
        query: Option<QueryId>,
        failover: Failover,
    ) -> CallId {
        let payload = self.stores.msgs.insert(msg);
        let h = self.stores.calls.insert(Call {
            ring: r,
            from,
            to,
            query,
            failover,
            payload,
            timer: Default::default(),
            avoid: [NONE; 4],
            lost: false,
            timed_out: false,
        });
        self.attempt(h);
        CallId(h)
    }

    /// A successor walk step: an RPC from `from` to its first successor on ring `r` that fails
    /// over to the next live successor, skipping silent ones by timeout. `None` when `from`
    /// knows no successor.
    pub fn walk(
        &mut self,
        r: RingIx,
        from: PeerId,
        msg: A::Msg,
        query: Option<QueryId>,
    ) -> Option<CallId> {
        let &next = self.ring(r).successors(from).first()?;
        Some(self.call(r, from, next, msg, query, Failover::NextSuccessor))
    }

    pub(super) fn attempt(&mut self, h: Handle) {
        let c = *self.stores.calls.get(h).expect("live call");
        let msg = self
            .stores
            .msgs
            .get(c.payload)
            .expect("call payload")
            .clone();
        if let Some(q) = c.query {
            self.ledger().charge(q, 1, 0);
        }
        let e = AppEnvelope {
            sys: self.sys,
            kind: (self.kind_base + msg.kind()) as u16,
            bytes: msg.size_bytes(),
            payload: c.payload,
            call: h,
            query: c.query.is_some(),
        };
        let rtt = self.net().rtt_peers(c.from, c.to);
        let timeout = self.ring(c.ring).rpc_timeout(rtt);
        self.env.sim.send(c.from, c.to, Msg::App(e));
        let timer = self.env.sim.set_timer(
            c.from,
            timeout,
            Timer::Call {
                sys: self.sys,
                call: h,
            },
        );
        if let Some(c) = self.stores.calls.get_mut(h) {
            c.timer = timer;
            c.lost = false;
            c.timed_out = false;
        }
    }

    /// Starts a timer for `peer` (void if its host crashes first).
    pub fn set_timer(&mut self, peer: PeerId, delay: Time, t: A::Timer) -> AppTimerHandle {
        self.timer(Some(peer), delay, t)
    }

    /// Starts a global timer (owned by no peer, immune to churn), e.g. the query issuer.
    pub fn set_global_timer(&mut self, delay: Time, t: A::Timer) -> AppTimerHandle {
        self.timer(None, delay, t)
    }

    fn timer(&mut self, peer: Option<PeerId>, delay: Time, t: A::Timer) -> AppTimerHandle {
        let payload = self.stores.timers.insert(t);
        let ev = Timer::App {
            sys: self.sys,
            payload,
        };
        let kernel = match peer {
            Some(p) => self.env.sim.set_timer(p, delay, ev),
            None => self.env.sim.set_global_timer(delay, ev),
        };
        AppTimerHandle {
            kernel,
            payload: Some(payload),
        }
    }

    /// Cancels a timer (a no-op if it already fired).
    pub fn cancel(&mut self, h: AppTimerHandle) {
        self.env.sim.cancel(h.kernel);
        if let Some(p) = h.payload {
            self.stores.timers.remove(p);
        }
    }

    /// A uniformly random live peer that has joined ring `r`, drawn from `rng`.
    pub fn random_joined_peer(&self, r: RingIx, rng: &mut SimRng) -> Option<PeerId> {
        let ring = self.ring(r);
        let live = ring.view.live_len();
        for _ in 0..1000 {
            if live == 0 {
                return None;
            }
            let p = ring.view.live_at(rng.below(live as u64) as usize).1;
            if ring.is_joined(p) && self.net().is_peer_up(p) {
                return Some(p);
            }
        }
        None
    }

    /// The next data query of a system's stream, the same way for every data system: schedules
    /// the following arrival (`issue` timer), picks a random joined origin on ring `r`, draws the
    /// first key index of a range of `shape` over `total` keys, and opens the query. `None` when
    /// no peer has joined (and for box queries, which [`Ctx::issue_box_query`] issues).
    pub fn issue_data_query(
        &mut self,
        r: RingIx,
        stream: &mut QueryStream,
        shape: (QueryKind, usize),
        total: usize,
        issue: A::Timer,
    ) -> Option<DataQuery> {
        let origin = self.next_origin(r, stream, issue)?;
        if shape.0 == QueryKind::Box {
            return None;
        }
        let (n, first) = stream.draw_keys(shape.0, shape.1, total);
        let query = self.open_query(origin, shape.0.as_str(), n as u64);
        self.ledger().set_warm(query, stream.last_warm());
        Some(DataQuery {
            query,
            origin,
            first,
            n,
        })
    }

    /// The next box query of a system's stream (see [`Ctx::issue_data_query`]): a box of
    /// `selectivity` around a point drawn like a range's first key, decomposed into at most
    /// `max_intervals` curve intervals; the query requests every point inside (`n`; `first` is
    /// the centre point's index).
    pub fn issue_box_query(
        &mut self,
        r: RingIx,
        stream: &mut QueryStream,
        keys: &[u64],
        (selectivity, max_intervals): (f64, usize),
        issue: A::Timer,
    ) -> Option<(DataQuery, crate::multiattr::BoxQuery)> {
        let origin = self.next_origin(r, stream, issue)?;
        let center = stream.start(keys.len() as u64) as usize;
        let b =
            crate::multiattr::BoxQuery::around(keys, center, selectivity, max_intervals).ok()?;
        let n = b.requested(keys);
        let query = self.open_query(origin, QueryKind::Box.as_str(), n);
        let d = DataQuery {
            query,
            origin,
            first: center,
            n: n as usize,
        };
        Some((d, b))
    }

    /// Schedules the stream's next arrival and picks the origin of this one.
    fn next_origin(
        &mut self,
        r: RingIx,
        stream: &mut QueryStream,
        issue: A::Timer,
    ) -> Option<PeerId> {
        if let Some(gap) = stream.next_gap(self.now()) {
            self.set_global_timer(gap, issue);
        }
        self.random_joined_peer(r, &mut stream.rng)
    }

    /// Adds network peer `p` to ring `r` at position `id` (or moves a peer that left back in at
    /// a new position): it joins through the join protocol and requests its keys. The ring must
    /// have been told before the run ([`crate::overlay::chord::Ring::expect_moves`]).
    pub fn add_member(&mut self, r: RingIx, p: PeerId, id: RingId) {
        let h = self.net().host_of(p);
        let up = self.net().is_host_up(h);
        let ring = &mut self.env.rings[usize::from(r)];
        ring.add_member(self.env.sim, p, h, id, up);
    }

    /// Graceful leave of `p` from ring `r`: its keys go to its successor, its neighbours are
    /// told; every message is counted. The ring must have been told before the run
    /// ([`crate::overlay::chord::Ring::expect_moves`]).
    pub fn leave(&mut self, r: RingIx, p: PeerId) {
        let ring = &mut self.env.rings[usize::from(r)];
        ring.leave(self.env.sim, p);
    }
}

/// Bytes of a small application message with `extra` payload bytes.
pub const fn app_bytes(extra: u32) -> u32 {
    HEADER_BYTES + extra
}
