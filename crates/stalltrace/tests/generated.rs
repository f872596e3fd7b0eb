//! A generated capture of interleaved sessions: the findings must be
//! exactly the generator's ground truth.

mod common;

use common::en;

use stalltrace::analyze::{analyze_readers, AnalyzeOptions, InputSpec};
use stalltrace_capture::CaptureReader;
use stalltrace_decode::TimeDelta;
use stalltrace_diagnosis::{CallbackKind, Facts, Fate, FindingId, MAX_REPEATS_LISTED};
use stalltrace_testkit::generate::{generate, GenConfig};
use stalltrace_testkit::write_pcap;

fn capture(
    sessions: u32,
) -> (
    Vec<stalltrace_testkit::Frame>,
    stalltrace_testkit::generate::Truth,
) {
    let cfg = GenConfig {
        sessions,
        concurrency: 150,
        seed: 7,
        ..GenConfig::default()
    };
    let mut frames = Vec::new();
    let truth = generate(&cfg, |f| frames.push(f));
    (frames, truth)
}

/// Analyses a capture held in memory; `path` and `point` name it.
fn analysis_of(path: &str, point: Option<&str>, bytes: Vec<u8>) -> stalltrace::analyze::Analysis {
    let reader = CaptureReader::from_reader(path, Box::new(std::io::Cursor::new(bytes))).unwrap();
    analyze_readers(
        vec![(
            InputSpec {
                name: point.map(String::from),
                ..InputSpec::new(path)
            },
            reader,
        )],
        &AnalyzeOptions::default(),
    )
}

fn pcap_of(frames: &[stalltrace_testkit::Frame]) -> Vec<u8> {
    let mut pcap = Vec::new();
    write_pcap(&mut pcap, frames).unwrap();
    pcap
}

fn findings_of(name: &str, bytes: Vec<u8>) -> serde_json::Value {
    serde_json::to_value(&analysis_of(name, Some("p"), bytes).report.findings).unwrap()
}

/// A pcap file is folded as findings are made; a pcapng file (which may
/// hold several points) after they are merged. Both tell the same story.
#[test]
fn folding_as_found_equals_folding_at_the_end() {
    let (frames, truth) = capture(800);
    let mut pcapng = Vec::new();
    stalltrace_testkit::write_pcapng(&mut pcapng, "eth0", &frames).unwrap();
    let a = findings_of("a.pcap", pcap_of(&frames));
    let b = findings_of("b.pcapng", pcapng);
    assert_eq!(a, b);
    let count = a
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "application-wait")
        .map(|f| f["repeats"]["count"].as_u64().unwrap());
    assert_eq!(count, Some(u64::from(truth.stalled)));
}

#[test]
fn findings_equal_the_ground_truth() {
    let cfg = GenConfig {
        sessions: 1500,
        concurrency: 150,
        seed: 7,
        ..GenConfig::default()
    };
    let mut frames = Vec::new();
    let truth = generate(&cfg, |f| frames.push(f));
    assert!(
        truth.stalled > 0
            && truth.refused > 0
            && truth.unanswered > 0
            && truth.retransmissions > 0
            && truth.lost_requests > 0
            && truth.zero_windows > 0
            && truth.nagle > 0
    );
    let a = analysis_of("generated", None, pcap_of(&frames));
    let f = &a.report.findings;
    // Every stall is the same story: one finding, counted and listed.
    let stalls: Vec<_> = f
        .iter()
        .filter(|f| f.id == FindingId::ApplicationWait)
        .collect();
    assert_eq!(stalls.len(), 1, "{stalls:#?}");
    let s = stalls[0];
    let r = s.repeats.as_ref().expect("the stalls are counted");
    assert_eq!(r.count, u64::from(truth.stalled));
    assert!((r.total_cost.secs_f64() - 5.0 * f64::from(truth.stalled)).abs() < 0.1);
    let listed = (truth.stalled as usize - 1).min(MAX_REPEATS_LISTED);
    assert_eq!(r.others.len(), listed);
    assert_eq!(
        r.others_not_listed,
        u64::from(truth.stalled) - 1 - listed as u64
    );
    for o in &r.others {
        assert!((o.cost.unwrap().secs_f64() - 5.0).abs() < 0.01);
    }
    // Each occurrence is another session.
    let mut clients: Vec<_> = r.others.iter().map(|o| o.client.clone().unwrap()).collect();
    clients.push(s.conversation.as_ref().unwrap().client.clone());
    clients.sort();
    clients.dedup();
    assert_eq!(clients.len(), listed + 1);
    // The ladder marks a packet "again" only when it was sent before: the
    // ident SYN's two retries, not each new full-size segment.
    let rows = en(s).timeline;
    assert_eq!(
        rows.iter().filter(|w| *w == "ident SYN (again)").count(),
        2,
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .filter(|w| *w == "server data, 1460 bytes")
            .count()
            >= 10,
        "{rows:?}"
    );
    let cb = s.cause().expect("the stall names its callback");
    assert_eq!(cb.kind, CallbackKind::Ident);
    assert_eq!(cb.fate, Fate::Unanswered);
    // The callback went to the client of the stalled session.
    assert_eq!(
        cb.conversation.server.host,
        s.conversation.as_ref().unwrap().client.host
    );
    assert!((cb.give_up.as_ref().unwrap().after.secs_f64() - 5.0).abs() < 0.01);
    assert!(cb.timer_matches.iter().any(|t| t.id == "sendmail-ident"));
    let refused: Vec<_> = f
        .iter()
        .filter(|f| f.id == FindingId::CallbackLookup)
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].repeats.as_ref().unwrap().count,
        u64::from(truth.refused)
    );
    let unanswered: Vec<_> = f
        .iter()
        .filter(|f| f.id == FindingId::ConnectionUnanswered)
        .collect();
    assert_eq!(unanswered.len(), 1);
    assert!(en(unanswered[0]).summary.starts_with(&format!(
        "{} connection attempts ({} SYNs)",
        truth.unanswered,
        truth.unanswered * 3
    )));
    // The network's faults, each counted exactly: a request lost twice
    // (0.6 s of network, the server's own time a few hundred microseconds),
    // a window shut 1.5 s, three commands held 40 ms each. The spurious
    // retransmissions (of data already acknowledged) cost nobody a wait
    // and are not told.
    let told = |id: FindingId| -> Vec<&stalltrace_diagnosis::Finding> {
        f.iter().filter(|f| f.id == id).collect()
    };
    let count = |v: &[&stalltrace_diagnosis::Finding]| -> u64 {
        v.iter()
            .map(|f| f.repeats.as_ref().map_or(1, |r| r.count))
            .sum()
    };
    let lost = told(FindingId::Retransmission);
    assert_eq!(lost.len(), 1, "{lost:#?}");
    assert_eq!(count(&lost), u64::from(truth.lost_requests));
    let Facts::Loss(x) = &lost[0].facts else {
        panic!()
    };
    assert_eq!((x.copies, x.acknowledged, x.tail), (3, true, true));
    assert_eq!(lost[0].cost, Some(TimeDelta::from_millis(600)));
    assert!(x.server_time.unwrap() < TimeDelta::from_millis(1));
    let shut = told(FindingId::ZeroWindow);
    assert_eq!(count(&shut), u64::from(truth.zero_windows));
    assert_eq!(shut[0].cost, Some(TimeDelta::from_millis(1500)));
    let held = told(FindingId::NagleDelayedAck);
    assert_eq!(count(&held), u64::from(truth.nagle));
    let Facts::Nagle(n) = &held[0].facts else {
        panic!()
    };
    assert_eq!((n.events, n.typical), (3, TimeDelta::from_millis(40)));
    assert_eq!(
        f.len(),
        6,
        "{:#?}",
        f.iter().map(|f| f.id).collect::<Vec<_>>()
    );
    let st = &a.report.points[0].stats;
    assert_eq!(st.packets, truth.frames);
    assert_eq!(st.retransmissions, u64::from(truth.retransmissions));
    assert_eq!(
        st.conversations as u32,
        truth.sessions + truth.stalled + truth.refused
    );
}

/// The generator's clean sessions (every fault turned off, spurious
/// resends kept): none of the network rules fires (issue 12).
#[test]
fn clean_sessions_make_no_network_finding() {
    let off = u32::MAX;
    let cfg = GenConfig {
        sessions: 1500,
        concurrency: 150,
        seed: 11,
        stalled_every: off,
        refused_every: off,
        unanswered_every: off,
        lost_request_every: off,
        zero_window_every: off,
        nagle_every: off,
        ..GenConfig::default()
    };
    let mut frames = Vec::new();
    let truth = generate(&cfg, |f| frames.push(f));
    assert!(truth.retransmissions > 0);
    let a = analysis_of("clean", None, pcap_of(&frames));
    assert!(
        a.report.findings.is_empty(),
        "{:#?}",
        a.report.findings.iter().map(|f| f.id).collect::<Vec<_>>()
    );
}

/// A quarter of an hour of a busy server, fed through the stages by hand:
/// what the diagnosis holds follows the sessions in progress and the
/// callbacks that may still explain a wait, not the length of the capture.
#[test]
fn the_diagnosis_holds_what_is_in_progress_not_the_capture() {
    use stalltrace_conversations::{LiveView, Tracker, TrackerConfig};
    use stalltrace_diagnosis::{Diagnoser, DiagnosisConfig};
    use stalltrace_matching::Matcher;

    // 25 sessions a second for 16 minutes: more than the tracker's idle
    // timeout (300 s) and the callbacks' retention (900 s).
    let cfg = GenConfig {
        sessions: 24_000,
        concurrency: 10,
        seed: 3,
        ..GenConfig::default()
    };
    let mut tracker = Tracker::new(0, TrackerConfig::default());
    let matcher = Matcher::new(Default::default());
    let points = stalltrace_conversations::Points::new(vec!["p".into()]);
    let mut diag = Diagnoser::new(
        points.clone(),
        DiagnosisConfig {
            one_point: true,
            resolve_delay: TrackerConfig::default().idle_timeout
                + TrackerConfig::default().closed_linger,
            ..DiagnosisConfig::default()
        },
    );
    let (mut n, mut most_held, mut first, mut last) = (0u64, 0usize, None, None);
    let truth = generate(&cfg, |f| {
        n += 1;
        let p = f.decode(n);
        first.get_or_insert(f.ts);
        last = Some(f.ts);
        tracker.observe(&p);
        if n % 4096 == 0 {
            for c in tracker.take_finished() {
                diag.observe(c);
            }
            diag.advance(0, f.ts, &matcher, Some(&tracker as &dyn LiveView));
            most_held = most_held.max(diag.held());
        }
    });
    let span = (last.unwrap() - first.unwrap()).secs_f64();
    assert!(span > 950.0, "the capture spans {span} s");
    // Sessions from the last ~10 s, the waits behind callbacks still
    // unanswered (their 300 s idle timeout), the callbacks those may need,
    // and the unanswered attempts: about 1,100, of 24,000 sessions and
    // 1,070 callbacks.
    assert!(most_held < 1_300, "{most_held} conversations held at once");
    for c in tracker.finish() {
        diag.observe(c);
    }
    let end = last
        .unwrap()
        .saturating_add(stalltrace_decode::TimeDelta::from_secs(1));
    diag.advance(0, end, &matcher, None);
    diag.flush(&matcher);
    let findings = diag.finish(&matcher.finish(&points));
    let stalls = findings
        .iter()
        .find(|f| f.id == FindingId::ApplicationWait)
        .unwrap();
    assert_eq!(
        stalls.repeats.as_ref().unwrap().count,
        u64::from(truth.stalled)
    );
}

/// The whole text report of a generated capture, pinned: any change to a
/// finding (an optimisation that changed an answer) shows here.
#[test]
fn the_report_of_a_generated_capture_is_pinned() {
    let (frames, _) = capture(800);
    let a = analysis_of("generated", None, pcap_of(&frames));
    let text = stalltrace_report::text::render(
        &a.report,
        &stalltrace_report::text::TextOptions {
            width: 100,
            color: false,
            lang: stalltrace_diagnosis::Lang::En,
        },
    );
    insta::assert_snapshot!("generated-800", text);
}
