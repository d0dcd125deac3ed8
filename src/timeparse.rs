//! Date-time text as it appears in exports and queries. Text without a zone is UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Parses `2025-11-13 14:02:11`, `2025-11-13T14:02:11.250Z`, `2025-11-13T14:02:11+08:00`,
/// `2025-11-13` or an epoch number (s, ms, us or ns, told apart by magnitude) to ms since the epoch.
pub fn parse_datetime_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(crate::model::epoch_to_ms(n));
    }
    if let Ok(f) = text.parse::<f64>() {
        if f.is_finite() && f.abs() < 9.0e18 {
            return Some(crate::model::epoch_to_ms(f as i64));
        }
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(dt) = DateTime::parse_from_str(text, format) {
            return Some(dt.timestamp_millis());
        }
    }
    let naive = text.trim_end_matches(" UTC").trim_end_matches('Z');
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y/%m/%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc().timestamp_millis());
    }
    None
}

/// `2025-11-13 14:02:11.250` in UTC.
pub fn format_utc_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|dt| dt.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shapes_exports_use() {
        let expected = 1_763_042_531_000; // 2025-11-13 14:02:11 UTC
        assert_eq!(parse_datetime_ms("2025-11-13 14:02:11"), Some(expected));
        assert_eq!(parse_datetime_ms("2025-11-13T14:02:11Z"), Some(expected));
        assert_eq!(parse_datetime_ms("2025-11-13T22:02:11+08:00"), Some(expected));
        assert_eq!(parse_datetime_ms("2025-11-13 14:02:11.5"), Some(expected + 500));
        assert_eq!(parse_datetime_ms("1763042531"), Some(expected));
        assert_eq!(parse_datetime_ms("1763042531000000000"), Some(expected));
        assert_eq!(parse_datetime_ms("yesterday"), None);
        assert_eq!(format_utc_ms(expected), "2025-11-13 14:02:11.000");
    }
}
