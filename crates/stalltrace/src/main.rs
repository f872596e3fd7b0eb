use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use stalltrace::analyze::{analyze, parse_seconds, AnalyzeOptions, InputSpec};
use stalltrace_decode::TimeDelta;
use stalltrace_diagnosis::Severity;
use stalltrace_report::{json, text};

/// Exit codes, stable for scripts.
const EXIT_OK: u8 = 0;
const EXIT_FINDINGS: u8 = 1;
const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "stalltrace",
    version,
    about = "Tells why a connection or a login was slow, from packet captures.",
    after_help = "Exit codes: 0 analysed; 1 a finding at or above --fail-on; 2 an input could not be read, or bad usage.\n\nRun 'stalltrace analyze --help' for examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Find where time was lost in captures and name the cause.
    #[command(after_help = ANALYZE_EXAMPLES)]
    Analyze(AnalyzeArgs),
    /// Print the JSON Schema of the --json report.
    Schema,
}

const ANALYZE_EXAMPLES: &str = "\
Inputs are pcap, pcapng or tcpdump's printed text (3.x or 4.x form, any -t
option, as pasted into a ticket); the format is told from the content. A
folder means every file in it; '-' is standard input.

Examples:
  stalltrace analyze capture.pcapng
  stalltrace analyze fw-outside.pcap fw-inside.pcap
  tcpdump -nr big.pcap 'tcp port 110 or tcp port 113' | stalltrace analyze -
  stalltrace analyze --json captures/ > findings.json
  stalltrace analyze --fail-on warning --threshold 0.5 login.pcap || alert

Exit codes: 0 analysed; 1 a finding at or above --fail-on; 2 an input could
not be read (the others are still analysed), or bad usage.";

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files or folders; '-' reads standard input.
    #[arg(value_name = "INPUT", required_unless_present = "point")]
    inputs: Vec<PathBuf>,

    /// Name a capture point: NAME=FILE (repeatable).
    #[arg(long, value_name = "NAME=FILE")]
    point: Vec<String>,

    /// Write the report as JSON (schema: 'stalltrace schema').
    #[arg(long)]
    json: bool,

    /// A greeting or answer later than this many seconds is a wait.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    threshold: TimeDelta,

    /// Exit with 1 when a finding is at least this severe.
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<FailOn>,

    /// Wrap text at this many columns (default: the terminal's, or 100).
    #[arg(long, value_name = "COLUMNS")]
    width: Option<usize>,
}

#[derive(Copy, Clone, ValueEnum)]
enum FailOn {
    Info,
    Warning,
    Critical,
}

impl From<FailOn> for Severity {
    fn from(f: FailOn) -> Severity {
        match f {
            FailOn::Info => Severity::Info,
            FailOn::Warning => Severity::Warning,
            FailOn::Critical => Severity::Critical,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { EXIT_OK });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // A closed pipe (`| head`) is the reader's choice, not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::from(EXIT_OK);
            }
            eprintln!("stalltrace: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Schema => {
            io::stdout().lock().write_all(json::schema().as_bytes())?;
            Ok(EXIT_OK)
        }
        Command::Analyze(a) => run_analyze(a),
    }
}

fn run_analyze(a: AnalyzeArgs) -> anyhow::Result<u8> {
    let mut inputs: Vec<InputSpec> = a
        .inputs
        .iter()
        .map(|p| InputSpec {
            path: p.clone(),
            name: None,
        })
        .collect();
    for p in &a.point {
        let (name, file) = p
            .split_once('=')
            .with_context(|| format!("--point takes NAME=FILE, not '{p}'"))?;
        inputs.push(InputSpec {
            path: file.into(),
            name: Some(name.to_string()),
        });
    }
    let opts = AnalyzeOptions {
        inputs,
        wait_threshold: a.threshold,
        ..Default::default()
    };
    let analysis = analyze(&opts);
    for e in &analysis.errors {
        eprintln!("stalltrace: {e}");
    }
    let report = &analysis.report;
    let nothing_read = report.points.is_empty();
    if nothing_read && !analysis.errors.is_empty() {
        return Ok(EXIT_ERROR);
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if a.json {
        json::write(report, &mut out)?;
    } else {
        let width = a.width.unwrap_or_else(|| {
            if stdout.is_terminal() {
                terminal_width()
            } else {
                100
            }
        });
        for w in &report.warnings {
            // Warnings also go to stderr, where scripts and people look for them.
            eprintln!("stalltrace: warning: {w}");
        }
        out.write_all(text::render(report, &text::TextOptions { width }).as_bytes())?;
    }
    out.flush()?;
    if !analysis.errors.is_empty() {
        return Ok(EXIT_ERROR);
    }
    if let (Some(f), Some(worst)) = (a.fail_on, report.most_severe()) {
        if worst >= Severity::from(f) {
            return Ok(EXIT_FINDINGS);
        }
    }
    Ok(EXIT_OK)
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}
