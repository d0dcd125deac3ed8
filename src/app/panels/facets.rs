//! Quick-filter facets: the top values of app, env, browser, OS, country, type and errors.

use crate::app::{format, Command, ExplorerApp};

pub fn facets_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    ui.add_space(4.0);
    ui.heading("Quick filters");
    egui::ScrollArea::vertical().show(ui, |ui| {
        if app.facets.is_empty() {
            ui.label(egui::RichText::new("No sessions yet").weak());
        }
        for facet in &app.facets {
            egui::CollapsingHeader::new(facet.title).id_salt(facet.key).default_open(true).show(ui, |ui| {
                if facet.values.is_empty() {
                    ui.label(egui::RichText::new("(no values)").weak());
                }
                let max = facet.values.iter().map(|v| v.1).max().unwrap_or(1).max(1);
                for (value, count) in &facet.values {
                    ui.horizontal(|ui| {
                        let label = if value.is_empty() { "(empty)" } else { value.as_str() };
                        // Bar and count first, at a fixed width, so long values truncate cleanly.
                        let (rect, _) = ui.allocate_exact_size(egui::vec2(36.0, 8.0), egui::Sense::hover());
                        let width = 36.0 * (*count as f32 / max as f32);
                        let bar = egui::Rect::from_min_size(rect.min, egui::vec2(width.max(1.0), rect.height()));
                        ui.painter().rect_filled(bar, 2.0, ui.visuals().selection.bg_fill);
                        ui.add_sized([44.0, 16.0], egui::Label::new(egui::RichText::new(format::grouped(*count)).weak().small()));
                        let response = ui
                            .add(egui::Button::new(label).frame(false).truncate())
                            .on_hover_text(format!("Filter: {}:{value}", facet.key));
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
