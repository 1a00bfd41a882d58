//! Structured overlays: the Chord ring with virtual nodes, shared by every ring-based protocol.
//!
//! An application (Chord-batch, LEAD, MARQUES) implements [`RingApp`]; [`Overlay`] glues it to a
//! [`Ring`] and implements the kernel's [`Protocol`]: ring messages and timers go to the ring,
//! application ones to the app, and targets that reach their responsible peer are handed to the
//! app as a [`Delivery`].

pub mod arena;
pub mod check;
pub mod chord;
pub mod id;
pub mod view;

use crate::ids::{HostId, PeerId};
use crate::sim::{Protocol, Sim};
use crate::driver::Driven;
use crate::ledger::Ledger;
use crate::network::Message;
use check::{check_ring, RingReport};
pub use chord::routing::Routed;
pub use chord::{
    ChordConfig, Delivery, Msg, Purpose, Ring, RingInit, Target, Timer, NONE, RING_KINDS,
};

/// The kernel type of an overlay running app `A`.
pub type OverlaySim<A> = Sim<Msg<<A as RingApp>::Msg>, Timer<<A as RingApp>::Timer>>;

/// An application running on the ring.
pub trait RingApp: Sized {
    /// Its own messages (kinds are numbered after [`RING_KINDS`]).
    type Msg: Message + Clone;
    /// Its own timers.
    type Timer: Copy + std::fmt::Debug;

    /// Names of its message kinds.
    fn kinds(&self) -> &'static [&'static str];
    /// Called once after the ring started.
    fn start(&mut self, ring: &mut Ring, k: &mut OverlaySim<Self>);
    /// Targets reached the peer responsible for them.
    fn on_deliver(&mut self, ring: &mut Ring, k: &mut OverlaySim<Self>, at: PeerId, d: Delivery);
    /// Targets that could not be routed at all from `at` (no live routing entry).
    fn on_route_failed(
        &mut self,
        ring: &mut Ring,
        k: &mut OverlaySim<Self>,
        at: PeerId,
        d: Delivery,
    );
    /// One of its messages arrived.
    fn on_message(
        &mut self,
        ring: &mut Ring,
        k: &mut OverlaySim<Self>,
        from: PeerId,
        to: PeerId,
        msg: Self::Msg,
    );
    /// One of its timers fired.
    fn on_timer(
        &mut self,
        ring: &mut Ring,
        k: &mut OverlaySim<Self>,
        peer: PeerId,
        timer: Self::Timer,
    );
    /// Hands what routing produced at `at` to [`RingApp::on_deliver`] / [`RingApp::on_route_failed`].
    fn handle_routed(
        &mut self,
        ring: &mut Ring,
        k: &mut OverlaySim<Self>,
        at: PeerId,
        r: Routed,
    ) {
        if let Some(d) = r.delivered {
            self.on_deliver(ring, k, at, d);
        }
        if let Some(d) = r.failed {
            self.on_route_failed(ring, k, at, d);
        }
    }
    /// One of its messages was lost at a dead receiver (reclaim resources only).
    fn on_lost(&mut self, _ring: &mut Ring, _k: &mut OverlaySim<Self>, _msg: Self::Msg) {}
    /// Its per-run metrics (name, value), reported before the ring's own.
    fn metrics(&self, _ring: &Ring) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
}

/// A ring plus the application on top of it.
pub struct Overlay<A: RingApp> {
    /// The Chord substrate.
    pub ring: Ring,
    /// The application.
    pub app: A,
    /// Ring consistency at the end of the simulated duration.
    pub report: Option<RingReport>,
}

impl<A: RingApp> Overlay<A> {
    /// The app on the ring.
    pub fn new(ring: Ring, app: A) -> Self {
        Overlay {
            ring,
            app,
            report: None,
        }
    }

    /// All message kind names: ring kinds, then the app's.
    pub fn kind_names(&self) -> Vec<&'static str> {
        RING_KINDS.iter().chain(self.app.kinds()).copied().collect()
    }
}

impl<A: RingApp> Protocol for Overlay<A> {
    type Msg = Msg<A::Msg>;
    type Timer = Timer<A::Timer>;

    fn start(&mut self, k: &mut OverlaySim<A>) {
        self.ring.start(k);
        self.app.start(&mut self.ring, k);
    }

    fn on_message(&mut self, k: &mut OverlaySim<A>, from: PeerId, to: PeerId, msg: Self::Msg) {
        match msg {
            Msg::Route {
                list,
                origin,
                hops,
                purpose,
                rpc,
                ..
            } => {
                let r = self
                    .ring
                    .on_route(k, from, to, list, origin, hops, purpose, rpc);
                self.app.handle_routed(&mut self.ring, k, to, r);
            }
            Msg::App(m) => self.app.on_message(&mut self.ring, k, from, to, m),
            other => self.ring.on_message(k, from, to, other),
        }
    }

    fn on_timer(&mut self, k: &mut OverlaySim<A>, peer: PeerId, timer: Self::Timer) {
        match timer {
            Timer::App(t) => self.app.on_timer(&mut self.ring, k, peer, t),
            t => {
                let r = self.ring.on_timer(k, peer, t);
                self.app.handle_routed(&mut self.ring, k, peer, r);
            }
        }
    }

    fn on_lost(&mut self, k: &mut OverlaySim<A>, _from: PeerId, _to: PeerId, msg: Self::Msg) {
        match msg {
            Msg::Route { list, rpc, .. } => self.ring.on_route_lost(list, rpc),
            Msg::Succs { list, .. } => self.ring.on_succs_lost(list),
            Msg::App(m) => self.app.on_lost(&mut self.ring, k, m),
            _ => {}
        }
    }

    fn on_host_down(&mut self, k: &mut OverlaySim<A>, host: HostId) {
        let net = k.net();
        self.ring.host_down(host, |p| net.host_of(p));
    }

    fn on_host_up(&mut self, k: &mut OverlaySim<A>, host: HostId) {
        self.ring.host_up(k, host);
    }
}

impl<A: RingApp> Driven for Overlay<A> {
    fn ledger(&mut self) -> &mut Ledger {
        &mut self.ring.ledger
    }

    fn at_end(&mut self, _k: &mut OverlaySim<A>) {
        self.report = Some(check_ring(&self.ring));
    }

    fn metrics(&mut self) -> Vec<(&'static str, f64)> {
        let mut m = self.app.metrics(&self.ring);
        let stats = &self.ring.stats;
        m.extend([
            ("ring_timeouts", stats.timeouts as f64),
            ("ring_joins", stats.joins as f64),
            ("ring_join_retries", stats.join_retries as f64),
            ("ring_unroutable", stats.unroutable as f64),
        ]);
        if let Some(r) = &self.report {
            m.extend([
                ("ring_wrong_successor_at_end", r.wrong_successor as f64),
                ("ring_wrong_predecessor_at_end", r.wrong_predecessor as f64),
                ("ring_unjoined_at_end", r.unjoined as f64),
            ]);
        }
        m
    }

    fn ring_report(&mut self) -> Option<RingReport> {
        self.report.clone()
    }
}
