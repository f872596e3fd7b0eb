//! `syn-ack-retransmitted`: the server re-sent its SYN-ACK although the
//! client's ACK had already passed this capture point. Until the re-sent
//! SYN-ACK is answered the server does not hold the connection, so what it
//! should send (a greeting) waits. Either the ACK was lost between here and
//! the server, or the server dropped it because its accept queue was full
//! (`nstat TcpExtListenOverflows TcpExtListenDrops`). The seed's env1: 4.2 s.

use stalltrace_conversations::Conversation;
use stalltrace_decode::{tr, Lang};

use crate::finding::*;
use crate::rule::{Cx, Detect, Rule, Said};

pub(crate) struct SynAckAfterAck;

impl Rule for SynAckAfterAck {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::SynAckRetransmitted]
    }

    fn title(&self, _id: FindingId, l: Lang) -> &'static str {
        tr!(l, "syn-ack-retransmitted", "SYN-ACK 重传")
    }

    fn folds(&self) -> bool {
        true
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector)
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let Facts::SynAck(s) = &f.facts else {
            return Said::default();
        };
        let server = &s.server;
        let every = s.last_passed.as_ref().map(|last| (&s.passed, last));
        let summary = match every {
            Some((points, last)) => tr!(
                l,
                format!(
                    "The server {server} re-sent its SYN-ACK although the client's ACK passed every capture point ({}): that ACK was lost beyond {last}, between it and the server, or the server's accept queue was full.",
                    l.list(points)
                ),
                format!(
                    "服务器 {server} 重发了 SYN-ACK，而客户端的 ACK 已经过所有捕获点（{}）：该 ACK 在 {last} 与服务器之间丢失，或服务器的 accept 队列已满。",
                    l.list(points)
                )
            ),
            None => tr!(
                l,
                format!(
                    "The server {server} re-sent its SYN-ACK {} after the first although the client's ACK passed this point {} earlier: that ACK was lost between here and the server, or the server's accept queue was full.",
                    s.after_first, s.after_ack
                ),
                format!(
                    "服务器 {server} 在第一次 SYN-ACK 之后 {}重发了 SYN-ACK，而客户端的 ACK 早在 {}之前就已经过此捕获点：该 ACK 在此处与服务器之间丢失，或服务器的 accept 队列已满。",
                    l.dur(s.after_first),
                    l.dur(s.after_ack)
                )
            ),
        };
        Said {
            summary,
            details: vec![
                tr!(
                    l,
                    "Until the re-sent SYN-ACK is answered, the server does not consider the connection open: data it should send (a greeting) waits.",
                    "在重发的 SYN-ACK 得到应答之前，服务器不认为连接已建立：它应发送的数据（如欢迎信息）只能等待。"
                )
                .into(),
                tr!(
                    l,
                    "Capture nearer the server to see where the ACK died; on the server, `nstat -az TcpExtListenOverflows TcpExtListenDrops` tells whether the accept queue overflowed.",
                    "请在更靠近服务器的位置抓包，查看 ACK 在何处丢失；在服务器上运行 `nstat -az TcpExtListenOverflows TcpExtListenDrops` 可判断 accept 队列是否溢出。"
                )
                .into(),
            ],
        }
    }
}

#[derive(Clone)]
struct Detector;

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, cx: &mut Cx) {
        // On the server's own link the ACK reached the server: the server
        // dropped it, which `listen-queue-overflow` tells.
        if crate::rules::handshake::at_server_link(c) {
            return;
        }
        let Some(first_ack) = c.handshake_ack() else {
            return;
        };
        let Some(first_synack) = c.syn_acks.first().copied() else {
            return;
        };
        let Some(resent) = c
            .syn_acks
            .iter()
            .skip(1)
            .find(|s| s.ts > first_ack.ts)
            .copied()
        else {
            return;
        };
        let after_first = resent.ts - first_synack.ts;
        let mut evidence = vec![
            cx.evidence(c, first_synack, Shows::SynAck),
            cx.evidence(c, first_ack, Shows::HandshakeAck { seen_here: true }),
            cx.evidence(
                c,
                resent,
                Shows::SynAckAgain {
                    after: Some(after_first),
                    ack_lost: false,
                },
            ),
        ];
        if let Some(again) = c.handshake_acks.iter().find(|a| a.ts > resent.ts) {
            evidence.push(cx.evidence(c, *again, Shows::AckAgain));
        }
        let mut f = Finding::new(
            FindingId::SynAckRetransmitted,
            Severity::Warning,
            cx.name(c.point),
            Facts::SynAck(SynAckFacts {
                server: c.server.clone(),
                after_first,
                after_ack: resent.ts - first_ack.ts,
                passed: Vec::new(),
                last_passed: None,
            }),
        );
        f.cost = Some(resent.ts - first_ack.ts);
        f.conversation = Some(crate::explain::conv_ref(c, cx.points));
        f.evidence = evidence;
        f.cross = Some(CrossFacts::of(c));
        cx.emit(c.first.ts, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{diagnose, one};

    #[test]
    fn a_syn_ack_sent_again_after_the_ack_passed() {
        let all = diagnose("\
13:05:08.533163 218.104.68.171.42390 > 220.xxx.160.xxx.110: S 950786859:950786859(0) win 16384
13:05:08.721807 220.xxx.160.xxx.110 > 218.104.68.171.42390: S 211290961:211290961(0) ack 950786860 win 5840
13:05:08.722475 218.104.68.171.42390 > 220.xxx.160.xxx.110: . ack 1 win 17520
13:05:12.916200 220.xxx.160.xxx.110 > 218.104.68.171.42390: S 211290961:211290961(0) ack 950786860 win 5840
13:05:12.916763 218.104.68.171.42390 > 220.xxx.160.xxx.110: . ack 1 win 17520
");
        let f = one(&all, FindingId::SynAckRetransmitted);
        let Facts::SynAck(s) = &f.facts else {
            panic!("{:?}", f.facts)
        };
        assert_eq!(s.after_first.nanos(), 4_194_393_000);
        assert_eq!(s.after_ack.nanos(), 4_193_725_000);
        assert!(s.passed.is_empty());
        let shows: Vec<&Shows> = f.evidence.iter().map(|e| &e.shows).collect();
        assert!(matches!(shows[1], Shows::HandshakeAck { seen_here: true }));
        assert_eq!(f.evidence.len(), 4);
    }
}
