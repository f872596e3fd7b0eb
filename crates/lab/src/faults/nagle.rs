//! `nagle`: a client that writes each request in two pieces, a header and
//! a body, with Nagle's algorithm on (the default). Once the server's
//! kernel has left its quick-ACK start, it delays the ACK of the header
//! (Linux: at least 40 ms) because its application answers only the whole
//! request; Nagle holds the body until that ACK. Every request then costs
//! the delayed-ACK timer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{in_ns, Fault, Listen, Measured, Server};
use crate::error::{io_err, LabError};
use crate::topology::{Nodes, SERVER};

pub(crate) struct Nagle;

const REQUESTS: u32 = 40;
const BODY: &[u8] = b"0123456789abcdef";

/// Reads `PUT <n>` lines and `n` bytes after each, and answers `OK`.
fn serve(s: TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let n: usize = line
            .trim()
            .strip_prefix("PUT ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; n];
        r.read_exact(&mut body)?;
        w.write_all(b"OK\r\n")?;
    }
}

impl Fault for Nagle {
    fn name(&self) -> &'static str {
        "nagle"
    }

    fn exercise(&self, n: &Nodes, _out: &std::path::Path) -> Result<Measured, LabError> {
        let addr: SocketAddr = format!("{SERVER}:6379").parse().expect("address");
        let _server = Server::start(&n.server, Listen::on(addr), serve)?;
        in_ns(&n.client, move || {
            let mut s = TcpStream::connect(addr).map_err(io_err("connect"))?;
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(io_err("timeout"))?;
            let mut r = BufReader::new(s.try_clone().map_err(io_err("clone"))?);
            let mut reply = String::new();
            let t = Instant::now();
            for _ in 0..REQUESTS {
                // Two writes: the header, then the body.
                s.write_all(format!("PUT {}\r\n", BODY.len()).as_bytes())
                    .map_err(io_err("header"))?;
                s.write_all(BODY).map_err(io_err("body"))?;
                reply.clear();
                r.read_line(&mut reply).map_err(io_err("reply"))?;
            }
            let delay = t.elapsed();
            Ok(Measured {
                delay,
                note: format!(
                    "{REQUESTS} requests in {:.3} s, {:.1} ms each",
                    delay.as_secs_f64(),
                    delay.as_secs_f64() * 1000.0 / f64::from(REQUESTS)
                ),
            })
        })
    }
}
