//! A packet as `tcpdump -n -S` prints it (4.x form, absolute sequence
//! numbers, the time of day in UTC): the line an engineer pastes into a
//! ticket, and one that stalltrace (and anyone's eyes trained on tcpdump)
//! reads back.
//!
//! ```
//! use stalltrace_decode::*;
//! let p = Packet {
//!     meta: FrameMeta { ts: Timestamp::from_nanos(47_108_533_163_000), number: 1, interface: 0, offset: 0 },
//!     src: "192.0.2.10".parse().unwrap(),
//!     dst: "198.51.100.25".parse().unwrap(),
//!     ip: IpInfo::default(),
//!     transport: Transport::Tcp(TcpSegment {
//!         src_port: 42390,
//!         dst_port: 110,
//!         seq: Some(SeqNumber(950786859)),
//!         flags: TcpFlags(TcpFlags::SYN),
//!         window: Some(16384),
//!         options: TcpOptions { mss: Some(1460), ..Default::default() },
//!         ..Default::default()
//!     }),
//!     truncated: false,
//!     link_src: None,
//!     vlan: 0,
//!     tunnel: None,
//! };
//! assert_eq!(
//!     p.tcpdump().to_string(),
//!     "13:05:08.533163 IP 192.0.2.10.42390 > 198.51.100.25.110: Flags [S], seq 950786859, win 16384, options [mss 1460], length 0"
//! );
//! ```

use std::fmt;

use crate::dns::{type_name, DnsAnswer, DnsMessage};
use crate::{IcmpKind, IcmpMessage, Packet, TcpSegment, Transport};

/// [`Packet::tcpdump`]: the packet's tcpdump line, written when displayed.
pub struct Tcpdump<'a>(&'a Packet);

impl Packet {
    /// The packet as `tcpdump -n -S` prints it (see the module's example).
    pub fn tcpdump(&self) -> Tcpdump<'_> {
        Tcpdump(self)
    }
}

impl fmt::Display for Tcpdump<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0;
        let v6 = matches!(p.src, crate::Host::V6(_)) || matches!(p.dst, crate::Host::V6(_));
        let ip = if v6 { "IP6" } else { "IP" };
        write!(f, "{} {ip} ", p.meta.ts.time_of_day())?;
        match &p.transport {
            Transport::Tcp(t) => {
                write!(f, "{}.{} > {}.{}: ", p.src, t.src_port, p.dst, t.dst_port)?;
                tcp(f, t)
            }
            Transport::Udp(u) => {
                write!(f, "{}.{} > {}.{}: ", p.src, u.src_port, p.dst, u.dst_port)?;
                match &u.dns {
                    Some(m) => dns(f, m, u.payload_len),
                    None => write!(f, "UDP, length {}", u.payload_len),
                }
            }
            Transport::Icmp(i) => {
                write!(f, "{} > {}: ", p.src, p.dst)?;
                icmp(f, i)
            }
            Transport::Other { protocol } => {
                write!(f, "{} > {}: ip-proto-{protocol}", p.src, p.dst)
            }
        }
    }
}

fn tcp(f: &mut fmt::Formatter<'_>, t: &TcpSegment) -> fmt::Result {
    let letters = t.flags.tcpdump();
    write!(f, "Flags [{letters}]")?;
    if let Some(s) = t.seq {
        if t.payload_len > 0 {
            write!(f, ", seq {}:{}", s.0, s.0.wrapping_add(t.payload_len))?;
        } else {
            write!(f, ", seq {}", s.0)?;
        }
    }
    if let Some(a) = t.ack {
        write!(f, ", ack {}", a.0)?;
    }
    if let Some(w) = t.window {
        write!(f, ", win {w}")?;
    }
    let o = &t.options;
    let mut opts: Vec<String> = Vec::new();
    if let Some(m) = o.mss {
        opts.push(format!("mss {m}"));
    }
    if o.sack_permitted {
        opts.push("sackOK".into());
    }
    if let Some((val, ecr)) = o.timestamp {
        opts.push(match ecr {
            Some(e) => format!("TS val {val} ecr {e}"),
            None => format!("TS val {val}"),
        });
    }
    if let Some(ws) = o.window_scale {
        opts.push(format!("wscale {ws}"));
    }
    if !opts.is_empty() {
        write!(f, ", options [{}]", opts.join(","))?;
    }
    write!(f, ", length {}", t.payload_len)
}

/// As print-domain.c prints it with `-vv`: a query `ID+ TYPE? name.`, an
/// answer `ID q: TYPE? name. an/ns/ar answers`, its rcode by name.
fn dns(f: &mut fmt::Formatter<'_>, m: &DnsMessage, len: u32) -> fmt::Result {
    let q = m
        .question
        .as_ref()
        .map(|q| format!("{}? {}.", type_name(q.qtype), q.name));
    if !m.response {
        write!(f, "{}+", m.id)?;
        if let Some(q) = q {
            write!(f, " {q}")?;
        }
        return write!(f, " ({len})");
    }
    write!(f, "{}{}", m.id, if m.truncated { "|" } else { "" })?;
    if let Some(q) = q {
        write!(f, " q: {q}")?;
    }
    let rcode = match m.rcode {
        0 => None,
        1 => Some("FormErr"),
        2 => Some("ServFail"),
        3 => Some("NXDomain"),
        4 => Some("NotImp"),
        5 => Some("Refused"),
        _ => Some("Rcode?"),
    };
    if let Some(r) = rcode {
        write!(f, " {r}")?;
    }
    write!(f, " {}/0/0", m.answer_count)?;
    for (i, a) in m.answers.iter().enumerate() {
        let sep = if i == 0 { " " } else { ", " };
        match a {
            DnsAnswer::Address(std::net::IpAddr::V4(x)) => write!(f, "{sep}A {x}")?,
            DnsAnswer::Address(std::net::IpAddr::V6(x)) => write!(f, "{sep}AAAA {x}")?,
            DnsAnswer::Name { rtype, name } => write!(f, "{sep}{} {name}.", type_name(*rtype))?,
        }
    }
    write!(f, " ({len})")
}

/// As print-icmp.c and print-icmp6.c print the messages stalltrace
/// reads: errors with the address (and port) of the packet they are about.
fn icmp(f: &mut fmt::Formatter<'_>, i: &IcmpMessage) -> fmt::Result {
    let dst = i
        .quoted
        .as_ref()
        .map(|q| q.dst.to_string())
        .unwrap_or_else(|| "?".into());
    let port = i
        .quoted
        .as_ref()
        .and_then(|q| match (q.protocol, q.dst_port) {
            (crate::IPPROTO_TCP, Some(d)) => Some(format!("tcp port {d}")),
            (crate::IPPROTO_UDP, Some(d)) => Some(format!("udp port {d}")),
            _ => None,
        });
    if i.v6 {
        return match i.kind {
            IcmpKind::Unreachable { code } => {
                let what = match code {
                    0 => "route",
                    1 => "prohibited",
                    2 => "beyond-scope",
                    3 => "address",
                    _ => "port",
                };
                let port = port.map(|p| format!(" {p}")).unwrap_or_default();
                write!(
                    f,
                    "ICMP6, destination unreachable, unreachable {what} {dst}{port}"
                )
            }
            IcmpKind::PacketTooBig => write!(f, "ICMP6, packet too big"),
            IcmpKind::TimeExceeded { .. } => write!(f, "ICMP6, time exceeded in-transit"),
            IcmpKind::EchoRequest => write!(f, "ICMP6, echo request"),
            IcmpKind::EchoReply => write!(f, "ICMP6, echo reply"),
            IcmpKind::Other { icmp_type, .. } => {
                let name = match icmp_type {
                    133 => "router solicitation",
                    134 => "router advertisement",
                    135 => "neighbor solicitation",
                    136 => "neighbor advertisement",
                    143 => "multicast listener report v2",
                    _ => return write!(f, "ICMP6, unknown icmp6 type ({icmp_type})"),
                };
                write!(f, "ICMP6, {name}")
            }
        };
    }
    match i.kind {
        IcmpKind::Unreachable { code } => match (code, port) {
            (3, Some(port)) => write!(f, "ICMP {dst} {port} unreachable"),
            (0, _) => write!(f, "ICMP net {dst} unreachable"),
            (1, _) => write!(f, "ICMP host {dst} unreachable"),
            (9, _) => write!(f, "ICMP net {dst} unreachable - admin prohibited"),
            (10, _) => write!(f, "ICMP host {dst} unreachable - admin prohibited"),
            (13, _) => write!(f, "ICMP host {dst} unreachable - admin prohibited filter"),
            (code, _) => write!(f, "ICMP {dst} unreachable (code {code})"),
        },
        IcmpKind::PacketTooBig => write!(f, "ICMP {dst} unreachable - need to frag"),
        IcmpKind::TimeExceeded { .. } => write!(f, "ICMP time exceeded in-transit"),
        IcmpKind::EchoRequest => write!(f, "ICMP echo request"),
        IcmpKind::EchoReply => write!(f, "ICMP echo reply"),
        IcmpKind::Other { icmp_type, code } => write!(f, "ICMP type-#{icmp_type} code {code}"),
    }
}
