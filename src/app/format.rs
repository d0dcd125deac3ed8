//! How values are shown: times in local time or UTC, durations readable, counts grouped.

use chrono::{DateTime, Local, TimeZone, Utc};

pub fn time_text(ms: i64, utc: bool) -> String {
    if utc {
        Utc.timestamp_millis_opt(ms).single().map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
    } else {
        Local.timestamp_millis_opt(ms).single().map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
    }
    .unwrap_or_else(|| ms.to_string())
}

pub fn short_time_text(ms: i64, utc: bool) -> String {
    let dt: Option<DateTime<chrono::FixedOffset>> = if utc {
        Utc.timestamp_millis_opt(ms).single().map(|t| t.fixed_offset())
    } else {
        Local.timestamp_millis_opt(ms).single().map(|t| t.fixed_offset())
    };
    dt.map(|t| t.format("%m-%d %H:%M").to_string()).unwrap_or_default()
}

pub use crate::cli::human_duration_ms;

/// 1234567 to "1,234,567".
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The noun for `n` things: `one` for 1, else `many`.
pub fn noun<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `n` grouped with its noun: "1 resource", "2,542,713 resources".
pub fn count_of(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), noun(n, one, many))
}

/// The header text of a session column.
pub fn column_title(column: &str) -> String {
    match column {
        "start_ms" => "Start time".into(),
        "end_ms" => "End time".into(),
        "duration_ms" => "Duration".into(),
        "session_type" => "Type".into(),
        "view_count" => "Views".into(),
        "action_count" => "Actions".into(),
        "error_count" => "Errors".into(),
        "resource_count" => "Resources".into(),
        "long_task_count" => "Long tasks".into(),
        "slowest_resource_ns" => "Slowest resource".into(),
        "largest_resource_bytes" => "Largest resource".into(),
        "first_view_path" => "First page".into(),
        "last_view_path" => "Last page".into(),
        "user_name" => "User".into(),
        "user_id" => "User id".into(),
        "browser" => "Browser".into(),
        "os" => "OS".into(),
        "country" => "Country".into(),
        "city" => "City".into(),
        "app_id" => "App".into(),
        "env" => "Env".into(),
        "device" => "Device".into(),
        "session_id" => "Session id".into(),
        other => other.to_string(),
    }
}

/// A session cell as shown in the table.
pub fn cell_text(row: &crate::store::SessionRow, column: &str, utc: bool) -> String {
    match column {
        "start_ms" | "end_ms" => row.value_text(column).and_then(|v| v.parse().ok()).map(|ms| time_text(ms, utc)).unwrap_or_default(),
        "duration_ms" => row.duration_ms.map(human_duration_ms).unwrap_or_default(),
        "slowest_resource_ns" => row.slowest_resource_ns.map(|ns| crate::vitals::Metric::duration_text(ns as f64 / 1_000_000.0)).unwrap_or_default(),
        "largest_resource_bytes" => row.largest_resource_bytes.map(|b| crate::ingest::human_bytes(b.max(0) as u64)).unwrap_or_default(),
        "user_name" => row.user_name.clone().or_else(|| row.user_id.clone()).unwrap_or_default(),
        other => row.value_text(other).unwrap_or_default(),
    }
}

/// A resource's URL as the waterfall lists it: without the scheme, and without the host where
/// it is the view's own (`/api/cart?id=1`), since every such row began alike and was cut before
/// the part that tells them apart; another host stays (`cdn.example.com/app.js`).
pub fn short_resource_url<'a>(url: &'a str, view_url: Option<&str>) -> &'a str {
    let (rest, host) = after_scheme(url);
    if host.is_some() && host == view_url.and_then(|v| after_scheme(v).1) && rest.len() > host.map_or(0, str::len) {
        return &rest[host.map_or(0, str::len)..];
    }
    rest
}

/// A URL without its scheme, and its host (None without a scheme: a relative URL, `data:`).
fn after_scheme(url: &str) -> (&str, Option<&str>) {
    match url.split_once("://") {
        Some((scheme, rest)) if !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) => {
            let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            (rest, Some(&rest[..host_end]))
        }
        _ => (url, None),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn resource_urls_drop_the_scheme_and_the_views_own_host() {
        use super::short_resource_url as short;
        let view = Some("https://shop.example.com/cart?step=2");
        assert_eq!(short("https://shop.example.com/api/cart?id=1", view), "/api/cart?id=1");
        assert_eq!(short("https://cdn.example.com/app.js", view), "cdn.example.com/app.js");
        assert_eq!(short("https://shop.example.com", view), "shop.example.com");
        assert_eq!(short("https://shop.example.com.evil.io/x", view), "shop.example.com.evil.io/x");
        assert_eq!(short("/relative/path", view), "/relative/path");
        assert_eq!(short("data:image/png;base64,AAA", view), "data:image/png;base64,AAA");
        assert_eq!(short("https://shop.example.com/a", None), "shop.example.com/a");
        assert_eq!(short("", view), "");
    }

    #[test]
    fn grouping_and_durations() {
        assert_eq!(super::grouped(1_234_567), "1,234,567");
        assert_eq!(super::grouped(12), "12");
        assert_eq!(super::human_duration_ms(192_000), "3m 12s");
    }

    #[test]
    fn one_is_singular() {
        assert_eq!(super::count_of(1, "resource", "resources"), "1 resource");
        assert_eq!(super::count_of(0, "resource", "resources"), "0 resources");
        assert_eq!(super::count_of(2_542_713, "resource", "resources"), "2,542,713 resources");
    }
}
