//! The values each session's events have in the columns of few values, kept per session
//! (schema 13, `session_event_values`), and the filters that read them instead of the events:
//! the same sessions either way.

mod common;

use common::*;
use rum_explorer::query;
use rum_explorer::store::Store;
use std::path::PathBuf;

fn generated(dir: &std::path::Path, name: &str, sessions: u64) -> PathBuf {
    let file = dir.join(name);
    rum_explorer::generate::write(&file, rum_explorer::generate::GenerateFormat::Ndjson, sessions, 7, false).expect("generate");
    file
}

/// Sessions whose values are not all kept: one with more statuses than are kept, one with a
/// method that holds the separator, one with a long resource
/// type; and one plain session beside them.
fn unkept_values() -> String {
    let mut lines = String::new();
    let resource = |session: &str, id: usize, status: &str, method: &str, kind: &str| {
        format!(
            "{{\"type\":\"resource\",\"date\":{},\"session\":{{\"id\":\"{session}\"}},\"resource\":{{\"id\":\"r{id}\",\"url\":\"https://a.example/{id}\",\"status_code\":{status},\"method\":\"{method}\",\"type\":\"{kind}\",\"duration\":1000}}}}\n",
            1_700_000_000_000u64 + id as u64
        )
    };
    for i in 0..40 {
        lines.push_str(&resource("s-many", i, &(300 + i).to_string(), "GET", "xhr"));
    }
    lines.push_str(&resource("s-odd", 100, "404", "GET\\u001fPOST", "fetch"));
    lines.push_str(&resource("s-long", 101, "200", "GET", &"t".repeat(80)));
    lines.push_str(&resource("s-plain", 102, "200", "GET", "xhr"));
    lines
}

const FILTERS: &[&str] = &[
    "resource_status:500",
    "resource_status:503",
    "-resource_status:200",
    "resource_method:POST browser:Chrome",
    "error_source:network OR action_type:tap",
    "resource_type:xhr -view_loading_type:route_change",
    "view_loading_type:initial_load",
    "resource_status:500 resource_status:401",
    "error_handling:unhandled -error_source:console",
    "resource_status:310",
    "resource_status:339",
    "resource_method:\"GET\u{1f}POST\"",
    "resource_type:xhr",
    "-resource_type:fetch",
    "resource_method:GET",
    "resource_status:>=500",
    "resource_status:>401",
    "resource_status:<401",
    "resource_status:[401 TO 404]",
    "resource_status:[* TO 300]",
    "-resource_status:>=500",
    "resource_status:[320.5 TO 330]",
    "resource_status:>abc",
    "resource_status:>=500 OR error_source:console",
    "resource_status:5*",
    "resource_status:3?9",
    "-resource_status:2*",
    "resource_method:p*",
    "resource_type:X?R",
    "-resource_type:*etc*",
    "error_source:*work",
    "resource_type:t*",
];

#[test]
fn filters_on_kept_values_select_what_the_events_select() {
    let dir = tempfile::tempdir().expect("tmp");
    let unkept = dir.path().join("unkept.ndjson");
    std::fs::write(&unkept, unkept_values()).expect("write");
    let files = vec![generated(dir.path(), "g.ndjson", 150), unkept];
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    import(&mut store, &files);
    assert!(store.event_values_kept().expect("fact"), "a database created empty keeps them from the start");
    assert!(assert_event_values_match_events(&store, "generated and unkept") > 150);
    let tokens = |id: &str| -> String {
        store
            .conn
            .query_row("SELECT tokens FROM session_event_values JOIN sessions USING (session_pk) WHERE session_id = ?1", [id], |r| r.get(0))
            .expect("tokens")
    };
    assert!(tokens("s-many").contains("\u{1f}rs*\u{1f}"), "{}", tokens("s-many"));
    assert!(tokens("s-odd").contains("\u{1f}rm*\u{1f}") && tokens("s-odd").contains("\u{1f}rs=404\u{1f}"), "{}", tokens("s-odd"));
    assert!(tokens("s-long").contains("\u{1f}rt*\u{1f}"), "{}", tokens("s-long"));

    let kept: Vec<_> = FILTERS.iter().map(|f| answers(&store, f)).collect();
    let kept_pages: Vec<_> = FILTERS.iter().map(|f| first_page(&store, f)).collect();
    // What each filter selects, so that the comparison below can fail.
    let selected = |filter: &str| kept[FILTERS.iter().position(|f| *f == filter).expect("listed")].0.clone();
    let total = 154;
    for (filter, (ids, count)) in FILTERS.iter().zip(&kept) {
        assert_eq!(*count as usize, ids.len(), "{filter}");
        assert!(ids.len() < total, "{filter} selects some sessions, not all");
    }
    assert!(selected("resource_status:500").len() > 5);
    assert!(selected("resource_status:503").is_empty());
    assert_eq!(selected("resource_status:310"), ["s-many"], "among statuses not kept");
    assert_eq!(selected("resource_status:339"), ["s-many"]);
    assert_eq!(selected("resource_method:\"GET\u{1f}POST\""), ["s-odd"]);
    assert!(selected("-resource_status:200").contains(&"s-many".to_string()) && !selected("-resource_status:200").contains(&"s-plain".to_string()));
    assert!(selected("resource_type:xhr").contains(&"s-plain".to_string()));
    let with_5xx = selected("resource_status:>=500");
    assert!(with_5xx.len() > 10 && !with_5xx.contains(&"s-many".to_string()) && !with_5xx.contains(&"s-plain".to_string()), "{with_5xx:?}");
    assert_eq!(selected("resource_status:[320.5 TO 330]"), ["s-many"], "statuses not kept, between kept ones");
    assert!(selected("resource_status:[* TO 300]").contains(&"s-plain".to_string()));
    // Patterns: the values seen that they match, and the events of sessions whose values were not all kept.
    assert_eq!(selected("resource_status:5*"), with_5xx, "every status from 500 starts with 5 here");
    assert_eq!(selected("resource_status:3?9"), ["s-many"]);
    assert!(selected("resource_method:p*").len() > 5 && selected("resource_type:X?R").contains(&"s-plain".to_string()));
    assert_eq!(selected("resource_type:t*"), ["s-long"], "a value not kept");

    // A database whose values are not known asks the events.
    store.conn.execute("DELETE FROM store_facts WHERE name = 'session_event_values_kept'", []).expect("forget");
    assert!(!store.event_values_kept().expect("fact"));
    for (filter, answer) in FILTERS.iter().zip(&kept) {
        assert_eq!(&answers(&store, filter), answer, "{filter}");
    }
    for (filter, page) in FILTERS.iter().zip(&kept_pages) {
        assert_eq!(&first_page(&store, filter), page, "{filter}");
    }
}

#[test]
fn a_term_on_a_kept_value_reads_the_kept_values_not_the_events() {
    let scopes = query::StoreFacts { event_values_kept: true, ..Default::default() };
    let sql = |filter: &str, mode: query::EventMatch, scopes: Option<&query::StoreFacts>| {
        query::parse(filter).expect("parse").expect("a filter").to_sql_with(&mut Vec::new(), mode, scopes)
    };
    for mode in [query::EventMatch::AsSet, query::EventMatch::PerSession] {
        let kept = sql("resource_status:503", mode, Some(&scopes));
        assert!(kept.starts_with("s.session_pk IN (SELECT v.session_pk FROM session_event_values") || kept.starts_with("EXISTS (SELECT 1 FROM session_event_values"), "{kept}");
        // The events only for a session whose statuses were not all kept.
        assert!(kept.contains("instr(v.tokens") && kept.contains("e.session_pk = v.session_pk"), "{kept}");
        // With no value seen, only a session whose statuses were not all kept can have one above 500.
        let compared = sql("resource_status:>500", mode, Some(&scopes));
        assert!(compared.contains("session_event_values") && compared.contains("instr(v.tokens"), "{compared}");
        // A pattern: the values seen that it matches.
        let pattern = sql("resource_method:G*", mode, Some(&scopes));
        assert!(pattern.contains("session_event_values") && pattern.contains("instr(v.tokens"), "{pattern}");
        for asks_events in ["resource_status:>abc", "resource_method:>G", "resource_status:500.0", "resource_url:x"] {
            let sql = sql(asks_events, mode, Some(&scopes));
            assert!(!sql.contains("session_event_values"), "{asks_events}: {sql}");
        }
        let not_known = sql("resource_status:503", mode, Some(&query::StoreFacts::default()));
        assert!(!not_known.contains("session_event_values"), "{not_known}");
    }
}

#[test]
fn learning_counts_the_values_the_import_kept() {
    let dir = tempfile::tempdir().expect("tmp");
    let unkept = dir.path().join("unkept.ndjson");
    std::fs::write(&unkept, unkept_values()).expect("write");
    let mut files = vec![generated(dir.path(), "g.ndjson", 60), unkept, own_fixture("tricky.lp"), own_fixture("views.ndjson")];
    if let Some(datadog) = third_party("datadog-rum-events-format") {
        files.push(datadog);
    }
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    import(&mut store, &files);
    let imported = kept_event_values(&store);
    assert_eq!(imported.len(), assert_event_values_match_events(&store, "imported"));
    let seen = |store: &Store| -> String {
        store.conn.query_row("SELECT value FROM store_facts WHERE name = 'event_values_seen'", [], |r| r.get(0)).expect("values seen")
    };
    let seen_imported = seen(&store);
    assert!(seen_imported.contains("\u{1f}rs=200\u{1f}"), "{seen_imported}");
    // As a database from before schema 13: the table empty, the fact absent.
    store.conn.execute_batch("DELETE FROM session_event_values; DELETE FROM store_facts WHERE name = 'session_event_values_kept';").expect("forget");
    assert!(store.learn_fields_and_values().expect("learn"));
    assert!(store.event_values_kept().expect("fact"));
    assert_eq!(kept_event_values(&store), imported);
    assert_eq!(seen(&store), seen_imported);
}
