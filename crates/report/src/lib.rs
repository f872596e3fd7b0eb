//! # stalltrace-report
//!
//! The last stage of stalltrace's pipeline (capture → decode →
//! conversations → matching → diagnosis → **report**): one serde model, [`Report`],
//! and a module per output format over it: [`text`] for people, [`json`]
//! for programs (its schema: [`json::schema`], committed as
//! `docs/report.schema.json` and checked by the tests).
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
//! assert!(text::render(&r, &Default::default()).contains("No stall found"));
//! ```

pub mod html;
pub mod json;
mod model;
pub mod text;

pub use model::*;
