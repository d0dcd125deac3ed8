//! Exporting the session list as CSV: every selected session, in order, across pages, the same
//! cells as the command line's; nothing left behind when cancelled or unable to write.

mod common;

use common::*;
use rum_explorer::session_export::{export_sessions_csv_in_pages, ExportProgress};
use rum_explorer::store::{SessionQuery, Store};
use std::process::Command;
use std::sync::atomic::Ordering;

fn generated(sessions: u64) -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, db) = temp_db();
    let file = dir.path().join("g.lp");
    rum_explorer::generate::write(&file, rum_explorer::generate::GenerateFormat::Lp, sessions, 9, false).expect("generate");
    let mut store = Store::open(&db).expect("open");
    import(&mut store, &[file]);
    (dir, db)
}

#[test]
fn an_export_across_pages_is_the_command_lines_csv_of_every_selected_session() {
    let (dir, db) = generated(90);
    let store = Store::open(&db).expect("open");
    let filter = "browser:Chrome OR error_count:>1";
    let q = SessionQuery {
        filter: rum_explorer::query::parse(filter).expect("parse"),
        sort_column: Some("duration_ms".into()),
        descending: true,
        extra_columns: vec!["loading_time".into(), "sdk_name".into()],
        ..Default::default()
    };
    let selected = store.count_sessions(&q).expect("count");
    assert!(selected > 20 && selected < 90, "a filter that keeps some: {selected}");
    let path = dir.path().join("out.csv");
    let progress = ExportProgress::default();
    // Pages of 7: the last one short, the others full.
    let written = export_sessions_csv_in_pages(&store, &q, &path, &progress, 7).expect("export");
    assert_eq!(written, selected);
    assert_eq!((progress.rows_written.load(Ordering::Relaxed), progress.total_rows.load(Ordering::Relaxed)), (selected, selected));
    let exported = std::fs::read_to_string(&path).expect("read");

    let out = Command::new(env!("CARGO_BIN_EXE_rum-explorer"))
        .args(["sessions", "--db", db.to_str().expect("utf-8"), "--filter", filter, "--sort", "duration_ms", "--desc"])
        .args(["--column", "loading_time", "--column", "sdk_name", "--format", "csv", "--limit", "1000"])
        .output()
        .expect("run");
    let printed = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(exported, printed);
    // A header and a line per session, loading times in it.
    assert_eq!(exported.lines().count() as u64, selected + 1);
    assert!(exported.lines().next().is_some_and(|h| h.ends_with(",loading_time,sdk_name")));
    assert!(!dir.path().join(".out.csv.partial").exists());
}

#[test]
fn a_cancelled_export_leaves_the_file_that_was_there() {
    let (dir, db) = generated(30);
    let store = Store::open(&db).expect("open");
    let path = dir.path().join("kept.csv");
    std::fs::write(&path, "what was there\n").expect("write");
    let progress = ExportProgress::default();
    progress.cancelled.store(true, Ordering::Relaxed);
    let outcome = export_sessions_csv_in_pages(&store, &SessionQuery::default(), &path, &progress, 7);
    assert_eq!(outcome, Err("export cancelled".to_string()));
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "what was there\n");
    assert!(!dir.path().join(".kept.csv.partial").exists(), "no partial file left");
}

#[test]
fn a_file_that_cannot_be_written_is_named() {
    let (dir, db) = generated(5);
    let store = Store::open(&db).expect("open");
    let path = dir.path().join("no-such-folder").join("out.csv");
    let message = export_sessions_csv_in_pages(&store, &SessionQuery::default(), &path, &ExportProgress::default(), 7).expect_err("no folder");
    // The file asked for is named, not the temporary one it is written under.
    assert!(message.starts_with(&format!("cannot create {}", path.display())), "{message}");
}
