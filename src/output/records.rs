//! Per-query records, shared by every protocol, and their tidy CSV form.

use crate::engine::Time;
use crate::ids::PeerId;
use std::io::Write;

/// How a query ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The origin received the complete answer.
    Ok,
    /// The origin gave up after its timeouts / deadline.
    Failed,
    /// The origin's host crashed before the answer arrived.
    OriginDown,
    /// Still in flight when the run ended.
    Unfinished,
}

impl Outcome {
    /// CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::OriginDown => "origin_down",
            Outcome::Unfinished => "unfinished",
        }
    }
}

/// One query, as measured at its origin.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryRecord {
    /// Query number within the run (issue order).
    pub query: u64,
    /// What was asked (`ping`, `lookup`, `range`, ...).
    pub kind: &'static str,
    /// The issuing peer.
    pub origin: PeerId,
    /// When it was issued.
    pub issued_us: Time,
    /// From issue to the final reply, or to the moment the origin gave up (timeouts included).
    pub latency_us: Time,
    /// Overlay hops on the answering path.
    pub hops: u32,
    /// Messages caused by this query (every leg, retries included).
    pub messages: u32,
    /// Keys asked for.
    pub keys_requested: u64,
    /// Keys received.
    pub keys_returned: u64,
    /// RPC timeouts suffered.
    pub timeouts: u32,
    /// How it ended.
    pub outcome: Outcome,
}

/// Header of the per-query CSV, after the run's identifying columns.
pub const QUERY_COLUMNS: &str =
    "query,kind,origin,issued_us,latency_us,hops,messages,keys_requested,keys_returned,timeouts,outcome";

impl QueryRecord {
    /// Appends this record as one CSV line, prefixed by `prefix` (the run's columns, ending in ',').
    pub fn write_csv_line(&self, prefix: &str, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail.
        let _ = writeln!(
            out,
            "{prefix}{},{},{},{},{},{},{},{},{},{},{}",
            self.query,
            self.kind,
            self.origin,
            self.issued_us,
            self.latency_us,
            self.hops,
            self.messages,
            self.keys_requested,
            self.keys_returned,
            self.timeouts,
            self.outcome.as_str()
        );
    }
}
