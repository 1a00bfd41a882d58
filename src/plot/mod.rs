//! Charts rendered from result CSVs with plotters (re-plotting never re-simulates): line charts
//! in a grid of panels with 95% confidence error bars, bar charts, CDFs and heat maps with a
//! shared colour scale. Every chart is written as SVG and PNG.
//!
//! Conventions (the same in every figure): one fixed colour and marker per system from the
//! colour-blind-safe Okabe-Ito palette ([`style_for`]); the legend in its own strip under the
//! title, never on the data; integer tick labels without decimals; log axes labelled at powers
//! of ten only. Text uses the bundled DejaVu Sans through plotters' pure-Rust `ab_glyph` path, so
//! nothing needs system font or graphics libraries (licence: `src/plot/FONT-LICENSE`).

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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
    /// Legend text (also picks the colour, see [`style_for`]).
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

/// Axes of a line chart.
#[derive(Clone, Debug, Default)]
pub struct Axes {
    /// x axis title (with units).
    pub x_label: String,
    /// y axis title (with units).
    pub y_label: String,
    /// Logarithmic x.
    pub log_x: bool,
    /// Logarithmic y.
    pub log_y: bool,
}

/// Okabe-Ito colours (colour-blind safe), in assignment order for unknown systems.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
];

/// The colour index and marker of a system: fixed for the paper's systems (so LEAD is the same
/// blue in every figure), by position for anything else.
pub fn style_for(label: &str, position: usize) -> (RGBColor, usize) {
    let l = label.to_ascii_lowercase();
    let fixed = [
        ("lead", 0),
        ("batch(100)", 1),
        ("batch(1000)", 2),
        ("marques", 3),
        ("chord", 4),
    ];
    // Longest matching prefix first ("batch(1000)" before "batch(100)").
    let hit = fixed
        .iter()
        .filter(|(p, _)| l.starts_with(p))
        .max_by_key(|(p, _)| p.len());
    let i = match hit {
        Some(&(_, i)) => i,
        None => 5 + position % 2,
    };
    (PALETTE[i], i)
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e:?}")
}

/// A tick label: integers without decimals, thousands separated by spaces avoided (plain), other
/// values with at most 3 significant decimals.
pub fn tick(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
        format!("{}", v.round() as i64)
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A log-axis tick label: only powers of ten are labelled.
fn log_tick(v: f64) -> String {
    let e = v.log10();
    if v > 0.0 && (e - e.round()).abs() < 1e-6 {
        tick(10f64.powi(e.round() as i32))
    } else {
        String::new()
    }
}

fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    shape: usize,
    c: RGBColor,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let s = c.filled();
    match shape % 4 {
        0 => area.draw(&Circle::new((x, y), 4, s)),
        1 => area.draw(&TriangleMarker::new((x, y), 5, s)),
        2 => area.draw(&Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], s)),
        _ => area.draw(&Cross::new((x, y), 4, c.stroke_width(2))),
    }
    .map_err(err)
}

/// The legend strip: one entry per label, left to right.
fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, labels: &[String]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut x = 20;
    for (i, l) in labels.iter().enumerate() {
        let (c, m) = style_for(l, i);
        area.draw(&PathElement::new(
            vec![(x, 14), (x + 30, 14)],
            c.stroke_width(2),
        ))
        .map_err(err)?;
        draw_marker(area, (x + 15, 14), m, c)?;
        area.draw(&Text::new(l.clone(), (x + 38, 6), ("sans-serif", 15)))
            .map_err(err)?;
        x += 60 + 9 * l.chars().count() as i32;
    }
    Ok(())
}

fn bounds(panel: &Panel) -> (f64, f64, f64, f64) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y, ci) in panel.series.iter().flat_map(|s| s.points.iter()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y - ci);
        y1 = y1.max(y + ci);
    }
    if x0 > x1 {
        (0.0, 1.0, 0.0, 1.0)
    } else {
        (x0, x1, y0, y1)
    }
}

fn draw_panel<DB: DrawingBackend>(
    cell: &DrawingArea<DB, Shift>,
    panel: &Panel,
    order: &[String],
    axes: &Axes,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (x0, x1, y0, y1) = bounds(panel);
    let mut chart = ChartBuilder::on(cell);
    chart
        .caption(&panel.title, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(46)
        .y_label_area_size(74);
    macro_rules! plot_on {
        ($ctx:expr, $xf:expr, $yf:expr) => {{
            let mut ctx = $ctx;
            ctx.configure_mesh()
                .x_desc(axes.x_label.as_str())
                .y_desc(axes.y_label.as_str())
                .x_label_formatter(&$xf)
                .y_label_formatter(&$yf)
                .x_labels(8)
                .y_labels(8)
                .label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 15))
                .light_line_style(RGBColor(240, 240, 240))
                .bold_line_style(RGBColor(215, 215, 215))
                .draw()
                .map_err(err)?;
            for s in &panel.series {
                let pos = order.iter().position(|l| *l == s.label).unwrap_or(0);
                let (c, m) = style_for(&s.label, pos);
                ctx.draw_series(LineSeries::new(
                    s.points.iter().map(|&(x, y, _)| (x, y)),
                    c.stroke_width(2),
                ))
                .map_err(err)?;
                ctx.draw_series(s.points.iter().filter(|p| p.2 > 0.0).map(|&(x, y, ci)| {
                    ErrorBar::new_vertical(
                        x,
                        (y - ci).max(f64::MIN_POSITIVE),
                        y,
                        y + ci,
                        c.stroke_width(1),
                        8,
                    )
                }))
                .map_err(err)?;
                // Markers on measured points; a dense curve (a CDF) gets one every ~25 points.
                let every = (s.points.len() / 16).max(1);
                let dots: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .step_by(every)
                    .map(|&(x, y, _)| (x, y))
                    .collect();
                ctx.draw_series(dots.into_iter().map(move |p| {
                    EmptyElement::at(p)
                        + match m % 4 {
                            0 => Circle::new((0, 0), 4, c.filled()).into_dyn(),
                            1 => TriangleMarker::new((0, 0), 5, c.filled()).into_dyn(),
                            2 => Rectangle::new([(-4, -4), (4, 4)], c.filled()).into_dyn(),
                            _ => Cross::new((0, 0), 4, c.stroke_width(2)).into_dyn(),
                        }
                }))
                .map_err(err)?;
            }
        }};
    }
    let xpad = ((x1 - x0) * 0.04).max(1e-9);
    let lin = |v: &f64| tick(*v);
    let lg = |v: &f64| log_tick(*v);
    match (axes.log_x, axes.log_y) {
        (false, false) => {
            let ypad = ((y1 - y0) * 0.06).max(1e-9);
            let ylo = if y0 >= 0.0 { 0.0 } else { y0 - ypad };
            plot_on!(
                chart
                    .build_cartesian_2d((x0 - xpad)..(x1 + xpad), ylo..(y1 + ypad))
                    .map_err(err)?,
                lin,
                lin
            )
        }
        (false, true) => {
            let lo = 10f64.powf((y0.max(1e-6)).log10().floor());
            let hi = 10f64.powf((y1.max(lo * 10.0)).log10().ceil());
            plot_on!(
                chart
                    .build_cartesian_2d((x0 - xpad)..(x1 + xpad), (lo..hi).log_scale())
                    .map_err(err)?,
                lin,
                lg
            )
        }
        (true, false) => {
            let ypad = ((y1 - y0) * 0.06).max(1e-9);
            let lo = 10f64.powf((x0.max(1e-6)).log10().floor());
            let hi = 10f64.powf((x1.max(lo * 10.0)).log10().ceil());
            plot_on!(
                chart
                    .build_cartesian_2d((lo..hi).log_scale(), 0f64.min(y0)..(y1 + ypad))
                    .map_err(err)?,
                lg,
                lin
            )
        }
        (true, true) => {
            let (xl, xh) = (
                10f64.powf((x0.max(1e-6)).log10().floor()),
                10f64.powf(x1.max(1e-5).log10().ceil()),
            );
            let (yl, yh) = (
                10f64.powf((y0.max(1e-6)).log10().floor()),
                10f64.powf(y1.max(1e-5).log10().ceil()),
            );
            plot_on!(
                chart
                    .build_cartesian_2d((xl..xh).log_scale(), (yl..yh).log_scale())
                    .map_err(err)?,
                lg,
                lg
            )
        }
    }
    Ok(())
}

fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[Panel],
    axes: &Axes,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(err)?;
    let area = area.titled(title, ("sans-serif", 22)).map_err(err)?;
    let mut order: Vec<String> = Vec::new();
    for s in panels.iter().flat_map(|p| &p.series) {
        if !order.contains(&s.label) {
            order.push(s.label.clone());
        }
    }
    let (legend, body) = area.split_vertically(30);
    draw_legend(&legend, &order)?;
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(cols).max(1);
    let cells = body.split_evenly((rows, cols));
    for (cell, panel) in cells.iter().zip(panels) {
        draw_panel(cell, panel, &order, axes)?;
    }
    area.present().map_err(err)?;
    Ok(())
}

/// Writes a line chart (panels in a grid of two columns) as `<stem>.svg` and `<stem>.png`.
pub fn line_chart(stem: &Path, title: &str, panels: &[Panel], axes: &Axes) -> Result<()> {
    register_font();
    let cols = panels.len().clamp(1, 2) as u32;
    let rows = panels.len().div_ceil(2).max(1) as u32;
    let size = (560 * cols + 20, 400 * rows + 80);
    let svg = stem.with_extension("svg");
    draw_lines(
        &SVGBackend::new(&svg, size).into_drawing_area(),
        title,
        panels,
        axes,
    )?;
    let png = stem.with_extension("png");
    draw_lines(
        &BitMapBackend::new(&png, size).into_drawing_area(),
        title,
        panels,
        axes,
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
    let ymax = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9) * 1.18;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 19))
        .margin(20)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((0..bars.len().max(1) - 1).into_segmented(), 0.0..ymax)
        .map_err(err)?;
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len().max(1))
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_label_formatter(&|v| tick(*v))
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            // Bars are not systems unless their label names one: one neutral colour otherwise.
            let c = match style_for(&b.0, 0) {
                (c, k) if k < 5 => c,
                _ => PALETTE[5],
            };
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), b.1),
                ],
                c.mix(0.85).filled(),
            );
            r.set_margin(0, 0, 30, 30);
            r
        }))
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            Text::new(
                tick((b.1 * 100.0).round() / 100.0),
                (SegmentValue::CenterOf(i), b.1 + ymax * 0.01),
                ("sans-serif", 14)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            )
        }))
        .map_err(err)?;
    area.present().map_err(err)?;
    Ok(())
}

/// Writes a bar chart (every bar labelled, value on top) as `<stem>.svg` and `<stem>.png`.
pub fn bar_chart(stem: &Path, title: &str, y_label: &str, bars: &[(String, f64)]) -> Result<()> {
    register_font();
    let longest = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(8) as u32;
    let w = ((60 + 9 * longest) * bars.len().max(2) as u32 + 120)
        .max(40 + 10 * title.chars().count() as u32);
    draw_bars(
        &SVGBackend::new(&stem.with_extension("svg"), (w, 440)).into_drawing_area(),
        title,
        y_label,
        bars,
    )?;
    draw_bars(
        &BitMapBackend::new(&stem.with_extension("png"), (w, 440)).into_drawing_area(),
        title,
        y_label,
        bars,
    )?;
    Ok(())
}

/// A white-to-dark-red ramp (perceptually ordered, single hue).
fn ramp(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    RGBColor(
        255 - (t * 120.0) as u8,
        (255.0 * (1.0 - t).powf(0.8)) as u8,
        (255.0 * (1.0 - t)) as u8,
    )
}

fn draw_heats<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    maps: &[(String, Vec<f64>)],
    scale_label: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(err)?;
    let area = area.titled(title, ("sans-serif", 20)).map_err(err)?;
    let max = maps
        .iter()
        .flat_map(|m| m.1.iter())
        .copied()
        .fold(0.0, f64::max)
        .max(1e-9);
    let (body, scale) = area.split_horizontally(area.dim_in_pixel().0 as i32 - 130);
    let cells = body.split_evenly((1, maps.len().max(1)));
    for (cell, (name, vals)) in cells.iter().zip(maps) {
        let side = (vals.len() as f64).sqrt().ceil().max(1.0) as usize;
        let rows = vals.len().div_ceil(side).max(1);
        let mut chart = ChartBuilder::on(cell)
            .caption(name, ("sans-serif", 15))
            .margin(12)
            .build_cartesian_2d(0..side, 0..rows)
            .map_err(err)?;
        chart
            .draw_series(vals.iter().enumerate().map(|(i, &v)| {
                let (r, c) = (i / side, i % side);
                Rectangle::new([(c, r), (c + 1, r + 1)], ramp(v / max).filled())
            }))
            .map_err(err)?;
    }
    // The shared colour scale.
    let mut chart = ChartBuilder::on(&scale)
        .margin_top(40)
        .margin_bottom(40)
        .margin_right(20)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..1.0, 0.0..max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .x_labels(0)
        .y_labels(6)
        .y_label_formatter(&|v| tick(v.round()))
        .y_desc(scale_label)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    let steps = 100;
    chart
        .draw_series((0..steps).map(|i| {
            let a = max * i as f64 / steps as f64;
            let b = max * (i + 1) as f64 / steps as f64;
            Rectangle::new([(0.0, a), (1.0, b)], ramp(a / max).filled())
        }))
        .map_err(err)?;
    area.present().map_err(err)?;
    Ok(())
}

/// Writes heat maps side by side on one colour scale (each map's values laid out row-major in a
/// square grid) as `<stem>.svg` and `<stem>.png`.
pub fn heat_maps(
    stem: &Path,
    title: &str,
    maps: &[(String, Vec<f64>)],
    scale_label: &str,
) -> Result<()> {
    register_font();
    let size = (420 * maps.len().max(1) as u32 + 140, 480);
    draw_heats(
        &SVGBackend::new(&stem.with_extension("svg"), size).into_drawing_area(),
        title,
        maps,
        scale_label,
    )?;
    draw_heats(
        &BitMapBackend::new(&stem.with_extension("png"), size).into_drawing_area(),
        title,
        maps,
        scale_label,
    )?;
    Ok(())
}

/// Writes the empirical CDFs of samples as a line chart.
pub fn cdf_chart(
    stem: &Path,
    title: &str,
    x_label: &str,
    samples: &[(String, Vec<f64>)],
    log_x: bool,
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
    let axes = Axes {
        x_label: x_label.to_string(),
        y_label: "share of queries (CDF)".into(),
        log_x,
        log_y: false,
    };
    line_chart(
        stem,
        title,
        &[Panel {
            title: String::new(),
            series,
        }],
        &axes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_have_no_spurious_decimals() {
        assert_eq!(tick(1000.0), "1000");
        assert_eq!(tick(90000.0), "90000");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(12.5), "12.5");
        assert_eq!(log_tick(1000.0), "1000");
        assert_eq!(log_tick(2000.0), "");
        assert_eq!(log_tick(0.01), "0.01");
    }

    #[test]
    fn systems_keep_their_colour_everywhere() {
        assert_eq!(style_for("LEAD", 3).0, style_for("LEAD", 0).0);
        assert_ne!(style_for("Batch(100)", 0).0, style_for("Batch(1000)", 0).0);
        assert_eq!(
            style_for("Batch(1000) n=500", 7).1,
            style_for("Batch(1000)", 0).1
        );
    }

    #[test]
    fn charts_render_to_svg_and_png_with_text() {
        let d = tempfile::tempdir().unwrap();
        let s = Series {
            label: "Batch(100)".into(),
            points: vec![(500.0, 10.0, 1.0), (1000.0, 20.0, 2.0)],
        };
        let axes = Axes {
            x_label: "n".into(),
            y_label: "ms".into(),
            log_x: false,
            log_y: true,
        };
        line_chart(
            &d.path().join("l"),
            "latency",
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
            &axes,
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
            false,
        )
        .unwrap();
        heat_maps(
            &d.path().join("h"),
            "keys per host",
            &[("a".into(), vec![1.0, 2.0, 3.0, 0.0])],
            "keys",
        )
        .unwrap();
        assert!(std::fs::read_to_string(d.path().join("h.svg"))
            .unwrap()
            .contains("keys per host"));
        let svg = std::fs::read_to_string(d.path().join("l.svg")).unwrap();
        assert!(
            svg.contains("latency") && svg.contains("Batch(100)") && svg.contains("osm"),
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
