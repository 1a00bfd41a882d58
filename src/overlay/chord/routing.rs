//! Recursive greedy routing of target lists, hop by hop, with acknowledgements.
//!
//! At each peer a list is split: targets this peer is responsible for are delivered here; the
//! others are grouped by next hop (closest preceding live finger or successor, or the successor
//! itself when it is responsible) and forwarded, one message per distinct next hop. Each forward
//! is an RPC: the next hop acknowledges, and on timeout the forwarder forgets it and re-routes.

use super::nexthop::{self, Table};
use super::step::{Here, Step};
use super::{Delivery, Ledgers, OverlaySim, Purpose, Ring, Rpc, RpcKind, Target, NONE};
use crate::ids::PeerId;
use crate::overlay::arena::Handle;
use crate::overlay::id::{in_open_closed, RingId};
use crate::overlay::wire::{RingMsg, Targets};

/// Peers a list routes around after timing out on them (only with `learn_from_queries = false`).
pub type Avoid = nexthop::Avoid;
pub(super) const NO_AVOID: Avoid = [NONE; 4];

/// Lists at least this long are routed through a [`nexthop::HopTable`] (built once per list and peer)
/// instead of scanning the routing table per target.
const TABLE_AT: usize = 8;

/// Most overlay hops a target may travel before it is declared unroutable (loop guard).
pub(super) const MAX_HOPS: u16 = 256;

/// No bucket yet for a table candidate.
const NO_BUCKET: u16 = u16::MAX;

/// Slots of a ring's next-hop table cache (direct-mapped by peer).
const HOP_CACHE: usize = 128;

thread_local! {
    static CACHING: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Whether routing on this thread reuses a peer's next-hop table between lists while its ring's
/// routing state is unchanged (on by default). Turning it off changes nothing but speed: the tests route churned systems
/// both ways and compare every byte.
pub fn set_hop_caching(on: bool) {
    CACHING.with(|c| c.set(on));
}

fn caching() -> bool {
    CACHING.with(std::cell::Cell::get)
}

thread_local! {
    static SHORTCUTS: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Whether rings created on this thread from now on let the next-hop scan pass the fingers
/// and successors their [`nexthop::Shortcuts`] rule out (on by default). Turning it off changes
/// nothing but speed: a test routes churned systems both ways and compares every byte.
pub fn set_scan_shortcuts(on: bool) {
    SHORTCUTS.with(|c| c.set(on));
}

pub(super) fn scan_shortcuts() -> bool {
    SHORTCUTS.with(std::cell::Cell::get)
}

/// What routing a list at one peer produced for the application.
#[derive(Debug, Default)]
pub struct Routed {
    /// Targets this peer is responsible for (an [`Purpose::App`] list).
    pub delivered: Option<Delivery>,
    /// Targets with no live route at all (the app decides what failure means).
    pub failed: Option<Delivery>,
}

impl Ring {
    /// Whether `p` believes it is responsible for `t`: `t` in (predecessor, p].
    pub fn is_responsible(&self, p: PeerId, t: RingId) -> bool {
        let i = self.ix(p);
        match self.arc_of(i) {
            Some((lo, hi)) => in_open_closed(t, lo, hi),
            // Only the founder of a ring that nobody else has joined yet owns everything.
            None => self.alone[i],
        }
    }

    /// The next hop from `p` towards `t`, and whether that peer is the responsible one.
    pub fn next_hop(&self, p: PeerId, t: RingId) -> Option<(PeerId, bool)> {
        self.next_hop_avoiding(p, t, &NO_AVOID)
    }

    /// [`Ring::next_hop`] ignoring the peers in `avoid` (silent for this query).
    pub fn next_hop_avoiding(&self, p: PeerId, t: RingId, avoid: &Avoid) -> Option<(PeerId, bool)> {
        nexthop::scan(&self.table(p, avoid), t)
    }

    /// Peer `p`'s routing table as the next-hop rule reads it.
    fn table<'a>(
        &'a self,
        p: PeerId,
        avoid: &'a Avoid,
    ) -> Table<'a, impl Fn(PeerId) -> RingId + 'a> {
        let i = self.ix(p);
        Table {
            me: p,
            me_vid: self.view.vid_at(i),
            fingers: self.finger_row(i),
            succs: self.succ_row(i),
            avoid,
            // A member added or moved at run time changes a VID that others' fingers point at.
            cuts: if self.scan_cuts {
                self.finger.cuts(i)
            } else {
                nexthop::Shortcuts::ALL
            },
            vid: move |c| self.vid(c),
        }
    }

    /// Routes `list` at peer `at` (the origin itself when `hops == 0`).
    #[allow(clippy::too_many_arguments)]
    pub fn route(
        &mut self,
        k: &mut OverlaySim,
        at: PeerId,
        list: Handle,
        origin: PeerId,
        hops: u16,
        purpose: Purpose,
        led: &mut Ledgers,
    ) -> Routed {
        self.route_avoiding(
            k,
            at,
            Targets::List(list),
            origin,
            hops,
            purpose,
            led,
            NO_AVOID,
        )
    }

    /// [`Ring::route`] of `targets` around the peers in `avoid` (silent for them).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn route_avoiding(
        &mut self,
        k: &mut OverlaySim,
        at: PeerId,
        targets: Targets,
        origin: PeerId,
        hops: u16,
        purpose: Purpose,
        led: &mut Ledgers,
        avoid: Avoid,
    ) -> Routed {
        let here = Here::of(self, at, hops, avoid);
        let list = match targets {
            Targets::One(t) => {
                return self.route_one(k, &here, t.into(), origin, purpose, led);
            }
            Targets::List(list) => list,
        };
        let Some(mut targets) = self.lists.remove(list) else {
            return Routed::default();
        };
        if let [t] = targets[..] {
            // A list of one (a lookup, a finger repair, a short query's last target) travels
            // inside its messages from here on.
            targets.clear();
            self.spare_lists.push(targets);
            return self.route_one(k, &here, t, origin, purpose, led);
        }
        let mut local: Option<Handle> = None;
        let mut failed: Option<Handle> = None;
        let mut buckets = std::mem::take(&mut self.scratch_buckets);
        buckets.clear();
        // A long list asks this peer's table many times: reduce it once (or reuse the peer's
        // cached reduction while the ring's routing state is unchanged).
        let tabled = targets.len() >= TABLE_AT;
        let cached = (tabled && avoid == NO_AVOID && caching()).then_some(at as usize % HOP_CACHE);
        let hops_table = match cached {
            Some(c) => {
                if self.hop_cache.len() < HOP_CACHE {
                    self.hop_cache
                        .resize_with(HOP_CACHE, || (NONE, 0, Default::default()));
                }
                let (peer, gen, table) = &mut self.hop_cache[c];
                let fresh = *peer == at && *gen == self.routing_gen;
                (*peer, *gen) = (at, self.routing_gen);
                let mut table = std::mem::take(table);
                if !fresh {
                    table.build(&self.table(at, &avoid));
                }
                table
            }
            None => {
                let mut table = std::mem::take(&mut self.scratch_hops);
                if tabled {
                    table.build(&self.table(at, &avoid));
                }
                table
            }
        };
        // Bucket of each table candidate in this list (none yet).
        let mut bucket_of = std::mem::take(&mut self.scratch_slots);
        if tabled {
            bucket_of.clear();
            bucket_of.resize(hops_table.slots(), NO_BUCKET);
        }
        for t in targets.drain(..) {
            match here.step(self, &t, tabled.then_some(&hops_table)) {
                Step::Local => {
                    let l = *local.get_or_insert_with(|| self.new_list());
                    self.push_target(
                        l,
                        Target {
                            final_hop: false,
                            ..t
                        },
                    );
                }
                Step::Unroutable => {
                    self.stats.unroutable += 1;
                    let l = *failed.get_or_insert_with(|| self.new_list());
                    self.push_target(l, t);
                }
                Step::Next {
                    next,
                    is_final,
                    slot,
                } => {
                    // Buckets keep the order in which their next hops first appear.
                    let known = slot.map_or(NO_BUCKET, |s| bucket_of[s]);
                    let b = if known != NO_BUCKET {
                        usize::from(known)
                    } else {
                        let b = match buckets.iter().position(|b| b.0 == next) {
                            Some(i) => i,
                            None => {
                                let v = self.spare_lists.pop().unwrap_or_default();
                                buckets.push((next, v));
                                buckets.len() - 1
                            }
                        };
                        if let Some(s) = slot {
                            // (Beyond u16 buckets the slot stays unmapped: found by the search.)
                            bucket_of[s] = u16::try_from(b).unwrap_or(NO_BUCKET);
                        }
                        b
                    };
                    buckets[b].1.push(Target {
                        final_hop: is_final,
                        ..t
                    });
                }
            }
        }
        self.spare_lists.push(targets);
        match cached {
            Some(c) => self.hop_cache[c].2 = hops_table,
            None => self.scratch_hops = hops_table,
        }
        self.scratch_slots = bucket_of;
        for (next, v) in buckets.drain(..) {
            let len = v.len() as u32;
            let l = Targets::List(self.lists.insert(v));
            self.forward(k, at, next, l, len, origin, hops + 1, purpose, led, avoid);
        }
        self.scratch_buckets = buckets;
        self.hand_over(k, at, origin, hops, purpose, local, failed)
    }

    /// Routes a single target at `here`: the same decision as for each target of a list, with
    /// the target carried inline (a list is made only to hand it to the application).
    fn route_one(
        &mut self,
        k: &mut OverlaySim,
        here: &Here,
        t: Target,
        origin: PeerId,
        purpose: Purpose,
        led: &mut Ledgers,
    ) -> Routed {
        let (at, hops) = (here.at, here.hops);
        let (local, failed) = match here.step(self, &t, None) {
            Step::Next { next, is_final, .. } => {
                let one = Targets::One(
                    Target {
                        final_hop: is_final,
                        ..t
                    }
                    .into(),
                );
                self.forward(
                    k,
                    at,
                    next,
                    one,
                    1,
                    origin,
                    hops + 1,
                    purpose,
                    led,
                    here.avoid,
                );
                return Routed::default();
            }
            // The ring's own lookups answer their origin without a list (what
            // [`Ring::hand_over`] does with one).
            Step::Local if !matches!(purpose, Purpose::App { .. }) => {
                self.send_found(k, at, origin, purpose, hops);
                return Routed::default();
            }
            Step::Local => (
                Some(self.list_of(Target {
                    final_hop: false,
                    ..t
                })),
                None,
            ),
            Step::Unroutable => {
                self.stats.unroutable += 1;
                if !matches!(purpose, Purpose::App { .. }) {
                    return Routed::default();
                }
                (None, Some(self.list_of(t)))
            }
        };
        self.hand_over(k, at, origin, hops, purpose, local, failed)
    }

    /// A new list holding `t`.
    fn list_of(&mut self, t: Target) -> Handle {
        let l = self.new_list();
        self.push_target(l, t);
        l
    }

    /// Hands the targets `at` is responsible for (`local`) and those with no route (`failed`) to
    /// the application, or, for the ring's own lookups, answers the origin.
    #[allow(clippy::too_many_arguments)]
    fn hand_over(
        &mut self,
        k: &mut OverlaySim,
        at: PeerId,
        origin: PeerId,
        hops: u16,
        purpose: Purpose,
        local: Option<Handle>,
        failed: Option<Handle>,
    ) -> Routed {
        let mut out = Routed::default();
        if let Some(l) = local {
            match purpose {
                Purpose::App { sys, query } => {
                    out.delivered = Some(Delivery {
                        ring: self.id,
                        sys,
                        origin,
                        query,
                        list: l,
                        hops,
                    })
                }
                internal => {
                    self.free_list(l);
                    self.send_found(k, at, origin, internal, hops);
                }
            }
        }
        if let Some(l) = failed {
            match purpose {
                Purpose::App { sys, query } => {
                    out.failed = Some(Delivery {
                        ring: self.id,
                        sys,
                        origin,
                        query,
                        list: l,
                        hops,
                    })
                }
                _ => self.free_list(l),
            }
        }
        out
    }

    /// Sends a routed list to `next` as an acknowledged RPC (the list avoids `avoid`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward(
        &mut self,
        k: &mut OverlaySim,
        from: PeerId,
        next: PeerId,
        targets: Targets,
        len: u32,
        origin: PeerId,
        hops: u16,
        purpose: Purpose,
        led: &mut Ledgers,
        avoid: Avoid,
    ) {
        let kind = RpcKind::Hop {
            targets: None,
            origin,
            hops,
            purpose,
            avoid,
        };
        let (rpc, path) = self.call(k, from, next, kind);
        Self::attribute(led, purpose, 1, 0);
        self.send_on(
            k,
            from,
            next,
            path,
            RingMsg::Route {
                targets,
                len,
                origin,
                hops,
                purpose: purpose.into(),
                rpc,
            },
        );
    }

    fn send_found(
        &mut self,
        k: &mut OverlaySim,
        at: PeerId,
        origin: PeerId,
        purpose: Purpose,
        hops: u16,
    ) {
        if origin == at {
            self.on_found(k, at, purpose, at);
        } else {
            self.send(
                k,
                at,
                origin,
                RingMsg::Found {
                    purpose: purpose.into(),
                    owner: at,
                    hops,
                },
            );
        }
    }

    /// A routed list arrived at `to` from `from`: acknowledge, then route it onwards.
    #[allow(clippy::too_many_arguments)]
    pub fn on_route(
        &mut self,
        k: &mut OverlaySim,
        from: PeerId,
        to: PeerId,
        targets: Targets,
        origin: PeerId,
        hops: u16,
        purpose: Purpose,
        rpc: Handle,
        led: &mut Ledgers,
    ) -> Routed {
        let app = matches!(purpose, Purpose::App { .. });
        self.reply(k, to, from, RingMsg::HopAck { rpc, app }, rpc);
        Self::attribute(led, purpose, 1, 0);
        self.route_avoiding(k, to, targets, origin, hops, purpose, led, NO_AVOID)
    }

    /// The next hop acknowledged: the hop RPC is complete.
    pub fn on_hop_ack(&mut self, k: &mut OverlaySim, rpc: Handle) {
        if let Some(r) = self.take_rpc(k, rpc) {
            k.cancel(r.timer);
            if let RpcKind::Hop {
                targets: Some(l), ..
            } = r.kind
            {
                self.release(l); // (cannot happen: a returned list means the message was lost)
            }
        }
    }

    /// A successor-list answer was lost: release its list.
    pub fn on_succs_lost(&mut self, list: Handle) {
        self.succ_lists.remove(list);
    }

    /// A routed message was lost at a dead peer: the forwarder keeps its targets for the retry.
    pub fn on_route_lost(&mut self, k: &OverlaySim, targets: Targets, rpc: Handle) {
        match self.rpc_mut(k, rpc) {
            Some(Rpc {
                kind:
                    RpcKind::Hop {
                        targets: slot @ None,
                        ..
                    },
                ..
            }) => *slot = Some(targets),
            _ => self.release(targets),
        }
    }

    /// A hop RPC timed out at its forwarder: forget the silent peer and re-route what came back.
    pub(super) fn on_hop_timeout(
        &mut self,
        k: &mut OverlaySim,
        r: Rpc,
        led: &mut Ledgers,
    ) -> Routed {
        self.stats.timeouts += 1;
        let learn = self.timing.learn_from_queries
            || !matches!(
                r.kind,
                RpcKind::Hop {
                    purpose: Purpose::App { .. },
                    ..
                }
            );
        if learn {
            self.forget(r.from, r.to);
        }
        if let RpcKind::Hop { purpose, .. } = r.kind {
            Self::attribute(led, purpose, 0, 1);
        }
        if let RpcKind::Hop {
            targets: Some(mut targets),
            origin,
            hops,
            purpose,
            mut avoid,
        } = r.kind
        {
            // The targets never arrived: route them again from here (hops already counted the
            // failed attempt's message, not a hop: undo it). Without learning, the silent peer
            // is avoided by this list only; a failed hand-back to our predecessor keeps the
            // targets final (the predecessor is gone for them, so they are ours).
            let mut final_hop = false;
            if !learn {
                final_hop = r.to == self.pred[self.ix(r.from)];
                if let Some(slot) = avoid.iter_mut().find(|a| **a == NONE) {
                    *slot = r.to;
                }
            }
            match &mut targets {
                Targets::One(t) => {
                    *t = Target {
                        final_hop,
                        ..Target::from(*t)
                    }
                    .into()
                }
                Targets::List(list) => {
                    for t in self.lists.get_mut(*list).into_iter().flatten() {
                        t.final_hop = final_hop;
                    }
                }
            }
            let h = hops.saturating_sub(1);
            return self.route_avoiding(k, r.from, targets, origin, h, purpose, led, avoid);
        }
        Routed::default()
    }
}
