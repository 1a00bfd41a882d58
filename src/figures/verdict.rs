//! Verdict rules: each paper statement of a figure, checked against what the figure measured.

use super::render::{Measured, Point};
use super::spec::{Rule, VerdictSpec};
use crate::output::Summary;

/// The outcome of one rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The statement.
    pub statement: String,
    /// `holds`, `differs`, or `pending: ...` (a series not measured yet).
    pub outcome: String,
    /// The measured numbers behind it.
    pub detail: String,
}

/// y of `points` at `x`, interpolated linearly between the neighbouring points.
fn at(points: &[Point], x: f64) -> Option<f64> {
    points
        .windows(2)
        .find(|w| w[0].0 <= x && x <= w[1].0)
        .map(|w| {
            if w[1].0 == w[0].0 {
                w[0].1
            } else {
                w[0].1 + (w[1].1 - w[0].1) * (x - w[0].0) / (w[1].0 - w[0].0)
            }
        })
        .or_else(|| points.iter().find(|p| p.0 == x).map(|p| p.1))
}

fn cmp(op: &str, a: f64, b: f64) -> bool {
    match op {
        "<" => a < b,
        ">" => a > b,
        _ => (a - 1.0).abs() <= b,
    }
}

/// Per panel, the points of `series`.
fn points<'a>(m: &'a Measured, series: &str) -> Vec<(&'a str, &'a [Point])> {
    m.panels
        .iter()
        .filter_map(|(p, ss)| {
            ss.iter()
                .find(|(s, _)| s == series)
                .map(|(_, pts)| (p.as_str(), pts.as_slice()))
        })
        .collect()
}

/// The mean of a series: of its sample (CDF, heat map) or of its points.
fn mean(m: &Measured, series: &str) -> Option<f64> {
    if let Some((_, v)) = m.samples.iter().find(|(s, _)| s == series) {
        return Some(Summary::of(v).mean);
    }
    let ys: Vec<f64> = points(m, series)
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .collect();
    (!ys.is_empty()).then(|| ys.iter().sum::<f64>() / ys.len() as f64)
}

fn sample<'a>(m: &'a Measured, series: &str) -> Option<&'a [f64]> {
    m.samples
        .iter()
        .find(|(s, _)| s == series)
        .map(|(_, v)| v.as_slice())
}

/// Checks one statement.
pub fn check(v: &VerdictSpec, m: &Measured) -> Verdict {
    let present = m.series();
    let missing: Vec<&str> = std::iter::once(v.series.as_str())
        .chain(v.other.as_deref())
        .filter(|s| !present.contains(s))
        .collect();
    let mk = |holds: bool, detail: String| Verdict {
        statement: v.statement.clone(),
        outcome: if holds { "holds" } else { "differs" }.into(),
        detail,
    };
    if !missing.is_empty() {
        return Verdict {
            statement: v.statement.clone(),
            outcome: format!(
                "pending: {} not measured (not implemented yet)",
                missing.join(", ")
            ),
            detail: String::new(),
        };
    }
    let op = v.op.as_deref().unwrap_or("<");
    let value = v.value.unwrap_or(f64::NAN);
    let other = v.other.as_deref().unwrap_or("");
    match v.rule {
        Rule::At => {
            let x = v.x.unwrap_or(f64::NAN);
            let mut all = true;
            let mut parts = Vec::new();
            for (panel, pts) in points(m, &v.series) {
                match at(pts, x) {
                    Some(y) => {
                        all &= cmp(op, y, value);
                        parts.push(format!("{panel} {y:.1}"));
                    }
                    None => {
                        all = false;
                        parts.push(format!("{panel}: x = {x} outside the measured range"));
                    }
                }
            }
            mk(all, format!("{} at {x}: {}", v.series, parts.join(", ")))
        }
        Rule::Lowest => {
            let mut all = true;
            let mut worst = String::new();
            for (panel, ss) in &m.panels {
                let Some((_, mine)) = ss.iter().find(|(s, _)| *s == v.series) else {
                    continue;
                };
                for &(x, y, _, _) in mine {
                    for (s, pts) in ss.iter().filter(|(s, _)| *s != v.series) {
                        if let Some(o) = pts.iter().find(|p| p.0 == x) {
                            if o.1 < y {
                                all = false;
                                let at = if panel.is_empty() {
                                    String::new()
                                } else {
                                    format!(" at {x} ({panel})")
                                };
                                worst = format!("{s} is lower{at}: {:.2} < {y:.2}", o.1);
                            }
                        }
                    }
                }
            }
            mk(
                all,
                if all {
                    format!("{} lowest everywhere", v.series)
                } else {
                    worst
                },
            )
        }
        Rule::LowestPair if v.x.is_some() => {
            let x = v.x.unwrap_or(f64::NAN);
            let mut all = true;
            let mut parts = Vec::new();
            let others = points(m, other);
            for (panel, pts) in points(m, &v.series) {
                let b = others.iter().find(|(p, _)| *p == panel);
                match (at(pts, x), b.and_then(|(_, o)| at(o, x))) {
                    (Some(a), Some(b)) => {
                        all &= a < b;
                        parts.push(format!("{panel} {a:.3} vs {b:.3}"));
                    }
                    _ => {
                        all = false;
                        parts.push(format!("{panel}: no values at {x}"));
                    }
                }
            }
            mk(
                all,
                format!("{} vs {other} at {x}: {}", v.series, parts.join(", ")),
            )
        }
        Rule::LowestPair => {
            let (a, b) = (mean(m, &v.series), mean(m, other));
            match (a, b) {
                (Some(a), Some(b)) => mk(a < b, format!("{} {a:.2} vs {other} {b:.2}", v.series)),
                _ => mk(false, "no values".into()),
            }
        }
        Rule::Flat => {
            let mut all = true;
            let mut parts = Vec::new();
            for (panel, pts) in points(m, &v.series) {
                let lo = pts.iter().map(|p| p.1).fold(f64::MAX, f64::min);
                let hi = pts.iter().map(|p| p.1).fold(f64::MIN, f64::max);
                all &= hi / lo <= value;
                parts.push(format!("{panel} {:.2}", hi / lo));
            }
            mk(
                all,
                format!("max / min of {}: {}", v.series, parts.join(", ")),
            )
        }
        Rule::Ratio => match (mean(m, &v.series), mean(m, other)) {
            (Some(a), Some(b)) => {
                let r = a / b;
                mk(
                    cmp(op, r, value),
                    format!(
                        "{} mean {a:.1} / {other} mean {b:.1} = {}",
                        v.series,
                        crate::plot::tick(r)
                    ),
                )
            }
            _ => mk(false, "no values".into()),
        },
        Rule::Knee => {
            let x = v.x.unwrap_or(f64::NAN);
            let mut all = true;
            let mut parts = Vec::new();
            for (panel, pts) in points(m, &v.series) {
                let (Some(a), Some(b), Some(k)) = (pts.first(), pts.last(), at(pts, x)) else {
                    all = false;
                    continue;
                };
                let share = if b.1 == a.1 {
                    1.0
                } else {
                    (a.1 - k) / (a.1 - b.1)
                };
                all &= share >= value;
                parts.push(format!("{panel} {:.0}%", share * 100.0));
            }
            mk(
                all,
                format!("share of the change reached by {x}: {}", parts.join(", ")),
            )
        }
        Rule::CovLower => match (sample(m, &v.series), sample(m, other)) {
            (Some(a), Some(b)) => {
                let (ca, cb) = (Summary::of(a).cov(), Summary::of(b).cov());
                mk(
                    ca < cb,
                    format!("CoV {} {ca:.3} vs {other} {cb:.3}", v.series),
                )
            }
            _ => mk(false, "no values".into()),
        },
    }
}
