//! Simulated time: an integer count of microseconds.

/// Simulated time in microseconds since the start of the run.
pub type Time = u64;

/// Microseconds per millisecond.
pub const MS: Time = 1_000;
/// Microseconds per second.
pub const SEC: Time = 1_000_000;
/// Microseconds per minute.
pub const MIN: Time = 60 * SEC;

/// Converts (possibly fractional) milliseconds to microseconds, rounding to the nearest µs.
#[inline]
pub fn from_ms_f64(ms: f64) -> Time {
    (ms * 1_000.0).round().max(0.0) as Time
}

/// Converts (possibly fractional) seconds to microseconds, rounding to the nearest µs.
#[inline]
pub fn from_secs_f64(s: f64) -> Time {
    (s * 1_000_000.0).round().max(0.0) as Time
}

/// Microseconds as fractional milliseconds (for reports).
#[inline]
pub fn to_ms_f64(t: Time) -> f64 {
    t as f64 / 1_000.0
}
