//! `chord-batch`: the paper's baseline. Keys are placed by a uniform hash (KeyHASH) on a Chord
//! ring; a range query for the n keys following a key K is answered by looking up all n key
//! identifiers (the origin knows them: the most favourable case for Chord) in consecutive batches
//! of B, one batch after another (model.md §5). Two honest accountings (`chord_batch.mode`):
//! - `consolidated` (default): a batch travels as one message per distinct next hop, split again
//!   at every peer; every responsible peer replies to the origin with its keys;
//! - `parallel`: B independent lookups in flight; the batch ends with the slowest.
//!
//! Total latency is the sum of batch latencies in issue order. A single-key lookup
//! (`workload.query = "lookup"`) is a range of one key.

use super::{ProtocolOutput, World};
use crate::data::KeySet;
use crate::engine::{run_until, Kernel, PeerId, Time, TimerHandle};
use crate::network::{Message, Network};
use crate::output::{Outcome, QueryRecord};
use crate::overlay::check::check_ring;
use crate::overlay::id::key_hash;
use crate::overlay::view::GlobalView;
use crate::overlay::{Delivery, Overlay, OverlayKernel, Ring, RingApp, Target};
use crate::rng::SimRng;
use crate::workload::{Arrivals, QueryKind};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How a batch travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BatchMode {
    /// One message per distinct next hop, split at each peer (the paper's wording).
    #[default]
    Consolidated,
    /// B independent lookups; the batch waits for the slowest.
    Parallel,
}

/// The manifest's `[chord_batch]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChordBatchConfig {
    /// Keys per batch (default 100; the paper also uses 1000).
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    /// `consolidated` (default) or `parallel`.
    #[serde(default)]
    pub mode: BatchMode,
}

fn d_batch() -> usize {
    100
}

impl Default for ChordBatchConfig {
    fn default() -> Self {
        ChordBatchConfig {
            batch_size: d_batch(),
            mode: BatchMode::default(),
        }
    }
}

/// Chord-batch's own messages.
#[derive(Clone, Copy, Debug)]
pub enum AppMsg {
    /// A responsible peer answers the origin for some keys of a batch.
    Reply {
        query: u32,
        batch: u32,
        answered: u32,
        found: u32,
        hops: u16,
    },
}

/// Names of [`AppMsg`]'s kinds.
pub const APP_KINDS: &[&str] = &["reply"];

impl Message for AppMsg {
    fn kind(&self) -> usize {
        0
    }
    fn size_bytes(&self) -> u32 {
        match *self {
            // Header, then per found key its 8-byte key and value.
            AppMsg::Reply { found, .. } => crate::overlay::chord::HEADER_BYTES + 12 + found * 16,
        }
    }
}

/// Chord-batch's timers.
#[derive(Clone, Copy, Debug)]
pub enum AppTimer {
    /// Global: issue the next query.
    Issue,
    /// The origin gives up on a batch.
    BatchDeadline { query: u32, batch: u32 },
}

struct Query {
    origin: PeerId,
    incarnation: u32,
    issued: Time,
    first_key: usize,
    n: usize,
    batch: u32,
    batch_len: u32,
    batch_answered: u32,
    found: u64,
    replies: u32,
    hops: u16,
    deadline: TimerHandle,
    done: bool,
}

/// The application state.
pub struct ChordBatch {
    keys: Arc<KeySet>,
    kind: QueryKind,
    range: usize,
    batch: usize,
    mode: BatchMode,
    arrivals: Arrivals,
    end: Time,
    max_lookup: Time,
    rng: SimRng,
    queries: Vec<Query>,
    records: Vec<QueryRecord>,
    /// Targets answered by a peer that was not the true live owner at that moment.
    pub wrong_owner: u64,
    /// Targets answered in total.
    pub answered: u64,
}

impl ChordBatch {
    fn start_batch(&mut self, ring: &mut Ring, k: &mut OverlayKernel<Self>, q: u32) {
        let qs = &mut self.queries[q as usize];
        let lo = qs.batch as usize * self.batch;
        let hi = (lo + self.batch).min(qs.n);
        qs.batch_len = (hi - lo) as u32;
        qs.batch_answered = 0;
        let (origin, first, batch) = (qs.origin, qs.first_key, qs.batch);
        qs.deadline = k.set_timer(
            origin,
            self.max_lookup,
            crate::overlay::Timer::App(AppTimer::BatchDeadline { query: q, batch }),
        );
        let keys = self.keys.clone();
        let keys = keys.keys();
        // Consolidated: the whole batch is one target list; parallel: one list per key.
        let group = match self.mode {
            BatchMode::Consolidated => hi - lo,
            BatchMode::Parallel => 1,
        };
        for start in (lo..hi).step_by(group.max(1)) {
            let list = ring.new_list();
            for i in start..(start + group).min(hi) {
                let id = key_hash(keys[first + i]);
                ring.push_target(
                    list,
                    Target {
                        id,
                        tag: i as u32,
                        final_hop: false,
                    },
                );
            }
            let r = ring.route(k, origin, list, origin, 0, crate::overlay::Purpose::App(q));
            self.handle_routed(ring, k, origin, r);
        }
    }

    fn reply(
        &mut self,
        ring: &mut Ring,
        k: &mut OverlayKernel<Self>,
        at: PeerId,
        d: Delivery,
        found: u32,
    ) {
        let answered = ring.list(d.list).len() as u32;
        ring.free_list(d.list);
        let batch = self.queries[d.query as usize].batch;
        let msg = AppMsg::Reply {
            query: d.query,
            batch,
            answered,
            found,
            hops: d.hops,
        };
        if d.origin == at {
            self.on_reply(ring, k, msg);
        } else {
            self.queries[d.query as usize].replies += 1;
            k.send(at, d.origin, crate::overlay::Msg::App(msg));
        }
    }

    fn on_reply(&mut self, ring: &mut Ring, k: &mut OverlayKernel<Self>, msg: AppMsg) {
        let AppMsg::Reply {
            query,
            batch,
            answered,
            found,
            hops,
        } = msg;
        let qs = &mut self.queries[query as usize];
        let origin_host = k.net.host_of(qs.origin);
        if qs.done || qs.batch != batch || k.net.incarnation(origin_host) != qs.incarnation {
            return; // late answer for a batch that already failed, or the origin restarted
        }
        qs.batch_answered += answered;
        qs.found += u64::from(found);
        qs.hops = qs.hops.max(hops);
        if qs.batch_answered < qs.batch_len {
            return;
        }
        k.cancel(qs.deadline);
        qs.batch += 1;
        if (qs.batch as usize) * self.batch < qs.n {
            self.start_batch(ring, k, query);
        } else {
            let latency = k.now() - qs.issued;
            self.finish(ring, query, latency, Outcome::Ok);
        }
    }

    fn finish(&mut self, ring: &Ring, q: u32, latency: Time, outcome: Outcome) {
        let qs = &mut self.queries[q as usize];
        qs.done = true;
        let traffic = ring.query_traffic(q);
        self.records.push(QueryRecord {
            query: u64::from(q),
            kind: self.kind.as_str(),
            origin: qs.origin,
            issued_us: qs.issued,
            latency_us: latency,
            hops: u32::from(qs.hops),
            messages: traffic.messages + qs.replies,
            keys_requested: qs.n as u64,
            keys_returned: qs.found,
            timeouts: traffic.timeouts,
            outcome,
        });
    }

    fn issue(&mut self, ring: &mut Ring, k: &mut OverlayKernel<Self>) {
        let next = self.arrivals.next_gap(&mut self.rng);
        if k.now() + next <= self.end {
            k.set_global_timer(next, crate::overlay::Timer::App(AppTimer::Issue));
        }
        let Some(origin) = random_joined_peer(ring, &k.net, &mut self.rng) else {
            return;
        };
        let n = match self.kind {
            QueryKind::Range => self.range,
            QueryKind::Lookup => 1,
        };
        let total = self.keys.len();
        let first_key = self.rng.below((total - n + 1) as u64) as usize;
        let q = self.queries.len() as u32;
        self.queries.push(Query {
            origin,
            incarnation: k.net.incarnation(k.net.host_of(origin)),
            issued: k.now(),
            first_key,
            n,
            batch: 0,
            batch_len: 0,
            batch_answered: 0,
            found: 0,
            replies: 0,
            hops: 0,
            deadline: TimerHandle::default(),
            done: false,
        });
        self.start_batch(ring, k, q);
    }
}

/// A uniformly random live peer that has joined the ring.
pub fn random_joined_peer(ring: &Ring, net: &Network, rng: &mut SimRng) -> Option<PeerId> {
    let live = ring.view.live();
    for _ in 0..1000 {
        if live.is_empty() {
            return None;
        }
        let p = live[rng.below(live.len() as u64) as usize].1;
        if ring.is_joined(p) && net.is_peer_up(p) {
            return Some(p);
        }
    }
    None
}

impl RingApp for ChordBatch {
    type Msg = AppMsg;
    type Timer = AppTimer;

    fn kinds(&self) -> &'static [&'static str] {
        APP_KINDS
    }

    fn start(&mut self, _ring: &mut Ring, k: &mut OverlayKernel<Self>) {
        let first = self.arrivals.first(&mut self.rng);
        k.set_global_timer(first, crate::overlay::Timer::App(AppTimer::Issue));
    }

    fn on_deliver(
        &mut self,
        ring: &mut Ring,
        k: &mut OverlayKernel<Self>,
        at: PeerId,
        d: Delivery,
    ) {
        let replicas = ring.timing.replicas;
        let mut found = 0;
        for t in ring.list(d.list) {
            if ring.view.live_successor(t.id) != Some(at) {
                self.wrong_owner += 1;
            }
            if ring.view.holds_replica(at, t.id, replicas) {
                found += 1;
            }
        }
        self.answered += ring.list(d.list).len() as u64;
        self.reply(ring, k, at, d, found);
    }

    fn on_route_failed(
        &mut self,
        ring: &mut Ring,
        k: &mut OverlayKernel<Self>,
        at: PeerId,
        d: Delivery,
    ) {
        // No route at all from `at`: it answers "not found" for these keys.
        self.reply(ring, k, at, d, 0);
    }

    fn on_message(
        &mut self,
        ring: &mut Ring,
        k: &mut OverlayKernel<Self>,
        _from: PeerId,
        _to: PeerId,
        msg: AppMsg,
    ) {
        self.on_reply(ring, k, msg);
    }

    fn on_timer(
        &mut self,
        ring: &mut Ring,
        k: &mut OverlayKernel<Self>,
        _peer: PeerId,
        timer: AppTimer,
    ) {
        match timer {
            AppTimer::Issue => self.issue(ring, k),
            AppTimer::BatchDeadline { query, batch } => {
                let qs = &self.queries[query as usize];
                if !qs.done && qs.batch == batch {
                    let latency = k.now() - qs.issued;
                    self.finish(ring, query, latency, Outcome::Failed);
                }
            }
        }
    }
}

/// Runs Chord-batch as described by `world`.
pub fn run(world: &World) -> Result<ProtocolOutput> {
    let m = world.manifest;
    let cfg = m.chord_batch.clone().unwrap_or_default();
    if cfg.batch_size == 0 {
        bail!("chord_batch.batch_size must be >= 1");
    }
    let timing = m.chord.clone().unwrap_or_default().timing()?;
    let keys = world
        .keys
        .clone()
        .ok_or_else(|| anyhow::anyhow!("chord-batch needs a dataset"))?;
    let (kind, range) = m.workload.query_shape()?;
    if range > keys.len() {
        bail!(
            "workload.range_keys = {range} exceeds the dataset's {} keys",
            keys.len()
        );
    }
    let vnodes = m.overlay.vnodes_per_host(world.topology.host_count())?;
    let view = GlobalView::new(&vnodes);
    let total = keys.len() as f64;
    // Random hashing: the keys in an arc are its share of the ring (expected count).
    let arc_keys: crate::overlay::chord::ArcKeys = Box::new(move |lo, hi| {
        (total * (hi.wrapping_sub(lo) as f64 / 18_446_744_073_709_551_616.0)) as u64
    });
    let ring = Ring::new(view, timing, m.seed, arc_keys);
    let app = ChordBatch {
        keys,
        kind,
        range,
        batch: cfg.batch_size,
        mode: cfg.mode,
        arrivals: m.workload.arrivals()?,
        end: m.duration(),
        max_lookup: timing.max_lookup,
        rng: SimRng::stream(m.seed, "workload"),
        queries: Vec::new(),
        records: Vec::new(),
        wrong_owner: 0,
        answered: 0,
    };
    let mut overlay = Overlay { ring, app };
    let kinds = overlay.kind_names();
    let net = Network::new(
        world.topology.clone(),
        m.latency.one_way,
        m.latency.local_us,
        &vnodes,
        kinds.len(),
    );
    let mut k: Kernel<_, _> = Kernel::new(net, world.churn.clone());
    crate::engine::Protocol::start(&mut overlay, &mut k);
    let end = m.duration();
    let drain = end + timing.max_lookup * (1 + range.div_ceil(cfg.batch_size) as u64);
    run_until(&mut k, &mut overlay, end);
    let report = check_ring(&overlay.ring);
    // Drain: no new queries; let the in-flight ones finish (bounded by their deadlines), and stop
    // as soon as none is open (checked every simulated second).
    let mut t = end;
    while t < drain && overlay.app.records.len() < overlay.app.queries.len() {
        t = (t + crate::engine::time::SEC).min(drain);
        run_until(&mut k, &mut overlay, t);
    }
    let app = &mut overlay.app;
    for q in 0..app.queries.len() as u32 {
        let qs = &app.queries[q as usize];
        if !qs.done {
            let crashed = k.net.incarnation(k.net.host_of(qs.origin)) != qs.incarnation;
            let latency = k.now() - qs.issued;
            app.finish(
                &overlay.ring,
                q,
                latency,
                if crashed {
                    Outcome::OriginDown
                } else {
                    Outcome::Unfinished
                },
            );
        }
    }
    app.records.sort_by_key(|r| r.query);
    let stats = overlay.ring.stats.clone();
    Ok(ProtocolOutput {
        records: std::mem::take(&mut app.records),
        kinds,
        counters: k.net.counters().clone(),
        events: k.events_processed(),
        metrics: vec![
            (
                "wrong_owner_share",
                app.wrong_owner as f64 / app.answered.max(1) as f64,
            ),
            ("ring_timeouts", stats.timeouts as f64),
            ("ring_joins", stats.joins as f64),
            ("ring_join_retries", stats.join_retries as f64),
            ("ring_unroutable", stats.unroutable as f64),
            ("ring_wrong_successor_at_end", report.wrong_successor as f64),
            (
                "ring_wrong_predecessor_at_end",
                report.wrong_predecessor as f64,
            ),
            ("ring_unjoined_at_end", report.unjoined as f64),
        ],
        ring: Some(report),
    })
}
