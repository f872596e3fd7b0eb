use std::collections::BTreeMap;

use serde::Serialize;
use stalltrace_capture::Warning;
use stalltrace_conversations::TrackerStats;
use stalltrace_decode::Timestamp;
use stalltrace_diagnosis::{Finding, Severity};
use stalltrace_matching::Matching;

/// Bumped whenever a field changes meaning or disappears; adding a field
/// does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything `stalltrace analyze` found, in the form every output shares.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub inputs: Vec<InputSummary>,
    pub points: Vec<PointSummary>,
    /// The capture points together: NAT mappings, clock offsets, path order.
    pub matching: Matching,
    /// Most severe and most costly first.
    pub findings: Vec<Finding>,
    /// Problems with the input that did not stop the analysis.
    pub warnings: Vec<Warning>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// One input file (or standard input).
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct InputSummary {
    pub file: String,
    /// "pcap", "pcapng" or "tcpdump text".
    pub format: String,
    /// Records read (packet lines for text).
    pub records: u64,
    /// Records that gave no IP packet, by reason.
    pub skipped: BTreeMap<String, u64>,
}

/// A capture point: one interface of one input.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct PointSummary {
    pub name: String,
    pub file: String,
    pub interface: Option<String>,
    /// For text captures the packet numbers in evidence are line numbers.
    pub numbered_by_line: bool,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub stats: TrackerStats,
}

impl Report {
    pub fn most_severe(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}
