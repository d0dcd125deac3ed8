//! Reading lines with a size cap, so one absurd line cannot exhaust memory.

use super::{ImportError, RecordSink};
use std::io::BufRead;

/// The largest record we read (a line, a JSON element, a CSV row). Larger ones are skipped
/// with a message; the rest of the file still imports. Real RUM events are a few KiB; the cap
/// keeps an import's memory bounded (two threads may each hold one such record).
pub const MAX_RECORD_BYTES: usize = 32 * 1024 * 1024;

pub enum Line {
    /// A line, now in the buffer without its end-of-line bytes (the buffer is reused).
    Text,
    /// A line longer than the cap; it was read past and dropped. Holds its length.
    TooLong(u64),
    End,
}

/// Reads one line into `buf` (cleared first), never holding more than `cap` bytes of it.
pub fn read_line_capped(reader: &mut dyn BufRead, buf: &mut Vec<u8>, cap: usize) -> std::io::Result<Line> {
    buf.clear();
    let mut total: u64 = 0;
    let mut too_long = false;
    let mut saw_any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        saw_any = true;
        let (chunk, found_newline) = match memchr_newline(available) {
            Some(i) => (&available[..i], true),
            None => (available, false),
        };
        total += chunk.len() as u64;
        if !too_long {
            if buf.len() + chunk.len() > cap {
                too_long = true;
                buf.clear();
                buf.shrink_to(64 * 1024);
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let consumed = chunk.len() + usize::from(found_newline);
        reader.consume(consumed);
        if found_newline {
            break;
        }
    }
    if !saw_any {
        return Ok(Line::End);
    }
    if too_long {
        return Ok(Line::TooLong(total));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Line::Text)
}

/// A line as [`for_each_line`] hands it over.
pub enum LineRead<'a> {
    /// A line's text without its end-of-line bytes, with its number.
    Text(u64, &'a [u8]),
    /// A line over [`MAX_RECORD_BYTES`], read past: its number and its length in bytes.
    TooLong(u64, u64),
    /// A read error: the file ends here. The line it would have been, and why.
    Unreadable(u64, &'a str),
}

impl LineRead<'_> {
    /// Reports a line that holds no text as a skipped record (a text line: nothing).
    pub fn report_skipped(&self, sink: &mut dyn RecordSink) {
        match *self {
            LineRead::Text(..) => {}
            LineRead::TooLong(line_no, len) => sink.skipped(line_no, too_long_reason(len)),
            LineRead::Unreadable(line_no, reason) => sink.skipped(line_no, reason.to_string()),
        }
    }
}

pub fn too_long_reason(len: u64) -> String {
    format!("line is {} long, over the {} limit for one record", human_bytes(len), human_bytes(MAX_RECORD_BYTES as u64))
}

/// Reads a file's lines, numbered; blank ones only when `keep_blank` (for formats where a
/// record may span lines, and a blank line be part of one). A read error ends the lines.
pub fn for_each_line(
    reader: &mut dyn BufRead,
    keep_blank: bool,
    on_line: &mut dyn FnMut(LineRead) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        match read_line_capped(reader, &mut buf, MAX_RECORD_BYTES) {
            Ok(Line::End) => return Ok(()),
            Ok(Line::TooLong(len)) => {
                line_no += 1;
                on_line(LineRead::TooLong(line_no, len))?;
            }
            Ok(Line::Text) => {
                line_no += 1;
                if !keep_blank && buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                on_line(LineRead::Text(line_no, &buf))?;
            }
            Err(e) => return on_line(LineRead::Unreadable(line_no + 1, &read_error_reason(&e))),
        }
    }
}

/// Passes bytes through and fails once a line runs past `cap` bytes without a newline: for
/// readers (the CSV parser) that buffer a whole record themselves.
pub struct LineCapReader<R> {
    pub inner: R,
    pub cap: usize,
    pub since_newline: usize,
}

impl<R: std::io::Read> std::io::Read for LineCapReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match buf[..n].iter().rposition(|b| *b == b'\n') {
            Some(i) => self.since_newline = n - i - 1,
            None => self.since_newline += n,
        }
        if self.since_newline > self.cap {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a line is over the {} limit for one record", human_bytes(self.cap as u64)),
            ));
        }
        Ok(n)
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

/// A friendly reason for a read error in the middle of a file.
pub fn read_error_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            "the file ends early (truncated download or cut-off gzip); records before this line were imported".into()
        }
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput => {
            format!("the file cannot be decoded past this point ({error}); records before this line were imported")
        }
        _ => format!("read error ({error}); records before this line were imported"),
    }
}

/// A size in a human unit, for messages.
pub fn human_bytes(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}
