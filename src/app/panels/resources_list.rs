//! The Resources tab: the requests the pages of the selected sessions made (Fetch/XHR,
//! scripts, stylesheets, images, fonts), newest, slowest or largest first, with a find field
//! on the URL; or *By URL*, one row per method and URL with its requests, failures, sessions,
//! p75 and longest duration and bytes. A row opens the view it was loaded in.

use super::{kind_color, number_aligned_ui};
use crate::app::{format, Command, ExplorerApp};
use crate::store::{ResourceGroupSort, ResourceSort};
use egui_extras::{Column, TableBuilder};

pub fn resources_list_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        let by_url = app.resource_list.by_url;
        if ui.selectable_label(!by_url, "By request").on_hover_text("Every request, newest, slowest or largest first").clicked() && by_url {
            app.commands.push(Command::SetResourcesByUrl(false));
        }
        let hint = "One row per method and URL (without its query string): requests, failures, sessions, p75 and longest duration, bytes";
        if ui.selectable_label(by_url, "By URL").on_hover_text(hint).clicked() && !by_url {
            app.commands.push(Command::SetResourcesByUrl(true));
        }
        if by_url {
            ui.separator();
            let mut as_patterns = app.resource_list.as_patterns;
            let hint = "URLs that differ only in numbers and ids (/api/items/7389, /api/items/12) as one: /api/items/*; files named by a build's hash as fonts/*.woff; the host and port stay";
            if ui.checkbox(&mut as_patterns, "Group numbers and ids").on_hover_text(hint).changed() {
                app.commands.push(Command::SetResourcePatterns(as_patterns));
            }
        }
    });
    if app.resource_list.by_url {
        groups_ui(app, ui);
        return;
    }
    let list = &app.resource_list;
    let shown = list.rows.len() as u64;
    let header = super::ListHeader {
        find: &list.find,
        find_hint: "Find in the resources' URL",
        count_text: match list.total {
            Some(total) => Some(count_text(total, shown, list.sort, list.descending)),
            None if list.counting() => Some(uncounted_text(shown, list.sort, list.descending)),
            None => None,
        },
        reading_text: "Reading the resources…",
        loading: list.loading(),
        more: list.has_more().then(|| ("Show more resources", format!("List {} more", format::grouped(list.page_rows as u64)))),
    };
    let input = super::list_header_ui(ui, header);
    if let Some(find) = input.find {
        app.commands.push(Command::SetResourceFind(find));
    }
    if input.more {
        app.commands.push(Command::ShowMoreResources);
    }
    if app.resource_list.total == Some(0) {
        ui.add_space(20.0);
        ui.label(egui::RichText::new("No resource in the selected sessions holds that.").weak());
        return;
    }
    let utc = app.settings.show_utc;
    // The resource whose view is open in the detail panel is the highlighted row.
    let open_resource = match app.detail_history.current() {
        crate::app::DetailPage::View(event_pk) if app.detail_open => Some(event_pk),
        _ => None,
    };
    let (sort, descending) = (app.resource_list.sort, app.resource_list.descending);
    let rows = &app.resource_list.rows;
    let commands = &mut app.commands;
    let open_index = rows.iter().position(|r| Some(r.event_pk) == open_resource);
    let step = super::list_step(ui, open_index, rows.len());
    if let Some(resource) = step.and_then(|i| rows.get(i)) {
        commands.push(Command::OpenResource { session_id: resource.session_id.clone(), event_pk: resource.event_pk });
    }
    let mut table = TableBuilder::new(ui)
        .id_salt("resources_list")
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::initial(150.0).at_least(90.0))
        .column(Column::initial(56.0).at_least(40.0))
        .column(Column::initial(56.0).at_least(40.0))
        .column(Column::initial(52.0).at_least(40.0))
        .column(Column::initial(300.0).at_least(80.0).clip(true))
        .column(Column::initial(80.0).at_least(50.0))
        .column(Column::initial(80.0).at_least(50.0))
        .column(Column::initial(140.0).at_least(60.0).clip(true))
        .column(Column::initial(90.0).at_least(50.0).clip(true))
        .column(Column::remainder().at_least(80.0).clip(true));
    if let Some(index) = step {
        table = table.scroll_to_row(index, None);
    }
    table
        .header(22.0, |mut header| {
            header.col(|ui| sort_header_ui(commands, ui, "Time", ResourceSort::Time, sort, descending));
            for title in ["Type", "Method", "Status", "URL"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
            header.col(|ui| sort_header_ui(commands, ui, "Duration", ResourceSort::Duration, sort, descending));
            header.col(|ui| sort_header_ui(commands, ui, "Size", ResourceSort::Size, sort, descending));
            for title in ["Page", "Browser", "Session"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(22.0, rows.len(), |mut row| {
                let resource = &rows[row.index()];
                row.set_selected(open_resource == Some(resource.event_pk));
                let mut clicked = false;
                let mut menu_commands = Vec::new();
                // A click opens the resource's view; a right-click offers the field's actions.
                let mut cell = |row: &mut egui_extras::TableRow, text: egui::RichText, numeric: bool, hover: &str, field: Option<(&str, String)>| {
                    let (_, response) = row.col(|ui| {
                        let label = number_aligned_ui(ui, numeric, egui::Label::new(text).truncate().sense(egui::Sense::click())).on_hover_text(hover);
                        clicked |= label.clicked();
                        if let Some((key, value)) = &field {
                            label.context_menu(|ui| super::list_cell_actions_ui(&mut menu_commands, ui, key, value, &resource.session_id));
                        }
                    });
                    clicked |= response.clicked();
                };
                let open_hint = "Open the view this resource was loaded in; right-click for the field's actions";
                let text_field = |key: &'static str, value: &Option<String>| value.clone().map(|v| (key, v));
                cell(&mut row, egui::RichText::new(format::time_text(resource.time_ms, utc)), false, open_hint, None);
                let kind = resource.resource_type.clone().unwrap_or_default();
                cell(&mut row, egui::RichText::new(&kind), false, open_hint, text_field("resource_type", &resource.resource_type));
                let method = resource.resource_method.clone().unwrap_or_default();
                cell(&mut row, egui::RichText::new(&method), false, open_hint, text_field("resource_method", &resource.resource_method));
                let status = resource.resource_status.map(|s| s.to_string()).unwrap_or_default();
                let status_text = if resource.failed() { egui::RichText::new(&status).color(kind_color("error")) } else { egui::RichText::new(&status) };
                cell(&mut row, status_text, true, open_hint, resource.resource_status.map(|s| ("resource_status", s.to_string())));
                let url = resource.resource_url.clone().unwrap_or_default();
                let url_color = if resource.failed() { kind_color("error") } else { kind_color("resource") };
                cell(&mut row, egui::RichText::new(&url).color(url_color), false, &url, text_field("resource_url", &resource.resource_url));
                let duration = resource.duration_ns.map(|ns| crate::vitals::Metric::duration_text(ns / 1_000_000.0)).unwrap_or_default();
                cell(&mut row, egui::RichText::new(duration), true, open_hint, resource.duration_ns.map(|ns| ("duration", ns.to_string())));
                let size = resource.resource_size_bytes.map(|b| crate::ingest::human_bytes(b.max(0) as u64)).unwrap_or_default();
                cell(&mut row, egui::RichText::new(size), true, open_hint, resource.resource_size_bytes.map(|b| ("resource_size", b.to_string())));
                let page = resource.view_path.clone().unwrap_or_default();
                cell(&mut row, egui::RichText::new(&page).color(kind_color("view")), false, open_hint, text_field("view_path", &resource.view_path));
                let browser = resource.browser.clone().unwrap_or_default();
                cell(&mut row, egui::RichText::new(&browser), false, open_hint, text_field("browser", &resource.browser));
                cell(&mut row, egui::RichText::new(resource.session_id.clone()), false, open_hint, Some(("session_id", resource.session_id.clone())));
                commands.append(&mut menu_commands);
                if clicked {
                    commands.push(Command::OpenResource { session_id: resource.session_id.clone(), event_pk: resource.event_pk });
                }
            });
        });
}

/// The Resources tab by URL: each method and URL (or pattern) with its counts; a header
/// sorts, a row filters by the URL and lists its requests.
fn groups_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    let list = &app.resource_list;
    let what = if list.as_patterns { "URLs and patterns" } else { "URLs" };
    let count_text = list.groups_known().then(|| {
        let requests: u64 = list.groups.iter().map(|g| g.count).sum();
        format!("{} {what}, {} requests in the selected sessions", format::grouped(list.groups.len() as u64), format::grouped(requests))
    });
    let reading_text = list.groups_reading_text();
    let header = super::ListHeader {
        find: &list.find,
        find_hint: "Find in the resources' URL",
        count_text,
        reading_text: &reading_text,
        loading: list.loading(),
        more: None,
    };
    let input = super::list_header_ui(ui, header);
    if let Some(find) = input.find {
        app.commands.push(Command::SetResourceFind(find));
    }
    let (sort, descending) = (list.group_sort, list.group_descending);
    let groups = &app.resource_list.groups;
    let commands = &mut app.commands;
    let sort_header = |commands: &mut Vec<Command>, ui: &mut egui::Ui, title: &str, column: ResourceGroupSort, hint: &str| {
        let arrow = match (column == sort, descending) {
            (false, _) => "",
            (true, true) => " ⏷",
            (true, false) => " ⏶",
        };
        let button = egui::Button::new(egui::RichText::new(format!("{title}{arrow}")).strong()).frame(false);
        if ui.add(button).on_hover_text(hint).clicked() {
            commands.push(Command::SortResourceGroups(column));
        }
    };
    TableBuilder::new(ui)
        .id_salt("resource_groups")
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::initial(56.0).at_least(40.0))
        .column(Column::initial(380.0).at_least(100.0).clip(true))
        .column(Column::initial(80.0).at_least(50.0))
        .column(Column::initial(70.0).at_least(50.0))
        .column(Column::initial(76.0).at_least(50.0))
        .column(Column::initial(80.0).at_least(50.0))
        .column(Column::initial(80.0).at_least(50.0))
        .column(Column::initial(86.0).at_least(50.0))
        .column(Column::remainder().at_least(60.0))
        .header(22.0, |mut header| {
            for title in ["Method", "URL"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
            header.col(|ui| sort_header(commands, ui, "Requests", ResourceGroupSort::Count, "Sort by requests: most first, click again for fewest first"));
            header.col(|ui| sort_header(commands, ui, "Failed", ResourceGroupSort::Failed, "Requests with a status of 400 and above, or 0: most first"));
            header.col(|ui| {
                ui.strong("Sessions");
            });
            header.col(|ui| sort_header(commands, ui, "p75", ResourceGroupSort::DurationP75, "Sort by p75 duration: slowest first, click again for fastest first"));
            header.col(|ui| {
                ui.strong("Longest");
            });
            header.col(|ui| sort_header(commands, ui, "Bytes", ResourceGroupSort::Size, "Sort by bytes in all: most first"));
            header.col(|ui| {
                ui.strong("URLs");
            });
        })
        .body(|body| {
            body.rows(22.0, groups.len(), |mut row| {
                let group = &groups[row.index()];
                let mut clicked = false;
                let hint = if group.urls > 1 { "Filter by this pattern and list its requests" } else { "Filter by this URL and list its requests" };
                let mut cell = |row: &mut egui_extras::TableRow, text: egui::RichText, numeric: bool| {
                    let (_, response) = row.col(|ui| {
                        let label = egui::Label::new(text).truncate().sense(egui::Sense::click());
                        clicked |= number_aligned_ui(ui, numeric, label).on_hover_text(hint).clicked();
                    });
                    clicked |= response.clicked();
                };
                cell(&mut row, egui::RichText::new(group.resource_method.clone().unwrap_or_default()), false);
                cell(&mut row, egui::RichText::new(&group.resource_url).color(kind_color("resource")), false);
                cell(&mut row, egui::RichText::new(format::grouped(group.count)), true);
                let failed = egui::RichText::new(format::grouped(group.failed));
                cell(&mut row, if group.failed > 0 { failed.color(kind_color("error")) } else { failed.weak() }, true);
                cell(&mut row, egui::RichText::new(format::grouped(group.sessions)), true);
                cell(&mut row, egui::RichText::new(duration_text(group.duration_p75_ns)), true);
                cell(&mut row, egui::RichText::new(duration_text(group.duration_max_ns)), true);
                cell(&mut row, egui::RichText::new(crate::ingest::human_bytes(group.size_bytes)), true);
                cell(&mut row, egui::RichText::new(if group.urls > 1 { format!("{} URLs", format::grouped(group.urls)) } else { String::new() }).weak(), false);
                if clicked {
                    commands.push(Command::OpenResourceGroup(group.clone()));
                }
            });
        });
}

fn duration_text(ns: Option<f64>) -> String {
    ns.map(|ns| crate::vitals::Metric::duration_text(ns / 1_000_000.0)).unwrap_or_default()
}

/// A header that sorts by its column: the arrow shows the current order.
fn sort_header_ui(commands: &mut Vec<Command>, ui: &mut egui::Ui, title: &str, column: ResourceSort, sort: ResourceSort, descending: bool) {
    let arrow = match (column == sort, descending) {
        (false, _) => "",
        (true, true) => " ⏷",
        (true, false) => " ⏶",
    };
    let hint = match column {
        ResourceSort::Time => "Sort by time: newest first, click again for oldest first",
        ResourceSort::Duration => "Sort by duration: slowest first, click again for fastest first",
        ResourceSort::Size => "Sort by size: largest first, click again for smallest first",
    };
    let button = egui::Button::new(egui::RichText::new(format!("{title}{arrow}")).strong()).frame(false);
    if ui.add(button).on_hover_text(hint).clicked() {
        commands.push(Command::SortResources(column));
    }
}

/// "2,542,713 resources in the selected sessions; the 500 slowest are listed".
pub fn count_text(total: u64, shown: u64, sort: ResourceSort, descending: bool) -> String {
    let all = format!("{} in the selected sessions", format::count_of(total, "resource", "resources"));
    if total <= shown {
        return all;
    }
    format!("{all}; {} are listed", which_listed(shown, sort, descending))
}

/// "The 500 slowest are listed; counting them all…": the rows of a narrowed list come
/// before its count.
pub fn uncounted_text(shown: u64, sort: ResourceSort, descending: bool) -> String {
    let which = which_listed(shown, sort, descending);
    let mut first = which.chars();
    let which: String = first.next().map(|c| c.to_uppercase().chain(first).collect()).unwrap_or_default();
    format!("{which} resources are listed; counting them all…")
}

/// "the newest 500", "the 500 slowest".
fn which_listed(shown: u64, sort: ResourceSort, descending: bool) -> String {
    let shown = format::grouped(shown);
    match (sort, descending) {
        (ResourceSort::Time, true) => format!("the newest {shown}"),
        (ResourceSort::Time, false) => format!("the oldest {shown}"),
        (ResourceSort::Duration, true) => format!("the {shown} slowest"),
        (ResourceSort::Duration, false) => format!("the {shown} fastest"),
        (ResourceSort::Size, true) => format!("the {shown} largest"),
        (ResourceSort::Size, false) => format!("the {shown} smallest"),
    }
}
