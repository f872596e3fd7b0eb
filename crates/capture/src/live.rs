//! Live capture on one Linux interface: an AF_PACKET socket bound to it,
//! the kernel's receive timestamps (SO_TIMESTAMPNS), its drop counter
//! (PACKET_STATISTICS). Plain `recvmsg` rather than a memory-mapped
//! TPACKET ring: one system call per frame keeps the code small and
//! obviously right, and the bench (BENCHMARKS.md) measures the rate it
//! follows; the kernel's own queue absorbs bursts and counts what it drops.
//!
//! ```no_run
//! use stalltrace_capture::live::LiveSocket;
//! let mut s = LiveSocket::open("eth0").unwrap();
//! if let Some(frame) = s.next().unwrap() {
//!     println!("{} bytes at {:?}", frame.data.len(), frame.ts);
//! }
//! ```

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use stalltrace_decode::Timestamp;

/// Frames are taken whole up to this many bytes (jumbo frames included).
pub const SNAPLEN: usize = 65_535;

/// One frame as the kernel handed it over.
pub struct LiveFrame<'a> {
    pub ts: Timestamp,
    pub data: &'a [u8],
    /// Its length on the wire (more than `data` when longer than SNAPLEN).
    pub wire_len: u32,
}

/// A capture socket on one interface.
pub struct LiveSocket {
    fd: OwnedFd,
    /// On loopback every frame passes twice, outgoing then incoming; the
    /// incoming copy is kept, as libpcap does.
    loopback: bool,
    buf: Vec<u8>,
    control: [u8; 64],
    /// PACKET_STATISTICS resets on every read: the sums so far.
    received: u64,
    dropped: u64,
}

/// The clock's time now.
pub fn now() -> Timestamp {
    // SAFETY: clock_gettime fills the struct it is given.
    let mut t: libc::timespec = unsafe { zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut t) };
    Timestamp::from_nanos(t.tv_sec * 1_000_000_000 + t.tv_nsec)
}

impl LiveSocket {
    /// Binds a socket to `iface`. Needs root or CAP_NET_RAW: without,
    /// the error is `PermissionDenied`. `next` waits at most 50 ms.
    pub fn open(iface: &str) -> io::Result<LiveSocket> {
        let name = std::ffi::CString::new(iface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface name"))?;
        // SAFETY: plain socket calls on a descriptor we own.
        unsafe {
            let index = libc::if_nametoindex(name.as_ptr());
            if index == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no interface named {iface}"),
                ));
            }
            let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
            let raw = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto);
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(raw);
            let mut sll: libc::sockaddr_ll = zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto as u16;
            sll.sll_ifindex = index as i32;
            if libc::bind(
                raw,
                &sll as *const _ as *const libc::sockaddr,
                size_of::<libc::sockaddr_ll>() as u32,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            let one: libc::c_int = 1;
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                &one as *const _ as *const libc::c_void,
                size_of::<libc::c_int>() as u32,
            );
            // A deeper kernel queue: bursts wait there instead of dropping.
            let rcvbuf: libc::c_int = 32 << 20;
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &rcvbuf as *const _ as *const libc::c_void,
                size_of::<libc::c_int>() as u32,
            );
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 50_000,
            };
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                size_of::<libc::timeval>() as u32,
            );
            Ok(LiveSocket {
                fd,
                loopback: iface == "lo",
                buf: vec![0u8; SNAPLEN],
                control: [0; 64],
                received: 0,
                dropped: 0,
            })
        }
    }

    /// The next frame, or `None` when none came within 50 ms.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> io::Result<Option<LiveFrame<'_>>> {
        loop {
            // SAFETY: the buffers outlive the call; lengths are theirs.
            let (n, ts, outgoing) = unsafe {
                let mut iov = libc::iovec {
                    iov_base: self.buf.as_mut_ptr() as *mut libc::c_void,
                    iov_len: self.buf.len(),
                };
                let mut from: libc::sockaddr_ll = zeroed();
                let mut msg: libc::msghdr = zeroed();
                msg.msg_name = &mut from as *mut _ as *mut libc::c_void;
                msg.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = self.control.as_mut_ptr() as *mut libc::c_void;
                msg.msg_controllen = self.control.len();
                // MSG_TRUNC: the frame's real length, also when cut.
                let n = libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC);
                if n < 0 {
                    let e = io::Error::last_os_error();
                    return match e.kind() {
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Ok(None),
                        io::ErrorKind::Interrupted => continue,
                        _ => Err(e),
                    };
                }
                let mut ts = None;
                let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
                while !cmsg.is_null() {
                    if (*cmsg).cmsg_level == libc::SOL_SOCKET
                        && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
                    {
                        let t: libc::timespec = std::ptr::read_unaligned(
                            libc::CMSG_DATA(cmsg) as *const libc::timespec
                        );
                        ts = Some(Timestamp::from_nanos(t.tv_sec * 1_000_000_000 + t.tv_nsec));
                    }
                    cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
                }
                (n as usize, ts, from.sll_pkttype == libc::PACKET_OUTGOING)
            };
            if self.loopback && outgoing {
                continue;
            }
            return Ok(Some(LiveFrame {
                ts: ts.unwrap_or_else(now),
                data: &self.buf[..n.min(SNAPLEN)],
                wire_len: n as u32,
            }));
        }
    }

    /// Frames the kernel passed to this socket and frames it dropped
    /// because the socket's queue was full, since it was opened.
    pub fn stats(&mut self) -> (u64, u64) {
        #[repr(C)]
        struct TpacketStats {
            tp_packets: u32,
            tp_drops: u32,
        }
        let mut st = TpacketStats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `st`.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                &mut st as *mut _ as *mut libc::c_void,
                &mut len,
            )
        };
        if rc == 0 {
            self.received += u64::from(st.tp_packets);
            self.dropped += u64::from(st.tp_drops);
        }
        (self.received, self.dropped)
    }
}
