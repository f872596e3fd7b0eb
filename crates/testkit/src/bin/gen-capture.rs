//! Writes a realistic generated capture:
//! `gen-capture SESSIONS OUT.pcap [SEED [CONCURRENCY]]`.
//! Prints the ground truth (what a diagnosis must find) on stderr.

use std::io::BufWriter;

use stalltrace_capture::write::PcapWriter;
use stalltrace_decode::LinkType;
use stalltrace_testkit::generate::{generate, GenConfig};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen-capture SESSIONS OUT.pcap [SEED [CONCURRENCY]]");
        std::process::exit(2);
    }
    let cfg = GenConfig {
        sessions: args[1].parse().expect("SESSIONS is a number"),
        seed: args
            .get(3)
            .map(|s| s.parse().expect("SEED is a number"))
            .unwrap_or(1),
        concurrency: args
            .get(4)
            .map(|s| s.parse().expect("CONCURRENCY is a number"))
            .unwrap_or(GenConfig::default().concurrency),
        ..GenConfig::default()
    };
    let out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[2])?);
    let mut w = PcapWriter::new(out, LinkType::ETHERNET, 262_144)?;
    let mut err = None;
    let truth = generate(&cfg, |f| {
        if err.is_none() {
            err = w.write(f.ts, &f.data, f.data.len() as u32).err();
        }
    });
    eprintln!("{truth:?}");
    err.map_or(Ok(()), Err)
}
