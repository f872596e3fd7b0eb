//! Every container and link type carries the same SYN to the decoder.

use etherparse::{PacketBuilder, TcpOptionElement};
use stalltrace_capture::write::{PcapWriter, PcapngWriter};
use stalltrace_capture::{CaptureReader, Format, Record};
use stalltrace_decode::{
    decode_frame, Host, IcmpKind, LinkType, Packet, SeqNumber, Timestamp, Transport,
};

fn syn_v4() -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4([203, 0, 113, 25], [203, 0, 113, 171], 63)
        .tcp(38107, 113, 211_996_004, 5840)
        .syn()
        .options(&[
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(309_913_215, 0),
            TcpOptionElement::WindowScale(7),
        ])
        .unwrap()
        .write(&mut v, &[])
        .unwrap();
    v
}

fn check_syn(p: &Packet) {
    assert_eq!(p.src, Host::V4("203.0.113.25".parse().unwrap()));
    assert_eq!(p.dst, Host::V4("203.0.113.171".parse().unwrap()));
    assert_eq!(p.ip.ttl, Some(63));
    let Transport::Tcp(t) = &p.transport else {
        panic!("{p:?}")
    };
    assert_eq!((t.src_port, t.dst_port), (38107, 113));
    assert_eq!(t.seq, Some(SeqNumber(211_996_004)));
    assert!(t.flags.syn() && !t.flags.ack());
    assert_eq!(t.options.mss, Some(1460));
    assert!(t.options.sack_permitted);
    assert_eq!(t.options.timestamp, Some((309_913_215, Some(0))));
    assert_eq!(t.options.window_scale, Some(7));
    assert!(!p.truncated);
}

fn read_all(bytes: Vec<u8>) -> (Format, Vec<Packet>) {
    let mut r = CaptureReader::from_reader("mem", Box::new(std::io::Cursor::new(bytes))).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next().unwrap() {
        match rec {
            Record::Frame(f) => out.push(decode_frame(f.link, f.data, f.meta).unwrap()),
            Record::Packet(p) => out.push(p),
        }
    }
    assert!(r.take_warnings().is_empty());
    (r.format(), out)
}

fn pcap_with(link: LinkType, frame: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = PcapWriter::new(&mut buf, link, 65_535).unwrap();
    w.write(
        Timestamp::from_nanos(1_100_000_000_123_456_789),
        frame,
        frame.len() as u32,
    )
    .unwrap();
    buf
}

#[test]
fn every_link_type_decodes_the_same_syn() {
    let ip = syn_v4();
    let mut eth = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    eth.extend_from_slice(&ip);
    let mut vlan = vec![
        0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x81, 0x00, 0x00, 0x2a, 0x08, 0x00,
    ];
    vlan.extend_from_slice(&ip);
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip);
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    sll2.extend_from_slice(&ip);
    let mut null = vec![2, 0, 0, 0];
    null.extend_from_slice(&ip);
    for (link, frame) in [
        (LinkType::ETHERNET, eth),
        (LinkType::ETHERNET, vlan),
        (LinkType::LINUX_SLL, sll),
        (LinkType::LINUX_SLL2, sll2),
        (LinkType::NULL, null),
        (LinkType::RAW, ip.clone()),
        (LinkType::IPV4, ip.clone()),
    ] {
        let (format, p) = read_all(pcap_with(link, &frame));
        assert_eq!(format, Format::Pcap);
        assert_eq!(p.len(), 1, "{link:?}");
        check_syn(&p[0]);
        assert_eq!(p[0].meta.ts.nanos(), 1_100_000_000_123_456_789, "{link:?}");
    }
}

/// A classic pcap written by hand: either byte order, µs or ns.
fn pcap_by_hand(big_endian: bool, magic: u32, frac: u32, frame: &[u8], extra: usize) -> Vec<u8> {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut b = Vec::new();
    b.extend_from_slice(&u32b(magic));
    b.extend_from_slice(&u16b(2));
    b.extend_from_slice(&u16b(4));
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&u32b(65_535));
    b.extend_from_slice(&u32b(101));
    b.extend_from_slice(&u32b(1_100_000_000));
    b.extend_from_slice(&u32b(frac));
    b.extend_from_slice(&u32b(frame.len() as u32));
    b.extend_from_slice(&u32b(frame.len() as u32));
    b.extend_from_slice(&vec![0; extra]);
    b.extend_from_slice(frame);
    b
}

#[test]
fn pcap_in_both_byte_orders_and_resolutions() {
    let ip = syn_v4();
    for (be, magic, frac, extra, nanos) in [
        (false, 0xa1b2_c3d4, 123_456, 0, 123_456_000),
        (true, 0xa1b2_c3d4, 123_456, 0, 123_456_000),
        (false, 0xa1b2_3c4d, 123_456_789, 0, 123_456_789),
        (true, 0xa1b2_3c4d, 123_456_789, 0, 123_456_789),
        // Kuznetsov's modified format: 8 more bytes per record.
        (false, 0xa1b2_cd34, 5, 8, 5_000),
    ] {
        let (_, p) = read_all(pcap_by_hand(be, magic, frac, &ip, extra));
        check_syn(&p[0]);
        assert_eq!(
            p[0].meta.ts.nanos(),
            1_100_000_000_000_000_000 + nanos,
            "magic {magic:x} be {be}"
        );
    }
}

#[test]
fn pcapng_keeps_interfaces_apart_with_their_names() {
    let ip = syn_v4();
    let mut eth = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    eth.extend_from_slice(&ip);
    let mut buf = Vec::new();
    let mut w = PcapngWriter::new(&mut buf, "test").unwrap();
    let a = w.add_interface("eth1", LinkType::ETHERNET, 65_535).unwrap();
    let b = w.add_interface("eth2", LinkType::RAW, 65_535).unwrap();
    w.write(a, Timestamp::from_nanos(10), &eth, eth.len() as u32)
        .unwrap();
    w.write(b, Timestamp::from_nanos(20), &ip, ip.len() as u32)
        .unwrap();
    let _ = w.into_inner();
    let mut r = CaptureReader::from_reader("mem", Box::new(std::io::Cursor::new(buf))).unwrap();
    let mut seen = Vec::new();
    while let Some(Record::Frame(f)) = r.next().unwrap() {
        let p = decode_frame(f.link, f.data, f.meta).unwrap();
        check_syn(&p);
        seen.push((p.meta.interface, p.meta.ts.nanos(), p.meta.number));
    }
    assert_eq!(seen, vec![(0, 10, 1), (1, 20, 2)]);
    let names: Vec<_> = r
        .interfaces()
        .iter()
        .map(|i| i.name.clone().unwrap())
        .collect();
    assert_eq!(names, vec!["eth1", "eth2"]);
}

#[test]
fn pcapng_microsecond_default_resolution() {
    // An IDB without if_tsresol means microseconds.
    let ip = syn_v4();
    let mut b = Vec::new();
    let shb: [u32; 7] = [0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0xffff_ffff, 0xffff_ffff, 28];
    for v in shb {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&20u32.to_le_bytes());
    b.extend_from_slice(&101u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&20u32.to_le_bytes());
    let pad = (4 - ip.len() % 4) % 4;
    let len = 32 + ip.len() + pad;
    let units: u64 = 1_100_000_000_000_001;
    for v in [
        6u32,
        len as u32,
        0,
        (units >> 32) as u32,
        units as u32,
        ip.len() as u32,
        ip.len() as u32,
    ] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&ip);
    b.extend_from_slice(&vec![0; pad]);
    b.extend_from_slice(&(len as u32).to_le_bytes());
    let (f, p) = read_all(b);
    assert_eq!(f, Format::Pcapng);
    assert_eq!(p[0].meta.ts.nanos(), 1_100_000_000_000_001_000);
}

#[test]
fn icmpv6_error_quotes_the_tcp_header() {
    let mut inner = Vec::new();
    PacketBuilder::ipv6(
        [
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25,
        ],
        [
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x71,
        ],
        64,
    )
    .tcp(38107, 113, 7, 1000)
    .syn()
    .write(&mut inner, &[])
    .unwrap();
    let mut v = Vec::new();
    PacketBuilder::ipv6(
        [
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x71,
        ],
        [
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25,
        ],
        64,
    )
    .icmpv6(etherparse::Icmpv6Type::DestinationUnreachable(
        etherparse::icmpv6::DestUnreachableCode::Port,
    ))
    .write(&mut v, &inner[..48])
    .unwrap();
    let (_, p) = read_all(pcap_with(LinkType::IPV6, &v));
    let Transport::Icmp(i) = &p[0].transport else {
        panic!()
    };
    assert!(i.v6);
    assert_eq!(i.kind, IcmpKind::Unreachable { code: 4 });
    assert_eq!(i.describe(), "port unreachable");
    let q = i.quoted.as_ref().unwrap();
    assert_eq!(
        (q.src_port, q.dst_port, q.seq),
        (Some(38107), Some(113), Some(SeqNumber(7)))
    );
}

#[test]
fn a_snaplen_cut_tcp_header_still_decodes() {
    let ip = syn_v4();
    let cut = &ip[..20 + 16];
    let mut buf = Vec::new();
    let mut w = PcapWriter::new(&mut buf, LinkType::RAW, 36).unwrap();
    w.write(Timestamp::ZERO, cut, ip.len() as u32).unwrap();
    let (_, p) = read_all(buf);
    assert!(p[0].truncated);
    let Transport::Tcp(t) = &p[0].transport else {
        panic!()
    };
    assert_eq!(
        (t.src_port, t.dst_port, t.seq),
        (38107, 113, Some(SeqNumber(211_996_004)))
    );
    assert!(t.flags.syn());
}

/// A capture compressed with gzip, zstd, xz or bzip2 (`tcpdump -w - |
/// gzip`, `tcpdump -z xz`, a rotated `.pcap.zst`) reads as the capture
/// itself, streamed.
#[test]
fn compressed_captures_read_as_the_capture() {
    use std::io::Write;
    let plain = pcap_with(LinkType::RAW, &syn_v4());
    let (format, packets) = read_all(plain.clone());
    assert_eq!(format, Format::Pcap);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let zst = zstd::stream::encode_all(&plain[..], 3).unwrap();
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(&plain).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(&plain).unwrap();
    for bytes in [
        gz.finish().unwrap(),
        zst,
        xz.finish().unwrap(),
        bz.finish().unwrap(),
    ] {
        let (f, p) = read_all(bytes);
        assert_eq!(f, Format::Pcap);
        assert_eq!(p, packets);
        check_syn(&p[0]);
    }
    // A damaged compressed stream is an error, not a panic.
    let mut cut = zstd::stream::encode_all(&plain[..], 3).unwrap();
    cut.truncate(cut.len() / 2);
    let mut r = CaptureReader::from_reader("cut.zst", Box::new(std::io::Cursor::new(cut)));
    if let Ok(r) = r.as_mut() {
        while let Ok(Some(_)) = r.next() {}
    }
}
