//! The command line: the same store as the window, headless and scriptable.

use crate::ingest::{self, FileReport, ImportProgress};
use crate::store::{SessionQuery, SessionRow, Store};
use crate::timeparse::{format_utc_ms, parse_datetime_ms};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(name = "rum-explorer", version, about = "Explore Real User Monitoring sessions offline: import Guance and Datadog RUM exports into SQLite, list, filter and open sessions.")]
pub struct Cli {
    /// The database file (default: rum-explorer.sqlite in the platform's data directory).
    #[arg(long, global = true)]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Files or folders to import when the window opens.
    pub files: Vec<PathBuf>,
    /// Open the window on this session's detail.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Open the window on the Overview charts instead of the sessions table.
    #[arg(long)]
    pub overview: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Import RUM export files or folders (format detected from content; gzip is fine).
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List sessions.
    Sessions {
        #[command(flatten)]
        selection: SelectionArgs,
        /// Sort column: any session column or extended field.
        #[arg(long, default_value = "start_ms")]
        sort: String,
        #[arg(long)]
        desc: bool,
        #[arg(long, default_value_t = 50)]
        limit: u64,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Add a column: any event key or extended field (repeatable); shown in csv and json.
        #[arg(long = "column", value_name = "KEY")]
        columns: Vec<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Show one session: properties, extended fields and its timeline.
    Session {
        id: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// The newest errors of the selected sessions, as the window's Errors tab lists them: a
    /// top-level `error_type:` or `error_message:` term of the filter (or a group of them, such as
    /// `(error_type:TypeError OR error_type:ReferenceError)`) applies to the errors.
    Errors {
        #[command(flatten)]
        selection: SelectionArgs,
        /// Only errors whose type or message holds this text (case-insensitive).
        #[arg(long, default_value = "")]
        find: String,
        /// One row per error (type and message): how often, in how many sessions, first and
        /// last seen; the most frequent first.
        #[arg(long)]
        by_error: bool,
        /// With --by-error: messages that differ only in numbers and ids as one pattern.
        #[arg(long)]
        patterns: bool,
        /// With --by-error: count (default), sessions, last_seen or first_seen.
        #[arg(long, default_value = "count")]
        sort: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// The views of the selected sessions, as the window's Views tab lists them: the newest
    /// first, or the slowest by a vital; a top-level term of the filter on a view field
    /// (`view_path:/cart`, `loading_time:>3000000000`) applies to the views.
    Views {
        #[command(flatten)]
        selection: SelectionArgs,
        /// Only views whose page path holds this text (case-insensitive).
        #[arg(long, default_value = "")]
        find: String,
        /// time (newest first), or the slowest first by loading_time, first_contentful_paint,
        /// largest_contentful_paint, cumulative_layout_shift or interaction_to_next_paint.
        #[arg(long, default_value = "time")]
        sort: String,
        /// The other way: oldest or fastest first.
        #[arg(long)]
        asc: bool,
        /// One row per page: its views and the p75 of each vital, the most viewed first (or
        /// the slowest p75 of --sort).
        #[arg(long)]
        by_page: bool,
        /// With --by-page: pages that differ only in numbers and ids as one route (`/products/*`).
        #[arg(long)]
        routes: bool,
        /// With --by-page: only pages (routes) with at least this many views.
        #[arg(long, default_value_t = 1)]
        min_views: u64,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// The resources (Fetch/XHR, scripts, images, ...) of the selected sessions, as the
    /// window's Resources tab lists them: the newest first, or the slowest (largest) first; a
    /// top-level term of the filter on a resource field (`resource_status:>=400`,
    /// `resource_type:xhr`, `duration:>1000000000`) applies to the resources.
    Resources {
        #[command(flatten)]
        selection: SelectionArgs,
        /// Only resources whose URL holds this text (case-insensitive).
        #[arg(long, default_value = "")]
        find: String,
        /// time (newest first), duration (slowest first) or size (largest first); by URL:
        /// count, failed, p75 or size.
        #[arg(long)]
        sort: Option<String>,
        /// The other way: oldest, fastest or smallest first.
        #[arg(long)]
        asc: bool,
        /// One row per method and URL (without its query string): requests, failed, sessions,
        /// p75 and longest duration, bytes; the most requested first.
        #[arg(long)]
        by_url: bool,
        /// With --by-url: URLs that differ only in numbers and ids as one pattern
        /// (`/api/items/*`), files named by a build's hash too (`fonts/*.woff`).
        #[arg(long)]
        patterns: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Aggregates of the selected sessions: sessions, views, users and errors over time, web
    /// vitals (p75, ratings, distribution), top pages, distributions and top errors.
    Overview {
        #[command(flatten)]
        selection: SelectionArgs,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Record which extended fields a database written before version 12 has, and the values
    /// each session's events have in the columns of few values (before version 13; reads every
    /// event), so that filters and sorts on them read only where they are. The window does this
    /// by itself when it opens such a database.
    LearnFields,
    /// Counts by kind, sessions, time span and apps.
    Stats {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Write realistic synthetic RUM data for tests, demos and benchmarks.
    Generate {
        #[arg(long, default_value_t = 100)]
        sessions: u64,
        #[arg(long, value_enum)]
        format: crate::generate::GenerateFormat,
        /// Output file (CSV writes one file per event kind: OUT-view.csv, ...).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Compress the output with gzip.
        #[arg(long)]
        gzip: bool,
        /// The order of the events: session by session, or by time across sessions as an
        /// explorer's export is.
        #[arg(long, value_enum, default_value_t = crate::generate::GenerateOrder::Session)]
        order: crate::generate::GenerateOrder,
        /// Sessions start within this many hours, instead of over a week with more by day
        /// (a short span makes many sessions overlap in time).
        #[arg(long)]
        span_hours: Option<u64>,
    },
}

/// Which sessions `sessions` and `overview` look at.
#[derive(clap::Args, Debug)]
pub struct SelectionArgs {
    /// A filter query, e.g. 'browser:Chrome error_count:>0 -env:staging'.
    #[arg(long)]
    filter: Option<String>,
    /// Sessions starting at or after this time (epoch or date-time; UTC unless a zone is given).
    #[arg(long)]
    from: Option<String>,
    /// Sessions starting before this time.
    #[arg(long)]
    to: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

/// The default database: `rum-explorer.sqlite` in the platform's data directory.
pub fn default_db_path() -> PathBuf {
    directories::ProjectDirs::from("", "", "rum-explorer")
        .map(|dirs| dirs.data_dir().join("rum-explorer.sqlite"))
        .unwrap_or_else(|| PathBuf::from("rum-explorer.sqlite"))
}

/// Runs a subcommand; returns the process exit code.
pub fn run(db: &Path, command: Command) -> Result<i32, String> {
    match command {
        Command::Import { paths, json } => import(db, &paths, json),
        Command::Sessions { selection, sort, desc, limit, offset, columns, format } => {
            let store = Store::open(db).map_err(|e| e.describe(db))?;
            let (filter, from_ms, to_ms) = selection_query(selection)?;
            note_unknown_keys(&store, filter.as_ref());
            let q = SessionQuery {
                filter,
                from_ms,
                to_ms,
                sort_column: Some(sort),
                descending: desc,
                limit,
                offset,
                extra_columns: columns.clone(),
                store_facts: None,
            };
            let rows = store.sessions(&q).map_err(|e| e.describe(db))?;
            print_sessions(&rows, &columns, format).map_err(|e| e.to_string())?;
            if format == OutputFormat::Table {
                // A short first page is the whole answer; counting again would read every
                // event a second time for a filter on a rare event value.
                let total = if offset == 0 && (rows.len() as u64) < limit {
                    rows.len() as u64
                } else {
                    store.count_sessions(&q).map_err(|e| e.describe(db))?
                };
                eprintln!("{} of {} sessions", rows.len(), total);
            }
            Ok(0)
        }
        Command::Session { id, format } => {
            let store = Store::open(db).map_err(|e| e.describe(db))?;
            let Some(detail) = store.session_detail(&id).map_err(|e| e.describe(db))? else {
                return Err(format!("no session {id:?} in {}", db.display()));
            };
            let json = detail.to_json();
            if format == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?);
            } else {
                print_session_text(&detail);
            }
            Ok(0)
        }
        Command::Errors { selection, find, by_error, patterns, sort, limit, format } => {
            let Some(group_sort) = crate::store::ErrorGroupSort::ALL.into_iter().find(|s| s.key() == sort) else {
                let known: Vec<&str> = crate::store::ErrorGroupSort::ALL.iter().map(|s| s.key()).collect();
                return Err(format!("--sort {sort:?}: errors sort by {}", known.join(", ")));
            };
            let store = Store::open(db).map_err(|e| e.describe(db))?;
            let (filter, from_ms, to_ms) = selection_query(selection)?;
            note_unknown_keys(&store, filter.as_ref());
            let q = SessionQuery { filter, from_ms, to_ms, ..Default::default() };
            if by_error {
                let mut groups = store.error_groups(&q, &find, patterns).map_err(|e| e.describe(db))?;
                crate::store::sort_error_groups(&mut groups, group_sort, true);
                let total = groups.len();
                groups.truncate(limit);
                print_error_groups(&groups, format).map_err(|e| e.to_string())?;
                if format == OutputFormat::Table {
                    eprintln!("{} of {} errors by type and message", groups.len(), total);
                }
                return Ok(0);
            }
            let (rows, total) = store.error_events(&q, &find, limit).map_err(|e| e.describe(db))?;
            print_errors(&rows, format).map_err(|e| e.to_string())?;
            if format == OutputFormat::Table {
                eprintln!("{} of {} errors, newest first", rows.len(), total);
            }
            Ok(0)
        }
        Command::Views { selection, find, sort, asc, by_page, routes, min_views, limit, format } => {
            let Some(view_sort) = crate::store::ViewSort::from_key(&sort) else {
                let known: Vec<&str> = crate::store::ViewSort::ALL.iter().map(|s| s.key()).collect();
                return Err(format!("--sort {sort:?}: views sort by {}", known.join(", ")));
            };
            let store = Store::open(db).map_err(|e| e.describe(db))?;
            let (filter, from_ms, to_ms) = selection_query(selection)?;
            note_unknown_keys(&store, filter.as_ref());
            let q = SessionQuery { filter, from_ms, to_ms, ..Default::default() };
            if by_page {
                let mut pages = store.page_summaries(&q, &find, routes).map_err(|e| e.describe(db))?;
                pages.retain(|p| p.views >= min_views);
                crate::store::sort_page_summaries(&mut pages, view_sort, !asc);
                let total = pages.len();
                pages.truncate(limit);
                print_pages(&pages, format).map_err(|e| e.to_string())?;
                if format == OutputFormat::Table {
                    eprintln!("{} of {} pages", pages.len(), total);
                }
                return Ok(0);
            }
            let (rows, total) = store.view_events(&q, &find, view_sort, !asc, limit).map_err(|e| e.describe(db))?;
            print_views(&rows, format).map_err(|e| e.to_string())?;
            if format == OutputFormat::Table {
                eprintln!("{} of {} views", rows.len(), total);
            }
            Ok(0)
        }
        Command::Resources { selection, find, sort, asc, by_url, patterns, limit, format } => {
            let store = Store::open(db).map_err(|e| e.describe(db))?;
            let (filter, from_ms, to_ms) = selection_query(selection)?;
            note_unknown_keys(&store, filter.as_ref());
            let q = SessionQuery { filter, from_ms, to_ms, ..Default::default() };
            if by_url {
                use crate::store::ResourceGroupSort;
                let group_sort = match sort.as_deref() {
                    None => ResourceGroupSort::Count,
                    Some(key) => ResourceGroupSort::from_key(key).ok_or_else(|| {
                        let known: Vec<&str> = ResourceGroupSort::ALL.iter().map(|s| s.key()).collect();
                        format!("--sort {key:?}: resources by URL sort by {}", known.join(", "))
                    })?,
                };
                let mut groups = store.resource_groups(&q, &find, patterns).map_err(|e| e.describe(db))?;
                crate::store::sort_resource_groups(&mut groups, group_sort, !asc);
                let total = groups.len();
                groups.truncate(limit);
                print_resource_groups(&groups, format).map_err(|e| e.to_string())?;
                if format == OutputFormat::Table {
                    eprintln!("{} of {} URLs", groups.len(), total);
                }
                return Ok(0);
            }
            use crate::store::ResourceSort;
            let resource_sort = match sort.as_deref() {
                None => ResourceSort::Time,
                Some(key) => ResourceSort::from_key(key).ok_or_else(|| {
                    let known: Vec<&str> = ResourceSort::ALL.iter().map(|s| s.key()).collect();
                    format!("--sort {key:?}: resources sort by {}", known.join(", "))
                })?,
            };
            let (rows, total) = store.resource_events(&q, &find, resource_sort, !asc, limit).map_err(|e| e.describe(db))?;
            print_resources(&rows, format).map_err(|e| e.to_string())?;
            if format == OutputFormat::Table {
                eprintln!("{} of {} resources", rows.len(), total);
            }
            Ok(0)
        }
        Command::Overview { selection, format } => {
            let store = Store::open(db).map_err(|e| e.describe(db))?;
            let (filter, from_ms, to_ms) = selection_query(selection)?;
            note_unknown_keys(&store, filter.as_ref());
            let q = SessionQuery { filter, from_ms, to_ms, ..Default::default() };
            let overview = store.overview(&q).map_err(|e| e.describe(db))?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&overview).map_err(|e| e.to_string())?),
                _ => print_overview(&overview),
            }
            Ok(0)
        }
        Command::LearnFields => {
            let store = Store::open(db).map_err(|e| e.describe(db))?;
            if store.store_facts().map_err(|e| e.describe(db))?.is_some_and(|facts| facts.event_values_kept && facts.event_hashes_kept) {
                println!("{}: the extended fields and event values are known already", db.display());
                return Ok(0);
            }
            if store.has_too_many_field_keys().map_err(|e| e.describe(db))? {
                return Err(format!("{}: it has more than {} extended fields; they are not listed", db.display(), crate::store::writer::MAX_FIELD_KEYS));
            }
            if !store.learn_fields_and_values().map_err(|e| e.describe(db))? {
                return Err(format!("{}: not recorded: an import wrote to the database meanwhile, or it has more than {} keys", db.display(), crate::store::writer::MAX_FIELD_KEYS));
            }
            let facts = store.store_facts().map_err(|e| e.describe(db))?.unwrap_or_default();
            let sessions_with_values: i64 =
                store.conn.query_row("SELECT count(*) FROM session_event_values", [], |r| r.get(0)).map_err(|e| e.to_string())?;
            let sessions_with_filters: i64 =
                store.conn.query_row("SELECT count(*) FROM session_event_hashes", [], |r| r.get(0)).map_err(|e| e.to_string())?;
            println!(
                "{}: {} extended fields on sessions, {} on events; event values of {sessions_with_values} sessions; filters of event values of {sessions_with_filters} sessions",
                db.display(),
                facts.session.len(),
                facts.event.len()
            );
            Ok(0)
        }
        Command::Stats { format } => {
            let store = Store::open(db).map_err(|e| e.describe(db))?;
            let stats = store.stats().map_err(|e| e.describe(db))?;
            if format == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&stats).map_err(|e| e.to_string())?);
            } else {
                println!("database   {}", db.display());
                println!("files      {}", stats.files_imported);
                println!("sessions   {}", stats.sessions);
                println!("events     {}", stats.events_total);
                for (kind, count) in &stats.events_by_kind {
                    println!("  {kind:<12} {count}");
                }
                if let (Some(first), Some(last)) = (stats.first_ms, stats.last_ms) {
                    println!("time span  {} .. {} UTC", format_utc_ms(first), format_utc_ms(last));
                }
                println!("apps");
                for app in &stats.apps {
                    println!("  {:<40} {} sessions", if app.app_id.is_empty() { "(none)" } else { &app.app_id }, app.sessions);
                }
            }
            Ok(0)
        }
        Command::Generate { sessions, format, out, seed, gzip, order, span_hours } => {
            let options = crate::generate::GenerateOptions { order, span_hours };
            let written = crate::generate::write_with(&out, format, sessions, seed, gzip, options).map_err(|e| e.to_string())?;
            for (path, events) in written {
                eprintln!("wrote {} ({events} events)", path.display());
            }
            Ok(0)
        }
    }
}

fn import(db: &Path, paths: &[PathBuf], json: bool) -> Result<i32, String> {
    let mut store = Store::open(db).map_err(|e| e.describe(db))?;
    let progress = ImportProgress::new();
    let reporter = spawn_progress_reporter(progress.clone());
    let mut failed = false;
    let mut json_reports = Vec::new();
    ingest::import_paths(&mut store, paths, &progress, |report| {
        reporter.clear_line();
        failed |= report.error.is_some();
        if json {
            json_reports.push(report.clone());
        } else {
            print_file_report(report);
        }
    });
    reporter.stop();
    // What went through the WAL (another program had the database open) into the file; a
    // failure leaves it in the WAL, where readers find it, so it is no error of the import.
    let _ = store.checkpoint();
    if json {
        println!("{}", serde_json::to_string_pretty(&json_reports).map_err(|e| e.to_string())?);
    }
    Ok(if failed { 1 } else { 0 })
}

pub fn print_file_report(report: &FileReport) {
    let mut out = std::io::stdout().lock();
    let format = report.format.map(|f| f.name()).unwrap_or("unknown format");
    let gzip = if report.gzip { ", gzip" } else { "" };
    if let Some(error) = &report.error {
        let _ = writeln!(out, "{}: REJECTED ({format}{gzip}): {error}", report.path);
    } else {
        let kinds: Vec<String> = report.summary.inserted_by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        // Plain numbers, not grouped: scripts read these lines.
        let count = |n: u64, one: &str, many: &str| format!("{n} {}", crate::app::format::noun(n, one, many));
        let _ = writeln!(
            out,
            "{}: {format}{gzip}: {} imported ({}), {} touched, {} already present, {} merged, {} skipped",
            report.path,
            count(report.summary.inserted_total(), "event", "events"),
            if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") },
            count(report.summary.sessions_touched, "session", "sessions"),
            report.summary.duplicates,
            count(report.summary.views_merged, "view", "views"),
            count(report.records_skipped, "record", "records")
        );
    }
    for problem in report.problems.iter().take(5) {
        let _ = writeln!(out, "  {}:{}: skipped: {}", report.path, problem.line, problem.reason);
    }
    if report.records_skipped > 5 {
        let _ = writeln!(out, "  ... and {} more skipped records (--json lists up to {})", report.records_skipped - 5, ingest::PROBLEMS_LISTED);
    }
    for (line, warning) in report.summary.warnings.iter().take(5) {
        let _ = writeln!(out, "  {}:{line}: note: {warning}", report.path);
    }
}

struct ProgressReporter {
    /// Dropped to stop the reporter: it wakes at once instead of at the end of its wait (an
    /// import that ended waited up to 100 ms for it).
    stop: Option<std::sync::mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
    tty: bool,
}

impl ProgressReporter {
    fn clear_line(&self) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
    }
    fn stop(mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.clear_line();
    }
}

/// Prints progress on stderr once an import has run for a second: a live line on a terminal,
/// a line every five seconds otherwise.
fn spawn_progress_reporter(progress: Arc<ImportProgress>) -> ProgressReporter {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let tty = std::io::stderr().is_terminal();
    let handle = std::thread::spawn(move || {
        let started = Instant::now();
        let mut last_print = Instant::now();
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(Duration::from_millis(100)) {
            let elapsed = started.elapsed();
            let interval = if tty { Duration::from_millis(200) } else { Duration::from_secs(5) };
            if elapsed < Duration::from_secs(1) || last_print.elapsed() < interval {
                continue;
            }
            last_print = Instant::now();
            let read = progress.bytes_read.load(Ordering::Relaxed);
            let total = progress.bytes_total.load(Ordering::Relaxed).max(1);
            let events = progress.events.load(Ordering::Relaxed);
            let file = progress.current_file.lock().map(|f| f.clone()).unwrap_or_default();
            let line = match progress.stage_text() {
                None => format!(
                    "importing {}: {:.0}% ({} of {}), {} events, {:.0} s",
                    file,
                    100.0 * read as f64 / total as f64,
                    crate::ingest::human_bytes(read),
                    crate::ingest::human_bytes(total),
                    events,
                    elapsed.as_secs_f64()
                ),
                Some(stage) => format!("importing {file}: {events} events read, {stage}, {:.0} s", elapsed.as_secs_f64()),
            };
            if tty {
                eprint!("\r\x1b[2K{line}");
            } else {
                eprintln!("{line}");
            }
        }
    });
    ProgressReporter { stop: Some(stop), handle: Some(handle), tty }
}

/// `3m 12s`, `1h 02m`, `850 ms`.
pub fn human_duration_ms(ms: i64) -> String {
    if ms < 0 {
        return format!("-{}", human_duration_ms(-ms));
    }
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let s = ms / 1000;
    if s < 60 {
        return format!("{}.{}s", s, (ms % 1000) / 100);
    }
    if s < 3600 {
        return format!("{}m {}s", s / 60, s % 60);
    }
    format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        format!("{text:<width$}")
    } else {
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

type Selection = (Option<crate::query::Filter>, Option<i64>, Option<i64>);

/// Says on stderr which keys of the filter no field of the data has, and the field spelled
/// most like each, as the window does under its query bar: such a term matches no session.
fn note_unknown_keys(store: &Store, filter: Option<&crate::query::Filter>) {
    let Some(filter) = filter else { return };
    let Ok(known) = store.session_keys() else { return };
    for (key, closest) in crate::query::unknown_keys(filter, &known) {
        match closest {
            Some(closest) => eprintln!("note: no field named {key:?} in this data; did you mean {closest:?}?"),
            None => eprintln!("note: no field named {key:?} in this data"),
        }
    }
}

/// The filter and time range of `sessions` and `overview`, with messages that point at the error.
fn selection_query(SelectionArgs { filter, from, to }: SelectionArgs) -> Result<Selection, String> {
            let filter = match filter.as_deref().map(crate::query::parse).transpose() {
                Ok(f) => f.flatten(),
                Err(e) => {
                    let text = filter.unwrap_or_default();
                    return Err(format!("invalid filter: {e}\n  {text}\n  {}^", " ".repeat(e.column.saturating_sub(1))));
                }
            };
            let time = |t: Option<String>, name: &str| -> Result<Option<i64>, String> {
                t.map(|t| parse_datetime_ms(&t).ok_or_else(|| format!("--{name} {t:?} is not an epoch or a date-time")))
                    .transpose()
            };
    Ok((filter, time(from, "from")?, time(to, "to")?))
}

fn print_overview(o: &crate::store::Overview) {
    println!("sessions {}  page views {}  unique users {}  errors {}  sessions with errors {}", o.sessions, o.page_views, o.unique_users, o.errors, o.sessions_with_errors);
    if o.sessions == 0 {
        return;
    }
    println!("\nover time ({} buckets of {})", o.buckets.len(), human_duration_ms(o.bucket_ms));
    println!("  {:<23} {:>8} {:>6} {:>6} {:>6} {:>8}", "bucket start (UTC)", "sessions", "views", "users", "errors", "% w/ err");
    for b in o.buckets.iter().filter(|b| b.sessions + b.page_views + b.errors > 0) {
        println!("  {:<23} {:>8} {:>6} {:>6} {:>6} {:>7.1}%", format_utc_ms(b.start_ms), b.sessions, b.page_views, b.unique_users, b.errors, b.error_session_share * 100.0);
    }
    println!("\nweb vitals (p75; good / needs improvement / poor)");
    for v in &o.vitals {
        let p75 = v.p75.map(|p| format!("{p:.3} {}", v.unit)).unwrap_or_else(|| "-".into());
        println!("  {:<14} {:>14}   {} / {} / {}   ({} views)", v.name, p75, v.good, v.needs_improvement, v.poor, v.count);
    }
    let pages = |title: &str, list: &[crate::store::overview::PageStat]| {
        println!("\n{title}");
        for p in list {
            let loading = p.avg_loading_time_ms.map(|ms| format!("{ms:.0} ms")).unwrap_or_else(|| "-".into());
            println!("  {:<40} {:>6} views  {:>10} avg loading  {:>4} errors", truncate(&p.view_path, 40), p.views, loading, p.errors);
        }
    };
    pages("top pages by views", &o.top_pages_by_views);
    pages("top pages by average loading time", &o.top_pages_by_loading_time);
    pages("top pages by errors", &o.top_pages_by_errors);
    for d in &o.distributions {
        println!("\n{}", d.title.to_lowercase());
        for (value, count) in &d.values {
            println!("  {:<30} {count}", truncate(value, 30));
        }
        if d.other > 0 {
            println!("  {:<30} {}", "(other or none)", d.other);
        }
    }
    println!("\ntop errors");
    for e in &o.top_errors {
        println!(
            "  {:>5}x in {:>4} sessions  {}: {}",
            e.count,
            e.sessions,
            e.error_type.as_deref().unwrap_or("-"),
            truncate(e.error_message.as_deref().unwrap_or("-").lines().next().unwrap_or(""), 70)
        );
    }
    // Only worth a section when some pattern groups several messages.
    if o.top_error_patterns.iter().any(|p| p.messages > 1) {
        println!("\ntop error patterns (numbers and ids as *)");
        for p in &o.top_error_patterns {
            println!(
                "  {:>5}x in {:>4} sessions  {}: {}  ({} message{})",
                p.count,
                p.sessions,
                p.error_type.as_deref().unwrap_or("-"),
                truncate(p.pattern.as_deref().unwrap_or("-").lines().next().unwrap_or(""), 60),
                p.messages,
                if p.messages == 1 { "" } else { "s" }
            );
        }
    }
}

/// Prints `rows` as JSON, as CSV (`header`, then `cells` of each row), or as the table
/// `table` writes.
fn print_records<T: serde::Serialize>(
    rows: &[T],
    format: OutputFormat,
    header: &[&str],
    cells: impl Fn(&T) -> Vec<String>,
    table: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(rows).map_err(std::io::Error::other)?),
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(header).map_err(std::io::Error::other)?;
            for row in rows {
                writer.write_record(cells(row)).map_err(std::io::Error::other)?;
            }
            writer.flush()
        }
        OutputFormat::Table => table(&mut out),
    }
}

fn text_cell(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

fn number_cell(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// A duration in nanoseconds as a vital reads (`1.23 s`, `180 ms`).
fn vital_duration_text(ns: Option<f64>) -> String {
    ns.map(|ns| crate::vitals::Metric::duration_text(ns / 1_000_000.0)).unwrap_or_default()
}

fn print_error_groups(groups: &[crate::store::ErrorGroup], format: OutputFormat) -> std::io::Result<()> {
    let header = ["error_type", "message", "count", "sessions", "first_ms", "last_ms", "messages"];
    let cells = |g: &crate::store::ErrorGroup| {
        vec![text_cell(&g.error_type), text_cell(&g.message), g.count.to_string(), g.sessions.to_string(), g.first_ms.to_string(), g.last_ms.to_string(), g.messages.to_string()]
    };
    print_records(groups, format, &header, cells, |out| {
        writeln!(out, "{:>8}  {:>8}  {:<23}  {:<16}  message", "count", "sessions", "last seen (UTC)", "type")?;
        for g in groups {
            let message = g.message.as_deref().unwrap_or("").lines().next().unwrap_or("");
            writeln!(out, "{:>8}  {:>8}  {:<23}  {}  {}", g.count, g.sessions, format_utc_ms(g.last_ms), truncate(g.error_type.as_deref().unwrap_or(""), 16), message)?;
        }
        Ok(())
    })
}

fn print_errors(rows: &[crate::store::ErrorEventRow], format: OutputFormat) -> std::io::Result<()> {
    let header = ["time_ms", "error_type", "error_message", "view_path", "browser", "session_id", "event_pk"];
    let cells = |r: &crate::store::ErrorEventRow| {
        vec![r.time_ms.to_string(), text_cell(&r.error_type), text_cell(&r.error_message), text_cell(&r.view_path), text_cell(&r.browser), r.session_id.clone(), r.event_pk.to_string()]
    };
    print_records(rows, format, &header, cells, |out| {
        writeln!(out, "{:<23}  {:<16}  {:<48}  {:<20}  {:<10}  session_id", "time (UTC)", "type", "message", "page", "browser")?;
        for r in rows {
            // The first line of the message: a stack would break the table.
            let message = r.error_message.as_deref().unwrap_or("").lines().next().unwrap_or("");
            writeln!(
                out,
                "{:<23}  {}  {}  {}  {}  {}",
                format_utc_ms(r.time_ms),
                truncate(&text_cell(&r.error_type), 16),
                truncate(message, 48),
                truncate(&text_cell(&r.view_path), 20),
                truncate(&text_cell(&r.browser), 10),
                r.session_id
            )?;
        }
        Ok(())
    })
}

fn print_pages(pages: &[crate::store::PageSummary], format: OutputFormat) -> std::io::Result<()> {
    let header = [
        "view_path", "views", "paths", "loading_time_p75_ns", "first_contentful_paint_p75_ns", "largest_contentful_paint_p75_ns",
        "cumulative_layout_shift_p75", "interaction_to_next_paint_p75_ns",
    ];
    let cells = |p: &crate::store::PageSummary| {
        vec![
            p.view_path.clone(),
            p.views.to_string(),
            p.paths.to_string(),
            number_cell(p.loading_time_p75_ns),
            number_cell(p.first_contentful_paint_p75_ns),
            number_cell(p.largest_contentful_paint_p75_ns),
            number_cell(p.cumulative_layout_shift_p75),
            number_cell(p.interaction_to_next_paint_p75_ns),
        ]
    };
    print_records(pages, format, &header, cells, |out| {
        writeln!(out, "{:<32}  {:>8}  {:>8}  {:>8}  {:>8}  {:>6}  {:>8}", "page", "views", "loading", "FCP", "LCP", "CLS", "INP")?;
        writeln!(out, "{:<32}  {:>8}  {:>8}  {:>8}  {:>8}  {:>6}  {:>8}", "", "", "p75", "p75", "p75", "p75", "p75")?;
        for p in pages {
            writeln!(
                out,
                "{}  {:>8}  {:>8}  {:>8}  {:>8}  {:>6}  {:>8}",
                truncate(&p.view_path, 32),
                p.views,
                vital_duration_text(p.loading_time_p75_ns),
                vital_duration_text(p.first_contentful_paint_p75_ns),
                vital_duration_text(p.largest_contentful_paint_p75_ns),
                p.cumulative_layout_shift_p75.map(|v| format!("{v:.3}")).unwrap_or_default(),
                vital_duration_text(p.interaction_to_next_paint_p75_ns),
            )?;
        }
        Ok(())
    })
}

fn print_resources(rows: &[crate::store::ResourceEventRow], format: OutputFormat) -> std::io::Result<()> {
    let header = [
        "time_ms", "resource_type", "resource_method", "resource_status", "resource_url", "duration_ns", "resource_size_bytes", "view_path", "browser",
        "session_id", "event_pk",
    ];
    let cells = |r: &crate::store::ResourceEventRow| {
        vec![
            r.time_ms.to_string(),
            text_cell(&r.resource_type),
            text_cell(&r.resource_method),
            r.resource_status.map(|s| s.to_string()).unwrap_or_default(),
            text_cell(&r.resource_url),
            number_cell(r.duration_ns),
            r.resource_size_bytes.map(|b| b.to_string()).unwrap_or_default(),
            text_cell(&r.view_path),
            text_cell(&r.browser),
            r.session_id.clone(),
            r.event_pk.to_string(),
        ]
    };
    print_records(rows, format, &header, cells, |out| {
        writeln!(out, "{:<23}  {:<8}  {:<6}  {:>6}  {:>8}  {:>9}  {:<48}  session_id", "time (UTC)", "type", "method", "status", "duration", "size", "url")?;
        for r in rows {
            writeln!(
                out,
                "{:<23}  {}  {}  {:>6}  {:>8}  {:>9}  {}  {}",
                format_utc_ms(r.time_ms),
                truncate(r.resource_type.as_deref().unwrap_or(""), 8),
                truncate(r.resource_method.as_deref().unwrap_or(""), 6),
                r.resource_status.map(|s| s.to_string()).unwrap_or_default(),
                vital_duration_text(r.duration_ns),
                r.resource_size_bytes.map(|b| crate::ingest::human_bytes(b.max(0) as u64)).unwrap_or_default(),
                truncate(r.resource_url.as_deref().unwrap_or(""), 48),
                r.session_id
            )?;
        }
        Ok(())
    })
}

fn print_resource_groups(groups: &[crate::store::ResourceGroup], format: OutputFormat) -> std::io::Result<()> {
    let header = ["resource_method", "resource_url", "resource_type", "count", "failed", "sessions", "duration_p75_ns", "duration_max_ns", "size_bytes", "urls"];
    let cells = |g: &crate::store::ResourceGroup| {
        vec![
            text_cell(&g.resource_method),
            g.resource_url.clone(),
            text_cell(&g.resource_type),
            g.count.to_string(),
            g.failed.to_string(),
            g.sessions.to_string(),
            number_cell(g.duration_p75_ns),
            number_cell(g.duration_max_ns),
            g.size_bytes.to_string(),
            g.urls.to_string(),
        ]
    };
    print_records(groups, format, &header, cells, |out| {
        writeln!(out, "{:>8}  {:>7}  {:>8}  {:>8}  {:>8}  {:>9}  {:<6}  url", "count", "failed", "sessions", "p75", "max", "size", "method")?;
        for g in groups {
            writeln!(
                out,
                "{:>8}  {:>7}  {:>8}  {:>8}  {:>8}  {:>9}  {}  {}",
                g.count,
                g.failed,
                g.sessions,
                vital_duration_text(g.duration_p75_ns),
                vital_duration_text(g.duration_max_ns),
                crate::ingest::human_bytes(g.size_bytes),
                truncate(g.resource_method.as_deref().unwrap_or(""), 6),
                g.resource_url
            )?;
        }
        Ok(())
    })
}

fn print_views(rows: &[crate::store::ViewEventRow], format: OutputFormat) -> std::io::Result<()> {
    let header = [
        "time_ms", "view_path", "view_url", "loading_time_ns", "first_contentful_paint_ns", "largest_contentful_paint_ns",
        "cumulative_layout_shift", "interaction_to_next_paint_ns", "time_spent_ns", "browser", "session_id", "event_pk",
    ];
    let cells = |r: &crate::store::ViewEventRow| {
        vec![
            r.time_ms.to_string(),
            text_cell(&r.view_path),
            text_cell(&r.view_url),
            number_cell(r.loading_time_ns),
            number_cell(r.first_contentful_paint_ns),
            number_cell(r.largest_contentful_paint_ns),
            number_cell(r.cumulative_layout_shift),
            number_cell(r.interaction_to_next_paint_ns),
            number_cell(r.time_spent_ns),
            text_cell(&r.browser),
            r.session_id.clone(),
            r.event_pk.to_string(),
        ]
    };
    print_records(rows, format, &header, cells, |out| {
        writeln!(out, "{:<23}  {:<28}  {:>8}  {:>8}  {:>8}  {:>6}  {:>8}  {:<10}  session_id", "time (UTC)", "page", "loading", "FCP", "LCP", "CLS", "INP", "browser")?;
        for r in rows {
            writeln!(
                out,
                "{:<23}  {}  {:>8}  {:>8}  {:>8}  {:>6}  {:>8}  {}  {}",
                format_utc_ms(r.time_ms),
                truncate(r.view_path.as_deref().unwrap_or(""), 28),
                vital_duration_text(r.loading_time_ns),
                vital_duration_text(r.first_contentful_paint_ns),
                vital_duration_text(r.largest_contentful_paint_ns),
                r.cumulative_layout_shift.map(|v| format!("{v:.3}")).unwrap_or_default(),
                vital_duration_text(r.interaction_to_next_paint_ns),
                truncate(r.browser.as_deref().unwrap_or(""), 10),
                r.session_id
            )?;
        }
        Ok(())
    })
}

fn print_sessions(rows: &[SessionRow], extra_columns: &[String], format: OutputFormat) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => {
            writeln!(out, "{}", serde_json::to_string_pretty(rows).map_err(std::io::Error::other)?)?;
        }
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            let columns = crate::session_export::csv_columns(extra_columns);
            writer.write_record(&columns).map_err(std::io::Error::other)?;
            for row in rows {
                writer.write_record(crate::session_export::csv_cells(row, &columns)).map_err(std::io::Error::other)?;
            }
            writer.flush()?;
        }
        OutputFormat::Table => {
            writeln!(
                out,
                "{:<23}  {:>9}  {:<6}  {:>5}  {:>7}  {:>6}  {:<24}  {:<24}  {:<16}  {:<10}  {:<10}  {:<8}  session_id",
                "start (UTC)", "duration", "type", "views", "actions", "errors", "first page", "last page", "user", "browser", "os", "country"
            )?;
            for r in rows {
                let opt = |v: &Option<String>| v.clone().unwrap_or_default();
                writeln!(
                    out,
                    "{:<23}  {:>9}  {}  {:>5}  {:>7}  {:>6}  {}  {}  {}  {}  {}  {}  {}",
                    r.start_ms.map(format_utc_ms).unwrap_or_default(),
                    r.duration_ms.map(human_duration_ms).unwrap_or_default(),
                    truncate(&opt(&r.session_type), 6),
                    r.view_count,
                    r.action_count,
                    r.error_count,
                    truncate(&opt(&r.first_view_path), 24),
                    truncate(&opt(&r.last_view_path), 24),
                    truncate(&r.user_name.clone().or_else(|| r.user_id.clone()).unwrap_or_default(), 16),
                    truncate(&opt(&r.browser), 10),
                    truncate(&opt(&r.os), 10),
                    truncate(&opt(&r.country), 8),
                    r.session_id
                )?;
            }
        }
    }
    Ok(())
}

fn print_session_text(detail: &crate::store::SessionDetail) {
    let s = &detail.session;
    println!("session {}", s.session_id);
    println!(
        "  {} .. {} UTC  ({})",
        s.start_ms.map(format_utc_ms).unwrap_or_default(),
        s.end_ms.map(format_utc_ms).unwrap_or_default(),
        s.duration_ms.map(human_duration_ms).unwrap_or_default()
    );
    println!(
        "  {} views, {} actions, {} errors, {} resources, {} long tasks",
        s.view_count, s.action_count, s.error_count, s.resource_count, s.long_task_count
    );
    let json = detail.to_json();
    for section in ["properties", "extended_fields"] {
        println!("{}", section.replace('_', " "));
        if let Some(map) = json.get(section).and_then(|v| v.as_object()) {
            for (k, v) in map {
                let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                println!("  {k:<24} {text}");
            }
        }
    }
    println!("timeline");
    let start = s.start_ms.unwrap_or(0);
    for e in &detail.events {
        let duration = e.duration_ns().map(|ns| format!("  ({})", human_duration_ms(ns / 1_000_000))).unwrap_or_default();
        println!("  +{:>9}  {:<10} {}{}", human_duration_ms(e.time_ms - start), e.kind, e.label().lines().next().unwrap_or(""), duration);
    }
}
