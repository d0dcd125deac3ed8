//! A view's performance: loading time and web vitals rated by the standard thresholds, its long
//! tasks, a filterable waterfall of its resources, its errors and actions, and its fields.

use super::detail::{event_fields_ui, field_actions_and_more_ui, field_actions_ui, link_ui};
use super::kind_color;
use crate::app::{format, Command, DetailPage, ExplorerApp, ResourceFilter};
use crate::store::{SessionDetail, TimelineEvent};
use crate::vitals::{Rating, VIEW_METRICS};
use egui_extras::{Column, TableBuilder};

/// Resource types offered by the waterfall's filter; `None` is all of them.
const RESOURCE_TYPES: &[(Option<&str>, &str)] = &[
    (None, "All types"),
    (Some("xhr|fetch"), "Fetch/XHR"),
    (Some("document"), "Document"),
    (Some("js"), "JS"),
    (Some("css"), "CSS"),
    (Some("image"), "Image"),
    (Some("font"), "Font"),
    (Some("media"), "Media"),
    (Some("other"), "Other"),
];

pub fn rating_color(rating: Rating) -> egui::Color32 {
    match rating {
        Rating::Good => egui::Color32::from_rgb(46, 160, 67),
        Rating::NeedsImprovement => egui::Color32::from_rgb(230, 150, 20),
        Rating::Poor => egui::Color32::from_rgb(218, 54, 51),
    }
}

/// `page_pk` is the view's key, or a resource's (from the Resources tab): its view then shows
/// with the resource marked in the waterfall.
pub fn view_page_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, detail: &SessionDetail, page_pk: i64) {
    let Some(page_index) = detail.event_index(page_pk) else {
        ui.label("This view is not in the session any more.");
        return;
    };
    let (view_index, marked_pk) = if detail.events[page_index].kind == "view" {
        (page_index, None)
    } else {
        match detail.view_of(page_index) {
            Some(view_index) => (view_index, Some(page_pk)),
            None => {
                ui.label(format!("This {} was not loaded in a view of the session.", detail.events[page_index].kind.replace('_', " ")));
                return;
            }
        }
    };
    let view = &detail.events[view_index];
    let breakdown = detail.view_breakdown(view_index);
    let start = detail.session.start_ms.unwrap_or(0);
    ui.horizontal(|ui| {
        link_ui(&mut app.commands, ui, "Session", DetailPage::Session);
        ui.label("›");
        ui.label(egui::RichText::new("View").color(kind_color("view")).strong());
        ui.add(egui::Label::new(egui::RichText::new(view.label()).strong()).truncate());
    });
    ui.label(
        egui::RichText::new(format!(
            "+{} into the session, {} time spent, {}",
            format::human_duration_ms(view.time_ms - start),
            view.duration_ns().map(|ns| format::human_duration_ms(ns / 1_000_000)).unwrap_or_else(|| "no".into()),
            view.get_str("view_loading_type").unwrap_or("unknown loading type")
        ))
        .weak(),
    );
    egui::ScrollArea::vertical().id_salt("view_page").auto_shrink([false, false]).show(ui, |ui| {
        egui::CollapsingHeader::new("Performance").default_open(true).show(ui, |ui| metrics_ui(&mut app.commands, ui, view));
        egui::CollapsingHeader::new(format!("Resources ({})", breakdown.resources.len()))
            .id_salt("resources")
            .default_open(true)
            .show(ui, |ui| waterfall_ui(app, ui, detail, view, &breakdown.resources, marked_pk));
        egui::CollapsingHeader::new(format!("Long tasks ({})", breakdown.long_tasks.len())).id_salt("long_tasks").default_open(true).show(ui, |ui| {
            for &i in &breakdown.long_tasks {
                let task = &detail.events[i];
                ui.horizontal(|ui| {
                    ui.monospace(format!("+{:>8}", format::human_duration_ms(task.time_ms - view.time_ms)));
                    ui.label(task.label());
                    if let Some(blocking) = task.get("blocking_duration").and_then(|v| v.as_i64()) {
                        ui.label(egui::RichText::new(format!("blocking {} ms", blocking / 1_000_000)).weak());
                    }
                });
            }
        });
        egui::CollapsingHeader::new(format!("Errors ({})", breakdown.errors.len())).id_salt("errors").default_open(true).show(ui, |ui| {
            for &i in &breakdown.errors {
                let error = &detail.events[i];
                ui.horizontal(|ui| {
                    ui.monospace(format!("+{:>8}", format::human_duration_ms(error.time_ms - view.time_ms)));
                    let text = egui::RichText::new(error.label().lines().next().unwrap_or("").to_string()).color(kind_color("error"));
                    link_ui(&mut app.commands, ui, text, DetailPage::Error(error.event_pk));
                });
            }
        });
        egui::CollapsingHeader::new(format!("Actions ({})", breakdown.actions.len())).id_salt("actions").default_open(true).show(ui, |ui| {
            for &i in &breakdown.actions {
                let action = &detail.events[i];
                ui.horizontal(|ui| {
                    ui.monospace(format!("+{:>8}", format::human_duration_ms(action.time_ms - view.time_ms)));
                    ui.label(egui::RichText::new(action.label()).color(kind_color("action")));
                    if let Some(kind) = action.get_str("action_type") {
                        ui.label(egui::RichText::new(kind).weak());
                    }
                    if let Some(ns) = action.duration_ns() {
                        ui.label(egui::RichText::new(format!("{} ms", ns / 1_000_000)).weak());
                    }
                });
            }
        });
        egui::CollapsingHeader::new("View fields").default_open(false).show(ui, |ui| event_fields_ui(&mut app.commands, ui, &view.fields));
    });
}

fn metrics_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, view: &TimelineEvent) {
    let mut any = false;
    egui::Grid::new("view_metrics").num_columns(3).spacing([16.0, 4.0]).striped(true).show(ui, |ui| {
        for metric in VIEW_METRICS {
            let Some(raw) = view.get(metric.key).and_then(|v| v.as_f64()) else { continue };
            any = true;
            let value = metric.display_value(raw);
            let rating = metric.rate(value);
            ui.label(metric.name).on_hover_text(metric.key);
            let text = egui::RichText::new(metric.format(value)).strong();
            let text = match rating {
                Some(r) => text.color(rating_color(r)),
                None => text,
            };
            let response = ui.add(egui::Label::new(text).sense(egui::Sense::click())).on_hover_text("Click for actions");
            field_actions_ui(commands, &response, metric.key, &raw.to_string());
            match (rating, metric.thresholds) {
                (Some(r), Some((good, poor))) => ui.label(egui::RichText::new(r.label()).color(rating_color(r))).on_hover_text(format!(
                    "good ≤ {}, poor > {}",
                    metric.format(good),
                    metric.format(poor)
                )),
                _ => ui.label(""),
            };
            ui.end_row();
        }
    });
    if !any {
        ui.label(egui::RichText::new("This view carries no timings.").weak());
    }
}

fn matches(filter: &ResourceFilter, resource: &TimelineEvent) -> bool {
    if let Some(types) = &filter.resource_type {
        let kind = resource.get_str("resource_type").unwrap_or("other");
        if !types.split('|').any(|t| t == kind) {
            return false;
        }
    }
    let needle = filter.search.trim().to_lowercase();
    if needle.is_empty() {
        return true;
    }
    ["resource_url", "resource_method", "resource_status", "resource_type"]
        .iter()
        .filter_map(|k| resource.get(k))
        .any(|v| v.to_string().to_lowercase().contains(&needle))
}

/// Resources as a waterfall: start offset and duration bars on the view's time axis.
/// `marked_pk`: a resource to highlight (the one the Resources tab opened this view from).
fn waterfall_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, detail: &SessionDetail, view: &TimelineEvent, resources: &[usize], marked_pk: Option<i64>) {
    let mut filter = app.resource_filter.clone();
    ui.horizontal(|ui| {
        let current = RESOURCE_TYPES.iter().find(|(t, _)| t.map(str::to_string) == filter.resource_type).map(|(_, name)| *name).unwrap_or("All types");
        egui::ComboBox::from_id_salt("resource_type").selected_text(current).show_ui(ui, |ui| {
            for (types, name) in RESOURCE_TYPES {
                ui.selectable_value(&mut filter.resource_type, types.map(str::to_string), *name);
            }
        });
        ui.add(egui::TextEdit::singleline(&mut filter.search).hint_text("Search URL, method, status").desired_width(200.0));
    });
    if filter != app.resource_filter {
        app.commands.push(Command::SetResourceFilter(filter.clone()));
    }
    let shown: Vec<&TimelineEvent> = resources.iter().map(|&i| &detail.events[i]).filter(|r| matches(&filter, r)).collect();
    ui.label(egui::RichText::new(format!("{} of {} resources", shown.len(), resources.len())).weak());
    if shown.is_empty() {
        return;
    }
    // The axis spans from the view's start to the end of its last resource.
    let span_ms = shown
        .iter()
        .map(|r| (r.time_ms - view.time_ms).max(0) + r.duration_ns().unwrap_or(0) / 1_000_000)
        .max()
        .unwrap_or(1)
        .max(1) as f32;
    let view_url = view.get_str("view_url");
    let commands = &mut app.commands;
    TableBuilder::new(ui)
        .id_salt("waterfall")
        .striped(true)
        .resizable(true)
        .vscroll(false)
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::initial(150.0).at_least(60.0).clip(true))
        .column(Column::initial(140.0).at_least(60.0))
        .column(Column::initial(60.0).at_least(40.0))
        .column(Column::initial(46.0).at_least(30.0))
        .column(Column::initial(44.0).at_least(30.0))
        .column(Column::initial(60.0).at_least(30.0))
        .column(Column::remainder().at_least(40.0).clip(true))
        .header(20.0, |mut header| {
            for title in ["URL", "Waterfall", "Duration", "Method", "Status", "Size", "Type"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(20.0, shown.len(), |mut row| {
                let resource = shown[row.index()];
                row.set_selected(marked_pk == Some(resource.event_pk));
                let offset_ms = (resource.time_ms - view.time_ms).max(0);
                let duration_ms = resource.duration_ns().unwrap_or(0) / 1_000_000;
                row.col(|ui| {
                    let url = resource.get_str("resource_url").unwrap_or("");
                    let shown = crate::app::format::short_resource_url(url, view_url);
                    let response = ui.add(egui::Label::new(shown).truncate().sense(egui::Sense::click())).on_hover_text(url);
                    // The field's actions, and every request to this URL across the sessions.
                    field_actions_and_more_ui(commands, &response, "resource_url", url, |commands, ui| {
                        ui.separator();
                        let hint = "Every request with this method to this URL (any query string), in the Resources tab: the query becomes them";
                        if ui.button("List requests to this URL").on_hover_text(hint).clicked() {
                            commands.extend(list_requests_to_url_commands(resource.get_str("resource_method"), url));
                        }
                    });
                });
                row.col(|ui| {
                    let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width(), 12.0), egui::Sense::hover());
                    let x0 = rect.left() + rect.width() * (offset_ms as f32 / span_ms);
                    let x1 = (rect.left() + rect.width() * ((offset_ms + duration_ms) as f32 / span_ms)).max(x0 + 2.0);
                    let bar = egui::Rect::from_x_y_ranges(x0..=x1.min(rect.right()), rect.y_range());
                    let failed = resource.get("resource_status").and_then(|v| v.as_i64()).is_some_and(|s| s >= 400 || s == 0);
                    let color = if failed { kind_color("error") } else { kind_color("resource") };
                    ui.painter().rect_filled(bar, 2.0, color);
                    response.on_hover_text(format!("starts +{offset_ms} ms, takes {duration_ms} ms"));
                });
                row.col(|ui| {
                    ui.label(format!("{duration_ms} ms"));
                });
                row.col(|ui| {
                    ui.label(resource.get_str("resource_method").unwrap_or(""));
                });
                row.col(|ui| {
                    let status = resource.get("resource_status").map(|v| v.to_string()).unwrap_or_default();
                    let failed = status.parse::<i64>().is_ok_and(|s| s >= 400 || s == 0);
                    let text = egui::RichText::new(&status);
                    let response = ui.add(egui::Label::new(if failed { text.color(kind_color("error")) } else { text }).sense(egui::Sense::click()));
                    field_actions_ui(commands, &response, "resource_status", &status);
                });
                row.col(|ui| {
                    let size = resource.get("resource_size").and_then(|v| v.as_i64()).map(|b| crate::ingest::human_bytes(b.max(0) as u64));
                    ui.label(size.unwrap_or_default());
                });
                row.col(|ui| {
                    ui.label(resource.get_str("resource_type").unwrap_or(""));
                });
            });
        });
}

/// *List requests to this URL*: the query becomes the method and the URL without its query
/// string (a prefix, as *By URL* rows filter), and the Resources tab lists them.
pub fn list_requests_to_url_commands(method: Option<&str>, url: &str) -> Vec<Command> {
    let mut terms = Vec::new();
    if let Some(method) = method.filter(|m| !m.is_empty()) {
        terms.push(crate::query::term_text("resource_method", method, false));
    }
    terms.push(crate::query::wildcard_term_text("resource_url", &format!("{}*", crate::store::url_without_query(url))));
    vec![
        Command::SetQuery(terms.join(" ")),
        Command::SetResourcesByUrl(false),
        Command::SetResourceFind(String::new()),
        Command::ShowTab(crate::app::MainTab::Resources),
    ]
}
