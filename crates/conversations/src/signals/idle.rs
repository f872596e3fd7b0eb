//! A connection that fell silent and what happened when it spoke again:
//! the peer answered (the gap survived), a RST came in the peer's name
//! with a TTL that is not the peer's (a middlebox that had forgotten the
//! connection reset it), or the data was sent again and again into
//! silence. Middleboxes (NAT, firewalls, load balancers) drop an idle
//! connection's state after their own timeout.
//!
//! Live state per conversation: the last packet's time, the longest gap
//! survived, and the gap under judgement.

use serde::Serialize;
use stalltrace_decode::TimeDelta;

use super::Seg;
use crate::model::{PacketRef, Side};

/// A silence this long is judged for what followed it.
const MIN_GAP: TimeDelta = TimeDelta::from_secs(1);

/// What followed the silence.
#[derive(Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum AfterIdle {
    /// A RST in the peer's name with another TTL than the peer's packets.
    ForeignReset {
        rst: PacketRef,
        ttl: u8,
        peer_ttl: u8,
    },
    /// The speaker sent its data again and heard nothing back.
    Silence { copies: u32, last: PacketRef },
}

// Internally tagged ("end": ...) as a report writes it; externally tagged
// in binary forms (the parts of a distributed analysis), since serde reads
// an internally tagged enum through a buffer that takes every form for
// text, and the times in it would come back rounded.
#[derive(Serialize, serde::Deserialize)]
#[serde(tag = "end", rename_all = "snake_case")]
enum PlainAfter {
    ForeignReset {
        rst: PacketRef,
        ttl: u8,
        peer_ttl: u8,
    },
    Silence {
        copies: u32,
        last: PacketRef,
    },
}

#[derive(Serialize, serde::Deserialize)]
enum TaggedAfter {
    ForeignReset {
        rst: PacketRef,
        ttl: u8,
        peer_ttl: u8,
    },
    Silence {
        copies: u32,
        last: PacketRef,
    },
}

impl Serialize for AfterIdle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self.clone(), s.is_human_readable()) {
            (AfterIdle::ForeignReset { rst, ttl, peer_ttl }, true) => {
                PlainAfter::ForeignReset { rst, ttl, peer_ttl }.serialize(s)
            }
            (AfterIdle::Silence { copies, last }, true) => {
                PlainAfter::Silence { copies, last }.serialize(s)
            }
            (AfterIdle::ForeignReset { rst, ttl, peer_ttl }, false) => {
                TaggedAfter::ForeignReset { rst, ttl, peer_ttl }.serialize(s)
            }
            (AfterIdle::Silence { copies, last }, false) => {
                TaggedAfter::Silence { copies, last }.serialize(s)
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for AfterIdle {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(if d.is_human_readable() {
            match PlainAfter::deserialize(d)? {
                PlainAfter::ForeignReset { rst, ttl, peer_ttl } => {
                    AfterIdle::ForeignReset { rst, ttl, peer_ttl }
                }
                PlainAfter::Silence { copies, last } => AfterIdle::Silence { copies, last },
            }
        } else {
            match TaggedAfter::deserialize(d)? {
                TaggedAfter::ForeignReset { rst, ttl, peer_ttl } => {
                    AfterIdle::ForeignReset { rst, ttl, peer_ttl }
                }
                TaggedAfter::Silence { copies, last } => AfterIdle::Silence { copies, last },
            }
        })
    }
}

/// A silence that ended badly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Idle {
    /// The last packet before the silence, and the first after it.
    pub before: PacketRef,
    pub after: PacketRef,
    /// The side that spoke after it.
    pub speaker: Side,
    /// The longest silence before it that the peer answered after.
    pub survived: Option<TimeDelta>,
    pub end: AfterIdle,
}

impl Idle {
    pub fn gap(&self) -> TimeDelta {
        self.after.ts - self.before.ts
    }
}

#[derive(Clone)]
struct Judged {
    before: PacketRef,
    after: PacketRef,
    speaker: Side,
    copies: u32,
    last: PacketRef,
}

#[derive(Clone, Default)]
pub(super) struct Live {
    survived: Option<TimeDelta>,
    /// Boxed: rare, and the live state is touched on every packet.
    judged: Option<Box<Judged>>,
}

impl Live {
    /// A packet after `prev` (the conversation's packet before it, from
    /// either side); `ttl`: its TTL, `ttls`: the TTL of each side's first
    /// packet here.
    #[inline]
    pub(super) fn packet(
        &mut self,
        s: &Seg,
        prev: PacketRef,
        ttl: Option<u8>,
        ttls: [Option<u8>; 2],
        sum: &mut Option<Box<Idle>>,
    ) {
        // The common case: no silence under judgement, none just ended.
        if self.judged.is_none() && s.at.ts - prev.ts < MIN_GAP {
            return;
        }
        if sum.is_some() {
            return;
        }
        let me = s.side.index();
        let at = s.at;
        match self.judged.take() {
            Some(mut j) if s.side == j.speaker => {
                if s.len > 0 {
                    j.copies += u32::from(s.retransmitted);
                    j.last = at;
                }
                self.judged = Some(j);
            }
            Some(j) => {
                let peer_ttl = ttls[me];
                match (s.flags.rst(), ttl, peer_ttl) {
                    (true, Some(t), Some(p)) if t != p => {
                        *sum = Some(Box::new(Idle {
                            before: j.before,
                            after: j.after,
                            speaker: j.speaker,
                            survived: self.survived,
                            end: AfterIdle::ForeignReset {
                                rst: at,
                                ttl: t,
                                peer_ttl: p,
                            },
                        }));
                    }
                    _ => {
                        let gap = j.after.ts - j.before.ts;
                        self.survived = Some(self.survived.map_or(gap, |g| g.max(gap)));
                    }
                }
            }
            None => {
                if !s.flags.rst() {
                    self.judged = Some(Box::new(Judged {
                        before: prev,
                        after: at,
                        speaker: s.side,
                        copies: 1,
                        last: at,
                    }));
                }
            }
        }
    }

    /// The conversation ended: data sent into silence ends the judgement.
    pub(super) fn finish(&mut self, sum: &mut Option<Box<Idle>>) {
        if sum.is_some() {
            return;
        }
        if let Some(j) = self.judged.take() {
            if j.copies >= 3 {
                *sum = Some(Box::new(Idle {
                    before: j.before,
                    after: j.after,
                    speaker: j.speaker,
                    survived: self.survived,
                    end: AfterIdle::Silence {
                        copies: j.copies,
                        last: j.last,
                    },
                }));
            }
        }
    }
}
