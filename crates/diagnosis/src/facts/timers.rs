//! Programs that wait a fixed time: for an ident or DNS lookup to give up,
//! or on purpose before they greet. A wait whose length is one of these
//! names the program (and the setting to change).

use serde::Serialize;
use stalltrace_decode::{tr, Lang};

use super::services::Daemon;

/// What a timer is for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimerPurpose {
    /// Giving up on an RFC 1413 ident lookup.
    Ident,
    /// A pause before the greeting, on purpose (anti-spam).
    GreetingPause,
}

/// A program that gives up (or pauses) after a fixed time.
#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AppTimer {
    /// Stable id, for scripts.
    pub id: &'static str,
    pub seconds: f64,
    pub purpose: TimerPurpose,
    /// The daemon whose setting it is, when a banner can name it.
    pub daemon: Option<Daemon>,
    #[serde(skip)]
    en: &'static str,
    #[serde(skip)]
    zh: &'static str,
}

const fn timer(
    id: &'static str,
    seconds: f64,
    purpose: TimerPurpose,
    daemon: Option<Daemon>,
    en: &'static str,
    zh: &'static str,
) -> AppTimer {
    AppTimer {
        id,
        seconds,
        purpose,
        daemon,
        en,
        zh,
    }
}

use TimerPurpose::{GreetingPause, Ident};

pub static APP_TIMERS: &[AppTimer] = &[
    timer(
        "xinetd-userid",
        30.0,
        Ident,
        None,
        "xinetd USERID lookup (log_on_success/log_on_failure, 30 s compiled in)",
        "xinetd 的 USERID 查询（log_on_success/log_on_failure，编译时固定 30 秒）",
    ),
    timer(
        "sendmail-ident-before-8.10",
        30.0,
        Ident,
        Some(Daemon::Sendmail),
        "sendmail before 8.10 (Timeout.ident 30 s)",
        "8.10 之前的 sendmail（Timeout.ident 30 秒）",
    ),
    timer(
        "exim-ident-before-4.61",
        30.0,
        Ident,
        Some(Daemon::Exim),
        "exim before 4.61 (rfc1413_query_timeout 30 s)",
        "4.61 之前的 exim（rfc1413_query_timeout 30 秒）",
    ),
    timer(
        "apache-identitycheck",
        30.0,
        Ident,
        None,
        "Apache mod_ident (IdentityCheckTimeout 30)",
        "Apache mod_ident（IdentityCheckTimeout 30）",
    ),
    timer(
        "rfc1413",
        30.0,
        Ident,
        None,
        "RFC 1413's advice to wait at least 30 s",
        "RFC 1413 建议至少等待 30 秒",
    ),
    timer(
        "tcp-wrappers-rfc931",
        10.0,
        Ident,
        None,
        "tcp_wrappers rfc931 (RFC931_TIMEOUT 10 s)",
        "tcp_wrappers 的 rfc931（RFC931_TIMEOUT 10 秒）",
    ),
    timer(
        "squid-ident",
        10.0,
        Ident,
        None,
        "Squid ident_timeout (10 s)",
        "Squid 的 ident_timeout（10 秒）",
    ),
    timer(
        "sendmail-ident",
        5.0,
        Ident,
        Some(Daemon::Sendmail),
        "sendmail 8.10+ (Timeout.ident 5 s)",
        "8.10 及以后的 sendmail（Timeout.ident 5 秒）",
    ),
    timer(
        "exim-ident",
        5.0,
        Ident,
        Some(Daemon::Exim),
        "exim 4.61 to 4.85 (rfc1413_query_timeout 5 s)",
        "exim 4.61 至 4.85（rfc1413_query_timeout 5 秒）",
    ),
    timer(
        "inspircd-ident",
        5.0,
        Ident,
        None,
        "InspIRCd useident (5 s)",
        "InspIRCd 的 useident（5 秒）",
    ),
    timer(
        "sendmail-greet-pause-debian",
        1.0,
        GreetingPause,
        Some(Daemon::Sendmail),
        "sendmail greet_pause (1000 ms in Debian's stock sendmail.mc)",
        "sendmail 的 greet_pause（Debian 自带 sendmail.mc 中为 1000 毫秒）",
    ),
    timer(
        "sendmail-greet-pause",
        5.0,
        GreetingPause,
        Some(Daemon::Sendmail),
        "sendmail greet_pause (5000 ms, a common setting)",
        "sendmail 的 greet_pause（5000 毫秒，常见设置）",
    ),
    timer(
        "postscreen-greet-wait",
        6.0,
        GreetingPause,
        Some(Daemon::Postfix),
        "Postfix postscreen_greet_wait (6 s)",
        "Postfix 的 postscreen_greet_wait（6 秒）",
    ),
    timer(
        "postscreen-greet-wait-stress",
        2.0,
        GreetingPause,
        Some(Daemon::Postfix),
        "Postfix postscreen_greet_wait under stress (2 s)",
        "Postfix 在压力下的 postscreen_greet_wait（2 秒）",
    ),
];

impl AppTimer {
    pub fn who(&self, l: Lang) -> &'static str {
        tr!(l, self.en, self.zh)
    }

    /// Within half a second (or 3 %) of `seconds`.
    pub fn fits(&self, seconds: f64) -> bool {
        (self.seconds - seconds).abs() <= (self.seconds * 0.03).max(0.5)
    }

    /// Ranks timers for a daemon seen in the banner: its own first.
    fn rank(&self, seen: Option<Daemon>) -> u8 {
        match (self.daemon, seen) {
            (Some(d), Some(s)) if d == s => 0,
            (_, None) | (None, _) => 1,
            _ => 2,
        }
    }
}

/// Timers of `purpose` that fit `seconds`, those of the daemon seen first;
/// a timer of another daemon than the one seen is left out.
pub fn matching(
    purpose: TimerPurpose,
    seconds: f64,
    seen: Option<Daemon>,
) -> Vec<&'static AppTimer> {
    let mut v: Vec<&'static AppTimer> = APP_TIMERS
        .iter()
        .filter(|t| t.purpose == purpose && t.fits(seconds) && t.rank(seen) < 2)
        .collect();
    v.sort_by_key(|t| t.rank(seen));
    v
}

/// Timers of `purpose` that fall in `(after, upto]` seconds: when a
/// waiter gave up somewhere between two moments, the known timers there.
/// A timer may fire a hair after the last attempt left (the stack's retry
/// and the program's timer race at the same second).
pub fn within(
    purpose: TimerPurpose,
    after: f64,
    upto: f64,
    seen: Option<Daemon>,
) -> Vec<&'static AppTimer> {
    let mut v: Vec<&'static AppTimer> = APP_TIMERS
        .iter()
        .filter(|t| {
            t.purpose == purpose
                && t.seconds >= after - 0.1
                && t.seconds <= upto + (t.seconds * 0.03).max(0.5)
                && t.rank(seen) < 2
        })
        .collect();
    // The latest first: a waiter that gave up later explains more.
    v.sort_by(|a, b| {
        a.rank(seen)
            .cmp(&b.rank(seen))
            .then(b.seconds.total_cmp(&a.seconds))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_seconds_is_an_ident_timer() {
        let t = matching(TimerPurpose::Ident, 29.960, None);
        assert!(t.iter().any(|t| t.id == "xinetd-userid"));
        assert!(t
            .iter()
            .any(|t| t.who(Lang::ZhCn).starts_with("xinetd 的 USERID")));
        assert!(t.iter().all(|t| t.seconds == 30.0));
        assert!(matching(TimerPurpose::Ident, 21.0, None).is_empty());
    }

    #[test]
    fn the_banner_puts_its_daemon_first_and_others_out() {
        let t = matching(TimerPurpose::Ident, 5.0, Some(Daemon::Sendmail));
        assert_eq!(t[0].id, "sendmail-ident");
        assert!(t.iter().all(|t| t.daemon != Some(Daemon::Exim)));
        let p = matching(TimerPurpose::GreetingPause, 6.0, Some(Daemon::Postfix));
        assert_eq!(p[0].id, "postscreen-greet-wait");
    }

    #[test]
    fn a_give_up_between_retries_finds_the_timer_there() {
        // SYNs at +0..+4 s, the +5 s retry never sent, greeting at +6 s.
        let t = within(TimerPurpose::Ident, 4.0, 5.0, Some(Daemon::Sendmail));
        assert_eq!(t[0].id, "sendmail-ident");
        assert!(within(TimerPurpose::Ident, 21.0, 25.0, None).is_empty());
        // The +5 s retry left just before the 5 s timer fired.
        let t = within(TimerPurpose::Ident, 5.0, 6.0, Some(Daemon::Sendmail));
        assert_eq!(t[0].id, "sendmail-ident");
    }
}
