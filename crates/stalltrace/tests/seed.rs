//! The seed report's captures, analysed one capture point at a time.

mod common;

use common::*;
use stalltrace_decode::Host;
use stalltrace_diagnosis::{CallbackKind, Fate, FindingId, Severity};

#[test]
fn env1_outside_names_the_unanswered_ident_callback() {
    let a = run(&[example("env1-fw-eth1-outside.txt")]);
    assert!(
        a.errors.is_empty(),
        "{:?}",
        a.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    );
    // The seed's `[|tcp]` lines were cut by tcpdump's snaplen: said, not hidden.
    let w: Vec<String> = a
        .report
        .warnings
        .iter()
        .map(|w| w.message.clone())
        .collect();
    assert_eq!(w, vec!["env1-fw-eth1-outside: 4 packets were cut short by the capture (snaplen); what is missing is treated as unknown"]);
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.point, "env1-fw-eth1-outside");
    assert!(
        f.summary.starts_with(
            "The POP3 greeting came 34.5 s after the client's SYN (34.3 s after the handshake)"
        ),
        "{}",
        f.summary
    );
    assert_eq!(f.cost.unwrap().nanos(), 34_345_694_000);

    let cb = f.cause.as_ref().expect("a cause");
    assert_eq!(cb.kind, CallbackKind::Ident);
    assert_eq!(cb.conversation.client.to_string(), "220.xxx.160.xxx:38107");
    assert_eq!(cb.conversation.server.to_string(), "218.104.68.171:113");
    assert_eq!(cb.fate, Fate::Unanswered);
    let offsets: Vec<f64> = cb.attempts.iter().map(|d| tenths(*d)).collect();
    assert_eq!(offsets, vec![0.0, 3.0, 9.0, 21.0]);
    // 13:05:43.068169 - 13:05:13.107977
    assert_eq!(cb.give_up.unwrap().nanos(), 29_960_192_000);
    assert!(cb.give_up_is_application_timer);
    assert!(cb
        .timer_matches
        .iter()
        .any(|t| t.who_en.starts_with("xinetd USERID")));
    assert!(cb.timer_matches.iter().all(|t| t.seconds == 30.0));
    assert_eq!(cb.backoff_matches.len(), 1);
    assert!(cb.backoff_matches[0].starts_with("Linux 2.4"));

    let why = f.details.join("\n");
    assert!(
        why.contains("4 SYNs at +0, +3.0, +9.0, +21.0 s, never answered at this capture point"),
        "{why}"
    );
    assert!(why.contains("gave up 30.0 s after its first SYN, between its +21 s retry and the next one due at +45 s: an application timer, not TCP giving up"), "{why}");
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

    // Remedies: the 30 s timer puts xinetd first; the firewall lines are there.
    assert_eq!(f.remedies[0].target, "xinetd");
    let lines: Vec<&str> = f
        .remedies
        .iter()
        .flat_map(|r| r.lines.iter().map(String::as_str))
        .collect();
    for needed in [
        "log_on_success -= USERID",
        "O Timeout.ident=0",
        "define(`confTO_IDENT', `0')dnl",
        "rfc1413_query_timeout = 0s",
        "IdentLookups off",
        "nft add rule inet filter input tcp dport 113 reject with tcp reset",
        "iptables -A INPUT -p tcp --dport 113 -j REJECT --reject-with tcp-reset",
        "oidentd --masquerade",
    ] {
        assert!(lines.contains(&needed), "missing remedy line {needed}");
    }

    // The time breakdown adds up to the wait: 4.2 s handshake, 0.2 s, 30.0 s.
    let parts: Vec<f64> = f.breakdown.iter().map(|s| tenths(s.duration)).collect();
    assert_eq!(parts, vec![4.2, 0.2, 30.0]);

    let s = one(&a, FindingId::SynAckRetransmitted);
    assert!(s.summary.contains("re-sent its SYN-ACK 4.2 s after the first although the client's ACK passed this point 4.2 s earlier"), "{}", s.summary);
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
    let cb = f.cause.as_ref().unwrap();
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
    assert!(
        f.summary
            .contains("refused by a RST from 218.104.68.171 in 2.8 ms"),
        "{}",
        f.summary
    );
    assert_eq!(
        f.evidence.iter().map(|e| e.packet).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
    assert_eq!(a.report.findings.len(), 1);
}

#[test]
fn env1_inside_finds_the_wait_and_says_where_to_look() {
    let a = run(&[example("env1-fw-eth2-inside.txt")]);
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.point, "env1-fw-eth2-inside");
    assert!(f.cause.is_none());
    assert_eq!(tenths(f.cost.unwrap()), 34.3);
    let why = f.details.join("\n");
    assert!(why.contains("its cause is not visible here"), "{why}");
    assert!(why.contains("192.168.1.200 has a private address"), "{why}");
    assert!(
        why.contains("Capture on the NAT device's outside interface, or at the server"),
        "{why}"
    );
    assert!(
        why.contains("The server spoke 30.2 s after it had the connection"),
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
        inputs: vec![stalltrace::analyze::InputSpec {
            path: example("env1-fw-eth1-outside.txt"),
            name: None,
        }],
        ..Default::default()
    };
    opts.wait_threshold = stalltrace_decode::TimeDelta::from_secs(40);
    let a = stalltrace::analyze::analyze(&opts);
    assert!(find(&a, FindingId::ApplicationWait).is_empty());
    let f = one(&a, FindingId::CallbackLookup);
    assert_eq!(tenths(f.cost.unwrap()), 30.0);
    assert!(
        f.summary.contains(
            "never answered at this capture point; the greeting came 34.3 s after the handshake"
        ),
        "{}",
        f.summary
    );
}
