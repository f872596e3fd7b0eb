//! Real captures made here: a POP3 server in its own network namespace
//! makes an ident callback to the client, which nftables drops; the server
//! gives up after 3 s and greets. Loopback is captured with an AF_PACKET
//! socket into pcapng, and `analyze` must name the callback as the cause.
//!
//! Needs root (CI is root). Elsewhere it skips with a loud message, unless
//! STALLTRACE_REQUIRE_ROOT_TESTS=1, which .ci/run sets so that a skip fails.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use stalltrace_diagnosis::{CallbackKind, Fate, FindingId};
use stalltrace_lab::capture::Capture;
use stalltrace_lab::netns::Netns;

const IDENT_TIMEOUT: Duration = Duration::from_secs(3);

fn can_run() -> bool {
    match stalltrace_lab::netns::check_prerequisites() {
        Ok(()) => true,
        Err(e) if std::env::var("STALLTRACE_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") => {
            panic!("live capture test cannot run ({e}) but STALLTRACE_REQUIRE_ROOT_TESTS=1")
        }
        Err(e) => {
            eprintln!("\n*** SKIPPED live capture test: {e} ***\n");
            false
        }
    }
}

/// POP3 with an ident lookup first, as xinetd's USERID does it.
fn pop3_server(listener: TcpListener) -> Result<(), stalltrace_lab::LabError> {
    let (mut s, peer) = listener.accept().unwrap();
    let local = s.local_addr().unwrap();
    let ident: SocketAddr = SocketAddr::new(peer.ip(), 113);
    if let Ok(mut q) = TcpStream::connect_timeout(&ident, IDENT_TIMEOUT) {
        let _ = write!(q, "{}, {}\r\n", peer.port(), local.port());
    }
    s.write_all(b"+OK stalltrace test POP3 ready\r\n").unwrap();
    let mut buf = [0u8; 64];
    let _ = s.read(&mut buf);
    Ok(())
}

#[test]
fn a_dropped_ident_callback_on_real_tcp_is_diagnosed() {
    if !can_run() {
        return;
    }
    // A namespace of our own: its loopback, and an ident port that drops.
    let ns = Netns::create("live").unwrap();
    ns.nft("table inet stalltrace_test {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 113 drop\n }\n}\n").unwrap();
    let cap = Capture::start(&ns, "lo").unwrap();
    let listener = ns
        .spawn(|| Ok(TcpListener::bind("127.0.0.1:110").unwrap()))
        .join()
        .unwrap()
        .unwrap();
    // Every thread that opens sockets must be in the namespace.
    let server = ns.spawn(move || pop3_server(listener));
    let waited = Arc::new(Mutex::new(Duration::ZERO));
    let w = waited.clone();
    ns.spawn(move || {
        let t0 = Instant::now();
        let mut c = TcpStream::connect("127.0.0.1:110").unwrap();
        let mut buf = [0u8; 128];
        let n = c.read(&mut buf).unwrap();
        *w.lock().unwrap() = t0.elapsed();
        assert!(buf[..n].starts_with(b"+OK"));
        c.write_all(b"QUIT\r\n").unwrap();
        Ok(())
    })
    .join()
    .unwrap()
    .unwrap();
    server.join().unwrap().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let captured = cap.stop().unwrap();
    drop(ns);

    let waited = *waited.lock().unwrap();
    assert!(
        waited >= IDENT_TIMEOUT && waited < IDENT_TIMEOUT + Duration::from_millis(500),
        "greeting after {waited:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live-lo.pcapng");
    captured.write_pcapng(&path).unwrap();

    let a = run(std::slice::from_ref(&path));
    assert!(a.errors.is_empty());
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.point, "live-lo");
    let summary = en(f).summary;
    assert!(summary.starts_with("The POP3 greeting came"), "{summary}");
    let cost = f.cost.unwrap().secs_f64();
    assert!((3.0..3.5).contains(&cost), "wait {cost}");
    let cb = f.cause().expect("the callback is named");
    assert_eq!(cb.kind, CallbackKind::Ident);
    assert_eq!(cb.conversation.server.to_string(), "127.0.0.1:113");
    assert_eq!(cb.fate, Fate::Unanswered);
    let give_up = cb.give_up.as_ref().unwrap().after.secs_f64();
    assert!((give_up - 3.0).abs() < 0.2, "gave up after {give_up}");
    // This kernel's SYN retries: +1 s, then +2 s (linear, Linux 6.5+) or +3 s (3.7 to 6.4).
    assert!(cb.attempts.len() >= 2, "{:?}", cb.attempts);
    let linear = std::path::Path::new("/proc/sys/net/ipv4/tcp_syn_linear_timeouts").exists();
    let expect = if linear { "linux-6.5" } else { "linux-3.7" };
    assert!(
        cb.backoff_matches.iter().any(|m| m.id == expect),
        "{:?} should include {expect}",
        cb.backoff_matches
    );
    eprintln!("live capture: greeting after {waited:?}; finding: {summary}");
}
