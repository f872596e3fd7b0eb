//! # stalltrace-conversations
//!
//! The third stage of stalltrace's pipeline (capture → decode →
//! **conversations** → matching → diagnosis → report). A [`Tracker`] takes one capture
//! point's packets in order and rebuilds every TCP conversation and UDP
//! exchange: who opened it, the SYN and SYN-ACK transmissions with their
//! times, the handshake's end, the first payload from each side, the
//! longest pauses before a side answered, retransmissions, RST and FIN and
//! who sent them, and ICMP errors about it.
//!
//! It streams: a conversation is summarised and handed out when it ends
//! (FIN, RST, idle timeout), so memory follows the number of live
//! conversations, never the size of the capture.
//!
//! ## One partitioning of the work
//!
//! A point's packets can be tracked in parts that need nothing from each
//! other: [`partition`] puts a packet with its two hosts, unordered (an
//! ICMP error with the hosts of the packet it quotes), so a conversation,
//! its ICMP errors and any callback between its two hosts (ident) are in
//! one part. A part is a [`Tracker::part`], fed with the point's
//! [`Clock`] (the time the point as a whole has reached: a conversation
//! goes idle at the same moment in a part as in one tracker) and moved to
//! it ([`Tracker::advance_to`]) whenever its caller hands conversations on.
//!
//! Facts that cross parts, and how they are joined: they are all about one
//! host across its conversations with others, kept by a [`HostLedger`]
//! (one per point) from the [`HostEvent`]s every part reports (a
//! conversation began, its server answered, its client resent its SYN,
//! its server sent its first SYN-ACK, it ended), sorted by
//! [`HostEvent::order`]:
//!
//! - a conversation its server opened while serving others (a callback:
//!   ident to the client, a DNS lookup to a resolver, a third host):
//!   `opened_while_serving`, `server_opened_meanwhile`,
//!   `server_lookups_meanwhile`;
//! - SYN-ACKs a server sent others while one client resent its SYN:
//!   `others_answered_meanwhile`;
//! - the conversation's id at its point (the order it began in);
//! - which live conversations a host serves or opened while serving
//!   ([`LiveView`], what the diagnosis asks).
//!
//! The ledger gives each ended conversation its [`HostFacts`]; the result
//! is the very conversations one tracker gives (tests/partition.rs). What
//! a part hands on at a hand-over is a [`PartReport`]: between threads
//! (`analyze --threads N`) as it is, between processes (the Spark job,
//! `spark/`) in CBOR, exact to the nanosecond (tests/part_report.rs). What
//! spans capture points (the same conversation on both sides of a NAT
//! device) is matched after, on finished conversations, by
//! `stalltrace-matching`.
//!
//! ```
//! use stalltrace_capture::{CaptureReader, Record};
//! use stalltrace_conversations::{Tracker, TrackerConfig, Side};
//! let text = "\
//! 13:05:08.533163 218.104.68.171.42390 > 220.xxx.160.xxx.110: S 950786859:950786859(0) win 16384
//! 13:05:08.721807 220.xxx.160.xxx.110 > 218.104.68.171.42390: S 211290961:211290961(0) ack 950786860 win 5840
//! 13:05:08.722475 218.104.68.171.42390 > 220.xxx.160.xxx.110: . ack 1 win 17520
//! 13:05:43.068169 220.xxx.160.xxx.110 > 218.104.68.171.42390: P 1:49(48) ack 1 win 5840 (DF)
//! ";
//! let mut r = CaptureReader::from_reader("seed", Box::new(text.as_bytes())).unwrap();
//! let mut t = Tracker::new(0, TrackerConfig::default());
//! while let Some(Record::Packet(p)) = r.next().unwrap() {
//!     t.observe(&p);
//! }
//! let c = &t.finish()[0];
//! let greeting = c.first_payload[Side::Server.index()].unwrap();
//! assert_eq!(greeting.len, 48);
//! assert_eq!(c.established().unwrap().number, 3);
//! ```

pub mod dns;
mod feedback;
pub mod ledger;
mod model;
mod part;
mod points;
pub mod signals;
mod tracker;

pub use dns::{DnsLog, DnsQuery};
pub use feedback::{LiveView, SpareLog};
pub use ledger::{HostEvent, HostFacts, HostLedger};
pub use model::*;
pub use part::PartReport;
pub use points::Points;
pub use signals::Signals;
pub use tracker::{partition, Clock, Tracker, TrackerConfig, TrackerStats};
