//! Where packets come from: interfaces (a capture thread each, the
//! kernel's timestamps) or a capture streamed into a file or standard
//! input (`tcpdump -U -w - | stalltrace watch -r -`). Each thread filters
//! (BPF), decodes and hands packets over; what the watching thread cannot
//! take in time is counted, never waited for: the kernel's queue is not
//! allowed to overflow because we are slow.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use stalltrace_capture::bpf::BpfFilter;
use stalltrace_capture::live::LiveSocket;
use stalltrace_capture::{CaptureReader, Record};
use stalltrace_decode::{decode_frame, FrameMeta, LinkType, Packet};

/// One place to watch.
#[derive(Clone, Debug)]
pub enum WatchSource {
    /// A live interface, named `name` as a capture point.
    Interface { name: String, iface: String },
    /// A pcap or pcapng stream (a file being written, or `-`).
    Stream { path: std::path::PathBuf },
}

/// What the capture threads hand over. Nearly every item is a packet,
/// held inline: boxing it would allocate per packet.
#[allow(clippy::large_enum_variant)]
pub(super) enum Feed {
    /// A capture point begins; its packets carry `index`.
    Point {
        index: usize,
        name: String,
        interface: Option<String>,
    },
    Packet {
        point: usize,
        packet: Packet,
        /// The frame, for the evidence ring.
        frame: Option<(LinkType, Vec<u8>)>,
    },
    /// A stream ended.
    Ended,
}

/// A source's counters, shared with its thread.
#[derive(Clone)]
pub(super) struct SourceStats {
    pub name: String,
    /// A live interface (a stream has no kernel counters).
    pub live: bool,
    kernel: Arc<(AtomicU64, AtomicU64)>,
    own: Arc<AtomicU64>,
}

impl SourceStats {
    pub fn kernel_received(&self) -> u64 {
        self.kernel.0.load(Ordering::Relaxed)
    }
    pub fn kernel_dropped(&self) -> u64 {
        self.kernel.1.load(Ordering::Relaxed)
    }
    pub fn own_dropped(&self) -> u64 {
        self.own.load(Ordering::Relaxed)
    }
}

pub(super) struct Started {
    pub stats: SourceStats,
    handle: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Started {
    pub fn join(&self) {
        if let Some(h) = self.handle.lock().ok().and_then(|mut h| h.take()) {
            let _ = h.join();
        }
    }
}

/// Hands a packet over, or counts it when the watcher is behind.
fn hand(tx: &mpsc::SyncSender<Feed>, own: &AtomicU64, f: Feed) -> bool {
    match tx.try_send(f) {
        Ok(()) => true,
        Err(mpsc::TrySendError::Full(_)) => {
            own.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(mpsc::TrySendError::Disconnected(_)) => false,
    }
}

/// Opens every source (an error names the first that cannot be opened)
/// and starts its thread.
pub(super) fn start(
    sources: &[WatchSource],
    filter: Option<&str>,
    tx: mpsc::SyncSender<Feed>,
    stop: Arc<AtomicBool>,
) -> Result<Vec<Started>, String> {
    let next_point = Arc::new(AtomicUsize::new(0));
    let mut out = Vec::new();
    for s in sources {
        let bpf = match filter {
            Some(expr) => Some(BpfFilter::new(expr).map_err(|e| e.to_string())?),
            None => None,
        };
        let own = Arc::new(AtomicU64::new(0));
        let kernel = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let (tx, stop, next_point) = (tx.clone(), stop.clone(), next_point.clone());
        let (name, handle) = match s {
            WatchSource::Interface { name, iface } => {
                let sock = LiveSocket::open(iface).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::PermissionDenied {
                        format!("capturing on {iface} needs root or the CAP_NET_RAW capability: run as root, or once: setcap cap_net_raw+ep \"$(command -v stalltrace)\"")
                    } else {
                        format!("cannot capture on {iface}: {e}")
                    }
                })?;
                let index = next_point.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(Feed::Point {
                    index,
                    name: name.clone(),
                    interface: Some(iface.clone()),
                });
                let (own2, kernel2) = (own.clone(), kernel.clone());
                let h = std::thread::Builder::new()
                    .name(format!("capture {iface}"))
                    .spawn(move || interface(sock, index, bpf, tx, stop, own2, kernel2))
                    .map_err(|e| e.to_string())?;
                (name.clone(), h)
            }
            WatchSource::Stream { path } => {
                let reader = CaptureReader::open(path).map_err(|e| e.to_string())?;
                // Named as `analyze` names the file's point.
                let base = crate::analyze::stem(path);
                let b = base.clone();
                let h = std::thread::Builder::new()
                    .name("stream".into())
                    .spawn(move || stream(reader, &b, bpf, tx, stop, next_point))
                    .map_err(|e| e.to_string())?;
                (base, h)
            }
        };
        let live = matches!(s, WatchSource::Interface { .. });
        out.push(Started {
            stats: SourceStats {
                name,
                live,
                kernel,
                own,
            },
            handle: std::sync::Mutex::new(Some(handle)),
        });
    }
    Ok(out)
}

fn interface(
    mut sock: LiveSocket,
    index: usize,
    mut bpf: Option<BpfFilter>,
    tx: mpsc::SyncSender<Feed>,
    stop: Arc<AtomicBool>,
    own: Arc<AtomicU64>,
    kernel: Arc<(AtomicU64, AtomicU64)>,
) {
    let mut number = 0u64;
    let mut polls = 0u32;
    while !stop.load(Ordering::SeqCst) {
        polls = polls.wrapping_add(1);
        if polls % 64 == 0 {
            let (r, d) = sock.stats();
            kernel.0.store(r, Ordering::Relaxed);
            kernel.1.store(d, Ordering::Relaxed);
        }
        let Ok(Some(f)) = sock.next() else {
            continue;
        };
        number += 1;
        if let Some(b) = bpf.as_mut() {
            if !b
                .matches(LinkType::ETHERNET, f.data, f.wire_len)
                .unwrap_or(false)
            {
                continue;
            }
        }
        let meta = FrameMeta {
            ts: f.ts,
            number,
            interface: 0,
            offset: 0,
        };
        let Ok(packet) = decode_frame(LinkType::ETHERNET, f.data, meta) else {
            continue;
        };
        let frame = Some((LinkType::ETHERNET, f.data.to_vec()));
        if !hand(
            &tx,
            &own,
            Feed::Packet {
                point: index,
                packet,
                frame,
            },
        ) {
            break;
        }
    }
    let (r, d) = sock.stats();
    kernel.0.store(r, Ordering::Relaxed);
    kernel.1.store(d, Ordering::Relaxed);
}

fn stream(
    mut reader: CaptureReader,
    base: &str,
    mut bpf: Option<BpfFilter>,
    tx: mpsc::SyncSender<Feed>,
    stop: Arc<AtomicBool>,
    next_point: Arc<AtomicUsize>,
) {
    // Interface id in the stream → point index.
    let mut points: Vec<(u32, usize)> = Vec::new();
    let mut point_of = |iface: u32, reader: &CaptureReader, tx: &mpsc::SyncSender<Feed>| -> usize {
        if let Some(&(_, i)) = points.iter().find(|(f, _)| *f == iface) {
            return i;
        }
        let index = next_point.fetch_add(1, Ordering::SeqCst);
        let ifaces = reader.interfaces();
        let ifname = ifaces.get(iface as usize).and_then(|i| i.name.clone());
        // As `analyze` names them: the file's, and with several
        // interfaces FILE:IFACE.
        let name = match (&ifname, ifaces.len() > 1) {
            (Some(n), true) => format!("{base}:{n}"),
            (None, true) => format!("{base}:if{iface}"),
            _ => base.to_string(),
        };
        let _ = tx.send(Feed::Point {
            index,
            name,
            interface: ifname,
        });
        points.push((iface, index));
        index
    };
    while !stop.load(Ordering::SeqCst) {
        let (packet, frame) = match reader.next() {
            Ok(Some(Record::Frame(f))) => {
                if let Some(b) = bpf.as_mut() {
                    if !b.matches(f.link, f.data, f.wire_len).unwrap_or(false) {
                        continue;
                    }
                }
                let Ok(p) = decode_frame(f.link, f.data, f.meta) else {
                    continue;
                };
                (p, Some((f.link, f.data.to_vec())))
            }
            Ok(Some(Record::Packet(p))) => (p, None),
            Ok(None) | Err(_) => break,
        };
        let point = point_of(packet.meta.interface, &reader, &tx);
        // A stream is read as fast as the watcher takes it: it waits,
        // it does not drop.
        if tx
            .send(Feed::Packet {
                point,
                packet,
                frame,
            })
            .is_err()
        {
            break;
        }
    }
    let _ = tx.send(Feed::Ended);
}
