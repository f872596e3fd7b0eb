//! The pipeline, wired: capture → decode → conversations → diagnosis →
//! report, streaming every input once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use stalltrace_capture::{CaptureError, CaptureReader, Format, Record, Warning};
use stalltrace_conversations::{Tracker, TrackerConfig};
use stalltrace_decode::{decode_frame, Packet, Skip, TimeDelta};
use stalltrace_diagnosis::{Diagnoser, DiagnosisConfig};
use stalltrace_report::{InputSummary, PointSummary, Report, Tool, SCHEMA_VERSION};

/// One input as the user named it.
#[derive(Clone, Debug)]
pub struct InputSpec {
    pub path: PathBuf,
    /// `--point NAME=FILE`: the capture point's name.
    pub name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    pub inputs: Vec<InputSpec>,
    pub wait_threshold: TimeDelta,
    pub tracker: TrackerConfig,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            inputs: Vec::new(),
            wait_threshold: TimeDelta::from_secs(1),
            tracker: TrackerConfig::default(),
        }
    }
}

/// The report, and the inputs that could not be read at all or to the end.
pub struct Analysis {
    pub report: Report,
    pub errors: Vec<CaptureError>,
}

/// Hand finished conversations to the diagnosis this often.
const DRAIN_EVERY: u64 = 4096;

struct Point {
    summary: PointSummary,
    tracker: Tracker,
}

/// Files below a folder, in name order; hidden files are left out.
fn expand(spec: &InputSpec, out: &mut Vec<InputSpec>) -> std::io::Result<()> {
    if spec.path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&spec.path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        for p in entries {
            expand(
                &InputSpec {
                    path: p,
                    name: None,
                },
                out,
            )?;
        }
    } else {
        out.push(spec.clone());
    }
    Ok(())
}

fn stem(path: &Path) -> String {
    if path.as_os_str() == "-" {
        return "stdin".into();
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    for ext in [".pcapng", ".pcap", ".cap", ".txt", ".log", ".dump"] {
        if let Some(s) = name.strip_suffix(ext) {
            return s.to_string();
        }
    }
    name
}

/// Runs the whole pipeline over the inputs.
pub fn analyze(opts: &AnalyzeOptions) -> Analysis {
    let mut errors = Vec::new();
    let mut inputs = Vec::new();
    for spec in &opts.inputs {
        if let Err(source) = expand(spec, &mut inputs) {
            errors.push(CaptureError::Open {
                file: spec.path.display().to_string(),
                source,
            });
        }
    }
    let mut points: Vec<Point> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut diag = Diagnoser::new(
        Vec::new(),
        DiagnosisConfig {
            wait_threshold: opts.wait_threshold,
            resolve_delay: opts.tracker.idle_timeout + opts.tracker.closed_linger,
            ..DiagnosisConfig::default()
        },
    );
    let mut summaries = Vec::new();
    let mut warnings: Vec<Warning> = Vec::new();

    for spec in &inputs {
        let mut reader = match CaptureReader::open(&spec.path) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let file = reader.name().to_string();
        let format = reader.format();
        let mut by_interface: HashMap<u32, usize> = HashMap::new();
        let mut skipped: BTreeMap<String, u64> = BTreeMap::new();
        let mut records = 0u64;
        loop {
            let packet: Packet = match reader.next() {
                Ok(None) => break,
                Err(e) => {
                    errors.push(e);
                    break;
                }
                Ok(Some(Record::Packet(p))) => {
                    records += 1;
                    p
                }
                Ok(Some(Record::Frame(f))) => {
                    records += 1;
                    match decode_frame(f.link, f.data, f.meta) {
                        Ok(p) => p,
                        Err(skip) => {
                            let key = match skip {
                                Skip::NotIp { .. } => "not IP".to_string(),
                                other => other.to_string(),
                            };
                            *skipped.entry(key).or_default() += 1;
                            continue;
                        }
                    }
                }
            };
            let iface = packet.meta.interface;
            let pi = match by_interface.get(&iface) {
                Some(&i) => i,
                None => {
                    let ifaces = reader.interfaces();
                    let if_name = ifaces.get(iface as usize).and_then(|i| i.name.clone());
                    let several = ifaces.len() > 1;
                    let base = spec.name.clone().unwrap_or_else(|| stem(&spec.path));
                    let mut name = match (&if_name, several) {
                        (Some(n), true) => format!("{base}:{n}"),
                        (None, true) => format!("{base}:if{iface}"),
                        _ => base,
                    };
                    if names.contains_key(&name) {
                        name = format!("{name}#{}", points.len() + 1);
                    }
                    let idx = points.len();
                    names.insert(name.clone(), idx);
                    diag.add_point(name.clone());
                    points.push(Point {
                        summary: PointSummary {
                            name,
                            file: file.clone(),
                            interface: if_name,
                            numbered_by_line: format == Format::Text,
                            first: None,
                            last: None,
                            stats: Default::default(),
                        },
                        tracker: Tracker::new(idx as u32, opts.tracker.clone()),
                    });
                    by_interface.insert(iface, idx);
                    idx
                }
            };
            let pt = &mut points[pi];
            let ts = packet.meta.ts;
            pt.summary.first.get_or_insert(ts);
            if pt.summary.last.is_none_or(|l| ts > l) {
                pt.summary.last = Some(ts);
            }
            pt.tracker.observe(&packet);
            if pt.tracker.stats().packets % DRAIN_EVERY == 0 {
                for c in pt.tracker.take_finished() {
                    diag.observe(c);
                }
                diag.advance(pi as u32, ts);
            }
        }
        // This input is done: everything still open ends here.
        let mut indices: Vec<usize> = by_interface.values().copied().collect();
        indices.sort();
        for pi in indices {
            let tracker = std::mem::replace(
                &mut points[pi].tracker,
                Tracker::new(pi as u32, opts.tracker.clone()),
            );
            points[pi].summary.stats = tracker.stats().clone();
            for c in tracker.finish() {
                diag.observe(c);
            }
            if let Some(last) = points[pi].summary.last {
                diag.advance(pi as u32, last);
            }
        }
        warnings.extend(reader.take_warnings());
        for (reason, n) in &skipped {
            warnings.push(Warning {
                file: file.clone(),
                location: None,
                message: format!(
                    "{n} frame{} skipped: {reason}",
                    if *n == 1 { "" } else { "s" }
                ),
            });
        }
        summaries.push(InputSummary {
            file,
            format: format.name().into(),
            records,
            skipped,
        });
    }
    let findings = diag.finish();
    let report = Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "stalltrace".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        inputs: summaries,
        points: points.into_iter().map(|p| p.summary).collect(),
        findings,
        warnings,
    };
    Analysis { report, errors }
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
