//! Each session's filter of its events' values of many values (schema 14,
//! `session_event_hashes`): it holds every such value its events have, whatever files they came
//! in, and a filter's exact value on such a field selects through it the sessions that reading
//! every event selects.

mod common;

use common::*;
use rum_explorer::query;
use rum_explorer::store::event_hashes::{may_hold, value_hash, HASHED_COLUMNS};
use rum_explorer::store::Store;
use std::path::{Path, PathBuf};

/// A generated NDJSON file cut in `parts` at line boundaries: sessions go on from one part into
/// the next, so later parts add to stored sessions and merge their views.
fn generated_parts(dir: &Path, sessions: u64, parts: usize) -> Vec<PathBuf> {
    let whole = dir.join("whole.ndjson");
    rum_explorer::generate::write(&whole, rum_explorer::generate::GenerateFormat::Ndjson, sessions, 11, false).expect("generate");
    let text = std::fs::read_to_string(&whole).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let per_part = lines.len().div_ceil(parts);
    lines
        .chunks(per_part)
        .enumerate()
        .map(|(i, chunk)| {
            let part = dir.join(format!("part{i}.ndjson"));
            std::fs::write(&part, chunk.join("\n") + "\n").expect("write part");
            part
        })
        .collect()
}

/// Asserts that each session's filter may hold every text value of its events' hashed columns
/// and extended fields (read here from the events with SQL); returns how many values were asked.
fn assert_filters_hold_event_values(store: &Store, what: &str) -> usize {
    let mut asked = 0;
    let mut check = |sql: &str| {
        let rows: Vec<(String, String, Option<Vec<u8>>)> = store
            .conn
            .prepare(sql)
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
            .expect("values");
        for (tag, value, bits) in rows {
            let bits = bits.unwrap_or_else(|| panic!("{what}: no filter for a session with {tag}={value}"));
            assert!(may_hold(&bits, value_hash(&tag, value.as_bytes())), "{what}: {tag}={value} not in its session's filter");
            asked += 1;
        }
    };
    for column in HASHED_COLUMNS {
        check(&format!(
            "SELECT '{column}', e.{column}, h.bits FROM events e LEFT JOIN session_event_hashes h USING (session_pk)
             WHERE typeof(e.{column}) = 'text' AND e.{column} <> ''"
        ));
    }
    check(
        "SELECT j.key, j.value, h.bits FROM events e LEFT JOIN session_event_hashes h USING (session_pk), json_each(e.extra_json) j
         WHERE j.type = 'text'",
    );
    asked
}

fn one_value(store: &Store, sql: &str) -> String {
    store.conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn filters_hold_every_value_their_sessions_events_have() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut files = generated_parts(dir.path(), 120, 3);
    files.extend([own_fixture("tricky.lp"), own_fixture("views.ndjson")]);
    if let Some(datadog) = third_party("datadog-rum-events-format") {
        files.push(datadog);
    } else {
        eprintln!("../shared/fixtures/third_party is missing: the Datadog fixture is not imported");
    }
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    // A small session cache, so that sessions leave it and come back within a file.
    store.session_cache_limit = 16;
    import(&mut store, &files);
    assert!(store.event_hashes_kept().expect("fact"), "a database created empty keeps them from the start");
    let asked = assert_filters_hold_event_values(&store, "imported in parts");
    assert!(asked > 1000, "{asked} values asked");
    let sessions_with_filters = count(&store, "SELECT count(*) FROM session_event_hashes");
    assert!(sessions_with_filters > 120, "{sessions_with_filters}");

    // Learned from the events, as a database from before schema 14 does.
    let imported: Vec<(i64, Vec<u8>)> = store
        .conn
        .prepare("SELECT session_pk, bits FROM session_event_hashes ORDER BY session_pk")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("filters");
    store.conn.execute_batch("DELETE FROM session_event_hashes; DELETE FROM store_facts WHERE name = 'session_event_hashes_kept';").expect("forget");
    assert!(!store.event_hashes_kept().expect("fact"));
    assert!(store.learn_fields_and_values().expect("learn"));
    assert!(store.event_hashes_kept().expect("fact"));
    assert_filters_hold_event_values(&store, "learned");
    assert_eq!(count(&store, "SELECT count(*) FROM session_event_hashes"), sessions_with_filters);
    // A session written once, from one file, has the same filter either way.
    let learned_same = imported
        .iter()
        .filter(|(session_pk, bits)| {
            store
                .conn
                .query_row("SELECT bits FROM session_event_hashes WHERE session_pk = ?1", [session_pk], |r| r.get::<_, Vec<u8>>(0))
                .is_ok_and(|learned| &learned == bits)
        })
        .count();
    assert!(learned_same * 2 > imported.len(), "{learned_same} of {} the same", imported.len());
}

#[test]
fn exact_values_select_through_the_filters_what_the_events_select() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = generated_parts(dir.path(), 150, 2);
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    import(&mut store, &files);
    let rare_url = one_value(
        &store,
        "SELECT resource_url FROM events WHERE resource_url IS NOT NULL GROUP BY resource_url HAVING count(DISTINCT session_pk) = 1 ORDER BY resource_url LIMIT 1",
    );
    let common_url = one_value(&store, "SELECT resource_url FROM events WHERE resource_url IS NOT NULL GROUP BY resource_url ORDER BY count(DISTINCT session_pk) DESC LIMIT 1");
    let view_url = one_value(&store, "SELECT view_url FROM events WHERE view_url LIKE '%?%' ORDER BY event_pk DESC LIMIT 1");
    let view_id = one_value(&store, "SELECT view_id FROM events WHERE kind = 'view' ORDER BY event_pk LIMIT 1 OFFSET 100");
    let url_path = one_value(
        &store,
        "SELECT json_extract(extra_json, '$.resource_url_path') p FROM events WHERE p IS NOT NULL GROUP BY p ORDER BY count(DISTINCT session_pk) LIMIT 1",
    );
    let filters: Vec<String> = vec![
        format!("resource_url:\"{rare_url}\""),
        format!("resource_url:\"{common_url}\""),
        format!("-resource_url:\"{common_url}\""),
        format!("view_url:\"{view_url}\""),
        format!("view_id:{view_id}"),
        format!("resource_url_path:\"{url_path}\""),
        format!("resource_url_path:\"{url_path}\" OR browser:Safari"),
        format!("resource_url:\"{rare_url}\" resource_url:\"{common_url}\""),
        "resource_url:\"https://nowhere.example/\"".to_string(),
        "resource_url_path:\"/nowhere\"".to_string(),
        "resource_url_path:123".to_string(),
        format!("resource_url:\"{}\"", rare_url.to_uppercase()),
    ];
    let kept: Vec<_> = filters.iter().map(|f| answers(&store, f)).collect();
    let kept_pages: Vec<_> = filters.iter().map(|f| first_page(&store, f)).collect();
    // What each filter selects, so that the comparison below can fail.
    assert_eq!(kept[0].0.len(), 1, "{}", filters[0]);
    assert!(kept[1].0.len() > 10 && kept[2].0.len() + kept[1].0.len() == 150, "{:?} {:?}", kept[1].1, kept[2].1);
    assert!(!kept[3].0.is_empty() && kept[4].0.len() == 1 && !kept[5].0.is_empty());
    assert!(kept[8].0.is_empty() && kept[9].0.is_empty() && kept[11].0.is_empty());

    // A database whose filters are not known reads the events.
    store.conn.execute("DELETE FROM store_facts WHERE name = 'session_event_hashes_kept'", []).expect("forget");
    assert!(!store.event_hashes_kept().expect("fact"));
    for ((filter, answer), page) in filters.iter().zip(&kept).zip(&kept_pages) {
        assert_eq!(&answers(&store, filter), answer, "{filter}");
        assert_eq!(&first_page(&store, filter), page, "{filter}");
    }
}

#[test]
fn an_exact_text_value_reads_the_filters_first() {
    let scopes = query::StoreFacts { event_hashes_kept: true, ..Default::default() };
    let sql = |filter: &str, mode: query::EventMatch, scopes: &query::StoreFacts| {
        query::parse(filter).expect("parse").expect("a filter").to_sql_with(&mut Vec::new(), mode, Some(scopes))
    };
    let with_events_key = query::StoreFacts { event: ["resource_url_path".to_string()].into(), ..scopes.clone() };
    for mode in [query::EventMatch::AsSet, query::EventMatch::PerSession] {
        for hashed in ["resource_url:\"https://a.example/x\"", "view_id:abc", "-view_referrer:x", "resource_url_path:/cart"] {
            let sql = sql(hashed, mode, &with_events_key);
            assert!(sql.contains("session_event_hashes") && sql.contains("rum_may_hold"), "{hashed}: {sql}");
        }
        // Numbers are compared as numbers too, patterns and comparisons read every value, and
        // the columns of few values or with an index have their own ways.
        for unhashed in ["resource_url_path:123", "resource_url:*cart*", "view_id:>abc", "resource_method:GET", "action_name:x", "view_path:/a"] {
            let sql = sql(unhashed, mode, &with_events_key);
            assert!(!sql.contains("session_event_hashes"), "{unhashed}: {sql}");
        }
        let not_known = sql("resource_url:x", mode, &query::StoreFacts::default());
        assert!(!not_known.contains("session_event_hashes"), "{not_known}");
    }
}
