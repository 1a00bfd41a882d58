//! The simulated systems. A protocol is one module (its settings table, validation, run entry,
//! metrics and checks) plus one line in [`REGISTRY`]; nothing else in the crate names it.
//!
//! The manifest keeps only the shared sections and passes protocol tables through: the tables a
//! protocol accepts are listed in its entry, read and validated by their [`TableDef`]s, and
//! reach the run as [`crate::driver::World::tables`].

pub mod chord_batch;
pub mod kademlia;
pub mod lead;
pub mod marques;
pub mod ping;
pub mod rangeindex;

use crate::driver::{ProtocolOutput, World};
use crate::overlay::run::AddSystemFn;
use crate::settings::TableDef;
use anyhow::{bail, Result};
use std::fmt::Write as _;

/// Signature of a protocol's entry point.
pub type RunFn = fn(&World) -> Result<ProtocolOutput>;

/// A registered protocol.
pub struct ProtocolEntry {
    /// Manifest spelling (`protocol = "..."`).
    pub name: &'static str,
    /// One-line description for `leadsim protocols` and errors.
    pub about: &'static str,
    /// Whether it needs the `[dataset]` keys and issues data queries (`workload.query`).
    pub needs_dataset: bool,
    /// Its own settings tables (per system in a run with `[[systems]]`).
    pub tables: &'static [TableDef],
    /// The tables of the substrate it runs on (shared by every system of a run), e.g. `[chord]`.
    pub substrate: &'static [TableDef],
    /// Entry point of a run.
    pub run: RunFn,
    /// How to add one system of this protocol to a ring run (protocols that can share a ring).
    pub add_system: Option<AddSystemFn>,
    /// Its systems bring rings of their own (added by `add_system`) instead of using the run's
    /// shared PeerHASH ring; they still share the run's network, churn and kernel.
    pub own_ring: bool,
}

impl ProtocolEntry {
    /// Whether it runs on the Chord ring (accepts `[chord]`).
    pub fn uses_ring(&self) -> bool {
        self.substrate.iter().any(|t| t.name == "chord")
    }

    /// Its own tables, then its substrate's.
    pub fn all_tables(&self) -> impl Iterator<Item = &'static TableDef> {
        self.tables.iter().chain(self.substrate)
    }
}

/// The run of every protocol on Chord rings: the shared PeerHASH ring (when a system uses it) plus
/// the rings systems bring, each system added by its protocol's [`ProtocolEntry::add_system`].
fn run_ring(world: &World) -> Result<ProtocolOutput> {
    let mut systems = Vec::new();
    for s in world.systems {
        let entry = find(&s.protocol)?;
        let Some(add) = entry.add_system else {
            bail!("protocol \"{}\" cannot run on a shared ring", s.protocol);
        };
        systems.push((add, s, entry.own_ring));
    }
    crate::overlay::run::run_systems(world, &systems)
}

/// Every protocol leadsim can simulate.
pub const REGISTRY: &[ProtocolEntry] = &[
    ProtocolEntry {
        name: "ping",
        about: "built-in workload: random peers ping random peers under churn (exercises engine, network, churn, output)",
        needs_dataset: false,
        tables: &[ping::TABLE],
        substrate: &[],
        run: ping::run,
        add_system: None,
        own_ring: false,
    },
    ProtocolEntry {
        name: "chord-batch",
        about: "Chord with random key hashing; a range is fetched as consecutive batches of point lookups (the paper's baseline)",
        needs_dataset: true,
        tables: &[chord_batch::TABLE],
        substrate: &[crate::overlay::chord::config::TABLE],
        run: run_ring,
        add_system: Some(chord_batch::add_system),
        own_ring: false,
    },
    ProtocolEntry {
        name: "lead",
        about: "LEAD: keys placed by a learned order-preserving hash; a range is one lookup plus a successor walk",
        needs_dataset: true,
        tables: &[lead::TABLE],
        substrate: &[crate::overlay::chord::config::TABLE],
        run: run_ring,
        add_system: Some(lead::add_system),
        own_ring: false,
    },
    ProtocolEntry {
        name: "marques",
        about: "MARQUES (reconstruction): cells of a space-filling curve hashed onto an outer ring of latency-proximity groups, shared in curve order inside each group; a range is one two-level lookup per cell",
        needs_dataset: true,
        tables: &[marques::TABLE],
        substrate: &[crate::overlay::chord::config::TABLE],
        run: run_ring,
        add_system: Some(marques::add_system),
        own_ring: true,
    },
    ProtocolEntry {
        name: "kademlia",
        about: "Kademlia (the DHT under IPFS): XOR-metric k-buckets, iterative alpha-parallel lookups; a range is fetched as batches of block lookups (the paper's IPFS emulation)",
        needs_dataset: true,
        tables: &[kademlia::TABLE],
        substrate: &[],
        run: kademlia::run,
        add_system: None,
        own_ring: false,
    },
    ProtocolEntry {
        name: "c-table",
        about: "C-Table (Fig 1): a coordinator's sorted table of key ranges to owners; a query asks the coordinator, then the owners",
        needs_dataset: true,
        tables: &[rangeindex::TABLE],
        substrate: &[],
        run: rangeindex::run_ctable,
        add_system: None,
        own_ring: false,
    },
    ProtocolEntry {
        name: "rp-bst",
        about: "RP-BST (Fig 1): a distributed binary search tree over key intervals built by a coordinator; a query descends the tree, then walks in-order neighbours",
        needs_dataset: true,
        tables: &[rangeindex::TABLE],
        substrate: &[],
        run: rangeindex::run_rpbst,
        add_system: None,
        own_ring: false,
    },
];

/// Looks a protocol up by name, explaining the choices when it is unknown.
pub fn find(name: &str) -> Result<&'static ProtocolEntry> {
    match REGISTRY.iter().find(|p| p.name == name) {
        Some(p) => Ok(p),
        None => bail!(
            "protocol = \"{name}\" is not a known protocol; choose one of: {}",
            REGISTRY
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Every table name any protocol accepts, each once, in registry order.
pub fn all_tables() -> Vec<&'static TableDef> {
    let mut v: Vec<&'static TableDef> = Vec::new();
    for p in REGISTRY {
        for t in p.substrate.iter().chain(p.tables) {
            if !v.iter().any(|x| x.name == t.name) {
                v.push(t);
            }
        }
    }
    v
}

/// The protocols that accept table `name`.
pub fn owners_of(name: &str) -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|p| p.all_tables().any(|t| t.name == name))
        .map(|p| p.name)
        .collect()
}

fn render_default(v: Option<&toml::Value>) -> String {
    match v {
        Some(toml::Value::String(s)) => format!("\"{s}\""),
        Some(v) => v.to_string(),
        None => "(none)".into(),
    }
}

/// `leadsim protocols`: every protocol with its tables, keys, defaults and ranges.
pub fn describe() -> String {
    let mut out = String::new();
    for p in REGISTRY {
        let _ = writeln!(out, "{}\n  {}", p.name, p.about);
        if p.needs_dataset {
            let _ = writeln!(
                out,
                "  needs [dataset]; issues workload.query = range | lookup"
            );
        }
        for t in p.substrate.iter().chain(p.tables) {
            let d = (t.defaults)();
            let _ = writeln!(out, "  [{}]  {}", t.name, t.about);
            for k in t.keys {
                let _ = writeln!(
                    out,
                    "    {} = {}    # {}; {}",
                    k.key,
                    render_default(d.get(k.key)),
                    k.range,
                    k.doc
                );
            }
        }
        out.push('\n');
    }
    out
}

/// The README's table of protocol keys (Markdown), generated from the registry; a test keeps
/// the README equal to it.
pub fn markdown_keys() -> String {
    let mut out =
        String::from("| key | default | accepted | protocols | meaning |\n|---|---|---|---|---|\n");
    for t in all_tables() {
        let d = (t.defaults)();
        let owners = owners_of(t.name).join(", ");
        for k in t.keys {
            let _ = writeln!(
                out,
                "| `{}.{}` | `{}` | {} | {} | {} |",
                t.name,
                k.key,
                render_default(d.get(k.key)),
                k.range.replace('|', "\\|"),
                owners,
                k.doc
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_documented_and_every_doc_is_a_key() {
        for t in all_tables() {
            let d = (t.defaults)();
            let doc: Vec<&str> = t.keys.iter().map(|k| k.key).collect();
            let real: Vec<&str> = d.keys().map(String::as_str).collect();
            let mut a = doc.clone();
            a.sort_unstable();
            let mut b = real.clone();
            b.sort_unstable();
            assert_eq!(a, b, "table [{}]: documented keys vs real keys", t.name);
        }
    }
}
