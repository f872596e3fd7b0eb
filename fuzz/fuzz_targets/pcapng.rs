#![no_main]
//! pcapng: the input after a section header block's type.
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut v = vec![0x0a, 0x0d, 0x0d, 0x0a];
    v.extend_from_slice(data.get(4..).unwrap_or(&[]));
    common::read_all(v);
});
