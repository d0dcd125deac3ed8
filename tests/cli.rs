//! The command line, run as a user runs it.

mod common;

use common::*;
use std::process::Command;

fn rum(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rum-explorer")).args(args).output().expect("run rum-explorer");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Every event of `kind` as each session's own timeline (`rum-explorer session`) has it, with
/// the session: what the lists are compared with.
fn timeline_events(db: &str, kind: &str) -> Vec<(serde_json::Value, serde_json::Value)> {
    let (_, out, _) = rum(&["sessions", "--db", db, "--format", "json", "--limit", "100"]);
    let sessions: serde_json::Value = serde_json::from_str(&out).expect("json");
    let mut events = Vec::new();
    for session in sessions.as_array().expect("sessions") {
        let id = session["session_id"].as_str().expect("id");
        let (_, out, _) = rum(&["session", "--db", db, id, "--format", "json"]);
        let detail: serde_json::Value = serde_json::from_str(&out).expect("json");
        for event in detail["timeline"].as_array().expect("timeline").iter().filter(|e| e["kind"] == kind) {
            events.push((session.clone(), event.clone()));
        }
    }
    events
}

#[test]
fn import_then_list_and_open_sessions() {
    let (_tmp, db) = temp_db();
    let db = db.to_str().expect("utf-8 path");
    let tricky = own_fixture("tricky.lp");
    let (code, out, _) = rum(&["import", "--db", db, tricky.to_str().expect("path")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Guance line protocol"), "names the detected format: {out}");
    assert!(out.contains("5 events imported"), "{out}");
    assert!(out.contains("view 2"), "{out}");
    assert!(out.contains("1 session touched"), "one session, one noun: {out}");

    let (code, out, _) = rum(&["sessions", "--db", db, "--format", "json"]);
    assert_eq!(code, 0);
    let sessions: serde_json::Value = serde_json::from_str(&out).expect("json");
    let first = &sessions[0];
    for key in ["session_id", "start_ms", "end_ms", "duration_ms", "session_type", "view_count", "action_count", "error_count",
        "resource_count", "long_task_count", "first_view_path", "last_view_path", "first_view_url", "last_view_url", "app_id",
        "user_id", "browser", "os", "device", "country"] {
        assert!(first.get(key).is_some(), "sessions JSON has {key}");
    }
    assert_eq!(first["session_id"], "sess-lp-1");
    assert_eq!(first["view_count"], 2);
    assert_eq!(first["last_view_path"], "/checkout");

    let (code, out, _) = rum(&["session", "--db", db, "sess-lp-1", "--format", "json"]);
    assert_eq!(code, 0);
    let detail: serde_json::Value = serde_json::from_str(&out).expect("json");
    let kinds: Vec<&str> = detail["timeline"].as_array().expect("timeline").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, vec!["view", "error", "action", "view", "telemetry"], "ordered by time");
    assert_eq!(detail["properties"]["app_id"], "app_t");
    assert_eq!(detail["extended_fields"]["browser"], "Chrome");

    let (code, out, _) = rum(&["stats", "--db", db]);
    assert_eq!(code, 0);
    assert!(out.contains("sessions   1"), "{out}");
    assert!(out.contains("app_t"), "{out}");

    let (code, out, _) = rum(&["sessions", "--db", db, "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(out.lines().next().is_some_and(|h| h.starts_with("session_id,start_ms")), "{out}");
}

#[test]
fn import_exits_non_zero_when_a_file_is_rejected_and_lists_skipped_lines() {
    let (_tmp, db) = temp_db();
    let db = db.to_str().expect("utf-8 path");
    let (code, out, _) = rum(&[
        "import",
        "--db",
        db,
        own_fixture("broken.lp").to_str().expect("p"),
        own_fixture("not-rum.txt").to_str().expect("p"),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not-rum.txt: REJECTED"), "{out}");
    assert!(out.contains("broken.lp:2: skipped"), "file and line of a bad record: {out}");
    assert!(out.contains("3 events imported"), "{out}");
}

#[test]
fn unknown_session_and_bad_filter_are_clear_errors() {
    let (_tmp, db) = temp_db();
    let db = db.to_str().expect("utf-8 path");
    let (code, _, err) = rum(&["session", "--db", db, "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("no session \"nope\""), "{err}");
    let (code, _, err) = rum(&["sessions", "--db", db, "--filter", "browser:Chrome (os:iOS"]);
    assert_eq!(code, 2);
    assert!(err.contains("column 16"), "points at the '(': {err}");
}

/// A filter key no field of the data has is named on stderr, with the field spelled most
/// like it; a Datadog name of a field, and a field the data has, are not.
#[test]
fn a_mistyped_filter_key_is_named_with_the_closest_field() {
    let (_tmp, db) = temp_db();
    let db = db.to_str().expect("utf-8 path");
    let tricky = own_fixture("tricky.lp");
    assert_eq!(rum(&["import", "--db", db, tricky.to_str().expect("path")]).0, 0);
    let (code, _, err) = rum(&["sessions", "--db", db, "--filter", "brwoser:Chrome -@browser.name:Safari app_id:* nosuchthing:1"]);
    assert_eq!(code, 0);
    assert!(err.contains(r#"no field named "brwoser" in this data; did you mean "browser"?"#), "{err}");
    assert!(err.contains(r#"no field named "nosuchthing" in this data"#), "{err}");
    assert!(!err.contains("browser.name") && !err.contains(r#""app_id""#), "known fields are not named: {err}");
    let (_, _, err) = rum(&["overview", "--db", db, "--filter", "coutnry:Japan"]);
    assert!(err.contains(r#"did you mean "country"?"#), "{err}");
}

#[test]
fn overview_prints_the_aggregates_as_json_for_a_filter() {
    let (tmp, db) = temp_db();
    let db = db.to_str().expect("utf-8 path");
    let file = tmp.path().join("g.ndjson");
    let file = file.to_str().expect("path");
    let (code, _, err) = rum(&["generate", "--sessions", "40", "--format", "ndjson", "--out", file, "--seed", "8"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rum(&["import", "--db", db, file]).0, 0);
    let (code, out, err) = rum(&["overview", "--db", db, "--filter", "browser:Chrome", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let overview: serde_json::Value = serde_json::from_str(&out).expect("json");
    let (code, listed, _) = rum(&["sessions", "--db", db, "--filter", "browser:Chrome", "--limit", "1000", "--format", "json"]);
    assert_eq!(code, 0);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).expect("json");
    assert_eq!(overview["sessions"].as_u64(), Some(listed.len() as u64), "the same selection as `sessions`");
    let views: u64 = listed.iter().filter_map(|s| s["view_count"].as_u64()).sum();
    assert_eq!(overview["page_views"].as_u64(), Some(views));
    let browser = overview["distributions"].as_array().and_then(|d| d.iter().find(|d| d["key"] == "browser")).expect("browser");
    assert_eq!(browser["values"][0][0], "Chrome");
    for key in ["buckets", "vitals", "top_pages_by_views", "top_pages_by_loading_time", "top_pages_by_errors", "top_errors"] {
        assert!(overview[key].is_array(), "{key}");
    }
    // The table's footer counts the matches, whether the page holds all of them or not.
    let chrome = listed.len();
    assert!(chrome > 2, "{chrome}");
    for (limit, shown) in [("2", 2), ("1000", chrome)] {
        let (code, _, err) = rum(&["sessions", "--db", db, "--filter", "browser:Chrome", "--limit", limit]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains(&format!("{shown} of {chrome} sessions")), "limit {limit}: {err}");
    }
    let (code, _, err) = rum(&["overview", "--db", db, "--filter", "browser:(", "--format", "json"]);
    assert_eq!(code, 2, "a bad filter is refused");
    assert!(err.contains("invalid filter"), "{err}");
}

/// The measuring mode that parses a file before writing it (`RUM_IMPORT_WRITE_ALONE`) reports
/// the writing time and leaves the same sessions as a normal import.
#[test]
fn write_alone_measurement_leaves_the_same_sessions() {
    let views = own_fixture("views.ndjson");
    let mut listings = Vec::new();
    for write_alone in [false, true] {
        let (_tmp, db) = temp_db();
        let db = db.to_str().expect("utf-8 path");
        let mut import = Command::new(env!("CARGO_BIN_EXE_rum-explorer"));
        import.args(["import", "--db", db, views.to_str().expect("path")]);
        if write_alone {
            import.env("RUM_IMPORT_WRITE_ALONE", "1");
        }
        let out = import.output().expect("run rum-explorer");
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.contains("written alone in"), write_alone, "{stderr}");
        let (code, listing, _) = rum(&["sessions", "--db", db, "--format", "json"]);
        assert_eq!(code, 0);
        listings.push(listing);
    }
    assert!(listings[0].contains("session_id"), "{}", listings[0]);
    assert_eq!(listings[0], listings[1]);
}

#[test]
fn errors_lists_the_newest_errors_of_the_selected_sessions() {
    let (_tmp, db) = temp_db();
    let db = db.to_str().expect("utf-8 path");
    let fixtures = [own_fixture("error-patterns.ndjson"), own_fixture("tricky.lp")];
    let (code, out, _) = rum(&["import", "--db", db, fixtures[0].to_str().expect("p"), fixtures[1].to_str().expect("p")]);
    assert_eq!(code, 0, "{out}");

    // What every session's own timeline says its errors are: (time, type, session).
    let mut expected: Vec<(i64, String, String)> = timeline_events(db, "error")
        .iter()
        .map(|(session, event)| {
            let error_type = event["fields"]["error_type"].as_str().unwrap_or("").to_string();
            (event["time_ms"].as_i64().expect("time"), error_type, session["session_id"].as_str().expect("id").to_string())
        })
        .collect();
    // Newest first; the order among errors of the same instant is the store's own.
    let by_time = |list: &mut Vec<(i64, String, String)>| list.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.cmp(b)));
    by_time(&mut expected);
    assert!(expected.len() >= 5, "the fixtures hold errors: {expected:?}");

    let listed = |args: &[&str]| -> Vec<(i64, String, String)> {
        let mut full = vec!["errors", "--db", db, "--format", "json"];
        full.extend_from_slice(args);
        let (code, out, err) = rum(&full);
        assert_eq!(code, 0, "{err}");
        let rows: serde_json::Value = serde_json::from_str(&out).expect("json");
        rows.as_array()
            .expect("rows")
            .iter()
            .map(|r| (r["time_ms"].as_i64().expect("time"), r["error_type"].as_str().unwrap_or("").to_string(), r["session_id"].as_str().expect("id").to_string()))
            .collect()
    };
    let all = listed(&["--limit", "100"]);
    assert!(all.windows(2).all(|w| w[0].0 >= w[1].0), "newest first: {all:?}");
    let mut sorted = all.clone();
    by_time(&mut sorted);
    assert_eq!(sorted, expected, "every error");
    assert_eq!(listed(&["--limit", "3"]), expected[..3].to_vec(), "the newest three");

    // A type of the fixtures, and a session filter: the errors narrow to what each says.
    let some_type = expected.iter().map(|e| e.1.clone()).find(|t| !t.is_empty()).expect("a typed error");
    let of_type: Vec<_> = expected.iter().filter(|e| e.1 == some_type).cloned().collect();
    assert!(of_type.len() < expected.len(), "the filter must narrow: {some_type}");
    assert_eq!(listed(&["--limit", "100", "--filter", &format!("error_type:{some_type}")]), of_type);
    let of_session: Vec<_> = expected.iter().filter(|e| e.2 == "sess-ep-1").cloned().collect();
    assert_eq!(listed(&["--limit", "100", "--filter", "session_id:sess-ep-1"]), of_session);

    // Find in the message (case-insensitive), and the table's count line.
    let fixture = std::fs::read_to_string(&fixtures[0]).expect("fixture");
    let with_status = fixture.lines().filter(|l| l.contains("\"type\":\"error\"") && l.contains("status code")).count();
    assert!(with_status >= 3, "{fixture}");
    let (code, out, err) = rum(&["errors", "--db", db, "--find", "STATUS CODE", "--limit", "2"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.contains("status code")).count(), 2, "{out}");
    assert!(err.contains(&format!("2 of {with_status} errors")), "{err}");
    let (_, csv, _) = rum(&["errors", "--db", db, "--format", "csv", "--find", "status code"]);
    assert!(csv.starts_with("time_ms,error_type,error_message,view_path,browser,session_id,event_pk"), "{csv}");
    assert_eq!(csv.lines().count(), with_status + 1, "{csv}");

    // By error, as patterns: the status code errors of type Error are one row.
    let (code, out, err) = rum(&["errors", "--db", db, "--by-error", "--patterns", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let groups: serde_json::Value = serde_json::from_str(&out).expect("json");
    let groups = groups.as_array().expect("groups");
    assert_eq!(groups.iter().map(|g| g["count"].as_u64().expect("count")).sum::<u64>(), expected.len() as u64);
    let of_type_error = fixture.lines().filter(|l| l.contains("\"type\":\"Error\"") && l.contains("status code")).count() as u64;
    let status = groups
        .iter()
        .find(|g| g["error_type"] == "Error" && g["message"] == "Request failed with status code *")
        .expect("the pattern's row");
    assert_eq!((status["count"].as_u64(), status["messages"].as_u64()), (Some(of_type_error), Some(3)));
    let (code, _, err) = rum(&["errors", "--db", db, "--by-error", "--sort", "size"]);
    assert_ne!(code, 0);
    assert!(err.contains("last_seen"), "names the orders: {err}");
}

/// A view as the tests compare it: time, page, loading time (ns), the session's browser.
type ListedView = (i64, String, Option<f64>, String);

#[test]
fn views_lists_the_views_of_the_selected_sessions() {
    let (tmp, db) = temp_db();
    let db = db.to_str().expect("utf-8 path");
    let file = tmp.path().join("g.lp");
    let file = file.to_str().expect("utf-8 path");
    assert_eq!(rum(&["generate", "--sessions", "60", "--format", "lp", "--seed", "5", "--out", file]).0, 0);
    assert_eq!(rum(&["import", "--db", db, file]).0, 0);

    // Every view as the sessions' own timelines have it: (time, page, loading time, browser).
    let expected: Vec<ListedView> = timeline_events(db, "view")
        .iter()
        .map(|(session, event)| {
            let page = event["fields"]["view_path"].as_str().unwrap_or("").to_string();
            let browser = session["browser"].as_str().unwrap_or("").to_string();
            (event["time_ms"].as_i64().expect("time"), page, event["fields"]["loading_time"].as_f64(), browser)
        })
        .collect();
    let listed = |args: &[&str]| -> (Vec<ListedView>, String) {
        let mut full = vec!["views", "--db", db, "--limit", "1000", "--format", "json"];
        full.extend_from_slice(args);
        let (code, out, err) = rum(&full);
        assert_eq!(code, 0, "{err}");
        let rows: serde_json::Value = serde_json::from_str(&out).expect("json");
        let rows = rows
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
                (r["time_ms"].as_i64().expect("time"), text("view_path"), r["loading_time_ns"].as_f64(), text("browser"))
            })
            .collect();
        // The table's count line: the total, counted from the sessions or from the views.
        let mut table = vec!["views", "--db", db, "--limit", "1"];
        table.extend_from_slice(args);
        (rows, rum(&table).2)
    };
    let sorted = |mut list: Vec<ListedView>| {
        list.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)).then_with(|| a.2.partial_cmp(&b.2).unwrap_or(std::cmp::Ordering::Equal)));
        list
    };
    let check = |args: &[&str], keep: &dyn Fn(&ListedView) -> bool| {
        let want: Vec<_> = expected.iter().filter(|v| keep(v)).cloned().collect();
        assert!(!want.is_empty(), "{args:?} selects views");
        let (rows, count_line) = listed(args);
        assert!(rows.windows(2).all(|w| w[0].0 >= w[1].0), "newest first: {args:?}");
        assert_eq!(sorted(rows), sorted(want.clone()), "{args:?}");
        assert!(count_line.contains(&format!("1 of {} views", want.len())), "{args:?}: {count_line}");
    };
    check(&[], &|_| true);
    check(&["--filter", "browser:Chrome"], &|v| v.3 == "Chrome");
    check(&["--filter", "view_path:/cart"], &|v| v.1 == "/cart");
    check(&["--filter", "browser:Chrome view_path:/cart"], &|v| v.3 == "Chrome" && v.1 == "/cart");
    check(&["--find", "CART"], &|v| v.1.contains("cart"));
    check(&["--filter", "loading_time:>2000000000"], &|v| v.2.is_some_and(|ns| ns > 2e9));

    // The slowest first, and the other way.
    let mut loading: Vec<f64> = expected.iter().filter_map(|v| v.2).collect();
    loading.sort_by(|a, b| b.total_cmp(a));
    let (rows, _) = listed(&["--sort", "loading_time"]);
    assert_eq!(rows.iter().take(5).map(|r| r.2).collect::<Vec<_>>(), loading.iter().take(5).map(|v| Some(*v)).collect::<Vec<_>>());
    let (rows, _) = listed(&["--sort", "loading_time", "--asc"]);
    assert_eq!(rows.first().and_then(|r| r.2), loading.last().copied());
    let (code, _, err) = rum(&["views", "--db", db, "--sort", "size"]);
    assert_ne!(code, 0);
    assert!(err.contains("loading_time"), "names the orders: {err}");
}

/// A resource as the tests compare it: time, method, URL, status, duration (ns), the session's browser.
type ListedResource = (i64, String, String, Option<i64>, Option<f64>, String);

#[test]
fn resources_lists_and_groups_the_requests_of_the_selected_sessions() {
    let (tmp, db) = temp_db();
    let db = db.to_str().expect("utf-8 path");
    let file = tmp.path().join("g.lp");
    let file = file.to_str().expect("utf-8 path");
    assert_eq!(rum(&["generate", "--sessions", "40", "--format", "lp", "--seed", "9", "--out", file]).0, 0);
    assert_eq!(rum(&["import", "--db", db, file]).0, 0);

    // Every resource as the sessions' own timelines have it.
    let expected: Vec<ListedResource> = timeline_events(db, "resource")
        .iter()
        .map(|(session, event)| {
            let fields = &event["fields"];
            let text = |k: &str| fields[k].as_str().unwrap_or("").to_string();
            let browser = session["browser"].as_str().unwrap_or("").to_string();
            let time = event["time_ms"].as_i64().expect("time");
            (time, text("resource_method"), text("resource_url"), fields["resource_status"].as_i64(), fields["duration"].as_f64(), browser)
        })
        .collect();
    assert!(expected.len() > 200, "the sessions have resources: {}", expected.len());
    let listed = |args: &[&str]| -> (Vec<ListedResource>, String) {
        let mut full = vec!["resources", "--db", db, "--limit", "100000", "--format", "json"];
        full.extend_from_slice(args);
        let (code, out, err) = rum(&full);
        assert_eq!(code, 0, "{err}");
        let rows: serde_json::Value = serde_json::from_str(&out).expect("json");
        let rows = rows
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
                (r["time_ms"].as_i64().expect("time"), text("resource_method"), text("resource_url"), r["resource_status"].as_i64(), r["duration_ns"].as_f64(), text("browser"))
            })
            .collect();
        // The table's count line: one listed of how many.
        let mut table = vec!["resources", "--db", db, "--limit", "1"];
        table.extend_from_slice(args);
        (rows, rum(&table).2)
    };
    let sorted = |mut list: Vec<ListedResource>| {
        list.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        list
    };
    let check = |args: &[&str], keep: &dyn Fn(&ListedResource) -> bool| {
        let want: Vec<_> = expected.iter().filter(|r| keep(r)).cloned().collect();
        assert!(!want.is_empty(), "{args:?} selects resources");
        let (rows, count_line) = listed(args);
        assert!(rows.windows(2).all(|w| w[0].0 >= w[1].0), "newest first: {args:?}");
        assert_eq!(sorted(rows), sorted(want.clone()), "{args:?}");
        assert!(count_line.contains(&format!("1 of {} resources", want.len())), "{args:?}: {count_line}");
    };
    check(&[], &|_| true);
    check(&["--filter", "browser:Chrome"], &|r| r.5 == "Chrome");
    check(&["--filter", "resource_status:>=400"], &|r| r.3.is_some_and(|s| s >= 400));
    check(&["--filter", "browser:Chrome resource_method:POST"], &|r| r.5 == "Chrome" && r.1 == "POST");
    check(&["--find", "API"], &|r| r.2.to_lowercase().contains("api"));

    // The slowest first, and the oldest first.
    let mut durations: Vec<f64> = expected.iter().filter_map(|r| r.4).collect();
    durations.sort_by(|a, b| b.total_cmp(a));
    let (rows, _) = listed(&["--sort", "duration"]);
    assert_eq!(rows.iter().take(5).map(|r| r.4).collect::<Vec<_>>(), durations.iter().take(5).map(|d| Some(*d)).collect::<Vec<_>>());
    let (rows, _) = listed(&["--asc"]);
    assert!(rows.windows(2).all(|w| w[0].0 <= w[1].0), "oldest first");
    assert_eq!(rows.len(), expected.len());

    // By URL: every request in one row of its method and URL; patterns join URLs.
    let groups = |args: &[&str]| -> Vec<serde_json::Value> {
        let mut full = vec!["resources", "--db", db, "--by-url", "--limit", "100000", "--format", "json"];
        full.extend_from_slice(args);
        let (code, out, err) = rum(&full);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).expect("json").as_array().expect("groups").clone()
    };
    let by_url = groups(&[]);
    assert_eq!(by_url.iter().map(|g| g["count"].as_u64().expect("count")).sum::<u64>(), expected.len() as u64);
    let without_query = |url: &str| url.split(['?', '#']).next().unwrap_or("").to_string();
    let mut keys: Vec<(String, String)> = expected.iter().map(|r| (r.1.clone(), without_query(&r.2))).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(by_url.len(), keys.len(), "a row per method and URL");
    assert!(by_url.windows(2).all(|w| w[0]["count"].as_u64() >= w[1]["count"].as_u64()), "the most requested first");
    // Failed: an HTTP error status, or none at all (status 0: blocked, aborted, offline).
    for group in &by_url {
        let of_group: Vec<&ListedResource> = expected.iter().filter(|r| r.1 == group["resource_method"] && without_query(&r.2) == group["resource_url"]).collect();
        assert_eq!(group["count"].as_u64(), Some(of_group.len() as u64), "{group}");
        let failed = of_group.iter().filter(|r| r.3.is_some_and(|s| s >= 400 || s == 0)).count();
        assert_eq!(group["failed"].as_u64(), Some(failed as u64), "{group}");
    }
    assert!(by_url.iter().any(|g| g["failed"].as_u64() > Some(0)), "some URLs fail");
    let patterns = groups(&["--patterns"]);
    assert_eq!(patterns.iter().map(|g| g["count"].as_u64().expect("count")).sum::<u64>(), expected.len() as u64);
    assert!(patterns.len() <= by_url.len());
    assert_eq!(patterns.iter().map(|g| g["urls"].as_u64().expect("urls")).sum::<u64>(), by_url.len() as u64, "each URL in one pattern");

    // Orders that do not exist are named with those that do.
    let (code, _, err) = rum(&["resources", "--db", db, "--sort", "p75"]);
    assert_ne!(code, 0);
    assert!(err.contains("duration"), "names the orders: {err}");
    let (code, _, err) = rum(&["resources", "--db", db, "--by-url", "--sort", "time"]);
    assert_ne!(code, 0);
    assert!(err.contains("failed"), "names the orders: {err}");
}

#[test]
fn learn_fields_records_the_extended_fields_of_a_database_from_before_schema_12() {
    let (_tmp, db_path) = temp_db();
    let db = db_path.to_str().expect("utf-8 path");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data/guance-shop.lp");
    let (code, out, err) = rum(&["import", "--db", db, sample]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = rum(&["learn-fields", "--db", db]);
    assert_eq!((code, out.trim_end()), (0, format!("{db}: the extended fields and event values are known already").as_str()));
    let store = rum_explorer::store::Store::open(&db_path).expect("open");
    let recorded = store.store_facts().expect("facts").expect("known");
    let values = kept_event_values(&store);
    let filters = count(&store, "SELECT count(*) FROM session_event_hashes");
    // As a database from before schema 12: neither the keys, the event values nor their filters known.
    store
        .conn
        .execute_batch(
            "DELETE FROM store_facts WHERE name IN ('session_field_keys', 'event_field_keys', 'session_event_values_kept', 'session_event_hashes_kept');
             DELETE FROM session_event_values; DELETE FROM session_event_hashes;",
        )
        .expect("forget");
    let (code, out, err) = rum(&["learn-fields", "--db", db]);
    assert_eq!(code, 0, "{err}");
    let said = format!(
        "{db}: {} extended fields on sessions, {} on events; event values of {} sessions; filters of event values of {filters} sessions",
        recorded.session.len(),
        recorded.event.len(),
        values.len()
    );
    assert_eq!(out.trim_end(), said);
    assert!(!recorded.session.is_empty() && !recorded.event.is_empty() && !values.is_empty(), "{recorded:?}");
    assert_eq!(store.store_facts().expect("facts"), Some(recorded));
    assert_eq!(kept_event_values(&store), values);
    assert!(filters > 0 && store.event_hashes_kept().expect("fact"));
}
