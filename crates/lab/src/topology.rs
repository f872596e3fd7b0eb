//! The lab's networks: client — firewall (NAT) — server, as the seed's
//! environments 1 and 3, or the client straight on the server's link, as
//! environment 2; optionally with IPv6 routed beside IPv4 NAT. And the
//! four capture points every run records: the firewall's outside (`eth1`)
//! and inside (`eth2`), the client and the server.

use std::path::{Path, PathBuf};

use crate::capture::Capture;
use crate::error::{io_err, LabError};
use crate::netns::Netns;

pub const INSIDE_CLIENT: &str = "192.168.1.200";
pub const INSIDE_GATEWAY: &str = "192.168.1.1";
pub const FW_OUTSIDE: &str = "203.0.113.171";
pub const SERVER: &str = "203.0.113.25";
pub const DIRECT_CLIENT: &str = "203.0.113.170";
/// IPv6 is routed, not translated: the inside and outside prefixes.
pub const INSIDE_CLIENT6: &str = "2001:db8:1::200";
pub const INSIDE_GATEWAY6: &str = "2001:db8:1::1";
pub const FW_OUTSIDE6: &str = "2001:db8:2::1";
pub const SERVER6: &str = "2001:db8:2::25";
/// NAT rewrites source ports into this range, as the seed's firewall did
/// (1523 → 42390), so that matching across NAT has ports to follow. The
/// range lies below Linux's ephemeral ports, so every mapping rewrites.
pub const NAT_PORTS: &str = "20000-29999";

/// One capture file the run wrote.
#[derive(Clone, Debug)]
pub struct CaptureFile {
    /// "fw-eth1", "fw-eth2", "client", "server".
    pub point: String,
    pub path: PathBuf,
    pub frames: usize,
}

/// The namespaces of a run; dropping them removes them.
pub struct Nodes {
    pub client: Netns,
    pub fw: Option<Netns>,
    pub server: Netns,
}

/// What to build.
pub struct Plan {
    /// With the firewall between (its ruleset), or the client on the
    /// server's link.
    pub firewall: Option<String>,
    /// A ruleset for the client itself (direct topology).
    pub client_rules: Option<String>,
    /// IPv6 addresses and routes beside IPv4.
    pub ipv6: bool,
}

fn quiet(ns: &Netns, ipv6: bool) -> Result<(), LabError> {
    if !ipv6 {
        // Router solicitations and DAD would only add noise to the captures.
        ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
        return ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
    }
    for key in ["all", "default"] {
        ns.sysctl(&format!("net.ipv6.conf.{key}.accept_dad"), "0")?;
        ns.sysctl(&format!("net.ipv6.conf.{key}.router_solicitations"), "0")?;
        ns.sysctl(&format!("net.ipv6.conf.{key}.accept_ra"), "0")?;
    }
    Ok(())
}

/// The interface sends segments no larger than its MTU: without this, a
/// veth hands the capture (and the firewall) 64 KB GSO packets, which no
/// real link carries.
fn wire_sized(ns: &Netns, dev: &str) -> Result<(), LabError> {
    ns.ip(&["link", "set", "dev", dev, "gso_max_size", "1500"])
        .map(|_| ())
}

fn veth(a: &Netns, a_dev: &str, b: &Netns, b_dev: &str) -> Result<(), LabError> {
    a.ip(&[
        "link",
        "add",
        a_dev,
        "type",
        "veth",
        "peer",
        "name",
        b_dev,
        "netns",
        b.name(),
    ])
    .map(|_| ())
}

fn addr(ns: &Netns, cidr: &str, dev: &str) -> Result<(), LabError> {
    let mut args = vec!["addr", "add", cidr, "dev", dev];
    if cidr.contains(':') {
        args.push("nodad");
    }
    ns.ip(&args).map(|_| ())
}

fn up(ns: &Netns, dev: &str) -> Result<(), LabError> {
    wire_sized(ns, dev)?;
    ns.ip(&["link", "set", dev, "up"]).map(|_| ())
}

/// Builds the namespaces, links and addresses, and loads the rulesets.
pub fn build(plan: &Plan) -> Result<Nodes, LabError> {
    let client = Netns::create("client")?;
    let server = Netns::create("server")?;
    match &plan.firewall {
        Some(rules) => {
            let fw = Netns::create("fw")?;
            veth(&fw, "eth2", &client, "eth0")?;
            veth(&fw, "eth1", &server, "eth0")?;
            for ns in [&client, &fw, &server] {
                quiet(ns, plan.ipv6)?;
            }
            addr(&client, &format!("{INSIDE_CLIENT}/24"), "eth0")?;
            up(&client, "eth0")?;
            client.ip(&["route", "add", "default", "via", INSIDE_GATEWAY])?;
            addr(&fw, &format!("{INSIDE_GATEWAY}/24"), "eth2")?;
            addr(&fw, &format!("{FW_OUTSIDE}/24"), "eth1")?;
            up(&fw, "eth1")?;
            up(&fw, "eth2")?;
            // The server has no route to the inside network: only NAT reaches it.
            addr(&server, &format!("{SERVER}/24"), "eth0")?;
            up(&server, "eth0")?;
            fw.sysctl("net.ipv4.ip_forward", "1")?;
            if plan.ipv6 {
                addr(&client, &format!("{INSIDE_CLIENT6}/64"), "eth0")?;
                client.ip(&["-6", "route", "add", "default", "via", INSIDE_GATEWAY6])?;
                addr(&fw, &format!("{INSIDE_GATEWAY6}/64"), "eth2")?;
                addr(&fw, &format!("{FW_OUTSIDE6}/64"), "eth1")?;
                addr(&server, &format!("{SERVER6}/64"), "eth0")?;
                server.ip(&["-6", "route", "add", "default", "via", FW_OUTSIDE6])?;
                fw.sysctl("net.ipv6.conf.all.forwarding", "1")?;
            }
            fw.nft(rules)?;
            Ok(Nodes {
                client,
                fw: Some(fw),
                server,
            })
        }
        None => {
            veth(&client, "eth0", &server, "eth0")?;
            for ns in [&client, &server] {
                quiet(ns, plan.ipv6)?;
            }
            addr(&client, &format!("{DIRECT_CLIENT}/24"), "eth0")?;
            up(&client, "eth0")?;
            addr(&server, &format!("{SERVER}/24"), "eth0")?;
            up(&server, "eth0")?;
            if let Some(rules) = &plan.client_rules {
                client.nft(rules)?;
            }
            Ok(Nodes {
                client,
                fw: None,
                server,
            })
        }
    }
}

/// The firewall's NAT: masquerade the inside network, rewriting ports;
/// `prerouting` adds destination NAT rules.
pub fn nat_table(prerouting: &str) -> String {
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
"
    )
}

/// Starts capturing at every point of the run.
pub fn start_captures(nodes: &Nodes) -> Result<Vec<(String, Capture)>, LabError> {
    let mut points = Vec::new();
    if let Some(fw) = &nodes.fw {
        points.push(("fw-eth1".into(), Capture::start(fw, "eth1")?));
        points.push(("fw-eth2".into(), Capture::start(fw, "eth2")?));
    }
    points.push(("client".into(), Capture::start(&nodes.client, "eth0")?));
    points.push(("server".into(), Capture::start(&nodes.server, "eth0")?));
    Ok(points)
}

/// Stops the captures and writes each as `<point>.pcapng` in `out`.
pub fn write_captures(
    points: Vec<(String, Capture)>,
    out: &Path,
) -> Result<Vec<CaptureFile>, LabError> {
    std::fs::create_dir_all(out).map_err(io_err(format!("creating {}", out.display())))?;
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
    Ok(captures)
}
