use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A network host as a capture names it.
///
/// Binary captures always carry addresses. Printed captures may carry host
/// names (tcpdump without `-n`) or addresses masked by whoever pasted them
/// (`220.xxx.160.xxx`): those are kept verbatim as opaque names, equal only
/// to themselves, so the report shows what the reader gave us.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Host {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    Named(Arc<str>),
}

/// One write per address, not a tag and then each octet: the tracker
/// hashes two hosts per packet. Equal hosts write the same, which is all
/// `Hash` must keep; a v4 address sharing a hash with a v6 one is harmless.
impl std::hash::Hash for Host {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match self {
            Host::V4(a) => h.write_u32(a.to_bits()),
            Host::V6(a) => h.write_u128(a.to_bits()),
            Host::Named(n) => n.hash(h),
        }
    }
}

impl Host {
    pub fn named(name: &str) -> Host {
        Host::Named(Arc::from(name))
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::V4(a) => Some(IpAddr::V4(*a)),
            Host::V6(a) => Some(IpAddr::V6(*a)),
            Host::Named(_) => None,
        }
    }

    /// A group address (IPv4 224.0.0.0/4, the limited broadcast, IPv6
    /// ff00::/8): what is sent there is asked of whoever listens, and
    /// answers come from other addresses (mDNS, LLMNR, SSDP).
    pub fn is_group(&self) -> bool {
        match self {
            Host::V4(a) => a.is_multicast() || a.is_broadcast(),
            Host::V6(a) => a.is_multicast(),
            Host::Named(_) => false,
        }
    }

    /// RFC 1918 / RFC 4193 space: a host there reaches the Internet only
    /// through NAT, so callbacks to it arrive at the NAT's outside address.
    pub fn is_private(&self) -> bool {
        match self {
            Host::V4(a) => a.is_private(),
            Host::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
            Host::Named(n) => {
                // A masked or named host that spells a private prefix.
                n.starts_with("10.") || n.starts_with("192.168.") || {
                    let mut it = n.split('.');
                    it.next() == Some("172")
                        && it
                            .next()
                            .and_then(|o| o.parse::<u8>().ok())
                            .is_some_and(|o| (16..=31).contains(&o))
                }
            }
        }
    }
}

/// An address, or else a name kept as written.
impl std::str::FromStr for Host {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<IpAddr>() {
            Ok(a) => a.into(),
            Err(_) => Host::named(s),
        })
    }
}

impl From<IpAddr> for Host {
    fn from(a: IpAddr) -> Host {
        match a {
            IpAddr::V4(a) => Host::V4(a),
            IpAddr::V6(a) => Host::V6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::V4(a) => a.fmt(f),
            Host::V6(a) => a.fmt(f),
            Host::Named(n) => f.write_str(n),
        }
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Host {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Host {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(s.parse()
            .unwrap_or_else(|e: std::convert::Infallible| match e {}))
    }
}

impl schemars::JsonSchema for Host {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Host".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "An IPv4 or IPv6 address, or a host name or masked address exactly as a printed capture gave it."
        })
    }
}

/// A host and a transport port.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub host: Host,
    pub port: u16,
}

impl Endpoint {
    pub fn new(host: Host, port: u16) -> Self {
        Endpoint { host, port }
    }
}

/// "192.0.2.1:110", "[2001:db8::1]:110", as [`Endpoint`] prints.
impl std::str::FromStr for Endpoint {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let a: std::net::SocketAddr = s.parse()?;
        Ok(Endpoint::new(a.ip().into(), a.port()))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::V6(a) => write!(f, "[{a}]:{}", self.port),
            h => write!(f, "{h}:{}", self.port),
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// "host:port" where people read it; in binary forms the host and the
/// port apart, since a masked host of a printed capture
/// ("220.xxx.160.xxx") is no socket address to parse back.
impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            (&self.host, self.port).serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            let (host, port) = <(Host, u16)>::deserialize(d)?;
            Ok(Endpoint { host, port })
        }
    }
}

impl schemars::JsonSchema for Endpoint {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Endpoint".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "host:port, or [v6-address]:port."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_hosts_are_equal_only_to_themselves() {
        assert_eq!(
            Host::named("220.xxx.160.xxx"),
            Host::named("220.xxx.160.xxx")
        );
        assert_ne!(
            Host::named("220.xxx.160.xxx"),
            Host::named("220.xxx.161.xxx")
        );
        assert_eq!(
            Endpoint::new(Host::named("220.xxx.160.xxx"), 110).to_string(),
            "220.xxx.160.xxx:110"
        );
    }

    #[test]
    fn private_space() {
        assert!(Host::V4("192.168.1.200".parse().unwrap()).is_private());
        assert!(!Host::V4("218.104.68.171".parse().unwrap()).is_private());
        assert!(Host::named("172.20.xxx.1").is_private());
        assert!(!Host::named("220.xxx.160.xxx").is_private());
    }
}
