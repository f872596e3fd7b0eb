//! A finding and the typed facts it carries. Nothing here is a sentence:
//! the report stage words these facts ([`Finding::words`]) in the reader's
//! language, and programs read them from the JSON as they are.

use serde::Serialize;
use stalltrace_conversations::{Conversation, Protocol};
use stalltrace_decode::{Endpoint, Host, IcmpReason, TimeDelta, Timestamp};
use stalltrace_matching::Seen;

use crate::facts::{AppTimer, DaemonSeen, SynStack};
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
}

impl FindingId {
    pub const ALL: &'static [FindingId] = &[
        FindingId::ApplicationWait,
        FindingId::CallbackLookup,
        FindingId::SynAckRetransmitted,
        FindingId::ConnectionUnanswered,
        FindingId::SynFlood,
        FindingId::PortScan,
    ];

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
    /// The daemon the server's banner names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daemon: Option<DaemonSeen>,
}

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
        reason: IcmpReason,
        after: TimeDelta,
    },
    /// The callback was answered.
    Answered { after: TimeDelta },
}

impl Fate {
    /// Small and ordered, for grouping findings.
    pub fn code(&self) -> u8 {
        match self {
            Fate::Unanswered => 0,
            Fate::Refused { .. } => 1,
            Fate::IcmpError { .. } => 2,
            Fate::Answered { .. } => 3,
        }
    }
}

/// What kind of lookup a callback is (see `causes/`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    /// RFC 1413 ident, tcp/113.
    Ident,
    /// A DNS query, most often the reverse lookup of the client.
    Dns,
    Other,
}

/// When a waiter gave up on a callback nothing answered. No packet marks
/// the moment: it lies after the last attempt and no later than the retry
/// the opener's stack would have sent next, had it still been trying, and
/// no later than the end of the wait.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct GiveUp {
    /// The moment taken, from the first attempt: a known timer within the
    /// bounds, else the latest bound.
    pub after: TimeDelta,
    /// The last attempt, from the first.
    pub last_attempt: TimeDelta,
    /// The next retry the matched stack would have sent, had the waiter
    /// still been trying (it never came).
    pub next_retry_due: Option<TimeDelta>,
    /// A known timer fixed the moment.
    pub by_timer: bool,
    /// No stack whose schedule fits gives up then: an application timer.
    pub application_timer: bool,
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
    pub backoff_matches: Vec<&'static SynStack>,
    /// How long the waiter spent on it, from its first attempt.
    pub lasted: TimeDelta,
    /// For an unanswered callback: when the waiter gave up on it.
    pub give_up: Option<GiveUp>,
    /// Programs with a timer of that length.
    pub timer_matches: Vec<&'static AppTimer>,
}

impl Callback {
    pub fn ended(&self) -> Timestamp {
        self.started.saturating_add(self.lasted)
    }
}

/// What kind of wait.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    /// Server-first service: the greeting came late.
    Greeting,
    /// Server-first service: no greeting before the client gave up.
    NoGreeting,
    /// An answer came late after a request.
    Response,
}

/// The handshake's own loss, when the server re-sent its SYN-ACK because
/// the client's first ACK never reached it.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct HandshakeLoss {
    pub resent: Timestamp,
    pub ack: Timestamp,
    pub took: TimeDelta,
}

/// The time after the last callback (or all of the server's time, without
/// one) before the server spoke, and the fixed pauses it fits.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Remainder {
    pub from: Timestamp,
    pub duration: TimeDelta,
    /// Deliberate pauses before a greeting of that length (greet_pause,
    /// postscreen), the daemon seen first.
    pub timer_matches: Vec<&'static AppTimer>,
}

/// No callback was seen during the wait: what this point can still say.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Unseen {
    /// The server's own share: from when it had the connection to when it
    /// spoke.
    pub server_time: TimeDelta,
    /// The client's address is private: a callback would go to the NAT
    /// device's outside address, never shown here.
    pub private_client: bool,
    /// Lookup timers the server's time fits.
    pub timer_matches: Vec<&'static AppTimer>,
}

/// A wait: a greeting or an answer that came late, and where its time went.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct WaitFacts {
    pub kind: WaitKind,
    /// The service by port, and the daemon by banner.
    pub service: Option<String>,
    /// From the client's first SYN to the end of the wait.
    pub since_syn: Option<TimeDelta>,
    /// From the handshake (or request) to the greeting (or answer).
    pub waited: TimeDelta,
    /// Bytes of the greeting.
    pub bytes: u32,
    pub handshake_loss: Option<HandshakeLoss>,
    /// The lookups the server made meanwhile, in order.
    pub callbacks: Vec<Callback>,
    /// The callback that explains the most of the wait.
    pub main: Option<usize>,
    /// The server's time after the callbacks.
    pub remainder: Option<Remainder>,
    /// No callback seen here.
    pub unseen: Option<Unseen>,
}

impl WaitFacts {
    pub fn cause(&self) -> Option<&Callback> {
        self.main.and_then(|i| self.callbacks.get(i))
    }
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
    pub span: TimeDelta,
    pub top_sources: Vec<(Host, u64)>,
    pub top_targets: Vec<(Endpoint, u64)>,
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
}

/// Which kind of time a part of a wait was.
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

/// What a part of a wait was spent on.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "part", rename_all = "snake_case")]
pub enum Part {
    /// The handshake's ACK lost before the server; SYN-ACK re-sent.
    HandshakeLoss,
    /// The server before its first callback.
    ServerBefore,
    /// Waiting on a callback (index into the wait's callbacks).
    Callback {
        index: usize,
        kind: CallbackKind,
        client: Endpoint,
        server: Endpoint,
    },
    /// The server between two callbacks.
    ServerBetween,
    /// The server after its callbacks (a deliberate pause when timers fit).
    ServerAfter {
        timer_matches: Vec<&'static AppTimer>,
    },
    /// The server, for a cause not visible at this point.
    NotVisible,
}

/// A part of a wait, for the time breakdown.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TimeSegment {
    pub kind: SegmentKind,
    pub part: Part,
    pub from: Timestamp,
    pub to: Timestamp,
    pub duration: TimeDelta,
}

impl TimeSegment {
    pub fn new(kind: SegmentKind, part: Part, from: Timestamp, to: Timestamp) -> TimeSegment {
        TimeSegment {
            kind,
            part,
            from,
            to,
            duration: to - from,
        }
    }
}

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
    pub rows: Vec<TimelineRow>,
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
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) cross: Option<Box<CrossFacts>>,
}

impl Finding {
    /// A finding with nothing but its id, severity, point and facts.
    pub(crate) fn new(id: FindingId, severity: Severity, point: String, facts: Facts) -> Finding {
        Finding {
            id,
            severity,
            point,
            cost: None,
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
