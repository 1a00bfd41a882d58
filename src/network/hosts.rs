//! Which host runs a peer. Host `h` runs a run of consecutive peer ids; when every host runs
//! the same number `v` of them (the common case), the host of peer `p` is `p / v`, computed
//! with one multiplication instead of read from a table: at 10^6 peers the table is 4 MB and
//! its reads were cache misses on every message (`docs/performance.md`, step 14).

use crate::ids::{HostId, PeerId};

/// The peer-to-host map of a network.
#[derive(Clone, Debug)]
pub struct HostMap {
    peers: usize,
    /// Peers per host when uniform (0: use `table`).
    per_host: u32,
    /// `floor(2^64 / per_host) + 1`: `(p * magic) >> 64 == p / per_host` for every 32-bit
    /// `p` (Lemire, Kaser and Kurz, "Faster remainder by direct computation", 2019).
    magic: u64,
    /// The host of every peer when hosts run different numbers of peers (else empty).
    table: Vec<HostId>,
}

impl HostMap {
    /// Host `h` runs `vnodes[h]` consecutive peers, host 0 first.
    ///
    /// ```
    /// use leadsim::network::hosts::HostMap;
    /// let uniform = HostMap::new(&[10, 10, 10]);
    /// assert_eq!((uniform.host_of(0), uniform.host_of(19), uniform.host_of(29)), (0, 1, 2));
    /// let mixed = HostMap::new(&[2, 0, 3]);
    /// assert_eq!((0..5).map(|p| mixed.host_of(p)).collect::<Vec<_>>(), [0, 0, 2, 2, 2]);
    /// assert_eq!(mixed.peers(), 5);
    /// ```
    pub fn new(vnodes: &[u32]) -> Self {
        let peers = vnodes.iter().map(|&v| v as usize).sum();
        match vnodes.first() {
            Some(&v) if v >= 2 && vnodes.iter().all(|&w| w == v) => HostMap {
                peers,
                per_host: v,
                magic: (u64::MAX / u64::from(v)).wrapping_add(1),
                table: Vec::new(),
            },
            _ => {
                let mut table = Vec::with_capacity(peers);
                for (h, &v) in vnodes.iter().enumerate() {
                    table.extend(std::iter::repeat_n(h as HostId, v as usize));
                }
                HostMap {
                    peers,
                    per_host: 0,
                    magic: 0,
                    table,
                }
            }
        }
    }

    /// Number of peers.
    #[inline]
    pub fn peers(&self) -> usize {
        self.peers
    }

    /// The host of peer `p` (`p` must be a peer of the network).
    #[inline]
    pub fn host_of(&self, p: PeerId) -> HostId {
        if self.per_host != 0 {
            debug_assert!((p as usize) < self.peers, "peer {p} out of range");
            self.divide(p)
        } else {
            self.table[p as usize]
        }
    }

    /// `p / per_host` by the multiplication (uniform hosts only).
    #[inline]
    fn divide(&self, p: u32) -> HostId {
        ((u128::from(p) * u128::from(self.magic)) >> 64) as HostId
    }

    /// The host of `p` when it is computed rather than read (uniform hosts), for cache hints
    /// that must not wait on a load.
    #[inline]
    pub fn computed(&self, p: PeerId) -> Option<HostId> {
        (self.per_host != 0 && (p as usize) < self.peers).then(|| self.host_of(p))
    }

    /// Starts loading `p`'s table entry (a cache hint; nothing to load when uniform).
    #[inline]
    pub fn prefetch(&self, p: PeerId) {
        if let Some(h) = self.table.get(p as usize) {
            crate::engine::prefetch(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HostMap;

    /// The multiplication equals the division for every divisor a run may use, at the ends of
    /// the 32-bit range and across many host boundaries.
    #[test]
    fn the_multiplication_is_the_division() {
        for v in 2..=300u32 {
            let m = HostMap::new(&[v, v]);
            for p in (0..100_000).chain(u32::MAX - 100_000..=u32::MAX) {
                assert_eq!(m.divide(p), p / v, "peer {p}, {v} per host");
            }
        }
        let m = HostMap::new(&vec![10; 100_000]);
        for p in 0..1_000_000u32 {
            assert_eq!(m.host_of(p), p / 10);
        }
    }

    /// One peer per host, and hosts of different sizes, use the table.
    #[test]
    fn irregular_hosts_use_the_table() {
        let one = HostMap::new(&[1, 1, 1]);
        assert_eq!(
            (0..3).map(|p| one.host_of(p)).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        let mixed = HostMap::new(&[3, 1, 0, 2]);
        let hosts: Vec<u32> = (0..6).map(|p| mixed.host_of(p)).collect();
        assert_eq!(hosts, [0, 0, 0, 1, 3, 3]);
        assert_eq!(HostMap::new(&[]).peers(), 0);
    }
}
