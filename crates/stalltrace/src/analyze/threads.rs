//! The two sides on one thread, or each on its own: batches of items in
//! stream order through a bounded channel, so the report is the same byte
//! for byte either way and memory stays bounded.

use stalltrace_capture::CaptureError;

use super::analyser::Analyser;
use super::inputs::Source;
use super::merge::{Item, Reader, BATCH};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::thread::ScopedJoinHandle;

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
        let (full_rx, empty_tx, reading) = spawn_reader(scope, reader);
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

/// What the reading thread gives back when it ends.
pub(super) type ReaderEnd = (Vec<CaptureError>, Vec<Source>);

/// Full batches with the bytes read by then, the way back for emptied
/// ones, and the reading thread.
pub(super) type ReadingSide<'scope> = (
    Receiver<(Vec<Item>, u64)>,
    Sender<Vec<Item>>,
    ScopedJoinHandle<'scope, ReaderEnd>,
);

/// Starts the reading side on a thread of its own, a few batches ahead
/// (so memory stays bounded): full batches come out of the receiver with
/// the bytes read by then; emptied ones go back through the sender.
pub(super) fn spawn_reader<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    mut reader: Reader,
) -> ReadingSide<'scope> {
    let (full_tx, full_rx) = sync_channel::<(Vec<Item>, u64)>(4);
    let (empty_tx, empty_rx) = channel::<Vec<Item>>();
    let reading = std::thread::Builder::new()
        .name("reader".into())
        .spawn_scoped(scope, move || {
            loop {
                let mut batch = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                let more = reader.fill(&mut batch, BATCH);
                // A send fails only when the analysing side is gone (it
                // panicked): stop reading too.
                if full_tx.send((batch, reader.bytes_read())).is_err() || !more {
                    break;
                }
            }
            (reader.errors, reader.sources)
        })
        .expect("a thread can be started");
    (full_rx, empty_tx, reading)
}
