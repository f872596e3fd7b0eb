//! TCP segments: handshake, data, turns, and the signals they feed.

use super::*;

impl Tracker {
    pub(super) fn tcp(&mut self, p: &Packet) {
        let Transport::Tcp(t) = &p.transport else {
            return;
        };
        if t.flags.syn() && (t.flags.fin() || t.flags.rst()) {
            self.stats.odd_syns += 1;
            return;
        }
        let moment = self.moment();
        let key = Key::between(IPPROTO_TCP, p, t.src_port, t.dst_port);
        let (src, dst) = key.ends(p, t.src_port);
        let is_syn = t.flags.syn() && !t.flags.ack();
        let is_syn_ack = t.flags.syn() && t.flags.ack();

        // A new SYN on a finished conversation, or with another ISN, opens a
        // new one (port reuse).
        if is_syn {
            let reuse = self.live.get(&key).is_some_and(|l| {
                l.closed
                    || l.conv.client != *src
                    || (l.conv.client_isn.is_some()
                        && t.seq.is_some()
                        && l.conv.client_isn != t.seq)
            });
            if reuse {
                if let Some(l) = self.live.remove(&key) {
                    self.finalize(l, moment);
                }
            }
        }
        let at = PacketRef {
            number: p.meta.number,
            ts: p.meta.ts,
        };
        let l = match self.live.get_mut(&key) {
            Some(l) => l,
            None => {
                let (client, server) = if is_syn {
                    (src.clone(), dst.clone())
                } else if is_syn_ack {
                    (dst.clone(), src.clone())
                } else {
                    guess_roles(src, dst)
                };
                self.start(key.clone(), Protocol::Tcp, client, server, p);
                self.live.get_mut(&key).expect("just inserted")
            }
        };
        let side = if l.conv.client == *src {
            Side::Client
        } else {
            Side::Server
        };
        let s = side.index();
        if side == Side::Server && (is_syn_ack || t.payload_len > 0) {
            answered(l, t.payload_len > 0, moment, &mut self.events);
        }
        let c = &mut l.conv;
        let prev = c.last;
        note_gap(c, at);
        c.last = at;
        c.packets[s] += 1;
        if c.ttl[s].is_none() {
            c.ttl[s] = p.ip.ttl;
            if side == Side::Client {
                c.client_link = p.link_src;
            }
        }

        if is_syn && side == Side::Client {
            if c.syn_count == 0 {
                c.saw_open = true;
                c.client_isn = t.seq;
                c.syn_options = t.options;
                c.syn_ttl = p.ip.ttl;
                l.signals
                    .announce_mss(Side::Client, t.options.mss, &mut c.signals);
            }
            c.syn_count += 1;
            if c.syns.len() < MAX_LISTED {
                c.syns.push(at);
            }
            // Counted from the first resend: only a handshake that is
            // retried needs to know, and a map entry per SYN would cost
            // every connection.
            if c.syn_count == 2 && c.syn_ack_count == 0 {
                self.events.push(HostEvent {
                    at: moment,
                    conv: c.id,
                    kind: HostEventKind::Resent,
                });
            }
        } else if is_syn_ack && side == Side::Server {
            if c.syn_ack_count == 0 {
                self.events.push(HostEvent {
                    at: moment,
                    conv: c.id,
                    kind: HostEventKind::SynAck,
                });
                c.server_isn = t.seq;
                c.saw_open |= c.syn_count > 0;
                c.signals.rtt.upstream = c.syns.last().map(|syn| at.ts - syn.ts);
                l.signals
                    .announce_mss(Side::Server, t.options.mss, &mut c.signals);
            }
            c.syn_ack_count += 1;
            if c.syn_acks.len() < MAX_LISTED {
                c.syn_acks.push(at);
            }
            l.syn_ack_pending = true;
        } else if side == Side::Client && t.flags.ack() && !t.flags.syn() && l.syn_ack_pending {
            l.syn_ack_pending = false;
            if c.handshake_acks.is_empty() {
                c.signals.rtt.downstream = c.syn_acks.first().map(|sa| at.ts - sa.ts);
            }
            if c.handshake_acks.len() < MAX_LISTED {
                c.handshake_acks.push(at);
            }
        }

        if c.log.len() < MAX_LOGGED {
            grow_log(&mut c.log, &mut self.spare_logs);
            let (mine, theirs) = match side {
                Side::Client => (c.client_isn, c.server_isn),
                Side::Server => (c.server_isn, c.client_isn),
            };
            c.log.push(PacketBrief {
                packet: at,
                from: side,
                flags: t.flags.0,
                rel_seq: t.seq.zip(mine).map(|(s, i)| s.0.wrapping_sub(i.0)),
                rel_ack: t.ack.zip(theirs).map(|(a, i)| a.0.wrapping_sub(i.0)),
                len: t.payload_len,
                ip_id: p.ip.id,
                ttl: p.ip.ttl,
                digest: t.payload_digest,
            });
        }
        let mut retransmitted = false;
        if t.payload_len > 0 {
            let len = t.payload_len;
            retransmitted = match (t.seq, l.next_seq[s]) {
                (Some(seq), Some(next)) => seq.wrapping_add(len) <= next,
                _ => false,
            };
            if let Some(seq) = t.seq {
                let end = seq.wrapping_add(len);
                if l.next_seq[s].is_none_or(|n| end > n) {
                    l.next_seq[s] = Some(end);
                }
            }
            let c = &mut l.conv;
            if retransmitted {
                c.retransmissions[s] += 1;
                self.stats.retransmissions += 1;
                // A copy of the request still waiting for its answer.
                if l.last_payload_side == Some(side) {
                    l.request_copy = Some(at);
                }
            } else {
                c.payload_bytes[s] += len as u64;
                l.note_payload(side, Payload { packet: at, len }, &t.head);
            }
            // DNS over TCP: a copy resent is the same segment again.
            if let (Some(m), false) = (&t.dns, retransmitted) {
                l.conv
                    .dns
                    .get_or_insert_with(Default::default)
                    .note(m, at, side == Side::Client);
            }
        }
        l.signals.tcp(
            &Seg {
                at,
                side,
                seq: t.seq,
                ack: t.ack,
                len: t.payload_len,
                flags: t.flags,
                window: t.window,
                retransmitted,
            },
            prev,
            p.ip.ttl,
            l.conv.ttl,
            &mut l.conv.signals,
        );
        let c = &mut l.conv;
        if t.flags.fin() && c.fins[s].is_none() {
            c.fins[s] = Some(at);
        }
        let mut now_closed = false;
        if t.flags.rst() && c.rst.is_none() {
            c.rst = Some((side, at));
            c.rst_ttl = p.ip.ttl;
            c.end = EndReason::Rst;
            now_closed = true;
        } else if c.fins[0].is_some() && c.fins[1].is_some() && c.rst.is_none() {
            c.end = EndReason::Fin;
            now_closed = true;
        }
        if now_closed {
            self.close(&key);
        }
    }
}
