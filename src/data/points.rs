//! Two-attribute datasets for multi-attribute range queries: points with two `u32` attributes,
//! stored as their sorted 2-D Hilbert indices (32 bits per attribute, 64 bits in total), so every
//! system sees a sorted `u64` key array and a point is its index decoded
//! ([`crate::curve::Space::decode`]).
//!
//! - `points-uniform`: both attributes uniform.
//! - `points-osm-like`: longitude / latitude-like: 4,096 "cities" whose sizes follow Zipf(1.0),
//!   placed in four continental blobs (Gaussian around fixed centres), each a Gaussian cloud whose
//!   width grows with its size, plus 10% scattered over the blobs (roads, villages); nothing in the
//!   "oceans". Extremely clustered, like OpenStreetMap nodes.
//!
//! Deterministic: point i is drawn from the substream of its chunk, then the indices are sorted.

use crate::curve::{Curve, Space};
use crate::rng::SimRng;
use rayon::prelude::*;

/// Points per generation chunk (and per RNG substream).
const CHUNK: usize = 1 << 20;
/// Cities of `points-osm-like`.
const CITIES: usize = 4096;
/// Continental blobs: centre (x, y) and spread, in units of the attribute range.
const BLOBS: [(f64, f64, f64); 4] = [
    (0.25, 0.62, 0.08),
    (0.52, 0.70, 0.06),
    (0.75, 0.58, 0.10),
    (0.30, 0.30, 0.05),
];

/// The curve space of the point datasets: two attributes of 32 bits, Hilbert order.
pub fn space() -> (Space, Curve) {
    (Space::new(2, 32).expect("2 x 32 bits fit"), Curve::Hilbert)
}

/// Which point distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointShape {
    /// Uniform over the square.
    Uniform,
    /// Clustered like OpenStreetMap nodes.
    OsmLike,
}

fn normal(rng: &mut SimRng) -> f64 {
    // Box-Muller, one value.
    let u = rng.unit_open0();
    let v = rng.unit_open0();
    (-2.0 * libm::log(u)).sqrt() * libm::cos(std::f64::consts::TAU * v)
}

fn to_u32(x: f64) -> u32 {
    (x.clamp(0.0, 1.0) * f64::from(u32::MAX)) as u32
}

struct Cities {
    /// Cumulative weights (Zipf 1.0), normalised.
    cdf: Vec<f64>,
    /// Centre and width of each city.
    at: Vec<(f64, f64, f64)>,
}

impl Cities {
    fn new(seed: u64) -> Cities {
        let mut rng = SimRng::stream(seed, "points:cities");
        let mut cdf = Vec::with_capacity(CITIES);
        let mut s = 0.0;
        for i in 0..CITIES {
            s += 1.0 / (i + 1) as f64;
            cdf.push(s);
        }
        cdf.iter_mut().for_each(|c| *c /= s);
        let at = (0..CITIES)
            .map(|i| {
                let (bx, by, bs) = BLOBS[rng.below(BLOBS.len() as u64) as usize];
                let x = bx + bs * normal(&mut rng);
                let y = by + bs * normal(&mut rng);
                // Big cities are wider: width ~ sqrt(weight).
                let w = 2e-3 * (CITIES as f64 / (i + 1) as f64).sqrt().min(30.0) / 10.0;
                (x, y, w)
            })
            .collect();
        Cities { cdf, at }
    }
}

/// `n` points of `shape` as sorted Hilbert indices.
pub fn generate(shape: PointShape, n: usize, seed: u64) -> Vec<u64> {
    let (space, curve) = space();
    let cities = Cities::new(seed);
    let mut keys = vec![0u64; n];
    keys.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
        let mut rng = SimRng::substream(seed, "points", c as u64);
        for slot in out.iter_mut() {
            let (x, y) = match shape {
                PointShape::Uniform => (rng.next_u64() as u32, rng.next_u64() as u32),
                PointShape::OsmLike => {
                    if rng.unit_open0() < 0.1 {
                        let (bx, by, bs) = BLOBS[rng.below(BLOBS.len() as u64) as usize];
                        (
                            to_u32(bx + 1.5 * bs * normal(&mut rng)),
                            to_u32(by + 1.5 * bs * normal(&mut rng)),
                        )
                    } else {
                        let u = rng.unit_open0();
                        let i = cities.cdf.partition_point(|&p| p < u).min(CITIES - 1);
                        let (cx, cy, w) = cities.at[i];
                        (
                            to_u32(cx + w * normal(&mut rng)),
                            to_u32(cy + w * normal(&mut rng)),
                        )
                    }
                }
            };
            *slot = space.encode(curve, &[x, y]);
        }
    });
    keys.par_sort_unstable();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_sorted_indices_that_decode_to_the_drawn_distribution() {
        let (space, curve) = space();
        for shape in [PointShape::Uniform, PointShape::OsmLike] {
            let k = generate(shape, 50_000, 3);
            assert!(k.windows(2).all(|w| w[0] <= w[1]));
            assert_eq!(k, generate(shape, 50_000, 3), "deterministic");
            // Share of points in the left half of the x range.
            let left = k
                .iter()
                .filter(|&&i| {
                    let mut p = [0u32; 2];
                    space.decode(curve, i, &mut p);
                    p[0] < 1 << 31
                })
                .count() as f64
                / k.len() as f64;
            match shape {
                PointShape::Uniform => assert!((left - 0.5).abs() < 0.01, "{left}"),
                PointShape::OsmLike => assert!((left - 0.5).abs() > 0.01, "{left}"),
            }
        }
        // Clustered: the osm-like points occupy far fewer grid cells than uniform ones.
        let occupied = |shape| {
            let mut cells: Vec<u64> = generate(shape, 50_000, 3)
                .iter()
                .map(|&i| {
                    let mut p = [0u32; 2];
                    space.decode(curve, i, &mut p);
                    (u64::from(p[0] >> 24) << 8) | u64::from(p[1] >> 24)
                })
                .collect();
            cells.sort_unstable();
            cells.dedup();
            cells.len()
        };
        let (u, o) = (occupied(PointShape::Uniform), occupied(PointShape::OsmLike));
        assert!(
            o * 3 < u,
            "occupied 256x256 cells: osm-like {o}, uniform {u}"
        );
    }
}
