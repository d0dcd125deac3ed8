//! Parser and import throughput per format, on generated data held in memory (parse) or in
//! the page cache (import). `cargo bench --bench ingest`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rum_explorer::generate::{self, GenerateFormat};
use rum_explorer::ingest::{self, Format, ImportError, ImportProgress, RecordSink};
use rum_explorer::model::Event;
use rum_explorer::store::Store;
use std::sync::Arc;

const SESSIONS: u64 = 300;

// As the app: allocation is a large part of parsing, so the allocator must be the same.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Counts events without keeping them: the parser's own cost.
#[derive(Default)]
struct CountSink {
    events: u64,
}

impl RecordSink for CountSink {
    fn event(&mut self, _line: u64, event: Event) -> Result<(), ImportError> {
        std::hint::black_box(&event);
        self.events += 1;
        Ok(())
    }
    fn skipped(&mut self, _line: u64, _reason: String) {}
}

fn formats() -> Vec<(&'static str, GenerateFormat, Format)> {
    vec![
        ("guance-lp", GenerateFormat::Lp, Format::GuanceLineProtocol),
        ("datadog-ndjson", GenerateFormat::Ndjson, Format::DatadogJson),
        ("guance-json", GenerateFormat::GuanceJson, Format::GuanceJson),
        // One file per event kind; the benches read them all.
        ("guance-csv", GenerateFormat::Csv, Format::GuanceCsv),
    ]
}

/// Also prepares each event's row, as the import's parser threads do before the writer. With
/// `direct` it takes rows prepared by the parser, as the import's sinks do, so records go
/// their format's direct reader (`ingest::datadog_direct`, ...), with no event on the way;
/// without, each record is read into an event and then `prepare`d: the general path, as the
/// import took it for Guance JSON and CSV before session 23, and the direct one's peer.
#[derive(Default)]
struct PrepareSink {
    direct: bool,
    events: u64,
}

impl RecordSink for PrepareSink {
    fn event(&mut self, _line: u64, event: Event) -> Result<(), ImportError> {
        let prepared = rum_explorer::store::writer::prepare(event);
        std::hint::black_box(&prepared);
        self.events += 1;
        Ok(())
    }
    fn skipped(&mut self, _line: u64, _reason: String) {}
    fn takes_prepared(&self) -> bool {
        self.direct
    }
    fn prepared_event(&mut self, _line: u64, event: rum_explorer::store::writer::PreparedEvent) -> Result<(), ImportError> {
        std::hint::black_box(&event);
        self.events += 1;
        Ok(())
    }
}

/// Reads every file's bytes into the sink.
fn parse_all<S: RecordSink>(format: Format, contents: &[Vec<u8>], mut sink: S) -> S {
    for bytes in contents {
        let mut reader: &[u8] = bytes;
        ingest::parse_stream(format, &mut reader, &mut sink, None).expect("parse");
    }
    sink
}

fn parse(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut group = c.benchmark_group("parse");
    for (name, generate_format, format) in formats() {
        let path = dir.path().join(name);
        let files = generate::write(&path, generate_format, SESSIONS, 7, false).expect("generate");
        let contents: Vec<Vec<u8>> = files.iter().map(|(file, _)| std::fs::read(file).expect("read")).collect();
        group.throughput(Throughput::Bytes(contents.iter().map(|c| c.len() as u64).sum()));
        group.bench_with_input(BenchmarkId::from_parameter(name), &contents, |b, contents| {
            b.iter(|| parse_all(format, contents, CountSink::default()).events)
        });
        // The parser threads' whole job: records to rows ready to insert.
        group.bench_with_input(BenchmarkId::new("and-prepare", name), &contents, |b, contents| {
            b.iter(|| parse_all(format, contents, PrepareSink { direct: true, events: 0 }).events)
        });
        group.bench_with_input(BenchmarkId::new("and-prepare-general", name), &contents, |b, contents| {
            b.iter(|| parse_all(format, contents, PrepareSink { direct: false, events: 0 }).events)
        });
    }
    group.finish();
}

fn import(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut group = c.benchmark_group("import");
    group.sample_size(10);
    for (name, generate_format, _) in formats() {
        let path = dir.path().join(name);
        let files: Vec<std::path::PathBuf> =
            generate::write(&path, generate_format, SESSIONS, 7, false).expect("generate").into_iter().map(|(file, _)| file).collect();
        group.throughput(Throughput::Bytes(files.iter().map(|f| std::fs::metadata(f).expect("size").len()).sum()));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_batched(
                || {
                    let db = dir.path().join(format!("{name}.sqlite"));
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
                    }
                    Store::open(&db).expect("open")
                },
                |mut store| {
                    let mut inserted = 0;
                    for file in &files {
                        let report = ingest::import_file(&mut store, file, &Arc::new(ImportProgress::default()));
                        assert!(report.error.is_none(), "{:?}", report.error);
                        inserted += report.summary.inserted_total();
                    }
                    inserted
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, parse, import);
criterion_main!(benches);
