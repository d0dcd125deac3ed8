//! Broken and hostile input: each case gives a clear message naming the file and line, and the
//! good records around it still arrive.

mod common;

use common::*;
use rum_explorer::ingest::{self, FileReport, ImportProgress};
use rum_explorer::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};

fn import_one(path: &Path) -> (tempfile::TempDir, Store, FileReport) {
    let (dir, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let report = ingest::import_file(&mut store, path, &ImportProgress::new());
    (dir, store, report)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn generated(format: rum_explorer::generate::GenerateFormat, sessions: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("g");
    rum_explorer::generate::write(&path, format, sessions, 99, false).expect("generate");
    (dir, path)
}

fn line(n: u64, session: &str) -> String {
    format!("action,session_id={session},app_id=a action_id=\"act-{n}\",action_name=\"click {n}\" {}\n", 1_700_000_000_000u64 + n)
}

#[test]
fn a_file_cut_mid_record_keeps_every_whole_record() {
    let (dir, path) = generated(rum_explorer::generate::GenerateFormat::Ndjson, 20);
    let bytes = std::fs::read(&path).expect("read");
    // Cut in the middle of a line, away from its ends.
    let mut cut = bytes.len() * 2 / 3;
    while bytes[cut] == b'\n' || bytes[cut - 1] == b'\n' {
        cut += 1;
    }
    let whole_lines = bytes[..cut].iter().filter(|b| **b == b'\n').count() as u64;
    let truncated = write(dir.path(), "cut.ndjson", &bytes[..cut]);
    let complete = write(dir.path(), "whole.ndjson", &bytes[..cut - bytes[..cut].iter().rev().position(|b| *b == b'\n').unwrap_or(0)]);
    let (_d1, store_cut, report) = import_one(&truncated);
    let (_d2, store_whole, whole_report) = import_one(&complete);
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(report.records_skipped, 1, "only the cut record: {:?}", report.problems);
    assert_eq!(report.problems[0].line, whole_lines + 1, "names the line of the cut record");
    assert_eq!(report.summary.inserted_total(), whole_report.summary.inserted_total());
    assert_same_sessions(&sessions_json(&store_cut), &sessions_json(&store_whole), "cut vs whole");
}

#[test]
fn a_truncated_gzip_keeps_what_was_read_and_says_so() {
    let (dir, path) = generated(rum_explorer::generate::GenerateFormat::Lp, 40);
    let compressed = gzip(&std::fs::read(&path).expect("read"));
    let cut = write(dir.path(), "cut.lp.gz", &compressed[..compressed.len() * 7 / 10]);
    let (_d, store, report) = import_one(&cut);
    assert!(report.error.is_none(), "{:?}", report.error);
    assert!(report.summary.inserted_total() > 100, "records before the cut arrive");
    let last = report.problems.last().expect("a problem is reported");
    assert!(last.reason.contains("ends early") || last.reason.contains("cannot be decoded"), "{}", last.reason);
    assert!(count(&store, "SELECT count(*) FROM events") > 100);
}

#[test]
fn invalid_utf8_is_reported_by_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut bytes = line(1, "s1").into_bytes();
    bytes.extend_from_slice(b"action,session_id=s1,app_id=\xff\xfe action_name=\"bad\" 1700000000005\n");
    bytes.extend_from_slice(line(3, "s1").as_bytes());
    let path = write(dir.path(), "utf8.lp", &bytes);
    let (_d, _store, report) = import_one(&path);
    assert_eq!(report.summary.inserted_total(), 2, "{:?}", report.problems);
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].line, 2);
    assert!(report.problems[0].reason.contains("UTF-8"), "{}", report.problems[0].reason);
}

#[test]
fn a_string_where_a_number_is_expected_is_kept_and_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = r#"{"type":"view","date":1700000000000,"session":{"id":"s1"},"view":{"id":"v1","url":"https://x.test/a","loading_time":"slow"}}
{"type":"action","date":1700000000100,"session":{"id":"s1"},"view":{"id":"v1"},"action":{"id":"a1","type":"click"}}
"#;
    let path = write(dir.path(), "types.ndjson", text.as_bytes());
    let (_d, store, report) = import_one(&path);
    assert_eq!(report.summary.inserted_total(), 2);
    let warning = report.summary.warnings.first().expect("a warning");
    assert_eq!(warning.0, 1);
    assert_eq!(warning.1, "loading_time should be a number but is \"slow\"; kept as an extended field", "said as the file has it");
    let detail = store.session_detail("s1").expect("q").expect("session");
    let view = detail.events.iter().find(|e| e.kind == "view").expect("view");
    assert_eq!(view.get_str("loading_time"), Some("slow"), "the odd value is kept as an extended field");
}

#[test]
fn an_unknown_event_kind_is_kept_under_its_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = format!("{}custom_probe,session_id=s1,app_id=a value=3i 1700000000009\n", line(1, "s1"));
    let path = write(dir.path(), "kinds.lp", text.as_bytes());
    let (_d, store, report) = import_one(&path);
    assert_eq!(report.summary.inserted_by_kind.get("custom_probe"), Some(&1));
    assert_eq!(count(&store, "SELECT other_event_count FROM sessions WHERE session_id = 's1'"), 1);
}

#[test]
fn a_100_mb_line_is_skipped_at_the_record_limit_and_the_rest_imports() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("huge.lp");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    file.write_all(line(1, "s1").as_bytes()).expect("write");
    file.write_all(b"view,session_id=s1 note=\"").expect("write");
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..100 {
        file.write_all(&chunk).expect("write");
    }
    file.write_all(b"\" 1700000000003\n").expect("write");
    file.write_all(line(3, "s1").as_bytes()).expect("write");
    drop(file);
    let (_d, _store, report) = import_one(&path);
    assert_eq!(report.summary.inserted_total(), 2);
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].line, 2);
    assert!(report.problems[0].reason.contains("over the 32.0 MiB limit"), "{}", report.problems[0].reason);
}

#[test]
fn an_unterminated_quote_is_reported_and_the_next_lines_read_on_their_own() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = format!("{}action,session_id=s1 action_name=\"never closed 1700000000002\n{}{}", line(1, "s1"), line(3, "s1"), line(4, "s1"));
    let path = write(dir.path(), "quote.lp", text.as_bytes());
    let (_d, _store, report) = import_one(&path);
    assert_eq!(report.summary.inserted_total(), 3, "{:?}", report.problems);
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].line, 2);
    assert!(report.problems[0].reason.contains("quote"), "{}", report.problems[0].reason);
}

#[test]
fn a_ragged_csv_row_is_reported_and_the_others_import() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = "time,session_id,action_id,action_name\n1700000000000,s1,a1,open\n1700000000001,s1,a2\n1700000000002,s1,a3,close\n";
    let path = write(dir.path(), "rum-action.csv", text.as_bytes());
    let (_d, _store, report) = import_one(&path);
    assert_eq!(report.summary.inserted_total(), 2);
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].line, 3);
    assert!(report.problems[0].reason.contains("cells"), "{}", report.problems[0].reason);
}

#[test]
fn empty_and_binary_files_are_rejected_with_a_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let empty = write(dir.path(), "empty.lp", b"");
    let (_d, _s, report) = import_one(&empty);
    let error = report.error.expect("rejected");
    assert!(error.contains("empty.lp") && error.contains("empty"), "{error}");
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..50_000)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng as u8
        })
        .collect();
    let binary = write(dir.path(), "image.bin", &noise);
    let (_d, store, report) = import_one(&binary);
    let error = report.error.expect("rejected");
    assert!(error.contains("image.bin") && error.contains("binary"), "{error}");
    assert_eq!(count(&store, "SELECT count(*) FROM events"), 0);
}

#[test]
fn a_folder_of_good_and_bad_files_imports_the_good_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let folder = dir.path().join("exports");
    std::fs::create_dir(&folder).expect("mkdir");
    write(&folder, "a-good.lp", line(1, "s1").as_bytes());
    write(&folder, "b-empty.lp", b"");
    write(&folder, "c-binary.dat", &[0u8, 159, 146, 150, 0, 1, 2, 3]);
    write(&folder, "d-good.lp.gz", &gzip(line(2, "s2").as_bytes()));
    write(&folder, "e-partly-bad.lp", format!("{}not a point\n", line(5, "s3")).as_bytes());
    let (_t, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = ingest::import_paths(&mut store, &[folder], &ImportProgress::new(), |_| {});
    let outcome: Vec<(String, bool, u64, u64)> = reports
        .iter()
        .map(|r| (Path::new(&r.path).file_name().and_then(|n| n.to_str()).unwrap_or("").to_string(), r.error.is_some(), r.summary.inserted_total(), r.records_skipped))
        .collect();
    assert_eq!(
        outcome,
        vec![
            ("a-good.lp".to_string(), false, 1, 0),
            ("b-empty.lp".to_string(), true, 0, 0),
            ("c-binary.dat".to_string(), true, 0, 0),
            ("d-good.lp.gz".to_string(), false, 1, 0),
            ("e-partly-bad.lp".to_string(), false, 1, 1),
        ]
    );
    assert_eq!(count(&store, "SELECT count(*) FROM sessions"), 3);
}

#[test]
fn a_gzip_bomb_stops_at_the_ratio_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    // A valid first record, then 300 MiB of blank lines: about 300 KiB compressed.
    let path = dir.path().join("bomb.lp.gz");
    let mut encoder = flate2::write::GzEncoder::new(std::fs::File::create(&path).expect("create"), flate2::Compression::best());
    encoder.write_all(line(1, "s1").as_bytes()).expect("write");
    let blank = vec![b'\n'; 1 << 20];
    for _ in 0..300 {
        encoder.write_all(&blank).expect("write");
    }
    encoder.finish().expect("finish");
    assert!(std::fs::metadata(&path).expect("size").len() < 2 << 20);
    let (_d, _store, report) = import_one(&path);
    assert_eq!(report.summary.inserted_total(), 1, "the record before the bomb arrives");
    let last = report.problems.last().expect("stopped with a reason");
    assert!(last.reason.contains("gzip bomb guard"), "{}", last.reason);
}

#[test]
fn paths_that_cannot_be_read_are_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("missing.lp");
    let (_d, _s, report) = import_one(&missing);
    assert!(report.error.as_deref().is_some_and(|e| e.contains("missing.lp") && e.contains("cannot read")), "{:?}", report.error);

    let (_d, _s, report) = import_one(dir.path());
    assert!(report.error.as_deref().is_some_and(|e| e.contains("not a regular file")), "a directory: {:?}", report.error);

    #[cfg(unix)]
    {
        let socket = dir.path().join("rum.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let (_d, _s, report) = import_one(&socket);
        assert!(report.error.as_deref().is_some_and(|e| e.contains("rum.sock") && e.contains("not a regular file")), "a socket: {:?}", report.error);

        use std::os::unix::fs::PermissionsExt;
        let locked = write(dir.path(), "locked.lp", line(1, "s1").as_bytes());
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        if std::fs::File::open(&locked).is_ok() {
            eprintln!("SKIPPED the permission case: this user (root?) reads files whatever their mode");
        } else {
            let (_d, _s, report) = import_one(&locked);
            assert!(report.error.as_deref().is_some_and(|e| e.contains("locked.lp") && e.contains("ermission")), "{:?}", report.error);
        }
    }
}
