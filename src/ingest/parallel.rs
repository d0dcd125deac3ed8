//! Line-based files (NDJSON, line protocol, JSON arrays with an element a line) parsed on
//! several threads. One thread reads lines and hands them out in chunks; workers turn each
//! chunk into a batch of prepared records; the
//! writer takes the batches back in file order. So the database is the same whatever the
//! number of workers, and whichever thread parsed a chunk.
//!
//! The writer parses too when it would wait: a chunk no worker has started it takes itself,
//! and while a worker is on the chunk it needs next, it parses a later one. Parsing is most
//! of an import's work, and on two cores one worker and the writer share them without a third
//! busy thread (a 10,000-session import: the writer waited 0.33–0.37 s of 1.37 s for one
//! worker; a second worker took as long as one).
//!
//! A record may span lines (a line-protocol point with a newline in a quoted field), so a
//! chunk may start inside one. Chunks are parsed ahead as if they started between records;
//! the writer, which knows what the chunk before left open, parses a chunk again from there
//! when that guess was wrong (see [`ChunkFormat`]).

use super::lines::{for_each_line, LineRead};
use super::{BatchSink, ImportError, Record, RecordSink};
use std::collections::VecDeque;
use std::io::BufRead;
use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

/// A line-based format, as seen by the threads that parse it in chunks.
pub trait ChunkFormat: Copy + Send + Sync + 'static {
    /// What a chunk's last lines leave open for the next chunk: a record that goes on.
    type Carry: Send;
    /// Whether chunks may leave a record open. Then a chunk's lines are kept until the writer
    /// takes its batch, to be parsed again if the guess that it started between records was
    /// wrong.
    const MAY_CARRY: bool;
    /// Whether blank lines are passed on (they may belong to a record that spans lines).
    const KEEPS_BLANK_LINES: bool;
    /// Parses a chunk's lines into the sink, going on from `carry` (None: between records).
    /// Returns what the last lines leave open. Given the same carry and lines, the same records.
    fn parse_lines<'a>(
        self,
        carry: Option<Self::Carry>,
        lines: impl Iterator<Item = LineRead<'a>>,
        sink: &mut dyn RecordSink,
    ) -> Result<Option<Self::Carry>, ImportError>;
    /// The file ended with a record open.
    fn end(self, carry: Self::Carry, sink: &mut dyn RecordSink) -> Result<(), ImportError>;
    /// The file ended, after its line `last_line`, between records, as chunks are guessed to
    /// start: for most formats a proper end, for a JSON array one without its closing bracket.
    fn end_between_records(self, last_line: u64, sink: &mut dyn RecordSink) -> Result<(), ImportError> {
        let _ = (last_line, sink);
        Ok(())
    }
    /// What the file's first line starts in: between records (None) for most formats, where
    /// chunks are guessed to start; a JSON array's first chunk starts before the array.
    fn start(self) -> Option<Self::Carry> {
        None
    }
    /// Whether `line`, after `previous`, likely starts a record: a chunk ends only before such
    /// a line, unless it grows to twice its size. A guess, which only saves parsing a chunk
    /// again: the writer checks what the chunk before left open either way.
    fn likely_starts_record(previous: &[u8], line: &[u8]) -> bool {
        let _ = (previous, line);
        true
    }
}

/// Lines per chunk: a channel message per line would cost more than parsing it.
const CHUNK_LINES: usize = 512;
/// Chunks queued for the writer (and, the same ones, for the workers), and how far past the
/// chunk it needs the writer looks for one to parse: enough to keep the threads busy, few
/// enough to bound memory (a chunk and its batch are about a MB), whatever the workers.
const CHUNKS_AHEAD: usize = 4;

enum Entry {
    Line(u64, Range<usize>),
    TooLong(u64, u64),
    Unreadable(u64, String),
}

/// Lines, copied one after another into one buffer, in file order.
#[derive(Default)]
struct Chunk {
    text: Vec<u8>,
    entries: Vec<Entry>,
}

impl Chunk {
    fn lines(&self) -> impl Iterator<Item = LineRead<'_>> {
        self.entries.iter().map(|entry| match entry {
            Entry::Line(line_no, range) => LineRead::Text(*line_no, self.text.get(range.clone()).unwrap_or_default()),
            Entry::TooLong(line_no, len) => LineRead::TooLong(*line_no, *len),
            Entry::Unreadable(line_no, reason) => LineRead::Unreadable(*line_no, reason),
        })
    }
}

/// Workers for a machine: the cores but one, which the writer needs for itself (and parses on
/// when it would wait). At most six: each holds the chunk it parses, and a 1 GB import peaked
/// at 163 MB with one worker, 175 MB with four and 184 MB with six (the target is 256 MB).
pub fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)).clamp(1, 6)
}

/// A chunk's records, and what its last lines left open.
type Parsed<F> = Result<(Vec<Record>, Option<<F as ChunkFormat>::Carry>), ImportError>;

enum JobState<F: ChunkFormat> {
    /// Read, not parsed yet.
    Waiting(Chunk),
    /// A thread is parsing it.
    Parsing,
    /// Parsed as if the chunk started between records; its lines kept when they may have to
    /// be parsed again ([`ChunkFormat::MAY_CARRY`]).
    Parsed(Parsed<F>, Option<Chunk>),
    /// The writer took the batch.
    Taken,
}

/// One chunk, from the reader to whichever thread parses it, and its batch to the writer.
struct Job<F: ChunkFormat> {
    state: Mutex<JobState<F>>,
    parsed: Condvar,
}

impl<F: ChunkFormat> Job<F> {
    fn state(&self) -> MutexGuard<'_, JobState<F>> {
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

    /// Parses the chunk as if it started between records, the guess the writer checks.
    fn parse_ahead(&self, format: F, chunk: Chunk, recycle: &SyncSender<Chunk>) {
        let parsed = parse_chunk(format, None, &chunk);
        let kept = if F::MAY_CARRY {
            Some(chunk)
        } else {
            recycle_chunk(chunk, recycle);
            None
        };
        *self.state() = JobState::Parsed(parsed, kept);
        self.parsed.notify_all();
    }
}

fn parse_chunk<F: ChunkFormat>(format: F, carry: Option<F::Carry>, chunk: &Chunk) -> Parsed<F> {
    let mut sink = BatchSink::with_capacity(chunk.entries.len());
    let carry = format.parse_lines(carry, chunk.lines(), &mut sink)?;
    Ok((sink.batch, carry))
}

/// Hands a chunk's buffers back to the reader.
fn recycle_chunk(mut chunk: Chunk, recycle: &SyncSender<Chunk>) {
    chunk.text.clear();
    chunk.entries.clear();
    // The reader may have ended or have enough buffers: then this one is dropped.
    let _ = recycle.try_send(chunk);
}

/// The batches of a file in order, as the writer takes them.
pub struct OrderedBatches<F: ChunkFormat> {
    format: F,
    /// The jobs in file order, as the reader makes them.
    jobs: Receiver<Arc<Job<F>>>,
    /// Jobs taken from `jobs`, the next one in order first.
    window: VecDeque<Arc<Job<F>>>,
    /// What the chunks taken so far left open.
    carry: Option<F::Carry>,
    /// The reader is done and the end of the file was told to the format.
    ended: bool,
    /// The number of the last line read, set by the reader when it ends.
    last_line: Arc<std::sync::atomic::AtomicU64>,
    recycle: SyncSender<Chunk>,
    outcome: Arc<Mutex<Outcome>>,
}

impl<F: ChunkFormat> OrderedBatches<F> {
    /// The next batch; None at the end of the file, or when parsing failed (see [`Outcome`])
    /// or the reader stopped.
    pub fn next_batch(&mut self) -> Option<Vec<Record>> {
        loop {
            if self.window.is_empty() {
                match self.jobs.recv() {
                    Ok(job) => self.window.push_back(job),
                    // The reader is done: what the last chunk left open ends with the file.
                    Err(_) => {
                        if self.ended {
                            return None;
                        }
                        self.ended = true;
                        let mut sink = BatchSink::with_capacity(16);
                        let ended = match self.carry.take() {
                            Some(carry) => self.format.end(carry, &mut sink),
                            None => self.format.end_between_records(self.last_line.load(std::sync::atomic::Ordering::SeqCst), &mut sink),
                        };
                        return self.batch_or_failure(ended.map(|()| sink.batch));
                    }
                }
            }
            let job = self.window.front()?.clone();
            let mut state = job.state();
            match std::mem::replace(&mut *state, JobState::Taken) {
                JobState::Parsed(parsed, kept) => {
                    drop(state);
                    self.window.pop_front();
                    let Some(open) = self.carry.take() else {
                        // The guess held: the chunk did start between records.
                        if let Some(chunk) = kept {
                            recycle_chunk(chunk, &self.recycle);
                        }
                        return self.take_parsed(parsed);
                    };
                    // The chunk before left a record open: parse this one again from there.
                    let Some(chunk) = kept else {
                        return self.batch_or_failure(Err(ImportError::Internal {
                            path: String::new(),
                            message: "a record left open before a chunk whose lines were not kept".into(),
                        }));
                    };
                    lock(&self.outcome).chunks_parsed_again += 1;
                    let parsed = self.parse_here(Some(open), chunk);
                    return self.take_parsed(parsed);
                }
                JobState::Waiting(chunk) => {
                    *state = JobState::Parsing;
                    drop(state);
                    self.window.pop_front();
                    let carry = self.carry.take();
                    let parsed = self.parse_here(carry, chunk);
                    return self.take_parsed(parsed);
                }
                JobState::Parsing => {
                    *state = JobState::Parsing;
                    drop(state);
                    // A worker has it: parse a later chunk meanwhile, else wait for it.
                    if let Some((later, chunk)) = self.later_waiting_job() {
                        let started = Instant::now();
                        later.parse_ahead(self.format, chunk, &self.recycle);
                        self.count_writer_parsing(started);
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

    /// Parses the next chunk in order, from what the chunks before left open.
    fn parse_here(&mut self, carry: Option<F::Carry>, chunk: Chunk) -> Parsed<F> {
        let started = Instant::now();
        let parsed = parse_chunk(self.format, carry, &chunk);
        recycle_chunk(chunk, &self.recycle);
        self.count_writer_parsing(started);
        parsed
    }

    fn count_writer_parsing(&self, started: Instant) {
        let mut outcome = lock(&self.outcome);
        outcome.writer_parsing += started.elapsed();
        outcome.chunks_parsed_by_writer += 1;
    }

    /// A job after the next one that no thread has started, taken for this one to parse.
    fn later_waiting_job(&mut self) -> Option<(Arc<Job<F>>, Chunk)> {
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

    /// The batch of the next chunk in order, keeping what it left open.
    fn take_parsed(&mut self, parsed: Parsed<F>) -> Option<Vec<Record>> {
        let batch = parsed.map(|(batch, carry)| {
            self.carry = carry;
            batch
        });
        self.batch_or_failure(batch)
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
    /// Chunks parsed ahead from a wrong guess (the chunk before left a record open).
    pub chunks_parsed_again: u64,
}

/// Where [`Outcome`] is kept while the writer takes batches.
pub struct ParseOutcome(Arc<Mutex<Outcome>>);

impl ParseOutcome {
    pub fn take(&self) -> Outcome {
        std::mem::take(&mut *lock(&self.0))
    }
}

/// A reader's or a worker's thread.
pub type ParserHandle<'scope> = ScopedJoinHandle<'scope, Result<(), ImportError>>;

/// Starts the reader and `workers` parsers. The handles' results: the reader's first, then
/// each worker's; `Cancelled` when the writer hung up.
pub fn spawn<'scope, F: ChunkFormat>(
    scope: &'scope Scope<'scope, '_>,
    reader: &'scope mut (dyn BufRead + Send),
    workers: usize,
    format: F,
) -> (OrderedBatches<F>, ParseOutcome, Vec<ParserHandle<'scope>>) {
    let workers = workers.max(1);
    let mut handles = Vec::with_capacity(workers + 1);
    // Every job goes to the writer, in order, and to the workers, who take the next one free.
    let (to_writer, jobs) = sync_channel::<Arc<Job<F>>>(CHUNKS_AHEAD);
    let (to_workers, work) = sync_channel::<Arc<Job<F>>>(CHUNKS_AHEAD);
    let work = Arc::new(Mutex::new(work));
    // Emptied chunks go back to the reader: their buffers are reused, not allocated anew.
    let (recycle, recycled) = sync_channel::<Chunk>(3 * CHUNKS_AHEAD + workers);
    for _ in 0..workers {
        let (work, recycle) = (work.clone(), recycle.clone());
        handles.push(scope.spawn(move || parse_jobs(&work, &recycle, format)));
    }
    let last_line = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let reader_last_line = last_line.clone();
    let reader_handle = scope.spawn(move || read_chunks::<F>(reader, &to_writer, &to_workers, &recycled, &reader_last_line));
    handles.insert(0, reader_handle);
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let batches = OrderedBatches {
        format,
        jobs,
        window: VecDeque::new(),
        carry: format.start(),
        ended: false,
        last_line,
        recycle,
        outcome: outcome.clone(),
    };
    (batches, ParseOutcome(outcome), handles)
}

fn read_chunks<F: ChunkFormat>(
    reader: &mut dyn BufRead,
    to_writer: &SyncSender<Arc<Job<F>>>,
    to_workers: &SyncSender<Arc<Job<F>>>,
    recycled: &Receiver<Chunk>,
    last_line: &std::sync::atomic::AtomicU64,
) -> Result<(), ImportError> {
    let mut chunk = Chunk::default();
    let mut line_count = 0;
    let send = |chunk: Chunk| -> Result<(), ImportError> {
        let job = Arc::new(Job { state: Mutex::new(JobState::Waiting(chunk)), parsed: Condvar::new() });
        // The writer hung up: it stopped (an error or a cancel it reports itself).
        to_writer.send(job.clone()).map_err(|_| ImportError::Cancelled)?;
        // Without workers left the writer parses every chunk itself.
        let _ = to_workers.send(job);
        Ok(())
    };
    for_each_line(reader, F::KEEPS_BLANK_LINES, &mut |line| {
        if chunk.entries.len() >= CHUNK_LINES {
            let starts_record = match (&line, chunk.entries.last()) {
                (LineRead::Text(_, bytes), Some(Entry::Line(_, previous))) => {
                    F::likely_starts_record(chunk.text.get(previous.clone()).unwrap_or_default(), bytes)
                }
                _ => true,
            };
            if starts_record || chunk.entries.len() >= 2 * CHUNK_LINES {
                let next = recycled.try_recv().unwrap_or_default();
                send(std::mem::replace(&mut chunk, next))?;
            }
        }
        line_count = match line {
            LineRead::Text(line_no, _) | LineRead::TooLong(line_no, _) | LineRead::Unreadable(line_no, _) => line_no,
        };
        chunk.entries.push(match line {
            LineRead::Text(line_no, bytes) => {
                let start = chunk.text.len();
                chunk.text.extend_from_slice(bytes);
                Entry::Line(line_no, start..chunk.text.len())
            }
            LineRead::TooLong(line_no, len) => Entry::TooLong(line_no, len),
            LineRead::Unreadable(line_no, reason) => Entry::Unreadable(line_no, reason.to_string()),
        });
        Ok(())
    })?;
    // Before the last chunk goes: the writer reads it once the reader has hung up.
    last_line.store(line_count, std::sync::atomic::Ordering::SeqCst);
    if !chunk.entries.is_empty() {
        send(chunk)?;
    }
    Ok(())
}

/// A worker: parses the next job no other thread has started, until the reader ends.
fn parse_jobs<F: ChunkFormat>(work: &Mutex<Receiver<Arc<Job<F>>>>, recycle: &SyncSender<Chunk>, format: F) -> Result<(), ImportError> {
    loop {
        let job = {
            let work = lock(work);
            match work.recv() {
                Ok(job) => job,
                Err(_) => return Ok(()),
            }
        };
        if let Some(chunk) = job.start() {
            job.parse_ahead(format, chunk, recycle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each record comes back as a skipped record with its text. A line ending in `\` goes on
    /// on the next one (when `MAY_CARRY`). Workers (unnamed threads) take 2 ms a line; the
    /// writer (the test's own thread, which has a name) none.
    /// With `NEVER_STARTS`, no line is guessed to start a record: chunks end at their cap.
    #[derive(Clone, Copy)]
    struct SlowOnWorkers<const MAY_CARRY: bool, const NEVER_STARTS: bool = false>;

    impl<const MAY_CARRY: bool, const NEVER_STARTS: bool> ChunkFormat for SlowOnWorkers<MAY_CARRY, NEVER_STARTS> {
        type Carry = (u64, String);
        const MAY_CARRY: bool = MAY_CARRY;
        const KEEPS_BLANK_LINES: bool = false;

        fn parse_lines<'a>(
            self,
            mut carry: Option<(u64, String)>,
            lines: impl Iterator<Item = LineRead<'a>>,
            sink: &mut dyn RecordSink,
        ) -> Result<Option<(u64, String)>, ImportError> {
            for line in lines {
                let LineRead::Text(line_no, bytes) = line else { continue };
                if std::thread::current().name().is_none() {
                    std::thread::sleep(Duration::from_millis(2));
                }
                if bytes == b"fail" {
                    return Err(ImportError::Internal { path: "test".into(), message: format!("line {line_no}") });
                }
                let (start, mut text) = carry.take().unwrap_or((line_no, String::new()));
                text.push_str(&String::from_utf8_lossy(bytes));
                match text.strip_suffix('\\') {
                    Some(open) if MAY_CARRY => carry = Some((start, open.to_string())),
                    _ => sink.skipped(start, text),
                }
            }
            Ok(carry)
        }

        fn end(self, carry: (u64, String), sink: &mut dyn RecordSink) -> Result<(), ImportError> {
            sink.skipped(carry.0, format!("open at the end: {}", carry.1));
            Ok(())
        }

        fn likely_starts_record(_previous: &[u8], _line: &[u8]) -> bool {
            !NEVER_STARTS
        }
    }

    fn lines(count: usize) -> String {
        (1..=count).map(|i| format!("{{\"n\":{i}}}\n")).collect()
    }

    /// Every batch in order, with the outcome.
    fn run<F: ChunkFormat>(format: F, text: &str, workers: usize) -> (Vec<(u64, String)>, Outcome) {
        let mut reader = std::io::Cursor::new(text.as_bytes().to_vec());
        std::thread::scope(|scope| {
            let (mut batches, outcome, handles) = spawn(scope, &mut reader, workers, format);
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
        let expected: Vec<(u64, String)> = (1..=count as u64).map(|i| (i, format!("{{\"n\":{i}}}"))).collect();
        for workers in [1, 2] {
            for (may_carry, (seen, outcome)) in [(false, run(SlowOnWorkers::<false>, &lines(count), workers)), (true, run(SlowOnWorkers::<true>, &lines(count), workers))] {
                assert_eq!(seen, expected, "{workers} workers, may carry: {may_carry}");
                assert!(outcome.failure.is_none());
                // Workers take a second a chunk here: the writer, which takes none, parses most.
                assert!(outcome.chunks_parsed_by_writer >= 6, "{workers} workers: {} chunks by the writer", outcome.chunks_parsed_by_writer);
            }
        }
    }

    #[test]
    fn records_across_chunk_ends_come_out_as_read_in_one_go() {
        // Records of 1 to 9 lines, so that chunk ends fall inside them at many places, one
        // running across whole chunks, and one left open at the end of the file.
        let mut text = String::new();
        let mut expected = Vec::new();
        let mut line_no = 0u64;
        for record in 0..1500u64 {
            let parts = if record == 700 { 3 * CHUNK_LINES as u64 } else { 1 + record * 7 % 9 };
            let start = line_no + 1;
            let mut joined = String::new();
            for part in 0..parts {
                line_no += 1;
                let piece = format!("r{record}p{part}");
                joined.push_str(&piece);
                text.push_str(&piece);
                text.push_str(if part + 1 < parts { "\\\n" } else { "\n" });
            }
            expected.push((start, joined));
        }
        text.push_str("last\\\nstill open\\\n");
        expected.push((line_no + 1, "open at the end: laststill open".to_string()));
        let mut parsed_again = 0;
        for workers in [1, 2, 3] {
            let (seen, outcome) =
                if workers == 3 { run(SlowOnWorkers::<true, true>, &text, workers) } else { run(SlowOnWorkers::<true>, &text, workers) };
            assert!(outcome.failure.is_none());
            let first_difference = seen.iter().zip(&expected).position(|(a, b)| a != b);
            assert_eq!(first_difference.map(|i| (&seen[i], &expected[i])), None, "{workers} workers");
            assert_eq!(seen.len(), expected.len(), "{workers} workers");
            parsed_again += outcome.chunks_parsed_again;
        }
        // Chunks parsed ahead from the wrong start were met, and parsed again.
        assert!(parsed_again > 0);
    }

    #[test]
    fn a_chunk_that_fails_ends_the_batches_with_its_error() {
        let mut text = lines(3 * CHUNK_LINES);
        text.push_str("fail\n");
        text.push_str(&lines(CHUNK_LINES));
        let (seen, outcome) = run(SlowOnWorkers::<false>, &text, 1);
        assert!(seen.len() <= 3 * CHUNK_LINES, "nothing after the failed chunk: {}", seen.len());
        match outcome.failure {
            Some(ImportError::Internal { message, .. }) => assert_eq!(message, format!("line {}", 3 * CHUNK_LINES + 1)),
            other => panic!("expected the parse error, got {other:?}"),
        }
    }
}
