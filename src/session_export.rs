//! The session list as CSV. The window's *Export sessions* writes every session the table
//! selects, in its order; `rum-explorer sessions --format csv` writes a page of the same
//! columns and cells, so a script and a person get the same file.

use crate::store::{SessionQuery, SessionRow, Store, SESSION_LIST_COLUMNS};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Sessions read per page while exporting: memory stays bounded at any size.
pub const EXPORT_PAGE_ROWS: u64 = 5_000;

/// The columns: the session list's, then the added ones it does not have.
pub fn csv_columns(extra_columns: &[String]) -> Vec<&str> {
    let mut columns: Vec<&str> = SESSION_LIST_COLUMNS.to_vec();
    columns.extend(extra_columns.iter().map(String::as_str).filter(|c| !SESSION_LIST_COLUMNS.contains(c)));
    columns
}

/// One session's cells: stored values as text (times in ms since the epoch, durations in ms),
/// empty where it has none.
pub fn csv_cells(row: &SessionRow, columns: &[&str]) -> Vec<String> {
    columns.iter().map(|c| row.value_text(c).unwrap_or_default()).collect()
}

/// How far an export is, shared with the window; `cancelled` stops it after the page it is on.
#[derive(Default)]
pub struct ExportProgress {
    pub rows_written: AtomicU64,
    /// The sessions it will write; 0 until counted.
    pub total_rows: AtomicU64,
    pub cancelled: AtomicBool,
}

/// Writes every session `q` selects (its filter, time range, sort and added columns; its limit
/// and offset are ignored) to `path` as CSV, and returns how many. The file is written beside
/// under a temporary name and renamed at the end, so a cancelled or failed export leaves no
/// partial file and an existing file stays as it was until the new one is whole. The sessions
/// are read in one read transaction: an import running meanwhile does not shift the pages.
pub fn export_sessions_csv(store: &Store, q: &SessionQuery, path: &Path, progress: &ExportProgress) -> Result<u64, String> {
    export_sessions_csv_in_pages(store, q, path, progress, EXPORT_PAGE_ROWS)
}

/// [`export_sessions_csv`] reading `page_rows` sessions at a time (tests cross pages with few).
pub fn export_sessions_csv_in_pages(store: &Store, q: &SessionQuery, path: &Path, progress: &ExportProgress, page_rows: u64) -> Result<u64, String> {
    let partial = partial_path(path);
    let result = write_all(store, q, path, &partial, progress, page_rows.max(1));
    match result {
        Ok(rows) => match std::fs::rename(&partial, path) {
            Ok(()) => Ok(rows),
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(format!("cannot write {}: {e}", path.display()))
            }
        },
        Err(message) => {
            let _ = std::fs::remove_file(&partial);
            Err(message)
        }
    }
}

/// The name the file is written under until it is whole: `.name.csv.partial` beside it.
fn partial_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "sessions.csv".into());
    path.with_file_name(format!(".{name}.partial"))
}

/// Writes the file under `partial`; messages name `path`, the file the user asked for.
fn write_all(store: &Store, q: &SessionQuery, path: &Path, partial: &Path, progress: &ExportProgress, page_rows: u64) -> Result<u64, String> {
    let file = std::fs::File::create(partial).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let columns = csv_columns(&q.extra_columns);
    let write_error = |e: csv::Error| format!("cannot write {}: {e}", path.display());
    writer.write_record(&columns).map_err(write_error)?;
    let rows = store
        .in_read_transaction(|store| {
            progress.total_rows.store(store.count_sessions(q)?, Ordering::Relaxed);
            let mut written = 0u64;
            loop {
                if progress.cancelled.load(Ordering::Relaxed) {
                    return Err(crate::store::StoreError::Cancelled);
                }
                let page = SessionQuery { limit: page_rows, offset: written, ..q.clone() };
                let rows = store.sessions(&page)?;
                for row in &rows {
                    // A write error ends the export with its message (see below).
                    if let Err(e) = writer.write_record(csv_cells(row, &columns)) {
                        return Ok(Err(write_error(e)));
                    }
                }
                written += rows.len() as u64;
                progress.rows_written.store(written, Ordering::Relaxed);
                if (rows.len() as u64) < page_rows {
                    return Ok(Ok(written));
                }
            }
        })
        .map_err(|e| match e {
            crate::store::StoreError::Cancelled => "export cancelled".to_string(),
            other => format!("cannot read the sessions: {other}"),
        })??;
    let mut buffered = writer.into_inner().map_err(|e| format!("cannot write {}: {}", path.display(), e.error()))?;
    buffered.flush().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    buffered.get_ref().sync_all().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(rows)
}

/// Where the window suggests writing an export: the home folder, else beside the database.
pub fn default_export_path(db: &Path) -> PathBuf {
    let folder = directories::UserDirs::new().map(|dirs| dirs.home_dir().to_path_buf()).or_else(|| db.parent().map(Path::to_path_buf));
    folder.unwrap_or_default().join("rum-sessions.csv")
}
