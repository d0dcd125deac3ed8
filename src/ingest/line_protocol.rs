//! Guance / DataKit line protocol (InfluxDB line protocol):
//! `measurement,tag=v,tag=v field=v,field="text" timestamp`.
//!
//! Tags and fields are one key space (SDK versions moved keys between them). Quoted string
//! fields may hold literal newlines, so a point can span lines. The timestamp's unit is told
//! from its magnitude.

use super::lines::{human_bytes, read_error_reason, read_line_capped, Line, MAX_RECORD_BYTES};
use super::{ImportError, RecordSink};
use crate::model::{epoch_to_ms, Event, FieldKey, FieldValue};
use std::borrow::Cow;
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

/// The bytes that end a name or a tag value, and the backslash, as a table.
struct StopBytes([bool; 256]);

impl StopBytes {
    const fn new(stops: &[u8]) -> StopBytes {
        let mut table = [false; 256];
        table[b'\\' as usize] = true;
        let mut i = 0;
        while i < stops.len() {
            table[stops[i] as usize] = true;
            i += 1;
        }
        StopBytes(table)
    }
}

/// A measurement or a tag value ends at a comma or a space; a key also at `=`.
const VALUE_STOPS: StopBytes = StopBytes::new(b", ");
const KEY_STOPS: StopBytes = StopBytes::new(b"=, ");

/// A key as an event's key: the static name when it is one the program knows.
fn field_key(key: Cow<'_, str>) -> FieldKey {
    match crate::model::known_key(&key) {
        Some(name) => FieldKey::Borrowed(name),
        None => FieldKey::Owned(key.into_owned()),
    }
}

/// Sets a key of the point being read, the last value of a repeated key winning at the first
/// one's place. `signatures` holds each key's length and end bytes beside it: a key is compared
/// in full only with keys that share them (a generated point has some 30 keys).
fn set_field(event: &mut Event, signatures: &mut Vec<u64>, key: FieldKey, value: FieldValue) {
    let bytes = key.as_bytes();
    let signature = (bytes.len() as u64) << 16
        | u64::from(bytes.first().copied().unwrap_or(0)) << 8
        | u64::from(bytes.last().copied().unwrap_or(0));
    // A tight search of the signatures first; the keys only where one matches.
    let mut from = 0;
    while let Some(offset) = signatures.get(from..).unwrap_or_default().iter().position(|s| *s == signature) {
        let index = from + offset;
        if let Some(slot) = event.fields.get_mut(index).filter(|(k, _)| *k == key) {
            slot.1 = value;
            return;
        }
        from = index + 1;
    }
    signatures.push(signature);
    event.fields.push((key, value));
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
    /// Borrowed from the line unless an escape had to be undone.
    fn read_escaped(&mut self, stops: &StopBytes) -> Cow<'a, str> {
        let mut out: Option<String> = None;
        let mut run_start = self.pos;
        loop {
            // The scan is a table lookup a byte: names and tags are most of a point's text.
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            self.pos += rest.iter().position(|b| stops.0[usize::from(*b)]).unwrap_or(rest.len());
            match self.peek() {
                Some(b'\\') => {
                    if let Some(next) = self.bytes.get(self.pos + 1).filter(|n| matches!(n, b',' | b'=' | b' ' | b'"' | b'\\')) {
                        let text = out.get_or_insert_with(String::new);
                        text.push_str(&self.text[run_start..self.pos]);
                        text.push(char::from(*next));
                        self.pos += 2;
                        run_start = self.pos;
                    } else {
                        self.pos += 1;
                    }
                }
                _ => break, // a stop byte or the end
            }
        }
        let run = &self.text[run_start..self.pos];
        match out {
            None => Cow::Borrowed(run),
            Some(mut text) => {
                text.push_str(run);
                Cow::Owned(text)
            }
        }
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
    let measurement = c.read_escaped(&VALUE_STOPS);
    if measurement.is_empty() {
        return Err(PointError::Bad("the point has no measurement".into()));
    }
    let mut event = Event::new(measurement.into_owned(), 0);
    // Room for a typical point's keys without growing.
    event.fields.reserve(64);
    let mut signatures = Vec::with_capacity(64);
    if c.peek() == Some(b',') {
        loop {
            c.pos += 1;
            let key = c.read_escaped(&KEY_STOPS);
            if c.peek() != Some(b'=') || key.is_empty() {
                return Err(PointError::Bad(format!("tag {key:?} has no '=value' (column {})", c.pos + 1)));
            }
            c.pos += 1;
            let value = c.read_escaped(&VALUE_STOPS);
            set_field(&mut event, &mut signatures, field_key(key), FieldValue::Str(value.into_owned()));
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
        let key = c.read_escaped(&KEY_STOPS);
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
        set_field(&mut event, &mut signatures, field_key(key), value);
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
    fn repeated_keys_and_lone_backslashes() {
        // axb / ayb have the same length and end bytes; the repeat of axb keeps its place.
        let point = parse_point(r#"action,axb=1,ayb=2,path=C:\dir\x,end=z\  axb="3",n=1i 1636524705288"#)
            .expect("parses")
            .expect("a point");
        let keys: Vec<&str> = point.fields.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["axb", "ayb", "path", "end", "n"]);
        assert_eq!(point.get("axb"), Some(&FieldValue::Str("3".into())));
        assert_eq!(point.get("ayb"), Some(&FieldValue::Str("2".into())));
        assert_eq!(point.get("path"), Some(&FieldValue::Str(r"C:\dir\x".into())), "a backslash before other text stays");
        assert_eq!(point.get("end"), Some(&FieldValue::Str("z ".into())));
        // Known names come as static text, others as their own.
        let point = parse_point("view,browser=Chrome,custom_tag=x loading_time=1i 1636524705288").expect("parses").expect("a point");
        assert!(matches!(point.fields[0].0, FieldKey::Borrowed("browser")));
        assert!(matches!(&point.fields[1].0, FieldKey::Owned(k) if k == "custom_tag"));
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
