//! When queries are issued: the manifest's `[workload]` table (shared by all protocols).

use crate::engine::{time, Time};
use crate::rng::SimRng;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Inter-arrival process of queries (system-wide).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ArrivalKind {
    /// Exponential gaps (a Poisson process; default).
    #[default]
    Poisson,
    /// Fixed gaps.
    Periodic,
}

/// What a data query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum QueryKind {
    /// The `range_keys` keys that follow a random key (default).
    #[default]
    Range,
    /// One random key.
    Lookup,
}

impl QueryKind {
    /// CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::Range => "range",
            QueryKind::Lookup => "lookup",
        }
    }
}

/// The `[workload]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Queries issued per simulated second, system-wide (default 1). Each picks a random live origin.
    #[serde(default = "default_rate")]
    pub queries_per_s: f64,
    /// Arrival process (`poisson` default, or `periodic`).
    #[serde(default)]
    pub arrivals: ArrivalKind,
    /// No query before this time (seconds; default 0), e.g. to let a ring converge.
    #[serde(default)]
    pub warmup_s: f64,
    /// Data protocols: `range` (default) or `lookup`.
    #[serde(default)]
    pub query: Option<QueryKind>,
    /// Data protocols, range queries: keys per range (default 5000).
    #[serde(default)]
    pub range_keys: Option<usize>,
}

fn default_rate() -> f64 {
    1.0
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            queries_per_s: default_rate(),
            arrivals: ArrivalKind::default(),
            warmup_s: 0.0,
            query: None,
            range_keys: None,
        }
    }
}

impl WorkloadSpec {
    /// What data queries ask for: the kind and the number of keys.
    pub fn query_shape(&self) -> Result<(QueryKind, usize)> {
        let kind = self.query.unwrap_or_default();
        match (kind, self.range_keys) {
            (QueryKind::Lookup, Some(_)) => {
                bail!("workload.range_keys applies only to workload.query = \"range\"")
            }
            (QueryKind::Lookup, None) => Ok((kind, 1)),
            (QueryKind::Range, Some(0)) => bail!("workload.range_keys must be >= 1"),
            (QueryKind::Range, n) => Ok((kind, n.unwrap_or(5000))),
        }
    }

    /// The validated arrival process.
    pub fn arrivals(&self) -> Result<Arrivals> {
        if !(self.queries_per_s > 0.0 && self.queries_per_s.is_finite()) {
            bail!(
                "workload.queries_per_s must be > 0, got {}",
                self.queries_per_s
            );
        }
        if !(self.warmup_s >= 0.0 && self.warmup_s.is_finite()) {
            bail!("workload.warmup_s must be >= 0, got {}", self.warmup_s);
        }
        Ok(Arrivals {
            kind: self.arrivals,
            mean_gap_us: 1e6 / self.queries_per_s,
            warmup: time::from_secs_f64(self.warmup_s),
        })
    }
}

/// A validated arrival process.
#[derive(Clone, Copy, Debug)]
pub struct Arrivals {
    kind: ArrivalKind,
    mean_gap_us: f64,
    warmup: Time,
}

impl Arrivals {
    /// Delay from time 0 to the first query.
    pub fn first(&self, rng: &mut SimRng) -> Time {
        self.warmup + self.next_gap(rng)
    }

    /// Delay to the next query (at least 1 µs).
    pub fn next_gap(&self, rng: &mut SimRng) -> Time {
        let g = match self.kind {
            ArrivalKind::Poisson => -self.mean_gap_us * libm::log(rng.unit_open0()),
            ArrivalKind::Periodic => self.mean_gap_us,
        };
        (g.round() as Time).max(1)
    }
}
