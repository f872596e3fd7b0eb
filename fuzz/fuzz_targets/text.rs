#![no_main]
//! tcpdump text: the input with NULs taken out (they make it binary).
use libfuzzer_sys::fuzz_target;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let v: Vec<u8> = data.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
    common::read_all(v);
});
