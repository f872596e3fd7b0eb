//! The report stage's words for the facts every rule shares: callbacks and
//! their fates, evidence packets, parts of a wait, path verdicts, timeline
//! rows, remedies. Each rule words its own headline and reasons in its own
//! file; [`Finding::words`] puts them together. English and Chinese stand
//! side by side in every `tr!`.
//!
//! Sentences are Rust rather than a message catalogue (Fluent and the
//! like): they carry computed values (lists, durations, optional clauses),
//! which in a catalogue become many small messages or select expressions,
//! and kept as code both languages stay in one place and type-checked: a
//! missing language does not compile.

use stalltrace_conversations::Protocol;
use stalltrace_decode::{tr, Lang, TimeDelta};

use crate::facts::AppTimer;
use crate::finding::*;

/// The severity's tag in text reports.
pub fn severity(s: Severity, l: Lang) -> &'static str {
    match s {
        Severity::Critical => tr!(l, "CRITICAL", "严重"),
        Severity::Warning => tr!(l, "WARNING", "警告"),
        Severity::Info => tr!(l, "INFO", "信息"),
    }
}

/// "an ident (RFC 1413) lookup", "a DNS lookup", "a connection".
pub(crate) fn lookup(kind: CallbackKind, l: Lang) -> &'static str {
    match kind {
        CallbackKind::Ident => tr!(l, "an ident (RFC 1413) lookup", "ident（RFC 1413）反查"),
        CallbackKind::Dns => tr!(l, "a DNS lookup", "DNS 查询"),
        CallbackKind::Other => tr!(l, "a connection", "连接"),
    }
}

/// "an ident (RFC 1413) lookup 220.x:38107 → 218.104.68.171:113".
pub(crate) fn callback(cb: &Callback, l: Lang) -> String {
    let ends = format!("{} → {}", cb.conversation.client, cb.conversation.server);
    match (&cb.question, &cb.reverses) {
        (Some(q), Some(r)) => tr!(
            l,
            format!(
                "a reverse DNS lookup of {}{} ({} {}?, {ends})",
                r.address,
                if r.is_client {
                    ", the client as the server sees it"
                } else {
                    ""
                },
                q.name,
                q.type_name()
            ),
            format!(
                "对 {}{}的反向 DNS 查询（{} {}?，{ends}）",
                r.address,
                if r.is_client {
                    "（服务器所见的客户端）"
                } else {
                    ""
                },
                q.name,
                q.type_name()
            )
        ),
        (Some(q), None) => tr!(
            l,
            format!("a DNS lookup of {} {}? ({ends})", q.name, q.type_name()),
            format!("对 {} {}? 的 DNS 查询（{ends}）", q.name, q.type_name())
        ),
        _ => format!("{} {ends}", lookup(cb.kind, l)),
    }
}

/// What became of a callback, as this capture point saw it.
pub(crate) fn fate(f: &Fate, l: Lang) -> String {
    match f {
        Fate::Unanswered => tr!(
            l,
            "never answered at this capture point",
            "在此捕获点始终没有应答"
        )
        .into(),
        Fate::Refused { by, after } => tr!(
            l,
            format!("refused by a RST from {by} in {after}"),
            format!("在 {} 内被 {by} 以 RST 拒绝", l.dur(*after))
        ),
        Fate::IcmpError { by, reason, after } => tr!(
            l,
            format!("refused by ICMP {} from {by} in {after}", reason.say(l)),
            format!(
                "在 {} 内被 {by} 以 ICMP {}拒绝",
                l.dur(*after),
                reason.say(l)
            )
        ),
        Fate::Answered { after } => tr!(
            l,
            format!("answered in {after}"),
            format!("在 {} 内得到应答", l.dur(*after))
        ),
    }
}

/// What became of a callback, in the best words the finding's facts
/// allow: what the capture points together prove, else this point's view.
pub(crate) fn best_fate(cb: &Callback, path: &[PathFact], l: Lang) -> String {
    for p in path {
        match p {
            PathFact::Dropped {
                reached,
                missed,
                nat,
                ..
            } => {
                return match nat {
                    Some(_) => tr!(
                        l,
                        format!("dropped by the NAT device between {reached} and {missed}"),
                        format!("被 {reached} 与 {missed} 之间的 NAT 设备丢弃")
                    ),
                    None => tr!(
                        l,
                        format!("dropped by the device between {reached} and {missed}"),
                        format!("被 {reached} 与 {missed} 之间的设备丢弃")
                    ),
                }
            }
            PathFact::RefusedByDevice {
                reached,
                missed,
                after,
                ..
            } => {
                return tr!(
                    l,
                    format!(
                        "refused in {after} by the device between {reached} and {missed} itself"
                    ),
                    format!(
                        "在 {} 内被 {reached} 与 {missed} 之间的设备自己拒绝",
                        l.dur(*after)
                    )
                )
            }
            PathFact::AddresseeDiscards { addressee, .. } => {
                return tr!(
                    l,
                    format!("discarded silently by {addressee} itself"),
                    format!("被 {addressee} 自己静默丢弃")
                )
            }
            _ => {}
        }
    }
    fate(&cb.fate, l)
}

/// "4 SYNs at +0, +3.0, +9.0, +21.0 s".
pub(crate) fn attempts(cb: &Callback, l: Lang) -> String {
    let n = cb.attempts.len() as u64;
    let at = l.offsets(&cb.attempts);
    match (l, cb.conversation.protocol) {
        (Lang::En, Protocol::Tcp) => format!("{} at {at}", l.count(n, "SYN", "SYNs")),
        (Lang::En, Protocol::Udp) => format!("{} at {at}", l.count(n, "query", "queries")),
        (Lang::ZhCn, Protocol::Tcp) => format!("{n} 个 SYN，分别在 {at}"),
        (Lang::ZhCn, Protocol::Udp) => format!("{n} 次查询，分别在 {at}"),
    }
}

/// The attempt's noun: "SYN" or "query".
pub(crate) fn attempt_noun(a: Attempt, n: u64, l: Lang) -> String {
    match (a, l) {
        (Attempt::Syn, Lang::En) => l.count(n, "SYN", "SYNs"),
        (Attempt::Query, Lang::En) => l.count(n, "query", "queries"),
        (Attempt::Syn, Lang::ZhCn) => format!("{n} 个 SYN"),
        (Attempt::Query, Lang::ZhCn) => format!("{n} 次查询"),
    }
}

/// Timers by name, joined.
pub(crate) fn timers(v: &[&'static AppTimer], l: Lang) -> String {
    let names: Vec<&str> = v.iter().map(|t| t.who(l)).collect();
    names.join(tr!(l, "; ", "；"))
}

mod shows;
pub use shows::shows;
pub(crate) use shows::side;

pub(crate) fn kind_word(kind: CallbackKind, l: Lang) -> &'static str {
    match kind {
        CallbackKind::Ident => "ident",
        CallbackKind::Dns => "DNS",
        CallbackKind::Other => tr!(l, "callback", "回连"),
    }
}

/// A part of a wait, for the breakdown.
pub fn part(p: &Part, l: Lang) -> String {
    match p {
        Part::HandshakeLoss => tr!(
            l,
            "handshake ACK lost before the server; SYN-ACK re-sent",
            "握手 ACK 在到达服务器前丢失；SYN-ACK 重发"
        )
        .into(),
        Part::RequestLoss => tr!(
            l,
            "request lost and sent again until a copy got through",
            "请求丢失，重发直到一份副本到达"
        )
        .into(),
        Part::ToServer => tr!(l, "on its way to the server", "发往服务器途中").into(),
        Part::FromServer => tr!(l, "on its way back from the server", "从服务器返回途中").into(),
        Part::ServerBefore => tr!(l, "server before the callback", "回连之前的服务器处理").into(),
        Part::Callback {
            kind,
            client,
            server,
            ..
        } => tr!(
            l,
            format!("waiting on {} {client} → {server}", lookup(*kind, l)),
            format!("等待 {} {client} → {server}", lookup(*kind, l))
        ),
        Part::ServerBetween => tr!(
            l,
            "server between the callbacks",
            "两次回连之间的服务器处理"
        )
        .into(),
        Part::ServerAfter { timer_matches } if !timer_matches.is_empty() => tr!(
            l,
            format!(
                "deliberate pause before the greeting ({})",
                timer_matches[0].who(l)
            ),
            format!("欢迎信息之前的刻意停顿（{}）", timer_matches[0].who(l))
        ),
        Part::ServerAfter { .. } => {
            tr!(l, "server after the callback", "回连之后的服务器处理").into()
        }
        Part::Answering => tr!(l, "server answering", "服务器作答").into(),
        Part::NameLookup => tr!(
            l,
            "looking the name up, to the answer",
            "解析名字，直到得到应答"
        )
        .into(),
        Part::Ipv6Tried => tr!(l, "IPv6 tried, nothing answered", "尝试 IPv6，没有任何应答").into(),
        Part::Handshake => tr!(
            l,
            "opening the connection: SYN sent until one was answered",
            "建立连接：反复发送 SYN 直到得到应答"
        )
        .into(),
        Part::WindowShut { receiver } => tr!(
            l,
            format!(
                "{}'s window shut: its application not reading",
                side(*receiver, l)
            ),
            format!("{}窗口关闭：其应用没有读取", side(*receiver, l))
        ),
        Part::NotVisible => tr!(
            l,
            "server (cause not visible here)",
            "服务器（原因在此不可见）"
        )
        .into(),
    }
}

/// The kind of a part of a wait.
pub fn segment_kind(k: SegmentKind, l: Lang) -> &'static str {
    match k {
        SegmentKind::Network => tr!(l, "network", "网络"),
        SegmentKind::Server => tr!(l, "server", "服务器"),
        SegmentKind::Dependency => tr!(l, "dependency", "依赖"),
        SegmentKind::Client => tr!(l, "client", "客户端"),
    }
}

fn nat_clause(nat: &Option<NatSeen>, l: Lang) -> String {
    match nat {
        Some(n) => tr!(
            l,
            format!(
                " (the NAT device: it translates {} ↔ {})",
                n.inside, n.outside
            ),
            format!("（即 NAT 设备：它把 {} 转换为 {}）", n.inside, n.outside)
        ),
        None => String::new(),
    }
}

/// What the capture points say.
pub fn path(p: &PathFact, l: Lang) -> String {
    match p {
        PathFact::Dropped {
            attempts,
            attempt,
            reached,
            missed,
            nat,
        } => {
            let what = attempt_noun(*attempt, *attempts, l);
            let nat = nat_clause(nat, l);
            match l {
                Lang::En => format!(
                    "{what} reached {reached}, none reached {missed}: the device between {reached} and {missed}{nat} dropped {}.",
                    if *attempts == 1 { "it" } else { "them" }
                ),
                Lang::ZhCn => format!("{what} 到达了 {reached}，没有一个到达 {missed}：{reached} 与 {missed} 之间的设备{nat}把它们丢弃了。"),
            }
        }
        PathFact::RefusedByDevice {
            reached,
            missed,
            nat,
            by,
            after,
        } => {
            let nat = nat_clause(nat, l);
            tr!(
                l,
                format!("The device between {reached} and {missed}{nat} refused the callback itself: the RST came from {by}, the address the callback was sent to, {after} after the SYN, and the SYN never reached {missed}."),
                format!("{reached} 与 {missed} 之间的设备{nat}自己拒绝了回连：RST 来自回连的目标地址 {by}，在 SYN 之后 {} 发出，而 SYN 从未到达 {missed}。", l.dur(*after))
            )
        }
        PathFact::IcmpByDevice {
            reached,
            missed,
            nat,
            by,
            reason,
            after,
        } => {
            let nat = nat_clause(nat, l);
            tr!(
                l,
                format!("The device between {reached} and {missed}{nat} refused the callback itself with ICMP {} from {by} in {after}; the SYN never reached {missed}.", reason.say(l)),
                format!("{reached} 与 {missed} 之间的设备{nat}自己以来自 {by} 的 ICMP {}在 {} 内拒绝了回连；SYN 从未到达 {missed}。", reason.say(l), l.dur(*after))
            )
        }
        PathFact::RefusedBefore {
            reached,
            missed,
            by,
            after,
        } => tr!(
            l,
            format!("The callback was refused by a RST from {by} in {after} at {reached} and never reached {missed}."),
            format!("回连在 {reached} 处于 {} 内被 {by} 以 RST 拒绝，从未到达 {missed}。", l.dur(*after))
        ),
        PathFact::AnsweredByDevice {
            reached,
            missed,
            nat,
            after,
        } => {
            let nat = nat_clause(nat, l);
            tr!(
                l,
                format!("The callback was answered in {after} at {reached} and never reached {missed}: the device between {reached} and {missed}{nat} answered it itself."),
                format!("回连在 {reached} 处于 {} 内得到应答，但从未到达 {missed}：{reached} 与 {missed} 之间的设备{nat}自己应答了它。", l.dur(*after))
            )
        }
        PathFact::ReachedAll { points, forwarded } => {
            let mut s = tr!(
                l,
                format!(
                    "The callback reached every capture point that saw the connection ({}).",
                    l.list(points)
                ),
                format!("回连到达了所有看到这条连接的捕获点（{}）。", l.list(points))
            );
            for f in forwarded {
                s.push_str(&tr!(
                    l,
                    format!(
                        " The device between {} and {} forwarded it from {} to {}.",
                        f.far, f.near, f.from, f.to
                    ),
                    format!(
                        "{} 与 {} 之间的设备把它从 {} 转发到了 {}。",
                        f.far, f.near, f.from, f.to
                    )
                ));
            }
            s
        }
        PathFact::OffPath {
            attempt,
            seen_at,
            to,
        } => {
            let what = match (attempt, l) {
                (Attempt::Syn, Lang::En) => "SYNs",
                (Attempt::Query, Lang::En) => "queries",
                (Attempt::Syn, Lang::ZhCn) => "SYN",
                (Attempt::Query, Lang::ZhCn) => "查询",
            };
            tr!(
                l,
                format!("The callback's {what} went to {to}, not toward the client: seen at {}, they had no other capture point to pass, so no drop between the points can be read from them.", l.list(seen_at)),
                format!("回连的{what}发往 {to}，而不是客户端方向：只在 {} 看到，它们本就不必经过其他捕获点，因此无法据此判断捕获点之间有丢弃。", l.list(seen_at))
            )
        }
        PathFact::AddresseeDiscards {
            point,
            addressee,
            attempts,
            attempt,
            ttl,
        } => {
            let what = attempt_noun(*attempt, *attempts, l);
            tr!(
                l,
                format!("{what} reached {addressee}'s own network segment at {point} (its packets arrive here with TTL {ttl}, unrouted) and nothing answered: the client host itself discards them (a personal or stealth firewall), or a bridging firewall on its segment; no router lies between."),
                format!("{what} 在 {point} 到达了 {addressee} 所在的网段（它的数据包在此处 TTL 为 {ttl}，未经路由），却没有任何应答：是客户端主机自己丢弃了它们（个人防火墙或隐身模式），或是同一网段上的桥接防火墙；其间没有路由器。")
            )
        }
        PathFact::HopDelay {
            from,
            to,
            toward_server,
            toward_client,
        } => tr!(
            l,
            format!("Between {from} and {to} the connection's packets took {toward_server} toward the server and {toward_client} toward the client (medians)."),
            format!("在 {from} 与 {to} 之间，这条连接的数据包发往服务器方向耗时 {}，发往客户端方向耗时 {}（中位数）。", l.dur(*toward_server), l.dur(*toward_client))
        ),
        PathFact::OffThisPath { point } => tr!(
            l,
            format!("{point} saw no packet of this conversation: it is off its path."),
            format!("{point} 没有看到这条会话的任何数据包：它不在这条路径上。")
        ),
        PathFact::CopiesLost {
            sender,
            reached,
            missed,
            at_reached,
            at_missed,
        } => tr!(
            l,
            format!(
                "Of the {}'s copies of the segment, {at_reached} reached {reached} and {at_missed} reached {missed}: the device between lost {}.",
                shows::side(*sender, l),
                at_reached - at_missed
            ),
            format!(
                "{}发出的该报文段的副本中，{at_reached} 份到达 {reached}，{at_missed} 份到达 {missed}：其间的设备丢掉了 {} 份。",
                shows::side(*sender, l),
                at_reached - at_missed
            )
        ),
        PathFact::RstBetween {
            reached,
            missed,
            as_side,
        } => tr!(
            l,
            format!(
                "The RST in the {}'s name passed {reached} and never {missed}: the device between sent it.",
                shows::side(*as_side, l)
            ),
            format!(
                "以{}名义发出的 RST 经过了 {reached}，却从未出现在 {missed}：是其间的设备发送的。",
                shows::side(*as_side, l)
            )
        ),
        PathFact::RuledOut { points, server } => tr!(
            l,
            format!("No ident or DNS callback from {server} crossed {} during the wait: the cause is inside the server, or on its side of those points.", l.list(points)),
            format!("等待期间没有来自 {server} 的 ident 或 DNS 回连经过 {}：原因在服务器内部，或在这些捕获点靠服务器的一侧。", l.list(points))
        ),
    }
}

/// A timeline row's label.
pub fn row(r: &TimelineRow, l: Lang) -> String {
    let what = match r.packet {
        PacketKind::Syn => "SYN".to_string(),
        PacketKind::SynAck => "SYN-ACK".into(),
        PacketKind::Rst => "RST".into(),
        PacketKind::Fin { bytes: 0 } => "FIN".into(),
        PacketKind::Fin { bytes } => tr!(
            l,
            format!("FIN with {}", l.count(u64::from(bytes), "byte", "bytes")),
            format!("FIN，{bytes} 字节")
        ),
        PacketKind::Data { bytes } => tr!(
            l,
            format!("data, {}", l.count(u64::from(bytes), "byte", "bytes")),
            format!("数据，{bytes} 字节")
        ),
        PacketKind::Ack => "ACK".into(),
        PacketKind::Icmp => String::new(),
    };
    let again = if r.again {
        tr!(l, " (again)", "（重发）")
    } else {
        ""
    };
    match (&r.subject, &r.sender) {
        (_, Sender::Icmp { from, reason }) => tr!(
            l,
            format!("ICMP {} from {from}", reason.say(l)),
            format!("来自 {from} 的 ICMP {}", reason.say(l))
        ),
        (Subject::Connection, Sender::Client) => {
            tr!(
                l,
                format!("client {what}{again}"),
                format!("客户端 {what}{again}")
            )
        }
        (Subject::Connection, Sender::Server) => {
            tr!(
                l,
                format!("server {what}{again}"),
                format!("服务器 {what}{again}")
            )
        }
        (Subject::Callback { kind }, Sender::Client) => {
            let k = kind
                .map(|k| kind_word(k, l))
                .unwrap_or(tr!(l, "callback", "回连"));
            format!("{k} {what}{again}")
        }
        (Subject::Callback { kind }, Sender::Server) => {
            let k = kind
                .map(|k| kind_word(k, l))
                .unwrap_or(tr!(l, "callback", "回连"));
            tr!(
                l,
                format!("{k} reply: {what}{again}"),
                format!("{k} 应答：{what}{again}")
            )
        }
    }
}

/// A duration that may run to hours, in the unit a person reads it in.
pub fn long(l: Lang, d: TimeDelta) -> String {
    let secs = d.secs_f64();
    if secs >= 3600.0 {
        tr!(
            l,
            format!("{:.1} h", secs / 3600.0),
            format!("{:.1} 小时", secs / 3600.0)
        )
    } else if secs >= 120.0 {
        tr!(
            l,
            format!("{:.1} min", secs / 60.0),
            format!("{:.1} 分钟", secs / 60.0)
        )
    } else {
        l.dur(d)
    }
}
