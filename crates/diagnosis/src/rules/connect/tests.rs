//! The connection rules on crafted traces: unanswered, refused, storms.

use super::*;
use crate::testing::{diagnose, one};

#[test]
fn syns_nobody_answers_are_told_per_server_with_the_connect_timeout() {
    let all = diagnose(
        "\
10:00:00.000000 IP 192.0.2.10.50000 > 198.51.100.25.8080: Flags [S], seq 1000, win 64240, length 0
10:00:01.000000 IP 192.0.2.10.50000 > 198.51.100.25.8080: Flags [S], seq 1000, win 64240, length 0
10:00:03.000000 IP 192.0.2.10.50000 > 198.51.100.25.8080: Flags [S], seq 1000, win 64240, length 0
10:00:10.000000 IP 192.0.2.99.40000 > 198.51.100.26.80: Flags [S], seq 1, win 64240, length 0
10:00:10.000100 IP 198.51.100.26.80 > 192.0.2.99.40000: Flags [S.], seq 5, ack 2, win 64240, length 0
",
    );
    let f = one(&all, FindingId::ConnectionUnanswered);
    let Facts::Unanswered(u) = &f.facts else {
        panic!("{:?}", f.facts)
    };
    assert_eq!((u.attempts, u.syns), (1, 3));
    assert_eq!(u.span, TimeDelta::from_secs(3));
    assert_eq!(u.backoff[0].id, "linux-3.7");
    assert_eq!(u.connect_timeout, Some(TimeDelta::from_secs(127)));
    assert_eq!(f.evidence.len(), 3);
}

/// One of a thing is said in the singular: "for 1 attempts" and
/// "1 further ... were" were printed (issue 15).
#[test]
fn one_attempt_is_singular() {
    let r = RefusedFacts {
        client: "192.0.2.10:50000".parse().unwrap(),
        server: "198.51.100.25:8080".parse().unwrap(),
        attempts: 1,
        refuser: Refuser::Host,
        took: TimeDelta::from_millis(1000),
        syns: 3,
    };
    let said = words::refused(&r, Lang::En);
    assert!(
        said.details[0].starts_with("The client sent 3 SYNs for 1 attempt:"),
        "{said:?}"
    );
    let said = words::overflow(1, Lang::En);
    assert_eq!(
        said.summary,
        "1 further failed connection attempt was counted but not listed."
    );
}

#[test]
fn past_two_hundred_attempts_a_scan_is_one_finding() {
    let trace: String = (0..250)
        .map(|i| {
            format!(
                "10:00:00.{i:06} IP 192.0.2.66.40000 > 198.51.100.25.{}: Flags [S], seq 1, win 1024, length 0\n",
                1000 + i
            )
        })
        .collect();
    let all = diagnose(&trace);
    assert_eq!(all.len(), 1, "{all:#?}");
    let f = one(&all, FindingId::PortScan);
    let Facts::Storm(s) = &f.facts else {
        panic!("{:?}", f.facts)
    };
    assert_eq!(
        (s.attempts, s.ports, s.sources, s.refused),
        (250, 250, 1, false)
    );
}

/// The 2 GB bench: 841 clients, one every 0.2 s, whose SYNs to a
/// dropped port go unanswered, were told as a "SYN flood", and the
/// server's 2230 refused ident callbacks as another (issue 12): a
/// storm is fast, and a server's own callbacks are no storm.
#[test]
fn slow_failures_and_a_servers_callbacks_are_no_storm() {
    let mut trace = String::new();
    for i in 0..300u32 {
        let t = f64::from(i) * 0.2;
        let at = |d: f64| {
            let s = t + d;
            format!("10:{:02}:{:09.6}", (s / 60.0) as u32, s % 60.0)
        };
        let client = format!("192.0.2.{}.{}", 1 + i % 250, 20_000 + i);
        for d in [0.0, 1.0, 3.0] {
            trace += &format!(
                "{} IP {client} > 198.51.100.25.8080: Flags [S], seq {i}, win 64240, length 0\n",
                at(d)
            );
        }
    }
    // The capture goes on: the last clients' SYNs are not at its end.
    trace += "10:01:10.000000 IP 192.0.2.99.40000 > 198.51.100.26.80: Flags [S], seq 1, win 64240, length 0\n";
    trace += "10:01:10.000100 IP 198.51.100.26.80 > 192.0.2.99.40000: Flags [S.], seq 5, ack 2, win 64240, length 0\n";
    let mut all = diagnose(&trace);
    all.retain(|f| f.id != FindingId::ConnectionUnanswered);
    assert!(all.is_empty(), "{all:#?}");
    let all = diagnose(&trace);
    let f = one(&all, FindingId::ConnectionUnanswered);
    let Facts::Unanswered(u) = &f.facts else {
        panic!()
    };
    assert_eq!((u.attempts, u.syns), (300, 900));
}

#[test]
fn a_rst_with_the_hosts_own_ttl_is_the_host_refusing() {
    let mut s = stalltrace_testkit::scene::Scene::new();
    s.ttl("198.51.100.25", 61);
    s.connect(0.0, "192.0.2.10:50000", "198.51.100.25:80", 0.02);
    let isn = s.syns(1.0, "192.0.2.10:50001", "198.51.100.25:81", &[0.0]);
    s.refuse(1.02, "198.51.100.25:81", "192.0.2.10:50001", isn);
    let all = crate::testing::diagnose_frames(&s.frames());
    let f = one(&all, FindingId::ConnectionRefused);
    let Facts::Refused(r) = &f.facts else {
        panic!()
    };
    assert_eq!(r.refuser, Refuser::Host);
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(r.took, TimeDelta::from_millis(20));
}

#[test]
fn a_rst_with_another_ttl_is_a_device_in_the_hosts_name() {
    // The scene from testkit's fault catalogue.
    let all = crate::testing::diagnose_frames(&stalltrace_testkit::faults::refused_by_device());
    let f = one(&all, FindingId::ConnectionRefused);
    let Facts::Refused(r) = &f.facts else {
        panic!()
    };
    assert_eq!(
        r.refuser,
        Refuser::Device {
            ttl: 64,
            host_ttl: 61
        }
    );
    assert_eq!(f.severity, Severity::Warning);
    assert!(f
        .remedies
        .iter()
        .any(|r| r.lines.iter().any(|l| l.contains("81"))));
}

#[test]
fn an_icmp_error_refuses_and_is_not_unanswered() {
    let mut s = stalltrace_testkit::scene::Scene::new();
    s.syns(1.0, "192.0.2.10:50001", "198.51.100.25:81", &[0.0]);
    s.icmp_unreachable(
        1.001,
        "203.0.113.1",
        "192.0.2.10:50001",
        "198.51.100.25:81",
        etherparse::icmpv4::DestUnreachableHeader::FilterProhibited,
    );
    let all = crate::testing::diagnose_frames(&s.frames());
    assert!(all.iter().all(|f| f.id != FindingId::ConnectionUnanswered));
    let f = one(&all, FindingId::ConnectionRefused);
    let Facts::Refused(r) = &f.facts else {
        panic!()
    };
    assert!(matches!(
        r.refuser,
        Refuser::Icmp {
            reason: stalltrace_decode::IcmpReason::AdministrativelyProhibited,
            ..
        }
    ));
    assert_eq!(f.severity, Severity::Warning);
    assert!(matches!(
        &f.remedies[0].target,
        crate::remedy::Target::Answerer { .. }
    ));
}
