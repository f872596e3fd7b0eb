//! A finding's headline, shared by the formats that print one: its rule,
//! where, what it cost, and how often ("application-wait at fw-eth1,
//! cost 34.3 s, 16 times (80.0 s in all)").

use stalltrace_diagnosis::say::long;
use stalltrace_diagnosis::{tr, Finding, Lang};

/// Where a finding was seen, in words ("all points" for one merged
/// across every point).
pub(crate) fn at(f: &Finding, l: Lang) -> String {
    if f.point.is_empty() {
        tr!(l, "all points", "所有捕获点").to_string()
    } else {
        f.point.clone()
    }
}

/// The headline after the severity, `title` being the rule's name.
pub(crate) fn headline(f: &Finding, title: &str, l: Lang) -> String {
    let at = at(f, l);
    let cost = f
        .cost
        .map(|c| tr!(l, format!(", cost {c}"), format!("，耗时 {}", l.dur(c))))
        .unwrap_or_default();
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
    tr!(
        l,
        format!("{title} at {at}{cost}{times}"),
        format!("{title}，位于 {at}{cost}{times}")
    )
}
