//! How stub resolvers resend a query nobody answers, and when they give
//! up: the schedule a lookup's queries follow names the resolver (and so
//! the settings that shorten it). Sources: `docs/field-facts.md`.
//!
//! - glibc (`res_send`): one name server at a time, in the order of
//!   resolv.conf; server i of n waits `(timeout << i) / n` seconds (i > 0;
//!   the first waits `timeout`), default `timeout:5`, `attempts:2` rounds:
//!   one server: +0, +5 s, given up at 10 s.
//! - musl: every name server at once, resent every `timeout / attempts`
//!   (2.5 s by default), given up at `timeout` (5 s).
//! - Windows DNS client: +0, +1, +2, +4, +8 s, given up at 10 s.

use serde::Serialize;
use stalltrace_decode::{tr, Lang, TimeDelta};

/// A stub resolver's resend schedule.
#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Resolver {
    pub id: &'static str,
    /// Offsets of the resends from the first query (one name server).
    pub resends: &'static [f64],
    /// When it gives up (one name server), seconds.
    pub gives_up: f64,
    #[serde(skip)]
    en: &'static str,
    #[serde(skip)]
    zh: &'static str,
}

pub static RESOLVERS: &[Resolver] = &[
    Resolver {
        id: "glibc",
        resends: &[5.0],
        gives_up: 10.0,
        en: "glibc (options timeout:5 attempts:2, one name server at a time)",
        zh: "glibc（options timeout:5 attempts:2，逐个名称服务器）",
    },
    Resolver {
        id: "musl",
        resends: &[2.5],
        gives_up: 5.0,
        en: "musl (every name server at once, resent every 2.5 s)",
        zh: "musl（同时询问所有名称服务器，每 2.5 秒重发）",
    },
    Resolver {
        id: "windows",
        resends: &[1.0, 2.0, 4.0, 8.0],
        gives_up: 10.0,
        en: "the Windows DNS client (+1, +2, +4, +8 s)",
        zh: "Windows DNS 客户端（+1、+2、+4、+8 秒）",
    },
];

impl Resolver {
    pub fn name(&self, l: Lang) -> &'static str {
        tr!(l, self.en, self.zh)
    }

    /// The resends of one query (offsets from its first copy) follow this
    /// schedule.
    fn fits(&self, resends: &[TimeDelta]) -> bool {
        !resends.is_empty()
            && resends.len() <= self.resends.len() + 1
            && resends
                .iter()
                .zip(
                    self.resends
                        .iter()
                        .chain(std::iter::repeat(self.resends.last().unwrap())),
                )
                .all(|(o, e)| (o.secs_f64() - e).abs() <= (e * 0.06).max(0.15))
    }
}

/// The resolvers whose schedule the resends fit.
pub fn fitting(resends: &[TimeDelta]) -> Vec<&'static Resolver> {
    RESOLVERS.iter().filter(|r| r.fits(resends)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &[f64]) -> Vec<TimeDelta> {
        v.iter().map(|s| TimeDelta::from_secs_f64(*s)).collect()
    }

    #[test]
    fn five_seconds_is_glibc_and_one_two_four_is_windows() {
        let ids = |v: &[f64]| fitting(&secs(v)).iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(&[5.004]), ["glibc"]);
        assert_eq!(ids(&[2.5]), ["musl"]);
        assert_eq!(ids(&[1.0, 2.0, 4.0]), ["windows"]);
        assert!(ids(&[3.0]).is_empty());
    }
}
