//! Every packet written as an event reads back as the same packet (its
//! payload's head cut to 8 bytes where it is not its flow's first), in the
//! same order, across hour folders and time going back.

use stalltrace_capture::PacketSource;
use stalltrace_decode::{Packet, PayloadHead, Transport};
use stalltrace_events::{Extractor, Manifest, PointEvents};
use stalltrace_testkit::generate::{packets, GenConfig};

fn head_mut(p: &mut Packet) -> Option<&mut PayloadHead> {
    match &mut p.transport {
        Transport::Tcp(t) => Some(&mut t.head),
        Transport::Udp(u) => Some(&mut u.head),
        _ => None,
    }
}

fn roundtrip(packets: &[Packet]) -> (Vec<Packet>, Manifest) {
    let dir = tempfile::tempdir().unwrap();
    extracted(packets, &dir.path().join("ev"))
}

/// `packets` written as events of point "fw:eth1" into `out`, and read
/// back.
fn extracted(packets: &[Packet], out: &std::path::Path) -> (Vec<Packet>, Manifest) {
    let mut x = Extractor::create(out).unwrap();
    let pt = x.add_point("fw:eth1", "cap.pcap", Some("eth1"));
    for p in packets {
        x.packet(pt, p, false).unwrap();
    }
    let m = x.finish().unwrap();
    let mut r = PointEvents::open(&out.join(&m.points[0].dir), "fw:eth1").unwrap();
    let mut back = Vec::new();
    while let Some(p) = r.next_packet(&mut Vec::new()).unwrap() {
        back.push(p);
    }
    (back, m)
}

fn same_but_heads(orig: &[Packet], back: &[Packet]) -> usize {
    assert_eq!(orig.len(), back.len());
    let mut whole = 0;
    for (a, b) in orig.iter().zip(back) {
        let mut b = b.clone();
        if let (Some(ha), Some(hb)) = (head_mut(&mut a.clone()).copied(), head_mut(&mut b)) {
            let (x, y) = (ha.as_bytes(), hb.as_bytes());
            assert!(x.starts_with(y) && y.len() >= x.len().min(8), "{x:?} {y:?}");
            whole += usize::from(y.len() == x.len() && x.len() > 8);
            *hb = ha;
        }
        assert_eq!(*a, b);
    }
    whole
}

#[test]
fn generated_packets_come_back() {
    let cfg = GenConfig {
        sessions: 2000,
        concurrency: 100,
        seed: 3,
        ..GenConfig::default()
    };
    let packets = packets(&cfg);
    let (back, m) = roundtrip(&packets);
    let whole = same_but_heads(&packets, &back);
    // Banners and request lines keep their whole heads (most sessions
    // have both; refused and unanswered ones have none).
    assert!(whole > 1500, "{whole}");
    assert_eq!(m.points[0].packets, packets.len() as u64);
    assert_eq!(m.points[0].dir, "point=fw%3Aeth1");
}

#[test]
fn hours_and_time_going_back_keep_the_capture_order() {
    let text = "\
10:59:59.900000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [S], seq 1, win 1, length 0
11:00:00.100000 IP 198.51.100.2.80 > 192.0.2.1.40000: Flags [S.], seq 5, ack 2, win 1, length 0
10:59:59.950000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [.], ack 1, win 1, length 0
11:00:00.200000 IP 192.0.2.1.40000 > 198.51.100.2.80: Flags [P.], seq 1:11, ack 1, win 1, length 10
12:30:00.000000 IP 192.0.2.9.53 > 192.0.2.1.33000: 7+ A? example. (25)
";
    let mut packets = stalltrace_testkit::packets_from_text(text);
    // Nanoseconds, as pcapng keeps them, and a time before 1970.
    let ns = packets[1].meta.ts.nanos() + 123;
    packets[1].meta.ts = stalltrace_decode::Timestamp::from_nanos(ns);
    packets[4].meta.ts = stalltrace_decode::Timestamp::from_nanos(-1_500_000_001);
    let (back, m) = roundtrip(&packets);
    same_but_heads(&packets, &back);
    // Hours 10, 11, 10 again and 11 again (second parts), 1969's last.
    assert_eq!(m.points[0].files, 5);
    assert!(back.windows(2).all(|w| w[0].meta.number < w[1].meta.number));
}

/// What Spark hands a task of these columns: no unsigned integers (a u8
/// as a short, u16 an int, u32 a long, u64 a decimal of 20 digits), bytes
/// for fixed-size bytes, times in the session's zone; and its own columns
/// beside them, the events' in another order.
fn as_spark_gives_it(b: &arrow_array::RecordBatch) -> arrow_array::RecordBatch {
    use arrow_schema::{DataType as T, Field, Schema};
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (f, c) in b.schema().fields().iter().zip(b.columns()).rev() {
        let to = match f.data_type() {
            T::UInt8 => T::Int16,
            T::UInt16 => T::Int32,
            T::UInt32 => T::Int64,
            T::UInt64 => T::Decimal128(20, 0),
            T::FixedSizeBinary(_) => T::Binary,
            T::Timestamp(u, _) => T::Timestamp(*u, Some("+01:00".into())),
            t => t.clone(),
        };
        columns.push(arrow_cast::cast(c, &to).unwrap());
        fields.push(Field::new(f.name(), to, true));
    }
    fields.push(Field::new("g", T::Int64, false));
    columns.push(std::sync::Arc::new(
        arrow_array::Int64Array::from_iter_values(0..b.num_rows() as i64),
    ));
    arrow_array::RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns).unwrap()
}

#[test]
fn rows_another_engine_hands_back_read_as_the_same_packets() {
    let cfg = GenConfig {
        sessions: 300,
        seed: 9,
        ..GenConfig::default()
    };
    let packets = packets(&cfg);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ev");
    let (want, _) = extracted(&packets, &out);
    let files = stalltrace_testkit::files_below(&out);
    let mut got = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
    {
        let file = std::fs::File::open(f).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for b in reader {
            let spark = as_spark_gives_it(&b.unwrap());
            // Through an Arrow IPC stream, as a task hands it on.
            let mut ipc = Vec::new();
            let mut w =
                arrow_ipc::writer::StreamWriter::try_new(&mut ipc, &spark.schema()).unwrap();
            w.write(&spark).unwrap();
            w.finish().unwrap();
            drop(w);
            for back in stalltrace_events::ipc_batches(ipc.as_slice()).unwrap() {
                let events = stalltrace_events::conform(&back.unwrap()).unwrap();
                for row in 0..events.num_rows() {
                    got.push(stalltrace_events::packet(&events, row).unwrap());
                }
            }
        }
    }
    got.sort_by_key(|p| p.meta.number);
    assert_eq!(got.len(), packets.len());
    assert_eq!(got, want);
}

#[test]
fn a_foreign_batch_without_an_events_column_is_named() {
    let b = arrow_array::RecordBatch::try_from_iter([(
        "number",
        std::sync::Arc::new(arrow_array::UInt64Array::from(vec![1u64])) as arrow_array::ArrayRef,
    )])
    .unwrap();
    let e = stalltrace_events::conform(&b).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the column 'file' of the packet events is missing"
    );
}
