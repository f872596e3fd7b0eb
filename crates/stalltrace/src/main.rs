use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use stalltrace::analyze::{
    analyze, evidence_lines, parse_seconds, AnalyzeOptions, InputSpec, Select, TimeBound,
};

mod lab;
use stalltrace_decode::TimeDelta;
use stalltrace_diagnosis::{tr, Lang, Severity};
use stalltrace_report::{html, json, markdown, summary, text};

/// Exit codes, stable for scripts.
pub(crate) const EXIT_OK: u8 = 0;
pub(crate) const EXIT_FINDINGS: u8 = 1;
pub(crate) const EXIT_ERROR: u8 = 2;

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
    /// Rebuild the seed's test environments on real Linux networking (root).
    #[command(subcommand, after_help = LAB_HELP)]
    Lab(LabCommand),
    /// Print the JSON Schema of the --json report.
    Schema,
}

const LAB_HELP: &str = "\
The lab builds the seed report's set-ups in network namespaces (client
192.168.1.200 behind a NAT firewall 203.0.113.171, server 203.0.113.25),
with the real kernel TCP stack and nftables, captures at the firewall's
eth1 and eth2, the client and the server, and analyses its own captures.
It also rebuilds the network's waits on that topology (request-loss,
zero-window, nagle, pmtu-black-hole, listen-backlog, idle-timeout,
ipv6-fallback, refused), and the field's real daemons where Debian
packages them with the fault each is known for (sendmail-ident, smtp-ptr:
sendmail; ssh-usedns: OpenSSH; dns-aaaa-race: glibc's resolver;
env1-xinetd, nat-oidentd: xinetd with popa3d, oidentd on the firewall;
dnsmasq as the name server), and says at
which capture points `analyze` names each. It needs root, iproute2 and
nftables (and those packages for their scenarios), and touches nothing
outside its own namespaces, which it removes with every program it started
in them at the end, on error and on Ctrl-C.

Examples:
  stalltrace lab list
  stalltrace lab run env1-drop
  stalltrace lab run env3-reset --ident-timeout 3 --out /tmp/env3
  stalltrace lab run request-loss
  stalltrace lab run ssh-usedns --out /tmp/ssh
  stalltrace lab matrix --ident-timeout 3

Namespaces are named st<pid>-<n>-<role>. A run killed outright (kill -9)
cannot clean up after itself: the next run finds the namespaces of a
process that no longer runs, removes them with the programs left in them,
and says so; 'stalltrace lab clean' does only that.

Exit codes: 0 as expected; 1 a measurement (or, for a fault, where it is
named) differed from the scenario's expectation; 2 the lab could not run;
130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM, after removing
what the run made (its namespaces, its programs, an --out folder it
created).";

#[derive(Subcommand)]
pub(crate) enum LabCommand {
    /// List the built-in scenarios.
    List,
    /// Run one scenario (a built-in name or a TOML file) and analyse its captures.
    Run {
        /// A built-in scenario ('stalltrace lab list') or a scenario TOML file.
        scenario: String,
        /// Where to write the captures (default: lab-captures/<scenario>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Seconds the server waits for ident (0 = lookups off). A scenario
        /// that fixes its own (sendmail-ident-pause: 5 s) keeps it.
        #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
        ident_timeout: TimeDelta,
    },
    /// Remove what runs that were killed left behind (network namespaces,
    /// the programs in them, their /etc/netns files), and say what.
    Clean,
    /// Run every built-in scenario and print a table of what happened.
    Matrix {
        /// Where to write the captures (default: lab-captures/<scenario>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Seconds the server waits for ident (0 = lookups off), where the
        /// scenario does not fix its own.
        #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
        ident_timeout: TimeDelta,
    },
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
  stalltrace analyze --summary rotated.pcap.gz | grep CRITICAL
  stalltrace analyze --fail-on warning --threshold 0.5 login.pcap || alert
  stalltrace analyze --html report.html --lang zh-CN outside.pcap inside.pcap
  stalltrace analyze --markdown - login.pcap.gz > ticket.md
  stalltrace analyze --point fw=cap.pcap0,cap.pcap1,cap.pcap2 server.pcap
  stalltrace analyze --filter 'tcp port 110 or tcp port 113' fw-outside.pcap
  stalltrace analyze --host 192.0.2.10 --since 13:05:00 --until +60 big.pcap

Exit codes: 0 analysed; 1 a finding at or above --fail-on; 2 an input could
not be read (the others are still analysed), or bad usage.";

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files or folders; '-' reads standard input.
    #[arg(value_name = "INPUT", required_unless_present = "point")]
    inputs: Vec<PathBuf>,

    /// Name a capture point: NAME=FILE (repeatable). NAME=FILE1,FILE2,...
    /// reads rotated files of one point (tcpdump -C/-G, dumpcap's ring
    /// buffer) one after the other as that point; packet numbers count
    /// on across them, as in the files joined by 'mergecap -a'.
    #[arg(long, value_name = "NAME=FILE[,FILE...]")]
    point: Vec<String>,

    /// Write the report as JSON (schema: 'stalltrace schema').
    #[arg(long, conflicts_with = "summary")]
    json: bool,

    /// One line per finding (severity, cost, what, where, the first fix),
    /// for chat and monitoring.
    #[arg(long)]
    summary: bool,

    /// Only the frames this BPF filter keeps, in tcpdump's syntax and
    /// meaning (libpcap compiles and runs it): 'tcp port 110 or port 113'.
    /// For pcap and pcapng input; printed text is an error (filter it when
    /// printing, or use --host and --port).
    #[arg(long, value_name = "BPF")]
    filter: Option<String>,

    /// Only packets to or from this host (repeatable: any of them).
    #[arg(long, value_name = "ADDRESS")]
    host: Vec<String>,

    /// Only packets to or from this port (repeatable: any of them); ICMP
    /// errors count by the packet they quote.
    #[arg(long, value_name = "PORT")]
    port: Vec<u16>,

    /// Only packets from this time: HH:MM:SS[.frac] (UTC, the capture's
    /// day), 'YYYY-MM-DD HH:MM:SS' (UTC), epoch seconds, or +SECONDS after
    /// the first packet.
    #[arg(long, value_name = "TIME", value_parser = TimeBound::parse)]
    since: Option<TimeBound>,

    /// Only packets up to this time (the same forms as --since).
    #[arg(long, value_name = "TIME", value_parser = TimeBound::parse)]
    until: Option<TimeBound>,

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

    /// Threads: 1 does everything on one; 2 (or more) reads and decodes the captures
    /// beside the analysis (the default on two cores or more). The report
    /// is the same either way.
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

fn parse_lang(s: &str) -> Result<Lang, String> {
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { EXIT_OK });
        }
    };
    let outcome = run(cli);
    // A lab run stopped by Ctrl-C ends with 130, from its clean-up.
    stalltrace_lab::netns::yield_to_interrupt();
    match outcome {
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
        Command::Lab(l) => lab::run(l),
    }
}

fn run_analyze(a: AnalyzeArgs) -> anyhow::Result<u8> {
    let mut inputs: Vec<InputSpec> = a.inputs.iter().map(InputSpec::new).collect();
    for p in &a.point {
        let (name, files) = p
            .split_once('=')
            .filter(|(n, f)| !n.is_empty() && !f.is_empty())
            .with_context(|| format!("--point takes NAME=FILE or NAME=FILE1,FILE2, not '{p}'"))?;
        // A name that is a file itself holds no comma: one file whole.
        let mut files: Vec<PathBuf> = if std::path::Path::new(files).exists() {
            vec![PathBuf::from(files)]
        } else {
            files.split(',').map(PathBuf::from).collect()
        };
        let first = files.remove(0);
        inputs.push(InputSpec {
            name: Some(name.to_string()),
            more: files,
            ..InputSpec::new(first)
        });
    }
    let lang = a.lang.unwrap_or_else(Lang::from_env);
    // A filter that cannot be compiled is a usage error, before any input.
    if let Some(expr) = &a.filter {
        stalltrace_capture::bpf::BpfFilter::new(expr)?;
    }
    let hosts = a
        .host
        .iter()
        .map(|h| {
            h.parse::<std::net::IpAddr>()
                .map(stalltrace_decode::Host::from)
                .with_context(|| format!("--host takes an IPv4 or IPv6 address, not '{h}'"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut opts = AnalyzeOptions {
        inputs,
        wait_threshold: a.threshold,
        filter: a.filter.clone(),
        select: Select {
            hosts,
            ports: a.port.clone(),
            since: a.since,
            until: a.until,
        },
        ..Default::default()
    };
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
        out.write_all(text::render(report, &text::TextOptions { width, color, lang }).as_bytes())?;
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
