//! What one part of the work hands the joining side at a hand-over: the
//! interface between the parts that track packets (threads of `analyze
//! --threads N`, or tasks of a distributed job) and the side that joins
//! them (host ledgers, matching, diagnosis).
//!
//! It crosses processes in the distributed job, so it is
//! (de)serializable; in a binary form (CBOR) its times stay exact to the
//! nanosecond (see `Timestamp`'s serialization).

use serde::{Deserialize, Serialize};

use crate::{Conversation, HostEvent, TrackerStats};

/// One part's findings in one batch of the stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartReport {
    /// The moments the hosts' facts depend on, with their point.
    pub events: Vec<(u32, HostEvent)>,
    /// Conversations that ended, with their provisional ids.
    #[serde(with = "whole")]
    pub done: Vec<Conversation>,
    /// Stats of the points whose input ended.
    pub ended: Vec<(u32, TrackerStats)>,
}

impl PartReport {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.done.is_empty() && self.ended.is_empty()
    }
}

/// Conversations whole: with the fields a report leaves out (the opener's
/// TCP options, the first payload bytes), which the diagnosis reads.
mod whole {
    use super::*;
    use stalltrace_decode::{PayloadHead, TcpOptions};

    type Whole = (Conversation, TcpOptions, [PayloadHead; 2]);

    pub fn serialize<S: serde::Serializer>(v: &[Conversation], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|c| (c, &c.syn_options, &c.first_head)))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Conversation>, D::Error> {
        let v: Vec<Whole> = Vec::deserialize(d)?;
        Ok(v.into_iter()
            .map(|(mut c, options, head)| {
                c.syn_options = options;
                c.first_head = head;
                c
            })
            .collect())
    }
}
