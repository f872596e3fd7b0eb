//! # stalltrace-matching
//!
//! The stage between conversations and diagnosis (capture → decode →
//! conversations → **matching** → diagnosis → report): the same TCP
//! connection seen at several capture points is recognised by its initial
//! sequence numbers, which NAT devices keep (the seed's firewall did), so
//! it is found through address and port rewriting alike; through devices
//! that rewrite sequence numbers, by its SYN's TCP timestamp or its first
//! payload with its IPv4 ID; a UDP exchange by its first datagram. From
//! the matches:
//!
//! - every NAT mapping (inside 192.168.1.200:1523 ↔ outside
//!   218.104.68.171:42390), with its evidence;
//! - each point's clock offset (and drift) against a reference point,
//!   estimated NTP-style from the handshake seen in both directions;
//! - the order of the points along the path, client side first.
//!
//! It streams: a group is forgotten `retain` after its last member, and its
//! facts are folded into running totals before.
//!
//! ```
//! use stalltrace_matching::Matcher;
//! let m = Matcher::new(Default::default());
//! let points = stalltrace_conversations::Points::new(vec!["outside".into(), "inside".into()]);
//! let r = m.finish(&points);
//! assert!(r.mappings.is_empty() && r.offsets.is_empty());
//! ```

mod clocks;
mod keys;
mod matcher;
mod nat;
mod packets;
mod path;

pub use clocks::ClockOffset;
pub use keys::MatchEvidence;
pub use matcher::*;
pub use nat::{NatKind, NatMapping};
pub use packets::{match_packets, same_connection};
