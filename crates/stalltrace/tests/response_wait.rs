//! A client-first service answering late behind a DNS lookup nobody answered.

mod common;

use common::*;
use stalltrace_diagnosis::{CallbackKind, Fate, FindingId};

const HTTP_BEHIND_DNS: &str = "\
10:00:00.000000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [S], seq 1000, win 64240, options [mss 1460], length 0
10:00:00.000200 IP 198.51.100.80.80 > 192.0.2.10.50000: Flags [S.], seq 7000, ack 1001, win 65160, options [mss 1460], length 0
10:00:00.000400 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [.], ack 1, win 502, length 0
10:00:00.001000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [P.], seq 1:79, ack 1, win 502, length 78: HTTP: GET / HTTP/1.1
10:00:00.001100 IP 198.51.100.80.80 > 192.0.2.10.50000: Flags [.], ack 79, win 509, length 0
10:00:00.002000 IP 198.51.100.80.41000 > 198.51.100.53.53: 4242+ PTR? 10.2.0.192.in-addr.arpa. (41)
10:00:05.007000 IP 198.51.100.80.41000 > 198.51.100.53.53: 4242+ PTR? 10.2.0.192.in-addr.arpa. (41)
10:00:10.012000 IP 198.51.100.80.80 > 192.0.2.10.50000: Flags [P.], seq 1:513, ack 79, win 509, length 512: HTTP: HTTP/1.1 200 OK
10:00:10.013000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [.], ack 513, win 501, length 0
";

#[test]
fn a_late_answer_behind_an_unanswered_reverse_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("http.txt");
    std::fs::write(&p, HTTP_BEHIND_DNS).unwrap();
    let a = run(&[p]);
    assert!(a.report.warnings.is_empty(), "{:?}", a.report.warnings);
    let f = one(&a, FindingId::ApplicationWait);
    let words = en(f);
    assert!(
        words
            .summary
            .starts_with("The HTTP server 198.51.100.80:80 answered a request after 10.0 s"),
        "{}",
        words.summary
    );
    assert_eq!(f.cost.unwrap().nanos(), 10_011_000_000);
    let cb = f.cause().expect("the lookup is named");
    assert_eq!(cb.kind, CallbackKind::Dns);
    assert_eq!(cb.conversation.server.to_string(), "198.51.100.53:53");
    assert_eq!(cb.fate, Fate::Unanswered);
    assert_eq!(tenths(cb.give_up.as_ref().unwrap().after), 10.0);
    // An HTTP server's remedy, not sshd's (issue 11: by the service seen).
    assert!(f
        .remedies
        .iter()
        .any(|r| r.lines.iter().any(|l| l == "HostnameLookups Off")));
    assert!(!f
        .remedies
        .iter()
        .any(|r| r.lines.iter().any(|l| l == "UseDNS no")));
    assert!(f
        .remedies
        .iter()
        .any(|r| r.lines.iter().any(|l| l == "options timeout:1 attempts:1")));
    let ev: Vec<u64> = f.evidence.iter().map(|e| e.packet).collect();
    assert_eq!(ev, vec![1, 4, 6, 7, 8]);
    assert!(
        words
            .details
            .iter()
            .any(|d| d.contains("2 queries at +0, +5.0 s, never answered")),
        "{:?}",
        words.details
    );
    assert!(
        words
            .details
            .iter()
            .any(|d| d.contains("glibc resolver's default")),
        "{:?}",
        words.details
    );
}

/// The same packets as one pcap file take the path that judges a wait as
/// soon as its callbacks have ended: the UDP lookup counts as going on
/// until it has been idle for the tracker's timeout, so the answer is the
/// same.
#[test]
fn the_same_from_a_pcap() {
    use stalltrace_testkit::{frames_from_packets, packets_from_text, write_pcap, HostMap};
    let dir = tempfile::tempdir().unwrap();
    let packets = packets_from_text(HTTP_BEHIND_DNS);
    let frames = frames_from_packets(&packets, &mut HostMap::default());
    let p = dir.path().join("http.pcap");
    write_pcap(std::fs::File::create(&p).unwrap(), &frames).unwrap();
    let a = run(&[p]);
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.cost.unwrap().nanos(), 10_011_000_000);
    let cb = f.cause().expect("the lookup is named");
    assert_eq!(cb.kind, CallbackKind::Dns);
    assert_eq!(cb.conversation.server.to_string(), "198.51.100.53:53");
    assert_eq!(cb.fate, Fate::Unanswered);
}
