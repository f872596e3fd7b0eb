//! Packets into Parquet files of events, one capture point and hour a
//! folder, streamed: a point keeps one file open (its current hour) and
//! at most a row group of rows in memory.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, FixedSizeBinaryBuilder, ListBuilder, PrimitiveBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::types::{UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{ArrayRef, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use stalltrace_decode::{DnsAnswer, DnsMessage, Host, Packet, Transport};

use crate::layout::{self, Manifest, PointEntry};
use crate::schema::{schema, EVENTS_VERSION, META_FIRST_NUMBER, META_POINT, META_VERSION};
use crate::EventsError;

/// Rows per record batch handed to the writer, and per row group.
const BATCH_ROWS: usize = 64 * 1024;
const GROUP_ROWS: usize = 256 * 1024;
/// Bytes of a payload's head kept where it is not a flow's first.
const SHORT_HEAD: usize = 8;
/// A flow quiet this long is taken as new: its next payload keeps its
/// whole head. Shorter than any conversation timeout of the tracker, so a
/// packet that opens a conversation there is never cut short here.
const FLOW_FORGET_NS: i64 = 60_000_000_000;

/// Writes packet events under one folder.
pub struct Extractor {
    out: PathBuf,
    points: Vec<PointOut>,
}

struct PointOut {
    entry: PointEntry,
    dir: PathBuf,
    open: Option<OpenFile>,
    /// Files written per hour (a point whose time goes back to an hour it
    /// left writes a further part).
    parts: HashMap<i64, u32>,
    flows: Flows,
}

struct OpenFile {
    hour: i64,
    writer: ArrowWriter<File>,
    rows: Rows,
}

impl Extractor {
    /// Starts writing into `out`, which must not exist or be empty.
    pub fn create(out: &Path) -> Result<Extractor, EventsError> {
        let io = |e| EventsError::Io(out.to_path_buf(), e);
        if out.exists() && std::fs::read_dir(out).map_err(io)?.next().is_some() {
            return Err(EventsError::NotEmpty(out.to_path_buf()));
        }
        std::fs::create_dir_all(out).map_err(io)?;
        Ok(Extractor {
            out: out.to_path_buf(),
            points: Vec::new(),
        })
    }

    /// A capture point read from `file`; its index for [`Self::packet`].
    pub fn add_point(&mut self, name: &str, file: &str, interface: Option<&str>) -> usize {
        let dir = layout::point_dir(&self.out, name);
        self.points.push(PointOut {
            entry: PointEntry {
                name: name.to_string(),
                dir: dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                file: file.to_string(),
                interface: interface.map(str::to_string),
                ..PointEntry::default()
            },
            dir,
            open: None,
            parts: HashMap::new(),
            flows: Flows::default(),
        });
        self.points.len() - 1
    }

    /// Frames of a point's capture left out (no IP), by reason.
    pub fn skipped(&mut self, point: usize, reason: stalltrace_capture::SkipReason, count: u64) {
        self.points[point].entry.skipped.push((reason, count));
    }

    /// One packet of `point`, in the order of its capture.
    pub fn packet(&mut self, point: usize, p: &Packet, duplicate: bool) -> Result<(), EventsError> {
        let pt = &mut self.points[point];
        let hour = layout::hour_of(p.meta.ts);
        if pt.open.as_ref().is_some_and(|o| o.hour != hour) {
            close(pt)?;
        }
        if pt.open.is_none() {
            pt.open = Some(open(pt, hour, p.meta.number)?);
        }
        let long = pt.flows.keeps_whole_head(p);
        let o = pt.open.as_mut().expect("opened");
        o.rows.push(&pt.entry.file, p, duplicate, long);
        pt.entry.packets += 1;
        if o.rows.len >= BATCH_ROWS {
            let batch = o.rows.finish();
            o.writer
                .write(&batch)
                .map_err(|e| EventsError::Parquet(pt.dir.clone(), e))?;
        }
        Ok(())
    }

    /// Closes every file and writes the manifest; what was written.
    pub fn finish(mut self) -> Result<Manifest, EventsError> {
        for pt in &mut self.points {
            close(pt)?;
        }
        let manifest = Manifest {
            format: "stalltrace-events".into(),
            version: EVENTS_VERSION,
            points: self.points.into_iter().map(|p| p.entry).collect(),
        };
        let path = self.out.join(layout::MANIFEST);
        let text = serde_json::to_string_pretty(&manifest).expect("a manifest serializes");
        std::fs::write(&path, text + "\n").map_err(|e| EventsError::Io(path, e))?;
        Ok(manifest)
    }
}

fn open(pt: &mut PointOut, hour: i64, first_number: u64) -> Result<OpenFile, EventsError> {
    let dir = pt.dir.join(format!("hour={}", layout::hour_name(hour)));
    std::fs::create_dir_all(&dir).map_err(|e| EventsError::Io(dir.clone(), e))?;
    let part = pt.parts.entry(hour).or_default();
    let path = dir.join(format!("part-{part}.parquet"));
    *part += 1;
    let file = File::create(&path).map_err(|e| EventsError::Io(path.clone(), e))?;
    let props = WriterProperties::builder()
        // zstd level 3: a third smaller than Snappy on these columns and
        // as fast to write as the captures are read.
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("a valid level"),
        ))
        .set_max_row_group_size(GROUP_ROWS)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(META_POINT.into(), pt.entry.name.clone()),
            KeyValue::new(META_VERSION.into(), EVENTS_VERSION.to_string()),
            KeyValue::new(META_FIRST_NUMBER.into(), first_number.to_string()),
        ]))
        .build();
    let writer = ArrowWriter::try_new(file, schema(), Some(props))
        .map_err(|e| EventsError::Parquet(path.clone(), e))?;
    pt.entry.files += 1;
    Ok(OpenFile {
        hour,
        writer,
        rows: Rows::default(),
    })
}

fn close(pt: &mut PointOut) -> Result<(), EventsError> {
    let Some(mut o) = pt.open.take() else {
        return Ok(());
    };
    let err = |e| EventsError::Parquet(pt.dir.clone(), e);
    if o.rows.len > 0 {
        let batch = o.rows.finish();
        o.writer.write(&batch).map_err(err)?;
    }
    let file = o.writer.into_inner().map_err(err)?;
    pt.entry.bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(())
}

/// Which payloads keep their whole head: a flow direction's first (what
/// the tracker keeps as a conversation's banner or request line). A flow
/// starts again at a SYN, after a FIN or RST, and after a minute of quiet.
#[derive(Default)]
struct Flows {
    seen: HashMap<FlowKey, i64>,
    /// When the table was last swept of quiet flows.
    swept: i64,
}

type FlowKey = (u8, u32, Host, u16, Host, u16);

impl Flows {
    fn keeps_whole_head(&mut self, p: &Packet) -> bool {
        let (proto, sp, dp, len, flags) = match &p.transport {
            Transport::Tcp(t) => (6, t.src_port, t.dst_port, t.payload_len, t.flags),
            Transport::Udp(u) => (
                17,
                u.src_port,
                u.dst_port,
                u.payload_len,
                Default::default(),
            ),
            _ => return false,
        };
        let now = p.meta.ts.nanos();
        if now - self.swept > FLOW_FORGET_NS {
            self.seen.retain(|_, last| now - *last <= FLOW_FORGET_NS);
            self.swept = now;
        }
        let key = (proto, p.vlan, p.src.clone(), sp, p.dst.clone(), dp);
        if flags.syn() || flags.fin() || flags.rst() {
            let back = (proto, p.vlan, p.dst.clone(), dp, p.src.clone(), sp);
            self.seen.remove(&key);
            self.seen.remove(&back);
        }
        if len == 0 || flags.fin() || flags.rst() {
            return false;
        }
        match self.seen.insert(key, now) {
            Some(last) => now - last > FLOW_FORGET_NS,
            None => true,
        }
    }
}

/// Column builders for rows not yet written.
#[derive(Default)]
struct Rows {
    len: usize,
    file: StringBuilder,
    offset: PrimitiveBuilder<UInt64Type>,
    number: PrimitiveBuilder<UInt64Type>,
    interface: PrimitiveBuilder<UInt32Type>,
    ts: TimestampMicrosecondBuilder,
    ts_extra_ns: PrimitiveBuilder<UInt16Type>,
    duplicate: BooleanBuilder,
    src: StringBuilder,
    dst: StringBuilder,
    ip_version: PrimitiveBuilder<UInt8Type>,
    ttl: PrimitiveBuilder<UInt8Type>,
    ip_id: PrimitiveBuilder<UInt16Type>,
    dont_fragment: BooleanBuilder,
    fragment: BooleanBuilder,
    ip_len: PrimitiveBuilder<UInt32Type>,
    ip_checksum_ok: BooleanBuilder,
    truncated: BooleanBuilder,
    vlan: PrimitiveBuilder<UInt32Type>,
    link_src: Option<FixedSizeBinaryBuilder>,
    tunnel_kind: StringBuilder,
    tunnel_src: StringBuilder,
    tunnel_dst: StringBuilder,
    tunnel_id: PrimitiveBuilder<UInt32Type>,
    transport: StringBuilder,
    protocol: PrimitiveBuilder<UInt8Type>,
    src_port: PrimitiveBuilder<UInt16Type>,
    dst_port: PrimitiveBuilder<UInt16Type>,
    tcp_flags: PrimitiveBuilder<UInt8Type>,
    seq: PrimitiveBuilder<UInt32Type>,
    ack: PrimitiveBuilder<UInt32Type>,
    window: PrimitiveBuilder<UInt16Type>,
    mss: PrimitiveBuilder<UInt16Type>,
    window_scale: PrimitiveBuilder<UInt8Type>,
    sack_permitted: BooleanBuilder,
    tsval: PrimitiveBuilder<UInt32Type>,
    tsecr: PrimitiveBuilder<UInt32Type>,
    payload_len: PrimitiveBuilder<UInt32Type>,
    payload_digest: PrimitiveBuilder<UInt64Type>,
    payload_head: BinaryBuilder,
    icmp_type: PrimitiveBuilder<UInt8Type>,
    icmp_code: PrimitiveBuilder<UInt8Type>,
    quoted_src: StringBuilder,
    quoted_dst: StringBuilder,
    quoted_protocol: PrimitiveBuilder<UInt8Type>,
    quoted_src_port: PrimitiveBuilder<UInt16Type>,
    quoted_dst_port: PrimitiveBuilder<UInt16Type>,
    quoted_seq: PrimitiveBuilder<UInt32Type>,
    dns_id: PrimitiveBuilder<UInt16Type>,
    dns_response: BooleanBuilder,
    dns_truncated: BooleanBuilder,
    dns_rcode: PrimitiveBuilder<UInt8Type>,
    dns_qname: StringBuilder,
    dns_qtype: PrimitiveBuilder<UInt16Type>,
    dns_answer_count: PrimitiveBuilder<UInt16Type>,
    dns_answers: ListBuilder<StringBuilder>,
}

fn ip_version(h: &Host) -> u8 {
    match h {
        Host::V4(_) => 4,
        Host::V6(_) => 6,
        Host::Named(_) => 0,
    }
}

impl Rows {
    fn push(&mut self, file: &str, p: &Packet, duplicate: bool, whole_head: bool) {
        self.len += 1;
        self.file.append_value(file);
        self.offset.append_value(p.meta.offset);
        self.number.append_value(p.meta.number);
        self.interface.append_value(p.meta.interface);
        let ns = p.meta.ts.nanos();
        self.ts.append_value(ns.div_euclid(1000));
        self.ts_extra_ns.append_value(ns.rem_euclid(1000) as u16);
        self.duplicate.append_value(duplicate);
        self.src.append_value(p.src.to_string());
        self.dst.append_value(p.dst.to_string());
        self.ip_version.append_value(ip_version(&p.src));
        self.ttl.append_option(p.ip.ttl);
        self.ip_id.append_option(p.ip.id);
        self.dont_fragment.append_value(p.ip.dont_fragment);
        self.fragment.append_value(p.ip.fragment);
        self.ip_len.append_option(p.ip.total_len);
        self.ip_checksum_ok.append_option(p.ip.checksum_ok);
        self.truncated.append_value(p.truncated);
        self.vlan.append_value(p.vlan);
        let link = self
            .link_src
            .get_or_insert_with(|| FixedSizeBinaryBuilder::new(6));
        match p.link_src {
            Some(mac) => link.append_value(mac).expect("six bytes"),
            None => link.append_null(),
        }
        let t = p.tunnel.as_deref();
        self.tunnel_kind.append_option(t.map(|t| t.kind.name()));
        self.tunnel_src
            .append_option(t.map(|t| t.outer_src.to_string()));
        self.tunnel_dst
            .append_option(t.map(|t| t.outer_dst.to_string()));
        self.tunnel_id.append_option(t.and_then(|t| t.id));
        let mut dns = None;
        let (mut sp, mut dp, mut len, mut digest, mut head) = (None, None, None, None, None);
        let (mut flags, mut seq, mut ack, mut win) = (None, None, None, None);
        let mut opts = None;
        let (mut icmp, mut quoted) = (None, None);
        let (name, protocol) = match &p.transport {
            Transport::Tcp(t) => {
                (sp, dp, len, digest) = (
                    Some(t.src_port),
                    Some(t.dst_port),
                    Some(t.payload_len),
                    Some(t.payload_digest),
                );
                head = Some(&t.head);
                (flags, seq, ack, win) = (Some(t.flags.0), t.seq, t.ack, t.window);
                opts = Some(t.options);
                dns = t.dns.as_deref();
                ("tcp", 6)
            }
            Transport::Udp(u) => {
                (sp, dp, len, digest) = (
                    Some(u.src_port),
                    Some(u.dst_port),
                    Some(u.payload_len),
                    Some(u.payload_digest),
                );
                head = Some(&u.head);
                dns = u.dns.as_deref();
                ("udp", 17)
            }
            Transport::Icmp(i) => {
                icmp = Some(i.kind.wire(i.v6));
                quoted = i.quoted.as_ref();
                ("icmp", if i.v6 { 58 } else { 1 })
            }
            Transport::Other { protocol } => ("other", *protocol),
        };
        self.transport.append_value(name);
        self.protocol.append_value(protocol);
        self.src_port.append_option(sp);
        self.dst_port.append_option(dp);
        self.tcp_flags.append_option(flags);
        self.seq.append_option(seq.map(|s| s.0));
        self.ack.append_option(ack.map(|s| s.0));
        self.window.append_option(win);
        self.mss.append_option(opts.and_then(|o| o.mss));
        self.window_scale
            .append_option(opts.and_then(|o| o.window_scale));
        self.sack_permitted
            .append_option(opts.map(|o| o.sack_permitted));
        self.tsval
            .append_option(opts.and_then(|o| o.timestamp.map(|t| t.0)));
        self.tsecr
            .append_option(opts.and_then(|o| o.timestamp.and_then(|t| t.1)));
        self.payload_len.append_option(len);
        self.payload_digest.append_option(digest);
        match head {
            Some(h) => {
                let b = h.as_bytes();
                let keep = if whole_head {
                    b.len()
                } else {
                    b.len().min(SHORT_HEAD)
                };
                self.payload_head.append_value(&b[..keep]);
            }
            None => self.payload_head.append_null(),
        }
        self.icmp_type.append_option(icmp.map(|i| i.0));
        self.icmp_code.append_option(icmp.map(|i| i.1));
        self.quoted_src
            .append_option(quoted.and_then(|q| q.src.as_ref().map(|h| h.to_string())));
        self.quoted_dst
            .append_option(quoted.map(|q| q.dst.to_string()));
        self.quoted_protocol
            .append_option(quoted.map(|q| q.protocol));
        self.quoted_src_port
            .append_option(quoted.and_then(|q| q.src_port));
        self.quoted_dst_port
            .append_option(quoted.and_then(|q| q.dst_port));
        self.quoted_seq
            .append_option(quoted.and_then(|q| q.seq.map(|s| s.0)));
        self.push_dns(dns);
    }

    fn push_dns(&mut self, m: Option<&DnsMessage>) {
        self.dns_id.append_option(m.map(|m| m.id));
        self.dns_response.append_option(m.map(|m| m.response));
        self.dns_truncated.append_option(m.map(|m| m.truncated));
        self.dns_rcode.append_option(m.map(|m| m.rcode));
        let q = m.and_then(|m| m.question.as_ref());
        self.dns_qname.append_option(q.map(|q| q.name.as_str()));
        self.dns_qtype.append_option(q.map(|q| q.qtype));
        self.dns_answer_count
            .append_option(m.map(|m| m.answer_count));
        match m {
            Some(m) => {
                for a in &m.answers {
                    let v = match a {
                        DnsAnswer::Address(ip) => ip.to_string(),
                        DnsAnswer::Name { rtype, name } => format!("{rtype} {name}"),
                    };
                    self.dns_answers.values().append_value(v);
                }
                self.dns_answers.append(true);
            }
            None => self.dns_answers.append(false),
        }
    }

    /// The rows as one record batch; the builders start again empty.
    fn finish(&mut self) -> RecordBatch {
        self.len = 0;
        let link: ArrayRef = Arc::new(
            self.link_src
                .get_or_insert_with(|| FixedSizeBinaryBuilder::new(6))
                .finish(),
        );
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.file.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.number.finish()),
            Arc::new(self.interface.finish()),
            Arc::new(self.ts.finish().with_timezone("UTC")),
            Arc::new(self.duplicate.finish()),
            Arc::new(self.src.finish()),
            Arc::new(self.dst.finish()),
            Arc::new(self.ip_version.finish()),
            Arc::new(self.ttl.finish()),
            Arc::new(self.ip_id.finish()),
            Arc::new(self.dont_fragment.finish()),
            Arc::new(self.fragment.finish()),
            Arc::new(self.ip_len.finish()),
            Arc::new(self.ip_checksum_ok.finish()),
            Arc::new(self.truncated.finish()),
            Arc::new(self.vlan.finish()),
            link,
            Arc::new(self.tunnel_kind.finish()),
            Arc::new(self.tunnel_src.finish()),
            Arc::new(self.tunnel_dst.finish()),
            Arc::new(self.tunnel_id.finish()),
            Arc::new(self.transport.finish()),
            Arc::new(self.protocol.finish()),
            Arc::new(self.src_port.finish()),
            Arc::new(self.dst_port.finish()),
            Arc::new(self.tcp_flags.finish()),
            Arc::new(self.seq.finish()),
            Arc::new(self.ack.finish()),
            Arc::new(self.window.finish()),
            Arc::new(self.mss.finish()),
            Arc::new(self.window_scale.finish()),
            Arc::new(self.sack_permitted.finish()),
            Arc::new(self.tsval.finish()),
            Arc::new(self.tsecr.finish()),
            Arc::new(self.payload_len.finish()),
            Arc::new(self.payload_digest.finish()),
            Arc::new(self.payload_head.finish()),
            Arc::new(self.icmp_type.finish()),
            Arc::new(self.icmp_code.finish()),
            Arc::new(self.quoted_src.finish()),
            Arc::new(self.quoted_dst.finish()),
            Arc::new(self.quoted_protocol.finish()),
            Arc::new(self.quoted_src_port.finish()),
            Arc::new(self.quoted_dst_port.finish()),
            Arc::new(self.quoted_seq.finish()),
            Arc::new(self.dns_id.finish()),
            Arc::new(self.dns_response.finish()),
            Arc::new(self.dns_truncated.finish()),
            Arc::new(self.dns_rcode.finish()),
            Arc::new(self.dns_qname.finish()),
            Arc::new(self.dns_qtype.finish()),
            Arc::new(self.dns_answer_count.finish()),
            Arc::new(self.dns_answers.finish()),
            Arc::new(self.ts_extra_ns.finish()),
        ];
        RecordBatch::try_new(schema(), cols).expect("the columns match the schema")
    }
}
