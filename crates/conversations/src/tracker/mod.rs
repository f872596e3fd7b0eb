//! The tracker: one capture point's packets into conversations, with the
//! state each needs while it lives (its turns, its signals, its packet
//! log) and memory bounded by the live ones. Files: `key.rs` (the
//! unordered key and the idle deadline), `lifecycle.rs` (start, close,
//! expiry, eviction when full), `tcp.rs` and `udp.rs` (what each protocol's
//! packets do to a conversation; ICMP errors with UDP), this file (the
//! table, the live state, handing finished conversations on).

use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};

use stalltrace_decode::{
    Endpoint, Host, IcmpMessage, Packet, PayloadHead, SeqNumber, TimeDelta, Timestamp, Transport,
    IPPROTO_TCP, IPPROTO_UDP,
};

use crate::feedback::{LiveView, SpareLog};
use crate::model::*;
use crate::signals::{LiveSignals, Seg};

mod key;
mod lifecycle;
mod tcp;
mod udp;

use key::{Due, Key};

/// Tunables of the tracker; the defaults suit incident captures.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    /// A conversation quiet this long is finished. Long enough for the
    /// slowest SYN back-off gap seen in the field (Linux 2.4: 96 s).
    pub idle_timeout: TimeDelta,
    /// An established TCP connection, not closing, quiet this long is
    /// finished: it may be idle on purpose (a pooled or interactive
    /// connection), and what happens when it speaks again (a middlebox
    /// that forgot it) is worth seeing. Linux keeps such a connection
    /// forever and probes it after 2 h when it asked for keepalives.
    pub established_idle_timeout: TimeDelta,
    /// After RST or both FINs, stragglers are still attributed this long.
    pub closed_linger: TimeDelta,
    /// At most this many live conversations; past it the longest idle is
    /// finished early (and counted).
    pub max_live: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            idle_timeout: TimeDelta::from_secs(300),
            established_idle_timeout: TimeDelta::from_secs(7200),
            closed_linger: TimeDelta::from_secs(5),
            max_live: 1_000_000,
        }
    }
}

/// Counts of what the tracker saw but could not place.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TrackerStats {
    pub packets: u64,
    pub tcp: u64,
    pub udp: u64,
    pub icmp: u64,
    pub other_ip: u64,
    pub conversations: u64,
    /// ICMP errors about no conversation seen here.
    pub icmp_unmatched: u64,
    /// Conversations finished early to respect `max_live`.
    pub evicted: u64,
    /// Packets whose time was before the previous packet's.
    pub time_went_back: u64,
    /// Packets the capture holds only in part (snaplen, `[|tcp]`).
    pub truncated: u64,
    /// IP fragments (transport fields only in the first).
    pub fragments: u64,
    /// IPv4 headers whose checksum is wrong: counted, never trusted.
    pub bad_ip_checksum: u64,
    /// Data segments sent again (their bytes were seen before).
    pub retransmissions: u64,
    /// TCP conversations whose packets this point saw one way only, the
    /// sender going on past its SYNs (a half-duplex SPAN port, an
    /// asymmetric route): nothing the other side sent can be timed.
    pub one_direction: u64,
    /// Segments with SYN and FIN or RST together: no stack opens a
    /// connection so (nmap's OS detection, a scanner's probe); counted,
    /// not taken as connection attempts.
    pub odd_syns: u64,
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

/// Stops counting for a conversation: the SYN-ACKs its server sent others
/// since its first resend.
fn settle(retrying: &mut HashMap<Host, Retrying, Hasher>, c: &mut Conversation, since: u64) {
    if let Some(r) = retrying.get_mut(&c.server.host) {
        c.others_answered_meanwhile = r.syn_acks - since;
        r.live -= 1;
        if r.live == 0 {
            retrying.remove(&c.server.host);
        }
    }
}

/// A server host and one of its client hosts, kept while a conversation
/// between them is live.
#[derive(Clone, Default)]
struct PairState {
    live: u32,
    /// Conversations the server opened to the client host (a running count).
    opened: u64,
}

/// DNS: a lookup to any host may be about any conversation.
const DNS_PORT: u16 = 53;

#[derive(Clone)]
struct Live {
    conv: Conversation,
    /// The server host's `opened` and `opened_dns` counts when it began to
    /// serve this conversation.
    serving_since: Option<(u64, u64)>,
    /// The server's calls to this client's host before this conversation.
    pair_opened_at_start: u64,
    /// `server_lookups_meanwhile` is settled: the server has spoken.
    lookups_settled: bool,
    generation: u64,
    /// Highest sequence end sent, per side, to spot retransmissions.
    next_seq: [Option<SeqNumber>; 2],
    last_payload_side: Option<Side>,
    closed: bool,
    /// A SYN-ACK was seen and the client has not acknowledged it yet.
    syn_ack_pending: bool,
    signals: LiveSignals,
    /// The last copy of the request that waits for an answer, when it was
    /// sent again.
    request_copy: Option<PacketRef>,
    /// Its server's `Retrying::syn_acks` at its first resend.
    retry_since: Option<u64>,
    /// Payload segments each side sent.
    payloads: [u32; 2],
    /// The last turn, until its requester speaks again: its answer and
    /// the request's length.
    open_turn: Option<(PacketRef, u32)>,
    /// The first segments' lengths of the server's last answers.
    answer_lens: [u32; 4],
    /// The first bytes of each side's last payload segment.
    last_start: [[u8; 4]; 2],
}

impl Live {
    /// New data from `side`: the first payload, and a turn when it answers
    /// the other side.
    fn note_payload(&mut self, side: Side, payload: Payload, head: &PayloadHead) {
        let c = &mut self.conv;
        let s = side.index();
        if c.first_payload[s].is_none() {
            c.first_payload[s] = Some(payload);
            c.first_head[s] = *head;
        }
        self.payloads[s] = self.payloads[s].saturating_add(1);
        if self.last_payload_side == Some(side.other()) {
            if let Some((answer, len)) = self.open_turn.take() {
                if let Some(t) = c.longest_turns.iter_mut().find(|t| t.response == answer) {
                    t.retried = t.responder == side.other() && payload.len == len;
                }
            }
            if let Some(req) = c.last_payload[side.other().index()] {
                self.open_turn = Some((payload.packet, req.len));
                let repeated_answer =
                    side == Side::Server && self.answer_lens.contains(&payload.len);
                if side == Side::Server {
                    self.answer_lens.rotate_right(1);
                    self.answer_lens[0] = payload.len;
                }
                let turn = Turn {
                    responder: side,
                    request: req.packet,
                    request_copy: self.request_copy.take(),
                    response: payload.packet,
                    response_start: {
                        let mut b = [0u8; 8];
                        let h = head.as_bytes();
                        let n = h.len().min(8);
                        b[..n].copy_from_slice(&h[..n]);
                        b
                    },
                    request_start: self.last_start[side.other().index()],
                    request_len: req.len,
                    nth_request: self.payloads[side.other().index()],
                    think: c.last_payload[s].map(|prev| req.packet.ts - prev.packet.ts),
                    retried: false,
                    repeated_answer,
                };
                push_turn(&mut c.longest_turns, turn);
            }
        }
        c.last_payload[s] = Some(payload);
        self.last_payload_side = Some(side);
        let h = head.as_bytes();
        let n = h.len().min(4);
        self.last_start[s] = [0; 4];
        self.last_start[s][..n].copy_from_slice(&h[..n]);
    }
}

/// Rebuilds conversations from one capture point's packets, in order.
///
/// ```
/// use stalltrace_conversations::{Tracker, TrackerConfig};
/// let mut t = Tracker::new(0, TrackerConfig::default());
/// // feed packets with t.observe(&packet) ... then:
/// let all = t.finish();
/// assert!(all.is_empty());
/// ```
#[derive(Clone)]
pub struct Tracker {
    point: u32,
    cfg: TrackerConfig,
    /// Boxed: the table then holds 80 bytes a slot, not 750, and growing
    /// it (old and new table side by side) costs a tenth of the memory.
    live: HashMap<Key, Box<Live>, Hasher>,
    hosts: HashMap<Host, HostState, Hasher>,
    /// (server host, client host) of live conversations.
    pairs: HashMap<(Host, Host), PairState, Hasher>,
    /// Live conversations by the host that opened them while it served
    /// (possible callbacks), by start.
    callbacks_by_opener: HashMap<Host, BTreeSet<(Timestamp, u64)>, Hasher>,
    /// Live conversations by server host, by start.
    by_server: HashMap<Host, BTreeSet<(Timestamp, u64)>, Hasher>,
    /// Server hosts some live conversation resends its SYN to.
    retrying: HashMap<Host, Retrying, Hasher>,
    /// Logs of finished conversations, emptied, for new ones.
    spare_logs: Vec<Vec<PacketBrief>>,
    /// When each live conversation may have gone idle, earliest first.
    idle_queue: BinaryHeap<Due>,
    closed_queue: VecDeque<(Timestamp, Key, u64)>,
    next_generation: u64,
    next_id: u64,
    now: Timestamp,
    finished: Vec<Conversation>,
    stats: TrackerStats,
}

/// foldhash, seeded per process: a fraction of SipHash's cost (hashing was
/// a third of all instructions), and still no fixed seed for a hostile
/// capture to aim its collisions at.
type Hasher = foldhash::fast::RandomState;

/// Service ports below which a port is taken for the server's when the
/// opening was not seen.
const WELL_KNOWN: u16 = 1024;

impl Tracker {
    pub fn new(point: u32, cfg: TrackerConfig) -> Self {
        Tracker {
            point,
            cfg,
            live: HashMap::default(),
            hosts: HashMap::default(),
            pairs: HashMap::default(),
            callbacks_by_opener: HashMap::default(),
            retrying: HashMap::default(),
            by_server: HashMap::default(),
            spare_logs: Vec::new(),
            idle_queue: BinaryHeap::new(),
            closed_queue: VecDeque::new(),
            next_generation: 0,
            next_id: 0,
            now: Timestamp::ZERO,
            finished: Vec::new(),
            stats: TrackerStats::default(),
        }
    }

    pub fn stats(&self) -> &TrackerStats {
        &self.stats
    }

    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Gives back the packet log of a conversation no longer needed, for a
    /// new conversation to use (see [`crate::SpareLog`]).
    pub fn recycle_log(&mut self, SpareLog(mut log): SpareLog) {
        if log.capacity() == MAX_LOGGED && self.spare_logs.len() < SPARE_LOGS {
            log.clear();
            self.spare_logs.push(log);
        }
    }

    /// Finished conversations since the last call.
    pub fn take_finished(&mut self) -> Vec<Conversation> {
        std::mem::take(&mut self.finished)
    }

    /// Ends the capture: every live conversation is finished.
    pub fn finish(self) -> Vec<Conversation> {
        self.finish_keeping_stats().0
    }

    /// [`Tracker::finish`], and the stats counted to the very end.
    pub fn finish_keeping_stats(mut self) -> (Vec<Conversation>, TrackerStats) {
        let mut rest: Vec<Box<Live>> = self.live.drain().map(|(_, l)| l).collect();
        rest.sort_by_key(|l| l.conv.id);
        for mut l in rest {
            if !l.closed {
                l.conv.end = EndReason::EndOfCapture;
            }
            self.finalize(l);
        }
        (self.finished, self.stats)
    }

    /// Hands a conversation out and settles the host bookkeeping.
    fn finalize(&mut self, mut l: Box<Live>) {
        l.signals.finish(&mut l.conv.signals);
        if let Some(since) = l.retry_since.take() {
            settle(&mut self.retrying, &mut l.conv, since);
        }
        if !l.lookups_settled {
            l.conv.server_lookups_meanwhile = lookups(&self.pairs, &self.hosts, &l);
        }
        let pair = (l.conv.server.host.clone(), l.conv.client.host.clone());
        if let Some(p) = self.pairs.get_mut(&pair) {
            p.live -= 1;
            if p.live == 0 {
                self.pairs.remove(&pair);
            }
        }
        if let Some((opened, _)) = l.serving_since {
            if let Some(h) = self.hosts.get_mut(&l.conv.server.host) {
                l.conv.server_opened_meanwhile = h.opened - opened;
                h.serving -= 1;
                if h.serving == 0 {
                    self.hosts.remove(&l.conv.server.host);
                }
            }
        }
        let [a, b] = l.conv.packets;
        if l.conv.protocol == Protocol::Tcp
            && a.min(b) == 0
            && a.max(b) >= 3
            && a.max(b) > u64::from(l.conv.syn_count)
        {
            self.stats.one_direction += 1;
        }
        let at = (l.conv.first.ts, l.conv.id);
        if l.conv.opened_while_serving {
            forget(&mut self.callbacks_by_opener, &l.conv.client.host, at);
        }
        forget(&mut self.by_server, &l.conv.server.host, at);
        self.finished.push(l.conv);
    }

    pub fn observe(&mut self, p: &Packet) {
        self.stats.packets += 1;
        self.stats.truncated += u64::from(p.truncated);
        self.stats.fragments += u64::from(p.ip.fragment);
        self.stats.bad_ip_checksum += u64::from(p.ip.checksum_ok == Some(false));
        let ts = p.meta.ts;
        if ts < self.now {
            self.stats.time_went_back += 1;
        } else {
            self.now = ts;
            self.expire();
        }
        match &p.transport {
            Transport::Tcp(_) => {
                self.stats.tcp += 1;
                self.tcp(p);
            }
            Transport::Udp(_) => {
                self.stats.udp += 1;
                self.udp(p);
            }
            Transport::Icmp(i) => {
                self.stats.icmp += 1;
                if i.kind.is_error() {
                    self.icmp_error(p, i);
                }
            }
            // Later fragments are counted as fragments.
            Transport::Other { .. } if p.ip.fragment => {}
            Transport::Other { .. } => self.stats.other_ip += 1,
        }
    }
}

impl Tracker {
    /// The conversation between `a` and `b` is still going on here (not
    /// ended, not handed on).
    pub fn is_live(&self, protocol: Protocol, vlan: u32, a: &Endpoint, b: &Endpoint) -> bool {
        let proto = match protocol {
            Protocol::Tcp => IPPROTO_TCP,
            Protocol::Udp => IPPROTO_UDP,
        };
        self.live.contains_key(&Key::new(proto, vlan, a, b))
    }
}

impl LiveView for Tracker {
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

/// Room for the next logged packet: eight at first (a lone SYN needs no
/// more, and so small a block is cheap to allocate), then a whole log,
/// taken from the logs of finished conversations when there is one.
/// Allocating and freeing a full log (too large for the allocator's
/// per-thread cache) was a tenth of the analysis.
fn grow_log(log: &mut Vec<PacketBrief>, spare: &mut Vec<Vec<PacketBrief>>) {
    if log.len() < log.capacity() {
        return;
    }
    if log.is_empty() {
        log.reserve_exact(8);
    } else if let Some(mut whole) = spare.pop() {
        whole.extend_from_slice(log);
        *log = whole;
    } else {
        log.reserve_exact(MAX_LOGGED - log.len());
    }
}

/// Full logs kept for reuse, at most (1.8 KB each).
const SPARE_LOGS: usize = 1024;

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

/// The server has answered: from now on it serves this conversation, and
/// what it opens may be a callback. Its first data (`with_data`) settles
/// which lookups it made before speaking.
fn server_answered(
    hosts: &mut HashMap<Host, HostState, Hasher>,
    pairs: &HashMap<(Host, Host), PairState, Hasher>,
    l: &mut Live,
    with_data: bool,
) {
    if l.serving_since.is_none() {
        let h = hosts.entry(l.conv.server.host.clone()).or_default();
        h.serving += 1;
        l.serving_since = Some((h.opened, h.opened_dns));
    }
    if with_data && !l.lookups_settled {
        l.conv.server_lookups_meanwhile = lookups(pairs, hosts, l);
        l.lookups_settled = true;
    }
}

/// Connections the server opened, since this conversation began, that may
/// be lookups about it: to its client's host, or DNS while serving it.
fn lookups(
    pairs: &HashMap<(Host, Host), PairState, Hasher>,
    hosts: &HashMap<Host, HostState, Hasher>,
    l: &Live,
) -> u64 {
    let c = &l.conv;
    let called = pairs
        .get(&(c.server.host.clone(), c.client.host.clone()))
        .map_or(0, |p| p.opened - l.pair_opened_at_start);
    let dns = l.serving_since.map_or(0, |(_, dns)| {
        hosts.get(&c.server.host).map_or(0, |h| h.opened_dns - dns)
    });
    called + dns
}

/// Without the opening, the side on a well-known port is the server.
fn guess_roles(src: &Endpoint, dst: &Endpoint) -> (Endpoint, Endpoint) {
    if src.port < WELL_KNOWN && dst.port >= WELL_KNOWN {
        (dst.clone(), src.clone())
    } else {
        (src.clone(), dst.clone())
    }
}

fn note_gap(c: &mut Conversation, at: PacketRef) {
    let gap = at.ts - c.last.ts;
    if c.longest_gap.is_none_or(|(a, b)| gap > b.ts - a.ts) {
        c.longest_gap = Some((c.last, at));
    }
}

fn push_turn(turns: &mut Vec<Turn>, t: Turn) {
    // Only the server's answers are waits anyone reads; a client's long
    // pauses (a person reading, typing) must not push them out (Zeek's
    // irc-more-commands.pcap: the 1.4 s welcome lost among chat pauses).
    if t.responder != Side::Server {
        return;
    }
    if turns.len() < MAX_TURNS {
        turns.push(t);
    } else if let Some(min) = turns.iter_mut().min_by_key(|x| x.wait()) {
        if t.wait() > min.wait() {
            *min = t;
        }
    }
    turns.sort_by_key(|x| std::cmp::Reverse(x.wait()));
}
