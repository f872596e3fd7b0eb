//! `stalltrace lab`: runs scenarios and shows what `analyze` makes of
//! them: the seed's login scenarios (`login.rs`) and the network faults
//! (`fault.rs`).

mod fault;
mod login;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use stalltrace_lab::Scenario;

use crate::{LabCommand, EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};

fn timeout(t: stalltrace_decode::TimeDelta) -> Duration {
    Duration::from_nanos(t.nanos().max(0) as u64)
}

/// Removes what killed runs left, saying what; `quiet_when_none` for the
/// runs, which say nothing when there was nothing.
fn clean(out: &mut impl Write, quiet_when_none: bool) -> anyhow::Result<()> {
    if let Err(e) = stalltrace_lab::netns::check_prerequisites() {
        if quiet_when_none {
            return Ok(());
        }
        return Err(e.into());
    }
    let removed = stalltrace_lab::netns::remove_stale();
    if removed.is_empty() {
        if !quiet_when_none {
            writeln!(out, "nothing left by an earlier run")?;
        }
        return Ok(());
    }
    // On stderr during a run: its report stays what stdout carries.
    let line = format!(
        "removed {} network namespace{} left by a run that was killed: {}",
        removed.len(),
        if removed.len() == 1 { "" } else { "s" },
        removed.join(", ")
    );
    if quiet_when_none {
        eprintln!("stalltrace lab: {line}");
    } else {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

pub fn run(cmd: LabCommand) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    if matches!(cmd, LabCommand::Run { .. } | LabCommand::Matrix { .. }) {
        clean(&mut out, true)?;
    }
    match cmd {
        LabCommand::Clean => {
            clean(&mut out, false)?;
            Ok(EXIT_OK)
        }
        LabCommand::List => {
            for s in Scenario::built_in() {
                writeln!(out, "{:<22} {}\n{:<22} {}", s.name, s.title, "", s.question)?;
            }
            Ok(EXIT_OK)
        }
        LabCommand::Run {
            scenario,
            out: dir,
            ident_timeout,
        } => {
            let s = Scenario::find(&scenario)?;
            let dir = dir.unwrap_or_else(|| PathBuf::from("lab-captures").join(&s.name));
            let ok = if s.fault.is_some() {
                fault::run_one(&mut out, &s, &dir)?
            } else {
                login::run_one(&mut out, &s, timeout(ident_timeout), &dir)?
            };
            Ok(match ok {
                None => EXIT_ERROR,
                Some(true) => EXIT_OK,
                Some(false) => EXIT_FINDINGS,
            })
        }
        LabCommand::Matrix {
            out: dir,
            ident_timeout,
        } => {
            let base = dir.unwrap_or_else(|| PathBuf::from("lab-captures"));
            let (faults, logins): (Vec<Scenario>, Vec<Scenario>) = Scenario::built_in()
                .into_iter()
                .partition(|s| s.fault.is_some());
            let Some(a) = login::matrix(&mut out, &logins, timeout(ident_timeout), &base)? else {
                return Ok(EXIT_ERROR);
            };
            writeln!(out)?;
            let Some(b) = fault::matrix(&mut out, &faults, &base)? else {
                return Ok(EXIT_ERROR);
            };
            Ok(if a && b { EXIT_OK } else { EXIT_FINDINGS })
        }
    }
}

/// A finding in one line, or `none`.
fn one_line(f: Option<&stalltrace_diagnosis::Finding>, none: &str) -> String {
    match f {
        Some(f) => format!(
            "{} {}: {}",
            f.severity.as_str(),
            f.id.as_str(),
            f.words(stalltrace_diagnosis::Lang::En).summary
        ),
        None => none.into(),
    }
}
