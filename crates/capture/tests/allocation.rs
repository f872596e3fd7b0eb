//! A length field that lies must not make the reader allocate what it
//! claims: memory follows the bytes actually present.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use stalltrace_capture::CaptureReader;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Ordering::SeqCst) + l.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::SeqCst);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn peak_while_reading(bytes: Vec<u8>) -> usize {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let mut r = CaptureReader::from_reader("lie", Box::new(std::io::Cursor::new(bytes))).unwrap();
    while let Ok(Some(_)) = r.next() {}
    let w = r.take_warnings();
    assert!(!w.is_empty(), "the cut is reported");
    PEAK.load(Ordering::SeqCst) - before
}

#[test]
fn a_record_claiming_15_mib_in_a_tiny_file_costs_kilobytes() {
    // pcap header, then a record header claiming 15 MiB, then 10 bytes.
    let mut pcap = vec![
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    ];
    pcap.extend_from_slice(&[0; 8]);
    pcap.extend_from_slice(&(15u32 << 20).to_le_bytes());
    pcap.extend_from_slice(&(15u32 << 20).to_le_bytes());
    pcap.extend_from_slice(&[7; 10]);
    let peak = peak_while_reading(pcap);
    assert!(peak < 512 << 10, "peak allocation {peak} bytes");
}

#[test]
fn a_pcapng_block_claiming_15_mib_costs_kilobytes() {
    let mut ng = Vec::new();
    for v in [
        0x0A0D0D0Au32,
        28,
        0x1A2B3C4D,
        1,
        0xffff_ffff,
        0xffff_ffff,
        28,
    ] {
        ng.extend_from_slice(&v.to_le_bytes());
    }
    for v in [1u32, 20, 1, 0, 20] {
        ng.extend_from_slice(&v.to_le_bytes());
    }
    ng.extend_from_slice(&6u32.to_le_bytes());
    ng.extend_from_slice(&(15u32 << 20).to_le_bytes());
    ng.extend_from_slice(&[1; 40]);
    let peak = peak_while_reading(ng);
    assert!(peak < 512 << 10, "peak allocation {peak} bytes");
}
