//! `leadsim figures`: regenerate the paper's figures declared in `experiments/figures.toml`.
//!
//! Each figure is a manifest (a run or sweep; or a model-eval config) plus a plot spec and
//! verdict rules ([`spec`]). Sources run through the sweep pipeline (run cache keyed on
//! configuration, profile, inputs and code; see [`crate::experiment::cache`]), one generic
//! renderer writes `results/<id>.csv|svg|png` ([`render`]), the rules check the paper's
//! statements ([`verdict`]) and one report writer writes `results/REPORT.md`. Figures whose
//! systems do not exist yet are listed as pending, never faked.
//!
//! Profiles: `quick` applies the spec file's `[quick]` overrides (and the figure's own) to every
//! source so the set finishes in minutes on 2 cores; `paper` runs the manifests as written.

pub mod render;
pub mod spec;
pub mod verdict;

use crate::experiment::cache::code_fingerprint;
use crate::experiment::sweep::SweepPlan;
use crate::experiment::{assemble, execute_all, Exec};
use crate::learned::eval::{evaluate, to_csv_deterministic, EvalConfig};
use crate::learned::ModelSpec;
use crate::output::write_atomic;
use anyhow::{bail, Context, Result};
use render::{describe, render, Table};
use spec::{Data, FigureSpec, FiguresFile};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
use verdict::{check, Verdict};

/// Manifest overrides of a figure's source (key, value).
type Overrides = Vec<(String, toml::Value)>;

/// The figure spec file.
pub const SPEC_FILE: &str = "experiments/figures.toml";

/// Scale of a figures run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// The spec's quick overrides (short runs): minutes on 2 cores.
    Quick,
    /// The manifests as written (the paper's scale).
    Paper,
}

/// One figure's outcome, for the report.
struct Outcome {
    spec: FigureSpec,
    measured: String,
    verdicts: Vec<Verdict>,
    pending: Option<String>,
    /// Wall time of the figure's own work (model evaluation, assembly, rendering).
    wall_s: f64,
    /// Simulation wall time of its runs executed now, summed over runs (one core each).
    run_s: f64,
    cache: String,
}

/// The ids of every figure in the spec file.
pub fn figure_ids() -> Result<Vec<String>> {
    Ok(FiguresFile::load(Path::new(SPEC_FILE))?
        .figures
        .into_iter()
        .map(|f| f.id)
        .collect())
}

fn overrides(file: &FiguresFile, fig: &FigureSpec, profile: Profile) -> Vec<(String, toml::Value)> {
    if profile == Profile::Paper {
        return Vec::new();
    }
    let mut o: BTreeMap<String, toml::Value> = file.quick.clone();
    o.extend(fig.quick.clone());
    o.into_iter().collect()
}

/// Evaluates a model-eval source into a table.
fn eval_source(path: &Path, over: &[(String, toml::Value)], profile: Profile) -> Result<Table> {
    let mut c = EvalConfig::load(path)?;
    for (k, v) in over {
        match (k.as_str(), v.as_integer()) {
            ("dataset.keys", Some(n)) if n > 0 => c.dataset.keys = n as usize,
            ("dataset.keys", _) => bail!("{SPEC_FILE}: dataset.keys must be a positive integer"),
            _ => {} // run keys (duration_s, ...) do not apply to a model evaluation
        }
    }
    if profile == Profile::Quick {
        c.also_datasets.clear();
    }
    let keys = c
        .dataset
        .load(Path::new(crate::experiment::DATASET_CACHE))?;
    let mut rows = Vec::new();
    for m in &c.models {
        rows.push(evaluate(
            &ModelSpec::parse(m)?,
            keys.keys(),
            &c.dataset.label(),
        )?);
    }
    Table::parse(&to_csv_deterministic(&rows))
}

/// Runs the figures (all, or `only`) and writes `results/REPORT.md` when all were requested.
pub fn run(profile: Profile, only: Option<Vec<String>>, jobs: usize, rerun: bool) -> Result<()> {
    let file = FiguresFile::load(Path::new(SPEC_FILE))?;
    if let Some(o) = &only {
        for id in o {
            if !file.figures.iter().any(|f| &f.id == id) {
                bail!(
                    "unknown figure '{id}'; choose from {}",
                    file.figures
                        .iter()
                        .map(|f| f.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    let want = |id: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == id));
    let results = Path::new("results");
    std::fs::create_dir_all(results)?;
    let start = Instant::now();
    let selected: Vec<&FigureSpec> = file.figures.iter().filter(|f| want(&f.id)).collect();
    // Every sweep source first, once each (Figs 7 and 8 share one), and all their runs in one
    // pool, longest first: no core waits for a figure's last run while others could start.
    let source_key = |fig: &FigureSpec| -> Option<(String, PathBuf, Overrides)> {
        let source = fig.source.as_ref().filter(|_| fig.data != Data::Eval)?;
        let path = Path::new("experiments").join(source);
        let over = overrides(&file, fig, profile);
        Some((format!("{}|{over:?}", path.display()), path, over))
    };
    let mut plans: BTreeMap<String, usize> = BTreeMap::new();
    let mut plan_list: Vec<SweepPlan> = Vec::new();
    for fig in &selected {
        if let Some((key, path, over)) = source_key(fig) {
            if let std::collections::btree_map::Entry::Vacant(e) = plans.entry(key) {
                let refs: Vec<(&str, toml::Value)> =
                    over.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                let mut plan = SweepPlan::load_with(&path, &refs)
                    .with_context(|| format!("figure {} ({SPEC_FILE})", fig.id))?;
                plan.profile = format!("{profile:?}");
                e.insert(plan_list.len());
                plan_list.push(plan);
            }
        }
    }
    let opts = Exec {
        jobs,
        rerun,
        label: "figures".into(),
        ..Default::default()
    };
    let refs: Vec<&SweepPlan> = plan_list.iter().collect();
    let reports = execute_all(&refs, &opts)?;
    let runs_wall = start.elapsed().as_secs_f64();
    let mut assembled = vec![false; plan_list.len()];
    let mut outcomes = Vec::new();
    for (i, fig) in selected.iter().enumerate() {
        let t = Instant::now();
        eprintln!("[{}/{}] {}: {}", i + 1, selected.len(), fig.id, fig.what);
        let Some(source) = &fig.source else {
            outcomes.push(Outcome {
                spec: (*fig).clone(),
                measured: "—".into(),
                verdicts: Vec::new(),
                pending: fig.pending.clone(),
                wall_s: 0.0,
                run_s: 0.0,
                cache: String::new(),
            });
            continue;
        };
        let mut run_s = 0.0;
        let (table, cache) = match source_key(fig) {
            None => {
                let path = Path::new("experiments").join(source);
                let over = overrides(&file, fig, profile);
                (
                    eval_source(&path, &over, profile)?,
                    "evaluated now".to_string(),
                )
            }
            Some((key, _, _)) => {
                let pi = plans[&key];
                let plan = &plan_list[pi];
                if !assembled[pi] {
                    // The first figure of a source carries its runs' time.
                    assemble(plan, std::slice::from_ref(&plan.dir), &plan.dir)?;
                    assembled[pi] = true;
                    run_s = reports[pi].run_ms as f64 / 1e3;
                }
                let csv = plan.dir.join(match fig.data {
                    Data::Summary => "summary.csv",
                    Data::Queries => "queries.csv",
                    Data::Series => "series.csv",
                    _ => "hosts.csv",
                });
                (Table::read(&csv)?, reports[pi].to_string())
            }
        };
        let measured = render(fig, &table, results)
            .with_context(|| format!("figure {} ({SPEC_FILE})", fig.id))?;
        outcomes.push(Outcome {
            spec: (*fig).clone(),
            measured: describe(fig, &measured),
            verdicts: fig.verdicts.iter().map(|v| check(v, &measured)).collect(),
            pending: None,
            wall_s: t.elapsed().as_secs_f64(),
            run_s,
            cache,
        });
    }
    let report = report_text(profile, &file.quick, &outcomes);
    if only.is_none() {
        write_atomic(&results.join("REPORT.md"), report.as_bytes())?;
    } else {
        print!("{report}");
    }
    eprintln!(
        "\n{:<18} {:>8} {:>8}  verdict; runs",
        "figure", "runs s", "own s"
    );
    for o in &outcomes {
        eprintln!(
            "{:<18} {:>8.1} {:>8.1}  {}{}",
            o.spec.id,
            o.run_s,
            o.wall_s,
            summary_verdict(o),
            if o.cache.is_empty() {
                String::new()
            } else {
                format!("; {}", o.cache)
            }
        );
    }
    eprintln!(
        "runs s: simulation wall of the figure's runs executed now, summed (one core each; a \
         source shared by several figures counts at its first); own s: the figure's model \
         evaluation, assembly and rendering"
    );
    eprintln!(
        "{} figure(s) in {:.0} s ({:.0} s running the {} sweep source(s) on {} worker(s)){}",
        outcomes.len(),
        start.elapsed().as_secs_f64(),
        runs_wall,
        plan_list.len(),
        jobs.max(1),
        if only.is_none() {
            "; results/REPORT.md written"
        } else {
            ""
        }
    );
    Ok(())
}

fn summary_verdict(o: &Outcome) -> String {
    if let Some(p) = &o.pending {
        return format!("pending: needs {p}");
    }
    let count = |w: &str| {
        o.verdicts
            .iter()
            .filter(|v| v.outcome.starts_with(w))
            .count()
    };
    format!(
        "{} hold, {} differ, {} pending",
        count("holds"),
        count("differs"),
        count("pending")
    )
}

fn report_text(
    profile: Profile,
    quick: &BTreeMap<String, toml::Value>,
    outcomes: &[Outcome],
) -> String {
    let kv = |m: &BTreeMap<String, toml::Value>| {
        m.iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let quick_text = format!(
        "the `[quick]` overrides of experiments/figures.toml ({}) and each figure's own, listed under it; everything else, key counts included, as in the manifests",
        kv(quick)
    );
    let mut r = format!(
        "# leadsim figures report\n\nProfile `{}` ({}). Code: `{}`. Regenerate with `leadsim figures{}`.\n\
         Every number below was measured by the runs of this code and profile (the run cache serves a\n\
         run only when configuration, profile, inputs and code match); \"pending\" statements are about\n\
         systems that do not exist yet and are not faked.\n\n",
        if profile == Profile::Quick { "quick" } else { "paper" },
        if profile == Profile::Quick {
            quick_text.as_str()
        } else {
            "the manifests as written"
        },
        code_fingerprint(),
        if profile == Profile::Quick { "" } else { " --profile paper" }
    );
    for o in outcomes {
        let s = &o.spec;
        let _ = write!(r, "## {}: {}\n\n- **Paper:** {}\n", s.id, s.what, s.paper);
        if profile == Profile::Quick && !s.quick.is_empty() {
            let _ = writeln!(r, "- **Quick-profile overrides:** {}", kv(&s.quick));
        }
        if let Some(p) = &o.pending {
            let _ = writeln!(
                r,
                "- **Verdict:** pending: needs {p} (not implemented yet)\n"
            );
            continue;
        }
        let _ = writeln!(r, "- **leadsim:** {}", o.measured);
        for v in &o.verdicts {
            let _ = writeln!(
                r,
                "- **Verdict** — {}: {}{}",
                v.statement,
                v.outcome,
                if v.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", v.detail)
                }
            );
        }
        let _ = writeln!(
            r,
            "- **Files:** [`{0}.csv`]({0}.csv), [`{0}.svg`]({0}.svg), [`{0}.png`]({0}.png)\n\n![{0}]({0}.svg)\n",
            s.id
        );
    }
    r
}
