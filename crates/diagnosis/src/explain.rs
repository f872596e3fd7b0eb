//! Where a wait's time went: the handshake's own loss, the server's time
//! before, between and after the lookups it made meanwhile, and each
//! lookup's share, with the timer that ended it.
//!
//! A wait is often made of parts: a sendmail whose ident lookup times out
//! after 5 s and which then pauses 1 s before its banner (greet_pause)
//! shows a 6 s wait, of which 5 s are the lookup's and 1 s the pause's.
//! An unanswered lookup leaves no packet when the server gives up on it;
//! the moment lies after its last attempt and no later than the next retry
//! its stack would have sent, the next lookup's start, or the end of the
//! wait. A known timer within those bounds fixes it; the rest of the wait
//! is the server's own, matched against deliberate pauses.

use stalltrace_conversations::{Conversation, PacketRef, Points, Side};
use stalltrace_decode::{TimeDelta, Timestamp};

use crate::causes::{self, Cause};
use crate::facts::{stacks, timers, DaemonSeen, Service, TimerPurpose, SYN_STACKS};
use crate::finding::*;
use crate::wait::Wait;

/// A wait, explained: its facts, the breakdown of its time, and the
/// packets that show it.
pub(crate) struct Explained {
    pub facts: WaitFacts,
    pub breakdown: Vec<TimeSegment>,
    /// The waiting conversation's own packets (SYN, handshake, end).
    pub wait_evidence: Vec<(PacketRef, Shows)>,
    /// The callbacks' packets.
    pub callback_evidence: Vec<(PacketRef, Shows)>,
    /// The conversations of the callbacks, as `facts.callbacks`.
    pub callback_convs: Vec<Conversation>,
}

/// A candidate's end at this point: answered, refused, or not at all.
fn resolution(k: &Conversation) -> (Fate, Option<PacketRef>) {
    let start = k.first.ts;
    if let Some(r) = k.refused() {
        return (
            Fate::Refused {
                by: k.server.host.clone(),
                after: r.ts - start,
            },
            Some(r),
        );
    }
    // The last error is the one that ended the attempt; earlier ones were
    // set aside by the opener's stack.
    if let Some(e) = k.icmp_errors.iter().rfind(|e| e.about == Side::Client) {
        return (
            Fate::IcmpError {
                by: e.from.clone(),
                reason: e.reason,
                after: e.packet.ts - start,
            },
            Some(e.packet),
        );
    }
    if !k.unanswered() {
        let answered = k.last_payload[Side::Server.index()]
            .map(|p| p.packet)
            .or_else(|| k.syn_acks.first().copied())
            .unwrap_or(k.last);
        return (
            Fate::Answered {
                after: answered.ts - start,
            },
            Some(answered),
        );
    }
    (Fate::Unanswered, None)
}

/// A callback that may belong to the wait, before its give-up is fixed.
struct Candidate<'a> {
    arrival: u64,
    conv: &'a Conversation,
    cause: &'static dyn Cause,
    kind: CallbackKind,
    fate: Fate,
    resolved: Option<PacketRef>,
    /// Its share, as far as known before the others are placed.
    reach: TimeDelta,
}

/// Half a second, or a tenth of the wait: how far a lookup's end may
/// fall short of the wait's end and still be what the server waited on,
/// when nothing else ties the two.
fn aligned(end: Timestamp, w: &Wait) -> bool {
    let slack = TimeDelta::from_millis(10);
    let gap = w.end.ts - end;
    let allowed = TimeDelta::from_nanos((w.cost().nanos() / 10).max(500_000_000));
    gap >= TimeDelta::ZERO - slack && gap <= allowed
}

/// Explains wait `w` of conversation `c`, from the conversations its
/// server opened during it (`candidates`, with their arrival order).
pub(crate) fn explain<'a>(
    c: &Conversation,
    w: &Wait,
    candidates: impl Iterator<Item = (u64, &'a Conversation)>,
    points: &Points,
) -> Explained {
    let slack = TimeDelta::from_millis(10);
    let service = Service::of(c);
    let daemon = DaemonSeen::of(c);
    let seen_daemon = daemon.as_ref().map(|d| d.daemon);

    // Per kind of lookup, the one that explains the most (ties to the
    // first to arrive): on a busy server another session's lookup may fall
    // inside this wait too.
    let mut best: Vec<Candidate> = Vec::new();
    for (arrival, k) in candidates {
        if k.id == c.id {
            continue;
        }
        let Some(cause) = causes::classify(k) else {
            continue;
        };
        let about = cause.about(k, c);
        if about == Some(false) {
            continue;
        }
        let kind = cause.kind().expect("a callback cause has a kind");
        let (fate, resolved) = resolution(k);
        let reach = match resolved {
            Some(r) => {
                if r.ts > w.end.ts.saturating_add(slack) || (about.is_none() && !aligned(r.ts, w)) {
                    continue;
                }
                r.ts - k.first.ts
            }
            None => {
                // Unanswered: the server gave up on it by the end of the
                // wait, so no attempt may follow it; tied by timing alone,
                // it must also span most of the wait.
                let reach = w.end.ts - k.first.ts;
                if k.last.ts > w.end.ts.saturating_add(slack)
                    || (about.is_none() && reach.nanos().saturating_mul(2) < w.cost().nanos())
                {
                    continue;
                }
                reach
            }
        };
        let cand = Candidate {
            arrival,
            conv: k,
            cause,
            kind,
            fate,
            resolved,
            reach,
        };
        match best.iter_mut().find(|b| b.kind == kind) {
            Some(b)
                if cand.reach > b.reach || (cand.reach == b.reach && cand.arrival < b.arrival) =>
            {
                *b = cand
            }
            Some(_) => {}
            None => best.push(cand),
        }
    }
    best.sort_by_key(|b| (b.conv.first.ts, b.arrival));

    // The handshake's own loss: a SYN-ACK re-sent during the wait because
    // the client's first ACK never reached the server.
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
    let mut breakdown = Vec::new();
    let mut mark = w.start.ts;
    let handshake_loss = server_open.map(|(resent, ack)| {
        breakdown.push(TimeSegment::new(
            SegmentKind::Network,
            Part::HandshakeLoss,
            mark,
            ack.ts,
        ));
        let loss = HandshakeLoss {
            resent: resent.ts,
            ack: ack.ts,
            took: ack.ts - mark,
        };
        mark = ack.ts;
        loss
    });
    // The request's own loss: copies sent again until one got through.
    let request_loss = w
        .request_copy
        .filter(|p| p.ts > mark && p.ts < w.end.ts)
        .map(|passed| {
            breakdown.push(TimeSegment::new(
                SegmentKind::Network,
                Part::RequestLoss,
                mark,
                passed.ts,
            ));
            let copies = c
                .signals
                .loss
                .get(Side::Client.index())
                .and_then(|l| l.as_ref()?.worst.as_ref())
                .filter(|e| e.last_copy.number == passed.number)
                .map(|e| e.copies);
            let loss = RequestLoss {
                first: mark,
                passed: passed.ts,
                copies,
                took: passed.ts - mark,
            };
            mark = passed.ts;
            loss
        });
    // The round trip from here to the server: half of it on the way
    // there, half on the way back, network time at both ends of the wait.
    // Events at the server are placed half a round trip from where this
    // point saw them: a callback the server sent left it half a round trip
    // before it passed here, an answer to it arrived half after.
    let round_trip = c
        .signals
        .rtt
        .upstream
        .filter(|r| *r > TimeDelta::ZERO && w.kind != WaitKind::NoGreeting);
    let half = round_trip
        .map(|r| {
            TimeDelta::from_nanos(r.nanos() / 2)
                .min(TimeDelta::from_nanos((w.end.ts - mark).nanos() / 2))
        })
        .unwrap_or(TimeDelta::ZERO);
    if half > TimeDelta::ZERO {
        breakdown.push(TimeSegment::new(
            SegmentKind::Network,
            Part::ToServer,
            mark,
            mark + half,
        ));
        mark = mark + half;
    }
    let server_end = w.end.ts - half;
    let server_from = mark;

    // Each lookup, its give-up fixed now that the next one's start is known.
    let mut callbacks = Vec::new();
    let mut callback_convs = Vec::new();
    let mut callback_evidence = Vec::new();
    for (i, b) in best.iter().enumerate() {
        let k = b.conv;
        let start = k.first.ts;
        let attempts: Vec<TimeDelta> = k.syns.iter().map(|a| a.ts - start).collect();
        let retries: Vec<f64> = attempts.iter().skip(1).map(|a| a.secs_f64()).collect();
        let fitting = if k.protocol == stalltrace_conversations::Protocol::Tcp {
            stacks::fitting(&retries)
        } else {
            Vec::new()
        };
        let (lasted, give_up, timer_matches) = match b.resolved {
            // The answer reached the server half a round trip after it
            // passed here; the lookup left it half a round trip before.
            Some(r) => (r.ts - start + half + half, None, Vec::new()),
            None => {
                let last_attempt = attempts.last().copied().unwrap_or(TimeDelta::ZERO);
                let next_due = fitting
                    .first()
                    .and_then(|s| s.next_retry(retries.len()))
                    .map(TimeDelta::from_secs_f64);
                let next_start = best.get(i + 1).map(|n| n.conv.first.ts - start);
                // A DNS lookup whose resends follow a known stub resolver
                // ended when that resolver gives up (glibc: 10 s for one
                // name server), not when the server went on.
                let resolver_gave_up = (k.protocol == stalltrace_conversations::Protocol::Udp
                    && k.dns.is_some())
                .then(|| crate::facts::resolvers::fitting(&attempts[1..]))
                .and_then(|r| r.first().map(|r| TimeDelta::from_secs_f64(r.gives_up)))
                .filter(|g| *g > last_attempt);
                let mut upper = w.end.ts - start;
                for bound in [next_due, next_start, resolver_gave_up]
                    .into_iter()
                    .flatten()
                {
                    if bound < upper && bound > last_attempt {
                        upper = bound;
                    }
                }
                let matches = match b.cause.give_up_timers() {
                    Some(p) => latest_group(timers::within(
                        p,
                        last_attempt.secs_f64(),
                        upper.secs_f64(),
                        seen_daemon,
                    )),
                    None => Vec::new(),
                };
                // Never before the last attempt: the waiter was still trying.
                let after = match matches.first() {
                    Some(t) => TimeDelta::from_secs_f64(t.seconds)
                        .min(upper)
                        .max(last_attempt),
                    None => upper,
                };
                let secs = after.secs_f64();
                // Not TCP giving up: no stack whose schedule fits gives up there.
                let stack_gave_up = k.protocol == stalltrace_conversations::Protocol::Tcp
                    && SYN_STACKS
                        .iter()
                        .filter(|s| s.fits(&retries) || retries.is_empty())
                        .any(|s| s.gives_up.is_some_and(|g| (g - secs).abs() <= 0.5));
                let give_up = GiveUp {
                    after,
                    last_attempt,
                    next_retry_due: next_due.filter(|d| *d >= after),
                    by_timer: !matches.is_empty() || resolver_gave_up == Some(after),
                    application_timer: k.protocol == stalltrace_conversations::Protocol::Tcp
                        && !stack_gave_up,
                };
                (after, Some(give_up), matches)
            }
        };
        let question = k
            .dns
            .as_ref()
            .and_then(|d| d.queries.first())
            .and_then(|q| q.question.clone());
        let reverses = question.as_ref().and_then(|q| q.reversed()).map(|a| {
            let address = stalltrace_decode::Host::from(a);
            Reversed {
                is_client: address == c.client.host,
                address,
            }
        });
        let cb = Callback {
            kind: b.kind,
            conversation: conv_ref(k, points),
            started: start,
            fate: b.fate.clone(),
            attempts,
            backoff_matches: fitting,
            lasted,
            give_up,
            timer_matches,
            question,
            reverses,
        };
        callback_evidence.extend(callback_packets(k, &cb, b.resolved));
        callbacks.push(cb);
        callback_convs.push(k.clone());
    }

    // The breakdown: the server before, between and after its lookups,
    // each lookup from when it left the server.
    for (i, cb) in callbacks.iter().enumerate() {
        let left = cb.started - half;
        if left > mark {
            let part = if i == 0 {
                Part::ServerBefore
            } else {
                Part::ServerBetween
            };
            breakdown.push(TimeSegment::new(SegmentKind::Server, part, mark, left));
        }
        let from = left.max(mark);
        let to = (left + cb.lasted).min(server_end);
        if to > from {
            breakdown.push(TimeSegment::new(
                SegmentKind::Dependency,
                Part::Callback {
                    index: i,
                    kind: cb.kind,
                    client: cb.conversation.client.clone(),
                    server: cb.conversation.server.clone(),
                },
                from,
                to,
            ));
            mark = to;
        }
    }
    let server_time = server_end - server_from;
    let rest = server_end - mark;
    let remainder_matches = if w.kind == WaitKind::NoGreeting || rest <= TimeDelta::ZERO {
        Vec::new()
    } else {
        let mut v = Vec::new();
        for (purpose, _) in causes::remainder_purposes(service, daemon.as_ref()) {
            v.extend(timers::matching(purpose, rest.secs_f64(), seen_daemon));
        }
        v
    };
    if rest > TimeDelta::ZERO {
        let part = if callbacks.is_empty() && remainder_matches.is_empty() {
            Part::NotVisible
        } else {
            Part::ServerAfter {
                timer_matches: remainder_matches.clone(),
            }
        };
        breakdown.push(TimeSegment::new(
            SegmentKind::Server,
            part,
            mark,
            server_end,
        ));
    }
    if half > TimeDelta::ZERO {
        breakdown.push(TimeSegment::new(
            SegmentKind::Network,
            Part::FromServer,
            server_end,
            w.end.ts,
        ));
    }
    let remainder = (rest > TimeDelta::ZERO
        && (!callbacks.is_empty() || !remainder_matches.is_empty()))
    .then(|| Remainder {
        from: mark,
        duration: rest,
        timer_matches: remainder_matches.clone(),
    });
    // The lookup that explains the most, when it explains most of the
    // server's time.
    let main = callbacks
        .iter()
        .enumerate()
        .max_by_key(|(i, cb)| {
            (
                cb.lasted.min(server_end - (cb.started - half)),
                std::cmp::Reverse(*i),
            )
        })
        .filter(|(_, cb)| cb.lasted.nanos().saturating_mul(2) >= server_time.nanos())
        .map(|(i, _)| i);
    let unseen = (callbacks.is_empty() && remainder_matches.is_empty()).then(|| Unseen {
        server_time,
        private_client: c.client.host.is_private() && !c.server.host.is_private(),
        // Ident lookups are made when a connection opens, before the
        // greeting: a late answer to a later request is no ident timer.
        timer_matches: if w.kind == WaitKind::Response {
            Vec::new()
        } else {
            timers::matching(TimerPurpose::Ident, server_time.secs_f64(), seen_daemon)
        },
    });

    let facts = WaitFacts {
        kind: w.kind,
        service: service.map(|s| s.name.to_string()),
        since_syn: c.syns.first().map(|s| w.end.ts - s.ts),
        waited: w.cost(),
        bytes: w.end_len,
        handshake_loss,
        request_loss,
        round_trip,
        server_time,
        callbacks,
        main,
        remainder,
        unseen,
        failed_login: failed_login(service, w),
    };
    Explained {
        wait_evidence: wait_packets(c, w, &facts, server_open),
        facts,
        breakdown,
        callback_evidence,
        callback_convs,
    }
}

/// A late answer that refused a login: its reply code says so, or, in
/// SSH where the reply is encrypted, the client's trying again at once
/// with a request of the same size does (sshd and PAM's pam_faildelay
/// hold a failed password's answer about 2 s).
fn failed_login(service: Option<&Service>, w: &Wait) -> Option<FailedLogin> {
    if w.kind != WaitKind::Response {
        return None;
    }
    let s = service?;
    if let Some(r) = s.refuses_login(&w.response_start) {
        return Some(FailedLogin {
            reply: Some(r.to_string()),
            retried: false,
        });
    }
    // Or the late answer has the size of an earlier one, the "refused"
    // that answered the client's first, method-probing requests: the
    // last try before the client gave up.
    (s.name == "SSH" && (w.retried || w.repeated_answer)).then_some(FailedLogin {
        reply: None,
        retried: w.retried,
    })
}

/// Of timers sorted latest first, those of the latest length: when a
/// waiter gave up somewhere in a span, the timer nearest its end leaves
/// the least unexplained.
fn latest_group(v: Vec<&'static crate::facts::AppTimer>) -> Vec<&'static crate::facts::AppTimer> {
    let Some(top) = v.iter().map(|t| t.seconds).reduce(f64::max) else {
        return v;
    };
    v.into_iter().filter(|t| t.seconds == top).collect()
}

pub(crate) fn conv_ref(c: &Conversation, points: &Points) -> ConversationRef {
    ConversationRef {
        point: points.name(c.point),
        protocol: c.protocol,
        client: c.client.clone(),
        server: c.server.clone(),
        service: Service::of(c).map(|s| s.name.to_string()),
        daemon: DaemonSeen::of(c),
        vlan: c.vlan,
        tunnel: c.tunnel.clone(),
    }
}

/// The waiting conversation's packets that the finding relies on.
fn wait_packets(
    c: &Conversation,
    w: &Wait,
    facts: &WaitFacts,
    server_open: Option<(PacketRef, PacketRef)>,
) -> Vec<(PacketRef, Shows)> {
    let mut ev = Vec::new();
    if let Some(s) = c.syns.first() {
        ev.push((
            *s,
            Shows::ClientSyn {
                client: c.client.clone(),
                server: c.server.clone(),
            },
        ));
    }
    ev.push((
        w.start,
        match w.kind {
            WaitKind::Response => Shows::Request {
                client: c.client.clone(),
                server: c.server.clone(),
            },
            _ => Shows::HandshakeAck { seen_here: false },
        },
    ));
    if let Some((resent, ack)) = server_open {
        ev.push((
            resent,
            Shows::SynAckAgain {
                after: None,
                ack_lost: true,
            },
        ));
        ev.push((ack, Shows::AckAgain));
    }
    ev.push((
        w.end,
        match w.kind {
            WaitKind::NoGreeting => Shows::ClientGaveUp,
            WaitKind::Response => Shows::Answer {
                service: facts.service.clone(),
            },
            WaitKind::Greeting => Shows::Greeting {
                service: facts.service.clone(),
                bytes: w.end_len,
            },
        },
    ));
    ev
}

/// A callback's packets: each attempt, ICMP errors its opener set aside,
/// and the answer that refused it.
fn callback_packets(
    k: &Conversation,
    cb: &Callback,
    resolved: Option<PacketRef>,
) -> Vec<(PacketRef, Shows)> {
    let mut ev = Vec::new();
    for (i, a) in k.syns.iter().enumerate() {
        ev.push((
            *a,
            if i == 0 {
                Shows::CallbackFirst {
                    kind: cb.kind,
                    protocol: k.protocol,
                    client: k.client.clone(),
                    server: k.server.clone(),
                }
            } else {
                Shows::CallbackAgain {
                    kind: cb.kind,
                    protocol: k.protocol,
                    after: a.ts - k.first.ts,
                }
            },
        ));
    }
    match &cb.fate {
        Fate::Refused { by, after } => {
            if let Some(r) = resolved {
                ev.push((
                    r,
                    Shows::Refusal {
                        by: by.clone(),
                        after: *after,
                        icmp: None,
                    },
                ));
            }
        }
        Fate::IcmpError { by, reason, after } => {
            // Every error the opener set aside before the one that ended
            // the attempt: the "why" says the first did not end it.
            let errors: Vec<_> = k
                .icmp_errors
                .iter()
                .filter(|e| e.about == Side::Client)
                .collect();
            for e in &errors[..errors.len().saturating_sub(1)] {
                ev.push((
                    e.packet,
                    Shows::IcmpSetAside {
                        by: e.from.clone(),
                        reason: e.reason,
                    },
                ));
            }
            if let Some(r) = resolved {
                ev.push((
                    r,
                    Shows::Refusal {
                        by: by.clone(),
                        after: *after,
                        icmp: Some(*reason),
                    },
                ));
            }
        }
        _ => {}
    }
    ev
}
