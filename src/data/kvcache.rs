//! `kvcache-like`: composite keys of the KV blocks of an LLM serving cluster (Fig 15, paper
//! section V-D).
//!
//! Every 16-token KV block of a document's prefix has one 64-bit key
//! `document << 54 | layer-head << 43 | block`, so a document's blocks are contiguous in key
//! order and a prompt that reuses a document's prefix asks for one key range. The paper's
//! setting: 776 LooGLE documents of 10,985 tokens (687 blocks) on average, 1,024 layer x head
//! pairs (32 x 32, Llama-3 8B), about 546 M blocks. Document lengths are drawn from
//! `687 x U[0.5, 1.5]` blocks (the dataset seed); the `n` keys are shared among the documents in
//! proportion to their lengths, so `n / (total blocks)` plays the number of layer-head pairs
//! (1,024 at the paper's 546 M keys; fewer in small profiles, with every proportion that matters
//! to a range query kept: a prompt asks for 1/776 of the keys on average).
//!
//! ```
//! use leadsim::data::kvcache;
//! let keys = kvcache::generate(200_000, 1);
//! assert!(keys.windows(2).all(|w| w[0] < w[1]));
//! // Document 0's blocks are the keys below document 1's prefix.
//! let doc0 = keys.partition_point(|&k| k < kvcache::key(1, 0, 0));
//! assert!(doc0 > 0 && keys[..doc0].iter().all(|&k| kvcache::doc_of(k) == 0));
//! ```

use crate::rng::SimRng;
use rayon::prelude::*;

/// Documents (LooGLE Long-DocQA).
pub const DOCS: usize = 776;
/// Mean blocks per document: 10,985 tokens / 16 tokens per block.
pub const MEAN_BLOCKS: f64 = 10_985.0 / 16.0;
/// The most layer x head pairs a key can encode (an 11-bit field: twice the paper's 32 x 32, so
/// the paper's 546 M blocks fit whatever the drawn document lengths).
pub const MAX_LAYER_HEADS: u64 = 2048;
/// Bits below the document number (the top 10 bits name the document).
pub const DOC_SHIFT: u32 = 54;
const LH_SHIFT: u32 = 43;

/// The key of `block` of layer-head pair `lh` of document `doc`.
pub fn key(doc: u64, lh: u64, block: u64) -> u64 {
    (doc << DOC_SHIFT) | (lh << LH_SHIFT) | block
}

/// The document a key belongs to.
pub fn doc_of(key: u64) -> u64 {
    key >> DOC_SHIFT
}

/// Blocks per layer-head pair of each document (drawn from `seed`).
pub fn doc_blocks(seed: u64) -> Vec<u64> {
    let mut rng = SimRng::stream(seed, "dataset:kvcache-like:lengths");
    (0..DOCS)
        .map(|_| ((MEAN_BLOCKS * (0.5 + rng.unit())).round() as u64).max(1))
        .collect()
}

/// The most keys the layout can hold for `seed` (every document x [`MAX_LAYER_HEADS`] pairs).
pub fn max_keys(seed: u64) -> u64 {
    doc_blocks(seed).iter().sum::<u64>() * MAX_LAYER_HEADS
}

/// `n` sorted, distinct keys (`n <= max_keys(seed)`; larger `n` is clamped by the caller's
/// validation). Parallel and thread-count independent: each key is a function of its index.
pub fn generate(n: usize, seed: u64) -> Vec<u64> {
    let lens = doc_blocks(seed);
    let total: u64 = lens.iter().sum();
    // bounds[d] = index of document d's first key; documents share n by length.
    let mut bounds = Vec::with_capacity(DOCS + 1);
    let mut acc = 0u64;
    bounds.push(0usize);
    for &l in &lens {
        acc += l;
        bounds.push((u128::from(acc) * n as u128 / u128::from(total)) as usize);
    }
    let mut keys = vec![0u64; n];
    keys.par_chunks_mut(super::synth::CHUNK)
        .enumerate()
        .for_each(|(c, out)| {
            let start = c * super::synth::CHUNK;
            let mut d = bounds.partition_point(|&b| b <= start) - 1;
            for (i, slot) in out.iter_mut().enumerate() {
                let idx = start + i;
                while bounds[d + 1] <= idx {
                    d += 1;
                }
                let j = (idx - bounds[d]) as u64;
                let len = lens[d];
                *slot = key(d as u64, j / len, j % len);
            }
        });
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_contiguous_and_sized_by_length() {
        let n = 3 * super::super::synth::CHUNK + 77;
        let k = generate(n, 5);
        assert!(k.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
        let lens = doc_blocks(5);
        let total: u64 = lens.iter().sum();
        let mean = lens.iter().sum::<u64>() as f64 / DOCS as f64;
        assert!(
            (mean / MEAN_BLOCKS - 1.0).abs() < 0.03,
            "mean blocks {mean}"
        );
        for d in [0u64, 100, 775] {
            let lo = k.partition_point(|&x| x < key(d, 0, 0));
            let hi = k.partition_point(|&x| x < key(d + 1, 0, 0));
            let want = n as f64 * lens[d as usize] as f64 / total as f64;
            assert!(((hi - lo) as f64 - want).abs() <= 1.0, "doc {d}");
            // Layer-head pairs: n / total blocks, each a full run of the document's blocks.
            assert_eq!(k[lo + lens[d as usize] as usize], key(d, 1, 0));
        }
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert!(
            one.install(|| generate(n, 5)) == k,
            "thread-count independent"
        );
    }

    #[test]
    fn the_paper_size_fits_the_layout() {
        // 546 M blocks need about 1,024 layer-head pairs: within the 11-bit field.
        let m = max_keys(1);
        assert!((1_000_000_000..1_200_000_000).contains(&m), "{m}");
    }
}
