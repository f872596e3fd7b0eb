//! tcpdump's printed output, as people paste it into tickets.
//!
//! Both families: the 3.x form (`S 950786859:950786859(0) win 16384 <mss
//! 1460>`, `. ack 1`, `P 1:49(48)`, `(DF)`) and the 4.x form (`IP a.b >
//! c.d: Flags [S.], seq N, ack N, win N, options [...], length N`); every
//! time form (`-t`, default, `-tt`, `-ttt`, `-tttt`, `-ttttt`), `-#` line
//! numbers, `-e` link headers, `-v` two-line IP headers, `-i any`
//! interface prefixes, and host or service names printed without `-n`.
//!
//! tcpdump prints sequence numbers relative to the first it saw in each
//! connection, unless `-S`. [`RelativeSeq`] undoes exactly what tcpdump's
//! `tcp_seq_hash` did, so that the numbers are absolute again and the same
//! segment seen at two capture points can be matched.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Read};
use std::net::IpAddr;

use stalltrace_decode::{
    FrameMeta, Host, IcmpKind, IcmpMessage, IpInfo, Packet, QuotedHeader, SeqNumber, TcpFlags,
    TcpOptions, TcpSegment, Timestamp, Transport, UdpDatagram, IPPROTO_TCP, IPPROTO_UDP,
};

use crate::{CaptureError, Interface, Location, Warning, WarningKind};

const NANOS: i64 = 1_000_000_000;
const DAY: i64 = 86_400 * NANOS;
/// How many lines to look ahead to tell `-ttt` deltas from `-ttttt` offsets.
const TIME_MODE_LOOKAHEAD: usize = 64;
/// Unreadable lines listed by number; the rest are only counted.
const LISTED_UNREADABLE: usize = 20;
/// Longest line considered; longer ones are prose or binary, not tcpdump.
const MAX_LINE: usize = 64 * 1024;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum TimeForm {
    /// `-t`: no time printed.
    None,
    /// Default: time of day.
    TimeOfDay,
    /// `-tt`: seconds since the epoch.
    Epoch,
    /// `-tttt`: date and time.
    DateTime,
}

/// Service names tcpdump prints without `-n` (from /etc/services).
fn service_port(name: &str) -> Option<u16> {
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

/// What tcpdump remembered per connection to print relative numbers.
#[derive(Default)]
struct RelativeSeq {
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
    fn absolutise(&mut self, src: (&Host, u16), dst: (&Host, u16), t: &mut TcpSegment) {
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

pub(crate) struct TextReader<R> {
    inner: R,
    file: String,
    line_no: u64,
    lookahead: VecDeque<(u64, String)>,
    form: Option<TimeForm>,
    delta_mode: Option<bool>,
    last_ts: Option<i64>,
    day_offset: i64,
    /// A `-v` IP header line waiting for its indented second line.
    pending_v: Option<(u64, Option<i64>, IpInfo)>,
    relative: RelativeSeq,
    pub(crate) interfaces: Vec<Interface>,
    pub(crate) packets: u64,
    unreadable: u64,
    unreadable_listed: Vec<(u64, String)>,
    first_unreadable: Option<(u64, String)>,
    non_ip: u64,
    /// Indented lines under a packet: payload dumps, protocol decodes.
    continuation: u64,
}

impl<R: BufRead> TextReader<R> {
    pub(crate) fn new(inner: R, file: String) -> Self {
        TextReader {
            inner,
            file,
            line_no: 0,
            lookahead: VecDeque::new(),
            form: None,
            delta_mode: None,
            last_ts: None,
            day_offset: 0,
            pending_v: None,
            relative: RelativeSeq::default(),
            interfaces: vec![Interface {
                name: None,
                link: stalltrace_decode::LinkType::RAW,
            }],
            packets: 0,
            unreadable: 0,
            unreadable_listed: Vec::new(),
            first_unreadable: None,
            non_ip: 0,
            continuation: 0,
        }
    }

    fn read_line(&mut self) -> Result<Option<(u64, String)>, CaptureError> {
        if let Some(l) = self.lookahead.pop_front() {
            return Ok(Some(l));
        }
        self.raw_line()
    }

    fn raw_line(&mut self) -> Result<Option<(u64, String)>, CaptureError> {
        let mut buf = Vec::new();
        // Bounded read: a "line" of megabytes is not tcpdump output.
        let n = Read::take(&mut self.inner, MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| CaptureError::Read {
                file: self.file.clone(),
                offset: 0,
                source: e,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            // Skip the rest of the overlong line.
            loop {
                let avail = self.inner.fill_buf().map_err(|e| CaptureError::Read {
                    file: self.file.clone(),
                    offset: 0,
                    source: e,
                })?;
                if avail.is_empty() {
                    break;
                }
                if let Some(p) = avail.iter().position(|&b| b == b'\n') {
                    self.inner.consume(p + 1);
                    break;
                }
                let l = avail.len();
                self.inner.consume(l);
            }
            buf.truncate(200);
        }
        let s = String::from_utf8_lossy(&buf);
        Ok(Some((
            self.line_no,
            s.trim_end_matches(['\n', '\r']).to_string(),
        )))
    }

    fn note_unreadable(&mut self, line_no: u64, line: &str) {
        self.unreadable += 1;
        let excerpt: String = line.chars().take(80).collect();
        if self.first_unreadable.is_none() {
            self.first_unreadable = Some((line_no, excerpt.clone()));
        }
        if self.unreadable_listed.len() < LISTED_UNREADABLE {
            self.unreadable_listed.push((line_no, excerpt));
        }
    }

    /// Decides between `-ttt` deltas and `-ttttt` offsets when the first
    /// stamp is zero: deltas go down somewhere, offsets never do.
    fn decide_delta_mode(&mut self) -> Result<(), CaptureError> {
        let mut stamps = Vec::new();
        while self.lookahead.len() < TIME_MODE_LOOKAHEAD {
            let Some(l) = self.raw_line()? else { break };
            if let Some((TimeForm::TimeOfDay | TimeForm::Epoch, ts, _)) =
                split_time(strip_number(&l.1))
            {
                stamps.push(ts);
            }
            self.lookahead.push_back(l);
        }
        self.delta_mode = Some(stamps.windows(2).any(|w| w[1] < w[0]));
        Ok(())
    }

    pub(crate) fn next_packet(
        &mut self,
        warnings: &mut Vec<Warning>,
    ) -> Result<Option<Packet>, CaptureError> {
        loop {
            let Some((line_no, line)) = self.read_line()? else {
                self.finish(warnings)?;
                return Ok(None);
            };
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            // An indented line may continue the previous packet (-v, -X, -A)
            // or be a packet line numbered by -# ("    1  13:05:08...").
            if line.starts_with([' ', '\t']) {
                if let Some((first_line, ts, ip)) = self.pending_v.take() {
                    if let Some(p) = self.packet_from_parts(first_line, ts, ip, None, trimmed) {
                        return Ok(Some(p));
                    }
                    self.note_unreadable(line_no, &line);
                    continue;
                }
                if split_time(strip_number(&line)).is_none() && self.packets > 0 {
                    self.continuation += 1;
                    continue;
                }
            }
            if let Some((first_line, ..)) = self.pending_v.take() {
                self.note_unreadable(first_line, "(a -v IP header line without its second line)");
            }
            match self.parse_line(line_no, &line) {
                LineOutcome::Packet(p) => return Ok(Some(p)),
                LineOutcome::Pending => {}
                LineOutcome::NotIp => self.non_ip += 1,
                LineOutcome::Unreadable => {
                    // Prose before the first packet line ("Here is what I
                    // captured:") has no time stamp: it says nothing about
                    // how the packet lines were printed.
                    if self.packets == 0 && self.non_ip == 0 {
                        self.form = None;
                        self.delta_mode = None;
                    }
                    self.note_unreadable(line_no, &line)
                }
            }
        }
    }

    fn finish(&mut self, warnings: &mut Vec<Warning>) -> Result<(), CaptureError> {
        // Lines of ARP and the like are tcpdump's own: a printout of those
        // alone is a capture with no IP traffic, not prose.
        // Nothing but blank lines is an empty printout, like no bytes at all.
        if self.packets == 0 && self.non_ip == 0 {
            let Some((first_line, excerpt)) = self.first_unreadable.clone() else {
                return Ok(());
            };
            return Err(CaptureError::NoPacketLines {
                file: self.file.clone(),
                lines: self.line_no,
                first_line,
                excerpt,
            });
        }
        if self.unreadable > 0 {
            warnings.push(Warning::new(
                &self.file,
                self.unreadable_listed
                    .first()
                    .map(|(n, _)| Location::Line(*n)),
                WarningKind::UnreadableLines {
                    count: self.unreadable,
                    listed: self.unreadable_listed.iter().map(|(n, _)| *n).collect(),
                    first: self
                        .unreadable_listed
                        .first()
                        .map(|(_, l)| l.clone())
                        .unwrap_or_default(),
                },
            ));
        }
        let file = self.file.clone();
        let mut note = |n: u64, kind: WarningKind| {
            if n > 0 {
                warnings.push(Warning::new(&file, None, kind));
            }
        };
        note(self.non_ip, WarningKind::NonIpLines { count: self.non_ip });
        note(
            self.continuation,
            WarningKind::ContinuationLines {
                count: self.continuation,
            },
        );
        if self.form == Some(TimeForm::None) {
            warnings.push(Warning::new(&self.file, None, WarningKind::NoTimestamps));
        }
        Ok(())
    }

    fn parse_line(&mut self, line_no: u64, line: &str) -> LineOutcome {
        let s = strip_number(line);
        let (ts, form, rest) = match split_time(s) {
            Some((form, ts, rest)) => (Some(ts), form, rest),
            None => (None, TimeForm::None, s),
        };
        if self.form.is_none() {
            self.form = Some(form);
            if ts == Some(0)
                && matches!(form, TimeForm::TimeOfDay | TimeForm::Epoch)
                && self.decide_delta_mode().is_err()
            {
                self.delta_mode = Some(false);
            }
        }
        let ts = ts.map(|t| self.absolute_time(t, form));
        let mut rest = rest.trim_start();
        // `-i any`: "eth0  In  IP ..." or "lo    Out IP ...".
        let mut interface = None;
        if let Some((first, after)) = rest.split_once(char::is_whitespace) {
            let after_t = after.trim_start();
            for dir in ["In ", "Out ", "B ", "M ", "P "] {
                if let Some(r) = after_t.strip_prefix(dir) {
                    interface = Some(first);
                    rest = r.trim_start();
                    break;
                }
            }
        }
        // `-e`: "aa:bb:.. > cc:dd:.., ethertype IPv4 (0x0800), length 74: ...".
        if looks_like_mac(rest) {
            if !rest.contains("ethertype IPv") && !rest.contains("ethertype 802.1Q") {
                return LineOutcome::NotIp;
            }
            match rest
                .find("length ")
                .and_then(|i| rest[i..].find(": ").map(|j| i + j + 2))
            {
                Some(p) => rest = &rest[p..],
                None => return LineOutcome::Unreadable,
            }
        }
        for prefix in [
            "ARP",
            "arp",
            "STP",
            "LLDP",
            "CDP",
            "IPX",
            "802.1",
            "ethertype",
            "AppleTalk",
        ] {
            if rest.starts_with(prefix) {
                return LineOutcome::NotIp;
            }
        }
        let rest = rest
            .strip_prefix("IP6 ")
            .or_else(|| rest.strip_prefix("IP "))
            .unwrap_or(rest);
        let mut ip = IpInfo::default();
        let mut rest = rest.trim_start();
        if rest.starts_with('(') {
            // -v: "(tos 0x0, ttl 64, id 5362, offset 0, flags [DF], proto TCP (6), length 60)"
            let Some(close) = matching_paren(rest) else {
                return LineOutcome::Unreadable;
            };
            parse_v_header(&rest[1..close], &mut ip);
            rest = rest[close + 1..].trim_start();
            if rest.is_empty() {
                self.pending_v = Some((line_no, ts, ip));
                return LineOutcome::Pending;
            }
        }
        if let Some(i) = interface {
            self.interface_index(i);
        }
        match self.packet_from_parts(line_no, ts, ip, interface, rest) {
            Some(p) => LineOutcome::Packet(p),
            None => LineOutcome::Unreadable,
        }
    }

    fn interface_index(&mut self, name: &str) -> u32 {
        if let Some(i) = self
            .interfaces
            .iter()
            .position(|i| i.name.as_deref() == Some(name))
        {
            return i as u32;
        }
        if self.interfaces.len() == 1 && self.interfaces[0].name.is_none() && self.packets == 0 {
            self.interfaces[0].name = Some(name.to_string());
            return 0;
        }
        self.interfaces.push(Interface {
            name: Some(name.to_string()),
            link: stalltrace_decode::LinkType::RAW,
        });
        (self.interfaces.len() - 1) as u32
    }

    fn absolute_time(&mut self, t: i64, form: TimeForm) -> i64 {
        let t = match (form, self.delta_mode) {
            // -ttt: time since the previous line.
            (TimeForm::TimeOfDay | TimeForm::Epoch, Some(true)) => {
                self.last_ts.unwrap_or(0).saturating_add(t)
            }
            (TimeForm::TimeOfDay, _) => {
                // Past midnight the time of day starts again from zero.
                if let Some(last) = self.last_ts {
                    if t.saturating_add(self.day_offset) < last.saturating_sub(DAY / 2) {
                        self.day_offset = self.day_offset.saturating_add(DAY);
                    }
                }
                t.saturating_add(self.day_offset)
            }
            _ => t,
        };
        self.last_ts = Some(t);
        t
    }

    fn packet_from_parts(
        &mut self,
        line_no: u64,
        ts: Option<i64>,
        mut ip: IpInfo,
        interface: Option<&str>,
        rest: &str,
    ) -> Option<Packet> {
        let (src_text, dst_text, rest) = split_addresses(rest)?;
        let mut truncated = rest.contains("[|");
        let body = rest.trim_start();
        let transport;
        let (src, dst);
        if let Some(icmp) = parse_icmp(body) {
            src = host(src_text);
            dst = host(dst_text);
            transport = Transport::Icmp(icmp);
        } else {
            let (sh, sp) = split_port(src_text)?;
            let (dh, dp) = split_port(dst_text)?;
            src = host(sh);
            dst = host(dh);
            if let Some(mut tcp) = parse_tcp(body, &mut ip, &mut truncated) {
                tcp.src_port = sp;
                tcp.dst_port = dp;
                self.relative.absolutise((&src, sp), (&dst, dp), &mut tcp);
                transport = Transport::Tcp(tcp);
            } else if let Some(len) = parse_udp(body, sp, dp) {
                transport = Transport::Udp(UdpDatagram {
                    src_port: sp,
                    dst_port: dp,
                    payload_len: len,
                    ..Default::default()
                });
            } else {
                return None;
            }
        }
        let interface = interface.map(|i| self.interface_index(i)).unwrap_or(0);
        self.packets += 1;
        Some(Packet {
            meta: FrameMeta {
                ts: Timestamp::from_nanos(ts.unwrap_or(0)),
                number: line_no,
                interface,
            },
            src,
            dst,
            ip,
            transport,
            truncated,
        })
    }
}

// Lives for one call and is matched at once: boxing the packet would
// allocate once per printed line for nothing.
#[allow(clippy::large_enum_variant)]
enum LineOutcome {
    Packet(Packet),
    Pending,
    NotIp,
    Unreadable,
}

/// `-#` puts a bare packet number first.
fn strip_number(line: &str) -> &str {
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

fn looks_like_mac(s: &str) -> bool {
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

fn matching_paren(s: &str) -> Option<usize> {
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

fn parse_v_header(h: &str, ip: &mut IpInfo) {
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

/// Splits a leading time stamp off; returns the form, the raw value in ns
/// and the rest of the line.
fn split_time(s: &str) -> Option<(TimeForm, i64, &str)> {
    let (first, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    // -tttt: "2004-11-11 13:05:08.533163"
    if first.len() == 10 && first.as_bytes()[4] == b'-' && first.as_bytes()[7] == b'-' {
        let (tod, rest2) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let t = parse_tod(tod)?;
        let days = days_from_civil(
            digits(&first[0..4])?,
            digits(&first[5..7])?,
            digits(&first[8..10])?,
        )?;
        return Some((
            TimeForm::DateTime,
            days.checked_mul(DAY)?.checked_add(t)?,
            rest2,
        ));
    }
    if first.contains(':') {
        let t = parse_tod(first)?;
        return Some((TimeForm::TimeOfDay, t, rest));
    }
    // -tt: "1100149508.533163"; old -ttt printed a bare "000069" or ".000069".
    let (secs, frac) = first.split_once('.')?;
    if !secs.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.is_empty()
    {
        return None;
    }
    let secs: i64 = if secs.is_empty() {
        0
    } else {
        secs.parse().ok()?
    };
    Some((
        TimeForm::Epoch,
        secs.checked_mul(NANOS)?.checked_add(parse_frac(frac)?)?,
        rest,
    ))
}

fn parse_frac(f: &str) -> Option<i64> {
    if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = f.parse().ok()?;
    Some(v * 10i64.pow(9 - f.len() as u32))
}

fn digits(s: &str) -> Option<i64> {
    // Digits only: a sign or a space is not a time, and 12 digits is
    // already far past any field tcpdump prints.
    if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_tod(s: &str) -> Option<i64> {
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut it = hms.split(':');
    // tcpdump prints "%02d:%02d:%02d": "13:05:1.9" is damage (a hand edit,
    // a cut), not 13:05:01, and is left out with a warning.
    let two = |f: &str| if f.len() == 2 { digits(f) } else { None };
    let h = it.next().filter(|f| f.len() >= 2).and_then(digits)?;
    let m = two(it.next()?)?;
    let sec = two(it.next()?)?;
    if it.next().is_some() || m > 59 || sec > 60 || h > 99_999 {
        return None;
    }
    let f = if frac.is_empty() {
        0
    } else {
        parse_frac(frac)?
    };
    Some(((h * 60 + m) * 60 + sec) * NANOS + f)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// "A > B: rest" (also "A > B:" at the end of a line).
fn split_addresses(s: &str) -> Option<(&str, &str, &str)> {
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

fn split_port(s: &str) -> Option<(&str, u16)> {
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

fn host(s: &str) -> Host {
    match s.parse::<IpAddr>() {
        Ok(a) => Host::from(a),
        Err(_) => Host::named(s),
    }
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim_end_matches([',', ':']).parse().ok()
}

/// TCP in either form. Fills the IP fields that 3.x prints after the TCP
/// ones: `(DF)`, `(ttl 64, id 1)`.
fn parse_tcp(body: &str, ip: &mut IpInfo, truncated: &mut bool) -> Option<TcpSegment> {
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

fn flags_4x(f: &str) -> Option<TcpFlags> {
    let mut v = 0u8;
    for c in f.chars() {
        v |= match c {
            'S' => TcpFlags::SYN,
            'F' => TcpFlags::FIN,
            'P' => TcpFlags::PSH,
            'R' => TcpFlags::RST,
            'U' => TcpFlags::URG,
            'E' => TcpFlags::ECE,
            'W' => TcpFlags::CWR,
            '.' => TcpFlags::ACK,
            'e' => 0, // AccECN, ignored
            _ => return None,
        };
    }
    if f == "none" {
        return Some(TcpFlags(0));
    }
    Some(TcpFlags(v))
}

/// 3.x prints S, F, P, R (and W, E for ECN) or '.' for none of them; the
/// ACK bit shows only as an "ack N" field.
fn flags_3x(f: &str) -> Option<TcpFlags> {
    if f == "." {
        return Some(TcpFlags(0));
    }
    if f.is_empty() || f.len() > 6 {
        return None;
    }
    let mut v = 0u8;
    for c in f.chars() {
        v |= match c {
            'S' => TcpFlags::SYN,
            'F' => TcpFlags::FIN,
            'P' => TcpFlags::PSH,
            'R' => TcpFlags::RST,
            'U' => TcpFlags::URG,
            'E' => TcpFlags::ECE,
            'W' => TcpFlags::CWR,
            _ => return None,
        };
    }
    Some(TcpFlags(v))
}

fn tcp_options(s: &str) -> TcpOptions {
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

fn parse_udp(body: &str, sp: u16, dp: u16) -> Option<u32> {
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
    None
}

/// "ICMP 203.0.113.171 tcp port 113 unreachable, length 68" (4.x) and
/// "icmp: 218.104.68.171 tcp port 113 unreachable" (3.x), and the rest.
fn parse_icmp(body: &str) -> Option<IcmpMessage> {
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
        kind = IcmpKind::Unreachable {
            code: if words[0] == "host" { 1 } else { 0 },
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

/// True when the first bytes look like text tcpdump could have printed:
/// no NUL, and almost all of it valid UTF-8 (a paste may carry a stray
/// byte from another code page).
pub(crate) fn looks_like_text(b: &[u8]) -> bool {
    if b.is_empty() || b.contains(&0) {
        return false;
    }
    let bad = String::from_utf8_lossy(b)
        .chars()
        .filter(|c| *c == '\u{fffd}' || (c.is_control() && !c.is_whitespace()))
        .count();
    bad * 50 < b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(text: &str) -> (Vec<Packet>, Vec<Warning>) {
        let mut r = TextReader::new(text.as_bytes(), "t.txt".into());
        let mut w = Vec::new();
        let mut out = Vec::new();
        while let Some(p) = r.next_packet(&mut w).unwrap() {
            out.push(p);
        }
        (out, w)
    }

    fn tcp(p: &Packet) -> &TcpSegment {
        match &p.transport {
            Transport::Tcp(t) => t,
            other => panic!("not TCP: {other:?}"),
        }
    }

    #[test]
    fn old_form_with_relative_numbers_becomes_absolute() {
        let (p, w) = parse_all(
            "13:05:08.533163 218.104.68.171.42390 > 220.xxx.160.xxx.110: S 950786859:950786859(0) win 16384 <mss 1460,nop,nop,sackOK>\n\
             13:05:08.721807 220.xxx.160.xxx.110 > 218.104.68.171.42390: S 211290961:211290961(0) ack 950786860 win 5840 <mss 1460,nop,nop,sackOK> (DF)\n\
             13:05:08.722475 218.104.68.171.42390 > 220.xxx.160.xxx.110: . ack 1 win 17520\n\
             13:05:43.068169 220.xxx.160.xxx.110 > 218.104.68.171.42390: P 1:49(48) ack 1 win 5840 (DF)\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(p.len(), 4);
        assert_eq!(p[1].src, Host::named("220.xxx.160.xxx"));
        assert_eq!(tcp(&p[0]).options.mss, Some(1460));
        assert!(tcp(&p[0]).options.sack_permitted);
        assert_eq!(tcp(&p[2]).ack, Some(SeqNumber(211_290_962)));
        assert_eq!(tcp(&p[2]).seq, None);
        assert_eq!(tcp(&p[3]).seq, Some(SeqNumber(211_290_962)));
        assert_eq!(tcp(&p[3]).payload_len, 48);
        assert_eq!(tcp(&p[3]).ack, Some(SeqNumber(950_786_860)));
        assert!(p[3].ip.dont_fragment);
        assert_eq!(p[3].meta.ts.time_of_day(), "13:05:43.068169");
        assert_eq!(p[3].meta.number, 4);
    }

    #[test]
    fn old_form_cut_options_mark_truncation() {
        let (p, _) = parse_all("13:05:13.107977 220.xxx.160.xxx.38107 > 218.104.68.171.113: S 211996004:211996004(0) win 5840 <mss 1460,sackOK,timestamp 309913215[|tcp]> (DF)\n");
        assert!(p[0].truncated);
        assert_eq!(tcp(&p[0]).options.timestamp, Some((309_913_215, None)));
        assert_eq!(tcp(&p[0]).dst_port, 113);
    }

    #[test]
    fn reset_with_ack_is_absolute() {
        let (p, _) = parse_all("13:20:31.509404 218.104.68.171.113 > 220.xxx.160.xxx.38225: R 0:0(0) ack 1188523778 win 8192\n");
        let t = tcp(&p[0]);
        assert!(t.flags.rst() && t.flags.ack());
        assert_eq!(t.ack, Some(SeqNumber(1_188_523_778)));
    }

    #[test]
    fn new_form_with_numbering_and_date() {
        let (p, w) = parse_all(
            "    1  2004-11-11 13:05:08.533163 IP 192.168.1.200.1523 > 198.51.100.25.110: Flags [S], seq 950786859, win 16384, options [mss 1460,nop,wscale 7,sackOK,TS val 10 ecr 0], length 0\n\
                 2  2004-11-11 13:05:08.721846 IP 198.51.100.25.110 > 192.168.1.200.1523: Flags [S.], seq 211290961, ack 950786860, win 5840, options [mss 1460], length 0\n\
                 3  2004-11-11 13:05:08.722447 IP 192.168.1.200.1523 > 198.51.100.25.110: Flags [.], ack 1, win 17520, length 0\n\
                 4  2004-11-11 13:05:43.068194 IP 198.51.100.25.110 > 192.168.1.200.1523: Flags [P.], seq 1:49, ack 1, win 5840, length 48: POP3: +OK ready\n",
        );
        assert!(
            w.is_empty(),
            "{:?}",
            w.iter().map(|w| w.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(p.len(), 4);
        assert_eq!(tcp(&p[0]).options.window_scale, Some(7));
        assert_eq!(tcp(&p[0]).options.timestamp, Some((10, Some(0))));
        assert!(tcp(&p[1]).flags.syn() && tcp(&p[1]).flags.ack());
        assert_eq!(tcp(&p[3]).seq, Some(SeqNumber(211_290_962)));
        assert_eq!(tcp(&p[3]).payload_len, 48);
        // 2004-11-11 is day 12733 since the epoch.
        assert_eq!(p[0].meta.ts.nanos() / NANOS / 86_400, 12_733);
    }

    #[test]
    fn absolute_numbers_from_dash_s_are_left_alone() {
        let (p, _) = parse_all(
            "10:00:00.000000 IP 192.0.2.1.1000 > 192.0.2.2.110: Flags [S], seq 100, win 1, length 0\n\
             10:00:00.100000 IP 192.0.2.2.110 > 192.0.2.1.1000: Flags [S.], seq 500, ack 101, win 1, length 0\n\
             10:00:00.200000 IP 192.0.2.1.1000 > 192.0.2.2.110: Flags [.], ack 501, win 1, length 0\n\
             10:00:00.300000 IP 192.0.2.2.110 > 192.0.2.1.1000: Flags [P.], seq 501:511, ack 101, win 1, length 10\n",
        );
        assert_eq!(tcp(&p[2]).ack, Some(SeqNumber(501)));
        assert_eq!(tcp(&p[3]).seq, Some(SeqNumber(501)));
    }

    #[test]
    fn delta_and_epoch_and_no_time() {
        let (p, _) = parse_all(
            "00:00:00.000000 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n\
             00:00:01.500000 IP 192.0.2.2.2 > 192.0.2.1.1: UDP, length 5\n\
             00:00:00.250000 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n",
        );
        assert_eq!(p[2].meta.ts.nanos(), 1_750_000_000);
        let (p, _) = parse_all("1100149508.533163 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n");
        assert_eq!(p[0].meta.ts.nanos(), 1_100_149_508_533_163_000);
        let (p, w) = parse_all("IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n");
        assert_eq!(p.len(), 1);
        assert_eq!(w[0].kind, WarningKind::NoTimestamps);
    }

    #[test]
    fn verbose_two_line_form_and_icmp() {
        let (p, w) = parse_all(
            "13:00:00.000000 IP (tos 0x0, ttl 63, id 4242, offset 0, flags [DF], proto TCP (6), length 60)\n    \
             203.0.113.25.38107 > 203.0.113.171.113: Flags [S], cksum 0x1 (correct), seq 7, win 64240, options [mss 1460], length 0\n\
             13:00:00.001000 IP 203.0.113.171 > 203.0.113.25: ICMP 203.0.113.171 tcp port 113 unreachable, length 68\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(p[0].ip.ttl, Some(63));
        assert_eq!(p[0].ip.id, Some(4242));
        let Transport::Icmp(i) = &p[1].transport else {
            panic!()
        };
        assert_eq!(i.kind, IcmpKind::Unreachable { code: 3 });
        let q = i.quoted.as_ref().unwrap();
        assert_eq!((q.protocol, q.dst_port), (IPPROTO_TCP, Some(113)));
    }

    #[test]
    fn unreadable_lines_are_counted_with_their_numbers() {
        let (p, w) = parse_all(
            "Here is what I captured:\n\
             13:05:08.533163 218.104.68.171.42390 > 220.xxx.160.xxx.110: S 950786859:950786859(0) win 16384\n\
             13:05:08.600000 arp who-has 192.168.1.1 tell 192.168.1.200\n\
             this line means nothing\n",
        );
        assert_eq!(p.len(), 1);
        let msg = w
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(msg.contains("2 lines were not understood"), "{msg}");
        assert!(msg.contains("lines 1, 4"), "{msg}");
        assert!(msg.contains("1 non-IP line (ARP"), "{msg}");
        // The prose line before the packets has no time stamp, yet the
        // printout has them (regression: it was said to be printed with -t).
        assert!(!msg.contains("without timestamps"), "{msg}");
    }

    #[test]
    fn names_and_services_without_dash_n() {
        let (p, _) = parse_all("13:05:13.107977 IP mail.example.com.38107 > fw.example.net.auth: Flags [S], seq 1, win 5840, length 0\n");
        assert_eq!(p[0].src, Host::named("mail.example.com"));
        assert_eq!(tcp(&p[0]).dst_port, 113);
    }

    #[test]
    fn any_interface_prefix_names_points() {
        let mut r = TextReader::new(
            "13:00:00.000000 eth1  In  IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n13:00:00.000100 eth2  Out IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n".as_bytes(),
            "t".into(),
        );
        let mut w = vec![];
        let a = r.next_packet(&mut w).unwrap().unwrap();
        let b = r.next_packet(&mut w).unwrap().unwrap();
        assert_eq!((a.meta.interface, b.meta.interface), (0, 1));
        assert_eq!(r.interfaces[1].name.as_deref(), Some("eth2"));
    }

    #[test]
    fn ipv6_addresses() {
        let (p, _) = parse_all("13:00:00.000000 IP6 2001:db8::1.40000 > 2001:db8::2.110: Flags [S], seq 1, win 1, length 0\n");
        assert_eq!(p[0].dst, Host::V6("2001:db8::2".parse().unwrap()));
    }

    #[test]
    fn fuzz_regression_signed_or_huge_times_are_not_times() {
        // Found by the text fuzz target: "-39393939:0:0" overflowed.
        assert_eq!(split_time("-39393939:0:0 x"), None);
        assert_eq!(split_time("99999999999999999.5 x"), None);
        // Nanoseconds since 1970 end in 2262: a later date is no time stamp,
        // and a file of nothing else is a clear error, not a panic.
        let text = "9999-12-31 23:59:59.9 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n";
        let mut r = TextReader::new(text.as_bytes(), "far.txt".into());
        let e = r.next_packet(&mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("no tcpdump packet line"), "{e}");
        let crash = include_bytes!("../tests/fuzz-regressions/text-negative-hour");
        let mut r = TextReader::new(&crash[..], "crash".into());
        let mut w = Vec::new();
        while let Ok(Some(_)) = r.next_packet(&mut w) {}
    }

    #[test]
    fn midnight_rollover() {
        let (p, _) = parse_all(
            "23:59:59.900000 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n00:00:00.100000 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n",
        );
        assert_eq!((p[1].meta.ts - p[0].meta.ts).nanos(), 200_000_000);
    }

    #[test]
    fn a_clock_field_of_one_digit_is_damage_not_a_time() {
        // Regression (issue 11): "13:05:1.916763" was read as 13:05:01.
        let (p, w) = parse_all(
            "13:05:08.533163 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n\
             13:05:1.916763 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n\
             13:05:09.000000 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n",
        );
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].meta.number, 3);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].location, Some(Location::Line(2)));
        assert!(matches!(
            &w[0].kind,
            WarningKind::UnreadableLines { count: 1, first, .. } if first.starts_with("13:05:1.916763")
        ));
    }

    #[test]
    fn a_printout_of_arp_alone_or_of_nothing_is_a_capture_without_ip() {
        let (p, w) =
            parse_all("13:05:08.533163 ARP, Request who-has 192.0.2.2 tell 192.0.2.1, length 28\n");
        assert!(p.is_empty());
        assert_eq!(w[0].kind, WarningKind::NonIpLines { count: 1 });
        let (p, w) = parse_all("");
        assert!(p.is_empty() && w.is_empty());
        let (p, w) = parse_all("\n  \n");
        assert!(p.is_empty() && w.is_empty());
    }
}
