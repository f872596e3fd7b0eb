//! The pipeline, wired: capture → decode → conversations → matching →
//! diagnosis → report. All inputs are read at once and merged by time, as
//! mergecap would, so every capture point streams together and memory
//! follows the live conversations, not the inputs.
//!
//! Two sides: a `Reader` (read, merge, decode, mark duplicates, name the
//! capture point) and an `Analyser` (conversations, matching, diagnosis).
//! They exchange batches of `Item`s in stream order, on one thread or on
//! two (`AnalyzeOptions::threads`). With three threads or more, packet
//! tracking is split too, by the two hosts of a packet, across
//! `threads − 2` parts (`parts.rs`); what spans a host's conversations
//! with others (a callback to a third host, a DNS lookup, SYN-ACKs to
//! others, which conversations a host serves) is joined from the parts'
//! host events in a ledger per point, and matching and the diagnosis run
//! on the finished conversations as with one thread. Either way the
//! conversations that finish in a batch, and the order they are handed
//! on, are the same: the report is the same byte for byte whatever the
//! threads.
//!
//! Files: `inputs.rs` (what the user named: files, folders, one open
//! capture each and its duplicate frames), `merge.rs` (the reading side:
//! inputs merged by time, capture points named), `analyser.rs` (the
//! analysing side: conversations, matching, diagnosis), `threads.rs` (the
//! two sides on one thread or two), `parts.rs` (tracking split in parts).

mod analyser;
mod conversation;
pub mod distributed;
mod evidence;
mod extract;
mod inputs;
mod live;
mod merge;
mod parts;
mod select;
mod threads;

use std::path::PathBuf;

use stalltrace_capture::{CaptureError, CaptureReader, Format, NotCapture, Warning, WarningKind};
use stalltrace_conversations::TrackerConfig;
use stalltrace_decode::{TimeDelta, Timestamp};

pub use conversation::{
    conversation_ends, conversation_packets, parse_conversation, Seen, CONVERSATION_MAX,
};
pub use evidence::evidence_lines;
pub use extract::{extract, Extracted};
pub use live::LiveAnalysis;
pub use select::{Select, TimeBound};
use stalltrace_diagnosis::DiagnosisConfig;
use stalltrace_report::Report;

use analyser::{Analyser, Pipeline};
pub(crate) use inputs::stem;
use inputs::{expand, Source};
use merge::Reader;
use threads::run;

/// One input as the user named it.
#[derive(Clone, Debug)]
pub struct InputSpec {
    pub path: PathBuf,
    /// `--point NAME=FILE`: the capture point's name.
    pub name: Option<String>,
    /// The folder it was found in, when it was not named itself: a file
    /// there that is no capture is left out with a warning, not an error.
    pub folder: Option<PathBuf>,
    /// Files that continue this one, read after it as the same capture
    /// point (`--point NAME=FILE1,FILE2`: tcpdump's `-C`/`-G` rotation,
    /// dumpcap's ring buffer). Packet numbers count on across them, as in
    /// the files joined by `mergecap -a`.
    pub more: Vec<PathBuf>,
}

impl InputSpec {
    pub fn new(path: impl Into<PathBuf>) -> InputSpec {
        InputSpec {
            path: path.into(),
            name: None,
            folder: None,
            more: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    pub inputs: Vec<InputSpec>,
    pub wait_threshold: TimeDelta,
    pub tracker: TrackerConfig,
    /// Called now and then with (bytes read, bytes in all, when known).
    pub progress: Option<fn(u64, Option<u64>)>,
    /// 1: everything on the calling thread. 2: the inputs are read and
    /// decoded on a thread of their own, beside the analysis. 3 or more:
    /// packet tracking is split across `threads − 2` more. The report is
    /// the same either way.
    pub threads: usize,
    /// A BPF filter (tcpdump's syntax) on the frames of pcap and pcapng
    /// inputs; an input of printed text is then an error.
    pub filter: Option<String>,
    /// Hosts, ports and times kept, on the packets of every input.
    pub select: Select,
    /// The same finding about many conversations told once, with how
    /// often (false: each occurrence on its own, for fleet statistics).
    pub fold: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            inputs: Vec::new(),
            wait_threshold: TimeDelta::from_secs(1),
            tracker: TrackerConfig::default(),
            progress: None,
            threads: default_threads(),
            filter: None,
            select: Select::default(),
            fold: true,
        }
    }
}

/// Two when the machine has two cores or more: the pipeline has two sides.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

/// The report, and the inputs that could not be read at all or to the end.
pub struct Analysis {
    pub report: Report,
    pub errors: Vec<CaptureError>,
    /// Inputs that were captures and were analysed.
    pub read: Vec<InputSpec>,
    /// Files found in folders that are no capture.
    pub left_out: Vec<InputSpec>,
}

/// Opens every input named: the readers, the inputs that could not be
/// opened, and files found in folders that are no capture.
type Opened = (
    Vec<(InputSpec, CaptureReader)>,
    Vec<CaptureError>,
    Vec<(InputSpec, NotCapture)>,
);

fn open_inputs(opts: &AnalyzeOptions) -> Opened {
    let mut errors = Vec::new();
    let mut specs = Vec::new();
    for spec in &opts.inputs {
        if let Err(source) = expand(spec, None, &mut specs) {
            errors.push(CaptureError::Open {
                file: spec.path.display().to_string(),
                source,
            });
        }
    }
    // A folder given with no file in it holds no capture.
    for spec in &opts.inputs {
        if spec.path.is_dir()
            && !stalltrace_events::is_events_dir(&spec.path)
            && !specs.iter().any(|s| s.folder.as_ref() == Some(&spec.path))
        {
            errors.push(CaptureError::NoCapture {
                what: spec.path.display().to_string(),
                files: 0,
            });
        }
    }
    let mut readers = Vec::new();
    let mut left_out = Vec::new();
    for spec in specs {
        match inputs::open(&spec) {
            Ok(reader) => readers.push((spec, reader)),
            Err(e) => match NotCapture::of(&e).filter(|_| spec.folder.is_some()) {
                Some(why) => left_out.push((spec, why)),
                None => errors.push(e),
            },
        }
    }
    (readers, errors, left_out)
}

/// Runs the whole pipeline over the inputs.
pub fn analyze(opts: &AnalyzeOptions) -> Analysis {
    let (readers, mut errors, left_out) = open_inputs(opts);
    let mut a = analyze_readers(readers, opts);
    for (spec, why) in left_out {
        a.left_out.push(spec.clone());
        a.report.warnings.push(Warning::new(
            &spec.path.display().to_string(),
            None,
            WarningKind::NotACapture { why },
        ));
    }
    // A folder whose files are all no capture: nothing was analysed there.
    for spec in &opts.inputs {
        let from_it: Vec<&InputSpec> = a
            .left_out
            .iter()
            .filter(|s| s.folder.as_ref() == Some(&spec.path))
            .collect();
        let read = a.read.iter().any(|s| s.folder.as_ref() == Some(&spec.path));
        if !from_it.is_empty() && !read {
            errors.push(CaptureError::NoCapture {
                what: spec.path.display().to_string(),
                files: from_it.len() as u64,
            });
        }
    }
    errors.append(&mut a.errors);
    a.errors = errors;
    a
}

/// Runs the pipeline over captures already open (from files, memory,
/// sockets); `InputSpec::path` only names them.
pub fn analyze_readers(
    readers: Vec<(InputSpec, CaptureReader)>,
    opts: &AnalyzeOptions,
) -> Analysis {
    let (sources, errors_early) = sources(readers, opts);
    let inputs = sources.len();
    // One pcap file is one capture point (one interface); any other input
    // may hold several, whose findings must be merged before they fold.
    let one_point = inputs == 1 && sources[0].format == Format::Pcap;
    let mut reader = Reader::new(sources);
    reader.select = opts.select.clone();
    let mut pipe = Pipeline::new(
        &opts.tracker,
        DiagnosisConfig {
            wait_threshold: opts.wait_threshold,
            one_point,
            fold: opts.fold,
            ..DiagnosisConfig::default()
        },
    );
    pipe.several = inputs > 1;
    let mut an = Analyser {
        opts,
        pipe,
        summaries: (0..inputs).map(|_| None).collect(),
        warnings: Vec::new(),
        total: reader.total(),
        seen: 0,
        now: Timestamp::ZERO,
        next_drain: analyser::DRAIN_EVERY,
    };
    let (mut errors, sources) = if opts.threads >= 3 {
        parts::run(reader, &mut an, opts.threads - 2)
    } else {
        run(reader, &mut an, opts.threads)
    };
    errors.splice(0..0, errors_early);
    let mut read = Vec::new();
    let mut left_out = Vec::new();
    for s in sources {
        match s.not_capture {
            Some(why) => {
                an.warnings.push(Warning::new(
                    &s.file,
                    None,
                    WarningKind::NotACapture { why },
                ));
                left_out.push(s.spec);
            }
            None => read.push(s.spec),
        }
    }
    let report = an.into_report();
    Analysis {
        report,
        errors,
        read,
        left_out,
    }
}

/// The readers as the reading side's sources, each with the BPF filter
/// asked for; an input the filter cannot apply to is an error.
fn sources(
    readers: Vec<(InputSpec, CaptureReader)>,
    opts: &AnalyzeOptions,
) -> (Vec<Source>, Vec<CaptureError>) {
    let mut errors_early = Vec::new();
    let mut sources: Vec<Source> = Vec::new();
    for (spec, reader) in readers {
        let mut s = Source::new(spec, reader);
        if let Some(expr) = opts
            .filter
            .as_ref()
            .filter(|_| matches!(s.format, Format::Text | Format::Events))
        {
            // Printed lines and events have no frames to run BPF on: never
            // analysed unfiltered, the input is left out.
            use stalltrace_capture::bpf::FilterError;
            let expr = expr.clone();
            errors_early.push(CaptureError::Filter {
                file: s.file.clone(),
                source: match s.format {
                    Format::Text => FilterError::PrintedText { expr },
                    _ => FilterError::Events { expr },
                },
            });
            continue;
        }
        if let Some(expr) = &opts.filter {
            match stalltrace_capture::bpf::BpfFilter::new(expr) {
                Ok(f) => s.bpf = Some(f),
                // Never analysed unfiltered: the input is left out.
                Err(source) => {
                    errors_early.push(CaptureError::Filter {
                        file: s.file.clone(),
                        source,
                    });
                    continue;
                }
            }
        }
        sources.push(s);
    }
    (sources, errors_early)
}

/// Seconds as the user types them: "1", "0.5".
pub fn parse_seconds(s: &str) -> Result<TimeDelta, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&v) {
        return Err(format!("{s} s is out of range (0 to 86400)"));
    }
    Ok(TimeDelta::from_secs_f64(v))
}
