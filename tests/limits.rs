//! Issue 14's reproducers, each with its fix: no silent wrap past the time horizon, no panic on
//! huge sizes, no unbounded work, no nonsense accepted, no misleading errors or debris, and a
//! `--check` that explains unreachable peers. Every input either runs or exits with a clear
//! error naming the input.

mod common;

use common::{leadsim, refused};
use leadsim::manifest::Manifest;
use std::path::Path;

const BASE: &str = "seed = 1\nduration_s = 30\nprotocol = \"ping\"\n[topology]\nhosts = 5\n[overlay]\nvnodes = 2\n";

/// The error of a manifest that must be refused at parse time.
fn parse_err(text: &str) -> String {
    match Manifest::parse(text, "m.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => format!("{e:#}"),
    }
}

/// Writes churn trace `csv` and a manifest replaying it into `dir`; refuses to run it with `needles`.
fn trace_refused(dir: &Path, csv: &str, needles: &[&str]) {
    std::fs::write(dir.join("t.csv"), csv).unwrap();
    let m = format!(
        "{BASE}[churn]\nmodel = \"trace\"\ntrace = \"{}\"\n",
        dir.join("t.csv").display()
    );
    std::fs::write(dir.join("m.toml"), m).unwrap();
    refused(&["run", "m.toml"], dir, needles);
}

fn with(section: &str, line: &str) -> String {
    // Put `line` into `[section]` (or top level) of BASE.
    if section.is_empty() {
        format!("{line}\n{BASE}")
    } else if BASE.contains(&format!("[{section}]\n")) {
        BASE.replace(&format!("[{section}]\n"), &format!("[{section}]\n{line}\n"))
    } else {
        format!("{BASE}[{section}]\n{line}\n")
    }
}

#[test]
fn times_beyond_the_horizon_are_errors_not_wraps() {
    for v in ["17592186044516", "9223372036854775807"] {
        let e = parse_err(&with("latency", &format!("local_us = {v}")));
        assert!(
            e.contains("latency.local_us") && e.contains("one day"),
            "{e}"
        );
    }
    let e = parse_err(&with("ping", "timeout_ms = 1e300"));
    assert!(e.contains("ping.timeout_ms"), "{e}");
    let d = tempfile::tempdir().unwrap();
    trace_refused(
        d.path(),
        "time_us,host,event\n17592186046416,0,down\n",
        &["t.csv", "line 2", "horizon"],
    );
}

#[test]
fn huge_sizes_are_refused_with_the_estimate() {
    for hosts in ["9223372036854775807", "4294967296"] {
        let e = parse_err(&BASE.replace("hosts = 5", &format!("hosts = {hosts}")));
        assert!(e.contains("memory") && e.contains(hosts), "{hosts}: {e}");
    }
    for keys in ["2305843009213693952", "4294967296000"] {
        let text = format!("seed = 1\nduration_s = 30\nprotocol = \"lead\"\n[topology]\nhosts = 5\n[dataset]\nkeys = {keys}\n");
        let e = parse_err(&text);
        assert!(e.contains("memory") && e.contains(keys), "{e}");
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    refused(
        &["dataset", "gen", "uniform", "--keys", "2305843009213693952"],
        p,
        &["--keys 2305843009213693952", "memory"],
    );
    for spec in ["planetlab-like", "random-graph:2"] {
        refused(
            &["topology", "stats", spec, "--hosts", "18446744073709551615"],
            p,
            &["memory"],
        );
    }
    refused(
        &[
            "topology",
            "export",
            "planetlab-like:100000",
            "x",
            "--hosts",
            "9223372036854775808",
        ],
        p,
        &["memory"],
    );
}

#[test]
fn unbounded_work_is_refused_before_it_starts() {
    let churn = |extra: &str| format!("{BASE}[churn]\n{extra}\n");
    let e = parse_err(&churn(
        "model = \"uniform\"\nlifetime_mean_s = 1e-9\ndowntime_mean_s = 1e-9",
    ));
    assert!(e.contains("transitions"), "{e}");
    // Pareto with alpha just above 1 and a mean: tiny typical periods.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("p.toml"),
        churn("model = \"pareto\"\nalpha = 1.0000001\nlifetime_mean_s = 10\ndowntime_mean_s = 10"),
    )
    .unwrap();
    refused(&["run", "p.toml"], d.path(), &["transitions", "alpha"]);
    let e = parse_err(&with("workload", "queries_per_s = 4.3e9"));
    assert!(e.contains("workload.queries_per_s"), "{e}");
    let e = parse_err(&with("workload", "queries_per_s = 1e308"));
    assert!(e.contains("workload.queries_per_s"), "{e}");
    let e = parse_err(
        &with("workload", "queries_per_s = 900000").replace("duration_s = 30", "duration_s = 3600"),
    );
    assert!(e.contains("queries") && e.contains("limit"), "{e}");
    let ring = "seed = 1\nduration_s = 30\nprotocol = \"chord-batch\"\n[topology]\nhosts = 5\n[dataset]\nkeys = 1000\ncache = false\n";
    for (line, key) in [
        ("stabilize_ms = 1e-300", "chord.stabilize_ms"),
        ("max_lookup_ms = 4.3e9", "chord.max_lookup_ms"),
        ("rpc_timeout_cap_ms = 1e300", "chord.rpc_timeout_cap_ms"),
    ] {
        let e = parse_err(&format!("{ring}[chord]\n{line}\n"));
        assert!(e.contains(key), "{line}: {e}");
    }
    // Work estimate: 10^6 peers x one day with 1 ms stabilisation.
    let e = parse_err(&format!(
        "{}[chord]\nstabilize_ms = 1\nfix_fingers_ms = 1\n",
        ring.replace("hosts = 5", "hosts = 10000")
            .replace("duration_s = 30", "duration_s = 86000")
    ));
    assert!(e.contains("events") && e.contains("hours"), "{e}");
    refused(
        &["sweep", "x.toml", "--jobs", "100000"],
        d.path(),
        &["--jobs", "1..=256"],
    );
    refused(
        &["figures", "--jobs", "0"],
        d.path(),
        &["--jobs", "1..=256"],
    );
    refused(
        &["bench", "engine", "--pending", "0", "--ops", "1000"],
        d.path(),
        &["--pending", "at least one"],
    );
}

#[test]
fn nonsense_is_refused() {
    let e = parse_err(&with("workload", "warmup_s = 30"));
    assert!(e.contains("warmup_s") && e.contains("duration_s"), "{e}");
    let e = parse_err(&BASE.replace("duration_s = 30", "duration_s = 1e-7"));
    assert!(e.contains("duration_s") && e.contains("resolution"), "{e}");
    let e = parse_err(&with(
        "topology",
        "kind = \"random-sampling\"\nhi_ms = 1e308",
    ));
    assert!(e.contains("hi_ms"), "{e}");
    let e = parse_err(&with("topology", "kind = \"euclidean\"\nmedian_ms = 1e308"));
    assert!(e.contains("median_ms"), "{e}");
    let e = parse_err(
        "seed = 1\nduration_s = 30\nprotocol = \"chord-batch\"\n[topology]\nhosts = 3\n[dataset]\nkeys = 1000\ncache = false\n[chord]\nreplicas = 8\n",
    );
    assert!(
        e.contains("chord.replicas = 8") && e.contains("3 hosts"),
        "{e}"
    );
    let e = parse_err(&with("output", "dir = \"\""));
    assert!(e.contains("output.dir"), "{e}");
    // A churn trace needs its header.
    let d = tempfile::tempdir().unwrap();
    trace_refused(
        d.path(),
        "a,b,c\n1,0,down\n",
        &["t.csv", "line 1", "time_us,host,event"],
    );
    // An all-zero matrix runs, with a warning.
    std::fs::write(d.path().join("zero"), "0 0 0\n0 0 0\n0 0 0\n").unwrap();
    let (code, err) = leadsim(&["topology", "stats", "zero"], d.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("every RTT"), "{err}");
}

#[test]
fn errors_name_their_input_and_leave_no_debris() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // A failed write removes its temporary file (the target is a directory, so the move fails).
    std::fs::create_dir(p.join("target.csv")).unwrap();
    let e = leadsim::output::write_atomic(&p.join("target.csv"), b"x").unwrap_err();
    assert!(format!("{e:#}").contains("target.csv"));
    assert!(!p.join("target.csv.tmp").exists(), "debris left behind");
    // An unwritable dataset cache falls back to memory with a warning.
    std::fs::write(p.join("not-a-dir"), "").unwrap();
    let spec = leadsim::data::DatasetSpec {
        name: "uniform".into(),
        keys: 1000,
        ..Default::default()
    };
    let keys = spec.load(&p.join("not-a-dir")).unwrap();
    assert_eq!(keys.len(), 1000);
    // A missing SOSD file is called one.
    refused(
        &["dataset", "stats", "missing.sosd"],
        p,
        &["missing.sosd", "no such SOSD file"],
    );
    // Run-time errors name the manifest; an empty dataset is named as such.
    std::fs::write(p.join("empty.sosd"), 0u64.to_le_bytes()).unwrap();
    std::fs::write(
        p.join("e.toml"),
        "seed = 1\nduration_s = 5\nprotocol = \"lead\"\n[topology]\nhosts = 3\n[dataset]\nfile = \"empty.sosd\"\n[workload]\nquery = \"lookup\"\n",
    )
    .unwrap();
    refused(&["run", "e.toml"], p, &["e.toml", "holds none"]);
    std::fs::write(
        p.join("r.toml"),
        "seed = 1\nduration_s = 5\nprotocol = \"lead\"\n[topology]\nhosts = 3\n[dataset]\nname = \"uniform\"\nkeys = 100\ncache = false\n[workload]\nrange_keys = 500\n",
    )
    .unwrap();
    refused(&["run", "r.toml"], p, &["r.toml", "range_keys = 500"]);
}

#[test]
fn check_tells_unreachable_peers_apart() {
    // Host 3 is 1,500 ms from everyone: above the 1,000 ms RPC timeout cap, every RPC to it
    // times out, so its ring neighbours never accept it (faithful to p2psim) - the check says why.
    let d = tempfile::tempdir().unwrap();
    let n = 6;
    let mut m = String::new();
    for i in 0..n {
        let row: Vec<&str> = (0..n)
            .map(|j| {
                if i == j {
                    "0"
                } else if i == 3 || j == 3 {
                    "1500"
                } else {
                    "50"
                }
            })
            .collect();
        m.push_str(&row.join(" "));
        m.push('\n');
    }
    std::fs::write(d.path().join("far"), m).unwrap();
    let text = format!(
        "seed = 2\nduration_s = 120\nprotocol = \"chord-batch\"\n[topology]\nkind = \"planetlab\"\nfile = \"{}\"\nhosts = {n}\n[overlay]\nvnodes = 4\n[churn]\nmodel = \"none\"\n[dataset]\nname = \"uniform\"\nkeys = 1000\ncache = false\n[workload]\nquery = \"lookup\"\n[chord]\ninit = \"join\"\njoin_spread_s = 5\n",
        d.path().join("far").display()
    );
    let r =
        leadsim::experiment::run_manifest(&Manifest::parse(&text, "far.toml").unwrap()).unwrap();
    let c = r.output.check("ring consistent").unwrap();
    assert!(!c.holds, "{c:?}");
    assert!(!c.enforced, "explained, so not enforced: {c:?}");
    assert!(
        c.detail.contains("no RPC can reach") && c.detail.contains("host 3"),
        "{c:?}"
    );
}
