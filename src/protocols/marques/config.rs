//! The `[marques]` manifest table: group size and cell width, with their validation and
//! documentation.

use crate::settings::{KeyDoc, Settings, TableDef};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// `marques.cell_bits`: a number of bits, or `auto`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CellBits {
    /// Cells of `2^bits` curve indices.
    Bits(u32),
    /// `auto`: the keys' span cut into about `cells_per_group` cells per group.
    Word(String),
}

impl Default for CellBits {
    fn default() -> Self {
        CellBits::Word("auto".into())
    }
}

/// The manifest's `[marques]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarquesConfig {
    /// Peers per group (default 6).
    #[serde(default = "d_group_size")]
    pub group_size: usize,
    /// Bits of a cell, or `auto` (default).
    #[serde(default)]
    pub cell_bits: CellBits,
    /// With `cell_bits = "auto"`: cells per group over the keys' span (default 64).
    #[serde(default = "d_cells_per_group")]
    pub cells_per_group: u64,
}

fn d_group_size() -> usize {
    6
}
fn d_cells_per_group() -> u64 {
    64
}

impl Default for MarquesConfig {
    fn default() -> Self {
        MarquesConfig {
            group_size: d_group_size(),
            cell_bits: CellBits::default(),
            cells_per_group: d_cells_per_group(),
        }
    }
}

/// The most cells one query may decompose into (each is a lookup of its own).
pub const MAX_CELLS_PER_QUERY: u64 = 100_000;

impl Settings for MarquesConfig {
    fn validate(&self) -> Result<()> {
        if !(1..=32).contains(&self.group_size) {
            bail!(
                "marques.group_size must be in [1, 32], got {}",
                self.group_size
            );
        }
        match &self.cell_bits {
            CellBits::Bits(b) if *b > 64 => {
                bail!("marques.cell_bits must be in [0, 64] or \"auto\", got {b}")
            }
            CellBits::Word(w) if w != "auto" => {
                bail!("marques.cell_bits must be in [0, 64] or \"auto\", got \"{w}\"")
            }
            _ => {}
        }
        if !(1..=1 << 20).contains(&self.cells_per_group) {
            bail!(
                "marques.cells_per_group must be in [1, 1048576], got {}",
                self.cells_per_group
            );
        }
        Ok(())
    }
}

/// The `[marques]` table's definition.
pub const TABLE: TableDef = TableDef::new::<MarquesConfig>(
    "marques",
    "settings of the MARQUES baseline (a reconstruction; docs/modelling.md)",
    &[
        KeyDoc::new(
            "group_size",
            "[1, 32]",
            "peers per group; groups are formed by latency proximity, members on distinct hosts",
        ),
        KeyDoc::new(
            "cell_bits",
            "[0, 64] or \"auto\"",
            "a cell is 2^cell_bits consecutive curve indices, placed on the outer ring by the hash of its number; auto cuts the keys' span into about cells_per_group cells per group",
        ),
        KeyDoc::new(
            "cells_per_group",
            "[1, 1048576]",
            "with cell_bits = \"auto\": the average number of cells per group over the keys' span",
        ),
    ],
);
