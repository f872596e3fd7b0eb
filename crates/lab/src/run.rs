use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::actors::{self, identd, IdentOutcome, LoginTimes, ServedClient, ServerConfig};
use crate::error::{io_err, LabError};
use crate::netns::{check_prerequisites, install_interrupt_cleanup};
use crate::scenario::{
    ClientFirewall, ExpectCallback, ExpectGreeting, FirewallBehaviour, Scenario, Topology,
};
use crate::topology::{
    build, nat_table, start_captures, write_captures, CaptureFile, Nodes, Plan, SERVER,
};

/// xinetd's USERID lookup waits 30 s.
pub const DEFAULT_IDENT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a run measured.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub scenario: Scenario,
    pub ident_timeout: Duration,
    /// The server's deliberate pause before its greeting.
    pub greet_pause: Duration,
    pub login: LoginTimes,
    pub served: ServedClient,
    /// The client's own address and what the server saw (different behind NAT).
    pub nat_mapping: Option<(SocketAddr, SocketAddr)>,
    pub captures: Vec<CaptureFile>,
    /// The server's `TcpExtLockDroppedIcmps`: ICMP errors Linux dropped as
    /// soft errors because connect() held the socket.
    pub lock_dropped_icmps: Option<u64>,
}

impl RunOutcome {
    /// Checks the measurement against the scenario's expectation.
    pub fn check(&self) -> Result<(), String> {
        let g = self.login.to_greeting.as_secs_f64();
        let t = self.ident_timeout.as_secs_f64();
        let pause = self.greet_pause.as_secs_f64();
        let e = &self.scenario.expect;
        let (Some(greeting), Some(callback)) = (e.greeting, e.callback) else {
            return Err("not a login scenario".into());
        };
        let greeting_ok = match greeting {
            ExpectGreeting::Timeout => (g - t - pause).abs() <= 0.5,
            ExpectGreeting::Fast => g < pause + 0.5,
            ExpectGreeting::Early => g < t + pause - 0.5,
        };
        if !greeting_ok {
            return Err(format!(
                "greeting after {g:.3} s, expected {greeting:?} (ident timeout {t} s)"
            ));
        }
        let ident_ok = match (callback, &self.served.ident) {
            (ExpectCallback::Unanswered, IdentOutcome::TimedOut(_)) => true,
            (ExpectCallback::Refused | ExpectCallback::Icmp, IdentOutcome::Refused(_)) => true,
            (ExpectCallback::Icmp, IdentOutcome::Failed(..)) => true,
            (ExpectCallback::Answered, IdentOutcome::User(_, u)) => *u == self.scenario.ident_user,
            (ExpectCallback::None, IdentOutcome::Off) => true,
            _ => false,
        };
        if !ident_ok {
            return Err(format!(
                "ident lookup {}, expected {callback:?}",
                self.served.ident
            ));
        }
        Ok(())
    }
}

/// Sets a stop flag when dropped, so server threads end on every path.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The firewall: masquerade the inside network (rewriting ports), and the
/// scenario's treatment of an unsolicited SYN to tcp/113 from outside.
pub fn firewall_ruleset(b: FirewallBehaviour) -> String {
    let (prerouting, input) = match b {
        FirewallBehaviour::Drop => ("", "iifname \"eth1\" tcp dport 113 drop"),
        FirewallBehaviour::Reset => ("", "iifname \"eth1\" tcp dport 113 reject with tcp reset"),
        FirewallBehaviour::Icmp => (
            "",
            "iifname \"eth1\" tcp dport 113 reject with icmp type port-unreachable",
        ),
        FirewallBehaviour::Forward => (
            "iifname \"eth1\" tcp dport 113 dnat to 192.168.1.200:113",
            "",
        ),
    };
    format!(
        "{}table inet stalltrace_filter {{
  chain input {{
    type filter hook input priority filter; policy accept;
    {input}
  }}
}}
",
        nat_table(prerouting)
    )
}

/// Runs one scenario: builds it, captures at every point, logs in once,
/// writes the captures to `out` and removes everything it made.
pub fn run(s: &Scenario, ident_timeout: Duration, out: &Path) -> Result<RunOutcome, LabError> {
    run_with(s, ident_timeout, out, |_| Ok(Box::new(|| ())))
}

/// What to do after the login, before everything is removed.
pub type AfterLogin = Box<dyn FnOnce()>;

/// [`run`], calling `before_login` once everything stands and captures,
/// just before the client logs in, and what it returns after the login,
/// before the namespaces (and whatever runs in them) are removed: to run
/// something of one's own there (a `stalltrace watch` on the firewall's
/// interfaces, stopped by the closure).
pub fn run_with(
    s: &Scenario,
    ident_timeout: Duration,
    out: &Path,
    before_login: impl FnOnce(&Nodes) -> Result<AfterLogin, LabError>,
) -> Result<RunOutcome, LabError> {
    if s.fault.is_some() {
        return Err(LabError::Scenario {
            name: s.name.clone(),
            detail: "a fault scenario runs with `run_fault`".into(),
        });
    }
    check_prerequisites()?;
    install_interrupt_cleanup();
    let folder = crate::netns::OutDir::create(out)?;
    let ident_timeout = if s.ident {
        s.ident_timeout_or(ident_timeout)
    } else {
        Duration::ZERO
    };
    let greet_pause = Duration::from_millis(s.greet_pause_ms);
    let protocol = s.protocol;
    let nodes = build(&Plan {
        firewall: match s.topology {
            Topology::Nat => Some(firewall_ruleset(
                s.firewall.expect("nat scenarios name a firewall"),
            )),
            Topology::Direct => None,
        },
        client_rules: (s.client_firewall == Some(ClientFirewall::Stealth)).then(|| {
            "table inet stalltrace_client {\n  chain input {\n    type filter hook input priority filter; policy accept;\n    tcp dport 113 drop\n  }\n}\n".to_string()
        }),
        ipv6: false,
    })?;
    let points = start_captures(&nodes)?;

    let stop = Arc::new(AtomicBool::new(false));
    let _stop_guard = StopOnDrop(stop.clone());
    let served = Arc::new(Mutex::new(Vec::new()));
    let (ready_tx, ready_rx) = mpsc::channel();
    let server = {
        let (stop, served, ready) = (stop.clone(), served.clone(), ready_tx.clone());
        nodes.server.spawn(move || {
            let l = TcpListener::bind((SERVER, protocol.port())).map_err(io_err("server bind"))?;
            let _ = ready.send(());
            let cfg = ServerConfig {
                protocol,
                ident_timeout,
                greet_pause,
            };
            actors::server(l, cfg, stop, served)
        })
    };
    let identd_thread = if s.firewall == Some(FirewallBehaviour::Forward) {
        let (stop, ready, user) = (stop.clone(), ready_tx.clone(), s.ident_user.clone());
        Some(nodes.client.spawn(move || {
            let l = TcpListener::bind(("0.0.0.0", 113)).map_err(io_err("identd bind"))?;
            let _ = ready.send(());
            identd(l, user, stop)
        }))
    } else {
        None
    };
    drop(ready_tx);
    let expected_ready = 1 + usize::from(identd_thread.is_some());
    for _ in 0..expected_ready {
        if ready_rx.recv_timeout(Duration::from_secs(5)).is_err() {
            stop.store(true, Ordering::SeqCst);
            return Err(server
                .join()
                .ok()
                .and_then(|r| r.err())
                .unwrap_or(LabError::Command {
                    command: "lab servers".into(),
                    detail: "did not start".into(),
                }));
        }
    }

    let after_login = before_login(&nodes)?;
    let server_addr: SocketAddr = format!("{SERVER}:{}", protocol.port())
        .parse()
        .expect("address");
    let patience = ident_timeout + greet_pause + Duration::from_secs(30);
    let login = nodes
        .client
        .spawn(move || actors::client(protocol, server_addr, patience))
        .join()
        .map_err(|_| LabError::Command {
            command: "client".into(),
            detail: "panicked".into(),
        })??;

    // Let the closing packets pass every capture point.
    std::thread::sleep(Duration::from_millis(300));
    after_login();
    stop.store(true, Ordering::SeqCst);
    let _ = server.join();
    if let Some(t) = identd_thread {
        let _ = t.join();
    }
    let lock_dropped_icmps = nodes
        .server
        .exec("nstat", &["-asz", "TcpExtLockDroppedIcmps"], None)
        .ok()
        .and_then(|o| {
            o.lines().find_map(|l| {
                l.strip_prefix("TcpExtLockDroppedIcmps")
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
        });

    let captures = write_captures(points, out)?;
    folder.keep();
    drop(nodes);

    let served = served
        .lock()
        .expect("log")
        .first()
        .cloned()
        .ok_or_else(|| LabError::Command {
            command: "server".into(),
            detail: "served nobody".into(),
        })?;
    let nat_mapping = (served.peer != login.local).then_some((login.local, served.peer));
    Ok(RunOutcome {
        scenario: s.clone(),
        ident_timeout,
        greet_pause,
        login,
        served,
        nat_mapping,
        captures,
        lock_dropped_icmps,
    })
}
