//! A finding and the typed facts it carries. Nothing here is a sentence:
//! the report stage words these facts ([`Finding::words`]) in the reader's
//! language, and programs read them from the JSON as they are.
//!
//! `wait.rs` holds the facts of a wait (its lookups, their fates and
//! timers, the parts of its time), `path.rs` what capture points say
//! (path verdicts, the merged timeline), `evidence.rs` what a packet shows.

mod dns;
mod evidence;
mod network;
mod path;
mod wait;

pub use dns::*;
pub use evidence::*;
pub use network::*;
pub use path::*;
pub use wait::*;

use serde::Serialize;
use stalltrace_conversations::{Conversation, Protocol};
use stalltrace_decode::{Endpoint, Host, TimeDelta, Timestamp};
use stalltrace_matching::Seen;

use crate::facts::DaemonSeen;
use crate::remedy::Remedy;

/// Stable identifiers: scripts match on these, so they never change
/// meaning. Each has exactly one rule that emits it (see `rules/mod.rs`).
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum FindingId {
    /// A server-first service greeted long after the handshake, or a server
    /// answered a request long after it.
    ApplicationWait,
    /// A callback (ident, DNS, other) during a conversation that did not
    /// stall it, reported for information.
    CallbackLookup,
    /// The server re-sent its SYN-ACK although the client's ACK had passed
    /// this capture point.
    SynAckRetransmitted,
    /// Connection attempts that nobody answered at this point.
    ConnectionUnanswered,
    /// Many unanswered SYNs from many sources to few targets.
    SynFlood,
    /// Many unanswered SYNs from few sources to many ports.
    PortScan,
    /// Connection attempts refused (RST or ICMP), by the host or a device.
    ConnectionRefused,
    /// Data sent again before it got through: network time.
    Retransmission,
    /// A receiver's window closed: its application stopped reading.
    ZeroWindow,
    /// Small segments held by Nagle's algorithm for the peer's delayed ACK.
    NagleDelayedAck,
    /// Full-size segments lost while small ones pass, no ICMP about it.
    PmtuBlackHole,
    /// A connection that opened only after its SYN was sent again.
    SynRetransmitted,
    /// Handshakes dropped because the listener's queue was full.
    ListenQueueOverflow,
    /// An idle connection forgotten by a middlebox.
    IdleTimeout,
    /// IPv6 tried and unanswered, then IPv4.
    Ipv6Fallback,
    /// A name lookup answered late.
    DnsSlow,
    /// A name lookup no name server answered.
    DnsUnanswered,
    /// A and AAAA sent together on one socket, one lost: the conntrack race.
    DnsAaaaRace,
}

impl FindingId {
    pub const ALL: &'static [FindingId] = &[
        FindingId::ApplicationWait,
        FindingId::CallbackLookup,
        FindingId::SynAckRetransmitted,
        FindingId::ConnectionUnanswered,
        FindingId::SynFlood,
        FindingId::PortScan,
        FindingId::ConnectionRefused,
        FindingId::Retransmission,
        FindingId::ZeroWindow,
        FindingId::NagleDelayedAck,
        FindingId::PmtuBlackHole,
        FindingId::SynRetransmitted,
        FindingId::ListenQueueOverflow,
        FindingId::IdleTimeout,
        FindingId::Ipv6Fallback,
        FindingId::DnsSlow,
        FindingId::DnsUnanswered,
        FindingId::DnsAaaaRace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingId::ApplicationWait => "application-wait",
            FindingId::CallbackLookup => "callback-lookup",
            FindingId::SynAckRetransmitted => "syn-ack-retransmitted",
            FindingId::ConnectionUnanswered => "connection-unanswered",
            FindingId::SynFlood => "syn-flood",
            FindingId::PortScan => "port-scan",
            FindingId::ConnectionRefused => "connection-refused",
            FindingId::Retransmission => "retransmission",
            FindingId::ZeroWindow => "zero-window",
            FindingId::NagleDelayedAck => "nagle-delayed-ack",
            FindingId::PmtuBlackHole => "pmtu-black-hole",
            FindingId::SynRetransmitted => "syn-retransmitted",
            FindingId::ListenQueueOverflow => "listen-queue-overflow",
            FindingId::IdleTimeout => "idle-timeout",
            FindingId::Ipv6Fallback => "ipv6-fallback",
            FindingId::DnsSlow => "dns-slow",
            FindingId::DnsUnanswered => "dns-unanswered",
            FindingId::DnsAaaaRace => "dns-aaaa-race",
        }
    }
}

#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// A conversation named in a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ConversationRef {
    pub point: String,
    pub protocol: Protocol,
    pub client: Endpoint,
    pub server: Endpoint,
    /// "POP3", "ident", ... by the server's port.
    pub service: Option<String>,
    /// The daemon the server's banner names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daemon: Option<DaemonSeen>,
    /// The VLAN ids it was seen on (outer low 16 bits, inner above).
    #[serde(skip_serializing_if = "is_zero")]
    pub vlan: u32,
    /// The tunnel it came through: its kind, outer addresses, id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<stalltrace_decode::Tunnel>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// The server re-sent its SYN-ACK after the client's ACK passed.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SynAckFacts {
    pub server: Endpoint,
    pub after_first: TimeDelta,
    pub after_ack: TimeDelta,
    /// With several points: every point the ACK passed, and the last of
    /// them toward the server.
    pub passed: Vec<String>,
    pub last_passed: Option<String>,
}

/// SYNs nobody answered.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UnansweredFacts {
    pub client: Endpoint,
    pub server: Endpoint,
    /// Connection attempts (several client ports count several).
    pub attempts: u64,
    pub syns: u64,
    pub span: TimeDelta,
    /// The client's SYN schedule, and when its connect() gives up.
    pub backoff: Vec<&'static crate::facts::SynStack>,
    pub connect_timeout: Option<TimeDelta>,
}

/// A SYN flood or a port scan, counted.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StormFacts {
    pub attempts: u64,
    pub syns: u64,
    /// Distinct sources, exactly up to a cap.
    pub sources: u64,
    pub sources_capped: bool,
    pub ports: u64,
    /// Distinct target hosts, exactly up to a cap.
    pub hosts: u64,
    pub span: TimeDelta,
    pub top_sources: Vec<(Host, u64)>,
    pub top_targets: Vec<(Endpoint, u64)>,
    /// The attempts were refused (RST or ICMP), not left unanswered.
    pub refused: bool,
    /// Of a scan's attempts, those refused (the rest went unanswered).
    pub refused_attempts: u64,
}

/// The typed facts of a finding, one shape per rule.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Facts {
    Wait(Box<WaitFacts>),
    SynAck(SynAckFacts),
    Unanswered(UnansweredFacts),
    /// Unanswered attempts past the listing cap.
    UnansweredOverflow {
        count: u64,
    },
    Storm(StormFacts),
    Loss(LossFacts),
    ZeroWindow(ZeroWindowFacts),
    Nagle(NagleFacts),
    Pmtu(PmtuFacts),
    Handshake(HandshakeFacts),
    Idle(IdleFacts),
    Fallback(FallbackFacts),
    Refused(RefusedFacts),
    DnsLookup(DnsLookupFacts),
    DnsRace(DnsRaceFacts),
}

/// How often a finding happened, and to whom.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Repeats {
    /// Occurrences in all, this finding's own included.
    pub count: u64,
    /// The time they cost, added up.
    pub total_cost: TimeDelta,
    /// The others, first first (at most [`crate::MAX_REPEATS_LISTED`]).
    pub others: Vec<Occurrence>,
    /// The others past that many: counted, not listed.
    pub others_not_listed: u64,
}

/// One more conversation a finding is about.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Occurrence {
    pub client: Option<Endpoint>,
    /// Its first evidence packet: number, time.
    pub packet: u64,
    pub time: Timestamp,
    pub time_of_day: String,
    pub cost: Option<TimeDelta>,
}

/// A diagnosis: what was slow, how long, why, what to change.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub id: FindingId,
    pub severity: Severity,
    pub point: String,
    /// The time it cost the user, when it cost any.
    pub cost: Option<TimeDelta>,
    pub conversation: Option<ConversationRef>,
    /// What the rule found, typed.
    pub facts: Facts,
    pub evidence: Vec<Evidence>,
    pub remedies: Vec<Remedy>,
    /// Where the time of a wait went, in order.
    pub breakdown: Vec<TimeSegment>,
    /// Other capture points that saw the same conversation and wait.
    pub also_seen_at: Vec<String>,
    /// What the capture points say about where packets went.
    pub path: Vec<PathFact>,
    /// The conversation (and its callback) packet by packet, one column per
    /// capture point, on the reference point's clock.
    pub timeline: Option<Timeline>,
    /// The same finding about other conversations (same rule, point,
    /// server, cause and fate; a cost within a tenth), told here once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Repeats>,
    /// A Wireshark display filter for its packets at its point: the
    /// conversation (Wireshark's own conversation filter), and the
    /// callback that explains it. None where the capture masked an address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wireshark_filter: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) cross: Option<Box<CrossFacts>>,
}

/// Wireshark's conversation filter for one conversation.
fn conversation_filter(c: &ConversationRef) -> Option<String> {
    let addr = |h: &stalltrace_decode::Host| match h {
        stalltrace_decode::Host::V4(a) => Some(format!("ip.addr=={a}")),
        stalltrace_decode::Host::V6(a) => Some(format!("ipv6.addr=={a}")),
        stalltrace_decode::Host::Named(_) => None,
    };
    let port = match c.protocol {
        stalltrace_conversations::Protocol::Tcp => "tcp.port",
        stalltrace_conversations::Protocol::Udp => "udp.port",
    };
    Some(format!(
        "{} && {port}=={} && {} && {port}=={}",
        addr(&c.client.host)?,
        c.client.port,
        addr(&c.server.host)?,
        c.server.port
    ))
}

impl Finding {
    /// The display filter of its conversation and of the callback that
    /// explains it, as `Finding::wireshark_filter` holds it.
    pub(crate) fn display_filter(&self) -> Option<String> {
        let subject = conversation_filter(self.conversation.as_ref()?)?;
        match self
            .cause()
            .and_then(|cb| conversation_filter(&cb.conversation))
        {
            Some(cb) => Some(format!("({subject}) || ({cb})")),
            None => Some(subject),
        }
    }

    /// A finding with nothing but its id, severity, point and facts.
    pub(crate) fn new(id: FindingId, severity: Severity, point: String, facts: Facts) -> Finding {
        Finding {
            id,
            severity,
            point,
            cost: None,
            wireshark_filter: None,
            conversation: None,
            facts,
            evidence: Vec::new(),
            remedies: Vec::new(),
            breakdown: Vec::new(),
            also_seen_at: Vec::new(),
            path: Vec::new(),
            timeline: None,
            repeats: None,
            cross: None,
        }
    }

    /// The wait's facts, for the rules that find waits.
    pub fn wait(&self) -> Option<&WaitFacts> {
        match &self.facts {
            Facts::Wait(w) => Some(w),
            _ => None,
        }
    }

    /// The loss's facts, for the retransmission rule.
    pub fn loss(&self) -> Option<&LossFacts> {
        match &self.facts {
            Facts::Loss(x) => Some(x),
            _ => None,
        }
    }

    /// The callback that explains the wait, when one does.
    pub fn cause(&self) -> Option<&Callback> {
        self.wait().and_then(|w| w.cause())
    }
}

/// What the diagnosis knew when it judged, for merging across points.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CrossFacts {
    pub subject: Conversation,
    /// The subject connection at other points.
    pub subject_elsewhere: Vec<Seen>,
    pub callback: Option<Conversation>,
    pub callback_elsewhere: Vec<Seen>,
}

impl CrossFacts {
    /// A finding about one conversation and no callback: where else it
    /// was seen is filled in at the end (`Diagnoser::flush`).
    pub(crate) fn of(c: &Conversation) -> Box<CrossFacts> {
        Box::new(CrossFacts {
            subject: c.clone(),
            subject_elsewhere: Vec::new(),
            callback: None,
            callback_elsewhere: Vec::new(),
        })
    }
}
