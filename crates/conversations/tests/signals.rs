//! The per-packet signals the network rules read, measured on printed
//! captures whose truth is written in them.

use stalltrace_conversations::{Conversation, Side, Tracker, TrackerConfig};
use stalltrace_testkit::packets_from_text;

fn track(text: &str) -> Conversation {
    let mut t = Tracker::new(0, TrackerConfig::default());
    for p in packets_from_text(text) {
        t.observe(&p);
    }
    let mut all = t.finish();
    assert_eq!(all.len(), 1);
    all.remove(0)
}

const HANDSHAKE: &str = "\
10:00:00.000000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [S], seq 100, win 64240, options [mss 1460], length 0
10:00:00.020000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [S.], seq 500, ack 101, win 64240, options [mss 1460], length 0
10:00:00.020500 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [.], ack 1, win 64240, length 0
";

#[test]
fn a_request_sent_four_times_is_one_loss_episode_acknowledged_at_the_last_copy() {
    let c = track(&format!(
        "{HANDSHAKE}\
10:00:01.000000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [P.], seq 1:101, ack 1, win 64240, length 100
10:00:01.250000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [P.], seq 1:101, ack 1, win 64240, length 100
10:00:01.700000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [P.], seq 1:101, ack 1, win 64240, length 100
10:00:02.500000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [P.], seq 1:101, ack 1, win 64240, length 100
10:00:02.520000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [.], ack 101, win 64240, length 0
10:00:02.530000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [P.], seq 1:201, ack 101, win 64240, length 200
"
    ));
    assert_eq!(c.signals.rtt.upstream.unwrap().nanos(), 20_000_000);
    assert_eq!(c.signals.rtt.downstream.unwrap().nanos(), 500_000);
    let loss = c.signals.loss[Side::Client.index()].as_ref().expect("loss");
    assert_eq!(loss.episodes, 1);
    assert_eq!(loss.total.nanos(), 1_500_000_000);
    let e = loss.worst.as_ref().unwrap();
    assert_eq!(e.copies, 4);
    let gaps: Vec<i64> = e.gaps().iter().map(|g| g.nanos() / 1_000_000).collect();
    assert_eq!(gaps, [250, 450, 800]);
    assert_eq!(e.first.number, 4);
    assert_eq!(e.last_copy.number, 7);
    assert_eq!(e.acked.unwrap().number, 8);
    assert_eq!((e.dupacks, e.tail, e.len), (0, true, 100));
    assert!(loss.unacked.is_none());
    assert_eq!(loss.largest_acked, 100);
    assert!(c.signals.loss[Side::Server.index()].is_none());
    // The turn knows the copy that got through.
    let t = c.longest_turns[0];
    assert_eq!((t.request.number, t.request_copy.unwrap().number), (4, 7));
}

#[test]
fn data_never_acknowledged_stays_an_open_episode() {
    let c = track(&format!(
        "{HANDSHAKE}\
10:00:01.000000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [P.], seq 1:1461, ack 1, win 64240, length 1460
10:00:01.200000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [P.], seq 1:1461, ack 1, win 64240, length 1460
10:00:01.600000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [P.], seq 1:1461, ack 1, win 64240, length 1460
"
    ));
    let loss = c.signals.loss[Side::Server.index()].as_ref().expect("loss");
    assert_eq!(loss.episodes, 0);
    let e = loss.unacked.as_ref().expect("open");
    assert_eq!((e.copies, e.len), (3, 1460));
    assert_eq!(loss.largest_acked, 0);
}

#[test]
fn a_closed_window_counts_its_probes_and_their_back_off() {
    let c = track(&format!(
        "{HANDSHAKE}\
10:00:01.000000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [P.], seq 1:1001, ack 1, win 64240, length 1000
10:00:01.001000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [.], ack 1001, win 0, length 0
10:00:01.201000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [.], ack 1, win 64240, length 0
10:00:01.201500 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [.], ack 1001, win 0, length 0
10:00:01.601000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [.], ack 1, win 64240, length 0
10:00:01.601500 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [.], ack 1001, win 0, length 0
10:00:02.401000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [.], ack 1, win 64240, length 0
10:00:02.401500 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [.], ack 1001, win 0, length 0
10:00:04.001000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [.], ack 1001, win 32768, length 0
10:00:04.002000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [P.], seq 1001:2001, ack 1, win 64240, length 1000
"
    ));
    let z = c.signals.zero_window[Side::Client.index()]
        .as_ref()
        .expect("zero window");
    assert_eq!(z.episodes, 1);
    assert_eq!(z.total.nanos(), 3_000_000_000);
    assert_eq!(z.worst.since.number, 5);
    assert_eq!(z.worst.until.unwrap().number, 12);
    assert_eq!(z.worst.probes, 3);
    let gaps: Vec<i64> = z
        .worst
        .probe_gaps()
        .iter()
        .map(|g| g.nanos() / 1_000_000)
        .collect();
    assert_eq!(gaps, [400, 800]);
    assert!(c.signals.zero_window[Side::Server.index()].is_none());
}

#[test]
fn small_segments_held_for_the_delayed_ack_are_counted_on_every_request() {
    let mut text = HANDSHAKE.to_string();
    let mut seq = 1;
    let mut sseq = 1;
    for i in 0..3 {
        let t = 1.0 + f64::from(i);
        let line = |at: f64, rest: &str| format!("10:00:{:09.6} IP {rest}\n", at);
        text += &line(t, &format!("192.0.2.1.40000 > 198.51.100.2.80: Flags [P.], seq {seq}:{}, ack {sseq}, win 64240, length 100", seq + 100));
        seq += 100;
        text += &line(
            t + 0.040,
            &format!(
                "198.51.100.2.80 > 192.0.2.1.40000: Flags [.], ack {seq}, win 64240, length 0"
            ),
        );
        text += &line(t + 0.0401, &format!("192.0.2.1.40000 > 198.51.100.2.80: Flags [P.], seq {seq}:{}, ack {sseq}, win 64240, length 50", seq + 50));
        seq += 50;
        text += &line(t + 0.041, &format!("198.51.100.2.80 > 192.0.2.1.40000: Flags [P.], seq {sseq}:{}, ack {seq}, win 64240, length 300", sseq + 300));
        sseq += 300;
    }
    let c = track(&text);
    let n = c.signals.nagle[Side::Client.index()]
        .as_ref()
        .expect("nagle");
    assert_eq!(n.events, 3);
    assert_eq!(n.total.nanos(), 120_000_000);
    assert_eq!(n.delays.len(), 3);
    assert_eq!(n.first.map(|p| p.number), [4, 5, 6]);
    assert!(c.signals.nagle[Side::Server.index()].is_none());
    assert!(c.signals.loss.iter().all(|l| l.is_none()));
}

#[test]
fn a_prompt_dialogue_has_no_signals() {
    let c = track(&format!(
        "{HANDSHAKE}\
10:00:01.000000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [P.], seq 1:101, ack 1, win 64240, length 100
10:00:01.020000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [P.], seq 1:201, ack 101, win 64240, length 200
10:00:01.040000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [.], ack 201, win 64240, length 0
"
    ));
    let s = &c.signals;
    assert!(s.loss.iter().all(|l| l.is_none()));
    assert!(s.zero_window.iter().all(|z| z.is_none()));
    assert!(s.nagle.iter().all(|n| n.is_none()));
}
