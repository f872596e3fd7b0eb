//! The two places where data flows back, against the pipeline's one
//! direction (capture → decode → conversations → matching → diagnosis →
//! report), named so that neither side reaches into the other:
//!
//! - [`LiveView`]: the diagnosis asks a capture point's live conversations
//!   whether a callback that may explain a wait is still going on, so that
//!   with one capture point a wait is judged as soon as it can be, and a
//!   callback forgotten as soon as no wait can need it.
//! - [`SpareLog`]: a finished conversation's packet log that nothing kept,
//!   given back to its tracker for a new conversation (allocating and
//!   freeing a whole log per conversation was a tenth of the analysis).

use stalltrace_decode::{Host, Timestamp};

use crate::PacketBrief;

/// What a capture point's live conversations tell the diagnosis.
pub trait LiveView {
    /// When the earliest live conversation that `host` opened while it
    /// served began: a wait of `host`'s that ended before then has all its
    /// possible callbacks finished already.
    fn oldest_live_callback(&self, host: &Host) -> Option<Timestamp>;

    /// When the earliest live conversation `host` serves began: a callback
    /// `host` opened before then can explain no wait still to come.
    fn oldest_live_served(&self, host: &Host) -> Option<Timestamp>;
}

/// A packet log no longer needed, on its way back to a tracker.
#[derive(Debug)]
pub struct SpareLog(pub(crate) Vec<PacketBrief>);

impl SpareLog {
    pub fn new(log: Vec<PacketBrief>) -> SpareLog {
        SpareLog(log)
    }
}
