//! The seed report's captures, analysed one capture point at a time.

mod common;

use common::*;
use stalltrace_decode::Host;
use stalltrace_diagnosis::{CallbackKind, Fate, FindingId, Severity, Target};

#[test]
fn env1_outside_names_the_unanswered_ident_callback() {
    let a = run(&[example("env1-fw-eth1-outside.txt")]);
    assert!(
        a.errors.is_empty(),
        "{:?}",
        a.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    );
    // The seed's `[|tcp]` lines were cut by tcpdump's snaplen: said, not hidden.
    let w: Vec<String> = a.report.warnings.iter().map(|w| w.to_string()).collect();
    assert!(w[0].ends_with("env1-fw-eth1-outside.txt: env1-fw-eth1-outside: 4 packets were cut short by the capture (snaplen); what is missing is treated as unknown"), "{w:?}");
    assert_eq!(
        a.report.warnings[0].kind,
        stalltrace_capture::WarningKind::Snaplen { count: 4 }
    );
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.point, "env1-fw-eth1-outside");
    let summary = en(f).summary;
    assert!(
        summary.starts_with(
            "The POP3 greeting came 34.5 s after the client's SYN (34.3 s after the handshake)"
        ),
        "{summary}"
    );
    assert_eq!(f.cost.unwrap().nanos(), 34_345_694_000);

    let cb = f.cause().expect("a cause");
    assert_eq!(cb.kind, CallbackKind::Ident);
    assert_eq!(cb.conversation.client.to_string(), "220.xxx.160.xxx:38107");
    assert_eq!(cb.conversation.server.to_string(), "218.104.68.171:113");
    assert_eq!(cb.fate, Fate::Unanswered);
    let offsets: Vec<f64> = cb.attempts.iter().map(|d| tenths(*d)).collect();
    assert_eq!(offsets, vec![0.0, 3.0, 9.0, 21.0]);
    // 13:05:43.068169 - 13:05:13.107977: the xinetd timer, cut at the greeting.
    let g = cb.give_up.as_ref().unwrap();
    assert_eq!(g.after.nanos(), 29_960_192_000);
    assert_eq!(cb.lasted, g.after);
    assert!(g.application_timer && g.by_timer);
    assert_eq!(tenths(g.last_attempt), 21.0);
    assert_eq!(g.next_retry_due.map(tenths), Some(45.0));
    assert_eq!(cb.timer_matches[0].id, "xinetd-userid");
    assert!(cb.timer_matches.iter().all(|t| t.seconds == 30.0));
    assert_eq!(cb.backoff_matches.len(), 1);
    assert_eq!(cb.backoff_matches[0].id, "linux-2.4");

    let why = en(f).details.join("\n");
    assert!(
        why.contains("4 SYNs at +0, +3.0, +9.0, +21.0 s, never answered at this capture point"),
        "{why}"
    );
    assert!(why.contains("gave up 30.0 s after its first SYN, after its +21 s retry and before the next one, due at +45 s: an application timer, not TCP giving up"), "{why}");
    assert!(why.contains("matches Linux 2.4"), "{why}");
    assert!(
        why.contains("The first 4.2 s went to the handshake"),
        "{why}"
    );

    // Evidence: the packet numbers are the seed file's line numbers.
    let ev: Vec<(u64, &str)> = f
        .evidence
        .iter()
        .map(|e| (e.packet, e.time_of_day.as_str()))
        .collect();
    assert_eq!(
        ev,
        vec![
            (1, "13:05:08.533163"),
            (3, "13:05:08.722475"),
            (4, "13:05:12.916200"),
            (5, "13:05:12.916763"),
            (6, "13:05:13.107977"),
            (7, "13:05:16.096580"),
            (8, "13:05:22.087058"),
            (9, "13:05:34.068364"),
            (10, "13:05:43.068169"),
        ]
    );
    assert!(f.evidence.iter().all(|e| e.point == "env1-fw-eth1-outside"));

    // Remedies: the 30 s timer puts xinetd first; then what else can make
    // a POP3 server look up ident; then the host the lookup went to.
    assert_eq!(
        f.remedies[0].target,
        Target::Program {
            name: "xinetd".into()
        }
    );
    let lines: Vec<&str> = f
        .remedies
        .iter()
        .flat_map(|r| r.lines.iter().map(String::as_str))
        .collect();
    for needed in [
        "log_on_success -= USERID",
        "nft add rule inet filter input tcp dport 113 reject with tcp reset",
        "iptables -A INPUT -p tcp --dport 113 -j REJECT --reject-with tcp-reset",
    ] {
        assert!(lines.contains(&needed), "missing remedy line {needed}");
    }
    // Regression (issue 11): no SMTP or FTP daemon's fix for a POP3
    // server, and no NAT fix without NAT seen (one point, outside).
    for absent in [
        "O Timeout.ident=0",
        "IdentLookups off",
        "oidentd --masquerade",
    ] {
        assert!(
            !lines.contains(&absent),
            "remedy line {absent} for POP3 without NAT"
        );
    }
    assert!(
        !lines.iter().any(|l| l.contains("192.168.1.0")),
        "{lines:?}"
    );

    // The time breakdown adds up to the wait: 4.2 s handshake, the ACK's
    // way to the server (half the 189 ms round trip), 3 ms of the server's,
    // 30.0 s of ident, the greeting's way back.
    let parts: Vec<f64> = f.breakdown.iter().map(|s| tenths(s.duration)).collect();
    assert_eq!(parts, vec![4.2, 0.1, 0.0, 30.0, 0.1]);
    let total: i64 = f.breakdown.iter().map(|s| s.duration.nanos()).sum();
    assert_eq!(total, f.cost.unwrap().nanos());

    let s = one(&a, FindingId::SynAckRetransmitted);
    let summary = en(s).summary;
    assert!(summary.contains("re-sent its SYN-ACK 4.2 s after the first although the client's ACK passed this point 4.2 s earlier"), "{summary}");
    assert_eq!(
        s.evidence.iter().map(|e| e.packet).collect::<Vec<_>>(),
        vec![2, 3, 4, 5]
    );
    // The ident conversation is the cause, not a separate unanswered finding.
    assert!(find(&a, FindingId::ConnectionUnanswered).is_empty());
}

#[test]
fn env3_outside_reports_the_fast_refusal_as_information_only() {
    let a = run(&[example("env3-fw-eth1-outside.txt")]);
    assert!(
        find(&a, FindingId::ApplicationWait).is_empty(),
        "{:#?}",
        a.report.findings
    );
    let f = one(&a, FindingId::CallbackLookup);
    assert_eq!(f.severity, Severity::Info);
    let cb = f.cause().unwrap();
    assert_eq!(cb.kind, CallbackKind::Ident);
    assert_eq!(cb.conversation.server.to_string(), "218.104.68.171:113");
    match &cb.fate {
        Fate::Refused { by, after } => {
            assert_eq!(*by, Host::V4("218.104.68.171".parse().unwrap()));
            assert_eq!(after.nanos(), 2_771_000);
            assert_eq!(after.to_string(), "2.8 ms");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let summary = en(f).summary;
    assert!(
        summary.contains("refused by a RST from 218.104.68.171 in 2.8 ms"),
        "{summary}"
    );
    assert_eq!(
        f.evidence.iter().map(|e| e.packet).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
    assert_eq!(a.report.findings.len(), 1);
    // A lookup that cost little: one word of advice (issue 11).
    assert!(f.remedies.len() <= 1, "{:#?}", f.remedies);
}

#[test]
fn env1_inside_finds_the_wait_and_says_where_to_look() {
    let a = run(&[example("env1-fw-eth2-inside.txt")]);
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.point, "env1-fw-eth2-inside");
    assert!(f.cause().is_none());
    assert_eq!(tenths(f.cost.unwrap()), 34.3);
    let why = en(f).details.join("\n");
    assert!(why.contains("its cause is not visible here"), "{why}");
    assert!(why.contains("192.168.1.200 has a private address"), "{why}");
    assert!(
        why.contains("Capture on the NAT device's outside interface, or at the server"),
        "{why}"
    );
    assert!(
        why.contains("The server spoke 30.0 s after it had the connection"),
        "{why}"
    );
    assert!(f.remedies.is_empty());
}

#[test]
fn env3_inside_has_nothing_to_report() {
    let a = run(&[example("env3-fw-eth2-inside.txt")]);
    assert!(a.report.findings.is_empty(), "{:#?}", a.report.findings);
    assert_eq!(a.report.points[0].stats.packets, 5);
}

#[test]
fn below_the_threshold_a_lookup_is_information_with_its_real_cost() {
    let mut opts = stalltrace::analyze::AnalyzeOptions {
        inputs: vec![stalltrace::analyze::InputSpec::new(example(
            "env1-fw-eth1-outside.txt",
        ))],
        ..Default::default()
    };
    opts.wait_threshold = stalltrace_decode::TimeDelta::from_secs(40);
    let a = stalltrace::analyze::analyze(&opts);
    assert!(find(&a, FindingId::ApplicationWait).is_empty());
    let f = one(&a, FindingId::CallbackLookup);
    assert_eq!(tenths(f.cost.unwrap()), 30.0);
    let summary = en(f).summary;
    assert!(
        summary.contains(
            "never answered at this capture point; the greeting came 34.3 s after the handshake"
        ),
        "{summary}"
    );
}
