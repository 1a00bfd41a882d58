//! Protocol settings tables: how a protocol (or the substrate it runs on) declares its manifest
//! table, so that the manifest owns only the shared sections and passes protocol tables through.
//!
//! A table is a serde struct implementing [`Settings`] (defaults via `Default`,
//! `#[serde(deny_unknown_fields)]`, cross-key checks in [`Settings::validate`]) plus a
//! [`TableDef`] naming it and documenting each key. Parsing reads the table straight from the
//! manifest text, so type errors and unknown keys point at their line and column; validation
//! errors name `table.key`, which the manifest maps to its line.
//!
//! ```
//! use leadsim::settings::{KeyDoc, Settings, TableDef};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
//! #[serde(deny_unknown_fields, default)]
//! struct Echo { timeout_ms: f64 }
//! impl Default for Echo { fn default() -> Self { Echo { timeout_ms: 500.0 } } }
//! impl Settings for Echo {
//!     fn validate(&self) -> anyhow::Result<()> {
//!         anyhow::ensure!(self.timeout_ms > 0.0, "echo.timeout_ms must be > 0");
//!         Ok(())
//!     }
//! }
//! const ECHO: TableDef = TableDef::new::<Echo>("echo", "an example table",
//!     &[KeyDoc { key: "timeout_ms", range: "> 0", doc: "how long to wait" }]);
//!
//! let t = (ECHO.resolve)("[echo]\ntimeout_ms = 20\n", "echo").unwrap();
//! assert_eq!(t["timeout_ms"].as_float(), Some(20.0));
//! assert!((ECHO.resolve)("[echo]\ntimeout_ms = -1\n", "echo").is_err());
//! let e = (ECHO.resolve)("[echo]\ntimeoutms = 1\n", "echo").unwrap_err();
//! assert!(e.line == 2, "{e:?}");
//! ```

use anyhow::Result;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// A settings struct: defaults, serde, and the checks that need several keys.
pub trait Settings: DeserializeOwned + Serialize + Default {
    /// Checks values beyond their types; errors should name `table.key`.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

/// Documentation of one key of a table (its default comes from `Default`).
#[derive(Clone, Copy, Debug)]
pub struct KeyDoc {
    /// Key name inside the table.
    pub key: &'static str,
    /// Accepted range or values.
    pub range: &'static str,
    /// What it means.
    pub doc: &'static str,
}

impl KeyDoc {
    /// A key's documentation.
    pub const fn new(key: &'static str, range: &'static str, doc: &'static str) -> KeyDoc {
        KeyDoc { key, range, doc }
    }
}

/// An error while reading a table: where and what.
#[derive(Clone, Debug)]
pub struct TableError {
    /// 1-based line in the manifest text (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub col: usize,
    /// The message (names `table.key` for validation errors).
    pub message: String,
}

/// A registered settings table.
#[derive(Clone, Copy)]
pub struct TableDef {
    /// Table name in the manifest (`[name]`).
    pub name: &'static str,
    /// One line about it.
    pub about: &'static str,
    /// Its keys.
    pub keys: &'static [KeyDoc],
    /// Reads the table (absent = defaults) from manifest text, validates it, and returns it with
    /// every default written out.
    pub resolve: fn(&str, &str) -> std::result::Result<toml::Table, TableError>,
    /// The defaults as a table.
    pub defaults: fn() -> toml::Table,
}

impl TableDef {
    /// The definition of table `name` backed by settings type `S`.
    pub const fn new<S: Settings>(
        name: &'static str,
        about: &'static str,
        keys: &'static [KeyDoc],
    ) -> TableDef {
        TableDef {
            name,
            about,
            keys,
            resolve: resolve::<S>,
            defaults: defaults::<S>,
        }
    }
}

fn to_table<S: Serialize>(s: &S) -> toml::Table {
    toml::Table::try_from(s).unwrap_or_default()
}

fn defaults<S: Settings>() -> toml::Table {
    to_table(&S::default())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

/// Parses table `name` of `text` as `S` (defaults when absent), validates it, and returns it
/// resolved.
pub fn resolve<S: Settings>(
    text: &str,
    name: &str,
) -> std::result::Result<toml::Table, TableError> {
    let s: S = read::<S>(text, name)?.unwrap_or_default();
    s.validate().map_err(|e| TableError {
        line: 0,
        col: 0,
        message: format!("{e:#}"),
    })?;
    Ok(to_table(&s))
}

/// Reads table `name` of `text` as `S`, keeping the parser's positions for errors.
pub fn read<S: DeserializeOwned>(
    text: &str,
    name: &str,
) -> std::result::Result<Option<S>, TableError> {
    let de = toml::Deserializer::new(text);
    Pick::<S> {
        name,
        _s: PhantomData,
    }
    .deserialize(de)
    .map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        TableError {
            line,
            col,
            message: e.message().to_string(),
        }
    })
}

/// Reads a resolved table back into its settings type (tables in a parsed manifest are already
/// valid, so an error here is a bug, reported as such).
pub fn from_table<S: DeserializeOwned>(name: &str, t: Option<&toml::Table>) -> Result<S> {
    let t = t.cloned().unwrap_or_default();
    toml::Value::Table(t)
        .try_into()
        .map_err(|e| anyhow::anyhow!("[{name}]: {e}"))
}

/// Deserializes only the top-level key `name` as `S`, ignoring every other key.
struct Pick<'n, S> {
    name: &'n str,
    _s: PhantomData<S>,
}

impl<'de, S: DeserializeOwned> DeserializeSeed<'de> for Pick<'_, S> {
    type Value = Option<S>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<S>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: DeserializeOwned> Visitor<'de> for Pick<'_, S> {
    type Value = Option<S>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a manifest table")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<S>, A::Error> {
        let mut out = None;
        while let Some(k) = map.next_key::<String>()? {
            if k == self.name {
                out = Some(map.next_value::<S>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// Protocol tables of a parsed manifest, resolved (every default written out), by name.
pub type Tables = BTreeMap<String, toml::Table>;
