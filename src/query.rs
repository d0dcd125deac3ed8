//! The filter language shared by the command line and the window's query bar.
//!
//! ```text
//! browser:Chrome -os:Windows        terms, AND by default; "-" negates
//! browser:*chrom*                   wildcards (* and ?), case-insensitive
//! duration_ms:>5000 error_count:>=1 comparisons; start_ms:>2025-01-01 takes dates too
//! view_count:[2 TO 10]              ranges, "*" for an open end
//! view_path:"/a b"                  quoted values
//! user_id:*  -user_id:*             the field exists / does not
//! checkout                          free text: any session field contains it
//! (browser:Safari OR os:iOS) AND -env:staging
//! ```
//!
//! Keys are session columns, event columns (a session matches when any of its events does) or
//! any extended field. Values always travel as bound parameters, never inside the SQL text.

use crate::model::{event_column_for_key, EventColumn};
use crate::store::{event_hashes, event_values, SESSION_LIST_COLUMNS};
use rusqlite::types::Value as SqlValue;
use std::fmt;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term { key: String, matcher: Matcher },
    FreeText(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    Equals(String),
    Wildcard(String),
    Compare(CompareOp, String),
    /// Inclusive bounds; None is an open end.
    Range(Option<String>, Option<String>),
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl CompareOp {
    fn sql(self) -> &'static str {
        match self {
            CompareOp::Greater => ">",
            CompareOp::GreaterOrEqual => ">=",
            CompareOp::Less => "<",
            CompareOp::LessOrEqual => "<=",
        }
    }
}

/// A malformed query: what is wrong and the 1-based character column where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses a query. An empty query gives `Ok(None)`: no filter.
pub fn parse(text: &str) -> Result<Option<Filter>, ParseError> {
    let mut parser = Parser { chars: text.chars().collect(), pos: 0 };
    parser.skip_ws();
    if parser.at_end() {
        return Ok(None);
    }
    let expr = parser.parse_or()?;
    parser.skip_ws();
    if !parser.at_end() {
        return Err(parser.error_here(if parser.peek() == Some(')') {
            "unmatched ')'".to_string()
        } else {
            "unexpected text".to_string()
        }));
    }
    Ok(Some(Filter { expr }))
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')'
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
    fn error_at(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError { column: pos + 1, message: message.into() }
    }
    fn error_here(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    /// The upper-case keyword at the cursor (`OR`, `AND`, `NOT`) if one stands there alone.
    fn keyword(&self) -> Option<&'static str> {
        for keyword in ["OR", "AND", "NOT"] {
            let end = self.pos + keyword.len();
            if end <= self.chars.len()
                && self.chars[self.pos..end].iter().copied().eq(keyword.chars())
                && self.chars.get(end).is_none_or(|c| is_delimiter(*c))
            {
                return Some(keyword);
            }
        }
        None
    }

    fn parse_or(&mut self) -> Result<Expr, ParseError> {
        let mut branches = vec![self.parse_and()?];
        loop {
            self.skip_ws();
            if self.keyword() == Some("OR") {
                let at = self.pos;
                self.pos += 2;
                self.skip_ws();
                if self.at_end() || self.peek() == Some(')') {
                    return Err(self.error_at(at, "OR needs a term on both sides"));
                }
                branches.push(self.parse_and()?);
            } else {
                break;
            }
        }
        Ok(if branches.len() == 1 { branches.remove(0) } else { Expr::Or(branches) })
    }

    fn parse_and(&mut self) -> Result<Expr, ParseError> {
        let mut terms = Vec::new();
        loop {
            self.skip_ws();
            if self.at_end() || self.peek() == Some(')') || self.keyword() == Some("OR") {
                break;
            }
            if self.keyword() == Some("AND") {
                let at = self.pos;
                self.pos += 3;
                self.skip_ws();
                if terms.is_empty() || self.at_end() || self.peek() == Some(')') || self.keyword() == Some("OR") {
                    return Err(self.error_at(at, "AND needs a term on both sides"));
                }
                continue;
            }
            terms.push(self.parse_unary()?);
        }
        match terms.len() {
            0 => Err(self.error_here("expected a term")),
            1 => Ok(terms.remove(0)),
            _ => Ok(Expr::And(terms)),
        }
    }

    fn parse_unary(&mut self) -> Result<Expr, ParseError> {
        if self.keyword() == Some("NOT") {
            let at = self.pos;
            self.pos += 3;
            self.skip_ws();
            if self.at_end() || self.peek() == Some(')') {
                return Err(self.error_at(at, "NOT needs a term after it"));
            }
            return Ok(Expr::Not(Box::new(self.parse_unary()?)));
        }
        if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|c| !is_delimiter(*c)) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.parse_primary()?)));
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Some('(') => {
                let open = self.pos;
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(')') {
                    return Err(self.error_here("empty parentheses"));
                }
                let inner = self.parse_or()?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.error_at(open, "'(' is never closed"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some('"') => Ok(Expr::FreeText(self.parse_quoted()?)),
            _ => self.parse_term(),
        }
    }

    fn parse_quoted(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut value = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '"' => return Ok(value),
                '\\' => match self.peek() {
                    Some(next) => {
                        value.push(next);
                        self.pos += 1;
                    }
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err(self.error_at(open, "quote is never closed"))
    }

    /// Reads a bare word up to whitespace or a parenthesis; `\` escapes the next character.
    /// Returns the text and whether it held an unescaped wildcard.
    fn read_bare(&mut self, stop_at_colon: bool) -> (String, bool) {
        let mut text = String::new();
        let mut wildcard = false;
        while let Some(c) = self.peek() {
            if is_delimiter(c) || (stop_at_colon && c == ':') {
                break;
            }
            self.pos += 1;
            if c == '\\' {
                if let Some(next) = self.peek() {
                    text.push(next);
                    self.pos += 1;
                }
                continue;
            }
            if c == '*' || c == '?' {
                wildcard = true;
            }
            text.push(c);
        }
        (text, wildcard)
    }

    fn parse_term(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        let (word, _) = self.read_bare(true);
        if self.peek() != Some(':') {
            if word.is_empty() {
                return Err(self.error_here("expected a term"));
            }
            // A bare word: free text (a ':' never came, so wildcards are literal here).
            return Ok(Expr::FreeText(word));
        }
        if word.is_empty() {
            return Err(self.error_at(start, "a key is missing before ':'"));
        }
        self.pos += 1; // ':'
        let matcher = match self.peek() {
            None => return Err(self.error_here(format!("a value is missing after '{word}:'"))),
            Some(c) if c.is_whitespace() || c == ')' => return Err(self.error_here(format!("a value is missing after '{word}:'"))),
            Some('"') => Matcher::Equals(self.parse_quoted()?),
            Some('[') => self.parse_range()?,
            Some('>') | Some('<') => {
                let op = match (self.peek(), self.chars.get(self.pos + 1)) {
                    (Some('>'), Some('=')) => CompareOp::GreaterOrEqual,
                    (Some('<'), Some('=')) => CompareOp::LessOrEqual,
                    (Some('>'), _) => CompareOp::Greater,
                    _ => CompareOp::Less,
                };
                self.pos += if matches!(op, CompareOp::GreaterOrEqual | CompareOp::LessOrEqual) { 2 } else { 1 };
                let value = if self.peek() == Some('"') { self.parse_quoted()? } else { self.read_bare(false).0 };
                if value.is_empty() {
                    return Err(self.error_here("a value is missing after the comparison"));
                }
                Matcher::Compare(op, value)
            }
            Some(_) => {
                let (value, wildcard) = self.read_bare(false);
                if value == "*" {
                    Matcher::Exists
                } else if wildcard {
                    Matcher::Wildcard(value)
                } else {
                    Matcher::Equals(value)
                }
            }
        };
        Ok(Expr::Term { key: word, matcher })
    }

    fn parse_range(&mut self) -> Result<Matcher, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut body = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error_at(open, "'[' is never closed; a range is [low TO high]")),
                Some(']') => {
                    self.pos += 1;
                    break;
                }
                Some(c) => {
                    body.push(c);
                    self.pos += 1;
                }
            }
        }
        let parts: Vec<&str> = body.split(" TO ").collect();
        if parts.len() != 2 {
            return Err(self.error_at(open, "a range is [low TO high]"));
        }
        let bound = |s: &str| {
            let s = s.trim().trim_matches('"');
            if s == "*" || s.is_empty() {
                None
            } else {
                Some(s.to_string())
            }
        };
        Ok(Matcher::Range(bound(parts[0]), bound(parts[1])))
    }
}

/// What a key names.
enum KeyTarget {
    Session { column: &'static str },
    Event(&'static EventColumn),
    Extended(String),
}

/// The field a key typed in a query, a sort or a column means. Datadog's names work as they
/// do in its explorer, with or without its facet `@` (`@usr.id`, `browser.name`,
/// `geo.country`, `view.url_path`): the import stored those fields under the explorer's names
/// (`userid`, `browser`, `country`, `view_path`), and a user coming from Datadog otherwise got
/// no session and no word why. A key the import kept as it came (`usr.plan`) stays itself.
pub fn field_key(key: &str) -> &str {
    let bare = key.strip_prefix('@').filter(|rest| !rest.is_empty()).unwrap_or(key);
    match bare {
        "view.url_path" => "view_path",
        _ => crate::ingest::datadog::canonical_key_on_every_kind(bare).unwrap_or(bare),
    }
}

/// The canonical session column for a key typed in a query or a sort (`userid` is `user_id`,
/// and Datadog's `@usr.id` too: see [`field_key`]).
pub fn session_column_alias(key: &str) -> &str {
    match field_key(key) {
        "userid" => "user_id",
        "version" => "app_version",
        "duration" => "duration_ms",
        "time" | "start" => "start_ms",
        other => other,
    }
}

fn resolve(key: &str) -> KeyTarget {
    let key = field_key(key);
    let alias = session_column_alias(key);
    if let Some(column) = SESSION_LIST_COLUMNS.iter().copied().find(|c| *c == alias) {
        return KeyTarget::Session { column };
    }
    if let Some(column) = event_column_for_key(key) {
        return KeyTarget::Event(column);
    }
    KeyTarget::Extended(key.to_string())
}

/// Where the sessions table takes a column whose key is not a session list column from: the
/// session's own extended field, else the first value its events carry, in timeline order
/// ([`FIRST_EVENT_ORDER`]).
#[derive(Debug, Clone)]
pub struct FirstValueSource {
    /// The value on an event row `e` (`e.view_referrer`, `json_extract(e.extra_json, ?3)`).
    pub event_value_sql: String,
    /// The session's own value, for extended fields (`json_extract(s.session_fields_json, ?3)`).
    pub session_value_sql: Option<String>,
    /// The events' column the value is, for event keys.
    pub event_column: Option<&'static str>,
    /// Whether any event may carry the value (false: known that none does).
    pub events_carry: bool,
}

/// The order in which a session's events are searched for a column's first value: the
/// timeline's (time, views first at the same time, then as stored), so it is total and a
/// page shows the same value whether it was sorted by it or not.
pub const FIRST_EVENT_ORDER: &str = "e.time_ms, e.kind <> 'view', e.event_pk";

impl FirstValueSource {
    /// The first value the events of the session `session_pk` (an SQL expression: a column,
    /// a placeholder) carry, as a subquery.
    pub fn first_event_value_sql(&self, session_pk: &str) -> String {
        if !self.events_carry {
            return "NULL".to_string();
        }
        let v = &self.event_value_sql;
        format!("(SELECT {v} FROM events e WHERE e.session_pk = {session_pk} AND {v} IS NOT NULL ORDER BY {FIRST_EVENT_ORDER} LIMIT 1)")
    }

    /// The column's value for a session row `s`, as a SELECT expression.
    pub fn column_sql(&self) -> String {
        let first_event_value = self.first_event_value_sql("s.session_pk");
        match &self.session_value_sql {
            Some(own) => format!("coalesce({own}, {first_event_value})"),
            None => first_event_value,
        }
    }
}

/// Whether `key` means an extended field (not a session list column or an event column).
pub fn is_extended_key(key: &str) -> bool {
    matches!(resolve(key), KeyTarget::Extended(_))
}

/// Whether sorting by `key` has no index of its own (any key but a session list column's):
/// the list is then sorted by [`FirstValueSource`] values read for every selected session.
pub fn sorts_without_index(key: &str) -> bool {
    !matches!(resolve(key), KeyTarget::Session { .. })
}

/// The [`FirstValueSource`] of `key`; `None` for session list columns, which are selected
/// directly. An extended field is read only where `facts` (when known) says the data has it.
pub fn first_value_source(key: &str, params: &mut Vec<SqlValue>, facts: Option<&StoreFacts>) -> Option<FirstValueSource> {
    match resolve(key) {
        KeyTarget::Session { .. } => None,
        KeyTarget::Event(column) => {
            Some(FirstValueSource {
                event_value_sql: format!("e.{}", column.column),
                session_value_sql: None,
                event_column: Some(column.column),
                events_carry: true,
            })
        }
        KeyTarget::Extended(key) => {
            let (on_sessions, on_events) = facts.map_or((true, true), |facts| facts.where_is(&key));
            // A statement must use every parameter it is given: none for a key nothing has.
            let path = if on_sessions || on_events { push(params, SqlValue::Text(json_path(&key))) } else { "NULL".to_string() };
            Some(FirstValueSource {
                event_value_sql: format!("json_extract(e.extra_json, {path})"),
                session_value_sql: Some(if on_sessions { format!("json_extract(s.session_fields_json, {path})") } else { "NULL".to_string() }),
                event_column: None,
                events_carry: on_events,
            })
        }
    }
}

/// What the store records about its data, for the queries to read only where it helps (table
/// `store_facts`): where each extended field is (schema 12: a filter or a sort then reads only
/// the sessions or only the events for a key only they carry, and nothing for a key no field
/// has), and whether each session keeps its event values (schema 13) and a filter of its
/// events' values of many values (schema 14).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreFacts {
    /// Keys of the sessions' own fields (`session_fields_json`).
    pub session: std::collections::BTreeSet<String>,
    /// Keys of the events' extended fields (`extra_json`).
    pub event: std::collections::BTreeSet<String>,
    /// Whether every session's values in the event columns of few values are kept
    /// (`session_event_values`, schema 13): a term on such a value reads them instead of the
    /// events.
    pub event_values_kept: bool,
    /// Every value kept there, as stored (`schema::SEEN_EVENT_VALUES`): a comparison
    /// (`resource_status:>=500`) looks for those it accepts.
    pub seen_event_values: String,
    /// Whether every session's filter of its events' values of many values is kept
    /// (`session_event_hashes`, schema 14): an exact value of such a field reads the events of
    /// the sessions whose filter may hold it.
    pub event_hashes_kept: bool,
}

impl StoreFacts {
    /// Whether sessions, and whether events, carry `key`.
    pub fn where_is(&self, key: &str) -> (bool, bool) {
        (self.session.contains(key), self.event.contains(key))
    }
}

/// Whether a key names an event column whose values each session keeps (see
/// `store::event_values`) or whose values its filter holds (`store::event_hashes`).
pub fn is_event_value_key(key: &str) -> bool {
    matches!(resolve(key), KeyTarget::Event(column) if event_values::is_value_column(column.column) || event_hashes::HASHED_COLUMNS.contains(&column.column))
}

/// For a term's exact value of an event field the sessions' filters hold (see
/// `store::event_hashes`), the hash to look for; None when the filters do not answer it.
fn hashed_term(tag: &str, matcher: &Matcher, facts: Option<&StoreFacts>) -> Option<u64> {
    match matcher {
        Matcher::Equals(value) if facts.is_some_and(|s| s.event_hashes_kept) && event_hashes::is_hashed_value(value) => {
            Some(event_hashes::value_hash(tag, value.as_bytes()))
        }
        _ => None,
    }
}

/// Sessions with an event that `predicate` holds, asked only of the sessions whose filter may
/// hold the value's `hash`.
fn hashed_session_has_event(predicate: &str, hash: u64, mode: EventMatch, params: &mut Vec<SqlValue>) -> String {
    let hash = push(params, SqlValue::Integer(hash as i64));
    let may_hold = event_hashes::MAY_HOLD_FUNCTION;
    match mode {
        EventMatch::AsSet => format!(
            "s.session_pk IN (SELECT h.session_pk FROM session_event_hashes h WHERE {may_hold}(h.bits, {hash})
             AND EXISTS (SELECT 1 FROM events e INDEXED BY events_by_session_key WHERE e.session_pk = h.session_pk AND {predicate}))"
        ),
        EventMatch::PerSession => format!(
            "EXISTS (SELECT 1 FROM session_event_hashes h WHERE h.session_pk = s.session_pk AND {may_hold}(h.bits, {hash})
             AND EXISTS (SELECT 1 FROM events e INDEXED BY events_by_session_key WHERE e.session_pk = s.session_pk AND {predicate}))"
        ),
    }
}

/// A JSON path that names one top-level key, dots and all. SQLite's JSON paths cannot quote
/// a `"` or `\` inside a key, so those two are dropped (such a key then matches nothing).
pub fn json_path(key: &str) -> String {
    format!("$.\"{}\"", key.replace(['"', '\\'], ""))
}

/// The filter's top-level expressions made only of terms on `keys` (by [`field_key`]): a
/// term, or an OR, AND or negation of such terms (`(error_type:TypeError OR
/// error_type:ReferenceError)`), as predicates on the columns `column_of` names for the keys.
/// A negation keeps the rows it does not match, those without a value too. The Errors and
/// Views tabs apply a query's error and view terms to the events they list, not only to the
/// sessions they read them from.
pub fn top_level_term_predicates(filter: &Filter, keys: &[&str], column_of: impl Fn(&str) -> String, params: &mut Vec<SqlValue>) -> Vec<String> {
    filter
        .expr
        .top_level_terms()
        .into_iter()
        .filter(|expr| only_terms_on(expr, keys))
        .map(|expr| event_predicate(expr, &column_of, params))
        .collect()
}

/// Whether every term of `expr` is on one of `keys`, with no free text: whether it can be
/// tested on one event.
fn only_terms_on(expr: &Expr, keys: &[&str]) -> bool {
    match expr {
        Expr::Term { key, .. } => keys.contains(&field_key(key)),
        Expr::Not(inner) => only_terms_on(inner, keys),
        Expr::And(terms) | Expr::Or(terms) => !terms.is_empty() && terms.iter().all(|t| only_terms_on(t, keys)),
        Expr::FreeText(_) => false,
    }
}

/// `expr`, which [`only_terms_on`] accepted, as a predicate on one event's columns.
fn event_predicate(expr: &Expr, column_of: &impl Fn(&str) -> String, params: &mut Vec<SqlValue>) -> String {
    match expr {
        Expr::Term { key, matcher } => predicate(&column_of(field_key(key)), matcher, false, params),
        Expr::Not(inner) => format!("NOT coalesce({}, 0)", event_predicate(inner, column_of, params)),
        Expr::And(terms) | Expr::Or(terms) => {
            let joiner = if matches!(expr, Expr::And(_)) { " AND " } else { " OR " };
            let parts: Vec<String> = terms.iter().map(|t| event_predicate(t, column_of, params)).collect();
            format!("({})", parts.join(joiner))
        }
        // Not reached: only_terms_on refuses free text. Matching nothing is the safe answer.
        Expr::FreeText(_) => "0".to_string(),
    }
}

/// The filter without its positive top-level expressions made only of terms on `keys`: what
/// still selects sessions once those are applied to the events listed (a view on `/cart`
/// already says its session has the page). An expression with a negation in it stays: an
/// event not slow does not say its session had no slow view. `None` when nothing is left.
pub fn without_positive_top_level_terms(filter: &Filter, keys: &[&str]) -> Option<Filter> {
    fn has_negation(expr: &Expr) -> bool {
        match expr {
            Expr::Not(_) => true,
            Expr::And(terms) | Expr::Or(terms) => terms.iter().any(has_negation),
            Expr::Term { .. } | Expr::FreeText(_) => false,
        }
    }
    let applied_to_events = |expr: &Expr| !has_negation(expr) && only_terms_on(expr, keys);
    let rest: Vec<Expr> = filter.expr.top_level_terms().into_iter().filter(|t| !applied_to_events(t)).cloned().collect();
    match rest.len() {
        0 => None,
        1 => rest.into_iter().next().map(|expr| Filter { expr }),
        _ => Some(Filter { expr: Expr::And(rest) }),
    }
}

fn push(params: &mut Vec<SqlValue>, value: SqlValue) -> String {
    params.push(value);
    format!("?{}", params.len())
}

fn like_pattern(wildcard: &str) -> String {
    let mut out = String::new();
    for c in wildcard.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether a term's value is compared as a number too (see [`predicate`]).
pub fn compares_as_number(value: &str) -> bool {
    numeric_value(value, false).is_some()
}

/// Whether `text` matches a term's wildcard pattern (`*` any run, `?` one character) as
/// SQLite's `LIKE` of [`like_pattern`] decides: ASCII letters in either case, other characters
/// as they are.
pub fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let same = |p: char, t: char| p.eq_ignore_ascii_case(&t);
    // The usual matching with one remembered star: the last star may take more characters.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some('?') => {
                p += 1;
                t += 1;
            }
            Some(c) if same(*c, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// A number from a query value; for time keys also a date (`2025-11-13`, ISO 8601).
fn numeric_value(value: &str, is_time: bool) -> Option<SqlValue> {
    if let Ok(n) = value.parse::<i64>() {
        return Some(SqlValue::Integer(n));
    }
    if let Ok(f) = value.parse::<f64>() {
        if f.is_finite() {
            return Some(SqlValue::Real(f));
        }
    }
    if is_time {
        return crate::timeparse::parse_datetime_ms(value).map(SqlValue::Integer);
    }
    None
}

/// The predicate on one SQL expression. Values that read as numbers (or, for time keys, as
/// dates) are compared as numbers.
fn predicate(expr: &str, matcher: &Matcher, is_time: bool, params: &mut Vec<SqlValue>) -> String {
    match matcher {
        Matcher::Exists => format!("({expr} IS NOT NULL AND {expr} <> '')"),
        Matcher::Equals(value) => {
            let text = push(params, SqlValue::Text(value.clone()));
            match numeric_value(value, is_time) {
                Some(n) => {
                    let n = push(params, n);
                    format!("({expr} = {n} OR {expr} = {text})")
                }
                None => format!("{expr} = {text}"),
            }
        }
        Matcher::Wildcard(pattern) => {
            let p = push(params, SqlValue::Text(like_pattern(pattern)));
            format!("{expr} LIKE {p} ESCAPE '\\'")
        }
        Matcher::Compare(op, value) => {
            let v = numeric_value(value, is_time).unwrap_or_else(|| SqlValue::Text(value.clone()));
            let p = push(params, v);
            format!("{expr} {} {p}", op.sql())
        }
        Matcher::Range(low, high) => {
            let mut parts = Vec::new();
            if let Some(low) = low {
                let v = numeric_value(low, is_time).unwrap_or_else(|| SqlValue::Text(low.clone()));
                parts.push(format!("{expr} >= {}", push(params, v)));
            }
            if let Some(high) = high {
                let v = numeric_value(high, is_time).unwrap_or_else(|| SqlValue::Text(high.clone()));
                parts.push(format!("{expr} <= {}", push(params, v)));
            }
            if parts.is_empty() {
                format!("{expr} IS NOT NULL")
            } else {
                format!("({})", parts.join(" AND "))
            }
        }
    }
}

/// For a comparison or range whose bounds are numbers, whether an integer value satisfies it,
/// as SQLite compares an integer column's value with them; None for bounds that are not numbers.
fn integer_test(matcher: &Matcher) -> Option<impl Fn(i64) -> bool> {
    fn bound(value: &str) -> Option<SqlValue> {
        numeric_value(value, false)
    }
    fn compare(n: i64, bound: &SqlValue) -> std::cmp::Ordering {
        match bound {
            SqlValue::Integer(b) => n.cmp(b),
            // Finite (see `numeric_value`): SQLite compares an integer and a float as numbers.
            SqlValue::Real(b) => (n as f64).partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
            _ => std::cmp::Ordering::Equal,
        }
    }
    use std::cmp::Ordering::{Greater, Less};
    /// A bound and whether it is inclusive.
    type Bound = Option<(SqlValue, bool)>;
    let (low, high): (Bound, Bound) = match matcher {
        Matcher::Compare(CompareOp::Greater, v) => (Some((bound(v)?, false)), None),
        Matcher::Compare(CompareOp::GreaterOrEqual, v) => (Some((bound(v)?, true)), None),
        Matcher::Compare(CompareOp::Less, v) => (None, Some((bound(v)?, false))),
        Matcher::Compare(CompareOp::LessOrEqual, v) => (None, Some((bound(v)?, true))),
        Matcher::Range(low, high) => (
            match low {
                Some(v) => Some((bound(v)?, true)),
                None => None,
            },
            match high {
                Some(v) => Some((bound(v)?, true)),
                None => None,
            },
        ),
        _ => return None,
    };
    Some(move |n: i64| {
        let above = low.as_ref().is_none_or(|(b, inclusive)| match compare(n, b) {
            Greater => true,
            Less => false,
            _ => *inclusive,
        });
        let below = high.as_ref().is_none_or(|(b, inclusive)| match compare(n, b) {
            Less => true,
            Greater => false,
            _ => *inclusive,
        });
        above && below
    })
}

/// Session text columns that free text searches.
const FREE_TEXT_COLUMNS: &[&str] = &[
    "session_id",
    "session_type",
    "first_view_path",
    "last_view_path",
    "first_view_url",
    "last_view_url",
    "app_id",
    "env",
    "service",
    "app_version",
    "user_id",
    "user_name",
    "user_email",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device",
    "country",
    "city",
    "session_fields_json",
];

/// How a term on an event column asks whether a session has a matching event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventMatch {
    /// `s.session_pk IN (SELECT … FROM events …)`: SQLite collects the matching sessions once,
    /// reading every event (for the page, every session's pages). Right when every session is
    /// tested (counts, facets, a full sort).
    AsSet,
    /// `EXISTS (SELECT … WHERE e.session_pk = s.session_pk …)`: each session's own events (or
    /// pages), through their by-session index. Right when few sessions are tested (the first
    /// pages of a sorted list): at 1M sessions the set costs seconds, the probes milliseconds.
    PerSession,
}

impl Expr {
    fn to_sql(&self, params: &mut Vec<SqlValue>, mode: EventMatch, facts: Option<&StoreFacts>) -> String {
        match self {
            Expr::And(terms) => {
                format!("({})", terms.iter().map(|t| t.to_sql(params, mode, facts)).collect::<Vec<_>>().join(" AND "))
            }
            Expr::Or(terms) => {
                format!("({})", terms.iter().map(|t| t.to_sql(params, mode, facts)).collect::<Vec<_>>().join(" OR "))
            }
            // coalesce: a session without the field is one the negation should keep.
            Expr::Not(inner) => format!("NOT coalesce({}, 0)", inner.to_sql(params, mode, facts)),
            Expr::FreeText(text) => {
                let p = push(params, SqlValue::Text(format!("%{}%", like_pattern(text))));
                let ors: Vec<String> = FREE_TEXT_COLUMNS.iter().map(|c| format!("s.{c} LIKE {p} ESCAPE '\\'")).collect();
                format!("({})", ors.join(" OR "))
            }
            Expr::Term { key, matcher } => match resolve(key) {
                KeyTarget::Session { column } => predicate(&format!("s.{column}"), matcher, column.ends_with("_ms"), params),
                // A session's pages are listed once each: far fewer rows than its events.
                KeyTarget::Event(column) if column.column == "view_path" => {
                    let pred = predicate("p.view_path", matcher, false, params);
                    match mode {
                        EventMatch::AsSet => format!("s.session_pk IN (SELECT p.session_pk FROM session_pages p WHERE {pred})"),
                        EventMatch::PerSession => format!(
                            "EXISTS (SELECT 1 FROM session_pages p INDEXED BY session_pages_by_session WHERE p.session_pk = s.session_pk AND {pred})"
                        ),
                    }
                }
                // One seek in the value's index (by value, then session) per session tested.
                KeyTarget::Event(column)
                    if mode == EventMatch::PerSession && EVENT_COLUMNS_INDEXED_BY_VALUE_AND_SESSION.contains(&column.column) =>
                {
                    let c = column.column;
                    match matcher {
                        // A text column compares a number as its text: the text alone is asked.
                        Matcher::Equals(value) => {
                            let p = push(params, SqlValue::Text(value.clone()));
                            format!(
                                "EXISTS (SELECT 1 FROM events e INDEXED BY events_by_{c} WHERE e.{c} = {p} AND e.session_pk = s.session_pk)"
                            )
                        }
                        other => session_has_event(&predicate(&format!("e.{c}"), other, false, params), mode),
                    }
                }
                KeyTarget::Event(column) => {
                    let pred = predicate(&format!("e.{}", column.column), matcher, false, params);
                    // The sessions' kept values, where they are: the session's events only where
                    // a column's values were not all kept.
                    let kept = match (matcher, facts) {
                        (Matcher::Equals(value), Some(facts)) if facts.event_values_kept => {
                            event_values::term_tokens(column.column, value).map(|(token, unkept)| (vec![token], unkept))
                        }
                        (Matcher::Compare(..) | Matcher::Range(..), Some(facts)) if facts.event_values_kept => {
                            let seen = event_values::EventValues::decode_seen(&facts.seen_event_values);
                            integer_test(matcher).and_then(|accepts| event_values::accepted_tokens(column.column, &seen, accepts))
                        }
                        // The values seen that the pattern matches (`resource_status:5*`).
                        (Matcher::Wildcard(pattern), Some(facts)) if facts.event_values_kept => {
                            let seen = event_values::EventValues::decode_seen(&facts.seen_event_values);
                            event_values::matching_tokens(column.column, &seen, |text| wildcard_matches(pattern, text))
                        }
                        _ => None,
                    };
                    let Some((tokens, unkept)) = kept else {
                        let hashed = event_hashes::HASHED_COLUMNS.contains(&column.column);
                        return match if hashed { hashed_term(column.column, matcher, facts) } else { None } {
                            Some(hash) => hashed_session_has_event(&pred, hash, mode, params),
                            None => session_has_event(&pred, mode),
                        };
                    };
                    let mut any_token: Vec<String> =
                        tokens.into_iter().map(|token| format!("instr(v.tokens, {}) > 0", push(params, SqlValue::Text(token)))).collect();
                    let unkept = push(params, SqlValue::Text(unkept));
                    any_token.push(format!(
                        "(instr(v.tokens, {unkept}) > 0 AND EXISTS (SELECT 1 FROM events e INDEXED BY events_by_session_key WHERE e.session_pk = v.session_pk AND {pred}))"
                    ));
                    let test = format!("({})", any_token.join(" OR "));
                    match mode {
                        EventMatch::AsSet => format!("s.session_pk IN (SELECT v.session_pk FROM session_event_values v WHERE {test})"),
                        EventMatch::PerSession => {
                            format!("EXISTS (SELECT 1 FROM session_event_values v WHERE v.session_pk = s.session_pk AND {test})")
                        }
                    }
                }
                // Only where the data has the key: no predicate is true of a missing value.
                KeyTarget::Extended(key) => {
                    let (on_sessions, on_events) = facts.map_or((true, true), |facts| facts.where_is(&key));
                    if !on_sessions && !on_events {
                        return "0".to_string();
                    }
                    let path = push(params, SqlValue::Text(json_path(&key)));
                    let mut parts = Vec::new();
                    if on_sessions {
                        let on_session = predicate(&format!("json_extract(s.session_fields_json, {path})"), matcher, false, params);
                        parts.push(format!("coalesce({on_session}, 0)"));
                    }
                    if on_events {
                        let on_event = predicate(&format!("json_extract(e.extra_json, {path})"), matcher, false, params);
                        parts.push(match hashed_term(&key, matcher, facts) {
                            Some(hash) => hashed_session_has_event(&on_event, hash, mode, params),
                            None => session_has_event(&on_event, mode),
                        });
                    }
                    format!("({})", parts.join(" OR "))
                }
            },
        }
    }

    /// The top-level terms of an AND (or the one term), for showing filters as chips.
    pub fn top_level_terms(&self) -> Vec<&Expr> {
        match self {
            Expr::And(terms) => terms.iter().collect(),
            other => vec![other],
        }
    }

    /// The keys of its terms, nested ones too, each once, in the order they come.
    pub fn term_keys(&self) -> Vec<&str> {
        let mut keys = Vec::new();
        let mut stack = vec![self];
        while let Some(expr) = stack.pop() {
            match expr {
                Expr::And(terms) | Expr::Or(terms) => stack.extend(terms.iter().rev()),
                Expr::Not(inner) => stack.push(inner),
                Expr::Term { key, .. } => {
                    if !keys.contains(&key.as_str()) {
                        keys.push(key.as_str());
                    }
                }
                Expr::FreeText(_) => {}
            }
        }
        keys
    }
}

/// Whether `key`, under any of its names (see [`field_key`], [`session_column_alias`]), is
/// among `known`, the fields the data has (as `Store::session_keys` lists them).
pub fn is_known_key(key: &str, known: &[String]) -> bool {
    let field = field_key(key);
    [key, field, session_column_alias(field)].iter().any(|name| known.iter().any(|k| k == name))
}

/// The keys of `filter` that no field in `known` has, each with the known key spelled most
/// like it: what the window shows under its query bar and the command line says on stderr.
pub fn unknown_keys(filter: &Filter, known: &[String]) -> Vec<(String, Option<String>)> {
    filter
        .expr
        .term_keys()
        .into_iter()
        .filter(|key| !is_known_key(key, known))
        .map(|key| (key.to_string(), closest_key(key, known).map(str::to_string)))
        .collect()
}

/// The known key spelled most like `key`, when one is close enough to be what was meant: at
/// most a third of its letters apart (a typo, a letter swapped), ignoring case.
pub fn closest_key<'k>(key: &str, known: &'k [String]) -> Option<&'k str> {
    let wanted: Vec<char> = field_key(key).to_lowercase().chars().collect();
    let most = (wanted.len() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(&wanted, &k.to_lowercase().chars().collect::<Vec<_>>()), k))
        .filter(|(distance, _)| *distance <= most)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, k)| k.as_str())
}

/// `text` with every term keyed `key` keyed `replacement` instead (`brwoser:Chrome` to
/// `browser:Chrome`); values, free text and other keys stay as typed.
pub fn replace_key(text: &str, key: &str, replacement: &str) -> String {
    let pattern = format!("{key}:");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut previous: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        let starts_term = previous.is_none_or(|p| p.is_whitespace() || p == '(' || p == '-');
        if starts_term && rest.starts_with(&pattern) {
            out.push_str(replacement);
            out.push(':');
            rest = &rest[pattern.len()..];
            previous = Some(':');
        } else if c == '"' {
            // A quoted value is copied whole: a key-like text inside it stays.
            let end = rest[1..].find('"').map_or(rest.len(), |i| i + 2);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            previous = Some('"');
        } else {
            out.push(c);
            previous = Some(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Edits (a letter added, removed, replaced, or two neighbours swapped) from `a` to `b`.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut before_previous: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let replace = previous[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            row[j] = replace.min(previous[j] + 1).min(row[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before_previous[j - 2] + 1);
            }
        }
        before_previous = std::mem::replace(&mut previous, row);
    }
    previous[b.len()]
}

/// Whether the session `s` has an event `e` for which `predicate` holds.
fn session_has_event(predicate: &str, mode: EventMatch) -> String {
    match mode {
        EventMatch::AsSet => format!("s.session_pk IN (SELECT e.session_pk FROM events e WHERE {predicate})"),
        // INDEXED BY: given an index on the filtered column (the error type's), SQLite read
        // every event with that value for each session instead of the session's own events.
        EventMatch::PerSession => format!(
            "EXISTS (SELECT 1 FROM events e INDEXED BY events_by_session_key WHERE e.session_pk = s.session_pk AND {predicate})"
        ),
    }
}

/// Event columns whose index `events_by_{column}` is keyed by the value and then the session
/// (schema 7 and 9).
const EVENT_COLUMNS_INDEXED_BY_VALUE_AND_SESSION: &[&str] = &["action_name", "error_message", "error_type"];

/// Event columns with an index that finds the rows holding a value (schema 7 for the action
/// name and error message; a page is looked up in `session_pages`).
const EVENT_COLUMNS_INDEXED_BY_VALUE: &[&str] = &["view_path", "action_name", "error_message", "error_type"];

impl Filter {
    /// Counts, for each term every matching session must satisfy and an index answers
    /// (`action_name:checkout`, not under a NOT or an OR), the rows holding its value, up to
    /// a limit bound as the last parameter: SQL and its parameters. A count under the limit
    /// means few sessions can match.
    pub fn indexed_required_term_counts(&self) -> Vec<(String, Vec<SqlValue>)> {
        let required: &[Expr] = match &self.expr {
            Expr::And(terms) => terms,
            single => std::slice::from_ref(single),
        };
        let mut counts = Vec::new();
        for term in required {
            let Expr::Term { key, matcher: matcher @ Matcher::Equals(_) } = term else { continue };
            let KeyTarget::Event(column) = resolve(key) else { continue };
            if !EVENT_COLUMNS_INDEXED_BY_VALUE.contains(&column.column) {
                continue;
            }
            let mut params = Vec::new();
            let table = if column.column == "view_path" { "session_pages" } else { "events" };
            let pred = predicate(&format!("t.{}", column.column), matcher, false, &mut params);
            let limit = params.len() + 1;
            counts.push((format!("SELECT count(*) FROM (SELECT 1 FROM {table} t WHERE {pred} LIMIT ?{limit})"), params));
        }
        counts
    }

    /// SQL over the sessions table aliased `s`; values are appended to `params`.
    pub fn to_sql(&self, params: &mut Vec<SqlValue>) -> String {
        self.expr.to_sql(params, EventMatch::AsSet, None)
    }

    /// As [`Filter::to_sql`], with event terms asked as `mode` says, and extended fields
    /// looked for only where `facts` (when known) says the data has them.
    pub fn to_sql_with(&self, params: &mut Vec<SqlValue>, mode: EventMatch, facts: Option<&StoreFacts>) -> String {
        self.expr.to_sql(params, mode, facts)
    }
}

/// Quotes a value unless it reads back as itself: no delimiter, quote, colon, backslash or
/// wildcard in it, not starting like a negation, comparison or range, not a keyword.
fn quote_if_needed(value: &str) -> String {
    let special_start = value.starts_with(['-', '>', '<', '=', '[']);
    let keyword = ["OR", "AND", "NOT", "TO"].iter().any(|k| value.eq_ignore_ascii_case(k));
    if value.is_empty() || special_start || keyword || value.chars().any(|c| is_delimiter(c) || matches!(c, '"' | ':' | '\\' | '*' | '?')) {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value.to_string()
    }
}

/// A wildcard value as bare text (a quoted value has no wildcards): `*` and `?` stay, other
/// special characters are escaped.
fn escape_wildcard(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        if is_delimiter(c) || matches!(c, '"' | '\\') || (i == 0 && matches!(c, '>' | '<' | '=' | '[' | '-')) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A key as bare text that reads back as itself: special characters escaped with a backslash.
fn escape_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for (i, c) in key.chars().enumerate() {
        let special = is_delimiter(c) || matches!(c, '"' | ':' | '\\' | '*' | '?') || (i == 0 && matches!(c, '-' | '('));
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    let keyword = ["OR", "AND", "NOT"].contains(&key);
    if keyword {
        out.insert(0, '\\');
    }
    out
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(terms) => {
                let parts: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
                write!(f, "{}", parts.join(" "))
            }
            Expr::Or(terms) => {
                let parts: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
                write!(f, "({})", parts.join(" OR "))
            }
            // "-" binds to one term and not to a parenthesis, and "--x" would read as text:
            // groups and double negations are written with NOT.
            Expr::Not(inner) => match inner.as_ref() {
                Expr::And(_) => write!(f, "NOT ({inner})"),
                    Expr::Or(_) => write!(f, "NOT {inner}"),
                Expr::Not(_) => write!(f, "NOT {inner}"),
                _ => write!(f, "-{inner}"),
            },
            Expr::FreeText(text) => write!(f, "{}", quote_if_needed(text)),
            Expr::Term { key, matcher } => {
                let key = escape_key(key);
                match matcher {
                    Matcher::Exists => write!(f, "{key}:*"),
                    Matcher::Equals(v) => write!(f, "{key}:{}", quote_if_needed(v)),
                    Matcher::Wildcard(v) => write!(f, "{key}:{}", escape_wildcard(v)),
                    Matcher::Compare(op, v) => {
                        write!(f, "{key}:{}{}", op.sql(), quote_if_needed(v))
                    }
                    Matcher::Range(low, high) => {
                        write!(f, "{key}:[{} TO {}]", low.as_deref().unwrap_or("*"), high.as_deref().unwrap_or("*"))
                    }
                }
            }
        }
    }
}

/// The query text for `key:value` (or `-key:value`), quoted where the value needs it.
pub fn term_text(key: &str, value: &str, negate: bool) -> String {
    format!("{}{key}:{}", if negate { "-" } else { "" }, quote_if_needed(value))
}

/// The filter term for a value whose `*` stand for any text (an error message pattern):
/// `error_message:Request\ failed\ *`, its other special characters escaped.
pub fn wildcard_term_text(key: &str, pattern: &str) -> String {
    format!("{key}:{}", escape_wildcard(pattern))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_sqlite_like_does() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        let texts = ["GET", "get", "POST", "503", "500", "5", "", "xhr", "fetch", "Été", "été", "a_b", "a%b", "ab", "aXbXc", "abc"];
        let patterns = ["G*", "g?t", "*", "?", "5*", "5?3", "*0*", "x*r", "*etch", "É*", "é*", "a_b", "a%b", "a*b*c", "*b", "?*?", "**", "a?", ""];
        for pattern in patterns {
            for text in texts {
                let like: bool = conn
                    .query_row("SELECT ?1 LIKE ?2 ESCAPE '\\'", rusqlite::params![text, like_pattern(pattern)], |r| r.get(0))
                    .expect("like");
                assert_eq!(wildcard_matches(pattern, text), like, "{pattern} on {text}");
            }
        }
    }
}
