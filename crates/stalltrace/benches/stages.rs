//! Each stage on the same generated capture (in memory), so a change that
//! slows one shows where: `cargo bench -p stalltrace`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use stalltrace::analyze::{analyze_readers, AnalyzeOptions, InputSpec};
use stalltrace_capture::{CaptureReader, Record};
use stalltrace_conversations::{Tracker, TrackerConfig};
use stalltrace_decode::{decode_frame, decode_frame_general, LinkType, Packet};
use stalltrace_testkit::generate::{generate, GenConfig};
use stalltrace_testkit::write_pcap;

fn capture() -> Vec<u8> {
    let mut frames = Vec::new();
    generate(
        &GenConfig {
            sessions: 1000,
            ..GenConfig::default()
        },
        |f| frames.push(f),
    );
    let mut pcap = Vec::new();
    write_pcap(&mut pcap, &frames).expect("in memory");
    pcap
}

fn reader(bytes: &[u8]) -> CaptureReader {
    CaptureReader::from_reader("bench", Box::new(std::io::Cursor::new(bytes.to_vec())))
        .expect("pcap")
}

fn stages(c: &mut Criterion) {
    let pcap = capture();
    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Bytes(pcap.len() as u64));
    g.sample_size(20);

    g.bench_function("read", |b| {
        b.iter_batched(
            || reader(&pcap),
            |mut r| {
                let mut n = 0u64;
                while let Ok(Some(rec)) = r.next() {
                    if let Record::Frame(f) = rec {
                        n += f.data.len() as u64;
                    }
                }
                n
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("read+decode", |b| {
        b.iter_batched(
            || reader(&pcap),
            |mut r| {
                let mut n = 0u64;
                while let Ok(Some(Record::Frame(f))) = r.next() {
                    n += u64::from(decode_frame(f.link, f.data, f.meta).is_ok());
                }
                n
            },
            BatchSize::LargeInput,
        )
    });
    // The decoder alone, on frames already in memory: the hand-written
    // fast path against etherparse for every frame.
    let mut frames: Vec<(LinkType, Vec<u8>, stalltrace_decode::FrameMeta)> = Vec::new();
    let mut r = reader(&pcap);
    while let Ok(Some(Record::Frame(f))) = r.next() {
        frames.push((f.link, f.data.to_vec(), f.meta));
    }
    g.bench_function("decode (fast path)", |b| {
        b.iter(|| {
            frames
                .iter()
                .filter(|(l, d, m)| decode_frame(*l, d, *m).is_ok())
                .count()
        })
    });
    g.bench_function("decode (etherparse)", |b| {
        b.iter(|| {
            frames
                .iter()
                .filter(|(l, d, m)| decode_frame_general(*l, d, *m).is_ok())
                .count()
        })
    });
    let mut packets: Vec<Packet> = Vec::new();
    let mut r = reader(&pcap);
    while let Ok(Some(Record::Frame(f))) = r.next() {
        packets.extend(decode_frame(f.link, f.data, f.meta).ok());
    }
    g.bench_function("conversations", |b| {
        b.iter(|| {
            let mut t = Tracker::new(0, TrackerConfig::default());
            for p in &packets {
                t.observe(p);
            }
            t.finish().len()
        })
    });
    for threads in [1, 2] {
        g.bench_function(format!("whole pipeline, {threads} thread(s)"), |b| {
            b.iter_batched(
                || vec![(InputSpec::new("bench"), reader(&pcap))],
                |readers| {
                    let opts = AnalyzeOptions {
                        threads,
                        ..AnalyzeOptions::default()
                    };
                    analyze_readers(readers, &opts).report.findings.len()
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
