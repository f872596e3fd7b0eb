//! Repeats: the same finding about many conversations, told once.
//!
//! A busy server that waits on an ident lookup for one session in fifty
//! does so a thousand times in an hour's capture. An engineer wants one
//! finding that says so, with the count, the time lost in all and the
//! sessions it hit, not a thousand pages that differ in a port number. It
//! also keeps the diagnosis in memory that follows the kinds of trouble,
//! not the length of the capture.

use std::collections::HashMap;

use stalltrace_decode::{Endpoint, Timestamp};

use crate::merge::close;

use crate::finding::*;

/// Occurrences listed one by one in a finding; the rest are counted.
pub const MAX_REPEATS_LISTED: usize = 100;

/// What makes two findings the same story: the rule, where, the server,
/// the cause and how it ended. The cost must also be close (see [`close`]).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    id: FindingId,
    severity: Severity,
    point: String,
    also_seen_at: Vec<String>,
    server: Endpoint,
    cause: Option<(CallbackKind, u16, u8)>,
    /// The deliberate pause after the lookups, by its timer.
    pause: Option<&'static str>,
    /// What the rule adds.
    detail: String,
}

fn key(f: &Finding) -> Option<Key> {
    let rule = crate::rules::owner(f.id);
    if !rule.folds() {
        return None;
    }
    let c = f.conversation.as_ref()?;
    Some(Key {
        id: f.id,
        severity: f.severity,
        point: f.point.clone(),
        also_seen_at: f.also_seen_at.clone(),
        server: c.server.clone(),
        cause: f
            .cause()
            .map(|cb| (cb.kind, cb.conversation.server.port, cb.fate.code())),
        pause: f
            .wait()
            .and_then(|w| w.remainder.as_ref())
            .and_then(|r| r.timer_matches.first())
            .map(|t| t.id),
        detail: rule.fold_detail(f),
    })
}

fn occurrence(t: Timestamp, f: &Finding) -> Occurrence {
    let first = f.evidence.first();
    Occurrence {
        client: f.conversation.as_ref().map(|c| c.client.clone()),
        time: first.map_or(t, |e| e.time),
        time_of_day: first.map_or_else(|| t.time_of_day(), |e| e.time_of_day.clone()),
        packet: first.map_or(0, |e| e.packet),
        cost: f.cost,
    }
}

/// Findings, each like one folded into the first of its kind.
#[derive(Clone, Default)]
pub(crate) struct Folder {
    /// Indices of the first findings of each kind (several when costs differ).
    firsts: HashMap<Key, Vec<usize>>,
}

impl Folder {
    /// Adds `f` to `findings`, or counts it in an earlier finding like it.
    pub(crate) fn add(
        &mut self,
        findings: &mut Vec<(Timestamp, Finding)>,
        t: Timestamp,
        f: Finding,
    ) {
        let Some(k) = key(&f) else {
            findings.push((t, f));
            return;
        };
        let firsts = self.firsts.entry(k).or_default();
        if let Some(&i) = firsts.iter().find(|&&i| close(findings[i].1.cost, f.cost)) {
            let first = &mut findings[i].1;
            let r = first.repeats.get_or_insert_with(|| Repeats {
                count: 1,
                total_cost: first.cost.unwrap_or_default(),
                others: Vec::new(),
                others_not_listed: 0,
            });
            r.count += 1;
            r.total_cost = r.total_cost + f.cost.unwrap_or_default();
            if r.others.len() < MAX_REPEATS_LISTED {
                r.others.push(occurrence(t, &f));
            } else {
                r.others_not_listed += 1;
            }
            return;
        }
        firsts.push(findings.len());
        findings.push((t, f));
    }
}

/// Folds a whole list, in its order.
pub(crate) fn fold_all(findings: Vec<(Timestamp, Finding)>) -> Vec<(Timestamp, Finding)> {
    let mut folder = Folder::default();
    let mut out = Vec::new();
    for (t, f) in findings {
        folder.add(&mut out, t, f);
    }
    out
}

/// Where findings go: kept, or folded into an earlier one like it.
#[derive(Clone)]
pub(crate) struct Out {
    findings: Vec<(Timestamp, Finding)>,
    folder: Folder,
    fold_as_found: bool,
}

impl Out {
    pub(crate) fn new(fold_as_found: bool) -> Out {
        Out {
            findings: Vec::new(),
            folder: Folder::default(),
            fold_as_found,
        }
    }

    /// Forgets the findings whose last packet is before `t` (a live run
    /// keeps what it may still tell, not everything since it started; a
    /// long wait judged now ends now). Not for a run that folds as it
    /// finds, whose fold points into the list.
    pub(crate) fn forget_before(&mut self, t: Timestamp) {
        if !self.fold_as_found {
            self.findings
                .retain(|(at, f)| f.evidence.iter().map(|e| e.time).max().unwrap_or(*at) >= t);
        }
    }

    /// Everything kept so far.
    pub(crate) fn take(&mut self) -> Vec<(Timestamp, Finding)> {
        std::mem::take(&mut self.findings)
    }

    /// Every kept finding's facts for merging, to complete them.
    pub(crate) fn each_cross(&mut self, mut f: impl FnMut(&mut CrossFacts)) {
        for (_, finding) in &mut self.findings {
            if let Some(c) = finding.cross.as_deref_mut() {
                f(c);
            }
        }
    }

    pub(crate) fn add(&mut self, t: Timestamp, f: Finding) {
        if self.fold_as_found {
            self.folder.add(&mut self.findings, t, f);
        } else {
            self.findings.push((t, f));
        }
    }
}
