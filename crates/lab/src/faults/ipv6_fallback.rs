//! `ipv6-fallback`: the firewall drops IPv6 to the server's web port (a
//! filter nobody updated for IPv6), and a client without Happy Eyeballs
//! tries the server's IPv6 address first with a 2 s connect timeout, then
//! IPv4. Every connection waits the timeout.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{http_answer, in_ns, read_until, Fault, Listen, Measured, Server};
use crate::actors::blocking_connect;
use crate::error::{io_err, LabError};
use crate::topology::{Nodes, SERVER, SERVER6};

pub(crate) struct Ipv6Fallback;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl Fault for Ipv6Fallback {
    fn name(&self) -> &'static str {
        "ipv6-fallback"
    }

    fn ipv6(&self) -> bool {
        true
    }

    fn firewall(&self) -> String {
        "table ip6 stalltrace_fault {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ip6 daddr 2001:db8:2::/64 tcp dport 80 drop
  }
}
"
        .into()
    }

    fn exercise(&self, n: &Nodes, _out: &std::path::Path) -> Result<Measured, LabError> {
        let v4: SocketAddr = format!("{SERVER}:80").parse().expect("address");
        let v6: SocketAddr = format!("[{SERVER6}]:80").parse().expect("address");
        let _s4 = Server::start(&n.server, Listen::on(v4), |s| http_answer(s, b"ok\n"))?;
        let _s6 = Server::start(&n.server, Listen::on(v6), |s| http_answer(s, b"ok\n"))?;
        in_ns(&n.client, move || {
            let t = Instant::now();
            let (mut s, how) = match blocking_connect(v6, CONNECT_TIMEOUT) {
                Ok(s) => (s, "IPv6"),
                Err(_) => (
                    std::net::TcpStream::connect(v4).map_err(io_err("connect over IPv4"))?,
                    "IPv4",
                ),
            };
            let connected = t.elapsed();
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(io_err("timeout"))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")
                .map_err(io_err("request"))?;
            read_until(&mut s, b"ok\n").map_err(io_err("answer"))?;
            Ok(Measured {
                delay: connected,
                note: format!(
                    "connected over {how} after {:.3} s",
                    connected.as_secs_f64()
                ),
            })
        })
    }
}
