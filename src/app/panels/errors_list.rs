//! The Errors tab: the newest errors of the sessions the query and time range select, with a
//! find field on their type and message. A row opens its session on the error's page.

use super::kind_color;
use crate::app::{format, Command, ExplorerApp};
use egui_extras::{Column, TableBuilder};

pub fn errors_list_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        let by_error = app.error_list.by_error;
        if ui.selectable_label(!by_error, "By occurrence").on_hover_text("Every error, newest first").clicked() && by_error {
            app.commands.push(Command::SetErrorsByError(false));
        }
        if ui.selectable_label(by_error, "By error").on_hover_text("One row per type and message: how often, in how many sessions, first and last seen").clicked() && !by_error {
            app.commands.push(Command::SetErrorsByError(true));
        }
        if by_error {
            ui.separator();
            let mut as_patterns = app.error_list.as_patterns;
            let hint = "Messages that differ only in numbers and ids (status code 500, 404) as one: status code *";
            if ui.checkbox(&mut as_patterns, "Group numbers and ids").on_hover_text(hint).changed() {
                app.commands.push(Command::SetErrorPatterns(as_patterns));
            }
        }
    });
    if app.error_list.by_error {
        error_groups_ui(app, ui);
        return;
    }
    let list = &app.error_list;
    let shown = list.rows.len() as u64;
    let count_text = |total: u64| {
        if total > shown {
            format!("{} errors in the selected sessions; the newest {} are listed", format::grouped(total), format::grouped(shown))
        } else {
            format!("{} in the selected sessions", format::count_of(total, "error", "errors"))
        }
    };
    let header = super::ListHeader {
        find: &list.find,
        find_hint: "Find in the errors' type and message",
        count_text: list.total.map(count_text),
        reading_text: "Reading the errors…",
        loading: list.loading(),
        more: list.total.filter(|total| *total > shown).map(|_| ("Show older errors", format!("List {} more, older ones", format::grouped(list.page_rows as u64)))),
    };
    let input = super::list_header_ui(ui, header);
    if let Some(find) = input.find {
        app.commands.push(Command::SetErrorFind(find));
    }
    if input.more {
        app.commands.push(Command::ShowOlderErrors);
    }
    let list = &app.error_list;
    if list.total == Some(0) {
        ui.add_space(20.0);
        ui.label(egui::RichText::new("No error in the selected sessions holds that.").weak());
        return;
    }
    let utc = app.settings.show_utc;
    // The error open in the detail panel is the highlighted row.
    let open_error = match app.detail_history.current() {
        crate::app::DetailPage::Error(event_pk) if app.detail_open => Some(event_pk),
        _ => None,
    };
    let rows = &app.error_list.rows;
    let commands = &mut app.commands;
    let open_index = rows.iter().position(|r| Some(r.event_pk) == open_error);
    let step = super::list_step(ui, open_index, rows.len());
    if let Some(error) = step.and_then(|i| rows.get(i)) {
        commands.push(Command::OpenError { session_id: error.session_id.clone(), event_pk: error.event_pk });
    }
    let mut table = TableBuilder::new(ui);
    if let Some(index) = step {
        table = table.scroll_to_row(index, None);
    }
    table
        .id_salt("errors_list")
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::initial(150.0).at_least(90.0))
        .column(Column::initial(120.0).at_least(60.0).clip(true))
        .column(Column::initial(420.0).at_least(120.0).clip(true))
        .column(Column::initial(150.0).at_least(60.0).clip(true))
        .column(Column::initial(110.0).at_least(60.0).clip(true))
        .column(Column::remainder().at_least(80.0).clip(true))
        .header(22.0, |mut header| {
            for title in ["Time", "Type", "Message", "Page", "Browser", "Session"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(22.0, rows.len(), |mut row| {
                let error = &rows[row.index()];
                row.set_selected(open_error == Some(error.event_pk));
                let open = Command::OpenError { session_id: error.session_id.clone(), event_pk: error.event_pk };
                let message = error.error_message.as_deref().unwrap_or("").lines().next().unwrap_or("");
                let text_of = |v: &Option<String>| v.clone().unwrap_or_default();
                // Each cell's text, and the field its right-click menu acts on.
                let cells = [
                    (format::time_text(error.time_ms, utc), None),
                    (text_of(&error.error_type), Some(("error_type", text_of(&error.error_type)))),
                    (message.to_string(), Some(("error_message", text_of(&error.error_message)))),
                    (text_of(&error.view_path), Some(("view_path", text_of(&error.view_path)))),
                    (text_of(&error.browser), Some(("browser", text_of(&error.browser)))),
                    (error.session_id.clone(), Some(("session_id", error.session_id.clone()))),
                ];
                let mut clicked = false;
                for (column, (text, field)) in cells.into_iter().enumerate() {
                    let (_, response) = row.col(|ui| {
                        let text = egui::RichText::new(text);
                        let text = if column == 2 { text.color(kind_color("error")) } else { text };
                        // A click on the text opens the error too (a label takes its own clicks);
                        // a right-click offers the field's actions.
                        let label = ui.add(egui::Label::new(text).truncate().sense(egui::Sense::click()));
                        let label = label.on_hover_text("Open this error in its session; right-click for the field's actions");
                        clicked |= label.clicked();
                        if let Some((key, value)) = &field {
                            label.context_menu(|ui| super::list_cell_actions_ui(commands, ui, key, value, &error.session_id));
                        }
                    });
                    clicked |= response.clicked();
                }
                if clicked {
                    commands.push(open);
                }
            });
        });

}

/// The Errors tab by error: one row per type and message (or pattern) with how often, in how
/// many sessions, first and last seen; a header sorts, a row filters by the error and lists
/// its occurrences.
fn error_groups_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    use crate::store::ErrorGroupSort;
    let list = &app.error_list;
    let count_text = list.groups_known().then(|| {
        let errors: u64 = list.groups.iter().map(|g| g.count).sum();
        let what = if list.as_patterns { "errors and patterns" } else { "errors" };
        format!("{} {what}, {} occurrences in the selected sessions", format::grouped(list.groups.len() as u64), format::grouped(errors))
    });
    let header = super::ListHeader {
        find: &list.find,
        find_hint: "Find in the errors' type and message",
        count_text,
        reading_text: "Reading the errors…",
        loading: list.loading(),
        more: None,
    };
    let input = super::list_header_ui(ui, header);
    if let Some(find) = input.find {
        app.commands.push(Command::SetErrorFind(find));
    }
    let utc = app.settings.show_utc;
    let (sort, descending) = (app.error_list.group_sort, app.error_list.group_descending);
    let groups = &app.error_list.groups;
    let commands = &mut app.commands;
    TableBuilder::new(ui)
        .id_salt("error_groups")
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::initial(130.0).at_least(60.0).clip(true))
        .column(Column::initial(420.0).at_least(120.0).clip(true))
        .column(Column::initial(90.0).at_least(60.0))
        .column(Column::initial(90.0).at_least(60.0))
        .column(Column::initial(150.0).at_least(90.0))
        .column(Column::initial(150.0).at_least(90.0))
        .column(Column::remainder().at_least(60.0))
        .header(22.0, |mut header| {
            header.col(|ui| {
                ui.strong("Type");
            });
            header.col(|ui| {
                ui.strong("Message");
            });
            for (column_sort, title) in [
                (ErrorGroupSort::Count, "Count"),
                (ErrorGroupSort::Sessions, "Sessions"),
                (ErrorGroupSort::FirstSeen, "First seen"),
                (ErrorGroupSort::LastSeen, "Last seen"),
            ] {
                header.col(|ui| {
                    let arrow = match (column_sort == sort, descending) {
                        (false, _) => "",
                        (true, true) => " ⏷",
                        (true, false) => " ⏶",
                    };
                    let button = egui::Button::new(egui::RichText::new(format!("{title}{arrow}")).strong()).frame(false);
                    if ui.add(button).on_hover_text("Sort by this column; click again for the other way").clicked() {
                        commands.push(Command::SortErrorGroups(column_sort));
                    }
                });
            }
            header.col(|ui| {
                ui.strong("Messages");
            });
        })
        .body(|body| {
            body.rows(22.0, groups.len(), |mut row| {
                let group = &groups[row.index()];
                let mut clicked = false;
                let hint = "Filter by this error and list its occurrences";
                let message = group.message.as_deref().unwrap_or("").lines().next().unwrap_or("").to_string();
                let cells = [
                    egui::RichText::new(group.error_type.clone().unwrap_or_default()),
                    egui::RichText::new(message).color(kind_color("error")),
                    egui::RichText::new(format::grouped(group.count)),
                    egui::RichText::new(format::grouped(group.sessions)),
                    egui::RichText::new(format::time_text(group.first_ms, utc)),
                    egui::RichText::new(format::time_text(group.last_ms, utc)),
                    egui::RichText::new(if group.messages > 1 { format!("{} messages", format::grouped(group.messages)) } else { String::new() }).weak(),
                ];
                for (column, text) in cells.into_iter().enumerate() {
                    let (_, response) = row.col(|ui| {
                        let label = egui::Label::new(text).truncate().sense(egui::Sense::click());
                        // The counts to the right, so that their digits line up.
                        let label = if column == 2 || column == 3 {
                            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| ui.add(label)).inner
                        } else {
                            ui.add(label)
                        };
                        clicked |= label.on_hover_text(hint).clicked();
                    });
                    clicked |= response.clicked();
                }
                if clicked {
                    commands.push(Command::OpenErrorGroup(group.clone()));
                }
            });
        });
}
