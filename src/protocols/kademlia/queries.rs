//! Kademlia's data queries: a lookup query is one FIND_VALUE; a range request fetches its known
//! block ids in consecutive batches of parallel FIND_VALUE lookups (the paper's IPFS emulation).

use super::id::Kid;
use super::lookup::{Find, Purpose};
use super::{Kademlia, Msg, Request, Timer};
use crate::ids::PeerId;
use crate::ledger::QueryId;
use crate::output::Outcome;
use crate::sim::Sim;

impl Kademlia {
    /// One key of data query `q` was looked up (`hops` when its value was found).
    pub(super) fn lookup_done(&mut self, k: &mut Sim<Msg, Timer>, q: QueryId, hops: Option<u8>) {
        self.stats.value_lookups += 1;
        if let Some(h) = hops {
            self.stats.value_found += 1;
            self.stats.value_hops += u64::from(h);
            self.ledger.add_returned(q, 1);
            self.ledger.note_hops(q, u32::from(h));
        }
        let r = &mut self.reqs[q as usize];
        r.pending -= 1;
        if r.pending > 0 {
            return;
        }
        if r.next < r.n {
            self.launch_batch(k, q);
        } else {
            self.ledger.close(q, k.now(), Outcome::Ok);
        }
    }

    /// Starts the next batch of query `q`'s key lookups, all in parallel.
    pub(super) fn launch_batch(&mut self, k: &mut Sim<Msg, Timer>, q: QueryId) {
        let origin = self.ledger.record(q).origin;
        let r = self.reqs[q as usize];
        let size = r.n.div_ceil(self.p.batches);
        let end = (r.next + size).min(r.n);
        self.reqs[q as usize].next = end;
        self.reqs[q as usize].pending = end - r.next;
        for j in r.next..end {
            let key = self.keys.keys()[r.first + j];
            let target = Kid::sha1(&key.to_le_bytes());
            self.start_lookup(k, origin, target, Find::Value, Purpose::Query(q));
        }
    }

    /// The next data query: a random live, joined origin; its keys; the first batch.
    pub(super) fn issue(&mut self, k: &mut Sim<Msg, Timer>) {
        let mut origin = None;
        for _ in 0..64 {
            match self.stream.live_peer(k.net()) {
                Some(p) if self.joined[p as usize] => {
                    origin = Some(p);
                    break;
                }
                Some(_) => continue,
                None => break,
            }
        }
        let Some(origin) = origin else { return };
        let (n, first) = self
            .stream
            .draw_keys(self.kind, self.range, self.keys.len());
        let now = k.now();
        let q = self
            .ledger
            .open_at(k.net(), origin, now, self.kind.as_str(), n as u64);
        self.ledger.set_warm(q, self.stream.last_warm());
        debug_assert_eq!(q as usize, self.reqs.len());
        self.reqs.push(Request {
            first,
            n,
            next: 0,
            pending: 0,
        });
        self.launch_batch(k, q);
    }

    /// Whether live peer `p` holds the value of `target`: it is among the k live peers closest.
    pub(super) fn holds(&self, k: &Sim<Msg, Timer>, p: PeerId, target: Kid) -> bool {
        let net = k.net();
        self.index
            .is_among_closest(target, p, self.p.k, &|x| net.is_peer_up(x))
    }
}
