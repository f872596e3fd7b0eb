//! A capture generator for benchmarks and ground-truth tests: many
//! interleaved POP3-like sessions in time order, with the size mix of real
//! traffic (about 40 % pure ACKs, 40 % full-size segments), handshakes and
//! teardowns, spurious retransmissions (of data already acknowledged),
//! unanswered SYNs, sessions stalled behind an ident callback nobody
//! answers (or that is refused at once), requests lost twice before a copy
//! got through, clients that stop reading (a zero window), and commands
//! written in two pieces that wait for the server's delayed ACK (Nagle).
//! The same seed gives the same capture; [`Truth`] says what a diagnosis
//! must find.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use etherparse::PacketBuilder;
use stalltrace_decode::Timestamp;

use crate::Frame;

#[derive(Clone, Debug)]
pub struct GenConfig {
    pub sessions: u32,
    /// Sessions live at once, about.
    pub concurrency: u32,
    pub seed: u64,
    /// Every n-th session waits 5 s behind an unanswered ident callback.
    pub stalled_every: u32,
    /// Every n-th session's ident callback is refused with a RST.
    pub refused_every: u32,
    /// Every n-th session is a SYN nobody answers (3 tries).
    pub unanswered_every: u32,
    /// Every n-th data segment is sent twice, 200 ms apart, after the
    /// client acknowledged it (spurious: it costs nobody a wait).
    pub retransmit_every: u32,
    /// Every n-th session's request is lost twice: copies at +0, +0.2,
    /// +0.6 s, the last one answered.
    pub lost_request_every: u32,
    /// Every n-th session's client shuts its window for 1.5 s mid-answer.
    pub zero_window_every: u32,
    /// Every n-th session sends three commands in two pieces each, the
    /// second held 40 ms for the server's delayed ACK.
    pub nagle_every: u32,
    /// Full-size segments the server sends per session.
    pub segments: u32,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            sessions: 1000,
            concurrency: 200,
            seed: 1,
            stalled_every: 50,
            refused_every: 37,
            unanswered_every: 101,
            retransmit_every: 97,
            lost_request_every: 43,
            zero_window_every: 59,
            nagle_every: 67,
            segments: 16,
        }
    }
}

/// What the capture holds, by construction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Truth {
    pub sessions: u32,
    pub stalled: u32,
    pub refused: u32,
    pub unanswered: u32,
    /// Data segments sent again, spurious or not.
    pub retransmissions: u32,
    pub lost_requests: u32,
    pub zero_windows: u32,
    pub nagle: u32,
    pub frames: u64,
}

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const SERVER: [u8; 4] = [198, 51, 100, 25];
const MSS: usize = 1460;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

enum Kind {
    Normal,
    Stalled,
    Refused,
    Unanswered,
    LostRequest,
    ZeroWindow,
    Nagle,
}

/// The lost request's copies, from the first.
const LOST_COPIES_US: [i64; 3] = [0, 200_000, 600_000];
/// How long the zero-window client does not read, and when the server
/// probes its window.
const SHUT_US: i64 = 1_500_000;
const PROBES_US: [i64; 2] = [200_000, 600_000];
/// The server's delayed ACK (Linux's minimum).
const DELACK_US: i64 = 40_000;

/// One packet of a session's script, at an offset from its start.
struct Step {
    at_us: i64,
    frame: Vec<u8>,
}

fn tcp(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: Option<u32>,
    flags: &str,
    payload: &[u8],
) -> Vec<u8> {
    tcp_win(src, dst, seq, ack, flags, payload, 64_240)
}

fn tcp_win(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: Option<u32>,
    flags: &str,
    payload: &[u8],
    window: u16,
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(src.0, dst.0, 64)
        .tcp(src.1, dst.1, seq, window);
    let b = crate::tcp_flags(b, flags, ack);
    let mut v = Vec::with_capacity(54 + payload.len());
    b.write(&mut v, payload).expect("frame encodes");
    v
}

fn script(i: u32, kind: &Kind, cfg: &GenConfig, rng: &mut Rng, truth: &mut Truth) -> Vec<Step> {
    let client = [192, 0, 2, 1 + (i % 250) as u8];
    let cport = 20_000 + (i % 40_000) as u16;
    let c = (client, cport);
    let s = (SERVER, 110u16);
    let (isn_c, isn_s) = (rng.next() as u32, rng.next() as u32);
    let mut out = Vec::new();
    let mut step = |at_us: i64, frame: Vec<u8>| out.push(Step { at_us, frame });
    if let Kind::Unanswered = kind {
        // A closed service behind a dropping firewall: three tries.
        let s = (SERVER, 8080u16);
        for at in [0, 1_000_000, 3_000_000] {
            step(at, tcp(c, s, isn_c, None, "S", &[]));
        }
        return out;
    }
    let (c1, s1) = (isn_c.wrapping_add(1), isn_s.wrapping_add(1));
    step(0, tcp(c, s, isn_c, None, "S", &[]));
    step(300, tcp(s, c, isn_s, Some(c1), "S", &[]));
    step(600, tcp(c, s, c1, Some(s1), "", &[]));
    // The server's ident lookup, when the session has one.
    let mut t = 2_000i64;
    let ident_isn = rng.next() as u32;
    let ident = ((SERVER, 30_000 + (i % 30_000) as u16), (client, 113u16));
    match kind {
        Kind::Stalled => {
            for at in [0, 1_000_000, 3_000_000] {
                step(t + at, tcp(ident.0, ident.1, ident_isn, None, "S", &[]));
            }
            t += 5_000_000; // sendmail 8.10's Timeout.ident
        }
        Kind::Refused => {
            step(t, tcp(ident.0, ident.1, ident_isn, None, "S", &[]));
            step(
                t + 250,
                tcp(
                    ident.1,
                    ident.0,
                    0,
                    Some(ident_isn.wrapping_add(1)),
                    "R",
                    &[],
                ),
            );
            t += 1_000;
        }
        _ => t += 300,
    }
    let greeting = b"+OK POP3 server ready\r\n";
    step(t, tcp(s, c, s1, Some(c1), "P", greeting));
    let mut sseq = s1.wrapping_add(greeting.len() as u32);
    step(t + 200, tcp(c, s, c1, Some(sseq), "", &[]));
    let mut cseq = c1;
    if let Kind::Nagle = kind {
        // Each command in two writes: the second waits for the server's
        // delayed ACK of the first.
        for _ in 0..3 {
            t += 1_000;
            step(t, tcp(c, s, cseq, Some(sseq), "P", b"NO"));
            cseq = cseq.wrapping_add(2);
            step(t + DELACK_US, tcp(s, c, sseq, Some(cseq), "", &[]));
            t += DELACK_US + 50;
            step(t, tcp(c, s, cseq, Some(sseq), "P", b"OP\r\n"));
            cseq = cseq.wrapping_add(4);
            t += 150;
            step(t, tcp(s, c, sseq, Some(cseq), "P", b"+OK\r\n"));
            sseq = sseq.wrapping_add(5);
        }
        truth.nagle += 1;
    }
    let retr = b"RETR 1\r\n";
    t += 400;
    step(t, tcp(c, s, cseq, Some(sseq), "P", retr));
    if let Kind::LostRequest = kind {
        // The first two copies die on the way; the third is answered.
        for at in &LOST_COPIES_US[1..] {
            step(t + at, tcp(c, s, cseq, Some(sseq), "P", retr));
        }
        t += LOST_COPIES_US[2];
        truth.lost_requests += 1;
        truth.retransmissions += LOST_COPIES_US.len() as u32 - 1;
    }
    let cseq = cseq.wrapping_add(retr.len() as u32);
    let body = vec![b'm'; MSS];
    for k in 0..cfg.segments {
        t += 120;
        step(t, tcp(s, c, sseq, Some(cseq), "", &body));
        // Spurious: the client's ACK of it comes 60 us later, before the
        // copy (so never the fourth of a group, which is not acknowledged
        // at once).
        if truth.frames % u64::from(cfg.retransmit_every.max(1)) == 0 && k > 0 && k % 4 != 3 {
            step(t + 200_000, tcp(s, c, sseq, Some(cseq), "", &body));
            truth.retransmissions += 1;
        }
        truth.frames += 1;
        sseq = sseq.wrapping_add(MSS as u32);
        // The client acknowledges three segments in four: with the
        // handshake's and teardown's, about 40 % of all frames are pure
        // ACKs and 40 % full-size segments, as on a real link.
        if k % 4 != 3 {
            step(t + 60, tcp(c, s, cseq, Some(sseq), "", &[]));
        }
        if let (Kind::ZeroWindow, 8) = (kind, k) {
            // The client stops reading: its window shuts, the server
            // probes it, and it opens again 1.5 s later.
            let shut = |at: i64| (at, tcp_win(c, s, cseq, Some(sseq), "", &[], 0));
            let (at, f) = shut(t + 100);
            step(at, f);
            for p in PROBES_US {
                step(
                    t + 100 + p,
                    tcp(s, c, sseq.wrapping_sub(1), Some(cseq), "", &[]),
                );
                let (at, f) = shut(t + 150 + p);
                step(at, f);
            }
            t += 100 + SHUT_US;
            step(t, tcp(c, s, cseq, Some(sseq), "", &[]));
            truth.zero_windows += 1;
        }
    }
    t += 300_000;
    step(t, tcp(c, s, cseq, Some(sseq), "F", &[]));
    step(
        t + 300,
        tcp(s, c, sseq, Some(cseq.wrapping_add(1)), "F", &[]),
    );
    step(
        t + 600,
        tcp(
            c,
            s,
            cseq.wrapping_add(1),
            Some(sseq.wrapping_add(1)),
            "",
            &[],
        ),
    );
    out
}

/// The capture's packets, decoded and numbered from 1, for tests that
/// feed a tracker or a writer directly.
pub fn packets(cfg: &GenConfig) -> Vec<stalltrace_decode::Packet> {
    let mut out = Vec::new();
    generate(cfg, |f| {
        let n = out.len() as u64 + 1;
        out.push(f.decode(n));
    });
    out
}

/// Generates the capture frame by frame, in time order, into `sink`.
pub fn generate(cfg: &GenConfig, mut sink: impl FnMut(Frame)) -> Truth {
    let mut rng = Rng(cfg.seed | 1);
    let mut truth = Truth {
        sessions: cfg.sessions,
        ..Default::default()
    };
    let t0: i64 = 1_700_000_000_000_000_000;
    // Sessions last about 0.4 s (5 s when stalled): start them so that
    // about `concurrency` are live.
    let gap_us = (400_000 / i64::from(cfg.concurrency.max(1))).max(1);
    // (time, session, step index) of every session's next packet.
    let mut heap: BinaryHeap<Reverse<(i64, u32, usize)>> = BinaryHeap::new();
    let mut scripts: std::collections::HashMap<u32, (i64, Vec<Step>)> =
        std::collections::HashMap::new();
    let mut frames = 0u64;
    let mut next_session = 0u32;
    let mut next_start = 0i64;
    loop {
        // Open sessions due before the earliest pending packet.
        while next_session < cfg.sessions
            && heap
                .peek()
                .is_none_or(|Reverse((t, _, _))| next_start <= *t)
        {
            let i = next_session;
            let kind = if (i + 1) % cfg.unanswered_every.max(1) == 0 {
                truth.unanswered += 1;
                Kind::Unanswered
            } else if (i + 1) % cfg.stalled_every.max(1) == 0 {
                truth.stalled += 1;
                Kind::Stalled
            } else if (i + 1) % cfg.refused_every.max(1) == 0 {
                truth.refused += 1;
                Kind::Refused
            } else if (i + 1) % cfg.lost_request_every.max(1) == 0 {
                Kind::LostRequest
            } else if (i + 1) % cfg.zero_window_every.max(1) == 0 {
                Kind::ZeroWindow
            } else if (i + 1) % cfg.nagle_every.max(1) == 0 {
                Kind::Nagle
            } else {
                Kind::Normal
            };
            let mut steps = script(i, &kind, cfg, &mut rng, &mut truth);
            steps.sort_by_key(|s| s.at_us);
            heap.push(Reverse((next_start + steps[0].at_us, i, 0)));
            scripts.insert(i, (next_start, steps));
            next_session += 1;
            next_start += gap_us;
        }
        let Some(Reverse((t, i, k))) = heap.pop() else {
            break;
        };
        let (start, steps) = scripts.get_mut(&i).expect("live session");
        let frame = std::mem::take(&mut steps[k].frame);
        sink(Frame {
            ts: Timestamp::from_nanos(t0 + t * 1_000),
            data: frame,
        });
        frames += 1;
        if k + 1 < steps.len() {
            heap.push(Reverse((*start + steps[k + 1].at_us, i, k + 1)));
        } else {
            scripts.remove(&i);
        }
    }
    truth.frames = frames;
    truth
}
