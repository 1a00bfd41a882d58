//! The Shadow Balancer (LEAD §III-C) and the per-window load series it is judged by.
//!
//! The paper gives the policy in two sentences (each host runs k virtual peers, k adjustable to
//! its capability; under a resource bottleneck a host plans the departure of the virtual peers
//! that manage fewer requests); its analysis is in an extended version that is not public. This
//! is a documented reconstruction (docs/modelling.md, *Shadow Balancer*):
//!
//! - Every `window` a host measures its load over the window: requests its virtual peers served
//!   (lookups answered and walk steps), or keys stored, divided by its capacity weight (its
//!   initial virtual-peer count over the mean). Each of its joined virtual peers reports that
//!   load to its ring successor (a counted `load` message: what a heartbeat would carry).
//! - A moment later (`SETTLE`) each host compares its load with the mean of the reports it
//!   received plus its own. Above `(1 + threshold) x mean` with more than `overlay.min_vnodes`
//!   peers, it removes its least-requested virtual peer by graceful leave (the keys go to the
//!   successor; every message counted). Below `(1 - threshold) x mean` with a spare slot (fewer
//!   than `overlay.max_vnodes`), it adds a virtual peer on a new port, hence at a new PeerHASH
//!   position; the peer joins through the join protocol and requests its keys.
//! - A new virtual peer holds no data until its join completes: until then its arc is served
//!   by the peer that held it before (its successor).
//!
//! The series (`series.csv`, one row per window) gives the CoV over live hosts of requests
//! served and of keys stored, the mean virtual peers per live host and the moves so far, with
//! the balancer on or off, so both runs are comparable.

use super::placement::Placement;
use super::{Lead, LeadMsg, LeadTimer, RING};
use crate::driver::{SeriesTable, World};
use crate::engine::{time, Time};
use crate::ids::{HostId, PeerId};
use crate::output::summary::Summary;
use crate::overlay::id::{host_address, peer_hash};
use crate::overlay::{Ctx, Ring};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// What load the Shadow Balancer balances (`lead.balancer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BalanceMode {
    /// No balancing (the default).
    #[default]
    Off,
    /// Requests served over the last window.
    Requests,
    /// Keys stored.
    Keys,
}

/// How long after the load reports a host decides (they arrive within one one-way delay).
pub const SETTLE: Time = 2 * time::SEC;

/// Per-window load accounting and, when on, the balancer's state.
pub struct LoadWindow {
    /// The balanced load (`Off` = only the series is recorded).
    pub mode: BalanceMode,
    window: Time,
    threshold: f64,
    min_vnodes: u32,
    /// First network peer of each host, plus the total (slots are consecutive per host).
    first: Vec<PeerId>,
    /// Capacity weight of each host: its initial virtual peers over the mean.
    weight: Vec<f64>,
    /// Requests served per network peer in the current window, and in the last one.
    served: Vec<u32>,
    last_served: Vec<u32>,
    /// Each host's capacity-normalised load over the last window.
    load: Vec<f64>,
    /// Load reports received this window: sum and count per host.
    est_sum: Vec<f64>,
    est_n: Vec<u32>,
    /// Ports handed out per host (a re-added virtual peer gets a new port, a new position).
    next_port: Vec<u32>,
    /// Virtual peers added by the balancer whose join has not been seen complete.
    fresh: Vec<bool>,
    /// Virtual peers removed and added so far.
    pub leaves: u64,
    /// Virtual peers added so far.
    pub adds: u64,
    series: SeriesTable,
}

impl LoadWindow {
    /// The window of a run (`None` when neither the balancer nor `output.series` asks for it).
    pub fn new(world: &World, cfg: &super::LeadConfig) -> Result<Option<LoadWindow>> {
        if cfg.balancer == BalanceMode::Off && !world.series {
            return Ok(None);
        }
        if !(cfg.window_s > 0.0 && cfg.window_s.is_finite()) {
            bail!("lead.window_s must be > 0, got {}", cfg.window_s);
        }
        if cfg.balancer != BalanceMode::Off && world.systems.len() > 1 {
            bail!(
                "lead.balancer moves virtual peers, so the ring is no longer shared: run a balanced LEAD alone, not beside {} other system(s) (model.md section 9)",
                world.systems.len() - 1
            );
        }
        let hosts = world.slots.len();
        let mut first = Vec::with_capacity(hosts + 1);
        let mut acc: PeerId = 0;
        for &s in &world.slots {
            first.push(acc);
            acc += s;
        }
        first.push(acc);
        let mean = world.vnodes.iter().map(|&v| f64::from(v)).sum::<f64>() / hosts.max(1) as f64;
        Ok(Some(LoadWindow {
            mode: cfg.balancer,
            window: time::from_secs_f64(cfg.window_s),
            threshold: cfg.threshold,
            min_vnodes: world.min_vnodes.max(1),
            weight: world.vnodes.iter().map(|&v| f64::from(v) / mean).collect(),
            served: vec![0; acc as usize],
            last_served: vec![0; acc as usize],
            load: vec![0.0; hosts],
            est_sum: vec![0.0; hosts],
            est_n: vec![0; hosts],
            next_port: world.slots.iter().map(|&s| 4000 + s).collect(),
            fresh: vec![false; acc as usize],
            first,
            leaves: 0,
            adds: 0,
            series: SeriesTable::default(),
        }))
    }

    /// The window length.
    pub fn window(&self) -> Time {
        self.window
    }

    /// Counts one request served at peer `p`.
    #[inline]
    pub fn served(&mut self, p: PeerId) {
        self.served[p as usize] += 1;
    }

    /// Whether `p` is a virtual peer the balancer added that holds no data yet: it has not
    /// finished joining, or its successor (which hands it the arc) does not know it yet.
    #[inline]
    pub fn without_data(&self, ring: &Ring, p: PeerId) -> bool {
        self.fresh[p as usize]
            && !(ring.is_joined(p)
                && ring
                    .successors(p)
                    .first()
                    .is_some_and(|&s| ring.predecessor(s) == p))
    }

    /// A load report from a neighbour arrived at `to`.
    pub fn on_report(&mut self, host: HostId, load: f64) {
        self.est_sum[host as usize] += load;
        self.est_n[host as usize] += 1;
    }

    /// The end of a window: measure, record the series row, report loads, plan the decision.
    pub fn tick(&mut self, ctx: &mut Ctx<Lead>, place: &Placement) {
        let hosts = self.load.len();
        let ring = ctx.ring(RING);
        let view = &ring.view;
        let keys = place.keys_per_host(view, hosts);
        let mut requests = vec![0f64; hosts];
        let mut vnodes = vec![0u32; hosts];
        for (h, req) in requests.iter_mut().enumerate() {
            for p in self.first[h]..self.first[h + 1] {
                *req += f64::from(self.served[p as usize]);
                vnodes[h] += u32::from(view.is_member(p));
            }
        }
        let up: Vec<usize> = (0..hosts)
            .filter(|&h| ctx.net().is_host_up(h as HostId))
            .collect();
        let of = |v: &[f64]| Summary::of(&up.iter().map(|&h| v[h]).collect::<Vec<_>>());
        let (req, key) = (of(&requests), of(&keys));
        let mean_vnodes =
            up.iter().map(|&h| f64::from(vnodes[h])).sum::<f64>() / up.len().max(1) as f64;
        let t = &mut self.series;
        if t.columns.is_empty() {
            t.columns = [
                "requests_cov",
                "keys_cov",
                "keys_sd",
                "vnodes_mean",
                "leaves",
                "adds",
            ]
            .iter()
            .map(|&c| (c, Vec::new()))
            .collect();
        }
        t.t_s.push(ctx.now() as f64 / time::SEC as f64);
        let row = [
            if req.mean > 0.0 { req.cov() } else { 0.0 },
            key.cov(),
            key.sd,
            mean_vnodes,
            self.leaves as f64,
            self.adds as f64,
        ];
        for (c, v) in t.columns.iter_mut().zip(row) {
            c.1.push(v);
        }
        for h in 0..hosts {
            let raw = match self.mode {
                BalanceMode::Keys => keys[h],
                _ => requests[h],
            };
            self.load[h] = raw / self.weight[h];
        }
        std::mem::swap(&mut self.served, &mut self.last_served);
        self.served.fill(0);
        self.est_sum.fill(0.0);
        self.est_n.fill(0);
        let window = self.window;
        ctx.set_global_timer(window, LeadTimer::Window);
        if self.mode == BalanceMode::Off {
            return;
        }
        for &h in &up {
            for p in self.first[h]..self.first[h + 1] {
                let ring = ctx.ring(RING);
                if !ring.view.is_member(p) || !ring.is_joined(p) {
                    continue;
                }
                let Some(&s) = ring.successors(p).first() else {
                    continue;
                };
                if ring.view.host(s) as usize != h {
                    let msg = LeadMsg::Load {
                        load: self.load[h] as f32,
                    };
                    ctx.send(p, s, msg, None);
                }
            }
        }
        ctx.set_global_timer(SETTLE, LeadTimer::Decide);
    }

    /// Each live host that heard from its neighbours compares its load with their mean and
    /// removes or adds one virtual peer.
    pub fn decide(&mut self, ctx: &mut Ctx<Lead>) {
        for h in 0..self.load.len() {
            let hid = h as HostId;
            if !ctx.net().is_host_up(hid) || self.est_n[h] == 0 {
                continue;
            }
            let mean = (self.est_sum[h] + self.load[h]) / f64::from(self.est_n[h] + 1);
            let (lo, hi) = (self.first[h], self.first[h + 1]);
            let ring = ctx.ring(RING);
            for p in lo..hi {
                if self.fresh[p as usize] && !self.without_data(ring, p) {
                    self.fresh[p as usize] = false;
                }
            }
            let members: Vec<PeerId> = (lo..hi).filter(|&p| ring.view.is_member(p)).collect();
            if self.load[h] > (1.0 + self.threshold) * mean
                && members.len() > self.min_vnodes as usize
            {
                // The least-requested joined virtual peer departs (ties: the lowest peer id).
                let victim = members
                    .iter()
                    .copied()
                    .filter(|&p| ring.is_joined(p))
                    .min_by_key(|&p| (self.last_served[p as usize], p));
                if let Some(p) = victim {
                    self.fresh[p as usize] = false;
                    ctx.leave(RING, p);
                    self.leaves += 1;
                }
            } else if self.load[h] < (1.0 - self.threshold) * mean
                && members.len() < (hi - lo) as usize
            {
                let Some(p) = (lo..hi).find(|&p| !ring.view.is_member(p)) else {
                    continue;
                };
                let Ok(port) = u16::try_from(self.next_port[h]) else {
                    continue; // ports exhausted: no more new positions for this host
                };
                self.next_port[h] += 1;
                let id = peer_hash(&host_address(h as u32), port);
                self.fresh[p as usize] = true;
                ctx.add_member(RING, p, id);
                self.adds += 1;
            }
        }
    }

    /// The recorded series.
    pub fn series(&self) -> SeriesTable {
        self.series.clone()
    }
}
