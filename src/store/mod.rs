//! The SQLite store: schema and migrations, the import writer, and the queries the explorer runs.

mod schema;
pub mod overview;
pub mod queries;
pub mod writer;

use rusqlite::Connection;
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

pub type StoreResult<T> = Result<T, StoreError>;

/// An open database.
pub struct Store {
    pub conn: Connection,
    pub path: PathBuf,
}

impl Store {
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
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::prepare(conn, path)
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> StoreResult<Store> {
        let conn = Connection::open_in_memory()?;
        Self::prepare(conn, Path::new(":memory:"))
    }

    fn prepare(conn: Connection, path: &Path) -> StoreResult<Store> {
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL lets the window read while an import writes; NORMAL is durable at each commit
        // in WAL mode, which is the unit we promise (one file = one transaction).
        let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).or_else(|e| {
            // In-memory and read-only media cannot switch; the default journal is still atomic.
            if path == Path::new(":memory:") { Ok("memory".to_string()) } else { Err(e) }
        })?;
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;")?;
        schema::migrate(&conn, path)?;
        Ok(Store { conn, path: path.to_path_buf() })
    }

    /// An interrupt handle: cancels the query running on this connection from another thread.
    pub fn interrupt_handle(&self) -> rusqlite::InterruptHandle {
        self.conn.get_interrupt_handle()
    }
}
