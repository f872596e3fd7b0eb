//! `stalltrace watch`: its options, and the run until Ctrl-C, the end of
//! the stream or `--duration`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use stalltrace::analyze::{parse_seconds, AnalyzeOptions};
use stalltrace::watch::{watch, WatchOptions, WatchSource};
use stalltrace_decode::TimeDelta;
use stalltrace_diagnosis::Lang;

use crate::{EXIT_ERROR, EXIT_OK};

pub(crate) const WATCH_EXAMPLES: &str = "\
A wait is told once its answer came and it stayed the same for 300 ms; a
finding about a conversation still going on, when it ends; one that says
something never came (an unanswered connection, a scan, a flood), once
its packets have been quiet for a minute. At the end (Ctrl-C, SIGTERM,
--duration, or the end of a stream) what is still untold is told, a
summary follows, and the exit code is 0. Capturing needs root or
CAP_NET_RAW.

Examples:
  stalltrace watch -i eth1 -i eth2
  stalltrace watch -i outside=eth1 -i inside=eth2 --filter 'tcp port 110 or tcp port 113'
  stalltrace watch -i eth0 --json --evidence /var/tmp/stalls >> stalls.jsonl
  ssh fw tcpdump -U -w - 'port 110 or port 113' | stalltrace watch -r -";

#[derive(clap::Args)]
pub(crate) struct WatchArgs {
    /// An interface to capture on, its name the capture point's, or
    /// NAME=IFACE (repeatable: several interfaces on one clock are
    /// several points, matched across NAT as analyze does).
    #[arg(short = 'i', long = "interface", value_name = "[NAME=]IFACE")]
    interfaces: Vec<String>,

    /// Read a pcap or pcapng stream instead ('-': standard input, as
    /// written by tcpdump -U -w -).
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "interfaces"
    )]
    read: Option<PathBuf>,

    /// Only the frames this BPF filter keeps (tcpdump's syntax).
    #[arg(long, value_name = "BPF")]
    filter: Option<String>,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    duration: Option<TimeDelta>,

    /// One JSON object per line (findings, drop counters, the summary),
    /// for log shippers.
    #[arg(long)]
    json: bool,

    /// Write each finding's packets (from the ring) as a pcapng here.
    #[arg(long, value_name = "DIR")]
    evidence: Option<PathBuf>,

    /// The ring of recent frames kept for evidence, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    ring_mb: usize,

    /// A greeting or answer later than this many seconds is a wait.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    threshold: TimeDelta,

    /// At most this many live conversations per capture point.
    #[arg(long, value_name = "N", default_value_t = 500_000)]
    max_conversations: usize,

    /// Seconds between drop-counter reports.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    stats_every: TimeDelta,

    /// Language: en or zh-CN (default: from LANG).
    #[arg(long, value_name = "LANG", value_parser = crate::analyze_cmd::parse_lang)]
    lang: Option<Lang>,
}

fn duration(t: TimeDelta) -> Duration {
    Duration::from_nanos(t.nanos().max(0) as u64)
}

pub(crate) fn run_watch(a: WatchArgs) -> anyhow::Result<u8> {
    let mut sources = Vec::new();
    for i in &a.interfaces {
        let (name, iface) = match i.split_once('=') {
            Some((n, f)) if !n.is_empty() && !f.is_empty() => (n.to_string(), f.to_string()),
            _ => (i.clone(), i.clone()),
        };
        sources.push(WatchSource::Interface { name, iface });
    }
    if let Some(path) = &a.read {
        sources.push(WatchSource::Stream { path: path.clone() });
    }
    if sources.is_empty() {
        anyhow::bail!("watch what? give -i IFACE (repeatable) or -r FILE ('-' for standard input)");
    }
    if let Some(expr) = &a.filter {
        stalltrace_capture::bpf::BpfFilter::new(expr)?;
    }
    if let Some(dir) = &a.evidence {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut analyze = AnalyzeOptions {
        wait_threshold: a.threshold,
        ..Default::default()
    };
    analyze.tracker.max_live = a.max_conversations.max(1);
    let lang = a.lang.unwrap_or_else(Lang::from_env);
    let opts = WatchOptions {
        sources,
        filter: a.filter.clone(),
        duration: a.duration.map(duration),
        json: a.json,
        evidence: a.evidence.clone(),
        ring_bytes: a.ring_mb.max(1) << 20,
        lang,
        analyze,
        stats_every: duration(a.stats_every).max(Duration::from_secs(1)),
    };
    // Ctrl-C and SIGTERM end the watch: what is untold is told, exit 0.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("signal handler")?;
    }
    let stdout = std::io::stdout();
    let mut failed = None;
    let mut print = |line: &str| {
        let mut o = stdout.lock();
        // Flushed at once: a reader (a log shipper) sees it now.
        if let Err(e) = writeln!(o, "{line}").and_then(|_| o.flush()) {
            failed.get_or_insert(e);
        }
    };
    let summary = match watch(&opts, stop, &mut print) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stalltrace watch: {e}");
            return Ok(EXIT_ERROR);
        }
    };
    let kernel: u64 = summary.drops.iter().map(|d| d.1).sum();
    let own: u64 = summary.drops.iter().map(|d| d.2).sum();
    let line = if a.json {
        serde_json::json!({
            "type": "summary",
            "seconds": summary.seconds,
            "packets": summary.packets,
            "findings": summary.told,
            "evidence_files": summary.evidence_files,
            "kernel_dropped": kernel,
            "own_dropped": own,
        })
        .to_string()
    } else {
        format!(
            "stalltrace watch: {:.1} s, {} packets, {} findings, {} evidence files; the kernel dropped {kernel} frames, we dropped {own}",
            summary.seconds, summary.packets, summary.told, summary.evidence_files
        )
    };
    print(&line);
    if let Some(e) = failed {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    Ok(EXIT_OK)
}
