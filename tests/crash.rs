//! Crash safety: the import process is killed (SIGKILL) at points spread over its run. The
//! database must open, pass `PRAGMA integrity_check`, hold exactly the files that finished,
//! and a second import must complete it with no duplicates.

mod common;

use common::*;
use rum_explorer::store::Store;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

const FILES: u64 = 5;

/// The kills are timed as fractions of a reference run, so the two tests run one at a time:
/// otherwise one's reference run may share the CPU with the other's imports and be slower than
/// the runs it times (the "most kills landed" check failed once in a whole-suite run).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cli_import(db: &std::path::Path, files: &[PathBuf]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rum-explorer"));
    command.arg("import").arg("--db").arg(db).args(files).stdout(Stdio::null()).stderr(Stdio::null());
    command
}

/// Events each file adds when imported in order into an empty database, by path.
fn events_per_file(store: &Store) -> HashMap<String, i64> {
    let mut stmt = store.conn.prepare("SELECT path, events_imported FROM files").expect("files");
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).expect("query");
    rows.map(|r| r.expect("row")).collect()
}

#[test]
fn killing_an_import_loses_nothing_committed_and_a_rerun_completes_it() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::tempdir().expect("tmp");
    let files: Vec<PathBuf> = (0..FILES)
        .map(|i| {
            let path = dir.path().join(format!("part-{i}.lp"));
            rum_explorer::generate::write(&path, rum_explorer::generate::GenerateFormat::Lp, 300, 500 + i, false).expect("generate");
            path
        })
        .collect();

    // The reference: an import that runs to the end, timed to spread the kills over it.
    let reference_db = dir.path().join("reference.sqlite");
    let started = Instant::now();
    let status = cli_import(&reference_db, &files).status().expect("run");
    let mut full_run = started.elapsed();
    assert!(status.success());
    let reference = Store::open(&reference_db).expect("open");
    let expected_files = events_per_file(&reference);
    let expected_events = count(&reference, "SELECT count(*) FROM events");
    let expected_sessions = sessions_json(&reference);

    let mut killed_mid_import = 0;
    let fractions = [0.15, 0.35, 0.55, 0.75, 0.95];
    let (mut next_fraction, mut attempts) = (0, 0);
    // An import that ends before its kill (this machine's speed changes from minute to minute,
    // and a reference run once took twice as long as the runs after it) times the rest, and
    // its moment is tried again; every run is checked either way.
    while next_fraction < fractions.len() && attempts < 2 * fractions.len() {
        let round = attempts;
        attempts += 1;
        let db = dir.path().join(format!("killed-{round}.sqlite"));
        let mut child = cli_import(&db, &files).spawn().expect("spawn");
        let spawned = Instant::now();
        let kill_at = full_run.mul_f64(fractions[next_fraction]);
        let finished_in = loop {
            if child.try_wait().expect("wait").is_some() {
                break Some(spawned.elapsed());
            }
            if spawned.elapsed() >= kill_at {
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        child.kill().ok(); // SIGKILL
        child.wait().expect("reap");
        match finished_in {
            None => {
                killed_mid_import += 1;
                next_fraction += 1;
            }
            Some(took) => full_run = full_run.min(took),
        }

        let store = Store::open(&db).expect("the database opens after a kill");
        let check: String = store.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
        assert_eq!(check, "ok", "round {round}");
        // Exactly the files that finished: each complete, nothing of the one cut off.
        let landed = events_per_file(&store);
        for (path, events) in &landed {
            assert_eq!(Some(events), expected_files.get(path), "round {round}: {path} is whole");
        }
        let events = count(&store, "SELECT count(*) FROM events");
        assert_eq!(events, landed.values().sum::<i64>(), "round {round}: no events of an unfinished file");
        assert!(landed.len() as u64 <= FILES);
        let orphans = count(&store, "SELECT count(*) FROM events WHERE file_pk NOT IN (SELECT file_pk FROM files)");
        assert_eq!(orphans, 0);
        drop(store);

        // Running the import again completes it, with no duplicates.
        assert!(cli_import(&db, &files).status().expect("rerun").success(), "round {round}: rerun");
        let store = Store::open(&db).expect("open");
        assert_eq!(count(&store, "SELECT count(*) FROM events"), expected_events, "round {round}: no duplicates");
        assert_same_sessions(&sessions_json(&store), &expected_sessions, &format!("round {round}"));
    }
    assert!(
        killed_mid_import >= 3,
        "most kills landed during the import ({killed_mid_import} of {attempts}; full run {full_run:?})"
    );
}

/// The first import into an empty database writes the file directly with a rollback journal,
/// not through the WAL (`Store::begin_bulk_load`). Killed in the middle, it must leave the
/// database as it was: it opens, passes the integrity check, holds nothing, is back in WAL mode,
/// and the import then runs to the end.
#[test]
fn killing_the_first_import_into_an_empty_database_leaves_it_empty_and_usable() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("big.lp");
    rum_explorer::generate::write(&file, rum_explorer::generate::GenerateFormat::Lp, 800, 42, false).expect("generate");
    let files = [file];
    let reference_db = dir.path().join("reference.sqlite");
    let started = Instant::now();
    assert!(cli_import(&reference_db, &files).status().expect("run").success());
    let full_run = started.elapsed();
    let expected_events = count(&Store::open(&reference_db).expect("open"), "SELECT count(*) FROM events");

    let mut killed_mid_import = 0;
    for (round, fraction) in [0.3, 0.6].iter().enumerate() {
        let db = dir.path().join(format!("killed-{round}.sqlite"));
        // The database exists, empty, before the import starts, as the window leaves it.
        drop(Store::open(&db).expect("create"));
        let mut child = cli_import(&db, &files).spawn().expect("spawn");
        std::thread::sleep(full_run.mul_f64(*fraction));
        let finished_already = child.try_wait().expect("wait").is_some();
        child.kill().ok(); // SIGKILL
        child.wait().expect("reap");
        if finished_already {
            continue;
        }
        killed_mid_import += 1;
        let journal = dir.path().join(format!("killed-{round}.sqlite-journal"));
        assert!(journal.exists(), "round {round}: the import was writing with a rollback journal");

        let store = Store::open(&db).expect("the database opens after a kill");
        let check: String = store.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
        assert_eq!(check, "ok", "round {round}");
        assert_eq!(count(&store, "SELECT count(*) FROM events"), 0, "round {round}: nothing of the cut-off import");
        assert_eq!(count(&store, "SELECT count(*) FROM files"), 0, "round {round}");
        let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
        assert_eq!(mode, "wal", "round {round}: back in WAL mode");
        drop(store);

        assert!(cli_import(&db, &files).status().expect("rerun").success(), "round {round}: rerun");
        assert_eq!(count(&Store::open(&db).expect("open"), "SELECT count(*) FROM events"), expected_events, "round {round}");
    }
    assert!(killed_mid_import >= 1, "a kill landed during the import (full run {full_run:?})");
}

/// A later import into a database with events, alone with it, also writes the file directly
/// with a rollback journal (`Store::begin_bulk_load`): the journal then holds the originals of
/// pages the first import wrote. Killed in the middle, it must leave exactly the first
/// import's data: the same events and sessions, an intact file, WAL mode, and a rerun that
/// lands.
#[test]
fn killing_a_later_import_leaves_the_earlier_data_as_it_was() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::tempdir().expect("tmp");
    let first = dir.path().join("first.lp");
    rum_explorer::generate::write(&first, rum_explorer::generate::GenerateFormat::Lp, 200, 5, false).expect("generate");
    let second = dir.path().join("second.lp");
    rum_explorer::generate::write(&second, rum_explorer::generate::GenerateFormat::Lp, 800, 43, false).expect("generate");
    let state = |db: &std::path::Path| -> (i64, i64, String) {
        let store = Store::open(db).expect("open");
        let check: String = store.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
        (count(&store, "SELECT count(*) FROM events"), count(&store, "SELECT count(*) FROM sessions"), check)
    };

    // How long the second import takes on its own, and what both leave.
    let reference_db = dir.path().join("reference.sqlite");
    assert!(cli_import(&reference_db, std::slice::from_ref(&first)).status().expect("run").success());
    let after_first = state(&reference_db);
    let started = Instant::now();
    assert!(cli_import(&reference_db, std::slice::from_ref(&second)).status().expect("run").success());
    let second_run = started.elapsed();
    let after_both = state(&reference_db);
    assert!(after_both.0 > after_first.0, "the second file adds events");

    let mut killed_mid_import = 0;
    for (round, fraction) in [0.3, 0.6].iter().enumerate() {
        let db = dir.path().join(format!("killed-{round}.sqlite"));
        assert!(cli_import(&db, std::slice::from_ref(&first)).status().expect("run").success());
        assert_eq!(state(&db), after_first, "round {round}");
        let mut child = cli_import(&db, std::slice::from_ref(&second)).spawn().expect("spawn");
        std::thread::sleep(second_run.mul_f64(*fraction));
        let finished_already = child.try_wait().expect("wait").is_some();
        child.kill().ok(); // SIGKILL
        child.wait().expect("reap");
        if finished_already {
            continue;
        }
        killed_mid_import += 1;
        let journal = dir.path().join(format!("killed-{round}.sqlite-journal"));
        assert!(journal.exists(), "round {round}: the import was writing with a rollback journal");

        assert_eq!(state(&db), after_first, "round {round}: the first import's data, and nothing of the cut-off one");
        let store = Store::open(&db).expect("open");
        let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
        assert_eq!(mode, "wal", "round {round}: back in WAL mode");
        drop(store);

        assert!(cli_import(&db, std::slice::from_ref(&second)).status().expect("rerun").success(), "round {round}: rerun");
        assert_eq!(state(&db), after_both, "round {round}");
    }
    assert!(killed_mid_import >= 1, "a kill landed during the import (second run {second_run:?})");
}
