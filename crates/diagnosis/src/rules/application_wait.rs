//! `application-wait`: a server-first service (POP3, SMTP, FTP, IMAP, SSH)
//! greeted long after the handshake, never greeted before the client gave
//! up, or a server answered a request long after it.
//!
//! The wait is explained part by part (see `explain.rs`): the handshake's
//! own loss, the server's time, each lookup it made meanwhile (ident, DNS,
//! any other callback that ends with the wait) with the timer that ended
//! it, and the server's time after them (a deliberate pause before an SMTP
//! greeting). The seed's case: a 30 s xinetd ident timer behind a NAT
//! device that dropped the lookup. Field facts: `docs/field-facts.md`.

use stalltrace_decode::{tr, Lang, TimeDelta};

use crate::causes::{self, AddresseeSeen, RemedyCx};
use crate::facts::{Service, TimerPurpose};
use crate::finding::*;
use crate::remedy::Remedy;
use crate::rule::{Cx, Detect, Judged, Rule, Said};
use crate::say;

pub(crate) struct ApplicationWait;

/// A wait this long is critical: people notice and retry.
const CRITICAL: TimeDelta = TimeDelta::from_secs(5);

impl Rule for ApplicationWait {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::ApplicationWait]
    }

    fn title(&self, _id: FindingId, l: Lang) -> &'static str {
        tr!(l, "application-wait", "应用等待")
    }

    fn folds(&self) -> bool {
        true
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector)
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let Some(w) = f.wait() else {
            return Said::default();
        };
        let server = f
            .conversation
            .as_ref()
            .map(|c| c.server.to_string())
            .unwrap_or_default();
        Said {
            summary: summary(w, &server, &f.path, l),
            details: details(w, f, l),
        }
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        remedies(f)
    }
}

#[derive(Clone)]
struct Detector;

impl Detect for Detector {
    fn wait(&mut self, j: &Judged, cx: &mut Cx) {
        let cost = j.wait.cost();
        let e = j.explained;
        // The server's own share must be long: a wait spent in the network
        // (a request sent again, a long round trip) is not the server's,
        // and the network rules tell it.
        if j.wait.kind != WaitKind::NoGreeting
            && (cost < cx.cfg.wait_threshold || e.facts.server_time < cx.cfg.wait_threshold)
        {
            return;
        }
        let c = j.conv;
        let mut evidence: Vec<Evidence> = e
            .wait_evidence
            .iter()
            .chain(&e.callback_evidence)
            .map(|(p, s)| cx.evidence(c, *p, s.clone()))
            .collect();
        evidence.sort_by_key(|e| (e.time, e.packet));
        let mut f = Finding::new(
            FindingId::ApplicationWait,
            // A failed login answered late is the server's design.
            if e.facts.failed_login.is_some() {
                Severity::Info
            } else if cost >= CRITICAL {
                Severity::Critical
            } else {
                Severity::Warning
            },
            cx.name(c.point),
            Facts::Wait(Box::new(e.facts.clone())),
        );
        f.cost = Some(cost);
        f.conversation = Some(crate::explain::conv_ref(c, cx.points));
        f.evidence = evidence;
        f.breakdown = e.breakdown.clone();
        f.cross = Some(j.cross(e.facts.main));
        cx.emit(c.first.ts, f);
    }
}

/// "The POP3 greeting" / "POP3 欢迎信息".
fn greeting(service: &Option<String>, l: Lang) -> String {
    match (service, l) {
        (Some(s), Lang::En) => format!("The {s} greeting"),
        (None, Lang::En) => "The greeting".into(),
        (Some(s), Lang::ZhCn) => format!("{s} 欢迎信息"),
        (None, Lang::ZhCn) => "欢迎信息".into(),
    }
}

fn server_of(service: &Option<String>, server: &str, l: Lang) -> String {
    match (service, l) {
        (Some(s), Lang::En) => format!("The {s} server {server}"),
        (None, Lang::En) => format!("The server {server}"),
        (Some(s), Lang::ZhCn) => format!("{s} 服务器 {server}"),
        (None, Lang::ZhCn) => format!("服务器 {server}"),
    }
}

fn summary(w: &WaitFacts, server: &str, path: &[PathFact], l: Lang) -> String {
    let cost = w.waited;
    let mut s = match (w.kind, w.since_syn, l) {
        (WaitKind::NoGreeting, _, Lang::En) => {
            return format!(
                "{} never sent its greeting: the client gave up after {cost}.",
                server_of(&w.service, server, l)
            )
        }
        (WaitKind::NoGreeting, _, Lang::ZhCn) => {
            return format!(
                "{}始终没有发送欢迎信息：客户端在 {} 后放弃。",
                server_of(&w.service, server, l),
                l.dur(cost)
            )
        }
        (WaitKind::Response, _, Lang::En) => format!(
            "{} answered a request after {cost}",
            server_of(&w.service, server, l)
        ),
        (WaitKind::Response, _, Lang::ZhCn) => format!(
            "{}在 {} 后才应答请求",
            server_of(&w.service, server, l),
            l.dur(cost)
        ),
        (_, Some(syn), Lang::En) => format!(
            "{} came {syn} after the client's SYN ({cost} after the handshake)",
            greeting(&w.service, l)
        ),
        (_, Some(syn), Lang::ZhCn) => format!(
            "{}在客户端 SYN 之后 {}才到达（握手完成后 {}）",
            greeting(&w.service, l),
            l.dur(syn),
            l.dur(cost)
        ),
        (_, None, Lang::En) => format!(
            "{} came {cost} after the handshake",
            greeting(&w.service, l)
        ),
        (_, None, Lang::ZhCn) => format!(
            "{}在握手完成后 {}才到达",
            greeting(&w.service, l),
            l.dur(cost)
        ),
    };
    if let Some(x) = &w.failed_login {
        s.push_str(&match &x.reply {
            Some(r) => tr!(
                l,
                format!(": its answer refused the login (\"{r}\"), and servers answer a failed login late on purpose, to slow password guessing: a deliberate delay, not a fault."),
                format!("：应答拒绝了登录（“{r}”），服务器有意推迟对失败登录的应答以减缓密码猜测：这是有意的延迟，不是故障。")
            ),
            None if x.retried => tr!(
                l,
                ": the client at once sent a request of the same size again, the next try of a refused login, and servers answer a failed login late on purpose, to slow password guessing: a deliberate delay, not a fault.".to_string(),
                "：客户端随即再次发送同样大小的请求，即被拒绝的登录的下一次尝试；服务器有意推迟对失败登录的应答以减缓密码猜测：这是有意的延迟，不是故障。".to_string()
            ),
            None => tr!(
                l,
                ": the answer (encrypted) had the size of the server's earlier refusals in this login, and servers answer a failed login late on purpose, to slow password guessing: a deliberate delay, not a fault.".to_string(),
                "：这个（加密的）应答与本次登录中服务器先前的拒绝大小相同；服务器有意推迟对失败登录的应答以减缓密码猜测：这是有意的延迟，不是故障。".to_string()
            ),
        });
        return s;
    }
    let pause = w.remainder.as_ref().filter(|r| !r.timer_matches.is_empty());
    match (w.cause(), pause) {
        (Some(cb), _) => {
            s.push_str(&tr!(
                l,
                format!(
                    ": the server waited {} for {}, {}",
                    l.dur(cb.lasted),
                    say::callback(cb, l),
                    say::best_fate(cb, path, l)
                ),
                format!(
                    "：服务器为 {} 等待了 {}，{}",
                    say::callback(cb, l),
                    l.dur(cb.lasted),
                    say::best_fate(cb, path, l)
                )
            ));
            if let Some(r) = pause {
                s.push_str(&tr!(
                    l,
                    format!(
                        ", then held its greeting back {} more on purpose",
                        l.dur(r.duration)
                    ),
                    format!("，之后又刻意推迟欢迎信息 {}", l.dur(r.duration))
                ));
            }
            s.push_str(l.stop());
        }
        (None, Some(r)) => s.push_str(&tr!(
            l,
            format!(
                ": the server held its greeting back {} on purpose ({}).",
                l.dur(r.duration),
                r.timer_matches[0].who(l)
            ),
            format!(
                "：服务器刻意推迟了欢迎信息 {}（{}）。",
                l.dur(r.duration),
                r.timer_matches[0].who(l)
            )
        )),
        (None, None) => s.push_str(l.stop()),
    }
    s
}

fn details(w: &WaitFacts, f: &Finding, l: Lang) -> Vec<String> {
    let mut d = Vec::new();
    if w.failed_login.is_some() {
        d.push(tr!(
            l,
            "FileZilla Server, vsftpd (delay_failed_login), Dovecot (auth_failure_delay), Postfix (smtpd_error_sleep_time) and PAM (pam_faildelay) all hold the answer to a wrong password; check the credentials, not the network.",
            "FileZilla Server、vsftpd（delay_failed_login）、Dovecot（auth_failure_delay）、Postfix（smtpd_error_sleep_time）和 PAM（pam_faildelay）都会推迟对错误密码的应答；请检查凭据，而不是网络。"
        )
        .into());
        return d;
    }
    if let Some(h) = &w.handshake_loss {
        d.push(tr!(
            l,
            format!(
                "The first {} went to the handshake: the server re-sent its SYN-ACK at {} because it did not take the client's first ACK (lost on the way, or dropped on a full accept queue), so the server had the connection only after the client's second ACK ({}).",
                h.took,
                h.resent.time_of_day(),
                h.ack.time_of_day()
            ),
            format!(
                "最初的 {}耗在握手上：服务器没有接收客户端的第一个 ACK（在途中丢失，或因 accept 队列已满被丢弃），服务器于 {} 重发 SYN-ACK，直到客户端第二次 ACK（{}）之后服务器才建立连接。",
                l.dur(h.took),
                h.resent.time_of_day(),
                h.ack.time_of_day()
            )
        ));
    }
    let placed = path_places(f);
    for cb in &w.callbacks {
        d.extend(callback_details(cb, placed, l));
    }
    if let Some(r) = &w.remainder {
        if !r.timer_matches.is_empty() {
            d.push(tr!(
                l,
                format!(
                    "After {} the server held its greeting back {} more: a deliberate pause, not a fault. {} matches: {}.",
                    if w.callbacks.is_empty() { "the handshake" } else { "its lookups" },
                    l.dur(r.duration),
                    l.dur(r.duration),
                    say::timers(&r.timer_matches, l)
                ),
                format!(
                    "{}之后，服务器又推迟欢迎信息 {}：这是刻意的停顿，而不是故障。{}与以下设置吻合：{}。",
                    if w.callbacks.is_empty() { "握手" } else { "查询" },
                    l.dur(r.duration),
                    l.dur(r.duration),
                    say::timers(&r.timer_matches, l)
                )
            ));
        } else if w.main.is_none() {
            d.push(tr!(
                l,
                format!(
                    "The lookups above explain little of the wait: the {} after them were the server's own, for a cause not visible here.",
                    l.dur(r.duration)
                ),
                format!(
                    "上述查询只能解释这次等待的一小部分：其后的 {}是服务器自身的时间，原因在此不可见。",
                    l.dur(r.duration)
                )
            ));
        }
    }
    if let Some(u) = &w.unseen {
        d.extend(unseen(u, f, l));
    }
    d
}

/// The path facts say where the callback went (so the reasons need not
/// guess).
pub(crate) fn path_places(f: &Finding) -> bool {
    f.path.iter().any(|p| {
        !matches!(
            p,
            PathFact::HopDelay { .. } | PathFact::OffThisPath { .. } | PathFact::RuledOut { .. }
        )
    })
}

/// A callback's story: its attempts and fate, when the server gave up on
/// it, and what its timing says about the opener.
pub(crate) fn callback_details(cb: &Callback, placed: bool, l: Lang) -> Vec<String> {
    let mut d = Vec::new();
    let fate = match cb.fate {
        // Where the path facts place it, they say where it died; this
        // point alone cannot.
        Fate::Unanswered if !placed => tr!(
            l,
            format!(
                "{}: dropped further on, or discarded silently by the addressee",
                say::fate(&cb.fate, l)
            ),
            format!(
                "{}：在更远处被丢弃，或被目标主机静默丢弃",
                say::fate(&cb.fate, l)
            )
        ),
        _ => say::fate(&cb.fate, l),
    };
    let what = match cb.kind {
        CallbackKind::Ident => tr!(l, "Ident callback", "ident 回连"),
        CallbackKind::Dns => tr!(l, "DNS lookup", "DNS 查询"),
        CallbackKind::Other => tr!(l, "Callback", "回连"),
    };
    let ends = format!("{} → {}", cb.conversation.client, cb.conversation.server);
    d.push(tr!(
        l,
        format!("{what} {ends}: {}, {fate}.", say::attempts(cb, l)),
        format!("{what} {ends}：{}，{fate}。", say::attempts(cb, l))
    ));
    if let Some(g) = &cb.give_up {
        let first = match (l, cb.conversation.protocol) {
            (_, stalltrace_conversations::Protocol::Tcp) => "SYN",
            (Lang::En, stalltrace_conversations::Protocol::Udp) => "query",
            (Lang::ZhCn, stalltrace_conversations::Protocol::Udp) => "查询",
        };
        let mut s = match (g.by_timer, l) {
            (true, Lang::En) => format!(
                "The server gave up {} after its first {first}",
                l.dur(g.after)
            ),
            (false, Lang::En) => format!(
                "The server gave up at most {} after its first {first}",
                l.dur(g.after)
            ),
            (true, Lang::ZhCn) => format!("服务器在发出第一个 {first} 之后 {}放弃", l.dur(g.after)),
            (false, Lang::ZhCn) => {
                format!("服务器最迟在发出第一个 {first} 之后 {}放弃", l.dur(g.after))
            }
        };
        // Only what the numbers bear out: the give-up lies after the last
        // attempt and no later than the retry that never came.
        if let Some(next) = g
            .next_retry_due
            .filter(|n| g.last_attempt < g.after && *n >= g.after)
        {
            s.push_str(&tr!(
                l,
                format!(
                    ", after its +{:.0} s retry and before the next one, due at +{:.0} s",
                    g.last_attempt.secs_f64(),
                    next.secs_f64()
                ),
                format!(
                    "，在 +{:.0} 秒的重传之后、本应在 +{:.0} 秒的下一次重传之前",
                    g.last_attempt.secs_f64(),
                    next.secs_f64()
                )
            ));
        }
        if g.application_timer {
            s.push_str(tr!(
                l,
                ": an application timer, not TCP giving up",
                "：这是应用程序的定时器，而不是 TCP 自身放弃"
            ));
        }
        if !cb.timer_matches.is_empty() {
            s.push_str(&tr!(
                l,
                format!(
                    ". {} matches: {}",
                    l.dur(g.after),
                    say::timers(&cb.timer_matches, l)
                ),
                format!(
                    "。{}与以下定时器吻合：{}",
                    l.dur(g.after),
                    say::timers(&cb.timer_matches, l)
                )
            ));
        }
        s.push_str(l.stop());
        d.push(s);
    }
    if let (Fate::IcmpError { .. }, true) = (&cb.fate, cb.attempts.len() > 1) {
        d.push(tr!(
            l,
            format!("The first ICMP error did not end the attempt: the SYN was sent {} times before one did. Linux sets an ICMP error aside as a soft error when it arrives while connect() holds the socket (counted as TcpExtLockDroppedIcmps), and then waits for its SYN retry.", cb.attempts.len()),
            format!("第一个 ICMP 差错并没有结束这次连接尝试：SYN 共发送了 {} 次才被终止。ICMP 差错若在 connect() 持有套接字锁时到达，Linux 会把它当作软错误搁置（计入 TcpExtLockDroppedIcmps），然后等待 SYN 重传。", cb.attempts.len())
        ));
    }
    if cb.kind == CallbackKind::Dns && cb.attempts.len() > 1 {
        let gaps_of_5 = cb
            .attempts
            .windows(2)
            .all(|w| ((w[1] - w[0]).secs_f64() - 5.0).abs() < 0.5);
        if gaps_of_5 {
            d.push(tr!(
                l,
                "The queries are 5 s apart: the glibc resolver's default (options timeout:5, attempts:2), so every unanswered lookup costs 10 s per name server.",
                "查询间隔 5 秒：这是 glibc 解析器的默认值（options timeout:5, attempts:2），每个没有应答的查询在每台域名服务器上要耗费 10 秒。"
            )
            .into());
        }
    }
    if !cb.backoff_matches.is_empty() {
        let retries = &cb.attempts[1.min(cb.attempts.len())..];
        let names: Vec<&str> = cb.backoff_matches.iter().map(|s| s.name(l)).collect();
        d.push(tr!(
            l,
            format!(
                "The SYN back-off ({}) matches {}.",
                l.offsets(retries),
                names.join("; or ")
            ),
            format!(
                "SYN 重传间隔（{}）与 {} 吻合。",
                l.offsets(retries),
                names.join("；或 ")
            )
        ));
    }
    d
}

/// No lookup seen during the wait: what this point rules out, and where
/// to look, unless the points captured already rule it out.
fn unseen(u: &Unseen, f: &Finding, l: Lang) -> Vec<String> {
    let mut d = Vec::new();
    let ruled_out = f
        .path
        .iter()
        .any(|p| matches!(p, PathFact::RuledOut { .. }));
    let server = f
        .conversation
        .as_ref()
        .map(|c| c.server.host.to_string())
        .unwrap_or_default();
    if !ruled_out {
        d.push(tr!(
            l,
            format!("No connection from {server} was seen at this capture point during the wait, so its cause is not visible here."),
            format!("等待期间在此捕获点没有看到来自 {server} 的任何连接，因此原因在这里不可见。")
        ));
        let client = f
            .conversation
            .as_ref()
            .map(|c| c.client.host.to_string())
            .unwrap_or_default();
        if u.private_client {
            d.push(tr!(
                l,
                format!("The client {client} has a private address: it reaches the server through NAT, so a callback from the server (ident on tcp/113, or any other) goes to the NAT device's outside address and never shows here. Capture on the NAT device's outside interface, or at the server, to see it."),
                format!("客户端 {client} 使用私有地址，经 NAT 访问服务器；服务器的回连（tcp/113 的 ident 或其他）会发往 NAT 设备的外网地址，在这里看不到。请在 NAT 设备的外网接口或服务器上抓包。")
            ));
        } else {
            d.push(tr!(
                l,
                "Capture at the server, or on its side of the path, to see what it waited for (an ident or DNS lookup, a back end).",
                "请在服务器上或其所在一侧抓包，查看它在等待什么（ident 或 DNS 查询、后端服务）。"
            )
            .into());
        }
    }
    if !u.timer_matches.is_empty() {
        d.push(tr!(
            l,
            format!("The server spoke {} after it had the connection, which matches known lookup timers: {}. An ident or DNS callback that nothing answered is the likely cause.", l.dur(u.server_time), say::timers(&u.timer_matches, l)),
            format!("服务器在建立连接 {}之后才发言，与已知的查询定时器吻合：{}。最可能的原因是一次没有应答的 ident 或 DNS 回连。", l.dur(u.server_time), say::timers(&u.timer_matches, l))
        ));
    }
    d
}

/// Remedies of the causes the wait's facts name, the main lookup's first,
/// built from what the capture shows.
pub(crate) fn remedies<'a>(f: &'a Finding) -> Vec<Remedy> {
    let (Some(w), Some(conv)) = (f.wait(), f.conversation.as_ref()) else {
        return Vec::new();
    };
    if w.failed_login.is_some() {
        return Vec::new();
    }
    let service = conv
        .service
        .as_deref()
        .and_then(|n| Service::by_name(conv.protocol, n))
        .or_else(|| Service::by_port(conv.protocol, conv.server.port));
    let nat = f.path.iter().find_map(|p| match p {
        PathFact::Dropped { nat, .. }
        | PathFact::RefusedByDevice { nat, .. }
        | PathFact::IcmpByDevice { nat, .. } => nat.as_ref(),
        _ => None,
    });
    let addressee = f.path.iter().find_map(|p| match p {
        PathFact::AddresseeDiscards { ttl, .. } => Some(AddresseeSeen { ttl: *ttl }),
        _ => None,
    });
    let cx = |callback: Option<&'a Callback>| RemedyCx {
        service,
        daemon: conv.daemon.as_ref(),
        server: &conv.server,
        client: &conv.client,
        callback,
        remainder: w.remainder.as_ref(),
        nat,
        addressee_discards: addressee,
        severity: f.severity,
    };
    let mut out: Vec<Remedy> = Vec::new();
    let mut order: Vec<&Callback> = w.cause().into_iter().collect();
    order.extend(w.callbacks.iter().filter(|cb| Some(*cb) != w.cause()));
    let mut push = |v: Vec<Remedy>| {
        for r in v {
            if !out
                .iter()
                .any(|o| o.target == r.target && o.lines == r.lines)
            {
                out.push(r);
            }
        }
    };
    if let Some(cb) = order.first() {
        push(causes::of_kind(cb.kind).remedies(&cx(Some(cb))));
    }
    if w.remainder
        .as_ref()
        .is_some_and(|r| !r.timer_matches.is_empty())
    {
        for (purpose, cause) in causes::remainder_purposes(service, conv.daemon.as_ref()) {
            if purpose == TimerPurpose::GreetingPause {
                push(cause.remedies(&cx(None)));
            }
        }
    }
    for cb in order.iter().skip(1) {
        push(causes::of_kind(cb.kind).remedies(&cx(Some(cb))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{diagnose, one};

    /// The seed's environment 1 at the firewall's outside interface.
    const SEED_OUTSIDE: &str = "\
13:05:08.533163 218.104.68.171.42390 > 220.xxx.160.xxx.110: S 950786859:950786859(0) win 16384 <mss 1460,nop,nop,sackOK>
13:05:08.721807 220.xxx.160.xxx.110 > 218.104.68.171.42390: S 211290961:211290961(0) ack 950786860 win 5840 <mss 1460,nop,nop,sackOK> (DF)
13:05:08.722475 218.104.68.171.42390 > 220.xxx.160.xxx.110: . ack 1 win 17520
13:05:12.916200 220.xxx.160.xxx.110 > 218.104.68.171.42390: S 211290961:211290961(0) ack 950786860 win 5840 <mss 1460,nop,nop,sackOK> (DF)
13:05:12.916763 218.104.68.171.42390 > 220.xxx.160.xxx.110: . ack 1 win 17520
13:05:13.107977 220.xxx.160.xxx.38107 > 218.104.68.171.113: S 211996004:211996004(0) win 5840 <mss 1460,sackOK,timestamp 309913215[|tcp]> (DF)
13:05:16.096580 220.xxx.160.xxx.38107 > 218.104.68.171.113: S 211996004:211996004(0) win 5840 <mss 1460,sackOK,timestamp 309916215[|tcp]> (DF)
13:05:22.087058 220.xxx.160.xxx.38107 > 218.104.68.171.113: S 211996004:211996004(0) win 5840 <mss 1460,sackOK,timestamp 309922215[|tcp]> (DF)
13:05:34.068364 220.xxx.160.xxx.38107 > 218.104.68.171.113: S 211996004:211996004(0) win 5840 <mss 1460,sackOK,timestamp 309934215[|tcp]> (DF)
13:05:43.068169 220.xxx.160.xxx.110 > 218.104.68.171.42390: P 1:49(48) ack 1 win 5840 (DF)
13:05:43.256913 218.104.68.171.42390 > 220.xxx.160.xxx.110: . ack 49 win 17472
";

    fn tenths(d: TimeDelta) -> f64 {
        (d.secs_f64() * 10.0).round() / 10.0
    }

    #[test]
    fn the_seeds_wait_is_the_handshake_then_the_ident_timer() {
        let all = diagnose(SEED_OUTSIDE);
        let f = one(&all, FindingId::ApplicationWait);
        assert_eq!(f.severity, Severity::Critical);
        let w = f.wait().unwrap();
        assert_eq!(w.kind, WaitKind::Greeting);
        assert_eq!(w.bytes, 48);
        assert_eq!(tenths(w.handshake_loss.as_ref().unwrap().took), 4.2);
        let cb = w.cause().unwrap();
        assert_eq!(
            (cb.kind, cb.fate.clone()),
            (CallbackKind::Ident, Fate::Unanswered)
        );
        assert_eq!(cb.timer_matches[0].id, "xinetd-userid");
        assert_eq!(cb.backoff_matches[0].id, "linux-2.4");
        let parts: Vec<(SegmentKind, f64)> = f
            .breakdown
            .iter()
            .map(|s| (s.kind, tenths(s.duration)))
            .collect();
        assert_eq!(
            parts,
            vec![
                (SegmentKind::Network, 4.2),
                (SegmentKind::Network, 0.1),
                (SegmentKind::Server, 0.0),
                (SegmentKind::Dependency, 30.0),
                (SegmentKind::Network, 0.1)
            ]
        );
        // The 191 ms from the ACK to the ident SYN at this point were a
        // round trip (188.6 ms, SYN to SYN-ACK) and 2.6 ms of the server's.
        assert_eq!(w.round_trip.unwrap().nanos(), 188_644_000);
        assert_eq!(f.breakdown[2].duration.nanos() / 10_000, 257);
        assert!(matches!(f.breakdown[1].part, Part::ToServer));
        assert!(matches!(f.breakdown[4].part, Part::FromServer));
        assert!(w.remainder.is_none() && w.unseen.is_none());
    }

    #[test]
    fn a_late_answer_behind_an_unanswered_lookup_is_a_response_wait() {
        let all = diagnose("\
10:00:00.000000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [S], seq 1000, win 64240, length 0
10:00:00.000200 IP 198.51.100.80.80 > 192.0.2.10.50000: Flags [S.], seq 7000, ack 1001, win 65160, length 0
10:00:00.000400 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [.], ack 1, win 502, length 0
10:00:00.001000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [P.], seq 1:79, ack 1, win 502, length 78: HTTP: GET / HTTP/1.1
10:00:00.002000 IP 198.51.100.80.41000 > 198.51.100.53.53: 4242+ PTR? 10.2.0.192.in-addr.arpa. (41)
10:00:05.007000 IP 198.51.100.80.41000 > 198.51.100.53.53: 4242+ PTR? 10.2.0.192.in-addr.arpa. (41)
10:00:10.012000 IP 198.51.100.80.80 > 192.0.2.10.50000: Flags [P.], seq 1:513, ack 79, win 509, length 512: HTTP: HTTP/1.1 200 OK
");
        let f = one(&all, FindingId::ApplicationWait);
        let w = f.wait().unwrap();
        assert_eq!(w.kind, WaitKind::Response);
        let cb = w.cause().unwrap();
        assert_eq!(cb.kind, CallbackKind::Dns);
        assert_eq!(cb.attempts.len(), 2);
        // Two queries 5 s apart: glibc's, which gives up at 10 s; the
        // server answered 10 ms after.
        assert!(cb.give_up.as_ref().is_some_and(|g| g.by_timer));
        assert_eq!(cb.lasted, TimeDelta::from_secs(10));
    }

    #[test]
    fn a_client_that_leaves_before_the_greeting() {
        let all = diagnose("\
10:00:00.000000 IP 192.0.2.10.50000 > 198.51.100.25.110: Flags [S], seq 1000, win 64240, length 0
10:00:00.000200 IP 198.51.100.25.110 > 192.0.2.10.50000: Flags [S.], seq 7000, ack 1001, win 65160, length 0
10:00:00.000400 IP 192.0.2.10.50000 > 198.51.100.25.110: Flags [.], ack 1, win 502, length 0
10:00:20.000400 IP 192.0.2.10.50000 > 198.51.100.25.110: Flags [F.], seq 1, ack 1, win 502, length 0
");
        let f = one(&all, FindingId::ApplicationWait);
        assert_eq!(f.wait().unwrap().kind, WaitKind::NoGreeting);
        assert_eq!(tenths(f.cost.unwrap()), 20.0);
        assert!(f.wait().unwrap().unseen.is_some());
    }

    #[test]
    fn an_smtp_banner_held_back_a_fixed_second_is_a_greeting_pause() {
        let all = diagnose("\
10:00:00.000000 IP 192.0.2.10.50000 > 198.51.100.25.25: Flags [S], seq 1000, win 64240, length 0
10:00:00.000200 IP 198.51.100.25.25 > 192.0.2.10.50000: Flags [S.], seq 7000, ack 1001, win 65160, length 0
10:00:00.000400 IP 192.0.2.10.50000 > 198.51.100.25.25: Flags [.], ack 1, win 502, length 0
10:00:01.002400 IP 198.51.100.25.25 > 192.0.2.10.50000: Flags [P.], seq 1:60, ack 1, win 509, length 59: SMTP: 220 mail.example.org ESMTP
");
        let f = one(&all, FindingId::ApplicationWait);
        assert_eq!(f.severity, Severity::Warning);
        let w = f.wait().unwrap();
        assert!(w.callbacks.is_empty() && w.unseen.is_none());
        let r = w.remainder.as_ref().unwrap();
        assert_eq!(r.timer_matches[0].id, "sendmail-greet-pause-debian");
        assert!(matches!(
            &f.breakdown[..],
            [a, s, b] if matches!(
                (&a.part, &s.part, &b.part),
                (Part::ToServer, Part::ServerAfter { .. }, Part::FromServer)
            )
        ));
        assert!(f
            .remedies
            .iter()
            .any(|r| r.lines[0] == "GreetPause:192.0.2.10\t0"));
    }
}
