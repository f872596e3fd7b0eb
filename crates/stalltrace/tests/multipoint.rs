//! Several capture points analysed together.

mod common;

use std::fs;

use common::*;
use stalltrace_decode::Timestamp;
use stalltrace_diagnosis::FindingId;
use stalltrace_testkit::{frames_from_packets, packets_from_text, write_pcap, Frame, HostMap};

#[test]
fn seed_env1_both_sides_of_the_firewall() {
    let a = run(&[
        example("env1-fw-eth1-outside.txt"),
        example("env1-fw-eth2-inside.txt"),
    ]);
    let m = &a.report.matching;
    assert_eq!(
        m.paths,
        vec![vec!["env1-fw-eth2-inside", "env1-fw-eth1-outside"]]
    );
    assert_eq!(m.mappings.len(), 1);
    assert_eq!(m.mappings[0].inside.to_string(), "192.168.1.200:1523");
    assert_eq!(m.mappings[0].outside.to_string(), "218.104.68.171:42390");
    assert_eq!(m.mappings[0].inside_point, "env1-fw-eth2-inside");
    // One capture machine: the clocks agree, nothing is corrected.
    assert_eq!(m.offsets.len(), 1);
    assert!(!m.offsets[0].applied);
    assert!(m.offsets[0].offset.abs().nanos() < 100_000);

    // The same wait at both points is one finding, told from the outside.
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.point, "env1-fw-eth1-outside");
    assert_eq!(f.also_seen_at, vec!["env1-fw-eth2-inside"]);
    assert_eq!(
        f.path[0],
        "4 SYNs reached env1-fw-eth1-outside, none reached env1-fw-eth2-inside: the device between env1-fw-eth1-outside and env1-fw-eth2-inside (the NAT device: it translates 192.168.1.200:1523 ↔ 218.104.68.171:42390) dropped them."
    );
    let t = f.timeline.as_ref().unwrap();
    assert_eq!(
        t.points,
        vec!["env1-fw-eth2-inside", "env1-fw-eth1-outside"]
    );
    let ident: Vec<_> = t
        .rows
        .iter()
        .filter(|r| r.what.starts_with("ident SYN"))
        .collect();
    assert_eq!(ident.len(), 4);
    assert!(ident
        .iter()
        .all(|r| r.times[0].is_none() && r.times[1].is_some()));
    let greeting = t
        .rows
        .iter()
        .find(|r| r.what == "server data, 48 bytes")
        .unwrap();
    assert_eq!(greeting.packets, vec![Some(6), Some(10)]);

    let s = one(&a, FindingId::SynAckRetransmitted);
    assert!(
        s.summary
            .contains("passed every capture point (env1-fw-eth2-inside, env1-fw-eth1-outside)")
            || s.summary
                .contains("passed every capture point (env1-fw-eth1-outside, env1-fw-eth2-inside)"),
        "{}",
        s.summary
    );
    assert!(
        s.summary.contains("lost beyond env1-fw-eth1-outside"),
        "{}",
        s.summary
    );
}

#[test]
fn seed_env3_the_firewall_refused_it_itself() {
    let a = run(&[
        example("env3-fw-eth1-outside.txt"),
        example("env3-fw-eth2-inside.txt"),
    ]);
    let m = &a.report.matching;
    assert_eq!(m.mappings[0].inside.to_string(), "192.168.1.200:1643");
    assert_eq!(m.mappings[0].outside.to_string(), "218.104.68.171:33246");
    let f = one(&a, FindingId::CallbackLookup);
    assert_eq!(f.also_seen_at, vec!["env3-fw-eth2-inside"]);
    assert!(
        f.path[0].starts_with("The device between env3-fw-eth1-outside and env3-fw-eth2-inside (the NAT device: it translates 192.168.1.200:1643 ↔ 218.104.68.171:33246) refused the callback itself: the RST came from 218.104.68.171, the address the callback was sent to, 2.8 ms after the SYN, and the SYN never reached env3-fw-eth2-inside."),
        "{}",
        f.path[0]
    );
    assert!(find(&a, FindingId::ApplicationWait).is_empty());
}

fn shifted(frames: &[Frame], by_ns: i64) -> Vec<Frame> {
    frames
        .iter()
        .map(|f| Frame {
            ts: Timestamp::from_nanos(f.ts.nanos() + by_ns),
            data: f.data.clone(),
        })
        .collect()
}

#[test]
fn a_known_clock_shift_is_recovered_and_causes_no_false_drop() {
    let dir = tempfile::tempdir().unwrap();
    let mut hosts = HostMap::default();
    let outside = frames_from_packets(
        &packets_from_text(&fs::read_to_string(example("env1-fw-eth1-outside.txt")).unwrap()),
        &mut hosts,
    );
    let inside = frames_from_packets(
        &packets_from_text(&fs::read_to_string(example("env1-fw-eth2-inside.txt")).unwrap()),
        &mut hosts,
    );
    // The outside capture's clock runs 3.5 s ahead.
    let shift = 3_500_000_000;
    let out_path = dir.path().join("outside.pcap");
    let in_path = dir.path().join("inside.pcap");
    write_pcap(
        fs::File::create(&out_path).unwrap(),
        &shifted(&outside, shift),
    )
    .unwrap();
    write_pcap(fs::File::create(&in_path).unwrap(), &inside).unwrap();
    let a = run(&[out_path, in_path]);
    let o = &a.report.matching.offsets[0];
    assert_eq!(o.point, "outside");
    assert_eq!(o.reference, "inside");
    assert!(o.applied);
    assert!(
        (o.offset.nanos() + shift).abs() < 1_000_000,
        "offset {:?}",
        o.offset
    );
    let f = one(&a, FindingId::ApplicationWait);
    assert!(
        f.path[0].starts_with("4 SYNs reached outside, none reached inside"),
        "{}",
        f.path[0]
    );
    // On the merged timeline the outside times are back on the inside clock.
    let t = f.timeline.as_ref().unwrap();
    let syn = &t.rows[0];
    let gap = (syn.times[1].unwrap() - syn.times[0].unwrap()).nanos();
    assert!(gap.abs() < 1_000_000, "SYN {gap} ns apart after correction");

    // The same traffic twice, shifted: nothing is lost, so nothing is dropped.
    let env3 = frames_from_packets(
        &packets_from_text(&fs::read_to_string(example("env3-fw-eth2-inside.txt")).unwrap()),
        &mut HostMap::default(),
    );
    let p1 = dir.path().join("here.pcap");
    let p2 = dir.path().join("there.pcap");
    write_pcap(fs::File::create(&p1).unwrap(), &env3).unwrap();
    write_pcap(
        fs::File::create(&p2).unwrap(),
        &shifted(&env3, -750_000_000),
    )
    .unwrap();
    let a = run(&[p1, p2]);
    assert!(a.report.findings.is_empty(), "{:#?}", a.report.findings);
    let o = &a.report.matching.offsets[0];
    assert!(
        (o.offset.nanos().abs() - 750_000_000).abs() < 1_000_000,
        "{:?}",
        o
    );
    assert!(a.report.matching.mappings.is_empty());
}

#[test]
fn a_drifting_clock_is_measured() {
    // 20 minutes of sessions; the second capture's clock runs 100 ppm fast
    // and starts 2 s ahead.
    let dir = tempfile::tempdir().unwrap();
    let frames = stalltrace_testkit::sessions(30_000, 5);
    let t0 = frames[0].ts.nanos();
    let drifting: Vec<Frame> = frames
        .iter()
        .map(|f| {
            let t = f.ts.nanos();
            let skew = (t - t0) / 10_000; // 100 ppm
            Frame {
                ts: Timestamp::from_nanos(t + 2_000_000_000 + skew),
                data: f.data.clone(),
            }
        })
        .collect();
    let a_path = dir.path().join("steady.pcap");
    let b_path = dir.path().join("drifting.pcap");
    write_pcap(fs::File::create(&a_path).unwrap(), &frames).unwrap();
    write_pcap(fs::File::create(&b_path).unwrap(), &drifting).unwrap();
    let a = run(&[a_path, b_path]);
    let o = a
        .report
        .matching
        .offsets
        .iter()
        .find(|o| o.point == "drifting")
        .unwrap_or_else(|| panic!("{:?}", a.report.matching));
    let ppm = o.drift_ppm.expect("a drift over 20 minutes");
    assert!((ppm - 100.0).abs() < 2.0, "drift {ppm} ppm");
    assert!(o.applied);
    assert_eq!(o.samples, 30_000);
    assert!(
        a.report.findings.is_empty(),
        "{:#?}",
        a.report
            .findings
            .iter()
            .map(|f| &f.summary)
            .collect::<Vec<_>>()
    );
}
