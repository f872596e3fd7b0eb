//! What the capture points say about where a callback went: which points
//! it reached, and what the device between the last of them and the first
//! it missed did with it; or, on the addressee's own segment, that the
//! addressee itself discarded it. A drop is only read between points the
//! callback had to pass: one sent to a third host (a resolver) proves
//! nothing about the path between client and server.

use stalltrace_conversations::{Conversation, Side};
use stalltrace_matching::Seen;

use super::Ctx;
use crate::finding::*;

/// TTLs a host sends with: seen unlowered, the packet crossed no router.
const INITIAL_TTLS: [u8; 3] = [64, 128, 255];

fn nat_between(a: &Seen, b: &Seen) -> Option<NatSeen> {
    (a.client != b.client).then(|| NatSeen {
        inside: b.client.clone(),
        outside: a.client.clone(),
    })
}

pub(super) fn callback_verdict(
    ctx: &Ctx,
    cb: &Callback,
    k: &Conversation,
    subject: &[Seen],
    callback: &[Seen],
) -> Option<PathFact> {
    let reached = |p: u32| callback.iter().any(|c| c.point == p);
    let seen_points: Vec<u32> = subject.iter().map(|s| s.point).collect();
    let first_reached = seen_points
        .iter()
        .copied()
        .filter(|&p| reached(p))
        .min_by_key(|&p| ctx.pos(p))?;
    let sa = subject.iter().find(|s| s.point == first_reached)?;
    let cs = callback.iter().find(|c| c.point == first_reached)?;
    let attempt = Attempt::of(k.protocol);
    // Sent elsewhere than to the client as this point sees it: it had no
    // need to pass the points nearer the client.
    if cs.server.host != sa.client.host {
        return Some(PathFact::OffPath {
            attempt,
            seen_at: callback.iter().map(|c| ctx.name(c.point)).collect(),
            to: cs.server.clone(),
        });
    }
    let missed = seen_points
        .iter()
        .copied()
        .filter(|&p| !reached(p) && ctx.pos(p) < ctx.pos(first_reached))
        .max_by_key(|&p| ctx.pos(p));
    let Some(missed) = missed else {
        if let Some(d) = addressee_discards(ctx, cb, subject, callback) {
            return Some(d);
        }
        if callback.len() < 2 {
            return None;
        }
        let forwarded = callback
            .windows(2)
            .filter(|w| w[0].server != w[1].server)
            .map(|w| Forwarded {
                near: ctx.name(w[0].point),
                far: ctx.name(w[1].point),
                from: w[1].server.clone(),
                to: w[0].server.clone(),
            })
            .collect();
        return Some(PathFact::ReachedAll {
            points: callback.iter().map(|c| ctx.name(c.point)).collect(),
            forwarded,
        });
    };
    let (a, b) = (ctx.name(first_reached), ctx.name(missed));
    let sb = subject.iter().find(|s| s.point == missed)?;
    let nat = nat_between(sa, sb);
    Some(match &cb.fate {
        Fate::Unanswered => PathFact::Dropped {
            attempts: cb.attempts.len() as u64,
            attempt,
            reached: a,
            missed: b,
            nat,
        },
        Fate::Refused { by, after } if *by == k.server.host => PathFact::RefusedByDevice {
            reached: a,
            missed: b,
            nat,
            by: by.clone(),
            after: *after,
        },
        Fate::IcmpError { by, reason, after } => PathFact::IcmpByDevice {
            reached: a,
            missed: b,
            nat,
            by: by.clone(),
            reason: *reason,
            after: *after,
        },
        Fate::Refused { by, after } => PathFact::RefusedBefore {
            reached: a,
            missed: b,
            by: by.clone(),
            after: *after,
        },
        Fate::Answered { after } => PathFact::AnsweredByDevice {
            reached: a,
            missed: b,
            nat,
            after: *after,
        },
    })
}

/// An unanswered callback seen on the addressee's own segment: the point
/// nearest the client that saw it also sees the client's own packets with
/// an unlowered TTL, and the callback went to that very client.
pub(super) fn addressee_discards(
    ctx: &Ctx,
    cb: &Callback,
    subject: &[Seen],
    callback: &[Seen],
) -> Option<PathFact> {
    if cb.fate != Fate::Unanswered {
        return None;
    }
    let nearest = callback.iter().min_by_key(|c| ctx.pos(c.point))?;
    let s = subject.iter().find(|s| s.point == nearest.point)?;
    if nearest.server.host != s.client.host {
        return None;
    }
    let mut ttls = s
        .log
        .iter()
        .filter(|b| b.from == Side::Client)
        .filter_map(|b| b.ttl);
    let ttl = ttls.next()?;
    if !INITIAL_TTLS.contains(&ttl) || ttls.any(|t| t != ttl) {
        return None;
    }
    Some(PathFact::AddresseeDiscards {
        point: ctx.name(nearest.point),
        addressee: s.client.host.clone(),
        attempts: cb.attempts.len() as u64,
        attempt: Attempt::of(cb.conversation.protocol),
        ttl,
    })
}

/// Where a network finding's packets went, from the views of the points:
/// copies of a segment counted at each (more at one than the next: the
/// device between lost the rest), or a RST seen at one point and not at
/// the next toward the side it claims to come from.
pub(super) fn network_verdict(ctx: &Ctx, f: &Finding, subject: &[Seen]) -> Option<PathFact> {
    let here = ctx.points.index(&f.point)?;
    let log = &subject.iter().find(|s| s.point == here)?.log;
    let first = f.evidence.first()?.packet;
    let seen = log.iter().find(|b| b.packet.number == first)?;
    let in_order = |side: Side| -> Vec<&Seen> {
        // From the side that sent toward the other.
        let mut v: Vec<&Seen> = subject.iter().collect();
        if side == Side::Server {
            v.reverse();
        }
        v
    };
    match &f.facts {
        Facts::Loss(LossFacts { sender, copies, .. })
        | Facts::Pmtu(PmtuFacts { sender, copies, .. }) => {
            // The finding's own point counted every copy; another point's
            // log holds only its first packets, so a count there is exact
            // only when its log did not fill, or holds an answer from the
            // other side after the last copy.
            let last_copy = f
                .evidence
                .iter()
                .filter(|e| matches!(e.shows, Shows::Data { .. } | Shows::DataAgain { .. }))
                .map(|e| e.time)
                .max()?;
            let count = |s: &Seen| -> Option<u32> {
                if s.point == here {
                    return Some(*copies);
                }
                let n = s
                    .log
                    .iter()
                    .filter(|b| {
                        b.from == *sender
                            && b.len > 0
                            && b.rel_seq == seen.rel_seq
                            && b.len == seen.len
                    })
                    .count() as u32;
                let complete = s.log.len() < stalltrace_matching::SEEN_LOGGED
                    || s.log
                        .iter()
                        .any(|b| b.from != *sender && b.packet.ts > last_copy);
                complete.then_some(n)
            };
            let views = in_order(*sender);
            views.windows(2).find_map(|w| {
                let (a, b) = (count(w[0])?, count(w[1])?);
                (a > b).then(|| PathFact::CopiesLost {
                    sender: *sender,
                    reached: ctx.name(w[0].point),
                    missed: ctx.name(w[1].point),
                    at_reached: a,
                    at_missed: b,
                })
            })
        }
        Facts::Idle(IdleFacts { speaker, .. }) => {
            let claimed = speaker.other();
            let rst_at = |s: &Seen| {
                s.log
                    .iter()
                    .any(|b| b.from == claimed && b.flags & 0x04 != 0)
            };
            // From the speaker's side toward the side the RST claims.
            let views = in_order(*speaker);
            views.windows(2).find_map(|w| {
                (rst_at(w[0]) && !rst_at(w[1])).then(|| PathFact::RstBetween {
                    reached: ctx.name(w[0].point),
                    missed: ctx.name(w[1].point),
                    as_side: claimed,
                })
            })
        }
        _ => None,
    }
}
