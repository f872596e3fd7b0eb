//! What makes two conversations at two capture points the same one.
//!
//! The ISN is kept by NAT; devices that randomise sequence numbers (Cisco
//! ASA by default) keep the SYN's TCP timestamp value and the payload; UDP
//! has only its payload. A payload is paired with its IPv4 ID, which NAT
//! keeps, so that two clients sending the same request do not pass for one.

use serde::Serialize;
use stalltrace_conversations::{Conversation, Protocol, Side};
use stalltrace_decode::{tr, Lang};

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum MatchKey {
    Isn {
        isn: u32,
        port: u16,
    },
    SynTimestamp {
        tsval: u32,
        port: u16,
    },
    Payload {
        proto: u8,
        from: Side,
        digest: u64,
        ip_id: u16,
        port: u16,
    },
}

impl MatchKey {
    /// Only the ISN names one connection for certain; a weak key met twice
    /// at one point names none.
    pub(crate) fn is_strong(self) -> bool {
        matches!(self, MatchKey::Isn { .. })
    }

    pub(crate) fn evidence(self) -> MatchEvidence {
        match self {
            MatchKey::Isn { port, .. } => MatchEvidence::Isn { server_port: port },
            MatchKey::SynTimestamp { port, .. } => {
                MatchEvidence::SynTimestamp { server_port: port }
            }
            MatchKey::Payload {
                proto: 17, port, ..
            } => MatchEvidence::UdpPayload { server_port: port },
            MatchKey::Payload { port, .. } => MatchEvidence::TcpPayload { server_port: port },
        }
    }
}

/// Why two conversations at two points are known to be one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum MatchEvidence {
    /// The same initial sequence numbers (NAT keeps them).
    Isn { server_port: u16 },
    /// The same TCP timestamp value in the SYN; sequence numbers rewritten.
    SynTimestamp { server_port: u16 },
    /// The same first payload and IPv4 ID; sequence numbers rewritten.
    TcpPayload { server_port: u16 },
    /// The same first datagram and IPv4 ID.
    UdpPayload { server_port: u16 },
}

impl MatchEvidence {
    pub fn say(self, l: Lang) -> String {
        match self {
            MatchEvidence::Isn { server_port } => tr!(
                l,
                format!("the same connection at both points (same initial sequence numbers, server port {server_port})"),
                format!("两处是同一条连接（初始序列号相同，服务器端口 {server_port}）")
            ),
            MatchEvidence::SynTimestamp { server_port } => tr!(
                l,
                format!("the same connection at both points (same SYN timestamp value, server port {server_port}; sequence numbers rewritten)"),
                format!("两处是同一条连接（SYN 时间戳值相同，服务器端口 {server_port}；序列号被改写）")
            ),
            MatchEvidence::TcpPayload { server_port } => tr!(
                l,
                format!("the same connection at both points (same first payload and IP ID, server port {server_port}; sequence numbers rewritten)"),
                format!("两处是同一条连接（首个载荷与 IP ID 相同，服务器端口 {server_port}；序列号被改写）")
            ),
            MatchEvidence::UdpPayload { server_port } => tr!(
                l,
                format!("the same UDP exchange at both points (same first datagram and IP ID, server port {server_port})"),
                format!("两处是同一次 UDP 交互（首个数据报与 IP ID 相同，服务器端口 {server_port}）")
            ),
        }
    }
}

/// Every key a conversation can be found by, strongest first.
pub(crate) fn match_keys(c: &Conversation) -> Vec<MatchKey> {
    let port = c.server.port;
    let mut keys = Vec::new();
    if c.protocol == Protocol::Tcp {
        if let Some(isn) = c.client_isn {
            keys.push(MatchKey::Isn { isn: isn.0, port });
        }
        if let Some((tsval, _)) = c.syn_options.timestamp {
            keys.push(MatchKey::SynTimestamp { tsval, port });
        }
    }
    let proto = if c.protocol == Protocol::Tcp { 6 } else { 17 };
    if let Some(p) = c.log.iter().find(|p| p.len > 0 && p.digest != 0) {
        keys.push(MatchKey::Payload {
            proto,
            from: p.from,
            digest: p.digest,
            ip_id: p.ip_id.unwrap_or(0),
            port,
        });
    }
    keys
}
