//! What goes into a ticket and what comes from the field as it is: the
//! Markdown report (read by a Markdown parser), its evidence pasted back,
//! the Wireshark filters checked with tshark, compressed captures, and a
//! capture point rotated into several files.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use stalltrace_capture::{CaptureReader, Record};
use stalltrace_decode::{decode_frame, Packet, Transport};
use stalltrace_diagnosis::FindingId;
use stalltrace_testkit::{frames_from_packets, packets_from_text, write_pcap, HostMap};

fn seed_pair() -> Vec<PathBuf> {
    vec![
        example("env1-fw-eth1-outside.txt"),
        example("env1-fw-eth2-inside.txt"),
    ]
}

/// The seed's two printouts as the pcap files they were printed from
/// (masked addresses given real ones), named like them.
fn seed_pcaps(dir: &Path) -> Vec<PathBuf> {
    let mut hosts = HostMap::default();
    seed_pair()
        .iter()
        .map(|p| {
            let frames = frames_from_packets(
                &packets_from_text(&fs::read_to_string(p).unwrap()),
                &mut hosts,
            );
            let out = dir.join(format!("{}.pcap", p.file_stem().unwrap().to_string_lossy()));
            write_pcap(fs::File::create(&out).unwrap(), &frames).unwrap();
            out
        })
        .collect()
}

#[derive(Default, Debug)]
struct Parsed {
    headings: Vec<(HeadingLevel, String)>,
    /// Each table's cells, row by row.
    tables: Vec<Vec<Vec<String>>>,
    /// (info string, contents).
    code: Vec<(String, String)>,
    html: usize,
}

/// The document as a CommonMark + GFM-tables parser sees it.
fn parse(md: &str) -> Parsed {
    let mut p = Parsed::default();
    let mut text = String::new();
    let mut heading = None;
    let mut code: Option<String> = None;
    let mut row: Vec<String> = Vec::new();
    for e in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match e {
            Event::Start(Tag::Heading { level, .. }) => {
                heading = Some(level);
                text.clear();
            }
            Event::End(TagEnd::Heading(_)) => {
                p.headings.push((heading.take().unwrap(), text.clone()));
            }
            Event::Start(Tag::Table(_)) => p.tables.push(Vec::new()),
            Event::Start(Tag::TableCell) => text.clear(),
            Event::End(TagEnd::TableCell) => row.push(text.clone()),
            Event::End(TagEnd::TableRow | TagEnd::TableHead) => {
                p.tables.last_mut().unwrap().push(std::mem::take(&mut row));
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                code = Some(match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                });
                text.clear();
            }
            Event::End(TagEnd::CodeBlock) => {
                p.code.push((code.take().unwrap(), text.clone()));
            }
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::Html(_) | Event::InlineHtml(_) => p.html += 1,
            _ => {}
        }
    }
    p
}

fn markdown_of(args: &[&str], inputs: &[PathBuf]) -> String {
    let out = Command::new(bin())
        .args(["analyze", "--lang", "en", "--markdown", "-"])
        .args(args)
        .args(inputs)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The seed's env1 at both points as a ticket: the answer as the title,
/// a section per finding with its fix first, where the time went and the
/// timeline as tables, the evidence as tcpdump lines and the fixes in
/// code blocks; no raw HTML, markup in the prose escaped.
#[test]
fn the_markdown_of_env1_is_a_ticket() {
    let md = markdown_of(&[], &seed_pair());
    let p = parse(&md);
    assert_eq!(p.html, 0, "{md}");
    let (level, title) = &p.headings[0];
    assert_eq!(*level, HeadingLevel::H1);
    assert!(
        title.contains("ident (RFC 1413) lookup") && title.contains("dropped by the NAT device"),
        "{title}"
    );
    let h2: Vec<&str> = p
        .headings
        .iter()
        .filter(|(l, _)| *l == HeadingLevel::H2)
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        h2,
        [
            "1. CRITICAL application-wait at env1-fw-eth1-outside, cost 34.3 s",
            "2. WARNING syn-ack-retransmitted at env1-fw-eth2-inside, cost 4.2 s",
            "Input warnings"
        ]
    );
    // Where the time went, the dependency's row whole.
    let breakdown = p
        .tables
        .iter()
        .find(|t| t[0] == ["Time", "Where", "What"])
        .expect("a where-the-time-went table");
    assert!(breakdown.iter().any(|r| r[0] == "30.0 s"
        && r[1] == "dependency"
        && r[2].contains("220.xxx.160.xxx:38107 → 218.104.68.171:113")));
    // The timeline with a column per point.
    assert!(p.tables.iter().any(
        |t| t[0] == ["", "env1-fw-eth2-inside", "env1-fw-eth1-outside"]
            && t.iter().any(|r| r[0] == "ident SYN" && r[1] == "—")
    ));
    // The fix in a code block, first under the finding.
    let fix = md.find("log_on_success -= USERID").unwrap();
    assert!(fix < md.find("### Where the time went").unwrap());
    assert!(p
        .code
        .iter()
        .any(|(_, c)| c == "log_on_success -= USERID\nlog_on_failure -= USERID\n"));
    // The evidence: the packets as tcpdump prints them, numbered as the table.
    let evidence: Vec<&str> = p
        .code
        .iter()
        .filter(|(info, _)| info == "text")
        .map(|(_, c)| c.as_str())
        .collect();
    assert_eq!(evidence.len(), 2);
    let first: Vec<&str> = evidence[0].lines().collect();
    assert_eq!(first.len(), 9);
    assert_eq!(
        first[0],
        "    1  13:05:08.533163 IP 218.104.68.171.42390 > 220.xxx.160.xxx.110: Flags [S], seq 950786859, win 16384, options [mss 1460,sackOK], length 0"
    );
    assert!(first[8]
        .ends_with("Flags [P.], seq 211290962:211291010, ack 950786860, win 5840, length 48"));
    // Snake-case names in prose are escaped, not taken for emphasis.
    assert!(md.contains("log\\_on\\_success"));
}

/// The evidence lines of a ticket, pasted back into `analyze -`, are
/// analysed again: the same wait, the same dropped ident lookup.
#[test]
fn the_tickets_evidence_reads_back_as_the_same_story() {
    let md = markdown_of(&[], &[example("env1-fw-eth1-outside.txt")]);
    let p = parse(&md);
    let (_, lines) = p.code.iter().find(|(i, _)| i == "text").unwrap();
    let mut child = Command::new(bin())
        .args(["analyze", "--json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["id"], "application-wait", "{v:#}");
    let cb = &f["facts"]["callbacks"][0];
    assert_eq!(cb["kind"], "ident", "{f:#}");
    assert_eq!(cb["fate"]["kind"], "unanswered", "{f:#}");
    assert_eq!(cb["attempts"].as_array().unwrap().len(), 4, "{f:#}");
    assert_eq!(cb["timer_matches"][0]["id"], "xinetd-userid", "{f:#}");
}

fn tshark_here() -> bool {
    if Command::new("tshark").arg("-v").output().is_ok() {
        return true;
    }
    if std::env::var("STALLTRACE_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
        panic!("tshark is missing but STALLTRACE_REQUIRE_ROOT_TESTS=1 (scripts/test installs it)");
    }
    eprintln!("\n*** SKIPPED tshark test: no tshark (apt-get install tshark) ***\n");
    false
}

/// The frame numbers tshark selects in `file` with display filter `filter`.
fn tshark_selects(file: &Path, filter: &str) -> BTreeSet<u64> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{filter}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn packets_of(file: &Path) -> Vec<Packet> {
    let mut r = CaptureReader::open(file).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next().unwrap() {
        match rec {
            Record::Frame(f) => out.extend(decode_frame(f.link, f.data, f.meta).ok()),
            Record::Packet(p) => out.push(p),
        }
    }
    out
}

/// Each seed finding's Wireshark filter, applied by tshark to the pcap of
/// its capture point, selects exactly the packets of its conversation and
/// of the callback that explains it (every evidence packet among them),
/// and the Markdown's `frame.number` filter exactly the evidence packets.
#[test]
fn the_wireshark_filters_select_the_findings_packets() {
    if !tshark_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcaps = seed_pcaps(dir.path());
    let a = run(&pcaps);
    let mut checked = 0;
    for f in &a.report.findings {
        let filter = f
            .wireshark_filter
            .as_deref()
            .expect("real addresses, a filter");
        let file = pcaps
            .iter()
            .find(|p| p.file_stem().unwrap().to_string_lossy() == f.point)
            .unwrap();
        let c = f.conversation.as_ref().unwrap();
        let mut ends = vec![(c.client.clone(), c.server.clone())];
        if let Some(cb) = f.cause() {
            ends.push((
                cb.conversation.client.clone(),
                cb.conversation.server.clone(),
            ));
        }
        let expected: BTreeSet<u64> = packets_of(file)
            .iter()
            .filter(|p| {
                let Transport::Tcp(t) = &p.transport else {
                    return false;
                };
                let (s, d) = (
                    stalltrace_decode::Endpoint::new(p.src.clone(), t.src_port),
                    stalltrace_decode::Endpoint::new(p.dst.clone(), t.dst_port),
                );
                ends.iter()
                    .any(|(a, b)| (s == *a && d == *b) || (s == *b && d == *a))
            })
            .map(|p| p.meta.number)
            .collect();
        assert_eq!(tshark_selects(file, filter), expected, "{filter}");
        let here: BTreeSet<u64> = f
            .evidence
            .iter()
            .filter(|e| e.point == f.point)
            .map(|e| e.packet)
            .collect();
        assert!(here.is_subset(&expected));
        let numbers: Vec<String> = here.iter().map(u64::to_string).collect();
        let exact = format!("frame.number in {{{}}}", numbers.join(","));
        assert_eq!(tshark_selects(file, &exact), here);
        checked += 1;
    }
    assert_eq!(checked, 2);
    // The Markdown names the same exact filter for the first finding.
    let md = markdown_of(&[], &pcaps);
    assert!(
        md.contains("`frame.number in {1,3,4,5,6,7,8,9,10}`"),
        "{md}"
    );
}

/// The text report with the input's file name taken out.
fn text_without(path: &Path) -> String {
    let a = run(&[path.to_path_buf()]);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    text_en(&a).replace(&path.display().to_string(), "FILE")
}

/// The same report from `x.pcap` and from it compressed with gzip, zstd,
/// xz and bzip2: the same point name, the same findings, every line.
#[test]
fn the_same_report_from_a_compressed_capture() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = &seed_pcaps(dir.path())[0];
    let plain = fs::read(pcap).unwrap();
    let expected = text_without(pcap);
    assert!(expected.contains("CRITICAL application-wait at env1-fw-eth1-outside"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(&plain).unwrap();
    for (ext, bytes) in [
        ("gz", gz.finish().unwrap()),
        ("zst", zstd::stream::encode_all(&plain[..], 3).unwrap()),
        ("xz", xz.finish().unwrap()),
    ] {
        let path = dir.path().join(format!("env1-fw-eth1-outside.pcap.{ext}"));
        fs::write(&path, bytes).unwrap();
        assert_eq!(text_without(&path), expected, "{ext}");
    }
}

/// A point rotated into three files (`tcpdump -C`), named with
/// `--point NAME=F1,F2,F3`, is one point: the same findings with the same
/// packet numbers as the whole file, and a conversation that spans the
/// files is one conversation. A missing file is an error naming it.
#[test]
fn rotated_files_are_one_capture_point() {
    let dir = tempfile::tempdir().unwrap();
    let whole = &seed_pcaps(dir.path())[0];
    let text = fs::read_to_string(example("env1-fw-eth1-outside.txt")).unwrap();
    let frames = frames_from_packets(&packets_from_text(&text), &mut HostMap::default());
    assert_eq!(frames.len(), 11);
    let mut parts = Vec::new();
    for (i, chunk) in [&frames[..4], &frames[4..7], &frames[7..]]
        .iter()
        .enumerate()
    {
        let p = dir.path().join(format!("cap.pcap{i}"));
        write_pcap(fs::File::create(&p).unwrap(), chunk).unwrap();
        parts.push(p.display().to_string());
    }
    let json_of = |point: &str| -> serde_json::Value {
        let out = Command::new(bin())
            .args(["analyze", "--json", "--point", point])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let one = json_of(&format!("out={}", whole.display()));
    let rotated = json_of(&format!("out={}", parts.join(",")));
    assert_eq!(one["findings"], rotated["findings"]);
    assert_eq!(rotated["points"].as_array().unwrap().len(), 1);
    assert_eq!(rotated["points"][0]["stats"], one["points"][0]["stats"]);
    assert_eq!(rotated["points"][0]["file"], parts.join(", "));
    let f = &rotated["findings"][0];
    assert_eq!(f["id"], "application-wait");
    let numbers: Vec<u64> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["packet"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 3, 4, 5, 6, 7, 8, 9, 10]);
    // A missing part: named, the rest still analysed, exit 2.
    let gone = dir.path().join("cap.pcap9");
    let out = Command::new(bin())
        .args(["analyze", "--summary", "--point"])
        .arg(format!("out={},{}", parts[0], gone.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cap.pcap9"));
    // Of a single file the id is its own: analysed, not split at a comma.
    let comma = dir.path().join("a,b.pcap");
    fs::copy(whole, &comma).unwrap();
    let out = Command::new(bin())
        .args(["analyze", "--summary", "--point"])
        .arg(format!("x={}", comma.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("CRITICAL"));
    let _ = FindingId::ApplicationWait;
}

/// Every packet of the lab's captures (22 scenarios, 4 points each:
/// TCP, UDP, DNS, ICMP, IPv6), printed as tcpdump prints it and read back
/// by stalltrace's tcpdump reader, is the same packet in every field the
/// line carries.
#[test]
fn tcpdump_lines_read_back_as_the_packets() {
    let lab = Path::new("tests/data/precision/lab");
    let mut scenarios: Vec<PathBuf> = fs::read_dir(lab)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    scenarios.sort();
    let mut checked = 0;
    let mut kinds = BTreeSet::new();
    for s in scenarios {
        for file in fs::read_dir(&s).unwrap() {
            let packets = packets_of(&file.unwrap().path());
            let text: String = packets
                .iter()
                .map(|p| format!("{}\n", p.tcpdump()))
                .collect();
            let mut r =
                CaptureReader::from_reader("lines", Box::new(std::io::Cursor::new(text.clone())))
                    .unwrap();
            let mut back = Vec::new();
            while let Some(Record::Packet(p)) = r.next().unwrap() {
                back.push(p);
            }
            assert_eq!(back.len(), packets.len(), "{}", s.display());
            for (a, b) in packets.iter().zip(&back) {
                let line = a.tcpdump().to_string();
                // The line has the time of day to the microsecond, no date.
                assert_eq!(
                    (&a.src, &a.dst, a.meta.ts.time_of_day()),
                    (&b.src, &b.dst, b.meta.ts.time_of_day()),
                    "{line}"
                );
                match (&a.transport, &b.transport) {
                    (Transport::Tcp(x), Transport::Tcp(y)) => {
                        kinds.insert("tcp");
                        assert_eq!(
                            (
                                x.src_port,
                                x.dst_port,
                                x.flags,
                                x.ack,
                                x.window,
                                x.payload_len
                            ),
                            (
                                y.src_port,
                                y.dst_port,
                                y.flags,
                                y.ack,
                                y.window,
                                y.payload_len
                            ),
                            "{line}"
                        );
                        assert_eq!(x.seq, y.seq, "{line}");
                        assert_eq!(x.options.mss, y.options.mss, "{line}");
                        assert_eq!(x.options.window_scale, y.options.window_scale, "{line}");
                    }
                    (Transport::Udp(x), Transport::Udp(y)) => {
                        kinds.insert("udp");
                        assert_eq!((x.src_port, x.dst_port), (y.src_port, y.dst_port), "{line}");
                        match (&x.dns, &y.dns) {
                            (Some(d), Some(e)) => {
                                kinds.insert("dns");
                                assert_eq!(
                                    (d.id, d.response, d.rcode, &d.question, &d.answers),
                                    (e.id, e.response, e.rcode, &e.question, &e.answers),
                                    "{line}"
                                );
                            }
                            (None, None) => assert_eq!(x.payload_len, y.payload_len, "{line}"),
                            _ => panic!("{line}: {:?} / {:?}", x.dns, y.dns),
                        }
                    }
                    (Transport::Icmp(x), Transport::Icmp(y)) => {
                        kinds.insert("icmp");
                        // Types stalltrace does not read (neighbour
                        // discovery) come back as some other type.
                        if !matches!(x.kind, stalltrace_decode::IcmpKind::Other { .. }) {
                            assert_eq!(x.reason(), y.reason(), "{line}");
                            // The port only where tcpdump prints it
                            // (a port unreachable; -v for the others).
                            let port = line.contains(" port ");
                            assert_eq!(
                                x.quoted
                                    .as_ref()
                                    .map(|q| (&q.dst, q.dst_port.filter(|_| port))),
                                y.quoted.as_ref().map(|q| (&q.dst, q.dst_port)),
                                "{line}"
                            );
                        }
                    }
                    (x, y) => panic!("{line}: {x:?} / {y:?}"),
                }
                if a.src.to_string().contains(':') {
                    kinds.insert("ipv6");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked}");
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["dns", "icmp", "ipv6", "tcp", "udp"]
    );
}
