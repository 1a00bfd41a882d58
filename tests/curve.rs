//! Space-filling curves against brute force: round trips for every shape of space, and box
//! decompositions that cover exactly the box's cells (unbounded) or a superset within the
//! interval bound.

use leadsim::curve::{Curve, Space};
use proptest::prelude::*;

/// Every cell index of the box, sorted.
fn cells(s: &Space, c: Curve, lo: &[u32], hi: &[u32]) -> Vec<u64> {
    let d = s.dims();
    let mut out = Vec::new();
    let mut x: Vec<u32> = lo.to_vec();
    loop {
        out.push(s.encode(c, &x));
        let mut i = 0;
        loop {
            if i == d {
                out.sort_unstable();
                return out;
            }
            if x[i] < hi[i] {
                x[i] += 1;
                break;
            }
            x[i] = lo[i];
            i += 1;
        }
    }
}

fn covered(iv: &[(u64, u64)]) -> Vec<u64> {
    iv.iter().flat_map(|&(a, b)| a..=b).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn encode_and_decode_round_trip(d in 1usize..=8, seed in any::<u64>(), hilbert in any::<bool>()) {
        let bits = (64 / d as u32).min(32);
        let s = Space::new(d, bits).unwrap();
        let c = if hilbert { Curve::Hilbert } else { Curve::Z };
        let mut x = [0u32; 8];
        let mut r = seed;
        for xi in x.iter_mut().take(d) {
            r = r.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *xi = ((r >> 16) as u32) & s.max_coord();
        }
        let h = s.encode(c, &x[..d]);
        prop_assert!(s.index_bits() == 64 || h < 1u64 << s.index_bits());
        let mut back = [0u32; 8];
        s.decode(c, h, &mut back);
        prop_assert_eq!(&back[..d], &x[..d]);
    }

    #[test]
    fn boxes_decompose_into_exactly_their_cells(
        dims in 1usize..=3,
        a in prop::collection::vec(0u32..16, 3),
        b in prop::collection::vec(0u32..16, 3),
        hilbert in any::<bool>(),
        bound in 1usize..12,
    ) {
        let bits = [6, 4, 3][dims - 1];
        let s = Space::new(dims, bits).unwrap();
        let m = s.max_coord();
        let lo: Vec<u32> = (0..dims).map(|i| a[i].min(b[i]).min(m)).collect();
        let hi: Vec<u32> = (0..dims).map(|i| a[i].max(b[i]).min(m)).collect();
        let c = if hilbert { Curve::Hilbert } else { Curve::Z };
        let want = cells(&s, c, &lo, &hi);
        let exact = s.intervals(c, &lo, &hi, usize::MAX / 128).unwrap();
        prop_assert_eq!(covered(&exact), want.clone(), "unbounded: exactly the box");
        for w in exact.windows(2) {
            prop_assert!(w[0].1 + 1 < w[1].0, "sorted, disjoint, not adjacent");
        }
        let few = s.intervals(c, &lo, &hi, bound).unwrap();
        prop_assert!(few.len() <= bound);
        let got = covered(&few);
        prop_assert!(want.iter().all(|x| got.binary_search(x).is_ok()), "bounded: a superset");
        prop_assert_eq!(few.len() == exact.len(), got == want);
    }
}

#[test]
fn interval_counts_for_a_few_boxes() {
    // 2-D, 16 bits per dimension (a 65,536^2 grid): a w x w box at an odd offset.
    let s = Space::new(2, 16).unwrap();
    // Intervals grow with the perimeter, not the area: at most 2w (Hilbert) and 4w (Z) here.
    for w in [4u32, 100, 1000] {
        let (hilbert_max, z_max) = (2 * w as usize, 4 * w as usize);
        let lo = [12_345, 23_456];
        let hi = [lo[0] + w - 1, lo[1] + w - 1];
        let h = s.intervals(Curve::Hilbert, &lo, &hi, 1 << 20).unwrap();
        let z = s.intervals(Curve::Z, &lo, &hi, 1 << 20).unwrap();
        let size = |iv: &[(u64, u64)]| iv.iter().map(|&(a, b)| b - a + 1).sum::<u64>();
        assert_eq!(size(&h), u64::from(w) * u64::from(w));
        assert_eq!(size(&z), u64::from(w) * u64::from(w));
        eprintln!(
            "{w} x {w} box: Hilbert {} intervals, Z {}",
            h.len(),
            z.len()
        );
        assert!(h.len() <= hilbert_max, "{w}: Hilbert {} intervals", h.len());
        assert!(z.len() <= z_max, "{w}: Z {} intervals", z.len());
        // Bounded to 16: a superset of the box in 16 intervals.
        let b = s.intervals(Curve::Hilbert, &lo, &hi, 16).unwrap();
        assert!(b.len() <= 16 && size(&b) >= u64::from(w) * u64::from(w));
    }
    // Full 64-bit spaces work at the edges.
    let s = Space::new(2, 32).unwrap();
    let all = s
        .intervals(Curve::Hilbert, &[0, 0], &[u32::MAX, u32::MAX], 4)
        .unwrap();
    assert_eq!(all, vec![(0, u64::MAX)]);
}
