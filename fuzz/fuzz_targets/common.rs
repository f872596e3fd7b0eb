// Shared by the reader targets: read every record, decode every frame.
use stalltrace_capture::{CaptureReader, Record};
use stalltrace_decode::decode_frame;

pub fn read_all(bytes: Vec<u8>) {
    let Ok(mut r) = CaptureReader::from_reader("fuzz", Box::new(std::io::Cursor::new(bytes))) else {
        return;
    };
    // A reader must end: after an error or `None`, stop.
    for _ in 0..1_000_000 {
        match r.next() {
            Ok(Some(Record::Frame(f))) => {
                let _ = decode_frame(f.link, f.data, f.meta);
            }
            Ok(Some(Record::Packet(_))) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let _ = r.take_warnings();
}
