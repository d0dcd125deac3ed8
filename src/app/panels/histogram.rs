//! Sessions over time above the table. Dragging across it selects a time range.

use crate::app::settings::TimeRange;
use crate::app::{chart_axes, format, Command, ExplorerApp};

pub fn histogram_ui(app: &mut ExplorerApp, ui: &mut egui::Ui) {
    let height = 64.0;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width(), height), egui::Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    let Some(histogram) = &app.histogram else {
        painter.text(rect.center(), egui::Align2::CENTER_CENTER, "sessions over time", egui::FontId::proportional(12.0), ui.visuals().weak_text_color());
        return;
    };
    let n = histogram.counts.len().max(1);
    let max = histogram.counts.iter().copied().max().unwrap_or(0).max(1);
    let bar_width = rect.width() / n as f32;
    let plot = rect.shrink2(egui::vec2(0.0, 14.0));
    for (i, count) in histogram.counts.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        let h = plot.height() * (*count as f32 / max as f32);
        let x = rect.left() + i as f32 * bar_width;
        let bar = egui::Rect::from_min_max(egui::pos2(x + 0.5, plot.bottom() - h), egui::pos2(x + bar_width - 0.5, plot.bottom()));
        painter.rect_filled(bar, 1.0, ui.visuals().selection.bg_fill);
    }
    let utc = app.settings.show_utc;
    let end_ms = histogram.from_ms + histogram.bucket_ms * n as i64;
    let weak = ui.visuals().weak_text_color();
    let font = egui::FontId::proportional(11.0);
    // Whole days, hours or months along the bottom, as the charts have them; the two ends
    // where the span is too short for two.
    let span_ms = (end_ms - histogram.from_ms).max(1) as f64;
    let input = egui_plot::GridInput { bounds: (histogram.from_ms as f64, end_ms as f64), base_step_size: span_ms / f64::from(rect.width().max(1.0)) * 8.0 };
    let marks = chart_axes::time_marks(input, utc);
    let label_step = marks.iter().map(|m| m.step_size).fold(0.0, f64::max);
    let labelled: Vec<_> = marks.iter().filter(|m| m.step_size == label_step).collect();
    if labelled.len() >= 2 {
        for mark in labelled {
            let x = rect.left() + ((mark.value - histogram.from_ms as f64) / span_ms) as f32 * rect.width();
            painter.text(egui::pos2(x, rect.bottom() - 1.0), egui::Align2::CENTER_BOTTOM, chart_axes::time_mark_text(*mark, utc), font.clone(), weak);
        }
    } else {
        painter.text(rect.left_bottom() + egui::vec2(4.0, -2.0), egui::Align2::LEFT_BOTTOM, format::short_time_text(histogram.from_ms, utc), font.clone(), weak);
        painter.text(rect.right_bottom() + egui::vec2(-4.0, -2.0), egui::Align2::RIGHT_BOTTOM, format::short_time_text(end_ms, utc), font.clone(), weak);
    }
    painter.text(rect.left_top() + egui::vec2(4.0, 2.0), egui::Align2::LEFT_TOP, format!("max {} sessions / bucket", format::grouped(max)), font, weak);

    let time_at = |x: f32| histogram.from_ms + (((x - rect.left()) / rect.width()).clamp(0.0, 1.0) as f64 * (end_ms - histogram.from_ms) as f64) as i64;
    if let Some(pos) = response.hover_pos() {
        let bucket = (((pos.x - rect.left()) / bar_width) as usize).min(n - 1);
        let start = histogram.from_ms + bucket as i64 * histogram.bucket_ms;
        response.clone().on_hover_text(format!(
            "{} – {}: {} sessions",
            format::time_text(start, utc),
            format::time_text(start + histogram.bucket_ms, utc),
            histogram.counts.get(bucket).copied().unwrap_or(0)
        ));
    }
    // The drag selection, drawn while dragging and applied on release.
    let drag_id = response.id.with("drag_start");
    if response.drag_started() {
        if let Some(pos) = response.interact_pointer_pos() {
            ui.memory_mut(|m| m.data.insert_temp(drag_id, pos.x));
        }
    }
    let start_x: Option<f32> = ui.memory(|m| m.data.get_temp(drag_id));
    if let (Some(start_x), Some(pos)) = (start_x, response.interact_pointer_pos()) {
        let selection = egui::Rect::from_x_y_ranges(start_x.min(pos.x)..=start_x.max(pos.x), rect.y_range());
        painter.rect_filled(selection, 0.0, ui.visuals().selection.bg_fill.gamma_multiply(0.35));
        if response.drag_stopped() {
            ui.memory_mut(|m| m.data.remove::<f32>(drag_id));
            let (a, b) = (time_at(start_x.min(pos.x)), time_at(start_x.max(pos.x)));
            if b - a >= 1000 {
                app.commands.push(Command::SetTimeRange(TimeRange::Custom { from_ms: a, to_ms: b }));
            }
        }
    }
    if response.double_clicked() {
        app.commands.push(Command::SetTimeRange(TimeRange::All));
    }
}
