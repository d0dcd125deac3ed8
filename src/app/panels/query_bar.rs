//! The query bar, its parse error, the filter chips and the time range.

use crate::app::settings::{TimeRange, PRESETS};
use crate::app::{format, Command, ExplorerApp};

pub fn query_bar_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.label("Query");
        let mut text = app.query_text.clone();
        let edit = egui::TextEdit::singleline(&mut text)
            .hint_text("browser:Chrome error_count:>0 -env:staging   (free text searches every session field)")
            .desired_width(ui.available_width() - 330.0)
            .font(egui::TextStyle::Monospace);
        let response = ui.add(edit).on_hover_text("key:value, -key:value, key:*wild*, key:>5, key:[1 TO 5], key:*, OR, ( )");
        if response.changed() {
            app.commands.push(Command::EditQuery(text.clone()));
        }
        if response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            app.commands.push(Command::SetQuery(text));
        }
        if !app.query_text.is_empty() && ui.button("✖").on_hover_text("Clear the query").clicked() {
            app.commands.push(Command::SetQuery(String::new()));
        }
        time_range_ui(app, ui);
    });
    if let Some(error) = &app.query_error {
        ui.horizontal(|ui| {
            ui.add_space(44.0);
            let pointer = format!("{}^", " ".repeat(error.column.saturating_sub(1)));
            ui.vertical(|ui| {
                ui.label(egui::RichText::new(&app.query_text).monospace().color(ui.visuals().error_fg_color));
                ui.label(egui::RichText::new(pointer).monospace().color(ui.visuals().error_fg_color));
                ui.label(egui::RichText::new(format!("Query error at {error}")).color(ui.visuals().error_fg_color));
            });
        });
    }
    unknown_keys_ui(app, ui);
    if let Some(filter) = &app.applied_filter {
        let terms: Vec<String> = filter.expr.top_level_terms().iter().map(|t| t.to_string()).collect();
        ui.horizontal_wrapped(|ui| {
            ui.label(egui::RichText::new("Filters:").weak());
            for (index, term) in terms.iter().enumerate() {
                let chip = egui::Button::new(format!("{term}  ✖")).corner_radius(10.0).small();
                if ui.add(chip).on_hover_text("Remove this filter").clicked() {
                    app.commands.push(Command::RemoveQueryTerm(index));
                }
            }
        });
    }
    ui.add_space(2.0);
}

/// A key of the filter that no field of the data has matches nothing (or, negated,
/// everything): said plainly, with the field spelled most like it as a button that puts it
/// in the key's place.
fn unknown_keys_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    for (key, closest) in &app.unknown_keys {
        ui.horizontal(|ui| {
            ui.add_space(44.0);
            let warn = ui.visuals().warn_fg_color;
            ui.label(egui::RichText::new(format!("No field named \"{key}\" in this data.")).color(warn));
            if let Some(closest) = closest {
                ui.label(egui::RichText::new("Did you mean").color(warn));
                let replaced = crate::query::replace_key(&app.query_text, key, closest);
                if ui.button(closest.as_str()).on_hover_text(format!("Query: {replaced}")).clicked() {
                    app.commands.push(Command::SetQuery(replaced));
                }
            }
        });
    }
}

fn time_range_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    egui::ComboBox::from_label("Time range")
        .selected_text(app.time_range.label())
        .width(110.0)
        .show_ui(ui, |ui| {
            for (label, preset) in PRESETS {
                if ui.selectable_label(app.time_range == *preset, *label).clicked() {
                    app.commands.push(Command::SetTimeRange(*preset));
                }
            }
            ui.separator();
            custom_range_ui(app, ui);
        });
    let utc = app.settings.show_utc;
    let newest = app.data_span.and_then(|s| s.2);
    let (from, to) = app.time_range.bounds(newest);
    let text = match (from, to, app.time_range) {
        (_, _, TimeRange::All) => "all data".to_string(),
        (Some(f), Some(t), _) => format!("{} to {}", format::short_time_text(f, utc), format::short_time_text(t, utc)),
        (Some(f), None, _) => format!("{} to newest", format::short_time_text(f, utc)),
        _ => String::new(),
    };
    ui.label(egui::RichText::new(text).weak().small())
        .on_hover_text("\"Last\" ranges end at the newest session in the data, not at now. Drag across the chart below for a custom range.");
}

/// A typed custom range: date-time text in the zone the window shows (UTC or local).
fn custom_range_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    let id = ui.make_persistent_id("custom_range");
    let (mut from, mut to): (String, String) = ui.memory(|m| m.data.get_temp(id)).unwrap_or_default();
    ui.label("Custom range");
    ui.horizontal(|ui| {
        ui.label("From");
        ui.add(egui::TextEdit::singleline(&mut from).hint_text("2025-11-13 14:00").desired_width(130.0));
    });
    ui.horizontal(|ui| {
        ui.label("To");
        ui.add(egui::TextEdit::singleline(&mut to).hint_text("2025-11-13 18:00").desired_width(130.0));
    });
    let utc = app.settings.show_utc;
    let parse = |text: &str| parse_in_zone(text, utc);
    match (parse(&from), parse(&to)) {
        (Some(a), Some(b)) if b > a => {
            if ui.button("Apply").clicked() {
                app.commands.push(Command::SetTimeRange(TimeRange::Custom { from_ms: a, to_ms: b }));
            }
        }
        _ if from.is_empty() && to.is_empty() => {}
        _ => {
            ui.label(egui::RichText::new("Enter two date-times, the second later").weak().small());
        }
    }
    ui.memory_mut(|m| m.data.insert_temp(id, (from, to)));
}

/// Date-time text without a zone is read in the zone the window shows.
fn parse_in_zone(text: &str, utc: bool) -> Option<i64> {
    let ms = crate::timeparse::parse_datetime_ms(text)?;
    if utc || text.contains('Z') || text.contains('+') {
        return Some(ms);
    }
    use chrono::{Local, Offset, TimeZone};
    let offset_ms = Local.timestamp_millis_opt(ms).single()?.offset().fix().local_minus_utc() as i64 * 1000;
    Some(ms - offset_ms)
}
