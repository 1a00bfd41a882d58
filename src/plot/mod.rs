//! Charts rendered from result CSVs with plotters (re-plotting never re-simulates): line charts
//! with one panel per group and 95% confidence error bars, bar charts, CDFs. Every chart is written
//! as SVG and PNG. Text uses the bundled DejaVu Sans through plotters' pure-Rust `ab_glyph` path,
//! so nothing needs system font or graphics libraries (licence: `src/plot/FONT-LICENSE`).

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The bundled font parses; a failure would only lose text, never panic later.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// One line of a chart: label and points `(x, y, ci95 half-width)`.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Points, sorted by x.
    pub points: Vec<(f64, f64, f64)>,
}

/// One panel of a line chart.
#[derive(Clone, Debug)]
pub struct Panel {
    /// Panel title (e.g. the dataset).
    pub title: String,
    /// Its lines.
    pub series: Vec<Series>,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e:?}")
}

fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    panels: &[Panel],
    log_y: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(err)?;
    let area = area.titled(title, ("sans-serif", 22)).map_err(err)?;
    let cells = area.split_evenly((1, panels.len().max(1)));
    for (cell, panel) in cells.iter().zip(panels) {
        let pts = panel.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y, ci) in pts {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y - ci);
            y1 = y1.max(y + ci);
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        let pad = ((x1 - x0) * 0.03).max(1e-9);
        let mut chart = ChartBuilder::on(cell);
        chart
            .caption(&panel.title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70);
        macro_rules! plot_on {
            ($ctx:expr) => {{
                let mut ctx = $ctx;
                ctx.configure_mesh()
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .draw()
                    .map_err(err)?;
                for (i, s) in panel.series.iter().enumerate() {
                    let c = COLORS[i % COLORS.len()];
                    ctx.draw_series(LineSeries::new(
                        s.points.iter().map(|&(x, y, _)| (x, y)),
                        c.stroke_width(2),
                    ))
                    .map_err(err)?
                    .label(s.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                    });
                    ctx.draw_series(
                        s.points
                            .iter()
                            .map(|&(x, y, _)| Circle::new((x, y), 3, c.filled())),
                    )
                    .map_err(err)?;
                    ctx.draw_series(s.points.iter().filter(|p| p.2 > 0.0).map(|&(x, y, ci)| {
                        ErrorBar::new_vertical(
                            x,
                            (y - ci).max(f64::MIN_POSITIVE),
                            y,
                            y + ci,
                            c.stroke_width(1),
                            6,
                        )
                    }))
                    .map_err(err)?;
                }
                ctx.configure_series_labels()
                    .border_style(BLACK)
                    .background_style(WHITE.mix(0.8))
                    .draw()
                    .map_err(err)?;
            }};
        }
        if log_y {
            let lo = (y0.max(1e-3)) * 0.8;
            plot_on!(chart
                .build_cartesian_2d((x0 - pad)..(x1 + pad), (lo..y1 * 1.25).log_scale())
                .map_err(err)?);
        } else {
            let ypad = ((y1 - y0) * 0.05).max(1e-9);
            plot_on!(chart
                .build_cartesian_2d((x0 - pad)..(x1 + pad), (y0 - ypad).min(0.0)..(y1 + ypad))
                .map_err(err)?);
        }
    }
    area.present().map_err(err)?;
    Ok(())
}

/// Writes a line chart (one panel per entry of `panels`) as `<stem>.svg` and `<stem>.png`.
pub fn line_chart(
    stem: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    panels: &[Panel],
    log_y: bool,
) -> Result<()> {
    register_font();
    let w = 520 * panels.len().max(1) as u32;
    let svg = stem.with_extension("svg");
    draw_lines(
        &SVGBackend::new(&svg, (w, 420)).into_drawing_area(),
        title,
        x_label,
        y_label,
        panels,
        log_y,
    )?;
    let png = stem.with_extension("png");
    draw_lines(
        &BitMapBackend::new(&png, (w, 420)).into_drawing_area(),
        title,
        x_label,
        y_label,
        panels,
        log_y,
    )?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    bars: &[(String, f64)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(err)?;
    let ymax = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(60)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..bars.len() as f64, 0.0..ymax)
        .map_err(err)?;
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len().max(1))
        .x_label_formatter(&|x| labels.get(x.floor() as usize).cloned().unwrap_or_default())
        .y_desc(y_label)
        .draw()
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let c = COLORS[i % COLORS.len()];
            Rectangle::new([(i as f64 + 0.15, 0.0), (i as f64 + 0.85, b.1)], c.filled())
        }))
        .map_err(err)?;
    area.present().map_err(err)?;
    Ok(())
}

/// Writes a bar chart as `<stem>.svg` and `<stem>.png`.
pub fn bar_chart(stem: &Path, title: &str, y_label: &str, bars: &[(String, f64)]) -> Result<()> {
    register_font();
    let w = (160 * bars.len().max(3)) as u32;
    draw_bars(
        &SVGBackend::new(&stem.with_extension("svg"), (w, 420)).into_drawing_area(),
        title,
        y_label,
        bars,
    )?;
    draw_bars(
        &BitMapBackend::new(&stem.with_extension("png"), (w, 420)).into_drawing_area(),
        title,
        y_label,
        bars,
    )?;
    Ok(())
}

fn draw_heat<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    grid: &[Vec<f64>],
    max: f64,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(err)?;
    let rows = grid.len();
    let cols = grid.iter().map(Vec::len).max().unwrap_or(0);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(15)
        .build_cartesian_2d(0..cols.max(1), 0..rows.max(1))
        .map_err(err)?;
    chart
        .draw_series(grid.iter().enumerate().flat_map(|(r, row)| {
            row.iter().enumerate().map(move |(c, &v)| {
                // White (0) to dark red (max): a perceptually ordered single-hue ramp.
                let t = if max > 0.0 {
                    (v / max).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let color = RGBColor(
                    255 - (t * 75.0) as u8,
                    (255.0 * (1.0 - t)) as u8,
                    (255.0 * (1.0 - t)) as u8,
                );
                Rectangle::new([(c, r), (c + 1, r + 1)], color.filled())
            })
        }))
        .map_err(err)?;
    area.present().map_err(err)?;
    Ok(())
}

/// Writes a heat map (row-major `grid`, cells scaled to `max`, shared across charts so that
/// two maps can be compared) as `<stem>.svg` and `<stem>.png`.
pub fn heat_map(stem: &Path, title: &str, grid: &[Vec<f64>], max: f64) -> Result<()> {
    register_font();
    draw_heat(
        &SVGBackend::new(&stem.with_extension("svg"), (640, 560)).into_drawing_area(),
        title,
        grid,
        max,
    )?;
    draw_heat(
        &BitMapBackend::new(&stem.with_extension("png"), (640, 560)).into_drawing_area(),
        title,
        grid,
        max,
    )?;
    Ok(())
}

/// Writes the empirical CDFs of samples as a line chart.
pub fn cdf_chart(
    stem: &Path,
    title: &str,
    x_label: &str,
    samples: &[(String, Vec<f64>)],
) -> Result<()> {
    let series = samples
        .iter()
        .map(|(label, v)| {
            let mut v = v.clone();
            v.sort_unstable_by(f64::total_cmp);
            let n = v.len().max(1) as f64;
            // At most 400 points per curve keep files small.
            let step = (v.len() / 400).max(1);
            let points = v
                .iter()
                .enumerate()
                .step_by(step)
                .map(|(i, &x)| (x, (i + 1) as f64 / n, 0.0))
                .collect();
            Series {
                label: label.clone(),
                points,
            }
        })
        .collect();
    line_chart(
        stem,
        title,
        x_label,
        "CDF",
        &[Panel {
            title: String::new(),
            series,
        }],
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_render_to_svg_and_png_with_text() {
        let d = tempfile::tempdir().unwrap();
        let s = Series {
            label: "B=100".into(),
            points: vec![(500.0, 10.0, 1.0), (1000.0, 20.0, 2.0)],
        };
        line_chart(
            &d.path().join("l"),
            "latency",
            "n",
            "ms",
            &[
                Panel {
                    title: "osm".into(),
                    series: vec![s.clone()],
                },
                Panel {
                    title: "fb".into(),
                    series: vec![s],
                },
            ],
            true,
        )
        .unwrap();
        bar_chart(
            &d.path().join("b"),
            "errors",
            "log2",
            &[("linear".into(), 16.0), ("cubic".into(), 14.0)],
        )
        .unwrap();
        cdf_chart(
            &d.path().join("c"),
            "cdf",
            "ms",
            &[("x".into(), vec![3.0, 1.0, 2.0])],
        )
        .unwrap();
        heat_map(
            &d.path().join("h"),
            "keys per host",
            &[vec![1.0, 2.0], vec![3.0, 0.0]],
            3.0,
        )
        .unwrap();
        assert!(std::fs::read_to_string(d.path().join("h.svg"))
            .unwrap()
            .contains("keys per host"));
        let svg = std::fs::read_to_string(d.path().join("l.svg")).unwrap();
        assert!(
            svg.contains("latency") && svg.contains("B=100") && svg.contains("osm"),
            "text must be drawn"
        );
        for f in ["l.png", "b.png", "c.png", "h.png", "b.svg", "c.svg"] {
            let bytes = std::fs::read(d.path().join(f)).unwrap();
            assert!(bytes.len() > 1000, "{f} is empty");
        }
        assert_eq!(
            &std::fs::read(d.path().join("b.png")).unwrap()[1..4],
            b"PNG"
        );
    }
}
