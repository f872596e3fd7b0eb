//! A conversation's key (its two ends, unordered, with protocol and VLAN)
//! and its idle deadline in the expiry heap.

use super::*;

#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub(super) proto: u8,
    /// The VLAN ids: one connection replayed on two VLANs (a QinQ mirror)
    /// is two conversations, as in Zeek's key.
    pub(super) vlan: u32,
    pub(super) lo: Endpoint,
    pub(super) hi: Endpoint,
}

impl Key {
    /// The key of a packet's conversation, each host cloned once.
    pub(super) fn between(proto: u8, p: &Packet, src_port: u16, dst_port: u16) -> Key {
        let src_first = (&p.src, src_port) <= (&p.dst, dst_port);
        let (a, b) = if src_first {
            ((&p.src, src_port), (&p.dst, dst_port))
        } else {
            ((&p.dst, dst_port), (&p.src, src_port))
        };
        Key {
            proto,
            vlan: p.vlan,
            lo: Endpoint::new(a.0.clone(), a.1),
            hi: Endpoint::new(b.0.clone(), b.1),
        }
    }

    /// The packet's source and destination, borrowed from the key.
    pub(super) fn ends(&self, p: &Packet, src_port: u16) -> (&Endpoint, &Endpoint) {
        if self.lo.port == src_port && self.lo.host == p.src {
            (&self.lo, &self.hi)
        } else {
            (&self.hi, &self.lo)
        }
    }

    pub(super) fn new(proto: u8, vlan: u32, a: &Endpoint, b: &Endpoint) -> Key {
        if a <= b {
            Key {
                proto,
                vlan,
                lo: a.clone(),
                hi: b.clone(),
            }
        } else {
            Key {
                proto,
                vlan,
                lo: b.clone(),
                hi: a.clone(),
            }
        }
    }
}

/// A conversation's idle deadline; the heap's top is the earliest.
#[derive(Clone)]
pub(super) struct Due {
    pub(super) at: Timestamp,
    pub(super) generation: u64,
    pub(super) key: Key,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.generation) == (other.at, other.generation)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    /// Reversed: `BinaryHeap` is a max-heap.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.generation).cmp(&(self.at, self.generation))
    }
}
