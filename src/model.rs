//! The one data model every importer maps into: an [`Event`] is a kind, a time and a flat map of
//! keys in the Guance naming (the canonical key space), whatever format it came from.

use std::fmt;

/// The five RUM event kinds every SDK records. Anything else (Datadog `vital`, `transition`, ...)
/// is still imported, with its own kind name, so nothing a user exported is dropped.
pub const KNOWN_KINDS: [&str; 5] = ["view", "action", "error", "resource", "long_task"];

/// One value of one key of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl FieldValue {
    /// The value as an integer, when it is one or is text or a float that holds one.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_value_ref().as_i64()
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.as_value_ref().as_f64()
    }

    /// The value borrowed: what the import's shared steps read.
    pub fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            FieldValue::Str(s) => ValueRef::Str(s),
            FieldValue::Int(v) => ValueRef::Int(*v),
            FieldValue::Float(v) => ValueRef::Float(*v),
            FieldValue::Bool(b) => ValueRef::Bool(*b),
        }
    }

    /// Whether the value says nothing (an empty string). Such values never set session attributes.
    pub fn is_empty_text(&self) -> bool {
        matches!(self, FieldValue::Str(s) if s.is_empty())
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            FieldValue::Str(s) => serde_json::Value::String(s.clone()),
            FieldValue::Int(v) => serde_json::Value::from(*v),
            FieldValue::Float(v) => serde_json::Number::from_f64(*v)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            FieldValue::Bool(b) => serde_json::Value::Bool(*b),
        }
    }

    pub fn from_json(value: &serde_json::Value) -> Option<FieldValue> {
        match value {
            serde_json::Value::Null => None,
            serde_json::Value::Bool(b) => Some(FieldValue::Bool(*b)),
            serde_json::Value::Number(n) => Some(if let Some(i) = n.as_i64() {
                FieldValue::Int(i)
            } else {
                FieldValue::Float(n.as_f64().unwrap_or(f64::NAN))
            }),
            serde_json::Value::String(s) => Some(FieldValue::Str(s.clone())),
            // Arrays and objects that reach here are kept whole, as JSON text.
            other => Some(FieldValue::Str(other.to_string())),
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_value_ref().fmt(f)
    }
}

/// A value borrowed from an [`Event`] or straight from a file's text (the Datadog reader
/// prepares rows without building an `Event`): both go through the same steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl ValueRef<'_> {
    /// The value as an integer, when it is one or is text or a float that holds one.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            ValueRef::Int(v) => Some(v),
            ValueRef::Float(v) if v.is_finite() && v.abs() < 9.2e18 => Some(v.round() as i64),
            ValueRef::Float(_) => None,
            ValueRef::Str(s) => {
                let t = s.trim();
                t.parse::<i64>().ok().or_else(|| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && v.abs() < 9.2e18)
                        .map(|v| v.round() as i64)
                })
            }
            ValueRef::Bool(_) => None,
        }
    }

    pub fn as_f64(self) -> Option<f64> {
        match self {
            ValueRef::Int(v) => Some(v as f64),
            ValueRef::Float(v) => Some(v),
            ValueRef::Str(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            ValueRef::Bool(_) => None,
        }
    }

    /// Whether the value says nothing (an empty string).
    pub fn is_empty_text(self) -> bool {
        matches!(self, ValueRef::Str(s) if s.is_empty())
    }
}

impl fmt::Display for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueRef::Str(s) => f.write_str(s),
            ValueRef::Int(v) => write!(f, "{v}"),
            ValueRef::Float(v) => write!(f, "{v}"),
            ValueRef::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A field's key: most keys of an import are names the program knows, which need no
/// allocation per event (a 400 MB import has about 14 million keys).
pub type FieldKey = std::borrow::Cow<'static, str>;

/// One imported event, in the canonical key space.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `view`, `action`, `error`, `resource`, `long_task`, or another kind the source named.
    pub kind: String,
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Every key of the event, including `session_id`, in the order the source gave them.
    pub fields: Vec<(FieldKey, FieldValue)>,
    /// A partial update (Datadog `view_update`): merged into the view it names.
    pub is_partial_update: bool,
}

impl Event {
    pub fn new(kind: impl Into<String>, time_ms: i64) -> Event {
        Event { kind: kind.into(), time_ms, fields: Vec::new(), is_partial_update: false }
    }

    pub fn get(&self, key: &str) -> Option<&FieldValue> {
        self.fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(FieldValue::Str(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        }
    }

    /// Sets a key, replacing an earlier value of the same key.
    pub fn set(&mut self, key: impl Into<FieldKey>, value: FieldValue) {
        let key = key.into();
        if let Some(slot) = self.fields.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.fields.push((key, value));
        }
    }

    pub fn session_id(&self) -> Option<&str> {
        self.get_str("session_id")
    }
}

/// SQL column type of a canonical column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    Real,
}

impl ColumnType {
    pub fn sql(self) -> &'static str {
        match self {
            ColumnType::Text => "TEXT",
            ColumnType::Integer => "INTEGER",
            ColumnType::Real => "REAL",
        }
    }
}

/// A key that has its own column on the events table; every other key goes to `extra_json`.
#[derive(Debug, Clone, Copy)]
pub struct EventColumn {
    /// Key in the canonical (Guance) key space.
    pub key: &'static str,
    /// Column name, with its unit.
    pub column: &'static str,
    pub column_type: ColumnType,
}

const fn text(key: &'static str) -> EventColumn {
    EventColumn { key, column: key, column_type: ColumnType::Text }
}
const fn nanos(key: &'static str, column: &'static str) -> EventColumn {
    EventColumn { key, column, column_type: ColumnType::Integer }
}

/// Canonical event columns. Durations are nanoseconds, as both SDKs send them.
pub const EVENT_COLUMNS: &[EventColumn] = &[
    text("view_id"),
    text("view_url"),
    text("view_path"),
    text("view_name"),
    text("view_referrer"),
    text("view_loading_type"),
    nanos("loading_time", "loading_time_ns"),
    nanos("first_contentful_paint", "first_contentful_paint_ns"),
    nanos("largest_contentful_paint", "largest_contentful_paint_ns"),
    EventColumn { key: "cumulative_layout_shift", column: "cumulative_layout_shift", column_type: ColumnType::Real },
    nanos("first_input_delay", "first_input_delay_ns"),
    nanos("interaction_to_next_paint", "interaction_to_next_paint_ns"),
    nanos("first_byte", "first_byte_ns"),
    nanos("dom_interactive", "dom_interactive_ns"),
    nanos("dom_content_loaded", "dom_content_loaded_ns"),
    nanos("dom_complete", "dom_complete_ns"),
    nanos("load_event", "load_event_ns"),
    nanos("time_spent", "time_spent_ns"),
    text("action_id"),
    text("action_type"),
    text("action_name"),
    text("error_message"),
    text("error_type"),
    text("error_source"),
    text("error_handling"),
    text("error_stack"),
    text("resource_url"),
    text("resource_type"),
    text("resource_method"),
    EventColumn { key: "resource_status", column: "resource_status", column_type: ColumnType::Integer },
    EventColumn { key: "resource_size", column: "resource_size_bytes", column_type: ColumnType::Integer },
    nanos("duration", "duration_ns"),
];

pub fn event_column_for_key(key: &str) -> Option<&'static EventColumn> {
    EVENT_COLUMNS.iter().find(|c| c.key == key || c.column == key)
}

/// A session attribute that has its own column on the sessions table (the explorer's list
/// columns and facets). The session takes the first non-empty value its events carry.
#[derive(Debug, Clone, Copy)]
pub struct SessionAttribute {
    pub key: &'static str,
    pub column: &'static str,
}

pub const SESSION_ATTRIBUTES: &[SessionAttribute] = &[
    SessionAttribute { key: "session_type", column: "session_type" },
    SessionAttribute { key: "app_id", column: "app_id" },
    SessionAttribute { key: "env", column: "env" },
    SessionAttribute { key: "service", column: "service" },
    SessionAttribute { key: "version", column: "app_version" },
    SessionAttribute { key: "userid", column: "user_id" },
    SessionAttribute { key: "user_name", column: "user_name" },
    SessionAttribute { key: "user_email", column: "user_email" },
    SessionAttribute { key: "browser", column: "browser" },
    SessionAttribute { key: "browser_version", column: "browser_version" },
    SessionAttribute { key: "os", column: "os" },
    SessionAttribute { key: "os_version", column: "os_version" },
    SessionAttribute { key: "device", column: "device" },
    SessionAttribute { key: "country", column: "country" },
    SessionAttribute { key: "city", column: "city" },
];

/// Other keys that describe the session rather than one event. They are kept once on the
/// session; an event keeps its own copy only where it differs, so nothing is lost.
pub const SESSION_SCOPED_KEYS: &[&str] = &[
    "sdk_name", "sdk_version", "source", "is_signin", "os_version_major", "browser_version_major",
    "screen_size", "network_type", "time_zone", "ip", "province", "isp", "session_sampled_for_replay",
];

/// Key prefixes (Datadog's flattened objects) that are session-scoped too.
pub const SESSION_SCOPED_PREFIXES: &[&str] =
    &["usr.", "os.", "browser.", "device.", "geo.", "connectivity.", "display.", "application.", "_dd.configuration."];

pub fn session_attribute_for_key(key: &str) -> Option<&'static SessionAttribute> {
    SESSION_ATTRIBUTES.iter().find(|a| a.key == key || a.column == key)
}

/// What the store needs to know of a key, looked up once per key instead of by scanning the
/// tables above (the import calls this for every key of every event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyInfo {
    /// Index into [`EVENT_COLUMNS`] when the key has its own column.
    pub event_column: Option<usize>,
    pub session_scoped: bool,
    /// What the writer looks for in this key, so it matches a byte instead of the key's text.
    pub role: KeyRole,
}

/// The keys the writer treats apart from their column (see `writer::prepare_fields_with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyRole {
    #[default]
    Other,
    SessionId,
    ViewUrl,
    ViewPath,
    DocumentVersion,
    TimeSpent,
    /// The SDK's id of an event of one kind (`view_id`, `action_id`, ...): which kind's.
    Id(IdKind),
}

/// The kinds whose events carry an id of the SDK's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    View,
    Action,
    Error,
    Resource,
    LongTask,
}

impl IdKind {
    /// The kind's id key, for the kinds that have one.
    pub fn of_kind(kind: &str) -> Option<IdKind> {
        Some(match kind {
            "view" => IdKind::View,
            "action" => IdKind::Action,
            "error" => IdKind::Error,
            "resource" => IdKind::Resource,
            "long_task" => IdKind::LongTask,
            _ => return None,
        })
    }

    pub fn key(self) -> &'static str {
        match self {
            IdKind::View => "view_id",
            IdKind::Action => "action_id",
            IdKind::Error => "error_id",
            IdKind::Resource => "resource_id",
            IdKind::LongTask => "long_task_id",
        }
    }
}

/// The [`KeyRole`] of a key.
pub fn key_role(key: &str) -> KeyRole {
    match key {
        "session_id" => KeyRole::SessionId,
        "view_url" => KeyRole::ViewUrl,
        "view_path" => KeyRole::ViewPath,
        "_dd.document_version" => KeyRole::DocumentVersion,
        "time_spent" => KeyRole::TimeSpent,
        "view_id" => KeyRole::Id(IdKind::View),
        "action_id" => KeyRole::Id(IdKind::Action),
        "error_id" => KeyRole::Id(IdKind::Error),
        "resource_id" => KeyRole::Id(IdKind::Resource),
        "long_task_id" => KeyRole::Id(IdKind::LongTask),
        _ => KeyRole::Other,
    }
}

/// The names the program knows (columns, session attributes, session-scoped keys).
fn known_names() -> impl Iterator<Item = &'static str> {
    EVENT_COLUMNS
        .iter()
        .map(|c| c.key)
        .chain(SESSION_ATTRIBUTES.iter().map(|a| a.key))
        .chain(SESSION_ATTRIBUTES.iter().map(|a| a.column))
        .chain(SESSION_SCOPED_KEYS.iter().copied())
}

/// The static text of a name the program knows, for keys read from a file (no allocation, and
/// [`key_info_of`] remembers it).
pub fn known_key(key: &str) -> Option<&'static str> {
    static KNOWN: std::sync::OnceLock<rustc_hash::FxHashSet<&'static str>> = std::sync::OnceLock::new();
    KNOWN.get_or_init(|| known_names().chain(["session_id"]).collect()).get(key).copied()
}

pub fn key_info(key: &str) -> KeyInfo {
    // Looked up for every key of every imported event: a fast hash for short keys.
    static KNOWN: std::sync::OnceLock<rustc_hash::FxHashMap<&'static str, KeyInfo>> = std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(|| {
        let mut map = rustc_hash::FxHashMap::default();
        for key in known_names() {
            map.insert(
                key,
                KeyInfo {
                    event_column: EVENT_COLUMNS.iter().position(|c| c.key == key),
                    session_scoped: is_session_scoped(key),
                    role: key_role(key),
                },
            );
        }
        map
    });
    match known.get(key) {
        Some(info) => *info,
        None => KeyInfo {
            event_column: None,
            session_scoped: SESSION_SCOPED_PREFIXES.iter().any(|p| key.starts_with(p)),
            role: key_role(key),
        },
    }
}

/// [`key_info`] of an event's key. Static keys (the names the readers know) are remembered by
/// address in a small direct-mapped table: the same few dozen come with every event. Callgrind,
/// 1k-session NDJSON import: the lookups went from 165 M instructions (hashing the text, 112 a
/// key) to about 125 M; a hash map by address had saved less.
pub fn key_info_of(key: &FieldKey) -> KeyInfo {
    use std::cell::Cell;
    const SLOTS: usize = 256;
    type Slot = Option<(usize, usize, KeyInfo)>;
    thread_local! {
        static BY_ADDRESS: [Cell<Slot>; SLOTS] = const { [const { Cell::new(None) }; SLOTS] };
    }
    match key {
        // Static text never changes, so its address and length name it.
        FieldKey::Borrowed(text) => {
            let (address, len) = (text.as_ptr() as usize, text.len());
            BY_ADDRESS.with(|slots| {
                let slot = &slots[(address >> 3) % SLOTS];
                match slot.get() {
                    Some((a, l, info)) if a == address && l == len => info,
                    _ => {
                        let info = key_info(text);
                        slot.set(Some((address, len, info)));
                        info
                    }
                }
            })
        }
        FieldKey::Owned(text) => key_info(text),
    }
}

pub fn is_session_scoped(key: &str) -> bool {
    session_attribute_for_key(key).is_some()
        || SESSION_SCOPED_KEYS.contains(&key)
        || SESSION_SCOPED_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// The path part of a URL: without scheme, host, query and fragment.
pub fn url_path(url: &str) -> String {
    url_path_of(url).to_string()
}

/// [`url_path`], borrowed from the URL. Byte searches (memchr) rather than `str` patterns:
/// every imported event with a URL comes here.
pub fn url_path_of(url: &str) -> &str {
    let bytes = url.as_bytes();
    let scheme_end = memchr::memmem::find(bytes, b"://").map(|i| i + 3);
    let path = match scheme_end {
        Some(start) => match memchr::memchr(b'/', bytes.get(start..).unwrap_or_default()) {
            Some(i) => url.get(start + i..).unwrap_or_default(),
            None => return "/",
        },
        None => url,
    };
    let end = memchr::memchr2(b'?', b'#', path.as_bytes()).unwrap_or(path.len());
    match path.get(..end) {
        Some("") | None => "/",
        Some(p) => p,
    }
}

/// Detects the unit of an epoch timestamp from its magnitude and returns milliseconds.
pub fn epoch_to_ms(value: i64) -> i64 {
    let magnitude = value.unsigned_abs();
    if magnitude < 100_000_000_000 {
        value.saturating_mul(1000) // seconds
    } else if magnitude < 100_000_000_000_000 {
        value // milliseconds
    } else if magnitude < 100_000_000_000_000_000 {
        value / 1000 // microseconds
    } else {
        value / 1_000_000 // nanoseconds
    }
}

#[cfg(test)]
mod key_info_tests {
    use super::*;

    #[test]
    fn key_info_agrees_with_the_tables() {
        for key in ["view_url", "browser", "userid", "user_id", "screen_size", "usr.plan", "geo.city", "note", "loading_time", "x.y"] {
            let info = key_info(key);
            assert_eq!(info.session_scoped, is_session_scoped(key), "{key}");
            assert_eq!(info.event_column, EVENT_COLUMNS.iter().position(|c| c.key == key), "{key}");
        }
    }

    #[test]
    fn key_info_of_a_static_or_owned_key_is_key_info() {
        // More static keys than the table has slots, twice: hits, misses and evictions.
        let statics: Vec<&'static str> = EVENT_COLUMNS
            .iter()
            .map(|c| c.key)
            .chain(SESSION_ATTRIBUTES.iter().flat_map(|a| [a.key, a.column]))
            .chain(SESSION_SCOPED_KEYS.iter().copied())
            .chain(["usr.plan", "note", "x.y", "", "view_url_path"])
            .collect();
        for _ in 0..2 {
            for key in &statics {
                assert_eq!(key_info_of(&FieldKey::Borrowed(key)), key_info(key), "{key}");
                assert_eq!(key_info_of(&FieldKey::Owned(key.to_string())), key_info(key), "{key}");
            }
        }
        // Two static keys sharing a prefix at one address differ by their length.
        let both: &'static str = "view_urlx";
        assert_eq!(key_info_of(&FieldKey::Borrowed(&both[..8])), key_info("view_url"));
        assert_eq!(key_info_of(&FieldKey::Borrowed(both)), key_info("view_urlx"));
        assert_eq!(key_info_of(&FieldKey::Borrowed(&both[..8])), key_info("view_url"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_path_strips_host_query_and_fragment() {
        assert_eq!(url_path("https://a.com/x/y?q=1#f"), "/x/y");
        assert_eq!(url_path("https://a.com"), "/");
        assert_eq!(url_path("http://localhost:5500/dist/"), "/dist/");
        assert_eq!(url_path("/already/path?x"), "/already/path");
        // As the `str`-pattern version it replaced, on odd shapes.
        fn reference(url: &str) -> String {
            let after_scheme = match url.find("://") {
                Some(i) => &url[i + 3..],
                None => url,
            };
            let path_start = if url.contains("://") { after_scheme.find('/') } else { Some(0) };
            let Some(i) = path_start else { return "/".to_string() };
            let path = &after_scheme[i..];
            let p = &path[..path.find(['?', '#']).unwrap_or(path.len())];
            if p.is_empty() { "/".to_string() } else { p.to_string() }
        }
        for url in ["", "/", "?", "#", "://", ":///", "?x://y/z", "a://b?c/d", "https://h/p#f?q", "https://h?q/x", "中文://主机/路径?q=中#f", "x/y://z/w", "https://h//double//"] {
            assert_eq!(url_path(url), reference(url), "{url:?}");
        }
    }

    #[test]
    fn epoch_precision_is_detected_from_magnitude() {
        assert_eq!(epoch_to_ms(1_636_524_705), 1_636_524_705_000);
        assert_eq!(epoch_to_ms(1_636_524_705_288), 1_636_524_705_288);
        assert_eq!(epoch_to_ms(1_636_524_705_288_123), 1_636_524_705_288);
        assert_eq!(epoch_to_ms(1_636_524_705_288_123_456), 1_636_524_705_288);
    }
}
