//! The two sides on one thread, or each on its own: batches of items in
//! stream order through a bounded channel, so the report is the same byte
//! for byte either way and memory stays bounded.

use stalltrace_capture::CaptureError;

use super::analyser::Analyser;
use super::inputs::Source;
use super::merge::{Item, Reader, BATCH};

/// Runs the reading side into the analysing side: on this thread, or on a
/// thread of its own a few batches ahead (so memory stays bounded).
pub(super) fn run(
    mut reader: Reader,
    an: &mut Analyser,
    threads: usize,
) -> (Vec<CaptureError>, Vec<Source>) {
    if threads <= 1 {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let more = reader.fill(&mut batch, BATCH);
            let read = reader.bytes_read();
            an.take_batch(&mut batch, read);
            batch.clear();
            if !more {
                return (reader.errors, reader.sources);
            }
        }
    }
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(Vec<Item>, u64)>(4);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<Item>>();
        let reading = std::thread::Builder::new()
            .name("reader".into())
            .spawn_scoped(scope, move || {
                loop {
                    let mut batch = empty_rx
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                    let more = reader.fill(&mut batch, BATCH);
                    // A send fails only when the analysing side is gone
                    // (it panicked): stop reading too.
                    if full_tx.send((batch, reader.bytes_read())).is_err() || !more {
                        break;
                    }
                }
                (reader.errors, reader.sources)
            })
            .expect("a thread can be started");
        for (mut batch, read) in full_rx {
            an.take_batch(&mut batch, read);
            batch.clear();
            let _ = empty_tx.send(batch);
        }
        match reading.join() {
            Ok(errors) => errors,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
