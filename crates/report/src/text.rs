//! Text for people: what was slow, how long, why, what to change, and the
//! packets that show it.

use std::fmt::Write as _;

use stalltrace_diagnosis::{Finding, SegmentKind, Severity};

use crate::Report;

/// How the text is laid out.
#[derive(Clone, Debug)]
pub struct TextOptions {
    /// Wrap prose at this many columns.
    pub width: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions { width: 100 }
    }
}

/// Wraps `text` at `width`, every line starting with `indent` (the first
/// with `first` instead).
fn wrap(out: &mut String, first: &str, indent: &str, text: &str, width: usize) {
    let mut line = String::from(first);
    let mut empty = true;
    for word in text.split(' ') {
        let w = word.chars().count();
        if !empty && line.chars().count() + 1 + w > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn severity_tag(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRITICAL",
        Severity::Warning => "WARNING",
        Severity::Info => "INFO",
    }
}

pub fn render(report: &Report, opts: &TextOptions) -> String {
    let mut o = String::new();
    let width = opts.width.max(40);
    let packets: u64 = report.points.iter().map(|p| p.stats.packets).sum();
    let convs: u64 = report.points.iter().map(|p| p.stats.conversations).sum();
    let _ = writeln!(
        o,
        "stalltrace {}: {} capture point{}, {packets} packets, {convs} conversation{}",
        report.tool.version,
        report.points.len(),
        if report.points.len() == 1 { "" } else { "s" },
        if convs == 1 { "" } else { "s" },
    );
    for p in &report.points {
        // Printed captures rarely carry a date; binary ones count from the epoch.
        let when = |t: stalltrace_decode::Timestamp| {
            if p.numbered_by_line {
                t.time_of_day()
            } else {
                t.date_time_utc()
            }
        };
        let span = match (p.first, p.last) {
            (Some(a), Some(b)) => format!(", {} to {}", when(a), when(b)),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "  {}: {}{}, {} packets{span}{}",
            p.name,
            p.file,
            p.interface
                .as_deref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default(),
            p.stats.packets,
            if p.numbered_by_line {
                "; packet numbers are line numbers"
            } else {
                ""
            },
        );
    }
    o.push('\n');
    let worth: Vec<&Finding> = report.findings.iter().collect();
    if worth.is_empty() {
        o.push_str("No stall found: no greeting or answer waited longer than the threshold, and no connection attempt went unanswered.\n");
    }
    for (i, f) in worth.iter().enumerate() {
        if i > 0 {
            o.push('\n');
        }
        finding(&mut o, f, width);
    }
    if !report.warnings.is_empty() {
        o.push_str("\nInput warnings\n");
        for w in &report.warnings {
            wrap(&mut o, "  - ", "    ", &w.to_string(), width);
        }
    }
    o
}

fn finding(o: &mut String, f: &Finding, width: usize) {
    let cost = f.cost.map(|c| format!(", cost {c}")).unwrap_or_default();
    let _ = writeln!(
        o,
        "{} {} at {}{cost}",
        severity_tag(f.severity),
        f.id.as_str(),
        if f.point.is_empty() {
            "all points"
        } else {
            &f.point
        },
    );
    wrap(o, "  ", "  ", &f.summary, width);
    if !f.details.is_empty() {
        o.push_str("\n  Why\n");
        for d in &f.details {
            wrap(o, "  - ", "    ", d, width);
        }
    }
    if !f.breakdown.is_empty() {
        o.push_str("\n  Where the time went\n");
        for s in &f.breakdown {
            let kind = match s.kind {
                SegmentKind::Network => "network",
                SegmentKind::Server => "server",
                SegmentKind::Dependency => "dependency",
            };
            let _ = writeln!(
                o,
                "  {:>9}  {:<10}  {}",
                s.duration.to_string(),
                kind,
                s.label
            );
        }
    }
    if !f.evidence.is_empty() {
        o.push_str("\n  Evidence\n");
        let multi = f.evidence.iter().any(|e| e.point != f.point);
        for e in &f.evidence {
            let at = if multi {
                format!(" [{}]", e.point)
            } else {
                String::new()
            };
            let _ = writeln!(
                o,
                "  {:>7}  {}{at}  {}",
                format!("#{}", e.packet),
                e.time_of_day,
                e.what
            );
        }
    }
    if !f.remedies.is_empty() {
        o.push_str("\n  Fix (most likely first)\n");
        for r in &f.remedies {
            wrap(
                o,
                "  - ",
                "    ",
                &format!("{}: {}", r.target, r.action),
                width,
            );
            if let Some(file) = &r.file {
                let _ = writeln!(o, "    in {file}:");
            }
            for l in &r.lines {
                let _ = writeln!(o, "        {l}");
            }
        }
    }
}
