//! Causes: what a server waited on, one file each. A cause recognises its
//! kind of callback (a connection the waiting server opened meanwhile),
//! names the timers that give up on it, and builds its remedies from what
//! the capture shows. Causes that are no callback (a deliberate pause
//! before the greeting) explain the server's own time after its callbacks.
//!
//! Adding a cause: a file here with a unit struct implementing [`Cause`],
//! and one line in [`CAUSES`].

mod dns;
mod greeting_pause;
mod ident;
mod other;

use stalltrace_conversations::Conversation;
use stalltrace_decode::Endpoint;

use crate::facts::{DaemonSeen, Service, TimerPurpose};
use crate::finding::{Callback, CallbackKind, NatSeen, Remainder, Severity};
use crate::remedy::Remedy;

/// What the capture shows that a remedy can be built from.
pub(crate) struct RemedyCx<'a> {
    pub service: Option<&'static Service>,
    pub daemon: Option<&'a DaemonSeen>,
    /// The waiting server.
    pub server: &'a Endpoint,
    /// The client as the server saw it.
    pub client: &'a Endpoint,
    pub callback: Option<&'a Callback>,
    pub remainder: Option<&'a Remainder>,
    /// A NAT device between two capture points translated the client.
    pub nat: Option<&'a NatSeen>,
    /// The addressee itself discarded the callback (its own segment).
    pub addressee_discards: Option<AddresseeSeen>,
    pub severity: Severity,
}

/// The callback's addressee, seen on its own segment.
#[derive(Copy, Clone)]
pub(crate) struct AddresseeSeen {
    /// TTL of its own packets, unlowered: 128 for Windows, 64 for the rest.
    pub ttl: u8,
}

pub(crate) trait Cause: Sync {
    /// The callbacks it recognises (None: a cause that is no callback).
    fn kind(&self) -> Option<CallbackKind> {
        None
    }

    /// Whether `k`, opened by the server of a waiting conversation, is
    /// this kind of lookup (by protocol and port).
    fn recognises(&self, _k: &Conversation) -> bool {
        false
    }

    /// Whether the lookup is about `waiting` by what it carries (an ident
    /// lookup goes to the waiting client's address), so that it belongs to
    /// the wait wherever it ends. Otherwise only its timing ties it: its
    /// end must line up with the wait's.
    fn about(&self, _k: &Conversation, _waiting: &Conversation) -> Option<bool> {
        None
    }

    /// Timers that give up on this kind of callback.
    fn give_up_timers(&self) -> Option<TimerPurpose> {
        None
    }

    /// Timers that explain the server's time after its callbacks, for a
    /// service (a greeting pause on SMTP).
    fn remainder_timers(
        &self,
        _service: Option<&Service>,
        _daemon: Option<&DaemonSeen>,
    ) -> Option<TimerPurpose> {
        None
    }

    /// Remedies for a wait this cause explains, most likely first.
    fn remedies(&self, cx: &RemedyCx) -> Vec<Remedy>;
}

/// The registry: one line per cause, callbacks tried in this order.
pub(crate) static CAUSES: &[&dyn Cause] = &[
    &ident::Ident,
    &dns::Dns,
    &greeting_pause::GreetingPause,
    // Last: it recognises any connection the server opened.
    &other::Other,
];

/// The cause that recognises callback `k`.
pub(crate) fn classify(k: &Conversation) -> Option<&'static dyn Cause> {
    CAUSES
        .iter()
        .copied()
        .find(|c| c.kind().is_some() && c.recognises(k))
}

/// The cause of a callback kind.
pub(crate) fn of_kind(kind: CallbackKind) -> &'static dyn Cause {
    CAUSES
        .iter()
        .copied()
        .find(|c| c.kind() == Some(kind))
        .expect("every callback kind has a cause")
}

/// The causes that explain a server's own time before it greets.
pub(crate) fn remainder_purposes(
    service: Option<&Service>,
    daemon: Option<&DaemonSeen>,
) -> Vec<(TimerPurpose, &'static dyn Cause)> {
    CAUSES
        .iter()
        .copied()
        .filter_map(|c| c.remainder_timers(service, daemon).map(|p| (p, c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_callback_kind_has_exactly_one_cause() {
        for kind in [CallbackKind::Ident, CallbackKind::Dns, CallbackKind::Other] {
            let n = CAUSES.iter().filter(|c| c.kind() == Some(kind)).count();
            assert_eq!(n, 1, "{kind:?}");
        }
    }
}
