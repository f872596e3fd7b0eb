//! What an evidence packet shows, in words.

use stalltrace_conversations::{Protocol, Side};
use stalltrace_decode::{tr, Lang};

use super::kind_word;
use crate::finding::*;

/// What an evidence packet shows.
pub fn shows(s: &Shows, l: Lang) -> String {
    match s {
        Shows::ClientSyn { client, server } => tr!(
            l,
            format!("client SYN {client} → {server}"),
            format!("客户端 SYN {client} → {server}")
        ),
        Shows::SynAck => tr!(l, "server SYN-ACK", "服务器 SYN-ACK").into(),
        Shows::HandshakeAck { seen_here: false } => tr!(
            l,
            "client ACK completing the handshake",
            "客户端完成握手的 ACK"
        )
        .into(),
        Shows::HandshakeAck { seen_here: true } => tr!(
            l,
            "client ACK completing the handshake, seen here",
            "客户端完成握手的 ACK（在此捕获点可见）"
        )
        .into(),
        Shows::SynAckAgain {
            after: Some(a),
            ack_lost: false,
        } => tr!(
            l,
            format!("server SYN-ACK re-sent (+{a})"),
            format!("服务器重发 SYN-ACK（+{}）", l.dur(*a))
        ),
        Shows::SynAckAgain { ack_lost: true, .. } => tr!(
            l,
            "server SYN-ACK re-sent: it did not take the first ACK",
            "服务器重发 SYN-ACK：它没有接收第一个 ACK"
        )
        .into(),
        Shows::SynAckAgain { .. } => tr!(l, "server SYN-ACK re-sent", "服务器重发 SYN-ACK").into(),
        Shows::AckAgain => tr!(l, "client ACK again", "客户端再次 ACK").into(),
        Shows::Request { client, server } => tr!(
            l,
            format!("client request ({client} → {server})"),
            format!("客户端请求（{client} → {server}）")
        ),
        Shows::Greeting { service, bytes } => {
            let s = service.as_deref().unwrap_or("");
            match l {
                Lang::En => format!(
                    "server {}greeting ({})",
                    if s.is_empty() {
                        String::new()
                    } else {
                        format!("{s} ")
                    },
                    l.count(u64::from(*bytes), "byte", "bytes")
                ),
                Lang::ZhCn => format!(
                    "服务器{}欢迎信息（{bytes} 字节）",
                    if s.is_empty() {
                        String::new()
                    } else {
                        format!(" {s} ")
                    }
                ),
            }
        }
        Shows::Answer { service } => {
            let s = service.as_deref().unwrap_or("");
            match l {
                Lang::En if s.is_empty() => "server answer".into(),
                Lang::En => format!("server {s} answer"),
                Lang::ZhCn if s.is_empty() => "服务器应答".into(),
                Lang::ZhCn => format!("服务器 {s} 应答"),
            }
        }
        Shows::ClientGaveUp => tr!(l, "client gives up", "客户端放弃").into(),
        Shows::CallbackFirst {
            kind,
            protocol,
            client,
            server,
        } => format!("{} {client} → {server}", callback_noun(*kind, *protocol, l)),
        Shows::CallbackAgain {
            kind,
            protocol,
            after,
        } => tr!(
            l,
            format!(
                "{} re-sent (+{:.1} s)",
                callback_noun(*kind, *protocol, l),
                after.secs_f64()
            ),
            format!(
                "{} 重发（+{:.1} 秒）",
                callback_noun(*kind, *protocol, l),
                after.secs_f64()
            )
        ),
        Shows::Refusal { by, after, icmp } => {
            let how = match icmp {
                Some(r) => format!("ICMP {}", r.say(l)),
                None => "RST".into(),
            };
            tr!(
                l,
                format!("refusal from {by}: {how} (+{after})"),
                format!("来自 {by} 的拒绝：{how}（+{}）", l.dur(*after))
            )
        }
        Shows::IcmpSetAside { by, reason } => tr!(
            l,
            format!("ICMP {} from {by}, set aside by the opener", reason.say(l)),
            format!("来自 {by} 的 ICMP {}，被发起方搁置", reason.say(l))
        ),
        Shows::Syn { client, server } => format!("SYN {client} → {server}"),
        Shows::SynAgain { after } => tr!(
            l,
            format!("client SYN re-sent (+{})", l.dur(*after)),
            format!("客户端重发 SYN（+{}）", l.dur(*after))
        ),
        Shows::Data { from, bytes } => tr!(
            l,
            format!(
                "{} data, {}",
                side(*from, l),
                l.count(u64::from(*bytes), "byte", "bytes")
            ),
            format!("{}数据，{bytes} 字节", side(*from, l))
        ),
        Shows::DataAgain { from, copy, after } => tr!(
            l,
            format!(
                "{} data sent again, copy {copy} (+{})",
                side(*from, l),
                l.dur(*after)
            ),
            format!(
                "{}重发数据，第 {copy} 份（+{}）",
                side(*from, l),
                l.dur(*after)
            )
        ),
        Shows::DataAcked { by, after } => tr!(
            l,
            format!(
                "{} ACK covering it at last (+{})",
                side(*by, l),
                l.dur(*after)
            ),
            format!("{}终于确认了它（+{}）", side(*by, l), l.dur(*after))
        ),
        Shows::ZeroWindow { by } => tr!(
            l,
            format!("{} advertises a zero window", side(*by, l)),
            format!("{}通告零窗口", side(*by, l))
        ),
        Shows::WindowProbe { from } => tr!(
            l,
            format!("{} zero-window probe", side(*from, l)),
            format!("{}零窗口探测", side(*from, l))
        ),
        Shows::WindowOpen { by, after } => tr!(
            l,
            format!(
                "{} opens its window again (+{})",
                side(*by, l),
                l.dur(*after)
            ),
            format!("{}重新打开窗口（+{}）", side(*by, l), l.dur(*after))
        ),
        Shows::SmallSegment { from } => tr!(
            l,
            format!("{} small segment, unacknowledged", side(*from, l)),
            format!("{}小报文段，尚未确认", side(*from, l))
        ),
        Shows::DelayedAck { by, after } => tr!(
            l,
            format!("{} delayed ACK (+{})", side(*by, l), l.dur(*after)),
            format!("{}延迟确认（+{}）", side(*by, l), l.dur(*after))
        ),
        Shows::Released { from } => tr!(
            l,
            format!("{} held segment sent at once", side(*from, l)),
            format!("{}被扣住的报文段随即发出", side(*from, l))
        ),
        Shows::AfterIdle { from, idle } => tr!(
            l,
            format!(
                "{} speaks after {} of silence",
                side(*from, l),
                l.dur(*idle)
            ),
            format!("{}在沉默 {}后发送", side(*from, l), l.dur(*idle))
        ),
        Shows::ForeignRst {
            as_side,
            ttl,
            side_ttl,
        } => tr!(
            l,
            format!(
                "RST in the {}'s name, TTL {ttl} where the {}'s packets have {side_ttl}",
                noun(*as_side),
                noun(*as_side)
            ),
            format!(
                "以{}名义发出的 RST，TTL 为 {ttl}，而{}的报文 TTL 为 {side_ttl}",
                side(*as_side, l),
                side(*as_side, l)
            )
        ),
        Shows::Rst { from } => tr!(
            l,
            format!("{} RST", side(*from, l)),
            format!("{} RST", side(*from, l))
        ),
        Shows::DnsQuery {
            question,
            server,
            after,
        } => {
            let q = question
                .as_ref()
                .map(|q| format!("{} {}? ", q.name, q.type_name()))
                .unwrap_or_default();
            tr!(
                l,
                format!("DNS query {q}to {server} (+{})", l.dur(*after)),
                format!("DNS 查询 {q}发往 {server}（+{}）", l.dur(*after))
            )
        }
        Shows::DnsResponse { by, rcode, after } => tr!(
            l,
            format!(
                "DNS answer from {by}: {} (+{})",
                stalltrace_decode::dns::rcode_name(*rcode),
                l.dur(*after)
            ),
            format!(
                "来自 {by} 的 DNS 应答：{}（+{}）",
                stalltrace_decode::dns::rcode_name(*rcode),
                l.dur(*after)
            )
        ),
        Shows::SynAckLate { after } => tr!(
            l,
            format!("server SYN-ACK (+{})", l.dur(*after)),
            format!("服务器 SYN-ACK（+{}）", l.dur(*after))
        ),
    }
}

fn callback_noun(kind: CallbackKind, protocol: Protocol, l: Lang) -> String {
    match (kind, protocol) {
        (CallbackKind::Ident, _) => "ident SYN".into(),
        (CallbackKind::Dns, Protocol::Udp) => tr!(l, "DNS query", "DNS 查询").into(),
        (k, Protocol::Tcp) => tr!(
            l,
            format!("{} SYN", kind_word(k, l)),
            format!("{} SYN", kind_word(k, l))
        ),
        (k, Protocol::Udp) => tr!(
            l,
            format!("{} query", kind_word(k, l)),
            format!("{}查询", kind_word(k, l))
        ),
    }
}

/// "client" / "客户端".
pub(crate) fn side(s: Side, l: Lang) -> &'static str {
    match (s, l) {
        (Side::Client, Lang::En) => "client",
        (Side::Server, Lang::En) => "server",
        (Side::Client, Lang::ZhCn) => "客户端",
        (Side::Server, Lang::ZhCn) => "服务器",
    }
}

fn noun(s: Side) -> &'static str {
    side(s, Lang::En)
}
