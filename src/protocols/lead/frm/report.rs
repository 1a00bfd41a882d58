//! What FRM reports: per-run metrics, keys per host, the time series and its invariant checks.

use super::{Frm, Round};
use crate::driver::SeriesTable;
use crate::engine::time;
use crate::output::summary::Summary;
use crate::overlay::{Ctx, Ring};
use crate::protocols::lead::{Lead, RING};

impl Frm {
    /// Per-run metrics.
    pub fn metrics(&self, m: &mut Vec<(&'static str, f64)>) {
        let n = self.store.len() as f64;
        let present = self.store.count(0, self.store.len()) as f64;
        m.push((
            "frm_new_share",
            (present - self.store.n_train as f64) / present.max(1.0),
        ));
        m.push(("frm_keys_present_share", present / n.max(1.0)));
        m.push(("frm_inserts", self.inserts[0] as f64));
        m.push(("frm_inserts_stored", self.inserts[1] as f64));
        m.push(("frm_inserts_lost", self.inserts[2] as f64));
        m.push((
            "frm_insert_messages",
            self.inserts[3] as f64 / (self.inserts[0].max(1)) as f64,
        ));
        let done: Vec<&Round> = self.rounds.iter().filter(|r| r.done).collect();
        let rounds = done.len().max(1) as f64;
        m.push(("frm_rounds", done.len() as f64));
        m.push((
            "frm_flagged_share_at_end",
            self.flag.iter().filter(|&&f| f).count() as f64 / self.flag.len().max(1) as f64,
        ));
        m.push((
            "frm_round_participants",
            done.iter().map(|r| r.members.len()).sum::<usize>() as f64 / rounds,
        ));
        m.push((
            "frm_round_messages",
            done.iter().map(|r| r.msgs).sum::<u64>() as f64 / rounds,
        ));
        m.push((
            "frm_round_bytes",
            done.iter().map(|r| r.bytes).sum::<u64>() as f64 / rounds,
        ));
        m.push(("frm_patches", self.versions.patches() as f64));
        m.push(("frm_gossip_messages", self.gossip[0] as f64));
        m.push(("frm_gossip_bytes", self.gossip[1] as f64));
        m.push(("frm_transfer_messages", self.transfers[0] as f64));
        m.push(("frm_keys_moved", self.transfers[1] as f64));
        m.push(("frm_transfer_bytes", self.transfers[2] as f64));
        m.push(("frm_heartbeat_bytes", self.heartbeat_bytes as f64));
        m.push(("frm_converge_periods", self.converge_periods));
        m.push(("frm_rehomed", if self.settled() { 1.0 } else { 0.0 }));
    }

    /// Present keys per host.
    pub fn keys_per_host(&self, ring: &Ring, hosts: usize) -> Vec<f64> {
        let mut out = vec![0f64; hosts];
        for (k, &p) in self.peer_of.iter().enumerate() {
            out[ring.view.host(p) as usize] += self.store.held(k) as f64;
        }
        out
    }

    pub(super) fn record(&mut self, ctx: &Ctx<Lead>, up: &[bool]) {
        let ring = ctx.ring(RING);
        let hosts = ctx.net().host_count();
        let per_host = self.keys_per_host(ring, hosts);
        let s = Summary::of(&per_host);
        let present = self.store.count(0, self.store.len()) as f64;
        let known: Vec<f64> = (0..up.len())
            .filter(|&k| up[k])
            .map(|k| self.versions.known[k].len() as f64)
            .collect();
        let t = &mut self.series;
        if t.columns.is_empty() {
            t.columns = vec![
                ("new_share", Vec::new()),
                ("keys_per_host_sd", Vec::new()),
                ("keys_per_host_cov", Vec::new()),
                ("patches", Vec::new()),
                ("patches_known_min", Vec::new()),
            ];
        }
        t.t_s.push(ctx.now() as f64 / time::SEC as f64);
        let vals = [
            (present - self.store.n_train as f64) / present.max(1.0),
            s.sd,
            s.sd / s.mean.max(1e-12),
            self.versions.patches() as f64,
            known.iter().copied().fold(f64::INFINITY, f64::min),
        ];
        for (c, v) in t.columns.iter_mut().zip(vals) {
            c.1.push(v);
        }
    }

    /// The recorded series (`output.series`).
    pub fn series(&self) -> Option<SeriesTable> {
        (!self.series.t_s.is_empty()).then(|| self.series.clone())
    }

    /// FRM's invariants at the end of a run: every insert stored once (no churn), and every
    /// stored key findable by a range query under every view in use: from the owner of its
    /// hash the walk reaches its holder (holdings in ring order).
    pub fn checks(&self, ring: &Ring, static_ring: bool) -> Vec<crate::driver::Check> {
        let issued = self.inserts[0];
        let stored = self.store.count(0, self.store.len()) - self.store.n_train;
        let p = self.peer_of.len();
        // The views in use: every distinct patch set.
        let mut views: Vec<usize> = Vec::new();
        for k in 0..p {
            if !views.iter().any(|&v| self.versions.same_view(v, k)) {
                views.push(k);
            }
        }
        let n = self.store.len();
        let stride = (n / 200_000).max(1);
        let (mut checked, mut lost) = (0u64, 0u64);
        for i in (0..n).step_by(stride as usize) {
            if !self.store.is_present(i) {
                continue;
            }
            let key = self.keys.keys()[i as usize];
            for &v in &views {
                checked += 1;
                let Some(owner) = ring.view.owner(self.versions.hash(v, key)) else {
                    lost += 1;
                    continue;
                };
                let (mut k, h) = (self.rank(owner), self.store.holder(i));
                let mut steps = 0;
                while k != h && steps <= p {
                    k = if self.forward_to(k, h) {
                        (k + 1) % p
                    } else {
                        (k + p - 1) % p
                    };
                    steps += 1;
                }
                if k != h {
                    lost += 1;
                }
            }
        }
        vec![
            crate::driver::Check {
                name: "every insert stored",
                holds: stored == issued && self.inserts[2] == 0,
                enforced: static_ring,
                detail: format!(
                    "{stored} of {issued} inserts stored, {} lost",
                    self.inserts[2]
                ),
            },
            crate::driver::Check {
                name: "every stored key findable under every model version in use",
                holds: lost == 0,
                enforced: true,
                detail: format!(
                    "{lost} of {checked} (key, view) pairs unreachable; {} views, {} patches",
                    views.len(),
                    self.versions.patches()
                ),
            },
        ]
    }

    /// Whether every boundary sits where the model of its two sides puts it (re-homing done).
    pub fn settled(&self) -> bool {
        let p = self.peer_of.len();
        (0..p).all(|k| {
            let s = (k + 1) % p;
            if !self.versions.same_view(k, s) {
                return false;
            }
            let t = self.versions.first_above(k, self.keys.keys(), self.vids[k]);
            let (lo, hi) = self.store.bound_range(k);
            t.clamp(lo, hi) == self.store.bound(k)
        })
    }
}
