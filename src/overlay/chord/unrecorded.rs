//! Hop RPCs that keep no record while their acknowledgement is certain.
//!
//! A routed list is forwarded as an RPC ([`Ring::call`]): the forwarder keeps a record (caller,
//! callee, the deferred timeout's place in the event order, the path) until the next hop
//! acknowledges on arrival. When that acknowledgement is sure to be settled at its sending
//! ([`OverlaySim::settles`]: the forwarder's host has no churn transition until it would
//! arrive, within the running `run_until` call) and the timeout is deferred, the record can
//! only ever be read again if the list itself goes unheard (the next hop crashed, or is not a
//! joined member when the list arrives). So no record is kept: the message carries the one
//! thing it cannot recompute, the timeout's insertion sequence, in its RPC handle
//! ([`Handle::carrying`]). The acknowledgement is settled from that alone, and a list that goes
//! unheard rebuilds the record exactly as it would have been, timeout place included.
//!
//! Not for lists that avoid peers (the avoid set is not carried) nor on rings whose members
//! move (a leaving forwarder drops its records, which a carried handle could not follow).

use super::routing::NO_AVOID;
use super::{OverlaySim, Ring, RpcKind};
use crate::engine::Time;
use crate::ids::PeerId;
use crate::overlay::arena::Handle;
use crate::overlay::wire::{Purpose, RingTimer, Targets, Timer};
use crate::sim::DeferredTimer;

thread_local! {
    static REBUILT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many unrecorded hop RPCs had their record rebuilt on this thread so far (their list went
/// unheard): lets a test check that a churned run took that path.
pub fn rebuilt_hops() -> u64 {
    REBUILT.with(std::cell::Cell::get)
}

impl Ring {
    /// The handle a hop RPC from `from` of `kind` carries instead of a record, if it needs
    /// none: its timeout is `deferred`, and the acknowledgement, back after `rtt`, is certain
    /// to be settled (see the module documentation).
    #[inline]
    pub(super) fn unrecorded_hop(
        &self,
        k: &OverlaySim,
        from: PeerId,
        kind: &RpcKind,
        deferred: Option<DeferredTimer>,
        rtt: Time,
    ) -> Option<Handle> {
        let RpcKind::Hop { avoid, .. } = kind else {
            return None;
        };
        if *avoid != NO_AVOID || self.moves || !k.settles(from, k.now() + rtt) {
            return None;
        }
        Handle::carrying(deferred?.seq()?)
    }

    /// A routed list of an unrecorded hop RPC from `from` to `to` went unheard: rebuilds the
    /// record as [`Ring::call`] made it, with the targets handed back, and schedules its
    /// timeout in the place taken when the list was sent (insertion sequence `seq`), as
    /// [`Ring::unanswered`] does for a recorded one.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn rebuild_hop(
        &mut self,
        k: &mut OverlaySim,
        (from, to): (PeerId, PeerId),
        targets: Targets,
        origin: PeerId,
        hops: u16,
        purpose: Purpose,
        seq: u64,
    ) {
        REBUILT.with(|n| n.set(n.get() + 1));
        let path = k.net().path(from, to);
        let rtt = k.net().rtt_on(path, from, to);
        let sent = k.now() - k.net().one_way_on(path, from, to);
        let deferred = k.defer_again(from, sent.saturating_add(self.rpc_timeout(rtt)), seq);
        let kind = RpcKind::Hop {
            targets: Some(targets),
            origin,
            hops,
            purpose,
            avoid: NO_AVOID,
        };
        let rpc = self.insert_rpc(k, (from, to), kind, path, None);
        let timer = k.set_deferred_timer(deferred, Timer::Ring(self.id, RingTimer::Rpc(rpc)));
        if let Some(r) = self.rpcs.get_mut(rpc) {
            r.timer = timer;
        }
    }
}
