//! Synthetic latency models. All are deterministic functions of the topology RNG stream, and all
//! but `random-graph` are defined per pair by coordinates or a keyed hash, so they need no N x N
//! storage (see [`super::Topology::materialized`] for the small-N speed-up).

use crate::ids::HostId;
use crate::rng::{mix2, normal_from_hash, unit_from_bits, SimRng};
use anyhow::{bail, Result};
use rayon::prelude::*;

/// One continental region of the PlanetLab-like model: share of sites, centre and spread, in
/// "RTT milliseconds" coordinates.
struct Region {
    share: f64,
    centre: (f64, f64),
    spread: f64,
}

/// North America, Europe, East Asia, South America, Oceania: shares and geometry chosen so that
/// the synthetic matrix reproduces PlanetLabData_1's quantiles (see `topologies/README.md`).
const REGIONS: [Region; 5] = [
    Region {
        share: 0.50,
        centre: (0.0, 0.0),
        spread: 17.0,
    },
    Region {
        share: 0.28,
        centre: (95.0, 5.0),
        spread: 12.0,
    },
    Region {
        share: 0.12,
        centre: (-140.0, 90.0),
        spread: 30.0,
    },
    Region {
        share: 0.06,
        centre: (30.0, -125.0),
        spread: 20.0,
    },
    Region {
        share: 0.04,
        centre: (-175.0, -70.0),
        spread: 15.0,
    },
];
/// RTT per unit of coordinate distance (route stretch).
const STRETCH: f64 = 1.27;
/// Constant RTT added to every inter-site pair (ms).
const BASE_MS: f64 = 3.0;
/// Median per-host access delay (ms); log-normal with sigma 1.
const ACCESS_MEDIAN_MS: f64 = 2.0;
/// Extra access delay of the one badly connected host (PlanetLabData_1's node 91 averages 501 ms).
const BAD_HOST_EXTRA_MS: f64 = 350.0;
/// Sigma of the per-pair multiplicative log-normal noise (creates ~6% triangle violations).
const PAIR_NOISE_SIGMA: f64 = 0.08;
/// Share of pairs with a congested path (RTT x U[2, 7]): the far tail up to ~3 s.
const SPIKE_SHARE: f64 = 0.0005;
/// Mean extra RTT between hosts of one site (ms), on top of 0.1 ms.
const SITE_EXTRA_MS: f64 = 0.15;

/// The synthetic PlanetLab-like model: hosts in sites (1 + Poisson(1.1) hosts each), sites in five
/// continental blobs, per-host access delays, per-pair noise and rare congested pairs.
pub struct PlanetLabLike {
    /// One record per host, so that a pair's RTT reads two cache lines, not eight.
    hosts: Vec<SyntheticHost>,
    pair_seed: u64,
}

/// A PlanetLab-like host: position, site and access delay.
#[derive(Clone, Copy, Debug)]
#[repr(align(32))]
struct SyntheticHost {
    x: f64,
    y: f64,
    access_ms: f64,
    site: u32,
}

impl PlanetLabLike {
    /// Places `n` hosts using `rng`.
    pub fn generate(n: usize, rng: &mut SimRng) -> Self {
        let mut m = PlanetLabLike {
            hosts: Vec::with_capacity(n),
            pair_seed: rng.next_u64(),
        };
        let mut site = 0u32;
        // Regions of successive sites follow a golden-ratio sequence (random start): the regional
        // shares are met closely for every seed, which keeps the quantiles stable across seeds.
        let offset = rng.unit();
        while m.hosts.len() < n {
            let u = (offset + f64::from(site) * 0.618_033_988_749_894_9).fract();
            let mut acc = 0.0;
            let mut region = &REGIONS[REGIONS.len() - 1];
            for r in &REGIONS {
                acc += r.share;
                if u < acc {
                    region = r;
                    break;
                }
            }
            let sx = region.centre.0 + region.spread * rng.normal();
            let sy = region.centre.1 + region.spread * rng.normal();
            let size = 1 + poisson(rng, 1.1);
            for _ in 0..size {
                if m.hosts.len() == n {
                    break;
                }
                m.hosts.push(SyntheticHost {
                    x: sx,
                    y: sy,
                    site,
                    access_ms: ACCESS_MEDIAN_MS * libm::exp(rng.normal()),
                });
            }
            site += 1;
        }
        let bad = rng.below(n as u64) as usize;
        m.hosts[bad].access_ms += BAD_HOST_EXTRA_MS;
        m
    }

    /// Starts loading host `h`'s record (a cache hint).
    #[inline]
    pub fn prefetch(&self, h: HostId) {
        if let Some(r) = self.hosts.get(h as usize) {
            crate::engine::prefetch(r);
        }
    }

    /// RTT between two distinct hosts in µs (symmetric).
    #[inline]
    pub fn rtt_us(&self, a: HostId, b: HostId) -> u64 {
        let (i, j) = if a < b {
            (a as usize, b as usize)
        } else {
            (b as usize, a as usize)
        };
        let h = mix2(self.pair_seed, ((i as u64) << 32) | j as u64);
        let (p, q) = (&self.hosts[i], &self.hosts[j]);
        let ms = if p.site == q.site {
            0.1 - SITE_EXTRA_MS * libm::log(1.0 - unit_from_bits(h))
        } else {
            let d = libm::hypot(p.x - q.x, p.y - q.y);
            let base = d * STRETCH + BASE_MS + p.access_ms + q.access_ms;
            let mut v = base * libm::exp(PAIR_NOISE_SIGMA * normal_from_hash(h));
            let h2 = mix2(h, 0x5EED);
            if unit_from_bits(h2) < SPIKE_SHARE {
                v *= 2.0 + 5.0 * unit_from_bits(mix2(h2, 1));
            }
            v
        };
        (ms * 1000.0).round() as u64
    }
}

/// Knuth's Poisson sampler (small means only).
fn poisson(rng: &mut SimRng, mean: f64) -> usize {
    let l = libm::exp(-mean);
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.unit();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// Hosts uniform in the unit square; RTT = distance x scale, scaled so the median RTT is given.
pub struct Euclidean {
    /// (x, y) of each host, side by side (one cache line per host read).
    xy: Vec<(f64, f64)>,
    scale_ms: f64,
}

impl Euclidean {
    /// Places `n` hosts and scales distances to `median_ms`.
    pub fn generate(n: usize, median_ms: f64, rng: &mut SimRng) -> Self {
        let x: Vec<f64> = (0..n).map(|_| rng.unit()).collect();
        let y: Vec<f64> = (0..n).map(|_| rng.unit()).collect();
        let dist = |a: usize, b: usize| libm::hypot(x[a] - x[b], y[a] - y[b]);
        let mut d: Vec<f64> = if n <= 2000 {
            (0..n)
                .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
                .map(|(a, b)| dist(a, b))
                .collect()
        } else {
            let mut s = SimRng::from_seed(rng.next_u64());
            (0..200_000)
                .map(|_| {
                    let a = s.below(n as u64) as usize;
                    let b = (a + 1 + s.below(n as u64 - 1) as usize) % n;
                    dist(a, b)
                })
                .collect()
        };
        let scale_ms = if d.is_empty() {
            1.0
        } else {
            let mid = d.len() / 2;
            let (_, m, _) = d.select_nth_unstable_by(mid, f64::total_cmp);
            if *m > 0.0 {
                median_ms / *m
            } else {
                1.0
            }
        };
        let xy = x.into_iter().zip(y).collect();
        Euclidean { xy, scale_ms }
    }

    /// Starts loading host `h`'s coordinates (a cache hint).
    #[inline]
    pub fn prefetch(&self, h: HostId) {
        if let Some(r) = self.xy.get(h as usize) {
            crate::engine::prefetch(r);
        }
    }

    /// RTT between two hosts in µs.
    #[inline]
    pub fn rtt_us(&self, a: HostId, b: HostId) -> u64 {
        let ((xa, ya), (xb, yb)) = (self.xy[a as usize], self.xy[b as usize]);
        let ms = libm::hypot(xa - xb, ya - yb) * self.scale_ms;
        (ms * 1000.0).round() as u64
    }
}

/// Every pair's RTT i.i.d. uniform in `[lo, hi]` ms, from a keyed hash (symmetric).
pub struct RandomSampling {
    seed: u64,
    lo_us: f64,
    span_us: f64,
}

impl RandomSampling {
    /// A model with bounds in ms.
    pub fn new(seed: u64, lo_ms: f64, hi_ms: f64) -> Self {
        RandomSampling {
            seed,
            lo_us: lo_ms * 1000.0,
            span_us: (hi_ms - lo_ms) * 1000.0,
        }
    }

    /// RTT between two hosts in µs.
    #[inline]
    pub fn rtt_us(&self, a: HostId, b: HostId) -> u64 {
        let (i, j) = if a < b { (a, b) } else { (b, a) };
        let u = unit_from_bits(mix2(self.seed, (u64::from(i) << 32) | u64::from(j)));
        (self.lo_us + u * self.span_us).round() as u64
    }
}

/// A random graph: each host adds `degree` links to distinct random other hosts with latency
/// U[0, link_max_ms); RTT = shortest-path length (Dijkstra from every host, in parallel).
/// Returns the row-major matrix in µs.
pub fn random_graph(
    n: usize,
    degree: usize,
    link_max_ms: f64,
    rng: &mut SimRng,
) -> Result<Vec<u32>> {
    if n > 1 && degree >= n {
        bail!("topology.degree = {degree} must be smaller than the number of hosts ({n})");
    }
    let mut adj: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
    for a in 0..n {
        let mut added = 0;
        let mut targets: Vec<u32> = Vec::with_capacity(degree);
        while added < degree.min(n.saturating_sub(1)) {
            let b = rng.below(n as u64) as u32;
            if b as usize == a || targets.contains(&b) {
                continue;
            }
            targets.push(b);
            let w = (rng.unit() * link_max_ms * 1000.0) as u32;
            adj[a].push((b, w));
            adj[b as usize].push((a as u32, w));
            added += 1;
        }
    }
    let rows: Vec<Vec<u32>> = (0..n).into_par_iter().map(|s| dijkstra(&adj, s)).collect();
    let mut m = Vec::with_capacity(n * n);
    for (s, row) in rows.into_iter().enumerate() {
        if let Some(t) = row.iter().position(|&d| d == u32::MAX) {
            bail!("random graph is disconnected (host {s} cannot reach host {t}); raise topology.degree");
        }
        m.extend(row);
    }
    Ok(m)
}

fn dijkstra(adj: &[Vec<(u32, u32)>], src: usize) -> Vec<u32> {
    use std::cmp::Reverse;
    let mut dist = vec![u32::MAX; adj.len()];
    let mut heap = std::collections::BinaryHeap::new();
    dist[src] = 0;
    heap.push(Reverse((0u32, src as u32)));
    while let Some(Reverse((d, u))) = heap.pop() {
        if d > dist[u as usize] {
            continue;
        }
        for &(v, w) in &adj[u as usize] {
            let nd = d.saturating_add(w);
            if nd < dist[v as usize] {
                dist[v as usize] = nd;
                heap.push(Reverse((nd, v)));
            }
        }
    }
    dist
}
