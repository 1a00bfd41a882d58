//! Assembling a sweep's runs into combined `summary.csv` and `queries.csv`, in run order.
//!
//! Only runs the cache certifies ([`super::cache::status`] = fresh: same configuration, profile,
//! inputs and code, files intact) are assembled; anything else is listed as an error. Columns are
//! the union over all runs, in order of first appearance (runs of different protocols have
//! different `msgs_<kind>` and metric columns; a run lacking a column leaves it empty). Every row
//! starts with the parameters that vary across the assembled rows: the sweep axes in file order,
//! then any other manifest or system key whose value differs (sorted), then `replication`. The
//! `system` column names a system's group (`[sweep] paired`: one row per value of the paired
//! axes, each in its axis column).

use super::cache::{run_key, status, Status};
use super::sweep::{PlannedRun, SweepPlan};
use crate::driver::SystemSpec;
use crate::output::{csv_field, write_atomic};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Keys that identify rather than parameterise a run (they have their own columns or none).
fn ignored(key: &str) -> bool {
    key == "seed" || key == "name" || key.starts_with("output.") || key.starts_with("sweep.")
}

fn render(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn flatten(prefix: &str, t: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(sub) => flatten(&key, sub, out),
            _ if key == "systems" => {}
            _ if ignored(&key) => {}
            other => {
                out.insert(key, render(other));
            }
        }
    }
}

/// The parameters of one run's system row: the manifest's keys, the system's overriding them.
fn params_of(run: &PlannedRun, system: Option<&SystemSpec>) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    if let Ok(t) = toml::from_str::<toml::Table>(&run.manifest.to_toml()) {
        flatten("", &t, &mut p);
    }
    if let Some(s) = system.filter(|s| s.stream != "workload") {
        p.insert("protocol".into(), s.protocol.clone());
        if let Ok(w) = toml::Table::try_from(&s.workload) {
            flatten("workload", &w, &mut p);
        }
        for (name, t) in &s.tables {
            flatten(name, t, &mut p);
        }
        if let Some(d) = s
            .dataset
            .as_ref()
            .and_then(|d| toml::Table::try_from(d).ok())
        {
            flatten("dataset", &d, &mut p);
        }
    }
    p
}

/// One CSV file of one run, parsed.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn read_csv(path: &Path) -> Result<Csv> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let header = rdr.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| format!("{}: bad CSV row", path.display()))?;
        rows.push(rec.iter().map(str::to_string).collect());
    }
    Ok(Csv { header, rows })
}

/// Assembles the combined CSVs in `out` from the run directories found in any of `sources`
/// (their `runs/` subfolders), in run order. Fails listing the runs that are not usable.
pub fn assemble(plan: &SweepPlan, sources: &[PathBuf], out: &Path) -> Result<()> {
    let mut problems = Vec::new();
    let mut found: Vec<(&PlannedRun, PathBuf)> = Vec::new();
    for r in &plan.runs {
        let key = run_key(plan, r)?;
        let mut why = "not finished".to_string();
        let mut hit = None;
        for s in sources {
            let d = s.join("runs").join(r.dir_name());
            match status(&d, &key) {
                Status::Fresh => {
                    hit = Some(d);
                    break;
                }
                Status::Missing => {}
                Status::Stale => why = "made by another configuration, input or code".into(),
                Status::Damaged(w) => why = w,
            }
        }
        match hit {
            Some(d) => found.push((r, d)),
            None => problems.push(format!("run {} ({why})", r.index)),
        }
    }
    if !problems.is_empty() {
        let shown: Vec<&str> = problems.iter().take(12).map(String::as_str).collect();
        bail!(
            "{} of {} runs cannot be assembled: {}{}",
            problems.len(),
            plan.runs.len(),
            shown.join("; "),
            if problems.len() > 12 { "; ..." } else { "" }
        );
    }
    for file in ["summary.csv", "queries.csv", "hosts.csv", "series.csv"] {
        let mut tables: Vec<(&PlannedRun, Csv)> = Vec::new();
        for (r, d) in &found {
            let p = d.join(file);
            if p.exists() {
                tables.push((r, read_csv(&p)?));
            } else if file == "summary.csv" {
                bail!("{}: missing although the run is indexed", p.display());
            }
        }
        if tables.is_empty() {
            continue;
        }
        write_atomic(&out.join(file), &combine(plan, &tables))?;
    }
    Ok(())
}

fn combine(plan: &SweepPlan, tables: &[(&PlannedRun, Csv)]) -> Vec<u8> {
    // Data columns: the union, in order of first appearance.
    let mut columns: Vec<String> = Vec::new();
    for (_, t) in tables {
        for h in &t.header {
            if !columns.contains(h) {
                columns.push(h.clone());
            }
        }
    }
    // Parameters of every (run, system) row.
    let system_of =
        |r: &PlannedRun, name: &str| r.manifest.systems.iter().find(|s| s.name == name).cloned();
    let mut params: BTreeMap<(usize, String), BTreeMap<String, String>> = BTreeMap::new();
    for (r, t) in tables {
        let sys_col = t.header.iter().position(|h| h == "system");
        for row in &t.rows {
            let name = sys_col.map(|i| row[i].clone()).unwrap_or_default();
            params
                .entry((r.index, name.clone()))
                .or_insert_with(|| params_of(r, system_of(r, &name).as_ref()));
        }
    }
    let mut all_keys: BTreeSet<&String> = BTreeSet::new();
    for p in params.values() {
        all_keys.extend(p.keys());
    }
    let varying: Vec<String> = all_keys
        .into_iter()
        .filter(|k| !plan.axes.contains(k))
        .filter(|k| {
            let mut vals = params.values().map(|p| p.get(*k));
            let first = vals.next().flatten();
            vals.any(|v| v != first)
        })
        .cloned()
        .collect();
    let mut out = String::new();
    let head: Vec<String> = plan
        .axes
        .iter()
        .chain(&varying)
        .cloned()
        .chain(std::iter::once("replication".to_string()))
        .chain(columns.iter().cloned())
        .collect();
    let head_fields: Vec<String> = head.iter().map(|h| csv_field(h)).collect();
    out.push_str(&head_fields.join(","));
    out.push('\n');
    for (r, t) in tables {
        let sys_col = t.header.iter().position(|h| h == "system");
        let pos: Vec<Option<usize>> = columns
            .iter()
            .map(|c| t.header.iter().position(|h| h == c))
            .collect();
        for row in &t.rows {
            let name = sys_col.map(|i| row[i].clone()).unwrap_or_default();
            let p = &params[&(r.index, name)];
            let explicit = r.manifest.systems.iter().any(|s| s.stream != "workload");
            let mut fields: Vec<String> = Vec::with_capacity(head.len());
            for (i, axis) in plan.axes.iter().enumerate() {
                // A system that sets the axis key itself overrides the run's value; a paired
                // axis has no run value (a system left out of the pairing shows none).
                let paired = plan.paired.contains(axis);
                let v = match p.get(axis) {
                    Some(v) if explicit => v.clone(),
                    _ if explicit && paired => String::new(),
                    _ => r.params[i].clone(),
                };
                fields.push(csv_field(&v));
            }
            for k in &varying {
                fields.push(csv_field(p.get(k).map_or("", String::as_str)));
            }
            fields.push(r.replication.to_string());
            for c in &pos {
                // A paired system's row carries its group's name (the value is its own column).
                let v = match *c {
                    Some(i) if Some(i) == sys_col => {
                        system_of(r, &row[i]).map_or_else(|| row[i].clone(), |s| s.group)
                    }
                    Some(i) => row[i].clone(),
                    None => String::new(),
                };
                fields.push(csv_field(&v));
            }
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out.into_bytes()
}
