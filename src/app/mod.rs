//! The window: one `ExplorerApp` owns all state; panels draw from it and send [`Command`]s,
//! which the app applies between frames. Database work runs on worker threads.

pub mod chart_axes;
pub mod export_job;
pub mod format;
pub mod import_job;
mod panels;
pub mod settings;
pub mod worker;

use crate::ingest::FileReport;
use crate::query::{self, Filter, ParseError};
use crate::store::{SessionDetail, SessionQuery, SessionRow};
use import_job::{ImportEvent, ImportJob};
use settings::{Settings, TimeRange};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use worker::{Facet, Histogram, Request, Response, Worker, PAGE_ROWS};

const SETTINGS_KEY: &str = "rum-explorer-settings";
/// Typing pauses this long before the query runs.
const QUERY_DEBOUNCE: Duration = Duration::from_millis(250);

/// Everything a panel can ask the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// The query text changed (typing): applied after a short pause.
    EditQuery(String),
    /// Replace the query and apply it now.
    SetQuery(String),
    /// Add `key:value` (or `-key:value`) to the query.
    AddQueryTerm { key: String, value: String, negate: bool },
    /// Remove the n-th top-level term of the query (a chip's ×).
    RemoveQueryTerm(usize),
    /// Sort by a column; the same column again reverses the order.
    SortBy(String),
    SetTimeRange(TimeRange),
    AddColumn(String),
    RemoveColumn(String),
    MoveColumn { from: usize, to: usize },
    SelectRow(usize),
    /// Open the detail panel of the selected session.
    OpenDetail,
    /// Open the detail of a session by id (from the command line or a link).
    OpenSession(String),
    CloseDetail,
    Import(Vec<PathBuf>),
    OpenFileDialog,
    CancelImport,
    Copy(String),
    ToggleTheme,
    ToggleUtc,
    ShowColumnChooser(bool),
    ShowImportReport(bool),
    SetTimelineOptions(TimelineOptions),
    /// Show a drill-down of the open session (a new entry in the back/forward history).
    OpenDrillDown(DetailPage),
    NavigateBack,
    NavigateForward,
    /// Move the timeline's cursor to the previous (-1) or next (+1) time point.
    StepTimePoint(i32),
    /// Put the timeline's cursor on an event.
    SetTimelineCursor(Option<i64>),
    SetResourceFilter(ResourceFilter),
    ShowTab(MainTab),
    ShowDetailTab(DetailTab),
    /// Open (true) or close the *Export sessions* window; closing cancels a running export.
    ShowExportWindow(bool),
    SetExportPath(String),
    /// Pick the export's file in the system's save dialog.
    BrowseExportPath,
    /// Write the sessions the table selects to the export window's file.
    StartExport,
    CancelExport,
    /// Keep the query in the bar among the recent queries (the field lost the cursor).
    RememberQuery,
    /// Ask for a field's common values (the query bar suggests them), once until the data changes.
    FetchKeyValues(String),
    /// Show only the timeline's events that hold this text (empty: all).
    SetTimelineFind(String),
    /// The Errors tab lists only the errors whose type or message holds this text.
    SetErrorFind(String),
    /// The Errors tab lists another page of older errors.
    ShowOlderErrors,
    /// Open a session's detail on one of its errors.
    OpenError { session_id: String, event_pk: i64 },
    /// The Views tab lists only the views whose page path holds this text.
    SetViewFind(String),
    /// The Views tab's order: a new column sorts the slowest (newest) first, the same column
    /// again turns the order round.
    SortViews(crate::store::ViewSort),
    /// The Views tab lists another page of views.
    ShowMoreViews,
    /// Open a session's detail on one of its views' performance.
    OpenView { session_id: String, event_pk: i64 },
    /// The Views tab lists views (false) or pages with their p75 vitals (true).
    SetViewsByPage(bool),
    /// Grouped by page, pages that differ only in numbers and ids are one route.
    SetPageRoutes(bool),
    /// Grouped by page: the order (`Time` is by views); the same column again turns it round.
    SortPages(crate::store::ViewSort),
    /// Grouped by page: only pages with at least this many views.
    SetPageMinViews(u64),
    /// Filter by a page (or a route's wildcard) and list its views.
    OpenPage(crate::store::PageSummary),
    /// The Errors tab lists occurrences (false) or one row per error (true).
    SetErrorsByError(bool),
    /// By error, messages that differ only in numbers and ids are one pattern.
    SetErrorPatterns(bool),
    /// By error: the order; the same column again turns it round.
    SortErrorGroups(crate::store::ErrorGroupSort),
    /// Filter by an error (type and message or pattern) and list its occurrences.
    OpenErrorGroup(crate::store::ErrorGroup),
    /// The Resources tab lists only the resources whose URL holds this text.
    SetResourceFind(String),
    /// The Resources tab's order: a new column sorts the slowest (largest, newest) first, the
    /// same column again turns the order round.
    SortResources(crate::store::ResourceSort),
    /// The Resources tab lists another page of resources.
    ShowMoreResources,
    /// Open a session's detail on the view a resource was loaded in, the resource marked.
    OpenResource { session_id: String, event_pk: i64 },
    /// The Resources tab lists requests (false) or one row per method and URL (true).
    SetResourcesByUrl(bool),
    /// By URL, URLs that differ only in numbers and ids are one pattern.
    SetResourcePatterns(bool),
    /// By URL: the order; the same column again turns it round.
    SortResourceGroups(crate::store::ResourceGroupSort),
    /// Filter by a method and URL (or pattern) and list its requests.
    OpenResourceGroup(crate::store::ResourceGroup),
}

/// The Resources tab's list: the resources of the selected sessions, newest, slowest or
/// largest first, or grouped by URL.
#[derive(Debug, Clone)]
pub struct ResourceList {
    /// The text the resources' URL must hold.
    pub find: String,
    pub sort: crate::store::ResourceSort,
    pub descending: bool,
    pub rows: Vec<crate::store::ResourceEventRow>,
    /// Resources in all; `None` until the first answer, and while they are counted apart
    /// (see `counting`).
    pub total: Option<u64>,
    /// The query generation and find text `total` counts, and those a count was asked for:
    /// a narrowed list's rows come first, its count after, whatever the order or page.
    total_for: Option<(u64, String)>,
    total_requested_for: Option<(u64, String)>,
    /// How many it lists: `page_rows` more each *Show more*.
    pub limit: usize,
    /// Listed at first and added by *Show more* ([`worker::RESOURCE_LIST_PAGE`]; tests lower it).
    pub page_rows: usize,
    shown_for: Option<ResourceListRequest>,
    requested_for: Option<ResourceListRequest>,
    /// By URL: one row per method and URL (or pattern) with its counts.
    pub by_url: bool,
    pub as_patterns: bool,
    pub group_sort: crate::store::ResourceGroupSort,
    pub group_descending: bool,
    /// Every group of the current query, in `group_sort`'s order.
    pub groups: Vec<crate::store::ResourceGroup>,
    groups_shown_for: Option<(u64, String, bool)>,
    groups_requested_for: Option<(u64, String, bool)>,
    /// The requests the running By URL read has read so far (the worker counts them).
    pub groups_requests_read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// The query generation, find text, order and limit of a Resources tab request.
type ResourceListRequest = (u64, String, crate::store::ResourceSort, bool, usize);

impl Default for ResourceList {
    fn default() -> Self {
        ResourceList {
            find: String::new(),
            sort: crate::store::ResourceSort::Time,
            descending: true,
            rows: Vec::new(),
            total: None,
            total_for: None,
            total_requested_for: None,
            limit: worker::RESOURCE_LIST_PAGE,
            page_rows: worker::RESOURCE_LIST_PAGE,
            shown_for: None,
            requested_for: None,
            by_url: false,
            as_patterns: true,
            group_sort: crate::store::ResourceGroupSort::Count,
            group_descending: true,
            groups: Vec::new(),
            groups_shown_for: None,
            groups_requested_for: None,
            groups_requests_read: Default::default(),
        }
    }
}

impl ResourceList {
    /// What the By URL line says while its read runs: the requests read so far, and of how
    /// many when the By request list has counted them for the same query and find text.
    pub fn groups_reading_text(&self) -> String {
        let read = self.groups_requests_read.load(std::sync::atomic::Ordering::Relaxed);
        if read == 0 {
            return "Reading the resources…".to_string();
        }
        let counted = self.groups_requested_for.as_ref().and_then(|(generation, find, _)| {
            let same = self.total_for.as_ref().is_some_and(|(g, f)| g == generation && f == find);
            if same { self.total } else { None }
        });
        match counted {
            Some(total) if total >= read => format!("Reading the resources… {} of {} requests", format::grouped(read), format::grouped(total)),
            _ => format!("Reading the resources… {} requests read", format::grouped(read)),
        }
    }

    /// True while the rows shown are not those of the current query, find text and order.
    pub fn loading(&self) -> bool {
        if self.by_url {
            self.groups_shown_for != self.groups_requested_for
        } else {
            self.shown_for != self.requested_for
        }
    }

    /// Whether the groups of the current query have arrived.
    pub fn groups_known(&self) -> bool {
        self.by_url && self.groups_shown_for.is_some() && !self.loading()
    }

    /// True while the rows shown wait for their count.
    pub fn counting(&self) -> bool {
        self.shown_for.is_some() && self.total.is_none()
    }

    /// Whether the list may go on past the rows shown: more than them in all, or a full
    /// page while they are counted.
    pub fn has_more(&self) -> bool {
        let shown = self.rows.len();
        match self.total {
            Some(total) => total > shown as u64,
            None => self.counting() && self.shown_for.as_ref().is_some_and(|(.., limit)| shown >= *limit),
        }
    }
}

/// The Views tab's list: the views of the selected sessions, newest or slowest first.
#[derive(Debug, Clone)]
pub struct ViewList {
    /// The text the views' page path must hold.
    pub find: String,
    pub sort: crate::store::ViewSort,
    pub descending: bool,
    pub rows: Vec<crate::store::ViewEventRow>,
    /// Views in all; `None` until the first answer.
    pub total: Option<u64>,
    /// How many it lists: `page_rows` more each *Show more*.
    pub limit: usize,
    /// Views listed at first and added by *Show more* ([`worker::VIEW_LIST_PAGE`]; tests lower it).
    pub page_rows: usize,
    /// What the rows shown answer, and what the last request asked.
    shown_for: Option<ViewListRequest>,
    requested_for: Option<ViewListRequest>,
    /// Grouped by page: one row per page (or route) with its views and p75 vitals.
    pub by_page: bool,
    pub as_routes: bool,
    pub min_views: u64,
    pub page_sort: crate::store::ViewSort,
    pub page_descending: bool,
    /// Every page of the current query, in `page_sort`'s order.
    pub pages: Vec<crate::store::PageSummary>,
    pages_shown_for: Option<PageListRequest>,
    pages_requested_for: Option<PageListRequest>,
}

/// The query generation, find text and grouping of a Views tab request by page.
type PageListRequest = (u64, String, bool);

/// The query generation, find text, order and limit of a Views tab request.
type ViewListRequest = (u64, String, crate::store::ViewSort, bool, usize);

impl Default for ViewList {
    fn default() -> Self {
        ViewList {
            find: String::new(),
            sort: crate::store::ViewSort::Time,
            descending: true,
            rows: Vec::new(),
            total: None,
            limit: worker::VIEW_LIST_PAGE,
            page_rows: worker::VIEW_LIST_PAGE,
            shown_for: None,
            requested_for: None,
            by_page: false,
            as_routes: true,
            min_views: 1,
            page_sort: crate::store::ViewSort::Time,
            page_descending: true,
            pages: Vec::new(),
            pages_shown_for: None,
            pages_requested_for: None,
        }
    }
}

impl ViewList {
    /// True while the rows shown are not those of the current query, find text and order.
    pub fn loading(&self) -> bool {
        if self.by_page {
            self.pages_shown_for != self.pages_requested_for
        } else {
            self.shown_for != self.requested_for
        }
    }

    /// Whether the pages of the current query have arrived.
    pub fn pages_known(&self) -> bool {
        self.by_page && self.pages_shown_for.is_some() && !self.loading()
    }
}

/// The Errors tab's list: the newest errors of the selected sessions.
#[derive(Debug, Clone)]
pub struct ErrorList {
    /// The text the errors' type or message must hold.
    pub find: String,
    pub rows: Vec<crate::store::ErrorEventRow>,
    /// Errors in all; `None` until the first answer.
    pub total: Option<u64>,
    /// How many of the newest it lists: `page_rows` more each *Show older*.
    pub limit: usize,
    /// Errors listed at first and added by *Show older* ([`worker::ERROR_LIST_PAGE`]; tests lower it).
    pub page_rows: usize,
    /// The query generation, find text and limit of the rows shown, and of the last request.
    shown_for: Option<(u64, String, usize)>,
    requested_for: Option<(u64, String, usize)>,
    /// By error: one row per type and message (or pattern) with its counts.
    pub by_error: bool,
    pub as_patterns: bool,
    pub group_sort: crate::store::ErrorGroupSort,
    pub group_descending: bool,
    /// Every error group of the current query, in `group_sort`'s order.
    pub groups: Vec<crate::store::ErrorGroup>,
    /// The query generation, find text and grouping of the groups shown, and of the last request.
    groups_shown_for: Option<(u64, String, bool)>,
    groups_requested_for: Option<(u64, String, bool)>,
}

impl Default for ErrorList {
    fn default() -> Self {
        ErrorList {
            find: String::new(),
            rows: Vec::new(),
            total: None,
            limit: worker::ERROR_LIST_PAGE,
            page_rows: worker::ERROR_LIST_PAGE,
            shown_for: None,
            requested_for: None,
            by_error: false,
            as_patterns: true,
            group_sort: crate::store::ErrorGroupSort::Count,
            group_descending: true,
            groups: Vec::new(),
            groups_shown_for: None,
            groups_requested_for: None,
        }
    }
}

impl ErrorList {
    /// True while the rows shown are not those of the current query and find text.
    pub fn loading(&self) -> bool {
        if self.by_error {
            self.groups_shown_for != self.groups_requested_for
        } else {
            self.shown_for != self.requested_for
        }
    }

    /// Whether the error groups of the current query have arrived.
    pub fn groups_known(&self) -> bool {
        self.by_error && self.groups_shown_for.is_some() && !self.loading()
    }
}

/// The central area: the sessions table or the Overview charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MainTab {
    #[default]
    Sessions,
    Overview,
    /// The errors of the selected sessions, newest first.
    Errors,
    /// The views of the selected sessions, newest or slowest first.
    Views,
    /// The resources of the selected sessions, newest, slowest or largest first.
    Resources,
}

/// The session page of the detail: its timeline or its bound view (charts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DetailTab {
    #[default]
    Timeline,
    BoundView,
}

/// What the detail panel shows. Events are named by `event_pk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailPage {
    Session,
    /// A view's performance.
    View(i64),
    Error(i64),
}

/// The detail panel's back/forward history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailHistory {
    pub pages: Vec<DetailPage>,
    pub index: usize,
}

impl Default for DetailHistory {
    fn default() -> Self {
        DetailHistory { pages: vec![DetailPage::Session], index: 0 }
    }
}

impl DetailHistory {
    pub fn current(&self) -> DetailPage {
        self.pages.get(self.index).copied().unwrap_or(DetailPage::Session)
    }
    pub fn can_go_back(&self) -> bool {
        self.index > 0
    }
    pub fn can_go_forward(&self) -> bool {
        self.index + 1 < self.pages.len()
    }
    fn open(&mut self, page: DetailPage) {
        if self.current() == page {
            return;
        }
        self.pages.truncate(self.index + 1);
        self.pages.push(page);
        self.index = self.pages.len() - 1;
    }
}

/// The view drill-down's resource filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceFilter {
    /// Text the URL, method or status must contain (case-insensitive).
    pub search: String,
    /// Only this resource type (`xhr`, `fetch`, `js`, ...); "Fetch/XHR" is `xhr|fetch`.
    pub resource_type: Option<String>,
}

/// How often one error (type and message) happened across the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorOccurrences {
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    /// `None` while counting.
    pub spread: Option<crate::store::ErrorSpread>,
}

/// How the session timeline is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimelineOptions {
    /// Times relative to the session start instead of absolute.
    pub relative: bool,
    pub show_resources: bool,
    pub show_long_tasks: bool,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusLevel {
    Info,
    Error,
}

/// One query's rows, paged in as the table scrolls.
#[derive(Debug, Default)]
pub struct TableData {
    pub generation: u64,
    pub total: Option<u64>,
    pub pages: HashMap<usize, Vec<SessionRow>>,
    pub requested: HashSet<usize>,
    /// When the query was sent (for a pending query: the table says it is working on it).
    pub asked_at: Option<Instant>,
}

impl TableData {
    /// Rows the table can show: all of them once counted, else the first page's.
    pub fn rows_known(&self) -> u64 {
        self.total.unwrap_or_else(|| self.pages.get(&0).map_or(0, |rows| rows.len() as u64))
    }

    /// Whether the first page has arrived; a short one is the whole answer, so its length is
    /// the count before the count arrives.
    fn first_page_in(&mut self) -> bool {
        let Some(first) = self.pages.get(&0) else { return false };
        if first.len() < PAGE_ROWS {
            self.total.get_or_insert(first.len() as u64);
        }
        true
    }

    pub fn row(&self, index: usize) -> Option<&SessionRow> {
        self.pages.get(&(index / PAGE_ROWS)).and_then(|p| p.get(index % PAGE_ROWS))
    }
}

pub struct ExplorerApp {
    pub db_path: PathBuf,
    pub settings: Settings,
    pub query_text: String,
    pub query_error: Option<ParseError>,
    pub applied_filter: Option<Filter>,
    query_edited_at: Option<Instant>,
    pub time_range: TimeRange,
    /// Sessions in the database and the span of their starts.
    pub data_span: Option<(u64, Option<i64>, Option<i64>)>,
    generation: u64,
    /// Rows on screen; `pending` replaces it once its count and first page arrive.
    pub table: TableData,
    pending: Option<TableData>,
    pub selected_row: Option<usize>,
    pub selected_session: Option<String>,
    pub detail_open: bool,
    pub detail: Option<SessionDetail>,
    pub detail_loading: bool,
    pub facets: Vec<Facet>,
    /// The facets of the sessions' event values (request status, ...), shown below the others;
    /// empty while the database does not know them.
    pub event_value_facets: Vec<Facet>,
    pub histogram: Option<Histogram>,
    pub known_keys: Vec<String>,
    /// Keys of the applied filter that no field of the data has (a typo, another product's
    /// name), with the known key spelled most like each: shown under the query bar.
    pub unknown_keys: Vec<(String, Option<String>)>,
    /// Per field, its most common values with their session counts, for the query bar's
    /// suggestions (`None` while asked). Cleared when the data changes.
    pub key_values: HashMap<String, Option<Vec<(String, u64)>>>,
    pub import: Option<ImportJob>,
    pub import_reports: Vec<FileReport>,
    pub show_import_report: bool,
    pub show_column_chooser: bool,
    /// The *Export sessions* window, while open.
    pub export: Option<export_job::ExportWindow>,
    pub status: Option<(String, StatusLevel)>,
    /// Set while a thread learns what an older database does not record (its fields, event
    /// values and filters): filters on event fields read every event until it is done.
    pub learning_facts: Arc<AtomicBool>,
    pub commands: Vec<Command>,
    /// The last text sent to the clipboard (tests read it; the status line says what happened).
    pub last_copied: Option<String>,
    list_worker: Worker,
    aggregate_worker: Worker,
    detail_worker: Worker,
    responses: Receiver<Response>,
    file_dialog: Option<Receiver<Option<Vec<PathBuf>>>>,
    /// Import the bundled sample data if the database turns out to be empty.
    offer_sample_data: bool,
    ctx: egui::Context,
    pub scroll_to_selected: bool,
    pub timeline: TimelineOptions,
    /// The timeline shows, and steps through, only the events holding this text.
    pub timeline_find: String,
    pub detail_history: DetailHistory,
    /// The timeline entry stepped to or clicked (an `event_pk`).
    pub timeline_cursor: Option<i64>,
    /// The timeline scrolls to the cursor on the next frame.
    pub scroll_to_cursor: bool,
    pub resource_filter: ResourceFilter,
    pub error_occurrences: Option<ErrorOccurrences>,
    pub main_tab: MainTab,
    pub detail_tab: DetailTab,
    /// The Overview of the current query, once computed; `overview_generation` says which query.
    pub overview: Option<crate::store::Overview>,
    overview_generation: Option<u64>,
    overview_requested_for: Option<u64>,
    /// p75 loading time per app id, for the bound view (`None` inside: the app has no timings).
    pub loading_p75_by_app: HashMap<Option<String>, Option<f64>>,
    pub error_list: ErrorList,
    pub view_list: ViewList,
    pub resource_list: ResourceList,
    /// The Resources tab's own worker: its reads may take seconds on a big database (no index
    /// holds the resources), and a newer request interrupts them without touching the others.
    resource_worker: Worker,
    /// Counts the Resources tab's narrowed lists, so that a new order or page does not
    /// interrupt the count of the same resources.
    resource_count_worker: Worker,
}

impl ExplorerApp {
    /// `use_default_db` says `db` is the default database (it gets the sample data when empty).
    pub fn new(cc: &eframe::CreationContext<'_>, db: PathBuf, files: Vec<PathBuf>, use_default_db: bool) -> ExplorerApp {
        let mut settings: Settings = cc.storage.and_then(|s| eframe::get_value(s, SETTINGS_KEY)).unwrap_or_default();
        if settings.columns.is_empty() {
            settings.columns = Settings::default().columns;
        }
        // Without --db, reopen the database of the last run (if it is still there).
        let db = match (&settings.last_db, use_default_db) {
            (Some(last), true) if last.is_file() => last.clone(),
            _ => db,
        };
        let is_default = db == crate::cli::default_db_path();
        settings.last_db = Some(db.clone());
        let mut app = Self::with_settings(cc.egui_ctx.clone(), db, settings, is_default && files.is_empty());
        if !files.is_empty() {
            app.commands.push(Command::Import(files));
        }
        app
    }

    pub fn with_settings(ctx: egui::Context, db: PathBuf, settings: Settings, offer_sample_data: bool) -> ExplorerApp {
        let (tx, rx) = channel();
        let spawn = |name: &str, tx: &Sender<Response>| {
            let repaint = ctx.clone();
            Worker::spawn(name, db.clone(), tx.clone(), move || repaint.request_repaint())
        };
        let list_worker = spawn("list", &tx);
        let aggregate_worker = spawn("aggregate", &tx);
        let detail_worker = spawn("detail", &tx);
        let resource_worker = spawn("resources", &tx);
        let resource_count_worker = spawn("resource-count", &tx);
        let learning_facts = Arc::new(AtomicBool::new(false));
        let repaint = ctx.clone();
        worker::learn_fields_and_values_in_background(db.clone(), learning_facts.clone(), move || repaint.request_repaint());
        ctx.set_theme(if settings.dark_theme { egui::Theme::Dark } else { egui::Theme::Light });
        let mut app = ExplorerApp {
            db_path: db,
            settings,
            query_text: String::new(),
            query_error: None,
            applied_filter: None,
            query_edited_at: None,
            time_range: TimeRange::All,
            data_span: None,
            generation: 0,
            table: TableData::default(),
            pending: None,
            selected_row: None,
            selected_session: None,
            detail_open: false,
            detail: None,
            detail_loading: false,
            facets: Vec::new(),
            event_value_facets: Vec::new(),
            histogram: None,
            known_keys: Vec::new(),
            unknown_keys: Vec::new(),
            key_values: HashMap::new(),
            import: None,
            import_reports: Vec::new(),
            show_import_report: false,
            show_column_chooser: false,
            status: None,
            learning_facts,
            commands: Vec::new(),
            last_copied: None,
            list_worker,
            aggregate_worker,
            detail_worker,
            responses: rx,
            file_dialog: None,
            export: None,
            offer_sample_data,
            ctx,
            scroll_to_selected: false,
            timeline: TimelineOptions { relative: true, ..Default::default() },
            timeline_find: String::new(),
            detail_history: DetailHistory::default(),
            timeline_cursor: None,
            scroll_to_cursor: false,
            resource_filter: ResourceFilter::default(),
            error_occurrences: None,
            main_tab: MainTab::Sessions,
            detail_tab: DetailTab::Timeline,
            overview: None,
            overview_generation: None,
            overview_requested_for: None,
            error_list: ErrorList::default(),
            view_list: ViewList::default(),
            resource_list: ResourceList::default(),
            resource_worker,
            resource_count_worker,
            loading_p75_by_app: HashMap::new(),
        };
        app.refresh_data();
        app
    }

    /// Starts writing the sessions the table selects to the export window's file (a folder
    /// gets `rum-sessions.csv` in it); an empty path is refused with a word why.
    fn start_export(&mut self) {
        let query = self.session_query();
        let Some(window) = self.export.as_mut() else { return };
        if window.job.is_some() {
            return;
        }
        let typed = window.path_text.trim();
        if typed.is_empty() {
            self.set_status("Export: type the file to write, or pick it with Browse…", StatusLevel::Error);
            return;
        }
        let path = PathBuf::from(typed);
        let repaint = self.ctx.clone();
        window.job = Some(export_job::ExportJob::start(self.db_path.clone(), query, path, move || repaint.request_repaint()));
    }

    /// The export's outcome in the status line; the window closes when the file is whole and
    /// stays, with the path, when it failed. The save dialog's answer fills the path.
    fn process_export(&mut self) {
        let Some(window) = self.export.as_mut() else { return };
        if let Some(rx) = &window.dialog {
            if let Ok(picked) = rx.try_recv() {
                window.dialog = None;
                if let Some(path) = picked {
                    window.path_text = path.display().to_string();
                }
            }
        }
        let Some(job) = &window.job else { return };
        match job.done.try_recv() {
            Ok(Ok((rows, path))) => {
                let text = format!("Exported {} sessions to {}", format::grouped(rows), path.display());
                self.export = None;
                self.set_status(text, StatusLevel::Info);
            }
            Ok(Err(message)) => {
                window.job = None;
                self.set_status(format!("Export: {message}"), StatusLevel::Error);
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => self.ctx.request_repaint_after(Duration::from_millis(100)),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                window.job = None;
                self.set_status("Export: the export thread ended without a word", StatusLevel::Error);
            }
        }
    }

    /// The query the table shows: filter, time range, sort.
    pub fn session_query(&self) -> SessionQuery {
        let newest = self.data_span.and_then(|s| s.2);
        let (from_ms, to_ms) = self.time_range.bounds(newest);
        SessionQuery {
            filter: self.applied_filter.clone(),
            from_ms,
            to_ms,
            sort_column: Some(self.settings.sort_column.clone()),
            descending: self.settings.sort_descending,
            limit: PAGE_ROWS as u64,
            offset: 0,
            extra_columns: self
                .settings
                .columns
                .iter()
                .filter(|c| !crate::store::SESSION_LIST_COLUMNS.contains(&query::session_column_alias(c)))
                .cloned()
                .collect(),
            store_facts: None,
        }
    }

    /// Re-reads everything: at start and after each imported file. The query reruns when the
    /// data's span arrives, since "Last" presets and the histogram depend on it.
    fn refresh_data(&mut self) {
        self.loading_p75_by_app.clear();
        self.key_values.clear();
        self.aggregate_worker.send(Request::DataSpan);
        self.detail_worker.send(Request::Keys); // never interrupted by a new query
    }

    /// Runs the current query again as a new generation; the old rows stay until it answers.
    fn rerun_query(&mut self) {
        self.generation += 1;
        self.list_worker.interrupt();
        self.aggregate_worker.interrupt();
        let query = self.session_query();
        let generation = self.generation;
        self.pending =
            Some(TableData { generation, requested: [0].into_iter().collect(), asked_at: Some(Instant::now()), ..Default::default() });
        // The first page before the count: on a big database a filter on an event column
        // finds a page in milliseconds but takes seconds to count, and the rows should not wait.
        self.list_worker.send(Request::Page { generation, query: query.clone(), page: 0 });
        self.list_worker.send(Request::Count { generation, query: query.clone() });
        self.aggregate_worker.send(Request::Facets { generation, query: query.clone() });
        let event_values_query = query.clone();
        let newest = self.data_span.and_then(|s| s.2);
        let oldest = self.data_span.and_then(|s| s.1);
        let (from, to) = match (query.from_ms, query.to_ms) {
            (Some(f), Some(t)) => (Some(f), Some(t)),
            (Some(f), None) => (Some(f), newest.map(|n| n + 1)),
            (None, _) => (oldest, newest.map(|n| n + 1)),
        };
        if let (Some(from_ms), Some(to_ms)) = (from, to) {
            self.aggregate_worker.send(Request::Histogram { generation, query, from_ms, to_ms: to_ms.max(from_ms + 1) });
        }
        self.request_overview_if_shown();
        // After the Overview on the same worker: the facets of event values read every selected
        // session's values, and the other facets came first.
        self.aggregate_worker.send(Request::EventValueFacets { generation, query: event_values_query });
        self.request_errors_if_shown();
        self.request_views_if_shown();
        self.request_resources_if_shown();
    }

    /// The Resources tab's list is read only while it shows, once per query, find text and
    /// order; a newer request interrupts the one running.
    fn request_resources_if_shown(&mut self) {
        if self.main_tab != MainTab::Resources {
            return;
        }
        let mut query = self.session_query();
        query.extra_columns.clear();
        let list = &mut self.resource_list;
        let request = if list.by_url {
            let wanted = Some((self.generation, list.find.clone(), list.as_patterns));
            if list.groups_requested_for == wanted {
                return;
            }
            list.groups_requested_for = wanted;
            // A counter of its own: the read it supersedes may still count for a moment.
            list.groups_requests_read = Default::default();
            let requests_read = list.groups_requests_read.clone();
            Request::ResourceGroups { generation: self.generation, query, find: list.find.clone(), as_patterns: list.as_patterns, requests_read }
        } else {
            let wanted = Some((self.generation, list.find.clone(), list.sort, list.descending, list.limit.max(1)));
            if list.requested_for == wanted {
                return;
            }
            // A count of other resources still running is of no use now.
            let counting_other = list.total_requested_for.as_ref().is_some_and(|(generation, find)| *generation != self.generation || *find != list.find);
            if counting_other && list.total_for != list.total_requested_for {
                list.total_requested_for = None;
                self.resource_count_worker.interrupt();
            }
            list.requested_for = wanted;
            let (find, sort, descending, limit) = (list.find.clone(), list.sort, list.descending, list.limit.max(1));
            Request::Resources { generation: self.generation, query, find, sort, descending, limit }
        };
        self.resource_worker.interrupt();
        self.resource_worker.send(request);
    }

    /// The Views tab's list is read only while it shows, once per query, find text and order.
    fn request_views_if_shown(&mut self) {
        if self.view_list.by_page {
            let list = &self.view_list;
            let wanted = Some((self.generation, list.find.clone(), list.as_routes));
            if self.main_tab == MainTab::Views && list.pages_requested_for != wanted {
                self.view_list.pages_requested_for = wanted;
                let mut query = self.session_query();
                query.extra_columns.clear();
                let request = Request::Pages { generation: self.generation, query, find: self.view_list.find.clone(), as_routes: self.view_list.as_routes };
                self.aggregate_worker.send(request);
            }
            return;
        }
        let list = &self.view_list;
        let wanted = Some((self.generation, list.find.clone(), list.sort, list.descending, list.limit.max(1)));
        if self.main_tab == MainTab::Views && list.requested_for != wanted {
            self.view_list.requested_for = wanted;
            let mut query = self.session_query();
            query.extra_columns.clear();
            let list = &self.view_list;
            let request = Request::Views {
                generation: self.generation,
                query,
                find: list.find.clone(),
                sort: list.sort,
                descending: list.descending,
                limit: list.limit.max(1),
            };
            self.aggregate_worker.send(request);
        }
    }

    /// The Errors tab's list is read only while it shows, once per query and find text.
    fn request_errors_if_shown(&mut self) {
        if self.error_list.by_error {
            let list = &self.error_list;
            let wanted = Some((self.generation, list.find.clone(), list.as_patterns));
            if self.main_tab == MainTab::Errors && list.groups_requested_for != wanted {
                self.error_list.groups_requested_for = wanted;
                let mut query = self.session_query();
                query.extra_columns.clear();
                let list = &self.error_list;
                let request = Request::ErrorGroups { generation: self.generation, query, find: list.find.clone(), as_patterns: list.as_patterns };
                self.aggregate_worker.send(request);
            }
            return;
        }
        let limit = self.error_list.limit.max(1);
        let wanted = Some((self.generation, self.error_list.find.clone(), limit));
        if self.main_tab == MainTab::Errors && self.error_list.requested_for != wanted {
            self.error_list.requested_for = wanted;
            let mut query = self.session_query();
            query.extra_columns.clear();
            let find = self.error_list.find.clone();
            self.aggregate_worker.send(Request::Errors { generation: self.generation, query, find, limit });
        }
    }

    /// The Overview is computed only while its tab shows, once per query.
    fn request_overview_if_shown(&mut self) {
        if self.main_tab == MainTab::Overview && self.overview_requested_for != Some(self.generation) {
            self.overview_requested_for = Some(self.generation);
            let mut query = self.session_query();
            query.extra_columns.clear();
            self.aggregate_worker.send(Request::Overview { generation: self.generation, query });
        }
    }

    /// True while the Overview on screen is not the current query's.
    pub fn overview_loading(&self) -> bool {
        self.overview_generation != Some(self.generation)
    }

    /// Asks for a page of the table if no one has.
    pub fn want_page(&mut self, page: usize) {
        if self.table.pages.contains_key(&page) || !self.table.requested.insert(page) {
            return;
        }
        self.list_worker.send(Request::Page { generation: self.table.generation, query: self.session_query(), page });
    }

    pub fn set_status(&mut self, text: impl Into<String>, level: StatusLevel) {
        self.status = Some((text.into(), level));
    }

    fn apply_query_text(&mut self) {
        self.query_edited_at = None;
        match query::parse(&self.query_text) {
            Ok(filter) => {
                self.query_error = None;
                if filter != self.applied_filter {
                    self.applied_filter = filter;
                    self.find_unknown_keys();
                    self.rerun_query();
                }
            }
            Err(e) => self.query_error = Some(e),
        }
    }

    /// Adds `terms` to the end of the query and applies it.
    fn add_query_terms(&mut self, terms: String) {
        let text = if self.query_text.trim().is_empty() { terms } else { format!("{} {terms}", self.query_text.trim()) };
        self.apply(Command::SetQuery(text));
    }

    /// Keeps the query in the bar among the recent ones if it parses (the text may be newer
    /// than the query applied: its debounce may not have run).
    fn remember_query(&mut self) {
        if query::parse(&self.query_text).is_ok() {
            self.settings.remember_query(&self.query_text);
        }
    }

    /// Notes the filter's keys that no field of the data has (known once the keys arrive).
    fn find_unknown_keys(&mut self) {
        self.unknown_keys.clear();
        let Some(filter) = &self.applied_filter else { return };
        if self.known_keys.is_empty() {
            return;
        }
        self.unknown_keys = query::unknown_keys(filter, &self.known_keys);
    }

    fn select_row(&mut self, index: usize) {
        self.selected_row = Some(index);
        self.scroll_to_selected = true;
        let id = self.table.row(index).map(|r| r.session_id.clone());
        if id.is_some() && id != self.selected_session {
            self.selected_session = id;
            self.reset_drill_down();
            if self.detail_open {
                self.load_detail();
            }
        }
    }

    /// A new session starts on its own page, with no cursor.
    fn reset_drill_down(&mut self) {
        self.detail_history = DetailHistory::default();
        self.timeline_find.clear();
        self.timeline_cursor = None;
        self.resource_filter = ResourceFilter::default();
        self.error_occurrences = None;
    }

    /// Work a drill-down page needs when it shows: an error's count across sessions.
    fn on_page_shown(&mut self) {
        let DetailPage::Error(event_pk) = self.detail_history.current() else { return };
        let Some(event) = self.detail.as_ref().and_then(|d| d.events.iter().find(|e| e.event_pk == event_pk)) else { return };
        let error_type = event.get_str("error_type").map(str::to_string);
        let error_message = event.get_str("error_message").map(str::to_string);
        let known = self
            .error_occurrences
            .as_ref()
            .is_some_and(|o| o.error_type == error_type && o.error_message == error_message);
        if !known {
            self.error_occurrences = Some(ErrorOccurrences { error_type: error_type.clone(), error_message: error_message.clone(), spread: None });
            let span_ms = self.data_span.and_then(|(_, first, last)| first.zip(last));
            self.detail_worker.send(Request::ErrorOccurrences { error_type, error_message, span_ms });
        }
    }

    /// The timeline entries the cursor can step to, in the order shown.
    pub fn time_points(&self) -> Vec<i64> {
        self.detail.as_ref().map(|d| time_points(d, self.timeline, &self.timeline_find)).unwrap_or_default()
    }

    /// The bound view compares the session's views with its app's p75 loading time.
    fn request_loading_p75(&mut self) {
        if self.detail_tab != DetailTab::BoundView {
            return;
        }
        let Some(detail) = &self.detail else { return };
        let app_id = detail.session.app_id.clone();
        if !self.loading_p75_by_app.contains_key(&app_id) {
            self.detail_worker.send(Request::LoadingP75 { app_id });
        }
    }

    fn load_detail(&mut self) {
        if let Some(id) = &self.selected_session {
            self.detail_loading = true;
            self.detail_worker.send(Request::Detail { session_id: id.clone() });
        }
    }

    pub fn apply(&mut self, command: Command) {
        match command {
            Command::EditQuery(text) => {
                self.query_text = text;
                self.query_edited_at = Some(Instant::now());
                self.ctx.request_repaint_after(QUERY_DEBOUNCE);
            }
            Command::SetQuery(text) => {
                self.query_text = text;
                self.apply_query_text();
                self.remember_query();
            }
            Command::RememberQuery => self.remember_query(),
            Command::AddQueryTerm { key, value, negate } => {
                self.add_query_terms(query::term_text(&key, &value, negate));
            }
            Command::RemoveQueryTerm(index) => {
                if let Some(filter) = &self.applied_filter {
                    let rest: Vec<String> = filter
                        .expr
                        .top_level_terms()
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != index)
                        .map(|(_, t)| t.to_string())
                        .collect();
                    self.apply(Command::SetQuery(rest.join(" ")));
                }
            }
            Command::SortBy(column) => {
                if self.settings.sort_column == column {
                    self.settings.sort_descending = !self.settings.sort_descending;
                } else {
                    self.settings.sort_column = column;
                    self.settings.sort_descending = false;
                }
                self.selected_row = None;
                self.rerun_query();
            }
            Command::SetTimeRange(range) => {
                self.time_range = range;
                self.rerun_query();
            }
            Command::AddColumn(column) => {
                if !self.settings.columns.contains(&column) {
                    self.settings.columns.push(column.clone());
                    self.set_status(format!("Added column {}", format::column_title(&column)), StatusLevel::Info);
                    if !crate::store::SESSION_LIST_COLUMNS.contains(&query::session_column_alias(&column)) {
                        self.rerun_query(); // its values come with the rows
                    }
                }
            }
            Command::RemoveColumn(column) => self.settings.columns.retain(|c| *c != column),
            Command::MoveColumn { from, to } => {
                if from < self.settings.columns.len() && to < self.settings.columns.len() {
                    let c = self.settings.columns.remove(from);
                    self.settings.columns.insert(to, c);
                }
            }
            Command::SelectRow(index) => self.select_row(index),
            Command::OpenDetail => {
                if self.selected_session.is_some() {
                    self.detail_open = true;
                    self.load_detail();
                }
            }
            Command::OpenSession(id) => {
                if self.selected_session.as_ref() != Some(&id) {
                    self.selected_session = Some(id);
                    self.selected_row = None;
                    self.reset_drill_down();
                }
                self.detail_open = true;
                self.load_detail();
            }
            Command::CloseDetail => self.detail_open = false,
            Command::Import(paths) => self.start_import(paths),
            Command::OpenFileDialog => {
                let (tx, rx) = channel();
                let repaint = self.ctx.clone();
                // The dialog runs on its own thread so the window keeps drawing.
                let _ = std::thread::Builder::new().name("file-dialog".into()).spawn(move || {
                    let picked = rfd::FileDialog::new()
                        .set_title("Import RUM export files")
                        .add_filter("RUM exports", &["lp", "txt", "json", "ndjson", "jsonl", "csv", "gz"])
                        .add_filter("All files", &["*"])
                        .pick_files();
                    let _ = tx.send(picked);
                    repaint.request_repaint();
                });
                self.file_dialog = Some(rx);
            }
            Command::ShowExportWindow(true) => {
                if self.export.is_none() {
                    let path_text = crate::session_export::default_export_path(&self.db_path).display().to_string();
                    self.export = Some(export_job::ExportWindow { path_text, job: None, dialog: None });
                }
            }
            Command::ShowExportWindow(false) => {
                if let Some(job) = self.export.take().and_then(|w| w.job) {
                    job.cancel();
                    self.set_status("Export cancelled: no file was written", StatusLevel::Info);
                }
            }
            Command::SetExportPath(text) => {
                if let Some(window) = self.export.as_mut() {
                    window.path_text = text;
                }
            }
            Command::BrowseExportPath => {
                if let Some(window) = self.export.as_mut() {
                    let (tx, rx) = channel();
                    let repaint = self.ctx.clone();
                    let current = PathBuf::from(window.path_text.trim());
                    // The dialog runs on its own thread so the window keeps drawing.
                    let _ = std::thread::Builder::new().name("file-dialog".into()).spawn(move || {
                        let mut dialog = rfd::FileDialog::new().set_title("Export sessions as CSV").add_filter("CSV", &["csv"]);
                        if let Some(folder) = current.parent().filter(|f| f.is_dir()) {
                            dialog = dialog.set_directory(folder);
                        }
                        if let Some(name) = current.file_name() {
                            dialog = dialog.set_file_name(name.to_string_lossy());
                        }
                        let _ = tx.send(dialog.save_file());
                        repaint.request_repaint();
                    });
                    window.dialog = Some(rx);
                }
            }
            Command::StartExport => self.start_export(),
            Command::SetTimelineFind(text) => self.timeline_find = text,
            Command::SetErrorFind(text) => {
                self.error_list.find = text;
                self.error_list.limit = self.error_list.page_rows;
                self.request_errors_if_shown();
            }
            Command::SetErrorsByError(by_error) => {
                self.error_list.by_error = by_error;
                self.request_errors_if_shown();
            }
            Command::SetErrorPatterns(as_patterns) => {
                self.error_list.as_patterns = as_patterns;
                self.request_errors_if_shown();
            }
            Command::SortErrorGroups(sort) => {
                let list = &mut self.error_list;
                list.group_descending = if list.group_sort == sort { !list.group_descending } else { true };
                list.group_sort = sort;
                crate::store::sort_error_groups(&mut list.groups, list.group_sort, list.group_descending);
            }
            Command::OpenErrorGroup(group) => {
                let mut terms: Vec<String> = group.error_type.iter().map(|t| query::term_text("error_type", t, false)).collect();
                if let Some(message) = &group.message {
                    // A pattern matches its messages as a wildcard; a message as itself.
                    terms.push(if self.error_list.as_patterns {
                        query::wildcard_term_text("error_message", message)
                    } else {
                        query::term_text("error_message", message, false)
                    });
                }
                self.error_list.by_error = false;
                self.add_query_terms(terms.join(" "));
                self.request_errors_if_shown();
            }
            Command::ShowOlderErrors => {
                self.error_list.limit += self.error_list.page_rows;
                self.request_errors_if_shown();
            }
            Command::OpenError { session_id, event_pk } => {
                self.apply(Command::OpenSession(session_id));
                self.apply(Command::OpenDrillDown(DetailPage::Error(event_pk)));
            }
            Command::OpenView { session_id, event_pk } => {
                self.apply(Command::OpenSession(session_id));
                self.apply(Command::OpenDrillDown(DetailPage::View(event_pk)));
            }
            Command::SetViewFind(text) => {
                self.view_list.find = text;
                self.view_list.limit = self.view_list.page_rows;
                self.request_views_if_shown();
            }
            Command::SortViews(sort) => {
                let list = &mut self.view_list;
                list.descending = if list.sort == sort { !list.descending } else { true };
                list.sort = sort;
                list.limit = list.page_rows;
                self.request_views_if_shown();
            }
            Command::SetViewsByPage(by_page) => {
                self.view_list.by_page = by_page;
                self.request_views_if_shown();
            }
            Command::SetPageRoutes(as_routes) => {
                self.view_list.as_routes = as_routes;
                self.request_views_if_shown();
            }
            Command::SortPages(sort) => {
                let list = &mut self.view_list;
                list.page_descending = if list.page_sort == sort { !list.page_descending } else { true };
                list.page_sort = sort;
                crate::store::sort_page_summaries(&mut list.pages, list.page_sort, list.page_descending);
            }
            Command::SetPageMinViews(views) => self.view_list.min_views = views.max(1),
            Command::OpenPage(page) => {
                // A route matches its pages by wildcard; a page by its path.
                let term = if page.paths > 1 || page.view_path.contains(crate::error_pattern::VARYING) {
                    query::wildcard_term_text("view_path", &page.view_path)
                } else {
                    query::term_text("view_path", &page.view_path, false)
                };
                self.view_list.by_page = false;
                self.add_query_terms(term);
                self.request_views_if_shown();
            }
            Command::ShowMoreViews => {
                self.view_list.limit += self.view_list.page_rows;
                self.request_views_if_shown();
            }
            Command::FetchKeyValues(key) => {
                if !self.key_values.contains_key(&key) {
                    self.key_values.insert(key.clone(), None);
                    self.detail_worker.send(Request::KeyValues { key });
                }
            }
            Command::CancelExport => {
                if let Some(job) = self.export.as_ref().and_then(|w| w.job.as_ref()) {
                    job.cancel();
                }
            }
            Command::CancelImport => {
                if let Some(job) = &self.import {
                    job.progress.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                    self.set_status("Cancelling the import: the file in progress is rolled back", StatusLevel::Info);
                }
            }
            Command::Copy(text) => {
                // arboard fails cleanly without a display; say so rather than panic.
                match arboard::Clipboard::new().and_then(|mut c| c.set_text(text.clone())) {
                    Ok(()) => self.set_status(format!("Copied: {}", short(&text)), StatusLevel::Info),
                    Err(e) => self.set_status(format!("Could not copy to the clipboard: {e}"), StatusLevel::Error),
                }
                self.last_copied = Some(text);
            }
            Command::ToggleTheme => {
                self.settings.dark_theme = !self.settings.dark_theme;
                self.ctx.set_theme(if self.settings.dark_theme { egui::Theme::Dark } else { egui::Theme::Light });
            }
            Command::ToggleUtc => self.settings.show_utc = !self.settings.show_utc,
            Command::ShowColumnChooser(show) => {
                self.show_column_chooser = show;
                if show {
                    self.detail_worker.send(Request::Keys); // never interrupted by a new query
                }
            }
            Command::ShowImportReport(show) => self.show_import_report = show,
            Command::SetTimelineOptions(options) => self.timeline = options,
            Command::OpenDrillDown(page) => {
                self.detail_history.open(page);
                if let DetailPage::View(pk) | DetailPage::Error(pk) = page {
                    self.timeline_cursor = Some(pk);
                }
                self.on_page_shown();
            }
            Command::NavigateBack => {
                if self.detail_history.can_go_back() {
                    self.detail_history.index -= 1;
                    self.scroll_to_cursor = true;
                    self.on_page_shown();
                }
            }
            Command::NavigateForward => {
                if self.detail_history.can_go_forward() {
                    self.detail_history.index += 1;
                    self.on_page_shown();
                }
            }
            Command::StepTimePoint(delta) => {
                let points = self.time_points();
                if points.is_empty() {
                    return;
                }
                let position = self.timeline_cursor.and_then(|pk| points.iter().position(|p| *p == pk));
                let next = match position {
                    None if delta < 0 => points.len() - 1,
                    None => 0,
                    Some(i) => (i as i64 + delta as i64).clamp(0, points.len() as i64 - 1) as usize,
                };
                self.timeline_cursor = points.get(next).copied();
                self.scroll_to_cursor = true;
            }
            Command::SetTimelineCursor(pk) => self.timeline_cursor = pk,
            Command::SetResourceFilter(filter) => self.resource_filter = filter,
            Command::ShowTab(tab) => {
                self.main_tab = tab;
                self.request_overview_if_shown();
                self.request_errors_if_shown();
                self.request_views_if_shown();
                self.request_resources_if_shown();
            }
            Command::SetResourceFind(text) => {
                self.resource_list.find = text;
                self.resource_list.limit = self.resource_list.page_rows;
                self.request_resources_if_shown();
            }
            Command::SortResources(sort) => {
                let list = &mut self.resource_list;
                list.descending = if list.sort == sort { !list.descending } else { true };
                list.sort = sort;
                list.limit = list.page_rows;
                self.request_resources_if_shown();
            }
            Command::ShowMoreResources => {
                self.resource_list.limit += self.resource_list.page_rows;
                self.request_resources_if_shown();
            }
            Command::OpenResource { session_id, event_pk } => {
                // The view page maps a resource to its view once the session is read.
                self.apply(Command::OpenSession(session_id));
                self.apply(Command::OpenDrillDown(DetailPage::View(event_pk)));
            }
            Command::SetResourcesByUrl(by_url) => {
                self.resource_list.by_url = by_url;
                self.request_resources_if_shown();
            }
            Command::SetResourcePatterns(as_patterns) => {
                self.resource_list.as_patterns = as_patterns;
                self.request_resources_if_shown();
            }
            Command::SortResourceGroups(sort) => {
                let list = &mut self.resource_list;
                list.group_descending = if list.group_sort == sort { !list.group_descending } else { true };
                list.group_sort = sort;
                crate::store::sort_resource_groups(&mut list.groups, list.group_sort, list.group_descending);
            }
            Command::OpenResourceGroup(group) => {
                // A URL matches with its query strings (a prefix); a pattern by its wildcard.
                let mut terms = Vec::new();
                if let Some(method) = &group.resource_method {
                    terms.push(query::term_text("resource_method", method, false));
                }
                terms.push(query::wildcard_term_text("resource_url", &format!("{}*", group.resource_url)));
                self.resource_list.by_url = false;
                self.add_query_terms(terms.join(" "));
                self.request_resources_if_shown();
            }
            Command::ShowDetailTab(tab) => {
                self.detail_tab = tab;
                self.request_loading_p75();
            }
        }
    }

    fn start_import(&mut self, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        if self.import.is_some() {
            self.set_status("An import is running; wait for it or cancel it first", StatusLevel::Error);
            return;
        }
        self.offer_sample_data = false;
        self.import_reports.clear();
        let repaint = self.ctx.clone();
        self.import = Some(ImportJob::start(self.db_path.clone(), paths, move || repaint.request_repaint()));
    }

    /// Applies worker answers, import progress, dropped files and the debounced query.
    pub fn process_background(&mut self) {
        let deadline = Instant::now() + Duration::from_millis(8);
        while let Ok(response) = self.responses.try_recv() {
            self.on_response(response);
            if Instant::now() > deadline {
                self.ctx.request_repaint();
                break;
            }
        }
        let mut import_finished = false;
        let mut new_reports = Vec::new();
        if let Some(job) = &self.import {
            while let Ok(event) = job.events.try_recv() {
                match event {
                    ImportEvent::FileDone(report) => new_reports.push(*report),
                    ImportEvent::Failed(message) => self.status = Some((message, StatusLevel::Error)),
                    ImportEvent::Finished => import_finished = true,
                }
            }
            if !import_finished {
                self.ctx.request_repaint_after(Duration::from_millis(100));
            }
        }
        if !new_reports.is_empty() {
            self.import_reports.extend(new_reports);
            self.refresh_data(); // each file commits on its own: show it as it lands
        }
        if import_finished {
            self.import = None;
            let files = self.import_reports.len();
            let events: u64 = self.import_reports.iter().map(|r| r.summary.inserted_total()).sum();
            let skipped: u64 = self.import_reports.iter().map(|r| r.records_skipped).sum();
            let rejected = self.import_reports.iter().filter(|r| r.error.is_some()).count();
            let level = if rejected > 0 { StatusLevel::Error } else { StatusLevel::Info };
            self.set_status(
                format!(
                    "Imported {}: {}, {} skipped, {} rejected",
                    format::count_of(files as u64, "file", "files"),
                    format::count_of(events, "event", "events"),
                    format::count_of(skipped, "record", "records"),
                    format::count_of(rejected as u64, "file", "files")
                ),
                level,
            );
            self.show_import_report = rejected > 0 || skipped > 0;
        }
        self.process_export();
        if let Some(rx) = &self.file_dialog {
            if let Ok(picked) = rx.try_recv() {
                self.file_dialog = None;
                match picked {
                    Some(paths) => self.start_import(paths),
                    None => self.set_status(
                        "No file chosen. If no dialog appeared, drop files on the window or pass them: rum-explorer --db PATH FILE...",
                        StatusLevel::Info,
                    ),
                }
            }
        }
        if let Some(edited) = self.query_edited_at {
            if edited.elapsed() >= QUERY_DEBOUNCE {
                self.apply_query_text();
            } else {
                self.ctx.request_repaint_after(QUERY_DEBOUNCE - edited.elapsed());
            }
        }
    }

    fn on_response(&mut self, response: Response) {
        match response {
            Response::Count { generation, total } => {
                if let Some(p) = self.pending.as_mut().filter(|p| p.generation == generation) {
                    p.total = Some(total);
                } else if self.table.generation == generation {
                    self.table.total = Some(total);
                }
                self.promote_pending();
            }
            Response::Page { generation, page, rows } => {
                if let Some(p) = self.pending.as_mut().filter(|p| p.generation == generation) {
                    p.pages.insert(page, rows);
                    self.promote_pending();
                } else if self.table.generation == generation {
                    self.table.pages.insert(page, rows);
                }
            }
            Response::Facets { generation, facets } => {
                if generation == self.generation {
                    self.facets = facets;
                }
            }
            Response::EventValueFacets { generation, facets } => {
                if generation == self.generation {
                    self.event_value_facets = facets;
                }
            }
            Response::Histogram { generation, histogram } => {
                if generation == self.generation {
                    self.histogram = Some(histogram);
                }
            }
            Response::DataSpan { sessions, first_ms, last_ms } => {
                self.data_span = Some((sessions, first_ms, last_ms));
                if sessions == 0 && self.offer_sample_data {
                    self.offer_sample_data = false;
                    match import_job::write_sample_data() {
                        Ok(dir) => {
                            self.set_status("New database: importing the bundled sample data", StatusLevel::Info);
                            self.start_import(vec![dir]);
                        }
                        Err(e) => self.set_status(format!("Could not unpack the sample data: {e}"), StatusLevel::Error),
                    }
                }
                self.offer_sample_data = false;
                self.rerun_query();
            }
            Response::Keys(keys) => {
                self.known_keys = keys;
                self.find_unknown_keys();
            }
            Response::Detail { session_id, detail } => {
                if Some(&session_id) == self.selected_session.as_ref() {
                    self.detail_loading = false;
                    self.detail = detail.map(|d| *d);
                    if self.detail.is_none() {
                        self.detail_open = false;
                        self.set_status(format!("No session {session_id} in this database"), StatusLevel::Error);
                    }
                    self.on_page_shown();
                    self.request_loading_p75();
                }
            }
            Response::Overview { generation, overview } => {
                if generation == self.generation {
                    self.overview = Some(*overview);
                    self.overview_generation = Some(generation);
                }
            }
            Response::Errors { generation, find, limit, rows, total } => {
                let answered = Some((generation, find, limit));
                if answered == self.error_list.requested_for {
                    self.error_list.rows = rows;
                    self.error_list.total = Some(total);
                    self.error_list.shown_for = answered;
                }
            }
            Response::Views { generation, find, sort, descending, limit, rows, total } => {
                let answered = Some((generation, find, sort, descending, limit));
                if answered == self.view_list.requested_for {
                    self.view_list.rows = rows;
                    self.view_list.total = Some(total);
                    self.view_list.shown_for = answered;
                }
            }
            Response::ErrorGroups { generation, find, as_patterns, mut groups } => {
                let answered = Some((generation, find, as_patterns));
                if answered == self.error_list.groups_requested_for {
                    crate::store::sort_error_groups(&mut groups, self.error_list.group_sort, self.error_list.group_descending);
                    self.error_list.groups = groups;
                    self.error_list.groups_shown_for = answered;
                }
            }
            Response::Resources { generation, find, sort, descending, limit, rows, total } => {
                let counted = (generation, find.clone());
                let answered = Some((generation, find, sort, descending, limit));
                if answered == self.resource_list.requested_for {
                    let list = &mut self.resource_list;
                    // Fewer rows than asked for are all of them.
                    let total = total.or_else(|| (rows.len() < limit).then_some(rows.len() as u64));
                    list.rows = rows;
                    list.shown_for = answered;
                    match total {
                        Some(total) => {
                            list.total = Some(total);
                            list.total_for = Some(counted);
                        }
                        None if list.total_for.as_ref() == Some(&counted) => {}
                        None => {
                            list.total = None;
                            list.total_for = None;
                            if list.total_requested_for.as_ref() != Some(&counted) && counted.0 == self.generation {
                                list.total_requested_for = Some(counted.clone());
                                let mut query = self.session_query();
                                query.extra_columns.clear();
                                self.resource_count_worker.interrupt();
                                self.resource_count_worker.send(Request::ResourceTotal { generation: counted.0, query, find: counted.1 });
                            }
                        }
                    }
                }
            }
            Response::ResourceTotal { generation, find, total } => {
                let counted = Some((generation, find));
                let list = &mut self.resource_list;
                let shown = list.shown_for.as_ref().map(|(generation, find, ..)| (*generation, find.clone()));
                if counted == list.total_requested_for && counted == shown {
                    list.total = Some(total);
                    list.total_for = counted;
                }
            }
            Response::ResourceGroups { generation, find, as_patterns, mut groups } => {
                let answered = Some((generation, find, as_patterns));
                if answered == self.resource_list.groups_requested_for {
                    let list = &mut self.resource_list;
                    crate::store::sort_resource_groups(&mut groups, list.group_sort, list.group_descending);
                    list.groups = groups;
                    list.groups_shown_for = answered;
                }
            }
            Response::Pages { generation, find, as_routes, mut pages } => {
                let answered = Some((generation, find, as_routes));
                if answered == self.view_list.pages_requested_for {
                    crate::store::sort_page_summaries(&mut pages, self.view_list.page_sort, self.view_list.page_descending);
                    self.view_list.pages = pages;
                    self.view_list.pages_shown_for = answered;
                }
            }
            Response::KeyValues { key, values } => {
                self.key_values.insert(key, Some(values));
            }
            Response::LoadingP75 { app_id, p75_ms } => {
                self.loading_p75_by_app.insert(app_id, p75_ms);
            }
            Response::ErrorOccurrences { error_type, error_message, spread } => {
                if let Some(o) = self.error_occurrences.as_mut() {
                    if o.error_type == error_type && o.error_message == error_message {
                        o.spread = Some(spread);
                    }
                }
            }
            Response::Failed { what, message } => self.set_status(format!("{what}: {message}"), StatusLevel::Error),
        }
    }

    /// Shows the pending query's rows once its first page is in; the count may follow.
    fn promote_pending(&mut self) {
        let ready = self.pending.as_mut().is_some_and(TableData::first_page_in);
        if ready {
            if let Some(p) = self.pending.take() {
                self.table = p;
                // Keep the selection on the same session if it is still on screen.
                let same = self.selected_session.as_ref().and_then(|id| {
                    self.table.pages.get(&0).and_then(|rows| rows.iter().position(|r| &r.session_id == id))
                });
                self.selected_row = same;
            }
        }
    }

    pub fn drain_commands(&mut self) {
        for command in std::mem::take(&mut self.commands) {
            self.apply(command);
        }
    }

    /// Since when the rows on screen have been waiting for a newer query's first page.
    pub fn waiting_for_rows_since(&self) -> Option<Instant> {
        self.pending.as_ref().and_then(|p| p.asked_at)
    }

    /// True when the table shows the answer to the current query (no newer one is pending).
    pub fn query_settled(&self) -> bool {
        self.pending.is_none() && self.table.total.is_some()
    }

    pub fn total_sessions_in_db(&self) -> Option<u64> {
        self.data_span.map(|s| s.0)
    }
}

/// The timeline entries the cursor can step to, in the order shown.
pub fn time_points(detail: &SessionDetail, options: TimelineOptions, find: &str) -> Vec<i64> {
    shown_events(detail, options, find).into_iter().map(|i| detail.events[i].event_pk).collect()
}

/// The timeline's entries (indexes into the session's events), in the order shown: the kinds
/// the options show, holding the find text. The timeline works them out once a frame: the
/// text test costs an allocation or more per event.
pub fn shown_events(detail: &SessionDetail, options: TimelineOptions, find: &str) -> Vec<usize> {
    let needle = find.trim().to_lowercase();
    let mut shown: Vec<usize> = (0..detail.events.len())
        .filter(|&i| detail.events[i].is_time_point(options.show_resources, options.show_long_tasks) && detail.events[i].matches_text(&needle))
        .collect();
    if options.descending {
        shown.reverse();
    }
    shown
}

fn short(text: &str) -> String {
    let first: String = text.chars().take(60).collect();
    if first.len() < text.len() { format!("{first}…") } else { first }
}

impl eframe::App for ExplorerApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        if !dropped.is_empty() {
            self.commands.push(Command::Import(dropped));
        }
        self.drain_commands();
        self.process_background();
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        panels::root_ui(self, ui);
        // Commands from this frame apply at once, so the next frame shows their effect.
        self.drain_commands();
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings);
    }
}

/// Opens the window on a database, importing `files` first.
pub fn run(db: Option<PathBuf>, files: Vec<PathBuf>, open_session: Option<String>, open_overview: bool) -> Result<(), String> {
    let use_default = db.is_none();
    let db = db.unwrap_or_else(crate::cli::default_db_path);
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: egui::ViewportBuilder::default()
            .with_title("RUM Session Explorer")
            .with_inner_size([1400.0, 860.0])
            .with_min_inner_size([800.0, 500.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "rum-explorer",
        options,
        Box::new(move |cc| {
            let mut app = ExplorerApp::new(cc, db, files, use_default);
            if let Some(id) = open_session {
                app.commands.push(Command::OpenSession(id));
            }
            if open_overview {
                app.commands.push(Command::ShowTab(MainTab::Overview));
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| format!("cannot open the window: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_show_with_the_first_page_and_a_short_page_is_counted() {
        let rows = |n: usize| (0..n).map(|i| SessionRow { session_id: format!("s{i}"), ..Default::default() }).collect();
        let mut table = TableData::default();
        assert!(!table.first_page_in());
        assert_eq!(table.rows_known(), 0);
        // A full first page: more may follow, the count is still to come.
        table.pages.insert(0, rows(PAGE_ROWS));
        assert!(table.first_page_in());
        assert_eq!((table.total, table.rows_known()), (None, PAGE_ROWS as u64));
        // A short one is everything.
        let mut short = TableData::default();
        short.pages.insert(0, rows(7));
        assert!(short.first_page_in());
        assert_eq!((short.total, short.rows_known()), (Some(7), 7));
        // The count, once in, is what the table shows.
        table.total = Some(12_345);
        assert!(table.first_page_in());
        assert_eq!(table.rows_known(), 12_345);
    }

    /// By URL says how far its read is: of the requests By request counted for the same
    /// query and find text, else how many it has read.
    #[test]
    fn the_by_url_read_tells_its_progress() {
        let mut list = ResourceList { by_url: true, ..Default::default() };
        list.groups_requested_for = Some((3, "api".into(), true));
        assert_eq!(list.groups_reading_text(), "Reading the resources…");
        list.groups_requests_read.store(1_234_567, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(list.groups_reading_text(), "Reading the resources… 1,234,567 requests read");
        (list.total, list.total_for) = (Some(25_000_000), Some((3, "api".into())));
        assert_eq!(list.groups_reading_text(), "Reading the resources… 1,234,567 of 25,000,000 requests");
        // A count of another find text, or of an older query, is not of these requests.
        list.total_for = Some((3, "cdn".into()));
        assert_eq!(list.groups_reading_text(), "Reading the resources… 1,234,567 requests read");
        list.total_for = Some((2, "api".into()));
        assert_eq!(list.groups_reading_text(), "Reading the resources… 1,234,567 requests read");
    }
}
