//! A generated capture of interleaved sessions: the findings must be
//! exactly the generator's ground truth.

mod common;

use stalltrace::analyze::{analyze_readers, AnalyzeOptions, InputSpec};
use stalltrace_capture::CaptureReader;
use stalltrace_diagnosis::{CallbackKind, Fate, FindingId};
use stalltrace_testkit::generate::{generate, GenConfig};
use stalltrace_testkit::write_pcap;

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
        truth.stalled > 0 && truth.refused > 0 && truth.unanswered > 0 && truth.retransmissions > 0
    );
    let mut pcap = Vec::new();
    write_pcap(&mut pcap, &frames).unwrap();
    let reader =
        CaptureReader::from_reader("generated", Box::new(std::io::Cursor::new(pcap))).unwrap();
    let a = analyze_readers(
        vec![(
            InputSpec {
                path: "generated".into(),
                name: None,
            },
            reader,
        )],
        &AnalyzeOptions::default(),
    );
    let f = &a.report.findings;
    let stalls: Vec<_> = f
        .iter()
        .filter(|f| f.id == FindingId::ApplicationWait)
        .collect();
    assert_eq!(stalls.len() as u32, truth.stalled);
    for s in &stalls {
        let cb = s.cause.as_ref().expect("each stall names its callback");
        assert_eq!(cb.kind, CallbackKind::Ident);
        assert_eq!(cb.fate, Fate::Unanswered);
        // The callback went to the client of the stalled session.
        assert_eq!(
            cb.conversation.server.host,
            s.conversation.as_ref().unwrap().client.host
        );
        assert!((cb.give_up.unwrap().secs_f64() - 5.0).abs() < 0.01);
        assert!(cb
            .timer_matches
            .iter()
            .any(|t| t.who_en.starts_with("sendmail 8.10+")));
    }
    let refused = f
        .iter()
        .filter(|f| f.id == FindingId::CallbackLookup)
        .count() as u32;
    assert_eq!(refused, truth.refused);
    let unanswered: Vec<_> = f
        .iter()
        .filter(|f| f.id == FindingId::ConnectionUnanswered)
        .collect();
    assert_eq!(unanswered.len(), 1);
    assert!(unanswered[0].summary.starts_with(&format!(
        "{} connection attempts ({} SYNs)",
        truth.unanswered,
        truth.unanswered * 3
    )));
    assert_eq!(f.len() as u32, truth.stalled + truth.refused + 1);
    let st = &a.report.points[0].stats;
    assert_eq!(st.packets, truth.frames);
    assert_eq!(st.retransmissions, u64::from(truth.retransmissions));
    assert_eq!(
        st.conversations as u32,
        truth.sessions + truth.stalled + truth.refused
    );
}
