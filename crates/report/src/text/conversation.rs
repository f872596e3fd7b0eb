//! One conversation's packets at every capture point, in time order, for
//! `analyze --conversation`: each as tcpdump prints it, with the time
//! since the first and the point that saw it.

use std::fmt::Write as _;

use stalltrace_decode::{Endpoint, Timestamp};
use stalltrace_diagnosis::{tr, Lang};

use super::{width_of, wrap};

/// A packet of the conversation, where it was seen.
pub struct PacketRow {
    pub point: String,
    /// Its number in that point's capture.
    pub number: u64,
    pub ts: Timestamp,
    /// As tcpdump prints it.
    pub line: String,
}

/// The rows as text, under a heading naming the conversation's ends at
/// every point; `more` rows were left out past the limit.
pub fn render(
    ends: &[(Endpoint, Endpoint)],
    rows: &[PacketRow],
    more: u64,
    width: usize,
    l: Lang,
) -> String {
    let mut o = String::new();
    let names: Vec<String> = ends.iter().map(|(a, b)| format!("{a} ↔ {b}")).collect();
    let points = {
        let mut p: Vec<&str> = rows.iter().map(|r| r.point.as_str()).collect();
        p.sort();
        p.dedup();
        p.len() as u64
    };
    let head = tr!(
        l,
        format!(
            "Conversation {}: {} at {} (each point's own clock)",
            names.join(", seen as "),
            l.count(rows.len() as u64 + more, "packet", "packets"),
            l.count(points, "capture point", "capture points")
        ),
        format!(
            "会话 {}：在 {points} 个捕获点共 {} 个数据包（各捕获点自己的时钟）",
            names.join("，也表现为 "),
            rows.len() as u64 + more
        )
    );
    wrap(&mut o, "", "  ", &head, width.max(40));
    if rows.is_empty() {
        let none = tr!(
            l,
            "No packet of it in these inputs (standard input cannot be read twice).",
            "这些输入中没有它的数据包（标准输入无法读取两次）。"
        );
        wrap(&mut o, "  ", "  ", none, width.max(40));
        return o;
    }
    let first = rows[0].ts;
    let point_w = rows.iter().map(|r| width_of(&r.point)).max().unwrap_or(0);
    for r in rows {
        let since = (r.ts - first).secs_f64();
        let prefix = format!(
            "  +{since:<10.6} {}{}  {:>6}  ",
            r.point,
            " ".repeat(point_w - width_of(&r.point)),
            format!("#{}", r.number)
        );
        let indent = " ".repeat(if width.saturating_sub(width_of(&prefix)) >= 30 {
            width_of(&prefix)
        } else {
            6
        });
        wrap(&mut o, &prefix, &indent, &r.line, width.max(40));
    }
    if more > 0 {
        let _ = writeln!(
            o,
            "  {}",
            tr!(
                l,
                format!("… and {more} more packets, not listed"),
                format!("……另有 {more} 个数据包未列出")
            )
        );
    }
    o
}
