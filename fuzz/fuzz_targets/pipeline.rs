#![no_main]
//! The whole pipeline on a byte stream: read, decode, track, match,
//! diagnose, and render every report format.
use libfuzzer_sys::fuzz_target;
use stalltrace::analyze::{analyze_readers, AnalyzeOptions, InputSpec};
use stalltrace_capture::CaptureReader;
use stalltrace_diagnosis::Lang;

fuzz_target!(|data: &[u8]| {
    // Two capture points when the input says so, to reach the matching.
    let (a, b) = data.split_at(data.len() / 2);
    let inputs: Vec<&[u8]> = if data.first() == Some(&b'2') { vec![a, b] } else { vec![data] };
    let mut readers = Vec::new();
    for (i, bytes) in inputs.into_iter().enumerate() {
        if let Ok(r) = CaptureReader::from_reader(&format!("in{i}"), Box::new(std::io::Cursor::new(bytes.to_vec()))) {
            readers.push((InputSpec::new(format!("in{i}")), r));
        }
    }
    let lang = if data.len() % 2 == 0 { Lang::En } else { Lang::ZhCn };
    let opts = AnalyzeOptions::default();
    let analysis = analyze_readers(readers, &opts);
    let r = &analysis.report;
    let _ = stalltrace_report::text::render(r, &stalltrace_report::text::TextOptions { width: 80, color: true, lang });
    let _ = stalltrace_report::html::render(r, lang);
    let mut buf = Vec::new();
    let _ = stalltrace_report::json::write(r, lang, &mut buf);
});
