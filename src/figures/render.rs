//! One generic renderer: a figure spec plus its data table become the tidy `results/<id>.csv`,
//! the plot (SVG + PNG) and the per-series values the verdict rules read.

use super::spec::{Data, FigureSpec, Kind, Stat};
use crate::output::{csv_field, write_atomic, Summary};
use crate::plot::{self, Axes, Panel, Series};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::Path;

/// A CSV table: header and rows of strings.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads a CSV file.
    pub fn read(path: &Path) -> Result<Table> {
        let mut rdr = csv::Reader::from_path(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let header = rdr.headers()?.iter().map(str::to_string).collect();
        let mut rows = Vec::new();
        for r in rdr.records() {
            rows.push(r?.iter().map(str::to_string).collect());
        }
        Ok(Table { header, rows })
    }

    /// Parses CSV bytes.
    pub fn parse(bytes: &[u8]) -> Result<Table> {
        let mut rdr = csv::Reader::from_reader(bytes);
        let header = rdr.headers()?.iter().map(str::to_string).collect();
        let mut rows = Vec::new();
        for r in rdr.records() {
            rows.push(r?.iter().map(str::to_string).collect());
        }
        Ok(Table { header, rows })
    }

    fn col(&self, name: &str) -> Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("no column `{name}` (columns: {})", self.header.join(", ")))
    }
}

/// A measured point: `(x, y, ci95 half-width, rows averaged)`.
pub type Point = (f64, f64, f64, usize);
/// A series' label and points.
pub type SeriesPoints = (String, Vec<Point>);

/// What a figure measured, per panel and series (bars have one point at x = 0).
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// panel -> series -> points, in first-appearance order.
    pub panels: Vec<(String, Vec<SeriesPoints>)>,
    /// For CDFs and heat maps: every series' raw sample.
    pub samples: Vec<(String, Vec<f64>)>,
}

impl Measured {
    /// Every series label.
    pub fn series(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for (_, ss) in &self.panels {
            for (s, _) in ss {
                if !v.contains(&s.as_str()) {
                    v.push(s);
                }
            }
        }
        for (s, _) in &self.samples {
            if !v.contains(&s.as_str()) {
                v.push(s);
            }
        }
        v
    }
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}

/// The series label of a row: the series columns' values (comma-separated `series`), each
/// renamed by `labels` when listed there, put into the `series_label` template's `{}` in turn,
/// or joined with ", ".
fn label(spec: &FigureSpec, vals: &[&str]) -> String {
    let renamed: Vec<&str> = vals
        .iter()
        .map(|v| spec.labels.get(*v).map_or(*v, String::as_str))
        .collect();
    let vals = &renamed;
    match &spec.series_label {
        Some(t) => {
            let mut out = t.clone();
            for v in vals {
                out = out.replacen("{}", v, 1);
            }
            out
        }
        None => vals.join(", "),
    }
}

fn push_unique<T>(v: &mut Vec<(String, T)>, key: &str, init: impl FnOnce() -> T) -> usize {
    match v.iter().position(|(k, _)| k == key) {
        Some(i) => i,
        None => {
            v.push((key.to_string(), init()));
            v.len() - 1
        }
    }
}

/// Renders figure `spec` from `table` into `results/`: returns what it measured.
pub fn render(spec: &FigureSpec, table: &Table, results: &Path) -> Result<Measured> {
    let keep: Vec<(usize, &super::spec::Accepted)> = spec
        .filter
        .iter()
        .map(|(c, v)| Ok((table.col(c)?, v)))
        .collect::<Result<_>>()?;
    let rows: Vec<&Vec<String>> = table
        .rows
        .iter()
        .filter(|r| keep.iter().all(|(i, v)| v.accepts(&r[*i])))
        .collect();
    let xi = table.col(&spec.x)?;
    let si: Vec<usize> = if spec.data == Data::Eval {
        vec![xi]
    } else {
        (spec.series.split(','))
            .map(|c| table.col(c.trim()))
            .collect::<Result<_>>()?
    };
    let series_of = |r: &Vec<String>| -> String {
        let vals: Vec<&str> = si.iter().map(|&i| r[i].as_str()).collect();
        label(spec, &vals)
    };
    let pi = spec.panels.as_deref().map(|p| table.col(p)).transpose()?;
    let title = spec.title.clone().unwrap_or_else(|| spec.id.clone());
    let stem = results.join(&spec.id);
    let mut m = Measured::default();
    let mut csv = String::new();
    match spec.kind {
        Kind::Line | Kind::Bar => {
            let yi = table.col(&spec.y)?;
            let ei = spec.error.as_deref().map(|e| table.col(e)).transpose()?;
            // panel -> series -> x -> (values, given CI)
            type Cell = (Vec<f64>, f64);
            type Xs = Vec<(String, Cell)>;
            let mut groups: Vec<(String, Vec<(String, Xs)>)> = Vec::new();
            for r in &rows {
                let panel = pi.map_or(String::new(), |i| r[i].clone());
                let p = push_unique(&mut groups, &panel, Vec::new);
                let s = push_unique(&mut groups[p].1, &series_of(r), Vec::new);
                let x = push_unique(&mut groups[p].1[s].1, &r[xi], || (Vec::new(), 0.0));
                let cell = &mut groups[p].1[s].1[x].1;
                cell.0.push(num(&r[yi]) * spec.y_scale);
                cell.1 = ei.map_or(0.0, |i| num(&r[i]) * spec.y_scale);
            }
            let _ = writeln!(
                csv,
                "{}series,{},{},ci95,n",
                spec.panels
                    .as_ref()
                    .map_or(String::new(), |p| format!("{p},")),
                spec.x,
                spec.y
            );
            for (panel, series) in &groups {
                let mut ps = Vec::new();
                for (s, xs) in series {
                    let mut pts: Vec<Point> = Vec::new();
                    for (xv, (ys, given)) in xs {
                        let ys: Vec<f64> = ys.iter().copied().filter(|y| y.is_finite()).collect();
                        if ys.is_empty() {
                            continue;
                        }
                        let sum = Summary::of(&ys);
                        // Replications: CI across them; a single run: its own CI column.
                        let (value, ci) = match spec.stat {
                            Stat::Mean => (sum.mean, if ys.len() > 1 { sum.ci95 } else { *given }),
                            Stat::Sd => (sum.sd, 0.0),
                            Stat::Cov => (sum.cov(), 0.0),
                        };
                        let sum = Summary { mean: value, ..sum };
                        let x = if spec.kind == Kind::Bar {
                            0.0
                        } else {
                            num(xv) * spec.x_scale
                        };
                        pts.push((x, sum.mean, if ci.is_finite() { ci } else { 0.0 }, ys.len()));
                        let _ = writeln!(
                            csv,
                            "{}{},{},{},{},{}",
                            spec.panels
                                .as_ref()
                                .map_or(String::new(), |_| format!("{},", csv_field(panel))),
                            csv_field(s),
                            csv_field(xv),
                            crate::experiment::fmt(sum.mean),
                            crate::experiment::fmt(ci),
                            ys.len()
                        );
                    }
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    ps.push((s.clone(), pts));
                }
                m.panels.push((panel.clone(), ps));
            }
            if spec.kind == Kind::Line {
                let panels: Vec<Panel> = m
                    .panels
                    .iter()
                    .map(|(t, ss)| Panel {
                        title: t.clone(),
                        series: ss
                            .iter()
                            .map(|(l, p)| Series {
                                label: l.clone(),
                                points: p.iter().map(|&(x, y, c, _)| (x, y, c)).collect(),
                            })
                            .collect(),
                    })
                    .collect();
                let axes = Axes {
                    x_label: spec.x_label.clone(),
                    y_label: spec.y_label.clone(),
                    log_x: spec.log_x,
                    log_y: spec.log_y,
                };
                plot::line_chart(&stem, &title, &panels, &axes)?;
            } else {
                let bars: Vec<(String, f64)> = m
                    .panels
                    .iter()
                    .flat_map(|(_, ss)| ss.iter())
                    .map(|(l, p)| (l.clone(), p.first().map_or(f64::NAN, |q| q.1)))
                    .collect();
                plot::bar_chart(&stem, &title, &spec.y_label, &bars, spec.log_y)?;
            }
        }
        Kind::Cdf | Kind::Heatmap => {
            let yi = if spec.kind == Kind::Heatmap {
                Some(table.col(&spec.y)?)
            } else {
                None
            };
            let mut samples: Vec<(String, Vec<f64>)> = Vec::new();
            for r in &rows {
                let s = push_unique(&mut samples, &series_of(r), Vec::new);
                let v = match yi {
                    Some(i) => num(&r[i]) * spec.y_scale,
                    None => num(&r[xi]) * spec.x_scale,
                };
                samples[s].1.push(v);
            }
            let _ = writeln!(csv, "series,n,mean,sd,cov,ci95,median,p95,max");
            for (s, v) in &samples {
                let sum = Summary::of(v);
                let max = v.iter().copied().fold(f64::NAN, f64::max);
                let f = crate::experiment::fmt;
                let _ = writeln!(
                    csv,
                    "{},{},{},{},{},{},{},{},{}",
                    csv_field(s),
                    sum.n,
                    f(sum.mean),
                    f(sum.sd),
                    f(sum.cov()),
                    f(sum.ci95),
                    f(sum.median),
                    f(sum.p95),
                    f(max)
                );
            }
            if spec.kind == Kind::Cdf {
                plot::cdf_chart(&stem, &title, &spec.x_label, &samples, spec.log_x)?;
            } else {
                plot::heat_maps(&stem, &title, &samples, &spec.y_label)?;
            }
            m.samples = samples;
        }
    }
    write_atomic(&stem.with_extension("csv"), csv.as_bytes())?;
    Ok(m)
}

/// A short account of what a figure measured (report), per series.
pub fn describe(spec: &FigureSpec, m: &Measured) -> String {
    let mut parts = Vec::new();
    match spec.kind {
        Kind::Line => {
            // The first panel's range of each series (the tidy CSV has every point).
            if let Some((panel, ss)) = m.panels.first() {
                for (s, pts) in ss {
                    if let (Some(a), Some(b)) = (pts.first(), pts.last()) {
                        // A scaled x is named by its label (its unit differs from the column's).
                        let x = if spec.x_scale != 1.0 && !spec.x_label.is_empty() {
                            spec.x_label.as_str()
                        } else {
                            spec.x.as_str()
                        };
                        let y = |v: f64| {
                            if v.abs() < 10.0 {
                                format!("{v:.3}")
                            } else {
                                format!("{v:.1}")
                            }
                        };
                        parts.push(format!(
                            "{s}: {} at {x} = {} .. {} at {}{}",
                            y(a.1),
                            plot::tick(a.0),
                            y(b.1),
                            plot::tick(b.0),
                            if panel.is_empty() {
                                String::new()
                            } else {
                                format!(" ({panel})")
                            }
                        ));
                    }
                }
            }
        }
        Kind::Bar => {
            for (_, ss) in &m.panels {
                for (s, pts) in ss {
                    if let Some(p) = pts.first() {
                        parts.push(format!("{s} {:.2}", p.1));
                    }
                }
            }
        }
        Kind::Cdf | Kind::Heatmap => {
            for (s, v) in &m.samples {
                let sum = Summary::of(v);
                if spec.kind == Kind::Cdf {
                    parts.push(format!(
                        "{s}: {} samples, mean {:.1} (95% CI +-{:.1}), median {:.1}, p95 {:.1}",
                        sum.n, sum.mean, sum.ci95, sum.median, sum.p95
                    ));
                } else {
                    let max = v.iter().copied().fold(0.0, f64::max);
                    parts.push(format!(
                        "{s}: mean {:.0}, SD {:.0}, CoV {:.3}, max / mean {:.2}",
                        sum.mean,
                        sum.sd,
                        sum.cov(),
                        max / sum.mean
                    ));
                }
            }
        }
    }
    parts.join("; ")
}
