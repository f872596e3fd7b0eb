//! `env1-xinetd`: the seed's environment 1 with the seed's programs:
//! xinetd starts popa3d for each POP3 client and, told to log `USERID`,
//! first asks the client's identd (RFC 1413) on tcp/113 of the address it
//! sees, the firewall's NAT address; the firewall drops that silently.
//! xinetd gives up after its own ident timeout, then popa3d greets. The
//! client reads the greeting and quits (the lab has no mailbox user, and
//! popa3d pauses after a failed password by design).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{in_ns, Fault, Measured};
use crate::error::{io_err, LabError};
use crate::programs;
use crate::topology::{Nodes, SERVER};

pub(crate) struct Env1Xinetd;

impl Fault for Env1Xinetd {
    fn name(&self) -> &'static str {
        "env1-xinetd"
    }

    fn firewall(&self) -> String {
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

/// Connects, reads the greeting, says QUIT: the wait and the greeting.
pub(super) fn greeted(addr: SocketAddr) -> Result<(Duration, String), LabError> {
    let t = Instant::now();
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(io_err(format!("connecting to {addr}")))?;
    s.set_read_timeout(Some(Duration::from_secs(90)))
        .map_err(io_err("timeout"))?;
    let mut w = s.try_clone().map_err(io_err("socket"))?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)
        .map_err(io_err("reading the greeting"))?;
    let waited = t.elapsed();
    if !line.starts_with("+OK") {
        return Err(LabError::Command {
            command: "POP3 client".into(),
            detail: format!("greeting: {:?}", line.trim()),
        });
    }
    w.write_all(b"QUIT\r\n").map_err(io_err("QUIT"))?;
    let mut bye = String::new();
    let _ = r.read_line(&mut bye);
    Ok((waited, line.trim().to_string()))
}
