//! Text for people: what was slow, how long, why, what to change, and the
//! packets that show it.

use std::fmt::Write as _;

use stalltrace_decode::TimeDelta;
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
    matching(&mut o, report, width);
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

fn matching(o: &mut String, report: &Report, width: usize) {
    let m = &report.matching;
    for path in &m.paths {
        let _ = writeln!(o, "  path, client side first: {}", path.join(" → "));
    }
    for c in &m.offsets {
        let drift = c
            .drift_ppm
            .map(|d| format!(", drifting {d:+.1} ppm"))
            .unwrap_or_default();
        let line = if c.applied {
            format!(
                "clock of {} is off by {} against {} (±{}{drift}, from {} matched connection{}): corrected on the timelines",
                c.point,
                TimeDelta::from_nanos(-c.offset.nanos()),
                c.reference,
                c.uncertainty,
                c.samples,
                if c.samples == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "clocks of {} and {} agree within the measurement (±{}{drift}): no correction",
                c.point, c.reference, c.uncertainty
            )
        };
        wrap(o, "  ", "    ", &line, width);
    }
    for n in m.mappings.iter().take(20) {
        let line = format!(
            "NAT ({}): inside {} ↔ outside {} ({} ↔ {}): {}",
            n.kind, n.inside, n.outside, n.inside_point, n.outside_point, n.evidence
        );
        wrap(o, "  ", "    ", &line, width);
    }
    let more = m.mappings.len().saturating_sub(20) as u64 + m.mappings_not_listed;
    if more > 0 {
        let _ = writeln!(o, "  ... and {more} more NAT mappings (see --json)");
    }
}

fn timeline(o: &mut String, t: &stalltrace_diagnosis::Timeline) {
    o.push_str("\n  Timeline (each point's time; offsets applied)\n");
    let label_w = t
        .rows
        .iter()
        .map(|r| r.what.chars().count())
        .max()
        .unwrap_or(10)
        .min(40);
    let col_w = t
        .points
        .iter()
        .map(|p| p.chars().count())
        .max()
        .unwrap_or(15)
        .max(15);
    let _ = write!(o, "  {:<label_w$}", "");
    for p in &t.points {
        let _ = write!(o, "  {p:>col_w$}");
    }
    o.push('\n');
    for r in &t.rows {
        let what: String = r.what.chars().take(label_w).collect();
        let _ = write!(o, "  {what:<label_w$}");
        for time in &r.times {
            let cell = time.map(|t| t.time_of_day()).unwrap_or_else(|| "—".into());
            let _ = write!(o, "  {cell:>col_w$}");
        }
        o.push('\n');
    }
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
    if !f.also_seen_at.is_empty() {
        wrap(
            o,
            "  ",
            "  ",
            &format!("Also seen at: {}.", f.also_seen_at.join(", ")),
            width,
        );
    }
    if !f.path.is_empty() {
        o.push_str("\n  Across the capture points\n");
        for d in &f.path {
            wrap(o, "  - ", "    ", d, width);
        }
    }
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
    if let Some(t) = &f.timeline {
        timeline(o, t);
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
