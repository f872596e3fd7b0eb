//! The typed facts of the DNS rules: a lookup and what became of it, and
//! the A/AAAA race on one socket.

use serde::Serialize;
use stalltrace_decode::{DnsAnswer, DnsQuestion, Endpoint, TimeDelta};

use crate::facts::Resolver;

/// One query sent, to which server, when (from the lookup's first).
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DnsAttempt {
    pub server: Endpoint,
    pub after: TimeDelta,
}

/// The answer that ended a lookup.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DnsAnswered {
    pub by: Endpoint,
    /// From the lookup's first query.
    pub after: TimeDelta,
    pub rcode: u8,
    pub answers: Vec<DnsAnswer>,
}

/// The connection the client opened to an address the lookup gave.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ThenConnected {
    pub to: Endpoint,
    /// Its first SYN, after the answer.
    pub after_answer: TimeDelta,
}

/// A name lookup by one client: its queries to one or more name servers,
/// resent on the resolver's timer, and the answer (or none).
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DnsLookupFacts {
    pub client: Endpoint,
    pub question: Option<DnsQuestion>,
    pub attempts: Vec<DnsAttempt>,
    pub answered: Option<DnsAnswered>,
    /// The wait: to the answer, or from the first query to the last.
    pub waited: TimeDelta,
    /// Name servers asked that never answered.
    pub silent: Vec<Endpoint>,
    /// Stub resolvers whose resend schedule fits.
    pub resolver: Vec<&'static Resolver>,
    pub then_connected: Option<ThenConnected>,
}

/// The A and AAAA queries of one lookup sent together from one socket,
/// one answered, the other lost and resent on the resolver's timer: the
/// conntrack insert race (two UDP packets of one new flow at once, and the
/// second one's conntrack entry dropped).
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DnsRaceFacts {
    pub client: Endpoint,
    pub server: Endpoint,
    pub name: String,
    /// The query type answered at once, and the one resent.
    pub answered_type: u16,
    pub lost_type: u16,
    /// Between the two first copies.
    pub apart: TimeDelta,
    /// From the lost query's first copy to its resend.
    pub resent_after: TimeDelta,
    /// From the lost query's first copy to its answer (the lookup's cost).
    pub cost: TimeDelta,
    /// Lookups in this conversation that raced so.
    pub times: u32,
}
