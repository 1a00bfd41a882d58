//! Line charts (panels in a grid, error bars) and CDFs.

use super::{
    decade_floor, draw_legend, err, legend_rows, log_tick, register_font, styles, tick, Axes,
    Panel, Series,
};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Whether a point can be drawn on the axes (a log axis cannot show zero or less: a CDF's
/// zero-valued samples still count in the shares of the points after them).
fn drawable(axes: &Axes, x: f64, y: f64) -> bool {
    (!axes.log_x || x > 0.0) && (!axes.log_y || y > 0.0)
}

fn bounds(panel: &Panel, axes: &Axes) -> (f64, f64, f64, f64) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y, ci) in panel
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| drawable(axes, p.0, p.1))
    {
        x0 = x0.min(x);
        x1 = x1.max(x);
        // On a log axis an error bar reaching zero or below is cut at the axis, not followed
        // down to 1e-6 (which would squash the data into the top of the panel).
        let low = y - ci;
        y0 = y0.min(if axes.log_y && low <= 0.0 { y } else { low });
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
    style: &[(RGBColor, usize)],
    axes: &Axes,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (x0, x1, y0, y1) = bounds(panel, axes);
    let mut chart = ChartBuilder::on(cell);
    chart
        .caption(&panel.title, ("sans-serif", 17))
        .margin(12)
        // Room for the last x label, centred on the axis end.
        .margin_right(34)
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
                let (c, m) = style[pos];
                ctx.draw_series(LineSeries::new(
                    s.points
                        .iter()
                        .filter(|p| drawable(axes, p.0, p.1))
                        .map(|&(x, y, _)| (x, y)),
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
                    .filter(|p| drawable(axes, p.0, p.1))
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
    // The lower end of a log axis: the smallest value's decade (1e-6 when nothing is positive).
    let pos = |v: f64| if v > 0.0 { v } else { 1e-6 };
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
            let lo = decade_floor(pos(y0));
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
            let lo = decade_floor(pos(x0));
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
                decade_floor(pos(x0)),
                10f64.powf(x1.max(pos(x0) * 10.0).log10().ceil()),
            );
            let (yl, yh) = (
                decade_floor(pos(y0)),
                10f64.powf(y1.max(pos(y0) * 10.0).log10().ceil()),
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
    let style = styles(&order);
    let rows = legend_rows(&order, area.dim_in_pixel().0 as i32);
    let (legend, body) = area.split_vertically(8 + 24 * rows);
    draw_legend(&legend, &order, &style)?;
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(cols).max(1);
    let cells = body.split_evenly((rows, cols));
    for (cell, panel) in cells.iter().zip(panels) {
        draw_panel(cell, panel, &order, &style, axes)?;
    }
    area.present().map_err(err)?;
    Ok(())
}

/// Writes a line chart (panels in a grid of two columns) as `<stem>.svg` and `<stem>.png`.
pub fn line_chart(stem: &Path, title: &str, panels: &[Panel], axes: &Axes) -> Result<()> {
    register_font();
    let cols = panels.len().clamp(1, 2) as u32;
    let rows = panels.len().div_ceil(2).max(1) as u32;
    let size = ((560 * cols + 20).max(760), 400 * rows + 100);
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
    fn a_log_axis_ignores_error_bars_below_zero() {
        let panel = Panel {
            title: String::new(),
            series: vec![Series {
                label: "MARQUES".into(),
                points: vec![(500.0, 40.0, 5.0), (10000.0, 60.0, 80.0)],
            }],
        };
        let log = Axes {
            log_y: true,
            ..Default::default()
        };
        assert_eq!(bounds(&panel, &log), (500.0, 10000.0, 35.0, 140.0));
        let lin = Axes::default();
        assert_eq!(bounds(&panel, &lin), (500.0, 10000.0, -20.0, 140.0));
    }
}
