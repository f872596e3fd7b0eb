//! Runs a fault scenario: the NAT topology with the fault's rules and
//! settings, captures at the four points, the fault's applications, and
//! the client's measurement checked against the scenario.

use std::path::Path;
use std::time::Duration;

use crate::error::LabError;
use crate::faults::{by_name, Measured};
use crate::netns::{check_prerequisites, install_interrupt_cleanup};
use crate::scenario::Scenario;
use crate::topology::{build, nat_table, start_captures, write_captures, CaptureFile, Plan};

/// What a fault run measured, and where its captures are.
#[derive(Clone, Debug)]
pub struct FaultOutcome {
    pub scenario: Scenario,
    pub measured: Measured,
    pub captures: Vec<CaptureFile>,
}

impl FaultOutcome {
    /// Checks the client's measured wait against the scenario.
    pub fn check(&self) -> Result<(), String> {
        let d = self.measured.delay.as_secs_f64();
        let e = &self.scenario.expect;
        if e.delay_min.is_some_and(|m| d < m) || e.delay_max.is_some_and(|m| d > m) {
            return Err(format!(
                "the client waited {d:.3} s, expected {} to {} s",
                e.delay_min.map_or("-".into(), |m| m.to_string()),
                e.delay_max.map_or("-".into(), |m| m.to_string())
            ));
        }
        Ok(())
    }
}

/// Runs a fault scenario and writes its captures to `out`; removes every
/// namespace it made, on every path.
pub fn run_fault(s: &Scenario, out: &Path) -> Result<FaultOutcome, LabError> {
    let name = s.fault.as_deref().unwrap_or_default();
    let fault = by_name(name).ok_or_else(|| LabError::Scenario {
        name: s.name.clone(),
        detail: format!("no fault named `{name}`"),
    })?;
    check_prerequisites()?;
    install_interrupt_cleanup();
    let nodes = build(&Plan {
        firewall: Some(format!("{}{}", nat_table(""), fault.firewall())),
        client_rules: None,
        ipv6: fault.ipv6(),
    })?;
    fault.prepare(&nodes)?;
    let points = start_captures(&nodes)?;
    let folder = crate::netns::OutDir::create(out)?;
    let measured = fault.exercise(&nodes, out);
    // Let the last packets pass every capture point.
    std::thread::sleep(Duration::from_millis(300));
    let captures = write_captures(points, out)?;
    folder.keep();
    drop(nodes);
    Ok(FaultOutcome {
        scenario: s.clone(),
        measured: measured?,
        captures,
    })
}
