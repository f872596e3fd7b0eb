//! What capture points say about where a conversation's packets went, and
//! its timeline across them.

use serde::Serialize;
use stalltrace_conversations::{Protocol, Side};
use stalltrace_decode::{Endpoint, Host, IcmpReason, TimeDelta, Timestamp};

use super::CallbackKind;

/// What an attempt is, in the words of its protocol.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Attempt {
    Syn,
    Query,
}

impl Attempt {
    pub fn of(p: Protocol) -> Attempt {
        match p {
            Protocol::Tcp => Attempt::Syn,
            Protocol::Udp => Attempt::Query,
        }
    }
}

/// A device between two points that rewrote addresses.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct NatSeen {
    pub inside: Endpoint,
    pub outside: Endpoint,
}

/// What several capture points (or one, placed by TTL) show about where a
/// conversation's packets went.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum PathFact {
    /// The attempts reached one point and not the next: the device
    /// between dropped them.
    Dropped {
        attempts: u64,
        attempt: Attempt,
        reached: String,
        missed: String,
        nat: Option<NatSeen>,
    },
    /// The device between refused the callback itself with a RST from the
    /// address the callback went to.
    RefusedByDevice {
        reached: String,
        missed: String,
        nat: Option<NatSeen>,
        by: Host,
        after: TimeDelta,
    },
    /// The device between refused it with an ICMP error.
    IcmpByDevice {
        reached: String,
        missed: String,
        nat: Option<NatSeen>,
        by: Host,
        reason: IcmpReason,
        after: TimeDelta,
    },
    /// Refused by a RST from another host, before the next point.
    RefusedBefore {
        reached: String,
        missed: String,
        by: Host,
        after: TimeDelta,
    },
    /// Answered at one point, never seen at the next: the device answered.
    AnsweredByDevice {
        reached: String,
        missed: String,
        nat: Option<NatSeen>,
        after: TimeDelta,
    },
    /// The callback reached every point that saw the connection.
    ReachedAll {
        points: Vec<String>,
        /// Devices that forwarded it to another address on the way.
        forwarded: Vec<Forwarded>,
    },
    /// The callback went elsewhere than toward the client (a resolver off
    /// the path between the points): no drop can be read from the points.
    OffPath {
        attempt: Attempt,
        seen_at: Vec<String>,
        to: Endpoint,
    },
    /// The attempts reached the addressee's own network segment (its
    /// packets arrive here unrouted) and nothing answered them: the host
    /// itself discards them.
    AddresseeDiscards {
        point: String,
        addressee: Host,
        attempts: u64,
        attempt: Attempt,
        /// TTL of the addressee's own packets here: unlowered.
        ttl: u8,
    },
    /// Median time between two neighbouring points, each way.
    HopDelay {
        from: String,
        to: String,
        toward_server: TimeDelta,
        toward_client: TimeDelta,
    },
    /// A capture point of the run that saw nothing of this conversation.
    OffThisPath { point: String },
    /// No callback crossed these points during the wait: the cause is
    /// inside the server, or on its side of them.
    RuledOut { points: Vec<String>, server: Host },
    /// Copies of one segment counted at each point: more reached one
    /// point than the next, so the device between lost the rest.
    CopiesLost {
        sender: Side,
        reached: String,
        missed: String,
        /// Copies seen at each of the two points.
        at_reached: u32,
        at_missed: u32,
    },
    /// A RST seen at one point and not at the next toward the side it
    /// claims to come from: the device between sent it.
    RstBetween {
        reached: String,
        missed: String,
        as_side: Side,
    },
}

/// A device between two points that forwarded a callback elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Forwarded {
    pub near: String,
    pub far: String,
    pub from: Endpoint,
    pub to: Endpoint,
}

/// A merged timeline across capture points.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Timeline {
    /// Column names, client side first.
    pub points: Vec<String>,
    /// Each column's clock offset, already applied to its times.
    pub offsets: Vec<TimeDelta>,
    /// Each column's view of the waiting connection: its client and
    /// server as they appear there (NAT rewrites them). None where only
    /// the callback passed.
    pub ends: Vec<Option<ColumnEnds>>,
    pub rows: Vec<TimelineRow>,
}

/// A connection's two ends as one capture point saw them.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ColumnEnds {
    pub client: Endpoint,
    pub server: Endpoint,
}

/// Which conversation a timeline row belongs to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "of", rename_all = "snake_case")]
pub enum Subject {
    /// The conversation that waited.
    Connection,
    /// The server's callback (its client is the waiting server).
    Callback { kind: Option<CallbackKind> },
}

/// Who sent a row's packet, in the subject's terms.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "sender", rename_all = "snake_case")]
pub enum Sender {
    /// The subject's client side (for a callback: the waiting server).
    Client,
    /// The subject's server side (for a callback: the host it called).
    Server,
    /// A host or device that sent an ICMP error about the subject.
    Icmp { from: Host, reason: IcmpReason },
}

/// What a row's packet was.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PacketKind {
    Syn,
    SynAck,
    Rst,
    Fin { bytes: u32 },
    Data { bytes: u32 },
    Ack,
    Icmp,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TimelineRow {
    pub subject: Subject,
    pub sender: Sender,
    pub packet: PacketKind,
    /// The sender sent this packet before.
    pub again: bool,
    /// Per column: when the packet passed there (None: it never did).
    pub times: Vec<Option<Timestamp>>,
    /// Per column: the packet's number in that point's capture.
    pub packets: Vec<Option<u64>>,
    /// Lost past the last point that saw it, on its way to its addressee:
    /// the handshake ACK that passed every point, after which the server
    /// sent its SYN-ACK again (it never had the ACK).
    pub lost: bool,
}

impl TimelineRow {
    /// Which way the packet travels on a ladder drawn client | points |
    /// server: true for client → server.
    pub fn rightward(&self) -> bool {
        match (self.subject, &self.sender) {
            (Subject::Connection, Sender::Client) => true,
            (Subject::Connection, Sender::Server) => false,
            // A callback is opened by the server side: its SYNs go right
            // to left, its replies and errors about it left to right.
            (Subject::Callback { .. }, Sender::Client) => false,
            (Subject::Callback { .. }, Sender::Server) => true,
            (_, Sender::Icmp { .. }) => true,
        }
    }
}
