//! Packet capture without tcpdump: an AF_PACKET socket bound to one
//! interface inside a namespace, kernel timestamps (SO_TIMESTAMPNS), frames
//! kept in memory and written as pcapng with the interface's name.

use std::mem::{size_of, zeroed};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

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

const SNAPLEN: usize = 65_535;

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

fn os_err(what: &str) -> LabError {
    LabError::Io {
        what: what.into(),
        source: std::io::Error::last_os_error(),
    }
}

fn capture_loop(
    iface: &str,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<Result<(), LabError>>,
) -> Result<Captured, LabError> {
    let fd = match open_socket(iface) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = ready.send(Err(LabError::Command {
                command: format!("capture on {iface}"),
                detail: e.to_string(),
            }));
            return Err(e);
        }
    };
    let _ = ready.send(Ok(()));
    // On loopback every frame passes twice, outgoing then incoming; keep
    // the incoming copy only, as libpcap does.
    let loopback = iface == "lo";
    let mut frames = Vec::new();
    let mut buf = vec![0u8; SNAPLEN];
    let mut control = [0u8; 64];
    while !stop.load(Ordering::SeqCst) {
        // SAFETY: buffers outlive the call; lengths are theirs.
        unsafe {
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr() as *mut libc::c_void,
                iov_len: buf.len(),
            };
            let mut from: libc::sockaddr_ll = zeroed();
            let mut msg: libc::msghdr = zeroed();
            msg.msg_name = &mut from as *mut _ as *mut libc::c_void;
            msg.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = control.len();
            let n = libc::recvmsg(fd, &mut msg, 0);
            if n < 0 {
                continue; // the 50 ms receive timeout: look at `stop` again
            }
            if loopback && from.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let mut ts = None;
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET
                    && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
                {
                    let t: libc::timespec =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::timespec);
                    ts = Some(Timestamp::from_nanos(t.tv_sec * 1_000_000_000 + t.tv_nsec));
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
            let ts = ts.unwrap_or_else(now);
            frames.push((ts, buf[..n as usize].to_vec()));
        }
    }
    unsafe { libc::close(fd) };
    Ok(Captured {
        interface: iface.to_string(),
        frames,
    })
}

fn now() -> Timestamp {
    let mut t: libc::timespec = unsafe { zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut t) };
    Timestamp::from_nanos(t.tv_sec * 1_000_000_000 + t.tv_nsec)
}

fn open_socket(iface: &str) -> Result<i32, LabError> {
    let name = std::ffi::CString::new(iface).map_err(|_| LabError::Command {
        command: "capture".into(),
        detail: "bad interface name".into(),
    })?;
    // SAFETY: plain socket calls on a descriptor we own.
    unsafe {
        let index = libc::if_nametoindex(name.as_ptr());
        if index == 0 {
            return Err(os_err(&format!("interface {iface}")));
        }
        let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto);
        if fd < 0 {
            return Err(os_err("AF_PACKET socket"));
        }
        let mut sll: libc::sockaddr_ll = zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto as u16;
        sll.sll_ifindex = index as i32;
        if libc::bind(
            fd,
            &sll as *const _ as *const libc::sockaddr,
            size_of::<libc::sockaddr_ll>() as u32,
        ) != 0
        {
            libc::close(fd);
            return Err(os_err(&format!("binding to {iface}")));
        }
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            &one as *const _ as *const libc::c_void,
            size_of::<libc::c_int>() as u32,
        );
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 50_000,
        };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            size_of::<libc::timeval>() as u32,
        );
        Ok(fd)
    }
}
