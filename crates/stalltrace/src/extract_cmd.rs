//! `stalltrace extract`: captures into packet events (Parquet), for
//! `analyze DIR`, Spark (`spark/stalltrace_job.py`) or any SQL engine.

use std::path::PathBuf;

use stalltrace::analyze::extract;
use stalltrace_diagnosis::Lang;

use crate::analyze_cmd::parse_lang;
use crate::input_args::InputArgs;
use crate::{EXIT_ERROR, EXIT_OK};

pub(crate) const EXTRACT_EXAMPLES: &str = "\
Every decoded packet becomes one row of Parquet: time, addresses, ports,
IP version, TTL, IP ID, TCP flags, seq/ack, window, MSS, window scale,
SACK, timestamps, payload length and digest, the payload's first bytes
(64 for a flow's first payload: the banner, the request line; 8 after),
ICMP and the header it quotes, decoded DNS fields, and the file, byte
offset and number of the packet in its capture. Files go to
OUT/point=NAME/hour=YYYY-MM-DDTHH/part-N.parquet (UTC hours, Hive-style
folders that Spark, DuckDB and DataFusion read as columns), with
OUT/_stalltrace-events.json naming the points. 'stalltrace analyze OUT'
gives the findings the captures give.

Examples:
  stalltrace extract --out events/ fw-outside.pcap fw-inside.pcap
  stalltrace extract --out events/ --point fw=cap.pcap0,cap.pcap1 server.pcap
  stalltrace extract --out pop3/ --filter 'tcp port 110 or tcp port 113' big.pcap
  stalltrace analyze events/

Exit codes: 0 written; 2 an input could not be read (the others are still
written), the folder is not empty, or bad usage.";

#[derive(clap::Args)]
pub(crate) struct ExtractArgs {
    #[command(flatten)]
    input: InputArgs,

    /// The folder to write into; it must not exist or be empty.
    #[arg(long, short, value_name = "DIR")]
    out: PathBuf,

    /// No warnings on stderr.
    #[arg(long, short)]
    quiet: bool,

    /// Language of the messages: en or zh-CN (default: from LANG).
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    lang: Option<Lang>,
}

pub(crate) fn run_extract(a: ExtractArgs) -> anyhow::Result<u8> {
    let lang = a.lang.unwrap_or_else(Lang::from_env);
    let opts = a.input.options()?;
    let started = std::time::Instant::now();
    let x = extract(&opts, &a.out)?;
    let secs = started.elapsed().as_secs_f64();
    for e in &x.errors {
        eprintln!("stalltrace: {}", e.say(lang));
    }
    if !a.quiet {
        for w in &x.warnings {
            eprintln!("stalltrace: {}", w.say(lang));
        }
        for p in &x.manifest.points {
            for (why, n) in &p.skipped {
                eprintln!(
                    "stalltrace: {}: {n} frames gave no IP packet ({}): counted in the manifest, not in the events",
                    p.file,
                    why.say(lang)
                );
            }
        }
    }
    let packets: u64 = x.manifest.points.iter().map(|p| p.packets).sum();
    let files: u64 = x.manifest.points.iter().map(|p| p.files).sum();
    let bytes: u64 = x.manifest.points.iter().map(|p| p.bytes).sum();
    let mb = |b: u64| b as f64 / 1e6;
    let share = if x.bytes_in > 0 {
        format!(
            " ({:.1} % of the captures' {:.1} MB)",
            100.0 * bytes as f64 / x.bytes_in as f64,
            mb(x.bytes_in)
        )
    } else {
        String::new()
    };
    let points = x.manifest.points.len();
    eprintln!(
        "{packets} packet{} of {points} capture point{} into {}: {files} file{}, {:.1} MB{share}, in {secs:.1} s",
        if packets == 1 { "" } else { "s" },
        if points == 1 { "" } else { "s" },
        a.out.display(),
        if files == 1 { "" } else { "s" },
        mb(bytes),
    );
    Ok(if x.errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}
