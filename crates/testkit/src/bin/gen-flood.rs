//! Writes a pcap of N unanswered SYNs, each its own conversation, for the
//! bounded-memory check: `gen-flood N OUT.pcap`.

use std::io::BufWriter;

use stalltrace_capture::write::PcapWriter;
use stalltrace_decode::LinkType;
use stalltrace_testkit::flood_into;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen-flood N OUT.pcap");
        std::process::exit(2);
    }
    let n: u32 = args[1].parse().expect("N is a number");
    let out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[2])?);
    let mut w = PcapWriter::new(out, LinkType::ETHERNET, 262_144)?;
    let mut err = None;
    flood_into(n, |f| {
        if err.is_none() {
            err = w.write(f.ts, &f.data, f.data.len() as u32).err();
        }
    });
    err.map_or(Ok(()), Err)
}
