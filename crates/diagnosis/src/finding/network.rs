//! The typed facts of the network rules: data sent again, a closed
//! window, small segments held for a delayed ACK, full-size segments lost
//! in a black hole, a handshake retried, an idle connection forgotten by
//! a middlebox, IPv6 given up for IPv4, a connection refused.

use serde::Serialize;
use stalltrace_conversations::Side;
use stalltrace_decode::{Endpoint, Host, IcmpReason, TimeDelta};

use crate::facts::{DelayedAck, IdleTimeout, RtoFloor, SynStack};

/// Data one side sent again before the other acknowledged it.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct LossFacts {
    /// The side that sent it again.
    pub sender: Side,
    pub from: Endpoint,
    pub to: Endpoint,
    /// Segments sent again, and the time they cost in all.
    pub episodes: u32,
    pub lost: TimeDelta,
    /// The costliest: its copies, the gaps between them, its size.
    pub copies: u32,
    /// The gaps between the first copies kept (up to eight).
    pub gaps: Vec<TimeDelta>,
    /// From its first copy to its last, all copies counted.
    pub span: TimeDelta,
    pub bytes: u32,
    /// It was the last segment sent before the wait (tail loss: no later
    /// segment could bring duplicate ACKs, only the timer resends it).
    pub tail: bool,
    pub dupacks: u32,
    /// The peer acknowledged it in the end.
    pub acknowledged: bool,
    /// It was a request the server answered after the copy that got
    /// through: the server's own time from that copy to its answer, less
    /// the round trip.
    pub server_time: Option<TimeDelta>,
    /// Minimum RTOs the first timer-driven resend fits (the sender's stack).
    pub rto: Vec<&'static RtoFloor>,
    /// The first resend came sooner than any RTO: a tail-loss probe
    /// (Linux RACK-TLP, about two round trips), the timer's after it.
    pub probed: bool,
    /// The round trip here (SYN to SYN-ACK).
    pub round_trip: Option<TimeDelta>,
}

/// A receiver that advertised a window of zero.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ZeroWindowFacts {
    /// The side whose window closed: its application stopped reading.
    pub receiver: Side,
    pub stalled: Endpoint,
    pub sender: Endpoint,
    pub episodes: u32,
    /// Time shut in all, and the longest stretch.
    pub total: TimeDelta,
    pub longest: TimeDelta,
    /// Zero-window probes the sender sent in the longest, and their gaps.
    pub probes: u32,
    pub probe_gaps: Vec<TimeDelta>,
    /// The window opened again before the capture (or conversation) ended.
    pub reopened: bool,
}

/// Small segments held until the peer's delayed ACK.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct NagleFacts {
    /// The side whose segments were held: where TCP_NODELAY belongs.
    pub sender: Side,
    pub holder: Endpoint,
    pub acker: Endpoint,
    pub events: u32,
    pub total: TimeDelta,
    /// The median hold.
    pub typical: TimeDelta,
    /// Delayed-ACK timers the typical hold fits (the acker's stack).
    pub delayed_ack: Vec<&'static DelayedAck>,
}

/// Full-size segments that never got through while small ones did.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PmtuFacts {
    pub sender: Side,
    pub from: Endpoint,
    pub to: Endpoint,
    /// Payload bytes of the segment lost, and of the largest one the
    /// peer acknowledged.
    pub bytes: u32,
    pub largest_acknowledged: u32,
    /// The MSS each end announced.
    pub mss: [Option<u16>; 2],
    pub copies: u32,
    /// From its first copy to its last.
    pub span: TimeDelta,
    pub gaps: Vec<TimeDelta>,
    pub ipv6: bool,
    /// An ICMP "fragmentation needed" / "packet too big" passed this
    /// point: it was lost between here and the sender.
    pub icmp_seen: bool,
}

/// How a retried handshake shows the listener's queue was full.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "sign", rename_all = "snake_case")]
pub enum QueueSign {
    /// SYNs reached the server's own link and went unanswered.
    SynsIgnoredAtServer { ignored: u32 },
    /// The client's ACK reached the server's own link and the server sent
    /// its SYN-ACK again: the ACK was dropped, not lost.
    AckIgnoredAtServer,
    /// Other handshakes to the same service were also retried while the
    /// server answered others at once.
    Crowd { retried: u32, answered: u64 },
}

/// A connection that opened only after SYNs (or the ACK) were sent again.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct HandshakeFacts {
    pub client: Endpoint,
    pub server: Endpoint,
    pub syns: u32,
    /// Offsets of the SYNs from the first.
    pub attempts: Vec<TimeDelta>,
    /// From the first SYN to the SYN-ACK that was answered.
    pub took: TimeDelta,
    /// SYN-ACKs the server sent other clients meanwhile, at this point.
    pub others_answered: u64,
    /// The client's SYN schedule.
    pub backoff: Vec<&'static SynStack>,
    /// Why the queue is to blame, when the capture shows it.
    pub queue: Option<QueueSign>,
}

/// What ended an idle connection.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum IdleEnd {
    /// A RST in the peer's name that the peer did not send: its TTL is
    /// not the peer's.
    DeviceReset { ttl: u8, peer_ttl: u8 },
    /// The first data after the gap was sent again and never acknowledged.
    Silence { copies: u32, span: TimeDelta },
}

/// A connection a middlebox forgot while it was idle.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct IdleFacts {
    /// The side that spoke first after the gap.
    pub speaker: Side,
    pub client: Endpoint,
    pub server: Endpoint,
    pub idle: TimeDelta,
    /// The longest gap before it that the connection survived.
    pub survived: Option<TimeDelta>,
    pub end: IdleEnd,
    /// Known device timeouts between the two.
    pub timeouts: Vec<&'static IdleTimeout>,
}

/// IPv6 tried, unanswered, then IPv4.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FallbackFacts {
    pub client6: Endpoint,
    pub server6: Endpoint,
    pub client4: Endpoint,
    pub server4: Endpoint,
    pub syns6: u32,
    /// From the first IPv6 SYN to the first IPv4 SYN.
    pub delay: TimeDelta,
    /// IPv4 began while IPv6 was still being tried (Happy Eyeballs).
    pub raced: bool,
    /// The IPv6 SYN schedule.
    pub backoff: Vec<&'static SynStack>,
    /// Both conversations came from the same link-layer address.
    pub same_link_address: bool,
}

/// Who refused a connection.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Refuser {
    /// The server host itself (its RST carries the TTL its other packets do).
    Host,
    /// A device in its name: the TTL differs from the host's.
    Device { ttl: u8, host_ttl: u8 },
    /// An ICMP error from another address.
    Icmp { from: Host, reason: IcmpReason },
    /// This point cannot tell.
    Unknown,
}

/// Connection attempts refused.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RefusedFacts {
    pub client: Endpoint,
    pub server: Endpoint,
    pub attempts: u64,
    pub refuser: Refuser,
    /// From the first SYN to the last refusal.
    pub took: TimeDelta,
    /// SYNs sent in all (some stacks retry after a RST).
    pub syns: u64,
}
