//! `stalltrace-fleet` (run as `stalltrace fleet`): the everyday questions
//! over a folder of findings, answered with SQL by an embedded engine.
//!
//! DataFusion, not DuckDB: it is Rust and shares arrow-rs with
//! stalltrace's packet events, so it builds with `cargo` alone (DuckDB's
//! bundled build compiles a 20 MB C++ amalgamation, single-threaded: longer
//! than this whole crate here, and a C++ toolchain to carry); its binary is
//! no larger. It lives in a binary of its own so that `stalltrace analyze`
//! stays small and quick to build.
//!
//! ```text
//! stalltrace analyze --each --json day1/ > reports/day1.json
//! stalltrace fleet reports/                       # the three questions
//! stalltrace fleet --sql "SELECT rule, sum(sessions) FROM findings GROUP BY rule" reports/
//! ```

mod table;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

const EXAMPLES: &str = "\
Reads stalltrace's JSON reports ('stalltrace analyze --json', best with
--each so that every occurrence has its own time and client) from the
files and folders given, as one table 'findings':

  report, rule, severity, point, at (UTC), cost_s, sessions, total_cost_s,
  protocol, client, server, server_host, server_port, service, wait,
  cause (the server's lookups meanwhile: ident, dns-ptr, ...), dropped,
  dropped_what, reached, missed (the capture points a lost packet was
  seen at and never reached)

Examples:
  stalltrace fleet reports/
  stalltrace fleet --question slowest --top 20 reports/
  stalltrace fleet --sql \"SELECT server_host, sum(sessions) AS n FROM findings
      WHERE cause LIKE '%ident%' GROUP BY server_host ORDER BY n DESC\" reports/
  stalltrace fleet --csv --question causes reports/ > causes.csv";

/// The everyday questions, as SQL over `findings`.
const QUESTIONS: &[(&str, &str, &str)] = &[
    (
        "causes",
        "Top causes by server and hour",
        "SELECT date_trunc('hour', at) AS hour, server_host AS server, rule,
                coalesce(cause, wait, '') AS cause,
                sum(sessions) AS sessions, round(sum(total_cost_s), 1) AS lost_s
         FROM findings
         GROUP BY 1, 2, 3, 4
         ORDER BY lost_s DESC NULLS LAST, sessions DESC, hour, server, rule
         LIMIT {top}",
    ),
    (
        "slowest",
        "Slowest logins and answers",
        "SELECT at, point, client, server, coalesce(service, '') AS service,
                round(cost_s, 3) AS wait_s, coalesce(cause, '') AS cause, rule
         FROM findings
         WHERE rule = 'application-wait'
         ORDER BY cost_s DESC, at, client
         LIMIT {top}",
    ),
    (
        "drops",
        "Which points dropped what",
        "SELECT reached AS seen_at, missed AS never_at, dropped_what AS packet,
                coalesce(service, '') AS service, sum(sessions) AS sessions
         FROM findings
         WHERE dropped
         GROUP BY 1, 2, 3, 4
         ORDER BY sessions DESC, seen_at, never_at, packet
         LIMIT {top}",
    ),
];

#[derive(Parser)]
#[command(
    name = "stalltrace fleet",
    version,
    about = "SQL over the findings of many stalltrace reports.",
    after_help = EXAMPLES
)]
struct Args {
    /// Report files (.json) or folders of them.
    #[arg(value_name = "REPORTS", required = true)]
    paths: Vec<PathBuf>,

    /// One of the everyday questions: causes, slowest, drops (default:
    /// all three).
    #[arg(long, value_parser = ["causes", "slowest", "drops"], conflicts_with = "sql")]
    question: Option<String>,

    /// Your own query over the table 'findings'.
    #[arg(long, value_name = "QUERY")]
    sql: Option<String>,

    /// Rows per answer.
    #[arg(long, default_value_t = 10)]
    top: usize,

    /// Comma-separated values instead of a table.
    #[arg(long)]
    csv: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stalltrace fleet: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let loaded = table::load(&args.paths)?;
    for (file, why) in &loaded.left_out {
        eprintln!("stalltrace fleet: {}: left out: {why}", file.display());
    }
    if loaded.reports == 0 {
        anyhow::bail!("no stalltrace report among the files given");
    }
    let rows = loaded.batch.num_rows();
    let ctx = SessionContext::new();
    let mem = MemTable::try_new(table::schema(), vec![vec![loaded.batch]])?;
    ctx.register_table("findings", Arc::new(mem))?;
    let queries: Vec<(String, String)> = match (&args.sql, &args.question) {
        (Some(q), _) => vec![(String::new(), q.clone())],
        (None, only) => QUESTIONS
            .iter()
            .filter(|(k, _, _)| only.as_deref().is_none_or(|o| o == *k))
            .map(|(_, title, q)| (title.to_string(), q.replace("{top}", &args.top.to_string())))
            .collect(),
    };
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    let mut out = std::io::stdout().lock();
    if !args.csv {
        writeln!(
            out,
            "{} report{}, {rows} finding{}",
            loaded.reports,
            if loaded.reports == 1 { "" } else { "s" },
            if rows == 1 { "" } else { "s" }
        )?;
    }
    for (title, q) in queries {
        let batches = rt.block_on(async { ctx.sql(&q).await?.collect().await })?;
        if args.csv {
            let mut w = datafusion::arrow::csv::Writer::new(&mut out);
            for b in &batches {
                w.write(b)?;
            }
        } else {
            if !title.is_empty() {
                writeln!(out, "\n{title}")?;
            }
            writeln!(out, "{}", pretty_format_batches(&batches)?)?;
        }
    }
    Ok(())
}
