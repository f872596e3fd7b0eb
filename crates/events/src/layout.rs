//! Where events go: `DIR/point=NAME/hour=YYYY-MM-DDTHH/part-N.parquet`,
//! Hive-style partition folders (Spark, DuckDB and DataFusion read the
//! point and the hour from them), with a manifest beside.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stalltrace_decode::Timestamp;

/// The manifest's name, in the events folder.
/// Its name starts with `_`: Spark, Hive and Arrow skip such files when
/// they read the folder as a data set.
pub const MANIFEST: &str = "_stalltrace-events.json";

/// What an events folder holds, in its manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// "stalltrace-events".
    pub format: String,
    pub version: u32,
    pub points: Vec<PointEntry>,
}

/// One capture point's events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointEntry {
    pub name: String,
    /// Its folder, relative to the manifest (`point=NAME`).
    pub dir: String,
    /// The capture it was read from.
    pub file: String,
    /// The capture's name for the interface (pcapng), as `analyze` of the
    /// capture reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    pub packets: u64,
    pub files: u64,
    pub bytes: u64,
    /// Frames of the capture that were no IP packet, by reason (what
    /// `analyze` of the capture warns about): kept so that the events say
    /// what they lack.
    #[serde(default)]
    pub skipped: Vec<(stalltrace_capture::SkipReason, u64)>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Option<Manifest> {
        let text = std::fs::read_to_string(dir.join(MANIFEST)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// A folder of packet events: it has a manifest.
pub fn is_events_dir(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

/// Hive's escaping of a partition value, as Spark undoes it
/// (`ExternalCatalogUtils.escapePathName`): a point named `fw:eth1` is
/// folder `point=fw%3Aeth1`.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_control() || "\"#%'*/:=?\\{[]^".contains(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The folder of a point's events.
pub fn point_dir(out: &Path, point: &str) -> PathBuf {
    out.join(format!("point={}", escape(point)))
}

/// Hours since the epoch of a time (UTC).
pub fn hour_of(ts: Timestamp) -> i64 {
    ts.nanos().div_euclid(3_600_000_000_000)
}

/// The hour's folder value: `2026-12-03T02` (UTC).
pub fn hour_name(hour: i64) -> String {
    let days = hour.div_euclid(24);
    let (y, m, d) = civil(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}", hour.rem_euclid(24))
}

/// Year, month, day of a day count since 1970-01-01: Howard Hinnant's
/// `civil_from_days` (public domain), which a date crate would bring in
/// for this one call.
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_named_as_dates() {
        // 2026-12-03 02:17:46 UTC.
        let ts = Timestamp::from_nanos(1_796_264_266_000_000_000);
        assert_eq!(hour_name(hour_of(ts)), "2026-12-03T02");
        assert_eq!(hour_name(0), "1970-01-01T00");
        assert_eq!(hour_name(-1), "1969-12-31T23");
        // A leap day.
        assert_eq!(
            hour_name(hour_of(Timestamp::from_nanos(951_782_400_000_000_000))),
            "2000-02-29T00"
        );
    }

    #[test]
    fn point_names_are_escaped_as_hive_does() {
        assert_eq!(escape("fw:eth1"), "fw%3Aeth1");
        assert_eq!(escape("a/b=c d"), "a%2Fb%3Dc d");
        assert_eq!(escape("inside"), "inside");
    }
}
