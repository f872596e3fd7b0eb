use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use stalltrace::analyze::parse_seconds;

mod analyze_cmd;
mod extract_cmd;
mod input_args;
mod lab;
mod parts_cmd;
mod watch_cmd;
use analyze_cmd::{run_analyze, AnalyzeArgs, ANALYZE_EXAMPLES};
use stalltrace_decode::TimeDelta;
use stalltrace_report::json;
use watch_cmd::{run_watch, WatchArgs, WATCH_EXAMPLES};

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
    Analyze(Box<AnalyzeArgs>),
    /// The same diagnosis live, on interfaces or a stream: findings as
    /// they happen (root or CAP_NET_RAW).
    #[command(after_help = WATCH_EXAMPLES)]
    Watch(Box<WatchArgs>),
    /// Write captures as packet events in Parquet, for 'analyze DIR',
    /// Spark or SQL.
    #[command(after_help = extract_cmd::EXTRACT_EXAMPLES)]
    Extract(Box<extract_cmd::ExtractArgs>),
    /// SQL over the findings of many reports: top causes by server and
    /// hour, slowest logins, which points dropped what (runs
    /// stalltrace-fleet).
    #[command(disable_help_flag = true)]
    Fleet {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// One part of a distributed analysis: packet events (Arrow IPC) in,
    /// what its conversations showed per batch out (spark/).
    #[command(hide = true)]
    TrackPart(parts_cmd::TrackPartArgs),
    /// The joining side of a distributed analysis: every part's reports
    /// in, the report out (spark/).
    #[command(hide = true)]
    JoinParts(parts_cmd::JoinPartsArgs),
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
        Command::Analyze(a) => run_analyze(*a),
        Command::Watch(w) => run_watch(*w),
        Command::Extract(x) => extract_cmd::run_extract(*x),
        Command::Fleet { args } => Ok(fleet(&args)),
        Command::TrackPart(a) => parts_cmd::run_track_part(a),
        Command::JoinParts(a) => parts_cmd::run_join_parts(a),
        Command::Lab(l) => lab::run(l),
    }
}

/// `stalltrace fleet` is the binary `stalltrace-fleet` beside this one (or
/// on the PATH), as `git` runs its subcommands: its SQL engine stays out of
/// `analyze`'s build.
fn fleet(args: &[std::ffi::OsString]) -> u8 {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("stalltrace-fleet")))
        .filter(|p| p.is_file());
    let program = beside.unwrap_or_else(|| PathBuf::from("stalltrace-fleet"));
    match std::process::Command::new(&program).args(args).status() {
        Ok(s) => s.code().map_or(EXIT_ERROR, |c| c as u8),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            eprintln!(
                "stalltrace: 'fleet' is the program stalltrace-fleet, not installed: cargo install --path crates/fleet (Rust 1.88 or newer)"
            );
            EXIT_ERROR
        }
        Err(e) => {
            eprintln!("stalltrace: running {}: {e}", program.display());
            EXIT_ERROR
        }
    }
}
