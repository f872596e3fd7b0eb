use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use stalltrace_conversations::{Conversation, PacketBrief, PacketRef, Protocol, Side, Tracker};
use stalltrace_decode::{Endpoint, Host, TimeDelta, Timestamp};

use stalltrace_matching::{Matcher, Matching};

use crate::finding::*;
use crate::lang::Lang;
use crate::storm::Storm;

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
    /// The language of every sentence.
    pub lang: Lang,
    /// The input is one capture point, for certain. Then a wait is judged
    /// as soon as every callback that may explain it has ended (not a
    /// resolve delay later: with several points it must also be seen
    /// elsewhere first), a callback is forgotten once no wait can still
    /// need it, and each finding is folded into an earlier one like it as
    /// it is made (see `Finding::repeats`; with several points findings are
    /// merged first, then folded). Memory then follows the conversations
    /// in progress and the kinds of trouble, not the length of the capture.
    pub one_point: bool,
}

impl Default for DiagnosisConfig {
    fn default() -> Self {
        DiagnosisConfig {
            wait_threshold: TimeDelta::from_secs(1),
            retain: TimeDelta::from_secs(900),
            resolve_delay: TimeDelta::from_secs(310),
            lang: Lang::En,
            one_point: false,
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
    /// Possible callbacks by capture point and opener (the waiting
    /// server), by start time: judging a wait looks only at the callbacks
    /// its server opened while it lasted.
    recent: HashMap<(u32, Host), BTreeMap<(Timestamp, u64), Recent>>,
    /// The same, in arrival order, to forget them oldest first.
    recent_order: VecDeque<RecentKey>,
    arrivals: u64,
    /// Waits to judge, per point and waiting server, by when they ended.
    pending: HashMap<(u32, Host), WaitQueue>,
    /// Start times of the pending waits' conversations (a multiset): no
    /// callback from then on may be forgotten.
    pending_starts: BTreeMap<Timestamp, u32>,
    unanswered: Vec<Conversation>,
    unanswered_overflow: u64,
    /// Every unanswered attempt, counted per point in bounded memory.
    storms: HashMap<u32, Storm>,
    claimed: HashSet<(u32, u64)>,
    findings: Vec<(Timestamp, Finding)>,
    folder: crate::fold::Folder,
    /// Stream time per capture point: points are read one after another.
    watermarks: Vec<Timestamp>,
}

/// Waits by (end, arrival).
type WaitQueue = BTreeMap<(Timestamp, u64), (Conversation, Wait)>;

/// A possible callback, kept for waits judged later.
struct Recent {
    arrival: u64,
    conv: Conversation,
}

struct RecentKey {
    point: u32,
    opener: Host,
    first: Timestamp,
    last: Timestamp,
    arrival: u64,
}

/// Unanswered attempts kept individually; the rest are only counted.
const MAX_UNANSWERED: usize = 10_000;
/// More unanswered attempts than this at one point is a flood or a scan,
/// reported as one finding rather than one per target.
const STORM_MIN: u64 = 200;

impl Diagnoser {
    pub fn new(points: Vec<String>, cfg: DiagnosisConfig) -> Self {
        Diagnoser {
            cfg,
            points,
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
            arrivals: 0,
            pending: HashMap::new(),
            pending_starts: BTreeMap::new(),
            unanswered: Vec::new(),
            unanswered_overflow: 0,
            storms: HashMap::new(),
            claimed: HashSet::new(),
            findings: Vec::new(),
            folder: Default::default(),
            watermarks: Vec::new(),
        }
    }

    /// Keeps a finding, folded into an earlier one like it when asked to
    /// (a folded finding is dropped, with what it kept for merging).
    fn emit(&mut self, (t, f): (Timestamp, Finding)) {
        if self.cfg.one_point {
            self.folder.add(&mut self.findings, t, f);
        } else {
            self.findings.push((t, f));
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

    /// Hands over one finished conversation. Returns its packet log when
    /// nothing kept it, for the tracker to reuse
    /// ([`Tracker::recycle_log`]).
    pub fn observe(&mut self, mut c: Conversation) -> Option<Vec<PacketBrief>> {
        self.syn_ack_after_ack(&c);
        for w in waits(&c, self.cfg.wait_threshold) {
            self.arrivals += 1;
            *self.pending_starts.entry(c.first.ts).or_default() += 1;
            self.pending
                .entry((c.point, c.server.host.clone()))
                .or_default()
                .insert((w.end.ts, self.arrivals), (c.clone(), w));
        }
        if c.protocol == Protocol::Tcp && c.unanswered() {
            let storm = self.storms.entry(c.point).or_insert_with(Storm::new);
            storm.add(&c);
            if storm.attempts > STORM_MIN {
                // A flood or a scan at this point: told as one finding from
                // its counts, so the attempts listed one by one can go.
                if storm.attempts == STORM_MIN + 1 {
                    self.unanswered.retain(|u| u.point != c.point);
                }
            } else if self.unanswered.len() < MAX_UNANSWERED {
                self.unanswered.push(c.clone());
            } else {
                self.unanswered_overflow += 1;
            }
        }
        // Only a conversation opened by a host that was serving another can
        // be a callback; keeping just those keeps memory to what matters.
        if c.opened_while_serving {
            self.arrivals += 1;
            let key = RecentKey {
                point: c.point,
                opener: c.client.host.clone(),
                first: c.first.ts,
                last: c.last.ts,
                arrival: self.arrivals,
            };
            self.recent
                .entry((c.point, c.client.host.clone()))
                .or_default()
                .insert(
                    (c.first.ts, self.arrivals),
                    Recent {
                        arrival: self.arrivals,
                        conv: c,
                    },
                );
            self.recent_order.push_back(key);
            return None;
        }
        Some(std::mem::take(&mut c.log))
    }

    /// Moves stream time on at one capture point: judges the waits whose
    /// callbacks are all in, and forgets conversations too old to matter.
    /// `live` is the point's tracker while it still has conversations: with
    /// [`DiagnosisConfig::one_point`] it tells which callbacks are still
    /// going on. Call it after handing over what the tracker finished.
    pub fn advance(&mut self, point: u32, now: Timestamp, m: &Matcher, live: Option<&Tracker>) {
        let i = point as usize;
        if self.watermarks.len() <= i {
            self.watermarks.resize(i + 1, Timestamp::ZERO);
        }
        if now <= self.watermarks[i] {
            return;
        }
        self.watermarks[i] = now;
        let delay = self.cfg.resolve_delay;
        let early = self.cfg.one_point;
        let mut ready = Vec::new();
        let mut emptied = Vec::new();
        for ((p, waiter), queue) in self.pending.iter_mut() {
            if *p != point {
                continue;
            }
            // A wait that ended before the waiter's oldest callback still
            // going on began has seen all its callbacks end.
            let still_open = if early {
                live.and_then(|t| t.oldest_live_callback(waiter))
            } else {
                Some(Timestamp::ZERO)
            };
            while let Some(entry) = queue.first_entry() {
                let end = entry.key().0;
                let due = end.saturating_add(delay) < now;
                let all_in = still_open.is_none_or(|s| end < s);
                if !(due || all_in) {
                    break;
                }
                let ((_, arrival), cw) = entry.remove_entry();
                ready.push((arrival, cw));
            }
            if queue.is_empty() {
                emptied.push((*p, waiter.clone()));
            }
        }
        for k in emptied {
            self.pending.remove(&k);
        }
        // In the order they arrived, as a stream without the index would.
        ready.sort_by_key(|(arrival, _)| *arrival);
        for (_, (c, w)) in ready {
            self.unpend(c.first.ts);
            self.judge(&c, &w, m);
        }
        let retain = self.cfg.retain;
        let oldest_pending = self.pending_starts.keys().next().copied();
        while let Some(front) = self.recent_order.front() {
            let front_now = self
                .watermarks
                .get(front.point as usize)
                .copied()
                .unwrap_or_default();
            let old = front.last.saturating_add(retain) < front_now;
            let needed = oldest_pending.is_some_and(|t| front.last >= t);
            // With one point: no conversation its opener serves began
            // before it, so no wait still to come can be explained by it.
            let moot = early
                && front.point == point
                && live
                    .and_then(|t| t.oldest_live_served(&front.opener))
                    .is_none_or(|s| s > front.first);
            if !(old || moot) || needed {
                break;
            }
            let k = self.recent_order.pop_front().expect("front exists");
            let by_opener = (k.point, k.opener);
            if let Some(list) = self.recent.get_mut(&by_opener) {
                list.remove(&(k.first, k.arrival));
                if list.is_empty() {
                    self.recent.remove(&by_opener);
                }
            }
        }
    }

    fn unpend(&mut self, first: Timestamp) {
        if let Some(n) = self.pending_starts.get_mut(&first) {
            *n -= 1;
            if *n == 0 {
                self.pending_starts.remove(&first);
            }
        }
    }

    /// Ends the stream: judges every wait still pending. Call before the
    /// matcher finishes, since judging asks it where else a connection was.
    pub fn flush(&mut self, m: &Matcher) {
        let mut all: Vec<(u64, (Conversation, Wait))> = std::mem::take(&mut self.pending)
            .into_values()
            .flat_map(|q| q.into_iter().map(|((_, arrival), cw)| (arrival, cw)))
            .collect();
        all.sort_by_key(|(arrival, _)| *arrival);
        self.pending_starts.clear();
        for (_, (c, w)) in all {
            self.judge(&c, &w, m);
        }
    }

    /// Conversations held for judging later: waits not yet judged,
    /// possible callbacks, unanswered attempts. What the diagnosis's memory
    /// follows.
    pub fn held(&self) -> usize {
        self.pending.values().map(|q| q.len()).sum::<usize>()
            + self.recent_order.len()
            + self.unanswered.len()
    }

    /// Returns all findings, the same wait seen at several capture points
    /// merged into one, most severe and costly first.
    pub fn finish(mut self, matching: &Matching) -> Vec<Finding> {
        self.report_unanswered();
        let findings = crate::cross::merge(
            std::mem::take(&mut self.findings),
            matching,
            &self.points,
            self.cfg.lang,
        );
        let mut f = if self.cfg.one_point {
            findings
        } else {
            crate::fold::fold_all(findings)
        };
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
        let l = self.cfg.lang;
        let after_first = resent.ts - first_synack.ts;
        let after_ack = resent.ts - first_ack.ts;
        let mut evidence = vec![
            self.evidence(
                c,
                first_synack,
                tr!(l, "server SYN-ACK", "服务器 SYN-ACK").into(),
            ),
            self.evidence(
                c,
                first_ack,
                tr!(
                    l,
                    "client ACK completing the handshake, seen here",
                    "客户端完成握手的 ACK（在此捕获点可见）"
                )
                .into(),
            ),
            self.evidence(
                c,
                resent,
                tr!(
                    l,
                    format!("server SYN-ACK re-sent (+{after_first})"),
                    format!("服务器重发 SYN-ACK（+{}）", l.dur(after_first))
                ),
            ),
        ];
        if let Some(again) = c.handshake_acks.iter().find(|a| a.ts > resent.ts) {
            evidence.push(self.evidence(
                c,
                *again,
                tr!(l, "client ACK again", "客户端再次 ACK").into(),
            ));
        }
        let finding = Finding {
            id: FindingId::SynAckRetransmitted,
            severity: Severity::Warning,
            point: self.point(c.point),
            summary: tr!(
                l,
                format!(
                    "The server {} re-sent its SYN-ACK {after_first} after the first although the client's ACK passed this point {after_ack} earlier: that ACK was lost between here and the server, or the server's accept queue was full.",
                    c.server
                ),
                format!(
                    "服务器 {} 在第一次 SYN-ACK 之后 {} 重发了 SYN-ACK，而客户端的 ACK 早在 {} 之前就已经过此捕获点：该 ACK 在此处与服务器之间丢失，或服务器的 accept 队列已满。",
                    c.server,
                    l.dur(after_first),
                    l.dur(after_ack)
                )
            ),
            cost: Some(resent.ts - first_ack.ts),
            conversation: Some(self.conv_ref(c)),
            details: vec![
                tr!(
                    l,
                    "Until the re-sent SYN-ACK is answered, the server does not consider the connection open: data it should send (a greeting) waits.",
                    "在重发的 SYN-ACK 得到应答之前，服务器不认为连接已建立：它应发送的数据（如欢迎信息）只能等待。"
                )
                .into(),
                tr!(
                    l,
                    "Capture nearer the server to see where the ACK died; on the server, `nstat -az TcpExtListenOverflows TcpExtListenDrops` tells whether the accept queue overflowed.",
                    "请在更靠近服务器的位置抓包，查看 ACK 在何处丢失；在服务器上运行 `nstat -az TcpExtListenOverflows TcpExtListenDrops` 可判断 accept 队列是否溢出。"
                )
                .into(),
            ],
            evidence,
            facts: Some(Box::new(CrossFacts { subject: c.clone(), subject_elsewhere: Vec::new(), callback: None, callback_elsewhere: Vec::new() })),
            ..Finding::empty()
        };
        self.emit((c.first.ts, finding));
    }

    fn judge(&mut self, c: &Conversation, w: &Wait, m: &Matcher) {
        let waiter = &c.server.host;
        let window_start = c.syns.first().map(|s| s.ts).unwrap_or(c.first.ts);
        let mut best: Option<(TimeDelta, Callback, &Conversation, Vec<PacketRef>, u64)> = None;
        let opened = self
            .recent
            .get(&(c.point, waiter.clone()))
            .into_iter()
            .flat_map(|l| l.range((window_start, 0)..=(w.end.ts, u64::MAX)));
        for (_, Recent { arrival, conv: k }) in opened {
            if k.id == c.id {
                continue;
            }
            // An ident lookup asks the client it is about: on a busy server
            // another session's lookup may line up by chance, but it goes
            // to another address.
            if k.protocol == Protocol::Tcp
                && k.server.port == knowledge::IDENT_PORT
                && k.server.host != c.client.host
            {
                continue;
            }
            let Some((explained, cb, attempts)) = self.callback(k, w) else {
                continue;
            };
            // Ties go to the first to arrive.
            if best
                .as_ref()
                .is_none_or(|b| explained > b.0 || (explained == b.0 && *arrival < b.4))
            {
                best = Some((explained, cb, k, attempts, *arrival));
            }
        }
        let best = best.map(|(e, cb, k, a, _)| (e, cb, k.clone(), a));
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
                .map(|s| s.name(self.cfg.lang).to_string())
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
        let l = self.cfg.lang;
        let what = match cb.kind {
            CallbackKind::Ident => tr!(l, "an ident (RFC 1413) lookup", "ident（RFC 1413）反查"),
            CallbackKind::Dns => tr!(l, "a DNS lookup", "DNS 查询"),
            CallbackKind::Other => tr!(l, "a connection", "连接"),
        };
        format!(
            "{what} {} → {}",
            cb.conversation.client, cb.conversation.server
        )
    }

    fn fate_phrase(l: Lang, cb: &Callback) -> String {
        match &cb.fate {
            Fate::Unanswered => tr!(
                l,
                "never answered at this capture point",
                "在此捕获点始终没有应答"
            )
            .into(),
            Fate::Refused { by, after } => tr!(
                l,
                format!("refused by a RST from {by} in {after}"),
                format!("在 {} 内被 {by} 以 RST 拒绝", l.dur(*after))
            ),
            Fate::IcmpError {
                by,
                description,
                after,
            } => tr!(
                l,
                format!("refused by ICMP {description} from {by} in {after}"),
                format!(
                    "在 {} 内被 {by} 以 ICMP {} 拒绝",
                    l.dur(*after),
                    l.icmp(description)
                )
            ),
            Fate::Answered { after } => tr!(
                l,
                format!("answered in {after}"),
                format!("在 {} 内得到应答", l.dur(*after))
            ),
        }
    }

    fn attempts_phrase(l: Lang, cb: &Callback) -> String {
        let n = cb.attempts.len();
        let at = l.offsets(&cb.attempts);
        match (l, cb.conversation.protocol, n) {
            (Lang::En, Protocol::Tcp, 1) => format!("1 SYN at {at}"),
            (Lang::En, Protocol::Tcp, _) => format!("{n} SYNs at {at}"),
            (Lang::En, Protocol::Udp, 1) => format!("1 query at {at}"),
            (Lang::En, Protocol::Udp, _) => format!("{n} queries at {at}"),
            (Lang::ZhCn, Protocol::Tcp, _) => format!("{n} 个 SYN，分别在 {at}"),
            (Lang::ZhCn, Protocol::Udp, _) => format!("{n} 次查询，分别在 {at}"),
        }
    }

    fn callback_details(&self, cb: &Callback) -> Vec<String> {
        let l = self.cfg.lang;
        let mut d = Vec::new();
        let fate = match cb.fate {
            Fate::Unanswered => tr!(
                l,
                format!(
                    "{}: dropped further on, or discarded silently by the addressee",
                    Self::fate_phrase(l, cb)
                ),
                format!(
                    "{}：在更远处被丢弃，或被目标主机静默丢弃",
                    Self::fate_phrase(l, cb)
                )
            ),
            _ => Self::fate_phrase(l, cb),
        };
        let what = match cb.kind {
            CallbackKind::Ident => tr!(l, "Ident callback", "ident 回连"),
            CallbackKind::Dns => tr!(l, "DNS lookup", "DNS 查询"),
            CallbackKind::Other => tr!(l, "Callback", "回连"),
        };
        let ends = format!("{} → {}", cb.conversation.client, cb.conversation.server);
        d.push(tr!(
            l,
            format!("{what} {ends}: {}, {fate}.", Self::attempts_phrase(l, cb)),
            format!("{what} {ends}：{}，{fate}。", Self::attempts_phrase(l, cb))
        ));
        if let Some(g) = cb.give_up {
            let first = match (l, cb.conversation.protocol) {
                (Lang::En, Protocol::Tcp) => "SYN",
                (Lang::En, Protocol::Udp) => "query",
                (Lang::ZhCn, Protocol::Tcp) => "SYN",
                (Lang::ZhCn, Protocol::Udp) => "查询",
            };
            let mut s = tr!(
                l,
                format!("The server gave up {} after its first {first}", l.dur(g)),
                format!("服务器在发出第一个 {first} 之后 {} 放弃", l.dur(g))
            );
            if cb.give_up_is_application_timer {
                if let (Some(last), Some(next)) = (cb.attempts.last(), self.next_retry(cb)) {
                    s.push_str(&tr!(
                        l,
                        format!(
                            ", between its +{:.0} s retry and the next one due at +{next:.0} s",
                            last.secs_f64()
                        ),
                        format!(
                            "，恰在 +{:.0} 秒的重传与本应在 +{next:.0} 秒的下一次重传之间",
                            last.secs_f64()
                        )
                    ));
                }
                s.push_str(tr!(
                    l,
                    ": an application timer, not TCP giving up",
                    "：这是应用程序的定时器，而不是 TCP 自身放弃"
                ));
            }
            if !cb.timer_matches.is_empty() {
                let names: Vec<String> = cb
                    .timer_matches
                    .iter()
                    .map(|t| t.who(l).to_string())
                    .collect();
                s.push_str(&tr!(
                    l,
                    format!(". {} matches: {}", l.dur(g), names.join("; ")),
                    format!("。{} 与以下定时器吻合：{}", l.dur(g), names.join("；"))
                ));
            }
            s.push_str(tr!(l, ".", "。"));
            d.push(s);
        }
        if let (Fate::IcmpError { .. }, true) = (&cb.fate, cb.attempts.len() > 1) {
            d.push(tr!(
                l,
                format!("The first ICMP error did not end the attempt: the SYN was sent {} times before one did. Linux sets an ICMP error aside as a soft error when it arrives while connect() holds the socket (counted as TcpExtLockDroppedIcmps), and then waits for its SYN retry.", cb.attempts.len()),
                format!("第一个 ICMP 差错并没有结束这次连接尝试：SYN 共发送了 {} 次才被终止。ICMP 差错若在 connect() 持有套接字锁时到达，Linux 会把它当作软错误搁置（计入 TcpExtLockDroppedIcmps），然后等待 SYN 重传。", cb.attempts.len())
            ));
        }
        if cb.kind == CallbackKind::Dns && cb.attempts.len() > 1 {
            let gaps_of_5 = cb
                .attempts
                .windows(2)
                .all(|w| ((w[1] - w[0]).secs_f64() - knowledge::RESOLVER_TRY_SECONDS).abs() < 0.5);
            if gaps_of_5 {
                d.push(tr!(
                    l,
                    "The queries are 5 s apart: the glibc resolver's default (options timeout:5, attempts:2), so every unanswered lookup costs 10 s per name server.",
                    "查询间隔 5 秒：这是 glibc 解析器的默认值（options timeout:5, attempts:2），每个没有应答的查询在每台域名服务器上要耗费 10 秒。"
                )
                .into());
            }
        }
        if !cb.backoff_matches.is_empty() {
            let retries = &cb.attempts[1.min(cb.attempts.len())..];
            d.push(tr!(
                l,
                format!(
                    "The SYN back-off ({}) matches {}.",
                    l.offsets(retries),
                    cb.backoff_matches.join("; or ")
                ),
                format!(
                    "SYN 重传间隔（{}）与 {} 吻合。",
                    l.offsets(retries),
                    cb.backoff_matches.join("；或 ")
                )
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

    fn remedies(l: Lang, cb: &Callback, service_port: u16) -> Vec<Remedy> {
        match cb.kind {
            CallbackKind::Ident => {
                knowledge::ident_remedies(l, cb.give_up.map(|g| g.secs_f64()), service_port)
            }
            CallbackKind::Dns => knowledge::dns_remedies(l),
            CallbackKind::Other => Vec::new(),
        }
    }

    fn callback_evidence(
        &self,
        c: &Conversation,
        cb: &Callback,
        attempts: &[PacketRef],
    ) -> Vec<Evidence> {
        let l = self.cfg.lang;
        let noun = match (cb.kind, cb.conversation.protocol) {
            (CallbackKind::Ident, _) => tr!(l, "ident SYN", "ident SYN"),
            (_, Protocol::Tcp) => tr!(l, "callback SYN", "回连 SYN"),
            (_, Protocol::Udp) => tr!(l, "callback query", "回连查询"),
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
                    let off = (a.ts - attempts[0].ts).secs_f64();
                    tr!(
                        l,
                        format!("{noun} re-sent (+{off:.1} s)"),
                        format!("{noun} 重发（+{off:.1} 秒）")
                    )
                };
                self.evidence(c, *a, what)
            })
            .collect();
        if let (Fate::Refused { by, after } | Fate::IcmpError { by, after, .. }, Some(first)) =
            (&cb.fate, attempts.first())
        {
            let at = first.ts.saturating_add(*after);
            let what = tr!(
                l,
                format!("refusal from {by} (+{after})"),
                format!("来自 {by} 的拒绝（+{}）", l.dur(*after))
            );
            // The number of the refusing packet is in the callback's record.
            match self
                .recent
                .get(&(c.point, cb.conversation.client.host.clone()))
                .into_iter()
                .flat_map(|l| l.range((cb.started, 0)..=(cb.started, u64::MAX)))
                .map(|(_, r)| &r.conv)
                .find(|k| k.client == cb.conversation.client && k.server == cb.conversation.server)
                .and_then(|k| {
                    k.refused()
                        .or_else(|| k.icmp_errors.last().map(|e| e.packet))
                }) {
                Some(p) => ev.push(self.evidence(c, p, what)),
                None => ev.push(Evidence {
                    point: self.point(c.point),
                    packet: 0,
                    time: at,
                    time_of_day: at.time_of_day(),
                    what,
                }),
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
        let l = self.cfg.lang;
        let mut evidence = self.callback_evidence(c, &cb, attempts);
        evidence.push(self.evidence(
            c,
            w.end,
            tr!(
                l,
                format!("server {service} greeting ({} bytes)", w.end_len),
                format!("服务器 {service} 欢迎信息（{} 字节）", w.end_len)
            ),
        ));
        let summary = tr!(
            l,
            format!(
                "During the {service} connection from {} the server made {}, {}; the {} came {} after the handshake.",
                c.client,
                self.callback_phrase(&cb),
                Self::fate_phrase(l, &cb),
                if w.kind == WaitKind::Response { "answer" } else { "greeting" },
                w.cost()
            ),
            format!(
                "在来自 {} 的 {service} 连接中，服务器进行了{}，{}；{}在握手完成后 {} 到达。",
                c.client,
                self.callback_phrase(&cb),
                Self::fate_phrase(l, &cb),
                if w.kind == WaitKind::Response { "应答" } else { "欢迎信息" },
                l.dur(w.cost())
            )
        );
        let mut details = self.callback_details(&cb);
        if matches!(cb.fate, Fate::Refused { .. }) {
            details.push(tr!(
                l,
                "A prompt refusal is why this is fast: had the lookup been dropped silently, the server would have waited for its ident timer (often 30 s).",
                "正因为被立即拒绝，这里才很快：如果这次反查被静默丢弃，服务器会一直等到它的 ident 定时器超时（通常为 30 秒）。"
            )
            .into());
        }
        let remedies = Self::remedies(l, &cb, c.server.port)
            .into_iter()
            .filter(|r| r.on_server)
            .collect();
        self.emit((
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
                facts: Some(facts),
                ..Finding::empty()
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
        let l = self.cfg.lang;
        let cost = w.cost();
        let first_syn = c.syns.first().copied();
        let since_syn = first_syn.map(|s| w.end.ts - s.ts);
        let mut evidence = Vec::new();
        if let Some(s) = first_syn {
            evidence.push(self.evidence(
                c,
                s,
                tr!(
                    l,
                    format!("client SYN {} → {}", c.client, c.server),
                    format!("客户端 SYN {} → {}", c.client, c.server)
                ),
            ));
        }
        let what_start = match w.kind {
            WaitKind::Response => tr!(
                l,
                format!("client request ({} → {})", c.client, c.server),
                format!("客户端请求（{} → {}）", c.client, c.server)
            ),
            _ => tr!(
                l,
                "client ACK completing the handshake",
                "客户端完成握手的 ACK"
            )
            .into(),
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
            evidence.push(
                self.evidence(
                    c,
                    resent,
                    tr!(
                        l,
                        "server SYN-ACK re-sent: the first ACK never reached it",
                        "服务器重发 SYN-ACK：第一个 ACK 没有到达服务器"
                    )
                    .into(),
                ),
            );
            evidence.push(self.evidence(
                c,
                ack,
                tr!(l, "client ACK again", "客户端再次 ACK").into(),
            ));
        }
        let mut details = Vec::new();
        let mut breakdown = Vec::new();
        let mut remedies = Vec::new();
        let mut summary = match (w.kind, since_syn, l) {
            (WaitKind::NoGreeting, _, Lang::En) => format!("The {service} server {} never sent its greeting: the client gave up after {cost}.", c.server),
            (WaitKind::NoGreeting, _, Lang::ZhCn) => format!("{service} 服务器 {} 始终没有发送欢迎信息：客户端在 {} 后放弃。", c.server, l.dur(cost)),
            (WaitKind::Response, _, Lang::En) => format!("The {service} server {} answered a request after {cost}", c.server),
            (WaitKind::Response, _, Lang::ZhCn) => format!("{service} 服务器 {} 在 {} 后才应答请求", c.server, l.dur(cost)),
            (_, Some(s), Lang::En) => format!("The {service} greeting came {s} after the client's SYN ({cost} after the handshake)"),
            (_, Some(s), Lang::ZhCn) => format!("{service} 欢迎信息在客户端 SYN 之后 {} 才到达（握手完成后 {}）", l.dur(s), l.dur(cost)),
            (_, None, Lang::En) => format!("The {service} greeting came {cost} after the handshake"),
            (_, None, Lang::ZhCn) => format!("{service} 欢迎信息在握手完成后 {} 才到达", l.dur(cost)),
        };
        let mut mark = w.start.ts;
        if let Some((resent, ack)) = server_open {
            breakdown.push(segment(
                SegmentKind::Network,
                tr!(
                    l,
                    "handshake ACK lost before the server; SYN-ACK re-sent",
                    "握手 ACK 在到达服务器前丢失；SYN-ACK 重发"
                ),
                mark,
                ack.ts,
            ));
            details.push(tr!(
                l,
                format!(
                    "The first {} went to the handshake: the server re-sent its SYN-ACK at {} because the client's first ACK never reached it, so the server had the connection only after the client's second ACK ({}).",
                    ack.ts - mark,
                    resent.ts.time_of_day(),
                    ack.ts.time_of_day()
                ),
                format!(
                    "最初的 {} 耗在握手上：客户端的第一个 ACK 没有到达服务器，服务器于 {} 重发 SYN-ACK，直到客户端第二次 ACK（{}）之后服务器才建立连接。",
                    l.dur(ack.ts - mark),
                    resent.ts.time_of_day(),
                    ack.ts.time_of_day()
                )
            ));
            mark = ack.ts;
        }
        let cause_cb = cause.as_ref().map(|(cb, _)| cb.clone());
        if let Some((cb, attempts)) = cause {
            let waited = cb_cost(&cb);
            if w.kind != WaitKind::NoGreeting {
                summary.push_str(&tr!(
                    l,
                    format!(
                        ": the server waited {} for {}, {}.",
                        l.dur(waited),
                        self.callback_phrase(&cb),
                        Self::fate_phrase(l, &cb)
                    ),
                    format!(
                        "：服务器为{}等待了 {}，{}。",
                        self.callback_phrase(&cb),
                        l.dur(waited),
                        Self::fate_phrase(l, &cb)
                    )
                ));
            }
            if cb.started > mark {
                breakdown.push(segment(
                    SegmentKind::Server,
                    tr!(l, "server before the callback", "回连之前的服务器处理"),
                    mark,
                    cb.started,
                ));
            }
            let cb_end = cb.started.saturating_add(waited);
            breakdown.push(segment(
                SegmentKind::Dependency,
                &tr!(
                    l,
                    format!("waiting on {}", self.callback_phrase(&cb)),
                    format!("等待{}", self.callback_phrase(&cb))
                ),
                cb.started.max(mark),
                cb_end,
            ));
            if w.end.ts > cb_end {
                breakdown.push(segment(
                    SegmentKind::Server,
                    tr!(l, "server after the callback", "回连之后的服务器处理"),
                    cb_end,
                    w.end.ts,
                ));
            }
            details.extend(self.callback_details(&cb));
            evidence.extend(self.callback_evidence(c, &cb, &attempts));
            remedies = Self::remedies(l, &cb, c.server.port);
        } else {
            if w.kind != WaitKind::NoGreeting {
                summary.push_str(tr!(l, ".", "。"));
            }
            breakdown.push(segment(
                SegmentKind::Server,
                tr!(
                    l,
                    "server (cause not visible here)",
                    "服务器（原因在此不可见）"
                ),
                mark,
                w.end.ts,
            ));
            details.push(tr!(
                l,
                format!("No connection from {} was seen at this capture point during the wait, so its cause is not visible here.", c.server.host),
                format!("等待期间在此捕获点没有看到来自 {} 的任何连接，因此原因在这里不可见。", c.server.host)
            ));
            if c.client.host.is_private() && !c.server.host.is_private() {
                details.push(tr!(
                    l,
                    format!("The client {} has a private address: it reaches the server through NAT, so a callback from the server (ident on tcp/113, or any other) goes to the NAT device's outside address and never shows here. Capture on the NAT device's outside interface, or at the server, to see it.", c.client.host),
                    format!("客户端 {} 使用私有地址，经 NAT 访问服务器；服务器的回连（tcp/113 的 ident 或其他）会发往 NAT 设备的外网地址，在这里看不到。请在 NAT 设备的外网接口或服务器上抓包。", c.client.host)
                ));
            } else {
                details.push(tr!(
                    l,
                    "Capture at the server, or on its side of the path, to see what it waited for (an ident or DNS lookup, a back end).",
                    "请在服务器上或其所在一侧抓包，查看它在等待什么（ident 或 DNS 查询、后端服务）。"
                )
                .into());
            }
            // What the server spent once it had the connection.
            let residual = w.end.ts - mark;
            let timers = knowledge::matching_timers(residual.secs_f64());
            if !timers.is_empty() {
                let names: Vec<String> = timers.iter().map(|t| t.who(l).to_string()).collect();
                details.push(tr!(
                    l,
                    format!("The server spoke {} after it had the connection, which matches known lookup timers: {}. An ident or DNS callback that nothing answered is the likely cause.", l.dur(residual), names.join("; ")),
                    format!("服务器在建立连接 {} 之后才发言，与已知的查询定时器吻合：{}。最可能的原因是一次没有应答的 ident 或 DNS 回连。", l.dur(residual), names.join("；"))
                ));
            }
        }
        evidence.push(self.evidence(
            c,
            w.end,
            match w.kind {
                WaitKind::NoGreeting => tr!(l, "client gives up", "客户端放弃").into(),
                WaitKind::Response => tr!(
                    l,
                    format!("server {service} answer"),
                    format!("服务器 {service} 应答")
                ),
                WaitKind::Greeting => tr!(
                    l,
                    format!("server {service} greeting ({} bytes)", w.end_len),
                    format!("服务器 {service} 欢迎信息（{} 字节）", w.end_len)
                ),
            },
        ));
        evidence.sort_by_key(|e| (e.time, e.packet));
        let severity = if cost >= TimeDelta::from_secs(5) {
            Severity::Critical
        } else {
            Severity::Warning
        };
        self.emit((
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
                facts: Some(facts),
                ..Finding::empty()
            },
        ));
    }

    fn report_storm(&mut self, point: u32, s: &Storm) {
        let l = self.cfg.lang;
        let scan = s.is_scan();
        let span = match (s.first, s.last) {
            (Some(a), Some(b)) => b - a,
            _ => TimeDelta::ZERO,
        };
        let top_sources: Vec<String> = s
            .sources
            .top(5)
            .into_iter()
            .map(|(h, n)| format!("{h} ({n})"))
            .collect();
        let top_targets: Vec<String> = s
            .targets
            .top(5)
            .into_iter()
            .map(|((h, p), n)| format!("{h}:{p} ({n})"))
            .collect();
        let summary = match (scan, l) {
            (false, Lang::En) => format!(
                "SYN flood: {} connection attempts ({} SYNs) from {} sources over {} were never answered at this capture point; most went to {}.",
                s.attempts,
                s.syns,
                s.distinct_sources_text(),
                l.dur(span),
                top_targets.first().cloned().unwrap_or_default()
            ),
            (false, Lang::ZhCn) => format!(
                "SYN 洪泛：{} 内来自 {} 个源地址的 {} 次连接尝试（{} 个 SYN）在此捕获点都没有应答；大多发往 {}。",
                l.dur(span),
                s.distinct_sources_text(),
                s.attempts,
                s.syns,
                top_targets.first().cloned().unwrap_or_default()
            ),
            (true, Lang::En) => format!(
                "Port scan: {} probed {} ports with {} unanswered connection attempts over {}.",
                top_sources.first().cloned().unwrap_or_default(),
                s.distinct_ports.len(),
                s.attempts,
                l.dur(span)
            ),
            (true, Lang::ZhCn) => format!(
                "端口扫描：{} 在 {} 内以 {} 次没有应答的连接尝试探测了 {} 个端口。",
                top_sources.first().cloned().unwrap_or_default(),
                l.dur(span),
                s.attempts,
                s.distinct_ports.len()
            ),
        };
        let details = vec![
            tr!(l, format!("Top sources: {}.", top_sources.join(", ")), format!("主要源地址：{}。", top_sources.join("、"))),
            tr!(l, format!("Top targets: {}.", top_targets.join(", ")), format!("主要目标：{}。", top_targets.join("、"))),
            tr!(
                l,
                "Counted in bounded memory (a space-saving top-k); single attempts are not listed one by one.",
                "以有界内存计数（space-saving top-k）；不逐条列出单次尝试。"
            )
            .into(),
        ];
        self.emit((
            s.first.unwrap_or_default(),
            Finding {
                id: if scan {
                    FindingId::PortScan
                } else {
                    FindingId::SynFlood
                },
                severity: Severity::Warning,
                point: self.point(point),
                summary,
                details,
                ..Finding::empty()
            },
        ));
    }

    fn report_unanswered(&mut self) {
        let storm_points: HashSet<u32> = self
            .storms
            .iter()
            .filter(|(_, s)| s.attempts > STORM_MIN)
            .map(|(p, _)| *p)
            .collect();
        let mut storms: Vec<(u32, Storm)> = std::mem::take(&mut self.storms)
            .into_iter()
            .filter(|(p, _)| storm_points.contains(p))
            .collect();
        storms.sort_by_key(|(p, _)| *p);
        for (point, storm) in storms {
            self.report_storm(point, &storm);
        }
        let mut groups: BTreeMap<(u32, Endpoint), Vec<Conversation>> = BTreeMap::new();
        for c in std::mem::take(&mut self.unanswered) {
            if self.claimed.contains(&(c.point, c.id)) || storm_points.contains(&c.point) {
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
            let l = self.cfg.lang;
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
            let summary = match (convs.len(), l) {
                (1, Lang::En) => format!(
                    "{} sent {} SYN{} to {server} over {span}; none was answered at this capture point.",
                    first.client,
                    syns,
                    if syns == 1 { "" } else { "s" }
                ),
                (1, Lang::ZhCn) => format!("{} 在 {} 内向 {server} 发送了 {syns} 个 SYN，在此捕获点都没有应答。", first.client, l.dur(span)),
                (n, Lang::En) => format!("{n} connection attempts ({syns} SYNs) to {server} were never answered at this capture point."),
                (n, Lang::ZhCn) => format!("发往 {server} 的 {n} 次连接尝试（{syns} 个 SYN）在此捕获点都没有应答。"),
            };
            self.emit((
                first.first.ts,
                Finding {
                    id: FindingId::ConnectionUnanswered,
                    severity: Severity::Warning,
                    point: self.point(point),
                    summary,
                    conversation: Some(self.conv_ref(first)),
                    details: vec![tr!(
                        l,
                        "No SYN-ACK, RST or ICMP error came back: the SYNs were dropped further on (a firewall dropping by policy, a route) or the addressee discards them silently.",
                        "没有任何 SYN-ACK、RST 或 ICMP 差错返回：SYN 在更远处被丢弃（防火墙按策略丢弃、路由问题），或被目标主机静默丢弃。"
                    )
                    .into()],
                    evidence,
                    ..Finding::empty()
                },
            ));
        }
        if self.unanswered_overflow > 0 && storm_points.is_empty() {
            self.emit((
                Timestamp::ZERO,
                Finding {
                    id: FindingId::ConnectionUnanswered,
                    severity: Severity::Warning,
                    point: String::new(),
                    summary: tr!(
                        self.cfg.lang,
                        format!("{} further unanswered connection attempts were counted but not listed.", self.unanswered_overflow),
                        format!("另有 {} 次没有应答的连接尝试，只计数未列出。", self.unanswered_overflow)
                    ),
                    ..Finding::empty()
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
    // A fast greeting is only worth a look when the server made a lookup
    // meanwhile (one that cost little): the only callbacks a fast greeting is
    // reported with are ident (to the client's host) and DNS.
    let worth = |end: PacketRef| end.ts - start.ts >= threshold || c.server_lookups_meanwhile > 0;
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
