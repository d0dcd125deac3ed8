//! Datadog RUM events (`_dd.format_version: 2`) as NDJSON, a JSON array, a single event, or
//! the events-search API response `{"data":[{"attributes":{"attributes":{...}}}]}`.
//!
//! Nested keys are flattened with dots; the keys the explorer knows are renamed to the Guance
//! names (`error.message` is `error_message`), every other key is kept under its dotted name.

use super::json_scan;
use super::{ImportError, RecordSink};
use crate::model::{Event, FieldValue};
use serde_json::Value;
use std::io::BufRead;

/// True when the start of a JSON file looks like Datadog RUM events.
pub fn looks_like(start: &str) -> bool {
    let has = |key: &str| start.contains(&format!("\"{key}\""));
    (has("date") && (has("session") || has("application") || has("type")))
        || (has("data") && has("attributes"))
}

pub fn parse(reader: &mut dyn BufRead, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
    json_scan::json_values(reader, sink, &mut record_to_events)
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
            for item in items {
                record_to_events(line, item, sink)?;
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

type KeyIndex = std::collections::HashMap<&'static str, (&'static str, Option<&'static str>)>;

fn forward_index() -> &'static KeyIndex {
    static INDEX: std::sync::OnceLock<KeyIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| KEY_MAP.iter().map(|(dotted, canonical, kind)| (*dotted, (*canonical, *kind))).collect())
}

/// The Guance name of a flattened Datadog key, where the explorer has one.
pub fn canonical_key(kind: &str, key: &str) -> Option<&'static str> {
    match forward_index().get(key) {
        Some((canonical, None)) => Some(canonical),
        Some((canonical, Some(only))) if *only == kind => Some(canonical),
        _ => None,
    }
}

/// The Datadog key for a Guance name on an event of `kind` (the generator writes with it).
pub fn datadog_key(kind: &str, canonical: &str) -> Option<&'static str> {
    KEY_MAP
        .iter()
        .find(|(_, c, only)| *c == canonical && only.is_none_or(|k| k == kind))
        .map(|(dotted, _, _)| *dotted)
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
fn event_time_ms(value: &Value) -> Result<i64, String> {
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
            None => event.fields.push((key, field)),
        }
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::CollectSink;

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
