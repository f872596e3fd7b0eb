//! `stalltrace analyze`: its options, and the run from inputs to the
//! report on standard output (and the files asked for).

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use stalltrace::analyze::{
    analyze, conversation_ends, conversation_packets, evidence_lines, parse_conversation,
    parse_seconds,
};
use stalltrace_decode::TimeDelta;
use stalltrace_diagnosis::{tr, Lang, Severity};
use stalltrace_report::{html, json, markdown, summary, text};

use crate::input_args::InputArgs;
use crate::{EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};

pub(crate) const ANALYZE_EXAMPLES: &str = "\
Inputs are pcap, pcapng or tcpdump's printed text (3.x or 4.x form, any -t
option, as pasted into a ticket); the format is told from the content. A
folder means every file in it; '-' is standard input.

Examples:
  stalltrace analyze capture.pcapng
  stalltrace analyze fw-outside.pcap fw-inside.pcap
  tcpdump -nr big.pcap 'tcp port 110 or tcp port 113' | stalltrace analyze -
  stalltrace analyze --json captures/ > findings.json
  stalltrace analyze --summary rotated.pcap.gz | grep CRITICAL
  stalltrace analyze --fail-on warning --threshold 0.5 login.pcap || alert
  stalltrace analyze --html report.html --lang zh-CN outside.pcap inside.pcap
  stalltrace analyze --markdown - login.pcap.gz > ticket.md
  stalltrace analyze --point fw=cap.pcap0,cap.pcap1,cap.pcap2 server.pcap
  stalltrace analyze --filter 'tcp port 110 or tcp port 113' fw-outside.pcap
  stalltrace analyze --host 192.0.2.10 --since 13:05:00 --until +60 big.pcap
  stalltrace analyze --conversation 192.0.2.10:40000-198.51.100.25:110 in.pcap out.pcap

Exit codes: 0 analysed; 1 a finding at or above --fail-on; 2 an input could
not be read (the others are still analysed), or bad usage.";

#[derive(clap::Args)]
pub(crate) struct AnalyzeArgs {
    #[command(flatten)]
    input: InputArgs,

    /// Write the report as JSON (schema: 'stalltrace schema').
    #[arg(long, conflicts_with = "summary")]
    json: bool,

    /// One line per finding (severity, cost, what, where, the first fix),
    /// for chat and monitoring.
    #[arg(long)]
    summary: bool,

    /// Show one conversation: its packets at every capture point (its
    /// other addresses behind a NAT too) in time order, as tcpdump prints
    /// them, then the findings about it. ADDRESS:PORT-ADDRESS:PORT.
    #[arg(long, value_name = "A:PORT-B:PORT", value_parser = parse_conversation, conflicts_with_all = ["json", "summary"])]
    conversation: Option<(stalltrace_decode::Endpoint, stalltrace_decode::Endpoint)>,

    /// Each occurrence of a finding on its own, not told once with how
    /// often (for 'stalltrace fleet': times and clients of every one).
    #[arg(long)]
    each: bool,

    /// A greeting or answer later than this many seconds is a wait.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    threshold: TimeDelta,

    /// Exit with 1 when a finding is at least this severe.
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<FailOn>,

    /// Wrap text at this many columns (default: the terminal's, or 100).
    #[arg(long, value_name = "COLUMNS")]
    width: Option<usize>,

    /// No progress bar and no warnings on stderr (they stay in the report).
    #[arg(long, short)]
    quiet: bool,

    /// At most this many live conversations per capture point; past it the
    /// longest idle are closed early (and counted). Bounds memory on floods.
    #[arg(long, value_name = "N", default_value_t = 500_000)]
    max_conversations: usize,

    /// Threads: 1 does everything on one; 2 reads and decodes the captures
    /// beside the analysis (the default on two cores or more); 3 or more
    /// also split packet tracking, by the two hosts of each packet, across
    /// N − 2 threads. The report is the same byte for byte either way.
    #[arg(long, short = 'j', value_name = "N", default_value_t = stalltrace::analyze::default_threads(), value_parser = parse_threads)]
    threads: usize,

    /// Also write the report as one self-contained HTML file ('-': write
    /// the page to standard output instead of the text report).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,

    /// Also write the report as Markdown for a ticket ('-': to standard
    /// output instead of the text report). Its evidence quotes the packets
    /// as tcpdump prints them, read again from the files.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,

    /// Language of the report: en or zh-CN (default: from LANG).
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    lang: Option<Lang>,

    /// Colour: auto (a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    color: ColorWhen,
}

#[derive(Copy, Clone, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

pub(crate) fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s)
        .ok_or_else(|| format!("'{s}' is not a language stalltrace speaks: use en or zh-CN"))
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

pub(crate) fn run_analyze(a: AnalyzeArgs) -> anyhow::Result<u8> {
    let lang = a.lang.unwrap_or_else(Lang::from_env);
    let mut opts = a.input.options()?;
    opts.wait_threshold = a.threshold;
    opts.fold = !a.each;
    opts.tracker.max_live = a.max_conversations.max(1);
    opts.threads = a.threads;
    if !a.quiet && io::stderr().is_terminal() {
        opts.progress = Some(progress);
    }
    let analysis = analyze(&opts);
    if let Some(bar) = BAR.get() {
        bar.finish_and_clear();
    }
    for e in &analysis.errors {
        eprintln!("stalltrace: {}", e.say(lang));
    }
    let report = &analysis.report;
    let nothing_read = report.points.is_empty();
    if nothing_read && !analysis.errors.is_empty() {
        return Ok(EXIT_ERROR);
    }
    let html_to_stdout = a.html.as_deref().is_some_and(|p| p.as_os_str() == "-");
    let md_to_stdout = a.markdown.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if (html_to_stdout || md_to_stdout) && (a.json || a.summary) {
        anyhow::bail!(
            "--html - and --markdown - write to standard output: they cannot go with --json or --summary"
        );
    }
    if html_to_stdout && md_to_stdout {
        anyhow::bail!("--html - and --markdown - cannot both write to standard output");
    }
    if let Some(path) = a.html.as_ref().filter(|_| !html_to_stdout) {
        std::fs::write(path, html::render(report, lang))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let md = a.markdown.as_ref().map(|_| {
        let lines = evidence_lines(&analysis.read, report);
        markdown::render(report, lang, &lines)
    });
    if let (Some(path), Some(md)) = (a.markdown.as_ref().filter(|_| !md_to_stdout), &md) {
        std::fs::write(path, md).with_context(|| format!("writing {}", path.display()))?;
    }
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    let mut out = stdout.lock();
    if let Some(md) = md.as_ref().filter(|_| md_to_stdout) {
        out.write_all(md.as_bytes())?;
    } else if html_to_stdout {
        // `--html -`: the page is the output (for a pipe to a mail or a
        // ticket tool), in place of the text report.
        out.write_all(html::render(report, lang).as_bytes())?;
    } else if a.json {
        json::write(report, lang, &mut out)?;
    } else if a.summary {
        out.write_all(summary::render(report, lang).as_bytes())?;
    } else {
        let width = a
            .width
            .or_else(|| if tty { terminal_width() } else { None })
            .unwrap_or(100);
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match a.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => tty && !no_color,
        };
        if !a.quiet {
            for w in &report.warnings {
                // Warnings also go to stderr, where scripts and people look for them.
                eprintln!(
                    "stalltrace: {}{}",
                    tr!(lang, "warning: ", "警告："),
                    w.say(lang)
                );
            }
        }
        match &a.conversation {
            None => out.write_all(
                text::render(report, &text::TextOptions { width, color, lang }).as_bytes(),
            )?,
            Some((x, y)) => {
                let ends = conversation_ends(report, x, y);
                let (seen, more) = conversation_packets(&analysis.read, &ends, &opts);
                let rows: Vec<text::conversation::PacketRow> = seen
                    .iter()
                    .map(|s| text::conversation::PacketRow {
                        point: s.point.clone(),
                        number: s.packet.meta.number,
                        ts: s.packet.meta.ts,
                        line: s.packet.tcpdump().to_string(),
                    })
                    .collect();
                out.write_all(
                    text::conversation::render(&ends, &rows, more, width, lang).as_bytes(),
                )?;
                // Then the findings about it (or its callback), in full.
                let about =
                    |e: &stalltrace_decode::Endpoint| ends.iter().any(|(a, b)| a == e || b == e);
                let mut own = report.clone();
                own.findings.retain(|f| {
                    f.conversation
                        .as_ref()
                        .is_some_and(|c| about(&c.client) && about(&c.server))
                        || f.cause().is_some_and(|k| {
                            about(&k.conversation.client) || about(&k.conversation.server)
                        })
                });
                out.write_all(b"\n")?;
                out.write_all(
                    text::render(&own, &text::TextOptions { width, color, lang }).as_bytes(),
                )?;
            }
        }
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

fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=64) => Ok(n),
        _ => Err(format!("'{s}' is not a number of threads from 1 to 64")),
    }
}

static BAR: std::sync::OnceLock<indicatif::ProgressBar> = std::sync::OnceLock::new();

/// Drawn on stderr once the input proves long (16 MiB read): short runs
/// never flash a bar.
fn progress(read: u64, total: Option<u64>) {
    if BAR.get().is_none() && read < 16 << 20 {
        return;
    }
    let bar = BAR.get_or_init(|| {
        let b = match total {
            Some(t) => indicatif::ProgressBar::new(t),
            None => indicatif::ProgressBar::new_spinner(),
        };
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        b.set_style(style);
        b
    });
    bar.set_position(read);
}

fn terminal_width() -> Option<usize> {
    terminal_size::terminal_size()
        .map(|(w, _)| w.0 as usize)
        .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()))
}
