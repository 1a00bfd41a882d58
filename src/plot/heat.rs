//! Heat maps side by side on one colour scale, with the scale drawn beside them.

use super::{err, register_font, tick};

/// A scale label: 2.5M, 250k, or the plain integer.
fn compact(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{}M", tick((v / 1e5).round() / 10.0))
    } else if v.abs() >= 1e4 {
        format!("{}k", tick((v / 1e2).round() / 10.0))
    } else {
        tick(v.round())
    }
}
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

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
    let (body, scale) = area.split_horizontally(area.dim_in_pixel().0 as i32 - 170);
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
        .y_label_area_size(95)
        .build_cartesian_2d(0.0..1.0, 0.0..max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .x_labels(0)
        .y_labels(6)
        .y_label_formatter(&|v| compact(*v))
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
    let size = (420 * maps.len().max(1) as u32 + 180, 480);
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
