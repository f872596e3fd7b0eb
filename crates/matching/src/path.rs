//! The order of the capture points along the path, client side first:
//! a point is before another when the timing (or the TTL) of the
//! connections both saw says it is nearer the client; without timing, the
//! side whose clients have private addresses is inside. Points that share
//! connections form one path; unrelated captures (two set-ups in one
//! folder) form several.

use std::collections::{BTreeMap, HashMap};

use crate::clocks::Pair;

pub(crate) fn order(
    pairs: &HashMap<(u32, u32), Pair>,
    point_private: &HashMap<u32, bool>,
) -> Vec<Vec<u32>> {
    let mut points: Vec<u32> = pairs.keys().flat_map(|(a, b)| [*a, *b]).collect();
    points.sort();
    points.dedup();
    let before = |x: u32, y: u32| -> bool {
        let (a, b, flip) = if x < y { (x, y, false) } else { (y, x, true) };
        match pairs.get(&(a, b)) {
            Some(p) if p.a_first != p.b_first => (p.a_first > p.b_first) != flip,
            _ => {
                // No timing: the side with private clients is inside.
                let px = point_private.get(&x).copied().unwrap_or(false);
                let py = point_private.get(&y).copied().unwrap_or(false);
                px && !py
            }
        }
    };
    let mut component: HashMap<u32, u32> = points.iter().map(|&p| (p, p)).collect();
    fn root(c: &HashMap<u32, u32>, mut p: u32) -> u32 {
        while c[&p] != p {
            p = c[&p];
        }
        p
    }
    for &(a, b) in pairs.keys() {
        let (ra, rb) = (root(&component, a), root(&component, b));
        if ra != rb {
            component.insert(ra.max(rb), ra.min(rb));
        }
    }
    let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for &p in &points {
        groups.entry(root(&component, p)).or_default().push(p);
    }
    // Rank by how many points each one precedes.
    groups
        .values()
        .map(|members| {
            let mut ranked: Vec<(usize, u32)> = members
                .iter()
                .map(|&p| {
                    (
                        members.iter().filter(|&&q| q != p && before(p, q)).count(),
                        p,
                    )
                })
                .collect();
            ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            ranked.iter().map(|(_, p)| *p).collect()
        })
        .collect()
}
