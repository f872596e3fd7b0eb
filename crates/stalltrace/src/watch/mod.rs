//! `stalltrace watch`: the diagnosis live, on one or more interfaces (or
//! a capture streamed on standard input), findings as they happen.
//!
//! Capture threads (`sources.rs`) decode frames and hand packets over; the
//! watching thread feeds them to a [`LiveAnalysis`] and keeps the recent
//! frames in a ring bounded in bytes (`ring.rs`). Five times a second,
//! when packets came, it concludes a copy of the pipeline: the report
//! `analyze` would give for the packets so far. A finding is told
//! (`emit.rs`) once it is settled: unchanged for 300 ms; one that says
//! something never came (an unanswered connection, a scan, a flood) only
//! once its packets have been quiet for a minute, or at the end. Each told finding
//! can leave a pcapng of its packets from the ring, which `analyze` reads
//! back to the same finding.
//!
//! Files: `sources.rs` (interfaces, a stream), `ring.rs` (recent frames,
//! evidence files), `emit.rs` (when a finding is told, and how).

mod emit;
mod ring;
mod sources;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use stalltrace_decode::Lang;

use crate::analyze::{AnalyzeOptions, LiveAnalysis};
pub use sources::WatchSource;
use sources::{Feed, SourceStats};

/// Conclusions come at most this often ...
const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// ... and at least this often, however much they cost.
const MAX_INTERVAL: Duration = Duration::from_secs(5);

/// How to watch.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    pub sources: Vec<WatchSource>,
    /// A BPF filter (tcpdump's syntax) on every frame.
    pub filter: Option<String>,
    /// Stop after this long (None: until interrupted or the stream ends).
    pub duration: Option<Duration>,
    /// One JSON object per line instead of a line of text.
    pub json: bool,
    /// Where to write a pcapng per finding.
    pub evidence: Option<PathBuf>,
    /// The ring of recent frames, in bytes.
    pub ring_bytes: usize,
    pub lang: Lang,
    pub analyze: AnalyzeOptions,
    /// Drop counters this often.
    pub stats_every: Duration,
}

/// What a watch did, for its summary.
#[derive(Debug, Default)]
pub struct WatchSummary {
    pub packets: u64,
    pub told: usize,
    pub evidence_files: usize,
    /// Per source: frames the kernel dropped, frames we dropped (our queue
    /// was full).
    pub drops: Vec<(String, u64, u64)>,
    pub seconds: f64,
}

/// Why a watch could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0}")]
    Source(String),
}

/// Watches until `stop` is set, the duration is over or every stream
/// ended; `out` gets each line (a finding, a drop report) as it happens.
pub fn watch(
    opts: &WatchOptions,
    stop: Arc<AtomicBool>,
    out: &mut dyn FnMut(&str),
) -> Result<WatchSummary, WatchError> {
    let (tx, rx) = mpsc::sync_channel::<Feed>(65_536);
    let started = sources::start(&opts.sources, opts.filter.as_deref(), tx, stop.clone())
        .map_err(WatchError::Source)?;
    // Said once every source is open: from here nothing is missed.
    let names: Vec<String> = started.iter().map(|s| s.stats.name.clone()).collect();
    out(&if opts.json {
        serde_json::json!({"type": "start", "sources": names}).to_string()
    } else {
        format!("stalltrace watch: watching {}", names.join(", "))
    });
    let mut live = LiveAnalysis::new(&opts.analyze);
    // Feed index → the live analysis's point.
    let mut points: Vec<Option<usize>> = Vec::new();
    let all_streams = opts
        .sources
        .iter()
        .all(|s| matches!(s, WatchSource::Stream { .. }));
    let mut ring = ring::Ring::new(opts.ring_bytes);
    let mut teller = emit::Teller::new(opts.lang, opts.json, opts.evidence.clone());
    let begin = Instant::now();
    let mut last_conclusion = Instant::now();
    let mut interval = MIN_INTERVAL;
    let mut last_stats = Instant::now();
    let mut fresh = false;
    let mut last_report: Option<stalltrace_report::Report> = None;
    let mut ended = 0;
    let mut summary = WatchSummary::default();
    let mut stats: Vec<SourceStats> = started.iter().map(|s| s.stats.clone()).collect();
    loop {
        let over = opts.duration.is_some_and(|d| begin.elapsed() >= d);
        if stop.load(Ordering::SeqCst) || over || (all_streams && ended == started.len()) {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Feed::Ended) => ended += 1,
            Ok(feed) => {
                let packet = take(feed, &mut points, &mut live, &mut ring);
                fresh |= packet;
                summary.packets += u64::from(packet);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        // Five times a second, or less often when a conclusion costs more
        // than a fifth of the time: packets come first, told a little later.
        if last_conclusion.elapsed() >= interval {
            last_conclusion = Instant::now();
            live.drain();
            if fresh {
                fresh = false;
                let t = Instant::now();
                last_report = Some(live.conclude());
                interval = (t.elapsed() * 5).clamp(MIN_INTERVAL, MAX_INTERVAL);
            }
            // What ended over 70 s ago has been told (an absence is told
            // after 60 s of quiet), or never will be: forgotten, memory
            // and the cost of a conclusion stay flat on a long watch.
            let horizon = live
                .now()
                .saturating_add(stalltrace_decode::TimeDelta::from_secs(-70));
            live.forget_findings_before(horizon);
            // What was told is remembered as long as the pipeline may
            // find it again: it holds a wait until its resolve delay
            // (the idle timeout, 300 s) has passed.
            teller.forget_before(
                live.now()
                    .saturating_add(stalltrace_decode::TimeDelta::from_secs(-400)),
            );
            // Without new packets the last conclusion stands: what waits
            // to settle settles on it.
            if let Some(report) = &last_report {
                if teller.pending() > 0 || !teller.seen(report) {
                    let going = |f: &stalltrace_diagnosis::Finding| {
                        f.conversation.as_ref().is_some_and(|c| live.is_live(c))
                    };
                    teller.consider(report, &ring, &stats, false, &going, out);
                }
            }
        }
        if last_stats.elapsed() >= opts.stats_every {
            last_stats = Instant::now();
            stats = started.iter().map(|s| s.stats.clone()).collect();
            teller.drops(&stats, &ring, out);
        }
    }
    // The end: everything still untold is told, as `analyze` would.
    stop.store(true, Ordering::SeqCst);
    while let Ok(f) = rx.try_recv() {
        summary.packets += u64::from(take(f, &mut points, &mut live, &mut ring));
    }
    for s in started.iter() {
        s.join();
    }
    let stats: Vec<SourceStats> = started.iter().map(|s| s.stats.clone()).collect();
    live.drain();
    let report = live.conclude();
    teller.consider(&report, &ring, &stats, true, &|_| false, out);
    teller.drops(&stats, &ring, out);
    summary.told = teller.told();
    summary.evidence_files = teller.evidence_files();
    summary.drops = stats
        .iter()
        .map(|s| (s.name.clone(), s.kernel_dropped(), s.own_dropped()))
        .collect();
    summary.seconds = begin.elapsed().as_secs_f64();
    Ok(summary)
}

/// Takes in what a capture thread handed over; true for a packet.
fn take(
    feed: Feed,
    points: &mut Vec<Option<usize>>,
    live: &mut LiveAnalysis,
    ring: &mut ring::Ring,
) -> bool {
    match feed {
        Feed::Point {
            index,
            name,
            interface,
        } => {
            if points.len() <= index {
                points.resize(index + 1, None);
            }
            points[index] = Some(live.add_point(&name, interface));
            false
        }
        Feed::Packet {
            point,
            packet,
            frame,
        } => {
            let Some(pi) = points.get(point).copied().flatten() else {
                return false;
            };
            live.packet(pi, &packet);
            if let Some((link, data)) = frame {
                ring.push(pi, &packet, link, data);
            }
            true
        }
        Feed::Ended => false,
    }
}
