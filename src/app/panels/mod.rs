//! The window's layout: one file per panel. Panels read the app and push commands.

mod bound_view;
mod detail;
mod error_detail;
mod errors_list;
mod export_window;
mod facets;
mod histogram;
mod import_status;
mod overview;
mod query_bar;
mod resources_list;
mod sessions_table;
mod timeline;
mod view_performance;
mod views_list;

use super::{Command, ExplorerApp, MainTab};

pub fn root_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    egui::Panel::top("menu_bar").show(ui, |ui| menu_bar_ui(app, ui));
    egui::Panel::bottom("status_bar").show(ui, |ui| import_status::status_bar_ui(app, ui));
    egui::Panel::top("query_bar").show(ui, |ui| query_bar::query_bar_ui(app, ui));
    egui::Panel::left("facets").resizable(true).default_size(220.0).min_size(180.0).show(ui, |ui| facets::facets_ui(app, ui));
    if app.detail_open {
        egui::Panel::right("detail").resizable(true).default_size(460.0).min_size(320.0).show(ui, |ui| detail::detail_ui(app, ui));
    }
    egui::CentralPanel::default().show(ui, |ui| {
        histogram::histogram_ui(app, ui);
        ui.horizontal(|ui| {
            let tabs = [
                (MainTab::Sessions, "Sessions"),
                (MainTab::Views, "Views"),
                (MainTab::Resources, "Resources"),
                (MainTab::Errors, "Errors"),
                (MainTab::Overview, "Overview"),
            ];
            for (tab, label) in tabs {
                if ui.selectable_label(app.main_tab == tab, egui::RichText::new(label).strong()).clicked() && app.main_tab != tab {
                    app.commands.push(Command::ShowTab(tab));
                }
            }
        });
        ui.separator();
        match app.main_tab {
            MainTab::Sessions => sessions_table::sessions_table_ui(app, ui),
            MainTab::Overview => overview::overview_ui(app, ui),
            MainTab::Errors => errors_list::errors_list_ui(app, ui),
            MainTab::Views => views_list::views_list_ui(app, ui),
            MainTab::Resources => resources_list::resources_list_ui(app, ui),
        }
    });
    sessions_table::column_chooser_window(app, ui.ctx());
    import_status::import_report_window(app, ui.ctx());
    export_window::export_window_ui(app, ui.ctx());
    let hovering_files = ui.ctx().input(|i| !i.raw.hovered_files.is_empty());
    if hovering_files {
        let rect = ui.ctx().content_rect();
        let painter = ui.ctx().layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::unique("rum-explorer-drop-overlay")));
        painter.rect_filled(rect, 0.0, egui::Color32::from_black_alpha(160));
        painter.text(rect.center(), egui::Align2::CENTER_CENTER, "Drop to import", egui::FontId::proportional(28.0), egui::Color32::WHITE);
    }
}

/// Opens the file dialog to import files.
pub const IMPORT_SHORTCUT: egui::KeyboardShortcut = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::O);
/// Opens the *Export sessions* window.
pub const EXPORT_SHORTCUT: egui::KeyboardShortcut = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::E);
/// Puts the cursor in the query bar (so does `/` where no text field has it).
pub const QUERY_SHORTCUT: egui::KeyboardShortcut = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::F);

fn menu_bar_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    if ui.input_mut(|i| i.consume_shortcut(&IMPORT_SHORTCUT)) {
        app.commands.push(Command::OpenFileDialog);
    }
    if ui.input_mut(|i| i.consume_shortcut(&EXPORT_SHORTCUT)) {
        app.commands.push(Command::ShowExportWindow(true));
    }
    let shortcut_text = |shortcut: &egui::KeyboardShortcut| ui.ctx().format_shortcut(shortcut);
    let (import_keys, export_keys) = (shortcut_text(&IMPORT_SHORTCUT), shortcut_text(&EXPORT_SHORTCUT));
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui.add(egui::Button::new("Import files…").shortcut_text(import_keys)).clicked() {
                app.commands.push(Command::OpenFileDialog);
            }
            if ui.button("Last import report").clicked() {
                app.commands.push(Command::ShowImportReport(true));
            }
            ui.separator();
            if ui.add(egui::Button::new("Export sessions as CSV…").shortcut_text(export_keys)).clicked() {
                app.commands.push(Command::ShowExportWindow(true));
            }
        });
        ui.menu_button("View", |ui| {
            if ui.button("Columns…").clicked() {
                app.commands.push(Command::ShowColumnChooser(true));
            }
            let theme = if app.settings.dark_theme { "Light theme" } else { "Dark theme" };
            if ui.button(theme).clicked() {
                app.commands.push(Command::ToggleTheme);
            }
            let zone = if app.settings.show_utc { "Show local time" } else { "Show UTC" };
            if ui.button(zone).clicked() {
                app.commands.push(Command::ToggleUtc);
            }
        });
        ui.separator();
        if ui.button("Import…").on_hover_text("Import RUM export files (or drop them on the window)").clicked() {
            app.commands.push(Command::OpenFileDialog);
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let zone = if app.settings.show_utc { "UTC" } else { "Local time" };
            if ui.selectable_label(app.settings.show_utc, zone).on_hover_text("Toggle UTC / local time").clicked() {
                app.commands.push(Command::ToggleUtc);
            }
            let theme = if app.settings.dark_theme { "Light theme" } else { "Dark theme" };
            if ui.button(theme).clicked() {
                app.commands.push(Command::ToggleTheme);
            }
            ui.label(egui::RichText::new(app.db_path.display().to_string()).weak().small());
        });
    });
}

/// A colour that stands for an event kind, in both themes.
/// What the line above the Views and Errors lists shows.
pub struct ListHeader<'a> {
    pub find: &'a str,
    pub find_hint: &'a str,
    /// How many there are and how many are listed; None while the first answer is awaited.
    pub count_text: Option<String>,
    pub reading_text: &'a str,
    pub loading: bool,
    /// The button that lists more, and its hover text; None when all are listed.
    pub more: Option<(&'a str, String)>,
}

/// What the user did on a list's header line: the find text typed, and whether they asked for more.
#[derive(Default)]
pub struct ListHeaderInput {
    pub find: Option<String>,
    pub more: bool,
}

/// The line above the Views and Errors lists: the find field, the count, a spinner while a
/// request runs, else the button that lists more.
pub fn list_header_ui(ui: &mut egui::Ui, header: ListHeader<'_>) -> ListHeaderInput {
    let mut input = ListHeaderInput::default();
    ui.horizontal(|ui| {
        let mut find = header.find.to_string();
        let edit = egui::TextEdit::singleline(&mut find).hint_text(header.find_hint).desired_width(280.0);
        if ui.add(edit).changed() {
            input.find = Some(find);
        }
        match header.count_text {
            Some(text) => ui.label(text),
            None => ui.label(egui::RichText::new(header.reading_text).weak()),
        };
        if header.loading {
            ui.spinner();
        } else if let Some((label, hover)) = header.more {
            input.more = ui.button(label).on_hover_text(hover).clicked();
        }
    });
    input
}

/// Down / Up in the Views and Errors tabs (while no text field has the cursor): the row to
/// open after the open one (`open_index`), or the first.
pub fn list_step(ui: &egui::Ui, open_index: Option<usize>, rows: usize) -> Option<usize> {
    if rows == 0 || ui.ctx().memory(|m| m.focused().is_some()) {
        return None;
    }
    let (down, up) = ui.input(|i| (i.key_pressed(egui::Key::ArrowDown), i.key_pressed(egui::Key::ArrowUp)));
    match (open_index, down, up) {
        (None, true, _) | (None, _, true) => Some(0),
        (Some(i), true, _) => Some((i + 1).min(rows - 1)).filter(|next| *next != i),
        (Some(i), _, true) => i.checked_sub(1),
        _ => None,
    }
}

/// The right-click menu of a cell in the Views and Errors tabs: the field's actions, and the
/// row's session ID to copy.
pub fn list_cell_actions_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, key: &str, value: &str, session_id: &str) {
    ui.add(egui::Label::new(egui::RichText::new(format!("{key}: {value}")).weak()).truncate());
    ui.separator();
    detail::field_action_buttons_ui(commands, ui, key, value, true);
    if ui.button("Copy session ID").clicked() {
        commands.push(Command::Copy(session_id.to_string()));
    }
}

/// A cell's label in the lists; numbers to the right, so that their digits line up.
pub fn number_aligned_ui(ui: &mut egui::Ui, numeric: bool, label: egui::Label) -> egui::Response {
    if numeric {
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| ui.add(label)).inner
    } else {
        ui.add(label)
    }
}

pub fn kind_color(kind: &str) -> egui::Color32 {
    match kind {
        "view" => egui::Color32::from_rgb(66, 133, 244),
        "action" => egui::Color32::from_rgb(52, 168, 83),
        "error" => egui::Color32::from_rgb(219, 68, 55),
        "resource" => egui::Color32::from_rgb(150, 120, 200),
        "long_task" => egui::Color32::from_rgb(244, 160, 0),
        _ => egui::Color32::GRAY,
    }
}
