//! C-Table and RP-BST (Fig 1): without churn every range comes back complete at the cost their
//! paths imply; memory is what their structures hold; under churn the coordinator repairs the
//! index (failovers, update messages) and C-Table stops answering while its coordinator is down;
//! bad settings are explained.

mod common;

use leadsim::experiment::run_manifest;
use leadsim::manifest::Manifest;
use leadsim::output::Outcome;

fn run(text: &str) -> leadsim::experiment::RunResult {
    run_manifest(&Manifest::parse(text, "ri.toml").unwrap()).unwrap()
}

fn manifest(protocol: &str, churn: &str, extra: &str) -> String {
    format!(
        "seed = 3\nduration_s = 600\nprotocol = \"{protocol}\"\n[topology]\nhosts = 20\n\
         [overlay]\nvnodes = 1\n[churn]\n{churn}\n[dataset]\nname = \"osmc64-like\"\n\
         keys = 200000\ncache = false\n[workload]\nqueries_per_s = 2\nrange_keys = 2000\n{extra}"
    )
}

#[test]
fn without_churn_every_range_is_complete_at_the_cost_of_its_path() {
    for (protocol, bytes, most) in [("c-table", 36.0, 6), ("rp-bst", 98.0, 2 * 5 + 3 * 2)] {
        let r = run(&manifest(protocol, "model = \"none\"", ""));
        let recs = &r.output.records[0];
        assert!(recs.len() > 1_000);
        for q in recs {
            assert_eq!(q.outcome, Outcome::Ok, "{protocol}: {q:?}");
            assert_eq!(q.keys_returned, 2_000, "{protocol}: {q:?}");
            // 20 ranges of 10,000 keys: a 2,000-key range spans at most two.
            assert!(q.messages <= most, "{protocol}: {q:?}");
        }
        let c = r.output.check("every key of a range returned").unwrap();
        assert!(c.holds && c.enforced, "{c:?}");
        assert_eq!(r.output.metric("memory_bytes_per_peer"), Some(bytes));
        assert_eq!(r.output.metric("index_failovers"), Some(0.0));
        // One heartbeat per peer and second, the coordinator excepted.
        let m = r.output.metric("maintenance_msgs_per_peer_s").unwrap();
        assert!((m - 19.0 / 20.0).abs() < 0.01, "{m}");
    }
    // C-Table: the locate round trip plus one round trip per range not at the origin.
    let r = run(&manifest("c-table", "model = \"none\"", ""));
    let mean = r.output.records[0]
        .iter()
        .map(|q| q.messages as f64)
        .sum::<f64>()
        / r.output.records[0].len() as f64;
    assert!(mean > 3.5 && mean < 5.0, "{mean}");
}

#[test]
fn under_churn_the_coordinator_repairs_the_index() {
    let churn = "model = \"uniform\"\nlifetime_mean_s = 120\ndowntime_mean_s = 30";
    let t = run(&manifest("rp-bst", churn, ""));
    let m = |n: &str| t.output.metric(n).unwrap();
    assert!(m("index_failovers") > 10.0, "{}", m("index_failovers"));
    assert!(m("index_restores") > 5.0);
    assert!(m("index_update_messages") > m("index_failovers"));
    let recs = &t.output.records[0];
    let ok = recs.iter().filter(|q| q.outcome == Outcome::Ok).count();
    assert!(
        ok as f64 > 0.7 * recs.len() as f64,
        "{ok} of {}",
        recs.len()
    );
    assert!(recs.iter().any(|q| q.timeouts > 0));
    // C-Table on the same churn: queries fail while the coordinator (host 0) is down.
    let c = run(&manifest("c-table", churn, ""));
    let failed = c.output.records[0]
        .iter()
        .filter(|q| q.outcome == Outcome::Failed)
        .count();
    assert!(failed > 0, "no query failed under churn");
}

#[test]
fn bad_settings_are_explained() {
    for (extra, needle) in [
        ("[range_index]\nattempts = 0\n", "range_index.attempts"),
        (
            "[range_index]\nheartbeat_ms = 0\n",
            "range_index.heartbeat_ms",
        ),
        (
            "[range_index]\nmissed_beats = 0\n",
            "range_index.missed_beats",
        ),
        (
            "[range_index]\nrpc_timeout_rtts = 0\n",
            "range_index.rpc_timeout_rtts",
        ),
        (
            "[range_index]\nrpc_timeout_cap_ms = 0\n",
            "range_index.rpc_timeout_cap_ms",
        ),
    ] {
        let text = manifest("c-table", "model = \"none\"", extra);
        let err = Manifest::parse(&text, "ri.toml")
            .map_err(|e| format!("{e:#}"))
            .and_then(|m| run_manifest(&m).map_err(|e| format!("{e:#}")))
            .err()
            .unwrap_or_else(|| panic!("accepted: {extra}"));
        assert!(err.contains(needle), "expected {needle:?} in {err}");
    }
}

/// `ended_s` covers the drain: a query still running at the end finishes before it.
#[test]
fn the_run_ends_after_its_last_query() {
    let text = "seed = 3\nduration_s = 60\nprotocol = \"lead\"\n[topology]\nhosts = 20\n\
                [overlay]\nvnodes = 1\n[dataset]\nname = \"osmc64-like\"\nkeys = 200000\n\
                cache = false\n[workload]\nqueries_per_s = 20\nrange_keys = 150000\n";
    let r = run(text);
    let p = r.provenance();
    let last = r
        .output
        .records
        .iter()
        .flatten()
        .filter(|q| q.outcome == Outcome::Ok)
        .map(|q| q.issued_us + q.latency_us)
        .max()
        .expect("some query finished");
    assert!(
        last > 60_000_000,
        "no query ran past the end ({last} us): the test needs one"
    );
    assert!(
        last as f64 / 1e6 <= p.ended_s,
        "{last} us after {}",
        p.ended_s
    );
}
