//! pcap and pcapng writers: the lab writes its captures with these, and the
//! tests turn printed captures into binary ones holding the same packets.

use std::io::{self, Write};

use stalltrace_decode::{LinkType, Timestamp};

/// Classic pcap with nanosecond timestamps (magic 0xa1b23c4d).
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W, link: LinkType, snaplen: u32) -> io::Result<Self> {
        out.write_all(&0xa1b2_3c4du32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&snaplen.to_le_bytes())?;
        out.write_all(&link.0.to_le_bytes())?;
        Ok(PcapWriter { out })
    }

    pub fn write(&mut self, ts: Timestamp, data: &[u8], wire_len: u32) -> io::Result<()> {
        let ns = ts.nanos();
        let secs = ns.div_euclid(1_000_000_000) as u32;
        let frac = ns.rem_euclid(1_000_000_000) as u32;
        self.out.write_all(&secs.to_le_bytes())?;
        self.out.write_all(&frac.to_le_bytes())?;
        self.out.write_all(&(data.len() as u32).to_le_bytes())?;
        self.out.write_all(&wire_len.to_le_bytes())?;
        self.out.write_all(data)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// pcapng with one section, named interfaces and nanosecond resolution.
pub struct PcapngWriter<W: Write> {
    out: W,
    interfaces: u32,
}

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

impl<W: Write> PcapngWriter<W> {
    pub fn new(mut out: W, application: &str) -> io::Result<Self> {
        let mut opts = Vec::new();
        push_option(&mut opts, 4, application.as_bytes()); // shb_userappl
        push_option(&mut opts, 0, &[]);
        let len = 12 + 16 + opts.len();
        out.write_all(&0x0A0D_0D0Au32.to_le_bytes())?;
        out.write_all(&(len as u32).to_le_bytes())?;
        out.write_all(&0x1A2B_3C4Du32.to_le_bytes())?;
        out.write_all(&1u16.to_le_bytes())?;
        out.write_all(&0u16.to_le_bytes())?;
        out.write_all(&(-1i64).to_le_bytes())?;
        out.write_all(&opts)?;
        out.write_all(&(len as u32).to_le_bytes())?;
        Ok(PcapngWriter { out, interfaces: 0 })
    }

    /// Declares an interface; packets name it by the returned index.
    pub fn add_interface(&mut self, name: &str, link: LinkType, snaplen: u32) -> io::Result<u32> {
        let mut opts = Vec::new();
        push_option(&mut opts, 2, name.as_bytes()); // if_name
        push_option(&mut opts, 9, &[9]); // if_tsresol: 10^-9
        push_option(&mut opts, 0, &[]);
        let len = 12 + 8 + opts.len();
        self.out.write_all(&1u32.to_le_bytes())?;
        self.out.write_all(&(len as u32).to_le_bytes())?;
        self.out.write_all(&(link.0 as u16).to_le_bytes())?;
        self.out.write_all(&0u16.to_le_bytes())?;
        self.out.write_all(&snaplen.to_le_bytes())?;
        self.out.write_all(&opts)?;
        self.out.write_all(&(len as u32).to_le_bytes())?;
        self.interfaces += 1;
        Ok(self.interfaces - 1)
    }

    pub fn write(
        &mut self,
        interface: u32,
        ts: Timestamp,
        data: &[u8],
        wire_len: u32,
    ) -> io::Result<()> {
        let units = ts.nanos() as u64;
        let len = 12 + 20 + pad4(data.len());
        self.out.write_all(&6u32.to_le_bytes())?;
        self.out.write_all(&(len as u32).to_le_bytes())?;
        self.out.write_all(&interface.to_le_bytes())?;
        self.out.write_all(&((units >> 32) as u32).to_le_bytes())?;
        self.out.write_all(&(units as u32).to_le_bytes())?;
        self.out.write_all(&(data.len() as u32).to_le_bytes())?;
        self.out.write_all(&wire_len.to_le_bytes())?;
        self.out.write_all(data)?;
        self.out
            .write_all(&[0u8; 3][..pad4(data.len()) - data.len()])?;
        self.out.write_all(&(len as u32).to_le_bytes())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

fn push_option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&(value.len() as u16).to_le_bytes());
    buf.extend_from_slice(value);
    buf.resize(buf.len() + pad4(value.len()) - value.len(), 0);
}
