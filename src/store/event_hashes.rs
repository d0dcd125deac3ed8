//! Each session's events' text values of many values (a request's URL, a view's URL, id or
//! referrer, an action's id, an error's stack) and of their extended fields, kept as a Bloom
//! filter per session (`session_event_hashes`, schema 14). A filter's exact value on such a
//! field (`resource_url:"https://…/api/cart?id=42"`, `resource_url_path:/api/cart`, what the
//! timeline's *Filter field value* writes) then reads a session's events only where its filter
//! says the value may be there, instead of reading every event of the store (17 s at
//! 1,000,000 sessions for a value few sessions have).
//!
//! A filter never says no to a value the session's events hold: it is a superset, so a copy
//! of a view merged away or a value gone later leaves bits that only cost a read of the
//! session's events. The filter's size follows the session's number of values (12 to 24 bits
//! a value, at least 64 bits, at most 64 Kbit), a power of two, so that two filters of one
//! session merge by folding the larger onto the smaller's size.

use super::event_row::EventRow;
use crate::ingest::json_token;
use crate::model::EVENT_COLUMNS;

/// The event columns whose values the filters hold: text columns of many values that no
/// other structure answers (`view_path` has `session_pages`; the action name, error type and
/// message have indexes; the columns of few values are listed in `session_event_values`).
pub const HASHED_COLUMNS: &[&str] = &["view_id", "view_url", "view_name", "view_referrer", "action_id", "error_stack", "resource_url"];

/// Bits a distinct value gets at least (a power of two is taken above it): with four probes,
/// at most about one session in 150 whose events lack a value is read for it.
const BITS_PER_VALUE: usize = 12;
const PROBES: u32 = 4;
const MIN_BYTES: usize = 8;
const MAX_BYTES: usize = 8192;

/// The SQL function that asks a filter whether it may hold a hash: `rum_may_hold(bits, hash)`.
pub const MAY_HOLD_FUNCTION: &str = "rum_may_hold";

/// Registers [`MAY_HOLD_FUNCTION`] on a connection that reads sessions.
pub fn register_may_hold(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(MAY_HOLD_FUNCTION, 2, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, |ctx| {
        let bits = ctx.get_raw(0).as_blob().unwrap_or_default();
        Ok(may_hold(bits, ctx.get::<i64>(1)? as u64))
    })
}

/// The hash of a field's value: `tag` is the column's name or the extended field's key.
pub fn value_hash(tag: &str, value: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(value, tag_seed(tag))
}

fn tag_seed(tag: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(tag.as_bytes())
}

/// The event columns in [`HASHED_COLUMNS`], a bit per column index: asked for every field of
/// every event, where a lookup in a lazily built table cost about 10 instructions a field.
const HASHED_COLUMN_BITS: u64 = hashed_column_bits();

const fn hashed_column_bits() -> u64 {
    const fn same(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
    let mut bits = 0u64;
    let mut i = 0;
    while i < EVENT_COLUMNS.len() && i < 64 {
        let mut j = 0;
        while j < HASHED_COLUMNS.len() {
            if same(EVENT_COLUMNS[i].column, HASHED_COLUMNS[j]) {
                bits |= 1 << i;
            }
            j += 1;
        }
        i += 1;
    }
    bits
}

/// Whether the filters hold the values of the event column at `index`.
#[inline]
pub fn is_hashed_column(index: usize) -> bool {
    index < 64 && HASHED_COLUMN_BITS & (1 << index) != 0
}

/// For an event column whose values the filters hold, its tag's seed.
pub fn hashed_column_seed(index: usize) -> Option<u64> {
    if !is_hashed_column(index) {
        return None;
    }
    static SEEDS: std::sync::OnceLock<Vec<Option<u64>>> = std::sync::OnceLock::new();
    let seeds = SEEDS.get_or_init(|| EVENT_COLUMNS.iter().map(|c| HASHED_COLUMNS.contains(&c.column).then(|| tag_seed(c.column))).collect());
    seeds.get(index).copied().flatten()
}

/// The hash of the text `value` of a hashed column whose tag's seed is `seed`
/// ([`hashed_column_seed`]): [`value_hash`] with the seed worked out once.
pub fn column_value_hash(seed: u64, value: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(value, seed)
}

/// Whether a filter's exact value is looked up in the filters: a non-empty text that SQLite
/// compares as text alone (a number is also compared as a number, which the filters do not
/// hold).
pub fn is_hashed_value(value: &str) -> bool {
    !value.is_empty() && !crate::query::compares_as_number(value)
}

/// The positions of a hash's bits in a filter of `bit_count` bits (a power of two).
fn bit_positions(hash: u64, bit_count: usize) -> impl Iterator<Item = usize> {
    let (h1, h2) = (hash as u32, ((hash >> 32) as u32) | 1);
    (0..PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) as usize) & (bit_count - 1))
}

/// Whether the filter `bits` may hold `hash`; a filter that is not one (empty, not a power of
/// two) may hold anything.
pub fn may_hold(bits: &[u8], hash: u64) -> bool {
    if bits.len() < MIN_BYTES || !bits.len().is_power_of_two() {
        return true;
    }
    bit_positions(hash, bits.len() * 8).all(|bit| bits[bit / 8] & (1 << (bit % 8)) != 0)
}

/// Two filters of one session as one: the larger folded onto the smaller's size, then OR-ed.
pub fn merge(a: &[u8], b: &[u8]) -> Vec<u8> {
    let valid = |bits: &[u8]| bits.len() >= MIN_BYTES && bits.len().is_power_of_two();
    match (valid(a), valid(b)) {
        (false, _) | (_, false) => vec![0xff; MIN_BYTES],
        _ => {
            let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            let mut merged = small.to_vec();
            for chunk in large.chunks(small.len()) {
                for (byte, other) in merged.iter_mut().zip(chunk) {
                    *byte |= other;
                }
            }
            merged
        }
    }
}

/// A session's hashes of its events' values, gathered as the writer counts its events.
#[derive(Debug, Clone, Default)]
pub struct EventHashes {
    hashes: Vec<u64>,
    /// A row whose extended fields could not be read: the filter then holds everything.
    unreadable: bool,
}

/// Where the hashed columns are in a row, with their tags' seeds.
#[derive(Debug, Clone)]
pub struct HashedColumns {
    columns: Vec<(usize, u64)>,
}

impl Default for HashedColumns {
    fn default() -> Self {
        HashedColumns { columns: (0..EVENT_COLUMNS.len()).filter_map(|index| hashed_column_seed(index).map(|seed| (index, seed))).collect() }
    }
}

impl EventHashes {
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty() && !self.unreadable
    }

    /// Adds an event's values: the hashes its reader gave with the row, else the hashed
    /// columns' texts and its extended fields' texts read from the row.
    pub fn add_row(&mut self, row: &EventRow, at: &HashedColumns) {
        if let Some(hashes) = row.value_hashes() {
            for hash in hashes {
                self.add(hash);
            }
            return;
        }
        for (index, seed) in &at.columns {
            if let Some(text) = row.column_text_bytes(*index).filter(|text| !text.is_empty()) {
                self.add(column_value_hash(*seed, text));
            }
        }
        self.add_extra_json(row.extra_json());
    }

    /// Adds a hash unless the session's last events gave it: every event of a view repeats the
    /// view's id, URL and referrer, and a request its host, and the cache's sessions hold their
    /// hashes until written (the first version, which kept the repeats, peaked about 30 MB
    /// higher than the build before it at 25,000 sessions).
    fn add(&mut self, hash: u64) {
        const RECENT: usize = 16;
        let recent = &self.hashes[self.hashes.len().saturating_sub(RECENT)..];
        if !recent.contains(&hash) {
            self.hashes.push(hash);
        }
    }

    /// Adds a stored event's values: its hashed columns' texts (in [`HASHED_COLUMNS`]' order,
    /// which is `at`'s) and its extended fields.
    pub fn add_stored(&mut self, at: &HashedColumns, column_texts: &[Option<&[u8]>], extra_json: &str) {
        for ((_, seed), text) in at.columns.iter().zip(column_texts) {
            if let Some(text) = text.filter(|text| !text.is_empty()) {
                self.add(column_value_hash(*seed, text));
            }
        }
        self.add_extra_json(extra_json);
    }

    /// Adds the text values of a JSON object's members (an event's extended fields).
    fn add_extra_json(&mut self, json: &str) {
        if json.len() <= 2 {
            return; // "{}"
        }
        if extra_text_values(json, |key, value| self.add(value_hash(key, value.as_bytes()))).is_none() {
            self.unreadable = true;
        }
    }

    /// The filter: the hashes' bits, in a power of two of bytes sized by their number of
    /// distinct values. Values repeat among a session's events (a host, a status group), so
    /// the bits are set for all the hashes first and then folded onto half as long while the
    /// bits set say there are few enough distinct values; cheaper than sorting the hashes.
    pub fn to_bits(&self) -> Vec<u8> {
        if self.unreadable {
            return vec![0xff; MIN_BYTES];
        }
        let bytes = (self.hashes.len() * BITS_PER_VALUE).div_ceil(8).next_power_of_two().clamp(MIN_BYTES, MAX_BYTES);
        let mut bits = vec![0u8; bytes];
        for hash in &self.hashes {
            for bit in bit_positions(*hash, bytes * 8) {
                bits[bit / 8] |= 1 << (bit % 8);
            }
        }
        while bits.len() > MIN_BYTES {
            let bit_count = (bits.len() * 8) as f64;
            // By words: about a tenth of the instructions of counting byte by byte.
            let set = bits.chunks_exact(8).map(|word| u64::from_le_bytes(word.try_into().unwrap_or_default()).count_ones()).sum::<u32>() as f64;
            if set >= bit_count {
                break;
            }
            // The usual estimate of the number of values in a Bloom filter from its bits set.
            let distinct = -(bit_count / f64::from(PROBES)) * (1.0 - set / bit_count).ln();
            if bit_count / 2.0 < distinct * BITS_PER_VALUE as f64 {
                break;
            }
            let half = bits.len() / 2;
            let (low, high) = bits.split_at_mut(half);
            for (byte, other) in low.iter_mut().zip(high.iter()) {
                *byte |= other;
            }
            bits.truncate(half);
        }
        bits
    }
}

/// Calls `found` with each member of the JSON object `json` whose value is a string; None when
/// the text is not an object as JSON writes it.
fn extra_text_values(json: &str, mut found: impl FnMut(&str, &str)) -> Option<()> {
    let bytes = json.as_bytes();
    let skip_space = |mut at: usize| {
        while bytes.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
            at += 1;
        }
        at
    };
    let mut at = skip_space(0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(at + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some(());
    }
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let (key, after_key) = json_token::string(json, at + 1)?;
        at = skip_space(after_key);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(at + 1);
        if bytes.get(at) == Some(&b'"') {
            let (value, after_value) = json_token::string(json, at + 1)?;
            found(&key, &value);
            at = after_value;
        } else {
            at = skip_value(bytes, at)?;
        }
        at = skip_space(at);
        match bytes.get(at) {
            Some(b',') => at = skip_space(at + 1),
            Some(b'}') => return Some(()),
            _ => return None,
        }
    }
}

/// Where a value that is not a string (a number, literal, object or array) ends.
fn skip_value(bytes: &[u8], mut at: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        match *bytes.get(at)? {
            b'"' => at = json_token::string_end(bytes, at + 1)?.0 + 1,
            b'{' | b'[' => {
                depth += 1;
                at += 1;
            }
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                at += 1;
                if depth == 0 {
                    return Some(at);
                }
            }
            b',' | b'}' | b']' if depth == 0 => return Some(at),
            _ => at += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter_of(values: &[(&str, &str)]) -> Vec<u8> {
        let mut hashes = EventHashes::default();
        hashes.hashes.extend(values.iter().map(|(tag, value)| value_hash(tag, value.as_bytes())));
        hashes.to_bits()
    }

    #[test]
    fn a_column_hashes_its_values_as_its_tag() {
        let column = |name: &str| hashed_column_seed(EVENT_COLUMNS.iter().position(|c| c.column == name).expect("column"));
        let (url, view_url) = (column("resource_url").expect("hashed"), column("view_url").expect("hashed"));
        assert_eq!(column_value_hash(url, b"https://a.example/1"), value_hash("resource_url", b"https://a.example/1"));
        assert_eq!(column_value_hash(view_url, b"https://a.example/1"), value_hash("view_url", b"https://a.example/1"));
        assert!(column("view_path").is_none() && column("resource_method").is_none());
        let hashed: Vec<&str> = (0..EVENT_COLUMNS.len()).filter(|i| is_hashed_column(*i)).map(|i| EVENT_COLUMNS[i].column).collect();
        assert_eq!(hashed, HASHED_COLUMNS);
    }

    #[test]
    fn repeated_values_take_the_room_of_one() {
        let distinct: Vec<String> = (0..40).map(|i| format!("https://a.example/{i}")).collect();
        let once = filter_of(&distinct.iter().map(|v| ("resource_url", v.as_str())).collect::<Vec<_>>());
        let repeated: Vec<(&str, &str)> = (0..20).flat_map(|_| distinct.iter().map(|v| ("resource_url", v.as_str()))).collect();
        let folded = filter_of(&repeated);
        assert_eq!(folded.len(), once.len(), "800 hashes of 40 values take the room of 40");
        assert!(distinct.iter().all(|v| may_hold(&folded, value_hash("resource_url", v.as_bytes()))));
    }

    #[test]
    fn a_filter_holds_every_value_put_in_and_few_others() {
        let values: Vec<(String, String)> = (0..300).map(|i| ("resource_url".to_string(), format!("https://a.example/{i}"))).collect();
        let refs: Vec<(&str, &str)> = values.iter().map(|(t, v)| (t.as_str(), v.as_str())).collect();
        let bits = filter_of(&refs);
        assert!(bits.len().is_power_of_two() && bits.len() * 8 >= 300 * BITS_PER_VALUE);
        assert!(refs.iter().all(|(tag, value)| may_hold(&bits, value_hash(tag, value.as_bytes()))));
        let others = (0..10_000).filter(|i| may_hold(&bits, value_hash("resource_url", format!("https://b.example/{i}").as_bytes()))).count();
        assert!(others < 200, "{others} of 10,000 absent values said present");
        // The tag is part of the hash: the same text under another field is another value.
        let other_tag = (0..300).filter(|i| may_hold(&bits, value_hash("view_url", format!("https://a.example/{i}").as_bytes()))).count();
        assert!(other_tag < 20, "{other_tag}");
    }

    #[test]
    fn merged_filters_hold_both_sides_values() {
        let small = filter_of(&[("view_url", "https://a.example/x")]);
        let many: Vec<String> = (0..500).map(|i| format!("/p/{i}")).collect();
        let large = filter_of(&many.iter().map(|v| ("resource_url", v.as_str())).collect::<Vec<_>>());
        assert!(small.len() < large.len());
        for merged in [merge(&small, &large), merge(&large, &small)] {
            assert_eq!(merged.len(), small.len());
            assert!(may_hold(&merged, value_hash("view_url", b"https://a.example/x")));
            assert!(many.iter().all(|v| may_hold(&merged, value_hash("resource_url", v.as_bytes()))));
        }
        // Something that is not a filter holds everything, merged or not.
        assert!(may_hold(&[1, 2, 3], 42));
        assert!(may_hold(&merge(&[1, 2, 3], &small), 42));
    }

    #[test]
    fn extended_fields_give_their_text_values_unescaped() {
        let mut got = Vec::new();
        let json = r#"{"a":1,"b":"x\"y","c":{"d":"no","e":[1,"]"]},"f":true,"g":"plain","h\u00e9":"\u00e9t\u00e9","n":null}"#;
        assert!(extra_text_values(json, |k, v| got.push((k.to_string(), v.to_string()))).is_some());
        assert_eq!(
            got,
            vec![("b".into(), "x\"y".into()), ("g".into(), "plain".into()), ("hé".into(), "été".into())] as Vec<(String, String)>
        );
        assert!(extra_text_values("{}", |_, _| ()).is_some());
        for broken in ["", "[]", r#"{"a":"x""#, r#"{"a" "x"}"#, r#"{"a":"x",}"#] {
            assert!(extra_text_values(broken, |_, _| ()).is_none(), "{broken}");
        }
        let mut hashes = EventHashes::default();
        hashes.add_extra_json(r#"{"a":"x""#);
        assert_eq!(hashes.to_bits(), vec![0xff; MIN_BYTES]);
    }
}
