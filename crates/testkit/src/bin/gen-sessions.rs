//! Writes a pcap of N complete POP3-like sessions, for memory and speed
//! checks: `gen-sessions N OUT.pcap [SEED]`.

use std::io::BufWriter;

use stalltrace_capture::write::PcapWriter;
use stalltrace_decode::LinkType;
use stalltrace_testkit::sessions_into;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen-sessions N OUT.pcap [SEED]");
        std::process::exit(2);
    }
    let n: u32 = args[1].parse().expect("N is a number");
    let seed: u64 = args
        .get(3)
        .map(|s| s.parse().expect("SEED is a number"))
        .unwrap_or(1);
    let out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[2])?);
    let mut w = PcapWriter::new(out, LinkType::ETHERNET, 262_144)?;
    let mut err = None;
    sessions_into(n, seed, |f| {
        if err.is_none() {
            if let Err(e) = w.write(f.ts, &f.data, f.data.len() as u32) {
                err = Some(e);
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
