//! Transport headers as zero-copy views.
//!
//! etherparse refuses a TCP header the capture cut short (snaplen, the
//! `[|tcp]` of tcpdump), yet ports, sequence number and flags sit in its
//! first 14 bytes and are exactly what a stall diagnosis needs. These views
//! read every field that is present and report the rest as unknown.

use crate::{SeqNumber, TcpFlags, TcpOptions};

mod tcp_field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    /// Ports, sequence number, acknowledgment, offset and flags.
    pub const MIN_USEFUL: usize = 14;
    pub const HEADER_MIN: usize = 20;
}

fn be16(b: &[u8], r: std::ops::Range<usize>) -> u16 {
    u16::from_be_bytes([b[r.start], b[r.start + 1]])
}

fn be32(b: &[u8], r: std::ops::Range<usize>) -> u32 {
    u32::from_be_bytes([b[r.start], b[r.start + 1], b[r.start + 2], b[r.start + 3]])
}

/// A TCP header, possibly cut after its 14th byte.
pub struct TcpView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpView<T> {
    /// Needs ports, sequence and acknowledgment numbers, and flags.
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= tcp_field::MIN_USEFUL).then_some(TcpView { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn src_port(&self) -> u16 {
        be16(self.b(), tcp_field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.b(), tcp_field::DST_PORT)
    }
    pub fn seq(&self) -> SeqNumber {
        SeqNumber(be32(self.b(), tcp_field::SEQ))
    }
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(be32(self.b(), tcp_field::ACK))
    }
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.b()[tcp_field::FLAGS])
    }
    /// Header length in bytes as the header claims it (may exceed what was captured).
    pub fn header_len(&self) -> usize {
        ((self.b()[tcp_field::DATA_OFFSET] >> 4) as usize) * 4
    }
    pub fn window(&self) -> Option<u16> {
        (self.b().len() >= tcp_field::WINDOW.end).then(|| be16(self.b(), tcp_field::WINDOW))
    }
    /// True when the whole header (with options) was captured.
    pub fn header_complete(&self) -> bool {
        self.header_len() >= tcp_field::HEADER_MIN && self.b().len() >= self.header_len()
    }

    /// Options that lie within the captured bytes; a cut option ends the walk.
    pub fn options(&self) -> TcpOptions {
        let mut out = TcpOptions::default();
        let end = self.header_len().min(self.b().len());
        if end <= tcp_field::HEADER_MIN {
            return out;
        }
        let mut o = &self.b()[tcp_field::HEADER_MIN..end];
        while let Some(&kind) = o.first() {
            match kind {
                0 => break,
                1 => {
                    o = &o[1..];
                    continue;
                }
                _ => {}
            }
            let Some(&len) = o.get(1) else { break };
            let len = len as usize;
            if len < 2 {
                break;
            }
            let body = &o[2..len.min(o.len())];
            match (kind, len) {
                (2, 4) if body.len() == 2 => out.mss = Some(u16::from_be_bytes([body[0], body[1]])),
                (3, 3) if body.len() == 1 => out.window_scale = Some(body[0]),
                (4, 2) => out.sack_permitted = true,
                (8, 10) if body.len() >= 4 => {
                    let tsval = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                    let tsecr = (body.len() >= 8)
                        .then(|| u32::from_be_bytes([body[4], body[5], body[6], body[7]]));
                    out.timestamp = Some((tsval, tsecr));
                }
                _ => {}
            }
            if len > o.len() {
                break;
            }
            o = &o[len..];
        }
        out
    }

    /// Captured payload bytes (may be fewer than were sent).
    pub fn captured_payload(&self) -> &[u8] {
        let hl = self.header_len().max(tcp_field::HEADER_MIN);
        self.b().get(hl..).unwrap_or(&[])
    }
}

mod udp_field {
    pub const SRC_PORT: std::ops::Range<usize> = 0..2;
    pub const DST_PORT: std::ops::Range<usize> = 2..4;
    pub const LENGTH: std::ops::Range<usize> = 4..6;
    pub const HEADER: usize = 8;
}

/// A UDP header; ports suffice, the rest may be cut.
pub struct UdpView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpView<T> {
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= udp_field::DST_PORT.end).then_some(UdpView { buffer })
    }
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), udp_field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), udp_field::DST_PORT)
    }
    /// Length field (header included), when captured.
    pub fn length(&self) -> Option<u16> {
        let b = self.buffer.as_ref();
        (b.len() >= udp_field::LENGTH.end).then(|| be16(b, udp_field::LENGTH))
    }
    pub fn captured_payload(&self) -> &[u8] {
        self.buffer.as_ref().get(udp_field::HEADER..).unwrap_or(&[])
    }
}

mod icmp_field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    /// Type, code, checksum and 4 type-specific bytes.
    pub const BODY: usize = 8;
}

pub struct IcmpView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpView<T> {
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() > icmp_field::CODE).then_some(IcmpView { buffer })
    }
    pub fn icmp_type(&self) -> u8 {
        self.buffer.as_ref()[icmp_field::TYPE]
    }
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[icmp_field::CODE]
    }
    /// For errors: the quoted offending packet.
    pub fn body(&self) -> &[u8] {
        self.buffer.as_ref().get(icmp_field::BODY..).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_tcp_header_still_gives_ports_seq_and_flags() {
        // SYN from 38107 to 113, seq 211996004, cut after 16 bytes.
        let mut h = [0u8; 16];
        h[0..2].copy_from_slice(&38107u16.to_be_bytes());
        h[2..4].copy_from_slice(&113u16.to_be_bytes());
        h[4..8].copy_from_slice(&211_996_004u32.to_be_bytes());
        h[12] = 10 << 4;
        h[13] = TcpFlags::SYN;
        h[14..16].copy_from_slice(&5840u16.to_be_bytes());
        let v = TcpView::new_checked(&h[..]).unwrap();
        assert_eq!((v.src_port(), v.dst_port()), (38107, 113));
        assert_eq!(v.seq(), SeqNumber(211_996_004));
        assert!(v.flags().syn());
        assert_eq!(v.window(), Some(5840));
        assert!(!v.header_complete());
        assert_eq!(v.options(), TcpOptions::default());
    }

    #[test]
    fn options_walk_stops_at_a_lying_length() {
        let mut h = vec![0u8; 20];
        h[12] = 8 << 4;
        h.extend_from_slice(&[2, 4, 5, 0xb4, 8, 200, 0, 0, 0, 0, 0, 0]);
        let v = TcpView::new_checked(&h[..]).unwrap();
        let o = v.options();
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.timestamp, None);
    }
}
