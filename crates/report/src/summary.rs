//! One line per finding, for chat and monitoring: severity, cost, what,
//! where, and the first fix. Tab-free, one finding a line, most severe
//! first as in the other reports, so `grep CRITICAL` and `head -1` work.
//!
//! ```
//! use stalltrace_report::{summary, Report, Tool, SCHEMA_VERSION};
//! let r = Report {
//!     schema_version: SCHEMA_VERSION,
//!     tool: Tool { name: "stalltrace".into(), version: "0".into() },
//!     inputs: vec![],
//!     points: vec![],
//!     matching: Default::default(),
//!     findings: vec![],
//!     warnings: vec![],
//! };
//! // Nothing read is not "no stall".
//! let line = summary::render(&r, stalltrace_diagnosis::Lang::En);
//! assert_eq!(line, "nothing to diagnose: no IP packet read\n");
//! ```

use std::fmt::Write;

use stalltrace_diagnosis::say;
use stalltrace_diagnosis::{tr, Lang};

use crate::model::Report;

/// The report as one line per finding.
pub fn render(report: &Report, l: Lang) -> String {
    let mut o = String::new();
    if report.findings.is_empty() {
        let none = if report.ip_packets() == 0 {
            tr!(
                l,
                "nothing to diagnose: no IP packet read",
                "没有可诊断的内容：未读到 IP 数据包"
            )
        } else {
            tr!(l, "no stall found", "没有发现停顿")
        };
        let _ = writeln!(o, "{none}");
        return o;
    }
    for f in &report.findings {
        let _ = writeln!(o, "{}", line(f, l));
    }
    o
}

/// One finding as one line: severity, cost, what, where, the first fix
/// (what `stalltrace watch` prints as a finding happens, too).
pub fn line(f: &stalltrace_diagnosis::Finding, l: Lang) -> String {
    {
        let w = f.words(l);
        let sev = say::severity(f.severity, l);
        let cost = f.cost.map(|c| l.dur(c)).unwrap_or_else(|| "-".into());
        let times = f
            .repeats
            .as_ref()
            .map(|r| tr!(l, format!(" ×{}", r.count), format!(" ×{}", r.count)))
            .unwrap_or_default();
        let at = crate::headline::at(f, l);
        // The first sentence of the summary: what happened, and why.
        let what = first_sentence(&w.summary);
        let fix = f
            .remedies
            .first()
            .map(|r| {
                let sep = tr!(l, ": ", "：");
                let line = r
                    .lines
                    .first()
                    .map(|x| format!("{sep}{x}"))
                    .unwrap_or_default();
                tr!(
                    l,
                    format!(" | fix: {}{line}", r.action.say(l)),
                    format!(" | 修复：{}{line}", r.action.say(l))
                )
            })
            .unwrap_or_default();
        format!("{sev} {cost}{times} {} @ {at}: {what}{fix}", w.title)
    }
}

/// Up to the first sentence end (". " or "。"), whole when there is none.
fn first_sentence(s: &str) -> String {
    let one_line = s.replace('\n', " ");
    let end = [". ", "。"]
        .iter()
        .filter_map(|p| one_line.find(p).map(|i| i + p.len()))
        .min();
    match end {
        Some(i) => one_line[..i].trim_end().to_string(),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::first_sentence;

    #[test]
    fn the_first_sentence_ends_at_its_stop() {
        assert_eq!(first_sentence("A waited. Then B."), "A waited.");
        assert_eq!(first_sentence("等待了。然后"), "等待了。");
        assert_eq!(first_sentence("no stop"), "no stop");
        // A number's decimal point is no sentence end.
        assert_eq!(first_sentence("took 34.3 s. Then"), "took 34.3 s.");
    }
}
