use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};

use stalltrace_decode::{
    Endpoint, Host, IcmpMessage, Packet, PayloadHead, SeqNumber, TimeDelta, Timestamp, Transport,
    IPPROTO_TCP, IPPROTO_UDP,
};

use crate::feedback::{LiveView, SpareLog};
use crate::model::*;
use crate::signals::{LiveSignals, Seg};

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

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    proto: u8,
    /// The VLAN ids: one connection replayed on two VLANs (a QinQ mirror)
    /// is two conversations, as in Zeek's key.
    vlan: u32,
    lo: Endpoint,
    hi: Endpoint,
}

impl Key {
    /// The key of a packet's conversation, each host cloned once.
    fn between(proto: u8, p: &Packet, src_port: u16, dst_port: u16) -> Key {
        let src_first = (&p.src, src_port) <= (&p.dst, dst_port);
        let (a, b) = if src_first {
            ((&p.src, src_port), (&p.dst, dst_port))
        } else {
            ((&p.dst, dst_port), (&p.src, src_port))
        };
        Key {
            proto,
            vlan: p.vlan,
            lo: Endpoint::new(a.0.clone(), a.1),
            hi: Endpoint::new(b.0.clone(), b.1),
        }
    }

    /// The packet's source and destination, borrowed from the key.
    fn ends(&self, p: &Packet, src_port: u16) -> (&Endpoint, &Endpoint) {
        if self.lo.port == src_port && self.lo.host == p.src {
            (&self.lo, &self.hi)
        } else {
            (&self.hi, &self.lo)
        }
    }

    fn new(proto: u8, vlan: u32, a: &Endpoint, b: &Endpoint) -> Key {
        if a <= b {
            Key {
                proto,
                vlan,
                lo: a.clone(),
                hi: b.clone(),
            }
        } else {
            Key {
                proto,
                vlan,
                lo: b.clone(),
                hi: a.clone(),
            }
        }
    }
}

/// A conversation's idle deadline; the heap's top is the earliest.
struct Due {
    at: Timestamp,
    generation: u64,
    key: Key,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.generation) == (other.at, other.generation)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    /// Reversed: `BinaryHeap` is a max-heap.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.generation).cmp(&(self.at, self.generation))
    }
}

/// What a host is doing at this point, kept only while it serves.
#[derive(Default)]
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
#[derive(Default)]
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
#[derive(Default)]
struct PairState {
    live: u32,
    /// Conversations the server opened to the client host (a running count).
    opened: u64,
}

/// DNS: a lookup to any host may be about any conversation.
const DNS_PORT: u16 = 53;

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

    fn expire(&mut self) {
        let now = self.now;
        // Closed conversations: the linger only catches stragglers, so they
        // are handed out when it is over, whatever came meanwhile.
        while self.closed_queue.front().is_some_and(|(d, _, _)| *d <= now) {
            let (_, key, generation) = self.closed_queue.pop_front().expect("front exists");
            if self
                .live
                .get(&key)
                .is_some_and(|l| l.generation == generation && l.closed)
            {
                let l = self.live.remove(&key).expect("present");
                self.finalize(l);
            }
        }
        // Open ones: an entry is queued at creation; one still active when it
        // comes due is queued again at its real deadline, so that a
        // conversation ends exactly an idle timeout after its last packet
        // (the diagnosis counts on it). Each conversation has at most one
        // entry, so the queue follows the live set.
        while self.idle_queue.peek().is_some_and(|d| d.at <= now) {
            let Due {
                key, generation, ..
            } = self.idle_queue.pop().expect("top exists");
            let Some(l) = self.live.get(&key) else {
                continue;
            };
            if l.generation != generation || l.closed {
                continue;
            }
            let timeout = if l.conv.protocol == Protocol::Tcp
                && !l.conv.handshake_acks.is_empty()
                && l.conv.fins == [None, None]
            {
                self.cfg.established_idle_timeout
            } else {
                self.cfg.idle_timeout
            };
            let due = l.conv.last.ts.saturating_add(timeout);
            if due > now {
                self.idle_queue.push(Due {
                    at: due,
                    generation,
                    key,
                });
                continue;
            }
            let mut l = self.live.remove(&key).expect("present");
            l.conv.end = EndReason::Idle;
            self.finalize(l);
        }
    }

    /// Entries of finished conversations stay in the idle queue until they
    /// come due (an idle timeout later), which on a busy link is many times
    /// the live conversations. Sweeping them out once they outnumber the
    /// live ones keeps the queue within twice the live set, at a cost of
    /// O(1) a conversation.
    fn compact_idle_queue(&mut self) {
        if self.idle_queue.len() <= 2 * self.live.len() + 4096 {
            return;
        }
        let live = &self.live;
        self.idle_queue.retain(
            |Due {
                 key, generation, ..
             }| { live.get(key).is_some_and(|l| l.generation == *generation) },
        );
        if self.idle_queue.capacity() > 4 * self.idle_queue.len() + 4096 {
            self.idle_queue.shrink_to(2 * self.idle_queue.len() + 4096);
        }
    }

    fn make_room(&mut self) {
        if self.live.len() < self.cfg.max_live {
            return;
        }
        // The idle queue's front is the conversation quiet the longest.
        while let Some(Due {
            key, generation, ..
        }) = self.idle_queue.pop()
        {
            if self
                .live
                .get(&key)
                .is_some_and(|l| l.generation == generation)
            {
                let mut l = self.live.remove(&key).expect("present");
                l.conv.end = EndReason::Evicted;
                self.stats.evicted += 1;
                self.finalize(l);
                return;
            }
        }
    }

    fn start(
        &mut self,
        key: Key,
        protocol: Protocol,
        client: Endpoint,
        server: Endpoint,
        p: &Packet,
    ) -> &mut Live {
        self.make_room();
        self.next_id += 1;
        self.next_generation += 1;
        self.stats.conversations += 1;
        let at = PacketRef {
            number: p.meta.number,
            ts: p.meta.ts,
        };
        let conv = Conversation {
            id: self.next_id,
            point: self.point,
            protocol,
            client,
            server,
            saw_open: false,
            vlan: p.vlan,
            tunnel: p.tunnel.as_deref().cloned(),
            first: at,
            last: at,
            syns: Vec::new(),
            syn_count: 0,
            client_isn: None,
            server_isn: None,
            syn_options: Default::default(),
            syn_ttl: None,
            syn_acks: Vec::new(),
            syn_ack_count: 0,
            handshake_acks: Vec::new(),
            first_payload: [None; 2],
            first_head: Default::default(),
            last_payload: [None; 2],
            packets: [0; 2],
            payload_bytes: [0; 2],
            retransmissions: [0; 2],
            longest_gap: None,
            longest_turns: Vec::new(),
            rst: None,
            rst_ttl: None,
            ttl: [None; 2],
            client_link: None,
            fins: [None; 2],
            icmp_errors: Vec::new(),
            end: EndReason::EndOfCapture,
            log: Vec::new(),
            opened_while_serving: false,
            server_opened_meanwhile: 0,
            server_lookups_meanwhile: 0,
            others_answered_meanwhile: 0,
            signals: Default::default(),
            dns: None,
        };
        let mut conv = conv;
        // Only hosts that serve something keep state, so this stays within
        // the live conversations.
        // A query to a group (mDNS, LLMNR, SSDP) or a NetBIOS name
        // broadcast is answered from other addresses, to the group: no
        // callback whose answer this conversation could show, so none
        // (Zeek's traces: an sshd's mDNS PTR lookup "never answered";
        // erspan.pcap's NBNS broadcasts).
        // (A unicast NBNS query to the client is a callback like ident.)
        let directed_broadcast = matches!(conv.server.host, Host::V4(a) if a.octets()[3] == 255);
        let discovery = conv.server.host.is_group()
            || (conv.protocol == Protocol::Udp
                && matches!(conv.server.port, 137 | 138)
                && directed_broadcast);
        if let Some(h) = self.hosts.get_mut(&conv.client.host).filter(|_| !discovery) {
            h.opened += 1;
            h.opened_dns += u64::from(conv.server.port == DNS_PORT);
            conv.opened_while_serving = true;
        }
        let at = (conv.first.ts, conv.id);
        if conv.opened_while_serving {
            self.callbacks_by_opener
                .entry(conv.client.host.clone())
                .or_default()
                .insert(at);
        }
        self.by_server
            .entry(conv.server.host.clone())
            .or_default()
            .insert(at);
        let called = (conv.client.host.clone(), conv.server.host.clone());
        if let Some(p) = self.pairs.get_mut(&called) {
            p.opened += 1;
        }
        let pair = self
            .pairs
            .entry((conv.server.host.clone(), conv.client.host.clone()))
            .or_default();
        pair.live += 1;
        let pair_opened_at_start = pair.opened;
        self.idle_queue.push(Due {
            at: p.meta.ts.saturating_add(self.cfg.idle_timeout),
            generation: self.next_generation,
            key: key.clone(),
        });
        self.compact_idle_queue();
        self.live.entry(key).or_insert(Box::new(Live {
            conv,
            serving_since: None,
            pair_opened_at_start,
            lookups_settled: false,
            generation: self.next_generation,
            next_seq: [None; 2],
            last_payload_side: None,
            closed: false,
            syn_ack_pending: false,
            signals: LiveSignals::default(),
            request_copy: None,
            retry_since: None,
            payloads: [0; 2],
            open_turn: None,
            answer_lens: [0; 4],
            last_start: [[0; 4]; 2],
        }))
    }

    fn close(&mut self, key: &Key) {
        if let Some(l) = self.live.get_mut(key) {
            if !l.closed {
                l.closed = true;
                self.closed_queue.push_back((
                    self.now.saturating_add(self.cfg.closed_linger),
                    key.clone(),
                    l.generation,
                ));
            }
        }
    }

    fn tcp(&mut self, p: &Packet) {
        let Transport::Tcp(t) = &p.transport else {
            return;
        };
        if t.flags.syn() && (t.flags.fin() || t.flags.rst()) {
            self.stats.odd_syns += 1;
            return;
        }
        let key = Key::between(IPPROTO_TCP, p, t.src_port, t.dst_port);
        let (src, dst) = key.ends(p, t.src_port);
        let is_syn = t.flags.syn() && !t.flags.ack();
        let is_syn_ack = t.flags.syn() && t.flags.ack();

        // A new SYN on a finished conversation, or with another ISN, opens a
        // new one (port reuse).
        if is_syn {
            let reuse = self.live.get(&key).is_some_and(|l| {
                l.closed
                    || l.conv.client != *src
                    || (l.conv.client_isn.is_some()
                        && t.seq.is_some()
                        && l.conv.client_isn != t.seq)
            });
            if reuse {
                if let Some(l) = self.live.remove(&key) {
                    self.finalize(l);
                }
            }
        }
        let at = PacketRef {
            number: p.meta.number,
            ts: p.meta.ts,
        };
        let l = match self.live.get_mut(&key) {
            Some(l) => l,
            None => {
                let (client, server) = if is_syn {
                    (src.clone(), dst.clone())
                } else if is_syn_ack {
                    (dst.clone(), src.clone())
                } else {
                    guess_roles(src, dst)
                };
                self.start(key.clone(), Protocol::Tcp, client, server, p);
                self.live.get_mut(&key).expect("just inserted")
            }
        };
        let side = if l.conv.client == *src {
            Side::Client
        } else {
            Side::Server
        };
        let s = side.index();
        if side == Side::Server && (is_syn_ack || t.payload_len > 0) {
            server_answered(&mut self.hosts, &self.pairs, l, t.payload_len > 0);
        }
        let c = &mut l.conv;
        let prev = c.last;
        note_gap(c, at);
        c.last = at;
        c.packets[s] += 1;
        if c.ttl[s].is_none() {
            c.ttl[s] = p.ip.ttl;
            if side == Side::Client {
                c.client_link = p.link_src;
            }
        }

        if is_syn && side == Side::Client {
            if c.syn_count == 0 {
                c.saw_open = true;
                c.client_isn = t.seq;
                c.syn_options = t.options;
                c.syn_ttl = p.ip.ttl;
                l.signals
                    .announce_mss(Side::Client, t.options.mss, &mut c.signals);
            }
            c.syn_count += 1;
            if c.syns.len() < MAX_LISTED {
                c.syns.push(at);
            }
            // Counted from the first resend: only a handshake that is
            // retried needs to know, and a map entry per SYN would cost
            // every connection.
            if c.syn_count == 2 && c.syn_ack_count == 0 {
                let r = self.retrying.entry(c.server.host.clone()).or_default();
                r.live += 1;
                l.retry_since = Some(r.syn_acks);
            }
        } else if is_syn_ack && side == Side::Server {
            if c.syn_ack_count == 0 {
                if let Some(since) = l.retry_since.take() {
                    settle(&mut self.retrying, c, since);
                }
                if !self.retrying.is_empty() {
                    if let Some(r) = self.retrying.get_mut(&c.server.host) {
                        r.syn_acks += 1;
                    }
                }
                c.server_isn = t.seq;
                c.saw_open |= c.syn_count > 0;
                c.signals.rtt.upstream = c.syns.last().map(|syn| at.ts - syn.ts);
                l.signals
                    .announce_mss(Side::Server, t.options.mss, &mut c.signals);
            }
            c.syn_ack_count += 1;
            if c.syn_acks.len() < MAX_LISTED {
                c.syn_acks.push(at);
            }
            l.syn_ack_pending = true;
        } else if side == Side::Client && t.flags.ack() && !t.flags.syn() && l.syn_ack_pending {
            l.syn_ack_pending = false;
            if c.handshake_acks.is_empty() {
                c.signals.rtt.downstream = c.syn_acks.first().map(|sa| at.ts - sa.ts);
            }
            if c.handshake_acks.len() < MAX_LISTED {
                c.handshake_acks.push(at);
            }
        }

        if c.log.len() < MAX_LOGGED {
            grow_log(&mut c.log, &mut self.spare_logs);
            let (mine, theirs) = match side {
                Side::Client => (c.client_isn, c.server_isn),
                Side::Server => (c.server_isn, c.client_isn),
            };
            c.log.push(PacketBrief {
                packet: at,
                from: side,
                flags: t.flags.0,
                rel_seq: t.seq.zip(mine).map(|(s, i)| s.0.wrapping_sub(i.0)),
                rel_ack: t.ack.zip(theirs).map(|(a, i)| a.0.wrapping_sub(i.0)),
                len: t.payload_len,
                ip_id: p.ip.id,
                ttl: p.ip.ttl,
                digest: t.payload_digest,
            });
        }
        let mut retransmitted = false;
        if t.payload_len > 0 {
            let len = t.payload_len;
            retransmitted = match (t.seq, l.next_seq[s]) {
                (Some(seq), Some(next)) => seq.wrapping_add(len) <= next,
                _ => false,
            };
            if let Some(seq) = t.seq {
                let end = seq.wrapping_add(len);
                if l.next_seq[s].is_none_or(|n| end > n) {
                    l.next_seq[s] = Some(end);
                }
            }
            let c = &mut l.conv;
            if retransmitted {
                c.retransmissions[s] += 1;
                self.stats.retransmissions += 1;
                // A copy of the request still waiting for its answer.
                if l.last_payload_side == Some(side) {
                    l.request_copy = Some(at);
                }
            } else {
                c.payload_bytes[s] += len as u64;
                l.note_payload(side, Payload { packet: at, len }, &t.head);
            }
            // DNS over TCP: a copy resent is the same segment again.
            if let (Some(m), false) = (&t.dns, retransmitted) {
                l.conv
                    .dns
                    .get_or_insert_with(Default::default)
                    .note(m, at, side == Side::Client);
            }
        }
        l.signals.tcp(
            &Seg {
                at,
                side,
                seq: t.seq,
                ack: t.ack,
                len: t.payload_len,
                flags: t.flags,
                window: t.window,
                retransmitted,
            },
            prev,
            p.ip.ttl,
            l.conv.ttl,
            &mut l.conv.signals,
        );
        let c = &mut l.conv;
        if t.flags.fin() && c.fins[s].is_none() {
            c.fins[s] = Some(at);
        }
        let mut now_closed = false;
        if t.flags.rst() && c.rst.is_none() {
            c.rst = Some((side, at));
            c.rst_ttl = p.ip.ttl;
            c.end = EndReason::Rst;
            now_closed = true;
        } else if c.fins[0].is_some() && c.fins[1].is_some() && c.rst.is_none() {
            c.end = EndReason::Fin;
            now_closed = true;
        }
        if now_closed {
            self.close(&key);
        }
    }

    fn udp(&mut self, p: &Packet) {
        let Transport::Udp(u) = &p.transport else {
            return;
        };
        let key = Key::between(IPPROTO_UDP, p, u.src_port, u.dst_port);
        let (src, dst) = key.ends(p, u.src_port);
        let at = PacketRef {
            number: p.meta.number,
            ts: p.meta.ts,
        };
        let l = match self.live.get_mut(&key) {
            Some(l) => l,
            None => {
                let (client, server) = guess_roles(src, dst);
                let l = self.start(key.clone(), Protocol::Udp, client, server, p);
                l.conv.saw_open = l.conv.client == *src;
                self.live.get_mut(&key).expect("just inserted")
            }
        };
        let side = if l.conv.client == *src {
            Side::Client
        } else {
            Side::Server
        };
        let s = side.index();
        if side == Side::Server {
            server_answered(&mut self.hosts, &self.pairs, l, true);
        }
        let c = &mut l.conv;
        note_gap(c, at);
        c.last = at;
        c.packets[s] += 1;
        c.payload_bytes[s] += u.payload_len as u64;
        if c.log.len() < MAX_LOGGED {
            grow_log(&mut c.log, &mut self.spare_logs);
            c.log.push(PacketBrief {
                packet: at,
                from: side,
                flags: 0,
                rel_seq: None,
                rel_ack: None,
                len: u.payload_len,
                ip_id: p.ip.id,
                ttl: p.ip.ttl,
                digest: u.payload_digest,
            });
        }
        if side == Side::Client && c.packets[Side::Server.index()] == 0 {
            c.syn_count += 1;
            if c.syns.len() < MAX_LISTED {
                c.syns.push(at);
            }
        }
        if let Some(m) = &u.dns {
            c.dns
                .get_or_insert_with(Default::default)
                .note(m, at, side == Side::Client);
        }
        l.note_payload(
            side,
            Payload {
                packet: at,
                len: u.payload_len,
            },
            &u.head,
        );
    }

    fn icmp_error(&mut self, p: &Packet, i: &IcmpMessage) {
        let Some(q) = &i.quoted else {
            self.stats.icmp_unmatched += 1;
            return;
        };
        let proto = q.protocol;
        // The error travels back to the original sender, so a quote without
        // a source (printed captures) takes it from the ICMP's destination.
        let q_src_host = q.src.clone().unwrap_or_else(|| p.dst.clone());
        let key = match (q.src_port, q.dst_port) {
            (Some(sp), Some(dp)) => {
                let k = Key::new(
                    proto,
                    p.vlan,
                    &Endpoint::new(q_src_host.clone(), sp),
                    &Endpoint::new(q.dst.clone(), dp),
                );
                self.live.contains_key(&k).then_some(k)
            }
            (None, Some(dp)) => {
                self.find_by_destination(proto, &q_src_host, &Endpoint::new(q.dst.clone(), dp))
            }
            _ => None,
        };
        let Some(key) = key else {
            self.stats.icmp_unmatched += 1;
            return;
        };
        let at = PacketRef {
            number: p.meta.number,
            ts: p.meta.ts,
        };
        let l = self.live.get_mut(&key).expect("found");
        let about = if l.conv.client.host == q_src_host {
            Side::Client
        } else {
            Side::Server
        };
        l.conv.last = at;
        if l.conv.icmp_errors.len() < MAX_LISTED {
            l.conv.icmp_errors.push(IcmpError {
                packet: at,
                from: p.src.clone(),
                reason: i.reason(),
                about,
            });
        }
    }

    /// The most recent live conversation from `src_host` to `dst`.
    fn find_by_destination(&self, proto: u8, src_host: &Host, dst: &Endpoint) -> Option<Key> {
        self.live
            .iter()
            .filter(|(k, l)| {
                k.proto == proto
                    && ((l.conv.client.host == *src_host && l.conv.server == *dst)
                        || (l.conv.server.host == *src_host && l.conv.client == *dst))
            })
            .max_by_key(|(_, l)| l.conv.last.ts)
            .map(|(k, _)| k.clone())
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
