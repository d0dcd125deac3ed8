//! Database problems are reported, on the command line and in the window, never by a panic:
//! a corrupted file, a read-only one, a locked one, a full disk, a newer schema.

mod common;

use common::*;
use egui_kittest::Harness;
use rum_explorer::app::settings::Settings;
use rum_explorer::app::{ExplorerApp, StatusLevel};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn rum(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rum-explorer")).args(args).output().expect("run rum-explorer");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A database with the tricky fixture in it.
fn filled_db(dir: &Path) -> PathBuf {
    let db = dir.join("rum.sqlite");
    let (code, _, err) = rum(&["import", "--db", path_str(&db), path_str(&own_fixture("tricky.lp"))]);
    assert_eq!(code, 0, "{err}");
    db
}

/// A small tmpfs mounted for the test (root only), unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).status().is_ok_and(|s| s.success());
        if ok {
            Some(Tmpfs(dir.to_path_buf()))
        } else {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
            None
        }
    }
    fn remount_read_only(&self) -> bool {
        Command::new("mount").args(["-o", "remount,ro"]).arg(&self.0).status().is_ok_and(|s| s.success())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_corrupted_database_is_reported_by_the_cli_and_the_window() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = filled_db(dir.path());
    // Overwrite pages in the middle of the file.
    let mut bytes = std::fs::read(&db).expect("read");
    for b in bytes.iter_mut().skip(8192).take(8192) {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).expect("write");
    let _ = std::fs::remove_file(format!("{}-wal", db.display()));
    let (code, _, err) = rum(&["sessions", "--db", path_str(&db)]);
    assert_eq!(code, 2);
    assert!(err.contains(path_str(&db)) && err.contains("damaged"), "{err}");

    let garbage = dir.path().join("notes.sqlite");
    std::fs::write(&garbage, "these are my notes, not a database\n".repeat(200)).expect("write");
    let (code, _, err) = rum(&["stats", "--db", path_str(&garbage)]);
    assert_eq!(code, 2);
    assert!(err.contains("notes.sqlite") && err.contains("not a database"), "{err}");

    // The window opens on it and says what is wrong in the status line.
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_eframe(move |cc| ExplorerApp::with_settings(cc.egui_ctx.clone(), db.clone(), Settings::default(), false));
    let started = Instant::now();
    loop {
        harness.step();
        if let Some((text, level)) = harness.state().status.clone() {
            assert_eq!(level, StatusLevel::Error);
            assert!(text.contains("damaged"), "{text}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no error shown");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_newer_schema_is_refused_by_the_cli() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = filled_db(dir.path());
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch("PRAGMA user_version = 99").expect("bump");
    drop(conn);
    let (code, _, err) = rum(&["stats", "--db", path_str(&db)]);
    assert_eq!(code, 2);
    assert!(err.contains("newer version of rum-explorer") && err.contains("schema 99"), "{err}");
}

#[test]
fn a_locked_database_makes_an_import_wait_then_say_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = filled_db(dir.path());
    // Another program holds the write lock for longer than the import waits (5 s).
    let holder = rusqlite::Connection::open(&db).expect("open");
    holder.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let started = Instant::now();
    let (code, out, err) = rum(&["import", "--db", path_str(&db), path_str(&own_fixture("views.ndjson"))]);
    assert_ne!(code, 0);
    assert!(started.elapsed() >= Duration::from_secs(4), "it waited for the lock first");
    let text = format!("{out}{err}");
    assert!(text.contains("busy") && text.contains("another rum-explorer"), "{text}");
    holder.execute_batch("ROLLBACK").expect("unlock");
    drop(holder);
    // Once the lock is gone the same import works, and nothing was half-written.
    let (code, _, err) = rum(&["import", "--db", path_str(&db), path_str(&own_fixture("views.ndjson"))]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_full_disk_rolls_the_file_back_and_keeps_the_database() {
    let dir = tempfile::tempdir().expect("tmp");
    let mount = dir.path().join("small");
    std::fs::create_dir(&mount).expect("mkdir");
    // Room for the database with one small file (16 KiB pages: about 1 MB), not for 1,000 sessions more.
    let Some(_tmpfs) = Tmpfs::mount(&mount, "4m") else { return };
    let db = filled_db(&mount);
    let big = dir.path().join("big.lp");
    rum_explorer::generate::write(&big, rum_explorer::generate::GenerateFormat::Lp, 1000, 4, false).expect("generate");
    let (code, out, err) = rum(&["import", "--db", path_str(&db), path_str(&big)]);
    assert_eq!(code, 1, "{out}{err}");
    let text = format!("{out}{err}");
    assert!(text.contains("disk is full") && text.contains("rolled back"), "{text}");
    let store = rum_explorer::store::Store::open(&db).expect("the database still opens");
    let check: String = store.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
    assert_eq!(check, "ok");
    assert_eq!(count(&store, "SELECT count(*) FROM sessions"), 1, "what was there before is all there");
}

#[test]
fn a_read_only_database_can_be_browsed_and_refuses_imports_clearly() {
    let dir = tempfile::tempdir().expect("tmp");
    let mount = dir.path().join("media");
    std::fs::create_dir(&mount).expect("mkdir");
    let Some(tmpfs) = Tmpfs::mount(&mount, "20m") else { return };
    let db = filled_db(&mount);
    assert!(tmpfs.remount_read_only(), "remount read-only");
    let (code, out, err) = rum(&["sessions", "--db", path_str(&db), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sess-lp-1"), "browsing works: {out}");
    let (code, out, err) = rum(&["import", "--db", path_str(&db), path_str(&own_fixture("views.ndjson"))]);
    assert_eq!(code, 1);
    let text = format!("{out}{err}");
    assert!(text.contains("read-only"), "{text}");
}

#[test]
fn readers_open_while_another_process_holds_the_write_lock() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = filled_db(dir.path());
    let holder = rusqlite::Connection::open(&db).expect("open");
    holder.execute_batch("BEGIN IMMEDIATE; INSERT INTO files (path, format, size_bytes, imported_at_ms, events_imported, records_skipped) VALUES ('x', 'y', 0, 0, 0, 0);").expect("lock");
    let started = Instant::now();
    let (code, out, err) = rum(&["sessions", "--db", path_str(&db), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sess-lp-1"));
    assert!(started.elapsed() < Duration::from_secs(4), "no wait for the writer: {:?}", started.elapsed());
    holder.execute_batch("ROLLBACK").expect("unlock");
}

/// An import through the WAL (the window's, whose readers have the database open) commits
/// without copying the WAL into the database file: readers see the new sessions at once, and
/// the copy comes after, from `Store::checkpoint`, which then empties the WAL file (SQLite's
/// own checkpoint at the commit left it at the import's size on disk).
#[test]
fn an_import_through_the_wal_leaves_the_checkpoint_for_after() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("wal.sqlite");
    let big = dir.path().join("big.ndjson");
    // Enough pages that SQLite's automatic checkpoint (from 1,000 pages in the WAL) would run.
    rum_explorer::generate::write(&big, rum_explorer::generate::GenerateFormat::Ndjson, 1200, 4, false).expect("generate");
    let mut store = rum_explorer::store::Store::open(&db).expect("open");
    import(&mut store, &[own_fixture("tricky.lp")]);
    assert!(store.checkpoint().expect("checkpoint"), "nothing holds the WAL");
    let reader = rum_explorer::store::Store::open(&db).expect("a second connection");
    let sessions_before = count(&reader, "SELECT count(*) FROM sessions");
    let file_size = || std::fs::metadata(&db).expect("size").len();
    let wal_size = || std::fs::metadata(rum_explorer::store::wal_path(&db)).map_or(0, |m| m.len());
    let size_before = file_size();

    let reports = import(&mut store, &[big]);
    assert_eq!(reports[0].error, None);
    assert_eq!(count(&reader, "SELECT count(*) FROM sessions"), sessions_before + 1200, "the reader sees the new sessions");
    assert_eq!(file_size(), size_before, "the database file is as it was: the new pages are in the WAL");
    let page_size = count(&store, "PRAGMA page_size") as u64;
    assert!(wal_size() > 1000 * page_size, "{} bytes in the WAL", wal_size());

    assert!(store.checkpoint().expect("checkpoint"), "the reader is between queries: all is copied");
    assert!(file_size() > size_before, "the pages are in the database file");
    assert_eq!(wal_size(), 0, "and the WAL is emptied");
    assert_eq!(count(&reader, "SELECT count(*) FROM sessions"), sessions_before + 1200);
    let check: String = reader.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
    assert_eq!(check, "ok");

    // A reader in a read transaction from before the import holds the copy back: the
    // checkpoint says so at once, and nothing is lost.
    let again = dir.path().join("again.ndjson");
    rum_explorer::generate::write(&again, rum_explorer::generate::GenerateFormat::Ndjson, 30, 8, false).expect("generate");
    reader.conn.execute_batch("BEGIN; SELECT count(*) FROM sessions;").expect("read transaction");
    import(&mut store, &[again]);
    let started = Instant::now();
    assert!(!store.checkpoint().expect("checkpoint"), "a reader needs the database file as it was");
    assert!(started.elapsed() < Duration::from_secs(2), "no wait for the reader: {:?}", started.elapsed());
    assert!(wal_size() > 0);
    reader.conn.execute_batch("COMMIT").expect("end");
    assert!(store.checkpoint().expect("checkpoint"), "once it is done, all is copied");
    assert_eq!(wal_size(), 0);
    drop(reader);
    drop(store);
    let store = rum_explorer::store::Store::open(&db).expect("open");
    assert_eq!(count(&store, "SELECT count(*) FROM sessions"), sessions_before + 1230);
}

/// An import may leave WAL to write the file directly (`Store::begin_bulk_load`), but only with
/// the database to itself: with another connection open (the window's readers, another
/// process) it keeps WAL, without waiting out the busy timeout. Into an empty database that is
/// a bulk load; into one with events too, without deferring indexes. WAL is back after it.
#[test]
fn only_an_import_with_the_database_to_itself_leaves_wal() {
    use rum_explorer::store::WriteMode;
    let dir = tempfile::tempdir().expect("tmp");
    let mode = |store: &rum_explorer::store::Store| -> String { store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode") };

    let empty = dir.path().join("empty.sqlite");
    let store = rum_explorer::store::Store::open(&empty).expect("open");
    let reader = rum_explorer::store::Store::open(&empty).expect("a second connection");
    let started = Instant::now();
    assert_eq!(store.begin_bulk_load(), WriteMode::Wal, "another connection is open");
    assert!(started.elapsed() < Duration::from_secs(2), "no wait for the busy timeout: {:?}", started.elapsed());
    assert_eq!(mode(&store), "wal");
    drop(reader);
    assert_eq!(store.begin_bulk_load(), WriteMode::DirectIntoEmpty, "alone with an empty database");
    assert_eq!(mode(&store), "delete");
    store.end_bulk_load();
    assert_eq!(mode(&store), "wal");
    drop(store);

    // Through the command line: the import lands, and the database is in WAL mode after it.
    let (code, _, err) = rum(&["import", "--db", path_str(&empty), path_str(&own_fixture("tricky.lp"))]);
    assert_eq!(code, 0, "{err}");
    // A plain connection reports the mode the file is left in (Store::open would switch it).
    let plain = rusqlite::Connection::open(&empty).expect("open");
    assert_eq!(plain.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).expect("mode"), "wal");
    drop(plain);
    let store = rum_explorer::store::Store::open(&empty).expect("open");
    assert!(count(&store, "SELECT count(*) FROM events") > 0);
    let reader = rum_explorer::store::Store::open(&empty).expect("a second connection");
    assert_eq!(store.begin_bulk_load(), WriteMode::Wal, "another connection is open");
    drop(reader);
    assert_eq!(store.begin_bulk_load(), WriteMode::Direct, "alone with a database that has events");
    assert_eq!(mode(&store), "delete");
    store.end_bulk_load();
    assert_eq!(mode(&store), "wal");
    drop(store);

    // A second file through the command line lands beside the first, and WAL is back.
    let before = count(&rum_explorer::store::Store::open(&empty).expect("open"), "SELECT count(*) FROM events");
    let (code, _, err) = rum(&["import", "--db", path_str(&empty), path_str(&own_fixture("views.ndjson"))]);
    assert_eq!(code, 0, "{err}");
    let plain = rusqlite::Connection::open(&empty).expect("open");
    assert_eq!(plain.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).expect("mode"), "wal");
    let after: i64 = plain.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).expect("count");
    assert!(after > before, "the second file's events landed: {before} then {after}");
    let check: String = plain.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
    assert_eq!(check, "ok");
}
