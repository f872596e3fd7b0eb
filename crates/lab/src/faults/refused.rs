//! `refused`: one server, five ports, four fates. Port 80 answers; the
//! firewall rejects 81 with a RST in the server's name and 84 with an ICMP
//! "administratively prohibited", drops 83 silently; nothing listens on
//! 82, so the server's own kernel refuses it. The client tries each with a
//! 3 s connect timeout: the refusals cost a round trip, the drop the
//! whole timeout.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{http_answer, in_ns, read_until, Fault, Listen, Measured, Server};
use crate::actors::blocking_connect;
use crate::error::{io_err, LabError};
use crate::topology::{Nodes, SERVER};

pub(crate) struct Refused;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

impl Fault for Refused {
    fn name(&self) -> &'static str {
        "refused"
    }

    fn firewall(&self) -> String {
        format!(
            "table inet stalltrace_fault {{
  chain forward {{
    type filter hook forward priority filter; policy accept;
    ip daddr {SERVER} tcp dport 81 reject with tcp reset
    ip daddr {SERVER} tcp dport 83 drop
    ip daddr {SERVER} tcp dport 84 reject with icmp type admin-prohibited
  }}
}}
"
        )
    }

    fn exercise(&self, n: &Nodes, _out: &std::path::Path) -> Result<Measured, LabError> {
        let open: SocketAddr = format!("{SERVER}:80").parse().expect("address");
        let _server = Server::start(&n.server, Listen::on(open), |s| http_answer(s, b"ok\n"))?;
        in_ns(&n.client, move || {
            let mut s = std::net::TcpStream::connect(open).map_err(io_err("connect to 80"))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")
                .map_err(io_err("request"))?;
            read_until(&mut s, b"ok\n").map_err(io_err("answer"))?;
            drop(s);
            let mut notes = Vec::new();
            let mut longest = Duration::ZERO;
            for port in 81..=84u16 {
                let target: SocketAddr = format!("{SERVER}:{port}").parse().expect("address");
                let t = Instant::now();
                let r = blocking_connect(target, CONNECT_TIMEOUT);
                let took = t.elapsed();
                longest = longest.max(took);
                notes.push(format!(
                    "{port}: {} in {:.3} s",
                    match r {
                        Ok(_) => "connected".to_string(),
                        Err(e) => e.kind().to_string(),
                    },
                    took.as_secs_f64()
                ));
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(Measured {
                delay: longest,
                note: notes.join("; "),
            })
        })
    }
}
