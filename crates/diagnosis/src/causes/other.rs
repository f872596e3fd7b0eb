//! Any other connection the waiting server opened meanwhile (a back end,
//! an authentication server, a proxy): nothing ties it to the wait but its
//! timing, so it counts only when it ends in step with the wait. Its fix
//! lies with that service, which the finding names; no configuration line
//! can be known from the capture.

use stalltrace_conversations::Conversation;

use super::{Cause, RemedyCx};
use crate::finding::CallbackKind;
use crate::remedy::Remedy;

pub(crate) struct Other;

impl Cause for Other {
    fn kind(&self) -> Option<CallbackKind> {
        Some(CallbackKind::Other)
    }

    fn recognises(&self, _k: &Conversation) -> bool {
        true
    }

    fn remedies(&self, _cx: &RemedyCx) -> Vec<Remedy> {
        Vec::new()
    }
}
