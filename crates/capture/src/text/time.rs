//! Time stamps in every form tcpdump prints.

pub(super) const NANOS: i64 = 1_000_000_000;
pub(super) const DAY: i64 = 86_400 * NANOS;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum TimeForm {
    /// `-t`: no time printed.
    None,
    /// Default: time of day.
    TimeOfDay,
    /// `-tt`: seconds since the epoch.
    Epoch,
    /// `-tttt`: date and time.
    DateTime,
}

/// Splits a leading time stamp off; returns the form, the raw value in ns
/// and the rest of the line.
pub(super) fn split_time(s: &str) -> Option<(TimeForm, i64, &str)> {
    let (first, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    // -tttt: "2004-11-11 13:05:08.533163"
    if first.len() == 10 && first.as_bytes()[4] == b'-' && first.as_bytes()[7] == b'-' {
        let (tod, rest2) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let t = parse_tod(tod)?;
        let days = days_from_civil(
            digits(&first[0..4])?,
            digits(&first[5..7])?,
            digits(&first[8..10])?,
        )?;
        return Some((
            TimeForm::DateTime,
            days.checked_mul(DAY)?.checked_add(t)?,
            rest2,
        ));
    }
    if first.contains(':') {
        let t = parse_tod(first)?;
        return Some((TimeForm::TimeOfDay, t, rest));
    }
    // -tt: "1100149508.533163"; old -ttt printed a bare "000069" or ".000069".
    let (secs, frac) = first.split_once('.')?;
    if !secs.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.is_empty()
    {
        return None;
    }
    let secs: i64 = if secs.is_empty() {
        0
    } else {
        secs.parse().ok()?
    };
    Some((
        TimeForm::Epoch,
        secs.checked_mul(NANOS)?.checked_add(parse_frac(frac)?)?,
        rest,
    ))
}

pub(super) fn parse_frac(f: &str) -> Option<i64> {
    if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = f.parse().ok()?;
    Some(v * 10i64.pow(9 - f.len() as u32))
}

pub(super) fn digits(s: &str) -> Option<i64> {
    // Digits only: a sign or a space is not a time, and 12 digits is
    // already far past any field tcpdump prints.
    if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub(super) fn parse_tod(s: &str) -> Option<i64> {
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut it = hms.split(':');
    // tcpdump prints "%02d:%02d:%02d": "13:05:1.9" is damage (a hand edit,
    // a cut), not 13:05:01, and is left out with a warning.
    let two = |f: &str| if f.len() == 2 { digits(f) } else { None };
    let h = it.next().filter(|f| f.len() >= 2).and_then(digits)?;
    let m = two(it.next()?)?;
    let sec = two(it.next()?)?;
    if it.next().is_some() || m > 59 || sec > 60 || h > 99_999 {
        return None;
    }
    let f = if frac.is_empty() {
        0
    } else {
        parse_frac(frac)?
    };
    Some(((h * 60 + m) * 60 + sec) * NANOS + f)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}
