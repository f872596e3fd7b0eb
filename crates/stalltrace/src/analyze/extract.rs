//! Captures into packet events (`stalltrace extract`): read, merged,
//! decoded and named by capture point exactly as `analyze` reads them (the
//! same `Reader`, filters and duplicate marks), written as Parquet by
//! `stalltrace-events`. `analyze DIR` reads them back through the same
//! `Reader` and gives the same findings.

use std::path::Path;

use stalltrace_capture::{CaptureError, Warning};
use stalltrace_events::{EventsError, Extractor, Manifest};

use super::merge::{Item, Reader, BATCH};
use super::{open_inputs, sources, AnalyzeOptions};

/// What an extraction wrote and met.
pub struct Extracted {
    pub manifest: Manifest,
    /// Inputs that could not be read at all or to their end.
    pub errors: Vec<CaptureError>,
    pub warnings: Vec<Warning>,
    /// Bytes of the captures read.
    pub bytes_in: u64,
}

/// Streams the inputs of `opts` into events under `out`.
pub fn extract(opts: &AnalyzeOptions, out: &Path) -> Result<Extracted, EventsError> {
    let mut x = Extractor::create(out)?;
    let (readers, mut errors, left_out) = open_inputs(opts);
    let (srcs, early) = sources(readers, opts);
    errors.extend(early);
    let mut warnings = Vec::new();
    for (spec, why) in left_out {
        warnings.push(Warning::new(
            &spec.path.display().to_string(),
            None,
            stalltrace_capture::WarningKind::NotACapture { why },
        ));
    }
    let mut reader = Reader::new(srcs);
    reader.select = opts.select.clone();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let more = reader.fill(&mut batch, BATCH);
        for item in batch.drain(..) {
            match item {
                Item::NewPoint(s) => {
                    x.add_point(&s.name, &s.file, s.interface.as_deref());
                }
                Item::Packet {
                    point,
                    packet,
                    duplicate,
                } => x.packet(point, &packet, duplicate)?,
                Item::Closed(c) => {
                    warnings.extend(c.reader_warnings);
                    if let Some(&pi) = c.points.first() {
                        for s in &c.summary.skipped {
                            x.skipped(pi, s.reason.clone(), s.count);
                        }
                    }
                }
            }
        }
        if let Some(report) = opts.progress {
            report(reader.bytes_read(), reader.total());
        }
        if !more {
            break;
        }
    }
    let bytes_in = reader.bytes_read();
    errors.append(&mut reader.errors);
    for s in &reader.sources {
        if let Some(why) = &s.not_capture {
            warnings.push(Warning::new(
                &s.file,
                None,
                stalltrace_capture::WarningKind::NotACapture { why: why.clone() },
            ));
        }
    }
    let manifest = x.finish()?;
    Ok(Extracted {
        manifest,
        errors,
        warnings,
        bytes_in,
    })
}
