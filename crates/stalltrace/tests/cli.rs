//! The command line on good and bad input: messages, exit codes, formats.

mod common;

use std::fs;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;
use stalltrace_testkit::{
    frames_from_packets, packets_from_text, write_pcap, write_pcapng, HostMap,
};

fn stalltrace(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn seed_pcap(dir: &std::path::Path, seed: &str) -> (std::path::PathBuf, Vec<usize>) {
    let text = fs::read_to_string(example(&format!("{seed}.txt"))).unwrap();
    let frames = frames_from_packets(&packets_from_text(&text), &mut HostMap::default());
    let path = dir.join(format!("{seed}.pcap"));
    write_pcap(fs::File::create(&path).unwrap(), &frames).unwrap();
    (path, frames.iter().map(|f| f.data.len()).collect())
}

#[test]
fn text_report_on_the_bundled_example() {
    let o = stalltrace(&[
        "analyze",
        example("env1-fw-eth1-outside.txt").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("CRITICAL application-wait at env1-fw-eth1-outside, cost 34.3 s"),
        "{out}"
    );
    assert!(out.contains("log_on_success -= USERID"), "{out}");
    assert!(
        out.contains("#9  13:05:34.068364  ident SYN re-sent (+21.0 s)"),
        "{out}"
    );
}

#[test]
fn json_report_is_versioned_and_matches_the_committed_schema() {
    let o = stalltrace(&[
        "analyze",
        "--json",
        example("env1-fw-eth1-outside.txt").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["lang"], "en");
    let f = &v["findings"][0];
    assert_eq!(f["id"], "application-wait");
    assert_eq!(f["severity"], "critical");
    // Typed facts: the wait, its lookups, the one that explains it.
    let main = f["facts"]["main"].as_u64().unwrap() as usize;
    let cause = &f["facts"]["callbacks"][main];
    assert_eq!(cause["kind"], "ident");
    assert_eq!(cause["fate"]["kind"], "unanswered");
    assert_eq!(cause["conversation"]["server"], "218.104.68.171:113");
    assert_eq!(cause["timer_matches"][0]["id"], "xinetd-userid");
    let parts: Vec<&str> = f["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["part"]["part"].as_str().unwrap())
        .collect();
    assert_eq!(
        parts,
        [
            "handshake_loss",
            "to_server",
            "server_before",
            "callback",
            "from_server"
        ]
    );
    // Sentences kept for people, in the language asked for.
    assert!(f["sentences"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("The POP3 greeting came 34.5 s"));
    assert_eq!(
        f["sentences"]["evidence"].as_array().unwrap().len(),
        f["evidence"].as_array().unwrap().len()
    );
    assert_eq!(v["warnings"][0]["kind"]["kind"], "snaplen");
    assert!(v["warnings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("4 packets were cut short"));
    let committed =
        fs::read_to_string(example("../docs/report.schema.json")).expect("docs/report.schema.json");
    let o = stalltrace(&["schema"]);
    let now = stdout(&o);
    // Say where it differs; the whole schema is too long to read in a failure.
    let first_difference = now.lines().zip(committed.lines()).position(|(a, b)| a != b);
    assert!(
        now == committed,
        "the JSON schema changed (first at line {first_difference:?}): run `stalltrace schema > docs/report.schema.json` and bump SCHEMA_VERSION if a field changed meaning"
    );
}

#[test]
fn fail_on_sets_the_exit_code() {
    let env1 = example("env1-fw-eth1-outside.txt");
    let env3 = example("env3-fw-eth1-outside.txt");
    assert_eq!(
        stalltrace(&["analyze", "--fail-on", "warning", env1.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        stalltrace(&["analyze", "--fail-on", "warning", env3.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        stalltrace(&["analyze", "--fail-on", "info", env3.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn stdin_and_folders_are_inputs() {
    let mut child = Command::new(bin())
        .args(["analyze", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let text = fs::read(example("env1-fw-eth1-outside.txt")).unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("CRITICAL application-wait at stdin"),
        "{}",
        stdout(&o)
    );

    let o = stalltrace(&["analyze", example("").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    // The seed's two set-ups and the bundled lab capture: three paths.
    assert!(out.contains("8 capture points"), "{out}");
    assert!(
        out.contains("path, client side first: client → fw-eth2 → fw-eth1 → server\n"),
        "{out}"
    );
    // Two set-ups in one folder: two paths, and env1's wait told once.
    assert!(
        out.contains("path, client side first: env1-fw-eth2-inside → env1-fw-eth1-outside\n"),
        "{out}"
    );
    assert!(
        out.contains("path, client side first: env3-fw-eth2-inside → env3-fw-eth1-outside\n"),
        "{out}"
    );
    assert_eq!(out.matches("CRITICAL application-wait").count(), 1, "{out}");
    assert_eq!(out.matches("WARNING application-wait").count(), 1, "{out}");
    assert!(out.contains("Also seen at: env1-fw-eth2-inside."), "{out}");
}

/// An empty file is what tcpdump prints for a capture without packets:
/// a point with nothing to diagnose, said as such, never "No stall found"
/// (issue 11).
#[test]
fn an_empty_file_is_a_point_with_nothing_to_diagnose() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.txt");
    fs::write(&p, b"").unwrap();
    let o = stalltrace(&["analyze", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}: the file is empty", p.display())),
        "{err}"
    );
    assert!(err.contains("empty: no IP traffic here"), "{err}");
    let out = stdout(&o);
    assert!(
        out.contains("stalltrace 0.1.0: 1 capture point, 0 packets"),
        "{out}"
    );
    assert!(
        out.contains("Nothing to diagnose: no IP packet was read"),
        "{out}"
    );
    assert!(!out.contains("No stall found"), "{out}");
    assert!(!err.contains("panicked"));
}

#[test]
fn prose_is_a_clear_error_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    fs::write(&p, "Dear vendor,\nthe login is slow.\nRegards\n").unwrap();
    let o = stalltrace(&["analyze", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!(
            "{}: no tcpdump packet line among its 3 lines (line 1: \"Dear vendor,\")",
            p.display()
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn wrong_magic_is_a_clear_error_with_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("garbage.pcap");
    fs::write(
        &p,
        [0x00, 0x01, 0x02, 0x03, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0],
    )
    .unwrap();
    let o = stalltrace(&["analyze", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a pcap, pcapng or tcpdump text capture: it starts with 00 01 02 03 de ad be ef at byte 0"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn missing_file_is_a_clear_error_and_the_other_inputs_still_count() {
    let o = stalltrace(&[
        "analyze",
        "/nonexistent/x.pcap",
        example("env1-fw-eth1-outside.txt").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/x.pcap: cannot open"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("application-wait"), "{}", stdout(&o));
}

#[test]
fn a_cut_pcap_is_analysed_up_to_the_cut_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (p, lens) = seed_pcap(dir.path(), "env1-fw-eth1-outside");
    let full = fs::read(&p).unwrap();
    // Cut the last record (the client's final ACK) in the middle.
    fs::write(&p, &full[..full.len() - 20]).unwrap();
    let record_11_at: usize = 24 + lens[..10].iter().map(|l| 16 + l).sum::<usize>();
    let o = stalltrace(&["analyze", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{}: byte {record_11_at}: the file ends inside record 11",
            p.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("the 10 complete records before it were analysed"),
        "{err}"
    );
    assert!(
        stdout(&o).contains("CRITICAL application-wait"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_lying_record_length_stops_reading_there_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (p, lens) = seed_pcap(dir.path(), "env1-fw-eth1-outside");
    let mut bytes = fs::read(&p).unwrap();
    let at: usize = 24 + lens[..10].iter().map(|l| 16 + l).sum::<usize>();
    bytes[at + 8..at + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    fs::write(&p, &bytes).unwrap();
    let o = stalltrace(&["analyze", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "byte {at}: record 11 claims 4294967280 captured bytes"
        )),
        "{err}"
    );
    assert!(stdout(&o).contains("CRITICAL application-wait"));
}

#[test]
fn a_pcapng_block_length_lie_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(example("env3-fw-eth1-outside.txt")).unwrap();
    let frames = frames_from_packets(&packets_from_text(&text), &mut HostMap::default());
    let p = dir.path().join("lie.pcapng");
    let mut buf = Vec::new();
    write_pcapng(&mut buf, "eth1", &frames).unwrap();
    // The first block after SHB and IDB is the first packet; break its length.
    let shb = u32::from_le_bytes(buf[4..8].try_into().unwrap()) as usize;
    let idb = u32::from_le_bytes(buf[shb + 4..shb + 8].try_into().unwrap()) as usize;
    let first = shb + idb;
    let epb = u32::from_le_bytes(buf[first + 4..first + 8].try_into().unwrap()) as usize;
    let second = first + epb;
    buf[second + 4..second + 8].copy_from_slice(&13u32.to_le_bytes());
    fs::write(&p, &buf).unwrap();
    let o = stalltrace(&["analyze", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "byte {second}: block of type 0x00000006 claims a length of 13 bytes"
        )),
        "{err}"
    );
    assert!(err.contains("the 1 packet before it was analysed"), "{err}");
}

#[test]
fn usage_errors_exit_2_and_help_has_examples() {
    assert_eq!(
        stalltrace(&["analyze", "--threshold", "soon", "x"])
            .status
            .code(),
        Some(2)
    );
    let o = stalltrace(&["analyze", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Examples:"));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal_and_language_from_lang() {
    let f = example("env1-fw-eth1-outside.txt");
    let f = f.to_str().unwrap();
    // Standard output is a pipe here: no colour unless forced.
    let plain = stalltrace(&["analyze", f]);
    assert!(!stdout(&plain).contains('\x1b'));
    let forced = stalltrace(&["analyze", "--color", "always", f]);
    assert!(stdout(&forced).contains("\x1b[1;31mCRITICAL\x1b[0m"));
    // NO_COLOR silences `auto`; an explicit `--color always` outranks it
    // (what the README says); `never` is never.
    let o = Command::new(bin())
        .args(["analyze", "--color", "always", f])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(stdout(&o).contains("\x1b[1;31mCRITICAL\x1b[0m"));
    let o = Command::new(bin())
        .args(["analyze", "--color", "never", f])
        .output()
        .unwrap();
    assert!(!stdout(&o).contains('\x1b'));
    let o = Command::new(bin())
        .args(["analyze", f])
        .env("LANG", "zh_CN.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains("严重 应用等待，位于 env1-fw-eth1-outside"),
        "{}",
        stdout(&o)
    );
    let o = Command::new(bin())
        .args(["analyze", "--lang", "en", f])
        .env("LANG", "zh_CN.UTF-8")
        .output()
        .unwrap();
    assert!(stdout(&o).contains("CRITICAL application-wait at env1-fw-eth1-outside"));
    assert_eq!(
        stalltrace(&["analyze", "--lang", "fr", f]).status.code(),
        Some(2)
    );
}

/// Folders (issue 11): an empty one, or one without any capture, is an
/// error; one with captures and other files analyses the captures, warns
/// about the rest, and keeps the exit code of `--fail-on`.
#[test]
fn folders_analyse_their_captures_and_warn_about_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let o = stalltrace(&["analyze", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!(
            "{}: no capture found: it holds no file",
            empty.display()
        )),
        "{}",
        stderr(&o)
    );

    let notes_only = dir.path().join("notes-only");
    fs::create_dir(&notes_only).unwrap();
    fs::write(
        notes_only.join("NOTES.md"),
        "# What we saw\nThe login is slow.\n",
    )
    .unwrap();
    let o = stalltrace(&["analyze", notes_only.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no capture found among its 1 file"),
        "{}",
        stderr(&o)
    );

    let mixed = dir.path().join("mixed");
    fs::create_dir(&mixed).unwrap();
    fs::write(
        mixed.join("NOTES.md"),
        "# What we saw\nThe login is slow.\n",
    )
    .unwrap();
    fs::write(
        mixed.join("random.bin"),
        [0u8, 1, 2, 3, 0xde, 0xad, 0xbe, 0xef],
    )
    .unwrap();
    fs::copy(
        example("env1-fw-eth1-outside.txt"),
        mixed.join("env1-fw-eth1-outside.txt"),
    )
    .unwrap();
    let o = stalltrace(&["analyze", "--fail-on", "warning", mixed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("NOTES.md: not a capture, left out: no tcpdump packet line among its 2 lines"),
        "{err}"
    );
    assert!(
        err.contains("random.bin: not a capture, left out: not pcap, pcapng or tcpdump text"),
        "{err}"
    );
    let out = stdout(&o);
    assert!(out.contains("1 capture point"), "{out}");
    assert!(out.contains("CRITICAL application-wait"), "{out}");
}

/// `--summary`: one line per finding for chat and monitoring, with its
/// severity, cost, finding, point, what happened and the first fix.
#[test]
fn summary_is_one_line_per_finding() {
    let o = stalltrace(&[
        "analyze",
        "--summary",
        "--lang",
        "en",
        example("env1-fw-eth1-outside.txt").to_str().unwrap(),
        example("env1-fw-eth2-inside.txt").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("CRITICAL 34.3 s application-wait @ env1-fw-eth1-outside: "),
        "{out}"
    );
    assert!(lines[0].contains("ident (RFC 1413)"), "{out}");
    assert!(lines[0].ends_with("| fix: stop the USERID lookup: remove USERID from log_on_success and log_on_failure, then reload xinetd: log_on_success -= USERID"), "{out}");
    assert!(
        lines[1].starts_with("WARNING 4.2 s syn-ack-retransmitted"),
        "{out}"
    );
    let none = stalltrace(&[
        "analyze",
        "--summary",
        "--lang",
        "en",
        example("env3-fw-eth2-inside.txt").to_str().unwrap(),
    ]);
    assert_eq!(stdout(&none), "no stall found\n");
}

/// `--html -` writes the page to standard output, in place of the text.
#[test]
fn html_to_stdout() {
    let o = stalltrace(&[
        "analyze",
        "--html",
        "-",
        example("env1-fw-eth1-outside.txt").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("<!DOCTYPE html>"),
        "{}",
        &out[..out.len().min(200)]
    );
    assert!(out.contains("application-wait"));
    assert!(!std::path::Path::new("-").exists());
    let both = stalltrace(&[
        "analyze",
        "--html",
        "-",
        "--json",
        example("env1-fw-eth1-outside.txt").to_str().unwrap(),
    ]);
    assert_ne!(both.status.code(), Some(0));
    assert!(stderr(&both).contains("--html -"), "{}", stderr(&both));
}
