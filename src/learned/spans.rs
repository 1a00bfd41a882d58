//! How far a range of `n` consecutive keys spreads on the ring under a learned hash
//! (`leadsim model spans`).
//!
//! LEAD serves a range by a successor walk from the owner of the first key to the owner of the
//! last: the walk visits every virtual peer whose VID falls inside the arc between the two keys'
//! ring positions. An exact order-preserving hash puts `n` keys on `n - 1` positions' worth of arc
//! (`(n - 1) / N` of the ring for `N` keys); a learned hash compresses most ranges (keys a leaf
//! clamps onto its window share a position) and stretches a few across the jumps between leaves
//! that its errors leave. The peers a walk crosses are about the arc's share of the ring times
//! the number of peers, so the stretched tail grows with the ring: the same range that crosses
//! one peer at 4,900 peers crosses hundreds at 10^6.

use super::eval::Hist;
use super::{clamped_position, LearnedModel};
use anyhow::{bail, Result};
use rayon::prelude::*;

/// The distribution, over every window of `range` consecutive keys, of the arc the window spans,
/// measured in key positions (clamped predicted position of its last key minus that of its
/// first).
pub struct RangeSpans {
    /// Keys the model was trained on.
    pub keys: usize,
    /// Keys per range.
    pub range: usize,
    /// Windows measured (`keys - range + 1`).
    pub windows: u64,
    /// The mean span (positions).
    pub mean: f64,
    /// The largest span (positions).
    pub max: u64,
    /// For each limit given, the windows whose span exceeds it.
    pub over: Vec<u64>,
    hist: Hist,
}

impl RangeSpans {
    /// The `q`-quantile of the span in positions (exact below 4,096, within 1.1% above).
    pub fn quantile(&self, q: f64) -> f64 {
        self.hist.quantile(q)
    }

    /// Virtual peers expected inside an arc of `positions` on a ring of `peers` peers with
    /// uniformly spread VIDs (the arc's share of the ring times the peers).
    pub fn peers_in(&self, positions: f64, peers: usize) -> f64 {
        positions * peers as f64 / self.keys.max(1) as f64
    }

    /// The span (positions) above which an arc holds more than `p` peers in expectation on a
    /// ring of `peers` peers: the limit to pass [`range_spans`] for that question.
    pub fn limit_for(keys: usize, p: f64, peers: usize) -> f64 {
        p * keys as f64 / peers.max(1) as f64
    }
}

/// Measures the span of every window of `range` consecutive keys of the sorted `keys` under
/// `model`, and counts the windows whose span exceeds each of `limits` (positions). Parallel over
/// fixed chunks; the result does not depend on the thread count.
///
/// ```
/// use leadsim::learned::{spans::range_spans, ModelSpec};
/// let keys: Vec<u64> = (0..10_000u64).map(|k| k * 7).collect();
/// let model = ModelSpec::parse("rmi:linear,linear,16").unwrap().train(&keys).unwrap();
/// let s = range_spans(model.as_ref(), &keys, 100, &[1_000.0]).unwrap();
/// assert_eq!(s.windows, 9_901);
/// // Evenly spaced keys are learnt exactly: every window spans 99 positions.
/// assert!((s.mean - 99.0).abs() < 1.0);
/// assert_eq!(s.over, vec![0]);
/// ```
pub fn range_spans(
    model: &dyn LearnedModel,
    keys: &[u64],
    range: usize,
    limits: &[f64],
) -> Result<RangeSpans> {
    if range == 0 || range > keys.len() {
        bail!(
            "a range of {range} keys does not fit in {} keys (1..={})",
            keys.len(),
            keys.len()
        );
    }
    if model.n() != keys.len() {
        bail!(
            "the model was trained on {} keys, not these {}",
            model.n(),
            keys.len()
        );
    }
    const CHUNK: usize = 1 << 20;
    let windows = keys.len() - range + 1;
    let part = |c: usize| {
        let s = c * CHUNK;
        let e = (s + CHUNK).min(windows);
        // Positions of every key the chunk's windows touch, computed once.
        let pos: Vec<u64> = keys[s..e + range - 1]
            .iter()
            .map(|&k| clamped_position(model, k))
            .collect();
        let mut h = Hist::new();
        let (mut sum, mut max) = (0u128, 0u64);
        let mut over = vec![0u64; limits.len()];
        for i in 0..e - s {
            let span = pos[i + range - 1].saturating_sub(pos[i]);
            h.add(span as f64);
            sum += u128::from(span);
            max = max.max(span);
            for (o, &l) in over.iter_mut().zip(limits) {
                *o += u64::from(span as f64 > l);
            }
        }
        (h, sum, max, over)
    };
    let (hist, sum, max, over) = (0..windows.div_ceil(CHUNK))
        .into_par_iter()
        .map(part)
        .reduce(
            || (Hist::new(), 0, 0, vec![0; limits.len()]),
            |a, b| {
                let over = a.3.iter().zip(&b.3).map(|(x, y)| x + y).collect();
                (a.0.merge(b.0), a.1 + b.1, a.2.max(b.2), over)
            },
        );
    Ok(RangeSpans {
        keys: keys.len(),
        range,
        windows: windows as u64,
        mean: sum as f64 / windows as f64,
        max,
        over,
        hist,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Predicts `key` as its position, plus `jump` from key `at` on (clamped by the caller).
    struct Stepped {
        n: usize,
        at: u64,
        jump: f64,
    }

    impl LearnedModel for Stepped {
        fn name(&self) -> String {
            "stepped".into()
        }
        fn n(&self) -> usize {
            self.n
        }
        fn predict(&self, key: u64) -> f64 {
            key as f64 + if key >= self.at { self.jump } else { 0.0 }
        }
        fn size_bytes(&self) -> usize {
            0
        }
    }

    #[test]
    fn a_jump_stretches_exactly_the_windows_across_it() {
        // Keys 0..3000 at positions 0..3000; from key 1000 on the model predicts 500 too high
        // (clamped to 2999 at the top).
        let keys: Vec<u64> = (0..3000).collect();
        let m = Stepped {
            n: 3000,
            at: 1000,
            jump: 500.0,
        };
        let s = range_spans(&m, &keys, 10, &[9.0, 100.0, 600.0]).unwrap();
        assert_eq!(s.windows, 2991);
        // Windows starting at 991..=999 cross the jump (span 509); none exceeds 600.
        assert_eq!(s.over, vec![9, 9, 0]);
        assert_eq!(s.max, 509);
        // The 492 windows in the clamped top (positions all 2999) span 0.
        assert_eq!(s.quantile(0.1), 0.0);
        assert_eq!(s.quantile(0.5), 9.0);
        let total: u64 = (0..2991u64)
            .map(|a| {
                let p = |k: u64| m.predict(k).min(2999.0) as u64;
                p(a + 9) - p(a)
            })
            .sum();
        assert!((s.mean - total as f64 / 2991.0).abs() < 1e-9);
        // 509 positions of 3,000 on a ring of 300 peers: about 51 peers.
        assert!((s.peers_in(509.0, 300) - 50.9).abs() < 1e-9);
        assert_eq!(RangeSpans::limit_for(3000, 51.0, 300), 510.0);
    }

    #[test]
    fn impossible_ranges_are_refused() {
        let keys: Vec<u64> = (0..100).collect();
        let m = Stepped {
            n: 100,
            at: 0,
            jump: 0.0,
        };
        assert!(range_spans(&m, &keys, 0, &[]).is_err());
        assert!(range_spans(&m, &keys, 101, &[]).is_err());
        assert!(range_spans(&m, &keys[..50], 10, &[]).is_err());
        assert_eq!(range_spans(&m, &keys, 100, &[]).unwrap().windows, 1);
    }
}
