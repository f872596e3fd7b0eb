//! The HTML report in a real browser (headless Chromium), as people read
//! it: at 1400 px and at 420 px, and printed to PDF. A measuring script is
//! added to a copy of the page; what it finds in the laid-out DOM (text
//! boxes, font sizes, widths, where the shaded wait begins) comes back in
//! the dumped DOM. Screenshots and PDFs are left in the test's target
//! folder for a person to look at.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        if std::env::var("STALLTRACE_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
            panic!("chromium is missing but STALLTRACE_REQUIRE_ROOT_TESTS=1 (scripts/test installs it as root)");
        }
        eprintln!("\n*** SKIPPED browser test: no chromium (apt-get install chromium) ***\n");
    }
    found
}

/// Runs headless Chromium on `page` with `extra` arguments.
fn browse(browser: &Path, profile: &Path, width: u32, page: &Path, extra: &[&str]) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--hide-scrollbars",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--window-size={width},3000"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    // The page itself must say nothing on the console (a script error).
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") && !l.contains("stalltrace-measure"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Measures the laid-out page and writes the result, as JSON, into a
/// `<pre id="stalltrace-measure">`.
const MEASURE: &str = r#"<script>
(function () {
  var out = { overlaps: [], heads: [], minFont: 1e9, minFontAt: '', scrollWidth: document.documentElement.scrollWidth,
              innerWidth: window.innerWidth, wider: [], ladders: [] };
  function visible(e) { var s = getComputedStyle(e); return s.display !== 'none' && s.visibility !== 'hidden' && e.getClientRects().length > 0; }
  function hasText(e) { for (var c of e.childNodes) { if (c.nodeType === 3 && c.textContent.trim()) return true; } return false; }
  document.querySelectorAll('body *').forEach(function (e) {
    if (!visible(e) || !hasText(e) || e.closest('svg') || e.tagName === 'SCRIPT' || e.id === 'stalltrace-measure') return;
    var f = parseFloat(getComputedStyle(e).fontSize);
    if (f < out.minFont) { out.minFont = f; out.minFontAt = e.tagName + ': ' + e.textContent.trim().slice(0, 40); }
    var r = e.getBoundingClientRect();
    if (r.right > window.innerWidth + 0.5) out.wider.push(e.tagName + '.' + e.className + ': ' + Math.round(r.right));
  });
  document.querySelectorAll('.ladder svg').forEach(function (svg) {
    if (!visible(svg)) return;
    var scale = svg.getScreenCTM().a;
    var texts = Array.from(svg.querySelectorAll('text')).filter(function (t) { return t.textContent.trim(); });
    var boxes = texts.map(function (t) { var r = t.getBoundingClientRect(); return { t: t, r: r, s: t.textContent.trim() }; });
    texts.forEach(function (t) {
      var f = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (f < out.minFont) { out.minFont = f; out.minFontAt = 'svg text: ' + t.textContent.trim().slice(0, 40); }
    });
    for (var i = 0; i < boxes.length; i++) for (var j = i + 1; j < boxes.length; j++) {
      var a = boxes[i].r, b = boxes[j].r;
      var w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 0.5 && h > 0.5) out.overlaps.push(boxes[i].s + ' | ' + boxes[j].s);
    }
    var r = svg.getBoundingClientRect();
    if (r.right > window.innerWidth + 0.5) out.wider.push('svg: ' + Math.round(r.right));
    var heads = Array.from(svg.querySelectorAll('.column-name')).map(function (t) { return t.childNodes[0].textContent; });
    // Where the first shaded wait begins: the first row label inside it.
    var band = svg.querySelector('rect.wait'), first = null, before = null;
    if (band) {
      var br = band.getBoundingClientRect();
      svg.querySelectorAll('.row-label').forEach(function (t) {
        var tr = t.getBoundingClientRect(), mid = (tr.top + tr.bottom) / 2;
        if (mid >= br.top && mid <= br.bottom && first === null) first = t.textContent;
        if (mid < br.top) before = t.textContent;
      });
    }
    // Each ✕, by the row label on its line.
    var dropped = Array.from(svg.querySelectorAll('.dropped')).map(function (g) {
      var gr = g.getBoundingClientRect(), mid = (gr.top + gr.bottom) / 2, best = null, d = 1e9;
      svg.querySelectorAll('.row-label').forEach(function (t) {
        var tr = t.getBoundingClientRect(), m = (tr.top + tr.bottom) / 2;
        if (Math.abs(m - mid) < d) { d = Math.abs(m - mid); best = t.textContent; }
      });
      return best;
    });
    out.ladders.push({ cls: svg.getAttribute('class'), heads: heads, waitFirst: first, waitBefore: before, dropped: dropped, scale: scale });
  });
  var pre = document.createElement('pre'); pre.id = 'stalltrace-measure';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
  if (window.parent !== window) window.parent.postMessage(JSON.stringify(out), '*');
})();
</script>"#;

/// Chromium's window is at least 500 px wide: a narrower screen is a
/// frame of that width, whose measure comes back by message.
fn frame(page: &Path, width: u32) -> String {
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><style>body {{ margin: 0; }} iframe {{ border: 0; display: block; }}</style></head>
<body><iframe src="file://{}" style="width: {width}px; height: 2900px"></iframe>
<script>window.addEventListener('message', function (e) {{
  var pre = document.createElement('pre'); pre.id = 'stalltrace-measure'; pre.textContent = e.data; document.body.appendChild(pre);
}});</script></body></html>"#,
        page.display()
    )
}

struct Case {
    name: &'static str,
    lang: &'static str,
    inputs: Vec<PathBuf>,
    /// The first ladder's columns.
    heads: Vec<&'static str>,
    /// Its ✕s, by row label.
    dropped: Vec<&'static str>,
}

fn cases() -> Vec<Case> {
    let lab = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/precision/lab/env1-drop");
    vec![
        Case {
            name: "env1",
            lang: "en",
            inputs: vec![
                example("env1-fw-eth1-outside.txt"),
                example("env1-fw-eth2-inside.txt"),
            ],
            heads: vec!["env1-fw-eth2-inside", "env1-fw-eth1-outside"],
            // The client's first ACK, lost past the outside point; the four
            // ident SYNs between the points.
            dropped: vec![
                "client ACK",
                "ident SYN",
                "ident SYN (again)",
                "ident SYN (again)",
                "ident SYN (again)",
            ],
        },
        Case {
            name: "lab-env1-drop",
            lang: "en",
            inputs: vec![lab.clone()],
            heads: vec!["client", "fw-eth2", "fw-eth1", "server"],
            dropped: [vec!["ident SYN"], vec!["ident SYN (again)"; 8]].concat(),
        },
        // Chinese labels are measured too (their rows named in Chinese).
        Case {
            name: "lab-env1-drop-zh",
            lang: "zh-CN",
            inputs: vec![lab],
            heads: vec!["client", "fw-eth2", "fw-eth1", "server"],
            dropped: Vec::new(),
        },
    ]
}

/// The seed's env1 at both points and the lab's env1 at four, at 1400 px
/// and 420 px: in the ladder no text box overlaps another, its columns are
/// the capture points each once, the shaded wait begins at the first
/// ident SYN's row, the ✕s are on the rows the diagnosis lost; no text
/// under 12 px; at 420 px nothing is wider than the screen. Printed, the
/// env1 report takes at most 3 pages on Letter and on A4 (the lab's is
/// printed too, for a person to look at).
#[test]
fn the_report_reads_on_a_wide_screen_a_phone_and_paper() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for case in cases() {
        let page = dir.path().join(format!("{}.html", case.name));
        let out = Command::new(bin())
            .args(["analyze", "-q", "--lang", case.lang, "--html"])
            .arg(&page)
            .args(&case.inputs)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let html = fs::read_to_string(&page).unwrap();
        let measured = dir.path().join(format!("{}-measured.html", case.name));
        fs::write(
            &measured,
            html.replace("</body>", &format!("{MEASURE}</body>")),
        )
        .unwrap();
        for width in [1400, 420] {
            let profile = dir.path().join(format!("profile-{}-{width}", case.name));
            let (target, window) = if width < 500 {
                let wrapper = dir.path().join(format!("{}-{width}-frame.html", case.name));
                fs::write(&wrapper, frame(&measured, width)).unwrap();
                (wrapper, 500)
            } else {
                (measured.clone(), width)
            };
            let dom = browse(
                &browser,
                &profile,
                window,
                &target,
                &[
                    "--dump-dom",
                    "--allow-file-access-from-files",
                    "--virtual-time-budget=5000",
                ],
            );
            let a = dom
                .find("<pre id=\"stalltrace-measure\">")
                .expect("the measure ran")
                + "<pre id=\"stalltrace-measure\">".len();
            let b = a + dom[a..].find("</pre>").unwrap();
            let json = dom[a..b]
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"");
            let m: serde_json::Value = serde_json::from_str(&json).unwrap();
            let at = format!("{} at {width} px", case.name);
            eprintln!("{at}: {m}");
            assert_eq!(m["overlaps"], serde_json::json!([]), "{at}");
            assert!(
                m["minFont"].as_f64().unwrap() >= 12.0 - 0.01,
                "{at}: {} px ({})",
                m["minFont"],
                m["minFontAt"]
            );
            assert_eq!(m["wider"], serde_json::json!([]), "{at}");
            assert_eq!(m["innerWidth"], width, "{at}");
            assert!(
                m["scrollWidth"].as_u64().unwrap() <= m["innerWidth"].as_u64().unwrap(),
                "{at}: {m}"
            );
            let ladder = &m["ladders"][0];
            let expected = if width == 420 {
                "ladder-narrow"
            } else {
                "ladder-wide"
            };
            assert_eq!(ladder["cls"], expected, "{at}");
            assert_eq!(ladder["heads"], serde_json::json!(case.heads), "{at}");
            if case.lang == "en" {
                assert_eq!(ladder["waitFirst"], "ident SYN", "{at}");
                assert_eq!(ladder["dropped"], serde_json::json!(case.dropped), "{at}");
            } else {
                assert_eq!(ladder["dropped"].as_array().unwrap().len(), 9, "{at}");
            }
            let shot = keep.join(format!("{}-{width}.png", case.name));
            let shown = if width < 500 {
                let wrapper = dir.path().join(format!("{}-{width}-shot.html", case.name));
                fs::write(&wrapper, frame(&page, width)).unwrap();
                wrapper
            } else {
                page.clone()
            };
            browse(
                &browser,
                &profile,
                window,
                &shown,
                &[
                    &format!("--screenshot={}", shot.display()),
                    "--allow-file-access-from-files",
                    "--virtual-time-budget=3000",
                ],
            );
            let png = fs::read(&shot).unwrap();
            assert!(png.starts_with(b"\x89PNG") && png.len() > 30_000);
            eprintln!("screenshot: {}", shot.display());
        }
        // Printed: every report to PDF; the seed's on two papers, in at
        // most 3 pages.
        let papers: &[&str] = if case.name == "env1" {
            &["Letter", "A4"]
        } else {
            &["A4"]
        };
        for &paper in papers {
            let sized = dir.path().join(format!("{}-{paper}.html", case.name));
            fs::write(
                &sized,
                html.replace("</style>", &format!("@page {{ size: {paper}; }}</style>")),
            )
            .unwrap();
            let pdf = keep.join(format!("{}-{paper}.pdf", case.name));
            let profile = dir
                .path()
                .join(format!("profile-pdf-{}-{paper}", case.name));
            browse(
                &browser,
                &profile,
                1400,
                &sized,
                &[
                    &format!("--print-to-pdf={}", pdf.display()),
                    "--no-pdf-header-footer",
                ],
            );
            let info = Command::new("pdfinfo").arg(&pdf).output();
            let pages = match info {
                Ok(o) => String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
                    l.strip_prefix("Pages:")
                        .map(|p| p.trim().parse::<u32>().unwrap())
                }),
                Err(_) if std::env::var("STALLTRACE_REQUIRE_ROOT_TESTS").as_deref() != Ok("1") => {
                    eprintln!("\n*** SKIPPED page count: no pdfinfo (apt-get install poppler-utils) ***\n");
                    continue;
                }
                Err(e) => panic!("pdfinfo: {e} but STALLTRACE_REQUIRE_ROOT_TESTS=1"),
            };
            let pages = pages.expect("pdfinfo names the pages");
            eprintln!("{}: {pages} pages on {paper}: {}", case.name, pdf.display());
            if case.name == "env1" {
                assert!(pages <= 3, "{pages} pages on {paper}");
            }
        }
    }
}
