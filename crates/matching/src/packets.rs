use stalltrace_conversations::{Conversation, PacketBrief, Protocol};

/// The same connection at two points: the client's ISN and the server's
/// port agree, and so do the server's ISNs where both were seen. Over UDP,
/// the same DNS exchange: the server's port, the first query's
/// transaction id and question agree (a NAT rewrites the client's address
/// and port, never the query).
pub fn same_connection(a: &Conversation, b: &Conversation) -> bool {
    if a.protocol == Protocol::Udp && b.protocol == Protocol::Udp {
        return same_dns_exchange(a, b);
    }
    a.protocol == Protocol::Tcp
        && b.protocol == Protocol::Tcp
        && a.client_isn.is_some()
        && a.client_isn == b.client_isn
        && a.server.port == b.server.port
        && (a.server_isn.is_none() || b.server_isn.is_none() || a.server_isn == b.server_isn)
}

fn same_dns_exchange(a: &Conversation, b: &Conversation) -> bool {
    let first = |c: &Conversation| {
        c.dns
            .as_deref()
            .and_then(|d| d.queries.first())
            .map(|q| (q.id, q.question.clone()))
    };
    a.server.port == b.server.port
        && first(a).is_some_and(|x| x.1.is_some() && Some(&x) == first(b).as_ref())
}

fn same_packet(x: &PacketBrief, y: &PacketBrief) -> bool {
    x.from == y.from
        && x.flags == y.flags
        && x.len == y.len
        && (x.rel_seq.is_none() || y.rel_seq.is_none() || x.rel_seq == y.rel_seq)
        && (x.rel_ack.is_none() || y.rel_ack.is_none() || x.rel_ack == y.rel_ack)
        && (x.digest == 0 || y.digest == 0 || x.digest == y.digest)
}

/// Pairs the logged packets of one connection seen at two points, in
/// order: each packet of `a` with the next unused like packet of `b`.
/// Unpaired packets stand alone.
pub fn match_packets(
    a: &Conversation,
    b: &Conversation,
) -> Vec<(Option<PacketBrief>, Option<PacketBrief>)> {
    let mut out = Vec::new();
    let mut j = 0;
    for x in &a.log {
        match b.log[j..].iter().position(|y| same_packet(x, y)) {
            Some(k) => {
                for y in &b.log[j..j + k] {
                    out.push((None, Some(*y)));
                }
                out.push((Some(*x), Some(b.log[j + k])));
                j += k + 1;
            }
            None => out.push((Some(*x), None)),
        }
    }
    for y in &b.log[j..] {
        out.push((None, Some(*y)));
    }
    out
}
