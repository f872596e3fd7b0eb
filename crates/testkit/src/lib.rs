//! # stalltrace-testkit
//!
//! Helpers for stalltrace's tests and benchmarks (not published):
//! [`frames_from_packets`] encodes decoded packets back into Ethernet
//! frames with etherparse, so a printed capture can be written as pcap or
//! pcapng holding the same packets; [`sessions`] generates long captures of
//! short conversations for memory and speed checks.
//!
//! ```
//! use stalltrace_testkit::{sessions, write_pcap};
//! let frames = sessions(3, 7);
//! let mut buf = Vec::new();
//! write_pcap(&mut buf, &frames).unwrap();
//! assert!(buf.len() > 24);
//! ```

pub mod encap;
pub mod faults;
pub mod generate;
pub mod points;
pub mod scene;

pub use faults::network_faults;

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::Ipv4Addr;

use etherparse::{PacketBuilder, TcpOptionElement};
use stalltrace_capture::write::{PcapWriter, PcapngWriter};
use stalltrace_capture::{CaptureReader, Record};
use stalltrace_decode::{Host, LinkType, Packet, Timestamp, Transport};

/// A frame ready to write: time, bytes, length on the wire.
pub struct Frame {
    pub ts: Timestamp,
    pub data: Vec<u8>,
}

impl Frame {
    /// The frame decoded as the pipeline would, as packet `number` of
    /// interface 0. Test frames are well-formed Ethernet: anything else
    /// is a bug in the test, and panics.
    pub fn decode(&self, number: u64) -> Packet {
        stalltrace_decode::decode_frame(
            LinkType::ETHERNET,
            &self.data,
            stalltrace_decode::FrameMeta {
                ts: self.ts,
                number,
                interface: 0,
                offset: 0,
            },
        )
        .expect("a test frame decodes")
    }
}

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

/// Addresses for names and masked hosts, taken from the documentation
/// range 198.51.100.0/24 in order of appearance.
#[derive(Default)]
pub struct HostMap {
    map: HashMap<Host, Ipv4Addr>,
}

impl HostMap {
    pub fn v4(&mut self, h: &Host) -> Ipv4Addr {
        match h {
            Host::V4(a) => *a,
            other => {
                let n = self.map.len() as u8;
                *self
                    .map
                    .entry(other.clone())
                    .or_insert(Ipv4Addr::new(198, 51, 100, 25 + n))
            }
        }
    }

    /// The address each name was given, to translate reports back.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.map
            .iter()
            .map(|(h, a)| (h.to_string(), a.to_string()))
            .collect()
    }
}

/// Sets the TCP flags named by letters (S, F, P, R) and the ACK number.
pub(crate) fn tcp_flags(
    mut b: etherparse::PacketBuilderStep<etherparse::TcpHeader>,
    flags: &str,
    ack: Option<u32>,
) -> etherparse::PacketBuilderStep<etherparse::TcpHeader> {
    for c in flags.chars() {
        b = match c {
            'S' => b.syn(),
            'F' => b.fin(),
            'P' => b.psh(),
            'R' => b.rst(),
            _ => b,
        };
    }
    match ack {
        Some(a) => b.ack(a),
        None => b,
    }
}

/// The TTL given to packets whose printout did not show one: a packet
/// that crossed a few routers, as most do.
pub const UNKNOWN_TTL: u8 = 57;

/// Encodes IPv4 TCP/UDP packets as Ethernet frames. Sequence numbers a
/// printed capture left out (empty ACKs) are taken as the sender's next.
pub fn frames_from_packets(packets: &[Packet], hosts: &mut HostMap) -> Vec<Frame> {
    let mut next_seq: HashMap<(Host, u16), u32> = HashMap::new();
    let mut out = Vec::new();
    for p in packets {
        let src = hosts.v4(&p.src);
        let dst = hosts.v4(&p.dst);
        // A printout without -v gives no TTL. 64 would say the capture sat
        // on the sender's own segment (an unlowered TTL, which the
        // diagnosis reads as such); a routed packet's TTL claims nothing.
        let ttl = p.ip.ttl.unwrap_or(UNKNOWN_TTL);
        let base = PacketBuilder::ethernet2(MAC_A, MAC_B).ipv4(src.octets(), dst.octets(), ttl);
        let mut data = Vec::new();
        match &p.transport {
            Transport::Tcp(t) => {
                let key = (p.src.clone(), t.src_port);
                let seq = t
                    .seq
                    .map(|s| s.0)
                    .or_else(|| next_seq.get(&key).copied())
                    .unwrap_or(0);
                let mut b = base.tcp(t.src_port, t.dst_port, seq, t.window.unwrap_or(65535));
                if t.flags.syn() {
                    b = b.syn();
                }
                if t.flags.fin() {
                    b = b.fin();
                }
                if t.flags.rst() {
                    b = b.rst();
                }
                if t.flags.has(stalltrace_decode::TcpFlags::PSH) {
                    b = b.psh();
                }
                if let Some(a) = t.ack {
                    b = b.ack(a.0);
                }
                let mut opts = Vec::new();
                if let Some(m) = t.options.mss {
                    opts.push(TcpOptionElement::MaximumSegmentSize(m));
                }
                if t.options.sack_permitted {
                    opts.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
                }
                if let Some((v, e)) = t.options.timestamp {
                    opts.push(TcpOptionElement::Timestamp(v, e.unwrap_or(0)));
                }
                if let Some(w) = t.options.window_scale {
                    opts.push(TcpOptionElement::WindowScale(w));
                }
                if !opts.is_empty() {
                    b = b.options(&opts).expect("options fit");
                }
                let payload = vec![b'x'; t.payload_len as usize];
                b.write(&mut data, &payload).expect("frame encodes");
                let consumed = t.payload_len + u32::from(t.flags.syn() || t.flags.fin());
                next_seq.insert(key, seq.wrapping_add(consumed));
            }
            Transport::Udp(u) => {
                let payload = vec![0u8; u.payload_len as usize];
                base.udp(u.src_port, u.dst_port)
                    .write(&mut data, &payload)
                    .expect("frame encodes");
            }
            _ => continue,
        }
        out.push(Frame {
            ts: p.meta.ts,
            data,
        });
    }
    out
}

/// Reads a printed capture into packets.
pub fn packets_from_text(text: &str) -> Vec<Packet> {
    let mut r =
        CaptureReader::from_reader("text", Box::new(io::Cursor::new(text.as_bytes().to_vec())))
            .expect("readable text");
    let mut out = Vec::new();
    while let Some(rec) = r.next().expect("reads") {
        if let Record::Packet(p) = rec {
            out.push(p);
        }
    }
    out
}

/// Frames decoded as the pipeline would, numbered from 1 as a capture's.
pub fn decoded(frames: &[Frame]) -> Vec<Packet> {
    frames
        .iter()
        .enumerate()
        .map(|(n, f)| f.decode(n as u64 + 1))
        .collect()
}

/// Every file below `dir` (and its folders), in name order.
pub fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a folder entry").path())
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for p in entries {
        if p.is_dir() {
            out.extend(files_below(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn write_pcap<W: Write>(out: W, frames: &[Frame]) -> io::Result<()> {
    let mut w = PcapWriter::new(out, LinkType::ETHERNET, 262_144)?;
    for f in frames {
        w.write(f.ts, &f.data, f.data.len() as u32)?;
    }
    Ok(())
}

pub fn write_pcapng<W: Write>(out: W, interface: &str, frames: &[Frame]) -> io::Result<()> {
    let mut w = PcapngWriter::new(out, "stalltrace-testkit")?;
    let i = w.add_interface(interface, LinkType::ETHERNET, 262_144)?;
    for f in frames {
        w.write(i, f.ts, &f.data, f.data.len() as u32)?;
    }
    w.flush()
}

/// `n` complete POP3-like sessions, each on its own client port: SYN, SYN-ACK, ACK, greeting, QUIT, FINs. The
/// same `seed` gives the same capture.
pub fn sessions(n: u32, seed: u64) -> Vec<Frame> {
    let mut out = Vec::with_capacity(n as usize * 9);
    sessions_into(n, seed, |f| out.push(f));
    out
}

/// As [`sessions`], handing each frame to `sink` instead of collecting them.
pub fn sessions_into(n: u32, seed: u64, mut sink: impl FnMut(Frame)) {
    let server = [198, 51, 100, 25];
    let mut rng = seed | 1;
    let mut step = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let t0: i64 = 1_700_000_000_000_000_000;
    for i in 0..n {
        let client = [192, 0, 2, 1 + (i % 200) as u8];
        let port = 20_000 + (i % 40_000) as u16;
        let isn_c = step() as u32;
        let isn_s = step() as u32;
        // One after another, 40 ms apart, so frames come in time order.
        let start = t0 + i as i64 * 40_000_000;
        let at = |ms: i64| Timestamp::from_nanos(start + ms * 1_000_000);
        let tcp = |c2s: bool, seq: u32, ack: Option<u32>, flags: &str, payload: &[u8]| -> Vec<u8> {
            let (s, d, sp, dp) = if c2s {
                (client, server, port, 110)
            } else {
                (server, client, 110, port)
            };
            let mut b = PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4(s, d, 64)
                .tcp(sp, dp, seq, 64_240);
            for c in flags.chars() {
                b = match c {
                    'S' => b.syn(),
                    'F' => b.fin(),
                    'P' => b.psh(),
                    _ => b,
                };
            }
            if let Some(a) = ack {
                b = b.ack(a);
            }
            let mut v = Vec::new();
            b.write(&mut v, payload).expect("encodes");
            v
        };
        let greet = b"+OK POP3 ready\r\n";
        let quit = b"QUIT\r\n";
        let c = isn_c.wrapping_add(1);
        let s = isn_s.wrapping_add(1);
        let g = greet.len() as u32;
        let q = quit.len() as u32;
        sink(Frame {
            ts: at(0),
            data: tcp(true, isn_c, None, "S", &[]),
        });
        sink(Frame {
            ts: at(1),
            data: tcp(false, isn_s, Some(c), "S", &[]),
        });
        sink(Frame {
            ts: at(2),
            data: tcp(true, c, Some(s), "", &[]),
        });
        sink(Frame {
            ts: at(10),
            data: tcp(false, s, Some(c), "P", greet),
        });
        sink(Frame {
            ts: at(20),
            data: tcp(true, c, Some(s + g), "P", quit),
        });
        sink(Frame {
            ts: at(30),
            data: tcp(false, s + g, Some(c + q), "F", &[]),
        });
        sink(Frame {
            ts: at(31),
            data: tcp(true, c + q, Some(s + g + 1), "F", &[]),
        });
        sink(Frame {
            ts: at(32),
            data: tcp(false, s + g + 1, Some(c + q + 1), "", &[]),
        });
    }
}

/// `n` SYNs nobody answers: from many sources (192.0.2.1–254, every port)
/// to 203.0.113.80:80, 10 µs apart, each its own conversation.
pub fn flood_into(n: u32, mut sink: impl FnMut(Frame)) {
    let t0: i64 = 1_700_000_000_000_000_000;
    for i in 0..n {
        let host = 1 + (i % 254) as u8;
        let port = 1024 + (i / 254 % 64_000) as u16;
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([192, 0, 2, host], [203, 0, 113, 80], 64)
            .tcp(port, 80, i.wrapping_mul(2_654_435_761), 64_240)
            .syn()
            .write(&mut v, &[])
            .expect("encodes");
        sink(Frame {
            ts: Timestamp::from_nanos(t0 + i as i64 * 10_000),
            data: v,
        });
    }
}

/// One source probing `ports` ports of 203.0.113.80 with SYNs.
pub fn scan(ports: u16) -> Vec<Frame> {
    let t0: i64 = 1_700_000_000_000_000_000;
    (0..ports)
        .map(|i| {
            let mut v = Vec::new();
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4([198, 51, 100, 66], [203, 0, 113, 80], 64)
                .tcp(40_000, 1 + i, 1000 + u32::from(i), 1024)
                .syn()
                .write(&mut v, &[])
                .expect("encodes");
            Frame {
                ts: Timestamp::from_nanos(t0 + i64::from(i) * 100_000),
                data: v,
            }
        })
        .collect()
}

/// What a Chinese report must not hold: English prose, and breaks of the
/// usual copywriting conventions (a space between Chinese and Latin
/// letters or digits; full-width punctuation after Chinese). Lines of
/// configuration and commands (indented eight spaces) are code, not prose.
pub fn chinese_faults(t: &str) -> Vec<String> {
    let cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    let mut faults = Vec::new();
    for line in t.lines().filter(|l| !l.starts_with("        ")) {
        // Code in backticks is code.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, p)| p)
            .collect::<Vec<_>>()
            .join(" ");
        for word in [
            " the ", " and ", " was ", " were ", " not ", " from ", " at ", " to ", " of ", " is ",
            " packets",
        ] {
            if format!(" {} ", prose.to_ascii_lowercase()).contains(word) {
                faults.push(format!("English '{}' in: {line}", word.trim()));
            }
        }
        let chars: Vec<char> = prose.chars().collect();
        for w in chars.windows(2) {
            let (a, b) = (w[0], w[1]);
            if (cjk(a) && b.is_ascii_alphanumeric()) || (a.is_ascii_alphanumeric() && cjk(b)) {
                faults.push(format!("no space in '{a}{b}': {line}"));
            }
            if cjk(a) && matches!(b, ',' | '.' | ';' | ':' | '!' | '?' | '(' | ')') {
                faults.push(format!("half-width '{b}' after Chinese: {line}"));
            }
        }
    }
    faults
}
