//! The same conversation in every wrapping a capture meets: link types
//! other than Ethernet, VLAN and MPLS stacks, and tunnels. Each
//! [`Wrap`] turns a Scene's Ethernet frames into the bytes and link type
//! a capture of that kind holds; tests write them to a pcap and check
//! that stalltrace (and tshark) read the same inner conversation.

use std::net::Ipv4Addr;

/// A way a capture can hold an IP packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Wrap {
    Vlan,
    QinQ,
    Mpls,
    Pppoe,
    LlcSnap,
    VnTag,
    Pbb,
    Ppp,
    PppHdlc,
    Fddi,
    Wifi,
    Radiotap,
    Nflog,
    JuniperEther,
    Pktap,
    Gre,
    GreEthernet,
    GreAruba,
    Erspan,
    IpInIp,
    Vxlan,
    Geneve,
    GtpU,
    Teredo,
}

impl Wrap {
    pub const ALL: &'static [Wrap] = &[
        Wrap::Vlan,
        Wrap::QinQ,
        Wrap::Mpls,
        Wrap::Pppoe,
        Wrap::LlcSnap,
        Wrap::VnTag,
        Wrap::Pbb,
        Wrap::Ppp,
        Wrap::PppHdlc,
        Wrap::Fddi,
        Wrap::Wifi,
        Wrap::Radiotap,
        Wrap::Nflog,
        Wrap::JuniperEther,
        Wrap::Pktap,
        Wrap::Gre,
        Wrap::GreEthernet,
        Wrap::GreAruba,
        Wrap::Erspan,
        Wrap::IpInIp,
        Wrap::Vxlan,
        Wrap::Geneve,
        Wrap::GtpU,
        Wrap::Teredo,
    ];

    /// The pcap link type the wrapped frames need.
    pub fn link_type(self) -> u32 {
        match self {
            Wrap::Ppp => 9,
            Wrap::PppHdlc => 50,
            Wrap::Fddi => 10,
            Wrap::Wifi => 105,
            Wrap::Radiotap => 127,
            Wrap::Nflog => 239,
            Wrap::JuniperEther => 178,
            Wrap::Pktap => 258,
            _ => 1,
        }
    }

    /// The tunnel's outer addresses, for the tunnels.
    pub fn outer(self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        matches!(
            self,
            Wrap::Gre
                | Wrap::GreEthernet
                | Wrap::GreAruba
                | Wrap::Erspan
                | Wrap::IpInIp
                | Wrap::Vxlan
                | Wrap::Geneve
                | Wrap::GtpU
                | Wrap::Teredo
        )
        .then_some((OUTER_A, OUTER_B))
    }

    /// One Ethernet II frame (as a Scene makes them) wrapped.
    pub fn apply(self, eth: &[u8]) -> Vec<u8> {
        let (macs, et, ip) = (&eth[..12], &eth[12..14], &eth[14..]);
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        let cat = |parts: &[&[u8]]| parts.concat();
        match self {
            Wrap::Vlan => cat(&[macs, &[0x81, 0, 0x20, 42], et, ip]),
            Wrap::QinQ => cat(&[macs, &[0x88, 0xa8, 0, 10, 0x81, 0, 0, 20], et, ip]),
            Wrap::Mpls => cat(&[
                macs,
                &[0x88, 0x47, 0, 0x10, 0x00, 64, 0, 0x20, 0x01, 64],
                ip,
            ]),
            Wrap::Pppoe => {
                let len = (ip.len() + 2) as u16;
                let proto: &[u8] = if v6 { &[0, 0x57] } else { &[0, 0x21] };
                cat(&[
                    macs,
                    &[0x88, 0x64, 0x11, 0, 0x12, 0x34],
                    &len.to_be_bytes(),
                    proto,
                    ip,
                ])
            }
            Wrap::LlcSnap => {
                let len = (ip.len() + 8) as u16;
                cat(&[macs, &len.to_be_bytes(), &[0xaa, 0xaa, 3, 0, 0, 0], et, ip])
            }
            Wrap::VnTag => cat(&[macs, &[0x89, 0x26, 0x80, 0x05, 0x00, 0x07], et, ip]),
            Wrap::Pbb => cat(&[
                &[0x02, 0, 0, 0, 0, 0xb1, 0x02, 0, 0, 0, 0, 0xb2],
                &[0x88, 0xe7, 0, 0, 0x01, 0x00],
                eth,
            ]),
            Wrap::Ppp => cat(&[&[0xff, 0x03], ppp_proto(v6), ip]),
            Wrap::PppHdlc => cat(&[&[0xff, 0x03], ppp_proto(v6), ip]),
            Wrap::Fddi => cat(&[&[0x50], macs, &[0xaa, 0xaa, 3, 0, 0, 0], et, ip]),
            Wrap::Wifi => cat(&[&wifi_header(macs), &[0xaa, 0xaa, 3, 0, 0, 0], et, ip]),
            Wrap::Radiotap => cat(&[
                &[0, 0, 8, 0, 0, 0, 0, 0],
                &wifi_header(macs),
                &[0xaa, 0xaa, 3, 0, 0, 0],
                et,
                ip,
            ]),
            Wrap::Nflog => {
                // Family, version, resource id; a prefix TLV, then the
                // payload TLV (lengths in host order, little-endian here).
                let family = if v6 { 10 } else { 2 };
                let prefix = b"drop\0\0\0\0";
                let mut v = vec![family, 0, 0, 0];
                v.extend_from_slice(&(4 + prefix.len() as u16).to_le_bytes());
                v.extend_from_slice(&10u16.to_le_bytes());
                v.extend_from_slice(prefix);
                v.extend_from_slice(&(4 + ip.len() as u16).to_le_bytes());
                v.extend_from_slice(&9u16.to_le_bytes());
                v.extend_from_slice(ip);
                while v.len() % 4 != 0 {
                    v.push(0);
                }
                v
            }
            Wrap::JuniperEther => cat(&[b"MGC", &[0x81, 0, 4, 2, 2, 0, 1], eth]),
            Wrap::Pktap => {
                // pth_length 108, pth_type_next Ethernet, then the rest of
                // Apple's header (interface name, pid, ...) zeroed.
                let mut h = vec![0u8; 108];
                h[0..4].copy_from_slice(&108u32.to_le_bytes());
                h[4..8].copy_from_slice(&1u32.to_le_bytes());
                h[8..12].copy_from_slice(&1u32.to_le_bytes());
                h[12..15].copy_from_slice(b"en0");
                cat(&[&h, eth])
            }
            Wrap::Gre => outer(47, &cat(&[&[0, 0], et, ip])),
            Wrap::GreEthernet => outer(47, &cat(&[&[0x20, 0, 0x65, 0x58, 0, 0, 0, 7], eth])),
            Wrap::GreAruba => outer(
                47,
                &cat(&[
                    &[0, 0, 0x82, 0x00],
                    &wifi_header(macs),
                    &[0xaa, 0xaa, 3, 0, 0, 0],
                    et,
                    ip,
                ]),
            ),
            Wrap::Erspan => outer(
                47,
                &cat(&[
                    &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1],
                    &[0x10, 0, 0x00, 0x05, 0, 0, 0, 0],
                    eth,
                ]),
            ),
            Wrap::IpInIp => outer(if v6 { 41 } else { 4 }, ip),
            Wrap::Vxlan => outer_udp(49_152, 4789, &cat(&[&[8, 0, 0, 0, 0, 0, 42, 0], eth])),
            Wrap::Geneve => outer_udp(49_153, 6081, &cat(&[&[0, 0, 0x65, 0x58, 0, 0, 43, 0], eth])),
            Wrap::GtpU => {
                let len = (ip.len() as u16).to_be_bytes();
                outer_udp(2152, 2152, &cat(&[&[0x30, 0xff], &len, &[0, 0, 0, 44], ip]))
            }
            Wrap::Teredo => outer_udp(3544, 3544, ip),
        }
    }
}

const OUTER_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 201);
const OUTER_B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 202);

fn ppp_proto(v6: bool) -> &'static [u8] {
    if v6 {
        &[0, 0x57]
    } else {
        &[0, 0x21]
    }
}

/// An 802.11 data frame header (to the AP: ToDS), from an Ethernet
/// frame's addresses.
fn wifi_header(macs: &[u8]) -> Vec<u8> {
    let mut h = vec![0x08, 0x01, 0, 0];
    h.extend_from_slice(&[0x02, 0, 0, 0, 0, 0xaa]);
    h.extend_from_slice(&macs[6..12]);
    h.extend_from_slice(&macs[..6]);
    h.extend_from_slice(&[0, 0]);
    h
}

/// An outer IPv4 packet of `proto` around `inner`, in Ethernet.
fn outer(proto: u8, inner: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(OUTER_A.octets(), OUTER_B.octets(), 64)
        .write(&mut v, etherparse::IpNumber(proto), inner)
        .expect("outer packet encodes");
    v
}

fn outer_udp(sport: u16, dport: u16, inner: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(OUTER_A.octets(), OUTER_B.octets(), 64)
        .udp(sport, dport)
        .write(&mut v, inner)
        .expect("outer datagram encodes");
    v
}
