//! The Spark job (`spark/stalltrace_job.py`), in Spark's local mode, gives
//! the findings `stalltrace analyze` gives on the same captures: on a
//! generated data set of four capture points behind a NAT firewall with
//! 10,000 sessions (and a fifth point that saw nothing), on lab captures of
//! real daemons (the seed's ident callback through NAT; a mail server's
//! DNS lookup to a third host, which falls in another part than the
//! session; ICMP errors from a router, tracked with the pair they quote:
//! hashed by their own addresses, two findings of ten are lost), on points
//! whose capture's time goes back, and on one point
//! whose end falls in a batch of its own.
//!
//! Spark comes from `STALLTRACE_SPARK_PYTHON` (a Python with pyspark,
//! pyarrow and pandas; scripts/test makes one). Without it the test skips
//! loudly, unless STALLTRACE_REQUIRE_ROOT_TESTS=1 (CI) makes that a
//! failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin, pcap};
use serde_json::Value;
use stalltrace_testkit::generate::{generate, GenConfig};
use stalltrace_testkit::points::four_points;

fn spark_python() -> Option<String> {
    let py = std::env::var("STALLTRACE_SPARK_PYTHON").ok();
    let works = py.as_ref().is_some_and(|py| {
        Command::new(py)
            .args(["-c", "import pyspark, pyarrow, pandas"])
            .status()
            .is_ok_and(|s| s.success())
    });
    let java = Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if works && java {
        return py;
    }
    let why =
        format!("STALLTRACE_SPARK_PYTHON={py:?} cannot import pyspark, or no java (java: {java})");
    if std::env::var("STALLTRACE_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
        panic!("the Spark job cannot run ({why}) but STALLTRACE_REQUIRE_ROOT_TESTS=1 (scripts/test sets it up)");
    }
    eprintln!("\n*** SKIPPED Spark test: {why} ***\n");
    None
}

fn run(args: &[&str]) -> Vec<u8> {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn extract(inputs: &[PathBuf], out: &Path) {
    let mut args = vec!["extract", "--quiet", "--out", out.to_str().unwrap()];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    run(&args);
}

fn analyze(inputs: &[PathBuf]) -> Value {
    let mut args = vec!["analyze", "--quiet", "--json"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    serde_json::from_slice(&run(&args)).unwrap()
}

/// Each point's counts and times, by name (the file it names differs: the
/// job names the capture the events came from).
fn points(r: &Value) -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = r["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.as_object_mut().unwrap().remove("file");
            (p["name"].as_str().unwrap().to_string(), p)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The lines of the text files Spark wrote into `dir`.
fn text_lines(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("part-")
        })
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Rows of the Parquet files Spark wrote into `dir`.
fn parquet_rows(dir: &Path) -> i64 {
    use parquet::file::reader::FileReader;
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| {
            let r =
                parquet::file::reader::SerializedFileReader::new(std::fs::File::open(p).unwrap())
                    .unwrap();
            r.metadata().file_metadata().num_rows()
        })
        .sum()
}

#[test]
fn the_spark_job_finds_what_analyze_finds() {
    let Some(py) = spark_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ev = d.join("events");

    // Four points behind a NAT firewall, 10,000 sessions, and a quiet one.
    let mut frames = Vec::new();
    let truth = generate(
        &GenConfig {
            sessions: 10_000,
            segments: 2,
            ..GenConfig::default()
        },
        |f| frames.push(f),
    );
    let mut nat = Vec::new();
    for (name, point) in four_points(&frames) {
        nat.push(pcap(d, &format!("{name}.pcap"), &point));
    }
    nat.push(pcap(d, "quiet.pcap", &[]));
    extract(&nat, &ev.join("nat"));

    // The lab's real daemons.
    let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/precision/lab");
    let mut cases: Vec<(String, Vec<PathBuf>)> = vec![("nat".into(), nat)];
    for name in ["env1-drop", "smtp-ptr", "refused", "nat-icmp"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(lab.join(name))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        extract(&files, &ev.join(name));
        cases.push((name.into(), files));
    }

    // Time going back: every 97th packet at the client stamped 300 ms
    // early (a capture host's clock stepped back), the merge of the points
    // taken by the latest time each had reached, as analyze merges them.
    let mut back = Vec::new();
    std::fs::create_dir_all(d.join("back")).unwrap();
    for (name, mut point) in four_points(&frames[..6000]) {
        if name == "client" {
            for f in point.iter_mut().step_by(97).skip(1) {
                f.ts = f.ts - stalltrace_decode::TimeDelta::from_millis(300);
            }
        }
        back.push(pcap(&d.join("back"), &format!("{name}.pcap"), &point));
    }
    extract(&back, &ev.join("back"));
    cases.push(("back".into(), back));

    // A capture point that saw nothing: said so, never "no stall found".
    let quiet = vec![pcap(&d.join("back"), "quiet.pcap", &[])];
    extract(&quiet, &ev.join("quiet"));
    cases.push(("quiet".into(), quiet));

    // One point of 2,047 packets: with its first item, 2,048 fill two
    // batches, and its end comes in a third.
    let one = pcap(d, "one.pcap", &frames[..2047]);
    extract(std::slice::from_ref(&one), &ev.join("one"));

    let out = d.join("out");
    let reports = d.join("reports");
    let mut args: Vec<String> =
        vec![concat!(env!("CARGO_MANIFEST_DIR"), "/../../spark/stalltrace_job.py").into()];
    for name in [
        "nat",
        "env1-drop",
        "smtp-ptr",
        "refused",
        "nat-icmp",
        "back",
        "quiet",
        "one",
    ] {
        args.push(ev.join(name).to_str().unwrap().into());
    }
    args.extend(
        [
            "--out",
            out.to_str().unwrap(),
            "--stalltrace",
            bin(),
            "--report",
            reports.to_str().unwrap(),
            "--parts",
            "5",
        ]
        .map(String::from),
    );
    let job = Command::new(&py)
        .args(&args)
        .env(
            "PYSPARK_SUBMIT_ARGS",
            "--master local[2] --conf spark.sql.shuffle.partitions=4 \
             --conf spark.ui.showConsoleProgress=false pyspark-shell",
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&job.stderr);
    assert!(job.status.success(), "the job failed: {err}");

    for (name, inputs) in &cases {
        let want = analyze(inputs);
        let got: Value = serde_json::from_str(
            &std::fs::read_to_string(reports.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(got["findings"], want["findings"], "{name}: findings differ");
        assert_eq!(
            got["matching"], want["matching"],
            "{name}: matching differs"
        );
        assert_eq!(got["warnings"], want["warnings"], "{name}: warnings differ");
        assert_eq!(points(&got), points(&want), "{name}: points differ");
        let kinds = want["warnings"].to_string();
        if name == "back" {
            assert!(kinds.contains("time_went_back"), "{kinds}");
        }
        if name == "quiet" {
            assert!(kinds.contains("no_ip_traffic"), "{kinds}");
        }
        // What the job wrote: the findings one a line, and in Parquet.
        let n = want["findings"].as_array().unwrap().len();
        let lines = text_lines(&out.join(name).join("findings.jsonl"));
        assert_eq!(lines.len(), n, "{name}");
        for (line, f) in lines.iter().zip(want["findings"].as_array().unwrap()) {
            assert_eq!(&serde_json::from_str::<Value>(line).unwrap(), f, "{name}");
        }
        if n > 0 {
            assert_eq!(
                parquet_rows(&out.join(name).join("findings.parquet")),
                n as i64
            );
        }
    }

    // The generated set is what it says: five points, 10,000 sessions,
    // its ident stalls found.
    let nat: Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("nat.json")).unwrap()).unwrap();
    assert_eq!(truth.sessions, 10_000);
    assert_eq!(nat["points"].as_array().unwrap().len(), 5);
    let ids: Vec<&str> = nat["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"application-wait"), "{ids:?}");
    assert!(err.contains("packets of 5 capture points in"), "{err}");

    // One point: as `analyze` of its events folder (one input of events,
    // never the one-pcap shortcut).
    let want = analyze(&[ev.join("one")]);
    let got: Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("one.json")).unwrap()).unwrap();
    assert_eq!(got["findings"], want["findings"], "one: findings differ");
    assert_eq!(points(&got), points(&want), "one: points differ");
    assert!(
        err.contains("2047 packets of 1 capture point in 3 batches"),
        "{err}"
    );
}
