//! An error's details: message, type, source, handling, the full stack (monospace, selectable,
//! copyable), where it happened (session, view, action) and how often it happened elsewhere.

use super::detail::{event_fields_ui, field_ui, link_ui};
use super::kind_color;
use crate::app::{chart_axes, format, Command, DetailPage, ExplorerApp};
use crate::query::term_text;
use crate::store::overview::ErrorPattern;
use crate::store::{ErrorSpread, SessionDetail};
use egui_plot::{Bar, BarChart, VLine};

pub fn error_page_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, detail: &SessionDetail, error_pk: i64) {
    let Some(index) = detail.event_index(error_pk) else {
        ui.label("This error is not in the session any more.");
        return;
    };
    let error = &detail.events[index];
    let start = detail.session.start_ms.unwrap_or(0);
    ui.horizontal(|ui| {
        link_ui(&mut app.commands, ui, "Session", DetailPage::Session);
        ui.label("›");
        ui.label(egui::RichText::new("Error").color(kind_color("error")).strong());
        ui.label(error.get_str("error_type").unwrap_or(""));
    });
    egui::ScrollArea::vertical().id_salt("error_page").auto_shrink([false, false]).show(ui, |ui| {
        ui.add(egui::Label::new(egui::RichText::new(error.label()).color(kind_color("error")).strong()).wrap());
        ui.label(
            egui::RichText::new(format!(
                "+{} into the session, at {}",
                format::human_duration_ms(error.time_ms - start),
                format::time_text(error.time_ms, app.settings.show_utc)
            ))
            .weak(),
        );
        ui.add_space(4.0);
        for key in ["error_message", "error_type", "error_source", "error_handling"] {
            if let Some(value) = error.get(key) {
                field_ui(&mut app.commands, ui, key, &value.to_string());
            }
        }

        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.strong("Stack");
            if let Some(stack) = error.get_str("error_stack") {
                if ui.small_button("Copy stack").clicked() {
                    app.commands.push(Command::Copy(stack.to_string()));
                }
            }
        });
        match error.get_str("error_stack") {
            Some(stack) => {
                // A read-only text buffer: selectable and copyable with the keyboard too.
                let mut text = stack;
                ui.add(egui::TextEdit::multiline(&mut text).code_editor().desired_width(f32::INFINITY).desired_rows(4));
            }
            None => {
                ui.label(egui::RichText::new("No stack was recorded for this error.").weak());
            }
        }

        ui.add_space(6.0);
        ui.strong("Where it happened");
        egui::Grid::new("error_context").num_columns(2).spacing([12.0, 4.0]).show(ui, |ui| {
            ui.label("Session");
            link_ui(&mut app.commands, ui, egui::RichText::new(&detail.session.session_id).monospace(), DetailPage::Session);
            ui.end_row();
            if let Some(view) = detail.view_of(index).and_then(|v| detail.events.get(v)) {
                ui.label("View");
                link_ui(&mut app.commands, ui, view.label(), DetailPage::View(view.event_pk));
                ui.end_row();
            }
            if let Some(action) = detail.action_of(index).and_then(|a| detail.events.get(a)) {
                ui.label("Action");
                // An action has no page of its own: it opens its view.
                match detail.event_index(action.event_pk).and_then(|a| detail.view_of(a)).and_then(|v| detail.events.get(v)) {
                    Some(view) => link_ui(&mut app.commands, ui, action.label(), DetailPage::View(view.event_pk)),
                    None => {
                        ui.label(action.label());
                    }
                }
                ui.end_row();
            }
        });

        ui.add_space(6.0);
        same_error_ui(app, ui, error.time_ms);

        ui.add_space(6.0);
        egui::CollapsingHeader::new("Error fields").default_open(false).show(ui, |ui| event_fields_ui(&mut app.commands, ui, &error.fields));
    });
}

/// How often this error (type and message) happened across the data, when first and last,
/// and a chart of its occurrences over the data's span with this one marked.
fn same_error_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, this_time_ms: i64) {
    let Some(occurrences) = app.error_occurrences.clone() else { return };
    let utc = app.settings.show_utc;
    ui.horizontal_wrapped(|ui| match &occurrences.spread {
        None => {
            ui.spinner();
            ui.label("Counting this error in other sessions…");
        }
        Some(spread) => {
            let others = spread.sessions.saturating_sub(1);
            ui.label(format!(
                "Same error (type and message) in {} other session{} ({} time{} in all)",
                format::grouped(others),
                if others == 1 { "" } else { "s" },
                format::grouped(spread.events),
                if spread.events == 1 { "" } else { "s" }
            ));
        }
    });
    if let Some(spread) = &occurrences.spread {
        if let (Some(first_ms), Some(last_ms)) = (spread.first_ms, spread.last_ms) {
            ui.label(egui::RichText::new(format!("First seen {} · last seen {}", format::time_text(first_ms, utc), format::time_text(last_ms, utc))).weak());
        }
        if spread.events > 0 {
            error_spread_chart_ui(ui, spread, this_time_ms, utc);
        }
        if let Some(pattern) = spread.pattern.as_ref().filter(|p| p.messages > 1) {
            pattern_ui(&mut app.commands, ui, pattern);
        }
    }
    let mut terms = Vec::new();
    if let Some(t) = &occurrences.error_type {
        terms.push(term_text("error_type", t, false));
    }
    if let Some(m) = &occurrences.error_message {
        terms.push(term_text("error_message", m, false));
    }
    if !terms.is_empty() {
        ui.horizontal(|ui| {
            let query = terms.join(" ");
            if ui.button("Show sessions with this error").on_hover_text("Replace the explorer's query with this error's type and message").clicked() {
                app.commands.push(Command::SetQuery(query.clone()));
            }
            let hint = "Every occurrence, newest first, in the Errors tab (the query becomes this error's type and message)";
            if ui.button("List these errors").on_hover_text(hint).clicked() {
                app.commands.push(Command::SetQuery(query));
                app.commands.push(Command::ShowTab(crate::app::MainTab::Errors));
            }
        });
    }
}

/// Occurrences of the error per time bucket over the data's span; a line marks this one.
fn error_spread_chart_ui(ui: &mut egui::Ui, spread: &ErrorSpread, this_time_ms: i64, utc: bool) {
    let bucket_ms = spread.bucket_ms as f64;
    let bars: Vec<Bar> = spread
        .counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let start_ms = spread.from_ms + i as i64 * spread.bucket_ms;
            Bar::new(start_ms as f64 + bucket_ms / 2.0, count as f64).width(bucket_ms * 0.9).name(format::time_text(start_ms, utc))
        })
        .collect();
    chart_axes::with_time_axis(chart_axes::fixed_plot("error_spread", 90.0), utc)
        .y_grid_spacer(|input| chart_axes::count_marks(input, chart_axes::VALUE_LABEL_Y_PT))
        .y_axis_formatter(|mark, _| chart_axes::count_mark_text(mark.value))
        .show(ui, |plot_ui| {
            plot_ui.bar_chart(
                BarChart::new("Occurrences", bars)
                    .color(kind_color("error"))
                    .element_formatter(Box::new(|bar, _| format!("from {}\n{} times", bar.name, bar.value))),
            );
            plot_ui.vline(VLine::new("This error", this_time_ms as f64).color(THIS_ERROR_MARK_COLOR).width(1.5));
        });
}

/// The line marking this error on the chart: amber, apart from the red bars in both themes.
const THIS_ERROR_MARK_COLOR: egui::Color32 = egui::Color32::from_rgb(230, 170, 30);

/// The errors of this type whose message differs from this one only in numbers and ids.
fn pattern_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, pattern: &ErrorPattern) {
    let Some(text) = pattern.pattern.as_deref() else { return };
    ui.add_space(4.0);
    ui.horizontal_wrapped(|ui| {
        ui.label("Its pattern");
        ui.label(egui::RichText::new(text).monospace());
        ui.label(format!(
            "(numbers and ids as *): {} times in {} sessions, {} different messages",
            format::grouped(pattern.count),
            format::grouped(pattern.sessions),
            format::grouped(pattern.messages)
        ));
    });
    let mut terms: Vec<String> = pattern.error_type.iter().map(|t| term_text("error_type", t, false)).collect();
    terms.push(crate::query::wildcard_term_text("error_message", text));
    let filter = terms.join(" ");
    if ui.button("Show sessions with this pattern").on_hover_text(format!("Query: {filter}")).clicked() {
        commands.push(Command::SetQuery(filter));
    }
}
