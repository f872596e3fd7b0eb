//! Packet events as another engine hands them back: Spark's Arrow stream
//! to a task, pyarrow after a shuffle. The same columns by name, their
//! types as that engine keeps them (Spark has no unsigned integers: a
//! `u16` comes back as a 32-bit int, a `u64` as a decimal; its times carry
//! the session's time zone), and more columns of its own beside them.
//! [`conform`] casts them back to the events schema, so that [`packet`]
//! reads a row as the packet it was.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let stdin = std::io::stdin().lock();
//! for batch in stalltrace_events::ipc_batches(stdin)? {
//!     let batch = batch?;
//!     let events = stalltrace_events::conform(&batch)?;
//!     for r in 0..events.num_rows() {
//!         let p = stalltrace_events::packet(&events, r)?;
//!         println!("{} {}", p.meta.number, p.src);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::io::Read;

use arrow_array::RecordBatch;

use crate::schema::schema;

/// What keeps a foreign batch from being read as packet events.
#[derive(Debug, thiserror::Error)]
pub enum ForeignError {
    #[error("the column '{0}' of the packet events is missing")]
    Missing(String),
    #[error("the column '{column}' cannot be read as the events' {want}: {why}")]
    Type {
        column: String,
        want: String,
        why: String,
    },
    #[error("row {row}: {what} is missing")]
    Row { row: usize, what: &'static str },
    #[error("the Arrow stream: {0}")]
    Stream(String),
}

/// The events' columns of `b`, by name and in the events' order, cast to
/// the events' types; the other columns left out.
pub fn conform(b: &RecordBatch) -> Result<RecordBatch, ForeignError> {
    let want = schema();
    let mut columns = Vec::with_capacity(want.fields().len());
    for f in want.fields() {
        let col = b
            .column_by_name(f.name())
            .ok_or_else(|| ForeignError::Missing(f.name().clone()))?;
        let cast = if col.data_type() == f.data_type() {
            col.clone()
        } else {
            arrow_cast::cast(col, f.data_type()).map_err(|e| ForeignError::Type {
                column: f.name().clone(),
                want: f.data_type().to_string(),
                why: e.to_string(),
            })?
        };
        columns.push(cast);
    }
    RecordBatch::try_new(want, columns).map_err(|e| ForeignError::Type {
        column: "*".into(),
        want: "the events schema".into(),
        why: e.to_string(),
    })
}

/// Row `r` of a conformed batch as the packet it was.
pub fn packet(b: &RecordBatch, r: usize) -> Result<stalltrace_decode::Packet, ForeignError> {
    crate::read::row(b, r).map_err(|what| ForeignError::Row { row: r, what })
}

/// The record batches of an Arrow IPC stream (what pyarrow's
/// `ipc.new_stream` writes).
pub fn ipc_batches(
    r: impl Read,
) -> Result<impl Iterator<Item = Result<RecordBatch, ForeignError>>, ForeignError> {
    let reader = arrow_ipc::reader::StreamReader::try_new(r, None)
        .map_err(|e| ForeignError::Stream(e.to_string()))?;
    Ok(reader.map(|b| b.map_err(|e| ForeignError::Stream(e.to_string()))))
}
