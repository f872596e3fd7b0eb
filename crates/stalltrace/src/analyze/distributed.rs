//! `analyze` split across machines: the parted analysis of `--threads N`
//! (`parts.rs`) with processes for threads, for an engine that can sort,
//! group and stream (Spark: `spark/stalltrace_job.py`).
//!
//! The engine computes what the reading side computes on one machine: the
//! packets of every point merged by time (each packet's place `g` in the
//! stream), each point's clock at each packet, and the batches the
//! reading side would have handed on. That is the [`Plan`], small: a line
//! per batch. It groups the packets by part (the unordered host pair, as
//! [`stalltrace_conversations::partition`] does, under its own hash) and
//! runs [`track_part`] on each group: the same trackers, moved to each
//! point's clock at each batch's end, write what they found per batch
//! ([`PartReport`], CBOR, exact to the nanosecond). [`join_parts`] then
//! reads every part's reports in batch order, one batch at a time, and
//! does what the joining thread does: host ledgers, matching across
//! points, diagnosis. So the findings are those of `analyze` on the same
//! packets, whatever the number of parts.
//!
//! Frames between the two: the batch (u64, little-endian), the length
//! (u32), the CBOR of a [`PartReport`].

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use stalltrace_capture::Warning;
use stalltrace_conversations::{Clock, PartReport, TrackerConfig};
use stalltrace_decode::Timestamp;
use stalltrace_diagnosis::DiagnosisConfig;
use stalltrace_report::{InputSummary, PointSummary, Report, Skipped};

use super::analyser::{Analyser, Pipeline};
use super::merge::Closed;
use super::parts::PartTrackers;
use super::AnalyzeOptions;

/// The stream as the reading side would have read it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    /// The inputs (a capture point each), in the order `analyze` takes
    /// them: it breaks ties of time by it.
    pub sources: Vec<PlanSource>,
    /// The points in the order of their first packet in the stream.
    pub points: Vec<PlanPoint>,
    pub batches: Vec<PlanBatch>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanSource {
    /// What the report names as the input.
    pub file: String,
    /// Its packets, duplicates included.
    pub records: u64,
    /// Frames recorded twice.
    pub duplicates: u64,
    /// Frames its extraction could not decode.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanPoint {
    pub name: String,
    /// The capture's name for its interface (pcapng).
    #[serde(default)]
    pub interface: Option<String>,
    pub source: usize,
    /// The batch its first packet is in.
    pub first_batch: usize,
    /// Its first packet's time and its latest, in nanoseconds (none for
    /// a point without packets).
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanBatch {
    /// Packets in the stream up to the end of this batch.
    pub seen: u64,
    /// The latest time of a packet in it.
    pub max_ns: i64,
    /// Each point tracked in it, with its clock at the batch's end.
    pub clocks: Vec<(u32, i64)>,
    /// The inputs that end in it.
    #[serde(default)]
    pub closed: Vec<usize>,
}

/// What keeps a part or the join from running.
#[derive(Debug, thiserror::Error)]
pub enum DistributedError {
    #[error("the plan {0}")]
    Plan(String),
    #[error("the packets: {0}")]
    Events(#[from] stalltrace_events::ForeignError),
    #[error("the packets: the column '{0}' the engine adds is missing or not an integer")]
    Column(&'static str),
    #[error("the packets: row {row}: {why}")]
    Order { row: u64, why: String },
    #[error("a part's report, at byte {offset}: {why}")]
    Report { offset: u64, why: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Plan {
    pub fn read(r: impl Read) -> Result<Plan, DistributedError> {
        let plan: Plan =
            serde_json::from_reader(r).map_err(|e| DistributedError::Plan(e.to_string()))?;
        for (i, p) in plan.points.iter().enumerate() {
            if p.source >= plan.sources.len() || p.first_batch >= plan.batches.len().max(1) {
                return Err(DistributedError::Plan(format!(
                    "names a source or batch that is not there at point {i}"
                )));
            }
        }
        let bad = |b: &PlanBatch| {
            b.clocks
                .iter()
                .any(|&(p, _)| p as usize >= plan.points.len())
                || b.closed.iter().any(|&s| s >= plan.sources.len())
        };
        if let Some(i) = plan.batches.iter().position(bad) {
            return Err(DistributedError::Plan(format!(
                "names a point or source that is not there in batch {i}"
            )));
        }
        Ok(plan)
    }

    fn points_of(&self, source: usize) -> Vec<usize> {
        (0..self.points.len())
            .filter(|&p| self.points[p].source == source)
            .collect()
    }
}

/// One packet of a part, with what the engine computed for it.
struct Row {
    batch: u64,
    g: u64,
    point: u32,
    clock: i64,
    went_back: bool,
}

fn int_column(
    b: &arrow_array::RecordBatch,
    name: &'static str,
) -> Result<Vec<i64>, DistributedError> {
    let col = b
        .column_by_name(name)
        .ok_or(DistributedError::Column(name))?;
    let col = arrow_cast::cast(col, &arrow_schema::DataType::Int64)
        .map_err(|_| DistributedError::Column(name))?;
    let a = col
        .as_any()
        .downcast_ref::<arrow_array::Int64Array>()
        .ok_or(DistributedError::Column(name))?;
    if arrow_array::Array::null_count(a) > 0 {
        return Err(DistributedError::Column(name));
    }
    Ok(a.values().to_vec())
}

/// One part: tracks the packets of an Arrow IPC stream (the events'
/// columns and the engine's `batch`, `g`, `point_index`, `clock_ns`,
/// `went_back`, sorted by `g`) and writes what it found per batch.
pub fn track_part(
    plan: &Plan,
    cfg: &TrackerConfig,
    input: impl Read,
    mut out: impl Write,
) -> Result<(), DistributedError> {
    let out: &mut dyn Write = &mut out;
    let mut trackers = PartTrackers::default();
    for pi in 0..plan.points.len() {
        trackers.start(pi, cfg);
    }
    let mut run = PartRun {
        plan,
        trackers,
        next_batch: 0,
    };
    let mut last_g = None;
    let mut rows_seen = 0u64;
    for batch in stalltrace_events::ipc_batches(input)? {
        let batch = batch?;
        let events = stalltrace_events::conform(&batch)?;
        let bs = int_column(&batch, "batch")?;
        let gs = int_column(&batch, "g")?;
        let pis = int_column(&batch, "point_index")?;
        let clocks = int_column(&batch, "clock_ns")?;
        let backs = int_column(&batch, "went_back")?;
        for r in 0..batch.num_rows() {
            let row = Row {
                batch: bs[r] as u64,
                g: gs[r] as u64,
                point: pis[r] as u32,
                clock: clocks[r],
                went_back: backs[r] != 0,
            };
            let at = rows_seen + r as u64;
            if last_g.is_some_and(|l| row.g <= l) || row.batch < run.next_batch as u64 {
                return Err(DistributedError::Order {
                    row: at,
                    why: "the packets are not sorted by their place in the stream".into(),
                });
            }
            if row.batch as usize >= plan.batches.len() || row.point as usize >= plan.points.len() {
                return Err(DistributedError::Order {
                    row: at,
                    why: "its batch or point is not in the plan".into(),
                });
            }
            last_g = Some(row.g);
            run.end_batches(row.batch as usize, out)?;
            let p = stalltrace_events::packet(&events, r)?;
            if let Some(t) = run.trackers.get(row.point as usize) {
                t.observe_at(
                    &p,
                    Clock {
                        // The analysing side counts packets from 1.
                        seq: row.g + 1,
                        now: Timestamp::from_nanos(row.clock),
                        went_back: row.went_back,
                    },
                );
            }
        }
        rows_seen += batch.num_rows() as u64;
    }
    run.end_batches(plan.batches.len(), out)?;
    out.flush()?;
    Ok(())
}

/// A part's trackers and the batch it is in.
struct PartRun<'a> {
    plan: &'a Plan,
    trackers: PartTrackers,
    next_batch: usize,
}

impl PartRun<'_> {
    /// Ends the batches before `upto` as the parted threads end theirs,
    /// and writes what each found.
    fn end_batches(&mut self, upto: usize, out: &mut dyn Write) -> Result<(), DistributedError> {
        while self.next_batch < upto {
            let b = &self.plan.batches[self.next_batch];
            let mut rep = PartReport::default();
            for &s in &b.closed {
                for pi in self.plan.points_of(s) {
                    self.trackers.close(pi, &mut rep);
                }
            }
            let clocks = b
                .clocks
                .iter()
                .map(|&(pi, now)| (pi as usize, Timestamp::from_nanos(now)));
            self.trackers.end_batch(clocks, &mut rep);
            if !rep.is_empty() {
                write_frame(out, self.next_batch as u64, &rep)?;
            }
            self.next_batch += 1;
        }
        Ok(())
    }
}

fn write_frame(out: &mut dyn Write, batch: u64, rep: &PartReport) -> Result<(), DistributedError> {
    let mut buf = Vec::new();
    ciborium::into_writer(rep, &mut buf).map_err(|e| DistributedError::Report {
        offset: 0,
        why: e.to_string(),
    })?;
    let len = u32::try_from(buf.len()).map_err(|_| DistributedError::Report {
        offset: 0,
        why: "over 4 GiB in one batch".into(),
    })?;
    out.write_all(&batch.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&buf)?;
    Ok(())
}

/// Reads the next frame: its batch and report; `None` at the end.
fn read_frame(
    r: &mut impl Read,
    offset: &mut u64,
) -> Result<Option<(u64, PartReport)>, DistributedError> {
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        let n = r.read(&mut head[got..])?;
        if n == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(DistributedError::Report {
                offset: *offset,
                why: "the stream ends inside a frame's head".into(),
            });
        }
        got += n;
    }
    let batch = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(head[8..].try_into().expect("4 bytes"));
    let mut body = Vec::new();
    r.take(u64::from(len)).read_to_end(&mut body)?;
    if body.len() != len as usize {
        return Err(DistributedError::Report {
            offset: *offset,
            why: format!("a frame of {len} bytes is cut at {}", body.len()),
        });
    }
    let rep = ciborium::from_reader(body.as_slice()).map_err(|e| DistributedError::Report {
        offset: *offset,
        why: e.to_string(),
    })?;
    *offset += 12 + u64::from(len);
    Ok(Some((batch, rep)))
}

/// The joining side: every part's reports, sorted by batch, in; the
/// report `analyze` gives out.
pub fn join_parts(
    plan: &Plan,
    opts: &AnalyzeOptions,
    mut input: impl Read,
) -> Result<Report, DistributedError> {
    let mut pipe = Pipeline::new(
        &opts.tracker,
        DiagnosisConfig {
            wait_threshold: opts.wait_threshold,
            // As `analyze` of an events folder: never one pcap.
            one_point: false,
            fold: opts.fold,
            ..DiagnosisConfig::default()
        },
    );
    pipe.several = plan.sources.len() > 1;
    let mut an = Analyser {
        opts,
        pipe,
        summaries: (0..plan.sources.len()).map(|_| None).collect(),
        warnings: Vec::new(),
        total: None,
        seen: 0,
        now: Timestamp::ZERO,
        next_drain: super::analyser::DRAIN_EVERY,
    };
    let mut offset = 0;
    let mut next = read_frame(&mut input, &mut offset)?;
    for (b, batch) in plan.batches.iter().enumerate() {
        for (pi, p) in plan.points.iter().enumerate() {
            if p.first_batch == b {
                let at = an.new_point(point_summary(plan, p), false);
                debug_assert_eq!(at, pi);
            }
        }
        let mut outs = Vec::new();
        while let Some((fb, _)) = &next {
            if *fb < b as u64 {
                return Err(DistributedError::Report {
                    offset,
                    why: format!("batch {fb} comes after batch {b}: not sorted"),
                });
            }
            if *fb > b as u64 {
                break;
            }
            let (_, rep) = next.take().expect("a frame");
            outs.push(rep);
            next = read_frame(&mut input, &mut offset)?;
        }
        an.seen = batch.seen;
        an.now = an.now.max(Timestamp::from_nanos(batch.max_ns));
        let endings = batch
            .closed
            .iter()
            .map(|&s| (closed(plan, s), Vec::new()))
            .collect();
        super::parts::join(&mut an, outs, endings, 0);
    }
    if let Some((fb, _)) = next {
        return Err(DistributedError::Report {
            offset,
            why: format!("batch {fb} is not in the plan"),
        });
    }
    Ok(an.into_report())
}

fn point_summary(plan: &Plan, p: &PlanPoint) -> PointSummary {
    PointSummary {
        name: p.name.clone(),
        file: plan.sources[p.source].file.clone(),
        interface: p.interface.clone(),
        numbered_by_line: false,
        first: p.first_ns.map(Timestamp::from_nanos),
        last: p.last_ns.map(Timestamp::from_nanos),
        stats: Default::default(),
    }
}

fn closed(plan: &Plan, s: usize) -> Closed {
    let src = &plan.sources[s];
    Closed {
        source: s,
        points: plan.points_of(s),
        file: src.file.clone(),
        reader_warnings: Vec::<Warning>::new(),
        duplicates: src.duplicates,
        summary: InputSummary {
            file: src.file.clone(),
            format: stalltrace_capture::Format::Events.name().into(),
            records: src.records,
            skipped: src.skipped.clone(),
            filtered_out: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(batches: usize) -> Plan {
        Plan {
            sources: vec![PlanSource {
                file: "a.pcap".into(),
                records: 0,
                duplicates: 0,
                skipped: Vec::new(),
            }],
            points: vec![PlanPoint {
                name: "a".into(),
                interface: None,
                source: 0,
                first_batch: 0,
                first_ns: None,
                last_ns: None,
            }],
            batches: (0..batches)
                .map(|b| PlanBatch {
                    seen: b as u64,
                    max_ns: 0,
                    clocks: Vec::new(),
                    closed: if b + 1 == batches {
                        vec![0]
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
        }
    }

    fn frames(batches: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in batches {
            write_frame(&mut out, b, &PartReport::default()).unwrap();
        }
        out
    }

    #[test]
    fn reports_in_batch_order_join_and_end_the_inputs() {
        let opts = AnalyzeOptions::default();
        let r = join_parts(&plan(3), &opts, frames(&[0, 0, 2]).as_slice()).unwrap();
        assert_eq!(r.points.len(), 1);
        assert_eq!(r.inputs.len(), 1);
        assert_eq!(r.inputs[0].file, "a.pcap");
        assert!(r.findings.is_empty());
    }

    #[test]
    fn reports_out_of_order_are_refused_at_their_offset() {
        let opts = AnalyzeOptions::default();
        let e = join_parts(&plan(3), &opts, frames(&[1, 0]).as_slice()).unwrap_err();
        let one = frames(&[0]).len();
        assert_eq!(
            e.to_string(),
            format!(
                "a part's report, at byte {}: batch 0 comes after batch 1: not sorted",
                2 * one
            )
        );
        let e = join_parts(&plan(3), &opts, frames(&[5]).as_slice()).unwrap_err();
        assert!(e.to_string().contains("batch 5 is not in the plan"), "{e}");
    }

    #[test]
    fn a_cut_report_is_an_error_not_an_end() {
        let opts = AnalyzeOptions::default();
        let mut f = frames(&[0, 1]);
        f.truncate(f.len() - 1);
        let e = join_parts(&plan(3), &opts, f.as_slice()).unwrap_err();
        assert!(e.to_string().contains("is cut at"), "{e}");
        let e = join_parts(&plan(3), &opts, &f[..5]).unwrap_err();
        assert!(e.to_string().contains("inside a frame's head"), "{e}");
    }

    #[test]
    fn a_plan_naming_what_is_not_there_is_refused() {
        let mut p = plan(2);
        p.batches[1].clocks.push((4, 0));
        let json = serde_json::to_vec(&p).unwrap();
        let e = Plan::read(json.as_slice()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the plan names a point or source that is not there in batch 1"
        );
        let e = Plan::read(&b"{"[..]).unwrap_err();
        assert!(e.to_string().starts_with("the plan "), "{e}");
    }

    #[test]
    fn packets_without_the_engines_columns_are_refused() {
        let batch = arrow_array::RecordBatch::try_new(
            stalltrace_events::schema(),
            stalltrace_events::schema()
                .fields()
                .iter()
                .map(|f| arrow_array::new_empty_array(f.data_type()))
                .collect(),
        )
        .unwrap();
        let mut ipc = Vec::new();
        let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut ipc, &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        drop(w);
        let cfg = TrackerConfig::default();
        let e = track_part(&plan(1), &cfg, ipc.as_slice(), Vec::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the packets: the column 'batch' the engine adds is missing or not an integer"
        );
    }
}
