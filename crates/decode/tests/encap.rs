//! The link layers and tunnels `encap` peels take any bytes without a
//! panic: random frames of every link type it reads, and IPv4 packets
//! whose payload claims to be a tunnel but holds noise.

use proptest::prelude::*;
use stalltrace_decode::encap::KNOWN_LINKS;
use stalltrace_decode::{decode_frame, FrameMeta, LinkType};

fn ipv4(proto: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
    ];
    let len = (20 + body.len()) as u16;
    h[2..4].copy_from_slice(&len.to_be_bytes());
    h.extend_from_slice(body);
    h
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn any_bytes_of_any_link_type_decode_or_skip(
        link in prop::sample::select([KNOWN_LINKS, &[1, 113, 276]].concat()),
        data in prop::collection::vec(any::<u8>(), 0..160),
    ) {
        let _ = decode_frame(LinkType(link), &data, FrameMeta::default());
    }

    #[test]
    fn noise_inside_a_tunnel_decodes_or_skips(
        tunnel in prop::sample::select(vec![(4u8, 0u16), (41, 0), (47, 0), (17, 4789), (17, 6081), (17, 2152), (17, 3544)]),
        noise in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let body = if tunnel.0 == 17 {
            let mut u = vec![0xc0, 0x00];
            u.extend_from_slice(&tunnel.1.to_be_bytes());
            u.extend_from_slice(&((8 + noise.len()) as u16).to_be_bytes());
            u.extend_from_slice(&[0, 0]);
            u.extend_from_slice(&noise);
            u
        } else {
            noise
        };
        let _ = decode_frame(LinkType::RAW, &ipv4(tunnel.0, &body), FrameMeta::default());
    }
}

/// A tunnel in a tunnel in a tunnel... stops at a fixed depth: the
/// decoder returns a packet, it does not recurse without end.
#[test]
fn nested_tunnels_stop_at_a_fixed_depth() {
    let mut ip = ipv4(
        6,
        &[
            0x9c, 0x40, 0, 110, 0, 0, 0, 7, 0, 0, 0, 0, 0x50, 0x02, 0x16, 0xd0, 0, 0, 0, 0,
        ],
    );
    for _ in 0..64 {
        ip = ipv4(4, &ip);
    }
    let p = decode_frame(LinkType::RAW, &ip, FrameMeta::default()).unwrap();
    assert!(p.tunnel.is_some());
}
