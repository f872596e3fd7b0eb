//! `stalltrace watch`: on a stream, the findings `analyze` gives for the
//! same packets; in the lab, live on the firewall's two interfaces while
//! the seed's login waits on its dropped ident lookup: the finding told
//! within a second of the greeting, with the NAT verdict, its evidence
//! file read back to the same finding, a filter that hides tcp/113
//! hiding the cause, and Ctrl-C ending it with a summary and exit 0.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use common::*;

fn lab_capture(point: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/precision/lab/env1-drop")
        .join(format!("{point}.pcapng.zst"))
}

fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `watch -r` on each of the lab's four captures of env1: the findings,
/// one JSON object per line, are those `analyze --json` gives for the same
/// file, fact for fact; each evidence file, analysed, gives the finding
/// again.
#[test]
fn a_stream_is_watched_as_analyze_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut told = 0;
    for point in ["client", "fw-eth2", "fw-eth1", "server"] {
        let file = lab_capture(point);
        let ev = dir.path().join(point);
        let o = Command::new(bin())
            .args(["watch", "--json", "--lang", "en", "--evidence"])
            .arg(&ev)
            .arg("-r")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got = lines(&o.stdout);
        assert_eq!(got[0]["type"], "start");
        assert_eq!(got[0]["sources"][0], point);
        let last = got.last().unwrap();
        assert_eq!(last["type"], "summary");
        let findings: Vec<&serde_json::Value> =
            got.iter().filter(|v| v["type"] == "finding").collect();
        let a = Command::new(bin())
            .args(["analyze", "--json", "--lang", "en"])
            .arg(&file)
            .output()
            .unwrap();
        let want: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
        let want = want["findings"].as_array().unwrap();
        assert_eq!(findings.len(), want.len(), "{point}");
        for (f, w) in findings.iter().zip(want) {
            assert_eq!(&f["finding"], w, "{point}");
            let ev = f["evidence_file"].as_str().expect("an evidence file");
            let again = Command::new(bin())
                .args(["analyze", "--json", "--lang", "en", ev])
                .output()
                .unwrap();
            let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
            assert_eq!(again["findings"][0]["id"], w["id"], "{point}");
            assert_eq!(again["findings"][0]["cost"], w["cost"], "{point}");
            told += 1;
        }
    }
    assert!(told >= 2, "{told}");
}

/// Runs `watch` in the firewall's namespace on both its interfaces while
/// env1-drop's login waits 3 s on ident; returns what it printed, each
/// line with when it was read, and the login's greeting time.
fn watch_the_lab(
    filter: Option<&str>,
    evidence: &Path,
) -> (
    Vec<(SystemTime, serde_json::Value)>,
    Option<i32>,
    SystemTime,
) {
    let dir = tempfile::tempdir().unwrap();
    let s = stalltrace_lab::Scenario::find("env1-drop").unwrap();
    let (tx, rx) = mpsc::channel();
    let (status_tx, status_rx) = mpsc::channel();
    let (left_tx, left_rx) = mpsc::channel();
    let r = stalltrace_lab::run_with(&s, Duration::from_secs(3), dir.path(), |nodes| {
        let fw = nodes
            .fw
            .as_ref()
            .expect("env1 has a firewall")
            .name()
            .to_string();
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &fw,
            bin(),
            "watch",
            "-i",
            "eth1",
            "-i",
            "eth2",
            "--json",
        ])
        .arg("--evidence")
        .arg(evidence);
        if let Some(f) = filter {
            cmd.args(["--filter", f]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = left_tx.send((fw.clone(), child.id()));
        let out = child.stdout.take().unwrap();
        let tx = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send((SystemTime::now(), l));
            }
        });
        // The login may start once the watch says it is watching.
        let (_, first) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("watch started");
        assert!(first.contains("\"start\""), "{first}");
        // After the login, before the namespace goes: a second for the
        // last conclusion, then Ctrl-C.
        Ok(Box::new(move || {
            std::thread::sleep(Duration::from_millis(1500));
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let t0 = Instant::now();
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break Some(s);
                }
                if t0.elapsed() > Duration::from_secs(10) {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let _ = status_tx.send(status.and_then(|s| s.code()));
        }))
    })
    .unwrap();
    let greeting = SystemTime::now();
    let _ = r;
    let code = status_rx.recv().unwrap();
    // Nothing left: the firewall's namespace and the watch are gone.
    let (fw, pid) = left_rx.recv().unwrap();
    assert!(
        !Path::new(&format!("/run/netns/{fw}")).exists(),
        "{fw} left"
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "watch {pid} left"
    );
    let mut got = Vec::new();
    while let Ok((t, l)) = rx.recv_timeout(Duration::from_millis(500)) {
        got.push((
            t,
            serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}")),
        ));
    }
    (got, code, greeting)
}

#[test]
fn watch_on_the_firewall_tells_the_wait_as_it_happens() {
    if !can_run() {
        return;
    }
    let ev = tempfile::tempdir().unwrap();
    let (got, code, _) = watch_the_lab(None, ev.path());
    assert_eq!(code, Some(0), "{got:?}");
    let waits: Vec<&(SystemTime, serde_json::Value)> = got
        .iter()
        .filter(|(_, v)| v["type"] == "finding" && v["finding"]["id"] == "application-wait")
        .collect();
    assert!(!waits.is_empty(), "{got:#?}");
    let (seen, w) = waits[0];
    let f = &w["finding"];
    // Told at the outside point, with the NAT verdict of the two points.
    assert_eq!(f["point"], "eth1", "{f:#}");
    let path = f["sentences"]["path"].to_string();
    assert!(path.contains("NAT device"), "{path}");
    let cb = &f["facts"]["callbacks"][0];
    assert_eq!(cb["kind"], "ident", "{f:#}");
    // Within a second of the greeting (the last evidence packet, on the
    // kernel's clock, which is this one).
    let greeting = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let told = seen
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        told - greeting < 1.0 && told >= greeting,
        "told {:.3} s after the greeting",
        told - greeting
    );
    // Its evidence, analysed, is the same finding.
    let file = w["evidence_file"].as_str().unwrap();
    let a = Command::new(bin())
        .args(["analyze", "--json", "--lang", "en", file])
        .output()
        .unwrap();
    let a: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let again = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "application-wait")
        .unwrap_or_else(|| panic!("{a:#}"));
    assert_eq!(again["facts"]["callbacks"][0]["kind"], "ident");
    assert_eq!(again["cost"], f["cost"]);
    // Ctrl-C: the summary, and nothing dropped.
    let (_, last) = got.last().unwrap();
    assert_eq!(last["type"], "summary", "{got:#?}");
    assert_eq!(last["own_dropped"], 0);
}

/// The same with a filter that leaves tcp/113 out: the wait is still
/// told, its cause no longer visible (proof the filter is applied).
#[test]
fn a_filter_that_hides_the_callback_hides_the_cause() {
    if !can_run() {
        return;
    }
    let ev = tempfile::tempdir().unwrap();
    let (got, code, _) = watch_the_lab(Some("not tcp port 113"), ev.path());
    assert_eq!(code, Some(0));
    let f = got
        .iter()
        .map(|(_, v)| v)
        .find(|v| v["type"] == "finding" && v["finding"]["id"] == "application-wait")
        .unwrap_or_else(|| panic!("{got:#?}"));
    let cbs = &f["finding"]["facts"]["callbacks"];
    assert!(cbs.as_array().is_none_or(|c| c.is_empty()), "{f:#}");
}

/// A stream on standard input (`tcpdump -U -w - | stalltrace watch -r -`,
/// compressed or not) is watched as it comes.
#[test]
fn a_stream_on_standard_input() {
    let bytes = std::fs::read(lab_capture("fw-eth1")).unwrap();
    let mut child = Command::new(bin())
        .args(["watch", "--json", "-r", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let got = lines(&o.stdout);
    assert_eq!(got[0]["sources"][0], "stdin");
    assert!(got
        .iter()
        .any(|v| v["type"] == "finding" && v["finding"]["id"] == "application-wait"));
}

/// Without root or CAP_NET_RAW: a clear error naming the way out, exit 2.
#[test]
fn without_the_capability_a_clear_error() {
    if unsafe { libc::geteuid() } != 0 {
        // Not root here: the error is the one we check, as this user.
        let o = Command::new(bin())
            .args(["watch", "-i", "lo", "--duration", "1"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("CAP_NET_RAW"));
        return;
    }
    let o = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", bin()])
        .args(["watch", "-i", "lo", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("capturing on lo needs root or the CAP_NET_RAW capability"),
        "{err}"
    );
}
