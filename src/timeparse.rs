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
    if let Some(ms) = plain_utc_ms(text) {
        return Some(ms);
    }
    parse_with_formats(text)
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (or with `T`), ending there or in `Z` or ` UTC`: what
/// exports write (Guance's CSV time column on every row), read without chrono's format
/// parser, which tried five formats before the one that matched. None for anything else,
/// which [`parse_with_formats`] reads; what this reads, it reads the same.
fn plain_utc_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let bytes = bytes.strip_suffix(b" UTC").or_else(|| bytes.strip_suffix(b"Z")).unwrap_or(bytes);
    if bytes.len() < 19
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b' ' | b'T')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let number = |digits: &[u8]| -> Option<u32> {
        digits.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let (year, month, day) = (number(&bytes[0..4])?, number(&bytes[5..7])?, number(&bytes[8..10])?);
    let (hour, minute, second) = (number(&bytes[11..13])?, number(&bytes[14..16])?, number(&bytes[17..19])?);
    let nanos = match &bytes[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => number(fraction)? * 10u32.pow(9 - fraction.len() as u32),
        _ => return None,
    };
    // A leap second (60) is left to chrono's rules.
    if second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(date.and_hms_nano_opt(hour, minute, second, nanos)?.and_utc().timestamp_millis())
}

/// Date-time text in the forms [`parse_datetime_ms`] names, by chrono's parsers.
fn parse_with_formats(text: &str) -> Option<i64> {
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

    /// The plain form read by hand gives what chrono's formats give, and leaves to them what
    /// it does not read (or they would reject).
    #[test]
    fn the_plain_form_reads_as_the_formats_do() {
        let read_by_hand = [
            "2025-11-13 14:02:11",
            "2025-11-13T14:02:11",
            "2025-11-13 14:02:11.830",
            "2025-11-13 14:02:11.8",
            "2025-11-13 14:02:11.123456789",
            "2025-11-13T14:02:11.250Z",
            "2025-11-13 14:02:11 UTC",
            "2024-02-29 23:59:59.999",
            "1970-01-01 00:00:00",
            "1969-12-31 23:59:59.5",
            "0001-01-01 00:00:00",
        ];
        for text in read_by_hand {
            let by_hand = plain_utc_ms(text);
            assert!(by_hand.is_some(), "{text}");
            assert_eq!(by_hand, parse_with_formats(text), "{text}");
        }
        let left_to_chrono = [
            "2025-11-13 14:02:11.",
            "2025-11-13 14:02:11.1234567891",
            "2025-11-13 14:02:60",
            "2025-11-13 14:02",
            "2025-11-13T22:02:11+08:00",
            "2025-11-13 14:02:11 +0800",
            "2025/11/13 14:02:11",
            "2025-1-13 14:02:11",
            "2025-11-13 14:02:11x",
            "2025-11-13",
        ];
        for text in left_to_chrono {
            assert_eq!(plain_utc_ms(text), None, "{text}");
        }
        // Rejected by both: no such day, hour or minute.
        for text in ["2025-02-29 00:00:00", "2025-13-01 00:00:00", "2025-11-13 24:00:00", "2025-11-13 14:60:00", "2025-11-31 10:00:00"] {
            assert_eq!(plain_utc_ms(text), None, "{text}");
            assert_eq!(parse_with_formats(text), None, "{text}");
        }
        // Through the whole parser, the hand-read forms come out as before.
        assert_eq!(parse_datetime_ms("2025-11-13 14:02:11.830"), Some(1_763_042_531_830));
        assert_eq!(parse_datetime_ms("2025-11-13T22:02:11+08:00"), Some(1_763_042_531_000));
    }
}
