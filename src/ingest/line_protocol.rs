//! Guance / DataKit line protocol (InfluxDB line protocol):
//! `measurement,tag=v,tag=v field=v,field="text" timestamp`.
//!
//! Tags and fields are one key space (SDK versions moved keys between them). Quoted string
//! fields may hold literal newlines, so a point can span lines. The timestamp's unit is told
//! from its magnitude.

use super::line_protocol_direct::{prepare_point, PointScratch};
use super::lines::{for_each_line, human_bytes, LineRead};
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

pub(super) fn parse_bare_value(text: &str) -> Option<FieldValue> {
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

/// Reads points a line at a time. Between lines it holds at most a point that goes on (a
/// quoted field with a newline in it), so a file can also be read in chunks on several
/// threads: see [`PointLines`].
#[derive(Default)]
pub struct PointReader {
    pending: Option<Pending>,
    /// Kept between points by the direct path (see `line_protocol_direct`).
    scratch: PointScratch,
    /// Lines of a point whose quote never closed, to read again on their own. Always empty
    /// between lines.
    queued: VecDeque<(u64, String)>,
}

impl PointReader {
    pub fn read(&mut self, line: LineRead<'_>, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        match line {
            LineRead::Text(line_no, bytes) => match simdutf8::basic::from_utf8(bytes) {
                Ok(text) => {
                    self.text_line(line_no, Cow::Borrowed(text), sink)?;
                    self.read_queued(sink)
                }
                Err(_) => {
                    self.break_off("a quoted string is never closed before invalid text", sink)?;
                    let valid = std::str::from_utf8(bytes).err().map_or(0, |e| e.valid_up_to());
                    sink.skipped(line_no, format!("invalid UTF-8 at byte {} of the line", valid + 1));
                    Ok(())
                }
            },
            LineRead::TooLong(..) => {
                self.break_off("a quoted string is never closed before an over-long line", sink)?;
                line.report_skipped(sink);
                Ok(())
            }
            LineRead::Unreadable(..) => {
                self.break_off("the file ends inside this point", sink)?;
                line.report_skipped(sink);
                Ok(())
            }
        }
    }

    /// The end of the file: a point still open never closed its quote.
    pub fn end(&mut self, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        self.break_off("a quoted string is never closed (the point runs to the end of the file)", sink)
    }

    pub fn is_inside_point(&self) -> bool {
        self.pending.is_some()
    }

    fn text_line(&mut self, line_no: u64, line: Cow<'_, str>, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        // Sinks that store take a point as a row read straight from the text; what that
        // reader leaves (points over several lines among it) comes below.
        if self.pending.is_none() && sink.takes_prepared() {
            if let Some(prepared) = prepare_point(&line, &mut self.scratch) {
                return sink.prepared_event(line_no, prepared);
            }
        }
        let (current, parsed) = match self.pending.take() {
            Some(mut p) => {
                p.text.push('\n');
                p.text.push_str(&line);
                p.later_lines.push((line_no, line.into_owned()));
                let parsed = parse_point(&p.text);
                (p, parsed)
            }
            // Most lines are whole points: read where they lie, copied only when one goes on.
            None => match parse_point(&line) {
                Err(PointError::NeedMore) => {
                    (Pending { start_line: line_no, text: line.into_owned(), later_lines: Vec::new() }, Err(PointError::NeedMore))
                }
                Ok(Some(event)) => return sink.event(line_no, event),
                Ok(None) => return Ok(()),
                Err(PointError::Bad(reason)) => {
                    sink.skipped(line_no, reason);
                    return Ok(());
                }
            },
        };
        match parsed {
            Ok(Some(event)) => sink.event(current.start_line, event)?,
            Ok(None) => {}
            Err(PointError::Bad(reason)) if current.later_lines.is_empty() => sink.skipped(current.start_line, reason),
            Err(PointError::Bad(reason)) => {
                // A point that only parses badly once continued onto later lines most likely
                // opened a quote it never closed: report it and read those lines on their own.
                let reason = format!("a quoted string is never closed (continued onto the next line it fails: {reason})");
                self.abandon(current, sink, &reason);
            }
            Err(PointError::NeedMore) if current.text.len() > MAX_MULTILINE_POINT_BYTES => {
                let reason =
                    format!("a quoted string runs past {} without closing", human_bytes(MAX_MULTILINE_POINT_BYTES as u64));
                self.abandon(current, sink, &reason);
            }
            Err(PointError::NeedMore) => self.pending = Some(current),
        }
        Ok(())
    }

    /// Reports a point whose quote never closed, and queues its later lines to be read again
    /// on their own: they are most likely good points.
    fn abandon(&mut self, p: Pending, sink: &mut dyn RecordSink, reason: &str) {
        sink.skipped(p.start_line, reason.to_string());
        for line in p.later_lines.into_iter().rev() {
            self.queued.push_front(line);
        }
    }

    fn read_queued(&mut self, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        while let Some((line_no, text)) = self.queued.pop_front() {
            self.text_line(line_no, Cow::Owned(text), sink)?;
        }
        Ok(())
    }

    /// Something that cannot be inside a point comes next (a line that cannot be read, the
    /// end of the file): the point open before it never closed. Its later lines are read again
    /// on their own, and a point they leave open ends here too.
    fn break_off(&mut self, reason: &str, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        while let Some(p) = self.pending.take() {
            self.abandon(p, sink, reason);
            self.read_queued(sink)?;
        }
        Ok(())
    }
}

pub fn parse(reader: &mut dyn BufRead, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
    let mut points = PointReader::default();
    for_each_line(reader, true, &mut |line| points.read(line, sink))?;
    points.end(sink)
}

/// The line protocol as the parallel parser reads it: a chunk may end inside a point.
#[derive(Clone, Copy)]
pub struct PointLines;

impl super::parallel::ChunkFormat for PointLines {
    type Carry = PointReader;
    const MAY_CARRY: bool = true;
    const KEEPS_BLANK_LINES: bool = true;

    fn parse_lines<'a>(
        self,
        carry: Option<PointReader>,
        lines: impl Iterator<Item = LineRead<'a>>,
        sink: &mut dyn RecordSink,
    ) -> Result<Option<PointReader>, ImportError> {
        let mut points = carry.unwrap_or_default();
        for line in lines {
            points.read(line, sink)?;
        }
        Ok(points.is_inside_point().then_some(points))
    }

    fn end(self, mut carry: PointReader, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        carry.end(sink)
    }

    /// A point ends in its timestamp and starts with its measurement; the lines of a stack
    /// inside a quoted field mostly start with white space. At 10k sessions, chunks ended
    /// inside a point 33 times in 793 without this guess.
    fn likely_starts_record(previous: &[u8], line: &[u8]) -> bool {
        previous.last().is_some_and(u8::is_ascii_digit) && line.first().is_some_and(u8::is_ascii_alphabetic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{BatchSink, CollectSink};

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

    /// Each record as text, to compare two reads of a file.
    fn describe(records: Vec<crate::ingest::Record>) -> Vec<String> {
        records
            .into_iter()
            .map(|record| match record {
                crate::ingest::Record::Event(line, event) => format!("{line}: {event:?}"),
                crate::ingest::Record::Skipped(line, reason) => format!("{line}: skipped: {reason}"),
            })
            .collect()
    }

    #[test]
    fn read_in_chunks_on_threads_it_is_the_same_as_in_one_go() {
        // Points that span 2 to 7 lines (some with blank lines inside the quotes), quotes
        // that never close, invalid UTF-8, comments and blank lines: chunk ends fall inside
        // points at many places.
        let mut bytes = Vec::new();
        for i in 0..4000u64 {
            let ts = 1_636_524_705_288 + i;
            let point = match i % 13 {
                0 | 5 => {
                    let extra: String = (0..(1 + i % 6)).map(|k| if k == 2 { "\n".to_string() } else { format!("\n\tat f{k} (a.js:{i}:{k})") }).collect();
                    format!("error,session_id=s{} error_stack=\"Error {i}{extra}\",n={i}i {ts}\n", i / 50)
                }
                3 if i % 3 == 0 => format!("error,session_id=s{} error_message=\"never closed {i} {ts}\n", i / 50),
                8 => "# a comment\n\n".to_string(),
                11 => format!("action,session_id=s{} action_name=\"a\\\"b\",duration=notanumber {ts}\n", i / 50),
                _ => format!("view,session_id=s{},view_url=/p{} loading_time={}i,time_spent={}.5 {ts}\n", i / 50, i % 17, i * 3, i),
            };
            bytes.extend_from_slice(point.as_bytes());
            if i % 7 == 0 && i % 13 == 7 {
                bytes.extend_from_slice(b"view,session_id=x view_name=\"\xff\" 1636524705288\n");
            }
        }
        bytes.extend_from_slice(b"error,session_id=last msg=\"open at the end\n\tstill open\n");

        let mut whole = BatchSink::with_capacity(0);
        parse(&mut std::io::Cursor::new(bytes.clone()), &mut whole).expect("parse in one go");
        let expected = describe(whole.batch);
        // The text has what it is meant to have.
        let mut collected = CollectSink::default();
        parse(&mut std::io::Cursor::new(bytes.clone()), &mut collected).expect("parse into memory");
        let over_lines = collected.events.iter().filter(|(_, e)| e.get_str("error_stack").is_some_and(|s| s.lines().count() > 2)).count();
        assert!(over_lines > 500, "{over_lines} points over more than two lines");
        assert!(collected.problems.iter().filter(|p| p.reason.contains("never closed")).count() > 50);
        assert!(collected.problems.iter().filter(|p| p.reason.contains("UTF-8")).count() > 5);
        assert!(collected.problems.iter().any(|p| p.reason.contains("runs to the end of the file")));
        for workers in [1, 2, 3] {
            let mut reader = std::io::Cursor::new(bytes.clone());
            let (seen, outcome) = std::thread::scope(|scope| {
                let (mut batches, outcome, handles) = crate::ingest::parallel::spawn(scope, &mut reader, workers, PointLines);
                let mut seen = Vec::new();
                while let Some(batch) = batches.next_batch() {
                    seen.extend(describe(batch));
                }
                drop(batches);
                for handle in handles {
                    let _ = handle.join();
                }
                (seen, outcome.take())
            });
            assert!(outcome.failure.is_none());
            let first_difference = seen.iter().zip(&expected).position(|(a, b)| a != b);
            assert_eq!(first_difference.map(|i| (&seen[i], &expected[i])), None, "{workers} workers");
            assert_eq!(seen.len(), expected.len(), "{workers} workers");
        }
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
