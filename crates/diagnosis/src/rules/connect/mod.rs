//! `connection-unanswered`, `connection-refused`, `syn-flood`,
//! `port-scan`: connection attempts that failed at this point. A SYN that
//! nothing answered (a filter dropping by policy, a route, an addressee
//! that discards) costs the client its connect timeout, which its SYN
//! schedule names by stack; a SYN refused costs a round trip, and who
//! refused matters: the host itself (its RST carries the TTL its other
//! packets carry), a device in its name (another TTL), or a device's ICMP
//! error (administratively prohibited: a filter). A few are told one
//! server at a time; past a couple of hundred at one point, ten a second
//! or more, they are a flood (many sources, few targets) or a scan (few
//! sources, many ports), told once from bounded counts. A server's own
//! callbacks (ident, DNS) are told with the wait they belong to.

mod words;

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Looked up once per answered connection: a fast hash, not SipHash
/// (keys are addresses the capture shows; the map is bounded).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

use stalltrace_conversations::{Conversation, PacketRef, Protocol, Side};
use stalltrace_decode::{tr, Endpoint, Host, Lang, TimeDelta, Timestamp};

use crate::facts::stacks;
use crate::finding::*;
use crate::remedy::Remedy;
use crate::rule::{Cx, Detect, Rule, Said};
use crate::storm::Storm;

pub(crate) struct Connect;

/// Failed attempts kept individually; the rest are only counted.
const MAX_KEPT: usize = 10_000;
/// More failed attempts than this at one point is a flood or a scan,
/// reported as one finding rather than one per target.
const STORM_MIN: u64 = 200;
/// Server hosts whose TTL is remembered, to tell their RSTs from a
/// device's.
const MAX_HOSTS: usize = 65_536;

impl Rule for Connect {
    fn ids(&self) -> &'static [FindingId] {
        &[
            FindingId::ConnectionUnanswered,
            FindingId::ConnectionRefused,
            FindingId::SynFlood,
            FindingId::PortScan,
        ]
    }

    fn title(&self, id: FindingId, l: Lang) -> &'static str {
        match id {
            FindingId::SynFlood => tr!(l, "syn-flood", "SYN 洪泛"),
            FindingId::PortScan => tr!(l, "port-scan", "端口扫描"),
            FindingId::ConnectionRefused => tr!(l, "connection-refused", "连接被拒绝"),
            _ => tr!(l, "connection-unanswered", "连接无应答"),
        }
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector::default())
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        match &f.facts {
            Facts::Unanswered(u) => words::unanswered(u, l),
            Facts::UnansweredOverflow { count } => words::overflow(*count, l),
            Facts::Storm(s) => words::storm(s, f.id == FindingId::PortScan, l),
            Facts::Refused(r) => words::refused(r, l),
            _ => Said::default(),
        }
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        words::remedies(f)
    }
}

/// A failed attempt, as much as its finding needs.
#[derive(Clone)]
struct Attempt {
    point: u32,
    id: u64,
    client: Endpoint,
    server: Endpoint,
    first: PacketRef,
    syns: Vec<PacketRef>,
    syn_count: u64,
    /// The RST or ICMP error that refused it.
    refusal: Option<(PacketRef, Refusal)>,
    last: Timestamp,
    conv: Box<ConversationRef>,
}

#[derive(Clone)]
enum Refusal {
    Rst {
        ttl: Option<u8>,
    },
    Icmp {
        from: Host,
        reason: stalltrace_decode::IcmpReason,
    },
}

#[derive(Clone, Default)]
struct Detector {
    attempts: Vec<Attempt>,
    overflow: u64,
    /// Every unanswered attempt, counted per point in bounded memory.
    storms: HashMap<u32, Storm>,
    /// Every refused attempt, likewise.
    refusals: HashMap<u32, Storm>,
    /// Points (and kinds: refused or not) whose attempts became a storm,
    /// their list dropped.
    stormed: Vec<(u32, bool)>,
    /// The TTL each server host answers with, per point.
    host_ttl: FastMap<(u32, Host), u8>,
    /// The last packet seen at each point (of any conversation): how long
    /// the capture went on after an attempt.
    ends: FastMap<u32, Timestamp>,
}

/// An attempt is unanswered only if the capture went on this long after
/// its last SYN: the initial retransmission timeout (RFC 6298's 1 s), by
/// which a client that still wanted the connection resends and an answer
/// on its way has arrived. A SYN at the very end of a capture is no
/// evidence of anything.
const SEEN_LONG_ENOUGH: TimeDelta = TimeDelta::from_secs(1);

/// How an attempt failed at this point, if it did.
fn failed(c: &Conversation) -> Option<Option<(PacketRef, Refusal)>> {
    if c.protocol != Protocol::Tcp || c.syn_count == 0 || c.syn_ack_count > 0 {
        return None;
    }
    // The client went on as if answered (its ACKs, its data): the capture
    // sees one direction of a connection that opened (a half-duplex
    // SPAN, an outbound-only tap), not a SYN nobody answered.
    if c.packets[Side::Client.index()] > u64::from(c.syn_count) && c.refused().is_none() {
        return None;
    }
    if let Some(r) = c.refused() {
        return Some(Some((r, Refusal::Rst { ttl: c.rst_ttl })));
    }
    if let Some(e) = c.icmp_errors.iter().rfind(|e| e.about == Side::Client) {
        return Some(Some((
            e.packet,
            Refusal::Icmp {
                from: e.from.clone(),
                reason: e.reason,
            },
        )));
    }
    c.unanswered().then_some(None)
}

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, cx: &mut Cx) {
        let end = self.ends.entry(c.point).or_insert(c.last.ts);
        if c.last.ts > *end {
            *end = c.last.ts;
        }
        if c.protocol == Protocol::Tcp && c.syn_ack_count > 0 {
            if let Some(ttl) = c.ttl[Side::Server.index()] {
                let key = (c.point, c.server.host.clone());
                let full = self.host_ttl.len() >= MAX_HOSTS;
                match self.host_ttl.get_mut(&key) {
                    Some(t) => *t = ttl,
                    None if !full => {
                        self.host_ttl.insert(key, ttl);
                    }
                    None => {}
                }
            }
        }
        // A server's own callbacks (ident, DNS) are told with the wait
        // they belong to, and are no storm.
        let Some(refusal) = failed(c).filter(|_| !c.opened_while_serving) else {
            return;
        };
        let storms = if refusal.is_some() {
            &mut self.refusals
        } else {
            &mut self.storms
        };
        let storm = storms.entry(c.point).or_insert_with(Storm::new);
        storm.add(c);
        if storm.attempts > STORM_MIN && storm.rate() >= crate::storm::STORM_RATE {
            // A flood or a scan at this point: told as one finding from
            // its counts, so the attempts listed one by one can go.
            if !self.stormed.contains(&(c.point, refusal.is_some())) {
                let refused = refusal.is_some();
                self.stormed.push((c.point, refused));
                self.attempts
                    .retain(|a| a.point != c.point || a.refusal.is_some() != refused);
            }
        } else if self.attempts.len() < MAX_KEPT {
            self.attempts.push(Attempt {
                point: c.point,
                id: c.id,
                client: c.client.clone(),
                server: c.server.clone(),
                first: c.syns.first().copied().unwrap_or(c.first),
                syns: c.syns.iter().take(4).copied().collect(),
                syn_count: u64::from(c.syn_count),
                refusal,
                last: c.last.ts,
                conv: Box::new(crate::explain::conv_ref(c, cx.points)),
            });
        } else {
            self.overflow += 1;
        }
    }

    fn finish(&mut self, cx: &mut Cx) {
        let mut storm_points: Vec<(u32, bool)> = Vec::new();
        for (refused, storms) in [(false, &mut self.storms), (true, &mut self.refusals)] {
            let mut storms: Vec<(u32, Storm)> = std::mem::take(storms)
                .into_iter()
                .filter(|(p, s)| s.is_storm(STORM_MIN) || self.stormed.contains(&(*p, refused)))
                .collect();
            storms.sort_by_key(|(p, _)| *p);
            for (point, s) in storms {
                storm_points.push((point, refused));
                emit_storm(cx, point, &s, refused);
            }
        }
        let mut groups: BTreeMap<(u32, bool, Endpoint), Vec<Attempt>> = BTreeMap::new();
        let mut attempts: Vec<Attempt> = std::mem::take(&mut self.attempts)
            .into_iter()
            .filter(|a| {
                let refused = a.refusal.is_some();
                !cx.told(a.point, a.id) && !storm_points.contains(&(a.point, refused))
            })
            .collect();
        take_scans(cx, &mut attempts);
        for a in attempts {
            let refused = a.refusal.is_some();
            if cx.told(a.point, a.id) || storm_points.contains(&(a.point, refused)) {
                continue;
            }
            let seen_after = self.ends.get(&a.point).map(|e| *e - a.last);
            if !refused && seen_after.is_none_or(|d| d < SEEN_LONG_ENOUGH) {
                continue;
            }
            groups
                .entry((a.point, refused, a.server.clone()))
                .or_default()
                .push(a);
        }
        for ((point, refused, server), v) in groups {
            if refused {
                self.emit_refused(cx, point, server, &v);
            } else {
                emit_unanswered(cx, point, server, &v);
            }
        }
        if self.overflow > 0 && storm_points.is_empty() {
            let f = Finding::new(
                FindingId::ConnectionUnanswered,
                Severity::Warning,
                String::new(),
                Facts::UnansweredOverflow {
                    count: self.overflow,
                },
            );
            cx.emit(Timestamp::ZERO, f);
        }
    }
}

fn emit_storm(cx: &mut Cx, point: u32, s: &Storm, refused: bool) {
    let id = if s.is_scan() {
        FindingId::PortScan
    } else {
        FindingId::SynFlood
    };
    emit_storm_as(cx, point, s, refused, id);
}

fn emit_storm_as(cx: &mut Cx, point: u32, s: &Storm, refused: bool, id: FindingId) {
    let span = match (s.first, s.last) {
        (Some(a), Some(b)) => b - a,
        _ => TimeDelta::ZERO,
    };
    let f = Finding::new(
        id,
        Severity::Warning,
        cx.name(point),
        Facts::Storm(StormFacts {
            attempts: s.attempts,
            syns: s.syns,
            sources: s.distinct_sources.len() as u64,
            sources_capped: s.sources_capped(),
            ports: s.distinct_ports.len() as u64,
            hosts: s.distinct_hosts.len() as u64,
            span,
            top_sources: s.sources.top(5),
            top_targets: s
                .targets
                .top(5)
                .into_iter()
                .map(|((h, p), n)| (Endpoint::new(h, p), n))
                .collect(),
            refused,
            refused_attempts: if refused { s.attempts } else { s.refused },
        }),
    );
    cx.emit(s.first.unwrap_or_default(), f);
}

/// A source whose failed attempts went to this many targets (hosts and
/// ports) is scanning: told as one finding, not one per target (Zeek's
/// nmap-vsn.pcap: a sweep of port 80 and 443 across a subnet; a 29-port
/// scan gave 29 "unanswered" warnings). Zeek's scan policy counts 25
/// targets; a slow scan of a few is still one.
const SCAN_TARGETS: usize = 10;
const SCAN_WITHIN: TimeDelta = TimeDelta::from_secs(300);

/// The attempts of scanning sources, taken out of `attempts` and told
/// as one port-scan finding per source.
fn take_scans(cx: &mut Cx, attempts: &mut Vec<Attempt>) {
    type Seen = (BTreeSet<Endpoint>, Timestamp, Timestamp);
    let mut by_source: BTreeMap<(u32, Host), Seen> = BTreeMap::new();
    for a in attempts.iter() {
        let e = by_source
            .entry((a.point, a.client.host.clone()))
            .or_insert_with(|| (BTreeSet::new(), a.first.ts, a.last));
        e.0.insert(a.server.clone());
        e.1 = e.1.min(a.first.ts);
        e.2 = e.2.max(a.last);
    }
    for ((point, source), (targets, first, last)) in by_source {
        // Within minutes: one SYN an hour to the next port (Zeek's
        // rotation.pcap) is attempts, each told, not a scan.
        if targets.len() < SCAN_TARGETS || last - first > SCAN_WITHIN {
            continue;
        }
        let mut s = Storm::new();
        attempts.retain(|a| {
            let mine = a.point == point && a.client.host == source;
            if mine {
                s.add_attempt(&a.client.host, &a.server, a.syn_count, (a.first.ts, a.last));
                s.refused += u64::from(a.refusal.is_some());
            }
            !mine
        });
        let all_refused = s.refused == s.attempts;
        emit_storm_as(cx, point, &s, all_refused, FindingId::PortScan);
    }
}

fn syn_evidence(cx: &Cx, v: &[Attempt]) -> Vec<Evidence> {
    let mut evidence: Vec<Evidence> = v
        .iter()
        .take(4)
        .flat_map(|a| a.syns.iter().map(move |s| (a, *s)))
        .map(|(a, s)| Evidence {
            point: cx.name(a.point),
            packet: s.number,
            time: s.ts,
            time_of_day: s.ts.time_of_day(),
            shows: Shows::Syn {
                client: a.client.clone(),
                server: a.server.clone(),
            },
        })
        .collect();
    evidence.truncate(8);
    evidence
}

fn emit_unanswered(cx: &mut Cx, point: u32, server: Endpoint, v: &[Attempt]) {
    let first = &v[0];
    let syns: u64 = v.iter().map(|a| a.syn_count).sum();
    let last = v.iter().map(|a| a.last).max().unwrap_or(first.last);
    // The first attempt's retries name the client's stack and its connect
    // timeout: what the failed attempt costs the user.
    let retries: Vec<f64> = first
        .syns
        .iter()
        .skip(1)
        .map(|s| (s.ts - first.first.ts).secs_f64())
        .collect();
    let backoff = stacks::fitting(&retries);
    let connect_timeout = backoff
        .iter()
        .find_map(|s| s.gives_up)
        .map(TimeDelta::from_secs_f64);
    let mut f = Finding::new(
        FindingId::ConnectionUnanswered,
        Severity::Warning,
        cx.name(point),
        Facts::Unanswered(UnansweredFacts {
            client: first.client.clone(),
            server,
            attempts: v.len() as u64,
            syns,
            span: last - first.first.ts,
            backoff,
            connect_timeout,
        }),
    );
    f.conversation = Some((*first.conv).clone());
    f.evidence = syn_evidence(cx, v);
    cx.emit(first.first.ts, f);
}

impl Detector {
    fn emit_refused(&self, cx: &mut Cx, point: u32, server: Endpoint, v: &[Attempt]) {
        let first = &v[0];
        let Some((last_refusal, how)) = v.iter().rev().find_map(|a| a.refusal.clone()) else {
            return;
        };
        let host_ttl = self.host_ttl.get(&(point, server.host.clone())).copied();
        let refuser = match &how {
            Refusal::Icmp { from, reason } => Refuser::Icmp {
                from: from.clone(),
                reason: *reason,
            },
            Refusal::Rst { ttl: Some(ttl) } => match host_ttl {
                Some(h) if h == *ttl => Refuser::Host,
                Some(h) => Refuser::Device {
                    ttl: *ttl,
                    host_ttl: h,
                },
                None => Refuser::Unknown,
            },
            Refusal::Rst { ttl: None } => Refuser::Unknown,
        };
        let took = last_refusal.ts - first.first.ts;
        // A filter's refusal is a policy to change; the host's own, a
        // service that is not there.
        let severity = match &refuser {
            Refuser::Host | Refuser::Unknown => Severity::Info,
            _ => Severity::Warning,
        };
        let mut f = Finding::new(
            FindingId::ConnectionRefused,
            severity,
            cx.name(point),
            Facts::Refused(RefusedFacts {
                client: first.client.clone(),
                server,
                attempts: v.len() as u64,
                refuser,
                took,
                syns: v.iter().map(|a| a.syn_count).sum(),
            }),
        );
        f.cost = Some(took);
        f.conversation = Some((*first.conv).clone());
        let mut evidence = syn_evidence(cx, &v[..1]);
        for a in v.iter().take(3) {
            if let Some((p, r)) = &a.refusal {
                let icmp = match r {
                    Refusal::Icmp { reason, .. } => Some(*reason),
                    Refusal::Rst { .. } => None,
                };
                let by = match r {
                    Refusal::Icmp { from, .. } => from.clone(),
                    Refusal::Rst { .. } => a.server.host.clone(),
                };
                evidence.push(Evidence {
                    point: cx.name(a.point),
                    packet: p.number,
                    time: p.ts,
                    time_of_day: p.ts.time_of_day(),
                    shows: Shows::Refusal {
                        by,
                        after: p.ts - a.first.ts,
                        icmp,
                    },
                });
            }
        }
        evidence.sort_by_key(|e| (e.time, e.packet));
        f.evidence = evidence;
        cx.emit(first.first.ts, f);
    }
}

#[cfg(test)]
mod tests;
