//! The session timeline: options, stepping between time points, a compact track of the
//! session on a time axis, and the list of events (only visible rows are laid out).

use super::detail::page_for_event;
use super::kind_color;
use crate::app::{format, Command, ExplorerApp};
use crate::store::SessionDetail;

const ROW_HEIGHT: f32 = 20.0;
const TRACK_HEIGHT: f32 = 38.0;

pub fn timeline_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, detail: &SessionDetail) {
    let mut options = app.timeline;
    let shown = crate::app::shown_events(detail, app.timeline, &app.timeline_find);
    let points: Vec<i64> = shown.iter().map(|&i| detail.events[i].event_pk).collect();
    let position = app.timeline_cursor.and_then(|pk| points.iter().position(|p| *p == pk));
    ui.horizontal_wrapped(|ui| {
        ui.strong(format!("Timeline ({} events)", detail.events.len()));
        ui.toggle_value(&mut options.relative, "Relative time").on_hover_text("Time since the session start, or absolute time");
        ui.toggle_value(&mut options.show_resources, "Resources");
        ui.toggle_value(&mut options.show_long_tasks, "Long tasks");
        let order = if options.descending { "Newest first" } else { "Oldest first" };
        if ui.button(order).on_hover_text("Reverse the order").clicked() {
            options.descending = !options.descending;
        }
    });
    if options != app.timeline {
        app.commands.push(Command::SetTimelineOptions(options));
    }
    find_ui(app, ui, detail, shown.len());
    ui.horizontal(|ui| {
        if ui.add_enabled(position != Some(0), egui::Button::new("⏶ Previous")).on_hover_text("Previous time point (Left)").clicked() {
            app.commands.push(Command::StepTimePoint(-1));
        }
        let last = points.len().saturating_sub(1);
        if ui.add_enabled(position != Some(last), egui::Button::new("Next ⏷")).on_hover_text("Next time point (Right)").clicked() {
            app.commands.push(Command::StepTimePoint(1));
        }
        match position {
            Some(i) => ui.label(format!("Time point {} of {}", i + 1, points.len())),
            None => ui.label(egui::RichText::new(format!("{} time points", points.len())).weak()),
        };
    });
    track_ui(app, ui, detail);
    list_ui(app, ui, detail, &shown);
}

/// The session on a time axis: views as spans, actions and errors as marks, the cursor as a line.
/// Hovering names the nearest event; clicking opens it.
fn track_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, detail: &SessionDetail) {
    let start = detail.session.start_ms.unwrap_or(0);
    let end = detail
        .events
        .iter()
        .map(|e| e.time_ms + e.duration_ns().unwrap_or(0) / 1_000_000)
        .chain(detail.session.end_ms)
        .max()
        .unwrap_or(start)
        .max(start + 1);
    let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width(), TRACK_HEIGHT), egui::Sense::click());
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals();
    painter.rect_filled(rect, 3.0, visuals.extreme_bg_color);
    let x_of = |t: i64| rect.left() + 4.0 + (rect.width() - 8.0) * ((t - start) as f32 / (end - start) as f32);
    let options = app.timeline;
    let mut marks: Vec<(f32, usize)> = Vec::new();
    for (i, event) in detail.events.iter().enumerate() {
        if !event.is_time_point(options.show_resources, options.show_long_tasks) {
            continue;
        }
        let x = x_of(event.time_ms);
        let color = kind_color(&event.kind);
        match event.kind.as_str() {
            "view" => {
                let until = event.time_ms + event.duration_ns().unwrap_or(0) / 1_000_000;
                let span = egui::Rect::from_x_y_ranges(x..=x_of(until).max(x + 3.0), rect.top() + 5.0..=rect.top() + 15.0);
                painter.rect_filled(span, 2.0, color.gamma_multiply(0.8));
            }
            "error" => {
                painter.circle_filled(egui::pos2(x, rect.top() + 28.0), 4.0, color);
            }
            _ => {
                painter.line_segment([egui::pos2(x, rect.top() + 19.0), egui::pos2(x, rect.bottom() - 3.0)], egui::Stroke::new(2.0, color));
            }
        }
        marks.push((x, i));
    }
    if let Some(cursor) = app.timeline_cursor.and_then(|pk| detail.events.iter().find(|e| e.event_pk == pk)) {
        let x = x_of(cursor.time_ms);
        painter.line_segment([egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())], egui::Stroke::new(1.5, visuals.strong_text_color()));
    }
    let nearest = response.hover_pos().and_then(|pos| {
        marks
            .iter()
            .map(|(x, i)| ((x - pos.x).abs(), *i))
            .filter(|(distance, _)| *distance <= 6.0)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, i)| i)
    });
    if let Some(event) = nearest.and_then(|i| detail.events.get(i)) {
        let offset = format::human_duration_ms(event.time_ms - start);
        response.clone().on_hover_text_at_pointer(format!("+{offset}  {}: {}", event.kind, event.label()));
    }
    if response.clicked() {
        if let Some(i) = nearest {
            if let Some(event) = detail.events.get(i) {
                app.commands.push(Command::SetTimelineCursor(Some(event.event_pk)));
            }
            if let Some(page) = page_for_event(detail, i) {
                app.commands.push(Command::OpenDrillDown(page));
            }
        }
    }
}

/// The entries `shown` (indexes into the events, in order) as rows.
fn list_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, detail: &SessionDetail, shown: &[usize]) {
    let options = app.timeline;
    let utc = app.settings.show_utc;
    let start = detail.session.start_ms.unwrap_or(0);
    let cursor_row = app.timeline_cursor.and_then(|pk| shown.iter().position(|i| detail.events[*i].event_pk == pk));
    let mut scroll = egui::ScrollArea::vertical().id_salt("timeline").auto_shrink([false, false]);
    if app.scroll_to_cursor {
        if let Some(row) = cursor_row {
            // Keep the cursor's row in the middle of the list.
            let spacing = ui.spacing().item_spacing.y;
            let offset = (row as f32 * (ROW_HEIGHT + spacing) - ui.available_height() / 2.0).max(0.0);
            scroll = scroll.vertical_scroll_offset(offset);
        }
        app.scroll_to_cursor = false;
    }
    scroll.show_rows(ui, ROW_HEIGHT, shown.len(), |ui, rows| {
        for row in rows {
            let Some(&index) = shown.get(row) else { continue };
            let event = &detail.events[index];
            ui.horizontal(|ui| {
                ui.set_height(ROW_HEIGHT);
                let time = if options.relative {
                    format!("+{}", format::human_duration_ms(event.time_ms - start))
                } else {
                    format::time_text(event.time_ms, utc)
                };
                ui.add_sized([if options.relative { 80.0 } else { 130.0 }, ROW_HEIGHT], egui::Label::new(egui::RichText::new(time).monospace().small()));
                ui.add_sized([62.0, ROW_HEIGHT], egui::Label::new(egui::RichText::new(&event.kind).color(kind_color(&event.kind)).strong()));
                let label = event.label();
                let name = label.lines().next().unwrap_or("");
                let selected = cursor_row == Some(row);
                let response = ui.add(egui::Button::selectable(selected, name).truncate());
                if response.clicked() {
                    app.commands.push(Command::SetTimelineCursor(Some(event.event_pk)));
                    if let Some(page) = page_for_event(detail, index) {
                        app.commands.push(Command::OpenDrillDown(page));
                    }
                }
                response.on_hover_text(match event.kind.as_str() {
                    "error" => "Open the error",
                    _ => "Open the view's performance",
                });
            });
        }
    });
}

/// Find in the timeline: only the events holding the text are listed and stepped through.
/// `matching`: how many entries hold the text (those listed).
fn find_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, detail: &SessionDetail, matching: usize) {
    ui.horizontal(|ui| {
        let mut text = app.timeline_find.clone();
        let edit = egui::TextEdit::singleline(&mut text).hint_text("Find in the timeline: a page, action, error, URL, status").desired_width(260.0);
        if ui.add(edit).changed() {
            app.commands.push(Command::SetTimelineFind(text));
        }
        if !app.timeline_find.is_empty() {
            let options = app.timeline;
            let all = detail.events.iter().filter(|e| e.is_time_point(options.show_resources, options.show_long_tasks)).count();
            ui.label(egui::RichText::new(format!("{matching} of {all} events")).weak());
            if ui.small_button("Show all").on_hover_text("Clear the find text").clicked() {
                app.commands.push(Command::SetTimelineFind(String::new()));
            }
        }
    });
}
