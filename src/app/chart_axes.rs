//! Grid marks and tick labels for the charts' axes.
//!
//! egui_plot's default grid is decimal (steps of 10^n) and labels a step only where its marks
//! lie 60 points apart or more: a 480-point-wide axis over 0 to 10 s of loading times labelled
//! nothing but "0", and a week over a third of the window one date in the middle. These steps
//! follow 1-2-5 for values and whole time units for times, the smallest that leaves room for
//! its labels, with the step below it as thinner unlabelled lines.

use chrono::{Local, Offset, TimeZone, Utc};
use egui_plot::{GridInput, GridMark, Plot};

/// egui_plot's default `grid_spacing.min`: `GridInput::base_step_size` is that many points in
/// plot units.
const GRID_MIN_SPACING_PT: f64 = 8.0;

/// Room a value label needs on a horizontal axis (egui_plot fades labels in up to 80 points).
pub const VALUE_LABEL_X_PT: f64 = 80.0;
/// Room a value label needs on a vertical axis.
pub const VALUE_LABEL_Y_PT: f64 = 30.0;
/// egui_plot labels every step whose marks lie more than this apart (its `label_spacing.min`):
/// the thinner lines' step stays below it, or their labels crowd the others'.
const UNLABELLED_X_PT: f64 = 60.0;
const UNLABELLED_Y_PT: f64 = 20.0;
/// Room a date label (`11-13`) needs.
const DATE_LABEL_PT: f64 = 80.0;
/// Room a date and time label (`11-13 06:00`) needs.
const DATE_TIME_LABEL_PT: f64 = 115.0;

const SECOND_MS: f64 = 1_000.0;
const MINUTE_MS: f64 = 60.0 * SECOND_MS;
const HOUR_MS: f64 = 60.0 * MINUTE_MS;
const DAY_MS: f64 = 24.0 * HOUR_MS;

/// Steps of a time axis, in ms: whole units a reader counts in.
const TIME_STEPS_MS: &[f64] = &[
    SECOND_MS,
    2.0 * SECOND_MS,
    5.0 * SECOND_MS,
    10.0 * SECOND_MS,
    15.0 * SECOND_MS,
    30.0 * SECOND_MS,
    MINUTE_MS,
    2.0 * MINUTE_MS,
    5.0 * MINUTE_MS,
    10.0 * MINUTE_MS,
    15.0 * MINUTE_MS,
    30.0 * MINUTE_MS,
    HOUR_MS,
    2.0 * HOUR_MS,
    3.0 * HOUR_MS,
    6.0 * HOUR_MS,
    12.0 * HOUR_MS,
    DAY_MS,
    2.0 * DAY_MS,
    7.0 * DAY_MS,
];

/// Weeks start on Monday; the epoch was a Thursday.
const FIRST_MONDAY_MS: f64 = 4.0 * DAY_MS;

/// Steps past a week, in calendar months: marks at the first of a month.
const MONTH_STEPS: &[i64] = &[1, 2, 3, 6, 12, 24, 60, 120];
/// A month's length as a mark's step size (egui_plot only compares step sizes).
const MONTH_MS: f64 = 30.44 * DAY_MS;

/// A chart that neither pans nor zooms (a drag or click there is the app's), from y = 0 up.
pub fn fixed_plot<'a>(id_salt: impl egui::AsIdSalt, height: f32) -> Plot<'a> {
    Plot::new(id_salt)
        .height(height)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .include_y(0.0)
}

/// `plot` with a time axis (ms since the epoch) marked by [`time_marks`].
pub fn with_time_axis(plot: Plot<'_>, utc: bool) -> Plot<'_> {
    plot.x_grid_spacer(move |input| time_marks(input, utc)).x_axis_formatter(move |mark, _| time_mark_text(mark, utc))
}

/// Points per plot unit of the axis `input` describes.
fn points_per_unit(input: &GridInput) -> Option<f64> {
    let per_unit = GRID_MIN_SPACING_PT / input.base_step_size;
    (per_unit.is_finite() && per_unit > 0.0).then_some(per_unit)
}

/// The 1-2-5 step (…, 0.5, 1, 2, 5, 10, …) at or above `at_least`.
fn value_step_at_least(at_least: f64) -> f64 {
    let decade = 10f64.powf(at_least.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * decade).find(|step| *step >= at_least * (1.0 - 1e-9)).unwrap_or(10.0 * decade)
}

/// The 1-2-5 step below `step`.
fn value_step_below(step: f64) -> f64 {
    let decade = 10f64.powf(step.log10().floor());
    let mantissa = (step / decade).round();
    if mantissa >= 5.0 {
        2.0 * decade
    } else if mantissa >= 2.0 {
        decade
    } else {
        decade / 2.0
    }
}

/// Marks of a value axis: labelled at the smallest 1-2-5 step whose marks lie `label_pt` points
/// apart ([`VALUE_LABEL_X_PT`] or [`VALUE_LABEL_Y_PT`]), with a step below as thinner lines.
pub fn value_marks(input: GridInput, label_pt: f64) -> Vec<GridMark> {
    value_marks_from(input, label_pt, 0.0)
}

/// [`value_marks`] for counts: no step below 1 (a count axis labelled 0.5 reads as half an error).
pub fn count_marks(input: GridInput, label_pt: f64) -> Vec<GridMark> {
    value_marks_from(input, label_pt, 1.0)
}

fn value_marks_from(input: GridInput, label_pt: f64, smallest_step: f64) -> Vec<GridMark> {
    let Some(per_unit) = points_per_unit(&input) else { return Vec::new() };
    let label_step = value_step_at_least((label_pt / per_unit).max(smallest_step));
    let unlabelled_pt = if label_pt >= VALUE_LABEL_X_PT { UNLABELLED_X_PT } else { UNLABELLED_Y_PT };
    let mut minor_step = value_step_below(label_step);
    while minor_step * per_unit > unlabelled_pt {
        minor_step = value_step_below(minor_step);
    }
    let mut marks = if minor_step >= smallest_step { multiples(minor_step, 0.0, input.bounds) } else { Vec::new() };
    marks.extend(multiples(label_step, 0.0, input.bounds));
    keep_largest_step_per_value(marks)
}

/// Marks of a time axis (values in ms since the epoch): labelled at the smallest whole step
/// that leaves room for its label ([`TIME_STEPS_MS`], then calendar months and years), aligned
/// to the shown zone's midnight and months, with a step below as thinner lines.
pub fn time_marks(input: GridInput, utc: bool) -> Vec<GridMark> {
    let Some(per_unit) = points_per_unit(&input) else { return Vec::new() };
    let fits = |step: f64| step * per_unit >= if step >= DAY_MS { DATE_LABEL_PT } else { DATE_TIME_LABEL_PT };
    let thin = |step: f64| step * per_unit <= UNLABELLED_X_PT;
    // Hours and days start at the zone's midnight, not at UTC's.
    let middle_ms = (input.bounds.0 + input.bounds.1) / 2.0;
    let zone_offset_ms = if utc { 0.0 } else { local_offset_ms(middle_ms as i64) };
    let fixed = |step: f64| {
        let origin = if step == 7.0 * DAY_MS { FIRST_MONDAY_MS } else { 0.0 };
        multiples(step, origin - zone_offset_ms, input.bounds)
    };
    let mut marks = Vec::new();
    match TIME_STEPS_MS.iter().position(|step| fits(*step)) {
        Some(label_index) => {
            if let Some(minor) = TIME_STEPS_MS[..label_index].iter().rev().find(|step| thin(**step)) {
                marks.extend(fixed(*minor));
            }
            marks.extend(fixed(TIME_STEPS_MS[label_index]));
        }
        None => {
            let label_index = MONTH_STEPS.iter().position(|months| fits(*months as f64 * MONTH_MS)).unwrap_or(MONTH_STEPS.len() - 1);
            match MONTH_STEPS[..label_index].iter().rev().find(|months| thin(**months as f64 * MONTH_MS)) {
                Some(minor) => marks.extend(month_marks(*minor, input.bounds, utc)),
                None => {
                    if let Some(minor) = TIME_STEPS_MS.iter().rev().find(|step| thin(**step)) {
                        marks.extend(fixed(*minor));
                    }
                }
            }
            marks.extend(month_marks(MONTH_STEPS[label_index], input.bounds, utc));
        }
    }
    keep_largest_step_per_value(marks)
}

/// The first of every `step_months`-th month (counted from year 0) within `bounds`, at the
/// zone's midnight.
fn month_marks(step_months: i64, (min, max): (f64, f64), utc: bool) -> Vec<GridMark> {
    let step_size = step_months as f64 * MONTH_MS;
    if !min.is_finite() || !max.is_finite() || min > max || (max - min) / step_size > 10_000.0 {
        return Vec::new();
    }
    let Some(first) = Utc.timestamp_millis_opt(min as i64).single() else { return Vec::new() };
    use chrono::Datelike;
    // A month before the range's start, rounded down to the step: the zone may be behind UTC.
    let mut index = (i64::from(first.year()) * 12 + i64::from(first.month0()) - 1).div_euclid(step_months) * step_months;
    let mut marks = Vec::new();
    loop {
        let (year, month0) = (index.div_euclid(12), index.rem_euclid(12));
        let Some(ms) = month_start_ms(year, month0 as u32 + 1, utc) else { break };
        if ms > max {
            break;
        }
        if ms >= min {
            marks.push(GridMark { value: ms, step_size });
        }
        index += step_months;
    }
    marks
}

/// Midnight of the first of a month in the shown zone, in ms since the epoch.
fn month_start_ms(year: i64, month: u32, utc: bool) -> Option<f64> {
    let year = i32::try_from(year).ok()?;
    let ms = if utc {
        Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).earliest()?.timestamp_millis()
    } else {
        Local.with_ymd_and_hms(year, month, 1, 0, 0, 0).earliest()?.timestamp_millis()
    };
    Some(ms as f64)
}

/// The local zone's offset from UTC at `ms`, in ms.
fn local_offset_ms(ms: i64) -> f64 {
    Local.timestamp_millis_opt(ms).single().map_or(0.0, |t| t.offset().fix().local_minus_utc() as f64 * SECOND_MS)
}

/// The label of a time axis mark: the year or the month for calendar steps, the date for steps
/// of a day or more, the date and time of day for shorter ones, the time with seconds under a
/// minute.
pub fn time_mark_text(mark: GridMark, utc: bool) -> String {
    let pattern = if mark.step_size >= 12.0 * MONTH_MS {
        "%Y"
    } else if mark.step_size >= MONTH_MS {
        "%Y-%m"
    } else if mark.step_size >= DAY_MS {
        "%m-%d"
    } else if mark.step_size >= MINUTE_MS {
        "%m-%d %H:%M"
    } else {
        "%H:%M:%S"
    };
    let ms = mark.value.round() as i64;
    let text = if utc {
        Utc.timestamp_millis_opt(ms).single().map(|t| t.format(pattern).to_string())
    } else {
        Local.timestamp_millis_opt(ms).single().map(|t| t.format(pattern).to_string())
    };
    text.unwrap_or_default()
}

/// A duration axis label from ms: `0`, `250 ms`, `1.5 s`, `2 s`.
pub fn duration_ms_mark_text(ms: f64) -> String {
    if ms == 0.0 {
        "0".to_string()
    } else if ms.abs() < SECOND_MS {
        format!("{} ms", trimmed(ms))
    } else {
        format!("{} s", trimmed(ms / SECOND_MS))
    }
}

/// A count axis label: `0`, `2,500`, `100,000`; fractions (a share's axis) as they are.
pub fn count_mark_text(value: f64) -> String {
    if value >= 0.0 && value.fract() == 0.0 && value < 1e15 {
        crate::app::format::grouped(value as u64)
    } else {
        trimmed(value)
    }
}

/// `value` with at most three decimals and no trailing zeros: `1.5`, `2`, `0.05`.
pub fn trimmed(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_string() } else { text.to_string() }
}

/// Multiples of `step` shifted by `origin` within `bounds`.
fn multiples(step: f64, origin: f64, (min, max): (f64, f64)) -> Vec<GridMark> {
    if !step.is_finite() || step <= 0.0 || !min.is_finite() || !max.is_finite() || min > max || (max - min) / step > 10_000.0 {
        return Vec::new();
    }
    let first = ((min - origin) / step).ceil() as i64;
    let last = ((max - origin) / step).floor() as i64;
    (first..=last).map(|i| GridMark { value: origin + i as f64 * step, step_size: step }).collect()
}

/// One mark per value, the one of the larger step (its line is drawn thicker and labelled).
fn keep_largest_step_per_value(mut marks: Vec<GridMark>) -> Vec<GridMark> {
    marks.sort_by(|a, b| a.value.total_cmp(&b.value).then(b.step_size.total_cmp(&a.step_size)));
    marks.dedup_by(|later, kept| (later.value - kept.value).abs() < 1e-9 * kept.step_size.max(1.0));
    marks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GridInput for an axis `points` long over `bounds`.
    fn axis(bounds: (f64, f64), points: f64) -> GridInput {
        GridInput { bounds, base_step_size: (bounds.1 - bounds.0) / points * GRID_MIN_SPACING_PT }
    }

    fn labelled(marks: &[GridMark]) -> Vec<f64> {
        let largest = marks.iter().map(|m| m.step_size).fold(0.0, f64::max);
        marks.iter().filter(|m| m.step_size == largest).map(|m| m.value).collect()
    }

    #[test]
    fn a_loading_time_axis_is_labelled_every_two_seconds() {
        // 0 to 10 s over 480 points: the default grid labelled only 0.
        let marks = value_marks(axis((0.0, 10_000.0), 480.0), VALUE_LABEL_X_PT);
        assert_eq!(labelled(&marks), vec![0.0, 2_000.0, 4_000.0, 6_000.0, 8_000.0, 10_000.0]);
        let texts: Vec<String> = labelled(&marks).into_iter().map(duration_ms_mark_text).collect();
        assert_eq!(texts, ["0", "2 s", "4 s", "6 s", "8 s", "10 s"]);
        // Thinner lines between them, a second apart (48 points: egui_plot labels none).
        assert!(marks.iter().any(|m| m.value == 1_000.0 && m.step_size == 1_000.0));
    }

    #[test]
    fn thinner_lines_are_too_close_for_egui_plot_to_label() {
        // 0 to 12,500 over 130 points: labelled every 5,000; 2,000 would be 21 points apart,
        // which egui_plot labels too, between the others.
        let marks = value_marks(axis((0.0, 12_500.0), 130.0), VALUE_LABEL_Y_PT);
        assert_eq!(labelled(&marks), vec![0.0, 5_000.0, 10_000.0]);
        let minor = marks.iter().map(|m| m.step_size).fold(f64::INFINITY, f64::min);
        assert!(minor * 130.0 / 12_500.0 <= UNLABELLED_Y_PT, "{minor}");
        let from_ms = 1_762_732_800_000.0;
        let week = time_marks(axis((from_ms, from_ms + 7.0 * DAY_MS), 700.0), true);
        let minor = week.iter().map(|m| m.step_size).fold(f64::INFINITY, f64::min);
        assert!(minor * 700.0 / (7.0 * DAY_MS) <= UNLABELLED_X_PT, "{minor}");
    }

    #[test]
    fn value_steps_follow_one_two_five() {
        assert_eq!(value_step_at_least(1_300.0), 2_000.0);
        assert_eq!(value_step_at_least(2_000.0), 2_000.0);
        assert_eq!(value_step_at_least(2_100.0), 5_000.0);
        assert_eq!(value_step_at_least(0.03), 0.05);
        assert_eq!(value_step_at_least(7.0), 10.0);
        assert_eq!(value_step_below(5_000.0), 2_000.0);
        assert_eq!(value_step_below(2_000.0), 1_000.0);
        assert_eq!(value_step_below(1_000.0), 500.0);
    }

    #[test]
    fn a_week_in_utc_is_labelled_by_day_at_midnight() {
        // 2025-11-10 00:00 UTC to 2025-11-17 00:00 UTC over 900 points: a day is 128 points.
        let from_ms = 1_762_732_800_000.0;
        let marks = time_marks(axis((from_ms, from_ms + 7.0 * DAY_MS), 900.0), true);
        let days = labelled(&marks);
        assert_eq!(days.len(), 8);
        assert!(days.iter().all(|ms| ms.rem_euclid(DAY_MS) == 0.0), "{days:?}");
        let texts: Vec<String> = marks.iter().filter(|m| m.step_size == DAY_MS).map(|m| time_mark_text(*m, true)).collect();
        assert_eq!(texts.first().map(String::as_str), Some("11-10"));
        assert_eq!(texts.last().map(String::as_str), Some("11-17"));
    }

    #[test]
    fn a_narrow_week_takes_longer_steps_and_a_short_range_shows_times() {
        let from_ms = 1_762_732_800_000.0;
        // A third of the window: a day would be 43 points, too close for dates.
        let narrow = time_marks(axis((from_ms, from_ms + 7.0 * DAY_MS), 300.0), true);
        assert_eq!(narrow.iter().map(|m| m.step_size).fold(0.0, f64::max), 2.0 * DAY_MS);
        // Two hours over 480 points: every half hour, with the time of day.
        let short = time_marks(axis((from_ms, from_ms + 2.0 * HOUR_MS), 480.0), true);
        let step = short.iter().map(|m| m.step_size).fold(0.0, f64::max);
        assert_eq!(step, 30.0 * MINUTE_MS);
        let mark = short.iter().find(|m| m.step_size == step && m.value > from_ms).copied();
        assert_eq!(mark.map(|m| time_mark_text(m, true)).as_deref(), Some("11-10 00:30"));
    }

    #[test]
    fn long_spans_are_marked_at_months_and_years() {
        // 2023-11-14 to 2025-11-16: over 400 points half a year is 100 points; over 200, 50.
        let from_ms = 1_699_999_000_000.0;
        let to_ms = 1_763_300_000_000.0;
        let labels = |points: f64| {
            let marks = time_marks(axis((from_ms, to_ms), points), true);
            let largest = marks.iter().map(|m| m.step_size).fold(0.0, f64::max);
            marks.iter().filter(|m| m.step_size == largest).map(|m| time_mark_text(*m, true)).collect::<Vec<_>>()
        };
        assert_eq!(labels(400.0), ["2024-01", "2024-07", "2025-01", "2025-07"]);
        assert_eq!(labels(200.0), ["2024", "2025"]);
        // Two months over 600 points: the first of each month, with its year.
        let months = time_marks(axis((1_700_000_000_000.0, 1_705_300_000_000.0), 600.0), true);
        let largest = months.iter().map(|m| m.step_size).fold(0.0, f64::max);
        let texts: Vec<String> = months.iter().filter(|m| m.step_size == largest).map(|m| time_mark_text(*m, true)).collect();
        assert_eq!(texts, ["2023-12", "2024-01"]);
    }

    #[test]
    fn count_axes_step_by_whole_numbers() {
        let marks = count_marks(axis((0.0, 1.2), 70.0), VALUE_LABEL_Y_PT);
        assert_eq!(labelled(&marks), vec![0.0, 1.0]);
        assert!(marks.iter().all(|m| m.value.fract() == 0.0), "{marks:?}");
    }

    #[test]
    fn labels_read_as_numbers_a_user_writes() {
        assert_eq!(duration_ms_mark_text(250.0), "250 ms");
        assert_eq!(duration_ms_mark_text(1_500.0), "1.5 s");
        assert_eq!(count_mark_text(100_000.0), "100,000");
        assert_eq!(count_mark_text(0.05), "0.05");
        assert_eq!(trimmed(-0.0001), "0");
    }

    #[test]
    fn degenerate_axes_give_no_marks() {
        assert!(value_marks(GridInput { bounds: (0.0, 1.0), base_step_size: 0.0 }, VALUE_LABEL_X_PT).is_empty());
        assert!(time_marks(GridInput { bounds: (f64::NAN, 1.0), base_step_size: 1.0 }, true).is_empty());
    }
}
