//! `dns-aaaa-race`: glibc sends a lookup's A and AAAA queries together,
//! from one socket; behind Linux conntrack (a NAT, a Kubernetes node) the
//! two packets of one new UDP flow race to insert the same connection, and
//! the loser is dropped: one query is answered at once, the other only
//! after the resolver resends it 5 s later. Every lookup then costs exactly
//! 5 s. Fixes: glibc `options single-request-reopen` (a new socket for the
//! second query) or `use-vc` (TCP); NodeLocal DNSCache in Kubernetes; the
//! kernels that resolve the clash (4.19, 5.0, 5.1; musl ignores the
//! options). Sources: kubernetes/kubernetes#56903, Weave "Racy conntrack
//! and DNS lookup timeouts"; `docs/field-facts.md`.

use stalltrace_conversations::{Conversation, DnsQuery};
use stalltrace_decode::{dns::type_name, tr, Lang, TimeDelta};

use crate::finding::*;
use crate::remedy::{Remedy, Target, Text};
use crate::rule::{severity_of, Cx, Detect, Rule, Said};

pub(crate) struct DnsRace;

/// "Together": glibc sends the second query microseconds after the first.
const TOGETHER: TimeDelta = TimeDelta::from_millis(1);
/// The lost one is resent on the resolver's timer, not at once.
const RESENT_AFTER: TimeDelta = TimeDelta::from_secs(1);

impl Rule for DnsRace {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::DnsAaaaRace]
    }

    fn title(&self, _id: FindingId, l: Lang) -> &'static str {
        tr!(l, "dns-aaaa-race", "DNS A/AAAA 竞争")
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector)
    }

    fn folds(&self) -> bool {
        true
    }

    fn fold_detail(&self, f: &Finding) -> String {
        match &f.facts {
            Facts::DnsRace(x) => format!("{}{}", x.lost_type, x.name),
            _ => String::new(),
        }
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let Facts::DnsRace(x) = &f.facts else {
            return Said::default();
        };
        said(x, l)
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        let Facts::DnsRace(x) = &f.facts else {
            return Vec::new();
        };
        remedies(x)
    }
}

#[derive(Clone)]
struct Detector;

/// The pair (answered at once, lost and resent) of a raced lookup.
fn raced<'a>(a: &'a DnsQuery, b: &'a DnsQuery) -> Option<(&'a DnsQuery, &'a DnsQuery)> {
    let (qa, qb) = (a.question.as_ref()?, b.question.as_ref()?);
    let types = [qa.qtype, qb.qtype];
    if qa.name != qb.name || !(types.contains(&1) && types.contains(&28)) {
        return None;
    }
    if (b.first().ts - a.first().ts).abs() > TOGETHER {
        return None;
    }
    let quick = |q: &DnsQuery| {
        q.copies == 1 && q.answer.is_some_and(|r| r.ts - q.first().ts < RESENT_AFTER)
    };
    let lost = |q: &DnsQuery| q.copies > 1 && q.sent[1].ts - q.first().ts >= RESENT_AFTER;
    if quick(a) && lost(b) {
        Some((a, b))
    } else if quick(b) && lost(a) {
        Some((b, a))
    } else {
        None
    }
}

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, cx: &mut Cx) {
        let Some(log) = c.dns.as_deref() else {
            return;
        };
        let qs = &log.queries;
        let mut found: Vec<(&DnsQuery, &DnsQuery)> = Vec::new();
        for (i, a) in qs.iter().enumerate() {
            for b in &qs[i + 1..] {
                if let Some(pair) = raced(a, b) {
                    found.push(pair);
                }
            }
        }
        let Some((quick, lost)) = found.first().copied() else {
            return;
        };
        let (Some(qq), Some(ql)) = (&quick.question, &lost.question) else {
            return;
        };
        let end = lost.answer.unwrap_or(*lost.sent.last().expect("sent"));
        let cost = end.ts - lost.first().ts;
        let x = DnsRaceFacts {
            client: c.client.clone(),
            server: c.server.clone(),
            name: ql.name.clone(),
            answered_type: qq.qtype,
            lost_type: ql.qtype,
            apart: (lost.first().ts - quick.first().ts).abs(),
            resent_after: lost.sent[1].ts - lost.first().ts,
            cost,
            times: found.len() as u32,
        };
        let mut f = Finding::new(
            FindingId::DnsAaaaRace,
            severity_of(cost, cx.cfg),
            cx.name(c.point),
            Facts::DnsRace(x),
        );
        f.cost = Some(cost);
        f.conversation = Some(crate::explain::conv_ref(c, cx.points));
        let start = quick.first().ts.min(lost.first().ts);
        let query = |q: &DnsQuery, p: stalltrace_conversations::PacketRef| {
            cx.evidence(
                c,
                p,
                Shows::DnsQuery {
                    question: q.question.clone(),
                    server: c.server.clone(),
                    after: p.ts - start,
                },
            )
        };
        let mut ev = vec![query(quick, quick.first()), query(lost, lost.first())];
        if let Some(a) = quick.answer {
            ev.push(cx.evidence(
                c,
                a,
                Shows::DnsResponse {
                    by: c.server.clone(),
                    rcode: quick.rcode.unwrap_or(0),
                    after: a.ts - start,
                },
            ));
        }
        ev.push(query(lost, lost.sent[1]));
        if let Some(a) = lost.answer {
            ev.push(cx.evidence(
                c,
                a,
                Shows::DnsResponse {
                    by: c.server.clone(),
                    rcode: lost.rcode.unwrap_or(0),
                    after: a.ts - start,
                },
            ));
        }
        f.evidence = ev;
        f.cross = Some(CrossFacts::of(c));
        cx.take(c.point, c.id);
        cx.emit(start, f);
    }
}

fn said(x: &DnsRaceFacts, l: Lang) -> Said {
    let (a, b) = (type_name(x.answered_type), type_name(x.lost_type));
    let summary = tr!(
        l,
        format!(
            "{} sent its {a} and {b} queries for {} together from one socket ({} apart); the {a} was answered at once, the {b} was lost and resent {} later: the lookup took {}.",
            x.client,
            x.name,
            l.dur(x.apart),
            l.dur(x.resent_after),
            l.dur(x.cost)
        ),
        format!(
            "{} 从同一个套接字同时发出了对 {} 的 {a} 和 {b} 查询（相隔 {}）；{a} 立即得到应答，{b} 丢失，{}后才重发：这次查询用了 {}。",
            x.client,
            x.name,
            l.dur(x.apart),
            l.dur(x.resent_after),
            l.dur(x.cost)
        )
    );
    let mut details = vec![tr!(
        l,
        "Two UDP packets of one new flow at once race to create the same conntrack entry (on a NAT, a Kubernetes node); the loser is dropped, and the resolver waits its timeout before it resends.",
        "同一个新 UDP 流的两个报文同时到达，竞争创建同一条 conntrack 表项（在 NAT 或 Kubernetes 节点上）；输的那个被丢弃，解析器要等超时后才重发。"
    )
    .into()];
    if x.times > 1 {
        details.push(tr!(
            l,
            format!("It happened {} times on this socket.", x.times),
            format!("在这个套接字上发生了 {} 次。", x.times)
        ));
    }
    Said { summary, details }
}

fn remedies(x: &DnsRaceFacts) -> Vec<Remedy> {
    let client = Target::Resolver {
        host: x.client.host.clone(),
    };
    vec![
        Remedy::new(
            client.clone(),
            Text::new(
                "send the second query from a new socket (glibc; musl ignores it)",
                "第二个查询改用新的套接字发送（glibc；musl 不支持此选项）",
            ),
            &["options single-request-reopen"],
        )
        .file("/etc/resolv.conf"),
        Remedy::new(
            Target::PathDevice {
                from: x.client.host.clone(),
                to: x.server.host.clone(),
            },
            Text::new(
                "on Kubernetes, a node-local DNS cache takes the queries off conntrack; on the NAT host, a kernel with the conntrack clash fixes (4.19 and later, 5.0, 5.1)",
                "在 Kubernetes 上，节点本地 DNS 缓存让查询不经过 conntrack；在 NAT 主机上，升级到含 conntrack 冲突修复的内核（4.19 及以后、5.0、5.1）",
            ),
            &["# NodeLocal DNSCache: https://kubernetes.io/docs/tasks/administer-cluster/nodelocaldns/"],
        )
        .in_network(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{diagnose, one};

    #[test]
    fn a_and_aaaa_together_one_resent_five_seconds_later() {
        let all = diagnose(
            "\
10:00:00.000000 IP 192.0.2.10.40000 > 198.51.100.53.53: 4242+ A? www.example.org. (33)
10:00:00.000040 IP 192.0.2.10.40000 > 198.51.100.53.53: 4243+ AAAA? www.example.org. (33)
10:00:00.003000 IP 198.51.100.53.53 > 192.0.2.10.40000: 4242 1/0/0 A 203.0.113.80 (49)
10:00:05.000100 IP 192.0.2.10.40000 > 198.51.100.53.53: 4243+ AAAA? www.example.org. (33)
10:00:05.002000 IP 198.51.100.53.53 > 192.0.2.10.40000: 4243 0/1/0 (90)
",
        );
        let f = one(&all, FindingId::DnsAaaaRace);
        let Facts::DnsRace(x) = &f.facts else {
            panic!()
        };
        assert_eq!((x.answered_type, x.lost_type), (1, 28));
        assert_eq!(x.apart, TimeDelta::from_nanos(40_000));
        assert_eq!(x.cost.nanos(), 5_001_960_000);
        assert!(f.remedies[0].lines[0].contains("single-request-reopen"));
        // Told once: not also as a slow lookup.
        assert!(all.iter().all(|f| f.id != FindingId::DnsSlow), "{all:#?}");
    }
}
