//! Text for people: what was slow, how long, why, what to change, and the
//! packets that show it.

use std::fmt::Write as _;

use stalltrace_decode::TimeDelta;
use stalltrace_diagnosis::{tr, Lang, Severity};

use crate::Report;

pub mod conversation;
mod finding;
mod wrap;

use finding::finding;
pub(crate) use wrap::{lines, verbatim, width_of, wrap};

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
    for line in lines("", "  ", &head, width) {
        let _ = writeln!(o, "{}", paint.bold(&line));
    }
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
    for i in report.inputs.iter().filter(|i| i.filtered_out > 0) {
        let line = tr!(
            l,
            format!(
                "{}: {} left out by the filter",
                i.file,
                l.count(i.filtered_out, "packet", "packets")
            ),
            format!("{}：{} 个数据包被过滤器排除", i.file, i.filtered_out)
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
        wrap(o, "  ", "    ", &line, width);
    }
}
