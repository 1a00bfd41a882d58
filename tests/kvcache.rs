//! The KV-cache case study (Fig 15): composite block keys, prompts that ask for a whole document
//! prefix with Zipf popularity, the cache-hit model, and the per-host query load that the
//! query-CoV is computed from.

mod common;

use leadsim::experiment::run_manifest;
use leadsim::experiment::sweep::SweepPlan;
use leadsim::ledger::QueryStream;
use leadsim::manifest::Manifest;
use leadsim::output::Outcome;
use leadsim::workload::{prefix_groups, Popularity, WorkloadSpec};

fn run(text: &str) -> leadsim::experiment::RunResult {
    run_manifest(&Manifest::parse(text, "kv.toml").unwrap()).unwrap()
}

/// Fig 15's setting, small: 8 workers, 100 µs RTT, 600 k blocks, about 600 prompts.
fn manifest(protocol: &str, extra: &str) -> String {
    format!(
        "seed = 5\nduration_s = 60\nprotocol = \"{protocol}\"\n[topology]\nkind = \"random-sampling\"\n\
         hosts = 8\nlo_ms = 0.05\nhi_ms = 0.15\n[latency]\nlocal_us = 5\n[overlay]\nvnodes = 10\n\
         [churn]\nmodel = \"none\"\n[dataset]\nname = \"kvcache-like\"\nkeys = 600000\ncache = false\n\
         [workload]\nqueries_per_s = 10\nrange_prefix_bits = 10\npopularity = \"zipf:0.6\"\n\
         [output]\nhosts = true\n{extra}"
    )
}

#[test]
fn every_prompt_gets_its_whole_document_and_query_traffic_is_counted_where_it_lands() {
    let mut hit = Vec::new();
    let mut cov = Vec::new();
    for protocol in ["c-table", "chord-batch", "lead"] {
        let extra = if protocol == "chord-batch" {
            "[chord_batch]\nbatch_size = 1000\n"
        } else {
            ""
        };
        let r = run(&manifest(protocol, extra));
        let recs = &r.output.records[0];
        assert!(recs.len() > 500, "{protocol}: {} prompts", recs.len());
        for q in recs {
            assert_eq!(q.outcome, Outcome::Ok, "{protocol}: {q:?}");
            // A document: 600 k keys / 776 documents x U[0.5, 1.5].
            assert!(
                (300..=1_200).contains(&q.keys_requested),
                "{protocol}: {q:?}"
            );
            assert_eq!(q.keys_returned, q.keys_requested, "{protocol}: {q:?}");
        }
        if let Some(c) = r.output.check("every key of a range returned") {
            assert!(c.holds && c.enforced, "{protocol}: {c:?}");
        }
        // Without churn nothing is lost: the query messages the hosts received are exactly
        // the messages the ledger charged to queries.
        let charged: u64 = recs.iter().map(|q| u64::from(q.messages)).sum();
        let table = &r.output.hosts[0];
        let load = &table
            .columns
            .iter()
            .find(|c| c.0 == "query_msgs")
            .unwrap()
            .1;
        assert_eq!(load.len(), 8);
        assert_eq!(load.iter().sum::<f64>() as u64, charged, "{protocol}");
        let c = r.output.metric("query_load_cov").unwrap();
        assert!(
            (c - leadsim::driver::load_cov(&load.iter().map(|&x| x as u64).collect::<Vec<_>>()))
                .abs()
                < 1e-12
        );
        cov.push(c);
        hit.push(r.output.metric("cache_hit_rate").unwrap());
    }
    // One prompt stream for all three (one stream name, one seed): the same documents, so the
    // same hits when every answer is complete.
    assert!(hit.iter().all(|&h| h == hit[0]), "{hit:?}");
    assert!(hit[0] > 0.2 && hit[0] < 0.9, "{hit:?}");
    // The router's host receives every prompt's request: the most unbalanced.
    assert!(cov[0] > 2.0 * cov[2] && cov[0] > 2.0 * cov[1], "{cov:?}");
}

#[test]
fn the_hit_rate_matches_the_zipf_coupon_collector_expectation() {
    // 6,400 prompts over 776 documents with Zipf(0.6) popularity: a prompt hits when its
    // document was drawn before, so E[hits] = N - sum_g (1 - (1 - p_g)^N).
    let keys = leadsim::data::kvcache::generate(776 * 20, 3);
    let groups = prefix_groups(&keys, 10);
    assert_eq!(groups.len(), 776);
    let p = Popularity::parse_over("zipf:0.6", 9, groups.len()).unwrap();
    let arrivals = WorkloadSpec::default().arrivals().unwrap();
    let mut s = QueryStream::new(9, "t", arrivals, u64::MAX).with_groups(groups.clone(), p);
    let n = 6_400;
    let mut hits = 0;
    let mut counts = vec![0u32; groups.len()];
    for _ in 0..n {
        let (len, first) = s.draw_keys(leadsim::workload::QueryKind::Range, 0, keys.len());
        let g = groups.iter().position(|&x| x == (first, len)).unwrap();
        counts[g] += 1;
        hits += u32::from(s.last_warm().unwrap());
    }
    let h: f64 = (1..=776).map(|r| (r as f64).powf(-0.6)).sum();
    let expected_distinct: f64 = (1..=776)
        .map(|r| 1.0 - (1.0 - (r as f64).powf(-0.6) / h).powi(n))
        .sum();
    let want = (n as f64 - expected_distinct) / n as f64;
    let got = f64::from(hits) / n as f64;
    assert!((got - want).abs() < 0.01, "hit rate {got} vs {want}");
    // The most popular document gets 1/H of the prompts.
    let top = *counts.iter().max().unwrap() as f64 / n as f64;
    assert!(
        (top - 1.0 / h).abs() < 0.01,
        "top share {top} vs {}",
        1.0 / h
    );
}

#[test]
fn lead_walks_exactly_the_keys_each_query_asks_for() {
    // n drawn per query (the IPFS requests): the walk must stop at each query's own n.
    let text = "seed = 2\nduration_s = 120\nprotocol = \"lead\"\n[topology]\nhosts = 20\n\
                [churn]\nmodel = \"none\"\n[dataset]\nname = \"amzn64-like\"\nkeys = 400000\n\
                cache = false\n[workload]\nqueries_per_s = 2\nrange_keys = 100\nrange_keys_max = 3000\n";
    let r = run(text);
    let recs = &r.output.records[0];
    assert!(recs.iter().any(|q| q.keys_requested < 1_000));
    for q in recs {
        assert_eq!(q.keys_returned, q.keys_requested, "{q:?}");
    }
    let c = r.output.check("every key of a range returned").unwrap();
    assert!(c.holds && c.enforced, "{c:?}");
}

#[test]
fn a_protocol_sweep_carries_each_protocols_own_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    let base = manifest("lead", "[chord_batch]\nbatch_size = 1000\n");
    std::fs::write(
        &path,
        format!("{base}[sweep]\nprotocol = [\"c-table\", \"chord-batch\", \"lead\"]\n"),
    )
    .unwrap();
    let plan = SweepPlan::load(&path).unwrap();
    let has = |i: usize| plan.runs[i].manifest.tables.contains_key("chord_batch");
    assert!(!has(0) && has(1) && !has(2));
    let batch = plan.runs[1].manifest.tables["chord_batch"].to_string();
    assert!(batch.contains("1000"), "{batch}");
    // A table no swept protocol owns is still refused.
    std::fs::write(
        &path,
        format!(
            "{}[sweep]\nprotocol = [\"c-table\", \"lead\"]\n",
            manifest("lead", "[kademlia]\nk = 8\n")
        ),
    )
    .unwrap();
    let e = format!("{:#}", SweepPlan::load(&path).unwrap_err());
    assert!(e.contains("kademlia"), "{e}");
}

#[test]
fn impossible_settings_are_explained() {
    let bad = |text: &str| format!("{:#}", Manifest::parse(text, "kv.toml").unwrap_err());
    let spec = leadsim::data::DatasetSpec {
        name: "kvcache-like".into(),
        keys: 2_000_000_000,
        ..Default::default()
    };
    let e = format!("{:#}", spec.validate().unwrap_err());
    assert!(e.contains("kvcache-like can encode"), "{e}");
    let e = bad(&manifest("lead", "").replace(
        "range_prefix_bits = 10",
        "range_prefix_bits = 10\nrange_keys = 100",
    ));
    assert!(e.contains("replaces range_keys"), "{e}");
    for bits in ["0", "25"] {
        let e = bad(&manifest("lead", "").replace(
            "range_prefix_bits = 10",
            &format!("range_prefix_bits = {bits}"),
        ));
        assert!(e.contains("range_prefix_bits must be in [1, 24]"), "{e}");
    }
    let e =
        bad(&manifest("lead", "")
            .replace("range_prefix_bits", "query = \"lookup\"\nrange_prefix_bits"));
    assert!(e.contains("applies only to workload.query"), "{e}");
}
