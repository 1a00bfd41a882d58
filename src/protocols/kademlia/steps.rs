//! The steps of an iterative lookup at its origin: start from the own table's k closest, keep
//! `alpha` requests in flight, learn from each reply, finish (abandoning requests in flight).

use super::id::Kid;
use super::lookup::{Cand, Find, Lookup, Purpose, State};
use super::{Kademlia, Msg, RpcFor, Timer, NO_QUERY};
use crate::ids::PeerId;
use crate::overlay::arena::Handle;
use crate::sim::Sim;

impl Kademlia {
    /// Starts a lookup of `target` at `origin` from its own table's k closest contacts.
    pub(super) fn start_lookup(
        &mut self,
        k: &mut Sim<Msg, Timer>,
        origin: PeerId,
        target: Kid,
        find: Find,
        purpose: Purpose,
    ) {
        let me = self.ids[origin as usize];
        let kk = self.p.k;
        self.tables[origin as usize].closest(&self.ids, target, kk, &mut self.scratch);
        if let Some(b) = me.bucket_of(target) {
            self.tables[origin as usize].bucket_mut(b).touched = k.now();
        }
        let mut cands = self.spare_cands.pop().unwrap_or_default();
        cands.clear();
        cands.extend(self.scratch.iter().map(|&p| Cand {
            peer: p,
            dist: self.ids[p as usize].xor(target),
            state: State::New,
            hops: 1,
        }));
        self.stats.lookups[match purpose {
            Purpose::Query(_) => 0,
            Purpose::Refresh => 1,
            Purpose::Join => 2,
        }] += 1;
        let incarnation = k.net().incarnation(k.net().host_of(origin));
        let h = self.lookups.insert(Lookup {
            origin,
            incarnation,
            target,
            find,
            purpose,
            cands,
            inflight: 0,
            found: None,
        });
        self.pump(k, h);
    }

    /// Keeps `alpha` requests of lookup `h` in flight; finishes it when nothing is left to ask.
    pub(super) fn pump(&mut self, k: &mut Sim<Msg, Timer>, h: Handle) {
        let (kk, alpha) = (self.p.k, self.p.alpha);
        loop {
            let Some(l) = self.lookups.get(h) else { return };
            if l.inflight as usize >= alpha {
                return;
            }
            let Some(i) = l.next(kk) else { break };
            let (origin, callee, target, find, purpose) =
                (l.origin, l.cands[i].peer, l.target, l.find, l.purpose);
            let rpc = self.new_rpc(k, origin, callee, RpcFor::Lookup(h));
            let q = match purpose {
                Purpose::Query(q) => {
                    self.ledger.charge(q, 1, 0);
                    q
                }
                _ => NO_QUERY,
            };
            k.send(
                origin,
                callee,
                Msg::Find {
                    rpc,
                    target,
                    value: find == Find::Value,
                    q,
                },
            );
            if let Some(l) = self.lookups.get_mut(h) {
                l.cands[i].state = State::Asked(rpc);
                l.inflight += 1;
            }
        }
        if self.lookups.get(h).is_some_and(|l| l.exhausted(kk)) {
            self.finish(k, h);
        }
    }

    /// Ends lookup `h`: abandons its requests in flight, then acts on its purpose.
    pub(super) fn finish(&mut self, k: &mut Sim<Msg, Timer>, h: Handle) {
        let Some(mut l) = self.lookups.remove(h) else {
            return;
        };
        for c in &l.cands {
            if let State::Asked(r) = c.state {
                self.rpcs.abandon(k, r);
            }
        }
        if l.find == Find::Node {
            self.check_node_result(k, &l);
        }
        match l.purpose {
            Purpose::Query(q) => self.lookup_done(k, q, l.found.map(|f| f.1)),
            Purpose::Refresh => {}
            Purpose::Join => self.joined_now(k, l.origin),
        }
        l.cands.clear();
        self.spare_cands.push(std::mem::take(&mut l.cands));
    }

    /// A reply to RPC `h` reached its caller `to`: the lookup learns `contacts` (FIND_NODE
    /// answers) or the value (`None`).
    pub(super) fn on_reply(
        &mut self,
        k: &mut Sim<Msg, Timer>,
        from: PeerId,
        to: PeerId,
        h: Handle,
        contacts: Option<&[PeerId]>,
    ) {
        let Some(r) = self.rpcs.answered(k, h, from, to) else {
            return;
        };
        self.heard(k, to, from);
        let RpcFor::Lookup(lh) = r.payload else {
            return;
        };
        let cap = self.cap();
        let Some(l) = self.lookups.get_mut(lh) else {
            return;
        };
        l.inflight -= 1;
        let Some(i) = l.position(from) else { return };
        let hops = l.cands[i].hops;
        l.cands[i].state = State::Done;
        match contacts {
            Some(list) => {
                let (origin, target) = (l.origin, l.target);
                for &p in list {
                    if p != origin {
                        l.add(
                            p,
                            self.ids[p as usize].xor(target),
                            hops.saturating_add(1),
                            cap,
                        );
                    }
                }
                self.pump(k, lh);
            }
            None => {
                l.found = Some((from, hops));
                self.finish(k, lh);
            }
        }
    }
}
