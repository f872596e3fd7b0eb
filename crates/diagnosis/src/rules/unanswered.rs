//! `connection-unanswered`, `syn-flood`, `port-scan`: SYNs nobody
//! answered at this point (no SYN-ACK, RST or ICMP error came back).
//! A few are told one server at a time; past a couple of hundred at one
//! point they are a flood (many sources, few targets) or a scan (few
//! sources, many ports), told once from bounded counts. A SYN that a judged
//! wait names as its callback is told there, not here.

use std::collections::{BTreeMap, HashMap};

use stalltrace_conversations::{Conversation, Protocol};
use stalltrace_decode::{tr, Endpoint, Lang, TimeDelta, Timestamp};

use crate::finding::*;
use crate::rule::{Cx, Detect, Rule, Said};
use crate::storm::Storm;

pub(crate) struct Unanswered;

/// Unanswered attempts kept individually; the rest are only counted.
const MAX_UNANSWERED: usize = 10_000;
/// More unanswered attempts than this at one point is a flood or a scan,
/// reported as one finding rather than one per target.
const STORM_MIN: u64 = 200;

impl Rule for Unanswered {
    fn ids(&self) -> &'static [FindingId] {
        &[
            FindingId::ConnectionUnanswered,
            FindingId::SynFlood,
            FindingId::PortScan,
        ]
    }

    fn title(&self, id: FindingId, l: Lang) -> &'static str {
        match id {
            FindingId::SynFlood => tr!(l, "syn-flood", "SYN 洪泛"),
            FindingId::PortScan => tr!(l, "port-scan", "端口扫描"),
            _ => tr!(l, "connection-unanswered", "连接无应答"),
        }
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector::default())
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        match &f.facts {
            Facts::Unanswered(u) => unanswered(u, l),
            Facts::UnansweredOverflow { count } => Said {
                summary: tr!(
                    l,
                    format!("{count} further unanswered connection attempts were counted but not listed."),
                    format!("另有 {count} 次没有应答的连接尝试，只计数未列出。")
                ),
                details: Vec::new(),
            },
            Facts::Storm(s) => storm(s, f.id == FindingId::PortScan, l),
            _ => Said::default(),
        }
    }
}

fn unanswered(u: &UnansweredFacts, l: Lang) -> Said {
    let (client, server, span) = (&u.client, &u.server, u.span);
    let summary = match (u.attempts, l) {
        (1, Lang::En) => format!(
            "{client} sent {} to {server} over {span}; none was answered at this capture point.",
            l.count(u.syns, "SYN", "SYNs")
        ),
        (1, Lang::ZhCn) => format!(
            "{client} 在 {} 内向 {server} 发送了 {} 个 SYN，在此捕获点都没有应答。",
            l.dur(span),
            u.syns
        ),
        (n, Lang::En) => format!(
            "{n} connection attempts ({}) to {server} were never answered at this capture point.",
            l.count(u.syns, "SYN", "SYNs")
        ),
        (n, Lang::ZhCn) => format!(
            "发往 {server} 的 {n} 次连接尝试（{} 个 SYN）在此捕获点都没有应答。",
            u.syns
        ),
    };
    Said {
        summary,
        details: vec![tr!(
            l,
            "No SYN-ACK, RST or ICMP error came back: the SYNs were dropped further on (a firewall dropping by policy, a route) or the addressee discards them silently.",
            "没有任何 SYN-ACK、RST 或 ICMP 差错返回：SYN 在更远处被丢弃（防火墙按策略丢弃、路由问题），或被目标主机静默丢弃。"
        )
        .into()],
    }
}

fn storm(s: &StormFacts, scan: bool, l: Lang) -> Said {
    let sources = if s.sources_capped {
        format!("{}+", s.sources)
    } else {
        s.sources.to_string()
    };
    let top_sources: Vec<String> = s
        .top_sources
        .iter()
        .map(|(h, n)| format!("{h} ({n})"))
        .collect();
    let top_targets: Vec<String> = s
        .top_targets
        .iter()
        .map(|(e, n)| format!("{e} ({n})"))
        .collect();
    let first = |v: &[String]| v.first().cloned().unwrap_or_default();
    let summary = match (scan, l) {
        (false, Lang::En) => format!(
            "SYN flood: {} connection attempts ({} SYNs) from {sources} sources over {} were never answered at this capture point; most went to {}.",
            s.attempts,
            s.syns,
            l.dur(s.span),
            first(&top_targets)
        ),
        (false, Lang::ZhCn) => format!(
            "SYN 洪泛：{} 内来自 {sources} 个源地址的 {} 次连接尝试（{} 个 SYN）在此捕获点都没有应答；大多发往 {}。",
            l.dur(s.span),
            s.attempts,
            s.syns,
            first(&top_targets)
        ),
        (true, Lang::En) => format!(
            "Port scan: {} probed {} ports with {} unanswered connection attempts over {}.",
            first(&top_sources),
            s.ports,
            s.attempts,
            l.dur(s.span)
        ),
        (true, Lang::ZhCn) => format!(
            "端口扫描：{} 在 {} 内以 {} 次没有应答的连接尝试探测了 {} 个端口。",
            first(&top_sources),
            l.dur(s.span),
            s.attempts,
            s.ports
        ),
    };
    Said {
        summary,
        details: vec![
            tr!(
                l,
                format!("Top sources: {}.", top_sources.join(", ")),
                format!("主要源地址：{}。", top_sources.join("、"))
            ),
            tr!(
                l,
                format!("Top targets: {}.", top_targets.join(", ")),
                format!("主要目标：{}。", top_targets.join("、"))
            ),
            tr!(
                l,
                "Counted in bounded memory (a space-saving top-k); single attempts are not listed one by one.",
                "以有界内存计数（space-saving top-k）；不逐条列出单次尝试。"
            )
            .into(),
        ],
    }
}

#[derive(Default)]
struct Detector {
    unanswered: Vec<Conversation>,
    overflow: u64,
    /// Every unanswered attempt, counted per point in bounded memory.
    storms: HashMap<u32, Storm>,
}

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, _cx: &mut Cx) {
        if c.protocol != Protocol::Tcp || !c.unanswered() {
            return;
        }
        let storm = self.storms.entry(c.point).or_insert_with(Storm::new);
        storm.add(c);
        if storm.attempts > STORM_MIN {
            // A flood or a scan at this point: told as one finding from
            // its counts, so the attempts listed one by one can go.
            if storm.attempts == STORM_MIN + 1 {
                self.unanswered.retain(|u| u.point != c.point);
            }
        } else if self.unanswered.len() < MAX_UNANSWERED {
            self.unanswered.push(c.clone());
        } else {
            self.overflow += 1;
        }
    }

    fn finish(&mut self, cx: &mut Cx) {
        let mut storms: Vec<(u32, Storm)> = std::mem::take(&mut self.storms)
            .into_iter()
            .filter(|(_, s)| s.attempts > STORM_MIN)
            .collect();
        storms.sort_by_key(|(p, _)| *p);
        let storm_points: Vec<u32> = storms.iter().map(|(p, _)| *p).collect();
        for (point, s) in storms {
            let span = match (s.first, s.last) {
                (Some(a), Some(b)) => b - a,
                _ => TimeDelta::ZERO,
            };
            let (id, scan) = if s.is_scan() {
                (FindingId::PortScan, true)
            } else {
                (FindingId::SynFlood, false)
            };
            let _ = scan;
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
                    span,
                    top_sources: s.sources.top(5),
                    top_targets: s
                        .targets
                        .top(5)
                        .into_iter()
                        .map(|((h, p), n)| (Endpoint::new(h, p), n))
                        .collect(),
                }),
            );
            cx.emit(s.first.unwrap_or_default(), f);
        }
        let mut groups: BTreeMap<(u32, Endpoint), Vec<Conversation>> = BTreeMap::new();
        for c in std::mem::take(&mut self.unanswered) {
            if cx.claimed.contains(&(c.point, c.id)) || storm_points.contains(&c.point) {
                continue;
            }
            groups
                .entry((c.point, c.server.clone()))
                .or_default()
                .push(c);
        }
        for ((point, server), convs) in groups {
            let first = &convs[0];
            let syns: u64 = convs.iter().map(|c| u64::from(c.syn_count)).sum();
            let mut evidence: Vec<Evidence> = convs
                .iter()
                .take(4)
                .flat_map(|c| c.syns.iter().take(4).map(move |s| (c, *s)))
                .map(|(c, s)| {
                    cx.evidence(
                        c,
                        s,
                        Shows::Syn {
                            client: c.client.clone(),
                            server: c.server.clone(),
                        },
                    )
                })
                .collect();
            evidence.truncate(8);
            let last = convs
                .iter()
                .map(|c| c.last.ts)
                .max()
                .unwrap_or(first.last.ts);
            let mut f = Finding::new(
                FindingId::ConnectionUnanswered,
                Severity::Warning,
                cx.name(point),
                Facts::Unanswered(UnansweredFacts {
                    client: first.client.clone(),
                    server,
                    attempts: convs.len() as u64,
                    syns,
                    span: last - first.first.ts,
                }),
            );
            f.conversation = Some(crate::explain::conv_ref(first, cx.points));
            f.evidence = evidence;
            cx.emit(first.first.ts, f);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{diagnose, one};

    #[test]
    fn syns_nobody_answers_are_told_per_server() {
        let all = diagnose(
            "\
10:00:00.000000 IP 192.0.2.10.50000 > 198.51.100.25.8080: Flags [S], seq 1000, win 64240, length 0
10:00:01.000000 IP 192.0.2.10.50000 > 198.51.100.25.8080: Flags [S], seq 1000, win 64240, length 0
10:00:03.000000 IP 192.0.2.10.50000 > 198.51.100.25.8080: Flags [S], seq 1000, win 64240, length 0
",
        );
        let f = one(&all, FindingId::ConnectionUnanswered);
        let Facts::Unanswered(u) = &f.facts else {
            panic!("{:?}", f.facts)
        };
        assert_eq!((u.attempts, u.syns), (1, 3));
        assert_eq!(u.span, TimeDelta::from_secs(3));
        assert_eq!(f.evidence.len(), 3);
    }

    #[test]
    fn past_two_hundred_attempts_a_scan_is_one_finding() {
        let trace: String = (0..250)
            .map(|i| {
                format!(
                    "10:00:00.{i:06} IP 192.0.2.66.40000 > 198.51.100.25.{}: Flags [S], seq 1, win 1024, length 0\n",
                    1000 + i
                )
            })
            .collect();
        let all = diagnose(&trace);
        assert_eq!(all.len(), 1, "{all:#?}");
        let f = one(&all, FindingId::PortScan);
        let Facts::Storm(s) = &f.facts else {
            panic!("{:?}", f.facts)
        };
        assert_eq!((s.attempts, s.ports, s.sources), (250, 250, 1));
    }
}
