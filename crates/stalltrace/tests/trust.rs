//! Trust on real traffic (issue 14): patterns of false or misleading
//! findings met in public captures (Zeek's test traces), each rebuilt
//! here with testkit so the test carries its own ground truth.

mod common;

use common::*;
use stalltrace_diagnosis::{FindingId, Severity};
use stalltrace_testkit::scene::Scene;

/// Zeek's ftp-password-pass-command.pcap: FileZilla answers a wrong
/// password 10 s later with "530 Login incorrect." on purpose. Told as a
/// deliberate delay (INFO), with no ident or DNS advice.
#[test]
fn a_failed_login_answered_late_is_a_deliberate_delay() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.10:46648", "198.51.100.21:21", 0.0003);
    s.send(
        0.001,
        &mut c,
        true,
        b"220-FileZilla Server 1.9.1\r\n220 Please visit\r\n",
    );
    s.send(0.002, &mut c, false, b"USER Admin\r\n");
    s.send(
        0.003,
        &mut c,
        true,
        b"331 Please, specify the password.\r\n",
    );
    s.send(0.004, &mut c, false, b"PASS qwerty\r\n");
    s.send(10.0, &mut c, true, b"530 Login incorrect.\r\n");
    let a = run(&[pcap(dir.path(), "ftp.pcap", &s.frames())]);
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.severity, Severity::Info);
    let w = f.wait().unwrap();
    assert_eq!(
        w.failed_login.as_ref().unwrap().reply.as_deref(),
        Some("530")
    );
    assert!(f.remedies.is_empty(), "{:?}", f.remedies);
    assert!(
        en(f).summary.contains("deliberate delay"),
        "{}",
        en(f).summary
    );

    // The same wait answered with a success is the server's, and a fault.
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.10:46649", "198.51.100.21:21", 0.0003);
    s.send(0.001, &mut c, true, b"220 FTP ready\r\n");
    s.send(0.004, &mut c, false, b"PASS right\r\n");
    s.send(10.0, &mut c, true, b"230 Logged on\r\n");
    let a = run(&[pcap(dir.path(), "ftp-ok.pcap", &s.frames())]);
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.wait().unwrap().failed_login.is_none());
}

/// Zeek's ssh-on-port-80.pcap: SSH on port 80 was "the HTTP server", and a
/// late answer in the middle of its login matched "InspIRCd useident":
/// the service is told by its first bytes, and ident timers (made when a
/// connection opens) are never matched against a later request's answer.
#[test]
fn ssh_on_port_80_is_ssh_and_a_late_answer_is_no_ident_timer() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.1:49656", "198.51.100.131:80", 0.002);
    s.send(
        0.01,
        &mut c,
        true,
        b"SSH-2.0-OpenSSH_5.8p1 Debian-1ubuntu3\r\n",
    );
    s.send(0.02, &mut c, false, b"SSH-2.0-OpenSSH_5.6\r\n");
    s.send(0.09, &mut c, false, &[7u8; 64]);
    s.send(5.1, &mut c, true, &[8u8; 64]);
    let a = run(&[pcap(dir.path(), "ssh80.pcap", &s.frames())]);
    let f = one(&a, FindingId::ApplicationWait);
    let w = f.wait().unwrap();
    assert_eq!(w.service.as_deref(), Some("SSH"));
    assert!(
        w.unseen
            .as_ref()
            .is_some_and(|u| u.timer_matches.is_empty()),
        "{:?}",
        w.unseen
    );
    assert!(
        !en(f).details.iter().any(|d| d.contains("useident")),
        "{:?}",
        en(f).details
    );
}

/// Zeek's tcp/syn.pcap and the chksums/ traces: one SYN that is the last
/// packet of the capture was "unanswered". Nothing can be said of a SYN
/// the capture stopped right after; the same SYN with the capture going
/// on for seconds, still unanswered, is told.
#[test]
fn a_syn_at_the_end_of_the_capture_is_not_called_unanswered() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    s.connect(0.0, "192.0.2.10:40000", "198.51.100.80:80", 0.01);
    s.syns(0.5, "192.0.2.10:40001", "198.51.100.43:80", &[0.0]);
    let a = run(&[pcap(dir.path(), "end.pcap", &s.frames())]);
    assert!(
        find(&a, FindingId::ConnectionUnanswered).is_empty(),
        "{:#?}",
        a.report.findings
    );

    let mut s = Scene::new();
    s.syns(
        0.0,
        "192.0.2.10:40001",
        "198.51.100.43:80",
        &[0.0, 1.0, 3.0],
    );
    s.connect(6.0, "192.0.2.10:40000", "198.51.100.80:80", 0.01);
    let a = run(&[pcap(dir.path(), "on.pcap", &s.frames())]);
    one(&a, FindingId::ConnectionUnanswered);
}

/// Zeek's ssh.client-side-half-duplex.pcap and smtp-one-side-only.pcap:
/// a capture of one direction sees the client's SYN, then its ACKs and
/// data, never the server: the connection opened, and it is not
/// "unanswered".
#[test]
fn a_capture_of_one_direction_is_no_unanswered_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.79:51880", "198.51.100.1:22", 0.05);
    s.send(0.2, &mut c, false, b"SSH-2.0-OpenSSH_6.0\r\n");
    s.send(0.4, &mut c, false, &[9u8; 600]);
    s.send(6.0, &mut c, false, &[9u8; 48]);
    // Only the client's packets were captured.
    let client_only: Vec<_> = s
        .frames()
        .into_iter()
        .filter(|f| f.data[26..30] == [192, 0, 2, 79])
        .collect();
    let a = run(&[pcap(dir.path(), "half.pcap", &client_only)]);
    assert!(
        find(&a, FindingId::ConnectionUnanswered).is_empty(),
        "{:#?}",
        a.report.findings
    );
}

/// Zeek's dnp3/, irc-*, socks.pcap: of a protocol stalltrace does not know
/// (DNP3 on 20000, IRC, a DCC transfer), a late "answer" was the server's
/// wait, though nothing says the server owed one (unsolicited reports, the
/// other person typing). Only a protocol known to owe answers has them.
#[test]
fn a_late_answer_in_an_unknown_protocol_is_no_server_wait() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |port: u16| {
        let mut s = Scene::new();
        let mut c = s.connect(
            0.0,
            "192.0.2.8:2789",
            &format!("198.51.100.3:{port}"),
            0.0002,
        );
        s.send(0.02, &mut c, false, &[5u8, 0x64, 0x0b, 0xc4, 1, 0, 3, 0]);
        s.send(5.04, &mut c, true, &[5u8, 0x64, 0x0a, 0x44, 3, 0, 1, 0]);
        s.frames()
    };
    let a = run(&[pcap(dir.path(), "dnp3.pcap", &trace(20000))]);
    assert!(
        find(&a, FindingId::ApplicationWait).is_empty(),
        "{:#?}",
        a.report.findings
    );
    // The same bytes on HTTP's port: HTTP owes an answer to every request.
    let a = run(&[pcap(dir.path(), "http.pcap", &trace(80))]);
    one(&a, FindingId::ApplicationWait);
}

/// Zeek's http-09-content-length-confusion.pcap: an HTTP server that
/// spoke first, 6.5 s after the handshake, was a "late greeting"; HTTP is
/// client-first and owes no greeting; nor, having spoken first, the
/// answer a person typed 10.6 s after a request.
#[test]
fn a_client_first_server_speaking_first_is_no_late_greeting() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.8:40000", "198.51.100.3:80", 0.0002);
    s.send(6.5, &mut c, true, b"HTTP/1.1 200 OK\r\n");
    // Then someone types a request, and someone the rest of the answer:
    // a conversation that does not follow HTTP owes nothing either.
    s.send(26.0, &mut c, false, b"GET /\r\n");
    s.send(36.6, &mut c, true, b"Content-Length: 5\r\n");
    let a = run(&[pcap(dir.path(), "http-first.pcap", &s.frames())]);
    assert!(
        find(&a, FindingId::ApplicationWait).is_empty(),
        "{:#?}",
        a.report.findings
    );
}

/// Zeek's ssh/ssh.pcap (and five more): a second small piece held until
/// the peer's ACK, which came back in one round trip (26 ms, the capture
/// at the client), was called Nagle × *delayed* ACK. A peer that ACKs at
/// once delays nothing; 40 ms beyond the round trip is the timer.
#[test]
fn an_ack_back_in_one_round_trip_is_no_delayed_ack() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |ack_after: f64| {
        let mut s = Scene::new();
        let mut c = s.connect(0.0, "192.0.2.10:41164", "198.51.100.238:6379", 0.026);
        for i in 0..5 {
            let t = 1.0 + f64::from(i);
            s.send(t, &mut c, false, b"*3\r\n$3\r\nSET\r\n");
            s.ack(t + ack_after, &c, true);
            s.send(
                t + ack_after + 0.00005,
                &mut c,
                false,
                b"$1\r\nk\r\n$1\r\nv\r\n",
            );
            s.send(t + ack_after + 0.027, &mut c, true, b"+OK\r\n");
        }
        s.frames()
    };
    let a = run(&[pcap(dir.path(), "rtt.pcap", &trace(0.026))]);
    assert!(
        find(&a, FindingId::NagleDelayedAck).is_empty(),
        "{:#?}",
        a.report.findings
    );
    let a = run(&[pcap(dir.path(), "delack.pcap", &trace(0.066))]);
    one(&a, FindingId::NagleDelayedAck);
}

/// Zeek's websocket/wstunnel-ssh.pcap: after "101 Switching Protocols" the
/// connection carries SSH through a WebSocket; a late answer there is no
/// HTTP server's. The upgrade's own answer, late, still is.
#[test]
fn after_an_http_upgrade_the_tunnel_owes_no_http_answers() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |upgrade_after: f64, tunnel_after: f64| {
        let mut s = Scene::new();
        let mut c = s.connect(0.0, "192.0.2.10:46796", "198.51.100.88:8888", 0.0002);
        s.send(
            0.01,
            &mut c,
            false,
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        );
        let t = 0.01 + upgrade_after;
        s.send(t, &mut c, true, b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
        s.send(t + 0.1, &mut c, false, &[0x82, 4, 1, 2, 3, 4]);
        s.send(t + 0.1 + tunnel_after, &mut c, true, &[0x82, 4, 5, 6, 7, 8]);
        s.frames()
    };
    let a = run(&[pcap(dir.path(), "ws.pcap", &trace(0.001, 2.0))]);
    assert!(
        find(&a, FindingId::ApplicationWait).is_empty(),
        "{:#?}",
        a.report.findings
    );
    let a = run(&[pcap(dir.path(), "ws-slow.pcap", &trace(3.0, 0.001))]);
    one(&a, FindingId::ApplicationWait);
}

/// Zeek's modbus/modbusBig.pcap (S7comm on port 102): the client's next
/// piece left right after the PLC's ACK, but also right after the PLC's
/// reply that followed the ACK: the piece answers the reply, and Nagle
/// held nothing. Without the reply in between it is Nagle's.
#[test]
fn a_piece_sent_after_the_peers_reply_is_no_nagle_hold() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |reply: bool| {
        let mut s = Scene::new();
        let mut c = s.connect(0.0, "192.0.2.95:49447", "198.51.100.243:102", 0.0004);
        for i in 0..5 {
            let t = 1.0 + f64::from(i);
            s.send(t, &mut c, false, &[3, 0, 0, 7, 2, 0xf0, 0]);
            s.ack(t + 0.055, &c, true);
            let mut next = t + 0.0552;
            if reply {
                s.send(t + 0.057, &mut c, true, &[3, 0, 0, 9, 2, 0xf0, 0x80, 1, 2]);
                next = t + 0.0573;
            }
            s.send(next, &mut c, false, &[3, 0, 0, 7, 2, 0xf0, 0]);
            s.send(
                next + 0.002,
                &mut c,
                true,
                &[3, 0, 0, 9, 2, 0xf0, 0x80, 3, 4],
            );
        }
        s.frames()
    };
    let a = run(&[pcap(dir.path(), "s7.pcap", &trace(true))]);
    assert!(
        find(&a, FindingId::NagleDelayedAck).is_empty(),
        "{:#?}",
        a.report.findings
    );
    let a = run(&[pcap(dir.path(), "s7-held.pcap", &trace(false))]);
    one(&a, FindingId::NagleDelayedAck);
}

/// Zeek's http/206_example_a.pcap and rdp-unknown-keyboard.pcap: a first
/// resend after 731 ms on a 365 ms path was "Linux's minimum RTO
/// (200 ms)". Where the round trip is not well below a stack's floor the
/// floor does not set the timer, and no stack is named; on a short path
/// a 200 ms resend still names Linux.
#[test]
fn a_long_round_trip_names_no_stacks_rto_floor() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |rtt: f64, resend: f64| {
        let mut s = Scene::new();
        let mut c = s.connect(0.0, "192.0.2.70:10978", "198.51.100.161:80", rtt);
        s.send(rtt + 0.001, &mut c, false, b"GET / HTTP/1.1\r\n\r\n");
        s.send(rtt * 2.0 + 0.002, &mut c, true, b"HTTP/1.1 200 OK\r\n\r\n");
        s.resend(rtt * 2.0 + 0.002 + resend, &c, true);
        s.ack(rtt * 2.5 + 0.002 + resend, &c, false);
        s.frames()
    };
    let rto = |a: &stalltrace::analyze::Analysis| -> Vec<&'static str> {
        let f = one(a, FindingId::Retransmission);
        f.loss().unwrap().rto.iter().map(|r| r.id).collect()
    };
    let a = run(&[pcap(dir.path(), "far.pcap", &trace(0.365, 0.731))]);
    assert!(rto(&a).is_empty(), "{:?}", rto(&a));
    let a = run(&[pcap(dir.path(), "near.pcap", &trace(0.004, 0.204))]);
    assert_eq!(rto(&a), ["linux"]);
}

/// Zeek's tls/heartbleed-encrypted-success.pcap: the client reset the
/// connection, the server went on sending and resending into it; "never
/// acknowledged, the path lost every copy" was false: the peer had reset.
#[test]
fn resends_into_a_connection_the_peer_reset_are_no_loss() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |reset: bool| {
        let mut s = Scene::new();
        let mut c = s.connect(0.0, "192.0.2.149:59676", "198.51.100.107:443", 0.001);
        s.send(0.002, &mut c, false, &[0x16, 3, 1, 0, 1, 1]);
        s.send(0.004, &mut c, true, &[0x16, 3, 3, 0, 1, 2]);
        if reset {
            s.reset(0.0045, &c, false);
        }
        s.resend(0.204, &c, true);
        s.resend(0.612, &c, true);
        s.frames()
    };
    let a = run(&[pcap(dir.path(), "rst.pcap", &trace(true))]);
    assert!(
        find(&a, FindingId::Retransmission).is_empty(),
        "{:#?}",
        a.report.findings
    );
    let a = run(&[pcap(dir.path(), "lost.pcap", &trace(false))]);
    assert!(
        !one(&a, FindingId::Retransmission)
            .loss()
            .unwrap()
            .acknowledged
    );
}
