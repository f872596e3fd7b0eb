//! Link-layer framing that etherparse does not cover: BSD null/loopback and
//! Linux cooked capture v2. Zero-copy views in the smoltcp manner:
//! `new_checked` validates the length once, accessors then cannot fail.

/// A pcap/pcapng link-layer header type (tcpdump.org/linktypes.html).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// DLT_RAW as OpenBSD and old libpcap numbered it.
    pub const RAW_12: LinkType = LinkType(12);
    pub const RAW_14: LinkType = LinkType(14);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    pub fn name(self) -> &'static str {
        match self {
            LinkType::NULL => "BSD null",
            LinkType::ETHERNET => "Ethernet",
            LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 => "raw IP",
            LinkType::LOOP => "OpenBSD loopback",
            LinkType::LINUX_SLL => "Linux cooked (SLL)",
            LinkType::LINUX_SLL2 => "Linux cooked v2 (SLL2)",
            LinkType::IPV4 => "raw IPv4",
            LinkType::IPV6 => "raw IPv6",
            _ => "unknown",
        }
    }
}

/// Why a byte view could not be made.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Truncated {
    pub needed: usize,
    pub got: usize,
}

/// BSD null / OpenBSD loop header: a 4-byte address family. NULL stores it
/// in the capturing host's byte order, LOOP in network order.
pub struct NullFrame<T: AsRef<[u8]>> {
    buffer: T,
}

mod null_field {
    pub const FAMILY: std::ops::Range<usize> = 0..4;
    pub const PAYLOAD: usize = 4;
}

impl<T: AsRef<[u8]>> NullFrame<T> {
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        let got = buffer.as_ref().len();
        if got < null_field::PAYLOAD {
            return Err(Truncated {
                needed: null_field::PAYLOAD,
                got,
            });
        }
        Ok(NullFrame { buffer })
    }

    /// The family value in whichever byte order makes it small: the writer's
    /// order is not recorded, and every family is below 256.
    pub fn family(&self) -> u32 {
        let b: [u8; 4] = self.buffer.as_ref()[null_field::FAMILY]
            .try_into()
            .unwrap_or([0; 4]);
        let le = u32::from_le_bytes(b);
        let be = u32::from_be_bytes(b);
        le.min(be)
    }

    /// True for AF_INET6 as the BSDs and macOS number it (24, 28, 30).
    pub fn is_ipv6(&self) -> bool {
        matches!(self.family(), 24 | 28 | 30)
    }

    pub fn is_ipv4(&self) -> bool {
        self.family() == 2
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[null_field::PAYLOAD..]
    }
}

/// Linux cooked capture v2 (20 bytes): protocol type first, then interface
/// index, ARPHRD type, packet type, address length and 8 address bytes.
pub struct Sll2Frame<T: AsRef<[u8]>> {
    buffer: T,
}

mod sll2_field {
    pub const PROTOCOL: std::ops::Range<usize> = 0..2;
    pub const IFINDEX: std::ops::Range<usize> = 4..8;
    pub const PACKET_TYPE: usize = 10;
    pub const PAYLOAD: usize = 20;
}

impl<T: AsRef<[u8]>> Sll2Frame<T> {
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        let got = buffer.as_ref().len();
        if got < sll2_field::PAYLOAD {
            return Err(Truncated {
                needed: sll2_field::PAYLOAD,
                got,
            });
        }
        Ok(Sll2Frame { buffer })
    }

    pub fn protocol(&self) -> u16 {
        let b = &self.buffer.as_ref()[sll2_field::PROTOCOL];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn interface_index(&self) -> u32 {
        let b = &self.buffer.as_ref()[sll2_field::IFINDEX];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// 0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 outgoing.
    pub fn packet_type(&self) -> u8 {
        self.buffer.as_ref()[sll2_field::PACKET_TYPE]
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[sll2_field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_family_in_either_byte_order() {
        let le = NullFrame::new_checked([2u8, 0, 0, 0, 0x45]).unwrap();
        let be = NullFrame::new_checked([0u8, 0, 0, 30, 0x60]).unwrap();
        assert!(le.is_ipv4());
        assert!(be.is_ipv6());
        assert_eq!(le.payload(), &[0x45]);
    }

    #[test]
    fn short_buffers_are_refused() {
        assert_eq!(
            Sll2Frame::new_checked([0u8; 19]).err(),
            Some(Truncated {
                needed: 20,
                got: 19
            })
        );
    }
}
