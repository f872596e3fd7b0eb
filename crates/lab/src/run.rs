use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::actors::{self, identd, IdentOutcome, LoginTimes, ServedClient, ServerConfig};
use crate::capture::Capture;
use crate::error::{io_err, LabError};
use crate::netns::{check_prerequisites, install_interrupt_cleanup, Netns};
use crate::scenario::{
    ClientFirewall, ExpectCallback, ExpectGreeting, FirewallBehaviour, Scenario, Topology,
};

pub const INSIDE_CLIENT: &str = "192.168.1.200";
pub const INSIDE_GATEWAY: &str = "192.168.1.1";
pub const FW_OUTSIDE: &str = "203.0.113.171";
pub const SERVER: &str = "203.0.113.25";
pub const DIRECT_CLIENT: &str = "203.0.113.170";
/// NAT rewrites source ports into this range, as the seed's firewall did
/// (1523 → 42390), so that matching across NAT has ports to follow. The
/// range lies below Linux's ephemeral ports, so every mapping rewrites.
pub const NAT_PORTS: &str = "20000-29999";

/// xinetd's USERID lookup waits 30 s.
pub const DEFAULT_IDENT_TIMEOUT: Duration = Duration::from_secs(30);

/// One capture file the run wrote.
#[derive(Clone, Debug)]
pub struct CaptureFile {
    /// "fw-eth1", "fw-eth2", "client", "server".
    pub point: String,
    pub path: PathBuf,
    pub frames: usize,
}

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
        let greeting_ok = match e.greeting {
            ExpectGreeting::Timeout => (g - t - pause).abs() <= 0.5,
            ExpectGreeting::Fast => g < pause + 0.5,
            ExpectGreeting::Early => g < t + pause - 0.5,
        };
        if !greeting_ok {
            return Err(format!(
                "greeting after {g:.3} s, expected {:?} (ident timeout {t} s)",
                e.greeting
            ));
        }
        let ident_ok = match (e.callback, &self.served.ident) {
            (ExpectCallback::Unanswered, IdentOutcome::TimedOut(_)) => true,
            (ExpectCallback::Refused | ExpectCallback::Icmp, IdentOutcome::Refused(_)) => true,
            (ExpectCallback::Icmp, IdentOutcome::Failed(..)) => true,
            (ExpectCallback::Answered, IdentOutcome::User(_, u)) => *u == self.scenario.ident_user,
            (ExpectCallback::None, IdentOutcome::Off) => true,
            _ => false,
        };
        if !ident_ok {
            return Err(format!(
                "ident lookup {}, expected {:?}",
                self.served.ident, e.callback
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

struct Nodes {
    client: Netns,
    fw: Option<Netns>,
    server: Netns,
}

fn quiet_ipv6(ns: &Netns) -> Result<(), LabError> {
    // Router solicitations and DAD would only add noise to the captures.
    ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
    ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
}

fn build(s: &Scenario) -> Result<Nodes, LabError> {
    let client = Netns::create("client")?;
    let server = Netns::create("server")?;
    match s.topology {
        Topology::Nat => {
            let fw = Netns::create("fw")?;
            fw.ip(&[
                "link",
                "add",
                "eth2",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                client.name(),
            ])?;
            fw.ip(&[
                "link",
                "add",
                "eth1",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                server.name(),
            ])?;
            for ns in [&client, &fw, &server] {
                quiet_ipv6(ns)?;
            }
            client.ip(&["addr", "add", &format!("{INSIDE_CLIENT}/24"), "dev", "eth0"])?;
            client.ip(&["link", "set", "eth0", "up"])?;
            client.ip(&["route", "add", "default", "via", INSIDE_GATEWAY])?;
            fw.ip(&[
                "addr",
                "add",
                &format!("{INSIDE_GATEWAY}/24"),
                "dev",
                "eth2",
            ])?;
            fw.ip(&["addr", "add", &format!("{FW_OUTSIDE}/24"), "dev", "eth1"])?;
            fw.ip(&["link", "set", "eth1", "up"])?;
            fw.ip(&["link", "set", "eth2", "up"])?;
            // The server has no route to the inside network: only NAT reaches it.
            server.ip(&["addr", "add", &format!("{SERVER}/24"), "dev", "eth0"])?;
            server.ip(&["link", "set", "eth0", "up"])?;
            fw.sysctl("net.ipv4.ip_forward", "1")?;
            fw.nft(&firewall_ruleset(
                s.firewall.expect("nat scenarios name a firewall"),
            ))?;
            Ok(Nodes {
                client,
                fw: Some(fw),
                server,
            })
        }
        Topology::Direct => {
            client.ip(&[
                "link",
                "add",
                "eth0",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                server.name(),
            ])?;
            for ns in [&client, &server] {
                quiet_ipv6(ns)?;
            }
            client.ip(&["addr", "add", &format!("{DIRECT_CLIENT}/24"), "dev", "eth0"])?;
            client.ip(&["link", "set", "eth0", "up"])?;
            server.ip(&["addr", "add", &format!("{SERVER}/24"), "dev", "eth0"])?;
            server.ip(&["link", "set", "eth0", "up"])?;
            if s.client_firewall == Some(ClientFirewall::Stealth) {
                client.nft(
                    "table inet stalltrace_client {\n  chain input {\n    type filter hook input priority filter; policy accept;\n    tcp dport 113 drop\n  }\n}\n",
                )?;
            }
            Ok(Nodes {
                client,
                fw: None,
                server,
            })
        }
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
        "table ip stalltrace_nat {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    {prerouting}
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname \"eth1\" ip saddr 192.168.1.0/24 meta l4proto {{ tcp, udp }} masquerade to :{NAT_PORTS}
    oifname \"eth1\" ip saddr 192.168.1.0/24 masquerade
  }}
}}
table inet stalltrace_filter {{
  chain input {{
    type filter hook input priority filter; policy accept;
    {input}
  }}
}}
"
    )
}

/// Runs one scenario: builds it, captures at every point, logs in once,
/// writes the captures to `out` and removes everything it made.
pub fn run(s: &Scenario, ident_timeout: Duration, out: &Path) -> Result<RunOutcome, LabError> {
    check_prerequisites()?;
    install_interrupt_cleanup();
    std::fs::create_dir_all(out).map_err(io_err(format!("creating {}", out.display())))?;
    let ident_timeout = if s.ident {
        s.ident_timeout_or(ident_timeout)
    } else {
        Duration::ZERO
    };
    let greet_pause = Duration::from_millis(s.greet_pause_ms);
    let protocol = s.protocol;
    let nodes = build(s)?;

    let mut points: Vec<(String, Capture)> = Vec::new();
    if let Some(fw) = &nodes.fw {
        points.push(("fw-eth1".into(), Capture::start(fw, "eth1")?));
        points.push(("fw-eth2".into(), Capture::start(fw, "eth2")?));
    }
    points.push(("client".into(), Capture::start(&nodes.client, "eth0")?));
    points.push(("server".into(), Capture::start(&nodes.server, "eth0")?));

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

    let mut captures = Vec::new();
    for (point, cap) in points {
        let c = cap.stop()?;
        let path = out.join(format!("{point}.pcapng"));
        c.write_pcapng(&path)?;
        captures.push(CaptureFile {
            point,
            path,
            frames: c.frames.len(),
        });
    }
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
