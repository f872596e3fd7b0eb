//! The printed forms, line by line.

use stalltrace_decode::{Host, IcmpKind, SeqNumber, TcpSegment, IPPROTO_TCP};

use super::time::split_time;
use super::*;

fn parse_all(text: &str) -> (Vec<Packet>, Vec<Warning>) {
    let mut r = TextReader::new(text.as_bytes(), "t.txt".into());
    let mut w = Vec::new();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet(&mut w).unwrap() {
        out.push(p);
    }
    (out, w)
}

fn tcp(p: &Packet) -> &TcpSegment {
    match &p.transport {
        Transport::Tcp(t) => t,
        other => panic!("not TCP: {other:?}"),
    }
}

#[test]
fn old_form_with_relative_numbers_becomes_absolute() {
    let (p, w) = parse_all(
        "13:05:08.533163 218.104.68.171.42390 > 220.xxx.160.xxx.110: S 950786859:950786859(0) win 16384 <mss 1460,nop,nop,sackOK>\n\
         13:05:08.721807 220.xxx.160.xxx.110 > 218.104.68.171.42390: S 211290961:211290961(0) ack 950786860 win 5840 <mss 1460,nop,nop,sackOK> (DF)\n\
         13:05:08.722475 218.104.68.171.42390 > 220.xxx.160.xxx.110: . ack 1 win 17520\n\
         13:05:43.068169 220.xxx.160.xxx.110 > 218.104.68.171.42390: P 1:49(48) ack 1 win 5840 (DF)\n",
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(p.len(), 4);
    assert_eq!(p[1].src, Host::named("220.xxx.160.xxx"));
    assert_eq!(tcp(&p[0]).options.mss, Some(1460));
    assert!(tcp(&p[0]).options.sack_permitted);
    assert_eq!(tcp(&p[2]).ack, Some(SeqNumber(211_290_962)));
    assert_eq!(tcp(&p[2]).seq, None);
    assert_eq!(tcp(&p[3]).seq, Some(SeqNumber(211_290_962)));
    assert_eq!(tcp(&p[3]).payload_len, 48);
    assert_eq!(tcp(&p[3]).ack, Some(SeqNumber(950_786_860)));
    assert!(p[3].ip.dont_fragment);
    assert_eq!(p[3].meta.ts.time_of_day(), "13:05:43.068169");
    assert_eq!(p[3].meta.number, 4);
}

#[test]
fn old_form_cut_options_mark_truncation() {
    let (p, _) = parse_all("13:05:13.107977 220.xxx.160.xxx.38107 > 218.104.68.171.113: S 211996004:211996004(0) win 5840 <mss 1460,sackOK,timestamp 309913215[|tcp]> (DF)\n");
    assert!(p[0].truncated);
    assert_eq!(tcp(&p[0]).options.timestamp, Some((309_913_215, None)));
    assert_eq!(tcp(&p[0]).dst_port, 113);
}

#[test]
fn reset_with_ack_is_absolute() {
    let (p, _) = parse_all("13:20:31.509404 218.104.68.171.113 > 220.xxx.160.xxx.38225: R 0:0(0) ack 1188523778 win 8192\n");
    let t = tcp(&p[0]);
    assert!(t.flags.rst() && t.flags.ack());
    assert_eq!(t.ack, Some(SeqNumber(1_188_523_778)));
}

#[test]
fn new_form_with_numbering_and_date() {
    let (p, w) = parse_all(
        "    1  2004-11-11 13:05:08.533163 IP 192.168.1.200.1523 > 198.51.100.25.110: Flags [S], seq 950786859, win 16384, options [mss 1460,nop,wscale 7,sackOK,TS val 10 ecr 0], length 0\n\
             2  2004-11-11 13:05:08.721846 IP 198.51.100.25.110 > 192.168.1.200.1523: Flags [S.], seq 211290961, ack 950786860, win 5840, options [mss 1460], length 0\n\
             3  2004-11-11 13:05:08.722447 IP 192.168.1.200.1523 > 198.51.100.25.110: Flags [.], ack 1, win 17520, length 0\n\
             4  2004-11-11 13:05:43.068194 IP 198.51.100.25.110 > 192.168.1.200.1523: Flags [P.], seq 1:49, ack 1, win 5840, length 48: POP3: +OK ready\n",
    );
    assert!(
        w.is_empty(),
        "{:?}",
        w.iter().map(|w| w.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(p.len(), 4);
    assert_eq!(tcp(&p[0]).options.window_scale, Some(7));
    assert_eq!(tcp(&p[0]).options.timestamp, Some((10, Some(0))));
    assert!(tcp(&p[1]).flags.syn() && tcp(&p[1]).flags.ack());
    assert_eq!(tcp(&p[3]).seq, Some(SeqNumber(211_290_962)));
    assert_eq!(tcp(&p[3]).payload_len, 48);
    // 2004-11-11 is day 12733 since the epoch.
    assert_eq!(p[0].meta.ts.nanos() / NANOS / 86_400, 12_733);
}

#[test]
fn absolute_numbers_from_dash_s_are_left_alone() {
    let (p, _) = parse_all(
        "10:00:00.000000 IP 192.0.2.1.1000 > 192.0.2.2.110: Flags [S], seq 100, win 1, length 0\n\
         10:00:00.100000 IP 192.0.2.2.110 > 192.0.2.1.1000: Flags [S.], seq 500, ack 101, win 1, length 0\n\
         10:00:00.200000 IP 192.0.2.1.1000 > 192.0.2.2.110: Flags [.], ack 501, win 1, length 0\n\
         10:00:00.300000 IP 192.0.2.2.110 > 192.0.2.1.1000: Flags [P.], seq 501:511, ack 101, win 1, length 10\n",
    );
    assert_eq!(tcp(&p[2]).ack, Some(SeqNumber(501)));
    assert_eq!(tcp(&p[3]).seq, Some(SeqNumber(501)));
}

#[test]
fn delta_and_epoch_and_no_time() {
    let (p, _) = parse_all(
        "00:00:00.000000 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n\
         00:00:01.500000 IP 192.0.2.2.2 > 192.0.2.1.1: UDP, length 5\n\
         00:00:00.250000 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n",
    );
    assert_eq!(p[2].meta.ts.nanos(), 1_750_000_000);
    let (p, _) = parse_all("1100149508.533163 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n");
    assert_eq!(p[0].meta.ts.nanos(), 1_100_149_508_533_163_000);
    let (p, w) = parse_all("IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n");
    assert_eq!(p.len(), 1);
    assert_eq!(w[0].kind, WarningKind::NoTimestamps);
}

#[test]
fn verbose_two_line_form_and_icmp() {
    let (p, w) = parse_all(
        "13:00:00.000000 IP (tos 0x0, ttl 63, id 4242, offset 0, flags [DF], proto TCP (6), length 60)\n    \
         203.0.113.25.38107 > 203.0.113.171.113: Flags [S], cksum 0x1 (correct), seq 7, win 64240, options [mss 1460], length 0\n\
         13:00:00.001000 IP 203.0.113.171 > 203.0.113.25: ICMP 203.0.113.171 tcp port 113 unreachable, length 68\n",
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(p[0].ip.ttl, Some(63));
    assert_eq!(p[0].ip.id, Some(4242));
    let Transport::Icmp(i) = &p[1].transport else {
        panic!()
    };
    assert_eq!(i.kind, IcmpKind::Unreachable { code: 3 });
    let q = i.quoted.as_ref().unwrap();
    assert_eq!((q.protocol, q.dst_port), (IPPROTO_TCP, Some(113)));
}

/// tcpdump's other ICMP errors, as print-icmp.c and print-icmp6.c print
/// them: the firewall's "admin prohibited filter", a PMTU "need to frag",
/// ICMPv6's port unreachable and packet too big (were read as unknown).
#[test]
fn icmp_errors_as_tcpdump_prints_them() {
    let (p, w) = parse_all(
        "13:00:00.000000 IP 192.168.1.1 > 192.168.1.200: ICMP host 203.0.113.25 unreachable - admin prohibited filter, length 68
         13:00:00.100000 IP 192.0.2.1 > 198.51.100.25: ICMP 203.0.113.9 unreachable - need to frag (mtu 1280), length 556
         13:00:00.200000 IP6 2001:db8::25 > 2001:db8::10: ICMP6, destination unreachable, unreachable port 2001:db8::25 tcp port 80, length 88
         13:00:00.300000 IP6 2001:db8::1 > 2001:db8::10: ICMP6, destination unreachable, unreachable prohibited 2001:db8::25, length 88
         13:00:00.400000 IP6 2001:db8::1 > 2001:db8::10: ICMP6, packet too big, mtu 1280, length 1240
         13:00:00.500000 IP 192.168.1.1 > 192.168.1.200: ICMP host 203.0.113.25 unreachable, length 68
",
    );
    assert!(w.is_empty(), "{w:?}");
    let icmp: Vec<_> = p
        .iter()
        .map(|p| match &p.transport {
            Transport::Icmp(i) => (
                i.kind,
                i.quoted.as_ref().map(|q| (q.dst.to_string(), q.dst_port)),
            ),
            t => panic!("{t:?}"),
        })
        .collect();
    let at = |h: &str, port| Some((h.to_string(), port));
    assert_eq!(
        icmp,
        [
            (IcmpKind::Unreachable { code: 13 }, at("203.0.113.25", None)),
            (IcmpKind::PacketTooBig, at("203.0.113.9", None)),
            (
                IcmpKind::Unreachable { code: 4 },
                at("2001:db8::25", Some(80))
            ),
            (IcmpKind::Unreachable { code: 1 }, at("2001:db8::25", None)),
            (IcmpKind::PacketTooBig, None),
            (IcmpKind::Unreachable { code: 1 }, at("203.0.113.25", None)),
        ]
    );
}

#[test]
fn unreadable_lines_are_counted_with_their_numbers() {
    let (p, w) = parse_all(
        "Here is what I captured:\n\
         13:05:08.533163 218.104.68.171.42390 > 220.xxx.160.xxx.110: S 950786859:950786859(0) win 16384\n\
         13:05:08.600000 arp who-has 192.168.1.1 tell 192.168.1.200\n\
         this line means nothing\n",
    );
    assert_eq!(p.len(), 1);
    let msg = w
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(msg.contains("2 lines were not understood"), "{msg}");
    assert!(msg.contains("lines 1, 4"), "{msg}");
    assert!(msg.contains("1 non-IP line (ARP"), "{msg}");
    // The prose line before the packets has no time stamp, yet the
    // printout has them (regression: it was said to be printed with -t).
    assert!(!msg.contains("without timestamps"), "{msg}");
}

#[test]
fn names_and_services_without_dash_n() {
    let (p, _) = parse_all("13:05:13.107977 IP mail.example.com.38107 > fw.example.net.auth: Flags [S], seq 1, win 5840, length 0\n");
    assert_eq!(p[0].src, Host::named("mail.example.com"));
    assert_eq!(tcp(&p[0]).dst_port, 113);
}

#[test]
fn any_interface_prefix_names_points() {
    let mut r = TextReader::new(
        "13:00:00.000000 eth1  In  IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n13:00:00.000100 eth2  Out IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n".as_bytes(),
        "t".into(),
    );
    let mut w = vec![];
    let a = r.next_packet(&mut w).unwrap().unwrap();
    let b = r.next_packet(&mut w).unwrap().unwrap();
    assert_eq!((a.meta.interface, b.meta.interface), (0, 1));
    assert_eq!(r.interfaces[1].name.as_deref(), Some("eth2"));
}

#[test]
fn ipv6_addresses() {
    let (p, _) = parse_all("13:00:00.000000 IP6 2001:db8::1.40000 > 2001:db8::2.110: Flags [S], seq 1, win 1, length 0\n");
    assert_eq!(p[0].dst, Host::V6("2001:db8::2".parse().unwrap()));
}

#[test]
fn fuzz_regression_signed_or_huge_times_are_not_times() {
    // Found by the text fuzz target: "-39393939:0:0" overflowed.
    assert_eq!(split_time("-39393939:0:0 x"), None);
    assert_eq!(split_time("99999999999999999.5 x"), None);
    // Nanoseconds since 1970 end in 2262: a later date is no time stamp,
    // and a file of nothing else is a clear error, not a panic.
    let text = "9999-12-31 23:59:59.9 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n";
    let mut r = TextReader::new(text.as_bytes(), "far.txt".into());
    let e = r.next_packet(&mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("no tcpdump packet line"), "{e}");
    let crash = include_bytes!("../../tests/fuzz-regressions/text-negative-hour");
    let mut r = TextReader::new(&crash[..], "crash".into());
    let mut w = Vec::new();
    while let Ok(Some(_)) = r.next_packet(&mut w) {}
}

#[test]
fn midnight_rollover() {
    let (p, _) = parse_all(
        "23:59:59.900000 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n00:00:00.100000 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n",
    );
    assert_eq!((p[1].meta.ts - p[0].meta.ts).nanos(), 200_000_000);
}

#[test]
fn a_clock_field_of_one_digit_is_damage_not_a_time() {
    // Regression (issue 11): "13:05:1.916763" was read as 13:05:01.
    let (p, w) = parse_all(
        "13:05:08.533163 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n\
         13:05:1.916763 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n\
         13:05:09.000000 IP 192.0.2.1.1 > 192.0.2.2.2: UDP, length 5\n",
    );
    assert_eq!(p.len(), 2);
    assert_eq!(p[1].meta.number, 3);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].location, Some(Location::Line(2)));
    assert!(matches!(
        &w[0].kind,
        WarningKind::UnreadableLines { count: 1, first, .. } if first.starts_with("13:05:1.916763")
    ));
}

#[test]
fn a_printout_of_arp_alone_or_of_nothing_is_a_capture_without_ip() {
    let (p, w) =
        parse_all("13:05:08.533163 ARP, Request who-has 192.0.2.2 tell 192.0.2.1, length 28\n");
    assert!(p.is_empty());
    assert_eq!(w[0].kind, WarningKind::NonIpLines { count: 1 });
    let (p, w) = parse_all("");
    assert!(p.is_empty() && w.is_empty());
    let (p, w) = parse_all("\n  \n");
    assert!(p.is_empty() && w.is_empty());
}

/// Zeek's traces printed by tcpdump: UDP protocols tcpdump names instead
/// of printing "UDP" (babel, BFD, PTP) were refused as "no tcpdump
/// packet line"; they are UDP datagrams, their length read where printed.
#[test]
fn udp_that_tcpdump_names_by_protocol_is_read() {
    let (p, w) = parse_all(
        "12:00:00.000000 IP 192.0.2.1.6696 > 198.51.100.2.6696: babel 2 (44) hello\n\
         12:00:00.100000 IP 192.0.2.1.49152 > 198.51.100.2.3784: BFDv1, Control, State Up, Flags: [none], length: 24\n\
         12:00:00.200000 IP 192.0.2.1.319 > 198.51.100.2.319: PTPv2, v1 compat : no, msg type : sync msg, length : 44\n",
    );
    assert!(w.is_empty(), "{w:?}");
    let lens: Vec<(u16, u32)> = p
        .iter()
        .map(|p| match &p.transport {
            Transport::Udp(u) => (u.dst_port, u.payload_len),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lens, [(6696, 44), (3784, 24), (319, 44)]);
}
