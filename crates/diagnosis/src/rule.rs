//! What a rule is: a static entry in the registry (`rules/mod.rs`) that
//! owns finding ids, words its findings and builds their remedies, and a
//! detector made fresh for each run that watches conversations and judged
//! waits and emits findings through a [`Cx`].

use std::collections::HashSet;

use stalltrace_conversations::{Conversation, PacketRef, Points};
use stalltrace_decode::{Lang, TimeDelta, Timestamp};
use stalltrace_matching::Seen;

use crate::config::DiagnosisConfig;
use crate::explain::Explained;
use crate::finding::{CrossFacts, Evidence, Finding, FindingId, Severity, Shows};
use crate::fold::Out;
use crate::remedy::Remedy;
use crate::wait::Wait;

/// A rule as registered: one static instance each.
pub(crate) trait Rule: Sync {
    /// The finding ids it emits; each id has exactly one owner.
    fn ids(&self) -> &'static [FindingId];

    /// Its name as a report heads its findings.
    fn title(&self, id: FindingId, l: Lang) -> &'static str;

    /// A detector for one run.
    fn detector(&self) -> Box<dyn Detect>;

    /// The finding's headline and its reasons, in `l`.
    fn say(&self, f: &Finding, l: Lang) -> Said;

    /// Remedies, built once the capture points are merged.
    fn remedies(&self, _f: &Finding) -> Vec<Remedy> {
        Vec::new()
    }

    /// Findings about many conversations that tell the same story are
    /// told once (see `fold.rs`): same rule, point, server, cost within a
    /// tenth, and the same [`Rule::fold_detail`].
    fn folds(&self) -> bool {
        false
    }

    /// What else must be equal for two findings to be one story.
    fn fold_detail(&self, _f: &Finding) -> String {
        String::new()
    }
}

/// How bad a cost is: a second is noticed, five are critical.
pub(crate) fn severity_of(cost: TimeDelta, cfg: &DiagnosisConfig) -> Severity {
    if cost >= TimeDelta::from_secs(5) {
        Severity::Critical
    } else if cost >= cfg.wait_threshold {
        Severity::Warning
    } else {
        Severity::Info
    }
}

/// A rule's state during one run. Cloned with the rest of the diagnosis
/// when a live run concludes on a copy (`Diagnoser` is `Clone`): a
/// detector only needs `#[derive(Clone)]`.
pub(crate) trait Detect: Send + DetectClone {
    /// A conversation ended at a capture point.
    fn conversation(&mut self, _c: &Conversation, _cx: &mut Cx) {}

    /// A wait whose possible causes are all in, explained.
    fn wait(&mut self, _j: &Judged, _cx: &mut Cx) {}

    /// The stream ended.
    fn finish(&mut self, _cx: &mut Cx) {}
}

/// Boxed detectors cloned through the box.
pub(crate) trait DetectClone {
    fn clone_box(&self) -> Box<dyn Detect>;
}

impl<T: Detect + Clone + 'static> DetectClone for T {
    fn clone_box(&self) -> Box<dyn Detect> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Detect> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// A rule's sentences for one finding.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Said {
    pub summary: String,
    pub details: Vec<String>,
}

/// What a detector may use and do.
pub(crate) struct Cx<'a> {
    pub cfg: &'a DiagnosisConfig,
    pub points: &'a Points,
    /// Callbacks named in a judged wait.
    pub claimed: &'a HashSet<(u32, u64)>,
    /// Conversations a rule's finding tells, taken at the end so that
    /// rules after it in [`crate::rules::RULES`] do not tell them again.
    pub(crate) taken: &'a mut HashSet<(u32, u64), foldhash::fast::RandomState>,
    pub(crate) out: &'a mut Out,
}

impl Cx<'_> {
    /// Another finding tells this conversation: a callback a wait named,
    /// or one an earlier rule took.
    pub fn told(&self, point: u32, id: u64) -> bool {
        self.claimed.contains(&(point, id)) || self.taken.contains(&(point, id))
    }

    /// This rule's finding tells this conversation.
    pub fn take(&mut self, point: u32, id: u64) {
        self.taken.insert((point, id));
    }

    /// Keeps a finding about something that began at `t`.
    pub fn emit(&mut self, t: Timestamp, mut f: Finding) {
        f.wireshark_filter = f.display_filter();
        self.out.add(t, f);
    }

    pub fn name(&self, point: u32) -> String {
        self.points.name(point)
    }

    /// The copies of a segment sent again: the first, then each again
    /// with its offset, then the last copy when more were sent than kept.
    pub fn copies(
        &self,
        c: &Conversation,
        side: stalltrace_conversations::Side,
        e: &stalltrace_conversations::signals::LossEpisode,
    ) -> Vec<Evidence> {
        let again = |copy: u32, p: PacketRef| Shows::DataAgain {
            from: side,
            copy,
            after: p.ts - e.first.ts,
        };
        let mut v: Vec<Evidence> = e
            .sent
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let shows = match i {
                    0 => Shows::Data {
                        from: side,
                        bytes: e.len,
                    },
                    _ => again(i as u32 + 1, *p),
                };
                self.evidence(c, *p, shows)
            })
            .collect();
        if e.sent.last().map(|p| p.number) != Some(e.last_copy.number) {
            v.push(self.evidence(c, e.last_copy, again(e.copies, e.last_copy)));
        }
        v
    }

    pub fn evidence(&self, c: &Conversation, p: PacketRef, shows: Shows) -> Evidence {
        Evidence {
            point: self.name(c.point),
            packet: p.number,
            time: p.ts,
            time_of_day: p.ts.time_of_day(),
            shows,
        }
    }
}

/// A wait ready for the rules: its conversation, its explanation, and
/// where else the points saw it.
pub(crate) struct Judged<'a> {
    pub conv: &'a Conversation,
    pub wait: &'a Wait,
    pub explained: &'a Explained,
    pub subject_elsewhere: &'a [Seen],
    /// Per callback of the explanation, where else the points saw it.
    pub callbacks_elsewhere: &'a [Vec<Seen>],
}

impl Judged<'_> {
    /// What merging across points needs of a finding whose cause is
    /// callback `main`.
    pub fn cross(&self, main: Option<usize>) -> Box<CrossFacts> {
        Box::new(CrossFacts {
            subject: self.conv.clone(),
            subject_elsewhere: self.subject_elsewhere.to_vec(),
            callback: main.and_then(|i| self.explained.callback_convs.get(i).cloned()),
            callback_elsewhere: main
                .and_then(|i| self.callbacks_elsewhere.get(i).cloned())
                .unwrap_or_default(),
        })
    }
}
