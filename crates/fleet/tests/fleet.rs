//! `stalltrace-fleet` over real reports: `analyze --each --json` of every
//! lab scenario (real kernel, NAT, daemons) and of the seed, answered by
//! SQL; the answers checked against the reports read directly.

use std::path::{Path, PathBuf};
use std::process::Command;

use stalltrace::analyze::{analyze, AnalyzeOptions, InputSpec};
use stalltrace_diagnosis::Lang;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../stalltrace/tests/data")
}

/// Every lab scenario's report, as `analyze --each --json` writes it.
fn reports(dir: &Path) -> Vec<serde_json::Value> {
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(data().join("precision/lab"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 10);
    let mut out = Vec::new();
    for s in scenarios {
        let opts = AnalyzeOptions {
            inputs: vec![InputSpec::new(&s)],
            fold: false,
            ..Default::default()
        };
        let a = analyze(&opts);
        assert!(a.errors.is_empty(), "{s:?}");
        let name = s.file_name().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        stalltrace_report::json::write(&a.report, Lang::En, &mut bytes).unwrap();
        std::fs::write(dir.join(format!("{name}.json")), &bytes).unwrap();
        out.push(serde_json::from_slice(&bytes).unwrap());
    }
    out
}

fn fleet(args: &[&str]) -> (String, String, Option<i32>) {
    let o = Command::new(env!("CARGO_BIN_EXE_stalltrace-fleet"))
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code(),
    )
}

#[test]
fn the_everyday_questions_over_the_lab_reports() {
    let dir = tempfile::tempdir().unwrap();
    let all = reports(dir.path());
    let d = dir.path().to_str().unwrap();
    let findings: Vec<&serde_json::Value> = all
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap())
        .collect();

    // The count, by a query of one's own.
    let (out, err, code) = fleet(&["--csv", "--sql", "SELECT count(*) AS n FROM findings", d]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out.lines().nth(1),
        Some(findings.len().to_string().as_str()),
        "{out}"
    );

    // The slowest wait first, as the reports say.
    let slowest = findings
        .iter()
        .filter(|f| f["id"] == "application-wait")
        .map(|f| f["cost"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let (out, err, code) = fleet(&["--csv", "--question", "slowest", "--top", "1", d]);
    assert_eq!(code, Some(0), "{err}");
    let row: Vec<&str> = out.lines().nth(1).unwrap().split(',').collect();
    let wait: f64 = row[5].parse().unwrap();
    assert!((wait - slowest).abs() < 0.001, "{out} against {slowest}");

    // The ident lookups the NAT device dropped, by server: env1-drop and
    // the real xinetd's (env1-xinetd) at least.
    let (out, err, code) = fleet(&[
        "--csv",
        "--sql",
        "SELECT server_host, sum(sessions) AS n FROM findings WHERE cause LIKE '%ident%' AND rule = 'application-wait' GROUP BY server_host",
        d,
    ]);
    assert_eq!(code, Some(0), "{err}");
    let ident = findings
        .iter()
        .filter(|f| {
            f["id"] == "application-wait"
                && f["facts"]["callbacks"].to_string().contains("\"ident\"")
        })
        .count();
    assert!(ident >= 2, "{ident}");
    assert_eq!(
        out.trim(),
        format!("server_host,n\n203.0.113.25,{ident}"),
        "{out}"
    );

    // Where the lost packets were last seen and never reached.
    let (out, err, code) = fleet(&["--csv", "--question", "drops", d]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("fw-eth1,fw-eth2,syn,POP3,"), "{out}");

    // All three as tables.
    let (out, _, code) = fleet(&[d]);
    assert_eq!(code, Some(0));
    for title in [
        "Top causes by server and hour",
        "Slowest logins and answers",
        "Which points dropped what",
    ] {
        assert!(out.contains(title), "{out}");
    }
    assert!(
        out.starts_with(&format!(
            "{} reports, {} findings",
            all.len(),
            findings.len()
        )),
        "{out}"
    );
}

#[test]
fn files_that_are_no_report_are_left_out_and_none_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.json"), "{\"hello\": 1}").unwrap();
    std::fs::write(dir.path().join("broken.json"), "{").unwrap();
    let (_, err, code) = fleet(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("notes.json: left out: not a stalltrace report"),
        "{err}"
    );
    assert!(err.contains("broken.json: left out: not JSON"), "{err}");
    assert!(err.contains("no stalltrace report"), "{err}");
    // A query that is no SQL, over a real report: an error, exit 2.
    reports(dir.path());
    let (_, err, code) = fleet(&["--sql", "SELEKT 1", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("SELEKT"), "{err}");
}
