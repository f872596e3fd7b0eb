//! `nagle-delayed-ack`: one side writes a message in two small pieces;
//! Nagle's algorithm (RFC 896) holds the second until the first is
//! acknowledged, and the peer, with nothing to say until the whole message
//! is in, delays its ACK (RFC 1122 4.2.3.2: Linux 40 ms, Windows 50 or
//! 200 ms, at most 500 ms). The second piece leaves microseconds after
//! that ACK. Once is chance; on every request of a connection it is the
//! pattern, and it costs the delayed-ACK timer each time. The fix is on
//! the writing side: `TCP_NODELAY`, or write the message at once.

use stalltrace_conversations::{Conversation, Side};
use stalltrace_decode::{tr, Lang, TimeDelta};

use crate::facts::transport::delack_fitting;
use crate::finding::*;
use crate::remedy::{Remedy, Target, Text};
use crate::rule::{severity_of, Cx, Detect, Rule, Said};
use crate::say;

pub(crate) struct Nagle;

/// Holds before it is the pattern rather than chance.
const MIN_EVENTS: u32 = 3;
/// The peer's own share of the wait for its ACK (the round trip between
/// here and the peer taken out) below which it acknowledged at once: no
/// delayed ACK is shorter (Linux's floor is 40 ms), and an ACK back in one
/// round trip is Nagle holding for a round trip, not for a timer.
const MIN_DELAY: TimeDelta = TimeDelta::from_millis(20);

/// The round trip between this point and the side that acknowledges,
/// from the handshake as seen here.
fn round_trip_to(c: &Conversation, acker: Side) -> Option<TimeDelta> {
    let syn = *c.syns.first()?;
    let syn_ack = *c.syn_acks.first()?;
    match acker {
        Side::Server => Some(syn_ack.ts - syn.ts),
        Side::Client => c.handshake_acks.first().map(|a| a.ts - syn_ack.ts),
    }
}

impl Rule for Nagle {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::NagleDelayedAck]
    }

    fn title(&self, _id: FindingId, l: Lang) -> &'static str {
        tr!(l, "nagle-delayed-ack", "Nagle 与延迟确认")
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector)
    }

    fn folds(&self) -> bool {
        true
    }

    fn fold_detail(&self, f: &Finding) -> String {
        match &f.facts {
            Facts::Nagle(n) => format!("{:?}", n.sender),
            _ => String::new(),
        }
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let Facts::Nagle(n) = &f.facts else {
            return Said::default();
        };
        said(n, l)
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        let Facts::Nagle(n) = &f.facts else {
            return Vec::new();
        };
        remedies(n)
    }
}

#[derive(Clone)]
struct Detector;

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, cx: &mut Cx) {
        for side in [Side::Client, Side::Server] {
            let Some(n) = c.signals.nagle[side.index()].as_deref() else {
                continue;
            };
            if n.events < MIN_EVENTS {
                continue;
            }
            let mut delays = n.delays.clone();
            delays.sort();
            let typical = delays[delays.len() / 2];
            let rtt = round_trip_to(c, side.other()).unwrap_or(TimeDelta::ZERO);
            if typical - rtt < MIN_DELAY {
                continue;
            }
            let (holder, acker) = match side {
                Side::Client => (&c.client, &c.server),
                Side::Server => (&c.server, &c.client),
            };
            let facts = NagleFacts {
                sender: side,
                holder: holder.clone(),
                acker: acker.clone(),
                events: n.events,
                total: n.total,
                typical,
                delayed_ack: delack_fitting(typical),
            };
            let mut f = Finding::new(
                FindingId::NagleDelayedAck,
                severity_of(n.total, cx.cfg),
                cx.name(c.point),
                Facts::Nagle(facts),
            );
            f.cost = Some(n.total);
            f.conversation = Some(crate::explain::conv_ref(c, cx.points));
            let [small, ack, released] = n.first;
            f.evidence = vec![
                cx.evidence(c, small, Shows::SmallSegment { from: side }),
                cx.evidence(
                    c,
                    ack,
                    Shows::DelayedAck {
                        by: side.other(),
                        after: ack.ts - small.ts,
                    },
                ),
                cx.evidence(c, released, Shows::Released { from: side }),
            ];
            cx.emit(small.ts, f);
        }
    }
}

fn said(n: &NagleFacts, l: Lang) -> Said {
    let who = say::side(n.sender, l);
    let summary = tr!(
        l,
        format!(
            "The {who} {} wrote {} messages in small pieces and held the last piece each time until {}'s delayed ACK, about {} apiece: {} lost in all.",
            n.holder,
            n.events,
            n.acker,
            l.dur(n.typical),
            l.dur(n.total)
        ),
        format!(
            "{who} {} 有 {} 条消息是分成小块写出的，每次都把最后一块扣住，直到 {} 的延迟确认到来，每次约 {}：总计损失 {}。",
            n.holder,
            n.events,
            n.acker,
            l.dur(n.typical),
            l.dur(n.total)
        )
    );
    let mut details = vec![tr!(
        l,
        "Nagle's algorithm holds a small segment while an earlier one is unacknowledged; the peer, waiting for the whole message before it answers, delays its ACK. The held piece leaves the moment the ACK arrives.",
        "Nagle 算法在前一个报文段未被确认时扣住小报文段；对端要等整条消息到齐才作答，于是延迟了确认。ACK 一到，被扣住的那一块立即发出。"
    )
    .into()];
    if let Some(d) = n.delayed_ack.first() {
        details.push(tr!(
            l,
            format!("The hold fits the delayed-ACK timer of {}.", d.name(l)),
            format!("扣住的时长与 {} 的延迟确认定时器吻合。", d.name(l))
        ));
    }
    Said { summary, details }
}

fn remedies(n: &NagleFacts) -> Vec<Remedy> {
    let mut v = vec![Remedy::new(
        Target::Host {
            host: n.holder.host.clone(),
        },
        Text::new(
            format!("in the program on {} that writes to {}, turn Nagle off on the socket, or write each message with one call (writev, or one buffer)", n.holder, n.acker),
            format!("在 {} 上向 {} 写数据的程序中，关闭该套接字的 Nagle 算法，或每条消息只用一次调用写出（writev 或单个缓冲区）", n.holder, n.acker),
        ),
        &["int one = 1;", "setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);"],
    )];
    if n.delayed_ack.iter().any(|d| d.id.starts_with("windows")) {
        v.push(Remedy::new(
            Target::Host {
                host: n.acker.host.clone(),
            },
            Text::new(
                "or, on the Windows peer, acknowledge every segment at once (per interface)",
                "或者在 Windows 对端上让每个报文段都立即确认（按接口设置）",
            ),
            &[r"reg add HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters\Interfaces\<interface GUID> /v TcpAckFrequency /t REG_DWORD /d 1"],
        ));
    } else if n.delayed_ack.iter().any(|d| d.id == "linux") {
        v.push(Remedy::new(
            Target::Host {
                host: n.acker.host.clone(),
            },
            Text::new(
                format!("or, on the Linux peer {}, acknowledge at once on its route back (or TCP_QUICKACK after each read)", n.acker.host),
                format!("或者在 Linux 对端 {} 上，对返回路由立即确认（或每次读取后设置 TCP_QUICKACK）", n.acker.host),
            ),
            &[
                &format!("ip route get {}", n.holder.host),
                &format!("ip route replace {} via <gateway> dev <device> quickack 1", n.holder.host),
            ],
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{diagnose_frames, one};
    use stalltrace_decode::TimeDelta;
    use stalltrace_testkit::scene::Scene;

    #[test]
    fn every_request_written_in_two_pieces_waits_forty_milliseconds() {
        // The scene from testkit's fault catalogue.
        let all = crate::testing::diagnose_frames(&stalltrace_testkit::faults::nagle());
        let f = one(&all, FindingId::NagleDelayedAck);
        let Facts::Nagle(n) = &f.facts else { panic!() };
        assert_eq!((n.sender, n.events), (Side::Client, 5));
        assert_eq!(n.total, TimeDelta::from_millis(200));
        assert_eq!(n.delayed_ack[0].id, "linux");
        assert_eq!(f.severity, Severity::Info);
        assert!(f.remedies[0].lines[1].contains("TCP_NODELAY"));
    }

    #[test]
    fn whole_messages_are_not_held() {
        let mut s = Scene::new();
        let mut c = s.connect_mss(
            0.0,
            "192.0.2.10:50000",
            "198.51.100.80:6379",
            0.0002,
            Some(1460),
        );
        for i in 0..5 {
            let t = 1.0 + f64::from(i);
            s.send(
                t,
                &mut c,
                false,
                b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
            );
            s.send(t + 0.0002, &mut c, true, b"+OK\r\n");
        }
        assert!(diagnose_frames(&s.frames()).is_empty());
    }
}
