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
    // And the report says the capture sees one direction, so that "no
    // stall found" is not read as "nothing stalled".
    assert!(a.report.warnings.iter().any(|w| matches!(
        w.kind,
        stalltrace_capture::WarningKind::OneDirection { count: 1 }
    )));
    let text = text_en(&a);
    assert!(text.contains("seen one way only"), "{text}");
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

fn ssh_login(s: &mut Scene, at: f64, port: u16) -> stalltrace_testkit::scene::Conn {
    let mut c = s.connect(
        at,
        &format!("192.0.2.1:{port}"),
        "198.51.100.103:22",
        0.0002,
    );
    s.send(at + 0.001, &mut c, false, b"SSH-2.0-OpenSSH_9.6\r\n");
    s.send(at + 0.002, &mut c, true, b"SSH-2.0-OpenSSH_9.2p1\r\n");
    // Key exchange and the service request, then a refused "none" probe:
    // encrypted records of fixed sizes.
    s.send(at + 0.003, &mut c, false, &[0u8; 1448]);
    s.send(at + 0.004, &mut c, true, &[0u8; 952]);
    s.send(at + 0.005, &mut c, false, &[0u8; 56]);
    s.send(at + 0.006, &mut c, true, &[0u8; 56]);
    s.send(at + 0.007, &mut c, false, &[0u8; 72]);
    s.send(at + 0.008, &mut c, true, &[1u8; 56]);
    c
}

/// Zeek's ssh/sshguess.pcap: encrypted password guesses, each refused
/// about 2 s later (PAM's pam_faildelay), the client trying again at once
/// with a request of the same size; the last refusal has the size of the
/// earlier ones. Deliberate delays (INFO), not a slow server. A first
/// slow answer of another size, not tried again, stays a server wait.
#[test]
fn encrypted_ssh_password_guesses_refused_late_are_deliberate() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = ssh_login(&mut s, 0.0, 55470);
    for i in 0..3 {
        let t = 1.0 + 3.0 * f64::from(i);
        s.send(t, &mut c, false, &[2u8; 152]);
        s.send(t + 2.2, &mut c, true, &[3u8; 56]);
    }
    s.close(10.0, &mut c);
    let a = run(&[pcap(dir.path(), "guess.pcap", &s.frames())]);
    let waits = find(&a, FindingId::ApplicationWait);
    assert!(!waits.is_empty());
    for f in &waits {
        assert_eq!(f.severity, Severity::Info, "{}", en(f).summary);
        assert!(f.wait().unwrap().failed_login.is_some());
        assert!(f.remedies.is_empty());
    }

    let mut s = Scene::new();
    let mut c = ssh_login(&mut s, 0.0, 55480);
    s.send(0.01, &mut c, false, &[2u8; 68]);
    s.send(2.7, &mut c, true, &[3u8; 288]);
    s.send(2.71, &mut c, false, &[2u8; 148]);
    let a = run(&[pcap(dir.path(), "slow.pcap", &s.frames())]);
    let f = one(&a, FindingId::ApplicationWait);
    assert!(f.wait().unwrap().failed_login.is_none());
    assert_ne!(f.severity, Severity::Info);
}

/// SSH after its login is a person's session: a command whose output
/// came 5 s after the keystroke is no server wait. The same pause inside
/// the login is.
#[test]
fn a_slow_command_in_an_interactive_ssh_session_is_no_server_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = ssh_login(&mut s, 0.0, 56594);
    s.send(0.01, &mut c, false, &[2u8; 100]);
    s.send(0.02, &mut c, true, &[3u8; 40]);
    // Channel open, pty, shell; then keystrokes echoed.
    for i in 0..20 {
        let t = 1.0 + 0.2 * f64::from(i);
        s.send(t, &mut c, false, &[4u8; 36]);
        s.send(t + 0.001, &mut c, true, &[5u8; 36]);
    }
    s.send(6.0, &mut c, false, &[4u8; 36]);
    s.send(11.0, &mut c, true, &[6u8; 900]);
    let a = run(&[pcap(dir.path(), "session.pcap", &s.frames())]);
    assert!(
        find(&a, FindingId::ApplicationWait).is_empty(),
        "{:#?}",
        a.report.findings
    );
}

/// Zeek's tls/ssl.v3.pcap: the client's close_notify alert, then the
/// server's own close_notify and FIN 3 s later, was "a late answer". An
/// alert asks for nothing.
#[test]
fn a_tls_close_notify_is_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |last: &[u8], at: f64| {
        let mut s = Scene::new();
        let mut c = s.connect(0.0, "192.0.2.164:58870", "198.51.100.106:443", 0.09);
        s.send(0.1, &mut c, false, &[0x16, 3, 0, 0, 4, 1, 0, 0, 0]);
        s.send(0.2, &mut c, true, &[0x16, 3, 0, 0, 4, 2, 0, 0, 0]);
        s.send(at, &mut c, false, last);
        s.send(at + 3.0, &mut c, true, &[0x15, 3, 0, 0, 2, 1, 0]);
        s.frames()
    };
    let a = run(&[pcap(
        dir.path(),
        "close.pcap",
        &trace(&[0x15, 3, 0, 0, 2, 1, 0], 17.0),
    )]);
    assert!(
        find(&a, FindingId::ApplicationWait).is_empty(),
        "{:#?}",
        a.report.findings
    );
    let a = run(&[pcap(
        dir.path(),
        "data.pcap",
        // A request sent at once after the handshake, answered 3 s later.
        &trace(&[0x17, 3, 0, 0, 2, 1, 0], 0.201),
    )]);
    one(&a, FindingId::ApplicationWait);
}

/// A second slow answer in the same connection is a wait of its own (an
/// HTTP keep-alive connection: a fast first request, a slow second).
#[test]
fn a_second_slow_request_in_one_connection_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.10:41000", "198.51.100.80:80", 0.001);
    s.send(0.01, &mut c, false, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    s.send(
        3.01,
        &mut c,
        true,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    s.send(3.5, &mut c, false, b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    s.send(
        5.5,
        &mut c,
        true,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    let a = run(&[pcap(dir.path(), "two.pcap", &s.frames())]);
    let waits = find(&a, FindingId::ApplicationWait);
    let mut costs: Vec<f64> = waits
        .iter()
        .flat_map(|f| {
            let n = f.repeats.as_ref().map_or(1, |r| r.count);
            std::iter::repeat_n(f.wait().unwrap().waited.secs_f64().round(), n as usize)
        })
        .collect();
    costs.sort_by(f64::total_cmp);
    assert!(costs.len() == 2, "{costs:?} {:#?}", a.report.findings);
}

/// Zeek's var-services-std-ports.pcap: the server re-sent its SYN-ACK
/// 4 s after the client's ACK, and the client never sent a byte: a
/// server deferring accept until data comes (TCP_DEFER_ACCEPT, Apache's
/// default) does exactly that, so no full queue can be told. A client
/// that had sent its request by then was dropped by a full queue.
#[test]
fn a_bare_ack_ignored_is_no_overflow_without_data() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |data: bool| {
        let mut s = Scene::new();
        // Captured on the server's own link: its packets carry their
        // initial TTL.
        s.ttl("198.51.100.131", 64);
        let mut c = s.connect(0.0, "192.0.2.1:49658", "198.51.100.131:80", 0.00008);
        if data {
            s.send(0.0002, &mut c, false, b"GET / HTTP/1.1\r\n\r\n");
        }
        s.syn_ack_again(4.0, &c);
        s.ack(4.0001, &c, false);
        s.frames()
    };
    let a = run(&[pcap(dir.path(), "deferred.pcap", &trace(false))]);
    assert!(
        find(&a, FindingId::ListenQueueOverflow).is_empty()
            && find(&a, FindingId::SynAckRetransmitted).is_empty(),
        "{:#?}",
        a.report.findings
    );
    let a = run(&[pcap(dir.path(), "overflow.pcap", &trace(true))]);
    one(&a, FindingId::ListenQueueOverflow);
}

/// Zeek's irc-more-commands.pcap and irc-dcc-send.pcapng: InspIRCd's
/// welcome (001) came 1.4 s after CAP END, while it looked the client up:
/// registration is owed an answer. A chat line answered late is people.
#[test]
fn an_irc_welcome_late_after_registration_is_a_wait_chat_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.1:40000", "198.51.100.10:6667", 0.0001);
    s.send(
        0.001,
        &mut c,
        false,
        b"CAP LS\r\nNICK tim\r\nUSER tim tim x :Tim\r\n",
    );
    s.send(
        0.002,
        &mut c,
        true,
        b":ircd1.local NOTICE * :*** Looking up your hostname...\r\n",
    );
    s.send(
        0.003,
        &mut c,
        true,
        b":ircd1.local CAP * LS :multi-prefix\r\n",
    );
    s.send(0.025, &mut c, false, b"CAP END\r\n");
    s.send(1.47, &mut c, true, b":ircd1.local 001 tim :Welcome\r\n");
    s.send(5.0, &mut c, false, b"PRIVMSG #c :hello\r\n");
    s.send(9.0, &mut c, true, b":bob!b@h PRIVMSG #c :hi\r\n");
    let a = run(&[pcap(dir.path(), "irc.pcap", &s.frames())]);
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.wait().unwrap().waited.secs_f64().round(), 1.0);
    assert_eq!(
        f.conversation.as_ref().unwrap().service.as_deref(),
        Some("IRC")
    );
}

/// A fast scan of 29 ports gave 29 "unanswered" warnings; it is one
/// port-scan finding, some ports refused, the rest silent. One SYN an hour
/// to the next port (Zeek's rotation.pcap) is no scan: each attempt is
/// told. nmap's OS probes (SYN with FIN) are no connection attempts.
#[test]
fn a_scan_is_one_finding_and_odd_probes_no_connections() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    for p in 0..29u16 {
        let to = format!("198.51.100.5:{}", 1000 + p);
        let isn = s.syns(0.01 * f64::from(p), "192.0.2.66:40000", &to, &[0.0]);
        if p % 3 == 0 {
            s.refuse(0.01 * f64::from(p) + 0.0005, &to, "192.0.2.66:40000", isn);
        }
    }
    let probe = |s: &mut Scene, at: f64| {
        s.tcp(
            at,
            "192.0.2.66:40001".parse().unwrap(),
            "198.51.100.5:22".parse().unwrap(),
            7,
            None,
            "SFP",
            &[],
        );
    };
    probe(&mut s, 0.5);
    probe(&mut s, 0.6);
    // Something after, so the capture saw long enough.
    s.syns(5.0, "192.0.2.99:40000", "198.51.100.9:80", &[0.0]);
    let a = run(&[pcap(dir.path(), "scan.pcap", &s.frames())]);
    let scan = one(&a, FindingId::PortScan);
    let stalltrace_diagnosis::Facts::Storm(x) = &scan.facts else {
        panic!("{:?}", scan.facts)
    };
    assert_eq!(
        (x.attempts, x.ports, x.hosts, x.refused_attempts),
        (29, 29, 1, 10),
        "{:#?}",
        a.report
            .findings
            .iter()
            .map(|f| (f.id, en(f).summary))
            .collect::<Vec<_>>()
    );
    for f in find(&a, FindingId::ConnectionUnanswered)
        .into_iter()
        .chain(find(&a, FindingId::ConnectionRefused))
    {
        assert_ne!(
            f.conversation.as_ref().unwrap().client.host.to_string(),
            "192.0.2.66",
            "{f:#?}"
        );
    }
    assert!(a.report.warnings.iter().any(|w| matches!(
        w.kind,
        stalltrace_capture::WarningKind::OddSyns { count: 2 }
    )));

    let mut s = Scene::new();
    for p in 0..12u16 {
        let to = format!("198.51.100.5:{}", 1000 + p);
        s.syns(3600.0 * f64::from(p), "192.0.2.66:20", &to, &[0.0]);
    }
    let a = run(&[pcap(dir.path(), "slow.pcap", &s.frames())]);
    assert!(find(&a, FindingId::PortScan).is_empty());
    assert_eq!(find(&a, FindingId::ConnectionUnanswered).len(), 11);
}

/// Zeek's traces: a server's mDNS PTR lookup during a wait was called
/// its cause, "never answered", though the answer went to the group as
/// mDNS answers do; NBNS name broadcasts likewise (erspan.pcap). Queries
/// to a group are no callback; the wait stays the server's, its cause
/// unseen.
#[test]
fn a_query_to_a_group_is_no_unanswered_callback() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.1:56594", "198.51.100.158:22", 0.0002);
    s.send(0.01, &mut c, true, b"SSH-2.0-OpenSSH_9.2p1\r\n");
    s.send(0.02, &mut c, false, b"SSH-2.0-OpenSSH_9.6\r\n");
    s.send(0.03, &mut c, false, &[0u8; 600]);
    s.udp(
        0.04,
        "198.51.100.158:5353",
        "224.0.0.251:5353",
        &stalltrace_testkit::scene::ptr_query(0, [192, 0, 2, 1]),
    );
    s.udp(
        0.05,
        "198.51.100.77:5353",
        "224.0.0.251:5353",
        &stalltrace_testkit::scene::dns_answer(0, "1.2.0.192.in-addr.arpa", 12, 0, &[]),
    );
    s.send(5.03, &mut c, true, &[0u8; 900]);
    let a = run(&[pcap(dir.path(), "mdns.pcap", &s.frames())]);
    let f = one(&a, FindingId::ApplicationWait);
    assert!(f.cause().is_none(), "{}", en(f).summary);
    assert!(f.wait().unwrap().callbacks.is_empty(), "{:#?}", f.wait());
}

/// A capture that began mid-connection has no handshake: the server's
/// late answer to a request is still found (roles from the ports), and a
/// mid-stream SSH session, whose login cannot be told from its
/// interactive part, is not judged.
#[test]
fn a_wait_in_a_capture_without_the_handshake_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |server: &str, req: &[u8], resp: &[u8]| {
        let mut s = Scene::new();
        let mut c = s.connect(0.0, "192.0.2.10:41000", server, 0.001);
        s.send(0.01, &mut c, false, req);
        s.send(0.05, &mut c, true, resp);
        s.send(10.0, &mut c, false, req);
        s.send(13.5, &mut c, true, resp);
        // The capture started after the handshake.
        s.frames().into_iter().skip(3).collect::<Vec<_>>()
    };
    let a = run(&[pcap(
        dir.path(),
        "mid.pcap",
        &trace(
            "198.51.100.80:80",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ),
    )]);
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.wait().unwrap().waited.secs_f64().round(), 4.0);
    let a = run(&[pcap(
        dir.path(),
        "mid-ssh.pcap",
        &trace("198.51.100.22:22", &[1u8; 36], &[2u8; 36]),
    )]);
    assert!(find(&a, FindingId::ApplicationWait).is_empty());
}

/// Zeek's http/206_example_b.pcap: the server resent two segments
/// together on every timeout, with back-off, for 65 s, and the client
/// never acknowledged them (then RST). The two copies of each round are
/// one loss, not episodes of one copy each: it was missed outright.
#[test]
fn segments_resent_together_round_after_round_are_one_loss() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.14:3254", "198.51.100.206:80", 0.05);
    s.send(0.1, &mut c, false, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    // Full-size segments got through before (no MTU black hole).
    s.send(0.15, &mut c, true, &[6u8; 1400]);
    s.ack(0.18, &c, false);
    s.send(0.2, &mut c, true, &[7u8; 1400]);
    s.send(0.20001, &mut c, true, &[8u8; 1400]);
    // Each timeout resends both, back to back, the timer doubling.
    let (mut t, mut rto) = (0.5, 0.3);
    for _ in 0..8 {
        s.resend_back(t, &c, true, 2800, 1400);
        s.resend_back(t + 0.00002, &c, true, 1400, 1400);
        t += rto;
        rto *= 2.0;
    }
    let a = run(&[pcap(dir.path(), "rounds.pcap", &s.frames())]);
    let f = one(&a, FindingId::Retransmission);
    let x = f.loss().unwrap();
    assert!(!x.acknowledged);
    // The eight resends of the first segment (its original is older
    // than the four segments remembered, or not: eight or nine copies).
    assert!(x.copies >= 8, "{x:?}");
    // From the first resend (0.5 s) to the last (0.5 + 0.3 × 127 s).
    assert!((x.span.secs_f64() - 38.1).abs() < 0.3, "{:?}", x.span);
}

/// A folder of unrelated captures is no network: files that share no
/// conversation get no clock offset against each other, no path, and the
/// report says each was analysed on its own.
#[test]
fn unrelated_captures_are_said_to_be_analysed_each_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let one = |client: &str, server: &str, at: f64| {
        let mut s = Scene::new();
        let mut c = s.connect(at, client, server, 0.001);
        s.send(at + 0.01, &mut c, false, b"GET / HTTP/1.1\r\n\r\n");
        s.send(at + 0.02, &mut c, true, b"HTTP/1.1 200 OK\r\n\r\n");
        s.frames()
    };
    let a = pcap(
        dir.path(),
        "a.pcap",
        &one("192.0.2.1:40000", "198.51.100.1:80", 0.0),
    );
    let b = pcap(
        dir.path(),
        "b.pcap",
        &one("192.0.2.7:40000", "203.0.113.9:80", 1.0e9),
    );
    let r = run(&[a, b]);
    assert!(r.report.matching.offsets.is_empty());
    let text = text_en(&r);
    assert!(
        text.contains("sharing no conversation with another point, so analysed on its own: a, b"),
        "{text}"
    );
}

/// Zeek's tls/tls13_psk_succesfull.pcap: two people at openssl
/// s_client and s_server, small records typed seconds apart, was "a slow
/// HTTPS server". A first request typed 1.5 s after the handshake is a
/// person's; the same record sent at once and answered late is a wait.
#[test]
fn a_person_typing_over_tls_owes_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |typed_after: f64| {
        let mut s = Scene::new();
        let mut c = s.connect(0.0, "192.168.178.80:54220", "198.51.100.219:443", 0.034);
        s.send(0.035, &mut c, false, &[0x16, 3, 1, 0, 4, 1, 0, 0, 0]);
        s.send(0.07, &mut c, true, &[0x16, 3, 3, 0, 4, 2, 0, 0, 0]);
        s.send(0.071, &mut c, false, &[0x14, 3, 3, 0, 1, 1]);
        s.send(0.1, &mut c, true, &[0x17, 3, 3, 0, 4, 9, 9, 9, 9]);
        let t = 0.1 + typed_after;
        s.send(
            t,
            &mut c,
            false,
            &[
                0x17, 3, 3, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
                19, 20,
            ],
        );
        s.send(
            t + 1.57,
            &mut c,
            true,
            &[
                0x17, 3, 3, 0, 23, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0,
            ],
        );
        s.frames()
    };
    let a = run(&[pcap(dir.path(), "typed.pcap", &trace(1.57))]);
    assert!(
        find(&a, FindingId::ApplicationWait).is_empty(),
        "{:#?}",
        a.report.findings
    );
    let a = run(&[pcap(dir.path(), "program.pcap", &trace(0.001))]);
    one(&a, FindingId::ApplicationWait);
}

/// Each finding carries Wireshark's conversation filter for its packets
/// at its point, with the callback that explains it (the lab's env1 at
/// the firewall's outside: the POP3 login and the dropped ident lookup).
/// A capture that masked addresses gets none.
#[test]
fn a_finding_carries_its_wireshark_filter() {
    let lab = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/precision/lab/env1-drop");
    let a = run(&[lab]);
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.point, "fw-eth1");
    let c = f.conversation.as_ref().unwrap();
    let cb = f.cause().unwrap();
    let expected = format!(
        "(ip.addr=={} && tcp.port=={} && ip.addr=={} && tcp.port=={}) || (ip.addr=={} && tcp.port=={} && ip.addr=={} && tcp.port==113)",
        c.client.host, c.client.port, c.server.host, c.server.port,
        cb.conversation.client.host, cb.conversation.client.port, cb.conversation.server.host
    );
    assert_eq!(f.wireshark_filter.as_deref(), Some(expected.as_str()));
    let seed = run(&[example("env1-fw-eth1-outside.txt")]);
    let f = one(&seed, FindingId::ApplicationWait);
    assert!(f.wireshark_filter.is_none(), "{:?}", f.wireshark_filter);
}
