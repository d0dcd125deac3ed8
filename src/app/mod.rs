//! The window.

/// Opens the window on a database, importing `files` first.
pub fn run(db: std::path::PathBuf, files: Vec<std::path::PathBuf>) -> Result<(), String> {
    let _ = (db, files);
    Err("the window is not built yet".into())
}
