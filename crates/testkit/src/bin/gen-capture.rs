//! Writes a realistic generated capture:
//! `gen-capture SESSIONS OUT.pcap|OUT.pcapng [SEED [CONCURRENCY]]`.
//! The format follows the name's extension. Prints the ground truth (what
//! a diagnosis must find) on stderr.

use std::io::{BufWriter, Write};

use stalltrace_capture::write::{PcapWriter, PcapngWriter};
use stalltrace_decode::{LinkType, Timestamp};
use stalltrace_testkit::generate::{generate, GenConfig};

/// Either writer, behind one call.
enum Out<W: Write> {
    Pcap(PcapWriter<W>),
    Pcapng(PcapngWriter<W>, u32),
}

impl<W: Write> Out<W> {
    fn write(&mut self, ts: Timestamp, data: &[u8]) -> std::io::Result<()> {
        match self {
            Out::Pcap(w) => w.write(ts, data, data.len() as u32),
            Out::Pcapng(w, i) => w.write(*i, ts, data, data.len() as u32),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Pcap(w) => w.flush(),
            Out::Pcapng(w, _) => w.flush(),
        }
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen-capture SESSIONS OUT.pcap|OUT.pcapng [SEED [CONCURRENCY]]");
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
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[2])?);
    let mut out = if args[2].ends_with(".pcapng") {
        let mut w = PcapngWriter::new(file, "stalltrace gen-capture")?;
        let i = w.add_interface("eth0", LinkType::ETHERNET, 262_144)?;
        Out::Pcapng(w, i)
    } else {
        Out::Pcap(PcapWriter::new(file, LinkType::ETHERNET, 262_144)?)
    };
    let mut err = None;
    let truth = generate(&cfg, |f| {
        if err.is_none() {
            err = out.write(f.ts, &f.data).err();
        }
    });
    eprintln!("{truth:?}");
    err.map_or(Ok(()), Err)?;
    out.flush()
}
