//! # stalltrace
//!
//! Tells a network engineer why a connection or a login was slow, from
//! packet captures. This crate wires the pipeline's stages together
//! ([`analyze::analyze`]), runs them live on interfaces and streams
//! ([`watch::watch`]), and holds the command line in `main.rs`.
//!
//! ```no_run
//! use stalltrace::analyze::{analyze, AnalyzeOptions, InputSpec};
//! let opts = AnalyzeOptions {
//!     inputs: vec![InputSpec::new("examples/env1-fw-eth1-outside.txt")],
//!     ..Default::default()
//! };
//! let a = analyze(&opts);
//! println!("{}", stalltrace_report::text::render(&a.report, &Default::default()));
//! ```

pub mod analyze;
pub mod watch;
