//! Import core: every rule of the importers and the store, on real third-party files and on
//! our own small fixtures.

mod common;

use common::*;
use rum_explorer::ingest::{self, Format, ImportProgress};
use rum_explorer::store::{SessionQuery, Store};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::Ordering;

/// Cancels the import `progress` follows once it has read `events` events.
fn cancel_after_events(progress: &std::sync::Arc<ImportProgress>, events: u64) -> std::thread::JoinHandle<()> {
    let progress = progress.clone();
    std::thread::spawn(move || {
        while progress.events.load(Ordering::Relaxed) < events {
            std::thread::yield_now();
        }
        progress.cancel.store(true, Ordering::Relaxed);
    })
}

fn kinds(report: &ingest::FileReport) -> BTreeMap<String, u64> {
    report.summary.inserted_by_kind.clone()
}

fn map(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn guance_one_view_fixture_imports_exactly() {
    let Some(dir) = third_party("guance-datakit") else { return };
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = import(&mut store, &[dir.join("sdk-2.0.15-one-view.lp")]);
    assert_eq!(reports[0].error, None);
    assert_eq!(reports[0].format, Some(Format::GuanceLineProtocol));
    assert_eq!(reports[0].records_skipped, 0);
    assert_eq!(kinds(&reports[0]), map(&[("error", 2), ("long_task", 3), ("resource", 3), ("view", 1)]));
    let sessions = all_sessions(&store);
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.session_id, "e0e08c94-3096-419e-8eae-1273d045153c");
    assert_eq!((s.view_count, s.action_count, s.error_count, s.resource_count, s.long_task_count), (1, 0, 2, 3, 3));
    assert_eq!(s.start_ms, Some(1_636_524_705_288));
    // The view's time_spent (23318.7 ms) ends the session.
    assert_eq!(s.end_ms, Some(1_636_524_705_288 + 23_318));
    assert_eq!(s.first_view_path.as_deref(), Some("/dist/"));
    assert_eq!(s.browser.as_deref(), Some("Chrome"));
    assert_eq!(s.os.as_deref(), Some("Mac OS"), "the escaped space in the tag is read");
    let detail = store.session_detail(&s.session_id).expect("detail").expect("exists");
    let stacks: Vec<&str> = detail.events.iter().filter(|e| e.kind == "error").filter_map(|e| e.get_str("error_stack")).collect();
    assert_eq!(stacks.len(), 2);
    for stack in stacks {
        assert_eq!(stack, "TypeError\n\tat <anonymous> @ http://localhost:5500/dist/bundle.js:1:821", "newlines kept");
    }
    let view = detail.events.iter().find(|e| e.kind == "view").expect("view");
    assert_eq!(view.get("loading_time").and_then(|v| v.as_i64()), Some(1_252_500_000));
    assert_eq!(view.get("dom_ready").and_then(|v| v.as_i64()), Some(324_000_000), "unknown keys are kept");
}

#[test]
fn guance_four_views_fixture_imports_exactly() {
    let Some(dir) = third_party("guance-datakit") else { return };
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = import(&mut store, &[dir.join("sdk-2.1.5-four-views.lp")]);
    assert_eq!(reports[0].records_skipped, 0);
    assert_eq!(kinds(&reports[0]), map(&[("action", 1), ("long_task", 4), ("resource", 14), ("view", 4)]));
    let s = session(&store, "23deeb6f-98c7-420a-bb3f-eaf1a79d3e36");
    assert_eq!((s.view_count, s.action_count, s.error_count, s.resource_count, s.long_task_count), (4, 1, 0, 14, 4));
    assert_eq!(s.first_view_path.as_deref(), Some("/redirectpage"));
    assert_eq!(s.last_view_path.as_deref(), Some("/logIndi/log/all"));
    assert_eq!(s.first_view_url.as_deref(), Some("https://console.guance.com/redirectpage?uuid=x4yI62fo.1664520139"));
    assert_eq!(s.user_name.as_deref(), Some("example_user"));
    assert_eq!(s.user_email.as_deref(), Some("user@example.com"));
    assert_eq!(s.start_ms, Some(1_664_520_139_865));
    let detail = store.session_detail(&s.session_id).expect("detail").expect("exists");
    let view = detail.events.iter().find(|e| e.get_str("view_path") == Some("/scene/dashboard/list")).expect("view");
    assert_eq!(view.get_str("view_url_query"), Some(r#"{"w":"wksp_6d15ac7c261a11eaae676ef8a3472ce6"}"#), "JSON inside a tag is unescaped");
    // action_name is a tag in 2.1.5: one key space.
    assert!(detail.events.iter().any(|e| e.kind == "action" && e.get_str("action_name").is_some()));
}

#[test]
fn every_datadog_fixture_imports_on_its_own() {
    let Some(dir) = third_party("datadog-rum-events-format") else { return };
    let expected: &[(&str, &str)] = &[
        ("action.json", "action"),
        ("app_start.json", "action"),
        ("error.json", "error"),
        ("extended_error.json", "error"),
        ("long_animation_frame.json", "long_task"),
        ("long_task.json", "long_task"),
        ("resource-graphql.json", "resource"),
        ("resource.json", "resource"),
        ("stream.json", "view"),
        ("transition.json", "transition"),
        ("view-with-tab.json", "view"),
        ("view.json", "view"),
        ("view_update.json", "view"),
        ("vital.json", "vital"),
    ];
    for (file, kind) in expected {
        let (_tmp, db) = temp_db();
        let mut store = Store::open(&db).expect("open");
        let reports = import(&mut store, &[dir.join(file)]);
        assert_eq!(reports[0].error, None, "{file}");
        assert_eq!(reports[0].format, Some(Format::DatadogJson), "{file}");
        assert_eq!(reports[0].records_skipped, 0, "{file}: {:?}", reports[0].problems);
        assert_eq!(kinds(&reports[0]), map(&[(kind, 1)]), "{file}");
        assert_eq!(count(&store, "SELECT count(*) FROM sessions"), 1, "{file}");
    }
}

#[test]
fn datadog_fixtures_together_dedupe_by_id_and_merge_views() {
    let Some(dir) = third_party("datadog-rum-events-format") else { return };
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let files: Vec<_> = ["view.json", "view-with-tab.json", "view_update.json", "stream.json", "action.json", "app_start.json",
        "error.json", "extended_error.json", "resource.json", "resource-graphql.json", "long_task.json",
        "long_animation_frame.json", "vital.json", "transition.json"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    let reports = import(&mut store, &files);
    assert!(reports.iter().all(|r| r.error.is_none()));
    let s = session(&store, "cacbf45c-3a05-48ce-b066-d76349460599");
    // The files share the SDK's ids: one view, one action (same action.id), two errors (two
    // error ids), one resource (same resource.id), one long task (same long_task.id).
    assert_eq!((s.view_count, s.action_count, s.error_count, s.resource_count, s.long_task_count), (1, 1, 2, 1, 1));
    assert_eq!(count(&store, "SELECT count(*) FROM events WHERE kind IN ('vital', 'transition')"), 2, "other kinds are kept");
    let detail = store.session_detail(&s.session_id).expect("q").expect("exists");
    let view = detail.events.iter().find(|e| e.kind == "view").expect("view");
    // Version 9 (view.json) wins over the partial update (version 2) and view-with-tab (version 1)...
    assert_eq!(view.get_str("view_url"), Some("https://app.datadoghq.com/rum/explorer?live=1h&query=&tab=view"));
    assert_eq!(view.get("loading_time").and_then(|v| v.as_i64()), Some(4_115_295_000));
    assert_eq!(view.get("_dd.document_version").and_then(|v| v.as_i64()), Some(9));
    // ...and the keys only the older copies had are merged in.
    assert_eq!(view.get_str("tab.id"), Some("b7e2a1f4-3c8d-4e5f-9a0b-1d2e3f4a5b6c"));
    assert_eq!(view.time_ms, 1_591_283_924_940, "the view starts at its first copy's time");
    assert_eq!(s.user_name.as_deref(), Some("John Doe"));
    assert_eq!(s.os.as_deref(), Some("iOS"));
    assert_eq!(s.device.as_deref(), Some("tablet"));
}

#[test]
fn tricky_line_protocol_of_our_own() {
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = import(&mut store, &[own_fixture("tricky.lp")]);
    let r = &reports[0];
    assert_eq!(r.error, None);
    assert_eq!(r.records_skipped, 0, "{:?}", r.problems);
    assert_eq!(kinds(r), map(&[("action", 1), ("error", 1), ("telemetry", 1), ("view", 2)]));
    assert_eq!(r.summary.views_merged, 1, "the view sent twice is merged");
    let s = session(&store, "sess-lp-1");
    assert_eq!((s.view_count, s.action_count, s.error_count), (2, 1, 1));
    assert_eq!(s.start_ms, Some(1_700_000_000_000));
    // v2 has a timestamp in seconds: 1700000010 s + 2 s spent.
    assert_eq!(s.end_ms, Some(1_700_000_012_000));
    assert_eq!(s.duration_ms, Some(12_000));
    assert_eq!(s.first_view_path.as_deref(), Some("/cart"));
    assert_eq!(s.last_view_path.as_deref(), Some("/checkout"), "the path comes from the URL when only the URL is given");
    assert_eq!(s.os.as_deref(), Some("Mac OS"));
    let detail = store.session_detail("sess-lp-1").expect("q").expect("exists");
    let v1 = detail.events.iter().find(|e| e.get_str("view_id") == Some("v1")).expect("v1");
    assert_eq!(v1.get("time_spent").and_then(|v| v.as_i64()), Some(9_000_000_000), "the later copy wins");
    assert_eq!(v1.get_str("note"), Some("a,b=c"), "keys only the first copy had are kept");
    assert_eq!(v1.get_str("view_url"), Some("https://shop.example.com/cart?x=1"));
    let error = detail.events.iter().find(|e| e.kind == "error").expect("error");
    assert_eq!(error.get_str("error_message"), Some("Cannot read \"price\""));
    assert!(error.get_str("error_stack").is_some_and(|s| s.lines().count() == 3));
    let action = detail.events.iter().find(|e| e.kind == "action").expect("action");
    assert_eq!(action.time_ms, 1_700_000_002_000, "a microsecond timestamp");
    assert_eq!(action.get_str("action_name"), Some("Add to cart"));
    assert_eq!(action.duration_ns(), Some(150_000_000));
}

#[test]
fn datadog_ndjson_of_our_own_merges_views_and_reads_api_pages() {
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = import(&mut store, &[own_fixture("views.ndjson")]);
    let r = &reports[0];
    assert_eq!(r.records_skipped, 0, "{:?}", r.problems);
    assert_eq!(kinds(r), map(&[("action", 1), ("error", 1), ("view", 2)]));
    let s = session(&store, "sess-dd-1");
    assert_eq!((s.view_count, s.action_count, s.error_count), (1, 1, 1));
    assert_eq!(s.first_view_path.as_deref(), Some("/home"));
    assert_eq!(s.user_name.as_deref(), Some("Ada"));
    assert_eq!((s.browser.as_deref(), s.os.as_deref(), s.country.as_deref(), s.city.as_deref()), (Some("Firefox"), Some("Linux"), Some("France"), Some("Paris")));
    // Version 3 wins time_spent over the view_update (version 2); the update's own key is merged.
    assert_eq!(s.end_ms, Some(1_700_000_007_000));
    let detail = store.session_detail("sess-dd-1").expect("q").expect("exists");
    let view = detail.events.iter().find(|e| e.kind == "view").expect("view");
    assert_eq!(view.get("time_spent").and_then(|v| v.as_i64()), Some(7_000_000_000));
    assert_eq!(view.get_str("context.experiment"), Some("B"));
    assert_eq!(view.get("largest_contentful_paint").and_then(|v| v.as_i64()), Some(2_100_000_000));
    let error = detail.events.iter().find(|e| e.kind == "error").expect("error");
    assert_eq!(error.get_str("error_stack"), Some("RangeError: boom\n  at f (a.js:1:1)"));
    let api = session(&store, "sess-dd-2");
    assert_eq!(api.start_ms, Some(1_700_000_010_000), "API timestamp used when the event has no date");
    assert_eq!(api.first_view_path.as_deref(), Some("/api-page"));
    assert_pages_match_events(&store, "views.ndjson");
    assert_event_values_match_events(&store, "views.ndjson");
    let _ = assert_resource_maxima_match_events(&store, "views.ndjson");
}

/// A later file adds a view to a stored session and sends it twice as it goes on. The first
/// copy waits in the writer's batch when the second arrives: the second must still merge into
/// it (one row with the later values), not be dropped as a copy of a stored event.
#[test]
fn a_view_sent_twice_to_a_stored_session_in_one_file_is_merged() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = dir.path().join("first.ndjson");
    let later = dir.path().join("later.ndjson");
    std::fs::write(&first, r#"{"type":"action","date":1700000000000,"session":{"id":"kept"},"view":{"url":"https://shop.example.com/home"}}"#.to_string() + "\n")
        .expect("write");
    let view = |version: u32, time_spent_ns: u64| {
        format!(
            r#"{{"type":"view","date":1700000001000,"session":{{"id":"kept"}},"view":{{"id":"v9","url":"https://shop.example.com/cart","time_spent":{time_spent_ns}}},"_dd":{{"document_version":{version}}}}}"#
        )
    };
    std::fs::write(&later, view(1, 1_000_000_000) + "\n" + &view(2, 4_000_000_000) + "\n").expect("write");
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    import(&mut store, &[first]);
    let reports = import(&mut store, &[later]);
    let summary = &reports[0].summary;
    assert_eq!((summary.views_merged, summary.duplicates), (1, 0), "{summary:?}");
    assert_eq!(kinds(&reports[0]), map(&[("view", 1)]));
    let s = session(&store, "kept");
    assert_eq!((s.view_count, s.action_count), (1, 1));
    assert_eq!(s.end_ms, Some(1_700_000_001_000 + 4_000), "the later copy's time_spent");
    let detail = store.session_detail("kept").expect("q").expect("exists");
    let views: Vec<_> = detail.events.iter().filter(|e| e.kind == "view").collect();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].get("time_spent").and_then(|v| v.as_i64()), Some(4_000_000_000));
}

/// An explorer's export lists the newest events first, so a view's copies come newest first:
/// the older copies are merged copies, as they are in the other order, not events "already
/// present" (which is what the report said of them on a new database). Imported again, the
/// file is all already present. Both the writer's paths: a new session's view held in memory,
/// and a stored session's view met in the table.
#[test]
fn a_view_sent_newest_first_counts_its_older_copies_as_merged() {
    let dir = tempfile::tempdir().expect("tmp");
    let view = |session: &str, version: u32| {
        format!(
            r#"{{"type":"view","date":1700000001000,"session":{{"id":"{session}"}},"view":{{"id":"{session}-v","url":"https://shop.example.com/cart","time_spent":{}}},"_dd":{{"document_version":{version}}}}}"#,
            u64::from(version) * 1_000_000_000
        ) + "\n"
    };
    let action = |session: &str| {
        format!(r#"{{"type":"action","date":1700000000000,"session":{{"id":"{session}"}},"action":{{"id":"{session}-a","type":"click"}}}}"#) + "\n"
    };
    let newest_first = dir.path().join("newest-first.ndjson");
    std::fs::write(&newest_first, view("fresh", 3) + &action("fresh") + &view("fresh", 2) + &view("fresh", 1)).expect("write");
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = import(&mut store, std::slice::from_ref(&newest_first));
    let summary = &reports[0].summary;
    assert_eq!((summary.views_merged, summary.duplicates), (2, 0), "{summary:?}");
    assert_eq!(kinds(&reports[0]), map(&[("action", 1), ("view", 1)]));
    let s = session(&store, "fresh");
    assert_eq!(s.end_ms, Some(1_700_000_001_000 + 3_000), "the newest copy's time_spent stays");

    let again = import(&mut store, &[newest_first]);
    assert_eq!((again[0].summary.views_merged, again[0].summary.duplicates), (0, 4), "{:?}", again[0].summary);

    // A stored session: the view's copies are written to the table and merged there.
    let later = dir.path().join("later.ndjson");
    std::fs::write(&later, view("fresh", 5) + &view("fresh", 4)).expect("write");
    let reports = import(&mut store, &[later]);
    let summary = &reports[0].summary;
    assert_eq!((summary.views_merged, summary.duplicates), (2, 0), "{summary:?}");
    assert_eq!(session(&store, "fresh").end_ms, Some(1_700_000_001_000 + 5_000));
    let detail = store.session_detail("fresh").expect("q").expect("exists");
    assert_eq!(detail.events.iter().filter(|e| e.kind == "view").count(), 1);
}

/// A later file that adds events to stored sessions widens a session's span at the start, at
/// the end, or not at all, and adds to the counts of the kinds it brings, each as importing
/// everything in one file would; so does a file that brings one kind only.
#[test]
fn later_files_widen_spans_and_add_counts_as_one_file_would() {
    let dir = tempfile::tempdir().expect("tmp");
    let base_ms: i64 = 1_700_000_000_000;
    let view = |session: &str| {
        format!(
            r#"{{"type":"view","date":{},"session":{{"id":"{session}"}},"view":{{"id":"{session}-v","url":"https://shop.example.com/{session}","time_spent":20000000000}}}}"#,
            base_ms + 10_000
        )
    };
    let event = |kind: &str, session: &str, id: &str, offset_ms: i64| {
        let body = match kind {
            "action" => format!(r#""action":{{"id":"{id}","type":"click"}}"#),
            "error" => format!(r#""error":{{"id":"{id}","message":"boom {id}","source":"source"}}"#),
            _ => format!(r#""long_task":{{"id":"{id}","duration":50000000}}"#),
        };
        format!(
            r#"{{"type":"{kind}","date":{},"session":{{"id":"{session}"}},"view":{{"id":"{session}-v","url":"https://shop.example.com/{session}"}},{body}}}"#,
            base_ms + offset_ms
        )
    };
    // Each session: a view from 10 s to 30 s and an action at 15 s, stored first.
    let sessions = ["early", "late", "inside", "untouched"];
    let first: Vec<String> = sessions.iter().flat_map(|s| [view(s), event("action", s, &format!("{s}-a0"), 15_000)]).collect();
    // Then events before the start, after the end and within, of several kinds.
    let mixed = [
        event("action", "early", "early-a1", 2_000),
        event("error", "early", "early-e1", 12_000),
        event("long_task", "late", "late-l1", 45_000),
        event("action", "late", "late-a1", 20_000),
        event("error", "inside", "inside-e1", 25_000),
    ];
    // Then errors only: one before a start, one within a span.
    let errors_only = [event("error", "inside", "inside-e2", 1_000), event("error", "late", "late-e2", 16_000)];
    let files = [("first.ndjson", first.clone()), ("mixed.ndjson", mixed.to_vec()), ("errors.ndjson", errors_only.to_vec())];
    let mut paths = Vec::new();
    for (name, lines) in &files {
        let path = dir.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");
        paths.push(path);
    }
    let whole = dir.path().join("whole.ndjson");
    std::fs::write(&whole, files.iter().flat_map(|(_, lines)| lines.iter().cloned()).collect::<Vec<_>>().join("\n") + "\n").expect("write");

    let (_t1, db1) = temp_db();
    let mut one = Store::open(&db1).expect("open");
    import(&mut one, &[whole]);
    let (_t2, db2) = temp_db();
    let mut later = Store::open(&db2).expect("open");
    for path in &paths {
        import(&mut later, std::slice::from_ref(path));
    }
    let expected = sessions_json(&one);
    assert_eq!(expected.len(), sessions.len());
    assert_same_sessions(&sessions_json(&later), &expected, "three files");
    assert_pages_match_events(&later, "three files");
    assert_event_values_match_events(&later, "three files");
    let _ = assert_resource_maxima_match_events(&later, "three files");
    // What the files were meant to do, on the sessions themselves.
    let span = |id: &str| {
        let s = session(&later, id);
        (s.start_ms.map(|t| t - base_ms), s.end_ms.map(|t| t - base_ms), s.duration_ms, s.action_count, s.error_count, s.long_task_count)
    };
    assert_eq!(span("early"), (Some(2_000), Some(30_000), Some(28_000), 2, 1, 0));
    assert_eq!(span("late"), (Some(10_000), Some(45_050), Some(35_050), 2, 1, 1));
    assert_eq!(span("inside"), (Some(1_000), Some(30_000), Some(29_000), 1, 2, 0));
    assert_eq!(span("untouched"), (Some(10_000), Some(30_000), Some(20_000), 1, 0, 0));
}

#[test]
fn a_view_that_changes_page_in_a_later_file_leaves_no_stale_page() {
    let dir = tempfile::tempdir().expect("tmp");
    let view = |url: &str, version: u32, time_spent: u64| {
        format!(
            r#"{{"type":"view","date":1700000000000,"session":{{"id":"moved"}},"view":{{"id":"v1","url":"https://shop.example.com{url}","time_spent":{time_spent}}},"_dd":{{"document_version":{version}}}}}"#
        )
    };
    let first = dir.path().join("first.ndjson");
    let later = dir.path().join("later.ndjson");
    std::fs::write(&first, view("/old", 1, 1_000_000) + "\n").expect("write");
    // The same view, a higher version naming another page; and a second session.
    let other = r#"{"type":"action","date":1700000001000,"session":{"id":"other"},"view":{"url":"https://shop.example.com/old"}}"#;
    std::fs::write(&later, view("/new", 2, 2_000_000) + "\n" + other + "\n").expect("write");
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    import(&mut store, &[first]);
    assert_pages_match_events(&store, "first file");
    assert_event_values_match_events(&store, "first file");
    let _ = assert_resource_maxima_match_events(&store, "first file");
    let reports = import(&mut store, &[later]);
    assert_eq!(reports[0].summary.views_merged, 1, "{:?}", reports[0].summary);
    assert_pages_match_events(&store, "after the view moved");
    assert_event_values_match_events(&store, "after the view moved");
    let _ = assert_resource_maxima_match_events(&store, "after the view moved");
    let sessions_on = |page: &str| -> Vec<String> {
        let q = SessionQuery { filter: rum_explorer::query::parse(&format!("view_path:{page}")).expect("parse"), limit: 10, ..Default::default() };
        store.sessions(&q).expect("sessions").into_iter().map(|r| r.session_id).collect()
    };
    assert_eq!(sessions_on("/new"), vec!["moved".to_string()]);
    assert_eq!(sessions_on("/old"), vec!["other".to_string()], "the moved view's old page is gone from its session");
}

/// Datadog events as a JSON array with an event a line (as `jq -c` and exports write them)
/// are read on several threads, in chunks of lines: the same sessions and events as the same
/// events as NDJSON. Cut off after an element, the file's end is reported by line, and every
/// element before it arrives.
#[test]
fn a_json_array_with_an_event_a_line_imports_as_its_ndjson_does() {
    let (dir, text) = generated_ndjson(60, 13);
    let ndjson = dir.path().join("events.ndjson");
    std::fs::write(&ndjson, &text).expect("write");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 1500, "several chunks of lines: {}", lines.len());
    let array = dir.path().join("events.json");
    std::fs::write(&array, format!("[\n{}\n]\n", lines.join(",\n"))).expect("write");
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, format!("[\n{},\n", lines[..1000].join(",\n"))).expect("write");

    let imported = |path: &std::path::Path| {
        let (tmp, db) = temp_db();
        let mut store = Store::open(&db).expect("open");
        let reports = import(&mut store, &[path.to_path_buf()]);
        (tmp, store, reports)
    };
    let (_a, from_ndjson, _) = imported(&ndjson);
    let (_b, from_array, reports) = imported(&array);
    assert_eq!(reports[0].error, None);
    assert_eq!(reports[0].problems, Vec::new());
    assert_same_sessions(&sessions_json(&from_array), &sessions_json(&from_ndjson), "array of lines");
    assert_eq!(events_content(&from_array), events_content(&from_ndjson));

    let (_c, from_cut, reports) = imported(&cut);
    assert_eq!(reports[0].error, None);
    let problems: Vec<(u64, &str)> = reports[0].problems.iter().map(|p| (p.line, p.reason.as_str())).collect();
    assert_eq!(problems, vec![(1002, "the file ends before its JSON array closes (truncated?); the records before were imported")]);
    let (_d, first_thousand, _) = {
        let head = dir.path().join("head.ndjson");
        std::fs::write(&head, lines[..1000].join("\n") + "\n").expect("write");
        imported(&head)
    };
    assert_eq!(events_content(&from_cut), events_content(&first_thousand), "every element before the cut");
}

#[test]
fn json_array_and_single_event_shapes() {
    let dir = tempfile::tempdir().expect("tmp");
    let array = dir.path().join("events.json");
    std::fs::write(
        &array,
        "[\n  {\"type\": \"view\", \"date\": 1700000000000, \"session\": {\"id\": \"arr\"}, \"view\": {\"id\": \"v\", \"url\": \"https://a.example.com/x\"}},\n  {\"type\": \"error\", \"date\": \"bad\", \"session\": {\"id\": \"arr\"}},\n  {\"type\": \"error\", \"date\": 1700000000100, \"session\": {\"id\": \"arr\"}, \"error\": {\"message\": \"m\"}}\n]\n",
    )
    .expect("write");
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = import(&mut store, &[array]);
    assert_eq!(kinds(&reports[0]), map(&[("error", 1), ("view", 1)]));
    assert_eq!(reports[0].problems.len(), 1);
    assert_eq!(reports[0].problems[0].line, 3, "the bad element's line");
    assert!(reports[0].problems[0].reason.contains("date"));
}

#[test]
fn events_form_sessions_in_any_order_across_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let whole = dir.path().join("all.lp");
    rum_explorer::generate::write(&whole, rum_explorer::generate::GenerateFormat::Lp, 30, 7, false).expect("generate");
    // The same points, in reverse order, spread over two files (points, not lines: stacks span lines).
    let mut rng = rum_explorer::generate::Rng::new(7);
    let mut points: Vec<String> = (0..30)
        .flat_map(|_| rum_explorer::generate::session_events(&mut rng))
        .map(|e| rum_explorer::generate::to_line_protocol(&e))
        .collect();
    assert_eq!(points.join("\n") + "\n", std::fs::read_to_string(&whole).expect("read"), "generate writes these points");
    points.reverse();
    let (a, b) = points.split_at(points.len() / 2);
    let part_a = dir.path().join("part-a.lp");
    let part_b = dir.path().join("part-b.lp");
    std::fs::write(&part_a, a.join("\n")).expect("write");
    std::fs::write(&part_b, b.join("\n")).expect("write");

    let (_t1, db1) = temp_db();
    let mut one = Store::open(&db1).expect("open");
    import(&mut one, std::slice::from_ref(&whole));
    let (_t2, db2) = temp_db();
    let mut split = Store::open(&db2).expect("open");
    import(&mut split, &[part_b, part_a]);
    let expected = sessions_json(&one);
    assert_eq!(expected.len(), 30);
    assert_same_sessions(&sessions_json(&split), &expected, "split and reversed");
    assert_pages_match_events(&split, "split and reversed");
    assert_event_values_match_events(&split, "split and reversed");
    let _ = assert_resource_maxima_match_events(&split, "split and reversed");
}

/// A file that adds events to sessions stored before it (as Guance's CSV exports come, a file
/// per kind) adds to their counts and times rather than recounting them, and recounts only
/// the sessions whose first or last page it cannot tell: those it brings views to that had
/// views, and those whose stored pages come from no view and that it brings no views. Through a roomy and a tiny session cache (what it adds
/// is written out with the cache), the sessions and their pages are those of one file.
#[test]
fn later_files_add_to_stored_sessions_as_one_file_would() {
    let (dir, text) = generated_ndjson(48, 5);
    let session_of = |line: &str| -> String {
        let start = line.find("\"session\":{\"id\":\"").map(|i| i + 17).unwrap_or(0);
        line[start..].split('"').next().unwrap_or("").to_string()
    };
    let mut sessions: Vec<String> = text.lines().map(session_of).collect();
    sessions.dedup();
    sessions.sort();
    sessions.dedup();
    assert_eq!(sessions.len(), 48);
    // Sessions 0-2: no views at all, their later events in the first file and the earlier in
    // the second. Sessions 3-5: views in the second file too. Sessions 6-8: every view in the
    // second file, the other events (but those on the first and last view, so that the views
    // change both pages) in the first. The rest: views first, then everything else (a file
    // per kind).
    let without_views = &sessions[0..3];
    let views_later = &sessions[3..6];
    let views_last = &sessions[6..9];
    let is_view = |line: &str| line.contains("\"type\":\"view\"");
    let view_of = |line: &str| -> String {
        let start = line.find("\"view\":{").unwrap_or(0);
        let at = line[start..].find("\"id\":\"").map(|i| start + i + 6).unwrap_or(0);
        line[at..].split('"').next().unwrap_or("").to_string()
    };
    // Each view's last copy only: a stored session's copies of a view would merge in the
    // table, and merging recounts anyway.
    let last_copy: std::collections::HashMap<String, usize> =
        text.lines().enumerate().filter(|(_, line)| is_view(line)).map(|(i, line)| (view_of(line), i)).collect();
    let outer_views: Vec<String> = views_last
        .iter()
        .flat_map(|session| {
            let views: Vec<String> = text.lines().filter(|l| is_view(l) && session_of(l) == *session).map(view_of).collect();
            [views.first().cloned().unwrap_or_default(), views.last().cloned().unwrap_or_default()]
        })
        .collect();
    let lines: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, line)| {
            if is_view(line) {
                last_copy.get(&view_of(line)) == Some(i) && !without_views.contains(&session_of(line))
            } else {
                !(views_last.contains(&session_of(line)) && outer_views.contains(&view_of(line)))
            }
        })
        .map(|(_, line)| line)
        .collect();
    let mut first = Vec::new();
    let mut second_by_session: Vec<Vec<&str>> = Vec::new();
    for session in &sessions {
        let own: Vec<&str> = lines.iter().copied().filter(|line| session_of(line) == *session).collect();
        let mut second = Vec::new();
        if without_views.contains(session) {
            let (earlier, later) = own.split_at(own.len() / 2);
            first.extend_from_slice(later);
            second.extend_from_slice(earlier);
        } else if views_later.contains(session) {
            // By view: the later half of its views come in the second file.
            let mut views: Vec<String> = own.iter().map(|line| view_of(line)).collect();
            views.dedup();
            let later_views = views.split_off(views.len() / 2);
            first.extend(own.iter().copied().filter(|line| !later_views.contains(&view_of(line))));
            second.extend(own.iter().copied().filter(|line| later_views.contains(&view_of(line))));
        } else if views_last.contains(session) {
            first.extend(own.iter().copied().filter(|line| !is_view(line)));
            second.extend(own.iter().copied().filter(|line| is_view(line)));
        } else {
            first.extend(own.iter().copied().filter(|line| is_view(line)));
            second.extend(own.iter().copied().filter(|line| !is_view(line)));
        }
        second_by_session.push(second);
    }
    // The second file's sessions interleaved, a line of each in turn, but for the first view
    // of sessions 6-8, which comes first: the rows are written 512 at a time, so what the file
    // adds to these sessions is added in two parts, and through a tiny cache every session
    // leaves and comes back between its events.
    let mut second: Vec<&str> = Vec::new();
    for (session, own) in sessions.iter().zip(second_by_session.iter_mut()) {
        if views_last.contains(session) && !own.is_empty() {
            second.push(own.remove(0));
        }
    }
    for turn in 0..second_by_session.iter().map(Vec::len).max().unwrap_or(0) {
        second.extend(second_by_session.iter().filter_map(|own| own.get(turn).copied()));
    }
    assert!(second.len() > 600, "more than a batch of rows: {}", second.len());
    assert!(second.iter().any(|line| is_view(line) && views_later.contains(&session_of(line))), "views in the second file");
    let whole = dir.path().join("whole.ndjson");
    let first_file = dir.path().join("first.ndjson");
    let second_file = dir.path().join("second.ndjson");
    std::fs::write(&whole, lines.join("\n") + "\n").expect("write");
    std::fs::write(&first_file, first.join("\n") + "\n").expect("write");
    std::fs::write(&second_file, second.join("\n") + "\n").expect("write");

    let (_one_dir, one_db) = temp_db();
    let mut one = Store::open(&one_db).expect("open");
    import(&mut one, std::slice::from_ref(&whole));
    let expected = sessions_json(&one);
    assert_eq!(expected.len(), 48);
    // The first file alone gives sessions 6-8 other pages: the second file must change them.
    let (_first_dir, first_db) = temp_db();
    let mut first_only = Store::open(&first_db).expect("open");
    import(&mut first_only, std::slice::from_ref(&first_file));
    // No row: a session with two views has no other events left in the first file.
    let pages = |store: &Store, session: &str| -> (Option<String>, Option<String>) {
        store
            .conn
            .prepare("SELECT first_view_path, last_view_path FROM sessions WHERE session_id = ?1")
            .and_then(|mut q| q.query_map([session], |r| Ok((r.get(0)?, r.get(1)?)))?.next().transpose())
            .expect("pages")
            .unwrap_or((None, None))
    };
    for session in views_last {
        assert_ne!(pages(&first_only, session), pages(&one, session), "{session}");
    }
    for cache in [100_000, 2] {
        let (_tmp, db) = temp_db();
        let mut store = Store::open(&db).expect("open");
        store.session_cache_limit = cache;
        let reports = import(&mut store, &[first_file.clone(), second_file.clone()]);
        assert!(reports.iter().all(|r| r.error.is_none()), "{reports:?}");
        assert_eq!(reports[1].summary.sessions_touched, 48);
        assert_eq!(reports[1].summary.views_merged, 0, "new views only, nothing merged (that would recount)");
        let what = format!("two files, cache of {cache}");
        assert_same_sessions(&sessions_json(&store), &expected, &what);
        assert_pages_match_events(&store, &what);
        assert_event_values_match_events(&store, &what);
        assert!(assert_resource_maxima_match_events(&store, &what) > 0, "sessions with resources");
    }
}

/// The pages of the sessions a file creates are written many to a statement: more than one
/// statement's worth, and a remainder, must all arrive.
#[test]
fn many_sessions_pages_all_arrive() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("many.ndjson");
    rum_explorer::generate::write(&file, rum_explorer::generate::GenerateFormat::Ndjson, 200, 11, false).expect("generate");
    let (_t, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    import(&mut store, std::slice::from_ref(&file));
    let pages = count(&store, "SELECT count(*) FROM session_pages");
    assert!(pages > 2 * 256 && pages % 256 != 0, "{pages} pages: two full statements and a remainder");
    assert_pages_match_events(&store, "200 generated sessions");
    assert_event_values_match_events(&store, "200 generated sessions");
    assert!(assert_resource_maxima_match_events(&store, "200 generated sessions") > 0, "sessions with resources");
}

#[test]
fn importing_the_same_file_twice_adds_nothing() {
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let files = [own_fixture("tricky.lp"), own_fixture("views.ndjson")];
    import(&mut store, &files);
    let events = count(&store, "SELECT count(*) FROM events");
    let sessions = all_sessions(&store);
    let second = import(&mut store, &files);
    assert!(second.iter().all(|r| r.summary.inserted_total() == 0 && r.summary.views_merged == 0));
    assert_eq!(count(&store, "SELECT count(*) FROM events"), events);
    assert_eq!(all_sessions(&store), sessions);
}

/// Copies of an event, in the same file or of one stored already, are counted and left out;
/// the events around them are numbered on without gaps, and their sessions get their rows
/// although SQLite's foreign key checks are off while importing (they are back on after).
#[test]
fn copies_in_a_file_and_of_stored_events_are_left_out_and_counted() {
    let (tmp, db) = temp_db();
    let action = |id: &str, at_ms: i64| {
        format!(
            r#"{{"type":"action","date":{at_ms},"application":{{"id":"app"}},"session":{{"id":"s1","type":"user"}},"view":{{"id":"v1","url":"https://a.example/cart"}},"action":{{"id":"{id}","type":"click","target":{{"name":"Pay"}}}}}}"#
        )
    };
    let first = tmp.path().join("first.ndjson");
    let second = tmp.path().join("second.ndjson");
    std::fs::write(&first, [action("a", 1_000), action("a", 1_000), action("b", 2_000)].join("\n")).expect("write");
    // A new session between stored copies, so that ignored rows come before inserted ones.
    let other_session = action("x", 2_500).replace("\"s1\"", "\"s2\"");
    std::fs::write(&second, [action("a", 1_000), other_session, action("b", 2_000), action("c", 3_000)].join("\n")).expect("write");
    let mut store = Store::open(&db).expect("open");
    let reports = import(&mut store, &[first, second]);
    let counts: Vec<(u64, u64)> = reports.iter().map(|r| (r.summary.inserted_total(), r.summary.duplicates)).collect();
    assert_eq!(counts, vec![(2, 1), (2, 2)], "{reports:?}");
    let stored: Vec<(i64, String)> = store
        .conn
        .prepare("SELECT e.event_pk, s.session_id || '/' || e.action_name FROM events e JOIN sessions s USING (session_pk) ORDER BY e.event_pk")
        .and_then(|mut q| q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("events");
    let expected: Vec<(i64, String)> =
        [(1, "s1/Pay"), (2, "s1/Pay"), (3, "s2/Pay"), (4, "s1/Pay")].iter().map(|(pk, name)| (*pk, name.to_string())).collect();
    assert_eq!(stored, expected);
    let sessions = all_sessions(&store);
    let action_counts: Vec<(String, i64)> = sessions.iter().map(|s| (s.session_id.clone(), s.action_count)).collect();
    assert_eq!(action_counts, vec![("s1".to_string(), 3), ("s2".to_string(), 1)]);
    assert_eq!(count(&store, "PRAGMA foreign_keys"), 1, "foreign keys are checked again after an import");
    assert_eq!(count(&store, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

#[test]
fn malformed_records_are_reported_by_line_and_the_rest_imported() {
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = import(&mut store, &[own_fixture("broken.lp"), own_fixture("broken.ndjson")]);
    let lp = &reports[0];
    assert_eq!(lp.error, None);
    assert_eq!(kinds(lp), map(&[("error", 1), ("view", 2)]));
    let lines: Vec<u64> = lp.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6], "{:?}", lp.problems);
    assert!(lp.problems[1].reason.contains("oops"));
    assert!(lp.problems[2].reason.contains("timestamp"));
    assert!(lp.problems[3].reason.contains("session id"));
    assert!(lp.problems[4].reason.contains("never closed"));
    let nd = &reports[1];
    assert_eq!(kinds(nd), map(&[("long_task", 1), ("resource", 1), ("view", 1)]));
    let lines: Vec<u64> = nd.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 4, 6], "{:?}", nd.problems);
    // Line 4 is `[1,2]`: two records on one line, each named.
    assert_eq!(nd.problems[2].reason, "element 1 of the array: expected a JSON object (an event), found a number");
    assert_eq!(nd.problems[3].reason, "element 2 of the array: expected a JSON object (an event), found a number");
    // A text where a number belongs is kept (as an extended field) and noted.
    assert_eq!(nd.summary.warnings.len(), 1);
    assert_eq!(nd.summary.warnings[0].0, 5);
    assert!(nd.summary.warnings[0].1.contains("duration"));
}

#[test]
fn a_file_in_no_known_format_is_rejected_naming_the_formats_tried() {
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = import(&mut store, &[own_fixture("not-rum.txt")]);
    let error = reports[0].error.as_deref().expect("rejected");
    assert!(error.contains("not-rum.txt"), "{error}");
    for format in Format::ALL {
        assert!(error.contains(format.name()), "{error}");
    }
    assert_eq!(count(&store, "SELECT count(*) FROM files"), 0);
}

#[test]
fn a_cancelled_import_leaves_the_database_as_it_was() {
    let dir = tempfile::tempdir().expect("tmp");
    let big = dir.path().join("big.ndjson");
    rum_explorer::generate::write(&big, rum_explorer::generate::GenerateFormat::Ndjson, 1500, 3, false).expect("generate");
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    import(&mut store, &[own_fixture("tricky.lp")]);
    let before_events = count(&store, "SELECT count(*) FROM events");
    let before_sessions = all_sessions(&store);

    let progress = ImportProgress::new();
    let watcher = cancel_after_events(&progress, 2000);
    let reports = ingest::import_paths(&mut store, &[big], &progress, |_| {});
    watcher.join().expect("watcher");
    assert_eq!(reports[0].error.as_deref(), Some("import cancelled"));
    assert_eq!(count(&store, "SELECT count(*) FROM events"), before_events);
    assert_eq!(count(&store, "SELECT count(*) FROM files"), 1);
    assert_eq!(all_sessions(&store), before_sessions);
    assert_eq!(store.conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).expect("check"), "ok");
}

#[test]
fn a_newer_schema_is_refused_with_a_clear_error() {
    let (_tmp, db) = temp_db();
    {
        let store = Store::open(&db).expect("open");
        store.conn.execute_batch("PRAGMA user_version = 99").expect("bump");
    }
    let error = Store::open(&db).err().expect("refused").to_string();
    assert!(error.contains("newer version"), "{error}");
    assert!(error.contains("99"), "{error}");
}

#[test]
fn another_programs_sqlite_file_is_refused() {
    let (_tmp, db) = temp_db();
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch("CREATE TABLE notes (x TEXT)").expect("create");
    }
    let error = Store::open(&db).err().expect("refused").to_string();
    assert!(error.contains("another program"), "{error}");
}

#[test]
fn schema_is_versioned_and_list_columns_indexed() {
    let store = Store::open_in_memory().expect("open");
    let version: i64 = store.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
    assert_eq!(version, rum_explorer::store::SCHEMA_VERSION);
    for column in ["start_ms", "duration_ms", "error_count", "first_view_path", "browser", "country"] {
        let plan: String = store
            .conn
            .query_row(&format!("EXPLAIN QUERY PLAN SELECT * FROM sessions ORDER BY {column} LIMIT 10"), [], |r| r.get(3))
            .expect("plan");
        assert!(plan.contains("USING INDEX"), "{column}: {plan}");
    }
}

#[test]
fn gzip_files_import_like_plain_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let gz = dir.path().join("tricky.renamed.data");
    let mut encoder = flate2::write::GzEncoder::new(std::fs::File::create(&gz).expect("create"), flate2::Compression::default());
    encoder.write_all(&std::fs::read(own_fixture("tricky.lp")).expect("read")).expect("write");
    encoder.finish().expect("finish");
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = import(&mut store, &[gz]);
    assert!(reports[0].gzip);
    assert_eq!(reports[0].format, Some(Format::GuanceLineProtocol));
    assert_eq!(reports[0].summary.inserted_total(), 5);
}

#[test]
fn stats_count_kinds_sessions_and_apps() {
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    import(&mut store, &[own_fixture("tricky.lp"), own_fixture("views.ndjson")]);
    let stats = store.stats().expect("stats");
    assert_eq!(stats.sessions, 3);
    assert_eq!(stats.events_by_kind.get("view"), Some(&4));
    assert_eq!(stats.first_ms, Some(1_700_000_000_000));
    let apps: Vec<&str> = stats.apps.iter().map(|a| a.app_id.as_str()).collect();
    assert!(apps.contains(&"app_t") && apps.contains(&"app_dd"), "{apps:?}");
    assert_eq!(stats.events_by_kind, kinds_counted_in_events(&store));

    // Kinds without a count on the session, and a second file adding to a stored session
    // (its counts are recomputed, not counted as they go).
    let dir = tempfile::tempdir().expect("tmp");
    let later = dir.path().join("later.ndjson");
    std::fs::write(
        &later,
        concat!(
            r#"{"type":"vital","date":1700000009000,"application":{"id":"app_dd"},"session":{"id":"sess-dd-1"},"vital":{"id":"v1","name":"cart"}}"#, "\n",
            r#"{"type":"vital","date":1700000009500,"application":{"id":"app_dd"},"session":{"id":"sess-new"},"vital":{"id":"v2"}}"#, "\n",
            r#"{"type":"telemetry","date":1700000009600,"application":{"id":"app_dd"},"session":{"id":"sess-new"},"telemetry":{"message":"m"}}"#, "\n",
            r#"{"type":"resource","date":1700000009700,"application":{"id":"app_dd"},"session":{"id":"sess-dd-1"},"resource":{"id":"r9","url":"https://dd.example.com/a.js","duration":5000000}}"#, "\n",
        ),
    )
    .expect("write");
    let reports = import(&mut store, &[later]);
    assert_eq!(reports[0].summary.inserted_total(), 4, "{:?}", reports[0].problems);
    let stats = store.stats().expect("stats");
    assert_eq!(stats.events_by_kind.get("vital"), Some(&2));
    assert_eq!(stats.events_by_kind.get("telemetry"), Some(&2), "one in tricky.lp, one here");
    assert_eq!(stats.events_by_kind, kinds_counted_in_events(&store));
    assert_eq!(stats.events_total, count(&store, "SELECT count(*) FROM events") as u64);
}

/// Events by kind as a full GROUP BY reads them: what `stats` must agree with.
fn kinds_counted_in_events(store: &Store) -> BTreeMap<String, u64> {
    let mut statement = store.conn.prepare("SELECT kind, count(*) FROM events NOT INDEXED GROUP BY kind").expect("prepare");
    let rows = statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))).expect("query");
    rows.map(|r| r.expect("row")).collect()
}

#[test]
fn sessions_page_and_sort_in_sqlite() {
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("g.lp");
    rum_explorer::generate::write(&file, rum_explorer::generate::GenerateFormat::Lp, 40, 11, false).expect("gen");
    import(&mut store, &[file]);
    let page = |column: &str, desc: bool, offset: u64| {
        store
            .sessions(&SessionQuery { sort_column: Some(column.into()), descending: desc, limit: 10, offset, ..Default::default() })
            .expect("page")
    };
    let by_duration = page("duration_ms", true, 0);
    assert!(by_duration.windows(2).all(|w| w[0].duration_ms >= w[1].duration_ms));
    let next = page("duration_ms", true, 10);
    assert!(by_duration.last().map(|r| r.duration_ms) >= next.first().map(|r| r.duration_ms));
    let by_browser = page("browser", false, 0);
    assert!(by_browser.windows(2).all(|w| w[0].browser <= w[1].browser));
    let by_extended = page("screen_size", false, 0);
    assert_eq!(by_extended.len(), 10);
    assert!(by_extended.windows(2).all(|w| w[0].value_text("screen_size") <= w[1].value_text("screen_size")));
    // The column chooser offers session columns, extended fields and event keys: an event
    // key's column shows the first value the session's events carry.
    let keys = store.session_keys().expect("keys");
    for key in ["screen_size", "browser", "error_type", "resource_ttfb"] {
        assert!(keys.contains(&key.to_string()), "{key} in {keys:?}");
    }
    let with_errors = store
        .sessions(&SessionQuery {
            filter: rum_explorer::query::parse("error_count:>0").expect("parse"),
            extra_columns: vec!["error_type".into()],
            limit: 10,
            ..Default::default()
        })
        .expect("page");
    assert!(!with_errors.is_empty() && with_errors.iter().all(|r| r.value_text("error_type").is_some()));
}

#[test]
fn events_without_an_id_are_the_same_whether_or_not_they_repeat_session_keys() {
    let (_tmp, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let dir = tempfile::tempdir().expect("tmp");
    let first = dir.path().join("a.lp");
    let second = dir.path().join("b.lp");
    std::fs::write(&first, "long_task,session_id=s1,browser=Chrome,os=Linux duration=5000000i 1700000000000\n").expect("write");
    std::fs::write(&second, "long_task,session_id=s1 duration=5000000i 1700000000000\n").expect("write");
    let reports = import(&mut store, &[first, second]);
    assert_eq!(reports[1].summary.duplicates, 1, "the re-export without session keys is the same event");
    assert_eq!(count(&store, "SELECT count(*) FROM events"), 1);
}

/// A folder for the test's files and the text of a generated NDJSON file.
fn generated_ndjson(sessions: u64, seed: u64) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let generated = dir.path().join("generated.ndjson");
    rum_explorer::generate::write(&generated, rum_explorer::generate::GenerateFormat::Ndjson, sessions, seed, false).expect("generate");
    let text = std::fs::read_to_string(&generated).expect("read");
    (dir, text)
}

/// A file with more sessions than the import keeps in memory writes sessions out as it goes
/// (new ones inserted whole, earlier ones updated), and more views than it holds back writes
/// the oldest early (their later copies then merge in the table): the result is the same as
/// with room for all.
#[test]
fn sessions_written_out_of_a_small_cache_give_the_same_database() {
    // Every view's early copy first, its final copy far later: held-back views are written
    // early and their final copies merge in the table.
    let (dir, text) = generated_ndjson(40, 9);
    let (early, rest): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.contains("\"document_version\":1"));
    assert!(early.len() > 40, "the generated file re-sends views");
    let ndjson = dir.path().join("many.ndjson");
    std::fs::write(&ndjson, early.join("\n") + "\n" + &rest.join("\n")).expect("write");
    let lp = dir.path().join("many.lp");
    rum_explorer::generate::write(&lp, rum_explorer::generate::GenerateFormat::Lp, 40, 9, false).expect("generate");
    let open = |cache: usize, views: usize| {
        let (tmp, db) = temp_db();
        let mut store = Store::open(&db).expect("open");
        store.session_cache_limit = cache;
        store.pending_view_limit = views;
        (tmp, store)
    };
    let (_roomy_dir, mut roomy) = open(100_000, 100_000);
    let (_small_dir, mut small) = open(3, 2);
    let fields = |store: &Store| -> Vec<String> {
        store.conn.prepare("SELECT session_fields_json FROM sessions ORDER BY session_id").and_then(|mut s| s.query_map([], |r| r.get(0))?.collect()).expect("fields")
    };
    // The first file creates the sessions; the second repeats them, stored by then.
    for (step, file) in [ndjson, lp].iter().enumerate() {
        import(&mut roomy, std::slice::from_ref(file));
        import(&mut small, std::slice::from_ref(file));
        let expected = sessions_json(&roomy);
        assert_eq!(expected.len(), 40);
        assert_same_sessions(&sessions_json(&small), &expected, &format!("cache of 3 sessions and 2 views, after file {}", step + 1));
        assert_eq!(count(&small, "SELECT count(*) FROM events"), count(&roomy, "SELECT count(*) FROM events"));
        assert_eq!(events_content(&small), events_content(&roomy), "merged views, after file {}", step + 1);
        assert_eq!(fields(&small), fields(&roomy));
        assert_pages_match_events(&small, &format!("cache of 3, after file {}", step + 1));
        assert_event_values_match_events(&small, &format!("cache of 3, after file {}", step + 1));
        assert!(assert_resource_maxima_match_events(&small, &format!("cache of 3, after file {}", step + 1)) > 0, "sessions with resources");
        assert_pages_match_events(&roomy, &format!("roomy cache, after file {}", step + 1));
        assert_event_values_match_events(&roomy, &format!("roomy cache, after file {}", step + 1));
        let _ = assert_resource_maxima_match_events(&roomy, &format!("roomy cache, after file {}", step + 1));
    }
    let orphans: i64 = small.conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).expect("check");
    assert_eq!(orphans, 0);
}

/// A file grouped by kind (every view, then every action, ...) brings each session back after
/// it has left a small cache with its aggregates: counting goes on from what it had, so the
/// sessions, their pages and the events are those of an import with room for all.
#[test]
fn sessions_that_come_back_after_leaving_the_cache_count_on() {
    let (dir, text) = generated_ndjson(30, 11);
    let kind_of = |line: &str| -> usize {
        ["\"type\":\"view\"", "\"type\":\"action\"", "\"type\":\"error\"", "\"type\":\"resource\""]
            .iter()
            .position(|k| line.contains(k))
            .unwrap_or(4)
    };
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_by_key(|line| kind_of(line)); // stable: each kind keeps the file's order
    assert!(kind_of(lines[0]) == 0 && kind_of(lines[lines.len() - 1]) > 0, "grouped by kind");
    let by_kind = dir.path().join("by-kind.ndjson");
    std::fs::write(&by_kind, lines.join("\n") + "\n").expect("write");
    let open = |cache: usize| {
        let (tmp, db) = temp_db();
        let mut store = Store::open(&db).expect("open");
        store.session_cache_limit = cache;
        (tmp, store)
    };
    let (_roomy_dir, mut roomy) = open(100_000);
    let (_small_dir, mut small) = open(4);
    import(&mut roomy, std::slice::from_ref(&by_kind));
    import(&mut small, std::slice::from_ref(&by_kind));
    let expected = sessions_json(&roomy);
    assert_eq!(expected.len(), 30);
    assert_same_sessions(&sessions_json(&small), &expected, "cache of 4 sessions, file grouped by kind");
    assert_eq!(events_content(&small), events_content(&roomy));
    assert_pages_match_events(&small, "cache of 4, file grouped by kind");
    assert_event_values_match_events(&small, "cache of 4, file grouped by kind");
    assert!(assert_resource_maxima_match_events(&small, "cache of 4, file grouped by kind") > 0, "sessions with resources");
}

/// The schema as SQLite lists it: tables and indexes with their SQL.
fn schema(store: &Store) -> Vec<(String, String, Option<String>)> {
    store
        .conn
        .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .expect("schema")
}

/// A first import into an empty database builds the session list's indexes after the rows,
/// and for large inputs (the threshold is lowered here) the events' too. It must give the same
/// database as an import that updates them row by row (another connection open keeps that
/// path), with every index back and consistent; cancelled, it leaves the database as it was,
/// indexes included.
#[test]
fn a_bulk_load_that_builds_indexes_afterwards_gives_the_same_database() {
    let dir = tempfile::tempdir().expect("tmp");
    let ndjson = dir.path().join("gen.ndjson");
    rum_explorer::generate::write(&ndjson, rum_explorer::generate::GenerateFormat::Ndjson, 60, 21, false).expect("generate");
    let files = [ndjson, own_fixture("tricky.lp")];
    let big = dir.path().join("big.ndjson");
    rum_explorer::generate::write(&big, rum_explorer::generate::GenerateFormat::Ndjson, 1500, 3, false).expect("generate");

    let (_b, row_db) = temp_db();
    let mut by_row = Store::open(&row_db).expect("open");
    by_row.defer_indexes_from_bytes = 0;
    let reader = Store::open(&row_db).expect("a second connection keeps WAL");
    assert_eq!(by_row.begin_bulk_load(), rum_explorer::store::WriteMode::Wal);
    import(&mut by_row, &files);
    drop(reader);

    // 0: the session list's indexes and the view timings deferred; the default: the session
    // list's only (small files).
    for defer_indexes_from_bytes in [0, rum_explorer::store::DEFER_INDEXES_FROM_BYTES] {
        let (_a, bulk_db) = temp_db();
        let mut bulk = Store::open(&bulk_db).expect("open");
        bulk.defer_indexes_from_bytes = defer_indexes_from_bytes;
        let fresh_schema = schema(&bulk);
        import(&mut bulk, &files);

        assert_eq!(events_content(&bulk), events_content(&by_row));
        assert_same_sessions(&sessions_json(&bulk), &sessions_json(&by_row), "bulk load against row by row");
        assert_eq!(schema(&bulk), fresh_schema, "every index is back ({defer_indexes_from_bytes})");
        assert_eq!(bulk.conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).expect("check"), "ok");
        // The indexes are in use: the Overview's covering index answers its query, and the
        // session list's sorts by its index.
        let plan: String = bulk
            .conn
            .query_row("EXPLAIN QUERY PLAN SELECT time_ms, loading_time_ns FROM events WHERE kind = 'view' AND time_ms >= 0", [], |r| r.get(3))
            .expect("plan");
        assert!(plan.contains("events_view_timings"), "{plan}");
        let plan: String = bulk
            .conn
            .query_row("EXPLAIN QUERY PLAN SELECT * FROM sessions ORDER BY browser LIMIT 10", [], |r| r.get(3))
            .expect("plan");
        assert!(plan.contains("sessions_by_browser"), "{plan}");

        // Cancelled while it writes: nothing lands and the indexes are all there.
        let (_c, cancel_db) = temp_db();
        let mut store = Store::open(&cancel_db).expect("open");
        store.defer_indexes_from_bytes = defer_indexes_from_bytes;
        let progress = ImportProgress::new();
        let watcher = cancel_after_events(&progress, 2000);
        let reports = ingest::import_paths(&mut store, std::slice::from_ref(&big), &progress, |_| {});
        watcher.join().expect("watcher");
        assert_eq!(reports[0].error.as_deref(), Some("import cancelled"));
        assert_eq!(count(&store, "SELECT count(*) FROM events"), 0);
        assert_eq!(schema(&store), fresh_schema, "the dropped indexes are restored by the rollback");
        let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
        assert_eq!(mode, "wal");
    }
}

/// An import into a database that has sessions rebuilds the session list's indexes after its
/// rows when the file brings, by its size, at least as many sessions as the database holds
/// (the window's first import into the sample data), and takes each session into them
/// otherwise. Both ways give the same database, with every index back and in use, whether the
/// import writes through the WAL (another connection open, as the window's readers are) or
/// the file itself; a cancel restores the indexes with the rows.
#[test]
fn a_later_import_that_brings_more_sessions_builds_the_session_list_afterwards() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = own_fixture("tricky.lp");
    let later = dir.path().join("later.ndjson");
    rum_explorer::generate::write(&later, rum_explorer::generate::GenerateFormat::Ndjson, 80, 5, false).expect("generate");
    let later_bytes = std::fs::metadata(&later).expect("size").len();

    // The reference takes each session into the indexes: its estimate puts the file at no
    // sessions at all.
    let (_r, reference_db) = temp_db();
    let mut reference = Store::open(&reference_db).expect("open");
    reference.input_bytes_per_session_estimate = u64::MAX;
    let fresh_schema = schema(&reference);
    import(&mut reference, std::slice::from_ref(&first));
    let existing = count(&reference, "SELECT count(*) FROM sessions");
    assert!(existing > 0 && (existing as u64) < 80, "{existing} sessions before the later import");
    let reports = import(&mut reference, std::slice::from_ref(&later));
    assert_eq!(reports[0].error, None);
    assert_eq!(reports[0].indexes_built_after_rows, 0, "a file that brings fewer sessions than the database has keeps them live");

    // The decision itself: the generated file is about 80 sessions by its size.
    let estimate = rum_explorer::store::INPUT_BYTES_PER_SESSION_ESTIMATE;
    assert!(later_bytes / estimate >= existing as u64, "{later_bytes} bytes: the default estimate defers here");
    let decides = |sessions_in_db: i64, bytes: u64| -> bool {
        let store = Store::open_in_memory().expect("open");
        if sessions_in_db > 0 {
            store
                .conn
                .execute("INSERT INTO sessions (session_pk, session_id) VALUES (?1, 'last')", [sessions_in_db])
                .expect("a session");
        }
        rum_explorer::store::later_import_defers_session_list(&store.conn, bytes, estimate).expect("decide")
    };
    assert!(decides(280, 400_000_000), "10,000 sessions' worth into the sample data");
    assert!(!decides(100_000, 400_000_000), "10,000 sessions' worth into 100,000");
    assert!(decides(10_000, 400_000_000), "as many as the database has");
    assert!(!decides(10_001, 400_000_000));

    for keep_wal in [false, true] {
        let (_d, db) = temp_db();
        let mut store = Store::open(&db).expect("open");
        import(&mut store, std::slice::from_ref(&first));
        let reader = keep_wal.then(|| Store::open(&db).expect("a second connection keeps WAL"));
        if keep_wal {
            assert_eq!(store.begin_bulk_load(), rum_explorer::store::WriteMode::Wal);
        }
        let reports = import(&mut store, std::slice::from_ref(&later));
        drop(reader);
        assert_eq!(reports[0].error, None);
        let on_sessions = count(&store, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' AND sql IS NOT NULL");
        assert!(on_sessions >= 20, "{on_sessions} session list indexes");
        assert_eq!(reports[0].indexes_built_after_rows as i64, on_sessions, "the session list's indexes were built after the rows (WAL: {keep_wal})");
        assert_eq!(schema(&store), fresh_schema, "every index is back (WAL: {keep_wal})");
        assert_eq!(store.conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).expect("check"), "ok");
        assert_eq!(events_content(&store), events_content(&reference), "WAL: {keep_wal}");
        assert_same_sessions(&sessions_json(&store), &sessions_json(&reference), "rebuilt against live indexes");
        let plan: String = store
            .conn
            .query_row("EXPLAIN QUERY PLAN SELECT * FROM sessions ORDER BY browser LIMIT 10", [], |r| r.get(3))
            .expect("plan");
        assert!(plan.contains("sessions_by_browser"), "{plan}");
    }

    // Cancelled while it writes: the database is as it was, indexes included.
    let big = dir.path().join("big.ndjson");
    rum_explorer::generate::write(&big, rum_explorer::generate::GenerateFormat::Ndjson, 400, 9, false).expect("generate");
    let (_c, cancel_db) = temp_db();
    let mut store = Store::open(&cancel_db).expect("open");
    import(&mut store, std::slice::from_ref(&first));
    let sessions_before = sessions_json(&store);
    let progress = ImportProgress::new();
    let watcher = cancel_after_events(&progress, 2000);
    let reports = ingest::import_paths(&mut store, std::slice::from_ref(&big), &progress, |_| {});
    watcher.join().expect("watcher");
    assert_eq!(reports[0].error.as_deref(), Some("import cancelled"));
    assert_eq!(schema(&store), fresh_schema, "the dropped indexes are restored by the rollback");
    assert_same_sessions(&sessions_json(&store), &sessions_before, "after the cancel");
}

/// An import's progress follows it past the last byte: the indexes built after the rows are
/// counted one by one, and the last stage is the commit.
#[test]
fn the_progress_counts_the_indexes_built_after_the_rows() {
    use rum_explorer::ingest::ImportStage;
    let (_d, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let progress = ImportProgress::new();
    let reports = ingest::import_paths(&mut store, &[own_fixture("tricky.lp")], &progress, |_| {});
    assert_eq!(reports[0].error, None);
    assert!(reports[0].indexes_built_after_rows >= 20, "a first import builds the session list after its rows");
    assert_eq!(progress.indexes_total.load(Ordering::Relaxed), reports[0].indexes_built_after_rows as u64);
    assert_eq!(progress.indexes_built.load(Ordering::Relaxed), reports[0].indexes_built_after_rows as u64);
    assert_eq!(progress.stage(), ImportStage::Committing);

    // The build reports each index as it is done, in order.
    let statements: Vec<String> = (0..5).map(|i| format!("CREATE TABLE built_{i} (x)")).collect();
    let seen = std::cell::RefCell::new(Vec::new());
    rum_explorer::store::build_indexes_reporting(&store.conn, &statements, &|| false, &|built| seen.borrow_mut().push(built)).expect("build");
    assert_eq!(seen.into_inner(), vec![1, 2, 3, 4, 5]);
}

/// Building the deferred indexes of a large import takes seconds: a cancel stops it, whether it
/// comes before the build, while SQLite sorts, or too late to interrupt (the caller's rollback
/// then removes what was built).
#[test]
fn building_deferred_indexes_stops_when_cancelled() {
    let store = Store::open_in_memory().expect("open");
    store
        .conn
        .execute_batch(
            "CREATE TABLE numbers (value INTEGER);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
             INSERT INTO numbers SELECT random() FROM n;",
        )
        .expect("rows");
    let statements = ["CREATE INDEX numbers_by_value ON numbers(value)".to_string()];
    let index_count = |store: &Store| count(store, "SELECT count(*) FROM sqlite_master WHERE name = 'numbers_by_value'");

    let cancelled = rum_explorer::store::build_indexes(&store.conn, &statements, &|| true);
    assert!(matches!(cancelled, Err(rum_explorer::store::StoreError::Cancelled)), "{cancelled:?}");
    assert_eq!(index_count(&store), 0);

    // Cancelled a moment after the build starts, as the import's transaction does it.
    for delay_ms in [0u64, 5, 30, 100] {
        store.conn.execute_batch("BEGIN").expect("begin");
        let start = std::time::Instant::now();
        let late = rum_explorer::store::build_indexes(&store.conn, &statements, &|| {
            start.elapsed() >= std::time::Duration::from_millis(delay_ms)
        });
        assert!(matches!(late, Err(rum_explorer::store::StoreError::Cancelled)), "after {delay_ms} ms: {late:?}");
        // An interrupted CREATE INDEX rolls the whole transaction back itself.
        if !store.conn.is_autocommit() {
            store.conn.execute_batch("ROLLBACK").expect("rollback");
        }
        assert_eq!(index_count(&store), 0, "after {delay_ms} ms");
    }

    // Cancelled only once the build has ended (seen only by the building thread, the second
    // time it asks): the index exists, but the result says cancelled so the caller rolls back.
    let main_thread = std::thread::current().id();
    let main_thread_asks = std::sync::atomic::AtomicUsize::new(0);
    store.conn.execute_batch("BEGIN").expect("begin");
    let too_late = rum_explorer::store::build_indexes(&store.conn, &statements, &|| {
        std::thread::current().id() == main_thread
            && main_thread_asks.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 1
    });
    assert!(matches!(too_late, Err(rum_explorer::store::StoreError::Cancelled)), "{too_late:?}");
    assert_eq!(index_count(&store), 1, "built before the cancel came");
    store.conn.execute_batch("ROLLBACK").expect("rollback");
    assert_eq!(index_count(&store), 0);

    rum_explorer::store::build_indexes(&store.conn, &statements, &|| false).expect("built");
    assert_eq!(index_count(&store), 1);
    let cache_kib: i64 = store.conn.query_row("PRAGMA cache_size", [], |r| r.get(0)).expect("cache");
    assert_ne!(cache_kib, -16384, "the import's page cache is restored after the build");
}

/// A session-scoped value (the browser) that differs from the session's stays on the event,
/// however often it repeats, also after the session left the writer's cache.
#[test]
fn session_values_that_differ_stay_on_their_events() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("browsers.ndjson");
    let mut file = std::fs::File::create(&path).expect("create");
    let browsers = ["Chrome", "Firefox", "Firefox", "Chrome", "Firefox", "Safari", "Safari"];
    for (i, browser) in browsers.iter().enumerate() {
        for session in ["s1", "s2"] {
            writeln!(
                file,
                r#"{{"type":"action","date":{},"session":{{"id":"{session}"}},"action":{{"id":"{session}-a{i}","type":"click"}},"browser":{{"name":"{browser}"}},"os":{{"name":"Linux"}}}}"#,
                1_700_000_000_000u64 + i as u64 * 1000
            )
            .expect("write");
        }
    }
    drop(file);
    for cache_limit in [rum_explorer::store::writer::SESSION_CACHE_LIMIT, 1] {
        let (_tmp, db) = temp_db();
        let mut store = Store::open(&db).expect("open");
        store.session_cache_limit = cache_limit;
        let reports = import(&mut store, std::slice::from_ref(&path));
        assert_eq!(reports[0].error, None);
        for session_id in ["s1", "s2"] {
            let s = session(&store, session_id);
            assert_eq!(s.browser.as_deref(), Some("Chrome"), "the first value is the session's");
            assert_eq!(s.os.as_deref(), Some("Linux"));
            let mut on_events: Vec<Option<String>> = Vec::new();
            let mut rows = store
                .conn
                .prepare("SELECT extra_json FROM events JOIN sessions USING (session_pk) WHERE session_id = ?1 ORDER BY time_ms")
                .expect("prepare");
            let extras = rows.query_map([session_id], |r| r.get::<_, String>(0)).expect("query");
            for extra in extras {
                let extra: serde_json::Value = serde_json::from_str(&extra.expect("row")).expect("json");
                assert_eq!(extra.get("os"), None, "the same value as the session's is not repeated");
                on_events.push(extra.get("browser").and_then(|b| b.as_str()).map(str::to_string));
            }
            let expected: Vec<Option<String>> =
                browsers.iter().map(|b| (*b != "Chrome").then(|| b.to_string())).collect();
            assert_eq!(on_events, expected, "{session_id}, cache of {cache_limit}");
        }
    }
}

/// NDJSON is parsed by several threads and written in file order: any number of them gives
/// the same database, and the same problems at the same lines in the same order, across many
/// chunks of lines, with blank, broken and skipped lines and API pages among the events.
#[test]
fn ndjson_parsed_on_several_threads_gives_the_same_database() {
    let dir = tempfile::tempdir().expect("tmp");
    let generated = dir.path().join("generated.ndjson");
    rum_explorer::generate::write(&generated, rum_explorer::generate::GenerateFormat::Ndjson, 60, 5, false).expect("generate");
    let text = std::fs::read_to_string(&generated).expect("read");
    let mut lines: Vec<String> = Vec::new();
    let mut bad_lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        lines.push(line.to_string());
        match index % 397 {
            13 => lines.push(String::new()),
            101 => {
                lines.push(r#"{"type":"view","date":17000"#.to_string());
                bad_lines.push(lines.len() as u64);
            }
            202 => {
                lines.push(r#"{"type":"action","date":1700000000000,"action":{"id":"no-session"}}"#.to_string());
                bad_lines.push(lines.len() as u64);
            }
            303 => lines.push(format!(
                r#"{{"data":[{{"type":"rum","attributes":{{"attributes":{{"type":"error","date":1700000000{index:03},"session":{{"id":"api-{index}"}},"error":{{"id":"e{index}","message":"from a page"}}}}}}}},{{"type":"rum","attributes":{{"attributes":{{"type":"action","date":1700000001000,"session":{{"id":"api-{index}"}},"action":{{"id":"a{index}"}}}}}}}}]}}"#
            )),
            _ => {}
        }
    }
    assert!(lines.len() > 4 * 512, "several chunks: {}", lines.len());
    let ndjson = dir.path().join("mixed.ndjson");
    std::fs::write(&ndjson, lines.join("\n") + "\n").expect("write");

    let import_with = |threads: usize| {
        let (tmp, db) = temp_db();
        let mut store = Store::open(&db).expect("open");
        store.parser_threads = Some(threads);
        let reports = import(&mut store, std::slice::from_ref(&ndjson));
        (tmp, store, reports)
    };
    let (_one_dir, one, one_reports) = import_with(1);
    let problem_lines: Vec<u64> = one_reports[0].problems.iter().map(|p| p.line).collect();
    assert_eq!(problem_lines, bad_lines, "{:?}", one_reports[0].problems);
    assert!(count(&one, "SELECT count(*) FROM sessions WHERE session_id LIKE 'api-%'") > 0, "the API pages' events arrived");
    for threads in [2, 3] {
        let (_dir, several, reports) = import_with(threads);
        assert_eq!(events_content(&several), events_content(&one), "{threads} threads");
        assert_same_sessions(&sessions_json(&several), &sessions_json(&one), &format!("{threads} threads"));
        let problems = |r: &[rum_explorer::ingest::FileReport]| r[0].problems.iter().map(|p| (p.line, p.reason.clone())).collect::<Vec<_>>();
        assert_eq!(problems(&reports), problems(&one_reports), "{threads} threads");
        assert_eq!(reports[0].summary.inserted_by_kind, one_reports[0].summary.inserted_by_kind);
    }
}

/// A CSV export is a file per kind, so every file after the first finds its sessions stored,
/// with their attributes read back from the session list's text columns. A numeric value
/// (`os_version` 13) then met its own text ("13") and was kept on every event of the later
/// files as a value differing from the session's; the content also depended on the files'
/// order. Now no event keeps a session attribute equal to its session's, in either order.
#[test]
fn later_csv_files_do_not_repeat_numeric_session_attributes_on_events() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = rum_explorer::generate::write(&dir.path().join("export.csv"), rum_explorer::generate::GenerateFormat::Csv, 40, 11, false)
        .expect("generate");
    let mut paths: Vec<std::path::PathBuf> = files.into_iter().map(|(path, _)| path).collect();
    paths.sort();
    assert!(paths.len() >= 4, "{paths:?}");
    let mut contents = Vec::new();
    let reversed: Vec<std::path::PathBuf> = paths.iter().rev().cloned().collect();
    for order in [paths.clone(), reversed] {
        let (_d, db) = temp_db();
        let mut store = Store::open(&db).expect("open");
        import(&mut store, &order);
        let numeric = count(&store, "SELECT count(*) FROM sessions WHERE os_version <> '' AND os_version NOT GLOB '*[^0-9]*'");
        assert!(numeric > 0, "the generated sessions have numeric OS versions");
        assert_eq!(count(&store, "SELECT count(*) FROM events WHERE extra_json LIKE '%\"os_version\"%'"), 0, "{order:?}");
        contents.push(events_content(&store));
    }
    assert_eq!(contents[0], contents[1], "the same events in either order");
}

/// A folder of a CSV export imports its views' file first (it sets the sessions' pages, so
/// the other files add to the sessions instead of recounting them); the other files keep
/// their name order.
#[test]
fn a_csv_exports_views_are_imported_first() {
    let dir = tempfile::tempdir().expect("tmp");
    rum_explorer::generate::write(&dir.path().join("export.csv"), rum_explorer::generate::GenerateFormat::Csv, 20, 5, false).expect("generate");
    std::fs::write(dir.path().join("notes.ndjson"), "").expect("write");
    let (_d, db) = temp_db();
    let mut store = Store::open(&db).expect("open");
    let reports = ingest::import_paths(&mut store, &[dir.path().to_path_buf()], &ImportProgress::new(), |_| {});
    let names: Vec<String> =
        reports.iter().map(|r| std::path::Path::new(&r.path).file_name().and_then(|n| n.to_str()).unwrap_or("").to_string()).collect();
    assert_eq!(
        names,
        ["export-view.csv", "export-action.csv", "export-error.csv", "export-long_task.csv", "export-resource.csv", "notes.ndjson"],
    );
}
