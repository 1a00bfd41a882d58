//! Request-reply calls for protocols that run directly on a [`Sim`] (Kademlia, C-Table, RP-BST;
//! ring systems have `overlay::Ctx::call`): each call in flight has a generation-checked handle
//! (carried in the request and echoed in the reply), a timeout timer at its caller, and the
//! caller's incarnation, so a reply that reaches a caller which crashed and came back since is
//! not taken for an answer.
//!
//! ```
//! use leadsim::rpc::{timeout, Calls};
//! use leadsim::engine::time::MS;
//! let mut calls: Calls<u32> = Calls::default();
//! assert!(calls.is_empty());
//! // A 30 ms RTT, 3 RTTs, capped at 1 s: 90 ms.
//! assert_eq!(timeout(30 * MS, 3.0, 1000 * MS), 90 * MS);
//! assert_eq!(timeout(600 * MS, 3.0, 1000 * MS), 1000 * MS);
//! ```

use crate::engine::{Time, TimerHandle};
use crate::ids::PeerId;
use crate::network::Message;
use crate::overlay::arena::{Arena, Handle};
use crate::sim::Sim;

/// The RPC timeout of the Chord substrate's rule: `rtts` round-trip times to the callee, at most
/// `cap`, at least 1 µs.
pub fn timeout(rtt: Time, rtts: f64, cap: Time) -> Time {
    ((rtt as f64 * rtts) as Time).clamp(1, cap.max(1))
}

/// A call in flight, at its caller.
#[derive(Clone, Copy, Debug)]
pub struct Call<P> {
    /// Who asked.
    pub caller: PeerId,
    /// Who was asked.
    pub callee: PeerId,
    /// What the caller needs to resume (the protocol's own payload).
    pub payload: P,
    incarnation: u32,
    timer: TimerHandle,
}

/// The calls in flight of one protocol.
pub struct Calls<P> {
    arena: Arena<Call<P>>,
}

impl<P> Default for Calls<P> {
    fn default() -> Self {
        Calls {
            arena: Arena::default(),
        }
    }
}

impl<P: Copy> Calls<P> {
    /// Starts a call from `caller` to `callee`: its timer fires `wait` later at the caller as
    /// `timer(handle)` unless the reply is taken first. The caller sends the request itself,
    /// carrying the returned handle.
    pub fn start<M: Message, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<M, T>,
        (caller, callee): (PeerId, PeerId),
        payload: P,
        wait: Time,
        timer: impl FnOnce(Handle) -> T,
    ) -> Handle {
        let incarnation = k.net().incarnation(k.net().host_of(caller));
        let h = self.arena.insert(Call {
            caller,
            callee,
            payload,
            incarnation,
            timer: TimerHandle::default(),
        });
        let t = k.set_timer(caller, wait, timer(h));
        if let Some(c) = self.arena.get_mut(h) {
            c.timer = t;
        }
        h
    }

    /// A reply to call `h` from `from` reached `to`: the call, if `to` is its caller in the same
    /// life and still waits for `from` (its timer is cancelled).
    pub fn answered<M: Message, T: Copy + std::fmt::Debug>(
        &mut self,
        k: &mut Sim<M, T>,
        h: Handle,
        from: PeerId,
        to: PeerId,
    ) -> Option<Call<P>> {
        let c = *self.arena.get(h)?;
        let inc = k.net().incarnation(k.net().host_of(to));
        if c.caller != to || c.callee != from || c.incarnation != inc {
            return None;
        }
        self.arena.remove(h);
        k.cancel(c.timer);
        Some(c)
    }

    /// Call `h`'s timer fired: the call, if it was still waiting.
    pub fn expired(&mut self, h: Handle) -> Option<Call<P>> {
        self.arena.remove(h)
    }

    /// The caller no longer waits for call `h` (its timer is cancelled; a late reply is ignored).
    pub fn abandon<M: Message, T: Copy + std::fmt::Debug>(&mut self, k: &mut Sim<M, T>, h: Handle) {
        if let Some(c) = self.arena.remove(h) {
            k.cancel(c.timer);
        }
    }

    /// Forgets the calls of every caller `gone` names (a crashed host's: their timers are void
    /// already, so nothing else would ever free them). O(calls in flight), once per crash.
    pub fn forget_callers(&mut self, gone: impl Fn(PeerId) -> bool) {
        let dead: Vec<Handle> = self
            .arena
            .iter()
            .filter(|(_, c)| gone(c.caller))
            .map(|(h, _)| h)
            .collect();
        for h in dead {
            self.arena.remove(h);
        }
    }

    /// Calls in flight.
    pub fn len(&self) -> usize {
        self.arena.len()
    }

    /// Whether no call is in flight.
    pub fn is_empty(&self) -> bool {
        self.arena.is_empty()
    }
}
