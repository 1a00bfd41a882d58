//! Bar charts: every bar labelled, its value on top.

use super::{decade_floor, err, log_tick, register_font, style_for, tick, PALETTE};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    bars: &[(String, f64)],
    log_y: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(err)?;
    let top = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9);
    // A log axis starts at the smallest positive bar's decade; bars of 0 are not drawn.
    let low = bars
        .iter()
        .map(|b| b.1)
        .filter(|&v| v > 0.0)
        .fold(f64::MAX, f64::min)
        .min(top);
    let (y0, y1) = if log_y {
        (decade_floor(low), 10f64.powf((top * 3.0).log10().ceil()))
    } else {
        (0.0, top * 1.18)
    };
    // Room for the longest y tick label beside the axis title.
    let widest = tick(y1).chars().count().max(tick(y0).chars().count()) as u32;
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, ("sans-serif", 19))
        .margin(20)
        // Room above the plot for the top tick label, clear of the title.
        .margin_top(30)
        .x_label_area_size(40)
        .y_label_area_size(40 + 8 * widest);
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let xs = (0..bars.len().max(1) - 1).into_segmented();
    let lin = |v: &f64| tick(*v);
    let lg = |v: &f64| log_tick(*v);
    macro_rules! draw_on {
        ($chart:expr, $fmt:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(bars.len().max(1))
                .x_label_formatter(&|x| match x {
                    SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                    _ => String::new(),
                })
                .y_label_formatter(&$fmt)
                .y_desc(y_label)
                .label_style(("sans-serif", 14))
                .axis_desc_style(("sans-serif", 15))
                .light_line_style(RGBColor(240, 240, 240))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(
                    bars.iter()
                        .enumerate()
                        .filter(|(_, b)| b.1 > y0)
                        .map(|(i, b)| {
                            // Bars are not systems unless their label names one: one neutral colour
                            // otherwise.
                            let c = match style_for(&b.0, 0) {
                                (_, 5 | 6) => PALETTE[5],
                                (c, _) => c,
                            };
                            let mut r = Rectangle::new(
                                [
                                    (SegmentValue::Exact(i), y0),
                                    (SegmentValue::Exact(i + 1), b.1),
                                ],
                                c.mix(0.85).filled(),
                            );
                            r.set_margin(0, 0, 30, 30);
                            r
                        }),
                )
                .map_err(err)?;
            chart
                .draw_series(bars.iter().enumerate().map(|(i, b)| {
                    let at = if log_y {
                        b.1.max(y0) * 1.08
                    } else {
                        b.1 + y1 * 0.01
                    };
                    Text::new(
                        tick((b.1 * 100.0).round() / 100.0),
                        (SegmentValue::CenterOf(i), at),
                        ("sans-serif", 14)
                            .into_font()
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )
                }))
                .map_err(err)?;
        }};
    }
    if log_y {
        draw_on!(
            builder
                .build_cartesian_2d(xs, (y0..y1).log_scale())
                .map_err(err)?,
            lg
        );
    } else {
        draw_on!(builder.build_cartesian_2d(xs, y0..y1).map_err(err)?, lin);
    }
    area.present().map_err(err)?;
    Ok(())
}

/// Writes a bar chart (every bar labelled, value on top) as `<stem>.svg` and `<stem>.png`.
pub fn bar_chart(
    stem: &Path,
    title: &str,
    y_label: &str,
    bars: &[(String, f64)],
    log_y: bool,
) -> Result<()> {
    register_font();
    let longest = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(8) as u32;
    // Wide enough for every label and the title, never wider than needed.
    let w = ((24 + 7 * longest) * bars.len().max(2) as u32 + 110)
        .max(40 + 10 * title.chars().count() as u32);
    draw_bars(
        &SVGBackend::new(&stem.with_extension("svg"), (w, 440)).into_drawing_area(),
        title,
        y_label,
        bars,
        log_y,
    )?;
    draw_bars(
        &BitMapBackend::new(&stem.with_extension("png"), (w, 440)).into_drawing_area(),
        title,
        y_label,
        bars,
        log_y,
    )?;
    Ok(())
}
