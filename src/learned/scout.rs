//! Model-Scout (LEAD §III-E3): on a 1% sample (every 100th key), train candidate families and
//! keep the one with the lowest estimated p99 error whose full-size model fits the size budget
//! (smaller size breaks ties). Sample errors are in sample positions; multiplying by the sampling
//! step estimates full-data errors, and RMI branching factors are scaled down by the same step so
//! that each leaf sees the same share of the data as it will at full size.

use super::rmi::{LeafKind, Root};
use super::{eval::p99_error, ModelSpec};
use anyhow::{bail, Result};

/// Sampling step (1%).
pub const STEP: usize = 100;

/// One candidate's estimate.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Configuration (at full size).
    pub spec: ModelSpec,
    /// Estimated bytes at full size.
    pub size_bytes: usize,
    /// Estimated p99 absolute error at full size (positions).
    pub p99_error: f64,
}

/// The candidate configurations: RMI roots x leaves x branching factors, RadixSpline, PGM.
pub fn candidates() -> Vec<ModelSpec> {
    let mut v = Vec::new();
    for root in [Root::RobustLinear, Root::Cubic, Root::Radix(18)] {
        for leaf in [LeafKind::Linear, LeafKind::LinearSpline, LeafKind::Cubic] {
            for b in [1 << 12, 1 << 15, 1 << 17, 1 << 19] {
                v.push(ModelSpec::Rmi {
                    root,
                    leaf,
                    branching: b,
                });
            }
        }
    }
    for epsilon in [32, 128, 512] {
        v.push(ModelSpec::RadixSpline {
            epsilon,
            radix_bits: 18,
        });
        v.push(ModelSpec::Pgm { epsilon });
    }
    v
}

/// Runs the scout on sorted `keys`; returns the winner (and fails if nothing fits the budget).
pub fn scout(keys: &[u64], budget: usize) -> Result<Candidate> {
    let sample: Vec<u64> = keys.iter().step_by(STEP).copied().collect();
    let mut best: Option<Candidate> = None;
    for spec in candidates() {
        let (trained_spec, size_estimate) = match spec {
            ModelSpec::Rmi {
                root,
                leaf,
                branching,
            } => {
                let scaled = (branching / STEP).max(1);
                let leaf_bytes = if leaf == LeafKind::Cubic {
                    super::fit::FixedCubic::BYTES + 8
                } else {
                    24
                };
                let root_bytes = match root {
                    Root::Radix(b) => 4 * ((1usize << b) + 1) + 8,
                    Root::Cubic => super::fit::FixedCubic::BYTES,
                    _ => 16,
                };
                (
                    ModelSpec::Rmi {
                        root,
                        leaf,
                        branching: scaled,
                    },
                    root_bytes + leaf_bytes * branching,
                )
            }
            // Spline and PGM sizes grow with the data: estimate from the sample's knot count
            // scaled by the step (an upper bound: error windows are the same in positions).
            _ => (spec.clone(), 0),
        };
        let model = trained_spec.train(&sample)?;
        let size = if size_estimate > 0 {
            size_estimate
        } else {
            model.size_bytes() * STEP
        };
        if size > budget {
            continue;
        }
        let p99 = p99_error(model.as_ref(), &sample) * STEP as f64;
        let c = Candidate {
            spec,
            size_bytes: size,
            p99_error: p99,
        };
        let better = match &best {
            None => true,
            Some(b) => {
                c.p99_error < b.p99_error
                    || (c.p99_error == b.p99_error && c.size_bytes < b.size_bytes)
            }
        };
        if better {
            best = Some(c);
        }
    }
    match best {
        Some(b) => Ok(b),
        None => bail!("Model-Scout: no candidate fits the size budget of {budget} bytes"),
    }
}
