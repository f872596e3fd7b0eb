//! What can go wrong with an input, typed: errors that stop reading a file
//! ([`CaptureError`]) and problems inside a readable one ([`Warning`]).
//! Each words itself in English and Chinese side by side (`say`); the
//! English is also its `Display`, for logs and `anyhow` chains.

use std::io;

use serde::Serialize;
use stalltrace_decode::{tr, Lang};

/// A capture that could not be read at all, or not past a point.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{}", self.say(Lang::En))]
    Open { file: String, source: io::Error },
    #[error("{}", self.say(Lang::En))]
    Read {
        file: String,
        offset: u64,
        source: io::Error,
    },
    #[error("{}", self.say(Lang::En))]
    UnknownFormat { file: String, start: String },
    #[error("{}", self.say(Lang::En))]
    Malformed {
        file: String,
        offset: u64,
        damage: Damage,
    },
    #[error("{}", self.say(Lang::En))]
    NoPacketLines {
        file: String,
        lines: u64,
        first_line: u64,
        excerpt: String,
    },
    /// A folder (or the folders given) held no capture at all.
    #[error("{}", self.say(Lang::En))]
    NoCapture { what: String, files: u64 },
    /// The packet filter cannot be applied to this input.
    #[error("{}", self.say(Lang::En))]
    Filter {
        file: String,
        source: crate::bpf::FilterError,
    },
    /// Stored packet events (Parquet) that cannot be read or are not
    /// stalltrace's; `row` counts the file's rows read before the damage.
    #[error("{}", self.say(Lang::En))]
    Events {
        file: String,
        row: Option<u64>,
        why: EventsDamage,
    },
}

/// Why stored packet events cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventsDamage {
    /// The point's folder holds no `.parquet` file.
    NoFiles,
    /// The file is another point's, or no stalltrace events at all.
    OtherPoint { expected: String },
    /// Its columns are not those this stalltrace writes.
    Columns,
    /// A row lacks a field its kind of packet has.
    Row { missing: &'static str },
    /// The file system's or the Parquet reader's own message (English).
    Library(String),
}

impl EventsDamage {
    pub fn say(&self, l: Lang) -> String {
        match self {
            EventsDamage::NoFiles => tr!(
                l,
                "no .parquet file for this point",
                "此抓包点没有 .parquet 文件"
            )
            .into(),
            EventsDamage::OtherPoint { expected } => tr!(
                l,
                format!("not packet events of point {expected}"),
                format!("不是抓包点 {expected} 的包事件")
            ),
            EventsDamage::Columns => tr!(
                l,
                "its columns are not those this stalltrace writes",
                "其列与本版 stalltrace 写出的不同"
            )
            .into(),
            EventsDamage::Row { missing } => tr!(
                l,
                format!("a row without its {missing}"),
                format!("某行缺少 {missing}")
            ),
            // The library's message is English: quoted as such.
            EventsDamage::Library(m) => tr!(l, m.clone(), format!("`{m}`")),
        }
    }
}

/// What is wrong with a binary capture's structure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Damage {
    PcapHeaderCut,
    NoInterfaceBlock,
    SectionHeaderCut,
    ByteOrderMagic {
        found: u32,
    },
    BlockLength {
        block_type: u32,
        length: u64,
        max: u64,
    },
}

impl Damage {
    pub fn say(&self, l: Lang) -> String {
        match self {
            Damage::PcapHeaderCut => tr!(
                l,
                "the pcap file header is cut short (24 bytes expected)",
                "pcap 文件头不完整（应为 24 字节）"
            )
            .into(),
            Damage::NoInterfaceBlock => tr!(
                l,
                "pcapng file ends before any interface description block",
                "pcapng 文件在任何接口描述块之前就结束了"
            )
            .into(),
            Damage::SectionHeaderCut => tr!(
                l,
                "section header block cut short",
                "节头块不完整"
            )
            .into(),
            Damage::ByteOrderMagic { found } => tr!(
                l,
                format!("section header byte-order magic is 0x{found:08x}, not 0x1a2b3c4d"),
                format!("节头块的字节序标记是 0x{found:08x}，而不是 0x1a2b3c4d")
            ),
            Damage::BlockLength {
                block_type,
                length,
                max,
            } => tr!(
                l,
                format!("block of type 0x{block_type:08x} claims a length of {length} bytes (must be a multiple of 4 between 12 and {max})"),
                format!("类型为 0x{block_type:08x} 的块声称长度为 {length} 字节（应为 12 到 {max} 之间 4 的倍数）")
            ),
        }
    }
}

impl CaptureError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            CaptureError::Open { file, .. }
            | CaptureError::Read { file, .. }
            | CaptureError::UnknownFormat { file, .. }
            | CaptureError::Malformed { file, .. }
            | CaptureError::NoPacketLines { file, .. }
            | CaptureError::Filter { file, .. }
            | CaptureError::Events { file, .. } => file,
            CaptureError::NoCapture { what, .. } => what,
        }
    }

    pub fn say(&self, l: Lang) -> String {
        match self {
            CaptureError::Open { file, source } => tr!(
                l,
                format!("{file}: cannot open: {source}"),
                format!("{file}：无法打开：{source}")
            ),
            CaptureError::Read {
                file,
                offset,
                source,
            } => tr!(
                l,
                format!("{file}: read error at byte {offset}: {source}"),
                format!("{file}：在第 {offset} 字节处读取出错：{source}")
            ),
            CaptureError::Events {
                file,
                row: Some(row),
                why,
            } => tr!(
                l,
                format!("{file}: packet events unreadable after row {row}: {}", why.say(l)),
                format!("{file}：第 {row} 行之后的包事件无法读取：{}", why.say(l))
            ),
            CaptureError::Events {
                file,
                row: None,
                why,
            } => tr!(
                l,
                format!("{file}: packet events unreadable: {}", why.say(l)),
                format!("{file}：包事件无法读取：{}", why.say(l))
            ),
            CaptureError::UnknownFormat { file, start } => tr!(
                l,
                format!("{file}: not a pcap, pcapng or tcpdump text capture: it starts with {start} at byte 0"),
                format!("{file}：不是 pcap、pcapng 或 tcpdump 文本抓包：第 0 字节起为 {start}")
            ),
            CaptureError::Malformed {
                file,
                offset,
                damage,
            } => tr!(
                l,
                format!("{file}: {} at byte {offset}", damage.say(l)),
                format!("{file}：第 {offset} 字节处：{}", damage.say(l))
            ),
            CaptureError::NoPacketLines {
                file,
                lines,
                first_line,
                excerpt,
            } => tr!(
                l,
                format!(
                    "{file}: no tcpdump packet line among its {} (line {first_line}: \"{excerpt}\")",
                    l.count(*lines, "line", "lines")
                ),
                format!("{file}：全部 {lines} 行中没有 tcpdump 数据包行（第 {first_line} 行：“{excerpt}”）")
            ),
            // libpcap's message stays as libpcap wrote it.
            CaptureError::Filter { file, source } => tr!(
                l,
                format!("{file}: {}", source.say(l)),
                format!("{file}：{}", source.say(l))
            ),
            CaptureError::NoCapture { what, files } => match (l, files) {
                (Lang::En, 0) => format!("{what}: no capture found: it holds no file"),
                (Lang::En, n) => format!(
                    "{what}: no capture found among its {}",
                    l.count(*n, "file", "files")
                ),
                (Lang::ZhCn, 0) => format!("{what}：没有找到抓包：其中没有文件"),
                (Lang::ZhCn, n) => format!("{what}：其中 {n} 个文件都不是抓包"),
            },
        }
    }
}

/// Where in a file something was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    Byte(u64),
    Line(u64),
}

impl Location {
    pub fn say(&self, l: Lang) -> String {
        match (self, l) {
            (Location::Byte(b), Lang::En) => format!("byte {b}"),
            (Location::Line(n), Lang::En) => format!("line {n}"),
            (Location::Byte(b), Lang::ZhCn) => format!("第 {b} 字节"),
            (Location::Line(n), Lang::ZhCn) => format!("第 {n} 行"),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.say(Lang::En))
    }
}

/// Something wrong with the input that did not stop the analysis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Warning {
    pub file: String,
    pub location: Option<Location>,
    /// The capture point, for what is counted per point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point: Option<String>,
    pub kind: WarningKind,
}

impl Warning {
    pub fn new(file: &str, location: Option<Location>, kind: WarningKind) -> Warning {
        Warning {
            file: file.to_string(),
            location,
            point: None,
            kind,
        }
    }

    pub fn at_point(mut self, point: &str) -> Warning {
        self.point = Some(point.to_string());
        self
    }

    /// The whole warning: file, place, point, and what is wrong.
    pub fn say(&self, l: Lang) -> String {
        let mut s = self.file.clone();
        let sep = tr!(l, ": ", "：");
        if let Some(loc) = &self.location {
            s.push_str(sep);
            s.push_str(&loc.say(l));
        }
        if let Some(p) = &self.point {
            s.push_str(sep);
            s.push_str(p);
        }
        s.push_str(sep);
        s.push_str(&self.kind.say(l));
        s
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.say(Lang::En))
    }
}

/// What is wrong, typed; JSON carries these fields, the report words them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WarningKind {
    /// A pcap record claims more bytes than any record may hold.
    RecordTooLarge {
        record: u64,
        claimed: u64,
        cap: u64,
        analysed: u64,
    },
    /// A pcap record holds more than the file's snaplen.
    RecordOverSnaplen {
        record: u64,
        captured: u64,
        snaplen: u64,
    },
    /// The file ends inside a record or block.
    CutShort {
        /// The record (pcap) that is cut; None for a pcapng block.
        record: Option<u64>,
        have: u64,
        needed: u64,
        analysed: u64,
    },
    /// The structure is broken from here on.
    Corrupt {
        damage: Damage,
        analysed: u64,
    },
    InterfaceBlockTooShort,
    TimestampResolution {
        value: u8,
    },
    PacketBlockTooShort {
        length: u64,
    },
    PacketBlockOverrun {
        claimed: u64,
        holds: u64,
    },
    UnknownInterface {
        packet: u64,
        interface: u64,
    },
    /// Printed lines that are no tcpdump packet line.
    UnreadableLines {
        count: u64,
        listed: Vec<u64>,
        first: String,
    },
    NonIpLines {
        count: u64,
    },
    ContinuationLines {
        count: u64,
    },
    /// `tcpdump -t`: no times.
    NoTimestamps,
    /// A file of no bytes: what tcpdump prints for a capture without packets.
    EmptyFile,
    /// The input was read, but held no IP packet at all.
    NoIpTraffic,
    /// Frames that gave no IP packet, by reason.
    SkippedFrames {
        count: u64,
        reason: SkipReason,
    },
    TimeWentBack {
        count: u64,
    },
    Snaplen {
        count: u64,
    },
    Fragments {
        count: u64,
    },
    BadChecksum {
        count: u64,
    },
    Evicted {
        count: u64,
        cap: u64,
    },
    Duplicates {
        count: u64,
    },
    /// TCP conversations seen one way only.
    OneDirection {
        count: u64,
    },
    /// SYNs with FIN or RST: probes, not connection attempts.
    OddSyns {
        count: u64,
    },
    /// IP packets of protocols other than TCP, UDP and ICMP (or of a
    /// tunnel that could not be opened): counted, not analysed.
    OtherIp {
        count: u64,
    },
    /// A file in a folder that is no capture: left out.
    NotACapture {
        why: NotCapture,
    },
}

/// Why a readable file is no capture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum NotCapture {
    /// Not pcap, not pcapng, not text.
    UnknownFormat { start: String },
    /// Text, but no tcpdump packet line in it.
    NoPacketLines { lines: u64 },
}

impl NotCapture {
    /// A readable file's error, when it says the file is no capture.
    pub fn of(e: &CaptureError) -> Option<NotCapture> {
        match e {
            CaptureError::UnknownFormat { start, .. } => Some(NotCapture::UnknownFormat {
                start: start.clone(),
            }),
            CaptureError::NoPacketLines { lines, .. } => {
                Some(NotCapture::NoPacketLines { lines: *lines })
            }
            _ => None,
        }
    }

    pub fn say(&self, l: Lang) -> String {
        match self {
            NotCapture::UnknownFormat { start } => tr!(
                l,
                format!("not pcap, pcapng or tcpdump text: it starts with {start}"),
                format!("不是 pcap、pcapng 或 tcpdump 文本：开头为 {start}")
            ),
            NotCapture::NoPacketLines { lines } => tr!(
                l,
                format!(
                    "no tcpdump packet line among its {}",
                    l.count(*lines, "line", "lines")
                ),
                format!("全部 {lines} 行中没有 tcpdump 数据包行")
            ),
        }
    }
}

/// Why frames gave no IP packet.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    NotIp,
    UnknownLinkType { link_type: u32 },
    Malformed { what: String },
}

impl SkipReason {
    pub fn say(&self, l: Lang) -> String {
        match self {
            SkipReason::NotIp => tr!(l, "not IP", "非 IP").into(),
            SkipReason::UnknownLinkType { link_type } => tr!(
                l,
                format!("unknown link type {link_type}"),
                format!("未知的链路类型 {link_type}")
            ),
            SkipReason::Malformed { what } => {
                tr!(l, format!("malformed: {what}"), format!("格式错误：{what}"))
            }
        }
    }
}

impl From<stalltrace_decode::Skip> for SkipReason {
    fn from(s: stalltrace_decode::Skip) -> SkipReason {
        match s {
            stalltrace_decode::Skip::NotIp { .. } => SkipReason::NotIp,
            stalltrace_decode::Skip::UnknownLinkType(t) => {
                SkipReason::UnknownLinkType { link_type: t }
            }
            stalltrace_decode::Skip::Malformed(what) => SkipReason::Malformed { what: what.into() },
        }
    }
}

impl WarningKind {
    pub fn say(&self, l: Lang) -> String {
        use WarningKind::*;
        match self {
            RecordTooLarge { record, claimed, cap, analysed } => tr!(
                l,
                format!("record {record} claims {claimed} captured bytes (the cap is {cap}): the file is corrupt from here on; stopped reading, the {} analysed", l.count(*analysed, "record before it was", "records before it were")),
                format!("第 {record} 条记录声称抓取了 {claimed} 字节（上限为 {cap}）：文件从此处起已损坏；停止读取，之前的 {analysed} 条记录已分析")
            ),
            RecordOverSnaplen { record, captured, snaplen } => tr!(
                l,
                format!("record {record} holds {captured} bytes, more than the file's snaplen {snaplen}; read anyway"),
                format!("第 {record} 条记录含 {captured} 字节，超过文件的 snaplen {snaplen}；仍然读取")
            ),
            CutShort { record: Some(r), have, needed, analysed } => tr!(
                l,
                format!("the file ends inside record {r} ({have} of {needed} bytes present): the capture was cut; the {} analysed", l.count(*analysed, "complete record before it was", "complete records before it were")),
                format!("文件在第 {r} 条记录中间结束（{needed} 字节中只有 {have} 字节）：抓包被截断；之前的 {analysed} 条完整记录已分析")
            ),
            CutShort { record: None, have, needed, analysed } => tr!(
                l,
                format!("the file ends inside a block ({have} of {needed} bytes present): the capture was cut; the {} analysed", l.count(*analysed, "packet before it was", "packets before it were")),
                format!("文件在一个块中间结束（{needed} 字节中只有 {have} 字节）：抓包被截断；之前的 {analysed} 个数据包已分析")
            ),
            Corrupt { damage, analysed } => tr!(
                l,
                format!("{}: the file is corrupt from here on; stopped reading, the {} analysed", damage.say(l), l.count(*analysed, "packet before it was", "packets before it were")),
                format!("{}：文件从此处起已损坏；停止读取，之前的 {analysed} 个数据包已分析", damage.say(l))
            ),
            InterfaceBlockTooShort => tr!(l, "interface description block too short; ignored", "接口描述块过短；已忽略").into(),
            TimestampResolution { value } => tr!(
                l,
                format!("interface timestamp resolution 0x{value:02x} is out of range; microseconds assumed"),
                format!("接口时间戳精度 0x{value:02x} 超出范围；按微秒处理")
            ),
            PacketBlockTooShort { length } => tr!(
                l,
                format!("packet block of {length} bytes is too short for its fields; skipped"),
                format!("{length} 字节的数据包块过短，容不下其字段；已跳过")
            ),
            PacketBlockOverrun { claimed, holds } => tr!(
                l,
                format!("packet block claims {claimed} captured bytes but holds {holds}; skipped"),
                format!("数据包块声称抓取了 {claimed} 字节，实际只有 {holds} 字节；已跳过")
            ),
            UnknownInterface { packet, interface } => tr!(
                l,
                format!("packet {packet} names interface {interface}, which this section does not describe; such packets are skipped"),
                format!("第 {packet} 个数据包指向接口 {interface}，而本节没有描述该接口；此类数据包已跳过")
            ),
            UnreadableLines { count, listed, first } => {
                let more = count.saturating_sub(listed.len() as u64);
                let nums: Vec<String> = listed.iter().map(|n| n.to_string()).collect();
                match l {
                    Lang::En => format!(
                        "{} not understood and left out ({} {}{}); first: \"{first}\"",
                        if *count == 1 { "1 line was".to_string() } else { format!("{count} lines were") },
                        if listed.len() == 1 { "line" } else { "lines" },
                        nums.join(", "),
                        if more > 0 { format!(" and {more} more") } else { String::new() },
                    ),
                    Lang::ZhCn => format!(
                        "{count} 行无法识别，已略去（第 {} 行{}）；第一行：“{first}”",
                        nums.join("、"),
                        if more > 0 { format!("，另有 {more} 行") } else { String::new() },
                    ),
                }
            }
            NonIpLines { count } => tr!(
                l,
                format!("{} (ARP and the like) skipped", l.count(*count, "non-IP line", "non-IP lines")),
                format!("跳过了 {count} 行非 IP 内容（ARP 等）")
            ),
            ContinuationLines { count } => tr!(
                l,
                format!("{} (payload dumps, protocol decodes) not used", l.count(*count, "indented continuation line", "indented continuation lines")),
                format!("{count} 行缩进的续行（载荷转储、协议解码）未使用")
            ),
            NoTimestamps => tr!(
                l,
                "printed without timestamps (tcpdump -t): the order is known, the times are not, so no delay can be measured",
                "打印时没有时间戳（tcpdump -t）：只知道先后顺序而不知道时间，因此无法测量任何延迟"
            )
            .into(),
            EmptyFile => tr!(
                l,
                "the file is empty: taken as a tcpdump printout without packets (what tcpdump prints for an empty capture)",
                "文件为空：视为没有数据包的 tcpdump 打印输出（tcpdump 读取空抓包时就输出空内容）"
            )
            .into(),
            NoIpTraffic => tr!(
                l,
                "no IP traffic here: nothing at this capture point could be diagnosed",
                "此处没有 IP 流量：这个捕获点没有可诊断的内容"
            )
            .into(),
            SkippedFrames { count, reason } => tr!(
                l,
                format!("{} skipped: {}", l.count(*count, "frame", "frames"), reason.say(l)),
                format!("跳过了 {count} 个帧：{}", reason.say(l))
            ),
            TimeWentBack { count } => tr!(
                l,
                format!("{} timestamped earlier than the packet before them (clock steps, or merged files); kept in file order", l.count(*count, "packet is", "packets are")),
                format!("{count} 个数据包的时间戳早于前一个数据包（时钟跳变或文件合并）；按文件顺序保留")
            ),
            Snaplen { count } => tr!(
                l,
                format!("{} cut short by the capture (snaplen); what is missing is treated as unknown", l.count(*count, "packet was", "packets were")),
                format!("{count} 个数据包被抓包截短（snaplen）；缺失的部分按未知处理")
            ),
            Fragments { count } => tr!(
                l,
                format!("{}; transport fields are read from first fragments only", l.count(*count, "IP fragment", "IP fragments")),
                format!("{count} 个 IP 分片；传输层字段只从首个分片读取")
            ),
            BadChecksum { count } => tr!(
                l,
                format!("{} had a bad checksum (counted, not trusted; a receiver drops such packets)", l.count(*count, "IPv4 header", "IPv4 headers")),
                format!("{count} 个 IPv4 头部校验和错误（只计数，不采信；接收方会丢弃这样的数据包）")
            ),
            Evicted { count, cap } => tr!(
                l,
                format!("{} closed early, the longest idle first, to stay within --max-conversations {cap}", l.count(*count, "conversation was", "conversations were")),
                format!("为不超过 --max-conversations {cap}，提前关闭了 {count} 条会话（空闲最久的优先）")
            ),
            OneDirection { count } => tr!(
                l,
                format!("{} seen in one direction only (a half-duplex SPAN port, an asymmetric route, a capture filter): what the other side sent, and so any wait for it, cannot be seen here", l.count(*count, "TCP conversation was", "TCP conversations were")),
                format!("{count} 条 TCP 会话只看到一个方向（半双工镜像端口、非对称路由或抓包过滤）：另一方发送的内容以及对它的等待在这里都看不到")
            ),
            OddSyns { count } => tr!(
                l,
                format!("{} SYN and FIN or RST together, as no stack opens a connection (a scanner's probes, nmap's OS detection): not taken as connection attempts", l.count(*count, "TCP segment had", "TCP segments had")),
                format!("{count} 个 TCP 段同时带有 SYN 和 FIN 或 RST，正常协议栈不会这样建立连接（扫描器探测、nmap 操作系统识别）：不算作连接尝试")
            ),
            OtherIp { count } => tr!(
                l,
                format!("{} of other protocols than TCP, UDP and ICMP (IGMP, OSPF, ESP, a tunnel that could not be opened): counted, not analysed", l.count(*count, "IP packet was", "IP packets were")),
                format!("{count} 个 IP 数据包属于 TCP、UDP、ICMP 以外的协议（IGMP、OSPF、ESP，或未能打开的隧道）：只计数，不分析")
            ),
            Duplicates { count } => tr!(
                l,
                format!("{} recorded twice (same IPv4 ID and contents within 1 ms) and counted once", l.count(*count, "frame was", "frames were")),
                format!("{count} 个帧被记录了两次（1 毫秒内 IPv4 ID 与内容相同），只计一次")
            ),
            NotACapture { why } => tr!(
                l,
                format!("not a capture, left out: {}", why.say(l)),
                format!("不是抓包，已略去：{}", why.say(l))
            ),
        }
    }
}
