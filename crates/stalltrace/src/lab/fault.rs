//! The network fault scenarios: what the client measured, what `analyze`
//! names at each capture point (the finding the scenario expects where
//! its packets passed, nothing of it where they never got), and what all
//! the points together say.

use std::io::Write;
use std::path::Path;

use stalltrace::analyze::{analyze, AnalyzeOptions, InputSpec};
use stalltrace_diagnosis::{Finding, Lang};
use stalltrace_lab::{FaultOutcome, Scenario};

/// What `analyze` made of a fault run.
pub(crate) struct Diagnosed {
    /// Per capture point: the expected finding, if named there.
    pub points: Vec<(String, Option<Finding>)>,
    /// All the points together: the expected finding, merged.
    pub together: Option<Finding>,
}

impl Diagnosed {
    /// Named at every point of `at`, at none of `not_at`.
    pub fn as_expected(&self, s: &Scenario) -> Result<(), String> {
        for (p, f) in &self.points {
            let named = f.is_some();
            if s.expect.at.contains(p) && !named {
                return Err(format!("not named at {p}"));
            }
            if s.expect.not_at.contains(p) && named {
                return Err(format!("named at {p}, which its packets never reached"));
            }
        }
        if self.together.is_none() {
            return Err("not named with all points together".into());
        }
        Ok(())
    }
}

fn expected(s: &Scenario, inputs: Vec<InputSpec>) -> Option<Finding> {
    let id = s.expect.finding.as_deref()?;
    analyze(&AnalyzeOptions {
        inputs,
        ..Default::default()
    })
    .report
    .findings
    .into_iter()
    .find(|f| f.id.as_str() == id)
}

/// Each capture on its own, and all together.
pub(crate) fn diagnose(r: &FaultOutcome) -> Diagnosed {
    let spec = |c: &stalltrace_lab::CaptureFile| InputSpec {
        name: Some(c.point.clone()),
        ..InputSpec::new(&c.path)
    };
    Diagnosed {
        points: r
            .captures
            .iter()
            .map(|c| (c.point.clone(), expected(&r.scenario, vec![spec(c)])))
            .collect(),
        together: expected(&r.scenario, r.captures.iter().map(spec).collect()),
    }
}

/// Runs one fault scenario; None when the lab could not run.
pub(super) fn run_one(
    out: &mut impl Write,
    s: &Scenario,
    dir: &Path,
) -> anyhow::Result<Option<bool>> {
    let r = match stalltrace_lab::run_fault(s, dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stalltrace lab: {e}");
            return Ok(None);
        }
    };
    writeln!(out, "stalltrace lab: {}: {}", s.name, s.title)?;
    writeln!(out, "  answers: {}", s.question)?;
    writeln!(out, "  measured by the client: {}", r.measured.note)?;
    let measured = r.check();
    writeln!(
        out,
        "  expectation (a wait of {} to {} s): {}",
        s.expect.delay_min.map_or("-".into(), |m| m.to_string()),
        s.expect.delay_max.map_or("-".into(), |m| m.to_string()),
        match &measured {
            Ok(()) => "met".to_string(),
            Err(e) => format!("NOT met: {e}"),
        }
    )?;
    let d = diagnose(&r);
    writeln!(
        out,
        "\nWhere `stalltrace analyze` names {}:",
        s.expect.finding.as_deref().unwrap_or("-")
    )?;
    for (point, f) in &d.points {
        writeln!(
            out,
            "  {point:<8} {}",
            super::one_line(f.as_ref(), "not named")
        )?;
    }
    writeln!(
        out,
        "  together {}",
        super::one_line(d.together.as_ref(), "not named")
    )?;
    if let Some(f) = &d.together {
        for p in f.words(Lang::En).path {
            writeln!(out, "           {p}")?;
        }
    }
    let named = d.as_expected(s);
    if let Err(e) = &named {
        writeln!(out, "  diagnosis NOT as expected: {e}")?;
    }
    writeln!(
        out,
        "\nFull report: stalltrace analyze {}/*.pcapng",
        dir.display()
    )?;
    Ok(Some(measured.is_ok() && named.is_ok()))
}

/// The fault scenarios' table; None when the lab could not run.
pub(super) fn matrix(
    out: &mut impl Write,
    scenarios: &[Scenario],
    base: &Path,
) -> anyhow::Result<Option<bool>> {
    writeln!(
        out,
        "{:<16} {:>9} {:>9}  {:<30} {:<30} measured by the client",
        "scenario", "wait", "expected", "named at", "diagnosis (together)"
    )?;
    let mut all_ok = true;
    for s in scenarios {
        let r = match stalltrace_lab::run_fault(s, &base.join(&s.name)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("stalltrace lab: {}: {e}", s.name);
                return Ok(None);
            }
        };
        let d = diagnose(&r);
        let ok = r.check().is_ok() && d.as_expected(s).is_ok();
        all_ok &= ok;
        let named: Vec<&str> = d
            .points
            .iter()
            .filter(|(_, f)| f.is_some())
            .map(|(p, _)| p.as_str())
            .collect();
        let together = d
            .together
            .as_ref()
            .map(|f| {
                format!(
                    "{} {}",
                    f.id.as_str(),
                    f.cost.map(|c| c.to_string()).unwrap_or_else(|| "-".into())
                )
            })
            .unwrap_or_else(|| "not named".into());
        writeln!(
            out,
            "{:<16} {:>8.3}s {:>9}  {:<30} {:<30} {}",
            s.name,
            r.measured.delay.as_secs_f64(),
            if ok { "yes" } else { "NO" },
            named.join(","),
            together,
            r.measured.note
        )?;
    }
    Ok(Some(all_ok))
}
