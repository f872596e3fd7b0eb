//! How TCP stacks retry an unanswered SYN: the offsets of the retries from
//! the first SYN, and when connect() gives up. A callback's retries matched
//! against these name the opener's stack, and say when the next retry was
//! due: a waiter that gave up before it shows its own timer, not TCP's.

use serde::Serialize;
use stalltrace_decode::{tr, Lang};

/// A TCP stack's SYN retransmission schedule.
#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SynStack {
    /// Stable id, for scripts.
    pub id: &'static str,
    /// Offsets of the retries from the first SYN, in seconds.
    pub retries: &'static [f64],
    /// When connect() gives up, in seconds from the first SYN.
    pub gives_up: Option<f64>,
    #[serde(skip)]
    en: &'static str,
    #[serde(skip)]
    zh: &'static str,
}

pub static SYN_STACKS: &[SynStack] = &[
    SynStack {
        id: "linux-2.4",
        retries: &[3.0, 9.0, 21.0, 45.0, 93.0],
        gives_up: Some(189.0),
        en: "Linux 2.4 (initial RTO 3 s, doubling; RFC 1122)",
        zh: "Linux 2.4（初始 RTO 3 秒，逐次加倍；RFC 1122）",
    },
    SynStack {
        id: "linux-3.7",
        retries: &[1.0, 3.0, 7.0, 15.0, 31.0, 63.0],
        gives_up: Some(127.0),
        en: "Linux 3.7 to 6.4 (initial RTO 1 s, doubling; RFC 6298)",
        zh: "Linux 3.7 至 6.4（初始 RTO 1 秒，逐次加倍；RFC 6298）",
    },
    SynStack {
        id: "linux-6.5",
        retries: &[1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0],
        gives_up: Some(131.0),
        en: "Linux 6.5+ (tcp_syn_linear_timeouts 4, then doubling)",
        zh: "Linux 6.5 及以上（tcp_syn_linear_timeouts 4，之后加倍）",
    },
    SynStack {
        id: "windows",
        retries: &[3.0, 9.0],
        gives_up: Some(21.0),
        en: "Windows XP/2003/7/2008 R2 (3 s, 2 retries)",
        zh: "Windows XP/2003/7/2008 R2（3 秒，重传 2 次）",
    },
    SynStack {
        id: "macos",
        retries: &[1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0],
        gives_up: None,
        en: "macOS/iOS (1 s steps, then doubling)",
        zh: "macOS/iOS（先以 1 秒递增，之后加倍）",
    },
    SynStack {
        id: "dragonfly",
        retries: &[3.0, 6.0, 9.0, 12.0, 15.0, 21.0, 33.0, 57.0],
        gives_up: Some(57.0),
        en: "DragonFly BSD (3 s steps)",
        zh: "DragonFly BSD（以 3 秒递增）",
    },
];

impl SynStack {
    pub fn name(&self, l: Lang) -> &'static str {
        tr!(l, self.en, self.zh)
    }

    /// True when `observed` (offsets of retries, seconds) fits this schedule.
    pub fn fits(&self, observed: &[f64]) -> bool {
        !observed.is_empty()
            && observed.len() <= self.retries.len()
            && observed
                .iter()
                .zip(self.retries)
                .all(|(o, e)| (o - e).abs() <= (e * 0.08).max(0.25))
    }

    /// The retry this stack would have sent after `sent` retries.
    pub fn next_retry(&self, sent: usize) -> Option<f64> {
        self.retries.get(sent).copied()
    }

    pub fn by_id(id: &str) -> Option<&'static SynStack> {
        SYN_STACKS.iter().find(|s| s.id == id)
    }
}

/// The stacks whose schedule fits the retries.
pub fn fitting(retries: &[f64]) -> Vec<&'static SynStack> {
    SYN_STACKS.iter().filter(|s| s.fits(retries)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_schedule_is_linux_2_4_and_not_windows() {
        let seed = [2.988603, 8.979081, 20.960387];
        let names: Vec<_> = fitting(&seed).iter().map(|s| s.id).collect();
        assert_eq!(names, vec!["linux-2.4"]);
        assert_eq!(
            SynStack::by_id("linux-2.4").unwrap().next_retry(3),
            Some(45.0)
        );
    }

    #[test]
    fn linear_linux_retries_every_second() {
        let names: Vec<_> = fitting(&[1.0, 2.0, 3.0, 4.0])
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(names, vec!["linux-6.5", "macos"]);
        assert_eq!(
            SynStack::by_id("linux-6.5").unwrap().next_retry(4),
            Some(5.0)
        );
    }
}
