//! `stalltrace track-part` and `stalltrace join-parts`: the two halves of
//! a distributed analysis, run by an engine's tasks and its driver
//! (`spark/stalltrace_job.py`); see `analyze::distributed`.

use std::io::{self, BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use stalltrace::analyze::distributed::{join_parts, track_part, Plan};
use stalltrace::analyze::AnalyzeOptions;
use stalltrace_diagnosis::Lang;
use stalltrace_report::json;

use crate::EXIT_OK;

#[derive(clap::Args)]
pub(crate) struct TrackPartArgs {
    /// The plan of the stream (JSON), as the job computed it.
    #[arg(long, value_name = "FILE")]
    plan: PathBuf,
}

#[derive(clap::Args)]
pub(crate) struct JoinPartsArgs {
    /// The plan of the stream (JSON), as the job computed it.
    #[arg(long, value_name = "FILE")]
    plan: PathBuf,
    /// Write the report (JSON, as `analyze --json`) here instead of
    /// standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Tell every occurrence on its own, as `analyze --each`.
    #[arg(long)]
    each: bool,
    /// Language of the report's words: en or zh-CN (default: from LANG).
    #[arg(long, value_name = "LANG", value_parser = crate::analyze_cmd::parse_lang)]
    lang: Option<Lang>,
}

fn plan(path: &PathBuf) -> anyhow::Result<Plan> {
    let f = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    Plan::read(BufReader::new(f)).with_context(|| format!("{}", path.display()))
}

/// Packet events (Arrow IPC) on standard input, reports per batch out.
pub(crate) fn run_track_part(a: TrackPartArgs) -> anyhow::Result<u8> {
    let plan = plan(&a.plan)?;
    let opts = AnalyzeOptions::default();
    let stdin = io::stdin().lock();
    let stdout = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    track_part(&plan, &opts.tracker, BufReader::new(stdin), stdout).context("standard input")?;
    Ok(EXIT_OK)
}

/// Every part's reports, by batch, on standard input; the report out.
pub(crate) fn run_join_parts(a: JoinPartsArgs) -> anyhow::Result<u8> {
    let plan = plan(&a.plan)?;
    let opts = AnalyzeOptions {
        fold: !a.each,
        ..AnalyzeOptions::default()
    };
    let stdin = BufReader::with_capacity(1 << 20, io::stdin().lock());
    let report = join_parts(&plan, &opts, stdin).context("standard input")?;
    // Words in the report's language, as `analyze --json` gives them.
    let lang = a.lang.unwrap_or_else(Lang::from_env);
    match &a.out {
        Some(p) => {
            let f = std::fs::File::create(p).with_context(|| format!("{}", p.display()))?;
            let mut w = BufWriter::new(f);
            json::write(&report, lang, &mut w)?;
            w.flush()?;
        }
        None => json::write(&report, lang, &mut io::stdout().lock())?,
    }
    Ok(EXIT_OK)
}
