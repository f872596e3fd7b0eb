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

//!
//! Files: this one reads lines and keeps the reader's state; `time.rs`
//! parses time stamps, `fields.rs` addresses, ports and the small fields,
//! `transport.rs` the TCP, UDP and ICMP parts (and undoes relative
//! sequence numbers).

mod dns;
mod fields;
#[cfg(test)]
mod tests;
mod time;
mod transport;

use std::collections::VecDeque;
use std::io::{BufRead, Read};

use stalltrace_decode::{FrameMeta, IpInfo, Packet, Timestamp, Transport, UdpDatagram};

use crate::{CaptureError, Interface, Location, Warning, WarningKind};

use fields::*;
use time::*;
use transport::*;

/// How many lines to look ahead to tell `-ttt` deltas from `-ttttt` offsets.
const TIME_MODE_LOOKAHEAD: usize = 64;
/// Unreadable lines listed by number; the rest are only counted.
const LISTED_UNREADABLE: usize = 20;
/// Longest line considered; longer ones are prose or binary, not tcpdump.
const MAX_LINE: usize = 64 * 1024;

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
                    dns: (sp == 53 || dp == 53)
                        .then(|| dns::parse_dns(body).map(Box::new))
                        .flatten(),
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
                offset: 0,
            },
            src,
            dst,
            ip,
            transport,
            truncated,
            link_src: None,
            // tcpdump prints VLAN tags only with -e, before the addresses.
            vlan: 0,
            tunnel: None,
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
