//! Guance DataKit JSON points read straight into the store's rows, without a tree of values or
//! an `Event` on the way: the import's hot path for Guance JSON, as `line_protocol_direct` is
//! for the line protocol and `datadog_direct` for NDJSON.
//!
//! Gives the row `guance_json::convert` followed by `writer::prepare` gives, or None: then the
//! general path reads the point, and words any message. None for anything but the common case:
//! a key twice (in a section, or as a tag and a field), a value that is an object or an array,
//! a key with an escape, a time that is text, a top-level key besides the four, no session id.

use super::json_token::{self, Number};
use crate::model::{epoch_to_ms, key_info, ValueRef};
use crate::store::writer::{kind_name, prepare_fields_with, recycle_vec, DirectField, FieldScratch, PreparedEvent};
use std::borrow::Cow;
use std::cell::Cell;
use std::cmp::Ordering;

/// A value of a section as read: text borrowed from the point where it has no escapes.
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Kept until the keys are checked for repeats: a null that repeats a key removes it in the
    /// general path, which the direct one leaves to it.
    Null,
}

/// The lists kept by each parser thread from one point to the next: their room is allocated
/// once, not per point.
#[derive(Default)]
struct Scratch {
    parsed: Vec<(&'static str, Scalar<'static>)>,
    keys: Vec<&'static str>,
    fields: Vec<DirectField<'static>>,
    prepare: FieldScratch,
}

thread_local! {
    static SCRATCH: Cell<Scratch> = Cell::new(Scratch::default());
}

/// One point's text to its prepared row; None when it needs the general path.
pub fn prepare_point(bytes: &[u8]) -> Option<PreparedEvent> {
    SCRATCH.with(|cell| {
        let mut scratch = cell.take();
        let row = prepare_point_with(bytes, &mut scratch);
        cell.set(scratch);
        row
    })
}

fn prepare_point_with(bytes: &[u8], scratch: &mut Scratch) -> Option<PreparedEvent> {
    let text = simdutf8::basic::from_utf8(bytes).ok()?;
    let mut parsed = recycle_vec(std::mem::take(&mut scratch.parsed));
    let mut keys = recycle_vec(std::mem::take(&mut scratch.keys));
    let mut fields = recycle_vec(std::mem::take(&mut scratch.fields));
    let row = read_point(text, &mut parsed).and_then(|(kind, time_ms, tag_count)| {
        keys.extend(parsed.iter().map(|(key, _)| *key));
        if key_twice(&mut keys, tag_count) {
            return None;
        }
        // Each column has one key, so with no key twice no column is given twice either.
        for (key, value) in &parsed {
            let value = match value {
                Scalar::Str(text) => ValueRef::Str(text),
                Scalar::Int(v) => ValueRef::Int(*v),
                Scalar::Float(v) => ValueRef::Float(*v),
                Scalar::Bool(v) => ValueRef::Bool(*v),
                Scalar::Null => continue,
            };
            fields.push(DirectField { key, value, info: key_info(key) });
        }
        prepare_fields_with(kind_name(&kind), time_ms, &fields, &mut scratch.prepare)
    });
    scratch.fields = recycle_vec(fields);
    scratch.keys = recycle_vec(keys);
    scratch.parsed = recycle_vec(parsed);
    row
}

/// Whether a key comes twice among the tags (the first `tag_count`) and the fields. Each
/// section as DataKit writes it is in key order, so a pass and a merge of the two answer;
/// otherwise the keys are sorted.
fn key_twice(keys: &mut [&str], tag_count: usize) -> bool {
    let in_order = |run: &[&str]| run.windows(2).all(|pair| pair[0] < pair[1]);
    let (tags, fields) = keys.split_at(tag_count.min(keys.len()));
    if in_order(tags) && in_order(fields) {
        let (mut t, mut f) = (0, 0);
        while let (Some(tag), Some(field)) = (tags.get(t), fields.get(f)) {
            match tag.cmp(field) {
                Ordering::Less => t += 1,
                Ordering::Greater => f += 1,
                Ordering::Equal => return true,
            }
        }
        return false;
    }
    keys.sort_unstable();
    keys.windows(2).any(|pair| pair[0] == pair[1])
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    /// Takes `expected`, after any whitespace.
    fn take(&mut self, expected: u8) -> Option<()> {
        self.skip_whitespace();
        (self.byte()? == expected).then(|| self.at += 1)
    }

    /// A string, after any whitespace.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.take(b'"')?;
        let (value, next) = json_token::string(self.text, self.at)?;
        self.at = next;
        Some(value)
    }

    /// A key and its colon; None for a key with an escape.
    fn key(&mut self) -> Option<&'a str> {
        let key = match self.string()? {
            Cow::Borrowed(key) => key,
            Cow::Owned(_) => return None,
        };
        self.take(b':')?;
        Some(key)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.text.get(self.at..)?.starts_with(word).then(|| self.at += word.len())
    }

    /// A scalar value, after any whitespace; None for an object or an array.
    fn scalar(&mut self) -> Option<Scalar<'a>> {
        self.skip_whitespace();
        Some(match self.byte()? {
            b'"' => Scalar::Str(self.string()?),
            b't' => self.literal("true").map(|()| Scalar::Bool(true))?,
            b'f' => self.literal("false").map(|()| Scalar::Bool(false))?,
            b'n' => self.literal("null").map(|()| Scalar::Null)?,
            _ => {
                let (number, next) = json_token::number(self.text, self.at)?;
                self.at = next;
                match number {
                    Number::Int(v) => Scalar::Int(v),
                    Number::Float(v) => Scalar::Float(v),
                }
            }
        })
    }

    /// `{`, then keys and values, then `}`; or the end of the object, with `,` between.
    /// Calls `each` with every key (after its colon); it reads the value.
    fn object(&mut self, mut each: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.take(b'{')?;
        self.skip_whitespace();
        if self.byte()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            each(self, key)?;
            self.skip_whitespace();
            match self.byte()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A section (`tags` or `fields`): an object of scalars, or null.
    fn section(&mut self, parsed: &mut Vec<(&'a str, Scalar<'a>)>) -> Option<()> {
        self.skip_whitespace();
        if self.byte()? == b'n' {
            return self.literal("null");
        }
        self.object(|cursor, key| {
            parsed.push((key, cursor.scalar()?));
            Some(())
        })
    }
}

/// Reads a point into `parsed` (the tags, then the fields); its kind, its time in ms and how
/// many of `parsed` are tags.
fn read_point<'a>(text: &'a str, parsed: &mut Vec<(&'a str, Scalar<'a>)>) -> Option<(Cow<'a, str>, i64, usize)> {
    let mut cursor = Cursor { text, at: 0 };
    let (mut kind, mut time_ms) = (None, None);
    // Each section as read: where it starts in `parsed` and where it ends.
    let mut tags: Option<(usize, usize)> = None;
    let mut fields: Option<(usize, usize)> = None;
    cursor.object(|cursor, key| {
        match key {
            "measurement" if kind.is_none() => {
                cursor.skip_whitespace();
                kind = Some(cursor.string().filter(|kind| !kind.is_empty())?);
            }
            "time" if time_ms.is_none() => {
                cursor.skip_whitespace();
                let (number, next) = json_token::number(cursor.text, cursor.at)?;
                cursor.at = next;
                time_ms = Some(match number {
                    Number::Int(v) => epoch_to_ms(v),
                    Number::Float(v) if v.is_finite() => epoch_to_ms(v as i64),
                    Number::Float(_) => return None,
                });
            }
            "tags" if tags.is_none() => {
                let start = parsed.len();
                cursor.section(parsed)?;
                tags = Some((start, parsed.len()));
            }
            "fields" if fields.is_none() => {
                let start = parsed.len();
                cursor.section(parsed)?;
                fields = Some((start, parsed.len()));
            }
            _ => return None,
        }
        Some(())
    })?;
    cursor.skip_whitespace();
    if cursor.at != text.len() {
        return None;
    }
    // Tags first, as the general path sets them: when the fields came first, the tags are
    // moved before them.
    let tag_count = match (tags, fields) {
        (Some((tag_start, tag_end)), Some((field_start, _))) if field_start < tag_start => {
            parsed.rotate_right(tag_end - tag_start);
            tag_end - tag_start
        }
        (Some((start, end)), _) => end - start,
        (None, _) => 0,
    };
    Some((kind?, time_ms?, tag_count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::writer::prepare;

    /// The row the general path gives.
    fn general_row(text: &str) -> Option<PreparedEvent> {
        let event = super::super::guance_json::convert(serde_json::from_str(text).ok()?).ok()?;
        prepare(event).ok()
    }

    /// Whether the direct path took the point; when it did, the row is the general path's.
    fn took_the_same_row(text: &str) -> bool {
        let Some(direct) = prepare_point(text.as_bytes()) else { return false };
        let general = general_row(text).unwrap_or_else(|| panic!("the general path skips what the direct one took: {text}"));
        assert!(direct.same_row_as(&general), "{text}\ndirect:  {direct:?}\ngeneral: {general:?}");
        true
    }

    #[test]
    fn generated_points_take_the_direct_path_with_the_same_rows() {
        let mut rng = crate::generate::Rng::new(5);
        let mut checked = 0;
        for _ in 0..30 {
            for event in crate::generate::session_events(&mut rng) {
                let text = crate::generate::to_guance_json(&event).to_string();
                assert!(took_the_same_row(&text), "not taken: {text}");
                checked += 1;
            }
        }
        assert!(checked > 300, "{checked}");
    }

    #[test]
    fn odd_points_give_the_same_rows_or_go_to_the_general_path() {
        let taken = [
            // Sections in any order, with white space; tags and fields of every scalar kind.
            r#" { "time" : 1636524705288 , "fields" : { "n" : -5 , "f" : 1.5e3 , "t" : true , "u" : false } , "tags" : { "session_id" : "s1" , "os" : "Mac OS" } , "measurement" : "view" } "#,
            // Escapes and Unicode in values and the kind; a null; an empty section; a null section.
            r#"{"measurement":"err\u006fr","tags":{"session_id":"s1","error_type":"Type\"Error\""},"fields":{"error_stack":"at a\n\tat b","gone":null,"msg":"é ü 中"},"time":1636524705}"#,
            r#"{"measurement":"action","tags":{"session_id":"s1"},"fields":null,"time":1636524705288000000}"#,
            r#"{"measurement":"action","tags":{"session_id":"s1"},"fields":{},"time":1636524705288000}"#,
            // Numbers past i64, floats as times, a negative zero.
            r#"{"measurement":"resource","tags":{"session_id":"s1"},"fields":{"big":18446744073709551615,"z":-0,"resource_size":12},"time":1.6365247052e12}"#,
            r#"{"measurement":"resource","tags":{"session_id":"s1"},"fields":{"x":1},"time":18446744073709551615}"#,
            // Keys out of order in both sections; view_path given as text, and taken from view_url.
            r#"{"measurement":"view","tags":{"view_url":"https://a.example/b","session_id":"s1","view_path":"/a"},"fields":{"z":1,"a":2},"time":1636524705288}"#,
            r#"{"measurement":"view","tags":{"session_id":"s1","view_url":"https://a.example/b?q=1"},"time":1636524705288}"#,
            // A column's key beside its column's name.
            r#"{"measurement":"resource","tags":{"session_id":"s1"},"fields":{"duration":1,"duration_ns":2},"time":1636524705288}"#,
            // A kind without columns; a key of one kind on another.
            r#"{"measurement":"vital","tags":{"session_id":"s1","browser":"Chrome"},"fields":{"vital_value":2.5,"loading_time":1},"time":1636524705288}"#,
        ];
        for text in taken {
            assert!(took_the_same_row(text), "not taken: {text}");
        }
        let general_only = [
            // A tag and a field of one name (the field wins); a key twice in a section, with a
            // null last (which removes it); out of order, so the sort finds it.
            r#"{"measurement":"view","tags":{"session_id":"s1","os":"a"},"fields":{"os":"b"},"time":1636524705288}"#,
            r#"{"measurement":"view","tags":{"session_id":"s1"},"fields":{"x":1,"x":null},"time":1636524705288}"#,
            r#"{"measurement":"view","tags":{"session_id":"s1","z":"1","a":"2","z":"3"},"time":1636524705288}"#,
            // Objects and arrays as values; a time as text; another top-level key; a key with an escape.
            r#"{"measurement":"view","tags":{"session_id":"s1"},"fields":{"o":{"k":1}},"time":1636524705288}"#,
            r#"{"measurement":"view","tags":{"session_id":"s1"},"fields":{"a":[1]},"time":1636524705288}"#,
            r#"{"measurement":"view","tags":{"session_id":"s1"},"time":"2025-11-13 14:02:11"}"#,
            r#"{"measurement":"view","tags":{"session_id":"s1"},"time":1636524705288,"extra":1}"#,
            r#"{"measurement":"view","tags":{"session_id":"s1","k\"ey":"v"},"time":1636524705288}"#,
            // No kind, an empty kind, no time, no session id, a session id that is a number.
            r#"{"tags":{"session_id":"s1"},"time":1636524705288}"#,
            r#"{"measurement":"","tags":{"session_id":"s1"},"time":1636524705288}"#,
            r#"{"measurement":"view","tags":{"session_id":"s1"}}"#,
            r#"{"measurement":"view","tags":{"os":"x"},"time":1636524705288}"#,
            r#"{"measurement":"view","tags":{"session_id":7},"time":1636524705288}"#,
            // Not JSON, or more than a point: a trailing comma, a second value, a control
            // character in a string, an array of points.
            r#"{"measurement":"view","tags":{"session_id":"s1"},"time":1636524705288},"#,
            r#"{"measurement":"view","tags":{"session_id":"s1"},"time":1636524705288} {}"#,
            "{\"measurement\":\"view\",\"tags\":{\"session_id\":\"s\u{1}1\"},\"time\":1636524705288}",
            r#"[{"measurement":"view","tags":{"session_id":"s1"},"time":1636524705288}]"#,
            r#"{"measurement":"view","tags":{"session_id":"s1"},"time":01}"#,
            "",
        ];
        for text in general_only {
            assert!(!took_the_same_row(text), "taken: {text}");
        }
        // Not UTF-8: serde_json says where.
        assert!(prepare_point(b"{\"measurement\":\"view\",\"tags\":{\"session_id\":\"s\xff\"},\"time\":1}").is_none());
    }

    #[test]
    fn a_key_twice_is_found_in_order_and_out_of_it() {
        let cases: [(&[&str], usize, bool); 6] = [
            (&["a", "b"], 1, false),
            (&["a", "b", "a"], 2, true),
            (&["a", "c", "b", "d"], 2, false),
            (&["b", "a", "c", "a"], 2, true),
            (&["c", "a", "b"], 3, false),
            (&["c", "a", "c"], 0, true),
        ];
        for (keys, tag_count, twice) in cases {
            assert_eq!(key_twice(&mut keys.to_vec(), tag_count), twice, "{keys:?} {tag_count}");
        }
    }
}
