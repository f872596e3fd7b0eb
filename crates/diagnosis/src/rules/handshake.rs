//! `syn-retransmitted`, `listen-queue-overflow`: a connection that opened
//! only after its SYN was sent again, which costs the client's SYN timer
//! (1 s on Linux and macOS, 3 s on Windows and old stacks) per lost SYN.
//!
//! Lost on the way, or dropped by the server because its listen queue was
//! full (`listen()`'s backlog, capped by `net.core.somaxconn`: Linux drops
//! a SYN while the accept queue is full, and the client's ACK too, then
//! sends its SYN-ACK again)? The capture tells when it shows one of:
//! SYNs that reached the server's own link (its packets arrive here with
//! an unlowered TTL) and went unanswered; a client ACK that reached the
//! server's link followed by the SYN-ACK again; or several handshakes to
//! the same service retried at once while the server answered others.
//! Otherwise it is told as a SYN sent again, loss or queue undecided.

use stalltrace_conversations::{Conversation, Side};
use stalltrace_decode::{tr, Lang, TimeDelta, Timestamp};

use crate::facts::stacks;
use crate::finding::*;
use crate::remedy::{Remedy, Target, Text};
use crate::rule::{severity_of, Cx, Detect, Rule, Said};

pub(crate) struct Handshake;

/// Handshakes kept until the end, to find crowds.
const MAX_KEPT: usize = 10_000;
/// TTLs a host sends with: seen unlowered, no router between.
const INITIAL_TTLS: [u8; 3] = [64, 128, 255];

/// This point is on the server's own link: its packets arrive unrouted.
pub(crate) fn at_server_link(c: &Conversation) -> bool {
    c.ttl[Side::Server.index()].is_some_and(|t| INITIAL_TTLS.contains(&t))
}

impl Rule for Handshake {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::SynRetransmitted, FindingId::ListenQueueOverflow]
    }

    fn title(&self, id: FindingId, l: Lang) -> &'static str {
        match id {
            FindingId::ListenQueueOverflow => tr!(l, "listen-queue-overflow", "监听队列溢出"),
            _ => tr!(l, "syn-retransmitted", "SYN 重传"),
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
            Facts::Handshake(h) => format!("{}", h.syns),
            _ => String::new(),
        }
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let Facts::Handshake(h) = &f.facts else {
            return Said::default();
        };
        said(h, l)
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        let Facts::Handshake(h) = &f.facts else {
            return Vec::new();
        };
        remedies(f.id, h)
    }
}

#[derive(Clone)]
struct Kept {
    point: u32,
    window: (Timestamp, Timestamp),
    finding: Finding,
}

#[derive(Clone, Default)]
struct Detector {
    kept: Vec<Kept>,
}

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, cx: &mut Cx) {
        let (Some(first), Some(answer)) = (c.syns.first().copied(), c.syn_acks.first().copied())
        else {
            return;
        };
        let at_server = at_server_link(c);
        // The client's ACK dropped at the server: the SYN-ACK again after it.
        let ack_ignored = at_server
            && c.handshake_ack()
                .is_some_and(|a| c.syn_acks.iter().skip(1).any(|s| s.ts > a.ts));
        if c.syn_count < 2 && !ack_ignored {
            return;
        }
        // A server that defers accepting until data comes (Linux's
        // TCP_DEFER_ACCEPT: Apache's default "AcceptFilter http data",
        // nginx's "deferred") ignores a bare ACK and re-sends its SYN-ACK
        // just as a full queue does. Only a client that had sent data by
        // then tells the two apart (Zeek's var-services-std-ports.pcap:
        // connections that never sent a byte).
        let sent_data = c.first_payload[Side::Client.index()]
            .is_some_and(|p| c.syn_acks.iter().skip(1).any(|s| s.ts > p.packet.ts));
        if c.syn_count < 2 && !sent_data {
            return;
        }
        let opened = c.handshake_acks.last().copied().filter(|_| ack_ignored);
        let took = opened.unwrap_or(answer).ts - first.ts;
        if took < cx.cfg.network_threshold {
            return;
        }
        let attempts: Vec<TimeDelta> = c.syns.iter().map(|s| s.ts - first.ts).collect();
        let retries: Vec<f64> = attempts.iter().skip(1).map(|a| a.secs_f64()).collect();
        let queue = if ack_ignored {
            Some(QueueSign::AckIgnoredAtServer)
        } else if at_server {
            Some(QueueSign::SynsIgnoredAtServer {
                // The last SYN before the answer is the one answered.
                ignored: (c.syns.iter().filter(|s| s.ts < answer.ts).count() as u32)
                    .saturating_sub(1),
            })
        } else {
            None
        };
        let facts = HandshakeFacts {
            client: c.client.clone(),
            server: c.server.clone(),
            syns: c.syn_count,
            attempts,
            took,
            others_answered: c.others_answered_meanwhile,
            backoff: stacks::fitting(&retries),
            queue,
        };
        let mut f = Finding::new(
            FindingId::SynRetransmitted,
            severity_of(took, cx.cfg),
            cx.name(c.point),
            Facts::Handshake(facts),
        );
        f.cost = Some(took);
        f.conversation = Some(crate::explain::conv_ref(c, cx.points));
        let mut ev = Vec::new();
        for (i, s) in c.syns.iter().enumerate().take(6) {
            ev.push(if i == 0 {
                cx.evidence(
                    c,
                    *s,
                    Shows::ClientSyn {
                        client: c.client.clone(),
                        server: c.server.clone(),
                    },
                )
            } else {
                cx.evidence(
                    c,
                    *s,
                    Shows::SynAgain {
                        after: s.ts - first.ts,
                    },
                )
            });
        }
        ev.push(cx.evidence(
            c,
            answer,
            Shows::SynAckLate {
                after: answer.ts - first.ts,
            },
        ));
        if ack_ignored {
            if let Some(a) = c.handshake_ack() {
                ev.push(cx.evidence(c, a, Shows::HandshakeAck { seen_here: true }));
            }
            if let Some(again) = c.syn_acks.get(1) {
                ev.push(cx.evidence(
                    c,
                    *again,
                    Shows::SynAckAgain {
                        after: Some(again.ts - answer.ts),
                        ack_lost: false,
                    },
                ));
            }
        }
        ev.sort_by_key(|e| (e.time, e.packet));
        f.evidence = ev;
        f.breakdown = vec![TimeSegment::new(
            SegmentKind::Network,
            Part::Handshake,
            first.ts,
            first.ts + took,
        )];
        if self.kept.len() < MAX_KEPT {
            self.kept.push(Kept {
                point: c.point,
                window: (first.ts, first.ts + took),
                finding: f,
            });
        } else {
            finish_one(&mut f, (0, 0));
            cx.emit(first.ts, f);
        }
    }

    fn finish(&mut self, cx: &mut Cx) {
        let kept = std::mem::take(&mut self.kept);
        for (i, k) in kept.iter().enumerate() {
            let server = k.finding.conversation.as_ref().map(|c| &c.server);
            // Other retried handshakes to the same service at this point
            // whose waits overlap this one; the server answered others
            // while any of them waited.
            let others: Vec<&Kept> = kept
                .iter()
                .enumerate()
                .filter(|(j, o)| {
                    *j != i
                        && o.point == k.point
                        && o.finding.conversation.as_ref().map(|c| &c.server) == server
                        && o.window.0 < k.window.1
                        && k.window.0 < o.window.1
                })
                .map(|(_, o)| o)
                .collect();
            let answered = others
                .iter()
                .chain(std::iter::once(&k))
                .filter_map(|o| match &o.finding.facts {
                    Facts::Handshake(h) => Some(h.others_answered),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            let crowd = (others.len() as u32, answered);
            let mut f = k.finding.clone();
            finish_one(&mut f, crowd);
            cx.emit(k.window.0, f);
        }
    }
}

/// Settles the verdict: a queue sign makes it an overflow. `crowd`: the
/// other retried handshakes that overlap it, and the most SYN-ACKs the
/// server sent others while any of them waited.
fn finish_one(f: &mut Finding, (crowd, answered): (u32, u64)) {
    let Facts::Handshake(h) = &mut f.facts else {
        return;
    };
    if h.queue.is_none() && crowd > 0 && answered > 0 {
        h.queue = Some(QueueSign::Crowd {
            retried: crowd + 1,
            answered,
        });
    }
    if h.queue.is_some() {
        f.id = FindingId::ListenQueueOverflow;
        f.severity = f.severity.max(Severity::Warning);
    }
}

fn said(h: &HandshakeFacts, l: Lang) -> Said {
    let (client, server) = (&h.client, &h.server);
    let summary = match (&h.queue, l) {
        (None, Lang::En) => format!(
            "{client} had to send its SYN {} times before {server} answered: the connection took {} to open.",
            h.syns,
            l.dur(h.took)
        ),
        (None, Lang::ZhCn) => format!(
            "{client} 发送了 {} 次 SYN，{server} 才应答：建立连接用了 {}。",
            h.syns,
            l.dur(h.took)
        ),
        (Some(_), Lang::En) => format!(
            "{server} let {client} wait {} to connect: its listen queue was full and it dropped the handshake.",
            l.dur(h.took)
        ),
        (Some(_), Lang::ZhCn) => format!(
            "{server} 让 {client} 等了 {}才连上：它的监听队列已满，丢弃了这次握手。",
            l.dur(h.took)
        ),
    };
    let mut details = Vec::new();
    match &h.queue {
        Some(QueueSign::SynsIgnoredAtServer { ignored }) => details.push(tr!(
            l,
            format!("{ignored} of its SYNs reached the server's own link (its packets arrive here unrouted) and the server ignored them: a full accept queue makes Linux drop SYNs."),
            format!("其中 {ignored} 个 SYN 已到达服务器所在链路（服务器的报文到达此处时未经路由），服务器却置之不理：accept 队列满时 Linux 会丢弃 SYN。")
        )),
        Some(QueueSign::AckIgnoredAtServer) => details.push(tr!(
            l,
            "The client's ACK reached the server's own link and the server still sent its SYN-ACK again: it dropped the ACK because its accept queue was full.",
            "客户端的 ACK 已到达服务器所在链路，服务器却又重发了 SYN-ACK：它因 accept 队列已满而丢弃了该 ACK。"
        )
        .into()),
        Some(QueueSign::Crowd { retried, answered }) => details.push(tr!(
            l,
            format!("{retried} handshakes to this service were retried at the same time while the server answered {answered} others: it answers when a slot frees, not a lossy path."),
            format!("发往此服务的 {retried} 次握手同时在重试，而服务器同期应答了另外 {answered} 个：它是在有空位时才应答，而不是路径丢包。")
        )),
        None => details.push(tr!(
            l,
            "The earlier SYNs (or their SYN-ACKs) were lost between here and the server, or the server dropped them; a capture at the server tells which.",
            "之前的 SYN（或其 SYN-ACK）在此处与服务器之间丢失，或被服务器丢弃；在服务器上抓包可以分辨。"
        )
        .into()),
    }
    if let Some(s) = h.backoff.first() {
        details.push(tr!(
            l,
            format!("The SYN back-off matches {}.", s.name(l)),
            format!("SYN 退避与 {} 吻合。", s.name(l))
        ));
    }
    Said { summary, details }
}

fn remedies(id: FindingId, h: &HandshakeFacts) -> Vec<Remedy> {
    let host = Target::Server {
        host: h.server.host.clone(),
    };
    let port = h.server.port;
    if id == FindingId::ListenQueueOverflow {
        return vec![
            Remedy::new(
                host.clone(),
                Text::new(
                    format!("confirm the overflow, then let the service on port {port} accept faster or queue more: raise its listen() backlog and the kernel's cap; keep SYN cookies on"),
                    format!("先确认溢出，再让端口 {port} 上的服务更快地 accept，或排更长的队：调大它的 listen() backlog 和内核上限；保持 SYN cookies 开启"),
                ),
                &[
                    "nstat -az TcpExtListenOverflows TcpExtListenDrops",
                    &format!("ss -ltn 'sport = :{port}'"),
                    "sysctl -w net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192 net.ipv4.tcp_syncookies=1",
                ],
            ),
        ];
    }
    vec![Remedy::new(
        Target::PathDevice {
            from: h.client.host.clone(),
            to: h.server.host.clone(),
        },
        Text::new(
            "find where the SYNs were lost: on the server, whether it dropped them (a full listen queue), else drops along the path",
            "查明 SYN 丢在何处：先在服务器上看它是否丢弃了（监听队列已满），否则沿路径查找丢包",
        ),
        &["nstat -az TcpExtListenOverflows TcpExtListenDrops", "ip -s link show"],
    )
    .in_network()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::one;

    #[test]
    fn a_syn_lost_once_costs_the_clients_first_timer() {
        // The scene from testkit's fault catalogue.
        let all = crate::testing::diagnose_frames(&stalltrace_testkit::faults::syn_retransmitted());
        assert!(
            all.iter().all(|f| f.id != FindingId::ListenQueueOverflow),
            "{all:#?}"
        );
        let f = one(&all, FindingId::SynRetransmitted);
        let Facts::Handshake(h) = &f.facts else {
            panic!()
        };
        assert_eq!((h.syns, h.queue.clone()), (2, None));
        assert_eq!(f.cost, Some(TimeDelta::from_millis(1010)));
        assert_eq!(f.severity, Severity::Warning);
    }

    #[test]
    fn syns_ignored_on_the_servers_own_link_are_a_full_queue() {
        // The scene from testkit's fault catalogue.
        let all =
            crate::testing::diagnose_frames(&stalltrace_testkit::faults::listen_queue_overflow());
        let f = one(&all, FindingId::ListenQueueOverflow);
        let Facts::Handshake(h) = &f.facts else {
            panic!()
        };
        assert_eq!(h.queue, Some(QueueSign::SynsIgnoredAtServer { ignored: 2 }));
        assert_eq!(h.syns, 3);
        assert_eq!(h.took.nanos(), 3_000_200_000);
        assert_eq!(h.backoff[0].id, "linux-3.7");
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.remedies[0].lines[0].contains("ListenOverflows"));
    }
}
