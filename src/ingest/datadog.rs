//! Datadog RUM events (`_dd.format_version: 2`) as NDJSON, a JSON array, a single event, or
//! the events-search API response `{"data":[{"attributes":{"attributes":{...}}}]}`.
//!
//! Nested keys are flattened with dots; the keys the explorer knows are renamed to the Guance
//! names (`error.message` is `error_message`), every other key is kept under its dotted name.

use super::json_scan;
use super::{ImportError, RecordSink};
use crate::model::{Event, FieldKey, FieldValue};
use serde_json::Value;
use std::io::BufRead;

/// True when the start of a JSON file looks like Datadog RUM events.
pub fn looks_like(start: &str) -> bool {
    let has = |key: &str| start.contains(&format!("\"{key}\""));
    (has("date") && (has("session") || has("application") || has("type")))
        || (has("data") && has("attributes"))
}

pub fn parse(reader: &mut dyn BufRead, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
    json_scan::json_records(reader, sink, &mut record)
}

/// One record's text, starting at `line`: its events go to the sink. Records are independent
/// of each other, so the lines of NDJSON can be read on several threads.
pub fn record(line: u64, bytes: &[u8], sink: &mut dyn RecordSink) -> Result<(), ImportError> {
    // Sinks that store take the record as a row read straight from the text (the import's hot
    // path); what that reader leaves, and sinks that keep events, come here as events.
    if sink.takes_prepared() {
        if let Some(prepared) = super::datadog_direct::prepare_record(bytes) {
            return sink.prepared_event(line, prepared);
        }
    }
    match fast_convert(bytes) {
        Some(event) => sink.event(line, event),
        // Everything the direct path does not take (API shapes, arrays, bad JSON, missing
        // `type`/`date`) goes through the tree, which also words the messages.
        None => match json_scan::parse_value(line, bytes, sink) {
            Some(value) => record_to_events(line, value, sink),
            None => Ok(()),
        },
    }
}

/// One JSON record: an event, an API response page, or an API `data` element.
fn record_to_events(line: u64, value: Value, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
    match value {
        Value::Object(mut map) => {
            if let Some(Value::Array(data)) = map.remove("data") {
                // An API response page on one line of an NDJSON file.
                for element in data {
                    record_to_events(line, element, sink)?;
                }
                return Ok(());
            }
            match convert(Value::Object(map)) {
                Ok(event) => sink.event(line, event),
                Err(reason) => {
                    sink.skipped(line, reason);
                    Ok(())
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.into_iter().enumerate() {
                if matches!(item, Value::Object(_) | Value::Array(_)) {
                    record_to_events(line, item, sink)?;
                } else {
                    // Several records share the line: say which one.
                    let found = json_type(&item);
                    sink.skipped(line, format!("element {} of the array: expected a JSON object (an event), found {found}", index + 1));
                }
            }
            Ok(())
        }
        other => {
            sink.skipped(line, format!("expected a JSON object (an event), found {}", json_type(&other)));
            Ok(())
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Datadog's flattened keys and their Guance names; the third item limits an entry to one kind.
/// At most 64 entries (the direct path keeps a bit per entry).
pub const KEY_MAP: &[(&str, &str, Option<&str>)] = &[
    ("application.id", "app_id", None),
    ("session.id", "session_id", None),
    ("session.type", "session_type", None),
    ("view.id", "view_id", None),
    ("view.url", "view_url", None),
    ("view.referrer", "view_referrer", None),
    ("view.name", "view_name", None),
    ("view.loading_type", "view_loading_type", None),
    ("view.loading_time", "loading_time", None),
    ("view.first_contentful_paint", "first_contentful_paint", None),
    ("view.largest_contentful_paint", "largest_contentful_paint", None),
    ("view.cumulative_layout_shift", "cumulative_layout_shift", None),
    ("view.first_input_delay", "first_input_delay", None),
    ("view.interaction_to_next_paint", "interaction_to_next_paint", None),
    ("view.first_byte", "first_byte", None),
    ("view.dom_interactive", "dom_interactive", None),
    ("view.dom_content_loaded", "dom_content_loaded", None),
    ("view.dom_complete", "dom_complete", None),
    ("view.load_event", "load_event", None),
    ("view.time_spent", "time_spent", None),
    ("view.action.count", "view_action_count", None),
    ("view.error.count", "view_error_count", None),
    ("view.resource.count", "view_resource_count", None),
    ("view.long_task.count", "view_long_task_count", None),
    ("view.frustration.count", "view_frustration_count", None),
    ("usr.id", "userid", None),
    ("usr.name", "user_name", None),
    ("usr.email", "user_email", None),
    ("os.name", "os", None),
    ("os.version", "os_version", None),
    ("os.version_major", "os_version_major", None),
    ("browser.name", "browser", None),
    ("browser.version", "browser_version", None),
    ("device.type", "device", None),
    ("geo.country", "country", None),
    ("geo.city", "city", None),
    ("connectivity.effective_type", "network_type", None),
    ("action.id", "action_id", None),
    ("action.type", "action_type", None),
    ("action.target.name", "action_name", None),
    ("action.loading_time", "duration", Some("action")),
    ("action.frustration.type", "action_frustration_types", None),
    ("action.error.count", "action_error_count", None),
    ("action.resource.count", "action_resource_count", None),
    ("action.long_task.count", "action_long_task_count", None),
    ("error.id", "error_id", None),
    ("error.message", "error_message", None),
    ("error.stack", "error_stack", None),
    ("error.source", "error_source", None),
    ("error.type", "error_type", None),
    ("error.handling", "error_handling", None),
    ("error.causes", "error_causes", None),
    ("resource.id", "resource_id", None),
    ("resource.type", "resource_type", None),
    ("resource.method", "resource_method", None),
    ("resource.url", "resource_url", None),
    ("resource.status_code", "resource_status", None),
    ("resource.duration", "duration", Some("resource")),
    ("resource.size", "resource_size", None),
    ("long_task.id", "long_task_id", None),
    ("long_task.duration", "duration", Some("long_task")),
    ("long_task.blocking_duration", "blocking_duration", None),
];

/// Flattened Datadog key to its entry in [`KEY_MAP`].
type KeyIndex = rustc_hash::FxHashMap<&'static str, usize>;

fn forward_index() -> &'static KeyIndex {
    static INDEX: std::sync::OnceLock<KeyIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| KEY_MAP.iter().enumerate().map(|(entry, (dotted, _, _))| (*dotted, entry)).collect())
}

/// The Guance name of a flattened Datadog key, where the explorer has one.
pub fn canonical_key(kind: &str, key: &str) -> Option<&'static str> {
    canonical_entry(kind, key).map(|entry| KEY_MAP[entry].1)
}

/// The Guance name of a flattened Datadog key that is renamed on every kind of event (a
/// query names no kind: `resource.duration`, renamed on resources only, is not one).
pub fn canonical_key_on_every_kind(key: &str) -> Option<&'static str> {
    forward_index().get(key).map(|entry| KEY_MAP[*entry]).filter(|(_, _, only)| only.is_none()).map(|(_, canonical, _)| canonical)
}

/// The [`KEY_MAP`] entry that renames a flattened key on an event of `kind`.
fn canonical_entry(kind: &str, key: &str) -> Option<usize> {
    forward_index().get(key).copied().filter(|entry| renames_on(*entry, kind))
}

/// Whether a [`KEY_MAP`] entry renames its key on an event of `kind` (some only on one kind).
pub(super) fn renames_on(entry: usize, kind: &str) -> bool {
    KEY_MAP[entry].2.is_none_or(|only| only == kind)
}

/// The Datadog key for a Guance name on an event of `kind` (the generator writes with it).
pub fn datadog_key(kind: &str, canonical: &str) -> Option<&'static str> {
    KEY_MAP
        .iter()
        .find(|(_, c, only)| *c == canonical && only.is_none_or(|k| k == kind))
        .map(|(dotted, _, _)| *dotted)
}

/// Converts one record straight from its text, flattening as it reads instead of building a
/// tree first (the import's hot path). Gives the same event as [`convert`]; None when the
/// record needs the general path: not a plain event object, a key repeated within an object,
/// or something wrong with it.
pub fn fast_convert(bytes: &[u8]) -> Option<Event> {
    use serde::de::DeserializeSeed;
    let mut top = TopLevel { kind: None, date: None, maybe_api_shape: false, flat: Flat::with_capacity() };
    // One UTF-8 check of the whole record is cheaper than serde_json's check of each string.
    let text = std::str::from_utf8(bytes).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    TopLevelSeed(&mut top).deserialize(&mut de).ok()?;
    de.end().ok()?;
    if top.maybe_api_shape || top.flat.repeated_key {
        return None;
    }
    let kind = match top.kind? {
        Value::String(kind) if !kind.is_empty() => kind,
        _ => return None,
    };
    let time_ms = event_time_ms(&top.date?).ok()?;
    let (kind, partial) = if kind == "view_update" { ("view".to_string(), true) } else { (kind, false) };
    let mut event = Event::new(kind, time_ms);
    event.is_partial_update = partial;
    event.fields.reserve(top.flat.fields.len());
    // As `convert`, which sets renamed keys (replacing an earlier key of that name), but the
    // search is skipped when nothing earlier can have the name: names have no dot, and each
    // renaming entry is noted once it was used.
    let mut entries_used: u64 = 0;
    // Kept keys without a dot (`env`, `service`, …): the only ones a renamed key can meet.
    let mut undotted_kept: Vec<usize> = Vec::new();
    for (key, entry, field) in top.flat.fields {
        let entry = entry.filter(|entry| renames_on(*entry, &event.kind));
        match entry {
            Some(entry) => {
                let canonical = KEY_MAP[entry].1;
                let may_exist = entries_used & (1 << entry) != 0 || undotted_kept.iter().any(|i| event.fields[*i].0 == canonical);
                if may_exist {
                    event.set(canonical, field);
                } else {
                    entries_used |= 1 << entry;
                    event.fields.push((canonical.into(), field));
                }
            }
            None => {
                if !key.contains('.') {
                    undotted_kept.push(event.fields.len());
                }
                event.fields.push((key, field));
            }
        }
    }
    Some(event)
}

/// Takes a top-level entry out of the flattening: gets the key and the map to read its value
/// from; returns true when it read the value.
type SpecialEntry<'a, A, E> = dyn FnMut(&str, &mut A) -> Result<bool, E> + 'a;

/// A flattened field: its dotted key (static when [`KEY_MAP`] names it, with that entry).
type FlatField = (FieldKey, Option<usize>, FieldValue);

/// Flattened fields as they are read, with the dotted key being read.
#[derive(Default)]
struct Flat {
    prefix: String,
    fields: Vec<FlatField>,
    /// An object gave a key twice: the tree keeps the last copy only, so the record takes the
    /// general path.
    repeated_key: bool,
    /// The keys of the objects being read (a stack: each level appends, then truncates).
    keys: String,
    /// Per entry of the objects being read: its key as a range of `keys`, and where its
    /// fields start (a stack like `keys`).
    entries: Vec<(usize, usize, usize)>,
}

impl Flat {
    fn with_capacity() -> Flat {
        Flat {
            prefix: String::with_capacity(128),
            fields: Vec::with_capacity(96),
            repeated_key: false,
            keys: String::with_capacity(1024),
            entries: Vec::with_capacity(128),
        }
    }

    fn push(&mut self, value: FieldValue) {
        // A key the map names is its static text: no allocation for most keys.
        let field = match forward_index().get(self.prefix.as_str()) {
            Some(&entry) => (FieldKey::Borrowed(KEY_MAP[entry].0), Some(entry), value),
            None => (FieldKey::Owned(self.prefix.clone()), None, value),
        };
        self.fields.push(field);
    }

    /// Reads an object's entries under the current prefix. `special` may take a top-level
    /// entry for itself (returns true when it read the value). The fields come out in the
    /// order the tree visits them, by key at each level, so later keys win exactly as there.
    /// Returns how many entries were flattened.
    fn read_object<'de, A: serde::de::MapAccess<'de>>(
        &mut self,
        map: &mut A,
        special: &mut SpecialEntry<'_, A, A::Error>,
    ) -> Result<usize, A::Error> {
        let base = self.prefix.len();
        let first_field = self.fields.len();
        let (keys_base, entries_base) = (self.keys.len(), self.entries.len());
        loop {
            if base > 0 {
                self.prefix.push('.');
            }
            let key_start = self.prefix.len();
            if map.next_key_seed(KeySeed(&mut self.prefix))?.is_none() {
                self.prefix.truncate(base);
                break;
            }
            if base == 0 && special(&self.prefix, map)? {
                self.prefix.truncate(base);
                continue;
            }
            let start = self.keys.len();
            self.keys.push_str(&self.prefix[key_start..]);
            self.entries.push((start, self.keys.len(), self.fields.len()));
            map.next_value_seed(FlattenSeed(self))?;
            self.prefix.truncate(base);
        }
        let count = self.entries.len() - entries_base;
        self.order_level(first_field, entries_base);
        self.keys.truncate(keys_base);
        self.entries.truncate(entries_base);
        Ok(count)
    }

    /// Puts the fields of one object level in key order (they usually are already).
    fn order_level(&mut self, first_field: usize, entries_base: usize) {
        let keys = &self.keys;
        let entries = &self.entries[entries_base..];
        let key = |e: &(usize, usize, usize)| &keys[e.0..e.1];
        if entries.windows(2).all(|pair| key(&pair[0]) < key(&pair[1])) {
            return;
        }
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|a, b| key(&entries[*a]).cmp(key(&entries[*b])));
        if order.windows(2).any(|pair| key(&entries[pair[0]]) == key(&entries[pair[1]])) {
            self.repeated_key = true;
            return;
        }
        let mut read: Vec<Option<FlatField>> = self.fields.drain(first_field..).map(Some).collect();
        for index in order {
            let start = entries[index].2 - first_field;
            let end = entries.get(index + 1).map_or(read.len(), |next| next.2 - first_field);
            self.fields.extend(read[start..end].iter_mut().filter_map(Option::take));
        }
    }
}

struct TopLevel {
    kind: Option<Value>,
    date: Option<Value>,
    /// `data` or `attributes` at the top: maybe an API response or element.
    maybe_api_shape: bool,
    flat: Flat,
}

struct TopLevelSeed<'a>(&'a mut TopLevel);

impl<'de> serde::de::DeserializeSeed<'de> for TopLevelSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TopLevelSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an event object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let TopLevel { kind, date, maybe_api_shape, flat } = self.0;
        let read = flat.read_object(&mut map, &mut |key, map| {
            match key {
                "type" => *kind = Some(map.next_value()?),
                "date" => *date = Some(map.next_value()?),
                "data" | "attributes" => {
                    *maybe_api_shape = true;
                    return Ok(false);
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if read == 0 {
            // The tree keeps an event with no other keys as an empty object under the empty key.
            flat.push(FieldValue::Str("{}".into()));
        }
        Ok(())
    }
}

/// Appends an object key to the dotted prefix.
struct KeySeed<'a>(&'a mut String);

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, key: &str) -> Result<(), E> {
        self.0.push_str(key);
        Ok(())
    }
}

/// Flattens the value under the prefix, as [`flatten`] and `FieldValue::from_json` do.
struct FlattenSeed<'a>(&'a mut Flat);

impl<'de> serde::de::DeserializeSeed<'de> for FlattenSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FlattenSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.push(FieldValue::Bool(v));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.push(FieldValue::Int(v));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push(match i64::try_from(v) {
            Ok(v) => FieldValue::Int(v),
            Err(_) => FieldValue::Float(v as f64),
        });
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.push(FieldValue::Float(v));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(FieldValue::Str(v.to_owned()));
        Ok(())
    }
    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.0.push(FieldValue::Str(v));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // Arrays are kept whole, as the JSON text the tree prints.
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        self.0.push(FieldValue::Str(Value::Array(items).to_string()));
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.0.read_object(&mut map, &mut |_, _| Ok(false))? == 0 {
            self.0.push(FieldValue::Str("{}".into()));
        }
        Ok(())
    }
}

fn flatten(prefix: &str, value: Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_string(), other)),
    }
}

/// The event time: `date` in ms (numbers, numeric text and ISO text are accepted).
pub(super) fn event_time_ms(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(crate::model::epoch_to_ms)
            .ok_or_else(|| format!("`date` {n} is not a usable time")),
        Value::String(s) => crate::timeparse::parse_datetime_ms(s)
            .ok_or_else(|| format!("`date` should be milliseconds since the epoch but is the text {s:?}")),
        other => Err(format!("`date` should be milliseconds since the epoch but is {}", json_type(other))),
    }
}

/// Converts one Datadog event (or one API `data` element) to the canonical model.
pub fn convert(value: Value) -> Result<Event, String> {
    let Value::Object(mut map) = value else {
        return Err(format!("expected a JSON object (an event), found {}", json_type(&value)));
    };
    // An events-search API element: the event is under attributes.attributes.
    if map.get("type").and_then(Value::as_str) == Some("rum") {
        if let Some(Value::Object(mut outer)) = map.remove("attributes") {
            let mut inner = match outer.remove("attributes") {
                Some(Value::Object(inner)) => inner,
                _ => return Err("API element has no attributes.attributes object".into()),
            };
            if !inner.contains_key("date") {
                if let Some(ts) = outer.remove("timestamp") {
                    inner.insert("date".into(), ts);
                }
            }
            for (k, v) in outer {
                inner.entry(k).or_insert(v);
            }
            map = inner;
        }
    }
    let kind = match map.remove("type") {
        Some(Value::String(kind)) if !kind.is_empty() => kind,
        Some(other) => return Err(format!("`type` should be the event kind as text but is {}", json_type(&other))),
        None => return Err("no `type` (the event kind)".into()),
    };
    let time_ms = match map.remove("date") {
        Some(date) => event_time_ms(&date)?,
        None => return Err("no `date` (the event time)".into()),
    };
    let (kind, partial) = if kind == "view_update" { ("view".to_string(), true) } else { (kind, false) };
    let mut flat = Vec::with_capacity(64);
    flatten("", Value::Object(map), &mut flat);
    let mut event = Event::new(kind, time_ms);
    event.is_partial_update = partial;
    event.fields.reserve(flat.len());
    for (key, value) in flat {
        let Some(field) = FieldValue::from_json(&value) else { continue };
        match canonical_key(&event.kind, &key) {
            Some(canonical) => event.set(canonical, field),
            None => event.fields.push((key.into(), field)),
        }
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::CollectSink;

    #[test]
    fn key_map_fits_the_direct_path() {
        // A bit per entry; renamed keys have no dot; on any one kind, no two entries give the
        // same name (the direct path relies on all three).
        assert!(KEY_MAP.len() <= 64);
        assert!(KEY_MAP.iter().all(|(_, canonical, _)| !canonical.contains('.')));
        for kind in ["view", "action", "error", "resource", "long_task", "other"] {
            let mut names: Vec<&str> =
                KEY_MAP.iter().filter(|(_, _, only)| only.is_none_or(|k| k == kind)).map(|(_, c, _)| *c).collect();
            let all = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), all, "{kind}");
        }
    }

    #[test]
    fn flattens_and_renames() {
        let event = convert(serde_json::json!({
            "type": "error", "date": 1591284175342u64,
            "session": {"id": "s1", "type": "user"},
            "error": {"message": "boom", "source": "source", "causes": [{"message": "x"}]},
            "context": {"cart": {"items": 3}},
        }))
        .expect("converts");
        assert_eq!(event.kind, "error");
        assert_eq!(event.time_ms, 1_591_284_175_342);
        assert_eq!(event.get_str("session_id"), Some("s1"));
        assert_eq!(event.get_str("error_message"), Some("boom"));
        assert_eq!(event.get("context.cart.items"), Some(&FieldValue::Int(3)));
        assert_eq!(event.get_str("error_causes"), Some(r#"[{"message":"x"}]"#));
    }

    #[test]
    fn wrong_types_are_reasons_not_panics() {
        assert!(convert(serde_json::json!({"type": "view", "date": "soon"})).unwrap_err().contains("date"));
        assert!(convert(serde_json::json!({"type": 3, "date": 1})).unwrap_err().contains("type"));
        assert!(convert(serde_json::json!([1, 2])).unwrap_err().contains("object"));
    }

    #[test]
    fn api_response_shape() {
        let text = r#"{"data":[{"id":"a","type":"rum","attributes":{"timestamp":"2020-06-04T15:27:08.705Z","service":"web","attributes":{"type":"action","session":{"id":"s"},"action":{"id":"x","type":"click"}}}}],"links":{}}"#;
        let mut sink = CollectSink::default();
        parse(&mut std::io::Cursor::new(text.as_bytes().to_vec()), &mut sink).expect("parse");
        assert!(sink.problems.is_empty(), "{:?}", sink.problems);
        assert_eq!(sink.events.len(), 1);
        let event = &sink.events[0].1;
        assert_eq!(event.kind, "action");
        assert_eq!(event.time_ms, 1_591_284_428_705);
        assert_eq!(event.get_str("service"), Some("web"));
    }
}
