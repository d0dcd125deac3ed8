//! Helpers shared by the integration tests.
#![allow(dead_code)]

use rum_explorer::ingest::{self, FileReport, ImportProgress};
use rum_explorer::store::{SessionQuery, SessionRow, Store};
use std::path::{Path, PathBuf};

/// The third-party fixtures beside the clone, or None (with a note) when `../shared` is absent.
pub fn third_party(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/third_party").join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: {} is missing (no ../shared beside the clone); our own fixtures in tests/fixtures cover the same cases", dir.display());
        None
    }
}

pub fn own_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test.sqlite");
    (dir, path)
}

pub fn import(store: &mut Store, paths: &[PathBuf]) -> Vec<FileReport> {
    let progress = ImportProgress::new();
    ingest::import_paths(store, paths, &progress, |_| {})
}

pub fn all_sessions(store: &Store) -> Vec<SessionRow> {
    store
        .sessions(&SessionQuery { limit: 1_000_000, sort_column: Some("session_id".into()), ..Default::default() })
        .expect("sessions query")
}

pub fn session(store: &Store, id: &str) -> SessionRow {
    store.session(id).expect("query").unwrap_or_else(|| panic!("session {id} exists"))
}

pub fn count(store: &Store, sql: &str) -> i64 {
    store.conn.query_row(sql, [], |r| r.get(0)).expect("count query")
}

/// `session_pages` holds exactly the pages the events name, per session (filters on the page
/// read it instead of the events).
pub fn assert_pages_match_events(store: &Store, what: &str) {
    let pairs = |sql: &str| -> Vec<(String, i64)> {
        store.conn.prepare(sql).and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()).expect("pages")
    };
    let listed = pairs("SELECT view_path, session_pk FROM session_pages ORDER BY 1, 2");
    let named = pairs("SELECT DISTINCT view_path, session_pk FROM events WHERE view_path IS NOT NULL ORDER BY 1, 2");
    assert!(!named.is_empty(), "{what}: events name pages");
    assert_eq!(listed, named, "{what}: session_pages against the events");
}

/// Asserts that each session's slowest and largest resource are those of its resource events;
/// returns how many sessions have a resource with a duration.
#[allow(dead_code)]
pub fn assert_resource_maxima_match_events(store: &Store, what: &str) -> usize {
    let maxima = |sql: &str| -> Vec<(i64, Option<i64>, Option<i64>)> {
        store.conn.prepare(sql).and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()).expect("maxima")
    };
    let kept = maxima("SELECT session_pk, slowest_resource_ns, largest_resource_bytes FROM sessions ORDER BY session_pk");
    let from_events = maxima(
        "SELECT s.session_pk, max(CAST(round(e.duration_ns) AS INTEGER)), max(CAST(round(e.resource_size_bytes) AS INTEGER))
         FROM sessions s LEFT JOIN events e ON e.session_pk = s.session_pk AND e.kind = 'resource'
         GROUP BY s.session_pk ORDER BY s.session_pk",
    );
    assert_eq!(kept, from_events, "{what}: the sessions' slowest and largest resource against their events");
    from_events.iter().filter(|(_, slowest, _)| slowest.is_some()).count()
}

/// The session list as the command line's JSON gives it (without internal keys), by id.
pub fn sessions_json(store: &Store) -> Vec<serde_json::Value> {
    all_sessions(store).iter().map(|s| serde_json::to_value(s).expect("serialize")).collect()
}

/// Asserts two session lists are equal, naming the first session and key that differ.
pub fn assert_same_sessions(actual: &[serde_json::Value], expected: &[serde_json::Value], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: session count");
    for (a, e) in actual.iter().zip(expected) {
        if a != e {
            let (Some(a_map), Some(e_map)) = (a.as_object(), e.as_object()) else { panic!("{what}: not objects") };
            for (key, value) in e_map {
                assert_eq!(a_map.get(key), Some(value), "{what}: session {} key {key}", e["session_id"]);
            }
            assert_eq!(a, e, "{what}");
        }
    }
}

/// Every stored event with all its columns but the row numbers, each as JSON text, in a
/// stable order (session, identity): two imports that store the same events give equal lists.
#[allow(dead_code)]
pub fn events_content(store: &Store) -> Vec<String> {
    let columns: Vec<String> = store
        .conn
        .prepare("SELECT name FROM pragma_table_info('events') WHERE name NOT IN ('event_pk', 'session_pk', 'file_pk')")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("event columns");
    let values = columns.iter().map(|c| format!("e.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT json_array(s.session_id, {values}) FROM events e JOIN sessions s USING (session_pk) ORDER BY s.session_id, e.event_key"
    );
    store.conn.prepare(&sql).and_then(|mut s| s.query_map([], |r| r.get(0))?.collect()).expect("events")
}

/// Each session's stored text of event values (`session_event_values`), by session.
pub fn kept_event_values(store: &Store) -> Vec<(i64, String)> {
    store
        .conn
        .prepare("SELECT session_pk, tokens FROM session_event_values ORDER BY session_pk")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("kept values")
}

/// `session_event_values` holds exactly the values each session's events have in the columns
/// of few values (see `store::event_values`), worked out here from the events on their own:
/// per column the distinct values as text, or `code*` where one is not kept (a float, a text
/// in the integer column, longer than 64 bytes, holding the separator, or more than 32 values).
/// Returns how many sessions have values.
pub fn assert_event_values_match_events(store: &Store, what: &str) -> usize {
    use rum_explorer::store::event_values::VALUE_COLUMNS;
    use std::collections::{BTreeMap, BTreeSet};
    let separator = '\u{1f}';
    let mut expected: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (column, code, is_integer) in VALUE_COLUMNS {
        let sql = format!("SELECT session_pk, typeof({column}), CAST({column} AS TEXT) FROM events WHERE {column} IS NOT NULL");
        let rows: Vec<(i64, String, String)> =
            store.conn.prepare(&sql).and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()).expect("values");
        let mut per_session: BTreeMap<i64, (BTreeSet<String>, bool)> = BTreeMap::new();
        for (session_pk, kind, text) in rows {
            let (values, unkept) = per_session.entry(session_pk).or_default();
            let kept = match kind.as_str() {
                "integer" => true,
                "text" => !is_integer,
                _ => false,
            };
            if kept && text.len() <= 64 && !text.contains(separator) {
                values.insert(text);
            } else {
                *unkept = true;
            }
        }
        for (session_pk, (values, unkept)) in per_session {
            let tokens = expected.entry(session_pk).or_default();
            if unkept || values.len() > 32 {
                tokens.push(format!("{code}*"));
            } else {
                tokens.extend(values.iter().map(|v| format!("{code}={v}")));
            }
        }
    }
    let expected: Vec<(i64, String)> = expected
        .into_iter()
        .map(|(session_pk, mut tokens)| {
            tokens.sort();
            let mut text = separator.to_string();
            for token in tokens {
                text.push_str(&token);
                text.push(separator);
            }
            (session_pk, text)
        })
        .collect();
    let kept = kept_event_values(store);
    assert_eq!(kept, expected, "{what}: session_event_values against the events");
    // The store's list of values seen has every value kept (comparisons look for those).
    let seen: Option<String> =
        store.conn.query_row("SELECT value FROM store_facts WHERE name = 'event_values_seen'", [], |r| r.get(0)).ok();
    let seen: BTreeSet<&str> = seen.as_deref().unwrap_or_default().split(separator).collect();
    for (session_pk, tokens) in &kept {
        for token in tokens.split(separator).filter(|t| t.contains('=')) {
            assert!(seen.contains(token), "{what}: {token} of session {session_pk} is not among the values seen");
        }
    }
    kept.len()
}

/// The sessions a filter selects (by id, all of them) and their count.
pub fn answers(store: &Store, filter: &str) -> (Vec<String>, u64) {
    let q = SessionQuery {
        filter: rum_explorer::query::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}")),
        limit: 100_000,
        sort_column: Some("session_id".into()),
        ..Default::default()
    };
    let ids = store.sessions(&q).unwrap_or_else(|e| panic!("{filter}: {e}")).into_iter().map(|r| r.session_id).collect();
    (ids, store.count_sessions(&q).expect("count"))
}

/// The first page of a filter sorted by start, which asks the first sessions one by one (per
/// session).
pub fn first_page(store: &Store, filter: &str) -> Vec<String> {
    let q = SessionQuery { filter: rum_explorer::query::parse(filter).expect("parse"), limit: 7, ..Default::default() };
    store.sessions(&q).expect("page").into_iter().map(|r| r.session_id).collect()
}
