//! JSON for programs: the [`Report`] as it is, with `schema_version`.

use std::io::{self, Write};

use crate::Report;

pub fn write(report: &Report, mut out: impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, report)?;
    out.write_all(b"\n")
}

/// The JSON Schema of the report, as committed in `docs/report.schema.json`.
pub fn schema() -> String {
    let s = schemars::schema_for!(Report);
    let mut text = serde_json::to_string_pretty(&s).expect("a schema serialises");
    text.push('\n');
    text
}
