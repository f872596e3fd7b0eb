//! One generated capture seen at four capture points along the path
//! client → firewall (inside, outside; 1:1 source NAT) → server, for the
//! tests of matching across points and of the distributed job: each
//! point's packets at its own times (a hop further, 150 µs later), TTLs
//! one lower past the firewall, the client's address 192.168.1.N inside
//! and 203.0.113.N outside, and the server's ident callbacks (tcp/113)
//! stopped at the firewall, as in the seed: seen outside only.
//!
//! ```
//! use stalltrace_testkit::{points::four_points, sessions};
//! let points = four_points(&sessions(20, 3));
//! assert_eq!(points.len(), 4);
//! assert_eq!(points[0].0, "client");
//! ```

use crate::Frame;
use stalltrace_decode::TimeDelta;

/// The points in path order, from the client.
pub const POINTS: [&str; 4] = ["client", "fw-inside", "fw-outside", "server"];
const HOP: TimeDelta = TimeDelta::from_nanos(150_000);

/// `frames` (IPv4 over Ethernet between clients 192.0.2.N and servers, as
/// the generator writes them) at each of [`POINTS`], each in time order.
pub fn four_points(frames: &[Frame]) -> Vec<(&'static str, Vec<Frame>)> {
    let mut out: Vec<(&'static str, Vec<Frame>)> =
        POINTS.iter().map(|&n| (n, Vec::new())).collect();
    for f in frames {
        let Some(ip) = Ipv4At::of(&f.data) else {
            continue;
        };
        let from_client = ip.src()[..3] == [192, 0, 2];
        let ident = ip.ports().is_some_and(|(s, d)| s == 113 || d == 113);
        for (d, (_, point)) in out.iter_mut().enumerate() {
            let outside = d >= 2;
            if ident && !outside {
                // The firewall drops the callback (or answers it itself).
                continue;
            }
            let hops = if from_client { d } else { 3 - d } as i64;
            let mut data = f.data.clone();
            let past_fw = if from_client { outside } else { !outside };
            let client_net = if outside {
                [203, 0, 113]
            } else {
                [192, 168, 1]
            };
            rewrite(&mut data, from_client, client_net, u8::from(past_fw));
            point.push(Frame {
                ts: f.ts + TimeDelta::from_nanos(HOP.nanos() * hops),
                data,
            });
        }
    }
    for (_, point) in &mut out {
        point.sort_by_key(|f| f.ts);
    }
    out
}

/// Where an Ethernet frame's IPv4 header is.
struct Ipv4At<'a> {
    data: &'a [u8],
    ihl: usize,
}

const ETH: usize = 14;

impl<'a> Ipv4At<'a> {
    fn of(data: &'a [u8]) -> Option<Self> {
        if data.len() < ETH + 20 || data[12..14] != [0x08, 0x00] || data[ETH] >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(data[ETH] & 0x0f) * 4;
        (data.len() >= ETH + ihl).then_some(Ipv4At { data, ihl })
    }
    fn src(&self) -> &[u8] {
        &self.data[ETH + 12..ETH + 16]
    }
    fn ports(&self) -> Option<(u16, u16)> {
        let t = &self.data[ETH + self.ihl..];
        let tcp_or_udp = matches!(self.data[ETH + 9], 6 | 17);
        (tcp_or_udp && t.len() >= 4).then(|| {
            (
                u16::from_be_bytes([t[0], t[1]]),
                u16::from_be_bytes([t[2], t[3]]),
            )
        })
    }
}

/// The client's address moved to `net`.N, the TTL lowered by `ttl_less`,
/// the IP and TCP/UDP checksums made right again.
fn rewrite(data: &mut [u8], from_client: bool, net: [u8; 3], ttl_less: u8) {
    let ihl = usize::from(data[ETH] & 0x0f) * 4;
    let at = if from_client { ETH + 12 } else { ETH + 16 };
    data[at..at + 3].copy_from_slice(&net);
    data[ETH + 8] = data[ETH + 8].saturating_sub(ttl_less);
    data[ETH + 10..ETH + 12].fill(0);
    let sum = checksum(&[&data[ETH..ETH + ihl]]);
    data[ETH + 10..ETH + 12].copy_from_slice(&sum.to_be_bytes());
    let proto = data[ETH + 9];
    let total = usize::from(u16::from_be_bytes([data[ETH + 2], data[ETH + 3]]));
    let end = (ETH + total).min(data.len());
    let l4 = ETH + ihl;
    let sum_at = match proto {
        6 => l4 + 16,
        17 => l4 + 6,
        _ => return,
    };
    if end < sum_at + 2 {
        return;
    }
    data[sum_at..sum_at + 2].fill(0);
    let len = ((end - l4) as u16).to_be_bytes();
    let pseudo = [
        &data[ETH + 12..ETH + 20],
        &[0, proto][..],
        &len[..],
        &data[l4..end],
    ];
    let mut sum = checksum(&pseudo);
    if proto == 17 && sum == 0 {
        sum = 0xffff;
    }
    data[sum_at..sum_at + 2].copy_from_slice(&sum.to_be_bytes());
}

/// The Internet checksum (RFC 1071) of the pieces, one after another.
fn checksum(pieces: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    let mut odd: Option<u8> = None;
    for p in pieces {
        for &b in *p {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(hi) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewritten_frames_decode_with_good_checksums_and_nat_addresses() {
        let mut frames = Vec::new();
        let cfg = crate::generate::GenConfig {
            sessions: 120,
            ..Default::default()
        };
        crate::generate::generate(&cfg, |f| frames.push(f));
        let points = four_points(&frames);
        let (_, outside) = &points[2];
        let (_, inside) = &points[1];
        assert!(outside.len() > inside.len(), "ident callbacks only outside");
        for (n, f) in outside.iter().enumerate() {
            let p = f.decode(n as u64 + 1);
            assert_eq!(p.ip.checksum_ok, Some(true));
            let client = if p.src.to_string().starts_with("198.51.100.") {
                p.dst.to_string()
            } else {
                p.src.to_string()
            };
            assert!(client.starts_with("203.0.113."), "{client}");
        }
        for (n, f) in inside.iter().enumerate() {
            let p = f.decode(n as u64 + 1);
            let hosts = format!("{} {}", p.src, p.dst);
            assert!(hosts.contains("192.168.1."), "{hosts}");
            assert!(!hosts.contains("192.0.2."), "{hosts}");
        }
        // TCP checksums, verified by etherparse over the rewritten bytes.
        for f in outside.iter().chain(inside) {
            let s = etherparse::SlicedPacket::from_ethernet(&f.data).unwrap();
            let (Some(etherparse::NetSlice::Ipv4(ip)), Some(etherparse::TransportSlice::Tcp(t))) =
                (s.net, s.transport)
            else {
                continue;
            };
            let want = t
                .to_header()
                .calc_checksum_ipv4(&ip.header().to_header(), t.payload())
                .unwrap();
            assert_eq!(t.checksum(), want);
        }
    }
}
