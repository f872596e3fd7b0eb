//! Classic libpcap files: µs and ns resolution, both byte orders, and
//! Alexey Kuznetsov's modified format.
//!
//! Written here rather than taken from pcap-parser: that crate hands out
//! records through a circular buffer the caller must grow by hand for large
//! records, and we need the exact byte offset of every record for error
//! messages and one reusable buffer with a hard cap for hostile length
//! fields. The format is 24 + 16 bytes of header; this is the whole reader.

use std::io::Read;

use stalltrace_decode::{FrameMeta, LinkType, Timestamp};

use crate::bytes::ByteWindow;
use crate::{CaptureError, Damage, Location, WarningKind};
use crate::{Interface, RawFrame, Warning, MAX_RECORD};

mod header {
    pub const LEN: usize = 24;
    pub const MAGIC: std::ops::Range<usize> = 0..4;
    pub const SNAPLEN: std::ops::Range<usize> = 16..20;
    pub const LINKTYPE: std::ops::Range<usize> = 20..24;
}

mod record {
    pub const TS_SEC: std::ops::Range<usize> = 0..4;
    pub const TS_FRAC: std::ops::Range<usize> = 4..8;
    pub const CAPLEN: std::ops::Range<usize> = 8..12;
    pub const ORIGLEN: std::ops::Range<usize> = 12..16;
    pub const LEN: usize = 16;
    /// The modified format appends ifindex, protocol, packet type and padding.
    pub const MODIFIED_EXTRA: usize = 8;
}

pub(crate) const MAGIC_US: u32 = 0xa1b2_c3d4;
pub(crate) const MAGIC_NS: u32 = 0xa1b2_3c4d;
pub(crate) const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

pub(crate) fn is_magic(b: &[u8]) -> bool {
    if b.len() < 4 {
        return false;
    }
    let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    [le, be]
        .iter()
        .any(|m| matches!(*m, MAGIC_US | MAGIC_NS | MAGIC_MODIFIED))
}

pub(crate) struct PcapReader<R> {
    w: ByteWindow<R>,
    file: String,
    big_endian: bool,
    units_per_sec: u64,
    record_len: usize,
    link: LinkType,
    snaplen: u32,
    number: u64,
    warned_caplen: bool,
}

impl<R: Read> PcapReader<R> {
    pub(crate) fn new(
        mut w: ByteWindow<R>,
        file: String,
    ) -> Result<(Self, Vec<Interface>), CaptureError> {
        let read_err = |e, file: &str| CaptureError::Read {
            file: file.to_string(),
            offset: 0,
            source: e,
        };
        if !w.fill(header::LEN).map_err(|e| read_err(e, &file))? {
            return Err(CaptureError::Malformed {
                file,
                offset: w.available().len() as u64,
                damage: Damage::PcapHeaderCut,
            });
        }
        let h = w.available();
        let m = &h[header::MAGIC];
        let le = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
        let big_endian = !matches!(le, MAGIC_US | MAGIC_NS | MAGIC_MODIFIED);
        let magic = if big_endian { le.swap_bytes() } else { le };
        let u32_at = |r: std::ops::Range<usize>| {
            let b = [h[r.start], h[r.start + 1], h[r.start + 2], h[r.start + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let snaplen = u32_at(header::SNAPLEN);
        // The upper 16 bits carry FCS length flags; the link type is below.
        let link = LinkType(u32_at(header::LINKTYPE) & 0xffff);
        w.consume(header::LEN);
        let reader = PcapReader {
            w,
            file,
            big_endian,
            units_per_sec: if magic == MAGIC_NS {
                1_000_000_000
            } else {
                1_000_000
            },
            record_len: record::LEN
                + if magic == MAGIC_MODIFIED {
                    record::MODIFIED_EXTRA
                } else {
                    0
                },
            link,
            snaplen,
            number: 0,
            warned_caplen: false,
        };
        Ok((reader, vec![Interface { name: None, link }]))
    }

    fn u32_at(&self, b: &[u8], r: std::ops::Range<usize>) -> u32 {
        let a = [b[r.start], b[r.start + 1], b[r.start + 2], b[r.start + 3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    pub(crate) fn next_frame(
        &mut self,
        warnings: &mut Vec<Warning>,
    ) -> Result<Option<RawFrame<'_>>, CaptureError> {
        let rec_offset = self.w.offset();
        let io = |e, file: &str| CaptureError::Read {
            file: file.to_string(),
            offset: rec_offset,
            source: e,
        };
        if !self
            .w
            .fill(self.record_len)
            .map_err(|e| io(e, &self.file))?
        {
            self.cut_short(warnings, rec_offset, self.record_len);
            return Ok(None);
        }
        let h = self.w.available();
        let ts_sec = self.u32_at(h, record::TS_SEC);
        let ts_frac = self.u32_at(h, record::TS_FRAC);
        let caplen = self.u32_at(h, record::CAPLEN) as usize;
        let origlen = self.u32_at(h, record::ORIGLEN);
        if caplen > MAX_RECORD {
            warnings.push(Warning::new(
                &self.file,
                Some(Location::Byte(rec_offset)),
                WarningKind::RecordTooLarge {
                    record: self.number + 1,
                    claimed: caplen as u64,
                    cap: MAX_RECORD as u64,
                    analysed: self.number,
                },
            ));
            return Ok(None);
        }
        if self.snaplen > 0 && caplen > self.snaplen as usize && !self.warned_caplen {
            self.warned_caplen = true;
            warnings.push(Warning::new(
                &self.file,
                Some(Location::Byte(rec_offset)),
                WarningKind::RecordOverSnaplen {
                    record: self.number + 1,
                    captured: caplen as u64,
                    snaplen: u64::from(self.snaplen),
                },
            ));
        }
        let total = self.record_len + caplen;
        if !self.w.fill(total).map_err(|e| io(e, &self.file))? {
            self.cut_short(warnings, rec_offset, total);
            return Ok(None);
        }
        self.number += 1;
        let meta = FrameMeta {
            ts: Timestamp::from_parts(ts_sec as i64, ts_frac as u64, self.units_per_sec),
            number: self.number,
            interface: 0,
            offset: rec_offset,
        };
        self.w.consume(total);
        let start = self.record_len;
        // consume() only moved the window's start; the bytes are still there.
        let data = &self.w_slice_before(total)[start..];
        Ok(Some(RawFrame {
            link: self.link,
            data,
            wire_len: origlen,
            meta,
        }))
    }

    fn w_slice_before(&self, n: usize) -> &[u8] {
        self.w.consumed_tail(n)
    }

    fn cut_short(&mut self, warnings: &mut Vec<Warning>, at: u64, needed: usize) {
        let have = self.w.leftover();
        if have == 0 {
            return;
        }
        warnings.push(Warning::new(
            &self.file,
            Some(Location::Byte(at)),
            WarningKind::CutShort {
                record: Some(self.number + 1),
                have: have as u64,
                needed: needed as u64,
                analysed: self.number,
            },
        ));
        self.w.consume(have);
    }
}
