//! Summary statistics of a latency model (`leadsim topology stats`).

use super::Topology;
use crate::ids::HostId;
use crate::rng::SimRng;
use serde::Serialize;

/// Up to this many hosts, statistics use every ordered pair; beyond, a seeded sample.
const EXACT_MAX_HOSTS: usize = 3000;
/// Pairs sampled for large topologies.
const SAMPLED_PAIRS: usize = 2_000_000;
/// Random ordered triples checked for triangle violations.
const TRIPLES: usize = 200_000;

/// Distribution facts about off-diagonal RTTs, in ms.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TopologyStats {
    /// Number of hosts.
    pub hosts: usize,
    /// Number of off-diagonal entries measured (all, or a sample for large N).
    pub pairs: usize,
    /// Smallest RTT (ms).
    pub min: f64,
    /// 10th percentile (ms).
    pub p10: f64,
    /// Median (ms).
    pub median: f64,
    /// Mean (ms).
    pub mean: f64,
    /// 90th percentile (ms).
    pub p90: f64,
    /// 99th percentile (ms).
    pub p99: f64,
    /// Largest RTT (ms).
    pub max: f64,
    /// Median over hosts of the nearest other host's RTT (ms): site clustering.
    pub nearest_neighbour_median: f64,
    /// Share of measured pairs with rtt(a,b) != rtt(b,a).
    pub asymmetric_share: f64,
    /// Share of random ordered triples (i, j, k) with rtt(i,k) > rtt(i,j) + rtt(j,k).
    pub triangle_violation_share: f64,
}

/// Nearest-rank quantile of sorted data.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let w = pos - lo as f64;
    sorted[lo] * (1.0 - w) + sorted[hi] * w
}

/// Measures a topology (slice 0). Deterministic for a given `seed`.
pub fn topology_stats(t: &Topology, seed: u64) -> TopologyStats {
    let n = t.host_count();
    let rtt = |a: usize, b: usize| t.rtt_us(0, a as HostId, b as HostId) as f64 / 1000.0;
    let mut rng = SimRng::stream(seed, "topology-stats");
    let mut vals = Vec::new();
    let mut asym = 0usize;
    let mut pairs_checked = 0usize;
    if n <= EXACT_MAX_HOSTS {
        vals.reserve(n * n.saturating_sub(1));
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    let v = rtt(a, b);
                    vals.push(v);
                    if a < b {
                        pairs_checked += 1;
                        if v != rtt(b, a) {
                            asym += 1;
                        }
                    }
                }
            }
        }
    } else {
        for _ in 0..SAMPLED_PAIRS {
            let a = rng.below(n as u64) as usize;
            let b = (a + 1 + rng.below(n as u64 - 1) as usize) % n;
            let v = rtt(a, b);
            vals.push(v);
            pairs_checked += 1;
            if v != rtt(b, a) {
                asym += 1;
            }
        }
    }
    vals.sort_unstable_by(f64::total_cmp);
    let mean = vals.iter().sum::<f64>() / vals.len().max(1) as f64;
    let mut nn: Vec<f64> = (0..n.min(EXACT_MAX_HOSTS))
        .map(|a| {
            (0..n)
                .filter(|&b| b != a)
                .map(|b| rtt(a, b))
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    nn.sort_unstable_by(f64::total_cmp);
    let mut violations = 0usize;
    let mut triples = 0usize;
    if n >= 3 {
        for _ in 0..TRIPLES {
            let i = rng.below(n as u64) as usize;
            let j = rng.below(n as u64) as usize;
            let k = rng.below(n as u64) as usize;
            if i == j || j == k || i == k {
                continue;
            }
            triples += 1;
            // Integer µs: exact, so equalities (j on the shortest path) never flip by rounding.
            let us = |a: usize, b: usize| t.rtt_us(0, a as HostId, b as HostId);
            if us(i, k) > us(i, j) + us(j, k) {
                violations += 1;
            }
        }
    }
    TopologyStats {
        hosts: n,
        pairs: vals.len(),
        min: vals.first().copied().unwrap_or(f64::NAN),
        p10: quantile_sorted(&vals, 0.10),
        median: quantile_sorted(&vals, 0.50),
        mean,
        p90: quantile_sorted(&vals, 0.90),
        p99: quantile_sorted(&vals, 0.99),
        max: vals.last().copied().unwrap_or(f64::NAN),
        nearest_neighbour_median: quantile_sorted(&nn, 0.5),
        asymmetric_share: asym as f64 / pairs_checked.max(1) as f64,
        triangle_violation_share: violations as f64 / triples.max(1) as f64,
    }
}
