//! The planetlab-like generator must reproduce PlanetLabData_1's distribution (within 10%), and
//! the synthetic models must honour their parameters.

use leadsim::topology::stats::topology_stats;
use leadsim::topology::{TopologyKind, TopologySpec};
use std::path::Path;

const REAL: &str = "../shared/topologies/PlanetLabData_1";

/// Published facts of PlanetLabData_1 (../shared/topologies/README.md).
const FACTS: [(&str, f64); 6] = [
    ("p10", 31.6),
    ("median", 135.0),
    ("mean", 146.8),
    ("p90", 290.7),
    ("p99", 412.6),
    ("triangle", 0.059),
];

fn synthetic(kind: TopologyKind, seed: u64) -> leadsim::topology::stats::TopologyStats {
    let spec = TopologySpec {
        kind,
        hosts: 490,
        ..Default::default()
    };
    topology_stats(&spec.build(seed).unwrap(), 1)
}

#[test]
fn planetlab_like_matches_published_quantiles() {
    for seed in 1..=8 {
        let s = synthetic(TopologyKind::PlanetlabLike, seed);
        let got = [
            s.p10,
            s.median,
            s.mean,
            s.p90,
            s.p99,
            s.triangle_violation_share,
        ];
        for ((name, want), g) in FACTS.iter().zip(got) {
            let tol = if *name == "triangle" { 0.25 } else { 0.10 };
            assert!(
                (g - want).abs() / want <= tol,
                "seed {seed}: {name} = {g:.3}, PlanetLabData_1 has {want}"
            );
        }
        assert!(
            s.nearest_neighbour_median < 1.0,
            "site clustering lost: {}",
            s.nearest_neighbour_median
        );
    }
}

#[test]
fn planetlab_like_matches_the_real_file_when_present() {
    if !Path::new(REAL).exists() {
        println!("SKIPPED: {REAL} not present; the published-facts test still ran");
        return;
    }
    let real = TopologySpec {
        kind: TopologyKind::Planetlab,
        file: Some(REAL.into()),
        ..Default::default()
    };
    let r = topology_stats(&real.build(1).unwrap(), 1);
    assert!(
        (r.median - 135.01).abs() < 0.01,
        "loader broke the real matrix: median {}",
        r.median
    );
    let s = synthetic(TopologyKind::PlanetlabLike, 1);
    for (name, real_v, synth_v) in [
        ("p10", r.p10, s.p10),
        ("median", r.median, s.median),
        ("mean", r.mean, s.mean),
        ("p90", r.p90, s.p90),
        ("p99", r.p99, s.p99),
    ] {
        assert!(
            (synth_v - real_v).abs() / real_v <= 0.10,
            "{name}: synthetic {synth_v:.2} vs real {real_v:.2}"
        );
    }
}

#[test]
fn euclidean_median_and_random_sampling_bounds() {
    let e = TopologySpec {
        kind: TopologyKind::Euclidean,
        hosts: 300,
        median_ms: Some(80.0),
        ..Default::default()
    };
    let s = topology_stats(&e.build(4).unwrap(), 1);
    assert!((s.median - 80.0).abs() < 1.0, "median {}", s.median);
    assert!(
        s.triangle_violation_share < 0.001,
        "a metric space has no violations beyond µs rounding"
    );
    let r = TopologySpec {
        kind: TopologyKind::RandomSampling,
        hosts: 200,
        lo_ms: Some(20.0),
        hi_ms: Some(60.0),
        ..Default::default()
    };
    let s = topology_stats(&r.build(4).unwrap(), 1);
    assert!(
        s.min >= 20.0 && s.max <= 60.0 && (s.mean - 40.0).abs() < 0.5,
        "{s:?}"
    );
    let g = TopologySpec {
        kind: TopologyKind::RandomGraph,
        hosts: 200,
        ..Default::default()
    };
    let s = topology_stats(&g.build(4).unwrap(), 1);
    // Shortest paths obey the triangle inequality exactly.
    assert!(
        s.triangle_violation_share == 0.0,
        "{}",
        s.triangle_violation_share
    );
    assert!(s.max < 200.0 * 6.0);
}

#[test]
fn random_subset_of_a_file_is_seeded() {
    if !Path::new(REAL).exists() {
        println!("SKIPPED: {REAL} not present");
        return;
    }
    use leadsim::topology::Subset;
    let spec = |seed| TopologySpec {
        kind: TopologyKind::Planetlab,
        file: Some(REAL.into()),
        hosts: 100,
        subset: Some(Subset::Random),
        seed: Some(seed),
        ..Default::default()
    };
    let a = spec(1).build(0).unwrap();
    let b = spec(1).build(99).unwrap();
    let c = spec(2).build(0).unwrap();
    let row =
        |t: &leadsim::topology::Topology| (1..100).map(|j| t.rtt_us(0, 0, j)).collect::<Vec<_>>();
    assert_eq!(row(&a), row(&b), "topology.seed overrides the run seed");
    assert_ne!(row(&a), row(&c));
}
