//! Addresses, ports, names and the small fields of a printed line.

use std::net::IpAddr;

use stalltrace_decode::{Host, IpInfo};

/// Service names tcpdump prints without `-n` (from /etc/services).
pub(super) fn service_port(name: &str) -> Option<u16> {
    Some(match name {
        "ftp-data" => 20,
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "http" | "www" => 80,
        "pop3" | "pop-3" => 110,
        "sunrpc" => 111,
        "auth" | "ident" => 113,
        "nntp" => 119,
        "ntp" => 123,
        "imap" | "imap2" => 143,
        "snmp" => 161,
        "ldap" => 389,
        "https" => 443,
        "submission" => 587,
        "imaps" => 993,
        "pop3s" => 995,
        "mysql" => 3306,
        "postgresql" => 5432,
        _ => return None,
    })
}

/// `-#` puts a bare packet number first.
pub(super) fn strip_number(line: &str) -> &str {
    let s = line.trim_start();
    match s.split_once(char::is_whitespace) {
        Some((num, rest))
            if !num.is_empty() && num.len() < 12 && num.bytes().all(|b| b.is_ascii_digit()) =>
        {
            rest.trim_start()
        }
        _ => s,
    }
}

pub(super) fn looks_like_mac(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 17
        && b[2] == b':'
        && b[5] == b':'
        && b[..17].iter().enumerate().all(|(i, c)| {
            if i % 3 == 2 {
                *c == b':'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

pub(super) fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

pub(super) fn parse_v_header(h: &str, ip: &mut IpInfo) {
    for part in h.split(", ") {
        let mut it = part.split_whitespace();
        match (it.next(), it.next()) {
            (Some("ttl" | "hlim"), Some(v)) => ip.ttl = v.parse().ok(),
            (Some("id"), Some(v)) => ip.id = v.parse().ok(),
            (Some("flags"), Some(v)) => ip.dont_fragment = v.contains("DF"),
            (Some("length"), Some(v)) => ip.total_len = v.parse().ok(),
            (Some("offset"), Some(v)) => ip.fragment |= v != "0",
            _ => {}
        }
        if part.contains("[+]") {
            ip.fragment = true;
        }
    }
}

/// "A > B: rest" (also "A > B:" at the end of a line).
pub(super) fn split_addresses(s: &str) -> Option<(&str, &str, &str)> {
    let gt = s.find(" > ")?;
    let src = s[..gt].trim();
    let after = &s[gt + 3..];
    // IPv6 addresses contain ':' but never ": ".
    let (dst, rest) = match after.find(": ") {
        Some(c) => (&after[..c], &after[c + 2..]),
        None => (after.strip_suffix(':')?, ""),
    };
    if src.is_empty() || dst.is_empty() || src.contains(' ') || dst.contains(' ') {
        return None;
    }
    Some((src, dst, rest))
}

pub(super) fn split_port(s: &str) -> Option<(&str, u16)> {
    let dot = s.rfind('.')?;
    let (h, p) = (&s[..dot], &s[dot + 1..]);
    if h.is_empty() {
        return None;
    }
    let port = if p.bytes().all(|b| b.is_ascii_digit()) {
        p.parse().ok()?
    } else {
        service_port(p)?
    };
    Some((h, port))
}

pub(super) fn host(s: &str) -> Host {
    match s.parse::<IpAddr>() {
        Ok(a) => Host::from(a),
        Err(_) => Host::named(s),
    }
}

pub(super) fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim_end_matches([',', ':']).parse().ok()
}
