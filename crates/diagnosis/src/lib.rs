//! # stalltrace-diagnosis
//!
//! The fifth stage of stalltrace's pipeline (capture → decode →
//! conversations → matching → **diagnosis** → report). A [`Diagnoser`] takes finished
//! conversations and finds where time was lost, and why:
//!
//! - **application-wait**: a server-first service (POP3, SMTP, FTP, IMAP,
//!   SSH, ...) greeted long after the handshake, or a server answered long
//!   after a request;
//! - its **cause**, when visible: a callback the waiting server opened
//!   meanwhile (ident on tcp/113, DNS, any other) whose end lines up with
//!   the end of the wait, with its fate at this capture point, its SYN
//!   back-off matched against known stacks and its give-up time against
//!   known application timers; otherwise where to capture to see it;
//! - **syn-ack-retransmitted** although the client's ACK passed this point;
//! - **callback-lookup**: a lookup that cost little (refused fast);
//! - **connection-unanswered**: SYNs nobody answered.
//!
//! With several capture points (see `stalltrace-matching`) the same finding
//! seen at each is merged into one that says what the points show between
//! them: where the callback died, or which device answered it itself, the
//! delay of each hop, and one timeline with a column per point.
//!
//! Each [`Finding`] carries a stable id, a severity, a one-sentence summary,
//! the time it cost, evidence packets and [`Remedy`] lines to change.
//!
//! ```
//! use stalltrace_capture::{CaptureReader, Record};
//! use stalltrace_conversations::{Tracker, TrackerConfig};
//! use stalltrace_diagnosis::{Diagnoser, DiagnosisConfig, FindingId};
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
//! let mut d = Diagnoser::new(vec!["outside".into()], DiagnosisConfig::default());
//! for c in t.finish() {
//!     d.observe(c);
//! }
//! let matcher = stalltrace_matching::Matcher::new(Default::default());
//! d.flush(&matcher);
//! let f = &d.finish(&matcher.finish(&["outside".into()]))[0];
//! assert_eq!(f.id, FindingId::ApplicationWait);
//! assert_eq!(f.cause.as_ref().unwrap().conversation.server.port, 113);
//! ```

#[macro_use]
mod lang;
mod cross;
mod engine;
mod finding;
mod fold;
pub mod knowledge;
mod storm;

pub use engine::{Diagnoser, DiagnosisConfig};
pub use finding::*;
pub use fold::MAX_REPEATS_LISTED;
pub use knowledge::{AppTimer, Remedy};
pub use lang::Lang;
