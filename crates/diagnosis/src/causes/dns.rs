//! DNS lookups by the waiting server: most often the reverse lookup of the
//! client (sshd `UseDNS`, sendmail, Postfix, FTP daemons, MySQL, Apache
//! `HostnameLookups`). A dropped query costs the resolver's timeout: glibc
//! waits 5 s per try (`options timeout:`), 2 tries (`attempts:`), per name
//! server. Sources: `docs/field-facts.md`.

use stalltrace_conversations::Conversation;

use super::{Cause, RemedyCx};
use crate::facts::services::DNS_PORT;
use crate::facts::Daemon;
use crate::finding::{CallbackKind, Severity};
use crate::remedy::{literal, Remedy, Target, Text};

pub(crate) struct Dns;

impl Cause for Dns {
    fn kind(&self) -> Option<CallbackKind> {
        Some(CallbackKind::Dns)
    }

    fn recognises(&self, k: &Conversation) -> bool {
        k.server.port == DNS_PORT
    }

    fn remedies(&self, cx: &RemedyCx) -> Vec<Remedy> {
        let seen = cx.daemon.map(|d| d.daemon);
        let port = cx.server.port;
        let service = |ports: &[u16]| ports.contains(&port);
        // (remedy, the daemon it is for, plausible here)
        let candidates: Vec<(Remedy, Option<Daemon>, bool)> = vec![
            (
                Remedy::new(
                    Target::Daemon { daemon: Daemon::OpenSsh },
                    Text::new("stop the reverse lookup of clients (the default since OpenSSH 6.8)", "停止对客户端的反向解析（OpenSSH 6.8 起的默认值）"),
                    &["UseDNS no"],
                )
                .file("/etc/ssh/sshd_config"),
                Some(Daemon::OpenSsh),
                service(&[22]),
            ),
            (
                Remedy::new(
                    Target::Daemon { daemon: Daemon::Postfix },
                    Text::new("stop the reverse lookup of SMTP clients", "停止对 SMTP 客户端的反向解析"),
                    &["smtpd_peername_lookup = no"],
                )
                .file("/etc/postfix/main.cf"),
                Some(Daemon::Postfix),
                service(&[25, 587]),
            ),
            (
                Remedy::new(
                    Target::Daemon { daemon: Daemon::Sendmail },
                    Text::new(
                        "sendmail always looks the client up: make a failing lookup give up sooner (the .mc lines, then rebuild sendmail.cf)",
                        "sendmail 总会反查客户端：让失败的查询更快放弃（写入 .mc 文件后重新生成 sendmail.cf）",
                    ),
                    &["define(`confTO_RESOLVER_RETRANS', `2s')dnl", "define(`confTO_RESOLVER_RETRY', `1')dnl"],
                )
                .file("sendmail.mc"),
                Some(Daemon::Sendmail),
                service(&[25, 587]),
            ),
            (
                Remedy::new(
                    Target::Daemon { daemon: Daemon::Vsftpd },
                    Text::new("stop the reverse lookup of clients", "停止对客户端的反向解析"),
                    &["reverse_lookup_enable=NO"],
                )
                .file("/etc/vsftpd.conf"),
                Some(Daemon::Vsftpd),
                service(&[21]),
            ),
            (
                Remedy::new(
                    Target::Daemon { daemon: Daemon::ProFtpd },
                    Text::new("stop the reverse lookup of clients", "停止对客户端的反向解析"),
                    &["UseReverseDNS off"],
                )
                .file("proftpd.conf"),
                Some(Daemon::ProFtpd),
                service(&[21]),
            ),
            (
                Remedy::new(
                    Target::Daemon { daemon: Daemon::MySql },
                    Text::new("stop resolving client names (grants must then use addresses)", "停止解析客户端主机名（授权须改用地址）"),
                    &["[mysqld]", "skip-name-resolve"],
                )
                .file("my.cnf"),
                Some(Daemon::MySql),
                service(&[3306]),
            ),
            (
                Remedy::new(
                    Target::Program { name: "Apache httpd".into() },
                    Text::new("stop looking up client names", "停止查询客户端主机名"),
                    &["HostnameLookups Off"],
                )
                .file("httpd.conf"),
                None,
                service(&[80, 443]),
            ),
        ];
        let mut kept: Vec<(u8, Remedy)> = candidates
            .into_iter()
            .filter_map(|(r, daemon, plausible)| {
                let rank = match (daemon, seen) {
                    (Some(d), Some(s))
                        if d == s || (d == Daemon::MySql && s == Daemon::MariaDb) =>
                    {
                        0
                    }
                    (Some(_), Some(_)) => return None,
                    _ if plausible => 1,
                    _ => return None,
                };
                Some((rank, r))
            })
            .collect();
        kept.sort_by_key(|(rank, _)| *rank);
        let mut out: Vec<Remedy> = kept.into_iter().map(|(_, r)| r).collect();
        out.push(
            Remedy::new(
                Target::Resolver {
                    host: cx.server.host.clone(),
                },
                Text::new("make a failing lookup end sooner", "让失败的查询更快结束"),
                &["options timeout:1 attempts:1"],
            )
            .file("/etc/resolv.conf"),
        );
        if cx.severity == Severity::Info {
            out.truncate(1);
            return out;
        }
        if let Some(cb) = cx.callback {
            let resolver = &cb.conversation.server;
            let client = literal(&cx.client.host).unwrap_or_else(|| cx.client.host.to_string());
            out.push(
                Remedy::new(
                    Target::DnsPath,
                    Text::new(
                        format!("answer (or refuse at once) the reverse lookups of the client range on the name server {resolver}, and let its replies through, instead of dropping them"),
                        format!("让名称服务器 {resolver} 应答（或立即拒绝）客户端网段的反向查询，并放行其应答，而不是丢弃"),
                    ),
                    &[],
                )
                .lines(vec![format!("# a PTR zone (in-addr.arpa / ip6.arpa) that covers {client}")])
                .in_network(),
            );
        }
        out
    }
}
