#![allow(dead_code)]

pub mod faults;

use std::path::PathBuf;

use stalltrace::analyze::{analyze, Analysis, AnalyzeOptions, InputSpec};
use stalltrace_diagnosis::{Finding, FindingId, Lang, Words};

pub fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

pub fn run(paths: &[PathBuf]) -> Analysis {
    let opts = AnalyzeOptions {
        inputs: paths.iter().map(InputSpec::new).collect(),
        ..Default::default()
    };
    analyze(&opts)
}

pub fn find(a: &Analysis, id: FindingId) -> Vec<&Finding> {
    a.report.findings.iter().filter(|f| f.id == id).collect()
}

pub fn one(a: &Analysis, id: FindingId) -> &Finding {
    let v = find(a, id);
    assert_eq!(
        v.len(),
        1,
        "expected one {id:?}, got {:#?}",
        a.report.findings
    );
    v[0]
}

/// Seconds rounded to a tenth, as the report prints them.
pub fn tenths(d: stalltrace_decode::TimeDelta) -> f64 {
    (d.secs_f64() * 10.0).round() / 10.0
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_stalltrace")
}

/// Writes frames as a pcap file in `dir`.
pub fn pcap(dir: &std::path::Path, name: &str, frames: &[stalltrace_testkit::Frame]) -> PathBuf {
    let p = dir.join(name);
    stalltrace_testkit::write_pcap(std::fs::File::create(&p).unwrap(), frames).unwrap();
    p
}

/// The text report in English, wide enough that no line of it wraps.
pub fn text_en(a: &Analysis) -> String {
    stalltrace_report::text::render(
        &a.report,
        &stalltrace_report::text::TextOptions {
            lang: Lang::En,
            width: 200,
            ..Default::default()
        },
    )
}

/// A finding's words in English, for the tests that check wording.
pub fn en(f: &Finding) -> Words {
    f.words(Lang::En)
}

/// The lab needs root, iproute2 and nftables; without them a lab test
/// skips loudly, unless STALLTRACE_REQUIRE_ROOT_TESTS=1 (CI) makes that
/// a failure.
pub fn can_run() -> bool {
    match stalltrace_lab::netns::check_prerequisites() {
        Ok(()) => true,
        Err(e) if std::env::var("STALLTRACE_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") => {
            panic!("lab tests cannot run ({e}) but STALLTRACE_REQUIRE_ROOT_TESTS=1")
        }
        Err(e) => {
            eprintln!("\n*** SKIPPED lab test: {e} ***\n");
            false
        }
    }
}

/// Every lab scenario's captures (four capture points each) and the lab's
/// request loss, in name order.
#[allow(dead_code)]
pub fn lab_captures() -> Vec<PathBuf> {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(data.join("precision/lab"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "{dirs:?}");
    dirs.push(data.join("lab-request-loss"));
    dirs
}
