//! NDJSON parsed on several threads. One thread reads lines and hands them out in chunks;
//! workers turn each chunk into a batch of prepared records; the writer takes the batches
//! back in file order: chunk i goes to worker i % n and its batch comes back from that
//! worker, and each worker keeps its chunks in order. So the database is the same whatever
//! the number of workers. Parsing is most of an import's work (a profile of a 10,000-session
//! NDJSON import: the parser thread busy all along, the writer waiting 0.3 to 0.7 s of it).

use super::json_scan::{for_each_line, LineRead};
use super::{BatchSink, ImportError, Record, RecordSink};
use std::io::BufRead;
use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};

/// Parses one record's text, starting at a line, into the sink.
pub type RecordParser = fn(u64, &[u8], &mut dyn RecordSink) -> Result<(), ImportError>;

/// Lines per chunk: a channel message per line would cost more than parsing it.
const CHUNK_LINES: usize = 512;
/// Chunks waiting per worker, and batches waiting per worker: enough to keep the threads
/// busy, few enough to bound memory (about a MB each).
const CHUNKS_QUEUED: usize = 2;
const BATCHES_QUEUED: usize = 4;

enum Entry {
    Line(u64, Range<usize>),
    Skipped(u64, String),
}

/// Lines, copied one after another into one buffer, in file order.
#[derive(Default)]
struct Chunk {
    text: Vec<u8>,
    entries: Vec<Entry>,
}

/// Workers for a machine: the cores but one, which the writer needs for itself (it is busy
/// nearly all along once parsing is spread). On this project's 2-core machine one worker and
/// two took the same time (10,000 sessions: 2.35-3.11 s and 2.40-2.89 s to parse and write).
/// At most six: each holds batches in flight, and a 1 GB import peaked at 158 MB with one
/// worker, 199 MB with four and 215 MB with six (the target is 256 MB).
pub fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)).clamp(1, 6)
}

/// The batches of a file in order, as the writer takes them.
pub struct OrderedBatches {
    batches: Vec<Receiver<Vec<Record>>>,
    next: usize,
}

impl OrderedBatches {
    /// The next batch; None at the end of the file (or when a worker stopped).
    pub fn next_batch(&mut self) -> Option<Vec<Record>> {
        let count = self.batches.len();
        let batch = self.batches[self.next % count].recv().ok();
        self.next += 1;
        batch
    }
}

/// Starts the reader and `workers` parsers. The handles' results: the reader's first, then
/// each worker's; `Cancelled` when the writer hung up.
pub fn spawn<'scope>(
    scope: &'scope Scope<'scope, '_>,
    reader: &'scope mut (dyn BufRead + Send),
    workers: usize,
    parse_record: RecordParser,
) -> (OrderedBatches, Vec<ScopedJoinHandle<'scope, Result<(), ImportError>>>) {
    let workers = workers.max(1);
    let mut handles = Vec::with_capacity(workers + 1);
    let mut chunk_senders = Vec::with_capacity(workers);
    let mut batch_receivers = Vec::with_capacity(workers);
    // Emptied chunks go back to the reader: their buffers are reused, not allocated anew.
    let (recycle, recycled) = sync_channel::<Chunk>(workers * (CHUNKS_QUEUED + 2));
    for _ in 0..workers {
        let (chunk_sender, chunks) = sync_channel::<Chunk>(CHUNKS_QUEUED);
        let (batch_sender, batches) = sync_channel::<Vec<Record>>(BATCHES_QUEUED);
        chunk_senders.push(chunk_sender);
        batch_receivers.push(batches);
        let recycle = recycle.clone();
        handles.push(scope.spawn(move || parse_chunks(chunks, batch_sender, recycle, parse_record)));
    }
    drop(recycle);
    let reader_handle = scope.spawn(move || read_chunks(reader, chunk_senders, recycled));
    handles.insert(0, reader_handle);
    (OrderedBatches { batches: batch_receivers, next: 0 }, handles)
}

fn read_chunks(reader: &mut dyn BufRead, workers: Vec<SyncSender<Chunk>>, recycled: Receiver<Chunk>) -> Result<(), ImportError> {
    let mut chunk = Chunk::default();
    let mut sent = 0usize;
    let mut send = |chunk: Chunk| -> Result<(), ImportError> {
        // A worker hung up: the writer stopped (an error or a cancel it reports itself).
        workers[sent % workers.len()].send(chunk).map_err(|_| ImportError::Cancelled)?;
        sent += 1;
        Ok(())
    };
    for_each_line(reader, &mut |line| {
        match line {
            LineRead::Text(line_no, bytes) => {
                let start = chunk.text.len();
                chunk.text.extend_from_slice(bytes);
                chunk.entries.push(Entry::Line(line_no, start..chunk.text.len()));
            }
            LineRead::Skipped(line_no, reason) => chunk.entries.push(Entry::Skipped(line_no, reason)),
        }
        if chunk.entries.len() >= CHUNK_LINES {
            let next = recycled.try_recv().unwrap_or_default();
            send(std::mem::replace(&mut chunk, next))?;
        }
        Ok(())
    })?;
    if !chunk.entries.is_empty() {
        send(chunk)?;
    }
    Ok(())
}

fn parse_chunks(
    chunks: Receiver<Chunk>,
    batches: SyncSender<Vec<Record>>,
    recycle: SyncSender<Chunk>,
    parse_record: RecordParser,
) -> Result<(), ImportError> {
    for mut chunk in chunks {
        let mut sink = BatchSink::with_capacity(chunk.entries.len());
        for entry in chunk.entries.drain(..) {
            match entry {
                Entry::Line(line_no, range) => parse_record(line_no, &chunk.text[range], &mut sink)?,
                Entry::Skipped(line_no, reason) => sink.skipped(line_no, reason),
            }
        }
        batches.send(sink.batch).map_err(|_| ImportError::Cancelled)?;
        chunk.text.clear();
        // The reader may have ended or have enough buffers: then this one is dropped.
        let _ = recycle.try_send(chunk);
    }
    Ok(())
}
