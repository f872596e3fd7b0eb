//! `zero-window`: a client that stops reading. It asks for 4 MB with a
//! 16 KB receive buffer, reads the first bytes, then does not read for
//! 3 s: its window shuts, the server's kernel probes it with zero-window
//! probes that back off, and sends again once the client reads. The 3 s
//! are the client application's, not the network's.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{http_answer, in_ns, Fault, Listen, Measured, Server};
use crate::error::{io_err, LabError};
use crate::topology::{Nodes, SERVER};

pub(crate) struct ZeroWindow;

/// How long the client does not read.
const PAUSE: Duration = Duration::from_secs(3);
const BODY: usize = 4 << 20;

impl Fault for ZeroWindow {
    fn name(&self) -> &'static str {
        "zero-window"
    }

    fn exercise(&self, n: &Nodes, _out: &std::path::Path) -> Result<Measured, LabError> {
        let addr: SocketAddr = format!("{SERVER}:80").parse().expect("address");
        let body = vec![b'z'; BODY];
        let _server = Server::start(&n.server, Listen::on(addr), move |s| http_answer(s, &body))?;
        in_ns(&n.client, move || {
            let sock = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )
            .map_err(io_err("socket"))?;
            // Before connect, so the window it announces is small too.
            sock.set_recv_buffer_size(16 << 10)
                .map_err(io_err("SO_RCVBUF"))?;
            sock.connect(&addr.into()).map_err(io_err("connect"))?;
            let mut s: std::net::TcpStream = sock.into();
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .map_err(io_err("timeout"))?;
            let t = Instant::now();
            s.write_all(b"GET /big HTTP/1.0\r\n\r\n")
                .map_err(io_err("request"))?;
            let mut first = [0u8; 64];
            s.read_exact(&mut first).map_err(io_err("first bytes"))?;
            std::thread::sleep(PAUSE);
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).map_err(io_err("body"))?;
            Ok(Measured {
                delay: PAUSE,
                note: format!(
                    "read {} bytes in {:.3} s, after not reading for {:.1} s",
                    rest.len() + first.len(),
                    t.elapsed().as_secs_f64(),
                    PAUSE.as_secs_f64()
                ),
            })
        })
    }
}
