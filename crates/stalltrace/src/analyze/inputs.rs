//! What the user named: files, and folders read for the files in them;
//! one open capture each, whose packets come out decoded, with frames
//! recorded twice marked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stalltrace_capture::{CaptureError, CaptureReader, Format, NotCapture, Record, SkipReason};
use stalltrace_decode::{decode_frame, Packet, TimeDelta, Timestamp};

use super::InputSpec;

/// Files below a folder (and its folders), in name order; hidden files are
/// left out. Files found in a folder remember it.
pub(super) fn expand(
    spec: &InputSpec,
    folder: Option<&Path>,
    out: &mut Vec<InputSpec>,
) -> std::io::Result<()> {
    if spec.path.is_dir() && spec.more.is_empty() {
        // Packet events (`stalltrace extract`): one input a capture point.
        if let Some(m) = stalltrace_events::Manifest::read(&spec.path) {
            for p in m.points {
                let mut s = InputSpec::new(spec.path.join(&p.dir));
                s.name = Some(p.name);
                out.push(s);
            }
            return Ok(());
        }
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

/// Opens an input: a capture file, or a capture point's packet events.
pub(super) fn open(spec: &InputSpec) -> Result<CaptureReader, CaptureError> {
    // A point of an events folder, as its manifest lists it.
    let listed = spec.path.parent().and_then(|events| {
        let m = stalltrace_events::Manifest::read(events)?;
        let dir = spec.path.file_name()?.to_string_lossy().into_owned();
        let entry = m.points.into_iter().find(|p| p.dir == dir)?;
        Some((events.to_path_buf(), entry))
    });
    match listed {
        Some((events, entry)) => {
            let source = stalltrace_events::PointEvents::open_listed(&events, &entry)?;
            let label = spec.path.display().to_string();
            let interface = entry.interface.clone();
            Ok(CaptureReader::from_packets(
                &label,
                Box::new(source),
                interface,
            ))
        }
        None => CaptureReader::open(&spec.path),
    }
}

/// A capture point's name from its file: the name without the endings
/// captures carry, so that `x.pcap`, `x.pcapng`, a printout of it
/// (`x.txt`, `x.pcap.txt`) and a compressed one (`x.pcap.gz`,
/// `x.pcapng.zst`) name the same point.
pub(crate) fn stem(path: &Path) -> String {
    if path.as_os_str() == "-" {
        return "stdin".into();
    }
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    'strip: loop {
        for ext in [
            ".pcapng", ".pcap", ".cap", ".txt", ".log", ".dump", ".out", ".gz", ".zst", ".xz",
            ".bz2",
        ] {
            if let Some(s) = name.strip_suffix(ext).filter(|s| !s.is_empty()) {
                name = s.to_string();
                continue 'strip;
            }
        }
        return name;
    }
}

/// One open input and its next packet.
pub(super) struct Source {
    pub(super) spec: InputSpec,
    pub(super) reader: CaptureReader,
    pub(super) file: String,
    pub(super) format: Format,
    /// Interface id to capture point; a capture has a handful.
    pub(super) by_interface: Vec<(u32, usize)>,
    pub(super) skipped: BTreeMap<SkipReason, u64>,
    /// Read to its end only to find it holds no capture (a file in a
    /// folder): left out with a warning.
    pub(super) not_capture: Option<NotCapture>,
    pub(super) records: u64,
    pub(super) head: Option<Packet>,
    /// Fingerprints of recent IPv4 packets, to drop a capture's duplicates
    /// (the same frame recorded twice), each in the slot its low bits name:
    /// one look per packet, where scanning the last sixteen cost a twentieth
    /// of all the time. A copy comes within a millisecond, a few packets
    /// later at most, long before its slot is taken by another.
    pub(super) recent: Box<[(u64, Timestamp); DUPLICATE_SLOTS]>,
    pub(super) duplicates: u64,
    /// The files still to read after this one, as the same point.
    more: std::collections::VecDeque<std::path::PathBuf>,
    /// Added to the packet numbers of the file being read: the records
    /// of the files before it.
    number_base: u64,
    last_number: u64,
    /// Warnings of the files read before this one.
    earlier_warnings: Vec<stalltrace_capture::Warning>,
    /// Bytes of the files read before this one, for progress.
    bytes_before: u64,
    /// The BPF filter, when one was asked for.
    pub(super) bpf: Option<stalltrace_capture::bpf::BpfFilter>,
    /// Frames and packets the filters left out.
    pub(super) filtered_out: u64,
}

/// Frames closer than this with the same IPv4 ID and contents are one frame
/// recorded twice, not a retransmission (which waits for an RTO).
const DUPLICATE_WINDOW: TimeDelta = TimeDelta::from_millis(1);
pub(super) const DUPLICATE_SLOTS: usize = 256;

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
    m.add(u64::from(p.ip.total_len.unwrap_or(u32::MAX)) << 8 | u64::from(p.ip.ttl.unwrap_or(0)));
    match &p.transport {
        stalltrace_decode::Transport::Tcp(t) => {
            // The window too: a window update repeats the ACK before it in
            // all else (and stacks that send IP ID 0 repeat that too).
            m.add(
                u64::from(t.src_port) << 48
                    | u64::from(t.dst_port) << 32
                    | u64::from(t.window.unwrap_or(0)) << 8
                    | u64::from(t.flags.0),
            );
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
        // Of other protocols (a tunnel not opened, ESP) only the header
        // is known: packets of one length with ID 0 would look alike, so
        // none is taken for a copy.
        stalltrace_decode::Transport::Other { .. } => return None,
        other => m.add(foldhash::fast::FixedState::with_seed(2).hash_one(format!("{other:?}"))),
    }
    Some(m.0)
}

impl Source {
    pub(super) fn is_duplicate(&mut self, p: &Packet) -> bool {
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
    pub(super) fn new(spec: InputSpec, reader: CaptureReader) -> Source {
        let file = std::iter::once(reader.name().to_string())
            .chain(spec.more.iter().map(|p| p.display().to_string()))
            .collect::<Vec<_>>()
            .join(", ");
        let skipped = reader.skipped_before().into_iter().collect();
        Source {
            file,
            format: reader.format(),
            more: spec.more.iter().cloned().collect(),
            reader,
            spec,
            by_interface: Vec::new(),
            skipped,
            not_capture: None,
            records: 0,
            head: None,
            recent: Box::new([(0, Timestamp::ZERO); DUPLICATE_SLOTS]),
            duplicates: 0,
            number_base: 0,
            last_number: 0,
            earlier_warnings: Vec::new(),
            bytes_before: 0,
            bpf: None,
            filtered_out: 0,
        }
    }

    pub(super) fn bytes_read(&self) -> u64 {
        self.bytes_before + self.reader.bytes_read()
    }

    /// Bytes in all, the files still to read included, when all are files.
    pub(super) fn size(&self) -> Option<u64> {
        let rest: Option<u64> = self
            .more
            .iter()
            .map(|p| std::fs::metadata(p).ok().map(|m| m.len()))
            .sum();
        Some(self.bytes_before + self.reader.size()? + rest?)
    }

    /// The reader's warnings, and those of the files read before it.
    pub(super) fn take_warnings(&mut self) -> Vec<stalltrace_capture::Warning> {
        let mut w = std::mem::take(&mut self.earlier_warnings);
        w.append(&mut self.reader.take_warnings());
        w
    }

    /// Goes on to the next file of a rotated capture; false when there is
    /// none (or it cannot be opened: an error, and the point ends there).
    fn next_file(&mut self, errors: &mut Vec<CaptureError>) -> bool {
        let Some(path) = self.more.pop_front() else {
            return false;
        };
        match CaptureReader::open(&path) {
            Ok(next) => {
                let old = std::mem::replace(&mut self.reader, next);
                let mut old = old;
                self.earlier_warnings.append(&mut old.take_warnings());
                self.bytes_before += old.bytes_read();
                self.number_base = self.last_number;
                true
            }
            Err(e) => {
                errors.push(e);
                self.more.clear();
                false
            }
        }
    }

    /// The next decodable packet; skipped frames are counted by reason.
    pub(super) fn pull(&mut self, errors: &mut Vec<CaptureError>) -> Option<Packet> {
        loop {
            match self.reader.next() {
                Ok(None) => {
                    if self.next_file(errors) {
                        continue;
                    }
                    return None;
                }
                Err(e) => {
                    match NotCapture::of(&e).filter(|_| self.spec.folder.is_some()) {
                        Some(why) => self.not_capture = Some(why),
                        None => errors.push(e),
                    }
                    return None;
                }
                Ok(Some(Record::Packet(mut p))) => {
                    // (A BPF filter never gets here: printed text is
                    // refused with it before reading, in `analyze_readers`.)
                    self.records += 1;
                    p.meta.number += self.number_base;
                    self.last_number = p.meta.number;
                    return Some(p);
                }
                Ok(Some(Record::Frame(f))) => {
                    self.records += 1;
                    let mut meta = f.meta;
                    meta.number += self.number_base;
                    self.last_number = meta.number;
                    if let Some(bpf) = &mut self.bpf {
                        match bpf.matches(f.link, f.data, f.wire_len) {
                            Ok(true) => {}
                            Ok(false) => {
                                self.filtered_out += 1;
                                continue;
                            }
                            Err(source) => {
                                let file = self.file.clone();
                                errors.push(CaptureError::Filter { file, source });
                                return None;
                            }
                        }
                    }
                    match decode_frame(f.link, f.data, meta) {
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
