//! Results: per-query records, summary statistics, and crash-safe file writing.

pub mod records;
pub mod summary;

use anyhow::{Context, Result};
use std::path::Path;

pub use records::{Outcome, QueryRecord};
pub use summary::Summary;

/// A CSV field, quoted when it contains a comma, quote or newline (RFC 4180).
pub fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then a rename,
/// so an interrupted run never leaves a half-written result behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let done = std::fs::write(&tmp, bytes)
        .with_context(|| format!("cannot write {} (for {})", tmp.display(), path.display()))
        .and_then(|()| {
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
        });
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp); // leave no debris (e.g. on a full disk)
    }
    done
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(
            super::csv_field("rmi:cubic,linear,64"),
            "\"rmi:cubic,linear,64\""
        );
        assert_eq!(super::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::csv_field("plain"), "plain");
    }
}
