//! # stalltrace-diagnosis
//!
//! The fifth stage of stalltrace's pipeline (capture → decode →
//! conversations → matching → **diagnosis** → report). A [`Diagnoser`]
//! takes finished conversations and finds where time was lost, and why.
//! Rules emit [`Finding`]s that carry typed facts ([`Facts`], [`Evidence`],
//! [`PathFact`], [`TimeSegment`], [`Remedy`]); the report stage words them
//! ([`Finding::words`]) in English or Chinese. Nothing downstream reads a
//! sentence.
//!
//! ## How it is laid out
//!
//! - `rules/`: one file per rule, registered in `rules/mod.rs` (one line
//!   each): `application_wait`, `callback_lookup`, `syn_ack_after_ack`,
//!   `unanswered` (which also tells floods and scans). A rule file holds
//!   its doc (the symptom and its field facts), its detection, its words in
//!   both languages, its remedies and its tests.
//! - `causes/`: one file per cause a wait can have (`ident`, `dns`,
//!   `greeting_pause`, `other`), registered in `causes/mod.rs`: what a
//!   callback of its kind looks like, which timers give up on it, and the
//!   remedies built from what the capture shows.
//! - `facts/`: the field knowledge as data: services and the daemons their
//!   banners name, SYN retry schedules, application timers.
//! - `wait.rs` (the symptom), `explain.rs` (a wait split into its parts),
//!   `hold.rs` (scheduling: pending waits, candidate callbacks,
//!   watermarks), `merge/` (several capture points), `fold.rs` (the same
//!   finding about many conversations, told once), `say.rs` (the words the
//!   rules share).
//!
//! ## Adding a rule
//!
//! Write `rules/my_rule.rs` with a unit struct implementing the crate's
//! `Rule` trait (ids, title, detector, words, remedies) and a detector
//! implementing `Detect` (it sees every finished conversation and every
//! explained wait); add one line to `RULES` in `rules/mod.rs` and its
//! [`FindingId`] variant (with a [`Facts`] variant for new facts) to
//! `finding.rs`. The registry's test checks every id has one owner.
//!
//! ## Example
//!
//! ```
//! use stalltrace_capture::{CaptureReader, Record};
//! use stalltrace_conversations::{Points, Tracker, TrackerConfig};
//! use stalltrace_diagnosis::{CallbackKind, Diagnoser, DiagnosisConfig, FindingId, Lang};
//! let text = "\
//! 13:05:08.533163 218.104.68.171.42390 > 220.xxx.160.xxx.110: S 950786859:950786859(0) win 16384
//! 13:05:08.721807 220.xxx.160.xxx.110 > 218.104.68.171.42390: S 211290961:211290961(0) ack 950786860 win 5840
//! 13:05:08.722475 218.104.68.171.42390 > 220.xxx.160.xxx.110: . ack 1 win 17520
//! 13:05:13.107977 220.xxx.160.xxx.38107 > 218.104.68.171.113: S 211996004:211996004(0) win 5840
//! 13:05:43.068169 220.xxx.160.xxx.110 > 218.104.68.171.42390: P 1:49(48) ack 1 win 5840 (DF)
//! ";
//! let mut r = CaptureReader::from_reader("outside", Box::new(text.as_bytes())).unwrap();
//! let mut t = Tracker::new(0, TrackerConfig::default());
//! while let Some(Record::Packet(p)) = r.next().unwrap() {
//!     t.observe(&p);
//! }
//! let points = Points::new(vec!["outside".into()]);
//! let mut d = Diagnoser::new(points.clone(), DiagnosisConfig::default());
//! for c in t.finish() {
//!     d.observe(c);
//! }
//! let matcher = stalltrace_matching::Matcher::new(Default::default());
//! d.flush(&matcher);
//! let f = &d.finish(&matcher.finish(&points))[0];
//! assert_eq!(f.id, FindingId::ApplicationWait);
//! let cause = f.cause().unwrap();
//! assert_eq!((cause.kind, cause.conversation.server.port), (CallbackKind::Ident, 113));
//! assert!(f.words(Lang::En).summary.contains("waited 30.0 s for an ident"));
//! ```

mod causes;
mod config;
mod diagnoser;
mod explain;
pub mod facts;
mod finding;
mod fold;
mod hold;
mod merge;
mod remedy;
mod rule;
mod rules;
pub mod say;
mod storm;
#[cfg(test)]
mod testing;
mod wait;
mod words;

pub use config::DiagnosisConfig;
pub use diagnoser::Diagnoser;
pub use facts::{Daemon, DaemonSeen};
pub use finding::*;
pub use fold::MAX_REPEATS_LISTED;
pub use remedy::{Remedy, Target, Text};
pub use rule::Said;
pub use stalltrace_decode::{tr, Lang};
pub use words::{RemedyWords, Words};
