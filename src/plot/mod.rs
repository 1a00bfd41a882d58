//! Charts rendered from result CSVs with plotters (re-plotting never re-simulates): line charts
//! in a grid of panels with 95% confidence error bars, bar charts, CDFs and heat maps with a
//! shared colour scale. Every chart is written as SVG and PNG.
//!
//! Conventions (the same in every figure): one fixed colour and marker per system from the
//! colour-blind-safe Okabe-Ito palette ([`style_for`]); the legend in its own strip under the
//! title, never on the data; integer tick labels without decimals; log axes labelled at powers
//! of ten only. Text uses the bundled DejaVu Sans through plotters' pure-Rust `ab_glyph` path, so
//! nothing needs system font or graphics libraries (licence: `src/plot/FONT-LICENSE`).

mod bar;
mod heat;
mod line;

pub use bar::bar_chart;
pub use heat::heat_maps;
pub use line::{cdf_chart, line_chart};

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
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

/// Okabe-Ito colours (colour-blind safe) then four more for the case studies' systems; the
/// first seven are fixed for the paper's systems and the last two of them also serve unknown
/// series by position.
const PALETTE: [RGBColor; 13] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(120, 94, 240),  // violet
    RGBColor(140, 86, 75),   // brown
    RGBColor(127, 127, 127), // grey
    RGBColor(188, 189, 34),  // olive
    RGBColor(0, 90, 90),     // dark teal
    RGBColor(231, 41, 138),  // magenta
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
        ("ipfs", 7),
        ("kademlia", 7),
        ("c-table", 8),
        ("centralized", 10),
        ("rp-bst", 9),
        ("lead+frm", 11),
        ("lead+frm (anchor)", 12),
    ];
    // Longest matching prefix first ("batch(1000)" before "batch(100)").
    let hit = fixed
        .iter()
        .filter(|(p, _)| l.starts_with(p))
        .max_by_key(|(p, _)| p.len());
    let i = match hit {
        Some(&(_, i)) => i,
        None => UNOWNED[position % UNOWNED.len()],
    };
    (PALETTE[i], i)
}

/// Palette entries no named system owns: unknown series take them by position ([`style_for`]),
/// and a second variant of a system takes them first ([`styles`]), so it is never mistaken for
/// another system of another figure.
const UNOWNED: [usize; 2] = [5, 6];

/// The styles of the series of one figure, in legend order: each keeps its system's fixed style
/// unless another series of the figure already has it (several LEAD variants), in which case it
/// takes an unused colour that no named system owns (then any unused one) and its own marker,
/// so no two look alike.
pub fn styles(order: &[String]) -> Vec<(RGBColor, usize)> {
    let mut used: Vec<usize> = Vec::new();
    let mut out = Vec::with_capacity(order.len());
    for (pos, l) in order.iter().enumerate() {
        let (c, i) = style_for(l, pos);
        if !used.contains(&i) {
            used.push(i);
            out.push((c, i));
            continue;
        }
        let j = UNOWNED
            .into_iter()
            .chain(0..PALETTE.len())
            .find(|j| !used.contains(j))
            .unwrap_or(pos % PALETTE.len());
        used.push(j);
        out.push((PALETTE[j], j));
    }
    out
}

/// Legend rows needed for `labels` in `width` pixels.
pub fn legend_rows(labels: &[String], width: i32) -> i32 {
    let mut rows = 1;
    let mut x = 20;
    for l in labels {
        let w = 60 + 9 * l.chars().count() as i32;
        if x + w > width && x > 20 {
            rows += 1;
            x = 20;
        }
        x += w;
    }
    rows
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
    if v != 0.0 && v.abs() < 1e-3 {
        // Small values (selectivities, probabilities) in scientific notation, not as 0.
        let s = format!("{v:.2e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        format!("{m}e{e}")
    } else if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
        format!("{}", v.round() as i64)
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The power of ten at or below `v` (> 0), as the lower end of a log axis: nudged a hair below,
/// because plotters' log key points start at `10^ceil(log10(start))`, which rounds past an exact
/// 0.1 or 0.01 and would leave the axis's first decade unlabelled.
pub(crate) fn decade_floor(v: f64) -> f64 {
    10f64.powf(v.log10().floor()) * (1.0 - 1e-9)
}

/// A log-axis tick label: only powers of ten are labelled.
pub(crate) fn log_tick(v: f64) -> String {
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

/// The legend strip: one entry per label, left to right, wrapping into rows of 24 px.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[String],
    styles: &[(RGBColor, usize)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let width = area.dim_in_pixel().0 as i32;
    let (mut x, mut y) = (20, 14);
    for (l, &(c, m)) in labels.iter().zip(styles) {
        let w = 60 + 9 * l.chars().count() as i32;
        if x + w > width && x > 20 {
            x = 20;
            y += 24;
        }
        area.draw(&PathElement::new(
            vec![(x, y), (x + 30, y)],
            c.stroke_width(2),
        ))
        .map_err(err)?;
        draw_marker(area, (x + 15, y), m, c)?;
        area.draw(&Text::new(l.clone(), (x + 38, y - 8), ("sans-serif", 15)))
            .map_err(err)?;
        x += w;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_ticks_are_scientific_not_zero() {
        assert_eq!(tick(1e-7), "1e-7");
        assert_eq!(tick(2.5e-5), "2.5e-5");
        assert_eq!(tick(0.001), "0.001");
        assert_eq!(log_tick(1e-6), "1e-6");
        assert_eq!(tick(0.0), "0");
    }

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
    fn variants_of_one_system_look_different_in_one_figure() {
        let order: Vec<String> = ["LEAD (a)", "LEAD (b)", "LEAD (c)", "Batch(100)"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let st = styles(&order);
        assert_eq!(
            st[0].1,
            style_for("LEAD", 0).1,
            "the first keeps LEAD's style"
        );
        for i in 0..st.len() {
            for j in i + 1..st.len() {
                assert_ne!(st[i].1, st[j].1, "{} and {} look alike", order[i], order[j]);
            }
        }
        // The second and third LEAD take colours no named system owns (not Batch(100)'s
        // vermillion of Figs 7/8), and keep them whatever else the figure shows.
        let owned: Vec<usize> = ["LEAD", "Batch(100)", "Batch(1000)", "MARQUES", "Chord"]
            .iter()
            .map(|s| style_for(s, 0).1)
            .collect();
        for s in &st[1..3] {
            assert!(
                !owned.contains(&s.1),
                "a variant took system colour {}",
                s.1
            );
        }
        assert_eq!(legend_rows(&order, 200), 4, "one entry per row when narrow");
        assert_eq!(legend_rows(&order, 2000), 1);
        assert_eq!(legend_rows(&order[..1], 300), 1);
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
            false,
        )
        .unwrap();
        bar_chart(
            &d.path().join("bl"),
            "messages",
            "per query",
            &[
                ("Chord".into(), 5000.0),
                ("LEAD".into(), 7.5),
                ("none".into(), 0.0),
            ],
            true,
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
