//! PGM-index (Ferragina & Vinciguerra, VLDB 2020): error-bounded piecewise linear segments over
//! (key, position), built by the shrinking-cone method, indexed recursively by further levels of
//! segments over the segments' first keys. Monotone: a key's segment is found exactly, slopes are
//! non-negative and each prediction is clamped to its segment's position window.

use super::LearnedModel;

#[derive(Clone, Copy, Debug)]
struct Segment {
    key: u64,
    slope: f64,
    pos: u32,
}

/// Builds segments over (xs[i], ys[i]) (xs strictly increasing) with error `eps`.
fn segments(xs: &[u64], ys: &[u32], eps: f64) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < xs.len() {
        let (k0, p0) = (xs[i], f64::from(ys[i]));
        let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
        let mut j = i + 1;
        while j < xs.len() {
            let dx = (xs[j] - k0) as f64;
            let p = f64::from(ys[j]);
            let (l, h) = ((p - eps - p0) / dx, (p + eps - p0) / dx);
            if l > hi || h < lo {
                break;
            }
            lo = lo.max(l);
            hi = hi.min(h);
            j += 1;
        }
        let slope = if hi.is_finite() {
            ((lo + hi) / 2.0).max(0.0)
        } else {
            0.0
        };
        out.push(Segment {
            key: k0,
            slope,
            pos: ys[i],
        });
        i = j;
    }
    out
}

/// A trained PGM-index.
pub struct Pgm {
    /// levels[0] indexes the data; levels[last] has one segment.
    levels: Vec<Vec<Segment>>,
    n: usize,
    epsilon: usize,
}

impl Pgm {
    /// Builds the index with error bound `epsilon` at every level.
    pub fn train(keys: &[u64], epsilon: usize) -> Pgm {
        let n = keys.len();
        let eps = epsilon as f64;
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        let mut i = 0;
        while i < n {
            xs.push(keys[i]);
            ys.push(i as u32);
            let k = keys[i];
            while i < n && keys[i] == k {
                i += 1;
            }
        }
        let mut levels = vec![segments(&xs, &ys, eps)];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().expect("non-empty");
            let xs: Vec<u64> = below.iter().map(|s| s.key).collect();
            let ys: Vec<u32> = (0..below.len() as u32).collect();
            levels.push(segments(&xs, &ys, eps));
        }
        Pgm { levels, n, epsilon }
    }

    /// Index of the last segment of `level` whose key is <= `key`, searched around `guess`.
    fn find(&self, level: usize, key: u64, guess: f64) -> usize {
        let segs = &self.levels[level];
        let r = self.epsilon + 2;
        let g = guess.max(0.0) as usize;
        let lo = g.saturating_sub(r).min(segs.len() - 1);
        let hi = (g + r + 1).min(segs.len());
        let mut j = lo + segs[lo..hi].partition_point(|s| s.key <= key);
        // The error bound makes the window sufficient; fall back to a full search otherwise.
        if (j == lo && lo > 0 && segs[lo].key > key)
            || (j == hi && hi < segs.len() && segs[hi].key <= key)
        {
            j = segs.partition_point(|s| s.key <= key);
        }
        j.saturating_sub(1)
    }

    /// Number of segments per level (data level first).
    pub fn level_sizes(&self) -> Vec<usize> {
        self.levels.iter().map(Vec::len).collect()
    }
}

impl LearnedModel for Pgm {
    fn name(&self) -> String {
        format!("pgm:{}", self.epsilon)
    }

    fn n(&self) -> usize {
        self.n
    }

    fn predict(&self, key: u64) -> f64 {
        let mut idx = 0usize;
        for level in (0..self.levels.len()).rev() {
            let segs = &self.levels[level];
            let s = &segs[idx];
            let next_pos = segs.get(idx + 1).map_or(
                if level == 0 {
                    self.n as f64
                } else {
                    self.levels[level - 1].len() as f64
                },
                |x| f64::from(x.pos),
            );
            let raw = f64::from(s.pos) + s.slope * key.saturating_sub(s.key) as f64;
            let guess = raw.clamp(f64::from(s.pos), (next_pos - 1.0).max(f64::from(s.pos)));
            if level == 0 {
                return guess.min((self.n - 1) as f64);
            }
            idx = self.find(level - 1, key, guess);
        }
        0.0
    }

    fn size_bytes(&self) -> usize {
        self.levels
            .iter()
            .map(|l| l.len() * std::mem::size_of::<Segment>())
            .sum()
    }
}
