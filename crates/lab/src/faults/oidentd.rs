//! `nat-oidentd`: the seed's environment 1 with its open question 4
//! answered: what must run for the ident callback to be answered behind
//! NAT. oidentd on the firewall, with masquerading on (`-m`), finds the
//! translated connection in conntrack's table and answers for the inside
//! client from its masquerade map (`/etc/oidentd_masq.conf`: 192.168.1.200
//! is `alice`). xinetd asks, popa3d greets at once.

use std::net::SocketAddr;

use super::xinetd::greeted;
use super::{in_ns, Fault, Measured};
use crate::error::LabError;
use crate::programs;
use crate::topology::{Nodes, FW_OUTSIDE, INSIDE_CLIENT, SERVER};

pub(crate) struct NatOidentd;

impl Fault for NatOidentd {
    fn name(&self) -> &'static str {
        "nat-oidentd"
    }

    fn exercise(&self, n: &Nodes, out: &std::path::Path) -> Result<Measured, LabError> {
        let fw = n.fw.as_ref().ok_or_else(|| LabError::Command {
            command: "oidentd".into(),
            detail: "the run has no firewall".into(),
        })?;
        let _identd = programs::oidentd(fw, FW_OUTSIDE, &[(INSIDE_CLIENT, "alice")], out)?;
        let _inetd = programs::xinetd_popa3d(&n.server, SERVER, out)?;
        let addr: SocketAddr = format!("{SERVER}:110").parse().expect("address");
        let (waited, greeting) = in_ns(&n.client, move || greeted(addr))?;
        Ok(Measured {
            delay: waited,
            note: format!(
                "popa3d's greeting after {:.3} s: {greeting}",
                waited.as_secs_f64()
            ),
        })
    }
}
