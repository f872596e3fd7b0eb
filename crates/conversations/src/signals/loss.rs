//! Data a side sent again before the peer acknowledged it: when the first
//! copy left, every copy after it, the peer's ACK that finally covered it
//! (or none), and the duplicate ACKs meanwhile (none: the sender waited
//! for its retransmission timer, not a fast retransmit). The time from
//! the first copy to the copy that got through is network time.
//!
//! Live state per side: the last four data segments sent (to find the
//! first copy of what is sent again) and the episode under way.

use serde::Serialize;
use stalltrace_decode::{SeqNumber, TimeDelta};

use super::Seg;
use crate::model::PacketRef;

/// Copies kept, the first included.
const COPIES: usize = 8;
/// Recent segments remembered per side.
const RING: usize = 4;
/// Segments resent this close after the first one's copy went out in the
/// same timer round (back to back); later, the peer's ACKs drove them
/// (SACK recovery), and each is an episode of its own.
const ROUND: TimeDelta = TimeDelta::from_millis(5);

/// One segment sent more than once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct LossEpisode {
    /// The first copy (the retransmission itself when the first copy was
    /// sent too long before to be remembered).
    pub first: PacketRef,
    pub last_copy: PacketRef,
    /// All copies, the first included.
    pub copies: u32,
    /// The first copies (up to eight), the first included.
    pub sent: Vec<PacketRef>,
    /// Bytes of the segment.
    pub len: u32,
    /// The peer's ACK that covered it, if any came.
    pub acked: Option<PacketRef>,
    /// Duplicate ACKs the peer sent meanwhile.
    pub dupacks: u32,
    /// Nothing was sent after its first copy: the last segment of a burst.
    pub tail: bool,
}

impl LossEpisode {
    /// The time lost: from the first copy to the last.
    pub fn lost(&self) -> TimeDelta {
        self.last_copy.ts - self.first.ts
    }

    /// Time between one copy and the next, for the copies kept.
    pub fn gaps(&self) -> Vec<TimeDelta> {
        self.sent.windows(2).map(|w| w[1].ts - w[0].ts).collect()
    }
}

/// A side's data sent again, summed up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Loss {
    pub episodes: u32,
    /// Time lost in all.
    pub total: TimeDelta,
    /// The episode that lost the most time (an acknowledged one).
    pub worst: Option<LossEpisode>,
    /// An episode still unacknowledged when the conversation ended.
    pub unacked: Option<LossEpisode>,
    /// The largest segment of this side the peer acknowledged.
    pub largest_acked: u32,
}

/// A segment sent, in 24 bytes: the ring is touched on every packet, so
/// it is kept to a cache line (packet number 0: an empty slot).
#[derive(Clone, Copy, Default)]
struct Sent {
    start: SeqNumber,
    len: u32,
    number: u64,
    ts: stalltrace_decode::Timestamp,
}

impl Sent {
    fn at(&self) -> Option<PacketRef> {
        (self.number != 0).then_some(PacketRef {
            number: self.number,
            ts: self.ts,
        })
    }

    fn end(&self) -> SeqNumber {
        self.start.wrapping_add(self.len)
    }
}

#[derive(Clone, Default)]
pub(super) struct Live {
    ring: [Sent; RING],
    next: u32,
    /// The episode under way: boxed, as it is rare.
    open: Option<Box<(SeqNumber, SeqNumber, LossEpisode)>>,
    largest_acked: u32,
    /// The longest segment ever put in the ring: no entry is longer.
    ring_longest: u32,
    /// The peer's highest acknowledgment so far.
    acked_to: Option<SeqNumber>,
    /// Where the segments resent in the open episode's round end: a
    /// timeout resends the first lost segment and those after it, round
    /// after round; they belong to the first one's episode.
    round_end: Option<SeqNumber>,
}

fn summary(sum: &mut Option<Box<Loss>>) -> &mut Loss {
    sum.get_or_insert_with(|| {
        Box::new(Loss {
            episodes: 0,
            total: TimeDelta::ZERO,
            worst: None,
            unacked: None,
            largest_acked: 0,
        })
    })
}

impl Live {
    #[inline]
    pub(super) fn sent(&mut self, s: &Seg, sum: &mut Option<Box<Loss>>) {
        let (Some(seq), true) = (s.seq, s.len > 0) else {
            return;
        };
        let end = seq.wrapping_add(s.len);
        if !s.retransmitted {
            self.ring_longest = self.ring_longest.max(s.len);
            self.ring[self.next as usize % RING] = Sent {
                start: seq,
                len: s.len,
                number: s.at.number.max(1),
                ts: s.at.ts,
            };
            self.next = self.next.wrapping_add(1);
            return;
        }
        // Sent again although the peer had acknowledged it: a spurious
        // resend (its ACK was late or lost), which cost nobody a wait.
        if self.acked_to.is_some_and(|a| end <= a) {
            return;
        }
        match self.open.as_deref_mut() {
            Some((start, _, e)) if *start == seq => {
                e.copies += 1;
                if e.sent.len() < COPIES {
                    e.sent.push(s.at);
                }
                e.last_copy = s.at;
                self.round_end = Some(end);
            }
            // The next segment of the same round (Zeek's
            // http/206_example_b.pcap: two segments resent together on
            // every timeout for 65 s, then RST): not a new episode.
            Some((_, first_end, e))
                if self.round_end.unwrap_or(*first_end) == seq
                    && s.at.ts - e.last_copy.ts <= ROUND =>
            {
                self.round_end = Some(end);
            }
            _ => {
                self.round_end = Some(end);
                // Another segment sent again: the one before is done with,
                // acknowledged or not (a later ACK tells, and is missed).
                if let Some(o) = self.open.take() {
                    close(sum, o.2, None);
                }
                let newest = (self.next as usize + RING - 1) % RING;
                let original = self
                    .ring
                    .iter()
                    .enumerate()
                    .find(|(_, r)| r.number != 0 && r.start == seq);
                let (first, tail) = match original {
                    Some((i, r)) => (r.at().expect("checked"), i == newest && self.next > 0),
                    None => (s.at, false),
                };
                let copies = if original.is_some() { 2 } else { 1 };
                self.open = Some(Box::new((
                    seq,
                    end,
                    LossEpisode {
                        first,
                        last_copy: s.at,
                        copies,
                        sent: if copies == 2 {
                            vec![first, s.at]
                        } else {
                            vec![s.at]
                        },
                        len: s.len,
                        acked: None,
                        dupacks: 0,
                        tail,
                    },
                )));
            }
        }
    }

    /// Segments in the ring the peer's `ack` covers may be the largest
    /// acknowledged yet.
    fn note_acked(&mut self, ack: SeqNumber, sum: &mut Option<Box<Loss>>) {
        for r in &self.ring {
            if r.number != 0 && r.len > self.largest_acked && r.end() <= ack {
                self.largest_acked = r.len;
                if let Some(l) = sum.as_mut() {
                    l.largest_acked = r.len;
                }
            }
        }
    }

    /// The peer acknowledged up to `s.ack`.
    #[inline]
    pub(super) fn acked(&mut self, s: &Seg, sum: &mut Option<Box<Loss>>) {
        let Some(ack) = s.ack else {
            return;
        };
        // Only an ACK that moves on acknowledges anything new.
        if self.acked_to.is_some_and(|a| ack <= a) && self.open.is_none() {
            return;
        }
        if self.acked_to.is_none_or(|a| ack > a) {
            self.acked_to = Some(ack);
        }
        // Only segments longer than the largest acknowledged can change it
        // (in a steady transfer none, once a full-size one got through).
        if self.ring_longest > self.largest_acked {
            self.note_acked(ack, sum);
        }
        let Some((start, end, e)) = self.open.as_deref_mut() else {
            return;
        };
        if ack >= *end {
            let (_, _, e) = *self.open.take().expect("open");
            let largest = self.largest_acked;
            close(sum, e, Some(s.at));
            summary(sum).largest_acked = largest;
        } else if ack == *start && s.len == 0 && !s.flags.fin() && !s.flags.rst() {
            e.dupacks += 1;
        }
    }

    pub(super) fn finish(&mut self, sum: &mut Option<Box<Loss>>) {
        if let Some(o) = self.open.take() {
            let (_, _, e) = *o;
            let largest = self.largest_acked;
            let l = summary(sum);
            l.largest_acked = largest;
            l.unacked = Some(e);
        }
    }
}

fn close(sum: &mut Option<Box<Loss>>, mut e: LossEpisode, acked: Option<PacketRef>) {
    e.acked = acked;
    let l = summary(sum);
    l.episodes += 1;
    l.total = l.total + e.lost();
    if l.worst.as_ref().is_none_or(|w| e.lost() > w.lost()) {
        l.worst = Some(e);
    }
}
