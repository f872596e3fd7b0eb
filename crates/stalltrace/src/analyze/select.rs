//! Which packets to analyse: `--host`, `--port`, `--since`, `--until`, on
//! decoded packets of any input (printed text too); the BPF `--filter`
//! acts earlier, on raw frames (`stalltrace_capture::bpf`).
//!
//! ```
//! use stalltrace::analyze::{Select, TimeBound};
//! let s = Select {
//!     hosts: vec!["192.0.2.10".parse().unwrap()],
//!     ports: vec![110, 113],
//!     since: Some(TimeBound::parse("+30").unwrap()),
//!     until: Some(TimeBound::parse("13:05:40").unwrap()),
//! };
//! assert!(!s.is_empty());
//! ```

use stalltrace_decode::{Host, Packet, TimeDelta, Timestamp, Transport};

/// Packets kept: with one of `hosts` at either end (any, when empty),
/// one of `ports` at either end (any, when empty), between `since` and
/// `until`.
#[derive(Clone, Debug, Default)]
pub struct Select {
    pub hosts: Vec<Host>,
    pub ports: Vec<u16>,
    pub since: Option<TimeBound>,
    pub until: Option<TimeBound>,
}

/// A time as the user gives it.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum TimeBound {
    /// `2009-11-10 13:05:08` or `2009-11-10T13:05:08.5` (UTC), or seconds
    /// since the epoch (`1257858308`).
    At(Timestamp),
    /// `13:05:08`: that time (UTC) on the day of the first packet, as a
    /// printout without a date shows it.
    TimeOfDay(TimeDelta),
    /// `+30`, `+1.5`: seconds after the first packet of all the inputs.
    After(TimeDelta),
}

impl TimeBound {
    pub fn parse(s: &str) -> Result<TimeBound, String> {
        let bad = || {
            format!(
                "'{s}' is not a time: use HH:MM:SS[.frac] (UTC, the capture's day), YYYY-MM-DD HH:MM:SS[.frac] (UTC), seconds since the epoch, or +SECONDS after the first packet"
            )
        };
        let s = s.trim();
        if let Some(rel) = s.strip_prefix('+') {
            let v: f64 = rel.parse().map_err(|_| bad())?;
            if !(0.0..1e9).contains(&v) {
                return Err(bad());
            }
            return Ok(TimeBound::After(TimeDelta::from_secs_f64(v)));
        }
        let clock = |t: &str| -> Option<TimeDelta> {
            let mut it = t.split(':');
            let (h, m, sec) = (it.next()?, it.next()?, it.next()?);
            if it.next().is_some() {
                return None;
            }
            let h: u32 = h.parse().ok().filter(|h| *h < 24)?;
            let m: u32 = m.parse().ok().filter(|m| *m < 60)?;
            let sec: f64 = sec.parse().ok().filter(|s: &f64| (0.0..61.0).contains(s))?;
            Some(TimeDelta::from_secs_f64(f64::from(h * 3600 + m * 60) + sec))
        };
        if let Some((date, time)) = s.split_once([' ', 'T']) {
            let mut d = date.split('-');
            let (Some(y), Some(mo), Some(da), None) = (d.next(), d.next(), d.next(), d.next())
            else {
                return Err(bad());
            };
            let (y, mo, da): (i64, u32, u32) = (
                y.parse().map_err(|_| bad())?,
                mo.parse().map_err(|_| bad())?,
                da.parse().map_err(|_| bad())?,
            );
            if !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
                return Err(bad());
            }
            let tod = clock(time.trim_end_matches('Z')).ok_or_else(bad)?;
            let days = days_from_civil(y, mo, da);
            return Ok(TimeBound::At(Timestamp::from_nanos(
                days * 86_400_000_000_000 + tod.nanos(),
            )));
        }
        if s.contains(':') {
            return clock(s).map(TimeBound::TimeOfDay).ok_or_else(bad);
        }
        let v: f64 = s.parse().map_err(|_| bad())?;
        if !(0.0..1e11).contains(&v) {
            return Err(bad());
        }
        Ok(TimeBound::At(Timestamp::from_nanos((v * 1e9) as i64)))
    }

    /// The instant, given the first packet of all the inputs.
    fn resolve(self, first: Timestamp) -> Timestamp {
        match self {
            TimeBound::At(t) => t,
            TimeBound::After(d) => first + d,
            TimeBound::TimeOfDay(tod) => {
                let day = first.nanos().div_euclid(86_400_000_000_000) * 86_400_000_000_000;
                Timestamp::from_nanos(day) + tod
            }
        }
    }
}

/// Days since 1970-01-01 of a date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Select {
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
            && self.ports.is_empty()
            && self.since.is_none()
            && self.until.is_none()
    }

    /// Whether `p` is kept; `first` is the first packet of all the inputs.
    pub(super) fn keeps(&self, p: &Packet, first: Timestamp) -> bool {
        if !self.hosts.is_empty() && !self.hosts.iter().any(|h| *h == p.src || *h == p.dst) {
            return false;
        }
        if !self.ports.is_empty() {
            let ports = match &p.transport {
                Transport::Tcp(t) => Some((t.src_port, t.dst_port)),
                Transport::Udp(u) => Some((u.src_port, u.dst_port)),
                // An ICMP error is kept when the packet it quotes is.
                Transport::Icmp(i) => i
                    .quoted
                    .as_ref()
                    .map(|q| (q.src_port.unwrap_or(0), q.dst_port.unwrap_or(0))),
                Transport::Other { .. } => None,
            };
            let Some((a, b)) = ports else {
                return false;
            };
            if !self.ports.iter().any(|&x| x == a || x == b) {
                return false;
            }
        }
        let t = p.meta.ts;
        if self.since.is_some_and(|s| t < s.resolve(first)) {
            return false;
        }
        if self.until.is_some_and(|u| t > u.resolve(first)) {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_people_write_them() {
        let t = TimeBound::parse("2009-11-10 13:05:08.5").unwrap();
        assert_eq!(
            t,
            TimeBound::At(Timestamp::from_nanos(1_257_858_308_500_000_000))
        );
        assert_eq!(TimeBound::parse("2009-11-10T13:05:08.5Z").unwrap(), t);
        assert_eq!(
            TimeBound::parse("1257858308.5").unwrap(),
            TimeBound::At(Timestamp::from_nanos(1_257_858_308_500_000_000))
        );
        let tod = TimeBound::parse("13:05:08").unwrap();
        assert_eq!(tod, TimeBound::TimeOfDay(TimeDelta::from_secs(47_108)));
        // On the first packet's day.
        let first = Timestamp::from_nanos(1_257_858_000_000_000_000);
        assert_eq!(
            tod.resolve(first),
            Timestamp::from_nanos(1_257_858_308_000_000_000)
        );
        assert_eq!(
            TimeBound::parse("+30").unwrap().resolve(first),
            first + TimeDelta::from_secs(30)
        );
        for bad in ["25:00:00", "soon", "2009-13-01 00:00:00", "+x", "13:05"] {
            assert!(TimeBound::parse(bad).is_err(), "{bad}");
        }
    }
}
