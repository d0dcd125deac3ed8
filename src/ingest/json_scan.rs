//! Splits a JSON document into records without holding the whole document: the elements of a
//! top-level array, the elements of the `data` array of an API response object
//! (`{"data": [...], "links": ...}`), or a top-level object as one record. Several top-level
//! values may follow one another. Each record is handed over with the line it starts on, so a
//! bad one is reported by line and the others still arrive.

use super::lines::{for_each_line, human_bytes, read_error_reason, LineRead, MAX_RECORD_BYTES};
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

pub fn scan(reader: &mut dyn BufRead, sink: &mut dyn RecordSink, on_record: &mut OnRecord) -> Result<(), ImportError> {
    let mut mode = Mode::Top;
    let mut depth: usize = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut line: u64 = 1;
    let mut record: Vec<u8> = Vec::new();
    let mut record_line: u64 = 0;
    let mut recording = false;
    let mut too_long = false;
    // Object mode: the last key read at depth 1, and whether ':' followed it.
    let mut key_bytes: Vec<u8> = Vec::new();
    let mut collecting_key = false;
    let mut last_key_is_data = false;
    let mut after_colon = false;

    let record_depth = |mode: Mode| if mode == Mode::DataArray { 2 } else { 1 };

    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                sink.skipped(if recording { record_line } else { line }, read_error_reason(&e));
                return Ok(());
            }
        };
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len();
        let mut segment_start = 0;
        for (i, &b) in chunk.iter().enumerate() {
            if in_string {
                if collecting_key && key_bytes.len() < 8 && (b != b'"' || escaped) {
                    key_bytes.push(b);
                }
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if collecting_key {
                        collecting_key = false;
                    }
                }
                if b == b'\n' {
                    line += 1;
                }
                continue;
            }
            match b {
                b'\n' => line += 1,
                b'"' => {
                    in_string = true;
                    if mode == Mode::Object && depth == 1 {
                        collecting_key = true;
                        key_bytes.clear();
                        after_colon = false;
                    }
                }
                b':' if mode == Mode::Object && depth == 1 => {
                    last_key_is_data = key_bytes == b"data";
                    after_colon = true;
                }
                b'{' | b'[' => {
                    if mode == Mode::Top {
                        mode = if b == b'[' { Mode::Array } else { Mode::Object };
                        record.clear();
                        too_long = false;
                        if mode == Mode::Object {
                            recording = true;
                            record_line = line;
                            segment_start = i;
                        }
                        depth = 1;
                        continue;
                    }
                    if mode == Mode::Object && depth == 1 && b == b'[' && after_colon && last_key_is_data {
                        // An API response: its records are the elements of `data`.
                        mode = Mode::DataArray;
                        recording = false;
                        record.clear();
                        depth = 2;
                        continue;
                    }
                    if (mode == Mode::Array || mode == Mode::DataArray) && depth == record_depth(mode) && !recording {
                        recording = true;
                        record_line = line;
                        record.clear();
                        too_long = false;
                        segment_start = i;
                    }
                    depth += 1;
                }
                b'}' | b']' => {
                    if depth == 0 {
                        sink.skipped(line, format!("unexpected '{}' outside any value; the rest of the file was not read", b as char));
                        return Ok(());
                    }
                    depth -= 1;
                    let rd = record_depth(mode);
                    if (mode == Mode::Array || mode == Mode::DataArray) && depth == rd - 1 {
                        // The records' array closes: the element before it ends here.
                        if recording {
                            append(&mut record, &chunk[segment_start..i], &mut too_long);
                            finish(&record, record_line, too_long, sink, on_record)?;
                            recording = false;
                        }
                        if depth == 0 {
                            mode = Mode::Top;
                        } else {
                            // Back in the API response object; its other keys are not records.
                            mode = Mode::Object;
                            after_colon = false;
                            last_key_is_data = false;
                        }
                        continue;
                    }
                    if mode == Mode::Object && depth == 0 {
                        if recording {
                            append(&mut record, &chunk[segment_start..=i], &mut too_long);
                            finish(&record, record_line, too_long, sink, on_record)?;
                            recording = false;
                        }
                        mode = Mode::Top;
                        continue;
                    }
                }
                b',' => {
                    if (mode == Mode::Array || mode == Mode::DataArray) && depth == record_depth(mode) {
                        if recording {
                            append(&mut record, &chunk[segment_start..i], &mut too_long);
                            finish(&record, record_line, too_long, sink, on_record)?;
                            recording = false;
                        }
                        continue;
                    }
                    if mode == Mode::Object && depth == 1 {
                        after_colon = false;
                    }
                }
                b' ' | b'\t' | b'\r' => {}
                _ => {
                    if mode == Mode::Top {
                        sink.skipped(line, "text outside any JSON value; the rest of the file was not read".into());
                        return Ok(());
                    }
                    // A scalar element of the records' array.
                    if (mode == Mode::Array || mode == Mode::DataArray) && depth == record_depth(mode) && !recording {
                        recording = true;
                        record_line = line;
                        record.clear();
                        too_long = false;
                        segment_start = i;
                    }
                }
            }
            if b == b'"' && (mode == Mode::Array || mode == Mode::DataArray) && depth == record_depth(mode) && !recording {
                recording = true;
                record_line = line;
                record.clear();
                too_long = false;
                segment_start = i;
            }
        }
        if recording {
            append(&mut record, &chunk[segment_start..], &mut too_long);
        }
        reader.consume(len);
    }
    if recording || depth > 0 || in_string {
        let at = if recording { record_line } else { line };
        sink.skipped(at, "the file ends inside this JSON value (truncated?); it was not imported".into());
    }
    Ok(())
}

/// Receives each parsed JSON value with the line it starts on.
pub type OnValue<'a> = dyn FnMut(u64, serde_json::Value, &mut dyn RecordSink) -> Result<(), ImportError> + 'a;

/// Reads the JSON values of a file: line by line when it is NDJSON (its first line is a whole
/// object), else by splitting the document into records. Bad values are reported by line.
pub fn json_values(reader: &mut dyn BufRead, sink: &mut dyn RecordSink, on_value: &mut OnValue) -> Result<(), ImportError> {
    json_records(reader, sink, &mut |line, bytes, sink| match parse_value(line, bytes, sink) {
        Some(value) => on_value(line, value, sink),
        None => Ok(()),
    })
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
    }
}
