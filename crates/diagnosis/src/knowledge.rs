//! What the field knows: which services speak first, how stacks retry a SYN,
//! which programs wait how long for a callback, and how to turn them off.
//! Sources are in `docs/field-facts.md` (copied from the project's shared
//! notes); re-check a fact there before changing it here.

use serde::Serialize;

use crate::lang::Lang;

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
    pub stack_zh: &'static str,
    pub retries: &'static [f64],
    pub gives_up: Option<f64>,
}

pub const SYN_SCHEDULES: &[SynSchedule] = &[
    SynSchedule {
        stack: "Linux 2.4 (initial RTO 3 s, doubling; RFC 1122)",
        stack_zh: "Linux 2.4（初始 RTO 3 秒，逐次加倍；RFC 1122）",
        retries: &[3.0, 9.0, 21.0, 45.0, 93.0],
        gives_up: Some(189.0),
    },
    SynSchedule {
        stack: "Linux 3.7 to 6.4 (initial RTO 1 s, doubling; RFC 6298)",
        stack_zh: "Linux 3.7 至 6.4（初始 RTO 1 秒，逐次加倍；RFC 6298）",
        retries: &[1.0, 3.0, 7.0, 15.0, 31.0, 63.0],
        gives_up: Some(127.0),
    },
    SynSchedule {
        stack: "Linux 6.5+ (tcp_syn_linear_timeouts 4, then doubling)",
        stack_zh: "Linux 6.5 及以上（tcp_syn_linear_timeouts 4，之后加倍）",
        retries: &[1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0],
        gives_up: Some(131.0),
    },
    SynSchedule {
        stack: "Windows XP/2003/7/2008 R2 (3 s, 2 retries)",
        stack_zh: "Windows XP/2003/7/2008 R2（3 秒，重传 2 次）",
        retries: &[3.0, 9.0],
        gives_up: Some(21.0),
    },
    SynSchedule {
        stack: "macOS/iOS (1 s steps, then doubling)",
        stack_zh: "macOS/iOS（先以 1 秒递增，之后加倍）",
        retries: &[1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0],
        gives_up: None,
    },
    SynSchedule {
        stack: "DragonFly BSD (3 s steps)",
        stack_zh: "DragonFly BSD（以 3 秒递增）",
        retries: &[3.0, 6.0, 9.0, 12.0, 15.0, 21.0, 33.0, 57.0],
        gives_up: Some(57.0),
    },
];

impl SynSchedule {
    pub fn name(&self, l: Lang) -> &'static str {
        tr!(l, self.stack, self.stack_zh)
    }
}

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
    /// The program and its setting, in English.
    #[serde(rename = "who")]
    pub who_en: &'static str,
    #[serde(skip)]
    #[schemars(skip)]
    pub who_zh: &'static str,
}

impl AppTimer {
    pub fn who(&self, l: Lang) -> &'static str {
        tr!(l, self.who_en, self.who_zh)
    }
}

const fn timer(seconds: f64, who_en: &'static str, who_zh: &'static str) -> AppTimer {
    AppTimer {
        seconds,
        who_en,
        who_zh,
    }
}

pub const APP_TIMERS: &[AppTimer] = &[
    timer(
        30.0,
        "xinetd USERID lookup (log_on_success/log_on_failure, 30 s compiled in)",
        "xinetd 的 USERID 查询（log_on_success/log_on_failure，编译时固定 30 秒）",
    ),
    timer(
        30.0,
        "sendmail before 8.10 (Timeout.ident 30 s)",
        "8.10 之前的 sendmail（Timeout.ident 30 秒）",
    ),
    timer(
        30.0,
        "exim before 4.61 (rfc1413_query_timeout 30 s)",
        "4.61 之前的 exim（rfc1413_query_timeout 30 秒）",
    ),
    timer(
        30.0,
        "Apache mod_ident (IdentityCheckTimeout 30)",
        "Apache mod_ident（IdentityCheckTimeout 30）",
    ),
    timer(
        30.0,
        "RFC 1413's advice to wait at least 30 s",
        "RFC 1413 建议至少等待 30 秒",
    ),
    timer(
        10.0,
        "tcp_wrappers rfc931 (RFC931_TIMEOUT 10 s)",
        "tcp_wrappers 的 rfc931（RFC931_TIMEOUT 10 秒）",
    ),
    timer(
        10.0,
        "Squid ident_timeout (10 s)",
        "Squid 的 ident_timeout（10 秒）",
    ),
    timer(
        5.0,
        "sendmail 8.10+ (Timeout.ident 5 s)",
        "8.10 及以后的 sendmail（Timeout.ident 5 秒）",
    ),
    timer(
        5.0,
        "exim 4.61 to 4.85 (rfc1413_query_timeout 5 s)",
        "exim 4.61 至 4.85（rfc1413_query_timeout 5 秒）",
    ),
    timer(
        5.0,
        "InspIRCd useident (5 s)",
        "InspIRCd 的 useident（5 秒）",
    ),
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
    /// A change on the waiting server itself (rather than in the network).
    pub on_server: bool,
}

fn remedy(
    target: String,
    action: &str,
    lines: &[&str],
    file: Option<String>,
    on_server: bool,
) -> Remedy {
    Remedy {
        target,
        action: action.into(),
        lines: lines.iter().map(|l| l.to_string()).collect(),
        file,
        on_server,
    }
}

/// How to end an ident wait, most likely first given the timer seen.
pub fn ident_remedies(l: Lang, give_up: Option<f64>, service_port: u16) -> Vec<Remedy> {
    let t = |s: &str| s.to_string();
    let mut server = vec![
        remedy(
            t("xinetd"),
            tr!(l, "stop the USERID lookup: remove USERID from log_on_success and log_on_failure, then reload xinetd", "停止 USERID 查询：从 log_on_success 和 log_on_failure 中去掉 USERID，然后重新加载 xinetd"),
            &["log_on_success -= USERID", "log_on_failure -= USERID"],
            Some(t("/etc/xinetd.conf, /etc/xinetd.d/*")),
            true,
        ),
        remedy(
            t("sendmail"),
            tr!(l, "turn off the ident lookup (first line in sendmail.cf; or the second in the .mc file, then rebuild sendmail.cf)", "关闭 ident 查询（第一行写入 sendmail.cf；或把第二行写入 .mc 文件后重新生成 sendmail.cf）"),
            &["O Timeout.ident=0", "define(`confTO_IDENT', `0')dnl"],
            Some(t("sendmail.cf / sendmail.mc")),
            true,
        ),
        remedy(t("exim"), tr!(l, "turn off the ident lookup (main section)", "关闭 ident 查询（主配置段）"), &["rfc1413_query_timeout = 0s"], Some(t("exim.conf")), true),
        remedy(
            t("tcp_wrappers"),
            tr!(l, "drop the rfc931 option from the matching rule (and do not build with -DALWAYS_RFC931)", "从匹配的规则中去掉 rfc931 选项（编译时也不要使用 -DALWAYS_RFC931）"),
            &["# remove ': rfc931' or ': rfc931 N' from the matching line"],
            Some(t("/etc/hosts.allow")),
            true,
        ),
        remedy(t("ProFTPD"), tr!(l, "turn off the ident lookup (on by default)", "关闭 ident 查询（默认开启）"), &["IdentLookups off"], Some(t("proftpd.conf")), true),
        remedy(t("Apache httpd"), tr!(l, "turn off mod_ident", "关闭 mod_ident"), &["IdentityCheck Off"], Some(t("httpd.conf")), true),
    ];
    // Put the programs whose timer and service fit first.
    let rank = |r: &Remedy| -> u8 {
        let timer_fits =
            |secs: f64| give_up.is_some_and(|g| (g - secs).abs() <= (secs * 0.03).max(0.5));
        let smtp = service_port == 25 || service_port == 587;
        match r.target.as_str() {
            "xinetd" if timer_fits(30.0) => 0,
            "sendmail" | "exim" if smtp && (timer_fits(30.0) || timer_fits(5.0)) => 0,
            "tcp_wrappers" if timer_fits(10.0) => 0,
            "ProFTPD" if service_port == 21 => 0,
            "Apache httpd" if service_port == 80 && timer_fits(30.0) => 0,
            _ => 1,
        }
    };
    server.sort_by_key(rank);
    server.push(remedy(
        t(tr!(
            l,
            "the firewall or NAT device in the path",
            "路径上的防火墙或 NAT 设备"
        )),
        tr!(
            l,
            "refuse ident with a TCP reset instead of dropping it, so the lookup fails at once",
            "对 ident 回以 TCP RST 而不是丢弃，让查询立即失败"
        ),
        &[
            "nft add rule inet filter input tcp dport 113 reject with tcp reset",
            "iptables -A INPUT -p tcp --dport 113 -j REJECT --reject-with tcp-reset",
        ],
        None,
        false,
    ));
    server.push(remedy(
        t(tr!(l, "the NAT device (answer ident instead)", "NAT 设备（改为应答 ident）")),
        tr!(l, "run oidentd with --masquerade and map the inside network in /etc/oidentd_masq.conf (host[/mask] response system-type), so lookups get an answer", "以 --masquerade 运行 oidentd，并在 /etc/oidentd_masq.conf 中配置内网（host[/mask] response system-type），让查询得到应答"),
        &["oidentd --masquerade", "192.168.1.0/24  UNKNOWN  UNIX"],
        None,
        false,
    ));
    server
}

/// How to end a reverse-DNS wait.
pub fn dns_remedies(l: Lang) -> Vec<Remedy> {
    let t = |s: &str| s.to_string();
    vec![
        remedy(t("sshd"), tr!(l, "stop the reverse lookup of clients", "停止对客户端的反向解析"), &["UseDNS no"], Some(t("/etc/ssh/sshd_config")), true),
        remedy(
            t(tr!(l, "the resolver of the waiting host", "等待方主机的解析器")),
            tr!(l, "make a failing lookup end sooner", "让失败的查询更快结束"),
            &["options timeout:1 attempts:1"],
            Some(t("/etc/resolv.conf")),
            true,
        ),
        remedy(
            t(tr!(l, "the DNS server or firewall in the path", "路径上的 DNS 服务器或防火墙")),
            tr!(l, "answer or refuse PTR queries for the client range instead of dropping them", "对客户端网段的 PTR 查询给出应答或拒绝，而不是丢弃"),
            &["# serve the in-addr.arpa zone of the client network, or let UDP/53 replies through"],
            None,
            false,
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
        assert!(t.iter().any(|t| t.who_en.starts_with("xinetd")));
        assert!(t
            .iter()
            .any(|t| t.who(Lang::ZhCn).starts_with("xinetd 的 USERID")));
        assert!(t.iter().all(|t| t.seconds == 30.0));
        assert!(matching_timers(21.0).is_empty());
    }
}
