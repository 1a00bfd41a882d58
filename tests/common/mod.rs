//! Helpers shared by the integration tests: run the binary, expect a refusal, measure
//! completeness.
// Each test crate includes this module and uses only some of its helpers.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Runs the CLI in `cwd`; returns (exit code, stderr) and fails on a panic.
pub fn leadsim(args: &[&str], cwd: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_leadsim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panic for {args:?}: {stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

/// Expects a non-zero exit whose message contains every needle.
pub fn refused(args: &[&str], cwd: &Path, needles: &[&str]) {
    let (code, err) = leadsim(args, cwd);
    assert_ne!(code, 0, "{args:?} must fail: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: expected '{n}' in: {err}");
    }
}

/// Completeness of the answered queries of one system: (keys returned / keys requested over
/// the queries that completed, how many completed).
pub fn completeness(records: &[leadsim::output::QueryRecord]) -> (f64, usize) {
    let ok: Vec<_> = records
        .iter()
        .filter(|q| q.outcome == leadsim::output::Outcome::Ok)
        .collect();
    let got: u64 = ok.iter().map(|q| q.keys_returned).sum();
    let want: u64 = ok.iter().map(|q| q.keys_requested).sum();
    (got as f64 / want as f64, ok.len())
}
