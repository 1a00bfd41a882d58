//! `[[systems]] dataset` and `[sweep] paired = ["dataset.<key>"]`: systems of one run storing
//! different datasets on one churned ring (Figs 7/8: four datasets, one ring).

use leadsim::experiment::sweep::SweepPlan;
use leadsim::experiment::{assemble, execute, run_manifest, Exec};
use std::path::Path;

/// A sweep pairing two datasets (systems LEAD, B50 and MARQUES), the run's own dataset `own`.
fn plan(dir: &Path, own: &str) -> SweepPlan {
    let text = format!(
        "seed = 9\nduration_s = 40\nprotocol = \"chord-batch\"\n[topology]\nkind = \"euclidean\"\nhosts = 24\n\
         [overlay]\nvnodes = 2\n[churn]\nmodel = \"none\"\n\
         [dataset]\nname = \"{own}\"\nkeys = 30000\ncache = false\n\
         [workload]\nqueries_per_s = 4\nrange_keys = 150\nwarmup_s = 2\n\
         [output]\ndir = \"{}\"\nqueries = true\n\
         [[systems]]\nname = \"LEAD\"\nprotocol = \"lead\"\n\
         [[systems]]\nname = \"B50\"\nchord_batch = {{ batch_size = 50 }}\n\
         [[systems]]\nname = \"MARQUES\"\nprotocol = \"marques\"\n\
         [sweep]\n\"dataset.name\" = [\"uniform\", \"osmc64-like\"]\npaired = [\"dataset.name\"]\n",
        dir.join("out").display()
    );
    let p = dir.join("m.toml");
    std::fs::write(&p, text).unwrap();
    SweepPlan::load(&p).unwrap()
}

fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let head = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (head, rows)
}

/// Runs and assembles `plan` on one worker; returns the assembled summary.
fn run_and_read(plan: &SweepPlan) -> (Vec<String>, Vec<Vec<String>>) {
    let one = Exec {
        jobs: 1,
        ..Default::default()
    };
    execute(plan, &one).unwrap();
    assemble(plan, std::slice::from_ref(&plan.dir), &plan.dir).unwrap();
    csv(&plan.dir.join("summary.csv"))
}

/// Each system stores and queries its own dataset: without churn every range returns exactly
/// the keys it asked for, the assembled rows name the system's group and dataset, and MARQUES
/// (whose ring depends on the keys) gets a ring per dataset.
#[test]
fn paired_datasets_are_systems_of_one_run_each_with_its_own_keys() {
    let d = tempfile::tempdir().unwrap();
    let plan = plan(d.path(), "uniform");
    assert_eq!(plan.runs.len(), 1, "the dataset axis is paired: one run");
    let m = &plan.runs[0].manifest;
    let own: Vec<Option<&str>> = (m.systems.iter())
        .map(|s| s.dataset.as_ref().map(|d| d.name.as_str()))
        .collect();
    assert_eq!(
        own,
        [None, Some("osmc64-like")].repeat(3),
        "the run's own dataset is no override"
    );
    let (head, rows) = run_and_read(&plan);
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    assert_eq!(rows.len(), 6);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[col("system")], ["LEAD", "B50", "MARQUES"][i / 2]);
        assert_eq!(r[col("dataset.name")], ["uniform", "osmc64-like"][i % 2]);
        assert!(r[col("queries")].parse::<u32>().unwrap() > 100, "row {i}");
        assert_eq!(
            r[col("success_rate")],
            "1.000000",
            "row {i}: no churn, every query answered"
        );
    }
    // Every query returned all the keys it asked for, from its system's own dataset: the two
    // datasets differ, so a system reading the other's keys would miss or add keys.
    let (qh, qr) = csv(&plan.dir.join("queries.csv"));
    let q = |n: &str| qh.iter().position(|h| h == n).unwrap();
    assert!(qr.len() > 600);
    for r in &qr {
        assert_eq!(r[q("keys_returned")], r[q("keys_requested")], "{r:?}");
        assert_eq!(r[q("keys_requested")], "150");
    }
    // LEAD's placement follows its dataset's distribution: keys per host differ by dataset.
    let res = run_manifest(m).unwrap();
    let rings: Vec<&str> = (res.output.checks.iter())
        .filter(|c| c.detail.starts_with("ring "))
        .map(|c| &c.detail[..6])
        .collect();
    assert_eq!(
        rings,
        ["ring 0", "ring 1", "ring 2"],
        "MARQUES: one ring per dataset"
    );
}

/// Which dataset is the run's own and which a system override changes no LEAD or Chord-batch
/// number (the shared ring does not depend on the keys): the same systems with `[dataset]`
/// naming the other dataset give the same rows.
#[test]
fn the_runs_own_dataset_is_just_one_of_the_paired_ones() {
    let rows_of = |own: &str| {
        let d = tempfile::tempdir().unwrap();
        let plan = plan(d.path(), own);
        let (head, rows) = run_and_read(&plan);
        let keep = [
            "system",
            "dataset.name",
            "queries",
            "latency_ms_mean",
            "messages_per_query_mean",
            "hops_mean",
        ];
        let idx: Vec<usize> = keep
            .iter()
            .map(|k| head.iter().position(|h| h == k).unwrap())
            .collect();
        rows.into_iter()
            .filter(|r| r[idx[0]] != "MARQUES")
            .map(|r| idx.iter().map(|&i| r[i].clone()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let a = rows_of("uniform");
    let b = rows_of("osmc64-like");
    assert_eq!(a.len(), 4);
    assert_eq!(a, b);
}

/// A system's dataset is checked like the run's; `unpaired` must be a boolean.
#[test]
fn bad_system_entries_are_explained() {
    let base = "duration_s = 10\nprotocol = \"chord-batch\"\n[topology]\nkind = \"euclidean\"\nhosts = 5\n\
                [dataset]\nname = \"uniform\"\nkeys = 1000\ncache = false\n[workload]\nrange_keys = 10\n\
                [[systems]]\nname = \"a\"\n";
    for (extra, want) in [
        ("dataset = { name = \"nope\" }\n", "not a known dataset"),
        ("dataset = { colour = 1 }\n", "unknown field"),
        ("dataset = 3\n", "dataset must be a table"),
        ("dataset = { keys = 5 }\n", "exceeds the dataset's 5 keys"),
        ("unpaired = 3\n", "unpaired must be true or false"),
    ] {
        let text = format!("{base}{extra}");
        let e = leadsim::manifest::Manifest::parse(&text, "t.toml")
            .and_then(|m| run_manifest(&m).map(|_| ()))
            .map(|_| String::new())
            .unwrap_or_else(|e| format!("{e:#}"));
        assert!(e.contains(want), "{extra}: {e}");
    }
}

/// An entry that sets a paired key itself keeps its value and is paired over the other axes
/// only (Figs 12/13's learned-index variants ride on Fig 7's run, on osm alone); an unpaired
/// entry is one system as written, may join a group, and shows no value of a paired axis.
#[test]
fn an_entry_setting_a_paired_key_keeps_it() {
    let d = tempfile::tempdir().unwrap();
    let text = "duration_s = 10\nprotocol = \"lead\"\n[topology]\nkind = \"euclidean\"\nhosts = 5\n\
                [dataset]\nname = \"uniform\"\nkeys = 1000\ncache = false\n[workload]\nqueries_per_s = 2\n\
                [[systems]]\nname = \"LEAD\"\n\
                [[systems]]\nname = \"LEAD (linear)\"\nlead = { model = \"linear\" }\ndataset = { name = \"uniform\" }\n\
                [[systems]]\nname = \"LEAD (one)\"\ndataset = { name = \"uniform\" }\nworkload = { range_keys = 7 }\n\
                [[systems]]\nname = \"lookups\"\ngroup = \"LEAD\"\nunpaired = true\nworkload = { query = \"lookup\", queries_per_s = 3 }\n\
                [sweep]\n\"dataset.name\" = [\"uniform\", \"osmc64-like\"]\n\"workload.range_keys\" = [10, 20]\n\
                paired = [\"dataset.name\", \"workload.range_keys\"]\n";
    let p = d.path().join("m.toml");
    std::fs::write(&p, text).unwrap();
    let plan = SweepPlan::load(&p).unwrap();
    assert_eq!(plan.runs.len(), 1);
    let names: Vec<(&str, &str, Option<&str>, Option<usize>)> =
        (plan.runs[0].manifest.systems.iter())
            .map(|s| {
                (
                    s.name.as_str(),
                    s.group.as_str(),
                    s.dataset.as_ref().map(|d| d.name.as_str()),
                    s.workload.range_keys,
                )
            })
            .collect();
    assert_eq!(
        names,
        [
            (
                "LEAD (dataset.name=uniform, range_keys=10)",
                "LEAD",
                None,
                Some(10)
            ),
            (
                "LEAD (dataset.name=uniform, range_keys=20)",
                "LEAD",
                None,
                Some(20)
            ),
            (
                "LEAD (dataset.name=osmc64-like, range_keys=10)",
                "LEAD",
                Some("osmc64-like"),
                Some(10)
            ),
            (
                "LEAD (dataset.name=osmc64-like, range_keys=20)",
                "LEAD",
                Some("osmc64-like"),
                Some(20)
            ),
            (
                "LEAD (linear) (range_keys=10)",
                "LEAD (linear)",
                None,
                Some(10)
            ),
            (
                "LEAD (linear) (range_keys=20)",
                "LEAD (linear)",
                None,
                Some(20)
            ),
            ("LEAD (one)", "LEAD (one)", None, Some(7)),
            ("lookups", "LEAD", None, None),
        ]
    );
    let (head, rows) = run_and_read(&plan);
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let cells = |r: &Vec<String>| {
        [
            "system",
            "dataset.name",
            "workload.range_keys",
            "workload.query",
        ]
        .map(|c| r[col(c)].clone())
    };
    assert_eq!(rows.len(), 8);
    assert_eq!(cells(&rows[6]), ["LEAD (one)", "uniform", "7", ""]);
    assert_eq!(cells(&rows[7]), ["LEAD", "uniform", "", "lookup"]);
    assert!(rows[7][col("queries")].parse::<u32>().unwrap() > 10);
}
