//! `idle-timeout`: a firewall whose conntrack forgets an established
//! connection after 4 s idle (nf_conntrack_tcp_timeout_established), that
//! takes no connection up mid-stream (nf_conntrack_tcp_loose 0) and
//! answers a packet it has no state for with a RST in the addressee's
//! name (`ct state invalid reject with tcp reset`). An interactive session
//! survives 2 s of silence, not 7: the client's next line is reset by the
//! firewall, not by the server.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{in_ns, Fault, Listen, Measured, Server};
use crate::error::{io_err, LabError};
use crate::topology::{Nodes, SERVER};

pub(crate) struct IdleTimeout;

/// The firewall's idle timeout, and the two silences.
const TIMEOUT_SECS: u32 = 4;
const SURVIVED: Duration = Duration::from_secs(2);
const BROKE: Duration = Duration::from_secs(7);

/// A banner, then each line echoed.
fn serve(s: TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut w = s.try_clone()?;
    w.write_all(b"SSH-2.0-stalltrace_lab\r\n")?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        w.write_all(line.as_bytes())?;
    }
}

impl Fault for IdleTimeout {
    fn name(&self) -> &'static str {
        "idle-timeout"
    }

    fn firewall(&self) -> String {
        "table inet stalltrace_fault {
  chain forward {
    type filter hook forward priority filter; policy accept;
    meta l4proto tcp ct state invalid reject with tcp reset
  }
}
"
        .into()
    }

    fn prepare(&self, n: &Nodes) -> Result<(), LabError> {
        let fw = n.fw.as_ref().expect("a firewall");
        fw.sysctl(
            "net.netfilter.nf_conntrack_tcp_timeout_established",
            &TIMEOUT_SECS.to_string(),
        )?;
        fw.sysctl("net.netfilter.nf_conntrack_tcp_loose", "0")
    }

    fn exercise(&self, n: &Nodes, _out: &std::path::Path) -> Result<Measured, LabError> {
        let addr: SocketAddr = format!("{SERVER}:22").parse().expect("address");
        let _server = Server::start(&n.server, Listen::on(addr), serve)?;
        in_ns(&n.client, move || {
            let s = TcpStream::connect(addr).map_err(io_err("connect"))?;
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(io_err("timeout"))?;
            let mut w = s.try_clone().map_err(io_err("clone"))?;
            let mut r = BufReader::new(s);
            let mut line = String::new();
            r.read_line(&mut line).map_err(io_err("banner"))?;
            let mut say = |text: &str| -> std::io::Result<usize> {
                w.write_all(text.as_bytes())?;
                line.clear();
                r.read_line(&mut line)
            };
            say("one\n").map_err(io_err("first line"))?;
            std::thread::sleep(SURVIVED);
            say("two\n").map_err(io_err("after 2 s"))?;
            std::thread::sleep(BROKE);
            let t = Instant::now();
            let end = match say("three\n") {
                Ok(0) => "closed".to_string(),
                Ok(_) => "answered".to_string(),
                Err(e) => e.to_string(),
            };
            Ok(Measured {
                delay: BROKE,
                note: format!(
                    "answered after {:.0} s idle; after {:.0} s idle: {end} in {:.3} s",
                    SURVIVED.as_secs_f64(),
                    BROKE.as_secs_f64(),
                    t.elapsed().as_secs_f64()
                ),
            })
        })
    }
}
