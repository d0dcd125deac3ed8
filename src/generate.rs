//! Realistic synthetic RUM data, written in every format we import, for tests, the bundled
//! sample data and benchmarks. The same seed gives the same sessions in every format.

use crate::model::{Event, FieldKey, FieldValue};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenerateFormat {
    /// Guance / DataKit line protocol.
    Lp,
    /// Datadog RUM events, one JSON object per line (views re-sent as they update).
    Ndjson,
    /// Guance DataKit JSON points, one JSON array.
    GuanceJson,
    /// Guance explorer CSV, one file per event kind.
    Csv,
}

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same data on every
/// platform and every version of every crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Log-normal around a median, with spread `sigma`.
    pub fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        median * (sigma * normal).exp()
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total as u64) as u32;
        for (item, weight) in items {
            if roll < *weight {
                return item;
            }
            roll -= weight;
        }
        &items[items.len() - 1].0
    }
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

struct App {
    app_id: &'static str,
    service: &'static str,
    host: &'static str,
    pages: &'static [&'static str],
    actions: &'static [&'static str],
    apis: &'static [&'static str],
}

const APPS: &[(App, u32)] = &[
    (
        App {
            app_id: "appid_shop_web",
            service: "shop-web",
            host: "shop.example.com",
            pages: &["/", "/products", "/products/:id", "/cart", "/checkout", "/checkout/payment", "/account", "/search"],
            actions: &["click on Add to cart", "click on Buy now", "click on Search", "click on Pay", "click on Next"],
            apis: &["/api/products", "/api/cart", "/api/checkout", "/api/search", "/api/recommendations"],
        },
        55,
    ),
    (
        App {
            app_id: "appid_console",
            service: "console",
            host: "console.example.com",
            pages: &["/login", "/dashboard", "/dashboard/list", "/query/metrics", "/settings", "/alerts"],
            actions: &["click on Save", "click on Run query", "click on Login", "click on Refresh"],
            apis: &["/api/v1/query", "/api/v1/dashboards", "/api/v1/alerts", "/api/v1/auth"],
        },
        30,
    ),
    (
        App {
            app_id: "appid_docs",
            service: "docs-site",
            host: "docs.example.com",
            pages: &["/", "/getting-started", "/guides/install", "/reference/api", "/faq"],
            actions: &["click on Copy", "click on Search docs"],
            apis: &["/api/search", "/api/feedback"],
        },
        15,
    ),
];

/// (browser, versions, weight).
const BROWSERS: &[((&str, &[&str]), u32)] = &[
    (("Chrome", &["119.0.0.0", "120.0.0.0", "121.0.0.0"]), 60),
    (("Safari", &["16.6", "17.1"]), 18),
    (("Edge", &["120.0.2210.61"]), 10),
    (("Firefox", &["120.0", "121.0"]), 9),
    (("Samsung Internet", &["23.0"]), 3),
];

/// (os, version, device).
const PLATFORMS: &[((&str, &str, &str), u32)] = &[
    (("Windows", "10", "desktop"), 38),
    (("Mac OS", "10.15.7", "desktop"), 22),
    (("iOS", "17.1", "mobile"), 16),
    (("Android", "13", "mobile"), 16),
    (("Linux", "x86_64", "desktop"), 5),
    (("iOS", "17.1", "tablet"), 3),
];

const PLACES: &[((&str, &str), u32)] = &[
    (("China", "Shanghai"), 18),
    (("China", "Beijing"), 12),
    (("China", "Hangzhou"), 6),
    (("United States", "New York"), 14),
    (("United States", "San Francisco"), 8),
    (("Germany", "Berlin"), 8),
    (("Japan", "Tokyo"), 8),
    (("United Kingdom", "London"), 8),
    (("France", "Paris"), 6),
    (("Brazil", "São Paulo"), 6),
    (("India", "Bengaluru"), 6),
];

const ERRORS: &[((&str, &str, &str), u32)] = &[
    (("TypeError", "Cannot read properties of undefined (reading 'price')", "source"), 35),
    (("ReferenceError", "checkoutState is not defined", "source"), 15),
    (("NetworkError", "XHR error POST /api/checkout", "network"), 20),
    (("Error", "Request failed with status code 500", "network"), 15),
    (("console", "Warning: Each child in a list should have a unique \"key\" prop.", "console"), 15),
];

/// Session start times are spread over this week, with more by day than by night.
const BASE_TIME_MS: i64 = 1_762_732_800_000; // 2025-11-10 00:00:00 UTC

fn ns(ms: f64) -> i64 {
    (ms * 1_000_000.0).round() as i64
}

/// Generates the events of one session, views first in each view's group, in time order per view.
pub fn session_events(rng: &mut Rng) -> Vec<Event> {
    session_events_within(rng, None)
}

/// [`session_events`], the session starting within `span_ms` of the base time when given.
fn session_events_within(rng: &mut Rng, span_ms: Option<u64>) -> Vec<Event> {
    let app = rng.weighted(APPS);
    let (browser, versions) = *rng.weighted(BROWSERS);
    let browser_version = *rng.pick(versions);
    let (os, os_version, device) = *rng.weighted(PLATFORMS);
    let (country, city) = *rng.weighted(PLACES);
    let session_id = rng.uuid();
    let synthetics = rng.chance(0.04);
    let signed_in = !synthetics && rng.chance(0.7);
    let user_number = rng.below(5000);
    let env = if rng.chance(0.85) { "production" } else { "staging" };
    let network = *rng.pick(&["4g", "4g", "4g", "wifi", "3g"]);
    let screen = match device {
        "desktop" => *rng.pick(&["1920*1080", "2560*1440", "1440*900"]),
        "tablet" => "820*1180",
        _ => *rng.pick(&["390*844", "412*915"]),
    };
    // Day-time heavy: pick a day, then an hour weighted towards 9..22 local-ish.
    let mut t = match span_ms {
        Some(span_ms) => BASE_TIME_MS + rng.below(span_ms) as i64,
        None => {
            let day = rng.below(7) as i64;
            let hour = if rng.chance(0.8) { 8 + rng.below(14) } else { rng.below(24) } as i64;
            BASE_TIME_MS + day * 86_400_000 + hour * 3_600_000 + rng.below(3_600_000) as i64
        }
    };

    let mut common: Vec<(FieldKey, FieldValue)> = vec![
        ("sdk_name".into(), FieldValue::Str("df_web_rum_sdk".into())),
        ("sdk_version".into(), FieldValue::Str("3.1.2".into())),
        ("app_id".into(), FieldValue::Str(app.app_id.into())),
        ("env".into(), FieldValue::Str(env.into())),
        ("service".into(), FieldValue::Str(app.service.into())),
        ("version".into(), FieldValue::Str(format!("1.{}.0", 4 + rng.below(3)))),
        ("session_id".into(), FieldValue::Str(session_id.clone())),
        ("session_type".into(), FieldValue::Str(if synthetics { "synthetics" } else { "user" }.into())),
        ("browser".into(), FieldValue::Str(browser.into())),
        ("browser_version".into(), FieldValue::Str(browser_version.into())),
        ("os".into(), FieldValue::Str(os.into())),
        ("os_version".into(), FieldValue::Str(os_version.into())),
        ("device".into(), FieldValue::Str(device.into())),
        ("screen_size".into(), FieldValue::Str(screen.into())),
        ("network_type".into(), FieldValue::Str(network.into())),
        ("country".into(), FieldValue::Str(country.into())),
        ("city".into(), FieldValue::Str(city.into())),
    ];
    if signed_in {
        common.push(("userid".into(), FieldValue::Str(format!("user_{user_number:04}"))));
        common.push(("user_name".into(), FieldValue::Str(format!("User {user_number}"))));
        common.push(("user_email".into(), FieldValue::Str(format!("user{user_number}@example.com"))));
    }

    let view_count = 1 + (rng.log_normal(2.5, 0.8) as u64).min(24);
    let mut events = Vec::new();
    let mut referrer = String::new();
    let slow_session = rng.chance(0.1);
    for view_index in 0..view_count {
        let page = *rng.pick(app.pages);
        let path = page.replace(":id", &(1000 + rng.below(9000)).to_string());
        let query = if rng.chance(0.3) { format!("?ref=nav&q={}", rng.below(100)) } else { String::new() };
        let url = format!("https://{}{}{}", app.host, path, query);
        let view_id = rng.uuid();
        let view_start = t;
        let slow = if slow_session { 3.0 } else { 1.0 };
        let loading_ms = rng.log_normal(1200.0 * slow, 0.6);
        let ttfb_ms = rng.log_normal(180.0 * slow, 0.5).min(loading_ms * 0.5);
        let fcp_ms = (ttfb_ms + rng.log_normal(600.0 * slow, 0.5)).min(loading_ms);
        let lcp_ms = fcp_ms + rng.log_normal(500.0 * slow, 0.7);
        let time_spent_ms = rng.log_normal(18_000.0, 1.0).clamp(loading_ms + 500.0, 900_000.0);
        let mut view_fields = common.clone();
        let view_event_fields: Vec<(FieldKey, FieldValue)> = vec![
            ("view_id".into(), FieldValue::Str(view_id.clone())),
            ("view_url".into(), FieldValue::Str(url.clone())),
            ("view_path".into(), FieldValue::Str(path.clone())),
            ("view_referrer".into(), FieldValue::Str(referrer.clone())),
        ];
        view_fields.extend(view_event_fields);
        let mut children: Vec<Event> = Vec::new();
        let mut add = |kind: &str, at: i64, fields: Vec<(FieldKey, FieldValue)>| {
            let mut e = Event::new(kind, at);
            e.fields = view_fields.clone();
            e.fields.extend(fields);
            children.push(e);
        };
        // Resources: the document, scripts and styles, then XHR/fetch calls.
        let resource_count = 2 + rng.below(10);
        let mut resource_errors = 0;
        for r in 0..resource_count {
            let (resource_type, resource_path) = if r == 0 && view_index == 0 {
                ("document", path.clone())
            } else if r < 3 {
                let t = *rng.pick(&["js", "css", "image", "font"]);
                (t, format!("/static/{}.{}", rng.below(40), match t { "js" => "js", "css" => "css", "image" => "png", _ => "woff2" }))
            } else {
                (*rng.pick(&["xhr", "fetch"]), rng.pick(app.apis).to_string())
            };
            let failed = resource_type == "xhr" || resource_type == "fetch";
            let status = if failed && rng.chance(0.04) { *rng.pick(&[500i64, 502, 404, 401]) } else { 200 };
            if status >= 500 {
                resource_errors += 1;
            }
            let method = if failed && rng.chance(0.3) { "POST" } else { "GET" };
            let offset = rng.below((loading_ms as u64).max(1) + r * 200) as i64;
            add(
                "resource",
                view_start + offset,
                vec![
                    ("resource_url".into(), FieldValue::Str(format!("https://{}{}", app.host, resource_path))),
                    ("resource_url_host".into(), FieldValue::Str(app.host.into())),
                    ("resource_url_path".into(), FieldValue::Str(resource_path.clone())),
                    ("resource_type".into(), FieldValue::Str(resource_type.into())),
                    ("resource_method".into(), FieldValue::Str(method.into())),
                    ("resource_status".into(), FieldValue::Int(status)),
                    ("resource_status_group".into(), FieldValue::Str(format!("{}xx", status / 100))),
                    ("duration".into(), FieldValue::Int(ns(rng.log_normal(120.0 * slow, 0.9)))),
                    ("resource_size".into(), FieldValue::Int(rng.log_normal(18_000.0, 1.2) as i64)),
                    ("resource_ttfb".into(), FieldValue::Int(ns(rng.log_normal(60.0, 0.6)))),
                    ("resource_dns".into(), FieldValue::Int(ns(rng.log_normal(4.0, 1.0)))),
                ],
            );
        }
        let long_tasks = if rng.chance(0.5) { rng.below(4) } else { 0 };
        for _ in 0..long_tasks {
            let offset = rng.below((loading_ms as u64).max(1) * 2) as i64;
            let duration_ms = 50.0 + rng.log_normal(60.0 * slow, 0.8);
            add(
                "long_task",
                view_start + offset,
                vec![
                    ("duration".into(), FieldValue::Int(ns(duration_ms))),
                    ("blocking_duration".into(), FieldValue::Int(ns(duration_ms - 50.0))),
                ],
            );
        }
        let actions = rng.below(4);
        for _ in 0..actions {
            let offset = (loading_ms as i64) + rng.below((time_spent_ms - loading_ms).max(1.0) as u64) as i64;
            add(
                "action",
                view_start + offset,
                vec![
                    ("action_id".into(), FieldValue::Str(rng.uuid())),
                    ("action_type".into(), FieldValue::Str("click".into())),
                    ("action_name".into(), FieldValue::Str(rng.pick(app.actions).to_string())),
                    ("duration".into(), FieldValue::Int(ns(rng.log_normal(150.0, 0.8)))),
                ],
            );
        }
        let error_count = if rng.chance(0.08 * slow) || resource_errors > 0 { 1 + rng.below(2) } else { 0 };
        for e in 0..error_count {
            let (error_type, message, source) = *rng.weighted(ERRORS);
            let offset = rng.below((time_spent_ms as u64).max(1)) as i64;
            let script = format!("https://{}/static/app.{}.js", app.host, 10 + e);
            let stack = if source == "source" {
                format!(
                    "{error_type}: {message}\n    at renderPrice ({script}:1:{})\n    at updateCart ({script}:1:{})\n    at HTMLButtonElement.onclick ({}{path}:1:1)",
                    1000 + rng.below(9000),
                    1000 + rng.below(9000),
                    app.host
                )
            } else {
                "Failed to load".to_string()
            };
            add(
                "error",
                view_start + offset,
                vec![
                    ("error_type".into(), FieldValue::Str(error_type.into())),
                    ("error_message".into(), FieldValue::Str(message.into())),
                    ("error_source".into(), FieldValue::Str(source.into())),
                    ("error_handling".into(), FieldValue::Str(if source == "console" { "handled" } else { "unhandled" }.into())),
                    ("error_stack".into(), FieldValue::Str(stack)),
                ],
            );
        }
        let mut view = Event::new("view", view_start);
        view.fields = view_fields.clone();
        view.fields.extend([
            ("view_loading_type".into(), FieldValue::Str(if view_index == 0 { "initial_load" } else { "route_change" }.into())),
            ("loading_time".into(), FieldValue::Int(ns(loading_ms))),
            ("first_byte".into(), FieldValue::Int(ns(ttfb_ms))),
            ("first_contentful_paint".into(), FieldValue::Int(ns(fcp_ms))),
            ("largest_contentful_paint".into(), FieldValue::Int(ns(lcp_ms))),
            ("cumulative_layout_shift".into(), FieldValue::Float((rng.log_normal(0.04, 1.2).min(1.5) * 1000.0).round() / 1000.0)),
            ("first_input_delay".into(), FieldValue::Int(ns(rng.log_normal(12.0, 1.0)))),
            ("interaction_to_next_paint".into(), FieldValue::Int(ns(rng.log_normal(120.0 * slow, 0.8)))),
            ("dom_interactive".into(), FieldValue::Int(ns(fcp_ms * 0.9))),
            ("dom_content_loaded".into(), FieldValue::Int(ns(fcp_ms))),
            ("dom_complete".into(), FieldValue::Int(ns(loading_ms * 0.95))),
            ("load_event".into(), FieldValue::Int(ns(loading_ms))),
            ("time_spent".into(), FieldValue::Int(ns(time_spent_ms))),
            ("view_resource_count".into(), FieldValue::Int(resource_count as i64)),
            ("view_long_task_count".into(), FieldValue::Int(long_tasks as i64)),
            ("view_action_count".into(), FieldValue::Int(actions as i64)),
            ("view_error_count".into(), FieldValue::Int(error_count as i64)),
        ]);
        children.sort_by_key(|e| e.time_ms);
        events.push(view);
        events.extend(children);
        referrer = url;
        t = view_start + time_spent_ms as i64 + rng.below(2000) as i64;
    }
    events
}

fn escape_tag(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ',' | '=' | ' ' | '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Keys written as quoted fields in line protocol (long free text); other text keys are tags.
const LP_TEXT_FIELDS: &[&str] = &["error_message", "error_stack", "action_name"];

pub fn to_line_protocol(event: &Event) -> String {
    let mut line = escape_tag(&event.kind);
    let mut fields = Vec::new();
    for (key, value) in &event.fields {
        match value {
            FieldValue::Str(s) if !LP_TEXT_FIELDS.contains(&key.as_ref()) => {
                if s.is_empty() {
                    continue;
                }
                line.push(',');
                line.push_str(&escape_tag(key));
                line.push('=');
                line.push_str(&escape_tag(s));
            }
            FieldValue::Str(s) => {
                fields.push(format!("{}=\"{}\"", escape_tag(key), s.replace('\\', "\\\\").replace('"', "\\\"")))
            }
            FieldValue::Int(i) => fields.push(format!("{}={i}i", escape_tag(key))),
            FieldValue::Float(f) => fields.push(format!("{}={f:?}", escape_tag(key))),
            FieldValue::Bool(b) => fields.push(format!("{}={b}", escape_tag(key))),
        }
    }
    if fields.is_empty() {
        fields.push("is_active=true".into());
    }
    format!("{line} {} {}", fields.join(","), event.time_ms)
}

pub fn to_guance_json(event: &Event) -> serde_json::Value {
    let mut tags = serde_json::Map::new();
    let mut fields = serde_json::Map::new();
    for (key, value) in &event.fields {
        match value {
            FieldValue::Str(s) if !LP_TEXT_FIELDS.contains(&key.as_ref()) => {
                tags.insert(key.to_string(), serde_json::Value::String(s.clone()));
            }
            other => {
                fields.insert(key.to_string(), other.to_json());
            }
        }
    }
    serde_json::json!({"measurement": event.kind, "tags": tags, "fields": fields, "time": event.time_ms})
}

/// A Datadog event: Guance names turned back into Datadog's nested keys.
pub fn to_datadog_json(event: &Event, document_version: Option<i64>) -> serde_json::Value {
    let mut root = serde_json::Map::new();
    root.insert("type".into(), serde_json::Value::String(event.kind.clone()));
    root.insert("date".into(), serde_json::Value::from(event.time_ms));
    let mut insert = |path: &str, value: serde_json::Value| {
        let mut parts: Vec<&str> = path.split('.').collect();
        let last = parts.pop().unwrap_or(path);
        let mut node = &mut root;
        for part in parts {
            let entry = node.entry(part.to_string()).or_insert_with(|| serde_json::Value::Object(Default::default()));
            if !entry.is_object() {
                *entry = serde_json::Value::Object(Default::default());
            }
            let serde_json::Value::Object(map) = entry else { return };
            node = map;
        }
        node.insert(last.to_string(), value);
    };
    for (key, value) in &event.fields {
        if key == "view_path" {
            continue; // Datadog derives the path from view.url
        }
        match crate::ingest::datadog::datadog_key(&event.kind, key) {
            Some(dotted) => insert(dotted, value.to_json()),
            // Keys Datadog has no name for travel under their own (flattening gives them back).
            None => insert(key, value.to_json()),
        }
    }
    let mut dd = serde_json::Map::new();
    dd.insert("format_version".into(), serde_json::Value::from(2));
    if let Some(v) = document_version {
        dd.insert("document_version".into(), serde_json::Value::from(v));
    }
    root.insert("_dd".into(), serde_json::Value::Object(dd));
    serde_json::Value::Object(root)
}

/// Header keys of the CSV file of each kind.
fn csv_keys(kind: &str) -> Vec<&'static str> {
    let mut keys = vec![
        "sdk_name", "sdk_version", "app_id", "env", "service", "version", "session_id", "session_type", "browser",
        "browser_version", "os", "os_version", "device", "screen_size", "network_type", "country", "city", "userid",
        "user_name", "user_email", "view_id", "view_url", "view_path", "view_referrer",
    ];
    keys.extend(match kind {
        "view" => &[
            "view_loading_type", "loading_time", "first_byte", "first_contentful_paint", "largest_contentful_paint",
            "cumulative_layout_shift", "first_input_delay", "interaction_to_next_paint", "dom_interactive",
            "dom_content_loaded", "dom_complete", "load_event", "time_spent", "view_resource_count",
            "view_long_task_count", "view_action_count", "view_error_count",
        ][..],
        "resource" => &[
            "resource_url", "resource_url_host", "resource_url_path", "resource_type", "resource_method",
            "resource_status", "resource_status_group", "duration", "resource_size", "resource_ttfb", "resource_dns",
        ][..],
        "long_task" => &["duration", "blocking_duration"][..],
        "action" => &["action_id", "action_type", "action_name", "duration"][..],
        "error" => &["error_type", "error_message", "error_source", "error_handling", "error_stack"][..],
        _ => &[][..],
    });
    keys
}

fn create(path: &Path, gzip: bool) -> std::io::Result<Box<dyn Write>> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    let file = std::fs::File::create(path)?;
    Ok(if gzip {
        Box::new(BufWriter::with_capacity(1 << 20, flate2::write::GzEncoder::new(file, flate2::Compression::default())))
    } else {
        Box::new(BufWriter::with_capacity(1 << 20, file))
    })
}

fn with_gz(path: &Path, gzip: bool) -> PathBuf {
    if gzip && path.extension().and_then(|e| e.to_str()) != Some("gz") {
        let mut name = path.as_os_str().to_owned();
        name.push(".gz");
        PathBuf::from(name)
    } else {
        path.to_path_buf()
    }
}

/// In which order the events of a generated file come.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GenerateOrder {
    /// One session after another, each view followed by what happened in it.
    #[default]
    Session,
    /// By time across sessions, as an explorer's export is: the events of sessions that
    /// overlap in time interleave.
    Time,
}

/// What `generate` may change beyond the format and the number of sessions.
#[derive(Clone, Copy, Debug, Default)]
pub struct GenerateOptions {
    pub order: GenerateOrder,
    /// Sessions start within this many hours (uniformly) instead of over a week with more by
    /// day: a short span makes many sessions overlap, as an hour of a busy site does.
    pub span_hours: Option<u64>,
}

/// Writes `sessions` sessions in session order; returns the files written and their event counts.
pub fn write(out: &Path, format: GenerateFormat, sessions: u64, seed: u64, gzip: bool) -> std::io::Result<Vec<(PathBuf, u64)>> {
    write_with(out, format, sessions, seed, gzip, GenerateOptions::default())
}

/// Writes `sessions` sessions as `options` say; returns the files written and their event counts.
pub fn write_with(
    out: &Path,
    format: GenerateFormat,
    sessions: u64,
    seed: u64,
    gzip: bool,
    options: GenerateOptions,
) -> std::io::Result<Vec<(PathBuf, u64)>> {
    let mut writer = EventWriter::create(out, format, gzip)?;
    for_each_event(sessions, seed, options, &mut |event| writer.write(event))?;
    writer.finish()
}

/// Calls `emit` with every event of `sessions` sessions, in the order `options` asks for.
fn for_each_event(
    sessions: u64,
    seed: u64,
    options: GenerateOptions,
    emit: &mut dyn FnMut(&Event) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let span_ms = options.span_hours.map(|hours| hours.max(1) * 3_600_000);
    let mut rng = Rng::new(seed);
    match options.order {
        GenerateOrder::Session => {
            for _ in 0..sessions {
                for event in session_events_within(&mut rng, span_ms) {
                    emit(&event)?;
                }
            }
        }
        GenerateOrder::Time => {
            // The generator's state before each session, and the session's first time: each
            // session is made again when its turn comes, so memory holds only the sessions
            // under way (a heap of their events), not the file.
            let mut starts: Vec<(i64, u64, u64)> = Vec::with_capacity(sessions as usize);
            for index in 0..sessions {
                let state = rng.0;
                let first_ms = session_events_within(&mut rng, span_ms).iter().map(|e| e.time_ms).min().unwrap_or(0);
                starts.push((first_ms, index, state));
            }
            starts.sort_unstable();
            // Min-heap on (time, sequence): ties keep the order they were made in.
            let mut under_way: std::collections::BinaryHeap<std::cmp::Reverse<TimedEvent>> = std::collections::BinaryHeap::new();
            let mut sequence = 0u64;
            for (first_ms, _, state) in starts {
                while under_way.peek().is_some_and(|next| next.0.time_ms < first_ms) {
                    if let Some(std::cmp::Reverse(next)) = under_way.pop() {
                        emit(&next.event)?;
                    }
                }
                for event in session_events_within(&mut Rng(state), span_ms) {
                    under_way.push(std::cmp::Reverse(TimedEvent { time_ms: event.time_ms, sequence, event }));
                    sequence += 1;
                }
            }
            while let Some(std::cmp::Reverse(next)) = under_way.pop() {
                emit(&next.event)?;
            }
        }
    }
    Ok(())
}

/// An event waiting for its turn in a time-ordered file.
struct TimedEvent {
    time_ms: i64,
    sequence: u64,
    event: Event,
}

impl PartialEq for TimedEvent {
    fn eq(&self, other: &Self) -> bool {
        (self.time_ms, self.sequence) == (other.time_ms, other.sequence)
    }
}
impl Eq for TimedEvent {}
impl PartialOrd for TimedEvent {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimedEvent {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time_ms, self.sequence).cmp(&(other.time_ms, other.sequence))
    }
}

/// Writes events in one format, to one file or (CSV) one file per kind.
enum EventWriter {
    Lines { format: GenerateFormat, path: PathBuf, out: Box<dyn Write>, count: u64 },
    Csv { files: Vec<CsvKindFile> },
}

/// One kind's CSV file and the events written to it.
struct CsvKindFile {
    kind: &'static str,
    writer: csv::Writer<Box<dyn Write>>,
    path: PathBuf,
    count: u64,
}

/// The kinds CSV writes, a file each.
const CSV_KINDS: [&str; 5] = ["view", "action", "error", "resource", "long_task"];

impl EventWriter {
    fn create(out: &Path, format: GenerateFormat, gzip: bool) -> std::io::Result<Self> {
        match format {
            GenerateFormat::Lp | GenerateFormat::Ndjson | GenerateFormat::GuanceJson => {
                let path = with_gz(out, gzip);
                let mut w = create(&path, gzip)?;
                if format == GenerateFormat::GuanceJson {
                    w.write_all(b"[\n")?;
                }
                Ok(EventWriter::Lines { format, path, out: w, count: 0 })
            }
            GenerateFormat::Csv => {
                let stem = out.with_extension("");
                let mut files = Vec::new();
                for kind in CSV_KINDS {
                    let path = with_gz(&PathBuf::from(format!("{}-{kind}.csv", stem.display())), gzip);
                    let mut writer = csv::Writer::from_writer(create(&path, gzip)?);
                    let mut header = vec!["time"];
                    header.extend(csv_keys(kind));
                    writer.write_record(&header).map_err(std::io::Error::other)?;
                    files.push(CsvKindFile { kind, writer, path, count: 0 });
                }
                Ok(EventWriter::Csv { files })
            }
        }
    }

    fn write(&mut self, event: &Event) -> std::io::Result<()> {
        match self {
            EventWriter::Lines { format, out: w, count, .. } => {
                match format {
                    GenerateFormat::Lp => writeln!(w, "{}", to_line_protocol(event))?,
                    GenerateFormat::GuanceJson => {
                        if *count > 0 {
                            w.write_all(b",\n")?;
                        }
                        serde_json::to_writer(&mut *w, &to_guance_json(event))?;
                    }
                    _ => {
                        if event.kind == "view" {
                            // Datadog re-sends a view as it updates: an early copy first.
                            let mut early = event.clone();
                            early.fields.retain(|(k, _)| !matches!(k.as_ref(), "largest_contentful_paint" | "interaction_to_next_paint" | "view_action_count" | "view_error_count"));
                            early.set("time_spent", FieldValue::Int(1_000_000));
                            serde_json::to_writer(&mut *w, &to_datadog_json(&early, Some(1)))?;
                            w.write_all(b"\n")?;
                        }
                        let version = (event.kind == "view").then_some(5);
                        serde_json::to_writer(&mut *w, &to_datadog_json(event, version))?;
                        w.write_all(b"\n")?;
                    }
                }
                *count += 1;
            }
            EventWriter::Csv { files } => {
                let Some(file) = files.iter_mut().find(|file| file.kind == event.kind) else {
                    return Ok(());
                };
                let mut row = vec![crate::timeparse::format_utc_ms(event.time_ms)];
                for key in csv_keys(file.kind) {
                    row.push(event.get(key).map(|v| v.to_string()).unwrap_or_default());
                }
                file.writer.write_record(&row).map_err(std::io::Error::other)?;
                file.count += 1;
            }
        }
        Ok(())
    }

    fn finish(self) -> std::io::Result<Vec<(PathBuf, u64)>> {
        match self {
            EventWriter::Lines { format, path, mut out, count } => {
                if format == GenerateFormat::GuanceJson {
                    out.write_all(b"\n]\n")?;
                }
                out.flush()?;
                Ok(vec![(path, count)])
            }
            EventWriter::Csv { files } => {
                let mut written = Vec::new();
                for mut file in files {
                    file.writer.flush()?;
                    written.push((file.path, file.count));
                }
                Ok(written)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).expect("read").lines().map(str::to_string).collect()
    }

    /// A time-ordered file holds the same lines as the session-ordered one, by time across
    /// sessions; the default order is unchanged by the option's existence.
    #[test]
    fn time_order_interleaves_the_same_events() {
        let dir = tempfile::tempdir().expect("tempdir");
        let by_session = dir.path().join("s.ndjson");
        let by_time = dir.path().join("t.ndjson");
        let options = |order| GenerateOptions { order, span_hours: Some(1) };
        write_with(&by_session, GenerateFormat::Ndjson, 200, 3, false, options(GenerateOrder::Session)).expect("generate");
        write_with(&by_time, GenerateFormat::Ndjson, 200, 3, false, options(GenerateOrder::Time)).expect("generate");
        let (mut session_lines, time_lines) = (lines(&by_session), lines(&by_time));
        assert_ne!(session_lines, time_lines, "200 sessions within an hour overlap");
        let dates: Vec<i64> = time_lines
            .iter()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("json")["date"].as_i64().expect("date"))
            .collect();
        assert!(dates.windows(2).all(|pair| pair[0] <= pair[1]), "in time order");
        assert!(dates.iter().all(|date| *date >= BASE_TIME_MS && *date < BASE_TIME_MS + 2 * 3_600_000), "sessions start within the hour");
        let mut sorted_time_lines = time_lines.clone();
        sorted_time_lines.sort();
        session_lines.sort();
        assert_eq!(session_lines, sorted_time_lines);
    }

    /// Without options, `write` gives what it gave before the options existed: sessions one
    /// after another over a week (benchmarks compare files generated on different days).
    #[test]
    fn session_order_is_the_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("p.lp");
        let with_default = dir.path().join("d.lp");
        write(&plain, GenerateFormat::Lp, 50, 9, false).expect("generate");
        write_with(&with_default, GenerateFormat::Lp, 50, 9, false, GenerateOptions::default()).expect("generate");
        let text = |path: &Path| std::fs::read_to_string(path).expect("read");
        assert!(text(&plain) == text(&with_default), "the same file");
        let mut rng = Rng::new(9);
        let expected: String = (0..50).flat_map(|_| session_events(&mut rng)).map(|e| to_line_protocol(&e) + "\n").collect();
        assert!(text(&plain) == expected, "sessions one after another, as generated");
    }
}
