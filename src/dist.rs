//! Lifetime / downtime distributions given by their mean, with bit-identical sampling.
//!
//! Sampling uses only [`SimRng`] and `libm` (a pure-Rust math library), never `std`'s platform
//! `ln`/`powf` nor `rand_distr` (whose float math silently switches between `libm` and `std`
//! depending on other crates' features). The formulas follow the authors' simulator:
//! uniform = mean x U[0.1, 1.9]; exponential = -mean x ln(1 - u); Pareto = scale / (1 - u)^(1/alpha).

use crate::rng::SimRng;
use serde::{Deserialize, Serialize};

/// A positive random duration distribution (values in seconds).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Dist {
    /// Always the same value.
    Constant { value: f64 },
    /// `mean x U[0.1, 1.9]` (the paper's "uniform" churn).
    Uniform { mean: f64 },
    /// Exponential with the given mean.
    Exponential { mean: f64 },
    /// Pareto with shape `alpha` and scale (minimum) `scale`.
    Pareto { alpha: f64, scale: f64 },
}

impl Dist {
    /// Builds a Pareto distribution from its mean, which exists only for `alpha > 1`:
    /// scale = mean x (alpha - 1) / alpha.
    pub fn pareto_with_mean(alpha: f64, mean: f64) -> Result<Dist, String> {
        if !(alpha.is_finite() && alpha > 1.0) {
            return Err(format!(
                "Pareto shape alpha = {alpha} has no finite mean (the mean of a Pareto law exists only \
                 for alpha > 1); give alpha > 1 with a mean, or give an explicit `scale` instead of a mean"
            ));
        }
        check_positive("mean", mean)?;
        Ok(Dist::Pareto {
            alpha,
            scale: mean * (alpha - 1.0) / alpha,
        })
    }

    /// Checks the parameters, explaining what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Dist::Constant { value } => check_positive("value", value),
            Dist::Uniform { mean } | Dist::Exponential { mean } => check_positive("mean", mean),
            Dist::Pareto { alpha, scale } => {
                check_positive("scale", scale)?;
                if !(alpha.is_finite() && alpha > 0.0) {
                    return Err(format!("Pareto shape alpha must be > 0, got {alpha}"));
                }
                Ok(())
            }
        }
    }

    /// The distribution mean (infinite for Pareto with alpha <= 1).
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Constant { value } => value,
            Dist::Uniform { mean } | Dist::Exponential { mean } => mean,
            Dist::Pareto { alpha, scale } => {
                if alpha > 1.0 {
                    scale * alpha / (alpha - 1.0)
                } else {
                    f64::INFINITY
                }
            }
        }
    }

    /// The median (what a typical period lasts, also for heavy tails).
    pub fn median(&self) -> f64 {
        match *self {
            Dist::Constant { value } => value,
            Dist::Uniform { mean } => mean,
            Dist::Exponential { mean } => mean * std::f64::consts::LN_2,
            Dist::Pareto { alpha, scale } => scale * libm::pow(2.0, 1.0 / alpha),
        }
    }

    /// One sample.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        match *self {
            Dist::Constant { value } => value,
            Dist::Uniform { mean } => mean * (0.1 + 1.8 * rng.unit()),
            Dist::Exponential { mean } => -mean * libm::log(rng.unit_open0()),
            Dist::Pareto { alpha, scale } => scale * libm::pow(rng.unit_open0(), -1.0 / alpha),
        }
    }
}

fn check_positive(what: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(format!("{what} must be a positive finite number, got {v}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(d: Dist, n: usize) -> (f64, f64) {
        let mut r = SimRng::from_seed(11);
        let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut r)).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        (m, v)
    }

    #[test]
    fn uniform_mean_and_variance() {
        let (m, v) = moments(Dist::Uniform { mean: 80.0 }, 200_000);
        assert!((m - 80.0).abs() < 0.5, "{m}");
        let want = (1.8f64 * 80.0).powi(2) / 12.0;
        assert!((v - want).abs() / want < 0.02, "{v} vs {want}");
    }

    #[test]
    fn exponential_mean_and_variance() {
        let (m, v) = moments(Dist::Exponential { mean: 10.0 }, 400_000);
        assert!((m - 10.0).abs() < 0.1, "{m}");
        assert!((v - 100.0).abs() < 3.0, "{v}");
    }

    #[test]
    fn pareto_mean_from_mean() {
        let d = Dist::pareto_with_mean(3.0, 30.0).unwrap();
        assert!((d.mean() - 30.0).abs() < 1e-9);
        let (m, _) = moments(d, 400_000);
        assert!((m - 30.0).abs() < 0.3, "{m}");
        // Minimum of the support is the scale.
        let mut r = SimRng::from_seed(5);
        assert!((0..10_000).all(|_| d.sample(&mut r) >= 20.0));
    }

    #[test]
    fn pareto_without_finite_mean_is_rejected_with_reason() {
        let e = Dist::pareto_with_mean(1.0, 30.0).unwrap_err();
        assert!(e.contains("alpha > 1"), "{e}");
        assert!(Dist::pareto_with_mean(0.5, 30.0).is_err());
        // An explicit scale with alpha = 1 (the authors' setting) is allowed.
        assert!(Dist::Pareto {
            alpha: 1.0,
            scale: 1800.0
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn samples_are_bit_identical_golden() {
        let mut r = SimRng::from_seed(2025);
        let got: Vec<u64> = [
            Dist::Uniform { mean: 4800.0 },
            Dist::Exponential { mean: 600.0 },
            Dist::Pareto {
                alpha: 1.5,
                scale: 100.0,
            },
        ]
        .iter()
        .map(|d| d.sample(&mut r).to_bits())
        .collect();
        assert_eq!(got, GOLDEN.to_vec(), "sampler bits changed: {got:?}");
    }
    const GOLDEN: [u64; 3] = [
        4664789116587799601,
        4650493677856428844,
        4643407218535377151,
    ];

    #[test]
    fn matches_rand_distr_in_distribution() {
        // Cross-check against rand_distr's exponential: same mean within sampling error.
        use rand::SeedableRng;
        use rand_distr::Distribution;
        let mut theirs = rand::rngs::SmallRng::seed_from_u64(1);
        let e = rand_distr::Exp::new(1.0 / 10.0).unwrap();
        let n = 200_000;
        let m_theirs: f64 = (0..n).map(|_| e.sample(&mut theirs)).sum::<f64>() / n as f64;
        let (m_ours, _) = moments(Dist::Exponential { mean: 10.0 }, n);
        assert!((m_theirs - m_ours).abs() < 0.15, "{m_theirs} vs {m_ours}");
    }
}
