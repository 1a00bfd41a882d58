//! Chord ring and Chord-batch: lookups reach the true owner with ~1/2 log2 N hops, ranges return
//! every key without churn, joins and churn converge back to a consistent ring.

use leadsim::experiment::run_manifest;
use leadsim::manifest::Manifest;
use leadsim::output::Outcome;

fn run(text: &str) -> leadsim::experiment::RunResult {
    let m = Manifest::parse(text, "test.toml").unwrap();
    run_manifest(&m).unwrap()
}

fn metric(r: &leadsim::experiment::RunResult, name: &str) -> f64 {
    r.output.metric(name).unwrap()
}

const STATIC: &str = r#"
seed = 3
duration_s = 60
protocol = "chord-batch"
[topology]
hosts = 100
[overlay]
vnodes = 10
[churn]
model = "none"
[dataset]
name = "uniform"
keys = 200000
cache = false
[workload]
queries_per_s = 200
query = "lookup"
"#;

#[test]
fn static_ring_lookups_reach_the_true_owner_in_half_log_n_hops() {
    let r = run(STATIC);
    let recs = &r.output.records[0];
    assert!(recs.len() > 10_000, "{} lookups", recs.len());
    assert!(
        recs.iter()
            .all(|q| q.outcome == Outcome::Ok && q.keys_returned == 1),
        "every lookup succeeds"
    );
    assert_eq!(
        metric(&r, "wrong_owner_share"),
        0.0,
        "every answer comes from the true owner"
    );
    let hops = recs.iter().map(|q| f64::from(q.hops)).sum::<f64>() / recs.len() as f64;
    let log_n = (1000f64).log2();
    assert!(
        (0.4 * log_n..=0.6 * log_n).contains(&hops),
        "mean hops {hops} vs log2 N = {log_n}"
    );
    // Every hop is acknowledged: messages = 2 x hops + 1 reply.
    for q in recs.iter().take(500) {
        assert_eq!(q.messages, 2 * q.hops + u32::from(q.hops > 0), "{q:?}");
    }
    let report = r.output.check("ring consistent").unwrap();
    assert!(report.holds, "{report:?}");
}

#[test]
fn ranges_return_every_key_in_both_accountings() {
    let base = STATIC
        .replace("query = \"lookup\"", "range_keys = 700")
        .replace("queries_per_s = 200", "queries_per_s = 1");
    let mut messages = Vec::new();
    for mode in ["consolidated", "parallel"] {
        let text = format!("{base}\n[chord_batch]\nbatch_size = 100\nmode = \"{mode}\"\n");
        let r = run(&text);
        let recs = &r.output.records[0];
        assert!(recs.len() > 30);
        for q in recs {
            assert_eq!(q.outcome, Outcome::Ok);
            assert_eq!(
                (q.keys_requested, q.keys_returned),
                (700, 700),
                "{mode}: {q:?}"
            );
        }
        messages.push(recs.iter().map(|q| u64::from(q.messages)).sum::<u64>());
        // Batches run one after another: a 7-batch range costs at least 7 round trips.
        let min_latency = recs.iter().map(|q| q.latency_us).min().unwrap();
        assert!(min_latency > 7 * 2 * 50, "{mode}: {min_latency}");
    }
    assert!(
        messages[0] < messages[1],
        "consolidated {} must send fewer messages than parallel {}",
        messages[0],
        messages[1]
    );
}

#[test]
fn churn_keeps_lookups_working_and_the_ring_converges_after_it_stops() {
    // Heavy churn (mean life 4 min, down 1 min) for 10 min, then 60 s of calm.
    let text = r#"
seed = 11
duration_s = 660
protocol = "chord-batch"
[topology]
hosts = 60
[overlay]
vnodes = 5
[churn]
model = "uniform"
lifetime_mean_s = 240
downtime_mean_s = 60
stop_s = 600
[dataset]
name = "uniform"
keys = 100000
cache = false
[workload]
queries_per_s = 20
query = "lookup"
"#;
    let r = run(text);
    assert!(
        r.churn.crash_count() > 50,
        "the test needs real churn: {}",
        r.churn.crash_count()
    );
    let recs = &r.output.records[0];
    let ok = recs.iter().filter(|q| q.outcome == Outcome::Ok).count();
    let failed = recs.iter().filter(|q| q.outcome == Outcome::Failed).count();
    let success = ok as f64 / (ok + failed) as f64;
    assert!(success >= 0.99, "lookup success {success}");
    assert!(
        metric(&r, "ring_timeouts") > 0.0,
        "churn must cause timeouts"
    );
    assert!(metric(&r, "ring_joins") > 50.0, "crashed hosts must rejoin");
    let report = r.output.check("ring consistent").unwrap();
    assert!(
        report.holds,
        "ring not consistent 60 s after churn stopped: {report:?}"
    );
}

#[test]
fn a_ring_built_by_real_joins_converges() {
    // 240 peers join over 2 minutes (2 per second). Chord's stabilisation repairs a successor
    // pointer one peer per round, so a join storm into a tiny ring can take O(N) rounds to heal
    // (documented in docs/modelling.md); this is a realistic join rate.
    let text = r#"
seed = 5
duration_s = 240
protocol = "chord-batch"
[topology]
hosts = 80
[overlay]
vnodes = 3
[churn]
model = "none"
[chord]
init = "join"
join_spread_s = 120
[dataset]
name = "uniform"
keys = 50000
cache = false
[workload]
queries_per_s = 20
query = "lookup"
warmup_s = 200
"#;
    let r = run(text);
    assert_eq!(metric(&r, "ring_joins"), 240.0, "every peer joins once");
    let report = r.output.check("ring consistent").unwrap();
    assert!(report.holds, "{report:?}");
    let recs = &r.output.records[0];
    assert!(recs.len() > 300 && recs.iter().all(|q| q.outcome == Outcome::Ok));
    assert_eq!(
        metric(&r, "wrong_owner_share"),
        0.0,
        "after convergence every lookup reaches the owner"
    );
    assert!(
        r.output.counters.sent[10] > 0,
        "joins request their keys (key_request messages)"
    );
}

#[test]
fn replicas_keep_keys_available_when_an_owner_is_down() {
    let churny = |replicas: u32| {
        format!(
            "seed = 2\nduration_s = 1200\nprotocol = \"chord-batch\"\n[topology]\nhosts = 40\n[overlay]\nvnodes = 2\n\
             [churn]\nmodel = \"uniform\"\nlifetime_mean_s = 300\ndowntime_mean_s = 300\n[chord]\nreplicas = {replicas}\n\
             [dataset]\nname = \"uniform\"\nkeys = 20000\ncache = false\n[workload]\nqueries_per_s = 10\nquery = \"lookup\"\n"
        )
    };
    let found_share = |r: &leadsim::experiment::RunResult| {
        let ok: Vec<_> = r.output.records[0]
            .iter()
            .filter(|q| q.outcome == Outcome::Ok)
            .collect();
        ok.iter().map(|q| q.keys_returned).sum::<u64>() as f64 / ok.len() as f64
    };
    let one = found_share(&run(&churny(1)));
    let three = found_share(&run(&churny(3)));
    assert!(
        one < 0.9,
        "with one copy and 50% downtime many keys must be missing: {one}"
    );
    assert!(
        three > one + 0.15,
        "three copies must find more keys: {three} vs {one}"
    );
}

#[test]
fn a_host_back_before_its_neighbours_noticed_rejoins_cleanly() {
    // Hosts crash and return within 50-400 ms: their neighbours still point at them (a ping
    // times out only after 3 x RTT), so a stale pointer hands each peer's own join lookup back
    // to it. An unjoined peer must serve no routing (the caller times out and forgets it):
    // otherwise the peer joins with itself as successor, loses every successor at its next
    // stabilisation, rejoins, and so on forever, handing out a random bootstrap as its
    // successor list meanwhile (found in Fig 9b's exponential-churn run at paper scale).
    let dir = std::env::temp_dir().join(format!("leadsim-quick-return-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("trace.csv");
    let mut csv = String::from("time_us,host,event\n");
    for (i, gap_ms) in [50u64, 120, 200, 400, 80, 300].iter().enumerate() {
        let t = 20_000_000 + i as u64 * 7_000_000;
        csv += &format!(
            "{t},{},down\n{},{},up\n",
            3 + 7 * i,
            t + gap_ms * 1000,
            3 + 7 * i
        );
    }
    std::fs::write(&trace, csv).unwrap();
    let text = format!(
        r#"
seed = 17
duration_s = 120
protocol = "chord-batch"
[topology]
hosts = 60
[overlay]
vnodes = 5
[churn]
model = "trace"
trace = "{}"
[dataset]
name = "uniform"
keys = 50000
cache = false
[workload]
queries_per_s = 20
query = "lookup"
"#,
        trace.display()
    );
    let r = run(&text);
    assert_eq!(r.churn.crash_count(), 6);
    assert_eq!(metric(&r, "ring_joins"), 30.0, "every peer rejoins once");
    assert_eq!(metric(&r, "ring_join_retries"), 0.0);
    assert_eq!(metric(&r, "ring_unroutable"), 0.0);
    let report = r.output.check("ring consistent").unwrap();
    assert!(report.holds, "{report:?}");
    let recs = &r.output.records[0];
    let failed = recs.iter().filter(|q| q.outcome == Outcome::Failed).count();
    assert_eq!(
        failed, 0,
        "no lookup fails (a crashed origin's own are not failures)"
    );
    std::fs::remove_dir_all(&dir).ok();
}
