//! The values a session's events have in the event columns of few values (a resource's
//! status, method and type, an action's type, an error's source and handling, a view's loading
//! type), kept once per session as one short text (schema 13, `session_event_values`).
//!
//! A filter on one of these values (`resource_status:503`, `-resource_method:GET`) then reads
//! one text per session instead of every event: at 1,000,000 sessions that is about 130 MB
//! instead of the 17.8 GB events table. The text lists tokens `code=value` between separators,
//! sorted; a column whose values in a session were not all kept (too many, too long, neither
//! text nor integer) has the token `code*` instead, and a filter asks that session's events.

use super::event_row::{EventRow, Slot};
use crate::model::EVENT_COLUMNS;
use rusqlite::types::ValueRef;

/// The columns kept, each with its short code in the tokens, and whether SQLite stores it as
/// an integer (its values are then kept as their decimal text).
pub const VALUE_COLUMNS: [(&str, &str, bool); 7] = [
    ("resource_status", "rs", true),
    ("resource_method", "rm", false),
    ("resource_type", "rt", false),
    ("action_type", "at", false),
    ("error_source", "es", false),
    ("error_handling", "eh", false),
    ("view_loading_type", "vl", false),
];

/// Between tokens and around them: the unit separator, which names and values do not hold
/// (a value that does is not kept).
pub const SEPARATOR: char = '\u{1f}';
const _: () = {
    let mut i = 0;
    while i < VALUE_COLUMNS.len() {
        assert!(VALUE_COLUMNS[i].1.len() == 2, "codes are two letters: see EventValues::encode");
        i += 1;
    }
};
/// Distinct values kept per column and session: beyond them the session's events are asked.
pub const MAX_VALUES_PER_COLUMN: usize = 32;
/// Distinct values per column the store's list of every value seen keeps (see
/// `schema::SEEN_EVENT_VALUES`): a comparison (`resource_status:>=500`) looks for those it accepts.
pub const MAX_SEEN_PER_COLUMN: usize = 1000;
/// Longer values are not kept: these columns hold words and numbers.
pub const MAX_VALUE_BYTES: usize = 64;

/// The positions in [`EVENT_COLUMNS`] of the kept columns, in the order of [`VALUE_COLUMNS`].
pub fn value_column_positions() -> [usize; VALUE_COLUMNS.len()] {
    // Constant names of our own schema; a missing one would find nothing at usize::MAX, and the
    // tests that compare the kept values with the events' would fail.
    VALUE_COLUMNS.map(|(column, _, _)| EVENT_COLUMNS.iter().position(|c| c.column == column).unwrap_or(usize::MAX))
}

/// Whether `column` is one of the kept columns.
pub fn is_value_column(column: &str) -> bool {
    VALUE_COLUMNS.iter().any(|(c, _, _)| *c == column)
}

/// One session's kept values.
#[derive(Debug, Clone, Default)]
pub struct EventValues {
    /// Per column of `VALUE_COLUMNS`, its values, each once, as its length (a byte: values are
    /// short) and its bytes in one buffer: an event's value is looked for among its column's
    /// few, and a session's dozen values take a few allocations (a `Box<str>` each took about
    /// 20 MB more at the peak of a 25,000-session import).
    held: [Vec<u8>; VALUE_COLUMNS.len()],
    /// A bit per position in `VALUE_COLUMNS`: a value of that column was not kept.
    unkept: u8,
    /// The last integer added and its column: a session's requests mostly answer 200, and
    /// this spares writing its decimal to find it held.
    last_integer: Option<(u8, i64)>,
}

impl EventValues {
    pub fn is_empty(&self) -> bool {
        self.unkept == 0 && self.held.iter().all(Vec::is_empty)
    }

    /// Adds an event's values from its row, as SQLite will store them. Nearly every value is
    /// one the session has already: that is found by comparing bytes, before any check.
    pub fn add_row(&mut self, row: &EventRow, positions: &[usize; VALUE_COLUMNS.len()]) {
        for (slot, &position) in positions.iter().enumerate() {
            match row.column(position) {
                Slot::Null => {}
                Slot::Integer(n) => self.add_integer(slot, n),
                Slot::Text(range) => {
                    let bytes = row.bytes_of(range);
                    if self.holds(slot, bytes) {
                        continue;
                    }
                    match std::str::from_utf8(bytes) {
                        Ok(text) if VALUE_COLUMNS[slot].2 => match canonical_integer(text) {
                            // An integer column stores such a text as the integer.
                            Some(_) => self.add_text(slot, text),
                            None => self.add_unkept(slot),
                        },
                        Ok(text) => self.add_text(slot, text),
                        Err(_) => self.add_unkept(slot),
                    }
                }
                // SQLite's text of a float is its own formatting; not worth matching.
                Slot::Real(_) => self.add_unkept(slot),
            }
        }
    }

    /// Whether the value is held already, or its column's values are not kept.
    fn holds(&self, slot: usize, bytes: &[u8]) -> bool {
        self.unkept & 1 << slot != 0 || values_in(&self.held[slot]).any(|held| held == bytes)
    }

    /// The values held: (position in `VALUE_COLUMNS`, bytes).
    fn held_values(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.held.iter().enumerate().flat_map(|(slot, held)| values_in(held).map(move |value| (slot, value)))
    }

    /// Adds a stored value as SQLite gives it back (see [`EventValues::add_row`]).
    pub fn add_stored(&mut self, slot: usize, value: ValueRef<'_>) {
        match value {
            ValueRef::Null => {}
            ValueRef::Integer(n) => self.add_integer(slot, n),
            ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
                // An integer column holds text only where the text is no integer.
                Ok(text) if !VALUE_COLUMNS[slot].2 || canonical_integer(text).is_some() => self.add_text(slot, text),
                _ => self.add_unkept(slot),
            },
            ValueRef::Real(_) | ValueRef::Blob(_) => self.add_unkept(slot),
        }
    }

    fn add_integer(&mut self, slot: usize, n: i64) {
        let key = (slot as u8, n);
        // Added before, or its column's values are not kept: nothing to add either way.
        if self.last_integer == Some(key) {
            return;
        }
        self.add_text(slot, itoa::Buffer::new().format(n));
        self.last_integer = Some(key);
    }

    fn add_text(&mut self, slot: usize, text: &str) {
        self.add_text_up_to(slot, text, MAX_VALUES_PER_COLUMN);
    }

    fn add_text_up_to(&mut self, slot: usize, text: &str, max_per_column: usize) {
        if self.holds(slot, text.as_bytes()) {
            return;
        }
        // The separator is a single byte in UTF-8.
        if text.len() > MAX_VALUE_BYTES || text.as_bytes().contains(&(SEPARATOR as u8)) {
            return self.add_unkept(slot);
        }
        if values_in(&self.held[slot]).count() >= max_per_column {
            return self.add_unkept(slot);
        }
        // At most MAX_VALUE_BYTES: it fits a byte.
        self.held[slot].push(text.len() as u8);
        self.held[slot].extend_from_slice(text.as_bytes());
    }

    fn add_unkept(&mut self, slot: usize) {
        self.unkept |= 1 << slot;
        self.held[slot] = Vec::new();
    }

    /// Adds another session's (or another file's) values to these.
    pub fn add_all(&mut self, other: &EventValues) {
        for slot in 0..VALUE_COLUMNS.len() {
            if other.unkept & 1 << slot != 0 {
                self.add_unkept(slot);
            }
        }
        for (slot, value) in other.held_values() {
            // Added as text, so UTF-8.
            self.add_text(slot, std::str::from_utf8(value).unwrap_or_default());
        }
    }

    /// Adds a session's kept values to the values seen in the store (up to
    /// [`MAX_SEEN_PER_COLUMN`] a column, past which the column is marked). A column whose
    /// values the session did not keep adds nothing: a filter asks that session's events.
    pub fn add_seen(&mut self, other: &EventValues) {
        for (slot, value) in other.held_values() {
            // Added as text, so UTF-8.
            self.add_text_up_to(slot, std::str::from_utf8(value).unwrap_or_default(), MAX_SEEN_PER_COLUMN);
        }
    }

    /// Whether a column's values were not all kept (in a session; in the store's list of values
    /// seen, past [`MAX_SEEN_PER_COLUMN`]).
    pub fn is_unkept(&self, slot: usize) -> bool {
        self.unkept & 1 << slot != 0
    }

    /// The stored text: the tokens sorted, each between separators.
    pub fn encode(&self) -> String {
        // Codes are two letters each, so (code, '*' or '=', value) sorts as the tokens' texts.
        let mut tokens: Vec<(&str, char, &str)> = self
            .held_values()
            // Added as text, so UTF-8.
            .map(|(slot, value)| (VALUE_COLUMNS[slot].1, '=', std::str::from_utf8(value).unwrap_or_default()))
            .collect();
        tokens.extend((0..VALUE_COLUMNS.len()).filter(|slot| self.unkept & 1 << slot != 0).map(|slot| (VALUE_COLUMNS[slot].1, '*', "")));
        tokens.sort_unstable();
        let mut text = String::with_capacity(1 + tokens.iter().map(|(code, _, value)| code.len() + value.len() + 2).sum::<usize>());
        text.push(SEPARATOR);
        for (code, marker, value) in tokens {
            text.push_str(code);
            text.push(marker);
            text.push_str(value);
            text.push(SEPARATOR);
        }
        text
    }

    /// The values a stored text lists; tokens it does not know are left out.
    pub fn decode(text: &str) -> EventValues {
        Self::decode_up_to(text, MAX_VALUES_PER_COLUMN)
    }

    /// The store's list of values seen (see [`EventValues::add_seen`]).
    pub fn decode_seen(text: &str) -> EventValues {
        Self::decode_up_to(text, MAX_SEEN_PER_COLUMN)
    }

    fn decode_up_to(text: &str, max_per_column: usize) -> EventValues {
        let mut values = EventValues::default();
        for slot in 0..VALUE_COLUMNS.len() {
            if text.contains(&searched(unkept_token(slot))) {
                values.add_unkept(slot);
            }
        }
        for (slot, value) in listed_values(text) {
            values.add_text_up_to(slot, value, max_per_column);
        }
        values
    }
}

/// The values in one column's buffer (see [`EventValues::held`]).
fn values_in(held: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = held;
    std::iter::from_fn(move || {
        let (&len, after) = rest.split_first()?;
        let (value, after) = after.split_at_checked(usize::from(len))?;
        rest = after;
        Some(value)
    })
}

/// The token a stored value of the column at `slot` is listed by, separators not included.
fn value_token(slot: usize, value: &str) -> String {
    format!("{}={value}", VALUE_COLUMNS[slot].1)
}

/// The position of a kept column in [`VALUE_COLUMNS`].
pub fn value_column_slot(column: &str) -> Option<usize> {
    VALUE_COLUMNS.iter().position(|(c, _, _)| *c == column)
}

/// The values a stored text lists, as (position in [`VALUE_COLUMNS`], value), without
/// allocating; the tokens of columns whose values were not all kept (`code*`) are left out.
pub fn listed_values(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(SEPARATOR).filter_map(|token| {
        let (code, value) = token.split_once('=')?;
        Some((VALUE_COLUMNS.iter().position(|(_, c, _)| *c == code)?, value))
    })
}

/// The token of a column whose values in a session were not all kept.
fn unkept_token(slot: usize) -> String {
    format!("{}*", VALUE_COLUMNS[slot].1)
}

/// A token as a filter looks for it in a session's text: between separators, so that `rs=50`
/// does not find `rs=500`.
fn searched(token: String) -> String {
    format!("{SEPARATOR}{token}{SEPARATOR}")
}

/// For a filter's `column:value`, the two texts to look for in a session's stored text: the
/// value's token and the token of its column's values not kept, each with its separators.
/// None when the value is not compared as its plain text (`resource_status:500.0`, a text
/// column asked for `007`, which also equals `7`): the events are asked then.
pub fn term_tokens(column: &str, value: &str) -> Option<(String, String)> {
    let slot = value_column_slot(column)?;
    let integer = canonical_integer(value);
    let is_integer_column = VALUE_COLUMNS[slot].2;
    let plain = if is_integer_column {
        integer.is_some()
    } else {
        // A text column compares a number as its text: only a number that reads back as the
        // same text is the value's text alone.
        integer.is_some() || (value.parse::<i64>().is_err() && !value.parse::<f64>().is_ok_and(f64::is_finite))
    };
    if !plain || value.len() > MAX_VALUE_BYTES || value.contains(SEPARATOR) {
        return None;
    }
    Some((searched(value_token(slot, value)), searched(unkept_token(slot))))
}

/// For a comparison of an integer column (`resource_status:>=500`, `[400 TO 499]`), the texts
/// to look for in a session's stored text: the tokens of the values `seen` in the store that
/// `accepts` takes, and the token of the column's values not kept. None when that is not
/// decidable from the values seen: not an integer column, or too many values seen.
pub fn accepted_tokens(column: &str, seen: &EventValues, accepts: impl Fn(i64) -> bool) -> Option<(Vec<String>, String)> {
    let slot = VALUE_COLUMNS.iter().position(|(c, _, is_integer)| *c == column && *is_integer)?;
    if seen.is_unkept(slot) {
        return None;
    }
    let accepted = values_in(&seen.held[slot])
        .filter_map(|value| std::str::from_utf8(value).ok().and_then(canonical_integer))
        .filter(|n| accepts(*n))
        .map(|n| searched(value_token(slot, &n.to_string())))
        .collect();
    Some((accepted, searched(unkept_token(slot))))
}

/// For a pattern on a column (`resource_status:5*`, `resource_type:*x*`), the texts to look
/// for in a session's stored text: the tokens of the values `seen` in the store whose text
/// `matches` takes, and the token of the column's values not kept. None when the values seen
/// are not all listed.
pub fn matching_tokens(column: &str, seen: &EventValues, matches: impl Fn(&str) -> bool) -> Option<(Vec<String>, String)> {
    let slot = value_column_slot(column)?;
    if seen.is_unkept(slot) {
        return None;
    }
    let matching = values_in(&seen.held[slot])
        .filter_map(|value| std::str::from_utf8(value).ok())
        .filter(|text| matches(text))
        .map(|text| searched(value_token(slot, text)))
        .collect();
    Some((matching, searched(unkept_token(slot))))
}

/// The integer a text is the decimal of, with no sign, zeros or spaces that would not read back.
fn canonical_integer(text: &str) -> Option<i64> {
    let n: i64 = text.parse().ok()?;
    (itoa::Buffer::new().format(n) == text).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_decimals_that_read_back_are_canonical() {
        for n in [0, 7, -7, 200, 503, i64::MAX, i64::MIN] {
            assert_eq!(canonical_integer(&n.to_string()), Some(n));
        }
        for text in ["0500", "+500", " 500", "500.0", "5e2", "abc", ""] {
            assert_eq!(canonical_integer(text), None, "{text}");
        }
    }

    #[test]
    fn values_are_kept_once_and_columns_with_too_many_are_marked() {
        let mut values = EventValues::default();
        values.add_integer(0, 200);
        values.add_integer(0, 200);
        values.add_text(1, "GET");
        values.add_text(0, "404");
        assert_eq!(values.encode(), "\u{1f}rm=GET\u{1f}rs=200\u{1f}rs=404\u{1f}");
        assert_eq!(EventValues::decode(&values.encode()).encode(), values.encode());
        for n in 0..MAX_VALUES_PER_COLUMN as i64 {
            values.add_integer(0, 1000 + n);
        }
        assert_eq!(values.encode(), "\u{1f}rm=GET\u{1f}rs*\u{1f}", "too many statuses: the events are asked");
        values.add_text(2, &"x".repeat(MAX_VALUE_BYTES + 1));
        values.add_text(3, "a\u{1f}b");
        assert_eq!(values.encode(), "\u{1f}at*\u{1f}rm=GET\u{1f}rs*\u{1f}rt*\u{1f}");
        let mut other = EventValues::default();
        other.add_text(1, "POST");
        other.add_unkept(4);
        values.add_all(&other);
        assert_eq!(values.encode(), "\u{1f}at*\u{1f}es*\u{1f}rm=GET\u{1f}rm=POST\u{1f}rs*\u{1f}rt*\u{1f}");
    }

    #[test]
    fn a_term_is_looked_up_only_when_its_value_is_compared_as_its_text() {
        let sep = SEPARATOR;
        assert_eq!(term_tokens("resource_status", "503"), Some((format!("{sep}rs=503{sep}"), format!("{sep}rs*{sep}"))));
        assert_eq!(term_tokens("resource_status", "503.0"), None);
        assert_eq!(term_tokens("resource_status", "abc"), None);
        assert_eq!(term_tokens("resource_method", "GET"), Some((format!("{sep}rm=GET{sep}"), format!("{sep}rm*{sep}"))));
        assert_eq!(term_tokens("resource_method", "12"), Some((format!("{sep}rm=12{sep}"), format!("{sep}rm*{sep}"))));
        assert_eq!(term_tokens("resource_method", "012"), None, "equals 12 too");
        assert_eq!(term_tokens("resource_method", "1.5"), None);
        assert_eq!(term_tokens("resource_url", "x"), None, "not a kept column");
    }
}
