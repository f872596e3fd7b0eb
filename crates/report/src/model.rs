use std::collections::BTreeMap;

use serde::Serialize;
use stalltrace_capture::{SkipReason, Warning};
use stalltrace_conversations::TrackerStats;
use stalltrace_decode::Timestamp;
use stalltrace_diagnosis::{Finding, Severity};
use stalltrace_matching::Matching;

/// Bumped whenever a field changes meaning or disappears; adding a field
/// does not bump it. 2: findings carry typed facts (`facts`, typed
/// `evidence`, `breakdown`, `path`, `timeline`, `remedies`) and their
/// sentences apart (`sentences`); warnings carry a typed `kind` and their
/// `message`; NAT mappings a typed `kind` and `evidence`.
pub const SCHEMA_VERSION: u32 = 2;

/// Everything `stalltrace analyze` found, in the form every output shares.
/// Facts only: each renderer words them in the reader's language.
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
    pub skipped: Vec<Skipped>,
    /// Frames and packets left out by the filters asked for (`--filter`,
    /// `--host`, `--port`, `--since`, `--until`).
    #[serde(default)]
    pub filtered_out: u64,
}

/// Frames skipped for one reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Skipped {
    #[serde(flatten)]
    pub reason: SkipReason,
    pub count: u64,
}

impl InputSummary {
    pub fn skipped_from(map: BTreeMap<SkipReason, u64>) -> Vec<Skipped> {
        map.into_iter()
            .map(|(reason, count)| Skipped { reason, count })
            .collect()
    }
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

    /// IP packets read at all points: with none, there was nothing to
    /// diagnose, which is not the same as no stall.
    pub fn ip_packets(&self) -> u64 {
        self.points.iter().map(|p| p.stats.packets).sum()
    }

    /// UDP datagrams read, at every point.
    pub fn udp_datagrams(&self) -> u64 {
        self.points.iter().map(|p| p.stats.udp).sum()
    }
}
