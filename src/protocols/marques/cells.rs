//! What MARQUES derives from the sorted keys before a run: keys per member, the widest query
//! in cells, and key sums over arcs of the outer ring (key-transfer sizes).

use super::groups::Groups;
use crate::overlay::id::RingId;

/// The cells of the sorted `keys` in order: (cell, index range of its keys), one binary search
/// per cell.
fn cell_runs<'a>(
    groups: &'a Groups,
    keys: &'a [u64],
) -> impl Iterator<Item = (u64, std::ops::Range<usize>)> + 'a {
    let mut i = 0;
    std::iter::from_fn(move || {
        let c = groups.cell(*keys.get(i)?);
        let start = i;
        i += keys[i..].partition_point(|&x| groups.cell(x) == c);
        Some((c, start..i))
    })
}

/// Keys each member holds as primary, by scanning the sorted keys cell by cell.
pub fn member_keys(groups: &Groups, keys: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; groups.slots()];
    for (c, run) in cell_runs(groups, keys) {
        let cell = &keys[run];
        let g = groups.group_of_cell(c);
        for j in 0..groups.members(g).len() {
            for (a, e) in groups.arc(g, j).into_iter().flatten() {
                let lo = cell.partition_point(|&x| x < a);
                let hi = cell.partition_point(|&x| x <= e);
                out[groups.slot(g, j)] += (hi - lo) as u64;
            }
        }
    }
    out
}

/// The most cells any query of `n` consecutive keys spans. The keys are sorted, so cells rise
/// with the index: of the windows starting in one cell, the one starting at its last key reaches
/// furthest, so one window per cell is enough (O(cells x log keys), not O(keys)).
pub fn widest_query(groups: &Groups, keys: &[u64], n: usize) -> u64 {
    if n == 0 || n > keys.len() {
        return 0;
    }
    let last_start = keys.len() - n;
    cell_runs(groups, keys)
        .take_while(|(_, run)| run.start <= last_start)
        .map(|(c, run)| {
            let start = (run.end - 1).min(last_start);
            groups.cell(keys[start + n - 1]) - c + 1
        })
        .max()
        .unwrap_or(0)
}

/// Keys held by the members in an arc of the outer ring (key-transfer sizes of joins): member
/// positions with prefix sums, O(log n) per arc.
pub struct ArcSums {
    pos: Vec<RingId>,
    /// `prefix[i]` = keys of the members at `pos[..i]`.
    prefix: Vec<u64>,
}

impl ArcSums {
    /// The sums over the outer positions of `groups`' members, holding `member_keys`.
    pub fn new(groups: &Groups, member_keys: &[u64]) -> ArcSums {
        let mut v: Vec<(RingId, u64)> = Vec::with_capacity(member_keys.len());
        for g in 0..groups.count() as u32 {
            let start = groups.outer_start(g);
            for j in 0..groups.members(g).len() {
                v.push((start + j as u64, member_keys[groups.slot(g, j)]));
            }
        }
        v.sort_unstable();
        let mut prefix = vec![0u64];
        for &(_, k) in &v {
            prefix.push(prefix[prefix.len() - 1] + k);
        }
        ArcSums {
            pos: v.into_iter().map(|x| x.0).collect(),
            prefix,
        }
    }

    /// Keys of the members at positions up to `x`.
    fn upto(&self, x: RingId) -> u64 {
        self.prefix[self.pos.partition_point(|&p| p <= x)]
    }

    /// Keys of the members in the arc `(a, b]` (the whole circle when `a == b`).
    pub fn sum(&self, a: RingId, b: RingId) -> u64 {
        let total = self.prefix[self.prefix.len() - 1];
        match a.cmp(&b) {
            std::cmp::Ordering::Less => self.upto(b) - self.upto(a),
            std::cmp::Ordering::Equal => total,
            std::cmp::Ordering::Greater => total - self.upto(a) + self.upto(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan every window would take (the definition).
    fn widest_naive(groups: &Groups, keys: &[u64], n: usize) -> u64 {
        if n == 0 || n > keys.len() {
            return 0;
        }
        (0..=keys.len() - n)
            .map(|i| groups.cell(keys[i + n - 1]) - groups.cell(keys[i]) + 1)
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn widest_query_equals_the_scan_of_every_window() {
        use rand::{Rng, SeedableRng};
        let topo = crate::topology::TopologySpec {
            hosts: 10,
            ..Default::default()
        }
        .build(1)
        .unwrap();
        let peers = crate::overlay::view::peer_hash_positions(&[4; 10]);
        for (seed, bits) in [(1u64, 40u32), (2, 44), (3, 48), (4, 52)] {
            let groups = Groups::form(&peers, &topo, 4, bits).unwrap();
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            // Clustered keys: runs of dense keys with gaps, so windows cross many or few cells.
            let mut keys: Vec<u64> = (0..3000)
                .map(|i| {
                    let base = (i / 300) as u64 * (1u64 << 60) / 7;
                    base + rng.random_range(0..1u64 << (bits - 2 + (i % 3) as u32 * 3))
                })
                .collect();
            keys.sort_unstable();
            keys.dedup();
            for n in [1, 2, 7, 100, 299, 300, 1000, keys.len() - 1, keys.len()] {
                assert_eq!(
                    widest_query(&groups, &keys, n),
                    widest_naive(&groups, &keys, n),
                    "bits {bits}, n {n}"
                );
            }
            assert_eq!(widest_query(&groups, &keys, 0), 0);
            assert_eq!(widest_query(&groups, &keys, keys.len() + 1), 0);
        }
    }
}
