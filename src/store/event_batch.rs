//! A virtual table over the events the writer holds in memory, so that a batch of rows goes
//! into the events table by one run of one statement (`INSERT … SELECT … FROM event_batch`)
//! instead of one run per row. A run has a fixed cost (opening a cursor on the table and on
//! each index, halting, releasing its values) that was about a quarter of the writer's
//! instructions when every row was its own run.

use rusqlite::ffi;
use rusqlite::types::Value as SqlValue;
use rusqlite::vtab::{Context, Filters, IndexInfo, Module, VTab, VTabConnection, VTabCursor};
use rusqlite::{Connection, Result};
use std::borrow::Cow;
use std::ffi::{c_int, CStr, CString};
use std::sync::{Arc, Mutex, MutexGuard};

/// The table's name in SQL; it exists only on the connection that registered it.
pub const EVENT_BATCH_TABLE: &str = "event_batch";

/// One event row waiting to be inserted. Its `event_pk` is SQLite's to give (the next rowid):
/// an INSERT that names it must be ready to abort halfway, and SQLite then copies every page
/// the statement touches to a statement journal first.
pub struct BatchRow {
    pub event_key: i64,
    pub session_pk: i64,
    pub kind: String,
    pub time_ms: i64,
    pub version_rank: i64,
    pub extra_json: String,
    /// In the order of `EVENT_COLUMNS`.
    pub columns: Vec<SqlValue>,
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
pub fn register_event_batch(conn: &Connection, slot: &BatchSlot) -> Result<()> {
    const MODULE: Module<EventBatchTable> = Module::eponymous_only_module();
    let name = CString::new(EVENT_BATCH_TABLE).map_err(|e| rusqlite::Error::ModuleError(e.to_string()))?;
    conn.create_module(name.as_c_str(), &MODULE, Some(slot.clone()))
}

#[repr(C)]
struct EventBatchTable {
    /// Must come first: SQLite sees the struct as its own `sqlite3_vtab`.
    base: ffi::sqlite3_vtab,
    slot: BatchSlot,
}

unsafe impl<'vtab> VTab<'vtab> for EventBatchTable {
    type Aux = BatchSlot;
    type Cursor = EventBatchCursor;

    fn connect(
        _db: &mut VTabConnection,
        aux: Option<&BatchSlot>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> Result<(Cow<'static, CStr>, Self)> {
        let slot = aux.cloned().ok_or_else(|| rusqlite::Error::ModuleError("event_batch registered without rows".into()))?;
        let schema = format!("CREATE TABLE x({})", event_batch_columns().join(", "));
        let schema = CString::new(schema).map_err(|e| rusqlite::Error::ModuleError(e.to_string()))?;
        Ok((Cow::Owned(schema), EventBatchTable { base: ffi::sqlite3_vtab::default(), slot }))
    }

    fn best_index(&self, info: &mut IndexInfo) -> Result<bool> {
        // Only ever read whole, in order.
        info.set_estimated_cost(1.0);
        Ok(true)
    }

    fn open(&'vtab mut self) -> Result<EventBatchCursor> {
        Ok(EventBatchCursor { base: ffi::sqlite3_vtab_cursor::default(), slot: self.slot.clone(), rows: Vec::new(), at: 0 })
    }
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

unsafe impl VTabCursor for EventBatchCursor {
    fn filter(&mut self, _idx_num: c_int, _idx_str: Option<&str>, _args: &Filters<'_>) -> Result<()> {
        self.give_back();
        self.rows = self.slot.take();
        self.at = 0;
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        self.at += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.at >= self.rows.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> Result<()> {
        let Some(row) = self.rows.get(self.at) else { return Ok(()) };
        match i {
            0 => ctx.set_result(row.event_key),
            1 => ctx.set_result(row.session_pk),
            2 => ctx.set_result(row.kind.as_str()),
            3 => ctx.set_result(row.time_ms),
            4 => ctx.set_result(row.version_rank),
            5 => ctx.set_result(row.extra_json.as_str()),
            // SQLite sets the result to NULL before asking, and most columns are NULL in most rows.
            _ => match usize::try_from(i).ok().and_then(|i| row.columns.get(i - LEADING_COLUMNS.len())) {
                Some(SqlValue::Null) | None => Ok(()),
                Some(SqlValue::Integer(n)) => ctx.set_result(*n),
                Some(SqlValue::Real(x)) => ctx.set_result(*x),
                Some(SqlValue::Text(text)) => ctx.set_result(text.as_str()),
                Some(value) => ctx.set_result(value),
            },
        }
    }

    fn rowid(&self) -> Result<i64> {
        Ok(self.at as i64)
    }
}
