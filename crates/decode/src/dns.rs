//! A DNS message, as much as a diagnosis needs: who asked what (the
//! transaction id, the name, the type), and what came back (the response
//! code, the addresses and names of the answers). Decoded with
//! [`simple_dns`]: a parser of the wire format with no other dependency
//! than `bitflags`, borrowing from the packet, made for exactly this; the
//! few fields kept are copied out. tcpdump's printed form of the same
//! message is read by the capture crate into the same type.
//!
//! ```
//! use stalltrace_decode::DnsMessage;
//! // A PTR query for 203.0.113.171, id 0x1234, recursion desired.
//! let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
//! for l in ["171", "113", "0", "203", "in-addr", "arpa"] {
//!     q.push(l.len() as u8);
//!     q.extend_from_slice(l.as_bytes());
//! }
//! q.extend_from_slice(&[0, 0, 12, 0, 1]);
//! let m = DnsMessage::parse(&q).unwrap();
//! let question = m.question.as_ref().unwrap();
//! assert_eq!((m.id, m.response, question.type_name()), (0x1234, false, "PTR"));
//! assert_eq!(question.reversed().unwrap().to_string(), "203.0.113.171");
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// Answers kept per message.
const ANSWERS: usize = 8;
/// The longest name kept (a DNS name is at most 253 characters).
const NAME_MAX: usize = 255;

/// What a query asks.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct DnsQuestion {
    /// Without the trailing dot.
    pub name: String,
    /// The query type's number (1 A, 28 AAAA, 12 PTR ...).
    pub qtype: u16,
}

impl DnsQuestion {
    pub fn type_name(&self) -> &'static str {
        type_name(self.qtype)
    }

    /// The address a reverse (PTR) name stands for:
    /// `171.113.0.203.in-addr.arpa` → 203.0.113.171, and the nibbles of
    /// `ip6.arpa` likewise.
    pub fn reversed(&self) -> Option<IpAddr> {
        let n = self.name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(v4) = n.strip_suffix(".in-addr.arpa") {
            let mut o: Vec<u8> = v4
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<Vec<u8>>>()?;
            if o.len() != 4 {
                return None;
            }
            o.reverse();
            return Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3])));
        }
        let v6 = n.strip_suffix(".ip6.arpa")?;
        let nibbles: Vec<u8> = v6
            .split('.')
            .map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 1))
            .collect::<Option<Vec<u8>>>()?;
        if nibbles.len() != 32 {
            return None;
        }
        let mut bits: u128 = 0;
        for n in nibbles.iter().rev() {
            bits = bits << 4 | u128::from(*n);
        }
        Some(IpAddr::V6(Ipv6Addr::from(bits)))
    }
}

/// One answer: an address (A, AAAA) or a name (PTR, CNAME, ...).
#[derive(Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(untagged)]
pub enum DnsAnswer {
    Address(IpAddr),
    Name { rtype: u16, name: String },
}

// Untagged where people read it ("192.0.2.1", or a type and a name);
// tagged in binary forms, which serde reads back from an untagged enum as
// if they were text (its buffer does not say they are not), so an address
// in binary would not read back.
#[derive(Serialize, serde::Deserialize)]
#[serde(untagged)]
enum PlainAnswer {
    Address(IpAddr),
    Name { rtype: u16, name: String },
}

#[derive(Serialize, serde::Deserialize)]
enum TaggedAnswer {
    Address(IpAddr),
    Name { rtype: u16, name: String },
}

impl Serialize for DnsAnswer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let human = s.is_human_readable();
        match (self.clone(), human) {
            (DnsAnswer::Address(a), true) => PlainAnswer::Address(a).serialize(s),
            (DnsAnswer::Name { rtype, name }, true) => {
                PlainAnswer::Name { rtype, name }.serialize(s)
            }
            (DnsAnswer::Address(a), false) => TaggedAnswer::Address(a).serialize(s),
            (DnsAnswer::Name { rtype, name }, false) => {
                TaggedAnswer::Name { rtype, name }.serialize(s)
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for DnsAnswer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(if d.is_human_readable() {
            match PlainAnswer::deserialize(d)? {
                PlainAnswer::Address(a) => DnsAnswer::Address(a),
                PlainAnswer::Name { rtype, name } => DnsAnswer::Name { rtype, name },
            }
        } else {
            match TaggedAnswer::deserialize(d)? {
                TaggedAnswer::Address(a) => DnsAnswer::Address(a),
                TaggedAnswer::Name { rtype, name } => DnsAnswer::Name { rtype, name },
            }
        })
    }
}

/// A DNS message's header, question and answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct DnsMessage {
    pub id: u16,
    pub response: bool,
    /// TC: the answer did not fit (the client should ask again over TCP).
    pub truncated: bool,
    /// 0 no error, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED ...
    pub rcode: u8,
    pub question: Option<DnsQuestion>,
    /// The first answers.
    pub answers: Vec<DnsAnswer>,
    /// Answers in all, as the header counts them.
    pub answer_count: u16,
}

impl DnsMessage {
    /// Reads a message from its wire form. A message cut short (snaplen)
    /// still gives its header, and its question when that was whole.
    pub fn parse(b: &[u8]) -> Option<DnsMessage> {
        if b.len() < 12 {
            return None;
        }
        let flags = u16::from_be_bytes([b[2], b[3]]);
        let mut m = DnsMessage {
            id: u16::from_be_bytes([b[0], b[1]]),
            response: flags & 0x8000 != 0,
            truncated: flags & 0x0200 != 0,
            rcode: (flags & 0x000f) as u8,
            question: None,
            answers: Vec::new(),
            answer_count: u16::from_be_bytes([b[6], b[7]]),
        };
        // A message claiming many questions is no DNS we can use.
        if u16::from_be_bytes([b[4], b[5]]) > 4 {
            return Some(m);
        }
        let parsed = simple_dns::Packet::parse(b);
        if parsed.is_err() {
            // Cut in its answers: the question alone, from a copy whose
            // header counts no records.
            let mut head = b.to_vec();
            head[6..12].fill(0);
            if let Ok(p) = simple_dns::Packet::parse(&head) {
                m.question = p.questions.first().map(|q| DnsQuestion {
                    name: bounded(q.qname.to_string()),
                    qtype: u16::from(q.qtype),
                });
            }
            return Some(m);
        }
        if let Ok(p) = parsed {
            m.question = p.questions.first().map(|q| DnsQuestion {
                name: bounded(q.qname.to_string()),
                qtype: u16::from(q.qtype),
            });
            for a in p.answers.iter().take(ANSWERS) {
                use simple_dns::rdata::RData;
                let answer = match &a.rdata {
                    RData::A(x) => DnsAnswer::Address(IpAddr::V4(Ipv4Addr::from(x.address))),
                    RData::AAAA(x) => DnsAnswer::Address(IpAddr::V6(Ipv6Addr::from(x.address))),
                    RData::PTR(x) => DnsAnswer::Name {
                        rtype: 12,
                        name: bounded(x.0.to_string()),
                    },
                    RData::CNAME(x) => DnsAnswer::Name {
                        rtype: 5,
                        name: bounded(x.0.to_string()),
                    },
                    _ => continue,
                };
                m.answers.push(answer);
            }
        }
        Some(m)
    }

    /// "NOERROR", "SERVFAIL", "NXDOMAIN", ...
    pub fn rcode_name(&self) -> &'static str {
        rcode_name(self.rcode)
    }
}

fn bounded(mut s: String) -> String {
    if s.len() > NAME_MAX {
        let mut end = NAME_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// A query type's mnemonic.
pub fn type_name(t: u16) -> &'static str {
    match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        43 => "DS",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        252 => "AXFR",
        255 => "ANY",
        _ => "TYPE",
    }
}

/// A query type by its mnemonic (tcpdump prints these).
pub fn type_number(name: &str) -> Option<u16> {
    Some(match name {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "PTR" => 12,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "SRV" => 33,
        "NAPTR" => 35,
        "DS" => 43,
        "DNSKEY" => 48,
        "SVCB" => 64,
        "HTTPS" => 65,
        "AXFR" => 252,
        "ANY" => 255,
        _ => return None,
    })
}

/// A response code's name.
pub fn rcode_name(r: u8) -> &'static str {
    match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "RCODE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_with_an_address_and_a_cut_one_with_its_header() {
        // Response id 7, one question (example.org A), one answer A 192.0.2.7.
        let mut r = vec![0, 7, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        for l in ["example", "org"] {
            r.push(l.len() as u8);
            r.extend_from_slice(l.as_bytes());
        }
        r.extend_from_slice(&[0, 0, 1, 0, 1]);
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
        let m = DnsMessage::parse(&r).unwrap();
        assert!(m.response && m.rcode == 0);
        assert_eq!(m.question.as_ref().unwrap().name, "example.org");
        assert_eq!(
            m.answers,
            [DnsAnswer::Address("192.0.2.7".parse().unwrap())]
        );
        // Cut by the snaplen in its answer: the header and the question.
        let cut = DnsMessage::parse(&r[..35]).unwrap();
        assert_eq!((cut.id, cut.response, cut.answer_count), (7, true, 1));
        assert_eq!(cut.question.unwrap().name, "example.org");
        assert!(cut.answers.is_empty());
        // Cut in its question: the header only.
        assert!(DnsMessage::parse(&r[..20]).unwrap().question.is_none());
        assert!(DnsMessage::parse(&r[..11]).is_none());
    }

    #[test]
    fn ipv6_reverse_names() {
        let q = DnsQuestion {
            name: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa".into(),
            qtype: 12,
        };
        assert_eq!(q.reversed().unwrap().to_string(), "2001:db8::1");
    }
}
