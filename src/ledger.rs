//! The query ledger: the one place where a query's life is recorded, for every protocol, so that
//! "latency", "messages per query" and "timeouts" mean exactly the same thing for every system.
//!
//! - A query is *opened* at its origin ([`Ledger::open`]) and *closed* once ([`Ledger::close`])
//!   when the origin receives the last result or gives up. Latency is the simulated time between
//!   the two: from the origin's request to its receipt of the last result, timeouts included.
//! - Every message sent on behalf of a query, by any peer, and every RPC timeout it suffers is
//!   charged to it ([`Ledger::charge`]); charges after the close are not part of the record.
//! - Queries still open when the run stops are classified by [`Ledger::finish`]: `origin_down`
//!   when the origin's host crashed since the query was issued, `unfinished` otherwise; their
//!   latency runs to the moment the run stopped waiting (end of the drain).
//!
//! [`QueryStream`] is a system's arrival process with its own RNG stream (arrival gaps, origins,
//! and whatever else the system draws per query), so adding a system to a run changes no other
//! system's queries.
//!
//! ```
//! use leadsim::ledger::Ledger;
//! use leadsim::output::Outcome;
//! let mut l = Ledger::default();
//! let q = l.open(3, 0, 1_000, "range", 100);
//! l.charge(q, 5, 1);
//! l.add_returned(q, 100);
//! assert!(l.close(q, 4_000, Outcome::Ok));
//! assert!(!l.close(q, 5_000, Outcome::Failed), "a query closes once");
//! let r = &l.records()[0];
//! assert_eq!((r.latency_us, r.messages, r.timeouts, r.keys_returned), (3_000, 5, 1, 100));
//! ```

use crate::engine::Time;
use crate::ids::PeerId;
use crate::network::Network;
use crate::output::{Outcome, QueryRecord};
use crate::rng::SimRng;
use crate::workload::{Arrivals, Popularity, QueryKind};

/// A query's number within its system's ledger (issue order).
pub type QueryId = u32;

#[derive(Clone, Debug)]
struct Entry {
    record: QueryRecord,
    incarnation: u32,
    open: bool,
    warm: Option<bool>,
}

/// Per-query accounting of one system in one run.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    entries: Vec<Entry>,
    open: usize,
}

impl Ledger {
    /// Opens a query issued now by `origin` (whose host is in `incarnation`).
    pub fn open(
        &mut self,
        origin: PeerId,
        incarnation: u32,
        now: Time,
        kind: &'static str,
        keys_requested: u64,
    ) -> QueryId {
        let q = self.entries.len() as QueryId;
        self.entries.push(Entry {
            record: QueryRecord {
                query: u64::from(q),
                kind,
                origin,
                issued_us: now,
                latency_us: 0,
                hops: 0,
                messages: 0,
                keys_requested,
                keys_returned: 0,
                timeouts: 0,
                outcome: Outcome::Unfinished,
            },
            incarnation,
            open: true,
            warm: None,
        });
        self.open += 1;
        q
    }

    /// Opens a query issued now by `origin`, in its host's current life on `net`.
    pub fn open_at(
        &mut self,
        net: &Network,
        origin: PeerId,
        now: Time,
        kind: &'static str,
        keys_requested: u64,
    ) -> QueryId {
        let inc = net.incarnation(net.host_of(origin));
        self.open(origin, inc, now, kind, keys_requested)
    }

    /// Charges `messages` sent and `timeouts` suffered to an open query (ignored once closed).
    #[inline]
    pub fn charge(&mut self, q: QueryId, messages: u32, timeouts: u32) {
        if let Some(e) = self.entries.get_mut(q as usize).filter(|e| e.open) {
            e.record.messages += messages;
            e.record.timeouts += timeouts;
        }
    }

    /// Sets the keys an open query asks for, when they are only known after it opened (e.g.
    /// the keys of a range that are stored at the moment it is issued).
    pub fn set_requested(&mut self, q: QueryId, keys: u64) {
        if let Some(e) = self.entries.get_mut(q as usize).filter(|e| e.open) {
            e.record.keys_requested = keys;
        }
    }

    /// Marks whether the prefix group query `q` asks for was asked for before in this system
    /// ([`QueryStream::last_warm`]; `None` outside prefix workloads).
    pub fn set_warm(&mut self, q: QueryId, warm: Option<bool>) {
        if let Some(e) = self.entries.get_mut(q as usize) {
            e.warm = warm;
        }
    }

    /// Cache-hit rate of a prefix workload (the KV-cache case study): the share of queries whose
    /// group had been asked for before (so its blocks were cached) and whose answer was complete
    /// (`ok`, every key returned). `None` when no query was marked by [`Ledger::set_warm`].
    pub fn cache_hit_rate(&self) -> Option<f64> {
        let marked = self.entries.iter().filter(|e| e.warm.is_some()).count();
        let hits = self
            .entries
            .iter()
            .filter(|e| {
                e.warm == Some(true)
                    && e.record.outcome == Outcome::Ok
                    && e.record.keys_returned >= e.record.keys_requested
            })
            .count();
        (marked > 0).then(|| hits as f64 / marked as f64)
    }

    /// Records that the answer travelled `hops` overlay hops (the maximum is kept).
    pub fn note_hops(&mut self, q: QueryId, hops: u32) {
        if let Some(e) = self.entries.get_mut(q as usize).filter(|e| e.open) {
            e.record.hops = e.record.hops.max(hops);
        }
    }

    /// Adds keys received by the origin.
    pub fn add_returned(&mut self, q: QueryId, keys: u64) {
        if let Some(e) = self.entries.get_mut(q as usize).filter(|e| e.open) {
            e.record.keys_returned += keys;
        }
    }

    /// Closes a query at `now`; false (and no change) if it was closed already.
    pub fn close(&mut self, q: QueryId, now: Time, outcome: Outcome) -> bool {
        let Some(e) = self.entries.get_mut(q as usize).filter(|e| e.open) else {
            return false;
        };
        e.open = false;
        e.record.latency_us = now - e.record.issued_us;
        e.record.outcome = outcome;
        self.open -= 1;
        true
    }

    /// Whether the query is still open.
    #[inline]
    pub fn is_open(&self, q: QueryId) -> bool {
        self.entries.get(q as usize).is_some_and(|e| e.open)
    }

    /// The query's record so far (origin, issue time, charges).
    pub fn record(&self, q: QueryId) -> &QueryRecord {
        &self.entries[q as usize].record
    }

    /// The origin's host incarnation when the query was issued (a reply reaching an origin
    /// that crashed and came back since is not for it).
    pub fn incarnation(&self, q: QueryId) -> u32 {
        self.entries[q as usize].incarnation
    }

    /// Whether `q` is open and its origin has not crashed since issuing it.
    pub fn origin_alive(&self, q: QueryId, net: &Network) -> bool {
        self.entries.get(q as usize).is_some_and(|e| {
            e.open && net.incarnation(net.host_of(e.record.origin)) == e.incarnation
        })
    }

    /// Queries issued so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no query was issued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Queries still open.
    pub fn open_count(&self) -> usize {
        self.open
    }

    /// Closes every query still open at `now` (`origin_down` or `unfinished`, see the module
    /// docs). Afterwards every record is final.
    pub fn finish(&mut self, now: Time, net: &Network) {
        for q in 0..self.entries.len() as QueryId {
            let e = &self.entries[q as usize];
            if e.open {
                let crashed = net.incarnation(net.host_of(e.record.origin)) != e.incarnation;
                let outcome = if crashed {
                    Outcome::OriginDown
                } else {
                    Outcome::Unfinished
                };
                self.close(q, now, outcome);
            }
        }
    }

    /// The records, in issue order.
    pub fn records(&self) -> Vec<QueryRecord> {
        self.entries.iter().map(|e| e.record.clone()).collect()
    }
}

/// A system's query arrivals: the arrival process plus the system's own random stream.
pub struct QueryStream {
    /// The system's stream: arrival gaps, origins, and per-query draws of the system.
    pub rng: SimRng,
    arrivals: Arrivals,
    end: Time,
    popularity: Popularity,
    span: (usize, usize),
    groups: Vec<(usize, usize)>,
    seen: Vec<bool>,
    warm: Option<bool>,
}

impl QueryStream {
    /// Arrivals until `end` drawn from the stream `name` of `seed`.
    pub fn new(seed: u64, name: &str, arrivals: Arrivals, end: Time) -> Self {
        QueryStream {
            rng: SimRng::stream(seed, name),
            arrivals,
            end,
            popularity: Popularity::Uniform,
            span: (0, 0),
            groups: Vec::new(),
            seen: Vec::new(),
            warm: None,
        }
    }

    /// The same stream with range queries over whole prefix groups (`workload.range_prefix_bits`):
    /// each range asks for group `g` = (first key index, keys), drawn by `p` (built over
    /// `groups.len()` segments, [`Popularity::parse_over`]).
    pub fn with_groups(mut self, groups: Vec<(usize, usize)>, p: Popularity) -> Self {
        self.seen = vec![false; groups.len()];
        self.groups = groups;
        self.popularity = p;
        self
    }

    /// Prefix workloads: whether the group of the last range drawn had been drawn before (its
    /// blocks are cached: the KV-cache case study's hit model); `None` otherwise.
    pub fn last_warm(&self) -> Option<bool> {
        self.warm
    }

    /// The same stream with data-query starts drawn from `p` (a hotspot workload).
    pub fn with_popularity(mut self, p: Popularity) -> Self {
        self.popularity = p;
        self
    }

    /// The same stream with range queries asking for `lo ..= hi` keys (uniform; `lo == hi`
    /// draws nothing, so a fixed n leaves the stream unchanged).
    pub fn with_range_span(mut self, lo: usize, hi: usize) -> Self {
        self.span = (lo, hi);
        self
    }

    /// The number of keys of the next range query: `n` unless a span was set.
    pub fn range_len(&mut self, n: usize) -> usize {
        let (lo, hi) = self.span;
        if hi > lo {
            lo + self.rng.below((hi - lo + 1) as u64) as usize
        } else {
            n
        }
    }

    /// Draws the keys of a range or lookup query over `total` sorted keys: (how many, index of
    /// the first). A range asks for `range` keys (or a number drawn from the span, or a whole
    /// prefix group), a lookup 1.
    pub fn draw_keys(&mut self, kind: QueryKind, range: usize, total: usize) -> (usize, usize) {
        if kind == QueryKind::Range && !self.groups.is_empty() {
            let g = self
                .popularity
                .draw(&mut self.rng, self.groups.len() as u64) as usize;
            self.warm = Some(self.seen[g]);
            self.seen[g] = true;
            let (first, n) = self.groups[g];
            return (n, first);
        }
        let n = if kind == QueryKind::Lookup {
            1
        } else {
            self.range_len(range)
        };
        (n, self.start((total - n + 1) as u64) as usize)
    }

    /// Draws the first key index of a data query: in `0..span` by the stream's popularity.
    pub fn start(&mut self, span: u64) -> u64 {
        self.popularity.draw(&mut self.rng, span)
    }

    /// Delay from time 0 to the first query (warm-up included).
    pub fn first(&mut self) -> Time {
        self.arrivals.first(&mut self.rng)
    }

    /// Draws the gap to the next query; `None` when it would fall after the end of the run.
    pub fn next_gap(&mut self, now: Time) -> Option<Time> {
        let g = self.arrivals.next_gap(&mut self.rng);
        (now + g <= self.end).then_some(g)
    }

    /// A uniformly random live peer (None if every host is down).
    pub fn live_peer(&mut self, net: &Network) -> Option<PeerId> {
        if net.live_hosts() == 0 {
            return None;
        }
        loop {
            let p = self.rng.below(net.peer_count() as u64) as PeerId;
            if net.is_peer_up(p) {
                return Some(p);
            }
        }
    }
}
