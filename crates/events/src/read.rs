//! Packet events read back as packets: one capture point's files merged
//! by packet number, so the packets come in their capture's order even
//! where its time went back to an hour it had left.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray, RecordBatch};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use stalltrace_capture::{CaptureError, EventsDamage, PacketSource, Warning};
use stalltrace_decode::{
    DnsAnswer, DnsMessage, DnsQuestion, FrameMeta, Host, IcmpKind, IcmpMessage, IpInfo, Packet,
    PayloadHead, QuotedHeader, SeqNumber, TcpFlags, TcpOptions, TcpSegment, Timestamp, Transport,
    Tunnel, TunnelKind, UdpDatagram,
};

use crate::layout::PointEntry;
use crate::schema::{schema, META_FIRST_NUMBER, META_POINT};

/// Rows read at a time.
const READ_ROWS: usize = 8192;

/// The packets of one capture point's events folder.
pub struct PointEvents {
    skipped: Vec<(stalltrace_capture::SkipReason, u64)>,
    /// Files not opened yet, by their first packet number (the next last).
    waiting: Vec<(u64, PathBuf)>,
    open: Vec<OpenFile>,
    size: u64,
    read: u64,
}

struct OpenFile {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    row: usize,
    rows_before: u64,
    bytes: u64,
}

fn err(path: &Path, row: Option<u64>, why: EventsDamage) -> CaptureError {
    CaptureError::Events {
        file: path.display().to_string(),
        row,
        why,
    }
}

/// The file system's or the Parquet reader's message.
fn lib(e: impl ToString) -> EventsDamage {
    EventsDamage::Library(e.to_string())
}

impl PointEvents {
    /// Opens the events of a point of the folder `events` as its manifest
    /// lists them.
    pub fn open_listed(events: &Path, entry: &PointEntry) -> Result<PointEvents, CaptureError> {
        let mut p = if entry.packets == 0 {
            // A capture with no IP packet: nothing was written.
            PointEvents {
                skipped: Vec::new(),
                waiting: Vec::new(),
                open: Vec::new(),
                size: 0,
                read: 0,
            }
        } else {
            PointEvents::open(&events.join(&entry.dir), &entry.name)?
        };
        p.skipped = entry.skipped.clone();
        Ok(p)
    }

    /// Opens the events of the point in `dir` (`…/point=NAME`), the one
    /// named `name`.
    pub fn open(dir: &Path, name: &str) -> Result<PointEvents, CaptureError> {
        let mut files = Vec::new();
        collect(dir, &mut files).map_err(|e| err(dir, None, lib(e)))?;
        if files.is_empty() {
            return Err(err(dir, None, EventsDamage::NoFiles));
        }
        let mut waiting = Vec::new();
        let mut size = 0;
        for path in files {
            let file = File::open(&path).map_err(|e| err(&path, None, lib(e)))?;
            size += file.metadata().map(|m| m.len()).unwrap_or(0);
            let b = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|e| err(&path, None, lib(e)))?;
            let meta = b.metadata().file_metadata().key_value_metadata();
            let get = |k: &str| {
                meta.and_then(|m| m.iter().find(|kv| kv.key == k))
                    .and_then(|kv| kv.value.clone())
            };
            if get(META_POINT).as_deref() != Some(name) {
                return Err(err(
                    &path,
                    None,
                    EventsDamage::OtherPoint {
                        expected: name.to_string(),
                    },
                ));
            }
            let first: u64 = get(META_FIRST_NUMBER)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| err(&path, None, EventsDamage::Columns))?;
            if b.schema().fields() != schema().fields() {
                return Err(err(&path, None, EventsDamage::Columns));
            }
            waiting.push((first, path));
        }
        waiting.sort_by(|a, b| b.cmp(a));
        Ok(PointEvents {
            skipped: Vec::new(),
            waiting,
            open: Vec::new(),
            size,
            read: 0,
        })
    }

    /// Opens the next waiting file.
    fn open_next(&mut self) -> Result<(), CaptureError> {
        let (_, path) = self.waiting.pop().expect("a file waits");
        let file = File::open(&path).map_err(|e| err(&path, None, lib(e)))?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(READ_ROWS).build())
            .map_err(|e| err(&path, None, lib(e)))?;
        let mut f = OpenFile {
            path,
            reader,
            batch: None,
            row: 0,
            rows_before: 0,
            bytes,
        };
        if f.fill()? {
            self.open.push(f);
        } else {
            self.read += f.bytes;
        }
        Ok(())
    }
}

impl OpenFile {
    /// A row is ready; false at the file's end.
    fn fill(&mut self) -> Result<bool, CaptureError> {
        while self.batch.as_ref().is_none_or(|b| self.row >= b.num_rows()) {
            if let Some(b) = &self.batch {
                self.rows_before += b.num_rows() as u64;
            }
            self.row = 0;
            match self.reader.next() {
                None => return Ok(false),
                Some(Ok(b)) => self.batch = Some(b),
                Some(Err(e)) => return Err(err(&self.path, Some(self.rows_before), lib(e))),
            }
        }
        Ok(true)
    }

    fn number(&self) -> u64 {
        let b = self.batch.as_ref().expect("filled");
        prim::<UInt64Type>(b, COL_NUMBER).value(self.row)
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
    Ok(())
}

impl PacketSource for PointEvents {
    fn next_packet(&mut self, _w: &mut Vec<Warning>) -> Result<Option<Packet>, CaptureError> {
        // A waiting file joins when its first packet could come next.
        loop {
            let lowest = self.open.iter().map(OpenFile::number).min();
            match (self.waiting.last(), lowest) {
                (Some(_), None) => self.open_next()?,
                (Some((first, _)), Some(n)) if *first < n => self.open_next()?,
                _ => break,
            }
        }
        let Some(i) = (0..self.open.len()).min_by_key(|&i| self.open[i].number()) else {
            return Ok(None);
        };
        let f = &mut self.open[i];
        let b = f.batch.as_ref().expect("filled");
        let at = Some(f.rows_before + f.row as u64);
        let p = row(b, f.row).map_err(|missing| err(&f.path, at, EventsDamage::Row { missing }))?;
        f.row += 1;
        if !f.fill()? {
            self.read += f.bytes;
            self.open.swap_remove(i);
        }
        Ok(Some(p))
    }

    fn bytes_read(&self) -> u64 {
        self.read
    }

    fn size(&self) -> Option<u64> {
        Some(self.size)
    }

    fn skipped(&self) -> Vec<(stalltrace_capture::SkipReason, u64)> {
        self.skipped.clone()
    }
}

// Column indexes, in the schema's order.
const COL_NUMBER: usize = 2;

fn prim<T: ArrowPrimitiveType>(b: &RecordBatch, i: usize) -> &PrimitiveArray<T> {
    b.column(i).as_primitive::<T>()
}

fn opt<T: ArrowPrimitiveType>(b: &RecordBatch, i: usize, row: usize) -> Option<T::Native> {
    let a = prim::<T>(b, i);
    a.is_valid(row).then(|| a.value(row))
}

fn text(b: &RecordBatch, i: usize, row: usize) -> Option<&str> {
    let a = b.column(i).as_string::<i32>();
    a.is_valid(row).then(|| a.value(row))
}

fn flag(b: &RecordBatch, i: usize, row: usize) -> Option<bool> {
    let a = b.column(i).as_boolean();
    a.is_valid(row).then(|| a.value(row))
}

fn host(s: &str) -> Host {
    s.parse().expect("infallible")
}

/// One row as the packet it was.
pub(crate) fn row(b: &RecordBatch, r: usize) -> Result<Packet, &'static str> {
    use arrow_array::types::UInt8Type as U8;
    let need = |v: Option<&str>, what: &'static str| v.map(host).ok_or(what);
    let meta = FrameMeta {
        ts: Timestamp::from_nanos(
            prim::<TimestampMicrosecondType>(b, 4).value(r) * 1000
                + i64::from(prim::<UInt16Type>(b, 54).value(r)),
        ),
        number: prim::<UInt64Type>(b, 2).value(r),
        interface: prim::<UInt32Type>(b, 3).value(r),
        offset: prim::<UInt64Type>(b, 1).value(r),
    };
    let link = b.column(17).as_fixed_size_binary();
    let tunnel = match (text(b, 18, r), text(b, 19, r), text(b, 20, r)) {
        (Some(kind), Some(src), Some(dst)) => Some(Box::new(Tunnel {
            kind: TunnelKind::from_name(kind).ok_or("tunnel kind")?,
            outer_src: host(src),
            outer_dst: host(dst),
            id: opt::<UInt32Type>(b, 21, r),
        })),
        _ => None,
    };
    let sp = opt::<UInt16Type>(b, 24, r);
    let dp = opt::<UInt16Type>(b, 25, r);
    let len = opt::<UInt32Type>(b, 35, r).unwrap_or(0);
    let digest = opt::<UInt64Type>(b, 36, r).unwrap_or(0);
    let heads = b.column(37).as_binary::<i32>();
    let head = if heads.is_valid(r) {
        PayloadHead::new(heads.value(r))
    } else {
        PayloadHead::default()
    };
    let dns = dns(b, r).map(Box::new);
    let protocol = prim::<U8>(b, 23).value(r);
    let transport = match text(b, 22, r) {
        Some("tcp") => {
            let tsval = opt::<UInt32Type>(b, 33, r);
            Transport::Tcp(TcpSegment {
                src_port: sp.ok_or("source port")?,
                dst_port: dp.ok_or("destination port")?,
                seq: opt::<UInt32Type>(b, 27, r).map(SeqNumber),
                ack: opt::<UInt32Type>(b, 28, r).map(SeqNumber),
                flags: TcpFlags(opt::<U8>(b, 26, r).unwrap_or(0)),
                window: opt::<UInt16Type>(b, 29, r),
                options: TcpOptions {
                    mss: opt::<UInt16Type>(b, 30, r),
                    window_scale: opt::<U8>(b, 31, r),
                    sack_permitted: flag(b, 32, r).unwrap_or(false),
                    timestamp: tsval.map(|v| (v, opt::<UInt32Type>(b, 34, r))),
                },
                payload_len: len,
                payload_digest: digest,
                head,
                dns,
            })
        }
        Some("udp") => Transport::Udp(UdpDatagram {
            src_port: sp.ok_or("source port")?,
            dst_port: dp.ok_or("destination port")?,
            payload_len: len,
            payload_digest: digest,
            head,
            dns,
        }),
        Some("icmp") => {
            let v6 = protocol == 58;
            let t = opt::<U8>(b, 38, r).ok_or("ICMP type")?;
            let c = opt::<U8>(b, 39, r).ok_or("ICMP code")?;
            let quoted = match text(b, 41, r) {
                Some(dst) => Some(QuotedHeader {
                    src: text(b, 40, r).map(host),
                    dst: host(dst),
                    protocol: opt::<U8>(b, 42, r).ok_or("quoted protocol")?,
                    src_port: opt::<UInt16Type>(b, 43, r),
                    dst_port: opt::<UInt16Type>(b, 44, r),
                    seq: opt::<UInt32Type>(b, 45, r).map(SeqNumber),
                }),
                None => None,
            };
            Transport::Icmp(IcmpMessage {
                v6,
                kind: IcmpKind::from_wire(v6, t, c),
                quoted,
            })
        }
        Some("other") => Transport::Other { protocol },
        _ => return Err("transport"),
    };
    Ok(Packet {
        meta,
        src: need(text(b, 6, r), "source")?,
        dst: need(text(b, 7, r), "destination")?,
        ip: IpInfo {
            id: opt::<UInt16Type>(b, 10, r),
            ttl: opt::<U8>(b, 9, r),
            dont_fragment: flag(b, 11, r).unwrap_or(false),
            fragment: flag(b, 12, r).unwrap_or(false),
            total_len: opt::<UInt32Type>(b, 13, r),
            checksum_ok: flag(b, 14, r),
        },
        transport,
        truncated: flag(b, 15, r).unwrap_or(false),
        link_src: link
            .is_valid(r)
            .then(|| link.value(r).try_into().ok())
            .flatten(),
        vlan: prim::<UInt32Type>(b, 16).value(r),
        tunnel,
    })
}

fn dns(b: &RecordBatch, r: usize) -> Option<DnsMessage> {
    let id = opt::<UInt16Type>(b, 46, r)?;
    let answers = b.column(53).as_list::<i32>();
    let list = answers
        .is_valid(r)
        .then(|| answers.value(r))
        .map(|a| {
            let a = a.as_string::<i32>().clone();
            (0..a.len())
                .filter(|&i| a.is_valid(i))
                .map(|i| answer(a.value(i)))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    Some(DnsMessage {
        id,
        response: flag(b, 47, r).unwrap_or(false),
        truncated: flag(b, 48, r).unwrap_or(false),
        rcode: opt::<UInt8Type>(b, 49, r).unwrap_or(0),
        question: text(b, 50, r).map(|name| DnsQuestion {
            name: name.to_string(),
            qtype: opt::<UInt16Type>(b, 51, r).unwrap_or(0),
        }),
        answers: list,
        answer_count: opt::<UInt16Type>(b, 52, r).unwrap_or(0),
    })
}

/// "192.0.2.1" or "12 mx.example.".
fn answer(s: &str) -> DnsAnswer {
    match s.split_once(' ') {
        Some((t, name)) if t.parse::<u16>().is_ok() => DnsAnswer::Name {
            rtype: t.parse().expect("checked"),
            name: name.to_string(),
        },
        _ => match s.parse() {
            Ok(ip) => DnsAnswer::Address(ip),
            Err(_) => DnsAnswer::Name {
                rtype: 0,
                name: s.to_string(),
            },
        },
    }
}

/// Keeps the schema's column order and the indexes above in step.
#[cfg(test)]
mod tests {
    #[test]
    fn indexes_name_the_columns() {
        let s = super::schema();
        let at = |i: usize| s.field(i).name().as_str();
        assert_eq!(
            [at(1), at(2), at(4), at(6), at(16), at(17), at(22), at(23)],
            [
                "offset",
                "number",
                "ts",
                "src",
                "vlan",
                "link_src",
                "transport",
                "protocol"
            ]
        );
        assert_eq!(
            [
                at(26),
                at(33),
                at(35),
                at(37),
                at(38),
                at(41),
                at(46),
                at(53)
            ],
            [
                "tcp_flags",
                "tsval",
                "payload_len",
                "payload_head",
                "icmp_type",
                "quoted_dst",
                "dns_id",
                "dns_answers"
            ]
        );
        assert_eq!(at(54), "ts_extra_ns");
    }
}
