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
                }
                Err(e) => {
                    let _ = tx.send(ImportEvent::Failed(e.to_string()));
                }
            }));
            if outcome.is_err() {
                let _ = tx.send(ImportEvent::Failed("the import stopped on an internal error; files finished before it were kept".into()));
            }
            let _ = tx.send(ImportEvent::Finished);
            notify();
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
