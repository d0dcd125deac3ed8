//! Splits a JSON document into records without holding the whole document: the elements of a
//! top-level array, the elements of the `data` array of an API response object
//! (`{"data": [...], "links": ...}`), or a top-level object as one record. Several top-level
//! values may follow one another. Each record is handed over with the line it starts on, so a
//! bad one is reported by line and the others still arrive.

use super::lines::{for_each_line, human_bytes, read_error_reason, too_long_reason, LineRead, MAX_RECORD_BYTES};
use super::parallel::ChunkFormat;
use super::{ImportError, RecordSink};
use std::io::BufRead;

/// A scanned record: its bytes and first line.
pub type OnRecord<'a> = dyn FnMut(u64, &[u8], &mut dyn RecordSink) -> Result<(), ImportError> + 'a;

#[derive(PartialEq, Clone, Copy)]
enum Mode {
    /// Between top-level values.
    Top,
    /// Inside a top-level array: records are its elements (depth 1).
    Array,
    /// Inside a top-level object that may turn out to be an API response.
    Object,
    /// Inside the `data` array of an API response: records are at depth 2.
    DataArray,
}

/// Where the splitter is in a document, kept between the pieces it is fed: a document can be
/// read in buffers on one thread ([`scan`]), or in chunks of lines on several
/// ([`JsonArrayLines`]).
#[derive(Clone)]
pub struct JsonScanner {
    mode: Mode,
    depth: usize,
    in_string: bool,
    escaped: bool,
    line: u64,
    record: Vec<u8>,
    record_line: u64,
    recording: bool,
    too_long: bool,
    // Object mode: the last key read at depth 1, and whether ':' followed it.
    key_bytes: Vec<u8>,
    collecting_key: bool,
    last_key_is_data: bool,
    after_colon: bool,
    /// The document broke past repair (a stray bracket, text outside a value, a read error):
    /// the rest is not read.
    stopped: bool,
}

fn record_depth(mode: Mode) -> usize {
    if mode == Mode::DataArray {
        2
    } else {
        1
    }
}

impl JsonScanner {
    /// At the start of a document.
    pub fn new() -> JsonScanner {
        JsonScanner {
            mode: Mode::Top,
            depth: 0,
            in_string: false,
            escaped: false,
            line: 1,
            record: Vec::new(),
            record_line: 0,
            recording: false,
            too_long: false,
            key_bytes: Vec::new(),
            collecting_key: false,
            last_key_is_data: false,
            after_colon: false,
            stopped: false,
        }
    }

    /// Between two elements of a top-level array, at the start of `line`: where a chunk of a
    /// file with an element a line most likely starts.
    pub fn between_elements(line: u64) -> JsonScanner {
        JsonScanner { mode: Mode::Array, depth: 1, line, ..JsonScanner::new() }
    }

    /// A line read past by a direct reader (see [`JsonArrayLines::direct`]), between elements.
    pub fn skip_line(&mut self) {
        self.line += 1;
    }

    pub fn is_between_elements(&self) -> bool {
        self.mode == Mode::Array && self.depth == 1 && !self.in_string && !self.recording && !self.stopped
    }

    /// Reads the next piece of the document; complete records go to `on_record`.
    pub fn feed(&mut self, chunk: &[u8], sink: &mut dyn RecordSink, on_record: &mut OnRecord) -> Result<(), ImportError> {
        if self.stopped {
            return Ok(());
        }
        let mut segment_start = 0;
        let mut next = 0;
        while next < chunk.len() {
            let i = next;
            let b = chunk[i];
            next += 1;
            if self.in_string {
                if self.collecting_key && self.key_bytes.len() < 8 && (b != b'"' || self.escaped) {
                    self.key_bytes.push(b);
                }
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.collecting_key {
                        self.collecting_key = false;
                    }
                }
                if b == b'\n' {
                    self.line += 1;
                }
                // Most of a record's bytes are inside strings, where only a quote, a backslash
                // or a line end changes anything: the bytes up to the next one are skipped
                // (the feed took a sixth of an import of an array of lines one byte at a time).
                if self.in_string && !self.escaped && !self.collecting_key {
                    next = memchr::memchr3(b'"', b'\\', b'\n', &chunk[next..]).map_or(chunk.len(), |at| next + at);
                }
                continue;
            }
            match b {
                b'\n' => self.line += 1,
                b'"' => {
                    self.in_string = true;
                    if self.mode == Mode::Object && self.depth == 1 {
                        self.collecting_key = true;
                        self.key_bytes.clear();
                        self.after_colon = false;
                    }
                }
                b':' if self.mode == Mode::Object && self.depth == 1 => {
                    self.last_key_is_data = self.key_bytes == b"data";
                    self.after_colon = true;
                }
                b'{' | b'[' => {
                    if self.mode == Mode::Top {
                        self.mode = if b == b'[' { Mode::Array } else { Mode::Object };
                        self.record.clear();
                        self.too_long = false;
                        if self.mode == Mode::Object {
                            self.recording = true;
                            self.record_line = self.line;
                            segment_start = i;
                        }
                        self.depth = 1;
                        continue;
                    }
                    if self.mode == Mode::Object && self.depth == 1 && b == b'[' && self.after_colon && self.last_key_is_data {
                        // An API response: its records are the elements of `data`.
                        self.mode = Mode::DataArray;
                        self.recording = false;
                        self.record.clear();
                        self.depth = 2;
                        continue;
                    }
                    if (self.mode == Mode::Array || self.mode == Mode::DataArray) && self.depth == record_depth(self.mode) && !self.recording {
                        self.recording = true;
                        self.record_line = self.line;
                        self.record.clear();
                        self.too_long = false;
                        segment_start = i;
                    }
                    self.depth += 1;
                }
                b'}' | b']' => {
                    if self.depth == 0 {
                        sink.skipped(self.line, format!("unexpected '{}' outside any value; the rest of the file was not read", b as char));
                        self.stopped = true;
                        return Ok(());
                    }
                    self.depth -= 1;
                    let rd = record_depth(self.mode);
                    if (self.mode == Mode::Array || self.mode == Mode::DataArray) && self.depth == rd - 1 {
                        // The records' array closes: the element before it ends here.
                        if self.recording {
                            append(&mut self.record, &chunk[segment_start..i], &mut self.too_long);
                            finish(&self.record, self.record_line, self.too_long, sink, on_record)?;
                            self.recording = false;
                        }
                        if self.depth == 0 {
                            self.mode = Mode::Top;
                        } else {
                            // Back in the API response object; its other keys are not records.
                            self.mode = Mode::Object;
                            self.after_colon = false;
                            self.last_key_is_data = false;
                        }
                        continue;
                    }
                    if self.mode == Mode::Object && self.depth == 0 {
                        if self.recording {
                            append(&mut self.record, &chunk[segment_start..=i], &mut self.too_long);
                            finish(&self.record, self.record_line, self.too_long, sink, on_record)?;
                            self.recording = false;
                        }
                        self.mode = Mode::Top;
                        continue;
                    }
                }
                b',' => {
                    if (self.mode == Mode::Array || self.mode == Mode::DataArray) && self.depth == record_depth(self.mode) {
                        if self.recording {
                            append(&mut self.record, &chunk[segment_start..i], &mut self.too_long);
                            finish(&self.record, self.record_line, self.too_long, sink, on_record)?;
                            self.recording = false;
                        }
                        continue;
                    }
                    if self.mode == Mode::Object && self.depth == 1 {
                        self.after_colon = false;
                    }
                }
                b' ' | b'\t' | b'\r' => {}
                _ => {
                    if self.mode == Mode::Top {
                        sink.skipped(self.line, "text outside any JSON value; the rest of the file was not read".into());
                        self.stopped = true;
                        return Ok(());
                    }
                    // A scalar element of the records' array.
                    if (self.mode == Mode::Array || self.mode == Mode::DataArray) && self.depth == record_depth(self.mode) && !self.recording {
                        self.recording = true;
                        self.record_line = self.line;
                        self.record.clear();
                        self.too_long = false;
                        segment_start = i;
                    }
                }
            }
            if b == b'"' && (self.mode == Mode::Array || self.mode == Mode::DataArray) && self.depth == record_depth(self.mode) && !self.recording {
                self.recording = true;
                self.record_line = self.line;
                self.record.clear();
                self.too_long = false;
                segment_start = i;
            }
        }
        if self.recording {
            append(&mut self.record, &chunk[segment_start..], &mut self.too_long);
        }
        Ok(())
    }

    /// The document cannot be read past here.
    pub fn read_error(&mut self, reason: String, sink: &mut dyn RecordSink) {
        if !self.stopped {
            sink.skipped(if self.recording { self.record_line } else { self.line }, reason);
            self.stopped = true;
        }
    }

    /// The end of the file: a value still open was cut off.
    pub fn end(&mut self, sink: &mut dyn RecordSink) {
        if !self.stopped && (self.recording || self.depth > 0 || self.in_string) {
            if self.recording {
                sink.skipped(self.record_line, "the file ends inside this JSON value (truncated?); it was not imported".into());
            } else {
                // Cut between records: nothing is lost but the closing bracket.
                sink.skipped(self.line, "the file ends before its JSON array closes (truncated?); the records before were imported".into());
            }
        }
        self.stopped = true;
    }
}

impl Default for JsonScanner {
    fn default() -> Self {
        JsonScanner::new()
    }
}

pub fn scan(reader: &mut dyn BufRead, sink: &mut dyn RecordSink, on_record: &mut OnRecord) -> Result<(), ImportError> {
    let mut scanner = JsonScanner::new();
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                scanner.read_error(read_error_reason(&e), sink);
                return Ok(());
            }
        };
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len();
        scanner.feed(chunk, sink, on_record)?;
        if scanner.stopped {
            return Ok(());
        }
        reader.consume(len);
    }
    scanner.end(sink);
    Ok(())
}

/// A format's reader of one JSON record: its text and first line; its events go to the sink.
pub type RecordReader = fn(u64, &[u8], &mut dyn RecordSink) -> Result<(), ImportError>;

/// NDJSON as the parallel parser reads it (`super::parallel`): a record a line, so chunks
/// never leave one open.
#[derive(Clone, Copy)]
pub struct JsonRecordLines {
    pub record: RecordReader,
}

impl ChunkFormat for JsonRecordLines {
    type Carry = std::convert::Infallible;
    const MAY_CARRY: bool = false;
    const KEEPS_BLANK_LINES: bool = false;

    fn parse_lines<'a>(
        self,
        _carry: Option<Self::Carry>,
        lines: impl Iterator<Item = LineRead<'a>>,
        sink: &mut dyn RecordSink,
    ) -> Result<Option<Self::Carry>, ImportError> {
        for line in lines {
            match line {
                LineRead::Text(line_no, bytes) => (self.record)(line_no, bytes, sink)?,
                other => other.report_skipped(sink),
            }
        }
        Ok(None)
    }

    fn end(self, carry: Self::Carry, _sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        match carry {}
    }
}

/// How a JSON file's records lie, from its start: which reader takes it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JsonShape {
    /// A record a line (NDJSON): [`JsonRecordLines`].
    Lines,
    /// A top-level array with an element a line: [`JsonArrayLines`].
    ArrayOfLines,
    /// Anything else (pretty-printed, one line, an API response): [`scan`] on one thread.
    Document,
}

pub fn shape(start: &[u8]) -> JsonShape {
    if first_line_is_whole_value(&String::from_utf8_lossy(start)) {
        JsonShape::Lines
    } else if array_of_lines(start) {
        JsonShape::ArrayOfLines
    } else {
        JsonShape::Document
    }
}

/// A top-level JSON array with an element a line (`[`, then `{...},` lines, then `]`), as
/// DataKit and `jq -c` write them, read in chunks of lines by the parallel parser
/// (`super::parallel`). A chunk is guessed to start between two elements; when the chunk before
/// ended elsewhere (inside an element, or before the array), the writer parses it again from
/// the scanner that chunk left, which holds the element begun. See [`array_of_lines`].
#[derive(Clone, Copy)]
pub struct JsonArrayLines {
    pub record: RecordReader,
    /// The format's reader of a record straight to its row, when it has one: a line that holds
    /// one whole element (`{...},`) goes to it without the scanner's pass over its bytes (a
    /// sixth of a Guance JSON import's instructions), when the sink stores rows and the reader
    /// takes the element. Anything else the scanner reads as before.
    pub direct: Option<DirectReader>,
}

/// A format's reader of one record's text straight to its row; None leaves it to the format's
/// [`RecordReader`].
pub type DirectReader = fn(&[u8]) -> Option<crate::store::writer::PreparedEvent>;

/// The element a line holds, when it is one whole element as JSON arrays of lines write them:
/// `{`, then `},` at the end of the line (white space around either). Only a guess: the
/// element is one object only when a direct reader takes all of it.
fn whole_element_line(bytes: &[u8]) -> Option<&[u8]> {
    let element = bytes.trim_ascii().strip_suffix(b",")?.trim_ascii_end();
    (element.first() == Some(&b'{') && element.last() == Some(&b'}')).then_some(element)
}

impl ChunkFormat for JsonArrayLines {
    type Carry = JsonScanner;
    const MAY_CARRY: bool = true;
    const KEEPS_BLANK_LINES: bool = true;

    fn parse_lines<'a>(
        self,
        carry: Option<JsonScanner>,
        lines: impl Iterator<Item = LineRead<'a>>,
        sink: &mut dyn RecordSink,
    ) -> Result<Option<JsonScanner>, ImportError> {
        let record = self.record;
        let mut on_record = |line: u64, bytes: &[u8], sink: &mut dyn RecordSink| record(line, bytes, sink);
        let mut scanner = carry;
        for line in lines {
            match line {
                LineRead::Text(line_no, bytes) => {
                    let scanner = scanner.get_or_insert_with(|| JsonScanner::between_elements(line_no));
                    // A direct reader that takes the whole line's element read one object, which
                    // the scanner would have handed over whole: the same record, at the same line.
                    if let Some(direct) = self.direct.filter(|_| scanner.is_between_elements() && sink.takes_prepared()) {
                        if let Some(prepared) = whole_element_line(bytes).and_then(direct) {
                            scanner.skip_line();
                            sink.prepared_event(line_no, prepared)?;
                            continue;
                        }
                    }
                    scanner.feed(bytes, sink, &mut on_record)?;
                    scanner.feed(b"\n", sink, &mut on_record)?;
                }
                // Not read: most likely one element, reported; the next line is taken to start
                // between elements, as the chunks' guess does.
                LineRead::TooLong(line_no, len) => {
                    sink.skipped(line_no, too_long_reason(len));
                    scanner = Some(JsonScanner::between_elements(line_no + 1));
                }
                LineRead::Unreadable(line_no, reason) => {
                    scanner.get_or_insert_with(|| JsonScanner::between_elements(line_no)).read_error(reason.to_string(), sink);
                }
            }
        }
        Ok(scanner.filter(|scanner| !scanner.is_between_elements()))
    }

    fn end(self, mut carry: JsonScanner, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        carry.end(sink);
        Ok(())
    }

    fn end_between_records(self, last_line: u64, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        // The array was not closed: said as reading it in one go says it.
        JsonScanner::between_elements(last_line + 1).end(sink);
        Ok(())
    }

    fn start(self) -> Option<JsonScanner> {
        Some(JsonScanner::new())
    }

    fn likely_starts_record(previous: &[u8], line: &[u8]) -> bool {
        line.trim_ascii_start().first() == Some(&b'{') && matches!(previous.trim_ascii_end().last(), Some(b',' | b'['))
    }
}

/// True when the start of a JSON file is a top-level array whose first elements are a line
/// each ([`JsonArrayLines`] then reads it on several threads; a wrong guess costs only time).
pub fn array_of_lines(start: &[u8]) -> bool {
    let text = start.trim_ascii_start();
    if text.first() != Some(&b'[') {
        return false;
    }
    // The first element's line: the rest of the bracket's line, or the next line with text.
    let mut lines = text[1..].split(|b| *b == b'\n').map(<[u8]>::trim_ascii).filter(|l| !l.is_empty());
    let Some(element) = lines.next() else { return false };
    // A line after it shows the element line was read whole.
    if lines.next().is_none() {
        return false;
    }
    let element = element.strip_suffix(b",").unwrap_or(element);
    let element = element.strip_suffix(b"]").unwrap_or(element);
    serde_json::from_slice::<serde_json::Value>(element).is_ok_and(|v| v.is_object())
}

/// Hands over the text of each JSON record of a file with the line it starts on: each line of
/// NDJSON, else the records [`scan`] splits a document into. The text is not yet validated.
pub fn json_records(reader: &mut dyn BufRead, sink: &mut dyn RecordSink, on_record: &mut OnRecord) -> Result<(), ImportError> {
    let start = reader.fill_buf().map(|b| String::from_utf8_lossy(&b[..b.len().min(64 * 1024)]).to_string());
    if start.as_deref().is_ok_and(first_line_is_whole_value) {
        return parse_lines(reader, sink, on_record);
    }
    scan(reader, sink, on_record)
}

/// Parses a record's text; a bad one is reported at the line the error is on.
pub fn parse_value(line: u64, bytes: &[u8], sink: &mut dyn RecordSink) -> Option<serde_json::Value> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => Some(value),
        Err(e) => {
            let at = line + e.line().saturating_sub(1) as u64;
            if e.is_eof() {
                sink.skipped(at, format!("the JSON on this line is cut off ({e})"));
            } else {
                sink.skipped(at, format!("invalid JSON: {e}"));
            }
            None
        }
    }
}

/// True when the file holds one JSON value per line (the first line is a whole object).
pub fn first_line_is_whole_value(start: &str) -> bool {
    let first = start.trim_start().lines().next().unwrap_or("");
    serde_json::from_str::<serde_json::Value>(first).is_ok_and(|v| v.is_object())
}

/// NDJSON: one value per line; a bad line is reported and the next one read.
fn parse_lines(reader: &mut dyn BufRead, sink: &mut dyn RecordSink, on_record: &mut OnRecord) -> Result<(), ImportError> {
    for_each_line(reader, false, &mut |line| match line {
        LineRead::Text(line_no, bytes) => on_record(line_no, bytes, sink),
        other => {
            other.report_skipped(sink);
            Ok(())
        }
    })
}

fn append(record: &mut Vec<u8>, bytes: &[u8], too_long: &mut bool) {
    if *too_long {
        return;
    }
    if record.len() + bytes.len() > MAX_RECORD_BYTES {
        *too_long = true;
        record.clear();
        record.shrink_to(64 * 1024);
        return;
    }
    record.extend_from_slice(bytes);
}

fn finish(
    record: &[u8],
    line: u64,
    too_long: bool,
    sink: &mut dyn RecordSink,
    on_record: &mut OnRecord,
) -> Result<(), ImportError> {
    if too_long {
        sink.skipped(line, format!("record is over the {} limit for one record", human_bytes(MAX_RECORD_BYTES as u64)));
        return Ok(());
    }
    let trimmed = trim_ascii(record);
    if trimmed.is_empty() {
        sink.skipped(line, "empty array element".into());
        return Ok(());
    }
    on_record(line, trimmed, sink)
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::CollectSink;

    /// Each record comes back as a skipped record with its text, so records and problems
    /// come out in one list, in order.
    fn echo(line: u64, bytes: &[u8], sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        sink.skipped(line, format!("record: {}", String::from_utf8_lossy(bytes)));
        Ok(())
    }

    fn in_one_go(text: &str) -> Vec<(u64, String)> {
        let mut sink = CollectSink::default();
        scan(&mut std::io::Cursor::new(text.as_bytes()), &mut sink, &mut echo).expect("scan");
        sink.problems.into_iter().map(|p| (p.line, p.reason)).collect()
    }

    fn in_chunks(text: &str, workers: usize) -> Vec<(u64, String)> {
        let mut reader = std::io::Cursor::new(text.as_bytes().to_vec());
        std::thread::scope(|scope| {
            let (mut batches, outcome, handles) = super::super::parallel::spawn(scope, &mut reader, workers, JsonArrayLines { record: echo, direct: None });
            let mut seen = Vec::new();
            while let Some(batch) = batches.next_batch() {
                for record in batch {
                    if let crate::ingest::Record::Skipped(line, reason) = record {
                        seen.push((line, reason));
                    }
                }
            }
            drop(batches);
            for handle in handles {
                let _ = handle.join();
            }
            assert!(outcome.take().failure.is_none());
            seen
        })
    }

    /// A JSON array with an element a line, read in chunks of lines on several threads, gives
    /// the records and problems reading it in one go gives: elements over several lines (across
    /// chunk ends too), brackets, commas and escaped quotes in strings, empty and scalar
    /// elements, a second array after the first, and the ways such a file ends: closed, cut
    /// between elements, cut inside one, text after the array.
    #[test]
    fn an_array_read_in_chunks_gives_what_reading_it_in_one_go_gives() {
        let mut body = String::from("[\n");
        for n in 1..=1800 {
            match n {
                300 => body.push_str(",\n"),
                400 => body.push_str("42,\n"),
                509 | 1020 | 1021 => body.push_str(&format!("{{\"n\": {n},\n \"spans\": [1,\n2], \"s\": \"a\\\"],[{{\"\n}},\n")),
                700 => body.push_str("{\"n\": \"],\\\\\", \"x\": \"{[\"},\n"),
                1500 => body.push_str("]\n[\n"),
                _ => body.push_str(&format!("{{\"n\":{n}}},\n")),
            }
        }
        body.push_str("{\"n\":\"last\"}\n");
        let endings = [("closed", "]\n"), ("cut between elements", ",\n"), ("cut inside one", "{\"n\": \"open\n"), ("text after", "]\nnot json\n{\"n\":1}\n")];
        for (what, ending) in endings {
            let text = body.clone() + ending;
            let expected = in_one_go(&text);
            assert!(expected.len() > 1700, "{what}: {}", expected.len());
            for workers in [1, 2] {
                let seen = in_chunks(&text, workers);
                let first_difference = seen.iter().zip(&expected).position(|(a, b)| a != b);
                assert_eq!(first_difference.map(|i| (&seen[i], &expected[i])), None, "{what}, {workers} workers");
                assert_eq!(seen.len(), expected.len(), "{what}, {workers} workers");
            }
        }
    }

    /// Strings are skipped up to their next quote, backslash or line end: quotes, escapes,
    /// brackets and commas inside strings at every offset, read through buffers of 3 bytes
    /// and of 64 KiB, give each element whole with its line.
    #[test]
    fn strings_with_escapes_and_brackets_at_every_offset_end_where_they_end() {
        let pieces = ["a", ",", "]", "}", "[", "{", "\\\"", "\\\\", " ", "é", "\\n"];
        let mut elements = Vec::new();
        for n in 0..300usize {
            let text: String = (0..n % 23).map(|k| pieces[(n * 7 + k * 3) % pieces.len()]).collect();
            elements.push(format!("{{\"k{n}\": \"{text}\", \"n\": {n}}}"));
        }
        let document = format!("[\n{}\n]\n", elements.join(",\n"));
        let expected: Vec<(u64, String)> = elements.iter().enumerate().map(|(i, e)| (i as u64 + 2, e.clone())).collect();
        let (small, problems) = records(&document);
        assert_eq!(problems, Vec::new());
        assert_eq!(small, expected, "3-byte buffer");
        let mut large = Vec::new();
        let mut sink = CollectSink::default();
        scan(&mut std::io::BufReader::with_capacity(65536, document.as_bytes()), &mut sink, &mut |line, bytes, _| {
            large.push((line, String::from_utf8_lossy(bytes).to_string()));
            Ok(())
        })
        .expect("scan");
        assert_eq!(large, expected, "64 KiB buffer");
        for (_, element) in &expected {
            assert!(serde_json::from_str::<serde_json::Value>(element).is_ok(), "{element}");
        }
        // A line end inside a string still counts: the next element is on the line after.
        let (recs, _) = records("[{\"a\": \"x\ny\"},\n{\"b\": 1}]");
        assert_eq!(recs.iter().map(|(line, _)| *line).collect::<Vec<_>>(), vec![1, 3]);
    }

    #[test]
    fn arrays_of_lines_are_told_from_other_shapes() {
        assert_eq!(shape(b"[\n{\"a\":1},\n{\"a\":2}\n]\n"), JsonShape::ArrayOfLines);
        assert_eq!(shape(b"  [{\"a\":1},\n{\"a\":2}]\n"), JsonShape::ArrayOfLines);
        assert_eq!(shape(b"{\"a\":1}\n{\"a\":2}\n"), JsonShape::Lines);
        // Pretty-printed, on one line, an API response, an element cut off by the peek.
        assert_eq!(shape(b"[\n  {\n    \"a\": 1\n  }\n]\n"), JsonShape::Document);
        assert_eq!(shape(b"[{\"a\":1},{\"a\":2}]"), JsonShape::Document);
        assert_eq!(shape(b"{\"data\": [\n{\"a\":1},\n{\"a\":2}\n]}\n"), JsonShape::Document);
        assert_eq!(shape(b"[\n{\"a\":1, \"b\""), JsonShape::Document);
    }

    fn records(text: &str) -> (Vec<(u64, String)>, Vec<crate::ingest::Problem>) {
        let mut out = Vec::new();
        let mut sink = CollectSink::default();
        // A tiny buffer makes records straddle chunk boundaries.
        let mut reader = std::io::BufReader::with_capacity(3, text.as_bytes());
        scan(&mut reader, &mut sink, &mut |line, bytes, _| {
            out.push((line, String::from_utf8_lossy(bytes).to_string()));
            Ok(())
        })
        .expect("scan");
        (out, sink.problems)
    }

    #[test]
    fn array_elements_with_lines() {
        let (recs, problems) = records("[\n {\"a\": \"x,]}\"},\n {\"b\": [1, 2]}\n]\n");
        assert!(problems.is_empty());
        assert_eq!(recs, vec![(2, "{\"a\": \"x,]}\"}".to_string()), (3, "{\"b\": [1, 2]}".to_string())]);
    }

    #[test]
    fn api_response_data_elements() {
        let (recs, _) = records("{\"meta\": {\"data\": 1}, \"data\": [{\"id\": 1}, {\"id\": 2}], \"links\": {\"next\": \"u\"}}");
        assert_eq!(recs.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(), vec!["{\"id\": 1}", "{\"id\": 2}"]);
    }

    #[test]
    fn single_object_and_concatenated_values() {
        let (recs, _) = records("{\n \"type\": \"view\"\n}\n{\"type\": \"error\"}\n");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].0, 4);
    }

    #[test]
    fn truncated_document_reports_the_cut_record() {
        let (recs, problems) = records("[{\"a\": 1},\n {\"b\": ");
        assert_eq!(recs.len(), 1);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 2);
        assert!(problems[0].reason.contains("inside this JSON value"), "{}", problems[0].reason);
        // Cut after a record: only the bracket is missing.
        let (recs, problems) = records("[{\"a\": 1},\n{\"b\": 2},\n");
        assert_eq!(recs.len(), 2);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 3);
        assert!(problems[0].reason.contains("before its JSON array closes"), "{}", problems[0].reason);
    }

    /// Times the direct reader below was called with a line's element.
    static DIRECT_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    fn counted_guance_direct(bytes: &[u8]) -> Option<crate::store::writer::PreparedEvent> {
        DIRECT_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        crate::ingest::guance_json_direct::prepare_point(bytes)
    }

    /// The records of an array of lines read as one chunk, as (line, row or problem).
    fn array_records(text: &str, direct: Option<DirectReader>) -> Vec<(u64, Result<crate::store::writer::PreparedEvent, String>)> {
        let format = JsonArrayLines { record: crate::ingest::guance_json::record, direct };
        let mut sink = crate::ingest::BatchSink::with_capacity(64);
        let lines = text.split('\n').enumerate().map(|(i, line)| LineRead::Text(i as u64 + 1, line.as_bytes()));
        let carry = format.parse_lines(format.start(), lines, &mut sink).expect("parse");
        if let Some(carry) = carry {
            format.end(carry, &mut sink).expect("end");
        }
        sink.batch
            .into_iter()
            .map(|record| match record {
                crate::ingest::Record::Event(line, event) => (line, Ok(*event)),
                crate::ingest::Record::Skipped(line, reason) => (line, Err(reason)),
            })
            .collect()
    }

    /// Lines that hold one whole element go to the direct reader; the others, and the elements
    /// it leaves, through the scanner: the records, their lines and the problems are the ones
    /// the scanner alone gives.
    #[test]
    fn whole_element_lines_read_directly_give_the_scanners_records() {
        let mut rng = crate::generate::Rng::new(3);
        let points: Vec<String> =
            crate::generate::session_events(&mut rng).iter().take(6).map(|e| crate::generate::to_guance_json(e).to_string()).collect();
        let point = |i: usize| points[i % points.len()].clone();
        // After the point's first member: where a line may break inside an element.
        let split_at = |point: &str| point.find(",\"").map_or(1, |at| at + 1);
        let lines = [
            "[".to_string(),
            format!("{},", point(0)),
            format!("  {} ,  ", point(1)),
            // An element over two lines: its first line is no whole element.
            format!("{}\n{},", &point(2)[..split_at(&point(2))], &point(2)[split_at(&point(2))..]),
            // Two elements on a line: the direct reader refuses what is more than one object.
            format!("{},{},", point(3), point(4)),
            // A point the direct reader leaves to the general path (a key twice), a bad one.
            r#"{"measurement":"view","tags":{"session_id":"s1","os":"a"},"fields":{"os":"b"},"time":1636524705288},"#.to_string(),
            r#"{"measurement":"view","tags":{"session_id":"s1"},"time":},"#.to_string(),
            // A scalar element, a blank line, then the last element without its comma.
            "42,".to_string(),
            String::new(),
            format!("{},", point(5)),
            point(0),
            "]".to_string(),
        ];
        let text = lines.join("\n");
        let scanned = array_records(&text, None);
        DIRECT_CALLS.store(0, std::sync::atomic::Ordering::Relaxed);
        let direct = array_records(&text, Some(counted_guance_direct));
        let calls = DIRECT_CALLS.load(std::sync::atomic::Ordering::Relaxed);
        // The three lines `{...},` of one point each, the two-element line and the two odd points;
        // not the element over two lines, the scalar, the blank line or the last element.
        assert_eq!(calls, 6, "the direct reader is asked for each line that looks like a whole element");
        let lines_of = |records: &[(u64, Result<crate::store::writer::PreparedEvent, String>)]| {
            records.iter().map(|(line, r)| (*line, r.as_ref().err().cloned())).collect::<Vec<_>>()
        };
        assert_eq!(lines_of(&scanned), lines_of(&direct));
        // Lines 2, 3, 4 (over two lines), 6 (two), 7, 11 and 12; 8 and 9 are problems.
        assert_eq!(scanned.iter().filter(|(_, r)| r.is_ok()).count(), 8, "{:?}", lines_of(&scanned));
        for ((line_a, a), (line_b, b)) in scanned.iter().zip(&direct) {
            assert_eq!(line_a, line_b);
            match (a, b) {
                (Ok(a), Ok(b)) => assert!(a.same_row_as(b), "line {line_a}: {a:?} {b:?}"),
                (Err(a), Err(b)) => assert_eq!(a, b),
                _ => panic!("line {line_a}: {a:?} against {b:?}"),
            }
        }
    }
}
