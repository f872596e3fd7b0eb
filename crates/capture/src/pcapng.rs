//! pcapng: sections, several interfaces with their names, per-interface
//! timestamp resolution and offset; EPB, SPB and the obsolete OPB.
//!
//! Hand-written for the same reasons as the pcap reader (exact offsets, one
//! capped buffer), and because pcap-parser allocates an option vector for
//! every packet block, which the hot path cannot afford.

use std::io::Read;

use stalltrace_decode::{FrameMeta, LinkType, Timestamp};

use crate::bytes::ByteWindow;
use crate::{
    CaptureError, Damage, Interface, Location, RawFrame, Warning, WarningKind, MAX_RECORD,
};

pub(crate) const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const OPB: u32 = 0x0000_0002;
const SPB: u32 = 0x0000_0003;
const EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

mod block {
    /// Type, total length, and the trailing copy of the length.
    pub const OVERHEAD: usize = 12;
    pub const BODY: usize = 8;
}

mod opt {
    pub const END: u16 = 0;
    pub const IF_NAME: u16 = 2;
    pub const IF_DESCRIPTION: u16 = 3;
    pub const IF_TSRESOL: u16 = 9;
    pub const IF_TSOFFSET: u16 = 14;
}

struct Iface {
    link: LinkType,
    snaplen: u32,
    units_per_sec: u64,
    offset_secs: i64,
    /// Index in the file-wide interface list.
    global: u32,
}

pub(crate) struct PcapngReader<R> {
    w: ByteWindow<R>,
    file: String,
    big_endian: bool,
    section: Vec<Iface>,
    pub(crate) interfaces: Vec<Interface>,
    number: u64,
    warned_bad_iface: bool,
}

impl<R: Read> PcapngReader<R> {
    pub(crate) fn new(w: ByteWindow<R>, file: String) -> Self {
        PcapngReader {
            w,
            file,
            big_endian: false,
            section: Vec::new(),
            interfaces: Vec::new(),
            number: 0,
            warned_bad_iface: false,
        }
    }

    fn u16(&self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.big_endian {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }

    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    fn malformed(&self, offset: u64, damage: Damage) -> CaptureError {
        CaptureError::Malformed {
            file: self.file.clone(),
            offset,
            damage,
        }
    }

    fn warn(&self, warnings: &mut Vec<Warning>, offset: u64, kind: WarningKind) {
        warnings.push(Warning::new(&self.file, Some(Location::Byte(offset)), kind));
    }

    /// Reads blocks until a packet; interface blocks update the table.
    pub(crate) fn next_frame(
        &mut self,
        warnings: &mut Vec<Warning>,
    ) -> Result<Option<RawFrame<'_>>, CaptureError> {
        loop {
            let at = self.w.offset();
            let io = |e| CaptureError::Read {
                file: self.file.clone(),
                offset: at,
                source: e,
            };
            if !self.w.fill(block::BODY).map_err(io)? {
                let left = self.w.leftover();
                if left > 0 {
                    self.warn(
                        warnings,
                        at,
                        WarningKind::CutShort {
                            record: None,
                            have: left as u64,
                            needed: 8,
                            analysed: self.number,
                        },
                    );
                    self.w.consume(left);
                }
                if self.interfaces.is_empty() && self.number == 0 {
                    return Err(self.malformed(at, Damage::NoInterfaceBlock));
                }
                return Ok(None);
            }
            let head = self.w.available();
            let raw_type = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            if raw_type == SHB {
                if !self
                    .w
                    .fill(block::BODY + 4)
                    .map_err(|e| CaptureError::Read {
                        file: self.file.clone(),
                        offset: at,
                        source: e,
                    })?
                {
                    return Err(self.malformed(at, Damage::SectionHeaderCut));
                }
                let bom = &self.w.available()[8..12];
                let le = u32::from_le_bytes([bom[0], bom[1], bom[2], bom[3]]);
                self.big_endian = if le == BYTE_ORDER_MAGIC {
                    false
                } else if le.swap_bytes() == BYTE_ORDER_MAGIC {
                    true
                } else {
                    let damage = Damage::ByteOrderMagic { found: le };
                    if self.number == 0 {
                        return Err(self.malformed(at + 8, damage));
                    }
                    self.warn(
                        warnings,
                        at + 8,
                        WarningKind::Corrupt {
                            damage,
                            analysed: self.number,
                        },
                    );
                    return Ok(None);
                };
                self.section.clear();
            }
            let head = self.w.available();
            let btype = self.u32(&head[0..4]);
            let blen = self.u32(&head[4..8]) as usize;
            if blen < block::OVERHEAD || blen % 4 != 0 || blen > MAX_RECORD {
                let damage = Damage::BlockLength {
                    block_type: btype,
                    length: blen as u64,
                    max: MAX_RECORD as u64,
                };
                if self.number == 0 && self.interfaces.is_empty() {
                    return Err(self.malformed(at, damage));
                }
                self.warn(
                    warnings,
                    at,
                    WarningKind::Corrupt {
                        damage,
                        analysed: self.number,
                    },
                );
                return Ok(None);
            }
            if !self.w.fill(blen).map_err(|e| CaptureError::Read {
                file: self.file.clone(),
                offset: at,
                source: e,
            })? {
                let left = self.w.leftover();
                self.warn(
                    warnings,
                    at,
                    WarningKind::CutShort {
                        record: None,
                        have: left as u64,
                        needed: blen as u64,
                        analysed: self.number,
                    },
                );
                self.w.consume(left);
                return Ok(None);
            }
            self.w.consume(blen);
            let b = self.w.consumed_tail(blen);
            let body = &b[block::BODY..blen - 4];
            match btype {
                SHB => {}
                IDB => {
                    if body.len() < 8 {
                        self.warn(warnings, at, WarningKind::InterfaceBlockTooShort);
                        continue;
                    }
                    let link = LinkType(self.u16(&body[0..2]) as u32);
                    let snaplen = self.u32(&body[4..8]);
                    let mut iface = Iface {
                        link,
                        snaplen,
                        units_per_sec: 1_000_000,
                        offset_secs: 0,
                        global: self.interfaces.len() as u32,
                    };
                    let mut name = None;
                    let mut description = None;
                    let mut o = &body[8..];
                    while o.len() >= 4 {
                        let code = self.u16(&o[0..2]);
                        let len = self.u16(&o[2..4]) as usize;
                        if code == opt::END {
                            break;
                        }
                        let padded = (len + 3) & !3;
                        let Some(val) = o.get(4..4 + len) else { break };
                        match code {
                            opt::IF_NAME => {
                                name = Some(
                                    String::from_utf8_lossy(val)
                                        .trim_end_matches('\0')
                                        .to_string(),
                                )
                            }
                            opt::IF_DESCRIPTION => {
                                description = Some(
                                    String::from_utf8_lossy(val)
                                        .trim_end_matches('\0')
                                        .to_string(),
                                )
                            }
                            opt::IF_TSRESOL if len == 1 => {
                                let v = val[0];
                                iface.units_per_sec = if v & 0x80 != 0 {
                                    1u64.checked_shl((v & 0x7f) as u32).unwrap_or(0)
                                } else {
                                    10u64.checked_pow(v as u32).unwrap_or(0)
                                };
                                if iface.units_per_sec == 0 {
                                    self.warn(
                                        warnings,
                                        at,
                                        WarningKind::TimestampResolution { value: v },
                                    );
                                    iface.units_per_sec = 1_000_000;
                                }
                            }
                            opt::IF_TSOFFSET if len == 8 => {
                                let lo = self.u32(&val[0..4]) as u64;
                                let hi = self.u32(&val[4..8]) as u64;
                                let v = if self.big_endian {
                                    (lo << 32) | hi
                                } else {
                                    (hi << 32) | lo
                                };
                                iface.offset_secs = v as i64;
                            }
                            _ => {}
                        }
                        if o.len() < 4 + padded {
                            break;
                        }
                        o = &o[4 + padded..];
                    }
                    self.interfaces.push(Interface {
                        name: name.or(description),
                        link,
                    });
                    self.section.push(iface);
                }
                EPB | OPB | SPB => {
                    let (if_id, ts, caplen, origlen, data_at) = match btype {
                        EPB if body.len() >= 20 => (
                            self.u32(&body[0..4]) as usize,
                            Some((self.u32(&body[4..8]), self.u32(&body[8..12]))),
                            self.u32(&body[12..16]) as usize,
                            self.u32(&body[16..20]),
                            20,
                        ),
                        OPB if body.len() >= 20 => (
                            self.u16(&body[0..2]) as usize,
                            Some((self.u32(&body[4..8]), self.u32(&body[8..12]))),
                            self.u32(&body[12..16]) as usize,
                            self.u32(&body[16..20]),
                            20,
                        ),
                        SPB if body.len() >= 4 => {
                            let orig = self.u32(&body[0..4]);
                            let snap = self.section.first().map(|i| i.snaplen).unwrap_or(0);
                            let mut cap = (orig as usize).min(body.len() - 4);
                            if snap > 0 {
                                cap = cap.min(snap as usize);
                            }
                            (0, None, cap, orig, 4)
                        }
                        _ => {
                            self.warn(
                                warnings,
                                at,
                                WarningKind::PacketBlockTooShort {
                                    length: blen as u64,
                                },
                            );
                            continue;
                        }
                    };
                    if caplen > body.len() - data_at {
                        self.warn(
                            warnings,
                            at,
                            WarningKind::PacketBlockOverrun {
                                claimed: caplen as u64,
                                holds: (body.len() - data_at) as u64,
                            },
                        );
                        self.number += 1;
                        continue;
                    }
                    let Some(iface) = self.section.get(if_id) else {
                        self.number += 1;
                        if !self.warned_bad_iface {
                            self.warned_bad_iface = true;
                            self.warn(
                                warnings,
                                at,
                                WarningKind::UnknownInterface {
                                    packet: self.number,
                                    interface: if_id as u64,
                                },
                            );
                        }
                        continue;
                    };
                    self.number += 1;
                    let ts = match ts {
                        Some((hi, lo)) => {
                            let units = ((hi as u64) << 32) | lo as u64;
                            let ups = iface.units_per_sec;
                            Timestamp::from_parts(
                                (units / ups) as i64 + iface.offset_secs,
                                units % ups,
                                ups,
                            )
                        }
                        // SPB carries no time: keep order, say so once upstream.
                        None => Timestamp::ZERO,
                    };
                    let link = iface.link;
                    let interface = iface.global;
                    let data = &self.w.consumed_tail(blen)
                        [block::BODY + data_at..block::BODY + data_at + caplen];
                    return Ok(Some(RawFrame {
                        link,
                        data,
                        wire_len: origlen,
                        meta: FrameMeta {
                            ts,
                            number: self.number,
                            interface,
                            offset: at,
                        },
                    }));
                }
                _ => {}
            }
        }
    }
}
