//! Read queries: a page of the session list, a session's detail and timeline, stats.

use super::overview::ErrorPattern;
use super::{Store, StoreError, StoreResult, SESSION_LIST_COLUMNS};
use crate::model::{FieldValue, EVENT_COLUMNS, SESSION_ATTRIBUTES};
use crate::query::{self, EventMatch, Filter};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use rustc_hash::FxHashMap;
use super::overview::SessionSet;

/// Which sessions, in which order, which page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionQuery {
    pub filter: Option<Filter>,
    /// Sessions that start at or after this time (ms since the epoch).
    pub from_ms: Option<i64>,
    /// Sessions that start before this time.
    pub to_ms: Option<i64>,
    pub sort_column: Option<String>,
    pub descending: bool,
    pub limit: u64,
    pub offset: u64,
    /// Table columns beyond the session list columns (event keys, extended fields): their
    /// values arrive in [`SessionRow::extended_fields`].
    pub extra_columns: Vec<String>,
    /// What the store records about its data (where each extended field is, ...): the store
    /// sets it for its own queries (see `Store::with_store_facts`). `None` looks for a field
    /// everywhere it could be.
    pub store_facts: Option<Arc<query::StoreFacts>>,
}

/// One row of the session list.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SessionRow {
    #[serde(skip)]
    pub session_pk: i64,
    pub session_id: String,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub session_type: Option<String>,
    pub view_count: i64,
    pub action_count: i64,
    pub error_count: i64,
    pub resource_count: i64,
    pub long_task_count: i64,
    /// The longest duration of its resources, and the most bytes one of them transferred.
    pub slowest_resource_ns: Option<i64>,
    pub largest_resource_bytes: Option<i64>,
    pub first_view_path: Option<String>,
    pub last_view_path: Option<String>,
    pub first_view_url: Option<String>,
    pub last_view_url: Option<String>,
    pub app_id: Option<String>,
    pub env: Option<String>,
    pub service: Option<String>,
    pub app_version: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub user_email: Option<String>,
    pub browser: Option<String>,
    pub browser_version: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub device: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    /// The session's other session-scoped keys (SDK, screen size, network, custom ...).
    pub extended_fields: serde_json::Map<String, serde_json::Value>,
}

const SESSION_SELECT: &str = "s.session_pk, s.session_id, s.start_ms, s.end_ms, s.duration_ms, s.session_type,
    s.view_count, s.action_count, s.error_count, s.resource_count, s.long_task_count,
    s.first_view_path, s.last_view_path, s.first_view_url, s.last_view_url, s.app_id, s.env, s.service,
    s.app_version, s.user_id, s.user_name, s.user_email, s.browser, s.browser_version, s.os, s.os_version,
    s.device, s.country, s.city, s.session_fields_json, s.slowest_resource_ns, s.largest_resource_bytes";

/// Columns in [`SESSION_SELECT`].
const SESSION_SELECT_COUNT: usize = 32;

fn session_from_row(r: &Row) -> rusqlite::Result<SessionRow> {
    let fields_json: String = r.get(29)?;
    let extended_fields = match serde_json::from_str(&fields_json) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    Ok(SessionRow {
        session_pk: r.get(0)?,
        session_id: r.get(1)?,
        start_ms: r.get(2)?,
        end_ms: r.get(3)?,
        duration_ms: r.get(4)?,
        session_type: r.get(5)?,
        view_count: r.get(6)?,
        action_count: r.get(7)?,
        error_count: r.get(8)?,
        resource_count: r.get(9)?,
        long_task_count: r.get(10)?,
        slowest_resource_ns: r.get(30)?,
        largest_resource_bytes: r.get(31)?,
        first_view_path: r.get(11)?,
        last_view_path: r.get(12)?,
        first_view_url: r.get(13)?,
        last_view_url: r.get(14)?,
        app_id: r.get(15)?,
        env: r.get(16)?,
        service: r.get(17)?,
        app_version: r.get(18)?,
        user_id: r.get(19)?,
        user_name: r.get(20)?,
        user_email: r.get(21)?,
        browser: r.get(22)?,
        browser_version: r.get(23)?,
        os: r.get(24)?,
        os_version: r.get(25)?,
        device: r.get(26)?,
        country: r.get(27)?,
        city: r.get(28)?,
        extended_fields,
    })
}

impl SessionRow {
    /// The value of any session column or extended field, as display text.
    pub fn value_text(&self, column: &str) -> Option<String> {
        let text = |v: &Option<String>| v.clone();
        let int = |v: Option<i64>| v.map(|n| n.to_string());
        // Datadog's name of a session column (`geo.country`) shows that column.
        match crate::query::field_key(column) {
            "session_id" => Some(self.session_id.clone()),
            "start_ms" => int(self.start_ms),
            "end_ms" => int(self.end_ms),
            "duration_ms" => int(self.duration_ms),
            "session_type" => text(&self.session_type),
            "view_count" => int(Some(self.view_count)),
            "action_count" => int(Some(self.action_count)),
            "error_count" => int(Some(self.error_count)),
            "resource_count" => int(Some(self.resource_count)),
            "long_task_count" => int(Some(self.long_task_count)),
            "slowest_resource_ns" => int(self.slowest_resource_ns),
            "largest_resource_bytes" => int(self.largest_resource_bytes),
            "first_view_path" => text(&self.first_view_path),
            "last_view_path" => text(&self.last_view_path),
            "first_view_url" => text(&self.first_view_url),
            "last_view_url" => text(&self.last_view_url),
            "app_id" => text(&self.app_id),
            "env" => text(&self.env),
            "service" => text(&self.service),
            "app_version" | "version" => text(&self.app_version),
            "user_id" | "userid" => text(&self.user_id),
            "user_name" => text(&self.user_name),
            "user_email" => text(&self.user_email),
            "browser" => text(&self.browser),
            "browser_version" => text(&self.browser_version),
            "os" => text(&self.os),
            "os_version" => text(&self.os_version),
            "device" => text(&self.device),
            "country" => text(&self.country),
            "city" => text(&self.city),
            field => self.extended_fields.get(column).or_else(|| self.extended_fields.get(field)).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            }),
        }
    }
}

/// The WHERE clause of a session query and its bound parameters.
pub fn session_where(q: &SessionQuery) -> (String, Vec<SqlValue>) {
    session_where_with(q, EventMatch::AsSet)
}

/// As [`session_where`], with event terms asked as `mode` says.
pub fn session_where_with(q: &SessionQuery, mode: EventMatch) -> (String, Vec<SqlValue>) {
    session_where_ranged(q, mode, "s.start_ms")
}

/// As [`session_where_with`], the time range tested on `start` (`+s.start_ms` keeps SQLite
/// from reading the range through the start's index).
fn session_where_ranged(q: &SessionQuery, mode: EventMatch, start: &str) -> (String, Vec<SqlValue>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    if let Some(filter) = &q.filter {
        clauses.push(filter.to_sql_with(&mut params, mode, q.store_facts.as_deref()));
    }
    if let Some(from) = q.from_ms {
        params.push(SqlValue::Integer(from));
        clauses.push(format!("{start} >= ?{}", params.len()));
    }
    if let Some(to) = q.to_ms {
        params.push(SqlValue::Integer(to));
        clauses.push(format!("{start} < ?{}", params.len()));
    }
    // Every committed session has a start (a session row is written with its first event and
    // its aggregates in the same transaction), so no clause is needed for it.
    if clauses.is_empty() {
        clauses.push("1".into());
    }
    (clauses.join(" AND "), params)
}

/// Rows of an indexed term's value under which its sessions are collected at once rather
/// than looked for in sort order: reading this many index entries and sorting at most this
/// many sessions takes milliseconds.
pub const FEW_MATCHING_ROWS: i64 = 2_000;

/// How often a long read tells its progress counter how many rows it has read: a store per
/// this many rows costs nothing against reading them.
const PROGRESS_EVERY_ROWS: u64 = 4096;

/// Whether a page is looked for among the first sessions in sort order: the query selects
/// (a filter or a time range) and the sort column has an index of its own.
fn takes_window(q: &SessionQuery, sort_column: &str) -> bool {
    let selective = q.filter.is_some() || q.from_ms.is_some() || q.to_ms.is_some();
    selective && SESSION_LIST_COLUMNS.contains(&sort_column) && sort_column != "session_id"
}

/// The page of a filtered list found among the first `window` sessions in sort order
/// (see `Store::page_keys`). `sort_column` has an index of its own.
fn window_page_sql(q: &SessionQuery, sort_column: &str, window: i64) -> (String, Vec<SqlValue>) {
    let direction = if q.descending { "DESC" } else { "ASC" };
    let (where_sql, mut params) = session_where_with(q, EventMatch::PerSession);
    params.push(SqlValue::Integer(window));
    params.push(SqlValue::Integer(q.limit.min(i64::MAX as u64) as i64));
    params.push(SqlValue::Integer(q.offset.min(i64::MAX as u64) as i64));
    let n = params.len();
    let sql = format!(
        "SELECT s.session_pk FROM (SELECT session_pk AS pk FROM sessions INDEXED BY sessions_by_{sort_column}
             ORDER BY {sort_column} {direction}, session_pk {direction} LIMIT ?{}) w
         CROSS JOIN sessions s ON s.session_pk = w.pk
         WHERE {where_sql} ORDER BY s.{sort_column} {direction}, s.session_pk {direction} LIMIT ?{} OFFSET ?{n}",
        n - 2,
        n - 1
    );
    (sql, params)
}

/// The page of `q`, sorted by the indexed list column `sort_column`, as SQL and parameters.
/// SQLite walks the column's index and tests each session in turn, which ends soon when
/// matches come early. After the first sessions in sort order held too few (`windows_ran`),
/// matches are sparse there; then, unless a term on the sort column narrows them in its
/// index, the table is read in storage order and the matches sorted: a value no session has
/// on an extended field, in free text or a wildcard took 5.3-6.6 s at 1,000,000 sessions
/// walking the index (each session a random read), 0.4 s read in order. A time range is read
/// through the start's index unless it holds a quarter of the sessions (`wide_range`), where
/// that too is a random read a session (1.9-2.1 s for a range of half the sessions).
fn sorted_page_sql(q: &SessionQuery, sort_column: &str, windows_ran: bool, wide_range: bool) -> (String, Vec<SqlValue>) {
    let direction = if q.descending { "DESC" } else { "ASC" };
    let has_range = q.from_ms.is_some() || q.to_ms.is_some();
    let narrows_sort_column = (sort_column == "start_ms" && has_range && !wide_range)
        || q.filter.as_ref().is_some_and(|f| f.expr.term_keys().into_iter().any(|key| query::session_column_alias(query::field_key(key)) == sort_column));
    let read_in_order = windows_ran && !narrows_sort_column;
    // A unary plus keeps SQLite from reading by the index.
    let (plus, start) = match (read_in_order, wide_range) {
        (true, true) => ("+", "+s.start_ms"),
        (true, false) => ("+", "s.start_ms"),
        (false, _) => ("", "s.start_ms"),
    };
    let (where_sql, mut params) = session_where_ranged(q, EventMatch::AsSet, start);
    params.push(SqlValue::Integer(q.limit.min(i64::MAX as u64) as i64));
    params.push(SqlValue::Integer(q.offset.min(i64::MAX as u64) as i64));
    let n = params.len();
    let sql = format!(
        "SELECT s.session_pk FROM sessions s WHERE {where_sql}
         ORDER BY {plus}s.{sort_column} {direction}, {plus}s.session_pk {direction} LIMIT ?{} OFFSET ?{n}",
        n - 1
    );
    (sql, params)
}

impl Store {
    /// A page of the session list: its keys first (from the sort column's index alone when
    /// there is no filter, so deep pages stay fast at millions of sessions), then its rows.
    pub fn sessions(&self, q: &SessionQuery) -> StoreResult<Vec<SessionRow>> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let keys = self.page_keys(q)?;
        self.rows_for_keys(&keys, &q.extra_columns, q.store_facts.as_deref())
    }

    fn page_keys(&self, q: &SessionQuery) -> StoreResult<Vec<i64>> {
        let sort_column = query::session_column_alias(q.sort_column.as_deref().unwrap_or("start_ms"));
        let limit = q.limit.min(i64::MAX as u64) as i64;
        let offset = q.offset.min(i64::MAX as u64) as i64;
        // The first pages of a filtered list: SQLite would collect every match and sort them.
        // Looking among the first sessions in sort order (an index walk) is far quicker when
        // the filter matches often, and exact whenever that finds a full page. CROSS JOIN keeps
        // SQLite from starting at the filter's index instead. Event terms are asked per session
        // here: only the window's sessions are tested. Collecting every matching session first
        // (the set form) reads all the events: `view_path:/cart` on the 1M-session benchmark
        // database took 8 to 22 s that way, 0.02 to 0.13 s asked per session.
        // Windows grow tenfold, from ten pages' worth up to `filter_window`.
        let mut window = ((offset + limit) * 10).max(1000).min(self.filter_window);
        if !self.takes_search_window(q)? {
            window = 0;
        }
        let windows_ran = window > 0;
        while window > 0 {
            let (sql, params) = window_page_sql(q, sort_column, window);
            let keys: Vec<i64> =
                self.conn.prepare_cached(&sql)?.query_map(params_from_iter(params), |r| r.get(0))?.collect::<Result<_, _>>()?;
            if keys.len() as i64 == limit {
                return Ok(keys);
            }
            if window >= self.filter_window {
                break;
            }
            window = (window * 10).min(self.filter_window);
        }
        if query::sorts_without_index(sort_column) {
            let (where_sql, mut params) = session_where(q);
            if let Some(source) = query::first_value_source(sort_column, &mut params, q.store_facts.as_deref()) {
                // A column without an index: see `value_sort`.
                return self.value_sorted_page(&where_sql, &params, sort_column, &source, q.descending, offset as usize, limit as usize);
            }
        }
        let wide_range = windows_ran && self.filters_a_wide_range(q)?;
        let (sql, params) = sorted_page_sql(q, sort_column, windows_ran, wide_range);
        let keys = self.conn.prepare_cached(&sql)?.query_map(params_from_iter(params), |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(keys)
    }

    /// Whether `q` filters within a time range that holds at least a quarter of the sessions
    /// (counted in the start's index; sessions are numbered as they arrive, so the largest key
    /// is about their number). Without a filter the range's first sessions are its matches,
    /// which its index finds.
    fn filters_a_wide_range(&self, q: &SessionQuery) -> StoreResult<bool> {
        if q.filter.is_none() || (q.from_ms.is_none() && q.to_ms.is_none()) {
            return Ok(false);
        }
        let (in_range, sessions): (i64, Option<i64>) = self.conn.query_row(
            "SELECT (SELECT count(*) FROM sessions INDEXED BY sessions_by_start_ms WHERE start_ms >= ?1 AND start_ms < ?2),
                    (SELECT max(session_pk) FROM sessions)",
            params![q.from_ms.unwrap_or(i64::MIN), q.to_ms.unwrap_or(i64::MAX)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(in_range > 0 && in_range >= sessions.unwrap_or(0) / 4)
    }

    /// SQLite's plan for the page of `q` once the first sessions in sort order have not
    /// filled it (see [`sorted_page_sql`]), for tests.
    pub fn page_plan_after_windows(&self, q: &SessionQuery) -> StoreResult<String> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let sort_column = query::session_column_alias(q.sort_column.as_deref().unwrap_or("start_ms"));
        let (sql, params) = sorted_page_sql(q, sort_column, true, self.filters_a_wide_range(q)?);
        let mut stmt = self.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let steps: Vec<String> = stmt.query_map(params_from_iter(params), |r| r.get(3))?.collect::<Result<_, _>>()?;
        Ok(steps.join("\n"))
    }

    /// Whether the first page of `q` is looked for among the first sessions in sort order.
    /// Not when a term every matching session must satisfy holds a value so rare (in fewer
    /// than `few_matching_rows` rows, counted from its index) that its sessions are best
    /// collected at once: milliseconds, where the windows may read the events of up to 31,000
    /// sessions before giving up (3.2 s for a value no session has at a million sessions).
    pub fn takes_search_window(&self, q: &SessionQuery) -> StoreResult<bool> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let sort_column = query::session_column_alias(q.sort_column.as_deref().unwrap_or("start_ms"));
        if !takes_window(q, sort_column) {
            return Ok(false);
        }
        let Some(filter) = &q.filter else { return Ok(true) };
        for (sql, mut params) in filter.indexed_required_term_counts() {
            params.push(SqlValue::Integer(self.few_matching_rows));
            let rows: i64 = self.conn.prepare_cached(&sql)?.query_row(params_from_iter(params), |r| r.get(0))?;
            if rows < self.few_matching_rows {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// SQLite's plan for the first search window of a filtered page, one step per line: for
    /// tests and for finding out why a query is slow. None when the page takes no window
    /// (no filter or time range, or a sort without an index).
    pub fn window_page_plan(&self, q: &SessionQuery) -> StoreResult<Option<String>> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let sort_column = query::session_column_alias(q.sort_column.as_deref().unwrap_or("start_ms"));
        if !takes_window(q, sort_column) {
            return Ok(None);
        }
        let (sql, params) = window_page_sql(q, sort_column, 1000);
        let mut stmt = self.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let steps: Vec<String> = stmt.query_map(params_from_iter(params), |r| r.get(3))?.collect::<Result<_, _>>()?;
        Ok(Some(steps.join("\n")))
    }

    /// The rows of sessions by key, in the order given, with the extra columns' values.
    fn rows_for_keys(&self, keys: &[i64], extra_columns: &[String], facts: Option<&query::StoreFacts>) -> StoreResult<Vec<SessionRow>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut params: Vec<SqlValue> = keys.iter().map(|k| SqlValue::Integer(*k)).collect();
        let placeholders = (1..=keys.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        let mut extra_select = String::new();
        let mut extra_keys = Vec::new();
        for key in extra_columns {
            if let Some(source) = query::first_value_source(query::session_column_alias(key), &mut params, facts) {
                extra_select.push_str(&format!(", {}", source.column_sql()));
                extra_keys.push(key.clone());
            }
        }
        let sql = format!("SELECT {SESSION_SELECT}{extra_select} FROM sessions s WHERE s.session_pk IN ({placeholders})");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params), |r| {
            let mut row = session_from_row(r)?;
            for (i, key) in extra_keys.iter().enumerate() {
                let value = match r.get::<_, SqlValue>(SESSION_SELECT_COUNT + i)? {
                    SqlValue::Text(t) => serde_json::Value::String(t),
                    SqlValue::Integer(n) => serde_json::Value::from(n),
                    SqlValue::Real(f) => serde_json::Value::from(f),
                    _ => continue,
                };
                row.extended_fields.entry(key.clone()).or_insert(value);
            }
            Ok(row)
        })?;
        let mut by_key: HashMap<i64, SessionRow> = HashMap::with_capacity(keys.len());
        for row in rows {
            let row = row?;
            by_key.insert(row.session_pk, row);
        }
        Ok(keys.iter().filter_map(|k| by_key.remove(k)).collect())
    }

    pub fn count_sessions(&self, q: &SessionQuery) -> StoreResult<u64> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let (where_sql, params) = session_where(q);
        let sql = format!("SELECT count(*) FROM sessions s WHERE {where_sql}");
        let count: i64 = self.conn.prepare_cached(&sql)?.query_row(params_from_iter(params), |r| r.get(0))?;
        Ok(count as u64)
    }

    pub fn session(&self, session_id: &str) -> StoreResult<Option<SessionRow>> {
        let sql = format!("SELECT {SESSION_SELECT} FROM sessions s WHERE s.session_id = ?1");
        Ok(self.conn.prepare_cached(&sql)?.query_row(params![session_id], session_from_row).optional()?)
    }

    /// A session with its events in time order.
    pub fn session_detail(&self, session_id: &str) -> StoreResult<Option<SessionDetail>> {
        let Some(session) = self.session(session_id)? else { return Ok(None) };
        let columns = EVENT_COLUMNS.iter().map(|c| c.column).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT event_pk, kind, time_ms, extra_json, {columns} FROM events
             WHERE session_pk = ?1 ORDER BY time_ms, kind <> 'view', event_pk"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let events = stmt
            .query_map(params![session.session_pk], |r| {
                let mut fields = Vec::new();
                for (i, column) in EVENT_COLUMNS.iter().enumerate() {
                    let value = match r.get::<_, SqlValue>(i + 4)? {
                        SqlValue::Text(s) => Some(FieldValue::Str(s)),
                        SqlValue::Integer(n) => Some(FieldValue::Int(n)),
                        SqlValue::Real(f) => Some(FieldValue::Float(f)),
                        _ => None,
                    };
                    if let Some(v) = value {
                        fields.push((column.key.to_string(), v));
                    }
                }
                let extra: String = r.get(3)?;
                if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&extra) {
                    for (k, v) in map {
                        if let Some(v) = FieldValue::from_json(&v) {
                            fields.push((k, v));
                        }
                    }
                }
                Ok(TimelineEvent { event_pk: r.get(0)?, kind: r.get(1)?, time_ms: r.get(2)?, fields })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(SessionDetail { session, events }))
    }

    /// Where one error (type and message) happened across the database, for the error
    /// drill-down: how many sessions and events have it, when first and last, and how many per
    /// time bucket over `span_ms` (the data's span; widened to the error's own), in `buckets`
    /// buckets. A missing type or message matches a missing one. Reads the errors' covering
    /// index only.
    pub fn error_occurrences(
        &self,
        error_type: Option<&str>,
        error_message: Option<&str>,
        span_ms: Option<(i64, i64)>,
        buckets: usize,
    ) -> StoreResult<ErrorSpread> {
        let sql = "SELECT session_pk, time_ms FROM events
                   WHERE kind = 'error' AND error_type IS ?1 AND error_message IS ?2";
        let mut statement = self.conn.prepare_cached(sql)?;
        let mut rows = statement.query(params![error_type, error_message])?;
        let (mut session_pks, mut times_ms) = (Vec::new(), Vec::new());
        while let Some(row) = rows.next()? {
            session_pks.push(row.get::<_, i64>(0)?);
            times_ms.push(row.get::<_, i64>(1)?);
        }
        session_pks.sort_unstable();
        session_pks.dedup();
        let mut spread = ErrorSpread::of(session_pks.len() as u64, &times_ms, span_ms, buckets);
        spread.pattern = self.error_pattern_tally(error_type, error_message)?;
        Ok(spread)
    }

    /// The errors of this type whose message has this message's pattern (numbers and ids as
    /// `*`, see [`crate::error_pattern`]): how many, in how many sessions, across how many
    /// messages. None when nothing in the message varies. Reads the type's entries of the
    /// errors' covering index, the pattern worked out once per message.
    pub fn error_pattern_tally(&self, error_type: Option<&str>, error_message: Option<&str>) -> StoreResult<Option<ErrorPattern>> {
        let Some(message) = error_message else { return Ok(None) };
        let pattern = crate::error_pattern::message_pattern(message);
        if !pattern.contains(crate::error_pattern::VARYING) {
            return Ok(None);
        }
        let sql = "SELECT CAST(error_message AS BLOB), session_pk FROM events INDEXED BY events_error_groups
                   WHERE kind = 'error' AND error_type IS ?1 AND error_message IS NOT NULL";
        let mut statement = self.conn.prepare_cached(sql)?;
        let mut rows = statement.query(params![error_type])?;
        let (mut count, mut messages, mut session_pks) = (0u64, 0u64, Vec::new());
        // The index holds a type's entries message by message: the pattern once per message.
        let mut current: Option<(Vec<u8>, bool)> = None;
        while let Some(row) = rows.next()? {
            let text: &[u8] = match row.get_ref(0)? {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b,
                _ => continue,
            };
            if current.as_ref().is_none_or(|(m, _)| m.as_slice() != text) {
                let matches = crate::error_pattern::message_pattern(&String::from_utf8_lossy(text)) == pattern;
                messages += u64::from(matches);
                current = Some((text.to_vec(), matches));
            }
            if current.as_ref().is_some_and(|(_, matches)| *matches) {
                count += 1;
                session_pks.push(row.get::<_, i64>(1)?);
            }
        }
        session_pks.sort_unstable();
        session_pks.dedup();
        Ok(Some(ErrorPattern {
            error_type: error_type.map(str::to_string),
            pattern: Some(pattern.into_owned()),
            count,
            sessions: session_pks.len() as u64,
            messages,
        }))
    }

    /// The errors of the sessions `q` selects whose type or message holds `find` (ASCII
    /// case-insensitive; empty: every error), newest first, at most `limit`, and how many there
    /// are in all: the Errors tab. The query's top-level terms on the error type and message
    /// apply to the errors too (`error_type:TypeError` lists TypeErrors, not every error of
    /// sessions that had one). Reads the errors' covering index, with the selected sessions as
    /// a set when `q` selects.
    pub fn error_events(&self, q: &SessionQuery, find: &str, limit: usize) -> StoreResult<(Vec<ErrorEventRow>, u64)> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let find = find.trim().to_lowercase();
        let ask = EventListAsk::errors(&find);
        let EventListScope { from, mut params, total_from_sessions, session_set } = self.event_list_scope(q, &ask)?;
        let total = self.event_list_total(total_from_sessions, &from, &params, session_set)?;
        params.push(SqlValue::Integer(limit as i64));
        let sql = format!(
            "SELECT e.event_pk, e.time_ms, e.error_type, e.error_message, e.view_path, e.session_pk {from}
             ORDER BY e.time_ms DESC, e.event_pk DESC LIMIT ?{}",
            params.len()
        );
        let mut statement = self.conn.prepare(&sql)?;
        let found = statement
            .query_map(params_from_iter(params.iter()), |r| {
                Ok((
                    ErrorEventRow {
                        event_pk: r.get(0)?,
                        time_ms: r.get(1)?,
                        error_type: r.get(2)?,
                        error_message: r.get(3)?,
                        view_path: r.get(4)?,
                        session_id: String::new(),
                        browser: None,
                    },
                    r.get::<_, i64>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut rows = Vec::with_capacity(found.len());
        for (mut row, session_pk) in found {
            (row.session_id, row.browser) = self.session_id_and_browser(session_pk)?;
            rows.push(row);
        }
        Ok((rows, total))
    }

    /// The views of the sessions `q` selects whose page path holds `find` (ASCII
    /// case-insensitive; empty: every view), in `sort`'s order, at most `limit`, and how many
    /// there are in all: the Views tab. The query's top-level terms on view fields
    /// (`view_path:/cart`, `loading_time:>3000000000`) apply to the views too. Reads the views'
    /// covering index (time, page and vitals), the URL and time spent of the listed views only.
    pub fn view_events(&self, q: &SessionQuery, find: &str, sort: ViewSort, descending: bool, limit: usize) -> StoreResult<(Vec<ViewEventRow>, u64)> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let find = find.trim().to_lowercase();
        let ask = EventListAsk::views(&find);
        let EventListScope { from, mut params, total_from_sessions, session_set } = self.event_list_scope(q, &ask)?;
        let total = self.event_list_total(total_from_sessions, &from, &params, session_set)?;
        params.push(SqlValue::Integer(limit as i64));
        let column = sort.column();
        let direction = if descending { "DESC" } else { "ASC" };
        // Views without the value go last either way; the newest first among equals. Every
        // event has a time: the time order alone walks the index (no sort of every view).
        let order = match sort {
            ViewSort::Time => format!("e.time_ms {direction}, e.event_pk {direction}"),
            _ => format!("e.{column} IS NULL, e.{column} {direction}, e.time_ms DESC, e.event_pk DESC"),
        };
        let sql = format!(
            "SELECT e.event_pk, e.time_ms, e.view_path, e.loading_time_ns, e.first_contentful_paint_ns, e.largest_contentful_paint_ns,
                    e.cumulative_layout_shift, e.interaction_to_next_paint_ns, e.session_pk {from}
             ORDER BY {order} LIMIT ?{}",
            params.len()
        );
        let mut statement = self.conn.prepare(&sql)?;
        let found = statement
            .query_map(params_from_iter(params.iter()), |r| {
                Ok((
                    ViewEventRow {
                        event_pk: r.get(0)?,
                        time_ms: r.get(1)?,
                        view_path: r.get(2)?,
                        loading_time_ns: r.get(3)?,
                        first_contentful_paint_ns: r.get(4)?,
                        largest_contentful_paint_ns: r.get(5)?,
                        cumulative_layout_shift: r.get(6)?,
                        interaction_to_next_paint_ns: r.get(7)?,
                        view_url: None,
                        time_spent_ns: None,
                        session_id: String::new(),
                        browser: None,
                    },
                    r.get::<_, i64>(8)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut view = self.conn.prepare_cached("SELECT view_url, time_spent_ns FROM events WHERE event_pk = ?1")?;
        let mut rows = Vec::with_capacity(found.len());
        for (mut row, session_pk) in found {
            (row.session_id, row.browser) = self.session_id_and_browser(session_pk)?;
            (row.view_url, row.time_spent_ns) = view.query_row([row.event_pk], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.push(row);
        }
        Ok((rows, total))
    }

    /// The resources of the sessions `q` selects whose URL holds `find` (ASCII
    /// case-insensitive; empty: every resource), in `sort`'s order (the largest first when
    /// `descending`; resources without the value last either way), at most `limit`, and how
    /// many there are in all: the Resources tab. The query's top-level terms on resource fields
    /// (`resource_status:>=400`, `resource_type:xhr`) apply to the resources too.
    pub fn resource_events(&self, q: &SessionQuery, find: &str, sort: ResourceSort, descending: bool, limit: usize) -> StoreResult<(Vec<ResourceEventRow>, u64)> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let (rows, total) = self.resource_rows(q, find, sort, descending, limit)?;
        let total = match total {
            Some(total) => total,
            None => self.resource_total(q, find)?,
        };
        Ok((rows, total))
    }

    /// The rows of [`Store::resource_events`], with the total when every session's own count
    /// gives it at once (nothing narrows the sessions or resources); else the total takes
    /// [`Store::resource_total`].
    ///
    /// No index holds the resources (one over 25 M resources at 1,000,000 sessions would cost
    /// every import its build). The newest (oldest) first walk the selected sessions from the
    /// last to end (first to start) and stop once no session left can hold a resource newer
    /// (older) than the ones found: a session's events lie between its start and end. The
    /// slowest (largest) first walk them from the one with the slowest (largest) resource, which
    /// each session keeps. The fastest and smallest first, and walks that find too few, read
    /// the table.
    pub fn resource_rows(&self, q: &SessionQuery, find: &str, sort: ResourceSort, descending: bool, limit: usize) -> StoreResult<(Vec<ResourceEventRow>, Option<u64>)> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let find = find.trim().to_lowercase();
        let ask = EventListAsk::resources(&find);
        if let Some(walk) = ResourceWalk::of(sort, descending) {
            let conditions = event_conditions(q, &ask);
            // Only every session's count is cheap (an index holds it); a selection's takes a
            // pass over its sessions (0.15 s for `browser:Chrome` at 1,000,000 sessions),
            // which the window asks for apart.
            let every_resource = !conditions.narrowed && conditions.where_sql == "1";
            if let Some(found) = self.walk_resources_by_session(conditions, walk, limit)? {
                let rows = self.with_sessions(found)?;
                if !every_resource {
                    return Ok((rows, None));
                }
                let total: i64 = self.conn.query_row("SELECT coalesce(sum(resource_count), 0) FROM sessions", [], |r| r.get(0))?;
                return Ok((rows, Some(total as u64)));
            }
        }
        let EventListScope { from, mut params, total_from_sessions, session_set } = self.event_list_scope(q, &ask)?;
        params.push(SqlValue::Integer(limit as i64));
        let column = sort.column();
        let direction = if descending { "DESC" } else { "ASC" };
        let order = match sort {
            ResourceSort::Time => format!("e.time_ms {direction}, e.event_pk {direction}"),
            _ => format!("e.{column} IS NULL, e.{column} {direction}, e.time_ms DESC, e.event_pk DESC"),
        };
        // The first `limit` of each piece of the table (two threads), then of those.
        let mut pieces = self.read_events_in_pieces(&from, session_set, &AtomicBool::new(false), |conn, from, _| {
            let sql = format!("SELECT {RESOURCE_COLUMNS}, e.session_pk {from} ORDER BY {order} LIMIT ?{}", params.len());
            let mut statement = conn.prepare(&sql)?;
            let found = statement
                .query_map(params_from_iter(params.iter()), |r| Ok((resource_from_row(r)?, r.get::<_, i64>(RESOURCE_COLUMN_COUNT)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(found)
        })?;
        let found = if pieces.len() == 1 {
            pieces.pop().unwrap_or_default()
        } else if pieces.iter().all(Vec::is_empty) {
            Vec::new()
        } else {
            // SQLite orders the pieces' firsts again, so that values of any type (a text kept
            // where a number was expected) come in the order one read would give them.
            let mut by_key: FxHashMap<i64, (ResourceEventRow, i64)> = pieces.into_iter().flatten().map(|found| (found.0.event_pk, found)).collect();
            let keys: Vec<String> = by_key.keys().map(i64::to_string).collect();
            let sql = format!("SELECT e.event_pk FROM events e WHERE e.event_pk IN ({}) ORDER BY {order} LIMIT ?1", keys.join(","));
            let ordered: Vec<i64> = self.conn.prepare(&sql)?.query_map([limit as i64], |r| r.get(0))?.collect::<Result<_, _>>()?;
            ordered.into_iter().filter_map(|key| by_key.remove(&key)).collect()
        };
        Ok((self.with_sessions(found)?, total_from_sessions))
    }

    /// How many resources [`Store::resource_events`] selects in all: a count of them when the
    /// query's terms or the find narrow them (a read of the events table with many sessions).
    pub fn resource_total(&self, q: &SessionQuery, find: &str) -> StoreResult<u64> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let find = find.trim().to_lowercase();
        let EventListScope { from, params, total_from_sessions, session_set } = self.event_list_scope(q, &EventListAsk::resources(&find))?;
        self.event_list_total(total_from_sessions, &from, &params, session_set)
    }

    /// Listed rows with their session's id and browser.
    fn with_sessions(&self, found: Vec<(ResourceEventRow, i64)>) -> StoreResult<Vec<ResourceEventRow>> {
        let mut rows = Vec::with_capacity(found.len());
        for (mut row, session_pk) in found {
            (row.session_id, row.browser) = self.session_id_and_browser(session_pk)?;
            rows.push(row);
        }
        Ok(rows)
    }

    /// The first `limit` resources in `walk`'s order by the walk of sessions
    /// [`Store::resource_rows`] describes, with their sessions' keys; `None` when
    /// `resource_walk_sessions` sessions were read without finding `limit` resources (rare
    /// ones: the table is then read once instead).
    fn walk_resources_by_session(&self, conditions: EventConditions, walk: ResourceWalk, limit: usize) -> StoreResult<Option<Vec<(ResourceEventRow, i64)>>> {
        let EventConditions { sessions: selected, conditions, mut params, .. } = conditions;
        if limit == 0 {
            return Ok(Some(Vec::new()));
        }
        // The sessions in the walk's order, a page at a time, as the session list finds them: a
        // plain ORDER BY let SQLite take a filter's index and sort every session it selects
        // first (0.3 s for `browser:Chrome` at 1,000,000 sessions).
        let (bound_column, descending) = walk.session_order();
        let mut page_query = SessionQuery { sort_column: Some(bound_column.to_string()), descending, limit: 0, offset: 0, ..selected };
        params.push(SqlValue::Integer(0));
        let session_param = params.len();
        let events_sql = format!(
            "SELECT {RESOURCE_COLUMNS} FROM events e INDEXED BY events_by_session_key WHERE e.session_pk = ?{session_param} AND {}",
            conditions.join(" AND ")
        );
        /// A resource kept, ordered by its walk key (smaller is better), so that the worst is
        /// the heap's top.
        struct Kept {
            order: WalkKey,
            row: ResourceEventRow,
            session_pk: i64,
        }
        impl PartialEq for Kept {
            fn eq(&self, other: &Self) -> bool {
                self.order == other.order
            }
        }
        impl Eq for Kept {}
        impl PartialOrd for Kept {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Kept {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.order.cmp(&other.order)
            }
        }
        let mut best: std::collections::BinaryHeap<Kept> = std::collections::BinaryHeap::new();
        let mut events = self.conn.prepare(&events_sql)?;
        let mut walked = 0usize;
        let mut page_rows = 64u64;
        'walk: loop {
            page_query.limit = page_rows;
            let page = self.sessions(&page_query)?;
            for session in &page {
                if best.len() >= limit {
                    // Past the bound, no session left has a better resource.
                    if let (Some(bound), Some(worst)) = (walk.session_bound(session), best.peek()) {
                        if bound > worst.order.0 {
                            break 'walk;
                        }
                        // No session left has a duration (size), and the worst kept has none
                        // either: the rest compete by time alone, in every session left, which
                        // one read of the table orders at once.
                        if bound == i64::MAX {
                            return Ok(None);
                        }
                    }
                } else if walked >= self.resource_walk_sessions {
                    return Ok(None);
                }
                walked += 1;
                params[session_param - 1] = SqlValue::Integer(session.session_pk);
                let mut found = events.query(params_from_iter(params.iter()))?;
                while let Some(r) = found.next()? {
                    let row = resource_from_row(r)?;
                    let order = walk.key(&row);
                    if best.len() >= limit && best.peek().is_some_and(|worst| order >= worst.order) {
                        continue;
                    }
                    best.push(Kept { order, row, session_pk: session.session_pk });
                    if best.len() > limit {
                        best.pop();
                    }
                }
            }
            if (page.len() as u64) < page_rows {
                break;
            }
            page_query.offset += page_rows;
            page_rows = (page_rows * 4).min(4096);
        }
        Ok(Some(best.into_sorted_vec().into_iter().map(|kept| (kept.row, kept.session_pk)).collect()))
    }

    /// The resources `resource_events` would list (the same query and find), grouped by
    /// method and URL without its query string, or with `as_patterns` by method and URL
    /// pattern (numbers and ids as `*`, see [`crate::error_pattern`]): how many, how many
    /// failed, in how many sessions, p75 and longest duration, bytes in all. The most requested
    /// first: the Resources tab by URL.
    pub fn resource_groups(&self, q: &SessionQuery, find: &str, as_patterns: bool) -> StoreResult<Vec<ResourceGroup>> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        self.resource_groups_counting(q, find, as_patterns, &AtomicU64::new(0), &AtomicBool::new(false))
    }

    /// [`Store::resource_groups`], counting in `requests_read` the requests read so far: at
    /// 1,000,000 sessions it reads 25 M of them, and the window shows how far it is. Stops
    /// with [`StoreError::Cancelled`] once `cancelled` is set.
    ///
    /// When it reads the events table rather than a few sessions' events, two threads read
    /// it in pieces by event key (the second on a helper connection), which they take in
    /// turn; the pieces' tallies merge in key order, so the result is the one pass's.
    pub fn resource_groups_counting(
        &self,
        q: &SessionQuery,
        find: &str,
        as_patterns: bool,
        requests_read: &AtomicU64,
        cancelled: &AtomicBool,
    ) -> StoreResult<Vec<ResourceGroup>> {
        let find = find.trim().to_lowercase();
        let ask = EventListAsk::resources(&find);
        let EventListScope { from, params, session_set, .. } = self.event_list_scope(q, &ask)?;
        let select = "SELECT e.resource_method, e.resource_url, e.resource_type, e.resource_status, e.duration_ns, e.resource_size_bytes, e.session_pk";
        let pieces = self.read_events_in_pieces(&from, session_set, cancelled, |conn, from, stop| {
            tally_requests(conn, &format!("{select} {from}"), &params, as_patterns, requests_read, stop)
        })?;
        let mut pieces = pieces.into_iter();
        let mut merged = pieces.next().unwrap_or_default();
        for tallies in pieces {
            merged.merge(tallies);
        }
        let mut groups: Vec<ResourceGroup> = std::mem::take(&mut merged.tallies).into_iter().map(UrlTally::into_group).collect();
        sort_resource_groups(&mut groups, ResourceGroupSort::Count, true);
        Ok(groups)
    }

    /// The pages of the views `view_events` would list (the same query and find), each with
    /// its views and the p75 (nearest rank) of each vital over them, most viewed first: the
    /// Views tab grouped by page. Durations in nanoseconds, as stored. With `as_routes`, pages
    /// that differ only in numbers and ids are one (`/products/*`, see
    /// [`crate::error_pattern::message_pattern`]), as a route of the app is.
    pub fn page_summaries(&self, q: &SessionQuery, find: &str, as_routes: bool) -> StoreResult<Vec<PageSummary>> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let find = find.trim().to_lowercase();
        let ask = EventListAsk::views(&find);
        let EventListScope { from, params, .. } = self.event_list_scope(q, &ask)?;
        let sql = format!(
            "SELECT e.view_path, e.loading_time_ns, e.first_contentful_paint_ns, e.largest_contentful_paint_ns,
                    e.cumulative_layout_shift, e.interaction_to_next_paint_ns {from}"
        );
        // Per page (or route): its name, views, each vital's values (in the SELECT's order) and
        // how many paths it groups. Each distinct path is looked up by its bytes and its route
        // worked out once (per view, the pattern and its allocations took 1.2 s of 2.6 s at
        // 1,000,000 sessions).
        let mut pages: Vec<(String, u64, [Vec<f64>; 5], u64)> = Vec::new();
        let mut page_of_path: rustc_hash::FxHashMap<Vec<u8>, usize> = rustc_hash::FxHashMap::default();
        let mut page_of_name: rustc_hash::FxHashMap<String, usize> = rustc_hash::FxHashMap::default();
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query(params_from_iter(params.iter()))?;
        while let Some(row) = rows.next()? {
            let path: &[u8] = match row.get_ref(0)? {
                rusqlite::types::ValueRef::Text(bytes) | rusqlite::types::ValueRef::Blob(bytes) => bytes,
                _ => b"",
            };
            let index = match page_of_path.get(path) {
                Some(index) => *index,
                None => {
                    let text = String::from_utf8_lossy(path);
                    let name = if as_routes { crate::error_pattern::message_pattern(&text).into_owned() } else { text.into_owned() };
                    let index = *page_of_name.entry(name.clone()).or_insert_with(|| {
                        pages.push((name, 0, Default::default(), 0));
                        pages.len() - 1
                    });
                    pages[index].3 += 1;
                    page_of_path.insert(path.to_vec(), index);
                    index
                }
            };
            let page = &mut pages[index];
            page.1 += 1;
            for (i, values) in page.2.iter_mut().enumerate() {
                let value = match row.get_ref(i + 1)? {
                    rusqlite::types::ValueRef::Integer(v) => Some(v as f64),
                    rusqlite::types::ValueRef::Real(v) => Some(v),
                    _ => None,
                };
                if let Some(value) = value.filter(|v| v.is_finite()) {
                    values.push(value);
                }
            }
        }
        let mut summaries: Vec<PageSummary> = pages
            .into_iter()
            .map(|(view_path, views, mut values, paths)| {
                let mut p75 = values.each_mut().map(|v| super::overview::p75(v));
                PageSummary {
                    view_path,
                    views,
                    paths,
                    loading_time_p75_ns: p75[0].take(),
                    first_contentful_paint_p75_ns: p75[1].take(),
                    largest_contentful_paint_p75_ns: p75[2].take(),
                    cumulative_layout_shift_p75: p75[3].take(),
                    interaction_to_next_paint_p75_ns: p75[4].take(),
                }
            })
            .collect();
        summaries.sort_by(|a, b| b.views.cmp(&a.views).then_with(|| a.view_path.cmp(&b.view_path)));
        Ok(summaries)
    }

    /// The errors `error_events` would list (the same query and find), grouped by type and
    /// message, or with `as_patterns` by type and message pattern (numbers and ids as `*`, see
    /// [`crate::error_pattern`]): how often, in how many sessions, first and last seen, how
    /// many messages a pattern groups. The most frequent first: the Errors tab by error.
    pub fn error_groups(&self, q: &SessionQuery, find: &str, as_patterns: bool) -> StoreResult<Vec<ErrorGroup>> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let find = find.trim().to_lowercase();
        let ask = EventListAsk::errors(&find);
        let EventListScope { from, params, .. } = self.event_list_scope(q, &ask)?;
        let sql = format!("SELECT e.error_type, e.error_message, e.session_pk, e.time_ms {from}");
        // Per group: the group, its sessions (deduplicated at the end), first and last time,
        // its messages. A message's group is worked out once.
        struct Tally {
            group: ErrorGroup,
            session_pks: Vec<i64>,
        }
        let mut tallies: Vec<Tally> = Vec::new();
        let mut group_of_message: rustc_hash::FxHashMap<(Option<String>, Option<String>), usize> = rustc_hash::FxHashMap::default();
        let mut group_of_name: rustc_hash::FxHashMap<(Option<String>, Option<String>), usize> = rustc_hash::FxHashMap::default();
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query(params_from_iter(params.iter()))?;
        while let Some(row) = rows.next()? {
            let key: (Option<String>, Option<String>) = (row.get(0)?, row.get(1)?);
            let index = match group_of_message.get(&key) {
                Some(index) => *index,
                None => {
                    let message = if as_patterns { key.1.as_deref().map(|m| crate::error_pattern::message_pattern(m).into_owned()) } else { key.1.clone() };
                    let name = (key.0.clone(), message);
                    let index = *group_of_name.entry(name.clone()).or_insert_with(|| {
                        let group = ErrorGroup { error_type: name.0, message: name.1, count: 0, sessions: 0, first_ms: i64::MAX, last_ms: i64::MIN, messages: 0 };
                        tallies.push(Tally { group, session_pks: Vec::new() });
                        tallies.len() - 1
                    });
                    tallies[index].group.messages += 1;
                    group_of_message.insert(key, index);
                    index
                }
            };
            let tally = &mut tallies[index];
            let time_ms: i64 = row.get(3)?;
            tally.group.count += 1;
            tally.group.first_ms = tally.group.first_ms.min(time_ms);
            tally.group.last_ms = tally.group.last_ms.max(time_ms);
            tally.session_pks.push(row.get(2)?);
        }
        let mut groups: Vec<ErrorGroup> = tallies
            .into_iter()
            .map(|mut tally| {
                tally.session_pks.sort_unstable();
                tally.session_pks.dedup();
                tally.group.sessions = tally.session_pks.len() as u64;
                tally.group
            })
            .collect();
        sort_error_groups(&mut groups, ErrorGroupSort::Count, true);
        Ok(groups)
    }

    /// A listed event's session, as the lists show it.
    fn session_id_and_browser(&self, session_pk: i64) -> StoreResult<(String, Option<String>)> {
        let mut statement = self.conn.prepare_cached("SELECT session_id, browser FROM sessions WHERE session_pk = ?1")?;
        Ok(statement.query_row([session_pk], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    /// How many events an event list selects: the sessions' count when that is the answer,
    /// else a count of the events.
    fn event_list_total(&self, total_from_sessions: Option<u64>, from: &str, params: &[SqlValue], session_set: Option<Arc<SessionSet>>) -> StoreResult<u64> {
        if let Some(total) = total_from_sessions {
            return Ok(total);
        }
        // A count is one step of its statement: a superseded one is stopped by the interrupt
        // of this connection's piece, and the helper ends with the piece it is on.
        let counts = self.read_events_in_pieces(from, session_set, &AtomicBool::new(false), |conn, from, _| {
            Ok(conn.prepare(&format!("SELECT count(*) {from}"))?.query_row(params_from_iter(params.iter()), |r| r.get::<_, i64>(0))?)
        })?;
        Ok(counts.iter().sum::<i64>() as u64)
    }

    /// Runs `read` over an event list's events (`from`, see [`Store::event_list_scope`]) and
    /// gives what it returned for each piece, in the events' key order. When `from` reads the
    /// events table rather than seeking a few sessions' events, the table is cut into
    /// [`EVENT_READ_PIECES`] ranges of event keys (`from` with `AND e.event_pk ...` added),
    /// which this connection and a helper connection take in turn, each on its own core: a
    /// read of every resource at 1,000,000 sessions went from 14.7–16.0 s to 8.1–9.2 s. `read`
    /// is also told when to give up: `cancelled`, or the other thread failed.
    fn read_events_in_pieces<T: Send>(
        &self,
        from: &str,
        session_set: Option<Arc<SessionSet>>,
        cancelled: &AtomicBool,
        read: impl Fn(&Connection, &str, &dyn Fn() -> bool) -> StoreResult<T> + Sync,
    ) -> StoreResult<Vec<T>> {
        // A few sessions' events are sought by session (or a covering index read in its
        // order), in no time to speak of, and a small table is read as fast in one pass as in
        // two threads' pieces: one piece.
        let last_pk: i64 = self.conn.query_row("SELECT coalesce(max(event_pk), 0) FROM events", [], |r| r.get(0))?;
        let one_pass = from.contains("INDEXED BY") || last_pk < self.event_pieces_from;
        let helper = if one_pass { None } else { self.helper_connection() };
        let Some(helper) = helper else {
            return Ok(vec![read(&self.conn, from, &|| cancelled.load(Ordering::Relaxed))?]);
        };
        if let Some(set) = session_set {
            let flags = rusqlite::functions::FunctionFlags::SQLITE_UTF8 | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC;
            helper.create_scalar_function(IN_SESSION_SET_FUNCTION, 1, flags, move |ctx| Ok(set.contains(ctx.get::<i64>(0)?)))?;
        }
        // Rounded up, so that the pieces end at or past the last key. Key ranges we computed,
        // written as numbers.
        let step = (last_pk.max(1) + EVENT_READ_PIECES as i64 - 1) / EVENT_READ_PIECES as i64;
        let pieces: Vec<String> = (0..EVENT_READ_PIECES as i64)
            .map(|piece| format!("{from} AND e.event_pk > {} AND e.event_pk <= {}", piece * step, (piece + 1) * step))
            .collect();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let stop = || cancelled.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed);
        let take_pieces = |conn: &Connection| -> StoreResult<Vec<(usize, T)>> {
            let mut done = Vec::new();
            loop {
                if stop() {
                    return Err(StoreError::Cancelled);
                }
                let piece = next.fetch_add(1, Ordering::Relaxed);
                let Some(from) = pieces.get(piece) else { return Ok(done) };
                match read(conn, from, &stop) {
                    Ok(value) => done.push((piece, value)),
                    Err(error) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(error);
                    }
                }
            }
        };
        let take_pieces = &take_pieces;
        let (mine, theirs) = std::thread::scope(|threads| {
            let background = threads.spawn(move || take_pieces(&helper));
            let mine = take_pieces(&self.conn);
            // A panic goes on on this thread, where the worker reports it (as the Overview's
            // threads do), rather than end as a silent cancel with the window waiting.
            let theirs = background.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (mine, theirs)
        });
        if cancelled.load(Ordering::Relaxed) {
            return Err(StoreError::Cancelled);
        }
        // The error that stopped the other thread, rather than its giving up.
        let (mut done, theirs) = match (mine, theirs) {
            (Err(StoreError::Cancelled), Err(error)) | (Err(error), _) | (Ok(_), Err(error)) => return Err(error),
            (Ok(mine), Ok(theirs)) => (mine, theirs),
        };
        done.extend(theirs);
        done.sort_by_key(|(piece, _)| *piece);
        Ok(done.into_iter().map(|(_, value)| value).collect())
    }

    /// The events an event list reads (see [`EventListAsk`]). Its SQL may name the selected
    /// sessions' keys, so the lists prepare it each time rather than fill the statement cache. The query's top-level terms on
    /// the event fields apply to the events too; a positive one then no longer selects
    /// sessions, which the event matching it implies (a set of sessions built for nothing cost
    /// seconds at 1,000,000 sessions). The other terms select sessions in one pass over them,
    /// which also sums their count of the kind (the total, when nothing narrows the events).
    /// A few sessions have their events sought by session; more are a set that each event of
    /// the kind's index is tested against (an `IN` over a subquery probed a temporary B-tree
    /// per event: 2.5 s for `browser:Chrome` sorted by loading time at 1,000,000 sessions).
    fn event_list_scope(&self, q: &SessionQuery, ask: &EventListAsk<'_>) -> StoreResult<EventListScope> {
        let EventConditions { where_sql, where_params, mut conditions, params, narrowed, .. } = event_conditions(q, ask);
        let mut index = ask.covering_index.map(|index| format!("INDEXED BY {index}")).unwrap_or_default();
        let mut session_set = None;
        let count_of_sessions = if where_sql == "1" {
            // Every session: their count is the total unless the events are narrowed.
            if narrowed {
                0
            } else {
                let sql = format!("SELECT coalesce(sum({}), 0) FROM sessions", ask.count_column);
                self.conn.prepare_cached(&sql)?.query_row([], |r| r.get::<_, i64>(0))?
            }
        } else {
            let sql = format!("SELECT s.session_pk, s.{} FROM sessions s WHERE {where_sql}", ask.count_column);
            let (mut session_pks, mut count) = (Vec::new(), 0i64);
            {
                // Done with before the set's function is registered: SQLite refuses to replace a
                // function while a statement runs.
                let mut statement = self.conn.prepare_cached(&sql)?;
                let mut rows = statement.query(params_from_iter(where_params.iter()))?;
                while let Some(row) = rows.next()? {
                    session_pks.push(row.get::<_, i64>(0)?);
                    count += row.get::<_, i64>(1)?;
                }
            }
            if session_pks.len() <= self.event_list_few_sessions {
                // Keys from the table itself, written as numbers: nothing a user typed.
                let keys: Vec<String> = session_pks.iter().map(i64::to_string).collect();
                conditions.push(format!("e.session_pk IN ({})", keys.join(",")));
                index = "INDEXED BY events_by_session_key".to_string();
            } else {
                let mut set = super::overview::SessionSet::default();
                for session_pk in session_pks {
                    set.insert(session_pk);
                }
                let set = std::sync::Arc::new(set);
                let in_set = set.clone();
                let flags = rusqlite::functions::FunctionFlags::SQLITE_UTF8 | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC;
                self.conn.create_scalar_function(IN_SESSION_SET_FUNCTION, 1, flags, move |ctx| Ok(in_set.contains(ctx.get::<i64>(0)?)))?;
                session_set = Some(set);
                conditions.push(format!("{IN_SESSION_SET_FUNCTION}(e.session_pk)"));
            }
            count
        };
        Ok(EventListScope {
            from: format!("FROM events e {index} WHERE {}", conditions.join(" AND ")),
            params,
            total_from_sessions: (!narrowed).then_some(count_of_sessions as u64),
            session_set,
        })
    }

    /// The most common values of a field across all sessions, with how many sessions have
    /// each, for the query bar's suggestions: the session list's text columns, the page
    /// (`view_path`, from the sessions' pages), the error type (from its index) and the event
    /// columns of few values (`resource_status`, from each session's kept values; a session
    /// whose values of the column were not all kept is not counted). Other fields give none:
    /// their values would take a read of every event.
    pub fn key_values(&self, key: &str, limit: usize) -> StoreResult<Vec<(String, u64)>> {
        let key = query::field_key(key);
        if let Some(column) = crate::model::event_column_for_key(key).filter(|c| super::event_values::is_value_column(c.column)) {
            let mut values = self.top_event_values(&SessionQuery::default(), &[column.column], limit)?;
            return Ok(values.pop().unwrap_or_default());
        }
        let sql = match key {
            "view_path" => "SELECT view_path, count(*) AS n FROM session_pages GROUP BY view_path ORDER BY n DESC, view_path LIMIT ?1",
            "error_type" => {
                "SELECT error_type, count(DISTINCT session_pk) AS n FROM events INDEXED BY events_by_error_type
                 WHERE error_type IS NOT NULL GROUP BY error_type ORDER BY n DESC, error_type LIMIT ?1"
            }
            _ => {
                let column = query::session_column_alias(key);
                let numeric = [
                    "start_ms", "end_ms", "duration_ms", "view_count", "action_count", "error_count", "resource_count", "long_task_count",
                    "slowest_resource_ns", "largest_resource_bytes",
                ];
                if !SESSION_LIST_COLUMNS.contains(&column) || numeric.contains(&column) {
                    return Ok(Vec::new());
                }
                return top_values_on(&self.conn, &SessionQuery::default(), column, limit);
            }
        };
        let mut statement = self.conn.prepare_cached(sql)?;
        let rows = statement.query_map(params![limit as i64], value_and_count)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The most common values of a session column among the sessions a query selects.
    pub fn top_values(&self, q: &SessionQuery, column: &str, limit: usize) -> StoreResult<Vec<(String, u64)>> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        top_values_on(&self.conn, q, column, limit)
    }

    /// For each of `columns` (event columns whose values the sessions keep), its most common
    /// values among the sessions a query selects, with how many of them have each, from the
    /// sessions' kept values (a session whose values of the column were not all kept is not
    /// counted); none while the values are not known. One read of the selected sessions' texts
    /// for all the columns (about 130 MB at 1,000,000 sessions).
    pub fn top_event_values(&self, q: &SessionQuery, columns: &[&str], limit: usize) -> StoreResult<Vec<Vec<(String, u64)>>> {
        if !self.event_values_kept()? {
            return Ok(vec![Vec::new(); columns.len()]);
        }
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let (where_sql, params) = session_where(q);
        let sql = if q.filter.is_none() && q.from_ms.is_none() && q.to_ms.is_none() {
            "SELECT tokens FROM session_event_values".to_string()
        } else {
            format!("SELECT v.tokens FROM sessions s JOIN session_event_values v ON v.session_pk = s.session_pk WHERE {where_sql}")
        };
        let slots: Vec<Option<usize>> = columns.iter().map(|column| super::event_values::value_column_slot(column)).collect();
        let mut counts: Vec<rustc_hash::FxHashMap<String, u64>> = vec![rustc_hash::FxHashMap::default(); columns.len()];
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let tokens = row.get_ref(0)?.as_str().unwrap_or_default();
            for (slot, value) in super::event_values::listed_values(tokens) {
                let Some(column) = slots.iter().position(|s| *s == Some(slot)) else { continue };
                match counts[column].get_mut(value) {
                    Some(n) => *n += 1,
                    None => {
                        counts[column].insert(value.to_string(), 1);
                    }
                }
            }
        }
        Ok(counts
            .into_iter()
            .map(|counts| {
                let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
                counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                counts.truncate(limit);
                counts
            })
            .collect())
    }

    /// Sessions with and without errors among those a query selects.
    pub fn error_split(&self, q: &SessionQuery) -> StoreResult<(u64, u64)> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let (where_sql, params) = session_where(q);
        let sql = format!(
            "SELECT coalesce(sum(s.error_count > 0), 0), coalesce(sum(s.error_count = 0), 0) FROM sessions s WHERE {where_sql}"
        );
        Ok(self.conn.prepare_cached(&sql)?.query_row(params_from_iter(params), |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
        })?)
    }

    /// Session starts per time bucket, from `from_ms`, `buckets` buckets of `bucket_ms`.
    pub fn start_histogram(&self, q: &SessionQuery, from_ms: i64, bucket_ms: i64, buckets: usize) -> StoreResult<Vec<u64>> {
        let scoped = self.with_store_facts(q)?;
        let q = &*scoped;
        let (where_sql, mut params) = session_where(q);
        params.push(SqlValue::Integer(from_ms));
        let from_index = params.len();
        params.push(SqlValue::Integer(bucket_ms.max(1)));
        let width_index = params.len();
        let sql = format!(
            "SELECT (s.start_ms - ?{from_index}) / ?{width_index} AS bucket, count(*) FROM sessions s
             WHERE {where_sql} AND s.start_ms >= ?{from_index} GROUP BY bucket"
        );
        let mut counts = vec![0u64; buckets];
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (bucket, n) = row?;
            if bucket >= 0 && (bucket as usize) < buckets {
                counts[bucket as usize] += n as u64;
            } else if bucket as usize == buckets && buckets > 0 {
                counts[buckets - 1] += n as u64; // the range's last instant
            }
        }
        Ok(counts)
    }

    /// Sessions in the database and the span of their starts.
    pub fn stats_span(&self) -> StoreResult<(u64, Option<i64>, Option<i64>)> {
        Ok(self.conn.query_row(
            "SELECT count(*), min(start_ms), max(start_ms) FROM sessions WHERE start_ms IS NOT NULL",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?)),
        )?)
    }

    pub fn stats(&self) -> StoreResult<Stats> {
        // The sessions count their events of the five common kinds (a GROUP BY over the
        // events would read millions of rows); other kinds have a small index of their own.
        let mut events_by_kind = BTreeMap::new();
        let common: [i64; 5] = self.conn.query_row(
            "SELECT coalesce(sum(view_count), 0), coalesce(sum(action_count), 0), coalesce(sum(error_count), 0),
                    coalesce(sum(resource_count), 0), coalesce(sum(long_task_count), 0) FROM sessions",
            [],
            |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]),
        )?;
        for (kind, count) in ["view", "action", "error", "resource", "long_task"].into_iter().zip(common) {
            if count > 0 {
                events_by_kind.insert(kind.to_string(), count as u64);
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT kind, count(*) FROM events INDEXED BY events_other_kinds
             WHERE kind <> 'view' AND kind <> 'action' AND kind <> 'error' AND kind <> 'resource' AND kind <> 'long_task' GROUP BY kind",
        )?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (kind, count) = row?;
            events_by_kind.insert(kind, count as u64);
        }
        let (sessions, first_ms, last_ms): (i64, Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT count(*), min(start_ms), max(end_ms) FROM sessions WHERE start_ms IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut apps = Vec::new();
        let mut stmt = self.conn.prepare(
            "SELECT coalesce(app_id, ''), count(*) FROM sessions WHERE start_ms IS NOT NULL
             GROUP BY app_id ORDER BY count(*) DESC, app_id",
        )?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (app_id, sessions) = row?;
            apps.push(AppCount { app_id, sessions: sessions as u64 });
        }
        let files: i64 = self.conn.query_row("SELECT count(*) FROM files", [], |r| r.get(0))?;
        Ok(Stats {
            events_total: events_by_kind.values().sum(),
            events_by_kind,
            sessions: sessions as u64,
            first_ms,
            last_ms,
            apps,
            files_imported: files as u64,
        })
    }

    /// Every key that can be a column of the sessions table: the session columns, the event
    /// keys, and the extended fields the data has (as the import recorded them; sampled in a
    /// database written before schema 12).
    pub fn session_keys(&self) -> StoreResult<Vec<String>> {
        let mut keys: Vec<String> = SESSION_LIST_COLUMNS.iter().map(|s| s.to_string()).collect();
        if let Some(facts) = self.store_facts()? {
            keys.extend(EVENT_COLUMNS.iter().map(|c| c.key.to_string()));
            keys.extend(facts.session.iter().chain(&facts.event).cloned());
            keys.sort();
            keys.dedup();
            return Ok(keys);
        }
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT j.key FROM (SELECT session_fields_json FROM sessions LIMIT 5000) s, json_each(s.session_fields_json) j",
        )?;
        for key in stmt.query_map([], |r| r.get::<_, String>(0))? {
            keys.push(key?);
        }
        // Event keys too: a column shows the first value a session's events carry.
        keys.extend(EVENT_COLUMNS.iter().map(|c| c.key.to_string()));
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT j.key FROM (SELECT extra_json FROM events LIMIT 20000) e, json_each(e.extra_json) j",
        )?;
        for key in stmt.query_map([], |r| r.get::<_, String>(0))? {
            keys.push(key?);
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

impl Store {
    /// What the store records about its data: where each extended field is, as the writer
    /// recorded (schema 12), and which per-session structures are kept (schemas 13 and 14);
    /// `None` where the fields are not known (a database with events from before schema 12).
    pub fn store_facts(&self) -> StoreResult<Option<query::StoreFacts>> {
        let mut statement = self.conn.prepare_cached("SELECT value FROM store_facts WHERE name = ?1")?;
        let mut read = |name: &str| -> StoreResult<Option<std::collections::BTreeSet<String>>> {
            let text: Option<String> = statement.query_row([name], |r| r.get(0)).optional()?;
            // Written by the writer only; anything else is read as not known.
            Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
        };
        let session = read(super::schema::SESSION_FIELD_KEYS)?;
        let event = read(super::schema::EVENT_FIELD_KEYS)?;
        let Some((session, event)) = session.zip(event) else { return Ok(None) };
        let event_values_kept = self.event_values_kept()?;
        let seen_event_values = if event_values_kept {
            statement.query_row([super::schema::SEEN_EVENT_VALUES], |r| r.get(0)).optional()?.unwrap_or_default()
        } else {
            String::new()
        };
        let event_hashes_kept = self.event_hashes_kept()?;
        Ok(Some(query::StoreFacts { session, event, event_values_kept, seen_event_values, event_hashes_kept }))
    }

    /// Whether every session's row in `session_event_hashes` holds its events' values (schema
    /// 14: from the start in a database created empty, else once learned).
    pub fn event_hashes_kept(&self) -> StoreResult<bool> {
        let mut statement = self.conn.prepare_cached("SELECT 1 FROM store_facts WHERE name = ?1")?;
        Ok(statement.exists([super::schema::EVENT_HASHES_KEPT])?)
    }

    /// Whether every session's row in `session_event_values` lists its events' values (schema
    /// 13: from the start in a database created empty, else once learned).
    pub fn event_values_kept(&self) -> StoreResult<bool> {
        let mut statement = self.conn.prepare_cached("SELECT 1 FROM store_facts WHERE name = ?1")?;
        Ok(statement.exists([super::schema::EVENT_VALUES_KEPT])?)
    }

    /// Learns what a database written before schema 12 (13, 14) does not record: which
    /// extended fields it has, reading every session and event once (26 s at 1,000,000
    /// sessions), each session's event values (`session_event_values`, 56-72 s) and each
    /// session's filter of its events' values (`session_event_hashes`, 81 s), each reading every
    /// event again in session order. Records them unless an import committed meanwhile or holds
    /// the database (then it is left for another time, and the answer is `false`). Whether the
    /// keys are known now. Not cancellable: the window's thread ends with the process, and
    /// nothing is written to the database before the reads are done (what is learned waits in
    /// temporary tables).
    pub fn learn_fields_and_values(&self) -> StoreResult<bool> {
        let keys_known = self.store_facts()?.is_some();
        let values_kept = self.event_values_kept()?;
        let hashes_kept = self.event_hashes_kept()?;
        if keys_known && values_kept && hashes_kept {
            return Ok(true);
        }
        if !keys_known && self.has_too_many_field_keys()? {
            return Ok(false);
        }
        let last_file = || -> StoreResult<i64> { Ok(self.conn.query_row("SELECT coalesce(max(file_pk), 0) FROM files", [], |r| r.get(0))?) };
        let before = last_file()?;
        let keys = |sql: &str| -> StoreResult<std::collections::BTreeSet<String>> {
            let mut statement = self.conn.prepare(sql)?;
            let keys = statement.query_map([], |r| r.get(0))?;
            Ok(keys.collect::<Result<_, _>>()?)
        };
        let learned_keys = if keys_known {
            None
        } else {
            Some((
                keys("SELECT DISTINCT j.key FROM sessions s, json_each(s.session_fields_json) j")?,
                keys("SELECT DISTINCT j.key FROM events e, json_each(e.extra_json) j")?,
            ))
        };
        let too_many = learned_keys
            .as_ref()
            .is_some_and(|(session, event)| session.len() > super::writer::MAX_FIELD_KEYS || event.len() > super::writer::MAX_FIELD_KEYS);
        let mut seen_values = super::event_values::EventValues::default();
        if !values_kept {
            self.learn_per_session(&LEARNED_EVENT_VALUES, |into| super::writer::count_event_values(&self.conn, "sessions", into, &mut seen_values))?;
        }
        if !hashes_kept {
            self.learn_per_session(&LEARNED_EVENT_HASHES, |into| super::writer::count_event_hashes(&self.conn, "sessions", into))?;
        }
        // An import holds the write lock from its first row to its commit, and adds a file.
        if self.conn.execute_batch("BEGIN IMMEDIATE").is_err() {
            return Ok(false);
        }
        let write = || -> StoreResult<bool> {
            if last_file()? != before {
                return Ok(false);
            }
            if !values_kept {
                self.keep_learned(&LEARNED_EVENT_VALUES)?;
                self.conn.execute(
                    "INSERT OR REPLACE INTO store_facts (name, value) VALUES (?1, ?2)",
                    params![super::schema::SEEN_EVENT_VALUES, seen_values.encode()],
                )?;
            }
            if !hashes_kept {
                self.keep_learned(&LEARNED_EVENT_HASHES)?;
            }
            if too_many {
                // Noted, so that the next start does not read every event again for nothing.
                self.conn.execute("INSERT OR REPLACE INTO store_facts (name, value) VALUES (?1, '1')", [super::schema::FIELD_KEYS_TOO_MANY])?;
                return Ok(false);
            }
            if let Some((session, event)) = &learned_keys {
                for (name, keys) in [(super::schema::SESSION_FIELD_KEYS, session), (super::schema::EVENT_FIELD_KEYS, event)] {
                    let text = serde_json::to_string(keys).map_err(|e| StoreError::Sqlite(rusqlite::Error::ModuleError(e.to_string())))?;
                    self.conn.execute("INSERT OR REPLACE INTO store_facts (name, value) VALUES (?1, ?2)", params![name, text])?;
                }
            }
            Ok(true)
        };
        let written = write();
        match written {
            Ok(_) if too_many => self.conn.execute_batch("COMMIT")?,
            Ok(true) => self.conn.execute_batch("COMMIT")?,
            _ => {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
        }
        written
    }

    /// Reads a per-session table from the events into its temporary table, in one read
    /// transaction: `count` fills the table it is given.
    fn learn_per_session(&self, learned: &LearnedPerSession, count: impl FnOnce(&str) -> StoreResult<u64>) -> StoreResult<()> {
        let LearnedPerSession { waiting, column, column_type, .. } = learned;
        self.conn.execute_batch(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS {waiting} (session_pk INTEGER PRIMARY KEY, {column} {column_type} NOT NULL);
             DELETE FROM temp.{waiting};
             BEGIN;"
        ))?;
        let counted = count(&format!("temp.{waiting}"));
        self.conn.execute_batch(if counted.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
        counted.map(|_| ())
    }

    /// Replaces a per-session table with what [`Self::learn_per_session`] read, and records that
    /// it is kept (within the caller's write transaction).
    fn keep_learned(&self, learned: &LearnedPerSession) -> StoreResult<()> {
        let LearnedPerSession { waiting, table, column, kept_fact, .. } = learned;
        self.conn.execute_batch(&format!(
            "DELETE FROM {table};
             INSERT INTO {table} (session_pk, {column}) SELECT session_pk, {column} FROM temp.{waiting};
             DELETE FROM temp.{waiting};"
        ))?;
        self.conn.execute("INSERT OR REPLACE INTO store_facts (name, value) VALUES (?1, '1')", [kept_fact])?;
        Ok(())
    }

    /// Whether an import or [`Self::learn_fields_and_values`] found more extended fields than are listed.
    pub fn has_too_many_field_keys(&self) -> StoreResult<bool> {
        let noted: Option<String> = self
            .conn
            .query_row("SELECT value FROM store_facts WHERE name = ?1", [super::schema::FIELD_KEYS_TOO_MANY], |r| r.get(0))
            .optional()?;
        Ok(noted.is_some())
    }

    /// `q` with [`SessionQuery::store_facts`] set when it names an extended field (in its
    /// filter, sort or columns) or has a term on an event column whose values the sessions keep,
    /// and the store knows where the data has them.
    pub(crate) fn with_store_facts<'q>(&self, q: &'q SessionQuery) -> StoreResult<std::borrow::Cow<'q, SessionQuery>> {
        let names_recorded = q
            .filter
            .as_ref()
            .is_some_and(|f| f.expr.term_keys().into_iter().any(|key| query::is_extended_key(key) || query::is_event_value_key(key)))
            || q.sort_column.as_deref().is_some_and(query::is_extended_key)
            || q.extra_columns.iter().any(|c| query::is_extended_key(c));
        if q.store_facts.is_some() || !names_recorded {
            return Ok(std::borrow::Cow::Borrowed(q));
        }
        let facts = self.store_facts()?.map(Arc::new);
        Ok(std::borrow::Cow::Owned(SessionQuery { store_facts: facts, ..q.clone() }))
    }
}

/// A per-session table [`Store::learn_fields_and_values`] reads from the events: the temporary
/// table it waits in, the table it goes to, its value column and the fact that says it is kept.
struct LearnedPerSession {
    waiting: &'static str,
    table: &'static str,
    column: &'static str,
    column_type: &'static str,
    kept_fact: &'static str,
}

const LEARNED_EVENT_VALUES: LearnedPerSession = LearnedPerSession {
    waiting: "learned_event_values",
    table: "session_event_values",
    column: "tokens",
    column_type: "TEXT",
    kept_fact: super::schema::EVENT_VALUES_KEPT,
};

const LEARNED_EVENT_HASHES: LearnedPerSession = LearnedPerSession {
    waiting: "learned_event_hashes",
    table: "session_event_hashes",
    column: "bits",
    column_type: "BLOB",
    kept_fact: super::schema::EVENT_HASHES_KEPT,
};

/// The error fields whose top-level query terms the Errors tab applies to the errors it lists.
pub const ERROR_FILTER_KEYS: &[&str] = &["error_type", "error_message"];

/// Which events of one kind an event list (the Views and Errors tabs) reads: `FROM events e
/// … WHERE …` with its parameters, and the total when the selected sessions' own count of the
/// kind gives it.
struct EventListScope {
    from: String,
    params: Vec<SqlValue>,
    total_from_sessions: Option<u64>,
    /// The selected sessions when `from` tests events against them by
    /// [`IN_SESSION_SET_FUNCTION`] (registered on this connection; another needs it too).
    session_set: Option<Arc<SessionSet>>,
}

/// An event list's conditions apart: the sessions' (`where_sql` on `sessions s`, with its own
/// parameters) and the events' (`e.kind` and the query's terms and find on `events e`).
struct EventConditions {
    /// The query the sessions are selected by (`where_sql` is its condition).
    sessions: SessionQuery,
    where_sql: String,
    where_params: Vec<SqlValue>,
    conditions: Vec<String>,
    params: Vec<SqlValue>,
    /// Whether the events are narrowed beyond their sessions (a term or a find).
    narrowed: bool,
}

/// See [`Store::event_list_scope`]: the query's top-level terms on the event fields apply to
/// the events, and a positive one no longer selects sessions.
fn event_conditions(q: &SessionQuery, ask: &EventListAsk<'_>) -> EventConditions {
    let mut sessions = SessionQuery { filter: q.filter.as_ref().and_then(|f| query::without_positive_top_level_terms(f, ask.event_keys)), ..q.clone() };
    sessions.extra_columns.clear();
    let (where_sql, where_params) = session_where(&sessions);
    let mut conditions = vec![format!("e.kind = '{}'", ask.kind)];
    let mut params = Vec::new();
    let mut narrowed = false;
    if let Some(filter) = &q.filter {
        let column_of = |key: &str| crate::model::event_column_for_key(key).map(|c| format!("e.{}", c.column)).unwrap_or_else(|| format!("e.{key}"));
        let on_events = query::top_level_term_predicates(filter, ask.event_keys, column_of, &mut params);
        narrowed |= !on_events.is_empty();
        conditions.extend(on_events);
    }
    if !ask.find.is_empty() {
        params.push(SqlValue::Text(ask.find.to_string()));
        conditions.push(ask.find_sql.replace("{find}", &params.len().to_string()));
        narrowed = true;
    }
    EventConditions { sessions, where_sql, where_params, conditions, params, narrowed }
}

/// What an event list asks for: the events of `kind` of the sessions a query selects.
struct EventListAsk<'a> {
    kind: &'a str,
    /// The fields whose top-level query terms apply to the events themselves.
    event_keys: &'a [&'a str],
    /// Lower case text that must occur in `find_sql`, which names it `?{find}`; empty: none.
    find: &'a str,
    find_sql: &'a str,
    /// The sessions' count of this kind (`view_count`).
    count_column: &'a str,
    /// The partial index over this kind's events that the list reads in order; `None`: the
    /// table itself (resources have none: one over 25 M resources at 1,000,000 sessions would
    /// cost every import its build).
    covering_index: Option<&'a str>,
}

impl<'a> EventListAsk<'a> {
    /// The views, `find` in their page path.
    fn views(find: &'a str) -> Self {
        EventListAsk {
            kind: "view",
            event_keys: VIEW_FILTER_KEYS,
            find,
            find_sql: "instr(lower(e.view_path), ?{find}) > 0",
            count_column: "view_count",
            covering_index: Some("events_view_timings"),
        }
    }

    /// The errors, `find` in their type or message.
    fn errors(find: &'a str) -> Self {
        EventListAsk {
            kind: "error",
            event_keys: ERROR_FILTER_KEYS,
            find,
            find_sql: "(instr(lower(e.error_message), ?{find}) > 0 OR instr(lower(e.error_type), ?{find}) > 0)",
            count_column: "error_count",
            covering_index: Some("events_error_groups"),
        }
    }

    /// The resources, `find` in their URL.
    fn resources(find: &'a str) -> Self {
        EventListAsk {
            kind: "resource",
            event_keys: RESOURCE_FILTER_KEYS,
            find,
            find_sql: "instr(lower(e.resource_url), ?{find}) > 0",
            count_column: "resource_count",
            covering_index: None,
        }
    }
}

/// Up to this many selected sessions, an event list seeks each session's events; beyond, it
/// reads the kind's index and tests each event's session against a set of them.
pub const EVENT_LIST_FEW_SESSIONS: usize = 2000;

/// The SQL function that tests an event's session against the selected set
/// (`rum_in_session_set(e.session_pk)`), registered for each list that uses it.
const IN_SESSION_SET_FUNCTION: &str = "rum_in_session_set";

/// The view fields whose top-level query terms the Views tab applies to the views it lists.
pub const VIEW_FILTER_KEYS: &[&str] = &[
    "view_path", "view_url", "view_name", "view_id", "view_loading_type", "view_referrer", "loading_time",
    "first_contentful_paint", "largest_contentful_paint", "cumulative_layout_shift", "interaction_to_next_paint",
    "first_input_delay", "first_byte", "time_spent",
];

/// The columns a listed resource is read from (`resource_from_row`), then its session's key.
const RESOURCE_COLUMNS: &str = "e.event_pk, e.time_ms, e.resource_type, e.resource_method, e.resource_status, e.resource_url, e.duration_ns,
    e.resource_size_bytes, e.view_path";
const RESOURCE_COLUMN_COUNT: usize = 9;

fn resource_from_row(r: &Row) -> rusqlite::Result<ResourceEventRow> {
    Ok(ResourceEventRow {
        event_pk: r.get(0)?,
        time_ms: r.get(1)?,
        resource_type: r.get(2)?,
        resource_method: r.get(3)?,
        resource_status: r.get(4)?,
        resource_url: r.get(5)?,
        duration_ns: r.get(6)?,
        resource_size_bytes: r.get(7)?,
        view_path: r.get(8)?,
        session_id: String::new(),
        browser: None,
    })
}

/// A resource's place in a walk: smaller first, compared a part at a time.
type WalkKey = (i64, i64, i64);

/// The orders of the Resources tab that walk the sessions ([`Store::resource_rows`]).
#[derive(Debug, Clone, Copy, PartialEq)]
enum ResourceWalk {
    Newest,
    Oldest,
    Slowest,
    Largest,
}

impl ResourceWalk {
    fn of(sort: ResourceSort, descending: bool) -> Option<ResourceWalk> {
        match (sort, descending) {
            (ResourceSort::Time, true) => Some(ResourceWalk::Newest),
            (ResourceSort::Time, false) => Some(ResourceWalk::Oldest),
            (ResourceSort::Duration, true) => Some(ResourceWalk::Slowest),
            (ResourceSort::Size, true) => Some(ResourceWalk::Largest),
            _ => None,
        }
    }

    /// The session list column the walk takes sessions in, and whether from its largest.
    fn session_order(self) -> (&'static str, bool) {
        match self {
            ResourceWalk::Newest => ("end_ms", true),
            ResourceWalk::Oldest => ("start_ms", false),
            ResourceWalk::Slowest => ("slowest_resource_ns", true),
            ResourceWalk::Largest => ("largest_resource_bytes", true),
        }
    }

    /// A resource's key, in the order the table's read gives (`resource_rows`): by time, or
    /// by duration (size) with resources without one last, then the newest first.
    fn key(self, row: &ResourceEventRow) -> WalkKey {
        let newest = (!row.time_ms, !row.event_pk);
        match self {
            ResourceWalk::Newest => (newest.0, newest.1, 0),
            ResourceWalk::Oldest => (row.time_ms, row.event_pk, 0),
            ResourceWalk::Slowest => (row.duration_ns.map_or(i64::MAX, |ns| !ordered_bits(ns)), newest.0, newest.1),
            ResourceWalk::Largest => (row.resource_size_bytes.map_or(i64::MAX, |bytes| !ordered_bits(bytes as f64)), newest.0, newest.1),
        }
    }

    /// The smallest first part of a key that a resource of this session, or of any session
    /// after it in the walk, can have; None when the session does not tell (no times).
    fn session_bound(self, session: &SessionRow) -> Option<i64> {
        // The kept maxima are rounded to whole units: one more is above the resource's value.
        let largest_first = |kept: Option<i64>| Some(kept.map_or(i64::MAX, |value| !ordered_bits(value.saturating_add(1) as f64)));
        match self {
            ResourceWalk::Newest => session.end_ms.map(|ms| !ms),
            ResourceWalk::Oldest => session.start_ms,
            ResourceWalk::Slowest => largest_first(session.slowest_resource_ns),
            ResourceWalk::Largest => largest_first(session.largest_resource_bytes),
        }
    }
}

/// An `f64` as an `i64` in the same order (NaN aside): the walk's keys compare as integers.
fn ordered_bits(value: f64) -> i64 {
    let bits = value.to_bits() as i64;
    if bits < 0 {
        bits ^ i64::MAX
    } else {
        bits
    }
}

/// Sessions the Resources tab's time order walks (newest or oldest first) before it reads
/// the events table instead: the walk finds a page in milliseconds when resources are common,
/// and costs at most this many sessions' reads when they are rare.
pub const RESOURCE_WALK_SESSIONS: usize = 20_000;

/// The resource fields whose top-level query terms the Resources tab applies to the
/// resources it lists.
pub const RESOURCE_FILTER_KEYS: &[&str] = &["resource_url", "resource_type", "resource_method", "resource_status", "resource_size", "duration"];

/// The orders the Resources tab lists resources in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceSort {
    #[default]
    Time,
    Duration,
    Size,
}

impl ResourceSort {
    pub const ALL: [ResourceSort; 3] = [ResourceSort::Time, ResourceSort::Duration, ResourceSort::Size];

    pub fn column(self) -> &'static str {
        match self {
            ResourceSort::Time => "time_ms",
            ResourceSort::Duration => "duration_ns",
            ResourceSort::Size => "resource_size_bytes",
        }
    }

    /// The name a user types (`--sort duration`).
    pub fn key(self) -> &'static str {
        match self {
            ResourceSort::Time => "time",
            ResourceSort::Duration => "duration",
            ResourceSort::Size => "size",
        }
    }

    pub fn from_key(key: &str) -> Option<ResourceSort> {
        ResourceSort::ALL.into_iter().find(|s| s.key() == key || s.column() == key)
    }
}

/// One resource (a request the page made: Fetch/XHR, script, image, ...) in the Resources tab
/// (and `rum-explorer resources`). Duration in nanoseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResourceEventRow {
    pub event_pk: i64,
    pub time_ms: i64,
    pub resource_type: Option<String>,
    pub resource_method: Option<String>,
    pub resource_status: Option<i64>,
    pub resource_url: Option<String>,
    pub duration_ns: Option<f64>,
    pub resource_size_bytes: Option<i64>,
    pub view_path: Option<String>,
    pub session_id: String,
    pub browser: Option<String>,
}

impl ResourceEventRow {
    /// A request that failed: a status of 400 and above, or 0 (blocked, cancelled, network
    /// error), as the view's waterfall marks them.
    pub fn failed(&self) -> bool {
        self.resource_status.is_some_and(|s| s >= 400 || s == 0)
    }
}

/// The resources of one method and URL (without its query string), or of one URL pattern
/// (numbers and ids as `*`), in the Resources tab by URL (and `rum-explorer resources
/// --by-url`). Durations in nanoseconds; p75 is the nearest rank.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResourceGroup {
    pub resource_method: Option<String>,
    pub resource_url: String,
    pub resource_type: Option<String>,
    pub count: u64,
    /// Requests with a status of 400 and above, or 0.
    pub failed: u64,
    pub sessions: u64,
    pub duration_p75_ns: Option<f64>,
    pub duration_max_ns: Option<f64>,
    pub size_bytes: u64,
    /// The distinct URLs a pattern groups (1 for a URL).
    pub urls: u64,
}

/// The orders of resource groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResourceGroupSort {
    #[default]
    Count,
    Failed,
    DurationP75,
    Size,
}

impl ResourceGroupSort {
    pub const ALL: [ResourceGroupSort; 4] = [ResourceGroupSort::Count, ResourceGroupSort::Failed, ResourceGroupSort::DurationP75, ResourceGroupSort::Size];

    pub fn key(self) -> &'static str {
        match self {
            ResourceGroupSort::Count => "count",
            ResourceGroupSort::Failed => "failed",
            ResourceGroupSort::DurationP75 => "p75",
            ResourceGroupSort::Size => "size",
        }
    }

    pub fn from_key(key: &str) -> Option<ResourceGroupSort> {
        ResourceGroupSort::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// The pieces a read of the events table is cut into, by event key (see
/// `Store::read_events_in_pieces`): enough that two threads taking them in turn finish together.
const EVENT_READ_PIECES: usize = 16;

/// The default [`Store::event_pieces_from`]: events (by the last event key) from which a read
/// of the events table goes in pieces. Below it a second connection, its cache filled again for
/// each read, and a thread cost more than they save. Measured (session 36, the means of
/// `rum-explorer resources` processes, in pieces against one pass): at 392,515 events a find
/// 0.18 against 0.16 s and By URL 0.17 against 0.18 s; at 980,609 events a find 0.21 against
/// 0.26 s and By URL 0.28 against 0.42 s; at 3.9 M events a find 0.56 against 0.89 s and By
/// URL 0.79 against 1.29 s.
pub(crate) const EVENT_PIECES_FROM: i64 = 500_000;

/// A method and URL's (or pattern's) tally in a By URL read.
struct UrlTally {
    group: ResourceGroup,
    durations_ns: Vec<f64>,
    session_pks: Vec<i64>,
    /// Later pieces' durations and sessions, joined once at the end: extending the first
    /// piece's lists piece by piece reallocated them with every piece alive (900 MB against
    /// 620 MB at 1,000,000 sessions).
    later_parts: Vec<(Vec<f64>, Vec<i64>)>,
}

impl UrlTally {
    /// Its group, with the sessions, p75 and longest duration counted over every piece.
    fn into_group(mut self) -> ResourceGroup {
        if !self.later_parts.is_empty() {
            let durations = self.durations_ns.len() + self.later_parts.iter().map(|(d, _)| d.len()).sum::<usize>();
            let sessions = self.session_pks.len() + self.later_parts.iter().map(|(_, s)| s.len()).sum::<usize>();
            let (mut all_durations, mut all_sessions) = (Vec::with_capacity(durations), Vec::with_capacity(sessions));
            all_durations.append(&mut self.durations_ns);
            all_sessions.append(&mut self.session_pks);
            for (mut part_durations, mut part_sessions) in self.later_parts.drain(..) {
                all_durations.append(&mut part_durations);
                all_sessions.append(&mut part_sessions);
            }
            (self.durations_ns, self.session_pks) = (all_durations, all_sessions);
        }
        self.session_pks.sort_unstable();
        self.session_pks.dedup();
        self.group.sessions = self.session_pks.len() as u64;
        self.group.duration_max_ns = self.durations_ns.iter().copied().reduce(f64::max);
        self.group.duration_p75_ns = super::overview::p75(&mut self.durations_ns);
        self.group
    }
}

/// The tallies of the requests a By URL read has read (of one piece of the events table).
#[derive(Default)]
struct UrlTallies {
    tallies: Vec<UrlTally>,
    /// A (method, URL)'s group is worked out once, the URL's pattern too, and found again by
    /// the row's bytes: no text is copied for a request whose URL was seen (at 1,000,000
    /// sessions, three Strings a request for 25 M requests).
    group_of_url: rustc_hash::FxHashMap<Vec<u8>, usize>,
    group_of_name: rustc_hash::FxHashMap<(Option<String>, String), usize>,
}

impl UrlTallies {
    /// Adds the tallies of a later piece: a group met first in it keeps that piece's type,
    /// as one pass would have; a URL counts once however many pieces met it.
    fn merge(&mut self, later: UrlTallies) {
        let mut index_of: Vec<usize> = Vec::with_capacity(later.tallies.len());
        for tally in later.tallies {
            let name = (tally.group.resource_method.clone(), tally.group.resource_url.clone());
            let index = match self.group_of_name.get(&name) {
                Some(&index) => {
                    let mine = &mut self.tallies[index];
                    mine.group.count += tally.group.count;
                    mine.group.failed += tally.group.failed;
                    mine.group.size_bytes += tally.group.size_bytes;
                    mine.later_parts.push((tally.durations_ns, tally.session_pks));
                    mine.later_parts.extend(tally.later_parts);
                    index
                }
                None => {
                    let mut tally = tally;
                    tally.group.urls = 0; // counted below, from the URLs
                    self.tallies.push(tally);
                    self.group_of_name.insert(name, self.tallies.len() - 1);
                    self.tallies.len() - 1
                }
            };
            index_of.push(index);
        }
        for (url_key, later_index) in later.group_of_url {
            if let std::collections::hash_map::Entry::Vacant(entry) = self.group_of_url.entry(url_key) {
                let index = index_of[later_index];
                entry.insert(index);
                self.tallies[index].group.urls += 1;
            }
        }
    }
}

/// Tallies the requests `sql` reads (method, URL, type, status, duration, size, session) by
/// method and URL, or pattern; counts them in `requests_read`; stops when `stop` says so.
fn tally_requests(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
    as_patterns: bool,
    requests_read: &AtomicU64,
    stop: &dyn Fn() -> bool,
) -> StoreResult<UrlTallies> {
    let mut tallies = UrlTallies::default();
    let mut url_key: Vec<u8> = Vec::new();
    let mut statement = conn.prepare(sql)?;
    let mut rows = statement.query(params_from_iter(params.iter()))?;
    fn text_bytes(value: rusqlite::types::ValueRef<'_>) -> Option<&[u8]> {
        match value {
            rusqlite::types::ValueRef::Text(bytes) | rusqlite::types::ValueRef::Blob(bytes) => Some(bytes),
            _ => None,
        }
    }
    let mut unreported: u64 = 0;
    while let Some(row) = rows.next()? {
        unreported += 1;
        if unreported == PROGRESS_EVERY_ROWS {
            requests_read.fetch_add(unreported, Ordering::Relaxed);
            unreported = 0;
            if stop() {
                return Err(StoreError::Cancelled);
            }
        }
        let method = text_bytes(row.get_ref(0)?);
        let url = text_bytes(row.get_ref(1)?).unwrap_or(b"");
        let url = url.split(|b| *b == b'?' || *b == b'#').next().unwrap_or(url);
        // No method and an empty one differ: a tag byte before it.
        url_key.clear();
        url_key.push(u8::from(method.is_some()));
        url_key.extend_from_slice(method.unwrap_or(b""));
        url_key.push(0);
        url_key.extend_from_slice(url);
        let index = match tallies.group_of_url.get(url_key.as_slice()) {
            Some(index) => *index,
            None => {
                let url = String::from_utf8_lossy(url).into_owned();
                let method = method.map(|m| String::from_utf8_lossy(m).into_owned());
                let name = if as_patterns { crate::error_pattern::url_pattern(&url).into_owned() } else { url };
                let name_key = (method, name);
                let list = &mut tallies.tallies;
                let index = *tallies.group_of_name.entry(name_key.clone()).or_insert_with(|| {
                    list.push(UrlTally {
                        group: ResourceGroup {
                            resource_method: name_key.0.clone(),
                            resource_url: name_key.1.clone(),
                            resource_type: row.get(2).ok().flatten(),
                            count: 0,
                            failed: 0,
                            sessions: 0,
                            duration_p75_ns: None,
                            duration_max_ns: None,
                            size_bytes: 0,
                            urls: 0,
                        },
                        durations_ns: Vec::new(),
                        session_pks: Vec::new(),
                        later_parts: Vec::new(),
                    });
                    list.len() - 1
                });
                tallies.tallies[index].group.urls += 1;
                tallies.group_of_url.insert(url_key.clone(), index);
                index
            }
        };
        let tally = &mut tallies.tallies[index];
        tally.group.count += 1;
        let status: Option<i64> = row.get(3)?;
        if status.is_some_and(|s| s >= 400 || s == 0) {
            tally.group.failed += 1;
        }
        if let Some(duration) = row.get::<_, Option<f64>>(4)?.filter(|d| d.is_finite()) {
            tally.durations_ns.push(duration);
        }
        tally.group.size_bytes += row.get::<_, Option<i64>>(5)?.unwrap_or(0).max(0) as u64;
        let session_pk: i64 = row.get(6)?;
        if tally.session_pks.last() != Some(&session_pk) {
            tally.session_pks.push(session_pk);
        }
    }
    requests_read.fetch_add(unreported, Ordering::Relaxed);
    Ok(tallies)
}

/// Sorts groups by `sort`, the largest first when `descending`; groups without a p75 last
/// either way, then by URL.
pub fn sort_resource_groups(groups: &mut [ResourceGroup], sort: ResourceGroupSort, descending: bool) {
    groups.sort_by(|a, b| {
        let order = match sort {
            ResourceGroupSort::Count => a.count.cmp(&b.count),
            ResourceGroupSort::Failed => a.failed.cmp(&b.failed),
            ResourceGroupSort::Size => a.size_bytes.cmp(&b.size_bytes),
            ResourceGroupSort::DurationP75 => match (a.duration_p75_ns, b.duration_p75_ns) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (x, y) => return y.is_some().cmp(&x.is_some()).then_with(|| a.resource_url.cmp(&b.resource_url)),
            },
        };
        let order = if descending { order.reverse() } else { order };
        order.then_with(|| a.resource_url.cmp(&b.resource_url)).then_with(|| a.resource_method.cmp(&b.resource_method))
    });
}

/// A resource URL without its query string and fragment: what groups requests to one endpoint.
pub fn url_without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The orders the Views tab lists views in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewSort {
    #[default]
    Time,
    LoadingTime,
    FirstContentfulPaint,
    LargestContentfulPaint,
    CumulativeLayoutShift,
    InteractionToNextPaint,
}

impl ViewSort {
    pub const ALL: [ViewSort; 6] = [
        ViewSort::Time,
        ViewSort::LoadingTime,
        ViewSort::FirstContentfulPaint,
        ViewSort::LargestContentfulPaint,
        ViewSort::CumulativeLayoutShift,
        ViewSort::InteractionToNextPaint,
    ];

    /// The events' column it orders by (all in the views' covering index).
    pub fn column(self) -> &'static str {
        match self {
            ViewSort::Time => "time_ms",
            ViewSort::LoadingTime => "loading_time_ns",
            ViewSort::FirstContentfulPaint => "first_contentful_paint_ns",
            ViewSort::LargestContentfulPaint => "largest_contentful_paint_ns",
            ViewSort::CumulativeLayoutShift => "cumulative_layout_shift",
            ViewSort::InteractionToNextPaint => "interaction_to_next_paint_ns",
        }
    }

    /// The name a user types (`--sort loading_time`) and the query language uses.
    pub fn key(self) -> &'static str {
        match self {
            ViewSort::Time => "time",
            ViewSort::LoadingTime => "loading_time",
            ViewSort::FirstContentfulPaint => "first_contentful_paint",
            ViewSort::LargestContentfulPaint => "largest_contentful_paint",
            ViewSort::CumulativeLayoutShift => "cumulative_layout_shift",
            ViewSort::InteractionToNextPaint => "interaction_to_next_paint",
        }
    }

    pub fn from_key(key: &str) -> Option<ViewSort> {
        ViewSort::ALL.into_iter().find(|s| s.key() == key || s.column() == key)
    }
}

/// One page in the Views tab grouped by page (and `rum-explorer views --by-page`): its views
/// and the p75 of each vital over them (nearest rank; durations in nanoseconds).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PageSummary {
    /// The page, or the route (`/products/*`) when pages are grouped as routes.
    pub view_path: String,
    pub views: u64,
    /// The pages a route groups (1 for a page).
    pub paths: u64,
    pub loading_time_p75_ns: Option<f64>,
    pub first_contentful_paint_p75_ns: Option<f64>,
    pub largest_contentful_paint_p75_ns: Option<f64>,
    pub cumulative_layout_shift_p75: Option<f64>,
    pub interaction_to_next_paint_p75_ns: Option<f64>,
}

impl PageSummary {
    /// The p75 of the vital `sort` orders views by (None for the time order).
    pub fn p75(&self, sort: ViewSort) -> Option<f64> {
        match sort {
            ViewSort::Time => None,
            ViewSort::LoadingTime => self.loading_time_p75_ns,
            ViewSort::FirstContentfulPaint => self.first_contentful_paint_p75_ns,
            ViewSort::LargestContentfulPaint => self.largest_contentful_paint_p75_ns,
            ViewSort::CumulativeLayoutShift => self.cumulative_layout_shift_p75,
            ViewSort::InteractionToNextPaint => self.interaction_to_next_paint_p75_ns,
        }
    }
}

/// Orders pages: by views for the time order (most first when `descending`), else by the
/// p75 of the vital (slowest first when `descending`), pages without one last; then by path.
pub fn sort_page_summaries(pages: &mut [PageSummary], sort: ViewSort, descending: bool) {
    pages.sort_by(|a, b| {
        let order = match sort {
            ViewSort::Time => a.views.cmp(&b.views),
            _ => match (a.p75(sort), b.p75(sort)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                // Without a value: last either way.
                (Some(_), None) => return std::cmp::Ordering::Less,
                (None, Some(_)) => return std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            },
        };
        let order = if descending { order.reverse() } else { order };
        order.then_with(|| a.view_path.cmp(&b.view_path))
    });
}

/// One view in the Views tab (and `rum-explorer views`). Durations in nanoseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ViewEventRow {
    pub event_pk: i64,
    pub time_ms: i64,
    pub view_path: Option<String>,
    pub view_url: Option<String>,
    pub loading_time_ns: Option<f64>,
    pub first_contentful_paint_ns: Option<f64>,
    pub largest_contentful_paint_ns: Option<f64>,
    pub cumulative_layout_shift: Option<f64>,
    pub interaction_to_next_paint_ns: Option<f64>,
    pub time_spent_ns: Option<f64>,
    pub session_id: String,
    pub browser: Option<String>,
}

/// Errors of one type and message (or message pattern) in the Errors tab by error (and
/// `rum-explorer errors --by-error`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorGroup {
    pub error_type: Option<String>,
    /// The message, or its pattern (`Request failed with status code *`).
    pub message: Option<String>,
    pub count: u64,
    pub sessions: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// The distinct messages a pattern groups (1 for a message).
    pub messages: u64,
}

/// The orders of error groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorGroupSort {
    #[default]
    Count,
    Sessions,
    LastSeen,
    FirstSeen,
}

impl ErrorGroupSort {
    pub const ALL: [ErrorGroupSort; 4] = [ErrorGroupSort::Count, ErrorGroupSort::Sessions, ErrorGroupSort::LastSeen, ErrorGroupSort::FirstSeen];

    /// The name a user types (`--sort sessions`).
    pub fn key(self) -> &'static str {
        match self {
            ErrorGroupSort::Count => "count",
            ErrorGroupSort::Sessions => "sessions",
            ErrorGroupSort::LastSeen => "last_seen",
            ErrorGroupSort::FirstSeen => "first_seen",
        }
    }
}

/// Orders error groups by `sort` (most, or newest, first when `descending`), then by type and
/// message.
pub fn sort_error_groups(groups: &mut [ErrorGroup], sort: ErrorGroupSort, descending: bool) {
    groups.sort_by(|a, b| {
        let order = match sort {
            ErrorGroupSort::Count => a.count.cmp(&b.count),
            ErrorGroupSort::Sessions => a.sessions.cmp(&b.sessions),
            ErrorGroupSort::LastSeen => a.last_ms.cmp(&b.last_ms),
            ErrorGroupSort::FirstSeen => a.first_ms.cmp(&b.first_ms),
        };
        let order = if descending { order.reverse() } else { order };
        order.then_with(|| a.error_type.cmp(&b.error_type)).then_with(|| a.message.cmp(&b.message))
    });
}

/// One error in the Errors tab (and `rum-explorer errors`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ErrorEventRow {
    pub event_pk: i64,
    pub time_ms: i64,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub view_path: Option<String>,
    pub session_id: String,
    pub browser: Option<String>,
}

/// Where one error (type and message) happened across the database (see
/// [`Store::error_occurrences`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorSpread {
    pub sessions: u64,
    pub events: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// Occurrences per bucket of `bucket_ms`, the first starting at `from_ms`.
    pub from_ms: i64,
    pub bucket_ms: i64,
    pub counts: Vec<u64>,
    /// The errors whose message has this one's pattern, where something in it varies.
    pub pattern: Option<ErrorPattern>,
}

impl ErrorSpread {
    /// Counts `times_ms` into `buckets` equal buckets over `span_ms` widened to the times' own
    /// span (an error can come after the last session's start).
    pub fn of(sessions: u64, times_ms: &[i64], span_ms: Option<(i64, i64)>, buckets: usize) -> ErrorSpread {
        let first_ms = times_ms.iter().min().copied();
        let last_ms = times_ms.iter().max().copied();
        let (from_ms, to_ms) = match (span_ms, first_ms, last_ms) {
            (Some((from, to)), Some(first), Some(last)) => (from.min(first), to.max(last)),
            (Some(span), _, _) => span,
            (None, Some(first), Some(last)) => (first, last),
            (None, _, _) => (0, 0),
        };
        let buckets = buckets.max(1);
        // The last time falls in the last bucket, not past it.
        let bucket_ms = ((to_ms.saturating_sub(from_ms)) / buckets as i64 + 1).max(1);
        let mut counts = vec![0u64; buckets];
        for time_ms in times_ms {
            let index = (time_ms.saturating_sub(from_ms) / bucket_ms).clamp(0, buckets as i64 - 1) as usize;
            counts[index] += 1;
        }
        ErrorSpread { sessions, events: times_ms.len() as u64, first_ms, last_ms, from_ms, bucket_ms, counts, pattern: None }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AppCount {
    pub app_id: String,
    pub sessions: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub events_total: u64,
    pub events_by_kind: BTreeMap<String, u64>,
    pub sessions: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub apps: Vec<AppCount>,
    pub files_imported: u64,
}

/// One event of a session, with every key it has (canonical and extended).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEvent {
    pub event_pk: i64,
    pub kind: String,
    pub time_ms: i64,
    pub fields: Vec<(String, FieldValue)>,
}

impl TimelineEvent {
    pub fn get(&self, key: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(FieldValue::Str(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    pub fn duration_ns(&self) -> Option<i64> {
        let key = if self.kind == "view" { "time_spent" } else { "duration" };
        self.get(key).and_then(FieldValue::as_i64)
    }

    /// What the timeline shows for the event: the page, the action, the error message, ...
    pub fn label(&self) -> String {
        let pick = |keys: &[&str]| keys.iter().find_map(|k| self.get_str(k)).map(str::to_string);
        let label = match self.kind.as_str() {
            "view" => pick(&["view_path", "view_url", "view_name"]),
            "action" => pick(&["action_name", "action_type"]),
            "error" => pick(&["error_message", "error_type"]),
            "resource" => pick(&["resource_url", "resource_type"]),
            "long_task" => self.duration_ns().map(|ns| format!("Long task {} ms", ns / 1_000_000)),
            _ => None,
        };
        label.unwrap_or_else(|| self.kind.clone())
    }

    /// Whether the timeline's find text (lower case) is in this event's kind, label, or the
    /// type, name, method or status that tell events of a kind apart.
    pub fn matches_text(&self, needle_lower: &str) -> bool {
        if needle_lower.is_empty() {
            return true;
        }
        let holds = |text: &str| text.to_lowercase().contains(needle_lower);
        holds(&self.kind)
            || holds(&self.label())
            || ["error_type", "action_type", "resource_type", "resource_method", "resource_status"]
                .iter()
                .filter_map(|k| self.get(k))
                .any(|v| holds(&v.to_string()))
    }
}

#[derive(Debug, Clone)]
pub struct SessionDetail {
    pub session: SessionRow,
    pub events: Vec<TimelineEvent>,
}

/// Properties shown on a session's detail: the application's property fields.
pub const PROPERTY_KEYS: &[&str] =
    &["app_id", "env", "service", "app_version", "user_id", "user_name", "user_email", "session_type"];

impl SessionDetail {
    pub fn to_json(&self) -> serde_json::Value {
        let start = self.session.start_ms.unwrap_or(0);
        let timeline: Vec<serde_json::Value> = self
            .events
            .iter()
            .map(|e| {
                let fields: serde_json::Map<String, serde_json::Value> =
                    e.fields.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
                serde_json::json!({
                    "kind": e.kind,
                    "time_ms": e.time_ms,
                    "offset_ms": e.time_ms - start,
                    "name": e.label(),
                    "duration_ns": e.duration_ns(),
                    "fields": fields,
                })
            })
            .collect();
        let mut properties = serde_json::Map::new();
        for key in PROPERTY_KEYS {
            if let Some(v) = self.session.value_text(key) {
                properties.insert(key.to_string(), serde_json::Value::String(v));
            }
        }
        let mut extended = serde_json::Map::new();
        for attribute in SESSION_ATTRIBUTES {
            if PROPERTY_KEYS.contains(&attribute.column) {
                continue;
            }
            if let Some(v) = self.session.value_text(attribute.column) {
                extended.insert(attribute.column.to_string(), serde_json::Value::String(v));
            }
        }
        for (k, v) in &self.session.extended_fields {
            extended.insert(k.clone(), v.clone());
        }
        serde_json::json!({
            "session": self.session,
            "properties": properties,
            "extended_fields": extended,
            "timeline": timeline,
        })
    }
}

/// [`Store::top_values`] on any connection to the store (the Overview's helper has its own).
pub(crate) fn top_values_on(conn: &Connection, q: &SessionQuery, column: &str, limit: usize) -> StoreResult<Vec<(String, u64)>> {
    let column = query::session_column_alias(column);
    if !SESSION_LIST_COLUMNS.contains(&column) {
        return Ok(Vec::new());
    }
    let (where_sql, mut params) = session_where(q);
    params.push(SqlValue::Integer(limit as i64));
    let sql = format!(
        "SELECT s.{column}, count(*) AS n FROM sessions s WHERE {where_sql} AND s.{column} IS NOT NULL
         GROUP BY s.{column} ORDER BY n DESC, s.{column} LIMIT ?{}",
        params.len()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(params), value_and_count)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A row of a value (as text; a number written out) and its count.
fn value_and_count(r: &Row) -> rusqlite::Result<(String, u64)> {
    let text = match r.get::<_, SqlValue>(0)? {
        SqlValue::Text(t) => t,
        SqlValue::Integer(i) => i.to_string(),
        SqlValue::Real(f) => f.to_string(),
        _ => String::new(),
    };
    Ok((text, r.get::<_, i64>(1)? as u64))
}

#[cfg(test)]
mod tests {
    use super::ErrorSpread;

    #[test]
    fn an_error_spread_widens_the_span_to_its_own_times_and_keeps_the_last_in_range() {
        // Span 1,000-2,000 ms; an error after the last session start widens it to 2,500:
        // buckets of 501 ms from 1,000.
        let spread = ErrorSpread::of(2, &[1_000, 1_600, 2_500], Some((1_000, 2_000)), 3);
        assert_eq!((spread.from_ms, spread.first_ms, spread.last_ms), (1_000, Some(1_000), Some(2_500)));
        assert_eq!(spread.counts.len(), 3);
        assert!(spread.from_ms + 3 * spread.bucket_ms > 2_500, "the last time is inside the last bucket");
        assert_eq!(spread.counts, vec![1, 1, 1]);
        assert_eq!((spread.sessions, spread.events), (2, 3));
        // Without a span, the errors' own; without errors, empty buckets over the span.
        assert_eq!(ErrorSpread::of(1, &[5, 5], None, 4).counts.iter().sum::<u64>(), 2);
        let none = ErrorSpread::of(0, &[], Some((0, 100)), 4);
        assert_eq!((none.counts, none.first_ms), (vec![0; 4], None));
    }
}
