//! Address translations seen between two capture points: each distinct
//! one remembered once (up to a listing cap, the rest counted), with the
//! pairs of points that saw it, so memory follows the mappings listed, not
//! the connections matched. Which side is inside is decided at the end,
//! once the path order is known.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use stalltrace_decode::{tr, Endpoint, Lang, Timestamp};

use crate::keys::MatchEvidence;

/// Which end of the connection the device rewrote.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NatKind {
    /// The client's address: SNAT, masquerade.
    Source,
    /// The server's address: DNAT, port forwarding.
    Destination,
}

impl NatKind {
    pub fn say(self, l: Lang) -> &'static str {
        match self {
            NatKind::Source => tr!(l, "source", "源地址转换"),
            NatKind::Destination => tr!(l, "destination", "目的地址转换"),
        }
    }
}

/// One address translation seen between two capture points.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct NatMapping {
    pub kind: NatKind,
    pub inside: Endpoint,
    pub outside: Endpoint,
    pub inside_point: String,
    pub outside_point: String,
    /// Why we know it is the same connection.
    pub evidence: MatchEvidence,
    pub first_seen: Timestamp,
}

/// A rewrite seen, before the path says which side is inside.
#[derive(Clone)]
struct Pending {
    /// The pairs of points that saw it, with the endpoint each saw.
    pairs: Vec<(u32, Endpoint, u32, Endpoint)>,
    evidence: MatchEvidence,
    first_seen: Timestamp,
}

/// Mappings past the listing cap counted exactly up to this many.
const MAX_OVERFLOW_TRACKED: usize = 1 << 20;

#[derive(Clone)]
pub(crate) struct NatBook {
    cap: usize,
    pending: HashMap<(NatKind, Endpoint, Endpoint), Pending>,
    overflow_seen: HashSet<u64>,
    overflow: u64,
}

impl NatBook {
    pub(crate) fn new(cap: usize) -> Self {
        NatBook {
            cap,
            pending: HashMap::new(),
            overflow_seen: HashSet::new(),
            overflow: 0,
        }
    }

    /// Remembers that points `pa` and `pb` saw one end as `ea` and `eb`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn note(
        &mut self,
        kind: NatKind,
        ea: &Endpoint,
        eb: &Endpoint,
        pa: u32,
        pb: u32,
        evidence: MatchEvidence,
        at: Timestamp,
    ) {
        let key = if ea <= eb {
            (kind, ea.clone(), eb.clone())
        } else {
            (kind, eb.clone(), ea.clone())
        };
        if let Some(m) = self.pending.get_mut(&key) {
            // The earliest sighting, whatever order the conversations
            // finished in (they finish in another order when tracked in
            // parts, or handed on at other moments).
            if at < m.first_seen {
                m.first_seen = at;
                m.evidence = evidence;
            }
            if !m
                .pairs
                .iter()
                .any(|(x, _, y, _)| (*x == pa && *y == pb) || (*x == pb && *y == pa))
            {
                m.pairs.push((pa, ea.clone(), pb, eb.clone()));
            }
            return;
        }
        if self.pending.len() >= self.cap {
            // Counted once each, by an 8-byte fingerprint, however many pairs
            // of points see it.
            use std::hash::BuildHasher;
            let fp = foldhash::fast::FixedState::with_seed(7).hash_one(&key);
            if self.overflow_seen.len() < MAX_OVERFLOW_TRACKED {
                if self.overflow_seen.insert(fp) {
                    self.overflow += 1;
                }
            } else {
                self.overflow += 1;
            }
            return;
        }
        self.pending.insert(
            key,
            Pending {
                pairs: vec![(pa, ea.clone(), pb, eb.clone())],
                evidence,
                first_seen: at,
            },
        );
    }

    /// The mappings, oriented: the point nearer the client (lower
    /// `position`) is inside. The same rewrite is seen by every pair of
    /// points across the device; the neighbouring pair says where it is.
    pub(crate) fn finish(
        self,
        position: impl Fn(u32) -> usize,
        name: impl Fn(u32) -> String,
    ) -> (Vec<NatMapping>, u64) {
        let mut out = Vec::new();
        for ((kind, ..), pm) in self.pending {
            let Some((pa, ea, pb, eb)) = pm
                .pairs
                .into_iter()
                .min_by_key(|(pa, _, pb, _)| position(*pa).abs_diff(position(*pb)))
            else {
                continue;
            };
            // Whichever endpoint the inside point saw is the inside one, for
            // a rewritten source and a rewritten destination alike.
            let (inside, outside, ip, op) = if position(pa) <= position(pb) {
                (ea, eb, pa, pb)
            } else {
                (eb, ea, pb, pa)
            };
            out.push(NatMapping {
                kind,
                inside,
                outside,
                inside_point: name(ip),
                outside_point: name(op),
                evidence: pm.evidence,
                first_seen: pm.first_seen,
            });
        }
        out.sort_by(|a, b| {
            a.first_seen
                .cmp(&b.first_seen)
                .then_with(|| a.inside.cmp(&b.inside))
        });
        (out, self.overflow)
    }
}
