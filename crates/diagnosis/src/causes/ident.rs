//! RFC 1413 ident: a server that asks the client's tcp/113 who the user
//! is before it greets (xinetd's `USERID`, sendmail, exim, tcp_wrappers'
//! `rfc931`, ProFTPD, Apache's mod_ident). Behind NAT the lookup goes to
//! the NAT device, which may drop it; a desktop firewall in stealth mode
//! drops it too. Then the server waits for its timer: 30 s (xinetd, RFC
//! 1413's advice, sendmail before 8.10), 10 s (tcp_wrappers, Squid), 5 s
//! (sendmail 8.10+, exim 4.61-4.85). Sources: `docs/field-facts.md`.

use stalltrace_conversations::{Conversation, Protocol};
use stalltrace_decode::Host;

use super::{Cause, RemedyCx};
use crate::facts::services::IDENT_PORT;
use crate::facts::{Daemon, TimerPurpose};
use crate::finding::{CallbackKind, Fate, Severity};
use crate::remedy::{literal, Remedy, Target, Text};

pub(crate) struct Ident;

impl Cause for Ident {
    fn kind(&self) -> Option<CallbackKind> {
        Some(CallbackKind::Ident)
    }

    fn recognises(&self, k: &Conversation) -> bool {
        k.protocol == Protocol::Tcp && k.server.port == IDENT_PORT
    }

    /// A lookup asks the client it is about: on a busy server another
    /// session's lookup may line up by chance, but it goes to another
    /// address, and is none of this wait's.
    fn about(&self, k: &Conversation, waiting: &Conversation) -> Option<bool> {
        Some(k.server.host == waiting.client.host)
    }

    fn give_up_timers(&self) -> Option<TimerPurpose> {
        Some(TimerPurpose::Ident)
    }

    fn remedies(&self, cx: &RemedyCx) -> Vec<Remedy> {
        let Some(cb) = cx.callback else {
            return Vec::new();
        };
        let mut out = on_server(cx);
        if cx.severity == Severity::Info {
            // A lookup that cost little: one word of advice, not six daemons.
            out.truncate(1);
            return out;
        }
        // Only a lookup that waited for nothing needs the network changed.
        if matches!(cb.fate, Fate::Unanswered | Fate::IcmpError { .. }) {
            out.extend(in_network(cx, &cb.conversation.server.host));
        }
        out
    }
}

/// Turning the lookup off on the server, the daemon the banner names
/// first, then those whose timer fits, then the rest that serve this
/// service.
fn on_server(cx: &RemedyCx) -> Vec<Remedy> {
    let smtp = cx.service.is_some_and(|s| s.is_smtp());
    let port = cx.server.port;
    let seen = cx.daemon.map(|d| d.daemon);
    let timer = |id: &str| {
        cx.callback
            .is_some_and(|cb| cb.timer_matches.iter().any(|t| t.id == id))
    };
    // (remedy, its daemon if a banner can name it, plausible here, timer fits)
    let candidates: Vec<(Remedy, Option<Daemon>, bool, bool)> = vec![
        (
            Remedy::new(
                Target::Program { name: "xinetd".into() },
                Text::new(
                    "stop the USERID lookup: remove USERID from log_on_success and log_on_failure, then reload xinetd",
                    "停止 USERID 查询：从 log_on_success 和 log_on_failure 中去掉 USERID，然后重新加载 xinetd",
                ),
                &["log_on_success -= USERID", "log_on_failure -= USERID"],
            )
            .file("/etc/xinetd.conf, /etc/xinetd.d/*"),
            None,
            // A daemon that runs on its own (named by its banner) is not
            // started by xinetd as a rule.
            seen.is_none(),
            timer("xinetd-userid"),
        ),
        (
            Remedy::new(
                Target::Daemon { daemon: Daemon::Sendmail },
                Text::new(
                    "turn off the ident lookup (first line in sendmail.cf; or the second in the .mc file, then rebuild sendmail.cf)",
                    "关闭 ident 查询（第一行写入 sendmail.cf；或把第二行写入 .mc 文件后重新生成 sendmail.cf）",
                ),
                &["O Timeout.ident=0", "define(`confTO_IDENT', `0')dnl"],
            )
            .file("sendmail.cf / sendmail.mc"),
            Some(Daemon::Sendmail),
            smtp,
            timer("sendmail-ident") || timer("sendmail-ident-before-8.10"),
        ),
        (
            Remedy::new(
                Target::Daemon { daemon: Daemon::Exim },
                Text::new("turn off the ident lookup (main section)", "关闭 ident 查询（主配置段）"),
                &["rfc1413_query_timeout = 0s"],
            )
            .file("exim.conf"),
            Some(Daemon::Exim),
            smtp,
            timer("exim-ident") || timer("exim-ident-before-4.61"),
        ),
        (
            Remedy::new(
                Target::Program { name: "tcp_wrappers".into() },
                Text::new(
                    "drop the rfc931 option from the matching rule (and do not build with -DALWAYS_RFC931)",
                    "从匹配的规则中去掉 rfc931 选项（编译时也不要使用 -DALWAYS_RFC931）",
                ),
                &["# remove ': rfc931' or ': rfc931 N' from the matching line"],
            )
            .file("/etc/hosts.allow"),
            None,
            true,
            timer("tcp-wrappers-rfc931"),
        ),
        (
            Remedy::new(
                Target::Daemon { daemon: Daemon::ProFtpd },
                Text::new("turn off the ident lookup (on by default)", "关闭 ident 查询（默认开启）"),
                &["IdentLookups off"],
            )
            .file("proftpd.conf"),
            Some(Daemon::ProFtpd),
            port == 21,
            false,
        ),
        (
            Remedy::new(
                Target::Program { name: "Apache httpd".into() },
                Text::new("turn off mod_ident", "关闭 mod_ident"),
                &["IdentityCheck Off"],
            )
            .file("httpd.conf"),
            None,
            port == 80 || port == 443,
            timer("apache-identitycheck"),
        ),
    ];
    let mut kept: Vec<(u8, Remedy)> = candidates
        .into_iter()
        .filter_map(|(r, daemon, plausible, fits)| {
            let rank = match (daemon, seen) {
                (Some(d), Some(s)) if d == s => 0,
                // Another daemon than the banner names: not this one's.
                (Some(_), Some(_)) => return None,
                _ if fits && plausible => 1,
                _ if plausible => 2,
                _ => return None,
            };
            Some((rank, r))
        })
        .collect();
    kept.sort_by_key(|(rank, _)| *rank);
    kept.into_iter().map(|(_, r)| r).collect()
}

/// Making the lookup fail at once, where the capture shows it died: on
/// the NAT device the points put between them, on the addressee's own
/// host when it was seen discarding it, else on whatever stands at the
/// address it went to.
fn in_network(cx: &RemedyCx, target: &Host) -> Vec<Remedy> {
    let server = &cx.server.host;
    let v6 = matches!(target, Host::V6(_));
    let mut out = Vec::new();
    if let Some(d) = cx.addressee_discards {
        if d.ttl > 64 {
            // A Windows host (initial TTL 128): its firewall's stealth mode
            // drops what no program listens for.
            out.push(
                Remedy::new(
                    Target::CallbackTarget { host: target.clone() },
                    Text::new(
                        "let tcp/113 through the host's firewall: with no ident server listening, its stack then refuses the lookup with a RST at once instead of the firewall dropping it silently (stealth mode)",
                        "在该主机的防火墙上放行 tcp/113：没有 ident 服务在监听时，协议栈会立即以 RST 拒绝查询，而不是被防火墙（隐身模式）静默丢弃",
                    ),
                    &["netsh advfirewall firewall add rule name=\"ident refuse\" dir=in action=allow protocol=TCP localport=113"],
                )
                .in_network(),
            );
            return out;
        }
    }
    let reject = reject_lines(server, v6);
    match cx.nat {
        Some(nat) => {
            out.push(
                Remedy::new(
                    Target::NatDevice { outside: nat.outside.host.clone() },
                    Text::new(
                        "refuse ident with a TCP reset instead of dropping it, so the lookup fails at once (the seed's older firmware did; RFC 5382 REQ-4 allows it)",
                        "对 ident 回以 TCP RST 而不是丢弃，让查询立即失败（种子案例中旧版固件即如此；RFC 5382 REQ-4 允许）",
                    ),
                    &[],
                )
                .lines(reject)
                .in_network(),
            );
            let inside = nat.inside.host.to_string();
            out.push(
                Remedy::new(
                    Target::NatDevice { outside: nat.outside.host.clone() },
                    Text::new(
                        "or answer ident for the inside host: run oidentd with --masquerade and map the inside address in /etc/oidentd_masq.conf (host[/mask] response system-type)",
                        "或替内网主机应答 ident：以 --masquerade 运行 oidentd，并在 /etc/oidentd_masq.conf 中配置内网地址（host[/mask] response system-type）",
                    ),
                    &[],
                )
                .lines(vec![
                    "oidentd --masquerade".into(),
                    format!("{inside}  UNKNOWN  UNIX"),
                ])
                .in_network(),
            );
        }
        None => out.push(
            Remedy::new(
                Target::CallbackTarget { host: target.clone() },
                Text::new(
                    "refuse ident with a TCP reset instead of dropping it, so the lookup fails at once",
                    "对 ident 回以 TCP RST 而不是丢弃，让查询立即失败",
                ),
                &[],
            )
            .lines(reject)
            .in_network(),
        ),
    }
    out
}

/// nftables and iptables lines that refuse tcp/113 from the waiting
/// server with a reset, for the IP version seen.
fn reject_lines(server: &Host, v6: bool) -> Vec<String> {
    let addr = literal(server);
    let (nft_from, ipt_from) = match (&addr, v6) {
        (Some(a), false) => (format!("ip saddr {a} "), format!(" -s {a}")),
        (Some(a), true) => (format!("ip6 saddr {a} "), format!(" -s {a}")),
        (None, _) => (String::new(), String::new()),
    };
    let ipt = if v6 { "ip6tables" } else { "iptables" };
    vec![
        format!("nft add rule inet filter input {nft_from}tcp dport 113 reject with tcp reset"),
        format!("{ipt} -A INPUT -p tcp{ipt_from} --dport 113 -j REJECT --reject-with tcp-reset"),
    ]
}
