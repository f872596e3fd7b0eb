use serde::Serialize;
use stalltrace_decode::{
    Endpoint, Host, IcmpReason, PayloadHead, SeqNumber, TcpOptions, TimeDelta, Timestamp,
};

/// A packet as evidence: its number in its capture and its time.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct PacketRef {
    pub number: u64,
    pub ts: Timestamp,
}

#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn index(self) -> usize {
        self as usize
    }
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Tcp,
    Udp,
}

#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Both sides sent FIN.
    Fin,
    Rst,
    /// Quiet for longer than the idle timeout.
    Idle,
    /// Still open when the capture ended.
    EndOfCapture,
    /// Closed early to stay within the conversation cap.
    Evicted,
}

/// A payload-carrying packet.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Payload {
    pub packet: PacketRef,
    pub len: u32,
}

/// One side answered the other after a pause: `request` is the last payload
/// of the other side before `response`.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Turn {
    pub responder: Side,
    pub request: PacketRef,
    /// The last copy of the request, when it had to be sent again.
    pub request_copy: Option<PacketRef>,
    pub response: PacketRef,
    /// The response's first bytes (a reply code: "530", "-ERR").
    pub response_start: [u8; 8],
    /// The request's first bytes (a TLS record's type and version).
    pub request_start: [u8; 4],
    /// The request's length, and how many payload segments its sender
    /// had sent by then (it included): where in the dialogue it came.
    pub request_len: u32,
    pub nth_request: u32,
    /// How long the requester took after the responder's previous data:
    /// a person reads and types in seconds, a program in milliseconds.
    pub think: Option<TimeDelta>,
    /// The requester's next segment after the answer had the request's
    /// length: the same request again (an encrypted login tried anew).
    pub retried: bool,
    /// The answer's first segment had the length of an earlier answer's
    /// first segment from the same side: the same message again (an
    /// encrypted "login refused" like the one before).
    pub repeated_answer: bool,
}

impl Turn {
    pub fn wait(&self) -> TimeDelta {
        self.response.ts - self.request.ts
    }
}

/// An ICMP error about this conversation's packets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct IcmpError {
    pub packet: PacketRef,
    /// Who sent the error (the host itself, or a router or firewall).
    pub from: Host,
    pub reason: IcmpReason,
    /// The side whose packet the error answers.
    pub about: Side,
}

/// One packet of a conversation, as much as matching it at another capture
/// point and drawing it on a timeline need.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct PacketBrief {
    pub packet: PacketRef,
    pub from: Side,
    /// TCP flag bits (0 for UDP).
    pub flags: u8,
    /// TCP sequence and acknowledgment numbers, relative to the ISNs.
    pub rel_seq: Option<u32>,
    pub rel_ack: Option<u32>,
    pub len: u32,
    pub ip_id: Option<u16>,
    pub ttl: Option<u8>,
    pub digest: u64,
}

/// Everything a diagnosis needs about one conversation at one capture point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Conversation {
    /// Order of first appearance at this point, from 1.
    pub id: u64,
    /// Index of the capture point.
    pub point: u32,
    pub protocol: Protocol,
    /// The side that opened it (sent the SYN, or the first datagram).
    pub client: Endpoint,
    pub server: Endpoint,
    /// True when the opening was seen, so client and server are certain.
    pub saw_open: bool,
    /// The VLAN ids it was seen on (outer low 16 bits, inner above; 0
    /// untagged).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub vlan: u32,
    /// The tunnel its first packet came through: outer addresses as that
    /// packet went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<stalltrace_decode::Tunnel>,
    pub first: PacketRef,
    pub last: PacketRef,
    /// The opening attempts (at most [`MAX_LISTED`]): for TCP the client's
    /// SYN and its retransmissions; for UDP the client's datagrams sent
    /// before the first answer (a query and its retries).
    pub syns: Vec<PacketRef>,
    pub syn_count: u32,
    pub client_isn: Option<SeqNumber>,
    pub server_isn: Option<SeqNumber>,
    /// TCP options of the first SYN: part of the opener's fingerprint.
    #[serde(skip)]
    pub syn_options: TcpOptions,
    pub syn_ttl: Option<u8>,
    pub syn_acks: Vec<PacketRef>,
    pub syn_ack_count: u32,
    /// The client's first ACK after each SYN-ACK transmission: the first
    /// completed the handshake at this point; a later one answers a
    /// re-sent SYN-ACK.
    pub handshake_acks: Vec<PacketRef>,
    /// Indexed by [`Side::index`].
    pub first_payload: [Option<Payload>; 2],
    /// The first bytes of each side's first payload: the server's banner
    /// ("220 mx ESMTP Sendmail 8.17.1"), the client's request line. Empty
    /// where the capture holds no payload bytes (printed captures).
    #[serde(skip)]
    #[schemars(skip)]
    pub first_head: [PayloadHead; 2],
    pub last_payload: [Option<Payload>; 2],
    pub packets: [u64; 2],
    pub payload_bytes: [u64; 2],
    pub retransmissions: [u32; 2],
    /// The longest silence in either direction: the packets before and
    /// after it.
    pub longest_gap: Option<(PacketRef, PacketRef)>,
    /// The longest pauses before a side answered, longest first.
    pub longest_turns: Vec<Turn>,
    pub rst: Option<(Side, PacketRef)>,
    /// The TTL of the RST, to tell the peer's from a middlebox's.
    pub rst_ttl: Option<u8>,
    /// The TTL (hop limit) of each side's first packet here.
    pub ttl: [Option<u8>; 2],
    /// The link-layer address the client's first packet came from.
    pub client_link: Option<[u8; 6]>,
    pub fins: [Option<PacketRef>; 2],
    pub icmp_errors: Vec<IcmpError>,
    pub end: EndReason,
    /// The first packets (at most [`MAX_LOGGED`]), for matching across
    /// capture points and for timelines.
    pub log: Vec<PacketBrief>,
    /// The opener was the server of another live conversation at this point
    /// when it opened this one: this may be a callback (ident, DNS, ...).
    pub opened_while_serving: bool,
    /// Conversations the server host opened while it served this one (from
    /// its first answer on).
    pub server_opened_meanwhile: u64,
    /// Connections the server opened before it first sent data here that
    /// can be a lookup about this conversation: to its client's host
    /// (ident, or any callback) or, while serving it, to a DNS port. Only
    /// these make a fast greeting worth judging, which on a busy server
    /// (every session overlapping some other session's lookup) keeps the
    /// diagnosis from holding every conversation until it can be judged.
    pub server_lookups_meanwhile: u64,
    /// SYN-ACKs its server host sent to other conversations between this
    /// one's first resent SYN and its own SYN-ACK (or its end): a server
    /// that answers others but not this client.
    pub others_answered_meanwhile: u64,
    /// What the network rules measure packet by packet.
    pub signals: crate::signals::Signals,
    /// Its DNS queries and their answers (a conversation with port 53).
    pub dns: Option<Box<crate::dns::DnsLog>>,
}

/// Lists of evidence packets keep this many; counts go on.
pub const MAX_LISTED: usize = 16;
/// Packets logged per conversation.
pub const MAX_LOGGED: usize = 32;
/// The server's slowest answers kept per conversation.
pub const MAX_TURNS: usize = 6;

impl Conversation {
    pub fn endpoint(&self, side: Side) -> &Endpoint {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    /// When the opener could first send data: its handshake ACK, or the
    /// SYN-ACK if that ACK was not seen.
    pub fn established(&self) -> Option<PacketRef> {
        self.handshake_ack()
            .or_else(|| self.syn_acks.first().copied())
    }

    pub fn handshake_ack(&self) -> Option<PacketRef> {
        self.handshake_acks.first().copied()
    }

    /// The responder never answered the opening at this point.
    pub fn unanswered(&self) -> bool {
        match self.protocol {
            Protocol::Tcp => {
                self.syn_count > 0
                    && self.syn_ack_count == 0
                    && self.packets[Side::Server.index()] == 0
            }
            Protocol::Udp => self.packets[Side::Server.index()] == 0,
        }
    }

    /// Who refused the opening with a RST, and when.
    pub fn refused(&self) -> Option<PacketRef> {
        match self.rst {
            Some((Side::Server, r)) if self.syn_ack_count == 0 => Some(r),
            _ => None,
        }
    }
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}
