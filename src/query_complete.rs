//! Suggestions while typing a filter: the fields of the data for the word at the cursor, and
//! a field's common values once its `key:` is typed, as the web explorers' query bars offer.

use crate::query::term_text;
use std::ops::Range;

/// Suggestions shown at most.
pub const MAX_SUGGESTIONS: usize = 8;

/// One suggestion: accepting it replaces `replace` (a byte range of the query) with `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub replace: Range<usize>,
    pub insert: String,
    /// What the list shows.
    pub label: String,
    /// Beside it, weaker: a value's session count.
    pub detail: Option<String>,
    /// A whole query (a recent one): accepting it applies it at once.
    pub whole_query: bool,
}

impl Suggestion {
    /// The query with the suggestion accepted, and where the cursor goes (a char index: after
    /// the inserted text).
    pub fn apply(&self, query: &str) -> (String, usize) {
        let mut text = String::with_capacity(query.len() + self.insert.len());
        text.push_str(&query[..self.replace.start]);
        text.push_str(&self.insert);
        let cursor = text.chars().count();
        let rest = &query[self.replace.end..];
        // One space between terms: the inserted one stands for the one that follows.
        if self.insert.ends_with(' ') && rest.starts_with(char::is_whitespace) {
            text.pop();
        }
        text.push_str(rest);
        let cursor = cursor.min(text.chars().count());
        (text, cursor)
    }
}

/// What the word at the cursor is: a key being typed, or a value after `key:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word<'a> {
    /// `bro` in `bro`, `-bro`; `range` is the key's text (after any `-`).
    Key { typed: &'a str, range: Range<usize> },
    /// `Chr` in `browser:Chr`; `range` covers `key:value` (after any `-`).
    Value { key: &'a str, typed: &'a str, range: Range<usize> },
}

/// The word the cursor (a byte offset, at a char boundary) is in or just after. None between
/// words, inside a quoted value, at an operator (`OR`) or a comparison (`key:>5`).
pub fn word_at(query: &str, cursor: usize) -> Option<Word<'_>> {
    let cursor = cursor.min(query.len());
    if !query.is_char_boundary(cursor) {
        return None;
    }
    let before = &query[..cursor];
    // Inside quotes: a value with spaces is being typed; no suggestion.
    if before.chars().filter(|c| *c == '"').count() % 2 == 1 {
        return None;
    }
    let start = before.rfind(|c: char| c.is_whitespace() || c == '(' || c == ')').map_or(0, |i| i + 1);
    let end = query[cursor..].find(|c: char| c.is_whitespace() || c == '(' || c == ')').map_or(query.len(), |i| cursor + i);
    let mut word_start = start;
    if query[start..].starts_with('-') {
        word_start += 1;
    }
    let word = &query[word_start..end];
    if word.is_empty() || ["OR", "AND", "NOT"].contains(&word) || word.contains('"') {
        return None;
    }
    match word.split_once(':') {
        None => Some(Word::Key { typed: word, range: word_start..end }),
        Some((key, value)) => {
            // Only when the cursor is after the colon; `>5`, `[1 TO 5]` and `*` are not values to list.
            let colon = word_start + key.len();
            if cursor <= colon || key.is_empty() || value.starts_with(['>', '<', '=', '[']) {
                return None;
            }
            Some(Word::Value { key, typed: value, range: word_start..end })
        }
    }
}

/// Keys of `known_keys` for a typed start: those that begin with it first, then those that
/// hold it, each in the given order; nothing when it is the whole of one key already followed
/// by nothing else to choose. Case-insensitive.
pub fn key_suggestions(typed: &str, range: Range<usize>, known_keys: &[String]) -> Vec<Suggestion> {
    let needle = typed.trim_start_matches('@').to_lowercase();
    if needle.is_empty() {
        return Vec::new();
    }
    let starting = known_keys.iter().filter(|k| k.to_lowercase().starts_with(&needle));
    let holding = known_keys.iter().filter(|k| {
        let k = k.to_lowercase();
        !k.starts_with(&needle) && k.contains(&needle)
    });
    let keys: Vec<&String> = starting.chain(holding).take(MAX_SUGGESTIONS).collect();
    if keys.len() == 1 && keys[0].eq_ignore_ascii_case(&needle) {
        // Typed in full: offer the colon only.
        return vec![Suggestion { replace: range, insert: format!("{}:", keys[0]), label: format!("{}:", keys[0]), detail: None, whole_query: false }];
    }
    keys.into_iter().map(|k| Suggestion { replace: range.clone(), insert: format!("{k}:"), label: format!("{k}:"), detail: None, whole_query: false }).collect()
}

/// Values of a key for a typed start (`values`: the most common first, with their session
/// counts): those that begin with it, then those that hold it. Accepting one writes the term
/// quoted as the filter language needs, and a space after it for the next term.
pub fn value_suggestions(key: &str, typed: &str, range: Range<usize>, values: &[(String, u64)]) -> Vec<Suggestion> {
    let needle = typed.to_lowercase();
    let starting = values.iter().filter(|(v, _)| v.to_lowercase().starts_with(&needle));
    let holding = values.iter().filter(|(v, _)| {
        let v = v.to_lowercase();
        !needle.is_empty() && !v.starts_with(&needle) && v.contains(&needle)
    });
    starting
        .chain(holding)
        .filter(|(v, _)| !v.is_empty() && *v != typed)
        .take(MAX_SUGGESTIONS)
        .map(|(value, sessions)| Suggestion {
            replace: range.clone(),
            insert: format!("{} ", term_text(key, value, false)),
            label: value.clone(),
            detail: Some(format!("{sessions} sessions")),
            whole_query: false,
        })
        .collect()
}

/// The recent queries, offered while the query field is empty: each replaces the whole text.
pub fn recent_suggestions(recent: &[String]) -> Vec<Suggestion> {
    recent
        .iter()
        .take(MAX_SUGGESTIONS)
        .map(|query| Suggestion { replace: 0..0, insert: query.clone(), label: query.clone(), detail: Some("recent".into()), whole_query: true })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<String> {
        ["browser", "browser_version", "os", "error_type", "user_id", "view_path", "sdk_name"].iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn the_word_at_the_cursor_is_a_key_or_a_value() {
        assert_eq!(word_at("bro", 3), Some(Word::Key { typed: "bro", range: 0..3 }));
        assert_eq!(word_at("os:Linux -bro", 13), Some(Word::Key { typed: "bro", range: 10..13 }));
        assert_eq!(word_at("browser:Chr os:Linux", 11), Some(Word::Value { key: "browser", typed: "Chr", range: 0..11 }));
        assert_eq!(word_at("(os:Linux OR browser:Saf)", 24), Some(Word::Value { key: "browser", typed: "Saf", range: 13..24 }));
        // Between words, in quotes, at operators and comparisons: nothing.
        assert_eq!(word_at("os:Linux ", 9), None);
        assert_eq!(word_at("error_message:\"Cannot rea", 25), None);
        assert_eq!(word_at("os:Linux OR", 11), None);
        assert_eq!(word_at("error_count:>5", 14), None);
        // In the key of a term that has its value: editing the key, nothing to add.
        assert_eq!(word_at("browser:Chr", 4), None);
    }

    #[test]
    fn keys_that_begin_with_the_word_come_first() {
        let found = key_suggestions("o", 0..1, &keys());
        let labels: Vec<&str> = found.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["os:", "browser:", "browser_version:", "error_type:"]);
        assert_eq!(found[0].apply("o"), ("os:".to_string(), 3));
        let (text, cursor) = key_suggestions("bro", 9..12, &keys())[0].apply("os:Linux bro");
        assert_eq!((text.as_str(), cursor), ("os:Linux browser:", 17));
        assert!(key_suggestions("", 0..0, &keys()).is_empty());
        assert!(key_suggestions("zzz", 0..3, &keys()).is_empty());
    }

    #[test]
    fn values_are_written_as_terms_the_filter_reads() {
        let values = vec![("Chrome".to_string(), 155), ("Samsung Internet".to_string(), 9), ("Chromium".to_string(), 2)];
        let found = value_suggestions("browser", "s", 0..9, &values);
        assert_eq!(found.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["Samsung Internet"]);
        let (text, cursor) = found[0].apply("browser:s os:Linux");
        assert_eq!(text, "browser:\"Samsung Internet\" os:Linux");
        assert_eq!(cursor, "browser:\"Samsung Internet\" ".chars().count());
        assert!(crate::query::parse(&text).is_ok());
        // Nothing typed yet: the most common first.
        let all = value_suggestions("browser", "", 0..8, &values);
        assert_eq!(all.first().map(|s| (s.label.as_str(), s.detail.as_deref())), Some(("Chrome", Some("155 sessions"))));
        let chrom = value_suggestions("browser", "chrom", 0..13, &values);
        assert_eq!(chrom.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["Chrome", "Chromium"]);
        // Typed in full: not offered again.
        let values = vec![("Chrome".to_string(), 155), ("Chrome Mobile".to_string(), 3)];
        assert_eq!(value_suggestions("browser", "Chrome", 0..14, &values).iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["Chrome Mobile"]);
    }
}
