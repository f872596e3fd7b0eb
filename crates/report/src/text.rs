//! Text for people: what was slow, how long, why, what to change, and the
//! packets that show it.

use std::fmt::Write as _;

use stalltrace_decode::TimeDelta;
use stalltrace_diagnosis::say::{self, long};
use stalltrace_diagnosis::{tr, Finding, Lang, Severity};

use crate::Report;

/// How the text is laid out.
#[derive(Clone, Debug)]
pub struct TextOptions {
    /// Wrap prose at this many columns.
    pub width: usize,
    /// ANSI colour (only for a terminal that wants it).
    pub color: bool,
    pub lang: Lang,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            width: 100,
            color: false,
            lang: Lang::En,
        }
    }
}

/// ANSI styling that vanishes when colour is off.
struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn severity(&self, sev: Severity, s: &str) -> String {
        match sev {
            Severity::Critical => self.wrap("1;31", s),
            Severity::Warning => self.wrap("1;33", s),
            Severity::Info => self.wrap("1;36", s),
        }
    }
}

/// Display width: CJK characters take two columns.
fn width_of(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

/// Wraps `text` at `width` display columns, every line starting with
/// `indent` (the first with `first` instead). Chinese text has no spaces,
/// so it may break between any two characters.
/// The words of `text`, a number kept with the unit after it ("34.3 s",
/// "1400 bytes"): a line never ends between them.
fn glued(text: &str) -> Vec<String> {
    const UNITS: &[&str] = &[
        "ns", "µs", "ms", "s", "s,", "s.", "s:", "s)", "min", "h", "bytes", "MiB", "KiB", "ppm",
        "times",
    ];
    let mut out: Vec<String> = Vec::new();
    for word in text.split(' ') {
        if let Some(prev) = out.last_mut() {
            let number = prev.ends_with(|c: char| c.is_ascii_digit());
            if number && UNITS.contains(&word) {
                prev.push(' ');
                prev.push_str(word);
                continue;
            }
        }
        out.push(word.to_string());
    }
    out
}

fn wrap(out: &mut String, first: &str, indent: &str, text: &str, width: usize) {
    let mut line = String::from(first);
    let mut w = width_of(first);
    let mut fresh = true;
    for word in glued(text) {
        let word = word.as_str();
        let ww = width_of(word);
        if !fresh && w + 1 + ww > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
            w = width_of(indent);
            fresh = true;
        }
        if !fresh {
            line.push(' ');
            w += 1;
        }
        if w + ww <= width || !word.chars().any(|c| width_of(&c.to_string()) == 2) {
            line.push_str(word);
            w += ww;
        } else {
            for c in word.chars() {
                let cw = width_of(&c.to_string());
                if w + cw > width && w > width_of(indent) {
                    out.push_str(line.trim_end());
                    out.push('\n');
                    line = String::from(indent);
                    w = width_of(indent);
                }
                line.push(c);
                w += cw;
            }
        }
        fresh = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

pub fn render(report: &Report, opts: &TextOptions) -> String {
    let l = opts.lang;
    let paint = Paint(opts.color);
    let mut o = String::new();
    let width = opts.width.max(40);
    let packets = report.ip_packets();
    let convs: u64 = report.points.iter().map(|p| p.stats.conversations).sum();
    let n = report.points.len() as u64;
    let head = tr!(
        l,
        format!(
            "stalltrace {}: {}, {}, {}",
            report.tool.version,
            l.count(n, "capture point", "capture points"),
            l.count(packets, "packet", "packets"),
            l.count(convs, "conversation", "conversations")
        ),
        format!(
            "stalltrace {}：{n} 个捕获点，{packets} 个数据包，{convs} 条会话",
            report.tool.version
        )
    );
    let _ = writeln!(o, "{}", paint.bold(&head));
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
            (Some(a), Some(b)) => tr!(
                l,
                format!(", {} to {}", when(a), when(b)),
                format!("，{} 至 {}", when(a), when(b))
            ),
            _ => String::new(),
        };
        let iface = p
            .interface
            .as_deref()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default();
        let line = tr!(
            l,
            format!(
                "{}: {}{iface}, {}{span}{}",
                p.name,
                p.file,
                l.count(p.stats.packets, "packet", "packets"),
                if p.numbered_by_line {
                    "; packet numbers are line numbers"
                } else {
                    ""
                }
            ),
            format!(
                "{}：{}{iface}，{} 个数据包{span}{}",
                p.name,
                p.file,
                p.stats.packets,
                if p.numbered_by_line {
                    "；包编号即行号"
                } else {
                    ""
                }
            )
        );
        wrap(&mut o, "  ", "    ", &line, width);
    }
    matching(&mut o, report, width, l);
    o.push('\n');
    if report.findings.is_empty() {
        // Nothing read is not "no stall": say which it was.
        let verdict = if packets == 0 {
            tr!(
                l,
                "Nothing to diagnose: no IP packet was read from these inputs (see the warnings).",
                "没有可诊断的内容：这些输入中没有读到任何 IP 数据包（见警告）。"
            )
        } else if convs == 0 {
            tr!(
                l,
                "Nothing to diagnose: IP packets were read, but no TCP or UDP conversation among them (other protocols, or a tunnel not opened: see the warnings).",
                "没有可诊断的内容：读到了 IP 数据包，但其中没有 TCP 或 UDP 会话（其他协议，或未能打开的隧道：见警告）。"
            )
        } else {
            tr!(
                l,
                "No stall found: no greeting, answer or name lookup waited longer than the threshold, no data waited on a loss, a closed window or a delayed ACK, and no connection attempt went unanswered or was refused.",
                "没有发现停顿：没有欢迎信息、应答或名字解析的等待超过阈值，没有数据因丢包、窗口关闭或延迟确认而等待，也没有无人应答或被拒绝的连接尝试。"
            )
        };
        wrap(&mut o, "", "", verdict, width);
        let one_way: u64 = report.points.iter().map(|p| p.stats.one_direction).sum();
        if one_way > 0 {
            let note = tr!(
                l,
                format!("But {} seen one way only: whether those stalled, this capture cannot tell (see the warnings).", l.count(one_way, "TCP conversation was", "TCP conversations were")),
                format!("但有 {one_way} 条 TCP 会话只看到一个方向：对这些会话，本次抓包无从判断（见警告）。")
            );
            wrap(&mut o, "", "", &note, width);
        }
        let udp = report.udp_datagrams();
        if packets > 0 && udp > 0 {
            let note = tr!(
                l,
                format!("Of UDP, only DNS is judged: {udp} UDP datagrams were read."),
                format!("UDP 中只判断 DNS：共读到 {udp} 个 UDP 数据报。")
            );
            wrap(&mut o, "", "", &note, width);
        }
    }
    for (i, f) in report.findings.iter().enumerate() {
        if i > 0 {
            o.push('\n');
        }
        finding(&mut o, f, width, l, &paint);
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(o, "\n{}", paint.bold(tr!(l, "Input warnings", "输入警告")));
        for w in &report.warnings {
            wrap(&mut o, "  - ", "    ", &w.say(l), width);
        }
    }
    o
}

fn matching(o: &mut String, report: &Report, width: usize, l: Lang) {
    let m = &report.matching;
    for path in &m.paths {
        let line = tr!(
            l,
            format!("path, client side first: {}", path.join(" → ")),
            format!("路径（客户端一侧在前）：{}", path.join(" → "))
        );
        wrap(o, "  ", "    ", &line, width);
    }
    // Points that share no conversation with any other (a folder of
    // unrelated captures): no clock is set against them, no path drawn.
    if report.points.len() > 1 {
        let alone: Vec<&str> = report
            .points
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| !m.paths.iter().any(|path| path.iter().any(|x| x == n)))
            .collect();
        if !alone.is_empty() {
            let line = tr!(
                l,
                format!(
                    "sharing no conversation with another point, so analysed on its own: {}",
                    alone.join(", ")
                ),
                format!(
                    "与其他捕获点没有共同的会话，因此单独分析：{}",
                    alone.join("、")
                )
            );
            wrap(o, "  ", "    ", &line, width);
        }
    }
    for c in &m.offsets {
        let drift = c
            .drift_ppm
            .map(|d| {
                tr!(
                    l,
                    format!(", drifting {d:+.1} ppm"),
                    format!("，漂移 {d:+.1} ppm")
                )
            })
            .unwrap_or_default();
        let line = match (c.applied, l) {
            (true, Lang::En) => format!(
                "clock of {} is off by {} against {} (±{}{drift}, from {}): corrected on the timelines",
                c.point,
                TimeDelta::from_nanos(-c.offset.nanos()),
                c.reference,
                c.uncertainty,
                l.count(c.samples, "matched connection", "matched connections")
            ),
            (true, Lang::ZhCn) => format!(
                "{} 的时钟相对 {} 偏差 {}（±{}{drift}，依据 {} 条匹配的连接）：时间线上已校正",
                c.point,
                c.reference,
                l.dur(TimeDelta::from_nanos(-c.offset.nanos())),
                l.dur(c.uncertainty),
                c.samples
            ),
            (false, Lang::En) => format!(
                "clocks of {} and {} agree within the measurement (±{}{drift}): no correction",
                c.point, c.reference, c.uncertainty
            ),
            (false, Lang::ZhCn) => format!(
                "{} 与 {} 的时钟在测量精度内一致（±{}{drift}）：不作校正",
                c.point,
                c.reference,
                l.dur(c.uncertainty)
            ),
        };
        wrap(o, "  ", "    ", &line, width);
    }
    for n in m.mappings.iter().take(20) {
        let line = tr!(
            l,
            format!(
                "NAT ({}): inside {} ↔ outside {} ({} ↔ {}): {}",
                n.kind.say(l),
                n.inside,
                n.outside,
                n.inside_point,
                n.outside_point,
                n.evidence.say(l)
            ),
            format!(
                "NAT（{}）：内部 {} ↔ 外部 {}（{} ↔ {}）：{}",
                n.kind.say(l),
                n.inside,
                n.outside,
                n.inside_point,
                n.outside_point,
                n.evidence.say(l)
            )
        );
        wrap(o, "  ", "    ", &line, width);
    }
    let more = m.mappings.len().saturating_sub(20) as u64 + m.mappings_not_listed;
    if more > 0 {
        let line = tr!(
            l,
            format!("... and {more} more NAT mappings (see --json)"),
            format!("……另有 {more} 条 NAT 映射（见 --json）")
        );
        let _ = writeln!(o, "  {line}");
    }
}

fn timeline(
    o: &mut String,
    t: &stalltrace_diagnosis::Timeline,
    labels: &[String],
    l: Lang,
    paint: &Paint,
) {
    let _ = writeln!(
        o,
        "\n  {}",
        paint.bold(tr!(
            l,
            "Timeline (each point's time; offsets applied)",
            "时间线（各捕获点的时间，已校正时钟偏差）"
        ))
    );
    let label_w = labels
        .iter()
        .map(|r| width_of(r))
        .max()
        .unwrap_or(10)
        .min(40);
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
    let _ = write!(o, "  {}", pad("", label_w, false));
    for p in &t.points {
        let _ = write!(o, "  {}", pad(p, col_w, true));
    }
    o.push('\n');
    for (r, label) in t.rows.iter().zip(labels) {
        let mut what = String::new();
        for c in label.chars() {
            if width_of(&what) + width_of(&c.to_string()) > label_w {
                break;
            }
            what.push(c);
        }
        let _ = write!(o, "  {}", pad(&what, label_w, false));
        for time in &r.times {
            let cell = match time {
                Some(t) => pad(&t.time_of_day(), col_w, true),
                None => paint.dim(&pad("—", col_w, true)),
            };
            let _ = write!(o, "  {cell}");
        }
        o.push('\n');
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

fn finding(o: &mut String, f: &Finding, width: usize, l: Lang, paint: &Paint) {
    let words = f.words(l);
    let cost = f
        .cost
        .map(|c| tr!(l, format!(", cost {c}"), format!("，耗时 {}", l.dur(c))))
        .unwrap_or_default();
    let at = if f.point.is_empty() {
        tr!(l, "all points", "所有捕获点").to_string()
    } else {
        f.point.clone()
    };
    let times = f
        .repeats
        .as_ref()
        .map(|r| {
            tr!(
                l,
                format!(", {} times ({} in all)", r.count, long(l, r.total_cost)),
                format!("，共 {} 次（合计 {}）", r.count, long(l, r.total_cost))
            )
        })
        .unwrap_or_default();
    let head = tr!(
        l,
        format!("{} at {at}{cost}{times}", words.title),
        format!("{}，位于 {at}{cost}{times}", words.title)
    );
    let _ = writeln!(
        o,
        "{} {}",
        paint.severity(f.severity, say::severity(f.severity, l)),
        paint.bold(&head)
    );
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
    // Verbatim, unwrapped: it is pasted into Wireshark's filter bar.
    if let Some(filter) = &f.wireshark_filter {
        let _ = writeln!(
            o,
            "  {}{filter}",
            tr!(l, "Wireshark: ", "Wireshark 过滤器：")
        );
    }
    let section = |o: &mut String, title: &str| {
        let _ = writeln!(o, "\n  {}", paint.bold(title));
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
            let _ = writeln!(o, "  {d}  {k}  {label}");
        }
    }
    // With one point the evidence list already tells the same story.
    if let Some(t) = f.timeline.as_ref().filter(|t| t.points.len() > 1) {
        timeline(o, t, &words.timeline, l, paint);
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
            let _ = writeln!(
                o,
                "  {:>7}  {}{at}  {what}",
                format!("#{}", e.packet),
                e.time_of_day
            );
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
            let _ = writeln!(
                o,
                "  {:>7}  {}  {who}  {cost}",
                format!("#{}", x.packet),
                x.time_of_day
            );
        }
        let unlisted = more.saturating_sub(REPEATS_SHOWN as u64);
        if unlisted > 0 {
            let _ = writeln!(
                o,
                "  {}",
                tr!(
                    l,
                    format!("… and {unlisted} more (the first 100 are in --json)"),
                    format!("……另有 {unlisted} 个（前 100 个见 --json）")
                )
            );
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
                let _ = writeln!(
                    o,
                    "    {}",
                    tr!(l, format!("in {file}:"), format!("位于 {file}："))
                );
            }
            for line in &r.lines {
                let _ = writeln!(o, "        {}", paint.green(line));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    /// A number is never split from its unit at a line's end ("34.3⏎s").
    #[test]
    fn a_number_stays_with_its_unit() {
        let mut o = String::new();
        wrap(&mut o, "", "", "the greeting came 34.3 s after the SYN", 22);
        assert_eq!(o, "the greeting came\n34.3 s after the SYN\n");
        let mut o = String::new();
        wrap(&mut o, "", "", "it sent 1400 bytes 12 times", 12);
        assert!(
            o.lines()
                .all(|l| !l.ends_with("1400") && !l.ends_with("12")),
            "{o}"
        );
    }
}
