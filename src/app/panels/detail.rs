//! The session detail side panel: header, properties, extended fields and the timeline.
//! Every field value offers the four field actions.

use crate::app::{format, Command, ExplorerApp};
use crate::store::{SessionDetail, PROPERTY_KEYS};

/// A field row: key, value, and on click or right-click the four field actions.
pub fn field_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, key: &str, value: &str) {
    ui.horizontal(|ui| {
        ui.add_sized([150.0, 18.0], egui::Label::new(egui::RichText::new(key).weak()).truncate());
        let response = ui
            .add(egui::Label::new(value).truncate().sense(egui::Sense::click()))
            .on_hover_text("Click for actions");
        let actions = |ui: &mut egui::Ui, commands: &mut Vec<Command>| {
            if ui.button("Filter field value").clicked() {
                commands.push(Command::AddQueryTerm { key: key.to_string(), value: value.to_string(), negate: false });
            }
            if ui.button("Reverse filter field value").clicked() {
                commands.push(Command::AddQueryTerm { key: key.to_string(), value: value.to_string(), negate: true });
            }
            if ui.button("Add to display column").clicked() {
                commands.push(Command::AddColumn(key.to_string()));
            }
            if ui.button("Copy").clicked() {
                commands.push(Command::Copy(value.to_string()));
            }
        };
        // One menu for a click and a right-click (a separate context menu would close it).
        let toggle = (response.clicked() || response.secondary_clicked()).then_some(egui::containers::SetOpenCommand::Toggle);
        egui::Popup::menu(&response).open_memory(toggle).show(|ui| actions(ui, commands));
    });
}

pub fn detail_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    if ui.input(|i| i.key_pressed(egui::Key::Escape)) {
        app.commands.push(Command::CloseDetail);
    }
    ui.horizontal(|ui| {
        ui.heading("Session");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("✖").on_hover_text("Close (Esc)").clicked() {
                app.commands.push(Command::CloseDetail);
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
    session_body_ui(app, ui, &detail);
    app.detail = Some(detail);
}

fn session_body_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, detail: &SessionDetail) {
    let s = &detail.session;
    let utc = app.settings.show_utc;
    ui.label(egui::RichText::new(&s.session_id).monospace());
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
    ui.separator();
    let commands = &mut app.commands;
    egui::ScrollArea::vertical().id_salt("detail_scroll").show(ui, |ui| {
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
        egui::CollapsingHeader::new(format!("Timeline ({} events)", detail.events.len())).default_open(true).show(ui, |ui| {
            let mut options = app.timeline;
            ui.horizontal_wrapped(|ui| {
                ui.toggle_value(&mut options.relative, "Relative time").on_hover_text("Time since the session start, or absolute time");
                ui.toggle_value(&mut options.show_resources, "Resources");
                ui.toggle_value(&mut options.show_long_tasks, "Long tasks");
                let order = if options.descending { "Newest first" } else { "Oldest first" };
                if ui.button(order).clicked() {
                    options.descending = !options.descending;
                }
            });
            if options != app.timeline {
                commands.push(Command::SetTimelineOptions(options));
            }
            let start = s.start_ms.unwrap_or(0);
            let shown = |kind: &str| match kind {
                "resource" => options.show_resources,
                "long_task" => options.show_long_tasks,
                _ => true,
            };
            let mut events: Vec<_> = detail.events.iter().filter(|e| shown(&e.kind)).collect();
            if options.descending {
                events.reverse();
            }
            for event in events {
                ui.horizontal(|ui| {
                    let time = if options.relative {
                        format!("+{}", format::human_duration_ms(event.time_ms - start))
                    } else {
                        format::time_text(event.time_ms, utc)
                    };
                    ui.label(egui::RichText::new(time).monospace().small());
                    ui.label(egui::RichText::new(&event.kind).color(super::kind_color(&event.kind)).strong());
                    ui.add(egui::Label::new(event.label().lines().next().unwrap_or("")).truncate());
                });
            }
        });
    });
}
