//! Scenarios are data: one TOML file each in `crates/lab/scenarios/`,
//! built into the binary, naming the topology, the behaviours and the
//! expected outcome that the tests replay.

use serde::Deserialize;

use crate::actors::Protocol;
use crate::error::LabError;

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    #[default]
    /// client — firewall (NAT) — server, as the seed's environments 1 and 3.
    Nat,
    /// client straight on the server's link, as environment 2.
    Direct,
}

/// What the NAT firewall does with an unsolicited SYN to its tcp/113.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FirewallBehaviour {
    /// Drops it silently (firmware 2.6.40).
    Drop,
    /// Answers with a TCP RST (firmware 2.6.06; the "send reset" option).
    Reset,
    /// ICMP port unreachable (RFC 5382 REQ-4).
    Icmp,
    /// Forwards it (DNAT) to an identd on the client.
    Forward,
}

/// What the directly connected client does with the SYN.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientFirewall {
    /// Drops it (Windows Firewall's stealth mode).
    Stealth,
    /// No rule: the kernel answers a closed port with a RST.
    None,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectGreeting {
    /// About the ident timeout.
    Timeout,
    /// Well before the timeout, after an error that took a moment.
    Early,
    /// At once.
    Fast,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectCallback {
    Unanswered,
    Refused,
    Icmp,
    Answered,
    None,
}

/// What a run must show. A login scenario names the greeting and the
/// callback; a fault scenario names the finding, the capture points that
/// must name it and those that must not (the packets never got there),
/// and the bounds of the wait its client measures.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub greeting: Option<ExpectGreeting>,
    #[serde(default)]
    pub callback: Option<ExpectCallback>,
    /// The finding id `analyze` must report.
    #[serde(default)]
    pub finding: Option<String>,
    #[serde(default)]
    pub at: Vec<String>,
    #[serde(default)]
    pub not_at: Vec<String>,
    /// Seconds the client's measured wait lies within.
    #[serde(default)]
    pub delay_min: Option<f64>,
    #[serde(default)]
    pub delay_max: Option<f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    /// The seed's open question this answers.
    pub question: String,
    /// A network fault (see `faults/`), instead of the seed's login.
    #[serde(default)]
    pub fault: Option<String>,
    #[serde(default)]
    pub topology: Topology,
    #[serde(default)]
    pub firewall: Option<FirewallBehaviour>,
    #[serde(default)]
    pub client_firewall: Option<ClientFirewall>,
    /// Whether the server makes ident lookups at all.
    #[serde(default)]
    pub ident: bool,
    /// What the server speaks: POP3 (the seed's) or SMTP (sendmail's banner).
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// Seconds the server waits for ident when the scenario fixes it (as
    /// sendmail 8.10+ does: 5); otherwise the run's `--ident-timeout`.
    #[serde(default)]
    pub ident_timeout: Option<f64>,
    /// Milliseconds the server pauses before its greeting (sendmail's
    /// greet_pause).
    #[serde(default)]
    pub greet_pause_ms: u64,
    #[serde(default = "default_user")]
    pub ident_user: String,
    pub expect: Expect,
}

fn default_protocol() -> Protocol {
    Protocol::Pop3
}

fn default_user() -> String {
    "alice".into()
}

const BUILT_IN: &[(&str, &str)] = &[
    ("env1-drop", include_str!("../scenarios/env1-drop.toml")),
    ("env3-reset", include_str!("../scenarios/env3-reset.toml")),
    ("nat-icmp", include_str!("../scenarios/nat-icmp.toml")),
    (
        "nat-forward-identd",
        include_str!("../scenarios/nat-forward-identd.toml"),
    ),
    ("ident-off", include_str!("../scenarios/ident-off.toml")),
    (
        "env2-stealth",
        include_str!("../scenarios/env2-stealth.toml"),
    ),
    ("env2-open", include_str!("../scenarios/env2-open.toml")),
    (
        "sendmail-ident-pause",
        include_str!("../scenarios/sendmail-ident-pause.toml"),
    ),
    (
        "request-loss",
        include_str!("../scenarios/request-loss.toml"),
    ),
    ("zero-window", include_str!("../scenarios/zero-window.toml")),
    ("nagle", include_str!("../scenarios/nagle.toml")),
    (
        "pmtu-black-hole",
        include_str!("../scenarios/pmtu-black-hole.toml"),
    ),
    (
        "listen-backlog",
        include_str!("../scenarios/listen-backlog.toml"),
    ),
    (
        "idle-timeout",
        include_str!("../scenarios/idle-timeout.toml"),
    ),
    (
        "ipv6-fallback",
        include_str!("../scenarios/ipv6-fallback.toml"),
    ),
    ("refused", include_str!("../scenarios/refused.toml")),
    (
        "sendmail-ident",
        include_str!("../scenarios/sendmail-ident.toml"),
    ),
    ("smtp-ptr", include_str!("../scenarios/smtp-ptr.toml")),
    ("ssh-usedns", include_str!("../scenarios/ssh-usedns.toml")),
    (
        "dns-aaaa-race",
        include_str!("../scenarios/dns-aaaa-race.toml"),
    ),
    ("env1-xinetd", include_str!("../scenarios/env1-xinetd.toml")),
    ("nat-oidentd", include_str!("../scenarios/nat-oidentd.toml")),
];

impl Scenario {
    pub fn parse(file: &str, text: &str) -> Result<Scenario, LabError> {
        let s: Scenario = toml::from_str(text).map_err(|e| LabError::Scenario {
            name: file.into(),
            detail: e.to_string(),
        })?;
        let bad = |detail: &str| {
            Err(LabError::Scenario {
                name: s.name.clone(),
                detail: detail.into(),
            })
        };
        if let Some(f) = &s.fault {
            return match (
                crate::faults::by_name(f),
                s.firewall,
                s.client_firewall,
                s.topology,
                &s.expect.finding,
            ) {
                (None, ..) => bad(&format!("no fault named `{f}`")),
                (_, None, None, Topology::Nat, Some(_)) => Ok(s),
                (_, _, _, _, None) => bad("a fault scenario names the `finding` it expects"),
                _ => bad("a fault scenario runs behind the NAT firewall and names no `firewall`"),
            };
        }
        if s.expect.greeting.is_none() || s.expect.callback.is_none() {
            return bad("a login scenario expects a `greeting` and a `callback`");
        }
        match (s.topology, s.firewall, s.client_firewall) {
            (Topology::Nat, Some(_), None) | (Topology::Direct, None, Some(_)) => Ok(s),
            (Topology::Nat, _, _) => {
                bad("a nat scenario names `firewall` and not `client_firewall`")
            }
            (Topology::Direct, _, _) => {
                bad("a direct scenario names `client_firewall` and not `firewall`")
            }
        }
    }

    /// Every scenario built into stalltrace, in a stable order.
    pub fn built_in() -> Vec<Scenario> {
        BUILT_IN
            .iter()
            .map(|(n, t)| Scenario::parse(n, t).expect("built-in scenarios parse"))
            .collect()
    }

    /// A built-in scenario by name, or a scenario file by path.
    pub fn find(name_or_path: &str) -> Result<Scenario, LabError> {
        if let Some(s) = Scenario::built_in()
            .into_iter()
            .find(|s| s.name == name_or_path)
        {
            return Ok(s);
        }
        let p = std::path::Path::new(name_or_path);
        if p.is_file() {
            let text = std::fs::read_to_string(p)
                .map_err(crate::error::io_err(format!("reading {name_or_path}")))?;
            return Scenario::parse(name_or_path, &text);
        }
        Err(LabError::UnknownScenario(name_or_path.into()))
    }

    /// The ident timeout a run uses: the scenario's own, else `asked`.
    pub fn ident_timeout_or(&self, asked: std::time::Duration) -> std::time::Duration {
        self.ident_timeout
            .map(std::time::Duration::from_secs_f64)
            .unwrap_or(asked)
    }

    /// "drop", "reset", ... or "stealth"/"kernel RST" for the client, or
    /// the fault's name.
    pub fn behaviour(&self) -> String {
        if let Some(f) = &self.fault {
            return f.clone();
        }
        match (self.firewall, self.client_firewall) {
            (Some(f), _) => format!("{f:?}").to_lowercase(),
            (_, Some(ClientFirewall::Stealth)) => "client stealth".into(),
            (_, Some(ClientFirewall::None)) => "client kernel RST".into(),
            _ => "-".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_scenarios_parse_and_have_unique_names() {
        let all = Scenario::built_in();
        assert_eq!(all.len(), BUILT_IN.len());
        let mut names: Vec<_> = all.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), BUILT_IN.len());
    }

    #[test]
    fn contradictory_scenarios_are_refused() {
        let e = Scenario::parse(
            "x",
            "name='x'\ntitle='t'\nquestion='q'\ntopology='direct'\nfirewall='drop'\nident=true\n[expect]\ngreeting='fast'\ncallback='none'\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("direct scenario names `client_firewall`"),
            "{e}"
        );
    }
}
