//! Same manifest + seed => byte-identical CSVs, whatever the thread count; different seeds differ.

use leadsim::experiment::run_manifest;
use leadsim::manifest::Manifest;

const SMALL: &str = r#"
seed = 5
duration_s = 600
[topology]
kind = "planetlab-like"
hosts = 60
[overlay]
vnodes = 4
[churn]
model = "exponential"
lifetime_mean_s = 120
downtime_mean_s = 30
[workload]
queries_per_s = 50
"#;

fn csvs(text: &str, threads: usize) -> (Vec<u8>, Vec<u8>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let m = Manifest::parse(text, "small.toml").unwrap();
        let r = run_manifest(&m).unwrap();
        (r.queries_csv(), r.summary_csv())
    })
}

#[test]
fn same_seed_same_bytes_across_thread_counts() {
    let a = csvs(SMALL, 1);
    let b = csvs(SMALL, 2);
    let c = csvs(SMALL, 1);
    assert!(a == b, "1 vs 2 threads differ");
    assert!(a == c, "two runs differ");
    assert!(a.0.len() > 10_000, "the run must produce queries");
    let other = csvs(&SMALL.replace("seed = 5", "seed = 6"), 1);
    assert!(other.0 != a.0, "the seed must matter");
}

#[test]
fn ping_latency_is_the_topology_rtt_without_churn() {
    let text = SMALL.replace("model = \"exponential\"", "model = \"none\"");
    let m = Manifest::parse(
        &text.replace("lifetime_mean_s = 120\ndowntime_mean_s = 30\n", ""),
        "x",
    )
    .unwrap();
    let topo = m.topology.build(m.seed).unwrap();
    let r = run_manifest(&m).unwrap();
    let recs = &r.output.records[0];
    assert!(recs
        .iter()
        .all(|q| q.outcome == leadsim::output::Outcome::Ok || q.latency_us == 1_000_000));
    // Mean ping latency ~ mean RTT between random distinct peers (co-located pairs cost 100 µs).
    let ok: Vec<f64> = recs
        .iter()
        .filter(|q| q.latency_us < 1_000_000)
        .map(|q| q.latency_us as f64)
        .collect();
    let mean = ok.iter().sum::<f64>() / ok.len() as f64;
    let n = topo.host_count() as u32;
    let mut s = 0.0;
    let mut c = 0.0;
    for a in 0..n {
        for b in 0..n {
            if a != b {
                s += topo.rtt_us(0, a, b) as f64;
                c += 1.0;
            }
        }
    }
    // (3 of 239 other peers are co-located and cost only 100 µs: a ~1% effect inside the tolerance.)
    let want = s / c;
    assert!(
        (mean - want).abs() / want < 0.05,
        "ping mean {mean} vs matrix mean {want}"
    );
}

/// The protocols that run directly on the kernel (Kademlia, C-Table, RP-BST) under churn: the
/// same bytes at 1 and 2 threads and on a second run.
#[test]
fn kernel_protocols_are_deterministic_under_churn() {
    for protocol in ["kademlia", "c-table", "rp-bst"] {
        let text = SMALL
            .replace(
                "seed = 5\n",
                &format!("seed = 5\nprotocol = \"{protocol}\"\n"),
            )
            .replace(
                "queries_per_s = 50",
                "queries_per_s = 5\nrange_keys = 50\nrange_keys_max = 150",
            )
            + "[dataset]\nname = \"osmc64-like\"\nkeys = 100000\ncache = false\n";
        let a = csvs(&text, 1);
        let b = csvs(&text, 2);
        assert!(a == b, "{protocol}: 1 vs 2 threads differ");
        assert!(a == csvs(&text, 1), "{protocol}: two runs differ");
        assert!(
            a.0.len() > 50_000,
            "{protocol}: the run must produce queries"
        );
    }
}

/// A next-hop table reused between lists is rebuilt whenever routing state changes: Chord-batch
/// under churn gives the same bytes with the cache on and off.
#[test]
fn cached_next_hop_tables_change_no_byte() {
    // Batches of 100 are routed as long lists (a next-hop table per peer), under churn that
    // keeps changing fingers, successors and VIDs: a missed invalidation routes differently.
    let text = SMALL
        .replace("seed = 5\n", "seed = 5\nprotocol = \"chord-batch\"\n")
        .replace(
            "queries_per_s = 50",
            "queries_per_s = 20\nrange_keys = 400\nrange_keys_max = 1200",
        )
        + "[dataset]\nname = \"osmc64-like\"\nkeys = 200000\ncache = false\n"
        + "[[systems]]\nname = \"Batch(100)\"\n";
    same_bytes_with_and_without(&text, leadsim::overlay::chord::routing::set_hop_caching);
}

/// Runs `text` with a speed switch `set` on and off (leaving it on) and checks that both runs
/// produce the same events and every byte of both CSVs.
fn same_bytes_with_and_without(text: &str, set: fn(bool)) {
    let run = |on: bool| {
        set(on);
        let m = Manifest::parse(text, "switch.toml").unwrap();
        let r = run_manifest(&m).unwrap();
        set(true);
        r
    };
    let (on, off) = (run(true), run(false));
    assert_eq!(on.output.events, off.output.events);
    assert!(on.summary_csv() == off.summary_csv(), "summary.csv differs");
    assert!(on.queries_csv() == off.queries_csv(), "queries.csv differs");
    assert!(
        on.queries_csv().len() > 20_000,
        "the run must produce queries"
    );
}

/// LEAD and Chord-batch on one churned ring, with range queries of 200-600 keys.
fn paired_churned() -> String {
    SMALL
        .replace("seed = 5\n", "seed = 5\nprotocol = \"lead\"\n")
        .replace(
            "queries_per_s = 50",
            "queries_per_s = 5\nrange_keys = 200\nrange_keys_max = 600",
        )
        + "[dataset]\nname = \"osmc64-like\"\nkeys = 200000\ncache = false\n"
        + "[[systems]]\nname = \"LEAD\"\nprotocol = \"lead\"\n"
        + "[[systems]]\nname = \"Batch(100)\"\nprotocol = \"chord-batch\"\n"
}

/// Replies settled at send time (hop acks, pongs, key data whose RPC timeout is deferred) are
/// exact: the ring protocols under churn give the same bytes with settling on and off, and the
/// settled path is taken. The churn makes replies race their receiver's crash (those must be
/// queued: dropping that check, or settling past the end of a `run_until`, fails this test).
#[test]
fn settled_replies_change_no_byte() {
    let paired = paired_churned();
    let marques = paired
        .split("[[systems]]")
        .next()
        .unwrap()
        .replace("protocol = \"lead\"", "protocol = \"marques\"");
    for text in [paired, marques] {
        let run = |on: bool| {
            leadsim::sim::set_settling(on);
            let m = Manifest::parse(&text, "settle.toml").unwrap();
            let r = run_manifest(&m).unwrap();
            leadsim::sim::set_settling(true);
            r
        };
        let rebuilt = leadsim::overlay::chord::rebuilt_hops();
        let (on, off) = (run(true), run(false));
        assert_eq!(
            off.output.events_settled, 0,
            "settling off must queue every reply"
        );
        // Settling on, hops whose ack is certain keep no RPC record; under churn some of their
        // lists go unheard and the record is rebuilt (settling off, none is unrecorded).
        assert!(
            leadsim::overlay::chord::rebuilt_hops() > rebuilt,
            "no unrecorded hop went unheard"
        );
        assert!(
            on.output.events_settled > on.output.events / 10,
            "settling must take most acks: {} of {} events",
            on.output.events_settled,
            on.output.events
        );
        let ack = on.output.kinds.iter().position(|k| k == "hop_ack").unwrap();
        let lost_acks = on.output.counters.lost[ack];
        assert!(lost_acks > 0, "the churn must lose some hop acks");
        assert!(on.summary_csv() == off.summary_csv(), "summary.csv differs");
        assert!(on.queries_csv() == off.queries_csv(), "queries.csv differs");
        assert!(
            on.queries_csv().len() > 20_000,
            "the run must produce queries"
        );
    }
}

/// The per-event cache hints (on by default only from `HINTS_FROM_PEERS` peers) read and change
/// nothing: forced on for a small churned ring, LEAD and Chord-batch give every byte they give
/// without them.
#[test]
fn cache_hints_change_no_byte() {
    same_bytes_with_and_without(&paired_churned(), |on| leadsim::sim::set_hints(Some(on)));
}

/// The next-hop scan's shortcuts (fingers and successors it passes without their VIDs) are kept
/// current by every change of a routing table: routing with them gives every byte of routing
/// without them, under churn, for LEAD and Chord-batch on one ring.
#[test]
fn scan_shortcuts_change_no_byte() {
    same_bytes_with_and_without(
        &paired_churned(),
        leadsim::overlay::chord::routing::set_scan_shortcuts,
    );
}
