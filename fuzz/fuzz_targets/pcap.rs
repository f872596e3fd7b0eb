#![no_main]
//! Classic pcap: the input after a valid magic (either byte order, µs/ns).
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let magic: [[u8; 4]; 4] = [[0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [0x34, 0xcd, 0xb2, 0xa1]];
    let Some((&pick, rest)) = data.split_first() else { return };
    let mut v = magic[usize::from(pick) % magic.len()].to_vec();
    v.extend_from_slice(rest);
    common::read_all(v);
});
