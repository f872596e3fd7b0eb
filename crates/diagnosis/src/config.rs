//! The diagnosis's tunables.

use stalltrace_decode::TimeDelta;

/// Tunables of the rules.
#[derive(Clone, Debug)]
pub struct DiagnosisConfig {
    /// A greeting or answer later than this is an application wait.
    pub wait_threshold: TimeDelta,
    /// Time lost to a network cause (data sent again, a closed window,
    /// Nagle) below this is not told: a retransmission timer's floor, the
    /// least a lost segment costs (a fast retransmit costs a round trip).
    pub network_threshold: TimeDelta,
    /// Possible callbacks are kept this long after they end, to be found
    /// as the cause of a wait that is judged later.
    pub retain: TimeDelta,
    /// A wait is judged this long (stream time) after it ended, when every
    /// callback that began during it has been handed over. Must exceed the
    /// tracker's idle timeout.
    pub resolve_delay: TimeDelta,
    /// The input is one capture point, for certain. Then a wait is judged
    /// as soon as every callback that may explain it has ended (not a
    /// resolve delay later: with several points it must also be seen
    /// elsewhere first), a callback is forgotten once no wait can still
    /// need it, and each finding is folded into an earlier one like it as
    /// it is made (see `Finding::repeats`; with several points findings are
    /// merged first, then folded). Memory then follows the conversations
    /// in progress and the kinds of trouble, not the length of the capture.
    pub one_point: bool,
    /// Fold findings alike into one with its repeats (a report). A live
    /// run (`stalltrace watch`) tells each as it happens: no folding.
    pub fold: bool,
}

impl Default for DiagnosisConfig {
    fn default() -> Self {
        DiagnosisConfig {
            wait_threshold: TimeDelta::from_secs(1),
            network_threshold: TimeDelta::from_millis(200),
            retain: TimeDelta::from_secs(900),
            fold: true,
            resolve_delay: TimeDelta::from_secs(310),
            one_point: false,
        }
    }
}
