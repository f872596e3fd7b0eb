use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{LaxNetSlice, LaxSlicedPacket};

use crate::dns::DnsMessage;
use crate::encap::{self, Next, Tunnel};
use crate::link::{LinkType, NullFrame, Sll2Frame};
use crate::packet::*;
use crate::transport::{IcmpView, TcpView, UdpView};
use crate::{Host, SeqNumber};

/// Why a frame gave no IP packet. The reader counts these per kind; none of
/// them stops the analysis.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Skip {
    /// A link type this decoder does not know.
    UnknownLinkType(u32),
    /// ARP, LLDP, STP and the like.
    NotIp { ether_type: u16 },
    /// Too short for its own link or IP header.
    Malformed(&'static str),
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::UnknownLinkType(t) => write!(f, "unknown link type {t}"),
            Skip::NotIp { ether_type } => write!(f, "not IP (ethertype 0x{ether_type:04x})"),
            Skip::Malformed(what) => write!(f, "malformed: {what}"),
        }
    }
}

mod sll_field {
    pub const PROTOCOL: std::ops::Range<usize> = 14..16;
    pub const PAYLOAD: usize = 16;
}

/// Decodes one captured frame into a [`Packet`].
///
/// `data` holds the captured bytes (possibly fewer than were sent).
///
/// ```
/// use stalltrace_decode::{decode_frame, FrameMeta, LinkType, Transport};
/// // A raw IPv4 SYN from 192.0.2.1:40000 to 198.51.100.2:110.
/// let mut p = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2];
/// p.extend_from_slice(&[0x9c, 0x40, 0, 110, 0, 0, 0, 7, 0, 0, 0, 0, 0x50, 0x02, 0x16, 0xd0, 0, 0, 0, 0]);
/// let pkt = decode_frame(LinkType::RAW, &p, FrameMeta::default()).unwrap();
/// let Transport::Tcp(tcp) = pkt.transport else { panic!() };
/// assert!(tcp.flags.syn() && tcp.dst_port == 110);
/// ```
pub fn decode_frame(link: LinkType, data: &[u8], meta: FrameMeta) -> Result<Packet, Skip> {
    let src = link_src(link, data);
    match fast::net(link, data) {
        Some(net) => from_net(net, meta, src, 0, 0),
        None => general(link, data, meta, src),
    }
}

/// [`decode_frame`] without its fast path: every frame through etherparse.
/// Public so that tests and benchmarks can hold the two side by side.
#[doc(hidden)]
pub fn decode_frame_general(link: LinkType, data: &[u8], meta: FrameMeta) -> Result<Packet, Skip> {
    general(link, data, meta, link_src(link, data))
}

fn general(
    link: LinkType,
    data: &[u8],
    meta: FrameMeta,
    link_src: Option<[u8; 6]>,
) -> Result<Packet, Skip> {
    let (next, at, vlan) = match link {
        LinkType::ETHERNET => {
            if data.len() < 14 {
                return Err(Skip::Malformed("Ethernet header"));
            }
            encap::ethernet(data, 0).ok_or_else(|| not_ip(data, 12))?
        }
        LinkType::LINUX_SLL => {
            let proto = data
                .get(sll_field::PROTOCOL)
                .ok_or(Skip::Malformed("Linux cooked header"))?;
            let proto = u16::from_be_bytes([proto[0], proto[1]]);
            encap::ether(proto, data, sll_field::PAYLOAD)
                .ok_or(Skip::NotIp { ether_type: proto })?
        }
        LinkType::LINUX_SLL2 => {
            let f = Sll2Frame::new_checked(data).map_err(|_| Skip::Malformed("SLL2 header"))?;
            encap::ether(f.protocol(), data, 20).ok_or(Skip::NotIp {
                ether_type: f.protocol(),
            })?
        }
        LinkType::NULL | LinkType::LOOP => {
            let f = NullFrame::new_checked(data).map_err(|_| Skip::Malformed("null header"))?;
            if !(f.is_ipv4() || f.is_ipv6()) {
                return Err(Skip::NotIp { ether_type: 0 });
            }
            (Next::Ip, 4, 0)
        }
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => {
            (Next::Ip, 0, 0)
        }
        LinkType(other) if encap::KNOWN_LINKS.contains(&other) => {
            encap::link(link, data).ok_or(Skip::NotIp { ether_type: 0 })?
        }
        LinkType(other) => return Err(Skip::UnknownLinkType(other)),
    };
    inner(next, data, at, vlan, meta, link_src, 0)
}

/// Not IP: the EtherType at `at`, for the count of skipped frames.
fn not_ip(data: &[u8], at: usize) -> Skip {
    Skip::NotIp {
        ether_type: data
            .get(at..at + 2)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]])),
    }
}

/// The IP packet (or Ethernet frame) at `at` in `data`, decoded.
fn inner(
    next: Next,
    data: &[u8],
    at: usize,
    vlan: u32,
    meta: FrameMeta,
    link_src: Option<[u8; 6]>,
    depth: u8,
) -> Result<Packet, Skip> {
    let (at, vlan) = match next {
        Next::Ip => (at, vlan),
        Next::Ethernet => {
            let (n, at, inner_vlan) =
                encap::ethernet(data, at).ok_or_else(|| not_ip(data, at + 12))?;
            if n != Next::Ip {
                return Err(Skip::NotIp { ether_type: 0 });
            }
            (at, if inner_vlan != 0 { inner_vlan } else { vlan })
        }
        Next::Wifi => {
            let (n, at, _) = encap::wifi(data, at).ok_or(Skip::NotIp { ether_type: 0 })?;
            if n != Next::Ip {
                return Err(Skip::NotIp { ether_type: 0 });
            }
            (at, vlan)
        }
    };
    let ip = data.get(at..).ok_or(Skip::Malformed("IP header"))?;
    let sliced = ip_payload(ip)?;
    from_net(net_of(&sliced)?, meta, link_src, vlan, depth)
}

fn ip_payload(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    LaxSlicedPacket::from_ip(data).map_err(|_| Skip::Malformed("IP header"))
}

/// The network layer of a frame, however it was sliced.
struct Net<'a> {
    src: Host,
    dst: Host,
    ip: IpInfo,
    proto: u8,
    /// The captured transport bytes (trailer padding left out).
    payload: &'a [u8],
    /// What the IP header says the transport bytes are.
    declared_len: usize,
    /// The transport header is in this packet (not a later fragment).
    has_header: bool,
}

fn net_of<'a>(s: &LaxSlicedPacket<'a>) -> Result<Net<'a>, Skip> {
    let (src, dst, ip, proto, payload, declared_len, has_header) = match &s.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let p = v4.payload();
            let declared = (h.total_len() as usize).saturating_sub(h.slice().len());
            let ip = IpInfo {
                id: Some(h.identification()),
                ttl: Some(h.ttl()),
                dont_fragment: h.dont_fragment(),
                fragment: h.more_fragments() || h.fragments_offset().value() != 0,
                total_len: Some(h.total_len() as u32),
                checksum_ok: Some(ipv4_checksum_ok(h.slice())),
            };
            // A total length of 0 is what TSO captures show: trust the bytes.
            let declared = if h.total_len() == 0 {
                p.payload.len()
            } else {
                declared
            };
            (
                Host::V4(Ipv4Addr::from(h.source())),
                Host::V4(Ipv4Addr::from(h.destination())),
                ip,
                p.ip_number.0,
                p.payload,
                declared,
                // Only the first fragment carries the transport header.
                h.fragments_offset().value() == 0,
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let p = v6.payload();
            let ext_len = v6.extensions().slice().len();
            let declared = (h.payload_length() as usize).saturating_sub(ext_len);
            let declared = if h.payload_length() == 0 {
                p.payload.len()
            } else {
                declared
            };
            // The fragment header's offset: the first fragment (offset 0)
            // carries the transport header (a large DNS answer's UDP and
            // DNS headers), the later ones only data.
            let offset = fragment_offset(h.next_header().0, v6.extensions().slice());
            let ip = IpInfo {
                id: None,
                ttl: Some(h.hop_limit()),
                dont_fragment: false,
                fragment: v6.is_payload_fragmented(),
                total_len: Some(h.payload_length() as u32 + 40),
                checksum_ok: None,
            };
            (
                Host::V6(Ipv6Addr::from(h.source())),
                Host::V6(Ipv6Addr::from(h.destination())),
                ip,
                p.ip_number.0,
                p.payload,
                declared,
                !ip.fragment || offset == Some(0),
            )
        }
        // Sliced from the IP header on (the link layers are peeled by
        // `encap`): no network layer is a damaged IP header.
        Some(LaxNetSlice::Arp(_)) | None => return Err(Skip::Malformed("IP header")),
    };
    Ok(Net {
        src,
        dst,
        ip,
        proto,
        payload,
        declared_len,
        has_header,
    })
}

/// The offset of an IPv6 fragment, from the extension headers' bytes
/// (`next` names the first). Walked here, bounds checked, rather than with
/// etherparse's iterator, which indexes out of bounds on a damaged chain.
fn fragment_offset(mut next: u8, exts: &[u8]) -> Option<u16> {
    let mut at = 0usize;
    loop {
        let h = exts.get(at..)?;
        let len = match next {
            // Hop-by-hop, routing, destination options: 8-octet units.
            0 | 43 | 60 => (usize::from(*h.get(1)?) + 1) * 8,
            44 => {
                let b = h.get(2..4)?;
                return Some(u16::from_be_bytes([b[0], b[1]]) >> 3);
            }
            // Authentication header: 4-octet units.
            51 => (usize::from(*h.get(1)?) + 2) * 4,
            _ => return None,
        };
        next = *h.first()?;
        at += len;
    }
}

fn from_net(
    net: Net<'_>,
    meta: FrameMeta,
    link_src: Option<[u8; 6]>,
    vlan: u32,
    depth: u8,
) -> Result<Packet, Skip> {
    // A tunnel: the packet inside it is the conversation's, the outer
    // addresses are kept beside it. When the inside cannot be read, the
    // outer packet stands.
    if net.has_header && depth < encap::MAX_DEPTH {
        if let Some((kind, id, next, at)) = encap::tunnel(net.proto, net.payload) {
            if let Ok(mut p) = inner(next, net.payload, at, vlan, meta, link_src, depth + 1) {
                if p.tunnel.is_none() {
                    p.tunnel = Some(Box::new(Tunnel {
                        kind,
                        outer_src: net.src,
                        outer_dst: net.dst,
                        id,
                    }));
                }
                return Ok(p);
            }
        }
    }
    let Net {
        src,
        dst,
        ip,
        proto,
        payload,
        declared_len,
        has_header,
    } = net;
    let mut truncated = payload.len() < declared_len;
    let transport = if !has_header {
        Transport::Other { protocol: proto }
    } else {
        match proto {
            IPPROTO_TCP => match TcpView::new_checked(payload) {
                Some(t) => {
                    truncated |= !t.header_complete();
                    let flags = t.flags();
                    let captured = t.captured_payload();
                    let payload_len = declared_len.saturating_sub(t.header_len()) as u32;
                    Transport::Tcp(TcpSegment {
                        src_port: t.src_port(),
                        dst_port: t.dst_port(),
                        seq: Some(t.seq()),
                        ack: flags.ack().then(|| t.ack_number()),
                        flags,
                        window: t.window(),
                        options: t.options(),
                        payload_len,
                        payload_digest: payload_digest(captured),
                        head: PayloadHead::new(captured),
                        dns: dns_over_tcp(t.src_port(), t.dst_port(), captured),
                    })
                }
                None => return Err(Skip::Malformed("TCP header cut before its flags")),
            },
            IPPROTO_UDP => match UdpView::new_checked(payload) {
                Some(u) => {
                    let payload_len = u
                        .length()
                        .map(|l| (l as u32).saturating_sub(8))
                        .unwrap_or_else(|| declared_len.saturating_sub(8) as u32);
                    Transport::Udp(UdpDatagram {
                        src_port: u.src_port(),
                        dst_port: u.dst_port(),
                        payload_len,
                        payload_digest: payload_digest(u.captured_payload()),
                        head: PayloadHead::new(u.captured_payload()),
                        dns: is_dns(u.src_port(), u.dst_port())
                            .then(|| DnsMessage::parse(u.captured_payload()).map(Box::new))
                            .flatten(),
                    })
                }
                None => return Err(Skip::Malformed("UDP header cut before its ports")),
            },
            IPPROTO_ICMP | IPPROTO_ICMPV6 => match IcmpView::new_checked(payload) {
                Some(i) => Transport::Icmp(icmp(proto == IPPROTO_ICMPV6, &i)),
                None => return Err(Skip::Malformed("ICMP header")),
            },
            other => Transport::Other { protocol: other },
        }
    };
    Ok(Packet {
        meta,
        src,
        dst,
        ip,
        transport,
        truncated,
        link_src,
        vlan,
        tunnel: None,
    })
}

/// The sender's MAC address from the link header: Ethernet's source, or a
/// Linux cooked header's address when it is six bytes long.
fn link_src(link: LinkType, data: &[u8]) -> Option<[u8; 6]> {
    let six = |r: std::ops::Range<usize>| data.get(r).and_then(|b| b.try_into().ok());
    match link {
        LinkType::ETHERNET => six(6..12),
        LinkType::LINUX_SLL if data.get(4..6)? == [0, 6] => six(6..12),
        LinkType::LINUX_SLL2 if *data.get(11)? == 6 => six(12..18),
        _ => None,
    }
}

/// The DNS port, either way.
fn is_dns(src: u16, dst: u16) -> bool {
    src == DNS_PORT || dst == DNS_PORT
}

const DNS_PORT: u16 = 53;

/// DNS over TCP: a segment that begins a message, after its two-byte
/// length (RFC 1035 4.2.2).
fn dns_over_tcp(src: u16, dst: u16, payload: &[u8]) -> Option<Box<DnsMessage>> {
    if !is_dns(src, dst) || payload.len() < 14 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([payload[0], payload[1]]));
    (len >= 12).then(|| DnsMessage::parse(&payload[2..]).map(Box::new))?
}

/// RFC 1071: the one's complement sum of the header, checksum included,
/// is all ones.
fn ipv4_checksum_ok(header: &[u8]) -> bool {
    let words = header.chunks_exact(2);
    let odd = words.remainder().first().map_or(0, |b| u32::from(*b) << 8);
    let mut sum: u32 = words
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>()
        + odd;
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

fn icmp<T: AsRef<[u8]>>(v6: bool, i: &IcmpView<T>) -> IcmpMessage {
    let kind = IcmpKind::from_wire(v6, i.icmp_type(), i.code());
    let quoted = if kind.is_error() {
        quoted_header(v6, i.body())
    } else {
        None
    };
    IcmpMessage { v6, kind, quoted }
}

/// Reads the offending packet's addresses, ports and sequence number out of
/// an ICMP error's quote, however little of it there is.
fn quoted_header(v6: bool, q: &[u8]) -> Option<QuotedHeader> {
    let (src, dst, proto, rest) = if !v6 {
        let h = etherparse::Ipv4HeaderSlice::from_slice(q).ok()?;
        let hl = h.slice().len();
        (
            Host::V4(Ipv4Addr::from(h.source())),
            Host::V4(Ipv4Addr::from(h.destination())),
            h.protocol().0,
            &q[hl..],
        )
    } else {
        let h = etherparse::Ipv6HeaderSlice::from_slice(q).ok()?;
        (
            Host::V6(Ipv6Addr::from(h.source())),
            Host::V6(Ipv6Addr::from(h.destination())),
            h.next_header().0,
            &q[40..],
        )
    };
    let port = |r: std::ops::Range<usize>| rest.get(r).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let has_ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP;
    Some(QuotedHeader {
        src: Some(src),
        dst,
        protocol: proto,
        src_port: if has_ports { port(0..2) } else { None },
        dst_port: if has_ports { port(2..4) } else { None },
        seq: if proto == IPPROTO_TCP {
            rest.get(4..8)
                .map(|b| SeqNumber(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
        } else {
            None
        },
    })
}

/// The common case decoded by hand: Ethernet II (or Linux cooked, or raw
/// IP) carrying a plain IPv4 or IPv6 packet with TCP, UDP or ICMP straight
/// inside. etherparse's lax slicer builds a 300-byte description of every
/// layer it might meet and copies it around; on a capture of small packets
/// that was a fifth of all the time. Anything else (VLAN tags, IPv6
/// extension headers, IPsec, malformed or odd headers) goes to etherparse,
/// and a test holds the two paths to the same answer on mutated frames.
mod fast {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::Net;
    use crate::link::LinkType;
    use crate::packet::{IpInfo, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
    use crate::Host;

    mod ether {
        pub const TYPE: std::ops::Range<usize> = 12..14;
        pub const PAYLOAD: usize = 14;
    }
    mod sll {
        pub const PROTOCOL: std::ops::Range<usize> = 14..16;
        pub const PAYLOAD: usize = 16;
    }
    mod ipv4 {
        pub const VER_IHL: usize = 0;
        pub const TOTAL_LEN: std::ops::Range<usize> = 2..4;
        pub const IDENT: std::ops::Range<usize> = 4..6;
        pub const FLAGS_FRAG: std::ops::Range<usize> = 6..8;
        pub const TTL: usize = 8;
        pub const PROTOCOL: usize = 9;
        pub const SRC: std::ops::Range<usize> = 12..16;
        pub const DST: std::ops::Range<usize> = 16..20;
        pub const MIN_LEN: usize = 20;
    }
    mod ipv6 {
        pub const PAYLOAD_LEN: std::ops::Range<usize> = 4..6;
        pub const NEXT_HEADER: usize = 6;
        pub const HOP_LIMIT: usize = 7;
        pub const SRC: std::ops::Range<usize> = 8..24;
        pub const DST: std::ops::Range<usize> = 24..40;
        pub const LEN: usize = 40;
    }

    const ETHERTYPE_IPV4: u16 = 0x0800;
    const ETHERTYPE_IPV6: u16 = 0x86dd;

    fn be16(b: &[u8], r: std::ops::Range<usize>) -> u16 {
        u16::from_be_bytes([b[r.start], b[r.start + 1]])
    }

    /// None: not the common case, let etherparse decide.
    pub(super) fn net(link: LinkType, data: &[u8]) -> Option<Net<'_>> {
        let (ether_type, ip) = match link {
            LinkType::ETHERNET => (
                be16(data.get(..ether::PAYLOAD)?, ether::TYPE),
                &data[ether::PAYLOAD..],
            ),
            LinkType::LINUX_SLL => (
                be16(data.get(..sll::PAYLOAD)?, sll::PROTOCOL),
                &data[sll::PAYLOAD..],
            ),
            LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => match data.first()? >> 4 {
                4 => (ETHERTYPE_IPV4, data),
                6 => (ETHERTYPE_IPV6, data),
                _ => return None,
            },
            _ => return None,
        };
        match ether_type {
            ETHERTYPE_IPV4 => v4(ip),
            ETHERTYPE_IPV6 => v6(ip),
            _ => None,
        }
    }

    fn v4(b: &[u8]) -> Option<Net<'_>> {
        let h = b.get(..ipv4::MIN_LEN)?;
        let ver_ihl = h[ipv4::VER_IHL];
        let header_len = usize::from(ver_ihl & 0x0f) * 4;
        let total_len = usize::from(be16(h, ipv4::TOTAL_LEN));
        let proto = h[ipv4::PROTOCOL];
        if ver_ihl >> 4 != 4
            || header_len < ipv4::MIN_LEN
            || b.len() < header_len
            || (total_len != 0 && total_len < header_len)
            || !matches!(proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_ICMP)
        {
            return None;
        }
        let flags_frag = be16(h, ipv4::FLAGS_FRAG);
        let offset = flags_frag & 0x1fff;
        let more = flags_frag & 0x2000 != 0;
        // A total length of 0 is what TSO captures show: trust the bytes.
        let (payload, declared_len) = if total_len == 0 {
            let p = &b[header_len..];
            (p, p.len())
        } else {
            (
                &b[header_len..total_len.min(b.len())],
                total_len - header_len,
            )
        };
        let addr = |r: std::ops::Range<usize>| {
            Host::V4(Ipv4Addr::new(
                h[r.start],
                h[r.start + 1],
                h[r.start + 2],
                h[r.start + 3],
            ))
        };
        Some(Net {
            src: addr(ipv4::SRC),
            dst: addr(ipv4::DST),
            ip: IpInfo {
                id: Some(be16(h, ipv4::IDENT)),
                ttl: Some(h[ipv4::TTL]),
                dont_fragment: flags_frag & 0x4000 != 0,
                fragment: more || offset != 0,
                total_len: Some(total_len as u32),
                checksum_ok: Some(super::ipv4_checksum_ok(&b[..header_len])),
            },
            proto,
            payload,
            declared_len,
            has_header: offset == 0,
        })
    }

    fn v6(b: &[u8]) -> Option<Net<'_>> {
        let h = b.get(..ipv6::LEN)?;
        let payload_len = usize::from(be16(h, ipv6::PAYLOAD_LEN));
        let proto = h[ipv6::NEXT_HEADER];
        if h[0] >> 4 != 6
            || payload_len == 0
            || !matches!(proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_ICMPV6)
        {
            return None;
        }
        let rest = &b[ipv6::LEN..];
        let payload = &rest[..payload_len.min(rest.len())];
        let addr = |r: std::ops::Range<usize>| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&h[r]);
            Host::V6(Ipv6Addr::from(a))
        };
        Some(Net {
            src: addr(ipv6::SRC),
            dst: addr(ipv6::DST),
            ip: IpInfo {
                id: None,
                ttl: Some(h[ipv6::HOP_LIMIT]),
                dont_fragment: false,
                fragment: false,
                total_len: Some(payload_len as u32 + 40),
                checksum_ok: None,
            },
            proto,
            payload,
            declared_len: payload_len,
            has_header: true,
        })
    }
}
