//! The manifest's `[lead]` table: the learned hash, the Shadow Balancer, and the growing key set
//! with FRM model updates.

use super::balancer::BalanceMode;
use crate::settings::{KeyDoc, Settings, TableDef};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

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
    /// Share of the dataset that arrives as inserts after t = 0 (0 = all keys placed and learned
    /// at the start); the rest is the training set.
    #[serde(default)]
    pub new_share: f64,
    /// Inserts per second (all new keys must arrive within the run).
    #[serde(default = "d_insert_rate")]
    pub insert_rate: f64,
    /// Model updates: `off` or `frm` (Federated Recursive Model rounds).
    #[serde(default)]
    pub updates: Updates,
    /// A peer flags itself for an update when its inserts since the last one reach this share
    /// of the keys it holds (default 0.40).
    #[serde(default = "d_update_threshold")]
    pub update_threshold: f64,
    /// A flagged peer coordinates when this share of its neighbours is flagged (default 0.90).
    #[serde(default = "d_quorum")]
    pub quorum: f64,
    /// The paper's per-peer anchor: scale each participant's keys so that its 95% key quantile
    /// ends at its window's right edge, instead of the neighbourhood's ring width per key.
    #[serde(default)]
    pub anchor: bool,
}

/// Model updates (`lead.updates`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Updates {
    /// The model trained at t = 0 stays (the default).
    #[default]
    Off,
    /// Federated Recursive Model rounds.
    Frm,
}

fn d_insert_rate() -> f64 {
    10_000.0
}
fn d_update_threshold() -> f64 {
    0.40
}
fn d_quorum() -> f64 {
    0.90
}

/// LEAD's learned hash unless `lead.model` says otherwise: the paper's 12 MiB cubic RMI.
pub const DEFAULT_MODEL: &str = "rmi:cubic,linear,524288";

fn d_model() -> String {
    DEFAULT_MODEL.into()
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
            new_share: 0.0,
            insert_rate: d_insert_rate(),
            updates: Updates::Off,
            update_threshold: d_update_threshold(),
            quorum: d_quorum(),
            anchor: false,
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
        if !(self.new_share >= 0.0 && self.new_share <= 0.95) {
            bail!(
                "lead.new_share must be in [0, 0.95], got {}",
                self.new_share
            );
        }
        if !(self.insert_rate > 0.0 && self.insert_rate <= 1e7) {
            bail!(
                "lead.insert_rate must be in (0, 1e7] inserts per second, got {}",
                self.insert_rate
            );
        }
        if !(self.update_threshold > 0.0 && self.update_threshold <= 1.0) {
            bail!(
                "lead.update_threshold must be in (0, 1], got {}",
                self.update_threshold
            );
        }
        if !(self.quorum > 0.0 && self.quorum <= 1.0) {
            bail!("lead.quorum must be in (0, 1], got {}", self.quorum);
        }
        if self.frm_on() && self.model == "exact" {
            bail!("lead.new_share / lead.updates need a learned model with linear leaves to update (rmi:ROOT,linear,B, linear, radix or cubic), not lead.model = \"exact\"");
        }
        if self.frm_on() && self.balancer != BalanceMode::Off {
            bail!("lead.new_share / lead.updates and lead.balancer cannot be combined: the balancer moves virtual peers, FRM's storage follows a fixed set of them");
        }
        Ok(())
    }
}

impl LeadConfig {
    /// Whether the key set grows or the model updates (FRM storage in use).
    pub fn frm_on(&self) -> bool {
        self.new_share > 0.0 || self.updates == Updates::Frm
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
        KeyDoc::new(
            "new_share",
            "[0, 0.95]",
            "share of the dataset that arrives as inserts after t = 0 (a seeded random order); the rest is placed and learned at the start (the training set). 0 = no inserts",
        ),
        KeyDoc::new(
            "insert_rate",
            "(0, 1e7]",
            "inserts per second, each routed like a lookup from a random live peer; every new key must arrive within the run, or the run is refused with the time it needs",
        ),
        KeyDoc::new(
            "updates",
            "off, frm",
            "model updates: frm = Federated Recursive Model rounds (flags in heartbeats, transient coordinators, leaf patches, lazy re-homing; docs/modelling.md); needs an RMI with linear leaves",
        ),
        KeyDoc::new(
            "update_threshold",
            "(0, 1]",
            "a peer flags itself for an update when its inserts since its last update reach this share of the keys it holds",
        ),
        KeyDoc::new(
            "quorum",
            "(0, 1]",
            "a flagged peer becomes a transient coordinator when this share of its successor- and predecessor-list neighbours is flagged",
        ),
        KeyDoc::new(
            "anchor",
            "false, true",
            "FRM targets: false = the relative index (a run of consecutive participants keeps the positions of its first and last key; the keys between get the positions of their ranks); true = the paper's per-peer anchor (median kept, 95% key quantile at the right edge of the peer's window)",
        ),
    ],
);
