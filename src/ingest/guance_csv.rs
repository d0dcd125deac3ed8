//! The Guance explorer's "Export to CSV File": one measurement per file, a header row of keys.
//!
//! The measurement comes from the file name (`view.csv`, `rum_error-2025-11-13.csv`) or, failing
//! that, from the columns. The time column holds epoch s/ms/us/ns or date-time text; text
//! without a zone is read as UTC.

use super::lines::read_error_reason;
use super::{ImportError, RecordSink};
use crate::model::{Event, FieldValue};
use std::io::BufRead;

/// Column names that hold the event time, in order of preference.
const TIME_COLUMNS: &[&str] = &["time", "timestamp", "date", "__time", "create_time"];

pub fn looks_like(first_line: &str) -> bool {
    let cells: Vec<String> = first_line.split(',').map(|c| c.trim().trim_matches('"').to_ascii_lowercase()).collect();
    cells.len() >= 2
        && cells.iter().any(|c| c == "session_id")
        && !first_line.contains('=')
}

/// The measurement named in a file name, if any: `view.csv`, `rum-error-export.csv`.
pub fn kind_from_file_name(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let stem = lower.split('.').next().unwrap_or("");
    if stem.contains("long_task") || stem.contains("longtask") || stem.contains("long-task") {
        return Some("long_task");
    }
    let parts: Vec<&str> = stem.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    ["view", "action", "error", "resource"]
        .into_iter()
        .find(|kind| parts.iter().any(|p| p == kind || *p == format!("{kind}s")))
}

/// The measurement told by the columns a file has.
pub fn kind_from_columns(header: &[String]) -> Option<&'static str> {
    let has = |k: &str| header.iter().any(|h| h == k);
    if has("error_message") || has("error_type") || has("error_stack") {
        Some("error")
    } else if has("resource_url") || has("resource_type") {
        Some("resource")
    } else if has("long_task_id") {
        Some("long_task")
    } else if has("action_name") || has("action_type") || has("action_id") && !has("view_id") {
        Some("action")
    } else if has("loading_time") || has("time_spent") || has("view_loading_type") || has("view_id") {
        Some("view")
    } else {
        None
    }
}

fn cell_value(text: &str) -> FieldValue {
    // Numbers become numbers only when nothing is lost ("007", "+5" and "-0" stay text).
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (!digits.starts_with('0') || text == "0");
    if canonical {
        if let Ok(i) = text.parse::<i64>() {
            return FieldValue::Int(i);
        }
    }
    if text.contains('.') && !text.starts_with('.') && !text.ends_with('.') {
        if let Ok(f) = text.parse::<f64>() {
            if f.is_finite() && f.to_string() == text {
                return FieldValue::Float(f);
            }
        }
    }
    FieldValue::Str(text.to_string())
}

pub fn parse(reader: &mut dyn BufRead, sink: &mut dyn RecordSink, file_name: Option<&str>) -> Result<(), ImportError> {
    // The CSV reader holds a whole row; a row without line breaks stops at the record limit.
    let capped = super::lines::LineCapReader { inner: reader, cap: super::lines::MAX_RECORD_BYTES, since_newline: 0 };
    let mut csv_reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(capped);
    let mut records = csv_reader.byte_records();
    let header: Vec<String> = match records.next() {
        Some(Ok(h)) => h.iter().map(|c| String::from_utf8_lossy(c).trim().trim_start_matches('\u{feff}').to_string()).collect(),
        Some(Err(e)) => {
            sink.skipped(1, format!("cannot read the header row: {e}"));
            return Ok(());
        }
        None => return Ok(()),
    };
    let file_kind = file_name.and_then(kind_from_file_name).or_else(|| kind_from_columns(&header));
    let time_index = TIME_COLUMNS.iter().find_map(|t| header.iter().position(|h| h.eq_ignore_ascii_case(t)));
    let Some(time_index) = time_index else {
        sink.skipped(1, format!("no time column (looked for {})", TIME_COLUMNS.join(", ")));
        return Ok(());
    };
    let kind_index = header.iter().position(|h| h == "measurement");
    // The names the program knows as static text: no allocation per cell.
    let header_keys: Vec<crate::model::FieldKey> = header
        .iter()
        .map(|h| crate::model::known_key(h).map_or_else(|| std::borrow::Cow::Owned(h.clone()), std::borrow::Cow::Borrowed))
        .collect();
    for result in records {
        let record = match result {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                let reason = match e.kind() {
                    csv::ErrorKind::Io(io) => read_error_reason(io),
                    _ => format!("invalid CSV: {e}"),
                };
                sink.skipped(line, reason);
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Ok(());
                }
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.len() == 1 && record.get(0).is_some_and(|c| c.is_empty()) {
            continue; // a blank line
        }
        if record.len() != header.len() {
            sink.skipped(line, format!("row has {} cells but the header has {}", record.len(), header.len()));
            continue;
        }
        let cells: Result<Vec<&str>, usize> =
            record.iter().enumerate().map(|(i, c)| std::str::from_utf8(c).map_err(|_| i)).collect();
        let cells = match cells {
            Ok(c) => c,
            Err(i) => {
                sink.skipped(line, format!("column {:?} is not valid UTF-8", header[i]));
                continue;
            }
        };
        let Some(time_ms) = crate::timeparse::parse_datetime_ms(cells[time_index]) else {
            sink.skipped(line, format!("time {:?} is not an epoch number or a date-time", cells[time_index]));
            continue;
        };
        let kind = kind_index
            .map(|i| cells[i])
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .or_else(|| file_kind.map(str::to_string));
        let Some(kind) = kind else {
            sink.skipped(line, "cannot tell the event kind: name the file after it (view.csv, error.csv, ...) or add a measurement column".into());
            continue;
        };
        let mut event = Event::new(kind, time_ms);
        for (i, cell) in cells.iter().enumerate() {
            if i == time_index || Some(i) == kind_index || cell.is_empty() {
                continue;
            }
            event.fields.push((header_keys[i].clone(), cell_value(cell)));
        }
        sink.event(line, event)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::CollectSink;

    #[test]
    fn kinds_from_names_and_columns() {
        assert_eq!(kind_from_file_name("view.csv"), Some("view"));
        assert_eq!(kind_from_file_name("rum_error-2025-11-13.csv"), Some("error"));
        assert_eq!(kind_from_file_name("Long_Task.csv.gz"), Some("long_task"));
        assert_eq!(kind_from_file_name("export.csv"), None);
        let header = vec!["time".to_string(), "session_id".to_string(), "resource_url".to_string()];
        assert_eq!(kind_from_columns(&header), Some("resource"));
    }

    /// A cell is a number only when the number prints back as the cell's text.
    #[test]
    fn cells_are_numbers_only_when_nothing_is_lost() {
        for text in ["0", "5", "-5", "1763042531000", "-9223372036854775808", "9223372036854775807", "10"] {
            assert_eq!(cell_value(text), FieldValue::Int(text.parse().expect("number")), "{text}");
        }
        for text in ["007", "-0", "+5", "00", "-", "", "-007", "9223372036854775808", "5 ", "1e3", "0x10"] {
            assert_eq!(cell_value(text), FieldValue::Str(text.to_string()), "{text:?}");
        }
        assert_eq!(cell_value("0.018"), FieldValue::Float(0.018));
        assert_eq!(cell_value("1.50"), FieldValue::Str("1.50".into()));
    }

    #[test]
    fn multiline_cells_dates_and_ragged_rows() {
        let text = "time,session_id,error_message,error_stack,n\n\
                    2025-11-13 14:02:11,s1,boom,\"TypeError\n  at a.js:1\",007\n\
                    1763042532000,s1,short\n\
                    2025-11-13T14:02:13Z,s2,x,y,5\n";
        let mut sink = CollectSink::default();
        parse(&mut std::io::Cursor::new(text.as_bytes().to_vec()), &mut sink, Some("error.csv")).expect("parse");
        assert_eq!(sink.events.len(), 2);
        assert_eq!(sink.problems.len(), 1);
        assert_eq!(sink.problems[0].line, 4);
        let first = &sink.events[0].1;
        assert_eq!(first.kind, "error");
        assert_eq!(first.time_ms, 1_763_042_531_000);
        assert_eq!(first.get_str("error_stack"), Some("TypeError\n  at a.js:1"));
        assert_eq!(first.get_str("n"), Some("007"));
        assert_eq!(sink.events[1].1.get("n"), Some(&FieldValue::Int(5)));
    }
}
