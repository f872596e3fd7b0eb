//! The ladder diagram: a column per capture point (client side left), a
//! row per packet, each arrow drawn as far as the packet got (a ✕ where
//! it died, between the points that saw it and the first that did not,
//! or past the last one where the diagnosis says it was lost), the
//! server's wait shaded from the first packet of its cause, long gaps
//! compressed, and a time axis.
//!
//! Two layouts of one diagram: a wide one (labels beside the rows) for
//! screens and print, and a narrow one (labels above the arrows, its own
//! width) that the page shows below 40 rem, so that on a phone the whole
//! story is there without scrolling sideways. Both are sized so that
//! their text is at least 12 px where they are shown.

use std::fmt::Write as _;

use stalltrace_decode::{TimeDelta, Timestamp};
use stalltrace_diagnosis::{tr, Finding, Lang, SegmentKind, Subject, Timeline, TimelineRow, Words};

use super::esc;

/// One layout's geometry, in SVG user units.
struct Layout {
    class: &'static str,
    width: f64,
    font: f64,
    /// The diagram's left and right edges (the client's side, the
    /// server's side).
    left: f64,
    right: f64,
    /// Labels beside the rows (wide) or above each arrow (narrow).
    beside: bool,
    row: f64,
    gap: f64,
}

const WIDE: Layout = Layout {
    class: "ladder-wide",
    width: 900.0,
    font: 14.0,
    left: 300.0,
    right: 850.0,
    beside: true,
    row: 26.0,
    gap: 22.0,
};

const NARROW: Layout = Layout {
    class: "ladder-narrow",
    width: 380.0,
    font: 13.0,
    left: 14.0,
    right: 348.0,
    beside: false,
    row: 44.0,
    gap: 26.0,
};

/// A rough width of `s` at `font` (Latin ~0.6 em, CJK 1 em): enough to
/// keep labels apart; the browser test measures the real boxes.
fn text_width(s: &str, font: f64) -> f64 {
    s.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 1.0 } else { 0.62 })
        .sum::<f64>()
        * font
}

fn row_time(r: &TimelineRow) -> Option<Timestamp> {
    r.times.iter().flatten().min().copied()
}

/// Both layouts, and the legend and columns in HTML (which wrap).
pub(super) fn render(o: &mut String, f: &Finding, t: &Timeline, words: &Words, l: Lang) {
    let _ = writeln!(o, "<div class=\"ladder\">");
    svg(o, &WIDE, f, t, words, l);
    svg(o, &NARROW, f, t, words, l);
    o.push_str("</div>\n");
    legend(o, t, l);
}

fn legend(o: &mut String, t: &Timeline, l: Lang) {
    let _ = writeln!(
        o,
        "<p class=\"ladder-legend\"><span><b class=\"lg-x\">✕</b>{}</span><span><b class=\"lg-wait\"></b>{}</span><span><b class=\"lg-cb\">→</b>{}</span><span><b class=\"lg-col\"></b>{}</span></p>",
        esc(tr!(
            l,
            "lost there: seen at the point before, never at the next (or, past the last point, never answered)",
            "在此丢失：前一个捕获点看到了，下一个没有（或在最后一个捕获点之后丢失，没有得到应答）"
        )),
        esc(tr!(l, "the server's wait", "服务器的等待")),
        esc(tr!(l, "the server's callback", "服务器的回连")),
        esc(tr!(l, "a capture point", "捕获点"))
    );
    let cols: Vec<String> = t
        .points
        .iter()
        .zip(&t.ends)
        .map(|(p, e)| match e {
            Some(e) => format!(
                "<li><b>{}</b> {} ↔ {}</li>",
                esc(p),
                esc(&e.client.to_string()),
                esc(&e.server.to_string())
            ),
            None => format!("<li><b>{}</b></li>", esc(p)),
        })
        .collect();
    let _ = writeln!(
        o,
        "<ul class=\"ladder-columns\" aria-label=\"{}\">{}</ul>",
        esc(tr!(
            l,
            "columns, client side first",
            "各列（客户端一侧在前）"
        )),
        cols.join("")
    );
}

fn svg(o: &mut String, g: &Layout, f: &Finding, t: &Timeline, words: &Words, l: Lang) {
    let n = t.points.len().max(1);
    let inner = (g.right - g.left) * 0.1;
    let col_x = |i: usize| {
        if n == 1 {
            (g.left + g.right) / 2.0
        } else {
            g.left + inner + (g.right - g.left - 2.0 * inner) * i as f64 / (n - 1) as f64
        }
    };
    let small = 12.0;
    // The header: the ends' sides, then the points' names (and, in the
    // wide layout, the addresses seen there), on as many lines as keep
    // neighbours apart.
    let line_h = g.font + 4.0;
    let head_top = 22.0 + line_h;
    let heads = heads(g, t, &col_x, small);
    let lines_per_head = if g.beside { 3.0 } else { 1.0 };
    let levels = heads.iter().map(|h| h.level + 1).max().unwrap_or(1) as f64;
    let top = head_top + lines_per_head * line_h * levels + 8.0 - line_h;
    let bands = bands(f, t);
    // Rows, with long gaps compressed.
    let mut ys = Vec::new();
    let mut gaps: Vec<(f64, TimeDelta)> = Vec::new();
    let mut y = top + if g.beside { 14.0 } else { 24.0 };
    let mut last: Option<Timestamp> = None;
    for (i, r) in t.rows.iter().enumerate() {
        if let (Some(prev), Some(now)) = (last, row_time(r)) {
            let dt = now - prev;
            if dt >= TimeDelta::from_millis(500) {
                gaps.push((y - g.row / 2.0 + g.gap / 2.0 + 4.0, dt));
                y += g.gap;
            }
        }
        // Narrow: the wait's label gets a line of its own above the band.
        if !g.beside && bands.iter().any(|b| b.0 == i) {
            y += 20.0;
        }
        ys.push(y);
        y += g.row;
        last = row_time(r).or(last);
    }
    let height = y;
    let _ = writeln!(
        o,
        "<svg class=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {height:.0}\" role=\"img\" aria-label=\"{}\" font-family=\"system-ui, sans-serif\" font-size=\"{}\">",
        g.class,
        g.width,
        esc(tr!(l, "ladder diagram", "时序图")),
        g.font
    );
    let _ = writeln!(
        o,
        "<defs><marker id=\"{0}-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#1d2330\"/></marker><marker id=\"{0}-arrow-cb\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#b35c00\"/></marker></defs>",
        g.class
    );
    wait_band(o, g, &bands, &ys, height, l);
    // The ends' sides, over the diagram's edges.
    let _ = writeln!(
        o,
        "<text class=\"side\" x=\"{:.1}\" y=\"16\" fill=\"#5b6474\" font-size=\"{small}\">{}</text><text class=\"side\" x=\"{:.1}\" y=\"16\" text-anchor=\"end\" fill=\"#5b6474\" font-size=\"{small}\">{}</text>",
        g.left,
        esc(tr!(l, "← client side", "← 客户端一侧")),
        g.right,
        esc(tr!(l, "server side →", "服务器一侧 →"))
    );
    if g.beside {
        let _ = writeln!(
            o,
            "<text class=\"axis-name\" x=\"8\" y=\"{:.1}\" fill=\"#5b6474\" font-size=\"{small}\">{}</text>",
            top,
            esc(tr!(l, "time", "时间"))
        );
    }
    // Edges: where the client's and the server's sides begin.
    for x in [g.left, g.right] {
        let _ = writeln!(
            o,
            "<line class=\"edge\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#c4cad4\" stroke-width=\"1\"/>",
            22.0,
            height - 6.0
        );
    }
    for (i, h) in heads.iter().enumerate() {
        let x = col_x(i);
        let base = head_top + h.level as f64 * lines_per_head * line_h;
        let _ = writeln!(
            o,
            "<line class=\"column\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#8a94a6\" stroke-width=\"1.2\" stroke-dasharray=\"5 4\"/>",
            height - 6.0
        );
        let _ = writeln!(
            o,
            "<text class=\"column-name\" x=\"{:.1}\" y=\"{base:.1}\" text-anchor=\"{}\" font-weight=\"600\">{}<title>{}</title></text>",
            h.x,
            h.anchor,
            esc(&h.name),
            esc(&t.points[i])
        );
        for (k, addr) in h.addresses.iter().enumerate() {
            let _ = writeln!(
                o,
                "<text class=\"column-address\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{}\" fill=\"#5b6474\" font-size=\"{small}\">{}</text>",
                h.x,
                base + line_h * (k as f64 + 1.0),
                h.anchor,
                esc(addr)
            );
        }
    }
    for (gy, dt) in &gaps {
        let (x, anchor) = if g.beside {
            (88.0, "start")
        } else {
            ((g.left + g.right) / 2.0, "middle")
        };
        let _ = writeln!(
            o,
            "<text class=\"gap\" x=\"{x:.1}\" y=\"{gy:.1}\" text-anchor=\"{anchor}\" fill=\"#5b6474\" font-style=\"italic\" font-size=\"{small}\"{HALO}>{}</text>",
            esc(&tr!(
                l,
                format!("⋯ {} later", l.dur(*dt)),
                format!("⋯ {} 之后", l.dur(*dt))
            ))
        );
    }
    let start = t.rows.iter().find_map(row_time);
    for ((r, &y), label) in t.rows.iter().zip(&ys).zip(&words.timeline) {
        row(o, g, r, y, label, start, &col_x, n, l);
    }
    o.push_str("</svg>\n");
}

/// The waits to shade: the rows from the first packet of the cause (the
/// callback's first SYN, the first lookup) to the last within the wait,
/// and how long it was.
fn bands(f: &Finding, t: &Timeline) -> Vec<(usize, usize, TimeDelta)> {
    // A row's time is the earliest point's, on the reference clock: the
    // segment's ends, measured at one point, may differ by the hop delay.
    let slack = TimeDelta::from_millis(5);
    f.breakdown
        .iter()
        .filter(|s| s.kind == SegmentKind::Dependency)
        .filter_map(|s| {
            let within = |r: &TimelineRow| {
                row_time(r).is_some_and(|rt| rt + slack >= s.from && rt <= s.to + slack)
            };
            let first = t
                .rows
                .iter()
                .position(|r| r.subject != Subject::Connection && within(r))
                .or_else(|| t.rows.iter().position(within))?;
            let last = t.rows.iter().rposition(within)?;
            Some((first, last, s.duration))
        })
        .collect()
}

/// The waits, shaded, with their length.
fn wait_band(
    o: &mut String,
    g: &Layout,
    bands: &[(usize, usize, TimeDelta)],
    ys: &[f64],
    height: f64,
    l: Lang,
) {
    for &(a, b, duration) in bands {
        let top = ys[a] - g.row / 2.0 + if g.beside { 4.0 } else { -4.0 };
        let bottom = (ys[b] + g.row / 2.0 - 6.0).min(height - 4.0);
        let _ = writeln!(
            o,
            "<rect class=\"wait\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#e08a1e\" fill-opacity=\"0.12\" stroke=\"#e08a1e\" stroke-opacity=\"0.5\" stroke-dasharray=\"4 3\"/>",
            g.left,
            g.right - g.left,
            bottom - top
        );
        let text = tr!(
            l,
            format!("wait {}", l.dur(duration)),
            format!("等待 {}", l.dur(duration))
        );
        if g.beside {
            // In the margin right of the server's side, written upwards.
            let (lx, ly) = (g.right + 24.0, (top + bottom) / 2.0);
            let _ = writeln!(
                o,
                "<text class=\"wait-label\" x=\"{lx:.1}\" y=\"{ly:.1}\" transform=\"rotate(-90 {lx:.1} {ly:.1})\" text-anchor=\"middle\" fill=\"#9a5500\" font-weight=\"600\">{}</text>",
                esc(&text)
            );
        } else {
            // On the line kept for it above the band.
            let _ = writeln!(
                o,
                "<text class=\"wait-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#9a5500\" font-weight=\"600\"{HALO}>{}</text>",
                g.right - 4.0,
                top - 5.0,
                esc(&text)
            );
        }
    }
}

/// A column's heading: its name (and, wide, the addresses seen there),
/// where it is anchored, and on which line it sits so that it touches no
/// other heading.
struct Head {
    x: f64,
    anchor: &'static str,
    name: String,
    addresses: Vec<String>,
    level: usize,
}

fn heads(g: &Layout, t: &Timeline, col_x: &dyn Fn(usize) -> f64, small: f64) -> Vec<Head> {
    let mut out: Vec<Head> = Vec::new();
    // The right end of the last heading placed on each line.
    let mut ends: Vec<f64> = Vec::new();
    for (i, point) in t.points.iter().enumerate() {
        let x = col_x(i);
        let addresses: Vec<String> = match (g.beside, t.ends.get(i).and_then(Option::as_ref)) {
            (true, Some(e)) => vec![e.client.to_string(), e.server.to_string()],
            _ => Vec::new(),
        };
        // A name wider than the picture is cut (the full one in its title
        // and in the list of columns under the diagram).
        let mut name = point.clone();
        while text_width(&name, g.font) > g.width - 8.0 && name.chars().count() > 2 {
            name.pop();
            name.pop();
            name.push('…');
        }
        let w = addresses
            .iter()
            .map(|a| text_width(a, small))
            .fold(text_width(&name, g.font), f64::max);
        let (anchor, from, to) = if x - w / 2.0 < 2.0 {
            ("start", x, x + w)
        } else if x + w / 2.0 > g.width - 2.0 {
            ("end", x - w, x)
        } else {
            ("middle", x - w / 2.0, x + w / 2.0)
        };
        let level = ends
            .iter()
            .position(|&end| from >= end + 10.0)
            .unwrap_or(ends.len());
        if level == ends.len() {
            ends.push(to);
        } else {
            ends[level] = to;
        }
        out.push(Head {
            x,
            anchor,
            name,
            addresses,
            level,
        });
    }
    out
}

/// A white outline under a label: the lines it crosses stay clear of it.
const HALO: &str =
    " stroke=\"#fff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\"";

#[allow(clippy::too_many_arguments)]
fn row(
    o: &mut String,
    g: &Layout,
    r: &TimelineRow,
    y: f64,
    label: &str,
    start: Option<Timestamp>,
    col_x: &dyn Fn(usize) -> f64,
    n: usize,
    l: Lang,
) {
    let callback = r.subject != Subject::Connection;
    let color = if callback { "#b35c00" } else { "#1d2330" };
    let marker = format!("{}-arrow{}", g.class, if callback { "-cb" } else { "" });
    let since = match (start, row_time(r)) {
        (Some(a), Some(b)) => {
            let d = b - a;
            if d < TimeDelta::from_millis(1) {
                tr!(l, "+0 s", "+0 秒").replace(' ', "\u{a0}")
            } else {
                format!("+{}", l.dur(d)).replace(' ', "\u{a0}")
            }
        }
        _ => String::new(),
    };
    if g.beside {
        let _ = writeln!(
            o,
            "<text class=\"axis\" x=\"8\" y=\"{:.1}\" fill=\"#5b6474\" font-size=\"12\">{}</text><text class=\"row-label\" x=\"88\" y=\"{:.1}\" fill=\"{color}\"{HALO}>{}</text>",
            y + 4.0,
            esc(&since),
            y + 5.0,
            esc(label)
        );
    } else {
        let _ = writeln!(
            o,
            "<text class=\"row-label\" x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\"{HALO}>{}</text><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#5b6474\" font-size=\"12\"{HALO}>{}</text>",
            g.left + 2.0,
            y - 10.0,
            esc(label),
            g.right - 2.0,
            y - 10.0,
            esc(&since)
        );
    }
    let seen: Vec<usize> = (0..n)
        .filter(|&i| r.times.get(i).is_some_and(Option::is_some))
        .collect();
    let (Some(&first), Some(&last_seen)) = (seen.first(), seen.last()) else {
        return;
    };
    let rightward = r.rightward();
    // From its sender's side to as far as it got: dying between the last
    // point that saw it and the next, or past the last point when lost.
    let (from_x, to_x, died) = if rightward {
        let died = if last_seen + 1 < n {
            Some((col_x(last_seen) + col_x(last_seen + 1)) / 2.0)
        } else if r.lost {
            Some((col_x(last_seen) + g.right) / 2.0)
        } else {
            None
        };
        (g.left, died.unwrap_or(g.right), died)
    } else {
        let died = if first > 0 {
            Some((col_x(first) + col_x(first - 1)) / 2.0)
        } else if r.lost {
            Some((col_x(first) + g.left) / 2.0)
        } else {
            None
        };
        (g.right, died.unwrap_or(g.left), died)
    };
    let _ = writeln!(
        o,
        "<line class=\"packet\" x1=\"{from_x:.1}\" y1=\"{y:.1}\" x2=\"{to_x:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-width=\"1.6\"{}/>",
        if died.is_none() {
            format!(" marker-end=\"url(#{marker})\"")
        } else {
            String::new()
        }
    );
    if let Some(dx) = died {
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
            "<circle class=\"seen\" cx=\"{:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{color}\"><title>{}</title></circle>",
            col_x(i),
            esc(&ts)
        );
    }
}
