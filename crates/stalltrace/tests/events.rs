//! `stalltrace extract` then `stalltrace analyze DIR`: the findings, the
//! matching across points and each point's counts are those of the
//! captures, on every multi-point input we have (the seed's printouts, the
//! lab's pcapng, a generated pcap); damaged or foreign events are an error
//! naming the file, never "no stall found".

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin, example, pcap};
use stalltrace_testkit::generate::{generate, GenConfig};

fn stalltrace(args: &[&str], inputs: &[PathBuf]) -> (Vec<u8>, String, Option<i32>) {
    let out = Command::new(bin())
        .args(args)
        .args(inputs)
        .output()
        .unwrap();
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

fn json(args: &[&str], inputs: &[PathBuf]) -> serde_json::Value {
    let (out, err, code) = stalltrace(args, inputs);
    assert!(matches!(code, Some(0 | 1)), "{inputs:?}: {err}");
    serde_json::from_slice(&out).unwrap()
}

/// Extracts `inputs` into a new folder under `dir`, and checks that its
/// analysis is the captures'. Returns the folder and the findings.
fn same_from_events(dir: &Path, inputs: &[PathBuf]) -> (PathBuf, usize) {
    let out = dir.join(format!("ev{}", std::fs::read_dir(dir).unwrap().count()));
    let mut args = vec!["extract", "--out", out.to_str().unwrap()];
    args.push("--quiet");
    let (_, err, code) = stalltrace(&args, inputs);
    assert_eq!(code, Some(0), "{inputs:?}: {err}");
    assert!(err.contains("packets of"), "{err}");
    let opts = ["analyze", "--quiet", "--json"];
    let a = json(&opts, inputs);
    let b = json(&opts, std::slice::from_ref(&out));
    assert_eq!(a["findings"], b["findings"], "{inputs:?}: findings differ");
    assert_eq!(a["matching"], b["matching"], "{inputs:?}: matching differs");
    let stats = |v: &serde_json::Value| -> Vec<(String, serde_json::Value)> {
        v["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap().to_string(), p["stats"].clone()))
            .collect()
    };
    assert_eq!(stats(&a), stats(&b), "{inputs:?}: point counts differ");
    (out, a["findings"].as_array().unwrap().len())
}

#[test]
fn the_seed_and_every_lab_scenario_give_their_findings_from_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut findings = 0;
    findings += same_from_events(
        dir.path(),
        &[
            example("env1-fw-eth1-outside.txt"),
            example("env1-fw-eth2-inside.txt"),
        ],
    )
    .1;
    findings += same_from_events(dir.path(), &[example("lab/env1-drop")]).1;
    for d in common::lab_captures() {
        findings += same_from_events(dir.path(), &[d]).1;
    }
    // Something was compared: the scenarios' findings (ident-off, the
    // control, has none).
    assert!(findings >= 25, "{findings}");
}

#[test]
fn a_generated_capture_gives_its_findings_from_events() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenConfig {
        sessions: 3000,
        concurrency: 150,
        seed: 17,
        ..GenConfig::default()
    };
    let mut frames = Vec::new();
    generate(&cfg, |f| frames.push(f));
    let file = pcap(dir.path(), "generated.pcap", &frames);
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let (out, findings) = same_from_events(&work, &[file]);
    assert!(findings >= 5, "{findings}");
    // The events folder is what Spark reads: Hive-style partitions.
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("_stalltrace-events.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(m["points"][0]["dir"], "point=generated");
    let hours: Vec<String> = std::fs::read_dir(out.join("point=generated"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(hours.iter().all(|h| h.starts_with("hour=")), "{hours:?}");
}

#[test]
fn damaged_or_foreign_events_are_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = same_from_events(dir.path(), &[example("lab/env1-drop")]);
    // A file cut short.
    let part = walk(&out)
        .into_iter()
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .unwrap();
    let bytes = std::fs::read(&part).unwrap();
    std::fs::write(&part, &bytes[..bytes.len() / 2]).unwrap();
    let (stdout, err, code) = stalltrace(&["analyze"], std::slice::from_ref(&out));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&part.display().to_string()) && err.contains("packet events unreadable"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&stdout).contains("No stall"));
    // A BPF filter needs frames.
    let (_, err, code) = stalltrace(
        &["analyze", "--filter", "port 110"],
        std::slice::from_ref(&out),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("these are packet events"), "{err}");
    // Extracting into a folder that holds something.
    let (_, err, code) = stalltrace(
        &["extract", "--out", out.to_str().unwrap()],
        &[example("env1-fw-eth1-outside.txt")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not empty"), "{err}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Regression: a capture of no IP packet at all (ARP only) gave events
/// with no file, which `analyze` then could not open; it is the capture's
/// report now: no IP traffic, and its frames counted as skipped.
#[test]
fn a_capture_without_ip_gives_its_warnings_from_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut arp = vec![0xff; 6];
    arp.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend([0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend([0u8; 20]);
    let frames: Vec<_> = (0..3)
        .map(|i| stalltrace_testkit::Frame {
            ts: stalltrace_decode::Timestamp::from_nanos(1_000_000_000 * i),
            data: arp.clone(),
        })
        .collect();
    let file = pcap(dir.path(), "arp.pcap", &frames);
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let (out, _) = same_from_events(&work, std::slice::from_ref(&file));
    let v = json(&["analyze", "--json"], &[out]);
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("no_ip_traffic"), "{warnings}");
    assert_eq!(v["inputs"][0]["skipped"][0]["count"], 3, "{}", v["inputs"]);
}
