//! The registry of rules: one line each. A rule file holds its module doc
//! (the symptom, the field facts it rests on), its detection, the typed
//! facts it emits, its words, its remedies and its tests.
//!
//! Adding a rule: a file here with a unit struct implementing
//! [`Rule`](crate::rule::Rule) and its detector, one line in [`RULES`],
//! a [`FindingId`] variant (and, for new facts, a
//! [`Facts`](crate::Facts) variant) in `finding/`. A test checks every
//! id has exactly one owner.

mod application_wait;
mod callback_lookup;
mod connect;
mod dns_lookup;
mod dns_race;
mod handshake;
mod idle_timeout;
mod ipv6_fallback;
mod nagle;
pub(crate) mod pmtu;
mod retransmission;
mod syn_ack_after_ack;
mod zero_window;

use crate::finding::FindingId;
use crate::rule::Rule;

/// In this order: a rule that takes conversations at the end (see
/// `Cx::take`) comes before the rules that would tell them otherwise.
pub(crate) static RULES: &[&dyn Rule] = &[
    &application_wait::ApplicationWait,
    &callback_lookup::CallbackLookup,
    &syn_ack_after_ack::SynAckAfterAck,
    &handshake::Handshake,
    &ipv6_fallback::Ipv6Fallback,
    &connect::Connect,
    &retransmission::Retransmission,
    &pmtu::Pmtu,
    &zero_window::ZeroWindow,
    &nagle::Nagle,
    &idle_timeout::IdleTimeout,
    &dns_race::DnsRace,
    &dns_lookup::DnsLookup,
];

/// The rule that owns `id`.
pub(crate) fn owner(id: FindingId) -> &'static dyn Rule {
    RULES
        .iter()
        .copied()
        .find(|r| r.ids().contains(&id))
        .expect("every finding id has an owner (tested)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use stalltrace_decode::Lang;

    #[test]
    fn every_finding_id_has_exactly_one_owner() {
        for id in FindingId::ALL {
            let owners = RULES.iter().filter(|r| r.ids().contains(id)).count();
            assert_eq!(owners, 1, "{id:?} has {owners} owners");
        }
        let owned: usize = RULES.iter().map(|r| r.ids().len()).sum();
        assert_eq!(owned, FindingId::ALL.len());
    }

    #[test]
    fn every_rule_has_a_name_in_both_languages() {
        for id in FindingId::ALL {
            let r = owner(*id);
            let (en, zh) = (r.title(*id, Lang::En), r.title(*id, Lang::ZhCn));
            assert_eq!(en, id.as_str());
            assert!(zh.chars().any(|c| c as u32 >= 0x4e00), "{id:?}: {zh}");
        }
    }
}
