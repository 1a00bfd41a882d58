//! The figure specs of `experiments/figures.toml`: what to run, what to plot, and the rules that
//! turn the paper's statement into a verdict.

use anyhow::{bail, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The values a `filter` column accepts: one, or any of a list.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Accepted {
    /// Exactly this value.
    One(String),
    /// Any of these values.
    Any(Vec<String>),
}

impl Accepted {
    /// Whether `v` is accepted.
    pub fn accepts(&self, v: &str) -> bool {
        match self {
            Accepted::One(x) => x == v,
            Accepted::Any(xs) => xs.iter().any(|x| x == v),
        }
    }
}

/// A plot kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Lines over x, one per series, one panel per `panels` value, 95% CI error bars.
    #[default]
    Line,
    /// One bar per x value.
    Bar,
    /// Empirical CDF of x per series.
    Cdf,
    /// One heat map per series (values of y ordered by x), one shared colour scale.
    Heatmap,
}

/// Which file of a run the figure reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Data {
    /// The assembled `summary.csv` (one row per run and system).
    #[default]
    Summary,
    /// The assembled `queries.csv`.
    Queries,
    /// The assembled `hosts.csv` (`output.hosts = true`).
    Hosts,
    /// The assembled `series.csv` (`output.series = true`; x is usually `t_s`).
    Series,
    /// The rows of a model evaluation (`leadsim model eval` config).
    Eval,
}

/// A verdict rule (see docs/figures.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The series' y at `x` (interpolated) compared with `value` by `op`, in every panel.
    At,
    /// The series has the lowest y at every x of every panel (bars: the lowest bar).
    Lowest,
    /// The series' y is below `other`'s: bars, or the mean over x, or with `x` at that x in
    /// every panel.
    LowestPair,
    /// max / min of the series' y over x is at most `value`, in every panel.
    Flat,
    /// mean(series) / mean(other) compared with `value` by `op` (`~`: within `value` of 1).
    Ratio,
    /// The coefficient of variation of the series' values is lower than `other`'s.
    CovLower,
    /// By x = `x`, the series has made at least `value` (a share) of its total change from its
    /// first to its last x, in every panel (a knee).
    Knee,
}

/// How the rows of one (panel, series, x) cell are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Stat {
    /// Their mean, with a 95% CI across rows (replications) or the error column.
    #[default]
    Mean,
    /// Their standard deviation (e.g. of keys per host over hosts).
    Sd,
    /// Their coefficient of variation.
    Cov,
}

/// One statement of the paper and the rule that checks it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictSpec {
    /// The statement, as the report prints it.
    pub statement: String,
    /// How it is checked.
    pub rule: Rule,
    /// The series it is about.
    pub series: String,
    /// The series it is compared with (`ratio`, `lowest_pair`, `cov_lower`).
    #[serde(default)]
    pub other: Option<String>,
    /// Where (`at`).
    #[serde(default)]
    pub x: Option<f64>,
    /// `<`, `>` or `~` (`at`, `ratio`).
    #[serde(default)]
    pub op: Option<String>,
    /// The threshold.
    #[serde(default)]
    pub value: Option<f64>,
}

/// One figure.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureSpec {
    /// Figure id (`fig07`, `table1`, ...): file stem of its outputs.
    pub id: String,
    /// What it shows (report).
    pub what: String,
    /// The paper's statement (report).
    pub paper: String,
    /// Its manifest (or model-eval config), relative to `experiments/`.
    #[serde(default)]
    pub source: Option<String>,
    /// Not measurable yet: what is missing.
    #[serde(default)]
    pub pending: Option<String>,
    /// Plot kind.
    #[serde(default)]
    pub kind: Kind,
    /// Which file it reads.
    #[serde(default)]
    pub data: Data,
    /// x column.
    #[serde(default)]
    pub x: String,
    /// y column (not for CDFs).
    #[serde(default)]
    pub y: String,
    /// Error column (95% CI half-width), used when a point has a single row.
    #[serde(default)]
    pub error: Option<String>,
    /// How the rows of a point are combined (`mean`, `sd`, `cov`).
    #[serde(default)]
    pub stat: Stat,
    /// Series column (default `system`).
    #[serde(default = "d_series")]
    pub series: String,
    /// Series label template (`{}` = the series value).
    #[serde(default)]
    pub series_label: Option<String>,
    /// Display names of series values (e.g. `{ kademlia = "IPFS (Kademlia)" }`), for series
    /// whose values are protocol names from a sweep over `protocol`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Panel column.
    #[serde(default)]
    pub panels: Option<String>,
    /// Keep only rows whose columns have these values (a value, or a list of accepted values:
    /// figures drawn from one run of many systems pick theirs).
    #[serde(default)]
    pub filter: BTreeMap<String, Accepted>,
    /// Plot title (default: the id).
    #[serde(default)]
    pub title: Option<String>,
    /// x axis title.
    #[serde(default)]
    pub x_label: String,
    /// y axis title.
    #[serde(default)]
    pub y_label: String,
    /// Log x axis.
    #[serde(default)]
    pub log_x: bool,
    /// Log y axis.
    #[serde(default)]
    pub log_y: bool,
    /// Multiplier of x values (e.g. 0.001 for µs -> ms).
    #[serde(default = "d_one")]
    pub x_scale: f64,
    /// Multiplier of y values.
    #[serde(default = "d_one")]
    pub y_scale: f64,
    /// Overrides of the quick profile for this figure (dotted manifest keys).
    #[serde(default)]
    pub quick: BTreeMap<String, toml::Value>,
    /// The statement's rules.
    #[serde(default, rename = "verdict")]
    pub verdicts: Vec<VerdictSpec>,
}

fn d_series() -> String {
    "system".into()
}
fn d_one() -> f64 {
    1.0
}

/// `experiments/figures.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiguresFile {
    /// Quick-profile overrides applied to every source (dotted keys).
    #[serde(default)]
    pub quick: BTreeMap<String, toml::Value>,
    /// The figures, in report order.
    #[serde(rename = "figure")]
    pub figures: Vec<FigureSpec>,
}

impl FiguresFile {
    /// Reads and checks the spec file; errors name the file, line and figure.
    pub fn load(path: &Path) -> Result<FiguresFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let f: FiguresFile = toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            anyhow::anyhow!("{}:{line}: {}", path.display(), e.message())
        })?;
        let mut seen = Vec::new();
        for fig in &f.figures {
            let at = |msg: String| anyhow::anyhow!("{}: figure {}: {msg}", path.display(), fig.id);
            if seen.contains(&fig.id) {
                return Err(at("id used twice".into()));
            }
            seen.push(fig.id.clone());
            match (&fig.source, &fig.pending) {
                (Some(_), Some(_)) => return Err(at("give source or pending, not both".into())),
                (None, None) => return Err(at("needs a source (or pending = \"...\")".into())),
                (Some(_), None) => {
                    if fig.x.is_empty() || (fig.y.is_empty() && fig.kind != Kind::Cdf) {
                        return Err(at("needs x and y".into()));
                    }
                }
                (None, Some(_)) => {}
            }
            for v in &fig.verdicts {
                let needs_other = matches!(v.rule, Rule::Ratio | Rule::LowestPair | Rule::CovLower);
                if needs_other && v.other.is_none() {
                    bail!(
                        "{}: figure {}: rule {:?} needs `other`",
                        path.display(),
                        fig.id,
                        v.rule
                    );
                }
                let needs_op = matches!(v.rule, Rule::At | Rule::Ratio);
                if needs_op && (v.op.is_none() || v.value.is_none()) {
                    bail!(
                        "{}: figure {}: rule {:?} needs `op` and `value`",
                        path.display(),
                        fig.id,
                        v.rule
                    );
                }
                if matches!(v.rule, Rule::At | Rule::Knee) && v.x.is_none() {
                    bail!("{}: figure {}: rule at needs `x`", path.display(), fig.id);
                }
                if let Some(op) = &v.op {
                    if !["<", ">", "~"].contains(&op.as_str()) {
                        bail!(
                            "{}: figure {}: op must be <, > or ~, got {op}",
                            path.display(),
                            fig.id
                        );
                    }
                }
            }
        }
        Ok(f)
    }
}
