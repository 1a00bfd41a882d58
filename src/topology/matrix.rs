//! Loader (and writer) for RTT matrices in the NetLatency-Data format: N lines of N
//! whitespace-separated round-trip times, zero diagonal.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// Unit of a matrix file's entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MatrixUnit {
    /// Milliseconds (PlanetLabData_*).
    #[default]
    Ms,
    /// Seconds (SeattleData_*).
    S,
}

/// A validated square matrix of RTTs in µs (row-major).
#[derive(Clone, Debug)]
pub struct RttMatrix {
    /// Number of hosts (rows).
    pub hosts: usize,
    /// Row-major RTTs in µs.
    pub rtt_us: Vec<u32>,
}

impl RttMatrix {
    /// The sub-matrix over the given host indices, in that order.
    pub fn select(&self, chosen: &[usize]) -> Vec<u32> {
        let mut out = Vec::with_capacity(chosen.len() * chosen.len());
        for &a in chosen {
            let row = &self.rtt_us[a * self.hosts..(a + 1) * self.hosts];
            out.extend(chosen.iter().map(|&b| row[b]));
        }
        out
    }
}

/// Reads and validates a matrix file; errors name the file, row and column.
pub fn load_matrix(path: &Path, unit: MatrixUnit, ignore_diagonal: bool) -> Result<RttMatrix> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read latency matrix {}", path.display()))?;
    parse_matrix(&text, unit, ignore_diagonal)
        .with_context(|| format!("invalid latency matrix {}", path.display()))
}

/// Parses and validates matrix text (see [`load_matrix`]).
pub fn parse_matrix(text: &str, unit: MatrixUnit, ignore_diagonal: bool) -> Result<RttMatrix> {
    let scale = match unit {
        MatrixUnit::Ms => 1_000.0,
        MatrixUnit::S => 1_000_000.0,
    };
    let rows: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect();
    let n = rows.len();
    if n == 0 {
        bail!("the file has no rows");
    }
    let mut rtt_us = Vec::with_capacity(n * n);
    for (r, &(line_no, line)) in rows.iter().enumerate() {
        let mut cols = 0;
        for (c, field) in line.split_whitespace().enumerate() {
            cols += 1;
            if c >= n {
                continue;
            }
            let v: f64 = field.parse().map_err(|_| {
                anyhow::anyhow!(
                    "row {} (line {line_no}), column {}: '{field}' is not a number",
                    r + 1,
                    c + 1
                )
            })?;
            if !v.is_finite() || v < 0.0 {
                bail!(
                    "row {} (line {line_no}), column {}: latency {field} must be finite and >= 0",
                    r + 1,
                    c + 1
                );
            }
            if r == c && v != 0.0 && !ignore_diagonal {
                bail!(
                    "row {} (line {line_no}): diagonal entry is {field}, expected 0 \
                     (set topology.ignore_diagonal = true to accept it; it is never used)",
                    r + 1
                );
            }
            let us = (v * scale).round();
            if us > f64::from(u32::MAX) {
                bail!(
                    "row {} (line {line_no}), column {}: latency {field} is too large",
                    r + 1,
                    c + 1
                );
            }
            rtt_us.push(if r == c { 0 } else { us as u32 });
        }
        if cols != n {
            bail!("row {} (line {line_no}) has {cols} entries, expected {n} (the matrix must be square)", r + 1);
        }
    }
    let m = RttMatrix { hosts: n, rtt_us };
    if n > 1 && m.rtt_us.iter().all(|&x| x == 0) {
        eprintln!(
            "warning: every RTT of the {n}-host latency matrix is 0: messages arrive instantly (is this the file you meant?)"
        );
    }
    if let Some((a, b, d)) = worst_asymmetry(&m) {
        eprintln!(
            "warning: latency matrix is asymmetric (largest difference {:.3} ms between hosts {} and {}); \
             entry (i, j) is used for messages from i to j",
            d as f64 / 1000.0,
            a + 1,
            b + 1
        );
    }
    Ok(m)
}

fn worst_asymmetry(m: &RttMatrix) -> Option<(usize, usize, u32)> {
    let n = m.hosts;
    let mut worst = None;
    let mut wd = 0;
    for a in 0..n {
        for b in a + 1..n {
            let d = m.rtt_us[a * n + b].abs_diff(m.rtt_us[b * n + a]);
            if d > wd {
                wd = d;
                worst = Some((a, b, d));
            }
        }
    }
    worst
}

/// Writes RTTs (µs, row-major) as a NetLatency-Data style matrix in ms (tab separated).
pub fn write_matrix(path: &Path, hosts: usize, rtt_us: impl Fn(usize, usize) -> u64) -> Result<()> {
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    for a in 0..hosts {
        for b in 0..hosts {
            if b > 0 {
                w.write_all(b"\t")?;
            }
            let us = if a == b { 0 } else { rtt_us(a, b) };
            write!(w, "{}", us as f64 / 1000.0)?;
        }
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_valid_matrix() {
        let m = parse_matrix("0\t1.5\n1.5\t0\n", MatrixUnit::Ms, false).unwrap();
        assert_eq!(m.hosts, 2);
        assert_eq!(m.rtt_us, vec![0, 1500, 1500, 0]);
        let s = parse_matrix("0 0.25\n0.25 0\n", MatrixUnit::S, false).unwrap();
        assert_eq!(s.rtt_us[1], 250_000);
    }

    #[test]
    fn ragged_row_is_named() {
        let e = format!(
            "{:#}",
            parse_matrix("0 1 2\n1 0\n2 1 0\n", MatrixUnit::Ms, false).unwrap_err()
        );
        assert!(
            e.contains("row 2") && e.contains("2 entries, expected 3"),
            "{e}"
        );
    }

    #[test]
    fn negative_and_garbage_entries_are_named() {
        let e = format!(
            "{:#}",
            parse_matrix("0 -1\n1 0\n", MatrixUnit::Ms, false).unwrap_err()
        );
        assert!(
            e.contains("row 1") && e.contains("column 2") && e.contains(">= 0"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            parse_matrix("0 1\nx 0\n", MatrixUnit::Ms, false).unwrap_err()
        );
        assert!(e.contains("row 2") && e.contains("not a number"), "{e}");
        let e = format!(
            "{:#}",
            parse_matrix("0 1\n1 inf\n", MatrixUnit::Ms, false).unwrap_err()
        );
        assert!(e.contains("finite"), "{e}");
    }

    #[test]
    fn nonzero_diagonal_needs_opt_in() {
        assert!(parse_matrix("0.4 1\n1 0\n", MatrixUnit::Ms, false).is_err());
        let m = parse_matrix("0.4 1\n1 0\n", MatrixUnit::Ms, true).unwrap();
        assert_eq!(m.rtt_us[0], 0);
    }

    #[test]
    fn select_takes_sub_matrix_in_order() {
        let m = parse_matrix("0 1 2\n1 0 3\n2 3 0\n", MatrixUnit::Ms, false).unwrap();
        assert_eq!(m.select(&[2, 0]), vec![0, 2000, 2000, 0]);
    }
}
