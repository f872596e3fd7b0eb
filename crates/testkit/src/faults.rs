//! One small capture per network fault, written packet by packet with its
//! truth in the numbers: for tests that must see every rule fire (both
//! languages, JSON) and for checks that a clean capture fires none.
//!
//! ```
//! let all = stalltrace_testkit::faults::network_faults();
//! assert!(all.iter().any(|(name, _)| *name == "retransmission"));
//! ```

use std::net::SocketAddr;

use crate::scene::Scene;
use crate::Frame;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// A request sent four times (+0, +0.25, +0.7, +1.5 s) and answered at
/// once after the last copy: 1.5 s of network, 4 ms of server.
pub fn retransmitted_request() -> Vec<Frame> {
    let mut s = Scene::new();
    let mut c = s.connect_mss(
        0.0,
        "192.0.2.10:50000",
        "198.51.100.80:80",
        0.02,
        Some(1460),
    );
    s.send(
        0.021,
        &mut c,
        false,
        b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
    );
    for at in [0.271, 0.721, 1.521] {
        s.resend(at, &c, false);
    }
    s.ack(1.531, &c, true);
    s.send(
        1.545,
        &mut c,
        true,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    s.ack(1.565, &c, false);
    s.close(1.6, &mut c);
    s.frames()
}

/// A client that stops reading for 3 s: its window shuts, the server
/// probes it at +0.2, +0.6, +1.4 s.
pub fn zero_window() -> Vec<Frame> {
    let mut s = Scene::new();
    let mut c = s.connect(0.0, "192.0.2.10:50001", "198.51.100.80:80", 0.002);
    s.send(0.01, &mut c, false, b"GET /big HTTP/1.1\r\n\r\n");
    s.send(0.02, &mut c, true, &[b'x'; 1000]);
    c.window(false, 0);
    s.ack(0.021, &c, false);
    for at in [0.22, 0.62, 1.42] {
        s.probe(at, &c, true);
        s.ack(at + 0.001, &c, false);
    }
    c.window(false, 32_000);
    s.ack(3.021, &c, false);
    s.send(3.022, &mut c, true, &[b'y'; 1000]);
    s.close(3.1, &mut c);
    s.frames()
}

/// Five requests each written in two pieces, the second held 40 ms for
/// the server's delayed ACK.
pub fn nagle() -> Vec<Frame> {
    let mut s = Scene::new();
    let mut c = s.connect_mss(
        0.0,
        "192.0.2.10:50002",
        "198.51.100.80:6379",
        0.0002,
        Some(1460),
    );
    for i in 0..5 {
        let t = 1.0 + f64::from(i);
        s.send(t, &mut c, false, b"*3\r\n$3\r\nSET\r\n");
        s.ack(t + 0.040, &c, true);
        s.send(t + 0.04005, &mut c, false, b"$1\r\nk\r\n$1\r\nv\r\n");
        s.send(t + 0.0402, &mut c, true, b"+OK\r\n");
    }
    s.close(6.0, &mut c);
    s.frames()
}

/// A full-size answer sent five times and never acknowledged, small
/// segments through.
pub fn pmtu_black_hole() -> Vec<Frame> {
    let mut s = Scene::new();
    let mut c = s.connect_mss(
        0.0,
        "192.0.2.10:50003",
        "198.51.100.80:80",
        0.02,
        Some(1460),
    );
    s.send(0.03, &mut c, false, b"GET /big HTTP/1.1\r\n\r\n");
    s.ack(0.05, &c, true);
    s.send(0.06, &mut c, true, &[b'x'; 1448]);
    for at in [0.27, 0.69, 1.53, 3.21] {
        s.resend(at, &c, true);
    }
    s.frames()
}

/// SYNs at 0 and +1 s, the second answered: lost once.
pub fn syn_retransmitted() -> Vec<Frame> {
    let mut s = Scene::new();
    s.ttl("198.51.100.80", 58);
    let (cl, sv) = ("192.0.2.10:50004", "198.51.100.80:443");
    let isn = s.syns(0.0, cl, sv, &[0.0, 1.0]);
    s.tcp(
        1.01,
        addr(sv),
        addr(cl),
        777,
        Some(isn.wrapping_add(1)),
        "S",
        &[],
    );
    s.tcp(
        1.02,
        addr(cl),
        addr(sv),
        isn.wrapping_add(1),
        Some(778),
        "",
        &[],
    );
    s.frames()
}

/// SYNs at 0, +1, +3 s seen on the server's own link, the third
/// answered: a full listen queue.
pub fn listen_queue_overflow() -> Vec<Frame> {
    let mut s = Scene::new();
    s.ttl("198.51.100.80", 64);
    s.ttl("192.0.2.10", 60);
    let (cl, sv) = ("192.0.2.10:50005", "198.51.100.80:8080");
    let isn = s.syns(0.0, cl, sv, &[0.0, 1.0, 3.0]);
    s.tcp(
        3.0002,
        addr(sv),
        addr(cl),
        777,
        Some(isn.wrapping_add(1)),
        "S",
        &[],
    );
    s.tcp(
        3.0004,
        addr(cl),
        addr(sv),
        isn.wrapping_add(1),
        Some(778),
        "",
        &[],
    );
    s.frames()
}

/// An SSH session silent 300 s (survived), then 360 s, then a RST in
/// the server's name with another TTL.
pub fn idle_timeout() -> Vec<Frame> {
    let mut s = Scene::new();
    s.ttl("198.51.100.22", 58);
    s.ttl("192.0.2.10", 64);
    let mut c = s.connect(0.0, "192.0.2.10:50006", "198.51.100.22:22", 0.02);
    s.send(0.05, &mut c, true, b"SSH-2.0-OpenSSH_9.6\r\n");
    s.send(0.06, &mut c, false, b"SSH-2.0-OpenSSH_9.6\r\n");
    s.send(300.06, &mut c, false, b"keys");
    s.send(300.08, &mut c, true, b"ok");
    s.send(660.08, &mut c, false, b"ls\n");
    s.ttl("198.51.100.22", 62);
    s.tcp(660.09, c.server, c.client, 0, None, "R", &[]);
    s.frames()
}

/// IPv6 SYNs at 0 and +1 s unanswered, IPv4 to the same port at +3 s.
pub fn ipv6_fallback() -> Vec<Frame> {
    let mut s = Scene::new();
    s.syns(
        0.0,
        "[2001:db8:1::200]:40000",
        "[2001:db8:2::25]:80",
        &[0.0, 1.0],
    );
    let mut c = s.connect(3.0, "192.0.2.200:40002", "198.51.100.25:80", 0.001);
    s.send(3.01, &mut c, false, b"GET / HTTP/1.1\r\n\r\n");
    s.frames()
}

/// A connection refused by a device in the server's name (TTL 64 where
/// the server's own packets carry 61).
pub fn refused_by_device() -> Vec<Frame> {
    let mut s = Scene::new();
    s.ttl("198.51.100.25", 61);
    s.connect(0.0, "192.0.2.10:50007", "198.51.100.25:80", 0.02);
    let isn = s.syns(1.0, "192.0.2.10:50008", "198.51.100.25:81", &[0.0]);
    s.ttl("198.51.100.25", 64);
    s.refuse(1.001, "198.51.100.25:81", "192.0.2.10:50008", isn);
    s.frames()
}

/// A SYN-ACK re-sent 4.2 s after the first although the client's ACK
/// passed this (remote) point: the seed's handshake.
pub fn syn_ack_after_ack() -> Vec<Frame> {
    let mut s = Scene::new();
    s.ttl("198.51.100.25", 52);
    let mut c = s.connect(0.0, "192.0.2.10:50009", "198.51.100.25:110", 0.188);
    s.syn_ack_again(4.19, &c);
    s.ack(4.1905, &c, false);
    s.send(4.4, &mut c, true, b"+OK ready\r\n");
    s.frames()
}

/// A lookup whose first name server is silent: the query to it, the
/// same to the second server 5 s later (glibc), answered at once, and the
/// connection to the answer.
pub fn dns_slow() -> Vec<Frame> {
    use crate::scene::{dns_answer, dns_query};
    let mut s = Scene::new();
    let (name, a) = ("www.example.org", "203.0.113.80".parse().expect("address"));
    s.udp(
        0.0,
        "192.0.2.10:40000",
        "198.51.100.53:53",
        &dns_query(4242, name, 1),
    );
    s.udp(
        5.001,
        "192.0.2.10:40001",
        "198.51.100.54:53",
        &dns_query(4242, name, 1),
    );
    s.udp(
        5.003,
        "198.51.100.54:53",
        "192.0.2.10:40001",
        &dns_answer(4242, name, 1, 0, &[a]),
    );
    s.connect(5.004, "192.0.2.10:50000", "203.0.113.80:443", 0.02);
    s.frames()
}

/// A query resent once and never answered.
pub fn dns_unanswered() -> Vec<Frame> {
    use crate::scene::dns_query;
    let mut s = Scene::new();
    for at in [0.0, 5.0] {
        s.udp(
            at,
            "192.0.2.10:40000",
            "198.51.100.53:53",
            &dns_query(7, "example.org", 15),
        );
    }
    s.frames()
}

/// A and AAAA together from one socket, the AAAA lost and resent 5 s
/// later.
pub fn dns_aaaa_race() -> Vec<Frame> {
    use crate::scene::{dns_answer, dns_query};
    let mut s = Scene::new();
    let name = "www.example.org";
    let (c, r) = ("192.0.2.10:40000", "198.51.100.53:53");
    let a = "203.0.113.80".parse().expect("address");
    s.udp(0.0, c, r, &dns_query(4242, name, 1));
    s.udp(0.00004, c, r, &dns_query(4243, name, 28));
    s.udp(0.003, r, c, &dns_answer(4242, name, 1, 0, &[a]));
    s.udp(5.0001, c, r, &dns_query(4243, name, 28));
    s.udp(5.002, r, c, &dns_answer(4243, name, 28, 0, &[]));
    s.frames()
}

/// Every fault above by the id of the finding it makes.
pub fn network_faults() -> Vec<(&'static str, Vec<Frame>)> {
    vec![
        ("retransmission", retransmitted_request()),
        ("zero-window", zero_window()),
        ("nagle-delayed-ack", nagle()),
        ("pmtu-black-hole", pmtu_black_hole()),
        ("syn-retransmitted", syn_retransmitted()),
        ("listen-queue-overflow", listen_queue_overflow()),
        ("idle-timeout", idle_timeout()),
        ("ipv6-fallback", ipv6_fallback()),
        ("connection-refused", refused_by_device()),
        ("syn-ack-retransmitted", syn_ack_after_ack()),
        ("dns-slow", dns_slow()),
        ("dns-unanswered", dns_unanswered()),
        ("dns-aaaa-race", dns_aaaa_race()),
    ]
}
