//! `ssh-usedns`: OpenSSH's sshd with `UseDNS yes` (and a `Match Host`
//! block, which makes it resolve every client), its name server silent
//! behind the firewall. The real `ssh` client logs in with a key and runs
//! `true`: glibc's resolver waits `timeout:5 attempts:2` for the PTR query
//! of the client's NAT address before sshd accepts the key.

use std::time::{Duration, Instant};

use super::{Fault, Measured};
use crate::error::LabError;
use crate::programs::{self, RESOLVER, SSH};
use crate::topology::{Nodes, SERVER};

pub(crate) struct SshUseDns;

impl Fault for SshUseDns {
    fn name(&self) -> &'static str {
        "ssh-usedns"
    }

    fn firewall(&self) -> String {
        format!(
            "table inet stalltrace_fault {{
  chain input {{
    type filter hook input priority filter; policy accept;
    ip saddr {SERVER} ip daddr {RESOLVER} udp dport 53 drop
  }}
}}
"
        )
    }

    fn exercise(&self, n: &Nodes, out: &std::path::Path) -> Result<Measured, LabError> {
        programs::check(&[&SSH])?;
        let _dns = programs::name_server(n, out)?;
        let _sshd = programs::sshd(&n.server, SERVER, out)?;
        let target = format!("root@{SERVER}");
        let key = programs::dir(out)?.join("id_ed25519").display().to_string();
        let t = Instant::now();
        let (code, said) = n.client.run_program(
            SSH.program,
            &[
                "-F",
                "/dev/null",
                "-i",
                &key,
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=60",
                "-o",
                "LogLevel=ERROR",
                &target,
                "true",
            ],
            Duration::from_secs(90),
        )?;
        let took = t.elapsed();
        let said = said.lines().last().unwrap_or("").trim().to_string();
        Ok(Measured {
            delay: took,
            note: format!(
                "ssh root@{SERVER} true ended after {:.3} s (exit {}){}{said}",
                took.as_secs_f64(),
                code.map_or("killed".into(), |c| c.to_string()),
                if said.is_empty() { "" } else { ": " }
            ),
        })
    }
}
