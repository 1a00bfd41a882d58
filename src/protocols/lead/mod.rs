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
//! The Shadow Balancer ([`balancer`]) moves virtual peers between hosts under load; model
//! updates (FRM) are not here yet.

pub mod balancer;
pub mod placement;

use crate::driver::{Check, SystemSpec, World};
use crate::engine::Time;
use crate::ids::PeerId;
use crate::ledger::{QueryId, QueryStream};
use crate::network::Message;
use crate::output::Outcome;
use crate::overlay::app::app_bytes;
use crate::overlay::run::SystemParts;
use crate::overlay::{AppTimerHandle, CallId, Ctx, Delivery, Overlay, Ring, RingApp, RingIx};
use crate::settings::{KeyDoc, Settings, TableDef};
use crate::workload::QueryKind;
use anyhow::{bail, Result};
use balancer::{BalanceMode, LoadWindow};
use placement::Placement;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The manifest's `[lead]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadConfig {
    /// The learned hash: any `leadsim model eval` spec, or `exact` (the true rank).
    #[serde(default = "d_model")]
    pub model: String,
    /// The Shadow Balancer: `off` (default), `requests` or `keys` (the load it balances).
    #[serde(default)]
    pub balancer: BalanceMode,
    /// The load window of the balancer and of the load series (seconds, default 60).
    #[serde(default = "d_window")]
    pub window_s: f64,
    /// The balancer acts when a host's load leaves [(1 - t), (1 + t)] x the mean (default 0.25).
    #[serde(default = "d_threshold")]
    pub threshold: f64,
}

fn d_model() -> String {
    "rmi:cubic,linear,524288".into()
}
fn d_window() -> f64 {
    60.0
}
fn d_threshold() -> f64 {
    0.25
}

impl Default for LeadConfig {
    fn default() -> Self {
        LeadConfig {
            model: d_model(),
            balancer: BalanceMode::Off,
            window_s: d_window(),
            threshold: d_threshold(),
        }
    }
}

impl Settings for LeadConfig {
    fn validate(&self) -> Result<()> {
        if self.model != "exact" {
            crate::learned::ModelSpec::parse(&self.model)
                .map_err(|e| anyhow::anyhow!("lead.model: {e}"))?;
        }
        if !(self.window_s >= 1.0 && self.window_s <= 1e6) {
            bail!(
                "lead.window_s must be in [1, 1e6] seconds, got {}",
                self.window_s
            );
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            bail!("lead.threshold must be in (0, 1), got {}", self.threshold);
        }
        Ok(())
    }
}

/// The `[lead]` table's definition.
pub const TABLE: TableDef = TableDef::new::<LeadConfig>(
    "lead",
    "settings of LEAD",
    &[
        KeyDoc::new(
            "model",
            "a model spec (rmi:ROOT,LEAF,B, rs:EPS,BITS, pgm:EPS, auto[:BYTES], linear, radix, cubic) or exact",
            "the learned hash; the default is the paper's two-layer RMI with a cubic root and linear leaves; exact = the key's true rank (an ideal order-preserving hash)",
        ),
        KeyDoc::new(
            "balancer",
            "off, requests, keys",
            "the Shadow Balancer and the load it balances (a reconstruction, docs/modelling.md); it moves virtual peers within [overlay.min_vnodes, overlay.max_vnodes], so a balanced LEAD runs alone",
        ),
        KeyDoc::new(
            "window_s",
            "[1, 1e6]",
            "the load window of the balancer and of series.csv (seconds)",
        ),
        KeyDoc::new(
            "threshold",
            "(0, 1)",
            "a host above (1 + t) x the mean load its neighbours report drops its least-requested virtual peer; below (1 - t) x it adds one",
        ),
    ],
);

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
}

/// Names of [`LeadMsg`]'s kinds.
pub const KINDS: &[&str] = &["walk", "result", "load"];

impl Message for LeadMsg {
    fn kind(&self) -> usize {
        match self {
            LeadMsg::Walk { .. } => 0,
            LeadMsg::Result { .. } => 1,
            LeadMsg::Load { .. } => 2,
        }
    }
    fn size_bytes(&self) -> u32 {
        match *self {
            // Query id, cursor, end and the count so far.
            LeadMsg::Walk { .. } => app_bytes(28),
            LeadMsg::Result { bytes, .. } => bytes,
            // The host's load.
            LeadMsg::Load { .. } => app_bytes(4),
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
    /// The first key index of every query.
    firsts: Vec<u64>,
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
}

impl Lead {
    /// Serves the range at `at` from `cursor`, then walks on or replies.
    #[allow(clippy::too_many_arguments)]
    fn serve(
        &mut self,
        ctx: &mut Ctx<Self>,
        at: PeerId,
        q: QueryId,
        cursor: u64,
        end: u64,
        returned: u64,
        origin: PeerId,
        hops: u16,
    ) {
        if let Some(w) = &mut self.load {
            w.served(at);
        }
        if let Some(pred) = self.redirect(ctx, at, cursor) {
            let msg = LeadMsg::Walk {
                query: q,
                cursor,
                end,
                returned,
                origin,
                hops: hops.saturating_add(1),
            };
            ctx.send(at, pred, msg, Some(q));
            return;
        }
        let (upto, held) = self.held_from(ctx.ring(RING), at, q, cursor as usize, end as usize);
        let returned = returned + held;
        if upto as u64 >= end {
            let per_key = 8 + u64::from(self.value_bytes);
            let bytes =
                (u64::from(app_bytes(16)) + returned * per_key).min(u64::from(u32::MAX)) as u32;
            let msg = LeadMsg::Result {
                query: q,
                returned,
                hops,
                bytes,
            };
            if at == origin {
                self.on_result(ctx, msg);
            } else {
                ctx.send(at, origin, msg, Some(q));
            }
            return;
        }
        let msg = LeadMsg::Walk {
            query: q,
            cursor: upto as u64,
            end,
            returned,
            origin,
            hops: hops.saturating_add(1),
        };
        // No successor known: the walk stops here and the origin's deadline fails the query.
        let _ = ctx.walk(RING, at, msg, Some(q));
    }

    /// What peer `at` serves from key index `cursor` (up to `end`): the index where its part
    /// ends, and how many keys of that part it holds (its own arc on the t = 0 ring, and the arcs
    /// of skipped peers it holds replicas of).
    fn held_from(
        &self,
        ring: &Ring,
        at: PeerId,
        q: QueryId,
        cursor: usize,
        end: usize,
    ) -> (usize, u64) {
        let view = &ring.view;
        let all = view.all();
        if all.is_empty() || cursor >= end {
            return (cursor, 0);
        }
        let p = &self.place;
        let v = view.vid(at);
        let h = p.hash_at(cursor);
        let max_vid = all[all.len() - 1].0;
        let wraps = h > max_vid && all[0].1 == at;
        let upto = if h > v && !wraps {
            return (cursor, 0); // the keys lie beyond this peer: nothing here
        } else if wraps {
            end
        } else {
            p.first_above(cursor, v).min(end)
        };
        // Walk the t = 0 arcs from the owner of the cursor's key to `at`.
        let mut held = 0;
        let mut c = cursor;
        while c < upto {
            let hc = p.hash_at(c);
            let Some(owner) = self.data_owner(ring, hc) else {
                break;
            };
            let ov = view.vid(owner);
            let arc_end = if hc > ov {
                upto // the wrap arc runs to the end of the key array
            } else {
                p.first_above(c, ov).min(upto)
            };
            if owner == at || view.holds_replica(at, ov, self.replicas) {
                held += self.wanted(q, c, arc_end);
            }
            if arc_end <= c {
                break;
            }
            c = arc_end;
        }
        (upto, held)
    }

    /// The member that holds the data of ring position `id`: its owner in the view, except that
    /// a virtual peer the balancer added holds nothing until its successor knows it (until then
    /// the successor, which held the arc before, still serves it).
    fn data_owner(&self, ring: &Ring, id: u64) -> Option<PeerId> {
        let view = &ring.view;
        let mut owner = view.owner(id)?;
        if let Some(w) = &self.load {
            for _ in 0..view.all().len() {
                if !w.without_data(ring, owner) {
                    break;
                }
                owner = view.owner(view.vid(owner).wrapping_add(1))?;
            }
        }
        Some(owner)
    }

    /// Where `at` sends a range whose first key it neither owns nor replicates but its
    /// predecessor (joined, up) owns: a peer that just handed its arc's head to a new
    /// predecessor (a join or rejoin its routing neighbours have not learnt of yet) points the
    /// query back to it instead of answering without those keys. A new virtual peer that holds
    /// no data yet sends the range on to its successor.
    fn redirect(&self, ctx: &Ctx<Self>, at: PeerId, cursor: u64) -> Option<PeerId> {
        let ring = ctx.ring(RING);
        if self.load.as_ref().is_some_and(|w| w.without_data(ring, at)) {
            // A virtual peer still waiting for its arc's keys hands the range to its successor.
            return ring.successors(at).first().copied();
        }
        let owner = self.data_owner(ring, self.place.hash_at(cursor as usize))?;
        let pred = ring.predecessor(at);
        (owner != at
            && owner == pred
            && ring.is_joined(owner)
            && ctx.net().is_peer_up(owner)
            && !ring
                .view
                .holds_replica(at, ring.view.vid(owner), self.replicas))
        .then_some(owner)
    }

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
        let target = self.place.hash_at(first);
        self.firsts.push(first as u64);
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
        self.firsts.push(d.first as u64);
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
    }

    fn on_deliver(&mut self, ctx: &mut Ctx<Self>, at: PeerId, d: Delivery) {
        let tag = ctx.ring(d.ring).list(d.list)[0].tag;
        ctx.ring_mut(d.ring).free_list(d.list);
        let q = d.query;
        let (first, end) = match tag {
            0 => {
                let first = self.firsts[q as usize];
                (first, first + ctx.ledger().record(q).keys_requested)
            }
            t => {
                let (_, a, e) = self.runs[t as usize - 1];
                (a, e)
            }
        };
        self.steps += 1;
        self.serve(ctx, at, q, first, end, 0, d.origin, d.hops);
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, _from: PeerId, to: PeerId, msg: LeadMsg) {
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
        }
    }

    fn on_call_failed(
        &mut self,
        _ctx: &mut Ctx<Self>,
        _call: CallId,
        _from: PeerId,
        _msg: LeadMsg,
    ) {
        // Every successor of the walking peer was silent: the origin's deadline fails the query.
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
        }
    }

    fn metrics(&self, _rings: &[Ring]) -> Vec<(&'static str, f64)> {
        let mut m = vec![
            ("lead_model_bytes", self.place.model_bytes() as f64),
            (
                "lead_keys_returned_share",
                self.returned as f64 / self.requested.max(1) as f64,
            ),
        ];
        if let Some(w) = self.load.as_ref().filter(|w| w.mode != BalanceMode::Off) {
            m.push(("lead_balancer_leaves", w.leaves as f64));
            m.push(("lead_balancer_adds", w.adds as f64));
        }
        m
    }

    fn series(&self) -> Option<crate::driver::SeriesTable> {
        self.load.as_ref().map(LoadWindow::series)
    }

    fn facts(&self) -> Vec<(String, f64)> {
        vec![
            ("lead_model_train_s".into(), self.place.train_s()),
            ("lead_model_bytes".into(), self.place.model_bytes() as f64),
        ]
    }

    fn checks(&self, _rings: &[Ring], static_ring: bool) -> Vec<Check> {
        vec![Check {
            name: "every key of a range returned",
            holds: self.returned == self.requested,
            enforced: static_ring,
            detail: format!(
                "{} of {} requested keys returned by answered queries",
                self.returned, self.requested
            ),
        }]
    }

    fn host_metrics(&self, rings: &[Ring], hosts: usize) -> Vec<(&'static str, Vec<f64>)> {
        let view = &rings[usize::from(RING)].view;
        vec![("keys", self.place.keys_per_host(view, hosts))]
    }
}

/// Adds one LEAD system (settings and workload of `spec`) to a ring run.
pub fn add_system(world: &World, spec: &SystemSpec, overlay: &mut Overlay) -> Result<SystemParts> {
    let cfg: LeadConfig = spec.settings("lead")?;
    let timing = overlay.rings[usize::from(RING)].timing;
    let keys = world.keys("lead")?;
    let (kind, range) = spec.workload.query_shape()?;
    if range > keys.len() {
        bail!(
            "workload.range_keys = {range} exceeds the dataset's {} keys",
            keys.len()
        );
    }
    crate::multiattr::check_dataset(kind, &world.dataset)?;
    let box_shape = if kind == QueryKind::Box {
        spec.workload.box_shape()?
    } else {
        (0.0, 0)
    };
    let place = Arc::new(Placement::new(keys, &world.dataset, &cfg.model)?);
    let app = Lead {
        place: place.clone(),
        kind,
        range,
        stream: spec.data_stream(world)?,
        deadline: timing.max_lookup,
        replicas: timing.replicas,
        value_bytes: timing.value_bytes,
        deadlines: Vec::new(),
        firsts: Vec::new(),
        box_shape,
        runs: Vec::new(),
        box_of: Vec::new(),
        boxes: Vec::new(),
        steps: 0,
        requested: 0,
        returned: 0,
        load: LoadWindow::new(world, &cfg)?,
    };
    overlay.add_system(&spec.name, app);
    Ok(SystemParts {
        arc_keys: Box::new(move |lo, hi| place.count_in(lo, hi)),
        drain: timing.max_lookup,
    })
}
