//! The facts of a wait: the lookups the server made meanwhile, what became
//! of them and when it gave up on each, and the parts of its time.

use serde::Serialize;
use stalltrace_decode::{Endpoint, Host, IcmpReason, TimeDelta, Timestamp};

use super::ConversationRef;
use crate::facts::{AppTimer, SynStack};

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
    /// A DNS callback's question (its first query's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<stalltrace_decode::DnsQuestion>,
    /// A reverse (PTR) lookup: the address it reverses, and whether that
    /// is the waiting conversation's client as the server sees it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverses: Option<Reversed>,
}

/// The address a reverse lookup asks the name of.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Reversed {
    pub address: stalltrace_decode::Host,
    pub is_client: bool,
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

/// The request sent again before it reached the server: from its first
/// copy to the copy that got through.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RequestLoss {
    pub first: Timestamp,
    pub passed: Timestamp,
    /// Copies sent in all, when this point counted them.
    pub copies: Option<u32>,
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
    pub request_loss: Option<RequestLoss>,
    /// The round trip from this point to the server and back (its SYN to
    /// the SYN-ACK): the request's way there and the answer's way back,
    /// network time within the wait.
    pub round_trip: Option<TimeDelta>,
    /// The server's own time: the wait less the network's parts.
    pub server_time: TimeDelta,
    /// The lookups the server made meanwhile, in order.
    pub callbacks: Vec<Callback>,
    /// The callback that explains the most of the wait.
    pub main: Option<usize>,
    /// The server's time after the callbacks.
    pub remainder: Option<Remainder>,
    /// No callback seen here.
    pub unseen: Option<Unseen>,
    /// The late answer refused a login ("530", "-ERR", "535"): servers
    /// answer a failed login late on purpose, to slow password guessing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_login: Option<FailedLogin>,
}

/// A failed login's reply, answered late by design (FileZilla Server,
/// vsftpd `delay_failed_login`, Dovecot `auth_failure_delay`, Postfix
/// `smtpd_error_sleep_time`, PAM's `pam_faildelay`).
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FailedLogin {
    /// The reply's code as the server wrote it, where the capture can
    /// read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Encrypted (SSH): the client sent a request of the same size again
    /// right after the late answer, the next try of a refused password.
    pub retried: bool,
}

impl WaitFacts {
    pub fn cause(&self) -> Option<&Callback> {
        self.main.and_then(|i| self.callbacks.get(i))
    }
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
    /// The client's own (its application not reading, not sending).
    Client,
}

/// What a part of a wait was spent on.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "part", rename_all = "snake_case")]
pub enum Part {
    /// The handshake's ACK lost before the server; SYN-ACK re-sent.
    HandshakeLoss,
    /// The request sent again until a copy reached the server.
    RequestLoss,
    /// The request (or the handshake's ACK) on its way to the server: half
    /// the round trip.
    ToServer,
    /// The answer on its way back: the other half.
    FromServer,
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
    /// The server working out its answer, no lookup seen.
    Answering,
    /// Opening the connection: SYNs sent until one was answered.
    Handshake,
    /// IPv6 tried and unanswered before IPv4.
    Ipv6Tried,
    /// A name lookup, from its first query to its answer.
    NameLookup,
    /// A receiver's window shut: its application not reading.
    WindowShut {
        receiver: stalltrace_conversations::Side,
    },
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
