//! The DNS queries of a conversation and what became of each: the copies
//! the client sent (a resolver resends the same id on its timer), the
//! answer that came (its code, its addresses or names), or none. Kept per
//! conversation, at most [`MAX_QUERIES`]; the rest are counted.

use serde::Serialize;
use stalltrace_decode::{DnsAnswer, DnsMessage, DnsQuestion};

use crate::model::PacketRef;

/// Queries kept per conversation.
pub const MAX_QUERIES: usize = 16;
/// Copies of one query kept.
const COPIES: usize = 8;
/// Answers kept per query.
const ANSWERS: usize = 4;

/// One query and its fate at this point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct DnsQuery {
    pub id: u16,
    pub question: Option<DnsQuestion>,
    /// The copies sent, the first included (up to eight).
    pub sent: Vec<PacketRef>,
    pub copies: u32,
    pub answer: Option<PacketRef>,
    pub rcode: Option<u8>,
    pub answers: Vec<DnsAnswer>,
    /// The answer said it was cut (TC): the client asks again over TCP.
    pub truncated: bool,
}

impl DnsQuery {
    pub fn first(&self) -> PacketRef {
        self.sent[0]
    }
}

/// A conversation's DNS.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct DnsLog {
    pub queries: Vec<DnsQuery>,
    /// Queries past [`MAX_QUERIES`].
    pub more: u32,
}

impl DnsLog {
    /// A message of the conversation: a query from its client, or an
    /// answer from its server.
    pub(crate) fn note(&mut self, m: &DnsMessage, at: PacketRef, from_client: bool) {
        let same = |q: &DnsQuery| {
            q.id == m.id
                && (m.question.is_none() || q.question.is_none() || q.question == m.question)
        };
        if from_client && !m.response {
            if let Some(q) = self
                .queries
                .iter_mut()
                .rev()
                .find(|q| same(q) && q.answer.is_none())
            {
                q.copies += 1;
                if q.sent.len() < COPIES {
                    q.sent.push(at);
                }
                return;
            }
            if self.queries.len() >= MAX_QUERIES {
                self.more += 1;
                return;
            }
            self.queries.push(DnsQuery {
                id: m.id,
                question: m.question.clone(),
                sent: vec![at],
                copies: 1,
                answer: None,
                rcode: None,
                answers: Vec::new(),
                truncated: false,
            });
        } else if !from_client && m.response {
            if let Some(q) = self
                .queries
                .iter_mut()
                .find(|q| same(q) && q.answer.is_none())
            {
                q.answer = Some(at);
                q.rcode = Some(m.rcode);
                q.answers = m.answers.iter().take(ANSWERS).cloned().collect();
                q.truncated = m.truncated;
            }
        }
    }
}
