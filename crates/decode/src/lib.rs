//! # stalltrace-decode
//!
//! The second stage of stalltrace's pipeline (capture → **decode** →
//! conversations → matching → diagnosis → report): turns captured frames into small,
//! owned [`Packet`]s, and defines the vocabulary every later stage shares:
//! [`Timestamp`] and [`TimeDelta`], [`SeqNumber`] with wrap-around compare,
//! [`Host`] (addresses, or names and masked addresses from printed
//! captures) and [`Endpoint`].
//!
//! Link layers: Ethernet with 802.1Q/QinQ, Linux cooked SLL and SLL2, raw
//! IPv4/IPv6, BSD null and OpenBSD loop. Network and transport: IPv4, IPv6,
//! TCP (MSS, window scale, SACK-permitted, timestamps), UDP, ICMP and
//! ICMPv6 with the header their errors quote; DNS over UDP and TCP
//! ([`DnsMessage`]). A frame cut by snaplen still
//! yields every field it holds, flagged [`Packet::truncated`].
//!
//! ```
//! use stalltrace_decode::{decode_frame, FrameMeta, LinkType, Skip};
//! // An ARP frame is counted as skipped, not decoded as IP.
//! let mut arp = vec![0xff; 12];
//! arp.extend_from_slice(&[0x08, 0x06]);
//! arp.extend_from_slice(&[0; 28]);
//! assert_eq!(
//!     decode_frame(LinkType::ETHERNET, &arp, FrameMeta::default()).unwrap_err(),
//!     Skip::NotIp { ether_type: 0x0806 }
//! );
//! ```

pub mod dns;
pub mod encap;
mod frame;
mod host;
mod lang;
pub mod link;
mod packet;
mod seq;
pub mod tcpdump;
mod time;
pub mod transport;

pub use dns::{DnsAnswer, DnsMessage, DnsQuestion};
pub use encap::{Tunnel, TunnelKind};
pub use frame::{decode_frame, decode_frame_general, Skip};
pub use host::{Endpoint, Host};
pub use lang::Lang;
pub use link::LinkType;
pub use packet::*;
pub use seq::SeqNumber;
pub use time::{TimeDelta, Timestamp};
