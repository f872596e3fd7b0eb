//! The analysing side: each capture point's conversations, matched across
//! points, handed to the diagnosis as they finish.

use stalltrace_capture::{Warning, WarningKind};
use stalltrace_conversations::{Points, Tracker};
use stalltrace_decode::{Packet, Timestamp};
use stalltrace_diagnosis::Diagnoser;
use stalltrace_diagnosis::Finding;
use stalltrace_matching::{Matcher, Matching};
use stalltrace_report::{InputSummary, PointSummary};

use super::merge::{Closed, Item};
use super::AnalyzeOptions;

/// Hand finished conversations on this often (packets).
const DRAIN_EVERY: u64 = 4096;

#[derive(Clone)]
pub(super) struct Point {
    pub(super) summary: PointSummary,
    pub(super) tracker: Option<Tracker>,
}

#[derive(Clone)]
pub(super) struct Pipeline {
    /// More than one capture point: worth matching.
    pub(super) several: bool,
    pub(super) max_live: usize,
    pub(super) points: Vec<Point>,
    pub(super) names: Points,
    pub(super) matcher: Matcher,
    pub(super) diag: Diagnoser,
}

impl Point {
    /// A packet at `ts` passed here: the point's first and last times.
    pub(super) fn saw(&mut self, ts: Timestamp) {
        self.summary.first.get_or_insert(ts);
        if self.summary.last.is_none_or(|l| ts > l) {
            self.summary.last = Some(ts);
        }
    }
}

impl Pipeline {
    /// An empty pipeline; `cfg`'s resolve delay is set from the tracker's.
    pub(super) fn new(
        tracker: &stalltrace_conversations::TrackerConfig,
        cfg: stalltrace_diagnosis::DiagnosisConfig,
    ) -> Pipeline {
        Pipeline {
            several: false,
            max_live: tracker.max_live,
            points: Vec::new(),
            names: Points::default(),
            matcher: Matcher::new(stalltrace_matching::MatcherConfig::default()),
            diag: Diagnoser::new(
                Points::default(),
                stalltrace_diagnosis::DiagnosisConfig {
                    resolve_delay: tracker.idle_timeout + tracker.closed_linger,
                    ..cfg
                },
            ),
        }
    }

    /// Conversations point `pi` finished go to matching and diagnosis; the
    /// packet logs nothing kept go back to its tracker for reuse.
    pub(super) fn hand_over(
        &mut self,
        pi: usize,
        convs: Vec<stalltrace_conversations::Conversation>,
    ) {
        for c in convs {
            // Matching only means something with more than one point.
            if self.several {
                self.matcher.observe(&c);
            }
            let spare = self.diag.observe(c);
            if let (Some(log), Some(t)) = (spare, self.points[pi].tracker.as_mut()) {
                t.recycle_log(log);
            }
        }
    }

    /// Ends the stream at `now`: every conversation still going ends
    /// here, every wait is judged, the points matched, the findings made.
    /// What `analyze` does at a capture's end; `watch` does it on a copy.
    pub(super) fn conclude(mut self, now: Timestamp) -> (Matching, Vec<Finding>) {
        for pi in 0..self.points.len() {
            if let Some(t) = self.points[pi].tracker.take() {
                let (done, _) = t.finish_keeping_stats();
                self.hand_over(pi, done);
            }
        }
        self.advance(now);
        self.diag.flush(&self.matcher);
        let matching = self.matcher.finish(&self.names);
        let findings = self.diag.finish(&matching);
        (matching, findings)
    }

    pub(super) fn advance(&mut self, now: Timestamp) {
        self.matcher.advance(now);
        for pi in 0..self.points.len() {
            let live = self.points[pi]
                .tracker
                .as_ref()
                .map(|t| t as &dyn stalltrace_conversations::LiveView);
            self.diag.advance(pi as u32, now, &self.matcher, live);
        }
    }
}

/// The analysing side: conversations, matching, diagnosis.
pub(super) struct Analyser<'a> {
    pub(super) opts: &'a AnalyzeOptions,
    pub(super) pipe: Pipeline,
    pub(super) summaries: Vec<Option<InputSummary>>,
    pub(super) warnings: Vec<Warning>,
    pub(super) total: Option<u64>,
    pub(super) seen: u64,
    pub(super) now: Timestamp,
}

impl Analyser<'_> {
    /// Takes in one item; a packet is only looked at, not moved (it is
    /// large, and moving every packet once more cost a tenth of the time).
    pub(super) fn take(&mut self, item: &mut Item, bytes_read: u64) {
        match item {
            Item::NewPoint(summary) => {
                let summary = std::mem::take(summary);
                let pipe = &mut self.pipe;
                let idx = pipe.points.len();
                pipe.several |= idx > 0;
                pipe.names.add(summary.name.clone());
                pipe.diag.add_point(summary.name.clone());
                pipe.points.push(Point {
                    summary: *summary,
                    tracker: Some(Tracker::new(idx as u32, self.opts.tracker.clone())),
                });
            }
            Item::Packet {
                point,
                packet,
                duplicate,
            } => self.packet(*point, packet, *duplicate, bytes_read),
            Item::Closed(c) => self.close(*std::mem::take(c)),
        }
    }

    fn packet(&mut self, point: usize, packet: &Packet, duplicate: bool, bytes_read: u64) {
        let pipe = &mut self.pipe;
        let pt = &mut pipe.points[point];
        let ts = packet.meta.ts;
        pt.saw(ts);
        if !duplicate {
            pt.tracker.as_mut().expect("live point").observe(packet);
        }
        self.now = self.now.max(ts);
        self.seen += 1;
        if self.seen % DRAIN_EVERY == 0 {
            if let Some(report) = self.opts.progress {
                report(bytes_read, self.total);
            }
            for pj in 0..pipe.points.len() {
                if let Some(t) = pipe.points[pj].tracker.as_mut() {
                    let done = t.take_finished();
                    pipe.hand_over(pj, done);
                }
            }
            pipe.advance(self.now);
        }
    }

    /// An input is done: its points' conversations all end here.
    fn close(&mut self, c: Closed) {
        let pipe = &mut self.pipe;
        let warnings = &mut self.warnings;
        warnings.extend(c.reader_warnings);
        for pi in c.points {
            if let Some(t) = pipe.points[pi].tracker.take() {
                // The stats once every conversation has ended: some are
                // counted as they end.
                let (done, st) = t.finish_keeping_stats();
                let name = &pipe.points[pi].summary.name;
                if st.packets == 0 {
                    warnings
                        .push(Warning::new(&c.file, None, WarningKind::NoIpTraffic).at_point(name));
                }
                let mut note = |n: u64, kind: WarningKind| {
                    if n > 0 {
                        warnings.push(Warning::new(&c.file, None, kind).at_point(name));
                    }
                };
                note(
                    st.time_went_back,
                    WarningKind::TimeWentBack {
                        count: st.time_went_back,
                    },
                );
                note(
                    st.truncated,
                    WarningKind::Snaplen {
                        count: st.truncated,
                    },
                );
                note(
                    st.fragments,
                    WarningKind::Fragments {
                        count: st.fragments,
                    },
                );
                note(
                    st.bad_ip_checksum,
                    WarningKind::BadChecksum {
                        count: st.bad_ip_checksum,
                    },
                );
                note(
                    st.one_direction,
                    WarningKind::OneDirection {
                        count: st.one_direction,
                    },
                );
                note(st.odd_syns, WarningKind::OddSyns { count: st.odd_syns });
                note(st.other_ip, WarningKind::OtherIp { count: st.other_ip });
                note(
                    st.evicted,
                    WarningKind::Evicted {
                        count: st.evicted,
                        cap: pipe.max_live as u64,
                    },
                );
                pipe.points[pi].summary.stats = st;
                pipe.hand_over(pi, done);
            }
        }
        if c.duplicates > 0 {
            warnings.push(Warning::new(
                &c.file,
                None,
                WarningKind::Duplicates {
                    count: c.duplicates,
                },
            ));
        }
        for s in &c.summary.skipped {
            warnings.push(Warning::new(
                &c.file,
                None,
                WarningKind::SkippedFrames {
                    count: s.count,
                    reason: s.reason.clone(),
                },
            ));
        }
        self.summaries[c.source] = Some(c.summary);
    }
}
