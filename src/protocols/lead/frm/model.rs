//! FRM's models: the base RMI (trained on the training keys at t = 0), the leaf patches that
//! update rounds produce, and each peer's view (the set of patches it has adopted).
//!
//! **A version is a set of patches.** A round's coordinator publishes a patch (new lines for the
//! leaves its neighbourhood holds keys of) with a unique id; peers adopt patches through
//! heartbeats and the model a peer uses is the base plus every patch it knows, the later patch
//! (by id, i.e. creation order) winning where two touch the same leaf. Patch sets only grow and
//! merge by union, so two coordinators racing produce two patches, never two different models
//! under one name: every peer that knows both patches computes the same model, and all peers end
//! with the union. Patches change leaf lines only, never the leaves' position windows, so any mix
//! of patches is still monotone (every leaf clamps to its window): a successor walk under any
//! peer's view still finds every key.

use super::store::Store;
use crate::learned::rmi::Rmi;
use std::collections::BTreeMap;

/// Least-squares sufficient statistics of pairs `(key - x0, y)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sums {
    /// Pairs.
    pub n: f64,
    /// Sum of x.
    pub sx: f64,
    /// Sum of y.
    pub sy: f64,
    /// Sum of x^2.
    pub sxx: f64,
    /// Sum of x y.
    pub sxy: f64,
    /// The reference key x is measured from.
    pub x0: u64,
}

impl Sums {
    /// Empty sums around `x0`.
    pub fn around(x0: u64) -> Sums {
        Sums {
            x0,
            ..Sums::default()
        }
    }

    fn x(&self, key: u64) -> f64 {
        if key >= self.x0 {
            (key - self.x0) as f64
        } else {
            -((self.x0 - key) as f64)
        }
    }

    /// Adds the pair `(key, y)`.
    pub fn add(&mut self, key: u64, y: f64) {
        let x = self.x(key);
        self.n += 1.0;
        self.sx += x;
        self.sy += y;
        self.sxx += x * x;
        self.sxy += x * y;
    }

    /// Every y shifted by `dy` (pairs whose rank moved).
    pub fn shift(&mut self, dy: f64) {
        self.sxy += dy * self.sx;
        self.sy += dy * self.n;
    }

    /// The sums of the pairs `(x, a + b y)`.
    pub fn affine(&self, a: f64, b: f64) -> Sums {
        Sums {
            sy: a * self.n + b * self.sy,
            sxy: a * self.sx + b * self.sxy,
            ..*self
        }
    }

    /// The same pairs measured from `x0`.
    pub fn rebase(&self, x0: u64) -> Sums {
        let d = Sums::around(x0).x(self.x0);
        Sums {
            sx: self.sx + self.n * d,
            sxx: self.sxx + 2.0 * d * self.sx + self.n * d * d,
            sxy: self.sxy + d * self.sy,
            x0,
            ..*self
        }
    }

    /// Pools `o` (measured from the same `x0`).
    pub fn merge(&mut self, o: &Sums) {
        debug_assert_eq!(self.x0, o.x0);
        self.n += o.n;
        self.sx += o.sx;
        self.sy += o.sy;
        self.sxx += o.sxx;
        self.sxy += o.sxy;
    }

    /// The least-squares line over the raw key, `(slope >= 0, intercept)`; `None` below two
    /// pairs.
    pub fn line(&self) -> Option<(f64, f64)> {
        if self.n < 2.0 {
            return None;
        }
        let mx = self.sx / self.n;
        let my = self.sy / self.n;
        let vxx = self.sxx / self.n - mx * mx;
        let vxy = self.sxy / self.n - mx * my;
        let slope = if vxx > 0.0 { (vxy / vxx).max(0.0) } else { 0.0 };
        // y = slope (key - x0 - mx) + my.
        let intercept = my - slope * (self.x0 as f64 + mx);
        Some((slope, intercept))
    }
}

/// Where each leaf's keys lie in the full sorted array, and the reference key its sums are
/// measured from (the leaf's first key, shared by every peer so their sums pool directly).
#[derive(Clone, Debug)]
pub struct LeafTable {
    /// `start[j]`: the first key index the root sends to leaf `j` or beyond (`B + 1` entries).
    pub start: Vec<u64>,
}

impl LeafTable {
    /// The table of `base` over `keys`.
    pub fn new(base: &Rmi, keys: &[u64]) -> LeafTable {
        let b = base.leaves();
        let start = (0..=b)
            .map(|j| {
                if j == b {
                    keys.len() as u64
                } else {
                    keys.partition_point(|&k| base.leaf_index(k) < j) as u64
                }
            })
            .collect();
        LeafTable { start }
    }

    /// The leaf of key index `i`.
    #[inline]
    pub fn leaf(&self, i: u64) -> usize {
        self.start.partition_point(|&s| s <= i).saturating_sub(1)
    }

    /// Leaf `j`'s reference key.
    pub fn x0(&self, j: usize, keys: &[u64]) -> u64 {
        let s = self.start[j].min(keys.len().saturating_sub(1) as u64);
        keys.get(s as usize).copied().unwrap_or(0)
    }

    /// Every key's offset from its leaf's reference key (the values [`Store`] sums).
    pub fn offsets(&self, keys: &[u64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(keys.len());
        for j in 0..self.start.len() - 1 {
            let x0 = self.x0(j, keys);
            for i in self.start[j]..self.start[j + 1] {
                out.push((keys[i as usize] - x0) as f64);
            }
        }
        out
    }
}

/// A peer's shadow model: for each leaf it holds keys of, the sums of (key, local rank) over its
/// present keys, refined by every insert it stores.
#[derive(Clone, Debug, Default)]
pub struct Shadow {
    /// (leaf, sums), ascending by leaf (= key order).
    pub leaves: Vec<(u32, Sums)>,
}

impl Shadow {
    /// The exact sums of rank `k`'s present keys.
    pub fn build(store: &Store, k: usize, table: &LeafTable, keys: &[u64]) -> Shadow {
        let mut leaves: Vec<(u32, Sums)> = Vec::new();
        let mut rank = 0f64;
        for (a, b) in store.parts(k) {
            if a >= b {
                continue;
            }
            let mut j = table.leaf(a);
            let mut end = table.start[j + 1];
            for i in a..b {
                while i >= end {
                    j += 1;
                    end = table.start[j + 1];
                }
                if !store.is_present(i) {
                    continue;
                }
                let key = keys[i as usize];
                match leaves.last_mut() {
                    Some((l, s)) if *l == j as u32 => s.add(key, rank),
                    _ => {
                        let mut s = Sums::around(table.x0(j, keys));
                        s.add(key, rank);
                        leaves.push((j as u32, s));
                    }
                }
                rank += 1.0;
            }
        }
        Shadow { leaves }
    }

    /// Refines the shadow with an insert of key index `i` at rank `k` (already stored): every
    /// key above it moved up one local rank. O(log N + leaves held).
    pub fn insert(&mut self, store: &Store, k: usize, table: &LeafTable, keys: &[u64], i: u64) {
        let key = keys[i as usize];
        let j = table.leaf(i);
        let rank = store.local_rank(k, i) as f64;
        let part_end = store
            .parts(k)
            .iter()
            .find(|&&(a, b)| a <= i && i < b)
            .map_or(i + 1, |&(_, b)| b);
        let leaf_end = table.start[j + 1].min(part_end);
        let pos = self.leaves.partition_point(|&(l, _)| l < j as u32);
        if self.leaves.get(pos).is_none_or(|&(l, _)| l != j as u32) {
            self.leaves
                .insert(pos, (j as u32, Sums::around(table.x0(j, keys))));
        }
        // Keys above it in its leaf: their count and summed offsets, from the store's trees.
        let n_above = store.count(i + 1, leaf_end) as f64;
        let sx_above = store.value_sum(i + 1, leaf_end);
        let s = &mut self.leaves[pos].1;
        s.sy += n_above;
        s.sxy += sx_above;
        s.add(key, rank);
        for (_, s) in &mut self.leaves[pos + 1..] {
            s.shift(1.0);
        }
    }
}

/// A leaf patch: new lines for some leaves, by the coordinator of one round.
#[derive(Clone, Debug)]
pub struct Patch {
    /// (leaf, slope, intercept), ascending by leaf.
    pub lines: Vec<(u32, f64, f64)>,
}

impl Patch {
    /// Bytes on the wire: a leaf id, slope, intercept at 32 bits each (the paper's ~12 KB per
    /// 1,000 linear leaves).
    pub fn bytes(&self) -> u64 {
        12 * self.lines.len() as u64
    }
}

/// The base model, the patches so far and every peer's view.
pub struct Versions {
    /// The model trained at t = 0.
    pub base: Rmi,
    n_train: u64,
    step: u64,
    patches: Vec<Patch>,
    by_leaf: BTreeMap<u32, Vec<(u32, f64, f64)>>,
    /// Per ring rank: the ids of the patches it has adopted, ascending.
    pub known: Vec<Vec<u32>>,
}

impl Versions {
    /// The base model of `n_train` training keys, for `ranks` peers that all start on it.
    pub fn new(base: Rmi, n_train: u64, ranks: usize) -> Versions {
        Versions {
            base,
            n_train,
            step: u64::MAX / n_train.max(1),
            patches: Vec::new(),
            by_leaf: BTreeMap::new(),
            known: vec![Vec::new(); ranks],
        }
    }

    /// Patches published so far.
    pub fn patches(&self) -> usize {
        self.patches.len()
    }

    /// Patch `id`.
    pub fn patch(&self, id: u32) -> &Patch {
        &self.patches[id as usize]
    }

    /// Publishes a patch; returns its id.
    pub fn publish(&mut self, p: Patch) -> u32 {
        let id = self.patches.len() as u32;
        for &(j, s, b) in &p.lines {
            self.by_leaf.entry(j).or_default().push((id, s, b));
        }
        self.patches.push(p);
        id
    }

    /// Rank `k` adopts patch `id`; false if it knew it.
    pub fn adopt(&mut self, k: usize, id: u32) -> bool {
        let v = &mut self.known[k];
        match v.binary_search(&id) {
            Ok(_) => false,
            Err(pos) => {
                v.insert(pos, id);
                true
            }
        }
    }

    /// The line of leaf `j` in rank `k`'s view.
    fn line(&self, k: usize, j: usize) -> Option<(f64, f64)> {
        let list = self.by_leaf.get(&(j as u32))?;
        let known = &self.known[k];
        list.iter()
            .rev()
            .find(|(id, _, _)| known.binary_search(id).is_ok())
            .map(|&(_, s, b)| (s, b))
    }

    /// Predicted (training-normalised) position of `key` in rank `k`'s view.
    pub fn position(&self, k: usize, key: u64) -> f64 {
        let j = self.base.leaf_index(key);
        match self.line(k, j).or_else(|| self.base.linear_line(j)) {
            Some(l) => self.base.predict_with(key, j, l),
            None => 0.0,
        }
    }

    /// LearnedHASH(key) in rank `k`'s view.
    pub fn hash(&self, k: usize, key: u64) -> u64 {
        let pos = self
            .position(k, key)
            .clamp(0.0, (self.n_train.max(1) - 1) as f64) as u64;
        pos.wrapping_mul(self.step)
    }

    /// A ring position as a training-normalised position.
    pub fn ring_to_position(&self, v: u64) -> f64 {
        v as f64 / self.step as f64
    }

    /// The first key index whose hash in rank `k`'s view exceeds `v` (hashes are
    /// non-decreasing in the index).
    pub fn first_above(&self, k: usize, keys: &[u64], v: u64) -> u64 {
        let (mut lo, mut hi) = (0usize, keys.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.hash(k, keys[mid]) <= v {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo as u64
    }

    /// Whether ranks `a` and `b` use the same model (the same patch set).
    pub fn same_view(&self, a: usize, b: usize) -> bool {
        self.known[a] == self.known[b]
    }

    /// Patches `from` knows that `to` does not.
    pub fn missing(&self, from: usize, to: usize) -> Vec<u32> {
        self.known[from]
            .iter()
            .copied()
            .filter(|id| self.known[to].binary_search(id).is_err())
            .collect()
    }
}

/// What one participant of a round contributes: its shadow's sums and the anchor that turns its
/// local ranks into positions.
#[derive(Clone, Debug)]
pub struct Segment {
    /// The participant's ring rank (runs of consecutive ranks are anchored together).
    pub rank: usize,
    /// (leaf, sums of (key, local rank)).
    pub sums: Vec<(u32, Sums)>,
    /// Its median key's position in its current view.
    pub median_pos: f64,
    /// The median's local rank.
    pub median_rank: f64,
    /// Present keys it holds.
    pub held: u64,
    /// Positions of its lowest and highest present key in its current view.
    pub key_span: (f64, f64),
    /// The key-index interval it holds (a leaf is refit only when a run holds all of it).
    pub holds: (u64, u64),
    /// Where its window ends (a position).
    pub window_end: f64,
}

impl Segment {
    /// Bytes on the wire: 16 per leaf (id, slope, intercept, weight at 32 bits) plus the anchor.
    pub fn bytes(&self) -> u64 {
        16 * self.sums.len() as u64 + 16
    }
}

/// How a round turns local ranks into target positions (`lead.anchor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// The relative index over the neighbourhood: a run of consecutive participants keeps the
    /// positions its current model gives its first and last key, and every key in between gets
    /// the position of its rank in the run (what retraining the leaves on the keys present now
    /// would fit).
    Density,
    /// The paper's per-peer anchor: median kept centred, scaled so that the 95% key quantile
    /// ends at the right edge of the peer's window.
    Quantile,
}

/// The coordinator's averaging: every participant's sums mapped to target positions and pooled
/// per leaf (the joint least-squares fit, i.e. the key-weighted average of the segments' fits).
pub fn aggregate(segs: &[Segment], scale: Scale, table: &LeafTable) -> Patch {
    // (participant, offset a, scale b, the run's key-index interval): target position of local
    // rank y = a + b y.
    let mut maps: Vec<(&Segment, f64, f64, (u64, u64))> = Vec::new();
    let mut order: Vec<&Segment> = segs.iter().filter(|s| s.rank > 0).collect();
    order.sort_by_key(|s| s.rank);
    let mut i = 0;
    while i < order.len() {
        // A run of consecutive ring ranks: their keys, in order, share the run's window.
        let mut j = i + 1;
        while j < order.len() && order[j].rank == order[j - 1].rank + 1 {
            j += 1;
        }
        let run = &order[i..j];
        let held: f64 = run.iter().map(|s| s.held as f64).sum();
        let keyed: Vec<&&Segment> = run.iter().filter(|s| s.held > 0).collect();
        let span = match (keyed.first(), keyed.last()) {
            (Some(a), Some(z)) if held > 1.0 => Some((a.key_span.0, z.key_span.1)),
            _ => None,
        };
        let holds = (run[0].holds.0, run[run.len() - 1].holds.1);
        let mut offset = 0.0;
        for s in run {
            match scale {
                Scale::Density => {
                    if let Some((lo, hi)) = span {
                        let b = (hi - lo).max(0.0) / (held - 1.0);
                        maps.push((s, lo + offset * b, b, holds));
                    }
                }
                Scale::Quantile => {
                    let q = 0.95 * s.held as f64 - s.median_rank;
                    if q > 0.0 {
                        let b = ((s.window_end - s.median_pos) / q).max(0.0);
                        maps.push((s, s.median_pos - b * s.median_rank, b, holds));
                    }
                }
            }
            offset += s.held as f64;
        }
        i = j;
    }
    let mut pooled: BTreeMap<u32, Sums> = BTreeMap::new();
    for (s, a, b, (lo, hi)) in maps {
        if s.held < 2 {
            continue;
        }
        for &(j, ref sums) in &s.sums {
            let ju = j as usize;
            if table.start[ju] < lo || table.start[ju + 1] > hi {
                continue; // the leaf reaches beyond the run: its other keys are not here
            }
            let t = sums.affine(a, b);
            pooled
                .entry(j)
                .and_modify(|p| {
                    let x0 = p.x0.min(t.x0);
                    let mut q = p.rebase(x0);
                    q.merge(&t.rebase(x0));
                    *p = q;
                })
                .or_insert(t);
        }
    }
    Patch {
        lines: pooled
            .into_iter()
            .filter_map(|(j, s)| s.line().map(|(m, c)| (j, m, c)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_fit_lines_and_transform() {
        let mut s = Sums::around(1_000_000);
        for i in 0..100u64 {
            s.add(1_000_000 + 10 * i, i as f64);
        }
        let (m, c) = s.line().unwrap();
        assert!((m - 0.1).abs() < 1e-9 && (m * 1_000_500.0 + c - 50.0).abs() < 1e-6);
        // y -> 5 + 2 y doubles the slope.
        let (m2, _) = s.affine(5.0, 2.0).line().unwrap();
        assert!((m2 - 0.2).abs() < 1e-9);
        // Rebasing changes nothing about the line.
        let r = s.rebase(999_000).line().unwrap();
        assert!((r.0 - m).abs() < 1e-12 && (r.1 - c).abs() < 1e-3);
        // Shifting every y by one moves the intercept by one.
        let mut t = s;
        t.shift(1.0);
        assert!((t.line().unwrap().1 - c - 1.0).abs() < 1e-6);
    }

    #[test]
    fn shadow_insert_equals_rebuild() {
        use crate::learned::rmi::{LeafKind, Root};
        let keys: Vec<u64> = (0..5_000u64).map(|i| i * i + 7 * i).collect();
        let mut store = Store::new(keys.len() as u64, 2_000, 9);
        store.set_bounds(vec![1_000, 3_000, 4_200]);
        let train: Vec<u64> = store.training().iter().map(|&i| keys[i]).collect();
        let base = Rmi::train(&train, Root::Linear, LeafKind::Linear, 64);
        let table = LeafTable::new(&base, &keys);
        store.set_values(table.offsets(&keys));
        let mut sh = Shadow::build(&store, 1, &table, &keys);
        let mut added = 0;
        for i in 1_000..3_000u64 {
            if !store.is_present(i) && i % 3 == 0 {
                store.store(i);
                sh.insert(&store, 1, &table, &keys, i);
                added += 1;
            }
        }
        assert!(added > 100);
        let fresh = Shadow::build(&store, 1, &table, &keys);
        assert_eq!(sh.leaves.len(), fresh.leaves.len());
        for ((l1, a), (l2, b)) in sh.leaves.iter().zip(&fresh.leaves) {
            assert_eq!(l1, l2);
            assert_eq!(a.x0, b.x0);
            for (u, v) in [(a.n, b.n), (a.sy, b.sy), (a.sxy, b.sxy), (a.sx, b.sx)] {
                assert!(
                    (u - v).abs() <= 1e-6 * v.abs().max(1.0),
                    "leaf {l1}: {u} vs {v}"
                );
            }
        }
    }
}
