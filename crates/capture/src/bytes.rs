use std::io::{self, Read};

/// A refillable window over a byte stream with the file offset of its start.
///
/// One buffer is reused for the whole file; it grows only to hold a record
/// larger than itself, and never past the cap the caller checks first, so a
/// length field in a hostile file cannot make us allocate.
pub(crate) struct ByteWindow<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

/// Small files and streams get a small window; a stream that proves long
/// gets [`FULL_WINDOW`], so that reads are large.
pub(crate) const INITIAL_WINDOW: usize = 64 << 10;
pub(crate) const FULL_WINDOW: usize = 1 << 20;

impl<R: Read> ByteWindow<R> {
    pub(crate) fn new(inner: R, prefix: Vec<u8>) -> Self {
        let end = prefix.len();
        let mut buf = prefix;
        buf.resize(INITIAL_WINDOW.max(end), 0);
        ByteWindow {
            inner,
            buf,
            start: 0,
            end,
            offset: 0,
            eof: false,
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Makes at least `n` bytes available; `Ok(false)` when the stream ends first.
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.buf.len() - self.start < n {
                // Slide what is left to the front.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            // Grow by doubling, and only once the buffer is full of real
            // bytes: a length field that lies (a 16 MiB record in a 100-byte
            // file) then costs no more memory than the file. A stream that
            // has outlasted the first window gets the full one.
            if self.offset >= INITIAL_WINDOW as u64 && self.buf.len() < FULL_WINDOW {
                self.buf.resize(FULL_WINDOW, 0);
            }
            if self.end == self.buf.len() && self.buf.len() < n {
                let grown = (self.buf.len() * 2).min(n.next_power_of_two());
                self.buf.resize(grown, 0);
            }
            let got = loop {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(got) => break got,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if got == 0 {
                self.eof = true;
            }
            self.end += got;
        }
        Ok(true)
    }

    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Bytes left in the window after the stream ended (a cut last record).
    pub(crate) fn leftover(&self) -> usize {
        self.end - self.start
    }
}

impl<R> ByteWindow<R> {
    /// The `n` bytes just consumed: lets a reader consume a record first
    /// and then lend it out, with the borrow tied to the reader.
    pub(crate) fn consumed_tail(&self, n: usize) -> &[u8] {
        &self.buf[self.start - n..self.start]
    }
}
