//! Learned hashes: monotone in the key (on seen and unseen keys, duplicates and extremes), inside
//! [0, N-1], error bounds honoured, deterministic across thread counts.

use leadsim::data::synth::{generate, SynthName};
use leadsim::learned::{ring_position, LearnedModel, ModelSpec};
use leadsim::rng::SimRng;

fn specs() -> Vec<&'static str> {
    vec![
        "rmi:linear,linear,64",
        "rmi:robust-linear,linear-spline,256",
        "rmi:cubic,linear,512",
        "rmi:cubic,cubic,128",
        "rmi:radix12,linear,256",
        "rmi:radix8,cubic,64",
        "rs:16,10",
        "rs:64,14",
        "pgm:8",
        "pgm:64",
    ]
}

/// Datasets that stress monotonicity: clustered with duplicates, extremes, tiny, constant.
fn datasets() -> Vec<(String, Vec<u64>)> {
    let mut v = vec![
        (
            "osm".to_string(),
            generate(SynthName::Osmc64Like, 50_000, 3),
        ),
        (
            "face".to_string(),
            generate(SynthName::Face64Like, 50_000, 3),
        ),
        (
            "wiki".to_string(),
            generate(SynthName::Wiki64Like, 50_000, 3),
        ),
    ];
    let mut r = SimRng::from_seed(4);
    let mut ext: Vec<u64> = (0..20_000).map(|_| r.next_u64() >> r.below(64)).collect();
    ext.extend([0, 0, 0, u64::MAX, u64::MAX, 1, u64::MAX - 1]);
    ext.sort_unstable();
    v.push(("extremes".to_string(), ext));
    v.push(("single".to_string(), vec![42]));
    v.push(("constant".to_string(), vec![7; 1000]));
    v.push(("two".to_string(), vec![0, u64::MAX]));
    v
}

fn probes(keys: &[u64]) -> Vec<u64> {
    let mut r = SimRng::from_seed(9);
    let mut p: Vec<u64> = keys.to_vec();
    p.extend((0..20_000).map(|_| r.next_u64()));
    p.extend((0..20_000).map(|_| {
        let k = keys[r.below(keys.len() as u64) as usize];
        k.wrapping_add(r.below(1000)).wrapping_sub(500)
    }));
    p.extend([0, 1, u64::MAX, u64::MAX - 1]);
    p.sort_unstable();
    p
}

#[test]
fn every_model_is_monotone_and_in_range() {
    for (name, keys) in datasets() {
        let probes = probes(&keys);
        for spec in specs() {
            let model = ModelSpec::parse(spec).unwrap().train(&keys).unwrap();
            let n = keys.len() as f64;
            let mut prev = f64::NEG_INFINITY;
            let mut prev_ring = 0u64;
            for &k in &probes {
                let p = model.predict(k);
                assert!(
                    (0.0..=n - 1.0).contains(&p),
                    "{spec} on {name}: predict({k}) = {p} outside [0, {}]",
                    n - 1.0
                );
                assert!(
                    p >= prev,
                    "{spec} on {name}: not monotone at key {k}: {p} < {prev}"
                );
                let rp = ring_position(model.as_ref(), k);
                assert!(
                    rp >= prev_ring,
                    "{spec} on {name}: ring position not monotone at {k}"
                );
                prev = p;
                prev_ring = rp;
            }
        }
    }
}

fn max_error(model: &dyn LearnedModel, keys: &[u64]) -> f64 {
    let mut worst = 0.0f64;
    let mut run = 0;
    for (i, &k) in keys.iter().enumerate() {
        if i > 0 && keys[i - 1] != k {
            run = i;
        }
        worst = worst.max((model.predict(k) - run as f64).abs());
    }
    worst
}

#[test]
fn error_bounded_models_keep_their_bound() {
    let keys = generate(SynthName::Osmc64Like, 100_000, 5);
    for eps in [8usize, 32, 128] {
        let rs = ModelSpec::RadixSpline {
            epsilon: eps,
            radix_bits: 12,
        }
        .train(&keys)
        .unwrap();
        let pgm = ModelSpec::Pgm { epsilon: eps }.train(&keys).unwrap();
        assert!(
            max_error(rs.as_ref(), &keys) <= eps as f64 + 1.0,
            "rs eps {eps}: {}",
            max_error(rs.as_ref(), &keys)
        );
        assert!(
            max_error(pgm.as_ref(), &keys) <= eps as f64 + 1.0,
            "pgm eps {eps}: {}",
            max_error(pgm.as_ref(), &keys)
        );
    }
    // More leaves never hurt an RMI on smooth data by much, and a linear set is learnt exactly.
    let linear: Vec<u64> = (0..100_000u64).map(|i| 1_000 + 17 * i).collect();
    let m = ModelSpec::parse("rmi:linear,linear,1024")
        .unwrap()
        .train(&linear)
        .unwrap();
    assert!(max_error(m.as_ref(), &linear) < 1e-3);
}

#[test]
fn training_is_deterministic_across_thread_counts() {
    let keys = generate(SynthName::Osmc64Like, 300_000, 8);
    let probes = probes(&keys);
    for spec in [
        "rmi:cubic,linear,4096",
        "rmi:radix14,cubic,1024",
        "rs:32,14",
        "pgm:32",
    ] {
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let m = ModelSpec::parse(spec).unwrap().train(&keys).unwrap();
                (
                    m.size_bytes(),
                    probes
                        .iter()
                        .map(|&k| m.predict(k).to_bits())
                        .collect::<Vec<_>>(),
                )
            })
        };
        assert!(run(1) == run(2), "{spec} differs between 1 and 2 threads");
    }
}

#[test]
fn bad_model_specs_are_explained() {
    for (bad, want) in [
        ("rmi:cubic,linear", "unknown model"),
        ("rmi:quartic,linear,64", "unknown RMI root"),
        ("rmi:linear,spline,64", "unknown RMI leaf"),
        ("rmi:linear,linear,0", "branching factor"),
        ("rmi:linear,linear,x", "not a number"),
        ("rs:32,40", "radix bits"),
        ("btree", "unknown model"),
    ] {
        let e = ModelSpec::parse(bad).unwrap_err().to_string();
        assert!(e.contains(want), "{bad}: {e}");
    }
    assert!(ModelSpec::parse("rmi:linear,linear,64")
        .unwrap()
        .train(&[])
        .is_err());
}

#[test]
fn model_scout_respects_the_budget_and_prefers_accuracy() {
    let keys = generate(SynthName::Osmc64Like, 400_000, 2);
    let small = leadsim::learned::scout::scout(&keys, 200_000).unwrap();
    assert!(small.size_bytes <= 200_000, "{small:?}");
    let big = leadsim::learned::scout::scout(&keys, 64 << 20).unwrap();
    assert!(
        big.p99_error <= small.p99_error,
        "a larger budget cannot choose worse: {big:?} vs {small:?}"
    );
    assert!(leadsim::learned::scout::scout(&keys, 10).is_err());
    let again = leadsim::learned::scout::scout(&keys, 200_000).unwrap();
    assert_eq!(format!("{:?}", again.spec), format!("{:?}", small.spec));
}
