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
    /// Every point of a box over the two attributes of a point dataset
    /// ([`crate::multiattr::BoxQuery`]).
    Box,
}

impl QueryKind {
    /// CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::Range => "range",
            QueryKind::Lookup => "lookup",
            QueryKind::Box => "box",
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
    /// Range queries: when set, each query's n is drawn uniformly from
    /// `range_keys ..= range_keys_max` (the paper's IPFS requests span 1,000-3,000 blocks).
    #[serde(default)]
    pub range_keys_max: Option<usize>,
    /// Box queries: the box's share of the attribute square's area (default 1e-4).
    #[serde(default)]
    pub box_selectivity: Option<f64>,
    /// Box queries: the most curve intervals a box is decomposed into (default 16).
    #[serde(default)]
    pub box_intervals: Option<usize>,
    /// Data protocols: which keys queries start at: `uniform` (default) or `zipf:S` (a hotspot
    /// workload: the key array is cut into 1,024 equal segments whose popularity follows
    /// Zipf(S) over a random ranking; the start is uniform within the chosen segment). With
    /// `range_prefix_bits`, the popularity is over the prefix groups instead.
    #[serde(default = "default_popularity")]
    pub popularity: String,
    /// Range queries by key prefix (1..=24; unset by default): each query asks for every key
    /// whose top B bits equal those of a group drawn by `popularity` among the dataset's
    /// distinct B-bit prefixes (e.g. 10 on `kvcache-like`: one document's KV blocks, as a
    /// prompt that reuses the document's prefix). Replaces `range_keys`.
    #[serde(default)]
    pub range_prefix_bits: Option<u32>,
}

fn default_popularity() -> String {
    "uniform".into()
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
            range_keys_max: None,
            box_selectivity: None,
            box_intervals: None,
            popularity: default_popularity(),
            range_prefix_bits: None,
        }
    }
}

impl WorkloadSpec {
    /// What data queries ask for: the kind and the (largest) number of keys (0 for boxes: it
    /// depends on the box).
    pub fn query_shape(&self) -> Result<(QueryKind, usize)> {
        let kind = self.query.unwrap_or_default();
        if let Some(bits) = self.range_prefix_bits {
            if kind != QueryKind::Range {
                bail!("workload.range_prefix_bits applies only to workload.query = \"range\"");
            }
            if self.range_keys.is_some() || self.range_keys_max.is_some() {
                bail!("workload.range_prefix_bits replaces range_keys / range_keys_max (a range is a prefix group): set one or the other");
            }
            if !(1..=MAX_PREFIX_BITS).contains(&bits) {
                bail!("workload.range_prefix_bits must be in [1, {MAX_PREFIX_BITS}], got {bits}");
            }
            // The keys a query asks for depend on the dataset (see `prefix_groups`).
            return Ok((kind, 0));
        }
        let (lo, hi) = self.range_span()?;
        if kind == QueryKind::Range && hi != lo {
            return Ok((kind, hi));
        }
        if kind != QueryKind::Box
            && (self.box_selectivity.is_some() || self.box_intervals.is_some())
        {
            bail!(
                "workload.box_selectivity and box_intervals apply only to workload.query = \"box\""
            );
        }
        match (kind, self.range_keys) {
            (QueryKind::Box, Some(_)) => {
                bail!("workload.range_keys applies only to workload.query = \"range\"")
            }
            (QueryKind::Box, None) => {
                self.box_shape()?;
                Ok((kind, 0))
            }
            (QueryKind::Lookup, Some(_)) => {
                bail!("workload.range_keys applies only to workload.query = \"range\"")
            }
            (QueryKind::Lookup, None) => Ok((kind, 1)),
            (QueryKind::Range, Some(0)) => bail!("workload.range_keys must be >= 1"),
            (QueryKind::Range, n) => Ok((kind, n.unwrap_or(5000))),
        }
    }

    /// Range queries: the fewest and the most keys a query asks for (`range_keys`, and
    /// `range_keys_max` when set).
    pub fn range_span(&self) -> Result<(usize, usize)> {
        let lo = self.range_keys.unwrap_or(5000);
        match self.range_keys_max {
            None => Ok((lo, lo)),
            Some(_) if !matches!(self.query, None | Some(QueryKind::Range)) => {
                bail!("workload.range_keys_max applies only to workload.query = \"range\"")
            }
            Some(hi) if hi < lo => bail!(
                "workload.range_keys_max = {hi} is below workload.range_keys = {lo}: it is the upper end of each query's key count"
            ),
            Some(hi) => Ok((lo, hi)),
        }
    }

    /// Box queries: (selectivity, most intervals per box), validated.
    pub fn box_shape(&self) -> Result<(f64, usize)> {
        let sel = self.box_selectivity.unwrap_or(1e-4);
        if !(sel > 0.0 && sel <= 1.0) {
            bail!(
                "workload.box_selectivity must be in (0, 1], got {}",
                crate::limits::num(sel)
            );
        }
        let iv = self.box_intervals.unwrap_or(16);
        if !(1..=4096).contains(&iv) {
            bail!("workload.box_intervals must be in [1, 4096], got {iv}");
        }
        Ok((sel, iv))
    }

    /// The validated start-key popularity; the hotspot ranking derives from `seed` (the same for
    /// every system of a run, so paired systems see the same hotspots).
    pub fn popularity(&self, seed: u64) -> Result<Popularity> {
        Popularity::parse(&self.popularity, seed)
    }

    /// The validated arrival process.
    pub fn arrivals(&self) -> Result<Arrivals> {
        if !(self.queries_per_s > 0.0 && self.queries_per_s <= 1e6) {
            bail!(
                "workload.queries_per_s must be in (0, 1e6] (at most one query per µs), got {}",
                crate::limits::num(self.queries_per_s)
            );
        }
        Popularity::parse(&self.popularity, 0)?;
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

/// The longest key prefix `range_prefix_bits` may name (at most 2^24 groups).
pub const MAX_PREFIX_BITS: u32 = 24;

/// The groups of sorted `keys` sharing their top `bits` bits, as (index of the first key, number
/// of keys), in key order (`bits` in 1..=64).
///
/// ```
/// let keys = [0x10u64 << 56, (0x10 << 56) + 5, 0x20 << 56, 0xff << 56];
/// assert_eq!(leadsim::workload::prefix_groups(&keys, 8), vec![(0, 2), (2, 1), (3, 1)]);
/// ```
pub fn prefix_groups(keys: &[u64], bits: u32) -> Vec<(usize, usize)> {
    let shift = 64 - bits.clamp(1, 64);
    let mut groups = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let p = keys[i] >> shift;
        let end = i + keys[i..].partition_point(|&k| k >> shift == p);
        groups.push((i, end - i));
        i = end;
    }
    groups
}

/// Segments of the key array a hotspot workload ranks by popularity.
pub const HOT_SEGMENTS: usize = 1024;

/// Where data queries start (`workload.popularity`).
#[derive(Clone, Debug, PartialEq)]
pub enum Popularity {
    /// Every start equally likely.
    Uniform,
    /// Zipf over [`HOT_SEGMENTS`] segments: `cdf[i]` = probability of segments `0..=i` (in key
    /// order; the popularity ranks are a seeded permutation of the segments).
    Zipf {
        /// The exponent S.
        s: f64,
        /// Cumulative probability by segment.
        cdf: Vec<f64>,
    },
}

impl Popularity {
    /// Parses `uniform` or `zipf:S` (0 < S <= 10), over [`HOT_SEGMENTS`] segments.
    pub fn parse(spec: &str, seed: u64) -> Result<Popularity> {
        Self::parse_over(spec, seed, HOT_SEGMENTS)
    }

    /// [`Popularity::parse`] over `segments` segments (>= 1): drawing with a span of exactly
    /// `segments` then picks a segment's index.
    pub fn parse_over(spec: &str, seed: u64, segments: usize) -> Result<Popularity> {
        if spec == "uniform" {
            return Ok(Popularity::Uniform);
        }
        let s = spec
            .strip_prefix("zipf:")
            .and_then(|x| x.trim().parse::<f64>().ok())
            .filter(|s| *s > 0.0 && *s <= 10.0);
        let Some(s) = s else {
            bail!("workload.popularity = {spec:?}: expected \"uniform\" or \"zipf:S\" with 0 < S <= 10");
        };
        let mut rng = SimRng::stream(seed, "hotspot");
        let segments = segments.max(1);
        let mut order: Vec<usize> = (0..segments).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        // order[rank] = segment: rank r weighs 1 / (r + 1)^s.
        let mut w = vec![0.0; segments];
        for (rank, &seg) in order.iter().enumerate() {
            w[seg] = 1.0 / libm::pow(rank as f64 + 1.0, s);
        }
        let total: f64 = w.iter().sum();
        let mut acc = 0.0;
        let cdf = w
            .iter()
            .map(|x| {
                acc += x / total;
                acc
            })
            .collect();
        Ok(Popularity::Zipf { s, cdf })
    }

    /// Draws a start in `0..span` (span >= 1) from `rng`. `Uniform` draws exactly as a plain
    /// `below(span)`.
    pub fn draw(&self, rng: &mut SimRng, span: u64) -> u64 {
        match self {
            Popularity::Uniform => rng.below(span),
            Popularity::Zipf { cdf, .. } => {
                let u = rng.unit();
                let seg = cdf.partition_point(|&c| c <= u).min(cdf.len() - 1) as u64;
                let n = cdf.len() as u64;
                let lo = (u128::from(span) * u128::from(seg) / u128::from(n)) as u64;
                let hi = (u128::from(span) * u128::from(seg + 1) / u128::from(n)) as u64;
                lo + rng.below((hi - lo).max(1))
            }
        }
    }
}

#[cfg(test)]
mod popularity_tests {
    use super::*;

    #[test]
    fn zipf_concentrates_on_the_top_segment_as_the_exponent_says() {
        let p = Popularity::parse("zipf:1.0", 7).unwrap();
        let Popularity::Zipf { cdf, .. } = &p else {
            panic!("zipf expected")
        };
        let probs: Vec<f64> = (0..cdf.len())
            .map(|i| cdf[i] - if i == 0 { 0.0 } else { cdf[i - 1] })
            .collect();
        let top = probs.iter().cloned().fold(0.0, f64::max);
        // H(1024) = 7.5175: the top segment gets 1 / H.
        assert!((top - 1.0 / 7.5175).abs() < 1e-3, "top {top}");
        let mut rng = SimRng::stream(1, "t");
        let span = 1_000_000u64;
        let hot = probs.iter().position(|&x| x == top).unwrap() as u64;
        let (lo, hi) = (span * hot / 1024, span * (hot + 1) / 1024);
        let n = 200_000;
        let mut inside = 0;
        for _ in 0..n {
            let x = p.draw(&mut rng, span);
            assert!(x < span);
            inside += u32::from((lo..hi).contains(&x));
        }
        let share = f64::from(inside) / f64::from(n);
        assert!((share - top).abs() < 0.005, "hot share {share} vs {top}");
    }

    #[test]
    fn uniform_draws_like_below_and_bad_specs_are_refused() {
        let (mut a, mut b) = (SimRng::stream(3, "x"), SimRng::stream(3, "x"));
        for _ in 0..100 {
            assert_eq!(Popularity::Uniform.draw(&mut a, 977), b.below(977));
        }
        for bad in [
            "zipf", "zipf:0", "zipf:-1", "zipf:nan", "zipf:11", "pareto:1",
        ] {
            let e = Popularity::parse(bad, 1).unwrap_err().to_string();
            assert!(e.contains("workload.popularity"), "{bad}: {e}");
        }
        // Tiny spans stay in range.
        let p = Popularity::parse("zipf:2", 1).unwrap();
        let mut r = SimRng::stream(1, "y");
        for _ in 0..1000 {
            assert!(p.draw(&mut r, 3) < 3);
        }
    }
}
