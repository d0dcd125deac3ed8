//! A session's bound view: its views' loading times against the app-wide p75, and its errors and
//! resources by type. Clicking a view's bar opens its performance.

use super::kind_color;
use super::view_performance::rating_color;
use crate::app::{Command, DetailPage, ExplorerApp};
use crate::store::SessionDetail;
use egui_plot::{Bar, BarChart, HLine, Plot};
use std::collections::BTreeMap;

pub fn bound_view_ui(app: &mut ExplorerApp, ui: &mut egui::Ui, detail: &SessionDetail) {
    let loading = crate::vitals::metric("loading_time");
    let views: Vec<(usize, f64)> = detail
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == "view")
        .filter_map(|(i, e)| e.get("loading_time").and_then(|v| v.as_f64()).map(|ns| (i, ns / 1e6)))
        .collect();
    let app_p75 = app.loading_p75_by_app.get(&detail.session.app_id).copied();
    egui::ScrollArea::vertical().id_salt("bound_view").auto_shrink([false, false]).show(ui, |ui| {
        ui.strong("Loading time of this session's views");
        match app_p75 {
            Some(Some(p75)) => ui.label(format!("The line is the app's p75 over all sessions: {p75:.0} ms")),
            Some(None) => ui.label("The app has no loading times to compare with."),
            None => ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Computing the app's p75…");
            }).response,
        };
        if views.is_empty() {
            ui.label(egui::RichText::new("No view of this session carries a loading time.").weak());
        } else {
            let bars: Vec<Bar> = views
                .iter()
                .enumerate()
                .map(|(n, (i, ms))| {
                    let color = loading.and_then(|m| m.rate(*ms)).map(rating_color).unwrap_or(kind_color("view"));
                    Bar::new(n as f64, *ms).width(0.7).fill(color).name(detail.events[*i].label())
                })
                .collect();
            let response = Plot::new("bound_view_loading")
                .height(180.0)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .allow_boxed_zoom(false)
                .include_y(0.0)
                .y_axis_label("ms")
                .show(ui, |plot_ui| {
                    plot_ui.bar_chart(
                        BarChart::new("Loading time", bars).element_formatter(Box::new(|bar, _| format!("{}\n{:.0} ms", bar.name, bar.value))),
                    );
                    if let Some(Some(p75)) = app_p75 {
                        plot_ui.hline(HLine::new("App p75", p75).color(egui::Color32::from_rgb(230, 150, 20)).width(1.5));
                    }
                });
            if response.response.clicked() {
                if let Some(pos) = response.response.interact_pointer_pos() {
                    let n = response.transform.value_from_position(pos).x.round();
                    if n >= 0.0 {
                        if let Some((i, _)) = views.get(n as usize) {
                            app.commands.push(Command::OpenDrillDown(DetailPage::View(detail.events[*i].event_pk)));
                        }
                    }
                }
            }
        }
        ui.add_space(8.0);
        ui.columns(2, |columns| {
            counts_ui(&mut columns[0], "Errors by type", detail, "error", "error_type");
            counts_ui(&mut columns[1], "Resources by type", detail, "resource", "resource_type");
        });
    });
}

fn counts_ui(ui: &mut egui::Ui, title: &str, detail: &SessionDetail, kind: &str, key: &str) {
    ui.strong(title);
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for event in detail.events.iter().filter(|e| e.kind == kind) {
        *counts.entry(event.get_str(key).unwrap_or("(none)")).or_insert(0) += 1;
    }
    if counts.is_empty() {
        ui.label(egui::RichText::new("none").weak());
        return;
    }
    let max = counts.values().copied().max().unwrap_or(1).max(1);
    let mut sorted: Vec<(&str, u64)> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (value, count) in sorted {
        ui.horizontal(|ui| {
            ui.add_sized([90.0, 18.0], egui::Label::new(value).truncate());
            let width = (ui.available_width() - 40.0).max(20.0);
            let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 12.0), egui::Sense::hover());
            let filled = egui::Rect::from_min_size(rect.min, egui::vec2(width * (count as f32 / max as f32), rect.height()));
            ui.painter().rect_filled(filled, 2.0, kind_color(kind));
            ui.label(count.to_string());
        });
    }
}
