//! For the rules' own tests: a tcpdump trace in, findings out, through the
//! same stages `analyze` runs (one capture point).

use stalltrace_capture::{CaptureReader, Record};
use stalltrace_conversations::{Points, Tracker, TrackerConfig};
use stalltrace_decode::TimeDelta;
use stalltrace_matching::Matcher;

use crate::{Diagnoser, DiagnosisConfig, Finding, FindingId};

/// Every finding of a printed trace, with a threshold of 1 s.
pub(crate) fn diagnose(trace: &str) -> Vec<Finding> {
    diagnose_with(trace, TimeDelta::from_secs(1))
}

pub(crate) fn diagnose_with(trace: &str, threshold: TimeDelta) -> Vec<Finding> {
    run(trace.as_bytes().to_vec(), threshold)
}

/// Every finding of frames built by hand (a testkit scene).
pub(crate) fn diagnose_frames(frames: &[stalltrace_testkit::Frame]) -> Vec<Finding> {
    let mut pcap = Vec::new();
    stalltrace_testkit::write_pcap(&mut pcap, frames).expect("pcap");
    run(pcap, TimeDelta::from_secs(1))
}

fn run(bytes: Vec<u8>, threshold: TimeDelta) -> Vec<Finding> {
    let mut r = CaptureReader::from_reader("trace", Box::new(std::io::Cursor::new(bytes)))
        .expect("a trace");
    let mut t = Tracker::new(0, TrackerConfig::default());
    while let Some(rec) = r.next().expect("readable") {
        match rec {
            Record::Packet(p) => t.observe(&p),
            Record::Frame(f) => {
                if let Ok(p) = stalltrace_decode::decode_frame(f.link, f.data, f.meta) {
                    t.observe(&p);
                }
            }
        }
    }
    let points = Points::new(vec!["here".into()]);
    let mut d = Diagnoser::new(
        points.clone(),
        DiagnosisConfig {
            wait_threshold: threshold,
            ..DiagnosisConfig::default()
        },
    );
    for c in t.finish() {
        d.observe(c);
    }
    let m = Matcher::new(Default::default());
    d.flush(&m);
    d.finish(&m.finish(&points))
}

/// The one finding of `id`.
pub(crate) fn one(all: &[Finding], id: FindingId) -> &Finding {
    let v: Vec<&Finding> = all.iter().filter(|f| f.id == id).collect();
    assert_eq!(v.len(), 1, "{all:#?}");
    v[0]
}
