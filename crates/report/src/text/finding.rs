//! One finding in text: its headline, why, where the time went, the
//! timeline across points, the evidence and the fix, each within the width.

use std::fmt::Write as _;

use stalltrace_diagnosis::say;
use stalltrace_diagnosis::{tr, Finding, Lang};

use super::{lines, verbatim, width_of, wrap, Paint};

/// The timeline as a table, a column per point, its labels wrapped in
/// their column; when the points' columns alone pass the width, each row
/// is listed with a line per point instead.
fn timeline(
    o: &mut String,
    t: &stalltrace_diagnosis::Timeline,
    labels: &[String],
    width: usize,
    l: Lang,
    paint: &Paint,
) {
    o.push('\n');
    let title = tr!(
        l,
        "Timeline (each point's time; offsets applied)",
        "时间线（各捕获点的时间，已校正时钟偏差）"
    );
    for line in lines("  ", "  ", title, width) {
        let _ = writeln!(o, "{}", paint.bold(&line));
    }
    let col_w = t
        .points
        .iter()
        .map(|p| width_of(p))
        .max()
        .unwrap_or(15)
        .max(15);
    let pad = |s: &str, w: usize, right: bool| {
        let fill = " ".repeat(w.saturating_sub(width_of(s)));
        if right {
            format!("{fill}{s}")
        } else {
            format!("{s}{fill}")
        }
    };
    let time = |t: &Option<stalltrace_decode::Timestamp>, w: usize| match t {
        Some(t) => pad(&t.time_of_day(), w, true),
        None => paint.dim(&pad("—", w, true)),
    };
    let columns = t.points.len() * (2 + col_w);
    let room = width.saturating_sub(2 + columns);
    if room < 12 {
        for (r, label) in t.rows.iter().zip(labels) {
            wrap(o, "  ", "    ", label, width);
            for (p, at) in t.points.iter().zip(&r.times) {
                if 4 + col_w + 2 + 15 <= width {
                    let _ = writeln!(o, "    {}  {}", pad(p, col_w, false), time(at, 15));
                } else {
                    wrap(o, "    ", "      ", p, width);
                    let _ = writeln!(o, "      {}", time(at, 15));
                }
            }
        }
        return;
    }
    let label_w = labels
        .iter()
        .map(|r| width_of(r))
        .max()
        .unwrap_or(10)
        .min(40)
        .min(room);
    let _ = write!(o, "  {}", pad("", label_w, false));
    for p in &t.points {
        let _ = write!(o, "  {}", pad(p, col_w, true));
    }
    o.push('\n');
    for (r, label) in t.rows.iter().zip(labels) {
        let parts = lines("", "", label, label_w);
        let _ = write!(o, "  {}", pad(&parts[0], label_w, false));
        for at in &r.times {
            let _ = write!(o, "  {}", time(at, col_w));
        }
        o.push('\n');
        for rest in &parts[1..] {
            let _ = writeln!(o, "  {rest}");
        }
    }
}

/// Repeats of a finding listed in text; JSON lists more.
const REPEATS_SHOWN: usize = 5;

/// The VLAN and tunnel a conversation was carried in, when any: the inner
/// addresses are the finding's, the outer ones name the tunnel's ends.
fn carried(c: &stalltrace_diagnosis::ConversationRef, l: Lang) -> Option<String> {
    let mut parts = Vec::new();
    if c.vlan != 0 {
        let ids = match (c.vlan & 0xffff, c.vlan >> 16) {
            (o, 0) => o.to_string(),
            (o, i) => format!("{o}/{i}"),
        };
        parts.push(tr!(l, format!("VLAN {ids}"), format!("VLAN {ids}")));
    }
    if let Some(t) = &c.tunnel {
        let id = t.id.map(|i| format!(" ({i})")).unwrap_or_default();
        parts.push(tr!(
            l,
            format!(
                "{} tunnel {} → {}{id}",
                t.kind.name(),
                t.outer_src,
                t.outer_dst
            ),
            format!(
                "{} 隧道 {} → {}{id}",
                t.kind.name(),
                t.outer_src,
                t.outer_dst
            )
        ));
    }
    (!parts.is_empty()).then(|| {
        tr!(
            l,
            format!("Carried in: {}.", parts.join(", ")),
            format!("承载于：{}。", parts.join("，"))
        )
    })
}

pub(super) fn finding(o: &mut String, f: &Finding, width: usize, l: Lang, paint: &Paint) {
    let words = f.words(l);
    let head = crate::headline::headline(f, &words.title, l);
    // Wrapped plain, then painted: escapes take no columns.
    let sev = say::severity(f.severity, l);
    for (i, line) in lines("", "  ", &format!("{sev} {head}"), width)
        .iter()
        .enumerate()
    {
        match line.strip_prefix(sev).filter(|_| i == 0) {
            Some(rest) => {
                let _ = writeln!(o, "{}{}", paint.severity(f.severity, sev), paint.bold(rest));
            }
            None => {
                let _ = writeln!(o, "{}", paint.bold(line));
            }
        }
    }
    wrap(o, "  ", "  ", &words.summary, width);
    if !f.also_seen_at.is_empty() {
        let line = tr!(
            l,
            format!("Also seen at: {}.", f.also_seen_at.join(", ")),
            format!("同样出现在：{}。", f.also_seen_at.join("、"))
        );
        wrap(o, "  ", "  ", &line, width);
    }
    if let Some(line) = f.conversation.as_ref().and_then(|c| carried(c, l)) {
        wrap(o, "  ", "  ", &line, width);
    }
    // Broken only at its spaces, where the filter language ignores the
    // line's end: the lines pasted together are the same filter.
    if let Some(filter) = &f.wireshark_filter {
        let label = format!("  {}", tr!(l, "Wireshark: ", "Wireshark 过滤器："));
        wrap(o, &label, "    ", filter, width);
    }
    let section = |o: &mut String, title: &str| {
        o.push('\n');
        for line in lines("  ", "  ", title, width) {
            let _ = writeln!(o, "{}", paint.bold(&line));
        }
    };
    if !words.path.is_empty() {
        section(o, tr!(l, "Along the path", "路径上的情况"));
        for d in &words.path {
            wrap(o, "  - ", "    ", d, width);
        }
    }
    if !words.details.is_empty() {
        section(o, tr!(l, "Why", "原因"));
        for d in &words.details {
            wrap(o, "  - ", "    ", d, width);
        }
    }
    if !f.breakdown.is_empty() {
        section(o, tr!(l, "Where the time went", "时间花在哪里"));
        for (s, label) in f.breakdown.iter().zip(&words.breakdown) {
            let kind = say::segment_kind(s.kind, l);
            let d = l.dur(s.duration);
            let d = format!("{}{d}", " ".repeat(11usize.saturating_sub(width_of(&d))));
            let k = format!(
                "{kind}{}",
                " ".repeat(10usize.saturating_sub(width_of(kind)))
            );
            let prefix = format!("  {d}  {k}  ");
            wrap(o, &prefix, &hanging(&prefix, width), label, width);
        }
    }
    // With one point the evidence list already tells the same story.
    if let Some(t) = f.timeline.as_ref().filter(|t| t.points.len() > 1) {
        timeline(o, t, &words.timeline, width, l, paint);
    }
    if !f.evidence.is_empty() {
        section(o, tr!(l, "Evidence", "证据"));
        let multi = f.evidence.iter().any(|e| e.point != f.point);
        for (e, what) in f.evidence.iter().zip(&words.evidence) {
            let at = if multi {
                format!(" [{}]", e.point)
            } else {
                String::new()
            };
            let prefix = format!("  {:>7}  {}{at}  ", format!("#{}", e.packet), e.time_of_day);
            wrap(o, &prefix, &hanging(&prefix, width), what, width);
        }
    }
    if let Some(r) = &f.repeats {
        let more = r.count - 1;
        section(
            o,
            &tr!(
                l,
                format!(
                    "The same for {}",
                    l.count(more, "more conversation", "more conversations")
                ),
                format!("另有 {more} 个连接情况相同")
            ),
        );
        for x in r.others.iter().take(REPEATS_SHOWN) {
            let who = x.client.as_ref().map(|c| c.to_string()).unwrap_or_default();
            let cost = x.cost.map(|c| l.dur(c)).unwrap_or_default();
            let prefix = format!("  {:>7}  {}  ", format!("#{}", x.packet), x.time_of_day);
            wrap(
                o,
                &prefix,
                &hanging(&prefix, width),
                &format!("{who}  {cost}"),
                width,
            );
        }
        let unlisted = more.saturating_sub(REPEATS_SHOWN as u64);
        if unlisted > 0 {
            let more = tr!(
                l,
                format!("… and {unlisted} more (the first 100 are in --json)"),
                format!("……另有 {unlisted} 个（前 100 个见 --json）")
            );
            wrap(o, "  ", "  ", &more, width);
        }
    }
    if !f.remedies.is_empty() {
        section(
            o,
            tr!(l, "Fix (most likely first)", "修复方法（最可能的在前）"),
        );
        for (r, w) in f.remedies.iter().zip(&words.remedies) {
            wrap(
                o,
                "  - ",
                "    ",
                &tr!(
                    l,
                    format!("{}: {}", w.target, w.action),
                    format!("{}：{}", w.target, w.action)
                ),
                width,
            );
            if let Some(file) = &r.file {
                let at = tr!(l, format!("in {file}:"), format!("位于 {file}："));
                wrap(o, "    ", "      ", &at, width);
            }
            for line in &r.lines {
                for part in verbatim("        ", line, width) {
                    let (pad, code) = part.split_at(part.len() - part.trim_start().len());
                    let _ = writeln!(o, "{pad}{}", paint.green(code));
                }
            }
        }
    }
}

/// The indent under a table cell that wraps: the cell's own column while
/// it leaves a useful width, else a short indent.
fn hanging(prefix: &str, width: usize) -> String {
    let w = width_of(prefix);
    " ".repeat(if width.saturating_sub(w) >= 20 { w } else { 6 })
}
