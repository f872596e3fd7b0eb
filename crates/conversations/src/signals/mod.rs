//! Per-packet measurements the network rules need, each in its own file
//! and kept small per live conversation: the handshake's round trips at
//! this point (`rtt`), data sent again before it was acknowledged
//! (`loss`), a receiver that closed its window (`zero_window`), small
//! segments held until the peer's delayed ACK (`nagle`), and a silence
//! that ended in a stranger's RST or in no answer (`idle`). Each keeps a few
//! words of live state and hands the conversation a summary, allocated
//! only when there is something to tell.

mod idle;
mod loss;
mod nagle;
mod rtt;
mod zero_window;

pub use idle::{AfterIdle, Idle};
pub use loss::{Loss, LossEpisode};
pub use nagle::Nagle;
pub use rtt::HandshakeRtt;
pub use zero_window::{ZeroWindow, ZeroWindowEpisode};

use serde::Serialize;
use stalltrace_decode::{SeqNumber, TcpFlags};

use crate::model::{PacketRef, Side};

/// What one TCP segment tells the signals.
pub(crate) struct Seg {
    pub at: PacketRef,
    pub side: Side,
    pub seq: Option<SeqNumber>,
    pub ack: Option<SeqNumber>,
    pub len: u32,
    pub flags: TcpFlags,
    pub window: Option<u16>,
    /// Its bytes were all sent before.
    pub retransmitted: bool,
}

/// The signals' summaries, in the conversation. Per side: the side that
/// sent the data (loss, Nagle) or advertised the window (zero window).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Signals {
    pub rtt: HandshakeRtt,
    /// The MSS each side announced: client, server.
    pub mss: [Option<u16>; 2],
    pub loss: [Option<Box<Loss>>; 2],
    pub zero_window: [Option<Box<ZeroWindow>>; 2],
    pub nagle: [Option<Box<Nagle>>; 2],
    /// A silence that ended in a foreign RST or in data sent into silence.
    pub idle: Option<Box<Idle>>,
}

/// The signals' live state.
#[derive(Clone, Default)]
pub(crate) struct LiveSignals {
    loss: [loss::Live; 2],
    zero_window: [zero_window::Live; 2],
    nagle: [nagle::Live; 2],
    idle: idle::Live,
    /// The MSS each side announced in its SYN.
    mss: [Option<u16>; 2],
}

impl LiveSignals {
    /// One TCP segment, `prev` the conversation's packet before it; `ttl`
    /// its TTL, `ttls` the TTL of each side's first packet.
    pub(crate) fn tcp(
        &mut self,
        s: &Seg,
        prev: PacketRef,
        ttl: Option<u8>,
        ttls: [Option<u8>; 2],
        sum: &mut Signals,
    ) {
        let me = s.side.index();
        let peer = s.side.other().index();
        if s.flags.syn() {
            return;
        }
        self.idle.packet(s, prev, ttl, ttls, &mut sum.idle);
        // What this segment sends.
        self.loss[me].sent(s, &mut sum.loss[me]);
        self.nagle[me].sent(s, self.small_below(), &mut sum.nagle[me]);
        self.zero_window[peer].peer_sent(s);
        // What it says about the peer's data and window.
        if s.flags.ack() {
            self.loss[peer].acked(s, &mut sum.loss[peer]);
            self.nagle[peer].acked(s);
        }
        self.zero_window[me].advertised(s, &mut sum.zero_window[me]);
    }

    /// The MSS a side announced (read from its SYN or SYN-ACK).
    pub(crate) fn announce_mss(&mut self, side: Side, mss: Option<u16>, sum: &mut Signals) {
        self.mss[side.index()] = mss;
        sum.mss[side.index()] = mss;
    }

    /// A segment shorter than this is small: Nagle holds the next one
    /// while it is unacknowledged.
    fn small_below(&self) -> u32 {
        match self.mss {
            [Some(a), Some(b)] => u32::from(a.min(b)),
            [Some(a), None] | [None, Some(a)] => u32::from(a),
            [None, None] => 536,
        }
    }

    /// The conversation ended: what is still open goes in the summaries.
    pub(crate) fn finish(&mut self, sum: &mut Signals) {
        self.idle.finish(&mut sum.idle);
        for side in 0..2 {
            self.loss[side].finish(&mut sum.loss[side]);
            self.zero_window[side].finish(&mut sum.zero_window[side]);
        }
    }
}
