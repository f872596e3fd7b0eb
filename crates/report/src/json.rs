//! JSON for programs: the [`Report`]'s facts as they are, with
//! `schema_version`, and beside each finding and warning its sentences in
//! the language asked for (`lang`), for people reading the JSON.

use std::io::{self, Write};

use serde::Serialize;
use stalltrace_capture::Warning;
use stalltrace_diagnosis::{Finding, Lang, Words};
use stalltrace_matching::Matching;

use crate::{InputSummary, PointSummary, Report, Tool};

/// The report as JSON: facts, and sentences in one language.
#[derive(Serialize, schemars::JsonSchema)]
struct Json<'a> {
    schema_version: u32,
    tool: &'a Tool,
    /// The language of every `sentences` and `message`.
    lang: Lang,
    inputs: &'a [InputSummary],
    points: &'a [PointSummary],
    matching: &'a Matching,
    findings: Vec<JsonFinding<'a>>,
    warnings: Vec<JsonWarning<'a>>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct JsonFinding<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    /// The finding in words, each list parallel to its facts.
    sentences: Words,
}

#[derive(Serialize, schemars::JsonSchema)]
struct JsonWarning<'a> {
    #[serde(flatten)]
    warning: &'a Warning,
    /// The whole warning in words.
    message: String,
}

pub fn write(report: &Report, lang: Lang, mut out: impl Write) -> io::Result<()> {
    let j = Json {
        schema_version: report.schema_version,
        tool: &report.tool,
        lang,
        inputs: &report.inputs,
        points: &report.points,
        matching: &report.matching,
        findings: report
            .findings
            .iter()
            .map(|f| JsonFinding {
                finding: f,
                sentences: f.words(lang),
            })
            .collect(),
        warnings: report
            .warnings
            .iter()
            .map(|w| JsonWarning {
                warning: w,
                message: w.say(lang),
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut out, &j)?;
    out.write_all(b"\n")
}

/// One finding as a JSON value: its facts and, beside them, its
/// sentences in `lang` (as in the report's `findings`).
pub fn finding_value(f: &Finding, lang: Lang) -> serde_json::Value {
    serde_json::to_value(JsonFinding {
        finding: f,
        sentences: f.words(lang),
    })
    .expect("a finding serialises")
}

/// The JSON Schema of the report, as committed in `docs/report.schema.json`.
pub fn schema() -> String {
    let s = schemars::schema_for!(Json<'static>);
    let mut text = serde_json::to_string_pretty(&s).expect("a schema serialises");
    text.push('\n');
    text
}
