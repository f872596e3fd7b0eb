//! When a finding is told, and how: once, when settled (the same for
//! 300 ms of conclusions), as a line of text or one JSON
//! object per line, with its evidence file and, when the capture dropped
//! frames while it happened, how many.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use stalltrace_decode::{Lang, TimeDelta, Timestamp};
use stalltrace_diagnosis::{Finding, FindingId};
use stalltrace_report::{json, summary, Report};

use super::ring::Ring;
use super::sources::SourceStats;
use crate::analyze::conversation_ends;

/// How long a finding must stay the same before it is told.
const SETTLE: Duration = Duration::from_millis(300);

/// A finding that says something never came is told only once its
/// packets have been quiet this long (stream time), or at the end.
const QUIET: TimeDelta = TimeDelta::from_secs(60);

/// A finding's identity across conclusions: what, where, which
/// conversation, and when it began (a 4-tuple used again later is
/// another conversation).
type Key = (FindingId, String, String, String, Timestamp);

pub(super) struct Teller {
    lang: Lang,
    json: bool,
    evidence: Option<PathBuf>,
    /// Seen, not yet told: when first seen so, and as what.
    pending: HashMap<Key, (Instant, String)>,
    /// Told, with the finding's last packet.
    told: HashMap<Key, Timestamp>,
    files: usize,
    /// (stream time, frames dropped so far) at each conclusion.
    drop_marks: Vec<(Timestamp, u64)>,
}

fn key(f: &Finding) -> Key {
    let (c, s) = f
        .conversation
        .as_ref()
        .map(|c| (c.client.to_string(), c.server.to_string()))
        .unwrap_or_else(|| {
            let e = f.evidence.first();
            (
                e.map(|e| e.point.clone()).unwrap_or_default(),
                e.map(|e| e.packet.to_string()).unwrap_or_default(),
            )
        });
    let began = f
        .evidence
        .iter()
        .map(|e| e.time)
        .min()
        .unwrap_or(Timestamp::ZERO);
    (f.id, f.point.clone(), c, s, began)
}

/// What must not change for a finding to be settled.
fn signature(f: &Finding) -> String {
    format!(
        "{:?} {:?} {} {:?} {:?}",
        f.severity,
        f.cost,
        f.evidence.len(),
        f.repeats.as_ref().map(|r| r.count),
        f.also_seen_at
    )
}

/// Findings that tell of an absence: more packets could still end it.
fn absence(id: FindingId) -> bool {
    matches!(
        id,
        FindingId::ConnectionUnanswered | FindingId::SynFlood | FindingId::PortScan
    )
}

impl Teller {
    pub fn new(lang: Lang, json: bool, evidence: Option<PathBuf>) -> Teller {
        Teller {
            lang,
            json,
            evidence,
            pending: HashMap::new(),
            told: HashMap::new(),
            files: 0,
            drop_marks: Vec::new(),
        }
    }

    /// Forgets the told findings whose last packet is before `t`: the
    /// pipeline has forgotten them too, and will not find them again.
    pub fn forget_before(&mut self, t: Timestamp) {
        self.told.retain(|_, last| *last >= t);
        let keep = self.drop_marks.iter().rposition(|m| m.0 < t).unwrap_or(0);
        self.drop_marks.drain(..keep);
    }

    /// Findings seen, not yet told.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Every finding of `report` was looked at already.
    pub fn seen(&self, report: &Report) -> bool {
        report.findings.iter().all(|f| {
            let k = key(f);
            self.told.contains_key(&k) || self.pending.contains_key(&k)
        })
    }

    pub fn told(&self) -> usize {
        self.told.len()
    }

    pub fn evidence_files(&self) -> usize {
        self.files
    }

    /// Looks at a conclusion; tells what settled (everything, at the end).
    /// `live` says whether a finding's conversation is still going on.
    #[allow(clippy::too_many_arguments)]
    pub fn consider(
        &mut self,
        report: &Report,
        ring: &Ring,
        stats: &[SourceStats],
        end: bool,
        live: &dyn Fn(&Finding) -> bool,
        out: &mut dyn FnMut(&str),
    ) {
        let now = report.points.iter().filter_map(|p| p.last).max();
        let dropped: u64 = stats
            .iter()
            .map(|s| s.kernel_dropped() + s.own_dropped())
            .sum();
        if let Some(now) = now {
            if self.drop_marks.last().is_none_or(|m| m.1 != dropped) {
                self.drop_marks.push((now, dropped));
            }
        }
        // A finding that changed into another (or went) waits no more.
        let current: HashSet<Key> = report.findings.iter().map(key).collect();
        self.pending.retain(|k, _| current.contains(k));
        for f in &report.findings {
            let k = key(f);
            if self.told.contains_key(&k) {
                continue;
            }
            let sig = signature(f);
            let settled = match self.pending.get(&k) {
                Some((since, s)) if *s == sig => since.elapsed() >= SETTLE,
                _ => {
                    self.pending.insert(k.clone(), (Instant::now(), sig));
                    false
                }
            };
            let last = f.evidence.iter().map(|e| e.time).max();
            let quiet = match (now, last) {
                (Some(n), Some(l)) => n - l >= QUIET,
                _ => false,
            };
            // A conversation still going on may still change what is said
            // of it (a lookup whose greeting has not come yet): told when
            // it ends. A wait whose answer came is over: told at once.
            let over = f.id == FindingId::ApplicationWait || !live(f);
            if end || (settled && over && (!absence(f.id) || quiet)) {
                self.pending.remove(&k);
                let last = f
                    .evidence
                    .iter()
                    .map(|e| e.time)
                    .max()
                    .unwrap_or(Timestamp::ZERO);
                self.told.insert(k, last);
                self.tell(f, report, ring, out);
            }
        }
    }

    /// Frames the capture dropped while `f` happened.
    fn dropped_during(&self, f: &Finding) -> u64 {
        let (Some(a), Some(b)) = (
            f.evidence.iter().map(|e| e.time).min(),
            f.evidence.iter().map(|e| e.time).max(),
        ) else {
            return 0;
        };
        let before = self
            .drop_marks
            .iter()
            .rev()
            .find(|m| m.0 <= a)
            .map_or(0, |m| m.1);
        let after = self
            .drop_marks
            .iter()
            .find(|m| m.0 >= b)
            .or(self.drop_marks.last())
            .map_or(0, |m| m.1);
        after.saturating_sub(before)
    }

    fn tell(&mut self, f: &Finding, report: &Report, ring: &Ring, out: &mut dyn FnMut(&str)) {
        let file = self.evidence.as_ref().and_then(|dir| {
            let c = f.conversation.as_ref()?;
            let mut pairs = conversation_ends(report, &c.client, &c.server);
            if let Some(k) = f.cause() {
                pairs.extend(conversation_ends(
                    report,
                    &k.conversation.client,
                    &k.conversation.server,
                ));
            }
            if let Some(t) = &f.timeline {
                pairs.extend(
                    t.ends
                        .iter()
                        .flatten()
                        .map(|e| (e.client.clone(), e.server.clone())),
                );
            }
            let at = f
                .evidence
                .first()
                .map(|e| e.time)
                .unwrap_or(Timestamp::ZERO);
            // 2026-12-02 22:14:08.445111 UTC → 20261202T221408.445111Z
            let stamp: String = at
                .date_time_utc()
                .trim_end_matches(" UTC")
                .replacen(' ', "T", 1)
                .chars()
                .filter(|c| *c != '-' && *c != ':')
                .collect();
            let name = format!(
                "{stamp}Z-{}-{}.pcapng",
                f.id.as_str(),
                f.point
                    .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
            );
            let path = dir.join(name);
            let names: Vec<String> = report.points.iter().map(|p| p.name.clone()).collect();
            match ring.write(&path, &pairs, &names) {
                Ok(n) if n > 0 => {
                    self.files += 1;
                    Some(path)
                }
                _ => None,
            }
        });
        let dropped = self.dropped_during(f);
        let line = if self.json {
            let v = serde_json::json!({
                "type": "finding",
                "finding": json::finding_value(f, self.lang),
                "evidence_file": file.as_ref().map(|p| p.display().to_string()),
                "capture_dropped_meanwhile": dropped,
            });
            v.to_string()
        } else {
            let at = f
                .evidence
                .first()
                .map(|e| e.time_of_day.clone())
                .unwrap_or_default();
            let mut l = format!("{at}  {}", summary::line(f, self.lang));
            if dropped > 0 {
                l.push_str(&format!(
                    " | the capture dropped {dropped} frames meanwhile: a missing packet may be the capture's"
                ));
            }
            if let Some(p) = &file {
                l.push_str(&format!(" | evidence: {}", p.display()));
            }
            l
        };
        out(&line);
    }

    /// The drop counters, one line per source, and the ring's.
    pub fn drops(&self, stats: &[SourceStats], ring: &Ring, out: &mut dyn FnMut(&str)) {
        if ring.evicted > 0 {
            let since = ring
                .evicted_until
                .map(|t| t.time_of_day())
                .unwrap_or_default();
            out(&if self.json {
                serde_json::json!({
                    "type": "ring",
                    "evicted": ring.evicted,
                    "evidence_from": since,
                })
                .to_string()
            } else {
                format!(
                    "stalltrace watch: the evidence ring let {} older frames go (--ring-mb); evidence files hold frames from {since} on",
                    ring.evicted
                )
            });
        }
        for s in stats.iter().filter(|s| s.live) {
            let line = if self.json {
                serde_json::json!({
                    "type": "drops",
                    "source": s.name,
                    "kernel_received": s.kernel_received(),
                    "kernel_dropped": s.kernel_dropped(),
                    "own_dropped": s.own_dropped(),
                })
                .to_string()
            } else {
                format!(
                    "stalltrace watch: {}: {} frames, the kernel dropped {}, we dropped {}",
                    s.name,
                    s.kernel_received(),
                    s.kernel_dropped(),
                    s.own_dropped()
                )
            };
            out(&line);
        }
    }
}
