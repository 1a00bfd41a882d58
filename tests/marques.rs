//! MARQUES: without churn every key of a range (and every single key) comes back, from the cells'
//! groups; under churn replicas raise completeness and unreachable cells are reported missing;
//! MARQUES's records are byte-identical alone and beside LEAD and Chord-batch (its own ring, the
//! same kernel), and theirs are unchanged by it; bad settings are explained.

mod common;

use leadsim::experiment::run_manifest;
use leadsim::manifest::Manifest;
use leadsim::output::Outcome;

fn run(text: &str) -> leadsim::experiment::RunResult {
    run_manifest(&Manifest::parse(text, "marques.toml").unwrap()).unwrap()
}

fn static_ring(dataset: &str, query: &str, extra: &str) -> String {
    format!(
        "seed = 5\nduration_s = 60\nprotocol = \"marques\"\n[topology]\nhosts = 50\n[overlay]\nvnodes = 10\n\
         [churn]\nmodel = \"none\"\n[dataset]\nname = \"{dataset}\"\nkeys = 500000\ncache = false\n\
         [workload]\nqueries_per_s = 5\n{query}\n{extra}"
    )
}

#[test]
fn without_churn_every_key_of_every_range_and_lookup_comes_back() {
    for dataset in ["osmc64-like", "uniform", "wiki64-like"] {
        for (query, cells) in [
            ("range_keys = 3000", "auto"),
            ("range_keys = 3000", "50"),
            ("query = \"lookup\"", "auto"),
        ] {
            let r = run(&static_ring(
                dataset,
                query,
                &format!(
                    "[marques]\ncell_bits = {}\n",
                    if cells == "auto" {
                        "\"auto\"".to_string()
                    } else {
                        cells.to_string()
                    }
                ),
            ));
            let recs = &r.output.records[0];
            assert!(
                recs.len() > 200,
                "{dataset} {query}: {} queries",
                recs.len()
            );
            for q in recs {
                assert_eq!(q.outcome, Outcome::Ok, "{dataset} {query}: {q:?}");
                assert_eq!(
                    q.keys_returned, q.keys_requested,
                    "{dataset} {query}: {q:?}"
                );
            }
            let c = r.output.check("every key of a range returned").unwrap();
            assert!(c.holds && c.enforced, "{dataset} {query}: {c:?}");
            let ring = r.output.check("ring consistent").unwrap();
            assert!(ring.holds && ring.enforced, "{ring:?}");
        }
    }
}

fn metric(r: &leadsim::experiment::RunResult, name: &str) -> f64 {
    r.output.metric(name).unwrap()
}

#[test]
fn smaller_cells_mean_more_lookups_per_range() {
    let cost = |bits: u32| {
        let r = run(&static_ring(
            "uniform",
            "range_keys = 3000",
            &format!("[marques]\ncell_bits = {bits}\n"),
        ));
        let recs = &r.output.records[0];
        let msgs = recs.iter().map(|q| f64::from(q.messages)).sum::<f64>() / recs.len() as f64;
        (metric(&r, "marques_cells_per_query"), msgs)
    };
    // 500,000 uniform keys: a 3,000-key range spans ~2^56.6 curve indices.
    let (c_big, m_big) = cost(60);
    let (c_small, m_small) = cost(52);
    assert!(c_big < 2.0 && c_small > 20.0, "cells {c_big} vs {c_small}");
    assert!(m_small > 5.0 * m_big, "messages {m_big} vs {m_small}");
}

#[test]
fn a_single_key_costs_an_outer_lookup_plus_at_most_one_inner_hop() {
    let r = run(&static_ring("osmc64-like", "query = \"lookup\"", ""));
    let recs = &r.output.records[0];
    assert!((metric(&r, "marques_cells_per_query") - 1.0).abs() < 1e-12);
    // 500 peers in groups of 6 (or 7).
    assert_eq!(metric(&r, "marques_groups"), (500 / 6) as f64);
    // Route hops are acknowledged (2 messages each), a forward inside the group is an
    // acknowledged RPC, and one reply goes to the origin.
    for q in recs {
        assert!(q.hops >= 1 && q.hops < 20, "{q:?}");
        assert!(q.messages <= 2 * q.hops + 4, "{q:?}");
    }
}

const CHURNED: &str = "seed = 8\nduration_s = 900\n[topology]\nhosts = 60\n[overlay]\nvnodes = 5\n\
     [churn]\nmodel = \"uniform\"\nlifetime_mean_s = 300\ndowntime_mean_s = 100\n\
     [dataset]\nname = \"uniform\"\nkeys = 300000\ncache = false\n\
     [workload]\nqueries_per_s = 2\nrange_keys = 2000\nwarmup_s = 30\n";

fn completeness(r: &leadsim::experiment::RunResult, sys: usize) -> (f64, usize) {
    common::completeness(&r.output.records[sys])
}

#[test]
fn replicas_keep_keys_available_under_churn() {
    let churned = |replicas: usize| {
        run(&format!(
            "protocol = \"marques\"\n{CHURNED}[chord]\nreplicas = {replicas}\n"
        ))
    };
    let (one, n1) = completeness(&churned(1), 0);
    let (three, n3) = completeness(&churned(3), 0);
    eprintln!("completeness: replicas 1 {one:.4} ({n1} ok), replicas 3 {three:.4} ({n3} ok)");
    assert!(n1 > 500 && n3 > 500);
    assert!(
        one < 1.0,
        "with one copy, keys of down hosts must be missing"
    );
    assert!(
        three > one && three > 0.97,
        "3 copies {three} vs 1 copy {one}"
    );
}

#[test]
fn marques_beside_lead_and_chord_batch_changes_nobody_s_records() {
    let systems = "[[systems]]\nname = \"LEAD\"\nprotocol = \"lead\"\nlead = { model = \"exact\" }\n\
        [[systems]]\nname = \"Batch(1000)\"\nprotocol = \"chord-batch\"\nchord_batch = { batch_size = 1000 }\n";
    let marques = "[[systems]]\nname = \"MARQUES\"\nprotocol = \"marques\"\n";
    let pair = run(&format!("protocol = \"lead\"\n{CHURNED}{systems}"));
    let alone = run(&format!("protocol = \"marques\"\n{CHURNED}{marques}"));
    let all = run(&format!("protocol = \"lead\"\n{CHURNED}{systems}{marques}"));
    assert_eq!(all.output.systems, vec!["LEAD", "Batch(1000)", "MARQUES"]);
    assert_eq!(
        pair.output.records[0], all.output.records[0],
        "LEAD changed"
    );
    assert_eq!(
        pair.output.records[1], all.output.records[1],
        "Batch changed"
    );
    let (a, b) = (&alone.output.records[0], &all.output.records[2]);
    if let Some(i) = (0..a.len().min(b.len())).find(|&i| a[i] != b[i]) {
        panic!("MARQUES changed at query {i}: {:?} vs {:?}", a[i], b[i]);
    }
    assert_eq!(a.len(), b.len(), "MARQUES changed");
    assert!(all.output.records[2].iter().any(|q| q.timeouts > 0));
    // Two rings in one kernel: both checked.
    let rings = all
        .output
        .checks
        .iter()
        .filter(|c| c.name == "ring consistent");
    assert_eq!(rings.count(), 2);
}

#[test]
fn bad_settings_are_explained() {
    for (extra, needle) in [
        ("[marques]\ngroup_size = 0\n", "marques.group_size"),
        ("[marques]\ncell_bits = 65\n", "marques.cell_bits"),
        ("[marques]\ncell_bits = \"small\"\n", "marques.cell_bits"),
        (
            "[marques]\ncells_per_group = 0\n",
            "marques.cells_per_group",
        ),
    ] {
        let text = static_ring("uniform", "range_keys = 100", extra);
        let e = Manifest::parse(&text, "m.toml").unwrap_err().to_string();
        assert!(e.contains(needle) && e.contains("m.toml:"), "{e}");
    }
    // The box keys: validated, and only with box queries.
    let boxes = "[dataset]\nname = \"points-uniform\"\nkeys = 1000\n[workload]\nquery = \"box\"\n";
    for (workload, needle) in [
        (
            "box_selectivity = 0.0",
            "workload.box_selectivity must be in (0, 1]",
        ),
        (
            "box_selectivity = 2.0",
            "workload.box_selectivity must be in (0, 1]",
        ),
        (
            "box_intervals = 0",
            "workload.box_intervals must be in [1, 4096]",
        ),
        (
            "box_intervals = 5000",
            "workload.box_intervals must be in [1, 4096]",
        ),
        ("range_keys = 10", "workload.range_keys applies only"),
    ] {
        let text = format!("protocol = \"marques\"\n{boxes}{workload}\n");
        let e = Manifest::parse(&text, "b.toml").unwrap_err().to_string();
        assert!(e.contains(needle) && e.contains("b.toml"), "{e}");
    }
    let text = static_ring("uniform", "range_keys = 100\nbox_intervals = 4", "");
    let e = Manifest::parse(&text, "r.toml").unwrap_err().to_string();
    assert!(e.contains("apply only to workload.query = \"box\""), "{e}");
    // Cells so small that a range needs more lookups than allowed: refused with the count.
    let text = static_ring(
        "uniform",
        "range_keys = 3000",
        "[marques]\ncell_bits = 20\n",
    );
    let e = run_manifest(&Manifest::parse(&text, "m.toml").unwrap())
        .err()
        .unwrap();
    let e = format!("{e:#}");
    assert!(
        e.contains("raise marques.cell_bits") && e.contains("cells"),
        "{e}"
    );
}

#[test]
fn box_queries_return_every_point_in_the_box_for_lead_marques_and_chord_batch() {
    let text = "seed = 4\nduration_s = 60\nprotocol = \"lead\"\n[topology]\nhosts = 40\n[overlay]\nvnodes = 5\n\
        [churn]\nmodel = \"none\"\n[dataset]\nname = \"points-osm-like\"\nkeys = 300000\ncache = false\n\
        [workload]\nqueries_per_s = 3\nquery = \"box\"\nbox_selectivity = 1e-3\nbox_intervals = 8\n\
        [[systems]]\nname = \"LEAD\"\n[[systems]]\nname = \"MARQUES\"\nprotocol = \"marques\"\n\
        [[systems]]\nname = \"Batch(1000)\"\nprotocol = \"chord-batch\"\nchord_batch = { batch_size = 1000 }\n";
    let r = run(text);
    let mut sizes = Vec::new();
    for (name, recs) in r.output.systems.iter().zip(&r.output.records) {
        let ok: Vec<_> = recs.iter().filter(|q| q.outcome == Outcome::Ok).collect();
        assert!(ok.len() > 100, "{name}: {} answered", ok.len());
        for q in &ok {
            assert_eq!(q.kind, "box");
            assert_eq!(q.keys_returned, q.keys_requested, "{name}: {q:?}");
        }
        sizes.push(ok.iter().map(|q| q.keys_requested).sum::<u64>() as f64 / ok.len() as f64);
    }
    // Boxes centred on data points of a clustered set hold many points.
    assert!(
        sizes.iter().all(|&s| s > 50.0),
        "mean points per box {sizes:?}"
    );
    // A box on a 1-D dataset is refused.
    let bad = text.replace("points-osm-like", "uniform");
    let e = run_manifest(&Manifest::parse(&bad, "m.toml").unwrap())
        .err()
        .unwrap();
    assert!(
        format!("{e:#}").contains("two-attribute point dataset"),
        "{e:#}"
    );
}
