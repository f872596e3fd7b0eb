//! One conversation's packets at every capture point, in time order, as
//! tcpdump prints them (`analyze --conversation A:p-B:q`): the timeline an
//! engineer would otherwise build by hand from several files. Across a NAT
//! the conversation has other addresses at the other points; the mappings
//! the analysis found add those. A second read of the files, as for the
//! Markdown's evidence.

use stalltrace_capture::CaptureReader;
use stalltrace_decode::{Endpoint, Host, Packet, Transport};
use stalltrace_report::Report;

use super::merge::{Item, Reader, BATCH};
use super::{InputSpec, Source};

/// Packets listed at most; a longer conversation is cut there, and says so.
pub const CONVERSATION_MAX: usize = 10_000;

/// Two ends as the user writes them: `192.0.2.10:40000-198.51.100.25:110`
/// (or with `,`), IPv6 as `[2001:db8::1]:443`, a masked address as
/// printed (`220.xxx.160.xxx:110`).
pub fn parse_conversation(s: &str) -> Result<(Endpoint, Endpoint), String> {
    let bad =
        || format!("'{s}' is not a conversation: give its two ends, ADDRESS:PORT-ADDRESS:PORT");
    let (a, b) = s
        .split_once(',')
        .or_else(|| {
            // The '-' right after the first end's port (a host name may
            // hold '-' too; an IPv6 address none).
            let i = s.match_indices('-').map(|(i, _)| i).find(|&i| {
                s[..i]
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            })?;
            Some((&s[..i], &s[i + 1..]))
        })
        .ok_or_else(bad)?;
    Ok((
        endpoint(a.trim()).ok_or_else(bad)?,
        endpoint(b.trim()).ok_or_else(bad)?,
    ))
}

fn endpoint(s: &str) -> Option<Endpoint> {
    if let Ok(e) = s.parse::<Endpoint>() {
        return Some(e);
    }
    let (h, p) = s.rsplit_once(':')?;
    let port: u16 = p.parse().ok()?;
    let h = h.trim_start_matches('[').trim_end_matches(']');
    if h.is_empty() {
        return None;
    }
    let host = match h.parse::<std::net::IpAddr>() {
        Ok(ip) => Host::from(ip),
        Err(_) => Host::named(h),
    };
    Some(Endpoint::new(host, port))
}

/// The conversation's ends at every point: the ends given, and the ends a
/// NAT mapping of the report turns them into.
pub fn conversation_ends(report: &Report, a: &Endpoint, b: &Endpoint) -> Vec<(Endpoint, Endpoint)> {
    let mut pairs = vec![(a.clone(), b.clone())];
    // A mapping rewrites one end; follow each until nothing new comes.
    let mut i = 0;
    while i < pairs.len() && pairs.len() < 16 {
        let (x, y) = pairs[i].clone();
        for m in &report.matching.mappings {
            for (from, to) in [(&m.inside, &m.outside), (&m.outside, &m.inside)] {
                for (p, q) in [(&x, &y), (&y, &x)] {
                    if p == from {
                        let pair = (to.clone(), q.clone());
                        if !pairs.iter().any(|(u, v)| {
                            (u, v) == (&pair.0, &pair.1) || (v, u) == (&pair.0, &pair.1)
                        }) {
                            pairs.push(pair);
                        }
                    }
                }
            }
        }
        i += 1;
    }
    pairs
}

/// One packet of the conversation, where it was seen.
pub struct Seen {
    pub point: String,
    pub packet: Packet,
}

/// The conversation's packets at every point, in time order (at most
/// [`CONVERSATION_MAX`]), and how many more there were. Inputs as read
/// (`Analysis::read`); standard input cannot be read again (none then).
pub fn conversation_packets(
    inputs: &[InputSpec],
    pairs: &[(Endpoint, Endpoint)],
    opts: &super::AnalyzeOptions,
) -> (Vec<Seen>, u64) {
    let mut out = Vec::new();
    let mut more = 0;
    if inputs.iter().any(|s| s.path.as_os_str() == "-") {
        return (out, more);
    }
    let mut sources = Vec::new();
    for spec in inputs {
        let Ok(r) = CaptureReader::open(&spec.path) else {
            return (out, more);
        };
        let mut s = Source::new(spec.clone(), r);
        // The packets the analysis saw: its filters apply here too.
        if let Some(expr) = &opts.filter {
            let Ok(f) = stalltrace_capture::bpf::BpfFilter::new(expr) else {
                return (out, more);
            };
            s.bpf = Some(f);
        }
        sources.push(s);
    }
    let hosts: Vec<&Host> = pairs.iter().flat_map(|(a, b)| [&a.host, &b.host]).collect();
    let mut reader = Reader::new(sources);
    reader.select = opts.select.clone();
    let mut names: Vec<String> = Vec::new();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let going = reader.fill(&mut batch, BATCH);
        for item in batch.drain(..) {
            match item {
                Item::NewPoint(p) => names.push(p.name.clone()),
                Item::Packet { point, packet, .. } => {
                    // Most packets fail here, before any endpoint is made.
                    if !hosts.contains(&&packet.src) || !hosts.contains(&&packet.dst) {
                        continue;
                    }
                    let ports = match &packet.transport {
                        Transport::Tcp(t) => (t.src_port, t.dst_port),
                        Transport::Udp(u) => (u.src_port, u.dst_port),
                        _ => continue,
                    };
                    let s = Endpoint::new(packet.src.clone(), ports.0);
                    let d = Endpoint::new(packet.dst.clone(), ports.1);
                    let ours = pairs
                        .iter()
                        .any(|(a, b)| (s == *a && d == *b) || (s == *b && d == *a));
                    if !ours {
                        continue;
                    }
                    if out.len() < CONVERSATION_MAX {
                        out.push(Seen {
                            point: names[point].clone(),
                            packet,
                        });
                    } else {
                        more += 1;
                    }
                }
                Item::Closed(_) => {}
            }
        }
        if !going {
            return (out, more);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_as_people_write_them() {
        let (a, b) = parse_conversation("192.0.2.10:40000-198.51.100.25:110").unwrap();
        assert_eq!((a.port, b.port), (40000, 110));
        let (a, b) = parse_conversation("[2001:db8::1]:443,[2001:db8::2]:50000").unwrap();
        assert_eq!(a.to_string(), "[2001:db8::1]:443");
        assert_eq!(b.port, 50000);
        let (a, _) = parse_conversation("220.xxx.160.xxx:110-218.104.68.171:42390").unwrap();
        assert_eq!(a.host, Host::named("220.xxx.160.xxx"));
        let (a, b) = parse_conversation("mail-1.example.org:25-fw-2.example.org:113").unwrap();
        assert_eq!(
            (a.host.to_string().as_str(), b.port),
            ("mail-1.example.org", 113)
        );
        assert!(parse_conversation("192.0.2.10").is_err());
        assert!(parse_conversation("192.0.2.10:x-192.0.2.11:1").is_err());
    }
}
