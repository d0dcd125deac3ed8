//! The sessions table: only visible rows are laid out, pages come from SQLite as the user
//! scrolls, sorting is SQLite's. Plus the column chooser.

use crate::app::{format, Command, ExplorerApp};
use egui_extras::{Column, TableBuilder};

const ROW_HEIGHT: f32 = 22.0;

/// How long a new query may take before the table says it is waiting for it.
const SHOW_WAIT_AFTER: std::time::Duration = std::time::Duration::from_millis(200);

fn is_numeric(column: &str) -> bool {
    column.ends_with("_count")
}

pub fn sessions_table_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    let total = app.table.rows_known();
    ui.horizontal(|ui| {
        let all = format::grouped(app.total_sessions_in_db().unwrap_or(0));
        let shown = match app.table.total {
            Some(_) => format!("{} of {all} sessions", format::grouped(total)),
            None => format!("{}+ of {all} sessions", format::grouped(total)),
        };
        ui.label(egui::RichText::new(shown).strong());
        if let Some(asked_at) = app.waiting_for_rows_since() {
            // Said only once the wait shows (most answers take milliseconds): the rows on
            // screen are the previous query's until the new first page arrives.
            let elapsed = asked_at.elapsed();
            if elapsed >= SHOW_WAIT_AFTER {
                ui.spinner();
                let column = &app.settings.sort_column;
                let doing = if crate::query::sorts_without_index(column) {
                    format!("sorting by {column} (not indexed: every session's value is read)…")
                } else {
                    "updating…".to_string()
                };
                ui.label(egui::RichText::new(doing).weak());
            } else {
                ui.ctx().request_repaint_after(SHOW_WAIT_AFTER - elapsed);
            }
        } else if app.table.total.is_none() {
            ui.spinner();
            ui.label(egui::RichText::new("counting…").weak());
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("Columns…").clicked() {
                app.commands.push(Command::ShowColumnChooser(true));
            }
            if app.selected_session.is_some() && !app.detail_open && ui.button("Open detail (Enter)").clicked() {
                app.commands.push(Command::OpenDetail);
            }
        });
    });
    if total == 0 {
        empty_state_ui(app, ui);
        return;
    }
    keyboard_navigation(app, ui, total as usize);
    let columns = app.settings.columns.clone();
    let utc = app.settings.show_utc;
    let mut wanted_pages = Vec::new();
    let mut clicked_row = None;
    let mut cell_commands = Vec::new();
    // Columns the user adds go on past the window's width: the table scrolls sideways too.
    egui::ScrollArea::horizontal().id_salt("sessions_sideways").show(ui, |ui| {
        let mut builder = TableBuilder::new(ui)
            .id_salt("sessions")
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .max_scroll_height(f32::INFINITY);
        for column in &columns {
            let width = match column.as_str() {
                "start_ms" | "end_ms" => 150.0,
                "first_view_path" | "last_view_path" | "session_id" => 170.0,
                "slowest_resource_ns" | "largest_resource_bytes" => 90.0,
                c if is_numeric(c) => 64.0,
                _ => 100.0,
            };
            builder = builder.column(Column::initial(width).at_least(40.0).clip(true));
        }
        if app.scroll_to_selected {
            if let Some(row) = app.selected_row {
                builder = builder.scroll_to_row(row, None);
            }
            app.scroll_to_selected = false;
        }
        builder
            .header(24.0, |mut header| {
                for column in &columns {
                    header.col(|ui| {
                        let arrow = if app.settings.sort_column == *column {
                            if app.settings.sort_descending { " ⏷" } else { " ⏶" }
                        } else {
                            ""
                        };
                        let response = ui
                            .add(egui::Button::new(egui::RichText::new(format!("{}{arrow}", format::column_title(column))).strong()).frame(false))
                            .on_hover_text(format!("Sort by {column}"));
                        if response.clicked() {
                            app.commands.push(Command::SortBy(column.clone()));
                        }
                        response.context_menu(|ui| {
                            if ui.button("Remove column").clicked() {
                                app.commands.push(Command::RemoveColumn(column.clone()));
                            }
                        });
                    });
                }
            })
            .body(|body| {
                body.rows(ROW_HEIGHT, total as usize, |mut row| {
                    let index = row.index();
                    let selected = app.selected_row == Some(index);
                    row.set_selected(selected);
                    let data = app.table.row(index);
                    if data.is_none() {
                        wanted_pages.push(index / super::super::worker::PAGE_ROWS);
                    }
                    // Cell texts are not selectable: a selectable label takes the click for text
                    // selection, and a click on the text would not open the row. A right-click
                    // offers the field actions instead.
                    for column in &columns {
                        let (_, cell) = row.col(|ui| {
                            let text = match data {
                                Some(session) => {
                                    let text = format::cell_text(session, column, utc);
                                    if column == "error_count" && session.error_count > 0 {
                                        // Red on the selection's blue is hard to read: a selected row's
                                        // errors take the selection's text colour.
                                        let visuals = ui.visuals();
                                        let color = if selected { visuals.selection.stroke.color } else { visuals.error_fg_color };
                                        egui::RichText::new(text).color(color).strong()
                                    } else {
                                        egui::RichText::new(text)
                                    }
                                }
                                None => egui::RichText::new("…").weak(),
                            };
                            ui.add(egui::Label::new(text).selectable(false));
                        });
                        if let Some(session) = data {
                            cell.context_menu(|ui| cell_actions_ui(&mut cell_commands, ui, column, session));
                        }
                    }
                    let response = row.response();
                    if response.clicked() {
                        clicked_row = Some(index);
                    }
                });
            });
    });
    wanted_pages.sort_unstable();
    wanted_pages.dedup();
    for page in wanted_pages {
        app.want_page(page);
    }
    app.commands.append(&mut cell_commands);
    if let Some(index) = clicked_row {
        app.commands.push(Command::SelectRow(index));
        app.commands.push(Command::OpenDetail);
    }
}

/// A cell's right-click menu: the field actions on its stored value (the time columns show it
/// formatted), and the session id to copy.
fn cell_actions_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, column: &str, session: &crate::store::SessionRow) {
    if let Some(value) = session.value_text(column) {
        // What the actions take, as the query bar will show it: a time column's cell shows
        // the time formatted, the filter its stored milliseconds.
        ui.add(egui::Label::new(egui::RichText::new(format!("{column}: {value}")).weak()).truncate());
        ui.separator();
        // The column is shown already: no "Add to display column".
        super::detail::field_action_buttons_ui(commands, ui, column, &value, false);
    }
    if ui.button("Copy session ID").clicked() {
        commands.push(Command::Copy(session.session_id.clone()));
    }
}

fn keyboard_navigation(app: &mut ExplorerApp, ui: &egui::Ui, total: usize) {
    // Arrow keys belong to the query bar while it has focus.
    if ui.ctx().memory(|m| m.focused().is_some()) {
        return;
    }
    let (down, up, enter) =
        ui.input(|i| (i.key_pressed(egui::Key::ArrowDown), i.key_pressed(egui::Key::ArrowUp), i.key_pressed(egui::Key::Enter)));
    if down || up {
        let next = match (app.selected_row, down) {
            (None, _) => 0,
            (Some(r), true) => (r + 1).min(total.saturating_sub(1)),
            (Some(r), false) => r.saturating_sub(1),
        };
        app.commands.push(Command::SelectRow(next));
    }
    if enter {
        app.commands.push(Command::OpenDetail);
    }
}

fn empty_state_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    ui.add_space(60.0);
    ui.vertical_centered(|ui| {
        if app.waiting_for_rows_since().is_some() && app.table.pages.is_empty() {
            // Nothing to keep on screen yet (the first query after start): not "no match".
            ui.spinner();
            ui.heading("Loading sessions…");
        } else if app.import.is_some() {
            ui.heading("Importing…");
            ui.label("Sessions appear here as each file finishes.");
        } else if app.total_sessions_in_db().unwrap_or(0) == 0 {
            ui.heading("No sessions yet");
            ui.label("Drop RUM files here or use File > Import.");
            ui.label(egui::RichText::new("Guance line protocol, JSON and CSV; Datadog RUM JSON/NDJSON; gzip of any.").weak());
            if ui.button("Import files…").clicked() {
                app.commands.push(Command::OpenFileDialog);
            }
        } else {
            ui.heading("No session matches");
            ui.label("Change the query or widen the time range.");
            if ui.button("Clear the query").clicked() {
                app.commands.push(Command::SetQuery(String::new()));
            }
        }
    });
}

pub fn column_chooser_window(app: &mut ExplorerApp, ctx: &egui::Context) {
    if !app.show_column_chooser {
        return;
    }
    let mut open = true;
    egui::Window::new("Columns").open(&mut open).default_width(320.0).show(ctx, |ui| {
        ui.label(egui::RichText::new("Shown, in order").strong());
        let columns = app.settings.columns.clone();
        for (i, column) in columns.iter().enumerate() {
            ui.horizontal(|ui| {
                if ui.add_enabled(i > 0, egui::Button::new("⏶").small()).on_hover_text("Move left").clicked() {
                    app.commands.push(Command::MoveColumn { from: i, to: i - 1 });
                }
                if ui.add_enabled(i + 1 < columns.len(), egui::Button::new("⏷").small()).on_hover_text("Move right").clicked() {
                    app.commands.push(Command::MoveColumn { from: i, to: i + 1 });
                }
                if ui.small_button("✖").on_hover_text("Remove").clicked() {
                    app.commands.push(Command::RemoveColumn(column.clone()));
                }
                ui.label(format::column_title(column));
            });
        }
        ui.separator();
        ui.label(egui::RichText::new("Add a column").strong());
        let filter_id = ui.scope_id().with("column_filter");
        let mut filter: String = ui.memory(|m| m.data.get_temp(filter_id)).unwrap_or_default();
        if ui.add(egui::TextEdit::singleline(&mut filter).hint_text("search fields")).changed() {
            ui.memory_mut(|m| m.data.insert_temp(filter_id, filter.clone()));
        }
        egui::ScrollArea::vertical().max_height(280.0).show(ui, |ui| {
            let filter = filter.to_lowercase();
            for key in &app.known_keys {
                // A session column by its header's name too ("Slowest resource"), and its key.
                let title = format::column_title(key);
                let label = if title == *key { format!("+ {key}") } else { format!("+ {title} ({key})") };
                if columns.contains(key) || !label.to_lowercase().contains(&filter) {
                    continue;
                }
                if ui.button(label).clicked() {
                    app.commands.push(Command::AddColumn(key.clone()));
                }
            }
        });
    });
    if !open {
        app.commands.push(Command::ShowColumnChooser(false));
    }
}
