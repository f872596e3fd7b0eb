//! Scheduling, apart from the rules: what the diagnosis holds between a
//! conversation's end and the moment a wait can be judged.
//!
//! A wait is judged once every conversation its server opened during it
//! (a possible callback) has been handed over: with one capture point as
//! soon as the tracker says none is still going on, otherwise a resolve
//! delay of stream time later (the same connection must also have been
//! seen at the other points). Possible callbacks are kept by capture point
//! and opener, by start, so judging a wait looks only at its server's; they
//! are forgotten once no wait can still need them. Memory follows the
//! conversations in progress, not the capture's length.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use stalltrace_conversations::{Conversation, LiveView, SpareLog};
use stalltrace_decode::{Host, TimeDelta, Timestamp};

use crate::wait::Wait;

/// Waits by (end, arrival).
type WaitQueue = BTreeMap<(Timestamp, u64), (Conversation, Wait)>;

/// A possible callback, kept for waits judged later.
#[derive(Clone)]
struct Recent {
    arrival: u64,
    conv: Conversation,
}

#[derive(Clone)]
struct RecentKey {
    point: u32,
    opener: Host,
    first: Timestamp,
    last: Timestamp,
    arrival: u64,
}

#[derive(Clone, Default)]
pub(crate) struct Hold {
    /// Possible callbacks by capture point and opener (the waiting server),
    /// by start time.
    recent: HashMap<(u32, Host), BTreeMap<(Timestamp, u64), Recent>>,
    /// The same, in arrival order, to forget them oldest first.
    recent_order: VecDeque<RecentKey>,
    arrivals: u64,
    /// Waits to judge, per point and waiting server, by when they ended.
    pending: HashMap<(u32, Host), WaitQueue>,
    /// Start times of the pending waits' conversations (a multiset): no
    /// callback from then on may be forgotten.
    pending_starts: BTreeMap<Timestamp, u32>,
    /// Stream time per capture point: points are read one after another.
    watermarks: Vec<Timestamp>,
    /// Callbacks named in a judged wait, so that no rule tells them again
    /// as attempts of their own.
    claimed: HashSet<(u32, u64)>,
}

/// When waits come due and callbacks may go.
pub(crate) struct Timing<'a> {
    pub now: Timestamp,
    pub resolve_delay: TimeDelta,
    pub retain: TimeDelta,
    /// One capture point for certain: judge and forget as early as the
    /// live conversations allow.
    pub early: bool,
    pub live: Option<&'a dyn LiveView>,
}

impl Hold {
    /// Keeps a wait until its callbacks are in.
    pub fn keep_wait(&mut self, c: &Conversation, w: Wait) {
        self.arrivals += 1;
        *self.pending_starts.entry(c.first.ts).or_default() += 1;
        self.pending
            .entry((c.point, c.server.host.clone()))
            .or_default()
            .insert((w.end.ts, self.arrivals), (c.clone(), w));
    }

    /// Keeps a conversation that may be a callback. Only one opened by a
    /// host that was serving another can be; the others' packet logs go
    /// back to their tracker.
    pub fn keep_candidate(&mut self, mut c: Conversation) -> Option<SpareLog> {
        if !c.opened_while_serving {
            return Some(SpareLog::new(std::mem::take(&mut c.log)));
        }
        self.arrivals += 1;
        self.recent_order.push_back(RecentKey {
            point: c.point,
            opener: c.client.host.clone(),
            first: c.first.ts,
            last: c.last.ts,
            arrival: self.arrivals,
        });
        self.recent
            .entry((c.point, c.client.host.clone()))
            .or_default()
            .insert(
                (c.first.ts, self.arrivals),
                Recent {
                    arrival: self.arrivals,
                    conv: c,
                },
            );
        None
    }

    /// The conversations `opener` opened at `point` from `from` to `to`,
    /// with their arrival order.
    pub fn candidates(
        &self,
        point: u32,
        opener: &Host,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Iterator<Item = (u64, &Conversation)> {
        self.recent
            .get(&(point, opener.clone()))
            .into_iter()
            .flat_map(move |l| l.range((from, 0)..=(to, u64::MAX)))
            .map(|(_, r)| (r.arrival, &r.conv))
    }

    /// Moves stream time on at one point; returns the waits whose
    /// callbacks are all in, in the order they arrived (as a stream
    /// without the index would), or none when time did not move.
    pub fn due(&mut self, point: u32, t: &Timing) -> Option<Vec<(Conversation, Wait)>> {
        let i = point as usize;
        if self.watermarks.len() <= i {
            self.watermarks.resize(i + 1, Timestamp::ZERO);
        }
        if t.now <= self.watermarks[i] {
            return None;
        }
        self.watermarks[i] = t.now;
        let mut ready = Vec::new();
        let mut emptied = Vec::new();
        for ((p, waiter), queue) in self.pending.iter_mut() {
            if *p != point {
                continue;
            }
            // A wait that ended before the waiter's oldest callback still
            // going on began has seen all its callbacks end.
            let still_open = if t.early {
                t.live.and_then(|l| l.oldest_live_callback(waiter))
            } else {
                Some(Timestamp::ZERO)
            };
            while let Some(entry) = queue.first_entry() {
                let end = entry.key().0;
                let due = end.saturating_add(t.resolve_delay) < t.now;
                let all_in = still_open.is_none_or(|s| end < s);
                if !(due || all_in) {
                    break;
                }
                let ((_, arrival), cw) = entry.remove_entry();
                ready.push((arrival, cw));
            }
            if queue.is_empty() {
                emptied.push((*p, waiter.clone()));
            }
        }
        for k in emptied {
            self.pending.remove(&k);
        }
        ready.sort_by_key(|(arrival, _)| *arrival);
        Some(
            ready
                .into_iter()
                .map(|(_, (c, w))| {
                    self.unpend(c.first.ts);
                    (c, w)
                })
                .collect(),
        )
    }

    /// Forgets possible callbacks no wait can still need.
    pub fn forget(&mut self, point: u32, t: &Timing) {
        let oldest_pending = self.pending_starts.keys().next().copied();
        while let Some(front) = self.recent_order.front() {
            let front_now = self
                .watermarks
                .get(front.point as usize)
                .copied()
                .unwrap_or_default();
            let old = front.last.saturating_add(t.retain) < front_now;
            let needed = oldest_pending.is_some_and(|s| front.last >= s);
            // With one point: no conversation its opener serves began
            // before it, so no wait still to come can be explained by it.
            let moot = t.early
                && front.point == point
                && t.live
                    .and_then(|l| l.oldest_live_served(&front.opener))
                    .is_none_or(|s| s > front.first);
            if !(old || moot) || needed {
                break;
            }
            let k = self.recent_order.pop_front().expect("front exists");
            let by_opener = (k.point, k.opener);
            if let Some(list) = self.recent.get_mut(&by_opener) {
                list.remove(&(k.first, k.arrival));
                if list.is_empty() {
                    self.recent.remove(&by_opener);
                }
            }
        }
    }

    fn unpend(&mut self, first: Timestamp) {
        if let Some(n) = self.pending_starts.get_mut(&first) {
            *n -= 1;
            if *n == 0 {
                self.pending_starts.remove(&first);
            }
        }
    }

    /// Every wait still pending, in arrival order: the stream has ended.
    pub fn all(&mut self) -> Vec<(Conversation, Wait)> {
        let mut all: Vec<(u64, (Conversation, Wait))> = std::mem::take(&mut self.pending)
            .into_values()
            .flat_map(|q| q.into_iter().map(|((_, arrival), cw)| (arrival, cw)))
            .collect();
        all.sort_by_key(|(arrival, _)| *arrival);
        self.pending_starts.clear();
        all.into_iter().map(|(_, cw)| cw).collect()
    }

    pub fn claim(&mut self, point: u32, conv: u64) {
        self.claimed.insert((point, conv));
    }

    pub fn claimed(&self) -> &HashSet<(u32, u64)> {
        &self.claimed
    }

    /// Conversations held: waits not yet judged and possible callbacks.
    pub fn held(&self) -> usize {
        self.pending.values().map(|q| q.len()).sum::<usize>() + self.recent_order.len()
    }
}
