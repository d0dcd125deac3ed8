//! The filter language against answers computed independently from the imported sessions.

mod common;

use common::*;
use rum_explorer::query::{self, Expr, Matcher};
use rum_explorer::store::{SessionDetail, SessionQuery, SessionRow, Store};
use std::collections::BTreeSet;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    sessions: Vec<SessionRow>,
    details: Vec<SessionDetail>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("g.lp");
    rum_explorer::generate::write(&file, rum_explorer::generate::GenerateFormat::Lp, 200, 42, false).expect("generate");
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    import(&mut store, &[file]);
    let sessions = all_sessions(&store);
    let details = sessions.iter().map(|s| store.session_detail(&s.session_id).expect("q").expect("exists")).collect();
    Fixture { _dir: dir, store, sessions, details }
}

fn ids_for(f: &Fixture, filter: &str) -> BTreeSet<String> {
    let parsed = query::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let q = SessionQuery { filter: parsed, limit: 100_000, ..Default::default() };
    let rows = f.store.sessions(&q).unwrap_or_else(|e| panic!("{filter}: {e}"));
    assert_eq!(f.store.count_sessions(&q).expect("count") as usize, rows.len(), "{filter}: count agrees");
    rows.into_iter().map(|r| r.session_id).collect()
}

fn expected(f: &Fixture, keep: impl Fn(&SessionRow, &SessionDetail) -> bool) -> BTreeSet<String> {
    f.sessions.iter().zip(&f.details).filter(|(s, d)| keep(s, d)).map(|(s, _)| s.session_id.clone()).collect()
}

fn check(f: &Fixture, filter: &str, keep: impl Fn(&SessionRow, &SessionDetail) -> bool) {
    let want = expected(f, keep);
    assert!(!want.is_empty() && want.len() < f.sessions.len(), "{filter}: a test that can fail selects some but not all ({})", want.len());
    assert_eq!(ids_for(f, filter), want, "{filter}");
}

#[test]
fn every_construct_matches_an_independent_answer() {
    let f = fixture();
    assert_eq!(f.sessions.len(), 200);
    let is = |v: &Option<String>, s: &str| v.as_deref() == Some(s);
    check(&f, "browser:Chrome", |s, _| is(&s.browser, "Chrome"));
    check(&f, "-browser:Chrome", |s, _| !is(&s.browser, "Chrome"));
    check(&f, "browser:*FIRE*", |s, _| s.browser.as_deref().is_some_and(|b| b.to_lowercase().contains("fire")));
    check(&f, "browser:Saf?ri", |s, _| is(&s.browser, "Safari"));
    check(&f, "duration_ms:>60000", |s, _| s.duration_ms.is_some_and(|d| d > 60_000));
    check(&f, "error_count:>=1", |s, _| s.error_count >= 1);
    check(&f, "error_count:<1", |s, _| s.error_count < 1);
    check(&f, "view_count:[2 TO 4]", |s, _| (2..=4).contains(&s.view_count));
    check(&f, "view_count:[5 TO *]", |s, _| s.view_count >= 5);
    check(&f, "user_id:*", |s, _| s.user_id.is_some());
    check(&f, "-user_id:*", |s, _| s.user_id.is_none());
    check(&f, "Berlin", |s, _| is(&s.city, "Berlin"));
    check(&f, "\"São Paulo\"", |s, _| is(&s.city, "São Paulo"));
    check(&f, "city:\"New York\"", |s, _| is(&s.city, "New York"));
    check(&f, "browser:Chrome os:Windows", |s, _| is(&s.browser, "Chrome") && is(&s.os, "Windows"));
    check(&f, "browser:Chrome AND os:Windows", |s, _| is(&s.browser, "Chrome") && is(&s.os, "Windows"));
    check(&f, "(browser:Safari OR os:iOS) -env:staging", |s, _| {
        (is(&s.browser, "Safari") || is(&s.os, "iOS")) && !is(&s.env, "staging")
    });
    check(&f, "NOT (browser:Chrome OR browser:Safari)", |s, _| !is(&s.browser, "Chrome") && !is(&s.browser, "Safari"));
    // Event keys: a session matches when any of its events does.
    let has_event = |d: &SessionDetail, key: &str, value: &str| d.events.iter().any(|e| e.get(key).is_some_and(|v| v.to_string() == value));
    check(&f, "error_type:TypeError", |_, d| has_event(d, "error_type", "TypeError"));
    check(&f, "-error_type:TypeError", |_, d| !has_event(d, "error_type", "TypeError"));
    check(&f, "view_path:/checkout/payment", |_, d| has_event(d, "view_path", "/checkout/payment"));
    check(&f, "-view_path:/checkout/payment", |_, d| !has_event(d, "view_path", "/checkout/payment"));
    check(&f, "view_path:/product*", |_, d| d.events.iter().any(|e| e.get_str("view_path").is_some_and(|p| p.starts_with("/product"))));
    check(&f, "resource_status:>=500", |_, d| d.events.iter().any(|e| e.get("resource_status").and_then(|v| v.as_i64()).is_some_and(|s| s >= 500)));
    check(&f, "loading_time:>3000000000", |_, d| d.events.iter().any(|e| e.kind == "view" && e.get("loading_time").and_then(|v| v.as_i64()).is_some_and(|t| t > 3_000_000_000)));
    // Extended fields: on the session, and on events.
    check(&f, "network_type:wifi", |s, _| s.extended_fields.get("network_type").and_then(|v| v.as_str()) == Some("wifi"));
    check(&f, "resource_status_group:5xx", |_, d| has_event(d, "resource_status_group", "5xx"));
    check(&f, "blocking_duration:>100000000", |_, d| d.events.iter().any(|e| e.get("blocking_duration").and_then(|v| v.as_i64()).is_some_and(|b| b > 100_000_000)));
}

#[test]
fn time_range_and_dates_in_filters() {
    let f = fixture();
    let mid = 1_763_000_000_000i64; // 2025-11-13 02:13:20 UTC, inside the generated week
    check(&f, "start_ms:>=1763000000000", |s, _| s.start_ms.is_some_and(|t| t >= mid));
    check(&f, "start_ms:>=\"2025-11-13 02:13:20\"", |s, _| s.start_ms.is_some_and(|t| t >= mid));
    let q = SessionQuery { from_ms: Some(mid), to_ms: Some(mid + 86_400_000), limit: 1000, ..Default::default() };
    let rows = f.store.sessions(&q).expect("q");
    let want = f.sessions.iter().filter(|s| s.start_ms.is_some_and(|t| t >= mid && t < mid + 86_400_000)).count();
    assert!(want > 0);
    assert_eq!(rows.len(), want);
}

#[test]
fn injection_attempts_are_just_values() {
    let f = fixture();
    for filter in [
        "browser:\"'; DROP TABLE sessions; --\"",
        "'; DROP TABLE sessions; --",
        "browser:\"x') OR 1=1 --\"",
        "\"a\\\" OR 1=1 --\"",
        "\"x'); DELETE FROM events; --\"",
        "session_id:*';DELETE*",
    ] {
        assert!(ids_for(&f, filter).is_empty(), "{filter}");
    }
    assert_eq!(count(&f.store, "SELECT count(*) FROM sessions"), 200);
    assert!(count(&f.store, "SELECT count(*) FROM events") > 0);
}

#[test]
fn malformed_queries_point_at_the_column() {
    let cases: &[(&str, usize, &str)] = &[
        ("browser:", 9, "value is missing"),
        ("browser: os:x", 9, "value is missing"),
        ("(browser:Chrome", 1, "never closed"),
        ("browser:Chrome)", 15, "unmatched"),
        ("view_count:[1 TO", 12, "never closed"),
        ("view_count:[1 2]", 12, "[low TO high]"),
        ("\"unterminated", 1, "never closed"),
        ("OR browser:x", 1, "expected a term"),
        ("browser:x OR", 11, "both sides"),
        ("browser:x AND", 11, "both sides"),
        (":x", 1, "key is missing"),
        ("()", 2, "empty parentheses"),
        ("duration_ms:>", 14, "missing"),
    ];
    for (text, column, message) in cases {
        let error = query::parse(text).err().unwrap_or_else(|| panic!("{text} should not parse"));
        assert_eq!(error.column, *column, "{text}: {error}");
        assert!(error.message.contains(message), "{text}: {error}");
    }
}

#[test]
fn parse_tree_and_round_trip() {
    let parsed = query::parse("-env:staging browser:*chr* view_path:\"/a b\" duration_ms:>=5 user_id:*").expect("ok").expect("some");
    let Expr::And(terms) = &parsed.expr else { panic!("AND of terms") };
    assert_eq!(terms.len(), 5);
    assert!(matches!(&terms[0], Expr::Not(inner) if matches!(inner.as_ref(), Expr::Term { key, .. } if key == "env")));
    assert!(matches!(&terms[1], Expr::Term { matcher: Matcher::Wildcard(w), .. } if w == "*chr*"));
    assert!(matches!(&terms[2], Expr::Term { matcher: Matcher::Equals(v), .. } if v == "/a b"));
    assert!(matches!(&terms[4], Expr::Term { matcher: Matcher::Exists, .. }));
    let text = parsed.expr.to_string();
    assert_eq!(query::parse(&text).expect("reparse").expect("some"), parsed, "{text}");
    assert_eq!(query::parse("   ").expect("empty is fine"), None);
    assert_eq!(query::term_text("view_path", "/a b", true), "-view_path:\"/a b\"");
}

/// Datadog's names for the fields the import renames work in a query and a sort, with or
/// without its facet `@`, whatever format the data came in: the same sessions, in the same
/// order, as the explorer's names.
#[test]
fn datadog_field_names_mean_the_fields_the_import_renamed() {
    let f = fixture();
    let some = |value: Option<&String>, what: &str| value.unwrap_or_else(|| panic!("a session with {what}")).clone();
    let first_with = |pick: fn(&SessionRow) -> Option<&String>| f.sessions.iter().find_map(pick).cloned();
    let user = some(first_with(|s| s.user_id.as_ref()).as_ref(), "a user");
    let country = some(first_with(|s| s.country.as_ref()).as_ref(), "a country");
    let page = some(first_with(|s| s.first_view_path.as_ref()).as_ref(), "a page");
    let error_type = f
        .details
        .iter()
        .flat_map(|d| d.events.iter())
        .find_map(|e| e.get_str("error_type").map(str::to_string))
        .expect("an error with a type");
    let pairs = [
        (format!("@usr.id:{user}"), format!("user_id:{user}")),
        (format!("usr.id:{user}"), format!("user_id:{user}")),
        ("@browser.name:Chrome".to_string(), "browser:Chrome".to_string()),
        ("-browser.name:Chrome os.name:iOS".to_string(), "-browser:Chrome os:iOS".to_string()),
        (format!("@geo.country:\"{country}\""), format!("country:\"{country}\"")),
        (format!("@view.url_path:{page}"), format!("view_path:{page}")),
        (format!("@error.type:\"{error_type}\""), format!("error_type:\"{error_type}\"")),
        ("@application.id:*".to_string(), "app_id:*".to_string()),
    ];
    for (datadog, ours) in &pairs {
        let expected = ids_for(&f, ours);
        assert!(!expected.is_empty(), "{ours} selects sessions");
        assert_eq!(ids_for(&f, datadog), expected, "{datadog} against {ours}");
    }
    // A sort by a Datadog name is the sort by the field it names.
    let sorted = |column: &str| -> Vec<String> {
        let q = SessionQuery { limit: 100_000, sort_column: Some(column.into()), ..Default::default() };
        f.store.sessions(&q).expect("sorted").into_iter().map(|r| r.session_id).collect()
    };
    assert_eq!(sorted("@browser.name"), sorted("browser"));
    assert_eq!(sorted("geo.country"), sorted("country"));
    // And as a column: the value of the field it names.
    for row in &f.sessions {
        assert_eq!(row.value_text("@geo.country"), row.country.clone(), "{}", row.session_id);
        assert_eq!(row.value_text("usr.id"), row.user_id.clone(), "{}", row.session_id);
    }
    // A key the import keeps as it comes is itself, `@` or not; a lone `@` is a key of its own.
    assert_eq!(query::field_key("@usr.plan"), "usr.plan");
    assert_eq!(query::field_key("usr.plan"), "usr.plan");
    assert_eq!(query::field_key("@"), "@");
    assert_eq!(query::field_key("resource.duration"), "resource.duration", "renamed on resources only");
}

#[test]
fn any_event_key_or_extended_field_can_be_a_column_and_a_sort() {
    let f = fixture();
    let q = SessionQuery {
        limit: 100_000,
        sort_column: Some("loading_time".into()),
        extra_columns: vec!["loading_time".into(), "view_resource_count".into(), "screen_size".into()],
        ..Default::default()
    };
    let rows = f.store.sessions(&q).expect("sessions with extra columns");
    assert_eq!(rows.len(), f.sessions.len());
    let by_id: std::collections::HashMap<_, _> = f.details.iter().map(|d| (d.session.session_id.clone(), d)).collect();
    let mut previous = i64::MIN;
    for row in &rows {
        let detail = by_id[&row.session_id];
        // Expected: the first value in time order among the session's events.
        let first = |key: &str| detail.events.iter().find_map(|e| e.get(key)).map(|v| v.to_json());
        let loading = first("loading_time");
        assert_eq!(row.extended_fields.get("loading_time").cloned(), loading, "{}", row.session_id);
        assert_eq!(row.extended_fields.get("view_resource_count").cloned(), first("view_resource_count"), "{}", row.session_id);
        assert!(row.value_text("screen_size").is_some(), "a session-scoped field stays");
        assert!(row.extended_fields.contains_key("view_resource_count"), "an event's extra field");
        let n = loading.and_then(|v| v.as_i64()).unwrap_or(i64::MIN);
        assert!(n >= previous, "sorted by the first loading time");
        previous = n;
    }
}

#[test]
fn first_pages_of_filtered_lists_are_exact_whatever_the_search_window() {
    let mut f = fixture();
    // Session columns, event columns and extended fields (the window asks event terms per
    // session, the full list as a set: both must give the same sessions).
    let filters = [
        "browser:Chrome",
        "error_count:>0",
        "browser:Chrome error_count:>0",
        "os:iOS",
        "country:Japan -browser:Safari",
        "view_count:>8",
        "view_path:/checkout/payment",
        "-view_path:/cart* browser:Chrome",
        "-error_type:TypeError",
        "error_type:TypeError",
        "error_type:TypeError browser:Chrome -action_name:\"click on Save\"",
        "browser:Chrome resource_status_group:5xx",
        "network_type:wifi OR resource_status:>=500",
        "action_name:\"click on Copy\"",
        "action_name:\"click on Pay\" browser:Chrome",
        "error_message:\"checkoutState is not defined\"",
        "-action_name:\"click on Save\"",
    ];
    let sorts = [("start_ms", true), ("duration_ms", true), ("browser", false), ("error_count", true), ("last_view_path", false)];
    // A rare value of an indexed term skips the windows (`few_matching_rows`): both ways.
    for (window, few_matching_rows) in [(20_000, 2_000), (20_000, 0), (60, 0), (25, 2_000)] {
        f.store.filter_window = window;
        f.store.few_matching_rows = few_matching_rows;
        for filter in filters {
            for (sort, descending) in sorts {
                for (limit, offset) in [(5, 0), (3, 2), (20, 0)] {
                    let q = SessionQuery {
                        filter: query::parse(filter).expect("parse"),
                        sort_column: Some(sort.into()),
                        descending,
                        limit,
                        offset,
                        ..Default::default()
                    };
                    let page: Vec<String> = f.store.sessions(&q).expect("page").into_iter().map(|r| r.session_id).collect();
                    // The same page cut from the full, independently sorted match list.
                    let all = SessionQuery { limit: 100_000, offset: 0, ..q.clone() };
                    f.store.filter_window = 0; // no window: SQLite's own plan
                    let full: Vec<String> = f.store.sessions(&all).expect("all").into_iter().map(|r| r.session_id).collect();
                    f.store.filter_window = window;
                    let expected: Vec<String> = full.into_iter().skip(offset as usize).take(limit as usize).collect();
                    assert_eq!(page, expected, "{filter} by {sort} desc={descending} window {window} limit {limit} offset {offset}");
                }
            }
        }
    }
}

#[test]
fn first_pages_ask_event_terms_per_session_not_over_every_event() {
    let f = fixture();
    // Pages from the session's own list of pages, other event terms from its events; a scan
    // of either table reads every row (seconds at a million sessions).
    let cases = [
        ("view_path:/checkout/payment", "session_pages_by_session"),
        ("-error_type:TypeError browser:Chrome", "COVERING INDEX events_by_error_type (error_type=? AND session_pk=?)"),
        ("resource_status_group:5xx", "events_by_session_key"),
        ("view_path:/cart*", "session_pages_by_session"),
        // An exact action name, error message or type: one seek per session in its index.
        ("error_type:TypeError browser:Chrome", "COVERING INDEX events_by_error_type (error_type=? AND session_pk=?)"),
        ("action_name:\"click on Pay\"", "COVERING INDEX events_by_action_name (action_name=? AND session_pk=?)"),
        ("error_message:\"checkoutState is not defined\"", "COVERING INDEX events_by_error_message (error_message=? AND session_pk=?)"),
    ];
    for (filter, index) in cases {
        let q = SessionQuery { filter: query::parse(filter).expect("parse"), limit: 50, descending: true, ..Default::default() };
        let plan = f.store.window_page_plan(&q).expect("plan").expect("a filtered page sorted by start takes a window");
        assert!(plan.contains(index), "{filter}:\n{plan}");
        assert!(!plan.lines().any(|step| step.starts_with("SCAN e") || step.starts_with("SCAN p")), "{filter}:\n{plan}");
    }
    let unfiltered = SessionQuery { limit: 50, ..Default::default() };
    assert_eq!(f.store.window_page_plan(&unfiltered).expect("plan"), None);
}

/// Once the first sessions in sort order have not filled a page, a filter no index serves reads
/// the table in storage order and sorts its few matches, where walking the sort column's index
/// read each session at random (a value no session has: 5.3-6.6 s at 1,000,000 sessions, 0.4 s
/// in order); a time range or a term on the sort column still takes that index.
#[test]
fn a_page_the_first_sessions_do_not_fill_reads_the_table_in_order_unless_the_sort_column_narrows_it() {
    let f = fixture();
    let plan = |filter: &str, from_ms: Option<i64>, sort: &str| {
        let q = SessionQuery {
            filter: query::parse(filter).expect("parse"),
            from_ms,
            sort_column: Some(sort.into()),
            limit: 50,
            descending: true,
            ..Default::default()
        };
        f.store.page_plan_after_windows(&q).expect("plan")
    };
    for filter in ["browser:*zzz*", "zzzqqq", "screen_size:\"1x1\"", "-browser:Chrome os:*dows*"] {
        let scan = plan(filter, None, "start_ms");
        assert!(scan.contains("SCAN s") && scan.contains("TEMP B-TREE FOR ORDER BY") && !scan.contains("sessions_by_start_ms"), "{filter}:\n{scan}");
    }
    // A range of the last tenth of the sessions is read through the start's index; one of
    // every session (a quarter or more) in storage order like the rest.
    let mut starts: Vec<i64> = f.sessions.iter().filter_map(|s| s.start_ms).collect();
    starts.sort_unstable();
    let (narrow, wide) = (Some(starts[starts.len() * 9 / 10]), Some(starts[0]));
    let ranged = plan("zzzqqq", narrow, "duration_ms");
    assert!(ranged.contains("TEMP B-TREE FOR ORDER BY") && ranged.contains("sessions_by_start_ms") && !ranged.contains("sessions_by_duration_ms"), "{ranged}");
    for sort in ["start_ms", "duration_ms"] {
        let scan = plan("zzzqqq", wide, sort);
        assert!(scan.contains("SCAN s") && scan.contains("TEMP B-TREE FOR ORDER BY") && !scan.contains("sessions_by_"), "wide range by {sort}:\n{scan}");
    }
    for (filter, from_ms, sort) in [("zzzqqq", narrow, "start_ms"), ("start_ms:>1 zzzqqq", None, "start_ms"), ("duration_ms:>1 zzzqqq", None, "duration_ms")] {
        let walk = plan(filter, from_ms, sort);
        assert!(walk.contains(&format!("sessions_by_{sort}")) && !walk.contains("TEMP B-TREE"), "{filter} by {sort}:\n{walk}");
    }
    // The pages read in order are those of SQLite's own plan (no windows first).
    let mut f = f;
    let mut compared = 0;
    for filter in ["browser:*fire*", "-browser:Chrome os:*dows*", "checkout", "error_count:>=3 browser:*a*"] {
        for from_ms in [None, narrow, wide] {
            for (sort, descending) in [("start_ms", true), ("start_ms", false), ("duration_ms", true), ("browser", false)] {
                let q = SessionQuery {
                    filter: query::parse(filter).expect("parse"),
                    from_ms,
                    sort_column: Some(sort.into()),
                    descending,
                    limit: 4,
                    offset: 1,
                    ..Default::default()
                };
                let page = |store: &Store| -> Vec<String> { store.sessions(&q).expect("page").into_iter().map(|r| r.session_id).collect() };
                f.store.filter_window = 3;
                let after_windows = page(&f.store);
                f.store.filter_window = 0;
                assert_eq!(after_windows, page(&f.store), "{filter} from {from_ms:?} by {sort} desc={descending}");
                compared += usize::from(!after_windows.is_empty());
            }
        }
    }
    assert!(compared > 20, "{compared} pages with sessions compared");
}

/// When the first sessions in sort order do not fill a page (a rare value, or one no session
/// has), the page and the count collect every matching session: for an action's name or an
/// error's message that comes from their index (schema 7), not from a scan of every event
/// (44 s cold at a million sessions).
#[test]
fn sessions_with_a_named_action_or_error_message_are_collected_from_an_index() {
    let f = fixture();
    let cases = [
        ("action_name:checkout", "events_by_action_name"),
        ("action_name:\"click on Pay\" browser:Chrome", "events_by_action_name"),
        ("error_message:\"no such message\"", "events_by_error_message"),
    ];
    for (filter, index) in cases {
        let q = SessionQuery { filter: query::parse(filter).expect("parse"), ..Default::default() };
        let (where_sql, params) = rum_explorer::store::session_where(&q);
        let sql = format!("EXPLAIN QUERY PLAN SELECT count(*) FROM sessions s WHERE {where_sql}");
        let mut statement = f.store.conn.prepare(&sql).expect("prepare");
        let steps: Vec<String> = statement
            .query_map(rusqlite::params_from_iter(params), |r| r.get(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("steps");
        let plan = steps.join("\n");
        assert!(plan.contains(index), "{filter}:\n{plan}");
        assert!(!steps.iter().any(|step| step.starts_with("SCAN e")), "{filter}:\n{plan}");
    }
    // Such a rare value is collected at once; a common one (by a lower bar), a negated one or
    // one under an OR is looked for in sort order.
    let mut f = f;
    let takes_window = |f: &Fixture, filter: &str| {
        let q = SessionQuery { filter: query::parse(filter).expect("parse"), limit: 5, descending: true, ..Default::default() };
        f.store.takes_search_window(&q).expect("window")
    };
    for rare in ["action_name:checkout", "action_name:\"click on Pay\" browser:Chrome", "error_message:\"no such message\"", "view_path:/nowhere", "error_type:NoSuchError"] {
        assert!(!takes_window(&f, rare), "{rare}");
    }
    for looked_for in ["-action_name:checkout", "action_name:checkout OR browser:Chrome", "action_name:*Pay*", "browser:Chrome"] {
        assert!(takes_window(&f, looked_for), "{looked_for}");
    }
    f.store.few_matching_rows = 10;
    assert!(takes_window(&f, "action_name:\"click on Pay\""), "more than 10 such actions");
    assert!(!takes_window(&f, "action_name:checkout"), "none");
    f.store.few_matching_rows = rum_explorer::store::FEW_MATCHING_ROWS;
    // The answers: none for a name no session has, and exactly the sessions that have it.
    assert!(ids_for(&f, "action_name:checkout").is_empty());
    check(&f, "action_name:\"click on Copy\"", |_, d| d.events.iter().any(|e| e.get_str("action_name") == Some("click on Copy")));
}

/// SQLite's order of values: NULL, then numbers, then text.
fn sqlite_order(a: &Option<serde_json::Value>, b: &Option<serde_json::Value>) -> std::cmp::Ordering {
    use serde_json::Value;
    let rank = |v: &Option<Value>| match v {
        None | Some(Value::Null) => 0,
        Some(Value::Number(_)) => 1,
        Some(_) => 2,
    };
    rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().unwrap_or(0.0).partial_cmp(&y.as_f64().unwrap_or(0.0)).unwrap_or(std::cmp::Ordering::Equal)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.as_bytes().cmp(y.as_bytes()),
        _ => std::cmp::Ordering::Equal,
    })
}

/// A sort by a column without an index (an event key, an event's extra field, a session's
/// extended field), filtered or not: every page is the slice of an order computed here from
/// each session's first value in time order, and shows the value it was sorted by. The whole
/// order is kept after the first page, so later pages must come out of it right too.
#[test]
fn pages_of_a_sort_without_an_index_are_slices_of_the_independent_order() {
    let mut f = fixture();
    let by_id: std::collections::HashMap<_, _> = f.details.iter().map(|d| (d.session.session_id.clone(), d)).collect();
    let cases = [
        ("loading_time", ""),
        ("error_type", ""),
        ("error_type", "browser:Chrome"),
        ("view_resource_count", "error_count:>0"),
        ("loading_time", "-view_path:/cart* browser:*i*"),
        ("screen_size", "os:iOS OR os:Android"),
    ];
    for (sort, filter) in cases {
        let matching = if filter.is_empty() { f.sessions.iter().map(|s| s.session_id.clone()).collect() } else { ids_for(&f, filter) };
        let value_of = |id: &str| -> Option<serde_json::Value> {
            let detail = by_id[id];
            detail.session.extended_fields.get(sort).cloned().or_else(|| detail.events.iter().find_map(|e| e.get(sort)).map(|v| v.to_json()))
        };
        let mut order: Vec<(Option<serde_json::Value>, i64, String)> =
            f.sessions.iter().filter(|s| matching.contains(&s.session_id)).map(|s| (value_of(&s.session_id), s.session_pk, s.session_id.clone())).collect();
        order.sort_by(|a, b| sqlite_order(&a.0, &b.0).then(a.1.cmp(&b.1)));
        let distinct: BTreeSet<String> = order.iter().filter_map(|(v, _, _)| v.as_ref().map(|v| v.to_string())).collect();
        assert!(distinct.len() > 1, "{sort}: a test that can fail sorts differing values");
        // Values read in one pass over the events, or looked up session by session.
        for (descending, lookup_sessions) in [(false, 0), (true, 0), (false, 1_000_000), (true, 1_000_000)] {
            f.store.value_lookup_sessions = lookup_sessions;
            let expected: Vec<&(Option<serde_json::Value>, i64, String)> =
                if descending { order.iter().rev().collect() } else { order.iter().collect() };
            for (offset, limit) in [(0, 7), (7, 7), (50, 20), (order.len() as u64 - 3, 7), (order.len() as u64 + 5, 7)] {
                let q = SessionQuery {
                    filter: query::parse(filter).expect("parse"),
                    sort_column: Some(sort.into()),
                    descending,
                    limit,
                    offset,
                    extra_columns: vec![sort.into()],
                    ..Default::default()
                };
                let page = f.store.sessions(&q).expect("page");
                let want: Vec<_> = expected.iter().skip(offset as usize).take(limit as usize).collect();
                let what = format!("{sort} [{filter}] desc={descending} lookups under {lookup_sessions} offset {offset}");
                assert_eq!(page.iter().map(|r| r.session_id.clone()).collect::<Vec<_>>(), want.iter().map(|w| w.2.clone()).collect::<Vec<_>>(), "{what}");
                for (row, w) in page.iter().zip(&want) {
                    assert_eq!(row.extended_fields.get(sort).cloned(), w.0, "{what}: {} shows the value it was sorted by", row.session_id);
                }
                assert_eq!(f.store.sorted_keys_cached(), Some(order.len()), "{what}: the whole order is kept");
            }
        }
    }
}

/// The order of every session by a column without an index, once read, gives the other
/// direction and the order of any later selection by the same column without reading the
/// values again (seconds at a million sessions); what it gives is the selection's own order.
#[test]
fn a_kept_order_of_every_session_serves_the_other_direction_and_later_selections() {
    let f = fixture();
    let ids = |filter: &str, sort: &str, descending: bool| -> Vec<String> {
        let q = SessionQuery {
            filter: query::parse(filter).expect("parse"),
            sort_column: Some(sort.into()),
            descending,
            limit: 100_000,
            ..Default::default()
        };
        f.store.sessions(&q).expect("page").into_iter().map(|r| r.session_id).collect()
    };
    for sort in ["loading_time", "screen_size"] {
        let ascending = ids("", sort, false);
        assert_eq!(ascending.len(), f.sessions.len());
        let reads = f.store.sort_value_reads();
        let mut descending = ids("", sort, true);
        descending.reverse();
        assert_eq!(descending, ascending, "{sort}: descending is the same order read from its end");
        for filter in ["browser:Chrome", "error_count:>0", "view_path:/cart*", "-os:iOS"] {
            let matching = ids_for(&f, filter);
            let expected: Vec<String> = ascending.iter().filter(|id| matching.contains(*id)).cloned().collect();
            assert!(!expected.is_empty() && expected.len() < ascending.len(), "{filter}: a selection");
            assert_eq!(ids(filter, sort, false), expected, "{sort} [{filter}]");
            let mut backwards = ids(filter, sort, true);
            backwards.reverse();
            assert_eq!(backwards, expected, "{sort} [{filter}] descending");
        }
        assert_eq!(f.store.sort_value_reads(), reads, "{sort}: the values were read once");
    }
    // Another column, or a selection first, reads values as before.
    let reads = f.store.sort_value_reads();
    ids("browser:Safari", "error_type", false);
    assert_eq!(f.store.sort_value_reads(), reads + 1);
}

/// The kept order of a sort without an index is read again once the data changes, whether
/// this connection wrote (an import in the window) or another one did (the command line).
#[test]
fn a_kept_sort_order_follows_new_data_from_this_connection_and_from_another() {
    let dir = tempfile::tempdir().expect("tmp");
    let files: Vec<_> = (0..3u64)
        .map(|seed| {
            let file = dir.path().join(format!("g{seed}.lp"));
            rum_explorer::generate::write(&file, rum_explorer::generate::GenerateFormat::Lp, 30, 100 + seed, false).expect("generate");
            file
        })
        .collect();
    let db = dir.path().join("db.sqlite");
    let mut store = Store::open(&db).expect("open");
    import(&mut store, &files[..1]);
    let page_ids = |store: &Store, offset: u64| -> Vec<String> {
        let q = SessionQuery { sort_column: Some("loading_time".into()), limit: 25, offset, ..Default::default() };
        store.sessions(&q).expect("page").into_iter().map(|r| r.session_id).collect()
    };
    let all_pages = |store: &Store| -> Vec<String> { (0..4).flat_map(|page| page_ids(store, page * 25)).collect() };
    assert_eq!(all_pages(&store).len(), 30);
    assert_eq!(store.sorted_keys_cached(), Some(30));

    let mut other = Store::open(&db).expect("open a second connection");
    import(&mut other, &files[1..2]);
    let pages = all_pages(&store);
    assert_eq!(store.sorted_keys_cached(), Some(60), "another connection's import is seen");
    assert_eq!(pages.iter().collect::<BTreeSet<_>>().len(), 60, "every session once");

    import(&mut store, &files[2..3]);
    let pages = all_pages(&store);
    assert_eq!(store.sorted_keys_cached(), Some(90), "this connection's own import is seen");
    assert_eq!(pages.iter().collect::<BTreeSet<_>>().len(), 90, "every session once");
    let reference: Vec<String> = store
        .sessions(&SessionQuery { sort_column: Some("loading_time".into()), limit: 1000, ..Default::default() })
        .expect("all")
        .into_iter()
        .map(|r| r.session_id)
        .collect();
    assert_eq!(pages, reference, "pages are slices of one order");
}

/// A sort by a view timing reads the views' covering index while the store knows that no
/// other kind of event carries that timing, and the events table once one does; either way
/// each session's first value in time order decides, an action's included.
#[test]
fn a_view_timing_sort_reads_the_views_index_while_only_views_carry_it() {
    let mut f = fixture();
    f.store.value_lookup_sessions = 0;
    let order = |store: &Store| -> Vec<(String, Option<serde_json::Value>)> {
        let q = SessionQuery {
            sort_column: Some("loading_time".into()),
            limit: 100_000,
            extra_columns: vec!["loading_time".into()],
            ..Default::default()
        };
        store.sessions(&q).expect("page").into_iter().map(|r| (r.session_id, r.extended_fields.get("loading_time").cloned())).collect()
    };
    assert!(f.store.sort_reads_views_index("loading_time").expect("check"));
    assert!(f.store.sort_reads_views_index("largest_contentful_paint").expect("check"));
    assert!(!f.store.sort_reads_views_index("view_path").expect("check"), "every kind names its page");
    assert!(!f.store.sort_reads_views_index("error_type").expect("check"), "not in the views' index");
    let before = order(&f.store);
    assert_eq!(before.len(), f.sessions.len());
    // Read from the views' index, the order is the one read from every event.
    f.store.forget_kept_orders();
    f.store.conn.execute_batch("UPDATE store_facts SET value = 'loading_time_ns'").expect("pretend");
    assert!(!f.store.sort_reads_views_index("loading_time").expect("check"));
    assert_eq!(order(&f.store), before, "the same order from the events table");
    f.store.conn.execute_batch("UPDATE store_facts SET value = ''").expect("back");
    // An action with a loading time smaller than any, before the views of the session that
    // sorts last: its value is now that session's first.
    let (last_id, _) = before.last().cloned().expect("sessions");
    let last = f.sessions.iter().find(|s| s.session_id == last_id).expect("row");
    let file = f._dir.path().join("action.lp");
    std::fs::write(
        &file,
        format!("action,session_id={last_id},action_id=early-action,action_type=click loading_time=1i {}\n", last.start_ms.expect("start") - 1),
    )
    .expect("write");
    import(&mut f.store, &[file]);
    assert!(!f.store.sort_reads_views_index("loading_time").expect("check"), "an action carries it now");
    assert!(f.store.sort_reads_views_index("first_contentful_paint").expect("check"), "still views only");
    let mut expected: Vec<_> = before.iter().filter(|(id, _)| *id != last_id).cloned().collect();
    let without_value = expected.iter().take_while(|(_, v)| v.is_none()).count();
    assert!(without_value < expected.len(), "sessions with a loading time");
    expected.insert(without_value, (last_id.clone(), Some(serde_json::json!(1))));
    assert_eq!(order(&f.store), expected);
}

/// A key no field of the data has is found, under any of its names, and the field spelled
/// most like it is offered; replacing it touches only term keys.
#[test]
fn unknown_keys_are_found_and_the_closest_field_offered() {
    let known: Vec<String> = ["browser", "user_id", "view_path", "error_type", "usr.plan", "screen_size"].iter().map(|k| k.to_string()).collect();
    let filter = query::parse("brwoser:Chrome (usr.id:7 OR -@geo.country:Japan) -scren_size:* view_path:/a nothing:x brwoser:Safari")
        .expect("parse")
        .expect("some");
    let keys = filter.expr.term_keys();
    assert_eq!(keys, ["brwoser", "usr.id", "@geo.country", "scren_size", "view_path", "nothing"]);
    let unknown: Vec<&str> = keys.iter().copied().filter(|k| !query::is_known_key(k, &known)).collect();
    // usr.id is user_id under Datadog's name; @geo.country is country, which this data lacks.
    assert_eq!(unknown, ["brwoser", "@geo.country", "scren_size", "nothing"]);
    assert_eq!(query::closest_key("brwoser", &known), Some("browser"), "two letters swapped");
    assert_eq!(query::closest_key("scren_size", &known), Some("screen_size"));
    assert_eq!(query::closest_key("Browser", &known), Some("browser"), "case aside");
    assert_eq!(query::closest_key("nothing", &known), None, "nothing close");
    assert_eq!(query::closest_key("@geo.country", &known), None);
    assert_eq!(
        query::replace_key(r#"brwoser:Chrome -brwoser:Safari (xbrwoser:1 OR view_path:"brwoser:x") brwoser"#, "brwoser", "browser"),
        r#"browser:Chrome -browser:Safari (xbrwoser:1 OR view_path:"brwoser:x") brwoser"#
    );
}

/// The Views and Errors lists against the sessions' own timelines, for session, page and
/// error filters, in every order, whether the lists seek each selected session's events or
/// test every event against the set of selected sessions.
#[test]
fn views_and_errors_lists_are_the_selected_sessions_events_either_way() {
    use rum_explorer::store::ViewSort;
    let mut f = fixture();
    let filters = [
        "",
        "browser:Chrome",
        "browser:Chrome error_count:>0",
        "view_path:/checkout/payment",
        "view_path:/cart browser:Safari",
        "-view_path:/cart* browser:Chrome",
        "error_type:TypeError",
        "error_type:TypeError browser:Chrome",
        "country:Japan OR os:iOS",
        "loading_time:>3000000000",
        // Groups of event terms apply to the events as a whole.
        "error_type:TypeError OR error_type:ReferenceError",
        "(view_path:/cart OR view_path:/checkout/payment) browser:Chrome",
        "-(error_type:TypeError OR error_type:ReferenceError) error_count:>0",
        "(view_path:/cart OR -loading_time:>3000000000)",
        // A group mixing a session field stays on the sessions.
        "(error_type:TypeError OR browser:Safari)",
    ];
    for filter in filters {
        let parsed = if filter.is_empty() { None } else { query::parse(filter).expect("parse") };
        let q = SessionQuery { filter: parsed.clone(), ..Default::default() };
        let selected: BTreeSet<String> = if filter.is_empty() { f.sessions.iter().map(|s| s.session_id.clone()).collect() } else { ids_for(&f, filter) };
        // The terms on view and error fields apply to the events too.
        let terms: Vec<Expr> = parsed.as_ref().map(|p| p.expr.top_level_terms().into_iter().cloned().collect()).unwrap_or_default();
        // An expression's truth on one event; `None` when it names another field.
        fn on_event(expr: &Expr, event: &rum_explorer::store::TimelineEvent, keys: &[&str]) -> Option<bool> {
            match expr {
                Expr::Term { key, matcher } if keys.contains(&key.as_str()) => Some(match matcher {
                    Matcher::Equals(value) => event.get_str(key) == Some(value.as_str()),
                    Matcher::Compare(_, value) => {
                        let bound: f64 = value.parse().expect("a number");
                        event.get(key).and_then(|v| v.as_f64()).is_some_and(|v| v > bound)
                    }
                    // Wildcards, case-insensitive; the test's are prefixes.
                    Matcher::Wildcard(pattern) if pattern.ends_with('*') && !pattern[..pattern.len() - 1].contains(['*', '?']) => {
                        let prefix = pattern[..pattern.len() - 1].to_lowercase();
                        event.get_str(key).is_some_and(|v| v.to_lowercase().starts_with(&prefix))
                    }
                    other => panic!("the test reads no {other:?}"),
                }),
                Expr::Not(inner) => on_event(inner, event, keys).map(|b| !b),
                Expr::Or(terms) => terms.iter().map(|t| on_event(t, event, keys)).collect::<Option<Vec<bool>>>().map(|v| v.contains(&true)),
                Expr::And(terms) => terms.iter().map(|t| on_event(t, event, keys)).collect::<Option<Vec<bool>>>().map(|v| !v.contains(&false)),
                _ => None,
            }
        }
        let holds = |event: &rum_explorer::store::TimelineEvent, keys: &[&str]| terms.iter().all(|term| on_event(term, event, keys).unwrap_or(true));
        let mut views: Vec<(i64, i64)> = Vec::new();
        let mut errors: Vec<(i64, i64)> = Vec::new();
        for (session, detail) in f.sessions.iter().zip(&f.details) {
            if !selected.contains(&session.session_id) {
                continue;
            }
            for event in &detail.events {
                if event.kind == "view" && holds(event, &["view_path", "loading_time"]) {
                    views.push((event.time_ms, event.event_pk));
                }
                if event.kind == "error" && holds(event, &["error_type"]) {
                    errors.push((event.time_ms, event.event_pk));
                }
            }
        }
        views.sort_by(|a, b| b.cmp(a));
        errors.sort_by(|a, b| b.cmp(a));
        assert!(!views.is_empty(), "{filter}: selects views");
        assert!(!filter.contains("error") || !errors.is_empty(), "{filter}: selects errors");
        let loading: std::collections::HashMap<i64, Option<f64>> = f
            .details
            .iter()
            .flat_map(|d| d.events.iter())
            .filter(|e| e.kind == "view")
            .map(|e| (e.event_pk, e.get("loading_time").and_then(|v| v.as_f64())))
            .collect();
        for few_sessions in [usize::MAX, 0] {
            f.store.event_list_few_sessions = few_sessions;
            let (rows, total) = f.store.view_events(&q, "", ViewSort::Time, true, 100_000).expect("views");
            let listed: Vec<(i64, i64)> = rows.iter().map(|r| (r.time_ms, r.event_pk)).collect();
            assert_eq!(listed, views, "{filter}, sought per session: {}", few_sessions > 0);
            assert_eq!(total as usize, views.len(), "{filter}: the total");
            let (first, _) = f.store.view_events(&q, "", ViewSort::Time, true, 3).expect("views");
            assert_eq!(first.iter().map(|r| (r.time_ms, r.event_pk)).collect::<Vec<_>>(), views[..3.min(views.len())].to_vec());
            // The slowest first: the loading times in order, the views without one last.
            let (slowest, _) = f.store.view_events(&q, "", ViewSort::LoadingTime, true, 100_000).expect("views");
            let mut want: Vec<Option<f64>> = views.iter().map(|v| loading[&v.1]).collect();
            want.sort_by(|a, b| match (a, b) {
                (Some(a), Some(b)) => b.total_cmp(a),
                (a, b) => b.is_some().cmp(&a.is_some()),
            });
            assert_eq!(slowest.iter().map(|r| r.loading_time_ns).collect::<Vec<_>>(), want, "{filter}: by loading time");
            let (rows, total) = f.store.error_events(&q, "", 100_000).expect("errors");
            let listed: Vec<(i64, i64)> = rows.iter().map(|r| (r.time_ms, r.event_pk)).collect();
            assert_eq!(listed, errors, "{filter}: errors, sought per session: {}", few_sessions > 0);
            assert_eq!(total as usize, errors.len(), "{filter}: the errors' total");
        }
    }
}

/// The Views tab grouped by page against the sessions' own timelines: each page's (or
/// route's) views and the p75 (nearest rank) of its loading times and LCPs.
#[test]
fn pages_and_routes_have_their_views_and_p75_vitals() {
    let mut f = fixture();
    let p75 = |values: &mut Vec<f64>| {
        values.sort_by(|a, b| a.total_cmp(b));
        (!values.is_empty()).then(|| values[(values.len() * 3).div_ceil(4) - 1])
    };
    for filter in ["", "browser:Chrome", "view_path:/products*"] {
        let parsed = if filter.is_empty() { None } else { query::parse(filter).expect("parse") };
        let q = SessionQuery { filter: parsed, ..Default::default() };
        let selected: BTreeSet<String> = if filter.is_empty() { f.sessions.iter().map(|s| s.session_id.clone()).collect() } else { ids_for(&f, filter) };
        for as_routes in [false, true] {
            // Per page or route: views, loading times, LCPs.
            let mut want: std::collections::BTreeMap<String, (u64, Vec<f64>, Vec<f64>)> = Default::default();
            for (session, detail) in f.sessions.iter().zip(&f.details) {
                if !selected.contains(&session.session_id) {
                    continue;
                }
                for view in detail.events.iter().filter(|e| e.kind == "view") {
                    let path = view.get_str("view_path").unwrap_or("").to_string();
                    if filter.starts_with("view_path:") && !path.starts_with("/products") {
                        continue;
                    }
                    let key = if as_routes { rum_explorer::error_pattern::message_pattern(&path).into_owned() } else { path };
                    let entry = want.entry(key).or_default();
                    entry.0 += 1;
                    entry.1.extend(view.get("loading_time").and_then(|v| v.as_f64()));
                    entry.2.extend(view.get("largest_contentful_paint").and_then(|v| v.as_f64()));
                }
            }
            assert!(want.len() > 1, "{filter}: several pages");
            if as_routes {
                assert!(want.contains_key("/products/*"), "{filter}: the products route: {:?}", want.keys().collect::<Vec<_>>());
            }
            for few_sessions in [usize::MAX, 0] {
                f.store.event_list_few_sessions = few_sessions;
                let pages = f.store.page_summaries(&q, "", as_routes).expect("pages");
                assert!(pages.windows(2).all(|w| w[0].views >= w[1].views), "most viewed first");
                let got: std::collections::BTreeMap<String, (u64, Option<f64>, Option<f64>)> = pages
                    .iter()
                    .map(|p| (p.view_path.clone(), (p.views, p.loading_time_p75_ns, p.largest_contentful_paint_p75_ns)))
                    .collect();
                let expected: std::collections::BTreeMap<String, (u64, Option<f64>, Option<f64>)> =
                    want.iter().map(|(k, (n, l, c))| (k.clone(), (*n, p75(&mut l.clone()), p75(&mut c.clone())))).collect();
                assert_eq!(got, expected, "{filter}, routes: {as_routes}");
                if as_routes {
                    let products = pages.iter().find(|p| p.view_path == "/products/*").expect("route");
                    assert!(products.paths > 1, "a route counts its pages");
                }
            }
        }
    }
}

/// The Errors tab by error against the sessions' own timelines: per type and message (or
/// pattern), how often, in how many sessions, first and last seen, and how many messages.
#[test]
fn error_groups_count_their_errors_sessions_and_times() {
    let mut f = fixture();
    for filter in ["", "browser:Chrome", "os:iOS -error_type:TypeError"] {
        let parsed = if filter.is_empty() { None } else { query::parse(filter).expect("parse") };
        let q = SessionQuery { filter: parsed, ..Default::default() };
        let selected: BTreeSet<String> = if filter.is_empty() { f.sessions.iter().map(|s| s.session_id.clone()).collect() } else { ids_for(&f, filter) };
        for as_patterns in [false, true] {
            type Want = (u64, BTreeSet<String>, i64, i64, BTreeSet<String>);
            let mut want: std::collections::BTreeMap<(Option<String>, Option<String>), Want> = Default::default();
            for (session, detail) in f.sessions.iter().zip(&f.details) {
                if !selected.contains(&session.session_id) {
                    continue;
                }
                for error in detail.events.iter().filter(|e| e.kind == "error") {
                    let error_type = error.get_str("error_type").map(str::to_string);
                    // A negated error term applies to the errors too.
                    if filter.contains("-error_type:TypeError") && error_type.as_deref() == Some("TypeError") {
                        continue;
                    }
                    let message = error.get_str("error_message").map(str::to_string);
                    let name = if as_patterns { message.as_deref().map(|m| rum_explorer::error_pattern::message_pattern(m).into_owned()) } else { message.clone() };
                    let entry = want.entry((error_type, name)).or_insert_with(|| (0, BTreeSet::new(), i64::MAX, i64::MIN, BTreeSet::new()));
                    entry.0 += 1;
                    entry.1.insert(session.session_id.clone());
                    entry.2 = entry.2.min(error.time_ms);
                    entry.3 = entry.3.max(error.time_ms);
                    entry.4.extend(message);
                }
            }
            assert!(want.len() > 1, "{filter}: several errors");
            let expected: std::collections::BTreeMap<_, _> = want
                .into_iter()
                .map(|(key, (count, sessions, first, last, messages))| (key, (count, sessions.len() as u64, first, last, messages.len().max(1) as u64)))
                .collect();
            for few_sessions in [usize::MAX, 0] {
                f.store.event_list_few_sessions = few_sessions;
                let groups = f.store.error_groups(&q, "", as_patterns).expect("groups");
                assert!(groups.windows(2).all(|w| w[0].count >= w[1].count), "the most frequent first");
                let got: std::collections::BTreeMap<_, _> = groups
                    .iter()
                    .map(|g| ((g.error_type.clone(), g.message.clone()), (g.count, g.sessions, g.first_ms, g.last_ms, g.messages)))
                    .collect();
                assert_eq!(got, expected, "{filter}, patterns: {as_patterns}");
            }
        }
    }
}

/// The Resources tab against the sessions' own timelines, with the selected sessions sought
/// one by one and as a set: every resource of the selected sessions that the query's resource
/// terms and the find keep, newest or slowest first, and the groups by URL and by pattern.
/// Reads of the events table go in pieces by event key (two threads): the pieces cover every
/// key, the last ones too. A file of resources only (no view is held back to be written at the
/// end), the newest of them last in the table, with a URL of its own.
#[test]
fn reads_in_pieces_reach_the_last_event() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("resources.ndjson");
    let mut lines = String::new();
    for n in 0..37 {
        let url = if n == 36 { "https://tail.example.com/last".to_string() } else { format!("https://shop.example.com/api/{}", n % 5) };
        lines += &format!(
            r#"{{"type":"resource","date":{},"session":{{"id":"s{}"}},"resource":{{"id":"r{n}","url":"{url}","duration":{},"type":"xhr"}}}}"#,
            1_700_000_000_000i64 + n * 1000,
            n % 3,
            1_000_000 * (n + 1)
        );
        lines.push('\n');
    }
    std::fs::write(&file, lines).expect("write");
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    import(&mut store, &[file]);
    store.event_pieces_from = 0;
    let all = SessionQuery::default();
    let groups = store.resource_groups(&all, "", false).expect("groups");
    assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), 37, "every request");
    assert!(groups.iter().any(|g| g.resource_url == "https://tail.example.com/last"), "the last request's URL");
    // A find narrows the requests: they are counted, in pieces too.
    let (rows, total) = store.resource_events(&all, "tail.example", rum_explorer::store::ResourceSort::Time, true, 10).expect("found");
    assert_eq!((rows.len(), total), (1, 1));
    let (_, total) = store.resource_events(&all, "shop.example", rum_explorer::store::ResourceSort::Time, true, 10).expect("found");
    assert_eq!(total, 36);
}

#[test]
fn resources_list_and_groups_are_the_selected_sessions_resources() {
    use rum_explorer::store::{url_without_query, ResourceSort};
    let mut f = fixture();
    struct Want {
        time_ms: i64,
        event_pk: i64,
        duration_ns: Option<f64>,
        method: Option<String>,
        url: String,
        status: Option<i64>,
        size: i64,
        size_bytes: Option<i64>,
        session: String,
    }
    type Keep = dyn Fn(&Want) -> bool;
    let cases: [(&str, &str, &Keep); 6] = [
        ("", "", &|_| true),
        ("browser:Chrome", "", &|_| true),
        ("resource_status:>=400", "", &|r| r.status.is_some_and(|s| s >= 400)),
        ("(resource_method:POST OR resource_status:>=500) browser:Safari", "", &|r| r.method.as_deref() == Some("POST") || r.status.is_some_and(|s| s >= 500)),
        ("", "/API/", &|r| r.url.to_lowercase().contains("/api/")),
        ("duration:>1000000000", "", &|r| r.duration_ns.is_some_and(|d| d > 1e9)),
    ];
    for (filter, find, keep) in cases {
        let parsed = if filter.is_empty() { None } else { query::parse(filter).expect("parse") };
        let q = SessionQuery { filter: parsed, ..Default::default() };
        let session_part = filter.split(' ').filter(|t| t.starts_with("browser:")).collect::<Vec<_>>().join(" ");
        let selected: BTreeSet<String> =
            if session_part.is_empty() { f.sessions.iter().map(|s| s.session_id.clone()).collect() } else { ids_for(&f, &session_part) };
        let mut want: Vec<Want> = Vec::new();
        for (session, detail) in f.sessions.iter().zip(&f.details) {
            if !selected.contains(&session.session_id) {
                continue;
            }
            for e in detail.events.iter().filter(|e| e.kind == "resource") {
                let resource = Want {
                    time_ms: e.time_ms,
                    event_pk: e.event_pk,
                    duration_ns: e.get("duration").and_then(|v| v.as_f64()),
                    method: e.get_str("resource_method").map(str::to_string),
                    url: e.get_str("resource_url").unwrap_or("").to_string(),
                    status: e.get("resource_status").and_then(|v| v.as_i64()),
                    size: e.get("resource_size").and_then(|v| v.as_i64()).unwrap_or(0),
                    size_bytes: e.get("resource_size").and_then(|v| v.as_i64()),
                    session: session.session_id.clone(),
                };
                if keep(&resource) {
                    want.push(resource);
                }
            }
        }
        assert!(!want.is_empty(), "{filter} {find}: selects resources");
        let mut newest: Vec<(i64, i64)> = want.iter().map(|r| (r.time_ms, r.event_pk)).collect();
        newest.sort_by(|a, b| b.cmp(a));
        // The slowest (largest) first, or the fastest (smallest): without a value last, ties
        // the newest first.
        let by_value_then_newest = |value: &dyn Fn(&Want) -> Option<f64>, descending: bool| -> Vec<i64> {
            let mut sorted: Vec<&Want> = want.iter().collect();
            sorted.sort_by(|a, b| {
                let (va, vb) = (value(a).unwrap_or(0.0), value(b).unwrap_or(0.0));
                let by_value = if descending { vb.total_cmp(&va) } else { va.total_cmp(&vb) };
                value(a).is_none().cmp(&value(b).is_none()).then(by_value).then((b.time_ms, b.event_pk).cmp(&(a.time_ms, a.event_pk)))
            });
            sorted.iter().map(|r| r.event_pk).collect()
        };
        let duration = |r: &Want| r.duration_ns;
        let size = |r: &Want| r.size_bytes.map(|b| b as f64);
        let (slowest, largest) = (by_value_then_newest(&duration, true), by_value_then_newest(&size, true));
        let (fastest, smallest) = (by_value_then_newest(&duration, false), by_value_then_newest(&size, false));
        assert!(want.iter().filter_map(|r| r.duration_ns).count() > 10, "{filter} {find}: durations to sort");
        let mut oldest = newest.clone();
        oldest.reverse();
        // The time order walks the sessions (up to a bound) or reads the table, in pieces on
        // two connections or in one pass.
        let one_pass = i64::MAX;
        for (few_sessions, walk_sessions, pieces_from) in
            [(usize::MAX, usize::MAX, 0), (0, usize::MAX, 0), (usize::MAX, 0, 0), (0, 0, 0), (0, 3, 0), (usize::MAX, 0, one_pass), (0, 0, one_pass)]
        {
            f.store.event_list_few_sessions = few_sessions;
            f.store.resource_walk_sessions = walk_sessions;
            f.store.event_pieces_from = pieces_from;
            let how = format!("{filter} {find}, sought per session: {}, walking {walk_sessions} sessions, in pieces: {}", few_sessions > 0, pieces_from == 0);
            let (rows, total) = f.store.resource_events(&q, find, ResourceSort::Time, true, 1_000_000).expect("resources");
            assert_eq!(rows.iter().map(|r| (r.time_ms, r.event_pk)).collect::<Vec<_>>(), newest, "{how}");
            assert_eq!(total as usize, want.len(), "{how}: the total");
            for limit in [1, 7, 60] {
                let (rows, total) = f.store.resource_events(&q, find, ResourceSort::Time, true, limit).expect("resources");
                assert_eq!(rows.iter().map(|r| (r.time_ms, r.event_pk)).collect::<Vec<_>>(), newest[..limit.min(newest.len())].to_vec(), "{how}: the newest {limit}");
                assert_eq!(total as usize, want.len(), "{how}: the total with {limit}");
                let (rows, _) = f.store.resource_events(&q, find, ResourceSort::Time, false, limit).expect("resources");
                assert_eq!(rows.iter().map(|r| (r.time_ms, r.event_pk)).collect::<Vec<_>>(), oldest[..limit.min(oldest.len())].to_vec(), "{how}: the oldest {limit}");
            }
            // The fastest and smallest first read the table (in pieces, when it is the table).
            for (sort, expected, what) in [(ResourceSort::Duration, &fastest, "fastest"), (ResourceSort::Size, &smallest, "smallest")] {
                for limit in [1, 7, 60, 1_000_000] {
                    let (rows, _) = f.store.resource_events(&q, find, sort, false, limit).expect("resources");
                    let keys: Vec<i64> = rows.iter().map(|r| r.event_pk).collect();
                    assert_eq!(keys, expected[..limit.min(expected.len())].to_vec(), "{how}: the {what} {limit}");
                }
            }
            // The slowest and largest first walk the sessions by the slowest (largest) resource
            // each keeps, or read the table.
            for (sort, expected, what) in [(ResourceSort::Duration, &slowest, "slowest"), (ResourceSort::Size, &largest, "largest")] {
                for limit in [1, 7, 60, 1_000_000] {
                    let (rows, total) = f.store.resource_events(&q, find, sort, true, limit).expect("resources");
                    let keys: Vec<i64> = rows.iter().map(|r| r.event_pk).collect();
                    assert_eq!(keys, expected[..limit.min(expected.len())].to_vec(), "{how}: the {what} {limit}");
                    assert_eq!(total as usize, want.len(), "{how}: the total of the {what} {limit}");
                }
            }
        }
        // By URL (and by pattern): requests, failures, sessions, p75 (nearest rank), bytes.
        for as_patterns in [false, true] {
            type Tally = (u64, u64, BTreeSet<String>, Vec<f64>, u64, BTreeSet<String>);
            let mut groups: std::collections::BTreeMap<(Option<String>, String), Tally> = Default::default();
            for r in &want {
                let plain_url = url_without_query(&r.url);
                let url = if as_patterns { rum_explorer::error_pattern::url_pattern(plain_url).into_owned() } else { plain_url.to_string() };
                let entry = groups.entry((r.method.clone(), url)).or_default();
                entry.5.insert(plain_url.to_string());
                entry.0 += 1;
                entry.1 += u64::from(r.status.is_some_and(|s| s >= 400 || s == 0));
                entry.2.insert(r.session.clone());
                entry.3.extend(r.duration_ns);
                entry.4 += r.size.max(0) as u64;
            }
            for pieces_from in [0, i64::MAX] {
                f.store.event_pieces_from = pieces_from;
                let requests_read = std::sync::atomic::AtomicU64::new(0);
                let got = f.store.resource_groups_counting(&q, find, as_patterns, &requests_read, &std::sync::atomic::AtomicBool::new(false)).expect("groups");
                let how = format!("{filter} {find} (patterns: {as_patterns}, in pieces: {})", pieces_from == 0);
                assert_eq!(requests_read.into_inner(), want.len() as u64, "{how}: the progress counter ends at every request read");
                assert_eq!(got.len(), groups.len(), "{how}: one group per URL");
                assert!(got.windows(2).all(|w| w[0].count >= w[1].count), "the most requested first");
                for group in &got {
                    let (count, failed, sessions, durations, size, urls) = &groups[&(group.resource_method.clone(), group.resource_url.clone())];
                    let mut durations = durations.clone();
                    durations.sort_by(|a, b| a.total_cmp(b));
                    let p75 = (!durations.is_empty()).then(|| durations[(durations.len() * 3).div_ceil(4) - 1]);
                    assert_eq!(
                        (group.count, group.failed, group.sessions, group.duration_p75_ns, group.size_bytes, group.urls),
                        (*count, *failed, sessions.len() as u64, p75, *size, urls.len() as u64),
                        "{how}: {:?} {}",
                        group.resource_method,
                        group.resource_url
                    );
                }
                if as_patterns && filter.is_empty() && find.is_empty() {
                    assert!(got.iter().any(|g| g.urls > 1), "a pattern groups URLs");
                }
            }
        }
    }
    // Superseded: the read gives up rather than answer, in pieces or not.
    for pieces_from in [0, i64::MAX] {
        f.store.event_pieces_from = pieces_from;
        let cancelled = std::sync::atomic::AtomicBool::new(true);
        let outcome = f.store.resource_groups_counting(&SessionQuery::default(), "", true, &Default::default(), &cancelled);
        assert!(matches!(outcome, Err(rum_explorer::store::StoreError::Cancelled)), "{:?}", outcome.map(|groups| groups.len()));
    }
}

/// The Resources tab's newest and oldest first walk sessions by their end and start and stop
/// at a bound: sessions that overlap in time (150 within one hour) must not lose a resource
/// to it, whatever the page's size.
#[test]
fn the_resources_time_order_holds_for_sessions_that_overlap() {
    use rum_explorer::generate::{GenerateFormat, GenerateOptions, GenerateOrder};
    use rum_explorer::store::ResourceSort;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("overlap.lp");
    let options = GenerateOptions { order: GenerateOrder::Time, span_hours: Some(1) };
    rum_explorer::generate::write_with(&file, GenerateFormat::Lp, 150, 8, false, options).expect("generate");
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    import(&mut store, &[file]);
    let sessions = all_sessions(&store);
    let mut all: Vec<(i64, i64, String)> = Vec::new();
    for session in &sessions {
        let detail = store.session_detail(&session.session_id).expect("q").expect("exists");
        all.extend(detail.events.iter().filter(|e| e.kind == "resource").map(|e| (e.time_ms, e.event_pk, session.browser.clone().unwrap_or_default())));
    }
    let overlaps = |a: &SessionRow, b: &SessionRow| a.session_id != b.session_id && a.start_ms < b.end_ms && b.start_ms < a.end_ms;
    let overlapping = sessions.iter().filter(|a| sessions.iter().any(|b| overlaps(a, b))).count();
    assert!(overlapping > 50, "the sessions overlap: {overlapping}");
    for filter in ["", "browser:Chrome"] {
        let parsed = if filter.is_empty() { None } else { query::parse(filter).expect("parse") };
        let q = SessionQuery { filter: parsed, ..Default::default() };
        let mut newest: Vec<(i64, i64)> = all.iter().filter(|r| filter.is_empty() || r.2 == "Chrome").map(|r| (r.0, r.1)).collect();
        newest.sort_by(|a, b| b.cmp(a));
        let oldest: Vec<(i64, i64)> = newest.iter().rev().copied().collect();
        store.resource_walk_sessions = usize::MAX;
        for limit in [1, 5, 33, 200, 1000] {
            let (rows, _) = store.resource_events(&q, "", ResourceSort::Time, true, limit).expect("resources");
            assert_eq!(rows.iter().map(|r| (r.time_ms, r.event_pk)).collect::<Vec<_>>(), newest[..limit.min(newest.len())].to_vec(), "{filter}: the newest {limit}");
            let (rows, _) = store.resource_events(&q, "", ResourceSort::Time, false, limit).expect("resources");
            assert_eq!(rows.iter().map(|r| (r.time_ms, r.event_pk)).collect::<Vec<_>>(), oldest[..limit.min(oldest.len())].to_vec(), "{filter}: the oldest {limit}");
        }
    }
}

/// A session that ends at the very time of the worst resource found may still hold a better
/// one (the same time, a later key): the walk must read it, not stop at it.
#[test]
fn the_resources_time_order_reads_a_session_that_ends_at_the_bound() {
    use rum_explorer::store::ResourceSort;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("ties.lp");
    // Session a is seen first (the smaller session key) but its last resource is written
    // last (the larger event key); both sessions end at 1700000005000.
    let lines = [
        "view,app_id=t,session_id=s-a,browser=Chrome,view_id=va,view_path=/a time_spent=1000000000i 1700000000000",
        "resource,app_id=t,session_id=s-b,browser=Chrome,view_id=vb,view_path=/b,resource_id=rb,resource_url=https://x.example/b resource_status=200i 1700000005000",
        "resource,app_id=t,session_id=s-a,view_id=va,view_path=/a,resource_id=ra,resource_url=https://x.example/a resource_status=200i 1700000005000",
    ];
    std::fs::write(&file, lines.join("\n")).expect("write");
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    import(&mut store, &[file]);
    let sessions = all_sessions(&store);
    assert!(sessions.iter().all(|s| s.end_ms == Some(1_700_000_005_000)), "both sessions end at the resources: {sessions:?}");
    let q = SessionQuery::default();
    let (all, _) = store.resource_events(&q, "", ResourceSort::Time, true, 10).expect("resources");
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all[0].event_pk > all[1].event_pk, "the later key first on a tie: {all:?}");
    assert_eq!(all[0].resource_url.as_deref(), Some("https://x.example/a"), "session a's resource has the later key");
    let (newest, _) = store.resource_events(&q, "", ResourceSort::Time, true, 1).expect("resources");
    assert_eq!(newest.iter().map(|r| r.event_pk).collect::<Vec<_>>(), vec![all[0].event_pk], "the newest one, from the session read second");
}

/// The slowest (largest) first walk sessions by the slowest (largest) resource each keeps and
/// stop at a bound: a session whose slowest resource ties the worst one found may still hold a
/// better one (the same duration, newer), and resources without a duration (size) come last,
/// as the table's read gives them. Fractions are stored as whole units.
#[test]
fn the_slowest_and_largest_first_hold_for_ties_and_missing_values() {
    use rum_explorer::store::ResourceSort;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("ties.lp");
    let resource = |session: &str, id: &str, duration: &str, size: &str, ms: i64| {
        let fields: Vec<String> = [("duration", duration), ("resource_size", size)]
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(key, value)| format!("{key}={value}"))
            .chain(["resource_status=200i".to_string()])
            .collect();
        format!(
            "resource,app_id=t,session_id={session},browser=Chrome,view_id=v-{session},view_path=/p,resource_id={id},resource_url=https://x.example/{id} {} {ms}",
            fields.join(",")
        )
    };
    let lines = [
        // a and b tie at 3 s and 900 bytes. The walk reads b first (on a tie, the later
        // session key first), but a's copy is the newer.
        resource("s-a", "a1", "3000000000i", "900i", 1_700_000_003_000),
        resource("s-a", "a2", "1000000000i", "100i", 1_700_000_002_000),
        resource("s-b", "b1", "3000000000i", "900i", 1_700_000_001_000),
        // c's fraction above 2 s is stored as 2 s: a tie with d, read first, with c's the newer.
        resource("s-c", "c1", "2000000000.4", "500.4", 1_700_000_004_500),
        resource("s-d", "d1", "2000000000i", "500i", 1_700_000_000_000),
        // e and f have resources without a duration or a size only; f, read first (the later
        // session key), has the one between e's two in time.
        resource("s-e", "e1", "", "", 1_700_000_005_000),
        resource("s-e", "e2", "", "", 1_700_000_006_000),
        resource("s-f", "f1", "", "", 1_700_000_005_500),
    ];
    std::fs::write(&file, lines.join("\n")).expect("write");
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    import(&mut store, &[file]);
    let q = SessionQuery::default();
    let urls = |rows: &[rum_explorer::store::ResourceEventRow]| -> Vec<String> {
        rows.iter().map(|r| r.resource_url.clone().unwrap_or_default().replace("https://x.example/", "")).collect()
    };
    let expected = ["a1", "b1", "c1", "d1", "a2", "e2", "f1", "e1"];
    for (walk_sessions, how) in [(usize::MAX, "walked"), (0, "read from the table")] {
        store.resource_walk_sessions = walk_sessions;
        for sort in [ResourceSort::Duration, ResourceSort::Size] {
            let (all, total) = store.resource_events(&q, "", sort, true, 100).expect("resources");
            assert_eq!(urls(&all), expected, "{how}, {sort:?}: every resource");
            assert_eq!(total, 8);
            for limit in 1..=expected.len() {
                let (first, _) = store.resource_events(&q, "", sort, true, limit).expect("resources");
                assert_eq!(urls(&first), expected[..limit], "{how}, {sort:?}: the first {limit}");
            }
        }
    }
    let slowest: Vec<(String, Option<i64>, Option<i64>)> = all_sessions(&store)
        .into_iter()
        .map(|s| (s.session_id, s.slowest_resource_ns, s.largest_resource_bytes))
        .collect();
    assert!(slowest.contains(&("s-c".to_string(), Some(2_000_000_000), Some(500))), "{slowest:?}");
    assert!(slowest.contains(&("s-e".to_string(), None, None)) && slowest.contains(&("s-f".to_string(), None, None)), "{slowest:?}");
}
