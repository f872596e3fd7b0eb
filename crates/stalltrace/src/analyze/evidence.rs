//! The packets the findings cite, read again from their files and printed
//! as tcpdump prints them: what a ticket quotes. A second pass, only when
//! a report asks for it (`--markdown`); the analysis itself keeps no
//! packet.

use std::collections::{BTreeMap, BTreeSet};

use stalltrace_capture::CaptureReader;
use stalltrace_report::Report;

use super::merge::{Item, Reader, BATCH};
use super::{InputSpec, Source};

/// Each cited packet's tcpdump line (`tcpdump -n -S`, UTC), by capture
/// point and packet number. `inputs` are the inputs as they were read
/// (`Analysis::read`), in the same order, so that the points are named as
/// they were; standard input cannot be read again, so its packets are
/// left out (and the report words them as usual). Reading stops once
/// every cited packet is found.
pub fn evidence_lines(inputs: &[InputSpec], report: &Report) -> BTreeMap<(String, u64), String> {
    let mut wanted: BTreeSet<(String, u64)> = report
        .findings
        .iter()
        .flat_map(|f| f.evidence.iter().map(|e| (e.point.clone(), e.packet)))
        .collect();
    let mut out = BTreeMap::new();
    if wanted.is_empty() || inputs.iter().any(|s| s.path.as_os_str() == "-") {
        return out;
    }
    let mut sources = Vec::new();
    for spec in inputs {
        match CaptureReader::open(&spec.path) {
            Ok(r) => sources.push(Source::new(spec.clone(), r)),
            // Read a moment ago: gone now, its packets stay unquoted.
            Err(_) => return out,
        }
    }
    let mut reader = Reader::new(sources);
    // The numbers wanted at each point, by the point's index as announced.
    let mut by_point: Vec<(String, BTreeSet<u64>)> = Vec::new();
    let mut left = wanted.len();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let more = reader.fill(&mut batch, BATCH);
        for item in batch.drain(..) {
            match item {
                Item::NewPoint(p) => {
                    let numbers: BTreeSet<u64> = wanted
                        .iter()
                        .filter(|(name, _)| *name == p.name)
                        .map(|(_, n)| *n)
                        .collect();
                    wanted.retain(|(name, _)| *name != p.name);
                    by_point.push((p.name.clone(), numbers));
                }
                Item::Packet { point, packet, .. } => {
                    let (name, numbers) = &mut by_point[point];
                    if numbers.remove(&packet.meta.number) {
                        out.insert(
                            (name.clone(), packet.meta.number),
                            packet.tcpdump().to_string(),
                        );
                        left -= 1;
                    }
                }
                Item::Closed(_) => {}
            }
        }
        if !more || left == 0 {
            return out;
        }
    }
}
