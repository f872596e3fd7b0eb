//! `dns-aaaa-race`: glibc's resolver sends the A and the AAAA query of one
//! name from one socket at once; the second packet of that UDP flow is
//! lost at the firewall, as conntrack's insert race loses it on a busy
//! Kubernetes node (two packets of a new flow racing to create the same
//! entry, the loser dropped). Here nftables drops the flow's second packet
//! by conntrack's own packet count, so the loss is the race's, exactly:
//! the A answer comes back at once, the AAAA is resent after glibc's 5 s.
//! The client is the real `getent ahosts`.

use std::time::{Duration, Instant};

use super::{Fault, Measured};
use crate::error::LabError;
use crate::programs::{self, GETENT, RESOLVER};
use crate::topology::Nodes;

pub(crate) struct DnsRace;

impl Fault for DnsRace {
    fn name(&self) -> &'static str {
        "dns-aaaa-race"
    }

    fn firewall(&self) -> String {
        format!(
            "table inet stalltrace_fault {{
  chain input {{
    type filter hook input priority filter; policy accept;
    ip daddr {RESOLVER} udp dport 53 ct original packets 2 drop
  }}
}}
"
        )
    }

    /// getaddrinfo asks for AAAA only where the host has an IPv6 address
    /// (`AI_ADDRCONFIG`), as every dual-stack node has.
    fn ipv6(&self) -> bool {
        true
    }

    fn prepare(&self, n: &Nodes) -> Result<(), LabError> {
        // conntrack counts packets only with accounting on.
        if let Some(fw) = &n.fw {
            fw.sysctl("net.netfilter.nf_conntrack_acct", "1")?;
        }
        Ok(())
    }

    fn exercise(&self, n: &Nodes, out: &std::path::Path) -> Result<Measured, LabError> {
        programs::check(&[&GETENT])?;
        let _dns = programs::name_server(n, out)?;
        let t = Instant::now();
        let (code, said) = n.client.run_program(
            GETENT.program,
            &["ahosts", "www.example.org"],
            Duration::from_secs(60),
        )?;
        let took = t.elapsed();
        let first = said.lines().next().unwrap_or("").trim().to_string();
        Ok(Measured {
            delay: took,
            note: format!(
                "getent ahosts www.example.org took {:.3} s (exit {}): {first}",
                took.as_secs_f64(),
                code.map_or("killed".into(), |c| c.to_string())
            ),
        })
    }
}
