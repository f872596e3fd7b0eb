//! The transport part of a line: TCP (both families' flag notations,
//! options, relative sequence numbers undone), UDP, ICMP errors.

use std::collections::HashMap;

use stalltrace_decode::{
    Host, IcmpKind, IcmpMessage, IpInfo, QuotedHeader, SeqNumber, TcpFlags, TcpOptions, TcpSegment,
    IPPROTO_TCP, IPPROTO_UDP,
};

use super::fields::*;

/// What tcpdump remembered per connection to print relative numbers.
#[derive(Default)]
pub(super) struct RelativeSeq {
    /// Keyed by the lower endpoint first; values are (seq base, ack base)
    /// for the direction from the lower endpoint.
    flows: HashMap<(Host, u16, Host, u16), (u32, u32)>,
    /// `-S` was used: every number is absolute already.
    absolute: Option<bool>,
}

impl RelativeSeq {
    /// tcpdump (print-tcp.c): for segments with ACK, the first one seen in a
    /// connection, and any SYN, is printed absolute and sets the bases;
    /// later ones print `seq - base`, `ack - peer base`.
    pub(super) fn absolutise(&mut self, src: (&Host, u16), dst: (&Host, u16), t: &mut TcpSegment) {
        if !t.flags.ack() {
            return;
        }
        let rev = (src.0, src.1) > (dst.0, dst.1);
        let key = if rev {
            (dst.0.clone(), dst.1, src.0.clone(), src.1)
        } else {
            (src.0.clone(), src.1, dst.0.clone(), dst.1)
        };
        let ack = t.ack.map(|a| a.0).unwrap_or(0);
        match self.flows.get(&key).copied() {
            Some((base_seq, base_ack)) if !t.flags.syn() => {
                let (my, peer) = if rev {
                    (base_ack, base_seq)
                } else {
                    (base_seq, base_ack)
                };
                if self.absolute.is_none() {
                    // The first relative-looking ACK decides: tcpdump -S
                    // prints the peer's ISN+1, plain tcpdump prints 1.
                    let expect_abs = peer.wrapping_add(1);
                    self.absolute = Some(ack == expect_abs && ack > 1);
                }
                if self.absolute == Some(true) {
                    return;
                }
                if let Some(s) = t.seq.as_mut() {
                    s.0 = s.0.wrapping_add(my);
                }
                if let Some(a) = t.ack.as_mut() {
                    a.0 = a.0.wrapping_add(peer);
                }
            }
            _ => {
                let seq = t.seq.map(|s| s.0).unwrap_or(0);
                let v = if rev {
                    (ack.wrapping_sub(1), seq)
                } else {
                    (seq, ack.wrapping_sub(1))
                };
                self.flows.insert(key, v);
            }
        }
    }
}

/// TCP in either form. Fills the IP fields that 3.x prints after the TCP
/// ones: `(DF)`, `(ttl 64, id 1)`.
pub(super) fn parse_tcp(body: &str, ip: &mut IpInfo, truncated: &mut bool) -> Option<TcpSegment> {
    let mut t = TcpSegment::default();
    let mut rest;
    if let Some(r) = body.strip_prefix("Flags [") {
        // 4.x
        let (flags, r) = r.split_once(']')?;
        t.flags = flags_4x(flags)?;
        rest = r.trim_start_matches(',').trim_start();
        loop {
            let (field, r) = match rest.split_once(", ") {
                Some(x) => x,
                None => (rest, ""),
            };
            if field.is_empty() {
                break;
            }
            let mut it = field.splitn(2, ' ');
            let key = it.next().unwrap_or("");
            let val = it.next().unwrap_or("");
            match key {
                "seq" => {
                    let first = val.split(':').next()?;
                    t.seq = Some(SeqNumber(num(first)?));
                }
                "ack" => {
                    t.ack = Some(SeqNumber(num(val)?));
                }
                "win" => t.window = num(val),
                "options" => {
                    // Options contain ", " only inside their brackets? No:
                    // they are comma-separated without spaces.
                    let inner = val.trim_start_matches('[');
                    let inner = inner.split(']').next().unwrap_or("");
                    t.options = tcp_options(inner);
                    if val.contains("[|") || inner.contains("[|") {
                        *truncated = true;
                    }
                }
                "length" => {
                    let n = val.split([':', ' ']).next()?;
                    t.payload_len = num(n)?;
                    // What follows "length N: " is the application decode.
                    break;
                }
                "cksum" | "urg" => {}
                _ => {}
            }
            rest = r;
        }
        if t.flags.ack() && t.ack.is_none() {
            // tcpdump prints no ack for SYN-ACK only with -S off? It always
            // prints it; a missing one means a cut line.
            *truncated = true;
        }
        // ack present implies the ACK flag in 4.x too.
        if t.ack.is_some() {
            t.flags.0 |= TcpFlags::ACK;
        }
        return Some(t);
    }
    // 3.x: "S 950786859:950786859(0) win 16384 <mss 1460,...> (DF)"
    let (flag_tok, r) = body.split_once(' ').unwrap_or((body, ""));
    t.flags = flags_3x(flag_tok)?;
    rest = r;
    let mut toks = rest.split_whitespace().peekable();
    let mut saw_any = flag_tok == "." || !r.is_empty();
    while let Some(tok) = toks.next() {
        if let Some((range, len)) = tok.split_once('(') {
            if let Some((a, _b)) = range.split_once(':') {
                t.seq = Some(SeqNumber(a.parse().ok()?));
                t.payload_len = len.trim_end_matches(')').parse().ok()?;
                saw_any = true;
                continue;
            }
        }
        match tok {
            "ack" => {
                t.ack = Some(SeqNumber(num(toks.next()?)?));
                t.flags.0 |= TcpFlags::ACK;
            }
            "win" => t.window = toks.next().and_then(num),
            "(DF)" => ip.dont_fragment = true,
            "urg" => {
                toks.next();
            }
            _ if tok.starts_with('<') => {
                // Options run until '>' and may contain spaces.
                let mut opts = tok.trim_start_matches('<').to_string();
                let mut cur = tok.to_string();
                while !cur.ends_with('>') {
                    match toks.next() {
                        Some(n) => {
                            opts.push(' ');
                            opts.push_str(n);
                            cur = n.to_string();
                        }
                        None => break,
                    }
                }
                let inner = opts.trim_end_matches('>');
                if inner.contains("[|") {
                    *truncated = true;
                }
                t.options = tcp_options(inner);
            }
            "(ttl" => {
                if let Some(v) = toks.next() {
                    ip.ttl = num(v);
                }
            }
            "id" => {
                if let Some(v) = toks.next() {
                    ip.id = v.trim_end_matches([',', ')']).parse().ok();
                }
            }
            _ => {}
        }
    }
    saw_any.then_some(t)
}

/// The flag letters both families print.
fn flag_bit(c: char) -> Option<u8> {
    Some(match c {
        'S' => TcpFlags::SYN,
        'F' => TcpFlags::FIN,
        'P' => TcpFlags::PSH,
        'R' => TcpFlags::RST,
        'U' => TcpFlags::URG,
        'E' => TcpFlags::ECE,
        'W' => TcpFlags::CWR,
        _ => return None,
    })
}

pub(super) fn flags_4x(f: &str) -> Option<TcpFlags> {
    let mut v = 0u8;
    for c in f.chars() {
        v |= match c {
            '.' => TcpFlags::ACK,
            'e' => 0, // AccECN, ignored
            c => flag_bit(c)?,
        };
    }
    if f == "none" {
        return Some(TcpFlags(0));
    }
    Some(TcpFlags(v))
}

/// 3.x prints S, F, P, R (and W, E for ECN) or '.' for none of them; the
/// ACK bit shows only as an "ack N" field.
pub(super) fn flags_3x(f: &str) -> Option<TcpFlags> {
    if f == "." {
        return Some(TcpFlags(0));
    }
    if f.is_empty() || f.len() > 6 {
        return None;
    }
    let mut v = 0u8;
    for c in f.chars() {
        v |= flag_bit(c)?;
    }
    Some(TcpFlags(v))
}

pub(super) fn tcp_options(s: &str) -> TcpOptions {
    let mut o = TcpOptions::default();
    for part in s.split(',') {
        let mut it = part.split_whitespace();
        match it.next() {
            Some("mss") => o.mss = it.next().and_then(|v| v.parse().ok()),
            Some("wscale") => o.window_scale = it.next().and_then(|v| v.parse().ok()),
            Some("sackOK") => o.sack_permitted = true,
            // 3.x: "timestamp 309913215 0"; 4.x: "TS val 1 ecr 2".
            Some("timestamp") => {
                let val = it.next().and_then(|v| v.split('[').next()?.parse().ok());
                let ecr = it.next().and_then(|v| v.parse().ok());
                o.timestamp = val.map(|v| (v, ecr));
            }
            Some("TS") => {
                let mut val = None;
                let mut ecr = None;
                while let Some(k) = it.next() {
                    match k {
                        "val" => val = it.next().and_then(|v| v.parse().ok()),
                        "ecr" => ecr = it.next().and_then(|v| v.split('[').next()?.parse().ok()),
                        _ => {}
                    }
                }
                o.timestamp = val.map(|v| (v, ecr));
            }
            _ => {}
        }
    }
    o
}

pub(super) fn parse_udp(body: &str, sp: u16, dp: u16) -> Option<u32> {
    // 4.x "UDP, length 45"; 3.x "udp 45".
    if let Some(r) = body.strip_prefix("UDP, length") {
        return num(r.trim());
    }
    if let Some(r) = body.strip_prefix("udp ") {
        return num(r.trim());
    }
    // DNS and other decoded UDP end with "(N)", the UDP payload length.
    let known_udp = [53u16, 67, 68, 123, 137, 138, 161, 162, 514, 5353];
    if known_udp.contains(&sp) || known_udp.contains(&dp) {
        let open = body.rfind('(')?;
        let close = body[open..].find(')')? + open;
        return body[open + 1..close].parse().ok();
    }
    // Protocols that only run over UDP, which tcpdump names instead of
    // printing "UDP" (babel, BFD, PTP, RIP, HSRP, RADIUS, L2TP, SSDP,
    // ISAKMP, LLMNR, VXLAN, Geneve): their length where printed
    // ("length: 24", "length 44", "(44)"), else unknown (0).
    const NAMED_UDP: &[u16] = &[
        319, 320, 500, 520, 521, 1645, 1646, 1701, 1812, 1813, 1900, 1985, 3784, 4500, 4784, 4789,
        5355, 6081, 6696,
    ];
    if NAMED_UDP.contains(&sp) || NAMED_UDP.contains(&dp) {
        let after_length = body.rfind("length").and_then(|i| {
            let r = body[i + "length".len()..].trim_start_matches([' ', ':']);
            let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        });
        let in_parens = body.rfind('(').and_then(|open| {
            let close = body[open..].find(')')? + open;
            body[open + 1..close].parse().ok()
        });
        return Some(after_length.or(in_parens).unwrap_or(0));
    }
    None
}

/// "ICMP 203.0.113.171 tcp port 113 unreachable, length 68" (4.x) and
/// "icmp: 218.104.68.171 tcp port 113 unreachable" (3.x), and the rest.
pub(super) fn parse_icmp(body: &str) -> Option<IcmpMessage> {
    let (v6, r) = if let Some(r) = body.strip_prefix("ICMP6, ") {
        (true, r)
    } else if let Some(r) = body.strip_prefix("icmp6: ") {
        (true, r)
    } else if let Some(r) = body.strip_prefix("ICMP ") {
        (false, r)
    } else if let Some(r) = body.strip_prefix("icmp: ") {
        (false, r)
    } else {
        return None;
    };
    let r = r.split(", length").next().unwrap_or(r);
    let words: Vec<&str> = r.split_whitespace().collect();
    let mut kind = IcmpKind::Other {
        icmp_type: 255,
        code: 255,
    };
    let mut quoted = None;
    let about = |dst: &str, protocol: u8, port: Option<u16>| {
        Some(QuotedHeader {
            src: None,
            dst: host(dst),
            protocol,
            src_port: None,
            dst_port: port,
            seq: None,
        })
    };
    if v6 {
        // print-icmp6.c: "destination unreachable, unreachable port
        // 2001:db8::25 tcp port 80", "... unreachable prohibited <dst>",
        // "packet too big, mtu 1280".
        if let Some(u) = r.strip_prefix("destination unreachable, unreachable ") {
            let w: Vec<&str> = u.split_whitespace().collect();
            let code = match w.first().copied() {
                Some("route") => 0,
                Some("prohibited") => 1,
                Some("beyond") => 2,
                Some("address") => 3,
                Some("port") => 4,
                _ => 255,
            };
            let dst = if code == 2 { w.get(2) } else { w.get(1) };
            let (proto, port) = match (w.get(2).copied(), w.get(3), w.get(4)) {
                (Some("tcp"), Some(&"port"), Some(p)) => (IPPROTO_TCP, p.parse().ok()),
                (Some("udp"), Some(&"port"), Some(p)) => (IPPROTO_UDP, p.parse().ok()),
                _ => (0, None),
            };
            return Some(IcmpMessage {
                v6,
                kind: IcmpKind::Unreachable { code },
                quoted: dst.and_then(|d| about(d, proto, port)),
            });
        }
        if r.starts_with("packet too big") {
            return Some(IcmpMessage {
                v6,
                kind: IcmpKind::PacketTooBig,
                quoted: None,
            });
        }
    }
    if r.contains("unreachable - need to frag") {
        // "198.51.100.25 unreachable - need to frag (mtu 1280)"
        return Some(IcmpMessage {
            v6,
            kind: IcmpKind::PacketTooBig,
            quoted: words.first().and_then(|d| about(d, 0, None)),
        });
    }
    if r.starts_with("echo request") {
        kind = IcmpKind::EchoRequest;
    } else if r.starts_with("echo reply") {
        kind = IcmpKind::EchoReply;
    } else if r.contains("time exceeded") {
        kind = IcmpKind::TimeExceeded { code: 0 };
    } else if let Some(i) = words.iter().position(|w| *w == "port") {
        // "<dst> tcp port 113 unreachable"
        if i >= 2
            && words
                .get(i + 2)
                .is_some_and(|w| w.starts_with("unreachable"))
        {
            kind = IcmpKind::Unreachable {
                code: if v6 { 4 } else { 3 },
            };
            let proto = match words[i - 1] {
                "tcp" => IPPROTO_TCP,
                "udp" => IPPROTO_UDP,
                _ => 0,
            };
            let port = words
                .get(i + 1)
                .and_then(|p| p.parse().ok().or_else(|| service_port(p)));
            quoted = Some(QuotedHeader {
                src: None,
                dst: host(words[i - 2]),
                protocol: proto,
                src_port: None,
                dst_port: port,
                seq: None,
            });
        }
    } else if words.len() >= 3
        && (words[0] == "host" || words[0] == "net")
        && words[2].starts_with("unreachable")
    {
        // "host <dst> unreachable - admin prohibited filter" (code 13),
        // "... - admin prohibited" (host 10, net 9).
        let prohibited = r.contains("admin prohibited");
        kind = IcmpKind::Unreachable {
            code: match (
                words[0] == "host",
                prohibited,
                r.contains("prohibited filter"),
            ) {
                (_, true, true) => 13,
                (true, true, false) => 10,
                (false, true, false) => 9,
                (true, false, _) => 1,
                (false, false, _) => 0,
            },
        };
        quoted = Some(QuotedHeader {
            src: None,
            dst: host(words[1]),
            protocol: 0,
            src_port: None,
            dst_port: None,
            seq: None,
        });
    } else if r.contains("unreachable") {
        kind = IcmpKind::Unreachable { code: 255 };
    }
    Some(IcmpMessage { v6, kind, quoted })
}
