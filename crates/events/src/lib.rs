//! # stalltrace-events
//!
//! Packet events: every decoded packet of a capture as one row of Parquet,
//! with what a stall diagnosis needs and what a flow log lacks (packet
//! timing, sequence and acknowledgment numbers, IP IDs and TTLs, TCP
//! options, the first bytes of a banner, decoded DNS fields) and where the
//! packet is in its capture (file, byte offset, number). Written by
//! `stalltrace extract`, read back as packets by `stalltrace analyze DIR`
//! with the same findings as from the captures, and read as they are by
//! Spark, DuckDB or DataFusion.
//!
//! Layout: `DIR/point=NAME/hour=YYYY-MM-DDTHH/part-N.parquet` (Hive-style
//! partitions, UTC hours), zstd-compressed, and `DIR/_stalltrace-events.json`
//! naming the points. A payload keeps 64 bytes where it is the first of its
//! flow's direction (a banner, a request line) and 8 elsewhere (a reply
//! code): all the diagnosis reads of payloads.
//!
//! ```
//! use stalltrace_events::{Extractor, PointEvents};
//! use stalltrace_capture::PacketSource;
//! let text = "\
//! 13:05:08.533163 IP 198.51.100.7.42390 > 192.0.2.25.110: Flags [S], seq 9, win 16384, length 0
//! 13:05:08.721807 IP 192.0.2.25.110 > 198.51.100.7.42390: Flags [S.], seq 2, ack 10, win 5840, length 0
//! ";
//! let dir = tempfile::tempdir().unwrap();
//! let out = dir.path().join("events");
//! let mut x = Extractor::create(&out).unwrap();
//! let point = x.add_point("outside", "seed.txt", None);
//! let packets = stalltrace_testkit::packets_from_text(text);
//! for p in &packets {
//!     x.packet(point, p, false).unwrap();
//! }
//! let manifest = x.finish().unwrap();
//! assert_eq!(manifest.points[0].packets, 2);
//! let mut back = PointEvents::open(&out.join("point=outside"), "outside").unwrap();
//! let first = back.next_packet(&mut Vec::new()).unwrap().unwrap();
//! assert_eq!(first, packets[0]);
//! ```

mod foreign;
mod layout;
mod read;
mod schema;
mod write;

use std::path::PathBuf;

pub use foreign::{conform, ipc_batches, packet, ForeignError};
pub use layout::{
    escape, hour_name, hour_of, is_events_dir, point_dir, Manifest, PointEntry, MANIFEST,
};
pub use read::PointEvents;
pub use schema::{schema, EVENTS_VERSION};
pub use write::Extractor;

/// What can go wrong writing events.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parquet(PathBuf, parquet::errors::ParquetError),
    #[error("{0}: not empty; packet events go into a new folder")]
    NotEmpty(PathBuf),
}
