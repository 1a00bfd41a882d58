//! LEAD: the learned placement is monotone and covers every key; without churn every key of a
//! range comes back (for linear, radix and cubic RMIs on osm-like keys, and the exact rank); under
//! churn replicas raise completeness; LEAD shares a ring with Chord-batch.

mod common;

use leadsim::experiment::run_manifest;
use leadsim::manifest::Manifest;
use leadsim::output::Outcome;
use leadsim::protocols::lead::placement::Placement;
use std::sync::Arc;

fn run(text: &str) -> leadsim::experiment::RunResult {
    run_manifest(&Manifest::parse(text, "lead.toml").unwrap()).unwrap()
}

fn static_ring(model: &str, dataset: &str, n: usize) -> String {
    format!(
        "seed = 5\nduration_s = 60\nprotocol = \"lead\"\n[topology]\nhosts = 50\n[overlay]\nvnodes = 10\n\
         [churn]\nmodel = \"none\"\n[dataset]\nname = \"{dataset}\"\nkeys = 500000\ncache = false\n\
         [lead]\nmodel = \"{model}\"\n[workload]\nqueries_per_s = 5\nrange_keys = {n}\n"
    )
}

#[test]
fn without_churn_every_key_of_every_range_comes_back_for_every_model() {
    for model in ["exact", "linear", "radix", "cubic"] {
        let r = run(&static_ring(model, "osmc64-like", 3000));
        let recs = &r.output.records[0];
        assert!(recs.len() > 200, "{model}: {} queries", recs.len());
        for q in recs {
            assert_eq!(q.outcome, Outcome::Ok, "{model}: {q:?}");
            assert_eq!(q.keys_returned, q.keys_requested, "{model}: {q:?}");
        }
        let c = r.output.check("every key of a range returned").unwrap();
        assert!(c.holds && c.enforced, "{model}: {c:?}");
    }
}

#[test]
fn the_learned_placement_is_monotone_and_partitions_the_keys() {
    let spec = leadsim::data::DatasetSpec {
        name: "osmc64-like".into(),
        keys: 300_000,
        cache: false,
        ..Default::default()
    };
    let keys = Arc::new(spec.load(std::path::Path::new("datasets")).unwrap());
    for model in ["exact", "linear", "radix", "cubic"] {
        let p = Placement::new(keys.clone(), "osm-test", model).unwrap();
        let mut last = 0;
        for i in (0..keys.len()).step_by(7) {
            let h = p.hash_at(i);
            assert!(h >= last, "{model}: hash decreases at index {i}");
            last = h;
        }
        // Arcs of any ring partition the keys: every key is counted exactly once.
        let mut vids: Vec<u64> = (0..997u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        vids.sort_unstable();
        let total: u64 = (0..vids.len())
            .map(|i| p.count_in(vids[(i + vids.len() - 1) % vids.len()], vids[i]))
            .sum();
        assert_eq!(total, keys.len() as u64, "{model}");
    }
}

#[test]
fn ranges_cost_one_lookup_plus_a_short_walk() {
    // 500,000 keys on 500 peers: ~1,000 keys per peer, so a 3,000-key range spans ~4 peers.
    let r = run(&static_ring("exact", "uniform", 3000));
    let recs = &r.output.records[0];
    let steps = recs.iter().map(|q| f64::from(q.hops)).sum::<f64>() / recs.len() as f64;
    let msgs = recs.iter().map(|q| f64::from(q.messages)).sum::<f64>() / recs.len() as f64;
    assert!(steps < 20.0, "mean hops (route + walk) {steps}");
    // Every route hop and walk step is acknowledged, plus one result message.
    assert!(
        msgs < 2.0 * steps + 2.0 && msgs > steps,
        "messages {msgs} vs hops {steps}"
    );
}

#[test]
fn replicas_keep_keys_available_under_churn() {
    let churned = |replicas: usize| {
        format!(
            "seed = 8\nduration_s = 900\nprotocol = \"lead\"\n[topology]\nhosts = 60\n[overlay]\nvnodes = 5\n\
             [churn]\nmodel = \"uniform\"\nlifetime_mean_s = 300\ndowntime_mean_s = 100\n[chord]\nreplicas = {replicas}\n\
             [dataset]\nname = \"uniform\"\nkeys = 300000\ncache = false\n[lead]\nmodel = \"exact\"\n\
             [workload]\nqueries_per_s = 2\nrange_keys = 2000\nwarmup_s = 30\n"
        )
    };
    let share = |r: &leadsim::experiment::RunResult| common::completeness(&r.output.records[0]);
    let (one, n1) = share(&run(&churned(1)));
    let (three, n3) = share(&run(&churned(3)));
    eprintln!("completeness: replicas 1 {one:.4} ({n1} ok), replicas 3 {three:.4} ({n3} ok)");
    assert!(n1 > 500 && n3 > 500);
    assert!(
        one < 1.0,
        "with one copy, keys of down hosts must be missing"
    );
    assert!(three > one, "3 copies {three} vs 1 copy {one}");
}

#[test]
fn lead_and_chord_batch_share_one_ring() {
    let text = "seed = 2\nduration_s = 120\nprotocol = \"lead\"\n[topology]\nhosts = 40\n[overlay]\nvnodes = 5\n\
        [churn]\nmodel = \"none\"\n[dataset]\nname = \"uniform\"\nkeys = 200000\ncache = false\n\
        [lead]\nmodel = \"exact\"\n[workload]\nqueries_per_s = 1\nrange_keys = 1000\n\
        [[systems]]\nname = \"LEAD\"\n[[systems]]\nname = \"Batch(1000)\"\nprotocol = \"chord-batch\"\n\
        chord_batch = { batch_size = 1000 }\n";
    let r = run(text);
    assert_eq!(r.output.systems, vec!["LEAD", "Batch(1000)"]);
    for recs in &r.output.records {
        assert!(recs.len() > 50);
        assert!(recs.iter().all(|q| q.keys_returned == q.keys_requested));
    }
    let mean = |i: usize| {
        let v = &r.output.records[i];
        v.iter().map(|q| f64::from(q.messages)).sum::<f64>() / v.len() as f64
    };
    assert!(
        mean(0) * 10.0 < mean(1),
        "LEAD {} vs Batch(1000) {} messages",
        mean(0),
        mean(1)
    );
}

#[test]
fn a_bad_model_spec_is_explained_with_its_line() {
    let text =
        static_ring("exact", "uniform", 100).replace("model = \"exact\"", "model = \"btree\"");
    let e = Manifest::parse(&text, "m.toml").unwrap_err().to_string();
    assert!(
        e.contains("m.toml:") && e.contains("lead.model") && e.contains("btree"),
        "{e}"
    );
    let e = Manifest::parse(&format!("{text}[lead]\n"), "m.toml");
    assert!(e.is_err(), "a duplicated table is refused");
}
