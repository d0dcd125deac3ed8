//! The import's hot path for Datadog RUM NDJSON: one record's text straight to a prepared row,
//! without an [`Event`](crate::model::Event) on the way. Flattened keys are found in a tree of
//! the known keys as they are read (not looked up whole once per value, then again per field),
//! and strings stay borrowed from the text until they are stored.
//!
//! Gives the row `datadog::fast_convert` followed by `writer::prepare` gives, or None: then the
//! record takes that path, which handles every odd case (a key twice, keys with dots, a value
//! that should be a number, no session, the API shapes) and words the messages.

use super::datadog::{event_time_ms, renames_on, KEY_MAP};
use crate::model::{key_info, KeyInfo, ValueRef};
use crate::store::writer::{prepare_fields, DirectField, PreparedEvent};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

/// The dotted keys of [`KEY_MAP`] as a tree: a node per key prefix; node 0 is the top level.
struct KeyTree {
    nodes: Vec<KeyNode>,
    /// Per entry of [`KEY_MAP`]: what its renamed key is, and what its dotted key is.
    infos: Vec<(KeyInfo, KeyInfo)>,
    /// Names a kept key without a dot must not have: the general path then decides which of
    /// two fields of one name wins.
    reserved: FxHashSet<&'static str>,
}

#[derive(Default)]
struct KeyNode {
    children: FxHashMap<&'static str, usize>,
    entry: Option<usize>,
}

fn key_tree() -> &'static KeyTree {
    static TREE: OnceLock<KeyTree> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut nodes = vec![KeyNode::default()];
        for (entry, (dotted, _, _)) in KEY_MAP.iter().enumerate() {
            let mut node = 0;
            for part in dotted.split('.') {
                node = match nodes[node].children.get(part) {
                    Some(&child) => child,
                    None => {
                        nodes.push(KeyNode::default());
                        let child = nodes.len() - 1;
                        nodes[node].children.insert(part, child);
                        child
                    }
                };
            }
            nodes[node].entry = Some(entry);
        }
        let infos = KEY_MAP.iter().map(|(dotted, canonical, _)| (key_info(canonical), key_info(dotted))).collect();
        let reserved = KEY_MAP.iter().map(|(_, canonical, _)| *canonical).chain(["session_id", "view_path"]).collect();
        KeyTree { nodes, infos, reserved }
    })
}

/// A value as read: text borrowed from the record where it has no escapes.
enum Leaf<'de> {
    Str(Cow<'de, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Leaf<'_> {
    fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            Leaf::Str(text) => ValueRef::Str(text),
            Leaf::Int(v) => ValueRef::Int(*v),
            Leaf::Float(v) => ValueRef::Float(*v),
            Leaf::Bool(v) => ValueRef::Bool(*v),
        }
    }
}

/// A flattened key: a [`KEY_MAP`] entry, or a dotted key kept as a range of `Reader::paths`.
enum LeafKey {
    Entry(usize),
    Path(usize, usize),
}

/// Why reading stopped early: the record needs the general path.
const GENERAL_PATH: &str = "the record takes the general path";

struct Reader<'de> {
    tree: &'static KeyTree,
    leaves: Vec<(LeafKey, Leaf<'de>)>,
    /// The dotted key of the value being read.
    path: String,
    /// The dotted keys of the leaves no entry names, one after another.
    paths: String,
    /// The keys of the objects being read (a stack: each level appends, then truncates).
    level_keys: Vec<&'de str>,
    kind: Option<Cow<'de, str>>,
    date: Option<serde_json::Value>,
}

impl<'de> Reader<'de> {
    fn push(&mut self, node: Option<usize>, leaf: Leaf<'de>) {
        let key = match node.and_then(|node| self.tree.nodes[node].entry) {
            Some(entry) => LeafKey::Entry(entry),
            None => {
                let start = self.paths.len();
                self.paths.push_str(&self.path);
                LeafKey::Path(start, self.paths.len())
            }
        };
        self.leaves.push((key, leaf));
    }

    /// Reads an object's entries under the current path; returns how many it had.
    fn read_object<A: MapAccess<'de>>(&mut self, map: &mut A, node: Option<usize>, top_level: bool) -> Result<usize, A::Error> {
        let base = self.path.len();
        let keys_base = self.level_keys.len();
        let mut count = 0;
        while let Some(key) = map.next_key_seed(BorrowedKey)? {
            // A key with escapes or a dot, or an API shape: the general path words those.
            let Some(key) = key.filter(|key| !key.contains('.')) else { return Err(A::Error::custom(GENERAL_PATH)) };
            if top_level {
                match key {
                    "type" if self.kind.is_none() => {
                        let kind: Cow<'de, str> = map.next_value_seed(TextSeed)?;
                        self.kind = Some(kind);
                        continue;
                    }
                    "date" if self.date.is_none() => {
                        self.date = Some(map.next_value()?);
                        continue;
                    }
                    "type" | "date" | "data" | "attributes" => return Err(A::Error::custom(GENERAL_PATH)),
                    _ => {}
                }
            }
            self.level_keys.push(key);
            count += 1;
            if base > 0 {
                self.path.push('.');
            }
            self.path.push_str(key);
            let child = node.and_then(|node| self.tree.nodes[node].children.get(key).copied());
            map.next_value_seed(ValueSeed { reader: self, node: child })?;
            self.path.truncate(base);
        }
        // A key twice in one object: the general path keeps the last copy only.
        let keys = &mut self.level_keys[keys_base..];
        if !keys.windows(2).all(|pair| pair[0] < pair[1]) {
            keys.sort_unstable();
            if keys.windows(2).any(|pair| pair[0] == pair[1]) {
                return Err(A::Error::custom(GENERAL_PATH));
            }
        }
        self.level_keys.truncate(keys_base);
        Ok(count)
    }
}

/// One record's text to its prepared row; None when it needs the general path.
pub fn prepare_record(bytes: &[u8]) -> Option<PreparedEvent> {
    let text = std::str::from_utf8(bytes).ok()?;
    let tree = key_tree();
    let mut reader = Reader {
        tree,
        leaves: Vec::with_capacity(64),
        path: String::with_capacity(64),
        paths: String::with_capacity(256),
        level_keys: Vec::with_capacity(64),
        kind: None,
        date: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let read = TopLevelSeed(&mut reader).deserialize(&mut de).ok()?;
    de.end().ok()?;
    if read == 0 {
        return None; // the general path keeps an event with no other keys as `{}`
    }
    let kind = match reader.kind? {
        Cow::Borrowed("view_update") => "view".to_string(),
        kind if !kind.is_empty() && kind != "view_update" => kind.into_owned(),
        _ => return None,
    };
    let time_ms = event_time_ms(&reader.date?).ok()?;
    let mut fields = Vec::with_capacity(reader.leaves.len());
    for (key, leaf) in &reader.leaves {
        let (key, info) = match *key {
            LeafKey::Entry(entry) if renames_on(entry, &kind) => (KEY_MAP[entry].1, tree.infos[entry].0),
            LeafKey::Entry(entry) => (KEY_MAP[entry].0, tree.infos[entry].1),
            LeafKey::Path(start, end) => {
                let key = &reader.paths[start..end];
                if tree.reserved.contains(key) {
                    return None;
                }
                (key, key_info(key))
            }
        };
        fields.push(DirectField { key, value: leaf.as_value_ref(), info });
    }
    prepare_fields(kind, time_ms, &fields)
}

struct TopLevelSeed<'r, 'de>(&'r mut Reader<'de>);

impl<'de> DeserializeSeed<'de> for TopLevelSeed<'_, 'de> {
    type Value = usize;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevelSeed<'_, 'de> {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        self.0.read_object(&mut map, Some(0), true)
    }
}

/// An object key, when the text has it without escapes (then it borrows from the record).
struct BorrowedKey;

impl<'de> DeserializeSeed<'de> for BorrowedKey {
    type Value = Option<&'de str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for BorrowedKey {
    type Value = Option<&'de str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Some(key))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// The event kind: text, borrowed where it can be.
struct TextSeed;

impl<'de> DeserializeSeed<'de> for TextSeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TextSeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("text")
    }
    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(text))
    }
    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(text.to_owned()))
    }
}

/// Reads one value under the reader's path: leaves are kept, objects flattened, arrays kept
/// whole as the JSON text the general path prints.
struct ValueSeed<'r, 'de> {
    reader: &'r mut Reader<'de>,
    node: Option<usize>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.reader.push(self.node, Leaf::Bool(v));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.reader.push(self.node, Leaf::Int(v));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        let leaf = match i64::try_from(v) {
            Ok(v) => Leaf::Int(v),
            Err(_) => Leaf::Float(v as f64),
        };
        self.reader.push(self.node, leaf);
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.reader.push(self.node, Leaf::Float(v));
        Ok(())
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.reader.push(self.node, Leaf::Str(Cow::Borrowed(v)));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.reader.push(self.node, Leaf::Str(Cow::Owned(v.to_owned())));
        Ok(())
    }
    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.reader.push(self.node, Leaf::Str(Cow::Owned(v)));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<serde_json::Value>()? {
            items.push(item);
        }
        self.reader.push(self.node, Leaf::Str(Cow::Owned(serde_json::Value::Array(items).to_string())));
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.reader.read_object(&mut map, self.node, false)? == 0 {
            self.reader.push(self.node, Leaf::Str(Cow::Borrowed("{}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::datadog::{convert, fast_convert};
    use crate::store::writer::prepare;

    /// The general path's row for a record.
    fn general_row(text: &str) -> Option<PreparedEvent> {
        let event = match fast_convert(text.as_bytes()) {
            Some(event) => event,
            None => convert(serde_json::from_str(text).ok()?).ok()?,
        };
        prepare(event).ok()
    }

    /// Whether the direct path took the record; when it did, its row is the general path's.
    fn took_the_same_row(text: &str) -> bool {
        let Some(direct) = prepare_record(text.as_bytes()) else { return false };
        let general = general_row(text).unwrap_or_else(|| panic!("the general path skips what the direct one took: {text}"));
        assert!(direct.same_row_as(&general), "{text}\ndirect:  {direct:?}\ngeneral: {general:?}");
        true
    }

    #[test]
    fn generated_events_take_the_direct_path_with_the_same_rows() {
        let mut rng = crate::generate::Rng::new(11);
        let mut checked = 0;
        for _ in 0..30 {
            for event in crate::generate::session_events(&mut rng) {
                let version = (event.kind == "view").then_some(5);
                let text = crate::generate::to_datadog_json(&event, version).to_string();
                assert!(took_the_same_row(&text), "not taken: {text}");
                checked += 1;
            }
        }
        assert!(checked > 300, "{checked}");
    }

    const SESSION: &str = r#""session":{"id":"s1","type":"user"}"#;

    #[test]
    fn odd_but_common_shapes_take_the_direct_path_with_the_same_rows() {
        let records = [
            // Keys out of order at every level, as real exports have them.
            format!(r#"{{"view":{{"url":"https://a.example/p?q=1","id":"v1","loading_time":5}},"type":"view","date":1700000000000,{SESSION},"usr":{{"name":"N","id":"u"}}}}"#),
            // Escapes in values, arrays, an empty object, null, a float, a big number, a bool.
            format!(r#"{{"type":"error","date":1700000000001,{SESSION},"error":{{"message":"a \"quoted\" \u00e9 \\ line\n","causes":[{{"m":1.50}},null,"x"],"source":"console"}},"context":{{"empty":{{}},"gone":null,"ratio":0.1,"huge":18446744073709551615,"flag":true,"list":[]}}}}"#),
            // No id: the identity is the content; kind-limited renames on another kind stay dotted.
            format!(r#"{{"type":"resource","date":1700000000002,{SESSION},"resource":{{"url":"https://a.example/api","duration":12,"status_code":"200"}},"action":{{"loading_time":7}},"view":{{"url":"https://a.example"}}}}"#),
            // A partial update, the document version, a number as text in a number column.
            format!(r#"{{"type":"view_update","date":"2024-01-02T03:04:05.678Z",{SESSION},"_dd":{{"document_version":3}},"view":{{"id":"v1","time_spent":"900","url":"/relative/path#x"}}}}"#),
            // A kind the explorer has no column set for; seconds for the date.
            format!(r#"{{"type":"vital","date":1700000000,{SESSION},"vital":{{"name":"x","value":2.5}},"display":{{"viewport":{{"width":3}}}}}}"#),
            // An event whose only other key is a session one.
            format!(r#"{{"type":"action","date":1700000000003,{SESSION}}}"#),
            // A number where text is kept, and a text column given a number.
            format!(r#"{{"type":"action","date":1700000000004,{SESSION},"action":{{"id":7,"target":{{"name":12.5}},"type":"click"}}}}"#),
        ];
        for text in &records {
            assert!(took_the_same_row(text), "not taken: {text}");
        }
    }

    #[test]
    fn what_the_general_path_decides_is_left_to_it() {
        let records = [
            // A key twice in one object (the tree keeps the last), at the top and below.
            format!(r#"{{"type":"view","date":1,{SESSION},"env":"a","env":"b"}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"view":{{"id":"a"}},"view":{{"url":"b"}}}}"#),
            // A kept key with a renamed key's name; a dotted key; an escaped key.
            format!(r#"{{"type":"view","date":1,{SESSION},"userid":"x","usr":{{"id":"y"}}}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"view.id":"x"}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"k\u0065y":"x"}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"view_path":"/mine"}}"#),
            // Text where a number belongs (kept with a warning), no session, bad kind or date.
            format!(r#"{{"type":"view","date":1,{SESSION},"view":{{"loading_time":"slow"}}}}"#),
            r#"{"type":"view","date":1,"view":{"id":"v"}}"#.to_string(),
            format!(r#"{{"type":3,"date":1,{SESSION}}}"#),
            format!(r#"{{"type":"","date":1,{SESSION}}}"#),
            format!(r#"{{"type":"view","date":"soon",{SESSION}}}"#),
            format!(r#"{{"type":"view",{SESSION}}}"#),
            // The API shapes, arrays, an event with no other keys, broken JSON.
            r#"{"data":[{"type":"rum","attributes":{"attributes":{"type":"view"}}}]}"#.to_string(),
            r#"[{"type":"view","date":1}]"#.to_string(),
            r#"{"type":"view","date":1}"#.to_string(),
            format!(r#"{{"type":"view","date":1,{SESSION}"#),
        ];
        for text in &records {
            assert!(prepare_record(text.as_bytes()).is_none(), "taken: {text}");
        }
    }

    #[test]
    fn real_datadog_events_take_the_direct_path_with_the_same_rows() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/third_party/datadog-rum-events-format");
        let Ok(entries) = std::fs::read_dir(&folder) else {
            eprintln!("{} is missing: the third-party fixtures are not beside this clone; skipped", folder.display());
            return;
        };
        let mut taken = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            // Each file is one event, printed over many lines: the direct path reads it whole.
            if took_the_same_row(&text) {
                taken += 1;
            }
        }
        // The files with a session id (all but the stream and vital samples, which lack one).
        assert!(taken >= 8, "{taken} of the real events took the direct path");
    }
}
