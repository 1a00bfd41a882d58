//! Descriptive statistics with confidence intervals.

use crate::topology::stats::quantile_sorted;

/// Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// Summary of a sample: count, mean, standard deviation, median, p95 and the half-width of the
/// 95% confidence interval of the mean (Student's t for small samples, normal beyond 30).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    /// Sample size.
    pub n: usize,
    /// Mean (NaN when empty).
    pub mean: f64,
    /// Sample standard deviation (n - 1 denominator).
    pub sd: f64,
    /// Median.
    pub median: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Half-width of the 95% confidence interval of the mean.
    pub ci95: f64,
}

impl Summary {
    /// Summarises `values` (order irrelevant).
    pub fn of(values: &[f64]) -> Summary {
        let n = values.len();
        if n == 0 {
            return Summary {
                n: 0,
                mean: f64::NAN,
                sd: f64::NAN,
                median: f64::NAN,
                p95: f64::NAN,
                ci95: f64::NAN,
            };
        }
        let mut v = values.to_vec();
        v.sort_unstable_by(f64::total_cmp);
        let mean = v.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let t = if n <= 1 {
            f64::NAN
        } else if n - 1 <= 30 {
            T975[n - 2]
        } else {
            1.96
        };
        Summary {
            n,
            mean,
            sd,
            median: quantile_sorted(&v, 0.5),
            p95: quantile_sorted(&v, 0.95),
            ci95: t * sd / (n as f64).sqrt(),
        }
    }

    /// Coefficient of variation (sd / mean).
    pub fn cov(&self) -> f64 {
        self.sd / self.mean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let s = Summary::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.n, 8);
        assert!((s.mean - 5.0).abs() < 1e-12);
        assert!((s.sd - 2.138089935).abs() < 1e-6);
        assert!((s.median - 4.5).abs() < 1e-12);
        assert!((s.ci95 - 2.365 * s.sd / 8f64.sqrt()).abs() < 1e-9);
        assert!(Summary::of(&[]).mean.is_nan());
    }
}
