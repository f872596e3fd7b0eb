//! The connect rule's words and remedies.

use stalltrace_decode::{tr, Endpoint, Host, Lang};

use crate::finding::*;
use crate::remedy::{literal, Remedy, Target, Text};
use crate::rule::Said;

pub(super) fn unanswered(u: &UnansweredFacts, l: Lang) -> Said {
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
    let mut details = vec![tr!(
        l,
        "No SYN-ACK, RST or ICMP error came back: the SYNs were dropped further on (a firewall dropping by policy, a route) or the addressee discards them silently.",
        "没有任何 SYN-ACK、RST 或 ICMP 差错返回：SYN 在更远处被丢弃（防火墙按策略丢弃、路由问题），或被目标主机静默丢弃。"
    )
    .into()];
    if let Some(s) = u.backoff.first() {
        details.push(match u.connect_timeout {
            Some(t) => tr!(
                l,
                format!(
                    "The SYN back-off matches {}: connect() fails only after {}, which is what a filter that drops costs the user, where one that refuses costs a round trip.",
                    s.name(l),
                    l.dur(t)
                ),
                format!(
                    "SYN 退避与 {} 吻合：connect() 要到 {}后才失败；静默丢弃的过滤器让用户付出这么长的等待，而拒绝连接的过滤器只需一个往返时间。",
                    s.name(l),
                    l.dur(t)
                )
            ),
            None => tr!(
                l,
                format!("The SYN back-off matches {}.", s.name(l)),
                format!("SYN 退避与 {} 吻合。", s.name(l))
            ),
        });
    }
    Said { summary, details }
}

pub(super) fn overflow(count: u64, l: Lang) -> Said {
    Said {
        summary: tr!(
            l,
            format!(
                "{} counted but not listed.",
                l.count(
                    count,
                    "further failed connection attempt was",
                    "further failed connection attempts were"
                )
            ),
            format!("另有 {count} 次失败的连接尝试，只计数未列出。")
        ),
        details: Vec::new(),
    }
}

pub(super) fn storm(s: &StormFacts, scan: bool, l: Lang) -> Said {
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
    let (fate_en, fate_zh) = if s.refused {
        ("refused".to_string(), "被拒绝".to_string())
    } else if s.refused_attempts > 0 {
        (
            format!("{} refused, the rest never answered", s.refused_attempts),
            format!("其中 {} 次被拒绝，其余都没有应答", s.refused_attempts),
        )
    } else {
        ("never answered".to_string(), "都没有应答".to_string())
    };
    let summary = match (scan, l) {
        (false, Lang::En) => format!(
            "SYN flood: {} connection attempts ({} SYNs) from {sources} {} over {} were {fate_en} at this capture point; most went to {}.",
            s.attempts,
            s.syns,
            if s.sources == 1 && !s.sources_capped { "source" } else { "sources" },
            l.dur(s.span),
            first(&top_targets)
        ),
        (false, Lang::ZhCn) => format!(
            "SYN 洪泛：{} 内来自 {sources} 个源地址的 {} 次连接尝试（{} 个 SYN）在此捕获点{fate_zh}；大多发往 {}。",
            l.dur(s.span),
            s.attempts,
            s.syns,
            first(&top_targets)
        ),
        (true, Lang::En) => format!(
            "Port scan: {} probed {} on {} with {} connection attempts over {}, {fate_en}.",
            first(&top_sources),
            l.count(s.ports, "port", "ports"),
            l.count(s.hosts.max(1), "host", "hosts"),
            s.attempts,
            l.dur(s.span)
        ),
        (true, Lang::ZhCn) => format!(
            "端口扫描：{} 在 {} 内以 {} 次连接尝试探测了 {} 台主机上的 {} 个端口，{fate_zh}。",
            first(&top_sources),
            l.dur(s.span),
            s.attempts,
            s.hosts.max(1),
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

pub(super) fn refused(r: &RefusedFacts, l: Lang) -> Said {
    let (client, server) = (&r.client, &r.server);
    let tries = match (r.attempts, l) {
        (1, Lang::En) => "a connection".to_string(),
        (n, Lang::En) => format!("{n} connections"),
        (1, Lang::ZhCn) => "连接".to_string(),
        (n, Lang::ZhCn) => format!("{n} 次连接"),
    };
    let who = match (&r.refuser, l) {
        (Refuser::Host, Lang::En) => format!("the host itself answered with a RST: nothing listens on port {}", server.port),
        (Refuser::Host, Lang::ZhCn) => format!("主机自己以 RST 应答：端口 {} 上没有服务在监听", server.port),
        (Refuser::Device { ttl, host_ttl }, Lang::En) => format!(
            "a device in its name answered with a RST (TTL {ttl}, where the host's own packets arrive with {host_ttl}): a firewall rejects the port"
        ),
        (Refuser::Device { ttl, host_ttl }, Lang::ZhCn) => format!(
            "一台设备以它的名义回复了 RST（TTL 为 {ttl}，而该主机自己的报文到达时为 {host_ttl}）：防火墙拒绝了这个端口"
        ),
        (Refuser::Icmp { from, reason }, Lang::En) if from == &server.host => {
            format!("the host answered with ICMP {}", reason.say(l))
        }
        (Refuser::Icmp { from, reason }, Lang::ZhCn) if from == &server.host => {
            format!("主机以 ICMP {}应答", reason.say(l))
        }
        (Refuser::Icmp { from, reason }, Lang::En) => {
            format!("{from} answered in its place with ICMP {}", reason.say(l))
        }
        (Refuser::Icmp { from, reason }, Lang::ZhCn) => {
            format!("{from} 代替它以 ICMP {}应答", reason.say(l))
        }
        (Refuser::Unknown, Lang::En) => {
            "a RST came back; this point has seen no other packet of the host to tell whether it or a device sent it".into()
        }
        (Refuser::Unknown, Lang::ZhCn) => {
            "收到了 RST；此捕获点没有见过该主机的其他报文，无法判断它来自主机还是中间设备".into()
        }
    };
    let summary = tr!(
        l,
        format!(
            "{client} was refused {tries} to {server} in {}: {who}.",
            l.dur(r.took)
        ),
        format!(
            "{client} 到 {server} 的{tries}在 {}内被拒绝：{who}。",
            l.dur(r.took)
        )
    );
    let mut details = Vec::new();
    if r.syns > r.attempts {
        details.push(tr!(
            l,
            format!(
                "The client sent {} SYNs for {}: its stack tries again after a refusal (Windows does, twice, 0.5 s apart), so each refusal costs it {} rather than a round trip.",
                r.syns, l.count(r.attempts, "attempt", "attempts"), l.dur(r.took)
            ),
            format!(
                "客户端为 {} 次尝试发送了 {} 个 SYN：它的协议栈在被拒绝后还会重试（Windows 会以 0.5 秒间隔重试两次），所以每次拒绝让它付出 {}，而不是一个往返时间。",
                r.attempts, r.syns, l.dur(r.took)
            )
        ));
    }
    Said { summary, details }
}

fn allow_lines(server: &Endpoint) -> Option<Vec<String>> {
    let addr = literal(&server.host)?;
    let (nft, ipt) = match server.host {
        Host::V6(_) => ("ip6 daddr", "ip6tables"),
        _ => ("ip daddr", "iptables"),
    };
    Some(vec![
        format!(
            "nft insert rule inet filter forward {nft} {addr} tcp dport {} accept",
            server.port
        ),
        format!(
            "{ipt} -I FORWARD -p tcp -d {addr} --dport {} -j ACCEPT",
            server.port
        ),
    ])
}

pub(super) fn remedies(f: &Finding) -> Vec<Remedy> {
    match &f.facts {
        Facts::Refused(r) => {
            let port = r.server.port;
            match &r.refuser {
                Refuser::Host => vec![Remedy::new(
                    Target::Host {
                        host: r.server.host.clone(),
                    },
                    Text::new(
                        format!("start the service on port {port}, or point the client at the port it listens on"),
                        format!("在端口 {port} 上启动服务，或让客户端改连服务实际监听的端口"),
                    ),
                    &[&format!("ss -ltnp 'sport = :{port}'")],
                )],
                Refuser::Device { .. } | Refuser::Icmp { .. } => {
                    let target = match &r.refuser {
                        Refuser::Icmp { from, .. } => Target::Answerer { host: from.clone() },
                        _ => Target::PathDevice {
                            from: r.client.host.clone(),
                            to: r.server.host.clone(),
                        },
                    };
                    allow_lines(&r.server)
                        .map(|lines| {
                            vec![Remedy::new(
                                target,
                                Text::new(
                                    format!("allow tcp/{port} to {} if the service is meant to be reached", r.server.host),
                                    format!("如果该服务应当可达，放行发往 {} 的 tcp/{port}", r.server.host),
                                ),
                                &[],
                            )
                            .lines(lines)
                            .in_network()]
                        })
                        .unwrap_or_default()
                }
                Refuser::Unknown => Vec::new(),
            }
        }
        Facts::Unanswered(u) => {
            let (Some(addr), port) = (literal(&u.server.host), u.server.port) else {
                return Vec::new();
            };
            vec![Remedy::new(
                Target::PathDevice {
                    from: u.client.host.clone(),
                    to: u.server.host.clone(),
                },
                Text::new(
                    "find where the SYNs stop: trace the path with TCP SYNs to the port, then check the last hop's filter",
                    "查明 SYN 在何处中断：用发往该端口的 TCP SYN 跟踪路径，再检查最后一跳的过滤规则",
                ),
                &[&format!("traceroute -T -p {port} {addr}")],
            )
            .in_network()]
        }
        _ => Vec::new(),
    }
}
