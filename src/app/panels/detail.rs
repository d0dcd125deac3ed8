//! The session detail side panel: a header, back/forward between drill-downs, and the page
//! shown: the session (properties, extended fields, timeline), a view's performance or an error.
//! Every field value offers the four field actions.

use super::{bound_view, error_detail, timeline, view_performance};
use crate::app::{format, Command, DetailPage, DetailTab, ExplorerApp};
use crate::model::FieldValue;
use crate::store::{SessionDetail, PROPERTY_KEYS};

/// A field row: key, value, and on click or right-click the four field actions.
pub fn field_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, key: &str, value: &str) {
    ui.horizontal(|ui| {
        ui.add_sized([150.0, 18.0], egui::Label::new(egui::RichText::new(key).weak()).truncate());
        let response = ui
            .add(egui::Label::new(value).truncate().sense(egui::Sense::click()))
            .on_hover_text("Click for actions");
        field_actions_ui(commands, &response, key, value);
    });
}

/// The four field actions as a menu on a value's response (click or right-click).
pub fn field_actions_ui(commands: &mut Vec<Command>, response: &egui::Response, key: &str, value: &str) {
    field_actions_and_more_ui(commands, response, key, value, |_, _| {});
}

/// [`field_actions_ui`] with more buttons of the caller's below the field's actions.
pub fn field_actions_and_more_ui(commands: &mut Vec<Command>, response: &egui::Response, key: &str, value: &str, more_ui: impl FnOnce(&mut Vec<Command>, &mut egui::Ui)) {
    // One menu for a click and a right-click (a separate context menu would close it).
    let toggle = (response.clicked() || response.secondary_clicked()).then_some(egui::containers::SetOpenCommand::Toggle);
    egui::Popup::menu(response).open_memory(toggle).show(|ui| {
        field_action_buttons_ui(commands, ui, key, value, true);
        more_ui(commands, ui);
    });
}

/// The field actions' buttons, for a menu: the detail panel's and the sessions table's cells'.
pub fn field_action_buttons_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, key: &str, value: &str, offer_add_column: bool) {
    if ui.button("Filter field value").clicked() {
        commands.push(Command::AddQueryTerm { key: key.to_string(), value: value.to_string(), negate: false });
    }
    if ui.button("Reverse filter field value").clicked() {
        commands.push(Command::AddQueryTerm { key: key.to_string(), value: value.to_string(), negate: true });
    }
    if offer_add_column && ui.button("Add to display column").clicked() {
        commands.push(Command::AddColumn(key.to_string()));
    }
    if ui.button("Copy").clicked() {
        commands.push(Command::Copy(value.to_string()));
    }
}

/// Every field of an event, each with the field actions.
pub fn event_fields_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, fields: &[(String, FieldValue)]) {
    let mut sorted: Vec<&(String, FieldValue)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in sorted {
        field_ui(commands, ui, key, &value.to_string());
    }
}

pub fn detail_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    keyboard_ui(app, ui);
    ui.horizontal(|ui| {
        let history = &app.detail_history;
        if ui.add_enabled(history.can_go_back(), egui::Button::new("⏴ Back")).on_hover_text("Back (Alt+Left)").clicked() {
            app.commands.push(Command::NavigateBack);
        }
        if ui.add_enabled(history.can_go_forward(), egui::Button::new("Forward ⏵")).on_hover_text("Forward (Alt+Right)").clicked() {
            app.commands.push(Command::NavigateForward);
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("✖").on_hover_text("Close (Esc)").clicked() {
                app.commands.push(Command::CloseDetail);
            }
            let copy = ui.add_enabled(app.detail.is_some(), egui::Button::new("Copy as JSON"));
            let copy = copy.on_hover_text("The session, its fields and its timeline, as `rum-explorer session ID --format json` prints them");
            if copy.clicked() {
                if let Some(json) = app.detail.as_ref().and_then(|d| serde_json::to_string_pretty(&d.to_json()).ok()) {
                    app.commands.push(Command::Copy(json));
                }
            }
            if app.detail_loading {
                ui.spinner();
            }
        });
    });
    // Borrowed out for the frame rather than cloned: a session can hold thousands of events.
    let Some(detail) = app.detail.take() else {
        ui.label(egui::RichText::new("Loading…").weak());
        return;
    };
    header_ui(app, ui, &detail);
    ui.separator();
    match app.detail_history.current() {
        DetailPage::Session => session_page_ui(app, ui, &detail),
        DetailPage::View(event_pk) => view_performance::view_page_ui(app, ui, &detail, event_pk),
        DetailPage::Error(event_pk) => error_detail::error_page_ui(app, ui, &detail, event_pk),
    }
    app.detail = Some(detail);
}

fn keyboard_ui(app: &mut ExplorerApp, ui: &egui::Ui) {
    if ui.input(|i| i.key_pressed(egui::Key::Escape)) {
        app.commands.push(Command::CloseDetail);
    }
    // Arrow keys belong to a text field while one has focus.
    if ui.ctx().memory(|m| m.focused().is_some()) {
        return;
    }
    let (left, right, alt) = ui.input(|i| (i.key_pressed(egui::Key::ArrowLeft), i.key_pressed(egui::Key::ArrowRight), i.modifiers.alt));
    match (left, right, alt) {
        (true, _, true) => app.commands.push(Command::NavigateBack),
        (_, true, true) => app.commands.push(Command::NavigateForward),
        (true, _, false) => app.commands.push(Command::StepTimePoint(-1)),
        (_, true, false) => app.commands.push(Command::StepTimePoint(1)),
        _ => {}
    }
}

fn header_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, detail: &SessionDetail) {
    let s = &detail.session;
    let utc = app.settings.show_utc;
    ui.horizontal(|ui| {
        ui.heading("Session");
        let id = ui.add(egui::Label::new(egui::RichText::new(&s.session_id).monospace()).truncate().sense(egui::Sense::click()));
        field_actions_ui(&mut app.commands, &id.on_hover_text("Click for actions"), "session_id", &s.session_id);
    });
    ui.label(format!(
        "{} to {}  ({})",
        s.start_ms.map(|t| format::time_text(t, utc)).unwrap_or_default(),
        s.end_ms.map(|t| format::time_text(t, utc)).unwrap_or_default(),
        s.duration_ms.map(format::human_duration_ms).unwrap_or_default()
    ));
    ui.horizontal(|ui| {
        ui.label(format!("type: {}", s.session_type.clone().unwrap_or_default()));
        ui.separator();
        ui.label(format!("{} views", s.view_count));
        ui.label(format!("{} actions", s.action_count));
        let errors = egui::RichText::new(format!("{} errors", s.error_count));
        ui.label(if s.error_count > 0 { errors.color(ui.visuals().error_fg_color) } else { errors });
    });
}

fn session_page_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, detail: &SessionDetail) {
    let s = &detail.session;
    let commands = &mut app.commands;
    // The fields take at most about half the panel; the timeline gets the rest.
    let fields_height = (ui.available_height() * 0.45).max(120.0);
    egui::ScrollArea::vertical().id_salt("detail_fields").max_height(fields_height).auto_shrink([false, true]).show(ui, |ui| {
        egui::CollapsingHeader::new("Properties").default_open(true).show(ui, |ui| {
            for key in PROPERTY_KEYS {
                if let Some(value) = s.value_text(key) {
                    field_ui(commands, ui, key, &value);
                }
            }
        });
        egui::CollapsingHeader::new("Extended fields").default_open(true).show(ui, |ui| {
            for attribute in crate::model::SESSION_ATTRIBUTES {
                if PROPERTY_KEYS.contains(&attribute.column) {
                    continue;
                }
                if let Some(value) = s.value_text(attribute.column) {
                    field_ui(commands, ui, attribute.column, &value);
                }
            }
            for (key, value) in &s.extended_fields {
                let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
                field_ui(commands, ui, key, &text);
            }
        });
    });
    ui.separator();
    ui.horizontal(|ui| {
        for (tab, label) in [(DetailTab::Timeline, "Timeline"), (DetailTab::BoundView, "Bound view")] {
            if ui.selectable_label(app.detail_tab == tab, egui::RichText::new(label).strong()).clicked() && app.detail_tab != tab {
                app.commands.push(Command::ShowDetailTab(tab));
            }
        }
    });
    match app.detail_tab {
        DetailTab::Timeline => timeline::timeline_ui(app, ui, detail),
        DetailTab::BoundView => bound_view::bound_view_ui(app, ui, detail),
    }
}

/// A link to another page of the detail (a view, an error, the session).
pub fn link_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, text: impl Into<egui::WidgetText>, page: DetailPage) {
    if ui.link(text).clicked() {
        commands.push(Command::OpenDrillDown(page));
    }
}

/// The page an event opens: a view's performance (actions, resources and long tasks open their
/// view), or the error.
pub fn page_for_event(detail: &SessionDetail, index: usize) -> Option<DetailPage> {
    let event = detail.events.get(index)?;
    match event.kind.as_str() {
        "error" => Some(DetailPage::Error(event.event_pk)),
        _ => detail.view_of(index).and_then(|v| detail.events.get(v)).map(|v| DetailPage::View(v.event_pk)),
    }
}
