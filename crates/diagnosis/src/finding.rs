use serde::Serialize;
use stalltrace_conversations::{Conversation, Protocol};
use stalltrace_decode::{Endpoint, Host, TimeDelta, Timestamp};
use stalltrace_matching::Seen;

use crate::knowledge::{AppTimer, Remedy};

/// Stable identifiers: scripts match on these, so they never change meaning.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
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
}

impl FindingId {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingId::ApplicationWait => "application-wait",
            FindingId::CallbackLookup => "callback-lookup",
            FindingId::SynAckRetransmitted => "syn-ack-retransmitted",
            FindingId::ConnectionUnanswered => "connection-unanswered",
            FindingId::SynFlood => "syn-flood",
            FindingId::PortScan => "port-scan",
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
}

/// One packet that shows the finding.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Evidence {
    pub point: String,
    /// The packet's number in its capture (line number for text captures).
    pub packet: u64,
    pub time: Timestamp,
    /// `HH:MM:SS.ffffff`, as tcpdump prints it.
    pub time_of_day: String,
    pub what: String,
}

/// What became of a callback at the capture point.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fate {
    /// Nothing came back here: dropped further on, or discarded silently
    /// by the addressee.
    Unanswered,
    /// A RST came back.
    Refused { by: Host, after: TimeDelta },
    /// An ICMP error came back.
    IcmpError {
        by: Host,
        description: String,
        after: TimeDelta,
    },
    /// The callback was answered.
    Answered { after: TimeDelta },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    /// RFC 1413 ident, tcp/113.
    Ident,
    /// A DNS query, most often the reverse lookup of the client.
    Dns,
    Other,
}

/// A connection the waiting host opened while the other side waited.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Callback {
    pub kind: CallbackKind,
    pub conversation: ConversationRef,
    pub started: Timestamp,
    pub fate: Fate,
    /// Offsets of each attempt (SYN, or query) from the first.
    pub attempts: Vec<TimeDelta>,
    /// Stacks whose SYN retransmission schedule fits the attempts.
    pub backoff_matches: Vec<String>,
    /// For an unanswered callback: the time from its first attempt to the
    /// end of the wait, when the waiting program gave up on it.
    pub give_up: Option<TimeDelta>,
    /// Programs with a timer of that length.
    pub timer_matches: Vec<AppTimer>,
    /// True when the give-up time is no stack's give-up: an application timer.
    pub give_up_is_application_timer: bool,
}

/// A part of a wait, for the time breakdown.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TimeSegment {
    pub kind: SegmentKind,
    pub label: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub duration: TimeDelta,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// Packets lost or in flight.
    Network,
    /// The server working (or idle) on its own.
    Server,
    /// The server waiting on another host.
    Dependency,
}

/// A diagnosis: what was slow, how long, why, what to change.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub id: FindingId,
    pub severity: Severity,
    pub point: String,
    /// One sentence.
    pub summary: String,
    /// The time it cost the user, when it cost any.
    pub cost: Option<TimeDelta>,
    pub conversation: Option<ConversationRef>,
    /// The named cause, when one is visible at this point.
    pub cause: Option<Callback>,
    /// Further sentences: reasoning, what is not visible, where to look.
    pub details: Vec<String>,
    pub evidence: Vec<Evidence>,
    pub remedies: Vec<Remedy>,
    /// Where the time of a wait went, in order.
    pub breakdown: Vec<TimeSegment>,
    /// Other capture points that saw the same conversation and wait.
    pub also_seen_at: Vec<String>,
    /// What the capture points together say about where packets went.
    pub path: Vec<String>,
    /// The conversation (and its callback) packet by packet, one column per
    /// capture point, on the reference point's clock.
    pub timeline: Option<Timeline>,
    /// The same finding about other conversations (same rule, point,
    /// server, cause and fate; a cost within a tenth), told here once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Repeats>,
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) facts: Option<Box<CrossFacts>>,
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

impl Finding {
    /// The fields a rule may leave empty. Every rule sets `id`, `severity`,
    /// `point` and `summary` itself; those here are placeholders only.
    pub(crate) fn empty() -> Finding {
        Finding {
            id: FindingId::ApplicationWait,
            severity: Severity::Info,
            point: String::new(),
            summary: String::new(),
            cost: None,
            conversation: None,
            cause: None,
            details: Vec::new(),
            evidence: Vec::new(),
            remedies: Vec::new(),
            breakdown: Vec::new(),
            also_seen_at: Vec::new(),
            path: Vec::new(),
            timeline: None,
            repeats: None,
            facts: None,
        }
    }
}

/// A merged timeline across capture points.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Timeline {
    /// Column names, client side first.
    pub points: Vec<String>,
    /// Each column's clock offset, already applied to its times.
    pub offsets: Vec<TimeDelta>,
    pub rows: Vec<TimelineRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TimelineRow {
    pub what: String,
    /// Per column: when the packet passed there (None: it never did).
    pub times: Vec<Option<Timestamp>>,
    /// Per column: the packet's number in that point's capture.
    pub packets: Vec<Option<u64>>,
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
