//! The Shadow Balancer and its measurement: under a hotspot workload a keys balancer lowers the
//! keys-per-host CoV while every key of every range still comes back; the series is recorded
//! with the balancer off too; a balanced LEAD refuses to share its ring; capacities shape the
//! virtual-peer counts.

use leadsim::experiment::{run_manifest, RunResult};
use leadsim::manifest::Manifest;

fn manifest(balancer: &str, extra: &str) -> String {
    format!(
        "seed = 3\nduration_s = 600\nprotocol = \"lead\"\n[topology]\nhosts = 50\n\
         [overlay]\nvnodes = 10\nmax_vnodes = 20\nmin_vnodes = 2\n[churn]\nmodel = \"none\"\n\
         [dataset]\nname = \"osmc64-like\"\nkeys = 500000\ncache = false\n\
         [workload]\nqueries_per_s = 10\nrange_keys = 2000\npopularity = \"zipf:1.0\"\n\
         [lead]\nbalancer = \"{balancer}\"\nwindow_s = 60\n[output]\nseries = true\nhosts = true\n{extra}"
    )
}

fn run(text: &str) -> RunResult {
    run_manifest(&Manifest::parse(text, "balancer.toml").unwrap()).unwrap()
}

fn column(r: &RunResult, name: &str) -> Vec<f64> {
    let t = &r.output.series[0];
    t.columns.iter().find(|c| c.0 == name).unwrap().1.clone()
}

#[test]
fn a_keys_balancer_evens_keys_per_host_and_loses_no_key() {
    let off = run(&manifest("off", ""));
    let on = run(&manifest("keys", ""));
    let (c_off, c_on) = (column(&off, "keys_cov"), column(&on, "keys_cov"));
    assert_eq!(c_off.len(), 10, "one row per 60 s window");
    assert_eq!(
        c_off[0], c_on[0],
        "the first window is measured before any move"
    );
    assert!(c_off.iter().all(|&c| c == c_off[0]), "off: nothing moves");
    let last = *c_on.last().unwrap();
    assert!(last < 0.7 * c_on[0], "keys CoV {} -> {last}", c_on[0]);
    let moves = column(&on, "leaves").last().unwrap() + column(&on, "adds").last().unwrap();
    assert!(moves > 10.0, "{moves} moves");
    for v in column(&on, "vnodes_mean") {
        assert!((2.0..=20.0).contains(&v), "mean virtual peers {v}");
    }
    for r in [&off, &on] {
        let c = r.output.check("every key of a range returned").unwrap();
        assert!(c.holds, "{c:?}");
        for q in &r.output.records[0] {
            assert_eq!(q.keys_returned, q.keys_requested, "{q:?}");
        }
        // Every key is stored on exactly one host, whatever moved.
        let keys: f64 = r.output.hosts[0].columns[0].1.iter().sum();
        assert_eq!(keys, 500_000.0);
    }
    // Balancer moves are counted messages: the load reports and the graceful leaves.
    let kinds = &on.output.kinds;
    let count = |name: &str| {
        let i = kinds.iter().position(|k| k == name).unwrap();
        on.output.counters.sent[i]
    };
    assert!(count("load") > 0 && count("leave") > 0 && count("key_transfer") > 0);
    // Deterministic: the same manifest gives the same series, byte for byte.
    assert_eq!(on.series_csv(), run(&manifest("keys", "")).series_csv());
}

#[test]
fn a_requests_balancer_moves_peers_and_answers_every_range() {
    let on = run(&manifest("requests", ""));
    let adds = *column(&on, "adds").last().unwrap();
    let leaves = *column(&on, "leaves").last().unwrap();
    assert!(adds > 0.0 && leaves > 0.0, "adds {adds}, leaves {leaves}");
    for q in &on.output.records[0] {
        assert_eq!(q.keys_returned, q.keys_requested, "{q:?}");
    }
}

#[test]
fn a_balanced_lead_runs_alone_and_bad_settings_are_explained() {
    let paired = manifest(
        "keys",
        "[[systems]]\nname = \"a\"\n[[systems]]\nname = \"b\"\n",
    );
    let m = Manifest::parse(&paired, "p.toml").unwrap();
    let e = format!("{:#}", run_manifest(&m).err().unwrap());
    assert!(e.contains("run a balanced LEAD alone"), "{e}");
    for (bad, why) in [
        ("threshold = 1.5", "lead.threshold"),
        ("window_s = 0", "lead.window_s"),
        ("balancer = \"sideways\"", "balancer"),
    ] {
        let text = manifest("off", "").replace("window_s = 60", bad);
        let e = format!("{:#}", Manifest::parse(&text, "b.toml").err().unwrap());
        assert!(e.contains(why), "{bad}: {e}");
    }
    for (from, to, want) in [
        (
            "max_vnodes = 20",
            "max_vnodes = 5",
            "overlay.max_vnodes = 5",
        ),
        ("min_vnodes = 2", "min_vnodes = 0", "overlay.min_vnodes"),
        (
            "min_vnodes = 2",
            "min_vnodes = 30",
            "below overlay.min_vnodes",
        ),
        (
            "popularity = \"zipf:1.0\"",
            "popularity = \"zipf:0\"",
            "workload.popularity",
        ),
    ] {
        let text = manifest("off", "").replace(from, to);
        let e = format!("{:#}", Manifest::parse(&text, "b.toml").err().unwrap());
        assert!(e.contains(want), "{to}: {e}");
    }
}

#[test]
fn capacities_shape_virtual_peer_counts() {
    use leadsim::network::OverlaySpec;
    let spec = OverlaySpec {
        capacity: "pareto:2".into(),
        ..Default::default()
    };
    let v = spec.vnodes_per_host(1000, 1).unwrap();
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / 1000.0;
    assert!((mean - 10.0).abs() < 1.0, "mean {mean}");
    assert!(
        v.iter().any(|&x| x >= 20) && v.iter().any(|&x| x <= 6),
        "{v:?}"
    );
    assert_eq!(v, spec.vnodes_per_host(1000, 1).unwrap(), "seeded");
    let u = OverlaySpec {
        capacity: "uniform:1,3".into(),
        max_vnodes: Some(12),
        ..Default::default()
    };
    let w = u.vnodes_per_host(500, 2).unwrap();
    assert!(w.iter().all(|&x| (4..=12).contains(&x)), "{w:?}");
    assert_eq!(u.slots_per_host(&w), vec![12; 500]);
    for bad in ["pareto:1", "uniform:3,1", "zipf:2", "uniform:0,1"] {
        let s = OverlaySpec {
            capacity: bad.into(),
            ..Default::default()
        };
        let e = s.vnodes_per_host(10, 1).unwrap_err().to_string();
        assert!(e.contains("overlay.capacity"), "{bad}: {e}");
    }
}

/// Members that leave and come back at new positions while pings are in flight: settling at
/// send time (on by default) must give the same bytes as queueing every message. A system that
/// moves members declares it (`Ring::expect_moves`), so its predecessor checks are never
/// settled; without the declaration this test fails.
#[test]
fn moving_members_settle_nothing_they_could_change() {
    let text = manifest("requests", "");
    let with = |on: bool| {
        leadsim::sim::set_settling(on);
        let r = run(&text);
        leadsim::sim::set_settling(true);
        r
    };
    let (on, off) = (with(true), with(false));
    assert!(
        *column(&on, "leaves").last().unwrap() > 10.0,
        "peers must move"
    );
    assert!(on.output.events_settled > 0, "settling must take place");
    assert!(on.summary_csv() == off.summary_csv(), "summary.csv differs");
    assert!(on.series_csv() == off.series_csv(), "series.csv differs");
    assert!(on.hosts_csv() == off.hosts_csv(), "hosts.csv differs");
}
