//! The Views tab: the page views of the sessions the query and time range select, newest
//! first or slowest first by a web vital, with a find field on the page path. Vitals are
//! coloured by their rating; a row opens its session on the view's performance.

use super::{kind_color, number_aligned_ui};
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
    ui.horizontal(|ui| {
        let by_page = app.view_list.by_page;
        if ui.selectable_label(!by_page, "By view").on_hover_text("Every view, newest or slowest first").clicked() && by_page {
            app.commands.push(Command::SetViewsByPage(false));
        }
        if ui.selectable_label(by_page, "By page").on_hover_text("One row per page with its views and the p75 of each vital").clicked() && !by_page {
            app.commands.push(Command::SetViewsByPage(true));
        }
        if by_page {
            ui.separator();
            let mut as_routes = app.view_list.as_routes;
            let hint = "Pages that differ only in numbers and ids (/products/7389, /products/12) as one route: /products/*";
            if ui.checkbox(&mut as_routes, "Group numbers and ids").on_hover_text(hint).changed() {
                app.commands.push(Command::SetPageRoutes(as_routes));
            }
            let mut min_views = app.view_list.min_views;
            ui.label("at least");
            if ui.add(egui::DragValue::new(&mut min_views).range(1..=1_000_000)).changed() {
                app.commands.push(Command::SetPageMinViews(min_views));
            }
            ui.label("views");
        }
    });
    if app.view_list.by_page {
        pages_ui(app, ui);
        return;
    }
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
            header.col(|ui| sort_header_ui(commands, ui, "Time", ViewSort::Time, sort, descending, false));
            header.col(|ui| {
                ui.strong("Page");
            });
            for (column_sort, title) in VITAL_COLUMNS {
                header.col(|ui| sort_header_ui(commands, ui, title, column_sort, sort, descending, false));
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
                    let numeric = field.as_ref().is_some_and(|(key, _)| crate::vitals::metric(key).is_some());
                    let (_, response) = row.col(|ui| {
                        let label = number_aligned_ui(ui, numeric, egui::Label::new(text).truncate().sense(egui::Sense::click())).on_hover_text(hover);
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

/// The Views tab grouped by page: each page (or route) with its views and p75 vitals; a
/// header sorts, a row filters by the page and lists its views.
fn pages_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    let list = &app.view_list;
    let min_views = list.min_views;
    let shown: Vec<&crate::store::PageSummary> = list.pages.iter().filter(|p| p.views >= min_views).collect();
    let what = if list.as_routes { "pages and routes" } else { "pages" };
    let count_text = list.pages_known().then(|| {
        let views: u64 = list.pages.iter().map(|p| p.views).sum();
        let hidden = list.pages.len() - shown.len();
        let fewer = if hidden > 0 { format!(" ({} with fewer views not listed)", format::grouped(hidden as u64)) } else { String::new() };
        format!("{} {what}, {} views in the selected sessions{fewer}", format::grouped(shown.len() as u64), format::grouped(views))
    });
    let header = super::ListHeader {
        find: &list.find,
        find_hint: "Find in the views' page path",
        count_text,
        reading_text: "Reading the pages…",
        loading: list.loading(),
        more: None,
    };
    let input = super::list_header_ui(ui, header);
    if let Some(find) = input.find {
        app.commands.push(Command::SetViewFind(find));
    }
    let (sort, descending) = (list.page_sort, list.page_descending);
    let commands = &mut app.commands;
    let mut table = TableBuilder::new(ui)
        .id_salt("pages_list")
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::initial(320.0).at_least(100.0).clip(true))
        .column(Column::initial(90.0).at_least(60.0));
    for _ in VITAL_COLUMNS {
        table = table.column(Column::initial(100.0).at_least(60.0));
    }
    table.column(Column::remainder().at_least(60.0)).header(22.0, |mut header| {
        header.col(|ui| {
            ui.strong("Page");
        });
        header.col(|ui| sort_header_ui(commands, ui, "Views", ViewSort::Time, sort, descending, true));
        for (column_sort, title) in VITAL_COLUMNS {
            header.col(|ui| sort_header_ui(commands, ui, &format!("{title} p75"), column_sort, sort, descending, true));
        }
        header.col(|ui| {
            ui.strong("Pages");
        });
    })
    .body(|body| {
        body.rows(22.0, shown.len(), |mut row| {
            let page = shown[row.index()];
            let mut clicked = false;
            let hint = if page.paths > 1 { "Filter by this route and list its views" } else { "Filter by this page and list its views" };
            let mut cell = |row: &mut egui_extras::TableRow, text: egui::RichText, numeric: bool| {
                let (_, response) = row.col(|ui| {
                    let label = egui::Label::new(text).truncate().sense(egui::Sense::click());
                    clicked |= number_aligned_ui(ui, numeric, label).on_hover_text(hint).clicked();
                });
                clicked |= response.clicked();
            };
            cell(&mut row, egui::RichText::new(&page.view_path).color(kind_color("view")), false);
            cell(&mut row, egui::RichText::new(format::grouped(page.views)), true);
            for (column_sort, _) in VITAL_COLUMNS {
                cell(&mut row, rated_text(page.p75(column_sort), column_sort), true);
            }
            cell(&mut row, egui::RichText::new(if page.paths > 1 { format!("{} pages", format::grouped(page.paths)) } else { String::new() }).weak(), false);
            if clicked {
                commands.push(Command::OpenPage(page.clone()));
            }
        });
    });
}

/// A header that sorts by its column: the arrow shows the current order.
fn sort_header_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, title: &str, column_sort: ViewSort, sort: ViewSort, descending: bool, pages: bool) {
    let arrow = match (column_sort == sort, descending) {
        (false, _) => "",
        (true, true) => " ⏷",
        (true, false) => " ⏶",
    };
    let hint = match (column_sort, pages) {
        (ViewSort::Time, false) => "Sort by time: newest first, click again for oldest first",
        (ViewSort::Time, true) => "Sort by views: most first, click again for fewest first",
        _ => "Sort by this value: slowest first, click again for fastest first",
    };
    let button = egui::Button::new(egui::RichText::new(format!("{title}{arrow}")).strong()).frame(false);
    if ui.add(button).on_hover_text(hint).clicked() {
        commands.push(if pages { Command::SortPages(column_sort) } else { Command::SortViews(column_sort) });
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
    rated_text(vital_raw(view, sort), sort)
}

/// A value of the vital `sort` orders by (as stored: ns for durations) in its unit, coloured
/// by its rating; empty for none.
fn rated_text(raw: Option<f64>, sort: ViewSort) -> egui::RichText {
    let (Some(raw), Some(metric)) = (raw, crate::vitals::metric(sort.key())) else { return egui::RichText::new("") };
    let value = metric.display_value(raw);
    let text = egui::RichText::new(metric.format(value));
    match metric.rate(value) {
        Some(rating) => text.color(rating_color(rating)),
        None => text,
    }
}

/// "391,183 views in the selected sessions; the 500 slowest by LCP are listed".
pub fn count_text(total: u64, shown: u64, sort: ViewSort, descending: bool) -> String {
    let all = format!("{} in the selected sessions", format::count_of(total, "view", "views"));
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
