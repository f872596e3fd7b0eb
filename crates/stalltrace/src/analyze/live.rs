//! The pipeline on a stream that does not end (`stalltrace watch`):
//! packets go in as they come, and at any moment [`LiveAnalysis::conclude`]
//! gives the report `analyze` would give for the packets so far. It works
//! on a copy of the pipeline, so that the stream goes on untouched: the
//! findings are the batch rules' own, never a second, live-only reading.
//!
//! ```
//! use stalltrace::analyze::{AnalyzeOptions, LiveAnalysis};
//! let mut live = LiveAnalysis::new(&AnalyzeOptions::default());
//! let outside = live.add_point("outside", None);
//! # let _ = outside;
//! let report = live.conclude();
//! assert!(report.findings.is_empty());
//! ```

use stalltrace_conversations::Tracker;
use stalltrace_decode::{Packet, Timestamp};
use stalltrace_diagnosis::DiagnosisConfig;
use stalltrace_report::{PointSummary, Report, Tool, SCHEMA_VERSION};

use super::analyser::{Pipeline, Point};
use super::AnalyzeOptions;

/// Hand finished conversations on this often (packets), as `analyze` does.
const DRAIN_EVERY: u64 = 4096;

/// A pipeline fed packet by packet, concluded on demand.
pub struct LiveAnalysis {
    pipe: Pipeline,
    tracker: stalltrace_conversations::TrackerConfig,
    now: Timestamp,
    seen: u64,
}

impl LiveAnalysis {
    pub fn new(opts: &AnalyzeOptions) -> LiveAnalysis {
        let mut tracker = opts.tracker.clone();
        tracker.max_live = tracker.max_live.max(1);
        LiveAnalysis {
            pipe: Pipeline::new(
                &tracker,
                DiagnosisConfig {
                    wait_threshold: opts.wait_threshold,
                    // Each occurrence is news: told on its own.
                    fold: false,
                    // A callback older than this explains no wait still
                    // to come (15 min in a capture read whole).
                    retain: stalltrace_decode::TimeDelta::from_secs(180),
                    ..DiagnosisConfig::default()
                },
            ),
            tracker,
            now: Timestamp::ZERO,
            seen: 0,
        }
    }

    /// A capture point (an interface); its index for [`Self::packet`].
    pub fn add_point(&mut self, name: &str, interface: Option<String>) -> usize {
        let pipe = &mut self.pipe;
        let idx = pipe.points.len();
        pipe.several |= idx > 0;
        pipe.names.add(name.to_string());
        pipe.diag.add_point(name.to_string());
        pipe.points.push(Point {
            summary: PointSummary {
                name: name.to_string(),
                file: interface.clone().unwrap_or_else(|| name.to_string()),
                interface,
                numbered_by_line: false,
                first: None,
                last: None,
                stats: Default::default(),
            },
            tracker: Some(Tracker::new(idx as u32, self.tracker.clone())),
            ledger: None,
        });
        idx
    }

    /// One packet seen at `point`.
    pub fn packet(&mut self, point: usize, packet: &Packet) {
        let pipe = &mut self.pipe;
        let pt = &mut pipe.points[point];
        let ts = packet.meta.ts;
        pt.saw(ts);
        pt.summary.stats.packets += 1;
        if let Some(t) = pt.tracker.as_mut() {
            t.observe(packet);
        }
        self.now = self.now.max(ts);
        self.seen += 1;
        if self.seen % DRAIN_EVERY == 0 {
            self.drain();
        }
    }

    /// Hands finished conversations on and moves time on, as `analyze`
    /// does every few thousand packets; on a quiet link, call it now and
    /// then with the clock's time.
    pub fn drain(&mut self) {
        let pipe = &mut self.pipe;
        for pj in 0..pipe.points.len() {
            if let Some(t) = pipe.points[pj].tracker.as_mut() {
                let done = t.take_finished();
                pipe.hand_over(pj, done);
            }
        }
        pipe.advance(self.now);
    }

    /// Forgets the findings whose last packet is before `t` (told already).
    pub fn forget_findings_before(&mut self, t: Timestamp) {
        self.pipe.diag.forget_findings_before(t);
    }

    /// The conversation a finding is about is still going on at its
    /// point: what is said of it may change (except a wait whose answer
    /// came).
    pub fn is_live(&self, c: &stalltrace_diagnosis::ConversationRef) -> bool {
        self.pipe
            .points
            .iter()
            .find(|p| p.summary.name == c.point)
            .and_then(|p| p.tracker.as_ref())
            .is_some_and(|t| t.is_live(c.protocol, c.vlan, &c.client, &c.server))
    }

    /// The newest packet's time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Live conversations and held ones, what memory follows.
    pub fn live(&self) -> usize {
        self.pipe
            .points
            .iter()
            .filter_map(|p| p.tracker.as_ref().map(|t| t.live()))
            .sum::<usize>()
            + self.pipe.diag.held()
    }

    /// The report `analyze` would give for the packets so far.
    pub fn conclude(&self) -> Report {
        let points = self.pipe.points.iter().map(|p| p.summary.clone()).collect();
        let (matching, findings) = self.pipe.clone().conclude(self.now);
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "stalltrace".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            inputs: Vec::new(),
            points,
            matching,
            findings,
            warnings: Vec::new(),
        }
    }
}
