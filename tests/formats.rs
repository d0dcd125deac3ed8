//! Every format, plain and gzip, renamed, in folders: the same sessions come out.

mod common;

use common::*;
use rum_explorer::generate::{self, GenerateFormat};
use rum_explorer::ingest::Format;
use rum_explorer::store::Store;
use std::path::PathBuf;

fn import_into_new(paths: &[PathBuf]) -> (tempfile::TempDir, Store, Vec<rum_explorer::ingest::FileReport>) {
    let (dir, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = import(&mut store, paths);
    (dir, store, reports)
}

#[test]
fn the_same_sessions_from_every_format_plain_and_gzip() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut lists = Vec::new();
    for gzip in [false, true] {
        for (format, name, detected) in [
            (GenerateFormat::Lp, "s.lp", Format::GuanceLineProtocol),
            (GenerateFormat::Ndjson, "s.ndjson", Format::DatadogJson),
            (GenerateFormat::GuanceJson, "s.json", Format::GuanceJson),
            (GenerateFormat::Csv, "s.csv", Format::GuanceCsv),
        ] {
            let out = dir.path().join(format!("{}-{name}", if gzip { "gz" } else { "plain" }));
            let written = generate::write(&out, format, 40, 9, gzip).expect("generate");
            let paths: Vec<PathBuf> = written.iter().map(|(p, _)| p.clone()).collect();
            let (_d, store, reports) = import_into_new(&paths);
            for r in &reports {
                assert_eq!(r.error, None, "{}", r.path);
                assert_eq!(r.records_skipped, 0, "{}: {:?}", r.path, r.problems);
                assert_eq!(r.format, Some(detected), "{}", r.path);
                assert_eq!(r.gzip, gzip, "{}", r.path);
            }
            lists.push((format!("{format:?} gzip={gzip}"), sessions_json(&store)));
        }
    }
    let (first_name, first) = &lists[0];
    assert_eq!(first.len(), 40);
    // The answer the generator knows: its own events, counted by hand.
    let mut rng = generate::Rng::new(9);
    let mut expected_views = std::collections::BTreeMap::new();
    for _ in 0..40 {
        let events = generate::session_events(&mut rng);
        let id = events[0].session_id().expect("id").to_string();
        expected_views.insert(id, events.iter().filter(|e| e.kind == "view").count() as i64);
    }
    for s in first {
        let id = s["session_id"].as_str().expect("id");
        assert_eq!(s["view_count"].as_i64(), expected_views.get(id).copied(), "{first_name}: {id}");
    }
    for (name, list) in &lists[1..] {
        assert_same_sessions(list, first, &format!("{name} vs {first_name}"));
    }
}

#[test]
fn detection_is_by_content_not_name_and_folders_are_walked() {
    let dir = tempfile::tempdir().expect("tmp");
    let folder = dir.path().join("exports");
    let nested = folder.join("nested");
    std::fs::create_dir_all(&nested).expect("mkdir");
    generate::write(&folder.join("data.txt"), GenerateFormat::Ndjson, 5, 1, false).expect("gen");
    generate::write(&nested.join("points.bin"), GenerateFormat::Lp, 5, 2, true).expect("gen");
    std::fs::copy(own_fixture("not-rum.txt"), folder.join("readme.lp")).expect("copy");
    let (_d, store, reports) = import_into_new(&[folder]);
    assert_eq!(reports.len(), 3, "every file in the tree");
    let by_name = |n: &str| reports.iter().find(|r| r.path.ends_with(n)).unwrap_or_else(|| panic!("{n}"));
    assert_eq!(by_name("data.txt").format, Some(Format::DatadogJson));
    assert_eq!(by_name("points.bin.gz").format, Some(Format::GuanceLineProtocol));
    assert!(by_name("readme.lp").error.as_deref().is_some_and(|e| e.contains("not a RUM export")));
    assert_eq!(all_sessions(&store).len(), 10);
}

#[test]
fn csv_measurement_from_columns_and_text_times() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("export-2025-11-13.csv");
    std::fs::write(
        &file,
        "time,session_id,view_url,error_type,error_message,error_stack,custom_tag\n\
         2025-11-13 14:02:11,s1,https://a.example.com/p?x=1,TypeError,boom,\"TypeError: boom\n    at f (a.js:1:2)\",blue\n\
         2025-11-13T14:02:12.500Z,s1,https://a.example.com/p,RangeError,bad,,\n",
    )
    .expect("write");
    let (_d, store, reports) = import_into_new(&[file]);
    assert_eq!(reports[0].format, Some(Format::GuanceCsv));
    assert_eq!(reports[0].summary.inserted_by_kind.get("error"), Some(&2), "measurement told by the columns");
    let detail = store.session_detail("s1").expect("q").expect("exists");
    assert_eq!(detail.session.start_ms, Some(1_763_042_531_000), "text without a zone is UTC");
    assert_eq!(detail.events[1].time_ms, 1_763_042_532_500);
    assert_eq!(detail.events[0].get_str("error_stack"), Some("TypeError: boom\n    at f (a.js:1:2)"));
    assert_eq!(detail.events[0].get_str("custom_tag"), Some("blue"), "unknown columns are extended fields");
    assert_eq!(detail.session.first_view_path.as_deref(), Some("/p"));
}

#[test]
fn guance_json_points_one_per_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("points.ndjson");
    std::fs::write(
        &file,
        "{\"measurement\":\"view\",\"tags\":{\"session_id\":\"g1\",\"view_url\":\"https://g.example.com/a\"},\"fields\":{\"time_spent\":2000000000},\"time\":1700000000000}\n\
         {\"measurement\":\"error\",\"tags\":{\"session_id\":\"g1\"},\"fields\":{\"error_message\":\"x\"},\"time\":\"soon\"}\n\
         {\"measurement\":\"action\",\"tags\":{\"session_id\":\"g1\",\"action_name\":\"Go\"},\"fields\":{\"duration\":5},\"time\":1700000001}\n",
    )
    .expect("write");
    let (_d, store, reports) = import_into_new(&[file]);
    assert_eq!(reports[0].format, Some(Format::GuanceJson));
    assert_eq!(reports[0].problems.len(), 1);
    assert_eq!(reports[0].problems[0].line, 2);
    let s = session(&store, "g1");
    assert_eq!((s.view_count, s.action_count, s.error_count), (1, 1, 0));
    assert_eq!(s.end_ms, Some(1_700_000_002_000));
}

#[test]
fn sample_data_imports_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
    let (_d, store, reports) = import_into_new(&[dir]);
    assert!(reports.len() >= 4, "a file per format");
    let formats: std::collections::BTreeSet<String> = reports.iter().filter_map(|r| r.format.map(|f| f.name().to_string())).collect();
    assert_eq!(formats.len(), 4, "every format is in sample-data: {formats:?}");
    for r in &reports {
        assert_eq!(r.error, None, "{}", r.path);
        assert_eq!(r.records_skipped, 0, "{}", r.path);
    }
    let sessions = all_sessions(&store).len();
    assert!((200..=400).contains(&sessions), "a few hundred sessions: {sessions}");
}
