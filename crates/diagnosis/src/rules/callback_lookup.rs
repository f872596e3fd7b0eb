//! `callback-lookup` (INFO): the server made an ident or DNS lookup during
//! a conversation that was not slow, because the lookup ended at once (a
//! RST, an ICMP error, an answer). Worth a word: the same lookup dropped
//! silently would have cost the server's whole timer (the seed's
//! environment 3: the firewall's RST made the login fast).

use stalltrace_decode::{tr, Lang};

use crate::finding::*;
use crate::remedy::Remedy;
use crate::rule::{Cx, Detect, Judged, Rule, Said};
use crate::rules::application_wait::{callback_details, path_places};
use crate::say;

pub(crate) struct CallbackLookup;

impl Rule for CallbackLookup {
    fn ids(&self) -> &'static [FindingId] {
        &[FindingId::CallbackLookup]
    }

    fn title(&self, _id: FindingId, l: Lang) -> &'static str {
        tr!(l, "callback-lookup", "回连查询")
    }

    fn folds(&self) -> bool {
        true
    }

    fn detector(&self) -> Box<dyn Detect> {
        Box::new(Detector)
    }

    fn say(&self, f: &Finding, l: Lang) -> Said {
        let (Some(w), Some(cb), Some(conv)) = (f.wait(), f.cause(), f.conversation.as_ref()) else {
            return Said::default();
        };
        let what = match (w.kind, l) {
            (WaitKind::Response, Lang::En) => "answer",
            (_, Lang::En) => "greeting",
            (WaitKind::Response, Lang::ZhCn) => "应答",
            (_, Lang::ZhCn) => "欢迎信息",
        };
        let service = w.service.as_deref();
        let summary = match l {
            Lang::En => format!(
                "During the {}connection from {} the server made {}, {}; the {what} came {} after the handshake.",
                service.map(|s| format!("{s} ")).unwrap_or_default(),
                conv.client,
                say::callback(cb, l),
                say::best_fate(cb, &f.path, l),
                w.waited
            ),
            Lang::ZhCn => format!(
                "在来自 {} 的{}连接中，服务器进行了 {}，{}；{what}在握手完成后 {}到达。",
                conv.client,
                service.map(|s| format!(" {s} ")).unwrap_or_default(),
                say::callback(cb, l),
                say::best_fate(cb, &f.path, l),
                l.dur(w.waited)
            ),
        };
        let mut details = callback_details(cb, path_places(f), l);
        if let Some(rt) = w.round_trip.filter(|rt| rt.nanos() >= 1_000_000) {
            details.push(tr!(
                l,
                format!(
                    "Seen from the server the lookup lasted {}: the round trip between this point and the server ({}) is part of it.",
                    l.dur(cb.lasted),
                    l.dur(rt)
                ),
                format!(
                    "从服务器看，这次查询持续了 {}：其中包括此捕获点与服务器之间的往返时间（{}）。",
                    l.dur(cb.lasted),
                    l.dur(rt)
                )
            ));
        }
        if matches!(cb.fate, Fate::Refused { .. }) && cb.kind == CallbackKind::Ident {
            details.push(tr!(
                l,
                "A prompt refusal is why this is fast: had the lookup been dropped silently, the server would have waited for its ident timer (often 30 s).",
                "正因为被立即拒绝，这里才很快：如果这次反查被静默丢弃，服务器会一直等到它的 ident 定时器超时（通常为 30 秒）。"
            )
            .into());
        }
        Said { summary, details }
    }

    fn remedies(&self, f: &Finding) -> Vec<Remedy> {
        crate::rules::application_wait::remedies(f)
            .into_iter()
            .filter(|r| r.on_server)
            .take(1)
            .collect()
    }
}

#[derive(Clone)]
struct Detector;

impl Detect for Detector {
    fn wait(&mut self, j: &Judged, cx: &mut Cx) {
        if j.wait.cost() >= cx.cfg.wait_threshold || j.wait.kind == WaitKind::NoGreeting {
            return;
        }
        let e = j.explained;
        // A fast wait is worth a word only for lookups.
        let Some(i) = e
            .facts
            .callbacks
            .iter()
            .position(|cb| cb.kind != CallbackKind::Other)
        else {
            return;
        };
        let c = j.conv;
        let mut facts = e.facts.clone();
        facts.main = Some(i);
        let cost = facts.callbacks[i].lasted;
        let mut evidence: Vec<Evidence> = e
            .callback_evidence
            .iter()
            .map(|(p, s)| cx.evidence(c, *p, s.clone()))
            .collect();
        if let Some((p, s)) = e.wait_evidence.last() {
            evidence.push(cx.evidence(c, *p, s.clone()));
        }
        evidence.sort_by_key(|e| (e.time, e.packet));
        let mut f = Finding::new(
            FindingId::CallbackLookup,
            Severity::Info,
            cx.name(c.point),
            Facts::Wait(Box::new(facts)),
        );
        f.cost = Some(cost);
        f.conversation = Some(crate::explain::conv_ref(c, cx.points));
        f.evidence = evidence;
        f.cross = Some(j.cross(Some(i)));
        cx.emit(c.first.ts, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{diagnose, one};

    #[test]
    fn a_lookup_refused_at_once_is_information_with_one_fix() {
        let all = diagnose("\
13:20:31.130290 218.104.68.171.33246 > 220.xxx.160.xxx.110: S 1182454733:1182454733(0) win 16384 <mss 1460,nop,nop,sackOK>
13:20:31.314893 220.xxx.160.xxx.110 > 218.104.68.171.33246: S 1187972870:1187972870(0) ack 1182454734 win 5840 <mss 1460,nop,nop,sackOK> (DF)
13:20:31.315436 218.104.68.171.33246 > 220.xxx.160.xxx.110: . ack 1 win 17520
13:20:31.506633 220.xxx.160.xxx.38225 > 218.104.68.171.113: S 1188523777:1188523777(0) win 5840 <mss 1460,sackOK,timestamp 311072549[|tcp]> (DF)
13:20:31.509404 218.104.68.171.113 > 220.xxx.160.xxx.38225: R 0:0(0) ack 1188523778 win 8192
13:20:31.716908 220.xxx.160.xxx.110 > 218.104.68.171.33246: P 1:49(48) ack 1 win 5840 (DF)
");
        let f = one(&all, FindingId::CallbackLookup);
        assert_eq!(f.severity, Severity::Info);
        let cb = f.cause().unwrap();
        assert_eq!(cb.kind, CallbackKind::Ident);
        assert!(matches!(cb.fate, Fate::Refused { .. }));
        assert_eq!(f.cost, Some(cb.lasted));
        assert_eq!(f.remedies.len(), 1);
        assert!(all.iter().all(|f| f.id != FindingId::ApplicationWait));
    }
}
