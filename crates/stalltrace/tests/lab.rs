//! The lab's scenarios on real Linux networking, and `analyze` on their
//! captures. Needs root, iproute2 and nftables (CI has them); elsewhere the
//! tests skip loudly, unless STALLTRACE_REQUIRE_ROOT_TESTS=1 makes that fail.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use stalltrace_capture::{CaptureReader, Record};
use stalltrace_decode::{decode_frame, IcmpReason, Transport};
use stalltrace_diagnosis::{CallbackKind, Fate, Finding, FindingId, PathFact, Target};
use stalltrace_lab::actors::IdentOutcome;
use stalltrace_lab::{RunOutcome, Scenario};
use stalltrace_matching::NatKind;

const SHORT: Duration = Duration::from_secs(3);

fn lab(name: &str, dir: &Path) -> RunOutcome {
    let s = Scenario::find(name).unwrap();
    let r = stalltrace_lab::run(&s, SHORT, dir).unwrap();
    r.check().unwrap_or_else(|e| panic!("{name}: {e}"));
    no_network_fault(&r);
    r
}

/// A login on a clean network: none of the network rules fires at any
/// point (issue 12: no false positives on the lab's scenarios).
fn no_network_fault(r: &RunOutcome) {
    const NETWORK: &[FindingId] = &[
        FindingId::Retransmission,
        FindingId::ZeroWindow,
        FindingId::NagleDelayedAck,
        FindingId::PmtuBlackHole,
        FindingId::SynRetransmitted,
        FindingId::ListenQueueOverflow,
        FindingId::IdleTimeout,
        FindingId::Ipv6Fallback,
        FindingId::ConnectionRefused,
    ];
    for c in &r.captures {
        let a = run(std::slice::from_ref(&c.path));
        for f in &a.report.findings {
            assert!(
                !NETWORK.contains(&f.id),
                "{}: {} at {}",
                r.scenario.name,
                f.id.as_str(),
                c.point
            );
        }
    }
}

fn capture(r: &RunOutcome, point: &str) -> std::path::PathBuf {
    r.captures
        .iter()
        .find(|c| c.point == point)
        .unwrap_or_else(|| panic!("no {point} capture"))
        .path
        .clone()
}

/// The first stall or lookup finding `analyze` makes of one capture.
fn finding(r: &RunOutcome, point: &str) -> Option<Finding> {
    let a = run(&[capture(r, point)]);
    assert!(a.errors.is_empty());
    a.report
        .findings
        .into_iter()
        .find(|f| matches!(f.id, FindingId::ApplicationWait | FindingId::CallbackLookup))
}

/// All of a run's captures analysed together: the mapping the matcher found
/// must be the one the kernel made, and the stall or lookup finding must say
/// `verdict` about where the callback went.
fn together(r: &RunOutcome, verdict: &str) {
    let paths: Vec<_> = r.captures.iter().map(|c| c.path.clone()).collect();
    let a = run(&paths);
    let m = &a.report.matching;
    match r.nat_mapping {
        Some((inside, outside)) => {
            let found = m
                .mappings
                .iter()
                .find(|n| n.kind == NatKind::Source)
                .expect("a source NAT mapping");
            assert_eq!(found.inside.to_string(), inside.to_string());
            assert_eq!(found.outside.to_string(), outside.to_string());
            assert_eq!(
                (found.inside_point.as_str(), found.outside_point.as_str()),
                ("fw-eth2", "fw-eth1")
            );
            assert_eq!(
                m.paths,
                vec![vec!["client", "fw-eth2", "fw-eth1", "server"]]
            );
        }
        None => {
            assert!(
                m.mappings.iter().all(|n| n.kind != NatKind::Source),
                "{:?}",
                m.mappings
            );
            assert_eq!(m.paths, vec![vec!["client", "server"]]);
        }
    }
    // One machine, one clock: no offset is applied.
    assert!(m.offsets.iter().all(|o| !o.applied), "{:?}", m.offsets);
    let f = a
        .report
        .findings
        .iter()
        .find(|f| matches!(f.id, FindingId::ApplicationWait | FindingId::CallbackLookup))
        .expect("a finding");
    let path = en(f).path;
    assert!(
        path.iter().any(|p| p.contains(verdict)),
        "{}: {:?}",
        r.scenario.name,
        path
    );
    let t = f.timeline.as_ref().expect("a merged timeline");
    assert_eq!(t.points.len(), r.captures.len());
}

/// TCP SYNs (without ACK) to port 113 in a capture file.
fn ident_syns(path: &Path) -> usize {
    let mut r = CaptureReader::open(path).unwrap();
    let mut n = 0;
    while let Some(rec) = r.next().unwrap() {
        let Record::Frame(f) = rec else { continue };
        let Ok(p) = decode_frame(f.link, f.data, f.meta) else {
            continue;
        };
        if let Transport::Tcp(t) = &p.transport {
            if t.dst_port == 113 && t.flags.syn() && !t.flags.ack() {
                n += 1;
            }
        }
    }
    n
}

fn kernel_schedule() -> &'static str {
    if Path::new("/proc/sys/net/ipv4/tcp_syn_linear_timeouts").exists() {
        "linux-6.5"
    } else {
        "linux-3.7"
    }
}

#[test]
fn env1_drop_waits_the_timeout_and_the_outside_shows_why() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = lab("env1-drop", dir.path());
    assert!(matches!(r.served.ident, IdentOutcome::TimedOut(_)));
    let (inside, outside) = r.nat_mapping.expect("NAT rewrote the client");
    assert_eq!(inside.ip().to_string(), "192.168.1.200");
    assert_eq!(outside.ip().to_string(), "203.0.113.171");
    assert_ne!(inside.port(), outside.port(), "the NAT rewrites ports");
    // The SYNs reach the outside and never the inside.
    assert!(ident_syns(&capture(&r, "fw-eth1")) >= 2);
    assert_eq!(ident_syns(&capture(&r, "fw-eth2")), 0);
    assert_eq!(ident_syns(&capture(&r, "client")), 0);
    for point in ["fw-eth1", "server"] {
        let f = finding(&r, point).unwrap();
        assert_eq!(f.id, FindingId::ApplicationWait, "{point}");
        let cb = f
            .cause()
            .unwrap_or_else(|| panic!("{point}: {}", en(&f).summary));
        assert_eq!(cb.kind, CallbackKind::Ident);
        assert_eq!(cb.fate, Fate::Unanswered);
        assert_eq!(cb.conversation.server.to_string(), "203.0.113.171:113");
        assert!((cb.give_up.as_ref().unwrap().after.secs_f64() - 3.0).abs() < 0.2);
        assert!(
            cb.backoff_matches.iter().any(|m| m.id == kernel_schedule()),
            "{point}: {:?}",
            cb.backoff_matches
        );
    }
    for point in ["fw-eth2", "client"] {
        let f = finding(&r, point).unwrap();
        assert_eq!(f.id, FindingId::ApplicationWait, "{point}");
        assert!(f.cause().is_none(), "{point}");
        assert!(
            en(&f)
                .details
                .iter()
                .any(|d| d.contains("192.168.1.200 has a private address")),
            "{point}"
        );
    }
}

#[test]
fn env3_reset_is_fast_and_the_rst_comes_from_the_firewall() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = lab("env3-reset", dir.path());
    assert!(matches!(r.served.ident, IdentOutcome::Refused(_)));
    assert_eq!(ident_syns(&capture(&r, "fw-eth2")), 0);
    let f = finding(&r, "fw-eth1").unwrap();
    assert_eq!(f.id, FindingId::CallbackLookup);
    match &f.cause().unwrap().fate {
        Fate::Refused { by, after } => {
            assert_eq!(by.to_string(), "203.0.113.171");
            assert!(after.secs_f64() < 0.1);
        }
        other => panic!("{other:?}"),
    }
    together(
        &r,
        "The device between fw-eth1 and fw-eth2 (the NAT device: it translates",
    );
    together(
        &r,
        "refused the callback itself: the RST came from 203.0.113.171",
    );
}

#[test]
fn nat_icmp_fails_the_lookup_on_the_icmp_error() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = lab("nat-icmp", dir.path());
    let f = finding(&r, "server").unwrap();
    match &f.cause().unwrap().fate {
        Fate::IcmpError { by, reason, .. } => {
            assert_eq!(by.to_string(), "203.0.113.171");
            assert_eq!(*reason, IcmpReason::PortUnreachable);
        }
        other => panic!("{other:?}"),
    }
    // The server connects as xinetd does (blocking, bounded by a timer).
    // On a link without latency the ICMP error can arrive while connect()
    // still holds the socket: Linux then sets it aside (counting it in
    // TcpExtLockDroppedIcmps) and only the ICMP after the SYN retry, 1 s
    // later, ends the attempt. Either way it ends well before the timeout,
    // and the capture and the counter agree on which happened.
    let syns = ident_syns(&capture(&r, "server"));
    let g = r.login.to_greeting.as_secs_f64();
    let set_aside = r.lock_dropped_icmps.unwrap_or(0);
    match syns {
        1 => assert!(
            g < 0.5 && set_aside == 0,
            "1 SYN: greeting after {g} s, {set_aside} set aside"
        ),
        2 => {
            assert!((0.8..1.5).contains(&g), "2 SYNs: greeting after {g} s");
            assert!(set_aside >= 1, "a retry without an ICMP set aside");
            let details = en(&f).details;
            assert!(
                details
                    .iter()
                    .any(|d| d.contains("The first ICMP error did not end the attempt")),
                "{details:?}"
            );
        }
        n => panic!("{n} ident SYNs"),
    }
    assert!(find_unanswered(&r).is_empty());
    together(
        &r,
        "refused the callback itself with ICMP port unreachable from 203.0.113.171",
    );
}

fn find_unanswered(r: &RunOutcome) -> Vec<Finding> {
    let a = run(&[capture(r, "server")]);
    a.report
        .findings
        .into_iter()
        .filter(|f| f.id == FindingId::ConnectionUnanswered)
        .collect()
}

#[test]
fn nat_forward_reaches_the_identd_on_the_client() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = lab("nat-forward-identd", dir.path());
    assert!(
        matches!(&r.served.ident, IdentOutcome::User(_, u) if u == "alice"),
        "{}",
        r.served.ident
    );
    assert!(
        ident_syns(&capture(&r, "fw-eth2")) >= 1,
        "the SYN was forwarded inside"
    );
    for point in ["fw-eth1", "client"] {
        let f = finding(&r, point).unwrap();
        assert_eq!(f.id, FindingId::CallbackLookup, "{point}");
        assert!(
            matches!(f.cause().unwrap().fate, Fate::Answered { .. }),
            "{point}"
        );
    }
}

#[test]
fn ident_off_makes_no_callback_at_all() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = lab("ident-off", dir.path());
    assert_eq!(r.served.ident, IdentOutcome::Off);
    for c in &r.captures {
        assert_eq!(ident_syns(&c.path), 0, "{}", c.point);
        assert!(finding(&r, &c.point).is_none(), "{}", c.point);
    }
}

#[test]
fn env2_stealth_waits_and_env2_open_is_refused_by_the_client() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = lab("env2-stealth", dir.path());
    assert!(r.nat_mapping.is_none());
    // Regression (issue 11): without NAT, the client's own capture shows
    // the ident SYNs arriving (its packets leave with TTL 64, unrouted)
    // and nothing answering: the client host itself discards them. Its
    // remedies are for that host, not for a NAT device.
    for point in ["client", "server"] {
        let f = finding(&r, point).unwrap();
        assert_eq!(f.id, FindingId::ApplicationWait, "{point}");
        assert_eq!(f.cause().unwrap().fate, Fate::Unanswered);
        assert!(
            f.path.iter().any(
                |p| matches!(p, PathFact::AddresseeDiscards { addressee, ttl: 64, .. }
                if addressee.to_string() == "203.0.113.170")
            ),
            "{point}: {:?}",
            f.path
        );
        assert!(
            en(&f)
                .summary
                .contains("discarded silently by 203.0.113.170 itself"),
            "{point}: {}",
            en(&f).summary
        );
        assert!(f.remedies.iter().any(|r| r.target
            == Target::CallbackTarget {
                host: "203.0.113.170".parse().unwrap()
            }));
        assert!(!f
            .remedies
            .iter()
            .any(|r| matches!(r.target, Target::NatDevice { .. })));
    }
    together(&r, "the client host itself discards them");

    let dir = tempfile::tempdir().unwrap();
    let r = lab("env2-open", dir.path());
    let f = finding(&r, "client").unwrap();
    assert_eq!(f.id, FindingId::CallbackLookup);
    assert!(
        matches!(&f.cause().unwrap().fate, Fate::Refused { by, .. } if by.to_string() == "203.0.113.170")
    );
}

fn our_namespaces(pid: u32) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("st{pid}-")))
        .map(String::from)
        .collect()
}

#[test]
fn ten_concurrent_runs_leave_nothing_behind() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..10)
        .map(|i| {
            let scenario = if i % 2 == 0 {
                "env3-reset"
            } else {
                "env2-open"
            };
            Command::new(bin())
                .args(["lab", "run", scenario, "--ident-timeout", "3", "--out"])
                .arg(dir.path().join(format!("run{i}")))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let pid = c.id();
        let out = c.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout)
            .contains("expectation (Fast greeting, Refused callback): met"));
        assert!(
            our_namespaces(pid).is_empty(),
            "run {pid} left namespaces behind"
        );
    }
}

#[test]
fn ctrl_c_removes_the_namespaces() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(bin())
        .args(["lab", "run", "env1-drop", "--ident-timeout", "30", "--out"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait until the run has built its namespaces.
    let t0 = std::time::Instant::now();
    while our_namespaces(pid).len() < 3 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(our_namespaces(pid).len(), 3, "the run did not start");
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted; removed 3 network namespaces")
    );
    assert!(our_namespaces(pid).is_empty());
    // No process of the run is left either.
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
    );
}

/// Starts `lab run env1-drop` with `--out out` and waits until its three
/// namespaces stand.
fn started_run(out: &Path) -> std::process::Child {
    let child = Command::new(bin())
        .args(["lab", "run", "env1-drop", "--ident-timeout", "30", "--out"])
        .arg(out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while our_namespaces(child.id()).len() < 3 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(our_namespaces(child.id()).len(), 3, "the run did not start");
    child
}

/// SIGTERM ends a run with 143, and the --out folder it made (it did not
/// exist) goes with its namespaces: nothing empty or half-written is left.
#[test]
fn sigterm_removes_the_run_and_the_folder_it_made() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new").join("env1");
    let child = started_run(&out);
    let pid = child.id();
    assert!(out.is_dir(), "the run makes its folder first");
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("interrupted; removed 3 network namespaces and the unfinished"),
        "{err}"
    );
    assert!(!out.exists(), "{} left", out.display());
    assert!(our_namespaces(pid).is_empty());
}

/// A run killed outright (SIGKILL) leaves its namespaces: `lab clean`
/// finds them by the dead process's id in their names, removes them and
/// names them; then there is nothing left to clean.
#[test]
fn a_killed_runs_namespaces_are_found_and_removed() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = started_run(dir.path());
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    let left = our_namespaces(pid);
    assert_eq!(left.len(), 3, "SIGKILL leaves them: {left:?}");
    let o = Command::new(bin()).args(["lab", "clean"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let said = String::from_utf8_lossy(&o.stdout);
    // (Other tests' runs end meanwhile; only a dead one's are taken.)
    assert!(
        said.starts_with("removed ")
            && said.contains(" network namespaces left by a run that was killed: "),
        "{said}"
    );
    for n in &left {
        assert!(said.contains(n.as_str()), "{n} not named: {said}");
        assert!(!Path::new(&format!("/etc/netns/{n}")).exists());
    }
    assert!(our_namespaces(pid).is_empty());
    // Clean again: this process's own namespaces (alive) are never taken.
    let o = Command::new(bin()).args(["lab", "clean"]).output().unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said == "nothing left by an earlier run\n" || !said.contains(&format!("st{pid}-")),
        "{said}"
    );
}

/// A lab server with sendmail's banner and timers: a 5 s ident timeout
/// (Timeout.ident) and a 1 s greet_pause. Every capture that sees the wait
/// splits it 5.0 + 1.0 s, names both timers, and leads with sendmail's
/// fixes (issue 11).
#[test]
fn sendmail_ident_then_greet_pause_is_split_in_two() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = lab("sendmail-ident-pause", dir.path());
    assert_eq!(r.ident_timeout, Duration::from_secs(5));
    let g = r.login.to_greeting.as_secs_f64();
    assert!((5.9..6.5).contains(&g), "greeting after {g} s");
    for point in ["fw-eth1", "server"] {
        let f = finding(&r, point).unwrap();
        assert_eq!(f.id, FindingId::ApplicationWait, "{point}");
        let cb = f
            .cause()
            .unwrap_or_else(|| panic!("{point}: {}", en(&f).summary));
        assert_eq!(cb.kind, CallbackKind::Ident);
        assert!(
            (cb.lasted.secs_f64() - 5.0).abs() < 0.1,
            "{point}: {:?}",
            cb.lasted
        );
        assert_eq!(cb.timer_matches[0].id, "sendmail-ident", "{point}");
        let rest = f.wait().unwrap().remainder.as_ref().unwrap();
        assert!(
            (rest.duration.secs_f64() - 1.0).abs() < 0.1,
            "{point}: {rest:?}"
        );
        assert_eq!(rest.timer_matches[0].id, "sendmail-greet-pause-debian");
        assert_eq!(
            f.remedies[0].target,
            Target::Daemon {
                daemon: stalltrace_diagnosis::Daemon::Sendmail
            },
            "{point}"
        );
        assert!(f.remedies.iter().any(|r| r
            .lines
            .iter()
            .any(|l| l.starts_with("GreetPause:203.0.113.171"))));
    }
    together(&r, "the device between fw-eth1 and fw-eth2 (the NAT device");
}
