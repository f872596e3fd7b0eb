//! `pmtu-black-hole`: the handshake and small segments pass, a full-size
//! segment is sent again and again and never acknowledged, and no ICMP
//! "fragmentation needed" (IPv4) or "packet too big" (IPv6) reaches its
//! sender (RFC 1191, RFC 8201, RFC 2923). A link with a smaller MTU on the
//! path drops the big packets (they carry DF), and a filter drops the ICMP
//! that would have told the sender to shrink them: the connection hangs
//! while the sender's timer backs off (0.2, 0.4, 0.8 s ...). With two
//! points the segment is seen before the device and not after it.

use stalltrace_conversations::signals::LossEpisode;
use stalltrace_conversations::{Conversation, Side};
use stalltrace_decode::{tr, Host, IcmpReason, Lang};

use crate::finding::*;
use crate::remedy::{literal, Remedy, Target, Text};
use crate::rule::{severity_of, Cx, Detect, Rule, Said};
use crate::say;

pub(crate) struct Pmtu;

/// Copies before a lost segment is a black hole rather than bad luck.
const MIN_COPIES: u32 = 3;
/// Bytes a lost segment must exceed the largest acknowledged one by: a
/// black hole takes the big packets and leaves the small.
const MARGIN: u32 = 100;

/// The segment a side could never get through because of its size, if
/// the conversation shows one.
pub(crate) fn black_hole(c: &Conversation, side: Side) -> Option<&LossEpisode> {
    let loss = c.signals.loss[side.index()].as_deref()?;
    let e = loss.unacked.as_ref()?;
    // Small packets of this side got through: the handshake at least.
    let small_passed = c.handshake_ack().is_some() || loss.largest_acked > 0;
    (e.copies >= MIN_COPIES && small_passed && e.len >= loss.largest_acked + MARGIN && e.len >= 500)
        .then_some(e)
}

impl Rule for Pmtu {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::PmtuBlackHole]
    }

    fn title(&self, _id: FindingId, l: Lang) -> &'static str {
        tr!(l, "pmtu-black-hole", "PMTU 黑洞")
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector)
    }

    fn folds(&self) -> bool {
        true
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let Facts::Pmtu(x) = &f.facts else {
            return Said::default();
        };
        said(x, l)
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        let Facts::Pmtu(x) = &f.facts else {
            return Vec::new();
        };
        remedies(x)
    }
}

#[derive(Clone)]
struct Detector;

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, cx: &mut Cx) {
        for side in [Side::Client, Side::Server] {
            let Some(e) = black_hole(c, side) else {
                continue;
            };
            let loss = c.signals.loss[side.index()].as_deref().expect("checked");
            let (from, to) = match side {
                Side::Client => (&c.client, &c.server),
                Side::Server => (&c.server, &c.client),
            };
            let icmp_seen = c
                .icmp_errors
                .iter()
                .any(|i| i.about == side && i.reason == IcmpReason::PacketTooBig);
            let x = PmtuFacts {
                sender: side,
                from: from.clone(),
                to: to.clone(),
                bytes: e.len,
                largest_acknowledged: loss.largest_acked,
                mss: c.signals.mss,
                copies: e.copies,
                span: e.lost(),
                gaps: e.gaps(),
                ipv6: matches!(from.host, Host::V6(_)),
                icmp_seen,
            };
            let mut f = Finding::new(
                FindingId::PmtuBlackHole,
                severity_of(e.lost(), cx.cfg).max(Severity::Warning),
                cx.name(c.point),
                Facts::Pmtu(x),
            );
            f.cost = Some(e.lost());
            f.conversation = Some(crate::explain::conv_ref(c, cx.points));
            f.evidence = cx.copies(c, side, e);
            f.cross = Some(CrossFacts::of(c));
            cx.emit(e.first.ts, f);
        }
    }
}

fn said(x: &PmtuFacts, l: Lang) -> Said {
    let who = say::side(x.sender, l);
    let summary = tr!(
        l,
        format!(
            "The {who} {} sent a {}-byte segment {} times over {} and {} never acknowledged it, while segments of up to {} bytes got through: a path MTU black hole.",
            x.from,
            x.bytes,
            x.copies,
            l.dur(x.span),
            x.to,
            x.largest_acknowledged
        ),
        format!(
            "{who} {} 在 {} 内把一个 {} 字节的报文段发送了 {} 次，{} 始终没有确认，而不超过 {} 字节的报文段都能通过：这是路径 MTU 黑洞。",
            x.from,
            l.dur(x.span),
            x.bytes,
            x.copies,
            x.to,
            x.largest_acknowledged
        )
    );
    let icmp = if x.ipv6 {
        "ICMPv6 \"packet too big\""
    } else {
        "ICMP \"fragmentation needed\""
    };
    let mut details = vec![tr!(
        l,
        format!("A link on the path has a smaller MTU and drops the big packets; the {icmp} that should tell the sender to send smaller ones never reached it, so it keeps sending the same size while its timer backs off."),
        format!("路径上某条链路的 MTU 更小，丢弃了大报文；本应通知发送方减小报文的 {icmp} 没有到达发送方，所以它一直以同样大小重发，定时器不断退避。")
    )];
    if x.icmp_seen {
        details.push(tr!(
            l,
            format!(
                "An {icmp} passed this capture point: it was lost between here and the sender."
            ),
            format!("有一个 {icmp} 经过了此捕获点：它在此处与发送方之间丢失。")
        ));
    }
    if let [Some(c), Some(s)] = x.mss {
        details.push(tr!(
            l,
            format!("The handshake announced MSS {c} (client) and {s} (server): neither end knew of the smaller link."),
            format!("握手时宣告的 MSS 为 {c}（客户端）和 {s}（服务器）：两端都不知道那条更小的链路。")
        ));
    }
    Said { summary, details }
}

fn remedies(x: &PmtuFacts) -> Vec<Remedy> {
    let path = || Target::PathDevice {
        from: x.from.host.clone(),
        to: x.to.host.clone(),
    };
    let (allow_nft, allow_ipt) = if x.ipv6 {
        (
            "nft insert rule inet filter forward icmpv6 type packet-too-big accept",
            "ip6tables -I FORWARD -p icmpv6 --icmpv6-type packet-too-big -j ACCEPT",
        )
    } else {
        (
            "nft insert rule inet filter forward icmp type destination-unreachable icmp code frag-needed accept",
            "iptables -I FORWARD -p icmp --icmp-type fragmentation-needed -j ACCEPT",
        )
    };
    let mut v = vec![
        Remedy::new(
            path(),
            Text::new(
                "let the ICMP that reports the smaller MTU through every firewall on the path (RFC 4890 for IPv6)",
                "让报告更小 MTU 的 ICMP 通过路径上的每一道防火墙（IPv6 见 RFC 4890）",
            ),
            &[allow_nft, allow_ipt],
        )
        .in_network(),
        Remedy::new(
            path(),
            Text::new(
                "or clamp the MSS of SYNs crossing the link with the smaller MTU, on the router in front of it",
                "或者在较小 MTU 链路前的路由器上，钳制经过它的 SYN 的 MSS",
            ),
            &[
                "nft add rule inet filter forward tcp flags syn tcp option maxseg size set rt mtu",
                "iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
            ],
        )
        .in_network(),
    ];
    if literal(&x.from.host).is_some() {
        v.push(Remedy::new(
            Target::Host {
                host: x.from.host.clone(),
            },
            Text::new(
                format!("on the sender {}, let Linux find the smaller size itself when packets vanish (RFC 4821 packetization-layer probing)", x.from.host),
                format!("在发送方 {} 上，让 Linux 在报文消失时自行探测更小的尺寸（RFC 4821 分组层探测）", x.from.host),
            ),
            &["sysctl -w net.ipv4.tcp_mtu_probing=1"],
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{diagnose_frames, one};
    use stalltrace_testkit::scene::Scene;

    #[test]
    fn full_size_segments_lost_while_small_ones_pass() {
        // The scene from testkit's fault catalogue.
        let all = crate::testing::diagnose_frames(&stalltrace_testkit::faults::pmtu_black_hole());
        let f = one(&all, FindingId::PmtuBlackHole);
        let Facts::Pmtu(x) = &f.facts else { panic!() };
        assert_eq!(
            (x.sender, x.bytes, x.copies, x.largest_acknowledged),
            (Side::Server, 1448, 5, 0)
        );
        assert!(!x.icmp_seen && !x.ipv6);
        assert_eq!(x.mss, [Some(1460), Some(1460)]);
        // The same loss is not also told as a plain retransmission.
        assert!(
            all.iter().all(|f| f.id != FindingId::Retransmission),
            "{all:#?}"
        );
        assert!(f
            .remedies
            .iter()
            .any(|r| r.lines.iter().any(|l| l.contains("frag-needed"))));
        assert!(f
            .remedies
            .iter()
            .any(|r| r.lines.iter().any(|l| l.contains("tcp_mtu_probing=1"))));
    }

    #[test]
    fn a_small_segment_lost_is_not_a_black_hole() {
        let mut s = Scene::new();
        let mut c = s.connect_mss(
            0.0,
            "192.0.2.10:50000",
            "198.51.100.80:80",
            0.02,
            Some(1460),
        );
        s.send(0.03, &mut c, true, b"hello");
        for at in [0.24, 0.65, 1.5] {
            s.resend(at, &c, true);
        }
        let all = diagnose_frames(&s.frames());
        assert!(all.iter().all(|f| f.id != FindingId::PmtuBlackHole));
        let f = one(&all, FindingId::Retransmission);
        let Facts::Loss(x) = &f.facts else { panic!() };
        assert!(!x.acknowledged);
    }
}
