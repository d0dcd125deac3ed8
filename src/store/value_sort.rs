//! The session list sorted by a column without an index: an event key (`loading_time`), an
//! event's extra field or a session's extended field. Every selected session's value is read
//! and sorted once; the whole order is kept until the data changes, and serves the pages
//! after the first, the other direction, and (the order of every session) later selections
//! sorted by the same column: at 1,000,000 sessions reading the values takes seconds, keeping
//! the selected keys of the kept order milliseconds.

use super::{Store, StoreResult};
use crate::query::FirstValueSource;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, OptionalExtension, Statement};
use std::cmp::Ordering;

/// Selected sessions (still needing a value from their events) up to which each one's first
/// value is looked up on its own, from the events index; above, one pass over every event
/// collects them all. At 100,000 sessions (3.9 million events) the pass took 0.8-0.9 s and a
/// lookup about 50 µs (1,513 sessions added 0.08 s), so they cost the same near 17,000
/// (session 22); lookups stop well below that, where their cost is still small against a
/// keystroke.
pub const FEW_SESSIONS: usize = 5_000;

/// The covering index of the views' timings (schema version 3), and the value columns in it.
const VIEW_TIMINGS_INDEX: &str = "events_view_timings";
const VIEW_TIMING_COLUMNS: &[&str] = &[
    "loading_time_ns",
    "first_contentful_paint_ns",
    "largest_contentful_paint_ns",
    "cumulative_layout_shift",
    "interaction_to_next_paint_ns",
];

/// A sort's whole order, kept for the pages after the first.
#[derive(Debug)]
pub struct SortedKeys {
    /// What was sorted: the WHERE clause and the value's source, or (the order of every
    /// session) the sort column.
    what: String,
    params: Vec<SqlValue>,
    /// `PRAGMA data_version` when read: changes when another connection commits.
    data_version: i64,
    /// The connection's own `total_changes()` when read: changes when it writes.
    changes: u64,
    /// Ascending: (value, key); descending pages read it from the end.
    keys: Vec<i64>,
}

/// The orders a connection keeps (see the module comment).
#[derive(Debug, Default)]
pub struct SortCache {
    /// The last sort of a selection (a filter or a time range).
    selection: Option<SortedKeys>,
    /// The last sort of every session.
    all: Option<SortedKeys>,
    /// Whether the last page came from `all`.
    last_was_all: bool,
    /// Times the values were read (for tests).
    value_reads: u64,
}

/// The page `offset..offset + limit` of an ascending order, read from its end if descending.
fn page_of(ascending: &[i64], descending: bool, offset: usize, limit: usize) -> Vec<i64> {
    if descending {
        ascending.iter().rev().skip(offset).take(limit).copied().collect()
    } else {
        let start = offset.min(ascending.len());
        ascending[start..start.saturating_add(limit).min(ascending.len())].to_vec()
    }
}

/// The keys of `ordered` that are in `selected` (ascending), in `ordered`'s order.
fn keep_selected(ordered: &[i64], selected: &[i64]) -> Vec<i64> {
    let (Some(&first), Some(&last)) = (selected.first(), selected.last()) else { return Vec::new() };
    let span = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
    if span <= selected.len().saturating_mul(64).saturating_add(1024) {
        // Keys are dense (rows are numbered as sessions arrive): a table of flags.
        let mut is_selected = vec![false; span];
        for key in selected {
            is_selected[(key - first) as usize] = true;
        }
        ordered.iter().copied().filter(|key| key.checked_sub(first).and_then(|i| is_selected.get(i as usize)).copied().unwrap_or(false)).collect()
    } else {
        ordered.iter().copied().filter(|key| selected.binary_search(key).is_ok()).collect()
    }
}

/// SQLite's order of values (NULL, numbers, text, blobs; text by bytes), which `ORDER BY`
/// gives the same column elsewhere.
pub fn compare_sql_values(a: &SqlValue, b: &SqlValue) -> Ordering {
    let rank = |v: &SqlValue| match v {
        SqlValue::Null => 0,
        SqlValue::Integer(_) | SqlValue::Real(_) => 1,
        SqlValue::Text(_) => 2,
        SqlValue::Blob(_) => 3,
    };
    match (a, b) {
        (SqlValue::Integer(x), SqlValue::Integer(y)) => x.cmp(y),
        (SqlValue::Integer(x), SqlValue::Real(y)) => (*x as f64).partial_cmp(y).unwrap_or(Ordering::Equal),
        (SqlValue::Real(x), SqlValue::Integer(y)) => x.partial_cmp(&(*y as f64)).unwrap_or(Ordering::Equal),
        (SqlValue::Real(x), SqlValue::Real(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (SqlValue::Text(x), SqlValue::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (SqlValue::Blob(x), SqlValue::Blob(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Binds the leading parameters a statement uses: its placeholders are numbered into
/// `params`, which may hold more (for other statements of the same query).
fn bound<'a>(statement: &Statement, params: &'a [SqlValue]) -> &'a [SqlValue] {
    &params[..statement.parameter_count().min(params.len())]
}

/// Where an event stands in its session's timeline order: the terms of
/// [`crate::query::FIRST_EVENT_ORDER`], in its order, which the lookups sort by in SQL.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct EventPosition {
    time_ms: i64,
    not_a_view: i64,
    event_pk: i64,
}

impl Store {
    /// The page `offset..offset + limit` of the sessions `where_sql` selects, sorted by
    /// `source`'s value (then by key, in the same direction). From a kept order when nothing
    /// has been written since, by this connection or another: the same selection's, or for a
    /// selection the order of every session by `sort_column`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn value_sorted_page(
        &self,
        where_sql: &str,
        params: &[SqlValue],
        sort_column: &str,
        source: &FirstValueSource,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<i64>> {
        // `where_sql` is "1" exactly when nothing is selected (see `session_where`).
        let every_session = where_sql == "1";
        let what = format!("{where_sql}\n{source:?}\n{}", self.value_lookup_sessions);
        let all_what = format!("{sort_column}\n{}", self.value_lookup_sessions);
        let data_version: i64 = self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let changes = self.conn.total_changes();
        let fresh = |kept: &SortedKeys| kept.data_version == data_version && kept.changes == changes;
        let all_kept = {
            let mut cache = self.sorted_keys_cache.borrow_mut();
            let all_kept = cache.all.as_ref().is_some_and(|all| fresh(all) && all.what == all_what);
            if every_session && all_kept {
                cache.last_was_all = true;
                return Ok(cache.all.as_ref().map(|all| page_of(&all.keys, descending, offset, limit)).unwrap_or_default());
            }
            if let Some(kept) = cache.selection.as_ref().filter(|kept| fresh(kept) && kept.what == what && kept.params == params) {
                let page = page_of(&kept.keys, descending, offset, limit);
                cache.last_was_all = false;
                return Ok(page);
            }
            all_kept
        };
        let keys = if all_kept {
            let selected = self.selected_session_keys(where_sql, params)?;
            let cache = self.sorted_keys_cache.borrow();
            cache.all.as_ref().map(|all| keep_selected(&all.keys, &selected)).unwrap_or_default()
        } else {
            self.sorted_keys_cache.borrow_mut().value_reads += 1;
            let mut sessions = self.selected_sessions_with_own_value(where_sql, params, source)?;
            self.fill_first_event_values(&mut sessions, params, source)?;
            sessions.sort_unstable_by(|(a_key, a), (b_key, b)| compare_sql_values(a, b).then(a_key.cmp(b_key)));
            sessions.into_iter().map(|(key, _)| key).collect()
        };
        let page = page_of(&keys, descending, offset, limit);
        let mut cache = self.sorted_keys_cache.borrow_mut();
        cache.last_was_all = every_session;
        if every_session {
            cache.all = Some(SortedKeys { what: all_what, params: Vec::new(), data_version, changes, keys });
        } else {
            cache.selection = Some(SortedKeys { what, params: params.to_vec(), data_version, changes, keys });
        }
        Ok(page)
    }

    /// How many sessions the order that gave the last page holds, if one is kept (for tests).
    pub fn sorted_keys_cached(&self) -> Option<usize> {
        let cache = self.sorted_keys_cache.borrow();
        let kept = if cache.last_was_all { cache.all.as_ref() } else { cache.selection.as_ref() };
        kept.map(|kept| kept.keys.len())
    }

    /// Whether a sort by `key` reads every session's first value from the views' covering
    /// index rather than the events table (see [`Self::only_views_carry`]).
    pub fn sort_reads_views_index(&self, key: &str) -> StoreResult<bool> {
        let mut params = Vec::new();
        match crate::query::first_value_source(key, &mut params, None) {
            Some(source) => self.only_views_carry(&source),
            None => Ok(false),
        }
    }

    /// How many times a sort without an index has read its values (for tests).
    pub fn sort_value_reads(&self) -> u64 {
        self.sorted_keys_cache.borrow().value_reads
    }

    /// Drops the kept orders: the next sort without an index reads its values again (for
    /// benchmarks of a first page).
    pub fn forget_kept_orders(&self) {
        let mut cache = self.sorted_keys_cache.borrow_mut();
        cache.selection = None;
        cache.all = None;
    }

    /// The keys of the sessions `where_sql` selects, ascending.
    fn selected_session_keys(&self, where_sql: &str, params: &[SqlValue]) -> StoreResult<Vec<i64>> {
        let sql = format!("SELECT s.session_pk FROM sessions s WHERE {where_sql} ORDER BY s.session_pk");
        let mut statement = self.conn.prepare_cached(&sql)?;
        let bound = bound(&statement, params);
        let keys = statement.query_map(params_from_iter(bound), |r| r.get(0))?;
        Ok(keys.collect::<Result<_, _>>()?)
    }

    /// The selected sessions' keys in key order, each with its own value of the field (NULL
    /// for event keys, or where the session has none).
    fn selected_sessions_with_own_value(
        &self,
        where_sql: &str,
        params: &[SqlValue],
        source: &FirstValueSource,
    ) -> StoreResult<Vec<(i64, SqlValue)>> {
        let own = source.session_value_sql.as_deref().unwrap_or("NULL");
        let sql = format!("SELECT s.session_pk, {own} FROM sessions s WHERE {where_sql} ORDER BY s.session_pk");
        let mut statement = self.conn.prepare_cached(&sql)?;
        let bound = bound(&statement, params);
        let rows = statement.query_map(params_from_iter(bound), |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Gives each session without a value of its own the first value its events carry.
    fn fill_first_event_values(
        &self,
        sessions: &mut [(i64, SqlValue)],
        params: &[SqlValue],
        source: &FirstValueSource,
    ) -> StoreResult<()> {
        let v = &source.event_value_sql;
        let needing = sessions.iter().filter(|(_, value)| *value == SqlValue::Null).count();
        if needing == 0 || !source.events_carry {
            return Ok(());
        }
        if needing <= self.value_lookup_sessions {
            return self.look_up_first_event_values(sessions, params, source);
        }
        // One pass in storage order. Sessions are looked up by key in a table indexed from the
        // smallest selected key (keys are dense: rows are numbered as sessions arrive).
        let (Some(first_key), Some(last_key)) = (sessions.first().map(|s| s.0), sessions.last().map(|s| s.0)) else {
            return Ok(());
        };
        let span = usize::try_from(last_key - first_key + 1).unwrap_or(usize::MAX);
        let mut slot_of_key: Vec<u32> = vec![u32::MAX; span.min(sessions.len().saturating_mul(64))];
        if slot_of_key.len() < span {
            // Keys too sparse for a table: each session's value is looked up instead.
            return self.look_up_first_event_values(sessions, params, source);
        }
        for (slot, (key, value)) in sessions.iter().enumerate() {
            if *value == SqlValue::Null {
                slot_of_key[(key - first_key) as usize] = slot as u32;
            }
        }
        let mut best: Vec<Option<EventPosition>> = vec![None; sessions.len()];
        let sql = if self.only_views_carry(source)? {
            // The views' covering index holds the value, the time, the session and the row:
            // about 65 bytes a view against some 450 an event in the table.
            format!(
                "SELECT e.session_pk, e.time_ms, 0, e.event_pk, {v} FROM events AS e INDEXED BY {VIEW_TIMINGS_INDEX}
                 WHERE e.kind = 'view' AND {v} IS NOT NULL"
            )
        } else {
            format!("SELECT e.session_pk, e.time_ms, e.kind <> 'view', e.event_pk, {v} FROM events AS e NOT INDEXED WHERE {v} IS NOT NULL")
        };
        let mut statement = self.conn.prepare_cached(&sql)?;
        let bound = bound(&statement, params);
        let mut rows = statement.query(params_from_iter(bound))?;
        while let Some(row) = rows.next()? {
            let key: i64 = row.get(0)?;
            let Some(&slot) = key.checked_sub(first_key).and_then(|i| usize::try_from(i).ok()).and_then(|i| slot_of_key.get(i))
            else {
                continue;
            };
            if slot == u32::MAX {
                continue;
            }
            let position = EventPosition { time_ms: row.get(1)?, not_a_view: row.get(2)?, event_pk: row.get(3)? };
            let slot = slot as usize;
            if best[slot].is_none_or(|b| position < b) {
                best[slot] = Some(position);
                sessions[slot].1 = row.get(4)?;
            }
        }
        Ok(())
    }

    /// Whether `source` is a column of the views' covering index that no other kind of event
    /// has a value in, as the writer recorded (`schema::COLUMNS_ON_OTHER_KINDS`).
    fn only_views_carry(&self, source: &FirstValueSource) -> StoreResult<bool> {
        let Some(column) = source.event_column.filter(|c| VIEW_TIMING_COLUMNS.contains(c)) else { return Ok(false) };
        let known: Option<String> = self
            .conn
            .query_row("SELECT value FROM store_facts WHERE name = ?1", [super::schema::COLUMNS_ON_OTHER_KINDS], |r| r.get(0))
            .optional()?;
        let index_exists: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1)",
            [VIEW_TIMINGS_INDEX],
            |r| r.get(0),
        )?;
        Ok(index_exists && known.is_some_and(|columns| !columns.split(',').any(|c| c == column)))
    }

    /// As [`Self::fill_first_event_values`], each session's events looked up on their own.
    fn look_up_first_event_values(
        &self,
        sessions: &mut [(i64, SqlValue)],
        params: &[SqlValue],
        source: &FirstValueSource,
    ) -> StoreResult<()> {
        let key_param = params.len() + 1;
        let sql = format!("SELECT {}", source.first_event_value_sql(&format!("?{key_param}")));
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut with_key = params.to_vec();
        with_key.push(SqlValue::Null);
        for (key, value) in sessions.iter_mut().filter(|(_, value)| *value == SqlValue::Null) {
            with_key[key_param - 1] = SqlValue::Integer(*key);
            let mut rows = statement.query(params_from_iter(&with_key))?;
            if let Some(row) = rows.next()? {
                *value = row.get(0)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// The columns read from the views' covering index are in it: its definition lives in a
    /// migration, which stays as it was written.
    #[test]
    fn the_view_timing_columns_are_in_the_views_index() {
        let conn = Connection::open_in_memory().expect("open");
        crate::store::schema::migrate(&conn, std::path::Path::new(":memory:")).expect("schema");
        let sql: String = conn
            .query_row("SELECT sql FROM sqlite_master WHERE name = ?1", [VIEW_TIMINGS_INDEX], |r| r.get(0))
            .expect("index");
        for column in VIEW_TIMING_COLUMNS.iter().chain(&["time_ms", "session_pk"]) {
            assert!(sql.contains(column), "{column} in {sql}");
        }
        assert!(sql.contains("WHERE kind = 'view'"), "{sql}");
    }

    /// The order sorted here is the order SQLite's `ORDER BY` gives the same values.
    #[test]
    fn values_sort_as_sqlite_orders_them() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t(k INTEGER PRIMARY KEY, v)").expect("table");
        let values = [
            SqlValue::Text("b".into()),
            SqlValue::Integer(10),
            SqlValue::Null,
            SqlValue::Real(2.5),
            SqlValue::Text("B".into()),
            SqlValue::Integer(-3),
            SqlValue::Text("".into()),
            SqlValue::Real(10.0),
            SqlValue::Text("é".into()),
            SqlValue::Blob(vec![0, 1]),
            SqlValue::Integer(2),
            SqlValue::Text("10".into()),
            SqlValue::Null,
            SqlValue::Integer(i64::MAX),
            SqlValue::Real(-0.5),
        ];
        for (k, v) in values.iter().enumerate() {
            conn.execute("INSERT INTO t VALUES (?1, ?2)", rusqlite::params![k as i64, v]).expect("insert");
        }
        for direction in ["ASC", "DESC"] {
            let sql = format!("SELECT k FROM t ORDER BY v {direction}, k {direction}");
            let by_sqlite: Vec<i64> =
                conn.prepare(&sql).expect("prepare").query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows");
            let mut ours: Vec<(i64, SqlValue)> = values.iter().cloned().enumerate().map(|(k, v)| (k as i64, v)).collect();
            ours.sort_by(|(a_key, a), (b_key, b)| compare_sql_values(a, b).then(a_key.cmp(b_key)));
            let mut ours: Vec<i64> = ours.into_iter().map(|(k, _)| k).collect();
            if direction == "DESC" {
                ours.reverse();
            }
            assert_eq!(ours, by_sqlite, "{direction}");
        }
    }
}
