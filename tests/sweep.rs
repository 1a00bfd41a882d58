//! Sweeps: output bytes independent of threads, interruptions and sharding; stable seeds.

use leadsim::experiment::sweep::{assemble, execute, SweepPlan};
use std::path::{Path, PathBuf};

fn manifest(dir: &Path, axes: &str) -> PathBuf {
    let text = format!(
        "seed = 4\nduration_s = 20\nprotocol = \"chord-batch\"\n[topology]\nhosts = 20\n[overlay]\nvnodes = 2\n\
         [churn]\nmodel = \"exponential\"\nlifetime_mean_s = 60\ndowntime_mean_s = 20\n\
         [dataset]\nname = \"uniform\"\nkeys = 20000\ncache = false\n[workload]\nqueries_per_s = 5\nrange_keys = 200\n\
         [output]\ndir = \"{}\"\n[sweep]\nreplications = 3\n{axes}",
        dir.join("out").display()
    );
    let p = dir.join("sweep.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const AXES: &str = "\"chord_batch.batch_size\" = [50, 100]\n\"overlay.vnodes\" = [1, 2, 3, 4]\n";

fn outputs(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(dir.join("out/summary.csv")).unwrap(),
        std::fs::read(dir.join("out/queries.csv")).unwrap(),
    )
}

fn full_sweep(jobs: usize) -> (Vec<u8>, Vec<u8>) {
    let d = tempfile::tempdir().unwrap();
    let plan = SweepPlan::load(&manifest(d.path(), AXES)).unwrap();
    assert_eq!(plan.runs.len(), 24);
    assert_eq!(execute(&plan, None, jobs).unwrap(), 24);
    assemble(&plan, std::slice::from_ref(&plan.dir), &plan.dir).unwrap();
    outputs(d.path())
}

#[test]
fn one_and_two_threads_give_identical_bytes() {
    let one = full_sweep(1);
    let two = full_sweep(2);
    assert!(one == two, "thread count changed the output");
    let summary = String::from_utf8(one.0).unwrap();
    assert_eq!(summary.lines().count(), 25, "header + 24 runs");
    assert!(summary.starts_with("chord_batch.batch_size,overlay.vnodes,replication,run,"));
    // Run order: last axis innermost, replications innermost of all.
    let first_cols: Vec<String> = summary
        .lines()
        .skip(1)
        .take(4)
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(first_cols, ["50,1,0", "50,1,1", "50,1,2", "50,2,0"]);
}

#[test]
fn an_interrupted_sweep_resumes_to_the_same_bytes() {
    let reference = full_sweep(2);
    let d = tempfile::tempdir().unwrap();
    let plan = SweepPlan::load(&manifest(d.path(), AXES)).unwrap();
    // "Interrupt": only some runs finished, one run left half-written (no provenance).
    execute(&plan, Some((1, 3)), 2).unwrap();
    let half = plan.dir.join("runs").join(plan.runs[0].dir_name());
    std::fs::remove_file(half.join("provenance.json")).unwrap();
    std::fs::write(half.join("summary.csv"), "garbage").unwrap();
    assert!(
        assemble(&plan, std::slice::from_ref(&plan.dir), &plan.dir).is_err(),
        "incomplete sweeps must not assemble"
    );
    // Restart: only the missing runs execute.
    let ran = execute(&plan, None, 2).unwrap();
    assert_eq!(ran, 24 - 8 + 1);
    assemble(&plan, std::slice::from_ref(&plan.dir), &plan.dir).unwrap();
    assert!(
        outputs(d.path()) == reference,
        "resumed sweep differs from an uninterrupted one"
    );
}

#[test]
fn merged_shards_equal_the_unsharded_sweep() {
    let reference = full_sweep(2);
    let shards: Vec<tempfile::TempDir> = (1..=3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut dirs = Vec::new();
    for (i, s) in shards.iter().enumerate() {
        let plan = SweepPlan::load(&manifest(s.path(), AXES)).unwrap();
        execute(&plan, Some((i + 1, 3)), 1).unwrap();
        dirs.push(plan.dir.clone());
    }
    let out = tempfile::tempdir().unwrap();
    let plan = SweepPlan::load(&manifest(out.path(), AXES)).unwrap();
    assemble(&plan, &dirs, &plan.dir).unwrap();
    assert!(
        outputs(out.path()) == reference,
        "merged shards differ from the unsharded sweep"
    );
    assert!(
        assemble(&plan, &dirs[..2], &plan.dir).is_err(),
        "a missing shard must be reported"
    );
}

#[test]
fn adding_an_axis_value_keeps_the_other_seeds() {
    let d = tempfile::tempdir().unwrap();
    let a = SweepPlan::load(&manifest(d.path(), AXES)).unwrap();
    let b = SweepPlan::load(&manifest(
        d.path(),
        &AXES.replace("[50, 100]", "[50, 75, 100]"),
    ))
    .unwrap();
    for r in &a.runs {
        let same = b
            .runs
            .iter()
            .find(|x| x.params == r.params && x.replication == r.replication)
            .unwrap();
        assert_eq!(same.seed, r.seed, "{:?}", r.params);
    }
    assert_ne!(a.runs[0].seed, a.runs[1].seed, "replications differ");
}

#[test]
fn bad_sweeps_are_explained() {
    let d = tempfile::tempdir().unwrap();
    for (axes, want) in [
        ("\"overlay.vnodes\" = []\n", "empty list"),
        ("\"overlay.vnodes\" = 3\n", "must be a list"),
        ("\"topology.hsots\" = [1, 2]\n", "hsots"),
        ("\"overlay.vnodes\" = [\"many\"]\n", "vnodes"),
        ("\"seed\" = [1, 2]\n", "cannot be swept"),
    ] {
        let e = format!(
            "{:#}",
            SweepPlan::load(&manifest(d.path(), axes)).unwrap_err()
        );
        assert!(e.contains(want), "{axes}: {e}");
    }
}
