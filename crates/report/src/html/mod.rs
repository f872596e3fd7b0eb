//! HTML for sharing: one self-contained file (no script, font or style from
//! anywhere else) that opens with the answer in one sentence, a bar of
//! where the time went, a ladder diagram in SVG with one column per capture
//! point, then the evidence and the remedies with lines to copy.

use std::fmt::Write as _;

use stalltrace_decode::TimeDelta;
use stalltrace_diagnosis::{tr, Finding, Lang, SegmentKind, Severity, Words};

use crate::Report;

mod ladder;

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
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: var(--ink); background: var(--bg); margin: 0; padding: 1.5rem; max-width: 72rem; margin-inline: auto; overflow-wrap: anywhere; }
h1 { font-size: 1.45rem; line-height: 1.35; margin: 0 0 .5rem; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .6rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
.verdict { font-size: 1.05rem; margin: .2rem 0 .6rem; color: #7a2e00; }
.fix { border-left: 4px solid var(--ok); background: #f1f8f2; padding: .5rem .8rem; margin: .6rem 0 1rem; }
.fix p { margin: 0 0 .3rem; }
.meta, .muted { color: var(--muted); font-size: .9rem; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: .6rem; font-size: .8rem; font-weight: 600; color: #fff; margin-right: .4rem; vertical-align: middle; }
.critical { background: var(--bad); } .warning { background: #b26a00; } .info { background: #2f6f9f; }
.bar { display: flex; height: 2rem; border-radius: .3rem; overflow: hidden; border: 1px solid var(--line); margin: .4rem 0; }
.bar div { display: flex; align-items: center; justify-content: center; color: #fff; font-size: .8rem; white-space: nowrap; overflow: hidden; min-width: 3px; }
.k-network { background: var(--net); } .k-server { background: var(--srv); } .k-dependency { background: var(--dep); } .k-client { background: var(--cli); }
.legend span, .ladder-legend span { margin-right: 1rem; font-size: .85rem; display: inline-block; } .legend i { display: inline-block; width: .8rem; height: .8rem; border-radius: .15rem; margin-right: .3rem; vertical-align: -1px; }
.ladder { border: 1px solid var(--line); border-radius: .3rem; background: #fff; }
.ladder svg { display: block; width: 100%; height: auto; }
.ladder-narrow { display: none !important; }
.ladder-legend { margin: .4rem 0 .2rem; color: var(--muted); }
.ladder-legend b { display: inline-block; min-width: 1rem; margin-right: .3rem; text-align: center; }
.lg-x { color: var(--bad); } .lg-cb { color: #b35c00; }
.lg-wait { width: 1.2rem; height: .8rem; background: rgba(224,138,30,.15); border: 1px dashed var(--dep); vertical-align: -1px; }
.lg-col { width: 0; height: .9rem; border-left: 2px dashed var(--srv); vertical-align: -1px; }
.ladder-columns { list-style: none; padding: 0; margin: 0 0 .8rem; font-size: .85rem; color: var(--muted); }
.ladder-columns li { display: inline-block; margin-right: 1.2rem; }
.ladder-columns b { color: var(--ink); font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, td.t { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; white-space: nowrap; }
ul { padding-left: 1.2rem; } li { margin: .25rem 0; }
.remedy { margin: .6rem 0; }
pre { background: #f1f3f7; border: 1px solid var(--line); border-radius: .3rem; padding: .5rem .7rem; margin: .3rem 0; font: 13px/1.45 ui-monospace, Menlo, Consolas, monospace; position: relative; white-space: pre-wrap; overflow-wrap: anywhere; }
code { font: 13px/1.45 ui-monospace, Menlo, Consolas, monospace; }
.filter code { background: #f1f3f7; padding: .05rem .3rem; border-radius: .2rem; }
button.copy { float: right; font-size: .75rem; border: 1px solid var(--line); background: #fff; border-radius: .25rem; padding: .05rem .45rem; cursor: pointer; margin-left: .5rem; }
.finding { margin-bottom: 2rem; }
details.ladder-block > summary { cursor: pointer; color: var(--muted); margin: .8rem 0 .4rem; }
footer { margin-top: 2rem; font-size: .8rem; color: var(--muted); }
@media (max-width: 40rem) {
  body { padding: .8rem; font-size: 14px; }
  h1 { font-size: 1.2rem; }
  .ladder-wide { display: none !important; }
  .ladder-narrow { display: block !important; }
  table.stack, table.stack tbody, table.stack tr, table.stack td { display: block; width: 100%; }
  table.stack tr:first-child { display: none; }
  table.stack tr { border-bottom: 1px solid var(--line); padding: .3rem 0; }
  table.stack td { border: 0; padding: 0 .2rem; }
  table.stack td.num, table.stack td.t, table.stack td.p { display: inline; width: auto; margin-right: .6rem; }
}
@page { margin: 11mm 12mm; }
@media print {
  body { background: #fff; padding: 0; max-width: none; font-size: 9.5pt; line-height: 1.35; }
  h1 { font-size: 13pt; } h2 { font-size: 11.5pt; margin: .8rem 0 .3rem; } h3 { font-size: 10pt; margin: .5rem 0 .2rem; }
  h1, h2, h3 { break-after: avoid; page-break-after: avoid; }
  button.copy, .bar, .legend { display: none; }
  .ladder, tr, .remedy, .fix, li, pre { break-inside: avoid; page-break-inside: avoid; }
  .ladder-narrow { display: none !important; } .ladder-wide { display: block !important; }
  .fix { margin: .3rem 0 .5rem; padding: .3rem .6rem; }
  ul { margin: .2rem 0; } li { margin: .1rem 0; }
  pre, code { font-size: 8.5pt; } pre { padding: .25rem .5rem; margin: .15rem 0; }
  table { font-size: 8.5pt; } th, td { padding: .1rem .4rem; }
  .finding { margin-bottom: .8rem; }
  .ladder-legend, .ladder-columns { font-size: 8.5pt; margin: .2rem 0; }
  footer { margin-top: .6rem; font-size: 8pt; }
  .as-title { display: none; }
  .ladder-wide { width: 88% !important; margin: 0 auto; }
  /* Printed, a diagram is one block (an SVG cannot break across pages):
     it goes after the words, the evidence and the fix, which fill the page
     it would otherwise leave half empty. */
  .finding { display: flex; flex-direction: column; }
  .finding > .remedies { order: 1; }
  .finding > .ladder-block { order: 2; }
}
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
    // The fix next to the answer: what the reader came for.
    if let (Some(f), Some(w)) = (report.findings.first(), top.as_ref()) {
        if let (Some(r), Some(rw)) = (f.remedies.first(), w.remedies.first()) {
            let _ = writeln!(
                o,
                "<div class=\"fix\" id=\"fix\"><p><strong>{}</strong> <strong>{}</strong>{}{}</p>",
                esc(tr!(l, "Fix:", "修复：")),
                esc(&rw.target),
                tr!(l, ": ", "："),
                esc(&rw.action)
            );
            if !r.lines.is_empty() {
                let (label, done) = (tr!(l, "copy", "复制"), tr!(l, "copied", "已复制"));
                let _ = writeln!(
                    o,
                    "<pre><button class=\"copy\" type=\"button\" data-label=\"{label}\" data-done=\"{done}\">{label}</button><code>{}</code></pre>",
                    esc(&r.lines.join("\n"))
                );
            }
            o.push_str("</div>\n");
        }
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
        // A diagram whose every row an earlier one drew (the handshake of
        // the connection whose wait is above) is folded away.
        let shown_in = f.timeline.as_ref().and_then(|t| {
            report.findings[..i].iter().find(|e| {
                e.timeline.as_ref().is_some_and(|u| {
                    u.points == t.points && t.rows.iter().all(|r| u.rows.contains(r))
                })
            })
        });
        finding(&mut o, f, i, shown_in, l);
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

fn finding(o: &mut String, f: &Finding, i: usize, shown_in: Option<&Finding>, l: Lang) {
    let words = f.words(l);
    let sev = match f.severity {
        Severity::Critical => tr!(l, "critical", "严重"),
        Severity::Warning => tr!(l, "warning", "警告"),
        Severity::Info => tr!(l, "info", "信息"),
    };
    let _ = writeln!(
        o,
        "<section class=\"finding\" id=\"finding-{i}\">\n<h2><span class=\"badge {}\">{}</span>{} <span class=\"muted\">· {}{}</span></h2>\n<p{}>{}</p>",
        severity_class(f.severity),
        esc(sev),
        esc(&words.title),
        esc(&f.point),
        f.cost.map(|c| format!(" · {}", esc(&l.dur(c)))).unwrap_or_default()
            + &f.repeats.as_ref().map(|r| format!(" · ×{}", r.count)).unwrap_or_default(),
        // The first finding's summary is the page's title: printed once.
        if i == 0 { " class=\"as-title\"" } else { "" },
        esc(&words.summary)
    );
    if let Some(filter) = &f.wireshark_filter {
        let _ = writeln!(
            o,
            "<p class=\"filter\">{} <code>{}</code></p>",
            esc(tr!(l, "Wireshark:", "Wireshark 过滤器：")),
            esc(filter)
        );
    }
    if !f.breakdown.is_empty() {
        breakdown(o, f, &words, l);
    }
    if let Some(t) = &f.timeline {
        match shown_in {
            None => {
                let _ = writeln!(
                    o,
                    "<div class=\"ladder-block\">\n<h3>{}</h3>",
                    esc(tr!(l, "Ladder diagram", "时序图"))
                );
                ladder::render(o, f, t, &words, l);
                o.push_str("</div>\n");
            }
            Some(e) => {
                let title = e.words(l).title;
                let _ = writeln!(
                    o,
                    "<details class=\"ladder-block\">\n<summary>{}</summary>",
                    esc(&tr!(
                        l,
                        format!("Ladder diagram: its packets are all in {title}'s above"),
                        format!("时序图：其中的数据包都已在上面 {title} 的时序图中")
                    ))
                );
                ladder::render(o, f, t, &words, l);
                o.push_str("</details>\n");
            }
        }
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
            "<h3>{}</h3>\n<div><table class=\"evidence stack\">\n<tr><th>#</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            esc(tr!(l, "Evidence", "证据")),
            esc(tr!(l, "time", "时间")),
            esc(tr!(l, "capture point", "捕获点")),
            esc(tr!(l, "packet", "数据包"))
        );
        for (e, what) in f.evidence.iter().zip(&words.evidence) {
            let _ = writeln!(
                o,
                "<tr><td class=\"num\">#{}</td><td class=\"t\">{}</td><td class=\"p\">{}</td><td>{}</td></tr>",
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
            "<h3>{}</h3>\n<div><table class=\"evidence stack\">\n<tr><th>#</th><th>{}</th><th>{}</th><th>{}</th></tr>",
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
                "<tr><td class=\"num\">#{}</td><td class=\"t\">{}</td><td class=\"p\">{}</td><td>{}</td></tr>",
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
            "<div class=\"remedies\">\n<h3>{}</h3>",
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
        o.push_str("</div>\n");
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

fn points(o: &mut String, report: &Report, l: Lang) {
    let _ = writeln!(
        o,
        "<section id=\"points\"><h2>{}</h2>\n<div><table class=\"stack\"><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
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
    for i in report.inputs.iter().filter(|i| i.filtered_out > 0) {
        let _ = writeln!(
            o,
            "<p class=\"muted\">{}</p>",
            esc(&tr!(
                l,
                format!(
                    "{}: {} left out by the filter",
                    i.file,
                    l.count(i.filtered_out, "packet", "packets")
                ),
                format!("{}：{} 个数据包被过滤器排除", i.file, i.filtered_out)
            ))
        );
    }
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
