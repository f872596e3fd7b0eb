//! Choosing the packets: `--filter` (BPF, tcpdump's syntax, run by
//! libpcap) against tcpdump's own filtering, and `--host`, `--port`,
//! `--since`, `--until`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use stalltrace_testkit::{frames_from_packets, packets_from_text, write_pcap, HostMap};

/// Lines of other traffic, between the seed's: DNS and web from other
/// hosts, which every filter below leaves out.
const NOISE: &str = "\
13:05:08.600000 IP 192.0.2.77.5353 > 198.51.100.53.53: 4242+ A? example.org. (29)
13:05:08.601000 IP 198.51.100.53.53 > 192.0.2.77.5353: 4242 1/0/0 A 203.0.113.80 (45)
13:05:10.000000 IP 192.0.2.77.40000 > 203.0.113.80.80: Flags [S], seq 1, win 64240, length 0
13:05:10.001000 IP 203.0.113.80.80 > 192.0.2.77.40000: Flags [S.], seq 9, ack 2, win 64240, length 0
13:05:10.002000 IP 192.0.2.77.40000 > 203.0.113.80.80: Flags [.], ack 10, win 64240, length 0
13:05:20.000000 IP 192.0.2.77.5353 > 198.51.100.53.53: 4243+ AAAA? example.org. (29)
13:05:20.001000 IP 198.51.100.53.53 > 192.0.2.77.5353: 4243 0/1/0 (80)
";

/// The seed's outside capture with other traffic among it, as a pcap.
fn noisy_seed(dir: &Path) -> PathBuf {
    let seed = fs::read_to_string(example("env1-fw-eth1-outside.txt")).unwrap();
    let mut packets = packets_from_text(&seed);
    packets.extend(packets_from_text(NOISE));
    packets.sort_by_key(|p| p.meta.ts);
    let frames = frames_from_packets(&packets, &mut HostMap::default());
    let out = dir.join("env1-fw-eth1-outside.pcap");
    write_pcap(fs::File::create(&out).unwrap(), &frames).unwrap();
    out
}

fn json(args: &[&str], input: &Path) -> (Option<i32>, serde_json::Value, String) {
    let o = Command::new(bin())
        .args(["analyze", "--json"])
        .args(args)
        .arg(input)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (
        o.status.code(),
        v,
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// The findings without packet numbers (tcpdump -w renumbers what it
/// keeps) and without the file names.
fn findings(v: &serde_json::Value) -> serde_json::Value {
    let mut f = v["findings"].clone();
    fn strip(x: &mut serde_json::Value) {
        match x {
            serde_json::Value::Object(m) => {
                m.remove("packet");
                m.remove("packets");
                for (_, v) in m.iter_mut() {
                    strip(v);
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut f);
    f
}

fn tcpdump_here() -> bool {
    if Command::new("tcpdump").arg("--version").output().is_ok() {
        return true;
    }
    if std::env::var("STALLTRACE_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
        panic!("tcpdump is missing but STALLTRACE_REQUIRE_ROOT_TESTS=1 (scripts/test installs it)");
    }
    eprintln!("\n*** SKIPPED filter test: no tcpdump (apt-get install tcpdump) ***\n");
    false
}

/// `--filter 'tcp port 110 or tcp port 113'` gives the report tcpdump's
/// filtered copy gives (packet numbers aside: tcpdump renumbers), says
/// how many packets it left out, and differs from the unfiltered one.
#[test]
fn bpf_filter_as_tcpdump_filters() {
    if !tcpdump_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let noisy = noisy_seed(dir.path());
    let expr = "tcp port 110 or tcp port 113";
    let filtered = dir
        .path()
        .join("filtered")
        .join("env1-fw-eth1-outside.pcap");
    fs::create_dir_all(filtered.parent().unwrap()).unwrap();
    let t = Command::new("tcpdump")
        .args(["-r"])
        .arg(&noisy)
        .args(["-w"])
        .arg(&filtered)
        .arg(expr)
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let (code, ours, err) = json(&["--filter", expr], &noisy);
    assert_eq!(code, Some(0), "{err}");
    let (_, theirs, _) = json(&[], &filtered);
    assert_eq!(findings(&ours), findings(&theirs));
    assert_eq!(ours["inputs"][0]["filtered_out"], 7);
    assert_eq!(ours["points"][0]["stats"]["packets"], 11);
    // Every format says what the filter left out.
    for (flag, said) in [
        ("--summary", None),
        ("--markdown", Some("7 packets left out by the filter.")),
        ("--html", Some("7 packets left out by the filter</p>")),
    ] {
        let mut c = Command::new(bin());
        c.args(["analyze", "--lang", "en", "--filter", expr, flag]);
        if flag != "--summary" {
            c.arg("-");
        }
        let o = c.arg(&noisy).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        if let Some(said) = said {
            assert!(out.contains(said), "{flag}: {out}");
        }
    }
    let o = Command::new(bin())
        .args(["analyze", "--filter", expr])
        .arg(&noisy)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains(": 7 packets left out by the filter"));
    // The evidence keeps the file's own numbers: the greeting is packet 17
    // of the noisy file, 10 of tcpdump's copy.
    let greeting = |v: &serde_json::Value| {
        v["findings"][0]["evidence"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["packet"]
            .clone()
    };
    assert_eq!(greeting(&ours), 17);
    assert_eq!(greeting(&theirs), 10);
    // Unfiltered the web handshake and the lookups are there too.
    let (_, all, _) = json(&[], &noisy);
    assert_eq!(all["points"][0]["stats"]["packets"], 18);
    // The same selection by --port.
    let (_, by_port, _) = json(&["--port", "110", "--port", "113"], &noisy);
    assert_eq!(findings(&by_port), findings(&ours));
    assert_eq!(by_port["inputs"][0]["filtered_out"], 7);
}

/// A filter with a mistake is exit 2 with libpcap's words, before any
/// input is read; on printed text a BPF filter is a clear error too.
#[test]
fn a_filter_mistake_is_explained() {
    if !tcpdump_here() {
        return;
    }
    let o = Command::new(bin())
        .args(["analyze", "--filter", "tcp port 110 orr port 113"])
        .arg(example("env1-fw-eth1-outside.txt"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("filter 'tcp port 110 orr port 113': "),
        "{err}"
    );
    assert!(err.contains("syntax error"), "{err}");
    assert!(o.stdout.is_empty());
    let o = Command::new(bin())
        .args(["analyze", "--filter", "port 110"])
        .arg(example("env1-fw-eth1-outside.txt"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("tcpdump's printed text"), "{err}");
    // Nothing is said about a capture that was not analysed.
    assert!(!String::from_utf8_lossy(&o.stdout).contains("No stall"));
}

/// --host, --since and --until on printed text: the window before the
/// greeting has no finished wait, the window after the handshake no SYN
/// to time it from; the whole window is the seed's finding.
#[test]
fn hosts_and_times_choose_packets_of_any_input() {
    let seed = example("env1-fw-eth1-outside.txt");
    let (_, whole, _) = json(&["--host", "218.104.68.171"], &seed);
    assert_eq!(whole["findings"][0]["id"], "application-wait");
    assert_eq!(whole["inputs"][0]["filtered_out"], 0);
    let (_, early, _) = json(&["--until", "+30"], &seed);
    assert_eq!(early["inputs"][0]["filtered_out"], 2);
    assert!(early["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["id"] != "application-wait"));
    let (_, late, _) = json(&["--since", "13:05:13"], &seed);
    assert_eq!(late["inputs"][0]["filtered_out"], 5);
    let (_, window, _) = json(&["--since", "13:05:08", "--until", "13:05:44"], &seed);
    assert_eq!(findings(&window), findings(&whole));
    // A masked address, as the printout has it.
    let (_, masked, _) = json(&["--host", "220.xxx.160.xxx"], &seed);
    assert_eq!(findings(&masked), findings(&whole));
    let (_, none, _) = json(&["--host", "192.0.2.1"], &seed);
    assert_eq!(none["inputs"][0]["filtered_out"], 11);
    let o = Command::new(bin())
        .args(["analyze", "--since", "soon"])
        .arg(&seed)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a time"));
}

/// `--conversation` on the seed's two points: the login's 14 packets, by
/// its outside addresses and, through the NAT mapping, its inside ones, in
/// time order; then the findings about it. Unknown ends say so.
#[test]
fn one_conversation_at_every_point() {
    let o = Command::new(bin())
        .args([
            "analyze",
            "-q",
            "--width",
            "200",
            "--conversation",
            "218.104.68.171:42390-220.xxx.160.xxx:110",
        ])
        .arg(example("env1-fw-eth1-outside.txt"))
        .arg(example("env1-fw-eth2-inside.txt"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "Conversation 218.104.68.171:42390 ↔ 220.xxx.160.xxx:110, seen as 192.168.1.200:1523 ↔ 220.xxx.160.xxx:110: 14 packets at 2 capture points (each point's own clock)"
    );
    let rows: Vec<&str> = lines.take_while(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 14, "{text}");
    assert!(rows[0].starts_with("  +0.000000   env1-fw-eth2-inside       #1  13:05:08.533096 IP 192.168.1.200.1523 > 220.xxx.160.xxx.110: Flags [S]"), "{}", rows[0]);
    assert!(
        rows[1].contains("env1-fw-eth1-outside") && rows[1].contains("IP 218.104.68.171.42390 >")
    );
    assert!(
        rows[13].starts_with("  +34.723817  env1-fw-eth1-outside     #11"),
        "{}",
        rows[13]
    );
    assert!(text.contains("CRITICAL application-wait at env1-fw-eth1-outside"));
    // The analysis's window is the conversation's too.
    let o = Command::new(bin())
        .args([
            "analyze",
            "-q",
            "--until",
            "+10",
            "--conversation",
            "218.104.68.171:42390-220.xxx.160.xxx:110",
        ])
        .arg(example("env1-fw-eth1-outside.txt"))
        .arg(example("env1-fw-eth2-inside.txt"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(": 10 packets at 2 capture points"), "{text}");
    let o = Command::new(bin())
        .args(["analyze", "-q", "--conversation", "192.0.2.1:1-192.0.2.2:2"])
        .arg(example("env1-fw-eth1-outside.txt"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("Conversation 192.0.2.1:1 ↔ 192.0.2.2:2: 0 packets at 0 capture points"),
        "{text}"
    );
    assert!(text.contains("No packet of it"));
    assert!(!text.contains("CRITICAL"), "{text}");
    let o = Command::new(bin())
        .args([
            "analyze",
            "--json",
            "--conversation",
            "192.0.2.1:1-192.0.2.2:2",
        ])
        .arg(example("env1-fw-eth1-outside.txt"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
