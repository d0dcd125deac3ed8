//! The extended field keys the import records (schema 12), and the queries that read only
//! where the data has a key: the same answers as reading everywhere.

mod common;

use common::*;
use rum_explorer::query::{self, StoreFacts};
use rum_explorer::store::{SessionQuery, Store};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The keys the rows carry, read from every row.
fn stored_keys(store: &Store) -> StoreFacts {
    let keys = |sql: &str| -> BTreeSet<String> {
        store.conn.prepare(sql).and_then(|mut s| s.query_map([], |r| r.get(0))?.collect()).expect("keys")
    };
    StoreFacts {
        session: keys("SELECT DISTINCT j.key FROM sessions s, json_each(s.session_fields_json) j"),
        event: keys("SELECT DISTINCT j.key FROM events e, json_each(e.extra_json) j"),
        // Not about keys: tests/event_values.rs checks the event values.
        ..store.store_facts().expect("facts").unwrap_or_default()
    }
}

fn generated(dir: &std::path::Path, format: rum_explorer::generate::GenerateFormat, name: &str, sessions: u64) -> PathBuf {
    let file = dir.join(name);
    rum_explorer::generate::write(&file, format, sessions, 7, false).expect("generate");
    file
}

/// A session whose second event says another browser and screen than its first: those
/// values stay on the event, among its extended fields.
const DIFFERING: &str = r#"{"type":"view","date":1700000000000,"session":{"id":"s-differ"},"view":{"id":"v1","url":"https://a.example/x"},"browser":{"name":"Chrome"},"connectivity":{"effective_type":"4g"}}
{"type":"action","date":1700000001000,"session":{"id":"s-differ"},"action":{"id":"a1","type":"click"},"view":{"id":"v1","url":"https://a.example/x"},"browser":{"name":"Firefox"},"connectivity":{"effective_type":"3g"}}
"#;

#[test]
fn the_recorded_keys_are_exactly_those_the_rows_carry() {
    let dir = tempfile::tempdir().expect("tmp");
    let differing = dir.path().join("differing.ndjson");
    std::fs::write(&differing, DIFFERING).expect("write");
    let sample: Vec<PathBuf> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data"))
        .expect("sample data")
        .map(|e| e.expect("entry").path())
        .collect();
    let mut files = vec![
        generated(dir.path(), rum_explorer::generate::GenerateFormat::Lp, "g.lp", 40),
        generated(dir.path(), rum_explorer::generate::GenerateFormat::Ndjson, "g.ndjson", 40),
        own_fixture("tricky.lp"),
        own_fixture("views.ndjson"),
        own_fixture("broken.ndjson"),
        differing,
    ];
    files.extend(sample);
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    assert_eq!(
        store.store_facts().expect("facts"),
        Some(StoreFacts { event_values_kept: true, event_hashes_kept: true, ..Default::default() }),
        "a new database knows it has no keys"
    );
    import(&mut store, &files);
    let recorded = store.store_facts().expect("facts").expect("known");
    let stored = stored_keys(&store);
    assert!(stored.session.len() >= 3 && stored.event.len() >= 10, "{stored:?}");
    assert!(stored.event.contains("browser") && stored.event.contains("network_type"), "values differing from the session's: {stored:?}");
    assert_eq!(recorded, stored);
    // Session keys come from the records, not a sample of the sessions.
    let listed = store.session_keys().expect("keys");
    assert!(stored.session.iter().chain(&stored.event).all(|k| listed.contains(k)), "{listed:?}");
}

#[test]
fn the_recorded_keys_hold_those_of_the_third_party_exports() {
    let mut folders = Vec::new();
    for sub in ["datadog-rum-events-format", "guance-datakit"] {
        match third_party(sub) {
            Some(dir) => folders.push(dir),
            None => return,
        }
    }
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).expect("open");
    import(&mut store, &folders);
    let recorded = store.store_facts().expect("facts").expect("known");
    let stored = stored_keys(&store);
    assert!(stored.event.len() > 20, "{stored:?}");
    // A record already stored (two Datadog fixtures share a resource id) still has its keys
    // noted: a key more only means a place read for nothing.
    assert!(recorded.session.is_superset(&stored.session), "{:?}", stored.session.difference(&recorded.session).collect::<Vec<_>>());
    assert!(recorded.event.is_superset(&stored.event), "{:?}", stored.event.difference(&recorded.event).collect::<Vec<_>>());
}

fn sorted_by(store: &Store, key: &str, descending: bool) -> Vec<(String, Option<serde_json::Value>)> {
    let q = SessionQuery { sort_column: Some(key.into()), descending, extra_columns: vec![key.into()], limit: 100_000, ..Default::default() };
    store.sessions(&q).expect("sorted").into_iter().map(|r| (r.session_id, r.extended_fields.get(key).cloned())).collect()
}

#[test]
fn queries_that_read_only_where_a_key_is_answer_as_reading_everywhere() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = generated(dir.path(), rum_explorer::generate::GenerateFormat::Ndjson, "g.ndjson", 120);
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    import(&mut store, &[file]);
    let scopes = store.store_facts().expect("facts").expect("known");
    let (session_only, event_only) = ("screen_size", "resource_dns");
    assert_eq!(scopes.where_is(session_only), (true, false));
    assert_eq!(scopes.where_is(event_only), (false, true));
    assert_eq!(scopes.where_is("usr.plan"), (false, false));
    let screen: String = store
        .conn
        .query_row("SELECT json_extract(session_fields_json, '$.screen_size') FROM sessions WHERE session_fields_json LIKE '%screen_size%' LIMIT 1", [], |r| r.get(0))
        .expect("a screen size");
    let filters = [
        format!("screen_size:\"{screen}\""),
        format!("-screen_size:\"{screen}\""),
        "screen_size:\"1x1\"".to_string(),
        "screen_size:*".to_string(),
        "resource_dns:>25000000".to_string(),
        "-resource_dns:>25000000".to_string(),
        "usr.plan:pro".to_string(),
        "-usr.plan:pro".to_string(),
        "usr.plan:* OR browser:Chrome".to_string(),
        format!("(screen_size:\"{screen}\" OR resource_dns:<300000) -usr.plan:*"),
    ];
    let sorts = [session_only, event_only, "usr.plan"];
    let with_facts: Vec<_> = filters.iter().map(|f| answers(&store, f)).collect();
    let sorted_with_facts: Vec<_> = sorts.iter().flat_map(|k| [sorted_by(&store, k, false), sorted_by(&store, k, true)]).collect();
    let keys_with_facts = store.session_keys().expect("keys");
    // What each filter selects, so that the comparison below can fail.
    let selected: Vec<usize> = with_facts.iter().map(|(ids, count)| {
        assert_eq!(*count as usize, ids.len());
        ids.len()
    }).collect();
    assert!(selected[0] > 0 && selected[0] < 120 && selected[0] + selected[1] == 120, "{selected:?}");
    assert_eq!((selected[2], selected[3]), (0, 120), "no such screen; every session has one");
    assert!(selected[4] > 0 && selected[4] < 120 && selected[5] < 120, "{selected:?}");
    assert_eq!((selected[6], selected[7]), (0, 120), "nothing has the key");
    assert!(selected[8] > 0 && selected[8] < 120 && selected[9] > 0, "{selected:?}");
    // A database from before schema 12, which does not know its keys, reads everywhere.
    store.conn.execute("DELETE FROM store_facts WHERE name IN ('session_field_keys', 'event_field_keys')", []).expect("forget");
    assert_eq!(store.store_facts().expect("facts"), None);
    let without: Vec<_> = filters.iter().map(|f| answers(&store, f)).collect();
    let sorted_without: Vec<_> = sorts.iter().flat_map(|k| [sorted_by(&store, k, false), sorted_by(&store, k, true)]).collect();
    for ((filter, a), b) in filters.iter().zip(&with_facts).zip(&without) {
        assert_eq!(a, b, "{filter}");
    }
    assert_eq!(sorted_with_facts, sorted_without);
    assert!(sorted_with_facts[0].iter().filter(|(_, v)| v.is_some()).count() > 100, "screen sizes shown");
    assert!(sorted_with_facts[2].iter().any(|(_, v)| v.is_some()), "DNS times shown");
    let keys_sampled = store.session_keys().expect("keys");
    assert_eq!(keys_with_facts, keys_sampled, "the sample of a small database has every key");
}

#[test]
fn a_key_only_sessions_carry_is_not_looked_for_in_the_events() {
    let scopes = StoreFacts {
        session: ["screen_size".to_string()].into(),
        event: ["resource_dns".to_string()].into(),
        ..Default::default()
    };
    let sql = |filter: &str| {
        let filter = query::parse(filter).expect("parse").expect("a filter");
        filter.to_sql_with(&mut Vec::new(), query::EventMatch::AsSet, Some(&scopes))
    };
    let on_session = sql("screen_size:big");
    assert!(on_session.contains("session_fields_json") && !on_session.contains("events"), "{on_session}");
    let on_event = sql("resource_dns:>5");
    assert!(on_event.contains("extra_json") && !on_event.contains("session_fields_json"), "{on_event}");
    assert_eq!(sql("usr.plan:pro"), "0");
    let unknown = filter_sql_without_scopes("screen_size:big");
    assert!(unknown.contains("session_fields_json") && unknown.contains("extra_json"), "{unknown}");
    let mut params = Vec::new();
    let source = query::first_value_source("screen_size", &mut params, Some(&scopes)).expect("a source");
    assert!(!source.events_carry && source.first_event_value_sql("s.session_pk") == "NULL");
    let source = query::first_value_source("resource_dns", &mut params, Some(&scopes)).expect("a source");
    assert!(source.events_carry && source.session_value_sql.as_deref() == Some("NULL"));
}

fn filter_sql_without_scopes(filter: &str) -> String {
    query::parse(filter).expect("parse").expect("a filter").to_sql_with(&mut Vec::new(), query::EventMatch::AsSet, None)
}

#[test]
fn too_many_keys_are_not_listed_and_queries_read_everywhere() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("many.ndjson");
    let count = rum_explorer::store::writer::MAX_FIELD_KEYS + 5;
    let lines: String = (0..count)
        .map(|i| format!("{{\"type\":\"action\",\"date\":{},\"session\":{{\"id\":\"s{}\"}},\"action\":{{\"id\":\"a{i}\"}},\"context\":{{\"k{i}\":1}}}}\n", 1_700_000_000_000u64 + i as u64, i % 3))
        .collect();
    std::fs::write(&file, lines).expect("write");
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    import(&mut store, &[file]);
    assert_eq!(store.store_facts().expect("facts"), None, "the list is dropped past the limit");
    assert!(store.has_too_many_field_keys().expect("fact"), "and that is noted");
    assert!(!store.learn_fields_and_values().expect("learn"), "not learned again");
    // Learning finds as many: noted the same way.
    store.conn.execute("DELETE FROM store_facts WHERE name = 'field_keys_too_many'", []).expect("forget");
    assert!(!store.learn_fields_and_values().expect("learn"));
    assert!(store.has_too_many_field_keys().expect("fact") && store.store_facts().expect("facts").is_none());
    let last: String = store
        .conn
        .query_row(&format!("SELECT j.key FROM events, json_each(extra_json) j WHERE j.key LIKE '%k{}'", count - 1), [], |r| r.get(0))
        .expect("the last key");
    assert_eq!(answers(&store, &format!("{last}:1")).0, vec![format!("s{}", (count - 1) % 3)]);
}
