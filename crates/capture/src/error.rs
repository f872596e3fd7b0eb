use std::io;

use serde::Serialize;

/// A capture that could not be read at all, or not past a point.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{file}: cannot open: {source}")]
    Open { file: String, source: io::Error },
    #[error("{file}: read error at byte {offset}: {source}")]
    Read {
        file: String,
        offset: u64,
        source: io::Error,
    },
    #[error("{file}: the file is empty")]
    Empty { file: String },
    #[error(
        "{file}: not a pcap, pcapng or tcpdump text capture: it starts with {start} at byte 0"
    )]
    UnknownFormat { file: String, start: String },
    #[error("{file}: {what} at byte {offset}")]
    Malformed {
        file: String,
        offset: u64,
        what: String,
    },
    #[error(
        "{file}: no tcpdump packet line among its {lines} lines (line {first_line}: \"{excerpt}\")"
    )]
    NoPacketLines {
        file: String,
        lines: u64,
        first_line: u64,
        excerpt: String,
    },
}

/// Where in a file something was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    Byte(u64),
    Line(u64),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Byte(b) => write!(f, "byte {b}"),
            Location::Line(l) => write!(f, "line {l}"),
        }
    }
}

/// Something wrong with the input that did not stop the analysis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Warning {
    pub file: String,
    pub location: Option<Location>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{}: {l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}
