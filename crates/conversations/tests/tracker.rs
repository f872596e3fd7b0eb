use stalltrace_capture::{CaptureReader, Record};
use stalltrace_conversations::{EndReason, Protocol, Side, Tracker, TrackerConfig};
use stalltrace_decode::SeqNumber;
use stalltrace_testkit::{packets_from_text, sessions_into};

fn track(text: &str) -> Vec<stalltrace_conversations::Conversation> {
    let mut t = Tracker::new(0, TrackerConfig::default());
    for p in packets_from_text(text) {
        t.observe(&p);
    }
    t.finish()
}

#[test]
fn memory_follows_live_conversations_not_the_capture() {
    let mut t = Tracker::new(0, TrackerConfig::default());
    let mut most_live = 0;
    let mut finished = 0;
    let mut n = 0u64;
    sessions_into(20_000, 3, |f| {
        n += 1;
        let p = f.decode(n);
        t.observe(&p);
        most_live = most_live.max(t.live());
        finished += t.take_finished().len();
    });
    assert_eq!(t.stats().conversations, 20_000);
    // Closed sessions linger 5 s; sessions come every 40 ms.
    assert!(most_live <= 5_000 / 40 + 2, "{most_live} live at once");
    let rest = t.finish();
    assert_eq!(finished + rest.len(), 20_000);
    assert!(rest.iter().all(|c| c.end == EndReason::Fin));
}

#[test]
fn retransmitted_data_and_rst_are_attributed() {
    let c = track(
        "10:00:00.000000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [S], seq 100, win 1, length 0\n\
         10:00:00.010000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [S.], seq 500, ack 101, win 1, length 0\n\
         10:00:00.020000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [.], ack 1, win 1, length 0\n\
         10:00:00.030000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [P.], seq 1:11, ack 1, win 1, length 10\n\
         10:00:00.330000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [P.], seq 1:11, ack 1, win 1, length 10\n\
         10:00:02.330000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [P.], seq 1:101, ack 11, win 1, length 100\n\
         10:00:02.400000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [R.], seq 101, ack 11, win 1, length 0\n",
    );
    assert_eq!(c.len(), 1);
    let c = &c[0];
    assert_eq!(c.protocol, Protocol::Tcp);
    assert_eq!(c.client.to_string(), "192.0.2.1:40000");
    assert_eq!(c.client_isn, Some(SeqNumber(100)));
    assert_eq!(c.retransmissions, [1, 0]);
    assert_eq!(c.payload_bytes, [10, 100]);
    assert_eq!(c.rst.unwrap().0, Side::Server);
    assert_eq!(c.end, EndReason::Rst);
    // The server answered 2.3 s after the (first) request.
    let t = c.longest_turns[0];
    assert_eq!(t.responder, Side::Server);
    assert_eq!(t.wait().nanos(), 2_300_000_000);
    assert_eq!(t.request.number, 4);
    // The longest silence: 2.0 s between the retransmission and the answer.
    let (a, b) = c.longest_gap.unwrap();
    assert_eq!((a.number, b.number), (5, 6));
}

#[test]
fn a_new_syn_on_the_same_ports_starts_a_new_conversation() {
    let c = track(
        "10:00:00.000000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [S], seq 100, win 1, length 0\n\
         10:00:00.010000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [R.], seq 0, ack 101, win 1, length 0\n\
         10:00:01.000000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [S], seq 9000, win 1, length 0\n",
    );
    assert_eq!(c.len(), 2);
    assert!(c[0].refused().is_some());
    assert_eq!(c[1].client_isn, Some(SeqNumber(9000)));
    assert!(c[1].unanswered());
}

#[test]
fn icmp_errors_attach_to_the_conversation_they_quote() {
    let c = track(
        "10:00:00.000000 IP 203.0.113.25.38107 > 203.0.113.171.113: Flags [S], seq 7, win 1, length 0\n\
         10:00:00.001000 IP 203.0.113.171 > 203.0.113.25: ICMP 203.0.113.171 tcp port 113 unreachable, length 68\n",
    );
    assert_eq!(c.len(), 1);
    let e = &c[0].icmp_errors[0];
    assert_eq!(e.reason, stalltrace_decode::IcmpReason::PortUnreachable);
    assert_eq!(e.from.to_string(), "203.0.113.171");
    assert_eq!(e.about, Side::Client);
}

#[test]
fn a_callback_is_flagged_as_opened_while_serving() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/env1-fw-eth1-outside.txt"
    ))
    .unwrap();
    let mut r =
        CaptureReader::from_reader("seed", Box::new(std::io::Cursor::new(text.into_bytes())))
            .unwrap();
    let mut t = Tracker::new(0, TrackerConfig::default());
    while let Some(Record::Packet(p)) = r.next().unwrap() {
        t.observe(&p);
    }
    let all = t.finish();
    let pop3 = all.iter().find(|c| c.server.port == 110).unwrap();
    let ident = all.iter().find(|c| c.server.port == 113).unwrap();
    assert!(ident.opened_while_serving);
    assert!(!pop3.opened_while_serving);
    assert_eq!(pop3.server_opened_meanwhile, 1);
    assert_eq!(ident.syn_count, 4);
    assert_eq!(pop3.syn_ack_count, 2);
    assert_eq!(pop3.handshake_acks.len(), 2);
}

#[test]
fn only_lookups_about_a_conversation_count_as_its_lookups() {
    // 192.0.2.10 serves two clients; during both it calls back ident on
    // the first client only, and asks its resolver once.
    let text = "\
10:00:00.000000 IP 198.51.100.1.40000 > 192.0.2.10.110: Flags [S], seq 100, win 64240, length 0
10:00:00.000100 IP 192.0.2.10.110 > 198.51.100.1.40000: Flags [S.], seq 500, ack 101, win 65160, length 0
10:00:00.000200 IP 198.51.100.1.40000 > 192.0.2.10.110: Flags [.], ack 1, win 502, length 0
10:00:00.010000 IP 203.0.113.7.50000 > 192.0.2.10.110: Flags [S], seq 900, win 64240, length 0
10:00:00.010100 IP 192.0.2.10.110 > 203.0.113.7.50000: Flags [S.], seq 700, ack 901, win 65160, length 0
10:00:00.010200 IP 203.0.113.7.50000 > 192.0.2.10.110: Flags [.], ack 1, win 502, length 0
10:00:00.020000 IP 192.0.2.10.41000 > 198.51.100.1.113: Flags [S], seq 1, win 64240, length 0
10:00:00.020100 IP 198.51.100.1.113 > 192.0.2.10.41000: Flags [R.], seq 0, ack 2, win 0, length 0
10:00:00.030000 IP 192.0.2.10.53000 > 192.0.2.53.53: 1234+ PTR? 7.113.0.203.in-addr.arpa. (42)
10:00:00.040000 IP 192.0.2.10.110 > 198.51.100.1.40000: Flags [P.], seq 1:21, ack 1, win 510, length 20
10:00:00.050000 IP 192.0.2.10.110 > 203.0.113.7.50000: Flags [P.], seq 1:21, ack 1, win 510, length 20
";
    let all = track(text);
    let first = all.iter().find(|c| c.client.port == 40000).unwrap();
    let second = all.iter().find(|c| c.client.port == 50000).unwrap();
    assert_eq!(first.server_opened_meanwhile, 2);
    assert_eq!(second.server_opened_meanwhile, 2);
    // The ident call and the DNS query for the first; only the DNS query
    // can be about the second.
    assert_eq!(first.server_lookups_meanwhile, 2);
    assert_eq!(second.server_lookups_meanwhile, 1);
}
