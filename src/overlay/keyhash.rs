//! KeyHASH of many keys at once. Chord-batch hashes every key of every batch it asks for (the
//! KV-cache case study: about 4.5 G keys per paper run), so one SHA-1 compression per key is a
//! large share of its run. With the x86 SHA extensions the compression is a chain of dependent
//! `sha1rnds4` instructions whose latency, not throughput, bounds a single hash; four independent
//! keys compressed in lock step fill the pipeline. Every hash equals [`key_hash`]'s (tested),
//! and without the extensions [`key_hash`] itself is used.

use super::id::{key_hash, RingId};

/// Appends the KeyHASH of every key of `keys` to `out`, in order: the same values as
/// `keys.map(key_hash)`, computed four at a time where the CPU allows.
///
/// ```
/// use leadsim::overlay::id::key_hash;
/// use leadsim::overlay::keyhash::key_hashes;
/// let keys = [1u64, 2, 3, 4, 5, 6, 7];
/// let mut ids = Vec::new();
/// key_hashes(keys.iter().copied(), &mut ids);
/// assert_eq!(ids, keys.map(key_hash));
/// ```
pub fn key_hashes(keys: impl Iterator<Item = u64>, out: &mut Vec<RingId>) {
    #[cfg(target_arch = "x86_64")]
    if sha_ni::available() {
        let mut keys = keys;
        loop {
            let mut four = [0u64; 4];
            let mut n = 0;
            for (slot, k) in four.iter_mut().zip(keys.by_ref()) {
                *slot = k;
                n += 1;
            }
            if n == 0 {
                return;
            }
            // SAFETY: `available()` checked that this CPU has every feature the function enables.
            let ids = unsafe { sha_ni::hash4(four) };
            out.extend_from_slice(&ids[..n]);
            if n < 4 {
                return;
            }
        }
    }
    out.extend(keys.map(key_hash));
}

#[cfg(target_arch = "x86_64")]
mod sha_ni {
    use super::RingId;
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_extract_epi64, _mm_set_epi32, _mm_sha1msg1_epu32,
        _mm_sha1msg2_epu32, _mm_sha1nexte_epu32, _mm_sha1rnds4_epu32, _mm_xor_si128,
    };
    use std::sync::OnceLock;

    /// Whether this CPU has the SHA extensions (and the SSE levels used with them).
    pub fn available() -> bool {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| {
            is_x86_feature_detected!("sha")
                && is_x86_feature_detected!("sse2")
                && is_x86_feature_detected!("ssse3")
                && is_x86_feature_detected!("sse4.1")
        })
    }

    /// SHA-1's initial state (a, b, c, d) as the SHA instructions hold it: `a` in the top lane.
    #[inline(always)]
    unsafe fn abcd0() -> __m128i {
        _mm_set_epi32(
            0x6745_2301u32 as i32,
            0xEFCD_AB89u32 as i32,
            0x98BA_DCFEu32 as i32,
            0x1032_5476u32 as i32,
        )
    }

    /// The first 8 bytes of SHA-1 over each key's 8 little-endian bytes, four keys in lock step.
    ///
    /// # Safety
    /// The CPU must have the `sha`, `sse2`, `ssse3` and `sse4.1` features ([`available`]).
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub unsafe fn hash4(keys: [u64; 4]) -> [RingId; 4] {
        // The one padded block of an 8-byte message, as four groups of big-endian words (word 0
        // in the top lane): the key, the padding bit, zeros, and the length (64 bits) last.
        let mut w: [[__m128i; 4]; 4] = [[_mm_set_epi32(0, 0, 0, 0); 4]; 4];
        for (l, &k) in keys.iter().enumerate() {
            let b = k.to_le_bytes();
            let w0 = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i32;
            let w1 = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as i32;
            w[l][0] = _mm_set_epi32(w0, w1, 0x8000_0000u32 as i32, 0);
            w[l][3] = _mm_set_epi32(0, 0, 0, 64);
        }
        let init = abcd0();
        let e_init = _mm_set_epi32(0xC3D2_E1F0u32 as i32, 0, 0, 0);
        let mut abcd = [init; 4];
        let mut prev = [init; 4];
        // Rounds 0-3 take e from the initial state; later groups derive it from the previous a.
        for l in 0..4 {
            prev[l] = abcd[l];
            abcd[l] = _mm_sha1rnds4_epu32::<0>(abcd[l], _mm_add_epi32(e_init, w[l][0]));
        }
        macro_rules! group {
            ($i:expr, $f:literal) => {
                for l in 0..4 {
                    let wl = &mut w[l];
                    if $i >= 4 {
                        // W[i] = msg2(msg1(W[i-4], W[i-3]) ^ W[i-2], W[i-1]), in place of W[i-4].
                        let m = _mm_sha1msg1_epu32(wl[$i % 4], wl[($i + 1) % 4]);
                        let m = _mm_xor_si128(m, wl[($i + 2) % 4]);
                        wl[$i % 4] = _mm_sha1msg2_epu32(m, wl[($i + 3) % 4]);
                    }
                    let e = _mm_sha1nexte_epu32(prev[l], wl[$i % 4]);
                    prev[l] = abcd[l];
                    abcd[l] = _mm_sha1rnds4_epu32::<$f>(abcd[l], e);
                }
            };
        }
        group!(1, 0);
        group!(2, 0);
        group!(3, 0);
        group!(4, 0);
        group!(5, 1);
        group!(6, 1);
        group!(7, 1);
        group!(8, 1);
        group!(9, 1);
        group!(10, 2);
        group!(11, 2);
        group!(12, 2);
        group!(13, 2);
        group!(14, 2);
        group!(15, 3);
        group!(16, 3);
        group!(17, 3);
        group!(18, 3);
        group!(19, 3);
        // The first 8 bytes of the digest are a and b of the final state (lanes 3 and 2).
        let mut out = [0; 4];
        for l in 0..4 {
            let h = _mm_add_epi32(abcd[l], init);
            out[l] = _mm_extract_epi64::<1>(h) as u64;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SimRng;

    #[test]
    fn equals_key_hash_for_every_length_and_edge_keys() {
        #[cfg(target_arch = "x86_64")]
        if !sha_ni::available() {
            eprintln!(
                "note: this CPU has no SHA extensions: only the one-at-a-time path is tested"
            );
        }
        let mut r = SimRng::from_seed(7);
        let mut keys: Vec<u64> = vec![0, 1, u64::MAX, 1 << 63, 0x8000_0000, 64];
        keys.extend((0..10_000).map(|_| r.next_u64()));
        for n in 0..keys.len().min(13) {
            let mut ids = Vec::new();
            key_hashes(keys[..n].iter().copied(), &mut ids);
            let want: Vec<u64> = keys[..n].iter().map(|&k| key_hash(k)).collect();
            assert_eq!(ids, want, "first {n} keys");
        }
        let mut ids = vec![42];
        key_hashes(keys.iter().copied(), &mut ids);
        assert_eq!(ids[0], 42, "appends");
        for (k, id) in keys.iter().zip(&ids[1..]) {
            assert_eq!(*id, key_hash(*k), "key {k:#x}");
        }
    }
}
