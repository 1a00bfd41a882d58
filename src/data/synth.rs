//! Deterministic synthetic datasets, generated sorted, in parallel, without a sort.
//!
//! The quantile range [0, 1) is cut into fixed strata of [`CHUNK`] keys (the cut depends only on
//! N, never on the thread count). Each stratum draws its own sorted uniforms from its own RNG
//! substream (normalised exponential spacings) and maps them through a monotone shape
//! ([`super::shapes`]), so the keys come out sorted and the bytes do not depend on scheduling.
//! (Stratification makes per-stratum counts exact rather than multinomial — irrelevant for
//! learned-index difficulty and documented in `datasets/README.md`.)

use super::shapes::{probit_fast as probit, sat_u64, Cascade, CascadeCursor, Timeline};
use crate::rng::SimRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Keys per stratum (and per parallel task).
pub const CHUNK: usize = 1 << 20;

/// Bumped whenever a generator's output changes, so stale cache files are never reused.
pub const GENERATOR_VERSION: u32 = 2;

/// The synthetic dataset families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SynthName {
    /// Uniform over the whole u64 range.
    Uniform,
    /// Normal around 2^63 with sigma 2^60.
    Normal,
    /// Log-normal(0, 2) x 10^9 (SOSD's lognormal recipe).
    Lognormal,
    /// S2-cell-id-like OpenStreetMap keys: six faces, extremely clustered (hardest).
    #[serde(rename = "osmc64-like")]
    Osmc64Like,
    /// Facebook-user-id-like: unique, bulk on [0, 7.7e10], a few dozen huge outliers.
    #[serde(rename = "face64-like")]
    Face64Like,
    /// Amazon-book-popularity-like: smooth heavy tail with duplicates (easiest).
    #[serde(rename = "amzn64-like")]
    Amzn64Like,
    /// Wikipedia-edit-timestamp-like: seconds over 17 years, cycles, many duplicates.
    #[serde(rename = "wiki64-like")]
    Wiki64Like,
    /// Two uniform `u32` attributes, as sorted 2-D Hilbert indices ([`super::points`]).
    #[serde(rename = "points-uniform")]
    PointsUniform,
    /// Longitude / latitude-like clustered points, as sorted 2-D Hilbert indices.
    #[serde(rename = "points-osm-like")]
    PointsOsmLike,
    /// KV-cache block keys (document, layer-head, block) of Fig 15 ([`super::kvcache`]).
    #[serde(rename = "kvcache-like")]
    KvCacheLike,
}

impl SynthName {
    /// All names, for help texts and errors.
    pub const ALL: [SynthName; 10] = [
        SynthName::Uniform,
        SynthName::Normal,
        SynthName::Lognormal,
        SynthName::Osmc64Like,
        SynthName::Face64Like,
        SynthName::Amzn64Like,
        SynthName::Wiki64Like,
        SynthName::PointsUniform,
        SynthName::PointsOsmLike,
        SynthName::KvCacheLike,
    ];

    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SynthName::Uniform => "uniform",
            SynthName::Normal => "normal",
            SynthName::Lognormal => "lognormal",
            SynthName::Osmc64Like => "osmc64-like",
            SynthName::Face64Like => "face64-like",
            SynthName::Amzn64Like => "amzn64-like",
            SynthName::Wiki64Like => "wiki64-like",
            SynthName::PointsUniform => "points-uniform",
            SynthName::PointsOsmLike => "points-osm-like",
            SynthName::KvCacheLike => "kvcache-like",
        }
    }

    /// Whether the keys are 2-D points (sorted curve indices of two `u32` attributes).
    pub fn is_points(self) -> bool {
        matches!(self, SynthName::PointsUniform | SynthName::PointsOsmLike)
    }

    /// Parses a manifest or command-line name.
    pub fn parse(s: &str) -> Option<SynthName> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

/// Share of OSM keys per S2 face (coarse CDF 0.07, 0.26, 0.50, 0.75, 0.93, 1.0 at 1..6 x 2^61).
const OSM_FACE_SHARE: [f64; 6] = [0.07, 0.19, 0.24, 0.25, 0.18, 0.07];
/// Quadtree levels of the OSM cascade (S2 leaf cells are at level 30).
const OSM_DEPTH: usize = 22;
/// Number of extreme outliers in face64-like.
const FACE_OUTLIERS: u64 = 40;
/// Upper end of face64-like's bulk.
const FACE_BULK_MAX: f64 = 7.7e10;

enum Shape {
    Uniform,
    Normal,
    Lognormal,
    Osm([Cascade; 6]),
    Face(Cascade),
    Amzn,
    Wiki(Timeline),
}

#[derive(Default)]
struct Cursor {
    face: usize,
    cascade: CascadeCursor,
    hour: usize,
}

impl Shape {
    fn new(name: SynthName, seed: u64) -> Shape {
        let key = SimRng::stream(seed, name.as_str()).next_u64();
        match name {
            SynthName::Uniform => Shape::Uniform,
            SynthName::Normal => Shape::Normal,
            SynthName::Lognormal => Shape::Lognormal,
            SynthName::Osmc64Like => Shape::Osm(std::array::from_fn(|f| Cascade {
                seed: crate::rng::mix2(key, f as u64),
                depth: OSM_DEPTH,
                p_empty: 0.35,
                sigma: 1.6,
            })),
            SynthName::Face64Like => Shape::Face(Cascade {
                seed: key,
                depth: 12,
                p_empty: 0.0,
                sigma: 0.55,
            }),
            SynthName::Amzn64Like => Shape::Amzn,
            SynthName::Wiki64Like => Shape::Wiki(Timeline::new(key)),
            // Points and KV blocks have their own generators, never a 1-D shape.
            SynthName::PointsUniform | SynthName::PointsOsmLike | SynthName::KvCacheLike => {
                Shape::Uniform
            }
        }
    }

    #[inline]
    fn key(&self, u: f64, index: u64, n: u64, cur: &mut Cursor) -> u64 {
        match self {
            Shape::Uniform => sat_u64(u * 18_446_744_073_709_551_616.0),
            Shape::Normal => {
                sat_u64(9_223_372_036_854_775_808.0 + probit(u) * 1_152_921_504_606_846_976.0)
            }
            Shape::Lognormal => sat_u64(libm::exp(2.0 * probit(u)) * 1e9),
            Shape::Osm(faces) => {
                let mut acc = 0.0;
                let mut face = 5;
                let mut base = 0.0;
                for (f, &s) in OSM_FACE_SHARE.iter().enumerate() {
                    if u < acc + s || f == 5 {
                        face = f;
                        base = acc;
                        break;
                    }
                    acc += s;
                }
                if cur.face != face {
                    cur.face = face;
                    cur.cascade = CascadeCursor::default();
                }
                let v = ((u - base) / OSM_FACE_SHARE[face]).clamp(0.0, 1.0 - f64::EPSILON);
                let (cell, frac) = faces[face].locate(v, &mut cur.cascade);
                // S2 leaf position: 60 bits; the cascade fixes the top 2 x depth bits.
                let low_bits = 60 - 2 * OSM_DEPTH as u32;
                let pos = (cell << low_bits) | (frac * (1u64 << low_bits) as f64) as u64;
                ((face as u64) << 61) | (pos << 1) | 1
            }
            Shape::Face(c) => {
                if n > 10 * FACE_OUTLIERS && index >= n - FACE_OUTLIERS {
                    // Log-uniform ladder of outliers from 1e11 up to ~1.8e19.
                    let j = (index - (n - FACE_OUTLIERS) + 1) as f64 / FACE_OUTLIERS as f64;
                    return sat_u64(1e11 * libm::pow(1.8e19 / 1e11, j));
                }
                let (cell, frac) = c.locate(u, &mut cur.cascade);
                let x = (cell as f64 + frac) / (1u64 << (2 * c.depth)) as f64;
                // "+ index" keeps ids unique (strictly increasing).
                sat_u64(x * (FACE_BULK_MAX - n as f64)) + index
            }
            Shape::Amzn => sat_u64(libm::exp(19.1 + 1.1 * probit(u))),
            Shape::Wiki(t) => t.at(u, &mut cur.hour),
        }
    }
}

/// Generates `n` sorted keys of dataset `name` from `seed` (parallel; thread-count independent).
pub fn generate(name: SynthName, n: usize, seed: u64) -> Vec<u64> {
    match name {
        SynthName::PointsUniform => {
            return super::points::generate(super::points::PointShape::Uniform, n, seed)
        }
        SynthName::PointsOsmLike => {
            return super::points::generate(super::points::PointShape::OsmLike, n, seed)
        }
        SynthName::KvCacheLike => return super::kvcache::generate(n, seed),
        _ => {}
    }
    let shape = Shape::new(name, seed);
    let mut keys = vec![0u64; n];
    let stream = format!("dataset:{}", name.as_str());
    keys.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
        let start = c * CHUNK;
        let (a, b) = (
            start as f64 / n as f64,
            (start + out.len()) as f64 / n as f64,
        );
        let mut rng = SimRng::substream(seed, &stream, c as u64);
        // Pass 1: cumulative exponential spacings (stored as f64 bits in place).
        let mut s = 0.0f64;
        for slot in out.iter_mut() {
            s += -libm::log(rng.unit_open0());
            *slot = s.to_bits();
        }
        let total = s - libm::log(rng.unit_open0());
        // Pass 2: sorted uniforms in [a, b) -> keys.
        let mut cur = Cursor::default();
        for (i, slot) in out.iter_mut().enumerate() {
            let u = a + (b - a) * (f64::from_bits(*slot) / total);
            *slot = shape.key(u.min(b), (start + i) as u64, n as u64, &mut cur);
        }
    });
    // Safety net: float rounding at stratum or shape-branch boundaries could, in principle, put a
    // key one ulp below its predecessor; clamp to keep the array sorted (a cheap sequential pass).
    let mut fixed = 0usize;
    for i in 1..keys.len() {
        if keys[i] < keys[i - 1] {
            keys[i] = keys[i - 1];
            fixed += 1;
        }
    }
    debug_assert!(
        fixed <= n / 1_000_000 + 1,
        "{name:?}: {fixed} keys out of order"
    );
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sosd::first_unsorted;

    #[test]
    fn every_generator_is_sorted_and_deterministic() {
        for name in SynthName::ALL {
            let a = generate(name, 300_000, 7);
            assert_eq!(first_unsorted(&a), None, "{name:?} unsorted");
            let b = generate(name, 300_000, 7);
            assert!(a == b, "{name:?} not deterministic");
            assert_ne!(a, generate(name, 300_000, 8), "{name:?} ignores the seed");
        }
    }

    #[test]
    fn thread_count_does_not_change_bytes() {
        let n = 3 * CHUNK + 123;
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let a = one.install(|| generate(SynthName::Osmc64Like, n, 1));
        let b = two.install(|| generate(SynthName::Osmc64Like, n, 1));
        assert!(a == b);
    }

    #[test]
    fn osm_like_has_the_s2_face_cdf() {
        let k = generate(SynthName::Osmc64Like, 400_000, 3);
        let n = k.len() as f64;
        let want = [0.07, 0.26, 0.50, 0.75, 0.93, 1.0];
        for (f, w) in want.iter().enumerate() {
            let bound = ((f as u64) + 1) << 61;
            let share = k.partition_point(|&x| x < bound) as f64 / n;
            assert!((share - w).abs() < 0.005, "face {f}: {share} vs {w}");
        }
        assert!(*k.last().unwrap() < 6u64 << 61);
    }

    #[test]
    fn face_like_is_unique_with_outliers() {
        let k = generate(SynthName::Face64Like, 500_000, 3);
        assert!(
            k.windows(2).all(|w| w[0] < w[1]),
            "face64-like must be unique"
        );
        let bulk = k.iter().filter(|&&x| x <= 7.7e10 as u64).count();
        assert_eq!(bulk, k.len() - FACE_OUTLIERS as usize);
        assert!(*k.last().unwrap() > 1.7e19 as u64);
    }

    #[test]
    fn wiki_like_spans_17_years_with_duplicates() {
        let k = generate(SynthName::Wiki64Like, 2_000_000, 3);
        let span_years = (k[k.len() - 1] - k[0]) as f64 / (365.25 * 86400.0);
        assert!((16.0..17.01).contains(&span_years), "{span_years}");
        let dups = k.windows(2).filter(|w| w[0] == w[1]).count();
        assert!(dups > 0);
        // Density grows: the last year holds far more keys than the first.
        let year = 365 * 86400;
        let first = k.partition_point(|&x| x < k[0] + year);
        let last = k.len() - k.partition_point(|&x| x < k[k.len() - 1] - year);
        assert!(last > 10 * first, "first {first} last {last}");
    }
}
