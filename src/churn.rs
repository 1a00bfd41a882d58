//! Host churn: per host, alternating lifetime (up) and downtime (down) periods.
//!
//! Every host starts up at t = 0. From `start_s` on, each host draws a lifetime, crashes, draws a
//! downtime, rejoins, and so on until the run ends (or `stop_s`, after which hosts that are down
//! come back once and nobody crashes again). Each host draws from its own RNG substream, so the
//! schedule of host h does not depend on how many hosts there are. A schedule can be exported to
//! CSV and replayed (`model = "trace"`).

use crate::dist::Dist;
use crate::engine::{time, Time};
use crate::ids::HostId;
use crate::rng::SimRng;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Churn model family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ChurnModel {
    /// No churn: every host stays up.
    None,
    /// `mean x U[0.1, 1.9]` (the paper's default).
    #[default]
    Uniform,
    /// Exponential with the given means.
    Exponential,
    /// Pareto with shape `alpha` (> 1 with means, or any with explicit scales).
    Pareto,
    /// Replay a CSV trace (`trace`).
    Trace,
}

/// The manifest's `[churn]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChurnSpec {
    /// Model (default `uniform`).
    #[serde(default)]
    pub model: ChurnModel,
    /// Mean lifetime in seconds (default 4800 = 80 min).
    #[serde(default = "default_lifetime")]
    pub lifetime_mean_s: f64,
    /// Mean downtime in seconds (default 600 = 10 min).
    #[serde(default = "default_downtime")]
    pub downtime_mean_s: f64,
    /// Pareto shape (required for `pareto`).
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Pareto: explicit lifetime scale (minimum) in seconds instead of the mean.
    #[serde(default)]
    pub lifetime_scale_s: Option<f64>,
    /// Pareto: explicit downtime scale (minimum) in seconds instead of the mean.
    #[serde(default)]
    pub downtime_scale_s: Option<f64>,
    /// When churn begins (seconds; default 0).
    #[serde(default)]
    pub start_s: f64,
    /// When churn ends (seconds; default: never). Down hosts rejoin at their next transition.
    #[serde(default)]
    pub stop_s: Option<f64>,
    /// `trace`: CSV file to replay (columns `time_us,host,event`).
    #[serde(default)]
    pub trace: Option<PathBuf>,
}

fn default_lifetime() -> f64 {
    4800.0
}
fn default_downtime() -> f64 {
    600.0
}

impl Default for ChurnSpec {
    fn default() -> Self {
        ChurnSpec {
            model: ChurnModel::default(),
            lifetime_mean_s: default_lifetime(),
            downtime_mean_s: default_downtime(),
            alpha: None,
            lifetime_scale_s: None,
            downtime_scale_s: None,
            start_s: 0.0,
            stop_s: None,
            trace: None,
        }
    }
}

impl ChurnSpec {
    /// No churn at all.
    pub fn none() -> Self {
        ChurnSpec {
            model: ChurnModel::None,
            ..Default::default()
        }
    }

    /// The lifetime and downtime distributions, validated (explains impossible parameters).
    pub fn distributions(&self) -> Result<(Dist, Dist)> {
        let (life, down) = match self.model {
            ChurnModel::None | ChurnModel::Trace => {
                return Ok((Dist::Constant { value: 1.0 }, Dist::Constant { value: 1.0 }))
            }
            ChurnModel::Uniform => (
                Dist::Uniform {
                    mean: self.lifetime_mean_s,
                },
                Dist::Uniform {
                    mean: self.downtime_mean_s,
                },
            ),
            ChurnModel::Exponential => (
                Dist::Exponential {
                    mean: self.lifetime_mean_s,
                },
                Dist::Exponential {
                    mean: self.downtime_mean_s,
                },
            ),
            ChurnModel::Pareto => {
                let Some(alpha) = self.alpha else {
                    bail!("churn.model = \"pareto\" needs churn.alpha (the shape)");
                };
                let make = |scale: Option<f64>, mean: f64, what: &str| -> Result<Dist> {
                    match scale {
                        Some(s) => Ok(Dist::Pareto { alpha, scale: s }),
                        None => Dist::pareto_with_mean(alpha, mean)
                            .map_err(|e| anyhow::anyhow!("churn.{what}: {e}")),
                    }
                };
                (
                    make(
                        self.lifetime_scale_s,
                        self.lifetime_mean_s,
                        "lifetime_mean_s",
                    )?,
                    make(
                        self.downtime_scale_s,
                        self.downtime_mean_s,
                        "downtime_mean_s",
                    )?,
                )
            }
        };
        life.validate()
            .map_err(|e| anyhow::anyhow!("churn lifetime: {e}"))?;
        down.validate()
            .map_err(|e| anyhow::anyhow!("churn downtime: {e}"))?;
        Ok((life, down))
    }

    /// Checks the table for impossible or inapplicable settings.
    pub fn validate(&self) -> Result<()> {
        if self.model != ChurnModel::Pareto
            && (self.alpha.is_some()
                || self.lifetime_scale_s.is_some()
                || self.downtime_scale_s.is_some())
        {
            bail!("churn.alpha / lifetime_scale_s / downtime_scale_s apply only to model = \"pareto\"");
        }
        if (self.model == ChurnModel::Trace) != self.trace.is_some() {
            bail!("churn.trace is required by, and only allowed with, model = \"trace\"");
        }
        if !(self.start_s >= 0.0 && self.start_s.is_finite()) {
            bail!("churn.start_s must be >= 0");
        }
        if let Some(s) = self.stop_s {
            if !(s >= self.start_s && s.is_finite()) {
                bail!(
                    "churn.stop_s ({s}) must be >= churn.start_s ({})",
                    self.start_s
                );
            }
        }
        self.distributions().map(|_| ())
    }

    /// When churn acts in a run of `duration`: from `start_s` to `stop_s` (or the end).
    fn window(&self, duration: Time) -> (Time, Time) {
        let start = time::from_secs_f64(self.start_s);
        let stop = self
            .stop_s
            .map(time::from_secs_f64)
            .unwrap_or(Time::MAX)
            .min(duration);
        (start, stop)
    }

    /// Refuses a schedule whose typical (median) up and down periods would need more than
    /// [`crate::limits::MAX_TRANSITIONS`] host transitions over `duration`.
    pub fn check_work(&self, hosts: usize, duration: Time) -> Result<()> {
        if matches!(self.model, ChurnModel::None | ChurnModel::Trace) {
            return Ok(());
        }
        let (life, down) = self.distributions()?;
        let (start, stop) = self.window(duration);
        let span = stop.saturating_sub(start) as f64 / time::SEC as f64;
        let cycle = life.median() + down.median();
        let expected = 2.0 * hosts as f64 * span / cycle.max(1e-300);
        if expected > crate::limits::MAX_TRANSITIONS as f64 {
            bail!(
                "about {expected:.3e} host transitions expected ({hosts} hosts over {span:.0} s with median up / down periods of {:.3e} / {:.3e} s); the limit is {}: lengthen churn.lifetime_mean_s / downtime_mean_s (or, for pareto, raise alpha or the scales)",
                life.median(),
                down.median(),
                crate::limits::MAX_TRANSITIONS
            );
        }
        Ok(())
    }

    /// The schedule for `hosts` hosts over `duration`, drawn from the "churn" stream of `seed`.
    pub fn schedule(&self, hosts: usize, duration: Time, seed: u64) -> Result<ChurnSchedule> {
        self.validate()?;
        match self.model {
            ChurnModel::None => Ok(ChurnSchedule::none(hosts)),
            ChurnModel::Trace => {
                let path = self.trace.as_ref().expect("validated");
                ChurnSchedule::read_csv(path, hosts)
            }
            _ => {
                let (life, down) = self.distributions()?;
                let (start, stop) = self.window(duration);
                self.check_work(hosts, duration)?;
                let mut total = 0u64;
                let mut per_host = Vec::with_capacity(hosts);
                for h in 0..hosts {
                    {
                        let mut rng = SimRng::substream(seed, "churn", h as u64);
                        let mut t = start;
                        let mut v = Vec::new();
                        loop {
                            if total + v.len() as u64 > crate::limits::MAX_TRANSITIONS {
                                let per = v.len() as f64
                                    / (t.min(stop).saturating_sub(start).max(1) as f64
                                        / time::SEC as f64);
                                bail!(
                                    "churn: more than {} host transitions (host {h} alone has {} after {:.1} s, ~{:.3e} expected over {} hosts and {:.0} s): the up / down times are too short for this run; lengthen churn.lifetime_mean_s / downtime_mean_s (or, for pareto, raise alpha or the scales)",
                                    crate::limits::MAX_TRANSITIONS,
                                    v.len(),
                                    t.saturating_sub(start) as f64 / time::SEC as f64,
                                    per * hosts as f64 * (stop.min(duration).saturating_sub(start)) as f64 / time::SEC as f64,
                                    hosts,
                                    stop.min(duration).saturating_sub(start) as f64 / time::SEC as f64
                                );
                            }
                            // Up period ends with a crash...
                            t = t.saturating_add(time::from_secs_f64(life.sample(&mut rng)).max(1));
                            if t >= stop {
                                break;
                            }
                            v.push(t);
                            // ... and the down period with a rejoin (always scheduled, even after stop).
                            t = t.saturating_add(time::from_secs_f64(down.sample(&mut rng)).max(1));
                            v.push(t);
                            if t >= stop {
                                break;
                            }
                        }
                        total += v.len() as u64;
                        per_host.push(v);
                    }
                }
                Ok(ChurnSchedule { per_host })
            }
        }
    }
}

/// Per host, the sorted times of its transitions: down, up, down, up, ... (all start up).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ChurnSchedule {
    per_host: Vec<Vec<Time>>,
}

impl ChurnSchedule {
    /// Every host up forever.
    pub fn none(hosts: usize) -> Self {
        ChurnSchedule {
            per_host: vec![Vec::new(); hosts],
        }
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.per_host.len()
    }

    /// Transition times of host `h` (odd positions are rejoins).
    pub fn transitions(&self, h: HostId) -> &[Time] {
        &self.per_host[h as usize]
    }

    /// Whether host `h` is up at time `t` under this schedule.
    pub fn is_up_at(&self, h: HostId, t: Time) -> bool {
        self.per_host[h as usize].partition_point(|&x| x <= t) % 2 == 0
    }

    /// Total number of crashes.
    pub fn crash_count(&self) -> usize {
        self.per_host.iter().map(|v| v.len().div_ceil(2)).sum()
    }

    /// Writes the schedule as CSV `time_us,host,event` sorted by (time, host).
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let mut rows: Vec<(Time, usize, bool)> = Vec::new();
        for (h, v) in self.per_host.iter().enumerate() {
            rows.extend(v.iter().enumerate().map(|(i, &t)| (t, h, i % 2 == 1)));
        }
        rows.sort_unstable();
        let mut out = Vec::with_capacity(rows.len() * 24);
        writeln!(out, "time_us,host,event")?;
        for (t, h, up) in rows {
            writeln!(out, "{t},{h},{}", if up { "up" } else { "down" })?;
        }
        crate::output::write_atomic(path, &out)
    }

    /// Reads a CSV written by [`ChurnSchedule::write_csv`], validating it for `hosts` hosts.
    pub fn read_csv(path: &Path, hosts: usize) -> Result<ChurnSchedule> {
        let mut rdr = csv::Reader::from_path(path)
            .with_context(|| format!("cannot read churn trace {}", path.display()))?;
        let mut per_host: Vec<Vec<Time>> = vec![Vec::new(); hosts];
        let header = rdr
            .headers()
            .with_context(|| format!("{}: line 1", path.display()))?
            .clone();
        let names: Vec<&str> = header.iter().map(str::trim).collect();
        if names != ["time_us", "host", "event"] {
            bail!(
                "{}: line 1: the header must be time_us,host,event, got {}",
                path.display(),
                names.join(",")
            );
        }
        let mut total = 0u64;
        for (i, rec) in rdr.records().enumerate() {
            let line = i + 2;
            let rec = rec.with_context(|| format!("{}: line {line}", path.display()))?;
            if rec.len() != 3 {
                bail!(
                    "{}: line {line}: expected 3 columns time_us,host,event",
                    path.display()
                );
            }
            let t: Time = rec[0].trim().parse().with_context(|| {
                format!("{}: line {line}: bad time_us '{}'", path.display(), &rec[0])
            })?;
            if t > crate::engine::queue::MAX_TIME {
                bail!(
                    "{}: line {line}: time_us = {t} lies beyond the simulator's horizon of {} µs (~203 days)",
                    path.display(),
                    crate::engine::queue::MAX_TIME
                );
            }
            total += 1;
            if total > crate::limits::MAX_TRANSITIONS {
                bail!(
                    "{}: line {line}: more than {} transitions",
                    path.display(),
                    crate::limits::MAX_TRANSITIONS
                );
            }
            let h: usize = rec[1].trim().parse().with_context(|| {
                format!("{}: line {line}: bad host '{}'", path.display(), &rec[1])
            })?;
            if h >= hosts {
                bail!(
                    "{}: line {line}: host {h} out of range (the run has {hosts} hosts)",
                    path.display()
                );
            }
            let v = &mut per_host[h];
            let want = if v.len() % 2 == 0 { "down" } else { "up" };
            if rec[2].trim() != want {
                bail!("{}: line {line}: host {h} event '{}' but '{want}' was expected (events alternate, starting with down)", path.display(), &rec[2]);
            }
            if v.last().is_some_and(|&last| t <= last) {
                bail!(
                    "{}: line {line}: host {h} times must increase",
                    path.display()
                );
            }
            v.push(t);
        }
        Ok(ChurnSchedule { per_host })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::MIN;

    #[test]
    fn uniform_schedule_has_the_right_means() {
        let spec = ChurnSpec {
            lifetime_mean_s: 4800.0,
            downtime_mean_s: 600.0,
            ..Default::default()
        };
        let s = spec.schedule(2000, 1_000 * MIN, 1).unwrap();
        let (mut up, mut down, mut nu, mut nd) = (0u64, 0u64, 0u64, 0u64);
        for h in 0..2000 {
            let v = s.transitions(h);
            let mut prev = 0;
            for (i, &t) in v.iter().enumerate() {
                if i % 2 == 0 {
                    up += t - prev;
                    nu += 1;
                } else {
                    down += t - prev;
                    nd += 1;
                }
                prev = t;
            }
        }
        let mu = up as f64 / nu as f64 / 1e6;
        let md = down as f64 / nd as f64 / 1e6;
        assert!((mu - 4800.0).abs() / 4800.0 < 0.03, "lifetime mean {mu}");
        assert!((md - 600.0).abs() / 600.0 < 0.03, "downtime mean {md}");
        // Long-run availability ~ 80/90.
        let avail = (0..2000).filter(|&h| s.is_up_at(h, 500 * MIN)).count() as f64 / 2000.0;
        assert!((avail - 8.0 / 9.0).abs() < 0.03, "availability {avail}");
    }

    #[test]
    fn host_schedule_does_not_depend_on_host_count() {
        let spec = ChurnSpec::default();
        let a = spec.schedule(10, 120 * MIN, 3).unwrap();
        let b = spec.schedule(500, 120 * MIN, 3).unwrap();
        for h in 0..10 {
            assert_eq!(a.transitions(h), b.transitions(h));
        }
    }

    #[test]
    fn csv_round_trip() {
        let spec = ChurnSpec {
            model: ChurnModel::Exponential,
            ..Default::default()
        };
        let s = spec.schedule(50, 600 * MIN, 9).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("churn.csv");
        s.write_csv(&p).unwrap();
        assert_eq!(ChurnSchedule::read_csv(&p, 50).unwrap(), s);
        let replay = ChurnSpec {
            model: ChurnModel::Trace,
            trace: Some(p),
            ..Default::default()
        };
        assert_eq!(replay.schedule(50, 600 * MIN, 0).unwrap(), s);
    }

    #[test]
    fn bad_traces_and_parameters_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, "time_us,host,event\n10,0,up\n").unwrap();
        let e = format!("{:#}", ChurnSchedule::read_csv(&p, 4).unwrap_err());
        assert!(
            e.contains("line 2") && e.contains("'down' was expected"),
            "{e}"
        );
        std::fs::write(&p, "time_us,host,event\n10,9,down\n").unwrap();
        assert!(
            format!("{:#}", ChurnSchedule::read_csv(&p, 4).unwrap_err()).contains("out of range")
        );
        let pareto = ChurnSpec {
            model: ChurnModel::Pareto,
            alpha: Some(1.0),
            ..Default::default()
        };
        let e = format!("{:#}", pareto.validate().unwrap_err());
        assert!(e.contains("alpha > 1"), "{e}");
        let scaled = ChurnSpec {
            model: ChurnModel::Pareto,
            alpha: Some(1.0),
            lifetime_scale_s: Some(1800.0),
            downtime_scale_s: Some(300.0),
            ..Default::default()
        };
        assert!(scaled.validate().is_ok());
    }

    #[test]
    fn stop_brings_everyone_back() {
        let spec = ChurnSpec {
            stop_s: Some(3600.0),
            lifetime_mean_s: 600.0,
            ..Default::default()
        };
        let s = spec.schedule(100, 240 * MIN, 2).unwrap();
        for h in 0..100 {
            let v = s.transitions(h);
            assert_eq!(v.len() % 2, 0, "host {h} ends down");
            // No crash after stop.
            assert!(v.iter().step_by(2).all(|&t| t < 60 * MIN));
        }
    }
}
