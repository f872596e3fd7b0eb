//! Helpers of the lab's fault tests (`lab_faults.rs`, `lab_programs.rs`):
//! run a scenario, analyse one capture point or all of them, pick a
//! finding.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use stalltrace_diagnosis::{Finding, FindingId};
use stalltrace_lab::{FaultOutcome, Scenario};

use super::run;

/// Runs a built-in fault scenario, its client's measurement checked.
pub fn fault(name: &str, dir: &Path) -> FaultOutcome {
    let s = Scenario::find(name).unwrap();
    let r = stalltrace_lab::run_fault(&s, dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    r.check().unwrap_or_else(|e| panic!("{name}: {e}"));
    r
}

pub fn capture(r: &FaultOutcome, point: &str) -> PathBuf {
    r.captures
        .iter()
        .find(|c| c.point == point)
        .unwrap_or_else(|| panic!("no {point} capture"))
        .path
        .clone()
}

/// Every finding of one capture point.
pub fn at(r: &FaultOutcome, point: &str) -> Vec<Finding> {
    let a = run(&[capture(r, point)]);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    a.report.findings
}

/// Every finding of all the points together.
pub fn together(r: &FaultOutcome) -> Vec<Finding> {
    let paths: Vec<_> = r.captures.iter().map(|c| c.path.clone()).collect();
    run(&paths).report.findings
}

pub fn ids(v: &[Finding]) -> BTreeSet<&'static str> {
    v.iter().map(|f| f.id.as_str()).collect()
}

/// The scenario's finding at every point of `at`, none at `not_at`, and
/// nothing at any point beyond `allowed`.
pub fn named_where_expected(r: &FaultOutcome, allowed: &[&str]) {
    let e = &r.scenario.expect;
    let id = e.finding.as_deref().unwrap();
    for c in &r.captures {
        let found = at(r, &c.point);
        let got = ids(&found);
        if e.at.contains(&c.point) {
            assert!(
                got.contains(id),
                "{}: {id} not at {}: {got:?}",
                r.scenario.name,
                c.point
            );
        }
        if e.not_at.contains(&c.point) {
            assert!(
                !got.contains(id),
                "{}: {id} at {}",
                r.scenario.name,
                c.point
            );
        }
        for g in &got {
            assert!(
                *g == id || allowed.contains(g),
                "{}: unexpected {g} at {}",
                r.scenario.name,
                c.point
            );
        }
    }
}

/// The one finding `id` among `v`.
pub fn the(v: &[Finding], id: FindingId) -> &Finding {
    let found: Vec<&Finding> = v.iter().filter(|f| f.id == id).collect();
    assert_eq!(found.len(), 1, "{id:?} in {:#?}", ids(v));
    found[0]
}
