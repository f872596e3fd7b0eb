//! Captures written by hand, packet by packet, for tests that need one
//! precise case with known truth: a handshake, a banner at a given time,
//! callback SYNs at given offsets, an ICMP error, a DNS query. IPv4 and
//! IPv6 alike; each host sends with the TTL the test gives it.
//!
//! ```
//! use stalltrace_testkit::scene::Scene;
//! let mut s = Scene::new();
//! let mut c = s.connect(0.0, "192.0.2.10:40000", "198.51.100.25:110", 0.001);
//! s.send(2.0, &mut c, true, b"+OK ready\r\n");
//! assert_eq!(s.frames().len(), 4);
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;
use stalltrace_decode::Timestamp;

use crate::{Frame, UNKNOWN_TTL};

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
/// 2026-12-02 10:00:00 UTC.
const T0: i64 = 1_796_205_600_000_000_000;

/// A TCP connection under way in a scene.
pub struct Conn {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Next sequence number each way.
    cseq: u32,
    sseq: u32,
    /// The window each side advertises: client, server.
    window: [u16; 2],
    /// The last data each side sent, for `resend`.
    last: [Vec<u8>; 2],
}

impl Conn {
    /// Sender, receiver, next sequence number and acknowledgment one way.
    fn way(&self, from_server: bool) -> (SocketAddr, SocketAddr, u32, u32) {
        if from_server {
            (self.server, self.client, self.sseq, self.cseq)
        } else {
            (self.client, self.server, self.cseq, self.sseq)
        }
    }

    /// From now on the client (or the server) advertises this window.
    pub fn window(&mut self, from_server: bool, w: u16) {
        self.window[usize::from(from_server)] = w;
    }
}

/// A capture being written.
#[derive(Default)]
pub struct Scene {
    frames: Vec<Frame>,
    ttl: HashMap<IpAddr, u8>,
    ip_id: u16,
    isn: u32,
}

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| panic!("{s} is not an address:port"))
}

impl Scene {
    pub fn new() -> Scene {
        Scene {
            isn: 1_000_000,
            ..Default::default()
        }
    }

    /// Packets from `host` leave with this TTL (else a routed one, 57).
    pub fn ttl(&mut self, host: &str, ttl: u8) {
        let ip: IpAddr = host.parse().expect("an address");
        self.ttl.insert(ip, ttl);
    }

    fn at(secs: f64) -> Timestamp {
        Timestamp::from_nanos(T0 + (secs * 1e9).round() as i64)
    }

    /// One TCP segment.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &mut self,
        at: f64,
        from: SocketAddr,
        to: SocketAddr,
        seq: u32,
        ack: Option<u32>,
        flags: &str,
        payload: &[u8],
    ) {
        self.segment(at, from, to, seq, ack, flags, payload, 64_240, None);
    }

    /// One TCP segment with its window and, for a SYN, its MSS option.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        at: f64,
        from: SocketAddr,
        to: SocketAddr,
        seq: u32,
        ack: Option<u32>,
        flags: &str,
        payload: &[u8],
        window: u16,
        mss: Option<u16>,
    ) {
        let ttl = self.ttl.get(&from.ip()).copied().unwrap_or(UNKNOWN_TTL);
        self.ip_id = self.ip_id.wrapping_add(1);
        let base = PacketBuilder::ethernet2(MAC_A, MAC_B);
        let mut v = Vec::new();
        macro_rules! finish {
            ($b:expr) => {{
                let mut b = $b.tcp(from.port(), to.port(), seq, window);
                if let Some(m) = mss {
                    b = b
                        .options(&[etherparse::TcpOptionElement::MaximumSegmentSize(m)])
                        .expect("options fit");
                }
                crate::tcp_flags(b, flags, ack)
                    .write(&mut v, payload)
                    .expect("frame encodes");
            }};
        }
        match (from.ip(), to.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut ip = etherparse::Ipv4Header::new(
                    0,
                    ttl,
                    etherparse::IpNumber::TCP,
                    s.octets(),
                    d.octets(),
                )
                .expect("header");
                ip.identification = self.ip_id;
                finish!(base.ip(etherparse::IpHeaders::Ipv4(ip, Default::default())))
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => finish!(base.ipv6(s.octets(), d.octets(), ttl)),
            _ => panic!("mixed IP versions"),
        }
        self.frames.push(Frame {
            ts: Self::at(at),
            data: v,
        });
    }

    /// One UDP datagram.
    pub fn udp(&mut self, at: f64, from: &str, to: &str, payload: &[u8]) {
        let (from, to) = (addr(from), addr(to));
        let ttl = self.ttl.get(&from.ip()).copied().unwrap_or(UNKNOWN_TTL);
        self.ip_id = self.ip_id.wrapping_add(1);
        let base = PacketBuilder::ethernet2(MAC_A, MAC_B);
        let mut v = Vec::new();
        match (from.ip(), to.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut ip = etherparse::Ipv4Header::new(
                    0,
                    ttl,
                    etherparse::IpNumber::UDP,
                    s.octets(),
                    d.octets(),
                )
                .expect("header");
                ip.identification = self.ip_id;
                base.ip(etherparse::IpHeaders::Ipv4(ip, Default::default()))
                    .udp(from.port(), to.port())
                    .write(&mut v, payload)
                    .expect("frame encodes")
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => base
                .ipv6(s.octets(), d.octets(), ttl)
                .udp(from.port(), to.port())
                .write(&mut v, payload)
                .expect("frame encodes"),
            _ => panic!("mixed IP versions"),
        }
        self.frames.push(Frame {
            ts: Self::at(at),
            data: v,
        });
    }

    /// One IPv6 UDP datagram cut into fragments of `chunk` bytes (a
    /// multiple of 8) as a router on a small-MTU path would; only the
    /// fragments whose index is in `keep` are captured (the others lost).
    pub fn udp6_fragments(
        &mut self,
        at: f64,
        from: &str,
        to: &str,
        payload: &[u8],
        chunk: usize,
        keep: &[usize],
    ) {
        assert!(chunk % 8 == 0, "fragments are cut at multiples of 8 bytes");
        let (from, to) = (addr(from), addr(to));
        let (IpAddr::V6(s), IpAddr::V6(d)) = (from.ip(), to.ip()) else {
            panic!("udp6_fragments takes IPv6 addresses")
        };
        let ttl = self.ttl.get(&from.ip()).copied().unwrap_or(UNKNOWN_TTL);
        // The whole datagram first, for its UDP header and checksum.
        let mut whole = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(s.octets(), d.octets(), ttl)
            .udp(from.port(), to.port())
            .write(&mut whole, payload)
            .expect("frame encodes");
        let udp = &whole[14 + 40..];
        self.ip_id = self.ip_id.wrapping_add(1);
        let id = 0x5100_0000u32 | u32::from(self.ip_id);
        let pieces: Vec<&[u8]> = udp.chunks(chunk).collect();
        for (i, piece) in pieces.iter().enumerate() {
            if !keep.contains(&i) {
                continue;
            }
            let mut v = Vec::with_capacity(14 + 48 + piece.len());
            v.extend_from_slice(&MAC_B);
            v.extend_from_slice(&MAC_A);
            v.extend_from_slice(&0x86ddu16.to_be_bytes());
            v.extend_from_slice(&[0x60, 0, 0, 0]);
            v.extend_from_slice(&((8 + piece.len()) as u16).to_be_bytes());
            v.extend_from_slice(&[44, ttl]);
            v.extend_from_slice(&s.octets());
            v.extend_from_slice(&d.octets());
            let more = u16::from(i + 1 < pieces.len());
            let offset = ((i * chunk / 8) as u16) << 3 | more;
            v.extend_from_slice(&[17, 0]);
            v.extend_from_slice(&offset.to_be_bytes());
            v.extend_from_slice(&id.to_be_bytes());
            v.extend_from_slice(piece);
            self.frames.push(Frame {
                ts: Self::at(at + i as f64 * 0.0001),
                data: v,
            });
        }
    }

    /// An ICMPv4 port unreachable from `by`, quoting a TCP SYN
    /// `quoted_from` → `quoted_to`.
    pub fn icmp_port_unreachable(&mut self, at: f64, by: &str, quoted_from: &str, quoted_to: &str) {
        self.icmp_unreachable(
            at,
            by,
            quoted_from,
            quoted_to,
            etherparse::icmpv4::DestUnreachableHeader::Port,
        );
    }

    /// An ICMPv4 destination unreachable of any code from `by`, quoting a
    /// TCP SYN `quoted_from` → `quoted_to`.
    pub fn icmp_unreachable(
        &mut self,
        at: f64,
        by: &str,
        quoted_from: &str,
        quoted_to: &str,
        why: etherparse::icmpv4::DestUnreachableHeader,
    ) {
        let (qf, qt) = (addr(quoted_from), addr(quoted_to));
        let (IpAddr::V4(by), IpAddr::V4(qs), IpAddr::V4(qd)) =
            (by.parse().expect("address"), qf.ip(), qt.ip())
        else {
            panic!("ICMPv4 needs IPv4 addresses");
        };
        // The quote: the SYN's IPv4 header and its first 8 bytes.
        let mut quote = Vec::new();
        PacketBuilder::ipv4(qs.octets(), qd.octets(), 64)
            .tcp(qf.port(), qt.port(), 0, 64_240)
            .syn()
            .write(&mut quote, &[])
            .expect("quote encodes");
        quote.truncate(28);
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(by.octets(), qs.octets(), 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(why))
            .write(&mut v, &quote)
            .expect("frame encodes");
        self.frames.push(Frame {
            ts: Self::at(at),
            data: v,
        });
    }

    fn next_isn(&mut self) -> u32 {
        self.isn = self.isn.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        self.isn
    }

    /// A handshake: SYN at `at`, SYN-ACK and ACK `rtt` apart.
    pub fn connect(&mut self, at: f64, client: &str, server: &str, rtt: f64) -> Conn {
        self.connect_mss(at, client, server, rtt, None)
    }

    /// A handshake whose SYN and SYN-ACK announce `mss`.
    pub fn connect_mss(
        &mut self,
        at: f64,
        client: &str,
        server: &str,
        rtt: f64,
        mss: Option<u16>,
    ) -> Conn {
        let (c, s) = (addr(client), addr(server));
        let (ci, si) = (self.next_isn(), self.next_isn());
        self.segment(at, c, s, ci, None, "S", &[], 64_240, mss);
        self.segment(
            at + rtt / 2.0,
            s,
            c,
            si,
            Some(ci.wrapping_add(1)),
            "S",
            &[],
            64_240,
            mss,
        );
        self.tcp(
            at + rtt,
            c,
            s,
            ci.wrapping_add(1),
            Some(si.wrapping_add(1)),
            "",
            &[],
        );
        Conn {
            client: c,
            server: s,
            cseq: ci.wrapping_add(1),
            sseq: si.wrapping_add(1),
            window: [64_240; 2],
            last: Default::default(),
        }
    }

    /// Data from the server (`from_server`) or the client, acknowledging
    /// all the other side sent.
    pub fn send(&mut self, at: f64, c: &mut Conn, from_server: bool, payload: &[u8]) {
        let n = payload.len() as u32;
        let (from, to, seq, ack) = c.way(from_server);
        let w = c.window[usize::from(from_server)];
        self.segment(at, from, to, seq, Some(ack), "P", payload, w, None);
        if from_server {
            c.sseq = c.sseq.wrapping_add(n);
        } else {
            c.cseq = c.cseq.wrapping_add(n);
        }
        c.last[usize::from(from_server)] = payload.to_vec();
    }

    /// The last data one side sent, sent again (a retransmission).
    pub fn resend(&mut self, at: f64, c: &Conn, from_server: bool) {
        let last = &c.last[usize::from(from_server)];
        let (from, to, seq, ack) = c.way(from_server);
        let seq = seq.wrapping_sub(last.len() as u32);
        let w = c.window[usize::from(from_server)];
        self.segment(at, from, to, seq, Some(ack), "P", &last.clone(), w, None);
    }

    /// `len` bytes sent again from `back` bytes before the side's next
    /// sequence number (an earlier segment of a burst).
    pub fn resend_back(&mut self, at: f64, c: &Conn, from_server: bool, back: u32, len: u32) {
        let (from, to, seq, ack) = c.way(from_server);
        let w = c.window[usize::from(from_server)];
        let data = vec![0u8; len as usize];
        self.segment(
            at,
            from,
            to,
            seq.wrapping_sub(back),
            Some(ack),
            "",
            &data,
            w,
            None,
        );
    }

    /// A zero-window probe as Linux sends it: a bare ACK one byte behind.
    pub fn probe(&mut self, at: f64, c: &Conn, from_server: bool) {
        let (from, to, seq, ack) = c.way(from_server);
        let w = c.window[usize::from(from_server)];
        self.segment(
            at,
            from,
            to,
            seq.wrapping_sub(1),
            Some(ack),
            "",
            &[],
            w,
            None,
        );
    }

    /// The server's SYN-ACK sent again (before it sent any data).
    pub fn syn_ack_again(&mut self, at: f64, c: &Conn) {
        let (from, to, seq, ack) = c.way(true);
        self.segment(
            at,
            from,
            to,
            seq.wrapping_sub(1),
            Some(ack),
            "S",
            &[],
            64_240,
            None,
        );
    }

    /// A bare ACK from one side.
    pub fn ack(&mut self, at: f64, c: &Conn, from_server: bool) {
        let (from, to, seq, ack) = c.way(from_server);
        let w = c.window[usize::from(from_server)];
        self.segment(at, from, to, seq, Some(ack), "", &[], w, None);
    }

    /// A RST from one side, at its next sequence number.
    pub fn reset(&mut self, at: f64, c: &Conn, from_server: bool) {
        let (from, to, seq, ack) = c.way(from_server);
        self.tcp(at, from, to, seq, Some(ack), "R", &[]);
    }

    /// Both sides close, the client first.
    pub fn close(&mut self, at: f64, c: &mut Conn) {
        self.tcp(at, c.client, c.server, c.cseq, Some(c.sseq), "F", &[]);
        c.cseq = c.cseq.wrapping_add(1);
        self.tcp(
            at + 0.0005,
            c.server,
            c.client,
            c.sseq,
            Some(c.cseq),
            "F",
            &[],
        );
        c.sseq = c.sseq.wrapping_add(1);
        self.tcp(
            at + 0.001,
            c.client,
            c.server,
            c.cseq,
            Some(c.sseq),
            "",
            &[],
        );
    }

    /// SYNs nobody answers, at `at` plus each offset; returns the ISN.
    pub fn syns(&mut self, at: f64, from: &str, to: &str, offsets: &[f64]) -> u32 {
        let (f, t) = (addr(from), addr(to));
        let isn = self.next_isn();
        for o in offsets {
            self.tcp(at + o, f, t, isn, None, "S", &[]);
        }
        isn
    }

    /// A RST answering a SYN with ISN `isn` from `to` back to `from`.
    pub fn refuse(&mut self, at: f64, from: &str, to: &str, isn: u32) {
        self.tcp(
            at,
            addr(from),
            addr(to),
            0,
            Some(isn.wrapping_add(1)),
            "R",
            &[],
        );
    }

    /// The frames, in time order.
    pub fn frames(&self) -> Vec<Frame> {
        let mut v: Vec<Frame> = self
            .frames
            .iter()
            .map(|f| Frame {
                ts: f.ts,
                data: f.data.clone(),
            })
            .collect();
        v.sort_by_key(|f| f.ts);
        v
    }

    /// Writes the scene as a pcap file.
    pub fn pcap(&self, path: &std::path::Path) -> std::path::PathBuf {
        crate::write_pcap(std::fs::File::create(path).expect("create"), &self.frames())
            .expect("write");
        path.to_path_buf()
    }
}

/// A DNS query for the PTR record of an IPv4 address, as resolvers send it.
pub fn ptr_query(id: u16, v4: [u8; 4]) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for o in v4.iter().rev() {
        let label = o.to_string();
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    for label in ["in-addr", "arpa"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 12, 0, 1]);
    q
}

/// A DNS query, as a stub resolver sends it (recursion desired).
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    use simple_dns::{Name, Packet, PacketFlag, Question, CLASS, QCLASS, QTYPE, TYPE};
    let mut p = Packet::new_query(id);
    p.set_flags(PacketFlag::RECURSION_DESIRED);
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(TYPE::from(qtype)),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    p.build_bytes_vec().expect("a query encodes")
}

/// A DNS answer to [`dns_query`]: `rcode` (0 no error, 3 NXDOMAIN) and
/// the addresses.
pub fn dns_answer(id: u16, name: &str, qtype: u16, rcode: u8, addrs: &[IpAddr]) -> Vec<u8> {
    use simple_dns::rdata::{RData, A, AAAA};
    use simple_dns::{Name, Packet, Question, ResourceRecord, CLASS, QCLASS, QTYPE, RCODE, TYPE};
    let mut p = Packet::new_reply(id);
    *p.rcode_mut() = RCODE::from(u16::from(rcode));
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(TYPE::from(qtype)),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    for a in addrs {
        let rdata = match a {
            IpAddr::V4(v4) => RData::A(A::from(*v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA::from(*v6)),
        };
        p.answers.push(ResourceRecord::new(
            Name::new_unchecked(name),
            CLASS::IN,
            60,
            rdata,
        ));
    }
    p.build_bytes_vec().expect("an answer encodes")
}
