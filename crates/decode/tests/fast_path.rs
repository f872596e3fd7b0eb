//! The hand-written fast path of `decode_frame` must give exactly what
//! etherparse gives, on well-formed frames and on every kind of damage.

use proptest::prelude::*;
use stalltrace_decode::{decode_frame, decode_frame_general, FrameMeta, LinkType};

fn ipv4(ihl: u8, total_len: Option<u16>, frag: u16, proto: u8, body: &[u8]) -> Vec<u8> {
    let hl = usize::from(ihl) * 4;
    let len = total_len.unwrap_or((hl + body.len()) as u16);
    let mut h = vec![0u8; hl.max(20)];
    h[0] = 0x40 | (ihl & 0x0f);
    h[2..4].copy_from_slice(&len.to_be_bytes());
    h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&[192, 0, 2, 1]);
    h[16..20].copy_from_slice(&[198, 51, 100, 2]);
    let mut sum: u32 = h[..20]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    h.extend_from_slice(body);
    h
}

fn ipv6(payload_len: Option<u16>, next: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 40];
    h[0] = 0x60;
    let len = payload_len.unwrap_or(body.len() as u16);
    h[4..6].copy_from_slice(&len.to_be_bytes());
    h[6] = next;
    h[7] = 57;
    h[8..24].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    h[24..40].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    h.extend_from_slice(body);
    h
}

fn tcp(data_offset: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; usize::from(data_offset.max(5)) * 4];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&110u16.to_be_bytes());
    t[4..8].copy_from_slice(&7u32.to_be_bytes());
    t[8..12].copy_from_slice(&9u32.to_be_bytes());
    t[12] = data_offset << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    if t.len() >= 24 {
        // MSS 1460, then NOPs.
        t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
        for b in &mut t[24..] {
            *b = 1;
        }
    }
    t.extend_from_slice(payload);
    t
}

fn link(kind: u8, ether_type: u16, ip: Vec<u8>) -> (LinkType, Vec<u8>) {
    match kind % 3 {
        0 => {
            let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
            f.extend_from_slice(&ether_type.to_be_bytes());
            f.extend_from_slice(&ip);
            // Ethernet pads short frames to 60 bytes.
            if f.len() < 60 {
                f.resize(60, 0);
            }
            (LinkType::ETHERNET, f)
        }
        1 => {
            let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
            f.extend_from_slice(&ether_type.to_be_bytes());
            f.extend_from_slice(&ip);
            (LinkType::LINUX_SLL, f)
        }
        _ => (LinkType::RAW, ip),
    }
}

fn frame() -> impl Strategy<Value = (LinkType, Vec<u8>)> {
    (
        any::<bool>(),
        prop::sample::select(vec![5u8, 5, 5, 6, 7, 4, 15]),
        prop::option::weighted(0.2, any::<u16>()),
        prop::sample::select(vec![0u16, 0, 0, 0x4000, 0x2000, 0x0010, 0x2010]),
        prop::sample::select(vec![6u8, 6, 6, 17, 1, 58, 51, 44, 0, 60, 47]),
        prop::sample::select(vec![5u8, 5, 8, 4, 15]),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..80),
        any::<u8>(),
        prop::sample::select(vec![0x0800u16, 0x0800, 0x86dd, 0x86dd, 0x8100, 0x0806]),
    )
        .prop_map(
            |(v6, ihl, total, frag, proto, doff, flags, payload, kind, et)| {
                let body = tcp(doff, flags, &payload);
                let ip = if v6 {
                    ipv6(total, proto, &body)
                } else {
                    ipv4(ihl, total, frag, proto, &body)
                };
                link(kind, et, ip)
            },
        )
}

fn same(link: LinkType, data: &[u8]) -> Result<(), TestCaseError> {
    let meta = FrameMeta {
        ts: Default::default(),
        number: 1,
        interface: 0,
        offset: 0,
    };
    prop_assert_eq!(
        decode_frame(link, data, meta),
        decode_frame_general(link, data, meta),
        "{:?} {:02x?}",
        link,
        data
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn fast_path_equals_etherparse((link, data) in frame()) {
        same(link, &data)?;
    }

    #[test]
    fn fast_path_equals_etherparse_on_damage(
        (link, mut data) in frame(),
        hits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        for (at, byte) in hits {
            if !data.is_empty() {
                let i = at.index(data.len());
                data[i] = byte;
            }
        }
        if do_cut && !data.is_empty() {
            data.truncate(cut.index(data.len()));
        }
        same(link, &data)?;
    }
}

/// Every frame of the captures made in the lab (Linux's own packets).
#[test]
fn fast_path_equals_etherparse_on_real_frames() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/lab/env1-drop");
    let mut frames = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        // pcapng: walk the blocks, decode each enhanced packet block.
        let mut off = 0;
        let mut link = LinkType::ETHERNET;
        while off + 12 <= bytes.len() {
            let kind = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
            let len = u32::from_le_bytes(bytes[off + 4..off + 8].try_into().unwrap()) as usize;
            if kind == 1 {
                link = LinkType(u32::from(u16::from_le_bytes([
                    bytes[off + 8],
                    bytes[off + 9],
                ])));
            } else if kind == 6 {
                let cap =
                    u32::from_le_bytes(bytes[off + 20..off + 24].try_into().unwrap()) as usize;
                let data = &bytes[off + 28..off + 28 + cap];
                same(link, data).unwrap();
                frames += 1;
            }
            off += len;
        }
    }
    assert!(frames > 20, "only {frames} frames read");
}

/// Regression (found by the damage property above): an IPv6 fragment
/// whose extension chain claims more bytes than the frame holds made
/// etherparse's extension iterator index out of bounds (an abort in debug
/// builds, undefined behaviour in release). The fragment's offset is now
/// read with bounds checked; every cut of such a frame decodes or is
/// skipped, never panics.
#[test]
fn a_cut_ipv6_extension_chain_never_panics() {
    // Hop-by-hop (claiming 8 × 201 bytes), then a fragment header, then UDP.
    let mut body = vec![44u8, 200, 0, 0, 0, 0, 0, 0];
    body.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 7]);
    body.extend_from_slice(&[0, 53, 0x9c, 0x40, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    let ip = ipv6(None, 0, &body);
    for cut in 40..=ip.len() {
        let _ = decode_frame(LinkType::RAW, &ip[..cut], FrameMeta::default());
        let _ = decode_frame_general(LinkType::RAW, &ip[..cut], FrameMeta::default());
    }
    // Every extension kind first, cut anywhere, with lengths that lie.
    for next in [0u8, 43, 44, 51, 60] {
        for n in 0..24usize {
            for fill in [0u8, 0x2c, 0xff] {
                let body: Vec<u8> = (0..n).map(|i| if i == 0 { 44 } else { fill }).collect();
                for payload_len in [None, Some(0), Some(200)] {
                    let ip = ipv6(payload_len, next, &body);
                    let _ = decode_frame(LinkType::RAW, &ip, FrameMeta::default());
                    let _ = decode_frame_general(LinkType::RAW, &ip, FrameMeta::default());
                }
            }
        }
    }
    // A well-formed first fragment straight after the IPv6 header decodes
    // its UDP header.
    let mut body = vec![17u8, 0, 0, 1, 0, 0, 0, 7];
    body.extend_from_slice(&[0, 53, 0x9c, 0x40, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    let p = decode_frame(LinkType::RAW, &ipv6(None, 44, &body), FrameMeta::default()).unwrap();
    assert!(
        matches!(p.transport, stalltrace_decode::Transport::Udp(_)),
        "{:?}",
        p.transport
    );
}
