//! `retransmission`: data one side sent again before the other
//! acknowledged it. The time from the first copy to the copy that got
//! through is network time, not the server's: an HTTP request sent at
//! +0, +0.25, +0.7, +1.5 s and answered at once after the last copy is a
//! 1.5 s loss and a few milliseconds of server, not a slow server.
//!
//! The first resend's delay names the sender's timer (Linux's minimum RTO
//! 200 ms, Windows' 300 ms, RFC 6298's 1 s; `facts/transport.rs`); a
//! resend sooner than any RTO, then one at the RTO, is Linux's tail-loss
//! probe. A lost segment that was the last one sent (tail loss) brings no
//! duplicate ACKs, so only the timer resends it: what the timer's floor
//! costs a request-response protocol on every loss. With several points,
//! the copies each point saw say where they died (`merge`).

use stalltrace_conversations::signals::LossEpisode;
use stalltrace_conversations::{Conversation, Side};
use stalltrace_decode::{tr, Lang, TimeDelta};

use crate::facts::transport::rto_fitting;
use crate::finding::*;
use crate::remedy::{literal, Remedy, Target, Text};
use crate::rule::{severity_of, Cx, Detect, Rule, Said};
use crate::say;

pub(crate) struct Retransmission;

impl Rule for Retransmission {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::Retransmission]
    }

    fn title(&self, _id: FindingId, l: Lang) -> &'static str {
        tr!(l, "retransmission", "重传")
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector)
    }

    fn folds(&self) -> bool {
        true
    }

    fn fold_detail(&self, f: &Finding) -> String {
        match &f.facts {
            Facts::Loss(x) => format!("{:?}{}{}", x.sender, x.acknowledged, x.tail),
            _ => String::new(),
        }
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let Facts::Loss(x) = &f.facts else {
            return Said::default();
        };
        said(x, l)
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        let Facts::Loss(x) = &f.facts else {
            return Vec::new();
        };
        remedies(x, &f.path)
    }
}

#[derive(Clone)]
struct Detector;

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, cx: &mut Cx) {
        for side in [Side::Client, Side::Server] {
            if crate::rules::pmtu::black_hole(c, side).is_some() {
                continue;
            }
            let Some(loss) = c.signals.loss[side.index()].as_deref() else {
                continue;
            };
            // The costliest episode: one that got through, or one that
            // never did.
            let worst = [loss.worst.as_ref(), loss.unacked.as_ref()]
                .into_iter()
                .flatten()
                .max_by_key(|e| e.lost());
            let Some(e) = worst else {
                continue;
            };
            if side == Side::Client && server_had_not_taken_it(c, e) {
                continue;
            }
            if reset_by_receiver(c, side, e) {
                continue;
            }
            let lost = loss.total + loss.unacked.as_ref().map_or(TimeDelta::ZERO, |u| u.lost());
            if e.lost() < cx.cfg.network_threshold {
                continue;
            }
            emit(
                c,
                side,
                e,
                loss.episodes + u32::from(loss.unacked.is_some()),
                lost,
                cx,
            );
        }
    }
}

/// The client sent its data while the server still re-sent its SYN-ACK,
/// although the client had acknowledged it: the server had not taken the
/// connection (its accept queue was full, or the ACK was lost), so it
/// dropped the data too. The handshake rules tell that; the copies were
/// not lost in the network.
fn server_had_not_taken_it(c: &Conversation, e: &LossEpisode) -> bool {
    let Some(ack) = c.handshake_ack() else {
        return false;
    };
    c.syn_acks
        .iter()
        .skip(1)
        .any(|s| s.ts > ack.ts && s.ts > e.first.ts)
}

/// The receiver had reset the connection before the copies: a sender
/// that goes on sending into a reset connection (its RST not yet
/// processed, or lost) lost nothing to the path (Zeek's
/// tls/heartbleed-encrypted-success.pcap: the client's RST, then the
/// server's resends, "never acknowledged").
fn reset_by_receiver(c: &Conversation, side: Side, e: &LossEpisode) -> bool {
    c.rst
        .as_ref()
        .is_some_and(|(by, r)| *by == side.other() && r.ts <= e.last_copy.ts)
}

fn rtt(c: &Conversation) -> Option<TimeDelta> {
    let r = c.signals.rtt;
    match (r.upstream, r.downstream) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn emit(
    c: &Conversation,
    side: Side,
    e: &LossEpisode,
    episodes: u32,
    lost: TimeDelta,
    cx: &mut Cx,
) {
    let gaps = e.gaps();
    let round_trip = rtt(c);
    // The first timer-driven resend: the first, unless it came sooner
    // than any timer's floor (a tail-loss probe at about two round trips).
    let mut rto = gaps
        .first()
        .map(|g| rto_fitting(*g, round_trip))
        .unwrap_or_default();
    let mut probed = false;
    if rto.is_empty() && gaps.len() > 1 && gaps[0] < TimeDelta::from_millis(190) {
        rto = rto_fitting(gaps[1], round_trip);
        probed = !rto.is_empty();
    }
    let (from, to) = match side {
        Side::Client => (&c.client, &c.server),
        Side::Server => (&c.server, &c.client),
    };
    // A request the server answered after the copy that got through.
    let turn = (side == Side::Client)
        .then(|| {
            c.longest_turns
                .iter()
                .find(|t| t.responder == Side::Server && t.request_copy == Some(e.last_copy))
        })
        .flatten();
    let half = TimeDelta::from_nanos(c.signals.rtt.upstream.unwrap_or_default().nanos() / 2);
    // The server's own time: from the copy's arrival to the answer's
    // leaving, half a round trip in from each end; when the answer came
    // sooner than the round trip here says, all of it, as an upper bound.
    let server_time = turn.map(|t| {
        let (arrived, left) = (e.last_copy.ts + half, t.response.ts - half);
        if left > arrived {
            left - arrived
        } else {
            t.response.ts - e.last_copy.ts
        }
    });
    let facts = LossFacts {
        sender: side,
        from: from.clone(),
        to: to.clone(),
        episodes,
        lost,
        copies: e.copies,
        gaps,
        span: e.lost(),
        bytes: e.len,
        tail: e.tail,
        dupacks: e.dupacks,
        acknowledged: e.acked.is_some(),
        server_time,
        rto,
        probed,
        round_trip,
    };
    let mut f = Finding::new(
        FindingId::Retransmission,
        severity_of(lost, cx.cfg),
        cx.name(c.point),
        Facts::Loss(facts),
    );
    f.cost = Some(lost);
    f.conversation = Some(crate::explain::conv_ref(c, cx.points));
    let mut evidence = cx.copies(c, side, e);
    if let Some(a) = e.acked {
        evidence.push(cx.evidence(
            c,
            a,
            Shows::DataAcked {
                by: side.other(),
                after: a.ts - e.first.ts,
            },
        ));
    }
    if let Some(t) = turn {
        if e.acked != Some(t.response) {
            evidence.push(cx.evidence(c, t.response, Shows::Answer { service: None }));
        }
        // Where the request's time went: lost, on its way, the server's,
        // and the answer's way back.
        let mut b = vec![TimeSegment::new(
            SegmentKind::Network,
            Part::RequestLoss,
            e.first.ts,
            e.last_copy.ts,
        )];
        let arrived = e.last_copy.ts + half;
        let left = t.response.ts - half;
        if half > TimeDelta::ZERO && left > arrived {
            b.push(TimeSegment::new(
                SegmentKind::Network,
                Part::ToServer,
                e.last_copy.ts,
                arrived,
            ));
            b.push(TimeSegment::new(
                SegmentKind::Server,
                Part::Answering,
                arrived,
                left,
            ));
            b.push(TimeSegment::new(
                SegmentKind::Network,
                Part::FromServer,
                left,
                t.response.ts,
            ));
        } else {
            b.push(TimeSegment::new(
                SegmentKind::Server,
                Part::Answering,
                e.last_copy.ts,
                t.response.ts,
            ));
        }
        f.breakdown = b;
    }
    f.evidence = evidence;
    f.cross = Some(CrossFacts::of(c));
    cx.emit(e.first.ts, f);
}

fn said(x: &LossFacts, l: Lang) -> Said {
    let who = say::side(x.sender, l);
    let copies = x.copies;
    let summary = match (x.acknowledged, x.server_time, l) {
        (true, Some(st), Lang::En) => format!(
            "The {who} {} sent its request {copies} times before a copy got through: {} of network time, then the server answered in {}.",
            x.from,
            l.dur(lost_of(x)),
            l.dur(st)
        ),
        (true, Some(st), Lang::ZhCn) => format!(
            "{who} {} 的请求发送了 {copies} 次才有一份到达：网络耗时 {}，之后服务器在 {}内作答。",
            x.from,
            l.dur(lost_of(x)),
            l.dur(st)
        ),
        (true, None, Lang::En) => format!(
            "The {who} {} had to send {} {} before {} acknowledged them: {} lost to the network.",
            x.from,
            l.count(u64::from(x.bytes), "byte", "bytes"),
            l.count(u64::from(copies), "time", "times"),
            x.to,
            l.dur(lost_of(x))
        ),
        (true, None, Lang::ZhCn) => format!(
            "{who} {} 把 {} 字节的数据发送了 {copies} 次，{} 才确认：网络损失了 {}。",
            x.from,
            x.bytes,
            x.to,
            l.dur(lost_of(x))
        ),
        (false, _, Lang::En) => format!(
            "The {who} {} sent {} {} over {} and {} never acknowledged them.",
            x.from,
            l.count(u64::from(x.bytes), "byte", "bytes"),
            l.count(u64::from(copies), "time", "times"),
            l.dur(lost_of(x)),
            x.to
        ),
        (false, _, Lang::ZhCn) => format!(
            "{who} {} 在 {} 内把 {} 字节的数据发送了 {copies} 次，{} 始终没有确认。",
            x.from,
            l.dur(lost_of(x)),
            x.bytes,
            x.to
        ),
    };
    let mut details = Vec::new();
    let gaps: Vec<String> = x.gaps.iter().map(|g| format!("+{}", l.dur(*g))).collect();
    if !gaps.is_empty() {
        details.push(tr!(
            l,
            format!("Gaps between the copies: {}: each resend waits for the retransmission timer, which backs off.", gaps.join(", ")),
            format!("各副本之间的间隔：{}：每次重发都要等重传定时器，且定时器逐次退避。", gaps.join("，"))
        ));
    }
    if let Some(s) = x.rto.first() {
        details.push(match x.probed {
            true => tr!(
                l,
                format!("The first resend was a tail-loss probe (about two round trips); the next came at the minimum retransmission timeout of {}.", s.name(l)),
                format!("第一次重发是尾部丢失探测（约两个往返时间）；下一次发生在 {} 的最小重传超时。", s.name(l))
            ),
            false => tr!(
                l,
                format!("The first resend came at the minimum retransmission timeout of {}.", s.name(l)),
                format!("第一次重发发生在 {} 的最小重传超时。", s.name(l))
            ),
        });
    }
    if x.tail && x.dupacks == 0 {
        details.push(tr!(
            l,
            "It was the last segment sent: no later segment could bring duplicate ACKs for a fast retransmit, so only the timer could resend it (tail loss).",
            "这是最后发送的报文段：之后没有报文段能引出重复 ACK 来触发快速重传，只能由定时器重发（尾部丢失）。"
        )
        .into());
    } else if x.dupacks > 0 {
        details.push(tr!(
            l,
            format!(
                "The peer sent {} meanwhile.",
                l.count(x.dupacks.into(), "duplicate ACK", "duplicate ACKs")
            ),
            format!("期间对端发送了 {} 个重复 ACK。", x.dupacks)
        ));
    }
    if x.episodes > 1 {
        details.push(tr!(
            l,
            format!(
                "{} segments of this connection were sent again, {} lost in all.",
                x.episodes,
                l.dur(x.lost)
            ),
            format!(
                "此连接共有 {} 个报文段被重发，总计损失 {}。",
                x.episodes,
                l.dur(x.lost)
            )
        ));
    }
    if !x.acknowledged {
        details.push(tr!(
            l,
            "Nothing the peer sent acknowledged it: the path to the peer lost every copy, or the peer is gone.",
            "对端发来的报文都没有确认它：通往对端的路径丢失了每一份副本，或者对端已经不在了。"
        )
        .into());
    }
    Said { summary, details }
}

/// The costliest episode's loss: from its first copy to its last.
fn lost_of(x: &LossFacts) -> TimeDelta {
    x.span
}

fn remedies(x: &LossFacts, path: &[PathFact]) -> Vec<Remedy> {
    let mut v = Vec::new();
    let between = path.iter().find_map(|p| match p {
        PathFact::CopiesLost {
            reached, missed, ..
        } => Some((reached.clone(), missed.clone())),
        _ => None,
    });
    let action = match &between {
        Some((a, b)) => Text::new(
            format!("find the drops on the device between {a} and {b}: interface errors, queue drops, a policer"),
            format!("在 {a} 与 {b} 之间的设备上查找丢包：接口错误、队列丢弃、限速器"),
        ),
        None => Text::new(
            "find where the path drops packets: interface errors, queue drops and policers on each hop",
            "查明路径在何处丢包：逐跳检查接口错误、队列丢弃和限速器",
        ),
    };
    v.push(
        Remedy::new(
            Target::PathDevice {
                from: x.from.host.clone(),
                to: x.to.host.clone(),
            },
            action,
            &[
                "ip -s link show",
                "ethtool -S <interface> | grep -Ei 'drop|discard|err'",
            ],
        )
        .in_network(),
    );
    // A data centre's round trips are far below the timer's floor: the
    // floor, not the path, is what a tail loss costs there.
    let short = x.round_trip.is_some_and(|r| r < TimeDelta::from_millis(10));
    if let (true, true, Some(peer)) = (
        short,
        x.rto.first().is_some_and(|s| s.id == "linux"),
        literal(&x.to.host),
    ) {
        v.push(Remedy::new(
            Target::Host {
                host: x.from.host.clone(),
            },
            Text::new(
                format!("on {}, lower the minimum RTO toward {peer} (round trips here are far below 200 ms): add rto_min to the route `ip route get` shows", x.from.host),
                format!("在 {} 上降低通往 {peer} 的最小 RTO（此处往返时间远低于 200 毫秒）：在 `ip route get` 显示的路由上加上 rto_min", x.from.host),
            ),
            &[
                &format!("ip route get {peer}"),
                &format!("ip route replace {peer} via <gateway> dev <device> rto_min 10ms"),
            ],
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{diagnose, one};

    /// The example: an HTTP request sent four times, answered at
    /// once after the last copy.
    pub(crate) const REQUEST_SENT_FOUR_TIMES: &str = "\
10:00:00.000000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [S], seq 1000, win 64240, options [mss 1460], length 0
10:00:00.020000 IP 198.51.100.80.80 > 192.0.2.10.50000: Flags [S.], seq 7000, ack 1001, win 65160, options [mss 1460], length 0
10:00:00.020400 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [.], ack 1, win 502, length 0
10:00:00.021000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [P.], seq 1:79, ack 1, win 502, length 78: HTTP: GET / HTTP/1.1
10:00:00.271000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [P.], seq 1:79, ack 1, win 502, length 78: HTTP: GET / HTTP/1.1
10:00:00.721000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [P.], seq 1:79, ack 1, win 502, length 78: HTTP: GET / HTTP/1.1
10:00:01.521000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [P.], seq 1:79, ack 1, win 502, length 78: HTTP: GET / HTTP/1.1
10:00:01.545000 IP 198.51.100.80.80 > 192.0.2.10.50000: Flags [P.], seq 1:513, ack 79, win 509, length 512: HTTP: HTTP/1.1 200 OK
10:00:01.565000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [.], ack 513, win 501, length 0
";

    #[test]
    fn a_request_sent_four_times_is_network_time_not_the_servers() {
        let all = diagnose(REQUEST_SENT_FOUR_TIMES);
        assert!(
            all.iter().all(|f| f.id != FindingId::ApplicationWait),
            "{all:#?}"
        );
        let f = one(&all, FindingId::Retransmission);
        let Facts::Loss(x) = &f.facts else { panic!() };
        assert_eq!(
            (x.sender, x.copies, x.episodes, x.tail, x.acknowledged),
            (Side::Client, 4, 1, true, true)
        );
        assert_eq!(f.cost, Some(TimeDelta::from_millis(1500)));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(x.rto[0].id, "linux");
        // The server's own time: 24 ms less the 20 ms round trip.
        assert_eq!(x.server_time, Some(TimeDelta::from_millis(4)));
        let parts: Vec<(SegmentKind, i64)> = f
            .breakdown
            .iter()
            .map(|s| (s.kind, s.duration.nanos() / 1_000_000))
            .collect();
        assert_eq!(
            parts,
            [
                (SegmentKind::Network, 1500),
                (SegmentKind::Network, 10),
                (SegmentKind::Server, 4),
                (SegmentKind::Network, 10)
            ]
        );
        let said = Retransmission.say(f, Lang::En);
        assert!(
            said.summary.contains("sent its request 4 times"),
            "{}",
            said.summary
        );
        assert!(!said.details.join(" ").contains("ident"));
        assert_eq!(f.evidence.len(), 5);
    }

    #[test]
    fn a_fast_retransmit_costs_too_little_to_tell() {
        let all = diagnose("\
10:00:00.000000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [S], seq 1000, win 64240, length 0
10:00:00.020000 IP 198.51.100.80.80 > 192.0.2.10.50000: Flags [S.], seq 7000, ack 1001, win 65160, length 0
10:00:00.020400 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [.], ack 1, win 502, length 0
10:00:00.021000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [P.], seq 1:79, ack 1, win 502, length 78
10:00:00.061000 IP 192.0.2.10.50000 > 198.51.100.80.80: Flags [P.], seq 1:79, ack 1, win 502, length 78
10:00:00.081000 IP 198.51.100.80.80 > 192.0.2.10.50000: Flags [P.], seq 1:513, ack 79, win 509, length 512
");
        assert!(all.is_empty(), "{all:#?}");
    }
}

#[cfg(test)]
mod regressions {
    use super::*;
    use crate::testing::diagnose;

    /// A full accept queue drops the client's handshake ACK and the
    /// request behind it; the client resends the request until the server
    /// takes the connection. The copies reached the server: no network
    /// lost them, and the path is not to blame (the lab's listen-backlog
    /// run, issue 12).
    #[test]
    fn data_the_server_dropped_before_it_took_the_connection_is_not_network_loss() {
        let all = diagnose("\
10:00:00.000000 IP 192.0.2.10.50000 > 198.51.100.80.8080: Flags [S], seq 1000, win 64240, length 0
10:00:00.000100 IP 198.51.100.80.8080 > 192.0.2.10.50000: Flags [S.], seq 7000, ack 1001, win 65160, length 0
10:00:00.000200 IP 192.0.2.10.50000 > 198.51.100.80.8080: Flags [.], ack 1, win 502, length 0
10:00:00.000300 IP 192.0.2.10.50000 > 198.51.100.80.8080: Flags [P.], seq 1:4, ack 1, win 502, length 3
10:00:00.207000 IP 192.0.2.10.50000 > 198.51.100.80.8080: Flags [P.], seq 1:4, ack 1, win 502, length 3
10:00:00.415000 IP 192.0.2.10.50000 > 198.51.100.80.8080: Flags [P.], seq 1:4, ack 1, win 502, length 3
10:00:01.000100 IP 198.51.100.80.8080 > 192.0.2.10.50000: Flags [S.], seq 7000, ack 1001, win 65160, length 0
10:00:01.000200 IP 192.0.2.10.50000 > 198.51.100.80.8080: Flags [.], ack 1, win 502, length 0
10:00:01.247000 IP 192.0.2.10.50000 > 198.51.100.80.8080: Flags [P.], seq 1:4, ack 1, win 502, length 3
10:00:01.247100 IP 198.51.100.80.8080 > 192.0.2.10.50000: Flags [.], ack 4, win 509, length 0
");
        assert!(
            all.iter().all(|f| f.id != FindingId::Retransmission),
            "{all:#?}"
        );
    }
}
