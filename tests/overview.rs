//! The Overview's aggregates against values computed by hand from the sessions' own events.

mod common;

use common::*;
use rum_explorer::store::{Overview, SessionDetail, SessionQuery, Store};
use std::collections::{BTreeMap, BTreeSet};

fn generated(sessions: u64, seed: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("g.lp");
    rum_explorer::generate::write(&file, rum_explorer::generate::GenerateFormat::Lp, sessions, seed, false).expect("generate");
    let mut store = Store::open(&dir.path().join("db.sqlite")).expect("open");
    import(&mut store, &[file]);
    (dir, store)
}

fn details(store: &Store, q: &SessionQuery) -> Vec<SessionDetail> {
    let q = SessionQuery { limit: 1_000_000, ..q.clone() };
    store.sessions(&q).expect("sessions").iter().map(|s| store.session_detail(&s.session_id).expect("q").expect("exists")).collect()
}

/// Nearest-rank p75, written out the slow way.
fn p75_by_hand(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let rank = ((values.len() as f64) * 0.75).ceil() as usize;
    Some(values[rank - 1])
}

fn check_against_events(store: &Store, filter: Option<&str>) -> Overview {
    check_query_against_events(store, &SessionQuery { filter: filter.and_then(|f| rum_explorer::query::parse(f).expect("parse")), ..Default::default() })
}

fn check_query_against_events(store: &Store, q: &SessionQuery) -> Overview {
    let overview = store.overview(q).expect("overview");
    let sessions = details(store, q);
    let events = || sessions.iter().flat_map(|d| d.events.iter());
    assert_eq!(overview.sessions, sessions.len() as u64, "{q:?}");
    assert_eq!(overview.page_views, events().filter(|e| e.kind == "view").count() as u64);
    assert_eq!(overview.errors, events().filter(|e| e.kind == "error").count() as u64);
    let users: BTreeSet<&str> = sessions.iter().filter_map(|d| d.session.user_id.as_deref()).collect();
    assert_eq!(overview.unique_users, users.len() as u64);
    assert_eq!(overview.sessions_with_errors, sessions.iter().filter(|d| d.events.iter().any(|e| e.kind == "error")).count() as u64);

    // Buckets add up, and each view falls in the bucket of its time.
    assert_eq!(overview.buckets.iter().map(|b| b.sessions).sum::<u64>(), overview.sessions);
    assert_eq!(overview.buckets.iter().map(|b| b.page_views).sum::<u64>(), overview.page_views);
    assert_eq!(overview.buckets.iter().map(|b| b.errors).sum::<u64>(), overview.errors);
    assert!(overview.buckets.len() as i64 <= rum_explorer::store::overview::MAX_BUCKETS + 1);
    for (i, bucket) in overview.buckets.iter().enumerate() {
        let in_bucket = |t: i64| t >= bucket.start_ms && t < bucket.start_ms + overview.bucket_ms;
        assert_eq!(bucket.page_views, events().filter(|e| e.kind == "view" && in_bucket(e.time_ms)).count() as u64, "bucket {i}");
        let started: Vec<&SessionDetail> = sessions.iter().filter(|d| d.session.start_ms.is_some_and(in_bucket)).collect();
        assert_eq!(bucket.sessions, started.len() as u64, "bucket {i}");
        let users: BTreeSet<&str> = started.iter().filter_map(|d| d.session.user_id.as_deref()).collect();
        assert_eq!(bucket.unique_users, users.len() as u64, "bucket {i}");
        let with_errors = started.iter().filter(|d| d.events.iter().any(|e| e.kind == "error")).count() as u64;
        assert_eq!(bucket.sessions_with_errors, with_errors, "bucket {i}");
    }
    // Users who came back in another bucket count in each, once.
    assert!(overview.buckets.iter().map(|b| b.unique_users).sum::<u64>() >= overview.unique_users);

    // Vitals: p75 and ratings from the views' own values.
    for vital in &overview.vitals {
        let scale = if vital.unit == "ms" { 1e6 } else { 1.0 };
        let values: Vec<f64> = events().filter(|e| e.kind == "view").filter_map(|e| e.get(vital.key)).filter_map(|v| v.as_f64()).map(|v| v / scale).collect();
        assert_eq!(vital.count, values.len() as u64, "{}", vital.key);
        assert_eq!(vital.p75, p75_by_hand(values.clone()), "{}", vital.key);
        let (good, poor) = vital.thresholds.expect("rated");
        assert_eq!(vital.good, values.iter().filter(|v| **v <= good).count() as u64, "{}", vital.key);
        assert_eq!(vital.poor, values.iter().filter(|v| **v > poor).count() as u64, "{}", vital.key);
        assert_eq!(vital.distribution.iter().map(|b| b.count).sum::<u64>(), vital.count);
    }

    // Top pages by views and top errors.
    let mut views_by_page: BTreeMap<&str, u64> = BTreeMap::new();
    for e in events().filter(|e| e.kind == "view") {
        if let Some(path) = e.get_str("view_path") {
            *views_by_page.entry(path).or_insert(0) += 1;
        }
    }
    let most = views_by_page.values().max().copied();
    assert_eq!(overview.top_pages_by_views.first().map(|p| p.views), most);
    for page in &overview.top_pages_by_views {
        assert_eq!(Some(&page.views), views_by_page.get(page.view_path.as_str()), "{}", page.view_path);
    }
    // Average loading time per page, over its views that have one.
    let mut loading_by_page: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for e in events().filter(|e| e.kind == "view") {
        if let (Some(path), Some(ns)) = (e.get_str("view_path"), e.get("loading_time").and_then(|v| v.as_f64())) {
            loading_by_page.entry(path).or_default().push(ns / 1e6);
        }
    }
    for page in &overview.top_pages_by_loading_time {
        let values = &loading_by_page[page.view_path.as_str()];
        let average = values.iter().sum::<f64>() / values.len() as f64;
        let got = page.avg_loading_time_ms.expect("ranked pages have an average");
        assert!((got - average).abs() <= 1e-9 * average.abs().max(1.0), "{}: {got} vs {average}", page.view_path);
    }
    // (type, message) -> (count, sessions)
    type ErrorKey<'a> = (Option<&'a str>, Option<&'a str>);
    let mut errors: BTreeMap<ErrorKey, (u64, BTreeSet<&str>)> = BTreeMap::new();
    for d in &sessions {
        for e in d.events.iter().filter(|e| e.kind == "error") {
            let entry = errors.entry((e.get_str("error_type"), e.get_str("error_message"))).or_default();
            entry.0 += 1;
            entry.1.insert(&d.session.session_id);
        }
    }
    for group in &overview.top_errors {
        let (count, in_sessions) = &errors[&(group.error_type.as_deref(), group.error_message.as_deref())];
        assert_eq!((group.count, group.sessions), (*count, in_sessions.len() as u64));
    }
    assert_eq!(overview.top_errors.first().map(|g| g.count), errors.values().map(|e| e.0).max());
    // By pattern: (type, pattern) -> (count, sessions, messages), from the same errors.
    type PatternTally<'a> = (u64, BTreeSet<&'a str>, BTreeSet<Option<&'a str>>);
    let mut patterns: BTreeMap<(Option<&str>, Option<String>), PatternTally> = BTreeMap::new();
    for d in &sessions {
        for e in d.events.iter().filter(|e| e.kind == "error") {
            let pattern = e.get_str("error_message").map(|m| rum_explorer::error_pattern::message_pattern(m).into_owned());
            let entry = patterns.entry((e.get_str("error_type"), pattern)).or_default();
            entry.0 += 1;
            entry.1.insert(&d.session.session_id);
            entry.2.insert(e.get_str("error_message"));
        }
    }
    // (count, type, pattern, sessions, messages)
    type PatternRow<'a> = (u64, Option<&'a str>, Option<String>, u64, u64);
    let mut expected: Vec<PatternRow> =
        patterns.into_iter().map(|((t, p), (count, s, m))| (count, t, p, s.len() as u64, m.len() as u64)).collect();
    // Most errors first; ties by type, then pattern.
    expected.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)).then_with(|| a.2.cmp(&b.2)));
    expected.truncate(10);
    let got: Vec<PatternRow> = overview
        .top_error_patterns
        .iter()
        .map(|p| (p.count, p.error_type.as_deref(), p.pattern.clone(), p.sessions, p.messages))
        .collect();
    assert_eq!(got, expected);

    // Distributions: browser counts from the sessions.
    let browser = overview.distributions.iter().find(|d| d.key == "browser").expect("browser");
    for (value, count) in &browser.values {
        assert_eq!(*count, sessions.iter().filter(|d| d.session.browser.as_deref() == Some(value)).count() as u64, "{value}");
    }
    assert_eq!(browser.values.iter().map(|v| v.1).sum::<u64>() + browser.other, overview.sessions);
    overview
}

#[test]
fn generated_sessions_match_hand_computed_aggregates() {
    let (_dir, store) = generated(120, 21);
    let all = check_against_events(&store, None);
    assert!(all.page_views > 120 && all.errors > 0 && all.vitals.iter().all(|v| v.count > 0));
    let chrome = check_against_events(&store, Some("browser:Chrome"));
    assert!(chrome.sessions < all.sessions && chrome.sessions > 0);
    check_against_events(&store, Some("error_count:>0 -os:Windows"));
}

#[test]
fn own_fixture_by_hand() {
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    import(&mut store, &[own_fixture("tricky.lp")]);
    let o = store.overview(&SessionQuery::default()).expect("overview");
    // tricky.lp: one session, views v1 (sent twice, merged) and v2, one TypeError.
    assert_eq!((o.sessions, o.page_views, o.errors, o.sessions_with_errors), (1, 2, 1, 1));
    let loading = o.vitals.iter().find(|v| v.key == "loading_time").expect("loading time");
    assert_eq!((loading.count, loading.p75, loading.good), (1, Some(1200.0), 1));
    let cls = o.vitals.iter().find(|v| v.key == "cumulative_layout_shift").expect("cls");
    assert_eq!((cls.count, cls.p75, cls.needs_improvement), (1, Some(0.12), 1));
    assert_eq!(o.top_errors.len(), 1);
    assert_eq!(o.top_errors[0].error_type.as_deref(), Some("TypeError"));
    assert_eq!(o.top_pages_by_errors.first().map(|p| (p.view_path.as_str(), p.errors)), Some(("/cart", 1)));
    check_against_events(&store, None);
}

#[test]
fn guance_fixtures_by_hand() {
    let Some(dir) = third_party("guance-datakit") else { return };
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    import(&mut store, &[dir.join("sdk-2.1.5-four-views.lp"), dir.join("sdk-2.0.15-one-view.lp")]);
    let o = check_against_events(&store, None);
    assert_eq!((o.sessions, o.page_views, o.errors), (2, 5, 2));
}

#[test]
fn an_empty_selection_is_all_zero() {
    let (_dir, store) = generated(10, 3);
    let q = SessionQuery { filter: rum_explorer::query::parse("browser:NoSuchBrowser").expect("parse"), ..Default::default() };
    let o = store.overview(&q).expect("overview");
    assert_eq!((o.sessions, o.page_views, o.buckets.len()), (0, 0, 0));
    // A time range after every session: the same, with the four distributions listed empty.
    let later = SessionQuery { from_ms: Some(4_000_000_000_000), ..Default::default() };
    let o = store.overview(&later).expect("overview");
    assert_eq!((o.sessions, o.page_views, o.buckets.len(), o.distributions.len()), (0, 0, 0, 4));
    assert!(o.distributions.iter().all(|d| d.values.is_empty() && d.other == 0));
}

/// The file store reads in pieces on two threads (and, for all sessions, runs the sessions
/// pass beside the event scans); an in-memory store reads everything on one. Same answers.
#[test]
fn two_threads_and_one_give_the_same_overview() {
    let (dir, file_store) = generated(150, 8);
    let mut memory_store = Store::open_in_memory().expect("memory");
    import(&mut memory_store, &[dir.path().join("g.lp")]);
    let all = file_store.overview(&SessionQuery::default()).expect("overview");
    assert!(all.buckets.len() > 2 && all.sessions == 150, "{} buckets", all.buckets.len());
    let middle_ms = all.buckets[all.buckets.len() / 2].start_ms;
    let queries = [
        SessionQuery::default(),
        SessionQuery { filter: rum_explorer::query::parse("browser:Chrome").expect("parse"), ..Default::default() },
        SessionQuery { from_ms: Some(middle_ms), ..Default::default() },
        SessionQuery { to_ms: Some(middle_ms), ..Default::default() },
    ];
    for q in queries {
        let on_file = file_store.overview(&q).expect("file overview");
        let in_memory = memory_store.overview(&q).expect("memory overview");
        assert_eq!(on_file, in_memory, "{q:?}");
        assert!(on_file.sessions > 0 && on_file.page_views > 0, "{q:?}");
    }
}

/// Three users over forty sessions spread across the buckets: each bucket counts a user once,
/// however many sessions they started in it, and again in every other bucket they came back in.
#[test]
fn users_who_return_count_once_per_bucket() {
    let (tmp, db) = temp_db();
    let file = tmp.path().join("returning.lp");
    let mut lines = String::new();
    for i in 0..40u64 {
        let user = ["ann", "ann", "bob", "cy", "ann"][(i % 5) as usize];
        let time_ms = 1_700_000_000_000 + i * 20_000;
        lines += &format!(
            "view,app_id=a,session_id=s{i},userid={user},view_id=v{i},view_path=/p{} loading_time={}i {time_ms}\n",
            i % 4,
            1_000_000 * (i + 1)
        );
        if i % 5 == 0 {
            lines += &format!("error,app_id=a,session_id=s{i},view_id=v{i},view_path=/p0,error_type=E error_message=\"m\" {}\n", time_ms + 1000);
        }
    }
    std::fs::write(&file, lines).expect("write");
    let mut store = Store::open(&db).expect("open");
    import(&mut store, &[file]);
    let all = check_against_events(&store, None);
    assert_eq!((all.sessions, all.unique_users), (40, 3));
    assert!(all.buckets.iter().any(|b| b.sessions > b.unique_users && b.unique_users > 1), "some bucket has a returning user");
    check_against_events(&store, Some("error_count:>0"));
}

/// A time range that holds every session is read like no range at all (a faster path): the
/// figures that do not depend on where the time axis starts are those of all sessions.
#[test]
fn a_time_range_holding_every_session_gives_the_figures_of_all() {
    let (_dir, store) = generated(90, 13);
    let all = store.overview(&SessionQuery::default()).expect("all");
    let first_ms = all.buckets.first().map(|b| b.start_ms).expect("buckets");
    let covering = SessionQuery { from_ms: Some(first_ms - 86_400_000), to_ms: Some(i64::MAX / 2), ..Default::default() };
    let ranged = store.overview(&covering).expect("covering range");
    assert_eq!(
        (ranged.sessions, ranged.unique_users, ranged.page_views, ranged.errors, ranged.sessions_with_errors),
        (all.sessions, all.unique_users, all.page_views, all.errors, all.sessions_with_errors)
    );
    assert_eq!(ranged.vitals.iter().map(|v| (v.key, v.count, v.p75, v.good, v.poor)).collect::<Vec<_>>(), all.vitals.iter().map(|v| (v.key, v.count, v.p75, v.good, v.poor)).collect::<Vec<_>>());
    assert_eq!(ranged.distributions, all.distributions);
    assert_eq!(ranged.top_pages_by_views, all.top_pages_by_views);
    assert_eq!(ranged.top_errors, all.top_errors);
    // The axis starts at the range's start, a day earlier.
    assert!(ranged.buckets.len() > 1 && ranged.from_ms < all.from_ms);
    // Narrower ranges still select: the ranged path against the events by hand.
    let middle_ms = all.buckets[all.buckets.len() / 2].start_ms;
    let later = check_query_against_events(&store, &SessionQuery { from_ms: Some(middle_ms), ..Default::default() });
    check_query_against_events(&store, &SessionQuery { to_ms: Some(middle_ms), ..Default::default() });
    assert!(later.sessions > 0 && later.sessions < all.sessions);
    assert_eq!(later.distributions.iter().map(|d| d.values.iter().map(|v| v.1).sum::<u64>() + d.other).collect::<Vec<_>>(), vec![later.sessions; 4]);
}

/// A superseded Overview gives up when told, whichever way it reads (all sessions, a filter,
/// a time range), and an untouched flag changes nothing.
#[test]
fn a_cancelled_overview_gives_up() {
    use std::sync::atomic::AtomicBool;
    let (_dir, store) = generated(60, 5);
    let all = store.overview(&SessionQuery::default()).expect("overview");
    let middle_ms = all.buckets[all.buckets.len() / 2].start_ms;
    let queries = [
        SessionQuery::default(),
        SessionQuery { filter: rum_explorer::query::parse("browser:Chrome").expect("parse"), ..Default::default() },
        SessionQuery { from_ms: Some(middle_ms), ..Default::default() },
    ];
    for q in queries {
        let cancelled = store.overview_cancellable(&q, &AtomicBool::new(true));
        assert!(matches!(cancelled, Err(rum_explorer::store::StoreError::Cancelled)), "{q:?}: {:?}", cancelled.map(|o| o.sessions));
        assert_eq!(store.overview_cancellable(&q, &AtomicBool::new(false)).expect("not cancelled"), store.overview(&q).expect("overview"));
    }
}

/// The line the Bound view compares a session's views with: per app, the p75 of its views'
/// loading times, as each session's own events give them; an app no session has gets none.
#[test]
fn each_apps_p75_loading_time_is_that_of_its_views() {
    let (_dir, store) = generated(120, 21);
    let mut by_app: BTreeMap<Option<String>, Vec<f64>> = BTreeMap::new();
    for detail in details(&store, &SessionQuery::default()) {
        let values = by_app.entry(detail.session.app_id.clone()).or_default();
        for event in detail.events.iter().filter(|e| e.kind == "view") {
            if let Some(ns) = event.get("loading_time").and_then(|v| v.as_i64()).filter(|ns| *ns >= 0) {
                values.push(ns as f64 / 1e6);
            }
        }
    }
    assert!(by_app.len() >= 2, "the generated sessions have several apps: {:?}", by_app.keys());
    for (app_id, values) in by_app {
        assert!(!values.is_empty(), "{app_id:?}");
        assert_eq!(store.loading_time_p75(app_id.as_deref()).expect("p75"), p75_by_hand(values), "{app_id:?}");
    }
    assert_eq!(store.loading_time_p75(Some("no-such-app")).expect("p75"), None);
}

#[test]
fn an_errors_spread_counts_its_sessions_events_and_times_as_the_details_do() {
    let (_dir, store) = generated(150, 5);
    // Every error of every session, by type and message, read from the sessions' details.
    // (type, message) to its (session id, time) occurrences.
    type ErrorKey = (Option<String>, Option<String>);
    let mut by_error: BTreeMap<ErrorKey, Vec<(String, i64)>> = BTreeMap::new();
    for detail in details(&store, &SessionQuery::default()) {
        for event in detail.events.iter().filter(|e| e.kind == "error") {
            let key = (event.get_str("error_type").map(str::to_string), event.get_str("error_message").map(str::to_string));
            by_error.entry(key).or_default().push((detail.session.session_id.clone(), event.time_ms));
        }
    }
    assert!(by_error.len() >= 3, "the generated sessions have several errors: {}", by_error.len());
    let stats = store.stats().expect("stats");
    let span_ms = (stats.first_ms.expect("first"), stats.last_ms.expect("last"));
    for ((error_type, error_message), occurrences) in &by_error {
        let spread = store.error_occurrences(error_type.as_deref(), error_message.as_deref(), Some(span_ms), 24).expect("spread");
        let sessions: BTreeSet<&String> = occurrences.iter().map(|(s, _)| s).collect();
        assert_eq!((spread.sessions, spread.events), (sessions.len() as u64, occurrences.len() as u64), "{error_type:?} {error_message:?}");
        assert_eq!(spread.first_ms, occurrences.iter().map(|o| o.1).min());
        assert_eq!(spread.last_ms, occurrences.iter().map(|o| o.1).max());
        assert_eq!(spread.counts.len(), 24);
        assert_eq!(spread.counts.iter().sum::<u64>(), spread.events);
        // Each occurrence is in the bucket that holds its time.
        let mut by_hand = vec![0u64; 24];
        for (_, time_ms) in occurrences {
            assert!(*time_ms >= spread.from_ms && *time_ms < spread.from_ms + 24 * spread.bucket_ms, "{time_ms} outside the buckets");
            by_hand[((time_ms - spread.from_ms) / spread.bucket_ms) as usize] += 1;
        }
        assert_eq!(spread.counts, by_hand, "{error_type:?} {error_message:?}");
    }
    let none = store.error_occurrences(Some("NoSuchError"), Some("never"), Some(span_ms), 24).expect("spread");
    assert_eq!((none.sessions, none.events, none.first_ms, none.counts.iter().sum::<u64>()), (0, 0, None, 0));
}

#[test]
fn errors_group_by_message_pattern_across_types_sessions_and_messages() {
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    import(&mut store, &[own_fixture("error-patterns.ndjson")]);
    let o = check_against_events(&store, None);
    let tally = |error_type: &str, pattern: &str| {
        o.top_error_patterns
            .iter()
            .find(|p| p.error_type.as_deref() == Some(error_type) && p.pattern.as_deref() == Some(pattern))
            .map(|p| (p.count, p.sessions, p.messages))
    };
    // 500 twice (sessions 1 and 3), 502 in session 1, 404 in session 2: one session counted once.
    assert_eq!(tally("Error", "Request failed with status code *"), Some((4, 3, 3)));
    // The same message under another type is another pattern.
    assert_eq!(tally("TypeError", "Request failed with status code *"), Some((1, 1, 1)));
    assert_eq!(tally("Error", "Product * not found"), Some((2, 2, 2)));
    assert_eq!(tally("ReferenceError", "checkoutState is not defined"), Some((1, 1, 1)));
    assert_eq!(o.top_error_patterns.first().map(|p| p.count), Some(4));
    // By exact message, the status codes stay apart.
    assert_eq!(o.top_errors.iter().filter(|g| g.error_type.as_deref() == Some("Error")).count(), 5);
}

#[test]
fn a_fields_suggested_values_count_the_sessions_that_have_them() {
    let (_dir, store) = generated(80, 13);
    let all = details(&store, &SessionQuery::default());
    let sessions_with = |has: &dyn Fn(&SessionDetail) -> bool| all.iter().filter(|d| has(d)).count() as u64;
    let browsers = store.key_values("browser", 50).expect("browsers");
    assert!(browsers.len() >= 3, "{browsers:?}");
    for (browser, n) in &browsers {
        assert_eq!(*n, sessions_with(&|d| d.session.browser.as_deref() == Some(browser.as_str())), "{browser}");
    }
    // Most sessions first; Datadog's name of the field gives the same.
    assert!(browsers.windows(2).all(|w| w[0].1 >= w[1].1));
    assert_eq!(store.key_values("@browser.name", 50).expect("by Datadog's name"), browsers);
    let pages = store.key_values("view_path", 50).expect("pages");
    assert!(!pages.is_empty());
    for (page, n) in &pages {
        assert_eq!(*n, sessions_with(&|d| d.events.iter().any(|e| e.get_str("view_path") == Some(page.as_str()))), "{page}");
    }
    let types = store.key_values("error_type", 50).expect("error types");
    assert!(!types.is_empty());
    for (error_type, n) in &types {
        let has = |d: &SessionDetail| d.events.iter().any(|e| e.kind == "error" && e.get_str("error_type") == Some(error_type.as_str()));
        assert_eq!(*n, sessions_with(&has), "{error_type}");
    }
    // The event columns of few values: from the sessions' kept values.
    let statuses = store.key_values("resource_status", 50).expect("statuses");
    assert!(statuses.len() >= 3 && statuses[0].0 == "200", "{statuses:?}");
    for (status, n) in &statuses {
        let has = |d: &SessionDetail| d.events.iter().any(|e| e.kind == "resource" && e.get("resource_status").and_then(|v| v.as_i64()).map(|s| s.to_string()).as_deref() == Some(status.as_str()));
        assert_eq!(*n, sessions_with(&has), "{status}");
    }
    assert!(statuses.windows(2).all(|w| w[0].1 >= w[1].1));
    // Among the sessions a query selects, as the quick filters show them.
    let chrome = SessionQuery { filter: rum_explorer::query::parse("browser:Chrome").expect("parse"), ..Default::default() };
    let chrome_details = details(&store, &chrome);
    let of_chrome = store.top_event_values(&chrome, &["resource_status", "error_source"], 50).expect("top values");
    assert_eq!(of_chrome.len(), 2);
    assert!(!of_chrome[0].is_empty() && !of_chrome[1].is_empty(), "{of_chrome:?}");
    for (status, n) in &of_chrome[0] {
        let has = |d: &&SessionDetail| d.events.iter().any(|e| e.kind == "resource" && e.get("resource_status").and_then(|v| v.as_i64()).map(|s| s.to_string()).as_deref() == Some(status.as_str()));
        assert_eq!(*n, chrome_details.iter().filter(has).count() as u64, "{status} among Chrome's sessions");
    }
    for (source, n) in &of_chrome[1] {
        let has = |d: &&SessionDetail| d.events.iter().any(|e| e.kind == "error" && e.get_str("error_source") == Some(source.as_str()));
        assert_eq!(*n, chrome_details.iter().filter(has).count() as u64, "{source} among Chrome's sessions");
    }
    assert!(of_chrome[0][0].1 < statuses[0].1, "fewer than among all sessions");
    let methods = store.key_values("resource_method", 50).expect("methods");
    assert!(methods.iter().any(|(m, _)| m == "POST"), "{methods:?}");
    // Counts and times are not values to pick from; a field without an index gives none.
    assert!(store.key_values("error_count", 50).expect("count").is_empty());
    assert!(store.key_values("resource_url", 50).expect("event field").is_empty());
    assert_eq!(store.key_values("browser", 2).expect("limited").len(), 2);
}

#[test]
fn an_errors_pattern_counts_the_errors_of_its_type_whose_messages_mask_alike() {
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    import(&mut store, &[own_fixture("error-patterns.ndjson")]);
    let tally = |t: &str, m: &str| store.error_pattern_tally(Some(t), Some(m)).expect("tally").map(|p| (p.pattern, p.count, p.sessions, p.messages));
    // 500 (sessions 1 and 3), 502 (session 1), 404 (session 2); the TypeError 404 is another type.
    assert_eq!(tally("Error", "Request failed with status code 502"), Some((Some("Request failed with status code *".into()), 4, 3, 3)));
    assert_eq!(tally("TypeError", "Request failed with status code 404"), Some((Some("Request failed with status code *".into()), 1, 1, 1)));
    // Nothing varies: no pattern to tell.
    assert_eq!(tally("ReferenceError", "checkoutState is not defined"), None);
    // The drill-down's spread carries it.
    let spread = store.error_occurrences(Some("Error"), Some("Product 12 not found"), None, 10).expect("spread");
    assert_eq!((spread.sessions, spread.events), (1, 1));
    assert_eq!(spread.pattern.map(|p| (p.count, p.sessions, p.messages)), Some((2, 2, 2)));
}

#[test]
fn the_error_list_holds_the_selected_sessions_errors_newest_first() {
    let (_dir, store) = generated(80, 17);
    let q = SessionQuery { filter: rum_explorer::query::parse("browser:Chrome").expect("parse"), ..Default::default() };
    // Every error of the Chrome sessions, from their details.
    let mut expected: Vec<(i64, i64, String)> = Vec::new();
    for d in details(&store, &q) {
        for e in d.events.iter().filter(|e| e.kind == "error") {
            expected.push((e.time_ms, e.event_pk, d.session.session_id.clone()));
        }
    }
    expected.sort_by(|a, b| b.cmp(a));
    assert!(expected.len() > 10, "{}", expected.len());
    let (rows, total) = store.error_events(&q, "", 10).expect("errors");
    assert_eq!(total, expected.len() as u64);
    let got: Vec<(i64, i64, String)> = rows.iter().map(|r| (r.time_ms, r.event_pk, r.session_id.clone())).collect();
    assert_eq!(got, expected[..10].to_vec(), "the newest ten, each with its session");
    assert!(rows.iter().all(|r| r.browser.as_deref() == Some("Chrome")));
    // The find text narrows by type or message, in any case.
    let (found, found_total) = store.error_events(&q, "TYPEERROR", 1000).expect("found");
    assert!(found_total > 0 && found_total < total);
    assert!(found.iter().all(|r| r.error_type.as_deref() == Some("TypeError") || r.error_message.as_deref().is_some_and(|m| m.to_lowercase().contains("typeerror"))));
    let (_, nothing) = store.error_events(&q, "no such error text", 10).expect("none");
    assert_eq!(nothing, 0);
    // Without a filter: every error.
    let (_, all) = store.error_events(&SessionQuery::default(), "", 1).expect("all");
    assert_eq!(all, store.stats().expect("stats").events_by_kind.get("error").copied().unwrap_or(0));
    // The query's terms on the error type and message apply to the errors, not only to the
    // sessions: TypeErrors only, or every error but them.
    let parse = |text: &str| SessionQuery { filter: rum_explorer::query::parse(text).expect("parse"), ..Default::default() };
    let type_errors = |q: &SessionQuery| {
        let mut n = (0u64, 0u64);
        for d in details(&store, q) {
            for e in d.events.iter().filter(|e| e.kind == "error") {
                if e.get_str("error_type") == Some("TypeError") { n.0 += 1 } else { n.1 += 1 }
            }
        }
        n
    };
    let (type_error_rows, type_error_total) = store.error_events(&parse("error_type:TypeError browser:Chrome"), "", 1000).expect("typed");
    let (chrome_type_errors, chrome_others) = type_errors(&parse("error_type:TypeError browser:Chrome"));
    assert!(chrome_type_errors > 0 && chrome_others > 0, "the Chrome sessions with a TypeError have other errors too");
    assert_eq!(type_error_total, chrome_type_errors);
    assert!(type_error_rows.iter().all(|r| r.error_type.as_deref() == Some("TypeError")));
    let (_, not_type_errors) = store.error_events(&parse("-error_type:TypeError browser:Chrome"), "", 1).expect("negated");
    // Sessions without a TypeError, all of their errors (none of them TypeErrors).
    let (none, others) = type_errors(&parse("-error_type:TypeError browser:Chrome"));
    assert_eq!((none, not_type_errors), (0, others));
    let (_, wildcard) = store.error_events(&parse("error_message:*price*"), "", 1).expect("wildcard");
    assert!(wildcard > 0 && wildcard < all);
}
