//! # stalltrace-capture
//!
//! The first stage of stalltrace's pipeline (**capture** → decode →
//! conversations → matching → diagnosis → report): reads a capture file or stream and
//! hands out its records one at a time, in constant memory.
//!
//! The format is told from the content, never the file name: pcap (µs or
//! ns, either byte order, the modified variant), pcapng (sections, named
//! interfaces, per-interface time resolution) and tcpdump's printed text
//! (3.x and 4.x forms). Binary records come out as [`RawFrame`]s for
//! `stalltrace-decode`; printed lines are already packets.
//!
//! Every error names the file and the byte or line; damage after the first
//! good record becomes a [`Warning`] and the records before it still count.
//!
//! Beside the files: [`bpf`] (tcpdump's filters, compiled and run by
//! libpcap, loaded only when asked for), [`live`] (frames from a Linux
//! interface, with the kernel's timestamps and drop counter) and [`write`]
//! (pcap and pcapng out).
//!
//! ```
//! use stalltrace_capture::{CaptureReader, Format, Record};
//! let text = "13:05:08.533163 218.104.68.171.42390 > 220.xxx.160.xxx.110: S 950786859:950786859(0) win 16384\n";
//! let mut r = CaptureReader::from_reader("pasted.txt", Box::new(text.as_bytes())).unwrap();
//! assert_eq!(r.format(), Format::Text);
//! let Some(Record::Packet(p)) = r.next().unwrap() else { panic!() };
//! assert_eq!(p.dst.to_string(), "220.xxx.160.xxx");
//! ```

pub mod bpf;
mod bytes;
mod error;
pub mod live;
mod pcap;
mod pcapng;
mod text;
pub mod write;

use std::io::{BufReader, Cursor, Read};
use std::path::Path;

pub use error::{
    CaptureError, Damage, EventsDamage, Location, NotCapture, SkipReason, Warning, WarningKind,
};
use stalltrace_decode::{FrameMeta, LinkType, Packet};

use bytes::ByteWindow;

/// The largest record or block accepted, checked before any allocation.
/// pcapng blocks and pcap records above it mean a corrupt or hostile file.
pub const MAX_RECORD: usize = 16 << 20;

/// How much is read to tell the format.
const SNIFF: usize = 4096;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
    Text,
    /// Packet events decoded before (`stalltrace extract`'s Parquet).
    Events,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
            Format::Text => "tcpdump text",
            Format::Events => "packet events",
        }
    }
}

/// An interface the capture was taken on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// pcapng `if_name` (or description), or the interface tcpdump `-i any` printed.
    pub name: Option<String>,
    pub link: LinkType,
}

/// A captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug)]
pub struct RawFrame<'a> {
    pub link: LinkType,
    pub data: &'a [u8],
    /// Length on the wire (may exceed `data.len()` when snaplen cut it).
    pub wire_len: u32,
    pub meta: FrameMeta,
}

#[derive(Debug)]
pub enum Record<'a> {
    Frame(RawFrame<'a>),
    /// A printed line, decoded already.
    Packet(Packet),
}

type Input = Box<dyn Read + Send>;

/// Counts the bytes read through it, for progress reports.
struct Counting {
    inner: Input,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}
/// The sniffed prefix put back in front of the rest of the stream.
type TextInput = BufReader<std::io::Chain<Cursor<Vec<u8>>, Input>>;

enum Inner {
    Pcap(pcap::PcapReader<Input>),
    Pcapng(pcapng::PcapngReader<Input>),
    // Boxed: the text reader's state is several times the binary ones'.
    Text(Box<text::TextReader<TextInput>>),
    Packets(Box<dyn PacketSource>),
}

/// Packets decoded before, read as one capture (stored packet events):
/// what a reader of another store implements to be analysed like a file.
pub trait PacketSource: Send {
    /// The next packet, or `None` at the end; damage is a warning or, when
    /// nothing more can be read, an error naming the file and offset.
    fn next_packet(&mut self, warnings: &mut Vec<Warning>) -> Result<Option<Packet>, CaptureError>;
    /// Bytes of the store read so far.
    fn bytes_read(&self) -> u64;
    /// Bytes of the store in all, when known.
    fn size(&self) -> Option<u64>;
    /// Frames of the original capture that gave no packet, by reason
    /// (counted when the packets were stored).
    fn skipped(&self) -> Vec<(SkipReason, u64)> {
        Vec::new()
    }
}

/// Reads one capture, whatever its format.
pub struct CaptureReader {
    name: String,
    format: Format,
    inner: Inner,
    pcap_interfaces: Vec<Interface>,
    warnings: Vec<Warning>,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    size: Option<u64>,
}

impl CaptureReader {
    /// Opens a file, or standard input for `-`.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        if path.as_os_str() == "-" {
            return Self::from_reader("<stdin>", Box::new(std::io::stdin()));
        }
        let name = path.display().to_string();
        if path.is_dir() {
            return Err(CaptureError::Open {
                file: name,
                source: std::io::Error::other("is a directory"),
            });
        }
        let f = std::fs::File::open(path).map_err(|source| CaptureError::Open {
            file: name.clone(),
            source,
        })?;
        let size = f.metadata().ok().map(|m| m.len());
        let mut r = Self::from_reader(&name, Box::new(f))?;
        r.size = size;
        Ok(r)
    }

    /// Reads from any byte stream; `name` is used in messages. A stream
    /// compressed with gzip, zstd, xz or bzip2 (`tcpdump -w - | gzip`,
    /// `tcpdump -z xz`, a rotated `.pcap.zst`) is told by its content and
    /// read through its decompressor, streamed: offsets in messages are
    /// then offsets in the decompressed capture.
    pub fn from_reader(name: &str, input: Input) -> Result<Self, CaptureError> {
        let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let input: Input = Box::new(Counting {
            inner: input,
            read: read.clone(),
        });
        Self::sniff(name.to_string(), input, read, 0)
    }

    fn sniff(
        name: String,
        mut input: Input,
        read: std::sync::Arc<std::sync::atomic::AtomicU64>,
        depth: u8,
    ) -> Result<Self, CaptureError> {
        let mut prefix = vec![0u8; SNIFF];
        let mut got = 0;
        while got < SNIFF {
            match input.read(&mut prefix[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Read {
                        file: name,
                        offset: got as u64,
                        source,
                    })
                }
            }
        }
        prefix.truncate(got);
        if got == 0 {
            // What tcpdump prints for a capture without packets: a point
            // with nothing to diagnose, said as such.
            let r = text::TextReader::new(
                BufReader::new(Cursor::new(prefix).chain(input)),
                name.clone(),
            );
            return Ok(CaptureReader {
                warnings: vec![Warning::new(&name, None, WarningKind::EmptyFile)],
                name,
                format: Format::Text,
                inner: Inner::Text(Box::new(r)),
                pcap_interfaces: Vec::new(),
                read,
                size: None,
            });
        }
        // Compressed: read through the decompressor (once; a compressed
        // file inside a compressed file is no capture).
        let gzip = prefix.starts_with(&[0x1f, 0x8b]);
        let zstd = prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
        let xz = prefix.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]);
        let bzip2 = prefix.starts_with(b"BZh");
        if depth == 0 && (gzip || zstd || xz || bzip2) {
            let rest: Input = Box::new(Cursor::new(prefix).chain(input));
            let d: Input = if gzip {
                Box::new(flate2::read::MultiGzDecoder::new(rest))
            } else if xz {
                Box::new(xz2::read::XzDecoder::new_multi_decoder(rest))
            } else if bzip2 {
                Box::new(bzip2::read::MultiBzDecoder::new(rest))
            } else {
                Box::new(zstd::stream::read::Decoder::new(rest).map_err(|source| {
                    CaptureError::Read {
                        file: name.clone(),
                        offset: 0,
                        source,
                    }
                })?)
            };
            return Self::sniff(name, d, read, 1);
        }
        let (format, inner, pcap_interfaces) = if pcap::is_magic(&prefix) {
            let (r, ifs) = pcap::PcapReader::new(ByteWindow::new(input, prefix), name.clone())?;
            (Format::Pcap, Inner::Pcap(r), ifs)
        } else if prefix.len() >= 4 && prefix[..4] == pcapng::SHB.to_le_bytes() {
            let r = pcapng::PcapngReader::new(ByteWindow::new(input, prefix), name.clone());
            (Format::Pcapng, Inner::Pcapng(r), Vec::new())
        } else if text::looks_like_text(&prefix) {
            let r = text::TextReader::new(
                BufReader::new(Cursor::new(prefix).chain(input)),
                name.clone(),
            );
            (Format::Text, Inner::Text(Box::new(r)), Vec::new())
        } else {
            let start = prefix
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ");
            return Err(CaptureError::UnknownFormat { file: name, start });
        };
        Ok(CaptureReader {
            name,
            format,
            inner,
            pcap_interfaces,
            warnings: Vec::new(),
            read,
            size: None,
        })
    }

    /// Bytes read from the input so far (a little ahead of what has been
    /// parsed, by the read buffer).
    pub fn bytes_read(&self) -> u64 {
        match &self.inner {
            Inner::Packets(r) => r.bytes_read(),
            _ => self.read.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// The file's size, when it is a file.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The interfaces seen so far (pcapng declares them as it goes).
    pub fn interfaces(&self) -> &[Interface] {
        match &self.inner {
            Inner::Pcap(_) => &self.pcap_interfaces,
            Inner::Pcapng(r) => &r.interfaces,
            Inner::Text(r) => &r.interfaces,
            Inner::Packets(_) => &self.pcap_interfaces,
        }
    }

    /// The next record, or `None` at the end (also after a cut or corrupt
    /// tail, which leaves a warning).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        match &mut self.inner {
            Inner::Pcap(r) => Ok(r.next_frame(&mut self.warnings)?.map(Record::Frame)),
            Inner::Pcapng(r) => Ok(r.next_frame(&mut self.warnings)?.map(Record::Frame)),
            Inner::Text(r) => Ok(r.next_packet(&mut self.warnings)?.map(Record::Packet)),
            Inner::Packets(r) => Ok(r.next_packet(&mut self.warnings)?.map(Record::Packet)),
        }
    }

    /// Frames counted as skipped before this reader read anything (stored
    /// packet events keep their capture's).
    pub fn skipped_before(&self) -> Vec<(SkipReason, u64)> {
        match &self.inner {
            Inner::Packets(r) => r.skipped(),
            _ => Vec::new(),
        }
    }

    /// Reads packets decoded before (see [`PacketSource`]) as a capture of
    /// one interface.
    /// `interface`: the name the packets' capture gave their interface.
    pub fn from_packets(
        name: &str,
        source: Box<dyn PacketSource>,
        interface: Option<String>,
    ) -> CaptureReader {
        CaptureReader {
            name: name.to_string(),
            format: Format::Events,
            size: source.size(),
            inner: Inner::Packets(source),
            pcap_interfaces: vec![Interface {
                name: interface,
                link: LinkType::RAW,
            }],
            warnings: Vec::new(),
            read: Default::default(),
        }
    }

    /// Warnings gathered so far; the reader keeps none once taken.
    pub fn take_warnings(&mut self) -> Vec<Warning> {
        std::mem::take(&mut self.warnings)
    }
}
