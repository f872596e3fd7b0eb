//! Markdown for tickets (GitHub, GitLab, Gitea, Jira's Markdown paste):
//! the answer as the heading, then per finding its fix first, where the
//! time went as a table, the evidence as the tcpdump lines of its packets
//! in a code block (pasted back into `stalltrace analyze -`, they are
//! analysed again), and the configuration lines in code blocks. Only
//! CommonMark and GFM tables: no HTML.
//!
//! ```
//! use std::collections::BTreeMap;
//! use stalltrace_report::{markdown, Report, Tool, SCHEMA_VERSION};
//! let r = Report {
//!     schema_version: SCHEMA_VERSION,
//!     tool: Tool { name: "stalltrace".into(), version: "0".into() },
//!     inputs: vec![],
//!     points: vec![],
//!     matching: Default::default(),
//!     findings: vec![],
//!     warnings: vec![],
//! };
//! let md = markdown::render(&r, stalltrace_diagnosis::Lang::En, &BTreeMap::new());
//! assert!(md.starts_with("# Nothing to diagnose"));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use stalltrace_diagnosis::say;
use stalltrace_diagnosis::{tr, Finding, Lang};

use crate::Report;

/// The tcpdump line of each cited packet, by capture point and packet
/// number (read again from the captures by the pipeline; empty when they
/// cannot be, as from standard input).
pub type EvidenceLines = BTreeMap<(String, u64), String>;

/// Escapes what Markdown would take for markup in prose.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~'
        ) {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// Inline code holding `s`, fenced with more backticks than it holds.
fn code(s: &str) -> String {
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// A fenced block of verbatim lines, its fence longer than any run of
/// backticks inside.
fn block(o: &mut String, info: &str, lines: &[String]) {
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`').map(str::len))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(o, "{fence}{info}");
    for l in lines {
        let _ = writeln!(o, "{l}");
    }
    let _ = writeln!(o, "{fence}\n");
}

/// The report as Markdown.
pub fn render(report: &Report, l: Lang, evidence: &EvidenceLines) -> String {
    let mut o = String::new();
    let top = report.findings.first().map(|f| f.words(l));
    match &top {
        Some(w) => {
            let _ = writeln!(o, "# {}\n", esc(&w.summary));
            if let Some(v) = w.path.first() {
                let _ = writeln!(o, "**{}**\n", esc(v));
            }
        }
        None => {
            let none = if report.ip_packets() == 0 {
                tr!(
                    l,
                    "Nothing to diagnose: no IP packet was read from these inputs",
                    "没有可诊断的内容：这些输入中没有读到任何 IP 数据包"
                )
            } else {
                tr!(
                    l,
                    "No stall found in these captures",
                    "这些抓包中没有发现停顿"
                )
            };
            let _ = writeln!(o, "# {none}\n");
        }
    }
    points(&mut o, report, l);
    for (i, f) in report.findings.iter().enumerate() {
        finding(&mut o, report, f, i + 1, l, evidence);
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(o, "## {}\n", tr!(l, "Input warnings", "输入警告"));
        for w in &report.warnings {
            let _ = writeln!(o, "- {}", esc(&w.say(l)));
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "---\n{}",
        tr!(
            l,
            format!(
                "Analysed by stalltrace {}; packet numbers are as Wireshark numbers them (line numbers in printed captures), times UTC.",
                report.tool.version
            ),
            format!(
                "由 stalltrace {} 分析；包编号与 Wireshark 的编号一致（文本抓包为行号），时间为 UTC。",
                report.tool.version
            )
        )
    );
    o
}

/// The capture points read, as a table, and how they were matched.
fn points(o: &mut String, report: &Report, l: Lang) {
    if report.points.is_empty() {
        return;
    }
    let (point, file, packets, span) = tr!(
        l,
        ("Capture point", "File", "Packets", "From – to"),
        ("捕获点", "文件", "数据包", "起止时间")
    );
    let _ = writeln!(
        o,
        "| {point} | {file} | {packets} | {span} |\n|---|---|---:|---|"
    );
    for p in &report.points {
        let span = match (p.first, p.last) {
            (Some(a), Some(b)) if p.numbered_by_line => {
                format!("{} – {}", a.time_of_day(), b.time_of_day())
            }
            (Some(a), Some(b)) => format!("{} – {}", a.date_time_utc(), b.time_of_day()),
            _ => "—".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {span} |",
            esc(&p.name),
            code(&p.file),
            p.stats.packets
        );
    }
    o.push('\n');
    for i in report.inputs.iter().filter(|i| i.filtered_out > 0) {
        let _ = writeln!(
            o,
            "{}\n",
            tr!(
                l,
                format!(
                    "{}: {} left out by the filter.",
                    code(&i.file),
                    l.count(i.filtered_out, "packet", "packets")
                ),
                format!(
                    "{}：{} 个数据包被过滤器排除。",
                    code(&i.file),
                    i.filtered_out
                )
            )
        );
    }
    let m = &report.matching;
    for path in &m.paths {
        let _ = writeln!(
            o,
            "{}",
            esc(&tr!(
                l,
                format!("Path, client side first: {}.", path.join(" → ")),
                format!("路径（客户端一侧在前）：{}。", path.join(" → "))
            ))
        );
    }
    for n in m.mappings.iter().take(5) {
        let _ = writeln!(
            o,
            "{}",
            esc(&tr!(
                l,
                format!(
                    "NAT ({}): inside {} ↔ outside {} ({} ↔ {}).",
                    n.kind.say(l),
                    n.inside,
                    n.outside,
                    n.inside_point,
                    n.outside_point
                ),
                format!(
                    "NAT（{}）：内部 {} ↔ 外部 {}（{} ↔ {}）。",
                    n.kind.say(l),
                    n.inside,
                    n.outside,
                    n.inside_point,
                    n.outside_point
                )
            ))
        );
    }
    if !m.paths.is_empty() || !m.mappings.is_empty() {
        o.push('\n');
    }
}

fn finding(
    o: &mut String,
    report: &Report,
    f: &Finding,
    n: usize,
    l: Lang,
    evidence: &EvidenceLines,
) {
    let w = f.words(l);
    let head = crate::headline::headline(f, &w.title, l);
    let _ = writeln!(
        o,
        "## {n}. {} {}\n",
        say::severity(f.severity, l),
        esc(&head)
    );
    let _ = writeln!(o, "{}\n", esc(&w.summary));
    // The fix first: what a ticket is opened for.
    if let (Some(r), Some(rw)) = (f.remedies.first(), w.remedies.first()) {
        let _ = writeln!(
            o,
            "**{}** {}{}",
            tr!(l, "Fix:", "修复："),
            esc(&rw.target),
            esc(&tr!(
                l,
                format!(": {}", rw.action),
                format!("：{}", rw.action)
            ))
        );
        o.push('\n');
        if let Some(file) = &r.file {
            let _ = writeln!(
                o,
                "{}\n",
                tr!(
                    l,
                    format!("In {}:", code(file)),
                    format!("位于 {}：", code(file))
                )
            );
        }
        if !r.lines.is_empty() {
            block(o, "", &r.lines);
        }
    }
    if let Some(filter) = &f.wireshark_filter {
        let _ = writeln!(
            o,
            "**{}** {}\n",
            tr!(l, "Wireshark filter:", "Wireshark 过滤器："),
            code(filter)
        );
    }
    if !f.also_seen_at.is_empty() {
        let _ = writeln!(
            o,
            "{}\n",
            esc(&tr!(
                l,
                format!("Also seen at: {}.", f.also_seen_at.join(", ")),
                format!("同样出现在：{}。", f.also_seen_at.join("、"))
            ))
        );
    }
    if !f.breakdown.is_empty() {
        let (h, time, kind, what) = tr!(
            l,
            ("Where the time went", "Time", "Where", "What"),
            ("时间花在哪里", "时间", "归属", "内容")
        );
        let _ = writeln!(o, "### {h}\n\n| {time} | {kind} | {what} |\n|---:|---|---|");
        for (s, label) in f.breakdown.iter().zip(&w.breakdown) {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                l.dur(s.duration),
                say::segment_kind(s.kind, l),
                esc(label)
            );
        }
        o.push('\n');
    }
    let list = |o: &mut String, title: &str, items: &[String]| {
        if items.is_empty() {
            return;
        }
        let _ = writeln!(o, "### {title}\n");
        for d in items {
            let _ = writeln!(o, "- {}", esc(d));
        }
        o.push('\n');
    };
    list(o, tr!(l, "Why", "原因"), &w.details);
    list(o, tr!(l, "Along the path", "路径上的情况"), &w.path);
    if let Some(t) = f.timeline.as_ref().filter(|t| t.points.len() > 1) {
        let _ = writeln!(
            o,
            "### {}\n",
            tr!(
                l,
                "Timeline (each point's time; offsets applied)",
                "时间线（各捕获点的时间，已校正时钟偏差）"
            )
        );
        let _ = writeln!(
            o,
            "| | {} |\n|---|{}",
            t.points
                .iter()
                .map(|p| esc(p))
                .collect::<Vec<_>>()
                .join(" | "),
            "---:|".repeat(t.points.len())
        );
        for (r, label) in t.rows.iter().zip(&w.timeline) {
            let cells: Vec<String> = r
                .times
                .iter()
                .map(|x| x.map(|t| t.time_of_day()).unwrap_or_else(|| "—".into()))
                .collect();
            let _ = writeln!(o, "| {} | {} |", esc(label), cells.join(" | "));
        }
        o.push('\n');
    }
    if !f.evidence.is_empty() {
        let _ = writeln!(o, "### {}\n", tr!(l, "Evidence", "证据"));
        let (no, point, time, shows) = tr!(
            l,
            ("No.", "Point", "Time (UTC)", "What it shows"),
            ("编号", "捕获点", "时间（UTC）", "说明")
        );
        let _ = writeln!(
            o,
            "| {no} | {point} | {time} | {shows} |\n|---:|---|---|---|"
        );
        for (e, what) in f.evidence.iter().zip(&w.evidence) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                e.packet,
                esc(&e.point),
                e.time_of_day,
                esc(what)
            );
        }
        o.push('\n');
        // The packets themselves, per point, as `tcpdump -# -n -S` prints
        // them: the numbers are the table's.
        let mut seen: Vec<&str> = Vec::new();
        for e in &f.evidence {
            if !seen.contains(&e.point.as_str()) {
                seen.push(&e.point);
            }
        }
        for p in seen {
            // Wireshark numbers a file's frames as stalltrace does; a
            // printed capture's numbers are its lines, which it has not.
            let numbered = report
                .points
                .iter()
                .any(|x| x.name == p && !x.numbered_by_line && !x.file.contains(", "));
            if numbered {
                let numbers: Vec<String> = f
                    .evidence
                    .iter()
                    .filter(|e| e.point == p)
                    .map(|e| e.packet.to_string())
                    .collect();
                // Commas: Wireshark 4 refuses a set separated by spaces.
                let filter = format!("frame.number in {{{}}}", numbers.join(","));
                let _ = writeln!(
                    o,
                    "{}\n",
                    tr!(
                        l,
                        format!(
                            "These packets in {}'s file, in Wireshark: {}",
                            esc(p),
                            code(&filter)
                        ),
                        format!(
                            "在 {} 的文件中用 Wireshark 查看这些包：{}",
                            esc(p),
                            code(&filter)
                        )
                    )
                );
            }
            let lines: Vec<String> = f
                .evidence
                .iter()
                .filter(|e| e.point == p)
                .filter_map(|e| {
                    evidence
                        .get(&(e.point.clone(), e.packet))
                        .map(|line| format!("{:>5}  {line}", e.packet))
                })
                .collect();
            if lines.is_empty() {
                continue;
            }
            let _ = writeln!(
                o,
                "{}",
                esc(&tr!(
                    l,
                    format!("At {p} (tcpdump -n -S):"),
                    format!("在 {p}（tcpdump -n -S）：")
                ))
            );
            o.push('\n');
            block(o, "text", &lines);
        }
    }
    if let Some(r) = &f.repeats {
        let more = r.count - 1;
        let _ = writeln!(
            o,
            "### {}\n",
            tr!(
                l,
                format!(
                    "The same for {}",
                    l.count(more, "more conversation", "more conversations")
                ),
                format!("另有 {more} 个连接情况相同")
            )
        );
        for x in r.others.iter().take(10) {
            let who = x.client.as_ref().map(|c| c.to_string()).unwrap_or_default();
            let cost = x.cost.map(|c| l.dur(c)).unwrap_or_default();
            let _ = writeln!(
                o,
                "- #{} {} {} {}",
                x.packet,
                x.time_of_day,
                esc(&who),
                cost
            );
        }
        if more > 10 {
            let _ = writeln!(
                o,
                "- {}",
                tr!(
                    l,
                    format!("… and {} more (see --json)", more - 10),
                    format!("……另有 {} 个（见 --json）", more - 10)
                )
            );
        }
        o.push('\n');
    }
    // The first fix is above, under the summary; the others here.
    if f.remedies.len() > 1 {
        let _ = writeln!(
            o,
            "### {}\n",
            tr!(
                l,
                "Other fixes (most likely first)",
                "其他修复方法（最可能的在前）"
            )
        );
        for (i, (r, rw)) in f.remedies.iter().zip(&w.remedies).enumerate().skip(1) {
            let _ = writeln!(
                o,
                "{}. **{}**{}",
                i,
                esc(&rw.target),
                esc(&tr!(
                    l,
                    format!(": {}", rw.action),
                    format!("：{}", rw.action)
                ))
            );
            if let Some(file) = &r.file {
                let _ = writeln!(
                    o,
                    "\n   {}",
                    tr!(
                        l,
                        format!("In {}:", code(file)),
                        format!("位于 {}：", code(file))
                    )
                );
            }
            if !r.lines.is_empty() {
                o.push('\n');
                let mut b = String::new();
                block(&mut b, "", &r.lines);
                // Indented under its list item.
                for line in b.trim_end().lines() {
                    let _ = writeln!(o, "   {line}");
                }
            }
            o.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_prose_is_escaped_and_code_fenced_past_its_backticks() {
        assert_eq!(esc("a|b *c* <d>"), "a\\|b \\*c\\* \\<d\\>");
        assert_eq!(code("x"), "`x`");
        assert_eq!(code("a`b"), "``a`b``");
        let mut o = String::new();
        block(&mut o, "", &["```".into()]);
        assert!(o.starts_with("````\n```\n````"), "{o}");
    }
}
