//! What a host does across its conversations, kept apart from the
//! conversations themselves so that packet tracking can be split.
//!
//! A [`crate::Tracker`] follows each conversation on its own: its handshake,
//! turns, signals, packet log. A few facts span conversations of one host
//! and cannot be seen from one conversation: whether the server of a
//! conversation opened others while it served it (callbacks: ident, DNS),
//! whether a server answered others while one client kept resending its
//! SYN, which conversations a host serves or opened while serving (what
//! the diagnosis asks through [`LiveView`]). The tracker reports the few
//! moments that matter to these facts as [`HostEvent`]s; the
//! [`HostLedger`] keeps the hosts' counts and, when a conversation ends,
//! gives its [`HostFacts`].
//!
//! Events are ordered by [`HostEvent::order`]: a conversation that ends
//! because time passed its deadline ends before any packet at or after
//! that deadline, as a single tracker ends it before it reads that packet.
//! Events of one packet keep the order they were made in. So trackers that
//! each saw a part of a point's packets (split by [`crate::partition`])
//! give, merged and sorted, the very events one tracker gives, and the
//! ledger the very facts.

use std::collections::{BTreeSet, HashMap};

use stalltrace_decode::{Host, Timestamp};

use crate::feedback::LiveView;

type Hasher = foldhash::fast::RandomState;

/// DNS: a lookup to any host may be about any conversation.
const DNS_PORT: u16 = 53;

/// When an event happened, as far as the order of events goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Moment {
    /// A deadline passed (idle, or the linger after a close): before any
    /// packet whose time reached it.
    Due(Timestamp),
    /// While reading a packet: the point's clock then (the latest time it
    /// had seen) and the packet's place in the stream.
    Packet { now: Timestamp, seq: u64 },
    /// The capture ended.
    End,
}

impl Moment {
    fn key(self) -> (Timestamp, u8, u64) {
        match self {
            Moment::Due(at) => (at, 0, 0),
            Moment::Packet { now, seq } => (now, 1, seq),
            Moment::End => (Timestamp::from_nanos(i64::MAX), 2, 0),
        }
    }
}

/// One moment in a conversation's life that a host's counts depend on.
/// `conv` is the tracker's provisional id: the place in the stream of the
/// conversation's first packet.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostEvent {
    pub at: Moment,
    pub conv: u64,
    pub kind: HostEventKind,
}

impl HostEvent {
    /// The order events are applied in; sort stably by it.
    pub fn order(&self) -> (Timestamp, u8, u64) {
        self.at.key()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HostEventKind {
    /// A conversation began: `client` opened it to `server` at `ts`.
    /// `discovery`: to a group or a broadcast name service, answered by
    /// anyone: no callback.
    Start {
        client: Host,
        server: Host,
        server_port: u16,
        discovery: bool,
        ts: Timestamp,
    },
    /// The server answered (a SYN-ACK, a datagram, data); `with_data`
    /// when it sent data, which settles the lookups it made before.
    Answered { with_data: bool },
    /// The client sent its SYN a second time, unanswered.
    Resent,
    /// The server's first SYN-ACK.
    SynAck,
    /// The conversation ended.
    End,
}

/// A conversation's facts that span its hosts' other conversations, and
/// its id at its capture point.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    pub id: u64,
    pub opened_while_serving: bool,
    pub server_opened_meanwhile: u64,
    pub server_lookups_meanwhile: u64,
    pub others_answered_meanwhile: u64,
}

impl HostFacts {
    /// Writes them into the conversation.
    pub fn apply(&self, c: &mut crate::Conversation) {
        c.id = self.id;
        c.opened_while_serving = self.opened_while_serving;
        c.server_opened_meanwhile = self.server_opened_meanwhile;
        c.server_lookups_meanwhile = self.server_lookups_meanwhile;
        c.others_answered_meanwhile = self.others_answered_meanwhile;
    }
}

/// What a host is doing at this point, kept only while it serves.
#[derive(Clone, Default)]
struct HostState {
    /// Live conversations in which it is the server and has answered (a
    /// SYN-ACK, data, a datagram): a host that only ever refused or ignored
    /// an opening serves nothing, so what it opens is no callback.
    serving: u32,
    /// Conversations it opened while serving (a running count).
    opened: u64,
    /// Of those, the ones to a DNS port.
    opened_dns: u64,
}

/// A server host that some live conversation is sending its SYN to again,
/// having heard nothing: how many first SYN-ACKs it sent meanwhile, to
/// anyone.
#[derive(Clone, Default)]
struct Retrying {
    live: u32,
    syn_acks: u64,
}

/// A server host and one of its client hosts, kept while a conversation
/// between them is live.
#[derive(Clone, Default)]
struct PairState {
    live: u32,
    /// Conversations the server opened to the client host (a running count).
    opened: u64,
}

/// One live conversation, as far as its hosts go.
#[derive(Clone)]
struct Rec {
    facts: HostFacts,
    client: Host,
    server: Host,
    ts: Timestamp,
    /// The server host's `opened` and `opened_dns` counts when it began to
    /// serve this conversation.
    serving_since: Option<(u64, u64)>,
    /// The server's calls to this client's host before this conversation.
    pair_opened_at_start: u64,
    /// `server_lookups_meanwhile` is settled: the server has spoken.
    lookups_settled: bool,
    /// Its server's `Retrying::syn_acks` at its first resend.
    retry_since: Option<u64>,
}

/// The hosts of one capture point: see the module's doc.
#[derive(Clone, Default)]
pub struct HostLedger {
    live: HashMap<u64, Rec, Hasher>,
    hosts: HashMap<Host, HostState, Hasher>,
    pairs: HashMap<(Host, Host), PairState, Hasher>,
    /// Live conversations by the host that opened them while it served
    /// (possible callbacks), by start.
    callbacks_by_opener: HashMap<Host, BTreeSet<(Timestamp, u64)>, Hasher>,
    /// Live conversations by server host, by start.
    by_server: HashMap<Host, BTreeSet<(Timestamp, u64)>, Hasher>,
    /// Server hosts some live conversation resends its SYN to.
    retrying: HashMap<Host, Retrying, Hasher>,
    next_id: u64,
}

impl HostLedger {
    /// Applies one event; an end gives the conversation's facts.
    pub fn apply(&mut self, e: &HostEvent) -> Option<(u64, HostFacts)> {
        match &e.kind {
            HostEventKind::Start {
                client,
                server,
                server_port,
                discovery,
                ts,
            } => self.start(e.conv, client, server, *server_port, *discovery, *ts),
            HostEventKind::Answered { with_data } => self.answered(e.conv, *with_data),
            HostEventKind::Resent => {
                if let Some(r) = self.live.get_mut(&e.conv) {
                    let t = self.retrying.entry(r.server.clone()).or_default();
                    t.live += 1;
                    r.retry_since = Some(t.syn_acks);
                }
            }
            HostEventKind::SynAck => {
                if let Some(r) = self.live.get_mut(&e.conv) {
                    if let Some(since) = r.retry_since.take() {
                        settle(&mut self.retrying, r, since);
                    }
                    if let Some(t) = self.retrying.get_mut(&r.server) {
                        t.syn_acks += 1;
                    }
                }
            }
            HostEventKind::End => return self.end(e.conv).map(|f| (e.conv, f)),
        }
        None
    }

    fn start(
        &mut self,
        conv: u64,
        client: &Host,
        server: &Host,
        server_port: u16,
        discovery: bool,
        ts: Timestamp,
    ) {
        self.next_id += 1;
        let mut facts = HostFacts {
            id: self.next_id,
            ..HostFacts::default()
        };
        // Only hosts that serve something keep state, so this stays within
        // the live conversations.
        if let Some(h) = self.hosts.get_mut(client).filter(|_| !discovery) {
            h.opened += 1;
            h.opened_dns += u64::from(server_port == DNS_PORT);
            facts.opened_while_serving = true;
        }
        if facts.opened_while_serving {
            self.callbacks_by_opener
                .entry(client.clone())
                .or_default()
                .insert((ts, conv));
        }
        self.by_server
            .entry(server.clone())
            .or_default()
            .insert((ts, conv));
        if let Some(p) = self.pairs.get_mut(&(client.clone(), server.clone())) {
            p.opened += 1;
        }
        let pair = self
            .pairs
            .entry((server.clone(), client.clone()))
            .or_default();
        pair.live += 1;
        let pair_opened_at_start = pair.opened;
        self.live.insert(
            conv,
            Rec {
                facts,
                client: client.clone(),
                server: server.clone(),
                ts,
                serving_since: None,
                pair_opened_at_start,
                lookups_settled: false,
                retry_since: None,
            },
        );
    }

    /// The server has answered: from now on it serves this conversation, and
    /// what it opens may be a callback. Its first data (`with_data`) settles
    /// which lookups it made before speaking.
    fn answered(&mut self, conv: u64, with_data: bool) {
        let Some(r) = self.live.get_mut(&conv) else {
            return;
        };
        if r.serving_since.is_none() {
            let h = self.hosts.entry(r.server.clone()).or_default();
            h.serving += 1;
            r.serving_since = Some((h.opened, h.opened_dns));
        }
        if with_data && !r.lookups_settled {
            r.facts.server_lookups_meanwhile = lookups(&self.pairs, &self.hosts, r);
            r.lookups_settled = true;
        }
    }

    fn end(&mut self, conv: u64) -> Option<HostFacts> {
        let mut r = self.live.remove(&conv)?;
        if let Some(since) = r.retry_since.take() {
            settle(&mut self.retrying, &mut r, since);
        }
        if !r.lookups_settled {
            r.facts.server_lookups_meanwhile = lookups(&self.pairs, &self.hosts, &r);
        }
        let pair = (r.server.clone(), r.client.clone());
        if let Some(p) = self.pairs.get_mut(&pair) {
            p.live -= 1;
            if p.live == 0 {
                self.pairs.remove(&pair);
            }
        }
        if let Some((opened, _)) = r.serving_since {
            if let Some(h) = self.hosts.get_mut(&r.server) {
                r.facts.server_opened_meanwhile = h.opened - opened;
                h.serving -= 1;
                if h.serving == 0 {
                    self.hosts.remove(&r.server);
                }
            }
        }
        let at = (r.ts, conv);
        if r.facts.opened_while_serving {
            forget(&mut self.callbacks_by_opener, &r.client, at);
        }
        forget(&mut self.by_server, &r.server, at);
        Some(r.facts)
    }
}

impl LiveView for HostLedger {
    fn oldest_live_callback(&self, host: &Host) -> Option<Timestamp> {
        self.callbacks_by_opener
            .get(host)
            .and_then(|s| s.first())
            .map(|(t, _)| *t)
    }

    fn oldest_live_served(&self, host: &Host) -> Option<Timestamp> {
        self.by_server
            .get(host)
            .and_then(|s| s.first())
            .map(|(t, _)| *t)
    }
}

/// Stops counting for a conversation: the SYN-ACKs its server sent others
/// since its first resend.
fn settle(retrying: &mut HashMap<Host, Retrying, Hasher>, r: &mut Rec, since: u64) {
    if let Some(t) = retrying.get_mut(&r.server) {
        r.facts.others_answered_meanwhile = t.syn_acks - since;
        t.live -= 1;
        if t.live == 0 {
            retrying.remove(&r.server);
        }
    }
}

/// Connections the server opened, since this conversation began, that may
/// be lookups about it: to its client's host, or DNS while serving it.
fn lookups(
    pairs: &HashMap<(Host, Host), PairState, Hasher>,
    hosts: &HashMap<Host, HostState, Hasher>,
    r: &Rec,
) -> u64 {
    let called = pairs
        .get(&(r.server.clone(), r.client.clone()))
        .map_or(0, |p| p.opened - r.pair_opened_at_start);
    let dns = r.serving_since.map_or(0, |(_, dns)| {
        hosts.get(&r.server).map_or(0, |h| h.opened_dns - dns)
    });
    called + dns
}

/// Removes a live conversation from a by-host index.
fn forget(
    index: &mut HashMap<Host, BTreeSet<(Timestamp, u64)>, Hasher>,
    host: &Host,
    at: (Timestamp, u64),
) {
    if let Some(set) = index.get_mut(host) {
        set.remove(&at);
        if set.is_empty() {
            index.remove(host);
        }
    }
}
