//! Structured overlays: Chord rings with virtual nodes, shared by every ring-based protocol, and
//! the application API that query systems are written against.
//!
//! An [`Overlay`] is one simulation's rings (usually one; MARQUES uses several) plus the query
//! systems running on them (usually one; a paired run hosts several, each with its own query
//! stream and ledger). It implements the kernel's [`Protocol`]: ring messages and timers go to
//! their ring, application messages, timers and RPCs to their system, and targets that reach
//! their responsible peer are handed to the system whose query they belong to.
//!
//! A system implements [`RingApp`] and acts through a [`Ctx`]; see `docs/adding-a-protocol.md`.

pub mod app;
pub mod arena;
pub mod check;
pub mod chord;
mod hosted;
pub mod id;
pub mod keyhash;
pub mod liveset;
pub mod run;
pub mod view;
pub mod wire;

use crate::driver::{Check, Driven, HostTable, SeriesTable, World};
use crate::ids::{HostId, PeerId};
use crate::ledger::Ledger;
use crate::sim::Protocol;
use app::Env;
pub use app::{CallId, Ctx, Failover, RingApp};
use check::{check_ring, RingReport};
pub use chord::{ChordConfig, Delivery, OverlaySim, Ring, RingInit, Routed, NONE};
use hosted::{Hosted, System};
pub use wire::{
    AppTimerHandle, Msg, Purpose, RingIx, RingMsg, SysIx, Target, Timer, FIRST_APP_KIND,
    RING_KINDS, SUBSTRATE_KINDS,
};

/// Rings plus the query systems running on them.
pub struct Overlay {
    /// The rings (index = [`RingIx`]).
    pub rings: Vec<Ring>,
    systems: Vec<Box<dyn System>>,
    names: Vec<String>,
    /// One ledger per system (index = [`SysIx`]).
    pub ledgers: Vec<Ledger>,
    /// Ring consistency at the end of the simulated duration, per ring.
    pub reports: Vec<RingReport>,
    /// Rings a group of systems shares, by key ([`Overlay::add_ring_keyed`]).
    ring_keys: Vec<(String, RingIx)>,
}

impl Overlay {
    /// An overlay of `rings` (systems may add their own rings later) with no system yet.
    pub fn new(rings: Vec<Ring>) -> Self {
        assert!(rings.len() <= usize::from(RingIx::MAX));
        Overlay {
            rings,
            systems: Vec::new(),
            names: Vec::new(),
            ledgers: Vec::new(),
            reports: Vec::new(),
            ring_keys: Vec::new(),
        }
    }

    /// Adds a ring built by `build` from its index (a system that runs on rings of its own);
    /// returns the index.
    pub fn add_ring(&mut self, build: impl FnOnce(RingIx) -> Ring) -> anyhow::Result<RingIx> {
        let ix = self.rings.len();
        if ix >= usize::from(RingIx::MAX) {
            anyhow::bail!("a run holds at most {} rings", RingIx::MAX);
        }
        let ring = build(ix as RingIx);
        assert_eq!(usize::from(ring.id), ix, "a ring carries its index");
        self.rings.push(ring);
        Ok(ix as RingIx)
    }

    /// The ring added under `key` by [`Overlay::add_ring_keyed`], if any.
    pub fn keyed_ring(&self, key: &str) -> Option<RingIx> {
        self.ring_keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|&(_, r)| r)
    }

    /// [`Overlay::add_ring`] under a key, so that later systems of the same group find it
    /// ([`Overlay::keyed_ring`]) and share it instead of building their own.
    pub fn add_ring_keyed(
        &mut self,
        key: String,
        build: impl FnOnce(RingIx) -> Ring,
    ) -> anyhow::Result<RingIx> {
        let r = self.add_ring(build)?;
        self.ring_keys.push((key, r));
        Ok(r)
    }

    /// Adds a query system named `name`; returns its index.
    pub fn add_system<A: RingApp>(&mut self, name: &str, app: A) -> SysIx {
        let sys = self.systems.len();
        assert!(sys < usize::from(SysIx::MAX), "too many systems");
        let mut h = Hosted::new(app);
        let base = FIRST_APP_KIND + self.systems.iter().map(|s| s.kinds().len()).sum::<usize>();
        h.set_kind_base(base);
        self.systems.push(Box::new(h));
        self.names.push(name.to_string());
        self.ledgers.push(Ledger::default());
        sys as SysIx
    }

    /// The application of system `sys`, if it is of type `A`.
    pub fn app<A: RingApp>(&self, sys: SysIx) -> Option<&A> {
        self.systems
            .get(usize::from(sys))?
            .as_any()
            .downcast_ref::<Hosted<A>>()
            .map(|h| &h.app)
    }

    /// System names, in index order.
    pub fn system_names(&self) -> &[String] {
        &self.names
    }

    /// All message kind names: ring kinds, the substrate's, then each system's (prefixed with
    /// the system's name when the run hosts several).
    pub fn kind_names(&self) -> Vec<String> {
        let mut v: Vec<String> = RING_KINDS
            .iter()
            .chain(SUBSTRATE_KINDS)
            .map(|s| s.to_string())
            .collect();
        let several = self.systems.len() > 1;
        for (s, name) in self.systems.iter().zip(&self.names) {
            for k in s.kinds() {
                v.push(if several {
                    format!("{name}:{k}")
                } else {
                    k.to_string()
                });
            }
        }
        v
    }

    fn env<'a>(k: &'a mut OverlaySim, rings: &'a mut [Ring], ledgers: &'a mut [Ledger]) -> Env<'a> {
        Env {
            sim: k,
            rings,
            ledgers,
        }
    }

    /// Hands a routing result to the system whose query it is.
    fn dispatch(&mut self, k: &mut OverlaySim, at: PeerId, r: Routed) {
        let sys = match (&r.delivered, &r.failed) {
            (Some(d), _) | (None, Some(d)) => d.sys,
            (None, None) => return,
        };
        let env = Self::env(k, &mut self.rings, &mut self.ledgers);
        self.systems[usize::from(sys)].routed(env, sys, at, r);
    }
}

impl Protocol for Overlay {
    type Msg = Msg;
    type Timer = Timer;

    fn start(&mut self, k: &mut OverlaySim) {
        for ring in &mut self.rings {
            ring.start(k);
        }
        for (i, s) in self.systems.iter_mut().enumerate() {
            let env = Self::env(k, &mut self.rings, &mut self.ledgers);
            s.start(env, i as SysIx);
        }
    }

    fn prefetch_timer(&self, peer: PeerId, timer: &Timer) {
        if let Timer::Ring(r, t) = timer {
            if let Some(ring) = self.rings.get(usize::from(*r)) {
                ring.prefetch_timer(peer, t);
            }
        }
    }

    fn prefetch_message(&self, to: PeerId, msg: &Msg) {
        if let Msg::Ring(r, m) = msg {
            if let Some(ring) = self.rings.get(usize::from(*r)) {
                ring.prefetch_message(to, m);
            }
        }
    }

    fn on_message(&mut self, k: &mut OverlaySim, from: PeerId, to: PeerId, msg: Msg) {
        match msg {
            Msg::Ring(r, m) => {
                let ring = &mut self.rings[usize::from(r)];
                if !ring.view.is_member(to) || !ring.serves(to, &m) {
                    // It left this ring, or has not (re)joined it and serves no ring request
                    // yet: a caller learns by its timeout, and a reply to a departed caller
                    // completes nothing.
                    ring.unheard(k, (from, to), m);
                    return;
                }
                match m {
                    RingMsg::Route {
                        targets,
                        origin,
                        hops,
                        purpose,
                        rpc,
                        ..
                    } => {
                        let routed = ring.on_route(
                            k,
                            from,
                            to,
                            targets,
                            origin,
                            hops,
                            purpose.get(),
                            rpc,
                            &mut self.ledgers,
                        );
                        self.dispatch(k, to, routed);
                    }
                    other => ring.on_message(k, from, to, other),
                }
            }
            Msg::App(e) => {
                let env = Self::env(k, &mut self.rings, &mut self.ledgers);
                self.systems[usize::from(e.sys)].message(env, e.sys, from, to, e);
            }
            Msg::AppAck { sys, call, .. } => {
                let env = Self::env(k, &mut self.rings, &mut self.ledgers);
                self.systems[usize::from(sys)].call_ack(env, sys, call, from);
            }
        }
    }

    fn on_timer(&mut self, k: &mut OverlaySim, peer: PeerId, timer: Timer) {
        match timer {
            Timer::Ring(r, t) => {
                let routed = self.rings[usize::from(r)].on_timer(k, peer, t, &mut self.ledgers);
                self.dispatch(k, peer, routed);
            }
            Timer::App { sys, payload } => {
                let env = Self::env(k, &mut self.rings, &mut self.ledgers);
                self.systems[usize::from(sys)].timer(env, sys, peer, payload);
            }
            Timer::Call { sys, call } => {
                let env = Self::env(k, &mut self.rings, &mut self.ledgers);
                self.systems[usize::from(sys)].call_timeout(env, sys, call);
            }
        }
    }

    fn on_lost(&mut self, k: &mut OverlaySim, from: PeerId, to: PeerId, msg: Msg) {
        match msg {
            Msg::Ring(r, m) => self.rings[usize::from(r)].unheard(k, (from, to), m),
            Msg::App(e) => {
                let env = Self::env(k, &mut self.rings, &mut self.ledgers);
                self.systems[usize::from(e.sys)].lost(env, e.sys, e);
            }
            _ => {}
        }
    }

    fn on_host_down(&mut self, _k: &mut OverlaySim, host: HostId) {
        for ring in &mut self.rings {
            ring.host_down(host);
        }
    }

    fn on_host_up(&mut self, k: &mut OverlaySim, host: HostId) {
        for ring in &mut self.rings {
            ring.host_up(k, host);
        }
    }
}

impl Driven for Overlay {
    fn ledger(&mut self) -> &mut Ledger {
        &mut self.ledgers[0]
    }

    fn ledgers(&mut self) -> &mut [Ledger] {
        &mut self.ledgers
    }

    fn system_names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn at_end(&mut self, k: &mut OverlaySim) {
        self.reports = self.rings.iter().map(|r| check_ring(r, k.net())).collect();
    }

    fn system_metrics(&mut self) -> Vec<Vec<(&'static str, f64)>> {
        self.systems
            .iter()
            .map(|s| s.metrics(&self.rings))
            .collect()
    }

    fn metrics(&mut self) -> Vec<(&'static str, f64)> {
        let mut m = Vec::new();
        // Ring metrics are summed over the rings.
        let sum = |f: &dyn Fn(&Ring) -> u64| self.rings.iter().map(f).sum::<u64>() as f64;
        m.extend([
            ("ring_timeouts", sum(&|r| r.stats.timeouts)),
            ("ring_joins", sum(&|r| r.stats.joins)),
            ("ring_join_retries", sum(&|r| r.stats.join_retries)),
            ("ring_unroutable", sum(&|r| r.stats.unroutable)),
        ]);
        // Routing state per peer: every ring a peer belongs to (MARQUES has two).
        let bytes: f64 = self.rings.iter().map(Ring::routing_bytes_mean).sum();
        m.push(("routing_bytes_per_peer", bytes));
        if !self.reports.is_empty() {
            let rs =
                |f: &dyn Fn(&RingReport) -> usize| self.reports.iter().map(f).sum::<usize>() as f64;
            m.extend([
                ("ring_wrong_successor_at_end", rs(&|r| r.wrong_successor)),
                (
                    "ring_wrong_predecessor_at_end",
                    rs(&|r| r.wrong_predecessor),
                ),
                ("ring_unjoined_at_end", rs(&|r| r.unjoined)),
            ]);
        }
        m
    }

    fn host_tables(&mut self, world: &World) -> Vec<HostTable> {
        let hosts = world.vnodes.len();
        (self.systems.iter().zip(&self.names))
            .map(|(s, name)| HostTable {
                system: name.clone(),
                columns: s.host_metrics(&self.rings, hosts),
            })
            .filter(|t| !t.columns.is_empty())
            .collect()
    }

    fn series(&mut self) -> Vec<SeriesTable> {
        (self.systems.iter().zip(&self.names))
            .filter_map(|(s, name)| {
                let mut t = s.series()?;
                t.system = name.clone();
                Some(t)
            })
            .collect()
    }

    fn facts(&mut self) -> Vec<(String, f64)> {
        let several = self.systems.len() > 1;
        (self.systems.iter().zip(&self.names))
            .flat_map(|(s, name)| {
                s.facts()
                    .into_iter()
                    .map(move |(k, v)| (if several { format!("{name}:{k}") } else { k }, v))
            })
            .collect()
    }

    fn checks(&mut self, world: &World) -> Vec<Check> {
        // Churn-free, or the last transition lies CHECK_CALM_PERIODS stabilisations before the end.
        let last = (0..world.churn.hosts() as HostId)
            .filter_map(|h| world.churn.transitions(h).last().copied())
            .max();
        let mut out = Vec::new();
        for (ring, report) in self.rings.iter().zip(&self.reports) {
            let calm = last
                .is_none_or(|t| t + CHECK_CALM_PERIODS * ring.timing.stabilize <= world.duration);
            let explained = report.explained_by_timeouts();
            let mut detail = format!(
                "ring {}: {} live peers, {} unjoined, {} wrong successors, {} wrong predecessors, {} with dead successor-list entries",
                ring.id,
                report.live,
                report.unjoined,
                report.wrong_successor,
                report.wrong_predecessor,
                report.dead_in_successor_list
            );
            if let Some((p, q, rtt, timeout)) = report.unreachable_example {
                detail.push_str(&format!(
                    "; {} {} have a true neighbour that no RPC can reach in time, e.g. peer {p} (host {}) and peer {q} (host {}): RTT {:.1} ms >= RPC timeout {:.1} ms (min(chord.rpc_timeout_rtts x RTT, chord.rpc_timeout_cap_ms)), so each treats the other as dead, as p2psim does; raise chord.rpc_timeout_cap_ms above such RTTs to change it{}",
                    if explained { "all of them:" } else { "of them," },
                    report.unreachable,
                    ring.view.host(p),
                    ring.view.host(q),
                    rtt as f64 / 1000.0,
                    timeout as f64 / 1000.0,
                    if explained { " (not enforced: the topology, not the protocol, causes it)" } else { "" }
                ));
            }
            out.push(Check {
                name: "ring consistent",
                holds: report.consistent(),
                enforced: calm && !explained,
                detail,
            });
        }
        let static_ring = last.is_none()
            && self
                .rings
                .iter()
                .all(|r| r.timing.init == RingInit::Converged);
        for s in &self.systems {
            out.extend(s.checks(&self.rings, static_ring));
        }
        out
    }
}

/// Stabilisation periods of calm after churn stops before ring consistency is enforced.
pub const CHECK_CALM_PERIODS: u64 = 30;
