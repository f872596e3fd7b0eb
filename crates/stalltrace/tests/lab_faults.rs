//! The network faults rebuilt on real Linux networking (issue 12), and
//! `analyze` on their captures: the finding named at every capture point
//! its packets passed, at none they never reached, with the typed facts
//! the kernel's behaviour makes, and the points together saying where.
//! Needs root, iproute2 and nftables, as the lab tests.

mod common;

use common::faults::*;
use common::*;
use stalltrace_decode::{IcmpReason, TimeDelta};
use stalltrace_diagnosis::{Facts, FindingId, IdleEnd, PathFact, QueueSign, Refuser};

fn close(a: TimeDelta, b: std::time::Duration, within_ms: f64) {
    let (a, b) = (a.secs_f64(), b.as_secs_f64());
    assert!((a - b).abs() * 1000.0 <= within_ms, "{a} vs {b}");
}

#[test]
fn a_lost_request_is_network_time_and_the_points_say_where_it_died() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = fault("request-loss", dir.path());
    // No point blames the server for the wait.
    named_where_expected(&r, &[]);
    let all = together(&r);
    let f = the(&all, FindingId::Retransmission);
    let Facts::Loss(x) = &f.facts else {
        panic!("{:?}", f.facts)
    };
    assert_eq!(
        (x.copies, x.acknowledged, x.tail, x.dupacks),
        (4, true, true, 0)
    );
    close(f.cost.unwrap(), r.measured.delay, 5.0);
    assert!(x.server_time.unwrap() < TimeDelta::from_millis(5), "{x:?}");
    assert!(x.rto.iter().any(|s| s.id == "linux"), "{:?}", x.rto);
    assert!(
        f.path.contains(&PathFact::CopiesLost {
            sender: stalltrace_conversations::Side::Client,
            reached: "fw-eth2".into(),
            missed: "fw-eth1".into(),
            at_reached: 4,
            at_missed: 1,
        }),
        "{:?} at {}",
        f.path,
        f.point
    );
}

#[test]
fn a_client_that_stops_reading_is_named_at_every_point() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = fault("zero-window", dir.path());
    named_where_expected(&r, &[]);
    for point in ["client", "server"] {
        let v = at(&r, point);
        let f = the(&v, FindingId::ZeroWindow);
        let Facts::ZeroWindow(z) = &f.facts else {
            panic!()
        };
        assert_eq!(z.receiver, stalltrace_conversations::Side::Client);
        assert!(z.reopened && z.probes >= 2, "{z:?}");
        // Shut from when the buffer filled to when the client read again.
        assert!(
            z.longest > TimeDelta::from_millis(2700) && z.longest < TimeDelta::from_millis(3100),
            "{z:?}"
        );
    }
}

#[test]
fn requests_in_two_pieces_wait_for_the_servers_delayed_ack() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = fault("nagle", dir.path());
    named_where_expected(&r, &[]);
    let v = at(&r, "client");
    let f = the(&v, FindingId::NagleDelayedAck);
    let Facts::Nagle(n) = &f.facts else { panic!() };
    assert_eq!(n.sender, stalltrace_conversations::Side::Client);
    // Forty requests; the kernel's first quick ACKs spare a few.
    assert!(n.events >= 20, "{n:?}");
    assert!(
        n.typical >= TimeDelta::from_millis(38) && n.typical <= TimeDelta::from_millis(60),
        "{n:?}"
    );
    assert_eq!(n.delayed_ack[0].id, "linux");
    assert!(f.remedies[0]
        .lines
        .iter()
        .any(|l| l.contains("TCP_NODELAY")));
}

#[test]
fn full_size_answers_die_at_the_smaller_link() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = fault("pmtu-black-hole", dir.path());
    named_where_expected(&r, &[]);
    let all = together(&r);
    let f = the(&all, FindingId::PmtuBlackHole);
    let Facts::Pmtu(x) = &f.facts else { panic!() };
    assert_eq!(x.sender, stalltrace_conversations::Side::Server);
    assert_eq!(x.bytes, 1448);
    assert!(x.copies >= 3 && !x.icmp_seen, "{x:?}");
    assert!(x.largest_acknowledged < 200, "{x:?}");
    assert!(
        f.path.iter().any(|p| matches!(
            p,
            PathFact::CopiesLost { reached, missed, at_missed: 0, .. }
                if reached == "fw-eth1" && missed == "fw-eth2"
        )),
        "{:?}",
        f.path
    );
    assert!(f
        .remedies
        .iter()
        .any(|r| r.lines.iter().any(|l| l.contains("frag-needed"))));
}

#[test]
fn a_full_listen_queue_is_told_from_lost_syns() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = fault("listen-backlog", dir.path());
    // The handshakes that waited in the full queue also wait for their
    // answer (the accept loop is behind): the server's own time.
    named_where_expected(
        &r,
        &[
            "application-wait",
            "syn-ack-retransmitted",
            "syn-retransmitted",
        ],
    );
    // On the server's own link: SYNs that reached it and went unanswered.
    let v = at(&r, "server");
    let f = v
        .iter()
        .find(|f| f.id == FindingId::ListenQueueOverflow)
        .unwrap();
    let Facts::Handshake(h) = &f.facts else {
        panic!()
    };
    assert!(
        matches!(
            h.queue,
            Some(QueueSign::SynsIgnoredAtServer { .. } | QueueSign::AckIgnoredAtServer)
        ),
        "{h:?}"
    );
    // Behind the NAT: several handshakes retried at once while the
    // server answered others.
    let v = at(&r, "client");
    let f = v
        .iter()
        .find(|f| f.id == FindingId::ListenQueueOverflow)
        .unwrap();
    let Facts::Handshake(h) = &f.facts else {
        panic!()
    };
    assert!(matches!(h.queue, Some(QueueSign::Crowd { .. })), "{h:?}");
    // Each that waited waited a SYN timer at least; the longest is the
    // client's slowest connect (its clock includes its thread's
    // scheduling, so within a quarter second on a loaded machine).
    let waits: Vec<TimeDelta> = v
        .iter()
        .filter(|f| f.id == FindingId::ListenQueueOverflow)
        .filter_map(|f| f.cost)
        .collect();
    let told: u64 = v
        .iter()
        .filter(|f| f.id == FindingId::ListenQueueOverflow)
        .map(|f| f.repeats.as_ref().map_or(1, |r| r.count))
        .sum();
    assert!(told >= 2, "{waits:?}");
    assert!(
        waits.iter().all(|w| *w >= TimeDelta::from_millis(900)),
        "{waits:?}"
    );
    close(*waits.iter().max().unwrap(), r.measured.delay, 250.0);
}

#[test]
fn a_firewall_that_forgot_an_idle_session_resets_it_in_the_servers_name() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = fault("idle-timeout", dir.path());
    named_where_expected(&r, &[]);
    let all = together(&r);
    let f = the(&all, FindingId::IdleTimeout);
    let Facts::Idle(x) = &f.facts else { panic!() };
    // The firewall's own RST leaves it with TTL 64; the server's packets
    // reach the inside with 63.
    assert_eq!(
        x.end,
        IdleEnd::DeviceReset {
            ttl: 64,
            peer_ttl: 63
        }
    );
    close(x.idle, std::time::Duration::from_secs(7), 50.0);
    close(x.survived.unwrap(), std::time::Duration::from_secs(2), 50.0);
    assert!(f.path.iter().any(|p| matches!(
        p,
        PathFact::RstBetween { reached, missed, .. } if reached == "fw-eth2" && missed == "fw-eth1"
    )));
    assert!(f
        .remedies
        .iter()
        .any(|r| r.lines[0] == "ServerAliveInterval 10"));
}

#[test]
fn ipv6_dropped_on_the_way_costs_the_clients_connect_timeout() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = fault("ipv6-fallback", dir.path());
    named_where_expected(&r, &[]);
    let v = at(&r, "client");
    let f = the(&v, FindingId::Ipv6Fallback);
    let Facts::Fallback(x) = &f.facts else {
        panic!()
    };
    assert!(x.same_link_address && !x.raced && x.syns6 >= 2, "{x:?}");
    assert_eq!(x.server4.to_string(), "203.0.113.25:80");
    assert_eq!(x.server6.to_string(), "[2001:db8:2::25]:80");
    close(x.delay, r.measured.delay, 20.0);
}

#[test]
fn who_refused_each_port_and_what_the_dropped_one_cost() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = fault("refused", dir.path());
    named_where_expected(&r, &["connection-unanswered"]);
    let v = at(&r, "client");
    let refusals: Vec<(u16, &Refuser)> = v
        .iter()
        .filter_map(|f| match &f.facts {
            Facts::Refused(x) => Some((x.server.port, &x.refuser)),
            _ => None,
        })
        .collect();
    let by = |port: u16| refusals.iter().find(|(p, _)| *p == port).map(|(_, r)| *r);
    assert_eq!(
        by(81),
        Some(&Refuser::Device {
            ttl: 64,
            host_ttl: 63
        })
    );
    assert_eq!(by(82), Some(&Refuser::Host));
    assert!(matches!(
        by(84),
        Some(Refuser::Icmp {
            reason: IcmpReason::AdministrativelyProhibited,
            ..
        })
    ));
    let u = the(&v, FindingId::ConnectionUnanswered);
    let Facts::Unanswered(x) = &u.facts else {
        panic!()
    };
    assert_eq!(x.server.port, 83);
    assert!(!x.backoff.is_empty(), "{x:?}");
    // Beyond the firewall only the host's own refusal is seen.
    let v = at(&r, "server");
    let refused: Vec<u16> = v
        .iter()
        .filter_map(|f| match &f.facts {
            Facts::Refused(x) => Some(x.server.port),
            _ => None,
        })
        .collect();
    assert_eq!(refused, [82]);
}
