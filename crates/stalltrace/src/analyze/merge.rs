//! The reading side: every input read at once and merged by time, as
//! mergecap would, each packet given its capture point, handed to the
//! analysing side in batches of [`Item`]s.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use stalltrace_capture::{CaptureError, Format, Warning};
use stalltrace_decode::{Packet, Timestamp};
use stalltrace_report::{InputSummary, PointSummary};

use super::inputs::{stem, Source};

/// What the reading side hands the analysing side, in stream order. The
/// same items in the same order whether one thread or two do the work, so
/// the report is the same byte for byte.
// Nearly every item is a packet, held inline in the batch: boxing it
// would allocate per packet. The rare variants are boxed instead.
#[allow(clippy::large_enum_variant)]
pub(super) enum Item {
    /// A capture point's first packet comes next.
    NewPoint(Box<PointSummary>),
    Packet {
        point: usize,
        packet: Packet,
        /// The same frame recorded twice: timed, not tracked.
        duplicate: bool,
    },
    /// An input ended: its points' conversations all end here.
    Closed(Box<Closed>),
}

#[derive(Default)]
pub(super) struct Closed {
    pub(super) source: usize,
    /// Its capture points, in order.
    pub(super) points: Vec<usize>,
    pub(super) file: String,
    pub(super) reader_warnings: Vec<Warning>,
    pub(super) duplicates: u64,
    pub(super) summary: InputSummary,
}

/// Items per hand-over between the threads: large enough that the channel
/// costs nothing per packet, small enough to stay in cache.
pub(super) const BATCH: usize = 1024;

/// The reading side: every input read at once and merged by time, as
/// mergecap would, decoded, duplicates marked, each packet given its
/// capture point.
pub(super) struct Reader {
    pub(super) sources: Vec<Source>,
    /// The earliest next packet of any input goes first.
    pub(super) heap: BinaryHeap<Reverse<(Timestamp, usize)>>,
    /// Capture point names, in order of first packet.
    pub(super) names: Vec<String>,
    pub(super) errors: Vec<CaptureError>,
    pub(super) started: bool,
    /// The one input has ended.
    pub(super) ended: bool,
    /// Hosts, ports and times kept.
    pub(super) select: super::Select,
    /// The first packet of all the inputs, where `--since +N` counts from.
    first: Option<Timestamp>,
}

impl Reader {
    pub(super) fn new(sources: Vec<Source>) -> Self {
        Reader {
            sources,
            heap: BinaryHeap::new(),
            names: Vec::new(),
            errors: Vec::new(),
            started: false,
            ended: false,
            select: super::Select::default(),
            first: None,
        }
    }

    pub(super) fn bytes_read(&self) -> u64 {
        self.sources.iter().map(|s| s.bytes_read()).sum()
    }

    pub(super) fn total(&self) -> Option<u64> {
        self.sources.iter().map(|s| s.size()).sum()
    }

    /// Adds about `max` items to `out`; false once every input has ended.
    pub(super) fn fill(&mut self, out: &mut Vec<Item>, max: usize) -> bool {
        if self.sources.len() == 1 {
            return self.fill_one(out, max);
        }
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                self.advance(i, out);
            }
        }
        while out.len() < max {
            let Some(Reverse((_, i))) = self.heap.pop() else {
                return false;
            };
            let src = &mut self.sources[i];
            let packet = src.head.take().expect("a queued input has a packet");
            let first = *self.first.get_or_insert(packet.meta.ts);
            if !self.select.is_empty() && !self.select.keeps(&packet, first) {
                src.filtered_out += 1;
                self.advance(i, out);
                continue;
            }
            let duplicate = src.is_duplicate(&packet);
            src.duplicates += u64::from(duplicate);
            let point = self.point_for(i, &packet, out);
            out.push(Item::Packet {
                point,
                packet,
                duplicate,
            });
            self.advance(i, out);
        }
        !self.heap.is_empty()
    }

    /// One input needs no merging: each packet goes from the decoder
    /// straight into the batch.
    fn fill_one(&mut self, out: &mut Vec<Item>, max: usize) -> bool {
        if self.ended {
            return false;
        }
        while out.len() < max {
            let Some(packet) = self.sources[0].pull(&mut self.errors) else {
                self.ended = true;
                let closed = self.close(0, out);
                out.push(Item::Closed(Box::new(closed)));
                return false;
            };
            let src = &mut self.sources[0];
            let first = *self.first.get_or_insert(packet.meta.ts);
            if !self.select.is_empty() && !self.select.keeps(&packet, first) {
                src.filtered_out += 1;
                continue;
            }
            let duplicate = src.is_duplicate(&packet);
            src.duplicates += u64::from(duplicate);
            let point = self.point_for(0, &packet, out);
            out.push(Item::Packet {
                point,
                packet,
                duplicate,
            });
        }
        true
    }

    /// Reads input `i`'s next packet, or reports that it ended.
    fn advance(&mut self, i: usize, out: &mut Vec<Item>) {
        match self.sources[i].pull(&mut self.errors) {
            Some(p) => {
                self.heap.push(Reverse((p.meta.ts, i)));
                self.sources[i].head = Some(p);
            }
            None => {
                let closed = self.close(i, out);
                out.push(Item::Closed(Box::new(closed)));
            }
        }
    }

    /// The capture point of a packet: its input's interface, named on first use.
    fn point_for(&mut self, i: usize, p: &Packet, out: &mut Vec<Item>) -> usize {
        let iface = p.meta.interface;
        if let Some(&(_, idx)) = self.sources[i]
            .by_interface
            .iter()
            .find(|(f, _)| *f == iface)
        {
            return idx;
        }
        self.new_point(i, iface, out)
    }

    /// Names a capture point of input `i` and announces it.
    fn new_point(&mut self, i: usize, iface: u32, out: &mut Vec<Item>) -> usize {
        let src = &mut self.sources[i];
        let ifaces = src.reader.interfaces();
        let if_name = ifaces.get(iface as usize).and_then(|i| i.name.clone());
        let several = ifaces.len() > 1;
        let base = src
            .spec
            .name
            .clone()
            .unwrap_or_else(|| stem(&src.spec.path));
        let mut name = match (&if_name, several) {
            (Some(n), true) => format!("{base}:{n}"),
            (None, true) => format!("{base}:if{iface}"),
            _ => base,
        };
        if self.names.contains(&name) {
            name = format!("{name}#{}", self.names.len() + 1);
        }
        let idx = self.names.len();
        self.names.push(name.clone());
        src.by_interface.push((iface, idx));
        out.push(Item::NewPoint(Box::new(PointSummary {
            name,
            file: src.file.clone(),
            interface: if_name,
            numbered_by_line: src.format == Format::Text,
            first: None,
            last: None,
            stats: Default::default(),
        })));
        idx
    }

    fn close(&mut self, i: usize, out: &mut Vec<Item>) -> Closed {
        // A capture read to its end with no IP packet is still a point,
        // with nothing to diagnose there (said as such, never "no stall").
        if self.sources[i].by_interface.is_empty() && self.sources[i].not_capture.is_none() {
            self.new_point(i, 0, out);
        }
        let src = &mut self.sources[i];
        let mut points: Vec<usize> = src.by_interface.iter().map(|(_, i)| *i).collect();
        points.sort();
        Closed {
            source: i,
            points,
            file: src.file.clone(),
            reader_warnings: src.take_warnings(),
            duplicates: src.duplicates,
            summary: InputSummary {
                file: src.file.clone(),
                format: src.format.name().into(),
                records: src.records,
                skipped: InputSummary::skipped_from(std::mem::take(&mut src.skipped)),
                filtered_out: src.filtered_out,
            },
        }
    }
}
