//! Nagle's algorithm meeting a delayed ACK (RFC 896, RFC 1122 §4.2.3.2):
//! a side sends a small segment, has a second small one ready, and holds
//! it until the first is acknowledged; the peer, with nothing to send
//! back yet, delays its ACK (about 40 ms on Linux, 200 ms on Windows, up
//! to 500 ms); the held segment leaves microseconds after that ACK. Each
//! such pair costs the delayed ACK's wait.
//!
//! Live state per side: its last small unacknowledged segment, and the
//! peer's ACK that covered it.

use serde::Serialize;
use stalltrace_decode::{SeqNumber, TimeDelta};

use super::Seg;
use crate::model::PacketRef;

/// Delays kept.
const KEPT: usize = 16;
/// A delayed ACK takes at least this long (Linux's is 40 ms, from a 25 ms
/// floor), and at most RFC 1122's 500 ms.
const DELACK_MIN: TimeDelta = TimeDelta::from_millis(25);
const DELACK_MAX: TimeDelta = TimeDelta::from_millis(600);
/// The held segment follows the ACK at once: within this, at this point.
const RELEASE: TimeDelta = TimeDelta::from_millis(3);

/// A side's small segments held for the peer's delayed ACK.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Nagle {
    pub events: u32,
    /// The delayed ACKs' waits, added up.
    pub total: TimeDelta,
    /// Each wait (the first ones).
    pub delays: Vec<TimeDelta>,
    /// The first time it happened: the small segment, the peer's ACK, the
    /// segment released by it.
    pub first: [PacketRef; 3],
}

#[derive(Clone, Default)]
pub(super) struct Live {
    /// The last small segment sent, not yet acknowledged: (packet, end).
    small: Option<(PacketRef, SeqNumber)>,
    /// The peer's pure ACK that covered it, and how long it took.
    released_by: Option<(PacketRef, PacketRef, TimeDelta)>,
}

impl Live {
    /// A segment this side sent.
    #[inline]
    pub(super) fn sent(&mut self, s: &Seg, small_below: u32, sum: &mut Option<Box<Nagle>>) {
        let (Some(seq), true) = (s.seq, s.len > 0) else {
            return;
        };
        if s.retransmitted {
            self.small = None;
            self.released_by = None;
            return;
        }
        let small = s.len < small_below;
        if let Some((held, ack, delay)) = self.released_by.take() {
            if small && s.at.ts - ack.ts <= RELEASE && (DELACK_MIN..=DELACK_MAX).contains(&delay) {
                let n = sum.get_or_insert_with(|| {
                    Box::new(Nagle {
                        events: 0,
                        total: TimeDelta::ZERO,
                        delays: Vec::new(),
                        first: [held, ack, s.at],
                    })
                });
                n.events += 1;
                n.total = n.total + delay;
                if n.delays.len() < KEPT {
                    n.delays.push(delay);
                }
            }
        }
        self.small = small.then(|| (s.at, seq.wrapping_add(s.len)));
    }

    /// A segment from the peer acknowledging this side's data.
    #[inline]
    pub(super) fn acked(&mut self, s: &Seg) {
        // Only a bare ACK: an answer carrying data is a turn of dialogue,
        // and what this side sends next answers it, whatever an earlier
        // ACK was (an S7 PLC's ACK, then its reply, then the client's next
        // piece: the piece answers the reply, Nagle held nothing).
        if s.len > 0 {
            self.small = None;
            self.released_by = None;
            return;
        }
        let (Some(ack), Some((held, end))) = (s.ack, self.small) else {
            return;
        };
        if ack >= end {
            self.released_by = Some((held, s.at, s.at.ts - held.ts));
            self.small = None;
        }
    }
}
