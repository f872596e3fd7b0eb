//! What an evidence packet shows.

use serde::Serialize;
use stalltrace_conversations::Protocol;
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
}
