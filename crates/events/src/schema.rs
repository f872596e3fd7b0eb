//! The columns of a packet event: one row per decoded packet, every field
//! the pipeline reads of a packet, so that read back it is the same packet
//! (`tests/roundtrip.rs`), and named for SQL (Spark, DuckDB, DataFusion).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, TimeUnit};

/// Bumped when a column changes meaning; written in every file.
pub const EVENTS_VERSION: u32 = 1;

/// The columns, in order. The capture point and the hour are not columns:
/// they are the partition folders (`point=…/hour=…`), as Spark and Hive
/// read them.
pub fn schema() -> Arc<Schema> {
    use DataType::*;
    let f = |name: &str, t: DataType, nullable: bool| Field::new(name, t, nullable);
    Arc::new(Schema::new(vec![
        // Where the packet is in its capture.
        f("file", Utf8, false),
        f("offset", UInt64, false),
        f("number", UInt64, false),
        f("interface", UInt32, false),
        // Microseconds, which every engine reads (Spark has no nanosecond
        // timestamps); the nanoseconds past them are the last column.
        f(
            "ts",
            Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        f("duplicate", Boolean, false),
        // IP.
        f("src", Utf8, false),
        f("dst", Utf8, false),
        f("ip_version", UInt8, false),
        f("ttl", UInt8, true),
        f("ip_id", UInt16, true),
        f("dont_fragment", Boolean, false),
        f("fragment", Boolean, false),
        f("ip_len", UInt32, true),
        f("ip_checksum_ok", Boolean, true),
        f("truncated", Boolean, false),
        f("vlan", UInt32, false),
        f("link_src", FixedSizeBinary(6), true),
        f("tunnel_kind", Utf8, true),
        f("tunnel_src", Utf8, true),
        f("tunnel_dst", Utf8, true),
        f("tunnel_id", UInt32, true),
        // Transport: "tcp", "udp", "icmp" or "other"; the IP protocol.
        f("transport", Utf8, false),
        f("protocol", UInt8, false),
        f("src_port", UInt16, true),
        f("dst_port", UInt16, true),
        f("tcp_flags", UInt8, true),
        f("seq", UInt32, true),
        f("ack", UInt32, true),
        f("window", UInt16, true),
        f("mss", UInt16, true),
        f("window_scale", UInt8, true),
        f("sack_permitted", Boolean, true),
        f("tsval", UInt32, true),
        f("tsecr", UInt32, true),
        f("payload_len", UInt32, true),
        f("payload_digest", UInt64, true),
        // The payload's first bytes: 64 for the first payload of each
        // direction of a flow (a banner, a request line), 8 after.
        f("payload_head", Binary, true),
        // ICMP, and the header of the packet an error quotes.
        f("icmp_type", UInt8, true),
        f("icmp_code", UInt8, true),
        f("quoted_src", Utf8, true),
        f("quoted_dst", Utf8, true),
        f("quoted_protocol", UInt8, true),
        f("quoted_src_port", UInt16, true),
        f("quoted_dst_port", UInt16, true),
        f("quoted_seq", UInt32, true),
        // DNS (over UDP or TCP).
        f("dns_id", UInt16, true),
        f("dns_response", Boolean, true),
        f("dns_truncated", Boolean, true),
        f("dns_rcode", UInt8, true),
        f("dns_qname", Utf8, true),
        f("dns_qtype", UInt16, true),
        f("dns_answer_count", UInt16, true),
        // An address ("192.0.2.1"), or a type and a name ("12 mx.example.").
        f(
            "dns_answers",
            List(Arc::new(Field::new("item", Utf8, true))),
            true,
        ),
        // Nanoseconds past `ts` (0 to 999: pcapng keeps nanoseconds).
        f("ts_extra_ns", UInt16, false),
    ]))
}

/// Key-value metadata of every file.
pub const META_POINT: &str = "stalltrace.point";
pub const META_VERSION: &str = "stalltrace.events_version";
pub const META_FIRST_NUMBER: &str = "stalltrace.first_number";
