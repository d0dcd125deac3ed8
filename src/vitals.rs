//! Web-vitals thresholds (web.dev: good up to the first bound, poor beyond the second) and
//! the view metrics the detail and the overview show.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    Good,
    NeedsImprovement,
    Poor,
}

impl Rating {
    pub fn label(self) -> &'static str {
        match self {
            Rating::Good => "good",
            Rating::NeedsImprovement => "needs improvement",
            Rating::Poor => "poor",
        }
    }
}

/// How a view metric is measured and judged.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Canonical event key (`largest_contentful_paint`).
    pub key: &'static str,
    /// Short name shown to users (`LCP`).
    pub name: &'static str,
    /// `true`: a nanosecond duration; `false`: a unitless score (CLS).
    pub is_duration: bool,
    /// Upper bound of "good" and of "needs improvement", in ms for durations.
    pub thresholds: Option<(f64, f64)>,
}

const fn duration(key: &'static str, name: &'static str, good_ms: f64, poor_ms: f64) -> Metric {
    Metric { key, name, is_duration: true, thresholds: Some((good_ms, poor_ms)) }
}
const fn timing(key: &'static str, name: &'static str) -> Metric {
    Metric { key, name, is_duration: true, thresholds: None }
}

/// Loading time has no web.dev threshold; it is judged like LCP (Guance's apdex uses the same
/// 2.5 s / 4 s split for page loads).
pub const VIEW_METRICS: &[Metric] = &[
    duration("loading_time", "Loading time", 2500.0, 4000.0),
    duration("first_contentful_paint", "FCP", 1800.0, 3000.0),
    duration("largest_contentful_paint", "LCP", 2500.0, 4000.0),
    Metric { key: "cumulative_layout_shift", name: "CLS", is_duration: false, thresholds: Some((0.1, 0.25)) },
    duration("first_input_delay", "FID", 100.0, 300.0),
    duration("interaction_to_next_paint", "INP", 200.0, 500.0),
    duration("first_byte", "TTFB", 800.0, 1800.0),
    timing("dom_interactive", "DOM interactive"),
    timing("dom_content_loaded", "DOM content loaded"),
    timing("dom_complete", "DOM complete"),
    timing("load_event", "Load event"),
    timing("time_spent", "Time spent"),
];

pub fn metric(key: &str) -> Option<&'static Metric> {
    VIEW_METRICS.iter().find(|m| m.key == key)
}

impl Metric {
    /// The value in the unit thresholds use: ms for durations (stored in ns), the score otherwise.
    pub fn display_value(&self, raw: f64) -> f64 {
        if self.is_duration {
            raw / 1_000_000.0
        } else {
            raw
        }
    }

    /// Rates a value given in display units (ms or score).
    pub fn rate(&self, value: f64) -> Option<Rating> {
        let (good, poor) = self.thresholds?;
        Some(if value <= good {
            Rating::Good
        } else if value <= poor {
            Rating::NeedsImprovement
        } else {
            Rating::Poor
        })
    }

    /// Text of a value in display units: `1.23 s`, `180 ms`, `0.052`.
    pub fn format(&self, value: f64) -> String {
        if !self.is_duration {
            return format!("{value:.3}");
        }
        Metric::duration_text(value)
    }

    /// A duration in ms as the vitals read: `1.23 s`, `180 ms`.
    pub fn duration_text(ms: f64) -> String {
        if ms >= 1000.0 {
            format!("{:.2} s", ms / 1000.0)
        } else {
            format!("{ms:.0} ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_inclusive_of_the_good_bound() {
        let lcp = metric("largest_contentful_paint").map(|m| (m.rate(2500.0), m.rate(2500.1), m.rate(4000.0), m.rate(4000.1)));
        assert_eq!(lcp, Some((Some(Rating::Good), Some(Rating::NeedsImprovement), Some(Rating::NeedsImprovement), Some(Rating::Poor))));
        let cls = metric("cumulative_layout_shift").map(|m| (m.rate(0.05), m.rate(0.2), m.rate(0.3)));
        assert_eq!(cls, Some((Some(Rating::Good), Some(Rating::NeedsImprovement), Some(Rating::Poor))));
        assert_eq!(metric("dom_complete").and_then(|m| m.rate(99999.0)), None);
    }

    #[test]
    fn durations_are_shown_in_ms_or_s() {
        let fcp = metric("first_contentful_paint").map(|m| (m.format(m.display_value(180_000_000.0)), m.format(m.display_value(1_234_000_000.0))));
        assert_eq!(fcp, Some(("180 ms".to_string(), "1.23 s".to_string())));
    }
}
