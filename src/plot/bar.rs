//! Bar charts: every bar labelled, its value on top.

use super::{err, register_font, style_for, tick, PALETTE};
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
    // Wide enough for every label and the title, never wider than needed.
    let w = ((24 + 7 * longest) * bars.len().max(2) as u32 + 110)
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
