//! One table of services: name, ports, who speaks first, and the daemons
//! a banner names. The rules ask it whether the server owes the first word
//! (a greeting) and the remedies ask it which daemon's setting comes first.

use serde::Serialize;
use stalltrace_conversations::{Conversation, Protocol, Side};

/// Who speaks first once the connection is open.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// A banner or greeting (SMTP, POP3, FTP, SSH, ...).
    Server,
    /// A request, then its answer (HTTP, DNS, ...).
    Client,
}

/// A service by its well-known ports.
#[derive(Debug)]
pub struct Service {
    pub name: &'static str,
    pub protocol: Protocol,
    pub ports: &'static [u16],
    pub first: Speaker,
}

const fn tcp(name: &'static str, ports: &'static [u16], first: Speaker) -> Service {
    Service {
        name,
        protocol: Protocol::Tcp,
        ports,
        first,
    }
}

pub const SERVICES: &[Service] = &[
    tcp("FTP", &[21], Speaker::Server),
    tcp("SSH", &[22], Speaker::Server),
    tcp("telnet", &[23], Speaker::Server),
    tcp("SMTP", &[25], Speaker::Server),
    tcp("POP3", &[110], Speaker::Server),
    tcp("ident", &[113], Speaker::Client),
    tcp("NNTP", &[119], Speaker::Server),
    tcp("IMAP", &[143], Speaker::Server),
    tcp("SMTP submission", &[587], Speaker::Server),
    tcp("MySQL", &[3306], Speaker::Server),
    tcp("HTTP", &[80, 8080], Speaker::Client),
    tcp("HTTPS", &[443], Speaker::Client),
    tcp("LDAP", &[389], Speaker::Client),
    tcp("PostgreSQL", &[5432], Speaker::Client),
    tcp("DNS", &[53], Speaker::Client),
    // IRC owes an answer only to its registration (NICK, USER, CAP END:
    // the 001 welcome); the rest is people talking (`wait.rs`).
    tcp("IRC", &[6667, 6697], Speaker::Client),
    Service {
        name: "DNS",
        protocol: Protocol::Udp,
        ports: &[53],
        first: Speaker::Client,
    },
];

/// The port RFC 1413 ident servers listen on.
pub const IDENT_PORT: u16 = 113;
/// DNS, over UDP and TCP.
pub const DNS_PORT: u16 = 53;

impl Service {
    pub fn by_port(protocol: Protocol, port: u16) -> Option<&'static Service> {
        SERVICES
            .iter()
            .find(|s| s.protocol == protocol && s.ports.contains(&port))
    }

    pub fn by_name(protocol: Protocol, name: &str) -> Option<&'static Service> {
        SERVICES
            .iter()
            .find(|s| s.protocol == protocol && s.name == name)
    }

    /// The service of a conversation: by what its first bytes say where
    /// they say it (SSH on port 80 is SSH, and server-first), else by its
    /// server's port.
    pub fn of(c: &Conversation) -> Option<&'static Service> {
        if c.protocol == Protocol::Tcp {
            let server = c.first_head[Side::Server.index()].as_bytes();
            let client = c.first_head[Side::Client.index()].as_bytes();
            if let Some(name) = by_payload(server, client) {
                // The port's own name where it is the same protocol
                // ("SMTP submission" on 587).
                return Service::by_port(c.protocol, c.server.port)
                    .filter(|p| p.name.starts_with(name))
                    .or_else(|| Service::by_name(Protocol::Tcp, name));
            }
        }
        Service::by_port(c.protocol, c.server.port)
    }

    /// The reply code, when `start` (an answer's first bytes) refuses a
    /// login in this service's protocol.
    pub fn refuses_login(&self, start: &[u8]) -> Option<&'static str> {
        match self.name {
            "FTP" if start.starts_with(b"530") => Some("530"),
            "POP3" if start.starts_with(b"-ERR") => Some("-ERR"),
            "SMTP" | "SMTP submission" if start.starts_with(b"535") => Some("535"),
            // IMAP answers with the command's tag first: "a1 NO ...".
            "IMAP" if start.windows(4).any(|w| w == b" NO ") => Some("NO"),
            _ => None,
        }
    }

    pub fn is_smtp(&self) -> bool {
        self.ports.contains(&25) || self.ports.contains(&587)
    }
}

/// The service the first bytes of each side name, when they name one
/// beyond doubt (Wireshark's and Zeek's signatures for these protocols).
fn by_payload(server: &[u8], client: &[u8]) -> Option<&'static str> {
    const METHODS: &[&[u8]] = &[
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
    ];
    let lower = |b: &[u8]| String::from_utf8_lossy(b).to_ascii_lowercase();
    if server.starts_with(b"SSH-") || client.starts_with(b"SSH-") {
        Some("SSH")
    } else if server.starts_with(b"HTTP/1.") || METHODS.iter().any(|m| client.starts_with(m)) {
        Some("HTTP")
    } else if client.starts_with(&[0x16, 0x03]) {
        Some("HTTPS")
    } else if server.starts_with(b"+OK") {
        Some("POP3")
    } else if server.starts_with(b"* OK") {
        Some("IMAP")
    } else if server.starts_with(b"220") && lower(server).contains("ftp") {
        Some("FTP")
    } else if server.starts_with(b"220") && lower(server).contains("smtp") {
        Some("SMTP")
    } else if server.is_empty() || server.starts_with(b":") {
        // IRC: registration opens with CAP LS or NICK (never FTP's USER),
        // and a server line starts with its prefix.
        [&b"CAP LS"[..], b"NICK "]
            .iter()
            .any(|m| client.starts_with(m))
            .then_some("IRC")
    } else {
        None
    }
}

/// A server program a banner can name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Daemon {
    Sendmail,
    Postfix,
    Exim,
    OpenSsh,
    Dropbear,
    Dovecot,
    Courier,
    Cyrus,
    Qpopper,
    Popa3d,
    Vsftpd,
    ProFtpd,
    PureFtpd,
    FileZilla,
    MySql,
    MariaDb,
}

/// Banner needles, matched case-insensitively in the first payload bytes,
/// with the text the version follows.
const BANNERS: &[(&[u8], Daemon)] = &[
    (b"sendmail", Daemon::Sendmail),
    (b"postfix", Daemon::Postfix),
    (b"exim", Daemon::Exim),
    (b"openssh", Daemon::OpenSsh),
    (b"dropbear", Daemon::Dropbear),
    (b"dovecot", Daemon::Dovecot),
    (b"courier", Daemon::Courier),
    (b"cyrus", Daemon::Cyrus),
    (b"qpopper", Daemon::Qpopper),
    (b"popa3d", Daemon::Popa3d),
    (b"vsftpd", Daemon::Vsftpd),
    (b"proftpd", Daemon::ProFtpd),
    (b"pure-ftpd", Daemon::PureFtpd),
    (b"filezilla", Daemon::FileZilla),
    (b"mariadb", Daemon::MariaDb),
    (b"mysql_native_password", Daemon::MySql),
];

impl Daemon {
    /// The name people and package managers use.
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Sendmail => "sendmail",
            Daemon::Postfix => "Postfix",
            Daemon::Exim => "exim",
            Daemon::OpenSsh => "OpenSSH sshd",
            Daemon::Dropbear => "Dropbear",
            Daemon::Dovecot => "Dovecot",
            Daemon::Courier => "Courier",
            Daemon::Cyrus => "Cyrus",
            Daemon::Qpopper => "Qpopper",
            Daemon::Popa3d => "popa3d",
            Daemon::Vsftpd => "vsftpd",
            Daemon::ProFtpd => "ProFTPD",
            Daemon::PureFtpd => "Pure-FTPd",
            Daemon::FileZilla => "FileZilla Server",
            Daemon::MySql => "MySQL",
            Daemon::MariaDb => "MariaDB",
        }
    }
}

/// A daemon named by the server's first words, with its version when the
/// banner gives one ("ESMTP Sendmail 8.17.1.9/8.17.1.9" → 8.17.1.9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DaemonSeen {
    pub daemon: Daemon,
    pub version: Option<String>,
}

impl DaemonSeen {
    /// The daemon a banner names, if any.
    pub fn from_banner(head: &[u8]) -> Option<DaemonSeen> {
        let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
        let (at, needle, daemon) = BANNERS.iter().find_map(|(needle, d)| {
            lower
                .windows(needle.len())
                .position(|w| w == *needle)
                .map(|at| (at, *needle, *d))
        })?;
        // The version: after the name and one separator (" ", "_", "/", "-"),
        // the run of version characters that starts with a digit.
        let rest = &head[at + needle.len()..];
        let rest = rest
            .strip_prefix(b" ")
            .or_else(|| rest.strip_prefix(b"_"))
            .or_else(|| rest.strip_prefix(b"/"))
            .or_else(|| rest.strip_prefix(b"-"))
            .unwrap_or(rest);
        let version: String = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'.')
            .map(|b| *b as char)
            .collect();
        let version = (version.starts_with(|c: char| c.is_ascii_digit())
            && daemon != Daemon::MySql)
            .then_some(version);
        Some(DaemonSeen { daemon, version })
    }

    /// The daemon that answered in conversation `c`, by its banner.
    pub fn of(c: &Conversation) -> Option<DaemonSeen> {
        DaemonSeen::from_banner(c.first_head[Side::Server.index()].as_bytes())
    }

    /// Version as numbers, for comparisons ("8.17.1" → [8, 17, 1]).
    pub fn version_numbers(&self) -> Vec<u32> {
        self.version
            .as_deref()
            .unwrap_or("")
            .split(|c: char| !c.is_ascii_digit())
            .take_while(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_name_their_daemons_and_versions() {
        let cases: &[(&[u8], Daemon, Option<&str>)] = &[
            (
                b"220 mx.example.org ESMTP Sendmail 8.17.1.9/8.17.1.9; Wed, 2 Dec 2026",
                Daemon::Sendmail,
                Some("8.17.1.9"),
            ),
            (
                b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n",
                Daemon::Postfix,
                None,
            ),
            (
                b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
                Daemon::OpenSsh,
                Some("9.2p1"),
            ),
            (b"+OK Dovecot (Debian) ready.\r\n", Daemon::Dovecot, None),
            (b"220 (vsFTPd 3.0.3)\r\n", Daemon::Vsftpd, Some("3.0.3")),
            (
                b"220 ProFTPD Server (Debian) [::ffff:192.0.2.1]\r\n",
                Daemon::ProFtpd,
                None,
            ),
            (
                b"220 host ESMTP Exim 4.96 Wed, 02 Dec 2026\r\n",
                Daemon::Exim,
                Some("4.96"),
            ),
        ];
        for (banner, daemon, version) in cases {
            let d = DaemonSeen::from_banner(banner).unwrap();
            assert_eq!(d.daemon, *daemon, "{}", banner.escape_ascii());
            assert_eq!(d.version.as_deref(), *version, "{}", banner.escape_ascii());
        }
        assert_eq!(DaemonSeen::from_banner(b"+OK POP3 server ready\r\n"), None);
        let s = DaemonSeen::from_banner(b"220 x ESMTP Sendmail 8.17.1/8.17.1").unwrap();
        assert_eq!(s.version_numbers(), vec![8, 17, 1]);
    }

    #[test]
    fn services_by_port() {
        let pop3 = Service::by_port(Protocol::Tcp, 110).unwrap();
        assert_eq!((pop3.name, pop3.first), ("POP3", Speaker::Server));
        assert_eq!(
            Service::by_port(Protocol::Tcp, 80).unwrap().first,
            Speaker::Client
        );
        assert_eq!(Service::by_port(Protocol::Udp, 53).unwrap().name, "DNS");
        assert!(Service::by_port(Protocol::Tcp, 40000).is_none());
    }
}
