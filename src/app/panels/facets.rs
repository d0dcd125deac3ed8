//! Quick-filter facets: the top values of app, env, browser, OS, country, type and errors,
//! then of the requests' status and type and the errors' source.

use crate::app::{format, Command, ExplorerApp};

pub fn facets_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    ui.add_space(4.0);
    ui.heading("Quick filters");
    egui::ScrollArea::vertical().show(ui, |ui| {
        if app.facets.is_empty() {
            ui.label(egui::RichText::new("No sessions yet").weak());
        }
        for facet in app.facets.iter().chain(&app.event_value_facets) {
            egui::CollapsingHeader::new(facet.title).id_salt(facet.key).default_open(true).show(ui, |ui| {
                if facet.values.is_empty() {
                    ui.label(egui::RichText::new("(no values)").weak());
                }
                let max = facet.values.iter().map(|v| v.1).max().unwrap_or(1).max(1);
                for (value, count) in &facet.values {
                    ui.horizontal(|ui| {
                        let label = if value.is_empty() { "(empty)" } else { value.as_str() };
                        let label_width = (ui.available_width() - 52.0).max(40.0);
                        let response = ui
                            .scope(|ui| {
                                ui.set_max_width(label_width);
                                ui.add(egui::Button::new(label).frame(false).truncate())
                            })
                            .inner
                            .on_hover_text(format!("Filter: {}:{value}", facet.key));
                        // A thin bar under the value shows its share.
                        let share = *count as f32 / max as f32;
                        let under = response.rect;
                        let bar = egui::Rect::from_min_size(under.left_bottom() - egui::vec2(0.0, 2.0), egui::vec2(label_width * share, 2.0));
                        ui.painter().rect_filled(bar, 1.0, ui.visuals().selection.bg_fill);
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            ui.label(egui::RichText::new(format::grouped(*count)).weak().small());
                        });
                        if response.clicked() {
                            let command = if facet.key == "error_count" {
                                let text = if value == "with errors" { "error_count:>0" } else { "error_count:0" };
                                let query = if app.query_text.trim().is_empty() { text.to_string() } else { format!("{} {text}", app.query_text.trim()) };
                                Command::SetQuery(query)
                            } else {
                                Command::AddQueryTerm { key: facet.key.to_string(), value: value.clone(), negate: false }
                            };
                            app.commands.push(command);
                        }
                    });
                }
            });
        }
    });
}
