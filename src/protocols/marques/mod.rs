//! `marques`: MARQUES (Sen, Islam, Uddin, NSysS 2015) as reconstructed in model.md §5 and
//! `docs/modelling.md`: keys (1-D keys, or the curve indices of d-D points) cut into cells of
//! `2^cell_bits` consecutive curve indices; peers grouped by latency proximity ([`groups`]); an
//! outer Chord ring of groups places each cell by the hash of its number; inside a group the
//! members share each cell in curve order.
//!
//! A query decomposes into its cells. Each cell is fetched by its own two-level lookup, all in
//! parallel: an outer lookup of the cell's hash reaches the first live member of the cell's
//! group (the *entry*), which forwards each member's share of the cell (an RPC, failing over to
//! the share's replicas) or serves it itself; every share's holder replies straight to the
//! origin with its keys. The origin is done when the replies cover the whole query (they carry
//! the curve-index width they answer for), so a cell whose group is unreachable still completes,
//! with its keys reported missing, never dropped.
//!
//! MARQUES runs on a ring of its own (`own_ring`): every peer at its group's outer position, in
//! the same kernel, network and churn as the other systems of the run, which it never touches.

pub mod cells;
pub mod config;
pub mod groups;

use crate::data::KeySet;
use crate::driver::{Check, SystemSpec, World};
use crate::engine::Time;
use crate::ids::PeerId;
use crate::ledger::{QueryId, QueryStream};
use crate::network::Message;
use crate::output::Outcome;
use crate::overlay::app::app_bytes;
use crate::overlay::chord::ChordConfig;
use crate::overlay::id::RingId;
use crate::overlay::run::SystemParts;
use crate::overlay::view::{slot_positions, GlobalView};
use crate::overlay::{AppTimerHandle, CallId, Ctx, Delivery, Overlay, Ring, RingApp, RingIx};
use crate::workload::QueryKind;
use anyhow::{bail, Result};
use cells::{member_keys, widest_query, ArcSums};
pub use config::{CellBits, MarquesConfig, MAX_CELLS_PER_QUERY, TABLE};
use groups::Groups;
use std::sync::Arc;

/// MARQUES's messages.
#[derive(Clone, Copy, Debug)]
pub enum MarquesMsg {
    /// Entry -> holder: serve member `arc`'s share of piece `piece`.
    Share {
        /// The query.
        query: QueryId,
        /// The cell piece.
        piece: u32,
        /// The member (index in the group) whose share it is.
        arc: u8,
        /// Members already tried for this share (bit per index).
        tried: u32,
        /// Who asked.
        origin: PeerId,
        /// Hops so far (outer lookup + this forward).
        hops: u16,
    },
    /// Holder (or entry) -> origin: the keys of a share, and the curve-index width it covers.
    Reply {
        /// The query.
        query: QueryId,
        /// Curve indices this reply answers for.
        width: u128,
        /// Keys returned.
        keys: u64,
        /// Hops of this share.
        hops: u16,
        /// Bytes on the wire.
        bytes: u32,
    },
}

/// Names of [`MarquesMsg`]'s kinds.
pub const KINDS: &[&str] = &["share", "reply"];

impl Message for MarquesMsg {
    fn kind(&self) -> usize {
        match self {
            MarquesMsg::Share { .. } => 0,
            MarquesMsg::Reply { .. } => 1,
        }
    }
    fn size_bytes(&self) -> u32 {
        match *self {
            // Query, piece, share, tried set, origin.
            MarquesMsg::Share { .. } => app_bytes(24),
            MarquesMsg::Reply { bytes, .. } => bytes,
        }
    }
}

/// MARQUES's timers.
#[derive(Clone, Copy, Debug)]
pub enum MarquesTimer {
    /// Global: issue the next query.
    Issue,
    /// The origin gives up on a query.
    Deadline(QueryId),
}

/// A query's part inside one cell: curve indices `lo..=hi` of cell `cell`.
#[derive(Clone, Copy, Debug)]
struct Piece {
    query: QueryId,
    cell: u64,
    group: u32,
    lo: u64,
    hi: u64,
}

/// What the origin keeps of an open query.
#[derive(Clone, Copy, Debug, Default)]
struct Open {
    /// Curve-index width not yet answered.
    remaining: u128,
    /// The query's key-index window `[first, first + n)` (range queries).
    first: u64,
    n: u64,
    /// Its box (index into `Marques::boxes`; `u32::MAX` for ranges and lookups).
    boxq: u32,
    deadline: AppTimerHandle,
}

/// MARQUES's state.
pub struct Marques {
    ring: RingIx,
    groups: Arc<Groups>,
    keys: Arc<KeySet>,
    /// Keys each member holds as primary (index = group offset + member).
    member_keys: Arc<Vec<u64>>,
    kind: QueryKind,
    range: usize,
    /// Box queries: (selectivity, most intervals).
    box_shape: (f64, usize),
    stream: QueryStream,
    deadline: Time,
    replicas: usize,
    value_bytes: u32,
    pieces: Vec<Piece>,
    open: Vec<Open>,
    boxes: Vec<crate::multiattr::BoxQuery>,
    /// Keys requested and returned over closed queries (completeness).
    requested: u64,
    returned: u64,
    closed: u64,
}

impl Marques {
    fn issue(&mut self, ctx: &mut Ctx<Self>) {
        let keys = self.keys.clone();
        let k = keys.keys();
        // The query's curve-index intervals: one for a range or lookup, a box's decomposition.
        let (d, intervals, boxq) = if self.kind == QueryKind::Box {
            let Some((d, b)) = ctx.issue_box_query(
                self.ring,
                &mut self.stream,
                k,
                self.box_shape,
                MarquesTimer::Issue,
            ) else {
                return;
            };
            let iv = b.intervals.clone();
            self.boxes.push(b);
            (d, iv, (self.boxes.len() - 1) as u32)
        } else {
            let shape = (self.kind, self.range);
            let Some(d) = ctx.issue_data_query(
                self.ring,
                &mut self.stream,
                shape,
                k.len(),
                MarquesTimer::Issue,
            ) else {
                return;
            };
            (d, vec![(k[d.first], k[d.first + d.n - 1])], u32::MAX)
        };
        let q = d.query;
        let g = &self.groups;
        let mut width = 0u128;
        let first_piece = self.pieces.len();
        for (lo, hi) in intervals {
            for c in g.cell(lo)..=g.cell(hi) {
                let s = g.cell_start(c);
                let (a, e) = (lo.max(s), hi.min(s + g.cell_mask()));
                // Intervals of one cell (a box's) share its lookup: the piece spans them.
                if let Some(p) = self.pieces[first_piece..]
                    .last_mut()
                    .filter(|p| p.cell == c)
                {
                    width += u128::from(e - p.hi);
                    p.hi = e;
                    continue;
                }
                width += u128::from(e - a) + 1;
                self.pieces.push(Piece {
                    query: q,
                    cell: c,
                    group: g.group_of_cell(c),
                    lo: a,
                    hi: e,
                });
            }
        }
        let deadline = ctx.set_timer(d.origin, self.deadline, MarquesTimer::Deadline(q));
        let qi = q as usize;
        if self.open.len() <= qi {
            self.open.resize(qi + 1, Open::default());
        }
        self.open[qi] = Open {
            remaining: width,
            first: d.first as u64,
            n: d.n as u64,
            boxq,
            deadline,
        };
        for i in first_piece..self.pieces.len() {
            let id = crate::overlay::id::key_hash(self.pieces[i].cell);
            let r = ctx.lookup(self.ring, d.origin, id, i as u32, q);
            self.handle_routed(ctx, d.origin, r);
        }
    }

    /// Curve indices of piece `p` in member `j`'s arc: up to two inclusive ranges and their
    /// width.
    fn share(&self, p: &Piece, j: usize) -> ([Option<(u64, u64)>; 2], u128) {
        let mut out = [None; 2];
        let mut width = 0;
        for (i, r) in self.groups.arc(p.group, j).into_iter().enumerate() {
            if let Some((a, e)) = r {
                let (a, e) = (a.max(p.lo), e.min(p.hi));
                if a <= e {
                    out[i] = Some((a, e));
                    width += u128::from(e - a) + 1;
                }
            }
        }
        (out, width)
    }

    /// Keys of piece `p` in member `j`'s share that the query asked for.
    fn share_keys(&self, p: &Piece, j: usize) -> u64 {
        let Some(o) = self.open.get(p.query as usize) else {
            return 0;
        };
        let (ranges, _) = self.share(p, j);
        if let Some(b) = self.boxes.get(o.boxq as usize) {
            let k = self.keys.keys();
            return ranges
                .into_iter()
                .flatten()
                .map(|(a, e)| b.count_between(k, a, e))
                .sum();
        }
        let w = &self.keys.keys()[o.first as usize..(o.first + o.n) as usize];
        ranges
            .into_iter()
            .flatten()
            .map(|(a, e)| {
                let lo = w.partition_point(|&x| x < a);
                let hi = w.partition_point(|&x| x <= e);
                (hi - lo) as u64
            })
            .sum()
    }

    /// Sends (or hands locally) a reply from `at` to `origin`.
    #[allow(clippy::too_many_arguments)]
    fn reply(
        &mut self,
        ctx: &mut Ctx<Self>,
        at: PeerId,
        origin: PeerId,
        q: QueryId,
        width: u128,
        keys: u64,
        hops: u16,
    ) {
        let per_key = 8 + u64::from(self.value_bytes);
        let bytes = (u64::from(app_bytes(32)) + keys * per_key).min(u64::from(u32::MAX)) as u32;
        let msg = MarquesMsg::Reply {
            query: q,
            width,
            keys,
            hops,
            bytes,
        };
        if at == origin {
            self.on_reply(ctx, msg);
        } else {
            ctx.send(at, origin, msg, Some(q));
        }
    }

    /// The entry `at` hands member `j`'s share of piece `piece` to the first holder it believes
    /// live and has not tried, serves it itself, or (no holder left) reports it missing.
    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &mut self,
        ctx: &mut Ctx<Self>,
        at: PeerId,
        piece: u32,
        j: usize,
        tried: u32,
        origin: PeerId,
        hops: u16,
    ) {
        let p = self.pieces[piece as usize];
        let members = self.groups.members(p.group);
        let ring = ctx.ring(self.ring);
        let known = |m: PeerId| {
            m == at
                || ring.predecessor(at) == m
                || (ring.is_joined(at) && ring.successors(at).contains(&m))
        };
        let holder = self
            .groups
            .holders(p.group, j, self.replicas)
            .find(|&h| tried & (1 << h) == 0 && known(members[h]));
        match holder {
            None => {
                let (_, width) = self.share(&p, j);
                self.reply(ctx, at, origin, p.query, width, 0, hops);
            }
            Some(h) if members[h] == at => {
                let (_, width) = self.share(&p, j);
                let keys = self.share_keys(&p, j);
                self.reply(ctx, at, origin, p.query, width, keys, hops);
            }
            Some(h) => {
                let msg = MarquesMsg::Share {
                    query: p.query,
                    piece,
                    arc: j as u8,
                    tried: tried | (1 << h),
                    origin,
                    hops: hops.saturating_add(1),
                };
                let to = members[h];
                ctx.call(
                    self.ring,
                    at,
                    to,
                    msg,
                    Some(p.query),
                    crate::overlay::Failover::None,
                );
            }
        }
    }

    fn on_reply(&mut self, ctx: &mut Ctx<Self>, msg: MarquesMsg) {
        let MarquesMsg::Reply {
            query,
            width,
            keys,
            hops,
            ..
        } = msg
        else {
            return;
        };
        if !ctx.accept_answer(query, keys, hops) {
            return; // late, or the origin restarted since it asked
        }
        let o = &mut self.open[query as usize];
        o.remaining = o.remaining.saturating_sub(width);
        if o.remaining == 0 {
            let (requested, returned) = ctx.complete(query, o.deadline);
            self.requested += requested;
            self.returned += returned;
            self.closed += 1;
        }
    }
}

impl RingApp for Marques {
    type Msg = MarquesMsg;
    type Timer = MarquesTimer;

    fn kinds(&self) -> &'static [&'static str] {
        KINDS
    }

    fn start(&mut self, ctx: &mut Ctx<Self>) {
        let first = self.stream.first();
        ctx.set_global_timer(first, MarquesTimer::Issue);
    }

    fn on_deliver(&mut self, ctx: &mut Ctx<Self>, at: PeerId, d: Delivery) {
        let piece = ctx.ring(d.ring).list(d.list)[0].tag;
        ctx.ring_mut(d.ring).free_list(d.list);
        let Some(p) = self.pieces.get(piece as usize).copied() else {
            return;
        };
        if p.query != d.query {
            return;
        }
        if self.groups.of(at).map(|x| x.0) != Some(p.group) {
            // Routing ended outside the cell's group (all its members down or unknown): this
            // peer does not hold the cell; it says so, and the keys are missing.
            let width = u128::from(p.hi - p.lo) + 1;
            self.reply(ctx, at, d.origin, p.query, width, 0, d.hops);
            return;
        }
        for j in 0..self.groups.members(p.group).len() {
            if self.share(&p, j).1 > 0 {
                self.dispatch(ctx, at, piece, j, 0, d.origin, d.hops);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, _from: PeerId, to: PeerId, msg: MarquesMsg) {
        match msg {
            MarquesMsg::Share {
                query,
                piece,
                arc,
                origin,
                hops,
                ..
            } => {
                let Some(p) = self.pieces.get(piece as usize).copied() else {
                    return;
                };
                let (_, width) = self.share(&p, usize::from(arc));
                let keys = self.share_keys(&p, usize::from(arc));
                self.reply(ctx, to, origin, query, width, keys, hops);
            }
            MarquesMsg::Reply { .. } => self.on_reply(ctx, msg),
        }
    }

    fn on_call_failed(
        &mut self,
        ctx: &mut Ctx<Self>,
        _call: CallId,
        from: PeerId,
        msg: MarquesMsg,
    ) {
        if let MarquesMsg::Share {
            piece,
            arc,
            tried,
            origin,
            hops,
            ..
        } = msg
        {
            // The holder stayed silent: the entry tries the share's next replica.
            self.dispatch(ctx, from, piece, usize::from(arc), tried, origin, hops - 1);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _peer: PeerId, timer: MarquesTimer) {
        match timer {
            MarquesTimer::Issue => self.issue(ctx),
            MarquesTimer::Deadline(q) => {
                let now = ctx.now();
                ctx.ledger().close(q, now, Outcome::Failed);
            }
        }
    }

    fn metrics(&self, _rings: &[Ring]) -> Vec<(&'static str, f64)> {
        let queries = self.open.len().max(1) as f64;
        vec![
            ("marques_groups", self.groups.count() as f64),
            ("marques_cell_bits", f64::from(self.groups.cell_bits)),
            ("marques_colocated_groups", self.groups.colocated as f64),
            (
                "marques_cells_per_query",
                self.pieces.len() as f64 / queries,
            ),
            (
                "marques_keys_returned_share",
                self.returned as f64 / self.requested.max(1) as f64,
            ),
        ]
    }

    fn checks(&self, _rings: &[Ring], static_ring: bool) -> Vec<Check> {
        vec![Check {
            name: "every key of a range returned",
            holds: self.returned == self.requested,
            enforced: static_ring,
            detail: format!(
                "{} of {} requested keys returned by {} answered queries",
                self.returned, self.requested, self.closed
            ),
        }]
    }

    fn host_metrics(&self, rings: &[Ring], hosts: usize) -> Vec<(&'static str, Vec<f64>)> {
        let view = &rings[usize::from(self.ring)].view;
        let mut keys = vec![0f64; hosts];
        for g in 0..self.groups.count() as u32 {
            for (j, &p) in self.groups.members(g).iter().enumerate() {
                keys[view.host(p) as usize] += self.member_keys[self.groups.slot(g, j)] as f64;
            }
        }
        vec![("keys", keys)]
    }
}

/// Adds one MARQUES system (settings and workload of `spec`) to a ring run, on a ring of its own
/// (shared by the systems of its group).
pub fn add_system(world: &World, spec: &SystemSpec, overlay: &mut Overlay) -> Result<SystemParts> {
    let cfg: MarquesConfig = spec.settings("marques")?;
    let timing = world.settings::<ChordConfig>("chord")?.timing()?;
    let (keys, dataset) = spec.keys(world)?;
    let (kind, range) = spec.workload.query_shape()?;
    if range > keys.len() {
        bail!(
            "workload.range_keys = {range} exceeds the dataset's {} keys",
            keys.len()
        );
    }
    let peers = slot_positions(&world.vnodes, &world.slots);
    let k = keys.keys();
    let groups_n = (peers.len() / cfg.group_size).max(1) as u64;
    let cell_bits = match cfg.cell_bits {
        CellBits::Bits(b) => b,
        CellBits::Word(_) => {
            groups::auto_cell_bits(k[0], k[k.len() - 1], groups_n * cfg.cells_per_group)
        }
    };
    let groups = Groups::form(&peers, &world.topology, cfg.group_size, cell_bits)?;
    crate::multiattr::check_dataset(kind, &dataset)?;
    let box_shape = if kind == QueryKind::Box {
        spec.workload.box_shape()?
    } else {
        (0.0, 0)
    };
    // A box may span every cell of the keys' span; a range its widest window.
    let widest = if kind == QueryKind::Box {
        groups.cell(k[k.len() - 1]) - groups.cell(k[0]) + 1
    } else {
        widest_query(&groups, k, range)
    };
    if widest > MAX_CELLS_PER_QUERY {
        bail!(
            "marques.cell_bits = {cell_bits} cuts the widest {} into {widest} cells (each a lookup of its own; at most {MAX_CELLS_PER_QUERY}): raise marques.cell_bits",
            if kind == QueryKind::Box { "box (the keys' span)".to_string() } else { format!("range of {range} keys") }
        );
    }
    let member_keys = Arc::new(member_keys(&groups, k));
    // The outer ring: every member at its group's position; arcs hold their members' keys.
    let mut members: Vec<(PeerId, crate::ids::HostId, RingId)> = groups
        .outer_positions()
        .into_iter()
        .map(|(p, pos)| (p, world_host(&peers, p), pos))
        .collect();
    members.sort_unstable();
    let arc_keys = ArcSums::new(&groups, &member_keys);
    let view = GlobalView::from_members(&members);
    // The systems of a group (one per paired workload value) share one MARQUES ring; its
    // positions depend on the keys (automatic cell bits), so a group's systems with a dataset of
    // their own (a paired dataset axis) have a ring per dataset.
    let stream = match &spec.dataset {
        None => format!("marques:{}", spec.group),
        Some(_) => format!("marques:{}@{dataset}", spec.group),
    };
    let ring = match overlay.keyed_ring(&stream) {
        Some(r) => r,
        None => overlay.add_ring_keyed(stream.clone(), |ix| {
            let mut r = Ring::new(
                ix,
                view,
                timing,
                world.seed,
                Box::new(move |a, b| arc_keys.sum(a, b)),
            );
            r.set_stream(world.seed, &stream);
            r
        })?,
    };
    let app = Marques {
        ring,
        groups: Arc::new(groups),
        keys,
        member_keys,
        kind,
        range,
        box_shape,
        stream: spec.data_stream(world)?,
        deadline: timing.max_lookup,
        replicas: timing.replicas,
        value_bytes: timing.value_bytes,
        pieces: Vec::new(),
        open: Vec::new(),
        boxes: Vec::new(),
        requested: 0,
        returned: 0,
        closed: 0,
    };
    overlay.add_system(&spec.name, app);
    Ok(SystemParts {
        arc_keys: Box::new(|_, _| 0),
        drain: timing.max_lookup,
    })
}

/// Host of network peer `p` among `peers`.
fn world_host(peers: &[(PeerId, crate::ids::HostId, RingId)], p: PeerId) -> crate::ids::HostId {
    let i = peers.partition_point(|x| x.0 < p);
    peers[i].1
}
