//! The query bar, its parse error, the filter chips and the time range.

use crate::app::settings::{TimeRange, PRESETS};
use crate::app::{format, Command, ExplorerApp};
use crate::query_complete::{key_suggestions, recent_suggestions, value_suggestions, word_at, Suggestion, Word};

pub fn query_bar_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.label("Query");
        let edit_id = ui.make_persistent_id("query_edit");
        let focus_query = focus_shortcut(ui);
        // Suggestions for the word at the cursor; their keys are taken before the field sees them.
        let suggestions = suggestions_for(app, ui.ctx(), edit_id);
        let accepted = suggestion_keys(ui, edit_id, &suggestions, &app.query_text);
        let mut text = app.query_text.clone();
        let edit = egui::TextEdit::singleline(&mut text)
            .id(edit_id)
            .hint_text("browser:Chrome error_count:>0 -env:staging   (free text searches every session field)")
            .desired_width(ui.available_width() - 330.0)
            .font(egui::TextStyle::Monospace);
        let shortcut = ui.ctx().format_shortcut(&super::QUERY_SHORTCUT);
        let response = ui
            .add(edit)
            .on_hover_text(format!("key:value, -key:value, key:*wild*, key:>5, key:[1 TO 5], key:*, OR, ( )\n{shortcut} or / to type here"));
        if focus_query {
            response.request_focus();
            select_chars(ui.ctx(), edit_id, 0, app.query_text.chars().count());
        }
        let clicked = suggestions_popup_ui(ui, edit_id, &response, &suggestions);
        if let Some(suggestion) = accepted.or(clicked) {
            let (new_text, cursor) = suggestion.apply(&app.query_text);
            select_chars(ui.ctx(), edit_id, cursor, cursor);
            response.request_focus();
            if suggestion.whole_query {
                app.commands.push(Command::SetQuery(new_text));
            } else {
                app.commands.push(Command::EditQuery(new_text));
            }
        } else {
            if response.changed() {
                app.commands.push(Command::EditQuery(text.clone()));
            }
            if response.lost_focus() {
                if ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    app.commands.push(Command::SetQuery(text));
                } else {
                    app.commands.push(Command::RememberQuery);
                }
            }
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

/// The suggestions for the word at the query field's cursor while it has focus: fields of the
/// data for a key, a field's common values after its `key:` (asked for once, shown when they
/// arrive), the recent queries while the field is empty. None after Esc until the text changes.
fn suggestions_for(app: &mut ExplorerApp, ctx: &egui::Context, edit_id: egui::Id) -> Vec<Suggestion> {
    if !ctx.memory(|m| m.has_focus(edit_id)) {
        return Vec::new();
    }
    let dismissed_for: Option<String> = ctx.data(|d| d.get_temp(edit_id.with("dismissed")));
    if dismissed_for.as_deref() == Some(app.query_text.as_str()) {
        return Vec::new();
    }
    let Some(cursor_chars) = egui::TextEdit::load_state(ctx, edit_id).and_then(|s| s.cursor.char_range()).map(|r| r.primary.index.0) else {
        return Vec::new();
    };
    let query = app.query_text.as_str();
    if query.trim().is_empty() {
        return recent_suggestions(&app.settings.recent_queries);
    }
    let cursor = query.char_indices().nth(cursor_chars).map_or(query.len(), |(i, _)| i);
    match word_at(query, cursor) {
        Some(Word::Key { typed, range }) => key_suggestions(typed, range, &app.known_keys),
        Some(Word::Value { key, typed, range }) => {
            // Asked by its canonical name (`@browser.name` is `browser`).
            let field = crate::query::field_key(key).to_string();
            match app.key_values.get(&field) {
                Some(Some(values)) => value_suggestions(key, typed, range, values),
                Some(None) => Vec::new(),
                None => {
                    app.commands.push(Command::FetchKeyValues(field));
                    Vec::new()
                }
            }
        }
        None => Vec::new(),
    }
}

/// Keys for the suggestion list while it shows: Down / Up move the highlight, Tab accepts
/// the highlighted one (the first if none), Enter accepts a highlighted one (else it applies
/// the query as always), Esc hides the list until the text changes.
fn suggestion_keys(ui: &egui::Ui, edit_id: egui::Id, suggestions: &[Suggestion], query: &str) -> Option<Suggestion> {
    let highlight_id = edit_id.with("highlight");
    if suggestions.is_empty() {
        ui.data_mut(|d| d.remove::<usize>(highlight_id));
        return None;
    }
    let mut highlight: Option<usize> = ui.data(|d| d.get_temp(highlight_id)).filter(|h| *h < suggestions.len());
    let (down, up, tab, enter, escape) = ui.input_mut(|i| {
        let none = egui::Modifiers::NONE;
        (
            i.consume_key(none, egui::Key::ArrowDown),
            i.consume_key(none, egui::Key::ArrowUp),
            i.consume_key(none, egui::Key::Tab),
            highlight.is_some() && i.consume_key(none, egui::Key::Enter),
            i.consume_key(none, egui::Key::Escape),
        )
    });
    if down {
        highlight = Some(highlight.map_or(0, |h| (h + 1) % suggestions.len()));
    }
    if up {
        highlight = Some(highlight.map_or(suggestions.len() - 1, |h| (h + suggestions.len() - 1) % suggestions.len()));
    }
    if escape {
        ui.data_mut(|d| d.insert_temp(edit_id.with("dismissed"), query.to_string()));
        return None;
    }
    match highlight {
        Some(h) => ui.data_mut(|d| {
            d.insert_temp(highlight_id, h);
        }),
        None => ui.data_mut(|d| d.remove::<usize>(highlight_id)),
    }
    if tab || enter {
        ui.data_mut(|d| d.remove::<usize>(highlight_id));
        return suggestions.get(highlight.unwrap_or(0)).cloned();
    }
    None
}

/// The list under the query field; a click accepts a suggestion.
fn suggestions_popup_ui(ui: &egui::Ui, edit_id: egui::Id, field: &egui::Response, suggestions: &[Suggestion]) -> Option<Suggestion> {
    if suggestions.is_empty() {
        return None;
    }
    let highlight: Option<usize> = ui.data(|d| d.get_temp(edit_id.with("highlight")));
    let mut clicked = None;
    egui::Area::new(edit_id.with("suggestions"))
        .order(egui::Order::Foreground)
        .fixed_pos(field.rect.left_bottom() + egui::vec2(0.0, 2.0))
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.set_min_width(260.0);
                for (i, suggestion) in suggestions.iter().enumerate() {
                    ui.horizontal(|ui| {
                        let label = egui::RichText::new(&suggestion.label).monospace();
                        if ui.selectable_label(highlight == Some(i), label).clicked() {
                            clicked = Some(suggestion.clone());
                        }
                        if let Some(detail) = &suggestion.detail {
                            ui.label(egui::RichText::new(detail).weak().small());
                        }
                    });
                }
                let help = if suggestions.iter().all(|s| s.whole_query) {
                    "Recent queries · Tab or click: apply · Up, Down: choose · Esc: hide"
                } else {
                    "Tab or click: insert · Up, Down: choose · Esc: hide"
                };
                ui.label(egui::RichText::new(help).weak().small());
            });
        });
    clicked
}

/// Selects the query field's text from one char index to another: the cursor after an
/// inserted suggestion (`from == to`), or the whole query so that typing replaces it.
fn select_chars(ctx: &egui::Context, edit_id: egui::Id, from: usize, to: usize) {
    let mut state = egui::TextEdit::load_state(ctx, edit_id).unwrap_or_default();
    state.cursor.set_char_range(Some(egui::text::CCursorRange::two(egui::text::CCursor::new(from), egui::text::CCursor::new(to))));
    state.store(ctx, edit_id);
}

/// Whether Ctrl+F (Cmd+F), or `/` where no text field has the cursor, asks for the query bar.
/// The `/` is taken so that it is not typed into the query.
fn focus_shortcut(ui: &egui::Ui) -> bool {
    if ui.input_mut(|i| i.consume_shortcut(&super::QUERY_SHORTCUT)) {
        return true;
    }
    if ui.memory(|m| m.focused().is_some()) {
        return false;
    }
    ui.input_mut(|i| {
        let slash = i.consume_key(egui::Modifiers::NONE, egui::Key::Slash);
        if slash {
            i.events.retain(|e| !matches!(e, egui::Event::Text(t) if t == "/"));
        }
        slash
    })
}
