//! What people and programs read: text and JSON in both languages
//! (snapshots), and the HTML page (well-formed SVG, the same from text and
//! pcap, clean in a real browser).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use stalltrace::analyze::{analyze, AnalyzeOptions, InputSpec};
use stalltrace_diagnosis::Lang;
use stalltrace_report::{html, json, text};
use stalltrace_testkit::{
    chinese_faults, frames_from_packets, packets_from_text, write_pcap, HostMap,
};

fn report(paths: &[PathBuf], _lang: Lang) -> stalltrace_report::Report {
    let a = analyze(&AnalyzeOptions {
        inputs: paths.iter().map(InputSpec::new).collect(),
        ..Default::default()
    });
    assert!(a.errors.is_empty());
    a.report
}

/// Tests run in the crate's folder; relative paths make the report (and its
/// line wrapping) the same wherever the repository is checked out.
fn rel(name: &str) -> PathBuf {
    PathBuf::from("../../examples").join(name)
}

fn portable(s: &str) -> String {
    s.replace("../../examples/", "examples/")
}

fn text_of(paths: &[PathBuf], lang: Lang) -> String {
    portable(&text::render(
        &report(paths, lang),
        &text::TextOptions {
            width: 100,
            color: false,
            lang,
        },
    ))
}

fn json_of(paths: &[PathBuf], lang: Lang) -> String {
    let mut buf = Vec::new();
    json::write(&report(paths, lang), lang, &mut buf).unwrap();
    portable(&String::from_utf8(buf).unwrap())
}

fn seed_pair(env: &str) -> Vec<PathBuf> {
    vec![
        rel(&format!("{env}-fw-eth1-outside.txt")),
        rel(&format!("{env}-fw-eth2-inside.txt")),
    ]
}

fn lab() -> Vec<PathBuf> {
    ["client", "fw-eth2", "fw-eth1", "server"]
        .iter()
        .map(|p| rel(&format!("lab/env1-drop/{p}.pcapng")))
        .collect()
}

#[test]
fn text_snapshots() {
    for (name, paths) in [
        ("env1", seed_pair("env1")),
        ("env3", seed_pair("env3")),
        ("lab-env1-drop", lab()),
    ] {
        for lang in [Lang::En, Lang::ZhCn] {
            insta::assert_snapshot!(
                format!("text-{name}-{}", lang.code()),
                text_of(&paths, lang)
            );
        }
    }
}

#[test]
fn json_snapshots() {
    for (name, paths) in [
        ("env1", seed_pair("env1")),
        ("env3", seed_pair("env3")),
        ("lab-env1-drop", lab()),
    ] {
        for lang in [Lang::En, Lang::ZhCn] {
            insta::assert_snapshot!(
                format!("json-{name}-{}", lang.code()),
                json_of(&paths, lang)
            );
        }
    }
}

#[test]
fn chinese_reports_carry_no_english_and_follow_the_conventions() {
    for paths in [seed_pair("env1"), seed_pair("env3"), lab()] {
        let t = text_of(&paths, Lang::ZhCn);
        let faults = chinese_faults(&t);
        assert!(faults.is_empty(), "{}\n\n{t}", faults.join("\n"));
    }
    let t = text_of(&seed_pair("env1"), Lang::ZhCn);
    assert!(t.contains("服务器为 ident（RFC 1413）反查"), "{t}");
    assert!(
        t.contains("4 个 SYN 到达了 env1-fw-eth1-outside，没有一个到达 env1-fw-eth2-inside"),
        "{t}"
    );
    // The rule names and the input warnings are Chinese too.
    assert!(
        t.contains("严重 应用等待，位于 env1-fw-eth1-outside"),
        "{t}"
    );
    assert!(t.contains("个数据包被抓包截短（snaplen）"), "{t}");
    // The Markdown in Chinese too, its code blocks (configuration lines,
    // tcpdump's) aside.
    for paths in [seed_pair("env1"), lab()] {
        let md = stalltrace_report::markdown::render(
            &report(&paths, Lang::ZhCn),
            Lang::ZhCn,
            &Default::default(),
        );
        let mut fenced = false;
        let prose: String = md
            .lines()
            .filter(|l| {
                if l.starts_with("```") || l.trim_start().starts_with("```") {
                    fenced = !fenced;
                    return false;
                }
                !fenced
            })
            .map(|l| format!("{}\n", l.replace('\\', "")))
            .collect();
        let faults = chinese_faults(&prose);
        assert!(faults.is_empty(), "{}\n\n{md}", faults.join("\n"));
        assert!(md.contains("**修复：**"), "{md}");
    }
}

#[test]
fn the_convention_check_catches_what_it_should() {
    assert_eq!(chinese_faults("服务器为ident等待").len(), 2);
    assert_eq!(chinese_faults("耗时 34.5 秒才到达。").len(), 0);
    assert_eq!(chinese_faults("已分析, 见警告").len(), 1);
    assert_eq!(chinese_faults("the packets were lost").len(), 3);
    assert!(chinese_faults("        nft add rule inet filter input tcp dport 113").is_empty());
}

fn svg_of(page: &str) -> &str {
    let a = page.find("<svg").expect("an SVG");
    let b = page.find("</svg>").expect("its end") + "</svg>".len();
    &page[a..b]
}

#[test]
fn the_ladder_is_well_formed_svg_with_its_parts() {
    for lang in [Lang::En, Lang::ZhCn] {
        let page = html::render(&report(&seed_pair("env1"), lang), lang);
        let doc = roxmltree::Document::parse(svg_of(&page)).expect("well-formed XML");
        let class = |c: &str| {
            doc.descendants()
                .filter(|n| n.attribute("class") == Some(c))
                .count()
        };
        // A column per capture point, client side first, each once.
        assert_eq!(class("column"), 2);
        let names: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("column-name"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(names, ["env1-fw-eth2-inside", "env1-fw-eth1-outside"]);
        let addresses: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("column-address"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(
            addresses,
            [
                "192.168.1.200:1523",
                "220.xxx.160.xxx:110",
                "218.104.68.171:42390",
                "220.xxx.160.xxx:110"
            ]
        );
        // The four ident SYNs die between the outside and the inside
        // point, and the client's first ACK past the outside one.
        assert_eq!(class("dropped"), 5);
        assert_eq!(class("wait"), 1);
        let wait = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("wait-label"))
            .unwrap();
        assert_eq!(
            wait.text(),
            Some(if lang == Lang::En {
                "wait 30.0 s"
            } else {
                "等待 30.0 秒"
            })
        );
        assert!(class("gap") >= 4, "long gaps are compressed and labelled");
        // Self-contained: no address but the SVG namespace's.
        let urls = page.matches("http://").count()
            + page.matches("https://").count()
            + page.matches("//cdn").count();
        assert_eq!(
            urls,
            page.matches("http://www.w3.org/2000/svg").count(),
            "a fetch from elsewhere"
        );
    }
}

#[test]
fn the_page_is_the_same_from_text_and_from_pcap() {
    let dir = tempfile::tempdir().unwrap();
    let mut hosts = HostMap::default();
    let mut pcaps = Vec::new();
    for p in seed_pair("env1") {
        let frames = frames_from_packets(
            &packets_from_text(&fs::read_to_string(&p).unwrap()),
            &mut hosts,
        );
        let out = dir
            .path()
            .join(format!("{}.pcap", p.file_stem().unwrap().to_string_lossy()));
        write_pcap(fs::File::create(&out).unwrap(), &frames).unwrap();
        pcaps.push(out);
    }
    let findings_part = |page: &str| -> String {
        let a = page.find("<section class=\"finding\"").unwrap();
        let b = page.find("<section id=\"points\">").unwrap();
        page[a..b].to_string()
    };
    let from_text = findings_part(&html::render(
        &report(&seed_pair("env1"), Lang::En),
        Lang::En,
    ));
    let mut from_pcap = findings_part(&html::render(&report(&pcaps, Lang::En), Lang::En));
    for (name, addr) in hosts.pairs() {
        // A firewall rule names the server only by a real address, which
        // the pcap has where the printout had a masked host.
        from_pcap = from_pcap.replace(&format!("ip saddr {addr} "), "");
        from_pcap = from_pcap.replace(&format!(" -s {addr}"), "");
        from_pcap = from_pcap.replace(&addr, &name);
    }
    // Only real addresses make a Wireshark filter: the pcap's findings
    // have one, the printout's masked ones none.
    let no_filter = |page: &str| -> String {
        page.lines()
            .filter(|l| !l.starts_with("<p class=\"filter\">"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        from_pcap.matches("<p class=\"filter\">").count(),
        from_pcap.matches("<section class=\"finding\"").count()
    );
    assert_eq!(no_filter(&from_pcap), no_filter(&from_text));
}

/// Every line of the text report within `--width`, in both languages, on
/// the seed's captures and each of the lab's scenarios (all points
/// together): tables wrap their cells, verbatim lines continue, nothing
/// is cut away.
#[test]
fn the_text_report_keeps_within_its_width() {
    use unicode_width::UnicodeWidthStr;
    let lab_dir = Path::new("tests/data/precision/lab");
    let mut sets: Vec<Vec<PathBuf>> = vec![
        seed_pair("env1"),
        seed_pair("env3"),
        vec![rel("env1-fw-eth1-outside.txt")],
        lab(),
    ];
    let mut scenarios: Vec<PathBuf> = fs::read_dir(lab_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    scenarios.sort();
    sets.extend(scenarios.into_iter().map(|d| vec![d]));
    let mut lines = 0;
    for set in &sets {
        let r = report(set, Lang::En);
        for lang in [Lang::En, Lang::ZhCn] {
            for width in [40, 60, 80] {
                let t = text::render(
                    &r,
                    &text::TextOptions {
                        width,
                        color: false,
                        lang,
                    },
                );
                for line in t.lines() {
                    assert!(
                        line.width() <= width,
                        "{set:?} {lang:?} at {width}: {} columns: {line}",
                        line.width()
                    );
                    lines += 1;
                }
                // Nothing dropped to fit: every word of the wide report is here.
                let wide = text::render(
                    &r,
                    &text::TextOptions {
                        width: 400,
                        color: false,
                        lang,
                    },
                );
                let squash = |s: &str| -> String {
                    s.chars()
                        .filter(|c| !c.is_whitespace() && *c != '\\')
                        .collect()
                };
                let narrow = squash(&t);
                for word in wide.split_whitespace() {
                    assert!(
                        narrow.contains(&squash(word)),
                        "{set:?} {lang:?} at {width}: '{word}' lost"
                    );
                }
            }
        }
    }
    assert!(lines > 10_000, "only {lines} lines checked");
}

/// `--width 60` on the command line: no line over 60 columns (the issue's
/// check), coloured or not.
#[test]
fn width_60_on_the_command_line() {
    use unicode_width::UnicodeWidthStr;
    for color in ["never", "always"] {
        let out = Command::new(bin())
            .args(["analyze", "-q", "--width", "60", "--color", color])
            .args(seed_pair("env1"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8(out.stdout).unwrap();
        let plain = strip_ansi(&text);
        assert!(plain.lines().count() > 80);
        for line in plain.lines() {
            assert!(line.width() <= 60, "{} columns: {line}", line.width());
        }
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
