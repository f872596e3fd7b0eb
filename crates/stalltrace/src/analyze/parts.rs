//! The analysing side with packet tracking split across threads
//! (`--threads N`, N ≥ 3): one thread reads and decodes, N − 2 track, and
//! this one joins what they found and diagnoses.
//!
//! Each packet goes to the part its two hosts fall in
//! ([`stalltrace_conversations::partition`]): a conversation, its ICMP
//! errors and the callbacks between its hosts are tracked by one part.
//! What spans a host's conversations with others (callbacks to a third
//! host, DNS lookups, SYN-ACKs to others while one client retries, which
//! conversations a host serves) is joined here: every part reports the
//! moments those facts depend on ([`HostEvent`]s), sorted here into the
//! order one tracker would have met them, and applied to each point's
//! [`stalltrace_conversations::HostLedger`]. Matching across points and
//! the diagnosis run here on the finished conversations, as with one
//! thread.
//!
//! Why the report is the same byte for byte for any N: each batch of the
//! reading side goes to every part whole; a part tracks its packets with
//! the point's clock (the time the point as a whole has reached, so an
//! idle conversation ends at the same time in a part as in one tracker)
//! and at the end of the batch moves its trackers to the point's clock.
//! So the conversations that finish in a batch are the same whatever the
//! split, and they are handed on in the order they began; the host events
//! are ordered by [`HostEvent::order`]. One exception: past
//! `--max-live` live conversations, the one evicted is the longest idle of
//! its part, not of the point.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::Arc;

use stalltrace_capture::CaptureError;
use stalltrace_conversations::{
    partition, Clock, HostEvent, PartReport, Tracker, TrackerConfig, TrackerStats,
};
use stalltrace_decode::Timestamp;

use super::analyser::{Analyser, Ending};
use super::inputs::Source;
use super::merge::{Item, Reader};
use super::threads::spawn_reader;

/// Batches a part may run ahead of the joining side.
const AHEAD: usize = 3;

/// What every part reads of a batch.
struct Batch {
    items: Vec<Item>,
    steps: Vec<Step>,
    /// Each live point's clock at the end of the batch.
    clocks: Vec<(usize, Timestamp)>,
}

enum Step {
    /// A capture point begins.
    Point(usize),
    /// `items[at]` is a packet for part `part` of point `point`.
    Packet {
        at: usize,
        part: usize,
        point: usize,
        clock: Clock,
    },
    /// These points' inputs ended.
    Close(Vec<usize>),
}

/// Runs the reading side into `parts` tracking threads and joins them here.
pub(super) fn run(
    reader: Reader,
    an: &mut Analyser,
    parts: usize,
) -> (Vec<CaptureError>, Vec<Source>) {
    std::thread::scope(|scope| {
        let (full_rx, empty_tx, reading) = spawn_reader(scope, reader);
        let mut to_parts = Vec::new();
        let mut from_parts = Vec::new();
        for k in 0..parts {
            let (tx, rx) = sync_channel::<Arc<Batch>>(AHEAD + 1);
            let (out_tx, out_rx) = channel::<PartReport>();
            let cfg = an.opts.tracker.clone();
            std::thread::Builder::new()
                .name(format!("part-{k}"))
                .spawn_scoped(scope, move || track(k, &cfg, rx, out_tx))
                .expect("a thread can be started");
            to_parts.push(tx);
            from_parts.push(out_rx);
        }
        let mut join = Join {
            clocks: Vec::new(),
            pending: VecDeque::new(),
            from_parts,
            empty_tx,
        };
        for (mut items, read) in full_rx {
            let (steps, clocks, endings) = join.steps(an, &mut items, parts);
            let batch = Arc::new(Batch {
                items,
                steps,
                clocks,
            });
            for tx in &to_parts {
                // A part gone means it panicked: its join below says so.
                let _ = tx.send(Arc::clone(&batch));
            }
            join.pending.push_back((batch, endings, read));
            if join.pending.len() > AHEAD {
                join.oldest(an);
            }
        }
        while !join.pending.is_empty() {
            join.oldest(an);
        }
        drop(to_parts);
        match reading.join() {
            Ok(errors) => errors,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The joining side's state between batches.
struct Join {
    /// Each point's clock: the latest time it has seen.
    clocks: Vec<Timestamp>,
    pending: VecDeque<(Arc<Batch>, Vec<Ending>, u64)>,
    from_parts: Vec<Receiver<PartReport>>,
    /// Emptied batches go back to the reading side.
    empty_tx: Sender<Vec<Item>>,
}

impl Join {
    /// What the parts are to do with a batch; the points that begin are
    /// added here, the inputs that end taken out.
    fn steps(
        &mut self,
        an: &mut Analyser,
        items: &mut [Item],
        parts: usize,
    ) -> (Vec<Step>, Vec<(usize, Timestamp)>, Vec<Ending>) {
        let mut steps = Vec::with_capacity(items.len());
        let mut endings = Vec::new();
        let mut touched = Vec::new();
        for (at, item) in items.iter_mut().enumerate() {
            match item {
                Item::NewPoint(summary) => {
                    let pi = an.new_point(*std::mem::take(summary), false);
                    self.clocks.push(Timestamp::ZERO);
                    steps.push(Step::Point(pi));
                }
                Item::Packet {
                    point,
                    packet,
                    duplicate,
                } => {
                    let pi = *point;
                    let ts = packet.meta.ts;
                    let seq = an.saw(pi, ts);
                    if *duplicate {
                        continue;
                    }
                    let went_back = ts < self.clocks[pi];
                    self.clocks[pi] = self.clocks[pi].max(ts);
                    if !touched.contains(&pi) {
                        touched.push(pi);
                    }
                    steps.push(Step::Packet {
                        at,
                        part: (partition(packet) % parts as u64) as usize,
                        point: pi,
                        clock: Clock {
                            seq,
                            now: self.clocks[pi],
                            went_back,
                        },
                    });
                }
                Item::Closed(c) => {
                    let c = *std::mem::take(c);
                    steps.push(Step::Close(c.points.clone()));
                    endings.push((c, Vec::new()));
                }
            }
        }
        let clocks = touched
            .into_iter()
            .map(|pi| (pi, self.clocks[pi]))
            .collect();
        (steps, clocks, endings)
    }

    /// Joins what every part found in the oldest batch still out.
    fn oldest(&mut self, an: &mut Analyser) {
        let (batch, endings, read) = self.pending.pop_front().expect("a batch is out");
        // A part gone means it panicked; its thread's join re-raises it.
        let outs = self.from_parts.iter().filter_map(|rx| rx.recv().ok());
        join(an, outs, endings, read);
        // Every part has let go of the batch by now: its items go back to
        // the reading side.
        if let Ok(mut b) = Arc::try_unwrap(batch) {
            b.items.clear();
            let _ = self.empty_tx.send(b.items);
        }
    }
}

/// Joins what every part found in one batch, in the parts' order, and
/// ends the batch: the hosts' events are applied to their points' ledgers
/// in the order one tracker would have met them, the conversations given
/// their facts and handed on, the inputs that ended summed up. Shared by
/// the threads here and the distributed job (`distributed.rs`).
pub(super) fn join(
    an: &mut Analyser,
    outs: impl IntoIterator<Item = PartReport>,
    mut endings: Vec<Ending>,
    read: u64,
) {
    let mut events: Vec<Vec<HostEvent>> = Vec::new();
    let mut done = Vec::new();
    let mut ended: HashMap<usize, TrackerStats> = HashMap::new();
    for out in outs {
        for (pi, e) in out.events {
            let pi = pi as usize;
            if events.len() <= pi {
                events.resize_with(pi + 1, Vec::new);
            }
            events[pi].push(e);
        }
        done.extend(out.done);
        for (pi, st) in out.ended {
            ended.entry(pi as usize).or_default().add(&st);
        }
    }
    let mut facts = HashMap::new();
    for (pi, mut evs) in events.into_iter().enumerate() {
        // Stable: the events of one packet keep their order.
        evs.sort_by_key(|e| e.order());
        let ledger = an.pipe.points[pi].ledger.as_mut().expect("a parted point");
        for e in &evs {
            if let Some((conv, f)) = ledger.apply(e) {
                facts.insert((pi as u32, conv), f);
            }
        }
    }
    for c in &mut done {
        if let Some(f) = facts.remove(&(c.point, c.id)) {
            f.apply(c);
        }
    }
    for (c, stats) in &mut endings {
        for &pi in &c.points {
            stats.push((pi, ended.remove(&pi).unwrap_or_default()));
        }
    }
    an.end_batch(done, endings, read);
}

/// One part: its share of every point's packets.
fn track(k: usize, cfg: &TrackerConfig, rx: Receiver<Arc<Batch>>, tx: Sender<PartReport>) {
    let mut trackers = PartTrackers::default();
    for batch in rx {
        let mut out = PartReport::default();
        for step in &batch.steps {
            match step {
                Step::Point(pi) => trackers.start(*pi, cfg),
                Step::Packet {
                    at,
                    part,
                    point,
                    clock,
                } if *part == k => {
                    if let (Item::Packet { packet, .. }, Some(t)) =
                        (&batch.items[*at], trackers.get(*point))
                    {
                        t.observe_at(packet, *clock);
                    }
                }
                Step::Packet { .. } => {}
                Step::Close(points) => {
                    for &pi in points {
                        trackers.close(pi, &mut out);
                    }
                }
            }
        }
        trackers.end_batch(batch.clocks.iter().copied(), &mut out);
        drop(batch);
        if tx.send(out).is_err() {
            return;
        }
    }
}

/// One part's trackers, one per capture point: how a part ends an input
/// and a batch, for the threads here and the distributed job's processes
/// (`distributed.rs`) alike.
#[derive(Default)]
pub(super) struct PartTrackers {
    trackers: Vec<Option<Tracker>>,
}

impl PartTrackers {
    /// Point `pi`'s first packet comes next.
    pub(super) fn start(&mut self, pi: usize, cfg: &TrackerConfig) {
        if self.trackers.len() <= pi {
            self.trackers.resize_with(pi + 1, || None);
        }
        self.trackers[pi] = Some(Tracker::part(pi as u32, cfg.clone()));
    }

    /// Point `pi`'s tracker, while its input goes on.
    pub(super) fn get(&mut self, pi: usize) -> Option<&mut Tracker> {
        self.trackers.get_mut(pi)?.as_mut()
    }

    /// Point `pi`'s input ended: its conversations all end.
    pub(super) fn close(&mut self, pi: usize, out: &mut PartReport) {
        if let Some(mut t) = self.trackers.get_mut(pi).and_then(Option::take) {
            let (done, events, stats) = t.finish_part();
            out.done.extend(done);
            out.events
                .extend(events.into_iter().map(|e| (pi as u32, e)));
            out.ended.push((pi as u32, stats));
        }
    }

    /// The batch ends: each point tracked in it moves to its clock, and
    /// what ended goes out.
    pub(super) fn end_batch(
        &mut self,
        clocks: impl IntoIterator<Item = (usize, Timestamp)>,
        out: &mut PartReport,
    ) {
        for (pi, now) in clocks {
            if let Some(t) = self.get(pi) {
                t.advance_to(now);
            }
        }
        for (pi, t) in self.trackers.iter_mut().enumerate() {
            if let Some(t) = t {
                out.events
                    .extend(t.take_events().into_iter().map(|e| (pi as u32, e)));
                out.done.extend(t.take_finished());
            }
        }
    }
}
