use std::collections::{BTreeMap, HashSet, VecDeque};

use stalltrace_conversations::{Conversation, PacketRef, Protocol, Side};
use stalltrace_decode::{Endpoint, TimeDelta, Timestamp};

use stalltrace_matching::{Matcher, Matching};

use crate::finding::*;

use crate::knowledge::{self, Remedy};

/// Tunables of the rules.
#[derive(Clone, Debug)]
pub struct DiagnosisConfig {
    /// A greeting or answer later than this is an application wait.
    pub wait_threshold: TimeDelta,
    /// Possible callbacks are kept this long after they end, to be found
    /// as the cause of a wait that is judged later.
    pub retain: TimeDelta,
    /// A wait is judged this long (stream time) after it ended, when every
    /// callback that began during it has been handed over. Must exceed the
    /// tracker's idle timeout.
    pub resolve_delay: TimeDelta,
}

impl Default for DiagnosisConfig {
    fn default() -> Self {
        DiagnosisConfig {
            wait_threshold: TimeDelta::from_secs(1),
            retain: TimeDelta::from_secs(900),
            resolve_delay: TimeDelta::from_secs(310),
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum WaitKind {
    /// Server-first service: the greeting came late.
    Greeting,
    /// Server-first service: no greeting before the client gave up.
    NoGreeting,
    /// An answer came late after a request.
    Response,
}

#[derive(Clone, Debug)]
struct Wait {
    kind: WaitKind,
    /// When the client could expect the server to speak.
    start: PacketRef,
    /// When the server spoke (or the client gave up).
    end: PacketRef,
    end_len: u32,
}

impl Wait {
    fn cost(&self) -> TimeDelta {
        self.end.ts - self.start.ts
    }
}

/// The diagnosis stage: takes finished conversations as they come and
/// produces findings.
///
/// ```
/// use stalltrace_diagnosis::{Diagnoser, DiagnosisConfig};
/// use stalltrace_matching::Matcher;
/// let d = Diagnoser::new(vec!["outside".into()], DiagnosisConfig::default());
/// let m = Matcher::new(Default::default()).finish(&["outside".into()]);
/// assert!(d.finish(&m).is_empty());
/// ```
pub struct Diagnoser {
    cfg: DiagnosisConfig,
    points: Vec<String>,
    recent: VecDeque<Conversation>,
    pending: Vec<(Conversation, Wait)>,
    unanswered: Vec<Conversation>,
    unanswered_overflow: u64,
    claimed: HashSet<(u32, u64)>,
    findings: Vec<(Timestamp, Finding)>,
    /// Stream time per capture point: points are read one after another.
    watermarks: Vec<Timestamp>,
}

/// Unanswered attempts kept individually; the rest are only counted.
const MAX_UNANSWERED: usize = 10_000;

impl Diagnoser {
    pub fn new(points: Vec<String>, cfg: DiagnosisConfig) -> Self {
        Diagnoser {
            cfg,
            points,
            recent: VecDeque::new(),
            pending: Vec::new(),
            unanswered: Vec::new(),
            unanswered_overflow: 0,
            claimed: HashSet::new(),
            findings: Vec::new(),
            watermarks: Vec::new(),
        }
    }

    /// Names the next capture point (points are numbered in order).
    pub fn add_point(&mut self, name: String) {
        self.points.push(name);
    }

    fn point(&self, p: u32) -> String {
        self.points
            .get(p as usize)
            .cloned()
            .unwrap_or_else(|| format!("point {p}"))
    }

    fn conv_ref(&self, c: &Conversation) -> ConversationRef {
        ConversationRef {
            point: self.point(c.point),
            protocol: c.protocol,
            client: c.client.clone(),
            server: c.server.clone(),
            service: knowledge::service_name(c.server.port).map(String::from),
        }
    }

    fn evidence(&self, c: &Conversation, p: PacketRef, what: String) -> Evidence {
        Evidence {
            point: self.point(c.point),
            packet: p.number,
            time: p.ts,
            time_of_day: p.ts.time_of_day(),
            what,
        }
    }

    /// Hands over one finished conversation.
    pub fn observe(&mut self, c: Conversation) {
        self.syn_ack_after_ack(&c);
        for w in waits(&c, self.cfg.wait_threshold) {
            self.pending.push((c.clone(), w));
        }
        if c.protocol == Protocol::Tcp && c.unanswered() {
            if self.unanswered.len() < MAX_UNANSWERED {
                self.unanswered.push(c.clone());
            } else {
                self.unanswered_overflow += 1;
            }
        }
        // Only a conversation opened by a host that was serving another can
        // be a callback; keeping just those keeps memory to what matters.
        if c.opened_while_serving {
            self.recent.push_back(c);
        }
    }

    /// Moves stream time on at one capture point: judges the waits whose
    /// callbacks are all in, and forgets conversations too old to matter.
    pub fn advance(&mut self, point: u32, now: Timestamp, m: &Matcher) {
        let i = point as usize;
        if self.watermarks.len() <= i {
            self.watermarks.resize(i + 1, Timestamp::ZERO);
        }
        if now <= self.watermarks[i] {
            return;
        }
        self.watermarks[i] = now;
        let delay = self.cfg.resolve_delay;
        let mut ready = Vec::new();
        self.pending.retain(|(c, w)| {
            let due = c.point == point && w.end.ts.saturating_add(delay) < now;
            if due {
                ready.push((c.clone(), w.clone()));
            }
            !due
        });
        for (c, w) in ready {
            self.judge(&c, &w, m);
        }
        let retain = self.cfg.retain;
        let oldest_pending = self.pending.iter().map(|(c, _)| c.first.ts).min();
        while let Some(front) = self.recent.front() {
            let front_now = self
                .watermarks
                .get(front.point as usize)
                .copied()
                .unwrap_or_default();
            let old = front.last.ts.saturating_add(retain) < front_now;
            let needed = oldest_pending.is_some_and(|t| front.last.ts >= t);
            if old && !needed {
                self.recent.pop_front();
            } else {
                break;
            }
        }
    }

    /// Ends the stream: judges every wait still pending. Call before the
    /// matcher finishes, since judging asks it where else a connection was.
    pub fn flush(&mut self, m: &Matcher) {
        let pending = std::mem::take(&mut self.pending);
        for (c, w) in pending {
            self.judge(&c, &w, m);
        }
    }

    /// Returns all findings, the same wait seen at several capture points
    /// merged into one, most severe and costly first.
    pub fn finish(mut self, matching: &Matching) -> Vec<Finding> {
        self.report_unanswered();
        let findings =
            crate::cross::merge(std::mem::take(&mut self.findings), matching, &self.points);
        let mut f = findings;
        f.sort_by(|a, b| {
            b.1.severity
                .cmp(&a.1.severity)
                .then(b.1.cost.cmp(&a.1.cost))
                .then(a.0.cmp(&b.0))
        });
        f.into_iter().map(|(_, f)| f).collect()
    }

    fn syn_ack_after_ack(&mut self, c: &Conversation) {
        let Some(first_ack) = c.handshake_ack() else {
            return;
        };
        let Some(first_synack) = c.syn_acks.first().copied() else {
            return;
        };
        let Some(resent) = c
            .syn_acks
            .iter()
            .skip(1)
            .find(|s| s.ts > first_ack.ts)
            .copied()
        else {
            return;
        };
        let after_first = resent.ts - first_synack.ts;
        let after_ack = resent.ts - first_ack.ts;
        let mut evidence = vec![
            self.evidence(c, first_synack, "server SYN-ACK".into()),
            self.evidence(
                c,
                first_ack,
                "client ACK completing the handshake, seen here".into(),
            ),
            self.evidence(
                c,
                resent,
                format!("server SYN-ACK re-sent (+{after_first})"),
            ),
        ];
        if let Some(again) = c.handshake_acks.iter().find(|a| a.ts > resent.ts) {
            evidence.push(self.evidence(c, *again, "client ACK again".into()));
        }
        let finding = Finding {
            id: FindingId::SynAckRetransmitted,
            severity: Severity::Warning,
            point: self.point(c.point),
            summary: format!(
                "The server {} re-sent its SYN-ACK {after_first} after the first although the client's ACK passed this point {after_ack} earlier: that ACK was lost between here and the server, or the server's accept queue was full.",
                c.server
            ),
            cost: Some(resent.ts - first_ack.ts),
            conversation: Some(self.conv_ref(c)),
            cause: None,
            details: vec![
                "Until the re-sent SYN-ACK is answered, the server does not consider the connection open: data it should send (a greeting) waits.".into(),
                "Capture nearer the server to see where the ACK died; on the server, `nstat -az TcpExtListenOverflows TcpExtListenDrops` tells whether the accept queue overflowed.".into(),
            ],
            evidence,
            remedies: Vec::new(),
            breakdown: Vec::new(),
            also_seen_at: Vec::new(),
            path: Vec::new(),
            timeline: None,
            facts: Some(Box::new(CrossFacts { subject: c.clone(), subject_elsewhere: Vec::new(), callback: None, callback_elsewhere: Vec::new() })),
        };
        self.findings.push((c.first.ts, finding));
    }

    fn judge(&mut self, c: &Conversation, w: &Wait, m: &Matcher) {
        let waiter = &c.server.host;
        let window_start = c.syns.first().map(|s| s.ts).unwrap_or(c.first.ts);
        let mut best: Option<(TimeDelta, Callback, &Conversation, Vec<PacketRef>)> = None;
        for k in &self.recent {
            if k.point != c.point
                || k.id == c.id
                || &k.client.host != waiter
                || k.first.ts < window_start
                || k.first.ts > w.end.ts
            {
                continue;
            }
            let Some((explained, cb, attempts)) = self.callback(k, w) else {
                continue;
            };
            if best.as_ref().is_none_or(|b| explained > b.0) {
                best = Some((explained, cb, k, attempts));
            }
        }
        let best = best.map(|(e, cb, k, a)| (e, cb, k.clone(), a));
        let cost = w.cost();
        let service = knowledge::service_name(c.server.port).unwrap_or("the service");
        let threshold = self.cfg.wait_threshold;
        let cause = best.filter(|(explained, cb, _, _)| {
            // A slow wait needs a callback that explains most of it; a fast
            // one is worth a word only for lookups.
            if cost >= threshold {
                explained.nanos() * 2 >= cost.nanos()
            } else {
                cb.kind != CallbackKind::Other
            }
        });
        if let Some((_, _, k, _)) = &cause {
            self.claimed.insert((c.point, k.id));
        }
        let facts = Box::new(CrossFacts {
            subject: c.clone(),
            subject_elsewhere: m.seen_elsewhere(c),
            callback_elsewhere: cause
                .as_ref()
                .map(|(_, _, k, _)| m.seen_elsewhere(k))
                .unwrap_or_default(),
            callback: cause.as_ref().map(|(_, _, k, _)| k.clone()),
        });
        if cost < threshold && w.kind != WaitKind::NoGreeting {
            if let Some((_, cb, _, attempts)) = cause {
                self.callback_info(c, w, cb, &attempts, service, facts);
            }
            return;
        }
        self.application_wait(c, w, cause.map(|(_, cb, _, a)| (cb, a)), service, facts);
    }

    /// Describes conversation `k` as a callback during wait `w`; None when it
    /// did not end in step with the wait.
    fn callback(
        &self,
        k: &Conversation,
        w: &Wait,
    ) -> Option<(TimeDelta, Callback, Vec<PacketRef>)> {
        let kind = match (k.protocol, k.server.port) {
            (Protocol::Tcp, knowledge::IDENT_PORT) => CallbackKind::Ident,
            (_, knowledge::DNS_PORT) => CallbackKind::Dns,
            _ => CallbackKind::Other,
        };
        let attempts_refs: Vec<PacketRef> = k.syns.clone();
        let start = k.first.ts;
        let attempts: Vec<TimeDelta> = attempts_refs.iter().map(|a| a.ts - start).collect();
        let (fate, resolved_at) = if let Some(r) = k.refused() {
            (
                Fate::Refused {
                    by: k.server.host.clone(),
                    after: r.ts - start,
                },
                Some(r.ts),
            )
        } else if let Some(e) = k.icmp_errors.iter().rfind(|e| e.about == Side::Client) {
            // The last error is the one that ended the attempt; earlier ones
            // were set aside by the opener's stack (see callback_details).
            (
                Fate::IcmpError {
                    by: e.from.clone(),
                    description: e.description.clone(),
                    after: e.packet.ts - start,
                },
                Some(e.packet.ts),
            )
        } else if !k.unanswered() {
            let answered = k.last_payload[Side::Server.index()]
                .map(|p| p.packet.ts)
                .or_else(|| k.syn_acks.first().map(|s| s.ts))
                .unwrap_or(k.last.ts);
            (
                Fate::Answered {
                    after: answered - start,
                },
                Some(answered),
            )
        } else {
            (Fate::Unanswered, None)
        };
        let slack = TimeDelta::from_millis(10);
        let explained = match resolved_at {
            Some(r) => {
                let gap = w.end.ts - r;
                let allowed = TimeDelta::from_nanos((w.cost().nanos() / 10).max(500_000_000));
                if gap < TimeDelta::ZERO - slack || gap > allowed {
                    return None;
                }
                r - start
            }
            None => {
                // Unanswered: the waiter gave up on it when the wait ended, so
                // no attempt may follow the end of the wait.
                if k.last.ts > w.end.ts.saturating_add(slack) {
                    return None;
                }
                w.end.ts - start
            }
        };
        let give_up = resolved_at.is_none().then_some(explained);
        let retries: Vec<f64> = attempts.iter().skip(1).map(|a| a.secs_f64()).collect();
        let backoff_matches = if k.protocol == Protocol::Tcp {
            knowledge::SYN_SCHEDULES
                .iter()
                .filter(|s| knowledge::schedule_matches(s, &retries))
                .map(|s| s.stack.to_string())
                .collect()
        } else {
            Vec::new()
        };
        // The known application timers are ident timers; a TCP give-up is
        // only meaningful for TCP.
        let (timer_matches, app_timer) = match give_up {
            Some(g) if k.protocol == Protocol::Tcp => {
                let secs = g.secs_f64();
                let t = if kind == CallbackKind::Ident {
                    knowledge::matching_timers(secs)
                        .into_iter()
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                // Not TCP giving up: no stack whose schedule fits gives up there.
                let stack_gave_up = knowledge::SYN_SCHEDULES
                    .iter()
                    .filter(|s| knowledge::schedule_matches(s, &retries) || retries.is_empty())
                    .any(|s| s.gives_up.is_some_and(|gu| (gu - secs).abs() <= 0.5));
                (t, !stack_gave_up)
            }
            _ => (Vec::new(), false),
        };
        let cb = Callback {
            kind,
            conversation: self.conv_ref(k),
            started: start,
            fate,
            attempts,
            backoff_matches,
            give_up,
            timer_matches,
            give_up_is_application_timer: app_timer,
        };
        Some((explained, cb, attempts_refs))
    }

    fn callback_phrase(&self, cb: &Callback) -> String {
        let what = match cb.kind {
            CallbackKind::Ident => "an ident (RFC 1413) lookup",
            CallbackKind::Dns => "a DNS lookup",
            CallbackKind::Other => "a connection",
        };
        format!(
            "{what} {} → {}",
            cb.conversation.client, cb.conversation.server
        )
    }

    fn fate_phrase(cb: &Callback) -> String {
        match &cb.fate {
            Fate::Unanswered => "never answered at this capture point".into(),
            Fate::Refused { by, after } => format!("refused by a RST from {by} in {after}"),
            Fate::IcmpError {
                by,
                description,
                after,
            } => format!("refused by ICMP {description} from {by} in {after}"),
            Fate::Answered { after } => format!("answered in {after}"),
        }
    }

    fn attempts_phrase(cb: &Callback) -> String {
        let offs: Vec<String> = cb
            .attempts
            .iter()
            .map(|a| {
                if a.nanos() == 0 {
                    "+0".to_string()
                } else {
                    format!("+{:.1}", a.secs_f64())
                }
            })
            .collect();
        let n = cb.attempts.len();
        let noun = match (cb.conversation.protocol, n) {
            (Protocol::Tcp, 1) => "SYN",
            (Protocol::Tcp, _) => "SYNs",
            (Protocol::Udp, 1) => "query",
            (Protocol::Udp, _) => "queries",
        };
        format!("{n} {noun} at {} s", offs.join(", "))
    }

    fn callback_details(&self, cb: &Callback) -> Vec<String> {
        let mut d = Vec::new();
        let fate = match cb.fate {
            Fate::Unanswered => format!(
                "{}: dropped further on, or discarded silently by the addressee",
                Self::fate_phrase(cb)
            ),
            _ => Self::fate_phrase(cb),
        };
        d.push(format!(
            "{} {}: {}, {fate}.",
            match cb.kind {
                CallbackKind::Ident => "Ident callback",
                CallbackKind::Dns => "DNS lookup",
                CallbackKind::Other => "Callback",
            },
            format_args!("{} → {}", cb.conversation.client, cb.conversation.server),
            Self::attempts_phrase(cb),
        ));
        if let Some(g) = cb.give_up {
            let mut s = format!(
                "The server gave up {} after its first {}",
                fmt_secs(g),
                match cb.conversation.protocol {
                    Protocol::Tcp => "SYN",
                    Protocol::Udp => "query",
                }
            );
            if cb.give_up_is_application_timer {
                let next = self.next_retry(cb);
                if let (Some(last), Some(next)) = (cb.attempts.last(), next) {
                    s.push_str(&format!(
                        ", between its +{:.0} s retry and the next one due at +{next:.0} s",
                        last.secs_f64()
                    ));
                }
                s.push_str(": an application timer, not TCP giving up");
            }
            if !cb.timer_matches.is_empty() {
                let names: Vec<&str> = cb.timer_matches.iter().map(|t| t.who).collect();
                s.push_str(&format!(". {} matches: {}", fmt_secs(g), names.join("; ")));
            }
            s.push('.');
            d.push(s);
        }
        if let (Fate::IcmpError { .. }, true) = (&cb.fate, cb.attempts.len() > 1) {
            d.push(format!(
                "The first ICMP error did not end the attempt: the SYN was sent {} times before one did. Linux sets an ICMP error aside as a soft error when it arrives while connect() holds the socket (counted as TcpExtLockDroppedIcmps), and then waits for its SYN retry.",
                cb.attempts.len()
            ));
        }
        if cb.kind == CallbackKind::Dns && cb.attempts.len() > 1 {
            let gaps_of_5 = cb
                .attempts
                .windows(2)
                .all(|w| ((w[1] - w[0]).secs_f64() - knowledge::RESOLVER_TRY_SECONDS).abs() < 0.5);
            if gaps_of_5 {
                d.push("The queries are 5 s apart: the glibc resolver's default (options timeout:5, attempts:2), so every unanswered lookup costs 10 s per name server.".into());
            }
        }
        if !cb.backoff_matches.is_empty() {
            let offs: Vec<String> = cb
                .attempts
                .iter()
                .skip(1)
                .map(|a| format!("+{:.1}", a.secs_f64()))
                .collect();
            d.push(format!(
                "The SYN back-off ({} s) matches {}.",
                offs.join(", "),
                cb.backoff_matches.join("; or ")
            ));
        }
        d
    }

    /// The retry the matched stack would have sent next.
    fn next_retry(&self, cb: &Callback) -> Option<f64> {
        let retries: Vec<f64> = cb.attempts.iter().skip(1).map(|a| a.secs_f64()).collect();
        knowledge::SYN_SCHEDULES
            .iter()
            .find(|s| knowledge::schedule_matches(s, &retries))
            .and_then(|s| s.retries.get(retries.len()).copied())
    }

    fn remedies(cb: &Callback, service_port: u16) -> Vec<Remedy> {
        match cb.kind {
            CallbackKind::Ident => {
                knowledge::ident_remedies(cb.give_up.map(|g| g.secs_f64()), service_port)
            }
            CallbackKind::Dns => knowledge::dns_remedies(),
            CallbackKind::Other => Vec::new(),
        }
    }

    fn callback_evidence(
        &self,
        c: &Conversation,
        cb: &Callback,
        attempts: &[PacketRef],
    ) -> Vec<Evidence> {
        let noun = match (cb.kind, cb.conversation.protocol) {
            (CallbackKind::Ident, _) => "ident SYN",
            (_, Protocol::Tcp) => "callback SYN",
            (_, Protocol::Udp) => "callback query",
        };
        let mut ev: Vec<Evidence> = attempts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let what = if i == 0 {
                    format!(
                        "{noun} {} → {}",
                        cb.conversation.client, cb.conversation.server
                    )
                } else {
                    format!(
                        "{noun} re-sent (+{:.1} s)",
                        (a.ts - attempts[0].ts).secs_f64()
                    )
                };
                self.evidence(c, *a, what)
            })
            .collect();
        if let (Fate::Refused { by, after } | Fate::IcmpError { by, after, .. }, Some(first)) =
            (&cb.fate, attempts.first())
        {
            let at = first.ts.saturating_add(*after);
            // The number of the refusing packet is in the callback's record.
            if let Some(k) = self.recent.iter().find(|k| {
                k.point == c.point
                    && k.client == cb.conversation.client
                    && k.server == cb.conversation.server
            }) {
                let p = k
                    .refused()
                    .or_else(|| k.icmp_errors.first().map(|e| e.packet));
                if let Some(p) = p {
                    ev.push(self.evidence(c, p, format!("refusal from {by} (+{after})")));
                }
            } else {
                ev.push(Evidence {
                    point: self.point(c.point),
                    packet: 0,
                    time: at,
                    time_of_day: at.time_of_day(),
                    what: format!("refusal from {by}"),
                });
            }
        }
        ev
    }

    fn callback_info(
        &mut self,
        c: &Conversation,
        w: &Wait,
        cb: Callback,
        attempts: &[PacketRef],
        service: &str,
        facts: Box<CrossFacts>,
    ) {
        let mut evidence = self.callback_evidence(c, &cb, attempts);
        evidence.push(self.evidence(
            c,
            w.end,
            format!("server {service} greeting ({} bytes)", w.end_len),
        ));
        let summary = format!(
            "During the {service} connection from {} the server made {}, {}; the {} came {} after the handshake.",
            c.client,
            self.callback_phrase(&cb),
            Self::fate_phrase(&cb),
            if w.kind == WaitKind::Response { "answer" } else { "greeting" },
            w.cost()
        );
        let mut details = self.callback_details(&cb);
        if matches!(cb.fate, Fate::Refused { .. }) {
            details.push("A prompt refusal is why this is fast: had the lookup been dropped silently, the server would have waited for its ident timer (often 30 s).".into());
        }
        let remedies = Self::remedies(&cb, c.server.port)
            .into_iter()
            .filter(|r| !r.target.starts_with("the firewall") && !r.target.starts_with("the NAT"))
            .collect();
        self.findings.push((
            c.first.ts,
            Finding {
                id: FindingId::CallbackLookup,
                severity: Severity::Info,
                point: self.point(c.point),
                summary,
                cost: Some(cb_cost(&cb)),
                conversation: Some(self.conv_ref(c)),
                cause: Some(cb),
                details,
                evidence,
                remedies,
                breakdown: Vec::new(),
                also_seen_at: Vec::new(),
                path: Vec::new(),
                timeline: None,
                facts: Some(facts),
            },
        ));
    }

    fn application_wait(
        &mut self,
        c: &Conversation,
        w: &Wait,
        cause: Option<(Callback, Vec<PacketRef>)>,
        service: &str,
        facts: Box<CrossFacts>,
    ) {
        let cost = w.cost();
        let first_syn = c.syns.first().copied();
        let since_syn = first_syn.map(|s| w.end.ts - s.ts);
        let mut evidence = Vec::new();
        if let Some(s) = first_syn {
            evidence.push(self.evidence(c, s, format!("client SYN {} → {}", c.client, c.server)));
        }
        let what_start = match w.kind {
            WaitKind::Response => format!("client request ({} → {})", c.client, c.server),
            _ => "client ACK completing the handshake".into(),
        };
        evidence.push(self.evidence(c, w.start, what_start));
        // A SYN-ACK re-sent after the ACK: the server only had the connection later.
        let server_open = c
            .syn_acks
            .iter()
            .skip(1)
            .rfind(|s| s.ts > w.start.ts && s.ts < w.end.ts)
            .and_then(|s| {
                c.handshake_acks
                    .iter()
                    .find(|a| a.ts > s.ts)
                    .map(|a| (*s, *a))
            });
        if let Some((resent, ack)) = server_open {
            evidence.push(self.evidence(
                c,
                resent,
                "server SYN-ACK re-sent: the first ACK never reached it".into(),
            ));
            evidence.push(self.evidence(c, ack, "client ACK again".into()));
        }
        let mut details = Vec::new();
        let mut breakdown = Vec::new();
        let mut remedies = Vec::new();
        let kind_word = match w.kind {
            WaitKind::Response => "answer",
            _ => "greeting",
        };
        let mut summary = match (w.kind, since_syn) {
            (WaitKind::NoGreeting, _) => format!(
                "The {service} server {} never sent its greeting: the client gave up after {cost}.",
                c.server
            ),
            (WaitKind::Response, _) => format!("The {service} server {} answered a request after {cost}", c.server),
            (_, Some(s)) => format!(
                "The {service} greeting came {s} after the client's SYN ({cost} after the handshake)"
            ),
            (_, None) => format!("The {service} greeting came {cost} after the handshake"),
        };
        let mut mark = w.start.ts;
        if let Some((resent, ack)) = server_open {
            breakdown.push(segment(
                SegmentKind::Network,
                "handshake ACK lost before the server; SYN-ACK re-sent",
                mark,
                ack.ts,
            ));
            details.push(format!(
                "The first {} went to the handshake: the server re-sent its SYN-ACK at {} because the client's first ACK never reached it, so the server had the connection only after the client's second ACK ({}).",
                ack.ts - mark,
                resent.ts.time_of_day(),
                ack.ts.time_of_day()
            ));
            mark = ack.ts;
        }
        let cause_cb = cause.as_ref().map(|(cb, _)| cb.clone());
        if let Some((cb, attempts)) = cause {
            let waited = cb_cost(&cb);
            if w.kind != WaitKind::NoGreeting {
                summary.push_str(&format!(
                    ": the server waited {} for {}, {}.",
                    fmt_secs(waited),
                    self.callback_phrase(&cb),
                    Self::fate_phrase(&cb)
                ));
            }
            if cb.started > mark {
                breakdown.push(segment(
                    SegmentKind::Server,
                    "server before the callback",
                    mark,
                    cb.started,
                ));
            }
            let cb_end = cb.started.saturating_add(waited);
            breakdown.push(segment(
                SegmentKind::Dependency,
                &format!("waiting on {}", self.callback_phrase(&cb)),
                cb.started.max(mark),
                cb_end,
            ));
            if w.end.ts > cb_end {
                breakdown.push(segment(
                    SegmentKind::Server,
                    "server after the callback",
                    cb_end,
                    w.end.ts,
                ));
            }
            details.extend(self.callback_details(&cb));
            evidence.extend(self.callback_evidence(c, &cb, &attempts));
            remedies = Self::remedies(&cb, c.server.port);
        } else {
            if w.kind != WaitKind::NoGreeting {
                summary.push('.');
            }
            breakdown.push(segment(
                SegmentKind::Server,
                "server (cause not visible here)",
                mark,
                w.end.ts,
            ));
            details.push(format!(
                "No connection from {} was seen at this capture point during the wait, so its cause is not visible here.",
                c.server.host
            ));
            if c.client.host.is_private() && !c.server.host.is_private() {
                details.push(format!(
                    "The client {} has a private address: it reaches the server through NAT, so a callback from the server (ident on tcp/113, or any other) goes to the NAT device's outside address and never shows here. Capture on the NAT device's outside interface, or at the server, to see it.",
                    c.client.host
                ));
            } else {
                details.push("Capture at the server, or on its side of the path, to see what it waited for (an ident or DNS lookup, a back end).".into());
            }
            // What the server spent once it had the connection.
            let residual = w.end.ts - mark;
            let timers = knowledge::matching_timers(residual.secs_f64());
            if !timers.is_empty() {
                details.push(format!(
                    "The server spoke {} after it had the connection, which matches known lookup timers: {}. An ident or DNS callback that nothing answered is the likely cause.",
                    fmt_secs(residual),
                    timers.iter().map(|t| t.who).collect::<Vec<_>>().join("; ")
                ));
            }
        }
        evidence.push(self.evidence(
            c,
            w.end,
            match w.kind {
                WaitKind::NoGreeting => "client gives up".into(),
                WaitKind::Response => format!("server {service} answer"),
                WaitKind::Greeting => format!("server {service} {kind_word} ({} bytes)", w.end_len),
            },
        ));
        evidence.sort_by_key(|e| (e.time, e.packet));
        let severity = if cost >= TimeDelta::from_secs(5) {
            Severity::Critical
        } else {
            Severity::Warning
        };
        self.findings.push((
            c.first.ts,
            Finding {
                id: FindingId::ApplicationWait,
                severity,
                point: self.point(c.point),
                summary,
                cost: Some(cost),
                conversation: Some(self.conv_ref(c)),
                cause: cause_cb,
                details,
                evidence,
                remedies,
                breakdown,
                also_seen_at: Vec::new(),
                path: Vec::new(),
                timeline: None,
                facts: Some(facts),
            },
        ));
    }

    fn report_unanswered(&mut self) {
        let mut groups: BTreeMap<(u32, Endpoint), Vec<Conversation>> = BTreeMap::new();
        for c in std::mem::take(&mut self.unanswered) {
            if self.claimed.contains(&(c.point, c.id)) {
                continue;
            }
            groups
                .entry((c.point, c.server.clone()))
                .or_default()
                .push(c);
        }
        for ((point, server), convs) in groups {
            let first = &convs[0];
            let syns: u32 = convs.iter().map(|c| c.syn_count).sum();
            let mut evidence: Vec<Evidence> = convs
                .iter()
                .take(4)
                .flat_map(|c| c.syns.iter().take(4).map(move |s| (c, *s)))
                .map(|(c, s)| self.evidence(c, s, format!("SYN {} → {}", c.client, c.server)))
                .collect();
            evidence.truncate(8);
            let span = convs
                .iter()
                .map(|c| c.last.ts)
                .max()
                .unwrap_or(first.last.ts)
                - first.first.ts;
            let summary = if convs.len() == 1 {
                format!(
                    "{} sent {} SYN{} to {server} over {span}; none was answered at this capture point.",
                    first.client,
                    syns,
                    if syns == 1 { "" } else { "s" }
                )
            } else {
                format!(
                    "{} connection attempts ({syns} SYNs) to {server} were never answered at this capture point.",
                    convs.len()
                )
            };
            self.findings.push((
                first.first.ts,
                Finding {
                    id: FindingId::ConnectionUnanswered,
                    severity: Severity::Warning,
                    point: self.point(point),
                    summary,
                    cost: None,
                    conversation: Some(self.conv_ref(first)),
                    cause: None,
                    details: vec![
                        "No SYN-ACK, RST or ICMP error came back: the SYNs were dropped further on (a firewall dropping by policy, a route) or the addressee discards them silently.".into(),
                    ],
                    evidence,
                    remedies: Vec::new(),
                    breakdown: Vec::new(),
                    also_seen_at: Vec::new(),
                    path: Vec::new(),
                    timeline: None,
                    facts: None,
                },
            ));
        }
        if self.unanswered_overflow > 0 {
            self.findings.push((
                Timestamp::ZERO,
                Finding {
                    id: FindingId::ConnectionUnanswered,
                    severity: Severity::Warning,
                    point: String::new(),
                    summary: format!(
                        "{} further unanswered connection attempts were counted but not listed.",
                        self.unanswered_overflow
                    ),
                    cost: None,
                    conversation: None,
                    cause: None,
                    details: Vec::new(),
                    evidence: Vec::new(),
                    remedies: Vec::new(),
                    breakdown: Vec::new(),
                    also_seen_at: Vec::new(),
                    path: Vec::new(),
                    timeline: None,
                    facts: None,
                },
            ));
        }
    }
}

fn segment(kind: SegmentKind, label: &str, from: Timestamp, to: Timestamp) -> TimeSegment {
    TimeSegment {
        kind,
        label: label.into(),
        from,
        to,
        duration: to - from,
    }
}

/// How long the waiter spent on a callback.
fn cb_cost(cb: &Callback) -> TimeDelta {
    match &cb.fate {
        Fate::Unanswered => cb.give_up.unwrap_or_default(),
        Fate::Refused { after, .. } | Fate::IcmpError { after, .. } | Fate::Answered { after } => {
            *after
        }
    }
}

/// "30.0 s" for seconds-scale values even under 1 s granularity.
fn fmt_secs(d: TimeDelta) -> String {
    d.to_string()
}

/// The waits in one conversation that may be worth judging.
fn waits(c: &Conversation, threshold: TimeDelta) -> Vec<Wait> {
    let mut out = Vec::new();
    if c.protocol != Protocol::Tcp {
        return out;
    }
    let Some(start) = c.established() else {
        return out;
    };
    let server_payload = c.first_payload[Side::Server.index()];
    let client_payload = c.first_payload[Side::Client.index()];
    let server_first_port = knowledge::server_first_service(c.server.port).is_some();
    // A fast greeting is only worth a look when the server opened another
    // connection meanwhile (a lookup that cost little).
    let worth = |end: PacketRef| end.ts - start.ts >= threshold || c.server_opened_meanwhile > 0;
    match server_payload {
        Some(g)
            if client_payload.is_none_or(|cp| g.packet.ts <= cp.packet.ts) && worth(g.packet) =>
        {
            out.push(Wait {
                kind: WaitKind::Greeting,
                start,
                end: g.packet,
                end_len: g.len,
            });
        }
        None if server_first_port && client_payload.is_none() => {
            // The client left without a greeting.
            let gave_up = c.fins[Side::Client.index()]
                .or(c.rst.filter(|(s, _)| *s == Side::Client).map(|(_, p)| p));
            if let Some(end) = gave_up {
                out.push(Wait {
                    kind: WaitKind::NoGreeting,
                    start,
                    end,
                    end_len: 0,
                });
            }
        }
        _ => {}
    }
    if let Some(t) = c
        .longest_turns
        .iter()
        .find(|t| t.responder == Side::Server && t.wait() >= threshold)
    {
        out.push(Wait {
            kind: WaitKind::Response,
            start: t.request,
            end: t.response,
            end_len: 0,
        });
    }
    out
}
