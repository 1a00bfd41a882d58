//! `lead`: the distributed learned hash table (LEAD §III). Keys are placed on the Chord ring by
//! LearnedHASH, an order-preserving learned hash ([`placement`]), so the n keys that follow a key
//! K live on consecutive peers. A range query routes one lookup to the owner of LearnedHASH(K);
//! the owner serves its keys >= K and hands the remaining count to its successor with the
//! substrate's successor walk (an acknowledged step that fails over to the next live successor);
//! the last peer returns the whole result to the origin. A single-key lookup is a Chord lookup of
//! LearnedHASH(key).
//!
//! Data: the shared sorted key array is placed on the t = 0 ring with `chord.replicas` copies on
//! distinct-host successors. A crashed host keeps its data and serves it again when it is back; a
//! walk that skipped a dead peer is served by the next live one for the keys it holds as a
//! replica; keys whose every copy is down are reported missing (`keys_returned <
//! keys_requested`), never dropped silently.
//!
//! The Shadow Balancer ([`balancer`]) moves virtual peers between hosts under load. With a
//! growing key set (`lead.new_share`) storage follows [`frm`]'s holdings instead of the t = 0
//! placement, and `lead.updates = "frm"` runs the Federated Recursive Model updates.

pub mod balancer;
pub mod config;
pub mod frm;
pub mod placement;
mod serve;

pub use config::{LeadConfig, Updates, TABLE};

use crate::driver::{Check, SystemSpec, World};
use crate::engine::Time;
use crate::ids::PeerId;
use crate::ledger::{QueryId, QueryStream};
use crate::network::Message;
use crate::output::Outcome;
use crate::overlay::app::app_bytes;
use crate::overlay::run::SystemParts;
use crate::overlay::{AppTimerHandle, CallId, Ctx, Delivery, Overlay, Ring, RingApp, RingIx};
use crate::workload::QueryKind;
use anyhow::{bail, Result};
use balancer::{BalanceMode, LoadWindow};
use frm::{Frm, FrmSettings};
use placement::Placement;
use std::sync::Arc;

/// LEAD's messages.
#[derive(Clone, Copy, Debug)]
pub enum LeadMsg {
    /// A walk step: continue the range from key index `cursor` up to `end`.
    Walk {
        query: QueryId,
        cursor: u64,
        end: u64,
        returned: u64,
        origin: PeerId,
        hops: u16,
    },
    /// The whole result, from the last peer to the origin.
    Result {
        query: QueryId,
        returned: u64,
        hops: u16,
        bytes: u32,
    },
    /// A host's capacity-normalised load over the last window, to a neighbour (balancer).
    Load {
        /// The load.
        load: f32,
    },
    /// FRM: an insert of key index `key` routed to ring position `target` (`u64::MAX`: going
    /// to the holder of the key by holdings).
    Insert {
        key: u64,
        target: u64,
        hops: u16,
        bytes: u32,
    },
    /// FRM: a transient coordinator asks a flagged neighbour for its leaf segments (RPC).
    Collect { round: u32 },
    /// FRM: a neighbour's answer: its segments, or a refusal (already in a round).
    Segments { round: u32, bytes: u32 },
    /// FRM: leaf patches (a coordinator's new one, or gossip of missing ones).
    Patches { batch: u32, bytes: u32 },
    /// FRM: lazy re-homing, the keys across the boundary after rank `boundary` change sides.
    Transfer { boundary: u32, to: u64, bytes: u32 },
    /// FRM: a holder refreshes a replica successor with keys it received.
    Replicate { bytes: u32 },
}

/// Names of [`LeadMsg`]'s kinds.
pub const KINDS: &[&str] = &[
    "walk",
    "result",
    "load",
    "insert",
    "collect",
    "segments",
    "patches",
    "transfer",
    "replicate",
];

impl Message for LeadMsg {
    fn kind(&self) -> usize {
        match self {
            LeadMsg::Walk { .. } => 0,
            LeadMsg::Result { .. } => 1,
            LeadMsg::Load { .. } => 2,
            LeadMsg::Insert { .. } => 3,
            LeadMsg::Collect { .. } => 4,
            LeadMsg::Segments { .. } => 5,
            LeadMsg::Patches { .. } => 6,
            LeadMsg::Transfer { .. } => 7,
            LeadMsg::Replicate { .. } => 8,
        }
    }
    fn size_bytes(&self) -> u32 {
        match *self {
            // Query id, cursor, end and the count so far.
            LeadMsg::Walk { .. } => app_bytes(28),
            LeadMsg::Result { bytes, .. } => bytes,
            // The host's load.
            LeadMsg::Load { .. } => app_bytes(4),
            LeadMsg::Collect { .. } => app_bytes(4),
            LeadMsg::Insert { bytes, .. }
            | LeadMsg::Segments { bytes, .. }
            | LeadMsg::Patches { bytes, .. }
            | LeadMsg::Transfer { bytes, .. }
            | LeadMsg::Replicate { bytes } => bytes,
        }
    }
}

/// LEAD's timers.
#[derive(Clone, Copy, Debug)]
pub enum LeadTimer {
    /// Global: issue the next query.
    Issue,
    /// The origin gives up on a query.
    Deadline(QueryId),
    /// Global: the end of a load window.
    Window,
    /// Global: hosts decide on their virtual peers (balancer).
    Decide,
    /// Global: the next insert (FRM).
    FrmInsert,
    /// Global: the heartbeat period (FRM flags, gossip, re-homing).
    FrmBeat,
    /// A round's coordinator stops waiting for segments.
    FrmRoundEnd(u32),
}

/// The ring LEAD runs on.
pub(crate) const RING: RingIx = 0;

/// LEAD's state.
pub struct Lead {
    place: Arc<Placement>,
    kind: QueryKind,
    range: usize,
    stream: QueryStream,
    deadline: Time,
    replicas: usize,
    value_bytes: u32,
    deadlines: Vec<AppTimerHandle>,
    /// The first key index and the number of keys of every query (a range's n may vary per
    /// query: `range_keys_max`, prefix groups).
    spans: Vec<(u64, u64)>,
    /// Box queries: (selectivity, most intervals).
    box_shape: (f64, usize),
    /// Box queries: each interval's key-index run `[a, b)` and its query; a lookup's tag is
    /// the run's index + 1 (0 = a range or single-key lookup).
    runs: Vec<(QueryId, u64, u64)>,
    /// Per query: its box (index into `boxes`, `u32::MAX` for none) and the runs still out.
    box_of: Vec<(u32, u32)>,
    boxes: Vec<crate::multiattr::BoxQuery>,
    /// Peers a walk visited (steps delivered), over all queries.
    pub steps: u64,
    /// Keys requested and returned over closed queries (completeness).
    pub requested: u64,
    /// Keys returned.
    pub returned: u64,
    /// Load accounting and the Shadow Balancer (when asked for).
    pub load: Option<LoadWindow>,
    /// A growing key set and FRM updates (when asked for).
    pub frm: Option<Box<Frm>>,
    /// FRM: per query, the stamp limit of the keys stored when it was issued.
    limits: Vec<u32>,
}

impl Lead {
    fn on_result(&mut self, ctx: &mut Ctx<Self>, msg: LeadMsg) {
        let LeadMsg::Result {
            query,
            returned,
            hops,
            ..
        } = msg
        else {
            return;
        };
        if !ctx.accept_answer(query, returned, hops) {
            return; // late, or the origin restarted since it asked
        }
        let pending = &mut self.box_of[query as usize].1;
        *pending = pending.saturating_sub(1);
        if *pending > 0 {
            return; // a box's other intervals are still out
        }
        let (requested, returned) = ctx.complete(query, self.deadlines[query as usize]);
        self.requested += requested;
        self.returned += returned;
    }

    fn issue(&mut self, ctx: &mut Ctx<Self>) {
        if self.kind == QueryKind::Box {
            return self.issue_box(ctx);
        }
        let shape = (self.kind, self.range);
        let total = self.place.len();
        let Some(d) = ctx.issue_data_query(RING, &mut self.stream, shape, total, LeadTimer::Issue)
        else {
            return;
        };
        let (q, origin, first) = (d.query, d.origin, d.first);
        let h = ctx.set_timer(origin, self.deadline, LeadTimer::Deadline(q));
        self.deadlines.push(h);
        let target = match &self.frm {
            Some(f) => {
                // The keys of the span stored by now; hashed in the origin's view.
                let limit = f.limit_now();
                let n = f.requested(first as u64, (first + d.n) as u64, limit);
                self.limits.push(limit);
                ctx.ledger().set_requested(q, n);
                f.hash_at(origin, first as u64)
            }
            None => self.place.hash_at(first),
        };
        self.spans.push((first as u64, d.n as u64));
        self.box_of.push((u32::MAX, 1));
        let r = ctx.lookup(RING, origin, target, 0, q);
        self.handle_routed(ctx, origin, r);
    }

    /// A box query: one range query (lookup + successor walk) per curve interval of the box,
    /// all in parallel; peers count only the points inside the box.
    fn issue_box(&mut self, ctx: &mut Ctx<Self>) {
        let keys = self.place.keys().clone();
        let Some((d, b)) = ctx.issue_box_query(
            RING,
            &mut self.stream,
            keys.keys(),
            self.box_shape,
            LeadTimer::Issue,
        ) else {
            return;
        };
        let (q, origin) = (d.query, d.origin);
        let h = ctx.set_timer(origin, self.deadline, LeadTimer::Deadline(q));
        self.deadlines.push(h);
        self.spans.push((d.first as u64, d.n as u64));
        let runs = b.runs(keys.keys());
        self.box_of
            .push((self.boxes.len() as u32, runs.len() as u32));
        self.boxes.push(b);
        let last = self.place.len() - 1;
        for (a, e) in runs {
            self.runs.push((q, a as u64, e as u64));
            let tag = self.runs.len() as u32;
            // The interval's first key (or, when it holds none, where it would be).
            let target = self.place.hash_at(a.min(last));
            let r = ctx.lookup(RING, origin, target, tag, q);
            self.handle_routed(ctx, origin, r);
        }
    }

    /// Keys of `[c, e)` a query asks for: all of them, or the points inside its box.
    fn wanted(&self, q: QueryId, c: usize, e: usize) -> u64 {
        match self.box_of.get(q as usize) {
            Some(&(b, _)) if b != u32::MAX => {
                self.boxes[b as usize].count(self.place.keys().keys(), c, e)
            }
            _ => (e - c) as u64,
        }
    }
}

impl RingApp for Lead {
    type Msg = LeadMsg;
    type Timer = LeadTimer;

    fn kinds(&self) -> &'static [&'static str] {
        KINDS
    }

    fn start(&mut self, ctx: &mut Ctx<Self>) {
        let first = self.stream.first();
        ctx.set_global_timer(first, LeadTimer::Issue);
        if let Some(w) = &self.load {
            ctx.set_global_timer(w.window(), LeadTimer::Window);
        }
        if let Some(f) = &self.frm {
            f.start(ctx);
        }
    }

    fn on_deliver(&mut self, ctx: &mut Ctx<Self>, at: PeerId, d: Delivery) {
        let tag = ctx.ring(d.ring).list(d.list)[0].tag;
        ctx.ring_mut(d.ring).free_list(d.list);
        let q = d.query;
        let (first, end) = match tag {
            0 => {
                let (first, n) = self.spans[q as usize];
                (first, first + n)
            }
            t => {
                let (_, a, e) = self.runs[t as usize - 1];
                (a, e)
            }
        };
        self.steps += 1;
        self.serve(ctx, at, q, first, end, 0, d.origin, d.hops);
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: PeerId, to: PeerId, msg: LeadMsg) {
        match msg {
            LeadMsg::Walk {
                query,
                cursor,
                end,
                returned,
                origin,
                hops,
            } => {
                self.steps += 1;
                self.serve(ctx, to, query, cursor, end, returned, origin, hops);
            }
            LeadMsg::Result { .. } => self.on_result(ctx, msg),
            LeadMsg::Load { load } => {
                if let Some(w) = &mut self.load {
                    w.on_report(ctx.net().host_of(to), f64::from(load));
                }
            }
            LeadMsg::Replicate { .. } => {}
            _ => {
                if let Some(mut f) = self.frm.take() {
                    match msg {
                        LeadMsg::Insert {
                            key, target, hops, ..
                        } => f.on_insert(ctx, to, key, target, hops),
                        LeadMsg::Collect { round } => f.on_collect(ctx, from, to, round),
                        LeadMsg::Segments { round, .. } => f.on_segments(ctx, round),
                        LeadMsg::Patches { batch, .. } => f.on_patches(to, batch),
                        LeadMsg::Transfer {
                            boundary,
                            to: bound,
                            bytes,
                        } => f.on_transfer(ctx, to, boundary, bound, bytes),
                        _ => {}
                    }
                    self.frm = Some(f);
                }
            }
        }
    }

    fn on_lost(&mut self, _ctx: &mut Ctx<Self>, msg: LeadMsg) {
        if let Some(f) = &mut self.frm {
            match msg {
                LeadMsg::Insert { .. } => f.inserts[2] += 1,
                LeadMsg::Transfer { boundary, .. } => f.on_transfer_lost(boundary),
                LeadMsg::Patches { batch, .. } => f.on_patches_lost(batch),
                _ => {}
            }
        }
    }

    fn on_call_failed(&mut self, ctx: &mut Ctx<Self>, _call: CallId, _from: PeerId, msg: LeadMsg) {
        // A walk: every successor of the walking peer was silent, the origin's deadline fails
        // the query. A coordinator's `collect`: that neighbour is out of the round.
        if let (LeadMsg::Collect { round }, Some(mut f)) = (msg, self.frm.take()) {
            f.on_collect_failed(ctx, round);
            self.frm = Some(f);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _peer: PeerId, timer: LeadTimer) {
        match timer {
            LeadTimer::Issue => self.issue(ctx),
            LeadTimer::Deadline(q) => {
                let now = ctx.now();
                ctx.ledger().close(q, now, Outcome::Failed);
            }
            LeadTimer::Window => {
                if let Some(mut w) = self.load.take() {
                    w.tick(ctx, &self.place);
                    self.load = Some(w);
                }
            }
            LeadTimer::Decide => {
                if let Some(w) = &mut self.load {
                    w.decide(ctx);
                }
            }
            LeadTimer::FrmInsert | LeadTimer::FrmBeat | LeadTimer::FrmRoundEnd(_) => {
                if let Some(mut f) = self.frm.take() {
                    match timer {
                        LeadTimer::FrmInsert => f.on_insert_timer(ctx),
                        LeadTimer::FrmBeat => f.on_beat(ctx),
                        LeadTimer::FrmRoundEnd(r) => f.finish(ctx, r),
                        _ => {}
                    }
                    self.frm = Some(f);
                }
            }
        }
    }

    fn metrics(&self, rings: &[Ring]) -> Vec<(&'static str, f64)> {
        let model = self.place.model_bytes() as f64;
        let mut m = vec![
            ("lead_model_bytes", model),
            // Every peer holds the ring's routing state and a copy of the model.
            (
                "memory_bytes_per_peer",
                rings[usize::from(RING)].routing_bytes_mean() + model,
            ),
            (
                "lead_keys_returned_share",
                self.returned as f64 / self.requested.max(1) as f64,
            ),
        ];
        if let Some(w) = self.load.as_ref().filter(|w| w.mode != BalanceMode::Off) {
            m.push(("lead_balancer_leaves", w.leaves as f64));
            m.push(("lead_balancer_adds", w.adds as f64));
        }
        if let Some(f) = &self.frm {
            f.metrics(&mut m);
        }
        m
    }

    fn series(&self) -> Option<crate::driver::SeriesTable> {
        match &self.frm {
            Some(f) => f.series(),
            None => self.load.as_ref().map(LoadWindow::series),
        }
    }

    fn facts(&self) -> Vec<(String, f64)> {
        vec![
            ("lead_model_train_s".into(), self.place.train_s()),
            ("lead_model_bytes".into(), self.place.model_bytes() as f64),
        ]
    }

    fn checks(&self, rings: &[Ring], static_ring: bool) -> Vec<Check> {
        let mut c = match &self.frm {
            Some(f) => f.checks(&rings[usize::from(RING)], static_ring),
            None => Vec::new(),
        };
        c.push(Check {
            name: "every key of a range returned",
            holds: self.returned == self.requested,
            enforced: static_ring,
            detail: format!(
                "{} of {} requested keys returned by answered queries",
                self.returned, self.requested
            ),
        });
        c
    }

    fn host_metrics(&self, rings: &[Ring], hosts: usize) -> Vec<(&'static str, Vec<f64>)> {
        let ring = &rings[usize::from(RING)];
        let keys = match &self.frm {
            Some(f) => f.keys_per_host(ring, hosts),
            None => self.place.keys_per_host(&ring.view, hosts),
        };
        vec![("keys", keys)]
    }
}

/// Adds one LEAD system (settings and workload of `spec`) to a ring run.
pub fn add_system(world: &World, spec: &SystemSpec, overlay: &mut Overlay) -> Result<SystemParts> {
    let cfg: LeadConfig = spec.settings("lead")?;
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
    let place = Arc::new(Placement::new(keys.clone(), &dataset, &cfg.model)?);
    let frm = if cfg.frm_on() {
        if kind == QueryKind::Box {
            bail!("lead.new_share / lead.updates serve range and lookup queries, not workload.query = \"box\"");
        }
        let settings = FrmSettings {
            new_share: cfg.new_share,
            insert_rate: cfg.insert_rate,
            updates: cfg.updates == Updates::Frm,
            threshold: cfg.update_threshold,
            quorum: cfg.quorum,
            scale: if cfg.anchor {
                frm::model::Scale::Quantile
            } else {
                frm::model::Scale::Density
            },
        };
        let ring = &overlay.rings[usize::from(RING)];
        Some(Box::new(Frm::new(
            world, ring, &spec.name, keys, &cfg.model, settings,
        )?))
    } else {
        None
    };
    let app = Lead {
        place: place.clone(),
        kind,
        range,
        stream: spec.data_stream(world)?,
        deadline: timing.max_lookup,
        replicas: timing.replicas,
        value_bytes: timing.value_bytes,
        deadlines: Vec::new(),
        spans: Vec::new(),
        box_shape,
        runs: Vec::new(),
        box_of: Vec::new(),
        boxes: Vec::new(),
        steps: 0,
        requested: 0,
        returned: 0,
        load: if frm.is_some() {
            None
        } else {
            LoadWindow::new(world, &cfg)?
        },
        frm,
        limits: Vec::new(),
    };
    if app
        .load
        .as_ref()
        .is_some_and(|w| w.mode != BalanceMode::Off)
    {
        // The Shadow Balancer moves virtual peers in and out of the ring while it runs.
        overlay.rings[usize::from(RING)].expect_moves();
    }
    overlay.add_system(&spec.name, app);
    Ok(SystemParts {
        arc_keys: Box::new(move |lo, hi| place.count_in(lo, hi)),
        drain: timing.max_lookup,
    })
}
