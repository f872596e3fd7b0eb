//! What the field knows: which services speak first, how stacks retry a SYN,
//! which programs wait how long for a callback, and how to turn them off.
//! Sources are in `docs/field-facts.md` (copied from the project's shared
//! notes); re-check a fact there before changing it here.

use serde::Serialize;

/// Services whose server speaks first after the handshake.
pub fn server_first_service(port: u16) -> Option<&'static str> {
    Some(match port {
        21 => "FTP",
        22 => "SSH",
        23 => "telnet",
        25 => "SMTP",
        110 => "POP3",
        119 => "NNTP",
        143 => "IMAP",
        587 => "SMTP submission",
        3306 => "MySQL",
        _ => return None,
    })
}

/// Names of common client-first services, for the report only.
pub fn service_name(port: u16) -> Option<&'static str> {
    server_first_service(port).or(match port {
        53 => Some("DNS"),
        80 => Some("HTTP"),
        113 => Some("ident"),
        443 => Some("HTTPS"),
        389 => Some("LDAP"),
        5432 => Some("PostgreSQL"),
        _ => None,
    })
}

pub const IDENT_PORT: u16 = 113;
pub const DNS_PORT: u16 = 53;

/// A TCP stack's SYN retransmission schedule: offsets of the retries from
/// the first SYN, and when connect() gives up.
pub struct SynSchedule {
    pub stack: &'static str,
    pub retries: &'static [f64],
    pub gives_up: Option<f64>,
}

pub const SYN_SCHEDULES: &[SynSchedule] = &[
    SynSchedule {
        stack: "Linux 2.4 (initial RTO 3 s, doubling; RFC 1122)",
        retries: &[3.0, 9.0, 21.0, 45.0, 93.0],
        gives_up: Some(189.0),
    },
    SynSchedule {
        stack: "Linux 3.7 to 6.4 (initial RTO 1 s, doubling; RFC 6298)",
        retries: &[1.0, 3.0, 7.0, 15.0, 31.0, 63.0],
        gives_up: Some(127.0),
    },
    SynSchedule {
        stack: "Linux 6.5+ (tcp_syn_linear_timeouts 4, then doubling)",
        retries: &[1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0],
        gives_up: Some(131.0),
    },
    SynSchedule {
        stack: "Windows XP/2003/7/2008 R2 (3 s, 2 retries)",
        retries: &[3.0, 9.0],
        gives_up: Some(21.0),
    },
    SynSchedule {
        stack: "macOS/iOS (1 s steps, then doubling)",
        retries: &[1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0],
        gives_up: None,
    },
    SynSchedule {
        stack: "DragonFly BSD (3 s steps)",
        retries: &[3.0, 6.0, 9.0, 12.0, 15.0, 21.0, 33.0, 57.0],
        gives_up: Some(57.0),
    },
];

/// True when `observed` (offsets of retries, seconds) fits `s`'s schedule.
pub fn schedule_matches(s: &SynSchedule, observed: &[f64]) -> bool {
    !observed.is_empty()
        && observed.len() <= s.retries.len()
        && observed
            .iter()
            .zip(s.retries)
            .all(|(o, e)| (o - e).abs() <= (e * 0.08).max(0.25))
}

/// A program that gives up on a lookup after a fixed time.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AppTimer {
    pub seconds: f64,
    pub who: &'static str,
}

pub const APP_TIMERS: &[AppTimer] = &[
    AppTimer {
        seconds: 30.0,
        who: "xinetd USERID lookup (log_on_success/log_on_failure, 30 s compiled in)",
    },
    AppTimer {
        seconds: 30.0,
        who: "sendmail before 8.10 (Timeout.ident 30 s)",
    },
    AppTimer {
        seconds: 30.0,
        who: "exim before 4.61 (rfc1413_query_timeout 30 s)",
    },
    AppTimer {
        seconds: 30.0,
        who: "Apache mod_ident (IdentityCheckTimeout 30)",
    },
    AppTimer {
        seconds: 30.0,
        who: "RFC 1413's advice to wait at least 30 s",
    },
    AppTimer {
        seconds: 10.0,
        who: "tcp_wrappers rfc931 (RFC931_TIMEOUT 10 s)",
    },
    AppTimer {
        seconds: 10.0,
        who: "Squid ident_timeout (10 s)",
    },
    AppTimer {
        seconds: 5.0,
        who: "sendmail 8.10+ (Timeout.ident 5 s)",
    },
    AppTimer {
        seconds: 5.0,
        who: "exim 4.61 to 4.85 (rfc1413_query_timeout 5 s)",
    },
    AppTimer {
        seconds: 5.0,
        who: "InspIRCd useident (5 s)",
    },
];

/// Timers within half a second (or 3 %) of `seconds`.
pub fn matching_timers(seconds: f64) -> Vec<&'static AppTimer> {
    APP_TIMERS
        .iter()
        .filter(|t| (t.seconds - seconds).abs() <= (t.seconds * 0.03).max(0.5))
        .collect()
}

/// glibc resolver: 5 s per try (`options timeout:`), 2 attempts.
pub const RESOLVER_TRY_SECONDS: f64 = 5.0;

/// A change that removes the cause, with the exact lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Remedy {
    /// What it applies to: the program, device or host.
    pub target: String,
    pub action: String,
    /// The lines to write or run, verbatim.
    pub lines: Vec<String>,
    /// Where the lines go, when a file.
    pub file: Option<String>,
}

fn remedy(target: &str, action: &str, lines: &[&str], file: Option<&str>) -> Remedy {
    Remedy {
        target: target.into(),
        action: action.into(),
        lines: lines.iter().map(|l| l.to_string()).collect(),
        file: file.map(Into::into),
    }
}

/// How to end an ident wait, most likely first given the timer seen.
pub fn ident_remedies(give_up: Option<f64>, service_port: u16) -> Vec<Remedy> {
    let mut server = vec![
        remedy(
            "xinetd",
            "stop the USERID lookup: remove USERID from log_on_success and log_on_failure, then reload xinetd",
            &["log_on_success -= USERID", "log_on_failure -= USERID"],
            Some("/etc/xinetd.conf and /etc/xinetd.d/*"),
        ),
        remedy(
            "sendmail",
            "turn off the ident lookup",
            &["O Timeout.ident=0", "define(`confTO_IDENT', `0')dnl"],
            Some("sendmail.cf (first line), or the .mc file (second line) and rebuild sendmail.cf"),
        ),
        remedy("exim", "turn off the ident lookup", &["rfc1413_query_timeout = 0s"], Some("exim.conf (main section)")),
        remedy(
            "tcp_wrappers",
            "drop the rfc931 option from the rules (and do not build with -DALWAYS_RFC931)",
            &["# remove ': rfc931' or ': rfc931 N' from the matching line"],
            Some("/etc/hosts.allow"),
        ),
        remedy("ProFTPD", "turn off the ident lookup (on by default)", &["IdentLookups off"], Some("proftpd.conf")),
        remedy("Apache httpd", "turn off mod_ident", &["IdentityCheck Off"], Some("httpd.conf")),
    ];
    // Put the programs whose timer and service fit first.
    let rank = |r: &Remedy| -> u8 {
        let timer_fits =
            |secs: f64| give_up.is_some_and(|g| (g - secs).abs() <= (secs * 0.03).max(0.5));
        match r.target.as_str() {
            "xinetd" if timer_fits(30.0) => 0,
            "sendmail"
                if (service_port == 25 || service_port == 587)
                    && (timer_fits(30.0) || timer_fits(5.0)) =>
            {
                0
            }
            "exim"
                if (service_port == 25 || service_port == 587)
                    && (timer_fits(30.0) || timer_fits(5.0)) =>
            {
                0
            }
            "tcp_wrappers" if timer_fits(10.0) => 0,
            "ProFTPD" if service_port == 21 => 0,
            "Apache httpd" if service_port == 80 && timer_fits(30.0) => 0,
            _ => 1,
        }
    };
    server.sort_by_key(rank);
    server.push(remedy(
        "the firewall or NAT device in the path",
        "refuse ident with a TCP reset instead of dropping it, so the lookup fails at once",
        &[
            "nft add rule inet filter input tcp dport 113 reject with tcp reset",
            "iptables -A INPUT -p tcp --dport 113 -j REJECT --reject-with tcp-reset",
        ],
        None,
    ));
    server.push(remedy(
        "the NAT device (answer ident instead)",
        "run oidentd with --masquerade, and map the inside network in /etc/oidentd_masq.conf (host[/mask] response system-type), so lookups get an answer",
        &["oidentd --masquerade", "192.168.1.0/24  UNKNOWN  UNIX"],
        None,
    ));
    server
}

/// How to end a reverse-DNS wait.
pub fn dns_remedies() -> Vec<Remedy> {
    vec![
        remedy("sshd", "stop the reverse lookup of clients", &["UseDNS no"], Some("/etc/ssh/sshd_config")),
        remedy(
            "the resolver of the waiting host",
            "make a failing lookup end sooner",
            &["options timeout:1 attempts:1"],
            Some("/etc/resolv.conf"),
        ),
        remedy(
            "the DNS server or firewall in the path",
            "answer or refuse PTR queries for the client range instead of dropping them",
            &["# serve the in-addr.arpa zone of the client network, or let UDP/53 replies through"],
            None,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_services_of_both_kinds() {
        assert_eq!(service_name(110), Some("POP3"));
        assert_eq!(service_name(113), Some("ident"));
        assert_eq!(service_name(40000), None);
    }

    #[test]
    fn seed_schedule_is_linux_2_4_and_not_windows() {
        let seed = [2.988603, 8.979081, 20.960387];
        let names: Vec<_> = SYN_SCHEDULES
            .iter()
            .filter(|s| schedule_matches(s, &seed))
            .map(|s| s.stack)
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].starts_with("Linux 2.4"));
    }

    #[test]
    fn thirty_seconds_is_an_ident_timer() {
        let t = matching_timers(29.960);
        assert!(t.iter().any(|t| t.who.starts_with("xinetd")));
        assert!(t.iter().all(|t| t.seconds == 30.0));
        assert!(matching_timers(21.0).is_empty());
    }
}
