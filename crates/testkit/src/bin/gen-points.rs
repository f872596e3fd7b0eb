//! Writes one generated capture as seen at four capture points (client,
//! firewall inside and outside with 1:1 source NAT, server):
//! `gen-points SESSIONS OUTDIR [SEED [SEGMENTS]]` writes
//! OUTDIR/client.pcap, fw-inside.pcap, fw-outside.pcap, server.pcap and
//! prints the ground truth on stderr. SEGMENTS: full-size segments the
//! server sends per session (default 16).

use std::io::BufWriter;

use stalltrace_capture::write::PcapWriter;
use stalltrace_decode::LinkType;
use stalltrace_testkit::generate::{generate, GenConfig};
use stalltrace_testkit::points::four_points;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen-points SESSIONS OUTDIR [SEED [SEGMENTS]]");
        std::process::exit(2);
    }
    let number = |i: usize, what: &str| {
        args.get(i)
            .map(|s| s.parse().unwrap_or_else(|_| panic!("{what} is a number")))
    };
    let cfg = GenConfig {
        sessions: number(1, "SESSIONS").expect("given") as u32,
        seed: number(3, "SEED").unwrap_or(1),
        segments: number(4, "SEGMENTS").map_or(GenConfig::default().segments, |n| n as u32),
        ..GenConfig::default()
    };
    let mut frames = Vec::new();
    let truth = generate(&cfg, |f| frames.push(f));
    let dir = std::path::Path::new(&args[2]);
    std::fs::create_dir_all(dir)?;
    for (name, point) in four_points(&frames) {
        let f = std::fs::File::create(dir.join(format!("{name}.pcap")))?;
        let mut w = PcapWriter::new(BufWriter::new(f), LinkType::ETHERNET, 262_144)?;
        for fr in &point {
            w.write(fr.ts, &fr.data, fr.data.len() as u32)?;
        }
        w.flush()?;
    }
    eprintln!("{truth:?}");
    Ok(())
}
