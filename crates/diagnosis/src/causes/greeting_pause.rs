//! A deliberate pause before the SMTP greeting: sendmail's `greet_pause`
//! (1000 ms in Debian's stock sendmail.mc, 5000 ms a common setting) and
//! Postfix's postscreen (`postscreen_greet_wait`, 6 s, 2 s under stress)
//! hold the 220 banner back to catch spam engines that talk first. The
//! capture shows the banner late by that fixed amount after the handshake
//! (or after the server's lookups), with no callback needed. The fix is to
//! exempt trusted clients, by the address the capture shows.

use super::{Cause, RemedyCx};
use crate::facts::{Daemon, DaemonSeen, Service, TimerPurpose};
use crate::remedy::{literal, Remedy, Target, Text};

pub(crate) struct GreetingPause;

impl Cause for GreetingPause {
    /// Only SMTP servers pause on purpose before their banner.
    fn remainder_timers(
        &self,
        service: Option<&Service>,
        daemon: Option<&DaemonSeen>,
    ) -> Option<TimerPurpose> {
        let smtp = service.is_some_and(|s| s.is_smtp())
            || daemon.is_some_and(|d| matches!(d.daemon, Daemon::Sendmail | Daemon::Postfix));
        smtp.then_some(TimerPurpose::GreetingPause)
    }

    fn remedies(&self, cx: &RemedyCx) -> Vec<Remedy> {
        let Some(rem) = cx.remainder else {
            return Vec::new();
        };
        if rem.timer_matches.is_empty() {
            return Vec::new();
        }
        let client = literal(&cx.client.host).unwrap_or_else(|| cx.client.host.to_string());
        let sendmail = Remedy::new(
            Target::Daemon { daemon: Daemon::Sendmail },
            Text::new(
                format!("let the client {client} be greeted without the pause (an access map entry; or drop FEATURE(`greet_pause') from sendmail.mc to pause for no one)"),
                format!("让客户端 {client} 免于等待（在 access 映射中添加一项；或从 sendmail.mc 中去掉 FEATURE(`greet_pause') 让所有客户端都不等待）"),
            ),
            &[],
        )
        .lines(vec![
            format!("GreetPause:{client}\t0"),
            "makemap hash /etc/mail/access < /etc/mail/access".into(),
        ])
        .file("/etc/mail/access");
        let postfix = Remedy::new(
            Target::Daemon {
                daemon: Daemon::Postfix,
            },
            Text::new(
                format!("let the client {client} past postscreen at once"),
                format!("让客户端 {client} 立即通过 postscreen"),
            ),
            &[],
        )
        .lines(vec![
            "postscreen_access_list = permit_mynetworks, cidr:/etc/postfix/postscreen_access.cidr"
                .into(),
            format!("# /etc/postfix/postscreen_access.cidr: {client}  permit"),
        ])
        .file("/etc/postfix/main.cf");
        // The daemon whose timer fits (and whose banner shows) first.
        let first = rem.timer_matches[0].daemon;
        let seen = cx.daemon.map(|d| d.daemon);
        let mut out = Vec::new();
        for (r, d) in [(sendmail, Daemon::Sendmail), (postfix, Daemon::Postfix)] {
            if seen.is_some_and(|s| s != d) {
                continue;
            }
            if first == Some(d) {
                out.insert(0, r);
            } else if rem.timer_matches.iter().any(|t| t.daemon == Some(d)) {
                out.push(r);
            }
        }
        out
    }
}
