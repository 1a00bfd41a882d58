//! The run cache: a finished run is reused only if it was produced by the same resolved
//! configuration, inputs and code, and its files are intact.
//!
//! - The **run key** is the SHA-1 of: the code fingerprint, the figure profile, the fingerprints
//!   of every input file the manifest names (topology matrices, churn trace, SOSD dataset: their
//!   contents' SHA-1), the run's axis values and replication, and the fully resolved manifest
//!   (every key, defaults and protocol tables included).
//! - The **code fingerprint** is the crate version, the git commit it was built from (with
//!   `-dirty` for uncommitted changes) and the SHA-1 of the running binary: any rebuild that
//!   changes the code changes it.
//! - A finished run directory holds `index.json`, written last: the run key and every file's size
//!   and SHA-1. A run whose index is missing, whose key differs, or one of whose files is missing
//!   or altered is run again (its directory emptied first), never assembled.

use super::sweep::{PlannedRun, SweepPlan};
use crate::output::write_atomic;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Name of the index file of a finished run.
pub const INDEX: &str = "index.json";

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-1 of a file's contents (streamed).
pub fn file_sha1(path: &Path) -> Result<String> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// The code fingerprint of this binary: `leadsim <version> <git commit> bin:<sha1 prefix>`.
pub fn code_fingerprint() -> &'static str {
    static CODE: OnceLock<String> = OnceLock::new();
    CODE.get_or_init(|| {
        let bin = std::env::current_exe()
            .ok()
            .and_then(|p| file_sha1(&p).ok())
            .map_or_else(|| "unknown".to_string(), |h| h[..16].to_string());
        format!(
            "leadsim {} {} bin:{bin}",
            env!("CARGO_PKG_VERSION"),
            env!("LEADSIM_GIT")
        )
    })
}

/// Fingerprints of input files, hashed once per process and path.
fn input_print(path: &Path) -> Result<String> {
    static SEEN: OnceLock<Mutex<BTreeMap<PathBuf, (u64, String)>>> = OnceLock::new();
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let seen = SEEN.get_or_init(Default::default);
    if let Some((len, h)) = seen.lock().expect("lock").get(path) {
        if *len == meta.len() {
            return Ok(h.clone());
        }
    }
    let h = file_sha1(path)?;
    seen.lock()
        .expect("lock")
        .insert(path.to_path_buf(), (meta.len(), h.clone()));
    Ok(h)
}

/// The input files a manifest names, with their fingerprints, one per line.
fn inputs_of(m: &crate::manifest::Manifest) -> Result<String> {
    let mut files: Vec<PathBuf> = Vec::new();
    files.extend(m.topology.file.iter().cloned());
    files.extend(m.topology.time_slices.iter().flatten().cloned());
    files.extend(m.churn.trace.iter().cloned());
    if let Some(d) = &m.dataset {
        files.extend(d.file.iter().cloned());
    }
    for d in m.systems.iter().filter_map(|s| s.dataset.as_ref()) {
        if !files.iter().any(|f| Some(f) == d.file.as_ref()) {
            files.extend(d.file.iter().cloned());
        }
    }
    let mut out = String::new();
    for f in files {
        out.push_str(&format!("{} sha1:{}\n", f.display(), input_print(&f)?));
    }
    Ok(out)
}

/// The resolved manifest without `output.dir` (where files go does not change what they hold, so
/// shards run in different directories share keys), and also without `name` when `unnamed` (a
/// run's name is a label of its rows: it changes no simulated number).
fn keyed_manifest(m: &crate::manifest::Manifest, unnamed: bool) -> String {
    let text = m.to_toml();
    match toml::from_str::<toml::Table>(&text) {
        Ok(mut t) => {
            if let Some(toml::Value::Table(o)) = t.get_mut("output") {
                o.remove("dir");
            }
            if unnamed {
                t.remove("name");
            }
            toml::to_string(&t).unwrap_or(text)
        }
        Err(_) => text,
    }
}

/// The run key of `run` in `plan`.
pub fn run_key(plan: &SweepPlan, run: &PlannedRun) -> Result<String> {
    key(plan, run, true)
}

/// The simulation key of `run` in `plan`: what it simulates, whatever it is called and wherever
/// it is written (code, profile, inputs and the resolved manifest without its name, output
/// directory and sweep labels). Two runs with one simulation key give the same numbers, so
/// [`super::execute`] simulates them once (e.g. the paper-churn, 490-host, PlanetLab-like point
/// that Figs 9b, 9c and 9d share).
pub fn simulation_key(plan: &SweepPlan, run: &PlannedRun) -> Result<String> {
    key(plan, run, false)
}

/// A run key (`named`: with the run's axis labels, replication and name) or a simulation key.
fn key(plan: &SweepPlan, run: &PlannedRun, named: bool) -> Result<String> {
    let what = if named { "run" } else { "simulation" };
    let mut material = format!(
        "leadsim {what} key v1\ncode: {}\nprofile: {}\ninputs:\n{}",
        plan.code,
        plan.profile,
        inputs_of(&run.manifest)?
    );
    if named {
        material.push_str(&format!(
            "params: {}\nreplication: {}\n",
            run.params.join("\u{1f}"),
            run.replication
        ));
    }
    material.push_str(&format!(
        "manifest:\n{}",
        keyed_manifest(&run.manifest, !named)
    ));
    Ok(hex(&Sha1::digest(material.as_bytes())))
}

#[derive(Serialize, Deserialize)]
struct FileEntry {
    name: String,
    bytes: u64,
    sha1: String,
}

#[derive(Serialize, Deserialize)]
struct Index {
    key: String,
    code: String,
    files: Vec<FileEntry>,
}

/// Why a run directory cannot be reused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Finished by the same configuration, inputs and code; files intact.
    Fresh,
    /// Never finished (no index).
    Missing,
    /// Finished, but by another configuration, profile, input or code.
    Stale,
    /// Finished, but a file is missing or altered.
    Damaged(String),
}

/// Checks run directory `dir` against `key`.
pub fn status(dir: &Path, key: &str) -> Status {
    let Ok(text) = std::fs::read_to_string(dir.join(INDEX)) else {
        return Status::Missing;
    };
    let Ok(index) = serde_json::from_str::<Index>(&text) else {
        return Status::Damaged(format!("{INDEX} unreadable"));
    };
    if index.key != key {
        return Status::Stale;
    }
    for f in &index.files {
        let p = dir.join(&f.name);
        let ok = std::fs::metadata(&p).is_ok_and(|m| m.len() == f.bytes)
            && file_sha1(&p).is_ok_and(|h| h == f.sha1);
        if !ok {
            return Status::Damaged(format!("{} missing or altered", f.name));
        }
    }
    Status::Fresh
}

/// Writes `dir/index.json` over `files` (written last: its presence marks the run finished).
pub fn write_index(dir: &Path, key: &str, code: &str, files: &[PathBuf]) -> Result<()> {
    let mut entries = Vec::new();
    for p in files {
        entries.push(FileEntry {
            name: p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes: std::fs::metadata(p)?.len(),
            sha1: file_sha1(p)?,
        });
    }
    let index = Index {
        key: key.to_string(),
        code: code.to_string(),
        files: entries,
    };
    write_atomic(
        &dir.join(INDEX),
        serde_json::to_string_pretty(&index)?.as_bytes(),
    )
}
