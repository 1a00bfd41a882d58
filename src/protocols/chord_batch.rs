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

use crate::data::KeySet;
use crate::driver::{Check, SystemSpec, World};
use crate::engine::Time;
use crate::ids::PeerId;
use crate::ledger::{QueryId, QueryStream};
use crate::network::Message;
use crate::output::Outcome;
use crate::overlay::app::app_bytes;
use crate::overlay::keyhash::key_hashes;
use crate::overlay::run::SystemParts;
use crate::overlay::{AppTimerHandle, Ctx, Delivery, Overlay, Ring, RingApp, RingIx, Target};
use crate::settings::{KeyDoc, Settings, TableDef};
use crate::workload::QueryKind;
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

impl Settings for ChordBatchConfig {
    fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            bail!("chord_batch.batch_size must be >= 1");
        }
        Ok(())
    }
}

/// The `[chord_batch]` table's definition.
pub const TABLE: TableDef = TableDef::new::<ChordBatchConfig>(
    "chord_batch",
    "settings of the Chord-batch baseline",
    &[
        KeyDoc {
            key: "batch_size",
            range: ">= 1",
            doc: "keys per batch of point lookups (the paper uses 100 and 1000)",
        },
        KeyDoc {
            key: "mode",
            range: "consolidated | parallel",
            doc: "one message per distinct next hop (split at each peer), or B independent lookups",
        },
    ],
);

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
            AppMsg::Reply { found, .. } => app_bytes(12 + found * 16),
        }
    }
}

/// Chord-batch's timers.
#[derive(Clone, Copy, Debug)]
pub enum AppTimer {
    /// Global: issue the next query.
    Issue,
    /// The origin gives up on a batch.
    BatchDeadline { query: QueryId, batch: u32 },
}

/// Protocol state of a query (its record lives in the ledger).
struct Query {
    origin: PeerId,
    first_key: usize,
    n: usize,
    /// A box query's keys (indices into the key array); `None`: `first_key..first_key + n`.
    members: Option<Vec<u64>>,
    batch: u32,
    batch_len: u32,
    batch_answered: u32,
    deadline: AppTimerHandle,
}

/// The application state.
pub struct ChordBatch {
    keys: Arc<KeySet>,
    kind: QueryKind,
    range: usize,
    /// Box queries: (selectivity, most intervals).
    box_shape: (f64, usize),
    batch: usize,
    mode: BatchMode,
    stream: QueryStream,
    max_lookup: Time,
    queries: Vec<Query>,
    /// Targets answered by a peer that was not the true live owner at that moment.
    pub wrong_owner: u64,
    /// Targets answered in total.
    pub answered: u64,
    /// Scratch: the key identifiers of the batch being started.
    ids: Vec<u64>,
}

/// The ring Chord-batch runs on.
const RING: RingIx = 0;

impl ChordBatch {
    fn start_batch(&mut self, ctx: &mut Ctx<Self>, q: QueryId) {
        let qs = &mut self.queries[q as usize];
        let lo = qs.batch as usize * self.batch;
        let hi = (lo + self.batch).min(qs.n);
        qs.batch_len = (hi - lo) as u32;
        qs.batch_answered = 0;
        let (origin, first, batch) = (qs.origin, qs.first_key, qs.batch);
        qs.deadline = ctx.set_timer(
            origin,
            self.max_lookup,
            AppTimer::BatchDeadline { query: q, batch },
        );
        let keys = self.keys.clone();
        let keys = keys.keys();
        // Consolidated: the whole batch is one target list; parallel: one list per key.
        let group = match self.mode {
            BatchMode::Consolidated => hi - lo,
            BatchMode::Parallel => 1,
        };
        // The batch's key identifiers, hashed together (four at a time where the CPU allows).
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        let members = self.queries[q as usize].members.as_deref();
        let key_of = |i: usize| keys[members.map_or(first + i, |m| m[i] as usize)];
        key_hashes((lo..hi).map(key_of), &mut ids);
        for start in (lo..hi).step_by(group.max(1)) {
            let ring = ctx.ring_mut(RING);
            let list = ring.new_list();
            for i in start..(start + group).min(hi) {
                ring.push_target(list, Target::new(ids[i - lo], i as u32));
            }
            let r = ctx.route(RING, origin, list, q);
            self.handle_routed(ctx, origin, r);
        }
        self.ids = ids;
    }

    fn reply(&mut self, ctx: &mut Ctx<Self>, at: PeerId, d: Delivery, found: u32) {
        let ring = ctx.ring_mut(d.ring);
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
            self.on_reply(ctx, msg);
        } else {
            ctx.send(at, d.origin, msg, Some(d.query));
        }
    }

    fn on_reply(&mut self, ctx: &mut Ctx<Self>, msg: AppMsg) {
        let AppMsg::Reply {
            query,
            batch,
            answered,
            found,
            hops,
        } = msg;
        if !ctx.ledger().is_open(query) || self.queries[query as usize].batch != batch {
            return; // late answer for a batch that already failed
        }
        if !ctx.accept_answer(query, u64::from(found), hops) {
            return; // the origin restarted since it asked
        }
        let qs = &mut self.queries[query as usize];
        qs.batch_answered += answered;
        if qs.batch_answered < qs.batch_len {
            return;
        }
        let deadline = qs.deadline;
        ctx.cancel(deadline);
        let qs = &mut self.queries[query as usize];
        qs.batch += 1;
        if (qs.batch as usize) * self.batch < qs.n {
            self.start_batch(ctx, query);
        } else {
            let now = ctx.now();
            ctx.ledger().close(query, now, Outcome::Ok);
        }
    }

    fn issue(&mut self, ctx: &mut Ctx<Self>) {
        let (d, members) = if self.kind == QueryKind::Box {
            // The origin knows the ids of every point in the box (the best case for Chord).
            let keys = self.keys.clone();
            let Some((d, b)) = ctx.issue_box_query(
                RING,
                &mut self.stream,
                keys.keys(),
                self.box_shape,
                AppTimer::Issue,
            ) else {
                return;
            };
            (d, Some(b.members(keys.keys())))
        } else {
            let shape = (self.kind, self.range);
            let total = self.keys.len();
            let Some(d) =
                ctx.issue_data_query(RING, &mut self.stream, shape, total, AppTimer::Issue)
            else {
                return;
            };
            (d, None)
        };
        let q = d.query;
        debug_assert_eq!(q as usize, self.queries.len());
        self.queries.push(Query {
            origin: d.origin,
            first_key: d.first,
            n: d.n,
            members,
            batch: 0,
            batch_len: 0,
            batch_answered: 0,
            deadline: AppTimerHandle::default(),
        });
        if d.n == 0 {
            // An empty box: nothing to look up.
            let now = ctx.now();
            ctx.ledger().close(q, now, Outcome::Ok);
            return;
        }
        self.start_batch(ctx, q);
    }
}

impl RingApp for ChordBatch {
    type Msg = AppMsg;
    type Timer = AppTimer;

    fn kinds(&self) -> &'static [&'static str] {
        APP_KINDS
    }

    fn metrics(&self, rings: &[Ring]) -> Vec<(&'static str, f64)> {
        vec![
            (
                "wrong_owner_share",
                self.wrong_owner as f64 / self.answered.max(1) as f64,
            ),
            // Random hashing needs no index: its memory is the ring's routing state.
            (
                "memory_bytes_per_peer",
                rings[usize::from(RING)].routing_bytes_mean(),
            ),
        ]
    }

    fn host_metrics(&self, rings: &[Ring], hosts: usize) -> Vec<(&'static str, Vec<f64>)> {
        use rayon::prelude::*;
        // Random hashing: a key lives on the first peer at or after its hash on the ring.
        let view = &rings[usize::from(RING)].view;
        let per_host = (self.keys.keys().par_chunks(1 << 20))
            .map(|chunk| {
                let mut c = vec![0u64; hosts];
                let mut ids = Vec::with_capacity(chunk.len());
                key_hashes(chunk.iter().copied(), &mut ids);
                for id in ids {
                    if let Some(owner) = view.owner(id) {
                        c[view.host(owner) as usize] += 1;
                    }
                }
                c
            })
            .reduce(
                || vec![0u64; hosts],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        vec![("keys", per_host.into_iter().map(|c| c as f64).collect())]
    }

    fn checks(&self, _rings: &[Ring], static_ring: bool) -> Vec<Check> {
        vec![Check {
            name: "answers from the true owner",
            holds: self.wrong_owner == 0,
            enforced: static_ring,
            detail: format!(
                "{} of {} targets answered by a peer that was not the true live owner",
                self.wrong_owner, self.answered
            ),
        }]
    }

    fn start(&mut self, ctx: &mut Ctx<Self>) {
        let first = self.stream.first();
        ctx.set_global_timer(first, AppTimer::Issue);
    }

    fn on_deliver(&mut self, ctx: &mut Ctx<Self>, at: PeerId, d: Delivery) {
        let ring = ctx.ring(d.ring);
        let ids = ring.list(d.list).iter().map(|t| t.id);
        let (wrong, found) = ring.view.audit_delivery(at, ids, ring.timing.replicas);
        self.wrong_owner += wrong;
        self.answered += ring.list(d.list).len() as u64;
        self.reply(ctx, at, d, found);
    }

    fn on_route_failed(&mut self, ctx: &mut Ctx<Self>, at: PeerId, d: Delivery) {
        // No route at all from `at`: it answers "not found" for these keys.
        self.reply(ctx, at, d, 0);
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, _from: PeerId, _to: PeerId, msg: AppMsg) {
        self.on_reply(ctx, msg);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _peer: PeerId, timer: AppTimer) {
        match timer {
            AppTimer::Issue => self.issue(ctx),
            AppTimer::BatchDeadline { query, batch } => {
                if self.queries[query as usize].batch == batch {
                    let now = ctx.now();
                    ctx.ledger().close(query, now, Outcome::Failed);
                }
            }
        }
    }
}

/// Adds one Chord-batch system (settings and workload of `spec`) to a ring run.
pub fn add_system(world: &World, spec: &SystemSpec, overlay: &mut Overlay) -> Result<SystemParts> {
    let cfg: ChordBatchConfig = spec.settings("chord_batch")?;
    let timing = overlay.rings[usize::from(RING)].timing;
    let (keys, dataset) = spec.keys(world)?;
    let (kind, range) = spec.workload.query_shape()?;
    if range > keys.len() {
        bail!(
            "workload.range_keys = {range} exceeds the dataset's {} keys",
            keys.len()
        );
    }
    crate::multiattr::check_dataset(kind, &dataset)?;
    let box_shape = if kind == QueryKind::Box {
        spec.workload.box_shape()?
    } else {
        (0.0, 0)
    };
    let total = keys.len() as f64;
    // Keys a query may ask for: the range, or (boxes) 8 x a box's expected share, for the drain.
    let most = if kind == QueryKind::Box {
        (8.0 * box_shape.0 * total).ceil() as usize
    } else {
        spec.most_keys(world, range)?
    };
    let app = ChordBatch {
        keys,
        kind,
        range,
        box_shape,
        batch: cfg.batch_size,
        mode: cfg.mode,
        stream: spec.data_stream(world)?,
        max_lookup: timing.max_lookup,
        queries: Vec::new(),
        wrong_owner: 0,
        answered: 0,
        ids: Vec::new(),
    };
    overlay.add_system(&spec.name, app);
    Ok(SystemParts {
        // Random hashing: the keys in an arc are its share of the ring (expected count).
        arc_keys: Box::new(move |lo, hi| {
            (total * (hi.wrapping_sub(lo) as f64 / 18_446_744_073_709_551_616.0)) as u64
        }),
        drain: timing.max_lookup * (1 + most.div_ceil(cfg.batch_size) as u64),
    })
}
