//! Parameter sweeps: a manifest's `[sweep]` table expands into many runs, executed in parallel,
//! resumable, shardable, and always assembled in run order (bytes independent of thread count and
//! finishing order).
//!
//! ```toml
//! [sweep]
//! replications = 3             # default 1
//! master_seed = 7              # default: the manifest's seed
//! "topology.hosts" = [100, 490]
//! "chord_batch.batch_size" = [100, 1000]   # last axis varies fastest
//! common_seed = ["chord_batch.batch_size"] # optional: axes that leave the seed unchanged
//! paired = ["workload.range_keys"]         # optional: workload / dataset axes run as systems of one run
//! ```
//! Each run's seed is derived from (master seed, its parameter values, replication), so adding an
//! axis value never changes the other runs' seeds. Axes listed in `common_seed` are left out of
//! that derivation (common random numbers: runs that differ only in such a setting see the same
//! churn, origins and query keys). Axes listed in `paired` (workload and dataset keys) do not
//! multiply the runs: every system of a run is repeated once per value, as a member of a group
//! named after it (`[[systems]] group`), so all values are measured on one churned ring at the
//! cost of one ring; the assembled CSVs give each row its system's value and its group's name.
//! An entry that sets a paired key itself keeps its value (it is paired over the other axes), and
//! an entry with `unpaired = true` is one system as written. Every
//! run writes its files into
//! `<output.dir>/runs/<index>-s<seed>/` with an index written last ([`super::cache`]): a run is
//! reused only when its key (configuration, profile, inputs, code) matches and its files are
//! intact. [`super::execute`] runs what is missing; [`super::assemble`] combines the runs'
//! `summary.csv` and `queries.csv` (parameter columns first, union of columns).

use crate::manifest::{strip_foreign_tables, swept_protocols, Manifest};
use crate::rng::derive_seed;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// One run of a sweep.
#[derive(Clone, Debug)]
pub struct PlannedRun {
    /// Position in the sweep (run order).
    pub index: usize,
    /// Axis values, as written in the CSVs (same order as the axes); a paired axis holds
    /// `paired:<its values separated by |>` (its rows carry their systems' values).
    pub params: Vec<String>,
    /// Replication number (0-based).
    pub replication: u32,
    /// The derived seed.
    pub seed: u64,
    /// The run's resolved manifest.
    pub manifest: Manifest,
}

impl PlannedRun {
    /// Name of its output directory under `runs/`.
    pub fn dir_name(&self) -> String {
        format!("{:05}-s{:016x}", self.index, self.seed)
    }
}

/// A sweep expanded into runs.
#[derive(Clone, Debug)]
pub struct SweepPlan {
    /// Axis keys (dotted manifest keys), in file order.
    pub axes: Vec<String>,
    /// The axes whose values are systems of one run rather than runs (`paired`).
    pub paired: Vec<String>,
    /// Replications per parameter combination.
    pub replications: u32,
    /// The master seed.
    pub master_seed: u64,
    /// All runs, in run order.
    pub runs: Vec<PlannedRun>,
    /// Where outputs go (the base manifest's `output.dir`).
    pub dir: PathBuf,
    /// The figure profile the plan was made for (part of every run key; empty for a plain sweep).
    pub profile: String,
    /// The code fingerprint run keys are made with ([`super::cache::code_fingerprint`]).
    pub code: String,
}

fn render(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut t = table;
    for p in &parts[..parts.len() - 1] {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .with_context(|| format!("sweep.\"{key}\": '{p}' is not a table"))?;
    }
    t.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

impl SweepPlan {
    /// Expands a manifest file. A manifest without `[sweep]` is a sweep of one run.
    pub fn load(path: &Path) -> Result<SweepPlan> {
        Self::load_with(path, &[])
    }

    /// Expands a manifest file after overriding some dotted keys (e.g. a figure profile's
    /// shorter duration); with overrides, errors refer to the overridden manifest.
    pub fn load_with(path: &Path, overrides: &[(&str, toml::Value)]) -> Result<SweepPlan> {
        let mut text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        if !overrides.is_empty() {
            let mut t: toml::Table = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
            for (k, v) in overrides {
                set_dotted(&mut t, k, v.clone())?;
            }
            text = toml::to_string(&t)?;
        }
        let origin = path.display().to_string();
        let mut base = Manifest::parse(&text, &origin)?;
        if base.name.is_none() {
            base.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        let mut table: toml::Table = toml::from_str(&text)?;
        let swept = swept_protocols(&table);
        table.remove("sweep");
        table.insert("name".into(), toml::Value::String(base.label().to_string()));
        let sweep = base.sweep.clone().unwrap_or_default();
        let line_of = |key: &str| -> usize {
            text.lines()
                .position(|l| l.trim_start().trim_start_matches('"').starts_with(key))
                .map_or(0, |i| i + 1)
        };
        let mut replications = 1u32;
        let mut master_seed = base.seed;
        let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
        let mut common: Vec<String> = Vec::new();
        let mut paired: Vec<String> = Vec::new();
        for (k, v) in &sweep {
            match k.as_str() {
                "common_seed" | "paired" => {
                    let names = v.as_array().map(|a| {
                        a.iter()
                            .map(|x| x.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                    });
                    match names {
                        Some(Some(n)) if k == "paired" => paired = n,
                        Some(Some(n)) => common = n,
                        _ => bail!(
                            "{origin}:{}: sweep.{k} must be a list of axis names",
                            line_of(k)
                        ),
                    }
                }
                "replications" => match v.as_integer() {
                    Some(r) if r >= 1 && r <= u32::MAX as i64 => replications = r as u32,
                    _ => bail!(
                        "{origin}:{}: sweep.replications must be an integer >= 1",
                        line_of("replications")
                    ),
                },
                "master_seed" => match v.as_integer() {
                    Some(s) if s >= 0 => master_seed = s as u64,
                    _ => bail!(
                        "{origin}:{}: sweep.master_seed must be a non-negative integer",
                        line_of("master_seed")
                    ),
                },
                axis => {
                    let Some(values) = v.as_array() else {
                        bail!(
                            "{origin}:{}: sweep.\"{axis}\" must be a list of values",
                            line_of(axis)
                        );
                    };
                    if values.is_empty() {
                        bail!("{origin}:{}: sweep.\"{axis}\" is an empty list: a sweep axis needs at least one value", line_of(axis));
                    }
                    if axis == "seed" || axis == "name" || axis.starts_with("sweep") {
                        bail!("{origin}:{}: sweep.\"{axis}\" cannot be swept (use replications / master_seed)", line_of(axis));
                    }
                    axes.push((axis.to_string(), values.clone()));
                }
            }
        }
        if let Some(c) = common.iter().find(|c| !axes.iter().any(|(a, _)| a == *c)) {
            bail!(
                "{origin}:{}: sweep.common_seed names {c:?}, which is not a sweep axis",
                line_of("common_seed")
            );
        }
        for p in &paired {
            if !axes.iter().any(|(a, _)| a == p) {
                bail!(
                    "{origin}:{}: sweep.paired names {p:?}, which is not a sweep axis",
                    line_of("paired")
                );
            }
            let pairable = ["workload.", "dataset."]
                .iter()
                .any(|t| p.starts_with(t) && p.matches('.').count() == 1);
            if !pairable {
                bail!("{origin}:{}: sweep.paired names {p:?}: only workload and dataset keys (\"workload.<key>\", \"dataset.<key>\") can be paired, since they leave the ring and the churn unchanged", line_of("paired"));
            }
            if common.contains(p) {
                bail!(
                    "{origin}:{}: sweep.paired and sweep.common_seed both name {p:?}: a paired axis never changes the seed",
                    line_of("paired")
                );
            }
        }
        // Cartesian products, last axis innermost: of the run axes, and of the paired ones.
        let product = |which: &dyn Fn(&str) -> bool| {
            let mut combos: Vec<Vec<usize>> = vec![Vec::new()];
            for (a, values) in &axes {
                let n = if which(a) { values.len() } else { 1 };
                combos = combos
                    .into_iter()
                    .flat_map(|c| (0..n).map(move |i| [c.clone(), vec![i]].concat()))
                    .collect();
            }
            combos
        };
        let is_paired = |a: &str| paired.iter().any(|p| p == a);
        let combos = product(&|a| !is_paired(a));
        let pairs = product(&|a| is_paired(a));

        let mut runs = Vec::new();
        for combo in &combos {
            // A paired axis has no run value (each row takes its system's): `paired:v1|v2|...`.
            let params: Vec<String> = combo
                .iter()
                .zip(&axes)
                .map(|(&i, (a, vals))| {
                    if is_paired(a) {
                        let v: Vec<String> = vals.iter().map(render).collect();
                        format!("paired:{}", v.join("|"))
                    } else {
                        render(&vals[i])
                    }
                })
                .collect();
            let identity: String = axes
                .iter()
                .zip(&params)
                .map(|((k, _), v)| format!("{k}={v};"))
                .collect::<Vec<_>>()
                .concat();
            let seed_identity: String = axes
                .iter()
                .zip(&params)
                .filter(|((k, _), _)| !common.contains(k) && !is_paired(k))
                .map(|((k, _), v)| format!("{k}={v};"))
                .collect::<Vec<_>>()
                .concat();
            for r in 0..replications {
                let mut t = table.clone();
                for (&i, (k, vals)) in combo.iter().zip(&axes) {
                    if !is_paired(k) {
                        set_dotted(&mut t, k, vals[i].clone())?;
                    }
                }
                if !paired.is_empty() {
                    pair_systems(&mut t, &base.protocol, &axes, &paired, &pairs).map_err(|e| {
                        anyhow::anyhow!("{origin}:{}: sweep.paired: {e}", line_of("paired"))
                    })?;
                }
                strip_foreign_tables(&mut t, &swept);
                // TOML integers are i64: keep seeds in 63 bits.
                let seed =
                    derive_seed(master_seed, &format!("run:{seed_identity}"), u64::from(r)) >> 1;
                t.insert("seed".into(), toml::Value::Integer(seed as i64));
                let run_text = toml::to_string(&t)?;
                let what = format!("{origin} (run {}: {identity} replication {r})", runs.len());
                let manifest = Manifest::parse(&run_text, &what)?;
                runs.push(PlannedRun {
                    index: runs.len(),
                    params: params.clone(),
                    replication: r,
                    seed,
                    manifest,
                });
            }
        }
        Ok(SweepPlan {
            axes: axes.into_iter().map(|(k, _)| k).collect(),
            paired,
            replications,
            master_seed,
            runs,
            dir: base.output.dir.clone(),
            profile: String::new(),
            code: super::cache::code_fingerprint().to_string(),
        })
    }

    /// The runs of shard `i` of `n` (1-based): every n-th run starting at the i-th.
    pub fn shard(&self, i: usize, n: usize) -> Vec<&PlannedRun> {
        self.runs.iter().filter(|r| r.index % n == i - 1).collect()
    }
}

/// Replaces the `[[systems]]` of run table `t` (or its one implicit system) by one system per
/// system and combination of paired values (`pairs` indexes every axis; non-paired ones at 0):
/// named `<name> (<key>=<value>, ...)`, in the group `<name>`, with the values in its workload.
fn pair_systems(
    t: &mut toml::Table,
    protocol: &str,
    axes: &[(String, Vec<toml::Value>)],
    paired: &[String],
    pairs: &[Vec<usize>],
) -> Result<()> {
    let entries: Vec<toml::Table> = match t.get("systems").and_then(toml::Value::as_array) {
        Some(a) => a.iter().filter_map(|e| e.as_table().cloned()).collect(),
        None => {
            let p = t.get("protocol").and_then(toml::Value::as_str);
            let mut e = toml::Table::new();
            e.insert(
                "name".into(),
                toml::Value::String(p.unwrap_or(protocol).into()),
            );
            vec![e]
        }
    };
    let mut out = Vec::new();
    for e in &entries {
        let name = e.get("name").and_then(toml::Value::as_str).unwrap_or("");
        // `unpaired = true`: the entry is one system as written (e.g. lookups beside paired
        // range sizes), on the run's values; it may name its group (to share its rings).
        if e.get("unpaired").and_then(toml::Value::as_bool) == Some(true) {
            out.push(toml::Value::Table(e.clone()));
            continue;
        }
        if e.contains_key("group") {
            bail!("systems entry \"{name}\" sets its own group; pairing makes the groups");
        }
        // An entry that sets a paired key itself keeps its value: it is paired over the others.
        let sets = |axis: &str| {
            let (table, key) = axis.split_once('.').unwrap_or(("workload", axis));
            e.get(table)
                .and_then(toml::Value::as_table)
                .is_some_and(|t| t.contains_key(key))
        };
        let mut labels: Vec<String> = Vec::new();
        for combo in pairs {
            let mut s = e.clone();
            let mut label = Vec::new();
            for (&i, (axis, vals)) in combo.iter().zip(axes) {
                if !paired.contains(axis) || sets(axis) {
                    continue;
                }
                let (table, key) = axis.split_once('.').unwrap_or(("workload", axis));
                let w = s
                    .entry(table)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let Some(w) = w.as_table_mut() else {
                    bail!("systems entry \"{name}\": {table} is not a table");
                };
                w.insert(key.to_string(), vals[i].clone());
                // Workload keys are named bare (`range_keys=500`), others in full.
                let shown = if table == "workload" {
                    key
                } else {
                    axis.as_str()
                };
                label.push(format!("{shown}={}", render(&vals[i])));
            }
            let label = label.join(", ");
            if labels.contains(&label) {
                continue; // the same system again (it keeps its own value of an axis)
            }
            if !label.is_empty() {
                s.insert(
                    "name".into(),
                    toml::Value::String(format!("{name} ({label})")),
                );
                s.insert("group".into(), toml::Value::String(name.to_string()));
            }
            labels.push(label);
            out.push(toml::Value::Table(s));
        }
    }
    t.insert("systems".into(), toml::Value::Array(out));
    Ok(())
}

/// Parses `--shard i/N`.
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let (i, n) = s
        .split_once('/')
        .with_context(|| format!("--shard '{s}': expected i/N, e.g. 2/8"))?;
    let (i, n): (usize, usize) = (
        i.parse().context("--shard: bad i")?,
        n.parse().context("--shard: bad N")?,
    );
    if n == 0 || i == 0 || i > n {
        bail!("--shard {s}: need 1 <= i <= N");
    }
    Ok((i, n))
}
