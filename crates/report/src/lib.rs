//! # stalltrace-report
//!
//! The last stage of stalltrace's pipeline (capture → decode →
//! conversations → matching → diagnosis → **report**): one serde model, [`Report`],
//! and a module per output format over it: [`text`] for people, [`json`]
//! for programs (its schema: [`json::schema`], committed as
//! `docs/report.schema.json` and checked by the tests), [`html`] to share,
//! [`markdown`] for tickets,
//! [`summary`] one line per finding for chat and monitoring.
//! The model holds typed facts only; each renderer words them in the
//! reader's language (`Finding::words`), which is where sentences are made.
//!
//! ```
//! use stalltrace_report::{text, Report, Tool, SCHEMA_VERSION};
//! let r = Report {
//!     schema_version: SCHEMA_VERSION,
//!     tool: Tool { name: "stalltrace".into(), version: "0".into() },
//!     inputs: vec![],
//!     points: vec![],
//!     matching: Default::default(),
//!     findings: vec![],
//!     warnings: vec![],
//! };
//! // Nothing was read: that is said, never "No stall found".
//! assert!(text::render(&r, &Default::default()).contains("Nothing to diagnose"));
//! ```

mod headline;
pub mod html;
pub mod json;
pub mod markdown;
mod model;
pub mod summary;
pub mod text;

pub use model::*;
