//! Writes the events of one file inside one transaction and keeps the sessions table up to date.

use super::{StoreError, StoreResult};
use crate::model::{
    key_info_of, session_attribute_for_key, url_path, url_path_of, ColumnType, Event, FieldKey, FieldValue, IdKind, KeyInfo,
    KeyRole, ValueRef, EVENT_COLUMNS, SESSION_ATTRIBUTES,
};
use super::event_batch::{event_batch_columns, register_event_batch, BatchRow, BatchSlot, EVENT_BATCH_TABLE};
use super::event_row::{EventRow, Slot, TextRange};
use super::event_hashes::{EventHashes, HashedColumns, HASHED_COLUMNS};
use super::event_values::{value_column_positions, EventValues, VALUE_COLUMNS};
use super::schema::{COLUMNS_ON_OTHER_KINDS, EVENT_FIELD_KEYS, FIELD_KEYS_TOO_MANY, SEEN_EVENT_VALUES, SESSION_FIELD_KEYS};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Statement};
use rustc_hash::{FxHashMap, FxHashSet};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write as _;

/// Sessions whose attributes are cached while a file is written; past this the cache is
/// written out and emptied, so memory stays bounded on files with millions of sessions
/// (about 2 KiB a session, plus its last event's packed session fields; exports interleave
/// far fewer sessions than this at a time).
pub const SESSION_CACHE_LIMIT: usize = 10_000;

/// How far the session cache grows when many sessions come back after leaving it (an export
/// in time order with more sessions under way than the cache holds; see
/// [`FileWriter::evict_least_recently_used`]). Twice the usual: 300,000 sessions within an
/// hour (about 10,000 under way at a time, 12 GB of NDJSON gzipped to 1.5 GB) imported in
/// 104 s at a 240 MB peak with it, against 195 s at 204 MB without; four times would pass the
/// 256 MB the import keeps to.
pub const SESSION_CACHE_MAX: usize = 2 * SESSION_CACHE_LIMIT;

/// A table of the import's own, dropped at its end: the sort keys of the first and last page
/// of sessions this file created that left the cache, so that one that comes back reads them
/// by its key instead of ordering its events twice. In a file in time order a session's events
/// are scattered through the table: 300,000 sessions within an hour spent some 13 s of 104 s
/// in those two queries (44,000 sessions came back).
const PAGE_KEYS_TABLE: &str = "import_page_keys";

/// Sessions that must come back between two write-outs before the cache grows: a few cost
/// little (their row and page keys read back), and tests with tiny caches stay as they are.
const RETURNS_BEFORE_GROWING: usize = 64;

/// Views of sessions this file created are held back (at most this many at a time, oldest
/// written first) so that the copies an SDK re-sends as a view goes on merge in memory and each
/// view is written once with its final values, instead of inserted and then read back and
/// updated in the table and its indexes. Exports send a view's copies close together.
pub const PENDING_VIEW_LIMIT: usize = 4096;

/// Rows queued before they are inserted, by one statement run per column set (see
/// [`super::event_batch`] and [`ColumnGroups`]).
pub const EVENT_BATCH_ROWS: usize = 512;

/// Which groups of event columns a row has values in, a bit per group (see [`column_group`]).
type ColumnGroups = u32;

/// The group an event column is inserted with. A row's insert names only the groups it has
/// values in; the others stay NULL without being read. Most columns are NULL in most rows
/// (a resource has none of the thirteen view timings), and each column named cost SQLite a
/// call to the batch table, a copy and an affinity, and a field in the record: at 1,000
/// sessions the batch insert took 620 M instructions with every column named, 464 M with the
/// sixteen a resource has. Any grouping is correct (a row's groups cover its values); these
/// follow the kinds, so that an export's rows come in a handful of column sets.
fn column_group(column: &str) -> ColumnGroups {
    let group = match column {
        "view_id" | "view_url" | "view_path" | "view_referrer" => 0,
        "view_name" => 1,
        "duration_ns" => 2,
        c if c.starts_with("action_") => 3,
        c if c.starts_with("error_") => 4,
        c if c.starts_with("resource_") => 5,
        // The view's loading type and timings.
        _ => 6,
    };
    1 << group
}

/// How many groups [`column_group`] makes.
const COLUMN_GROUP_COUNT: usize = 7;

/// The bit after the column groups: the row's version rank is not 0, the column's default.
/// Only views have one (a document version or time spent), so the other rows, most of them,
/// leave it out of their insert: one column fewer to hand to SQLite per row.
const VERSION_RANK_GROUP: ColumnGroups = 1 << COLUMN_GROUP_COUNT;

/// Per group (by its bit's position), the columns in it, a bit per column.
fn columns_by_group() -> &'static [u64; COLUMN_GROUP_COUNT] {
    static COLUMNS: std::sync::OnceLock<[u64; COLUMN_GROUP_COUNT]> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        let mut columns = [0; COLUMN_GROUP_COUNT];
        for (i, column) in EVENT_COLUMNS.iter().enumerate() {
            columns[column_group(column.column).trailing_zeros() as usize] |= 1 << i;
        }
        columns
    })
}

/// The groups of the columns `non_null` names, a bit per column of [`EVENT_COLUMNS`].
fn groups_of_columns(non_null: u64) -> ColumnGroups {
    columns_by_group().iter().enumerate().fold(0, |groups, (group, &columns)| groups | (ColumnGroups::from(non_null & columns != 0) << group))
}

/// What writing one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Queued for the next batch; one that meets a stored copy there (the same file imported
    /// twice) is counted among the summary's duplicates instead.
    Inserted,
    /// A view that changes nothing of its copy held back or stored already (the summary
    /// counts it as merged when it is an older copy from the same file).
    Duplicate,
    /// A newer or partial copy of a view merged into the one already stored.
    Merged,
    Skipped(String),
}

/// Counts for one file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WriteSummary {
    pub inserted_by_kind: BTreeMap<String, u64>,
    pub duplicates: u64,
    pub views_merged: u64,
    pub sessions_touched: u64,
    /// Values kept as text because a number was expected: (line, message).
    pub warnings: Vec<(u64, String)>,
}

impl WriteSummary {
    pub fn inserted_total(&self) -> u64 {
        self.inserted_by_kind.values().sum()
    }
}

struct CachedSession {
    session_pk: i64,
    attributes: FxHashMap<String, FieldValue>,
    dirty: bool,
    /// The row exists. A session this file creates is inserted whole, with its aggregates,
    /// when it leaves the cache or at the end of the file, not inserted empty and updated
    /// twice: each of those writes moved it in every one of the session list's indexes.
    stored: bool,
    /// The session fields of its last event, and which of them differed from the session's.
    /// Most events of a session repeat the same ones: comparing the packed bytes then replaces
    /// a map lookup per field (see [`FileWriter::session_for`]).
    last_fields: Vec<u8>,
    last_differing: Vec<(String, FieldValue)>,
    /// When an event last named it (the writer's `use_clock`): the cache writes out the
    /// sessions least recently used first.
    last_used: u64,
}

/// Packed session fields on their own, for the packing's tests.
#[cfg(test)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SessionFields(Vec<u8>);

/// Appends a session field to `bytes`: key, type tag, value; texts with a u32 length (a record
/// is at most 32 MiB). An event's session-scoped fields are packed one after another into a
/// range of its row's buffer (see [`EventRow`]): two events with the same fields have the same
/// bytes, so the writer compares bytes, not maps.
fn pack_session_field(bytes: &mut Vec<u8>, key: &str, value: ValueRef<'_>) {
    let push_text = |bytes: &mut Vec<u8>, text: &str| {
        bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
        bytes.extend_from_slice(text.as_bytes());
    };
    push_text(bytes, key);
    match value {
        ValueRef::Str(text) => {
            bytes.push(0);
            push_text(bytes, text);
        }
        ValueRef::Int(n) => {
            bytes.push(1);
            bytes.extend_from_slice(&n.to_le_bytes());
        }
        ValueRef::Float(x) => {
            bytes.push(2);
            bytes.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        ValueRef::Bool(b) => {
            bytes.push(3);
            bytes.push(u8::from(b));
        }
    }
}

/// The fields [`pack_session_field`] packed, in order.
fn unpack_session_fields(bytes: &[u8]) -> Vec<(String, FieldValue)> {
    let mut fields = Vec::new();
    let mut rest: &[u8] = bytes;
    // Only `pack_session_field` wrote these bytes, so every read succeeds; `?` ends early otherwise.
    let mut next = || -> Option<(String, FieldValue)> {
        fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, tail) = (rest.get(..n)?, rest.get(n..)?);
            *rest = tail;
            Some(head)
        }
        fn take_u64(rest: &mut &[u8]) -> Option<u64> {
            Some(u64::from_le_bytes(take(rest, 8)?.try_into().ok()?))
        }
        fn take_text(rest: &mut &[u8]) -> Option<String> {
            let len = u32::from_le_bytes(take(rest, 4)?.try_into().ok()?) as usize;
            String::from_utf8(take(rest, len)?.to_vec()).ok()
        }
        let key = take_text(&mut rest)?;
        let tag = *take(&mut rest, 1)?.first()?;
        let value = match tag {
            0 => FieldValue::Str(take_text(&mut rest)?),
            1 => FieldValue::Int(take_u64(&mut rest)? as i64),
            2 => FieldValue::Float(f64::from_bits(take_u64(&mut rest)?)),
            _ => FieldValue::Bool(*take(&mut rest, 1)?.first()? != 0),
        };
        Some((key, value))
    };
    while let Some(field) = next() {
        fields.push(field);
    }
    fields
}

#[cfg(test)]
impl SessionFields {
    fn push(&mut self, key: &str, value: ValueRef<'_>) {
        pack_session_field(&mut self.0, key, value);
    }

    fn unpack(&self) -> Vec<(String, FieldValue)> {
        unpack_session_fields(&self.0)
    }
}

/// An event made ready for the store without the database: its identity, its column values
/// and the JSON of its other keys. Import threads prepare events while the writer writes.
#[derive(Debug)]
pub struct PreparedEvent {
    kind: Cow<'static, str>,
    time_ms: i64,
    event_key: i64,
    version_rank: i64,
    /// The columns, and the keys without a column and not session-scoped as a JSON object
    /// (keys sorted); the two ranges below are texts of its buffer too.
    row: EventRow,
    session_id: TextRange,
    /// Session-scoped keys, packed (see [`pack_session_field`]): the writer moves them onto
    /// the session.
    session_fields: TextRange,
    /// Values kept as text because a number was expected.
    warnings: Vec<String>,
    /// A hash of the row's extended field keys (see [`hash_of_field_keys`]): the writer reads
    /// the keys out of a row only for a list of keys it has not seen in this file.
    field_keys_hash: u64,
}

impl PreparedEvent {
    /// The same row: every part equal, the session fields as a set (the writer reads them as a
    /// map, so their order is not part of the row). For tests of the two ways to prepare a row.
    pub fn same_row_as(&self, other: &PreparedEvent) -> bool {
        let sorted = |event: &PreparedEvent| {
            let mut unpacked = unpack_session_fields(event.row.bytes_of(event.session_fields));
            unpacked.sort_by(|a, b| a.0.cmp(&b.0));
            format!("{unpacked:?}")
        };
        (&self.kind, self.time_ms, self.session_id(), self.event_key, self.version_rank, &self.warnings)
            == (&other.kind, other.time_ms, other.session_id(), other.event_key, other.version_rank, &other.warnings)
            && self.row.same_values_as(&other.row)
            && sorted(self) == sorted(other)
    }

    pub fn session_id(&self) -> &str {
        self.row.text_of(self.session_id)
    }
}

/// A kind as the writer keeps it: the common ones without an allocation.
pub fn kind_name(kind: &str) -> Cow<'static, str> {
    match kind {
        "view" => Cow::Borrowed("view"),
        "action" => Cow::Borrowed("action"),
        "error" => Cow::Borrowed("error"),
        "resource" => Cow::Borrowed("resource"),
        "long_task" => Cow::Borrowed("long_task"),
        other => Cow::Owned(other.to_string()),
    }
}

/// Bytes a field's key and value take in a row's buffer, about: as a column or extended field,
/// or packed as a session field.
fn field_room(key: &str, value: ValueRef<'_>) -> usize {
    key.len()
        + 12
        + match value {
            ValueRef::Str(text) => text.len(),
            _ => 24,
        }
}

/// Room in a row for the hashes of its values (see `event_hashes`): eight, which a request
/// carrying its view's fields fills; a row with more grows. Rows wait in batches, so room
/// for every field's hash made an import's peak memory about 25 MB larger at 25,000 sessions,
/// and working out each row's own cost about 16 M instructions at 2,000.
const HASH_ROOM: usize = 64;

/// An event too large for a row (past 4 GiB of text).
const TOO_LARGE: &str = "the event is too large to store";

fn too_large() -> StoreError {
    StoreError::Sqlite(rusqlite::Error::ModuleError(TOO_LARGE.to_string()))
}

/// Prepares an event for [`FileWriter::write_prepared`]; `Err` is why it cannot be stored.
pub fn prepare(mut event: Event) -> Result<PreparedEvent, String> {
    let Some(session_id) = event.session_id().map(str::to_string) else {
        return Err("no session id (session_id / session.id)".into());
    };
    if event.kind.is_empty() {
        return Err("no event kind".into());
    }
    if event.get_str("view_path").is_none() {
        if let Some(url) = event.get_str("view_url") {
            let path = url_path(url);
            event.set("view_path", FieldValue::Str(path));
        }
    }
    // Looked up once per key: the identity and the split below both need it.
    let infos: Vec<KeyInfo> = event.fields.iter().map(|(key, _)| key_info_of(key)).collect();
    // The identity is taken before any key moves to the session, and does not depend on it.
    let event_key = event_key_with(&event, &session_id, &infos);
    let version_rank = version_rank(&event);
    let room = session_id.len() + event.fields.iter().map(|(key, value)| field_room(key, value.as_value_ref())).sum::<usize>();
    let mut row = EventRow::with_capacity(room);
    let session_id_range = row.push_text(&session_id).ok_or(TOO_LARGE)?;
    let mut extra: Vec<(FieldKey, FieldValue)> = Vec::new();
    let fields_start = row.buffer().len();
    let mut warnings = Vec::new();
    let mut column_values: Vec<(usize, FieldValue)> = Vec::new();
    for ((key, value), info) in std::mem::take(&mut event.fields).into_iter().zip(infos) {
        if key == "session_id" {
            continue;
        }
        if info.session_scoped {
            if !value.is_empty_text() {
                pack_session_field(row.buffer(), &key, value.as_value_ref());
            }
            continue;
        }
        let Some(index) = info.event_column else {
            extra.push((key, value));
            continue;
        };
        let converted = match EVENT_COLUMNS[index].column_type {
            ColumnType::Text => {
                column_values.push((index, value));
                continue;
            }
            ColumnType::Integer => value.as_i64().map(Slot::Integer),
            ColumnType::Real => value.as_f64().map(Slot::Real),
        };
        match converted {
            Some(v) => row.set(index, v),
            None => {
                // Lossless: the odd value is kept under its key, and the user is told.
                // As JSON: text quoted, the way the user's file shows it.
                warnings.push(format!("{key} should be a number but is {}; kept as an extended field", value.to_json()));
                extra.push((key, value));
            }
        }
    }
    let session_fields = row.range_from(fields_start).ok_or(TOO_LARGE)?;
    // After the session fields, which must be one range.
    for (index, value) in column_values {
        match value {
            FieldValue::Str(text) => row.set_text(index, &text),
            other => row.set_text(index, &other.to_string()),
        }
        .ok_or(TOO_LARGE)?;
    }
    let extra_json = json_object_text(&mut extra);
    row.set_extra_json(&extra_json).ok_or(TOO_LARGE)?;
    let field_keys_hash = hash_of_field_keys(extra.iter().map(|(key, _)| key.as_ref()));
    Ok(PreparedEvent {
        kind: kind_name(&event.kind),
        time_ms: event.time_ms,
        event_key,
        version_rank,
        row,
        session_id: session_id_range,
        session_fields,
        warnings,
        field_keys_hash,
    })
}

/// One field of an event prepared straight from a file's text (see
/// `ingest::datadog_direct`): its key in the canonical key space, its value, and what the key is.
#[derive(Debug, Clone, Copy)]
pub struct DirectField<'a> {
    pub key: &'a str,
    pub value: ValueRef<'a>,
    pub info: KeyInfo,
}

/// Where `view_path` sits among the event columns.
fn view_path_column() -> usize {
    EVENT_COLUMNS.iter().position(|c| c.key == "view_path").unwrap_or(0)
}

/// [`prepare`] for an event given as fields, no key twice. `view_path`, when not among them
/// as text, is taken from `view_url` here, as `prepare` does. Gives the same row as `prepare`, but for the
/// session fields' order, which is the fields' (the writer reads them as a map). None where
/// `prepare` would do more than the common case: skip the event, or keep a value that should
/// be a number with a warning. The caller then takes that path, which words the messages.
pub fn prepare_fields(kind: Cow<'static, str>, time_ms: i64, fields: &[DirectField<'_>]) -> Option<PreparedEvent> {
    prepare_fields_with(kind, time_ms, fields, &mut FieldScratch::default())
}

/// Lists [`prepare_fields_with`] fills and empties for each event: kept by the caller, their
/// room is allocated once rather than per event (allocation was a quarter of the parser's time).
#[derive(Default)]
pub struct FieldScratch {
    keyed: Vec<(&'static str, ValueRef<'static>)>,
    extra: Vec<(&'static str, ValueRef<'static>)>,
    /// The row's hashes for its session's filter (`event_hashes`).
    value_hashes: Vec<u64>,
}

/// An empty Vec with `v`'s allocation, for items of another lifetime: collecting in place
/// keeps the allocation, as the two item types have one layout. Lets a list of borrowed
/// items outlive the borrows, empty.
pub fn recycle_vec<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| -> U { unreachable!("the Vec is empty") }).collect()
}

/// [`prepare_fields`] with the caller's scratch lists (left with their room, empty).
pub fn prepare_fields_with(
    kind: Cow<'static, str>,
    time_ms: i64,
    fields: &[DirectField<'_>],
    scratch: &mut FieldScratch,
) -> Option<PreparedEvent> {
    let (mut session_id, mut view_url, mut view_path_given) = (None, None, false);
    // The first field of each name, as a search from the front would find it, in the same pass.
    // By the keys' roles, known with each key: a byte matched rather than the key's text.
    let id_kind = IdKind::of_kind(&kind);
    let (mut id_value, mut document_version, mut time_spent) = (None, None, None);
    for field in fields {
        match field.info.role {
            KeyRole::Other => {}
            KeyRole::SessionId => session_id = Some(field.value),
            KeyRole::ViewUrl => view_url = Some(field.value),
            // Given as text it is kept (as `prepare` does); otherwise `prepare` replaces it.
            KeyRole::ViewPath if matches!(field.value, ValueRef::Str(_)) => view_path_given = true,
            KeyRole::ViewPath => return None,
            KeyRole::DocumentVersion => {
                document_version.get_or_insert(field.value);
            }
            KeyRole::TimeSpent => {
                time_spent.get_or_insert(field.value);
            }
            KeyRole::Id(kind) if Some(kind) == id_kind => {
                id_value.get_or_insert(field.value);
            }
            KeyRole::Id(_) => {}
        }
    }
    let session_id = match session_id {
        Some(ValueRef::Str(id)) if !id.is_empty() => id,
        _ => return None,
    };
    // Taken from `view_url` when not given.
    let view_path = match view_url {
        Some(ValueRef::Str(url)) if !url.is_empty() && !view_path_given => Some(url_path_of(url)),
        _ => None,
    };
    let id = id_value.and_then(|value| match value {
        ValueRef::Str(id) if !id.is_empty() => Some(id),
        _ => None,
    });
    let event_key = match id {
        Some(id) => identity_of_id(&kind, session_id, id),
        None => {
            let mut keyed: Vec<(&str, ValueRef<'_>)> = recycle_vec(std::mem::take(&mut scratch.keyed));
            keyed.extend(
                fields
                    .iter()
                    .filter(|field| field.info.role != KeyRole::SessionId && !field.info.session_scoped)
                    .map(|field| (field.key, field.value))
                    .chain(view_path.map(|path| ("view_path", ValueRef::Str(path)))),
            );
            keyed.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let key = identity_of_content(&kind, session_id, time_ms, &keyed);
            scratch.keyed = recycle_vec(keyed);
            key
        }
    };
    let version_rank = match document_version.and_then(ValueRef::as_i64) {
        Some(rank) => rank,
        None if kind == "view" => time_spent.and_then(ValueRef::as_i64).unwrap_or(0),
        None => 0,
    };
    // One buffer for every text of the row: sized for them all, so it is allocated once.
    let room = session_id.len()
        + view_path.map_or(0, str::len)
        + fields.iter().map(|field| field_room(field.key, field.value)).sum::<usize>()
        + HASH_ROOM;
    let mut row = EventRow::with_capacity(room);
    let session_id_range = row.push_text(session_id)?;
    let fields_start = row.buffer().len();
    for field in fields.iter().filter(|field| field.info.session_scoped && field.info.role != KeyRole::SessionId) {
        if !field.value.is_empty_text() {
            pack_session_field(row.buffer(), field.key, field.value);
        }
    }
    let session_fields = row.range_from(fields_start)?;
    let mut extra: Vec<(&str, ValueRef<'_>)> = recycle_vec(std::mem::take(&mut scratch.extra));
    // Hashed here, on the parser's thread, from the values at hand: the writer reading them
    // back out of the row's JSON cost it about 1,400 instructions an event.
    let value_hashes = &mut scratch.value_hashes;
    value_hashes.clear();
    for field in fields {
        if field.info.role == KeyRole::SessionId || field.info.session_scoped {
            continue;
        }
        let Some(index) = field.info.event_column else {
            if let ValueRef::Str(text) = field.value {
                if !text.is_empty() {
                    value_hashes.push(super::event_hashes::value_hash(field.key, text.as_bytes()));
                }
            }
            extra.push((field.key, field.value));
            continue;
        };
        match EVENT_COLUMNS[index].column_type {
            ColumnType::Text => {
                let start = row.buffer().len();
                match field.value {
                    ValueRef::Str(text) => row.buffer().extend_from_slice(text.as_bytes()),
                    // Writing into a Vec cannot fail.
                    other => {
                        let _ = write!(row.buffer(), "{other}");
                    }
                }
                let range = row.range_from(start)?;
                row.set(index, Slot::Text(range));
                if let Some(seed) = super::event_hashes::hashed_column_seed(index) {
                    let text = row.bytes_of(range);
                    if !text.is_empty() {
                        value_hashes.push(super::event_hashes::column_value_hash(seed, text));
                    }
                }
            }
            // Not a number: `prepare` keeps it with a warning.
            ColumnType::Integer => row.set(index, Slot::Integer(field.value.as_i64()?)),
            ColumnType::Real => row.set(index, Slot::Real(field.value.as_f64()?)),
        }
    }
    if let Some(path) = view_path {
        row.set_text(view_path_column(), path)?;
    }
    extra.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let start = row.buffer().len();
    write_json_object_of_sorted(row.buffer(), &extra);
    let extra_json = row.range_from(start)?;
    row.set_extra_json_range(extra_json);
    row.set_value_hashes(value_hashes)?;
    let field_keys_hash = hash_of_field_keys(extra.iter().map(|(key, _)| *key));
    scratch.extra = recycle_vec(extra);
    Some(PreparedEvent {
        kind,
        time_ms,
        event_key,
        version_rank,
        row,
        session_id: session_id_range,
        session_fields,
        warnings: Vec::new(),
        field_keys_hash,
    })
}

/// A hash of an event's extended field keys, in the order they are stored: events of one
/// kind from one SDK mostly carry the same keys, so the writer learns the keys of a file
/// (`FileWriter::learn_event_keys`) from a few rows. Each key hashed apart, then folded in:
/// gathering the keys in one buffer first cost about 1,500 instructions an event.
fn hash_of_field_keys<'k>(keys: impl Iterator<Item = &'k str>) -> u64 {
    keys.fold(0x243f_6a88_85a3_08d3, |hash, key| {
        let product = u128::from(hash ^ xxhash_rust::xxh3::xxh3_64(key.as_bytes())) * 0x9e37_79b9_7f4a_7c15;
        (product as u64) ^ ((product >> 64) as u64)
    })
}

/// A view of a session this file created, not written yet (see [`PENDING_VIEW_LIMIT`]): its
/// row as prepared, or as merged from its copies.
struct PendingView {
    time_ms: i64,
    version_rank: i64,
    row: EventRow,
}

/// Two copies of one event merged: the copy with the higher version wins each key both have;
/// keys only one has are kept; the earliest time stays.
struct MergedCopies {
    time_ms: i64,
    version_rank: i64,
    columns: Vec<SqlValue>,
    extra: serde_json::Map<String, serde_json::Value>,
    /// The merge changed nothing of the older copy.
    unchanged: bool,
}

fn merge_copies(
    old: (i64, i64, &[SqlValue], &serde_json::Map<String, serde_json::Value>),
    new: (i64, i64, &[SqlValue], &serde_json::Map<String, serde_json::Value>),
) -> MergedCopies {
    let (old_time_ms, old_rank, old_columns, old_extra) = old;
    let (new_time_ms, new_rank, new_columns, new_extra) = new;
    let new_wins = new_rank >= old_rank;
    let mut columns = Vec::with_capacity(old_columns.len());
    for (old, new) in old_columns.iter().zip(new_columns.iter()) {
        let pick = match (old, new) {
            (SqlValue::Null, _) => new,
            (_, SqlValue::Null) => old,
            _ if new_wins => new,
            _ => old,
        };
        columns.push(pick.clone());
    }
    let mut extra = old_extra.clone();
    for (key, value) in new_extra {
        if new_wins || !extra.contains_key(key) {
            extra.insert(key.clone(), value.clone());
        }
    }
    let time_ms = old_time_ms.min(new_time_ms);
    let version_rank = old_rank.max(new_rank);
    let unchanged = extra == *old_extra && time_ms == old_time_ms && version_rank == old_rank && columns == old_columns;
    MergedCopies { time_ms, version_rank, columns, extra, unchanged }
}

/// A row's extended fields as a map, with the session-scoped values that differ from the
/// session's added (they stay on the event).
fn extra_with(row: &EventRow, differing: Vec<(String, FieldValue)>) -> serde_json::Map<String, serde_json::Value> {
    let mut extra: serde_json::Map<String, serde_json::Value> = serde_json::from_str(row.extra_json()).unwrap_or_default();
    for (key, value) in differing {
        extra.insert(key, value.to_json());
    }
    extra
}

/// Whether a session's attribute already holds `value`. The session list's columns hold text,
/// so a session read back from the table has its numbers as text: there a value is compared
/// by its text, else every event of a later file (a CSV export is a file per kind) kept
/// `os_version: 13` as a value differing from the session's "13".
fn same_attribute_value(key: &str, existing: &FieldValue, value: &FieldValue) -> bool {
    existing == value || (session_attribute_for_key(key).is_some() && existing.to_string() == value.to_string())
}

/// [`merge_copies`] on two rows as prepared, without turning them into SQL values and maps of
/// JSON values and back: the columns' slots are picked as it picks, and the extended fields
/// merged as text, member by member. Every view of a Datadog export comes in several copies,
/// and the round trip was about a tenth of the writer's time at 10,000 sessions. The result
/// is the text `merge_copies` gives: every row's extended-fields JSON is written as
/// serde_json writes a map (keys sorted, each once; strings, numbers and escapes in its
/// forms), so reading it into a map and writing that back gives it again. None when a row's
/// buffer would pass 4 GiB.
fn merge_rows(old: (i64, i64, &EventRow), new: (i64, i64, &EventRow)) -> Option<MergedRow> {
    let (old_time_ms, old_rank, old_row) = old;
    let (new_time_ms, new_rank, new_row) = new;
    let (Some(old_members), Some(new_members)) = (json_object_members(old_row.extra_json()), json_object_members(new_row.extra_json()))
    else {
        // Not an object of ours (never written so): the general merge says what it means.
        return merge_rows_as_values(old, new);
    };
    let new_wins = new_rank >= old_rank;
    let mut row = EventRow::with_capacity(old_row.text_len() + new_row.text_len());
    for column in 0..super::event_row::COLUMN_COUNT {
        let (old_slot, new_slot) = (old_row.column(column), new_row.column(column));
        let take_new = match (old_slot, new_slot) {
            (Slot::Null, _) => true,
            (_, Slot::Null) => false,
            _ => new_wins,
        };
        let (from, slot) = if take_new { (new_row, new_slot) } else { (old_row, old_slot) };
        match slot {
            Slot::Text(range) => row.set_text(column, from.text_of(range))?,
            other => row.set(column, other),
        }
    }
    // Both member lists are sorted by key: merged as two sorted runs.
    let mut members: Vec<(&str, &str)> = Vec::with_capacity(old_members.len() + new_members.len());
    let (mut old_at, mut new_at) = (0, 0);
    while old_at < old_members.len() || new_at < new_members.len() {
        match (old_members.get(old_at), new_members.get(new_at)) {
            (Some(o), Some(n)) if o.0 == n.0 => {
                members.push(if new_wins { (&n.0, n.1) } else { (&o.0, o.1) });
                old_at += 1;
                new_at += 1;
            }
            (Some(o), Some(n)) if o.0 < n.0 => {
                members.push((&o.0, o.1));
                old_at += 1;
            }
            (_, Some(n)) => {
                members.push((&n.0, n.1));
                new_at += 1;
            }
            (Some(o), None) => {
                members.push((&o.0, o.1));
                old_at += 1;
            }
            (None, None) => break,
        }
    }
    let start = row.buffer().len();
    let out = row.buffer();
    out.push(b'{');
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, key);
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'}');
    let extra_json = row.range_from(start)?;
    row.set_extra_json_range(extra_json);
    // The values of both copies: a superset of the merged row's, as a session's filter may be.
    if let (Some(old_hashes), Some(new_hashes)) = (old_row.value_hashes(), new_row.value_hashes()) {
        let mut hashes: Vec<u64> = old_hashes.collect();
        let known = hashes.len();
        for hash in new_hashes {
            if !hashes[..known].contains(&hash) {
                hashes.push(hash);
            }
        }
        row.set_value_hashes(&hashes)?;
    }
    let time_ms = old_time_ms.min(new_time_ms);
    let version_rank = old_rank.max(new_rank);
    // As `merge_copies` compares SQL values and maps of JSON values: a REAL compares as a
    // float (NaN never equal), and the members' texts are equal when their values are.
    let same_members = members.len() == old_members.len()
        && members.iter().zip(old_members.iter()).all(|(m, o)| m.0 == o.0 && m.1 == o.1);
    let same_columns = (0..super::event_row::COLUMN_COUNT).all(|column| match (row.column(column), old_row.column(column)) {
        (Slot::Null, Slot::Null) => true,
        (Slot::Integer(a), Slot::Integer(b)) => a == b,
        (Slot::Real(a), Slot::Real(b)) => a == b,
        (Slot::Text(a), Slot::Text(b)) => row.bytes_of(a) == old_row.bytes_of(b),
        _ => false,
    });
    let unchanged = same_members && same_columns && time_ms == old_time_ms && version_rank == old_rank;
    Some(MergedRow { time_ms, version_rank, row, unchanged })
}

/// [`merge_rows`] through SQL values and maps of JSON values.
fn merge_rows_as_values(old: (i64, i64, &EventRow), new: (i64, i64, &EventRow)) -> Option<MergedRow> {
    let as_map = |row: &EventRow| -> serde_json::Map<String, serde_json::Value> { serde_json::from_str(row.extra_json()).unwrap_or_default() };
    let (old_columns, new_columns) = (old.2.to_sql_values(), new.2.to_sql_values());
    let (old_extra, new_extra) = (as_map(old.2), as_map(new.2));
    let merged = merge_copies((old.0, old.1, &old_columns, &old_extra), (new.0, new.1, &new_columns, &new_extra));
    let extra_json = serde_json::Value::Object(merged.extra).to_string();
    let row = EventRow::from_sql_values(&merged.columns, &extra_json)?;
    Some(MergedRow { time_ms: merged.time_ms, version_rank: merged.version_rank, row, unchanged: merged.unchanged })
}

/// Two copies of a view merged into one row (see [`merge_rows`]).
struct MergedRow {
    time_ms: i64,
    version_rank: i64,
    row: EventRow,
    /// The merge changed nothing of the older copy.
    unchanged: bool,
}

/// The members of a JSON object: keys as text, values as their JSON text, sorted by key, the
/// last of a repeated key kept (the members a serde_json map holds). None when `json` is not
/// an object.
fn json_object_members(json: &str) -> Option<Vec<(Cow<'_, str>, &str)>> {
    let mut members = match plain_object_members(json) {
        Some(members) => members,
        None => serde_object_members(json)?.into_iter().map(|(key, value)| (key, value.get())).collect(),
    };
    // Sorted as a map's keys (bytes), the last copy of a key first in its run, then kept.
    // The writer's own objects are sorted already, without repeats.
    if !members.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        members.reverse();
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members.dedup_by(|later, first| later.0 == first.0);
    }
    Some(members)
}

/// The members of an object as the writer writes extended fields (`{"key":value,...}`, no
/// whitespace, no escapes in keys, scalar values), read without serde: merging a view's
/// copies parsed both copies' JSON, 6% of the writer's instructions. None for anything else,
/// which [`serde_object_members`] then reads.
fn plain_object_members(json: &str) -> Option<Vec<(Cow<'_, str>, &str)>> {
    let bytes = json.as_bytes();
    if bytes.first() != Some(&b'{') || bytes.last() != Some(&b'}') {
        return None;
    }
    let mut members = Vec::with_capacity(8);
    let mut at = 1;
    if bytes.len() == 2 {
        return Some(members);
    }
    loop {
        // A key: quoted, without escapes (its text is then the key).
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_start = at + 1;
        let key_end = key_start + memchr::memchr2(b'"', b'\\', bytes.get(key_start..)?)?;
        if bytes[key_end] != b'"' || bytes.get(key_end + 1) != Some(&b':') {
            return None;
        }
        let value_start = key_end + 2;
        let value_end = match *bytes.get(value_start)? {
            b'"' => {
                // To the closing quote, stepping over escaped characters.
                let mut at = value_start + 1;
                loop {
                    at += memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
                    if bytes[at] == b'\\' {
                        at += 2;
                    } else {
                        break at + 1;
                    }
                }
            }
            // A number or a literal: up to the next separator, only its own characters.
            _ => {
                let length = bytes.get(value_start..)?.iter().position(|&b| b == b',' || b == b'}')?;
                let token = bytes.get(value_start..value_start + length)?;
                let scalar = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.');
                if token.is_empty() || !token.iter().all(scalar) {
                    return None;
                }
                value_start + length
            }
        };
        members.push((Cow::Borrowed(json.get(key_start..key_end)?), json.get(value_start..value_end)?));
        match *bytes.get(value_end)? {
            b',' => at = value_end + 1,
            b'}' if value_end + 1 == bytes.len() => return Some(members),
            _ => return None,
        }
    }
}

/// [`json_object_members`] by serde_json, in the object's order: any JSON object.
fn serde_object_members(json: &str) -> Option<Vec<(Cow<'_, str>, &serde_json::value::RawValue)>> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
    use std::fmt;

    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(Cow<'de, str>, &'de serde_json::value::RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
            while let Some(key) = map.next_key_seed(Key)? {
                members.push((key, map.next_value()?));
            }
            Ok(members)
        }
    }
    /// A key borrowed from the text when it has no escapes.
    struct Key;
    impl<'de> DeserializeSeed<'de> for Key {
        type Value = Cow<'de, str>;
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_str(Key)
        }
    }
    impl<'de> Visitor<'de> for Key {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a key")
        }
        fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(key))
        }
        fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(key.to_string()))
        }
    }

    let mut deserializer = serde_json::Deserializer::from_str(json);
    let members = deserializer.deserialize_map(Members).ok()?;
    deserializer.end().ok()?;
    Some(members)
}

/// Where the session aggregates' inputs sit among the event columns.
struct AggregateColumns {
    time_spent_ns: usize,
    duration_ns: usize,
    view_path: usize,
    view_url: usize,
    resource_size_bytes: usize,
    /// The columns whose values each session keeps (`event_values`).
    event_values: [usize; VALUE_COLUMNS.len()],
    /// The columns whose values each session's filter holds (`event_hashes`).
    event_hashes: HashedColumns,
}

impl AggregateColumns {
    fn find() -> Self {
        // Constant names of our own schema. Were one missing, `get` finds nothing at usize::MAX
        // and the aggregates come out wrong, which the import tests compare against SQL.
        let at = |name: &str| EVENT_COLUMNS.iter().position(|c| c.column == name).unwrap_or(usize::MAX);
        AggregateColumns {
            time_spent_ns: at("time_spent_ns"),
            duration_ns: at("duration_ns"),
            view_path: at("view_path"),
            view_url: at("view_url"),
            resource_size_bytes: at("resource_size_bytes"),
            event_values: value_column_positions(),
            event_hashes: HashedColumns::default(),
        }
    }
}

pub struct FileWriter<'c> {
    conn: &'c Connection,
    file_pk: i64,
    /// By the session id's bytes: an event's id is looked up as it sits in its row, without
    /// checking it is UTF-8 again (it was, when the parser put it there).
    sessions: FxHashMap<Box<[u8]>, CachedSession>,
    /// Sessions stored before this file that it touched. Those it created are counted from
    /// their keys, which run from `first_new_session_pk` to `next_session_pk`: a set of them
    /// held some 18 MB at 1,000,000 sessions, and two of them twice that.
    touched_stored_sessions: FxHashSet<i64>,
    /// The session_pk of the first session this file creates: those from it on are new.
    first_new_session_pk: i64,
    /// The session_pk the next session this file creates gets.
    next_session_pk: i64,
    /// Sessions this file created that left the cache and came back: any of their views may
    /// be in the table already, so their views are merged there, not held back.
    resumed_sessions: FxHashSet<i64>,
    /// Sessions cached at most (see [`SESSION_CACHE_LIMIT`]; tests lower it).
    pub session_cache_limit: usize,
    /// Counts the events' session lookups: each cached session's `last_used` is a reading.
    use_clock: u64,
    /// How far `session_cache_limit` may grow (see [`SESSION_CACHE_MAX`]).
    pub session_cache_max: usize,
    /// Sessions this file created that came back since the cache was last written out.
    returns_since_write_out: usize,
    /// Whether the sessions written out note their pages' sort keys in [`PAGE_KEYS_TABLE`]:
    /// from the first session that comes back on (a file that brings none back writes none).
    keeping_page_keys: bool,
    /// Views held back at most (see [`PENDING_VIEW_LIMIT`]; tests lower it).
    pub pending_view_limit: usize,
    pending_views: FxHashMap<(i64, i64), PendingView>,
    /// The held-back views' keys in the order they arrived, the order they are written in.
    pending_order: std::collections::VecDeque<(i64, i64)>,
    /// Held-back views of cached sessions written early to stay under the limit: later copies
    /// merge in the table. Emptied with the cache; a session that comes back is resumed.
    pending_written_early: FxHashSet<(i64, i64)>,
    /// The aggregates of the sessions this file created, counted as their events are written.
    aggregates: FxHashMap<i64, SessionAggregate>,
    /// Sessions whose aggregates cannot be counted as they go (a copy of one of their views
    /// merged in the table, or a page that may come before or after theirs): recomputed from
    /// their events at the end.
    recount: FxHashSet<i64>,
    /// What this file's rows add to sessions stored before it: added to their rows when the
    /// cache is written out and at the end, instead of recounting them from all their events
    /// (a file of another kind, as Guance's CSV exports come, adds to every session: measured
    /// at 10,000 sessions, recounting took 0.37–1.32 s a file).
    deltas: FxHashMap<i64, SessionAggregate>,
    /// Stored sessions whose first and last page a delta set (they had no view with a page):
    /// the pages of a later delta are recounted.
    pages_from_delta: FxHashSet<i64>,
    /// The event_pk of this file's first row: what is below was stored before it.
    first_event_pk: i64,
    aggregate_columns: AggregateColumns,
    /// Per set of column groups met, the statement that inserts such rows in one run (see
    /// [`super::event_batch`]), and the rows queued for it, in the order they came.
    batches: Vec<ColumnBatch<'c>>,
    /// How many rows the batches hold.
    batched_rows: usize,
    batch_slot: BatchSlot,
    /// The queued rows' keys and their batch's groups: a copy of a queued view must find it in
    /// the table, and a copy in another batch must not be inserted before it.
    batched_keys: FxHashMap<(i64, i64), ColumnGroups>,
    /// Events inserted of each of [`USUAL_KINDS`], and whether any was counted: moved into
    /// `summary.inserted_by_kind` at the end (looking the kind's text up in it cost some 165
    /// instructions a row).
    usual_kind_counts: [(u64, bool); USUAL_KINDS.len()],
    /// The key the next queued row gets: rows are numbered as they arrive, as SQLite would.
    next_event_pk: i64,
    find_view: Statement<'c>,
    update_view: Statement<'c>,
    /// The columns (a bit each, as [`EventRow::non_null_columns`]) that rows of kinds other
    /// than views had values in: added to the store's fact at the end (`finish`).
    columns_on_other_kinds: u64,
    /// The lists of field keys (by [`hash_of_field_keys`]) whose keys are learned.
    field_key_lists: FxHashSet<u64>,
    /// The extended field keys this file's rows carry, added to the store's facts at the end
    /// (`finish`); `None` once there are too many to keep ([`MAX_FIELD_KEYS`]).
    learned_field_keys: Option<crate::query::StoreFacts>,
    /// Every event value this file's sessions keep: added to the store's list at the end.
    seen_event_values: EventValues,
    pub summary: WriteSummary,
}

/// The most extended field keys a store keeps a list of, on sessions and on events each: past
/// it (keys made of ids, say) the list is dropped and queries look everywhere, as before.
pub const MAX_FIELD_KEYS: usize = 10_000;

/// The rows of one set of column groups and the statement that inserts them.
struct ColumnBatch<'c> {
    groups: ColumnGroups,
    insert: Statement<'c>,
    rows: Vec<BatchRow>,
}

/// Sessions' event values inserted per statement (see [`FileWriter::add_event_values`]).
const EVENT_VALUES_PER_INSERT: usize = 256;

/// The SQL function that adds two stored texts of event values (see `event_values`).
const ADD_EVENT_VALUES_FUNCTION: &str = "rum_add_event_values";

/// Inserts `rows` sessions' event values; a session that has a row keeps its values too.
fn event_values_upsert_sql(rows: usize) -> String {
    let values = (0..rows).map(|i| format!("(?{}, ?{})", 2 * i + 1, 2 * i + 2)).collect::<Vec<_>>().join(", ");
    format!(
        "INSERT INTO session_event_values (session_pk, tokens) VALUES {values}
         ON CONFLICT (session_pk) DO UPDATE SET tokens = {ADD_EVENT_VALUES_FUNCTION}(tokens, excluded.tokens) WHERE tokens <> excluded.tokens"
    )
}

/// Registers [`ADD_EVENT_VALUES_FUNCTION`] on `conn`.
fn register_add_event_values(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(ADD_EVENT_VALUES_FUNCTION, 2, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, |ctx| {
        let mut held = EventValues::decode(ctx.get_raw(0).as_str().unwrap_or_default());
        held.add_all(&EventValues::decode(ctx.get_raw(1).as_str().unwrap_or_default()));
        Ok(held.encode())
    })
}

/// Sessions' filters of event values inserted per statement (see [`add_event_hashes`]).
const EVENT_HASHES_PER_INSERT: usize = 256;

/// The SQL function that merges two filters of one session (see `event_hashes`).
const MERGE_EVENT_HASHES_FUNCTION: &str = "rum_merge_event_hashes";

/// Registers [`MERGE_EVENT_HASHES_FUNCTION`] on `conn`.
fn register_merge_event_hashes(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(MERGE_EVENT_HASHES_FUNCTION, 2, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, |ctx| {
        let bits = |i: usize| ctx.get_raw(i).as_blob().unwrap_or_default();
        Ok(super::event_hashes::merge(bits(0), bits(1)))
    })
}

/// Adds sessions' hashes to their filters in `session_event_hashes` (a session that has one
/// keeps what it holds: the two are merged). Many rows per statement, as the values.
fn add_event_hashes<'h>(conn: &Connection, hashes: impl Iterator<Item = (i64, &'h EventHashes)>) -> StoreResult<()> {
    let mut rows: Vec<(i64, Vec<u8>)> = hashes.filter(|(_, h)| !h.is_empty()).map(|(session_pk, h)| (session_pk, h.to_bits())).collect();
    rows.sort_unstable_by_key(|(session_pk, _)| *session_pk);
    for chunk in rows.chunks(EVENT_HASHES_PER_INSERT) {
        let values = (0..chunk.len()).map(|i| format!("(?{}, ?{})", 2 * i + 1, 2 * i + 2)).collect::<Vec<_>>().join(", ");
        let mut insert = conn.prepare_cached(&format!(
            "INSERT INTO session_event_hashes (session_pk, bits) VALUES {values}
             ON CONFLICT (session_pk) DO UPDATE SET bits = {MERGE_EVENT_HASHES_FUNCTION}(bits, excluded.bits)"
        ))?;
        for (i, (session_pk, bits)) in chunk.iter().enumerate() {
            insert.raw_bind_parameter(2 * i + 1, session_pk)?;
            insert.raw_bind_parameter(2 * i + 2, bits.as_slice())?;
        }
        insert.raw_execute()?;
    }
    Ok(())
}

/// Builds again, from their events, the filters of the sessions whose `session_pk` the table
/// `sessions_table` lists, and writes them into `into_table` (`session_pk`, `bits`), replacing
/// rows there: how many sessions have one.
pub(crate) fn count_event_hashes(conn: &Connection, sessions_table: &str, into_table: &str) -> StoreResult<u64> {
    let columns = HASHED_COLUMNS.iter().map(|column| format!("e.{column}")).collect::<Vec<_>>().join(", ");
    let mut insert = conn.prepare(&format!("INSERT OR REPLACE INTO {into_table} (session_pk, bits) VALUES (?1, ?2)"))?;
    let at = HashedColumns::default();
    fold_events_by_session(
        conn,
        sessions_table,
        &format!("e.extra_json, {columns}"),
        |hashes: &mut EventHashes, row| {
            let mut texts: [Option<&[u8]>; HASHED_COLUMNS.len()] = [None; HASHED_COLUMNS.len()];
            for (i, text) in texts.iter_mut().enumerate() {
                if let rusqlite::types::ValueRef::Text(value) = row.get_ref(i + 2)? {
                    *text = Some(value);
                }
            }
            hashes.add_stored(&at, &texts, row.get_ref(1)?.as_str().unwrap_or("{}"));
            Ok(())
        },
        |session_pk, hashes| {
            if hashes.is_empty() {
                return Ok(false);
            }
            insert.execute(params![session_pk, hashes.to_bits()])?;
            Ok(true)
        },
    )
}

/// Reads the events of the sessions whose `session_pk` the table `sessions_table` lists, the
/// columns `columns` after the session's key (`e.` the events), in session order, folding each
/// session's into a `T` with `add` and handing it to `write` once its events are read: one
/// session's at a time. How many sessions `write` said it wrote.
fn fold_events_by_session<T: Default>(
    conn: &Connection,
    sessions_table: &str,
    columns: &str,
    mut add: impl FnMut(&mut T, &rusqlite::Row<'_>) -> StoreResult<()>,
    mut write: impl FnMut(i64, T) -> StoreResult<bool>,
) -> StoreResult<u64> {
    let mut select = conn.prepare(&format!(
        "SELECT t.session_pk, {columns} FROM {sessions_table} t CROSS JOIN events e INDEXED BY events_by_session_key
         ON e.session_pk = t.session_pk ORDER BY t.session_pk"
    ))?;
    let mut written = 0;
    let mut rows = select.query([])?;
    let mut current: Option<(i64, T)> = None;
    while let Some(row) = rows.next()? {
        let session_pk: i64 = row.get(0)?;
        if let Some((held, folded)) = current.take_if(|(held, _)| *held != session_pk) {
            written += u64::from(write(held, folded)?);
        }
        add(&mut current.get_or_insert_with(|| (session_pk, T::default())).1, row)?;
    }
    if let Some((held, folded)) = current {
        written += u64::from(write(held, folded)?);
    }
    Ok(written)
}

/// Counts again, from their events, the event values of the sessions whose `session_pk` the
/// table `sessions_table` lists, replacing their rows in `session_event_values`.
pub(crate) fn recount_event_values(conn: &Connection, sessions_table: &str, seen: &mut EventValues) -> StoreResult<u64> {
    conn.execute(&format!("DELETE FROM session_event_values WHERE session_pk IN (SELECT session_pk FROM {sessions_table})"), [])?;
    count_event_values(conn, sessions_table, "session_event_values", seen)
}

/// Counts, from their events, the event values of the sessions whose `session_pk` the table
/// `sessions_table` lists, and inserts them into `into_table` (`session_pk`, `tokens`), adding
/// them to `seen`: how many sessions have values.
pub(crate) fn count_event_values(conn: &Connection, sessions_table: &str, into_table: &str, seen: &mut EventValues) -> StoreResult<u64> {
    let columns = VALUE_COLUMNS.iter().map(|(column, _, _)| format!("e.{column}")).collect::<Vec<_>>().join(", ");
    let mut insert = conn.prepare(&format!("INSERT INTO {into_table} (session_pk, tokens) VALUES (?1, ?2)"))?;
    fold_events_by_session(
        conn,
        sessions_table,
        &columns,
        |values: &mut EventValues, row| {
            for slot in 0..VALUE_COLUMNS.len() {
                values.add_stored(slot, row.get_ref(slot + 1)?);
            }
            Ok(())
        },
        |session_pk, values| {
            if values.is_empty() {
                return Ok(false);
            }
            insert.execute(params![session_pk, values.encode()])?;
            seen.add_seen(&values);
            Ok(true)
        },
    )
}

/// The statement that inserts a batch. OR IGNORE, not ON CONFLICT DO NOTHING: the default
/// ABORT of the other constraints (NOT NULL), like a named event_pk and a foreign key (off
/// during imports, see `Store::pause_foreign_keys`), would make SQLite copy each page the
/// statement touches to a statement journal first, in case it stops halfway (a temporary
/// file: 88,140 writes at 10,000 sessions, 74 without). Every value bound is non-null, so only copies of
/// stored events are ignored.
fn insert_batch_sql(groups: ColumnGroups) -> String {
    let columns: Vec<&str> = event_batch_columns()
        .into_iter()
        .filter(|name| match EVENT_COLUMNS.iter().find(|c| c.column == *name) {
            Some(column) => column_group(column.column) & groups != 0,
            None => *name != "version_rank" || groups & VERSION_RANK_GROUP != 0,
        })
        .collect();
    let columns = columns.join(", ");
    format!("INSERT OR IGNORE INTO events ({columns}, file_pk) SELECT {columns}, ?1 FROM {EVENT_BATCH_TABLE}")
}

/// The session columns that count events of each kind, in the order of `SessionAggregate::counts`.
const COUNT_COLUMNS: [&str; 6] = ["view_count", "action_count", "error_count", "resource_count", "long_task_count", "other_event_count"];

/// An UPDATE that adds to the counts whose bit `added` has (bit i: `COUNT_COLUMNS[i]`), from
/// parameters 2 onwards in that order, for the session in parameter 1.
fn add_counts_sql(added: u8) -> String {
    let assignments: Vec<String> = COUNT_COLUMNS
        .iter()
        .enumerate()
        .filter(|(i, _)| added & 1 << i != 0)
        .enumerate()
        .map(|(parameter, (_, column))| format!("{column} = {column} + ?{}", parameter + 2))
        .collect();
    format!("UPDATE sessions SET {} WHERE session_pk = ?1", assignments.join(", "))
}

/// Recounts the sessions in `temp.touched_sessions` from all their events: aggregates, first
/// and last page, pages. Each reads only those sessions' events: `CROSS JOIN` keeps the
/// touched sessions outside, where a plain JOIN let SQLite read every event and look each
/// one's session up in the temporary table (0.73-0.75 s a file into a database of 100,000
/// sessions, growing with it; a file that continues a session of the one before meets this).
pub(crate) const RECOUNT_TOUCHED_SESSIONS: [&str; 5] = [
    "UPDATE sessions SET
        start_ms = a.start_ms, end_ms = a.end_ms, duration_ms = a.end_ms - a.start_ms,
        view_count = a.views, action_count = a.actions, error_count = a.errors,
        resource_count = a.resources, long_task_count = a.long_tasks, other_event_count = a.others,
        slowest_resource_ns = a.slowest_resource_ns, largest_resource_bytes = a.largest_resource_bytes
     FROM (SELECT e.session_pk,
                  min(e.time_ms) AS start_ms,
                  max(e.time_ms + coalesce(CASE WHEN e.kind = 'view' THEN e.time_spent_ns ELSE e.duration_ns END, 0) / 1000000) AS end_ms,
                  sum(e.kind = 'view') AS views, sum(e.kind = 'action') AS actions, sum(e.kind = 'error') AS errors,
                  sum(e.kind = 'resource') AS resources, sum(e.kind = 'long_task') AS long_tasks,
                  sum(e.kind NOT IN ('view', 'action', 'error', 'resource', 'long_task')) AS others,
                  max(CASE WHEN e.kind = 'resource' AND typeof(e.duration_ns) IN ('integer', 'real') THEN CAST(round(e.duration_ns) AS INTEGER) END) AS slowest_resource_ns,
                  max(CASE WHEN e.kind = 'resource' AND typeof(e.resource_size_bytes) IN ('integer', 'real') THEN CAST(round(e.resource_size_bytes) AS INTEGER) END) AS largest_resource_bytes
           FROM temp.touched_sessions t CROSS JOIN events e ON e.session_pk = t.session_pk
           GROUP BY e.session_pk) AS a
     WHERE sessions.session_pk = a.session_pk",
    // The first and last page come from views; a session whose views were not exported falls
    // back to the pages its other events name.
    "UPDATE sessions SET
        (first_view_path, first_view_url) = (SELECT view_path, view_url FROM events
            WHERE session_pk = sessions.session_pk AND view_path IS NOT NULL ORDER BY kind <> 'view', time_ms, event_pk LIMIT 1),
        (last_view_path, last_view_url) = (SELECT view_path, view_url FROM events
            WHERE session_pk = sessions.session_pk AND view_path IS NOT NULL ORDER BY kind <> 'view', time_ms DESC, event_pk DESC LIMIT 1)
     WHERE session_pk IN (SELECT session_pk FROM temp.touched_sessions)",
    // Their pages, from all their events (a merged view may have changed its page).
    "DELETE FROM session_pages WHERE session_pk IN (SELECT session_pk FROM temp.touched_sessions)",
    "INSERT OR IGNORE INTO session_pages (view_path, session_pk)
         SELECT e.view_path, e.session_pk FROM temp.touched_sessions t CROSS JOIN events e ON e.session_pk = t.session_pk
         WHERE e.view_path IS NOT NULL",
    "DELETE FROM temp.touched_sessions",
];

/// A session's fields that have no column of their own, as the JSON object serde_json writes
/// for a map of them (keys in order); `fields` is sorted here.
fn write_fields_json<'o>(out: &'o mut Vec<u8>, fields: &mut [(&str, ValueRef<'_>)]) -> Cow<'o, str> {
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.clear();
    write_json_object_of_sorted(out, fields);
    String::from_utf8_lossy(out)
}

/// The kinds nearly every event has, counted apart from the others (see
/// `FileWriter::usual_kind_counts`).
const USUAL_KINDS: [&str; 5] = ["view", "action", "error", "resource", "long_task"];

fn usual_kind_slot(kind: &str) -> Option<usize> {
    USUAL_KINDS.iter().position(|usual| *usual == kind)
}

/// Session pages inserted by one statement.
const PAGES_PER_INSERT: usize = 256;

fn session_pages_insert_sql(rows: usize) -> String {
    let mut sql = String::from("INSERT OR IGNORE INTO session_pages (view_path, session_pk) VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(?, ?)" } else { ", (?, ?)" });
    }
    sql
}

/// Runs a [`session_pages_insert_sql`] statement made for `rows.len()` rows.
fn insert_page_rows(insert: &mut Statement<'_>, rows: &[(&str, i64)]) -> StoreResult<()> {
    for (row, (page, session_pk)) in rows.iter().enumerate() {
        insert.raw_bind_parameter(2 * row + 1, page)?;
        insert.raw_bind_parameter(2 * row + 2, session_pk)?;
    }
    insert.raw_execute()?;
    Ok(())
}

fn event_column_list() -> String {
    EVENT_COLUMNS.iter().map(|c| c.column).collect::<Vec<_>>().join(", ")
}

impl<'c> FileWriter<'c> {
    /// Starts writing a file. `conn` must be inside a transaction that the caller commits.
    pub fn new(conn: &'c Connection, path: &str, format: &str, size_bytes: u64) -> StoreResult<Self> {
        conn.execute(
            "INSERT INTO files (path, format, size_bytes, imported_at_ms, events_imported, records_skipped)
             VALUES (?1, ?2, ?3, ?4, 0, 0)",
            params![path, format, size_bytes as i64, chrono::Utc::now().timestamp_millis()],
        )?;
        let file_pk = conn.last_insert_rowid();
        let next_session_pk: i64 = conn.query_row("SELECT coalesce(max(session_pk), 0) + 1 FROM sessions", [], |r| r.get(0))?;
        // New sessions' rows are written after their events (see CachedSession::stored). An
        // import turns the checks off (`Store::pause_foreign_keys`); the setting is for other
        // callers and ends with the transaction.
        conn.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        let aggregate_columns = AggregateColumns::find();
        let columns = event_column_list();
        let next_event_pk: i64 = conn.query_row("SELECT coalesce(max(event_pk), 0) + 1 FROM events", [], |r| r.get(0))?;
        let batch_slot = BatchSlot::default();
        register_event_batch(conn, &batch_slot)?;
        register_add_event_values(conn)?;
        register_merge_event_hashes(conn)?;
        let find_view = conn.prepare(&format!(
            "SELECT event_pk, time_ms, version_rank, extra_json, {columns}, file_pk FROM events WHERE session_pk = ?1 AND event_key = ?2"
        ))?;
        let assignments = EVENT_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = ?{}", c.column, i + 5))
            .collect::<Vec<_>>()
            .join(", ");
        let update_view = conn.prepare(&format!(
            "UPDATE events SET time_ms = ?2, version_rank = ?3, extra_json = ?4, {assignments}, file_pk = ?{} WHERE event_pk = ?1",
            EVENT_COLUMNS.len() + 5
        ))?;
        Ok(FileWriter {
            conn,
            file_pk,
            sessions: FxHashMap::default(),
            touched_stored_sessions: FxHashSet::default(),
            first_new_session_pk: next_session_pk,
            next_session_pk,
            resumed_sessions: FxHashSet::default(),
            session_cache_limit: SESSION_CACHE_LIMIT,
            use_clock: 0,
            session_cache_max: SESSION_CACHE_MAX,
            returns_since_write_out: 0,
            keeping_page_keys: false,
            pending_view_limit: PENDING_VIEW_LIMIT,
            pending_views: FxHashMap::default(),
            pending_order: std::collections::VecDeque::new(),
            pending_written_early: FxHashSet::default(),
            aggregates: FxHashMap::default(),
            recount: FxHashSet::default(),
            deltas: FxHashMap::default(),
            pages_from_delta: FxHashSet::default(),
            first_event_pk: next_event_pk,
            aggregate_columns,
            batches: Vec::new(),
            batched_rows: 0,
            batch_slot,
            batched_keys: FxHashMap::default(),
            usual_kind_counts: Default::default(),
            next_event_pk,
            find_view,
            update_view,
            columns_on_other_kinds: 0,
            field_key_lists: FxHashSet::default(),
            learned_field_keys: Some(crate::query::StoreFacts::default()),
            seen_event_values: EventValues::default(),
            summary: WriteSummary::default(),
        })
    }

    /// Writes one event; `line` is where it started in its file, for messages.
    pub fn write(&mut self, line: u64, event: Event) -> StoreResult<WriteOutcome> {
        match prepare(event) {
            Ok(prepared) => self.write_prepared(line, prepared),
            Err(reason) => Ok(WriteOutcome::Skipped(reason)),
        }
    }

    pub fn write_prepared(&mut self, line: u64, event: PreparedEvent) -> StoreResult<WriteOutcome> {
        let PreparedEvent { kind, time_ms, event_key, version_rank, mut row, session_id, session_fields, warnings, field_keys_hash } = event;
        for warning in warnings {
            self.summary.warnings.push((line, warning));
        }
        if self.field_key_lists.insert(field_keys_hash) {
            self.learn_field_keys(row.extra_json_bytes());
        }
        let (session_pk, differing) = self.session_for(row.bytes_of(session_id), row.bytes_of(session_fields))?;
        // Session fields that differ from the session's stay on the event, among its extended fields.
        if !differing.is_empty() {
            self.learn_event_keys(differing.iter().map(|(key, _)| key.as_str()));
        }
        let new_session = self.is_new_session(session_pk);
        if !new_session {
            self.touched_stored_sessions.insert(session_pk);
        }
        // Session-scoped values that differ from the session's stay on the event.
        if kind == "view" {
            let key = (session_pk, event_key);
            let maybe_stored = self.resumed_sessions.contains(&session_pk) || self.pending_written_early.contains(&key);
            if new_session && (!maybe_stored || self.pending_views.contains_key(&key)) {
                // Held as its row; copies merge row by row (`merge_rows`).
                if !differing.is_empty() {
                    let extra = extra_with(&row, differing);
                    row.set_extra_json(&serde_json::Value::Object(extra).to_string()).ok_or_else(too_large)?;
                }
                return self.hold_view(key, time_ms, version_rank, row);
            }
            // A copy may be stored already: merged with it as SQL values and a map.
            let extra = extra_with(&row, differing);
            let columns = row.to_sql_values();
            if let Some(outcome) = self.merge_view(session_pk, event_key, time_ms, version_rank, &columns, &extra)? {
                if outcome == WriteOutcome::Merged {
                    self.recount.insert(session_pk);
                }
                return Ok(outcome);
            }
            row.set_extra_json(&serde_json::Value::Object(extra).to_string()).ok_or_else(too_large)?;
            if new_session {
                // Not stored: held back like any new view, so that its later copies merge in
                // memory rather than in the table, which would recount the session from its
                // events. In an export in time order, sessions under way leave the cache and
                // come back, and each view's copies follow it there (100,000 sessions within
                // an hour: 20.5 s of recounting at the end).
                return self.hold_view(key, time_ms, version_rank, row);
            }
        } else if !differing.is_empty() {
            let extra = extra_with(&row, differing);
            row.set_extra_json(&serde_json::Value::Object(extra).to_string()).ok_or_else(too_large)?;
        }
        self.queue_row(session_pk, event_key, kind, time_ms, version_rank, row, false)?;
        Ok(WriteOutcome::Inserted)
    }

    fn count_inserted(&mut self, kind: Cow<'static, str>) {
        if let Some(slot) = usual_kind_slot(&kind) {
            let (count, counted) = &mut self.usual_kind_counts[slot];
            *count += 1;
            *counted = true;
            return;
        }
        match self.summary.inserted_by_kind.get_mut(kind.as_ref()) {
            Some(n) => *n += 1,
            None => {
                self.summary.inserted_by_kind.insert(kind.into_owned(), 1);
            }
        }
    }

    /// Queues an event's row; the batch is inserted when full, before a copy of a queued view
    /// is looked up in the table, and at the end of the file.
    #[allow(clippy::too_many_arguments)]
    fn queue_row(
        &mut self,
        session_pk: i64,
        event_key: i64,
        kind: Cow<'static, str>,
        time_ms: i64,
        version_rank: i64,
        row: EventRow,
        counted_when_queued: bool,
    ) -> StoreResult<()> {
        let non_null = row.non_null_columns();
        if kind != "view" {
            self.columns_on_other_kinds |= non_null;
        }
        let groups = groups_of_columns(non_null) | if version_rank != 0 { VERSION_RANK_GROUP } else { 0 };
        let key = (session_pk, event_key);
        // A copy queued in another batch: inserted first, so that the first copy still wins.
        if self.batched_keys.get(&key).is_some_and(|&queued| queued != groups) {
            self.insert_batch()?;
        }
        self.batched_keys.insert(key, groups);
        // Kept in the order of their groups, which is the order they are inserted in: the same
        // for every file.
        let batch = match self.batches.binary_search_by_key(&groups, |batch| batch.groups) {
            Ok(at) => at,
            Err(at) => {
                let insert = self.conn.prepare(&insert_batch_sql(groups))?;
                self.batches.insert(at, ColumnBatch { groups, insert, rows: Vec::new() });
                at
            }
        };
        self.batches[batch].rows.push(BatchRow { event_key, session_pk, kind, time_ms, version_rank, row, counted_when_queued });
        self.batched_rows += 1;
        if self.batched_rows >= EVENT_BATCH_ROWS {
            self.insert_batch()?;
        }
        Ok(())
    }

    /// Inserts the queued rows, then counts them: an event stored already (the same file
    /// imported twice) is a duplicate; the others count into their session's aggregates when
    /// this file created the session.
    fn insert_batch(&mut self) -> StoreResult<()> {
        if self.batched_rows == 0 {
            return Ok(());
        }
        self.batched_keys.clear();
        self.batched_rows = 0;
        for at in 0..self.batches.len() {
            self.insert_rows(at)?;
        }
        Ok(())
    }

    /// Inserts the rows of one batch (see [`FileWriter::insert_batch`]).
    fn insert_rows(&mut self, batch: usize) -> StoreResult<()> {
        if self.batches[batch].rows.is_empty() {
            return Ok(());
        }
        let queued = self.batches[batch].rows.len();
        let first_pk = self.next_event_pk;
        self.batch_slot.put(std::mem::take(&mut self.batches[batch].rows));
        let inserted = self.batches[batch].insert.execute(params![self.file_pk]);
        // The table hands the rows back when its cursor closes, whatever happened.
        let mut rows = self.batch_slot.take();
        let inserted = inserted?;
        if rows.len() != queued {
            return Err(StoreError::Sqlite(rusqlite::Error::ModuleError(format!(
                "event batch: {queued} rows queued, {} came back",
                rows.len()
            ))));
        }
        // SQLite numbers the inserted rows on from the largest event_pk, in the batch's order.
        if inserted > 0 && self.conn.last_insert_rowid() != first_pk + inserted as i64 - 1 {
            return Err(StoreError::Sqlite(rusqlite::Error::ModuleError(format!(
                "event batch: {inserted} rows from event {first_pk} on, the last came out as {}",
                self.conn.last_insert_rowid()
            ))));
        }
        self.next_event_pk = first_pk + inserted as i64;
        // Rows that met a stored copy were ignored. The keys inserted, in order, then tell
        // which: keys are unique, so an ignored row's key is never the next one inserted.
        let stored_keys: Option<Vec<(i64, i64)>> = if inserted < queued {
            let mut select =
                self.conn.prepare_cached("SELECT session_pk, event_key FROM events WHERE event_pk >= ?1 ORDER BY event_pk")?;
            let keys = select.query_map(params![first_pk], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            Some(keys.collect::<rusqlite::Result<_>>()?)
        } else {
            None
        };
        let mut next_stored = 0usize;
        for row in rows.drain(..) {
            let was_inserted = match &stored_keys {
                None => true,
                Some(keys) => keys.get(next_stored) == Some(&(row.session_pk, row.event_key)),
            };
            if !was_inserted {
                if row.counted_when_queued {
                    if let Some(slot) = usual_kind_slot(&row.kind) {
                        let count = &mut self.usual_kind_counts[slot].0;
                        *count = count.saturating_sub(1);
                    } else if let Some(n) = self.summary.inserted_by_kind.get_mut(row.kind.as_ref()) {
                        *n = n.saturating_sub(1);
                    }
                }
                self.summary.duplicates += 1;
                continue;
            }
            let event_pk = first_pk + next_stored as i64;
            next_stored += 1;
            let counted_into = if self.is_new_session(row.session_pk) {
                Some(&mut self.aggregates)
            } else if !self.recount.contains(&row.session_pk) {
                Some(&mut self.deltas)
            } else {
                None
            };
            if let Some(aggregates) = counted_into {
                let at = &self.aggregate_columns;
                let is_view = row.kind == "view";
                let span_ns = row.row.column_integer(if is_view { at.time_spent_ns } else { at.duration_ns }).unwrap_or(0);
                let page = row.row.column_text_bytes(at.view_path).map(|path| (path, row.row.column_text_bytes(at.view_url)));
                let aggregate = aggregates.entry(row.session_pk).or_default();
                aggregate.add(&row.kind, row.time_ms, span_ns);
                if row.kind == "resource" {
                    aggregate.add_resource(rounded_number(row.row.column(at.duration_ns)), rounded_number(row.row.column(at.resource_size_bytes)));
                }
                if let Some((path, url)) = page {
                    aggregate.add_page(is_view, row.time_ms, event_pk, path, url);
                }
                aggregate.event_values.add_row(&row.row, &at.event_values);
                aggregate.event_hashes.add_row(&row.row, &at.event_hashes);
            }
            if !row.counted_when_queued {
                self.count_inserted(row.kind);
            }
        }
        // The emptied Vec keeps its room for the next batch.
        self.batches[batch].rows = rows;
        Ok(())
    }

    /// Holds back a view of a session this file created, merging it with a copy held already.
    fn hold_view(&mut self, key: (i64, i64), time_ms: i64, version_rank: i64, row: EventRow) -> StoreResult<WriteOutcome> {
        if let Some(held) = self.pending_views.get_mut(&key) {
            let merged = merge_rows((held.time_ms, held.version_rank, &held.row), (time_ms, version_rank, &row)).ok_or_else(too_large)?;
            if merged.unchanged {
                let older_copy = version_rank != held.version_rank;
                return Ok(self.count_unchanged_copy(older_copy));
            }
            *held = PendingView { time_ms: merged.time_ms, version_rank: merged.version_rank, row: merged.row };
            self.summary.views_merged += 1;
            return Ok(WriteOutcome::Merged);
        }
        while self.pending_views.len() >= self.pending_view_limit.max(1) {
            let Some(oldest) = self.pending_order.pop_front() else { break };
            self.write_held_view(oldest)?;
            self.pending_written_early.insert(oldest);
        }
        self.pending_views.insert(key, PendingView { time_ms, version_rank, row });
        self.pending_order.push_back(key);
        // Counted now, as the other kinds are; a held view that turns out to be stored
        // already is moved to the duplicates when it is written.
        self.count_inserted(Cow::Borrowed("view"));
        Ok(WriteOutcome::Inserted)
    }

    /// Counts a copy of a view that changed nothing of the copy kept (held or stored). An older
    /// copy this file brought after the newer one (an explorer's export lists the newest events
    /// first) is a merged copy, as it is in the other order; the same copy again, or a copy of
    /// a view an earlier file stored, is already present ("already present" misled on a new
    /// database when both counted so).
    fn count_unchanged_copy(&mut self, older_copy_from_this_file: bool) -> WriteOutcome {
        if older_copy_from_this_file {
            self.summary.views_merged += 1;
        } else {
            self.summary.duplicates += 1;
        }
        WriteOutcome::Duplicate
    }

    fn write_held_view(&mut self, key: (i64, i64)) -> StoreResult<()> {
        let Some(view) = self.pending_views.remove(&key) else { return Ok(()) };
        self.queue_row(key.0, key.1, Cow::Borrowed("view"), view.time_ms, view.version_rank, view.row, true)
    }

    /// Writes the views held back, in the order they arrived.
    fn write_held_views(&mut self) -> StoreResult<()> {
        while let Some(key) = self.pending_order.pop_front() {
            self.write_held_view(key)?;
        }
        Ok(())
    }

    /// Merges a view into the stored copy with the same identity (see [`merge_copies`]).
    /// Returns None when no copy is stored yet.
    fn merge_view(
        &mut self,
        session_pk: i64,
        event_key: i64,
        event_time_ms: i64,
        version_rank: i64,
        new_columns: &[SqlValue],
        new_extra: &serde_json::Map<String, serde_json::Value>,
    ) -> StoreResult<Option<WriteOutcome>> {
        if self.batched_keys.contains_key(&(session_pk, event_key)) {
            self.insert_batch()?;
        }
        let existing = self
            .find_view
            .query_row(params![session_pk, event_key], |r| {
                let event_pk: i64 = r.get(0)?;
                let time_ms: i64 = r.get(1)?;
                let rank: i64 = r.get(2)?;
                let extra: String = r.get(3)?;
                let mut columns = Vec::with_capacity(EVENT_COLUMNS.len());
                for i in 0..EVENT_COLUMNS.len() {
                    columns.push(r.get::<_, SqlValue>(i + 4)?);
                }
                let file_pk: Option<i64> = r.get(EVENT_COLUMNS.len() + 4)?;
                Ok((event_pk, time_ms, rank, extra, columns, file_pk))
            })
            .optional()?;
        let Some((event_pk, old_time_ms, old_rank, old_extra, old_columns, old_file_pk)) = existing else {
            return Ok(None);
        };
        let old_extra: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&old_extra).unwrap_or_default();
        let merged = merge_copies(
            (old_time_ms, old_rank, &old_columns, &old_extra),
            (event_time_ms, version_rank, new_columns, new_extra),
        );
        if merged.unchanged {
            // Nothing changed, so the session needs no recount.
            return Ok(Some(self.count_unchanged_copy(old_file_pk == Some(self.file_pk) && old_rank != version_rank)));
        }
        let mut values: Vec<SqlValue> = vec![
            SqlValue::Integer(event_pk),
            SqlValue::Integer(merged.time_ms),
            SqlValue::Integer(merged.version_rank),
            SqlValue::Text(serde_json::Value::Object(merged.extra).to_string()),
        ];
        values.extend(merged.columns);
        // The file that changed it last, so that its own older copies count as merged.
        values.push(SqlValue::Integer(self.file_pk));
        self.update_view.execute(params_from_iter(values))?;
        self.summary.views_merged += 1;
        Ok(Some(WriteOutcome::Merged))
    }

    /// Finds or creates the session and moves session-scoped values onto it; returns the
    /// values that differ from the session's, which stay on the event.
    fn session_for(&mut self, session_id: &[u8], fields: &[u8]) -> StoreResult<(i64, Vec<(String, FieldValue)>)> {
        self.use_clock += 1;
        // One lookup for a cached session (most events): the id hashed once.
        let session = match self.sessions.get_mut(session_id) {
            Some(session) => session,
            None => {
                if self.sessions.len() >= self.session_cache_limit {
                    self.evict_least_recently_used()?;
                }
                let id = std::str::from_utf8(session_id).map_err(|e| StoreError::Sqlite(rusqlite::Error::Utf8Error(0, e)))?;
                let cached = self.load_or_create_session(id)?;
                self.sessions.entry(session_id.into()).or_insert(cached)
            }
        };
        session.last_used = self.use_clock;
        if fields.is_empty() {
            return Ok((session.session_pk, Vec::new()));
        }
        // The same fields as the last event's meet the same attributes: a key is only ever
        // added to a session, never changed, so the same ones differ.
        if fields == session.last_fields.as_slice() {
            return Ok((session.session_pk, session.last_differing.clone()));
        }
        let mut differing = Vec::new();
        for (key, value) in unpack_session_fields(fields) {
            match session.attributes.get(&key) {
                None => {
                    session.attributes.insert(key, value);
                    session.dirty = true;
                }
                Some(existing) if !same_attribute_value(&key, existing, &value) => differing.push((key, value)),
                Some(_) => {}
            }
        }
        session.last_fields.clear();
        session.last_fields.extend_from_slice(fields);
        session.last_differing.clone_from(&differing);
        Ok((session.session_pk, differing))
    }

    /// Whether this file created the session: keys are handed out in order from the first.
    fn is_new_session(&self, session_pk: i64) -> bool {
        session_pk >= self.first_new_session_pk
    }

    fn new_session_count(&self) -> usize {
        (self.next_session_pk - self.first_new_session_pk) as usize
    }

    /// The aggregates of a session this file created, as they were when it left the cache:
    /// counts and times from its row, and the sort keys of its first and last page from its
    /// events (all in the table, and all counted: it is not in `recount`, whose sessions keep
    /// their aggregates in memory). Rare: a session's events mostly come before the cache
    /// next fills.
    fn written_aggregate(
        &self,
        session_pk: i64,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        (counts, (slowest_resource_ns, largest_resource_bytes)): ([i64; 6], ResourceMaxima),
        has_page: bool,
    ) -> StoreResult<WrittenAggregate> {
        let (mut first_key, mut last_key) = (None, None);
        let kept = if has_page && self.keeping_page_keys { self.kept_page_keys(session_pk)? } else { None };
        if let Some((first, last)) = kept {
            (first_key, last_key) = (first, last);
        } else if has_page {
            let mut first = self.conn.prepare_cached(
                "SELECT kind <> 'view', time_ms, event_pk FROM events WHERE session_pk = ?1 AND view_path IS NOT NULL
                 ORDER BY kind <> 'view', time_ms, event_pk LIMIT 1",
            )?;
            first_key = first.query_row(params![session_pk], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?;
            let mut last = self.conn.prepare_cached(
                "SELECT kind <> 'view', time_ms, event_pk FROM events WHERE session_pk = ?1 AND view_path IS NOT NULL
                 ORDER BY kind <> 'view', time_ms DESC, event_pk DESC LIMIT 1",
            )?;
            last_key = last
                .query_row(params![session_pk], |r| {
                    Ok((r.get(0)?, std::cmp::Reverse(r.get(1)?), std::cmp::Reverse(r.get(2)?)))
                })
                .optional()?;
        }
        let default = SessionAggregate::default();
        Ok(WrittenAggregate {
            start_ms: start_ms.unwrap_or(default.start_ms),
            end_ms: end_ms.unwrap_or(default.end_ms),
            counts,
            slowest_resource_ns,
            largest_resource_bytes,
            first_key,
            last_key,
        })
    }

    fn load_or_create_session(&mut self, session_id: &str) -> StoreResult<CachedSession> {
        let attribute_columns = SESSION_ATTRIBUTES.iter().map(|a| a.column).collect::<Vec<_>>().join(", ");
        let mut select = self.conn.prepare_cached(&format!(
            "SELECT session_pk, session_fields_json, first_view_path, first_view_url, last_view_path, last_view_url,
                 start_ms, end_ms, view_count, action_count, error_count, resource_count, long_task_count, other_event_count,
                 slowest_resource_ns, largest_resource_bytes, {attribute_columns} FROM sessions WHERE session_id = ?1"
        ))?;
        let found = select
            .query_row(params![session_id], |r| {
                let session_pk: i64 = r.get(0)?;
                let fields_json: String = r.get(1)?;
                let pages: (PageTexts, PageTexts) = ((r.get(2)?, r.get(3)?), (r.get(4)?, r.get(5)?));
                let times: (Option<i64>, Option<i64>) = (r.get(6)?, r.get(7)?);
                let mut counts = [0; 6];
                for (i, count) in counts.iter_mut().enumerate() {
                    *count = r.get(8 + i)?;
                }
                let resource_maxima: ResourceMaxima = (r.get(14)?, r.get(15)?);
                let mut attributes = FxHashMap::default();
                for (i, attribute) in SESSION_ATTRIBUTES.iter().enumerate() {
                    if let Some(value) = r.get::<_, Option<String>>(i + 16)? {
                        attributes.insert(attribute.key.to_string(), FieldValue::Str(value));
                    }
                }
                Ok((session_pk, fields_json, pages, times, (counts, resource_maxima), attributes))
            })
            .optional()?;
        if let Some((session_pk, fields_json, (first_page, last_page), (start_ms, end_ms), counts, mut attributes)) = found {
            if self.is_new_session(session_pk) {
                // It left the cache earlier in this file, its aggregates written in its row.
                self.resumed_sessions.insert(session_pk);
                self.returns_since_write_out += 1;
                if !self.keeping_page_keys {
                    self.conn.execute_batch(&format!(
                        "CREATE TABLE IF NOT EXISTS {PAGE_KEYS_TABLE} (session_pk INTEGER PRIMARY KEY,
                            first_not_view INTEGER, first_time_ms INTEGER, first_event_pk INTEGER,
                            last_not_view INTEGER, last_time_ms INTEGER, last_event_pk INTEGER)"
                    ))?;
                    self.keeping_page_keys = true;
                }
                if !self.aggregates.contains_key(&session_pk) {
                    let written = self.written_aggregate(session_pk, start_ms, end_ms, counts, first_page.0.is_some())?;
                    self.aggregates.insert(session_pk, written.resume(first_page, last_page));
                }
            }
            if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&fields_json) {
                for (key, value) in map {
                    if let Some(v) = FieldValue::from_json(&value) {
                        attributes.insert(key, v);
                    }
                }
            }
            return Ok(CachedSession {
                session_pk,
                attributes,
                dirty: false,
                stored: true,
                last_fields: Vec::new(),
                last_differing: Vec::new(),
                last_used: 0,
            });
        }
        // Its events refer to it before the row exists: `finish` checks that it came.
        let session_pk = self.next_session_pk;
        self.next_session_pk += 1;
        Ok(CachedSession {
            session_pk,
            attributes: FxHashMap::default(),
            dirty: false,
            stored: false,
            last_fields: Vec::new(),
            last_differing: Vec::new(),
            last_used: 0,
        })
    }

    /// Writes out the least recently used half of the cached sessions (see
    /// [`FileWriter::write_out_sessions`]). The other half stays: in an export in time order
    /// the sessions under way are the recently used ones, and one written out that comes back
    /// costs its row and page keys read back, and its views merged through the table.
    /// Measured on 100,000 sessions starting within an hour, in time order: writing out the
    /// whole cache brought 33,572 sessions back (see the history for the timings).
    ///
    /// When many of the sessions written out came back before the cache filled again (a
    /// quarter of it, and at least [`RETURNS_BEFORE_GROWING`]), more sessions are under way
    /// than half the cache holds: the cache doubles instead, up to `session_cache_max`.
    fn evict_least_recently_used(&mut self) -> StoreResult<()> {
        let returns = std::mem::take(&mut self.returns_since_write_out);
        if returns >= RETURNS_BEFORE_GROWING && returns * 4 >= self.sessions.len() && self.session_cache_limit < self.session_cache_max {
            self.session_cache_limit = (self.session_cache_limit * 2).min(self.session_cache_max);
            return Ok(());
        }
        let mut uses: Vec<u64> = self.sessions.values().map(|s| s.last_used).collect();
        if uses.is_empty() {
            return Ok(());
        }
        let middle = uses.len() / 2;
        let (_, newest_kept, _) = uses.select_nth_unstable(middle);
        let threshold = *newest_kept;
        self.write_out_sessions(|session| session.last_used < threshold)
    }

    /// Writes out the cached sessions that `leaves` picks, and drops them from the cache. The
    /// sessions this file created leave with their aggregates and pages: held to the end of
    /// the file, the aggregates (pages' texts, a map entry) took some 700 bytes a session, and
    /// the peak at 100,000 sessions went from 240-254 MiB to 210-214 MiB without them (two
    /// runs each). Their views held back and the queued rows are written first, so the
    /// aggregates count every event so far; should another event of one come later, counting
    /// goes on from its row and events ([`FileWriter::written_aggregate`]). Nothing of a session
    /// that left stays in memory: keeping its counts (112 bytes) and its views written early
    /// took 435 MB at 1,000,000 sessions (peak 664 MB).
    fn write_out_sessions(&mut self, leaves: impl Fn(&CachedSession) -> bool) -> StoreResult<()> {
        let departing: FxHashSet<i64> = self.sessions.values().filter(|s| leaves(s)).map(|s| s.session_pk).collect();
        if departing.is_empty() {
            return Ok(());
        }
        // Those this file created, the ones that came back (stored by then) included.
        let leaving: FxHashSet<i64> = departing
            .iter()
            .copied()
            .filter(|session_pk| self.is_new_session(*session_pk) && !self.recount.contains(session_pk))
            .collect();
        let mut leaving_aggregates: FxHashMap<i64, SessionAggregate> = FxHashMap::default();
        if !leaving.is_empty() {
            let held: Vec<(i64, i64)> = self.pending_order.iter().copied().filter(|key| leaving.contains(&key.0)).collect();
            if !held.is_empty() {
                self.pending_order.retain(|key| !leaving.contains(&key.0));
                for key in held {
                    self.write_held_view(key)?;
                }
            }
            self.insert_batch()?;
            for session_pk in &leaving {
                if let Some(aggregate) = self.aggregates.remove(session_pk) {
                    leaving_aggregates.insert(*session_pk, aggregate);
                }
            }
            self.insert_pages(&leaving_aggregates)?;
            self.add_event_values(leaving_aggregates.iter().map(|(session_pk, a)| (*session_pk, &a.event_values)))?;
            add_event_hashes(self.conn, leaving_aggregates.iter().map(|(session_pk, a)| (*session_pk, &a.event_hashes)))?;
            if self.keeping_page_keys {
                self.keep_page_keys(&leaving_aggregates)?;
            }
        }
        self.add_deltas_of(Some(&departing))?;
        self.write_cached_sessions(Some(&departing), &mut leaving_aggregates)?;
        // What is left are the sessions that came back: their rows exist.
        self.update_aggregates(leaving_aggregates)?;
        // A session that comes back is resumed, its views merged in the table
        // (`write_prepared`): what was written early of those that left no longer matters.
        self.pending_written_early.retain(|(session_pk, _)| !departing.contains(session_pk));
        Ok(())
    }

    /// Adds [`FileWriter::deltas`] to the rows of their sessions and empties it. Sums, minima
    /// and maxima add up whenever they are added, but a page decides the first or last page
    /// only against the stored one's time, which the row does not hold. Views' pages come
    /// before any other event's, so one indexed lookup (has the session a view with a page
    /// stored before this file?) decides most: with one, pages of other events change nothing;
    /// without one, the delta's views give both pages. Otherwise (views on both sides, or
    /// other events' pages on both) the session is recounted from its events at the end.
    fn add_deltas(&mut self) -> StoreResult<()> {
        self.add_deltas_of(None)
    }

    /// [`FileWriter::add_deltas`] for the sessions in `only` (all when None): a delta added
    /// in two parts may have to recount its session's pages (see `pages_from_delta`), so the
    /// sessions that stay cached keep theirs whole.
    fn add_deltas_of(&mut self, only: Option<&FxHashSet<i64>>) -> StoreResult<()> {
        if self.deltas.is_empty() {
            return Ok(());
        }
        let mut deltas: Vec<(i64, SessionAggregate)> = match only {
            None => self.deltas.drain().collect(),
            Some(only) => {
                let keys: Vec<i64> = self.deltas.keys().copied().filter(|session_pk| only.contains(session_pk)).collect();
                keys.into_iter().filter_map(|session_pk| self.deltas.remove(&session_pk).map(|delta| (session_pk, delta))).collect()
            }
        };
        if deltas.is_empty() {
            return Ok(());
        }
        deltas.sort_unstable_by_key(|(session_pk, _)| *session_pk);
        // A column an UPDATE sets moves the row in that column's index even when its value
        // stays, so the times are set only where the delta widens the session's span, and the
        // counts only where it adds to them: a Guance CSV export of one kind adds one count to
        // every session, and within the span (10,000 sessions: 0.17-0.25 s of updates to
        // 0.10 s, measured with Python's sqlite3).
        let mut widen_span = self.conn.prepare_cached(
            "UPDATE sessions SET start_ms = min(coalesce(start_ms, ?2), ?2), end_ms = max(coalesce(end_ms, ?3), ?3),
                duration_ms = max(coalesce(end_ms, ?3), ?3) - min(coalesce(start_ms, ?2), ?2)
             WHERE session_pk = ?1 AND (start_ms IS NULL OR start_ms > ?2 OR end_ms IS NULL OR end_ms < ?3)",
        )?;
        let mut add_counts: FxHashMap<u8, Statement<'_>> = FxHashMap::default();
        // Like the span: set only where the delta's resource is slower (larger).
        let mut widen_slowest = self.conn.prepare_cached(
            "UPDATE sessions SET slowest_resource_ns = ?2 WHERE session_pk = ?1 AND (slowest_resource_ns IS NULL OR slowest_resource_ns < ?2)",
        )?;
        let mut widen_largest = self.conn.prepare_cached(
            "UPDATE sessions SET largest_resource_bytes = ?2 WHERE session_pk = ?1 AND (largest_resource_bytes IS NULL OR largest_resource_bytes < ?2)",
        )?;
        let mut set_pages = self.conn.prepare_cached(
            "UPDATE sessions SET first_view_path = ?2, first_view_url = ?3, last_view_path = ?4, last_view_url = ?5
             WHERE session_pk = ?1",
        )?;
        let mut has_view_page = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM events WHERE session_pk = ?1 AND kind = 'view' AND view_path IS NOT NULL AND event_pk < ?2)",
        )?;
        let mut pages_added: FxHashMap<i64, SessionAggregate> = FxHashMap::default();
        let mut values_added: Vec<(i64, EventValues)> = Vec::new();
        let mut hashes_added: Vec<(i64, EventHashes)> = Vec::new();
        for (session_pk, mut delta) in deltas {
            if self.recount.contains(&session_pk) {
                continue; // a view merged since: recounted whole
            }
            enum Pages {
                Stay,
                FromDelta,
                Recount,
            }
            let pages = match &delta.first {
                None => Pages::Stay,
                // Views of this file in an earlier delta, whose times are not kept.
                Some(_) if self.pages_from_delta.contains(&session_pk) => Pages::Recount,
                Some(((not_view, _, _), _, _)) => {
                    let stored_view_page =
                        has_view_page.query_row(params![session_pk, self.first_event_pk], |r| r.get::<_, bool>(0))?;
                    match (!not_view, stored_view_page) {
                        (false, true) => Pages::Stay,
                        (true, false) => Pages::FromDelta,
                        (false, false) | (true, true) => Pages::Recount,
                    }
                }
            };
            if matches!(pages, Pages::Recount) {
                // Recounted whole at the end (the counts added so far are recounted with it).
                self.recount.insert(session_pk);
                continue;
            }
            values_added.push((session_pk, std::mem::take(&mut delta.event_values)));
            hashes_added.push((session_pk, std::mem::take(&mut delta.event_hashes)));
            widen_span.execute(params![session_pk, delta.start_ms, delta.end_ms])?;
            let added: u8 = delta.counts.iter().enumerate().filter(|(_, count)| **count != 0).fold(0, |mask, (i, _)| mask | 1 << i);
            if added != 0 {
                let add = match add_counts.entry(added) {
                    std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                    std::collections::hash_map::Entry::Vacant(entry) => entry.insert(self.conn.prepare(&add_counts_sql(added))?),
                };
                let mut parameter = 1;
                add.raw_bind_parameter(parameter, session_pk)?;
                for count in delta.counts.iter().filter(|count| **count != 0) {
                    parameter += 1;
                    add.raw_bind_parameter(parameter, count)?;
                }
                add.raw_execute()?;
            }
            if let Some(slowest_ns) = delta.slowest_resource_ns {
                widen_slowest.execute(params![session_pk, slowest_ns])?;
            }
            if let Some(largest_bytes) = delta.largest_resource_bytes {
                widen_largest.execute(params![session_pk, largest_bytes])?;
            }
            if matches!(pages, Pages::FromDelta) {
                let page = |page: Option<(&String, &Option<String>)>| page.map_or((None, None), |(path, url)| (Some(path.clone()), url.clone()));
                let (first_path, first_url) = page(delta.first.as_ref().map(|(_, path, url)| (path, url)));
                let (last_path, last_url) = page(delta.last.as_ref().map(|(_, path, url)| (path, url)));
                set_pages.execute(params![session_pk, first_path, first_url, last_path, last_url])?;
                self.pages_from_delta.insert(session_pk);
            }
            if !delta.pages.is_empty() {
                pages_added.insert(session_pk, delta);
            }
        }
        self.add_event_values(values_added.iter().map(|(session_pk, values)| (*session_pk, values)))?;
        add_event_hashes(self.conn, hashes_added.iter().map(|(session_pk, hashes)| (*session_pk, hashes)))?;
        self.insert_pages(&pages_added)
    }

    /// Writes the cached sessions in `only` (all when None) and drops them from the cache:
    /// inserts the rows of new sessions (with their aggregates, taken from `aggregates`, when
    /// given) and updates the attributes of stored ones that changed.
    fn write_cached_sessions(&mut self, only: Option<&FxHashSet<i64>>, aggregates: &mut FxHashMap<i64, SessionAggregate>) -> StoreResult<()> {
        let attribute_columns: Vec<&str> = SESSION_ATTRIBUTES.iter().map(|a| a.column).collect();
        let assignments: Vec<String> = attribute_columns.iter().enumerate().map(|(i, c)| format!("{c} = ?{}", i + 3)).collect();
        let mut update = self.conn.prepare_cached(&format!(
            "UPDATE sessions SET session_fields_json = ?2, {} WHERE session_pk = ?1",
            assignments.join(", ")
        ))?;
        let aggregate_columns = "start_ms, end_ms, duration_ms, view_count, action_count, error_count, resource_count,
            long_task_count, other_event_count, first_view_path, first_view_url, last_view_path, last_view_url,
            slowest_resource_ns, largest_resource_bytes";
        let placeholders = (1..=3 + attribute_columns.len() + aggregate_columns.split(',').count())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut insert = self.conn.prepare_cached(&format!(
            "INSERT INTO sessions (session_pk, session_id, session_fields_json, {}, {aggregate_columns}) VALUES ({placeholders})",
            attribute_columns.join(", ")
        ))?;
        let chosen = |s: &CachedSession| only.is_none_or(|only| only.contains(&s.session_pk));
        let mut cached: Vec<(&[u8], &CachedSession)> =
            self.sessions.iter().filter(|(_, s)| chosen(s) && (s.dirty || !s.stored)).map(|(id, s)| (&**id, s)).collect();
        cached.sort_unstable_by_key(|(_, s)| s.session_pk);
        // Bound in place, not gathered as owned values first: at 100,000 sessions this ran for
        // each of them on the writer thread, about 39,000 instructions a session (callgrind).
        let mut fields_json = Vec::new();
        let mut others: Vec<(&str, ValueRef<'_>)> = Vec::new();
        let mut number = String::new();
        let learned = &mut self.learned_field_keys;
        for (session_id, session) in cached {
            others.clear();
            others.extend(
                session.attributes.iter().filter(|(key, _)| session_attribute_for_key(key).is_none()).map(|(k, v)| (k.as_str(), v.as_value_ref())),
            );
            // Its extended fields' keys, for the store's list (see `add_field_keys`).
            if let Some(keys) = learned {
                for (key, _) in &others {
                    if !keys.session.contains(*key) {
                        keys.session.insert(key.to_string());
                    }
                }
                if keys.session.len() > MAX_FIELD_KEYS {
                    *learned = None;
                }
            }
            let fields_json = write_fields_json(&mut fields_json, &mut others);
            let statement = if session.stored { &mut update } else { &mut insert };
            let mut at = 1;
            let mut bind = |statement: &mut rusqlite::CachedStatement<'_>, value: &dyn rusqlite::ToSql| -> StoreResult<()> {
                statement.raw_bind_parameter(at, value)?;
                at += 1;
                Ok(())
            };
            bind(statement, &session.session_pk)?;
            if !session.stored {
                // Made from a `str` (`session_for`).
                bind(statement, &String::from_utf8_lossy(session_id))?;
            }
            bind(statement, &fields_json)?;
            for attribute in SESSION_ATTRIBUTES {
                match session.attributes.get(attribute.key) {
                    Some(FieldValue::Str(text)) => bind(statement, text)?,
                    Some(value) => {
                        number.clear();
                        let _ = std::fmt::Write::write_fmt(&mut number, format_args!("{value}"));
                        bind(statement, &number)?;
                    }
                    None => bind(statement, &rusqlite::types::Null)?,
                }
            }
            if !session.stored {
                let aggregate = aggregates.remove(&session.session_pk).unwrap_or_default();
                for value in aggregate.columns() {
                    bind(statement, &value)?;
                }
            }
            statement.raw_execute()?;
        }
        match only {
            None => self.sessions.clear(),
            Some(only) => self.sessions.retain(|_, s| !only.contains(&s.session_pk)),
        }
        Ok(())
    }

    /// Writes session attributes and aggregates: counted as the rows went in, added to those
    /// of sessions stored before, or recomputed from all a session's events where a merged
    /// view or a page makes counting on impossible; the result does not depend on the order
    /// events or files arrive in.
    pub fn finish(mut self, records_skipped: u64) -> StoreResult<WriteSummary> {
        self.write_held_views()?;
        self.insert_batch()?;
        let mut aggregates = std::mem::take(&mut self.aggregates);
        for session_pk in &self.recount {
            aggregates.remove(session_pk);
        }
        self.insert_pages(&aggregates)?;
        self.add_event_values(aggregates.iter().map(|(session_pk, a)| (*session_pk, &a.event_values)))?;
        add_event_hashes(self.conn, aggregates.iter().map(|(session_pk, a)| (*session_pk, &a.event_hashes)))?;
        // New sessions still cached are inserted with their aggregates; the others (stored
        // already) get theirs by UPDATE.
        self.write_cached_sessions(None, &mut aggregates)?;
        self.update_aggregates(aggregates)?;
        self.check_new_sessions_stored()?;
        self.add_deltas()?;
        // Sessions with a view merged in the table, and stored ones whose first or last page
        // this file may have changed: recomputed in SQL from all their events,
        // set-based over a temporary table rather than two statements per session.
        self.conn.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS touched_sessions (session_pk INTEGER PRIMARY KEY);
             DELETE FROM temp.touched_sessions;",
        )?;
        let mut recount: Vec<i64> = self.recount.iter().copied().collect();
        recount.sort_unstable();
        if !recount.is_empty() {
            {
                let mut insert = self.conn.prepare_cached("INSERT INTO temp.touched_sessions (session_pk) VALUES (?1)")?;
                for session_pk in &recount {
                    insert.execute(params![session_pk])?;
                }
            }
            // Before the statements below, the last of which empties the touched sessions.
            recount_event_values(self.conn, "temp.touched_sessions", &mut self.seen_event_values)?;
            count_event_hashes(self.conn, "temp.touched_sessions", "session_event_hashes")?;
            for sql in RECOUNT_TOUCHED_SESSIONS {
                self.conn.execute(sql, [])?;
            }
        }
        if self.keeping_page_keys {
            self.conn.execute_batch(&format!("DROP TABLE IF EXISTS {PAGE_KEYS_TABLE}"))?;
        }
        self.summary.sessions_touched = (self.new_session_count() + self.touched_stored_sessions.len()) as u64;
        self.add_columns_on_other_kinds()?;
        self.add_field_keys()?;
        self.add_seen_event_values()?;
        for (kind, (count, counted)) in USUAL_KINDS.iter().zip(self.usual_kind_counts) {
            if counted {
                *self.summary.inserted_by_kind.entry(kind.to_string()).or_insert(0) += count;
            }
        }
        self.conn.execute(
            "UPDATE files SET events_imported = ?2, records_skipped = ?3 WHERE file_pk = ?1",
            params![self.file_pk, self.summary.inserted_total() as i64, records_skipped as i64],
        )?;
        Ok(std::mem::take(&mut self.summary))
    }

    /// Notes the keys of a row's extended fields (its JSON object).
    fn learn_field_keys(&mut self, extra_json: &[u8]) {
        // Written by `prepare`: an object. Anything else would be a bug; its keys are then
        // not known, and neither is the list.
        match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(extra_json) {
            Ok(extra) => self.learn_event_keys(extra.keys().map(String::as_str)),
            Err(_) => self.learned_field_keys = None,
        }
    }

    fn learn_event_keys<'k>(&mut self, keys: impl Iterator<Item = &'k str>) {
        if let Some(learned) = &mut self.learned_field_keys {
            for key in keys {
                if !learned.event.contains(key) {
                    learned.event.insert(key.to_string());
                }
            }
            if learned.event.len() > MAX_FIELD_KEYS {
                self.learned_field_keys = None;
            }
        }
    }

    /// Adds this file's extended field keys to the store's facts, where they are known (see
    /// `schema::migration_12`); past [`MAX_FIELD_KEYS`] the facts are dropped (not known).
    fn add_field_keys(&self) -> StoreResult<()> {
        let read = |name: &str| -> StoreResult<Option<String>> {
            Ok(self.conn.query_row("SELECT value FROM store_facts WHERE name = ?1", params![name], |r| r.get(0)).optional()?)
        };
        let names = [SESSION_FIELD_KEYS, EVENT_FIELD_KEYS];
        let (Some(session_text), Some(event_text)) = (read(names[0])?, read(names[1])?) else { return Ok(()) };
        let known = |text: &str| serde_json::from_str::<std::collections::BTreeSet<String>>(text).ok();
        let merged = match (&self.learned_field_keys, known(&session_text), known(&event_text)) {
            (Some(learned), Some(mut session), Some(mut event)) => {
                session.extend(learned.session.iter().cloned());
                event.extend(learned.event.iter().cloned());
                Some((session, event)).filter(|(session, event)| session.len() <= MAX_FIELD_KEYS && event.len() <= MAX_FIELD_KEYS)
            }
            _ => None,
        };
        let Some((session, event)) = merged else {
            self.conn.execute("DELETE FROM store_facts WHERE name IN (?1, ?2)", params![names[0], names[1]])?;
            self.conn.execute("INSERT OR REPLACE INTO store_facts (name, value) VALUES (?1, '1')", params![FIELD_KEYS_TOO_MANY])?;
            return Ok(());
        };
        for (name, keys, before) in [(names[0], session, session_text), (names[1], event, event_text)] {
            let text = serde_json::to_string(&keys).map_err(|e| StoreError::Sqlite(rusqlite::Error::ModuleError(e.to_string())))?;
            if text != before {
                self.conn.execute("UPDATE store_facts SET value = ?2 WHERE name = ?1", params![name, text])?;
            }
        }
        Ok(())
    }

    /// Adds this file's columns on events other than views to the store's fact, where it is
    /// known (see `schema::migration_10`); the queued rows are all written by now.
    fn add_columns_on_other_kinds(&self) -> StoreResult<()> {
        let known: Option<String> = self
            .conn
            .query_row("SELECT value FROM store_facts WHERE name = ?1", params![COLUMNS_ON_OTHER_KINDS], |r| r.get(0))
            .optional()?;
        let Some(known) = known else { return Ok(()) };
        let mut columns: std::collections::BTreeSet<&str> = known.split(',').filter(|c| !c.is_empty()).collect();
        for (i, column) in EVENT_COLUMNS.iter().enumerate() {
            if self.columns_on_other_kinds & (1 << i) != 0 {
                columns.insert(column.column);
            }
        }
        let value = columns.into_iter().collect::<Vec<_>>().join(",");
        if value != known {
            self.conn.execute("UPDATE store_facts SET value = ?2 WHERE name = ?1", params![COLUMNS_ON_OTHER_KINDS, value])?;
        }
        Ok(())
    }

    /// Imports run without SQLite's foreign key checks (see `Store::pause_foreign_keys`): an
    /// event's session is one read from the table or one this file created, numbered on from
    /// the largest stored, so the rows from there must be exactly the sessions created.
    fn check_new_sessions_stored(&self) -> StoreResult<()> {
        let created = self.new_session_count();
        let stored: i64 = self.conn.query_row(
            "SELECT count(*) FROM sessions WHERE session_pk >= ?1",
            params![self.first_new_session_pk],
            |r| r.get(0),
        )?;
        if stored != created as i64 {
            return Err(StoreError::Sqlite(rusqlite::Error::ModuleError(format!(
                "{} sessions created, {stored} stored: their events would have no session",
                created
            ))));
        }
        Ok(())
    }

    /// The pages of the sessions this file created (those not recounted in SQL), in key order.
    fn insert_pages(&self, aggregates: &FxHashMap<i64, SessionAggregate>) -> StoreResult<()> {
        let mut pages: Vec<(&str, i64)> =
            aggregates.iter().flat_map(|(session_pk, a)| a.pages.iter().map(move |page| (page.as_str(), *session_pk))).collect();
        pages.sort_unstable();
        // Many rows per statement: one statement per row made the statement's own cost half of
        // it (10,000 sessions' 28,818 pages: 39–53 ms, 20–34 ms so).
        let mut chunks = pages.chunks_exact(PAGES_PER_INSERT);
        if chunks.len() > 0 {
            let mut insert = self.conn.prepare_cached(&session_pages_insert_sql(PAGES_PER_INSERT))?;
            for chunk in chunks.by_ref() {
                insert_page_rows(&mut insert, chunk)?;
            }
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut insert = self.conn.prepare(&session_pages_insert_sql(rest.len()))?;
            insert_page_rows(&mut insert, rest)?;
        }
        Ok(())
    }

    /// Adds the event values this file's sessions keep to the store's list of values seen.
    fn add_seen_event_values(&self) -> StoreResult<()> {
        if self.seen_event_values.is_empty() {
            return Ok(());
        }
        let stored: Option<String> =
            self.conn.query_row("SELECT value FROM store_facts WHERE name = ?1", [SEEN_EVENT_VALUES], |r| r.get(0)).optional()?;
        let mut seen = EventValues::decode_seen(stored.as_deref().unwrap_or_default());
        seen.add_seen(&self.seen_event_values);
        self.conn.execute("INSERT OR REPLACE INTO store_facts (name, value) VALUES (?1, ?2)", params![SEEN_EVENT_VALUES, seen.encode()])?;
        Ok(())
    }

    /// Adds sessions' event values to their rows in `session_event_values` (a row already there
    /// keeps its values too: a session that left the cache and came back, or one stored by an
    /// earlier file). Many rows per statement, as the pages.
    fn add_event_values<'v>(&mut self, values: impl Iterator<Item = (i64, &'v EventValues)>) -> StoreResult<()> {
        let mut rows: Vec<(i64, String)> = values
            .filter(|(_, v)| !v.is_empty())
            .map(|(session_pk, v)| {
                self.seen_event_values.add_seen(v);
                (session_pk, v.encode())
            })
            .collect();
        rows.sort_unstable_by_key(|(session_pk, _)| *session_pk);
        for chunk in rows.chunks(EVENT_VALUES_PER_INSERT) {
            let sql = event_values_upsert_sql(chunk.len());
            let mut insert = self.conn.prepare_cached(&sql)?;
            for (i, (session_pk, tokens)) in chunk.iter().enumerate() {
                insert.raw_bind_parameter(2 * i + 1, session_pk)?;
                insert.raw_bind_parameter(2 * i + 2, tokens.as_str())?;
            }
            insert.raw_execute()?;
        }
        Ok(())
    }

    /// Writes aggregates of sessions whose rows exist.
    /// Notes the page keys of sessions leaving the cache (see [`PAGE_KEYS_TABLE`]).
    fn keep_page_keys(&self, aggregates: &FxHashMap<i64, SessionAggregate>) -> StoreResult<()> {
        let mut keep = self.conn.prepare_cached(&format!("INSERT OR REPLACE INTO {PAGE_KEYS_TABLE} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"))?;
        for (session_pk, aggregate) in aggregates {
            let first = aggregate.first.as_ref().map(|(key, _, _)| *key);
            let last = aggregate.last.as_ref().map(|(key, _, _)| *key);
            keep.execute(params![
                session_pk,
                first.map(|k| k.0),
                first.map(|k| k.1),
                first.map(|k| k.2),
                last.map(|k| k.0),
                last.map(|k| (k.1).0),
                last.map(|k| (k.2).0),
            ])?;
        }
        Ok(())
    }

    /// The page keys noted when the session last left the cache; None when it left before
    /// keys were noted (its events are ordered then).
    #[allow(clippy::type_complexity)]
    fn kept_page_keys(&self, session_pk: i64) -> StoreResult<Option<(Option<FirstPageKey>, Option<LastPageKey>)>> {
        let mut read = self.conn.prepare_cached(&format!(
            "SELECT first_not_view, first_time_ms, first_event_pk, last_not_view, last_time_ms, last_event_pk
             FROM {PAGE_KEYS_TABLE} WHERE session_pk = ?1"
        ))?;
        let keys = read
            .query_row(params![session_pk], |r| {
                let first: (Option<bool>, Option<i64>, Option<i64>) = (r.get(0)?, r.get(1)?, r.get(2)?);
                let last: (Option<bool>, Option<i64>, Option<i64>) = (r.get(3)?, r.get(4)?, r.get(5)?);
                let first = match first {
                    (Some(not_view), Some(time_ms), Some(event_pk)) => Some((not_view, time_ms, event_pk)),
                    _ => None,
                };
                let last = match last {
                    (Some(not_view), Some(time_ms), Some(event_pk)) => {
                        Some((not_view, std::cmp::Reverse(time_ms), std::cmp::Reverse(event_pk)))
                    }
                    _ => None,
                };
                Ok((first, last))
            })
            .optional()?;
        Ok(keys)
    }

    fn update_aggregates(&mut self, aggregates: FxHashMap<i64, SessionAggregate>) -> StoreResult<()> {
        let mut update = self.conn.prepare(
            "UPDATE sessions SET start_ms = ?2, end_ms = ?3, duration_ms = ?4, view_count = ?5, action_count = ?6,
                error_count = ?7, resource_count = ?8, long_task_count = ?9, other_event_count = ?10,
                first_view_path = ?11, first_view_url = ?12, last_view_path = ?13, last_view_url = ?14,
                slowest_resource_ns = ?15, largest_resource_bytes = ?16
             WHERE session_pk = ?1",
        )?;
        let mut sorted: Vec<(i64, SessionAggregate)> = aggregates.into_iter().collect();
        sorted.sort_unstable_by_key(|(session_pk, _)| *session_pk);
        for (session_pk, aggregate) in sorted {
            let mut values = vec![SqlValue::Integer(session_pk)];
            values.extend(aggregate.columns());
            update.execute(params_from_iter(values))?;
        }
        Ok(())
    }
}

/// A session's aggregates as they are counted over its events.
struct SessionAggregate {
    start_ms: i64,
    end_ms: i64,
    /// view, action, error, resource, long_task, other
    counts: [i64; 6],
    /// The longest duration and the most bytes among its resources.
    slowest_resource_ns: Option<i64>,
    largest_resource_bytes: Option<i64>,
    /// The page of the first and of the last event that names one, views first; with the
    /// sort key that decides it.
    first: Option<(FirstPageKey, String, Option<String>)>,
    last: Option<(LastPageKey, String, Option<String>)>,
    /// Every page its events name, once each (for `session_pages`); a session has a few.
    pages: Vec<String>,
    /// Its events' values in the columns of few values (for `session_event_values`).
    event_values: EventValues,
    /// Hashes of its events' values of many values (for `session_event_hashes`).
    event_hashes: EventHashes,
}

/// What a session's aggregates need to go on counting once its row has been written with
/// them: the counts and times, and the sort keys of its first and last page (the pages' texts
/// are in the row); read back when it comes again ([`FileWriter::written_aggregate`]).
struct WrittenAggregate {
    start_ms: i64,
    end_ms: i64,
    counts: [i64; 6],
    slowest_resource_ns: Option<i64>,
    largest_resource_bytes: Option<i64>,
    first_key: Option<FirstPageKey>,
    last_key: Option<LastPageKey>,
}

type PageTexts = (Option<String>, Option<String>);
/// A session's slowest resource's duration (ns) and largest resource's size (bytes).
type ResourceMaxima = (Option<i64>, Option<i64>);

impl WrittenAggregate {
    /// The aggregates again, with the first and last page (path, URL) as the row holds them.
    /// Its pages are in `session_pages` already; those added from here are inserted beside
    /// them (OR IGNORE), as its event values are added to its stored ones.
    fn resume(self, first: PageTexts, last: PageTexts) -> SessionAggregate {
        fn page<K>(key: Option<K>, (path, url): PageTexts) -> Option<(K, String, Option<String>)> {
            Some((key?, path?, url))
        }
        SessionAggregate {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            counts: self.counts,
            slowest_resource_ns: self.slowest_resource_ns,
            largest_resource_bytes: self.largest_resource_bytes,
            first: page(self.first_key, first),
            last: page(self.last_key, last),
            pages: Vec::new(),
            event_values: EventValues::default(),
            event_hashes: EventHashes::default(),
        }
    }
}

/// Orders events for the first page: views first, then by time, then as stored.
type FirstPageKey = (bool, i64, i64);
/// Orders events for the last page: views first, then latest time, then latest stored.
type LastPageKey = (bool, std::cmp::Reverse<i64>, std::cmp::Reverse<i64>);

impl Default for SessionAggregate {
    fn default() -> Self {
        SessionAggregate {
            start_ms: i64::MAX,
            end_ms: i64::MIN,
            counts: [0; 6],
            slowest_resource_ns: None,
            largest_resource_bytes: None,
            first: None,
            last: None,
            pages: Vec::new(),
            event_values: EventValues::default(),
            event_hashes: EventHashes::default(),
        }
    }
}

impl SessionAggregate {
    /// start_ms, end_ms, duration_ms, the six counts, first and last page path and URL, the
    /// slowest and largest resource; a session without events has no times and counts of 0.
    fn columns(self) -> Vec<SqlValue> {
        let (start, end, duration) = if self.counts.iter().any(|n| *n > 0) {
            (SqlValue::Integer(self.start_ms), SqlValue::Integer(self.end_ms), SqlValue::Integer(self.end_ms - self.start_ms))
        } else {
            (SqlValue::Null, SqlValue::Null, SqlValue::Null)
        };
        let text = |t: Option<String>| t.map_or(SqlValue::Null, SqlValue::Text);
        let (first_path, first_url) = self.first.map_or((None, None), |(_, p, u)| (Some(p), u));
        let (last_path, last_url) = self.last.map_or((None, None), |(_, p, u)| (Some(p), u));
        let mut values = vec![start, end, duration];
        values.extend(self.counts.iter().map(|n| SqlValue::Integer(*n)));
        values.extend([text(first_path), text(first_url), text(last_path), text(last_url)]);
        let integer = |n: Option<i64>| n.map_or(SqlValue::Null, SqlValue::Integer);
        values.extend([integer(self.slowest_resource_ns), integer(self.largest_resource_bytes)]);
        values
    }

    /// A resource: its duration and size may be the session's largest.
    fn add_resource(&mut self, duration_ns: Option<i64>, size_bytes: Option<i64>) {
        fn widen(held: &mut Option<i64>, value: Option<i64>) {
            if let Some(value) = value {
                *held = Some(held.map_or(value, |held| held.max(value)));
            }
        }
        widen(&mut self.slowest_resource_ns, duration_ns);
        widen(&mut self.largest_resource_bytes, size_bytes);
    }

    /// An event that names a page: it becomes the first or last page if it sorts so.
    /// The page's text is copied (and turned into a `String`) only when it becomes the first
    /// or the last, or is a new page of the session: the texts are the row's, which the
    /// parser made from `str`s, so nothing is lost.
    fn add_page(&mut self, is_view: bool, time_ms: i64, event_pk: i64, path: &[u8], url: Option<&[u8]>) {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let first_key = (!is_view, time_ms, event_pk);
        let last_key = (!is_view, std::cmp::Reverse(time_ms), std::cmp::Reverse(event_pk));
        // Events mostly come in time order, so nearly each one is the new last page: its
        // texts are copied into the ones held, without allocating them anew.
        fn set<K>(held: &mut Option<(K, String, Option<String>)>, key: K, path: &[u8], url: Option<&[u8]>) {
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            match held {
                Some((held_key, held_path, held_url)) => {
                    *held_key = key;
                    set_text(held_path, path);
                    match (held_url.as_mut(), url) {
                        (Some(held_url), Some(url)) => set_text(held_url, url),
                        (_, url) => *held_url = url.map(text),
                    }
                }
                None => *held = Some((key, text(path), url.map(text))),
            }
        }
        if self.first.as_ref().is_none_or(|(key, _, _)| first_key < *key) {
            set(&mut self.first, first_key, path, url);
        }
        if self.last.as_ref().is_none_or(|(key, _, _)| last_key < *key) {
            set(&mut self.last, last_key, path, url);
        }
        if !self.pages.iter().any(|page| page.as_bytes() == path) {
            self.pages.push(text(path));
        }
    }

    fn add(&mut self, kind: &str, time_ms: i64, span_ns: i64) {
        self.start_ms = self.start_ms.min(time_ms);
        // As SQLite's integer division: truncated toward zero.
        self.end_ms = self.end_ms.max(time_ms.saturating_add(span_ns / 1_000_000));
        let slot = match kind {
            "view" => 0,
            "action" => 1,
            "error" => 2,
            "resource" => 3,
            "long_task" => 4,
            _ => 5,
        };
        self.counts[slot] += 1;
    }
}

/// A number column's value as the sessions' resource maxima keep it: an integer, a fraction
/// rounded (half away from zero, as SQLite's `round`), anything else none.
fn rounded_number(slot: Slot) -> Option<i64> {
    match slot {
        Slot::Integer(n) => Some(n),
        Slot::Real(x) if x.is_finite() => Some(x.round() as i64),
        _ => None,
    }
}

/// `held` made `bytes` as text, in its own room.
fn set_text(held: &mut String, bytes: &[u8]) {
    held.clear();
    held.push_str(&String::from_utf8_lossy(bytes));
}

/// The fields as the text of a JSON object with sorted keys, the last of a repeated key
/// winning: the text `serde_json::Map` (a sorted map) prints, without building one.
fn json_object_text(fields: &mut [(FieldKey, FieldValue)]) -> String {
    fields.sort_by(|a, b| a.0.cmp(&b.0)); // stable: repeats keep their order
    let sorted: Vec<(&str, ValueRef<'_>)> = fields.iter().map(|(key, value)| (key.as_ref(), value.as_value_ref())).collect();
    json_object_of_sorted(&sorted)
}

/// The JSON object of fields sorted by key; of a key given twice, the last copy.
fn json_object_of_sorted(fields: &[(&str, ValueRef<'_>)]) -> String {
    let room = |value: &ValueRef<'_>| match value {
        ValueRef::Str(text) => text.len() + 8,
        _ => 24,
    };
    let mut out = Vec::with_capacity(16 + fields.iter().map(|(key, value)| key.len() + 4 + room(value)).sum::<usize>());
    write_json_object_of_sorted(&mut out, fields);
    String::from_utf8(out).unwrap_or_default()
}

/// [`json_object_of_sorted`], appended to `out`.
fn write_json_object_of_sorted(out: &mut Vec<u8>, fields: &[(&str, ValueRef<'_>)]) {
    out.push(b'{');
    let mut first = true;
    for (i, (key, value)) in fields.iter().enumerate() {
        if fields.get(i + 1).is_some_and(|next| next.0 == *key) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_json_str(out, key);
        out.push(b':');
        match value {
            ValueRef::Str(s) => write_json_str(out, s),
            ValueRef::Int(v) => push_decimal(out, *v),
            // Writing a number into a Vec cannot fail.
            ValueRef::Float(v) => {
                let _ = serde_json::to_writer(&mut *out, v);
            }
            ValueRef::Bool(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
        }
    }
    out.push(b'}');
}

/// A JSON string as serde_json writes it: copied whole when nothing in it needs an escape
/// (the common case), else by serde_json.
fn write_json_str(out: &mut Vec<u8>, text: &str) {
    // Without an early exit, so the check runs over many bytes at a time.
    let needs_escape = text.bytes().fold(false, |found, b| found | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if needs_escape {
        // Writing a str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// A stable identity: the SDK's own id where the kind has one, else the event's content.
pub fn event_key(event: &Event, session_id: &str) -> i64 {
    let infos: Vec<KeyInfo> = event.fields.iter().map(|(key, _)| key_info_of(key)).collect();
    event_key_with(event, session_id, &infos)
}

/// [`event_key`] with each field's [`KeyInfo`] looked up already (`infos[i]` is field i's).
/// The bytes are gathered in one buffer and hashed at once: XXH3 of a buffer equals the
/// streaming XXH3 of its pieces, which is how identities were computed before (kept stable).
fn event_key_with(event: &Event, session_id: &str, infos: &[KeyInfo]) -> i64 {
    if let Some(id) = id_key_of_kind(&event.kind).and_then(|k| event.get_str(k)) {
        return identity_of_id(&event.kind, session_id, id);
    }
    // Session-scoped keys describe the session, not the event (exports repeat them or not),
    // so they are left out, as is the session id, which is hashed apart.
    let mut fields: Vec<(&str, ValueRef<'_>)> = event
        .fields
        .iter()
        .zip(infos)
        .filter(|((k, _), info)| k != "session_id" && !info.session_scoped)
        .map(|((key, value), _)| (key.as_ref(), value.as_value_ref()))
        .collect();
    fields.sort_by(|a, b| a.0.cmp(b.0)); // stable: repeated keys keep their order
    identity_of_content(&event.kind, session_id, event.time_ms, &fields)
}

/// The key holding the SDK's own id of an event of this kind.
fn id_key_of_kind(kind: &str) -> Option<&'static str> {
    IdKind::of_kind(kind).map(IdKind::key)
}

fn identity_bytes(kind: &str, session_id: &str) -> Vec<u8> {
    IDENTITY_BUFFER.with(|cell| {
        let mut bytes = cell.take();
        bytes.clear();
        bytes.extend_from_slice(kind.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(session_id.as_bytes());
        bytes.push(0);
        bytes
    })
}

thread_local! {
    /// The buffer an identity's bytes are gathered in, kept by each thread from one event to
    /// the next (an allocation and a free per event otherwise).
    static IDENTITY_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// XXH3 of `bytes`, which then go back to [`IDENTITY_BUFFER`].
fn hash_identity(bytes: Vec<u8>) -> i64 {
    let hash = xxhash_rust::xxh3::xxh3_64(&bytes) as i64;
    // A rare huge event would otherwise keep its buffer's size for the thread's life.
    if bytes.capacity() <= 64 * 1024 {
        IDENTITY_BUFFER.with(|cell| cell.set(bytes));
    }
    hash
}

/// The identity of an event with the SDK's id.
fn identity_of_id(kind: &str, session_id: &str, id: &str) -> i64 {
    let mut bytes = identity_bytes(kind, session_id);
    bytes.extend_from_slice(b"id\0");
    bytes.extend_from_slice(id.as_bytes());
    hash_identity(bytes)
}

/// The identity of an event without an id: its time and its fields, sorted by key.
fn identity_of_content(kind: &str, session_id: &str, time_ms: i64, sorted_fields: &[(&str, ValueRef<'_>)]) -> i64 {
    let mut bytes = identity_bytes(kind, session_id);
    bytes.extend_from_slice(&time_ms.to_le_bytes());
    for (key, value) in sorted_fields {
        bytes.extend_from_slice(key.as_bytes());
        bytes.push(1);
        // The bytes of the value's text, as `to_string` gives them, without allocating it.
        match value {
            ValueRef::Str(text) => bytes.extend_from_slice(text.as_bytes()),
            ValueRef::Int(v) => push_decimal(&mut bytes, *v),
            ValueRef::Bool(v) => bytes.extend_from_slice(if *v { b"true" } else { b"false" }),
            ValueRef::Float(v) => {
                use std::io::Write;
                let _ = write!(bytes, "{v}"); // writing into a Vec cannot fail
            }
        }
        bytes.push(0);
    }
    hash_identity(bytes)
}

/// Appends an integer's decimal text, as `Display` writes it.
fn push_decimal(out: &mut Vec<u8>, value: i64) {
    // itoa writes two digits per step (a digit at a time was 0.7% of an import's instructions).
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Orders copies of the same view: Datadog's document version, else the time spent so far
/// (Guance re-sends a view with a growing `time_spent`).
fn version_rank(event: &Event) -> i64 {
    if let Some(v) = event.get("_dd.document_version").and_then(FieldValue::as_i64) {
        return v;
    }
    if event.kind == "view" {
        return event.get("time_spent").and_then(FieldValue::as_i64).unwrap_or(0);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session's other fields come out as the text serde_json wrote for a map of them (the
    /// sessions table held that before): keys in order, strings escaped, numbers in serde's
    /// spelling, a float without a JSON form as null.
    #[test]
    fn session_fields_json_is_what_serde_writes_for_the_map() {
        let values = [
            ("zeta", FieldValue::Str("plain".into())),
            ("alpha", FieldValue::Str("quote \" backslash \\ newline \n tab \t é 日本".into())),
            ("m", FieldValue::Int(-42)),
            ("big", FieldValue::Int(i64::MAX)),
            ("half", FieldValue::Float(1.5)),
            ("tiny", FieldValue::Float(1e-300)),
            ("huge", FieldValue::Float(1e300)),
            ("nan", FieldValue::Float(f64::NAN)),
            ("whole", FieldValue::Float(3.0)),
            ("yes", FieldValue::Bool(true)),
            ("Upper", FieldValue::Bool(false)),
            ("", FieldValue::Str(String::new())),
        ];
        for take in 0..=values.len() {
            let chosen = &values[..take];
            let mut map = serde_json::Map::new();
            for (key, value) in chosen {
                map.insert(key.to_string(), value.to_json());
            }
            let expected = serde_json::Value::Object(map).to_string();
            // In an order other than the keys'.
            let mut fields: Vec<(&str, ValueRef<'_>)> = chosen.iter().rev().map(|(k, v)| (*k, v.as_value_ref())).collect();
            let mut out = Vec::new();
            assert_eq!(write_fields_json(&mut out, &mut fields), expected, "{take} fields");
        }
    }

    /// Rows merged as text give what the merge through SQL values and JSON maps gives: the
    /// columns, the extended fields' text, the time, the rank and whether anything changed,
    /// over copies that differ in rank, in which columns are NULL, in their members (shared,
    /// one-sided, repeated, escaped, null, nested, numbers of every kind) and that are equal.
    /// Strings and numbers are in serde_json's forms, as the writer writes them (`1.5e+300`,
    /// `é` unescaped); anything not an object goes the general way.
    #[test]
    fn merging_rows_as_text_matches_merging_values() {
        use super::super::event_row::COLUMN_COUNT;
        let extras = [
            r#"{}"#,
            r#"{"a":1,"b":"x"}"#,
            r#"{"a":2,"c":[1,{"d":null}],"e":1.5e+300}"#,
            r#"{"b":"x","a":1}"#,
            r#"{"a":1,"a":3,"z\"q":"é\n\u001f","m":null}"#,
            r#"{"_dd.document_version":5,"view_action_count":0,"é":-0.0,"n":18446744073709551615}"#,
            r#"{"a":true,"b":{"x":[]},"k":"v"}"#,
            r#"not json"#,
            r#"[1,2]"#,
        ];
        let row_of = |seed: usize, extra: &str| -> EventRow {
            let mut row = EventRow::with_capacity(64);
            for column in 0..COLUMN_COUNT {
                match (column * 7 + seed) % 5 {
                    0 => {}
                    1 => row.set(column, Slot::Integer((column * seed) as i64)),
                    2 => row.set(column, Slot::Real(column as f64 / (seed as f64 + 1.0))),
                    3 => row.set_text(column, &format!("t{}", (column + seed) % 3)).expect("room"),
                    _ => row.set_text(column, "").expect("room"),
                }
            }
            row.set_extra_json(extra).expect("room");
            row
        };
        let mut cases = 0;
        for (old_extra, new_extra) in extras.iter().flat_map(|a| extras.iter().map(move |b| (a, b))) {
            for (old_seed, new_seed) in [(1, 1), (1, 2), (3, 4), (2, 2)] {
                for (old_copy, new_copy) in [((10, 1), (10, 1)), ((10, 1), (5, 2)), ((5, 2), (10, 1)), ((10, 0), (10, 0))] {
                    let old_row = row_of(old_seed, old_extra);
                    let new_row = row_of(new_seed, new_extra);
                    let old = (old_copy.0, old_copy.1, &old_row);
                    let new = (new_copy.0, new_copy.1, &new_row);
                    let as_text = merge_rows(old, new).expect("merged");
                    let as_values = merge_rows_as_values(old, new).expect("merged");
                    let case = format!("{old_extra} {new_extra} {old_seed}/{new_seed} {old_copy:?}/{new_copy:?}");
                    assert_eq!(as_text.row.to_sql_values(), as_values.row.to_sql_values(), "{case}");
                    assert_eq!(as_text.row.extra_json(), as_values.row.extra_json(), "{case}");
                    assert_eq!((as_text.time_ms, as_text.version_rank), (as_values.time_ms, as_values.version_rank), "{case}");
                    assert_eq!(as_text.unchanged, as_values.unchanged, "{case}");
                    cases += 1;
                }
            }
        }
        // Equal copies are found unchanged, a later rank with a new member is not.
        let row = row_of(1, extras[1]);
        assert!(merge_rows((10, 1, &row), (10, 1, &row)).expect("merged").unchanged);
        assert!(!merge_rows((10, 1, &row), (10, 2, &row_of(1, extras[2]))).expect("merged").unchanged);
        assert_eq!(cases, extras.len() * extras.len() * 16);
    }

    /// The writer's own objects are read without serde, to the same members; anything else
    /// (whitespace, escaped keys, nested values, broken text) is left to serde.
    #[test]
    fn plain_objects_read_as_serde_reads_them() {
        let plain = [
            r#"{}"#,
            r#"{"a":1,"b":"x"}"#,
            r#"{"_dd.document_version":5,"b":"q\"x\\y\u001f","c":-1.5e-7,"d":false,"e":null,"f":"","é":"ü"}"#,
            r#"{"b":"x","a":1,"a":2}"#,
            r#"{"k":"[1,{\"d\":null}]","n":18446744073709551615}"#,
        ];
        for json in plain {
            let read = plain_object_members(json).unwrap_or_else(|| panic!("read without serde: {json}"));
            let by_serde: Vec<(Cow<'_, str>, &str)> =
                serde_object_members(json).expect("an object").into_iter().map(|(k, v)| (k, v.get())).collect();
            assert_eq!(read, by_serde, "{json}");
        }
        let left_to_serde =
            [r#"{"a": 1}"#, r#"{"z\"q":1}"#, r#"{"a":{"b":1}}"#, r#"{"a":[1,2]}"#, r#"{"a":1,}"#, r#"{"a":1}}"#, r#"{"a":"x"#, r#"[1]"#, r#"{"a":}"#, ""];
        for json in left_to_serde {
            assert_eq!(plain_object_members(json), None, "{json}");
        }
        // Through json_object_members, repeated and unsorted keys come out as serde's map has them.
        let members = json_object_members(r#"{"b":"x","a":1,"a":2}"#).expect("object");
        assert_eq!(members, vec![(Cow::Borrowed("a"), "2"), (Cow::Borrowed("b"), "\"x\"")]);
    }

    /// The opcodes of the batch insert, on a schema with foreign keys on or off.
    fn batch_insert_opcodes(foreign_keys: bool) -> Vec<String> {
        let conn = Connection::open_in_memory().expect("open");
        crate::store::schema::migrate(&conn, std::path::Path::new(":memory:")).expect("schema");
        conn.execute_batch(if foreign_keys { "PRAGMA foreign_keys = ON" } else { "PRAGMA foreign_keys = OFF" }).expect("pragma");
        register_event_batch(&conn, &BatchSlot::default()).expect("register");
        let mut explain = conn.prepare(&format!("EXPLAIN {}", insert_batch_sql(ColumnGroups::MAX))).expect("explain");
        explain.query_map([0], |r| r.get::<_, String>(1)).expect("rows").collect::<rusqlite::Result<_>>().expect("opcodes")
    }

    /// A statement that may abort halfway (a NOT NULL or foreign key check, a named rowid)
    /// makes SQLite journal every page it touches first; the batch insert must not be one.
    #[test]
    fn the_batch_insert_cannot_abort_halfway_during_imports() {
        let aborting = ["Halt", "HaltIfNull", "FkCounter", "FkIfZero", "MustBeInt"];
        let opcodes = batch_insert_opcodes(false);
        assert!(opcodes.iter().any(|op| op == "VColumn"), "{opcodes:?}");
        let found: Vec<&String> = opcodes.iter().filter(|op| aborting.contains(&op.as_str())).collect();
        // The one Halt is the statement's normal end.
        assert_eq!(found, vec!["Halt"], "{opcodes:?}");
        // With foreign keys on (outside imports) the check is there: the test can tell.
        assert!(batch_insert_opcodes(true).iter().any(|op| op == "FkCounter"));
    }

    #[test]
    fn packed_session_fields_unpack_to_the_same_fields() {
        let fields = vec![
            ("browser".to_string(), FieldValue::Str("Chrome".into())),
            ("".to_string(), FieldValue::Str("".into())),
            ("ünïcode key".to_string(), FieldValue::Str("välue with \0 and \n".into())),
            ("count".to_string(), FieldValue::Int(-9_007_199_254_740_993)),
            ("ratio".to_string(), FieldValue::Float(-0.125)),
            ("flag".to_string(), FieldValue::Bool(true)),
            ("off".to_string(), FieldValue::Bool(false)),
        ];
        let mut packed = SessionFields::default();
        for (key, value) in &fields {
            packed.push(key, value.as_value_ref());
        }
        assert_eq!(packed.unpack(), fields);
        let mut other = SessionFields::default();
        for (key, value) in &fields[..6] {
            other.push(key, value.as_value_ref());
        }
        other.push("off", ValueRef::Bool(true));
        assert_ne!(packed, other, "one value differs");
        // Text that looks like a number is not the number.
        let (mut text, mut int) = (SessionFields::default(), SessionFields::default());
        text.push("n", ValueRef::Str("1"));
        int.push("n", ValueRef::Int(1));
        assert_ne!(text, int);
    }

    #[test]
    fn content_identity_hashes_the_text_of_each_value() {
        // The identity of events without an id must not change between versions (a re-import
        // would store them twice): the value bytes are those of `to_string`.
        let mut event = Event::new("vital", 1_700_000_000_123);
        event.fields = vec![
            ("session_id".into(), FieldValue::Str("s1".into())),
            ("b".into(), FieldValue::Float(0.25)),
            ("a".into(), FieldValue::Int(-7)),
            ("c".into(), FieldValue::Bool(true)),
            ("d".into(), FieldValue::Str("text é".into())),
        ];
        let mut reference = xxhash_rust::xxh3::Xxh3::new();
        reference.update(b"vital\0s1\0");
        reference.update(&1_700_000_000_123i64.to_le_bytes());
        for (key, value) in [("a", "-7"), ("b", "0.25"), ("c", "true"), ("d", "text é")] {
            reference.update(key.as_bytes());
            reference.update(&[1]);
            reference.update(value.as_bytes());
            reference.update(&[0]);
        }
        assert_eq!(event_key(&event, "s1"), reference.digest() as i64);
    }

    #[test]
    fn decimal_text_is_what_display_writes() {
        for value in [0, 7, -7, 10, 1_700_000_000_123, -1_000_000, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            assert_eq!(String::from_utf8(out).expect("ascii"), value.to_string());
        }
    }

    #[test]
    fn json_object_text_is_what_a_sorted_map_prints() {
        let fields: Vec<(FieldKey, FieldValue)> = vec![
            ("zeta".into(), FieldValue::Str("a \"quoted\"\nline \u{1} é 中".into())),
            ("alpha".into(), FieldValue::Int(-3)),
            ("nan".into(), FieldValue::Float(f64::NAN)),
            ("ratio".into(), FieldValue::Float(0.1 + 0.2)),
            ("big".into(), FieldValue::Float(1e300)),
            ("alpha".into(), FieldValue::Bool(true)),
            ("k\\ey".into(), FieldValue::Str(String::new())),
            ("".into(), FieldValue::Int(i64::MIN)),
            ("plain".into(), FieldValue::Str("nothing to escape: é 中 \u{7f} / ' ~".into())),
            ("tab\t".into(), FieldValue::Str("back\\slash".into())),
            ("int".into(), FieldValue::Int(1_700_000_000_123)),
            ("off".into(), FieldValue::Bool(false)),
        ];
        let mut map = serde_json::Map::new();
        for (key, value) in &fields {
            map.insert(key.to_string(), value.to_json());
        }
        let expected = serde_json::Value::Object(map).to_string();
        assert_eq!(json_object_text(&mut fields.clone()), expected);
        assert_eq!(json_object_text(&mut []), "{}");
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    /// An empty store in memory, inside the transaction a writer needs.
    fn store_in_a_transaction() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        crate::store::schema::migrate(&conn, std::path::Path::new(":memory:")).expect("schema");
        conn.execute_batch("BEGIN").expect("begin");
        conn
    }

    fn event(kind: &str, session: &str, id: &str, time_ms: i64, path: &str) -> Event {
        let mut event = Event::new(kind, time_ms);
        event.set("session_id", FieldValue::Str(session.into()));
        event.set(if kind == "view" { "view_id" } else { "action_id" }, FieldValue::Str(id.into()));
        event.set("view_path", FieldValue::Str(path.into()));
        event.set("browser", FieldValue::Str("Firefox".into()));
        event
    }

    /// Rows are inserted by column set (see [`column_group`]): whichever columns a row has
    /// values in, each value is stored, and of two copies of an event queued in different
    /// sets the first still wins, as it does within one.
    #[test]
    fn every_column_is_stored_whatever_the_rows_column_set() {
        assert!(EVENT_COLUMNS.iter().all(|c| (column_group(c.column).trailing_zeros() as usize) < COLUMN_GROUP_COUNT));
        let conn = store_in_a_transaction();
        let mut writer = FileWriter::new(&conn, "test", "test", 0).expect("writer");
        let value_of = |i: usize, column: &crate::model::EventColumn| match column.column_type {
            ColumnType::Text => FieldValue::Str(format!("text {i}")),
            ColumnType::Integer => FieldValue::Int(1_000 + i as i64),
            ColumnType::Real => FieldValue::Float(0.5 + i as f64),
        };
        // An action per column with that column's value, and one with every column's.
        for (i, column) in EVENT_COLUMNS.iter().enumerate() {
            let mut action = event("action", "s1", &format!("a{i}"), 1_000 + i as i64, "/p");
            action.set(column.key, value_of(i, column));
            writer.write(1, action).expect("action");
        }
        let mut every = event("action", "s1", "every", 5_000, "/p");
        for (i, column) in EVENT_COLUMNS.iter().enumerate().filter(|(_, c)| c.key != "action_id") {
            every.set(column.key, value_of(i, column));
        }
        writer.write(2, every).expect("every column");
        // Two copies of one action, the first with an error column's value and the second
        // without: they are queued in different sets.
        let mut first = event("action", "s1", "copied", 6_000, "/p");
        first.set("error_type", FieldValue::Str("first".into()));
        writer.write(3, first).expect("first copy");
        writer.write(4, event("action", "s1", "copied", 6_000, "/p")).expect("second copy");
        writer.finish(0).expect("finish");
        for (i, column) in EVENT_COLUMNS.iter().enumerate() {
            let ids: Vec<String> = if column.key == "action_id" {
                vec![] // the id names the event: checked below through the others
            } else {
                vec![format!("a{i}"), "every".to_string()]
            };
            for id in ids {
                let stored: SqlValue = conn
                    .query_row(&format!("SELECT {} FROM events WHERE action_id = ?1", column.column), [&id], |r| r.get(0))
                    .unwrap_or_else(|e| panic!("{id}: {e}"));
                let expected = match value_of(i, column) {
                    FieldValue::Str(text) => SqlValue::Text(text),
                    FieldValue::Int(n) => SqlValue::Integer(n),
                    FieldValue::Float(x) => SqlValue::Real(x),
                    other => panic!("{other:?}"),
                };
                // The path column holds the event's page, set for every event above.
                if column.key != "view_path" {
                    assert_eq!(stored, expected, "{} of {id}", column.column);
                }
            }
        }
        let copies: Vec<Option<String>> = conn
            .prepare("SELECT error_type FROM events WHERE action_id = 'copied'")
            .expect("copies")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("copies");
        assert_eq!(copies, vec![Some("first".to_string())]);
    }

    /// A row whose version rank is 0 leaves the column out of its insert (the column's
    /// default); the others name it. Both kinds of row in one batch keep their own rank, views
    /// and the other kinds alike.
    #[test]
    fn version_ranks_are_stored_whether_named_or_left_to_the_default() {
        let conn = store_in_a_transaction();
        let mut writer = FileWriter::new(&conn, "test", "test", 0).expect("writer");
        let ranked = |kind: &str, id: &str, rank: Option<i64>| {
            let mut event = event(kind, "s1", id, 1_000, "/p");
            if let Some(rank) = rank {
                event.set("_dd.document_version", FieldValue::Int(rank));
            }
            event
        };
        for (line, (kind, id, rank)) in
            [("action", "a0", None), ("action", "a7", Some(7)), ("view", "v0", Some(0)), ("view", "v3", Some(3)), ("action", "a-2", Some(-2))]
                .into_iter()
                .enumerate()
        {
            writer.write(line as u64, ranked(kind, id, rank)).expect("write");
        }
        writer.finish(0).expect("finish");
        let rank_of = |id: &str| -> i64 {
            conn.query_row("SELECT version_rank FROM events WHERE action_id = ?1 OR view_id = ?1", [id], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{id}: {e}"))
        };
        assert_eq!([rank_of("a0"), rank_of("a7"), rank_of("v0"), rank_of("v3"), rank_of("a-2")], [0, 7, 0, 3, -2]);
        let insert = insert_batch_sql(groups_of_columns(EventRow::with_capacity(0).non_null_columns()));
        assert!(!insert.contains("version_rank"), "{insert}");
        assert!(insert_batch_sql(VERSION_RANK_GROUP).contains("version_rank"));
    }

    /// A session that came back leaves the cache again with its aggregates (its row updated),
    /// and comes back once more counting on from them: however often sessions return, the
    /// writer holds the cached ones' only.
    #[test]
    fn sessions_that_came_back_leave_again_with_their_aggregates() {
        let conn = store_in_a_transaction();
        let mut writer = FileWriter::new(&conn, "test", "test", 0).expect("writer");
        writer.session_cache_limit = 2;
        let mut line = 0;
        let mut others = |writer: &mut FileWriter, from: i64| {
            for i in from..from + 4 {
                line += 1;
                writer.write(line, event("action", &format!("o{i}"), &format!("o{i}-a"), 5_000 + i, "/other")).expect("other");
            }
        };
        writer.write(1, event("view", "s0", "v1", 1_000, "/one")).expect("view");
        others(&mut writer, 0);
        writer.write(2, event("view", "s0", "v2", 2_000, "/two")).expect("view again");
        others(&mut writer, 10);
        let s0: i64 = conn.query_row("SELECT session_pk FROM sessions WHERE session_id = 's0'", [], |r| r.get(0)).expect("row");
        assert!(!writer.aggregates.contains_key(&s0), "s0 left again with its aggregates");
        assert!(writer.aggregates.len() <= 2, "{}", writer.aggregates.len());
        writer.write(3, event("action", "s0", "a3", 3_000, "/two")).expect("action");
        writer.finish(0).expect("finish");
        let row: (i64, i64, i64, i64, String, String) = conn
            .query_row(
                "SELECT view_count, action_count, start_ms, end_ms, first_view_path, last_view_path FROM sessions WHERE session_id = 's0'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .expect("s0");
        assert_eq!(row, (2, 1, 1_000, 3_000, "/one".to_string(), "/two".to_string()));
    }

    /// A full cache writes out its least recently used half: a session still under way (its
    /// events interleaved with others', as in an export in time order) stays cached and never
    /// comes back through its row.
    #[test]
    fn a_full_cache_writes_out_the_least_recently_used_sessions() {
        let conn = store_in_a_transaction();
        let mut writer = FileWriter::new(&conn, "test", "test", 0).expect("writer");
        writer.session_cache_limit = 4;
        let mut line = 0;
        let mut write = |writer: &mut FileWriter, session: &str, time_ms: i64| {
            line += 1;
            writer.write(line, event("action", session, &format!("{session}-{time_ms}"), time_ms, "/p")).expect("write");
        };
        for (i, session) in ["busy", "b", "c", "d"].into_iter().enumerate() {
            write(&mut writer, session, 1_000 + i as i64);
        }
        // "busy" goes on between the others, which arrive and end.
        for i in 0..20 {
            write(&mut writer, "busy", 2_000 + i);
            write(&mut writer, &format!("x{i}"), 2_000 + i);
        }
        assert!(writer.sessions.contains_key(b"busy".as_slice()), "the busy session stays cached");
        assert!(writer.resumed_sessions.is_empty(), "no session came back: {:?}", writer.resumed_sessions);
        let written: i64 = conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0)).expect("count");
        assert!(written >= 18, "the others were written out as they fell behind: {written}");
        writer.finish(0).expect("finish");
        let busy: (i64, i64, i64) = conn
            .query_row("SELECT action_count, start_ms, end_ms FROM sessions WHERE session_id = 'busy'", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("busy");
        assert_eq!(busy, (21, 1_000, 2_019));
        let sessions: i64 = conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0)).expect("count");
        assert_eq!(sessions, 24);
    }

    /// When many sessions come back after leaving the cache (more are under way than half of
    /// it holds), the cache grows, up to its maximum, and fewer come back; the sessions come
    /// out the same either way.
    #[test]
    fn the_cache_grows_when_many_sessions_come_back() {
        let run = |max: usize| {
            let conn = store_in_a_transaction();
            let mut writer = FileWriter::new(&conn, "test", "test", 0).expect("writer");
            writer.session_cache_limit = 200;
            writer.session_cache_max = max;
            // 300 sessions under way at once, each with an action in four rounds.
            let mut line = 0;
            let mut returned_by_round = Vec::new();
            for round in 0..4i64 {
                for session in 0..300 {
                    line += 1;
                    let id = format!("s{session}");
                    writer.write(line, event("action", &id, &format!("{id}-{round}"), 1_000 * round + session, "/p")).expect("write");
                }
                returned_by_round.push(writer.resumed_sessions.len());
            }
            let limit = writer.session_cache_limit;
            writer.finish(0).expect("finish");
            let sessions: Vec<(String, i64, i64, i64)> = conn
                .prepare("SELECT session_id, action_count, start_ms, end_ms FROM sessions ORDER BY session_id")
                .expect("sessions")
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .expect("rows")
                .collect::<rusqlite::Result<_>>()
                .expect("sessions");
            (limit, returned_by_round, sessions)
        };
        let (fixed_limit, fixed_returned, fixed_sessions) = run(200);
        let (grown_limit, grown_returned, grown_sessions) = run(400);
        assert_eq!(fixed_limit, 200);
        assert_eq!(fixed_returned[1..], [300, 300, 300], "a cache of 200 for 300 sessions under way: all come back");
        assert_eq!(grown_limit, 400);
        assert!(grown_returned[3] < fixed_returned[3], "{grown_returned:?} came back with the cache grown, {fixed_returned:?} without");
        assert_eq!(grown_returned[2], grown_returned[3], "none comes back once the cache holds them all: {grown_returned:?}");
        assert_eq!(grown_sessions, fixed_sessions);
        assert_eq!(grown_sessions.len(), 300);
        assert!(grown_sessions.iter().all(|(_, actions, ..)| *actions == 4));
    }

    /// Once a session has come back, the sessions that leave note their pages' sort keys; one
    /// that comes back again reads them from there, and its first and last page still come
    /// out right against pages before and after them. The note goes with the import.
    #[test]
    fn sessions_that_come_back_again_read_their_page_keys_from_the_note() {
        let conn = store_in_a_transaction();
        let mut writer = FileWriter::new(&conn, "test", "test", 0).expect("writer");
        writer.session_cache_limit = 2;
        let mut line = 0;
        let mut others = |writer: &mut FileWriter, from: i64| {
            for i in from..from + 4 {
                line += 1;
                writer.write(line, event("action", &format!("o{i}"), &format!("o{i}-a"), 5_000 + i, "/other")).expect("other");
            }
        };
        writer.write(1, event("view", "s0", "v1", 1_000, "/one")).expect("view");
        writer.write(1, event("view", "s0", "v2", 2_000, "/two")).expect("view");
        others(&mut writer, 0);
        assert!(!writer.keeping_page_keys, "no session came back yet");
        writer.write(2, event("action", "s0", "a1", 1_500, "/one")).expect("back once");
        assert!(writer.keeping_page_keys);
        others(&mut writer, 10);
        let s0: i64 = conn.query_row("SELECT session_pk FROM sessions WHERE session_id = 's0'", [], |r| r.get(0)).expect("row");
        let (first, last) = writer.kept_page_keys(s0).expect("read").expect("noted when it left again");
        assert_eq!(first.map(|k| (k.0, k.1)), Some((false, 1_000)));
        assert_eq!(last.map(|k| (k.0, (k.1).0)), Some((false, 2_000)), "views decide the last page before other events");
        writer.write(3, event("view", "s0", "v0", 500, "/zero")).expect("an earlier view");
        writer.write(4, event("view", "s0", "v3", 3_000, "/three")).expect("a later view");
        writer.finish(0).expect("finish");
        let row: (i64, i64, i64, i64, String, String) = conn
            .query_row(
                "SELECT view_count, action_count, start_ms, end_ms, first_view_path, last_view_path FROM sessions WHERE session_id = 's0'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .expect("s0");
        assert_eq!(row, (4, 1, 500, 3_000, "/zero".to_string(), "/three".to_string()));
        let note: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE name = ?1", [PAGE_KEYS_TABLE], |r| r.get(0)).expect("schema");
        assert_eq!(note, 0, "dropped at the end");
    }

    /// A view first seen after its session came back is held like any new view: its later
    /// copy merges in memory, and the session is not recounted from its events at the end. A
    /// copy of a view stored before the session left still merges in the table.
    #[test]
    fn new_views_of_a_session_that_came_back_are_held() {
        let conn = store_in_a_transaction();
        let mut writer = FileWriter::new(&conn, "test", "test", 0).expect("writer");
        writer.session_cache_limit = 2;
        writer.write(1, event("view", "s0", "v1", 1_000, "/one")).expect("view");
        for i in 0..4 {
            writer.write(2, event("action", &format!("o{i}"), &format!("o{i}-a"), 5_000 + i, "/other")).expect("other");
        }
        writer.write(3, event("view", "s0", "v2", 2_000, "/two")).expect("new view after coming back");
        let s0: i64 = conn.query_row("SELECT session_pk FROM sessions WHERE session_id = 's0'", [], |r| r.get(0)).expect("row");
        assert!(writer.resumed_sessions.contains(&s0));
        assert!(writer.pending_views.keys().any(|(session_pk, _)| *session_pk == s0), "held, not queued");
        let mut copy = event("view", "s0", "v2", 2_000, "/two");
        copy.set("loading_time", FieldValue::Int(900_000_000));
        assert_eq!(writer.write(4, copy).expect("copy"), WriteOutcome::Merged);
        assert!(writer.recount.is_empty(), "merged in memory");
        let mut stored_copy = event("view", "s0", "v1", 1_000, "/one");
        stored_copy.set("loading_time", FieldValue::Int(700_000_000));
        assert_eq!(writer.write(5, stored_copy).expect("stored copy"), WriteOutcome::Merged);
        assert!(writer.recount.contains(&s0), "merged in the table: recounted");
        writer.finish(0).expect("finish");
        let loading: Vec<(String, i64)> = conn
            .prepare("SELECT view_id, loading_time_ns FROM events WHERE kind = 'view' AND session_pk = ?1 ORDER BY time_ms")
            .expect("views")
            .query_map([s0], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("views");
        assert_eq!(loading, vec![("v1".to_string(), 700_000_000), ("v2".to_string(), 900_000_000)]);
        let counts: (i64, i64, String, String) = conn
            .query_row("SELECT view_count, action_count, first_view_path, last_view_path FROM sessions WHERE session_pk = ?1", [s0], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .expect("s0");
        assert_eq!(counts, (2, 0, "/one".to_string(), "/two".to_string()));
    }

    /// Recounting a session touched by a later file reads that session's events, not the
    /// table: the steps SQLite takes in full scans stay at the touched sessions' count however
    /// many events the store has, and the recount gives the session's aggregates and pages.
    #[test]
    fn a_recount_reads_only_the_touched_sessions_events() {
        let conn = store_in_a_transaction();
        let mut writer = FileWriter::new(&conn, "first", "test", 0).expect("writer");
        for session in 0..50 {
            for view in 0..6 {
                let id = format!("s{session}-v{view}");
                writer.write(1, event("view", &format!("s{session}"), &id, 1_000 * view, &format!("/page{view}"))).expect("view");
            }
        }
        writer.finish(0).expect("finish");
        let events: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).expect("count");
        assert_eq!(events, 300);
        // A later file with a new copy of one stored view of s7 (another page): a merge in the
        // table, so the session is recounted at the end.
        let mut writer = FileWriter::new(&conn, "second", "test", 0).expect("writer");
        let mut copy = event("view", "s7", "s7-v5", 5_000, "/moved");
        copy.set("time_spent", FieldValue::Int(2_000_000_000));
        assert_eq!(writer.write(1, copy).expect("copy"), WriteOutcome::Merged);
        let s7: i64 = conn.query_row("SELECT session_pk FROM sessions WHERE session_id = 's7'", [], |r| r.get(0)).expect("s7");
        assert!(writer.recount.contains(&s7));
        writer.finish(0).expect("finish");
        let (views, end_ms, last_page): (i64, i64, String) = conn
            .query_row("SELECT view_count, end_ms, last_view_path FROM sessions WHERE session_pk = ?1", [s7], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("s7 row");
        assert_eq!((views, end_ms, last_page.as_str()), (6, 7_000, "/moved"));
        let pages: Vec<String> = conn
            .prepare("SELECT view_path FROM session_pages WHERE session_pk = ?1 ORDER BY view_path")
            .expect("pages")
            .query_map([s7], |r| r.get(0))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("pages");
        assert_eq!(pages, ["/moved", "/page0", "/page1", "/page2", "/page3", "/page4"]);

        // The statements on their own, two sessions touched: each full-scan step is one of them.
        conn.execute_batch("INSERT INTO temp.touched_sessions (session_pk) SELECT session_pk FROM sessions WHERE session_id IN ('s3', 's9')")
            .expect("touch");
        for sql in RECOUNT_TOUCHED_SESSIONS {
            let mut statement = conn.prepare(sql).expect("prepare");
            statement.raw_execute().expect("run");
            let full_scan_steps = statement.get_status(rusqlite::StatementStatus::FullscanStep);
            assert!(full_scan_steps <= 2, "{full_scan_steps} steps in full scans of {events} events: {sql}");
        }
    }

    /// Sessions leave the cache with their aggregates, so the writer holds aggregates and views
    /// for the cached sessions only, however many sessions the file has; a session that comes
    /// back after it left counts on from what its row and events say, first and last page
    /// included, and a new copy of a view it had merges into the stored one.
    #[test]
    fn aggregates_held_stay_within_the_session_cache() {
        let conn = store_in_a_transaction();
        let mut writer = FileWriter::new(&conn, "test", "test", 0).expect("writer");
        writer.session_cache_limit = 4;
        let mut most_held = 0;
        for i in 0..50i64 {
            let session = format!("s{i}");
            writer.write(1, event("view", &session, &format!("v{i}"), 1_000 + i, &format!("/first/{i}"))).expect("view");
            writer.write(2, event("action", &session, &format!("a{i}"), 2_000 + i, &format!("/first/{i}"))).expect("action");
            most_held = most_held.max(writer.aggregates.len() + writer.pending_views.len());
        }
        assert!(most_held <= 10, "aggregates and held views for 4 cached sessions and the one arriving, not 50: {most_held}");
        assert!(writer.pending_written_early.len() <= 10, "{}", writer.pending_written_early.len());
        assert!(writer.resumed_sessions.is_empty());
        // s0 again, long after it left: a later view (its last page now) and an action.
        writer.write(3, event("view", "s0", "v0-late", 9_000, "/last")).expect("late view");
        writer.write(4, event("action", "s0", "a0-late", 9_500, "/last")).expect("late action");
        assert_eq!(writer.resumed_sessions.len(), 1, "read back from its row, not kept");
        // And a copy of its first view with a loading time: merged, not a second view.
        let mut copy = event("view", "s0", "v0", 1_000, "/first/0");
        copy.set("loading_time", FieldValue::Int(1_500_000_000));
        let outcome = writer.write(5, copy).expect("copy");
        assert_eq!(outcome, WriteOutcome::Merged);
        writer.finish(0).expect("finish");
        let loading_ns: i64 = conn
            .query_row("SELECT loading_time_ns FROM events WHERE view_id = 'v0'", [], |r| r.get(0))
            .expect("merged view");
        assert_eq!(loading_ns, 1_500_000_000);
        let (views, actions, start, end, first, last): (i64, i64, i64, i64, String, String) = conn
            .query_row(
                "SELECT view_count, action_count, start_ms, end_ms, first_view_path, last_view_path FROM sessions WHERE session_id = 's0'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .expect("s0");
        assert_eq!((views, actions, start, end), (2, 2, 1_000, 9_500));
        assert_eq!((first.as_str(), last.as_str()), ("/first/0", "/last"));
        let pages: Vec<String> = conn
            .prepare("SELECT view_path FROM session_pages JOIN sessions USING (session_pk) WHERE session_id = 's0' ORDER BY view_path")
            .expect("pages")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(pages, vec!["/first/0".to_string(), "/last".to_string()]);
        // Every other session: one view and one action, its own page.
        let counted: i64 = conn
            .query_row(
                "SELECT count(*) FROM sessions WHERE view_count = 1 AND action_count = 1 AND first_view_path = last_view_path",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(counted, 49);
    }
}
