//! Any number of threads (2: reading beside analysing; 3 or more: packet
//! tracking split in parts too) must give the report one thread gives,
//! byte for byte, whatever the input: one point or several, binary or
//! text, whole or damaged.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin, example, pcap};
use stalltrace_testkit::generate::{generate, GenConfig};

fn report(threads: u32, args: &[&str], inputs: &[PathBuf]) -> (Vec<u8>, Option<i32>) {
    let out = Command::new(bin())
        .arg("analyze")
        .args(["--quiet", "--threads", &threads.to_string()])
        .args(args)
        .args(inputs)
        .output()
        .unwrap();
    (out.stdout, out.status.code())
}

fn same(inputs: &[PathBuf]) {
    for args in [&["--json"][..], &["--width", "100"][..]] {
        let one = report(1, args, inputs);
        assert!(!one.0.is_empty(), "no report for {inputs:?}");
        for n in [2, 3, 4, 6] {
            let other = report(n, args, inputs);
            assert!(
                one == other,
                "{inputs:?} {args:?}: one thread and {n} differ\n--- one\n{}\n--- {n}\n{}",
                String::from_utf8_lossy(&one.0),
                String::from_utf8_lossy(&other.0)
            );
        }
    }
}

fn generated(dir: &Path) -> PathBuf {
    let cfg = GenConfig {
        sessions: 3000,
        concurrency: 150,
        seed: 11,
        ..GenConfig::default()
    };
    let mut frames = Vec::new();
    generate(&cfg, |f| frames.push(f));
    pcap(dir, "generated.pcap", &frames)
}

#[test]
fn a_generated_capture_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path());
    same(std::slice::from_ref(&file));
    let (json, code) = report(2, &["--json"], std::slice::from_ref(&file));
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    // Every stall is found with two threads too (one in 50 sessions).
    let stalls: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "application-wait")
        .collect();
    assert_eq!(stalls.len(), 1);
    assert_eq!(stalls[0]["repeats"]["count"], 60);
    let (text, _) = report(2, &["--width", "100"], &[file]);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(
            "CRITICAL application-wait at generated, cost 5.0 s, 60 times (5.0 min in all)"
        ),
        "{text}"
    );
    assert!(
        text.contains("The same for 59 more conversations"),
        "{text}"
    );
    assert!(
        text.contains("… and 54 more (the first 100 are in --json)"),
        "{text}"
    );
}

#[test]
fn several_points_text_and_pcapng_give_the_same_report() {
    same(&[
        example("env1-fw-eth1-outside.txt"),
        example("env1-fw-eth2-inside.txt"),
    ]);
    same(&[example("lab/env1-drop")]);
}

#[test]
fn a_damaged_capture_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path());
    let bytes = std::fs::read(&file).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() / 3 + 17]).unwrap();
    let (json, _) = report(1, &["--json"], std::slice::from_ref(&cut));
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert!(
        v["warnings"].to_string().contains("cut.pcap"),
        "the cut is reported: {}",
        v["warnings"]
    );
    same(&[cut, example("env3-fw-eth1-outside.txt")]);
}

/// Every lab scenario (four capture points each, real kernel and daemons:
/// NAT, callbacks, DNS, resets, backlogs) and the lab's request loss.
#[test]
fn every_lab_capture_gives_the_same_report() {
    for dir in common::lab_captures() {
        same(&[dir]);
    }
}
