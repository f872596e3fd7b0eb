//! UDP datagrams (DNS lookups, exchanges) and the ICMP errors about a
//! conversation.

use super::*;

impl Tracker {
    pub(super) fn udp(&mut self, p: &Packet) {
        let Transport::Udp(u) = &p.transport else {
            return;
        };
        let moment = self.moment();
        let key = Key::between(IPPROTO_UDP, p, u.src_port, u.dst_port);
        let (src, dst) = key.ends(p, u.src_port);
        let at = PacketRef {
            number: p.meta.number,
            ts: p.meta.ts,
        };
        let l = match self.live.get_mut(&key) {
            Some(l) => l,
            None => {
                let (client, server) = guess_roles(src, dst);
                let l = self.start(key.clone(), Protocol::Udp, client, server, p);
                l.conv.saw_open = l.conv.client == *src;
                self.live.get_mut(&key).expect("just inserted")
            }
        };
        let side = if l.conv.client == *src {
            Side::Client
        } else {
            Side::Server
        };
        let s = side.index();
        if side == Side::Server {
            answered(l, true, moment, &mut self.events);
        }
        let c = &mut l.conv;
        note_gap(c, at);
        c.last = at;
        c.packets[s] += 1;
        c.payload_bytes[s] += u.payload_len as u64;
        if c.log.len() < MAX_LOGGED {
            grow_log(&mut c.log, &mut self.spare_logs);
            c.log.push(PacketBrief {
                packet: at,
                from: side,
                flags: 0,
                rel_seq: None,
                rel_ack: None,
                len: u.payload_len,
                ip_id: p.ip.id,
                ttl: p.ip.ttl,
                digest: u.payload_digest,
            });
        }
        if side == Side::Client && c.packets[Side::Server.index()] == 0 {
            c.syn_count += 1;
            if c.syns.len() < MAX_LISTED {
                c.syns.push(at);
            }
        }
        if let Some(m) = &u.dns {
            c.dns
                .get_or_insert_with(Default::default)
                .note(m, at, side == Side::Client);
        }
        l.note_payload(
            side,
            Payload {
                packet: at,
                len: u.payload_len,
            },
            &u.head,
        );
    }

    pub(super) fn icmp_error(&mut self, p: &Packet, i: &IcmpMessage) {
        let Some(q) = &i.quoted else {
            self.stats.icmp_unmatched += 1;
            return;
        };
        let proto = q.protocol;
        // The error travels back to the original sender, so a quote without
        // a source (printed captures) takes it from the ICMP's destination.
        let q_src_host = q.src.clone().unwrap_or_else(|| p.dst.clone());
        let key = match (q.src_port, q.dst_port) {
            (Some(sp), Some(dp)) => {
                let k = Key::new(
                    proto,
                    p.vlan,
                    &Endpoint::new(q_src_host.clone(), sp),
                    &Endpoint::new(q.dst.clone(), dp),
                );
                self.live.contains_key(&k).then_some(k)
            }
            (None, Some(dp)) => {
                self.find_by_destination(proto, &q_src_host, &Endpoint::new(q.dst.clone(), dp))
            }
            _ => None,
        };
        let Some(key) = key else {
            self.stats.icmp_unmatched += 1;
            return;
        };
        let at = PacketRef {
            number: p.meta.number,
            ts: p.meta.ts,
        };
        let l = self.live.get_mut(&key).expect("found");
        let about = if l.conv.client.host == q_src_host {
            Side::Client
        } else {
            Side::Server
        };
        l.conv.last = at;
        if l.conv.icmp_errors.len() < MAX_LISTED {
            l.conv.icmp_errors.push(IcmpError {
                packet: at,
                from: p.src.clone(),
                reason: i.reason(),
                about,
            });
        }
    }

    /// The most recent live conversation from `src_host` to `dst`.
    pub(super) fn find_by_destination(
        &self,
        proto: u8,
        src_host: &Host,
        dst: &Endpoint,
    ) -> Option<Key> {
        self.live
            .iter()
            .filter(|(k, l)| {
                k.proto == proto
                    && ((l.conv.client.host == *src_host && l.conv.server == *dst)
                        || (l.conv.server.host == *src_host && l.conv.client == *dst))
            })
            .max_by_key(|(_, l)| l.conv.last.ts)
            .map(|(k, _)| k.clone())
    }
}
