//! The Overview: aggregates of the sessions a query selects, computed in SQLite (and one pass
//! over their views for percentiles), for the window's charts and `overview --format json`.

use super::queries::{session_where, SessionQuery};
use super::{Store, StoreResult};
use crate::vitals::{Rating, VIEW_METRICS};
use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;
use serde::Serialize;
use std::collections::HashMap;

/// Bucket sizes to choose from, smallest first.
const BUCKET_SIZES_MS: &[i64] = &[
    60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000,
    86_400_000, 7 * 86_400_000, 30 * 86_400_000,
];
/// At most this many time buckets.
pub const MAX_BUCKETS: i64 = 60;
const TOP_N: usize = 10;
/// Pages rank by average loading time only with this many views (one slow visit is not a slow
/// page), unless no page has that many.
pub const MIN_VIEWS_FOR_AVERAGE: u64 = 3;
/// The metrics of the vitals charts.
pub const OVERVIEW_VITALS: &[&str] =
    &["largest_contentful_paint", "first_contentful_paint", "cumulative_layout_shift", "interaction_to_next_paint", "loading_time"];
/// Bins of a vital's distribution chart up to twice its "poor" bound (one more bin holds the rest).
const DISTRIBUTION_BINS: usize = 20;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Overview {
    pub sessions: u64,
    /// View events of the selected sessions.
    pub page_views: u64,
    /// Distinct `user_id` values (sessions without a user id are not counted).
    pub unique_users: u64,
    pub errors: u64,
    pub sessions_with_errors: u64,
    /// Start of the first bucket.
    pub from_ms: i64,
    pub bucket_ms: i64,
    pub buckets: Vec<TimeBucket>,
    pub vitals: Vec<VitalSummary>,
    pub top_pages_by_views: Vec<PageStat>,
    /// Pages with at least [`MIN_VIEWS_FOR_AVERAGE`] views (all pages if none has), slowest first.
    pub top_pages_by_loading_time: Vec<PageStat>,
    pub top_pages_by_errors: Vec<PageStat>,
    pub distributions: Vec<Distribution>,
    pub top_errors: Vec<ErrorGroup>,
}

/// One time bucket. Sessions count where they start; views and errors where they happen.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TimeBucket {
    pub start_ms: i64,
    pub sessions: u64,
    pub page_views: u64,
    pub unique_users: u64,
    pub errors: u64,
    pub sessions_with_errors: u64,
    /// `sessions_with_errors / sessions` (0 without sessions).
    pub error_session_share: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VitalSummary {
    pub key: &'static str,
    pub name: &'static str,
    /// `ms`, or empty for a score (CLS).
    pub unit: &'static str,
    pub count: u64,
    /// 75th percentile (nearest rank) in `unit`.
    pub p75: Option<f64>,
    pub good: u64,
    pub needs_improvement: u64,
    pub poor: u64,
    /// Upper bounds of good and of needs improvement, in `unit`.
    pub thresholds: Option<(f64, f64)>,
    /// p75 per time bucket (by view time); `None` where the bucket has no value.
    pub p75_by_bucket: Vec<Option<f64>>,
    pub distribution: Vec<DistributionBin>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DistributionBin {
    pub from: f64,
    /// `None`: the last bin, open-ended.
    pub to: Option<f64>,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PageStat {
    pub view_path: String,
    pub views: u64,
    pub avg_loading_time_ms: Option<f64>,
    pub errors: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Distribution {
    /// The session column (`browser`): clicking a value filters `browser:value`.
    pub key: &'static str,
    pub title: &'static str,
    /// Top values with their session counts, most first.
    pub values: Vec<(String, u64)>,
    /// Sessions with another or no value.
    pub other: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorGroup {
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub count: u64,
    pub sessions: u64,
}

pub const DISTRIBUTION_COLUMNS: &[(&str, &str)] = &[("browser", "Browser"), ("os", "OS"), ("device", "Device"), ("country", "Country")];

/// A bucket size that splits `span_ms` into at most [`MAX_BUCKETS`].
pub fn bucket_size_ms(span_ms: i64) -> i64 {
    BUCKET_SIZES_MS.iter().copied().find(|b| span_ms <= b * MAX_BUCKETS).unwrap_or_else(|| {
        let last = BUCKET_SIZES_MS[BUCKET_SIZES_MS.len() - 1];
        ((span_ms / MAX_BUCKETS) / last + 1) * last
    })
}

/// The nearest-rank 75th percentile: the smallest value with at least 75% of values at or below it.
pub fn p75(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = (values.len() * 3).div_ceil(4).max(1) - 1;
    let (_, value, _) = values.select_nth_unstable_by(rank, |a, b| a.total_cmp(b));
    Some(*value)
}

impl Store {
    pub fn overview(&self, q: &SessionQuery) -> StoreResult<Overview> {
        let (where_sql, params) = session_where(q);
        let mut overview = Overview::default();

        // Totals and the time axis: from the first selected start to the last end.
        let sql = format!(
            "SELECT count(*), count(DISTINCT s.user_id), coalesce(sum(s.error_count > 0), 0), min(s.start_ms),
                    max(coalesce(s.end_ms, s.start_ms))
             FROM sessions s WHERE {where_sql}"
        );
        let (sessions, users, with_errors, first, last): (i64, i64, i64, Option<i64>, Option<i64>) =
            self.conn.prepare_cached(&sql)?.query_row(params_from_iter(params.clone()), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
        overview.sessions = sessions as u64;
        overview.unique_users = users as u64;
        overview.sessions_with_errors = with_errors as u64;
        let (Some(first), Some(last)) = (first, last) else {
            overview.distributions = self.distributions(q, 0)?;
            return Ok(overview);
        };
        let lo = q.from_ms.unwrap_or(first).min(first);
        let bucket_ms = bucket_size_ms(last + 1 - lo);
        let from_ms = lo.div_euclid(bucket_ms) * bucket_ms;
        let n = ((last - from_ms) / bucket_ms + 1).clamp(1, MAX_BUCKETS + 1) as usize;
        overview.from_ms = from_ms;
        overview.bucket_ms = bucket_ms;
        overview.buckets = (0..n)
            .map(|i| TimeBucket { start_ms: from_ms + i as i64 * bucket_ms, ..Default::default() })
            .collect();
        let bucket_of = |t: i64| ((t - from_ms).div_euclid(bucket_ms)).clamp(0, n as i64 - 1) as usize;

        // Sessions per bucket by their start.
        let mut p = params.clone();
        p.push(SqlValue::Integer(from_ms));
        p.push(SqlValue::Integer(bucket_ms));
        let (a, b) = (p.len() - 1, p.len());
        let sql = format!(
            "SELECT (s.start_ms - ?{a}) / ?{b} AS k, count(*), count(DISTINCT s.user_id), sum(s.error_count > 0)
             FROM sessions s WHERE {where_sql} GROUP BY k"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(p))?;
        while let Some(r) = rows.next()? {
            let k: i64 = r.get(0)?;
            let bucket = &mut overview.buckets[k.clamp(0, n as i64 - 1) as usize];
            bucket.sessions += r.get::<_, i64>(1)? as u64;
            bucket.unique_users += r.get::<_, i64>(2)? as u64;
            bucket.sessions_with_errors += r.get::<_, i64>(3)? as u64;
        }
        for bucket in &mut overview.buckets {
            if bucket.sessions > 0 {
                bucket.error_session_share = bucket.sessions_with_errors as f64 / bucket.sessions as f64;
            }
        }

        // Events of the selected sessions; no restriction when every session is selected.
        let all_sessions = q.filter.is_none() && q.from_ms.is_none() && q.to_ms.is_none();
        let event_scope = if all_sessions {
            String::new()
        } else {
            format!("AND e.session_pk IN (SELECT s.session_pk FROM sessions s WHERE {where_sql})")
        };

        // One pass over the views: views per bucket and page, and the vitals. The covering
        // indexes (schema 3) hold every column these scans read.
        let metrics: Vec<&'static crate::vitals::Metric> =
            OVERVIEW_VITALS.iter().filter_map(|k| VIEW_METRICS.iter().find(|m| m.key == *k)).collect();
        let metric_columns: Vec<&str> = metrics
            .iter()
            .filter_map(|m| crate::model::event_column_for_key(m.key).map(|c| c.column))
            .collect();
        let sql = format!(
            "SELECT e.time_ms, e.view_path, {} FROM events e INDEXED BY events_view_timings WHERE e.kind = 'view' {event_scope}",
            metric_columns.iter().map(|c| format!("e.{c}")).collect::<Vec<_>>().join(", ")
        );
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); metrics.len()];
        let mut values_by_bucket: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); n]; metrics.len()];
        let mut pages: HashMap<String, (u64, f64, u64)> = HashMap::new(); // views, loading sum ms, loading count
        let loading_index = metrics.iter().position(|m| m.key == "loading_time");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(if all_sessions { Vec::new() } else { params.clone() }))?;
        while let Some(r) = rows.next()? {
            let time_ms: i64 = r.get(0)?;
            let bucket = bucket_of(time_ms);
            overview.buckets[bucket].page_views += 1;
            overview.page_views += 1;
            let path: Option<String> = r.get(1)?;
            let page = path.map(|p| pages.entry(p).or_insert((0, 0.0, 0)));
            let mut loading_ms = None;
            for (i, metric) in metrics.iter().enumerate() {
                let raw: Option<f64> = r.get(2 + i)?;
                if let Some(raw) = raw.filter(|v| v.is_finite() && *v >= 0.0) {
                    let value = metric.display_value(raw);
                    values[i].push(value);
                    values_by_bucket[i][bucket].push(value);
                    if Some(i) == loading_index {
                        loading_ms = Some(value);
                    }
                }
            }
            if let Some(page) = page {
                page.0 += 1;
                if let Some(ms) = loading_ms {
                    page.1 += ms;
                    page.2 += 1;
                }
            }
        }
        for (i, metric) in metrics.iter().enumerate() {
            let all = &mut values[i];
            let mut summary = VitalSummary {
                key: metric.key,
                name: metric.name,
                unit: if metric.is_duration { "ms" } else { "" },
                count: all.len() as u64,
                p75: None,
                good: 0,
                needs_improvement: 0,
                poor: 0,
                thresholds: metric.thresholds,
                p75_by_bucket: values_by_bucket[i].iter_mut().map(|v| p75(v)).collect(),
                distribution: Vec::new(),
            };
            for value in all.iter() {
                match metric.rate(*value) {
                    Some(Rating::Good) => summary.good += 1,
                    Some(Rating::NeedsImprovement) => summary.needs_improvement += 1,
                    Some(Rating::Poor) => summary.poor += 1,
                    None => {}
                }
            }
            if let Some((_, poor)) = metric.thresholds {
                let width = poor * 2.0 / DISTRIBUTION_BINS as f64;
                let mut counts = [0u64; DISTRIBUTION_BINS + 1];
                for value in all.iter() {
                    counts[((value / width) as usize).min(DISTRIBUTION_BINS)] += 1;
                }
                summary.distribution = counts
                    .iter()
                    .enumerate()
                    .map(|(b, count)| DistributionBin {
                        from: b as f64 * width,
                        to: (b < DISTRIBUTION_BINS).then_some((b + 1) as f64 * width),
                        count: *count,
                    })
                    .collect();
            }
            summary.p75 = p75(all);
            overview.vitals.push(summary);
        }

        // Errors: per bucket by their time, per page, and grouped by type and message.
        let sql = format!("SELECT e.time_ms, e.view_path FROM events e INDEXED BY events_error_groups WHERE e.kind = 'error' {event_scope}");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(if all_sessions { Vec::new() } else { params.clone() }))?;
        let mut page_errors: HashMap<String, u64> = HashMap::new();
        while let Some(r) = rows.next()? {
            let time_ms: i64 = r.get(0)?;
            overview.buckets[bucket_of(time_ms)].errors += 1;
            overview.errors += 1;
            if let Some(path) = r.get::<_, Option<String>>(1)? {
                *page_errors.entry(path).or_insert(0) += 1;
            }
        }
        let sql = format!(
            "SELECT e.error_type, e.error_message, count(*) AS n, count(DISTINCT e.session_pk)
             FROM events e INDEXED BY events_error_groups WHERE e.kind = 'error' {event_scope}
             GROUP BY e.error_type, e.error_message ORDER BY n DESC, e.error_type, e.error_message LIMIT {TOP_N}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let groups = stmt.query_map(params_from_iter(if all_sessions { Vec::new() } else { params.clone() }), |r| {
            Ok(ErrorGroup {
                error_type: r.get(0)?,
                error_message: r.get(1)?,
                count: r.get::<_, i64>(2)? as u64,
                sessions: r.get::<_, i64>(3)? as u64,
            })
        })?;
        overview.top_errors = groups.collect::<Result<Vec<_>, _>>()?;

        let mut page_stats: Vec<PageStat> = pages
            .into_iter()
            .map(|(path, (views, loading_sum, loading_count))| PageStat {
                errors: page_errors.remove(&path).unwrap_or(0),
                view_path: path,
                views,
                avg_loading_time_ms: (loading_count > 0).then(|| loading_sum / loading_count as f64),
            })
            .collect();
        // Pages with errors but no view in scope still rank by errors.
        page_stats.extend(page_errors.into_iter().map(|(view_path, errors)| PageStat { view_path, views: 0, avg_loading_time_ms: None, errors }));
        let top = |stats: &mut Vec<PageStat>, key: &dyn Fn(&PageStat) -> f64| -> Vec<PageStat> {
            stats.sort_by(|a, b| key(b).total_cmp(&key(a)).then_with(|| a.view_path.cmp(&b.view_path)));
            stats.iter().filter(|s| key(s) > 0.0).take(TOP_N).cloned().collect()
        };
        overview.top_pages_by_views = top(&mut page_stats, &|s| s.views as f64);
        let enough_views = page_stats.iter().any(|s| s.views >= MIN_VIEWS_FOR_AVERAGE && s.avg_loading_time_ms.is_some());
        let min_views = if enough_views { MIN_VIEWS_FOR_AVERAGE } else { 1 };
        overview.top_pages_by_loading_time =
            top(&mut page_stats, &|s| if s.views >= min_views { s.avg_loading_time_ms.unwrap_or(-1.0) } else { -1.0 });
        overview.top_pages_by_errors = top(&mut page_stats, &|s| s.errors as f64);
        overview.distributions = self.distributions(q, overview.sessions)?;
        Ok(overview)
    }

    /// The p75 loading time (ms) of an app's views: the line a session's "Bound view" compares
    /// its views with.
    pub fn loading_time_p75(&self, app_id: Option<&str>) -> StoreResult<Option<f64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.loading_time_ns FROM events e JOIN sessions s ON s.session_pk = e.session_pk
             WHERE e.kind = 'view' AND e.loading_time_ns IS NOT NULL AND s.app_id IS ?1",
        )?;
        let mut values: Vec<f64> = stmt
            .query_map([app_id], |r| r.get::<_, i64>(0))?
            .filter_map(Result::ok)
            .filter(|ns| *ns >= 0)
            .map(|ns| ns as f64 / 1e6)
            .collect();
        Ok(p75(&mut values))
    }

    fn distributions(&self, q: &SessionQuery, sessions: u64) -> StoreResult<Vec<Distribution>> {
        let mut out = Vec::new();
        for (key, title) in DISTRIBUTION_COLUMNS {
            let values = self.top_values(q, key, TOP_N)?;
            let shown: u64 = values.iter().map(|v| v.1).sum();
            out.push(Distribution { key, title, values, other: sessions.saturating_sub(shown) });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p75_is_the_nearest_rank() {
        assert_eq!(p75(&mut []), None);
        assert_eq!(p75(&mut [5.0]), Some(5.0));
        assert_eq!(p75(&mut [4.0, 1.0, 3.0, 2.0]), Some(3.0));
        assert_eq!(p75(&mut [1.0, 2.0, 3.0, 4.0, 5.0]), Some(4.0));
        let mut hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(p75(&mut hundred), Some(75.0));
    }

    #[test]
    fn buckets_fit_the_span() {
        assert_eq!(bucket_size_ms(30 * 60_000), 60_000);
        assert_eq!(bucket_size_ms(7 * 86_400_000), 3 * 3_600_000);
        assert!(bucket_size_ms(10 * 365 * 86_400_000) * MAX_BUCKETS >= 10 * 365 * 86_400_000);
    }
}
