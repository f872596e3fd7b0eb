//! Network faults rebuilt on the real kernel: one file per fault, one
//! line in [`FAULTS`]. A fault says what the firewall does beyond NAT
//! (nftables rules), what it sets (sysctls, an MTU), and runs the
//! applications that meet it: a server in the server's namespace and a
//! client in the client's, programs of a few lines each, with the socket
//! options the fault needs (a small receive buffer, a short listen
//! backlog, two writes per message). There is no `sch_netem` here: loss
//! is nftables dropping chosen packets by conntrack's count, a black hole
//! is an MTU and a dropped ICMP, an idle timeout is conntrack's own.
//!
//! Some faults meet the field's real daemons instead (`sendmail`,
//! `ssh_usedns`, `dns_race`, `xinetd`, `oidentd`): the programs are Debian's, started
//! through [`crate::programs`].
//!
//! The client measures what its user waited; the captures of the run are
//! what `stalltrace analyze` must explain.

mod backlog;
mod dns_race;
mod idle;
mod ipv6_fallback;
mod nagle;
mod oidentd;
mod pmtu;
mod refused;
mod request_loss;
mod sendmail;
mod ssh_usedns;
mod xinetd;
mod zero_window;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{io_err, LabError};
use crate::netns::Netns;
use crate::topology::Nodes;

/// A fault the lab can rebuild.
pub(crate) trait Fault: Sync {
    /// The name scenario files give as `fault`.
    fn name(&self) -> &'static str;

    /// Rules for the firewall beyond NAT (whole nftables tables).
    fn firewall(&self) -> String {
        String::new()
    }

    /// IPv6 routed beside IPv4.
    fn ipv6(&self) -> bool {
        false
    }

    /// Settings once the namespaces exist (sysctls, MTUs).
    fn prepare(&self, _n: &Nodes) -> Result<(), LabError> {
        Ok(())
    }

    /// Runs the server and the client; returns what the client measured.
    /// `out`: the run's folder (programs keep their configuration there).
    fn exercise(&self, n: &Nodes, out: &std::path::Path) -> Result<Measured, LabError>;
}

/// Every fault, by name.
pub(crate) static FAULTS: &[&dyn Fault] = &[
    &request_loss::RequestLoss,
    &zero_window::ZeroWindow,
    &nagle::Nagle,
    &pmtu::Pmtu,
    &backlog::Backlog,
    &idle::IdleTimeout,
    &ipv6_fallback::Ipv6Fallback,
    &refused::Refused,
    &sendmail::SendmailIdent,
    &sendmail::SmtpPtr,
    &ssh_usedns::SshUseDns,
    &dns_race::DnsRace,
    &xinetd::Env1Xinetd,
    &oidentd::NatOidentd,
];

pub(crate) fn by_name(name: &str) -> Option<&'static dyn Fault> {
    FAULTS.iter().copied().find(|f| f.name() == name)
}

/// What the client measured.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The wait the fault cost the user.
    pub delay: Duration,
    /// What happened, in the client's words.
    pub note: String,
}

/// A server on a thread in a namespace, serving each connection on a
/// thread of its own until stopped (or dropped).
pub(crate) struct Server {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<(), LabError>>>,
}

/// How a server listens and accepts.
pub(crate) struct Listen {
    pub addr: SocketAddr,
    /// listen()'s backlog.
    pub backlog: i32,
    /// Sleep this long before each accept (a slow accept loop).
    pub accept_every: Option<Duration>,
}

impl Listen {
    pub fn on(addr: SocketAddr) -> Listen {
        Listen {
            addr,
            backlog: 128,
            accept_every: None,
        }
    }
}

fn listener(l: &Listen) -> std::io::Result<TcpListener> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(l.addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    s.set_reuse_address(true)?;
    if l.addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&l.addr.into())?;
    s.listen(l.backlog)?;
    Ok(s.into())
}

impl Server {
    pub fn start(
        ns: &Netns,
        l: Listen,
        serve: impl Fn(TcpStream) -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Result<Server, LabError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let s = stop.clone();
        let serve = Arc::new(serve);
        let handle = ns.spawn(move || {
            let listener = match listener(&l) {
                Ok(x) => x,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("listen on {}: {e}", l.addr)));
                    return Ok(());
                }
            };
            listener.set_nonblocking(true).map_err(io_err("listener"))?;
            let _ = ready_tx.send(Ok(()));
            while !s.load(Ordering::SeqCst) {
                if let Some(d) = l.accept_every {
                    sleep_unless(&s, d);
                }
                loop {
                    match listener.accept() {
                        Ok((c, _)) => {
                            let serve = serve.clone();
                            let _ = c.set_nonblocking(false);
                            std::thread::spawn(move || serve(c));
                            if l.accept_every.is_some() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                            if l.accept_every.is_some() || s.load(Ordering::SeqCst) {
                                break;
                            }
                        }
                        Err(e) => return Err(io_err("accept")(e)),
                    }
                }
            }
            Ok(())
        });
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(Server {
                stop,
                handle: Some(handle),
            }),
            Ok(Err(detail)) => Err(LabError::Command {
                command: "lab server".into(),
                detail,
            }),
            Err(_) => Err(LabError::Command {
                command: "lab server".into(),
                detail: "did not start".into(),
            }),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Sleeps `d`, waking early when `stop` is set.
fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let end = std::time::Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let now = std::time::Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}

/// Runs `f` in `ns` and waits for it.
pub(crate) fn in_ns<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> Result<T, LabError> + Send + 'static,
) -> Result<T, LabError> {
    ns.spawn(f).join().map_err(|_| LabError::Command {
        command: "lab client".into(),
        detail: "panicked".into(),
    })?
}

/// Reads until `end` has been read (inclusive), or the peer closes.
pub(crate) fn read_until(s: &mut impl Read, end: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    while !got.ends_with(end) {
        let n = s.read(&mut b)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&b[..n]);
    }
    Ok(got)
}

/// A one-request HTTP server: reads the request's head, answers with
/// `body`, and closes.
pub(crate) fn http_answer(mut s: TcpStream, body: &[u8]) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    read_until(&mut s, b"\r\n\r\n")?;
    let head = format!(
        "HTTP/1.0 200 OK\r\nServer: stalltrace-lab\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    s.flush()
}
