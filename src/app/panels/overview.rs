//! The Overview tab: charts of the sessions the query and time range select (egui_plot).
//! Hovering shows exact values, clicking a bar or entry filters the explorer to it, dragging
//! across a time chart sets the time range.

use super::kind_color;
use super::view_performance::rating_color;
use crate::app::settings::TimeRange;
use crate::app::chart_axes::{self, count_mark_text, duration_ms_mark_text, VALUE_LABEL_X_PT, VALUE_LABEL_Y_PT};
use crate::app::{format, Command, ExplorerApp};
use crate::store::overview::{Distribution, PageStat, VitalSummary};
use crate::store::Overview;
use crate::vitals::Rating;
use egui_plot::{Bar, BarChart, HoverPosition, Legend, Line, PlotPoints, Span};

const CHART_HEIGHT: f32 = 170.0;

pub fn overview_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    let Some(overview) = app.overview.take() else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Computing the overview…");
        });
        return;
    };
    if app.overview_loading() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(egui::RichText::new("Updating for the new query…").weak());
        });
    }
    egui::ScrollArea::vertical().id_salt("overview").auto_shrink([false, false]).show(ui, |ui| {
        summary_ui(ui, &overview);
        if overview.sessions == 0 {
            ui.add_space(20.0);
            ui.label("No sessions match the query and time range.");
            return;
        }
        ui.add_space(8.0);
        let utc = app.settings.show_utc;
        ui.columns(3, |columns| {
            columns[0].strong("Sessions, page views and unique users");
            let series = [
                ("Sessions", kind_color("view"), overview.buckets.iter().map(|b| b.sessions as f64).collect::<Vec<_>>()),
                ("Page views", kind_color("resource"), overview.buckets.iter().map(|b| b.page_views as f64).collect()),
                ("Unique users", kind_color("action"), overview.buckets.iter().map(|b| b.unique_users as f64).collect()),
            ];
            time_chart_ui(&mut app.commands, &mut columns[0], TimeChart { id: "traffic", legend: true, decimals: 0, y_axis: YAxis::Counts }, &overview, utc, |plot_ui| {
                for (name, color, values) in series {
                    plot_ui.line(Line::new(name, points(&overview, &values)).color(color).width(2.0));
                }
            });
            columns[1].strong("Errors");
            let errors: Vec<Bar> = overview
                .buckets
                .iter()
                .map(|b| Bar::new(mid(&overview, b.start_ms), b.errors as f64).width(overview.bucket_ms as f64 * 0.85))
                .collect();
            time_chart_ui(&mut app.commands, &mut columns[1], TimeChart { id: "errors", legend: false, decimals: 0, y_axis: YAxis::Counts }, &overview, utc, |plot_ui| {
                plot_ui.bar_chart(BarChart::new("Errors", errors).color(kind_color("error")));
            });
            columns[2].strong("Sessions with errors (%)");
            let share: PlotPoints<'static> = error_share_points(&overview).into_iter().collect();
            time_chart_ui(&mut app.commands, &mut columns[2], TimeChart { id: "error_share", legend: false, decimals: 1, y_axis: YAxis::Plain }, &overview, utc, |plot_ui| {
                plot_ui.line(Line::new("Sessions with errors %", share).color(egui::Color32::from_rgb(230, 150, 20)).width(2.0));
            });
        });
        ui.add_space(8.0);
        ui.heading("Web vitals");
        ui.label(egui::RichText::new("p75 over time with good / needs improvement / poor bands, and the distribution of all views").weak());
        for vital in overview.vitals.iter().filter(|v| v.count > 0) {
            vital_ui(&mut app.commands, ui, &overview, vital, utc);
        }
        ui.add_space(8.0);
        ui.columns(3, |columns| {
            pages_ui(&mut app.commands, &mut columns[0], "Top pages by views", &overview.top_pages_by_views, |p| (format::grouped(p.views), p.views as f64));
            pages_ui(&mut app.commands, &mut columns[1], "Slowest pages (avg loading)", &overview.top_pages_by_loading_time, |p| {
                let ms = p.avg_loading_time_ms.unwrap_or(0.0);
                (crate::vitals::metric("loading_time").map(|m| m.format(ms)).unwrap_or_else(|| format!("{ms:.0} ms")), ms)
            });
            pages_ui(&mut app.commands, &mut columns[2], "Top pages by errors", &overview.top_pages_by_errors, |p| (format::grouped(p.errors), p.errors as f64));
        });
        ui.add_space(8.0);
        ui.columns(overview.distributions.len().max(1), |columns| {
            for (column, distribution) in columns.iter_mut().zip(&overview.distributions) {
                distribution_ui(&mut app.commands, column, distribution, overview.sessions);
            }
        });
        ui.add_space(8.0);
        top_errors_ui(&mut app.commands, ui, &overview);
    });
    app.overview = Some(overview);
}

fn summary_ui(ui: &mut egui::Ui, o: &Overview) {
    ui.horizontal_wrapped(|ui| {
        let share = if o.sessions > 0 { o.sessions_with_errors as f64 * 100.0 / o.sessions as f64 } else { 0.0 };
        for (value, label) in [
            (format::grouped(o.sessions), "sessions"),
            (format::grouped(o.page_views), "page views"),
            (format::grouped(o.unique_users), "unique users"),
            (format::grouped(o.errors), "errors"),
            (format!("{share:.1}%"), "sessions with errors"),
        ] {
            ui.vertical(|ui| {
                ui.label(egui::RichText::new(value).size(22.0).strong());
                ui.label(egui::RichText::new(label).weak());
            });
            ui.add_space(24.0);
        }
    });
}

fn mid(o: &Overview, start_ms: i64) -> f64 {
    start_ms as f64 + o.bucket_ms as f64 / 2.0
}

/// The share of sessions with errors per bucket, in percent. A bucket where no session
/// started has no share (not 0%): the line skips it, as the vitals' lines skip buckets
/// without views.
fn error_share_points(o: &Overview) -> Vec<[f64; 2]> {
    o.buckets.iter().filter(|b| b.sessions > 0).map(|b| [mid(o, b.start_ms), b.error_session_share * 100.0]).collect()
}

fn points(o: &Overview, values: &[f64]) -> PlotPoints<'static> {
    o.buckets.iter().zip(values).map(|(b, v)| [mid(o, b.start_ms), *v]).collect()
}

/// A chart over the Overview's buckets. Hover shows the bucket and the exact value; a drag
/// across it sets the explorer's time range.
struct TimeChart<'a> {
    id: &'a str,
    legend: bool,
    /// Decimals of the values shown on hover.
    decimals: usize,
    y_axis: YAxis,
}

/// What a time chart's vertical axis measures: how it steps and reads.
#[derive(Clone, Copy)]
enum YAxis {
    /// Whole numbers, grouped: `2,500`.
    Counts,
    /// Durations in ms: `500 ms`, `2 s`.
    DurationMs,
    /// A share in percent or a score (CLS): as the number is.
    Plain,
}

impl YAxis {
    fn marks(self, input: egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
        match self {
            YAxis::Counts => chart_axes::count_marks(input, VALUE_LABEL_Y_PT),
            YAxis::DurationMs | YAxis::Plain => chart_axes::value_marks(input, VALUE_LABEL_Y_PT),
        }
    }

    fn label(self, value: f64) -> String {
        match self {
            YAxis::Counts => count_mark_text(value),
            YAxis::DurationMs => duration_ms_mark_text(value),
            YAxis::Plain => chart_axes::trimmed(value),
        }
    }
}

fn time_chart_ui(
    commands: &mut Vec<Command>,
    ui: &mut egui::Ui,
    chart: TimeChart<'_>,
    o: &Overview,
    utc: bool,
    add_items: impl FnOnce(&mut egui_plot::PlotUi<'_>),
) {
    let TimeChart { id, legend, decimals, y_axis } = chart;
    let drag_id = ui.scope_id().with(id).with("drag_from");
    let drag_from: Option<f64> = ui.memory(|m| m.data.get_temp(drag_id));
    let bucket_ms = o.bucket_ms;
    let mut plot = chart_axes::with_time_axis(chart_axes::fixed_plot(id, CHART_HEIGHT), utc)
        .y_grid_spacer(move |input| y_axis.marks(input))
        .y_axis_formatter(move |mark, _| y_axis.label(mark.value))
        .label_formatter(move |hover| match hover {
            HoverPosition::NearDataPoint { plot_name, position, .. } => {
                let start = position.x as i64 - bucket_ms / 2;
                Some(format!("{plot_name}\n{}\n{:.*}", format::time_text(start, utc), decimals, position.y))
            }
            HoverPosition::Elsewhere { .. } => None,
        });
    if legend {
        plot = plot.legend(Legend::default());
    }
    let response = plot.show(ui, |plot_ui| {
            add_items(plot_ui);
            if let (Some(from), Some(pointer)) = (drag_from, plot_ui.pointer_coordinate()) {
                plot_ui.span(Span::new("selection", from.min(pointer.x)..=from.max(pointer.x)).fill(egui::Color32::from_white_alpha(30)));
            }
        });
    let plot_x = |pos: egui::Pos2| response.transform.value_from_position(pos).x;
    if response.response.drag_started() {
        if let Some(pos) = response.response.interact_pointer_pos() {
            ui.memory_mut(|m| m.data.insert_temp(drag_id, plot_x(pos)));
        }
    }
    if response.response.drag_stopped() {
        ui.memory_mut(|m| m.data.remove::<f64>(drag_id));
        if let (Some(from), Some(pos)) = (drag_from, response.response.interact_pointer_pos()) {
            let to = plot_x(pos);
            let (from_ms, to_ms) = (from.min(to) as i64, from.max(to) as i64);
            if to_ms - from_ms >= 1000 {
                commands.push(Command::SetTimeRange(TimeRange::Custom { from_ms, to_ms }));
            }
        }
    }
}

fn rating_band_color(rating: Rating) -> egui::Color32 {
    rating_color(rating).gamma_multiply(0.18)
}

fn vital_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, o: &Overview, vital: &VitalSummary, utc: bool) {
    let unit = if vital.unit.is_empty() { String::new() } else { format!(" {}", vital.unit) };
    let metric = crate::vitals::metric(vital.key);
    let p75_text = |v: f64| metric.map(|m| m.format(v)).unwrap_or_else(|| format!("{v:.2}{unit}"));
    ui.horizontal(|ui| {
        ui.strong(vital.name);
        if let Some(p75) = vital.p75 {
            let rating = metric.and_then(|m| m.rate(p75));
            let text = egui::RichText::new(format!("p75 {}", p75_text(p75))).strong();
            ui.label(match rating {
                Some(r) => text.color(rating_color(r)),
                None => text,
            });
        }
        let share = |n: u64| if vital.count > 0 { n as f64 * 100.0 / vital.count as f64 } else { 0.0 };
        ui.label(egui::RichText::new(format!("{:.0}% good", share(vital.good))).color(rating_color(Rating::Good)));
        ui.label(egui::RichText::new(format!("{:.0}% needs improvement", share(vital.needs_improvement))).color(rating_color(Rating::NeedsImprovement)));
        ui.label(egui::RichText::new(format!("{:.0}% poor", share(vital.poor))).color(rating_color(Rating::Poor)));
        ui.label(egui::RichText::new(format!("{} views", format::grouped(vital.count))).weak());
    });
    // Buckets without a value are left out (egui_plot refuses NaN): the line joins the others.
    let p75_points: PlotPoints<'static> = o
        .buckets
        .iter()
        .zip(&vital.p75_by_bucket)
        .filter_map(|(b, v)| v.map(|v| [mid(o, b.start_ms), v]))
        .collect();
    let top = vital.p75_by_bucket.iter().flatten().copied().fold(0.0_f64, f64::max);
    let thresholds = vital.thresholds;
    ui.columns(2, |columns| {
        let decimals = if vital.unit.is_empty() { 3 } else { 0 };
        // Durations are in ms; a score (CLS) has no unit.
        let value_axis = if vital.unit.is_empty() { YAxis::Plain } else { YAxis::DurationMs };
        let id = format!("vital_{}", vital.key);
        time_chart_ui(commands, &mut columns[0], TimeChart { id: &id, legend: false, decimals, y_axis: value_axis }, o, utc, |plot_ui| {
            if let Some((good, poor)) = thresholds {
                let upper = top.max(poor * 1.2);
                for (range, rating) in [(0.0..=good, Rating::Good), (good..=poor, Rating::NeedsImprovement), (poor..=upper, Rating::Poor)] {
                    plot_ui.span(Span::new(rating.label(), range).axis(egui_plot::Axis::Y).fill(rating_band_color(rating)).border_width(0.0));
                }
            }
            plot_ui.line(Line::new(format!("{} p75", vital.name), p75_points).color(kind_color("view")).width(2.0));
        });
        let bars: Vec<Bar> = vital
            .distribution
            .iter()
            .map(|bin| {
                let width = bin.to.map(|to| to - bin.from).unwrap_or_else(|| vital.distribution.first().and_then(|b| b.to).unwrap_or(1.0));
                let rating = metric.and_then(|m| m.rate(bin.from + width / 2.0)).unwrap_or(Rating::Good);
                let range = match bin.to {
                    Some(to) => format!("{} – {}", p75_text(bin.from), p75_text(to)),
                    None => format!("≥ {}", p75_text(bin.from)),
                };
                Bar::new(bin.from + width / 2.0, bin.count as f64).width(width * 0.95).fill(rating_color(rating)).name(range)
            })
            .collect();
        chart_axes::fixed_plot(format!("dist_{}", vital.key), CHART_HEIGHT)
            .x_grid_spacer(|input| chart_axes::value_marks(input, VALUE_LABEL_X_PT))
            .x_axis_formatter(move |mark, _| value_axis.label(mark.value))
            .y_grid_spacer(|input| chart_axes::count_marks(input, VALUE_LABEL_Y_PT))
            .y_axis_formatter(|mark, _| count_mark_text(mark.value))
            .show(&mut columns[1], |plot_ui| {
                plot_ui.bar_chart(
                    BarChart::new(format!("{} distribution", vital.name), bars)
                        .element_formatter(Box::new(|bar, _| format!("{}\n{} views", bar.name, bar.value))),
                );
            });
    });
}

/// A top-pages list: each page's path as wide as the column leaves (a click filters the
/// explorer to it; hover shows the whole path), its value right-aligned, and behind both a bar
/// of the value against the list's largest.
fn pages_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, title: &str, pages: &[PageStat], value: impl Fn(&PageStat) -> (String, f64)) {
    const ROW_HEIGHT: f32 = 20.0;
    const VALUE_WIDTH: f32 = 72.0;
    ui.strong(title);
    if pages.is_empty() {
        ui.label(egui::RichText::new("none").weak());
    }
    let values: Vec<(String, f64)> = pages.iter().map(&value).collect();
    let largest = values.iter().map(|v| v.1).fold(0.0_f64, f64::max);
    for (page, (text, magnitude)) in pages.iter().zip(values) {
        // Clear of the vertical scroll bar at the right edge.
        let row_width = (ui.available_width() - 8.0).max(60.0);
        let (row, _) = ui.allocate_exact_size(egui::vec2(row_width, ROW_HEIGHT), egui::Sense::hover());
        if largest > 0.0 {
            let bar = egui::Rect::from_min_size(row.min, egui::vec2(row_width * (magnitude / largest) as f32, ROW_HEIGHT - 2.0));
            ui.painter().rect_filled(bar, 2.0, ui.visuals().selection.bg_fill.gamma_multiply(0.45));
        }
        let path_rect = egui::Rect::from_min_size(row.min, egui::vec2((row_width - VALUE_WIDTH).max(40.0), ROW_HEIGHT));
        let value_rect = egui::Rect::from_min_max(egui::pos2(row.max.x - VALUE_WIDTH, row.min.y), row.max);
        let path = ui.scope_builder(egui::UiBuilder::new().max_rect(path_rect).layout(egui::Layout::left_to_right(egui::Align::Center)), |ui| {
            ui.add(egui::Button::new(&page.view_path).frame(false).truncate())
        });
        if path.inner.on_hover_text(format!("{}\nClick to filter view_path:{}", page.view_path, page.view_path)).clicked() {
            commands.push(Command::AddQueryTerm { key: "view_path".into(), value: page.view_path.clone(), negate: false });
        }
        ui.scope_builder(egui::UiBuilder::new().max_rect(value_rect).layout(egui::Layout::right_to_left(egui::Align::Center)), |ui| {
            ui.label(text);
        });
    }
}

/// A distribution as horizontal bars; a click on a value filters the explorer to it.
fn distribution_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, distribution: &Distribution, sessions: u64) {
    ui.strong(distribution.title);
    let max = distribution.values.iter().map(|v| v.1).max().unwrap_or(1).max(1);
    for (value, count) in &distribution.values {
        ui.horizontal(|ui| {
            let response = ui
                .add_sized([110.0, 18.0], egui::Button::new(value).frame(false).truncate())
                .on_hover_text(format!("{value}: {count} sessions ({:.1}%)\nClick to filter {}:{value}", *count as f64 * 100.0 / sessions.max(1) as f64, distribution.key));
            if response.clicked() {
                commands.push(Command::AddQueryTerm { key: distribution.key.to_string(), value: value.clone(), negate: false });
            }
            let width = (ui.available_width() - 50.0).max(20.0);
            let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 12.0), egui::Sense::hover());
            let filled = egui::Rect::from_min_size(rect.min, egui::vec2(width * (*count as f32 / max as f32), rect.height()));
            ui.painter().rect_filled(filled, 2.0, ui.visuals().selection.bg_fill);
            ui.label(format::grouped(*count));
        });
    }
    if distribution.other > 0 {
        ui.label(egui::RichText::new(format!("other or none: {}", format::grouped(distribution.other))).weak());
    }
}

/// The most common errors, by exact type and message or by message pattern (numbers and ids
/// as `*`); a click filters the explorer to the sessions with such an error.
fn top_errors_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, o: &Overview) {
    let by_pattern_id = ui.scope_id().with("top_errors_by_pattern");
    let mut by_pattern: bool = ui.data(|d| d.get_temp(by_pattern_id)).unwrap_or(false);
    ui.horizontal(|ui| {
        ui.strong("Top errors");
        ui.add_space(8.0);
        ui.selectable_value(&mut by_pattern, false, "By message");
        ui.selectable_value(&mut by_pattern, true, "By pattern")
            .on_hover_text("Numbers and ids in the messages as *: \"status code 500\" and \"status code 404\" are one row");
    });
    ui.data_mut(|d| d.insert_temp(by_pattern_id, by_pattern));
    if o.top_errors.is_empty() {
        ui.label(egui::RichText::new("No errors.").weak());
        return;
    }
    let rows: Vec<TopErrorRow> = if by_pattern {
        o.top_error_patterns
            .iter()
            .map(|p| {
                let message_term = p.pattern.as_deref().map(|pattern| {
                    if pattern.contains(crate::error_pattern::VARYING) {
                        crate::query::wildcard_term_text("error_message", pattern)
                    } else {
                        crate::query::term_text("error_message", pattern, false)
                    }
                });
                TopErrorRow {
                    count: p.count,
                    sessions: p.sessions,
                    messages: Some(p.messages),
                    text: error_text(p.error_type.as_deref(), p.pattern.as_deref()),
                    filter: error_filter(p.error_type.as_deref(), message_term),
                }
            })
            .collect()
    } else {
        o.top_errors
            .iter()
            .map(|g| {
                let message_term = g.error_message.as_deref().map(|m| crate::query::term_text("error_message", m, false));
                TopErrorRow {
                    count: g.count,
                    sessions: g.sessions,
                    messages: None,
                    text: error_text(g.error_type.as_deref(), g.error_message.as_deref()),
                    filter: error_filter(g.error_type.as_deref(), message_term),
                }
            })
            .collect()
    };
    let columns = if by_pattern { 4 } else { 3 };
    egui::Grid::new("top_errors").num_columns(columns).striped(true).spacing([16.0, 4.0]).show(ui, |ui| {
        ui.label(egui::RichText::new("count").weak());
        ui.label(egui::RichText::new("sessions").weak());
        if by_pattern {
            ui.label(egui::RichText::new("messages").weak());
        }
        ui.label(egui::RichText::new(if by_pattern { "type: pattern (click to filter)" } else { "type: message (click to filter)" }).weak());
        ui.end_row();
        for row in rows {
            ui.label(format::grouped(row.count));
            ui.label(format::grouped(row.sessions));
            if let Some(messages) = row.messages {
                ui.label(format::grouped(messages));
            }
            let response = ui.add(egui::Button::new(egui::RichText::new(row.text).color(kind_color("error"))).frame(false).truncate());
            if response.on_hover_text(format!("Filter {}", row.filter)).clicked() {
                commands.push(Command::SetQuery(row.filter));
            }
            ui.end_row();
        }
    });
}

/// A row of the top errors.
struct TopErrorRow {
    count: u64,
    sessions: u64,
    /// How many messages a pattern groups (by pattern only).
    messages: Option<u64>,
    /// `type: message`, its first line.
    text: String,
    /// The filter a click sets.
    filter: String,
}

fn error_text(error_type: Option<&str>, message: Option<&str>) -> String {
    format!("{}: {}", error_type.unwrap_or("-"), message.unwrap_or("-").lines().next().unwrap_or(""))
}

/// The filter for an error's type and message term.
fn error_filter(error_type: Option<&str>, message_term: Option<String>) -> String {
    let type_term = error_type.map(|t| crate::query::term_text("error_type", t, false));
    type_term.into_iter().chain(message_term).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::overview::TimeBucket;

    #[test]
    fn buckets_without_sessions_have_no_error_share() {
        let bucket = |start_ms: i64, sessions: u64, share: f64| TimeBucket { start_ms, sessions, error_session_share: share, ..Default::default() };
        let o = Overview {
            from_ms: 0,
            bucket_ms: 60_000,
            buckets: vec![bucket(0, 4, 0.5), bucket(60_000, 0, 0.0), bucket(120_000, 2, 0.0), bucket(180_000, 0, 0.0)],
            ..Default::default()
        };
        let shares: Vec<f64> = error_share_points(&o).iter().map(|p| p[1]).collect();
        assert_eq!(shares, vec![50.0, 0.0]);
    }
}
