//! Sweeps: output bytes independent of threads, interruptions and sharding; stable seeds.

use leadsim::experiment::sweep::{PlannedRun, SweepPlan};
use leadsim::experiment::{assemble, execute, Exec, ExecReport};
use leadsim::manifest::Manifest;
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

fn jobs(n: usize) -> Exec {
    Exec {
        jobs: n,
        ..Default::default()
    }
}

fn shard(i: usize, n: usize) -> Exec {
    Exec {
        jobs: 1,
        shard: Some((i, n)),
        ..Default::default()
    }
}

fn full_sweep(jobs_n: usize) -> (Vec<u8>, Vec<u8>) {
    let d = tempfile::tempdir().unwrap();
    let plan = SweepPlan::load(&manifest(d.path(), AXES)).unwrap();
    assert_eq!(plan.runs.len(), 24);
    assert_eq!(execute(&plan, &jobs(jobs_n)).unwrap().executed, 24);
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
    // "Interrupt": only some runs finished, one run left half-written (no index).
    execute(&plan, &shard(1, 3)).unwrap();
    let half = plan.dir.join("runs").join(plan.runs[0].dir_name());
    std::fs::remove_file(half.join("index.json")).unwrap();
    std::fs::write(half.join("summary.csv"), "garbage").unwrap();
    assert!(
        assemble(&plan, std::slice::from_ref(&plan.dir), &plan.dir).is_err(),
        "incomplete sweeps must not assemble"
    );
    // Restart: only the missing runs execute.
    let ran = execute(&plan, &jobs(2)).unwrap();
    assert_eq!((ran.executed, ran.reused), (24 - 8 + 1, 7));
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
        execute(&plan, &shard(i + 1, 3)).unwrap();
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
fn common_seed_axes_share_seeds_and_the_rest_do_not() {
    let d = tempfile::tempdir().unwrap();
    let axes = format!("{AXES}common_seed = [\"chord_batch.batch_size\"]\n");
    let p = SweepPlan::load(&manifest(d.path(), &axes)).unwrap();
    let seed = |b: &str, v: &str, r: u32| {
        (p.runs.iter())
            .find(|x| x.params == [b, v] && x.replication == r)
            .unwrap()
            .seed
    };
    assert_eq!(seed("50", "2", 0), seed("100", "2", 0), "common axis");
    assert_ne!(seed("50", "2", 0), seed("50", "3", 0), "other axis");
    assert_ne!(seed("50", "2", 0), seed("50", "2", 1), "replications");
    let bad = format!("{AXES}common_seed = [\"overlay.vnode\"]\n");
    let e = format!(
        "{:#}",
        SweepPlan::load(&manifest(d.path(), &bad)).unwrap_err()
    );
    assert!(e.contains("not a sweep axis"), "{e}");
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

fn run_file(plan: &SweepPlan, i: usize, f: &str) -> PathBuf {
    plan.dir.join("runs").join(plan.runs[i].dir_name()).join(f)
}

#[test]
fn the_cache_reuses_only_what_the_same_configuration_inputs_and_code_produced() {
    let d = tempfile::tempdir().unwrap();
    let axes = "\"overlay.vnodes\" = [1, 2]\n";
    let plan = SweepPlan::load(&manifest(d.path(), axes)).unwrap();
    let n = plan.runs.len();
    assert_eq!(execute(&plan, &jobs(2)).unwrap().executed, n);
    let again = execute(&plan, &jobs(2)).unwrap();
    assert_eq!(
        (again.executed, again.reused),
        (0, n),
        "an unchanged sweep is served"
    );

    // An edited non-axis key re-runs everything.
    let text = std::fs::read_to_string(d.path().join("sweep.toml")).unwrap();
    std::fs::write(
        d.path().join("sweep.toml"),
        text.replace("duration_s = 20", "duration_s = 15"),
    )
    .unwrap();
    let edited = SweepPlan::load(&d.path().join("sweep.toml")).unwrap();
    let r = execute(&edited, &jobs(2)).unwrap();
    assert_eq!((r.executed, r.stale, r.reused), (n, n, 0), "{r}");
    let summary = std::fs::read_to_string(run_file(&edited, 0, "summary.csv")).unwrap();
    assert!(!summary.is_empty());
    // ... and the old runs can no longer be assembled under the old manifest.
    assert!(assemble(&plan, std::slice::from_ref(&plan.dir), &plan.dir).is_err());

    // A changed profile and a changed code fingerprint each re-run.
    let mut profiled = edited.clone();
    profiled.profile = "Paper".into();
    assert_eq!(execute(&profiled, &jobs(2)).unwrap().stale, n);
    let mut recoded = profiled.clone();
    recoded.code = "leadsim 0.1.0 other-commit bin:0000".into();
    assert_eq!(execute(&recoded, &jobs(2)).unwrap().stale, n);
    assert_eq!(execute(&recoded, &jobs(2)).unwrap().reused, n);

    // A truncated file and a deleted file each re-run their run only, never assemble it.
    let q = run_file(&recoded, 1, "queries.csv");
    let full = std::fs::read(&q).unwrap();
    std::fs::write(&q, &full[..full.len() / 2]).unwrap();
    std::fs::remove_file(run_file(&recoded, 2, "summary.csv")).unwrap();
    let e = assemble(&recoded, std::slice::from_ref(&recoded.dir), &recoded.dir).unwrap_err();
    assert!(
        format!("{e}").contains("queries.csv missing or altered"),
        "{e}"
    );
    let r = execute(&recoded, &jobs(2)).unwrap();
    assert_eq!((r.executed, r.damaged, r.reused), (2, 2, n - 2), "{r}");
    assert_eq!(
        std::fs::read(&q).unwrap(),
        full,
        "the re-run restores the same bytes"
    );

    // --rerun runs everything whatever the cache holds.
    let forced = Exec {
        jobs: 2,
        rerun: true,
        ..Default::default()
    };
    let r: ExecReport = execute(&recoded, &forced).unwrap();
    assert_eq!((r.executed, r.reused), (n, 0));
}

#[test]
fn runs_of_two_protocols_assemble_into_aligned_columns() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("out");
    let ping = format!(
        "duration_s = 20\n[topology]\nhosts = 10\n[workload]\nqueries_per_s = 5\n[output]\ndir = \"{}\"\n",
        dir.display()
    );
    let chord = format!(
        "duration_s = 20\nprotocol = \"chord-batch\"\n[topology]\nhosts = 10\n[dataset]\nname = \"uniform\"\n\
         keys = 10000\ncache = false\n[workload]\nqueries_per_s = 2\nrange_keys = 50\n[output]\ndir = \"{}\"\n",
        dir.display()
    );
    let run = |i: usize, text: &str, p: &str| PlannedRun {
        index: i,
        params: vec![p.to_string()],
        replication: 0,
        seed: 1,
        manifest: Manifest::parse(text, "t").unwrap(),
    };
    let mut plan = SweepPlan::load(&manifest(d.path(), "")).unwrap();
    plan.axes = vec!["protocol".into()];
    plan.runs = vec![run(0, &ping, "ping"), run(1, &chord, "chord-batch")];
    plan.dir = dir.clone();
    execute(&plan, &jobs(2)).unwrap();
    assemble(&plan, std::slice::from_ref(&dir), &dir).unwrap();
    let mut rdr = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let head: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let col = |name: &str| {
        head.iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} in {head:?}"))
    };
    assert_eq!(&rows[0][col("protocol")], "ping");
    assert_eq!(&rows[1][col("protocol")], "chord-batch");
    // Each protocol's own columns are filled in its row and empty in the other's.
    assert!(!rows[0][col("msgs_ping")].is_empty() && rows[1][col("msgs_ping")].is_empty());
    assert!(rows[0][col("msgs_lookup")].is_empty() && !rows[1][col("msgs_lookup")].is_empty());
    // Parameters that vary without being an axis become columns too.
    assert!(!rows[1][col("dataset.keys")].is_empty() && rows[0][col("dataset.keys")].is_empty());
    // Values are those of the runs' own files.
    for (i, r) in plan.runs.iter().enumerate() {
        let own = csv::Reader::from_path(run_file(&plan, i, "summary.csv"))
            .unwrap()
            .into_records()
            .next()
            .unwrap()
            .unwrap();
        let own_head = csv::Reader::from_path(run_file(&plan, i, "summary.csv"))
            .unwrap()
            .headers()
            .unwrap()
            .clone();
        for (h, v) in own_head.iter().zip(own.iter()) {
            assert_eq!(&rows[i][col(h)], v, "run {} column {h}", r.index);
        }
    }
}

/// `[sweep] paired`: the values of a workload axis become systems of one run (a group per
/// system, named after it in the assembled CSVs), on one ring: MARQUES's own ring is shared by
/// its group, so adding a paired value adds queries, never maintenance.
#[test]
fn paired_axes_become_systems_of_one_run() {
    let systems = "[[systems]]\nname = \"B50\"\nchord_batch = { batch_size = 50 }\n\
                   [[systems]]\nname = \"LEAD\"\nprotocol = \"lead\"\n\
                   [[systems]]\nname = \"MARQUES\"\nprotocol = \"marques\"\n";
    let plan_with = |d: &Path, values: &str| {
        let p = manifest(d, &format!(
            "\"workload.range_keys\" = [{values}]\n\"overlay.vnodes\" = [1, 2]\npaired = [\"workload.range_keys\"]\n"
        ));
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("[sweep]", &format!("{systems}[sweep]"))
            .replace("name = \"uniform\"", "name = \"osmc64-like\"");
        std::fs::write(&p, text).unwrap();
        SweepPlan::load(&p).unwrap()
    };
    let d = tempfile::tempdir().unwrap();
    let plan = plan_with(d.path(), "100, 300");
    assert_eq!(
        plan.runs.len(),
        6,
        "2 vnode values x 3 replications; range_keys is paired"
    );
    let names: Vec<(&str, &str)> = (plan.runs[0].manifest.systems.iter())
        .map(|s| (s.name.as_str(), s.group.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("B50 (range_keys=100)", "B50"),
            ("B50 (range_keys=300)", "B50"),
            ("LEAD (range_keys=100)", "LEAD"),
            ("LEAD (range_keys=300)", "LEAD"),
            ("MARQUES (range_keys=100)", "MARQUES"),
            ("MARQUES (range_keys=300)", "MARQUES"),
        ]
    );
    execute(&plan, &jobs(2)).unwrap();
    assemble(&plan, std::slice::from_ref(&plan.dir), &plan.dir).unwrap();
    let read = |f: &str| {
        let mut rdr = csv::Reader::from_path(plan.dir.join(f)).unwrap();
        let head: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
        let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        (head, rows)
    };
    let (head, rows) = read("summary.csv");
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 36);
    assert_eq!(
        head[0], "workload.range_keys",
        "the paired axis keeps its column"
    );
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(&r[col("system")], ["B50", "LEAD", "MARQUES"][(i % 6) / 2]);
        assert_eq!(&r[col("workload.range_keys")], ["100", "300"][i % 2]);
        assert!(r[col("queries")].parse::<u32>().unwrap() > 20, "row {i}");
    }
    // Every query asked for its system's own n.
    let (qhead, qrows) = read("queries.csv");
    let (n, want) = (
        qhead.iter().position(|h| h == "keys_requested").unwrap(),
        qhead
            .iter()
            .position(|h| h == "workload.range_keys")
            .unwrap(),
    );
    assert!(qrows.len() > 500);
    assert!(qrows.iter().all(|q| q[n] == q[want]));
    // One ring for the Chord-batch and LEAD groups, one for MARQUES's (not one per member).
    let r = leadsim::experiment::run_manifest(&plan.runs[0].manifest).unwrap();
    let rings: Vec<&str> = (r.output.checks.iter())
        .filter(|c| c.detail.starts_with("ring "))
        .map(|c| &c.detail[..6])
        .collect();
    assert_eq!(
        rings,
        ["ring 0", "ring 1"],
        "MARQUES's group shares one ring"
    );
    let d1 = tempfile::tempdir().unwrap();
    let one = plan_with(d1.path(), "100");
    assert_eq!(
        one.runs[0].seed, plan.runs[0].seed,
        "a paired axis leaves the seed"
    );
    // Errors: a paired axis must be a workload or dataset key and a sweep axis, not also a
    // common-seed axis, and no system may set its group itself.
    let rk = "\"workload.range_keys\" = [10, 20]\n";
    for (axes, want) in [
        (format!("{rk}paired = [\"workload.range_keys\"]\ncommon_seed = [\"workload.range_keys\"]\n"), "both name"),
        (format!("{rk}paired = [\"workload.range_keys\"]\n[[systems]]\nname = \"a\"\ngroup = \"g\"\n"), "sets its own group"),
    ] {
        let text = std::fs::read_to_string(manifest(d.path(), "")).unwrap();
        let (head, _) = text.split_once("[sweep]").unwrap();
        let (sweep, systems) = axes.split_once("[[systems]]").map_or((axes.as_str(), ""), |(a, b)| (a, b));
        let sys = if systems.is_empty() { String::new() } else { format!("[[systems]]{systems}") };
        let p = d.path().join("bad.toml");
        std::fs::write(&p, format!("{head}{sys}[sweep]\nreplications = 1\n{sweep}")).unwrap();
        let e = format!("{:#}", SweepPlan::load(&p).unwrap_err());
        assert!(e.contains(want), "{axes}: {e}");
    }
    for (axes, want) in [
        (
            "\"overlay.vnodes\" = [1, 2]\npaired = [\"overlay.vnodes\"]\n",
            "only workload and dataset keys",
        ),
        (
            "\"overlay.vnodes\" = [1, 2]\npaired = [\"workload.range_keys\"]\n",
            "not a sweep axis",
        ),
    ] {
        let e = format!(
            "{:#}",
            SweepPlan::load(&manifest(d.path(), axes)).unwrap_err()
        );
        assert!(e.contains(want), "{axes}: {e}");
    }
}

/// The systems of a group may differ only in their workload.
#[test]
fn a_group_with_different_tables_is_refused() {
    let text =
        "protocol = \"chord-batch\"\n[dataset]\nname = \"uniform\"\nkeys = 1000\ncache = false\n\
                [workload]\nrange_keys = 10\n\
                [[systems]]\nname = \"a\"\ngroup = \"g\"\nchord_batch = { batch_size = 50 }\n\
                [[systems]]\nname = \"b\"\ngroup = \"g\"\nchord_batch = { batch_size = 100 }\n";
    let e = format!("{:#}", Manifest::parse(text, "g.toml").unwrap_err());
    assert!(e.contains("differ only in their workload"), "{e}");
    for (bad, want) in [
        (
            text.replace(
                "group = \"g\"\nchord_batch = { batch_size = 50 }",
                "group = \"\"\nchord_batch = { batch_size = 50 }",
            ),
            "non-empty",
        ),
        (
            text.replace("name = \"b\"\ngroup = \"g\"", "name = \"b\"\ngroup = \"a\""),
            "name of another system",
        ),
    ] {
        let e = format!("{:#}", Manifest::parse(&bad, "g.toml").unwrap_err());
        assert!(e.contains(want), "{e}");
    }
    let same = text.replace("batch_size = 100", "batch_size = 50");
    let m = Manifest::parse(
        &same.replace(
            "name = \"b\"\ngroup = \"g\"\n",
            "name = \"b\"\ngroup = \"g\"\nworkload = { range_keys = 20 }\n",
        ),
        "g.toml",
    )
    .unwrap();
    assert_eq!(m.systems[1].group, "g");
}

/// Two sweeps (different names and directories) whose points include one identical simulation:
/// it is simulated once, and each sweep gets exactly the files a run of its own would write.
#[test]
fn identical_runs_of_two_sweeps_are_simulated_once() {
    let d = tempfile::tempdir().unwrap();
    let write = |name: &str, axis: &str| -> PathBuf {
        let text = format!(
            "name = \"{name}\"\nseed = 4\nduration_s = 20\nprotocol = \"chord-batch\"\n[topology]\nhosts = 20\n[overlay]\nvnodes = 2\n\
             [churn]\nmodel = \"exponential\"\nlifetime_mean_s = 60\ndowntime_mean_s = 20\n\
             [dataset]\nname = \"uniform\"\nkeys = 20000\ncache = false\n[workload]\nqueries_per_s = 5\nrange_keys = 200\n\
             [output]\ndir = \"{}\"\n[sweep]\n{axis}common_seed = [\"{}\"]\n",
            d.path().join(name).display(),
            axis.split('"').nth(1).unwrap()
        );
        let p = d.path().join(format!("{name}.toml"));
        std::fs::write(&p, text).unwrap();
        p
    };
    // 20 hosts x 2 vnodes is the shared point (a's first, b's first); the others differ.
    let a = SweepPlan::load(&write("a", "\"overlay.vnodes\" = [2, 3]\n")).unwrap();
    let b = SweepPlan::load(&write("b", "\"topology.hosts\" = [20, 30]\n")).unwrap();
    let reports = leadsim::experiment::execute_all(&[&a, &b], &jobs(2)).unwrap();
    let executed: usize = reports.iter().map(|r| r.executed).sum();
    let shared: usize = reports.iter().map(|r| r.shared).sum();
    assert_eq!((executed, shared), (3, 1), "{reports:?}");
    let shared_file = run_file(&b, 0, "summary.csv");
    let own = std::fs::read(run_file(&a, 0, "summary.csv")).unwrap();
    let got = std::fs::read(&shared_file).unwrap();
    assert_ne!(own, got, "each copy carries its own run name");
    let renamed = String::from_utf8(own).unwrap().replace("\na,", "\nb,");
    assert_eq!(
        renamed.as_bytes(),
        &got[..],
        "the same numbers under b's name"
    );
    // Simulated alone, b's point writes the same summary byte for byte.
    let alone = tempfile::tempdir().unwrap();
    let r = leadsim::experiment::run_manifest(&b.runs[0].manifest).unwrap();
    r.write(alone.path()).unwrap();
    assert_eq!(
        std::fs::read(alone.path().join("summary.csv")).unwrap(),
        got
    );
    let prov = std::fs::read_to_string(run_file(&b, 0, "provenance.json")).unwrap();
    assert!(prov.contains("same_run_as"), "{prov}");
    // A second execution reuses everything from the cache.
    let again = leadsim::experiment::execute_all(&[&a, &b], &jobs(2)).unwrap();
    assert_eq!(again.iter().map(|r| r.reused).sum::<usize>(), 4);
}

/// Figs 9b (churn models), 9c (host counts) and 9d (latency models) share one point: paper churn,
/// 490 PlanetLab-like hosts. With common seeds it is one simulation in both profiles.
#[test]
fn figs_9b_9c_9d_share_their_common_point() {
    use leadsim::experiment::cache::simulation_key;
    for quick in [true, false] {
        let mut keys: Vec<Vec<String>> = Vec::new();
        for f in ["fig09b", "fig09c", "fig09d"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("experiments/{f}.toml"));
            let over = [("duration_s", toml::Value::Float(300.0))];
            let plan = if quick {
                SweepPlan::load_with(&path, &over).unwrap()
            } else {
                SweepPlan::load(&path).unwrap()
            };
            keys.push(
                plan.runs
                    .iter()
                    .map(|r| simulation_key(&plan, r).unwrap())
                    .collect(),
            );
        }
        let in_all: Vec<&String> = keys[0]
            .iter()
            .filter(|k| keys[1].contains(k) && keys[2].contains(k))
            .collect();
        assert_eq!(in_all.len(), 1, "quick = {quick}");
        let distinct: std::collections::BTreeSet<&String> = keys.iter().flatten().collect();
        assert_eq!(distinct.len(), 3 + 5 + 4 - 2, "quick = {quick}");
    }
}
