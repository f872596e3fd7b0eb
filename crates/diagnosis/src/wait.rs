//! The symptom most rules start from: a wait in a conversation, where the
//! client could expect the server to speak and it did not (yet).

use stalltrace_conversations::{Conversation, PacketRef, Protocol, Side};
use stalltrace_decode::TimeDelta;

use crate::facts::{Service, Speaker};
use crate::finding::WaitKind;

#[derive(Clone, Debug)]
pub(crate) struct Wait {
    pub kind: WaitKind,
    /// When the client could expect the server to speak.
    pub start: PacketRef,
    /// When the server spoke (or the client gave up).
    pub end: PacketRef,
    pub end_len: u32,
    /// The copy of the request that got through, when it was sent again.
    pub request_copy: Option<PacketRef>,
    /// The answer's first bytes (responses only).
    pub response_start: [u8; 8],
    /// The client sent the same-sized request again right after the
    /// answer (responses only): a login tried anew.
    pub retried: bool,
    /// The answer had the size of an earlier answer of the server.
    pub repeated_answer: bool,
}

impl Wait {
    pub fn cost(&self) -> TimeDelta {
        self.end.ts - self.start.ts
    }
}

/// The waits in one conversation that may be worth judging.
pub(crate) fn waits(c: &Conversation, threshold: TimeDelta) -> Vec<Wait> {
    let mut out = Vec::new();
    if c.protocol != Protocol::Tcp {
        return out;
    }
    let service = Service::of(c);
    // A capture that began mid-connection saw no handshake: its roles come
    // from the ports, and only answers can be timed (no greeting, no
    // login phase to tell from a session). A request/response service on
    // its own well-known port, the client on an ephemeral one, is clear
    // enough; SSH, whose login cannot be told from its session there, is
    // left out.
    let Some(start) = c.established() else {
        let clear = service.is_some_and(|s| {
            s.ports.contains(&c.server.port) && s.name != "SSH" && s.name != "IRC"
        }) && c.client.port >= 1024;
        if clear {
            out.extend(responses(c, service, threshold));
        }
        return out;
    };
    let server_payload = c.first_payload[Side::Server.index()];
    let client_payload = c.first_payload[Side::Client.index()];
    let server_first = service.is_some_and(|s| s.first == Speaker::Server);
    // In a client-first protocol (HTTP, TLS) the server owes no greeting:
    // its speaking first is no late greeting, whatever it is.
    let client_first = service.is_some_and(|s| s.first == Speaker::Client);
    // And one that did speak first does not follow that protocol (two
    // people with netcat, a test harness): nothing it owes can be read.
    if client_first
        && server_payload
            .is_some_and(|g| client_payload.is_none_or(|cp| g.packet.ts < cp.packet.ts))
    {
        return out;
    }
    // A fast greeting is only worth a look when the server made a lookup
    // meanwhile (one that cost little): the only callbacks a fast greeting is
    // reported with are ident (to the client's host) and DNS.
    let worth = |end: PacketRef| end.ts - start.ts >= threshold || c.server_lookups_meanwhile > 0;
    match server_payload {
        Some(g)
            if !client_first
                && client_payload.is_none_or(|cp| g.packet.ts <= cp.packet.ts)
                && worth(g.packet) =>
        {
            out.push(Wait {
                kind: WaitKind::Greeting,
                start,
                end: g.packet,
                end_len: g.len,
                request_copy: None,
                response_start: [0; 8],
                retried: false,
                repeated_answer: false,
            });
        }
        None if server_first && client_payload.is_none() => {
            // The client left without a greeting.
            let gave_up = c.fins[Side::Client.index()]
                .or(c.rst.filter(|(s, _)| *s == Side::Client).map(|(_, p)| p));
            if let Some(end) = gave_up {
                out.push(Wait {
                    kind: WaitKind::NoGreeting,
                    start,
                    end,
                    end_len: 0,
                    request_copy: None,
                    response_start: [0; 8],
                    retried: false,
                    repeated_answer: false,
                });
            }
        }
        _ => {}
    }
    out.extend(responses(c, service, threshold));
    out
}

/// The server's late answers, where its protocol owes them.
fn responses(c: &Conversation, service: Option<&Service>, threshold: TimeDelta) -> Vec<Wait> {
    let mut out = Vec::new();
    let client_payload = c.first_payload[Side::Client.index()];
    // A late answer is the server's only where the protocol owes one: a
    // service known by its port or its first bytes. Of an unknown protocol
    // (chat, a DCC transfer, a control system's unsolicited reports, a
    // shell) the capture cannot say the server was asked anything.
    let owes_answers = service.is_some();
    // An HTTP connection that became a tunnel (CONNECT, or 101 Switching
    // Protocols to a WebSocket) owes HTTP answers only to its first
    // request; after it, it carries another protocol, often interactive.
    let tunnel = service.is_some_and(|s| s.name == "HTTP") && {
        let client = c.first_head[Side::Client.index()].as_bytes();
        let server = c.first_head[Side::Server.index()].as_bytes();
        client.starts_with(b"CONNECT ")
            || server.starts_with(b"HTTP/1.1 101")
            || server.starts_with(b"HTTP/1.0 101")
    };
    let first_request = client_payload.map(|p| p.packet);
    // SSH owes answers in its login (version, key exchange, the service
    // and authentication requests: about a dozen client segments); after
    // it the session is interactive, and a late answer is a person's
    // command running, not a server's wait.
    let ssh = service.is_some_and(|s| s.name == "SSH");
    let irc = service.is_some_and(|s| s.name == "IRC");
    // Every slow answer, not only the slowest: a second slow request in
    // the same connection is a wait of its own.
    let owed = |t: &&stalltrace_conversations::Turn| {
        if !owes_answers || t.responder != Side::Server || t.wait() < threshold {
            return false;
        }
        if tunnel && Some(t.request) != first_request {
            return false;
        }
        if ssh && t.nth_request > SSH_LOGIN_SEGMENTS {
            return false;
        }
        if tls_alert(&t.request_start) || typed_over_tls(t) {
            return false;
        }
        !irc || irc_registration(&t.request_start, t.nth_request)
    };
    for t in c.longest_turns.iter().filter(owed) {
        out.push(Wait {
            kind: WaitKind::Response,
            start: t.request,
            end: t.response,
            end_len: 0,
            request_copy: t.request_copy,
            response_start: t.response_start,
            retried: t.retried,
            repeated_answer: t.repeated_answer,
        });
    }
    out
}

/// IRC's registration commands, the only ones a server must answer
/// (RFC 2812 3.1; IRCv3's CAP END closes the negotiation), and the PONG
/// to the server's registration PING among the first few lines: the 001
/// welcome follows its lookups of the client (ident, DNS). Chat and DCC
/// after it are people.
fn irc_registration(start: &[u8; 4], nth: u32) -> bool {
    matches!(start, b"CAP " | b"NICK" | b"USER" | b"PASS") || (start == b"PONG" && nth <= 8)
}

/// A TLS alert record (content type 21): a close_notify asks for
/// nothing; the peer's own close_notify and FIN are no answer owed
/// (Zeek's tls/ssl.v3.pcap: 3 s between the two, "a late answer").
fn tls_alert(start: &[u8; 4]) -> bool {
    start[0] == 0x15 && start[1] == 0x03
}

/// A person at `openssl s_client`: the first application record, small,
/// sent seconds after the handshake ended. A program sends its first
/// request at once (an HTTP/2 client its preface with it); what answers
/// a person typing is another person, or a test server, not a wait
/// (Zeek's tls/tls13_psk_succesfull.pcap: 25, 28, 24-byte records typed
/// 1.5 s apart).
fn typed_over_tls(t: &stalltrace_conversations::Turn) -> bool {
    t.request_start[0] == 0x17
        && t.request_start[1] == 0x03
        && t.nth_request <= 4
        && t.request_len <= 100
        && t.think.is_some_and(|d| d >= TimeDelta::from_secs(1))
}

/// The client segments of an SSH login: the version, KEXINIT, the key
/// exchange, NEWKEYS, the service request and a few authentication
/// attempts (OpenSSH's MaxAuthTries is 6). Beyond it the session is
/// interactive.
const SSH_LOGIN_SEGMENTS: u32 = 16;
