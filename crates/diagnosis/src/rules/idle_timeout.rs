//! `idle-timeout`: a connection was silent longer than a middlebox on its
//! path keeps an idle connection's state (AWS NAT gateway and NLB 350 s,
//! Azure 4 min, many firewalls 1 h; `facts/idle.rs`), and when it spoke
//! again the device had forgotten it: a RST came back in the peer's name
//! with a TTL the peer's packets never carry, or the data was sent again
//! and again into silence. The longest silence the connection survived
//! and the one it did not bound the device's timeout; keepalives shorter
//! than it keep the state alive.

use stalltrace_conversations::signals::AfterIdle;
use stalltrace_conversations::{Conversation, Side};
use stalltrace_decode::{tr, Lang, TimeDelta};

use crate::facts::idle::idle_fitting;
use crate::finding::*;
use crate::remedy::{Remedy, Target, Text};
use crate::rule::{Cx, Detect, Rule, Said};
use crate::say;

pub(crate) struct IdleTimeout;

/// Data sent into silence is only told after a silence this long: a
/// shorter one ending in loss is more likely a broken path or peer.
const SILENCE_MIN: TimeDelta = TimeDelta::from_secs(30);

impl Rule for IdleTimeout {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::IdleTimeout]
    }

    fn title(&self, _id: FindingId, l: Lang) -> &'static str {
        tr!(l, "idle-timeout", "空闲超时")
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector)
    }

    fn folds(&self) -> bool {
        true
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let Facts::Idle(x) = &f.facts else {
            return Said::default();
        };
        said(x, l)
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        let Facts::Idle(x) = &f.facts else {
            return Vec::new();
        };
        remedies(
            x,
            f.conversation.as_ref().and_then(|c| c.service.as_deref()),
        )
    }
}

#[derive(Clone)]
struct Detector;

impl Detect for Detector {
    fn conversation(&mut self, c: &Conversation, cx: &mut Cx) {
        let Some(i) = c.signals.idle.as_deref() else {
            return;
        };
        let gap = i.gap();
        let (end, ended_at) = match &i.end {
            AfterIdle::ForeignReset { rst, ttl, peer_ttl } => (
                IdleEnd::DeviceReset {
                    ttl: *ttl,
                    peer_ttl: *peer_ttl,
                },
                *rst,
            ),
            AfterIdle::Silence { copies, last } if gap >= SILENCE_MIN => (
                IdleEnd::Silence {
                    copies: *copies,
                    span: last.ts - i.after.ts,
                },
                *last,
            ),
            AfterIdle::Silence { .. } => return,
        };
        let x = IdleFacts {
            speaker: i.speaker,
            client: c.client.clone(),
            server: c.server.clone(),
            idle: gap,
            survived: i.survived,
            timeouts: idle_fitting(i.survived.unwrap_or_default(), gap),
            end,
        };
        let mut f = Finding::new(
            FindingId::IdleTimeout,
            Severity::Warning,
            cx.name(c.point),
            Facts::Idle(x),
        );
        // Silence costs the user the resends until it gave up; a reset
        // costs the connection, not a wait.
        f.cost = match &i.end {
            AfterIdle::Silence { .. } => Some(ended_at.ts - i.after.ts),
            AfterIdle::ForeignReset { .. } => None,
        };
        f.conversation = Some(crate::explain::conv_ref(c, cx.points));
        let mut ev = vec![cx.evidence(
            c,
            i.after,
            Shows::AfterIdle {
                from: i.speaker,
                idle: gap,
            },
        )];
        match &i.end {
            AfterIdle::ForeignReset { rst, ttl, peer_ttl } => ev.push(cx.evidence(
                c,
                *rst,
                Shows::ForeignRst {
                    as_side: i.speaker.other(),
                    ttl: *ttl,
                    side_ttl: *peer_ttl,
                },
            )),
            AfterIdle::Silence { copies, last } => ev.push(cx.evidence(
                c,
                *last,
                Shows::DataAgain {
                    from: i.speaker,
                    copy: *copies,
                    after: last.ts - i.after.ts,
                },
            )),
        }
        f.evidence = ev;
        f.cross = Some(CrossFacts::of(c));
        cx.emit(i.after.ts, f);
    }
}

fn said(x: &IdleFacts, l: Lang) -> Said {
    let who = say::side(x.speaker, l);
    let peer = say::side(x.speaker.other(), l);
    let (speaker, other) = match x.speaker {
        Side::Client => (&x.client, &x.server),
        Side::Server => (&x.server, &x.client),
    };
    let summary = match (&x.end, l) {
        (IdleEnd::DeviceReset { .. }, Lang::En) => format!(
            "The connection {} ↔ {} was idle for {}; when the {who} spoke again, a device on the path that had forgotten it answered with a RST in the {peer}'s name.",
            x.client,
            x.server,
            l.dur(x.idle)
        ),
        (IdleEnd::DeviceReset { .. }, Lang::ZhCn) => format!(
            "连接 {} ↔ {} 空闲了 {}；当{who}再次发送时，路径上一台已忘记该连接的设备以{peer}的名义回复了 RST。",
            x.client,
            x.server,
            l.dur(x.idle)
        ),
        (IdleEnd::Silence { copies, span }, Lang::En) => format!(
            "The connection {} ↔ {} was idle for {}; then the {who} {speaker} sent its data {copies} times over {} and {other} never answered: a device on the path had forgotten the connection.",
            x.client,
            x.server,
            l.dur(x.idle),
            l.dur(*span)
        ),
        (IdleEnd::Silence { copies, span }, Lang::ZhCn) => format!(
            "连接 {} ↔ {} 空闲了 {}；之后{who} {speaker} 在 {} 内把数据发送了 {copies} 次，{other} 始终没有应答：路径上的设备已忘记该连接。",
            x.client,
            x.server,
            l.dur(x.idle),
            l.dur(*span)
        ),
    };
    let mut details = Vec::new();
    if let IdleEnd::DeviceReset { ttl, peer_ttl } = &x.end {
        details.push(tr!(
            l,
            format!("The RST arrived with TTL {ttl}, where the {peer}'s own packets arrive with {peer_ttl}: the {peer} did not send it."),
            format!("该 RST 到达时 TTL 为 {ttl}，而{peer}自己的报文到达时为 {peer_ttl}：它不是{peer}发送的。")
        ));
    } else {
        details.push(tr!(
            l,
            "Or the peer itself is gone; a RST from the device, or a capture beyond it, tells the two apart.",
            "也可能是对端自身已不在；设备发出的 RST，或在设备另一侧抓包，可以分辨两者。"
        )
        .into());
    }
    let bound = match x.survived {
        Some(s) => tr!(
            l,
            format!("The device's idle timeout lies between {} (a silence the connection survived) and {}.", l.dur(s), l.dur(x.idle)),
            format!("该设备的空闲超时介于 {}（连接挺过的一次沉默）与 {} 之间。", l.dur(s), l.dur(x.idle))
        ),
        None => tr!(
            l,
            format!("The device's idle timeout is at most {}.", l.dur(x.idle)),
            format!("该设备的空闲超时不超过 {}。", l.dur(x.idle))
        ),
    };
    details.push(bound);
    if !x.timeouts.is_empty() {
        let names: Vec<&str> = x.timeouts.iter().map(|t| t.name(l)).collect();
        details.push(tr!(
            l,
            format!("Known timeouts in that range: {}.", names.join("; ")),
            format!("该范围内已知的超时：{}。", names.join("；"))
        ));
    }
    Said { summary, details }
}

/// A keepalive interval safely below the device's timeout: below the
/// silence the connection survived (the timeout is longer), else below
/// the shortest known timeout that fits, else below the silence that
/// broke it.
fn keepalive_secs(x: &IdleFacts) -> u64 {
    let bound = match x.survived {
        Some(s) => s.secs_f64(),
        None => x
            .timeouts
            .iter()
            .map(|t| f64::from(t.seconds))
            .fold(x.idle.secs_f64(), f64::min),
    };
    ((bound * 0.8 / 10.0).floor() as u64 * 10).max(10)
}

fn remedies(x: &IdleFacts, service: Option<&str>) -> Vec<Remedy> {
    let k = keepalive_secs(x);
    let mut v = Vec::new();
    match service {
        Some("SSH") => {
            v.push(Remedy::new(
                Target::Host {
                    host: x.client.host.clone(),
                },
                Text::new(
                    format!("have the SSH client send a keepalive every {k} s, below the device's timeout"),
                    format!("让 SSH 客户端每 {k} 秒发送一次保活，低于设备的超时"),
                ),
                &[&format!("ServerAliveInterval {k}")],
            )
            .file("~/.ssh/config"));
        }
        Some("PostgreSQL") => {
            v.push(
                Remedy::new(
                    Target::Host {
                        host: x.server.host.clone(),
                    },
                    Text::new(
                        format!("have PostgreSQL send TCP keepalives after {k} s idle"),
                        format!("让 PostgreSQL 在空闲 {k} 秒后发送 TCP 保活"),
                    ),
                    &[
                        &format!("tcp_keepalives_idle = {k}"),
                        "tcp_keepalives_interval = 10",
                    ],
                )
                .file("postgresql.conf"),
            );
        }
        _ => {}
    }
    for (host, side) in [
        (&x.client.host, Side::Client),
        (&x.server.host, Side::Server),
    ] {
        if side != x.speaker && !v.is_empty() {
            continue;
        }
        v.push(Remedy::new(
            Target::Host { host: host.clone() },
            Text::new(
                format!("on {host}, start TCP keepalives after {k} s idle (Linux; for sockets that set SO_KEEPALIVE)"),
                format!("在 {host} 上，空闲 {k} 秒后开始发送 TCP 保活（Linux；对设置了 SO_KEEPALIVE 的套接字）"),
            ),
            &[&format!("sysctl -w net.ipv4.tcp_keepalive_time={k} net.ipv4.tcp_keepalive_intvl=10")],
        ));
        break;
    }
    v.push(
        Remedy::new(
            Target::PathDevice {
                from: x.client.host.clone(),
                to: x.server.host.clone(),
            },
            Text::new(
                format!("or raise the idle timeout of the NAT, firewall or load balancer between them above {}", x.idle),
                format!("或者把两者之间的 NAT、防火墙或负载均衡器的空闲超时调到 {} 以上", x.idle),
            ),
            &[],
        )
        .in_network(),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{diagnose_frames, one};
    use stalltrace_testkit::scene::Scene;

    #[test]
    fn a_rst_from_a_device_after_six_minutes_idle() {
        // The scene from testkit's fault catalogue.
        let all = crate::testing::diagnose_frames(&stalltrace_testkit::faults::idle_timeout());
        let f = one(&all, FindingId::IdleTimeout);
        let Facts::Idle(x) = &f.facts else { panic!() };
        assert_eq!(
            x.end,
            IdleEnd::DeviceReset {
                ttl: 62,
                peer_ttl: 58
            }
        );
        assert_eq!(x.idle, TimeDelta::from_secs(360));
        assert_eq!(x.survived, Some(TimeDelta::from_secs(300)));
        assert_eq!(x.timeouts.iter().map(|t| t.id).collect::<Vec<_>>(), ["aws"]);
        assert_eq!(f.remedies[0].lines, ["ServerAliveInterval 240"]);
    }

    #[test]
    fn the_peers_own_rst_after_a_silence_is_not_a_device() {
        let mut s = Scene::new();
        s.ttl("198.51.100.22", 58);
        let mut c = s.connect(0.0, "192.0.2.10:50000", "198.51.100.22:8080", 0.02);
        s.send(0.05, &mut c, false, b"GET / HTTP/1.1\r\n\r\n");
        s.send(0.06, &mut c, true, b"HTTP/1.1 200 OK\r\n\r\n");
        s.send(400.0, &mut c, false, b"GET / HTTP/1.1\r\n\r\n");
        s.tcp(400.02, c.server, c.client, 0, None, "R", &[]);
        let all = diagnose_frames(&s.frames());
        assert!(
            all.iter().all(|f| f.id != FindingId::IdleTimeout),
            "{all:#?}"
        );
    }
}
