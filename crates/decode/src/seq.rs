use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

/// A TCP sequence number: 32 bits that wrap, compared within a half-space
/// (RFC 793 §3.3, as smoltcp's `TcpSeqNumber` does).
#[derive(
    Copy,
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Default,
    Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    pub fn wrapping_add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }

    /// Distance from `base` to `self`, negative when `self` is behind.
    pub fn diff(self, base: SeqNumber) -> i32 {
        self.0.wrapping_sub(base.0) as i32
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn compares_across_the_wrap() {
        assert!(SeqNumber(5) > SeqNumber(u32::MAX - 5));
        assert_eq!(SeqNumber(5).diff(SeqNumber(u32::MAX - 5)), 11);
    }

    proptest! {
        #[test]
        fn adding_a_small_step_moves_forward(base: u32, step in 1u32..0x7fff_ffff) {
            let a = SeqNumber(base);
            prop_assert!(a.wrapping_add(step) > a);
            prop_assert_eq!(a.wrapping_add(step).diff(a), step as i32);
        }
    }
}
