//! The *Export sessions* window: the file to write (typed, or picked with the system's dialog
//! where there is one), what will be written, and the export's progress with Cancel.

use crate::app::{format, Command, ExplorerApp};

pub fn export_window_ui(app: &mut ExplorerApp, ctx: &egui::Context) {
    let Some(window) = &app.export else { return };
    let mut open = true;
    let mut path_text = window.path_text.clone();
    let running = window.job.as_ref().map(|job| job.rows());
    let dialog_open = window.dialog.is_some();
    let total = app.table.total;
    let extra_columns = app.session_query().extra_columns;
    let mut commands = Vec::new();
    egui::Window::new("Export sessions")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .default_width(520.0)
        .pivot(egui::Align2::CENTER_CENTER)
        .default_pos(ctx.content_rect().center())
        .show(ctx, |ui| {
        let sessions = total.map(|n| format!("{} sessions", format::grouped(n))).unwrap_or_else(|| "The sessions".into());
        ui.label(format!("{sessions} the query and time range select, in the table's order, as CSV."));
        let columns = if extra_columns.is_empty() {
            "Columns: the session list's (times in ms since the epoch, durations in ms).".to_string()
        } else {
            format!("Columns: the session list's, then {}.", extra_columns.join(", "))
        };
        ui.label(egui::RichText::new(columns).weak());
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.label("File");
            let edit = ui.add_enabled(running.is_none(), egui::TextEdit::singleline(&mut path_text).desired_width(360.0));
            if edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) && running.is_none() {
                commands.push(Command::StartExport);
            }
            if ui.add_enabled(running.is_none() && !dialog_open, egui::Button::new("Browse…")).clicked() {
                commands.push(Command::BrowseExportPath);
            }
        });
        ui.add_space(6.0);
        match running {
            None => {
                if ui.button("Export").clicked() {
                    commands.push(Command::StartExport);
                }
            }
            Some((written, total)) => {
                ui.horizontal(|ui| {
                    let fraction = if total > 0 { written as f32 / total as f32 } else { 0.0 };
                    let text = if total > 0 {
                        format!("{} of {} sessions", format::grouped(written), format::grouped(total))
                    } else {
                        "Counting the sessions…".to_string()
                    };
                    ui.add(egui::ProgressBar::new(fraction).desired_width(300.0).text(text));
                    if ui.button("Cancel").clicked() {
                        commands.push(Command::CancelExport);
                    }
                });
            }
        }
    });
    if path_text != window.path_text {
        commands.push(Command::SetExportPath(path_text));
    }
    if !open {
        commands.push(Command::ShowExportWindow(false));
    }
    app.commands.extend(commands);
}
