//! `pmtu-black-hole`: the firewall's inside link has an MTU of 1280, and
//! the firewall drops the ICMP "fragmentation needed" it sends the server
//! about it (a filter that drops all ICMP). The handshake and the request
//! pass; the server's full-size answer (1448 bytes a segment, DF set)
//! never does, and the server's kernel resends it as its timer backs off
//! while the client waits for an answer that never comes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{http_answer, in_ns, Fault, Listen, Measured, Server};
use crate::error::{io_err, LabError};
use crate::topology::{Nodes, SERVER};

pub(crate) struct Pmtu;

/// How long the client waits for the answer.
const PATIENCE: Duration = Duration::from_secs(5);

impl Fault for Pmtu {
    fn name(&self) -> &'static str {
        "pmtu-black-hole"
    }

    fn firewall(&self) -> String {
        "table inet stalltrace_fault {
  chain output {
    type filter hook output priority filter; policy accept;
    icmp type destination-unreachable icmp code frag-needed drop
  }
}
"
        .into()
    }

    fn prepare(&self, n: &Nodes) -> Result<(), LabError> {
        let fw = n.fw.as_ref().expect("a firewall");
        fw.ip(&["link", "set", "dev", "eth2", "mtu", "1280"])
            .map(|_| ())
    }

    fn exercise(&self, n: &Nodes, _out: &std::path::Path) -> Result<Measured, LabError> {
        let addr: SocketAddr = format!("{SERVER}:80").parse().expect("address");
        let body = vec![b'p'; 64 << 10];
        let _server = Server::start(&n.server, Listen::on(addr), move |s| http_answer(s, &body))?;
        in_ns(&n.client, move || {
            let mut s = TcpStream::connect(addr).map_err(io_err("connect"))?;
            s.set_read_timeout(Some(PATIENCE))
                .map_err(io_err("timeout"))?;
            let t = Instant::now();
            s.write_all(b"GET /big HTTP/1.0\r\n\r\n")
                .map_err(io_err("request"))?;
            let mut got = 0usize;
            let mut b = [0u8; 4096];
            loop {
                match s.read(&mut b) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(_) => break,
                }
            }
            let delay = t.elapsed();
            Ok(Measured {
                delay,
                note: format!(
                    "{got} bytes of the answer in {:.3} s, then gave up",
                    delay.as_secs_f64()
                ),
            })
        })
    }
}
