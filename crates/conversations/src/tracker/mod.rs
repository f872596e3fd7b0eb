//! The tracker: one capture point's packets into conversations, with the
//! state each needs while it lives (its turns, its signals, its packet
//! log) and memory bounded by the live ones. Files: `key.rs` (the
//! unordered key and the idle deadline), `lifecycle.rs` (start, close,
//! expiry, eviction when full), `tcp.rs` and `udp.rs` (what each protocol's
//! packets do to a conversation; ICMP errors with UDP), this file (the
//! table, the live state, handing finished conversations on).

use std::collections::{BinaryHeap, HashMap, VecDeque};

use stalltrace_decode::{
    Endpoint, Host, IcmpMessage, Packet, PayloadHead, SeqNumber, TimeDelta, Timestamp, Transport,
    IPPROTO_TCP, IPPROTO_UDP,
};

use crate::feedback::{LiveView, SpareLog};
use crate::ledger::{HostEvent, HostEventKind, HostLedger, Moment};
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
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
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

impl TrackerStats {
    /// Adds a part's counts (see [`partition`]).
    pub fn add(&mut self, o: &TrackerStats) {
        // Every field named: a new count cannot be left out of the sum.
        let TrackerStats {
            packets,
            tcp,
            udp,
            icmp,
            other_ip,
            conversations,
            icmp_unmatched,
            evicted,
            time_went_back,
            truncated,
            fragments,
            bad_ip_checksum,
            retransmissions,
            one_direction,
            odd_syns,
        } = o;
        self.packets += packets;
        self.tcp += tcp;
        self.udp += udp;
        self.icmp += icmp;
        self.other_ip += other_ip;
        self.conversations += conversations;
        self.icmp_unmatched += icmp_unmatched;
        self.evicted += evicted;
        self.time_went_back += time_went_back;
        self.truncated += truncated;
        self.fragments += fragments;
        self.bad_ip_checksum += bad_ip_checksum;
        self.retransmissions += retransmissions;
        self.one_direction += one_direction;
        self.odd_syns += odd_syns;
    }
}

#[derive(Clone)]
struct Live {
    conv: Conversation,
    /// The server has answered (a SYN-ACK, a datagram, data), and has
    /// sent data: what the host ledger was told.
    answered: bool,
    spoke: bool,
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
    /// The hosts' counts, when this tracker sees all of its point's
    /// packets; a part's tracker leaves them to the caller's ledger.
    ledger: Option<HostLedger>,
    /// Moments the hosts' counts depend on, not yet applied.
    events: Vec<HostEvent>,
    /// Of `finished`, how many have their host facts.
    settled: usize,
    /// The packet being read: its place in the stream (also the
    /// provisional id of a conversation it opens).
    seq: u64,
    /// Logs of finished conversations, emptied, for new ones.
    spare_logs: Vec<Vec<PacketBrief>>,
    /// When each live conversation may have gone idle, earliest first.
    idle_queue: BinaryHeap<Due>,
    closed_queue: VecDeque<(Timestamp, Key, u64)>,
    next_generation: u64,
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
            ledger: Some(HostLedger::default()),
            events: Vec::new(),
            settled: 0,
            seq: 0,
            spare_logs: Vec::new(),
            idle_queue: BinaryHeap::new(),
            closed_queue: VecDeque::new(),
            next_generation: 0,
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

    /// A tracker of a part of a point's packets (see [`crate::partition`]):
    /// it leaves the hosts' counts to the caller, who takes its events
    /// ([`Tracker::take_events`]) and applies them, with every other
    /// part's, to one [`HostLedger`]; its conversations come out with
    /// provisional ids and no host facts until then.
    pub fn part(point: u32, cfg: TrackerConfig) -> Self {
        Tracker {
            ledger: None,
            ..Tracker::new(point, cfg)
        }
    }

    /// Finished conversations since the last call.
    pub fn take_finished(&mut self) -> Vec<Conversation> {
        self.settle_events();
        self.settled = 0;
        std::mem::take(&mut self.finished)
    }

    /// A part's events since the last call (none for a whole tracker,
    /// which applies them itself).
    pub fn take_events(&mut self) -> Vec<HostEvent> {
        std::mem::take(&mut self.events)
    }

    /// Ends the capture: every live conversation is finished.
    pub fn finish(self) -> Vec<Conversation> {
        self.finish_keeping_stats().0
    }

    /// [`Tracker::finish`], and the stats counted to the very end.
    pub fn finish_keeping_stats(mut self) -> (Vec<Conversation>, TrackerStats) {
        let (done, _, stats) = self.finish_part();
        (done, stats)
    }

    /// A part's [`Tracker::finish_keeping_stats`], with its last events.
    pub fn finish_part(&mut self) -> (Vec<Conversation>, Vec<HostEvent>, TrackerStats) {
        let mut rest: Vec<Box<Live>> = self.live.drain().map(|(_, l)| l).collect();
        rest.sort_by_key(|l| l.conv.id);
        for mut l in rest {
            if !l.closed {
                l.conv.end = EndReason::EndOfCapture;
            }
            self.finalize(l, Moment::End);
        }
        let done = self.take_finished();
        (done, self.take_events(), std::mem::take(&mut self.stats))
    }

    /// Time passed to `now` at this point (a packet elsewhere, in another
    /// part): conversations whose deadline it reached end.
    pub fn advance_to(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
            self.expire();
        }
    }

    /// Applies a whole tracker's events and gives the finished
    /// conversations their host facts (a part's wait for its caller).
    fn settle_events(&mut self) {
        let Some(ledger) = self.ledger.as_mut() else {
            return;
        };
        for e in self.events.drain(..) {
            if let Some((conv, facts)) = ledger.apply(&e) {
                // Ends come in the order the conversations finished.
                let c = &mut self.finished[self.settled];
                debug_assert_eq!(c.id, conv);
                facts.apply(c);
                self.settled += 1;
            }
        }
    }

    /// The moment of the packet being read.
    fn moment(&self) -> Moment {
        Moment::Packet {
            now: self.now,
            seq: self.seq,
        }
    }

    /// Hands a conversation out; its hosts' counts are settled by its end
    /// event.
    fn finalize(&mut self, mut l: Box<Live>, at: Moment) {
        l.signals.finish(&mut l.conv.signals);
        let [a, b] = l.conv.packets;
        if l.conv.protocol == Protocol::Tcp
            && a.min(b) == 0
            && a.max(b) >= 3
            && a.max(b) > u64::from(l.conv.syn_count)
        {
            self.stats.one_direction += 1;
        }
        self.events.push(HostEvent {
            at,
            conv: l.conv.id,
            kind: HostEventKind::End,
        });
        self.finished.push(l.conv);
    }

    /// Reads one packet of this point, the next in time order.
    pub fn observe(&mut self, p: &Packet) {
        let went_back = p.meta.ts < self.now;
        let clock = Clock {
            seq: self.seq + 1,
            now: self.now.max(p.meta.ts),
            went_back,
        };
        self.observe_at(p, clock);
    }

    /// Reads one packet; `clock` says where it stands in the point's whole
    /// stream (of which a part's tracker sees only some packets).
    pub fn observe_at(&mut self, p: &Packet, clock: Clock) {
        self.seq = clock.seq;
        self.stats.packets += 1;
        self.stats.truncated += u64::from(p.truncated);
        self.stats.fragments += u64::from(p.ip.fragment);
        self.stats.bad_ip_checksum += u64::from(p.ip.checksum_ok == Some(false));
        self.stats.time_went_back += u64::from(clock.went_back);
        self.advance_to(clock.now);
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
        if self.ledger.is_some() && !self.events.is_empty() {
            self.settle_events();
        }
    }
}

/// Where a packet stands in its point's whole stream.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Its place in the stream, counted from 1 and rising (gaps allowed).
    pub seq: u64,
    /// The latest time the point has seen, this packet's included.
    pub now: Timestamp,
    /// Its time is before the previous packet's.
    pub went_back: bool,
}

/// The part of the work a packet belongs to: its two hosts, unordered
/// (an ICMP error's: those of the packet it quotes). Every packet of a
/// conversation, its ICMP errors and the callbacks between its two hosts
/// (ident) fall in one part; facts that span a host's conversations with
/// others are kept by the [`HostLedger`].
pub fn partition(p: &Packet) -> u64 {
    use std::hash::BuildHasher;
    let (a, b) = match &p.transport {
        Transport::Icmp(IcmpMessage {
            quoted: Some(q), ..
        }) => (q.src.as_ref().unwrap_or(&p.dst), &q.dst),
        _ => (&p.src, &p.dst),
    };
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    // A fixed seed: the same packet falls in the same part on every run.
    foldhash::fast::FixedState::with_seed(0x5741_4c4c).hash_one((lo, hi, p.vlan))
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
        self.ledger.as_ref()?.oldest_live_callback(host)
    }

    fn oldest_live_served(&self, host: &Host) -> Option<Timestamp> {
        self.ledger.as_ref()?.oldest_live_served(host)
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

/// The server has answered: the host ledger is told of its first answer
/// and of its first data.
fn answered(l: &mut Live, with_data: bool, at: Moment, events: &mut Vec<HostEvent>) {
    if !l.answered || (with_data && !l.spoke) {
        events.push(HostEvent {
            at,
            conv: l.conv.id,
            kind: HostEventKind::Answered { with_data },
        });
    }
    l.answered = true;
    l.spoke |= with_data;
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
