//! The fuzz harness: generated manifests, latency matrices, SOSD files, churn traces and command
//! lines. Invariant: every input either runs or is refused with an error naming the input -
//! never a panic, a hang or a silent wrap.
//!
//! `cargo test --release --test fuzz` runs a bounded campaign (seconds). The longer campaign
//! (docs/modelling.md, *Limits*): `FUZZ_CASES=25000 cargo test --release --test fuzz` (25,000
//! inputs per parser target, a tenth of that for command lines, which spawn the binary).

use leadsim::manifest::Manifest;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Cases per parser target: `FUZZ_CASES`, default 200.
fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Values that once broke something, and ordinary ones.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "-1",
            "1",
            "2",
            "1e-300",
            "1e-9",
            "1e308",
            "nan",
            "inf",
            "-inf",
            "4.3e9",
            "9223372036854775807",
            "4294967296",
            "17592186044516",
            "2305843009213693952",
            "\"\"",
            "\"zipf:1.0\"",
            "\"pareto:2\"",
            "\"uniform:1,3\"",
            "\"exact\"",
            "\"keys\"",
            "\"requests\"",
            "\"join\"",
            "true",
            "[1, 2]",
            "{}",
        ])
        .prop_map(str::to_string),
        (-1e4f64..1e4).prop_map(|x| format!("{x}")),
        (0u64..5000).prop_map(|x| x.to_string()),
        "[a-z:,0-9.-]{0,10}".prop_map(|s| format!("\"{s}\"")),
    ]
}

/// Manifest keys by section ("" = top level).
const KEYS: &[(&str, &str)] = &[
    ("", "duration_s"),
    ("", "seed"),
    ("", "protocol"),
    ("topology", "hosts"),
    ("topology", "kind"),
    ("topology", "median_ms"),
    ("topology", "degree"),
    ("topology", "link_max_ms"),
    ("topology", "lo_ms"),
    ("topology", "hi_ms"),
    ("latency", "local_us"),
    ("latency", "one_way"),
    ("overlay", "vnodes"),
    ("overlay", "capacity"),
    ("overlay", "min_vnodes"),
    ("overlay", "max_vnodes"),
    ("overlay", "vnodes_per_host"),
    ("churn", "model"),
    ("churn", "lifetime_mean_s"),
    ("churn", "downtime_mean_s"),
    ("churn", "alpha"),
    ("churn", "start_s"),
    ("churn", "stop_s"),
    ("dataset", "name"),
    ("dataset", "keys"),
    ("workload", "queries_per_s"),
    ("workload", "warmup_s"),
    ("workload", "query"),
    ("workload", "range_keys"),
    ("workload", "popularity"),
    ("chord", "stabilize_ms"),
    ("chord", "fix_fingers_ms"),
    ("chord", "rpc_timeout_rtts"),
    ("chord", "rpc_timeout_cap_ms"),
    ("chord", "max_lookup_ms"),
    ("chord", "replicas"),
    ("chord", "successors"),
    ("chord", "init"),
    ("lead", "model"),
    ("lead", "balancer"),
    ("lead", "window_s"),
    ("lead", "threshold"),
    ("chord_batch", "batch_size"),
    ("ping", "timeout_ms"),
    ("output", "series"),
    ("nonsense", "key"),
];

/// A manifest: a cheap valid base for one of three protocols, then up to six keys replaced.
fn manifest() -> impl Strategy<Value = String> {
    let edits = prop::collection::vec((0..KEYS.len(), value()), 0..6);
    (0usize..3, edits).prop_map(|(p, edits)| {
        let proto = ["ping", "chord-batch", "lead"][p];
        let mut t: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
        let mut set = |s: &'static str, k: &'static str, v: String| {
            t.entry(s).or_default().insert(k, v);
        };
        set("", "duration_s", "5".into());
        set("", "protocol", format!("\"{proto}\""));
        set("topology", "hosts", "4".into());
        set("overlay", "vnodes", "2".into());
        set("churn", "model", "\"exponential\"".into());
        set("churn", "lifetime_mean_s", "3".into());
        set("churn", "downtime_mean_s", "1".into());
        set("workload", "queries_per_s", "3".into());
        if proto != "ping" {
            set("dataset", "keys", "3000".into());
            set("dataset", "cache", "false".into());
            set("workload", "range_keys", "40".into());
        }
        for (i, v) in edits {
            let (s, k) = KEYS[i];
            set(s, k, v);
        }
        let mut text = String::new();
        for (k, v) in t.get("").into_iter().flatten() {
            text.push_str(&format!("{k} = {v}\n"));
        }
        for (s, kv) in t.iter().filter(|(s, _)| !s.is_empty()) {
            text.push_str(&format!("[{s}]\n"));
            for (k, v) in kv {
                text.push_str(&format!("{k} = {v}\n"));
            }
        }
        text
    })
}

/// Whether a parsed manifest is small enough to run inside the test.
fn cheap(m: &Manifest) -> bool {
    let peers = m.topology.hosts as f64 * f64::from(m.overlay.vnodes);
    let keys = m.dataset.as_ref().map_or(0, |d| d.keys);
    peers <= 400.0
        && m.duration_s <= 60.0
        && keys <= 200_000
        && m.workload.queries_per_s * m.duration_s <= 2_000.0
        && m.topology.hosts <= 1_000
}

#[test]
fn manifests_run_or_are_refused_naming_the_file() {
    let ran = std::cell::Cell::new(0u32);
    let refused = std::cell::Cell::new(0u32);
    runner(cases())
        .run(&manifest(), |text| {
            let parsed = catch_unwind(|| Manifest::parse(&text, "fuzz.toml"));
            let m = match parsed {
                Err(_) => panic!("parse panicked on:\n{text}"),
                Ok(Err(e)) => {
                    let msg = format!("{e:#}");
                    assert!(
                        msg.contains("fuzz.toml"),
                        "error without the file: {msg}\n{text}"
                    );
                    refused.set(refused.get() + 1);
                    return Ok(());
                }
                Ok(Ok(m)) => m,
            };
            if cheap(&m) {
                let t = Instant::now();
                let r = catch_unwind(AssertUnwindSafe(|| {
                    leadsim::experiment::run_manifest(&m).map(|r| r.output.events)
                }));
                assert!(r.is_ok(), "run panicked on:\n{text}");
                assert!(t.elapsed() < Duration::from_secs(60), "slow run:\n{text}");
                ran.set(ran.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    let (ran, refused) = (ran.get(), refused.get());
    eprintln!("manifests: {ran} ran, {refused} refused");
    assert!(
        ran > 0 && refused > 0,
        "the generator must reach both outcomes"
    );
}

#[test]
fn matrices_parse_or_are_refused() {
    let token = prop::sample::select(vec![
        "0",
        "1",
        "-1",
        "50",
        "1e9",
        "1e300",
        "nan",
        "inf",
        "x",
        "1.5",
        "",
        "  ",
        "\t",
        "0.0",
        "99999999999",
    ]);
    let row = prop::collection::vec(token, 0..6).prop_map(|v| v.join(" "));
    let text = prop::collection::vec(row, 0..6).prop_map(|v| v.join("\n"));
    let strat = prop_oneof![text, ".{0,40}"];
    runner(cases())
        .run(&(strat, any::<bool>()), |(text, diag)| {
            let unit = leadsim::topology::matrix::MatrixUnit::default();
            let r = catch_unwind(|| leadsim::topology::matrix::parse_matrix(&text, unit, diag));
            match r {
                Err(_) => panic!("matrix parser panicked on {text:?}"),
                Ok(Err(e)) => assert!(!format!("{e:#}").is_empty()),
                Ok(Ok(m)) => assert!(m.hosts * m.hosts == m.rtt_us.len()),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn sosd_files_load_or_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.sosd");
    let keys = prop::collection::vec(any::<u64>(), 0..20);
    let strat = (0u64..30, keys, any::<bool>(), 0usize..8);
    runner(cases())
        .run(&strat, |(count, mut keys, sorted, cut)| {
            if sorted {
                keys.sort_unstable();
            }
            let mut bytes = count.to_le_bytes().to_vec();
            for k in &keys {
                bytes.extend(k.to_le_bytes());
            }
            bytes.truncate(bytes.len().saturating_sub(cut));
            std::fs::write(&path, &bytes).unwrap();
            match catch_unwind(|| leadsim::data::load_sosd(&path)) {
                Err(_) => panic!("SOSD loader panicked on {bytes:?}"),
                Ok(Err(e)) => {
                    assert!(format!("{e:#}").contains("f.sosd"), "{e:#}");
                }
                Ok(Ok(s)) => assert_eq!(s.len() as u64, count),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn churn_traces_load_or_are_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    let time = prop_oneof![
        (0u64..100_000_000).prop_map(|t| t.to_string()),
        prop::sample::select(vec![
            "17592186046416",
            "-1",
            "x",
            "",
            "1e6",
            "18446744073709551616"
        ])
        .prop_map(str::to_string),
    ];
    let host = prop_oneof![
        (0u32..6).prop_map(|h| h.to_string()),
        prop::sample::select(vec!["-1", "x", "4294967296"]).prop_map(str::to_string),
    ];
    let event = prop::sample::select(vec!["down", "up", "DOWN", "", "crash"]);
    let line = (time, host, event).prop_map(|(t, h, e)| format!("{t},{h},{e}"));
    let header = prop::sample::select(vec!["time_us,host,event", "a,b,c", "time_us,host", ""]);
    let strat = (header, prop::collection::vec(line, 0..8));
    runner(cases())
        .run(&strat, |(header, lines)| {
            let text = format!("{header}\n{}\n", lines.join("\n"));
            std::fs::write(&path, &text).unwrap();
            match catch_unwind(|| leadsim::churn::ChurnSchedule::read_csv(&path, 4)) {
                Err(_) => panic!("trace reader panicked on {text:?}"),
                Ok(Err(e)) => assert!(format!("{e:#}").contains("t.csv"), "{e:#}"),
                Ok(Ok(_)) => {}
            }
            Ok(())
        })
        .unwrap();
}

/// Runs the binary with a deadline; returns (exit code, stderr).
fn spawn(args: &[String], cwd: &std::path::Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadsim"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code(), err);
        }
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("hang: leadsim {args:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn command_lines_run_or_are_refused_without_panics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ok.toml"),
        "duration_s = 2\n[topology]\nhosts = 3\n",
    )
    .unwrap();
    let head = prop::sample::select(vec![
        vec!["run"],
        vec!["sweep"],
        vec!["figures", "--only", "fig99"],
        vec!["bench", "engine", "--ops", "1000"],
        // Heads whose defaults are heavy (200 M keys) always get a size or a missing input.
        vec!["dataset", "gen", "uniform", "--keys", "3000"],
        vec!["dataset", "gen", "nope", "--keys"],
        vec!["dataset", "stats", "missing.sosd"],
        vec!["topology", "stats"],
        vec!["topology", "export"],
        vec!["model", "eval", "missing.toml"],
        vec!["protocols"],
        vec!["nonsense"],
    ]);
    let token = prop::sample::select(vec![
        "--jobs",
        "0",
        "100000",
        "2",
        "--pending",
        "--ops",
        "1000",
        "--keys",
        "--hosts",
        "3",
        "18446744073709551615",
        "9223372036854775808",
        "-1",
        "x",
        "uniform",
        "planetlab-like",
        "random-graph:2",
        "ok.toml",
        "missing.toml",
        "--shard",
        "3/2",
        "0/0",
        "--list",
        "--seed",
        "--markdown",
        "out.txt",
    ]);
    let strat = (head, prop::collection::vec(token, 0..5));
    let codes = std::cell::RefCell::new(BTreeMap::new());
    runner((cases() / 10).max(20))
        .run(&strat, |(head, tail)| {
            let args: Vec<String> = head.iter().chain(&tail).map(|s| s.to_string()).collect();
            let (code, err) = spawn(&args, dir.path());
            assert!(!err.contains("panicked"), "panic: leadsim {args:?}: {err}");
            let code = code.expect("killed by a signal");
            assert!(code == 0 || code == 1 || code == 2, "exit {code}: {args:?}");
            if code != 0 {
                assert!(!err.trim().is_empty(), "silent failure: {args:?}");
            }
            *codes.borrow_mut().entry(code).or_insert(0) += 1;
            Ok(())
        })
        .unwrap();
    eprintln!("command lines by exit code: {:?}", codes.borrow());
}
