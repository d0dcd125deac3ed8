//! RUM Session Explorer: import Real User Monitoring exports (Guance, Datadog) into SQLite and
//! explore sessions, from a window or the command line.

pub mod app;
pub mod cli;
pub mod generate;
pub mod ingest;
pub mod model;
pub mod query;
pub mod store;
pub mod timeparse;
