//! The SQLite store: schema and migrations, the import writer, and the queries the explorer runs.

mod event_batch;
pub mod event_hashes;
pub mod event_values;
pub mod event_row;
mod schema;
pub mod overview;
pub mod queries;
pub mod writer;
pub mod value_sort;
pub mod writeback;

use rusqlite::Connection;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use overview::{Overview, OVERVIEW_VITALS};
pub use queries::*;
pub use schema::{SCHEMA_VERSION, SESSION_LIST_COLUMNS};
pub use writer::{FileWriter, WriteSummary};

/// Everything that can go wrong with the database, said so that a user knows what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: written by a newer version of rum-explorer (schema {found}, this build knows up to {supported}); upgrade rum-explorer or open another database")]
    NewerSchema { path: String, found: i64, supported: i64 },
    #[error("database {path}: {message}")]
    Open { path: String, message: String },
    #[error("database is busy: another rum-explorer is writing to it; try again when it has finished")]
    Busy,
    #[error("the disk is full: the import was rolled back and the database is as it was")]
    DiskFull,
    #[error("database is read-only: {0}")]
    ReadOnly(String),
    #[error("database file is damaged or is not a rum-explorer database: {0}")]
    Corrupt(String),
    #[error("cancelled")]
    Cancelled,
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Busy,
            Some(ErrorCode::DiskFull) => StoreError::DiskFull,
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly(error.to_string()),
            Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt(error.to_string()),
            Some(ErrorCode::OperationInterrupted) => StoreError::Cancelled,
            _ => StoreError::Sqlite(error),
        }
    }
}

impl StoreError {
    /// The message with the database named, for errors whose text does not name it.
    pub fn describe(&self, db: &Path) -> String {
        match self {
            StoreError::NewerSchema { .. } | StoreError::Open { .. } => self.to_string(),
            other => format!("database {}: {other}", db.display()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An open database.
pub struct Store {
    pub conn: Connection,
    pub path: PathBuf,
    /// Opened from read-only media or without write permission: browsing works, imports fail.
    pub read_only: bool,
    /// How many sessions, in sort order, the first pages of a filtered list are looked for in
    /// before asking SQLite for every match (see `sessions`).
    pub filter_window: i64,
    /// Rows of a required, indexed term's value under which the matching sessions are
    /// collected at once instead of looked for in sort order (see [`FEW_MATCHING_ROWS`]).
    pub few_matching_rows: i64,
    /// Sessions an import keeps in memory at most before writing them out (tests lower it to
    /// exercise that path).
    pub session_cache_limit: usize,
    /// Views an import holds back at most to merge their copies in memory (tests lower it).
    pub pending_view_limit: usize,
    /// Input size from which a bulk load builds its secondary indexes after the rows (see
    /// [`defer_secondary_indexes`]; tests lower it).
    pub defer_indexes_from_bytes: u64,
    /// About how many bytes of input a session takes, to guess how many sessions a file
    /// brings (see [`later_import_defers_session_list`]; tests move it).
    pub input_bytes_per_session_estimate: u64,
    /// Threads that parse NDJSON; None: the cores but one (tests set it to compare).
    pub parser_threads: Option<usize>,
    /// Selected sessions up to which a sort without an index looks each one's value up on its
    /// own rather than reading every event (see [`value_sort::FEW_SESSIONS`]; tests move it).
    pub value_lookup_sessions: usize,
    /// Selected sessions up to which the Views and Errors lists seek each one's events rather
    /// than test every event against the set (see `EVENT_LIST_FEW_SESSIONS`; tests move it).
    pub event_list_few_sessions: usize,
    /// Sessions the Resources tab's time order walks before it reads the table instead (see
    /// `RESOURCE_WALK_SESSIONS`; tests move it).
    pub resource_walk_sessions: usize,
    /// Events (by the last event key) from which a read of the events table goes in pieces on
    /// two connections (see `EVENT_PIECES_FROM`; tests move it).
    pub event_pieces_from: i64,
    /// The last list sorted by a column without an index, all its keys in order: its pages
    /// are slices of it until the data changes (see `value_sort`).
    pub(crate) sorted_keys_cache: RefCell<value_sort::SortCache>,
}

/// The default [`Store::defer_indexes_from_bytes`]: the input size from which the view
/// timings ([`EVENT_INDEXES_DEFERRED`]) are built after the rows. The index takes about 0.65%
/// of the input (26 MB at 4 GB), so it outgrows the import's 64 MB page cache, and its random
/// inserts start to cost a read and a write each, at about 10 GB. Measured at 4 GB (100,000
/// sessions, three alternating pairs, session 18): live 18.6-19.7 s against 19.4-20.2 s built
/// after (the same parse and write, 17.1-18.3 s, and a 0.7 s scan of the table saved). Not
/// measured above 4 GB. Before session 18 all six partial event indexes were deferred from
/// 2 GiB, a scan of the table each (4.3-4.7 s at 4 GB).
pub const DEFER_INDEXES_FROM_BYTES: u64 = 8 << 30;

/// How an import writes the database (see [`Store::begin_bulk_load`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Through the write-ahead log, which lets other connections read meanwhile.
    Wal,
    /// Straight to the database file, which has no events yet: a bulk load.
    DirectIntoEmpty,
    /// Straight to the database file, which has events.
    Direct,
}

/// Which indexes [`defer_secondary_indexes`] drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeferredIndexes {
    /// The session list's, and the events' indexes whose entries land at random places
    /// ([`EVENT_INDEXES_DEFERRED`]).
    SessionListAndRandomEventKeys,
    /// The session list's (sessions are written at the end of a file).
    SessionList,
}

/// Event indexes that a large bulk load builds after the rows. Only the view timings: keyed
/// by time first, and a file's sessions do not come in time order, so each view goes to a
/// random place in it. The other partial indexes stay live: keyed by a value with few distinct
/// values (error type and message, action name, kind) and then by the session or the row,
/// which rise through a file, their new entries go to the end of their value's run, a few
/// pages the cache keeps (with many distinct values, messages carrying ids say, they land at
/// random places again; not measured); built after, each cost a scan of the whole table (at
/// 100,000 sessions, 1.8 GB: 0.47-0.94 s each, 0.42 s of it the scan alone, timed with
/// Python's `sqlite3` on the imported database).
const EVENT_INDEXES_DEFERRED: &[&str] = &["events_view_timings"];

/// Drops the indexes `scope` names inside the import's transaction and returns the
/// statements that build them again ([`build_indexes`], before the commit; a rollback
/// restores them). For a bulk load into an empty database: rows then arrive without updating
/// indexes whose keys (times, the session list's columns) come in random order and, once
/// larger than the page cache, cost a read and a write per row. Measured: at 405 MB and 1 GB
/// the build (0.5 and 1.35 s, alone on one core) ate the CPU saved (5.0 to 4.5 s; 13.8–16.6 s
/// to 11.8–12.9 s); at 4 GB the import went from 45.6 to 41.1 s. The session list's indexes
/// alone: 10,000 sessions took 0.25 s with their 28 indexes and 0.17 s with the indexes built
/// after the rows.
pub fn defer_secondary_indexes(conn: &Connection, scope: DeferredIndexes) -> StoreResult<Vec<String>> {
    let mut statement =
        conn.prepare("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")?;
    let indexes: Vec<(String, String, String)> =
        statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
    let mut deferred = Vec::new();
    for (name, table, sql) in indexes {
        let deferrable = match scope {
            DeferredIndexes::SessionListAndRandomEventKeys => table == "sessions" || EVENT_INDEXES_DEFERRED.contains(&name.as_str()),
            DeferredIndexes::SessionList => table == "sessions",
        };
        if !deferrable {
            continue;
        }
        conn.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
        deferred.push(sql);
    }
    Ok(deferred)
}

/// The default [`Store::input_bytes_per_session_estimate`]: 10,000 generated sessions are
/// 405 MB of Datadog NDJSON and 304 MB of line protocol; CSV takes less, real exports with
/// many resources more.
pub const INPUT_BYTES_PER_SESSION_ESTIMATE: u64 = 40_000;

/// Whether an import into a database that has sessions builds the session list's indexes
/// after its rows, as the first import does ([`DeferredIndexes::SessionList`]), instead of
/// adding each new session to its 28 indexes as it goes. The rebuild costs about 1 s per
/// 100,000 sessions in the database; taking them one by one about 0.2 s per 10,000 new
/// sessions and more as the indexes outgrow the cache (3 s for 100,000 into the sample
/// data), so the rebuild pays once the new sessions are a good part of the whole. It is
/// chosen when the input holds, by its size, at least as many sessions as the database
/// already has (a margin for the guess): the window's first import into the sample data, say.
/// Readers of a database in WAL mode meanwhile see it as it was, indexes and all, and a
/// cancel rolls the drop back.
pub fn later_import_defers_session_list(conn: &Connection, input_bytes: u64, bytes_per_session: u64) -> StoreResult<bool> {
    // Session keys are given in order, so the largest is about the count, without a scan.
    let sessions: i64 = conn.query_row("SELECT coalesce(max(session_pk), 0) FROM sessions", [], |r| r.get(0))?;
    Ok(u64::try_from(sessions).unwrap_or(0) <= input_bytes / bytes_per_session.max(1))
}

/// Runs the statements [`defer_secondary_indexes`] returned. A large index takes seconds, so
/// `cancelled` is watched meanwhile, and interrupts SQLite with [`StoreError::Cancelled`].
pub fn build_indexes(conn: &Connection, statements: &[String], cancelled: &(dyn Fn() -> bool + Sync)) -> StoreResult<()> {
    build_indexes_reporting(conn, statements, cancelled, &|_| {})
}

/// [`build_indexes`], telling `built` how many are done after each.
pub fn build_indexes_reporting(
    conn: &Connection,
    statements: &[String],
    cancelled: &(dyn Fn() -> bool + Sync),
    built: &dyn Fn(usize),
) -> StoreResult<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    if statements.is_empty() {
        return Ok(());
    }
    let cache_pages: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0)).unwrap_or(-65536);
    let interrupted = AtomicBool::new(false);
    let interrupt = conn.get_interrupt_handle();
    // Dropped when the build ends: the watcher wakes at once rather than after its wait.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let result = std::thread::scope(|scope| {
        // SQLite forgets an interrupt that arrives while no statement runs (the flag is cleared
        // when the next one starts), so the watcher keeps interrupting until the build ends.
        let interrupted = &interrupted;
        scope.spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(Duration::from_millis(10)) {
                if cancelled() {
                    interrupted.store(true, Ordering::Relaxed);
                    interrupt.interrupt();
                }
            }
        });
        // SQLite sorts index keys in memory up to the page cache's size, beside the cache
        // itself: a smaller cache for the build keeps the import's peak memory where it was
        // (measured on a 4 GB import: 285 MB with the 64 MB cache). Nothing else runs now,
        // so the sort takes the other cores too: on a database of 1,000,000 sessions four of
        // the session list's indexes took 2.45-2.64 s against 2.92-3.16 s, the view timings
        // 6.1 s against 7.5 s (built alone, alternating). Within one import's noise there
        // (index build 38.6 s against 37.7 and 42.5 s: the 17.7 GB file no longer fits this
        // machine's page cache, and reading it back sets the pace); none at 1 GB.
        let helper_threads = std::thread::available_parallelism().map_or(0, |n| n.get().saturating_sub(1)).min(4);
        let sort_settings = format!("PRAGMA cache_size=-16384; PRAGMA threads={helper_threads}");
        let result = conn.execute_batch(&sort_settings).map_err(StoreError::from).and_then(|()| {
            statements.iter().enumerate().try_for_each(|(done, sql)| {
                if cancelled() {
                    return Err(StoreError::Cancelled);
                }
                conn.execute_batch(sql).map_err(StoreError::from)?;
                built(done + 1);
                Ok(())
            })
        });
        drop(done);
        result
    });
    // After the watcher has stopped, so no late interrupt can reach this statement.
    let _ = conn.execute_batch(&format!("PRAGMA cache_size={cache_pages}; PRAGMA threads=0"));
    match result {
        // A cancel that came too late to interrupt still cancels: the caller rolls back.
        Ok(()) if cancelled() => Err(StoreError::Cancelled),
        Ok(()) => Ok(()),
        Err(_) if interrupted.load(Ordering::Relaxed) => Err(StoreError::Cancelled),
        Err(e) => Err(e),
    }
}

/// How long a connection waits for another one's lock before it reports the database busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The default [`Store::filter_window`].
pub const FILTER_WINDOW: i64 = 20_000;

/// Whether this process may write the file and create files beside it (WAL needs both).
fn is_writable(path: &Path) -> bool {
    let file_ok = std::fs::OpenOptions::new().append(true).open(path).is_ok();
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let probe = dir.join(format!(".rum-explorer-write-probe-{}", std::process::id()));
    let dir_ok = std::fs::File::create(&probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    file_ok && dir_ok
}

/// The write-ahead log beside a database file (SQLite names it so).
pub fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// The URI that opens a database file immutable: no locks and no WAL files, for read-only media.
fn immutable_uri(path: &Path) -> String {
    format!("file:{}?immutable=1", path.display().to_string().replace('?', "%3f").replace('#', "%23"))
}

impl Store {
    fn with_defaults(conn: Connection, path: &Path, read_only: bool) -> Store {
        Store {
            conn,
            path: path.to_path_buf(),
            read_only,
            filter_window: FILTER_WINDOW,
            few_matching_rows: FEW_MATCHING_ROWS,
            session_cache_limit: writer::SESSION_CACHE_LIMIT,
            pending_view_limit: writer::PENDING_VIEW_LIMIT,
            defer_indexes_from_bytes: DEFER_INDEXES_FROM_BYTES,
            input_bytes_per_session_estimate: INPUT_BYTES_PER_SESSION_ESTIMATE,
            parser_threads: None,
            value_lookup_sessions: value_sort::FEW_SESSIONS,
            event_list_few_sessions: queries::EVENT_LIST_FEW_SESSIONS,
            resource_walk_sessions: queries::RESOURCE_WALK_SESSIONS,
            event_pieces_from: queries::EVENT_PIECES_FROM,
            sorted_keys_cache: RefCell::new(value_sort::SortCache::default()),
        }
    }

    /// Opens (creating if needed) a database file and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Store> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                    path: path.display().to_string(),
                    message: format!("cannot create folder {}: {e}", parent.display()),
                })?;
            }
        }
        let opened = Connection::open(path).map_err(StoreError::from).and_then(|conn| Self::prepare(conn, path));
        match opened {
            Err(error) if path.is_file() && !is_writable(path) => {
                // A database on read-only media or without write permission can still be
                // browsed: opened immutable (no locks, no WAL files); imports report read-only.
                Self::open_read_only(path).map_err(|_| error)
            }
            Err(StoreError::Sqlite(e)) => Err(StoreError::Open { path: path.display().to_string(), message: e.to_string() }),
            other => other,
        }
    }

    fn open_read_only(path: &Path) -> StoreResult<Store> {
        use rusqlite::OpenFlags;
        // NO_MUTEX as in rusqlite's default flags: a Connection is used by one thread at a
        // time, and SQLite's per-call mutex cost 7% of the Overview's scans.
        let conn = Connection::open_with_flags(immutable_uri(path), OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version != schema::SCHEMA_VERSION {
            return Err(StoreError::ReadOnly(format!(
                "schema {version} needs an upgrade to {} and the file cannot be written",
                schema::SCHEMA_VERSION
            )));
        }
        conn.execute_batch("PRAGMA cache_size=-65536;")?;
        event_hashes::register_may_hold(&conn)?;
        Ok(Store::with_defaults(conn, path, true))
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> StoreResult<Store> {
        let conn = Connection::open_in_memory()?;
        Self::prepare(conn, Path::new(":memory:"))
    }

    fn prepare(conn: Connection, path: &Path) -> StoreResult<Store> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // For a new file (an existing one keeps its size): 16 KiB pages make an import write
        // and sync less (measured: commit of a 400 MB import 0.62 s to 0.40 s, half the system time).
        conn.execute_batch("PRAGMA page_size=16384")?;
        // WAL lets the window read while an import writes; NORMAL is durable at each commit
        // in WAL mode, which is the unit we promise (one file = one transaction).
        let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).or_else(|e| {
            // In-memory and read-only media cannot switch; the default journal is still atomic.
            if path == Path::new(":memory:") { Ok("memory".to_string()) } else { Err(e) }
        })?;
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;")?;
        schema::migrate(&conn, path)?;
        event_hashes::register_may_hold(&conn)?;
        Ok(Store::with_defaults(conn, path, false))
    }

    /// A second, read-only connection to the same file, for reading in parallel (the Overview);
    /// None for an in-memory store or when it cannot be opened.
    pub fn helper_connection(&self) -> Option<Connection> {
        use rusqlite::OpenFlags;
        if self.path == Path::new(":memory:") {
            return None;
        }
        let conn = if self.read_only {
            Connection::open_with_flags(immutable_uri(&self.path), OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX).ok()?
        } else {
            Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).ok()?
        };
        conn.busy_timeout(BUSY_TIMEOUT).ok()?;
        conn.execute_batch("PRAGMA cache_size=-65536;").ok()?;
        event_hashes::register_may_hold(&conn).ok()?;
        Some(conn)
    }

    /// Readies an import to write the database file directly, with a rollback journal,
    /// instead of writing every page to the WAL and copying it into the database afterwards,
    /// when no other connection has the database open. The journal holds the original of
    /// each page that existed before and changes (none in an empty database); a crash rolls
    /// back as in WAL mode. Measured into an empty database (a 405 MB import): commit and
    /// checkpoint 0.44–0.52 s to 0.09–0.12 s. Into one of 100,000 sessions, a file of 10,000
    /// more: 2.10–2.37 s to 1.53–1.72 s (commit 0.44–0.80 s to 0.10–0.13 s; three alternating
    /// pairs). [`Store::end_bulk_load`] switches back unless it returned [`WriteMode::Wal`]. A
    /// database another connection has open (the window's own readers, another process) keeps
    /// WAL, which lets readers read during the import.
    pub fn begin_bulk_load(&self) -> WriteMode {
        if self.read_only || self.path == Path::new(":memory:") {
            return WriteMode::Wal;
        }
        let empty = self.conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM events)", [], |r| r.get::<_, bool>(0)).unwrap_or(false);
        // Leaving WAL needs the database to ourselves: asked without waiting, it fails at once
        // when another connection has it open.
        if self.conn.busy_timeout(Duration::ZERO).is_err() {
            return WriteMode::Wal;
        }
        let mode: String = self.conn.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0)).unwrap_or_default();
        let _ = self.conn.busy_timeout(BUSY_TIMEOUT);
        if mode != "delete" {
            return WriteMode::Wal;
        }
        // With a rollback journal, a commit survives a power cut only with FULL.
        if self.conn.execute_batch("PRAGMA synchronous=FULL").is_err() {
            self.end_bulk_load();
            return WriteMode::Wal;
        }
        if empty { WriteMode::DirectIntoEmpty } else { WriteMode::Direct }
    }

    /// Back to WAL after [`Store::begin_bulk_load`]. If that fails (another connection opened
    /// the database meanwhile), the next [`Store::open`] switches it.
    pub fn end_bulk_load(&self) {
        let _ = self.conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0));
        let _ = self.conn.execute_batch("PRAGMA synchronous=NORMAL");
    }

    /// Leaves the WAL as it is at an import's commit, instead of copying it into the database
    /// file there and then (SQLite's automatic checkpoint, which took 2.6-7.7 s of a 100,000
    /// session import through the WAL, and kept the window from showing the new sessions
    /// until it ended). Readers read the new pages from the WAL meanwhile; the importer then
    /// calls [`Store::checkpoint`] once its files are in.
    pub fn pause_checkpoints(&self) {
        let _ = self.conn.query_row("PRAGMA wal_autocheckpoint=0", [], |r| r.get::<_, i64>(0));
    }

    /// SQLite's automatic checkpoints again, at their default (1,000 pages).
    pub fn resume_checkpoints(&self) {
        let _ = self.conn.query_row("PRAGMA wal_autocheckpoint=1000", [], |r| r.get::<_, i64>(0));
    }

    /// Copies the WAL into the database file without waiting for readers or holding up a
    /// writer (PASSIVE), then, if that copied it all, empties the WAL file, which otherwise
    /// keeps the size of the largest import on disk (TRUNCATE waits for readers up to the busy
    /// timeout, and finds nothing left to copy). Returns whether the WAL was emptied; a
    /// database in another journal mode has nothing to do. Only `main`, the database with a
    /// WAL: asked of every database after an import, SQLite answered that a table was locked
    /// (tests/db_problems.rs).
    pub fn checkpoint(&self) -> StoreResult<bool> {
        let (busy, log_frames, checkpointed): (i64, i64, i64) =
            self.conn.query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        if busy != 0 || log_frames < 0 || checkpointed < log_frames {
            return Ok(false);
        }
        let (busy, _, _): (i64, i64, i64) =
            self.conn.query_row("PRAGMA main.wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(busy == 0)
    }

    /// Turns SQLite's foreign key checks off for an import, which makes every session's row
    /// itself and checks them at the end (`FileWriter::finish`). With the checks on, each
    /// batch of events could abort halfway on a missing session, so SQLite first copied every
    /// page the batch touched to a statement journal (measured at 10,000 sessions: 88,140
    /// writes to a temporary file, against 11,281 to the database; writing alone 1.58–1.63 s to 1.35–1.39 s). The setting
    /// cannot change inside a transaction, so this comes before the import's.
    pub fn pause_foreign_keys(&self) -> StoreResult<()> {
        self.conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        Ok(())
    }

    /// Back on after [`Store::pause_foreign_keys`].
    pub fn resume_foreign_keys(&self) {
        let _ = self.conn.execute_batch("PRAGMA foreign_keys = ON");
    }

    /// Runs `read` in one read transaction: every query in it sees the database as it was at
    /// the first, whatever an import commits meanwhile (the WAL keeps that snapshot).
    pub fn in_read_transaction<T>(&self, read: impl FnOnce(&Store) -> StoreResult<T>) -> StoreResult<T> {
        self.conn.execute_batch("BEGIN")?;
        let result = read(self);
        // Nothing was written: ending it cannot lose anything, and a failure to end it is
        // only a snapshot held until the connection closes.
        let _ = self.conn.execute_batch("COMMIT");
        result
    }

    /// An interrupt handle: cancels the query running on this connection from another thread.
    pub fn interrupt_handle(&self) -> rusqlite::InterruptHandle {
        self.conn.get_interrupt_handle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite is built without its memory statistics (`.cargo/config.toml`): kept, they took a
    /// global mutex on every allocation, which the two connections of a read in pieces waited
    /// on in turn.
    #[test]
    fn sqlite_is_built_without_memory_statistics() {
        let store = Store::open_in_memory().expect("open");
        let options: Vec<String> =
            store.conn.prepare("PRAGMA compile_options").expect("prepare").query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("options");
        assert!(options.iter().any(|option| option == "DEFAULT_MEMSTATUS=0"), "{options:?}");
    }

    /// A large bulk load defers the session list's indexes and the view timings, and keeps
    /// the events' other indexes live; a small one defers the session list's only.
    #[test]
    fn deferred_indexes_by_scope() {
        let mut store = Store::open_in_memory().expect("open");
        let tx = store.conn.transaction().expect("tx");
        let event_indexes = |tx: &Connection| -> Vec<String> {
            let mut statement = tx
                .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL ORDER BY name")
                .expect("prepare");
            statement.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("names")
        };
        let before = event_indexes(&tx);
        assert!(before.len() >= 7, "{before:?}");

        let deferred = defer_secondary_indexes(&tx, DeferredIndexes::SessionListAndRandomEventKeys).expect("defer");
        let on_events: Vec<&String> = deferred.iter().filter(|sql| sql.contains(" ON events(")).collect();
        assert_eq!(on_events.len(), 1, "{on_events:?}");
        assert!(on_events[0].contains("events_view_timings"), "{on_events:?}");
        assert!(deferred.iter().filter(|sql| sql.contains(" ON sessions(")).count() >= 20, "{deferred:?}");
        let live = event_indexes(&tx);
        assert_eq!(live.len(), before.len() - 1);
        for kept in ["events_by_session_key", "events_by_action_name", "events_error_groups", "events_other_kinds"] {
            assert!(live.iter().any(|name| name == kept), "{kept} stays live: {live:?}");
        }
        let pragma = |tx: &Connection, name: &str| -> i64 { tx.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0)).expect(name) };
        let cache_before = pragma(&tx, "cache_size");
        build_indexes(&tx, &deferred, &|| false).expect("build");
        assert_eq!(event_indexes(&tx), before);
        // The build's sort settings end with it.
        assert_eq!((pragma(&tx, "cache_size"), pragma(&tx, "threads")), (cache_before, 0));

        let deferred = defer_secondary_indexes(&tx, DeferredIndexes::SessionList).expect("defer");
        assert!(deferred.iter().all(|sql| sql.contains(" ON sessions(")), "{deferred:?}");
        assert_eq!(event_indexes(&tx), before);
    }
}
