//! What an evidence packet shows.

use serde::Serialize;
use stalltrace_conversations::{Protocol, Side};
use stalltrace_decode::{Endpoint, Host, IcmpReason, TimeDelta, Timestamp};

use super::CallbackKind;

/// One packet that shows the finding, and what it shows.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Evidence {
    pub point: String,
    /// The packet's number in its capture (line number for text captures).
    pub packet: u64,
    pub time: Timestamp,
    /// `HH:MM:SS.ffffff`, as tcpdump prints it.
    pub time_of_day: String,
    pub shows: Shows,
}

/// What an evidence packet shows.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "packet", rename_all = "snake_case")]
pub enum Shows {
    ClientSyn {
        client: Endpoint,
        server: Endpoint,
    },
    SynAck,
    /// The client's ACK that completed the handshake.
    HandshakeAck {
        /// Said when the point is what matters (the ACK passed here).
        seen_here: bool,
    },
    /// The server sent its SYN-ACK again.
    SynAckAgain {
        /// After the first one.
        after: Option<TimeDelta>,
        /// The first ACK never reached the server.
        ack_lost: bool,
    },
    /// The client acknowledged the SYN-ACK again.
    AckAgain,
    Request {
        client: Endpoint,
        server: Endpoint,
    },
    Greeting {
        service: Option<String>,
        bytes: u32,
    },
    Answer {
        service: Option<String>,
    },
    /// The client closed without a greeting.
    ClientGaveUp,
    /// A callback's first attempt (SYN or query).
    CallbackFirst {
        kind: CallbackKind,
        protocol: Protocol,
        client: Endpoint,
        server: Endpoint,
    },
    /// A callback's attempt sent again.
    CallbackAgain {
        kind: CallbackKind,
        protocol: Protocol,
        after: TimeDelta,
    },
    /// The answer that refused a callback (RST or ICMP).
    Refusal {
        by: Host,
        after: TimeDelta,
        icmp: Option<IcmpReason>,
    },
    /// An ICMP error that did not end the attempt (set aside by the opener).
    IcmpSetAside {
        by: Host,
        reason: IcmpReason,
    },
    /// An unanswered SYN.
    Syn {
        client: Endpoint,
        server: Endpoint,
    },
    /// The client's SYN sent again.
    SynAgain {
        after: TimeDelta,
    },
    /// Data, first sent.
    Data {
        from: Side,
        bytes: u32,
    },
    /// The same data sent again (`copy` counts from 2).
    DataAgain {
        from: Side,
        copy: u32,
        after: TimeDelta,
    },
    /// The peer's ACK that covered data sent again.
    DataAcked {
        by: Side,
        after: TimeDelta,
    },
    /// A side advertised a window of zero.
    ZeroWindow {
        by: Side,
    },
    /// The other side probed the closed window.
    WindowProbe {
        from: Side,
    },
    /// The window opened again.
    WindowOpen {
        by: Side,
        after: TimeDelta,
    },
    /// A small segment, left unacknowledged.
    SmallSegment {
        from: Side,
    },
    /// The peer's ACK, late by its delayed-ACK timer.
    DelayedAck {
        by: Side,
        after: TimeDelta,
    },
    /// The small segment Nagle held, sent at once after that ACK.
    Released {
        from: Side,
    },
    /// The first packet after a long silence.
    AfterIdle {
        from: Side,
        idle: TimeDelta,
    },
    /// A RST in a side's name whose TTL is not that side's.
    ForeignRst {
        as_side: Side,
        ttl: u8,
        side_ttl: u8,
    },
    /// A RST from a side.
    Rst {
        from: Side,
    },
    /// The answer to a SYN that got one.
    SynAckLate {
        after: TimeDelta,
    },
    /// A DNS query sent (a copy, or to another server).
    DnsQuery {
        question: Option<stalltrace_decode::DnsQuestion>,
        server: Endpoint,
        after: TimeDelta,
    },
    /// The DNS answer that ended a lookup.
    DnsResponse {
        by: Endpoint,
        rcode: u8,
        after: TimeDelta,
    },
}
