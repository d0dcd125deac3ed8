//! Property tests of the parsers on mutated input: no panic, no hang, output bounded by input.
//! `cargo test` runs a short pass over a fixed corpus and seeds; for long runs:
//!
//!     RUM_FUZZ_SECONDS=600 cargo test --release --test fuzz -- --nocapture
//!
//! runs each target for that long (the numbers in the issue note come from such runs).

mod common;

use common::*;
use rum_explorer::ingest::{self, CollectSink, Format};
use std::time::{Duration, Instant};

/// xorshift64*: deterministic, so a failure names the seed that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the formats: delimiters, escapes, quotes, brackets, digits, UTF-8.
const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\n",
    b"\r\n",
    b",",
    b"=",
    b" ",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"'",
    b"\t",
    b"\0",
    b"\xff",
    b"\xe4\xb8\xad",
    b"1e999",
    b"-9223372036854775809",
    b"18446744073709551616i",
    b"NaN",
    b"null",
    b"true",
    b"\"\"\"",
    b"{\"data\":[",
];

fn mutate(rng: &mut Rng, seed: &[u8], max_len: usize) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let token = INTERESTING[rng.below(INTERESTING.len())];
                data.splice(at..at, token.iter().copied());
            }
            2 if !data.is_empty() => {
                let end = (at + rng.below(64)).min(data.len());
                data.drain(at..end);
            }
            3 => data.truncate(at),
            4 if !data.is_empty() => {
                // Repeat a slice: long runs, deep nesting.
                let start = rng.below(data.len());
                let end = (start + rng.below(32)).min(data.len());
                let chunk = data[start..end].to_vec();
                for _ in 0..rng.below(50) {
                    data.splice(at..at, chunk.iter().copied());
                }
            }
            5 => data.insert(at, rng.next() as u8),
            _ => {
                let other = rng.below(data.len() + 1);
                let (a, b) = (at.min(other), at.max(other));
                data[a..b].reverse();
            }
        }
    }
    data.truncate(max_len);
    data
}

fn seeds_for(format: Format) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("seed");
    use rum_explorer::generate::GenerateFormat as G;
    let generate = |f: G| {
        rum_explorer::generate::write(&path, f, 2, 3, false).expect("generate");
        std::fs::read(&path).expect("read")
    };
    let mut seeds = match format {
        Format::GuanceLineProtocol => vec![generate(G::Lp), std::fs::read(own_fixture("tricky.lp")).expect("fixture"), std::fs::read(own_fixture("broken.lp")).expect("fixture")],
        Format::DatadogJson => vec![
            generate(G::Ndjson),
            std::fs::read(own_fixture("views.ndjson")).expect("fixture"),
            std::fs::read(own_fixture("broken.ndjson")).expect("fixture"),
            br#"{"data":[{"id":"1","type":"rum","attributes":{"timestamp":"2023-11-14T22:13:20Z","attributes":{"type":"view","date":1,"session":{"id":"s"},"view":{"id":"v"}}}}],"links":{}}"#.to_vec(),
            br#"[{"type":"error","date":1700000000000,"session":{"id":"s"},"error":{"message":"x","stack":"a\nb"}}]"#.to_vec(),
        ],
        Format::GuanceJson => vec![generate(G::GuanceJson)],
        Format::GuanceCsv => {
            rum_explorer::generate::write(&path, G::Csv, 2, 3, false).expect("generate");
            std::fs::read_dir(dir.path())
                .expect("dir")
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "csv"))
                .map(|e| std::fs::read(e.path()).expect("read"))
                .collect()
        }
    };
    // Keep seeds small: the point is the shapes, and memory stays bounded.
    for seed in &mut seeds {
        seed.truncate(16 * 1024);
    }
    seeds
}

fn budget() -> (Option<Duration>, usize) {
    match std::env::var("RUM_FUZZ_SECONDS").ok().and_then(|s| s.parse::<u64>().ok()) {
        Some(seconds) => (Some(Duration::from_secs(seconds)), usize::MAX),
        None => (None, 400),
    }
}

fn fuzz_format(format: Format, seed: u64) {
    let seeds = seeds_for(format);
    let (time_budget, iterations) = budget();
    let started = Instant::now();
    let mut rng = Rng(seed);
    let mut runs = 0u64;
    let mut slowest = Duration::ZERO;
    while runs < iterations as u64 && time_budget.is_none_or(|b| started.elapsed() < b) {
        let state = rng.0;
        let pick = rng.below(seeds.len());
        let input = mutate(&mut rng, &seeds[pick], 64 * 1024);
        let one = Instant::now();
        let outcome = std::panic::catch_unwind(|| {
            let mut sink = CollectSink::default();
            let mut reader: &[u8] = &input;
            let _ = ingest::parse_stream(format, &mut reader, &mut sink, Some("rum-view.csv"));
            sink
        });
        let took = one.elapsed();
        slowest = slowest.max(took);
        let sink = outcome.unwrap_or_else(|_| {
            panic!("{format:?} panicked; reproduce with rng state {state:#x}, input {:?}", String::from_utf8_lossy(&input))
        });
        // Bounded output: every event and problem comes from at least one input byte.
        assert!(sink.events.len() + sink.problems.len() <= input.len() + 1, "{format:?}: more records than bytes (state {state:#x})");
        assert!(took < Duration::from_secs(5), "{format:?}: {took:?} on {} bytes (state {state:#x})", input.len());
        // Detection never panics either.
        let _ = ingest::detect(&input);
        runs += 1;
    }
    eprintln!("fuzz {format:?}: {runs} inputs in {:.1?}, slowest {slowest:?}, no panic", started.elapsed());
}

#[test]
fn fuzz_line_protocol() {
    fuzz_format(Format::GuanceLineProtocol, 0x1234_5678);
}

#[test]
fn fuzz_datadog_json_shapes() {
    fuzz_format(Format::DatadogJson, 0x2345_6789);
}

#[test]
fn fuzz_guance_json() {
    fuzz_format(Format::GuanceJson, 0x3456_789A);
}

#[test]
fn fuzz_csv() {
    fuzz_format(Format::GuanceCsv, 0x4567_89AB);
}

/// Queries built from the language's own pieces, mutated: parsing never panics, an accepted
/// query prints back to the same query, and its SQL runs (values bound, never spliced).
#[test]
fn fuzz_filter_language() {
    const PIECES: &[&str] = &[
        "browser",
        ":",
        "Chrome",
        "\"",
        "\\",
        "-",
        "(",
        ")",
        " OR ",
        " AND ",
        " NOT ",
        "*",
        "?",
        "[",
        "]",
        " TO ",
        ">",
        "<",
        "=",
        ">=",
        "<=",
        "error_count",
        "start_ms",
        "2025-11-13",
        "view_path",
        "/a b",
        "'",
        ";",
        "DROP TABLE sessions",
        "--",
        "😀",
        " ",
        "custom.key",
        "$.x",
        "0",
        "-1",
        "1e3",
        "\n",
        "\t",
        "user_id",
        "duration",
    ];
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("g.lp");
    rum_explorer::generate::write(&data, rum_explorer::generate::GenerateFormat::Lp, 30, 5, false).expect("generate");
    let mut store = rum_explorer::store::Store::open(&dir.path().join("db.sqlite")).expect("store");
    import(&mut store, &[data]);
    let (time_budget, iterations) = budget();
    let iterations = if time_budget.is_some() { usize::MAX } else { iterations * 5 };
    let started = Instant::now();
    let mut rng = Rng(0x5678_9ABC);
    let (mut runs, mut accepted) = (0u64, 0u64);
    while runs < iterations as u64 && time_budget.is_none_or(|b| started.elapsed() < b) {
        let mut text = String::new();
        for _ in 0..rng.below(12) {
            text.push_str(PIECES[rng.below(PIECES.len())]);
        }
        let parsed =
            std::panic::catch_unwind(|| rum_explorer::query::parse(&text)).unwrap_or_else(|_| panic!("parse panicked on {text:?}"));
        match parsed {
            Ok(Some(filter)) => {
                accepted += 1;
                let printed = filter.expr.to_string();
                let again = rum_explorer::query::parse(&printed)
                    .unwrap_or_else(|e| panic!("{text:?} prints as {printed:?}, which does not parse: {e}"))
                    .unwrap_or_else(|| panic!("{text:?} prints as {printed:?}, an empty query"));
                // Printing is a fixed point, and the printed query selects the same sessions.
                assert_eq!(again.expr.to_string(), printed, "{text:?}");
                let count = |filter| {
                    let q = rum_explorer::store::SessionQuery { filter: Some(filter), limit: 5, ..Default::default() };
                    store.count_sessions(&q).unwrap_or_else(|e| panic!("{text:?}: SQL failed: {e}"))
                };
                assert_eq!(count(filter), count(again), "{text:?} and {printed:?} select the same sessions");
            }
            Ok(None) => {}
            Err(e) => assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{text:?}: error column {} out of range", e.column),
        }
        runs += 1;
    }
    let tables = count(&store, "SELECT count(*) FROM sqlite_master WHERE name = 'sessions'");
    assert_eq!(tables, 1, "no query dropped anything");
    eprintln!("fuzz filter language: {runs} queries ({accepted} accepted) in {:.1?}, no panic", started.elapsed());
}

/// Lines of our generator, our fixtures, the Datadog format fixtures and hand-written edge cases.
fn datadog_records() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("gen.ndjson");
    rum_explorer::generate::write(&path, rum_explorer::generate::GenerateFormat::Ndjson, 30, 11, false).expect("generate");
    let mut records: Vec<Vec<u8>> = Vec::new();
    for file in [path, own_fixture("views.ndjson"), own_fixture("broken.ndjson")] {
        let text = std::fs::read(&file).expect("read");
        records.extend(text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec));
    }
    if let Some(dir) = third_party("datadog-rum-events-format") {
        for entry in std::fs::read_dir(dir).expect("dir").filter_map(Result::ok) {
            if entry.path().extension().is_some_and(|e| e == "json") {
                records.push(std::fs::read(entry.path()).expect("read"));
            }
        }
    }
    for edge in [
        r#"{"type":"view","date":1700000000000,"session":{"id":"s"},"view":{"id":"v","url":"https://a/b?c"},"context":{}}"#,
        r#"{"type":"view_update","date":"2023-11-14T22:13:20Z","session":{"id":"s"},"view":{"id":"v","time_spent":18446744073709551615}}"#,
        r#"{"type":"error","date":1.7e12,"session":{"id":"s"},"error":{"causes":[{"b":1,"a":{"z":null}}],"message":"\u00e9\n"}}"#,
        r#"{"type":"action","date":1700000000000,"":{"x":1},"a-b":1,"a":{"b":2},"duration":5,"action":{"loading_time":7}}"#,
        r#"{"type":"resource","date":1700000000000,"session":{"id":"s"},"resource":{"duration":-1,"size":1.5},"x":null,"y":true}"#,
        r#"{"type":"long_task","date":1700000000000}"#,
        r#"{"date":1700000000000,"type":"view"}"#,
        r#"{"type":"","date":1}"#,
        r#"{"type":"view","date":"soon"}"#,
        r#"{"type":"rum","attributes":{"attributes":{"type":"view","date":1,"session":{"id":"s"}}}}"#,
    ] {
        records.push(edge.as_bytes().to_vec());
    }
    records
}

/// The direct Datadog path (flattening while reading) gives exactly the event the tree path
/// gives, on real and generated records and on mutations of them; it never takes a record the
/// tree would reject.
#[test]
fn datadog_direct_path_gives_the_same_event_as_the_tree() {
    use rum_explorer::ingest::datadog;
    let records = datadog_records();
    let tree = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok().map(datadog::convert);
    let mut direct_taken = 0;
    let check = |bytes: &[u8], direct_taken: &mut usize| {
        let Some(direct) = datadog::fast_convert(bytes) else { return };
        *direct_taken += 1;
        match tree(bytes) {
            Some(Ok(expected)) => assert_eq!(direct, expected, "on {:?}", String::from_utf8_lossy(bytes)),
            other => panic!("direct path took what the tree gives as {other:?}: {:?}", String::from_utf8_lossy(bytes)),
        }
    };
    for record in &records {
        check(record, &mut direct_taken);
    }
    // The hot path is really taken: every generated event goes through it.
    assert!(direct_taken >= records.len() - 12, "direct path took {direct_taken} of {} records", records.len());
    let (time_budget, iterations) = budget();
    let started = Instant::now();
    let mut rng = Rng(0x3456_789a);
    let mut runs = 0;
    while runs < iterations.saturating_mul(10) && time_budget.is_none_or(|b| started.elapsed() < b) {
        let pick = rng.below(records.len());
        let input = mutate(&mut rng, &records[pick], 16 * 1024);
        check(&input, &mut direct_taken);
        runs += 1;
    }
    eprintln!("direct Datadog path: {runs} mutated records checked against the tree, {direct_taken} records taken by it in all");
}

/// The Datadog row reader (records straight to rows, the import's hot path) gives the row the
/// general path (an event, then `prepare`) gives, on real and generated records and mutations
/// of them; it never takes a record the general path would skip.
#[test]
fn datadog_row_reader_gives_the_same_row_as_the_general_path() {
    use rum_explorer::ingest::{datadog, datadog_direct};
    use rum_explorer::store::writer::prepare;
    let records = datadog_records();
    let general = |bytes: &[u8]| {
        let event = match datadog::fast_convert(bytes) {
            Some(event) => Ok(event),
            None => serde_json::from_slice::<serde_json::Value>(bytes).map_err(|e| e.to_string()).and_then(datadog::convert),
        };
        event.and_then(prepare)
    };
    let check = |bytes: &[u8], taken: &mut usize| {
        let Some(row) = datadog_direct::prepare_record(bytes) else { return };
        *taken += 1;
        match general(bytes) {
            Ok(expected) => assert!(row.same_row_as(&expected), "on {:?}\n{row:?}\n{expected:?}", String::from_utf8_lossy(bytes)),
            Err(reason) => panic!("the reader took what the general path skips ({reason}): {:?}", String::from_utf8_lossy(bytes)),
        }
    };
    let mut taken = 0;
    for record in &records {
        check(record, &mut taken);
    }
    // The hot path is really taken: every generated event goes through it.
    assert!(taken >= records.len() - 16, "the reader took {taken} of {} records", records.len());
    let (time_budget, iterations) = budget();
    let started = Instant::now();
    let mut rng = Rng(0x4567_89ab);
    let (mut runs, mut taken_mutated) = (0, 0);
    while runs < iterations.saturating_mul(10) && time_budget.is_none_or(|b| started.elapsed() < b) {
        let pick = rng.below(records.len());
        let input = mutate(&mut rng, &records[pick], 16 * 1024);
        check(&input, &mut taken_mutated);
        runs += 1;
    }
    eprintln!("fuzz datadog row reader: {runs} mutations ({taken_mutated} taken) in {:.1?}", started.elapsed());
}
