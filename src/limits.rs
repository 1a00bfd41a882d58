//! What a run may ask for, checked before it starts: sizes against the memory this machine has,
//! work (events, churn transitions, queries) against what can finish, and times against the
//! simulator's horizon. Every refusal names the key and gives the estimate.

use crate::engine::time::{self, Time};
use anyhow::{bail, Result};

/// The longest single delay, timeout or period an input may set: one day.
pub const MAX_DELAY: Time = 86_400 * time::SEC;

/// The largest RTT a topology may hold: 1,000 s (matrix entries, synthetic parameters).
pub const MAX_RTT_MS: f64 = 1_000_000.0;

/// Most host transitions a churn schedule may hold (16 bytes each in the schedule).
pub const MAX_TRANSITIONS: u64 = 50_000_000;

/// Most queries a run may issue (each keeps a ~100-byte record).
pub const MAX_QUERIES: f64 = 50_000_000.0;

/// Most kernel events a run may be estimated to need: about 5.5 hours on one core at the
/// 5 M events/s LEAD and Chord-batch runs reach.
pub const MAX_EVENTS: f64 = 1e11;

/// Events per second of simulation wall assumed by estimates.
pub const EVENTS_PER_S: f64 = 5e6;

/// Bytes of memory available to this process: `MemAvailable` of /proc/meminfo, or 16 GiB where
/// that cannot be read.
pub fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(16 << 30, |kb| kb * 1024)
}

/// Refuses `what` when it needs more than the memory available (`bytes` as a float so that
/// products of huge sizes cannot overflow).
pub fn check_memory(what: &str, bytes: f64) -> Result<()> {
    let avail = available_memory() as f64;
    if bytes.is_nan() || bytes > avail {
        bail!(
            "{what} needs about {} of memory but this machine has {} available",
            human_bytes(bytes),
            human_bytes(avail)
        );
    }
    Ok(())
}

/// Refuses a run estimated to need more than [`MAX_EVENTS`] events.
pub fn check_events(what: &str, events: f64) -> Result<()> {
    if events.is_nan() || events > MAX_EVENTS {
        bail!(
            "{what}: about {events:.2e} events, ~{:.0} hours of simulation on one core at {:.0} M events/s; the limit is {MAX_EVENTS:.0e} events (shorten duration_s, use fewer peers or longer periods)",
            events / EVENTS_PER_S / 3600.0,
            EVENTS_PER_S / 1e6
        );
    }
    Ok(())
}

/// Validates a delay given in milliseconds: finite, within [`min_ms`, one day].
pub fn delay_ms(key: &str, ms: f64, min_ms: f64) -> Result<Time> {
    delay(key, ms, min_ms, time::MS, "ms")
}

/// Validates a duration given in seconds: finite, within [`min_s`, one day].
pub fn delay_s(key: &str, s: f64, min_s: f64) -> Result<Time> {
    delay(key, s, min_s, time::SEC, "s")
}

/// A delay of `v` units of `unit_us` µs each, within [`min`, one day].
fn delay(key: &str, v: f64, min: f64, unit_us: Time, unit: &str) -> Result<Time> {
    let max = (MAX_DELAY / unit_us) as f64;
    if !(v >= min && v <= max) {
        bail!(
            "{key} must be in [{min}, {max}] {unit} (at most one day), got {}",
            num(v)
        );
    }
    Ok((v * unit_us as f64).round() as Time)
}

/// A number as a person reads it: plain when moderate, in scientific notation when huge or tiny
/// (so that `1e-300` is not printed with three hundred digits).
pub fn num(v: f64) -> String {
    let a = v.abs();
    if v.is_finite() && a != 0.0 && !(1e-4..1e9).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// `bytes` for people (KB, MB, GB, TB; decimal).
pub fn human_bytes(bytes: f64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if v >= 1000.0 {
        return format!("{bytes:.2e} B");
    }
    format!("{v:.1} {}", units[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_with_the_estimate() {
        assert!(check_memory("x", 1.0).is_ok());
        let e = check_memory("topology.hosts = 9e18", 1e38)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("topology.hosts") && e.contains("available"),
            "{e}"
        );
        let e = check_events("run", 1e13).unwrap_err().to_string();
        assert!(e.contains("hours"), "{e}");
        assert!(delay_ms("chord.max_lookup_ms", 4.3e9, 1.0).is_err());
        assert!(delay_ms("k", f64::NAN, 1.0).is_err());
        assert_eq!(delay_ms("k", 1.5, 0.001).unwrap(), 1500);
        assert_eq!(human_bytes(1.6e9), "1.6 GB");
        assert_eq!(num(1e-300), "1e-300");
        assert_eq!(num(4.3e9), "4.3e9");
        assert_eq!(num(2.5), "2.5");
    }
}
