//! Kademlia (the IPFS baseline): without churn every node lookup finds the true k closest live
//! peers (checked against the global id order), every block lookup finds its value, a range
//! request fetches every key in its batches; lookups need more hops in bigger networks; under
//! churn crashed peers rejoin and lookups still find their values; bad settings are explained.

mod common;

use leadsim::experiment::run_manifest;
use leadsim::manifest::Manifest;
use leadsim::output::Outcome;

fn run(text: &str) -> leadsim::experiment::RunResult {
    run_manifest(&Manifest::parse(text, "kademlia.toml").unwrap()).unwrap()
}

fn manifest(hosts: u32, churn: &str, workload: &str, kad: &str) -> String {
    format!(
        "seed = 5\nduration_s = 60\nprotocol = \"kademlia\"\n[topology]\nhosts = {hosts}\n\
         [overlay]\nvnodes = 2\n[churn]\n{churn}\n[dataset]\nname = \"osmc64-like\"\n\
         keys = 200000\ncache = false\n[workload]\n{workload}\n\
         [kademlia]\n{kad}\n"
    )
}

#[test]
fn without_churn_node_lookups_find_the_true_k_closest_and_hops_grow_with_n() {
    // Small buckets (k = 4) so that lookups need several hops and the test is not trivial.
    let mut hops = Vec::new();
    for hosts in [32, 512] {
        let r = run(&manifest(
            hosts,
            "model = \"none\"",
            "queries_per_s = 10\nquery = \"lookup\"",
            "k = 4\nalpha = 2\nrefresh_s = 5\nrpc_timeout_cap_ms = 5000",
        ));
        let m = |n: &str| r.output.metric(n).unwrap();
        let c = r
            .output
            .check("node lookups find the true k closest live peers")
            .unwrap();
        assert!(c.holds && c.enforced, "{c:?}");
        assert!(m("kad_node_lookups_checked") > 1_000.0);
        assert_eq!(m("kad_value_found_share"), 1.0);
        let recs = &r.output.records[0];
        assert!(recs.len() > 500);
        for q in recs {
            assert_eq!(q.outcome, Outcome::Ok, "{q:?}");
            assert_eq!(q.keys_returned, 1);
            // At least one request and its reply; never more than k... per hop on the path.
            assert!(q.messages >= 2 && q.hops >= 1, "{q:?}");
        }
        hops.push(m("kad_value_hops_mean"));
    }
    // With IPFS's k = 20 (1,024 peers) too; a timeout cap above every RTT of the topology, so
    // that no live contact is evicted by a false timeout (see the check's comment).
    let r = run(&manifest(
        512,
        "model = \"none\"",
        "queries_per_s = 10\nquery = \"lookup\"",
        "refresh_s = 5\nrpc_timeout_cap_ms = 5000",
    ));
    let m = |n: &str| r.output.metric(n).unwrap();
    assert!(m("kad_node_lookups_checked") > 10_000.0);
    assert_eq!(m("kad_node_nearest_share"), 1.0);
    assert!(
        m("kad_node_exact_share") > 0.99,
        "{}",
        m("kad_node_exact_share")
    );
    assert!(
        hops[1] > hops[0] + 0.5,
        "hops must grow with the network: {hops:?}"
    );
}

#[test]
fn a_range_request_fetches_every_key_in_batches() {
    let r = run(&manifest(
        50,
        "model = \"none\"",
        "queries_per_s = 2\nrange_keys = 200\nrange_keys_max = 300",
        "batches = 10",
    ));
    let recs = &r.output.records[0];
    assert!(recs.len() > 60);
    let sizes: std::collections::BTreeSet<u64> = recs.iter().map(|q| q.keys_requested).collect();
    assert!(sizes.len() > 20, "n is drawn from 200..=300");
    for q in recs {
        assert_eq!(q.outcome, Outcome::Ok, "{q:?}");
        assert!((200..=300).contains(&q.keys_requested));
        assert_eq!(q.keys_returned, q.keys_requested, "{q:?}");
        // Every key costs at least a request and a reply.
        assert!(q.messages as u64 >= 2 * q.keys_requested, "{q:?}");
    }
    let c = r
        .output
        .check("every key of every answered request returned")
        .unwrap();
    assert!(c.holds && c.enforced);
}

#[test]
fn under_churn_peers_rejoin_and_lookups_find_their_values() {
    let r = run(&manifest(
        100,
        "model = \"uniform\"\nlifetime_mean_s = 40\ndowntime_mean_s = 10",
        "queries_per_s = 10\nquery = \"lookup\"",
        "refresh_s = 10",
    ));
    let m = |n: &str| r.output.metric(n).unwrap();
    assert!(m("kad_joins") > 10.0, "joins {}", m("kad_joins"));
    assert!(m("kad_rpc_timeouts") > 0.0);
    assert!(m("kad_value_found_share") > 0.95);
    let c = r
        .output
        .check("node lookups find the true k closest live peers")
        .unwrap();
    assert!(!c.enforced, "not enforced under churn");
    let ok = r.output.records[0]
        .iter()
        .filter(|q| q.outcome == Outcome::Ok)
        .count();
    assert!(ok as f64 > 0.9 * r.output.records[0].len() as f64);
}

#[test]
fn bad_settings_are_explained() {
    let bad = |text: String, needle: &str| {
        let err = Manifest::parse(&text, "k.toml")
            .map_err(|e| format!("{e:#}"))
            .and_then(|m| run_manifest(&m).map_err(|e| format!("{e:#}")))
            .err()
            .unwrap_or_else(|| panic!("accepted: {text}"));
        assert!(err.contains(needle), "expected {needle:?} in {err}");
    };
    let none = "model = \"none\"";
    bad(manifest(10, none, "", "alpha = 30"), "kademlia.alpha");
    bad(manifest(10, none, "", "k = 0"), "kademlia.k");
    bad(manifest(10, none, "", "batches = 0"), "kademlia.batches");
    bad(
        manifest(10, none, "", "refresh_s = 0.5"),
        "kademlia.refresh_s",
    );
    bad(
        manifest(10, none, "", "rpc_timeout_rtts = 0"),
        "kademlia.rpc_timeout_rtts",
    );
    bad(
        manifest(10, none, "", "rpc_timeout_cap_ms = 0"),
        "kademlia.rpc_timeout_cap_ms",
    );
    bad(
        manifest(10, none, "range_keys = 300\nrange_keys_max = 200", ""),
        "range_keys_max",
    );
    bad(
        manifest(10, none, "query = \"lookup\"\nrange_keys_max = 200", ""),
        "range_keys_max",
    );
    bad(manifest(10, none, "query = \"box\"", ""), "box");
    let two = manifest(10, none, "", "") + "[[systems]]\nname = \"a\"\n[[systems]]\nname = \"b\"\n";
    bad(two, "cannot host several systems");
}
