//! `request-loss`: an HTTP request lost three times on its way. The
//! firewall drops the client's third to fifth packets of the connection
//! (its request's first three copies: conntrack counts the SYN and the
//! handshake's ACK first), so the client's kernel resends the request on
//! its retransmission timer until the fourth copy passes; the server
//! answers at once. The user waits about 1.5 s, all of it network.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{http_answer, in_ns, read_until, Fault, Listen, Measured, Server};
use crate::error::{io_err, LabError};
use crate::topology::{Nodes, SERVER};

pub(crate) struct RequestLoss;

impl Fault for RequestLoss {
    fn name(&self) -> &'static str {
        "request-loss"
    }

    fn firewall(&self) -> String {
        "table inet stalltrace_fault {
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname \"eth2\" tcp dport 80 ct original packets 3-5 drop
  }
}
"
        .into()
    }

    fn prepare(&self, n: &Nodes) -> Result<(), LabError> {
        // Conntrack counts packets per direction only when asked.
        let fw = n.fw.as_ref().expect("a firewall");
        fw.sysctl("net.netfilter.nf_conntrack_acct", "1")
    }

    fn exercise(&self, n: &Nodes, _out: &std::path::Path) -> Result<Measured, LabError> {
        let addr: SocketAddr = format!("{SERVER}:80").parse().expect("address");
        let _server = Server::start(&n.server, Listen::on(addr), |s| http_answer(s, b"ok\n"))?;
        in_ns(&n.client, move || {
            let mut s = std::net::TcpStream::connect(addr).map_err(io_err("connect"))?;
            s.set_read_timeout(Some(Duration::from_secs(20)))
                .map_err(io_err("timeout"))?;
            let t = Instant::now();
            s.write_all(b"GET /lost HTTP/1.0\r\nHost: lab\r\n\r\n")
                .map_err(io_err("request"))?;
            let got = read_until(&mut s, b"ok\n").map_err(io_err("answer"))?;
            let delay = t.elapsed();
            Ok(Measured {
                delay,
                note: format!(
                    "answer ({} bytes) {:.3} s after the request was written",
                    got.len(),
                    delay.as_secs_f64()
                ),
            })
        })
    }
}
