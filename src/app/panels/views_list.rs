//! The Views tab: the page views of the sessions the query and time range select, newest
//! first or slowest first by a web vital, with a find field on the page path. Vitals are
//! coloured by their rating; a row opens its session on the view's performance.

use super::kind_color;
use super::view_performance::rating_color;
use crate::app::{format, Command, ExplorerApp};
use crate::store::{ViewEventRow, ViewSort};
use egui_extras::{Column, TableBuilder};

/// The columns after Time and Page: the order each header sorts by, and its title.
const VITAL_COLUMNS: [(ViewSort, &str); 5] = [
    (ViewSort::LoadingTime, "Loading time"),
    (ViewSort::FirstContentfulPaint, "FCP"),
    (ViewSort::LargestContentfulPaint, "LCP"),
    (ViewSort::CumulativeLayoutShift, "CLS"),
    (ViewSort::InteractionToNextPaint, "INP"),
];

pub fn views_list_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    let list = &app.view_list;
    let shown = list.rows.len() as u64;
    let header = super::ListHeader {
        find: &list.find,
        find_hint: "Find in the views' page path",
        count_text: list.total.map(|total| count_text(total, shown, list.sort, list.descending)),
        reading_text: "Reading the views…",
        loading: list.loading(),
        more: list.total.filter(|total| *total > shown).map(|_| ("Show more views", format!("List {} more", format::grouped(list.page_rows as u64)))),
    };
    let input = super::list_header_ui(ui, header);
    if let Some(find) = input.find {
        app.commands.push(Command::SetViewFind(find));
    }
    if input.more {
        app.commands.push(Command::ShowMoreViews);
    }
    let list = &app.view_list;
    if list.total == Some(0) {
        ui.add_space(20.0);
        ui.label(egui::RichText::new("No view in the selected sessions holds that.").weak());
        return;
    }
    let utc = app.settings.show_utc;
    // The view open in the detail panel is the highlighted row.
    let open_view = match app.detail_history.current() {
        crate::app::DetailPage::View(event_pk) if app.detail_open => Some(event_pk),
        _ => None,
    };
    let (sort, descending) = (app.view_list.sort, app.view_list.descending);
    let rows = &app.view_list.rows;
    let commands = &mut app.commands;
    let open_index = rows.iter().position(|r| Some(r.event_pk) == open_view);
    let step = super::list_step(ui, open_index, rows.len());
    if let Some(view) = step.and_then(|i| rows.get(i)) {
        commands.push(Command::OpenView { session_id: view.session_id.clone(), event_pk: view.event_pk });
    }
    let mut table = TableBuilder::new(ui)
        .id_salt("views_list")
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::initial(150.0).at_least(90.0))
        .column(Column::initial(240.0).at_least(80.0).clip(true));
    for _ in VITAL_COLUMNS {
        table = table.column(Column::initial(86.0).at_least(50.0));
    }
    if let Some(index) = step {
        table = table.scroll_to_row(index, None);
    }
    table
        .column(Column::initial(100.0).at_least(60.0).clip(true))
        .column(Column::remainder().at_least(80.0).clip(true))
        .header(22.0, |mut header| {
            header.col(|ui| sort_header_ui(commands, ui, "Time", ViewSort::Time, sort, descending));
            header.col(|ui| {
                ui.strong("Page");
            });
            for (column_sort, title) in VITAL_COLUMNS {
                header.col(|ui| sort_header_ui(commands, ui, title, column_sort, sort, descending));
            }
            for title in ["Browser", "Session"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(22.0, rows.len(), |mut row| {
                let view = &rows[row.index()];
                row.set_selected(open_view == Some(view.event_pk));
                let mut clicked = false;
                let mut menu_commands = Vec::new();
                // A click opens the view; a right-click offers the field's actions.
                let mut cell = |row: &mut egui_extras::TableRow, text: egui::RichText, hover: &str, field: Option<(&str, String)>| {
                    let (_, response) = row.col(|ui| {
                        let label = ui.add(egui::Label::new(text).truncate().sense(egui::Sense::click())).on_hover_text(hover);
                        clicked |= label.clicked();
                        if let Some((key, value)) = &field {
                            label.context_menu(|ui| super::list_cell_actions_ui(&mut menu_commands, ui, key, value, &view.session_id));
                        }
                    });
                    clicked |= response.clicked();
                };
                let open_hint = "Open this view's performance in its session; right-click for the field's actions";
                cell(&mut row, egui::RichText::new(format::time_text(view.time_ms, utc)), open_hint, None);
                let page = view.view_path.clone().unwrap_or_default();
                let page_hint = view.view_url.clone().unwrap_or_else(|| open_hint.to_string());
                cell(&mut row, egui::RichText::new(&page).color(kind_color("view")), &page_hint, Some(("view_path", page.clone())));
                for (column_sort, _) in VITAL_COLUMNS {
                    let raw = vital_raw(view, column_sort).map(|v| v.to_string());
                    cell(&mut row, vital_text(view, column_sort), open_hint, raw.map(|v| (column_sort.key(), v)));
                }
                let browser = view.browser.clone().unwrap_or_default();
                cell(&mut row, egui::RichText::new(&browser), open_hint, Some(("browser", browser.clone())));
                cell(&mut row, egui::RichText::new(view.session_id.clone()), open_hint, Some(("session_id", view.session_id.clone())));
                commands.append(&mut menu_commands);
                if clicked {
                    commands.push(Command::OpenView { session_id: view.session_id.clone(), event_pk: view.event_pk });
                }
            });
        });
}

/// A header that sorts by its column: the arrow shows the current order.
fn sort_header_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, title: &str, column_sort: ViewSort, sort: ViewSort, descending: bool) {
    let arrow = match (column_sort == sort, descending) {
        (false, _) => "",
        (true, true) => " ⏷",
        (true, false) => " ⏶",
    };
    let hint = match column_sort {
        ViewSort::Time => "Sort by time: newest first, click again for oldest first",
        _ => "Sort by this value: slowest first, click again for fastest first",
    };
    let button = egui::Button::new(egui::RichText::new(format!("{title}{arrow}")).strong()).frame(false);
    if ui.add(button).on_hover_text(hint).clicked() {
        commands.push(Command::SortViews(column_sort));
    }
}

/// A view's value of the column `sort` orders by, as stored (ns for durations).
fn vital_raw(view: &ViewEventRow, sort: ViewSort) -> Option<f64> {
    match sort {
        ViewSort::Time => None,
        ViewSort::LoadingTime => view.loading_time_ns,
        ViewSort::FirstContentfulPaint => view.first_contentful_paint_ns,
        ViewSort::LargestContentfulPaint => view.largest_contentful_paint_ns,
        ViewSort::CumulativeLayoutShift => view.cumulative_layout_shift,
        ViewSort::InteractionToNextPaint => view.interaction_to_next_paint_ns,
    }
}

/// One vital of a view in its unit, coloured by its rating; empty when the view has none.
fn vital_text(view: &ViewEventRow, sort: ViewSort) -> egui::RichText {
    let (Some(raw), Some(metric)) = (vital_raw(view, sort), crate::vitals::metric(sort.key())) else { return egui::RichText::new("") };
    let value = metric.display_value(raw);
    let text = egui::RichText::new(metric.format(value));
    match metric.rate(value) {
        Some(rating) => text.color(rating_color(rating)),
        None => text,
    }
}

/// "391,183 views in the selected sessions; the 500 slowest by LCP are listed".
pub fn count_text(total: u64, shown: u64, sort: ViewSort, descending: bool) -> String {
    let all = format!("{} views in the selected sessions", format::grouped(total));
    if total <= shown {
        return all;
    }
    let shown = format::grouped(shown);
    let which = match (sort, descending) {
        (ViewSort::Time, true) => format!("the newest {shown}"),
        (ViewSort::Time, false) => format!("the oldest {shown}"),
        (other, true) => format!("the {shown} slowest by {}", vital_name(other)),
        (other, false) => format!("the {shown} fastest by {}", vital_name(other)),
    };
    format!("{all}; {which} are listed")
}

fn vital_name(sort: ViewSort) -> &'static str {
    crate::vitals::metric(sort.key()).map(|m| m.name).unwrap_or("time")
}
