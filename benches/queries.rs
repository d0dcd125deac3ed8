//! Store queries on a generated database: the session list's first page under several sorts,
//! with and without a two-term filter, a page from the middle, the count, filters on a page
//! and on an event column, sorts by a column without an index, a session's detail, the Views,
//! Errors and Resources tabs' lists and the Overview.
//!
//! `RUM_BENCH_SESSIONS=1000000 cargo bench --bench queries` measures at a million sessions; the
//! database is built once (generate + import, minutes at that size) and kept under
//! `target/bench-data/` for later runs.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rum_explorer::generate::{self, GenerateFormat};
use rum_explorer::ingest::{self, ImportProgress};
use rum_explorer::store::{SessionQuery, Store};
use std::path::PathBuf;

fn sessions() -> u64 {
    std::env::var("RUM_BENCH_SESSIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

/// The benchmark database for `n` sessions, built on first use.
pub fn bench_db(n: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let db = dir.join(format!("sessions-{n}.sqlite"));
    let done = dir.join(format!("sessions-{n}.done"));
    if !done.exists() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let mut store = Store::open(&db).expect("open");
        // In chunks of 100k sessions, so the generated file stays small.
        let chunk = 100_000;
        let mut written = 0;
        while written < n {
            let count = chunk.min(n - written);
            let file = dir.join("chunk.lp");
            generate::write(&file, GenerateFormat::Lp, count, 1000 + written, false).expect("generate");
            let report = ingest::import_file(&mut store, &file, &ImportProgress::new());
            assert!(report.error.is_none(), "{:?}", report.error);
            written += count;
            eprintln!("bench database: {written} of {n} sessions");
        }
        let _ = std::fs::remove_file(dir.join("chunk.lp"));
        std::fs::write(&done, b"").expect("mark");
    }
    db
}

fn queries(c: &mut Criterion) {
    let n = sessions();
    let store = Store::open(&bench_db(n)).expect("open");
    let total = store.count_sessions(&SessionQuery::default()).expect("count");
    let filter = rum_explorer::query::parse("browser:Chrome error_count:>0").expect("parse");
    let mut group = c.benchmark_group(format!("queries-{n}"));
    for (sort, descending) in [("start_ms", true), ("duration_ms", true), ("browser", false), ("error_count", true), ("last_view_path", false), ("slowest_resource_ns", true)] {
        let q = SessionQuery { sort_column: Some(sort.into()), descending, limit: 200, ..Default::default() };
        group.bench_function(BenchmarkId::new("first_page", sort), |b| b.iter(|| store.sessions(&q).expect("page")));
        let filtered = SessionQuery { filter: filter.clone(), ..q.clone() };
        group.bench_function(BenchmarkId::new("first_page_filtered", sort), |b| b.iter(|| store.sessions(&filtered).expect("page")));
        let middle = SessionQuery { offset: total / 2, ..q };
        group.bench_function(BenchmarkId::new("middle_page", sort), |b| b.iter(|| store.sessions(&middle).expect("page")));
    }
    group.bench_function("count_filtered", |b| {
        let q = SessionQuery { filter: filter.clone(), ..Default::default() };
        b.iter(|| store.count_sessions(&q).expect("count"))
    });
    let ids: Vec<String> = store
        .sessions(&SessionQuery { sort_column: Some("view_count".into()), descending: true, limit: 20, ..Default::default() })
        .expect("ids")
        .into_iter()
        .map(|r| r.session_id)
        .collect();
    let mut next = 0;
    group.bench_function("session_detail_largest", |b| {
        b.iter(|| {
            next = (next + 1) % ids.len();
            store.session_detail(&ids[next]).expect("detail")
        })
    });
    group.sample_size(10);
    // The Bound view's line: an app's p75 loading time over all its views (once per app, on
    // the detail's worker).
    group.bench_function("loading_time_p75_of_an_app", |b| b.iter(|| store.loading_time_p75(Some("appid_shop_web")).expect("p75")));
    // Filters on events: a page (read from each session's list of pages) and an error type
    // (from the events themselves); the first page asks them per session, the count and the
    // facets over every session. An action name no session has is collected from its index
    // at once (schema 7).
    let page_filter = rum_explorer::query::parse("view_path:/cart browser:Chrome").expect("parse");
    let event_filter = rum_explorer::query::parse("error_type:TypeError").expect("parse");
    let absent_action = rum_explorer::query::parse("action_name:checkout").expect("parse");
    for (name, filter) in [("page_filter", &page_filter), ("event_filter", &event_filter), ("absent_action", &absent_action)] {
        let q = SessionQuery { filter: filter.clone(), sort_column: Some("start_ms".into()), descending: true, limit: 200, ..Default::default() };
        group.bench_function(BenchmarkId::new("first_page", name), |b| b.iter(|| store.sessions(&q).expect("page")));
        group.bench_function(BenchmarkId::new("count", name), |b| b.iter(|| store.count_sessions(&q).expect("count")));
        group.bench_function(BenchmarkId::new("top_browsers", name), |b| b.iter(|| store.top_values(&q, "browser", 8).expect("facet")));
    }
    // Sorts by a column without an index: the first page reads every session's value (the
    // kept orders are dropped before each iteration); the next pages are slices of the kept
    // order, and so are the other direction and, from the order of every session, later
    // selections (two alternate, so neither is kept as the last selection). The peer is the
    // SQL this replaced (session 22): a subquery per session in ORDER BY, run for every page.
    let chrome = rum_explorer::query::parse("browser:Chrome").expect("parse");
    let safari = rum_explorer::query::parse("browser:Safari").expect("parse");
    for sort in ["loading_time_ns", "view_referrer"] {
        let ascending = SessionQuery { sort_column: Some(sort.into()), limit: 200, ..Default::default() };
        let descending = SessionQuery { descending: true, ..ascending.clone() };
        group.bench_function(BenchmarkId::new("unindexed_sort_first_page", sort), |b| {
            b.iter(|| {
                store.forget_kept_orders();
                store.sessions(&ascending).expect("page")
            })
        });
        store.sessions(&ascending).expect("the order of every session, kept");
        group.bench_function(BenchmarkId::new("unindexed_sort_other_direction", sort), |b| {
            b.iter(|| store.sessions(&descending).expect("page"))
        });
        let selections = [SessionQuery { filter: chrome.clone(), ..ascending.clone() }, SessionQuery { filter: safari.clone(), ..ascending.clone() }];
        let mut flip = false;
        group.bench_function(BenchmarkId::new("unindexed_sort_selection_from_kept_order", sort), |b| {
            b.iter(|| {
                flip = !flip;
                store.sessions(&selections[usize::from(flip)]).expect("page")
            })
        });
        let mut page = 0;
        group.bench_function(BenchmarkId::new("unindexed_sort_next_page", sort), |b| {
            b.iter(|| {
                page = (page + 1) % 50;
                store.sessions(&SessionQuery { offset: page * 200, ..ascending.clone() }).expect("page")
            })
        });
        let peer = format!(
            "SELECT s.session_pk FROM sessions s ORDER BY (SELECT e.{sort} FROM events e WHERE e.session_pk = s.session_pk
             AND e.{sort} IS NOT NULL ORDER BY e.time_ms LIMIT 1), s.session_pk LIMIT 200 OFFSET ?1"
        );
        group.bench_function(BenchmarkId::new("unindexed_sort_page_peer_subqueries", sort), |b| {
            b.iter(|| {
                page = (page + 1) % 50;
                let mut statement = store.conn.prepare_cached(&peer).expect("prepare");
                let keys: Vec<i64> = statement.query_map([(page * 200) as i64], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows");
                keys
            })
        });
    }
    // The Views and Errors tabs' first pages (500 rows and the total), as the window asks.
    let all = SessionQuery::default();
    let chrome = SessionQuery { filter: rum_explorer::query::parse("browser:Chrome").expect("filter"), ..Default::default() };
    let cart = SessionQuery { filter: rum_explorer::query::parse("view_path:/cart").expect("filter"), ..Default::default() };
    for (name, q) in [("all", &all), ("browser_chrome", &chrome), ("view_path_cart", &cart)] {
        group.bench_function(BenchmarkId::new("views_newest", name), |b| {
            b.iter(|| store.view_events(q, "", rum_explorer::store::ViewSort::Time, true, 500).expect("views"))
        });
    }
    group.bench_function(BenchmarkId::new("views_slowest_loading", "all"), |b| {
        b.iter(|| store.view_events(&all, "", rum_explorer::store::ViewSort::LoadingTime, true, 500).expect("views"))
    });
    group.bench_function(BenchmarkId::new("views_find", "checkout"), |b| {
        b.iter(|| store.view_events(&all, "checkout", rum_explorer::store::ViewSort::Time, true, 500).expect("views"))
    });
    for (name, q) in [("all", &all), ("browser_chrome", &chrome)] {
        group.bench_function(BenchmarkId::new("errors_newest", name), |b| b.iter(|| store.error_events(q, "", 500).expect("errors")));
    }
    // The Resources tab: its rows as the window asks them (the count of a narrowed list
    // comes apart, `resources_count_find`), its slowest first, and by URL.
    use rum_explorer::store::ResourceSort;
    for (name, q) in [("all", &all), ("browser_chrome", &chrome)] {
        group.bench_function(BenchmarkId::new("resources_newest", name), |b| {
            b.iter(|| store.resource_rows(q, "", ResourceSort::Time, true, 500).expect("resources"))
        });
    }
    group.bench_function(BenchmarkId::new("resources_oldest", "all"), |b| b.iter(|| store.resource_rows(&all, "", ResourceSort::Time, false, 500).expect("resources")));
    group.bench_function(BenchmarkId::new("resources_newest_find", "checkout"), |b| {
        b.iter(|| store.resource_rows(&all, "checkout", ResourceSort::Time, true, 500).expect("resources"))
    });
    group.bench_function(BenchmarkId::new("resources_count_find", "checkout"), |b| b.iter(|| store.resource_total(&all, "checkout").expect("count")));
    group.bench_function(BenchmarkId::new("resources_count", "browser_chrome"), |b| b.iter(|| store.resource_total(&chrome, "").expect("count")));
    for (name, q) in [("all", &all), ("browser_chrome", &chrome)] {
        group.bench_function(BenchmarkId::new("resources_slowest", name), |b| {
            b.iter(|| store.resource_rows(q, "", ResourceSort::Duration, true, 500).expect("resources"))
        });
    }
    group.bench_function(BenchmarkId::new("resources_largest", "browser_chrome"), |b| {
        b.iter(|| store.resource_rows(&chrome, "", ResourceSort::Size, true, 500).expect("resources"))
    });
    // The fastest first has no per-session bound: it reads the table (the peer of the above).
    group.bench_function(BenchmarkId::new("resources_fastest", "browser_chrome"), |b| {
        b.iter(|| store.resource_rows(&chrome, "", ResourceSort::Duration, false, 500).expect("resources"))
    });
    group.bench_function(BenchmarkId::new("resource_groups_patterns", "browser_chrome"), |b| b.iter(|| store.resource_groups(&chrome, "", true).expect("groups")));
    group.bench_function("overview_all", |b| b.iter(|| store.overview(&SessionQuery::default()).expect("overview")));
    let q = SessionQuery { filter: filter.clone(), ..Default::default() };
    group.bench_function("overview_filtered", |b| b.iter(|| store.overview(&q).expect("overview")));
    let q = SessionQuery { filter: page_filter.clone(), ..Default::default() };
    group.bench_function("overview_page_filter", |b| b.iter(|| store.overview(&q).expect("overview")));
    // A time range over the middle third of the data, as dragged across a chart.
    let buckets = store.overview(&SessionQuery::default()).expect("overview").buckets;
    let third = buckets.len() / 3;
    if let (Some(from), Some(to)) = (buckets.get(third), buckets.get(2 * third)) {
        let q = SessionQuery { from_ms: Some(from.start_ms), to_ms: Some(to.start_ms), ..Default::default() };
        group.bench_function("overview_time_range", |b| b.iter(|| store.overview(&q).expect("overview")));
    }
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
