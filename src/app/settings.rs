//! What the window remembers between runs, and the time range.

use serde::{Deserialize, Serialize};

/// The sessions table's default columns, as in the Guance session explorer.
pub const DEFAULT_COLUMNS: &[&str] = &[
    "start_ms", "duration_ms", "session_type", "view_count", "action_count", "error_count", "first_view_path",
    "last_view_path", "user_name", "browser", "os", "country",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    pub last_db: Option<std::path::PathBuf>,
    pub columns: Vec<String>,
    pub sort_column: String,
    pub sort_descending: bool,
    pub dark_theme: bool,
    pub show_utc: bool,
    /// Queries applied with Enter, from a facet or a field, or left in the bar: the newest
    /// first, each once, at most [`RECENT_QUERIES`].
    pub recent_queries: Vec<String>,
}

/// How many recent queries the window remembers.
pub const RECENT_QUERIES: usize = 20;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            last_db: None,
            columns: DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect(),
            sort_column: "start_ms".into(),
            sort_descending: true,
            dark_theme: true,
            show_utc: false,
            recent_queries: Vec::new(),
        }
    }
}

impl Settings {
    /// Puts `query` first among the recent queries (once, trimmed; an empty one is not kept).
    pub fn remember_query(&mut self, query: &str) {
        let query = query.trim();
        if query.is_empty() {
            return;
        }
        self.recent_queries.retain(|q| q != query);
        self.recent_queries.insert(0, query.to_string());
        self.recent_queries.truncate(RECENT_QUERIES);
    }
}

/// The time range of the explorer. "Last" ranges end at the newest data, not at now:
/// exports are old.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeRange {
    All,
    Last { duration_ms: i64 },
    Custom { from_ms: i64, to_ms: i64 },
}

pub const PRESETS: &[(&str, TimeRange)] = &[
    ("Last 15 min", TimeRange::Last { duration_ms: 15 * 60_000 }),
    ("Last 1 h", TimeRange::Last { duration_ms: 3_600_000 }),
    ("Last 24 h", TimeRange::Last { duration_ms: 86_400_000 }),
    ("Last 7 d", TimeRange::Last { duration_ms: 7 * 86_400_000 }),
    ("All data", TimeRange::All),
];

impl TimeRange {
    /// The range as [from, to) in ms, given the newest session start in the data.
    pub fn bounds(self, newest_ms: Option<i64>) -> (Option<i64>, Option<i64>) {
        match self {
            TimeRange::All => (None, None),
            TimeRange::Last { duration_ms } => match newest_ms {
                Some(newest) => (Some(newest + 1 - duration_ms), None),
                None => (None, None),
            },
            TimeRange::Custom { from_ms, to_ms } => (Some(from_ms), Some(to_ms)),
        }
    }

    pub fn label(self) -> String {
        for (label, preset) in PRESETS {
            if *preset == self {
                return label.to_string();
            }
        }
        "Custom".into()
    }
}
