//! The Guance explorer's "Export to CSV File": one measurement per file, a header row of keys.
//!
//! The measurement comes from the file name (`view.csv`, `rum_error-2025-11-13.csv`) or, failing
//! that, from the columns. The time column holds epoch s/ms/us/ns or date-time text; text
//! without a zone is read as UTC.

use super::lines::read_error_reason;
use super::{ImportError, RecordSink};
use crate::model::{key_info, Event, FieldValue, ValueRef};
use crate::store::writer::{kind_name, prepare_fields_with, recycle_vec, DirectField, FieldScratch, PreparedEvent};
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
    match cell_value_ref(text) {
        ValueRef::Int(i) => FieldValue::Int(i),
        ValueRef::Float(f) => FieldValue::Float(f),
        ValueRef::Bool(b) => FieldValue::Bool(b),
        ValueRef::Str(text) => FieldValue::Str(text.to_string()),
    }
}

/// A cell's value, its text borrowed.
fn cell_value_ref(text: &str) -> ValueRef<'_> {
    // A number prints with a digit or a minus first: other cells (most) are text at once.
    if !text.as_bytes().first().is_some_and(|b| b.is_ascii_digit() || *b == b'-') {
        return ValueRef::Str(text);
    }
    // Numbers become numbers only when nothing is lost ("007", "+5" and "-0" stay text).
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (!digits.starts_with('0') || text == "0");
    if canonical {
        if let Ok(i) = text.parse::<i64>() {
            return ValueRef::Int(i);
        }
    }
    if text.contains('.') && !text.starts_with('.') && !text.ends_with('.') {
        if let Ok(f) = text.parse::<f64>() {
            if f.is_finite() && f.to_string() == text {
                return ValueRef::Float(f);
            }
        }
    }
    ValueRef::Str(text)
}

/// A row's cells as text: the record checked as UTF-8 once, each cell then a slice of it.
/// None when it is not UTF-8 (or a cell ends inside a character): then each cell is checked
/// alone, to name the column.
fn cells_of<'r>(record: &'r csv::ByteRecord, cells: &mut Vec<&'r str>) -> Option<()> {
    let text = simdutf8::basic::from_utf8(record.as_slice()).ok()?;
    for i in 0..record.len() {
        cells.push(text.get(record.range(i)?)?);
    }
    Some(())
}

/// A row straight to its prepared row, as `writer::prepare` makes it from the row's event
/// (the import's hot path, as for the other formats); None leaves the row to that path.
/// `infos` are the header's keys' (a header with a key twice has none: its events keep both
/// copies, which `prepare` sorts out).
struct DirectRows {
    infos: Vec<crate::model::KeyInfo>,
    fields: Vec<DirectField<'static>>,
    prepare: FieldScratch,
}

impl DirectRows {
    fn prepare(&mut self, header: &[String], cells: &[&str], skip: [Option<usize>; 2], kind: &str, time_ms: i64) -> Option<PreparedEvent> {
        let mut fields: Vec<DirectField<'_>> = recycle_vec(std::mem::take(&mut self.fields));
        for (i, cell) in cells.iter().enumerate() {
            if skip.contains(&Some(i)) || cell.is_empty() {
                continue;
            }
            fields.push(DirectField { key: header.get(i)?, value: cell_value_ref(cell), info: *self.infos.get(i)? });
        }
        let prepared = prepare_fields_with(kind_name(kind), time_ms, &fields, &mut self.prepare);
        self.fields = recycle_vec(fields);
        prepared
    }
}

pub fn parse(reader: &mut dyn BufRead, sink: &mut dyn RecordSink, file_name: Option<&str>) -> Result<(), ImportError> {
    // The CSV reader holds a whole row; a row without line breaks stops at the record limit.
    let capped = super::lines::LineCapReader { inner: reader, cap: super::lines::MAX_RECORD_BYTES, since_newline: 0 };
    let mut csv_reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(capped);
    // One record, read into again for each row.
    let mut record = csv::ByteRecord::new();
    let header: Vec<String> = match csv_reader.read_byte_record(&mut record) {
        Ok(true) => record.iter().map(|c| String::from_utf8_lossy(c).trim().trim_start_matches('\u{feff}').to_string()).collect(),
        Err(e) => {
            sink.skipped(1, format!("cannot read the header row: {e}"));
            return Ok(());
        }
        Ok(false) => return Ok(()),
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
    let mut sorted_header: Vec<&str> = header.iter().map(String::as_str).collect();
    sorted_header.sort_unstable();
    let key_twice = sorted_header.windows(2).any(|pair| pair[0] == pair[1]);
    let mut direct = (sink.takes_prepared() && !key_twice).then(|| DirectRows {
        infos: header.iter().map(|h| key_info(h)).collect(),
        fields: Vec::new(),
        prepare: FieldScratch::default(),
    });
    let mut cell_room: Vec<&str> = Vec::new();
    loop {
        match csv_reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
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
        let mut cells: Vec<&str> = recycle_vec(std::mem::take(&mut cell_room));
        if cells_of(&record, &mut cells).is_none() {
            if let Some(i) = record.iter().position(|c| std::str::from_utf8(c).is_err()) {
                sink.skipped(line, format!("column {:?} is not valid UTF-8", header[i]));
                cell_room = recycle_vec(cells);
                continue;
            }
            cells.clear();
            cells.extend(record.iter().map(|c| std::str::from_utf8(c).unwrap_or_default()));
        }
        let Some(time_ms) = crate::timeparse::parse_datetime_ms(cells[time_index]) else {
            sink.skipped(line, format!("time {:?} is not an epoch number or a date-time", cells[time_index]));
            continue;
        };
        let kind = kind_index.map(|i| cells[i]).filter(|k| !k.is_empty()).or(file_kind);
        let Some(kind) = kind else {
            sink.skipped(line, "cannot tell the event kind: name the file after it (view.csv, error.csv, ...) or add a measurement column".into());
            continue;
        };
        let prepared = direct.as_mut().and_then(|direct| direct.prepare(&header, &cells, [Some(time_index), kind_index], kind, time_ms));
        match prepared {
            Some(prepared) => sink.prepared_event(line, prepared)?,
            None => {
                let mut event = Event::new(kind.to_string(), time_ms);
                for (i, cell) in cells.iter().enumerate() {
                    if i == time_index || Some(i) == kind_index || cell.is_empty() {
                        continue;
                    }
                    event.fields.push((header_keys[i].clone(), cell_value(cell)));
                }
                sink.event(line, event)?;
            }
        }
        cell_room = recycle_vec(cells);
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

    /// What a file's rows become: each row's line and prepared row (or problem), read the
    /// direct way (a sink that stores rows) and the general way (events, then `prepare`).
    /// Each record's line, and its row or the problem with it.
    type Rows = Vec<(u64, Result<PreparedEvent, String>)>;

    /// Stores rows as the import's sinks do, and counts those prepared by the parser itself.
    #[derive(Default)]
    struct RowSink {
        rows: Rows,
        prepared_directly: usize,
    }

    impl RecordSink for RowSink {
        fn event(&mut self, line: u64, event: Event) -> Result<(), ImportError> {
            self.rows.push((line, crate::store::writer::prepare(event)));
            Ok(())
        }
        fn skipped(&mut self, line: u64, reason: String) {
            self.rows.push((line, Err(reason)));
        }
        fn takes_prepared(&self) -> bool {
            true
        }
        fn prepared_event(&mut self, line: u64, event: PreparedEvent) -> Result<(), ImportError> {
            self.prepared_directly += 1;
            self.rows.push((line, Ok(event)));
            Ok(())
        }
    }

    /// Also how many rows the direct way prepared itself.
    fn rows_both_ways(text: &[u8], file_name: &str) -> ([Rows; 2], usize) {
        let mut stored = RowSink::default();
        parse(&mut std::io::Cursor::new(text.to_vec()), &mut stored, Some(file_name)).expect("parse");
        let (direct, prepared_directly) = (stored.rows, stored.prepared_directly);
        let mut kept = CollectSink::default();
        parse(&mut std::io::Cursor::new(text.to_vec()), &mut kept, Some(file_name)).expect("parse");
        let mut general: Rows =
            kept.events.into_iter().map(|(line, event)| (line, crate::store::writer::prepare(event))).collect();
        general.extend(kept.problems.into_iter().map(|p| (p.line, Err(p.reason))));
        general.sort_by_key(|(line, _)| *line);
        ([direct, general], prepared_directly)
    }

    /// Asserts that both ways give the same rows; how many rows, and how many of them the
    /// direct way prepared itself.
    fn assert_same_rows(text: &[u8], file_name: &str) -> (usize, usize) {
        let ([direct, general], prepared_directly) = rows_both_ways(text, file_name);
        assert_eq!(direct.len(), general.len(), "{file_name}");
        for ((line_a, a), (line_b, b)) in direct.iter().zip(&general) {
            assert_eq!(line_a, line_b, "{file_name}");
            match (a, b) {
                (Ok(a), Ok(b)) => assert!(a.same_row_as(b), "{file_name} line {line_a}\ndirect:  {a:?}\ngeneral: {b:?}"),
                (Err(a), Err(b)) => assert_eq!(a, b, "{file_name} line {line_a}"),
                _ => panic!("{file_name} line {line_a}: {a:?} against {b:?}"),
            }
        }
        (direct.iter().filter(|(_, row)| row.is_ok()).count(), prepared_directly)
    }

    /// Rows read straight into rows give the rows their events give, for generated files of
    /// every kind and for odd cells.
    #[test]
    fn rows_read_directly_are_the_rows_of_their_events() {
        let dir = tempfile::tempdir().expect("temp dir");
        let written = crate::generate::write(&dir.path().join("rum.csv"), crate::generate::GenerateFormat::Csv, 20, 4, false).expect("generate");
        let mut rows = 0;
        for (path, _) in written {
            let text = std::fs::read(&path).expect("read");
            let (file_rows, prepared_directly) = assert_same_rows(&text, &path.file_name().expect("name").to_string_lossy());
            assert_eq!(prepared_directly, file_rows, "every generated row is read the direct way: {}", path.display());
            rows += file_rows;
        }
        assert!(rows > 300, "{rows}");
        let odd = "time,session_id,view_path,view_url,error_message,n,f,é\n\
                   2025-11-13 14:02:11,s1,/a,https://a.example/b,\"multi\nline, \"\"quoted\"\"\",007,0.018,ü\n\
                   1763042532000,s1,,https://a.example/c?q=1,,-5,1.50,\n\
                   1763042533,s1,42,,x,9223372036854775808,1e3,中\n\
                   1763042534,,/a,,no session,1,2,3\n\
                   2025-11-13T14:02:13Z,s2,/a,,y,0,-0,\n";
        // The row with a number as its page goes the general way (`prepare` replaces it); the
        // one without a session is a problem both ways.
        assert_eq!(assert_same_rows(odd.as_bytes(), "error.csv"), (4, 3));
        // A key twice in the header: events keep both copies, and the general way reads them.
        assert_eq!(assert_same_rows(b"time,session_id,n,n\n1763042531,s1,1,2\n", "view.csv"), (1, 0));
        // Not UTF-8 in a cell: a problem naming the column; the next row is read.
        assert_eq!(assert_same_rows(b"time,session_id,n\n1763042531,s1,\xff\n1763042532,s1,2\n", "view.csv"), (1, 1));
    }
}
