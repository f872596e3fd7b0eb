use serde::Serialize;

use crate::{tr, Host, Lang, SeqNumber, Timestamp};

/// Where a packet came from inside its capture file.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameMeta {
    pub ts: Timestamp,
    /// 1-based record number in the file (or line number for text input),
    /// as Wireshark's "No." column and tcpdump `-#` count.
    pub number: u64,
    /// Interface index inside the file (pcapng), 0 otherwise.
    pub interface: u32,
    /// Where its record (pcapng: its block) begins in the file, in bytes
    /// (of the decompressed stream); 0 for printed text, whose `number`
    /// is the line.
    pub offset: u64,
}

/// One decoded IP packet, owned and small: the unit every later stage sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub meta: FrameMeta,
    pub src: Host,
    pub dst: Host,
    pub ip: IpInfo,
    pub transport: Transport,
    /// True when the capture holds fewer bytes than the packet had
    /// (snaplen, `[|tcp]`): fields past the cut are unknown, not zero.
    pub truncated: bool,
    /// The sender's link-layer (MAC) address, when the frame has one: on
    /// the sender's own link it names the machine whatever its IP
    /// version; past a router it is the router's.
    pub link_src: Option<[u8; 6]>,
    /// The 802.1Q VLAN ids, outer in the low 16 bits, inner above (0:
    /// untagged): the same addresses on two VLANs are two conversations,
    /// as in Zeek's connection key.
    pub vlan: u32,
    /// The tunnel the packet came through (its addresses are the inner
    /// packet's).
    pub tunnel: Option<Box<crate::encap::Tunnel>>,
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct IpInfo {
    /// IPv4 identification (IPv6 has none unless fragmented).
    pub id: Option<u16>,
    pub ttl: Option<u8>,
    pub dont_fragment: bool,
    /// A fragment other than a whole datagram: transport fields are only in
    /// the first fragment.
    pub fragment: bool,
    /// Length of the IP packet on the wire, when known.
    pub total_len: Option<u32>,
    /// IPv4 header checksum verified (None: IPv6, or not in the capture).
    pub checksum_ok: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp(TcpSegment),
    Udp(UdpDatagram),
    Icmp(IcmpMessage),
    /// Another IP protocol, or a fragment without transport header.
    Other {
        protocol: u8,
    },
}

/// TCP control bits, in header order.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }

    /// tcpdump 4.x notation (`S.`, `P.`, `R`, `FP.`), the letters in the
    /// order tcpdump prints them (`tcp_flag_values` in print-tcp.c).
    pub fn tcpdump(self) -> String {
        const LETTERS: [(u8, char); 8] = [
            (TcpFlags::FIN, 'F'),
            (TcpFlags::SYN, 'S'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::ACK, '.'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'W'),
        ];
        let s: String = LETTERS
            .iter()
            .filter(|(bit, _)| self.has(*bit))
            .map(|(_, c)| *c)
            .collect();
        if s.is_empty() {
            "none".into()
        } else {
            s
        }
    }
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// TSval, TSecr. TSecr is unknown when the option was cut (`[|tcp]`).
    pub timestamp: Option<(u32, Option<u32>)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpSegment {
    pub src_port: u16,
    pub dst_port: u16,
    /// Absent where a printed capture did not show it (tcpdump omits the
    /// sequence number of empty segments without SYN/FIN/RST).
    pub seq: Option<SeqNumber>,
    /// Present exactly when the ACK bit is set.
    pub ack: Option<SeqNumber>,
    pub flags: TcpFlags,
    pub window: Option<u16>,
    pub options: TcpOptions,
    /// Payload length from the IP length, also when the capture cut it.
    pub payload_len: u32,
    /// A digest of the captured payload bytes (0 when none were captured),
    /// to recognise the same segment at two capture points.
    pub payload_digest: u64,
    /// The payload's first bytes, as captured.
    pub head: PayloadHead,
    /// The DNS message a segment to or from port 53 begins (after its
    /// two-byte length).
    pub dns: Option<Box<crate::DnsMessage>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UdpDatagram {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload_len: u32,
    pub payload_digest: u64,
    /// The payload's first bytes, as captured.
    pub head: PayloadHead,
    /// The DNS message it carries (to or from port 53).
    pub dns: Option<Box<crate::DnsMessage>>,
}

/// How many payload bytes a packet carries on: a banner's daemon and
/// version ("220 mx.example.org ESMTP Sendmail 8.17.1"), a request line,
/// a DNS header and question. The same span the digest covers.
pub const HEAD_LEN: usize = 64;

/// The first bytes of a payload (at most [`HEAD_LEN`]), inline: copying
/// them costs about what digesting them does, where a heap copy per data
/// segment would cost an allocation.
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct PayloadHead {
    len: u8,
    bytes: [u8; HEAD_LEN],
}

impl Default for PayloadHead {
    fn default() -> Self {
        PayloadHead {
            len: 0,
            bytes: [0; HEAD_LEN],
        }
    }
}

impl PayloadHead {
    pub fn new(payload: &[u8]) -> Self {
        let n = payload.len().min(HEAD_LEN);
        let mut h = PayloadHead::default();
        h.bytes[..n].copy_from_slice(&payload[..n]);
        h.len = n as u8;
        h
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Its bytes, as many as there are.
impl serde::Serialize for PayloadHead {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_bytes())
    }
}

impl<'de> serde::Deserialize<'de> for PayloadHead {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = PayloadHead;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "at most {HEAD_LEN} bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<PayloadHead, E> {
                if v.len() > HEAD_LEN {
                    return Err(E::invalid_length(v.len(), &self));
                }
                Ok(PayloadHead::new(v))
            }
        }
        d.deserialize_bytes(Bytes)
    }
}

impl std::fmt::Debug for PayloadHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{}\"", self.as_bytes().escape_ascii())
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IcmpKind {
    /// ICMPv4 type 3 / ICMPv6 type 1, with the code.
    Unreachable {
        code: u8,
    },
    /// ICMPv4 type 11 / ICMPv6 type 3.
    TimeExceeded {
        code: u8,
    },
    /// ICMPv6 type 2 / ICMPv4 type 3 code 4.
    PacketTooBig,
    EchoRequest,
    EchoReply,
    Other {
        icmp_type: u8,
        code: u8,
    },
}

impl IcmpKind {
    /// The kind of an ICMP (`v6`: ICMPv6) message of this type and code.
    pub fn from_wire(v6: bool, t: u8, c: u8) -> IcmpKind {
        match (v6, t) {
            (false, 3) if c == 4 => IcmpKind::PacketTooBig,
            (false, 3) | (true, 1) => IcmpKind::Unreachable { code: c },
            (false, 11) | (true, 3) => IcmpKind::TimeExceeded { code: c },
            (true, 2) => IcmpKind::PacketTooBig,
            (false, 8) | (true, 128) => IcmpKind::EchoRequest,
            (false, 0) | (true, 129) => IcmpKind::EchoReply,
            _ => IcmpKind::Other {
                icmp_type: t,
                code: c,
            },
        }
    }

    /// Its type and code on the wire: [`IcmpKind::from_wire`] backwards.
    pub fn wire(self, v6: bool) -> (u8, u8) {
        match (v6, self) {
            (false, IcmpKind::PacketTooBig) => (3, 4),
            (true, IcmpKind::PacketTooBig) => (2, 0),
            (false, IcmpKind::Unreachable { code }) => (3, code),
            (true, IcmpKind::Unreachable { code }) => (1, code),
            (false, IcmpKind::TimeExceeded { code }) => (11, code),
            (true, IcmpKind::TimeExceeded { code }) => (3, code),
            (false, IcmpKind::EchoRequest) => (8, 0),
            (true, IcmpKind::EchoRequest) => (128, 0),
            (false, IcmpKind::EchoReply) => (0, 0),
            (true, IcmpKind::EchoReply) => (129, 0),
            (_, IcmpKind::Other { icmp_type, code }) => (icmp_type, code),
        }
    }

    pub fn is_error(self) -> bool {
        matches!(
            self,
            IcmpKind::Unreachable { .. } | IcmpKind::TimeExceeded { .. } | IcmpKind::PacketTooBig
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpMessage {
    pub v6: bool,
    pub kind: IcmpKind,
    /// The packet an error is about, as far as its quote carries it.
    pub quoted: Option<QuotedHeader>,
}

impl IcmpMessage {
    /// What the message says, the same for ICMPv4 and ICMPv6.
    pub fn reason(&self) -> IcmpReason {
        match (self.v6, self.kind) {
            (false, IcmpKind::Unreachable { code: 3 })
            | (true, IcmpKind::Unreachable { code: 4 }) => IcmpReason::PortUnreachable,
            (false, IcmpKind::Unreachable { code: 1 })
            | (true, IcmpKind::Unreachable { code: 3 }) => IcmpReason::HostUnreachable,
            (false, IcmpKind::Unreachable { code: 0 })
            | (true, IcmpKind::Unreachable { code: 0 }) => IcmpReason::NetUnreachable,
            (false, IcmpKind::Unreachable { code: 2 }) => IcmpReason::ProtocolUnreachable,
            (false, IcmpKind::Unreachable { code: 9 | 10 | 13 })
            | (true, IcmpKind::Unreachable { code: 1 }) => IcmpReason::AdministrativelyProhibited,
            (_, IcmpKind::Unreachable { code }) => IcmpReason::Unreachable { code },
            (_, IcmpKind::TimeExceeded { .. }) => IcmpReason::TimeExceeded,
            (_, IcmpKind::PacketTooBig) => IcmpReason::PacketTooBig,
            (_, IcmpKind::EchoRequest) => IcmpReason::EchoRequest,
            (_, IcmpKind::EchoReply) => IcmpReason::EchoReply,
            (_, IcmpKind::Other { icmp_type, code }) => IcmpReason::Other { icmp_type, code },
        }
    }

    /// Human name of the message, in tcpdump's words.
    pub fn describe(&self) -> String {
        self.reason().say(Lang::En)
    }
}

/// What an ICMP or ICMPv6 message says, typed.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IcmpReason {
    PortUnreachable,
    HostUnreachable,
    NetUnreachable,
    ProtocolUnreachable,
    AdministrativelyProhibited,
    Unreachable { code: u8 },
    TimeExceeded,
    PacketTooBig,
    EchoRequest,
    EchoReply,
    Other { icmp_type: u8, code: u8 },
}

impl IcmpReason {
    pub fn say(self, l: Lang) -> String {
        match self {
            IcmpReason::PortUnreachable => tr!(l, "port unreachable", "端口不可达").into(),
            IcmpReason::HostUnreachable => tr!(l, "host unreachable", "主机不可达").into(),
            IcmpReason::NetUnreachable => tr!(l, "net unreachable", "网络不可达").into(),
            IcmpReason::ProtocolUnreachable => tr!(l, "protocol unreachable", "协议不可达").into(),
            IcmpReason::AdministrativelyProhibited => {
                tr!(l, "administratively prohibited", "被管理策略禁止").into()
            }
            IcmpReason::Unreachable { code } => tr!(
                l,
                format!("unreachable (code {code})"),
                format!("不可达（代码 {code}）")
            ),
            IcmpReason::TimeExceeded => tr!(l, "time exceeded", "超时").into(),
            IcmpReason::PacketTooBig => tr!(l, "packet too big", "包过大").into(),
            IcmpReason::EchoRequest => tr!(l, "echo request", "回显请求").into(),
            IcmpReason::EchoReply => tr!(l, "echo reply", "回显应答").into(),
            IcmpReason::Other { icmp_type, code } => tr!(
                l,
                format!("type {icmp_type} code {code}"),
                format!("类型 {icmp_type} 代码 {code}")
            ),
        }
    }
}

/// The start of the offending packet that an ICMP error quotes: RFC 792
/// promises the IP header and 8 bytes, enough for ports and the sequence
/// number. A printed capture may give only the destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotedHeader {
    pub src: Option<Host>,
    pub dst: Host,
    pub protocol: u8,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub seq: Option<SeqNumber>,
}

pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;

/// FNV-1a over at most the first 64 bytes: enough to tell segments apart
/// when matching across capture points, cheap in the hot path.
pub fn payload_digest(bytes: &[u8]) -> u64 {
    if bytes.is_empty() {
        return 0;
    }
    // Eight bytes a step (a multiply each), not one: every data segment is
    // digested, and a byte-wise FNV over 64 bytes was the decoder's largest
    // cost. The length goes in so that a zero-padded copy differs.
    let head = &bytes[..bytes.len().min(64)];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ head.len() as u64;
    let mut words = head.chunks_exact(8);
    for w in &mut words {
        let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // Zero means "no payload" to the matcher.
    (h ^ (h >> 32)).max(1)
}
