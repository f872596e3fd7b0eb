//! The analysing side: each capture point's conversations, matched across
//! points, handed to the diagnosis as they finish.

use stalltrace_capture::{Warning, WarningKind};
use stalltrace_conversations::{Conversation, HostLedger, LiveView, Points, Tracker, TrackerStats};
use stalltrace_decode::Timestamp;
use stalltrace_diagnosis::Diagnoser;
use stalltrace_diagnosis::Finding;
use stalltrace_matching::{Matcher, Matching};
use stalltrace_report::{InputSummary, PointSummary, Report, Tool, SCHEMA_VERSION};

use super::merge::{Closed, Item};
use super::AnalyzeOptions;

/// Hand finished conversations on this often (packets).
pub(super) const DRAIN_EVERY: u64 = 4096;

#[derive(Clone)]
pub(super) struct Point {
    pub(super) summary: PointSummary,
    /// The point's whole tracker, when this thread tracks its packets.
    pub(super) tracker: Option<Tracker>,
    /// Its hosts' counts, when parts track its packets elsewhere
    /// (`parts.rs`).
    pub(super) ledger: Option<HostLedger>,
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
    /// What the diagnosis asks about the point's live conversations.
    fn live_view(&self) -> Option<&dyn LiveView> {
        match (&self.tracker, &self.ledger) {
            (Some(t), _) => Some(t),
            (None, Some(l)) => Some(l),
            (None, None) => None,
        }
    }

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
    pub(super) fn hand_over(&mut self, pi: usize, mut convs: Vec<Conversation>) {
        // In the order they began, whichever part of the work ended them
        // first: the report is the same for any number of threads.
        convs.sort_by_key(|c| c.id);
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
            let live = self.points[pi].live_view();
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
    /// Finished conversations are handed on at the end of every batch, and
    /// time moved on once this many packets have been seen.
    pub(super) next_drain: u64,
}

/// An input that ended in a batch, and its points' last stats.
pub(super) type Ending = (Closed, Vec<(usize, TrackerStats)>);

impl Analyser<'_> {
    /// A capture point's first packet comes next: `whole` when this thread
    /// tracks it, else parts do and this side keeps its hosts' ledger.
    pub(super) fn new_point(&mut self, summary: PointSummary, whole: bool) -> usize {
        let pipe = &mut self.pipe;
        let idx = pipe.points.len();
        pipe.several |= idx > 0;
        pipe.names.add(summary.name.clone());
        pipe.diag.add_point(summary.name.clone());
        pipe.points.push(Point {
            summary,
            tracker: whole.then(|| Tracker::new(idx as u32, self.opts.tracker.clone())),
            ledger: (!whole).then(HostLedger::default),
        });
        idx
    }

    /// A packet of `point` at `ts` was read; its place in the stream.
    pub(super) fn saw(&mut self, point: usize, ts: Timestamp) -> u64 {
        self.pipe.points[point].saw(ts);
        self.now = self.now.max(ts);
        self.seen += 1;
        self.seen
    }

    /// Takes in one batch, tracking every packet on this thread.
    pub(super) fn take_batch(&mut self, batch: &mut [Item], bytes_read: u64) {
        let mut done = Vec::new();
        let mut endings = Vec::new();
        for item in batch.iter_mut() {
            match item {
                Item::NewPoint(summary) => {
                    self.new_point(*std::mem::take(summary), true);
                }
                Item::Packet {
                    point,
                    packet,
                    duplicate,
                } => {
                    // A packet is only looked at, not moved (it is large,
                    // and moving every packet once more cost a tenth of
                    // the time).
                    self.saw(*point, packet.meta.ts);
                    if !*duplicate {
                        let t = self.pipe.points[*point].tracker.as_mut();
                        t.expect("live point").observe(packet);
                    }
                }
                Item::Closed(c) => {
                    let c = *std::mem::take(c);
                    let mut stats = Vec::new();
                    for &pi in &c.points {
                        if let Some(t) = self.pipe.points[pi].tracker.take() {
                            let (d, st) = t.finish_keeping_stats();
                            done.extend(d);
                            stats.push((pi, st));
                        }
                    }
                    endings.push((c, stats));
                }
            }
        }
        for p in &mut self.pipe.points {
            if let Some(t) = p.tracker.as_mut() {
                done.extend(t.take_finished());
            }
        }
        self.end_batch(done, endings, bytes_read);
    }

    /// The end of a batch, however it was tracked: the conversations that
    /// finished in it go on, the inputs that ended are summed up, and now
    /// and then time moves on.
    pub(super) fn end_batch(
        &mut self,
        done: Vec<Conversation>,
        endings: Vec<Ending>,
        bytes_read: u64,
    ) {
        let mut by_point: Vec<Vec<Conversation>> =
            (0..self.pipe.points.len()).map(|_| Vec::new()).collect();
        for c in done {
            by_point[c.point as usize].push(c);
        }
        for (pi, convs) in by_point.into_iter().enumerate() {
            if !convs.is_empty() {
                self.pipe.hand_over(pi, convs);
            }
        }
        for (c, stats) in endings {
            self.close(c, stats);
        }
        if self.seen >= self.next_drain {
            self.next_drain = (self.seen / DRAIN_EVERY + 1) * DRAIN_EVERY;
            if let Some(report) = self.opts.progress {
                report(bytes_read, self.total);
            }
            self.pipe.advance(self.now);
        }
    }

    /// The stream has ended: every wait judged, the points matched, the
    /// report made.
    pub(super) fn into_report(self) -> Report {
        let Analyser {
            mut pipe,
            summaries,
            warnings,
            now,
            ..
        } = self;
        pipe.advance(now);
        pipe.diag.flush(&pipe.matcher);
        let matching = pipe.matcher.finish(&pipe.names);
        let findings = pipe.diag.finish(&matching);
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "stalltrace".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            inputs: summaries.into_iter().flatten().collect(),
            points: pipe.points.into_iter().map(|p| p.summary).collect(),
            matching,
            findings,
            warnings,
        }
    }

    /// An input is done: its points' stats, counted to their end.
    fn close(&mut self, c: Closed, stats: Vec<(usize, TrackerStats)>) {
        let pipe = &mut self.pipe;
        let warnings = &mut self.warnings;
        warnings.extend(c.reader_warnings);
        for (pi, st) in stats {
            let name = &pipe.points[pi].summary.name;
            if st.packets == 0 {
                warnings.push(Warning::new(&c.file, None, WarningKind::NoIpTraffic).at_point(name));
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
