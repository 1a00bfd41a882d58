//! Host-to-host latency models ("topologies").
//!
//! A [`Topology`] answers one question fast: the round-trip time between two hosts, in µs, under
//! a time slice. It is built from a [`TopologySpec`] (the manifest's `[topology]` table): a real
//! matrix file in the NetLatency-Data format ([`matrix`]) or one of the synthetic generators
//! ([`synthetic`]). Models defined by coordinates are materialised into a matrix for small host
//! counts (speed) and evaluated on the fly beyond [`MATERIALIZE_MAX_HOSTS`] (memory).

pub mod matrix;
pub mod spec;
pub mod stats;
pub mod synthetic;
pub mod triangle;

use crate::engine::Time;
use crate::ids::HostId;
pub use spec::{Subset, TopologyKind, TopologySpec};
use synthetic::{Euclidean, PlanetLabLike, RandomSampling};
use triangle::Triangle;

/// Above this many hosts, coordinate-based models are not materialised into an N x N matrix.
pub const MATERIALIZE_MAX_HOSTS: usize = 4096;

/// How latencies are stored or computed.
pub enum Backing {
    /// Row-major N x N RTTs in µs, one matrix per time slice.
    Matrix(Vec<Vec<u32>>),
    /// A symmetric matrix stored as its upper triangle in 3 or 4 bytes per entry ([`Triangle`]),
    /// one per time slice: under half the bytes, so more of it stays in cache.
    /// [`Topology::new`] stores every symmetric [`Backing::Matrix`] this way; the values are
    /// the same.
    Triangle(Vec<Triangle>),
    /// The synthetic PlanetLab-like model, evaluated per pair.
    PlanetLabLike(PlanetLabLike),
    /// Points in a square, evaluated per pair.
    Euclidean(Euclidean),
    /// I.i.d. uniform pair latencies from a keyed hash, evaluated per pair.
    RandomSampling(RandomSampling),
}

/// A latency model over `host_count()` hosts.
pub struct Topology {
    /// Human-readable description (kind and source), for reports.
    pub description: String,
    hosts: usize,
    backing: Backing,
    slice_period: Option<Time>,
    symmetric: bool,
}

impl Topology {
    /// Wraps a backing store.
    pub fn new(
        description: String,
        hosts: usize,
        backing: Backing,
        slice_period: Option<Time>,
    ) -> Self {
        let symmetric = match &backing {
            Backing::Matrix(slices) => slices.iter().all(|m| {
                (0..hosts).all(|a| (a + 1..hosts).all(|b| m[a * hosts + b] == m[b * hosts + a]))
            }),
            // The synthetic per-pair models are symmetric by construction.
            _ => true,
        };
        let backing = match backing {
            Backing::Matrix(slices) if symmetric && hosts > 1 => Backing::Triangle(
                slices
                    .iter()
                    .map(|m| Triangle::from_matrix(m, hosts))
                    .collect(),
            ),
            other => other,
        };
        Topology {
            description,
            hosts,
            backing,
            slice_period,
            symmetric,
        }
    }

    /// True when rtt(a, b) == rtt(b, a) for every pair and slice (lets callers read one entry).
    pub fn is_symmetric(&self) -> bool {
        self.symmetric
    }

    /// Number of hosts.
    pub fn host_count(&self) -> usize {
        self.hosts
    }

    /// Number of time slices (1 for static models).
    pub fn slice_count(&self) -> usize {
        match &self.backing {
            Backing::Matrix(s) => s.len(),
            Backing::Triangle(s) => s.len(),
            _ => 1,
        }
    }

    /// Time between slice switches, when there are several slices.
    pub fn slice_period(&self) -> Option<Time> {
        if self.slice_count() > 1 {
            self.slice_period
        } else {
            None
        }
    }

    /// Round-trip time between hosts `a` and `b` (`a != b`) in µs, in time slice `slice`.
    /// A stored triangle (every symmetric matrix: PlanetLab, Seattle, materialised models) is
    /// read inline, the other backings out of line.
    #[inline(always)]
    pub fn rtt_us(&self, slice: usize, a: HostId, b: HostId) -> Time {
        if let Backing::Triangle(s) = &self.backing {
            if let Some(m) = s.get(slice) {
                return m.rtt(a, b);
            }
        }
        self.rtt_us_out_of_line(slice, a, b)
    }

    /// [`Topology::rtt_us`] for every backing.
    #[inline(never)]
    fn rtt_us_out_of_line(&self, slice: usize, a: HostId, b: HostId) -> Time {
        match &self.backing {
            Backing::Matrix(s) => Time::from(s[slice][a as usize * self.hosts + b as usize]),
            Backing::Triangle(s) => s[slice].rtt(a, b),
            Backing::PlanetLabLike(m) => m.rtt_us(a, b),
            Backing::Euclidean(m) => m.rtt_us(a, b),
            Backing::RandomSampling(m) => m.rtt_us(a, b),
        }
    }

    /// Starts loading what [`Self::rtt_us`] reads about host `h` in an on-the-fly model (a
    /// cache hint; a matrix's entry depends on the pair, so nothing is hinted there).
    #[inline]
    pub fn prefetch_host(&self, h: HostId) {
        match &self.backing {
            Backing::PlanetLabLike(m) => m.prefetch(h),
            Backing::Euclidean(m) => m.prefetch(h),
            _ => {}
        }
    }

    /// Replaces an on-the-fly model by its matrix when the host count is small enough.
    pub fn materialized(self) -> Self {
        if matches!(self.backing, Backing::Matrix(_) | Backing::Triangle(_))
            || self.hosts > MATERIALIZE_MAX_HOSTS
        {
            return self;
        }
        let n = self.hosts;
        let mut m = vec![0u32; n * n];
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    m[a * n + b] = self.rtt_us(0, a as HostId, b as HostId) as u32;
                }
            }
        }
        Topology::new(
            self.description,
            n,
            Backing::Matrix(vec![m]),
            self.slice_period,
        )
    }
}
