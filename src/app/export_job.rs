//! The *Export sessions* window's state and its export on a background thread: progress,
//! cancel, and the outcome for the status line.

use crate::session_export::{export_sessions_csv, ExportProgress};
use crate::store::{SessionQuery, Store};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;

/// The export window while it is open.
pub struct ExportWindow {
    /// The file to write, as typed or picked.
    pub path_text: String,
    pub job: Option<ExportJob>,
    /// The save dialog's answer, while it is open.
    pub dialog: Option<Receiver<Option<PathBuf>>>,
}

pub struct ExportJob {
    pub progress: Arc<ExportProgress>,
    /// Sessions written and the file they went to, or why it stopped.
    pub done: Receiver<Result<(u64, PathBuf), String>>,
}

impl ExportJob {
    /// Starts writing the sessions `query` selects to `path` (a folder: `rum-sessions.csv` in
    /// it), on its own connection; the file system is asked on that thread, not the window's.
    pub fn start(db: PathBuf, query: SessionQuery, path: PathBuf, notify: impl Fn() + Send + 'static) -> ExportJob {
        let progress = Arc::new(ExportProgress::default());
        let (tx, rx) = channel();
        let job_progress = progress.clone();
        let spawned = std::thread::Builder::new().name("export".into()).spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let path = if path.is_dir() { path.join("rum-sessions.csv") } else { path };
                let store = Store::open(&db).map_err(|e| e.describe(&db))?;
                export_sessions_csv(&store, &query, &path, &job_progress).map(|rows| (rows, path))
            }))
            .unwrap_or_else(|_| Err("the export stopped on an internal error".into()));
            let _ = tx.send(outcome);
            notify();
        });
        if let Err(e) = spawned {
            let (tx, failed) = channel();
            let _ = tx.send(Err(format!("cannot start the export: {e}")));
            return ExportJob { progress, done: failed };
        }
        ExportJob { progress, done: rx }
    }

    pub fn cancel(&self) {
        self.progress.cancelled.store(true, Ordering::Relaxed);
    }

    /// Sessions written so far and of how many (0 until counted).
    pub fn rows(&self) -> (u64, u64) {
        (self.progress.rows_written.load(Ordering::Relaxed), self.progress.total_rows.load(Ordering::Relaxed))
    }
}
