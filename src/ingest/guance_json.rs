//! Guance DataKit JSON write body: `[{"measurement": "view", "tags": {...}, "fields": {...},
//! "time": 1636524705288}]`, as a JSON array or one point per line.

use super::json_scan;
use super::{ImportError, RecordSink};
use crate::model::{epoch_to_ms, Event, FieldValue};
use serde_json::Value;
use std::io::BufRead;

/// True when the start of a JSON file looks like DataKit points.
pub fn looks_like(start: &str) -> bool {
    start.contains("\"measurement\"") && (start.contains("\"fields\"") || start.contains("\"tags\""))
}

/// On one thread (a pretty-printed or one-line document; arrays of lines and NDJSON are read on
/// several, see `ingest::import_file`): each record as `record` reads it.
pub fn parse(reader: &mut dyn BufRead, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
    json_scan::json_records(reader, sink, &mut record)
}

/// One record's text (a point, or an array of them), starting at `line`: records are
/// independent, so a file's records can be read on several threads.
pub fn record(line: u64, bytes: &[u8], sink: &mut dyn RecordSink) -> Result<(), ImportError> {
    // Sinks that store take the point as a row read straight from the text (the import's hot
    // path); what that reader leaves, and sinks that keep events, come here as events.
    if sink.takes_prepared() {
        if let Some(prepared) = super::guance_json_direct::prepare_point(bytes) {
            return sink.prepared_event(line, prepared);
        }
    }
    if let Some(event) = direct::point(bytes) {
        return sink.event(line, event);
    }
    // Anything else (an array of points, a point with a problem, text that is not JSON) goes
    // through the tree, which also words the message.
    match json_scan::parse_value(line, bytes, sink) {
        Some(value) => point_values(line, value, sink),
        None => Ok(()),
    }
}

fn point_values(line: u64, value: Value, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
    if let Value::Array(points) = value {
        for point in points {
            point_values(line, point, sink)?;
        }
        return Ok(());
    }
    match convert(value) {
        Ok(event) => sink.event(line, event),
        Err(reason) => {
            sink.skipped(line, reason);
            Ok(())
        }
    }
}

/// Converts one point. Tags and fields are one key space; fields win a clash.
pub fn convert(value: Value) -> Result<Event, String> {
    let Value::Object(mut map) = value else { return Err("expected a JSON object (a point)".into()) };
    let measurement = match map.remove("measurement") {
        Some(Value::String(m)) if !m.is_empty() => m,
        Some(_) => return Err("`measurement` should be the event kind as text".into()),
        None => return Err("no `measurement` (the event kind)".into()),
    };
    let time_ms = match map.remove("time") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(epoch_to_ms)
            .ok_or_else(|| format!("`time` {n} is not a usable time"))?,
        Some(Value::String(s)) => crate::timeparse::parse_datetime_ms(&s)
            .ok_or_else(|| format!("`time` should be an epoch number but is the text {s:?}"))?,
        Some(_) => return Err("`time` should be an epoch number".into()),
        None => return Err("no `time` (the point's timestamp)".into()),
    };
    let mut event = Event::new(measurement, time_ms);
    for section in ["tags", "fields"] {
        match map.remove(section) {
            Some(Value::Object(values)) => {
                for (key, value) in values {
                    if let Some(field) = FieldValue::from_json(&value) {
                        event.set(key, field);
                    }
                }
            }
            Some(Value::Null) | None => {}
            Some(_) => return Err(format!("`{section}` should be an object of key: value")),
        }
    }
    // Anything else beside the four known keys is kept too.
    for (key, value) in map {
        if let Some(field) = FieldValue::from_json(&value) {
            event.set(key, field);
        }
    }
    Ok(event)
}

/// A point read straight into an event, without the tree of values `convert` takes (a map
/// per point and per section, then the event built from it key by key): the same event,
/// fields in the same order, for every point `convert` accepts; None for anything else.
mod direct {
    use crate::model::{known_key, epoch_to_ms, Event, FieldKey, FieldValue};
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use std::borrow::Cow;
    use std::fmt;

    pub fn point(bytes: &[u8]) -> Option<Event> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let event = PointSeed.deserialize(&mut deserializer).ok()?;
        deserializer.end().ok()?;
        Some(event)
    }

    /// Not a point this reader takes: the tree reads it (and says what is wrong, if anything).
    fn not_direct<E: serde::de::Error>() -> E {
        E::custom("not a plain point")
    }

    type Fields = Vec<(FieldKey, FieldValue)>;
    /// Keys and values as they come; None for null.
    type Section = Vec<(FieldKey, Option<FieldValue>)>;

    /// Sorted by key, the last of a repeated key kept, nulls left out: the order and values a
    /// JSON map gives, then `FieldValue::from_json` (a null that repeats a key removes it).
    fn as_map(mut section: Section) -> Fields {
        section.reverse();
        section.sort_by(|a, b| a.0.cmp(&b.0)); // stable: the last copy first in each run
        section.dedup_by(|later, first| later.0 == first.0);
        section.into_iter().filter_map(|(key, value)| Some((key, value?))).collect()
    }

    /// Each seed is its own visitor: deserializing it hands the value to itself, read with
    /// the named method.
    macro_rules! seed_of_visitor {
        ($seed:ident, $value:ty, $method:ident) => {
            impl<'de> DeserializeSeed<'de> for $seed {
                type Value = $value;
                fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<$value, D::Error> {
                    deserializer.$method(self)
                }
            }
        };
    }

    struct PointSeed;

    seed_of_visitor!(PointSeed, Event, deserialize_map);

    impl<'de> Visitor<'de> for PointSeed {
        type Value = Event;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a point")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
            let (mut measurement, mut time_ms) = (None, None);
            let (mut tags, mut fields, mut others): (Option<Section>, Option<Section>, Section) = (None, None, Vec::new());
            let mut seen_others: Vec<FieldKey> = Vec::new();
            while let Some(key) = map.next_key_seed(KeySeed)? {
                match key.as_ref() {
                    "measurement" if measurement.is_none() => measurement = Some(map.next_value_seed(MeasurementSeed)?),
                    "time" if time_ms.is_none() => time_ms = Some(map.next_value_seed(TimeSeed)?),
                    "tags" if tags.is_none() => tags = Some(map.next_value_seed(SectionSeed)?),
                    "fields" if fields.is_none() => fields = Some(map.next_value_seed(SectionSeed)?),
                    "measurement" | "time" | "tags" | "fields" => return Err(not_direct()),
                    _ => {
                        // A repeated key: the tree keeps the last; rare enough to leave to it.
                        if seen_others.contains(&key) {
                            return Err(not_direct());
                        }
                        seen_others.push(key.clone());
                        let value = map.next_value_seed(ValueSeed)?;
                        others.push((key, value));
                    }
                }
            }
            let (Some(measurement), Some(time_ms)) = (measurement, time_ms) else { return Err(not_direct()) };
            // As `convert` sets them: the tags in key order, then the fields (a field replaces
            // a tag of its name in place), then the other keys.
            let tags = as_map(tags.unwrap_or_default());
            let fields = as_map(fields.unwrap_or_default());
            let others = as_map(others);
            let mut event = Event::new(measurement, time_ms);
            event.fields.reserve(tags.len() + fields.len() + others.len());
            event.fields.extend(tags);
            let tag_count = event.fields.len();
            for (key, value) in fields {
                match event.fields[..tag_count].binary_search_by(|(k, _)| k.cmp(&key)) {
                    Ok(at) => event.fields[at].1 = value,
                    Err(_) => event.fields.push((key, value)),
                }
            }
            // Tags, then the fields not among them: two sorted runs.
            let runs = event.fields.len();
            for (key, value) in others {
                let in_tags = event.fields[..tag_count].binary_search_by(|(k, _)| k.cmp(&key));
                let in_fields = event.fields[tag_count..runs].binary_search_by(|(k, _)| k.cmp(&key)).map(|i| i + tag_count);
                match (in_tags, in_fields) {
                    (Ok(at), _) | (_, Ok(at)) => event.fields[at].1 = value,
                    _ => event.fields.push((key, value)),
                }
            }
            Ok(event)
        }
    }

    /// A key, as the static text of a name the program knows where it is one.
    struct KeySeed;

    seed_of_visitor!(KeySeed, FieldKey, deserialize_str);

    impl<'de> Visitor<'de> for KeySeed {
        type Value = FieldKey;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a key")
        }
        fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<FieldKey, E> {
            Ok(known_key(key).map_or_else(|| Cow::Owned(key.to_string()), Cow::Borrowed))
        }
    }

    struct MeasurementSeed;

    seed_of_visitor!(MeasurementSeed, String, deserialize_any);

    impl<'de> Visitor<'de> for MeasurementSeed {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the event kind")
        }
        fn visit_str<E: serde::de::Error>(self, kind: &str) -> Result<String, E> {
            if kind.is_empty() {
                return Err(not_direct());
            }
            Ok(kind.to_string())
        }
    }

    struct TimeSeed;

    seed_of_visitor!(TimeSeed, i64, deserialize_any);

    impl<'de> Visitor<'de> for TimeSeed {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a time")
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<i64, E> {
            Ok(epoch_to_ms(n))
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<i64, E> {
            // Past i64 the tree takes the number as a float, as below.
            match i64::try_from(n) {
                Ok(n) => Ok(epoch_to_ms(n)),
                Err(_) => self.visit_f64(n as f64),
            }
        }
        fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<i64, E> {
            if !f.is_finite() {
                return Err(not_direct());
            }
            Ok(epoch_to_ms(f as i64))
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<i64, E> {
            crate::timeparse::parse_datetime_ms(text).ok_or_else(not_direct)
        }
    }

    /// `tags` or `fields`: an object of key: value, or null.
    struct SectionSeed;

    seed_of_visitor!(SectionSeed, Section, deserialize_any);

    impl<'de> Visitor<'de> for SectionSeed {
        type Value = Section;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of key: value")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Section, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Section, A::Error> {
            let mut section = Vec::with_capacity(map.size_hint().unwrap_or(32));
            while let Some(key) = map.next_key_seed(KeySeed)? {
                let value = map.next_value_seed(ValueSeed)?;
                section.push((key, value));
            }
            Ok(section)
        }
    }

    /// A value as `FieldValue::from_json` makes it; None for null.
    struct ValueSeed;

    seed_of_visitor!(ValueSeed, Option<FieldValue>, deserialize_any);

    impl<'de> Visitor<'de> for ValueSeed {
        type Value = Option<FieldValue>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a value")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
            Ok(Some(FieldValue::Bool(b)))
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
            Ok(Some(FieldValue::Int(n)))
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
            Ok(Some(i64::try_from(n).map_or(FieldValue::Float(n as f64), FieldValue::Int)))
        }
        fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Self::Value, E> {
            Ok(Some(FieldValue::Float(f)))
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Some(FieldValue::Str(text.to_string())))
        }
        fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
            Ok(Some(FieldValue::Str(text)))
        }
        // Arrays and objects are kept whole, as JSON text, as the tree keeps them.
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            let value: serde_json::Value = serde::Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
            Ok(Some(FieldValue::Str(value.to_string())))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let value: serde_json::Value = serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
            Ok(Some(FieldValue::Str(value.to_string())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_to_event() {
        let event = convert(serde_json::json!({
            "measurement": "error",
            "tags": {"session_id": "s", "error_type": "TypeError"},
            "fields": {"error_message": "x", "error_type": "RangeError"},
            "time": 1636524715601000000i64
        }))
        .expect("converts");
        assert_eq!(event.kind, "error");
        assert_eq!(event.time_ms, 1_636_524_715_601);
        assert_eq!(event.get_str("error_type"), Some("RangeError"));
    }

    /// The direct reader, where it reads a point, gives the event the tree gives, fields in
    /// the same order; where the tree rejects a point, the direct reader reads nothing.
    fn assert_direct_as_tree(bytes: &[u8]) -> bool {
        let direct = direct::point(bytes);
        let tree = serde_json::from_slice::<Value>(bytes).map_err(|e| e.to_string()).and_then(convert);
        match (&direct, &tree) {
            (Some(direct), Ok(tree)) => assert_eq!(direct, tree, "{}", String::from_utf8_lossy(bytes)),
            (Some(direct), Err(e)) => panic!("read directly, rejected by the tree ({e}): {direct:?}\n{}", String::from_utf8_lossy(bytes)),
            (None, _) => {}
        }
        direct.is_some()
    }

    #[test]
    fn the_direct_reader_reads_points_as_the_tree_does() {
        let points = [
            // Clashes: a field replaces its tag in place; another key replaces either.
            r#"{"measurement":"view","time":1636524705288,"tags":{"b":"tag","session_id":"s","a":"t"},"fields":{"b":2,"z":1,"a":null},"a":"other","zz":[1,{"k":"v"}]}"#,
            // Sections in any order, null, missing; repeated keys in a section: the last wins,
            // a null last removes the key.
            r#"{"fields":{"x":1,"x":2,"y":3,"y":null},"time":"2025-11-13 14:02:11.5","measurement":"error","tags":null}"#,
            r#"{"measurement":"action","time":1.6365247e12,"fields":{"big":18446744073709551615,"neg":-5,"f":0.5,"t":true,"n":{"deep":[1,2]}}}"#,
            r#"{"measurement":"resource","time":18446744073709551615,"tags":{"k\"ey":"va\u00e9l\nue","view_path":"/x"}}"#,
            r#"  {"measurement":"long_task","time":-1,"extra":{"a":{"b":null}},"other":null}  "#,
            // Rejected by the tree: the direct reader must read nothing.
            r#"{"measurement":"","time":1}"#,
            r#"{"measurement":5,"time":1}"#,
            r#"{"measurement":"view"}"#,
            r#"{"time":1}"#,
            r#"{"measurement":"view","time":"yesterday"}"#,
            r#"{"measurement":"view","time":true}"#,
            r#"{"measurement":"view","time":1,"tags":"a=b"}"#,
            r#"{"measurement":"view","time":1,"fields":[1]}"#,
            r#"[{"measurement":"view","time":1}]"#,
            r#"{"measurement":"view","time":1} x"#,
            r#"{"measurement":"view","time":1"#,
            // Repeated top-level keys: left to the tree (which keeps the last).
            r#"{"measurement":"view","time":1,"measurement":"error"}"#,
            r#"{"measurement":"view","time":1,"k":1,"k":2}"#,
        ];
        let read: Vec<bool> = points.iter().map(|p| assert_direct_as_tree(p.as_bytes())).collect();
        assert_eq!(read, [true, true, true, true, true, false, false, false, false, false, false, false, false, false, false, false, false, false]);

        // Generated points, and each cut short and with a byte changed at many places.
        let mut rng = crate::generate::Rng::new(3);
        let events: Vec<Event> = (0..4).flat_map(|_| crate::generate::session_events(&mut rng)).collect();
        let mut direct = 0;
        for event in &events {
            let text = crate::generate::to_guance_json(event).to_string();
            assert!(assert_direct_as_tree(text.as_bytes()), "a generated point is read directly: {text}");
            direct += 1;
            let bytes = text.as_bytes();
            for at in (0..bytes.len()).step_by(7) {
                assert_direct_as_tree(&bytes[..at]);
                for replacement in [b'"', b'}', b'0', b'n', b',', b':'] {
                    let mut changed = bytes.to_vec();
                    changed[at] = replacement;
                    assert_direct_as_tree(&changed);
                }
            }
        }
        assert!(direct > 100, "{direct}");
    }
}
