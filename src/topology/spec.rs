//! The manifest's `[topology]` table and how it becomes a [`Topology`].

use super::matrix::{load_matrix, MatrixUnit};
use super::synthetic::{random_graph, Euclidean, PlanetLabLike, RandomSampling};
use super::{Backing, Topology};
use crate::engine::time;
use crate::rng::SimRng;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which latency model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TopologyKind {
    /// A real RTT matrix file (NetLatency-Data format), e.g. `PlanetLabData_1`.
    Planetlab,
    /// Synthetic, calibrated to PlanetLabData_1's statistics (the default).
    #[default]
    PlanetlabLike,
    /// Hosts uniform in a square; RTT proportional to distance, scaled to a median.
    Euclidean,
    /// Random sparse graph with uniform link latencies; RTT = shortest path.
    RandomGraph,
    /// Every pair i.i.d. uniform in `[lo_ms, hi_ms]`.
    RandomSampling,
}

/// Which hosts of a matrix file to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Subset {
    /// The first `hosts` rows (the paper's choice).
    #[default]
    First,
    /// `hosts` rows drawn with the topology seed.
    Random,
}

/// The `[topology]` table. Kind-specific keys are optional and rejected for other kinds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// Latency model (default `planetlab-like`).
    #[serde(default)]
    pub kind: TopologyKind,
    /// Number of physical hosts (default 490, the paper's PlanetLab size).
    #[serde(default = "default_hosts")]
    pub hosts: usize,
    /// Seed of the topology stream; defaults to the run's master seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// `planetlab`: path of the matrix file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// `planetlab`: which hosts of the file (`first` default, or `random`).
    #[serde(default)]
    pub subset: Option<Subset>,
    /// `planetlab`: unit of the file's entries (`ms` default; `s` for SeattleData).
    #[serde(default)]
    pub unit: Option<MatrixUnit>,
    /// `planetlab`: accept a non-zero diagonal (SeattleData has one); it is never used.
    #[serde(default)]
    pub ignore_diagonal: Option<bool>,
    /// `planetlab`: further matrix files (same hosts) switched to every `slice_period_s`.
    #[serde(default)]
    pub time_slices: Option<Vec<PathBuf>>,
    /// `planetlab` with `time_slices`: seconds between slice switches (cycling).
    #[serde(default)]
    pub slice_period_s: Option<f64>,
    /// `euclidean`: median RTT in ms that distances are scaled to (default 135).
    #[serde(default)]
    pub median_ms: Option<f64>,
    /// `random-graph`: links each host adds (default 15).
    #[serde(default)]
    pub degree: Option<usize>,
    /// `random-graph`: link latencies are uniform in `[0, link_max_ms)` (default 200).
    #[serde(default)]
    pub link_max_ms: Option<f64>,
    /// `random-sampling`: lower bound in ms (default 10).
    #[serde(default)]
    pub lo_ms: Option<f64>,
    /// `random-sampling`: upper bound in ms (default 300).
    #[serde(default)]
    pub hi_ms: Option<f64>,
}

fn default_hosts() -> usize {
    490
}

impl Default for TopologySpec {
    fn default() -> Self {
        TopologySpec {
            kind: TopologyKind::default(),
            hosts: default_hosts(),
            seed: None,
            file: None,
            subset: None,
            unit: None,
            ignore_diagonal: None,
            time_slices: None,
            slice_period_s: None,
            median_ms: None,
            degree: None,
            link_max_ms: None,
            lo_ms: None,
            hi_ms: None,
        }
    }
}

impl TopologySpec {
    /// Parses a command-line spec: a file path, or `kind[:hosts]` such as `planetlab-like:490`.
    pub fn from_cli(s: &str) -> Result<TopologySpec> {
        let path = std::path::Path::new(s);
        if path.exists() {
            return Ok(TopologySpec {
                kind: TopologyKind::Planetlab,
                file: Some(path.to_path_buf()),
                ..Default::default()
            });
        }
        let (kind, hosts) = match s.split_once(':') {
            Some((k, h)) => (
                k,
                Some(
                    h.parse::<usize>()
                        .with_context(|| format!("bad host count in '{s}'"))?,
                ),
            ),
            None => (s, None),
        };
        let kind: TopologyKind = serde_json::from_value(serde_json::Value::String(kind.into()))
            .map_err(|_| {
                anyhow::anyhow!(
                    "'{s}' is neither an existing matrix file nor a topology kind \
                     (planetlab-like, euclidean, random-graph, random-sampling)[:hosts]"
                )
            })?;
        if kind == TopologyKind::Planetlab {
            bail!("kind 'planetlab' needs a matrix file: pass its path");
        }
        Ok(TopologySpec {
            kind,
            hosts: hosts.unwrap_or_else(default_hosts),
            ..Default::default()
        })
    }

    /// Checks that kind-specific keys match the kind and values are possible.
    pub fn validate(&self) -> Result<()> {
        if self.hosts == 0 {
            bail!("topology.hosts = 0: a simulation needs at least one host");
        }
        let k = self.kind;
        let only = |name: &str, given: bool, kinds: &[TopologyKind]| -> Result<()> {
            if given && !kinds.contains(&k) {
                bail!("topology.{name} does not apply to kind {k:?}; remove it or change topology.kind");
            }
            Ok(())
        };
        use TopologyKind::*;
        only("file", self.file.is_some(), &[Planetlab])?;
        only("subset", self.subset.is_some(), &[Planetlab])?;
        only("unit", self.unit.is_some(), &[Planetlab])?;
        only(
            "ignore_diagonal",
            self.ignore_diagonal.is_some(),
            &[Planetlab],
        )?;
        only("time_slices", self.time_slices.is_some(), &[Planetlab])?;
        only(
            "slice_period_s",
            self.slice_period_s.is_some(),
            &[Planetlab],
        )?;
        only("median_ms", self.median_ms.is_some(), &[Euclidean])?;
        only("degree", self.degree.is_some(), &[RandomGraph])?;
        only("link_max_ms", self.link_max_ms.is_some(), &[RandomGraph])?;
        only("lo_ms", self.lo_ms.is_some(), &[RandomSampling])?;
        only("hi_ms", self.hi_ms.is_some(), &[RandomSampling])?;
        if k == Planetlab && self.file.is_none() {
            bail!("topology.kind = \"planetlab\" needs topology.file (e.g. ../shared/topologies/PlanetLabData_1)");
        }
        if self.time_slices.as_ref().is_some_and(|v| !v.is_empty()) {
            match self.slice_period_s {
                Some(p) if p > 0.0 && p.is_finite() => {}
                _ => bail!("topology.time_slices needs topology.slice_period_s > 0"),
            }
        }
        let max = crate::limits::MAX_RTT_MS;
        if let Some(m) = self.median_ms {
            if !(m > 0.0 && m <= max) {
                bail!(
                    "topology.median_ms must be in (0, {max}] ms, got {}",
                    crate::limits::num(m)
                );
            }
        }
        if self.degree == Some(0) {
            bail!("topology.degree must be >= 1");
        }
        if let Some(m) = self.link_max_ms {
            // A path sums up to hosts - 1 links; keep the longest path within the RTT limit.
            let lim = max / (self.hosts.max(2) - 1) as f64;
            if !(m > 0.0 && m <= lim) {
                bail!(
                    "topology.link_max_ms must be in (0, {lim}] ms for {} hosts (paths stay within {max} ms), got {}",
                    self.hosts,
                    crate::limits::num(m)
                );
            }
        }
        let (lo, hi) = (self.lo_ms.unwrap_or(10.0), self.hi_ms.unwrap_or(300.0));
        if k == RandomSampling && !(lo >= 0.0 && hi >= lo && hi <= max) {
            bail!(
                "topology.lo_ms / hi_ms must satisfy 0 <= lo_ms <= hi_ms <= {max}, got {} / {}",
                crate::limits::num(lo),
                crate::limits::num(hi)
            );
        }
        Ok(())
    }

    /// Bytes the built topology needs (all-pairs matrices for random graphs, matrices up to the
    /// materialisation size, per-host coordinates otherwise), as a float so huge counts cannot
    /// overflow.
    pub fn memory_bytes(&self) -> f64 {
        let n = self.hosts as f64;
        match self.kind {
            TopologyKind::RandomGraph => 8.0 * n * n + 64.0 * n,
            _ => 64.0 * n + 4.0 * n.min(super::MATERIALIZE_MAX_HOSTS as f64).powi(2),
        }
    }

    /// Builds the topology; `master_seed` is used unless `seed` overrides it.
    pub fn build(&self, master_seed: u64) -> Result<Topology> {
        self.validate()?;
        crate::limits::check_memory(
            &format!("topology {:?} with {} hosts", self.kind, self.hosts),
            self.memory_bytes(),
        )?;
        let seed = self.seed.unwrap_or(master_seed);
        let mut rng = SimRng::stream(seed, "topology");
        let n = self.hosts;
        let topo = match self.kind {
            TopologyKind::Planetlab => {
                let file = self.file.as_ref().expect("validated");
                let unit = self.unit.unwrap_or_default();
                let ignore_diag = self.ignore_diagonal.unwrap_or(false);
                let first = load_matrix(file, unit, ignore_diag)?;
                let total = first.hosts;
                if n > total {
                    bail!(
                        "topology.hosts = {n} but {} has only {total} hosts",
                        file.display()
                    );
                }
                let chosen: Vec<usize> = match self.subset.unwrap_or_default() {
                    Subset::First => (0..n).collect(),
                    Subset::Random => {
                        let mut all: Vec<usize> = (0..total).collect();
                        rng.shuffle(&mut all);
                        let mut c = all[..n].to_vec();
                        c.sort_unstable();
                        c
                    }
                };
                let mut slices = vec![first.select(&chosen)];
                for f in self.time_slices.iter().flatten() {
                    let m = load_matrix(f, unit, ignore_diag)?;
                    if m.hosts != total {
                        bail!(
                            "time slice {} has {} hosts, {} has {total}",
                            f.display(),
                            m.hosts,
                            file.display()
                        );
                    }
                    slices.push(m.select(&chosen));
                }
                let period = self.slice_period_s.map(time::from_secs_f64);
                Topology::new(
                    format!(
                        "planetlab({}, {n} hosts, {} slice(s))",
                        file.display(),
                        slices.len()
                    ),
                    n,
                    Backing::Matrix(slices),
                    period,
                )
            }
            TopologyKind::PlanetlabLike => Topology::new(
                format!("planetlab-like({n} hosts)"),
                n,
                Backing::PlanetLabLike(PlanetLabLike::generate(n, &mut rng)),
                None,
            ),
            TopologyKind::Euclidean => {
                let median = self.median_ms.unwrap_or(135.0);
                Topology::new(
                    format!("euclidean({n} hosts, median {median} ms)"),
                    n,
                    Backing::Euclidean(Euclidean::generate(n, median, &mut rng)),
                    None,
                )
            }
            TopologyKind::RandomGraph => {
                let degree = self.degree.unwrap_or(15);
                let link_max = self.link_max_ms.unwrap_or(200.0);
                let m = random_graph(n, degree, link_max, &mut rng)?;
                Topology::new(
                    format!("random-graph({n} hosts, degree {degree}, links U[0,{link_max}) ms)"),
                    n,
                    Backing::Matrix(vec![m]),
                    None,
                )
            }
            TopologyKind::RandomSampling => {
                let (lo, hi) = (self.lo_ms.unwrap_or(10.0), self.hi_ms.unwrap_or(300.0));
                Topology::new(
                    format!("random-sampling({n} hosts, U[{lo},{hi}] ms)"),
                    n,
                    Backing::RandomSampling(RandomSampling::new(rng.next_u64(), lo, hi)),
                    None,
                )
            }
        };
        Ok(topo.materialized())
    }
}
