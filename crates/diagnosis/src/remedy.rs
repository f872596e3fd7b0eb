//! A remedy: what to change, where, with the exact lines. Remedies are
//! built after the capture points are merged, from what the capture shows
//! (the daemon by its banner, the addresses, the IP version, NAT seen
//! between points), never from a fixed list: see each cause's
//! `remedies`.

use serde::Serialize;
use stalltrace_decode::{tr, Host, Lang};

use crate::facts::Daemon;

/// A sentence written in both languages where it is made (static
/// knowledge with values from the capture); the report picks one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Text {
    pub en: String,
    #[serde(rename = "zh-CN")]
    pub zh: String,
}

impl Text {
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Text {
        Text {
            en: en.into(),
            zh: zh.into(),
        }
    }

    pub fn say(&self, l: Lang) -> &str {
        tr!(l, &self.en, &self.zh)
    }
}

/// What a remedy applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A daemon a banner can name.
    Daemon { daemon: Daemon },
    /// Another program on the waiting server (xinetd, tcp_wrappers, ...).
    Program { name: String },
    /// The resolver of the waiting host.
    Resolver { host: Host },
    /// The host a callback was sent to (the client, or the NAT device's
    /// outside address) or a firewall in front of it.
    CallbackTarget { host: Host },
    /// The NAT device between two capture points.
    NatDevice { outside: Host },
    /// The DNS server, or a firewall on the way to it.
    DnsPath,
    /// The waiting server itself.
    Server { host: Host },
    /// One end of a connection, by its address.
    Host { host: Host },
    /// A router or firewall on the path between two hosts.
    PathDevice { from: Host, to: Host },
    /// The device that answered in a host's place (its ICMP source, or
    /// the device whose RST carried another TTL).
    Answerer { host: Host },
}

impl Target {
    pub fn say(&self, l: Lang) -> String {
        match self {
            Target::Daemon { daemon } => daemon.name().to_string(),
            Target::Program { name } => name.clone(),
            Target::Resolver { host } => tr!(
                l,
                format!("the resolver of {host}"),
                format!("{host} 的解析器")
            ),
            Target::CallbackTarget { host } => tr!(
                l,
                format!("{host} (where the callback went), or the firewall in front of it"),
                format!("{host}（回连的目标），或其前面的防火墙")
            ),
            Target::NatDevice { outside } => tr!(
                l,
                format!("the NAT device ({outside} outside)"),
                format!("NAT 设备（外网地址 {outside}）")
            ),
            Target::DnsPath => tr!(
                l,
                "the DNS server, or a firewall on the way to it",
                "DNS 服务器，或通往它的路径上的防火墙"
            )
            .into(),
            Target::Server { host } => {
                tr!(l, format!("the server {host}"), format!("服务器 {host}"))
            }
            Target::Host { host } => tr!(l, format!("the host {host}"), format!("主机 {host}")),
            Target::PathDevice { from, to } => tr!(
                l,
                format!("a router or firewall between {from} and {to}"),
                format!("{from} 与 {to} 之间的路由器或防火墙")
            ),
            Target::Answerer { host } => tr!(
                l,
                format!("the device that answered for {host}"),
                format!("代替 {host} 应答的设备")
            ),
        }
    }
}

/// A change that removes the cause, with the exact lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Remedy {
    pub target: Target,
    pub action: Text,
    /// The lines to write or run, verbatim.
    pub lines: Vec<String>,
    /// Where the lines go, when a file.
    pub file: Option<String>,
    /// A change on the waiting server itself (rather than in the network).
    pub on_server: bool,
}

impl Remedy {
    pub(crate) fn new(target: Target, action: Text, lines: &[&str]) -> Remedy {
        Remedy {
            target,
            action,
            lines: lines.iter().map(|l| l.to_string()).collect(),
            file: None,
            on_server: true,
        }
    }

    pub(crate) fn file(mut self, f: &str) -> Remedy {
        self.file = Some(f.into());
        self
    }

    pub(crate) fn in_network(mut self) -> Remedy {
        self.on_server = false;
        self
    }

    pub(crate) fn lines(mut self, lines: Vec<String>) -> Remedy {
        self.lines = lines;
        self
    }
}

/// An address as a firewall rule may name it: only real addresses
/// (masked ones such as `220.xxx.160.xxx` and host names cannot be).
pub(crate) fn literal(h: &Host) -> Option<String> {
    match h {
        Host::V4(a) => Some(a.to_string()),
        Host::V6(a) => Some(a.to_string()),
        _ => None,
    }
}
