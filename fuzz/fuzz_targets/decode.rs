#![no_main]
//! The frame decoder: the first byte picks the link type.
use libfuzzer_sys::fuzz_target;
use stalltrace_decode::{decode_frame, FrameMeta, LinkType};

fuzz_target!(|data: &[u8]| {
    let links = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];
    let Some((&pick, frame)) = data.split_first() else { return };
    let _ = decode_frame(LinkType(links[usize::from(pick) % links.len()]), frame, FrameMeta::default());
});
