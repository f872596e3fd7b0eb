//! The matcher: takes finished conversations from every point, groups the
//! ones that are the same connection, and hands the groups' facts to the
//! clock, path and NAT books.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Serialize;
use stalltrace_conversations::{Conversation, PacketBrief, PacketRef, Points, Protocol, Side};
use stalltrace_decode::{Endpoint, TimeDelta, Timestamp};

use crate::clocks::{self, ClockOffset, Pair, Sample};
use crate::keys::{match_keys, MatchKey};
use crate::nat::{NatBook, NatKind, NatMapping};

/// Tunables of the matcher.
#[derive(Clone, Debug)]
pub struct MatcherConfig {
    /// A group is forgotten this long (stream time) after its last member.
    pub retain: TimeDelta,
    /// Mappings listed; more are only counted.
    pub max_mappings: usize,
}

impl Default for MatcherConfig {
    fn default() -> Self {
        MatcherConfig {
            retain: TimeDelta::from_secs(900),
            max_mappings: 10_000,
        }
    }
}

/// Everything matching found.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Matching {
    pub mappings: Vec<NatMapping>,
    pub mappings_not_listed: u64,
    pub offsets: Vec<ClockOffset>,
    /// Capture points from the client side to the server side, one list
    /// per group of points that share connections; points never matched
    /// are left out.
    pub paths: Vec<Vec<String>>,
    /// Connections seen at more than one point.
    pub matched_connections: u64,
    /// Indexes into the point list, for the diagnosis.
    #[serde(skip)]
    pub path_index: Vec<u32>,
    #[serde(skip)]
    pub offset_index: HashMap<u32, TimeDelta>,
}

/// The same connection as seen at one capture point.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub point: u32,
    pub conv: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    /// Its first packets (at most [`SEEN_LOGGED`]), for timelines.
    pub log: Vec<PacketBrief>,
}

/// Packets kept per member: the handshake, the first exchanges, a close.
pub const SEEN_LOGGED: usize = 16;

#[derive(Clone)]
struct Member {
    seen: Seen,
    /// The first packet each way (SYN and SYN-ACK for TCP), for clocks.
    syn: Option<PacketRef>,
    syn_ack: Option<PacketRef>,
    client_ttl: Option<u8>,
    /// Which key joined it to the group, for the mapping's evidence.
    by: MatchKey,
}

impl Member {
    fn sample(&self) -> Sample {
        Sample {
            syn: self.syn,
            syn_ack: self.syn_ack,
            client_ttl: self.client_ttl,
        }
    }
}

#[derive(Clone)]
struct Group {
    members: Vec<Member>,
    last: Timestamp,
    keys: Vec<MatchKey>,
}

/// Weak keys remembered as ambiguous, at most.
const MAX_AMBIGUOUS: usize = 1 << 20;

/// Matches conversations across capture points as they finish.
#[derive(Clone)]
pub struct Matcher {
    cfg: MatcherConfig,
    groups: HashMap<u64, Group>,
    keys: HashMap<MatchKey, u64>,
    ambiguous: HashSet<MatchKey>,
    next_group: u64,
    order: VecDeque<(Timestamp, u64)>,
    pairs: HashMap<(u32, u32), Pair>,
    nat: NatBook,
    matched: u64,
    watermark: Timestamp,
    /// Points where some client has a private address: inside a NAT.
    point_private: HashMap<u32, bool>,
}

impl Matcher {
    pub fn new(cfg: MatcherConfig) -> Self {
        Matcher {
            nat: NatBook::new(cfg.max_mappings),
            cfg,
            groups: HashMap::new(),
            keys: HashMap::new(),
            ambiguous: HashSet::new(),
            next_group: 0,
            order: VecDeque::new(),
            pairs: HashMap::new(),
            matched: 0,
            watermark: Timestamp::ZERO,
            point_private: HashMap::new(),
        }
    }

    /// Takes one finished conversation from any point.
    pub fn observe(&mut self, c: &Conversation) {
        let keys = match_keys(c);
        if keys.is_empty() {
            return;
        }
        // The first packet each way: SYN and SYN-ACK, or the first datagrams.
        let first_from = |side: Side| c.log.iter().find(|p| p.from == side).map(|p| p.packet);
        let (fwd, rev) = match c.protocol {
            Protocol::Tcp => (c.syns.first().copied(), c.syn_acks.first().copied()),
            Protocol::Udp => (first_from(Side::Client), first_from(Side::Server)),
        };
        if c.client.host.is_private() {
            self.point_private.insert(c.point, true);
        } else {
            self.point_private.entry(c.point).or_insert(false);
        }
        // A weak key (timestamp, payload) met twice at one point names no
        // single connection: it is set aside for good, and the conversation
        // gets a group of its own rather than joining the wrong one.
        let mut found = None;
        for k in &keys {
            if self.ambiguous.contains(k) {
                continue;
            }
            let Some(&gid) = self.keys.get(k) else {
                continue;
            };
            let taken = self
                .groups
                .get(&gid)
                .is_some_and(|g| g.members.iter().any(|o| o.seen.point == c.point));
            if taken {
                if !k.is_strong() {
                    self.keys.remove(k);
                    if self.ambiguous.len() < MAX_AMBIGUOUS {
                        self.ambiguous.insert(*k);
                    }
                }
                continue;
            }
            // NAT rewrites one end of a connection, not both: a view
            // whose client and server both differ from every view in the
            // group is another connection that happens to share the key
            // (synthetic traces with fixed ISNs, a folder of unrelated
            // captures: clock offsets of years).
            let plausible = self.groups.get(&gid).is_some_and(|g| {
                g.members.iter().any(|o| {
                    o.seen.client.host == c.client.host || o.seen.server.host == c.server.host
                })
            });
            if !plausible {
                continue;
            }
            found = Some((gid, *k));
            break;
        }
        let (gid, by) = match found {
            Some(x) => x,
            None => {
                self.next_group += 1;
                self.groups.insert(
                    self.next_group,
                    Group {
                        members: Vec::new(),
                        last: c.last.ts,
                        keys: Vec::new(),
                    },
                );
                self.order.push_back((c.last.ts, self.next_group));
                (self.next_group, keys[0])
            }
        };
        let m = Member {
            seen: Seen {
                point: c.point,
                conv: c.id,
                client: c.client.clone(),
                server: c.server.clone(),
                log: c.log.iter().take(SEEN_LOGGED).copied().collect(),
            },
            syn: fwd,
            syn_ack: rev,
            client_ttl: c
                .log
                .iter()
                .find(|p| p.from == Side::Client)
                .and_then(|p| p.ttl),
            by,
        };
        let g = self.groups.get_mut(&gid).expect("group exists");
        g.last = g.last.max(c.last.ts);
        if g.members.iter().any(|o| o.seen.point == m.seen.point) {
            return;
        }
        for k in &keys {
            if !g.keys.contains(k) {
                g.keys.push(*k);
            }
        }
        let others: Vec<Member> = g.members.clone();
        g.members.push(m.clone());
        for k in keys {
            if !self.ambiguous.contains(&k) {
                self.keys.entry(k).or_insert(gid);
            }
        }
        if others.len() == 1 {
            self.matched += 1;
        }
        for o in others {
            self.pair_sample(&o, &m, c.last.ts);
        }
    }

    fn pair_sample(&mut self, x: &Member, y: &Member, at: Timestamp) {
        let (a, b) = if x.seen.point < y.seen.point {
            (x, y)
        } else {
            (y, x)
        };
        self.pairs
            .entry((a.seen.point, b.seen.point))
            .or_default()
            .sample(&a.sample(), &b.sample());
        // The key that joined the later member says how we know.
        let proof = y.by.evidence();
        let (a, b) = (&a.seen, &b.seen);
        if a.client != b.client {
            self.nat.note(
                NatKind::Source,
                &a.client,
                &b.client,
                a.point,
                b.point,
                proof,
                at,
            );
        }
        if a.server != b.server {
            self.nat.note(
                NatKind::Destination,
                &a.server,
                &b.server,
                a.point,
                b.point,
                proof,
                at,
            );
        }
    }

    /// Moves stream time on; forgets groups quiet for longer than `retain`.
    pub fn advance(&mut self, now: Timestamp) {
        if now <= self.watermark {
            return;
        }
        self.watermark = now;
        while let Some((t, gid)) = self.order.front().cloned() {
            if t.saturating_add(self.cfg.retain) >= now {
                break;
            }
            self.order.pop_front();
            match self.groups.get(&gid) {
                Some(g) if g.last.saturating_add(self.cfg.retain) < now => {
                    let g = self.groups.remove(&gid).expect("present");
                    for k in g.keys {
                        if self.keys.get(&k) == Some(&gid) {
                            self.keys.remove(&k);
                        }
                    }
                }
                Some(g) => self.order.push_back((g.last, gid)),
                None => {}
            }
        }
    }

    /// Live groups (for memory checks).
    pub fn live(&self) -> usize {
        self.groups.len()
    }

    /// Where else the connection of `c` was seen (other points only).
    pub fn seen_elsewhere(&self, c: &Conversation) -> Vec<Seen> {
        let Some(gid) = match_keys(c).iter().find_map(|k| self.keys.get(k)) else {
            return Vec::new();
        };
        self.groups
            .get(gid)
            .map(|g| {
                g.members
                    .iter()
                    .filter(|m| m.seen.point != c.point)
                    .map(|m| m.seen.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Concludes: the paths, offsets against each path's first point, and
    /// the mappings oriented inside → outside.
    pub fn finish(self, points: &Points) -> Matching {
        let name = |p: u32| points.name(p);
        let paths = crate::path::order(&self.pairs, &self.point_private);
        // Positions are only ever compared within one path.
        let path_index: Vec<u32> = paths.iter().flatten().copied().collect();
        let (offsets, offset_index) = clocks::offsets(&self.pairs, &paths, name);
        let position = |p: u32| {
            path_index
                .iter()
                .position(|&q| q == p)
                .unwrap_or(usize::MAX)
        };
        let (mappings, mappings_not_listed) = self.nat.finish(position, name);
        Matching {
            mappings,
            mappings_not_listed,
            offsets,
            paths: paths
                .iter()
                .map(|p| p.iter().map(|&q| name(q)).collect())
                .collect(),
            matched_connections: self.matched,
            path_index,
            offset_index,
        }
    }
}
