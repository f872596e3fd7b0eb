//! BPF filters with tcpdump's syntax and meaning: compiled by libpcap
//! itself and run by it on each frame (`pcap_compile`,
//! `pcap_offline_filter`), so `'tcp port 110 or port 113'` keeps exactly
//! the frames `tcpdump -r` would, and a mistake gets libpcap's message.
//!
//! libpcap is opened when a filter is asked for (`dlopen`), never linked:
//! `stalltrace analyze` without a filter needs no system library, and a
//! machine without libpcap gets a clear error only when it asks for one.
//! Writing our own compiler would be a second, different reading of the
//! grammar users know from tcpdump; the interpreter is libpcap's too.
//!
//! ```no_run
//! use stalltrace_capture::bpf::BpfFilter;
//! use stalltrace_decode::{tr, Lang, LinkType};
//! let mut f = BpfFilter::new("tcp port 110 or tcp port 113").unwrap();
//! let frame = [0u8; 54];
//! let keep = f.matches(LinkType::ETHERNET, &frame, 54).unwrap();
//! # let _ = keep;
//! ```

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};

use stalltrace_decode::{tr, Lang, LinkType};

/// Why a filter could not be used. libpcap's own message is kept as it
/// wrote it (English), in both languages.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("{}", self.say(Lang::En))]
    NoLibpcap { tried: String },
    #[error("{}", self.say(Lang::En))]
    Syntax { expr: String, message: String },
    #[error("{}", self.say(Lang::En))]
    LinkType {
        expr: String,
        link: u32,
        message: String,
    },
    #[error("{}", self.say(Lang::En))]
    PrintedText { expr: String },
    /// Packet events hold decoded fields, not frames.
    #[error("{}", self.say(Lang::En))]
    Events { expr: String },
}

impl FilterError {
    pub fn say(&self, l: Lang) -> String {
        match self {
            FilterError::NoLibpcap { tried } => tr!(
                l,
                format!("a BPF filter needs libpcap, which is not installed (tried {tried}): install libpcap (Debian: apt-get install libpcap0.8)"),
                format!("BPF 过滤器需要 libpcap，但它没有安装（尝试了 {tried}）：请安装 libpcap（Debian：apt-get install libpcap0.8）")
            ),
            FilterError::Syntax { expr, message } => tr!(
                l,
                format!("filter '{expr}': {message}"),
                format!("过滤器“{expr}”有误：{message}")
            ),
            FilterError::LinkType { expr, link, message } => tr!(
                l,
                format!("filter '{expr}' cannot apply to link type {link}: {message}"),
                format!("过滤器“{expr}”不能用于链路类型 {link}：{message}")
            ),
            FilterError::PrintedText { expr } => tr!(
                l,
                format!("a BPF filter needs the frames of a pcap or pcapng capture; this is tcpdump's printed text: filter when printing (tcpdump -r x.pcap '{expr}'), or use --host, --port, --since, --until"),
                format!("BPF 过滤器需要 pcap 或 pcapng 抓包中的帧；这是 tcpdump 打印的文本：请在打印时过滤（tcpdump -r x.pcap '{expr}'），或使用 --host、--port、--since、--until")
            ),
            FilterError::Events { expr } => tr!(
                l,
                format!("a BPF filter needs the frames of a pcap or pcapng capture; these are packet events: filter when extracting (stalltrace extract --filter '{expr}'), or use --host, --port, --since, --until"),
                format!("BPF 过滤器需要 pcap 或 pcapng 抓包中的帧；这些是包事件：请在提取时过滤（stalltrace extract --filter '{expr}'），或使用 --host、--port、--since、--until")
            ),
        }
    }
}

#[repr(C)]
struct BpfInsn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct BpfProgram {
    bf_len: c_uint,
    bf_insns: *mut BpfInsn,
}

#[repr(C)]
struct Timeval {
    tv_sec: libc::time_t,
    tv_usec: libc::suseconds_t,
}

#[repr(C)]
struct PcapPkthdr {
    ts: Timeval,
    caplen: u32,
    len: u32,
}

type OpenDead = unsafe extern "C" fn(c_int, c_int) -> *mut c_void;
type Compile =
    unsafe extern "C" fn(*mut c_void, *mut BpfProgram, *const c_char, c_int, u32) -> c_int;
type GetErr = unsafe extern "C" fn(*mut c_void) -> *mut c_char;
type FreeCode = unsafe extern "C" fn(*mut BpfProgram);
type Close = unsafe extern "C" fn(*mut c_void);
type OfflineFilter = unsafe extern "C" fn(*const BpfProgram, *const PcapPkthdr, *const u8) -> c_int;

/// libpcap's functions this module calls.
struct Libpcap {
    _lib: libloading::Library,
    open_dead: OpenDead,
    compile: Compile,
    geterr: GetErr,
    freecode: FreeCode,
    close: Close,
    offline_filter: OfflineFilter,
}

/// The names libpcap's runtime library has on the systems we meet:
/// Debian's package installs only the versioned one.
const NAMES: &[&str] = &[
    "libpcap.so.0.8",
    "libpcap.so.1",
    "libpcap.so",
    "libpcap.dylib",
    "libpcap.A.dylib",
];

impl Libpcap {
    fn open() -> Result<Libpcap, FilterError> {
        for name in NAMES {
            // SAFETY: loading libpcap runs no initialiser with preconditions.
            let Ok(lib) = (unsafe { libloading::Library::new(name) }) else {
                continue;
            };
            // SAFETY: the signatures are libpcap's (pcap/pcap.h), stable
            // since libpcap 0.8.
            unsafe {
                let (
                    Ok(open_dead),
                    Ok(compile),
                    Ok(geterr),
                    Ok(freecode),
                    Ok(close),
                    Ok(offline_filter),
                ) = (
                    lib.get::<OpenDead>(b"pcap_open_dead\0").map(|s| *s),
                    lib.get::<Compile>(b"pcap_compile\0").map(|s| *s),
                    lib.get::<GetErr>(b"pcap_geterr\0").map(|s| *s),
                    lib.get::<FreeCode>(b"pcap_freecode\0").map(|s| *s),
                    lib.get::<Close>(b"pcap_close\0").map(|s| *s),
                    lib.get::<OfflineFilter>(b"pcap_offline_filter\0")
                        .map(|s| *s),
                )
                else {
                    continue;
                };
                return Ok(Libpcap {
                    _lib: lib,
                    open_dead,
                    compile,
                    geterr,
                    freecode,
                    close,
                    offline_filter,
                });
            }
        }
        Err(FilterError::NoLibpcap {
            tried: NAMES.join(", "),
        })
    }

    /// The expression compiled for `link` (optimised, as tcpdump does).
    fn compile(&self, expr: &CStr, link: u32) -> Result<Box<BpfProgram>, String> {
        // SAFETY: a dead handle only holds the link type and snaplen;
        // the program is written by pcap_compile and freed in Drop.
        unsafe {
            let handle = (self.open_dead)(dlt(link) as c_int, 262_144);
            if handle.is_null() {
                return Err("libpcap could not open a handle for this link type".into());
            }
            let mut prog = Box::new(BpfProgram {
                bf_len: 0,
                bf_insns: std::ptr::null_mut(),
            });
            // PCAP_NETMASK_UNKNOWN: "ip broadcast" then fails, as in tcpdump -r.
            let rc = (self.compile)(handle, &mut *prog, expr.as_ptr(), 1, 0xffff_ffff);
            let out = if rc != 0 {
                let e = (self.geterr)(handle);
                Err(if e.is_null() {
                    "syntax error".to_string()
                } else {
                    CStr::from_ptr(e).to_string_lossy().to_string()
                })
            } else {
                Ok(prog)
            };
            (self.close)(handle);
            out
        }
    }
}

/// The DLT a pcap_t takes for a file's LINKTYPE: the same number but for
/// the few whose DLT differs between systems (as libpcap's own
/// `linktype_to_dlt` maps them when it reads a file).
fn dlt(linktype: u32) -> u32 {
    match linktype {
        100 => 11, // ATM_RFC1483
        101 => 12, // RAW
        102 => 15, // SLIP_BSDOS
        103 => 16, // PPP_BSDOS
        other => other,
    }
}

/// One filter expression, compiled for each link type it meets.
pub struct BpfFilter {
    expr: String,
    c_expr: CString,
    lib: Libpcap,
    programs: HashMap<u32, Box<BpfProgram>>,
}

// SAFETY: the programs are owned by the filter and only read through
// &mut self; libpcap's filter function keeps no state between calls.
unsafe impl Send for BpfFilter {}

impl BpfFilter {
    /// Compiles `expr` (for Ethernet, to check it at once: a mistake is
    /// an error before any input is read).
    pub fn new(expr: &str) -> Result<BpfFilter, FilterError> {
        let c_expr = CString::new(expr).map_err(|_| FilterError::Syntax {
            expr: expr.into(),
            message: "a NUL byte in the expression".into(),
        })?;
        let lib = Libpcap::open()?;
        let mut f = BpfFilter {
            expr: expr.to_string(),
            c_expr,
            lib,
            programs: HashMap::new(),
        };
        let p = f
            .lib
            .compile(&f.c_expr, LinkType::ETHERNET.0)
            .map_err(|message| FilterError::Syntax {
                expr: expr.into(),
                message,
            })?;
        f.programs.insert(LinkType::ETHERNET.0, p);
        Ok(f)
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Whether the frame passes, `data` as captured and `wire_len` its
    /// length on the wire (libpcap's `caplen` and `len`).
    pub fn matches(
        &mut self,
        link: LinkType,
        data: &[u8],
        wire_len: u32,
    ) -> Result<bool, FilterError> {
        if !self.programs.contains_key(&link.0) {
            let p = self.lib.compile(&self.c_expr, link.0).map_err(|message| {
                FilterError::LinkType {
                    expr: self.expr.clone(),
                    link: link.0,
                    message,
                }
            })?;
            self.programs.insert(link.0, p);
        }
        let prog = &self.programs[&link.0];
        let hdr = PcapPkthdr {
            ts: Timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            caplen: data.len() as u32,
            len: wire_len.max(data.len() as u32),
        };
        // SAFETY: the program was compiled by this libpcap; the filter
        // reads at most caplen bytes of data (it checks every load).
        let r = unsafe { (self.lib.offline_filter)(&**prog, &hdr, data.as_ptr()) };
        Ok(r != 0)
    }
}

impl Drop for BpfFilter {
    fn drop(&mut self) {
        for (_, mut p) in self.programs.drain() {
            // SAFETY: compiled by pcap_compile, freed once.
            unsafe { (self.lib.freecode)(&mut *p) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib_here() -> bool {
        Libpcap::open().is_ok()
    }

    /// tcpdump's grammar, libpcap's messages, and the frames it keeps.
    #[test]
    fn compiles_judges_and_explains() {
        if !lib_here() {
            if std::env::var("STALLTRACE_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
                panic!("libpcap is missing but STALLTRACE_REQUIRE_ROOT_TESTS=1 (scripts/test installs it)");
            }
            eprintln!("\n*** SKIPPED BPF test: no libpcap ***\n");
            return;
        }
        let e = BpfFilter::new("tcp port 110 orr port 113").err().unwrap();
        assert!(e.to_string().contains("syntax error"), "{e}");
        let mut f = BpfFilter::new("tcp port 110 or tcp port 113").unwrap();
        // A raw IPv4 TCP header, ports 42390 → 110.
        let mut ip = vec![
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 10, 198, 51, 100, 25,
        ];
        ip.extend_from_slice(&42390u16.to_be_bytes());
        ip.extend_from_slice(&110u16.to_be_bytes());
        ip.extend_from_slice(&[0; 16]);
        assert!(f.matches(LinkType::RAW, &ip, 40).unwrap());
        ip[22..24].copy_from_slice(&25u16.to_be_bytes());
        assert!(!f.matches(LinkType::RAW, &ip, 40).unwrap());
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        eth[14 + 22..14 + 24].copy_from_slice(&113u16.to_be_bytes());
        assert!(f.matches(LinkType::ETHERNET, &eth, 54).unwrap());
    }
}
