//! Line-protocol points read straight into the store's rows, without building an `Event`
//! first: the import's hot path for the line protocol, as `datadog_direct` is for NDJSON.
//!
//! Gives the row `line_protocol::parse_point` followed by `writer::prepare` gives, or None:
//! then the general path reads the point, and words any message. None for anything but the
//! common case: a blank line or a comment, a point that goes on on the next line, a key
//! twice, a value that is not a number where one is expected, no session id, a bad point.

use super::line_protocol::parse_bare_value;
use crate::model::{epoch_to_ms, key_info, FieldValue, ValueRef};
use crate::store::writer::{kind_name, prepare_fields_with, recycle_vec, DirectField, FieldScratch, PreparedEvent};
use std::ops::Range;

/// Where a text of the point lies: in the line, or (when an escape was undone) in the
/// scratch buffer.
#[derive(Clone, Debug)]
enum Text {
    Line(Range<usize>),
    Unescaped(Range<usize>),
}

#[derive(Clone, Debug)]
enum Value {
    Text(Text),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Lists and the buffer kept between points, so their room is allocated once.
#[derive(Default)]
pub struct PointScratch {
    unescaped: String,
    parsed: Vec<(Text, Value)>,
    fields: Vec<DirectField<'static>>,
    field_scratch: FieldScratch,
}

/// The bytes that end a name or a tag value (and the backslash, which escapes them), as a
/// bit per byte below 64: all of them are.
const VALUE_STOPS: u64 = 1 << b',' | 1 << b' ';
const KEY_STOPS: u64 = VALUE_STOPS | 1 << b'=';

fn is_stop(byte: u8, stops: u64) -> bool {
    byte < 64 && stops >> byte & 1 == 1 || byte == b'\\'
}

/// A bit per byte of `chunk` (its first 16) that is a comma, a space or a backslash, or with
/// `equals` an `=` too.
#[cfg(target_arch = "x86_64")]
fn stop_bytes_16(chunk: &[u8], equals: bool) -> u32 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, __m128i};
    assert!(chunk.len() >= 16);
    // SAFETY: SSE2 is part of x86_64; the load reads 16 bytes, which `chunk` has (checked
    // above), and needs no alignment.
    unsafe {
        let bytes = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let commas = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b',' as i8));
        let spaces = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b' ' as i8));
        let backslashes = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\\' as i8));
        let mut found = _mm_or_si128(_mm_or_si128(commas, spaces), backslashes);
        if equals {
            found = _mm_or_si128(found, _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'=' as i8)));
        }
        _mm_movemask_epi8(found) as u32
    }
}

/// A text being read: borrowed from the line until an escape is undone, copied from then on.
struct TextRun {
    start: usize,
    /// Where the text starts in the unescaped buffer, once copied.
    copied: Option<usize>,
    /// The line's text not copied yet starts here.
    run_start: usize,
}

impl TextRun {
    fn at(start: usize) -> TextRun {
        TextRun { start, copied: None, run_start: start }
    }
}

struct Reader<'a, 's> {
    bytes: &'a [u8],
    at: usize,
    unescaped: &'s mut String,
}

impl Reader<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// A name or a tag value up to an unescaped stop byte, as `line_protocol`'s cursor reads
    /// it: `\` before `,`, `=`, space, `"` or `\` is undone, any other `\` kept.
    fn escaped(&mut self, stops: u64) -> Text {
        let mut run = TextRun::at(self.at);
        loop {
            self.skip_to_stop(stops);
            if self.peek() != Some(b'\\') {
                break;
            }
            match self.bytes.get(self.at + 1) {
                Some(next @ (b',' | b'=' | b' ' | b'"' | b'\\')) => self.undo_escape(&mut run, *next),
                _ => self.at += 1,
            }
        }
        self.text_of(run)
    }

    /// Moves to the next stop byte or backslash, or the end.
    fn skip_to_stop(&mut self, stops: u64) {
        // Sixteen bytes at a time while they last: keys and values are most of a point's text
        // (callgrind, 1k-session import: the byte loop was 15% of all instructions).
        #[cfg(target_arch = "x86_64")]
        while let Some(chunk) = self.bytes.get(self.at..self.at + 16) {
            let found = stop_bytes_16(chunk, stops == KEY_STOPS);
            if found != 0 {
                self.at += found.trailing_zeros() as usize;
                return;
            }
            self.at += 16;
        }
        while self.bytes.get(self.at).is_some_and(|b| !is_stop(*b, stops)) {
            self.at += 1;
        }
    }

    /// A quoted field's text; the reader is on the opening quote. None when the quote does not
    /// close on this line.
    fn quoted(&mut self) -> Option<Text> {
        self.at += 1;
        let mut run = TextRun::at(self.at);
        loop {
            let rest = self.bytes.get(self.at..)?;
            self.at += memchr::memchr2(b'"', b'\\', rest)?;
            if self.peek() == Some(b'"') {
                let text = self.text_of(run);
                self.at += 1;
                return Some(text);
            }
            match self.bytes.get(self.at + 1)? {
                next @ (b'"' | b'\\') => self.undo_escape(&mut run, *next),
                _ => self.at += 1,
            }
        }
    }

    /// Undoes the escape the reader is on (a backslash, then `byte`): the text is copied from here.
    fn undo_escape(&mut self, run: &mut TextRun, byte: u8) {
        run.copied.get_or_insert(self.unescaped.len());
        self.push_run(run.run_start, self.at);
        self.unescaped.push(char::from(byte));
        self.at += 2;
        run.run_start = self.at;
    }

    /// The text read up to here.
    fn text_of(&mut self, run: TextRun) -> Text {
        match run.copied {
            None => Text::Line(run.start..self.at),
            Some(from) => {
                self.push_run(run.run_start, self.at);
                Text::Unescaped(from..self.unescaped.len())
            }
        }
    }

    /// Copies line text into the unescaped buffer. Runs end before an ASCII byte, so they are
    /// whole characters.
    fn push_run(&mut self, from: usize, to: usize) {
        if let Some(run) = self.bytes.get(from..to).and_then(|run| std::str::from_utf8(run).ok()) {
            self.unescaped.push_str(run);
        }
    }
}

/// Reads a point into `scratch.parsed` (kind first, with no value); the timestamp.
fn read_point(line: &str, scratch: &mut PointScratch) -> Option<i64> {
    let bytes = line.as_bytes();
    // Leading white space (which the general path trims, Unicode's included), a comment, a
    // blank line: the general path's.
    let first = *bytes.first()?;
    if first.is_ascii_whitespace() || first == b'#' || first >= 0x80 {
        return None;
    }
    let mut reader = Reader { bytes, at: 0, unescaped: &mut scratch.unescaped };
    let kind = reader.escaped(VALUE_STOPS);
    if reader.at == 0 {
        return None;
    }
    scratch.parsed.push((kind, Value::Bool(false)));
    if reader.peek() == Some(b',') {
        loop {
            reader.at += 1;
            let key_start = reader.at;
            let key = reader.escaped(KEY_STOPS);
            if reader.peek() != Some(b'=') || reader.at == key_start {
                return None;
            }
            reader.at += 1;
            let value = reader.escaped(VALUE_STOPS);
            scratch.parsed.push((key, Value::Text(value)));
            if reader.peek() != Some(b',') {
                break;
            }
        }
    }
    if reader.peek() != Some(b' ') {
        return None;
    }
    while reader.peek() == Some(b' ') {
        reader.at += 1;
    }
    loop {
        let key_start = reader.at;
        let key = reader.escaped(KEY_STOPS);
        if reader.peek() != Some(b'=') || reader.at == key_start {
            return None;
        }
        reader.at += 1;
        let value = if reader.peek() == Some(b'"') {
            Value::Text(reader.quoted()?)
        } else {
            let start = reader.at;
            reader.at += bytes.get(start..)?.iter().position(|b| *b == b',' || *b == b' ').unwrap_or(bytes.len() - start);
            match parse_bare_value(line.get(start..reader.at)?)? {
                FieldValue::Int(i) => Value::Int(i),
                FieldValue::Float(f) => Value::Float(f),
                FieldValue::Bool(b) => Value::Bool(b),
                _ => return None,
            }
        };
        scratch.parsed.push((key, value));
        if reader.peek() == Some(b',') {
            reader.at += 1;
            continue;
        }
        break;
    }
    let rest = line.get(reader.at..)?.trim();
    if rest.is_empty() {
        return None;
    }
    rest.parse::<i64>().ok()
}

/// The row of a point, or None: then the general path reads it.
pub fn prepare_point(line: &str, scratch: &mut PointScratch) -> Option<PreparedEvent> {
    scratch.unescaped.clear();
    scratch.parsed.clear();
    let timestamp = read_point(line, scratch)?;
    prepare_parsed(line, epoch_to_ms(timestamp), scratch)
}

fn prepare_parsed(line: &str, time_ms: i64, scratch: &mut PointScratch) -> Option<PreparedEvent> {
    let PointScratch { unescaped, parsed, fields, field_scratch } = scratch;
    let text = |t: &Text| -> Option<&str> {
        match t {
            Text::Line(range) => line.get(range.clone()),
            Text::Unescaped(range) => unescaped.get(range.clone()),
        }
    };
    let (kind, keyed) = parsed.split_first()?;
    let kind = kind_name(text(&kind.0)?);
    let mut direct: Vec<DirectField<'_>> = recycle_vec(std::mem::take(fields));
    // A key twice is the general path's (the last value wins, at the first one's place).
    let mut columns_seen: u64 = 0;
    let mut twice = false;
    for (key, value) in keyed {
        let key = text(key)?;
        let info = key_info(key);
        match info.event_column {
            Some(column) if column < 64 => {
                twice |= columns_seen >> column & 1 == 1;
                columns_seen |= 1 << column;
            }
            _ => twice |= direct.iter().any(|field| field.key == key),
        }
        let value = match value {
            Value::Text(t) => ValueRef::Str(text(t)?),
            Value::Int(i) => ValueRef::Int(*i),
            Value::Float(f) => ValueRef::Float(*f),
            Value::Bool(b) => ValueRef::Bool(*b),
        };
        direct.push(DirectField { key, value, info });
    }
    let prepared = if twice { None } else { prepare_fields_with(kind, time_ms, &direct, field_scratch) };
    *fields = recycle_vec(direct);
    prepared
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::writer::prepare;

    /// The row the general path gives.
    fn general_row(line: &str) -> Option<PreparedEvent> {
        let event = super::super::line_protocol::parse_point(line).ok()??;
        prepare(event).ok()
    }

    /// Whether the direct path took the point; when it did, the row is the general path's.
    fn took_the_same_row(line: &str) -> bool {
        let mut scratch = PointScratch::default();
        let Some(direct) = prepare_point(line, &mut scratch) else { return false };
        let general = general_row(line).unwrap_or_else(|| panic!("the general path skips what the direct one took: {line}"));
        assert!(direct.same_row_as(&general), "{line}\ndirect:  {direct:?}\ngeneral: {general:?}");
        true
    }

    #[test]
    fn generated_points_take_the_direct_path_with_the_same_rows() {
        let mut rng = crate::generate::Rng::new(12);
        let mut checked = 0;
        for _ in 0..30 {
            for event in crate::generate::session_events(&mut rng) {
                let line = crate::generate::to_line_protocol(&event);
                // A stack with a newline is a point over several lines: its first line is the
                // general path's, which joins the lines.
                if let Some((first_line, _)) = line.split_once('\n') {
                    assert!(!took_the_same_row(first_line), "taken: {first_line}");
                }
                assert!(took_the_same_row(&line), "not taken: {line}");
                checked += 1;
            }
        }
        assert!(checked > 300, "{checked}");
    }

    #[test]
    fn stops_and_escapes_at_every_offset_give_the_same_rows() {
        // Each byte that ends a key or a value, escaped or not, at offsets 0-39 of a long
        // key, tag value and quoted field: the 16-byte scan must stop where the byte loop does.
        let specials = [",", " ", "=", "\\", "\\ ", "\\,", "\\=", "\\\\", "\\x", "\"", "\\\"", "é", "\u{1}"];
        let mut taken = 0;
        for offset in 0..40 {
            for special in specials {
                let text = format!("{}{special}{}", "a".repeat(offset), "b".repeat(20));
                let lines = [
                    format!("view,session_id=s1,{text}=v x=1i 1636524705288"),
                    format!("view,session_id=s1,tag={text} x=1i 1636524705288"),
                    format!("view,session_id=s1 field=\"{text}\",x=1i 1636524705288"),
                    format!("view,session_id=s1 {text}=1i 1636524705288"),
                ];
                for line in &lines {
                    taken += usize::from(took_the_same_row(line));
                }
            }
        }
        assert!(taken > 40 * 20, "{taken}");
    }

    #[test]
    fn escapes_and_odd_values_give_the_same_rows() {
        let taken = [
            // Escapes in the measurement, keys, tag values and quoted fields; a lone backslash.
            r#"vi\,ew,session_id=s1,os=Mac\ OS,a\=b=c\,d\\e,path=C:\dir\x view_name="say \"hi\" \\ \n",n=1i 1636524705288"#,
            // Every bare value kind; an empty tag value; seconds, micro- and nanoseconds.
            r#"action,session_id=s1,empty= big=18446744073709551615u,neg=-3i,f=1.5e3,plain=7,t=T,no=false 1636524705"#,
            r#"error,session_id=s1 error_message="é ü 中",error_source="console" 1636524705288000"#,
            r#"resource,session_id=s1,view_url=https://a.example/p?q=1 resource_url="https://a.example/api",duration=12i 1636524705288000000"#,
            // A text column given a number; spaces before and after the timestamp.
            r#"view,session_id=s1 view_name=12.5,loading_time=5i   1636524705288  "#,
            // A key known under another kind, a kind without columns.
            r#"vital,session_id=s1,browser=Chrome vital_value=2.5,loading_time=1i 1636524705288"#,
            // view_path given as text: kept, not taken from view_url; given without view_url.
            r#"view,session_id=s1,view_url=https://a.example/b,view_path=/a x=1i 1636524705288"#,
            r#"view,session_id=s1,view_path= x=1i 1636524705288"#,
        ];
        for line in taken {
            assert!(took_the_same_row(line), "not taken: {line}");
        }
        let general_only = [
            "",
            "# comment",
            "  view,session_id=s1 x=1i 1636524705288",
            // The same key as a tag and a field; a column key twice.
            r#"view,session_id=s1,os=a os="b" 1636524705288"#,
            r#"view,session_id=s1 loading_time=1i,loading_time=2i 1636524705288"#,
            // A quote that goes on on the next line; a backslash at the end.
            r#"error,session_id=s1 error_stack="at a.js"#,
            r#"error,session_id=s1 error_stack="at\"#,
            // Not a number where a number is expected: a warning the general path words.
            r#"view,session_id=s1 loading_time="slow" 1636524705288"#,
            // No session id; a bad value; no timestamp; no fields.
            r#"view,user=u x=1i 1636524705288"#,
            r#"view,session_id=s1 x=abc 1636524705288"#,
            r#"view,session_id=s1 x=1i"#,
            r#"view,session_id=s1 1636524705288"#,
            // view_path given, but not as text: `prepare` replaces it.
            r#"view,session_id=s1,view_url=/b view_path=1i 1636524705288"#,
        ];
        for line in general_only {
            assert!(!took_the_same_row(line), "taken: {line}");
        }
    }
}
