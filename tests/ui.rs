//! The real window, driven by egui_kittest: no display needed.

mod common;

use common::*;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use rum_explorer::app::settings::Settings;
use rum_explorer::app::{Command, ExplorerApp};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn harness_on(db: PathBuf) -> Harness<'static, ExplorerApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| ExplorerApp::with_settings(cc.egui_ctx.clone(), db, Settings::default(), false))
}

/// Steps the app until `done` holds: the workers answer on their own threads.
fn wait_until(harness: &mut Harness<'static, ExplorerApp>, what: &str, done: impl Fn(&ExplorerApp) -> bool) {
    let started = Instant::now();
    loop {
        harness.step();
        if done(harness.state()) {
            harness.run_steps(2);
            return;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let app = harness.state();
            panic!("timed out waiting for {what}: query {:?} (error {:?}), total {:?}, status {:?}", app.query_text, app.query_error, app.table.total, app.status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn loaded(app: &ExplorerApp) -> bool {
    app.query_settled() && app.table.total.is_some() && app.table.row(0).is_some() && !app.facets.is_empty() && app.data_span.is_some()
}

/// The tabs above the table (Sessions, Views, Errors, Overview) share names with the table's
/// headers: a tab is the button on the Overview tab's row.
fn main_tab<'h>(harness: &'h Harness<'static, ExplorerApp>, label: &'h str) -> egui_kittest::Node<'h> {
    let tabs_y = harness.get_by_role_and_label(egui::accesskit::Role::Button, "Overview").rect().center().y;
    let tab = harness.get_all_by_role_and_label(egui::accesskit::Role::Button, label).find(|n| (n.rect().center().y - tabs_y).abs() < 4.0);
    tab.unwrap_or_else(|| panic!("the {label} tab"))
}

/// A header of the sessions table (its text may carry the sort arrow), below the tabs.
fn table_header<'h>(harness: &'h Harness<'static, ExplorerApp>, label: &'h str) -> egui_kittest::Node<'h> {
    let tabs_y = harness.get_by_role_and_label(egui::accesskit::Role::Button, "Overview").rect().center().y;
    let header = harness.get_all_by_label_contains(label).find(|n| n.rect().center().y > tabs_y + 4.0);
    header.unwrap_or_else(|| panic!("the table's {label} header"))
}

fn fixture_db() -> (tempfile::TempDir, PathBuf) {
    let (dir, db) = temp_db();
    let file = dir.path().join("g.lp");
    rum_explorer::generate::write(&file, rum_explorer::generate::GenerateFormat::Lp, 60, 5, false).expect("generate");
    let mut store = rum_explorer::store::Store::open(&db).expect("open");
    import(&mut store, &[file, own_fixture("tricky.lp")]);
    (dir, db)
}

#[test]
fn sorting_by_a_header_changes_the_first_row() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    harness.get_by_label("61 of 61 sessions");
    let first_by_start = harness.state().table.row(0).map(|r| r.session_id.clone());
    table_header(&harness, "Views").click();
    wait_until(&mut harness, "sorted by views", |a| a.settings.sort_column == "view_count" && loaded(a));
    let ascending = harness.state().table.row(0).map(|r| (r.session_id.clone(), r.view_count));
    assert!(first_by_start.is_some());
    assert_eq!(ascending.as_ref().map(|r| r.1), Some(1), "fewest views first");
    table_header(&harness, "Views").click();
    wait_until(&mut harness, "reversed", |a| a.settings.sort_descending && loaded(a) && a.table.row(0).is_some_and(|r| r.view_count > 1));
    let most = harness.state().table.row(0).map(|r| r.view_count).unwrap_or(0);
    let max = harness.state().table.pages.get(&0).map(|p| p.iter().map(|r| r.view_count).max().unwrap_or(0)).unwrap_or(0);
    assert_eq!(most, max, "clicking again reverses the order");
    let descending = harness.state().table.row(0).map(|r| r.session_id.clone());
    assert_ne!(descending, ascending.map(|r| r.0), "the first row changed");
}

#[test]
fn typing_a_query_changes_the_row_count_and_errors_point_at_the_column() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    let all = harness.state().table.total;
    let input = harness.get_by_role(egui::accesskit::Role::TextInput);
    input.focus();
    input.type_text("browser:Chrome");
    wait_until(&mut harness, "filtered count", |a| a.applied_filter.is_some() && loaded(a) && a.table.total != all);
    let chrome = harness.state().table.total.unwrap_or(0);
    assert!(chrome > 0 && Some(chrome) < all);
    harness.get_by_label(&format!("{chrome} of 61 sessions"));
    assert!(harness.query_by_label_contains("browser:Chrome  ✖").is_some(), "the filter shows as a chip");
    // A malformed query shows its error and keeps the rows.
    harness.get_by_role(egui::accesskit::Role::TextInput).type_text(" (os:");
    wait_until(&mut harness, "parse error", |a| a.query_error.is_some());
    assert!(harness.query_by_label_contains("Query error at column").is_some());
    assert_eq!(harness.state().table.total, Some(chrome), "previous rows stay on screen");
}

#[test]
fn clicking_a_facet_value_adds_it_to_the_query() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "facets", loaded);
    let safari = harness.state().facets.iter().find(|f| f.key == "browser").and_then(|f| f.values.iter().find(|v| v.0 == "Safari")).map(|v| v.1).expect("Safari facet");
    harness.get_by_role_and_label(egui::accesskit::Role::Button, "Safari").click_accesskit();
    wait_until(&mut harness, "facet filter", |a| a.query_text == "browser:Safari" && loaded(a) && a.table.total == Some(safari));
    assert!(harness.state().table.pages.get(&0).is_some_and(|p| p.iter().all(|r| r.browser.as_deref() == Some("Safari"))));
}

#[test]
fn the_request_status_facet_counts_sessions_and_filters_by_a_status() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "status facet", |a| loaded(a) && a.event_value_facets.iter().any(|f| f.key == "resource_status"));
    step_until(&mut harness, "its heading", |h| h.query_by_label("Request status").is_some());
    let statuses = harness.state().event_value_facets.iter().find(|f| f.key == "resource_status").map(|f| f.values.clone()).expect("statuses");
    // Every generated session has a 200; some had failing requests.
    assert!(statuses.len() >= 3 && statuses[0].0 == "200", "{statuses:?}");
    let (status, sessions) = statuses[statuses.len() - 1].clone();
    harness.get_by_role_and_label(egui::accesskit::Role::Button, &status).click_accesskit();
    wait_until(&mut harness, "status filter", |a| a.query_text == format!("resource_status:{status}") && loaded(a) && a.table.total == Some(sessions));
    // The facet now counts among the selected sessions: each of them has that status, and
    // none of the other statuses can count more sessions than were selected.
    wait_until(&mut harness, "facet of the selection", |a| {
        a.event_value_facets.iter().find(|f| f.key == "resource_status").is_some_and(|f| {
            f.values.contains(&(status.clone(), sessions)) && f.values.iter().all(|(_, n)| *n <= sessions) && f.values.len() > 1
        })
    });
}

#[test]
fn importing_through_the_drop_command_fills_the_table() {
    let (_dir, db) = temp_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "empty database", |a| a.data_span.is_some() && a.table.total.is_some());
    assert!(harness.query_by_label("Drop RUM files here or use File > Import.").is_some(), "the empty state says what to do");
    harness.state_mut().commands.push(Command::Import(vec![own_fixture("tricky.lp"), own_fixture("views.ndjson")]));
    // The count of all sessions comes from its own query, which may answer after the list's.
    wait_until(&mut harness, "import", |a| {
        a.import.is_none() && a.import_reports.len() == 2 && a.table.total == Some(3) && a.total_sessions_in_db() == Some(3)
    });
    harness.get_by_label("3 of 3 sessions");
    assert!(harness.query_by_label_contains("Imported 2 files:").is_some());
}

/// Past the last byte of a large file, the status line says what the import is doing (the
/// session list's indexes take 20 s at 1,000,000 sessions) instead of standing at 100%.
#[test]
fn the_status_line_names_the_stage_after_the_last_byte() {
    use rum_explorer::ingest::{ImportProgress, ImportStage};
    use std::sync::atomic::Ordering;
    let (_dir, db) = temp_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "empty database", |a| a.data_span.is_some() && a.table.total.is_some());
    let progress = ImportProgress::new();
    progress.bytes_total.store(4 << 30, Ordering::Relaxed);
    progress.bytes_read.store(1 << 30, Ordering::Relaxed);
    progress.events.store(1_234_567, Ordering::Relaxed);
    progress.files_total.store(1, Ordering::Relaxed);
    // The job's channel stays open: the import is under way.
    let (_events_sender, events) = std::sync::mpsc::channel();
    harness.state_mut().import = Some(rum_explorer::app::import_job::ImportJob { progress: progress.clone(), events, started: Instant::now() });
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("Importing: 1.0 GiB of 4.0 GiB, 1,234,567 events, file 1/1").is_some(), "reading: the bytes");

    progress.bytes_read.store(4 << 30, Ordering::Relaxed);
    progress.set_stage(ImportStage::BuildingIndexes);
    progress.indexes_total.store(28, Ordering::Relaxed);
    progress.indexes_built.store(12, Ordering::Relaxed);
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("building indexes, 12 of 28").is_some(), "the index build, counted");
    assert!(harness.query_by_label_contains("GiB of").is_none(), "no more bytes to count");

    assert!(!harness.get_by_label("Cancel").accesskit_node().is_disabled(), "the index build can be cancelled");

    progress.set_stage(ImportStage::Committing);
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("saving to disk").is_some());
    assert!(harness.get_by_label("Cancel").accesskit_node().is_disabled(), "the commit can no longer be cancelled");
}

#[test]
fn an_older_database_learns_its_filters_and_the_status_line_says_so_meanwhile() {
    use std::sync::atomic::Ordering;
    let (_dir, db) = fixture_db();
    let kept = |db: &PathBuf| rum_explorer::store::Store::open(db).and_then(|s| s.event_hashes_kept()).unwrap_or(false);
    {
        let store = rum_explorer::store::Store::open(&db).expect("open");
        // As a database from before schema 14.
        store
            .conn
            .execute_batch("DELETE FROM session_event_hashes; DELETE FROM store_facts WHERE name = 'session_event_hashes_kept';")
            .expect("forget");
    }
    assert!(!kept(&db));
    let mut harness = harness_on(db.clone());
    wait_until(&mut harness, "the filters learned", |app| kept(&db) && !app.learning_facts.load(Ordering::Relaxed));
    assert!(count(&rum_explorer::store::Store::open(&db).expect("open"), "SELECT count(*) FROM session_event_hashes") > 0);
    assert!(harness.query_by_label_contains("Preparing this database").is_none(), "nothing said once it is done");
    harness.state().learning_facts.store(true, Ordering::Relaxed);
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("Preparing this database for fast filters").is_some(), "said while it reads");
}

#[test]
fn detail_panel_and_the_four_field_actions() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    show_only_sess_lp_1(&mut harness);
    harness.key_press(egui::Key::ArrowDown);
    harness.run_steps(2);
    harness.key_press(egui::Key::Enter);
    wait_until(&mut harness, "detail", |a| a.detail_open && a.detail.as_ref().is_some_and(|d| d.session.session_id == "sess-lp-1"));
    assert!(harness.query_by_label("2 views").is_some() && harness.query_by_label("1 errors").is_some());

    // The timeline shows time relative to the session start; the toggle makes it absolute.
    harness.state_mut().settings.show_utc = true;
    harness.run_steps(2);
    assert!(harness.query_by_label("+0 ms").is_some(), "relative time by default");
    let start_text = "2023-11-14 22:13:20";
    let before = harness.query_all_by_label(start_text).count(); // the table's start cell
    harness.get_by_label("Relative time").click();
    wait_until(&mut harness, "absolute time", |a| !a.timeline.relative);
    assert!(harness.query_by_label("+0 ms").is_none());
    assert_eq!(harness.query_all_by_label(start_text).count(), before + 1, "the first event at its absolute UTC time");

    // The facets show app_t too; the detail panel is laid out after them.
    open_field_menu(&mut harness, "app_t");
    harness.get_by_label("Filter field value").click();
    wait_until(&mut harness, "filter", |a| a.query_text == "session_id:sess-lp-1 app_id:app_t");

    open_field_menu(&mut harness, "app_t");
    harness.get_by_label("Reverse filter field value").click();
    wait_until(&mut harness, "reverse filter", |a| a.query_text.ends_with("-app_id:app_t"));

    open_field_menu(&mut harness, "app_t");
    harness.get_by_label("Add to display column").click();
    wait_until(&mut harness, "column", |a| a.settings.columns.last().map(String::as_str) == Some("app_id"));

    open_field_menu(&mut harness, "app_t");
    harness.get_by_label("Copy").click();
    wait_until(&mut harness, "copy", |a| a.last_copied.as_deref() == Some("app_t"));
    let status = harness.state().status.clone().map(|s| s.0).unwrap_or_default();
    assert!(status.starts_with("Copied") || status.starts_with("Could not copy to the clipboard"), "{status}");

    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);
    assert!(!harness.state().detail_open, "Esc closes the panel");
}

/// A row opens when its text is clicked, where a user aims, not only beside the text (a
/// selectable label took the click for text selection, and the row never saw it).
#[test]
fn clicking_a_cells_text_opens_its_session() {
    let (_dir, mut harness) = sess_lp_1_in_utc();
    assert!(!harness.state().detail_open);
    // A pointer press and release on the middle of the start time's text.
    harness.get_by_label("2023-11-14 22:13:20").click();
    wait_until(&mut harness, "detail", |a| a.detail_open && a.detail.as_ref().is_some_and(|d| d.session.session_id == "sess-lp-1"));
    assert_eq!(harness.state().selected_row, Some(0));
}

/// A right-click on a cell offers the field actions on the stored value (the start time's
/// milliseconds, not its formatted text) and copying the session id.
#[test]
fn a_cells_right_click_menu_filters_and_copies() {
    let (_dir, mut harness) = sess_lp_1_in_utc();
    let start_ms = harness.state().table.row(0).and_then(|r| r.start_ms).expect("start");

    harness.get_by_label("2023-11-14 22:13:20").click_secondary();
    step_until(&mut harness, "the cell menu", |h| h.query_by_label("Copy session ID").is_some());
    // The menu names the field and the value its actions take.
    harness.get_by_label(&format!("start_ms: {start_ms}"));
    harness.get_by_label("Copy session ID").click();
    wait_until(&mut harness, "copy", |a| a.last_copied.as_deref() == Some("sess-lp-1"));
    assert!(!harness.state().detail_open, "a right-click does not open the row");

    step_until(&mut harness, "the menu to close", |h| h.query_by_label("Copy session ID").is_none());
    harness.get_by_label("2023-11-14 22:13:20").click_secondary();
    step_until(&mut harness, "the cell menu", |h| h.query_by_label("Filter field value").is_some());
    harness.get_by_label("Filter field value").click();
    let wanted = format!("session_id:sess-lp-1 start_ms:{start_ms}");
    wait_until(&mut harness, "filter", move |a| a.query_text == wanted);
    wait_until(&mut harness, "the filtered list", |a| a.query_settled() && a.table.total == Some(1));
}

/// The fixture's list filtered down to `sess-lp-1`, times in UTC (its start reads
/// 2023-11-14 22:13:20).
fn sess_lp_1_in_utc() -> (tempfile::TempDir, Harness<'static, ExplorerApp>) {
    let (dir, db) = fixture_db();
    let mut harness = harness_on(db);
    harness.state_mut().settings.show_utc = true;
    wait_until(&mut harness, "first page", loaded);
    show_only_sess_lp_1(&mut harness);
    (dir, harness)
}

/// Filters the list down to the fixture's session `sess-lp-1` and waits for its row.
fn show_only_sess_lp_1(harness: &mut Harness<'static, ExplorerApp>) {
    harness.state_mut().commands.push(Command::SetQuery("session_id:sess-lp-1".into()));
    wait_until(harness, "one session", |a| a.table.total == Some(1) && a.table.row(0).is_some_and(|r| r.session_id == "sess-lp-1"));
}

/// Opens the field actions of a value in the detail panel (the rightmost node with that text:
/// the facets and the table may show it too). A click toggles the menu, so it first waits for
/// the last action's menu to have closed and for the list's query to have settled (its answer
/// moves the layout, and a click aimed by the last frame could then miss the value), and after
/// the click for the menu to be shown.
fn open_field_menu(harness: &mut Harness<'static, ExplorerApp>, text: &str) {
    step_until(harness, "the last field menu to close", |h| h.query_by_label("Copy").is_none());
    wait_until(harness, "the list's query", ExplorerApp::query_settled);
    let nodes: Vec<_> = harness.get_all_by_label(text).collect();
    let rightmost = nodes.into_iter().max_by(|a, b| a.rect().min.x.total_cmp(&b.rect().min.x));
    rightmost.expect("the field in the detail panel").click();
    step_until(harness, "the field menu", |h| h.query_by_label("Copy").is_some());
}

/// Steps the app until `done` holds of what it shows.
fn step_until(harness: &mut Harness<'static, ExplorerApp>, what: &str, done: impl Fn(&Harness<'static, ExplorerApp>) -> bool) {
    let started = Instant::now();
    while !done(harness) {
        assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Opens a session's detail through the same command the command line's `--session` uses.
fn open_session(harness: &mut Harness<'static, ExplorerApp>, id: &str) {
    harness.state_mut().commands.push(Command::OpenSession(id.to_string()));
    let wanted = id.to_string();
    wait_until(harness, "detail", move |a| a.detail_open && a.detail.as_ref().is_some_and(|d| d.session.session_id == wanted));
}

#[test]
fn stepping_through_time_points_with_buttons_and_keys() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    open_session(&mut harness, "sess-lp-1");
    let points = harness.state().time_points();
    assert!(points.len() >= 4, "views, actions and errors of sess-lp-1: {points:?}");
    assert!(harness.query_by_label(&format!("{} time points", points.len())).is_some());

    harness.get_by_label("Next ⏷").click();
    harness.run_steps(2);
    assert_eq!(harness.state().timeline_cursor, Some(points[0]), "the first step lands on the first point");
    harness.get_by_label("Next ⏷").click();
    harness.run_steps(2);
    assert_eq!(harness.state().timeline_cursor, Some(points[1]));
    assert!(harness.query_by_label(&format!("Time point 2 of {}", points.len())).is_some());
    harness.key_press(egui::Key::ArrowRight);
    harness.run_steps(2);
    assert_eq!(harness.state().timeline_cursor, Some(points[2]), "Right steps forward");
    harness.key_press(egui::Key::ArrowLeft);
    harness.run_steps(2);
    assert_eq!(harness.state().timeline_cursor, Some(points[1]), "Left steps back");
    harness.get_by_label("⏶ Previous").click();
    harness.run_steps(2);
    assert_eq!(harness.state().timeline_cursor, Some(points[0]));

    // Newest first reverses the order the steps follow.
    harness.get_by_label("Oldest first").click();
    harness.run_steps(2);
    assert!(harness.state().timeline.descending);
    let reversed = harness.state().time_points();
    assert_eq!(reversed.first(), points.last());
}

#[test]
fn finding_in_the_timeline_lists_and_steps_through_the_matching_events() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    open_session(&mut harness, "sess-lp-1");
    let detail = harness.state().detail.clone().expect("detail");
    let all = harness.state().time_points();
    let view_label = detail.events.iter().find(|e| e.kind == "view").map(|e| e.label()).expect("a view");
    // The view's page shows elsewhere in the panel too: its timeline rows are the difference.
    let view_label_nodes = |h: &Harness<'static, ExplorerApp>| h.query_all_by_label(&view_label).count();
    let with_every_event = view_label_nodes(&harness);
    // sess-lp-1's error: "Cannot read \"price\"" (found by a word of it, in another case).
    let errors: Vec<i64> = detail.events.iter().filter(|e| e.kind == "error").map(|e| e.event_pk).collect();
    assert_eq!(errors.len(), 1);
    let finder = harness.get_all_by_role(egui::accesskit::Role::TextInput).last().expect("the find field");
    finder.focus();
    finder.type_text("PRICE");
    harness.run_steps(2);
    assert_eq!(harness.state().timeline_find, "PRICE");
    assert_eq!(harness.state().time_points(), errors, "only the matching event is a time point");
    assert!(harness.query_by_label(&format!("1 of {} events", all.len())).is_some());
    assert!(harness.query_by_label("Cannot read \"price\"").is_some());
    assert!(view_label_nodes(&harness) < with_every_event, "{view_label} is not listed");
    // Show all lists every event again.
    harness.get_by_label("Show all").click();
    harness.run_steps(2);
    assert_eq!(harness.state().time_points(), all);
}

#[test]
fn a_session_copies_as_the_json_the_command_line_prints() {
    let (_dir, db) = fixture_db();
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_rum-explorer"))
        .args(["session", "sess-lp-1", "--db", db.to_str().expect("utf-8"), "--format", "json"])
        .output()
        .expect("run");
    let printed: serde_json::Value = serde_json::from_slice(&printed.stdout).expect("json");
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    open_session(&mut harness, "sess-lp-1");
    harness.get_by_label("Copy as JSON").click();
    wait_until(&mut harness, "copied", |a| a.last_copied.as_deref().is_some_and(|t| t.starts_with('{')));
    let copied: serde_json::Value = serde_json::from_str(harness.state().last_copied.as_deref().unwrap_or_default()).expect("json");
    assert_eq!(copied, printed);
    assert!(copied["timeline"].as_array().is_some_and(|t| t.len() >= 4), "its events are in it");
}

/// A generated session with a view that has several resources: (session id, view path, resource URLs).
fn session_with_resources(db: &std::path::Path) -> (String, String, Vec<String>) {
    let store = rum_explorer::store::Store::open(db).expect("open");
    for row in all_sessions(&store) {
        let detail = store.session_detail(&row.session_id).expect("detail").expect("exists");
        // The first view: it is the first entry of the timeline.
        let Some(view) = detail.events.iter().position(|e| e.kind == "view") else { continue };
        let breakdown = detail.view_breakdown(view);
        if breakdown.resources.len() >= 3 && detail.events[view].get_str("view_path").is_some() {
            let urls = breakdown.resources.iter().filter_map(|&i| detail.events[i].get_str("resource_url").map(str::to_string)).collect();
            let path = detail.events[view].get_str("view_path").unwrap_or_default().to_string();
            return (row.session_id, path, urls);
        }
    }
    panic!("no generated session has a view with 3 resources");
}

#[test]
fn a_view_opens_its_performance_and_the_waterfall_lists_and_filters_its_resources() {
    let (_dir, db) = fixture_db();
    let (session, path, urls) = session_with_resources(&db);
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    open_session(&mut harness, &session);
    harness.get_all_by_label(&path).next().expect("the view in the timeline").click();
    harness.run_steps(3);
    assert!(matches!(harness.state().detail_history.current(), rum_explorer::app::DetailPage::View(_)));
    assert!(harness.query_by_label(&format!("Resources ({})", urls.len())).is_some());
    assert!(harness.query_by_label(&format!("{} of {} resources", urls.len(), urls.len())).is_some());
    // Listed without the scheme and the view's own host, which every row shared.
    let view_url = harness.state().detail.as_ref().and_then(|d| {
        d.events.iter().find(|e| e.kind == "view" && e.get_str("view_path") == Some(path.as_str())).and_then(|e| e.get_str("view_url").map(str::to_string))
    });
    // A page's own document shares its text with the page's title: the row is found in the
    // waterfall's URL column, under its header.
    let url_column_left = harness.get_by_label("URL").rect().left();
    for url in &urls {
        let shown = rum_explorer::app::format::short_resource_url(url, view_url.as_deref());
        assert!(shown.len() < url.len() && !shown.contains("://"), "{url} shortened: {shown}");
        let in_column = harness.query_all_by_label(shown).any(|node| (node.rect().left() - url_column_left).abs() < 16.0);
        assert!(in_column, "the waterfall lists {url} as {shown}");
    }
    assert!(harness.query_by_label("Loading time").is_some(), "the vitals are shown");

    // Searching narrows the waterfall to the matching resources.
    let needle = urls[0].rsplit('/').next().unwrap_or_default().to_string();
    let matching = urls.iter().filter(|u| u.to_lowercase().contains(&needle.to_lowercase())).count();
    // The query bar is the first text input; the waterfall's search is in the detail panel.
    harness.get_all_by_role(egui::accesskit::Role::TextInput).last().expect("search box").focus();
    harness.run_steps(1);
    harness.get_all_by_role(egui::accesskit::Role::TextInput).last().expect("search box").type_text(&needle);
    harness.run_steps(3);
    harness.run_steps(3);
    assert!(harness.query_by_label(&format!("{matching} of {} resources", urls.len())).is_some(), "search {needle}: {:?}", harness.state().resource_filter);

    // Back returns to the session page, forward to the view.
    harness.get_by_label("⏴ Back").click();
    harness.run_steps(2);
    assert_eq!(harness.state().detail_history.current(), rum_explorer::app::DetailPage::Session);
    assert!(harness.query_by_label("Properties").is_some());
    harness.get_by_label("Forward ⏵").click();
    harness.run_steps(2);
    assert!(matches!(harness.state().detail_history.current(), rum_explorer::app::DetailPage::View(_)));
}

#[test]
fn an_error_shows_its_stack_context_and_same_errors() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    open_session(&mut harness, "sess-lp-1");
    harness.get_by_label("Cannot read \"price\"").click();
    harness.run_steps(2);
    assert!(matches!(harness.state().detail_history.current(), rum_explorer::app::DetailPage::Error(_)));
    let stack = "TypeError: Cannot read \"price\"\n    at render (https://shop.example.com/app.js:1:200)\n    at main (https://shop.example.com/app.js:1:50)";
    assert!(harness.query_by_value(stack).is_some(), "the whole stack, newlines kept");
    wait_until(&mut harness, "same-error count", |a| a.error_occurrences.as_ref().is_some_and(|o| o.spread.is_some()));
    let spread = harness.state().error_occurrences.as_ref().and_then(|o| o.spread.clone()).expect("spread");
    assert_eq!((spread.sessions, spread.events), (1, 1));
    harness.run_steps(1);
    assert!(harness.query_by_label("Same error (type and message) in 0 other sessions (1 time in all)").is_some());
    let error_time = spread.first_ms.expect("its time");
    let seen = format!("First seen {0} · last seen {0}", rum_explorer::app::format::time_text(error_time, harness.state().settings.show_utc));
    assert!(harness.query_by_label(&seen).is_some(), "{seen}");
    // Its view is a link; the stack can be copied.
    assert!(harness.query_by_role_and_label(egui::accesskit::Role::Link, "/cart").is_some(), "a link to its view");
    harness.get_by_label("Copy stack").click();
    wait_until(&mut harness, "copy", |a| a.last_copied.as_deref() == Some(stack));
    harness.get_by_label("Show sessions with this error").click();
    wait_until(&mut harness, "filtered to the error", |a| {
        a.query_text == "error_type:TypeError error_message:\"Cannot read \\\"price\\\"\"" && loaded(a) && a.table.total == Some(1)
    });
}

#[test]
fn the_overview_follows_the_query_and_a_distribution_click_filters() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    harness.get_by_label("Overview").click();
    wait_until(&mut harness, "overview", |a| a.overview.is_some() && !a.overview_loading());
    let all = harness.state().overview.as_ref().map(|o| o.sessions);
    assert_eq!(all, Some(61));
    assert!(harness.query_by_label("sessions with errors").is_some(), "the summary shows");
    assert!(harness.query_by_label("Top errors").is_some());
    let safari = harness
        .state()
        .overview
        .as_ref()
        .and_then(|o| o.distributions.iter().find(|d| d.key == "browser"))
        .and_then(|d| d.values.iter().find(|v| v.0 == "Safari"))
        .map(|v| v.1)
        .expect("Safari in the browser distribution");
    // The facets list Safari too; the Overview is laid out after them.
    // Below the fold of the scrolled Overview: clicked as assistive technology does.
    harness.get_all_by_role_and_label(egui::accesskit::Role::Button, "Safari").last().expect("distribution entry").click_accesskit();
    wait_until(&mut harness, "filtered overview", |a| {
        a.query_text == "browser:Safari" && !a.overview_loading() && a.overview.as_ref().is_some_and(|o| o.sessions == safari)
    });
    // Back on the table, the same selection.
    harness.get_by_role_and_label(egui::accesskit::Role::Button, "Sessions").click();
    wait_until(&mut harness, "table", |a| loaded(a) && a.table.total == Some(safari));
}

#[test]
fn the_overviews_top_pages_show_their_whole_paths_and_filter_on_click() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    harness.get_by_label("Overview").click();
    wait_until(&mut harness, "overview", |a| a.overview.is_some() && !a.overview_loading());
    harness.run_steps(2);
    let slowest: Vec<String> = harness
        .state()
        .overview
        .as_ref()
        .map(|o| o.top_pages_by_loading_time.iter().map(|p| p.view_path.clone()).collect())
        .unwrap_or_default();
    let longest = slowest.iter().max_by_key(|p| p.len()).cloned().expect("pages with a loading time");
    assert!(longest.len() >= 8, "a path long enough to tell truncation: {longest}");
    // Each list's path once as a button: the longest, in a third of a 1400-point window, is
    // not cut to its first letters (a grid of buttons that truncate gave it some 40 points).
    let buttons = harness.get_all_by_role_and_label(egui::accesskit::Role::Button, &longest).collect::<Vec<_>>();
    assert!(!buttons.is_empty());
    for button in &buttons {
        let width = button.rect().width();
        assert!(width >= 5.0 * longest.chars().count() as f32, "{longest} is {width} points wide");
    }
    // The average loading time reads in seconds or ms, as the vitals do.
    let page = harness.state().overview.as_ref().and_then(|o| o.top_pages_by_loading_time.first().cloned()).expect("slowest page");
    let ms = page.avg_loading_time_ms.expect("its loading time");
    let text = rum_explorer::vitals::metric("loading_time").map(|m| m.format(ms)).expect("loading time metric");
    assert!(harness.query_by_label(&text).is_some(), "{text} shown");
    buttons.last().expect("a button").click_accesskit();
    wait_until(&mut harness, "filtered to the page", |a| a.query_text == format!("view_path:{longest}"));
}

#[test]
fn top_errors_group_by_pattern_and_a_pattern_filters_its_sessions() {
    let (_dir, db) = temp_db();
    let mut store = rum_explorer::store::Store::open(&db).expect("open");
    // Three sessions with the errors, and one without them.
    import(&mut store, &[own_fixture("error-patterns.ndjson"), own_fixture("tricky.lp")]);
    drop(store);
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    harness.get_by_label("Overview").click();
    wait_until(&mut harness, "overview", |a| a.overview.is_some() && !a.overview_loading());
    harness.run_steps(2);
    // By message, each status code is a row of its own; by pattern, one row for three messages.
    assert!(harness.query_by_label("Error: Request failed with status code 502").is_some());
    assert!(harness.query_by_label("Error: Request failed with status code *").is_none());
    // Below the fold of the Overview: clicked as assistive technology does.
    harness.get_by_label("By pattern").click_accesskit();
    harness.run_steps(2);
    assert!(harness.query_by_label("Error: Request failed with status code 502").is_none());
    assert!(harness.query_by_label("Error: Request failed with status code *").is_some());
    // Product 7389 (session 1) and Product 12 (session 2): two of the three sessions.
    harness.get_by_label("Error: Product * not found").click_accesskit();
    wait_until(&mut harness, "filtered to the pattern", |a| {
        a.query_text == r"error_type:Error error_message:Product\ *\ not\ found" && loaded(a) && a.table.total == Some(2)
    });
}

#[test]
fn the_file_menu_exports_the_selected_sessions_as_csv() {
    let (dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    harness.get_by_role(egui::accesskit::Role::TextInput).focus();
    harness.get_by_role(egui::accesskit::Role::TextInput).type_text("browser:Chrome");
    wait_until(&mut harness, "filtered", |a| a.applied_filter.is_some() && loaded(a) && a.table.total != Some(61));
    let selected = harness.state().table.total.expect("count");
    assert!(selected > 0 && selected < 61);
    harness.get_by_label("File").click();
    harness.run_steps(3);
    // The entry's label ends with its shortcut (Ctrl+E here).
    harness.query_by_label_contains("Export sessions as CSV…").expect("the File menu's entry").click();
    harness.run_steps(2);
    harness.run_steps(3);
    let summary = format!("{selected} sessions the query and time range select, in the table's order, as CSV.");
    assert!(harness.query_by_label_contains(&summary).is_some(), "{summary}");
    // The suggested file is replaced by one in the test's folder, typed as a user would.
    let path = dir.path().join("chrome.csv");
    let suggested = harness.state().export.as_ref().map(|w| w.path_text.clone()).expect("window open");
    let path_field = |harness: &Harness<'static, ExplorerApp>, value: &str| {
        harness.get_all_by_role(egui::accesskit::Role::TextInput).find(|n| n.accesskit_node().value().as_deref() == Some(value)).is_some()
    };
    assert!(path_field(&harness, &suggested), "the suggested file is shown: {suggested}");
    let field = harness.get_all_by_role(egui::accesskit::Role::TextInput).last().expect("the export window's field");
    field.focus();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.get_all_by_role(egui::accesskit::Role::TextInput).last().expect("field").type_text(&path.display().to_string());
    harness.run_steps(2);
    harness.get_by_label("Export").click();
    wait_until(&mut harness, "exported", |a| a.export.is_none() && a.status.as_ref().is_some_and(|s| s.0.starts_with("Exported")));
    let status = harness.state().status.clone().map(|s| s.0).unwrap_or_default();
    assert_eq!(status, format!("Exported {selected} sessions to {}", path.display()));
    let text = std::fs::read_to_string(&path).expect("the file");
    assert_eq!(text.lines().count() as u64, selected + 1, "a header and a line per session");
    assert!(text.lines().skip(1).all(|line| line.contains(",Chrome,")), "only the selected sessions");
}

#[test]
fn the_query_bar_suggests_fields_then_their_values() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    wait_until(&mut harness, "known keys", |a| a.known_keys.iter().any(|k| k == "browser"));
    let input = harness.get_by_role(egui::accesskit::Role::TextInput);
    input.focus();
    input.type_text("os:Linux bro");
    // The list is laid out unseen on its first frame, as egui does with new areas.
    step_until(&mut harness, "the field is offered", |h| h.query_by_label("browser:").is_some());
    assert!(harness.query_by_label("os:").is_none(), "only fields like the word");
    // Tab inserts the first; its values are asked for and offered with their session counts.
    harness.key_press(egui::Key::Tab);
    harness.run_steps(1);
    assert_eq!(harness.state().query_text, "os:Linux browser:");
    harness.get_by_role(egui::accesskit::Role::TextInput).type_text("saf");
    wait_until(&mut harness, "browser values", |a| a.key_values.get("browser").is_some_and(Option::is_some));
    // The list's entry, under the query field (the quick filters name Safari too, lower down).
    let field_bottom = harness.get_by_role(egui::accesskit::Role::TextInput).rect().bottom();
    let under_field = move |node: &egui_kittest::Node<'_>| (node.rect().top() - field_bottom).abs() < 30.0;
    step_until(&mut harness, "values offered", |h| h.query_all_by_label("Safari").any(|n| under_field(&n)));
    let safari = harness.state().key_values.get("browser").cloned().flatten().and_then(|v| v.into_iter().find(|(b, _)| b == "Safari")).expect("Safari");
    assert!(harness.query_by_label(&format!("{} sessions", safari.1)).is_some(), "its count beside it");
    harness.get_all_by_label("Safari").find(|n| under_field(n)).expect("entry").click();
    wait_until(&mut harness, "filtered", |a| a.query_text == "os:Linux browser:Safari " && a.applied_filter.is_some() && loaded(a));
    // Esc hides the list; the text stays.
    harness.get_by_role(egui::accesskit::Role::TextInput).type_text("bro");
    step_until(&mut harness, "fields offered again", |h| h.query_by_label("browser_version:").is_some());
    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);
    assert!(harness.query_by_label("browser_version:").is_none());
    assert_eq!(harness.state().query_text, "os:Linux browser:Safari bro");
}

#[test]
fn the_query_bar_suggests_the_statuses_the_sessions_have() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    let input = harness.get_by_role(egui::accesskit::Role::TextInput);
    input.focus();
    input.type_text("resource_status:");
    wait_until(&mut harness, "status values", |a| a.key_values.get("resource_status").is_some_and(Option::is_some));
    let statuses = harness.state().key_values.get("resource_status").cloned().flatten().expect("statuses");
    // The generated requests answer 200 mostly, and some fail.
    assert!(statuses.len() >= 3 && statuses[0].0 == "200", "{statuses:?}");
    let (status, sessions) = statuses[statuses.len() - 1].clone();
    let field_bottom = harness.get_by_role(egui::accesskit::Role::TextInput).rect().bottom();
    let under_field = move |node: &egui_kittest::Node<'_>| node.rect().top() > field_bottom && node.rect().top() - field_bottom < 400.0;
    step_until(&mut harness, "statuses offered", |h| h.query_all_by_label(&status).any(|n| under_field(&n)));
    assert!(harness.query_by_label(&format!("{sessions} sessions")).is_some() || sessions == 1, "its count beside it");
    harness.get_all_by_label(&status).find(|n| under_field(n)).expect("entry").click();
    // As many sessions as suggested (waiting for them fails the test when they do not come).
    wait_until(&mut harness, "filtered", |a| {
        a.query_text == format!("resource_status:{status} ") && a.applied_filter.is_some() && loaded(a) && a.table.total == Some(sessions)
    });
}

#[test]
fn an_errors_page_names_its_pattern_and_filters_by_it() {
    let (_dir, db) = temp_db();
    let mut store = rum_explorer::store::Store::open(&db).expect("open");
    // Three sessions with the errors, and one without them.
    import(&mut store, &[own_fixture("error-patterns.ndjson"), own_fixture("tricky.lp")]);
    drop(store);
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    open_session(&mut harness, "sess-ep-1");
    harness.get_by_label("Request failed with status code 502").click();
    wait_until(&mut harness, "same errors", |a| a.error_occurrences.as_ref().is_some_and(|o| o.spread.is_some()));
    step_until(&mut harness, "the pattern", |h| h.query_by_label("Request failed with status code *").is_some());
    assert!(harness.query_by_label("(numbers and ids as *): 4 times in 3 sessions, 3 different messages").is_some());
    harness.get_by_label("Show sessions with this pattern").click();
    wait_until(&mut harness, "filtered to the pattern", |a| {
        a.query_text == r"error_type:Error error_message:Request\ failed\ with\ status\ code\ *" && loaded(a) && a.table.total == Some(3)
    });
}

#[test]
fn keyboard_shortcuts_reach_the_query_bar_and_the_export() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    let query_focused = |h: &Harness<'static, ExplorerApp>| h.get_by_role(egui::accesskit::Role::TextInput).accesskit_node().is_focused();
    assert!(!query_focused(&harness));
    // `/` with no text field focused puts the cursor in the query bar, without typing itself.
    harness.key_press(egui::Key::Slash);
    harness.run_steps(2);
    assert!(query_focused(&harness), "/ focuses the query bar");
    harness.get_by_role(egui::accesskit::Role::TextInput).type_text("os:Linux");
    harness.run_steps(1);
    assert_eq!(harness.state().query_text, "os:Linux");
    // Ctrl+F selects the whole query: typing replaces it.
    harness.key_press(egui::Key::Escape);
    harness.get_by_label("Sessions").click();
    harness.run_steps(2);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    harness.run_steps(2);
    assert!(query_focused(&harness), "Ctrl+F focuses the query bar");
    harness.get_by_role(egui::accesskit::Role::TextInput).type_text("browser:Safari");
    harness.run_steps(1);
    assert_eq!(harness.state().query_text, "browser:Safari");
    // Ctrl+E opens the export window.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::E);
    harness.run_steps(2);
    assert!(harness.state().export.is_some());
}

#[test]
fn the_errors_tab_lists_finds_and_opens_errors() {
    let (_dir, db) = temp_db();
    let mut store = rum_explorer::store::Store::open(&db).expect("open");
    import(&mut store, &[own_fixture("error-patterns.ndjson"), own_fixture("tricky.lp")]);
    drop(store);
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    // The tab beside Overview (the table's header has an Errors column too).
    main_tab(&harness, "Errors").click();
    wait_until(&mut harness, "errors", |a| a.error_list.total.is_some() && !a.error_list.loading());
    // The fixture's eight errors and tricky.lp's one, newest first.
    assert_eq!(harness.state().error_list.total, Some(9));
    harness.run_steps(2);
    assert!(harness.query_by_label("9 errors in the selected sessions").is_some());
    let times: Vec<i64> = harness.state().error_list.rows.iter().map(|r| r.time_ms).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    assert!(harness.query_by_label("Show older errors").is_none(), "all are listed");
    // In pages of 4 (500 in the window): the newest 4, then 4 more on Show older.
    harness.state_mut().error_list.page_rows = 4;
    harness.state_mut().error_list.limit = 4;
    harness.state_mut().commands.push(Command::ShowTab(rum_explorer::app::MainTab::Errors));
    wait_until(&mut harness, "a page of 4", |a| !a.error_list.loading() && a.error_list.rows.len() == 4);
    harness.run_steps(2);
    assert!(harness.query_by_label("9 errors in the selected sessions; the newest 4 are listed").is_some());
    harness.get_by_label("Show older errors").click();
    wait_until(&mut harness, "8 listed", |a| !a.error_list.loading() && a.error_list.rows.len() == 8);
    let paged: Vec<i64> = harness.state().error_list.rows.iter().map(|r| r.time_ms).collect();
    assert_eq!(paged, times[..8].to_vec(), "the same order, 4 older ones added");
    // Finding narrows the list.
    let finder = harness.get_all_by_role(egui::accesskit::Role::TextInput).last().expect("find field");
    finder.focus();
    finder.type_text("product");
    wait_until(&mut harness, "found", |a| a.error_list.find == "product" && !a.error_list.loading());
    assert_eq!(harness.state().error_list.total, Some(2));
    harness.run_steps(2);
    assert!(harness.query_by_label("2 errors in the selected sessions").is_some());
    // A row opens its session on the error's page.
    // A right-click on a message offers the field's actions (the menu, then Esc).
    harness.get_by_label("Product 12 not found").click_secondary();
    step_until(&mut harness, "the field's menu", |h| h.query_by_label("Reverse filter field value").is_some());
    assert!(harness.query_by_label("error_message: Product 12 not found").is_some());
    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);
    harness.get_by_label("Product 12 not found").click();
    wait_until(&mut harness, "the error's page", |a| {
        a.detail.as_ref().is_some_and(|d| d.session.session_id == "sess-ep-2")
            && matches!(a.detail_history.current(), rum_explorer::app::DetailPage::Error(_))
    });
    // Down and Up open the next and the previous error of the list.
    let listed: Vec<i64> = harness.state().error_list.rows.iter().map(|r| r.event_pk).collect();
    let open_error = |a: &ExplorerApp| match a.detail_history.current() {
        rum_explorer::app::DetailPage::Error(pk) if a.detail.is_some() => Some(pk),
        _ => None,
    };
    let first = open_error(harness.state()).and_then(|pk| listed.iter().position(|p| *p == pk)).expect("the open error is listed");
    let (key, other) = if first == 0 { (egui::Key::ArrowDown, 1) } else { (egui::Key::ArrowUp, first - 1) };
    harness.key_press(key);
    wait_until(&mut harness, "the neighbouring error", |a| open_error(a) == Some(listed[other]));
    harness.key_press(if key == egui::Key::ArrowDown { egui::Key::ArrowUp } else { egui::Key::ArrowDown });
    wait_until(&mut harness, "back to the first", |a| open_error(a) == Some(listed[first]));
    // From the error's page, List these errors lists its occurrences in the Errors tab.
    wait_until(&mut harness, "same errors", |a| a.error_occurrences.as_ref().is_some_and(|o| o.spread.is_some()));
    let occurrences = harness.state().error_occurrences.as_ref().and_then(|o| o.spread.as_ref()).map(|s| s.events);
    // From the Sessions tab: the button shows the Errors tab.
    harness.state_mut().commands.push(Command::ShowTab(rum_explorer::app::MainTab::Sessions));
    harness.run_steps(2);
    harness.get_by_label("List these errors").click();
    wait_until(&mut harness, "its occurrences", |a| {
        a.main_tab == rum_explorer::app::MainTab::Errors && a.applied_filter.is_some() && !a.error_list.loading() && a.error_list.total == occurrences
    });
    assert!(harness.state().error_list.rows.iter().all(|r| r.error_message.as_deref() == Some("Product 12 not found")));
    harness.state_mut().commands.push(Command::SetQuery(String::new()));
    // The query (the first text field) selects the sessions the list reads.
    let query_bar = || harness.get_all_by_role(egui::accesskit::Role::TextInput).next().expect("the query bar");
    query_bar().focus();
    query_bar().type_text("session_id:sess-ep-1");
    wait_until(&mut harness, "one session's errors", |a| a.applied_filter.is_some() && !a.error_list.loading() && a.error_list.total == Some(1));
}

#[test]
fn the_bound_view_compares_loading_times_with_the_app_p75() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    open_session(&mut harness, "sess-lp-1");
    harness.get_by_label("Bound view").click();
    wait_until(&mut harness, "app p75", |a| a.loading_p75_by_app.contains_key(&Some("app_t".to_string())));
    // app_t has one view with a loading time (1.2 s): its p75 is that.
    assert_eq!(harness.state().loading_p75_by_app.get(&Some("app_t".to_string())), Some(&Some(1200.0)));
    harness.run_steps(2);
    assert!(harness.query_by_label("The line is the app's p75 over all sessions: 1200 ms").is_some());
    assert!(harness.query_by_label("Errors by type").is_some() && harness.query_by_label("TypeError").is_some());
}

/// A key no field of the data has says so under the query bar, with the field spelled most
/// like it as a button that puts it in its place; the hint goes once the key is right.
#[test]
fn a_mistyped_key_is_named_and_the_closest_field_offered() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    wait_until(&mut harness, "the data's keys", |a| !a.known_keys.is_empty());
    harness.state_mut().commands.push(Command::SetQuery("brwoser:Chrome".into()));
    wait_until(&mut harness, "the query", |a| a.query_settled() && a.table.total == Some(0));
    harness.get_by_label("No field named \"brwoser\" in this data.");
    harness.get_by_label("browser").click();
    wait_until(&mut harness, "the corrected query", |a| a.query_text == "browser:Chrome" && a.query_settled() && a.table.total.is_some_and(|n| n > 0));
    assert!(harness.query_by_label_contains("No field named").is_none(), "the hint is gone");
    // A field this data has under Datadog's name gives no hint.
    harness.state_mut().commands.push(Command::SetQuery("@browser.name:Chrome".into()));
    wait_until(&mut harness, "Datadog's name", |a| a.query_text == "@browser.name:Chrome" && a.query_settled() && a.table.total.is_some_and(|n| n > 0));
    assert!(harness.query_by_label_contains("No field named").is_none());
}

/// The views of one session's detail: (event_pk, time, page, loading time in ns).
fn views_from_details(db: &std::path::Path) -> Vec<(i64, i64, String, Option<f64>)> {
    let store = rum_explorer::store::Store::open(db).expect("open");
    let q = rum_explorer::store::SessionQuery { limit: 1000, ..Default::default() };
    let mut views = Vec::new();
    for session in store.sessions(&q).expect("sessions") {
        let detail = store.session_detail(&session.session_id).expect("detail").expect("the session");
        for event in detail.events.iter().filter(|e| e.kind == "view") {
            let loading_ns = event.get("loading_time").and_then(|v| v.as_f64());
            views.push((event.event_pk, event.time_ms, event.get_str("view_path").unwrap_or("").to_string(), loading_ns));
        }
    }
    views
}

#[test]
fn the_views_tab_lists_sorts_finds_and_opens_views() {
    let (_dir, db) = fixture_db();
    let views = views_from_details(&db);
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    main_tab(&harness, "Views").click();
    wait_until(&mut harness, "views", |a| a.view_list.total.is_some() && !a.view_list.loading());
    assert_eq!(harness.state().view_list.total, Some(views.len() as u64), "every session's views");
    harness.run_steps(2);
    assert!(harness.query_by_label(&format!("{} views in the selected sessions", views.len())).is_some());
    let times: Vec<i64> = harness.state().view_list.rows.iter().map(|r| r.time_ms).collect();
    assert_eq!(times.len(), views.len());
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

    // The Loading time header: the slowest first, then, clicked again, the fastest.
    let mut loading: Vec<f64> = views.iter().filter_map(|v| v.3).collect();
    loading.sort_by(|a, b| b.total_cmp(a));
    assert!(loading.len() >= 10, "the generated views have loading times");
    harness.get_by_label("Loading time").click();
    wait_until(&mut harness, "slowest first", |a| a.view_list.sort == rum_explorer::store::ViewSort::LoadingTime && !a.view_list.loading());
    let listed: Vec<f64> = harness.state().view_list.rows.iter().filter_map(|r| r.loading_time_ns).collect();
    assert_eq!(listed, loading, "every loading time, the slowest first");
    let last = harness.state().view_list.rows.last().map(|r| r.loading_time_ns);
    assert_eq!(last, Some(None).filter(|_| loading.len() < views.len()).or(Some(loading.last().copied())), "views without one go last");
    harness.run_steps(2);
    harness.get_by_label("Loading time ⏷").click();
    wait_until(&mut harness, "fastest first", |a| !a.view_list.descending && !a.view_list.loading());
    let first = harness.state().view_list.rows.first().and_then(|r| r.loading_time_ns);
    assert_eq!(first, loading.last().copied(), "the fastest first");

    // In pages: the first 5 by the order shown, then 5 more.
    harness.state_mut().view_list.page_rows = 5;
    harness.state_mut().view_list.limit = 5;
    harness.state_mut().commands.push(Command::ShowTab(rum_explorer::app::MainTab::Views));
    wait_until(&mut harness, "a page of 5", |a| !a.view_list.loading() && a.view_list.rows.len() == 5);
    harness.run_steps(2);
    assert!(harness.query_by_label(&format!("{} views in the selected sessions; the 5 fastest by Loading time are listed", views.len())).is_some());
    harness.get_by_label("Show more views").click();
    wait_until(&mut harness, "10 listed", |a| !a.view_list.loading() && a.view_list.rows.len() == 10);
    let paged: Vec<f64> = harness.state().view_list.rows.iter().filter_map(|r| r.loading_time_ns).collect();
    let mut fastest = loading.clone();
    fastest.reverse();
    assert_eq!(paged, fastest[..10].to_vec());

    // Finding narrows to the pages that hold the text.
    harness.state_mut().view_list.page_rows = 500;
    let finder = harness.get_all_by_role(egui::accesskit::Role::TextInput).last().expect("find field");
    finder.focus();
    finder.type_text("cart");
    wait_until(&mut harness, "found", |a| a.view_list.find == "cart" && !a.view_list.loading());
    let with_cart = views.iter().filter(|v| v.2.contains("cart")).count() as u64;
    assert!(with_cart > 0 && with_cart < views.len() as u64);
    assert_eq!(harness.state().view_list.total, Some(with_cart));

    // A row opens its session on the view's performance page.
    let row = harness.state().view_list.rows.first().cloned().expect("a row");
    let page_cell = harness.get_all_by_label(row.view_path.as_deref().unwrap_or("")).next().expect("the row's page");
    page_cell.click();
    wait_until(&mut harness, "the view's page", |a| {
        a.detail.as_ref().is_some_and(|d| d.session.session_id == row.session_id)
            && a.detail_history.current() == rum_explorer::app::DetailPage::View(row.event_pk)
    });

    // A right-click on a page offers the field's actions: Filter field value filters by it.
    let row = harness.state().view_list.rows.first().cloned().expect("a row");
    let page = row.view_path.clone().expect("a page");
    // The list's cell: the leftmost of the labels (the detail panel names the page too).
    let in_list = harness.get_all_by_label(&page).min_by(|a, b| a.rect().left().total_cmp(&b.rect().left()));
    in_list.expect("the row's page").click_secondary();
    step_until(&mut harness, "the field's menu", |h| h.query_by_label("Filter field value").is_some());
    assert!(harness.query_by_label(&format!("view_path: {page}")).is_some());
    harness.get_by_label("Filter field value").click();
    wait_until(&mut harness, "filtered by the page", |a| a.applied_filter.is_some() && !a.view_list.loading() && a.query_text.contains("view_path:"));
    assert!(harness.state().view_list.rows.iter().all(|r| r.view_path.as_deref() == Some(page.as_str())), "only {page}");
    harness.state_mut().commands.push(Command::SetQuery(String::new()));

    // A query term on the page applies to the views, not only to the sessions.
    harness.state_mut().commands.push(Command::SetViewFind(String::new()));
    let query_bar = || harness.get_all_by_role(egui::accesskit::Role::TextInput).next().expect("the query bar");
    query_bar().focus();
    query_bar().type_text("view_path:/cart");
    let exactly_cart = views.iter().filter(|v| v.2 == "/cart").count() as u64;
    wait_until(&mut harness, "the /cart views", |a| a.applied_filter.is_some() && !a.view_list.loading() && a.view_list.total == Some(exactly_cart));
    assert!(harness.state().view_list.rows.iter().all(|r| r.view_path.as_deref() == Some("/cart")));
}

/// Queries applied (Enter, a facet) are remembered, newest first and once each; an empty,
/// focused query bar offers them, and a click applies one at once.
#[test]
fn the_empty_query_bar_offers_recent_queries() {
    let (_dir, db) = fixture_db();
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    let all = harness.state().table.total;
    let input = harness.get_by_role(egui::accesskit::Role::TextInput);
    input.focus();
    input.type_text("browser:Chrome");
    harness.key_press(egui::Key::Enter);
    wait_until(&mut harness, "Chrome", |a| a.applied_filter.is_some() && loaded(a));
    let chrome = harness.state().table.total;
    assert_ne!(chrome, all);
    // A partial query that does not parse is not kept when the field loses the cursor.
    harness.state_mut().commands.push(Command::SetQuery("os:Linux".into()));
    harness.state_mut().commands.push(Command::SetQuery("browser:Chrome".into()));
    harness.state_mut().commands.push(Command::SetQuery(String::new()));
    wait_until(&mut harness, "all again", |a| a.applied_filter.is_none() && loaded(a) && a.table.total == all);
    assert_eq!(harness.state().settings.recent_queries, vec!["browser:Chrome".to_string(), "os:Linux".to_string()]);
    harness.get_by_role(egui::accesskit::Role::TextInput).focus();
    harness.get_by_role(egui::accesskit::Role::TextInput).type_text("(broken");
    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);
    assert_eq!(harness.state().settings.recent_queries.len(), 2, "{:?}", harness.state().settings.recent_queries);
    // One typed and left without Enter is kept.
    harness.state_mut().commands.push(Command::SetQuery(String::new()));
    harness.run_steps(2);
    harness.get_by_role(egui::accesskit::Role::TextInput).focus();
    harness.get_by_role(egui::accesskit::Role::TextInput).type_text("country:China");
    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);
    assert_eq!(harness.state().settings.recent_queries.first().map(String::as_str), Some("country:China"));
    assert_eq!(harness.state().settings.recent_queries.len(), 3);
    harness.state_mut().commands.push(Command::SetQuery(String::new()));
    harness.run_steps(2);

    // The empty field lists them; a click applies one.
    harness.get_by_role(egui::accesskit::Role::TextInput).focus();
    step_until(&mut harness, "the recent queries", |h| h.query_by_label("os:Linux").is_some());
    assert!(harness.query_by_label_contains("Recent queries").is_some());
    harness.get_by_label("browser:Chrome").click();
    wait_until(&mut harness, "the recent query applied", |a| a.query_text == "browser:Chrome" && a.applied_filter.is_some() && loaded(a) && a.table.total == chrome);
    // At most 20, each once.
    for i in 0..25 {
        harness.state_mut().settings.remember_query(&format!("view_count:>{i}"));
    }
    harness.state_mut().settings.remember_query("view_count:>3");
    let recent = &harness.state().settings.recent_queries;
    assert_eq!(recent.len(), 20);
    assert_eq!(recent[0], "view_count:>3");
    assert_eq!(recent.iter().filter(|q| *q == "view_count:>3").count(), 1);
}

/// The Views tab by page: routes with their views, sorted by a p75, and a row that filters by
/// its route and lists its views.
#[test]
fn the_views_tab_by_page_lists_routes_and_opens_one() {
    let (_dir, db) = fixture_db();
    let views = views_from_details(&db);
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    main_tab(&harness, "Views").click();
    wait_until(&mut harness, "views", |a| a.view_list.total.is_some() && !a.view_list.loading());
    harness.get_by_label("By page").click();
    wait_until(&mut harness, "pages", |a| a.view_list.pages_known());
    let pages = harness.state().view_list.pages.clone();
    assert_eq!(pages.iter().map(|p| p.views).sum::<u64>(), views.len() as u64, "every view in one page or route");
    let products = views.iter().filter(|v| v.2.starts_with("/products/")).count() as u64;
    assert!(products > 1, "the generated data has product pages");
    let route = pages.iter().find(|p| p.view_path == "/products/*").cloned().expect("the products route");
    assert_eq!(route.views, products);
    harness.run_steps(2);
    assert!(harness.query_by_label("/products/*").is_some());

    // Sorted by the LCP p75: the slowest first, pages without one last.
    harness.get_by_label("LCP p75").click();
    wait_until(&mut harness, "by LCP", |a| a.view_list.page_sort == rum_explorer::store::ViewSort::LargestContentfulPaint);
    let lcp: Vec<Option<f64>> = harness.state().view_list.pages.iter().map(|p| p.largest_contentful_paint_p75_ns).collect();
    let known: Vec<f64> = lcp.iter().flatten().copied().collect();
    assert!(known.windows(2).all(|w| w[0] >= w[1]), "{lcp:?}");
    assert!(lcp.iter().skip_while(|v| v.is_some()).all(Option::is_none), "without one last: {lcp:?}");

    // Ungrouped, the product pages are rows of their own.
    harness.get_by_label("Group numbers and ids").click();
    wait_until(&mut harness, "pages ungrouped", |a| !a.view_list.as_routes && a.view_list.pages_known());
    assert!(harness.state().view_list.pages.iter().all(|p| p.view_path != "/products/*"));
    assert_eq!(harness.state().view_list.pages.iter().filter(|p| p.view_path.starts_with("/products/")).map(|p| p.views).sum::<u64>(), products);
    // At least 3 views hides the pages with fewer.
    harness.state_mut().commands.push(Command::SetPageMinViews(3));
    harness.run_steps(2);
    let hidden = harness.state().view_list.pages.iter().filter(|p| p.views < 3).count();
    assert!(hidden > 0);
    assert!(harness.query_by_label_contains(&format!("({hidden} with fewer views not listed)")).is_some());
    harness.state_mut().commands.push(Command::SetPageMinViews(1));
    harness.get_by_label("Group numbers and ids").click();
    wait_until(&mut harness, "routes again", |a| a.view_list.as_routes && a.view_list.pages_known());
    harness.run_steps(2);

    // A route's row filters by its wildcard and lists its views.
    harness.get_by_label("/products/*").click();
    wait_until(&mut harness, "the route's views", |a| {
        !a.view_list.by_page && a.applied_filter.is_some() && !a.view_list.loading() && a.view_list.total == Some(products)
    });
    assert!(harness.state().query_text.contains("view_path:/products/*"), "{}", harness.state().query_text);
    assert!(harness.state().view_list.rows.iter().all(|r| r.view_path.as_deref().is_some_and(|p| p.starts_with("/products/"))));
}

/// The Errors tab by error: one row per type and message pattern with its counts; a row
/// filters by the pattern and lists its occurrences.
#[test]
fn the_errors_tab_by_error_groups_patterns_and_opens_one() {
    let (_dir, db) = temp_db();
    let mut store = rum_explorer::store::Store::open(&db).expect("open");
    import(&mut store, &[own_fixture("error-patterns.ndjson"), own_fixture("tricky.lp")]);
    drop(store);
    let fixture = std::fs::read_to_string(own_fixture("error-patterns.ndjson")).expect("fixture");
    // Errors of type Error whose message is the status code one (one of the fixture's is a TypeError).
    let status_errors = fixture.lines().filter(|l| l.contains("\"type\":\"Error\"") && l.contains("status code")).count() as u64;
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    main_tab(&harness, "Errors").click();
    wait_until(&mut harness, "errors", |a| a.error_list.total.is_some() && !a.error_list.loading());
    harness.get_by_label("By error").click();
    wait_until(&mut harness, "groups", |a| a.error_list.groups_known());
    let groups = harness.state().error_list.groups.clone();
    assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), 9, "the fixture's eight errors and tricky.lp's one");
    let status = groups.iter().find(|g| g.message.as_deref() == Some("Request failed with status code *")).cloned().expect("the pattern");
    assert_eq!((status.count, status.messages), (status_errors, 3), "500, 502 and 404 as one");
    assert!(groups.windows(2).all(|w| w[0].count >= w[1].count), "the most frequent first");
    harness.run_steps(2);
    assert!(harness.query_by_label("3 messages").is_some());
    // Last seen, newest first.
    harness.get_by_label("Last seen").click();
    harness.run_steps(2);
    let last: Vec<i64> = harness.state().error_list.groups.iter().map(|g| g.last_ms).collect();
    assert!(last.windows(2).all(|w| w[0] >= w[1]), "{last:?}");
    // Ungrouped, each message is its own row.
    harness.get_by_label("Group numbers and ids").click();
    wait_until(&mut harness, "messages", |a| !a.error_list.as_patterns && a.error_list.groups_known());
    assert!(harness.state().error_list.groups.iter().all(|g| g.messages == 1 && g.message.as_deref() != Some("Request failed with status code *")));
    harness.get_by_label("Group numbers and ids").click();
    wait_until(&mut harness, "patterns again", |a| a.error_list.as_patterns && a.error_list.groups_known());
    harness.run_steps(2);
    // The pattern's row lists its occurrences (a TypeError has the same pattern: its row is
    // the other one with that label, in the list's order).
    let label = "Request failed with status code *";
    let same_label: Vec<_> = harness.state().error_list.groups.iter().filter(|g| g.message.as_deref() == Some(label)).cloned().collect();
    let position = same_label.iter().position(|g| g.error_type.as_deref() == Some("Error")).expect("the Error row");
    let mut nodes: Vec<_> = harness.get_all_by_label(label).collect();
    nodes.sort_by(|a, b| a.rect().top().total_cmp(&b.rect().top()));
    assert_eq!(nodes.len(), same_label.len());
    nodes[position].click();
    wait_until(&mut harness, "the pattern's errors", |a| {
        !a.error_list.by_error && a.applied_filter.is_some() && !a.error_list.loading() && a.error_list.total == Some(status_errors)
    });
    assert!(harness.state().error_list.rows.iter().all(|r| r.error_message.as_deref().is_some_and(|m| m.starts_with("Request failed with status code"))));
    assert!(harness.state().error_list.rows.iter().all(|r| r.error_type.as_deref() == Some("Error")));
}

/// Every resource of the fixture's sessions: (event_pk, time, method, URL, duration in ns).
fn resources_from_details(db: &std::path::Path) -> Vec<(i64, i64, String, String, Option<f64>)> {
    let store = rum_explorer::store::Store::open(db).expect("open");
    let q = rum_explorer::store::SessionQuery { limit: 1000, ..Default::default() };
    let mut resources = Vec::new();
    for session in store.sessions(&q).expect("sessions") {
        let detail = store.session_detail(&session.session_id).expect("detail").expect("the session");
        for event in detail.events.iter().filter(|e| e.kind == "resource") {
            let text = |key: &str| event.get_str(key).unwrap_or("").to_string();
            resources.push((event.event_pk, event.time_ms, text("resource_method"), text("resource_url"), event.get("duration").and_then(|v| v.as_f64())));
        }
    }
    resources
}

/// The Resources tab: every request newest first, the slowest first by the Duration header,
/// by URL with a row that filters by its URL, and a row that opens the view it was loaded in.
#[test]
fn the_resources_tab_lists_sorts_groups_and_opens_resources() {
    let (_dir, db) = fixture_db();
    let resources = resources_from_details(&db);
    assert!(resources.len() > 100, "the generated sessions have resources");
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    main_tab(&harness, "Resources").click();
    wait_until(&mut harness, "resources", |a| a.resource_list.total.is_some() && !a.resource_list.loading());
    assert_eq!(harness.state().resource_list.total, Some(resources.len() as u64), "every session's resources");
    harness.run_steps(2);
    let listed = resources.len().min(rum_explorer::app::worker::RESOURCE_LIST_PAGE);
    let all = rum_explorer::app::format::grouped(resources.len() as u64);
    let count_line = if listed < resources.len() {
        format!("{all} resources in the selected sessions; the newest {listed} are listed")
    } else {
        format!("{all} resources in the selected sessions")
    };
    assert!(harness.query_by_label(&count_line).is_some(), "{count_line}");
    let times: Vec<i64> = harness.state().resource_list.rows.iter().map(|r| r.time_ms).collect();
    assert_eq!(times.len(), listed);
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // The Duration header: the slowest first.
    let mut slowest: Vec<f64> = resources.iter().filter_map(|r| r.4).collect();
    slowest.sort_by(|a, b| b.total_cmp(a));
    table_header(&harness, "Duration").click();
    wait_until(&mut harness, "slowest first", |a| a.resource_list.sort == rum_explorer::store::ResourceSort::Duration && !a.resource_list.loading());
    let durations: Vec<f64> = harness.state().resource_list.rows.iter().filter_map(|r| r.duration_ns).collect();
    assert_eq!(durations[..20], slowest[..20], "the 20 slowest, in order");

    // Each row names its session's browser, on the row, right of its URL.
    let slowest_row = harness.state().resource_list.rows.first().cloned().expect("a row");
    let url = slowest_row.resource_url.clone().expect("a URL");
    let browser = slowest_row.browser.clone().expect("the session's browser");
    let url_cell = harness.get_all_by_label(&url).map(|n| n.rect()).min_by(|a, b| a.top().total_cmp(&b.top())).expect("the row's URL");
    // Not the quick filters' Browser, on the left.
    let browser_header = harness
        .get_all_by_label("Browser")
        .map(|n| n.rect())
        .find(|r| r.left() > url_cell.right() && r.bottom() <= url_cell.top())
        .expect("the table's Browser header");
    let on_the_row = harness
        .get_all_by_label(&browser)
        .any(|n| (n.rect().center().y - url_cell.center().y).abs() < 4.0 && n.rect().center().x > url_cell.right() && (n.rect().left() - browser_header.left()).abs() < 8.0);
    assert!(on_the_row, "{browser} under the Browser header on the slowest request's row");

    // A row opens its session on the view it was loaded in, the resource marked.
    let in_list = harness.get_all_by_label(&url).min_by(|a, b| a.rect().left().total_cmp(&b.rect().left()));
    in_list.expect("the row's URL").click();
    wait_until(&mut harness, "the resource's view", |a| {
        a.detail.as_ref().is_some_and(|d| d.session.session_id == slowest_row.session_id)
            && a.detail_history.current() == rum_explorer::app::DetailPage::View(slowest_row.event_pk)
    });
    harness.run_steps(2);
    let detail = harness.state().detail.clone().expect("the detail");
    let index = detail.event_index(slowest_row.event_pk).expect("the resource in its session");
    let view = detail.view_of(index).map(|v| detail.events[v].clone()).expect("its view");
    let breakdown = detail.view_breakdown(detail.event_index(view.event_pk).expect("the view"));
    assert!(harness.query_by_label(&format!("Resources ({})", breakdown.resources.len())).is_some(), "the view's waterfall");
    assert!(harness.query_by_label("Performance").is_some(), "the view's page, not the resource's");
    harness.state_mut().commands.push(Command::CloseDetail);

    // By URL: every request in one row; a row with failures filters by its URL.
    harness.get_by_label("By URL").click();
    wait_until(&mut harness, "groups", |a| a.resource_list.groups_known());
    let groups = harness.state().resource_list.groups.clone();
    assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), resources.len() as u64);
    let group = groups.iter().find(|g| g.failed > 0 && g.urls == 1).cloned().expect("a URL with failures");
    harness.run_steps(2);
    // The URL's row for this method: the URL label level with its count of requests (a URL
    // has a row per method).
    let count = rum_explorer::app::format::grouped(group.count);
    let count_ys: Vec<f32> = harness.get_all_by_label(&count).map(|n| n.rect().center().y).collect();
    let row = harness.get_all_by_label(&group.resource_url).find(|n| count_ys.iter().any(|y| (y - n.rect().center().y).abs() < 2.0));
    row.expect("the group's row").click();
    wait_until(&mut harness, "the URL's requests", |a| !a.resource_list.by_url && a.applied_filter.is_some() && !a.resource_list.loading());
    let method = group.resource_method.clone().unwrap_or_default();
    let want = resources.iter().filter(|r| r.2 == method && rum_explorer::store::url_without_query(&r.3) == group.resource_url).count() as u64;
    assert_eq!(want, group.count);
    assert_eq!(harness.state().resource_list.total, Some(group.count), "the group's requests: {}", harness.state().query_text);
    assert!(harness.state().resource_list.rows.iter().all(|r| r.resource_method.as_deref() == Some(method.as_str())));
}

/// A narrowed Resources list (a find) shows its rows before its count, which reads the events
/// table on a big database and comes from a worker of its own; another order or page of the
/// same resources keeps that count instead of counting again.
#[test]
fn the_resources_tab_counts_a_narrowed_list_apart_and_keeps_its_count_across_orders() {
    let (_dir, db) = fixture_db();
    let resources = resources_from_details(&db);
    // The URL segment held by the most resources, but not by all of them.
    let mut segments: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for resource in &resources {
        let url = resource.3.to_lowercase();
        let mut seen: Vec<&str> = url.split('/').filter(|s| s.len() > 2 && !s.contains(':')).collect();
        seen.sort_unstable();
        seen.dedup();
        for segment in seen {
            *segments.entry(segment.to_string()).or_default() += 1;
        }
    }
    let (find, _) = segments.iter().filter(|(_, n)| **n > 10 && **n < resources.len()).max_by_key(|(_, n)| **n).expect("a common URL segment");
    let want = resources.iter().filter(|r| r.3.to_lowercase().contains(find.as_str())).count() as u64;
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    harness.state_mut().resource_list.page_rows = 5;
    harness.state_mut().resource_list.limit = 5;
    main_tab(&harness, "Resources").click();
    wait_until(&mut harness, "resources", |a| a.resource_list.total.is_some() && !a.resource_list.loading());
    let finder = harness.get_all_by_role(egui::accesskit::Role::TextInput).last().expect("find field");
    finder.focus();
    finder.type_text(find);
    wait_until(&mut harness, "the found resources counted", |a| a.resource_list.find == *find && !a.resource_list.loading() && a.resource_list.total.is_some());
    assert_eq!(harness.state().resource_list.total, Some(want), "every resource whose URL holds {find}");
    let count_line = format!("{} resources in the selected sessions; the newest 5 are listed", rum_explorer::app::format::grouped(want));
    assert!(harness.query_by_label(&count_line).is_some(), "{count_line}");
    assert!(harness.query_by_label("Show more resources").is_some());

    // The slowest first, then 5 more: the same resources, so their count stays on every frame.
    table_header(&harness, "Duration").click();
    let started = Instant::now();
    loop {
        harness.step();
        let list = &harness.state().resource_list;
        assert_eq!(list.total, Some(want), "the count kept while the slowest are read");
        if list.sort == rum_explorer::store::ResourceSort::Duration && !list.loading() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for the slowest");
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.get_by_label("Show more resources").click();
    for _ in 0..200 {
        harness.step();
        let list = &harness.state().resource_list;
        assert_eq!(list.total, Some(want), "the count kept while 5 more are read");
        if list.rows.len() == 10 && !list.loading() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let rows = &harness.state().resource_list.rows;
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| r.resource_url.as_deref().is_some_and(|u| u.to_lowercase().contains(find.as_str()))), "only URLs holding {find}");

    // A session filter's count comes apart too (a pass over its sessions), then shows.
    let store = rum_explorer::store::Store::open(&harness.state().db_path).expect("open");
    let chrome = rum_explorer::store::SessionQuery { filter: rum_explorer::query::parse("browser:Chrome").expect("filter"), ..Default::default() };
    let chrome_total = store.resource_total(&chrome, find).expect("count");
    assert!(chrome_total > 10 && chrome_total < want, "Chrome's resources are some of them: {chrome_total} of {want}");
    harness.state_mut().commands.push(Command::SetQuery("browser:Chrome".into()));
    wait_until(&mut harness, "Chrome's resources counted", |a| a.applied_filter.is_some() && !a.resource_list.loading() && a.resource_list.total.is_some());
    assert_eq!(harness.state().resource_list.total, Some(chrome_total));
    assert!(harness.state().resource_list.rows.iter().all(|r| r.browser.as_deref() == Some("Chrome")));
}

/// A request in a view's waterfall lists every request to its URL (with its method, any
/// query string) in the Resources tab, from the URL's menu.
#[test]
fn a_waterfall_request_lists_every_request_to_its_url() {
    let (_dir, db) = fixture_db();
    let (session, path, urls) = session_with_resources(&db);
    let resources = resources_from_details(&db);
    let mut harness = harness_on(db);
    wait_until(&mut harness, "first page", loaded);
    open_session(&mut harness, &session);
    harness.get_all_by_label(&path).next().expect("the view in the timeline").click();
    harness.run_steps(3);
    let url = urls[0].clone();
    let method = resources.iter().find(|r| r.3 == url).map(|r| r.2.clone()).expect("the request's method");
    let base = rum_explorer::store::url_without_query(&url).to_string();
    let want = resources.iter().filter(|r| r.2 == method && r.3.starts_with(&base)).count() as u64;
    assert!(want >= 1);
    let view_url = harness.state().detail.as_ref().and_then(|d| {
        d.events.iter().find(|e| e.kind == "view" && e.get_str("view_path") == Some(path.as_str())).and_then(|e| e.get_str("view_url").map(str::to_string))
    });
    let shown = rum_explorer::app::format::short_resource_url(&url, view_url.as_deref());
    let url_column_left = harness.get_by_label("URL").rect().left();
    let cell = harness.get_all_by_label(shown).find(|n| (n.rect().left() - url_column_left).abs() < 16.0).expect("the request in the waterfall");
    cell.click();
    harness.run_steps(2);
    harness.get_by_label("List requests to this URL").click();
    wait_until(&mut harness, "the URL's requests", |a| {
        a.main_tab == rum_explorer::app::MainTab::Resources && a.applied_filter.is_some() && !a.resource_list.loading() && a.resource_list.total.is_some()
    });
    let state = harness.state();
    assert!(state.query_text.contains("resource_url:") && state.query_text.contains("resource_method:"), "{}", state.query_text);
    assert_eq!(state.resource_list.total, Some(want), "every {method} request to {base}: {}", state.query_text);
    assert!(state.resource_list.rows.iter().all(|r| r.resource_method.as_deref() == Some(method.as_str()) && r.resource_url.as_deref().is_some_and(|u| u.starts_with(&base))));
    assert!(state.resource_list.rows.iter().any(|r| r.session_id == session), "this session's request among them");
    let count_line = format!("{} in the selected sessions", rum_explorer::app::format::count_of(want, "resource", "resources"));
    assert!(harness.query_by_label(&count_line).is_some(), "{count_line}");
}

/// The column chooser names a session column by its header ("Slowest resource") and finds it
/// by that name; the added column shows each session's slowest resource and sorts by it.
#[test]
fn the_slowest_resource_column_is_added_by_its_name_and_sorts() {
    let (_dir, db) = fixture_db();
    let slowest_of_all: i64 = {
        let store = rum_explorer::store::Store::open(&db).expect("open");
        store.conn.query_row("SELECT max(duration_ns) FROM events WHERE kind = 'resource'", [], |r| r.get(0)).expect("max")
    };
    // Wide enough for the default columns and the new one.
    let mut harness = Harness::builder()
        .with_size(egui::vec2(2200.0, 900.0))
        .build_eframe(move |cc| ExplorerApp::with_settings(cc.egui_ctx.clone(), db, Settings::default(), false));
    wait_until(&mut harness, "first page", loaded);
    harness.get_by_label("Columns…").click();
    wait_until(&mut harness, "the chooser", |a| a.show_column_chooser);
    let add_a_column = harness.get_by_label("Add a column").rect();
    let search = harness
        .get_all_by_role(egui::accesskit::Role::TextInput)
        .find(|n| n.rect().top() >= add_a_column.bottom() && (n.rect().left() - add_a_column.left()).abs() < 20.0)
        .expect("the chooser's search field");
    search.focus();
    search.type_text("slowest RES");
    harness.run_steps(2);
    let offered: Vec<String> = harness.query_all_by_label_contains("+ ").filter_map(|n| n.accesskit_node().label()).collect();
    assert_eq!(offered, ["+ Slowest resource (slowest_resource_ns)"], "found by its name, whatever the case");
    harness.get_by_label("+ Slowest resource (slowest_resource_ns)").click();
    wait_until(&mut harness, "the column", |a| a.settings.columns.last().map(String::as_str) == Some("slowest_resource_ns"));
    assert_eq!(harness.state().status.as_ref().map(|s| s.0.as_str()), Some("Added column Slowest resource"));
    // Closed, as its × does: its list names the column too.
    harness.state_mut().commands.push(rum_explorer::app::Command::ShowColumnChooser(false));
    wait_until(&mut harness, "the chooser closed", |a| !a.show_column_chooser);
    // The header, not the status line's "Added column Slowest resource".
    fn header<'h>(harness: &'h Harness<'static, ExplorerApp>) -> egui_kittest::Node<'h> {
        harness
            .get_all_by_role(egui::accesskit::Role::Button)
            .find(|n| n.accesskit_node().label().is_some_and(|l| l.starts_with("Slowest resource")))
            .expect("the Slowest resource header")
    }
    header(&harness).click();
    wait_until(&mut harness, "sorted", |a| a.settings.sort_column == "slowest_resource_ns" && loaded(a));
    if !harness.state().settings.sort_descending {
        header(&harness).click();
        wait_until(&mut harness, "slowest first", |a| a.settings.sort_descending && loaded(a));
    }
    let first = harness.state().table.row(0).cloned().expect("a row");
    assert_eq!(first.slowest_resource_ns, Some(slowest_of_all), "the session with the slowest resource first");
    let shown = rum_explorer::app::format::cell_text(&first, "slowest_resource_ns", true);
    assert!(shown.ends_with(" s") || shown.ends_with(" ms"), "a duration: {shown}");
    assert!(harness.query_by_label(&shown).is_some(), "{shown} in the table");
}
