//! The diagnosis stage: takes finished conversations as they come, holds
//! what waits need until their causes are in (`hold.rs`), explains each
//! wait (`explain.rs`) and runs the registered rules over conversations and
//! explained waits; at the end merges what several points saw, builds the
//! remedies, and folds repeats.

use stalltrace_conversations::{Conversation, LiveView, Points, SpareLog};
use stalltrace_decode::Timestamp;
use stalltrace_matching::{Matcher, Matching, Seen};

use crate::config::DiagnosisConfig;
use crate::finding::Finding;
use crate::fold::Out;
use crate::hold::{Hold, Timing};
use crate::rule::{Cx, Detect, Judged};
use crate::rules::{self, RULES};
use crate::wait::waits;

/// The diagnosis stage: takes finished conversations as they come and
/// produces findings.
///
/// ```
/// use stalltrace_conversations::Points;
/// use stalltrace_diagnosis::{Diagnoser, DiagnosisConfig};
/// use stalltrace_matching::Matcher;
/// let points = Points::new(vec!["outside".into()]);
/// let d = Diagnoser::new(points.clone(), DiagnosisConfig::default());
/// let m = Matcher::new(Default::default()).finish(&points);
/// assert!(d.finish(&m).is_empty());
/// ```
#[derive(Clone)]
pub struct Diagnoser {
    cfg: DiagnosisConfig,
    points: Points,
    hold: Hold,
    detectors: Vec<Box<dyn Detect>>,
    out: Out,
    /// Conversations a rule's finding tells (see [`Cx::take`]).
    taken: std::collections::HashSet<(u32, u64), foldhash::fast::RandomState>,
}

impl Diagnoser {
    pub fn new(points: Points, cfg: DiagnosisConfig) -> Self {
        Diagnoser {
            out: Out::new(cfg.one_point && cfg.fold),
            cfg,
            points,
            hold: Hold::default(),
            detectors: RULES.iter().map(|r| r.detector()).collect(),
            taken: Default::default(),
        }
    }

    /// Names the next capture point (points are numbered in order).
    pub fn add_point(&mut self, name: String) {
        self.points.add(name);
    }

    /// Runs every detector with a context.
    fn each(&mut self, mut f: impl FnMut(&mut dyn Detect, &mut Cx)) {
        let mut cx = Cx {
            cfg: &self.cfg,
            points: &self.points,
            claimed: self.hold.claimed(),
            taken: &mut self.taken,
            out: &mut self.out,
        };
        for d in &mut self.detectors {
            f(d.as_mut(), &mut cx);
        }
    }

    /// Hands over one finished conversation. Returns its packet log when
    /// nothing kept it, for its tracker to reuse.
    pub fn observe(&mut self, c: Conversation) -> Option<SpareLog> {
        self.each(|d, cx| d.conversation(&c, cx));
        for w in waits(&c, self.cfg.wait_threshold) {
            self.hold.keep_wait(&c, w);
        }
        self.hold.keep_candidate(c)
    }

    /// Moves stream time on at one capture point: judges the waits whose
    /// callbacks are all in, and forgets conversations too old to matter.
    /// `live` is the point's tracker while it still has conversations: with
    /// [`DiagnosisConfig::one_point`] it tells which callbacks are still
    /// going on. Call it after handing over what the tracker finished.
    pub fn advance(
        &mut self,
        point: u32,
        now: Timestamp,
        m: &Matcher,
        live: Option<&dyn LiveView>,
    ) {
        let timing = Timing {
            now,
            resolve_delay: self.cfg.resolve_delay,
            retain: self.cfg.retain,
            early: self.cfg.one_point,
            live,
        };
        let Some(ready) = self.hold.due(point, &timing) else {
            return;
        };
        for (c, w) in ready {
            self.judge(&c, &w, m);
        }
        self.hold.forget(point, &timing);
    }

    /// Ends the stream: judges every wait still pending. Call before the
    /// matcher finishes, since judging asks it where else a connection was.
    pub fn flush(&mut self, m: &Matcher) {
        for (c, w) in self.hold.all() {
            self.judge(&c, &w, m);
        }
        // Rules that judge a conversation as it ends cannot know yet where
        // else it was seen: now the matcher can tell (while it still holds
        // the conversation), for the path verdicts of the merge.
        self.out.each_cross(|cf| {
            if cf.subject_elsewhere.is_empty() {
                cf.subject_elsewhere = m.seen_elsewhere(&cf.subject);
            }
        });
    }

    fn judge(&mut self, c: &Conversation, w: &crate::wait::Wait, m: &Matcher) {
        let window_start = c.syns.first().map(|s| s.ts).unwrap_or(c.first.ts);
        let explained = crate::explain::explain(
            c,
            w,
            self.hold
                .candidates(c.point, &c.server.host, window_start, w.end.ts),
            &self.points,
        );
        for k in &explained.callback_convs {
            self.hold.claim(k.point, k.id);
        }
        let subject_elsewhere = m.seen_elsewhere(c);
        let callbacks_elsewhere: Vec<Vec<Seen>> = explained
            .callback_convs
            .iter()
            .map(|k| m.seen_elsewhere(k))
            .collect();
        let j = Judged {
            conv: c,
            wait: w,
            explained: &explained,
            subject_elsewhere: &subject_elsewhere,
            callbacks_elsewhere: &callbacks_elsewhere,
        };
        self.each(|d, cx| d.wait(&j, cx));
    }

    /// Forgets the findings whose last packet is before `t`: a live run
    /// (`stalltrace watch`) has told them, and keeps its memory flat.
    pub fn forget_findings_before(&mut self, t: Timestamp) {
        self.out.forget_before(t);
    }

    /// Conversations held for judging later: waits not yet judged and
    /// possible callbacks. What the diagnosis's memory follows.
    pub fn held(&self) -> usize {
        self.hold.held()
    }

    /// Returns all findings, the same wait seen at several capture points
    /// merged into one, with their remedies, most severe and costly first.
    pub fn finish(mut self, matching: &Matching) -> Vec<Finding> {
        self.each(|d, cx| d.finish(cx));
        let findings = crate::merge::merge(self.out.take(), matching, &self.points);
        let mut f = if self.cfg.one_point || !self.cfg.fold {
            findings
        } else {
            crate::fold::fold_all(findings)
        };
        for (_, finding) in &mut f {
            finding.remedies = rules::owner(finding.id).remedies(finding);
        }
        f.sort_by(|a, b| {
            b.1.severity
                .cmp(&a.1.severity)
                .then(b.1.cost.cmp(&a.1.cost))
                .then(a.0.cmp(&b.0))
        });
        f.into_iter().map(|(_, f)| f).collect()
    }
}
