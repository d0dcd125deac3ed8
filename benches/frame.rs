//! CPU time of one frame of the explorer: the sessions table on a generated database with the
//! detail panel open, and the Overview tab, driven headless by egui_kittest (no GPU: layout,
//! tessellation-free egui work and our own drawing code).
//!
//! `RUM_BENCH_SESSIONS=1000000 cargo bench --bench frame` uses the same database as the
//! queries bench.

use criterion::{criterion_group, criterion_main, Criterion};
use egui_kittest::Harness;
use rum_explorer::app::settings::Settings;
use rum_explorer::app::{Command, ExplorerApp, MainTab};
use std::time::{Duration, Instant};

#[path = "queries.rs"]
#[allow(dead_code)]
mod queries;

fn settle(harness: &mut Harness<'static, ExplorerApp>, done: impl Fn(&ExplorerApp) -> bool) {
    let started = Instant::now();
    while !done(harness.state()) {
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
        assert!(started.elapsed() < Duration::from_secs(600), "the app did not settle");
    }
}

fn frame(c: &mut Criterion) {
    let n = std::env::var("RUM_BENCH_SESSIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let db = queries::bench_db(n);
    // Start-up: from creating the app on the database to its first frame drawn (window and GL
    // set-up excluded: they do not depend on the data).
    let started = Instant::now();
    let first_db = db.clone();
    let mut first = Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .build_eframe(move |cc| ExplorerApp::with_settings(cc.egui_ctx.clone(), first_db.clone(), Settings::default(), false));
    first.step();
    let first_frame = started.elapsed();
    settle(&mut first, |a| a.query_settled() && a.table.row(0).is_some());
    eprintln!("start-up on {n} sessions: first frame after {first_frame:?}, first rows after {:?}", started.elapsed());
    drop(first);
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .build_eframe(move |cc| ExplorerApp::with_settings(cc.egui_ctx.clone(), db.clone(), Settings::default(), false));
    settle(&mut harness, |a| a.query_settled() && a.table.row(0).is_some() && !a.facets.is_empty());
    harness.state_mut().commands.push(Command::SelectRow(0));
    harness.state_mut().commands.push(Command::OpenDetail);
    settle(&mut harness, |a| a.detail.is_some());
    let mut group = c.benchmark_group(format!("frame-{n}"));
    group.bench_function("table_and_detail", |b| b.iter(|| harness.step()));
    harness.state_mut().commands.push(Command::ShowTab(MainTab::Overview));
    settle(&mut harness, |a| a.overview.is_some() && !a.overview_loading());
    group.bench_function("overview", |b| b.iter(|| harness.step()));
    // The Views, Errors and Resources tabs with their first 500 rows and the detail open.
    harness.state_mut().commands.push(Command::ShowTab(MainTab::Views));
    settle(&mut harness, |a| a.view_list.total.is_some() && !a.view_list.loading());
    group.bench_function("views_tab", |b| b.iter(|| harness.step()));
    harness.state_mut().commands.push(Command::ShowTab(MainTab::Errors));
    settle(&mut harness, |a| a.error_list.total.is_some() && !a.error_list.loading());
    group.bench_function("errors_tab", |b| b.iter(|| harness.step()));
    harness.state_mut().commands.push(Command::ShowTab(MainTab::Resources));
    settle(&mut harness, |a| a.resource_list.total.is_some() && !a.resource_list.loading());
    group.bench_function("resources_tab", |b| b.iter(|| harness.step()));
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
