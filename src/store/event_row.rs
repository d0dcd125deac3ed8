//! One event's row in one allocation: numbers inline, every text (the column values, the JSON
//! of the other keys, and what the writer needs besides: the session id and the packed session
//! fields) as a range of one byte buffer.
//!
//! A parser thread builds the row and the writer thread inserts and frees it. With a String
//! per value, a 10,000-session import made and freed about a dozen allocations per event,
//! each freed on the other thread than the one that made it.

use crate::model::EVENT_COLUMNS;
use rusqlite::types::Value as SqlValue;

/// How many event columns a row has.
pub const COLUMN_COUNT: usize = EVENT_COLUMNS.len();

/// Where a text sits in its row's buffer. u32 offsets pack a range in 8 bytes; a record is at
/// most `MAX_RECORD_BYTES` (32 MiB), and pushing past 4 GiB fails instead of wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextRange {
    start: u32,
    end: u32,
}

/// One column's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Slot {
    Null,
    Integer(i64),
    Real(f64),
    Text(TextRange),
}

/// What a column holds (see `EventRow::values`).
const NULL: u8 = 0;
const INTEGER: u8 = 1;
const REAL: u8 = 2;
const TEXT: u8 = 3;

/// An event's column values and extended-fields JSON, with the other texts its writer needs.
#[derive(Debug, Clone)]
pub struct EventRow {
    bytes: Vec<u8>,
    /// Per column, what it holds (`NULL`, `INTEGER`, `REAL`, `TEXT`) and its value's bits: the
    /// integer, the float's bits, or a text's start and end. Two arrays rather than
    /// `[Slot; COLUMN_COUNT]` make a row 320 bytes instead of 544, and a row is moved from the
    /// parser to the batch a few times (memmove was 9.5% of the writer's time).
    kinds: [u8; COLUMN_COUNT],
    values: [u64; COLUMN_COUNT],
    extra_json: TextRange,
    /// The hashes of its values for its session's filter (`event_hashes`), little-endian u64s
    /// in the buffer, when the reader gave them; else the writer reads them from the row.
    value_hashes: Option<TextRange>,
}

impl EventRow {
    /// An empty row (every column NULL, extended fields `{}` until set) with room for
    /// `capacity` bytes of text.
    pub fn with_capacity(capacity: usize) -> Self {
        EventRow {
            bytes: Vec::with_capacity(capacity),
            kinds: [NULL; COLUMN_COUNT],
            values: [0; COLUMN_COUNT],
            extra_json: TextRange::default(),
            value_hashes: None,
        }
    }

    /// The buffer, to append to; [`EventRow::range_from`] then names what was appended.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// The range from `start` (a length of the buffer taken before appending) to its end;
    /// None past 4 GiB.
    pub fn range_from(&self, start: usize) -> Option<TextRange> {
        Some(TextRange { start: u32::try_from(start).ok()?, end: u32::try_from(self.bytes.len()).ok()? })
    }

    /// Appends `text` and returns where it is.
    pub fn push_text(&mut self, text: &str) -> Option<TextRange> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(text.as_bytes());
        self.range_from(start)
    }

    /// How many bytes of text the buffer holds.
    pub fn text_len(&self) -> usize {
        self.bytes.len()
    }

    pub fn bytes_of(&self, range: TextRange) -> &[u8] {
        self.bytes.get(range.start as usize..range.end as usize).unwrap_or_default()
    }

    /// A text pushed as text (only [`EventRow::push_text`] and appended `str`s make text
    /// ranges, so it is UTF-8; anything else reads as empty).
    pub fn text_of(&self, range: TextRange) -> &str {
        std::str::from_utf8(self.bytes_of(range)).unwrap_or_default()
    }

    pub fn set(&mut self, column: usize, value: Slot) {
        let (kind, bits) = match value {
            Slot::Null => (NULL, 0),
            Slot::Integer(n) => (INTEGER, n as u64),
            Slot::Real(x) => (REAL, x.to_bits()),
            Slot::Text(range) => (TEXT, (u64::from(range.start) << 32) | u64::from(range.end)),
        };
        if let (Some(slot_kind), Some(slot_bits)) = (self.kinds.get_mut(column), self.values.get_mut(column)) {
            *slot_kind = kind;
            *slot_bits = bits;
        }
    }

    pub fn set_text(&mut self, column: usize, text: &str) -> Option<()> {
        let range = self.push_text(text)?;
        self.set(column, Slot::Text(range));
        Some(())
    }

    pub fn column(&self, column: usize) -> Slot {
        let (Some(&kind), Some(&bits)) = (self.kinds.get(column), self.values.get(column)) else { return Slot::Null };
        match kind {
            INTEGER => Slot::Integer(bits as i64),
            REAL => Slot::Real(f64::from_bits(bits)),
            TEXT => Slot::Text(TextRange { start: (bits >> 32) as u32, end: bits as u32 }),
            _ => Slot::Null,
        }
    }

    /// A bit per column that is not NULL (column 0 the lowest).
    pub fn non_null_columns(&self) -> u64 {
        const { assert!(COLUMN_COUNT <= 64) };
        self.kinds.iter().enumerate().fold(0, |bits, (i, &kind)| bits | (u64::from(kind != NULL) << i))
    }

    /// A text column's bytes, not checked to be UTF-8 (see [`EventRow::text_of`]).
    pub fn column_text_bytes(&self, column: usize) -> Option<&[u8]> {
        match self.column(column) {
            Slot::Text(range) => Some(self.bytes_of(range)),
            _ => None,
        }
    }

    pub fn column_text(&self, column: usize) -> Option<&str> {
        match self.column(column) {
            Slot::Text(range) => Some(self.text_of(range)),
            _ => None,
        }
    }

    pub fn column_integer(&self, column: usize) -> Option<i64> {
        match self.column(column) {
            Slot::Integer(n) => Some(n),
            _ => None,
        }
    }

    /// The extended fields' JSON object, as bytes (SQLite reads them in place).
    pub fn extra_json_bytes(&self) -> &[u8] {
        match self.bytes_of(self.extra_json) {
            [] => b"{}",
            json => json,
        }
    }

    pub fn extra_json(&self) -> &str {
        std::str::from_utf8(self.extra_json_bytes()).unwrap_or("{}")
    }

    /// Names the range holding the extended fields' JSON.
    pub fn set_extra_json_range(&mut self, range: TextRange) {
        self.extra_json = range;
    }

    /// Replaces the extended fields' JSON (the old text stays in the buffer, unused).
    pub fn set_extra_json(&mut self, json: &str) -> Option<()> {
        self.extra_json = self.push_text(json)?;
        Some(())
    }

    /// The columns as SQL values, for the paths that merge copies of a view.
    pub fn to_sql_values(&self) -> Vec<SqlValue> {
        (0..COLUMN_COUNT)
            .map(|i| match self.column(i) {
                Slot::Null => SqlValue::Null,
                Slot::Integer(n) => SqlValue::Integer(n),
                Slot::Real(x) => SqlValue::Real(x),
                Slot::Text(range) => SqlValue::Text(self.text_of(range).to_string()),
            })
            .collect()
    }

    /// A row from SQL values in column order (a merged view) and its extended fields' JSON.
    /// Blobs (no event column has one) are stored as NULL.
    pub fn from_sql_values(columns: &[SqlValue], extra_json: &str) -> Option<Self> {
        let text_bytes: usize = columns.iter().map(|v| if let SqlValue::Text(t) = v { t.len() } else { 0 }).sum();
        let mut row = EventRow::with_capacity(text_bytes + extra_json.len());
        for (i, value) in columns.iter().enumerate().take(COLUMN_COUNT) {
            match value {
                SqlValue::Null | SqlValue::Blob(_) => {}
                SqlValue::Integer(n) => row.set(i, Slot::Integer(*n)),
                SqlValue::Real(x) => row.set(i, Slot::Real(*x)),
                SqlValue::Text(text) => row.set_text(i, text)?,
            }
        }
        row.set_extra_json(extra_json)?;
        Some(row)
    }

    /// Appends the hashes of the row's values for its session's filter (see `event_hashes`).
    pub fn set_value_hashes(&mut self, hashes: &[u64]) -> Option<()> {
        let start = self.bytes.len();
        for hash in hashes {
            self.bytes.extend_from_slice(&hash.to_le_bytes());
        }
        self.value_hashes = Some(self.range_from(start)?);
        Some(())
    }

    /// The hashes [`EventRow::set_value_hashes`] appended; None when none were given.
    pub fn value_hashes(&self) -> Option<impl Iterator<Item = u64> + '_> {
        let range = self.value_hashes?;
        Some(self.bytes_of(range).chunks_exact(8).map(|bytes| u64::from_le_bytes(bytes.try_into().unwrap_or_default())))
    }

    /// The same values (texts compared as text, wherever they sit in the buffers).
    pub fn same_values_as(&self, other: &EventRow) -> bool {
        self.to_sql_values() == other.to_sql_values() && self.extra_json() == other.extra_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_as_they_went_in() {
        let values: Vec<SqlValue> = (0..COLUMN_COUNT)
            .map(|i| match i % 4 {
                0 => SqlValue::Null,
                1 => SqlValue::Integer(i as i64 * 1_000_000_007),
                2 => SqlValue::Real(i as f64 / 3.0),
                _ => SqlValue::Text(format!("text {i} é")),
            })
            .collect();
        let row = EventRow::from_sql_values(&values, r#"{"k":"v"}"#).expect("room");
        assert_eq!(row.to_sql_values(), values);
        assert_eq!(row.extra_json(), r#"{"k":"v"}"#);
        assert_eq!(row.column_text(3), Some("text 3 é"));
        assert_eq!(row.column_integer(1), Some(1_000_000_007));
        assert_eq!(row.column_integer(3), None);
        // An empty text is text, not NULL; no extended fields read as an empty object.
        let mut empty = EventRow::with_capacity(0);
        empty.set_text(0, "").expect("room");
        assert_eq!(empty.to_sql_values()[0], SqlValue::Text(String::new()));
        assert_eq!(empty.to_sql_values()[1], SqlValue::Null);
        assert_eq!(empty.extra_json(), "{}");
        // The edges of each kind, and a column set twice, come back bit for bit.
        let mut edges = EventRow::with_capacity(0);
        edges.set_text(5, "ab").expect("room");
        let slots = [
            Slot::Integer(i64::MIN),
            Slot::Integer(-1),
            Slot::Integer(i64::MAX),
            Slot::Real(-0.0),
            Slot::Real(f64::MAX),
            Slot::Text(edges.push_text("a longer text at an offset").expect("room")),
            Slot::Null,
        ];
        for (column, slot) in slots.iter().enumerate() {
            edges.set(column, *slot);
            assert_eq!(edges.column(column), *slot);
        }
        assert!(matches!(edges.column(3), Slot::Real(x) if x.to_bits() == (-0.0f64).to_bits()));
        assert_eq!(edges.column_text(5), Some("a longer text at an offset"));
        assert_eq!(edges.column(COLUMN_COUNT), Slot::Null);
    }

    #[test]
    fn replacing_the_extended_fields_keeps_the_columns() {
        let mut row = EventRow::with_capacity(4);
        row.set_text(2, "/path").expect("room");
        row.set_extra_json(r#"{"a":1}"#).expect("room");
        row.set_extra_json(r#"{"a":1,"b":2}"#).expect("room");
        assert_eq!(row.extra_json(), r#"{"a":1,"b":2}"#);
        assert_eq!(row.column_text(2), Some("/path"));
        let copy = EventRow::from_sql_values(&row.to_sql_values(), row.extra_json()).expect("room");
        assert!(copy.same_values_as(&row));
        row.set(2, Slot::Integer(1));
        assert!(!copy.same_values_as(&row));
    }
}
