//! Guance / DataKit line protocol (InfluxDB line protocol):
//! `measurement,tag=v,tag=v field=v,field="text" timestamp`.
//!
//! Tags and fields are one key space (SDK versions moved keys between them). Quoted string
//! fields may hold literal newlines, so a point can span lines. The timestamp's unit is told
//! from its magnitude.

use super::lines::{human_bytes, read_error_reason, read_line_capped, Line, MAX_RECORD_BYTES};
use super::{ImportError, RecordSink};
use crate::model::{epoch_to_ms, Event, FieldValue};
use std::collections::VecDeque;
use std::io::BufRead;

/// A quoted field that spans lines may grow to this before we decide its quote was never closed.
const MAX_MULTILINE_POINT_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, PartialEq)]
pub enum PointError {
    /// The text ends inside a quoted string: the point goes on on the next line.
    NeedMore,
    Bad(String),
}

/// True when the line reads as a point (or the start of one).
pub fn looks_like(first_line: &str) -> bool {
    matches!(parse_point(first_line), Ok(Some(_)) | Err(PointError::NeedMore))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Reads up to an unescaped stop byte, undoing the escapes of names and tag values.
    fn read_escaped(&mut self, stops: &[u8]) -> String {
        let mut out = String::new();
        let mut run_start = self.pos;
        while let Some(b) = self.peek() {
            if stops.contains(&b) {
                break;
            }
            if b == b'\\' {
                if let Some(next) = self.bytes.get(self.pos + 1) {
                    if matches!(next, b',' | b'=' | b' ' | b'"' | b'\\') {
                        out.push_str(&self.text[run_start..self.pos]);
                        out.push(*next as char);
                        self.pos += 2;
                        run_start = self.pos;
                        continue;
                    }
                }
            }
            self.pos += 1;
        }
        out.push_str(&self.text[run_start..self.pos]);
        out
    }

    /// Reads a quoted string field; the cursor is on the opening quote.
    fn read_quoted(&mut self) -> Result<String, PointError> {
        self.pos += 1;
        let mut out = String::new();
        let mut run_start = self.pos;
        loop {
            match self.peek() {
                None => return Err(PointError::NeedMore),
                Some(b'"') => {
                    out.push_str(&self.text[run_start..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => match self.bytes.get(self.pos + 1) {
                    Some(next @ (b'"' | b'\\')) => {
                        out.push_str(&self.text[run_start..self.pos]);
                        out.push(*next as char);
                        self.pos += 2;
                        run_start = self.pos;
                    }
                    Some(_) => self.pos += 1,
                    None => return Err(PointError::NeedMore),
                },
                Some(_) => self.pos += 1,
            }
        }
    }
}

fn parse_bare_value(text: &str) -> Option<FieldValue> {
    match text {
        "t" | "T" | "true" | "True" | "TRUE" => return Some(FieldValue::Bool(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Some(FieldValue::Bool(false)),
        _ => {}
    }
    if let Some(int) = text.strip_suffix('i') {
        return int.parse::<i64>().ok().map(FieldValue::Int);
    }
    if let Some(uint) = text.strip_suffix('u') {
        return uint.parse::<u64>().ok().map(|v| match i64::try_from(v) {
            Ok(i) => FieldValue::Int(i),
            Err(_) => FieldValue::Float(v as f64),
        });
    }
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(i) = text.parse::<i64>() {
            return Some(FieldValue::Int(i));
        }
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite()).map(FieldValue::Float)
}

/// Parses one point. `Ok(None)` for a blank line or a comment.
pub fn parse_point(text: &str) -> Result<Option<Event>, PointError> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let mut c = Cursor { bytes: trimmed.as_bytes(), text: trimmed, pos: 0 };
    let measurement = c.read_escaped(b", ");
    if measurement.is_empty() {
        return Err(PointError::Bad("the point has no measurement".into()));
    }
    let mut event = Event::new(measurement, 0);
    if c.peek() == Some(b',') {
        loop {
            c.pos += 1;
            let key = c.read_escaped(b"=, ");
            if c.peek() != Some(b'=') || key.is_empty() {
                return Err(PointError::Bad(format!("tag {key:?} has no '=value' (column {})", c.pos + 1)));
            }
            c.pos += 1;
            let value = c.read_escaped(b", ");
            event.set(key, FieldValue::Str(value));
            if c.peek() != Some(b',') {
                break;
            }
        }
    }
    if c.peek() != Some(b' ') {
        return Err(PointError::Bad("the point has no fields (expected a space, then key=value)".into()));
    }
    while c.peek() == Some(b' ') {
        c.pos += 1;
    }
    let mut field_count = 0;
    loop {
        let key_start = c.pos;
        let key = c.read_escaped(b"=, ");
        if c.peek() != Some(b'=') || key.is_empty() {
            return Err(PointError::Bad(format!("field at column {} has no key=value", key_start + 1)));
        }
        c.pos += 1;
        let value = if c.peek() == Some(b'"') {
            FieldValue::Str(c.read_quoted()?)
        } else {
            let start = c.pos;
            while let Some(b) = c.peek() {
                if b == b',' || b == b' ' {
                    break;
                }
                c.pos += 1;
            }
            let raw = &trimmed[start..c.pos];
            parse_bare_value(raw)
                .ok_or_else(|| PointError::Bad(format!("field {key}: {raw:?} is not a number, a boolean or a quoted string")))?
        };
        event.set(key, value);
        field_count += 1;
        if c.peek() == Some(b',') {
            c.pos += 1;
            continue;
        }
        break;
    }
    if field_count == 0 {
        return Err(PointError::Bad("the point has no fields".into()));
    }
    let rest = trimmed[c.pos..].trim();
    if rest.is_empty() {
        return Err(PointError::Bad("the point has no timestamp".into()));
    }
    let timestamp: i64 =
        rest.parse().map_err(|_| PointError::Bad(format!("timestamp {rest:?} is not an integer")))?;
    event.time_ms = epoch_to_ms(timestamp);
    Ok(Some(event))
}

struct Pending {
    start_line: u64,
    text: String,
    /// Line numbers and texts of the lines after the first, to read again on their own if the
    /// point's quote turns out never to close.
    later_lines: Vec<(u64, String)>,
}

pub fn parse(reader: &mut dyn BufRead, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
    let mut buf = Vec::new();
    let mut line_no: u64 = 0;
    let mut queued: VecDeque<(u64, String)> = VecDeque::new();
    let mut pending: Option<Pending> = None;
    let mut end_of_input = false;

    loop {
        let (number, line) = if let Some(next) = queued.pop_front() {
            next
        } else if end_of_input {
            match pending.take() {
                Some(p) => {
                    abandon(p, sink, &mut queued, "a quoted string is never closed (the point runs to the end of the file)");
                    continue;
                }
                None => break,
            }
        } else {
            match read_line_capped(reader, &mut buf, MAX_RECORD_BYTES) {
                Ok(Line::Text) => {
                    line_no += 1;
                    match String::from_utf8(std::mem::take(&mut buf)) {
                        Ok(text) => (line_no, text),
                        Err(e) => {
                            let valid = e.utf8_error().valid_up_to();
                            if let Some(p) = pending.take() {
                                abandon(p, sink, &mut queued, "a quoted string is never closed before invalid text");
                            }
                            sink.skipped(line_no, format!("invalid UTF-8 at byte {} of the line", valid + 1));
                            continue;
                        }
                    }
                }
                Ok(Line::TooLong(len)) => {
                    line_no += 1;
                    if let Some(p) = pending.take() {
                        abandon(p, sink, &mut queued, "a quoted string is never closed before an over-long line");
                    }
                    sink.skipped(
                        line_no,
                        format!("line is {} long, over the {} limit for one record", human_bytes(len), human_bytes(MAX_RECORD_BYTES as u64)),
                    );
                    continue;
                }
                Ok(Line::End) => {
                    end_of_input = true;
                    continue;
                }
                Err(e) => {
                    if let Some(p) = pending.take() {
                        abandon(p, sink, &mut queued, "the file ends inside this point");
                    }
                    sink.skipped(line_no + 1, read_error_reason(&e));
                    end_of_input = true;
                    continue;
                }
            }
        };

        let mut current = match pending.take() {
            Some(mut p) => {
                p.text.push('\n');
                p.text.push_str(&line);
                p.later_lines.push((number, line));
                p
            }
            None => Pending { start_line: number, text: line, later_lines: Vec::new() },
        };
        match parse_point(&current.text) {
            Ok(Some(event)) => sink.event(current.start_line, event)?,
            Ok(None) => {}
            Err(PointError::Bad(reason)) if current.later_lines.is_empty() => sink.skipped(current.start_line, reason),
            Err(PointError::Bad(reason)) => {
                // A point that only parses badly once continued onto later lines most likely
                // opened a quote it never closed: report it and read those lines on their own.
                let reason = format!("a quoted string is never closed (continued onto the next line it fails: {reason})");
                abandon(current, sink, &mut queued, &reason);
            }
            Err(PointError::NeedMore) => {
                if current.text.len() > MAX_MULTILINE_POINT_BYTES {
                    let reason = format!(
                        "a quoted string runs past {} without closing",
                        human_bytes(MAX_MULTILINE_POINT_BYTES as u64)
                    );
                    abandon(std::mem::replace(&mut current, Pending { start_line: 0, text: String::new(), later_lines: Vec::new() }), sink, &mut queued, &reason);
                } else {
                    pending = Some(current);
                }
            }
        }
    }
    Ok(())
}

/// Reports a point whose quote never closed, and queues its later lines to be read again on
/// their own: they are most likely good points.
fn abandon(p: Pending, sink: &mut dyn RecordSink, queued: &mut VecDeque<(u64, String)>, reason: &str) {
    sink.skipped(p.start_line, reason.to_string());
    for line in p.later_lines.into_iter().rev() {
        queued.push_front(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::CollectSink;

    fn parse_text(text: &str) -> CollectSink {
        let mut sink = CollectSink::default();
        let mut reader = std::io::Cursor::new(text.as_bytes().to_vec());
        parse(&mut reader, &mut sink).expect("in-memory parse");
        sink
    }

    #[test]
    fn escapes_types_and_one_key_space() {
        let point = parse_point(
            r#"view,os=Mac\ OS,a\,b=c\=d,view_url_query={\"w\":1} loading_time=12i,ratio=0.5,big=7u,ok=T,no=false,name="say \"hi\"",os="field wins" 1636524705288"#,
        )
        .expect("parses")
        .expect("a point");
        assert_eq!(point.kind, "view");
        assert_eq!(point.time_ms, 1_636_524_705_288);
        assert_eq!(point.get("a,b"), Some(&FieldValue::Str("c=d".into())));
        assert_eq!(point.get("view_url_query"), Some(&FieldValue::Str(r#"{"w":1}"#.into())));
        assert_eq!(point.get("loading_time"), Some(&FieldValue::Int(12)));
        assert_eq!(point.get("ratio"), Some(&FieldValue::Float(0.5)));
        assert_eq!(point.get("big"), Some(&FieldValue::Int(7)));
        assert_eq!(point.get("ok"), Some(&FieldValue::Bool(true)));
        assert_eq!(point.get("no"), Some(&FieldValue::Bool(false)));
        assert_eq!(point.get("name"), Some(&FieldValue::Str(r#"say "hi""#.into())));
        // A field with a tag's name: one key space, the later (field) value wins.
        assert_eq!(point.get("os"), Some(&FieldValue::Str("field wins".into())));
    }

    #[test]
    fn timestamp_precision_from_magnitude() {
        for ts in ["1636524705", "1636524705288", "1636524705288000", "1636524705288000000"] {
            let p = parse_point(&format!("error,session_id=s x=1 {ts}")).expect("ok").expect("point");
            assert_eq!(p.time_ms / 1000, 1_636_524_705, "{ts}");
        }
    }

    #[test]
    fn a_point_spans_lines_inside_a_quoted_field() {
        let sink = parse_text("error,session_id=s error_stack=\"TypeError\n\tat a.js:1:2\n\tat b.js:3:4\",n=1i 1636524705288\nlong_task,session_id=s duration=1 1636524705289\n");
        assert!(sink.problems.is_empty(), "{:?}", sink.problems);
        assert_eq!(sink.events.len(), 2);
        assert_eq!(sink.events[0].1.get_str("error_stack"), Some("TypeError\n\tat a.js:1:2\n\tat b.js:3:4"));
        assert_eq!(sink.events[1].0, 4, "the second point starts on line 4");
    }

    #[test]
    fn bad_lines_are_reported_and_good_ones_kept() {
        let sink = parse_text("view,session_id=a x=1 1636524705288\nthis is not a point\nview,session_id=b x=notanumber 1636524705288\nview,session_id=c x=1\nview,session_id=d x=1 1636524705288\n");
        assert_eq!(sink.events.len(), 2);
        let lines: Vec<u64> = sink.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(sink.problems[1].reason.contains("notanumber"));
        assert!(sink.problems[2].reason.contains("timestamp"));
    }

    #[test]
    fn unterminated_quote_does_not_swallow_the_rest() {
        let sink = parse_text("error,session_id=a msg=\"never closed 1636524705288\nview,session_id=b x=1 1636524705288\nview,session_id=c x=1 1636524705289\n");
        assert_eq!(sink.problems.len(), 1);
        assert_eq!(sink.problems[0].line, 1);
        assert!(sink.problems[0].reason.contains("never closed"));
        assert_eq!(sink.events.len(), 2);
        assert_eq!(sink.events[0].0, 2);
    }

    #[test]
    fn invalid_utf8_skips_only_that_line() {
        let mut bytes = b"view,session_id=a x=1 1636524705288\n".to_vec();
        bytes.extend_from_slice(b"view,session_id=\xff\xfe x=1 1636524705288\n");
        bytes.extend_from_slice(b"view,session_id=c x=1 1636524705288\n");
        let mut sink = CollectSink::default();
        parse(&mut std::io::Cursor::new(bytes), &mut sink).expect("parse");
        assert_eq!(sink.events.len(), 2);
        assert_eq!(sink.problems.len(), 1);
        assert_eq!(sink.problems[0].line, 2);
        assert!(sink.problems[0].reason.contains("UTF-8"));
    }
}
