//! How long middleboxes keep an idle TCP connection's state before they
//! forget it: a connection idle longer is then dropped or reset by the
//! device, not by its ends. A capture bounds the timeout from below by the
//! longest gap the connection survived and from above by the gap it did
//! not; the known timeouts within those bounds name the likely device.
//! Sources per entry; see `docs/field-facts.md`.

use serde::Serialize;
use stalltrace_decode::{tr, Lang, TimeDelta};

/// A device's idle timeout for established TCP connections.
#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct IdleTimeout {
    pub id: &'static str,
    pub seconds: u32,
    #[serde(skip)]
    en: &'static str,
    #[serde(skip)]
    zh: &'static str,
}

pub static IDLE_TIMEOUTS: &[IdleTimeout] = &[
    IdleTimeout {
        id: "azure",
        seconds: 240,
        // Azure Load Balancer and NAT gateway: 4 minutes by default.
        en: "Azure load balancer / NAT gateway (4 min default)",
        zh: "Azure 负载均衡器 / NAT 网关（默认 4 分钟）",
    },
    IdleTimeout {
        id: "aws",
        seconds: 350,
        // AWS NAT gateway, NLB, Network Firewall: 350 s.
        en: "AWS NAT gateway / NLB / Network Firewall (350 s)",
        zh: "AWS NAT 网关 / NLB / Network Firewall（350 秒）",
    },
    IdleTimeout {
        id: "gcp-nat",
        seconds: 1200,
        // Cloud NAT: TCP established connection idle timeout 1200 s.
        en: "Google Cloud NAT (1200 s)",
        zh: "Google Cloud NAT（1200 秒）",
    },
    IdleTimeout {
        id: "firewall-1h",
        seconds: 3600,
        // Cisco ASA `timeout conn 1:00:00`, Palo Alto TCP 3600 s,
        // FortiGate session-ttl 3600 s.
        en: "Cisco ASA, Palo Alto, FortiGate (1 h default)",
        zh: "Cisco ASA、Palo Alto、FortiGate（默认 1 小时）",
    },
    IdleTimeout {
        id: "linux-conntrack",
        seconds: 432_000,
        // nf_conntrack_tcp_timeout_established: 5 days.
        en: "Linux conntrack (nf_conntrack_tcp_timeout_established, 5 days)",
        zh: "Linux conntrack（nf_conntrack_tcp_timeout_established，5 天）",
    },
];

impl IdleTimeout {
    pub fn name(&self, l: Lang) -> &'static str {
        tr!(l, self.en, self.zh)
    }
}

/// Known timeouts longer than the gap the connection survived and no
/// longer than the one it did not.
pub fn idle_fitting(survived: TimeDelta, broke: TimeDelta) -> Vec<&'static IdleTimeout> {
    IDLE_TIMEOUTS
        .iter()
        .filter(|t| {
            let s = f64::from(t.seconds);
            s > survived.secs_f64() && s <= broke.secs_f64() + 1.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_six_minute_gap_after_surviving_five_is_aws() {
        let v = idle_fitting(TimeDelta::from_secs(300), TimeDelta::from_secs(360));
        assert_eq!(v.iter().map(|t| t.id).collect::<Vec<_>>(), ["aws"]);
        assert!(idle_fitting(TimeDelta::from_secs(5), TimeDelta::from_secs(8)).is_empty());
    }
}
