//! A finding in words: its rule's headline and reasons, and the shared
//! words for its evidence, path, breakdown, timeline and remedies, all in
//! one language. The report stage calls [`Finding::words`]; nothing below
//! it makes a sentence.

use serde::Serialize;
use stalltrace_decode::Lang;

use crate::finding::Finding;
use crate::say::{part, path, row, shows};

/// Everything a report writes about one finding, in one language.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Words {
    /// The rule's name.
    pub title: String,
    pub summary: String,
    pub details: Vec<String>,
    /// One per [`Finding::path`] fact.
    pub path: Vec<String>,
    /// One per evidence packet.
    pub evidence: Vec<String>,
    /// One per part of the breakdown.
    pub breakdown: Vec<String>,
    /// One per timeline row.
    pub timeline: Vec<String>,
    /// One per remedy: what it applies to, and what to do.
    pub remedies: Vec<RemedyWords>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RemedyWords {
    pub target: String,
    pub action: String,
}

impl Finding {
    /// The finding in words, in `l`.
    pub fn words(&self, l: Lang) -> Words {
        let rule = crate::rules::owner(self.id);
        let said = rule.say(self, l);
        Words {
            title: rule.title(self.id, l).to_string(),
            summary: said.summary,
            details: said.details,
            path: self.path.iter().map(|p| path(p, l)).collect(),
            evidence: self.evidence.iter().map(|e| shows(&e.shows, l)).collect(),
            breakdown: self.breakdown.iter().map(|s| part(&s.part, l)).collect(),
            timeline: self
                .timeline
                .iter()
                .flat_map(|t| t.rows.iter().map(|r| row(r, l)))
                .collect(),
            remedies: self
                .remedies
                .iter()
                .map(|r| RemedyWords {
                    target: r.target.say(l),
                    action: r.action.say(l).to_string(),
                })
                .collect(),
        }
    }
}
