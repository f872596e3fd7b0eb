//! What lies between a frame's first byte and its IP header, and what an
//! IP packet carries inside it: the link layers etherparse does not peel
//! (PPP, PPPoE, MPLS, LLC/SNAP, FDDI, 802.11 and radiotap, NFLOG, PKTAP,
//! Juniper's Ethernet, VN-Tag, PBB) and the tunnels whose inner TCP
//! a network engineer wants to see (GRE and ERSPAN, IP-in-IP and 6in4,
//! VXLAN, Geneve, GTP-U, Teredo).
//!
//! Each function takes the bytes and returns where the next layer starts,
//! bounds checked, never panicking on damaged input: a header cut short
//! is `None`, and the frame is skipped as the caller says.
//!
//! ```
//! use stalltrace_decode::encap::{ether, Next};
//! // An 802.1Q tag (VLAN 42) before IPv4.
//! let f = [0x81, 0x00, 0x00, 42, 0x08, 0x00, 0x45];
//! let (next, at, vlan) = ether(0x8100, &f, 2).unwrap();
//! assert_eq!((next, at, vlan), (Next::Ip, 6, 42));
//! ```

use crate::host::Host;
use crate::link::LinkType;

/// What follows a peeled header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// An IPv4 or IPv6 header (its first nibble says which).
    Ip,
    /// A whole Ethernet frame (a bridged tunnel's payload).
    Ethernet,
    /// An 802.11 frame (Aruba's access points send them to their
    /// controller in GRE).
    Wifi,
}

/// How deep tunnels may nest before the rest is left undecoded: a crafted
/// packet of nested headers cannot make the decoder recurse without end.
pub(crate) const MAX_DEPTH: u8 = 4;

/// A tunnel a packet came through: the outer addresses and the tunnel's
/// own id (VXLAN and Geneve VNI, GRE key, GTP-U TEID).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Tunnel {
    pub kind: TunnelKind,
    pub outer_src: Host,
    pub outer_dst: Host,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
}

#[derive(
    Copy,
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum TunnelKind {
    Gre,
    Erspan,
    IpInIp,
    Vxlan,
    Geneve,
    GtpU,
    Teredo,
}

impl TunnelKind {
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::Gre => "GRE",
            TunnelKind::Erspan => "ERSPAN",
            TunnelKind::IpInIp => "IP-in-IP",
            TunnelKind::Vxlan => "VXLAN",
            TunnelKind::Geneve => "Geneve",
            TunnelKind::GtpU => "GTP-U",
            TunnelKind::Teredo => "Teredo",
        }
    }

    /// The kind [`TunnelKind::name`] names.
    pub fn from_name(name: &str) -> Option<TunnelKind> {
        [
            TunnelKind::Gre,
            TunnelKind::Erspan,
            TunnelKind::IpInIp,
            TunnelKind::Vxlan,
            TunnelKind::Geneve,
            TunnelKind::GtpU,
            TunnelKind::Teredo,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The layers after an EtherType (or an 802.3 length) at `at` in `b`:
/// VLAN tags (their ids kept, outer first, as `outer | inner << 16`),
/// MPLS labels, PPPoE, LLC/SNAP, VN-Tag, PBB. Returns what comes next,
/// its offset, and the VLAN ids. `None` when no IP is reached.
pub fn ether(mut ether_type: u16, b: &[u8], mut at: usize) -> Option<(Next, usize, u32)> {
    let mut vlan = 0u32;
    let mut tags = 0;
    // A frame holds only so many headers; the bound keeps a crafted one
    // from looping.
    for _ in 0..16 {
        match ether_type {
            0x0800 | 0x86dd => return Some((Next::Ip, at, vlan)),
            // 802.1Q, 802.1ad, and the old QinQ 0x9100.
            0x8100 | 0x88a8 | 0x9100 => {
                let id = u32::from(be16(b, at)? & 0x0fff);
                if tags < 2 {
                    vlan |= id << (16 * tags);
                }
                tags += 1;
                ether_type = be16(b, at + 2)?;
                at += 4;
            }
            // MPLS unicast and multicast: labels until bottom of stack.
            0x8847 | 0x8848 => {
                loop {
                    let bottom = b.get(at + 2)? & 1 == 1;
                    at += 4;
                    if bottom {
                        break;
                    }
                }
                match b.get(at)? >> 4 {
                    4 | 6 => return Some((Next::Ip, at, vlan)),
                    // A pseudowire control word, then Ethernet.
                    0 => return Some((Next::Ethernet, at + 4, vlan)),
                    _ => return None,
                }
            }
            // PPPoE session: 6 bytes, then PPP's protocol.
            0x8864 => {
                return ppp_protocol(be16(b, at + 6)?).map(|n| (n, at + 8, vlan));
            }
            // VN-Tag (Cisco, 802.1Qbh): 4 bytes, then the EtherType.
            0x8926 => {
                ether_type = be16(b, at + 4)?;
                at += 6;
            }
            // PBB (802.1ah) I-TAG: 4 bytes, then a whole customer frame.
            0x88e7 => {
                ether_type = be16(b, at + 16)?;
                at += 18;
            }
            // An 802.3 length: LLC, and with SNAP (AA AA 03) an EtherType.
            len if len <= 1500 => {
                if b.get(at..at + 3)? != [0xaa, 0xaa, 0x03] {
                    return None;
                }
                ether_type = be16(b, at + 6)?;
                at += 8;
            }
            _ => return None,
        }
    }
    None
}

/// PPP's protocol field: IPv4 (0x0021) and IPv6 (0x0057) are IP.
fn ppp_protocol(p: u16) -> Option<Next> {
    matches!(p, 0x0021 | 0x0057).then_some(Next::Ip)
}

/// A PPP frame: an optional HDLC address and control (FF 03), then the
/// protocol (one byte when compressed, odd).
fn ppp(b: &[u8], mut at: usize) -> Option<(Next, usize)> {
    if b.get(at..at + 2)? == [0xff, 0x03] {
        at += 2;
    }
    if b.get(at)? & 1 == 1 {
        return ppp_protocol(u16::from(*b.get(at)?)).map(|n| (n, at + 1));
    }
    ppp_protocol(be16(b, at)?).map(|n| (n, at + 2))
}

/// An 802.11 data frame: its header (24 bytes, 30 with a fourth
/// address, 2 more with QoS, 4 more with HT control), then LLC/SNAP.
/// Protected (encrypted) frames hold nothing readable.
pub fn wifi(b: &[u8], at: usize) -> Option<(Next, usize, u32)> {
    let fc0 = *b.get(at)?;
    let fc1 = *b.get(at + 1)?;
    // Type 2 (data), subtypes without data (null, CF-only) carry none.
    if (fc0 >> 2) & 3 != 2 || fc0 & 0x40 != 0 || fc1 & 0x40 != 0 {
        return None;
    }
    let mut len = 24;
    if fc1 & 3 == 3 {
        len += 6;
    }
    let qos = fc0 & 0x80 != 0;
    if qos {
        len += 2;
        if fc1 & 0x80 != 0 {
            len += 4;
        }
    }
    // `ether(0, ..)` reads 0 as an 802.3 length: LLC/SNAP next.
    ether(0, b, at + len)
}

/// The link types [`link`] reads, beyond those the frame decoder reads
/// itself (Ethernet, Linux cooked, null, raw IP).
pub const KNOWN_LINKS: &[u32] = &[9, 10, 50, 51, 105, 127, 149, 178, 239, 258];

/// Where the link layer of a frame of `link` ends: what follows, its
/// offset and the VLAN ids. `None` when the frame holds no IP.
pub fn link(link: LinkType, b: &[u8]) -> Option<(Next, usize, u32)> {
    match link.0 {
        1 => Some((Next::Ethernet, 0, 0)),
        // PPP, and PPP in HDLC-like framing.
        9 | 50 => ppp(b, 0).map(|(n, at)| (n, at, 0)),
        // PPPoE with no link header before it (LINKTYPE_PPP_ETHER).
        51 => ppp_protocol(be16(b, 6)?).map(|n| (n, 8, 0)),
        // FDDI: frame control and two addresses, then LLC/SNAP.
        10 => ether(0, b, 13),
        105 => wifi(b, 0),
        // Radiotap: its own length, then 802.11.
        127 => wifi(b, usize::from(le16(b, 2)?)),
        // Juniper's Ethernet: "MGC", flags, an optional extension block.
        178 => {
            if b.get(0..3)? != b"MGC" {
                return None;
            }
            let flags = *b.get(3)?;
            let mut at = 4;
            if flags & 0x80 != 0 {
                at += 2 + usize::from(be16(b, 4)?);
            }
            Some((Next::Ethernet, at, 0))
        }
        // NFLOG: a 4-byte header, then TLVs (host byte order lengths); the
        // packet is attribute 9 (NFULA_PAYLOAD).
        239 => {
            let mut at = 4;
            while at + 4 <= b.len() {
                let len = usize::from(le16(b, at)?);
                let kind = le16(b, at + 2)? & 0x7fff;
                if len < 4 {
                    return None;
                }
                if kind == 9 {
                    return Some((Next::Ip, at + 4, 0));
                }
                at += (len + 3) & !3;
            }
            None
        }
        // Apple's PKTAP: its length, the next header's type (1, a
        // packet), then the packet's link type (pth_dlt).
        258 | 149 => {
            let len = usize::try_from(le32(b, 0)?).ok()?;
            let inner = LinkType(le32(b, 8)?);
            if len < 12 || le32(b, 4)? != 1 || inner.0 == 258 || inner.0 == 149 {
                return None;
            }
            let rest = b.get(len..)?;
            match inner {
                LinkType::ETHERNET => Some((Next::Ethernet, len, 0)),
                LinkType::NULL | LinkType::LOOP => Some((Next::Ip, len + 4, 0)),
                LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => Some((Next::Ip, len, 0)),
                other => self::link(other, rest).map(|(n, at, v)| (n, len + at, v)),
            }
        }
        _ => None,
    }
}

/// An Ethernet frame at `at`: its EtherType and what follows it.
pub fn ethernet(b: &[u8], at: usize) -> Option<(Next, usize, u32)> {
    ether(be16(b, at + 12)?, b, at + 14)
}

/// The tunnel an IP packet's payload is, if it is one: its kind, its id,
/// what it carries and where that starts in `payload`. `proto` is the IP
/// protocol; for UDP the ports pick the tunnel (IANA's: VXLAN 4789,
/// Geneve 6081, GTP-U 2152, Teredo 3544).
pub fn tunnel(proto: u8, payload: &[u8]) -> Option<(TunnelKind, Option<u32>, Next, usize)> {
    match proto {
        4 | 41 => Some((TunnelKind::IpInIp, None, Next::Ip, 0)),
        47 => gre(payload),
        17 => {
            let dst = be16(payload, 2)?;
            let src = be16(payload, 0)?;
            let u = 8;
            let port = |p: u16| src == p || dst == p;
            if port(4789) {
                // VXLAN: flags (I set), 3 reserved, VNI, 1 reserved.
                if payload.get(u)? & 0x08 == 0 {
                    return None;
                }
                let vni = be32(payload, u + 4)? >> 8;
                Some((TunnelKind::Vxlan, Some(vni), Next::Ethernet, u + 8))
            } else if dst == 6081 {
                let b0 = *payload.get(u)?;
                if b0 >> 6 != 0 {
                    return None;
                }
                let opts = usize::from(b0 & 0x3f) * 4;
                let next = match be16(payload, u + 2)? {
                    0x6558 => Next::Ethernet,
                    0x0800 | 0x86dd => Next::Ip,
                    _ => return None,
                };
                let vni = be32(payload, u + 4)? >> 8;
                Some((TunnelKind::Geneve, Some(vni), next, u + 8 + opts))
            } else if port(2152) {
                gtp_u(payload, u)
            } else if port(3544) {
                teredo(payload, u)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// GRE (RFC 2784, 2890) and PPTP's enhanced GRE (RFC 2637): optional
/// checksum, key and sequence words, then IP, Ethernet, PPP or ERSPAN.
fn gre(b: &[u8]) -> Option<(TunnelKind, Option<u32>, Next, usize)> {
    let flags = be16(b, 0)?;
    let proto = be16(b, 2)?;
    let mut at = 4;
    let mut key = None;
    match flags & 7 {
        0 => {
            if flags & 0x8000 != 0 {
                at += 4;
            }
            if flags & 0x2000 != 0 {
                key = Some(be32(b, at)?);
                at += 4;
            }
            if flags & 0x1000 != 0 {
                at += 4;
            }
        }
        1 => {
            // Enhanced GRE: key (payload length, call id) always, then
            // sequence (S) and acknowledgment (0x0080) numbers.
            key = Some(u32::from(be16(b, 6)?));
            at = 8 + 4 * usize::from(flags & 0x1000 != 0) + 4 * usize::from(flags & 0x0080 != 0);
            return match proto {
                0x880b => ppp(b, at).map(|(n, at)| (TunnelKind::Gre, key, n, at)),
                _ => None,
            };
        }
        _ => return None,
    }
    match proto {
        0x0800 | 0x86dd => Some((TunnelKind::Gre, key, Next::Ip, at)),
        0x6558 => Some((TunnelKind::Gre, key, Next::Ethernet, at)),
        // Aruba's access points: 802.11 frames to the controller.
        0x8200..=0x82ff => Some((TunnelKind::Gre, key, Next::Wifi, at)),
        // ERSPAN type II: an 8-byte header (its session id kept).
        0x88be => {
            let session = u32::from(be16(b, at + 2)? & 0x03ff);
            Some((TunnelKind::Erspan, Some(session), Next::Ethernet, at + 8))
        }
        // ERSPAN type III: 12 bytes, 8 more with the optional subheader.
        0x22eb => {
            let session = u32::from(be16(b, at + 2)? & 0x03ff);
            let o = *b.get(at + 11)? & 1;
            Some((
                TunnelKind::Erspan,
                Some(session),
                Next::Ethernet,
                at + 12 + 8 * usize::from(o),
            ))
        }
        _ => None,
    }
}

/// GTP-U (3GPP TS 29.281): version 1, a G-PDU (type 255), an 8-byte
/// header, 4 more when any of E, S, PN is set, then extension headers.
fn gtp_u(b: &[u8], u: usize) -> Option<(TunnelKind, Option<u32>, Next, usize)> {
    let flags = *b.get(u)?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || *b.get(u + 1)? != 0xff {
        return None;
    }
    let teid = be32(b, u + 4)?;
    let mut at = u + 8;
    if flags & 0x07 != 0 {
        let mut next_ext = *b.get(at + 3)?;
        at += 4;
        if flags & 0x04 != 0 {
            // Each extension: length in 4-byte units, content, next type.
            for _ in 0..16 {
                if next_ext == 0 {
                    break;
                }
                let len = usize::from(*b.get(at)?) * 4;
                if len == 0 {
                    return None;
                }
                next_ext = *b.get(at + len - 1)?;
                at += len;
            }
        }
    }
    matches!(b.get(at)? >> 4, 4 | 6).then_some((TunnelKind::GtpU, Some(teid), Next::Ip, at))
}

/// Teredo (RFC 4380): IPv6 in UDP, maybe after an authentication
/// indicator (0x0001) or an origin indication (0x0000, 8 bytes).
fn teredo(b: &[u8], u: usize) -> Option<(TunnelKind, Option<u32>, Next, usize)> {
    let mut at = u;
    for _ in 0..2 {
        match be16(b, at)? {
            0x0001 => {
                let id_len = usize::from(*b.get(at + 2)?);
                let au_len = usize::from(*b.get(at + 3)?);
                at += 4 + id_len + au_len + 8 + 1;
            }
            0x0000 => at += 8,
            _ => break,
        }
    }
    (b.get(at)? >> 4 == 6).then_some((TunnelKind::Teredo, None, Next::Ip, at))
}
