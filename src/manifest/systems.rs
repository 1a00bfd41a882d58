//! `[[systems]]`: several query systems in one run (a paired comparison on one churned ring).
//!
//! ```toml
//! protocol = "chord-batch"          # the substrate every system shares, and the default protocol
//! [chord_batch]
//! mode = "consolidated"             # inherited by every chord-batch system
//!
//! [[systems]]
//! name = "Batch(100)"
//! chord_batch = { batch_size = 100 }
//!
//! [[systems]]
//! name = "Batch(1000) n=2000"
//! chord_batch = { batch_size = 1000 }
//! workload = { range_keys = 2000 }  # merged over the manifest's [workload]
//! dataset = { name = "amzn64-like" } # merged over [dataset]: this system stores other keys
//! unpaired = true                   # under a sweep's paired axes: one system, as written
//! ```
//!
//! Each system has its own query stream (`workload:<name>`), its own protocol tables (its
//! entries merged over the manifest's tables of the same name) and its own ledger; the substrate
//! (ring, `[chord]`) and churn are shared. Without `[[systems]]` a run has one system, named after
//! its protocol, drawing from the stream `workload`.

use super::{top_line, Manifest};
use crate::data::DatasetSpec;
use crate::driver::SystemSpec;
use crate::protocols::{self, ProtocolEntry};
use crate::workload::WorkloadSpec;
use anyhow::{bail, Result};

/// Merges `over` into `base` (tables recursively, other values replaced).
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

fn table_of(top: &toml::Table, key: &str) -> toml::Table {
    top.get(key)
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default()
}

/// The line of the `i`-th `[[systems]]` header (0 if not found).
fn entry_line(text: &str, i: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[systems]]")
        .nth(i)
        .map_or_else(|| top_line(text, "systems"), |(n, _)| n + 1)
}

/// The systems of manifest `m` (parsed from `text`, whose raw top level is `top`).
pub(super) fn resolve(
    m: &Manifest,
    top: &toml::Table,
    text: &str,
    origin: &str,
) -> Result<Vec<SystemSpec>> {
    let main = protocols::find(&m.protocol)?;
    let Some(raw) = top.get("systems") else {
        return Ok(vec![SystemSpec {
            name: m.protocol.clone(),
            group: m.protocol.clone(),
            protocol: m.protocol.clone(),
            stream: "workload".into(),
            workload: m.workload.clone(),
            tables: m
                .tables
                .iter()
                .filter(|(k, _)| main.tables.iter().any(|t| t.name == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            dataset: None,
        }]);
    };
    let Some(entries) = raw.as_array() else {
        bail!(
            "{origin}:{}: systems must be an array of tables ([[systems]])",
            top_line(text, "systems")
        );
    };
    if entries.is_empty() {
        bail!(
            "{origin}:{}: systems is empty: give at least one [[systems]] entry or remove it",
            top_line(text, "systems")
        );
    }
    if main.add_system.is_none() {
        bail!(
            "{origin}:{}: systems: protocol \"{}\" cannot host several systems; use a ring protocol",
            top_line(text, "systems"),
            m.protocol
        );
    }
    let mut out: Vec<SystemSpec> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let line = entry_line(text, i);
        let at = |msg: String| anyhow::anyhow!("{origin}:{line}: systems[{i}]: {msg}");
        let Some(t) = e.as_table() else {
            return Err(at("each entry must be a table".into()));
        };
        let name = match t.get("name").and_then(toml::Value::as_str) {
            Some(n) if !n.trim().is_empty() => n.to_string(),
            _ => return Err(at("needs a non-empty string `name`".into())),
        };
        if out.iter().any(|s| s.name == name) {
            return Err(at(format!("name \"{name}\" is used twice")));
        }
        let group = match t.get("group") {
            None => name.clone(),
            Some(toml::Value::String(g)) if !g.trim().is_empty() => g.clone(),
            Some(_) => return Err(at("group must be a non-empty string".into())),
        };
        let protocol = match t.get("protocol") {
            None => m.protocol.clone(),
            Some(toml::Value::String(p)) => p.clone(),
            Some(_) => return Err(at("protocol must be a string".into())),
        };
        let entry: &ProtocolEntry = protocols::find(&protocol).map_err(|e| at(e.to_string()))?;
        if entry.add_system.is_none() {
            return Err(at(format!(
                "protocol \"{protocol}\" cannot run as one of several systems"
            )));
        }
        let subs = |p: &ProtocolEntry| p.substrate.iter().map(|t| t.name).collect::<Vec<_>>();
        if subs(entry) != subs(main) {
            return Err(at(format!(
                "protocol \"{protocol}\" runs on a different substrate than \"{}\"",
                m.protocol
            )));
        }
        for key in t.keys() {
            let k = key.as_str();
            if k == "dataset" && !entry.needs_dataset {
                return Err(at(format!(
                    "dataset: protocol \"{protocol}\" stores no keys; remove the entry's dataset"
                )));
            }
            if k == "unpaired" && !t[k].is_bool() {
                return Err(at("unpaired must be true or false".into()));
            }
            if [
                "name", "group", "protocol", "workload", "dataset", "unpaired",
            ]
            .contains(&k)
                || entry.tables.iter().any(|d| d.name == k)
            {
                continue;
            }
            if main.substrate.iter().any(|d| d.name == k) {
                return Err(at(format!(
                    "[{k}] is the substrate shared by every system: set it at the top level"
                )));
            }
            return Err(at(format!(
                "unknown key `{k}`; an entry accepts name, group, protocol, workload, dataset, unpaired and the tables of protocol \"{protocol}\""
            )));
        }
        let mut w = table_of(top, "workload");
        merge(&mut w, &table_of(t, "workload"));
        let workload: WorkloadSpec = toml::Value::Table(w)
            .try_into()
            .map_err(|e| at(format!("workload: {e}")))?;
        workload.arrivals().map_err(|e| at(format!("{e:#}")))?;
        if entry.needs_dataset {
            workload.query_shape().map_err(|e| at(format!("{e:#}")))?;
        }
        let dataset = match t.get("dataset") {
            None => None,
            Some(toml::Value::Table(over)) => {
                let mut d = table_of(top, "dataset");
                merge(&mut d, over);
                let d: DatasetSpec = toml::Value::Table(d)
                    .try_into()
                    .map_err(|e| at(format!("dataset: {e}")))?;
                d.validate().map_err(|e| at(format!("{e:#}")))?;
                // The run's dataset named again is the run's dataset.
                Some(d).filter(|d| d.id() != m.dataset.clone().unwrap_or_default().id())
            }
            Some(_) => return Err(at("dataset must be a table".into())),
        };
        let mut tables = crate::settings::Tables::new();
        for d in entry.tables {
            let mut raw = if main.tables.iter().any(|x| x.name == d.name) {
                table_of(top, d.name)
            } else {
                toml::Table::new()
            };
            merge(&mut raw, &table_of(t, d.name));
            let mut wrapped = toml::Table::new();
            wrapped.insert(d.name.to_string(), toml::Value::Table(raw));
            let standalone = toml::to_string(&wrapped)?;
            let resolved = (d.resolve)(&standalone, d.name).map_err(|e| at(e.message))?;
            tables.insert(d.name.to_string(), resolved);
        }
        if let Some(first) = out.iter().find(|s| s.group == group) {
            if first.protocol != protocol || first.tables != tables {
                return Err(at(format!(
                    "group \"{group}\": \"{}\" and \"{name}\" differ in protocol or tables; the systems of a group differ only in their workload and dataset",
                    first.name
                )));
            }
        } else if out.iter().any(|s| s.name == group) {
            return Err(at(format!(
                "group \"{group}\" is the name of another system"
            )));
        }
        out.push(SystemSpec {
            stream: format!("workload:{name}"),
            name,
            group,
            protocol,
            workload,
            tables,
            dataset,
        });
    }
    Ok(out)
}

/// The `[[systems]]` array of a resolved manifest (every key written out), for `to_toml`.
pub(super) fn to_value(systems: &[SystemSpec]) -> Option<toml::Value> {
    if systems.len() == 1 && systems[0].stream == "workload" {
        return None;
    }
    let arr = systems
        .iter()
        .map(|s| {
            let mut t = toml::Table::new();
            t.insert("name".into(), toml::Value::String(s.name.clone()));
            if s.group != s.name {
                t.insert("group".into(), toml::Value::String(s.group.clone()));
            }
            t.insert("protocol".into(), toml::Value::String(s.protocol.clone()));
            if let Ok(w) = toml::Table::try_from(&s.workload) {
                t.insert("workload".into(), toml::Value::Table(w));
            }
            for (k, v) in &s.tables {
                t.insert(k.clone(), toml::Value::Table(v.clone()));
            }
            if let Some(d) = s
                .dataset
                .as_ref()
                .and_then(|d| toml::Table::try_from(d).ok())
            {
                t.insert("dataset".into(), toml::Value::Table(d));
            }
            toml::Value::Table(t)
        })
        .collect();
    Some(toml::Value::Array(arr))
}
