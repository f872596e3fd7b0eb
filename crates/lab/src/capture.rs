//! Packet capture without tcpdump: a live socket (`stalltrace_capture::live`)
//! on one interface inside a namespace, kernel timestamps, frames kept in
//! memory and written as pcapng with the interface's name.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use stalltrace_capture::live::{LiveSocket, SNAPLEN};
use stalltrace_capture::write::PcapngWriter;
use stalltrace_decode::{LinkType, Timestamp};

use crate::error::{io_err, LabError};
use crate::netns::Netns;

/// Frames captured at one point.
pub struct Captured {
    pub interface: String,
    pub frames: Vec<(Timestamp, Vec<u8>)>,
}

impl Captured {
    pub fn write_pcapng(&self, path: &Path) -> Result<(), LabError> {
        let f =
            std::fs::File::create(path).map_err(io_err(format!("creating {}", path.display())))?;
        let mut w = PcapngWriter::new(std::io::BufWriter::new(f), "stalltrace lab")
            .map_err(io_err("pcapng"))?;
        let i = w
            .add_interface(&self.interface, LinkType::ETHERNET, SNAPLEN as u32)
            .map_err(io_err("pcapng"))?;
        for (ts, data) in &self.frames {
            w.write(i, *ts, data, data.len() as u32)
                .map_err(io_err("pcapng"))?;
        }
        w.flush()
            .map_err(io_err(format!("writing {}", path.display())))
    }
}

/// A capture running on a thread in `ns`, on `interface`, until stopped.
pub struct Capture {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<Captured, LabError>>,
}

impl Capture {
    /// Starts capturing and returns once the socket is bound, so that no
    /// packet sent afterwards is missed.
    pub fn start(ns: &Netns, interface: &str) -> Result<Capture, LabError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let iface = interface.to_string();
        let s = stop.clone();
        let handle = ns.spawn(move || capture_loop(&iface, s, ready_tx));
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Capture { stop, handle }),
            Ok(Err(e)) => Err(e),
            Err(_) => match handle.join() {
                Ok(Err(e)) => Err(e),
                _ => Err(LabError::Command {
                    command: "capture".into(),
                    detail: "capture thread ended early".into(),
                }),
            },
        }
    }

    pub fn stop(self) -> Result<Captured, LabError> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().map_err(|_| LabError::Command {
            command: "capture".into(),
            detail: "capture thread panicked".into(),
        })?
    }
}

fn capture_loop(
    iface: &str,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<Result<(), LabError>>,
) -> Result<Captured, LabError> {
    let mut sock = match LiveSocket::open(iface) {
        Ok(s) => s,
        Err(source) => {
            let e = LabError::Io {
                what: format!("capture on {iface}"),
                source,
            };
            let _ = ready.send(Err(LabError::Command {
                command: format!("capture on {iface}"),
                detail: e.to_string(),
            }));
            return Err(e);
        }
    };
    let _ = ready.send(Ok(()));
    let mut frames = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        // None: the 50 ms receive timeout, look at `stop` again.
        if let Ok(Some(f)) = sock.next() {
            frames.push((f.ts, f.data.to_vec()));
        }
    }
    Ok(Captured {
        interface: iface.to_string(),
        frames,
    })
}
