//! `zero-window`: a receiver advertised a window of zero and the sender
//! waited, sending zero-window probes that back off, until the window
//! opened again (RFC 9293 3.8.6.1). The receiving application stopped
//! reading (busy, blocked on a disk or a lock, or gone): the time is its,
//! not the network's, and the fix is on the receiving side.

use stalltrace_conversations::{Conversation, Side};
use stalltrace_decode::{tr, Lang};

use crate::finding::*;
use crate::remedy::{Remedy, Target, Text};
use crate::rule::{severity_of, Cx, Detect, Rule, Said};
use crate::say;

pub(crate) struct ZeroWindow;

impl Rule for ZeroWindow {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::ZeroWindow]
    }

    fn title(&self, _id: FindingId, l: Lang) -> &'static str {
        tr!(l, "zero-window", "零窗口")
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector)
    }

    fn folds(&self) -> bool {
        true
    }

    fn fold_detail(&self, f: &Finding) -> String {
        match &f.facts {
            Facts::ZeroWindow(z) => format!("{:?}{}", z.receiver, z.reopened),
            _ => String::new(),
        }
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let Facts::ZeroWindow(z) = &f.facts else {
            return Said::default();
        };
        said(z, l)
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        let Facts::ZeroWindow(z) = &f.facts else {
            return Vec::new();
        };
        let port = z.stalled.port;
        vec![
            Remedy::new(
                Target::Host {
                    host: z.stalled.host.clone(),
                },
                Text::new(
                    format!("find why the application on {} stops reading: its receive queue (Recv-Q) stays full while it is busy, blocked or gone", z.stalled),
                    format!("查明 {} 上的应用为何停止读取：它忙碌、阻塞或退出时，接收队列（Recv-Q）一直是满的", z.stalled),
                ),
                &[&format!("ss -tnmp '( sport = :{port} or dport = :{port} )'")],
            ),
            Remedy::new(
                Target::Host {
                    host: z.stalled.host.clone(),
                },
                Text::new(
                    "if it reads in bursts, give the socket more room (only helps an application that does read)",
                    "如果应用是成批读取的，给套接字更大的接收缓冲（只对确实会读取的应用有用）",
                ),
                &["sysctl -w net.ipv4.tcp_rmem='4096 131072 16777216'"],
            ),
        ]
    }
}

#[derive(Clone)]
struct Detector;

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, cx: &mut Cx) {
        for side in [Side::Client, Side::Server] {
            let Some(z) = c.signals.zero_window[side.index()].as_deref() else {
                continue;
            };
            let e = &z.worst;
            let longest = e.lasted(c.last);
            let total = if e.until.is_none() {
                z.total + longest
            } else {
                z.total
            };
            if longest < cx.cfg.network_threshold {
                continue;
            }
            let (stalled, sender) = match side {
                Side::Client => (&c.client, &c.server),
                Side::Server => (&c.server, &c.client),
            };
            let facts = ZeroWindowFacts {
                receiver: side,
                stalled: stalled.clone(),
                sender: sender.clone(),
                episodes: z.episodes,
                total,
                longest,
                probes: e.probes,
                probe_gaps: e.probe_gaps(),
                reopened: e.until.is_some(),
            };
            let mut f = Finding::new(
                FindingId::ZeroWindow,
                severity_of(total, cx.cfg),
                cx.name(c.point),
                Facts::ZeroWindow(facts),
            );
            f.cost = Some(total);
            f.conversation = Some(crate::explain::conv_ref(c, cx.points));
            let mut ev = vec![cx.evidence(c, e.since, Shows::ZeroWindow { by: side })];
            for p in e.probes_at.iter().take(4) {
                ev.push(cx.evidence(c, *p, Shows::WindowProbe { from: side.other() }));
            }
            if let Some(u) = e.until {
                ev.push(cx.evidence(
                    c,
                    u,
                    Shows::WindowOpen {
                        by: side,
                        after: u.ts - e.since.ts,
                    },
                ));
            }
            f.evidence = ev;
            let kind = match side {
                Side::Client => SegmentKind::Client,
                Side::Server => SegmentKind::Server,
            };
            f.breakdown = vec![TimeSegment::new(
                kind,
                Part::WindowShut { receiver: side },
                e.since.ts,
                e.since.ts + longest,
            )];
            cx.emit(e.since.ts, f);
        }
    }
}

fn said(z: &ZeroWindowFacts, l: Lang) -> Said {
    let who = say::side(z.receiver, l);
    let summary = match (z.reopened, l) {
        (true, Lang::En) => format!(
            "The {who} {} closed its receive window for {}: {} had to stop sending until its application read again.",
            z.stalled,
            l.dur(z.longest),
            z.sender
        ),
        (true, Lang::ZhCn) => format!(
            "{who} {} 的接收窗口关闭了 {}：在它的应用重新读取之前，{} 只能停止发送。",
            z.stalled,
            l.dur(z.longest),
            z.sender
        ),
        (false, Lang::En) => format!(
            "The {who} {} closed its receive window and kept it closed for {} until the end: {} could send nothing more.",
            z.stalled,
            l.dur(z.longest),
            z.sender
        ),
        (false, Lang::ZhCn) => format!(
            "{who} {} 关闭了接收窗口，直到结束的 {}内都没有再打开：{} 无法再发送任何数据。",
            z.stalled,
            l.dur(z.longest),
            z.sender
        ),
    };
    let mut details = vec![tr!(
        l,
        "A zero window means the receiving application is not reading what has arrived (busy, blocked on a disk or a lock, or gone): the time is that application's, not the network's.",
        "零窗口意味着接收方应用没有读取已到达的数据（忙碌、被磁盘或锁阻塞，或已退出）：这段时间属于该应用，而不是网络。"
    )
    .into()];
    if z.probes > 0 {
        let gaps: Vec<String> = z
            .probe_gaps
            .iter()
            .map(|g| format!("+{}", l.dur(*g)))
            .collect();
        details.push(tr!(
            l,
            format!(
                "The sender probed the closed window {} times{}.",
                z.probes,
                if gaps.is_empty() {
                    String::new()
                } else {
                    format!(", backing off ({})", gaps.join(", "))
                }
            ),
            format!(
                "发送方探测了关闭的窗口 {} 次{}。",
                z.probes,
                if gaps.is_empty() {
                    String::new()
                } else {
                    format!("，间隔逐次退避（{}）", gaps.join("，"))
                }
            )
        ));
    }
    if z.episodes > 1 {
        details.push(tr!(
            l,
            format!(
                "The window closed {} times, {} in all.",
                z.episodes,
                l.dur(z.total)
            ),
            format!("窗口共关闭了 {} 次，总计 {}。", z.episodes, l.dur(z.total))
        ));
    }
    Said { summary, details }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::one;

    #[test]
    fn a_client_that_stops_reading_for_three_seconds() {
        // The scene from testkit's fault catalogue.
        let all = crate::testing::diagnose_frames(&stalltrace_testkit::faults::zero_window());
        let f = one(&all, FindingId::ZeroWindow);
        let Facts::ZeroWindow(z) = &f.facts else {
            panic!()
        };
        use stalltrace_decode::TimeDelta;
        assert_eq!(
            (z.receiver, z.probes, z.reopened, z.episodes),
            (Side::Client, 3, true, 1)
        );
        assert_eq!(z.longest, TimeDelta::from_secs(3));
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.remedies[0].target,
            Target::Host {
                host: "192.0.2.10".parse().unwrap()
            }
        );
        assert_eq!(f.breakdown[0].kind, SegmentKind::Client);
    }
}
