//! How the overlay hosts an application: [`System`] is the object-safe face every [`RingApp`]
//! shows the overlay (so systems of different types share a run), [`Hosted`] pairs an
//! application with its private stores and turns overlay events (messages, acks, timeouts,
//! timers, routing results) into the application's callbacks, including RPC failover.

use super::app::{CallId, Ctx, Env, Failover, RingApp, Stores};
use super::arena::Handle;
use super::chord::{Ring, Routed, NONE};
use super::wire::{AppEnvelope, Msg, SysIx};
use crate::ids::PeerId;

/// A system as the overlay sees it (object safe, so systems of different types share a run).
pub(crate) trait System {
    fn kinds(&self) -> &'static [&'static str];
    fn set_kind_base(&mut self, base: usize);
    fn start(&mut self, env: Env, sys: SysIx);
    fn routed(&mut self, env: Env, sys: SysIx, at: PeerId, r: Routed);
    fn message(&mut self, env: Env, sys: SysIx, from: PeerId, to: PeerId, e: AppEnvelope);
    fn timer(&mut self, env: Env, sys: SysIx, peer: PeerId, payload: Handle);
    fn call_ack(&mut self, env: Env, sys: SysIx, call: Handle, callee: PeerId);
    fn call_timeout(&mut self, env: Env, sys: SysIx, call: Handle);
    fn lost(&mut self, env: Env, sys: SysIx, e: AppEnvelope);
    fn metrics(&self, rings: &[Ring]) -> Vec<(&'static str, f64)>;
    fn checks(&self, rings: &[Ring], static_ring: bool) -> Vec<crate::driver::Check>;
    fn host_metrics(&self, rings: &[Ring], hosts: usize) -> Vec<(&'static str, Vec<f64>)>;
    fn series(&self) -> Option<crate::driver::SeriesTable>;
    fn facts(&self) -> Vec<(String, f64)>;
    fn as_any(&self) -> &dyn std::any::Any;
}

/// An application plus its stores.
pub(crate) struct Hosted<A: RingApp> {
    pub app: A,
    stores: Stores<A>,
    kind_base: usize,
}

impl<A: RingApp> Hosted<A> {
    pub fn new(app: A) -> Self {
        Hosted {
            app,
            stores: Stores::default(),
            kind_base: 0,
        }
    }

    fn split<'a>(&'a mut self, env: Env<'a>, sys: SysIx) -> (&'a mut A, Ctx<'a, A>) {
        let ctx = Ctx {
            env,
            stores: &mut self.stores,
            sys,
            kind_base: self.kind_base,
        };
        (&mut self.app, ctx)
    }
}

impl<A: RingApp> Hosted<A> {
    /// After a timed-out attempt whose request was lost: the next candidate, or failure.
    fn fail_over(&mut self, env: Env, sys: SysIx, call: Handle) {
        let Some(mut c) = self.stores.calls.get(call).copied() else {
            return;
        };
        if let Some(slot) = c.avoid.iter_mut().find(|a| **a == NONE) {
            *slot = c.to;
        }
        let ring = &env.rings[usize::from(c.ring)];
        let next = match c.failover {
            Failover::NextSuccessor if ring.is_joined(c.from) => ring
                .successors(c.from)
                .iter()
                .copied()
                .find(|&s| s != c.to && !c.avoid.contains(&s)),
            _ => None,
        };
        match next {
            Some(to) => {
                c.to = to;
                *self.stores.calls.get_mut(call).expect("live call") = c;
                let (_, mut ctx) = self.split(env, sys);
                ctx.attempt(call);
            }
            None => {
                self.stores.calls.remove(call);
                let Some(msg) = self.stores.msgs.remove(c.payload) else {
                    return;
                };
                let (app, mut ctx) = self.split(env, sys);
                app.on_call_failed(&mut ctx, CallId(call), c.from, msg);
            }
        }
    }
}

impl<A: RingApp> System for Hosted<A> {
    fn kinds(&self) -> &'static [&'static str] {
        self.app.kinds()
    }

    fn set_kind_base(&mut self, base: usize) {
        self.kind_base = base;
    }

    fn start(&mut self, env: Env, sys: SysIx) {
        let (app, mut ctx) = self.split(env, sys);
        app.start(&mut ctx);
    }

    fn routed(&mut self, env: Env, sys: SysIx, at: PeerId, r: Routed) {
        let (app, mut ctx) = self.split(env, sys);
        app.handle_routed(&mut ctx, at, r);
    }

    fn message(&mut self, env: Env, sys: SysIx, from: PeerId, to: PeerId, e: AppEnvelope) {
        let msg = if e.call == Handle::NONE {
            self.stores.msgs.remove(e.payload)
        } else {
            // An RPC request: the caller keeps the payload for failover; acknowledge it. A
            // virtual peer that left the call's ring has closed its port: no answer, so the
            // caller times out and fails over.
            let call = self.stores.calls.get(e.call);
            if call.is_some_and(|c| !env.rings[usize::from(c.ring)].view.is_member(to)) {
                return;
            }
            let query = call.and_then(|c| c.query);
            if let Some(q) = query {
                env.ledgers[usize::from(sys)].charge(q, 1, 0);
            }
            let ack = Msg::AppAck {
                sys,
                call: e.call,
                query: query.is_some(),
            };
            env.sim.send(to, from, ack);
            self.stores.msgs.get(e.payload).cloned()
        };
        let Some(msg) = msg else { return };
        let (app, mut ctx) = self.split(env, sys);
        app.on_message(&mut ctx, from, to, msg);
    }

    fn timer(&mut self, env: Env, sys: SysIx, peer: PeerId, payload: Handle) {
        let Some(t) = self.stores.timers.remove(payload) else {
            return;
        };
        let (app, mut ctx) = self.split(env, sys);
        app.on_timer(&mut ctx, peer, t);
    }

    fn call_ack(&mut self, env: Env, sys: SysIx, call: Handle, callee: PeerId) {
        let Some(c) = self.stores.calls.remove(call) else {
            return; // a late ack of a call that failed over already
        };
        env.sim.cancel(c.timer);
        self.stores.msgs.remove(c.payload);
        let (app, mut ctx) = self.split(env, sys);
        app.on_call_acked(&mut ctx, CallId(call), callee);
    }

    fn call_timeout(&mut self, env: Env, sys: SysIx, call: Handle) {
        let Some(c) = self.stores.calls.get_mut(call) else {
            return;
        };
        c.timed_out = true;
        let c = *c;
        if let Some(q) = c.query {
            env.ledgers[usize::from(sys)].charge(q, 0, 1);
        }
        let ring = &mut env.rings[usize::from(c.ring)];
        ring.stats.timeouts += 1;
        if ring.timing.learn_from_queries && ring.view.is_member(c.from) {
            ring.forget(c.from, c.to);
        }
        // Like a routing hop: a request that did reach a slow callee is not sent again (its ack
        // may still come); one that was lost at a dead callee fails over.
        if c.lost {
            self.fail_over(env, sys, call);
        }
    }

    fn lost(&mut self, env: Env, sys: SysIx, e: AppEnvelope) {
        if e.call != Handle::NONE {
            // The caller keeps the payload; it learns of the loss by its timeout.
            if let Some(c) = self.stores.calls.get_mut(e.call) {
                c.lost = true;
                if c.timed_out {
                    self.fail_over(env, sys, e.call);
                }
            }
            return;
        }
        let Some(msg) = self.stores.msgs.remove(e.payload) else {
            return;
        };
        let (app, mut ctx) = self.split(env, sys);
        app.on_lost(&mut ctx, msg);
    }

    fn metrics(&self, rings: &[Ring]) -> Vec<(&'static str, f64)> {
        self.app.metrics(rings)
    }

    fn checks(&self, rings: &[Ring], static_ring: bool) -> Vec<crate::driver::Check> {
        self.app.checks(rings, static_ring)
    }

    fn host_metrics(&self, rings: &[Ring], hosts: usize) -> Vec<(&'static str, Vec<f64>)> {
        self.app.host_metrics(rings, hosts)
    }

    fn series(&self) -> Option<crate::driver::SeriesTable> {
        self.app.series()
    }

    fn facts(&self) -> Vec<(String, f64)> {
        self.app.facts()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
