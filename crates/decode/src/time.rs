use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A packet time in nanoseconds.
///
/// For pcap and pcapng it counts from the Unix epoch (UTC). For tcpdump text
/// printed without a date it counts from midnight of an unknown day, in the
/// time zone of the machine that printed it: such times are only compared
/// with each other, never with a calendar.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// Seconds and a sub-second fraction given in `units_per_sec` units, as
    /// pcap (µs or ns) and pcapng (any power of 2 or 10) store them.
    pub fn from_parts(secs: i64, frac: u64, units_per_sec: u64) -> Self {
        let frac_ns = if units_per_sec == 0 {
            0
        } else {
            // u128 so that a hostile resolution cannot overflow.
            ((frac as u128 * NANOS_PER_SEC as u128) / units_per_sec as u128) as i64
        };
        Timestamp(secs.saturating_mul(NANOS_PER_SEC).saturating_add(frac_ns))
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    pub fn saturating_add(self, d: TimeDelta) -> Timestamp {
        Timestamp(self.0.saturating_add(d.0))
    }

    /// The time of day, `HH:MM:SS.ffffff`, as tcpdump prints it.
    pub fn time_of_day(self) -> String {
        let day = self.0.rem_euclid(86_400 * NANOS_PER_SEC);
        let secs = day / NANOS_PER_SEC;
        let micros = (day % NANOS_PER_SEC) / 1000;
        format!(
            "{:02}:{:02}:{:02}.{:06}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60,
            micros
        )
    }
}

impl Timestamp {
    /// `YYYY-MM-DD HH:MM:SS.ffffff UTC`, for times counted from the epoch.
    pub fn date_time_utc(self) -> String {
        let days = self.0.div_euclid(86_400 * NANOS_PER_SEC);
        // Howard Hinnant's civil-from-days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}-{m:02}-{d:02} {} UTC", self.time_of_day())
    }
}

impl std::ops::Sub for Timestamp {
    type Output = TimeDelta;
    fn sub(self, rhs: Timestamp) -> TimeDelta {
        TimeDelta(self.0.saturating_sub(rhs.0))
    }
}

/// A time moved by a duration, saturating like the rest of the arithmetic.
impl std::ops::Add<TimeDelta> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: TimeDelta) -> Timestamp {
        Timestamp(self.0.saturating_add(rhs.0))
    }
}

impl std::ops::Sub<TimeDelta> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: TimeDelta) -> Timestamp {
        Timestamp(self.0.saturating_sub(rhs.0))
    }
}

/// Seconds as a float where people read it (JSON reports); exact
/// nanoseconds in binary forms (the parts of a distributed analysis hand
/// conversations on in CBOR, and a float would round them).
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_f64(self.secs_f64())
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let secs = f64::deserialize(d)?;
            Ok(Timestamp((secs * NANOS_PER_SEC as f64).round() as i64))
        } else {
            i64::deserialize(d).map(Timestamp)
        }
    }
}

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "number",
            "description": "Seconds: since the Unix epoch for pcap/pcapng, since midnight of an unknown day for tcpdump text printed without a date."
        })
    }
}

/// A signed span of time in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeDelta(i64);

impl TimeDelta {
    pub const ZERO: TimeDelta = TimeDelta(0);

    pub const fn from_nanos(nanos: i64) -> Self {
        TimeDelta(nanos)
    }
    pub const fn from_millis(ms: i64) -> Self {
        TimeDelta(ms * 1_000_000)
    }
    pub const fn from_secs(s: i64) -> Self {
        TimeDelta(s * NANOS_PER_SEC)
    }
    pub fn from_secs_f64(s: f64) -> Self {
        TimeDelta((s * NANOS_PER_SEC as f64).round() as i64)
    }
    pub const fn nanos(self) -> i64 {
        self.0
    }
    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    pub fn abs(self) -> TimeDelta {
        TimeDelta(self.0.saturating_abs())
    }
}

impl std::ops::Add for TimeDelta {
    type Output = TimeDelta;
    fn add(self, rhs: TimeDelta) -> TimeDelta {
        TimeDelta(self.0.saturating_add(rhs.0))
    }
}

impl std::ops::Sub for TimeDelta {
    type Output = TimeDelta;
    fn sub(self, rhs: TimeDelta) -> TimeDelta {
        TimeDelta(self.0.saturating_sub(rhs.0))
    }
}

/// People read "34.5 s", "2.8 ms", "180 µs": one decimal at the unit that
/// keeps the number between 1 and 1000.
impl fmt::Display for TimeDelta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        let a = ns.unsigned_abs();
        let sign = if ns < 0 { "-" } else { "" };
        if a >= 1_000_000_000 {
            write!(f, "{sign}{:.1} s", a as f64 / 1e9)
        } else if a >= 1_000_000 {
            write!(f, "{sign}{:.1} ms", a as f64 / 1e6)
        } else if a >= 1_000 {
            write!(f, "{sign}{:.0} µs", a as f64 / 1e3)
        } else {
            write!(f, "{sign}{a} ns")
        }
    }
}

/// As [`Timestamp`]: seconds for people, nanoseconds in binary forms.
impl Serialize for TimeDelta {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_f64(self.secs_f64())
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for TimeDelta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            f64::deserialize(d).map(TimeDelta::from_secs_f64)
        } else {
            i64::deserialize(d).map(TimeDelta)
        }
    }
}

impl schemars::JsonSchema for TimeDelta {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TimeDelta".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "number", "description": "A duration in seconds."})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_picks_the_unit() {
        assert_eq!(TimeDelta::from_nanos(34_535_006_000).to_string(), "34.5 s");
        assert_eq!(TimeDelta::from_nanos(2_771_000).to_string(), "2.8 ms");
        assert_eq!(TimeDelta::from_nanos(180_000).to_string(), "180 µs");
        assert_eq!(TimeDelta::from_nanos(-1_500_000_000).to_string(), "-1.5 s");
    }

    #[test]
    fn time_of_day_round_trips_tcpdump_form() {
        let t = Timestamp::from_parts(13 * 3600 + 5 * 60 + 8, 533_163, 1_000_000);
        assert_eq!(t.time_of_day(), "13:05:08.533163");
    }

    #[test]
    fn calendar_dates() {
        assert_eq!(
            Timestamp::from_nanos(0).date_time_utc(),
            "1970-01-01 00:00:00.000000 UTC"
        );
        let t = Timestamp::from_parts(1_700_000_000, 5, 1_000_000);
        assert_eq!(t.date_time_utc(), "2023-11-14 22:13:20.000005 UTC");
    }

    #[test]
    fn hostile_resolution_does_not_overflow() {
        let t = Timestamp::from_parts(i64::MAX, u64::MAX, 1);
        assert!(t.nanos() > 0);
    }
}
