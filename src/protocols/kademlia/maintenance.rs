//! Kademlia's routing-table maintenance: the bucket update rule, warm start, rejoin after a
//! crash, bucket refresh, and the exactness check of node lookups.

use super::id::BITS;
use super::lookup::{Find, Lookup, Purpose};
use super::table::Seen;
use super::{Kademlia, Msg, RpcFor, Timer};
use crate::ids::PeerId;
use crate::sim::Sim;

impl Kademlia {
    /// `me` heard from `p`: the bucket update rule (a full bucket pings its oldest contact).
    pub(super) fn heard(&mut self, k: &mut Sim<Msg, Timer>, me: PeerId, p: PeerId) {
        let kk = self.p.k;
        if let Seen::PingOldest { bucket, head } =
            self.tables[me as usize].seen(self.ids[me as usize], &self.ids, p, kk)
        {
            self.stats.pings += 1;
            let rpc = self.new_rpc(k, me, head, RpcFor::Ping { bucket });
            k.send(me, head, Msg::Ping { rpc });
        }
    }

    /// Compares a node lookup's result with the true k closest live peers (the origin excluded).
    pub(super) fn check_node_result(&mut self, k: &Sim<Msg, Timer>, l: &Lookup) {
        let kk = self.p.k;
        l.result(kk, &mut self.scratch);
        let net = k.net();
        let origin = l.origin;
        self.truth.clear();
        self.index.closest(
            l.target,
            kk,
            &|p| p != origin && net.is_peer_up(p),
            &mut self.truth,
        );
        self.stats.node_checked += 1;
        self.stats.node_exact += u64::from(self.scratch == self.truth);
        self.stats.node_nearest += u64::from(self.scratch.first() == self.truth.first());
    }

    /// A joining peer's own-id lookup ended: it is a member, and refreshes its far buckets.
    pub(super) fn joined_now(&mut self, k: &mut Sim<Msg, Timer>, p: PeerId) {
        self.joined[p as usize] = true;
        let Some(near) = self.tables[p as usize].nearest_bucket() else {
            return;
        };
        let me = self.ids[p as usize];
        for b in near + 1..BITS {
            let t = me.random_in_bucket(b, &mut self.rng);
            self.start_lookup(k, p, t, Find::Node, Purpose::Refresh);
        }
    }

    /// A peer of a host that came back: empty table, rejoin through a random live member.
    pub(super) fn rejoin(&mut self, k: &mut Sim<Msg, Timer>, p: PeerId) {
        self.tables[p as usize].clear();
        self.joined[p as usize] = false;
        let host = k.net().host_of(p);
        let n = self.ids.len() as u64;
        let mut boot = None;
        for _ in 0..64 {
            let b = self.rng.below(n) as PeerId;
            if k.net().host_of(b) != host && k.net().is_peer_up(b) && self.joined[b as usize] {
                boot = Some(b);
                break;
            }
        }
        if self.p.refresh > 0 {
            let first = 1 + self.rng.below(self.p.refresh);
            k.set_timer(p, first, Timer::Refresh);
        }
        let Some(b) = boot else {
            // Nobody to join through: it stands alone until someone contacts it.
            self.joined[p as usize] = true;
            return;
        };
        self.stats.joins += 1;
        let me = self.ids[p as usize];
        self.tables[p as usize].insert(me, &self.ids, b);
        self.start_lookup(k, p, me, Find::Node, Purpose::Join);
    }

    /// Peer `p`'s refresh: a lookup of a random id in every bucket from its nearest contact's
    /// up that no lookup targeted within the period.
    pub(super) fn refresh(&mut self, k: &mut Sim<Msg, Timer>, p: PeerId) {
        k.set_timer(p, self.p.refresh, Timer::Refresh);
        if !self.joined[p as usize] {
            return;
        }
        let Some(near) = self.tables[p as usize].nearest_bucket() else {
            return;
        };
        let me = self.ids[p as usize];
        let stale = k.now().saturating_sub(self.p.refresh);
        for b in near..BITS {
            if self.tables[p as usize].bucket(b).touched <= stale {
                let t = me.random_in_bucket(b, &mut self.rng);
                self.start_lookup(k, p, t, Find::Node, Purpose::Refresh);
            }
        }
    }

    /// Warm start: every peer up at time 0 holds, per bucket, up to k random peers of its range.
    pub(super) fn warm_start(&mut self, k: &mut Sim<Msg, Timer>) {
        let kk = self.p.k;
        let mut pick: Vec<PeerId> = Vec::new();
        for p in 0..self.ids.len() {
            if !self.up(k.net(), p as PeerId) {
                continue;
            }
            let me = self.ids[p];
            for (_, range) in self.index.bucket_ranges(me) {
                pick.clear();
                pick.extend(range.iter().map(|e| e.1).filter(|&x| k.net().is_peer_up(x)));
                if pick.len() > kk {
                    for i in 0..kk {
                        let j = i + self.rng.below((pick.len() - i) as u64) as usize;
                        pick.swap(i, j);
                    }
                    pick.truncate(kk);
                }
                for &c in &pick {
                    self.tables[p].insert(me, &self.ids, c);
                }
            }
            self.joined[p] = true;
            if self.p.refresh > 0 {
                let first = 1 + self.rng.below(self.p.refresh);
                k.set_timer(p as PeerId, first, Timer::Refresh);
            }
        }
    }
}
