//! DNS as a first-class protocol (issue 13): names decoded from the wire
//! and from tcpdump's print, lookups judged on their own, the A/AAAA race,
//! reverse lookups named by the address they reverse.

mod common;

use common::*;
use stalltrace_decode::TimeDelta;
use stalltrace_diagnosis::{Facts, FindingId, Part};
use stalltrace_testkit::scene::{dns_answer, dns_query, Scene};

/// A capture of UDP alone, one answer 5 s late: a DNS finding, from the
/// packets' bytes; the same lookup answered at once: none, and the
/// report says UDP other than DNS is not judged.
#[test]
fn a_late_answer_on_udp_alone_is_a_finding_and_a_fast_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let (c, r) = ("192.0.2.10:40000", "198.51.100.53:53");
    s.udp(0.0, c, r, &dns_query(9, "mail.example.org", 15));
    s.udp(5.0, c, r, &dns_query(9, "mail.example.org", 15));
    s.udp(5.2, r, c, &dns_answer(9, "mail.example.org", 15, 0, &[]));
    let a = run(&[pcap(dir.path(), "late.pcap", &s.frames())]);
    let f = one(&a, FindingId::DnsSlow);
    let Facts::DnsLookup(x) = &f.facts else {
        panic!()
    };
    assert_eq!(x.question.as_ref().unwrap().name, "mail.example.org");
    assert_eq!(x.question.as_ref().unwrap().type_name(), "MX");
    assert_eq!(x.waited, TimeDelta::from_millis(5200));
    assert_eq!(x.resolver[0].id, "glibc");
    assert!(
        en(f)
            .summary
            .starts_with("The lookup of mail.example.org MX? by 192.0.2.10 took 5.2 s"),
        "{}",
        en(f).summary
    );

    let mut s = Scene::new();
    s.udp(0.0, c, r, &dns_query(9, "mail.example.org", 15));
    s.udp(0.01, r, c, &dns_answer(9, "mail.example.org", 15, 0, &[]));
    s.udp(0.02, "192.0.2.10:5000", "198.51.100.9:5000", b"not dns");
    let p = pcap(dir.path(), "fast.pcap", &s.frames());
    let a = run(std::slice::from_ref(&p));
    assert!(a.report.findings.is_empty(), "{:#?}", a.report.findings);
    let o = std::process::Command::new(bin())
        .args(["analyze", p.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("No stall found"), "{out}");
    assert!(
        out.contains("Of UDP, only DNS is judged: 3 UDP datagrams were read."),
        "{out}"
    );
}

/// sshd's reverse lookup of its client before its banner: the callback
/// is named by the address it reverses, and sshd's setting comes first.
#[test]
fn a_reverse_lookup_before_a_banner_names_the_client_it_reverses() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.10:50000", "198.51.100.22:22", 0.002);
    let ptr = "10.2.0.192.in-addr.arpa";
    for at in [0.003, 5.003] {
        s.udp(
            at,
            "198.51.100.22:41000",
            "198.51.100.53:53",
            &dns_query(77, ptr, 12),
        );
    }
    s.send(10.004, &mut c, true, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    let a = run(&[pcap(dir.path(), "ssh.pcap", &s.frames())]);
    let f = one(&a, FindingId::ApplicationWait);
    let cb = f.cause().unwrap();
    let r = cb.reverses.as_ref().unwrap();
    assert_eq!(r.address.to_string(), "192.0.2.10");
    assert!(r.is_client);
    assert!(
        en(f)
            .summary
            .contains("a reverse DNS lookup of 192.0.2.10, the client as the server sees it"),
        "{}",
        en(f).summary
    );
    assert_eq!(f.remedies[0].lines, ["UseDNS no"]);
    // The lookup is told with the wait, not again on its own.
    assert!(find(&a, FindingId::DnsUnanswered).is_empty());
}

/// Regression: a server that goes on well after its resolver gave up (the
/// real sshd answered 14.4 s after the request, its lookup given up at
/// 10 s) had all 14.4 s booked to the lookup. glibc's schedule (two
/// queries 5 s apart) ends the lookup at 10 s; the rest is the server's.
#[test]
fn a_lookup_ends_when_its_resolver_gives_up_and_the_rest_is_the_servers() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.10:50000", "198.51.100.22:22", 0.002);
    s.send(0.01, &mut c, true, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    s.send(0.02, &mut c, false, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    let ptr = "10.2.0.192.in-addr.arpa";
    for at in [0.05, 5.05] {
        s.udp(
            at,
            "198.51.100.22:41000",
            "198.51.100.53:53",
            &dns_query(78, ptr, 12),
        );
    }
    s.send(0.04, &mut c, false, &[0u8; 68]);
    s.send(14.44, &mut c, true, &[1u8; 76]);
    let a = run(&[pcap(dir.path(), "ssh.pcap", &s.frames())]);
    let f = one(&a, FindingId::ApplicationWait);
    let cb = f.cause().unwrap();
    assert_eq!(cb.lasted, TimeDelta::from_secs(10));
    assert!(cb.give_up.as_ref().unwrap().by_timer);
    let after: Vec<_> = f
        .breakdown
        .iter()
        .filter(|p| matches!(p.part, Part::ServerAfter { .. }))
        .collect();
    assert_eq!(after.len(), 1, "{:#?}", f.breakdown);
    assert!(
        (after[0].duration.secs_f64() - 4.39).abs() < 0.01,
        "{:?}",
        after[0].duration
    );
}

/// Regression: the same lookup seen at two capture points was two
/// findings, and in the timeline the AAAA query beside the A (the same
/// length) was drawn as the A "again".
#[test]
fn a_lookup_seen_at_two_points_is_one_finding_and_its_queries_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let capture = |skew: f64, name: &str| {
        let mut s = Scene::new();
        let (c, r) = ("192.168.1.200:35178", "203.0.113.53:53");
        s.udp(skew, c, r, &dns_query(1, "www.example.org", 1));
        s.udp(skew + 0.0001, c, r, &dns_query(2, "www.example.org", 28));
        s.udp(
            skew + 0.0003,
            r,
            c,
            &dns_answer(1, "www.example.org", 1, 0, &[]),
        );
        s.udp(skew + 5.0001, c, r, &dns_query(2, "www.example.org", 28));
        s.udp(
            skew + 5.0002,
            r,
            c,
            &dns_answer(2, "www.example.org", 28, 0, &[]),
        );
        pcap(dir.path(), name, &s.frames())
    };
    let a = run(&[
        capture(0.0, "client.pcap"),
        capture(0.000004, "fw-eth2.pcap"),
    ]);
    let f = one(&a, FindingId::DnsAaaaRace);
    assert_eq!(f.also_seen_at.len(), 1, "{:?}", f.also_seen_at);
    let t = f.timeline.as_ref().unwrap();
    let again: Vec<bool> = t.rows.iter().map(|r| r.again).collect();
    // A, AAAA, A's answer, AAAA again, its answer.
    assert_eq!(again, [false, false, false, true, false], "{:#?}", t.rows);
}

/// Regression (corpus: zeek's ipv6-fragmented-dns.pcap): an answer too big
/// for the path comes in IPv6 fragments; the first answer lost all but its
/// last fragment, the resent query's came whole. The first fragment holds
/// the UDP and DNS headers: the lookup was answered, 5.1 s late, not
/// "never answered".
#[test]
fn an_answer_in_ipv6_fragments_is_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let (c, r) = ("[2001:db8:1::10]:51851", "[2001:db8:2::53]:53");
    let name = "big.example.org";
    let addrs: Vec<std::net::IpAddr> = (0..100u16)
        .map(|i| std::net::IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, i)))
        .collect();
    let answer = dns_answer(40849, name, 28, 0, &addrs);
    assert!(answer.len() > 2800);
    s.udp(0.0, c, r, &dns_query(40849, name, 28));
    s.udp6_fragments(0.09, r, c, &answer, 1432, &[2]);
    s.udp(5.0, c, r, &dns_query(40849, name, 28));
    s.udp6_fragments(5.08, r, c, &answer, 1432, &[0, 1, 2]);
    let a = run(&[pcap(dir.path(), "frag.pcap", &s.frames())]);
    assert!(
        find(&a, FindingId::DnsUnanswered).is_empty(),
        "{:#?}",
        a.report.findings
    );
    let f = one(&a, FindingId::DnsSlow);
    let Facts::DnsLookup(x) = &f.facts else {
        panic!()
    };
    assert_eq!(x.question.as_ref().unwrap().name, name);
    assert_eq!(x.waited, TimeDelta::from_millis(5080));
}
