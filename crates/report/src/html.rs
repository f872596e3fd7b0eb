//! HTML for sharing: one self-contained file (no script, font or style from
//! anywhere else) that opens with the answer in one sentence, a bar of
//! where the time went, a ladder diagram in SVG with one column per capture
//! point, then the evidence and the remedies with lines to copy.

use std::fmt::Write as _;

use stalltrace_decode::{TimeDelta, Timestamp};
use stalltrace_diagnosis::{tr, Finding, Lang, SegmentKind, Severity, Subject, Timeline, Words};

use crate::Report;

/// Escapes text for HTML and XML (the SVG is parsed as XML).
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = r#"
:root { --ink:#1d2330; --muted:#5b6474; --line:#d5dae3; --net:#3b82c4; --srv:#8a94a6; --dep:#e08a1e; --cli:#7b5ea7; --bad:#c62828; --ok:#2e7d32; --bg:#fbfcfe; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: var(--ink); background: var(--bg); margin: 0; padding: 1.5rem; max-width: 72rem; margin-inline: auto; }
h1 { font-size: 1.45rem; line-height: 1.35; margin: 0 0 .5rem; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .6rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
.verdict { font-size: 1.05rem; margin: .2rem 0 1rem; color: #7a2e00; }
.meta, .muted { color: var(--muted); font-size: .9rem; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: .6rem; font-size: .8rem; font-weight: 600; color: #fff; margin-right: .4rem; vertical-align: middle; }
.critical { background: var(--bad); } .warning { background: #b26a00; } .info { background: #2f6f9f; }
.bar { display: flex; height: 2rem; border-radius: .3rem; overflow: hidden; border: 1px solid var(--line); margin: .4rem 0; }
.bar div { display: flex; align-items: center; justify-content: center; color: #fff; font-size: .8rem; white-space: nowrap; overflow: hidden; min-width: 3px; }
.k-network { background: var(--net); } .k-server { background: var(--srv); } .k-dependency { background: var(--dep); } .k-client { background: var(--cli); }
.legend span { margin-right: 1rem; font-size: .85rem; } .legend i { display: inline-block; width: .8rem; height: .8rem; border-radius: .15rem; margin-right: .3rem; vertical-align: -1px; }
.ladder { overflow-x: auto; border: 1px solid var(--line); border-radius: .3rem; background: #fff; }
.ladder svg { display: block; width: 100%; min-width: 640px; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; }
.scroll { overflow-x: auto; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, td.t { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; white-space: nowrap; }
ul { padding-left: 1.2rem; } li { margin: .25rem 0; }
.remedy { margin: .6rem 0; }
pre { background: #f1f3f7; border: 1px solid var(--line); border-radius: .3rem; padding: .5rem .7rem; margin: .3rem 0; overflow-x: auto; font: 13px/1.45 ui-monospace, Menlo, Consolas, monospace; position: relative; }
button.copy { float: right; font-size: .75rem; border: 1px solid var(--line); background: #fff; border-radius: .25rem; padding: .05rem .45rem; cursor: pointer; }
.finding { margin-bottom: 2rem; }
footer { margin-top: 2rem; font-size: .8rem; color: var(--muted); }
@media (max-width: 40rem) { body { padding: .8rem; font-size: 14px; } h1 { font-size: 1.2rem; } }
@media print { button.copy { display: none; } .finding, .ladder, table { break-inside: avoid; } body { background: #fff; padding: 0; } .ladder { overflow: visible; } .ladder svg { min-width: 0; } }
"#;

const SCRIPT: &str = r#"
document.querySelectorAll('button.copy').forEach(function (b) {
  b.addEventListener('click', function () {
    var pre = b.parentElement; var text = pre.querySelector('code').textContent;
    var done = function () { b.textContent = b.dataset.done; setTimeout(function () { b.textContent = b.dataset.label; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).then(done, function () {}); }
    else { var r = document.createRange(); r.selectNodeContents(pre.querySelector('code')); var s = window.getSelection(); s.removeAllRanges(); s.addRange(r); try { document.execCommand('copy'); done(); } catch (e) {} }
  });
});
"#;

/// The whole report as one HTML page.
pub fn render(report: &Report, l: Lang) -> String {
    let mut o = String::new();
    let top = report.findings.first().map(|f| f.words(l));
    let title = top.as_ref().map(|w| w.summary.clone()).unwrap_or_else(|| {
        if report.ip_packets() == 0 {
            tr!(
                l,
                "Nothing to diagnose: no IP packet was read from these inputs.",
                "没有可诊断的内容：这些输入中没有读到任何 IP 数据包。"
            )
        } else {
            tr!(
                l,
                "No stall found in these captures.",
                "这些抓包中没有发现停顿。"
            )
        }
        .to_string()
    });
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>stalltrace: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1 id=\"answer\">{}</h1>\n",
        l.code(),
        esc(&title),
        esc(&title)
    );
    if let Some(v) = top.as_ref().and_then(|w| w.path.first()) {
        let _ = writeln!(o, "<p class=\"verdict\">{}</p>", esc(v));
    }
    let packets: u64 = report.points.iter().map(|p| p.stats.packets).sum();
    let _ = writeln!(
        o,
        "<p class=\"meta\">{}</p>\n</header>",
        esc(&tr!(
            l,
            format!(
                "stalltrace {} · {} · {} · {}",
                report.tool.version,
                l.count(
                    report.points.len() as u64,
                    "capture point",
                    "capture points"
                ),
                l.count(packets, "packet", "packets"),
                l.count(report.findings.len() as u64, "finding", "findings")
            ),
            format!(
                "stalltrace {} · {} 个捕获点 · {packets} 个数据包 · {} 项发现",
                report.tool.version,
                report.points.len(),
                report.findings.len()
            )
        ))
    );
    for (i, f) in report.findings.iter().enumerate() {
        finding(&mut o, f, i, l);
    }
    points(&mut o, report, l);
    let _ = write!(
        o,
        "<footer>{}</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        esc(tr!(l, "Made by stalltrace from packet captures; times are as each capture point recorded them.", "由 stalltrace 根据抓包生成；时间为各捕获点记录的时间。"))
    );
    o
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn finding(o: &mut String, f: &Finding, i: usize, l: Lang) {
    let words = f.words(l);
    let sev = match f.severity {
        Severity::Critical => tr!(l, "critical", "严重"),
        Severity::Warning => tr!(l, "warning", "警告"),
        Severity::Info => tr!(l, "info", "信息"),
    };
    let _ = writeln!(
        o,
        "<section class=\"finding\" id=\"finding-{i}\">\n<h2><span class=\"badge {}\">{}</span>{} <span class=\"muted\">· {}{}</span></h2>\n<p>{}</p>",
        severity_class(f.severity),
        esc(sev),
        esc(&words.title),
        esc(&f.point),
        f.cost.map(|c| format!(" · {}", esc(&l.dur(c)))).unwrap_or_default()
            + &f.repeats.as_ref().map(|r| format!(" · ×{}", r.count)).unwrap_or_default(),
        esc(&words.summary)
    );
    if !f.breakdown.is_empty() {
        breakdown(o, f, &words, l);
    }
    if let Some(t) = &f.timeline {
        let _ = writeln!(o, "<h3>{}</h3>", esc(tr!(l, "Ladder diagram", "时序图")));
        ladder(o, f, t, &words, l);
    }
    let lists: [(&str, &Vec<String>); 2] = [
        (tr!(l, "Along the path", "路径上的情况"), &words.path),
        (tr!(l, "Why", "原因"), &words.details),
    ];
    for (title, items) in lists {
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(o, "<h3>{}</h3>\n<ul>", esc(title));
        for d in items.iter() {
            let _ = writeln!(o, "<li>{}</li>", esc(d));
        }
        o.push_str("</ul>\n");
    }
    if !f.evidence.is_empty() {
        let _ = writeln!(
            o,
            "<h3>{}</h3>\n<div class=\"scroll\"><table class=\"evidence\">\n<tr><th>#</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            esc(tr!(l, "Evidence", "证据")),
            esc(tr!(l, "time", "时间")),
            esc(tr!(l, "capture point", "捕获点")),
            esc(tr!(l, "packet", "数据包"))
        );
        for (e, what) in f.evidence.iter().zip(&words.evidence) {
            let _ = writeln!(
                o,
                "<tr><td class=\"num\">{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td></tr>",
                e.packet,
                esc(&e.time_of_day),
                esc(&e.point),
                esc(what)
            );
        }
        o.push_str("</table></div>\n");
    }
    if let Some(r) = &f.repeats {
        let more = r.count - 1;
        let _ = writeln!(
            o,
            "<h3>{}</h3>\n<div class=\"scroll\"><table class=\"evidence\">\n<tr><th>#</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            esc(&tr!(
                l,
                format!("The same for {more} more conversations ({} in all)", l.dur(r.total_cost)),
                format!("另有 {more} 个连接情况相同（合计 {}）", l.dur(r.total_cost))
            )),
            esc(tr!(l, "time", "时间")),
            esc(tr!(l, "client", "客户端")),
            esc(tr!(l, "cost", "耗时"))
        );
        for x in &r.others {
            let _ = writeln!(
                o,
                "<tr><td class=\"num\">{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td></tr>",
                x.packet,
                esc(&x.time_of_day),
                esc(&x.client.as_ref().map(|c| c.to_string()).unwrap_or_default()),
                esc(&x.cost.map(|c| l.dur(c)).unwrap_or_default())
            );
        }
        if r.others_not_listed > 0 {
            let _ = writeln!(
                o,
                "<tr><td colspan=\"4\">{}</td></tr>",
                esc(&tr!(
                    l,
                    format!("… and {} more", r.others_not_listed),
                    format!("……另有 {} 个", r.others_not_listed)
                ))
            );
        }
        o.push_str("</table></div>\n");
    }
    if !f.remedies.is_empty() {
        let _ = writeln!(
            o,
            "<h3>{}</h3>",
            esc(tr!(
                l,
                "Fix (most likely first)",
                "修复方法（最可能的在前）"
            ))
        );
        for (r, w) in f.remedies.iter().zip(&words.remedies) {
            let _ = writeln!(
                o,
                "<div class=\"remedy\"><strong>{}</strong>{}{}",
                esc(&w.target),
                tr!(l, ": ", "："),
                esc(&w.action)
            );
            if let Some(file) = &r.file {
                let _ = write!(o, " <span class=\"muted\">({})</span>", esc(file));
            }
            let (label, done) = (tr!(l, "copy", "复制"), tr!(l, "copied", "已复制"));
            let _ = writeln!(
                o,
                "<pre><button class=\"copy\" type=\"button\" data-label=\"{label}\" data-done=\"{done}\">{label}</button><code>{}</code></pre></div>",
                esc(&r.lines.join("\n"))
            );
        }
    }
    o.push_str("</section>\n");
}

fn breakdown(o: &mut String, f: &Finding, words: &Words, l: Lang) {
    let total: i64 = f.breakdown.iter().map(|s| s.duration.nanos().max(0)).sum();
    if total <= 0 {
        return;
    }
    let _ = writeln!(
        o,
        "<h3>{}</h3>\n<div class=\"bar\" role=\"img\">",
        esc(tr!(l, "Where the time went", "时间花在哪里"))
    );
    for (s, label) in f.breakdown.iter().zip(&words.breakdown) {
        let kind = match s.kind {
            SegmentKind::Network => "network",
            SegmentKind::Server => "server",
            SegmentKind::Dependency => "dependency",
            SegmentKind::Client => "client",
        };
        let pct = s.duration.nanos().max(0) as f64 * 100.0 / total as f64;
        let d = l.dur(s.duration);
        let _ = writeln!(
            o,
            "<div class=\"k-{kind}\" style=\"flex: {pct:.3} 0 0\" title=\"{}: {}\">{}</div>",
            esc(&d),
            esc(label),
            if pct > 8.0 { esc(&d) } else { String::new() }
        );
    }
    let _ = writeln!(
        o,
        "</div>\n<div class=\"legend\"><span><i class=\"k-network\"></i>{}</span><span><i class=\"k-server\"></i>{}</span><span><i class=\"k-dependency\"></i>{}</span><span><i class=\"k-client\"></i>{}</span></div>\n<ul class=\"muted\">",
        esc(tr!(l, "network", "网络")),
        esc(tr!(l, "server", "服务器")),
        esc(tr!(l, "waiting on a dependency", "等待依赖")),
        esc(tr!(l, "client", "客户端"))
    );
    for (s, label) in f.breakdown.iter().zip(&words.breakdown) {
        let _ = writeln!(o, "<li>{} — {}</li>", esc(&l.dur(s.duration)), esc(label));
    }
    o.push_str("</ul>\n");
}

fn ladder(o: &mut String, f: &Finding, t: &Timeline, words: &Words, l: Lang) {
    const W: f64 = 1000.0;
    const LABEL_W: f64 = 250.0;
    const TOP: f64 = 56.0;
    const ROW: f64 = 30.0;
    const GAP: f64 = 26.0;
    let n = t.points.len();
    // Columns: the client, the capture points, the server.
    let x0 = LABEL_W + 40.0;
    let x1 = W - 40.0;
    let col_x = |c: usize| x0 + (x1 - x0) * c as f64 / (n + 1) as f64;
    let client_x = col_x(0);
    let server_x = col_x(n + 1);
    let point_x = |i: usize| col_x(i + 1);
    let row_time = |r: &stalltrace_diagnosis::TimelineRow| r.times.iter().flatten().min().copied();

    // Rows, with compressed gaps where time jumps.
    let mut ys = Vec::new();
    let mut gaps: Vec<(f64, TimeDelta)> = Vec::new();
    let mut y = TOP + 20.0;
    let mut last: Option<Timestamp> = None;
    for r in &t.rows {
        if let (Some(prev), Some(now)) = (last, row_time(r)) {
            let dt = now - prev;
            if dt >= TimeDelta::from_millis(500) {
                gaps.push((y + GAP / 2.0 - 4.0, dt));
                y += GAP;
            }
        }
        ys.push(y);
        y += ROW;
        last = row_time(r).or(last);
    }
    let height = y + 20.0;
    let _ = writeln!(
        o,
        "<div class=\"ladder\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {height:.0}\" role=\"img\" aria-label=\"{}\" font-family=\"system-ui, sans-serif\" font-size=\"12\">",
        esc(tr!(l, "ladder diagram", "时序图"))
    );
    let _ = writeln!(
        o,
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#1d2330\"/></marker><marker id=\"arrow-cb\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#b35c00\"/></marker></defs>"
    );
    // The wait, shaded: the dependency part of the breakdown.
    for s in f
        .breakdown
        .iter()
        .filter(|s| s.kind == SegmentKind::Dependency)
    {
        let rows_in: Vec<f64> = t
            .rows
            .iter()
            .zip(&ys)
            .filter(|(r, _)| row_time(r).is_some_and(|rt| rt >= s.from && rt <= s.to))
            .map(|(_, y)| *y)
            .collect();
        let (Some(a), Some(b)) = (rows_in.first(), rows_in.last()) else {
            continue;
        };
        let top = a - ROW / 2.0 + 4.0;
        let bottom = (b + ROW / 2.0 - 4.0).min(height - 10.0);
        let _ = writeln!(
            o,
            "<rect class=\"wait\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#e08a1e\" fill-opacity=\"0.12\" stroke=\"#e08a1e\" stroke-opacity=\"0.5\" stroke-dasharray=\"4 3\"/>",
            x0 - 30.0,
            x1 - x0 + 60.0,
            bottom - top
        );
        // In the margin right of the server's line, written upwards, where
        // no arrow runs.
        let (lx, ly) = (x1 + 30.0, (top + bottom) / 2.0);
        let _ = writeln!(
            o,
            "<text class=\"wait-label\" x=\"{lx:.1}\" y=\"{ly:.1}\" transform=\"rotate(-90 {lx:.1} {ly:.1})\" text-anchor=\"middle\" fill=\"#9a5500\" font-weight=\"600\">{}</text>",
            esc(&tr!(l, format!("wait {}", l.dur(s.duration)), format!("等待 {}", l.dur(s.duration))))
        );
    }
    // Column heads and life lines.
    let heads: Vec<(f64, String, bool)> =
        std::iter::once((client_x, tr!(l, "client", "客户端").to_string(), false))
            .chain(
                t.points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (point_x(i), p.clone(), true)),
            )
            .chain(std::iter::once((
                server_x,
                tr!(l, "server", "服务器").to_string(),
                false,
            )))
            .collect();
    for (x, name, is_point) in &heads {
        let _ = writeln!(
            o,
            "<line class=\"column\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"{}\"{}/>",
            TOP,
            height - 10.0,
            if *is_point { "#8a94a6" } else { "#1d2330" },
            if *is_point { 1.2 } else { 2.0 },
            if *is_point { " stroke-dasharray=\"5 4\"" } else { "" }
        );
        let _ = writeln!(
            o,
            "<text class=\"column-name\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"600\">{}</text>",
            TOP - 12.0,
            esc(name)
        );
    }
    for (gy, dt) in &gaps {
        let _ = writeln!(
            o,
            "<text class=\"gap\" x=\"{:.1}\" y=\"{gy:.1}\" text-anchor=\"middle\" fill=\"#5b6474\" font-style=\"italic\">⋯ {} ⋯</text>",
            (x0 + x1) / 2.0,
            esc(&l.dur(*dt))
        );
    }
    // One arrow per packet, through the points that saw it.
    for ((r, &y), label) in t.rows.iter().zip(&ys).zip(&words.timeline) {
        let callback = r.subject != Subject::Connection;
        let color = if callback { "#b35c00" } else { "#1d2330" };
        let marker = if callback { "arrow-cb" } else { "arrow" };
        let _ = writeln!(
            o,
            "<text class=\"row-label\" x=\"10\" y=\"{:.1}\" fill=\"{color}\">{}</text>",
            y + 4.0,
            esc(label)
        );
        let seen: Vec<usize> = (0..n).filter(|&i| r.times[i].is_some()).collect();
        let (Some(&first), Some(&last_seen)) = (seen.first(), seen.last()) else {
            continue;
        };
        let rightward = r.rightward();
        // Where the packet came from, and how far it got.
        let (start_x, end_x, died_at) = if rightward {
            let died =
                (last_seen + 1 < n).then(|| (point_x(last_seen) + point_x(last_seen + 1)) / 2.0);
            let _ = first;
            (client_x, died.unwrap_or(server_x), died)
        } else {
            let died = (first > 0).then(|| (point_x(first) + point_x(first - 1)) / 2.0);
            (server_x, died.unwrap_or(client_x), died)
        };
        let _ = writeln!(
            o,
            "<line class=\"packet\" x1=\"{start_x:.1}\" y1=\"{y:.1}\" x2=\"{end_x:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-width=\"1.6\"{}/>",
            if died_at.is_none() { format!(" marker-end=\"url(#{marker})\"") } else { String::new() }
        );
        if let Some(dx) = died_at {
            let _ = writeln!(
                o,
                "<g class=\"dropped\" stroke=\"#c62828\" stroke-width=\"2.5\"><line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/><line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/></g>",
                dx - 6.0, y - 6.0, dx + 6.0, y + 6.0, dx - 6.0, y + 6.0, dx + 6.0, y - 6.0
            );
        }
        for &i in &seen {
            let ts = r.times[i].expect("seen").time_of_day();
            let _ = writeln!(
                o,
                "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{color}\"/><text class=\"time\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#5b6474\">{}</text>",
                point_x(i),
                point_x(i),
                y - 5.0,
                esc(&ts)
            );
        }
    }
    o.push_str("</svg></div>\n");
}

fn points(o: &mut String, report: &Report, l: Lang) {
    let _ = writeln!(
        o,
        "<section id=\"points\"><h2>{}</h2>\n<div class=\"scroll\"><table><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(tr!(l, "Capture points", "捕获点")),
        esc(tr!(l, "point", "捕获点")),
        esc(tr!(l, "file", "文件")),
        esc(tr!(l, "packets", "数据包"))
    );
    for p in &report.points {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(&p.name),
            esc(&p.file),
            p.stats.packets
        );
    }
    o.push_str("</table></div>\n");
    let m = &report.matching;
    if !m.paths.is_empty() || !m.mappings.is_empty() {
        o.push_str("<ul>\n");
        for path in &m.paths {
            let _ = writeln!(
                o,
                "<li>{}: {}</li>",
                esc(tr!(l, "path, client side first", "路径（客户端一侧在前）")),
                esc(&path.join(" → "))
            );
        }
        for c in &m.offsets {
            let _ = writeln!(
                o,
                "<li>{}</li>",
                esc(&tr!(
                    l,
                    format!(
                        "clock of {} against {}: {} (±{}){}",
                        c.point,
                        c.reference,
                        TimeDelta::from_nanos(-c.offset.nanos()),
                        c.uncertainty,
                        if c.applied {
                            ", corrected"
                        } else {
                            ", within the measurement"
                        }
                    ),
                    format!(
                        "{} 相对 {} 的时钟偏差：{}（±{}）{}",
                        c.point,
                        c.reference,
                        l.dur(TimeDelta::from_nanos(-c.offset.nanos())),
                        l.dur(c.uncertainty),
                        if c.applied {
                            "，已校正"
                        } else {
                            "，在测量精度内"
                        }
                    )
                ))
            );
        }
        for n in m.mappings.iter().take(50) {
            let _ = writeln!(
                o,
                "<li>NAT: {} ↔ {} ({} ↔ {})</li>",
                esc(&n.inside.to_string()),
                esc(&n.outside.to_string()),
                esc(&n.inside_point),
                esc(&n.outside_point)
            );
        }
        o.push_str("</ul>\n");
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(
            o,
            "<h3>{}</h3>\n<ul class=\"muted\">",
            esc(tr!(l, "Input warnings", "输入警告"))
        );
        for w in &report.warnings {
            let _ = writeln!(o, "<li>{}</li>", esc(&w.say(l)));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</section>\n");
}
