//! One timeline of a conversation (and its callback) across capture
//! points: a row per packet, a column per point, on the reference point's
//! clock; and the delay of each hop read from it.

/// Row lookups only, never iterated: a fast hasher, the output is unaffected.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

use stalltrace_conversations::{Conversation, PacketBrief, Side};
use stalltrace_decode::{TcpFlags, TimeDelta};
use stalltrace_matching::Seen;

use super::Ctx;
use crate::finding::*;

/// A packet as its sender sent it: side, flags, length, sequence, ack,
/// and for datagrams (no sequence) the payload's digest.
type SentKey = (Side, u8, u32, Option<u32>, Option<u32>, u64);
/// A row: subject, side, flags, length, ack, and which such packet.
type RowKey = (u8, Side, u8, u32, u32, usize);

fn kind_of(b: &PacketBrief) -> PacketKind {
    let f = TcpFlags(b.flags);
    if f.syn() && f.ack() {
        PacketKind::SynAck
    } else if f.syn() {
        PacketKind::Syn
    } else if f.rst() {
        PacketKind::Rst
    } else if f.fin() {
        PacketKind::Fin { bytes: b.len }
    } else if b.len > 0 {
        PacketKind::Data { bytes: b.len }
    } else {
        PacketKind::Ack
    }
}

pub(super) fn build(
    ctx: &Ctx,
    subject: &[Seen],
    callback_conv: Option<&Conversation>,
    callback: &[Seen],
    cause: Option<&Callback>,
) -> Timeline {
    let mut cols: Vec<u32> = subject.iter().chain(callback).map(|s| s.point).collect();
    cols.sort_by_key(|&p| ctx.pos(p));
    cols.dedup();
    let col = |p: u32| cols.iter().position(|&q| q == p).expect("column");
    let mut rows: Vec<TimelineRow> = Vec::new();
    let mut keys: HashMap<RowKey, usize> = HashMap::default();
    let cb_subject = Subject::Callback {
        kind: cause.map(|c| c.kind),
    };
    for (kind, list) in [(0u8, subject), (1u8, callback)] {
        for s in list {
            let mut seen_here: HashMap<(Side, u8, u32, u32), usize> = HashMap::default();
            // What this side sent before: data by its sequence range, the
            // rest by flags, sequence and acknowledgment. Only a packet
            // sent before is "again"; the next segment of the same size is
            // new data.
            let mut sent: HashMap<SentKey, ()> = HashMap::default();
            for b in &s.log {
                let base = (b.from, b.flags, b.len, b.rel_ack.unwrap_or(u32::MAX));
                let n = seen_here.entry(base).or_default();
                let key = (kind, base.0, base.1, base.2, base.3, *n);
                *n += 1;
                let what_sent = if b.len > 0 {
                    // A datagram is sent again only with the same payload
                    // (the AAAA query beside the A is not the A again).
                    let digest = if b.rel_seq.is_none() { b.digest } else { 0 };
                    (b.from, 0, b.len, b.rel_seq, None, digest)
                } else {
                    (b.from, b.flags, 0, b.rel_seq, b.rel_ack, 0)
                };
                let again = sent.insert(what_sent, ()).is_some();
                let r = *keys.entry(key).or_insert_with(|| {
                    rows.push(TimelineRow {
                        subject: if kind == 0 {
                            Subject::Connection
                        } else {
                            cb_subject
                        },
                        sender: match b.from {
                            Side::Client => Sender::Client,
                            Side::Server => Sender::Server,
                        },
                        packet: kind_of(b),
                        again,
                        times: vec![None; cols.len()],
                        packets: vec![None; cols.len()],
                        lost: false,
                    });
                    rows.len() - 1
                });
                let c = col(s.point);
                if rows[r].times[c].is_none() {
                    rows[r].times[c] = Some(b.packet.ts.saturating_add(ctx.offset(s.point)));
                    rows[r].packets[c] = Some(b.packet.number);
                }
            }
        }
    }
    if let Some(k) = callback_conv {
        for e in &k.icmp_errors {
            let mut row = TimelineRow {
                subject: cb_subject,
                sender: Sender::Icmp {
                    from: e.from.clone(),
                    reason: e.reason,
                },
                packet: PacketKind::Icmp,
                again: false,
                times: vec![None; cols.len()],
                packets: vec![None; cols.len()],
                lost: false,
            };
            let c = col(k.point);
            row.times[c] = Some(e.packet.ts.saturating_add(ctx.offset(k.point)));
            row.packets[c] = Some(e.packet.number);
            rows.push(row);
        }
    }
    rows.sort_by_key(|r| r.times.iter().flatten().min().copied());
    mark_lost_handshake_acks(&mut rows);
    let mut ends = vec![None; cols.len()];
    for s in subject {
        ends[col(s.point)].get_or_insert_with(|| ColumnEnds {
            client: s.client.clone(),
            server: s.server.clone(),
        });
    }
    Timeline {
        points: cols.iter().map(|&p| ctx.name(p)).collect(),
        offsets: cols.iter().map(|&p| ctx.offset(p)).collect(),
        ends,
        rows,
    }
}

/// The server sent its SYN-ACK again: the client's handshake ACK before
/// it never reached the server, wherever the capture last saw it (what
/// `syn-ack-retransmitted` says in words).
fn mark_lost_handshake_acks(rows: &mut [TimelineRow]) {
    let is_again_syn_ack = |r: &TimelineRow| {
        r.subject == Subject::Connection
            && r.sender == Sender::Server
            && r.packet == PacketKind::SynAck
            && r.again
    };
    for i in 0..rows.len() {
        if !is_again_syn_ack(&rows[i]) {
            continue;
        }
        let ack = rows[..i].iter().rposition(|r| {
            r.subject == Subject::Connection
                && r.sender == Sender::Client
                && r.packet == PacketKind::Ack
        });
        // Only the ACK that answered the SYN-ACK before this one.
        let syn_ack = rows[..i].iter().rposition(|r| {
            r.subject == Subject::Connection
                && r.sender == Sender::Server
                && r.packet == PacketKind::SynAck
        });
        if let (Some(a), Some(s)) = (ack, syn_ack) {
            if a > s {
                rows[a].lost = true;
            }
        }
    }
}

/// Median time between neighbouring points, per direction, for the
/// subject connection's packets.
pub(super) fn hop_delays(t: &Timeline) -> Vec<PathFact> {
    let mut out = Vec::new();
    for (a, b) in (0..t.points.len()).zip(1..t.points.len()) {
        let mut toward_server = Vec::new();
        let mut toward_client = Vec::new();
        for r in t.rows.iter().filter(|r| r.subject == Subject::Connection) {
            let (Some(ta), Some(tb)) = (r.times[a], r.times[b]) else {
                continue;
            };
            match r.sender {
                Sender::Client => toward_server.push((tb - ta).nanos()),
                Sender::Server => toward_client.push((ta - tb).nanos()),
                Sender::Icmp { .. } => {}
            }
        }
        let median = |v: &mut Vec<i64>| -> Option<TimeDelta> {
            v.sort();
            v.get(v.len() / 2).map(|&n| TimeDelta::from_nanos(n))
        };
        let (Some(ds), Some(dc)) = (median(&mut toward_server), median(&mut toward_client)) else {
            continue;
        };
        out.push(PathFact::HopDelay {
            from: t.points[a].clone(),
            to: t.points[b].clone(),
            toward_server: ds,
            toward_client: dc,
        });
    }
    out
}
