//! Mappings are remembered once each and capped, whatever the number of
//! connections matched.

use stalltrace_conversations::{Tracker, TrackerConfig};
use stalltrace_decode::{Endpoint, Host, Transport};
use stalltrace_matching::{Matcher, MatcherConfig};
use stalltrace_testkit::{frames_from_packets, sessions, HostMap};

#[test]
fn the_listing_cap_holds_and_the_rest_is_counted_once() {
    let frames = sessions(5, 3);
    let inside: Vec<_> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| f.decode(i as u64 + 1))
        .collect();
    // The outside point sees each client as 203.0.113.171 on another port.
    let nat = Host::V4("203.0.113.171".parse().unwrap());
    let outside_packets: Vec<_> = inside
        .iter()
        .cloned()
        .map(|mut p| {
            if let Transport::Tcp(t) = &mut p.transport {
                if t.dst_port == 110 {
                    p.src = nat.clone();
                    t.src_port += 10_000;
                } else {
                    p.dst = nat.clone();
                    t.dst_port += 10_000;
                }
            }
            p
        })
        .collect();
    let outside: Vec<_> = frames_from_packets(&outside_packets, &mut HostMap::default())
        .iter()
        .enumerate()
        .map(|(i, f)| f.decode(i as u64 + 1))
        .collect();
    let mut m = Matcher::new(MatcherConfig {
        max_mappings: 2,
        ..MatcherConfig::default()
    });
    for (point, packets) in [(0u32, &inside), (1u32, &outside)] {
        let mut t = Tracker::new(point, TrackerConfig::default());
        for p in packets.iter() {
            t.observe(p);
        }
        for c in t.finish() {
            m.observe(&c);
        }
    }
    let r = m.finish(&stalltrace_conversations::Points::new(vec![
        "inside".into(),
        "outside".into(),
    ]));
    assert_eq!(r.matched_connections, 5);
    assert_eq!(r.mappings.len(), 2);
    assert_eq!(r.mappings_not_listed, 3);
    assert!(r
        .mappings
        .iter()
        .all(|n| n.inside_point == "inside" && n.outside.host == nat));
    let first: &Endpoint = &r.mappings[0].inside;
    assert_eq!(first.port, 20_000);
}
