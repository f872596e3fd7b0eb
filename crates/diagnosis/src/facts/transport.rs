//! TCP's own timers, as stacks set them: the smallest retransmission
//! timeout (what the first resend of a segment waits when the round trip
//! is short) and the delayed-ACK timer (what a small segment held by
//! Nagle's algorithm waits for). A measured gap that fits one of these
//! names the sender's (or the receiver's) stack. Sources per entry; see
//! `docs/field-facts.md`.

use serde::Serialize;
use stalltrace_decode::{tr, Lang, TimeDelta};

/// A stack's minimum retransmission timeout.
#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RtoFloor {
    /// Stable id, for scripts.
    pub id: &'static str,
    pub millis: u32,
    #[serde(skip)]
    en: &'static str,
    #[serde(skip)]
    zh: &'static str,
}

pub static RTO_FLOORS: &[RtoFloor] = &[
    RtoFloor {
        id: "linux",
        millis: 200,
        // include/net/tcp.h: TCP_RTO_MIN ((unsigned)(HZ / 5)).
        en: "Linux (TCP_RTO_MIN 200 ms)",
        zh: "Linux（TCP_RTO_MIN 200 毫秒）",
    },
    RtoFloor {
        id: "windows",
        millis: 300,
        // Get-NetTCPSetting, template "Internet": MinRto(ms) 300.
        en: "Windows (MinRto 300 ms, Internet template)",
        zh: "Windows（MinRto 300 毫秒，Internet 模板）",
    },
    RtoFloor {
        id: "rfc6298",
        millis: 1000,
        // RFC 6298 2.4: a minimum of 1 second.
        en: "an RFC 6298 stack (minimum RTO 1 s)",
        zh: "遵循 RFC 6298 的协议栈（最小 RTO 1 秒）",
    },
];

impl RtoFloor {
    pub fn name(&self, l: Lang) -> &'static str {
        tr!(l, self.en, self.zh)
    }

    /// The first resend came `gap` after the original, on a path whose
    /// round trip is `rtt`: a timer at its floor waits the floor plus at
    /// most the round trip's share (Linux: SRTT + max(4 RTTVAR, floor);
    /// others: max(floor, SRTT + 4 RTTVAR)), and timer ticks. Only where
    /// the round trip is a quarter of the floor or less does the floor set the
    /// timer: on a 365 ms path a 731 ms resend says nothing of the stack
    /// (Zeek's http/206_example_a.pcap), nor a 2.9 s one after a 7 s
    /// handshake (rdp-unknown-keyboard.pcap).
    fn fits(&self, gap: TimeDelta, rtt: Option<TimeDelta>) -> bool {
        let floor = f64::from(self.millis) / 1000.0;
        let r = rtt.map_or(0.0, |r| r.secs_f64());
        if r > floor / 4.0 {
            return false;
        }
        let g = gap.secs_f64();
        let slack = 2.0 * r + floor * 0.15 + 0.01;
        g >= floor * 0.95 && g <= floor + slack
    }
}

/// The stacks whose minimum RTO fits the first resend.
pub fn rto_fitting(gap: TimeDelta, rtt: Option<TimeDelta>) -> Vec<&'static RtoFloor> {
    RTO_FLOORS.iter().filter(|s| s.fits(gap, rtt)).collect()
}

/// A stack's delayed-ACK timer.
#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DelayedAck {
    pub id: &'static str,
    pub millis: u32,
    #[serde(skip)]
    en: &'static str,
    #[serde(skip)]
    zh: &'static str,
}

pub static DELAYED_ACKS: &[DelayedAck] = &[
    DelayedAck {
        id: "linux",
        millis: 40,
        // include/net/tcp.h: TCP_DELACK_MIN ((unsigned)(HZ / 25)).
        en: "Linux (TCP_DELACK_MIN 40 ms)",
        zh: "Linux（TCP_DELACK_MIN 40 毫秒）",
    },
    DelayedAck {
        id: "freebsd",
        millis: 40,
        // FreeBSD r360010 (2020): net.inet.tcp.delacktime 100 ms -> 40 ms.
        en: "FreeBSD 12.2+ (delacktime 40 ms)",
        zh: "FreeBSD 12.2 及以上（delacktime 40 毫秒）",
    },
    DelayedAck {
        id: "windows-internet",
        millis: 50,
        // Get-NetTCPSetting, template "Internet": DelayedAckTimeout(ms) 50.
        en: "Windows 7+ (DelayedAckTimeout 50 ms)",
        zh: "Windows 7 及以上（DelayedAckTimeout 50 毫秒）",
    },
    DelayedAck {
        id: "bsd-solaris",
        millis: 100,
        // Solaris tcp_deferred_ack_interval 100 ms; FreeBSD before 12.2.
        en: "Solaris, older BSD and macOS (100 ms)",
        zh: "Solaris、较早的 BSD 和 macOS（100 毫秒）",
    },
    DelayedAck {
        id: "windows-legacy",
        millis: 200,
        // TcpDelAckTicks 2 (x 100 ms), Windows 2000 to 2003.
        en: "Windows (TcpDelAckTicks 2: 200 ms)",
        zh: "Windows（TcpDelAckTicks 2：200 毫秒）",
    },
];

impl DelayedAck {
    pub fn name(&self, l: Lang) -> &'static str {
        tr!(l, self.en, self.zh)
    }
}

/// The delayed-ACK timers a typical hold fits: within 15 % (timer ticks),
/// or a little past the timer on a loaded host.
pub fn delack_fitting(typical: TimeDelta) -> Vec<&'static DelayedAck> {
    let ms = typical.secs_f64() * 1000.0;
    DELAYED_ACKS
        .iter()
        .filter(|d| {
            let t = f64::from(d.millis);
            ms >= t * 0.85 && ms <= t * 1.25 + 5.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids<T>(v: Vec<&T>, id: impl Fn(&T) -> &'static str) -> Vec<&'static str> {
        v.into_iter().map(id).collect()
    }

    #[test]
    fn a_first_resend_after_a_quarter_second_is_linux() {
        let rtt = Some(TimeDelta::from_millis(20));
        assert_eq!(
            ids(rto_fitting(TimeDelta::from_millis(250), rtt), |s| s.id),
            ["linux"]
        );
        assert_eq!(
            ids(
                rto_fitting(TimeDelta::from_millis(310), Some(TimeDelta::from_millis(2))),
                |s| s.id
            ),
            ["windows"]
        );
        assert_eq!(
            ids(rto_fitting(TimeDelta::from_millis(1010), None), |s| s.id),
            ["rfc6298"]
        );
        assert!(rto_fitting(TimeDelta::from_millis(3000), rtt).is_empty());
    }

    #[test]
    fn forty_milliseconds_is_a_linux_or_freebsd_delayed_ack() {
        assert_eq!(
            ids(delack_fitting(TimeDelta::from_millis(41)), |d| d.id),
            ["linux", "freebsd"]
        );
        assert_eq!(
            ids(delack_fitting(TimeDelta::from_millis(200)), |d| d.id),
            ["windows-legacy"]
        );
    }
}
