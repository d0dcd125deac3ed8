//! RUM Session Explorer: import Real User Monitoring exports (Guance, Datadog) into SQLite and
//! explore sessions, from a window or the command line.

// Nothing from a file, a user or the clipboard may panic the tool.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod cli;
pub mod error_pattern;
pub mod generate;
pub mod ingest;
pub mod model;
pub mod query;
pub mod query_complete;
pub mod session_export;
pub mod session_view;
pub mod store;
pub mod timeparse;
pub mod vitals;
