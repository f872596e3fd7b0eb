use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;
use stalltrace_conversations::{Conversation, PacketBrief, PacketRef, Protocol, Side};
use stalltrace_decode::{Endpoint, TimeDelta, Timestamp};

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

/// One address translation seen between two capture points.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct NatMapping {
    /// "source" (the client's address was rewritten: SNAT, masquerade) or
    /// "destination" (the server's: DNAT, port forwarding).
    pub kind: String,
    pub inside: Endpoint,
    pub outside: Endpoint,
    pub inside_point: String,
    pub outside_point: String,
    /// Why we know it is the same connection.
    pub evidence: String,
    pub first_seen: Timestamp,
}

/// A point's clock against the reference point's.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ClockOffset {
    pub point: String,
    pub reference: String,
    /// Add this to the point's times to get the reference's clock.
    pub offset: TimeDelta,
    /// Parts per million the point's clock runs fast (estimated when the
    /// matches span long enough).
    pub drift_ppm: Option<f64>,
    /// Matched connections the estimate rests on.
    pub samples: u64,
    /// Half the best round trip between the points: the estimate's bound.
    pub uncertainty: TimeDelta,
    /// Applied to the timelines: only when larger than its uncertainty,
    /// since a smaller one is no evidence the clocks differ.
    pub applied: bool,
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

struct Group {
    members: Vec<Member>,
    last: Timestamp,
    keys: Vec<MatchKey>,
}

/// What makes two conversations at two points the same one. The ISN is
/// kept by NAT; devices that randomise sequence numbers (Cisco ASA by
/// default) keep the SYN's TCP timestamp value and the payload; UDP has
/// only its payload. A payload is paired with its IPv4 ID, which NAT keeps,
/// so that two clients sending the same request do not pass for one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
enum MatchKey {
    Isn {
        isn: u32,
        port: u16,
    },
    SynTimestamp {
        tsval: u32,
        port: u16,
    },
    Payload {
        proto: u8,
        from: Side,
        digest: u64,
        ip_id: u16,
        port: u16,
    },
}

impl MatchKey {
    fn evidence(self) -> String {
        match self {
            MatchKey::Isn { port, .. } => format!("the same connection at both points (same initial sequence numbers, server port {port})"),
            MatchKey::SynTimestamp { port, .. } => format!("the same connection at both points (same SYN timestamp value, server port {port}; sequence numbers rewritten)"),
            MatchKey::Payload { proto: 17, port, .. } => format!("the same UDP exchange at both points (same first datagram and IP ID, server port {port})"),
            MatchKey::Payload { port, .. } => format!("the same connection at both points (same first payload and IP ID, server port {port}; sequence numbers rewritten)"),
        }
    }
}

/// Every key a conversation can be found by, strongest first.
fn match_keys(c: &Conversation) -> Vec<MatchKey> {
    let port = c.server.port;
    let mut keys = Vec::new();
    if c.protocol == Protocol::Tcp {
        if let Some(isn) = c.client_isn {
            keys.push(MatchKey::Isn { isn: isn.0, port });
        }
        if let Some((tsval, _)) = c.syn_options.timestamp {
            keys.push(MatchKey::SynTimestamp { tsval, port });
        }
    }
    let proto = if c.protocol == Protocol::Tcp { 6 } else { 17 };
    if let Some(p) = c.log.iter().find(|p| p.len > 0 && p.digest != 0) {
        keys.push(MatchKey::Payload {
            proto,
            from: p.from,
            digest: p.digest,
            ip_id: p.ip_id.unwrap_or(0),
            port,
        });
    }
    keys
}

/// A rewrite seen, before the path says which side is inside.
struct PendingMapping {
    /// The pairs of points that saw it, with the endpoint each saw.
    pairs: Vec<(u32, Endpoint, u32, Endpoint)>,
    evidence: String,
    first_seen: Timestamp,
}

/// Best estimate for one ordered pair of points (a < b): clock of b minus
/// clock of a, and which one is nearer the client.
#[derive(Default)]
struct Pair {
    samples: u64,
    /// (round trip, theta, time) of the best sample per minute bucket.
    buckets: BTreeMap<i64, (i64, i64, Timestamp)>,
    /// Votes that a is nearer the client than b, and the other way.
    a_first: u64,
    b_first: u64,
}

const BUCKET_NS: i64 = 60_000_000_000;
/// Mappings past the listing cap counted exactly up to this many.
const MAX_OVERFLOW_TRACKED: usize = 1 << 20;
/// Weak keys remembered as ambiguous, at most.
const MAX_AMBIGUOUS: usize = 1 << 20;
const ORDER_NOISE_NS: i64 = 1_000;
const MAX_BUCKETS: usize = 1440;

/// Matches conversations across capture points as they finish.
pub struct Matcher {
    cfg: MatcherConfig,
    groups: HashMap<u64, Group>,
    keys: HashMap<MatchKey, u64>,
    ambiguous: std::collections::HashSet<MatchKey>,
    next_group: u64,
    order: VecDeque<(Timestamp, u64)>,
    pairs: HashMap<(u32, u32), Pair>,
    mappings: Vec<NatMapping>,
    pending_mappings: HashMap<(&'static str, Endpoint, Endpoint), PendingMapping>,
    overflow_seen: std::collections::HashSet<u64>,
    mappings_overflow: u64,
    matched: u64,
    watermark: Timestamp,
    /// Which points are inside (nearer the client), decided at the end.
    point_private: HashMap<u32, bool>,
}

impl Matcher {
    pub fn new(cfg: MatcherConfig) -> Self {
        Matcher {
            cfg,
            groups: HashMap::new(),
            keys: HashMap::new(),
            ambiguous: Default::default(),
            next_group: 0,
            order: VecDeque::new(),
            pairs: HashMap::new(),
            mappings: Vec::new(),
            pending_mappings: HashMap::new(),
            overflow_seen: Default::default(),
            mappings_overflow: 0,
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
        // A point where some client has a private address is inside a NAT.
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
                if !matches!(k, MatchKey::Isn { .. }) {
                    self.keys.remove(k);
                    if self.ambiguous.len() < MAX_AMBIGUOUS {
                        self.ambiguous.insert(*k);
                    }
                }
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
        let pair = self.pairs.entry((a.seen.point, b.seen.point)).or_default();
        if let (Some(sa), Some(sb), Some(ka), Some(kb)) = (a.syn, b.syn, a.syn_ack, b.syn_ack) {
            // d1: the SYN, client to server; d2: the SYN-ACK, server to client.
            let d1 = (sb.ts - sa.ts).nanos();
            let d2 = (kb.ts - ka.ts).nanos();
            let theta = (d1 + d2) / 2;
            let trip = (d1 - d2) / 2; // signed one-way delay from a to b
            pair.samples += 1;
            let bucket = sa.ts.nanos().div_euclid(BUCKET_NS);
            let better = pair
                .buckets
                .get(&bucket)
                .is_none_or(|(t, _, _)| trip.abs() < *t);
            if better && (pair.buckets.len() < MAX_BUCKETS || pair.buckets.contains_key(&bucket)) {
                pair.buckets.insert(bucket, (trip.abs(), theta, sa.ts));
            }
            // Below a microsecond the sign is noise (drift, rounding), not
            // which point the packets passed first.
            if trip >= ORDER_NOISE_NS {
                pair.a_first += 1;
            } else if trip <= -ORDER_NOISE_NS {
                pair.b_first += 1;
            }
        } else if let (Some(ta), Some(tb)) = (a.client_ttl, b.client_ttl) {
            // Routers lower the TTL on the way from the client.
            if ta > tb {
                pair.a_first += 1;
            } else if tb > ta {
                pair.b_first += 1;
            }
        }
        // The key that joined the later member says how we know.
        let proof = y.by.evidence();
        let (a, b) = (&a.seen, &b.seen);
        if a.client != b.client {
            self.note_mapping("source", &a.client, &b.client, a.point, b.point, &proof, at);
        }
        if a.server != b.server {
            self.note_mapping(
                "destination",
                &a.server,
                &b.server,
                a.point,
                b.point,
                &proof,
                at,
            );
        }
    }

    /// Remembers a rewrite seen between points `pa` and `pb`: each distinct
    /// one once (up to the listing cap, the rest counted), with the pairs
    /// of points that saw it, so memory follows the mappings listed, not
    /// the connections matched.
    #[allow(clippy::too_many_arguments)]
    fn note_mapping(
        &mut self,
        kind: &'static str,
        ea: &Endpoint,
        eb: &Endpoint,
        pa: u32,
        pb: u32,
        proof: &str,
        at: Timestamp,
    ) {
        let key = if ea <= eb {
            (kind, ea.clone(), eb.clone())
        } else {
            (kind, eb.clone(), ea.clone())
        };
        if let Some(m) = self.pending_mappings.get_mut(&key) {
            if !m
                .pairs
                .iter()
                .any(|(x, _, y, _)| (*x == pa && *y == pb) || (*x == pb && *y == pa))
            {
                m.pairs.push((pa, ea.clone(), pb, eb.clone()));
            }
            return;
        }
        if self.pending_mappings.len() >= self.cfg.max_mappings {
            // Counted once each, by an 8-byte fingerprint, however many pairs
            // of points see it.
            use std::hash::BuildHasher;
            let fp = foldhash::fast::FixedState::with_seed(7).hash_one(&key);
            if self.overflow_seen.len() < MAX_OVERFLOW_TRACKED {
                if self.overflow_seen.insert(fp) {
                    self.mappings_overflow += 1;
                }
            } else {
                self.mappings_overflow += 1;
            }
            return;
        }
        self.pending_mappings.insert(
            key,
            PendingMapping {
                pairs: vec![(pa, ea.clone(), pb, eb.clone())],
                evidence: proof.to_string(),
                first_seen: at,
            },
        );
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

    /// Concludes: offsets against the first point of the path, the path,
    /// and the mappings oriented inside → outside.
    pub fn finish(mut self, names: &[String]) -> Matching {
        let name = |p: u32| {
            names
                .get(p as usize)
                .cloned()
                .unwrap_or_else(|| format!("point {p}"))
        };
        // Order: a point is before another when the votes say it is nearer
        // the client; rank by how many points each one precedes.
        let mut points: Vec<u32> = self.pairs.keys().flat_map(|(a, b)| [*a, *b]).collect();
        points.sort();
        points.dedup();
        let before = |x: u32, y: u32| -> bool {
            let (a, b, flip) = if x < y { (x, y, false) } else { (y, x, true) };
            match self.pairs.get(&(a, b)) {
                Some(p) if p.a_first != p.b_first => (p.a_first > p.b_first) != flip,
                _ => {
                    // No timing: the side with private clients is inside.
                    let px = self.point_private.get(&x).copied().unwrap_or(false);
                    let py = self.point_private.get(&y).copied().unwrap_or(false);
                    px && !py
                }
            }
        };
        // Points that share connections form one path; unrelated captures
        // (two set-ups in one folder) form several.
        let mut component: HashMap<u32, u32> = points.iter().map(|&p| (p, p)).collect();
        fn root(c: &HashMap<u32, u32>, mut p: u32) -> u32 {
            while c[&p] != p {
                p = c[&p];
            }
            p
        }
        for &(a, b) in self.pairs.keys() {
            let (ra, rb) = (root(&component, a), root(&component, b));
            if ra != rb {
                component.insert(ra.max(rb), ra.min(rb));
            }
        }
        let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for &p in &points {
            groups.entry(root(&component, p)).or_default().push(p);
        }
        let mut paths_index: Vec<Vec<u32>> = Vec::new();
        for members in groups.values() {
            let mut ranked: Vec<(usize, u32)> = members
                .iter()
                .map(|&p| {
                    (
                        members.iter().filter(|&&q| q != p && before(p, q)).count(),
                        p,
                    )
                })
                .collect();
            ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            paths_index.push(ranked.iter().map(|(_, p)| *p).collect());
        }
        // Positions are only ever compared within one path.
        let path_index: Vec<u32> = paths_index.iter().flatten().copied().collect();

        // Offsets against each path's first point, through direct pairs.
        let mut offsets = Vec::new();
        let mut offset_index = HashMap::new();
        for path in &paths_index {
            let Some(&reference) = path.first() else {
                continue;
            };
            let path_index = path;
            offset_index.insert(reference, TimeDelta::ZERO);
            for &p in path_index.iter().skip(1) {
                let (a, b) = if reference < p {
                    (reference, p)
                } else {
                    (p, reference)
                };
                let Some(pair) = self.pairs.get(&(a, b)) else {
                    continue;
                };
                let Some((best_trip, best_theta, _)) =
                    pair.buckets.values().min_by_key(|(t, _, _)| *t).copied()
                else {
                    continue;
                };
                // theta is clock(b) - clock(a); the point's offset brings it
                // onto the reference's clock.
                let clock_p_minus_ref = if p == b { best_theta } else { -best_theta };
                let drift_ppm = drift(&pair.buckets).map(|ppm| if p == b { ppm } else { -ppm });
                let offset = TimeDelta::from_nanos(-clock_p_minus_ref);
                let applied = offset.abs().nanos() > best_trip;
                offset_index.insert(p, if applied { offset } else { TimeDelta::ZERO });
                offsets.push(ClockOffset {
                    applied,
                    point: name(p),
                    reference: name(reference),
                    offset,
                    drift_ppm,
                    samples: pair.samples,
                    uncertainty: TimeDelta::from_nanos(best_trip),
                });
            }
        }

        // Mappings, oriented: the point nearer the client is inside.
        let position = |p: u32| {
            path_index
                .iter()
                .position(|&q| q == p)
                .unwrap_or(usize::MAX)
        };
        // The same rewrite is seen by every pair of points across the
        // device; the neighbouring pair says where the device is.
        let pending = std::mem::take(&mut self.pending_mappings);
        for ((kind, ..), pm) in pending {
            // The neighbouring pair of points says where the device is.
            let Some((pa, ea, pb, eb)) = pm
                .pairs
                .into_iter()
                .min_by_key(|(pa, _, pb, _)| position(*pa).abs_diff(position(*pb)))
            else {
                continue;
            };
            // Whichever endpoint the inside point saw is the inside one, for
            // a rewritten source and a rewritten destination alike.
            let (inside, outside, ip, op) = if position(pa) <= position(pb) {
                (ea, eb, pa, pb)
            } else {
                (eb, ea, pb, pa)
            };
            self.mappings.push(NatMapping {
                kind: kind.to_string(),
                inside,
                outside,
                inside_point: name(ip),
                outside_point: name(op),
                evidence: pm.evidence,
                first_seen: pm.first_seen,
            });
        }
        self.mappings.sort_by(|a, b| {
            a.first_seen
                .cmp(&b.first_seen)
                .then_with(|| a.inside.cmp(&b.inside))
        });
        Matching {
            mappings: self.mappings,
            mappings_not_listed: self.mappings_overflow,
            offsets,
            paths: paths_index
                .iter()
                .map(|p| p.iter().map(|&q| name(q)).collect())
                .collect(),
            matched_connections: self.matched,
            path_index,
            offset_index,
        }
    }
}

/// Slope of the best offset samples over time, in ppm, when they span at
/// least ten minutes.
fn drift(buckets: &BTreeMap<i64, (i64, i64, Timestamp)>) -> Option<f64> {
    let pts: Vec<(f64, f64)> = buckets
        .values()
        .map(|(_, theta, t)| (t.secs_f64(), *theta as f64 / 1e9))
        .collect();
    let (first, last) = (pts.first()?, pts.last()?);
    if last.0 - first.0 < 600.0 || pts.len() < 3 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    (sxx > 0.0).then(|| sxy / sxx * 1e6)
}
