//! `listen-backlog`: a server with a listen backlog of 1 that accepts one
//! connection a second (an accept loop that cannot keep up), and five
//! clients that connect at once. Linux queues two handshakes (backlog + 1)
//! and drops the SYNs of the others while the queue is full; their
//! kernels resend them (1 s, then 1 s more on Linux 6.5+), and each gets
//! in when an accept frees a slot.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{Fault, Listen, Measured, Server};
use crate::error::{io_err, LabError};
use crate::topology::{Nodes, SERVER};

pub(crate) struct Backlog;

const CLIENTS: u64 = 5;

fn serve(s: TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = s.try_clone()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    w.write_all(b"hello\n")
}

impl Fault for Backlog {
    fn name(&self) -> &'static str {
        "listen-backlog"
    }

    fn exercise(&self, n: &Nodes, _out: &std::path::Path) -> Result<Measured, LabError> {
        let addr: SocketAddr = format!("{SERVER}:8080").parse().expect("address");
        let _server = Server::start(
            &n.server,
            Listen {
                addr,
                backlog: 1,
                accept_every: Some(Duration::from_secs(1)),
            },
            serve,
        )?;
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                n.client.spawn(move || {
                    std::thread::sleep(Duration::from_millis(20 * i));
                    let t = Instant::now();
                    let mut s = TcpStream::connect(addr).map_err(io_err("connect"))?;
                    let connected = t.elapsed();
                    s.set_read_timeout(Some(Duration::from_secs(20)))
                        .map_err(io_err("timeout"))?;
                    s.write_all(b"hi\n").map_err(io_err("request"))?;
                    let mut line = String::new();
                    BufReader::new(s)
                        .read_line(&mut line)
                        .map_err(io_err("reply"))?;
                    Ok(connected)
                })
            })
            .collect();
        let mut times = Vec::new();
        for c in clients {
            times.push(c.join().map_err(|_| LabError::Command {
                command: "lab client".into(),
                detail: "panicked".into(),
            })??);
        }
        let slowest = times.iter().max().copied().unwrap_or_default();
        let shown: Vec<String> = times
            .iter()
            .map(|t| format!("{:.3}", t.as_secs_f64()))
            .collect();
        Ok(Measured {
            delay: slowest,
            note: format!("{CLIENTS} clients connected after {} s", shown.join(", ")),
        })
    }
}
