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

pub fn parse(reader: &mut dyn BufRead, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
    json_scan::json_values(reader, sink, &mut point_values)
}

/// One record's text (a point, or an array of them), starting at `line`: records are
/// independent, so a file's records can be read on several threads.
pub fn record(line: u64, bytes: &[u8], sink: &mut dyn RecordSink) -> Result<(), ImportError> {
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
}
