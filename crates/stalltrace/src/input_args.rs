//! The inputs of `analyze` and `extract`: files, named capture points,
//! and what of their packets to keep.

use std::path::PathBuf;

use anyhow::Context;
use stalltrace::analyze::{AnalyzeOptions, InputSpec, Select, TimeBound};

#[derive(clap::Args)]
pub(crate) struct InputArgs {
    /// Capture files or folders; '-' reads standard input.
    #[arg(value_name = "INPUT", required_unless_present = "point")]
    inputs: Vec<PathBuf>,

    /// Name a capture point: NAME=FILE (repeatable). NAME=FILE1,FILE2,...
    /// reads rotated files of one point (tcpdump -C/-G, dumpcap's ring
    /// buffer) one after the other as that point; packet numbers count
    /// on across them, as in the files joined by 'mergecap -a'.
    #[arg(long, value_name = "NAME=FILE[,FILE...]")]
    point: Vec<String>,

    /// Only the frames this BPF filter keeps, in tcpdump's syntax and
    /// meaning (libpcap compiles and runs it): 'tcp port 110 or port 113'.
    /// For pcap and pcapng input; printed text is an error (filter it when
    /// printing, or use --host and --port).
    #[arg(long, value_name = "BPF")]
    filter: Option<String>,

    /// Only packets to or from this host (repeatable: any of them): an
    /// address, or a host as a printed capture shows it (a name, a masked
    /// address such as 220.xxx.160.xxx).
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
}

impl InputArgs {
    /// The options these inputs and selections make; the rest default.
    pub(crate) fn options(&self) -> anyhow::Result<AnalyzeOptions> {
        let mut inputs: Vec<InputSpec> = self.inputs.iter().map(InputSpec::new).collect();
        for p in &self.point {
            let (name, files) = p
                .split_once('=')
                .filter(|(n, f)| !n.is_empty() && !f.is_empty())
                .with_context(|| {
                    format!("--point takes NAME=FILE or NAME=FILE1,FILE2, not '{p}'")
                })?;
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
        // A filter that cannot be compiled is a usage error, before any input.
        if let Some(expr) = &self.filter {
            stalltrace_capture::bpf::BpfFilter::new(expr)?;
        }
        // An address, or a host as a printout shows it (a name, a masked
        // address like 220.xxx.160.xxx), matched as written.
        let hosts = self
            .host
            .iter()
            .map(|h| {
                let h = h.trim();
                if h.is_empty() || h.contains(char::is_whitespace) {
                    anyhow::bail!("--host takes an address or a host name, not '{h}'");
                }
                Ok(match h.parse::<std::net::IpAddr>() {
                    Ok(ip) => stalltrace_decode::Host::from(ip),
                    Err(_) => stalltrace_decode::Host::named(h),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(AnalyzeOptions {
            inputs,
            filter: self.filter.clone(),
            select: Select {
                hosts,
                ports: self.port.clone(),
                since: self.since,
                until: self.until,
            },
            ..Default::default()
        })
    }
}
