//! FRM's insert workload: the next arriving key is inserted by a random live peer, routed like
//! a lookup to the owner of its hash in that peer's view, and stored by the holder of its key
//! index (forwarded there when the owner does not hold it); the holder refines its shadow and
//! refreshes its replicas.

use super::{Frm, MAX_HOPS};
use crate::ids::PeerId;
use crate::overlay::{Ctx, NONE};
use crate::protocols::lead::{Lead, LeadMsg, LeadTimer, RING};

impl Frm {
    pub(super) fn insert_bytes(&self) -> u32 {
        crate::overlay::app::app_bytes(16 + self.value_bytes)
    }

    /// The next insert: a random live peer inserts the next arriving key.
    pub fn on_insert_timer(&mut self, ctx: &mut Ctx<Lead>) {
        if self.store.next_arrival >= self.store.len() {
            return;
        }
        if self.store.next_arrival + 1 < self.store.len() {
            ctx.set_global_timer(self.gap, LeadTimer::FrmInsert);
        }
        let Some(origin) = ctx.random_joined_peer(RING, &mut self.rng) else {
            return;
        };
        let i = self.store.arrivals.at(self.store.next_arrival);
        self.store.next_arrival += 1;
        self.inserts[0] += 1;
        let target = self.hash_at(origin, i);
        self.route_insert(ctx, origin, i, target, 0);
    }

    /// An insert of key index `key` for ring position `target` is at `at`.
    pub fn route_insert(
        &mut self,
        ctx: &mut Ctx<Lead>,
        at: PeerId,
        key: u64,
        target: u64,
        hops: u16,
    ) {
        if hops > MAX_HOPS {
            self.inserts[2] += 1;
            return;
        }
        let ring = ctx.ring(RING);
        if ring.is_responsible(at, target) {
            return self.arrive(ctx, at, key, hops);
        }
        let Some((next, _)) = ring.next_hop(at, target) else {
            self.inserts[2] += 1;
            return;
        };
        self.send_insert(ctx, at, next, key, target, hops + 1);
    }

    pub(super) fn send_insert(
        &mut self,
        ctx: &mut Ctx<Lead>,
        from: PeerId,
        to: PeerId,
        key: u64,
        target: u64,
        hops: u16,
    ) {
        self.inserts[3] += 1;
        let bytes = self.insert_bytes();
        ctx.send(
            from,
            to,
            LeadMsg::Insert {
                key,
                target,
                hops,
                bytes,
            },
            None,
        );
    }

    /// The insert reached the owner of its hash: stored if `at` holds the key index, otherwise
    /// forwarded towards the holder.
    pub(super) fn arrive(&mut self, ctx: &mut Ctx<Lead>, at: PeerId, key: u64, hops: u16) {
        let k = self.rank(at);
        let h = self.store.holder(key);
        if h != k {
            let forward = self.forward_to(k, h);
            let ring = ctx.ring(RING);
            let next = if forward {
                ring.successors(at).first().copied().unwrap_or(NONE)
            } else {
                ring.predecessor(at)
            };
            if next == NONE {
                self.inserts[2] += 1;
                return;
            }
            // Sent with a target the next peer is not responsible for: it goes on by holdings.
            return self.send_insert(ctx, at, next, key, u64::MAX, hops.saturating_add(1));
        }
        if self.store.store(key) {
            self.inserts[1] += 1;
            self.inserted[k] += 1;
            self.shadow[k].insert(&self.store, k, &self.table, self.keys.keys(), key);
            self.replicate(ctx, at, u64::from(self.insert_bytes()));
        }
    }

    /// An `Insert` message arrived at `to`.
    pub fn on_insert(&mut self, ctx: &mut Ctx<Lead>, to: PeerId, key: u64, target: u64, hops: u16) {
        if target == u64::MAX {
            return self.arrive(ctx, to, key, hops);
        }
        self.route_insert(ctx, to, key, target, hops)
    }
}
