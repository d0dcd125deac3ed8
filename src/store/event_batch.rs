//! A virtual table over the events the writer holds in memory, so that a batch of rows goes
//! into the events table by one run of one statement (`INSERT … SELECT … FROM event_batch`)
//! instead of one run per row. A run has a fixed cost (opening a cursor on the table and on
//! each index, halting, releasing its values) that was about a quarter of the writer's
//! instructions when every row was its own run.

use super::event_row::{EventRow, Slot};
use rusqlite::ffi;
use rusqlite::{Connection, Result};
use std::borrow::Cow;
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::{Arc, Mutex, MutexGuard};

/// The table's name in SQL; it exists only on the connection that registered it.
pub const EVENT_BATCH_TABLE: &str = "event_batch";

/// One event row waiting to be inserted. Its `event_pk` is SQLite's to give (the next rowid):
/// an INSERT that names it must be ready to abort halfway, and SQLite then copies every page
/// the statement touches to a statement journal first.
pub struct BatchRow {
    pub event_key: i64,
    pub session_pk: i64,
    pub kind: Cow<'static, str>,
    pub time_ms: i64,
    pub version_rank: i64,
    /// The columns, in the order of `EVENT_COLUMNS`, and the extended fields' JSON.
    pub row: EventRow,
    /// Counted among the inserted events when it was queued (a held-back view): a copy found
    /// stored already moves it to the duplicates.
    pub counted_when_queued: bool,
}

/// Where the writer hands a batch to the table: the cursor takes the rows when the statement
/// starts and puts them back when it ends, so the writer can count what was inserted.
#[derive(Clone, Default)]
pub struct BatchSlot(Arc<Mutex<Vec<BatchRow>>>);

impl BatchSlot {
    fn rows(&self) -> MutexGuard<'_, Vec<BatchRow>> {
        // A panic while holding the lock leaves plain data behind: still usable.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn put(&self, rows: Vec<BatchRow>) {
        *self.rows() = rows;
    }

    pub fn take(&self) -> Vec<BatchRow> {
        std::mem::take(&mut *self.rows())
    }
}

/// Columns before the `EVENT_COLUMNS` ones.
const LEADING_COLUMNS: [&str; 6] = ["event_key", "session_pk", "kind", "time_ms", "version_rank", "extra_json"];

/// The column list of the table, in the order `SELECT *` gives them.
pub fn event_batch_columns() -> Vec<&'static str> {
    LEADING_COLUMNS.iter().copied().chain(crate::model::EVENT_COLUMNS.iter().map(|c| c.column)).collect()
}

/// Registers the table on `conn`, reading its rows from `slot`. Registering again replaces it.
///
/// The module is written against SQLite's C interface rather than rusqlite's `vtab`, which
/// hands every text value to SQLite as `SQLITE_TRANSIENT`: SQLite then copies it before copying
/// it again into the row. Here SQLite reads the text where the batch holds it (a profile of a
/// 10,000-session import had that first copy at 7% of the writer's time).
pub fn register_event_batch(conn: &Connection, slot: &BatchSlot) -> Result<()> {
    let name = CString::new(EVENT_BATCH_TABLE).map_err(|e| rusqlite::Error::ModuleError(e.to_string()))?;
    let aux = Box::into_raw(Box::new(slot.clone())).cast::<c_void>();
    // SAFETY: the handle is this open connection's; SQLite keeps `aux` until the module is
    // replaced or the connection closes, then hands it to `drop_aux` (also when it fails here).
    let rc = unsafe { ffi::sqlite3_create_module_v2(conn.handle(), name.as_ptr(), &MODULE, aux, Some(drop_aux)) };
    if rc != ffi::SQLITE_OK {
        return Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some("registering the event batch table".into())));
    }
    Ok(())
}

/// Eponymous-only (no xCreate): the table exists on the connection without CREATE VIRTUAL TABLE.
static MODULE: ffi::sqlite3_module = ffi::sqlite3_module {
    iVersion: 1,
    xCreate: None,
    xConnect: Some(x_connect),
    xBestIndex: Some(x_best_index),
    xDisconnect: Some(x_disconnect),
    xDestroy: None,
    xOpen: Some(x_open),
    xClose: Some(x_close),
    xFilter: Some(x_filter),
    xNext: Some(x_next),
    xEof: Some(x_eof),
    xColumn: Some(x_column),
    xRowid: Some(x_rowid),
    // SAFETY: every other member is an optional function (None) or a number.
    ..unsafe { std::mem::zeroed() }
};

unsafe extern "C" fn drop_aux(aux: *mut c_void) {
    // SAFETY: `aux` is the box `register_event_batch` leaked, handed back once.
    drop(unsafe { Box::from_raw(aux.cast::<BatchSlot>()) });
}

#[repr(C)]
struct EventBatchTable {
    /// Must come first: SQLite sees the struct as its own `sqlite3_vtab`.
    base: ffi::sqlite3_vtab,
    slot: BatchSlot,
}

unsafe extern "C" fn x_connect(
    db: *mut ffi::sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    table: *mut *mut ffi::sqlite3_vtab,
    _error: *mut *mut c_char,
) -> c_int {
    let Ok(schema) = CString::new(format!("CREATE TABLE x({})", event_batch_columns().join(", "))) else {
        return ffi::SQLITE_ERROR;
    };
    // SAFETY: `db` is the connection being set up; `aux` is the slot given at registration.
    unsafe {
        let rc = ffi::sqlite3_declare_vtab(db, schema.as_ptr());
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let slot = (*aux.cast::<BatchSlot>()).clone();
        // SAFETY (zeroed): SQLite fills the base in; zero is its documented start.
        let boxed = Box::new(EventBatchTable { base: std::mem::zeroed(), slot });
        *table = Box::into_raw(boxed).cast::<ffi::sqlite3_vtab>();
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_best_index(_table: *mut ffi::sqlite3_vtab, info: *mut ffi::sqlite3_index_info) -> c_int {
    // Only ever read whole, in order.
    // SAFETY: SQLite passes a valid index info for the call.
    unsafe { (*info).estimatedCost = 1.0 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_disconnect(table: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: the box `x_connect` leaked, handed back once.
    drop(unsafe { Box::from_raw(table.cast::<EventBatchTable>()) });
    ffi::SQLITE_OK
}

#[repr(C)]
struct EventBatchCursor {
    /// Must come first: SQLite sees the struct as its own `sqlite3_vtab_cursor`.
    base: ffi::sqlite3_vtab_cursor,
    slot: BatchSlot,
    rows: Vec<BatchRow>,
    at: usize,
}

impl EventBatchCursor {
    fn give_back(&mut self) {
        if !self.rows.is_empty() {
            self.slot.put(std::mem::take(&mut self.rows));
        }
    }
}

impl Drop for EventBatchCursor {
    fn drop(&mut self) {
        self.give_back();
    }
}

/// The cursor SQLite passes back; it is always one `x_open` made.
unsafe fn cursor_of<'a>(cursor: *mut ffi::sqlite3_vtab_cursor) -> &'a mut EventBatchCursor {
    // SAFETY: the base is the first member of a repr(C) EventBatchCursor.
    unsafe { &mut *cursor.cast::<EventBatchCursor>() }
}

unsafe extern "C" fn x_open(table: *mut ffi::sqlite3_vtab, cursor: *mut *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: `table` is one `x_connect` made; SQLite fills the cursor's base in.
    unsafe {
        let slot = (*table.cast::<EventBatchTable>()).slot.clone();
        let boxed = Box::new(EventBatchCursor { base: std::mem::zeroed(), slot, rows: Vec::new(), at: 0 });
        *cursor = Box::into_raw(boxed).cast::<ffi::sqlite3_vtab_cursor>();
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_close(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: the box `x_open` leaked, handed back once; dropping it gives the rows back.
    drop(unsafe { Box::from_raw(cursor.cast::<EventBatchCursor>()) });
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_filter(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    _index_number: c_int,
    _index_text: *const c_char,
    _argc: c_int,
    _argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    // SAFETY: see `cursor_of`.
    let cursor = unsafe { cursor_of(cursor) };
    cursor.give_back();
    cursor.rows = cursor.slot.take();
    cursor.at = 0;
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_next(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: see `cursor_of`.
    unsafe { cursor_of(cursor) }.at += 1;
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_eof(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: see `cursor_of`.
    let cursor = unsafe { cursor_of(cursor) };
    c_int::from(cursor.at >= cursor.rows.len())
}

unsafe extern "C" fn x_rowid(cursor: *mut ffi::sqlite3_vtab_cursor, rowid: *mut ffi::sqlite3_int64) -> c_int {
    // SAFETY: see `cursor_of`; `rowid` is SQLite's out-parameter.
    unsafe { *rowid = cursor_of(cursor).at as i64 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_column(cursor: *mut ffi::sqlite3_vtab_cursor, ctx: *mut ffi::sqlite3_context, i: c_int) -> c_int {
    // SAFETY: see `cursor_of`; `ctx` is valid for this call.
    let cursor = unsafe { cursor_of(cursor) };
    let Some(row) = cursor.rows.get(cursor.at) else { return ffi::SQLITE_OK };
    unsafe {
        match i {
            0 => ffi::sqlite3_result_int64(ctx, row.event_key),
            1 => ffi::sqlite3_result_int64(ctx, row.session_pk),
            2 => result_text(ctx, row.kind.as_bytes()),
            3 => ffi::sqlite3_result_int64(ctx, row.time_ms),
            4 => ffi::sqlite3_result_int64(ctx, row.version_rank),
            5 => result_text(ctx, row.row.extra_json_bytes()),
            // SQLite sets the result to NULL before asking, and most columns are NULL in most rows.
            _ => match usize::try_from(i).ok().and_then(|i| i.checked_sub(LEADING_COLUMNS.len())).map(|i| row.row.column(i)) {
                Some(Slot::Null) | None => {}
                Some(Slot::Integer(n)) => ffi::sqlite3_result_int64(ctx, n),
                Some(Slot::Real(x)) => ffi::sqlite3_result_double(ctx, x),
                Some(Slot::Text(range)) => result_text(ctx, row.row.bytes_of(range)),
            },
        }
    }
    ffi::SQLITE_OK
}

/// Hands SQLite text it reads in place (SQLITE_STATIC). Safe because the rows stay in the
/// cursor, unchanged, until the statement has ended: `x_filter` or `x_close` gives them back,
/// and the writer empties the batch only after the statement returned.
unsafe fn result_text(ctx: *mut ffi::sqlite3_context, text: &[u8]) {
    // An empty slice's pointer may dangle; SQLite gets a real empty string instead.
    let bytes: &[u8] = if text.is_empty() { b"\0" } else { text };
    let length = if text.is_empty() { 0 } else { bytes.len() as u64 };
    // SAFETY: `bytes` outlives the statement (above); SQLITE_STATIC: SQLite neither copies nor frees it.
    unsafe { ffi::sqlite3_result_text64(ctx, bytes.as_ptr().cast::<c_char>(), length, ffi::SQLITE_STATIC(), ffi::SQLITE_UTF8 as u8) };
}
