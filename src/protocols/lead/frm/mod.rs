//! Federated Recursive Model updates (FRM, LEAD §III-E3) under a growing key set.
//!
//! A run starts with a seeded random share of the dataset (the training set) placed and learned;
//! the other keys arrive as inserts at `lead.insert_rate`, each routed like a lookup to the owner
//! of its hash in the inserting peer's view and stored by the peer that holds that key index
//! ([`store`]: holdings follow the ring order, so a misplaced insert is forwarded to the right
//! neighbour). With `lead.updates = "frm"`:
//!
//! 1. Every peer keeps a **shadow** of the leaves it holds keys of: least-squares sums of (key,
//!    local rank), refined by every insert it stores ([`model::Shadow`]), and counts the inserts
//!    stored since its last update.
//! 2. At each stabilisation period (the heartbeat), a peer whose inserts since its last update
//!    reach `update_threshold` of the keys it holds raises its **flag**; the flag, its patch set
//!    and its ring window travel in the heartbeat (read at the heartbeat, no extra message; the
//!    bytes are counted in `frm_heartbeat_bytes`).
//! 3. A flagged peer that sees at least `quorum` of its successor- and predecessor-list
//!    neighbours flagged becomes a **transient coordinator**: it asks the flagged ones by RPC
//!    (`collect`) for their changed leaf segments; a neighbour already in a round declines,
//!    otherwise it joins, lowers its flag and sends its segment (`segments`, 16 bytes per leaf).
//!    The coordinator maps every segment to target positions (the relative index: each
//!    participant's median keeps its position, the keys get the neighbourhood's ring width per
//!    key, or with `lead.anchor` the paper's per-peer 95%-quantile scale), pools them per leaf
//!    (the averaging) and publishes a **patch** (12 bytes per leaf) to the participants.
//! 4. Patches spread by **gossip** in heartbeats (successor, predecessor and one finger per
//!    period); a version is a set of patches ([`model`]), so racing coordinators cannot make two
//!    models with one name.
//! 5. **Lazy re-homing**: two ring neighbours that hold the same patch set move the boundary of
//!    their holdings to where that model puts it: the holder of the keys that change sides sends
//!    them (`transfer`, bytes counted) and the receiver refreshes its replicas (`replicate`).
//!    Until then the old holder serves them; a query reaching a peer that does not hold its
//!    cursor's key is forwarded towards the holder, so service never stops.

mod inserts;
pub mod model;
mod report;
mod rounds;
pub mod store;

use super::{Lead, LeadMsg, LeadTimer, RING};
use crate::data::KeySet;
use crate::driver::{SeriesTable, World};
use crate::engine::{time, Time};
use crate::ids::PeerId;
use crate::learned::rmi::{LeafKind, Rmi};
use crate::learned::ModelSpec;
use crate::overlay::{Ctx, Ring, NONE};
use crate::rng::SimRng;
use anyhow::{bail, Result};
use model::{LeafTable, Scale, Segment, Shadow, Versions};
use std::sync::Arc;
use store::Store;

/// FRM's settings (from `[lead]`).
#[derive(Clone, Copy, Debug)]
pub struct FrmSettings {
    /// Share of the dataset that arrives as inserts.
    pub new_share: f64,
    /// Inserts per second.
    pub insert_rate: f64,
    /// Update rounds on (`updates = "frm"`).
    pub updates: bool,
    /// Share of a peer's keys inserted since its last update that raises its flag.
    pub threshold: f64,
    /// Share of flagged neighbours a flagged peer needs to coordinate.
    pub quorum: f64,
    /// How a round maps local ranks to positions.
    pub scale: Scale,
}

/// Forwarding hops after which an insert or a walk is dropped (a routing loop guard).
pub const MAX_HOPS: u16 = 512;

/// One update round.
struct Round {
    coord: usize,
    members: Vec<usize>,
    segs: Vec<Segment>,
    pending: u32,
    done: bool,
    msgs: u64,
    bytes: u64,
}

/// Where a walk goes from a peer ([`Frm::step`]).
pub enum Step {
    /// The peer served up to `upto`, `held` keys of them.
    Served { upto: u64, held: u64 },
    /// The holder of `cursor` lies elsewhere: forward (or back) with the keys counted so far.
    Move {
        cursor: u64,
        held: u64,
        forward: bool,
    },
}

/// FRM's state: storage, models, and every peer's protocol state (by ring rank).
pub struct Frm {
    keys: Arc<KeySet>,
    /// Stored keys and holdings.
    pub store: Store,
    /// Models and views.
    pub versions: Versions,
    table: LeafTable,
    cfg: FrmSettings,
    replicas: usize,
    value_bytes: u32,
    stabilize: Time,
    rank_of: Vec<u32>,
    peer_of: Vec<PeerId>,
    vids: Vec<u64>,
    shadow: Vec<Shadow>,
    inserted: Vec<u64>,
    flag: Vec<bool>,
    busy: Vec<u32>,
    /// Rounds each rank took part in.
    epoch: Vec<u32>,
    /// Ranks holding no key (nothing to update: they never block a quorum).
    empty: Vec<bool>,
    moving: Vec<bool>,
    fetching: Vec<bool>,
    rounds: Vec<Round>,
    batches: Vec<Option<(usize, Vec<u32>)>>,
    beat: u64,
    rng: SimRng,
    gap: Time,
    last_publish: Option<Time>,
    converged_at: Option<Time>,
    /// Inserts issued, stored, lost, and their messages.
    pub inserts: [u64; 4],
    /// Transfers: messages, keys moved, bytes (replica refreshes included).
    pub transfers: [u64; 3],
    /// Gossip: patch messages and bytes.
    pub gossip: [u64; 2],
    /// Heartbeat bytes FRM adds to the stabilisation messages.
    pub heartbeat_bytes: u64,
    /// Longest time from a patch's publication to every live peer holding every patch (periods).
    pub converge_periods: f64,
    series: SeriesTable,
    record_series: bool,
}

impl Frm {
    /// FRM's state for LEAD's `model` on `keys` (system `system` of `world`), the ring `ring`
    /// as built at t = 0.
    pub fn new(
        world: &World,
        ring: &Ring,
        system: &str,
        keys: Arc<KeySet>,
        model: &str,
        cfg: FrmSettings,
    ) -> Result<Frm> {
        let n = keys.len() as u64;
        let n_train = ((1.0 - cfg.new_share) * n as f64).round() as u64;
        if n_train < 2 {
            bail!(
                "lead.new_share = {} leaves {n_train} training keys of {n}: at least 2 are needed",
                cfg.new_share
            );
        }
        let new = n - n_train;
        let dur = world.duration as f64 / time::SEC as f64;
        if new > 0 && new as f64 / cfg.insert_rate > dur {
            bail!(
                "{new} inserts at lead.insert_rate = {} per s take {:.0} s, longer than the run's {dur:.0} s: raise the rate or duration_s",
                cfg.insert_rate,
                new as f64 / cfg.insert_rate
            );
        }
        let (root, b) = match ModelSpec::parse(model)? {
            ModelSpec::Rmi {
                root,
                leaf: LeafKind::Linear,
                branching,
            } => (root, branching),
            _ => bail!(
                "lead.updates / lead.new_share need an RMI with linear leaves (rmi:ROOT,linear,B, linear, radix or cubic), got lead.model = '{model}'"
            ),
        };
        let mut store = Store::new(
            n,
            n_train,
            crate::rng::derive_seed(world.seed, "frm-arrivals", 0),
        );
        let train: Vec<u64> = store.training().iter().map(|&i| keys.keys()[i]).collect();
        let base = Rmi::train(&train, root, LeafKind::Linear, b);
        let view = &ring.view;
        let all = view.all();
        let ranks = all.len();
        let versions = Versions::new(base, n_train, ranks);
        let max_peer = all.iter().map(|&(_, p)| p as usize).max().unwrap_or(0);
        let mut rank_of = vec![u32::MAX; max_peer + 1];
        let mut peer_of = Vec::with_capacity(ranks);
        let mut vids = Vec::with_capacity(ranks);
        for (k, &(vid, p)) in all.iter().enumerate() {
            rank_of[p as usize] = k as u32;
            peer_of.push(p);
            vids.push(vid);
        }
        let bounds: Vec<u64> = vids
            .iter()
            .map(|&v| versions.first_above(0, keys.keys(), v))
            .collect();
        store.set_bounds(bounds);
        let table = LeafTable::new(&versions.base, keys.keys());
        store.set_values(table.offsets(keys.keys()));
        let shadow = (0..ranks)
            .map(|k| Shadow::build(&store, k, &table, keys.keys()))
            .collect();
        let timing = ring.timing;
        Ok(Frm {
            keys,
            store,
            versions,
            table,
            cfg,
            replicas: timing.replicas,
            value_bytes: timing.value_bytes,
            stabilize: timing.stabilize.max(1),
            rank_of,
            peer_of,
            vids,
            shadow,
            inserted: vec![0; ranks],
            flag: vec![false; ranks],
            busy: vec![0; ranks],
            epoch: vec![0; ranks],
            empty: vec![false; ranks],
            moving: vec![false; ranks],
            fetching: vec![false; ranks],
            rounds: Vec::new(),
            batches: Vec::new(),
            beat: 0,
            rng: SimRng::stream(world.seed, &format!("frm-inserts:{system}")),
            gap: ((time::SEC as f64 / cfg.insert_rate).round() as Time).max(1),
            last_publish: None,
            converged_at: None,
            inserts: [0; 4],
            transfers: [0; 3],
            gossip: [0; 2],
            heartbeat_bytes: 0,
            converge_periods: 0.0,
            series: SeriesTable::default(),
            record_series: world.series,
        })
    }

    /// Starts the insert stream and the heartbeat.
    pub fn start(&self, ctx: &mut Ctx<Lead>) {
        if self.store.next_arrival < self.store.len() {
            ctx.set_global_timer(self.gap, LeadTimer::FrmInsert);
        }
        ctx.set_global_timer(self.stabilize, LeadTimer::FrmBeat);
    }

    fn rank(&self, p: PeerId) -> usize {
        self.rank_of[p as usize] as usize
    }

    /// LearnedHASH of key index `i` in `p`'s view.
    pub fn hash_at(&self, p: PeerId, i: u64) -> u64 {
        let key = self.keys.keys()[i.min(self.store.len() - 1) as usize];
        self.versions.hash(self.rank(p), key)
    }

    /// The stamp limit of a query issued now (it asks for the keys stored by now).
    pub fn limit_now(&self) -> u32 {
        Store::stamp_limit(self.store.stored)
    }

    /// Keys of `[a, b)` stored by `limit`.
    pub fn requested(&self, a: u64, b: u64, limit: u32) -> u64 {
        self.store.count_at(a, b, limit)
    }

    /// Whether the holder `h` is reached faster going forward from `k` (ring ranks).
    fn forward_to(&self, k: usize, h: usize) -> bool {
        let p = self.peer_of.len();
        (h + p - k) % p <= (k + p - h) % p
    }

    /// Copies of `bytes` from the holder `at` to its replica successors (counted, no state:
    /// replicas follow the holder).
    fn replicate(&mut self, ctx: &mut Ctx<Lead>, at: PeerId, bytes: u64) {
        let n = self
            .replicas
            .saturating_sub(1)
            .min(ctx.ring(RING).successors(at).len());
        let b = bytes.min(u64::from(u32::MAX)) as u32;
        for j in 0..n {
            // By index: no list copied per insert.
            let s = ctx.ring(RING).successors(at)[j];
            self.transfers[0] += 1;
            self.transfers[2] += bytes;
            ctx.send(at, s, LeadMsg::Replicate { bytes: b }, None);
        }
    }

    /// A walk at `at` from `cursor` (up to `end`), counting keys stored by `limit`.
    pub fn step(&self, ctx: &Ctx<Lead>, at: PeerId, cursor: u64, end: u64, limit: u32) -> Step {
        let ring = ctx.ring(RING);
        let net = ctx.net();
        let k = self.rank(at);
        let (mut c, mut held) = (cursor, 0u64);
        for _ in 0..self.peer_of.len() {
            if c >= end {
                break;
            }
            let g = self.store.holder(c);
            let e = self
                .store
                .parts(g)
                .iter()
                .find(|&&(a, b)| a <= c && c < b)
                .map_or(c + 1, |&(_, b)| b)
                .min(end);
            if g == k {
                held += self.store.count_at(c, e, limit);
                return Step::Served { upto: e, held };
            }
            let gp = self.peer_of[g];
            if !net.is_peer_up(gp) {
                if ring.view.holds_replica(at, self.vids[g], self.replicas) {
                    held += self.store.count_at(c, e, limit);
                    c = e;
                    continue;
                }
                if ring.view.live_successor(self.vids[g].wrapping_add(1)) == Some(at) {
                    c = e; // every copy is down: missing
                    continue;
                }
            }
            return Step::Move {
                cursor: c,
                held,
                forward: self.forward_to(k, g),
            };
        }
        Step::Served { upto: c, held }
    }

    /// The heartbeat: flags, gossip, re-homing and coordination, peer by peer in ring order.
    pub fn on_beat(&mut self, ctx: &mut Ctx<Lead>) {
        ctx.set_global_timer(self.stabilize, LeadTimer::FrmBeat);
        self.beat += 1;
        let p = self.peer_of.len();
        let up: Vec<bool> = (0..p)
            .map(|k| {
                let q = self.peer_of[k];
                ctx.net().is_peer_up(q) && ctx.ring(RING).is_joined(q)
            })
            .collect();
        if self.cfg.updates {
            // Flag, patch-set digest (8 bytes) and window (8 bytes) ride on each heartbeat.
            self.heartbeat_bytes += 17 * up.iter().filter(|&&u| u).count() as u64;
            for (k, &live) in up.iter().enumerate() {
                let held = self.store.held(k);
                self.empty[k] = held == 0;
                self.flag[k] = live
                    && self.busy[k] == 0
                    && held > 0
                    && self.inserted[k] as f64 >= self.cfg.threshold * held as f64;
            }
        }
        for k in 0..p {
            if !up[k] {
                continue;
            }
            self.gossip_at(ctx, k, &up);
            self.settle(ctx, k, &up);
            if self.cfg.updates && self.flag[k] && self.busy[k] == 0 {
                self.maybe_coordinate(ctx, k, &up);
            }
        }
        self.note_convergence(ctx.now(), &up);
        if self.record_series {
            self.record(ctx, &up);
        }
    }

    fn note_convergence(&mut self, now: Time, up: &[bool]) {
        let (Some(t), total) = (self.last_publish, self.versions.patches()) else {
            return;
        };
        if self.converged_at.is_some_and(|c| c >= t) {
            return;
        }
        let all = (0..up.len()).all(|k| !up[k] || self.versions.known[k].len() == total);
        if all {
            self.converged_at = Some(now);
            let periods = (now - t) as f64 / self.stabilize as f64;
            self.converge_periods = self.converge_periods.max(periods);
        }
    }

    fn gossip_at(&mut self, ctx: &mut Ctx<Lead>, k: usize, up: &[bool]) {
        if self.fetching[k] || self.versions.patches() == 0 {
            return;
        }
        let me = self.peer_of[k];
        let ring = ctx.ring(RING);
        let fingers = ring.fingers(me);
        let partners = [
            ring.successors(me).first().copied().unwrap_or(NONE),
            ring.predecessor(me),
            fingers[(self.beat % fingers.len() as u64) as usize],
        ];
        for q in partners {
            if q == NONE || q == me || !ring.view.is_member(q) {
                continue;
            }
            let kq = self.rank(q);
            if !up[kq] {
                continue;
            }
            let missing = self.versions.missing(kq, k);
            if missing.is_empty() {
                continue;
            }
            self.fetching[k] = true;
            let bytes: u64 = missing
                .iter()
                .map(|&id| self.versions.patch(id).bytes())
                .sum();
            self.gossip[0] += 1;
            self.gossip[1] += bytes;
            self.send_patches(ctx, q, me, missing, bytes);
            return;
        }
    }

    fn send_patches(
        &mut self,
        ctx: &mut Ctx<Lead>,
        from: PeerId,
        to: PeerId,
        ids: Vec<u32>,
        bytes: u64,
    ) {
        let batch = self.batches.len() as u32;
        self.batches.push(Some((self.rank(to), ids)));
        let bytes = crate::overlay::app::app_bytes(0) as u64 + bytes;
        ctx.send(
            from,
            to,
            LeadMsg::Patches {
                batch,
                bytes: bytes.min(u64::from(u32::MAX)) as u32,
            },
            None,
        );
    }

    /// Patches arrived at `to`.
    pub fn on_patches(&mut self, to: PeerId, batch: u32) {
        let k = self.rank(to);
        self.fetching[k] = false;
        if let Some((_, ids)) = self.batches.get_mut(batch as usize).and_then(Option::take) {
            for id in ids {
                self.versions.adopt(k, id);
            }
        }
    }

    /// Re-homing across the boundary after rank `k`, when both sides hold the same model.
    fn settle(&mut self, ctx: &mut Ctx<Lead>, k: usize, up: &[bool]) {
        let p = self.peer_of.len();
        let s = (k + 1) % p;
        if s == k || !up[s] || self.moving[k] || !self.versions.same_view(k, s) {
            return;
        }
        let target = self.versions.first_above(k, self.keys.keys(), self.vids[k]);
        let (lo, hi) = self.store.bound_range(k);
        let target = target.clamp(lo, hi);
        let cur = self.store.bound(k);
        if target == cur {
            return;
        }
        let (a, b) = (cur.min(target), cur.max(target));
        let moved = self.store.count(a, b);
        if moved == 0 {
            self.store.move_bound(k, target);
            return;
        }
        let (from, to) = if target < cur { (k, s) } else { (s, k) };
        let bytes = u64::from(crate::overlay::app::app_bytes(16))
            + moved * (8 + u64::from(self.value_bytes));
        self.moving[k] = true;
        self.transfers[0] += 1;
        self.transfers[1] += moved;
        self.transfers[2] += bytes;
        ctx.send(
            self.peer_of[from],
            self.peer_of[to],
            LeadMsg::Transfer {
                boundary: k as u32,
                to: target,
                bytes: bytes.min(u64::from(u32::MAX)) as u32,
            },
            None,
        );
    }

    /// A transfer arrived at `to`: the boundary moves, both sides rebuild their shadows.
    pub fn on_transfer(
        &mut self,
        ctx: &mut Ctx<Lead>,
        to: PeerId,
        boundary: u32,
        target: u64,
        bytes: u32,
    ) {
        let k = boundary as usize;
        self.moving[k] = false;
        self.store.move_bound(k, target);
        let s = (k + 1) % self.peer_of.len();
        for r in [k, s] {
            self.shadow[r] = Shadow::build(&self.store, r, &self.table, self.keys.keys());
        }
        self.replicate(ctx, to, u64::from(bytes));
    }

    /// A transfer was lost (its receiver crashed): the boundary may be tried again.
    pub fn on_transfer_lost(&mut self, boundary: u32) {
        self.moving[boundary as usize] = false;
    }

    /// A patch batch was lost: the peer may fetch again.
    pub fn on_patches_lost(&mut self, batch: u32) {
        if let Some((k, _)) = self.batches.get_mut(batch as usize).and_then(Option::take) {
            self.fetching[k] = false;
        }
    }
}
