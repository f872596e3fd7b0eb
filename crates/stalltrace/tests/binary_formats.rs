//! pcap and pcapng holding the seed's packets give the same findings as
//! the printed seed.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use stalltrace_testkit::{
    frames_from_packets, packets_from_text, write_pcap, write_pcapng, HostMap,
};

fn findings_json(a: &stalltrace::analyze::Analysis, names: &[(String, String)]) -> String {
    // A Wireshark filter needs real addresses: the pcap has one, the
    // printout with masked hosts none. The rest must be the same.
    let findings: Vec<_> = a
        .report
        .findings
        .iter()
        .cloned()
        .map(|mut f| {
            f.wireshark_filter = None;
            f
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&findings).unwrap();
    for (name, addr) in names {
        // A firewall rule names the server only by a real address: the
        // pcap has one where the printout had a masked host.
        s = s.replace(&format!("ip saddr {addr} "), "");
        s = s.replace(&format!(" -s {addr}"), "");
        s = s.replace(addr.as_str(), name.as_str());
    }
    s
}

fn check(seed: &str) {
    let text_path = example(&format!("{seed}.txt"));
    let text = fs::read_to_string(&text_path).unwrap();
    let mut hosts = HostMap::default();
    let frames = frames_from_packets(&packets_from_text(&text), &mut hosts);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("pcap").join(format!("{seed}.pcap"));
    let pcapng = dir.path().join("pcapng").join(format!("{seed}.pcapng"));
    for p in [&pcap, &pcapng] {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
    }
    write_pcap(fs::File::create(&pcap).unwrap(), &frames).unwrap();
    write_pcapng(fs::File::create(&pcapng).unwrap(), "eth1", &frames).unwrap();

    let from_text = run(&[text_path]);
    assert!(!from_text.report.findings.is_empty() || seed == "env3-fw-eth2-inside");
    let expected = findings_json(&from_text, &[]);
    for p in [&pcap, &pcapng] {
        let a = run(&[p.to_path_buf()]);
        assert!(a.errors.is_empty());
        assert!(a.report.warnings.is_empty(), "{:?}", a.report.warnings);
        assert_eq!(a.report.points[0].name, seed);
        assert_eq!(a.report.points[0].stats.packets as usize, frames.len());
        let got = findings_json(&a, &hosts.pairs());
        assert_eq!(
            got,
            expected,
            "{} differs from the text capture",
            Path::new(p).display()
        );
    }
}

#[test]
fn env1_outside_same_from_pcap_and_pcapng() {
    check("env1-fw-eth1-outside");
}

#[test]
fn env1_inside_same_from_pcap_and_pcapng() {
    check("env1-fw-eth2-inside");
}

#[test]
fn env3_outside_same_from_pcap_and_pcapng() {
    check("env3-fw-eth1-outside");
}

#[test]
fn env3_inside_same_from_pcap_and_pcapng() {
    check("env3-fw-eth2-inside");
}
