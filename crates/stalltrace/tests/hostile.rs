//! Hostile and broken captures: bounded, counted, and the valid part still
//! analysed.

mod common;

use std::fs;

use common::*;
use stalltrace::analyze::{analyze, AnalyzeOptions, InputSpec};
use stalltrace_capture::write::PcapWriter;
use stalltrace_decode::{LinkType, Timestamp};
use stalltrace_diagnosis::FindingId;
use stalltrace_testkit::{
    flood_into, frames_from_packets, packets_from_text, scan, Frame, HostMap,
};

fn seed_frames() -> Vec<Frame> {
    let text = fs::read_to_string(example("env1-fw-eth1-outside.txt")).unwrap();
    frames_from_packets(&packets_from_text(&text), &mut HostMap::default())
}

fn warnings(a: &stalltrace::analyze::Analysis) -> String {
    a.report
        .warnings
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_syn_flood_is_one_finding_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    flood_into(50_000, |f| frames.push(f));
    let p = pcap(dir.path(), "flood.pcap", &frames);
    let mut opts = AnalyzeOptions {
        inputs: vec![InputSpec::new(p)],
        ..Default::default()
    };
    opts.tracker.max_live = 5_000;
    let a = analyze(&opts);
    assert_eq!(
        a.report.findings.len(),
        1,
        "{:#?}",
        a.report
            .findings
            .iter()
            .map(|f| en(f).summary)
            .collect::<Vec<_>>()
    );
    let f = &a.report.findings[0];
    assert_eq!(f.id, FindingId::SynFlood);
    let summary = en(f).summary;
    assert!(
        summary.starts_with("SYN flood: 50000 connection attempts (50000 SYNs) from 254 sources"),
        "{summary}"
    );
    assert!(
        summary.ends_with("most went to 203.0.113.80:80 (50000)."),
        "{summary}"
    );
    let st = &a.report.points[0].stats;
    assert_eq!(st.conversations, 50_000);
    assert_eq!(st.evicted, 45_000);
    assert!(warnings(&a).contains("45000 conversations were closed early, the longest idle first, to stay within --max-conversations 5000"));
}

#[test]
fn a_port_scan_is_one_finding() {
    let dir = tempfile::tempdir().unwrap();
    let p = pcap(dir.path(), "scan.pcap", &scan(1_000));
    let a = run(&[p]);
    let f = one(&a, FindingId::PortScan);
    let summary = en(f).summary;
    assert!(
        summary.starts_with("Port scan: 198.51.100.66 (1000) probed 1000 ports"),
        "{summary}"
    );
    assert_eq!(a.report.findings.len(), 1);
}

#[test]
fn frames_recorded_twice_are_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let frames = seed_frames();
    let doubled: Vec<Frame> = frames
        .iter()
        .flat_map(|f| {
            [
                Frame {
                    ts: f.ts,
                    data: f.data.clone(),
                },
                Frame {
                    ts: Timestamp::from_nanos(f.ts.nanos() + 20_000),
                    data: f.data.clone(),
                },
            ]
        })
        .collect();
    let clean = run(&[pcap(dir.path(), "clean.pcap", &frames)]);
    let twice = run(&[pcap(dir.path(), "twice.pcap", &doubled)]);
    assert!(warnings(&twice).contains("11 frames were recorded twice (same IPv4 ID and contents within 1 ms) and counted once"), "{}", warnings(&twice));
    let strip = |a: &stalltrace::analyze::Analysis| {
        serde_json::to_string(&a.report.findings)
            .unwrap()
            .replace("\"twice\"", "\"clean\"")
    };
    // Evidence numbers differ (every other record); the diagnosis does not.
    let ids = |a: &stalltrace::analyze::Analysis| {
        a.report
            .findings
            .iter()
            .map(|f| (f.id, f.cost))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&twice), ids(&clean));
    assert!(strip(&twice).contains("\"fate\":{\"kind\":\"unanswered\"}"));
    assert_eq!(twice.report.points[0].stats.packets, 11);
}

#[test]
fn a_bad_ip_checksum_is_reported_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = seed_frames();
    // Corrupt the IPv4 checksum of the greeting (Ethernet 14 + 10 bytes in).
    frames[9].data[24] ^= 0xff;
    let a = run(&[pcap(dir.path(), "badsum.pcap", &frames)]);
    assert!(
        warnings(&a).contains("1 IPv4 header had a bad checksum"),
        "{}",
        warnings(&a)
    );
    assert_eq!(
        one(&a, FindingId::ApplicationWait)
            .evidence
            .last()
            .unwrap()
            .packet,
        10
    );
}

#[test]
fn time_going_backwards_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(example("env1-fw-eth1-outside.txt")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(6, 7);
    let p = dir.path().join("swapped.txt");
    fs::write(&p, lines.join("\n")).unwrap();
    let a = run(&[p]);
    assert!(
        warnings(&a).contains("1 packet is timestamped earlier than the packet before them"),
        "{}",
        warnings(&a)
    );
    assert!(one(&a, FindingId::ApplicationWait).cause().is_some());
}

#[test]
fn snaplen_cuts_fragments_and_unknown_link_types_are_counted() {
    // The seed's own [|tcp] lines are cut by snaplen.
    let a = run(&[example("env1-fw-eth1-outside.txt")]);
    assert!(
        warnings(&a).contains("4 packets were cut short by the capture (snaplen)"),
        "{}",
        warnings(&a)
    );

    let dir = tempfile::tempdir().unwrap();
    // A first and a later fragment of one datagram, and a frame of an
    // unknown link type in a file of its own.
    let mut frag1 = vec![
        0x45, 0, 0, 28, 0x12, 0x34, 0x20, 0x00, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
    ];
    frag1.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 16, 0, 0]);
    let mut frag2 = vec![
        0x45, 0, 0, 28, 0x12, 0x34, 0x00, 0x01, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
    ];
    frag2.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let p = dir.path().join("frags.pcap");
    let mut w = PcapWriter::new(fs::File::create(&p).unwrap(), LinkType::RAW, 65_535).unwrap();
    w.write(Timestamp::from_nanos(1), &frag1, 28).unwrap();
    w.write(Timestamp::from_nanos(2), &frag2, 28).unwrap();
    drop(w);
    let q = dir.path().join("odd.pcap");
    let mut w = PcapWriter::new(fs::File::create(&q).unwrap(), LinkType(147), 65_535).unwrap();
    w.write(Timestamp::from_nanos(1), &[0u8; 40], 40).unwrap();
    drop(w);
    let a = run(&[p, q]);
    let all = warnings(&a);
    assert!(all.contains("2 IP fragments"), "{all}");
    assert!(
        all.contains("1 frame skipped: unknown link type 147"),
        "{all}"
    );
    // Both are points: the fragments' one analysed, the unknown link
    // type's one read with no IP traffic, and said so (issue 11).
    assert_eq!(a.report.points.len(), 2);
    let odd = a.report.points.iter().find(|p| p.name == "odd").unwrap();
    assert_eq!((odd.name.as_str(), odd.stats.packets), ("odd", 0));
    assert!(all.contains("odd.pcap: odd: no IP traffic here"), "{all}");
}
