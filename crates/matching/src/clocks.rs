//! Each capture point's clock against its path's first point, estimated
//! NTP-style from handshakes seen at both: the SYN goes one way and the
//! SYN-ACK the other, so half their difference is the offset and half
//! their sum the one-way delay. The best sample per minute bounds the
//! estimate; a slope over ten minutes or more gives the drift.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use stalltrace_conversations::PacketRef;
use stalltrace_decode::{TimeDelta, Timestamp};

/// A point's clock against the reference point's.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ClockOffset {
    pub point: String,
    pub reference: String,
    /// Add this to the point's times to get the reference's clock.
    pub offset: TimeDelta,
    /// Parts per million the point's clock runs fast (estimated when the
    /// matches span long enough).
    pub drift_ppm: Option<f64>,
    /// Matched connections the estimate rests on.
    pub samples: u64,
    /// Half the best round trip between the points: the estimate's bound.
    pub uncertainty: TimeDelta,
    /// Applied to the timelines: only when larger than its uncertainty,
    /// since a smaller one is no evidence the clocks differ.
    pub applied: bool,
}

/// What one matched connection says about two points (a < b).
pub(crate) struct Sample {
    pub syn: Option<PacketRef>,
    pub syn_ack: Option<PacketRef>,
    pub client_ttl: Option<u8>,
}

/// Best estimate for one ordered pair of points (a < b): clock of b minus
/// clock of a, and which one is nearer the client.
#[derive(Clone, Default)]
pub(crate) struct Pair {
    pub samples: u64,
    /// (round trip, theta, time) of the best sample per minute bucket.
    buckets: BTreeMap<i64, (i64, i64, Timestamp)>,
    /// Votes that a is nearer the client than b, and the other way.
    pub a_first: u64,
    pub b_first: u64,
}

const BUCKET_NS: i64 = 60_000_000_000;
const ORDER_NOISE_NS: i64 = 1_000;
const MAX_BUCKETS: usize = 1440;

impl Pair {
    /// Takes in one connection seen at both points.
    pub(crate) fn sample(&mut self, a: &Sample, b: &Sample) {
        if let (Some(sa), Some(sb), Some(ka), Some(kb)) = (a.syn, b.syn, a.syn_ack, b.syn_ack) {
            // d1: the SYN, client to server; d2: the SYN-ACK, server to client.
            let d1 = (sb.ts - sa.ts).nanos();
            let d2 = (kb.ts - ka.ts).nanos();
            let theta = (d1 + d2) / 2;
            let trip = (d1 - d2) / 2; // signed one-way delay from a to b
            self.samples += 1;
            let bucket = sa.ts.nanos().div_euclid(BUCKET_NS);
            let better = self
                .buckets
                .get(&bucket)
                .is_none_or(|(t, _, _)| trip.abs() < *t);
            if better && (self.buckets.len() < MAX_BUCKETS || self.buckets.contains_key(&bucket)) {
                self.buckets.insert(bucket, (trip.abs(), theta, sa.ts));
            }
            // Below a microsecond the sign is noise (drift, rounding), not
            // which point the packets passed first.
            if trip >= ORDER_NOISE_NS {
                self.a_first += 1;
            } else if trip <= -ORDER_NOISE_NS {
                self.b_first += 1;
            }
        } else if let (Some(ta), Some(tb)) = (a.client_ttl, b.client_ttl) {
            // Routers lower the TTL on the way from the client.
            if ta > tb {
                self.a_first += 1;
            } else if tb > ta {
                self.b_first += 1;
            }
        }
    }
}

/// Offsets against each path's first point, through direct pairs.
pub(crate) fn offsets(
    pairs: &HashMap<(u32, u32), Pair>,
    paths: &[Vec<u32>],
    name: impl Fn(u32) -> String,
) -> (Vec<ClockOffset>, HashMap<u32, TimeDelta>) {
    let mut offsets = Vec::new();
    let mut index = HashMap::new();
    for path in paths {
        let Some(&reference) = path.first() else {
            continue;
        };
        index.insert(reference, TimeDelta::ZERO);
        for &p in path.iter().skip(1) {
            let (a, b) = if reference < p {
                (reference, p)
            } else {
                (p, reference)
            };
            let Some(pair) = pairs.get(&(a, b)) else {
                continue;
            };
            let Some((best_trip, best_theta, _)) =
                pair.buckets.values().min_by_key(|(t, _, _)| *t).copied()
            else {
                continue;
            };
            // theta is clock(b) - clock(a); the point's offset brings it
            // onto the reference's clock.
            let clock_p_minus_ref = if p == b { best_theta } else { -best_theta };
            let drift_ppm = drift(&pair.buckets).map(|ppm| if p == b { ppm } else { -ppm });
            let offset = TimeDelta::from_nanos(-clock_p_minus_ref);
            let applied = offset.abs().nanos() > best_trip;
            index.insert(p, if applied { offset } else { TimeDelta::ZERO });
            offsets.push(ClockOffset {
                applied,
                point: name(p),
                reference: name(reference),
                offset,
                drift_ppm,
                samples: pair.samples,
                uncertainty: TimeDelta::from_nanos(best_trip),
            });
        }
    }
    (offsets, index)
}

/// Slope of the best offset samples over time, in ppm, when they span at
/// least ten minutes.
fn drift(buckets: &BTreeMap<i64, (i64, i64, Timestamp)>) -> Option<f64> {
    let pts: Vec<(f64, f64)> = buckets
        .values()
        .map(|(_, theta, t)| (t.secs_f64(), *theta as f64 / 1e9))
        .collect();
    let (first, last) = (pts.first()?, pts.last()?);
    if last.0 - first.0 < 600.0 || pts.len() < 3 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    (sxx > 0.0).then(|| sxy / sxx * 1e6)
}
