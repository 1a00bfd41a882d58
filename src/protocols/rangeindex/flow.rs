//! The query paths of C-Table and RP-BST, their RPCs and timeouts, and the coordinator's
//! failure detection and repair messages.

use super::tree::NIL;
use super::{Msg, Pending, RangeIndex, Request, Timer, Variant, Wire};
use crate::engine::Time;
use crate::ids::PeerId;
use crate::ledger::QueryId;
use crate::output::Outcome;
use crate::overlay::arena::Handle;
use crate::rpc;
use crate::sim::Sim;

impl RangeIndex {
    /// Starts an RPC from `caller` to `callee` for range `part` of query `q`; `make` builds the
    /// message around the RPC's handle.
    fn call(
        &mut self,
        k: &mut Sim<Wire, Timer>,
        (caller, callee): (PeerId, PeerId),
        (q, part, descend): (QueryId, u32, bool),
        make: impl Fn(Handle) -> Msg,
    ) {
        let wait = rpc::timeout(k.net().rtt_peers(caller, callee), self.p.rtts, self.p.cap);
        let payload = Pending { q, part, descend };
        let h = self
            .rpcs
            .start(k, (caller, callee), payload, wait, Timer::Rpc);
        self.ledger.charge(q, 1, 0);
        self.send(k, caller, callee, make(h));
    }

    /// The next query: a random live origin and its key range.
    pub(super) fn issue(&mut self, k: &mut Sim<Wire, Timer>) {
        let Some(origin) = self.stream.live_peer(k.net()) else {
            return;
        };
        let (n, first) = self
            .stream
            .draw_keys(self.kind, self.range, self.keys.len());
        let now = k.now();
        let q = self
            .ledger
            .open_at(k.net(), origin, now, self.kind.as_str(), n as u64);
        self.ledger.set_warm(q, self.stream.last_warm());
        let parts = (self.part_of(first), self.part_of(first + n - 1));
        self.reqs.push(Request {
            first,
            n,
            parts,
            answered: 0,
            attempts: 0,
        });
        self.done
            .push(vec![false; (parts.1 - parts.0 + 1) as usize]);
        self.begin(k, q);
    }

    /// A query's first attempt, or its retry after a timeout.
    fn begin(&mut self, k: &mut Sim<Wire, Timer>, q: QueryId) {
        let origin = self.ledger.record(q).origin;
        match self.variant {
            Variant::CTable if origin == self.coordinator => self.fetch_all(k, q),
            Variant::CTable => {
                let c = self.coordinator;
                self.call(k, (origin, c), (q, 0, false), |rpc| Msg::Locate { rpc, q });
            }
            Variant::RpBst => {
                let root = self.tree.root;
                self.step(k, origin, q, root, true);
            }
        }
    }

    /// C-Table: fetch every part not yet answered from its holder (as the coordinator's table
    /// says when its answer arrives).
    fn fetch_all(&mut self, k: &mut Sim<Wire, Timer>, q: QueryId) {
        let origin = self.ledger.record(q).origin;
        let r = self.reqs[q as usize];
        for part in r.parts.0..=r.parts.1 {
            if self.done[q as usize][(part - r.parts.0) as usize] {
                continue;
            }
            let h = self.holder[part as usize];
            if h == origin {
                self.got(k, q, part, self.keys_in(&r, part));
            } else {
                self.call(k, (origin, h), (q, part, false), |rpc| Msg::Fetch {
                    rpc,
                    q,
                    part,
                });
            }
        }
    }

    /// RP-BST: query `q` goes from `from` to the holder of range `part`.
    fn step(
        &mut self,
        k: &mut Sim<Wire, Timer>,
        from: PeerId,
        q: QueryId,
        part: u32,
        descend: bool,
    ) {
        let to = self.holder[part as usize];
        if to == from {
            self.at_step(k, from, q, part, descend);
        } else {
            self.call(k, (from, to), (q, part, descend), |rpc| Msg::Step {
                rpc,
                q,
                part,
                descend,
            });
        }
    }

    /// RP-BST: the holder `at` of range `part` has query `q`: descend towards the first key's
    /// range, or serve its keys to the origin and pass the rest to the in-order successor.
    fn at_step(
        &mut self,
        k: &mut Sim<Wire, Timer>,
        at: PeerId,
        q: QueryId,
        part: u32,
        descend: bool,
    ) {
        let r = self.reqs[q as usize];
        if descend {
            if let Some(child) = self.tree.next_hop(part, r.parts.0) {
                debug_assert_ne!(child, NIL);
                self.ledger.note_hops(q, self.tree.depth(child) + 1);
                self.step(k, at, q, child, true);
                return;
            }
        }
        let origin = self.ledger.record(q).origin;
        let n = self.keys_in(&r, part);
        if at == origin {
            self.got(k, q, part, n);
        } else {
            self.ledger.charge(q, 1, 0);
            self.send(
                k,
                at,
                origin,
                Msg::Keys {
                    rpc: Handle::NONE,
                    q,
                    part,
                    n,
                },
            );
        }
        if part < r.parts.1 {
            self.step(k, at, q, part + 1, false);
        }
    }

    /// The origin received range `part`'s `n` keys of query `q`.
    fn got(&mut self, k: &mut Sim<Wire, Timer>, q: QueryId, part: u32, n: u32) {
        let r = &mut self.reqs[q as usize];
        let slot = &mut self.done[q as usize][(part - r.parts.0) as usize];
        if *slot {
            return;
        }
        *slot = true;
        r.answered += 1;
        let all = r.answered == r.parts.1 - r.parts.0 + 1;
        self.ledger.add_returned(q, u64::from(n));
        if all {
            self.ledger.close(q, k.now(), Outcome::Ok);
        }
    }

    /// A message reached a live peer.
    pub(super) fn on_msg(&mut self, k: &mut Sim<Wire, Timer>, from: PeerId, to: PeerId, msg: Msg) {
        match msg {
            Msg::Locate { rpc, q } => {
                let r = self.reqs[q as usize];
                let parts = r.parts.1 - r.parts.0 + 1;
                self.ledger.charge(q, 1, 0);
                self.send(k, to, from, Msg::Located { rpc, q, parts });
            }
            Msg::Located { rpc, q, .. } => {
                if self.rpcs.answered(k, rpc, from, to).is_some() {
                    self.fetch_all(k, q);
                }
            }
            Msg::Fetch { rpc, q, part } => {
                let r = self.reqs[q as usize];
                if self.holder[part as usize] != to {
                    self.stats.wrong_holder += 1;
                }
                let n = self.keys_in(&r, part);
                self.ledger.charge(q, 1, 0);
                self.send(k, to, from, Msg::Keys { rpc, q, part, n });
            }
            Msg::Keys { rpc, q, part, n } => {
                let fresh = if rpc == Handle::NONE {
                    self.ledger.origin_alive(q, k.net())
                } else {
                    self.rpcs.answered(k, rpc, from, to).is_some()
                };
                if fresh {
                    self.got(k, q, part, n);
                }
            }
            Msg::Step {
                rpc,
                q,
                part,
                descend,
            } => {
                self.ledger.charge(q, 1, 0);
                self.send(k, to, from, Msg::Ack { rpc });
                self.at_step(k, to, q, part, descend);
            }
            Msg::Ack { rpc } => {
                self.rpcs.answered(k, rpc, from, to);
            }
            Msg::Heartbeat => {
                self.last_beat[from as usize] = k.now();
                if !self.believed[from as usize] {
                    self.believed[from as usize] = true;
                    self.stats.restores += 1;
                    self.reassign_all(k);
                }
            }
            Msg::Update => {}
        }
    }

    /// An RPC timed out: retry the query's step (RP-BST) or its lookup and fetches (C-Table),
    /// or give up after `attempts`.
    pub(super) fn on_timeout(&mut self, k: &mut Sim<Wire, Timer>, h: Handle) {
        let Some(c) = self.rpcs.expired(h) else {
            return;
        };
        let r = c.payload;
        let q = r.q;
        self.ledger.charge(q, 0, 1);
        if !self.ledger.is_open(q) {
            return;
        }
        let req = &mut self.reqs[q as usize];
        req.attempts += 1;
        if req.attempts >= self.p.attempts {
            self.ledger.close(q, k.now(), Outcome::Failed);
            return;
        }
        match self.variant {
            Variant::CTable => self.begin(k, q),
            Variant::RpBst => self.step(k, c.caller, q, r.part, r.descend),
        }
    }

    /// The coordinator's failure detector: peers silent for `missed_beats` periods are
    /// declared failed and their ranges handed on.
    pub(super) fn detect(&mut self, k: &mut Sim<Wire, Timer>) {
        let limit = self.p.beat * Time::from(self.p.missed);
        let now = k.now();
        let mut changed = false;
        for p in 0..self.peers {
            if p as PeerId != self.coordinator
                && self.believed[p]
                && now.saturating_sub(self.last_beat[p]) > limit
            {
                self.believed[p] = false;
                self.stats.failovers += 1;
                changed = true;
            }
        }
        if changed {
            self.reassign_all(k);
        }
    }

    /// Recomputes every range's holder (the first peer believed alive from its owner on, in
    /// key order) and tells whoever must know: the new holder, and for RP-BST every node whose
    /// pointers name the range (every peer when it is the root's).
    pub(super) fn reassign_all(&mut self, k: &mut Sim<Wire, Timer>) {
        let n = self.peers;
        let c = self.coordinator;
        let mut told: Vec<PeerId> = Vec::new();
        for part in 0..n {
            let Some(h) = (0..n)
                .map(|d| (part + d) % n)
                .find(|&j| self.believed[j])
                .map(|j| j as PeerId)
            else {
                continue;
            };
            if self.holder[part] == h {
                continue;
            }
            self.holder[part] = h;
            if k.now() == 0 {
                continue; // the initial build
            }
            told.clear();
            told.push(h);
            if self.variant == Variant::RpBst {
                if part as u32 == self.tree.root {
                    told.extend((0..n as PeerId).filter(|&x| self.believed[x as usize]));
                } else {
                    let nb = self.tree.neighbours(part as u32);
                    told.extend(nb.iter().map(|&x| self.holder[x as usize]));
                }
            }
            told.sort_unstable();
            told.dedup();
            for &t in &told {
                if t != c {
                    self.stats.updates += 1;
                    self.send(k, c, t, Msg::Update);
                }
            }
        }
    }
}
