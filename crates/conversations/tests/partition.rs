//! Tracking split by `partition` and joined through one `HostLedger` gives
//! the very conversations one tracker gives, host facts and ids included,
//! also where a fact spans two parts (a server's DNS lookup to a third
//! host while it serves a client).

use stalltrace_conversations::{
    partition, Clock, Conversation, HostLedger, Tracker, TrackerConfig,
};
use stalltrace_decode::{Packet, Timestamp};
use stalltrace_testkit::generate::{packets, GenConfig};
use stalltrace_testkit::packets_from_text;

fn whole(packets: &[Packet]) -> Vec<Conversation> {
    let mut t = Tracker::new(0, TrackerConfig::default());
    let mut out = Vec::new();
    for p in packets {
        t.observe(p);
        out.extend(t.take_finished());
    }
    out.extend(t.finish());
    out.sort_by_key(|c| c.id);
    out
}

/// What `analyze --threads` does, on one thread: `k` part trackers fed
/// batch by batch, their events sorted and applied to one ledger.
fn parted(packets: &[Packet], k: u64, batch: usize) -> Vec<Conversation> {
    let mut parts: Vec<Tracker> = (0..k)
        .map(|_| Tracker::part(0, TrackerConfig::default()))
        .collect();
    let mut ledger = HostLedger::default();
    let mut now = Timestamp::ZERO;
    let mut out = Vec::new();
    let mut join = |parts: &mut Vec<Tracker>, out: &mut Vec<Conversation>, end: bool| {
        let mut events = Vec::new();
        let mut done = Vec::new();
        for t in parts.iter_mut() {
            if end {
                let (d, e, _) = t.finish_part();
                done.extend(d);
                events.extend(e);
            } else {
                events.extend(t.take_events());
                done.extend(t.take_finished());
            }
        }
        events.sort_by_key(|e| e.order());
        let mut facts = std::collections::HashMap::new();
        for e in &events {
            if let Some((conv, f)) = ledger.apply(e) {
                facts.insert(conv, f);
            }
        }
        for mut c in done {
            facts
                .remove(&c.id)
                .expect("every end has its event")
                .apply(&mut c);
            out.push(c);
        }
        assert!(facts.is_empty());
    };
    for (i, chunk) in packets.chunks(batch).enumerate() {
        for (j, p) in chunk.iter().enumerate() {
            let went_back = p.meta.ts < now;
            now = now.max(p.meta.ts);
            let clock = Clock {
                seq: (i * batch + j + 1) as u64,
                now,
                went_back,
            };
            parts[(partition(p) % k) as usize].observe_at(p, clock);
        }
        for t in parts.iter_mut() {
            t.advance_to(now);
        }
        join(&mut parts, &mut out, false);
    }
    join(&mut parts, &mut out, true);
    out.sort_by_key(|c| c.id);
    out
}

/// A mail server that, while it serves a client, asks a resolver (a third
/// host: another part) and calls the client back (ident: the same part).
const LOOKUPS: &str = "\
10:00:00.000000 IP 192.0.2.10.40000 > 198.51.100.25.110: Flags [S], seq 100, win 64240, length 0
10:00:00.001000 IP 198.51.100.25.110 > 192.0.2.10.40000: Flags [S.], seq 900, ack 101, win 65160, length 0
10:00:00.002000 IP 192.0.2.10.40000 > 198.51.100.25.110: Flags [.], ack 1, win 502, length 0
10:00:00.003000 IP 198.51.100.25.33333 > 203.0.113.53.53: 4242+ PTR? 10.2.0.192.in-addr.arpa. (41)
10:00:00.004000 IP 198.51.100.25.40001 > 192.0.2.10.113: Flags [S], seq 500, win 64240, length 0
10:00:03.004000 IP 198.51.100.25.40001 > 192.0.2.10.113: Flags [S], seq 500, win 64240, length 0
10:00:05.003000 IP 198.51.100.25.33333 > 203.0.113.53.53: 4242+ PTR? 10.2.0.192.in-addr.arpa. (41)
10:00:05.010000 IP 203.0.113.53.53 > 198.51.100.25.33333: 4242 NXDomain 0/1/0 (98)
10:00:09.004000 IP 198.51.100.25.40001 > 192.0.2.10.113: Flags [S], seq 500, win 64240, length 0
10:00:10.020000 IP 198.51.100.25.110 > 192.0.2.10.40000: Flags [P.], seq 1:21, ack 1, win 510, length 20
10:00:10.021000 IP 192.0.2.10.40000 > 198.51.100.25.110: Flags [.], ack 21, win 502, length 0
10:00:10.030000 IP 192.0.2.10.40002 > 198.51.100.25.110: Flags [S], seq 700, win 64240, length 0
10:00:10.031000 IP 198.51.100.25.110 > 192.0.2.10.40002: Flags [S.], seq 300, ack 701, win 65160, length 0
10:00:10.032000 IP 192.0.2.10.40002 > 198.51.100.25.110: Flags [.], ack 1, win 502, length 0
10:00:10.033000 IP 198.51.100.25.110 > 192.0.2.10.40002: Flags [P.], seq 1:21, ack 1, win 510, length 20
10:00:12.000000 IP 192.0.2.10.40000 > 198.51.100.25.110: Flags [F.], seq 1, ack 21, win 502, length 0
10:00:12.001000 IP 198.51.100.25.110 > 192.0.2.10.40000: Flags [F.], seq 21, ack 2, win 510, length 0
";

#[test]
fn a_lookup_to_a_third_host_is_joined_across_parts() {
    let packets = packets_from_text(LOOKUPS);
    let one = whole(&packets);
    let pop3 = &one[0];
    assert_eq!(pop3.server.port, 110);
    // The PTR query and the ident call, both while serving it.
    assert_eq!(pop3.server_opened_meanwhile, 2);
    assert_eq!(pop3.server_lookups_meanwhile, 2);
    let dns = one.iter().find(|c| c.server.port == 53).unwrap();
    assert!(dns.opened_while_serving);
    // The query and the session fall in different parts for some split:
    // the fact is joined across parts, not found in one.
    let apart = (2..8).find(|k| partition(&packets[0]) % k != partition(&packets[3]) % k);
    let k = apart.expect("some split separates the resolver from the client");
    for batch in [1, 3, 100] {
        assert_eq!(
            parted(&packets, k, batch),
            one,
            "{k} parts, batches of {batch}"
        );
    }
}

#[test]
fn a_generated_capture_is_the_same_in_any_number_of_parts() {
    let cfg = GenConfig {
        sessions: 4000,
        concurrency: 200,
        seed: 5,
        ..GenConfig::default()
    };
    let packets = packets(&cfg);
    let one = whole(&packets);
    assert!(one.len() >= 4000);
    assert!(one.iter().any(|c| c.opened_while_serving));
    assert!(one.iter().any(|c| c.others_answered_meanwhile > 0));
    for k in [1, 2, 3, 7] {
        assert_eq!(parted(&packets, k, 1024), one, "{k} parts");
    }
}
