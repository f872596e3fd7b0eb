//! `ipv6-fallback`: a client tried the service's IPv6 address, nothing
//! answered, and it connected over IPv4 instead. With Happy Eyeballs
//! (RFC 8305) the IPv4 attempt starts about 250 ms after the IPv6 one;
//! without it, only when connect() gives up on IPv6: 21 s on Windows,
//! 75 s on macOS, about two minutes on Linux (`facts/stacks.rs`). The
//! IPv6 path is broken (a route, a firewall that drops IPv6, a missing
//! RA), and every new connection pays for it.
//!
//! The two attempts are tied by time and service, and by client: the
//! same link-layer address when the capture shows one (on the client's
//! own link), else they must be the only IPv4 attempt to that port in
//! the window, so that one client's fallback is never pinned on another.

use std::collections::VecDeque;

use stalltrace_conversations::{Conversation, PacketRef, Protocol};
use stalltrace_decode::{tr, Endpoint, Host, Lang, TimeDelta};

use crate::facts::{stacks, Service};
use crate::finding::*;
use crate::remedy::{literal, Remedy, Target, Text};
use crate::rule::{severity_of, Cx, Detect, Rule, Said};

pub(crate) struct Ipv6Fallback;

/// IPv4 openings remembered, newest last.
const MAX_V4: usize = 16_384;
/// Unanswered IPv6 openings remembered.
const MAX_V6: usize = 4_096;
/// After the last IPv6 SYN, how long the client may take to give up and
/// start IPv4 when no stack's schedule says.
const GIVE_UP_SLACK: TimeDelta = TimeDelta::from_secs(3);

impl Rule for Ipv6Fallback {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::Ipv6Fallback]
    }

    fn title(&self, _id: FindingId, l: Lang) -> &'static str {
        tr!(l, "ipv6-fallback", "IPv6 回退")
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector::default())
    }

    fn folds(&self) -> bool {
        true
    }

    fn fold_detail(&self, f: &Finding) -> String {
        match &f.facts {
            Facts::Fallback(x) => format!("{}", x.raced),
            _ => String::new(),
        }
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let Facts::Fallback(x) = &f.facts else {
            return Said::default();
        };
        said(x, l)
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        let Facts::Fallback(x) = &f.facts else {
            return Vec::new();
        };
        remedies(x)
    }
}

/// An opening, as much as tying it needs: kept for every IPv4 one, so
/// without an allocation (the first SYN only; the IPv6 ones keep all).
#[derive(Clone)]
struct Opening {
    point: u32,
    id: u64,
    client: Endpoint,
    server: Endpoint,
    link: Option<[u8; 6]>,
    first: PacketRef,
}

impl Opening {
    fn of(c: &Conversation) -> Opening {
        Opening {
            point: c.point,
            id: c.id,
            client: c.client.clone(),
            server: c.server.clone(),
            link: c.client_link,
            first: c.syns[0],
        }
    }

    fn conv_ref(&self, cx: &Cx) -> ConversationRef {
        ConversationRef {
            point: cx.name(self.point),
            protocol: Protocol::Tcp,
            client: self.client.clone(),
            server: self.server.clone(),
            service: Service::by_port(Protocol::Tcp, self.server.port).map(|s| s.name.to_string()),
            daemon: None,
            vlan: 0,
            tunnel: None,
        }
    }
}

#[derive(Clone, Default)]
struct Detector {
    v4: VecDeque<Opening>,
    /// Unanswered IPv6 openings, with their SYNs.
    v6: Vec<(Opening, Vec<PacketRef>)>,
}

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, _cx: &mut Cx) {
        if c.protocol != Protocol::Tcp || c.syns.is_empty() {
            return;
        }
        match c.server.host {
            Host::V4(_) => {
                if self.v4.len() == MAX_V4 {
                    self.v4.pop_front();
                }
                self.v4.push_back(Opening::of(c));
            }
            Host::V6(_) if c.unanswered() && c.icmp_errors.is_empty() && self.v6.len() < MAX_V6 => {
                self.v6.push((Opening::of(c), c.syns.clone()));
            }
            _ => {}
        }
    }

    fn finish(&mut self, cx: &mut Cx) {
        for (u, syns) in std::mem::take(&mut self.v6) {
            let retries: Vec<f64> = syns
                .iter()
                .skip(1)
                .map(|s| (s.ts - u.first.ts).secs_f64())
                .collect();
            let backoff = stacks::fitting(&retries);
            // The latest the client can have given up on IPv6: its next
            // retry, by its stack, or a little after its last SYN.
            let last = *syns.last().expect("a SYN");
            let latest = backoff
                .first()
                .and_then(|s| s.next_retry(retries.len()))
                .map(|d| u.first.ts + TimeDelta::from_secs_f64(d) + TimeDelta::from_secs(1))
                .unwrap_or(last.ts + GIVE_UP_SLACK);
            let window: Vec<&Opening> = self
                .v4
                .iter()
                .filter(|v| {
                    v.point == u.point
                        && v.server.port == u.server.port
                        && v.first.ts > u.first.ts
                        && v.first.ts <= latest
                })
                .collect();
            let same_link = |v: &&Opening| matches!((u.link, v.link), (Some(a), Some(b)) if a == b);
            let tied = match window.iter().copied().find(same_link) {
                Some(v) => Some((v, true)),
                // No link addresses to tie them: only a lone candidate.
                None if window.len() == 1 && (u.link.is_none() || window[0].link.is_none()) => {
                    Some((window[0], false))
                }
                None => None,
            };
            let Some((v, same_link_address)) = tied else {
                continue;
            };
            cx.take(u.point, u.id);
            let delay = v.first.ts - u.first.ts;
            let raced = v.first.ts < last.ts;
            let x = FallbackFacts {
                client6: u.client.clone(),
                server6: u.server.clone(),
                client4: v.client.clone(),
                server4: v.server.clone(),
                syns6: syns.len() as u32,
                delay,
                raced,
                backoff,
                same_link_address,
            };
            let mut f = Finding::new(
                FindingId::Ipv6Fallback,
                severity_of(delay, cx.cfg),
                cx.name(u.point),
                Facts::Fallback(x),
            );
            f.cost = Some(delay);
            f.conversation = Some(v.conv_ref(cx));
            let mut ev: Vec<Evidence> = syns
                .iter()
                .take(6)
                .map(|s| Evidence {
                    point: cx.name(u.point),
                    packet: s.number,
                    time: s.ts,
                    time_of_day: s.ts.time_of_day(),
                    shows: Shows::Syn {
                        client: u.client.clone(),
                        server: u.server.clone(),
                    },
                })
                .collect();
            ev.push(Evidence {
                point: cx.name(v.point),
                packet: v.first.number,
                time: v.first.ts,
                time_of_day: v.first.ts.time_of_day(),
                shows: Shows::ClientSyn {
                    client: v.client.clone(),
                    server: v.server.clone(),
                },
            });
            f.evidence = ev;
            f.breakdown = vec![TimeSegment::new(
                SegmentKind::Network,
                Part::Ipv6Tried,
                u.first.ts,
                v.first.ts,
            )];
            cx.emit(u.first.ts, f);
        }
    }
}

fn said(x: &FallbackFacts, l: Lang) -> Said {
    let summary = match (x.raced, l) {
        (true, Lang::En) => format!(
            "{} tried {} over IPv6 and nothing answered; it raced IPv4 ({}) after {} and connected there.",
            x.client6,
            x.server6,
            x.server4,
            l.dur(x.delay)
        ),
        (true, Lang::ZhCn) => format!(
            "{} 通过 IPv6 连接 {} 没有任何应答；它在 {}后并行尝试 IPv4（{}）并在那里连上。",
            x.client6,
            x.server6,
            l.dur(x.delay),
            x.server4
        ),
        (false, Lang::En) => format!(
            "{} tried {} over IPv6 for {} and nothing answered; only then did it fall back to IPv4 ({}).",
            x.client6,
            x.server6,
            l.dur(x.delay),
            x.server4
        ),
        (false, Lang::ZhCn) => format!(
            "{} 通过 IPv6 连接 {} 尝试了 {}，没有任何应答；之后才回退到 IPv4（{}）。",
            x.client6,
            x.server6,
            l.dur(x.delay),
            x.server4
        ),
    };
    let mut details = vec![tr!(
        l,
        format!(
            "{} IPv6 SYNs, no SYN-ACK, RST or ICMP error: IPv6 to this server is broken somewhere on the path, and every new connection pays the wait.",
            x.syns6
        ),
        format!(
            "{} 个 IPv6 SYN，没有 SYN-ACK、RST 或 ICMP 差错：通往该服务器的 IPv6 在路径上某处不通，每个新连接都要付出这段等待。",
            x.syns6
        )
    )];
    details.push(match (x.raced, x.backoff.first()) {
        (true, _) => tr!(
            l,
            "The client races the two (Happy Eyeballs, RFC 8305): the wait is its head start for IPv6, not a timeout.",
            "客户端让两者竞速（Happy Eyeballs，RFC 8305）：这段等待是它给 IPv6 的先行时间，而不是超时。"
        )
        .into(),
        (false, Some(s)) => tr!(
            l,
            format!("The client waited for its connect timeout; its SYN back-off matches {}.", s.name(l)),
            format!("客户端一直等到连接超时；它的 SYN 退避与 {} 吻合。", s.name(l))
        ),
        (false, None) => tr!(
            l,
            "The client waited for its own connect timeout before trying IPv4.",
            "客户端等到自己的连接超时后才尝试 IPv4。"
        )
        .into(),
    });
    details.push(match x.same_link_address {
        true => tr!(
            l,
            "Both attempts came from the same link-layer address: the same machine.",
            "两次尝试来自同一个链路层地址：是同一台机器。"
        )
        .into(),
        false => tr!(
            l,
            "Tied by time and port: it is the only IPv4 attempt to this port in the window.",
            "依据时间和端口关联：在该时间窗口内，这是唯一一次发往此端口的 IPv4 尝试。"
        )
        .into(),
    });
    Said { summary, details }
}

fn remedies(x: &FallbackFacts) -> Vec<Remedy> {
    let mut v = Vec::new();
    if let Some(addr) = literal(&x.server6.host) {
        v.push(
            Remedy::new(
                Target::PathDevice {
                    from: x.client6.host.clone(),
                    to: x.server6.host.clone(),
                },
                Text::new(
                    "fix IPv6 to the server: find the hop where SYNs stop (a route, a firewall dropping IPv6)",
                    "修复通往服务器的 IPv6：找到 SYN 中断的那一跳（路由，或丢弃 IPv6 的防火墙）",
                ),
                &[&format!("traceroute -6 -T -p {} {addr}", x.server6.port)],
            )
            .in_network(),
        );
    }
    v.push(
        Remedy::new(
            Target::Host {
                host: x.client4.host.clone(),
            },
            Text::new(
                "until then, have the client prefer IPv4 for its name lookups (glibc)",
                "在此之前，让客户端在名字解析时优先使用 IPv4（glibc）",
            ),
            &["precedence ::ffff:0:0/96  100"],
        )
        .file("/etc/gai.conf"),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{diagnose_frames, one};
    use stalltrace_testkit::scene::Scene;

    #[test]
    fn ipv6_unanswered_for_three_seconds_then_ipv4() {
        // The scene from testkit's fault catalogue.
        let all = crate::testing::diagnose_frames(&stalltrace_testkit::faults::ipv6_fallback());
        let f = one(&all, FindingId::Ipv6Fallback);
        let Facts::Fallback(x) = &f.facts else {
            panic!()
        };
        assert_eq!((x.syns6, x.raced, x.same_link_address), (2, false, true));
        assert_eq!(x.delay, TimeDelta::from_secs(3));
        assert_eq!(f.severity, Severity::Warning);
        // The IPv6 attempt is told here, not as an unanswered connection.
        assert!(
            all.iter().all(|f| f.id != FindingId::ConnectionUnanswered),
            "{all:#?}"
        );
    }

    #[test]
    fn an_ipv4_attempt_to_another_port_is_no_fallback() {
        let mut s = Scene::new();
        s.syns(
            0.0,
            "[2001:db8:1::200]:40000",
            "[2001:db8:2::25]:80",
            &[0.0, 1.0],
        );
        s.connect(3.0, "192.0.2.200:40002", "198.51.100.25:443", 0.001);
        let all = diagnose_frames(&s.frames());
        assert!(all.iter().all(|f| f.id != FindingId::Ipv6Fallback));
    }
}
