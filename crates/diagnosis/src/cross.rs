//! Several capture points together: the same finding seen at each point of
//! a path becomes one, with what the points say between them: where a
//! packet died, who answered in whose place, how long each hop took, and
//! one timeline with a column per point.

/// A packet as its sender sent it: side, flags, length, sequence, ack.
type SentKey = (Side, u8, u32, Option<u32>, Option<u32>);

/// Row lookups only, never iterated: a fast hasher, the output is unaffected.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

use stalltrace_conversations::{Conversation, PacketBrief, Side};
use stalltrace_decode::{TcpFlags, TimeDelta, Timestamp};
use stalltrace_matching::{same_connection, Matching, Seen};

use crate::finding::*;
use crate::lang::Lang;

fn seen_of(c: &Conversation) -> Seen {
    Seen {
        point: c.point,
        conv: c.id,
        client: c.client.clone(),
        server: c.server.clone(),
        log: c.log.clone(),
    }
}

/// The same connection: by its ISN, or because the matcher joined them
/// (through sequence-number rewriting, by timestamp or payload).
fn one_connection(a: &CrossFacts, b: &CrossFacts) -> bool {
    let joined = |x: &CrossFacts, y: &CrossFacts| {
        x.subject_elsewhere
            .iter()
            .any(|s| s.point == y.subject.point && s.conv == y.subject.id)
    };
    same_connection(&a.subject, &b.subject) || joined(a, b) || joined(b, a)
}

fn similar(a: Option<TimeDelta>, b: Option<TimeDelta>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs().nanos() <= (a.nanos().abs() / 10).max(50_000_000),
        _ => a == b,
    }
}

/// Merges findings about the same connection at different points.
pub(crate) fn merge(
    mut findings: Vec<(Timestamp, Finding)>,
    m: &Matching,
    names: &[String],
    lang: Lang,
) -> Vec<(Timestamp, Finding)> {
    let index = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .map(|i| i as u32)
            .unwrap_or(u32::MAX)
    };
    let mut used = vec![false; findings.len()];
    let mut out = Vec::new();
    for i in 0..findings.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let mut group = vec![i];
        if let Some(fi) = findings[i].1.facts.as_deref() {
            for j in i + 1..findings.len() {
                let b = &findings[j].1;
                if used[j] || b.id != findings[i].1.id || !similar(findings[i].1.cost, b.cost) {
                    continue;
                }
                let Some(fj) = b.facts.as_deref() else {
                    continue;
                };
                if group.iter().any(|&g| findings[g].1.point == b.point) || !one_connection(fi, fj)
                {
                    continue;
                }
                used[j] = true;
                group.push(j);
            }
        }
        let members: Vec<(Timestamp, &Finding)> = group
            .iter()
            .map(|&g| (findings[g].0, &findings[g].1))
            .collect();
        let (t, mut f) = combine(&members, &Ctx { m, names, lang }, &index);
        // The facts were only for merging; the members are merged. Freeing
        // both as we go keeps a report of thousands of findings from being
        // held twice.
        f.facts = None;
        out.push((t, f));
        for g in group {
            findings[g].1 = Finding::empty();
        }
    }
    out
}

struct Ctx<'a> {
    m: &'a Matching,
    names: &'a [String],
    lang: Lang,
}

impl Ctx<'_> {
    /// Position along the path, client side first; unmatched points last.
    fn pos(&self, p: u32) -> usize {
        self.m
            .path_index
            .iter()
            .position(|&q| q == p)
            .unwrap_or(1000 + p as usize)
    }
    fn name(&self, p: u32) -> String {
        self.names
            .get(p as usize)
            .cloned()
            .unwrap_or_else(|| format!("point {p}"))
    }
    fn offset(&self, p: u32) -> TimeDelta {
        self.m.offset_index.get(&p).copied().unwrap_or_default()
    }
}

fn combine(
    members: &[(Timestamp, &Finding)],
    ctx: &Ctx,
    index: &dyn Fn(&str) -> u32,
) -> (Timestamp, Finding) {
    let l = ctx.lang;
    let primary = members
        .iter()
        .filter(|(_, f)| f.cause.is_some())
        .min_by_key(|(_, f)| ctx.pos(index(&f.point)))
        .or_else(|| members.iter().min_by_key(|(_, f)| ctx.pos(index(&f.point))))
        .copied()
        .expect("a group has members");
    let (t, f) = primary;
    let mut f = f.clone();
    let Some(facts) = f.facts.take() else {
        return (t, f);
    };

    // Every view of the subject connection and of its callback.
    let mut subject: Vec<Seen> = vec![seen_of(&facts.subject)];
    let mut callback: Vec<Seen> = facts.callback.iter().map(seen_of).collect();
    let more = |list: &mut Vec<Seen>, s: Seen| {
        if list.iter().all(|x| x.point != s.point) {
            list.push(s);
        }
    };
    for s in facts.subject_elsewhere.iter().cloned() {
        more(&mut subject, s);
    }
    for s in facts.callback_elsewhere.iter().cloned() {
        more(&mut callback, s);
    }
    for (_, other) in members {
        if let Some(of) = other.facts.as_deref() {
            more(&mut subject, seen_of(&of.subject));
            if let (Some(k), Some(ok)) = (&facts.callback, &of.callback) {
                let joined = facts
                    .callback_elsewhere
                    .iter()
                    .any(|s| s.point == ok.point && s.conv == ok.id);
                if same_connection(k, ok) || joined {
                    more(&mut callback, seen_of(ok));
                }
            }
        }
    }
    subject.sort_by_key(|s| ctx.pos(s.point));
    callback.sort_by_key(|s| ctx.pos(s.point));
    if subject.len() < 2 {
        // One point: no path to speak of, but the timeline still draws the
        // conversation and its callback (the HTML ladder uses it).
        if matches!(f.id, FindingId::ApplicationWait | FindingId::CallbackLookup) {
            f.timeline = Some(timeline(
                ctx,
                &subject,
                facts.callback.as_ref(),
                &callback,
                f.cause.as_ref(),
            ));
        }
        return (t, f);
    }
    f.also_seen_at = subject
        .iter()
        .filter(|s| s.point != facts.subject.point)
        .map(|s| ctx.name(s.point))
        .collect();

    match f.id {
        FindingId::SynAckRetransmitted => {
            let passed: Vec<String> = members.iter().map(|(_, g)| g.point.clone()).collect();
            let last = members
                .iter()
                .max_by_key(|(_, g)| ctx.pos(index(&g.point)))
                .map(|(_, g)| g.point.clone())
                .unwrap_or_default();
            if passed.len() > 1 {
                f.summary = tr!(
                    l,
                    format!(
                        "The server {} re-sent its SYN-ACK although the client's ACK passed every capture point ({}): that ACK was lost beyond {last}, between it and the server, or the server's accept queue was full.",
                        facts.subject.server,
                        passed.join(", ")
                    ),
                    format!(
                        "服务器 {} 重发了 SYN-ACK，而客户端的 ACK 已经过所有捕获点（{}）：该 ACK 在 {last} 与服务器之间丢失，或服务器的 accept 队列已满。",
                        facts.subject.server,
                        passed.join("、")
                    )
                );
            }
        }
        _ => {
            if let (Some(cb), Some(k)) = (&f.cause, &facts.callback) {
                f.path
                    .extend(callback_verdict(ctx, cb, k, &subject, &callback));
            }
        }
    }
    let timeline = timeline(
        ctx,
        &subject,
        facts.callback.as_ref(),
        &callback,
        f.cause.as_ref(),
    );
    f.path.extend(hop_delays(l, &timeline));
    f.timeline = Some(timeline);
    (t, f)
}

fn nat_between(l: Lang, a: &Seen, b: &Seen) -> String {
    if a.client != b.client {
        tr!(
            l,
            format!(
                " (the NAT device: it translates {} ↔ {})",
                b.client, a.client
            ),
            format!("（即 NAT 设备：它把 {} 转换为 {}）", b.client, a.client)
        )
    } else {
        String::new()
    }
}

/// Where the callback went: which points it reached, and what the device
/// between the last of them and the first it missed did with it.
fn callback_verdict(
    ctx: &Ctx,
    cb: &Callback,
    k: &Conversation,
    subject: &[Seen],
    callback: &[Seen],
) -> Option<String> {
    let reached = |p: u32| callback.iter().any(|c| c.point == p);
    let seen_points: Vec<u32> = subject.iter().map(|s| s.point).collect();
    let first_reached = seen_points
        .iter()
        .copied()
        .filter(|&p| reached(p))
        .min_by_key(|&p| ctx.pos(p))?;
    let missed = seen_points
        .iter()
        .copied()
        .filter(|&p| !reached(p) && ctx.pos(p) < ctx.pos(first_reached))
        .max_by_key(|&p| ctx.pos(p));
    let l = ctx.lang;
    let Some(missed) = missed else {
        let names: Vec<String> = callback.iter().map(|c| ctx.name(c.point)).collect();
        let mut s = tr!(
            l,
            format!(
                "The callback reached every capture point that saw the connection ({}).",
                names.join(", ")
            ),
            format!(
                "回连到达了所有看到这条连接的捕获点（{}）。",
                names.join("、")
            )
        );
        for w in callback.windows(2) {
            if w[0].server != w[1].server {
                let (near, far) = (ctx.name(w[0].point), ctx.name(w[1].point));
                s.push_str(&tr!(
                    l,
                    format!(
                        " The device between {far} and {near} forwarded it from {} to {}.",
                        w[1].server, w[0].server
                    ),
                    format!(
                        "{far} 与 {near} 之间的设备把它从 {} 转发到了 {}。",
                        w[1].server, w[0].server
                    )
                ));
            }
        }
        return Some(s);
    };
    let (a, b) = (ctx.name(first_reached), ctx.name(missed));
    let sa = subject.iter().find(|s| s.point == first_reached)?;
    let sb = subject.iter().find(|s| s.point == missed)?;
    let nat = nat_between(l, sa, sb);
    let n = cb.attempts.len();
    Some(match (&cb.fate, l) {
        (Fate::Unanswered, Lang::En) => format!(
            "{n} SYN{} reached {a}, none reached {b}: the device between {a} and {b}{nat} dropped {}.",
            if n == 1 { "" } else { "s" },
            if n == 1 { "it" } else { "them" }
        ),
        (Fate::Unanswered, Lang::ZhCn) => format!("{n} 个 SYN 到达了 {a}，没有一个到达 {b}：{a} 与 {b} 之间的设备{nat}把它们丢弃了。"),
        (Fate::Refused { by, after }, _) if *by == k.server.host => tr!(
            l,
            format!("The device between {a} and {b}{nat} refused the callback itself: the RST came from {by}, the address the callback was sent to, {after} after the SYN, and the SYN never reached {b}."),
            format!("{a} 与 {b} 之间的设备{nat}自己拒绝了回连：RST 来自回连的目标地址 {by}，在 SYN 之后 {} 发出，而 SYN 从未到达 {b}。", l.dur(*after))
        ),
        (Fate::IcmpError { by, description, after }, _) => tr!(
            l,
            format!("The device between {a} and {b}{nat} refused the callback itself with ICMP {description} from {by} in {after}; the SYN never reached {b}."),
            format!("{a} 与 {b} 之间的设备{nat}自己以来自 {by} 的 ICMP {}在 {} 内拒绝了回连；SYN 从未到达 {b}。", l.icmp(description), l.dur(*after))
        ),
        (Fate::Refused { by, after }, _) => tr!(
            l,
            format!("The callback was refused by a RST from {by} in {after} at {a} and never reached {b}."),
            format!("回连在 {a} 处于 {} 内被 {by} 以 RST 拒绝，从未到达 {b}。", l.dur(*after))
        ),
        (Fate::Answered { after }, _) => tr!(
            l,
            format!("The callback was answered in {after} at {a} and never reached {b}: the device between {a} and {b}{nat} answered it itself."),
            format!("回连在 {a} 处于 {} 内得到应答，但从未到达 {b}：{a} 与 {b} 之间的设备{nat}自己应答了它。", l.dur(*after))
        ),
    })
}

fn label(l: Lang, b: &PacketBrief, prefix: &str, server_word: &str, again: bool) -> String {
    let f = TcpFlags(b.flags);
    let what = if f.syn() && f.ack() {
        "SYN-ACK".to_string()
    } else if f.syn() {
        "SYN".to_string()
    } else if f.rst() {
        "RST".to_string()
    } else if f.fin() {
        if b.len > 0 {
            tr!(
                l,
                format!("FIN with {} bytes", b.len),
                format!("FIN，{} 字节", b.len)
            )
        } else {
            "FIN".into()
        }
    } else if b.len > 0 {
        tr!(
            l,
            format!("data, {} bytes", b.len),
            format!("数据，{} 字节", b.len)
        )
    } else {
        "ACK".into()
    };
    let who = match b.from {
        Side::Client => prefix.to_string(),
        Side::Server => server_word.to_string(),
    };
    format!(
        "{who} {what}{}",
        if again {
            tr!(l, " (again)", "（重发）")
        } else {
            ""
        }
    )
}

type RowKey = (u8, Side, u8, u32, u32, usize);

fn timeline(
    ctx: &Ctx,
    subject: &[Seen],
    callback_conv: Option<&Conversation>,
    callback: &[Seen],
    cause: Option<&Callback>,
) -> Timeline {
    let mut cols: Vec<u32> = subject.iter().chain(callback).map(|s| s.point).collect();
    cols.sort_by_key(|&p| ctx.pos(p));
    cols.dedup();
    let col = |p: u32| cols.iter().position(|&q| q == p).expect("column");
    let mut rows: Vec<TimelineRow> = Vec::new();
    let mut keys: HashMap<RowKey, usize> = HashMap::default();
    let l = ctx.lang;
    let cb_word = match cause.map(|c| c.kind) {
        Some(CallbackKind::Ident) => "ident",
        Some(CallbackKind::Dns) => "DNS",
        _ => tr!(l, "callback", "回连"),
    };
    let (client_word, server_word) = (tr!(l, "client", "客户端"), tr!(l, "server", "服务器"));
    for (kind, list) in [(0u8, subject), (1u8, callback)] {
        for s in list {
            let mut seen_here: HashMap<(Side, u8, u32, u32), usize> = HashMap::default();
            // What this side sent before: data by its sequence range, the
            // rest by flags, sequence and acknowledgment. Only a packet
            // sent before is "again"; the next segment of the same size is
            // new data.
            let mut sent: HashMap<SentKey, ()> = HashMap::default();
            for b in &s.log {
                let base = (b.from, b.flags, b.len, b.rel_ack.unwrap_or(u32::MAX));
                let n = seen_here.entry(base).or_default();
                let key = (kind, base.0, base.1, base.2, base.3, *n);
                *n += 1;
                let what_sent = if b.len > 0 {
                    (b.from, 0, b.len, b.rel_seq, None)
                } else {
                    (b.from, b.flags, 0, b.rel_seq, b.rel_ack)
                };
                let again = sent.insert(what_sent, ()).is_some();
                let r = *keys.entry(key).or_insert_with(|| {
                    let what = if kind == 0 {
                        label(l, b, client_word, server_word, again)
                    } else {
                        let reply =
                            tr!(l, format!("{cb_word} reply:"), format!("{cb_word} 应答："));
                        label(l, b, cb_word, &reply, again)
                    };
                    rows.push(TimelineRow {
                        what,
                        times: vec![None; cols.len()],
                        packets: vec![None; cols.len()],
                    });
                    rows.len() - 1
                });
                let c = col(s.point);
                if rows[r].times[c].is_none() {
                    rows[r].times[c] = Some(b.packet.ts.saturating_add(ctx.offset(s.point)));
                    rows[r].packets[c] = Some(b.packet.number);
                }
            }
        }
    }
    if let Some(k) = callback_conv {
        for e in &k.icmp_errors {
            let mut row = TimelineRow {
                what: tr!(
                    l,
                    format!("ICMP {} from {}", e.description, e.from),
                    format!("来自 {} 的 ICMP {}", e.from, l.icmp(&e.description))
                ),
                times: vec![None; cols.len()],
                packets: vec![None; cols.len()],
            };
            let c = col(k.point);
            row.times[c] = Some(e.packet.ts.saturating_add(ctx.offset(k.point)));
            row.packets[c] = Some(e.packet.number);
            rows.push(row);
        }
    }
    rows.sort_by_key(|r| r.times.iter().flatten().min().copied());
    Timeline {
        points: cols.iter().map(|&p| ctx.name(p)).collect(),
        offsets: cols.iter().map(|&p| ctx.offset(p)).collect(),
        rows,
    }
}

/// Median time between neighbouring points, per direction, for the
/// subject connection's packets.
fn hop_delays(l: Lang, t: &Timeline) -> Vec<String> {
    let mut out = Vec::new();
    for (a, b) in (0..t.points.len()).zip(1..t.points.len()) {
        let mut toward_server = Vec::new();
        let mut toward_client = Vec::new();
        for r in &t.rows {
            let (Some(ta), Some(tb)) = (r.times[a], r.times[b]) else {
                continue;
            };
            if r.what.starts_with(tr!(l, "client ", "客户端 ")) {
                toward_server.push((tb - ta).nanos());
            } else if r.what.starts_with(tr!(l, "server ", "服务器 ")) {
                toward_client.push((ta - tb).nanos());
            }
        }
        let median = |v: &mut Vec<i64>| -> Option<TimeDelta> {
            v.sort();
            v.get(v.len() / 2).map(|&n| TimeDelta::from_nanos(n))
        };
        let (Some(ds), Some(dc)) = (median(&mut toward_server), median(&mut toward_client)) else {
            continue;
        };
        out.push(tr!(
            l,
            format!("Between {} and {} the connection's packets took {ds} toward the server and {dc} toward the client (medians).", t.points[a], t.points[b]),
            format!("在 {} 与 {} 之间，这条连接的数据包发往服务器方向耗时 {}，发往客户端方向耗时 {}（中位数）。", t.points[a], t.points[b], l.dur(ds), l.dur(dc))
        ));
    }
    out
}
