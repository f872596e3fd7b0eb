//! What a part hands the joining side survives CBOR whole, as it crosses
//! processes in the distributed job: every field of every conversation
//! (times to the nanosecond, masked hosts of printed captures, the
//! opener's TCP options and the banner bytes a report leaves out, DNS
//! answers, what followed a silence), the host events and the stats.

use stalltrace_conversations::{PartReport, Tracker, TrackerConfig};
use stalltrace_decode::Packet;
use stalltrace_testkit::generate::{packets, GenConfig};
use stalltrace_testkit::{decoded, network_faults, packets_from_text};

fn tracked(packets: &[Packet]) -> PartReport {
    let mut t = Tracker::part(3, TrackerConfig::default());
    for (n, p) in packets.iter().enumerate() {
        t.observe_at(
            p,
            stalltrace_conversations::Clock {
                seq: n as u64 + 1,
                now: p.meta.ts,
                went_back: false,
            },
        );
    }
    let (done, events, stats) = t.finish_part();
    PartReport {
        events: events.into_iter().map(|e| (3, e)).collect(),
        done,
        ended: vec![(3, stats)],
    }
}

fn roundtrip(r: &PartReport) -> PartReport {
    let mut buf = Vec::new();
    ciborium::into_writer(r, &mut buf).unwrap();
    ciborium::from_reader(buf.as_slice()).unwrap()
}

#[test]
fn every_fault_and_a_generated_capture_come_back_whole() {
    let mut cases: Vec<(String, Vec<Packet>)> = network_faults()
        .into_iter()
        .map(|(name, frames)| (name.to_string(), decoded(&frames)))
        .collect();
    let generated = packets(&GenConfig {
        sessions: 400,
        segments: 40,
        ..GenConfig::default()
    });
    cases.push(("generated".into(), generated));
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/env1-fw-eth1-outside.txt"
    ))
    .unwrap();
    cases.push(("seed (masked hosts)".into(), packets_from_text(&text)));
    let mut seen = [false; 5];
    for (name, packets) in &cases {
        let r = tracked(packets);
        assert!(!r.done.is_empty(), "{name}");
        for c in &r.done {
            seen[0] |= c.dns.as_ref().is_some_and(|d| !d.queries.is_empty());
            seen[1] |= c.signals.idle.is_some();
            seen[2] |= !c.first_head[1].is_empty();
            seen[3] |= c.syn_options.mss.is_some();
            seen[4] |= matches!(c.client.host, stalltrace_decode::Host::Named(_))
                || matches!(c.server.host, stalltrace_decode::Host::Named(_));
        }
        let back = roundtrip(&r);
        assert_eq!(back, r, "{name}");
    }
    // The cases hold what is easy to lose on the way.
    assert_eq!(
        seen, [true; 5],
        "DNS, idle, banner, SYN options, masked hosts"
    );
}
