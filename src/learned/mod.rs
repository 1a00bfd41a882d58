//! Learned hash functions (LEAD §III-B): models that predict a key's position in the sorted key
//! array, turned into an order-preserving ring position (LearnedHASH).
//!
//! Every model is **monotone non-decreasing in the key by construction** (non-negative slopes,
//! predictions clamped to each leaf's or segment's position window), so a successor walk on the
//! ring can never miss a key. Sizes are the bytes the parameters occupy, comparable with SOSD's.

pub mod eval;
pub mod fit;
pub mod pgm;
pub mod radix_spline;
pub mod rmi;
pub mod scout;
pub mod spans;

use anyhow::{bail, Context, Result};

/// A trained model of the key → position mapping of a sorted key array of `n()` keys.
pub trait LearnedModel: Send + Sync {
    /// A short description (its configuration).
    fn name(&self) -> String;
    /// Number of keys it was trained for.
    fn n(&self) -> usize;
    /// Predicted position of `key`, in `[0, n - 1]`, non-decreasing in `key`.
    fn predict(&self, key: u64) -> f64;
    /// Bytes its parameters occupy.
    fn size_bytes(&self) -> usize;
}

/// The predicted position of `key` clamped to `[0, N - 1]` and truncated: the integer position
/// LearnedHASH scales onto the ring.
#[inline]
pub fn clamped_position(model: &dyn LearnedModel, key: u64) -> u64 {
    let n = model.n().max(1) as u64;
    model.predict(key).clamp(0.0, (n - 1) as f64) as u64
}

/// LearnedHASH: the predicted position scaled onto the 64-bit ring (`pos x floor(2^64 / N)`).
#[inline]
pub fn ring_position(model: &dyn LearnedModel, key: u64) -> u64 {
    let n = model.n().max(1) as u64;
    clamped_position(model, key).wrapping_mul(u64::MAX / n)
}

/// A model configuration, as written on the command line or in a manifest.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelSpec {
    /// Two-stage RMI: root, leaf family, branching factor.
    Rmi {
        root: rmi::Root,
        leaf: rmi::LeafKind,
        branching: usize,
    },
    /// RadixSpline: spline error bound and radix bits.
    RadixSpline { epsilon: usize, radix_bits: u32 },
    /// PGM-index: error bound of every level.
    Pgm { epsilon: usize },
    /// Model-Scout picks one on a 1% sample under a size budget (bytes).
    Auto { budget: usize },
}

impl ModelSpec {
    /// Parses `rmi:ROOT,LEAF,B` (roots `linear`, `robust-linear`, `cubic`, `radixN`; leaves
    /// `linear`, `linear-spline`, `cubic`), `rs:EPS,BITS`, `pgm:EPS`, `auto[:BUDGET_BYTES]`, or the
    /// Table I shorthands `linear`, `radix`, `cubic`.
    pub fn parse(s: &str) -> Result<ModelSpec> {
        let s = s.trim();
        let (kind, args) = s.split_once(':').unwrap_or((s, ""));
        let parts: Vec<&str> = if args.is_empty() {
            Vec::new()
        } else {
            args.split(',').map(str::trim).collect()
        };
        let num = |x: &str, what: &str| -> Result<usize> {
            x.replace('_', "")
                .parse::<usize>()
                .with_context(|| format!("model '{s}': {what} '{x}' is not a number"))
        };
        Ok(match (kind, parts.as_slice()) {
            // Table I: the SOSD configurations of the paper's three sizes.
            ("linear", []) => ModelSpec::Rmi { root: rmi::Root::RobustLinear, leaf: rmi::LeafKind::Linear, branching: 32_768 },
            ("radix", []) => ModelSpec::Rmi { root: rmi::Root::Radix(18), leaf: rmi::LeafKind::Linear, branching: 32_768 },
            ("cubic", []) => ModelSpec::Rmi { root: rmi::Root::Cubic, leaf: rmi::LeafKind::Linear, branching: 524_288 },
            ("rmi", [root, leaf, b]) => {
                let branching = num(b, "branching factor")?;
                if branching == 0 || branching > 1 << 24 {
                    bail!("model '{s}': branching factor must be in 1..=2^24, got {branching}");
                }
                ModelSpec::Rmi { root: rmi::Root::parse(root)?, leaf: rmi::LeafKind::parse(leaf)?, branching }
            }
            ("rs", [eps, bits]) => {
                let radix_bits = num(bits, "radix bits")? as u32;
                if radix_bits == 0 || radix_bits > 28 {
                    bail!("model '{s}': radix bits must be in 1..=28");
                }
                ModelSpec::RadixSpline { epsilon: num(eps, "error bound")?.max(1), radix_bits }
            }
            ("pgm", [eps]) => ModelSpec::Pgm { epsilon: num(eps, "error bound")?.max(1) },
            ("auto", []) => ModelSpec::Auto { budget: 12 << 20 },
            ("auto", [b]) => ModelSpec::Auto { budget: num(b, "size budget")? },
            _ => bail!(
                "unknown model '{s}': use rmi:ROOT,LEAF,B (e.g. rmi:cubic,linear,524288), rs:EPS,BITS, pgm:EPS, \
                 auto[:BUDGET], or linear / radix / cubic (Table I)"
            ),
        })
    }

    /// Trains the model on sorted `keys` (Model-Scout first, for `auto`).
    pub fn train(&self, keys: &[u64]) -> Result<Box<dyn LearnedModel>> {
        if keys.is_empty() {
            bail!("cannot train a model on an empty key set");
        }
        Ok(match *self {
            ModelSpec::Rmi {
                root,
                leaf,
                branching,
            } => Box::new(rmi::Rmi::train(keys, root, leaf, branching)),
            ModelSpec::RadixSpline {
                epsilon,
                radix_bits,
            } => Box::new(radix_spline::RadixSpline::train(keys, epsilon, radix_bits)),
            ModelSpec::Pgm { epsilon } => Box::new(pgm::Pgm::train(keys, epsilon)),
            ModelSpec::Auto { budget } => {
                let choice = scout::scout(keys, budget)?;
                choice.spec.train(keys)?
            }
        })
    }
}
