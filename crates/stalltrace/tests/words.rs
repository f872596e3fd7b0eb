//! Every typed message exists in both languages: one value of each
//! variant of every fact the report words (warnings, capture errors,
//! evidence, parts of a wait, path verdicts, remedy targets), worded in
//! English (no Chinese in it) and in Chinese (Chinese in it, no English
//! prose, the copywriting conventions kept). Each list is built through an
//! exhaustive `match`, so a new variant does not compile until it is here.

use stalltrace_capture::bpf::FilterError;
use stalltrace_capture::{
    CaptureError, Damage, EventsDamage, Location, NotCapture, SkipReason, Warning, WarningKind,
};
use stalltrace_conversations::{Protocol, Side};
use stalltrace_decode::{Endpoint, Host, IcmpReason, Lang, TimeDelta};
use stalltrace_diagnosis::say;
use stalltrace_diagnosis::{
    Attempt, CallbackKind, Daemon, FindingId, Forwarded, NatSeen, Part, PathFact, Shows, Target,
};
use stalltrace_testkit::chinese_faults;

fn ep(s: &str) -> Endpoint {
    s.parse().unwrap()
}

fn host(s: &str) -> Host {
    s.parse().unwrap()
}

/// The English has no Chinese; the Chinese has Chinese and keeps the
/// conventions.
fn both(what: &str, en: String, zh: String) {
    let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    assert!(!cjk(&en), "{what}: Chinese in the English: {en}");
    assert!(cjk(&zh), "{what}: no Chinese in: {zh}");
    let faults = chinese_faults(&zh);
    assert!(faults.is_empty(), "{what}: {faults:?}");
}

fn warning_kinds() -> Vec<WarningKind> {
    use WarningKind::*;
    let all = vec![
        RecordTooLarge {
            record: 11,
            claimed: 4_294_967_280,
            cap: 16_777_216,
            analysed: 10,
        },
        RecordOverSnaplen {
            record: 3,
            captured: 1600,
            snaplen: 1500,
        },
        CutShort {
            record: Some(11),
            have: 20,
            needed: 60,
            analysed: 10,
        },
        CutShort {
            record: None,
            have: 4,
            needed: 8,
            analysed: 1,
        },
        Corrupt {
            damage: Damage::ByteOrderMagic { found: 0xdead_beef },
            analysed: 2,
        },
        InterfaceBlockTooShort,
        TimestampResolution { value: 0x7f },
        PacketBlockTooShort { length: 16 },
        PacketBlockOverrun {
            claimed: 100,
            holds: 40,
        },
        UnknownInterface {
            packet: 3,
            interface: 5,
        },
        UnreadableLines {
            count: 3,
            listed: vec![1, 4, 9],
            first: "Dear vendor,".into(),
        },
        NonIpLines { count: 2 },
        ContinuationLines { count: 7 },
        NoTimestamps,
        EmptyFile,
        NoIpTraffic,
        SkippedFrames {
            count: 4,
            reason: SkipReason::NotIp,
        },
        TimeWentBack { count: 1 },
        Snaplen { count: 4 },
        Fragments { count: 2 },
        BadChecksum { count: 1 },
        Evicted {
            count: 45_000,
            cap: 5_000,
        },
        Duplicates { count: 11 },
        OneDirection { count: 3 },
        OddSyns { count: 2 },
        OtherIp { count: 5 },
        NotACapture {
            why: NotCapture::NoPacketLines { lines: 2 },
        },
    ];
    for k in &all {
        match k {
            RecordTooLarge { .. }
            | RecordOverSnaplen { .. }
            | CutShort { .. }
            | Corrupt { .. }
            | InterfaceBlockTooShort
            | TimestampResolution { .. }
            | PacketBlockTooShort { .. }
            | PacketBlockOverrun { .. }
            | UnknownInterface { .. }
            | UnreadableLines { .. }
            | NonIpLines { .. }
            | ContinuationLines { .. }
            | NoTimestamps
            | EmptyFile
            | NoIpTraffic
            | SkippedFrames { .. }
            | TimeWentBack { .. }
            | Snaplen { .. }
            | Fragments { .. }
            | BadChecksum { .. }
            | Evicted { .. }
            | Duplicates { .. }
            | OneDirection { .. }
            | OddSyns { .. }
            | OtherIp { .. }
            | NotACapture { .. } => {}
        }
    }
    all
}

#[test]
fn every_warning_and_capture_error_in_both_languages() {
    for k in warning_kinds() {
        let w = Warning::new("cap.pcap", Some(Location::Byte(24)), k).at_point("outside");
        both(&format!("{:?}", w.kind), w.say(Lang::En), w.say(Lang::ZhCn));
    }
    let io = || std::io::Error::other("no such file");
    let errors = vec![
        CaptureError::Open {
            file: "a.pcap".into(),
            source: io(),
        },
        CaptureError::Read {
            file: "a.pcap".into(),
            offset: 24,
            source: io(),
        },
        CaptureError::UnknownFormat {
            file: "a.bin".into(),
            start: "00 01 02 03".into(),
        },
        CaptureError::Malformed {
            file: "a.pcap".into(),
            offset: 0,
            damage: Damage::PcapHeaderCut,
        },
        CaptureError::NoPacketLines {
            file: "a.txt".into(),
            lines: 3,
            first_line: 1,
            excerpt: "Dear vendor,".into(),
        },
        CaptureError::NoCapture {
            what: "captures/".into(),
            files: 2,
        },
        CaptureError::Filter {
            file: "a.txt".into(),
            source: FilterError::PrintedText {
                expr: "port 110".into(),
            },
        },
        CaptureError::Filter {
            file: "a.pcap".into(),
            source: FilterError::NoLibpcap {
                tried: "libpcap.so.0.8".into(),
            },
        },
        CaptureError::Filter {
            file: "a.pcap".into(),
            source: FilterError::LinkType {
                expr: "ether host 1:2:3:4:5:6".into(),
                link: 101,
                message: "ethernet address used in non-ether expression".into(),
            },
        },
        CaptureError::Filter {
            file: "ev/point=inside".into(),
            source: FilterError::Events {
                expr: "port 110".into(),
            },
        },
        CaptureError::Events {
            file: "ev/point=inside".into(),
            row: None,
            why: EventsDamage::NoFiles,
        },
        CaptureError::Events {
            file: "ev/point=inside/hour=2026-12-03T02/part-0.parquet".into(),
            row: Some(8192),
            why: EventsDamage::Library("EOF: file size 8 is less than footer".into()),
        },
        CaptureError::Events {
            file: "ev/point=inside/hour=2026-12-03T02/part-0.parquet".into(),
            row: Some(3),
            why: EventsDamage::Row {
                missing: "source port",
            },
        },
        CaptureError::Events {
            file: "ev/point=inside/hour=2026-12-03T02/part-0.parquet".into(),
            row: None,
            why: EventsDamage::OtherPoint {
                expected: "inside".into(),
            },
        },
        CaptureError::Events {
            file: "ev/point=inside/hour=2026-12-03T02/part-0.parquet".into(),
            row: None,
            why: EventsDamage::Columns,
        },
    ];
    for e in &errors {
        match e {
            CaptureError::Open { .. }
            | CaptureError::Read { .. }
            | CaptureError::UnknownFormat { .. }
            | CaptureError::Malformed { .. }
            | CaptureError::NoPacketLines { .. }
            | CaptureError::NoCapture { .. }
            | CaptureError::Filter { .. }
            | CaptureError::Events { .. } => {}
        }
        both(&format!("{e:?}"), e.say(Lang::En), e.say(Lang::ZhCn));
    }
    for d in [
        Damage::PcapHeaderCut,
        Damage::NoInterfaceBlock,
        Damage::SectionHeaderCut,
        Damage::ByteOrderMagic { found: 1 },
        Damage::BlockLength {
            block_type: 6,
            length: 13,
            max: 16_777_216,
        },
    ] {
        both(&format!("{d:?}"), d.say(Lang::En), d.say(Lang::ZhCn));
    }
}

#[test]
fn every_evidence_part_and_verdict_in_both_languages() {
    let (c, s) = (ep("192.0.2.10:40000"), ep("198.51.100.25:110"));
    let shows = vec![
        Shows::ClientSyn {
            client: c.clone(),
            server: s.clone(),
        },
        Shows::SynAck,
        Shows::HandshakeAck { seen_here: true },
        Shows::HandshakeAck { seen_here: false },
        Shows::SynAckAgain {
            after: Some(TimeDelta::from_secs(4)),
            ack_lost: false,
        },
        Shows::SynAckAgain {
            after: None,
            ack_lost: true,
        },
        Shows::AckAgain,
        Shows::Request {
            client: c.clone(),
            server: s.clone(),
        },
        Shows::Greeting {
            service: Some("POP3".into()),
            bytes: 48,
        },
        Shows::Answer {
            service: Some("HTTP".into()),
        },
        Shows::ClientGaveUp,
        Shows::CallbackFirst {
            kind: CallbackKind::Dns,
            protocol: Protocol::Udp,
            client: s.clone(),
            server: c.clone(),
        },
        Shows::CallbackAgain {
            kind: CallbackKind::Other,
            protocol: Protocol::Tcp,
            after: TimeDelta::from_secs(3),
        },
        Shows::Refusal {
            by: host("192.0.2.10"),
            after: TimeDelta::from_millis(3),
            icmp: Some(IcmpReason::PortUnreachable),
        },
        Shows::IcmpSetAside {
            by: host("192.0.2.10"),
            reason: IcmpReason::HostUnreachable,
        },
        Shows::Syn {
            client: c.clone(),
            server: s.clone(),
        },
        Shows::SynAgain {
            after: TimeDelta::from_secs(1),
        },
        Shows::Data {
            from: Side::Client,
            bytes: 78,
        },
        Shows::DataAgain {
            from: Side::Server,
            copy: 2,
            after: TimeDelta::from_millis(200),
        },
        Shows::DataAcked {
            by: Side::Server,
            after: TimeDelta::from_millis(1500),
        },
        Shows::ZeroWindow { by: Side::Client },
        Shows::WindowProbe { from: Side::Server },
        Shows::WindowOpen {
            by: Side::Client,
            after: TimeDelta::from_secs(3),
        },
        Shows::SmallSegment { from: Side::Client },
        Shows::DelayedAck {
            by: Side::Server,
            after: TimeDelta::from_millis(40),
        },
        Shows::Released { from: Side::Client },
        Shows::AfterIdle {
            from: Side::Client,
            idle: TimeDelta::from_secs(360),
        },
        Shows::ForeignRst {
            as_side: Side::Server,
            ttl: 64,
            side_ttl: 58,
        },
        Shows::Rst { from: Side::Server },
        Shows::SynAckLate {
            after: TimeDelta::from_secs(3),
        },
        Shows::DnsQuery {
            question: Some(stalltrace_decode::DnsQuestion {
                name: "www.example.org".into(),
                qtype: 1,
            }),
            server: s.clone(),
            after: TimeDelta::from_secs(5),
        },
        Shows::DnsResponse {
            by: s.clone(),
            rcode: 3,
            after: TimeDelta::from_secs(5),
        },
    ];
    for x in &shows {
        match x {
            Shows::ClientSyn { .. }
            | Shows::SynAck
            | Shows::HandshakeAck { .. }
            | Shows::SynAckAgain { .. }
            | Shows::AckAgain
            | Shows::Request { .. }
            | Shows::Greeting { .. }
            | Shows::Answer { .. }
            | Shows::ClientGaveUp
            | Shows::CallbackFirst { .. }
            | Shows::CallbackAgain { .. }
            | Shows::Refusal { .. }
            | Shows::IcmpSetAside { .. }
            | Shows::Syn { .. }
            | Shows::SynAgain { .. }
            | Shows::Data { .. }
            | Shows::DataAgain { .. }
            | Shows::DataAcked { .. }
            | Shows::ZeroWindow { .. }
            | Shows::WindowProbe { .. }
            | Shows::WindowOpen { .. }
            | Shows::SmallSegment { .. }
            | Shows::DelayedAck { .. }
            | Shows::Released { .. }
            | Shows::AfterIdle { .. }
            | Shows::ForeignRst { .. }
            | Shows::Rst { .. }
            | Shows::SynAckLate { .. }
            | Shows::DnsQuery { .. }
            | Shows::DnsResponse { .. } => {}
        }
        // Packet names (SYN, ACK) are the same in both; the rest is words.
        let zh = say::shows(x, Lang::ZhCn);
        assert!(chinese_faults(&zh).is_empty(), "{x:?}: {zh}");
    }
    let parts = vec![
        Part::HandshakeLoss,
        Part::RequestLoss,
        Part::ToServer,
        Part::FromServer,
        Part::ServerBefore,
        Part::Callback {
            index: 0,
            kind: CallbackKind::Ident,
            client: s.clone(),
            server: c.clone(),
        },
        Part::ServerBetween,
        Part::ServerAfter {
            timer_matches: Vec::new(),
        },
        Part::NotVisible,
        Part::Answering,
        Part::Handshake,
        Part::Ipv6Tried,
        Part::WindowShut {
            receiver: Side::Client,
        },
        Part::NameLookup,
    ];
    for p in &parts {
        match p {
            Part::HandshakeLoss
            | Part::RequestLoss
            | Part::ToServer
            | Part::FromServer
            | Part::ServerBefore
            | Part::Callback { .. }
            | Part::ServerBetween
            | Part::ServerAfter { .. }
            | Part::NotVisible
            | Part::Answering
            | Part::Handshake
            | Part::Ipv6Tried
            | Part::WindowShut { .. }
            | Part::NameLookup => {}
        }
        both(
            &format!("{p:?}"),
            say::part(p, Lang::En),
            say::part(p, Lang::ZhCn),
        );
    }
    let nat = Some(NatSeen {
        inside: ep("192.168.1.200:1523"),
        outside: ep("203.0.113.171:42390"),
    });
    let (a, b) = ("fw-eth1".to_string(), "fw-eth2".to_string());
    let verdicts = vec![
        PathFact::Dropped {
            attempts: 4,
            attempt: Attempt::Syn,
            reached: a.clone(),
            missed: b.clone(),
            nat: nat.clone(),
        },
        PathFact::Dropped {
            attempts: 1,
            attempt: Attempt::Query,
            reached: a.clone(),
            missed: b.clone(),
            nat: None,
        },
        PathFact::RefusedByDevice {
            reached: a.clone(),
            missed: b.clone(),
            nat: nat.clone(),
            by: host("203.0.113.171"),
            after: TimeDelta::from_millis(3),
        },
        PathFact::IcmpByDevice {
            reached: a.clone(),
            missed: b.clone(),
            nat: nat.clone(),
            by: host("203.0.113.171"),
            reason: IcmpReason::PortUnreachable,
            after: TimeDelta::from_secs(1),
        },
        PathFact::RefusedBefore {
            reached: a.clone(),
            missed: b.clone(),
            by: host("203.0.113.1"),
            after: TimeDelta::from_millis(2),
        },
        PathFact::AnsweredByDevice {
            reached: a.clone(),
            missed: b.clone(),
            nat: nat.clone(),
            after: TimeDelta::from_millis(1),
        },
        PathFact::ReachedAll {
            points: vec![a.clone(), b.clone()],
            forwarded: vec![Forwarded {
                near: b.clone(),
                far: a.clone(),
                from: ep("203.0.113.171:113"),
                to: ep("192.168.1.200:113"),
            }],
        },
        PathFact::OffPath {
            attempt: Attempt::Query,
            seen_at: vec![a.clone()],
            to: ep("198.51.100.53:53"),
        },
        PathFact::AddresseeDiscards {
            point: a.clone(),
            addressee: host("203.0.113.170"),
            attempts: 4,
            attempt: Attempt::Syn,
            ttl: 128,
        },
        PathFact::HopDelay {
            from: a.clone(),
            to: b.clone(),
            toward_server: TimeDelta::from_nanos(28_000),
            toward_client: TimeDelta::from_nanos(25_000),
        },
        PathFact::OffThisPath {
            point: "dmz".into(),
        },
        PathFact::RuledOut {
            points: vec![a.clone()],
            server: host("198.51.100.25"),
        },
        PathFact::CopiesLost {
            sender: Side::Client,
            reached: b.clone(),
            missed: a.clone(),
            at_reached: 4,
            at_missed: 1,
        },
        PathFact::RstBetween {
            reached: b.clone(),
            missed: a.clone(),
            as_side: Side::Server,
        },
    ];
    for v in &verdicts {
        match v {
            PathFact::Dropped { .. }
            | PathFact::RefusedByDevice { .. }
            | PathFact::IcmpByDevice { .. }
            | PathFact::RefusedBefore { .. }
            | PathFact::AnsweredByDevice { .. }
            | PathFact::ReachedAll { .. }
            | PathFact::OffPath { .. }
            | PathFact::AddresseeDiscards { .. }
            | PathFact::HopDelay { .. }
            | PathFact::OffThisPath { .. }
            | PathFact::RuledOut { .. }
            | PathFact::CopiesLost { .. }
            | PathFact::RstBetween { .. } => {}
        }
        both(
            &format!("{v:?}"),
            say::path(v, Lang::En),
            say::path(v, Lang::ZhCn),
        );
    }
    let targets = vec![
        Target::Resolver {
            host: host("198.51.100.25"),
        },
        Target::CallbackTarget {
            host: host("192.0.2.10"),
        },
        Target::NatDevice {
            outside: host("203.0.113.171"),
        },
        Target::DnsPath,
        Target::Server {
            host: host("198.51.100.25"),
        },
        Target::Host {
            host: host("198.51.100.25"),
        },
        Target::PathDevice {
            from: host("192.0.2.10"),
            to: host("198.51.100.25"),
        },
        Target::Answerer {
            host: host("203.0.113.1"),
        },
    ];
    for t in &targets {
        match t {
            Target::Daemon { .. }
            | Target::Program { .. }
            | Target::Resolver { .. }
            | Target::CallbackTarget { .. }
            | Target::NatDevice { .. }
            | Target::DnsPath
            | Target::Server { .. }
            | Target::Host { .. }
            | Target::PathDevice { .. }
            | Target::Answerer { .. } => {}
        }
        both(&format!("{t:?}"), t.say(Lang::En), t.say(Lang::ZhCn));
    }
    // A daemon or a program is named the same in both languages.
    for t in [
        Target::Daemon {
            daemon: Daemon::Sendmail,
        },
        Target::Program {
            name: "xinetd".into(),
        },
    ] {
        assert_eq!(t.say(Lang::En), t.say(Lang::ZhCn));
    }
}

/// Every rule's own sentences, on captures that make each of them, in
/// Chinese: no English prose, the conventions kept.
#[test]
fn every_rules_sentences_in_chinese() {
    use stalltrace::analyze::{analyze, AnalyzeOptions, InputSpec};
    use stalltrace_testkit::scene::Scene;
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    let mut write = |name: &str, frames: &[stalltrace_testkit::Frame]| {
        let p = dir.path().join(name);
        stalltrace_testkit::write_pcap(std::fs::File::create(&p).unwrap(), frames).unwrap();
        inputs.push(InputSpec::new(p));
    };
    write("scan.pcap", &stalltrace_testkit::scan(300));
    let mut flood = Vec::new();
    stalltrace_testkit::flood_into(500, |f| flood.push(f));
    write("flood.pcap", &flood);
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.10:40000", "198.51.100.25:25", 0.002);
    s.syns(
        0.003,
        "198.51.100.25:41000",
        "192.0.2.10:113",
        &[0.0, 1.0, 2.0, 3.0, 4.0],
    );
    s.send(
        6.003,
        &mut c,
        true,
        b"220 mail.example.org ESMTP Sendmail 8.17.1.9/8.17.1.9; Wed, 2 Dec 2026\r\n",
    );
    s.syns(
        1.0,
        "192.0.2.11:40001",
        "198.51.100.25:8080",
        &[0.0, 1.0, 3.0],
    );
    let mut d = s.connect(10.0, "192.0.2.12:40002", "198.51.100.25:110", 0.002);
    s.syns(10.003, "198.51.100.25:41001", "192.0.2.12:113", &[0.0]);
    s.refuse(10.004, "192.0.2.12:113", "198.51.100.25:41001", 0);
    s.send(10.2, &mut d, true, b"+OK ready\r\n");
    write("scene.pcap", &s.frames());
    for (name, frames) in stalltrace_testkit::network_faults() {
        write(&format!("{name}.pcap"), &frames);
    }
    let mut seen = std::collections::BTreeSet::new();
    for i in inputs {
        let a = analyze(&AnalyzeOptions {
            inputs: vec![i],
            ..Default::default()
        });
        for f in &a.report.findings {
            seen.insert(f.id.as_str());
            let w = f.words(Lang::ZhCn);
            let all = [
                vec![w.title.clone(), w.summary.clone()],
                w.details.clone(),
                w.path.clone(),
            ]
            .concat()
            .join("\n");
            let faults = chinese_faults(&all);
            assert!(faults.is_empty(), "{}: {faults:?}\n{all}", f.id.as_str());
            for r in &w.remedies {
                assert!(chinese_faults(&r.action).is_empty(), "{}", r.action);
            }
        }
    }
    let mut all: Vec<&str> = FindingId::ALL.iter().map(|i| i.as_str()).collect();
    all.sort();
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), all);
}
