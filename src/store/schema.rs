//! Schema, versioned with `PRAGMA user_version`. Each migration takes the database from
//! version N-1 to N inside one transaction; a database newer than this build is refused.

use super::{StoreError, StoreResult};
use crate::model::{EVENT_COLUMNS, SESSION_ATTRIBUTES};
use rusqlite::Connection;
use std::path::Path;

pub const SCHEMA_VERSION: i64 = 14;

/// Session columns a user can sort by and that are indexed for it.
pub const SESSION_LIST_COLUMNS: &[&str] = &[
    "session_id", "start_ms", "end_ms", "duration_ms", "session_type", "view_count", "action_count",
    "error_count", "resource_count", "long_task_count", "slowest_resource_ns", "largest_resource_bytes",
    "first_view_path", "last_view_path", "first_view_url", "last_view_url", "app_id", "env", "service",
    "app_version", "user_id", "user_name", "user_email", "browser", "browser_version", "os", "os_version",
    "device", "country", "city",
];

/// The session list columns added after version 1, with the migration that added them: version
/// 1 creates the table without them, so it indexes the others only.
const SESSION_LIST_COLUMNS_ADDED_LATER: &[&str] = &["slowest_resource_ns", "largest_resource_bytes"];

fn migration_1() -> String {
    let mut sql = String::from(
        "CREATE TABLE files (
            file_pk INTEGER PRIMARY KEY,
            path TEXT NOT NULL,
            format TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            imported_at_ms INTEGER NOT NULL,
            events_imported INTEGER NOT NULL,
            records_skipped INTEGER NOT NULL
        );
        CREATE TABLE sessions (
            session_pk INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL UNIQUE,
            start_ms INTEGER,
            end_ms INTEGER,
            duration_ms INTEGER,
            view_count INTEGER NOT NULL DEFAULT 0,
            action_count INTEGER NOT NULL DEFAULT 0,
            error_count INTEGER NOT NULL DEFAULT 0,
            resource_count INTEGER NOT NULL DEFAULT 0,
            long_task_count INTEGER NOT NULL DEFAULT 0,
            other_event_count INTEGER NOT NULL DEFAULT 0,
            first_view_path TEXT,
            first_view_url TEXT,
            last_view_path TEXT,
            last_view_url TEXT,
            session_fields_json TEXT NOT NULL DEFAULT '{}'",
    );
    for attribute in SESSION_ATTRIBUTES {
        sql.push_str(&format!(",\n            {} TEXT", attribute.column));
    }
    sql.push_str("\n        );\n");
    for column in SESSION_LIST_COLUMNS.iter().filter(|c| **c != "session_id" && !SESSION_LIST_COLUMNS_ADDED_LATER.contains(c)) {
        // session_pk breaks ties so that keyset paging has a total order.
        sql.push_str(&format!("CREATE INDEX sessions_by_{column} ON sessions({column}, session_pk);\n"));
    }
    sql.push_str(&events_table("events", "NOT NULL UNIQUE"));
    sql.push_str(EVENT_INDEXES);
    sql
}

/// The events table. Version 1 made `event_key` unique on its own.
fn events_table(name: &str, event_key_constraint: &str) -> String {
    let mut sql = format!(
        "CREATE TABLE {name} (
            event_pk INTEGER PRIMARY KEY,
            event_key INTEGER {event_key_constraint},
            session_pk INTEGER NOT NULL REFERENCES sessions(session_pk),
            kind TEXT NOT NULL,
            time_ms INTEGER NOT NULL,
            version_rank INTEGER NOT NULL DEFAULT 0,
            file_pk INTEGER"
    );
    for column in EVENT_COLUMNS {
        sql.push_str(&format!(",\n            {} {}", column.column, column.column_type.sql()));
    }
    sql.push_str(",\n            extra_json TEXT NOT NULL DEFAULT '{}'\n        );\n");
    sql
}

const EVENT_INDEXES: &str = "
        CREATE INDEX events_by_session_time ON events(session_pk, time_ms);
        CREATE INDEX events_by_kind_time ON events(kind, time_ms);
        CREATE INDEX events_by_error_type ON events(error_type) WHERE error_type IS NOT NULL;
        CREATE INDEX events_by_view_path ON events(view_path) WHERE kind = 'view';
";

/// Version 2: an event's identity is unique within its session, `(session_pk, event_key)`,
/// instead of across the table. New sessions then add to the end of that index rather than
/// at random places in it, so imports stay as fast on a database of millions of events as on
/// an empty one (measured: the second 100k-session file took twice as long as the first).
fn migration_2() -> String {
    let mut sql = events_table("events_v2", "NOT NULL");
    sql.push_str(
        "INSERT INTO events_v2 SELECT * FROM events;
        DROP TABLE events;
        ALTER TABLE events_v2 RENAME TO events;
        CREATE UNIQUE INDEX events_by_session_key ON events(session_pk, event_key);",
    );
    sql.push_str(EVENT_INDEXES);
    sql
}

/// Version 3: covering indexes for the Overview, which reads every view's timings and every
/// error's type and message; from these it reads a few hundred MB instead of the events table.
fn migration_3() -> String {
    "CREATE INDEX events_view_timings ON events(time_ms, view_path, loading_time_ns, first_contentful_paint_ns,
        largest_contentful_paint_ns, cumulative_layout_shift, interaction_to_next_paint_ns, session_pk) WHERE kind = 'view';
     CREATE INDEX events_error_groups ON events(error_type, error_message, session_pk, time_ms, view_path) WHERE kind = 'error';"
        .to_string()
}

/// Version 4: a covering index for the Overview's pass over the selected sessions: it reads
/// 50 MB instead of the 413 MB sessions table at 1,000,000 sessions (0.5 s to 0.12 s warm).
fn migration_4() -> String {
    "CREATE INDEX sessions_overview ON sessions(start_ms, end_ms, user_id, error_count);".to_string()
}

/// Version 5: two indexes no query wanted, which every import paid for. Events by kind and
/// time answered only `stats` (the sessions' counts answer it now, with a small index for
/// kinds without a count of their own) and led the planner to read every view's row for the
/// p75 loading time, which the covering view index answers (0.22 s to 0.09 s at 25,000
/// sessions). The views-by-path index could serve no query: a page filter looks at events
/// of every kind. Measured: the index build after a 1 GB bulk load 1.39-1.47 s to 0.79-0.82 s
/// (the first index alone took 0.70 s), about 0.4 s less user time at 405 MB (both dropped,
/// before the small index was added), the writer's instructions for 1,000 sessions 1.53 G to
/// 1.30 G. The small index's condition is a chain
/// of `<>`, not `NOT IN`: SQLite builds a temporary table for an IN list on every row it
/// inserts (2.15 G with it).
fn migration_5() -> String {
    "DROP INDEX events_by_kind_time;
     DROP INDEX events_by_view_path;
     CREATE INDEX events_other_kinds ON events(kind) WHERE kind <> 'view' AND kind <> 'action' AND kind <> 'error' AND kind <> 'resource' AND kind <> 'long_task';"
        .to_string()
}

/// Version 6: the pages each session's events name, once per session and page. A filter on
/// the page (`view_path:/cart`) that must test every session (the count, facets, histogram,
/// Overview) read all the events for it: about 6 s per query at 1,000,000 sessions, warm.
/// The writer keeps it in step with the events (see `FileWriter::finish`).
fn migration_6() -> String {
    "CREATE TABLE session_pages (
         view_path TEXT NOT NULL,
         session_pk INTEGER NOT NULL,
         PRIMARY KEY (view_path, session_pk)
     ) WITHOUT ROWID;
     -- A session's pages: replaced when an import touches a stored session, and asked per
     -- session by the first pages of a filtered list.
     CREATE INDEX session_pages_by_session ON session_pages(session_pk);
     INSERT OR IGNORE INTO session_pages (view_path, session_pk)
         SELECT view_path, session_pk FROM events WHERE view_path IS NOT NULL;"
        .to_string()
}

/// Version 7: the sessions that have an action of a given name, or an error with a given
/// message, found from an index instead of every event. A filter the window of first sessions
/// does not fill (a rare or absent value: `action_name:checkout`) ends by collecting all
/// matching sessions; without an index that read the whole events table (44 s cold at
/// 1,000,000 sessions). The error type has had its index since version 1; the page has
/// `session_pages`. Partial: only the events that carry the field are in them (actions are
/// 15% of the events, errors 2%). The session key makes them cover the lookup.
fn migration_7() -> String {
    "CREATE INDEX events_by_action_name ON events(action_name, session_pk) WHERE action_name IS NOT NULL;
     CREATE INDEX events_by_error_message ON events(error_message, session_pk) WHERE error_message IS NOT NULL;"
        .to_string()
}

/// Version 8: a session's events are found by `events_by_session_key`, whose first column is
/// the session too; the index by session and time only added their order, which a sort of a
/// session's few dozen events gives. Every event the import writes paid for it.
fn migration_8() -> String {
    "DROP INDEX events_by_session_time;".to_string()
}

/// Version 9: the error type's index holds the session too, like the action name's and the
/// error message's (version 7), so that asking whether one session has an error of a type is
/// one seek in it, not a read of the session's events (the first page of
/// `error_type:TypeError` at 1,000,000 sessions tests hundreds of sessions), and collecting
/// the sessions with a type reads the index alone. Rebuilding it reads the events table once.
fn migration_9() -> String {
    "DROP INDEX events_by_error_type;
     CREATE INDEX events_by_error_type ON events(error_type, session_pk) WHERE error_type IS NOT NULL;"
        .to_string()
}

/// The key in `store_facts` naming the event columns that some event other than a view has a
/// value in (comma-separated, sorted). Absent: not known.
pub const COLUMNS_ON_OTHER_KINDS: &str = "columns_on_other_kinds";

/// Version 10: facts about the stored events that the writer keeps as it writes, which
/// queries would otherwise learn by reading every event. The first: which columns carry a
/// value on events other than views. A sort by a view timing (`loading_time`) then reads the
/// views' covering index instead of the whole events table when only views carry it. Known
/// from the start for a database without events; one that has events keeps reading them.
fn migration_10() -> String {
    format!(
        "CREATE TABLE store_facts (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
         INSERT INTO store_facts (name, value) SELECT '{COLUMNS_ON_OTHER_KINDS}', '' WHERE NOT EXISTS (SELECT 1 FROM events);"
    )
}

/// Version 11: each session's slowest and largest resource, kept by the writer as it counts
/// the resources, and indexed like the other list columns. The Resources tab's slowest (largest)
/// first then walks the sessions from the one with the slowest (largest) resource and stops
/// once no session left has one slower than those found, instead of reading every resource
/// (6.3 s for the 500 slowest of `browser:Chrome` at 1,000,000 sessions); the session list
/// sorts by them too. Filled from the events once: a read of every resource.
fn migration_11() -> String {
    "ALTER TABLE sessions ADD COLUMN slowest_resource_ns INTEGER;
     ALTER TABLE sessions ADD COLUMN largest_resource_bytes INTEGER;
     UPDATE sessions SET slowest_resource_ns = m.slowest_ns, largest_resource_bytes = m.largest_bytes
     FROM (SELECT session_pk,
                  max(CASE WHEN typeof(duration_ns) IN ('integer', 'real') THEN CAST(round(duration_ns) AS INTEGER) END) AS slowest_ns,
                  max(CASE WHEN typeof(resource_size_bytes) IN ('integer', 'real') THEN CAST(round(resource_size_bytes) AS INTEGER) END) AS largest_bytes
           FROM events WHERE kind = 'resource' GROUP BY session_pk) AS m
     WHERE sessions.session_pk = m.session_pk;
     CREATE INDEX sessions_by_slowest_resource_ns ON sessions(slowest_resource_ns, session_pk);
     CREATE INDEX sessions_by_largest_resource_bytes ON sessions(largest_resource_bytes, session_pk);"
        .to_string()
}

/// The keys in `store_facts` listing every extended field the stored data has (a JSON array of
/// the keys, sorted): on sessions (`session_fields_json`) and on events (`extra_json`).
/// Absent: not known.
pub const SESSION_FIELD_KEYS: &str = "session_field_keys";
pub const EVENT_FIELD_KEYS: &str = "event_field_keys";
/// The key in `store_facts` saying the data has more extended fields than are listed (see
/// `writer::MAX_FIELD_KEYS`): not worth learning them again.
pub const FIELD_KEYS_TOO_MANY: &str = "field_keys_too_many";

/// Version 12: which extended fields the data has, and where, kept by the writer as it writes.
/// A filter or sort on a key the sessions carry but no event does (`screen_size`) then reads
/// the sessions alone instead of every event as well (17-18 s at 1,000,000 sessions for a value
/// no session had), one on a key nothing carries reads nothing, and the lists of keys (the
/// Columns dialog, the notes on unknown keys) are the data's, not a sample's. Known from the
/// start for a database without events; one that has events reads everywhere until it learns
/// them (`Store::learn_fields_and_values`, which reads every event: 26 s at 1,000,000 sessions).
fn migration_12() -> String {
    format!(
        "INSERT INTO store_facts (name, value) SELECT '{SESSION_FIELD_KEYS}', '[]' WHERE NOT EXISTS (SELECT 1 FROM events);
         INSERT INTO store_facts (name, value) SELECT '{EVENT_FIELD_KEYS}', '[]' WHERE NOT EXISTS (SELECT 1 FROM events);"
    )
}

/// The key in `store_facts` saying every session's row in `session_event_values` lists its
/// events' values. Absent: not known, and filters ask the events.
pub const EVENT_VALUES_KEPT: &str = "session_event_values_kept";
/// The key in `store_facts` listing every value kept in `session_event_values` (in the same
/// form, up to `event_values::MAX_SEEN_PER_COLUMN` a column; it may list a value no session
/// has any more). Absent: none.
pub const SEEN_EVENT_VALUES: &str = "event_values_seen";

/// Version 13: the values each session's events have in the columns of few values (a
/// resource's status, method and type, ...; see `event_values`), one short text per session,
/// kept by the writer. A filter on such a value then reads these texts instead of every event
/// (a status no session had: 31.6 s at 1,000,000 sessions, the count of `resource_status:500`
/// 6.8 s). Known from the start for a database without events; one that has events asks them
/// until it learns the values (`Store::learn_fields_and_values`).
fn migration_13() -> String {
    format!(
        "CREATE TABLE session_event_values (session_pk INTEGER PRIMARY KEY, tokens TEXT NOT NULL);
         INSERT INTO store_facts (name, value) SELECT '{EVENT_VALUES_KEPT}', '1' WHERE NOT EXISTS (SELECT 1 FROM events);"
    )
}

/// The fact that every session's row in `session_event_hashes` holds its events' values.
pub const EVENT_HASHES_KEPT: &str = "session_event_hashes_kept";

/// Version 14: each session keeps a Bloom filter of its events' text values in the columns
/// and extended fields of many values (`event_hashes`), so that an exact value of one (a
/// request's URL, what the timeline's *Filter field value* writes) reads the events of the
/// sessions that may have it, not every event (17 s at 1,000,000 sessions). Known from the
/// start for a database without events; one that has events reads them until it learns the
/// filters (`Store::learn_fields_and_values`).
fn migration_14() -> String {
    format!(
        "CREATE TABLE session_event_hashes (session_pk INTEGER PRIMARY KEY, bits BLOB NOT NULL);
         INSERT INTO store_facts (name, value) SELECT '{EVENT_HASHES_KEPT}', '1' WHERE NOT EXISTS (SELECT 1 FROM events);"
    )
}

/// Migrations in order: entry i takes the schema from version i to i+1.
fn migrations() -> Vec<String> {
    vec![
        migration_1(),
        migration_2(),
        migration_3(),
        migration_4(),
        migration_5(),
        migration_6(),
        migration_7(),
        migration_8(),
        migration_9(),
        migration_10(),
        migration_11(),
        migration_12(),
        migration_13(),
        migration_14(),
    ]
}

pub fn migrate(conn: &Connection, path: &Path) -> StoreResult<()> {
    // Up to date: nothing to lock. Readers (the window's workers, `sessions`) then open while
    // an import holds the write lock.
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    // One immediate transaction: two processes (or the window's workers) opening a new file
    // at once take turns instead of both creating the tables.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = migrate_locked(conn, path);
    match result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(_) => {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    result
}

fn migrate_locked(conn: &Connection, path: &Path) -> StoreResult<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.display().to_string(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == 0 {
        // A database at version 0 with tables in it was written by another program: refuse to
        // add ours beside them.
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))?;
        if tables > 0 {
            return Err(StoreError::Open {
                path: path.display().to_string(),
                message: "this SQLite file holds tables of another program, not a rum-explorer database".into(),
            });
        }
    }
    for (index, migration) in migrations().iter().enumerate() {
        let target = index as i64 + 1;
        if version >= target {
            continue;
        }
        conn.execute_batch(migration)?;
        conn.execute_batch(&format!("PRAGMA user_version = {target}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_keeps_its_events_through_migration_2() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(&migration_1()).expect("v1");
        conn.execute_batch("PRAGMA user_version = 1").expect("version");
        conn.execute_batch(
            "INSERT INTO sessions (session_id) VALUES ('s1');
             INSERT INTO events (event_key, session_pk, kind, time_ms, view_path, extra_json)
             VALUES (42, 1, 'view', 1700000000000, '/cart', '{\"note\":\"kept\"}');",
        )
        .expect("v1 data");
        migrate(&conn, Path::new(":memory:")).expect("migrate");
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        let row: (i64, String, String) = conn
            .query_row("SELECT event_key, view_path, extra_json FROM events", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("row");
        assert_eq!(row, (42, "/cart".to_string(), "{\"note\":\"kept\"}".to_string()));
        // The identity is unique per session now, and the other indexes are back.
        let duplicate = conn.execute("INSERT INTO events (event_key, session_pk, kind, time_ms) VALUES (42, 1, 'view', 1)", []);
        assert!(duplicate.is_err(), "same session and key is refused");
        let indexes: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND name LIKE 'events_by_%'", [], |r| r.get(0))
            .expect("indexes");
        assert_eq!(indexes, 4, "two dropped by version 5, two added by version 7, one dropped by version 8");
        let timings: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('events_view_timings', 'events_error_groups')", [], |r| r.get(0))
            .expect("indexes");
        assert_eq!(timings, 2, "version 3");
        let overview: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'sessions_overview'", [], |r| r.get(0))
            .expect("index");
        assert_eq!(overview, 1, "version 4");
        let kinds: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'events_other_kinds'", [], |r| r.get(0))
            .expect("index");
        assert_eq!(kinds, 1, "version 5");
        let pages: Vec<(String, i64)> = conn
            .prepare("SELECT view_path, session_pk FROM session_pages")
            .expect("table")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(pages, vec![("/cart".to_string(), 1)], "version 6 fills the pages from the events");
        let plan: String = conn
            .query_row("EXPLAIN QUERY PLAN SELECT session_pk FROM events WHERE action_name = 'checkout'", [], |r| r.get(3))
            .expect("plan");
        assert!(plan.contains("COVERING INDEX events_by_action_name"), "version 7: {plan}");
        let gone: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'events_by_session_time'", [], |r| r.get(0))
            .expect("index");
        assert_eq!(gone, 0, "version 8");
        let plan: String = conn
            .query_row("EXPLAIN QUERY PLAN SELECT event_pk FROM events WHERE session_pk = 1 ORDER BY time_ms", [], |r| r.get(3))
            .expect("plan");
        assert!(plan.contains("events_by_session_key"), "version 8: a session's events come from the key index: {plan}");
        let plan: String = conn
            .query_row("EXPLAIN QUERY PLAN SELECT session_pk FROM events WHERE error_type = 'TypeError'", [], |r| r.get(3))
            .expect("plan");
        assert!(plan.contains("COVERING INDEX events_by_error_type"), "version 9: {plan}");
        let facts: i64 = conn.query_row("SELECT count(*) FROM store_facts", [], |r| r.get(0)).expect("facts");
        assert_eq!(facts, 0, "versions 10 and 12: a database with events knows neither which kinds carry which columns nor its extended fields");
    }

    #[test]
    fn version_11_fills_each_sessions_slowest_and_largest_resource_from_its_events() {
        let conn = Connection::open_in_memory().expect("open");
        for (index, migration) in migrations().iter().take(10).enumerate() {
            conn.execute_batch(migration).expect("migration");
            conn.execute_batch(&format!("PRAGMA user_version = {}", index + 1)).expect("version");
        }
        conn.execute_batch(
            "INSERT INTO sessions (session_pk, session_id) VALUES (1, 'with'), (2, 'without'), (3, 'unsized');
             INSERT INTO events (event_key, session_pk, kind, time_ms, duration_ns, resource_size_bytes) VALUES
                 (1, 1, 'resource', 1, 300, 20), (2, 1, 'resource', 2, 700, 10), (3, 1, 'view', 3, 9000, 90000),
                 (4, 2, 'action', 4, 5000, NULL), (5, 3, 'resource', 5, 40, NULL);",
        )
        .expect("v10 data");
        migrate(&conn, Path::new(":memory:")).expect("migrate");
        let maxima: Vec<(i64, Option<i64>, Option<i64>)> = conn
            .prepare("SELECT session_pk, slowest_resource_ns, largest_resource_bytes FROM sessions ORDER BY session_pk")
            .expect("select")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(maxima, vec![(1, Some(700), Some(20)), (2, None, None), (3, Some(40), None)], "resources only");
        let plan: String = conn
            .query_row("EXPLAIN QUERY PLAN SELECT session_pk FROM sessions ORDER BY slowest_resource_ns DESC LIMIT 5", [], |r| r.get(3))
            .expect("plan");
        assert!(plan.contains("sessions_by_slowest_resource_ns"), "{plan}");
    }

    #[test]
    fn a_new_database_knows_that_no_other_kind_carries_a_column() {
        let conn = Connection::open_in_memory().expect("open");
        migrate(&conn, Path::new(":memory:")).expect("migrate");
        let value: String = conn
            .query_row("SELECT value FROM store_facts WHERE name = ?1", [COLUMNS_ON_OTHER_KINDS], |r| r.get(0))
            .expect("known");
        assert_eq!(value, "");
        for name in [SESSION_FIELD_KEYS, EVENT_FIELD_KEYS] {
            let keys: String = conn.query_row("SELECT value FROM store_facts WHERE name = ?1", [name], |r| r.get(0)).expect("known");
            assert_eq!(keys, "[]", "version 12: {name}");
        }
    }
}
