//! Database work off the UI thread. Each worker owns one connection and answers requests in
//! order, dropping requests a newer one has superseded; the app can interrupt the running query.

use crate::store::{SessionDetail, SessionQuery, SessionRow, Store, StoreError};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Rows fetched per page of the sessions table.
pub const PAGE_ROWS: usize = 200;

/// Top values of one facet column.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    pub key: &'static str,
    pub title: &'static str,
    pub values: Vec<(String, u64)>,
}

/// The facet columns of the left panel.
pub const FACET_COLUMNS: &[(&str, &str)] = &[
    ("app_id", "App"),
    ("env", "Env"),
    ("session_type", "Session type"),
    ("browser", "Browser"),
    ("os", "OS"),
    ("country", "Country"),
];

/// The facets counted from the sessions' kept event values (see `store::event_values`), asked
/// apart from the others: they read every selected session's values (about 0.5 s at 1,000,000
/// sessions), and the other facets should not wait for them.
pub const EVENT_VALUE_FACETS: &[(&str, &str)] = &[
    ("resource_status", "Request status"),
    ("resource_type", "Resource type"),
    ("error_source", "Error source"),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub from_ms: i64,
    pub bucket_ms: i64,
    pub counts: Vec<u64>,
}

#[derive(Debug)]
pub enum Request {
    Count { generation: u64, query: SessionQuery },
    Page { generation: u64, query: SessionQuery, page: usize },
    Facets { generation: u64, query: SessionQuery },
    /// The facets of [`EVENT_VALUE_FACETS`].
    EventValueFacets { generation: u64, query: SessionQuery },
    Histogram { generation: u64, query: SessionQuery, from_ms: i64, to_ms: i64 },
    /// The database's sessions count and time span (for presets and the empty state).
    DataSpan,
    Keys,
    Detail { session_id: String },
    Overview { generation: u64, query: SessionQuery },
    /// An app's p75 loading time, for a session's bound view.
    LoadingP75 { app_id: Option<String> },
    /// Sessions and events with the same error type and message, and when they happened
    /// over the data's span (its first and last session start), when known.
    ErrorOccurrences { error_type: Option<String>, error_message: Option<String>, span_ms: Option<(i64, i64)> },
    /// A field's most common values, for the query bar's suggestions.
    KeyValues { key: String },
    /// The Errors tab: the newest errors of the selected sessions holding `find`.
    Errors { generation: u64, query: SessionQuery, find: String, limit: usize },
    /// The Views tab: the selected sessions' views whose page holds `find`, in an order.
    Views { generation: u64, query: SessionQuery, find: String, sort: crate::store::ViewSort, descending: bool, limit: usize },
    /// The Views tab grouped by page: every page (or route) with its views and p75 vitals.
    Pages { generation: u64, query: SessionQuery, find: String, as_routes: bool },
    /// The Errors tab by error: every type and message (or pattern) with its counts.
    ErrorGroups { generation: u64, query: SessionQuery, find: String, as_patterns: bool },
    /// The Resources tab: the selected sessions' resources whose URL holds `find`, in an order.
    Resources { generation: u64, query: SessionQuery, find: String, sort: crate::store::ResourceSort, descending: bool, limit: usize },
    /// The Resources tab by URL: every method and URL (or pattern) with its counts;
    /// `requests_read` counts the requests read so far, for the window to show.
    ResourceGroups { generation: u64, query: SessionQuery, find: String, as_patterns: bool, requests_read: Arc<AtomicU64> },
    /// How many resources the Resources tab selects, when its rows came without the total
    /// (a term or the find narrows them: counting reads the events table).
    ResourceTotal { generation: u64, query: SessionQuery, find: String },
}

impl Request {
    /// Requests of the same slot replace each other when both are waiting.
    fn slot(&self) -> Option<u8> {
        match self {
            Request::Count { .. } => Some(0),
            Request::Facets { .. } => Some(1),
            Request::Histogram { .. } => Some(2),
            Request::DataSpan => Some(3),
            Request::Keys => Some(4),
            Request::Detail { .. } => Some(5),
            Request::ErrorOccurrences { .. } => Some(6),
            Request::Overview { .. } => Some(7),
            Request::LoadingP75 { .. } => Some(8),
            Request::KeyValues { .. } => Some(9),
            Request::Errors { .. } => Some(10),
            Request::Views { .. } => Some(11),
            Request::Pages { .. } => Some(12),
            Request::ErrorGroups { .. } => Some(13),
            Request::Resources { .. } => Some(14),
            Request::ResourceGroups { .. } => Some(15),
            Request::ResourceTotal { .. } => Some(16),
            Request::EventValueFacets { .. } => Some(17),
            Request::Page { .. } => None,
        }
    }
}

#[derive(Debug)]
pub enum Response {
    Count { generation: u64, total: u64 },
    Page { generation: u64, page: usize, rows: Vec<SessionRow> },
    Facets { generation: u64, facets: Vec<Facet> },
    EventValueFacets { generation: u64, facets: Vec<Facet> },
    Histogram { generation: u64, histogram: Histogram },
    DataSpan { sessions: u64, first_ms: Option<i64>, last_ms: Option<i64> },
    Keys(Vec<String>),
    Detail { session_id: String, detail: Option<Box<SessionDetail>> },
    ErrorOccurrences { error_type: Option<String>, error_message: Option<String>, spread: crate::store::ErrorSpread },
    Overview { generation: u64, overview: Box<crate::store::Overview> },
    LoadingP75 { app_id: Option<String>, p75_ms: Option<f64> },
    KeyValues { key: String, values: Vec<(String, u64)> },
    Errors { generation: u64, find: String, limit: usize, rows: Vec<crate::store::ErrorEventRow>, total: u64 },
    Pages { generation: u64, find: String, as_routes: bool, pages: Vec<crate::store::PageSummary> },
    ErrorGroups { generation: u64, find: String, as_patterns: bool, groups: Vec<crate::store::ErrorGroup> },
    Views {
        generation: u64,
        find: String,
        sort: crate::store::ViewSort,
        descending: bool,
        limit: usize,
        rows: Vec<crate::store::ViewEventRow>,
        total: u64,
    },
    Resources {
        generation: u64,
        find: String,
        sort: crate::store::ResourceSort,
        descending: bool,
        limit: usize,
        rows: Vec<crate::store::ResourceEventRow>,
        /// `None` when counting them would hold the rows back: [`Request::ResourceTotal`].
        total: Option<u64>,
    },
    ResourceTotal { generation: u64, find: String, total: u64 },
    ResourceGroups { generation: u64, find: String, as_patterns: bool, groups: Vec<crate::store::ResourceGroup> },
    Failed { what: &'static str, message: String },
}

/// Errors the Errors tab lists at first (the newest), and adds with each *Show older*.
pub const ERROR_LIST_PAGE: usize = 500;

/// Views the Views tab lists at first, and adds with each *Show more*.
pub const VIEW_LIST_PAGE: usize = 500;

/// Resources the Resources tab lists at first, and adds with each *Show more*.
pub const RESOURCE_LIST_PAGE: usize = 500;

/// Values of a field the query bar's suggestions choose from.
pub const KEY_VALUES_LIMIT: usize = 50;

/// Buckets of the error drill-down's chart of one error over the data's span.
pub const ERROR_SPREAD_BUCKETS: usize = 60;

pub struct Worker {
    requests: Sender<Request>,
    interrupt: Arc<Mutex<Option<rusqlite::InterruptHandle>>>,
    /// Set by [`Worker::interrupt`]: an error of the running request is then the interrupt's
    /// doing (SQLite reports some, e.g. in `json_each`, as other errors) and is not shown.
    interrupted: Arc<AtomicBool>,
}

impl Worker {
    /// Starts a worker on `db`. `notify` runs after each response (a repaint request).
    pub fn spawn(name: &str, db: PathBuf, responses: Sender<Response>, notify: impl Fn() + Send + 'static) -> Worker {
        let (tx, rx) = channel::<Request>();
        let interrupt = Arc::new(Mutex::new(None));
        let interrupt_slot = interrupt.clone();
        let interrupted = Arc::new(AtomicBool::new(false));
        let interrupted_flag = interrupted.clone();
        let spawned = std::thread::Builder::new().name(format!("db-{name}")).spawn(move || {
            // Another worker may be upgrading the schema (a long migration on a big database
            // holds the write lock): wait for it rather than give up after the busy timeout.
            let started = std::time::Instant::now();
            let store = loop {
                match Store::open(&db) {
                    Ok(store) => break store,
                    Err(StoreError::Busy) if started.elapsed() < std::time::Duration::from_secs(3600) => {
                        std::thread::sleep(std::time::Duration::from_millis(200));
                    }
                    Err(e) => {
                        let _ = responses.send(Response::Failed { what: "open", message: e.to_string() });
                        notify();
                        return;
                    }
                }
            };
            if let Ok(mut slot) = interrupt_slot.lock() {
                *slot = Some(store.interrupt_handle());
            }
            serve(&store, &rx, &responses, &notify, &interrupted_flag);
        });
        if let Err(e) = spawned {
            eprintln!("rum-explorer: cannot start a worker thread: {e}");
        }
        Worker { requests: tx, interrupt, interrupted }
    }

    pub fn send(&self, request: Request) {
        let _ = self.requests.send(request);
    }

    /// Stops the query running now (it is superseded); waiting requests still run.
    pub fn interrupt(&self) {
        if let Ok(slot) = self.interrupt.lock() {
            if let Some(handle) = slot.as_ref() {
                self.interrupted.store(true, Ordering::SeqCst);
                handle.interrupt();
            }
        }
    }
}

/// Learns, on a thread of its own, which extended fields a database written before schema 12
/// has, its sessions' event values before schema 13 and their filters of event values before
/// schema 14 (see `Store::learn_fields_and_values`): once known, filters and sorts on them read
/// only where they are. Nothing to do for a newer database; an import under way leaves it for
/// the next start. At 1,000,000 sessions it reads the events table once for the fields (26 s),
/// once for the values (56-72 s) and once for the filters.
/// `learning` is set while it reads (the window says so), and `done` is called after.
pub fn learn_fields_and_values_in_background(
    db: PathBuf,
    learning: Arc<AtomicBool>,
    done: impl Fn() + Send + 'static,
) -> Option<std::thread::JoinHandle<()>> {
    let learn = move || {
        let Ok(store) = Store::open(&db) else { return };
        if !matches!(store.store_facts(), Ok(Some(facts)) if facts.event_values_kept && facts.event_hashes_kept) {
            learning.store(true, Ordering::Relaxed);
            let _ = store.learn_fields_and_values();
            learning.store(false, Ordering::Relaxed);
            done();
        }
    };
    std::thread::Builder::new().name("db-learn-fields".into()).spawn(learn).ok()
}

fn serve(store: &Store, rx: &Receiver<Request>, responses: &Sender<Response>, notify: &dyn Fn(), interrupted: &AtomicBool) {
    // A first page shorter than a page is the whole list: its length answers the count of
    // its generation, which the app asks right after the page. Counting again would read
    // every event for a filter on an event column (seconds on a big database).
    let mut short_first_page: Option<(u64, u64)> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        // Keep the newest request of each slot, and pages of the newest generation only.
        let newest_generation = batch.iter().filter_map(|r| match r {
            Request::Page { generation, .. } | Request::Count { generation, .. } => Some(*generation),
            _ => None,
        });
        let newest_generation = newest_generation.max().unwrap_or(0);
        let mut kept: Vec<Request> = Vec::new();
        for request in batch.into_iter().rev() {
            let superseded = match (&request, request.slot()) {
                (Request::Page { generation, .. }, _) => *generation < newest_generation,
                (_, Some(slot)) => kept.iter().any(|k| k.slot() == Some(slot)),
                _ => false,
            };
            if !superseded {
                kept.push(request);
            }
        }
        kept.reverse();
        for request in kept {
            interrupted.store(false, Ordering::SeqCst);
            let outcome = match (&request, short_first_page) {
                (Request::Count { generation, .. }, Some((page_generation, rows))) if *generation == page_generation => {
                    Ok(Some(Response::Count { generation: *generation, total: rows }))
                }
                // A panic in a query is reported, and the worker goes on serving.
                _ => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| answer(store, request, interrupted))),
            };
            if let Ok(Some(Response::Page { generation, page: 0, rows })) = &outcome {
                if rows.len() < PAGE_ROWS {
                    short_first_page = Some((*generation, rows.len() as u64));
                }
            }
            let response = match outcome {
                Ok(Some(Response::Failed { .. })) if interrupted.load(Ordering::SeqCst) => continue,
                Ok(Some(response)) => response,
                Ok(None) => continue,
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown panic".into());
                    Response::Failed { what: "query", message: format!("internal error: {message}") }
                }
            };
            if responses.send(response).is_err() {
                return;
            }
            notify();
        }
    }
}

fn failed(what: &'static str, error: StoreError) -> Option<Response> {
    match error {
        StoreError::Cancelled => None, // superseded on purpose
        other => Some(Response::Failed { what, message: other.to_string() }),
    }
}

/// `interrupted` is set when the app supersedes the running request; long requests made of
/// many statements (the Overview) check it between and inside them.
fn answer(store: &Store, request: Request, interrupted: &AtomicBool) -> Option<Response> {
    match request {
        Request::Count { generation, query } => match store.count_sessions(&query) {
            Ok(total) => Some(Response::Count { generation, total }),
            Err(e) => failed("count", e),
        },
        Request::Page { generation, mut query, page } => {
            query.offset = (page * PAGE_ROWS) as u64;
            query.limit = PAGE_ROWS as u64;
            match store.sessions(&query) {
                Ok(rows) => Some(Response::Page { generation, page, rows }),
                Err(e) => failed("page", e),
            }
        }
        Request::Facets { generation, query } => {
            let mut facets = Vec::new();
            for (key, title) in FACET_COLUMNS {
                match store.top_values(&query, key, 8) {
                    Ok(values) => facets.push(Facet { key, title, values }),
                    Err(e) => return failed("facets", e),
                }
            }
            match store.error_split(&query) {
                Ok((with, without)) => facets.push(Facet {
                    key: "error_count",
                    title: "Errors",
                    values: vec![("with errors".into(), with), ("without errors".into(), without)],
                }),
                Err(e) => return failed("facets", e),
            }
            Some(Response::Facets { generation, facets })
        }
        Request::EventValueFacets { generation, query } => {
            let columns: Vec<&str> = EVENT_VALUE_FACETS.iter().map(|(key, _)| *key).collect();
            match store.top_event_values(&query, &columns, 8) {
                Ok(values) => {
                    let facets = EVENT_VALUE_FACETS
                        .iter()
                        .zip(values)
                        .filter(|(_, values)| !values.is_empty())
                        .map(|((key, title), values)| Facet { key, title, values })
                        .collect();
                    Some(Response::EventValueFacets { generation, facets })
                }
                Err(e) => failed("facets", e),
            }
        }
        Request::Histogram { generation, query, from_ms, to_ms } => {
            let buckets = 80i64;
            let bucket_ms = ((to_ms - from_ms) / buckets).max(1000);
            match store.start_histogram(&query, from_ms, bucket_ms, buckets as usize) {
                Ok(counts) => Some(Response::Histogram { generation, histogram: Histogram { from_ms, bucket_ms, counts } }),
                Err(e) => failed("histogram", e),
            }
        }
        Request::DataSpan => match store.stats_span() {
            Ok((sessions, first_ms, last_ms)) => Some(Response::DataSpan { sessions, first_ms, last_ms }),
            Err(e) => failed("stats", e),
        },
        Request::Keys => match store.session_keys() {
            Ok(keys) => Some(Response::Keys(keys)),
            Err(e) => failed("keys", e),
        },
        Request::Detail { session_id } => match store.session_detail(&session_id) {
            Ok(detail) => Some(Response::Detail { session_id, detail: detail.map(Box::new) }),
            Err(e) => failed("detail", e),
        },
        Request::Overview { generation, query } => match store.overview_cancellable(&query, interrupted) {
            Ok(overview) => Some(Response::Overview { generation, overview: Box::new(overview) }),
            Err(e) => failed("overview", e),
        },
        Request::LoadingP75 { app_id } => match store.loading_time_p75(app_id.as_deref()) {
            Ok(p75_ms) => Some(Response::LoadingP75 { app_id, p75_ms }),
            Err(e) => failed("loading time p75", e),
        },
        Request::Errors { generation, query, find, limit } => match store.error_events(&query, &find, limit) {
            Ok((rows, total)) => Some(Response::Errors { generation, find, limit, rows, total }),
            Err(e) => failed("errors", e),
        },
        Request::Views { generation, query, find, sort, descending, limit } => match store.view_events(&query, &find, sort, descending, limit) {
            Ok((rows, total)) => Some(Response::Views { generation, find, sort, descending, limit, rows, total }),
            Err(e) => failed("views", e),
        },
        Request::Resources { generation, query, find, sort, descending, limit } => match store.resource_rows(&query, &find, sort, descending, limit) {
            Ok((rows, total)) => Some(Response::Resources { generation, find, sort, descending, limit, rows, total }),
            Err(e) => failed("resources", e),
        },
        Request::ResourceGroups { generation, query, find, as_patterns, requests_read } => match store.resource_groups_counting(&query, &find, as_patterns, &requests_read, interrupted) {
            Ok(groups) => Some(Response::ResourceGroups { generation, find, as_patterns, groups }),
            Err(e) => failed("resources by URL", e),
        },
        Request::ResourceTotal { generation, query, find } => match store.resource_total(&query, &find) {
            Ok(total) => Some(Response::ResourceTotal { generation, find, total }),
            Err(e) => failed("count of resources", e),
        },
        Request::ErrorGroups { generation, query, find, as_patterns } => match store.error_groups(&query, &find, as_patterns) {
            Ok(groups) => Some(Response::ErrorGroups { generation, find, as_patterns, groups }),
            Err(e) => failed("errors by type and message", e),
        },
        Request::Pages { generation, query, find, as_routes } => match store.page_summaries(&query, &find, as_routes) {
            Ok(pages) => Some(Response::Pages { generation, find, as_routes, pages }),
            Err(e) => failed("pages", e),
        },
        Request::KeyValues { key } => match store.key_values(&key, KEY_VALUES_LIMIT) {
            Ok(values) => Some(Response::KeyValues { key, values }),
            Err(e) => failed("values of a field", e),
        },
        Request::ErrorOccurrences { error_type, error_message, span_ms } => {
            match store.error_occurrences(error_type.as_deref(), error_message.as_deref(), span_ms, ERROR_SPREAD_BUCKETS) {
                Ok(spread) => Some(Response::ErrorOccurrences { error_type, error_message, spread }),
                Err(e) => failed("same errors", e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{import_paths, ImportProgress};
    use std::time::Duration;

    fn next_count(responses: &Receiver<Response>) -> (u64, u64) {
        loop {
            match responses.recv_timeout(Duration::from_secs(30)) {
                Ok(Response::Count { generation, total }) => return (generation, total),
                Ok(Response::Failed { message, .. }) => panic!("{message}"),
                Ok(_) => {}
                Err(e) => panic!("no count: {e}"),
            }
        }
    }

    #[test]
    fn a_short_first_page_answers_its_generations_count() {
        let (dir, db, store) = database_of(&["tests/fixtures/views.ndjson", "tests/fixtures/tricky.lp"]);
        let sessions = store.count_sessions(&SessionQuery::default()).expect("count");
        assert!(sessions >= 2, "{sessions} sessions");
        drop(store);

        let (tx, responses) = channel();
        let worker = Worker::spawn("test", db, tx, || {});
        let everything = SessionQuery::default();
        // This query matches nothing: a count that runs it says 0.
        let nothing = SessionQuery { filter: crate::query::parse("session_id:no-such-session").expect("filter"), ..Default::default() };
        assert_eq!(store_count(&dir, &nothing), 0);
        worker.send(Request::Page { generation: 1, query: everything.clone(), page: 0 });
        worker.send(Request::Count { generation: 1, query: nothing.clone() });
        assert_eq!(next_count(&responses), (1, sessions), "the short page's length, not a second count");
        // Another generation is counted.
        worker.send(Request::Count { generation: 2, query: nothing });
        assert_eq!(next_count(&responses), (2, 0));
    }

    #[test]
    fn a_database_from_before_schema_12_learns_its_extended_fields() {
        let (_dir, db, store) = database_of(&["tests/fixtures/views.ndjson", "tests/fixtures/tricky.lp", "sample-data/guance-shop.lp"]);
        let recorded = store.store_facts().expect("facts").expect("known");
        assert!(!recorded.event.is_empty() && !recorded.session.is_empty(), "{recorded:?}");
        store.conn.execute("DELETE FROM store_facts WHERE name IN ('session_field_keys', 'event_field_keys')", []).expect("forget");
        assert_eq!(store.store_facts().expect("facts"), None);
        let learning = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let told = done.clone();
        learn_fields_and_values_in_background(db, learning.clone(), move || told.store(true, Ordering::Relaxed))
            .expect("a thread")
            .join()
            .expect("learned");
        assert!(done.load(Ordering::Relaxed) && !learning.load(Ordering::Relaxed), "told when done, and no longer learning");
        assert_eq!(store.store_facts().expect("facts"), Some(recorded), "read from the rows, as the import recorded them");
    }

    /// A database in a temporary folder (`rum.sqlite`) with the project's `files` imported.
    fn database_of(files: &[&str]) -> (tempfile::TempDir, PathBuf, Store) {
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("rum.sqlite");
        let mut store = Store::open(&db).expect("open");
        let paths: Vec<PathBuf> = files.iter().map(|f| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(f)).collect();
        import_paths(&mut store, &paths, &ImportProgress::new(), |_| {});
        (dir, db, store)
    }

    fn store_count(dir: &tempfile::TempDir, query: &SessionQuery) -> u64 {
        Store::open(&dir.path().join("rum.sqlite")).expect("open").count_sessions(query).expect("count")
    }
}
