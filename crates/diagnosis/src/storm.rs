//! Many unanswered SYNs: a SYN flood (many sources, one target) or a port
//! scan (one source, many ports), counted in bounded memory and reported
//! as one finding.

use std::collections::{HashMap, HashSet};

use stalltrace_decode::Host;

/// Space-saving top-k (Metwally et al.): at most `k` counters, whatever the
/// number of distinct keys; a key's count is over-estimated by at most the
/// smallest counter.
#[derive(Clone, Debug)]
pub(crate) struct TopK<K: std::hash::Hash + Eq + Clone> {
    k: usize,
    counts: HashMap<K, u64>,
}

impl<K: std::hash::Hash + Eq + Clone + Ord> TopK<K> {
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            counts: HashMap::new(),
        }
    }

    pub fn add(&mut self, key: K) {
        if let Some(c) = self.counts.get_mut(&key) {
            *c += 1;
        } else if self.counts.len() < self.k {
            self.counts.insert(key, 1);
        } else {
            let (min_key, min) = self
                .counts
                .iter()
                .min_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(b.0)))
                .map(|(k, c)| (k.clone(), *c))
                .expect("k > 0");
            self.counts.remove(&min_key);
            self.counts.insert(key, min + 1);
        }
    }

    /// The largest counts, largest first.
    pub fn top(&self, n: usize) -> Vec<(K, u64)> {
        let mut v: Vec<(K, u64)> = self.counts.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// Distinct values counted exactly up to a cap, then only known to exceed it.
const DISTINCT_CAP: usize = 100_000;

#[derive(Clone, Debug)]
pub(crate) struct Storm {
    pub attempts: u64,
    pub syns: u64,
    pub sources: TopK<Host>,
    pub targets: TopK<(Host, u16)>,
    pub distinct_sources: HashSet<Host>,
    pub distinct_ports: HashSet<u16>,
    pub distinct_hosts: HashSet<Host>,
    pub refused: u64,
    pub first: Option<stalltrace_decode::Timestamp>,
    pub last: Option<stalltrace_decode::Timestamp>,
}

/// Failed attempts a second, at least, for a storm: a flood or a scan is
/// fast; a service that drops or refuses its clients one by one is not.
pub(crate) const STORM_RATE: f64 = 10.0;

impl Storm {
    /// Attempts a second over its span (a span under a second counts as
    /// one).
    pub fn rate(&self) -> f64 {
        let span = match (self.first, self.last) {
            (Some(a), Some(b)) => (b - a).secs_f64(),
            _ => 0.0,
        };
        self.attempts as f64 / span.max(1.0)
    }

    /// Many attempts, fast.
    pub fn is_storm(&self, min: u64) -> bool {
        self.attempts > min && self.rate() >= STORM_RATE
    }

    pub fn new() -> Self {
        Storm {
            attempts: 0,
            syns: 0,
            sources: TopK::new(64),
            targets: TopK::new(64),
            distinct_sources: HashSet::new(),
            distinct_ports: HashSet::new(),
            distinct_hosts: HashSet::new(),
            refused: 0,
            first: None,
            last: None,
        }
    }

    pub fn add(&mut self, c: &stalltrace_conversations::Conversation) {
        self.add_attempt(
            &c.client.host,
            &c.server,
            u64::from(c.syn_count),
            (c.first.ts, c.last.ts),
        );
    }

    /// One failed attempt: its source, its target, its SYNs, its span.
    pub fn add_attempt(
        &mut self,
        source: &Host,
        target: &stalltrace_decode::Endpoint,
        syns: u64,
        (first, last): (stalltrace_decode::Timestamp, stalltrace_decode::Timestamp),
    ) {
        self.attempts += 1;
        self.syns += syns;
        self.sources.add(source.clone());
        self.targets.add((target.host.clone(), target.port));
        if self.distinct_sources.len() < DISTINCT_CAP {
            self.distinct_sources.insert(source.clone());
        }
        if self.distinct_hosts.len() < DISTINCT_CAP {
            self.distinct_hosts.insert(target.host.clone());
        }
        self.distinct_ports.insert(target.port);
        self.first = Some(self.first.map_or(first, |f| f.min(first)));
        self.last = Some(self.last.map_or(last, |l| l.max(last)));
    }

    /// Few sources, many ports: a scan. Otherwise a flood.
    pub fn is_scan(&self) -> bool {
        self.distinct_sources.len() <= 3 && self.distinct_ports.len() >= 20
    }

    /// The distinct sources reached the cap: there were at least as many.
    pub fn sources_capped(&self) -> bool {
        self.distinct_sources.len() >= DISTINCT_CAP
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_saving_keeps_the_heavy_hitters_in_bounded_memory() {
        let mut t = TopK::new(8);
        for i in 0..10_000u32 {
            t.add(i % 1000);
            if i % 3 == 0 {
                t.add(7_777);
            }
        }
        assert!(t.counts.len() <= 8);
        assert_eq!(t.top(1)[0].0, 7_777);
    }
}
