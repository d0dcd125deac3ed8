//! An import on a background thread: progress, cancel, and a report per file as it ends.

use crate::ingest::{self, FileReport, ImportProgress};
use crate::store::Store;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;

pub enum ImportEvent {
    FileDone(Box<FileReport>),
    /// The import could not start (the database would not open) or a thread failed.
    Failed(String),
    Finished,
}

pub struct ImportJob {
    pub progress: Arc<ImportProgress>,
    pub events: Receiver<ImportEvent>,
    pub started: std::time::Instant,
}

impl ImportJob {
    pub fn start(db: PathBuf, paths: Vec<PathBuf>, notify: impl Fn() + Send + 'static) -> ImportJob {
        let progress = ImportProgress::new();
        let (tx, rx) = channel();
        let job_progress = progress.clone();
        let spawned = std::thread::Builder::new().name("import".into()).spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match Store::open(&db) {
                Ok(mut store) => {
                    ingest::import_paths(&mut store, &paths, &job_progress, |report| {
                        let _ = tx.send(ImportEvent::FileDone(Box::new(report.clone())));
                        notify();
                    });
                    Some(store)
                }
                Err(e) => {
                    let _ = tx.send(ImportEvent::Failed(e.to_string()));
                    None
                }
            }));
            let store = match outcome {
                Ok(store) => store,
                Err(_) => {
                    let _ = tx.send(ImportEvent::Failed("the import stopped on an internal error; files finished before it were kept".into()));
                    None
                }
            };
            let _ = tx.send(ImportEvent::Finished);
            notify();
            // The window imports through the WAL (its readers have the database open): the new
            // sessions show from there, and the copy into the database file comes after, here,
            // while the window goes on (see `Store::pause_checkpoints`). A failure leaves them
            // in the WAL, where readers find them.
            if let Some(store) = store {
                let _ = store.checkpoint();
            }
        });
        let (events, progress) = match spawned {
            Ok(_) => (rx, progress),
            Err(e) => {
                let (tx, rx) = channel();
                let _ = tx.send(ImportEvent::Failed(format!("cannot start the import thread: {e}")));
                let _ = tx.send(ImportEvent::Finished);
                (rx, progress)
            }
        };
        ImportJob { progress, events, started: std::time::Instant::now() }
    }
}

/// The bundled sample data, written to a temporary folder so it imports like any file.
pub fn write_sample_data() -> std::io::Result<PathBuf> {
    const FILES: &[(&str, &[u8])] = &[
        ("guance-shop.lp", include_bytes!("../../sample-data/guance-shop.lp")),
        ("datadog-rum.ndjson.gz", include_bytes!("../../sample-data/datadog-rum.ndjson.gz")),
        ("guance-points.json.gz", include_bytes!("../../sample-data/guance-points.json.gz")),
        ("guance-export-view.csv", include_bytes!("../../sample-data/guance-export-view.csv")),
        ("guance-export-action.csv", include_bytes!("../../sample-data/guance-export-action.csv")),
        ("guance-export-error.csv", include_bytes!("../../sample-data/guance-export-error.csv")),
        ("guance-export-resource.csv", include_bytes!("../../sample-data/guance-export-resource.csv")),
        ("guance-export-long_task.csv", include_bytes!("../../sample-data/guance-export-long_task.csv")),
    ];
    let dir = std::env::temp_dir().join(format!("rum-explorer-sample-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in FILES {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// The window's import goes through the WAL (the window has the database open): its
    /// sessions show when it says it has finished, and the WAL is copied into the database
    /// file and emptied after that, on the import's thread.
    #[test]
    fn a_window_import_finishes_then_empties_the_wal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("db.sqlite");
        let window = Store::open(&db).expect("the window's connection");
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/views.ndjson");
        let job = ImportJob::start(db.clone(), vec![fixture], || {});
        loop {
            match job.events.recv_timeout(Duration::from_secs(60)) {
                Ok(ImportEvent::Finished) => break,
                Ok(ImportEvent::Failed(message)) => panic!("{message}"),
                Ok(ImportEvent::FileDone(report)) => assert_eq!(report.error, None),
                Err(e) => panic!("no end of the import: {e}"),
            }
        }
        let sessions: i64 = window.conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0)).expect("count");
        assert!(sessions > 0, "the window sees the import's sessions");
        let wal = crate::store::wal_path(&db);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::metadata(&wal).map_or(0, |m| m.len()) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0, "the WAL is copied and emptied after the import");
        let sessions_after: i64 = window.conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0)).expect("count");
        assert_eq!(sessions_after, sessions);
    }
}
