//! The seed's login scenarios: what the client measured, and the stall
//! `analyze` finds at each capture point.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use stalltrace::analyze::{analyze, AnalyzeOptions, InputSpec};
use stalltrace_diagnosis::{Fate, Finding, FindingId, Lang};
use stalltrace_lab::{RunOutcome, Scenario};

/// Runs one login scenario and tells what it measured and what `analyze`
/// finds; None when the lab could not run.
pub(super) fn run_one(
    out: &mut impl Write,
    s: &Scenario,
    ident_timeout: Duration,
    dir: &Path,
) -> anyhow::Result<Option<bool>> {
    let r = match stalltrace_lab::run(s, ident_timeout, dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stalltrace lab: {e}");
            return Ok(None);
        }
    };
    describe(out, &r)?;
    let verdict = r.check();
    writeln!(
        out,
        "  expectation ({:?} greeting, {:?} callback): {}",
        s.expect.greeting.expect("a login scenario"),
        s.expect.callback.expect("a login scenario"),
        match &verdict {
            Ok(()) => "met".to_string(),
            Err(e) => format!("NOT met: {e}"),
        }
    )?;
    writeln!(out, "\nWhat `stalltrace analyze` finds in each capture:")?;
    for (point, f) in diagnose(&r) {
        writeln!(
            out,
            "  {point:<8} {}",
            super::one_line(f.as_ref(), "no stall, no lookup")
        )?;
    }
    writeln!(out, "\nFull report: stalltrace analyze {}", dir.display())?;
    Ok(Some(verdict.is_ok()))
}

/// The login scenarios' table; None when the lab could not run.
pub(super) fn matrix(
    out: &mut impl Write,
    scenarios: &[Scenario],
    ident_timeout: Duration,
    base: &Path,
) -> anyhow::Result<Option<bool>> {
    writeln!(
        out,
        "{:<20} {:<18} {:>6} {:>10} {:>9}  {:<40} diagnosis at fw-eth1 / client",
        "scenario", "behaviour", "ident", "greeting", "expected", "ident lookup (server's view)",
    )?;
    let mut all_ok = true;
    for s in scenarios {
        let r = match stalltrace_lab::run(s, ident_timeout, &base.join(&s.name)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("stalltrace lab: {}: {e}", s.name);
                return Ok(None);
            }
        };
        let ok = r.check().is_ok();
        all_ok &= ok;
        let d = diagnose(&r);
        let at = d
            .iter()
            .find(|(p, _)| p == "fw-eth1")
            .or_else(|| d.iter().find(|(p, _)| p == "client"))
            .map(|(_, f)| short(f.as_ref()))
            .unwrap_or_default();
        writeln!(
            out,
            "{:<20} {:<18} {:>6} {:>9.3}s {:>9}  {:<40} {}",
            s.name,
            s.behaviour(),
            if s.ident {
                format!("{}s", r.ident_timeout.as_secs_f64())
            } else {
                "off".into()
            },
            r.login.to_greeting.as_secs_f64(),
            if ok { "yes" } else { "NO" },
            r.served.ident.to_string(),
            at
        )?;
    }
    Ok(Some(all_ok))
}

fn describe(out: &mut impl Write, r: &RunOutcome) -> std::io::Result<()> {
    let s = &r.scenario;
    writeln!(out, "stalltrace lab: {}: {}", s.name, s.title)?;
    writeln!(out, "  answers: {}", s.question)?;
    writeln!(
        out,
        "  behaviour: {}; ident lookup: {}",
        s.behaviour(),
        if s.ident {
            format!("on, timeout {} s", r.ident_timeout.as_secs_f64())
        } else {
            "off".into()
        }
    )?;
    if !r.greet_pause.is_zero() {
        writeln!(
            out,
            "  greeting pause (greet_pause): {} ms",
            r.greet_pause.as_millis()
        )?;
    }
    writeln!(
        out,
        "  measured by the client: greeting after {:.3} s, logged in after {:.3} s",
        r.login.to_greeting.as_secs_f64(),
        r.login.to_login.as_secs_f64()
    )?;
    writeln!(out, "  the server's ident lookup: {}", r.served.ident)?;
    if let Some((inside, outside)) = r.nat_mapping {
        writeln!(out, "  NAT mapping: inside {inside} ↔ outside {outside}")?;
    }
    if let Some(n) = r.lock_dropped_icmps {
        if n > 0 || s.firewall == Some(stalltrace_lab::scenario::FirewallBehaviour::Icmp) {
            writeln!(out, "  server TcpExtLockDroppedIcmps: {n} (ICMP errors Linux set aside as soft errors while connect() held the socket)")?;
        }
    }
    let files: Vec<String> = r
        .captures
        .iter()
        .map(|c| format!("{} ({} frames)", file_name(&c.path), c.frames))
        .collect();
    writeln!(out, "  captures: {}", files.join(", "))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Each capture on its own, as `analyze FILE` would see it: its first finding.
pub fn diagnose(r: &RunOutcome) -> Vec<(String, Option<Finding>)> {
    r.captures
        .iter()
        .map(|c| {
            let a = analyze(&AnalyzeOptions {
                inputs: vec![InputSpec {
                    name: Some(c.point.clone()),
                    ..InputSpec::new(&c.path)
                }],
                ..Default::default()
            });
            let f =
                a.report.findings.into_iter().find(|f| {
                    matches!(f.id, FindingId::ApplicationWait | FindingId::CallbackLookup)
                });
            (c.point.clone(), f)
        })
        .collect()
}

fn short(f: Option<&Finding>) -> String {
    let Some(f) = f else {
        return "no stall, no lookup".into();
    };
    let mut fate = match f.cause().map(|c| &c.fate) {
        Some(Fate::Unanswered) => match f.cause().and_then(|c| c.give_up.as_ref()) {
            Some(g) => format!("ident unanswered, given up at {}", g.after),
            None => "ident unanswered".to_string(),
        },
        Some(Fate::Refused { after, .. }) => format!("ident refused by RST in {after}"),
        Some(Fate::IcmpError { reason, after, .. }) => {
            format!("ident refused by ICMP {} in {after}", reason.say(Lang::En))
        }
        Some(Fate::Answered { after }) => format!("ident answered in {after}"),
        None => "cause not visible here".into(),
    };
    if let Some(r) = f
        .wait()
        .and_then(|w| w.remainder.as_ref())
        .filter(|r| !r.timer_matches.is_empty())
    {
        fate.push_str(&format!(", then a {} greeting pause", r.duration));
    }
    format!("{} ({})", f.id.as_str(), fate)
}
