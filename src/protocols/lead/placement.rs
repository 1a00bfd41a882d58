//! LEAD's key placement: LearnedHASH maps a key to a ring position that is non-decreasing in the
//! key, so the keys a peer owns (hash in its arc) are a contiguous slice of the shared sorted key
//! array; storage stays implicit (index ranges, never per-peer maps).

use crate::data::KeySet;
use crate::learned::{ring_position, LearnedModel, ModelSpec};
use anyhow::Result;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The learned hash of a run: a trained model, or the exact rank (an ideal order-preserving hash).
pub struct Placement {
    keys: Arc<KeySet>,
    model: Option<Arc<dyn LearnedModel>>,
    step: u64,
    train_s: f64,
}

/// A trained model and the wall-clock seconds its training took.
type Trained = (Arc<dyn LearnedModel>, f64);

/// Models trained in this process, by dataset and spec: every run of a sweep shares one.
type ModelCache = Mutex<BTreeMap<String, Trained>>;

fn trained(keys: &Arc<KeySet>, dataset: &str, spec: &str) -> Result<Trained> {
    static CACHE: OnceLock<ModelCache> = OnceLock::new();
    let id = format!("{dataset}|{}|{spec}", keys.len());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(m) = cache.lock().expect("model cache").get(&id) {
        return Ok(m.clone());
    }
    let t0 = std::time::Instant::now();
    let model: Arc<dyn LearnedModel> = Arc::from(ModelSpec::parse(spec)?.train(keys.keys())?);
    let t = (model, t0.elapsed().as_secs_f64());
    cache.lock().expect("model cache").insert(id, t.clone());
    Ok(t)
}

impl Placement {
    /// The placement of `keys` (of dataset `dataset`) under model spec `spec` (`exact` = rank).
    pub fn new(keys: Arc<KeySet>, dataset: &str, spec: &str) -> Result<Placement> {
        let (model, train_s) = if spec == "exact" {
            (None, 0.0)
        } else {
            let (m, t) = trained(&keys, dataset, spec)?;
            (Some(m), t)
        };
        let step = u64::MAX / (keys.len().max(1) as u64);
        Ok(Placement {
            keys,
            model,
            step,
            train_s,
        })
    }

    /// Keys stored per host on the ring `view` (each member's arc, summed by host).
    pub fn keys_per_host(&self, view: &crate::overlay::view::GlobalView, hosts: usize) -> Vec<f64> {
        let all = view.all();
        let mut keys = vec![0f64; hosts];
        for (i, &(vid, p)) in all.iter().enumerate() {
            let prev = all[(i + all.len() - 1) % all.len()].0;
            keys[view.host(p) as usize] += self.count_in(prev, vid) as f64;
        }
        keys
    }

    /// Wall-clock seconds the model's training took (once per process, dataset and spec; runs
    /// that reuse the model report the original training).
    pub fn train_s(&self) -> f64 {
        self.train_s
    }

    /// Bytes of the model's parameters (0 for `exact`).
    pub fn model_bytes(&self) -> usize {
        self.model.as_ref().map_or(0, |m| m.size_bytes())
    }

    /// The sorted keys it places.
    pub fn keys(&self) -> &Arc<KeySet> {
        &self.keys
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.len() == 0
    }

    /// LearnedHASH(key): clamp(predicted position, 0, N-1) scaled onto the ring.
    #[inline]
    pub fn hash(&self, key: u64) -> u64 {
        match &self.model {
            Some(m) => ring_position(m.as_ref(), key),
            None => {
                let rank = self.keys.keys().partition_point(|&k| k < key) as u64;
                rank.min(self.keys.len() as u64 - 1) * self.step
            }
        }
    }

    /// The hash of the key at index `i`.
    #[inline]
    pub fn hash_at(&self, i: usize) -> u64 {
        self.hash(self.keys.keys()[i])
    }

    /// The first index `>= from` whose hash exceeds `v` (hashes are non-decreasing in the index).
    pub fn first_above(&self, from: usize, v: u64) -> usize {
        let (mut lo, mut hi) = (from, self.keys.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.hash_at(mid) <= v {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Keys whose hash lies in the ring arc `(a, b]` (wrapping; the whole ring when `a == b`).
    pub fn count_in(&self, a: u64, b: u64) -> u64 {
        let upto = |v: u64| self.first_above(0, v) as u64;
        let n = self.keys.len() as u64;
        if a < b {
            upto(b) - upto(a)
        } else {
            n - upto(a) + upto(b)
        }
    }
}
