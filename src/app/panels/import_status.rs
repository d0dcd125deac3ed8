//! The status line (import progress, messages) and the import report window.

use crate::app::{format, Command, ExplorerApp, StatusLevel};
use std::sync::atomic::Ordering;

pub fn status_bar_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        if let Some(job) = &app.import {
            let read = job.progress.bytes_read.load(Ordering::Relaxed);
            let total = job.progress.bytes_total.load(Ordering::Relaxed).max(1);
            let events = job.progress.events.load(Ordering::Relaxed);
            let files_done = job.progress.files_done.load(Ordering::Relaxed);
            let files_total = job.progress.files_total.load(Ordering::Relaxed);
            let file_number = (files_done + 1).min(files_total.max(1));
            match job.progress.stage_text() {
                None => {
                    let fraction = (read as f32 / total as f32).clamp(0.0, 1.0);
                    ui.add(egui::ProgressBar::new(fraction).desired_width(220.0).show_percentage());
                    ui.label(format!(
                        "Importing: {} of {}, {} events, file {file_number}/{files_total}",
                        crate::ingest::human_bytes(read),
                        crate::ingest::human_bytes(total),
                        format::grouped(events),
                    ));
                }
                // Past the last byte the bar follows the indexes, the slow part of a large
                // file's end, or goes on as a spinner.
                Some(stage) => {
                    let built = job.progress.indexes_built.load(Ordering::Relaxed);
                    let indexes = job.progress.indexes_total.load(Ordering::Relaxed);
                    if job.progress.stage() == crate::ingest::ImportStage::BuildingIndexes && indexes > 0 {
                        let fraction = built as f32 / indexes as f32;
                        ui.add(egui::ProgressBar::new(fraction).desired_width(220.0).show_percentage());
                    } else {
                        ui.spinner();
                    }
                    ui.label(format!("Importing: {} events read, {stage}, file {file_number}/{files_total}", format::grouped(events)));
                }
            }
            // Once the commit runs the file is landing: a cancel could no longer roll it back.
            let cancellable = job.progress.stage() != crate::ingest::ImportStage::Committing;
            let cancel = ui
                .add_enabled(cancellable, egui::Button::new("Cancel"))
                .on_disabled_hover_text("The file is being saved and can no longer be cancelled");
            if cancel.clicked() {
                app.commands.push(Command::CancelImport);
            }
        } else if let Some((text, level)) = &app.status {
            let color = match level {
                StatusLevel::Error => ui.visuals().error_fg_color,
                StatusLevel::Info => ui.visuals().text_color(),
            };
            ui.label(egui::RichText::new(text).color(color));
        } else {
            ui.label(egui::RichText::new("Drop RUM files on the window to import them").weak());
        }
        if app.learning_facts.load(Ordering::Relaxed) {
            ui.separator();
            ui.spinner();
            ui.label("Preparing this database for fast filters").on_hover_text(
                "A database from an earlier version learns its fields, event values and their filters once, reading every event \
                 (about a minute and a half at a million sessions). Until then, filters on event fields read every event.",
            );
            // The thread says when it is done; the spinner keeps the frames coming meanwhile.
        }
        if !app.import_reports.is_empty() && app.import.is_none() && ui.small_button("Import report").clicked() {
            app.commands.push(Command::ShowImportReport(true));
        }
    });
}

pub fn import_report_window(app: &mut ExplorerApp, ctx: &egui::Context) {
    if !app.show_import_report {
        return;
    }
    let mut open = true;
    egui::Window::new("Import report").open(&mut open).default_width(640.0).vscroll(true).show(ctx, |ui| {
        if app.import_reports.is_empty() {
            ui.label("No import yet.");
        }
        for report in &app.import_reports {
            let name = std::path::Path::new(&report.path).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let title = match &report.error {
                Some(_) => format!("✖ {name}: rejected"),
                None => format!(
                    "{name}: {} events, {} skipped",
                    format::grouped(report.summary.inserted_total()),
                    format::grouped(report.records_skipped)
                ),
            };
            egui::CollapsingHeader::new(title).id_salt(&report.path).default_open(report.error.is_some() || report.records_skipped > 0).show(ui, |ui| {
                ui.label(egui::RichText::new(&report.path).weak());
                if let Some(format) = report.format {
                    ui.label(format!("Format: {}{}", format.name(), if report.gzip { " (gzip)" } else { "" }));
                }
                if let Some(error) = &report.error {
                    ui.label(egui::RichText::new(error).color(ui.visuals().error_fg_color));
                }
                for (kind, n) in &report.summary.inserted_by_kind {
                    ui.label(format!("{kind}: {}", format::grouped(*n)));
                }
                ui.label(format!(
                    "{} touched, {} already present, {} merged",
                    format::count_of(report.summary.sessions_touched, "session", "sessions"),
                    format::grouped(report.summary.duplicates),
                    format::count_of(report.summary.views_merged, "view", "views")
                ));
                for problem in &report.problems {
                    ui.label(egui::RichText::new(format!("line {}: {}", problem.line, problem.reason)).monospace().small());
                }
                if report.records_skipped > report.problems.len() as u64 {
                    ui.label(format!("… and {} more skipped records", report.records_skipped - report.problems.len() as u64));
                }
                for (line, warning) in report.summary.warnings.iter().take(50) {
                    ui.label(egui::RichText::new(format!("line {line}: note: {warning}")).small().weak());
                }
            });
        }
    });
    if !open {
        app.commands.push(Command::ShowImportReport(false));
    }
}
