//! Bad input gets a clear error and a non-zero exit, never a panic.

mod common;

use common::{leadsim, refused as expect_error};

#[test]
fn bad_inputs_are_explained() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // Truncated and unsorted SOSD files.
    let mut bytes = 3u64.to_le_bytes().to_vec();
    for k in [1u64, 5, 9] {
        bytes.extend(k.to_le_bytes());
    }
    std::fs::write(p.join("trunc.sosd"), &bytes[..bytes.len() - 5]).unwrap();
    expect_error(
        &["dataset", "stats", "trunc.sosd"],
        p,
        &["trunc.sosd", "truncated"],
    );
    let mut unsorted = 3u64.to_le_bytes().to_vec();
    for k in [1u64, 9, 5] {
        unsorted.extend(k.to_le_bytes());
    }
    std::fs::write(p.join("unsorted.sosd"), unsorted).unwrap();
    expect_error(
        &["dataset", "stats", "unsorted.sosd"],
        p,
        &["not sorted", "key #2"],
    );
    // Ragged and negative matrices.
    std::fs::write(p.join("ragged.txt"), "0 1 2\n1 0\n2 1 0\n").unwrap();
    expect_error(
        &["topology", "stats", "ragged.txt"],
        p,
        &["ragged.txt", "row 2", "expected 3"],
    );
    std::fs::write(p.join("neg.txt"), "0 1\n-1 0\n").unwrap();
    expect_error(
        &["topology", "stats", "neg.txt"],
        p,
        &["row 2", "column 1", ">= 0"],
    );
    // Manifests: unknown key, Pareto shape 1 with a mean, zero hosts, unknown dataset.
    std::fs::write(
        p.join("unknown.toml"),
        "seed = 1\n[churn]\nmodle = \"uniform\"\n",
    )
    .unwrap();
    expect_error(&["run", "unknown.toml"], p, &["unknown.toml:3", "modle"]);
    std::fs::write(
        p.join("pareto.toml"),
        "[churn]\nmodel = \"pareto\"\nalpha = 1.0\nlifetime_mean_s = 600\n",
    )
    .unwrap();
    expect_error(
        &["run", "pareto.toml"],
        p,
        &["pareto.toml:", "alpha > 1", "no finite mean"],
    );
    std::fs::write(p.join("zero.toml"), "[topology]\nhosts = 0\n").unwrap();
    expect_error(
        &["run", "zero.toml"],
        p,
        &["zero.toml:2: topology.hosts", "at least one host"],
    );
    std::fs::write(
        p.join("missing.toml"),
        "[topology]\nkind = \"planetlab\"\nfile = \"nope.txt\"\n",
    )
    .unwrap();
    expect_error(&["run", "missing.toml"], p, &["nope.txt"]);
    expect_error(
        &["dataset", "gen", "osm"],
        p,
        &["unknown dataset", "osmc64-like"],
    );
    expect_error(
        &["run", "does-not-exist.toml"],
        p,
        &["cannot read manifest"],
    );
    // `model spans`: a range longer than the key file, no range at all, a bad threshold.
    let mut keys = 1000u64.to_le_bytes().to_vec();
    for k in 0..1000u64 {
        keys.extend((k * 3).to_le_bytes());
    }
    std::fs::write(p.join("keys.sosd"), keys).unwrap();
    let spans = |extra: &[&'static str]| {
        let mut a = vec![
            "model",
            "spans",
            "--dataset",
            "keys.sosd",
            "--model",
            "rmi:linear,linear,4",
        ];
        a.extend_from_slice(extra);
        a
    };
    expect_error(
        &spans(&["--range", "1001"]),
        p,
        &["--range 1001", "1000 keys"],
    );
    expect_error(&spans(&["--range", "0"]), p, &["--range 0", "does not fit"]);
    expect_error(&spans(&["--over", "NaN"]), p, &["--over", "peers >= 0"]);
    // Evenly spaced keys are learnt exactly: every window of 10 spans 9 positions, 0.9 peers
    // of 100.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadsim"))
        .args(spans(&["--range", "10", "--peers", "100"]))
        .current_dir(p)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("991 windows of 10 keys"), "{text}");
    let row = |name: &str| {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or("");
        line.split_whitespace()
            .skip(name.split_whitespace().count())
            .collect::<Vec<_>>()
    };
    assert_eq!(row("positions"), ["9.0"; 6], "{text}");
    assert_eq!(
        row("peers at 100"),
        ["0.9", "0.9", "0.9", "0.9", "0.9", "0.9", "0.00000"],
        "{text}"
    );
}

#[test]
fn a_manifest_runs_end_to_end_from_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(
        p.join("m.toml"),
        "seed = 3\nduration_s = 60\n[topology]\nhosts = 20\n[overlay]\nvnodes = 2\n[workload]\nqueries_per_s = 10\n[output]\ndir = \"out\"\nchurn_trace = true\n",
    )
    .unwrap();
    let (code, err) = leadsim(&["run", "m.toml"], p);
    assert_eq!(code, 0, "{err}");
    let summary = std::fs::read_to_string(p.join("out/summary.csv")).unwrap();
    assert!(summary.starts_with("run,protocol,"), "{summary}");
    let queries = std::fs::read_to_string(p.join("out/queries.csv")).unwrap();
    // ~600 queries expected from a Poisson process at 10/s over 60 s.
    let n = queries.lines().count() - 1;
    assert!((450..750).contains(&n), "{n} queries");
    let prov: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("out/provenance.json")).unwrap())
            .unwrap();
    assert_eq!(prov["seed"], 3);
    assert!(prov["events"].as_u64().unwrap() > 0);
    assert!(p.join("out/churn.csv").exists());
}

#[test]
fn check_flag_verifies_rings_and_refuses_ringless_protocols() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(
        p.join("ring.toml"),
        "duration_s = 20\nprotocol = \"chord-batch\"\n[topology]\nhosts = 30\n[overlay]\nvnodes = 2\n[churn]\nmodel = \"none\"\n\
         [dataset]\nname = \"uniform\"\nkeys = 10000\ncache = false\n[workload]\nqueries_per_s = 20\nquery = \"lookup\"\n[output]\ndir = \"out\"\n",
    )
    .unwrap();
    let (code, err) = leadsim(&["run", "ring.toml", "--check"], p);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("ring consistent: OK; ring 0: 60 live peers")
            && err.contains("answers from the true owner: OK"),
        "{err}"
    );
    std::fs::write(
        p.join("ping.toml"),
        "duration_s = 5\n[topology]\nhosts = 5\n[output]\ndir = \"out2\"\n",
    )
    .unwrap();
    expect_error(
        &["run", "ping.toml", "--check"],
        p,
        &["runs no invariant checks"],
    );
    std::fs::write(
        p.join("bad.toml"),
        "protocol = \"ping\"\n[chord]\nsuccessors = 4\n",
    )
    .unwrap();
    expect_error(
        &["run", "bad.toml"],
        p,
        &["bad.toml:2: chord", "applies only to protocol"],
    );
    std::fs::write(
        p.join("bad2.toml"),
        "protocol = \"chord-batch\"\n[chord]\nsuccessors = 99\n",
    )
    .unwrap();
    expect_error(
        &["run", "bad2.toml"],
        p,
        &["bad2.toml:3: chord.successors", "1..=24"],
    );
}
