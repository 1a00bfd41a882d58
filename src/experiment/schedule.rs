//! The order in which pending runs start: longest expected first.
//!
//! Runs of several sweeps (all figures of `leadsim figures`) share one pool of workers; a long
//! run that starts last leaves the other cores idle while it finishes. Starting runs in
//! decreasing order of expected wall time (the "longest processing time first" rule) bounds that
//! tail by the longest single run. The expectation is the run's last measured wall time when a
//! previous version of it left a `provenance.json` (any code: it only orders the work), otherwise
//! a rough model of the run's size. The order never changes a result: every run is independent
//! and written to its own directory.

use super::sweep::PlannedRun;
use crate::manifest::Manifest;
use crate::workload::{QueryKind, WorkloadSpec};
use std::path::Path;

/// Seconds per peer and simulated second of ring maintenance (measured: the Chord-batch paper
/// run, 4,900 peers x 7,200 s in about 90 s of one core).
const PEER_SECOND_S: f64 = 2.6e-6;
/// Seconds per key a batch of point lookups asks for (measured: Fig 15's Chord-batch run).
const BATCH_KEY_S: f64 = 1.5e-7;

/// The expected wall time (seconds, one core) of a run whose directory is `dir`.
pub fn expected_s(r: &PlannedRun, dir: &Path) -> f64 {
    measured_s(dir).unwrap_or_else(|| modelled_s(&r.manifest))
}

/// The wall time a previous version of the run reported, if any.
fn measured_s(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("provenance.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("wall_s")?.as_f64().filter(|s| s.is_finite())
}

/// A rough size model: ring maintenance per peer and second, plus the keys looked up one by one
/// by point-lookup baselines (the only systems whose cost grows with the keys of a query).
pub fn modelled_s(m: &Manifest) -> f64 {
    let peers = m.topology.hosts as f64 * f64::from(m.overlay.vnodes.max(1));
    let ring = peers * m.duration_s * PEER_SECOND_S;
    let keys = m.dataset.as_ref().map_or(0, |d| d.keys) as f64;
    let lookups: f64 = if m.systems.is_empty() {
        batch_keys(&m.protocol, &m.workload, keys, m.duration_s)
    } else {
        m.systems
            .iter()
            .map(|s| {
                let keys = s.dataset.as_ref().map_or(keys, |d| d.keys as f64);
                batch_keys(&s.protocol, &s.workload, keys, m.duration_s)
            })
            .sum()
    };
    ring + lookups * BATCH_KEY_S
}

/// Keys a system looks up one by one over the run (0 for systems that do not).
fn batch_keys(protocol: &str, w: &WorkloadSpec, keys: f64, duration_s: f64) -> f64 {
    if protocol != "chord-batch" {
        return 0.0;
    }
    let per_query = match w.query_shape() {
        Ok((QueryKind::Range, 0)) => keys / f64::from(1u32 << w.range_prefix_bits.unwrap_or(0)),
        Ok((QueryKind::Box, _)) => keys * w.box_selectivity.unwrap_or(0.0),
        Ok((_, n)) => n as f64,
        Err(_) => 0.0,
    };
    w.queries_per_s * (duration_s - w.warmup_s).max(0.0) * per_query
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(text, "test").expect("a valid manifest")
    }

    #[test]
    fn lookups_and_ring_size_order_runs() {
        let small = manifest("duration_s = 100\nprotocol = \"chord-batch\"\n[topology]\nkind = \"euclidean\"\nhosts = 10\n[workload]\nrange_keys = 100\n");
        let more_keys = manifest("duration_s = 100\nprotocol = \"chord-batch\"\n[topology]\nkind = \"euclidean\"\nhosts = 10\n[workload]\nrange_keys = 100000\n");
        let lead = manifest("duration_s = 100\nprotocol = \"lead\"\n[topology]\nkind = \"euclidean\"\nhosts = 10\n[workload]\nrange_keys = 100000\n");
        let longer = manifest("duration_s = 1000\nprotocol = \"lead\"\n[topology]\nkind = \"euclidean\"\nhosts = 10\n[workload]\nrange_keys = 100000\n");
        assert!(modelled_s(&more_keys) > modelled_s(&small));
        assert!(
            modelled_s(&more_keys) > modelled_s(&lead),
            "LEAD walks, it does not look up each key"
        );
        assert!((modelled_s(&longer) / modelled_s(&lead) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn a_previous_wall_time_wins() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let m = manifest(
            "duration_s = 100\nprotocol = \"lead\"\n[topology]\nkind = \"euclidean\"\nhosts = 10\n",
        );
        let r = PlannedRun {
            index: 0,
            params: Vec::new(),
            replication: 0,
            seed: 1,
            manifest: m,
        };
        assert_eq!(expected_s(&r, dir.path()), modelled_s(&r.manifest));
        std::fs::write(dir.path().join("provenance.json"), "{\"wall_s\": 42.5}").expect("write");
        assert_eq!(expected_s(&r, dir.path()), 42.5);
    }
}
