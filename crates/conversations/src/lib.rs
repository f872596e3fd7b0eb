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
mod model;
mod points;
pub mod signals;
mod tracker;

pub use dns::{DnsLog, DnsQuery};
pub use feedback::{LiveView, SpareLog};
pub use model::*;
pub use points::Points;
pub use signals::Signals;
pub use tracker::{Tracker, TrackerConfig, TrackerStats};
