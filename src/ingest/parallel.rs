//! NDJSON parsed on several threads. One thread reads lines and hands them out in chunks;
//! workers turn each chunk into a batch of prepared records; the writer takes the batches
//! back in file order. So the database is the same whatever the number of workers, and
//! whichever thread parsed a chunk.
//!
//! The writer parses too when it would wait: a chunk no worker has started it takes itself,
//! and while a worker is on the chunk it needs next, it parses a later one. Parsing is most
//! of an import's work, and on two cores one worker and the writer share them without a third
//! busy thread (a 10,000-session import: the writer waited 0.33–0.37 s of 1.37 s for one
//! worker; a second worker took as long as one).

use super::json_scan::{for_each_line, LineRead};
use super::{BatchSink, ImportError, Record, RecordSink};
use std::collections::VecDeque;
use std::io::BufRead;
use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

/// Parses one record's text, starting at a line, into the sink.
pub type RecordParser = fn(u64, &[u8], &mut dyn RecordSink) -> Result<(), ImportError>;

/// Lines per chunk: a channel message per line would cost more than parsing it.
const CHUNK_LINES: usize = 512;
/// Chunks queued for the writer (and, the same ones, for the workers), and how far past the
/// chunk it needs the writer looks for one to parse: enough to keep the threads busy, few
/// enough to bound memory (a chunk and its batch are about a MB), whatever the workers.
const CHUNKS_AHEAD: usize = 4;

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

/// Workers for a machine: the cores but one, which the writer needs for itself (and parses on
/// when it would wait). At most six: each holds the chunk it parses, and a 1 GB import peaked
/// at 163 MB with one worker, 175 MB with four and 184 MB with six (the target is 256 MB).
pub fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)).clamp(1, 6)
}

enum JobState {
    /// Read, not parsed yet.
    Waiting(Chunk),
    /// A thread is parsing it.
    Parsing,
    Parsed(Result<Vec<Record>, ImportError>),
    /// The writer took the batch.
    Taken,
}

/// One chunk, from the reader to whichever thread parses it, and its batch to the writer.
struct Job {
    state: Mutex<JobState>,
    parsed: Condvar,
}

impl Job {
    fn state(&self) -> MutexGuard<'_, JobState> {
        lock(&self.state)
    }

    /// The chunk, when no thread has taken it yet; the job is then this thread's to parse.
    fn start(&self) -> Option<Chunk> {
        let mut state = self.state();
        match std::mem::replace(&mut *state, JobState::Parsing) {
            JobState::Waiting(chunk) => Some(chunk),
            other => {
                *state = other;
                None
            }
        }
    }

    fn finish(&self, batch: Result<Vec<Record>, ImportError>) {
        *self.state() = JobState::Parsed(batch);
        self.parsed.notify_all();
    }
}

/// Parses a chunk, then hands its buffers back to the reader.
fn parse_chunk(mut chunk: Chunk, parse_record: RecordParser, recycle: &SyncSender<Chunk>) -> Result<Vec<Record>, ImportError> {
    let mut sink = BatchSink::with_capacity(chunk.entries.len());
    let mut result = Ok(());
    for entry in chunk.entries.drain(..) {
        match entry {
            Entry::Line(line_no, range) => {
                result = parse_record(line_no, chunk.text.get(range).unwrap_or_default(), &mut sink);
                if result.is_err() {
                    break;
                }
            }
            Entry::Skipped(line_no, reason) => sink.skipped(line_no, reason),
        }
    }
    chunk.text.clear();
    chunk.entries.clear();
    // The reader may have ended or have enough buffers: then this one is dropped.
    let _ = recycle.try_send(chunk);
    result.map(|()| sink.batch)
}

/// The batches of a file in order, as the writer takes them.
pub struct OrderedBatches {
    /// The jobs in file order, as the reader makes them.
    jobs: Receiver<Arc<Job>>,
    /// Jobs taken from `jobs`, the next one in order first.
    window: VecDeque<Arc<Job>>,
    parse_record: RecordParser,
    recycle: SyncSender<Chunk>,
    outcome: Arc<Mutex<Outcome>>,
}

impl OrderedBatches {
    /// The next batch; None at the end of the file, or when parsing failed (see [`Outcome`])
    /// or the reader stopped.
    pub fn next_batch(&mut self) -> Option<Vec<Record>> {
        loop {
            if self.window.is_empty() {
                self.window.push_back(self.jobs.recv().ok()?);
            }
            let job = self.window.front()?.clone();
            let mut state = job.state();
            match std::mem::replace(&mut *state, JobState::Taken) {
                JobState::Parsed(batch) => {
                    drop(state);
                    self.window.pop_front();
                    return self.batch_or_failure(batch);
                }
                JobState::Waiting(chunk) => {
                    *state = JobState::Parsing;
                    drop(state);
                    self.window.pop_front();
                    let batch = self.parse_here(chunk);
                    return self.batch_or_failure(batch);
                }
                JobState::Parsing => {
                    *state = JobState::Parsing;
                    drop(state);
                    // A worker has it: parse a later chunk meanwhile, else wait for it.
                    if let Some((later, chunk)) = self.later_waiting_job() {
                        let batch = self.parse_here(chunk);
                        later.finish(batch);
                        continue;
                    }
                    // Briefly: the reader may hand out a chunk to parse meanwhile.
                    let state = job.state();
                    if matches!(*state, JobState::Parsing) {
                        let _ = job.parsed.wait_timeout(state, Duration::from_millis(1));
                    }
                }
                JobState::Taken => {
                    // Only this thread takes batches, and it drops the job when it does.
                    drop(state);
                    self.window.pop_front();
                }
            }
        }
    }

    fn parse_here(&mut self, chunk: Chunk) -> Result<Vec<Record>, ImportError> {
        let started = Instant::now();
        let batch = parse_chunk(chunk, self.parse_record, &self.recycle);
        let mut outcome = lock(&self.outcome);
        outcome.writer_parsing += started.elapsed();
        outcome.chunks_parsed_by_writer += 1;
        batch
    }

    /// A job after the next one that no thread has started, taken for this one to parse.
    fn later_waiting_job(&mut self) -> Option<(Arc<Job>, Chunk)> {
        for job in self.window.iter().skip(1) {
            if let Some(chunk) = job.start() {
                return Some((job.clone(), chunk));
            }
        }
        while self.window.len() <= CHUNKS_AHEAD {
            match self.jobs.try_recv() {
                Ok(job) => {
                    self.window.push_back(job.clone());
                    if let Some(chunk) = job.start() {
                        return Some((job, chunk));
                    }
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        None
    }

    fn batch_or_failure(&mut self, batch: Result<Vec<Record>, ImportError>) -> Option<Vec<Record>> {
        match batch {
            Ok(batch) => Some(batch),
            Err(error) => {
                lock(&self.outcome).failure = Some(error);
                None
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: still usable.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the writer's side of parsing came to, read once the batches are done.
#[derive(Default)]
pub struct Outcome {
    /// Why parsing failed, when it did: [`OrderedBatches::next_batch`] then ended early.
    pub failure: Option<ImportError>,
    /// Time the writer spent parsing, and the chunks it parsed (for RUM_IMPORT_TIMINGS).
    pub writer_parsing: Duration,
    pub chunks_parsed_by_writer: u64,
}

/// Where [`Outcome`] is kept while the writer takes batches.
pub struct ParseOutcome(Arc<Mutex<Outcome>>);

impl ParseOutcome {
    pub fn take(&self) -> Outcome {
        std::mem::take(&mut *lock(&self.0))
    }
}

/// Starts the reader and `workers` parsers. The handles' results: the reader's first, then
/// each worker's; `Cancelled` when the writer hung up.
pub fn spawn<'scope>(
    scope: &'scope Scope<'scope, '_>,
    reader: &'scope mut (dyn BufRead + Send),
    workers: usize,
    parse_record: RecordParser,
) -> (OrderedBatches, ParseOutcome, Vec<ScopedJoinHandle<'scope, Result<(), ImportError>>>) {
    let workers = workers.max(1);
    let mut handles = Vec::with_capacity(workers + 1);
    // Every job goes to the writer, in order, and to the workers, who take the next one free.
    let (to_writer, jobs) = sync_channel::<Arc<Job>>(CHUNKS_AHEAD);
    let (to_workers, work) = sync_channel::<Arc<Job>>(CHUNKS_AHEAD);
    let work = Arc::new(Mutex::new(work));
    // Emptied chunks go back to the reader: their buffers are reused, not allocated anew.
    let (recycle, recycled) = sync_channel::<Chunk>(3 * CHUNKS_AHEAD + workers);
    for _ in 0..workers {
        let (work, recycle) = (work.clone(), recycle.clone());
        handles.push(scope.spawn(move || parse_jobs(&work, &recycle, parse_record)));
    }
    let reader_handle = scope.spawn(move || read_chunks(reader, &to_writer, &to_workers, &recycled));
    handles.insert(0, reader_handle);
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let batches = OrderedBatches { jobs, window: VecDeque::new(), parse_record, recycle, outcome: outcome.clone() };
    (batches, ParseOutcome(outcome), handles)
}

fn read_chunks(
    reader: &mut dyn BufRead,
    to_writer: &SyncSender<Arc<Job>>,
    to_workers: &SyncSender<Arc<Job>>,
    recycled: &Receiver<Chunk>,
) -> Result<(), ImportError> {
    let mut chunk = Chunk::default();
    let send = |chunk: Chunk| -> Result<(), ImportError> {
        let job = Arc::new(Job { state: Mutex::new(JobState::Waiting(chunk)), parsed: Condvar::new() });
        // The writer hung up: it stopped (an error or a cancel it reports itself).
        to_writer.send(job.clone()).map_err(|_| ImportError::Cancelled)?;
        // Without workers left the writer parses every chunk itself.
        let _ = to_workers.send(job);
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

/// A worker: parses the next job no other thread has started, until the reader ends.
fn parse_jobs(work: &Mutex<Receiver<Arc<Job>>>, recycle: &SyncSender<Chunk>, parse_record: RecordParser) -> Result<(), ImportError> {
    loop {
        let job = {
            let work = lock(work);
            match work.recv() {
                Ok(job) => job,
                Err(_) => return Ok(()),
            }
        };
        if let Some(chunk) = job.start() {
            let batch = parse_chunk(chunk, parse_record, recycle);
            let failed = batch.is_err();
            job.finish(batch);
            if failed {
                return Ok(()); // the writer reports the failure when it reaches the job
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each line comes back as a skipped record with its text. Workers (unnamed threads) take
    /// 2 ms a line; the writer (the test's own thread, which has a name) none.
    fn slow_on_workers(line: u64, bytes: &[u8], sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        if std::thread::current().name().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        if bytes == b"fail" {
            return Err(ImportError::Internal { path: "test".into(), message: format!("line {line}") });
        }
        sink.skipped(line, String::from_utf8_lossy(bytes).into_owned());
        Ok(())
    }

    fn lines(count: usize) -> String {
        (1..=count).map(|i| format!("{{\"n\":{i}}}\n")).collect()
    }

    /// Every batch in order, with the outcome.
    fn run(text: &str, workers: usize) -> (Vec<(u64, String)>, Outcome) {
        let mut reader = std::io::Cursor::new(text.as_bytes().to_vec());
        std::thread::scope(|scope| {
            let (mut batches, outcome, handles) = spawn(scope, &mut reader, workers, slow_on_workers);
            let mut seen = Vec::new();
            while let Some(batch) = batches.next_batch() {
                for record in batch {
                    if let Record::Skipped(line, text) = record {
                        seen.push((line, text));
                    }
                }
            }
            drop(batches);
            for handle in handles {
                let _ = handle.join();
            }
            (seen, outcome.take())
        })
    }

    #[test]
    fn the_writer_parses_what_workers_have_not_reached_and_order_holds() {
        let count = 10 * CHUNK_LINES + 7;
        for workers in [1, 2] {
            let (seen, outcome) = run(&lines(count), workers);
            let expected: Vec<(u64, String)> = (1..=count as u64).map(|i| (i, format!("{{\"n\":{i}}}"))).collect();
            assert_eq!(seen, expected, "{workers} workers");
            assert!(outcome.failure.is_none());
            // Workers take a second a chunk here: the writer, which takes none, parses most.
            assert!(outcome.chunks_parsed_by_writer >= 6, "{workers} workers: {} chunks by the writer", outcome.chunks_parsed_by_writer);
        }
    }

    #[test]
    fn a_chunk_that_fails_ends_the_batches_with_its_error() {
        let mut text = lines(3 * CHUNK_LINES);
        text.push_str("fail\n");
        text.push_str(&lines(CHUNK_LINES));
        let (seen, outcome) = run(&text, 1);
        assert!(seen.len() <= 3 * CHUNK_LINES, "nothing after the failed chunk: {}", seen.len());
        match outcome.failure {
            Some(ImportError::Internal { message, .. }) => assert_eq!(message, format!("line {}", 3 * CHUNK_LINES + 1)),
            other => panic!("expected the parse error, got {other:?}"),
        }
    }
}
