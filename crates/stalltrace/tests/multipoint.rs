//! Several capture points analysed together.

mod common;

use std::fs;

use common::*;
use stalltrace_decode::Timestamp;
use stalltrace_diagnosis::{
    Attempt, CallbackKind, FindingId, NatSeen, PacketKind, PathFact, Sender, Subject,
};
use stalltrace_matching::MatchEvidence;
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
        PathFact::Dropped {
            attempts: 4,
            attempt: Attempt::Syn,
            reached: "env1-fw-eth1-outside".into(),
            missed: "env1-fw-eth2-inside".into(),
            nat: Some(NatSeen {
                inside: "192.168.1.200:1523".parse().unwrap(),
                outside: "218.104.68.171:42390".parse().unwrap(),
            }),
        }
    );
    let words = en(f);
    assert_eq!(
        words.path[0],
        "4 SYNs reached env1-fw-eth1-outside, none reached env1-fw-eth2-inside: the device between env1-fw-eth1-outside and env1-fw-eth2-inside (the NAT device: it translates 192.168.1.200:1523 ↔ 218.104.68.171:42390) dropped them."
    );
    // Regression (issue 11): the headline says what the two points prove.
    assert!(
        words.summary.ends_with(
            "dropped by the NAT device between env1-fw-eth1-outside and env1-fw-eth2-inside."
        ),
        "{}",
        words.summary
    );
    assert!(!words
        .summary
        .contains("never answered at this capture point"));
    let t = f.timeline.as_ref().unwrap();
    assert_eq!(
        t.points,
        vec!["env1-fw-eth2-inside", "env1-fw-eth1-outside"]
    );
    let ident: Vec<_> = t
        .rows
        .iter()
        .filter(|r| {
            r.subject
                == Subject::Callback {
                    kind: Some(CallbackKind::Ident),
                }
                && r.packet == PacketKind::Syn
        })
        .collect();
    assert_eq!(ident.len(), 4);
    assert!(ident
        .iter()
        .all(|r| r.times[0].is_none() && r.times[1].is_some()));
    let greeting = t
        .rows
        .iter()
        .find(|r| {
            r.subject == Subject::Connection
                && r.sender == Sender::Server
                && r.packet == PacketKind::Data { bytes: 48 }
        })
        .unwrap();
    assert_eq!(greeting.packets, vec![Some(6), Some(10)]);

    let s = one(&a, FindingId::SynAckRetransmitted);
    let summary = en(s).summary;
    assert!(
        summary.contains("passed every capture point (env1-fw-eth2-inside, env1-fw-eth1-outside)")
            || summary
                .contains("passed every capture point (env1-fw-eth1-outside, env1-fw-eth2-inside)"),
        "{summary}"
    );
    assert!(
        summary.contains("lost beyond env1-fw-eth1-outside"),
        "{summary}"
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
        matches!(&f.path[0], PathFact::RefusedByDevice { reached, missed, nat: Some(_), .. }
        if reached == "env3-fw-eth1-outside" && missed == "env3-fw-eth2-inside")
    );
    let path = &en(f).path[0];
    assert!(
        path.starts_with("The device between env3-fw-eth1-outside and env3-fw-eth2-inside (the NAT device: it translates 192.168.1.200:1643 ↔ 218.104.68.171:33246) refused the callback itself: the RST came from 218.104.68.171, the address the callback was sent to, 2.8 ms after the SYN, and the SYN never reached env3-fw-eth2-inside."),
        "{path}"
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
        matches!(&f.path[0], PathFact::Dropped { attempts: 4, reached, missed, .. } if reached == "outside" && missed == "inside"),
        "{:?}",
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
            .map(|f| en(f).summary)
            .collect::<Vec<_>>()
    );
}

#[test]
fn through_a_device_that_rewrites_sequence_numbers() {
    // As a Cisco ASA does by default: the client's sequence numbers differ
    // between the inside and the outside capture.
    let dir = tempfile::tempdir().unwrap();
    let mut hosts = HostMap::default();
    let outside =
        packets_from_text(&fs::read_to_string(example("env1-fw-eth1-outside.txt")).unwrap());
    let mut inside =
        packets_from_text(&fs::read_to_string(example("env1-fw-eth2-inside.txt")).unwrap());
    let client = stalltrace_decode::Host::V4("192.168.1.200".parse().unwrap());
    for p in &mut inside {
        if let stalltrace_decode::Transport::Tcp(t) = &mut p.transport {
            if p.src == client {
                t.seq = t.seq.map(|s| s.wrapping_add(0x1234_5678));
            } else {
                t.ack = t.ack.map(|a| a.wrapping_add(0x1234_5678));
            }
        }
    }
    let out_path = dir.path().join("outside.pcap");
    let in_path = dir.path().join("inside.pcap");
    write_pcap(
        fs::File::create(&out_path).unwrap(),
        &frames_from_packets(&outside, &mut hosts),
    )
    .unwrap();
    write_pcap(
        fs::File::create(&in_path).unwrap(),
        &frames_from_packets(&inside, &mut hosts),
    )
    .unwrap();
    let a = run(&[out_path, in_path]);
    let m = &a.report.matching;
    assert_eq!(m.mappings.len(), 1, "{:?}", m.mappings);
    assert_eq!(m.mappings[0].inside.to_string(), "192.168.1.200:1523");
    assert_eq!(
        m.mappings[0].evidence,
        MatchEvidence::TcpPayload { server_port: 110 }
    );
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.also_seen_at, vec!["inside"]);
    assert!(
        en(f).path[0].starts_with("4 SYNs reached outside, none reached inside"),
        "{:?}",
        f.path[0]
    );
}

#[test]
fn a_udp_exchange_is_matched_through_nat() {
    use etherparse::PacketBuilder;
    let dir = tempfile::tempdir().unwrap();
    let udp =
        |src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, id: u16, payload: &[u8], t: i64| {
            let mut ip =
                etherparse::Ipv4Header::new(0, 64, etherparse::IpNumber::UDP, src, dst).unwrap();
            ip.identification = id;
            let mut v = Vec::new();
            PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ip(etherparse::IpHeaders::Ipv4(ip, Default::default()))
                .udp(sport, dport)
                .write(&mut v, payload)
                .unwrap();
            Frame {
                ts: Timestamp::from_nanos(1_700_000_000_000_000_000 + t),
                data: v,
            }
        };
    let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01";
    let answer = b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00";
    let inside = vec![
        udp(
            [192, 168, 1, 200],
            40_000,
            [198, 51, 100, 53],
            53,
            77,
            query,
            0,
        ),
        udp(
            [198, 51, 100, 53],
            53,
            [192, 168, 1, 200],
            40_000,
            900,
            answer,
            20_000_000,
        ),
    ];
    let outside = vec![
        udp(
            [203, 0, 113, 171],
            20_001,
            [198, 51, 100, 53],
            53,
            77,
            query,
            50_000,
        ),
        udp(
            [198, 51, 100, 53],
            53,
            [203, 0, 113, 171],
            20_001,
            900,
            answer,
            19_950_000,
        ),
    ];
    let a = run(&[
        pcap(dir.path(), "inside.pcap", &inside),
        pcap(dir.path(), "outside.pcap", &outside),
    ]);
    let m = &a.report.matching;
    assert_eq!(m.mappings.len(), 1, "{:?}", m.mappings);
    assert_eq!(
        (
            m.mappings[0].inside.to_string(),
            m.mappings[0].outside.to_string()
        ),
        ("192.168.1.200:40000".into(), "203.0.113.171:20001".into())
    );
    assert_eq!(
        m.mappings[0].evidence,
        MatchEvidence::UdpPayload { server_port: 53 }
    );
    assert_eq!(m.paths, vec![vec!["inside", "outside"]]);
}
