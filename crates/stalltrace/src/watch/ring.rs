//! The recent frames of every point, bounded in bytes (`--ring-mb`), and
//! the evidence file a finding leaves: its conversations' frames from the
//! ring (at every point, by the addresses each point saw), as pcapng with
//! an interface per point.

use std::collections::VecDeque;
use std::path::Path;

use stalltrace_capture::write::PcapngWriter;
use stalltrace_decode::{Endpoint, LinkType, Packet, Timestamp, Transport};

struct Entry {
    point: usize,
    ts: Timestamp,
    link: LinkType,
    ends: Option<(Endpoint, Endpoint)>,
    data: Vec<u8>,
}

pub(super) struct Ring {
    entries: VecDeque<Entry>,
    bytes: usize,
    cap: usize,
    /// Frames pushed out to make room, and the newest of them.
    pub evicted: u64,
    pub evicted_until: Option<Timestamp>,
}

/// What each entry costs besides its bytes.
const OVERHEAD: usize = 96;

impl Ring {
    pub fn new(cap: usize) -> Ring {
        Ring {
            entries: VecDeque::new(),
            bytes: 0,
            cap,
            evicted: 0,
            evicted_until: None,
        }
    }

    pub fn push(&mut self, point: usize, p: &Packet, link: LinkType, data: Vec<u8>) {
        let ends = match &p.transport {
            Transport::Tcp(t) => Some((t.src_port, t.dst_port)),
            Transport::Udp(u) => Some((u.src_port, u.dst_port)),
            _ => None,
        }
        .map(|(s, d)| {
            (
                Endpoint::new(p.src.clone(), s),
                Endpoint::new(p.dst.clone(), d),
            )
        });
        self.bytes += data.len() + OVERHEAD;
        self.entries.push_back(Entry {
            point,
            ts: p.meta.ts,
            link,
            ends,
            data,
        });
        while self.bytes > self.cap {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= e.data.len() + OVERHEAD;
            self.evicted += 1;
            self.evicted_until = Some(e.ts);
        }
    }

    /// Writes the frames of these conversations (either way) to `path`,
    /// `names` naming the points; returns how many were written.
    pub fn write(
        &self,
        path: &Path,
        pairs: &[(Endpoint, Endpoint)],
        names: &[String],
    ) -> std::io::Result<usize> {
        let f = std::fs::File::create(path)?;
        let mut w = PcapngWriter::new(std::io::BufWriter::new(f), "stalltrace watch")?;
        let mut ids: Vec<Option<u32>> = vec![None; names.len()];
        let mut n = 0;
        for e in &self.entries {
            let Some((s, d)) = &e.ends else {
                continue;
            };
            let ours = pairs
                .iter()
                .any(|(a, b)| (s == a && d == b) || (s == b && d == a));
            if !ours {
                continue;
            }
            let id = match ids.get(e.point).copied().flatten() {
                Some(id) => id,
                None => {
                    let name = names.get(e.point).map(String::as_str).unwrap_or("point");
                    let id = w.add_interface(name, e.link, 65_535)?;
                    if let Some(slot) = ids.get_mut(e.point) {
                        *slot = Some(id);
                    }
                    id
                }
            };
            w.write(id, e.ts, &e.data, e.data.len() as u32)?;
            n += 1;
        }
        w.flush()?;
        Ok(n)
    }
}
