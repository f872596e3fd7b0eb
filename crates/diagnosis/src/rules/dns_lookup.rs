//! `dns-slow`, `dns-unanswered`: a client's lookup of a name, told as
//! the user meets it: its queries to each name server in turn (or at
//! once), resent on the stub resolver's timer, and the answer that ended
//! it, or none. glibc waits 5 s per try, one server at a time, two rounds;
//! musl asks every server at once and resends every 2.5 s; the Windows
//! client resends at +1, +2, +4, +8 s (`facts/resolvers.rs`). The schedule
//! names the resolver; the server that never answered names what to fix.
//! When the client then connects to an address the answer gave, the
//! lookup's time is that connection's delay.
//!
//! A server's lookups that a wait names (a reverse lookup before a
//! greeting) are told with that wait, not here.

use std::collections::{BTreeMap, VecDeque};

use stalltrace_conversations::{Conversation, PacketRef, Protocol};
use stalltrace_decode::{tr, DnsAnswer, DnsQuestion, Endpoint, Host, Lang, TimeDelta};

use crate::facts::resolvers;
use crate::finding::*;
use crate::remedy::{literal, Remedy, Target, Text};
use crate::rule::{severity_of, Cx, Detect, Rule, Said};

pub(crate) struct DnsLookup;

/// Queries kept for judging at the end; answered-at-once ones kept to pair
/// with them; openings kept to find the connection a lookup led to.
const MAX_KEPT: usize = 10_000;
const MAX_FAST: usize = 4_096;
const MAX_OPENINGS: usize = 16_384;
/// Queries further apart than this are two lookups.
const SAME_LOOKUP: TimeDelta = TimeDelta::from_secs(60);
/// A connection this soon after the answer is the one it was for.
const CONNECTS_WITHIN: TimeDelta = TimeDelta::from_secs(2);
/// Copies closer than this went out together (musl asks every server).
const TOGETHER: TimeDelta = TimeDelta::from_millis(50);

impl Rule for DnsLookup {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::DnsSlow, FindingId::DnsUnanswered]
    }

    fn title(&self, id: FindingId, l: Lang) -> &'static str {
        match id {
            FindingId::DnsUnanswered => tr!(l, "dns-unanswered", "DNS 无应答"),
            _ => tr!(l, "dns-slow", "DNS 慢"),
        }
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector::default())
    }

    fn folds(&self) -> bool {
        true
    }

    fn fold_detail(&self, f: &Finding) -> String {
        match &f.facts {
            Facts::DnsLookup(x) => format!(
                "{:?}{:?}{}",
                x.question.as_ref().map(|q| q.qtype),
                x.silent,
                x.attempts.len()
            ),
            _ => String::new(),
        }
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let Facts::DnsLookup(x) = &f.facts else {
            return Said::default();
        };
        said(x, l)
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        let Facts::DnsLookup(x) = &f.facts else {
            return Vec::new();
        };
        remedies(x)
    }
}

/// One query, as much as judging needs.
#[derive(Clone)]
struct Query {
    point: u32,
    conv: u64,
    client: Endpoint,
    server: Endpoint,
    question: Option<DnsQuestion>,
    sent: Vec<PacketRef>,
    answer: Option<(PacketRef, u8, Vec<DnsAnswer>)>,
    conv_ref: Box<ConversationRef>,
    /// The conversation, for merging across points (kept queries only).
    subject: Option<Box<CrossFacts>>,
}

impl Query {
    fn first(&self) -> PacketRef {
        self.sent[0]
    }
}

#[derive(Clone, Default)]
struct Detector {
    kept: Vec<Query>,
    fast: VecDeque<Query>,
    openings: VecDeque<(u32, Host, Endpoint, PacketRef)>,
}

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, cx: &mut Cx) {
        if c.protocol == Protocol::Tcp && c.server.port != 53 {
            if let Some(syn) = c.syns.first() {
                if self.openings.len() == MAX_OPENINGS {
                    self.openings.pop_front();
                }
                self.openings
                    .push_back((c.point, c.client.host.clone(), c.server.clone(), *syn));
            }
        }
        let Some(log) = c.dns.as_deref() else {
            return;
        };
        for q in &log.queries {
            let late = q
                .answer
                .is_none_or(|a| a.ts - q.first().ts >= cx.cfg.wait_threshold);
            let query = Query {
                point: c.point,
                conv: c.id,
                client: c.client.clone(),
                server: c.server.clone(),
                question: q.question.clone(),
                sent: q.sent.clone(),
                answer: q
                    .answer
                    .map(|a| (a, q.rcode.unwrap_or(0), q.answers.clone())),
                conv_ref: Box::new(crate::explain::conv_ref(c, cx.points)),
                subject: None,
            };
            if late || q.copies > 1 {
                if self.kept.len() < MAX_KEPT {
                    self.kept.push(Query {
                        subject: Some(CrossFacts::of(c)),
                        ..query
                    });
                }
            } else {
                if self.fast.len() == MAX_FAST {
                    self.fast.pop_front();
                }
                self.fast.push_back(query);
            }
        }
    }

    fn finish(&mut self, cx: &mut Cx) {
        type Key = (u32, Host, Option<DnsQuestion>);
        let mut groups: BTreeMap<String, (Key, Vec<Query>)> = BTreeMap::new();
        let key_of = |q: &Query| -> (String, Key) {
            let k = (q.point, q.client.host.clone(), q.question.clone());
            (format!("{}|{}|{:?}", k.0, k.1, k.2), k)
        };
        for q in std::mem::take(&mut self.kept) {
            if cx.told(q.point, q.conv) {
                continue;
            }
            let (s, k) = key_of(&q);
            groups.entry(s).or_insert_with(|| (k, Vec::new())).1.push(q);
        }
        // Answers from another server that ended a lookup that began late.
        for q in std::mem::take(&mut self.fast) {
            let (s, _) = key_of(&q);
            if let Some(g) = groups.get_mut(&s) {
                g.1.push(q);
            }
        }
        for (_, (_, mut qs)) in groups {
            qs.sort_by_key(|q| q.first().ts);
            let mut lookup: Vec<Query> = Vec::new();
            for q in qs {
                let ends = lookup_end(&lookup);
                let starts_anew = lookup.last().is_some_and(|p| {
                    ends.is_some_and(|e| q.first().ts > e)
                        || q.first().ts - p.sent.last().expect("sent").ts > SAME_LOOKUP
                });
                if starts_anew {
                    self.judge(std::mem::take(&mut lookup), cx);
                }
                lookup.push(q);
            }
            self.judge(lookup, cx);
        }
    }
}

/// When a lookup ended: its first answer.
fn lookup_end(l: &[Query]) -> Option<stalltrace_decode::Timestamp> {
    l.iter()
        .filter_map(|q| q.answer.as_ref().map(|a| a.0.ts))
        .min()
}

impl Detector {
    fn judge(&self, lookup: Vec<Query>, cx: &mut Cx) {
        let Some(first) = lookup.first() else {
            return;
        };
        let start = first.first();
        let mut sent: Vec<(PacketRef, &Query)> = lookup
            .iter()
            .flat_map(|q| q.sent.iter().map(move |p| (*p, q)))
            .collect();
        sent.sort_by_key(|(p, _)| p.ts);
        let answered = lookup
            .iter()
            .filter_map(|q| q.answer.as_ref().map(|a| (a, q)))
            .min_by_key(|(a, _)| a.0.ts);
        // Copies sent after the answer belong to no wait.
        if let Some((a, _)) = answered {
            sent.retain(|(p, _)| p.ts <= a.0.ts);
        }
        let waited = match answered {
            Some((a, _)) => a.0.ts - start.ts,
            None => sent
                .last()
                .map_or(TimeDelta::ZERO, |(p, _)| p.ts - start.ts),
        };
        let id = match answered {
            Some(_) if waited >= cx.cfg.wait_threshold => FindingId::DnsSlow,
            // A single query with no answer may just be the capture's end.
            None if sent.len() >= 2 => FindingId::DnsUnanswered,
            _ => return,
        };
        // The schedule: gaps between rounds (copies sent together count once).
        let mut rounds: Vec<stalltrace_decode::Timestamp> = Vec::new();
        for (p, _) in &sent {
            if rounds.last().is_none_or(|r| p.ts - *r > TOGETHER) {
                rounds.push(p.ts);
            }
        }
        let gaps: Vec<TimeDelta> = rounds.windows(2).map(|w| w[1] - w[0]).collect();
        let mut silent: Vec<Endpoint> = Vec::new();
        for q in &lookup {
            if q.answer.is_none() && !silent.contains(&q.server) {
                silent.push(q.server.clone());
            }
        }
        let then_connected = answered.and_then(|(a, _)| {
            let addresses: Vec<Host> =
                a.2.iter()
                    .filter_map(|x| match x {
                        DnsAnswer::Address(ip) => Some(Host::from(*ip)),
                        _ => None,
                    })
                    .collect();
            self.openings
                .iter()
                .find(|(p, client, to, syn)| {
                    *p == first.point
                        && *client == first.client.host
                        && addresses.contains(&to.host)
                        && syn.ts >= a.0.ts
                        && syn.ts - a.0.ts <= CONNECTS_WITHIN
                })
                .map(|(_, _, to, syn)| ThenConnected {
                    to: to.clone(),
                    after_answer: syn.ts - a.0.ts,
                })
        });
        let x = DnsLookupFacts {
            client: first.client.clone(),
            question: first.question.clone(),
            attempts: sent
                .iter()
                .map(|(p, q)| DnsAttempt {
                    server: q.server.clone(),
                    after: p.ts - start.ts,
                })
                .collect(),
            answered: answered.map(|(a, q)| DnsAnswered {
                by: q.server.clone(),
                after: a.0.ts - start.ts,
                rcode: a.1,
                answers: a.2.clone(),
            }),
            waited,
            silent,
            resolver: resolvers::fitting(&gaps),
            then_connected,
        };
        let severity = match id {
            FindingId::DnsUnanswered => severity_of(waited, cx.cfg).max(Severity::Warning),
            _ => severity_of(waited, cx.cfg),
        };
        let mut f = Finding::new(id, severity, cx.name(first.point), Facts::DnsLookup(x));
        f.cost = Some(waited);
        f.conversation = Some((*first.conv_ref).clone());
        f.cross = first.subject.clone();
        let mut ev: Vec<Evidence> = sent
            .iter()
            .take(8)
            .map(|(p, q)| Evidence {
                point: cx.name(q.point),
                packet: p.number,
                time: p.ts,
                time_of_day: p.ts.time_of_day(),
                shows: Shows::DnsQuery {
                    question: q.question.clone(),
                    server: q.server.clone(),
                    after: p.ts - start.ts,
                },
            })
            .collect();
        if let Some((a, q)) = answered {
            ev.push(Evidence {
                point: cx.name(q.point),
                packet: a.0.number,
                time: a.0.ts,
                time_of_day: a.0.ts.time_of_day(),
                shows: Shows::DnsResponse {
                    by: q.server.clone(),
                    rcode: a.1,
                    after: a.0.ts - start.ts,
                },
            });
        }
        f.evidence = ev;
        f.breakdown = vec![TimeSegment::new(
            SegmentKind::Dependency,
            Part::NameLookup,
            start.ts,
            start.ts + waited,
        )];
        cx.emit(start.ts, f);
    }
}

fn what(x: &DnsLookupFacts, l: Lang) -> String {
    match &x.question {
        Some(q) => match q.reversed() {
            Some(a) => tr!(
                l,
                format!("the reverse lookup of {a} ({} PTR?)", q.name),
                format!("对 {a} 的反向查询（{} PTR?）", q.name)
            ),
            None => tr!(
                l,
                format!("the lookup of {} {}?", q.name, q.type_name()),
                format!("对 {} {}? 的查询", q.name, q.type_name())
            ),
        },
        None => tr!(l, "a DNS lookup", "一次 DNS 查询").into(),
    }
}

fn said(x: &DnsLookupFacts, l: Lang) -> Said {
    let lookup = what(x, l);
    let servers: Vec<String> = {
        let mut v: Vec<String> = Vec::new();
        for a in &x.attempts {
            let s = a.server.to_string();
            if !v.contains(&s) {
                v.push(s);
            }
        }
        v
    };
    let summary = match (&x.answered, l) {
        (Some(a), Lang::En) => format!(
            "{} by {} took {}: {} {} before {} answered ({}).",
            capital(&lookup),
            x.client.host,
            l.dur(x.waited),
            l.count(x.attempts.len() as u64, "query", "queries"),
            if servers.len() > 1 {
                format!("to {}", servers.join(", "))
            } else {
                "sent".to_string()
            },
            a.by,
            stalltrace_decode::dns::rcode_name(a.rcode)
        ),
        (Some(a), Lang::ZhCn) => format!(
            "{} 发起的{}用了 {}：{} 个查询{}之后，{} 才应答（{}）。",
            x.client.host,
            lookup,
            l.dur(x.waited),
            x.attempts.len(),
            if servers.len() > 1 {
                format!("（发往 {}）", servers.join("、"))
            } else {
                String::new()
            },
            a.by,
            stalltrace_decode::dns::rcode_name(a.rcode)
        ),
        (None, Lang::En) => format!(
            "{} by {} was never answered: {} to {} over {}.",
            capital(&lookup),
            x.client.host,
            l.count(x.attempts.len() as u64, "query", "queries"),
            servers.join(", "),
            l.dur(x.waited)
        ),
        (None, Lang::ZhCn) => format!(
            "{} 发起的{}始终没有应答：{} 内向 {} 发送了 {} 个查询。",
            x.client.host,
            lookup,
            l.dur(x.waited),
            servers.join("、"),
            x.attempts.len()
        ),
    };
    let mut details = Vec::new();
    let offsets: Vec<String> = x
        .attempts
        .iter()
        .map(|a| format!("+{} → {}", l.dur(a.after), a.server))
        .collect();
    details.push(tr!(
        l,
        format!("Queries: {}.", offsets.join(", ")),
        format!("查询：{}。", offsets.join("，"))
    ));
    if !x.silent.is_empty() {
        let s: Vec<String> = x.silent.iter().map(|e| e.to_string()).collect();
        details.push(tr!(
            l,
            format!("Never answered by {}: the name server is down, or its queries or answers are dropped on the way (udp/53).", s.join(", ")),
            format!("{} 始终没有应答：名称服务器宕机，或查询/应答在途中被丢弃（udp/53）。", s.join("、"))
        ));
    }
    if let Some(r) = x.resolver.first() {
        details.push(tr!(
            l,
            format!(
                "The resends follow {}: each unanswered try costs its timeout.",
                r.name(l)
            ),
            format!(
                "重发间隔符合 {}：每次没有应答的尝试都要付出一次超时。",
                r.name(l)
            )
        ));
    }
    if let Some(t) = &x.then_connected {
        details.push(tr!(
            l,
            format!(
                "The client connected to {} {} after the answer: that connection waited the {} of this lookup.",
                t.to,
                l.dur(t.after_answer),
                l.dur(x.waited)
            ),
            format!(
                "客户端在应答后 {}连接了 {}：这个连接为此次查询等待了 {}。",
                l.dur(t.after_answer),
                t.to,
                l.dur(x.waited)
            )
        ));
    }
    Said { summary, details }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn remedies(x: &DnsLookupFacts) -> Vec<Remedy> {
    let mut v = Vec::new();
    let client = Target::Resolver {
        host: x.client.host.clone(),
    };
    if let Some(silent) = x.silent.first() {
        if let Some(addr) = literal(&silent.host) {
            let name = x
                .question
                .as_ref()
                .map(|q| format!("{} {}", q.name, q.type_name()))
                .unwrap_or_else(|| ".".into());
            v.push(
                Remedy::new(
                    Target::DnsPath,
                    Text::new(
                        format!("find why the name server {addr} does not answer: ask it directly from the client, once"),
                        format!("查明名称服务器 {addr} 为何不应答：从客户端直接询问它一次"),
                    ),
                    &[&format!("dig @{addr} {name} +tries=1 +time=2")],
                )
                .in_network(),
            );
            if x.answered.is_some() {
                v.push(
                    Remedy::new(
                        client.clone(),
                        Text::new(
                            format!("or take {addr} out of the client's resolver list (or put an answering server first)"),
                            format!("或者把 {addr} 从客户端的解析器列表中去掉（或把能应答的服务器放在前面）"),
                        ),
                        &[&format!("# remove: nameserver {addr}")],
                    )
                    .file("/etc/resolv.conf"),
                );
            }
        }
    }
    v.push(
        Remedy::new(
            client,
            Text::new(
                "make an unanswered try cost less (glibc): a shorter timeout, and each lookup to the next server at once",
                "让没有应答的尝试代价更小（glibc）：更短的超时，并立即转向下一个服务器",
            ),
            &["options timeout:1 attempts:2 rotate"],
        )
        .file("/etc/resolv.conf"),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{diagnose, one};

    #[test]
    fn a_lookup_whose_first_server_is_silent_waits_five_seconds() {
        let all = diagnose("\
10:00:00.000000 IP 192.0.2.10.40000 > 198.51.100.53.53: 4242+ A? www.example.org. (33)
10:00:05.001000 IP 192.0.2.10.40001 > 198.51.100.54.53: 4242+ A? www.example.org. (33)
10:00:05.003000 IP 198.51.100.54.53 > 192.0.2.10.40001: 4242 1/0/0 A 203.0.113.80 (49)
10:00:05.004000 IP 192.0.2.10.50000 > 203.0.113.80.443: Flags [S], seq 1000, win 64240, length 0
10:00:05.024000 IP 203.0.113.80.443 > 192.0.2.10.50000: Flags [S.], seq 7000, ack 1001, win 65160, length 0
10:00:05.024400 IP 192.0.2.10.50000 > 203.0.113.80.443: Flags [.], ack 1, win 502, length 0
");
        let f = one(&all, FindingId::DnsSlow);
        let Facts::DnsLookup(x) = &f.facts else {
            panic!()
        };
        assert_eq!(x.question.as_ref().unwrap().name, "www.example.org");
        assert_eq!(x.attempts.len(), 2);
        assert_eq!(x.silent.len(), 1);
        assert_eq!(x.silent[0].to_string(), "198.51.100.53:53");
        assert_eq!(x.resolver[0].id, "glibc");
        assert_eq!(x.waited, TimeDelta::from_millis(5003));
        assert_eq!(
            x.then_connected.as_ref().unwrap().to.to_string(),
            "203.0.113.80:443"
        );
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.remedies[0].lines[0].starts_with("dig @198.51.100.53 www.example.org A"));
    }

    #[test]
    fn a_fast_answer_is_no_finding_and_a_lone_query_is_no_loss() {
        let all = diagnose(
            "\
10:00:00.000000 IP 192.0.2.10.40000 > 198.51.100.53.53: 4242+ A? www.example.org. (33)
10:00:00.012000 IP 198.51.100.53.53 > 192.0.2.10.40000: 4242 1/0/0 A 203.0.113.80 (49)
10:00:01.000000 IP 192.0.2.10.40002 > 198.51.100.53.53: 4243+ AAAA? www.example.org. (33)
",
        );
        assert!(all.is_empty(), "{all:#?}");
    }

    #[test]
    fn a_query_resent_and_never_answered() {
        let all = diagnose(
            "\
10:00:00.000000 IP 192.0.2.10.40000 > 198.51.100.53.53: 4242+ MX? example.org. (29)
10:00:05.000000 IP 192.0.2.10.40000 > 198.51.100.53.53: 4242+ MX? example.org. (29)
",
        );
        let f = one(&all, FindingId::DnsUnanswered);
        assert_eq!(f.severity, Severity::Critical);
    }
}
