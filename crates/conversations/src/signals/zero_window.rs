//! A receiver that advertised a window of zero: its application stopped
//! reading, and the sender waits, sending zero-window probes that back
//! off, until the window opens again (RFC 9293 §3.8.6.1). The time is the
//! receiving application's, not the network's.

use serde::Serialize;
use stalltrace_decode::TimeDelta;

use super::Seg;
use crate::model::PacketRef;

/// Probes kept.
const KEPT: usize = 8;

/// One stretch of a closed window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ZeroWindowEpisode {
    /// The first packet that advertised zero.
    pub since: PacketRef,
    /// The packet that opened the window again, if it came.
    pub until: Option<PacketRef>,
    /// Segments of at most one byte the peer sent meanwhile.
    pub probes: u32,
    /// The first probes (up to eight).
    pub probes_at: Vec<PacketRef>,
}

impl ZeroWindowEpisode {
    /// How long the window stayed shut (to the end of the capture when it
    /// never opened: `last` is the conversation's last packet).
    pub fn lasted(&self, last: PacketRef) -> TimeDelta {
        self.until.unwrap_or(last).ts - self.since.ts
    }

    /// Time between one probe and the next, for the probes kept.
    pub fn probe_gaps(&self) -> Vec<TimeDelta> {
        self.probes_at
            .windows(2)
            .map(|w| w[1].ts - w[0].ts)
            .collect()
    }
}

/// A side's closed windows, summed up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ZeroWindow {
    pub episodes: u32,
    /// Time shut in all (episodes that opened again).
    pub total: TimeDelta,
    /// The longest episode.
    pub worst: ZeroWindowEpisode,
}

#[derive(Clone, Default)]
pub(super) struct Live {
    /// Boxed: rare, and the live state is touched on every packet.
    open: Option<Box<ZeroWindowEpisode>>,
}

impl Live {
    /// A segment from the side this state is about.
    #[inline]
    pub(super) fn advertised(&mut self, s: &Seg, sum: &mut Option<Box<ZeroWindow>>) {
        if s.flags.rst() || s.flags.fin() {
            return;
        }
        match (s.window, &mut self.open) {
            (Some(0), None) => {
                self.open = Some(Box::new(ZeroWindowEpisode {
                    since: s.at,
                    until: None,
                    probes: 0,
                    probes_at: Vec::new(),
                }));
            }
            (Some(w), Some(_)) if w > 0 => {
                let mut e = *self.open.take().expect("open");
                e.until = Some(s.at);
                close(sum, e);
            }
            _ => {}
        }
    }

    /// A segment from the other side, while this side's window is shut.
    #[inline]
    pub(super) fn peer_sent(&mut self, s: &Seg) {
        let Some(e) = &mut self.open else {
            return;
        };
        if s.len <= 1 && !s.flags.rst() && !s.flags.fin() {
            e.probes += 1;
            if e.probes_at.len() < KEPT {
                e.probes_at.push(s.at);
            }
        }
    }

    pub(super) fn finish(&mut self, sum: &mut Option<Box<ZeroWindow>>) {
        if let Some(e) = self.open.take() {
            close(sum, *e);
        }
    }
}

fn close(sum: &mut Option<Box<ZeroWindow>>, e: ZeroWindowEpisode) {
    let lasted = e
        .until
        .map(|u| u.ts - e.since.ts)
        .unwrap_or(TimeDelta::ZERO);
    match sum {
        Some(z) => {
            z.episodes += 1;
            z.total = z.total + lasted;
            let worst = z
                .worst
                .until
                .map(|u| u.ts - z.worst.since.ts)
                .unwrap_or(TimeDelta::ZERO);
            if lasted > worst || (e.until.is_none() && z.worst.until.is_some()) {
                z.worst = e;
            }
        }
        None => {
            *sum = Some(Box::new(ZeroWindow {
                episodes: 1,
                total: lasted,
                worst: e,
            }))
        }
    }
}
