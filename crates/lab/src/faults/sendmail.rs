//! Debian's sendmail behind the NAT firewall, as installed: before its
//! banner it asks the client's ident (RFC 1413, `Timeout.ident` 5 s) and
//! the client's name (a PTR lookup of the NAT address through glibc's
//! resolver), then pauses a second (`greet_pause`, Debian's
//! `FEATURE(greet_pause, 1000)`).
//!
//! * `sendmail-ident`: the firewall drops the ident callback silently, the
//!   name server answers: 5 s of ident, 1 s of pause.
//! * `smtp-ptr`: the firewall refuses the ident callback at once (its
//!   kernel's RST), but drops every query to the name server: the PTR
//!   lookup waits glibc's `timeout:5 attempts:2`, then the pause.
//!
//! The client is the lab's SMTP client (banner, EHLO, QUIT).

use std::net::SocketAddr;
use std::time::Duration;

use super::{in_ns, Fault, Measured};
use crate::actors::{client, Protocol};
use crate::error::LabError;
use crate::programs::{self, RESOLVER};
use crate::topology::{Nodes, SERVER};

pub(crate) struct SendmailIdent;
pub(crate) struct SmtpPtr;

fn login(n: &Nodes, out: &std::path::Path) -> Result<Measured, LabError> {
    let _dns = programs::name_server(n, out)?;
    let _mta = programs::sendmail(&n.server, SERVER, out)?;
    let addr: SocketAddr = format!("{SERVER}:25").parse().expect("address");
    let t = in_ns(&n.client, move || {
        client(Protocol::Smtp, addr, Duration::from_secs(60))
    })?;
    Ok(Measured {
        delay: t.to_greeting,
        note: format!(
            "sendmail's banner after {:.3} s, EHLO answered after {:.3} s",
            t.to_greeting.as_secs_f64(),
            t.to_login.as_secs_f64()
        ),
    })
}

impl Fault for SendmailIdent {
    fn name(&self) -> &'static str {
        "sendmail-ident"
    }

    fn firewall(&self) -> String {
        // The callback is addressed to the firewall itself (the NAT
        // address): its input chain drops it, as the seed's firewall did.
        "table inet stalltrace_fault {
  chain input {
    type filter hook input priority filter; policy accept;
    tcp dport 113 drop
  }
}
"
        .into()
    }

    fn exercise(&self, n: &Nodes, out: &std::path::Path) -> Result<Measured, LabError> {
        login(n, out)
    }
}

impl Fault for SmtpPtr {
    fn name(&self) -> &'static str {
        "smtp-ptr"
    }

    fn firewall(&self) -> String {
        format!(
            "table inet stalltrace_fault {{
  chain input {{
    type filter hook input priority filter; policy accept;
    ip saddr {SERVER} ip daddr {RESOLVER} udp dport 53 drop
    ip saddr {SERVER} ip daddr {RESOLVER} tcp dport 53 drop
  }}
}}
"
        )
    }

    fn exercise(&self, n: &Nodes, out: &std::path::Path) -> Result<Measured, LabError> {
        login(n, out)
    }
}
