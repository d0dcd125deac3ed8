//! Importers: format detection, one parser per format, and the driver that streams a file
//! into the store inside one transaction.

pub mod datadog;
pub mod datadog_direct;
pub mod guance_csv;
pub mod guance_json;
mod guance_json_direct;
pub mod json_scan;
pub(crate) mod json_token;
pub mod line_protocol;
mod line_protocol_direct;
mod lines;
mod parallel;

use crate::model::Event;
use crate::store::{DeferredIndexes, FileWriter, Store, StoreError, WriteMode, WriteSummary};
use crate::store::writer::WriteOutcome;
use serde::Serialize;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

pub use lines::{human_bytes, MAX_RECORD_BYTES};

/// The formats we read, in the order detection tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    GuanceLineProtocol,
    GuanceJson,
    GuanceCsv,
    DatadogJson,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::GuanceLineProtocol, Format::GuanceJson, Format::GuanceCsv, Format::DatadogJson];

    pub fn name(self) -> &'static str {
        match self {
            Format::GuanceLineProtocol => "Guance line protocol",
            Format::GuanceJson => "Guance DataKit JSON points",
            Format::GuanceCsv => "Guance explorer CSV",
            Format::DatadogJson => "Datadog RUM JSON/NDJSON",
        }
    }
}

/// Why a whole file was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: cannot read: {message}")]
    Unreadable { path: String, message: String },
    #[error("{path}: not a RUM export in any known format (tried: {tried}){hint}")]
    UnknownFormat { path: String, tried: String, hint: String },
    #[error("{path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("{path}: read error at line {line}: {message}")]
    Read { path: String, line: u64, message: String },
    #[error("import cancelled")]
    Cancelled,
    #[error("{path}: internal error: {message}")]
    Internal { path: String, message: String },
}

/// A record that was not imported, and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    pub line: u64,
    pub reason: String,
}

/// Everything a user needs to know about one imported file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub format: Option<Format>,
    pub gzip: bool,
    pub bytes: u64,
    pub summary: WriteSummary,
    pub records_skipped: u64,
    /// The first skipped records with their reasons (all are counted in `records_skipped`).
    pub problems: Vec<Problem>,
    /// Set when the whole file was rejected or rolled back.
    pub error: Option<String>,
    /// Indexes dropped for the import and built again after its rows (see
    /// `store::defer_secondary_indexes`).
    pub indexes_built_after_rows: usize,
}

/// How many skipped records a report lists by line; the rest are counted.
pub const PROBLEMS_LISTED: usize = 200;

/// Progress shared with the window or the command line, and the cancel switch.
#[derive(Debug, Default)]
pub struct ImportProgress {
    pub bytes_read: AtomicU64,
    pub bytes_total: AtomicU64,
    pub events: AtomicU64,
    pub files_done: AtomicU64,
    pub files_total: AtomicU64,
    pub cancel: AtomicBool,
    pub current_file: Mutex<String>,
    /// What the file in progress is at, as an [`ImportStage`]'s number: once its bytes are
    /// read, the end of a large file takes a while (40 s at 1,000,000 sessions) with no byte
    /// to count.
    pub stage: AtomicU8,
    /// Of the indexes built after the rows of the file in progress: how many are done.
    pub indexes_built: AtomicU64,
    pub indexes_total: AtomicU64,
}

/// The steps of one file's import, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportStage {
    /// Reading, parsing and writing the records: the bytes read tell how far.
    Reading = 0,
    /// Writing the sessions still in the writer's cache and their counts.
    FinishingSessions = 1,
    /// Building the indexes dropped for the import (`indexes_built` of `indexes_total`).
    BuildingIndexes = 2,
    /// Writing the transaction to the disk.
    Committing = 3,
}

impl ImportProgress {
    pub fn new() -> Arc<ImportProgress> {
        Arc::new(ImportProgress::default())
    }
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    pub fn stage(&self) -> ImportStage {
        match self.stage.load(Ordering::Relaxed) {
            1 => ImportStage::FinishingSessions,
            2 => ImportStage::BuildingIndexes,
            3 => ImportStage::Committing,
            _ => ImportStage::Reading,
        }
    }

    pub fn set_stage(&self, stage: ImportStage) {
        self.stage.store(stage as u8, Ordering::Relaxed);
    }

    /// The stage in words, for a progress line; None while reading (the bytes say it).
    pub fn stage_text(&self) -> Option<String> {
        match self.stage() {
            ImportStage::Reading => None,
            ImportStage::FinishingSessions => Some("writing the sessions".to_string()),
            ImportStage::BuildingIndexes => Some(format!(
                "building indexes, {} of {}",
                self.indexes_built.load(Ordering::Relaxed),
                self.indexes_total.load(Ordering::Relaxed)
            )),
            ImportStage::Committing => Some("saving to disk".to_string()),
        }
    }
}

/// Where parsers push what they read.
pub trait RecordSink {
    /// One event, read at `line`. An error stops the file (store failure, cancel).
    fn event(&mut self, line: u64, event: Event) -> Result<(), ImportError>;
    /// A record that could not be read.
    fn skipped(&mut self, line: u64, reason: String);
    /// Whether the sink stores rows a parser prepared itself (the import's hot path, see
    /// `datadog_direct`); sinks that keep events say no, and get [`RecordSink::event`] only.
    fn takes_prepared(&self) -> bool {
        false
    }
    /// One event, prepared by the parser; only called when [`RecordSink::takes_prepared`].
    fn prepared_event(&mut self, line: u64, event: crate::store::writer::PreparedEvent) -> Result<(), ImportError> {
        let _ = (line, event);
        Err(ImportError::Internal { path: String::new(), message: "a prepared row was sent to a sink that keeps events".into() })
    }
}

/// A sink that collects into memory: for tests and for the parsers' own checks.
#[derive(Debug, Default)]
pub struct CollectSink {
    pub events: Vec<(u64, Event)>,
    pub problems: Vec<Problem>,
}

impl RecordSink for CollectSink {
    fn event(&mut self, line: u64, event: Event) -> Result<(), ImportError> {
        self.events.push((line, event));
        Ok(())
    }
    fn skipped(&mut self, line: u64, reason: String) {
        self.problems.push(Problem { line, reason });
    }
}

/// Reads a whole stream in a known format into a sink.
/// `file_name` helps formats that name the event kind only there (CSV exports).
pub fn parse_stream(
    format: Format,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
    file_name: Option<&str>,
) -> Result<(), ImportError> {
    match format {
        Format::GuanceLineProtocol => line_protocol::parse(reader, sink),
        Format::GuanceJson => guance_json::parse(reader, sink),
        Format::GuanceCsv => guance_csv::parse(reader, sink, file_name),
        Format::DatadogJson => datadog::parse(reader, sink),
    }
}

/// Counts the compressed bytes read, for progress.
struct CountingReader<R> {
    inner: R,
    progress: Arc<ImportProgress>,
    /// This file's bytes read so far (the gzip bomb guard compares with them).
    file_bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        self.file_bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// How much of the start of a (decompressed) file detection looks at.
const PEEK_BYTES: usize = 64 * 1024;

/// Decompressed bytes a gzip file may expand to before we stop (a gzip bomb guard).
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024 * 1024 * 1024;

/// Real RUM exports compress 5 to 30 times (the sample data: 17); a stream that inflates this many times its
/// compressed size, past [`BOMB_CHECK_AFTER_BYTES`], is a decompression bomb.
pub const MAX_COMPRESSION_RATIO: u64 = 200;
pub const BOMB_CHECK_AFTER_BYTES: u64 = 64 * 1024 * 1024;

/// Stops a decompressed stream that grows past a limit, absolute or relative to the compressed
/// bytes read, with an error that says so.
struct LimitedReader<R> {
    inner: R,
    remaining: u64,
    produced: u64,
    compressed: Arc<AtomicU64>,
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.remaining == 0 {
            return Err(std::io::Error::other(format!(
                "the file decompresses to more than {} GiB; stopped there (gzip bomb guard)",
                MAX_DECOMPRESSED_BYTES >> 30
            )));
        }
        let compressed = self.compressed.load(Ordering::Relaxed).max(1);
        if self.produced > BOMB_CHECK_AFTER_BYTES && self.produced / compressed > MAX_COMPRESSION_RATIO {
            return Err(std::io::Error::other(format!(
                "{} of gzip inflate to over {} ({}x, past the {MAX_COMPRESSION_RATIO}x limit): stopped there (gzip bomb guard)",
                human_bytes(compressed),
                human_bytes(self.produced),
                self.produced / compressed
            )));
        }
        let want = buf.len().min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.remaining -= n as u64;
        self.produced += n as u64;
        Ok(n)
    }
}

/// An opened file: its decompressed stream, with the first bytes already read for detection.
pub struct OpenedFile {
    pub reader: Box<dyn BufRead + Send>,
    pub peek: Vec<u8>,
    pub gzip: bool,
    pub size_bytes: u64,
}

pub fn open_file(path: &Path, progress: &Arc<ImportProgress>) -> Result<OpenedFile, ImportError> {
    let unreadable = |message: String| ImportError::Unreadable { path: path.display().to_string(), message };
    let metadata = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if !metadata.is_file() {
        return Err(unreadable("not a regular file".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let file_bytes = Arc::new(AtomicU64::new(0));
    let counting = CountingReader { inner: file, progress: progress.clone(), file_bytes: file_bytes.clone() };
    let mut raw = BufReader::with_capacity(256 * 1024, counting);
    let magic = raw.fill_buf().map_err(|e| unreadable(e.to_string()))?;
    let gzip = magic.len() >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    let mut stream: Box<dyn Read + Send> = if gzip {
        Box::new(LimitedReader {
            inner: flate2::bufread::MultiGzDecoder::new(raw),
            remaining: MAX_DECOMPRESSED_BYTES,
            produced: 0,
            compressed: file_bytes,
        })
    } else {
        Box::new(raw)
    };
    let mut peek = Vec::with_capacity(PEEK_BYTES);
    (&mut stream).take(PEEK_BYTES as u64).read_to_end(&mut peek).map_err(|e| unreadable(e.to_string()))?;
    let reader = Box::new(BufReader::with_capacity(256 * 1024, Cursor::new(peek.clone()).chain(stream)));
    Ok(OpenedFile { reader, peek, gzip, size_bytes: metadata.len() })
}

/// Detects the format from the first bytes of a (decompressed) file: by content, never by name.
pub fn detect(peek: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(peek);
    let text = text.trim_start_matches('\u{feff}');
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        if guance_json::looks_like(trimmed) {
            return Some(Format::GuanceJson);
        }
        if datadog::looks_like(trimmed) {
            return Some(Format::DatadogJson);
        }
        return None;
    }
    let first_line = trimmed.lines().find(|l| !l.trim().is_empty() && !l.starts_with('#'))?;
    if line_protocol::looks_like(first_line) {
        return Some(Format::GuanceLineProtocol);
    }
    if guance_csv::looks_like(first_line) {
        return Some(Format::GuanceCsv);
    }
    None
}

fn unknown_format(path: &Path, peek: &[u8]) -> ImportError {
    let hint = if peek.is_empty() {
        ": the file is empty".to_string()
    } else if peek.iter().take(4096).filter(|b| **b == 0).count() > 0 {
        ": it looks like a binary file".to_string()
    } else {
        String::new()
    };
    ImportError::UnknownFormat {
        path: path.display().to_string(),
        tried: Format::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", "),
        hint,
    }
}

/// The store sink: events go through the file's writer; problems are collected.
/// Records handed from the parser thread to the writer, in batches (one channel message per
/// record would cost more than parsing it).
enum Record {
    /// Prepared on the parser thread: all the per-event work that needs no database.
    Event(u64, Box<crate::store::writer::PreparedEvent>),
    Skipped(u64, String),
}
const PIPELINE_BATCH_RECORDS: usize = 512;
/// Batches in flight: enough to keep both threads busy, few enough to bound memory.
const PIPELINE_BATCHES: usize = 8;

/// Collects a batch of prepared records.
struct BatchSink {
    batch: Vec<Record>,
}

impl BatchSink {
    fn with_capacity(records: usize) -> BatchSink {
        BatchSink { batch: Vec::with_capacity(records) }
    }
}

impl RecordSink for BatchSink {
    fn event(&mut self, line: u64, event: Event) -> Result<(), ImportError> {
        self.batch.push(match crate::store::writer::prepare(event) {
            Ok(prepared) => Record::Event(line, Box::new(prepared)),
            Err(reason) => Record::Skipped(line, reason),
        });
        Ok(())
    }
    fn takes_prepared(&self) -> bool {
        true
    }
    fn prepared_event(&mut self, line: u64, event: crate::store::writer::PreparedEvent) -> Result<(), ImportError> {
        self.batch.push(Record::Event(line, Box::new(event)));
        Ok(())
    }
    fn skipped(&mut self, line: u64, reason: String) {
        self.batch.push(Record::Skipped(line, reason));
    }
}

/// Sends what a parser reads to the writer in batches.
struct ChannelSink {
    batches: std::sync::mpsc::SyncSender<Vec<Record>>,
    sink: BatchSink,
}

impl ChannelSink {
    fn send(&mut self) -> Result<(), ImportError> {
        let batch = std::mem::replace(&mut self.sink.batch, Vec::with_capacity(PIPELINE_BATCH_RECORDS));
        // The writer hung up: it hit an error or a cancel, which it reports itself.
        self.batches.send(batch).map_err(|_| ImportError::Cancelled)
    }
    fn flush(&mut self) {
        if !self.sink.batch.is_empty() {
            let _ = self.send();
        }
    }
}

impl RecordSink for ChannelSink {
    fn event(&mut self, line: u64, event: Event) -> Result<(), ImportError> {
        self.sink.event(line, event)?;
        if self.sink.batch.len() >= PIPELINE_BATCH_RECORDS {
            self.send()?;
        }
        Ok(())
    }
    fn takes_prepared(&self) -> bool {
        true
    }
    fn prepared_event(&mut self, line: u64, event: crate::store::writer::PreparedEvent) -> Result<(), ImportError> {
        self.sink.prepared_event(line, event)?;
        if self.sink.batch.len() >= PIPELINE_BATCH_RECORDS {
            self.send()?;
        }
        Ok(())
    }
    fn skipped(&mut self, line: u64, reason: String) {
        self.sink.skipped(line, reason);
        if self.sink.batch.len() >= PIPELINE_BATCH_RECORDS {
            let _ = self.send();
        }
    }
}

struct StoreSink<'a, 'c> {
    writer: &'a mut FileWriter<'c>,
    problems: Vec<Problem>,
    skipped: u64,
    progress: &'a ImportProgress,
    path: &'a str,
}

impl StoreSink<'_, '_> {
    fn prepared(&mut self, line: u64, event: crate::store::writer::PreparedEvent) -> Result<(), ImportError> {
        if self.progress.is_cancelled() {
            return Err(ImportError::Cancelled);
        }
        match self.writer.write_prepared(line, event) {
            Ok(WriteOutcome::Skipped(reason)) => self.skipped(line, reason),
            Ok(_) => {
                self.progress.events.fetch_add(1, Ordering::Relaxed);
            }
            Err(source) => return Err(ImportError::Store { path: self.path.to_string(), source }),
        }
        Ok(())
    }
}

impl RecordSink for StoreSink<'_, '_> {
    fn event(&mut self, line: u64, event: Event) -> Result<(), ImportError> {
        match crate::store::writer::prepare(event) {
            Ok(prepared) => self.prepared(line, prepared),
            Err(reason) => {
                self.skipped(line, reason);
                Ok(())
            }
        }
    }
    fn takes_prepared(&self) -> bool {
        true
    }
    fn prepared_event(&mut self, line: u64, event: crate::store::writer::PreparedEvent) -> Result<(), ImportError> {
        self.prepared(line, event)
    }
    fn skipped(&mut self, line: u64, reason: String) {
        self.skipped += 1;
        if self.problems.len() < PROBLEMS_LISTED {
            self.problems.push(Problem { line, reason });
        }
    }
}

/// Files to import from the paths a user gave: directories are walked, in name order.
pub fn expand_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(_) => {
                    out.push(path.clone()); // reported as unreadable when imported
                    continue;
                }
            };
            entries.retain(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')));
            entries.sort();
            out.extend(expand_paths(&entries));
        } else {
            out.push(path.clone());
        }
    }
    out
}

/// The files in import order: Guance CSV files of views (by the name the CSV reader takes the
/// kind from) before the others, each group in the order given. A CSV export is a file per
/// kind; the views' file sets each session's pages, so the later files add to the sessions
/// instead of recounting them from all their events (10k-session export, three alternating
/// pairs: 4.15-4.48 s in name order, views last, against 2.84-3.09 s). An export's files give
/// the same events and sessions in either order, only their row numbers differ (copies of one
/// view in two files of equal version would merge the other way round: not an export's case).
fn views_first(mut files: Vec<PathBuf>) -> Vec<PathBuf> {
    let is_view_csv = |path: &PathBuf| {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
        (name.ends_with(".csv") || name.ends_with(".csv.gz")) && guance_csv::kind_from_file_name(&name) == Some("view")
    };
    files.sort_by_key(|path| !is_view_csv(path)); // stable: each group keeps its order
    files
}

/// Imports one file in one transaction: it all lands, or (on a store error, a cancel or a
/// kill) nothing of it does.
pub fn import_file(store: &mut Store, path: &Path, progress: &Arc<ImportProgress>) -> FileReport {
    let display = path.display().to_string();
    let mut report = FileReport {
        path: display.clone(),
        format: None,
        gzip: false,
        bytes: 0,
        summary: WriteSummary::default(),
        records_skipped: 0,
        problems: Vec::new(),
        error: None,
        indexes_built_after_rows: 0,
    };
    if let Ok(mut current) = progress.current_file.lock() {
        *current = display.clone();
    }
    progress.set_stage(ImportStage::Reading);
    let write_mode = store.begin_bulk_load();
    // Through the WAL the commit leaves the checkpoint to the caller, once the new sessions can
    // be shown (see `Store::pause_checkpoints`).
    if write_mode == WriteMode::Wal {
        store.pause_checkpoints();
    }
    let result = match store.pause_foreign_keys() {
        Ok(()) => {
            let result = import_file_inner(store, path, progress, &mut report, write_mode);
            store.resume_foreign_keys();
            result
        }
        Err(source) => Err(ImportError::Store { path: display.clone(), source }),
    };
    if write_mode == WriteMode::Wal {
        store.resume_checkpoints();
    } else {
        store.end_bulk_load();
    }
    if let Err(error) = result {
        report.error = Some(error.to_string());
    }
    progress.files_done.fetch_add(1, Ordering::Relaxed);
    report
}

fn import_file_inner(
    store: &mut Store,
    path: &Path,
    progress: &Arc<ImportProgress>,
    report: &mut FileReport,
    write_mode: WriteMode,
) -> Result<(), ImportError> {
    let bulk = write_mode == WriteMode::DirectIntoEmpty;
    let mut opened = open_file(path, progress)?;
    report.gzip = opened.gzip;
    report.bytes = opened.size_bytes;
    let format = detect(&opened.peek).ok_or_else(|| unknown_format(path, &opened.peek))?;
    report.format = Some(format);
    let store_error = |source: StoreError| ImportError::Store { path: report.path.clone(), source };
    let started = std::time::Instant::now();
    let session_cache_limit = store.session_cache_limit.max(1);
    let input_bytes_per_session_estimate = store.input_bytes_per_session_estimate.max(1);
    // RUM_DEFER_INDEXES_FROM_BYTES overrides the threshold, for measuring.
    let defer_indexes_from_bytes = std::env::var("RUM_DEFER_INDEXES_FROM_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(store.defer_indexes_from_bytes);
    // The pages written are handed to the disk as they come, so the commit's fsync finds
    // little left to write (see `store::writeback`): into an empty database they go to the
    // database file, into one with data to its write-ahead log.
    let writeback = if write_mode != WriteMode::Wal {
        crate::store::writeback::EarlyWriteback::start(&store.path)
    } else {
        crate::store::writeback::EarlyWriteback::start(&crate::store::wal_path(&store.path))
    };
    let tx = store.conn.transaction().map_err(|e| store_error(e.into()))?;
    // Into an empty database the secondary indexes are built after the rows, from sorted
    // keys, instead of taking each row at a random place (see `store::defer_secondary_indexes`).
    // The events' view timings only for large inputs: below the size where it outgrows
    // SQLite's page cache, building it afterwards (a scan of the table) costs as much as it
    // saves. The session list's 28 are always built afterwards: sessions are written at the
    // end, when nothing else runs beside the writer. Into a database with sessions, the
    // session list's when the input brings about as many again (see
    // `store::later_import_defers_session_list`).
    let input_bytes_estimate = opened.size_bytes.saturating_mul(if opened.gzip { 5 } else { 1 });
    let deferred_indexes = if bulk {
        let scope = if input_bytes_estimate >= defer_indexes_from_bytes { DeferredIndexes::SessionListAndRandomEventKeys } else { DeferredIndexes::SessionList };
        crate::store::defer_secondary_indexes(&tx, scope).map_err(store_error)?
    } else if later_import_defers(&tx, input_bytes_estimate, input_bytes_per_session_estimate).map_err(store_error)? {
        crate::store::defer_secondary_indexes(&tx, DeferredIndexes::SessionList).map_err(store_error)?
    } else {
        Vec::new()
    };
    let mut writer = FileWriter::new(&tx, &report.path, format.name(), opened.size_bytes).map_err(store_error)?;
    writer.session_cache_limit = session_cache_limit;
    writer.pending_view_limit = store.pending_view_limit.max(1);
    let mut sink = StoreSink { writer: &mut writer, problems: Vec::new(), skipped: 0, progress, path: &report.path };
    let file_name = path.file_name().and_then(|n| n.to_str()).map(str::to_string);
    // Parsing runs on other threads and hands batches to this one, which writes. Line-based
    // files (NDJSON, line protocol, JSON arrays with an element a line) are read in chunks of
    // lines and parsed by several workers; other shapes by one parser thread.
    let reader = &mut opened.reader;
    // A JSON format's reader of a record, and its reader straight to a row (which the first
    // tries itself; arrays of lines also ask it for whole-element lines, see `JsonArrayLines`).
    let json_readers: Option<(json_scan::RecordReader, json_scan::DirectReader)> = match format {
        Format::DatadogJson => Some((datadog::record, datadog_direct::prepare_record)),
        Format::GuanceJson => Some((guance_json::record, guance_json_direct::prepare_point)),
        Format::GuanceLineProtocol | Format::GuanceCsv => None,
    };
    let json_shape = json_readers.map(|_| json_scan::shape(&opened.peek));
    let line_based = format == Format::GuanceLineProtocol
        || matches!(json_shape, Some(json_scan::JsonShape::Lines | json_scan::JsonShape::ArrayOfLines));
    // RUM_PARSER_THREADS overrides the count, for measuring.
    let workers = match store.parser_threads.or_else(|| std::env::var("RUM_PARSER_THREADS").ok().and_then(|v| v.parse().ok())) {
        _ if !line_based => 1,
        Some(threads) => threads.max(1),
        None => parallel::worker_count(),
    };
    // How long the writer waited for parsed records (parsing some itself, on line-based
    // files): whether parsing or writing sets the pace.
    let mut writer_waited = std::time::Duration::ZERO;
    let mut writer_parsing = parallel::Outcome::default();
    std::thread::scope(|scope| -> Result<(), ImportError> {
        let mut parse_outcome = None;
        let (mut next_batch, parsers): (Box<dyn FnMut() -> Option<Vec<Record>>>, _) = match (format, json_readers, json_shape) {
            (_, Some((record, _)), Some(json_scan::JsonShape::Lines)) => {
                let format = json_scan::JsonRecordLines { record };
                let (mut batches, outcome, handles) = parallel::spawn(scope, &mut **reader, workers, format);
                parse_outcome = Some(outcome);
                (Box::new(move || batches.next_batch()), handles)
            }
            (_, Some((record, direct)), Some(json_scan::JsonShape::ArrayOfLines)) => {
                let format = json_scan::JsonArrayLines { record, direct: Some(direct) };
                let (mut batches, outcome, handles) = parallel::spawn(scope, &mut **reader, workers, format);
                parse_outcome = Some(outcome);
                (Box::new(move || batches.next_batch()), handles)
            }
            (Format::GuanceLineProtocol, _, _) => {
                let (mut batches, outcome, handles) = parallel::spawn(scope, &mut **reader, workers, line_protocol::PointLines);
                parse_outcome = Some(outcome);
                (Box::new(move || batches.next_batch()), handles)
            }
            _ => {
                let (batches, received) = std::sync::mpsc::sync_channel::<Vec<Record>>(PIPELINE_BATCHES);
                let parser = scope.spawn(move || {
                    let mut sender = ChannelSink { batches, sink: BatchSink::with_capacity(PIPELINE_BATCH_RECORDS) };
                    let result = parse_stream(format, reader, &mut sender, file_name.as_deref());
                    sender.flush();
                    result
                });
                (Box::new(move || received.recv().ok()), vec![parser])
            }
        };
        let mut written = Ok(());
        // For measuring only (RUM_IMPORT_WRITE_ALONE=1): the whole file is parsed into memory
        // first, so the writing is timed alone, as if parsing cost nothing.
        let mut parsed_first: Option<std::collections::VecDeque<Vec<Record>>> =
            std::env::var_os("RUM_IMPORT_WRITE_ALONE").map(|_| std::iter::from_fn(&mut next_batch).collect());
        let writing_started = std::time::Instant::now();
        loop {
            let waiting_since = std::time::Instant::now();
            let batch = match parsed_first.as_mut() {
                Some(batches) => batches.pop_front(),
                None => next_batch(),
            };
            let Some(batch) = batch else { break };
            writer_waited += waiting_since.elapsed();
            for record in batch {
                let result = match record {
                    Record::Event(line, event) => sink.prepared(line, *event),
                    Record::Skipped(line, reason) => {
                        sink.skipped(line, reason);
                        Ok(())
                    }
                };
                if let Err(e) = result {
                    written = Err(e);
                    break;
                }
            }
            if written.is_err() {
                break;
            }
        }
        if parsed_first.is_some() {
            eprintln!("{}: written alone in {:.2} s (parsed beforehand)", report.path, writing_started.elapsed().as_secs_f64());
        }
        // Dropping the receivers stops the parsers (at once after an error or a cancel).
        drop(next_batch);
        let mut parsed = Ok(());
        for parser in parsers {
            let result = parser.join().unwrap_or_else(|_| {
                Err(ImportError::Internal { path: path.display().to_string(), message: "the parser stopped on a bug (a panic)".into() })
            });
            // The first error, but a parser that failed stops the others as a cancel would
            // (their channels close): its own error is the one to report.
            let replaces = match (&parsed, &result) {
                (_, Ok(())) => false,
                (Ok(()), Err(_)) => true,
                (Err(ImportError::Cancelled), Err(e)) => !matches!(e, ImportError::Cancelled),
                (Err(_), Err(_)) => false,
            };
            if replaces {
                parsed = result;
            }
        }
        // A chunk that failed to parse ended the batches early: its error is the one to report.
        if let Some(outcome) = parse_outcome {
            writer_parsing = outcome.take();
            if let Some(failure) = writer_parsing.failure.take() {
                if matches!(parsed, Ok(()) | Err(ImportError::Cancelled)) {
                    parsed = Err(failure);
                }
            }
        }
        // A write error explains a parser stopped by the closed channel, so it comes first.
        written?;
        parsed
    })?;
    let (problems, skipped) = (sink.problems, sink.skipped);
    let written_at = started.elapsed();
    progress.set_stage(ImportStage::FinishingSessions);
    let summary = writer.finish(skipped).map_err(store_error)?;
    let indexed_at = started.elapsed();
    progress.indexes_built.store(0, Ordering::Relaxed);
    progress.indexes_total.store(deferred_indexes.len() as u64, Ordering::Relaxed);
    if !deferred_indexes.is_empty() {
        progress.set_stage(ImportStage::BuildingIndexes);
    }
    let index_built = |built: usize| progress.indexes_built.store(built as u64, Ordering::Relaxed);
    crate::store::build_indexes_reporting(&tx, &deferred_indexes, &|| progress.is_cancelled(), &index_built).map_err(|e| match e {
        StoreError::Cancelled => ImportError::Cancelled,
        other => store_error(other),
    })?;
    let finished_at = started.elapsed();
    report.indexes_built_after_rows = deferred_indexes.len();
    if progress.is_cancelled() {
        return Err(ImportError::Cancelled); // dropping tx rolls back
    }
    drop(writeback);
    progress.set_stage(ImportStage::Committing);
    tx.commit().map_err(|e| store_error(e.into()))?;
    if std::env::var_os("RUM_IMPORT_TIMINGS").is_some() {
        // For profiling imports (bench/compare.sh reports whole processes).
        eprintln!(
            "{}: parse and write {:.2} s (the writer waited {:.2} s for {workers} parser threads, and parsed {} chunks itself in {:.2} s of that, {} of them again as the chunk before ended inside a record), session aggregates {:.2} s, index build {:.2} s ({} indexes), commit {:.2} s",
            report.path,
            written_at.as_secs_f64(),
            writer_waited.as_secs_f64(),
            writer_parsing.chunks_parsed_by_writer,
            writer_parsing.writer_parsing.as_secs_f64(),
            writer_parsing.chunks_parsed_again,
            (indexed_at - written_at).as_secs_f64(),
            (finished_at - indexed_at).as_secs_f64(),
            deferred_indexes.len(),
            (started.elapsed() - finished_at).as_secs_f64()
        );
    }
    report.summary = summary;
    report.records_skipped = skipped;
    report.problems = problems;
    Ok(())
}

/// [`crate::store::later_import_defers_session_list`], or what RUM_LATER_IMPORT_DEFERS (0 or
/// 1) says, for measuring.
fn later_import_defers(tx: &rusqlite::Connection, input_bytes: u64, bytes_per_session: u64) -> Result<bool, StoreError> {
    if let Some(forced) = std::env::var("RUM_LATER_IMPORT_DEFERS").ok().and_then(|v| v.parse::<u8>().ok()) {
        return Ok(forced == 1);
    }
    crate::store::later_import_defers_session_list(tx, input_bytes, bytes_per_session)
}

/// Imports files and directories one file at a time; `on_file` hears of each as it ends.
/// Files imported through the WAL stay in it: the caller calls [`Store::checkpoint`] after,
/// when it has shown what came in.
pub fn import_paths(
    store: &mut Store,
    paths: &[PathBuf],
    progress: &Arc<ImportProgress>,
    mut on_file: impl FnMut(&FileReport),
) -> Vec<FileReport> {
    let files = views_first(expand_paths(paths));
    let total: u64 = files.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    progress.bytes_total.fetch_add(total, Ordering::Relaxed);
    progress.files_total.fetch_add(files.len() as u64, Ordering::Relaxed);
    let mut reports = Vec::new();
    for file in files {
        if progress.is_cancelled() {
            break;
        }
        let report = import_file(store, &file, progress);
        on_file(&report);
        reports.push(report);
    }
    reports
}
