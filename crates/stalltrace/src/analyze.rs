//! The pipeline, wired: capture → decode → conversations → matching →
//! diagnosis → report. All inputs are read at once and merged by time, as
//! mergecap would, so every capture point streams together and memory
//! follows the live conversations, not the inputs.
//!
//! Two sides: a `Reader` (read, merge, decode, mark duplicates, name the
//! capture point) and an `Analyser` (conversations, matching, diagnosis).
//! They exchange batches of `Item`s in stream order, on one thread or on
//! two (`AnalyzeOptions::threads`). The split is by stage, not by
//! conversation: a callback is another conversation than the wait it
//! explains, and whether a host serves spans all its conversations, so
//! conversations cannot be tracked apart; by stage, the report is the same
//! byte for byte whatever the threads.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::{Path, PathBuf};

use stalltrace_capture::{
    CaptureError, CaptureReader, Format, NotCapture, Record, SkipReason, Warning, WarningKind,
};
use stalltrace_conversations::{Points, Tracker, TrackerConfig};
use stalltrace_decode::{decode_frame, Packet, TimeDelta, Timestamp};
use stalltrace_diagnosis::{Diagnoser, DiagnosisConfig};
use stalltrace_matching::{Matcher, MatcherConfig};
use stalltrace_report::{InputSummary, PointSummary, Report, Tool, SCHEMA_VERSION};

/// One input as the user named it.
#[derive(Clone, Debug)]
pub struct InputSpec {
    pub path: PathBuf,
    /// `--point NAME=FILE`: the capture point's name.
    pub name: Option<String>,
    /// The folder it was found in, when it was not named itself: a file
    /// there that is no capture is left out with a warning, not an error.
    pub folder: Option<PathBuf>,
}

impl InputSpec {
    pub fn new(path: impl Into<PathBuf>) -> InputSpec {
        InputSpec {
            path: path.into(),
            name: None,
            folder: None,
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
    /// 1: everything on the calling thread. 2 or more: the inputs are read
    /// and decoded on a thread of their own, beside the analysis. The
    /// report is the same either way.
    pub threads: usize,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            inputs: Vec::new(),
            wait_threshold: TimeDelta::from_secs(1),
            tracker: TrackerConfig::default(),
            progress: None,
            threads: default_threads(),
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

/// Hand finished conversations on this often (packets).
const DRAIN_EVERY: u64 = 4096;

/// Files below a folder (and its folders), in name order; hidden files are
/// left out. Files found in a folder remember it.
fn expand(
    spec: &InputSpec,
    folder: Option<&Path>,
    out: &mut Vec<InputSpec>,
) -> std::io::Result<()> {
    if spec.path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&spec.path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        let top = folder.unwrap_or(&spec.path).to_path_buf();
        for p in entries {
            expand(&InputSpec::new(p), Some(&top), out)?;
        }
    } else {
        let mut s = spec.clone();
        s.folder = folder.map(Path::to_path_buf);
        out.push(s);
    }
    Ok(())
}

/// A capture point's name from its file: the name without the endings
/// captures carry, so that `x.pcap`, `x.pcapng` and a printout of it
/// (`x.txt`, `x.pcap.txt`) name the same point.
fn stem(path: &Path) -> String {
    if path.as_os_str() == "-" {
        return "stdin".into();
    }
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    'strip: loop {
        for ext in [".pcapng", ".pcap", ".cap", ".txt", ".log", ".dump", ".out"] {
            if let Some(s) = name.strip_suffix(ext).filter(|s| !s.is_empty()) {
                name = s.to_string();
                continue 'strip;
            }
        }
        return name;
    }
}

/// One open input and its next packet.
struct Source {
    spec: InputSpec,
    reader: CaptureReader,
    file: String,
    format: Format,
    /// Interface id to capture point; a capture has a handful.
    by_interface: Vec<(u32, usize)>,
    skipped: BTreeMap<SkipReason, u64>,
    /// Read to its end only to find it holds no capture (a file in a
    /// folder): left out with a warning.
    not_capture: Option<NotCapture>,
    records: u64,
    head: Option<Packet>,
    /// Fingerprints of recent IPv4 packets, to drop a capture's duplicates
    /// (the same frame recorded twice), each in the slot its low bits name:
    /// one look per packet, where scanning the last sixteen cost a twentieth
    /// of all the time. A copy comes within a millisecond, a few packets
    /// later at most, long before its slot is taken by another.
    recent: Box<[(u64, Timestamp); DUPLICATE_SLOTS]>,
    duplicates: u64,
}

/// Frames closer than this with the same IPv4 ID and contents are one frame
/// recorded twice, not a retransmission (which waits for an RTO).
const DUPLICATE_WINDOW: TimeDelta = TimeDelta::from_millis(1);
const DUPLICATE_SLOTS: usize = 256;

/// A running mix of 64-bit words: a multiply per field. Fingerprints are
/// taken of every packet, and a general hasher over these fields cost more
/// than decoding the packet.
struct Mix(u64);

impl Mix {
    fn add(&mut self, v: u64) {
        self.0 = (self.0 ^ v)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(31);
    }
    fn host(&mut self, h: &stalltrace_decode::Host) {
        use std::hash::BuildHasher;
        match h {
            stalltrace_decode::Host::V4(a) => self.add(u64::from(a.to_bits())),
            stalltrace_decode::Host::V6(a) => {
                let b = a.to_bits();
                self.add(b as u64);
                self.add((b >> 64) as u64);
            }
            named => self.add(foldhash::fast::FixedState::with_seed(1).hash_one(named)),
        }
    }
}

fn fingerprint(p: &Packet) -> Option<u64> {
    use std::hash::BuildHasher;
    // IPv6 has no ID to tell a copy from a new packet: leave it alone.
    let id = p.ip.id?;
    let mut m = Mix(0x5741_4c4c);
    m.add(u64::from(p.meta.interface) << 32 | u64::from(id) << 16);
    m.host(&p.src);
    m.host(&p.dst);
    m.add(u64::from(p.ip.total_len.unwrap_or(u32::MAX)));
    match &p.transport {
        stalltrace_decode::Transport::Tcp(t) => {
            m.add(u64::from(t.src_port) << 48 | u64::from(t.dst_port) << 32 | u64::from(t.flags.0));
            m.add(t.seq.map_or(1 << 40, |s| u64::from(s.0)));
            m.add(t.ack.map_or(1 << 40, |s| u64::from(s.0)));
            m.add(u64::from(t.payload_len));
            m.add(t.payload_digest);
        }
        stalltrace_decode::Transport::Udp(u) => {
            m.add(1 << 56 | u64::from(u.src_port) << 16 | u64::from(u.dst_port));
            m.add(u64::from(u.payload_len));
            m.add(u.payload_digest);
        }
        other => m.add(foldhash::fast::FixedState::with_seed(2).hash_one(format!("{other:?}"))),
    }
    Some(m.0)
}

impl Source {
    fn is_duplicate(&mut self, p: &Packet) -> bool {
        let Some(f) = fingerprint(p) else {
            return false;
        };
        let ts = p.meta.ts;
        // Zero marks an empty slot.
        let f = f | 1;
        let slot = &mut self.recent[(f >> 1) as usize % DUPLICATE_SLOTS];
        let dup = slot.0 == f && (ts - slot.1).abs() <= DUPLICATE_WINDOW;
        if !dup {
            *slot = (f, ts);
        }
        dup
    }
}

impl Source {
    /// The next decodable packet; skipped frames are counted by reason.
    fn pull(&mut self, errors: &mut Vec<CaptureError>) -> Option<Packet> {
        loop {
            match self.reader.next() {
                Ok(None) => return None,
                Err(e) => {
                    match NotCapture::of(&e).filter(|_| self.spec.folder.is_some()) {
                        Some(why) => self.not_capture = Some(why),
                        None => errors.push(e),
                    }
                    return None;
                }
                Ok(Some(Record::Packet(p))) => {
                    self.records += 1;
                    return Some(p);
                }
                Ok(Some(Record::Frame(f))) => {
                    self.records += 1;
                    match decode_frame(f.link, f.data, f.meta) {
                        Ok(p) => return Some(p),
                        Err(skip) => {
                            *self.skipped.entry(SkipReason::from(skip)).or_default() += 1;
                        }
                    }
                }
            }
        }
    }
}

struct Point {
    summary: PointSummary,
    tracker: Option<Tracker>,
}

struct Pipeline {
    /// More than one capture point: worth matching.
    several: bool,
    max_live: usize,
    points: Vec<Point>,
    names: Points,
    matcher: Matcher,
    diag: Diagnoser,
}

impl Pipeline {
    /// Conversations point `pi` finished go to matching and diagnosis; the
    /// packet logs nothing kept go back to its tracker for reuse.
    fn hand_over(&mut self, pi: usize, convs: Vec<stalltrace_conversations::Conversation>) {
        for c in convs {
            // Matching only means something with more than one point.
            if self.several {
                self.matcher.observe(&c);
            }
            let spare = self.diag.observe(c);
            if let (Some(log), Some(t)) = (spare, self.points[pi].tracker.as_mut()) {
                t.recycle_log(log);
            }
        }
    }

    fn advance(&mut self, now: Timestamp) {
        self.matcher.advance(now);
        for pi in 0..self.points.len() {
            let live = self.points[pi]
                .tracker
                .as_ref()
                .map(|t| t as &dyn stalltrace_conversations::LiveView);
            self.diag.advance(pi as u32, now, &self.matcher, live);
        }
    }
}

/// Runs the whole pipeline over the inputs.
pub fn analyze(opts: &AnalyzeOptions) -> Analysis {
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
        if spec.path.is_dir() && !specs.iter().any(|s| s.folder.as_ref() == Some(&spec.path)) {
            errors.push(CaptureError::NoCapture {
                what: spec.path.display().to_string(),
                files: 0,
            });
        }
    }
    let mut readers = Vec::new();
    let mut left_out = Vec::new();
    for spec in specs {
        match CaptureReader::open(&spec.path) {
            Ok(reader) => readers.push((spec, reader)),
            Err(e) => match NotCapture::of(&e).filter(|_| spec.folder.is_some()) {
                Some(why) => left_out.push((spec, why)),
                None => errors.push(e),
            },
        }
    }
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
    let sources: Vec<Source> = readers
        .into_iter()
        .map(|(spec, reader)| Source {
            file: reader.name().to_string(),
            format: reader.format(),
            reader,
            spec,
            by_interface: Vec::new(),
            skipped: BTreeMap::new(),
            not_capture: None,
            records: 0,
            head: None,
            recent: Box::new([(0, Timestamp::ZERO); DUPLICATE_SLOTS]),
            duplicates: 0,
        })
        .collect();
    let inputs = sources.len();
    // One pcap file is one capture point (one interface); any other input
    // may hold several, whose findings must be merged before they fold.
    let one_point = inputs == 1 && sources[0].format == Format::Pcap;
    let reader = Reader::new(sources);
    let mut an = Analyser {
        opts,
        pipe: Pipeline {
            several: inputs > 1,
            max_live: opts.tracker.max_live,
            points: Vec::new(),
            names: Points::default(),
            matcher: Matcher::new(MatcherConfig::default()),
            diag: Diagnoser::new(
                Points::default(),
                DiagnosisConfig {
                    wait_threshold: opts.wait_threshold,
                    resolve_delay: opts.tracker.idle_timeout + opts.tracker.closed_linger,
                    one_point,
                    ..DiagnosisConfig::default()
                },
            ),
        },
        summaries: (0..inputs).map(|_| None).collect(),
        warnings: Vec::new(),
        total: reader.total(),
        seen: 0,
        now: Timestamp::ZERO,
    };
    let (errors, sources) = run(reader, &mut an, opts.threads);
    let Analyser {
        mut pipe,
        summaries,
        warnings,
        now,
        ..
    } = an;
    let mut warnings = warnings;
    let mut read = Vec::new();
    let mut left_out = Vec::new();
    for s in sources {
        match s.not_capture {
            Some(why) => {
                warnings.push(Warning::new(
                    &s.file,
                    None,
                    WarningKind::NotACapture { why },
                ));
                left_out.push(s.spec);
            }
            None => read.push(s.spec),
        }
    }
    pipe.advance(now);
    pipe.diag.flush(&pipe.matcher);
    let matching = pipe.matcher.finish(&pipe.names);
    let findings = pipe.diag.finish(&matching);
    let report = Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "stalltrace".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        inputs: summaries.into_iter().flatten().collect(),
        points: pipe.points.into_iter().map(|p| p.summary).collect(),
        matching,
        findings,
        warnings,
    };
    Analysis {
        report,
        errors,
        read,
        left_out,
    }
}

/// What the reading side hands the analysing side, in stream order. The
/// same items in the same order whether one thread or two do the work, so
/// the report is the same byte for byte.
// Nearly every item is a packet, held inline in the batch: boxing it
// would allocate per packet. The rare variants are boxed instead.
#[allow(clippy::large_enum_variant)]
enum Item {
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
struct Closed {
    source: usize,
    /// Its capture points, in order.
    points: Vec<usize>,
    file: String,
    reader_warnings: Vec<Warning>,
    duplicates: u64,
    summary: InputSummary,
}

/// Items per hand-over between the threads: large enough that the channel
/// costs nothing per packet, small enough to stay in cache.
const BATCH: usize = 1024;

/// The reading side: every input read at once and merged by time, as
/// mergecap would, decoded, duplicates marked, each packet given its
/// capture point.
struct Reader {
    sources: Vec<Source>,
    /// The earliest next packet of any input goes first.
    heap: BinaryHeap<Reverse<(Timestamp, usize)>>,
    /// Capture point names, in order of first packet.
    names: Vec<String>,
    errors: Vec<CaptureError>,
    started: bool,
    /// The one input has ended.
    ended: bool,
}

impl Reader {
    fn new(sources: Vec<Source>) -> Self {
        Reader {
            sources,
            heap: BinaryHeap::new(),
            names: Vec::new(),
            errors: Vec::new(),
            started: false,
            ended: false,
        }
    }

    fn bytes_read(&self) -> u64 {
        self.sources.iter().map(|s| s.reader.bytes_read()).sum()
    }

    fn total(&self) -> Option<u64> {
        self.sources.iter().map(|s| s.reader.size()).sum()
    }

    /// Adds about `max` items to `out`; false once every input has ended.
    fn fill(&mut self, out: &mut Vec<Item>, max: usize) -> bool {
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
            reader_warnings: src.reader.take_warnings(),
            duplicates: src.duplicates,
            summary: InputSummary {
                file: src.file.clone(),
                format: src.format.name().into(),
                records: src.records,
                skipped: InputSummary::skipped_from(std::mem::take(&mut src.skipped)),
            },
        }
    }
}

/// The analysing side: conversations, matching, diagnosis.
struct Analyser<'a> {
    opts: &'a AnalyzeOptions,
    pipe: Pipeline,
    summaries: Vec<Option<InputSummary>>,
    warnings: Vec<Warning>,
    total: Option<u64>,
    seen: u64,
    now: Timestamp,
}

impl Analyser<'_> {
    /// Takes in one item; a packet is only looked at, not moved (it is
    /// large, and moving every packet once more cost a tenth of the time).
    fn take(&mut self, item: &mut Item, bytes_read: u64) {
        match item {
            Item::NewPoint(summary) => {
                let summary = std::mem::take(summary);
                let pipe = &mut self.pipe;
                let idx = pipe.points.len();
                pipe.several |= idx > 0;
                pipe.names.add(summary.name.clone());
                pipe.diag.add_point(summary.name.clone());
                pipe.points.push(Point {
                    summary: *summary,
                    tracker: Some(Tracker::new(idx as u32, self.opts.tracker.clone())),
                });
            }
            Item::Packet {
                point,
                packet,
                duplicate,
            } => self.packet(*point, packet, *duplicate, bytes_read),
            Item::Closed(c) => self.close(*std::mem::take(c)),
        }
    }

    fn packet(&mut self, point: usize, packet: &Packet, duplicate: bool, bytes_read: u64) {
        let pipe = &mut self.pipe;
        let pt = &mut pipe.points[point];
        let ts = packet.meta.ts;
        pt.summary.first.get_or_insert(ts);
        if pt.summary.last.is_none_or(|l| ts > l) {
            pt.summary.last = Some(ts);
        }
        if !duplicate {
            pt.tracker.as_mut().expect("live point").observe(packet);
        }
        self.now = self.now.max(ts);
        self.seen += 1;
        if self.seen % DRAIN_EVERY == 0 {
            if let Some(report) = self.opts.progress {
                report(bytes_read, self.total);
            }
            for pj in 0..pipe.points.len() {
                if let Some(t) = pipe.points[pj].tracker.as_mut() {
                    let done = t.take_finished();
                    pipe.hand_over(pj, done);
                }
            }
            pipe.advance(self.now);
        }
    }

    /// An input is done: its points' conversations all end here.
    fn close(&mut self, c: Closed) {
        let pipe = &mut self.pipe;
        let warnings = &mut self.warnings;
        warnings.extend(c.reader_warnings);
        for pi in c.points {
            if let Some(t) = pipe.points[pi].tracker.take() {
                let st = t.stats().clone();
                let name = &pipe.points[pi].summary.name;
                if st.packets == 0 {
                    warnings
                        .push(Warning::new(&c.file, None, WarningKind::NoIpTraffic).at_point(name));
                }
                let mut note = |n: u64, kind: WarningKind| {
                    if n > 0 {
                        warnings.push(Warning::new(&c.file, None, kind).at_point(name));
                    }
                };
                note(
                    st.time_went_back,
                    WarningKind::TimeWentBack {
                        count: st.time_went_back,
                    },
                );
                note(
                    st.truncated,
                    WarningKind::Snaplen {
                        count: st.truncated,
                    },
                );
                note(
                    st.fragments,
                    WarningKind::Fragments {
                        count: st.fragments,
                    },
                );
                note(
                    st.bad_ip_checksum,
                    WarningKind::BadChecksum {
                        count: st.bad_ip_checksum,
                    },
                );
                note(
                    st.evicted,
                    WarningKind::Evicted {
                        count: st.evicted,
                        cap: pipe.max_live as u64,
                    },
                );
                pipe.points[pi].summary.stats = st;
                let done = t.finish();
                pipe.hand_over(pi, done);
            }
        }
        if c.duplicates > 0 {
            warnings.push(Warning::new(
                &c.file,
                None,
                WarningKind::Duplicates {
                    count: c.duplicates,
                },
            ));
        }
        for s in &c.summary.skipped {
            warnings.push(Warning::new(
                &c.file,
                None,
                WarningKind::SkippedFrames {
                    count: s.count,
                    reason: s.reason.clone(),
                },
            ));
        }
        self.summaries[c.source] = Some(c.summary);
    }
}

/// Runs the reading side into the analysing side: on this thread, or on a
/// thread of its own a few batches ahead (so memory stays bounded).
fn run(mut reader: Reader, an: &mut Analyser, threads: usize) -> (Vec<CaptureError>, Vec<Source>) {
    if threads <= 1 {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let more = reader.fill(&mut batch, BATCH);
            let read = reader.bytes_read();
            for item in &mut batch {
                an.take(item, read);
            }
            batch.clear();
            if !more {
                return (reader.errors, reader.sources);
            }
        }
    }
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(Vec<Item>, u64)>(4);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<Item>>();
        let reading = std::thread::Builder::new()
            .name("reader".into())
            .spawn_scoped(scope, move || {
                loop {
                    let mut batch = empty_rx
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                    let more = reader.fill(&mut batch, BATCH);
                    // A send fails only when the analysing side is gone
                    // (it panicked): stop reading too.
                    if full_tx.send((batch, reader.bytes_read())).is_err() || !more {
                        break;
                    }
                }
                (reader.errors, reader.sources)
            })
            .expect("a thread can be started");
        for (mut batch, read) in full_rx {
            for item in &mut batch {
                an.take(item, read);
            }
            batch.clear();
            let _ = empty_tx.send(batch);
        }
        match reading.join() {
            Ok(errors) => errors,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
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
