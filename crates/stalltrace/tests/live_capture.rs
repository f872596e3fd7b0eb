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
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use stalltrace_capture::write::PcapngWriter;
use stalltrace_decode::{LinkType, Timestamp};
use stalltrace_diagnosis::{CallbackKind, Fate, FindingId};

const IDENT_TIMEOUT: Duration = Duration::from_secs(3);

fn can_run() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    let tools = ["ip", "nft"]
        .iter()
        .all(|t| Command::new(t).arg("-V").output().is_ok());
    if root && tools {
        return true;
    }
    let why = if !root {
        "not root"
    } else {
        "ip or nft missing"
    };
    if std::env::var("STALLTRACE_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
        panic!("live capture test cannot run ({why}) but STALLTRACE_REQUIRE_ROOT_TESTS=1");
    }
    eprintln!(
        "\n*** SKIPPED live capture test: {why}. Run as root with iproute2 and nftables. ***\n"
    );
    false
}

/// A network namespace of our own, removed when dropped.
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("stalltrace-test-{}-{nanos}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap()
            .success();
        assert!(ok, "ip netns add {name}");
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    fn ip(&self, args: &[&str]) {
        let ok = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "ip -n {} {args:?}", self.name);
    }

    fn nft(&self, ruleset: &str) {
        let mut c = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(ruleset.as_bytes())
            .unwrap();
        assert!(c.wait().unwrap().success(), "nft -f in {}", self.name);
    }

    /// Runs `f` on a thread inside the namespace.
    fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).expect("netns file");
            // setns on a thread moves only that thread into the namespace.
            let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

/// Captures every frame on `lo` until `stop`, as libpcap does: the
/// outgoing copy of a loopback frame is skipped, its incoming twin is kept.
fn capture_lo(stop: Arc<AtomicBool>, ready: Arc<AtomicBool>) -> Vec<(Timestamp, Vec<u8>)> {
    unsafe {
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW,
            (libc::ETH_P_ALL as u16).to_be() as i32,
        );
        assert!(
            fd >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = libc::if_nametoindex(c"lo".as_ptr()) as i32;
        let rc = libc::bind(
            fd,
            &sll as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 50_000,
        };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as u32,
        );
        ready.store(true, Ordering::SeqCst);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while !stop.load(Ordering::SeqCst) {
            let mut from: libc::sockaddr_ll = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            let n = libc::recvfrom(
                fd,
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
                &mut from as *mut _ as *mut libc::sockaddr,
                &mut len,
            );
            if n < 0 {
                continue;
            }
            if from.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let mut ts: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts);
            out.push((
                Timestamp::from_nanos(ts.tv_sec * 1_000_000_000 + ts.tv_nsec),
                buf[..n as usize].to_vec(),
            ));
        }
        libc::close(fd);
        out
    }
}

/// POP3 with an ident lookup first, as xinetd's USERID does it.
fn pop3_server(listener: TcpListener) {
    let (mut s, peer) = listener.accept().unwrap();
    let local = s.local_addr().unwrap();
    let ident: SocketAddr = SocketAddr::new(peer.ip(), 113);
    if let Ok(mut q) = TcpStream::connect_timeout(&ident, IDENT_TIMEOUT) {
        let _ = write!(q, "{}, {}\r\n", peer.port(), local.port());
    }
    s.write_all(b"+OK stalltrace test POP3 ready\r\n").unwrap();
    let mut buf = [0u8; 64];
    let _ = s.read(&mut buf);
}

#[test]
fn a_dropped_ident_callback_on_real_tcp_is_diagnosed() {
    if !can_run() {
        return;
    }
    let ns = Netns::new();
    ns.nft("table inet stalltrace_test {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 113 drop\n }\n}\n");

    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    let cap = {
        let (stop, ready) = (stop.clone(), ready.clone());
        ns.spawn(move || capture_lo(stop, ready))
    };
    while !ready.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let listener = ns
        .spawn(|| TcpListener::bind("127.0.0.1:110").unwrap())
        .join()
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
    })
    .join()
    .unwrap();
    server.join().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::SeqCst);
    let frames = cap.join().unwrap();
    drop(ns);

    let waited = *waited.lock().unwrap();
    assert!(
        waited >= IDENT_TIMEOUT && waited < IDENT_TIMEOUT + Duration::from_millis(500),
        "greeting after {waited:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live-lo.pcapng");
    let mut w =
        PcapngWriter::new(std::fs::File::create(&path).unwrap(), "stalltrace test").unwrap();
    let i = w.add_interface("lo", LinkType::ETHERNET, 65_535).unwrap();
    for (ts, data) in &frames {
        w.write(i, *ts, data, data.len() as u32).unwrap();
    }
    w.flush().unwrap();
    drop(w);

    let a = run(std::slice::from_ref(&path));
    assert!(a.errors.is_empty());
    let f = one(&a, FindingId::ApplicationWait);
    assert_eq!(f.point, "live-lo");
    assert!(
        f.summary.starts_with("The POP3 greeting came"),
        "{}",
        f.summary
    );
    let cost = f.cost.unwrap().secs_f64();
    assert!((3.0..3.5).contains(&cost), "wait {cost}");
    let cb = f.cause.as_ref().expect("the callback is named");
    assert_eq!(cb.kind, CallbackKind::Ident);
    assert_eq!(cb.conversation.server.to_string(), "127.0.0.1:113");
    assert_eq!(cb.fate, Fate::Unanswered);
    let give_up = cb.give_up.unwrap().secs_f64();
    assert!((give_up - 3.0).abs() < 0.2, "gave up after {give_up}");
    // This kernel's SYN retries: +1 s, then +2 s (linear, Linux 6.5+) or +3 s (3.7 to 6.4).
    assert!(cb.attempts.len() >= 2, "{:?}", cb.attempts);
    let linear = std::path::Path::new("/proc/sys/net/ipv4/tcp_syn_linear_timeouts").exists();
    let expect = if linear {
        "Linux 6.5+"
    } else {
        "Linux 3.7 to 6.4"
    };
    assert!(
        cb.backoff_matches.iter().any(|m| m.starts_with(expect)),
        "{:?} should include {expect}",
        cb.backoff_matches
    );
    eprintln!(
        "live capture: greeting after {waited:?}; finding: {}",
        f.summary
    );
}
