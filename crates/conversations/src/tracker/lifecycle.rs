//! A conversation's life in the table: started, closed, expired when
//! idle, and evicted early when the table is full.

use super::*;

impl Tracker {
    pub(super) fn expire(&mut self) {
        let now = self.now;
        // Closed conversations: the linger only catches stragglers, so they
        // are handed out when it is over, whatever came meanwhile.
        while self.closed_queue.front().is_some_and(|(d, _, _)| *d <= now) {
            let (due, key, generation) = self.closed_queue.pop_front().expect("front exists");
            if self
                .live
                .get(&key)
                .is_some_and(|l| l.generation == generation && l.closed)
            {
                let l = self.live.remove(&key).expect("present");
                self.finalize(l, Moment::Due(due));
            }
        }
        // Open ones: an entry is queued at creation; one still active when it
        // comes due is queued again at its real deadline, so that a
        // conversation ends exactly an idle timeout after its last packet
        // (the diagnosis counts on it). Each conversation has at most one
        // entry, so the queue follows the live set.
        while self.idle_queue.peek().is_some_and(|d| d.at <= now) {
            let Due {
                key, generation, ..
            } = self.idle_queue.pop().expect("top exists");
            let Some(l) = self.live.get(&key) else {
                continue;
            };
            if l.generation != generation || l.closed {
                continue;
            }
            let timeout = if l.conv.protocol == Protocol::Tcp
                && !l.conv.handshake_acks.is_empty()
                && l.conv.fins == [None, None]
            {
                self.cfg.established_idle_timeout
            } else {
                self.cfg.idle_timeout
            };
            let due = l.conv.last.ts.saturating_add(timeout);
            if due > now {
                self.idle_queue.push(Due {
                    at: due,
                    generation,
                    key,
                });
                continue;
            }
            let mut l = self.live.remove(&key).expect("present");
            l.conv.end = EndReason::Idle;
            self.finalize(l, Moment::Due(due));
        }
    }

    /// Entries of finished conversations stay in the idle queue until they
    /// come due (an idle timeout later), which on a busy link is many times
    /// the live conversations. Sweeping them out once they outnumber the
    /// live ones keeps the queue within twice the live set, at a cost of
    /// O(1) a conversation.
    pub(super) fn compact_idle_queue(&mut self) {
        if self.idle_queue.len() <= 2 * self.live.len() + 4096 {
            return;
        }
        let live = &self.live;
        self.idle_queue.retain(
            |Due {
                 key, generation, ..
             }| { live.get(key).is_some_and(|l| l.generation == *generation) },
        );
        if self.idle_queue.capacity() > 4 * self.idle_queue.len() + 4096 {
            self.idle_queue.shrink_to(2 * self.idle_queue.len() + 4096);
        }
    }

    pub(super) fn make_room(&mut self) {
        if self.live.len() < self.cfg.max_live {
            return;
        }
        // The idle queue's front is the conversation quiet the longest.
        while let Some(Due {
            key, generation, ..
        }) = self.idle_queue.pop()
        {
            if self
                .live
                .get(&key)
                .is_some_and(|l| l.generation == generation)
            {
                let mut l = self.live.remove(&key).expect("present");
                l.conv.end = EndReason::Evicted;
                self.stats.evicted += 1;
                self.finalize(l, self.moment());
                return;
            }
        }
    }

    pub(super) fn start(
        &mut self,
        key: Key,
        protocol: Protocol,
        client: Endpoint,
        server: Endpoint,
        p: &Packet,
    ) -> &mut Live {
        self.make_room();
        self.next_generation += 1;
        self.stats.conversations += 1;
        let at = PacketRef {
            number: p.meta.number,
            ts: p.meta.ts,
        };
        let conv = Conversation {
            // Provisional: the host ledger numbers conversations in the
            // order they began.
            id: self.seq,
            point: self.point,
            protocol,
            client,
            server,
            saw_open: false,
            vlan: p.vlan,
            tunnel: p.tunnel.as_deref().cloned(),
            first: at,
            last: at,
            syns: Vec::new(),
            syn_count: 0,
            client_isn: None,
            server_isn: None,
            syn_options: Default::default(),
            syn_ttl: None,
            syn_acks: Vec::new(),
            syn_ack_count: 0,
            handshake_acks: Vec::new(),
            first_payload: [None; 2],
            first_head: Default::default(),
            last_payload: [None; 2],
            packets: [0; 2],
            payload_bytes: [0; 2],
            retransmissions: [0; 2],
            longest_gap: None,
            longest_turns: Vec::new(),
            rst: None,
            rst_ttl: None,
            ttl: [None; 2],
            client_link: None,
            fins: [None; 2],
            icmp_errors: Vec::new(),
            end: EndReason::EndOfCapture,
            log: Vec::new(),
            opened_while_serving: false,
            server_opened_meanwhile: 0,
            server_lookups_meanwhile: 0,
            others_answered_meanwhile: 0,
            signals: Default::default(),
            dns: None,
        };
        // A query to a group (mDNS, LLMNR, SSDP) or a NetBIOS name
        // broadcast is answered from other addresses, to the group: no
        // callback whose answer this conversation could show, so none
        // (Zeek's traces: an sshd's mDNS PTR lookup "never answered";
        // erspan.pcap's NBNS broadcasts).
        // (A unicast NBNS query to the client is a callback like ident.)
        let directed_broadcast = matches!(conv.server.host, Host::V4(a) if a.octets()[3] == 255);
        let discovery = conv.server.host.is_group()
            || (conv.protocol == Protocol::Udp
                && matches!(conv.server.port, 137 | 138)
                && directed_broadcast);
        self.events.push(HostEvent {
            at: self.moment(),
            conv: conv.id,
            kind: HostEventKind::Start {
                client: conv.client.host.clone(),
                server: conv.server.host.clone(),
                server_port: conv.server.port,
                discovery,
                ts: conv.first.ts,
            },
        });
        self.idle_queue.push(Due {
            at: p.meta.ts.saturating_add(self.cfg.idle_timeout),
            generation: self.next_generation,
            key: key.clone(),
        });
        self.compact_idle_queue();
        self.live.entry(key).or_insert(Box::new(Live {
            conv,
            answered: false,
            spoke: false,
            generation: self.next_generation,
            next_seq: [None; 2],
            last_payload_side: None,
            closed: false,
            syn_ack_pending: false,
            signals: LiveSignals::default(),
            request_copy: None,
            payloads: [0; 2],
            open_turn: None,
            answer_lens: [0; 4],
            last_start: [[0; 4]; 2],
        }))
    }

    pub(super) fn close(&mut self, key: &Key) {
        if let Some(l) = self.live.get_mut(key) {
            if !l.closed {
                l.closed = true;
                self.closed_queue.push_back((
                    self.now.saturating_add(self.cfg.closed_linger),
                    key.clone(),
                    l.generation,
                ));
            }
        }
    }
}
