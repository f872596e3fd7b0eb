//! The programs of the seed's set-up, in Rust: a server that makes an
//! RFC 1413 ident lookup before it greets (as xinetd's USERID does for
//! POP3, as sendmail does for SMTP, which may also pause before its banner
//! with `greet_pause`), an ident server, and a client that times its
//! login.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{io_err, LabError};

/// What the server's ident lookup came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentOutcome {
    /// Lookups are turned off.
    Off,
    /// No answer within the timeout.
    TimedOut(Duration),
    /// The connection was refused (a RST, or ICMP port unreachable).
    Refused(Duration),
    /// Another error (host unreachable, ...).
    Failed(Duration, String),
    /// `USERID` answer.
    User(Duration, String),
    /// An `ERROR` answer or a malformed one.
    Error(Duration, String),
}

impl std::fmt::Display for IdentOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentOutcome::Off => write!(f, "off"),
            IdentOutcome::TimedOut(d) => write!(f, "timed out after {:.3} s", d.as_secs_f64()),
            IdentOutcome::Refused(d) => write!(f, "refused after {:.3} s", d.as_secs_f64()),
            IdentOutcome::Failed(d, e) => write!(f, "failed after {:.3} s: {e}", d.as_secs_f64()),
            IdentOutcome::User(d, u) => write!(f, "user '{u}' after {:.3} s", d.as_secs_f64()),
            IdentOutcome::Error(d, e) => {
                write!(f, "error reply '{e}' after {:.3} s", d.as_secs_f64())
            }
        }
    }
}

/// What the server saw of one client.
#[derive(Clone, Debug)]
pub struct ServedClient {
    /// The client as the server sees it (after NAT).
    pub peer: SocketAddr,
    pub ident: IdentOutcome,
}

/// The protocol the lab's server speaks.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// POP3 on tcp/110, as the seed's xinetd-run daemon.
    Pop3,
    /// SMTP on tcp/25, with sendmail's banner.
    Smtp,
}

impl Protocol {
    pub fn port(self) -> u16 {
        match self {
            Protocol::Pop3 => 110,
            Protocol::Smtp => 25,
        }
    }
}

/// How the server behaves before it greets.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub protocol: Protocol,
    /// Zero: no ident lookup.
    pub ident_timeout: Duration,
    /// A deliberate pause before the greeting (sendmail's greet_pause).
    pub greet_pause: Duration,
}

/// Serves until `stop`: per connection an ident lookup to the peer
/// (skipped when the timeout is zero), the greeting pause, then the
/// greeting and the protocol's dialogue.
pub fn server(
    listener: TcpListener,
    cfg: ServerConfig,
    stop: Arc<AtomicBool>,
    served: Arc<Mutex<Vec<ServedClient>>>,
) -> Result<(), LabError> {
    let ident_timeout = cfg.ident_timeout;
    listener.set_nonblocking(true).map_err(io_err("listener"))?;
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((s, peer)) => {
                s.set_nonblocking(false)
                    .map_err(io_err("accepted socket"))?;
                let local = s.local_addr().map_err(io_err("local address"))?;
                let ident = if ident_timeout.is_zero() {
                    IdentOutcome::Off
                } else {
                    ident_lookup(peer, local, ident_timeout)
                };
                served
                    .lock()
                    .expect("log")
                    .push(ServedClient { peer, ident });
                std::thread::sleep(cfg.greet_pause);
                let _ = match cfg.protocol {
                    Protocol::Pop3 => pop3_session(s),
                    Protocol::Smtp => smtp_session(s),
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => {
                return Err(LabError::Io {
                    what: "accept".into(),
                    source: e,
                })
            }
        }
    }
    Ok(())
}

/// RFC 1413: connect to the peer's port 113, ask "<its port>, <our port>".
fn ident_lookup(peer: SocketAddr, local: SocketAddr, timeout: Duration) -> IdentOutcome {
    let t0 = Instant::now();
    let target = SocketAddr::new(peer.ip(), 113);
    let mut q = match blocking_connect(target, timeout) {
        Ok(q) => q,
        Err(e) => {
            let d = t0.elapsed();
            return match e.kind() {
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                    IdentOutcome::TimedOut(d)
                }
                std::io::ErrorKind::ConnectionRefused => IdentOutcome::Refused(d),
                _ => IdentOutcome::Failed(d, e.to_string()),
            };
        }
    };
    let left = timeout
        .saturating_sub(t0.elapsed())
        .max(Duration::from_millis(1));
    let _ = q.set_read_timeout(Some(left));
    if write!(q, "{} , {}\r\n", peer.port(), local.port()).is_err() {
        return IdentOutcome::Failed(t0.elapsed(), "query not sent".into());
    }
    let mut line = String::new();
    match BufReader::new(q).read_line(&mut line) {
        Ok(_) => {
            let d = t0.elapsed();
            let parts: Vec<&str> = line.trim().split(':').map(str::trim).collect();
            match parts.as_slice() {
                [_, "USERID", _, user] => IdentOutcome::User(d, user.to_string()),
                _ => IdentOutcome::Error(d, line.trim().to_string()),
            }
        }
        Err(_) => IdentOutcome::TimedOut(t0.elapsed()),
    }
}

/// A blocking connect ended by a precise timer, as xinetd and sendmail end
/// theirs with alarm(). Blocking matters: unlike a non-blocking connect and
/// poll, it sleeps until the socket changes state, so an ICMP error that
/// Linux sets aside as a soft error (it came while connect() held the
/// socket) does not end it; the SYN is retried and the next ICMP does.
/// The timer is a thread that shuts the socket down, which wakes connect()
/// at once; SO_SNDTIMEO would do too, but the kernel's timer wheel rounds a
/// 30 s timeout up by as much as 2 s.
pub(crate) fn blocking_connect(
    target: SocketAddr,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(target),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    let watcher_socket = s.try_clone()?;
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let fired = Arc::new(AtomicBool::new(false));
    let f = fired.clone();
    let watcher = std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(timeout) {
            f.store(true, Ordering::SeqCst);
            let _ = watcher_socket.shutdown(std::net::Shutdown::Both);
        }
    });
    let result = s.connect(&target.into());
    let _ = done_tx.send(());
    let _ = watcher.join();
    match result {
        Err(_) if fired.load(Ordering::SeqCst) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "ident timeout",
        )),
        Err(e) => Err(e),
        Ok(()) => Ok(s.into()),
    }
}

/// A line-based session: the greeting, then per command the reply, until
/// QUIT (whose reply ends it) or the client leaves.
fn session(
    s: TcpStream,
    greeting: &[u8],
    reply: fn(&str) -> (&'static [u8], bool),
) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = s.try_clone()?;
    w.write_all(greeting)?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let (answer, last) = reply(&cmd);
        w.write_all(answer)?;
        if last {
            return Ok(());
        }
    }
}

fn pop3_session(s: TcpStream) -> std::io::Result<()> {
    session(
        s,
        b"+OK stalltrace lab POP3 server ready\r\n",
        |cmd| match cmd {
            "USER" => (b"+OK\r\n", false),
            "PASS" => (b"+OK logged in\r\n", false),
            "STAT" => (b"+OK 0 0\r\n", false),
            "QUIT" => (b"+OK bye\r\n", true),
            _ => (b"-ERR unknown command\r\n", false),
        },
    )
}

/// sendmail's banner, as 8.17 prints it.
pub const SMTP_BANNER: &str =
    "220 mail.example.org ESMTP Sendmail 8.17.1.9/8.17.1.9; Wed, 2 Dec 2026 10:00:00 GMT\r\n";

fn smtp_session(s: TcpStream) -> std::io::Result<()> {
    session(s, SMTP_BANNER.as_bytes(), |cmd| match cmd {
        "EHLO" | "HELO" => (
            b"250 mail.example.org Hello, pleased to meet you\r\n",
            false,
        ),
        "QUIT" => (b"221 2.0.0 mail.example.org closing connection\r\n", true),
        _ => (b"500 5.5.1 Command unrecognized\r\n", false),
    })
}

/// Answers every RFC 1413 query with `USERID : UNIX : <user>`.
pub fn identd(listener: TcpListener, user: String, stop: Arc<AtomicBool>) -> Result<(), LabError> {
    listener
        .set_nonblocking(true)
        .map_err(io_err("identd listener"))?;
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((s, _)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut w = match s.try_clone() {
                    Ok(w) => w,
                    Err(_) => continue,
                };
                let mut line = String::new();
                if BufReader::new(s).read_line(&mut line).is_ok() {
                    let ports = line.trim();
                    let _ = write!(w, "{ports} : USERID : UNIX : {user}\r\n");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => {
                return Err(LabError::Io {
                    what: "identd accept".into(),
                    source: e,
                })
            }
        }
    }
    Ok(())
}

/// The client's view of one login.
#[derive(Clone, Debug)]
pub struct LoginTimes {
    /// Its own address (before NAT).
    pub local: SocketAddr,
    pub to_greeting: Duration,
    pub to_login: Duration,
}

/// Connects, reads the greeting, logs in (POP3) or says hello (SMTP), quits.
pub fn client(
    protocol: Protocol,
    server: SocketAddr,
    patience: Duration,
) -> Result<LoginTimes, LabError> {
    match protocol {
        Protocol::Pop3 => pop3_client(server, patience),
        Protocol::Smtp => smtp_client(server, patience),
    }
}

fn smtp_client(server: SocketAddr, patience: Duration) -> Result<LoginTimes, LabError> {
    let t0 = Instant::now();
    let s = TcpStream::connect_timeout(&server, Duration::from_secs(10))
        .map_err(io_err(format!("connecting to {server}")))?;
    let local = s.local_addr().map_err(io_err("local address"))?;
    s.set_read_timeout(Some(patience))
        .map_err(io_err("timeout"))?;
    let mut w = s.try_clone().map_err(io_err("socket"))?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    let mut expect =
        |r: &mut BufReader<TcpStream>, code: &str, what: &str| -> Result<(), LabError> {
            // A reply of several lines (EHLO's) ends with "<code> ".
            loop {
                line.clear();
                r.read_line(&mut line)
                    .map_err(io_err(format!("reading the {what}")))?;
                if !(line.starts_with(code) && line.as_bytes().get(3) == Some(&b'-')) {
                    break;
                }
            }
            if line.starts_with(code) {
                Ok(())
            } else {
                Err(LabError::Command {
                    command: "SMTP client".into(),
                    detail: format!("{what}: {:?}", line.trim()),
                })
            }
        };
    expect(&mut r, "220", "banner")?;
    let to_greeting = t0.elapsed();
    w.write_all(b"EHLO client.example.net\r\n")
        .map_err(io_err("EHLO"))?;
    expect(&mut r, "250", "EHLO reply")?;
    let to_login = t0.elapsed();
    w.write_all(b"QUIT\r\n").map_err(io_err("QUIT"))?;
    expect(&mut r, "221", "QUIT reply")?;
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    Ok(LoginTimes {
        local,
        to_greeting,
        to_login,
    })
}

/// Connects, reads the greeting, logs in, checks the mailbox, quits.
fn pop3_client(server: SocketAddr, patience: Duration) -> Result<LoginTimes, LabError> {
    let t0 = Instant::now();
    let s = TcpStream::connect_timeout(&server, Duration::from_secs(10))
        .map_err(io_err(format!("connecting to {server}")))?;
    let local = s.local_addr().map_err(io_err("local address"))?;
    s.set_read_timeout(Some(patience))
        .map_err(io_err("timeout"))?;
    let mut w = s.try_clone().map_err(io_err("socket"))?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    let expect_ok =
        |r: &mut BufReader<TcpStream>, line: &mut String, what: &str| -> Result<(), LabError> {
            line.clear();
            r.read_line(line)
                .map_err(io_err(format!("reading the {what}")))?;
            if line.starts_with("+OK") {
                Ok(())
            } else {
                Err(LabError::Command {
                    command: "POP3 client".into(),
                    detail: format!("{what}: {:?}", line.trim()),
                })
            }
        };
    expect_ok(&mut r, &mut line, "greeting")?;
    let to_greeting = t0.elapsed();
    w.write_all(b"USER alice\r\n").map_err(io_err("USER"))?;
    expect_ok(&mut r, &mut line, "USER reply")?;
    w.write_all(b"PASS secret\r\n").map_err(io_err("PASS"))?;
    expect_ok(&mut r, &mut line, "PASS reply")?;
    let to_login = t0.elapsed();
    w.write_all(b"STAT\r\nQUIT\r\n").map_err(io_err("STAT"))?;
    expect_ok(&mut r, &mut line, "STAT reply")?;
    expect_ok(&mut r, &mut line, "QUIT reply")?;
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    Ok(LoginTimes {
        local,
        to_greeting,
        to_login,
    })
}
