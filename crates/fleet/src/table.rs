//! stalltrace's JSON reports (`analyze --json`, best with `--each`) into
//! one table of findings, a row per finding, for SQL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, RecordBatch, StringBuilder,
    TimestampNanosecondBuilder, UInt16Builder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use serde_json::Value;

/// The `findings` table's columns.
pub fn schema() -> Arc<Schema> {
    let f = |n: &str, t: DataType, null: bool| Field::new(n, t, null);
    Arc::new(Schema::new(vec![
        f("report", DataType::Utf8, false),
        f("rule", DataType::Utf8, false),
        f("severity", DataType::Utf8, false),
        f("point", DataType::Utf8, false),
        f(
            "at",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        f("cost_s", DataType::Float64, true),
        // A finding told once for many conversations: how many, and what
        // they cost in all (1 and cost_s with --each).
        f("sessions", DataType::UInt64, false),
        f("total_cost_s", DataType::Float64, true),
        f("protocol", DataType::Utf8, true),
        f("client", DataType::Utf8, true),
        f("server", DataType::Utf8, true),
        f("server_host", DataType::Utf8, true),
        f("server_port", DataType::UInt16, true),
        f("service", DataType::Utf8, true),
        // What the wait was about (a greeting, an answer) and the lookups
        // the server made meanwhile ("ident", "dns-ptr", ...).
        f("wait", DataType::Utf8, true),
        f("cause", DataType::Utf8, true),
        // Where along the path a packet was lost: seen at `reached`, never
        // at `missed`.
        f("dropped", DataType::Boolean, false),
        f("dropped_what", DataType::Utf8, true),
        f("reached", DataType::Utf8, true),
        f("missed", DataType::Utf8, true),
    ]))
}

/// Reports read, files left out (not a stalltrace report), and the rows.
pub struct Loaded {
    pub reports: usize,
    pub left_out: Vec<(PathBuf, String)>,
    pub batch: RecordBatch,
}

/// Reads every `.json` file under the paths given (files or folders).
pub fn load(paths: &[PathBuf]) -> anyhow::Result<Loaded> {
    let mut files = Vec::new();
    for p in paths {
        walk(p, &mut files)?;
    }
    files.sort();
    let mut rows = Rows::default();
    let mut reports = 0;
    let mut left_out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                left_out.push((file, format!("not JSON: {e}")));
                continue;
            }
        };
        if v["tool"]["name"] != "stalltrace" || !v["findings"].is_array() {
            left_out.push((file, "not a stalltrace report".into()));
            continue;
        }
        reports += 1;
        let name = file.display().to_string();
        for f in v["findings"].as_array().into_iter().flatten() {
            rows.push(&name, f);
        }
    }
    Ok(Loaded {
        reports,
        left_out,
        batch: rows.finish(),
    })
}

fn walk(p: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if p.is_dir() {
        for e in std::fs::read_dir(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))? {
            walk(&e?.path(), out)?;
        }
    } else if p.extension().is_some_and(|x| x == "json") || !p.exists() {
        // A path that does not exist is an error when read.
        out.push(p.to_path_buf());
    }
    Ok(())
}

#[derive(Default)]
struct Rows {
    report: StringBuilder,
    rule: StringBuilder,
    severity: StringBuilder,
    point: StringBuilder,
    at: TimestampNanosecondBuilder,
    cost: Float64Builder,
    sessions: UInt64Builder,
    total: Float64Builder,
    protocol: StringBuilder,
    client: StringBuilder,
    server: StringBuilder,
    server_host: StringBuilder,
    server_port: UInt16Builder,
    service: StringBuilder,
    wait: StringBuilder,
    cause: StringBuilder,
    dropped: BooleanBuilder,
    dropped_what: StringBuilder,
    reached: StringBuilder,
    missed: StringBuilder,
}

/// "192.0.2.1:110" or "[2001:db8::1]:110" into host and port.
fn split_endpoint(s: &str) -> (String, Option<u16>) {
    match s.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() && (!h.contains(':') || h.starts_with('[')) => (
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse().ok(),
        ),
        _ => (s.to_string(), None),
    }
}

impl Rows {
    fn push(&mut self, report: &str, f: &Value) {
        let s = |v: &Value| v.as_str().map(str::to_string);
        self.report.append_value(report);
        self.rule.append_value(f["id"].as_str().unwrap_or("?"));
        self.severity
            .append_value(f["severity"].as_str().unwrap_or("?"));
        self.point.append_value(f["point"].as_str().unwrap_or("?"));
        let at = f["evidence"][0]["time"].as_f64();
        // Reports give seconds as a float: whole microseconds, as captured.
        self.at
            .append_option(at.map(|t| (t * 1e6).round() as i64 * 1000));
        let cost = f["cost"].as_f64();
        self.cost.append_option(cost);
        let repeats = &f["repeats"];
        self.sessions
            .append_value(repeats["count"].as_u64().unwrap_or(1));
        self.total
            .append_option(repeats["total_cost"].as_f64().or(cost));
        let c = &f["conversation"];
        self.protocol.append_option(s(&c["protocol"]));
        self.client.append_option(s(&c["client"]));
        let server = s(&c["server"]);
        let (host, port) = server
            .as_deref()
            .map(split_endpoint)
            .map_or((None, None), |(h, p)| (Some(h), p));
        self.server.append_option(server);
        self.server_host.append_option(host);
        self.server_port.append_option(port);
        self.service.append_option(s(&c["service"]));
        self.wait.append_option(s(&f["facts"]["kind"]));
        let callbacks: Vec<String> = f["facts"]["callbacks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["kind"].as_str().map(str::to_string))
            .collect();
        self.cause
            .append_option((!callbacks.is_empty()).then(|| callbacks.join(",")));
        let drop = f["path"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["verdict"] == "dropped");
        self.dropped.append_value(drop.is_some());
        self.dropped_what
            .append_option(drop.and_then(|d| s(&d["attempt"])));
        self.reached
            .append_option(drop.and_then(|d| s(&d["reached"])));
        self.missed
            .append_option(drop.and_then(|d| s(&d["missed"])));
    }

    fn finish(mut self) -> RecordBatch {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.report.finish()),
            Arc::new(self.rule.finish()),
            Arc::new(self.severity.finish()),
            Arc::new(self.point.finish()),
            Arc::new(self.at.finish().with_timezone("UTC")),
            Arc::new(self.cost.finish()),
            Arc::new(self.sessions.finish()),
            Arc::new(self.total.finish()),
            Arc::new(self.protocol.finish()),
            Arc::new(self.client.finish()),
            Arc::new(self.server.finish()),
            Arc::new(self.server_host.finish()),
            Arc::new(self.server_port.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.wait.finish()),
            Arc::new(self.cause.finish()),
            Arc::new(self.dropped.finish()),
            Arc::new(self.dropped_what.finish()),
            Arc::new(self.reached.finish()),
            Arc::new(self.missed.finish()),
        ];
        RecordBatch::try_new(schema(), cols).expect("the columns match the schema")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints_split_into_host_and_port() {
        use super::split_endpoint as s;
        assert_eq!(s("192.0.2.1:110"), ("192.0.2.1".into(), Some(110)));
        assert_eq!(s("[2001:db8::1]:25"), ("2001:db8::1".into(), Some(25)));
        assert_eq!(
            s("220.xxx.160.xxx:110"),
            ("220.xxx.160.xxx".into(), Some(110))
        );
    }
}
