//! Several capture points together: the same finding seen at each point
//! of a path becomes one, with what the points say between them (where a
//! packet died, who answered in whose place, how long each hop took, which
//! points saw nothing of it) and one timeline with a column per point.
//! With one point, the timeline still draws the conversation and its
//! callback, and the point's own TTLs may still place the addressee.

mod path;
mod timeline;

use stalltrace_conversations::{Conversation, Points};
use stalltrace_decode::{TimeDelta, Timestamp};
use stalltrace_matching::{same_connection, Matching, Seen};

use crate::finding::*;

fn seen_of(c: &Conversation) -> Seen {
    Seen {
        point: c.point,
        conv: c.id,
        client: c.client.clone(),
        server: c.server.clone(),
        log: c.log.clone(),
    }
}

/// The same connection: by its ISN, or because the matcher joined them
/// (through sequence-number rewriting, by timestamp or payload).
fn one_connection(a: &CrossFacts, b: &CrossFacts) -> bool {
    let joined = |x: &CrossFacts, y: &CrossFacts| {
        x.subject_elsewhere
            .iter()
            .any(|s| s.point == y.subject.point && s.conv == y.subject.id)
    };
    same_connection(&a.subject, &b.subject) || joined(a, b) || joined(b, a)
}

/// Costs within a tenth of each other (at least 50 ms): the same wait.
pub(crate) fn close(a: Option<TimeDelta>, b: Option<TimeDelta>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs().nanos() <= (a.nanos().abs() / 10).max(50_000_000),
        _ => a == b,
    }
}

pub(crate) struct Ctx<'a> {
    m: &'a Matching,
    points: &'a Points,
}

impl Ctx<'_> {
    /// Position along the path, client side first; unmatched points last.
    fn pos(&self, p: u32) -> usize {
        self.m
            .path_index
            .iter()
            .position(|&q| q == p)
            .unwrap_or(1000 + p as usize)
    }
    fn name(&self, p: u32) -> String {
        self.points.name(p)
    }
    fn offset(&self, p: u32) -> TimeDelta {
        self.m.offset_index.get(&p).copied().unwrap_or_default()
    }
}

/// Merges findings about the same connection at different points.
pub(crate) fn merge(
    mut findings: Vec<(Timestamp, Finding)>,
    m: &Matching,
    points: &Points,
) -> Vec<(Timestamp, Finding)> {
    let ctx = Ctx { m, points };
    let mut used = vec![false; findings.len()];
    let mut out = Vec::new();
    for i in 0..findings.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let mut group = vec![i];
        if let Some(fi) = findings[i].1.cross.as_deref() {
            for j in i + 1..findings.len() {
                let b = &findings[j].1;
                if used[j] || b.id != findings[i].1.id || !close(findings[i].1.cost, b.cost) {
                    continue;
                }
                let Some(fj) = b.cross.as_deref() else {
                    continue;
                };
                if group.iter().any(|&g| findings[g].1.point == b.point) || !one_connection(fi, fj)
                {
                    continue;
                }
                used[j] = true;
                group.push(j);
            }
        }
        let members: Vec<(Timestamp, &Finding)> = group
            .iter()
            .map(|&g| (findings[g].0, &findings[g].1))
            .collect();
        let (t, mut f) = combine(&members, &ctx);
        // The facts were only for merging; the members are merged. Freeing
        // both as we go keeps a report of thousands of findings from being
        // held twice.
        f.cross = None;
        out.push((t, f));
        for g in group {
            findings[g].1.cross = None;
            findings[g].1.evidence = Vec::new();
        }
    }
    out
}

fn combine(members: &[(Timestamp, &Finding)], ctx: &Ctx) -> (Timestamp, Finding) {
    let index = |name: &str| ctx.points.index(name).unwrap_or(u32::MAX);
    let primary = members
        .iter()
        .filter(|(_, f)| f.cause().is_some())
        .min_by_key(|(_, f)| ctx.pos(index(&f.point)))
        .or_else(|| members.iter().min_by_key(|(_, f)| ctx.pos(index(&f.point))))
        .copied()
        .expect("a group has members");
    let (t, f) = primary;
    let mut f = f.clone();
    let Some(facts) = f.cross.take() else {
        return (t, f);
    };

    // Every view of the subject connection and of its callback.
    let mut subject: Vec<Seen> = vec![seen_of(&facts.subject)];
    let mut callback: Vec<Seen> = facts.callback.iter().map(seen_of).collect();
    let more = |list: &mut Vec<Seen>, s: Seen| {
        if list.iter().all(|x| x.point != s.point) {
            list.push(s);
        }
    };
    for s in facts.subject_elsewhere.iter().cloned() {
        more(&mut subject, s);
    }
    for s in facts.callback_elsewhere.iter().cloned() {
        more(&mut callback, s);
    }
    for (_, other) in members {
        if let Some(of) = other.cross.as_deref() {
            more(&mut subject, seen_of(&of.subject));
            if let (Some(k), Some(ok)) = (&facts.callback, &of.callback) {
                let joined = facts
                    .callback_elsewhere
                    .iter()
                    .any(|s| s.point == ok.point && s.conv == ok.id);
                if same_connection(k, ok) || joined {
                    more(&mut callback, seen_of(ok));
                }
            }
        }
    }
    subject.sort_by_key(|s| ctx.pos(s.point));
    callback.sort_by_key(|s| ctx.pos(s.point));
    let waits = matches!(f.id, FindingId::ApplicationWait | FindingId::CallbackLookup);
    if let (Some(cb), Some(k)) = (f.cause().cloned(), &facts.callback) {
        f.path
            .extend(path::callback_verdict(ctx, &cb, k, &subject, &callback));
    }
    f.path.extend(path::network_verdict(ctx, &f, &subject));
    let timeline = timeline::build(ctx, &subject, facts.callback.as_ref(), &callback, f.cause());
    if subject.len() < 2 {
        // One point: no path to speak of, but the timeline still draws the
        // conversation and its callback (the HTML ladder uses it).
        if waits {
            f.timeline = Some(timeline);
        }
        return (t, f);
    }
    f.also_seen_at = subject
        .iter()
        .filter(|s| s.point != facts.subject.point)
        .map(|s| ctx.name(s.point))
        .collect();
    match f.id {
        FindingId::SynAckRetransmitted => {
            let passed: Vec<String> = members.iter().map(|(_, g)| g.point.clone()).collect();
            let last = members
                .iter()
                .max_by_key(|(_, g)| ctx.pos(index(&g.point)))
                .map(|(_, g)| g.point.clone())
                .unwrap_or_default();
            if let (true, Facts::SynAck(s)) = (passed.len() > 1, &mut f.facts) {
                s.passed = passed;
                s.last_passed = Some(last);
            }
        }
        _ if waits && f.wait().is_some_and(|w| w.callbacks.is_empty()) => {
            f.path.extend(ruled_out(ctx, &subject));
        }
        _ => {}
    }
    f.path.extend(timeline::hop_delays(&timeline));
    // Points of the same path that saw none of it.
    let seen_names: Vec<String> = subject.iter().map(|s| ctx.name(s.point)).collect();
    if let Some(p) = ctx.m.paths.iter().find(|p| p.contains(&f.point)) {
        for name in p {
            if !seen_names.contains(name) {
                f.path.push(PathFact::OffThisPath {
                    point: name.clone(),
                });
            }
        }
    }
    f.timeline = Some(timeline);
    (t, f)
}

/// No callback seen at several points: the points that see the client as
/// the server does (on the server's side of any NAT) would each have seen
/// one sent to it. A client that is private there too is reached only
/// through a NAT device none of the points is beyond: nothing is ruled out.
fn ruled_out(ctx: &Ctx, subject: &[Seen]) -> Option<PathFact> {
    let server_side = subject.last()?;
    if server_side.client.host.is_private() {
        return None;
    }
    Some(PathFact::RuledOut {
        points: subject
            .iter()
            .filter(|s| s.client == server_side.client)
            .map(|s| ctx.name(s.point))
            .collect(),
        server: server_side.server.host.clone(),
    })
}
