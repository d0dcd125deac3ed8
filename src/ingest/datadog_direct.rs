//! The import's hot path for Datadog RUM NDJSON: one record's text straight to a prepared row,
//! without an [`Event`](crate::model::Event) on the way. Flattened keys are found in a tree of
//! the known keys as they are read (not looked up whole once per value, then again per field),
//! and strings stay borrowed from the text until they are stored.
//!
//! Gives the row `datadog::fast_convert` followed by `writer::prepare` gives, or None: then the
//! record takes that path, which handles every odd case (a key twice, keys with dots, a value
//! that should be a number, no session, the API shapes) and words the messages.

use super::datadog::{event_time_ms, renames_on, KEY_MAP};
use super::json_token::{self, Number};
use crate::model::{key_info, KeyInfo, ValueRef};
use crate::store::writer::{kind_name, prepare_fields_with, recycle_vec, DirectField, FieldScratch, PreparedEvent};
use rustc_hash::{FxHashMap, FxHashSet};
use std::borrow::Cow;
use std::cell::Cell;
use std::sync::OnceLock;

/// The dotted keys of [`KEY_MAP`] as a tree: a node per key prefix; node 0 is the top level.
/// Each parser thread keeps its own copy, which also learns the keys no entry names as they
/// are met (up to [`MAX_KEY_NODES`]): records of one SDK repeat them, and a key the tree has is
/// predicted and taken without hashing it or joining its dotted key again.
#[derive(Clone)]
struct KeyTree {
    nodes: Vec<KeyNode>,
    /// Per entry of [`KEY_MAP`]: what its renamed key is, and what its dotted key is.
    infos: Vec<(KeyInfo, KeyInfo)>,
    /// Names a kept key without a dot must not have: the general path then decides which of
    /// two fields of one name wins.
    reserved: FxHashSet<&'static str>,
}

#[derive(Clone, Default)]
struct KeyNode {
    /// Its key, the last part of its dotted key (empty for the top level).
    name: Box<str>,
    children: FxHashMap<Box<str>, usize>,
    entry: Option<usize>,
    /// Its dotted key, what that key is, and whether a kept key may not have that name (see
    /// `KeyTree::reserved`): for a value under a node without an entry.
    dotted: Box<str>,
    info: KeyInfo,
    reserved: bool,
}

/// Nodes a thread's tree grows to at most: past it, keys it does not have are read as before
/// learning (a file whose keys carry ids would otherwise grow it without end).
const MAX_KEY_NODES: usize = 4096;

/// No key predicted (see `Reader::key_hints`).
const NO_HINT: u32 = u32::MAX;

fn key_tree() -> &'static KeyTree {
    static TREE: OnceLock<KeyTree> = OnceLock::new();
    TREE.get_or_init(|| {
        let infos = KEY_MAP.iter().map(|(dotted, canonical, _)| (key_info(canonical), key_info(dotted))).collect();
        let reserved = KEY_MAP.iter().map(|(_, canonical, _)| *canonical).chain(["session_id", "view_path"]).collect();
        let mut tree = KeyTree { nodes: vec![KeyNode::default()], infos, reserved };
        for (entry, (dotted, _, _)) in KEY_MAP.iter().enumerate() {
            let mut node = 0;
            for part in dotted.split('.') {
                // Predicted keys are compared byte for byte with the record's text up to a
                // quote, which needs a key that JSON writes as it is.
                debug_assert!(!part.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20), "{part}");
                node = tree.child_or_new(node, part);
            }
            tree.nodes[node].entry = Some(entry);
        }
        tree
    })
}

impl KeyTree {
    /// The child of `parent` named `key`, added if it has none.
    fn child_or_new(&mut self, parent: usize, key: &str) -> usize {
        if let Some(&child) = self.nodes[parent].children.get(key) {
            return child;
        }
        let dotted: Box<str> = if parent == 0 { key.into() } else { format!("{}.{key}", self.nodes[parent].dotted).into() };
        let node = KeyNode {
            name: key.into(),
            info: key_info(&dotted),
            reserved: self.reserved.contains(&*dotted),
            dotted,
            ..KeyNode::default()
        };
        self.nodes.push(node);
        let child = self.nodes.len() - 1;
        self.nodes[parent].children.insert(key.into(), child);
        child
    }
}

/// A value as read: text borrowed from the record where it has no escapes.
enum Leaf<'de> {
    Str(Cow<'de, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Leaf<'_> {
    fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            Leaf::Str(text) => ValueRef::Str(text),
            Leaf::Int(v) => ValueRef::Int(*v),
            Leaf::Float(v) => ValueRef::Float(*v),
            Leaf::Bool(v) => ValueRef::Bool(*v),
        }
    }
}

/// A flattened key: a [`KEY_MAP`] entry, a tree node without one (its dotted key), or a
/// dotted key kept as a range of `Reader::paths`.
#[derive(Clone, Copy)]
enum LeafKey {
    Entry(usize),
    Node(usize),
    Path(usize, usize),
}

struct Reader<'a> {
    /// This thread's tree, which grows as it meets new keys (see [`KeyTree`]).
    tree: KeyTree,
    text: &'a str,
    /// Where in `text` reading is.
    at: usize,
    leaves: Vec<(LeafKey, Leaf<'a>)>,
    /// The keys from the top level down to the value being read: its dotted key, in parts.
    /// Joined only for a leaf no entry names (most leaves have one).
    path: Vec<&'a str>,
    /// The dotted keys of the leaves no entry names, one after another.
    paths: String,
    /// The keys no tree node names of the objects being read (a stack: each level appends,
    /// then truncates), to find a key twice.
    level_keys: Vec<&'a str>,
    /// Per tree node, the object in which its key was last read (`objects_read`): a key
    /// the tree names is found twice in one object without comparing text.
    node_seen_in: Vec<u32>,
    objects_read: u32,
    /// The key read last time in the same place, as a tree node (or [`NO_HINT`]): at
    /// `2 * node` the first key of node's object, at `2 * node + 1` the key after node's.
    /// Records of one SDK write their keys in one order, so the predicted key is compared with
    /// the text first, which saves finding the string's end and looking the key up.
    key_hints: Vec<u32>,
    kind: Option<Cow<'a, str>>,
    date: Option<Leaf<'a>>,
    /// Per tree node of a top-level key, the objects last read as its value (see
    /// [`ObjectCache`]).
    object_cache: Vec<ObjectCache>,
}

/// The objects last read as one top-level key's value, with the leaves each gave. Records repeat
/// their context (`usr`, `browser`, `os`, `geo`, `session`, the view of an action...) from one
/// to the next: the same text gives the same leaves, so a value whose text is one of these is
/// taken by one comparison of bytes instead of read key by key.
#[derive(Default)]
struct ObjectCache {
    entries: Vec<CachedObject>,
    /// The entry a new object replaces next.
    next: usize,
    /// Tries and hits in the current round of [`OBJECT_CACHE_ROUND`] tries.
    tries: u32,
    hits: u32,
    /// Values still to read without trying: a key whose objects seldom repeat (a resource's
    /// timings) is not compared and copied for nothing.
    resting: u32,
}

/// An object read as a top-level key's value: its text, and its leaves with their texts as
/// ranges of it.
#[derive(Default)]
struct CachedObject {
    text: Vec<u8>,
    leaves: Vec<(LeafKey, CachedLeaf)>,
    owned: Vec<String>,
    /// Times it was found again (for the tests).
    hits: u64,
}

#[derive(Clone, Copy)]
enum CachedLeaf {
    /// A range of the object's text.
    Str(usize, usize),
    /// A text that is not in the object's text as it is (a string with escapes, an array's
    /// JSON, an empty object's `{}`): the entry's `owned` text at this index.
    Owned(usize),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Objects kept per top-level key: a record's context alternates between a few (the view of an
/// action and of a resource, two sessions in an export in time order).
const OBJECTS_CACHED_PER_KEY: usize = 4;
/// Tries per round of a key's cache, and the hits a round needs for the next to be tried; a
/// round with fewer is followed by [`OBJECT_CACHE_REST`] values read without trying.
const OBJECT_CACHE_ROUND: u32 = 64;
const OBJECT_CACHE_ROUND_HITS: u32 = 8;
const OBJECT_CACHE_REST: u32 = 1024;

// The reading below is strict JSON (RFC 8259), as serde_json's: whatever it does not take
// ends the direct path with None, and serde_json then reads the record and words the problem.
// It reads strings and numbers itself, and hands the rare hard parts (escapes, fractions,
// arrays) to serde_json, so values come out exactly as the general path has them.
impl<'a> Reader<'a> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        // Exports are written without whitespace between tokens: one test for the usual case.
        if self.byte().is_some_and(|b| b > b' ') {
            return;
        }
        while matches!(self.byte(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    /// Takes `expected`, after any whitespace.
    fn take(&mut self, expected: u8) -> Option<()> {
        self.skip_whitespace();
        (self.byte()? == expected).then(|| self.at += 1)
    }

    /// Where the string starting at `self.at` (after its quote) ends, and whether it has escapes;
    /// None on a control character or no end.
    #[inline]
    fn string_end(&self) -> Option<(usize, bool)> {
        json_token::string_end(self.text.as_bytes(), self.at)
    }

    /// A string value, after its opening quote: borrowed unless it has escapes.
    #[inline]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let (value, next) = json_token::string(self.text, self.at)?;
        self.at = next;
        Some(value)
    }

    /// A number, as serde_json gives it: an integer when it has neither fraction nor exponent
    /// and fits, else a float.
    #[inline]
    fn number(&mut self) -> Option<Leaf<'a>> {
        let (number, next) = json_token::number(self.text, self.at)?;
        self.at = next;
        Some(match number {
            Number::Int(value) => Leaf::Int(value),
            Number::Float(value) => Leaf::Float(value),
        })
    }

    /// Skips a value, here only the inside of an array: its text is handed to serde_json whole,
    /// which checks it.
    fn skip_array(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let mut depth = 0usize;
        loop {
            match *bytes.get(self.at)? {
                b'[' | b'{' => depth += 1,
                b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        self.at += 1;
                        return Some(());
                    }
                }
                b'"' => {
                    self.at += 1;
                    self.at = self.string_end()?.0;
                }
                _ => {}
            }
            self.at += 1;
        }
    }

    /// Whether the string at `self.at` (after its quote) is `key`: the key's bytes, then the
    /// closing quote (a tree key has neither quotes nor backslashes, see `key_tree`).
    fn key_is_next(&self, key: &str) -> bool {
        let bytes = self.text.as_bytes();
        bytes.get(self.at + key.len()) == Some(&b'"')
            && bytes.get(self.at..self.at + key.len()).is_some_and(|text| same_short_bytes(text, key.as_bytes()))
    }

    /// Adds `key` under `parent` to the tree, with room for it in the lists kept per node;
    /// None for a key with a dot (the general path words those) or when the tree is full.
    fn learn(&mut self, parent: usize, key: &str) -> Option<usize> {
        if self.tree.nodes.len() >= MAX_KEY_NODES || memchr::memchr(b'.', key.as_bytes()).is_some() {
            return None;
        }
        let child = self.tree.child_or_new(parent, key);
        self.node_seen_in.resize(self.tree.nodes.len(), 0);
        self.key_hints.resize(2 * self.tree.nodes.len(), NO_HINT);
        Some(child)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.text.get(self.at..)?.starts_with(word).then(|| self.at += word.len())
    }

    fn push(&mut self, node: Option<usize>, leaf: Leaf<'a>) {
        let key = match node.map(|node| (node, self.tree.nodes[node].entry)) {
            Some((_, Some(entry))) => LeafKey::Entry(entry),
            Some((node, None)) => LeafKey::Node(node),
            None => {
                let start = self.paths.len();
                for (i, part) in self.path.iter().enumerate() {
                    if i > 0 {
                        self.paths.push('.');
                    }
                    self.paths.push_str(part);
                }
                LeafKey::Path(start, self.paths.len())
            }
        };
        self.leaves.push((key, leaf));
    }

    /// Reads one value under the current path: leaves are kept, objects flattened, arrays kept
    /// whole as the JSON text the general path prints; null is dropped, as there.
    fn value(&mut self, node: Option<usize>) -> Option<()> {
        self.skip_whitespace();
        let leaf = match self.byte()? {
            b'"' => {
                self.at += 1;
                Leaf::Str(self.string()?)
            }
            b'{' => {
                self.at += 1;
                if self.object(node, false)? > 0 {
                    return Some(());
                }
                Leaf::Str(Cow::Borrowed("{}"))
            }
            b'[' => {
                let start = self.at;
                self.skip_array()?;
                let items: serde_json::Value = serde_json::from_str(self.text.get(start..self.at)?).ok()?;
                Leaf::Str(Cow::Owned(items.to_string()))
            }
            b't' => {
                self.literal("true")?;
                Leaf::Bool(true)
            }
            b'f' => {
                self.literal("false")?;
                Leaf::Bool(false)
            }
            b'n' => return self.literal("null"),
            _ => self.number()?,
        };
        self.push(node, leaf);
        Some(())
    }

    /// Reads the value of the top-level key `node`: an object whose text is one of those its
    /// cache holds gives that object's leaves again; another is read and kept in the cache.
    fn top_level_value(&mut self, node: usize) -> Option<()> {
        self.skip_whitespace();
        if self.byte()? != b'{' {
            return self.value(Some(node));
        }
        if self.object_cache.len() <= node {
            self.object_cache.resize_with(node + 1, ObjectCache::default);
        }
        let start = self.at;
        let text: &'a str = self.text;
        let cache = &mut self.object_cache[node];
        if cache.resting > 0 {
            cache.resting -= 1;
            return self.value(Some(node));
        }
        let rest = text.as_bytes().get(start..)?;
        let hit = cache.entries.iter().position(|entry| rest.starts_with(&entry.text));
        cache.tries += 1;
        if hit.is_some() {
            cache.hits += 1;
        }
        if cache.tries == OBJECT_CACHE_ROUND {
            if cache.hits < OBJECT_CACHE_ROUND_HITS {
                cache.resting = OBJECT_CACHE_REST;
            }
            cache.tries = 0;
            cache.hits = 0;
        }
        if let Some(hit) = hit {
            let entry = &mut cache.entries[hit];
            entry.hits += 1;
            for &(key, leaf) in &entry.leaves {
                let leaf = match leaf {
                    CachedLeaf::Str(from, to) => Leaf::Str(Cow::Borrowed(text.get(start + from..start + to)?)),
                    CachedLeaf::Owned(index) => Leaf::Str(Cow::Owned(entry.owned.get(index)?.clone())),
                    CachedLeaf::Int(v) => Leaf::Int(v),
                    CachedLeaf::Float(v) => Leaf::Float(v),
                    CachedLeaf::Bool(v) => Leaf::Bool(v),
                };
                self.leaves.push((key, leaf));
            }
            self.at = start + entry.text.len();
            return Some(());
        }
        let first_leaf = self.leaves.len();
        self.value(Some(node))?;
        let object = text.as_bytes().get(start..self.at)?;
        // A key joined into `paths` is this record's (the tree was full): not kept.
        if self.leaves[first_leaf..].iter().any(|(key, _)| matches!(key, LeafKey::Path(..))) {
            return Some(());
        }
        let cache = &mut self.object_cache[node];
        if cache.entries.len() < OBJECTS_CACHED_PER_KEY {
            cache.entries.push(CachedObject::default());
            cache.next = cache.entries.len() - 1;
        }
        let slot = cache.next;
        cache.next = (cache.next + 1) % OBJECTS_CACHED_PER_KEY;
        let entry = &mut cache.entries[slot];
        entry.text.clear();
        entry.leaves.clear();
        entry.owned.clear();
        let object_at = text.as_ptr() as usize + start;
        for (key, leaf) in &self.leaves[first_leaf..] {
            let leaf = match leaf {
                Leaf::Str(Cow::Borrowed(value)) => {
                    let from = (value.as_ptr() as usize).wrapping_sub(object_at);
                    if from.checked_add(value.len()).is_some_and(|to| to <= object.len()) {
                        CachedLeaf::Str(from, from + value.len())
                    } else {
                        entry.owned.push(value.to_string());
                        CachedLeaf::Owned(entry.owned.len() - 1)
                    }
                }
                Leaf::Str(Cow::Owned(value)) => {
                    entry.owned.push(value.clone());
                    CachedLeaf::Owned(entry.owned.len() - 1)
                }
                Leaf::Int(v) => CachedLeaf::Int(*v),
                Leaf::Float(v) => CachedLeaf::Float(*v),
                Leaf::Bool(v) => CachedLeaf::Bool(*v),
            };
            entry.leaves.push((*key, leaf));
        }
        entry.text.extend_from_slice(object);
        Some(())
    }

    /// Reads an object's entries, after its `{`, under the current path; returns how many it
    /// had (the top level's `type` and `date` not counted).
    fn object(&mut self, node: Option<usize>, top_level: bool) -> Option<usize> {
        self.skip_whitespace();
        if self.byte()? == b'}' {
            self.at += 1;
            return Some(0);
        }
        let keys_base = self.level_keys.len();
        self.objects_read = self.objects_read.wrapping_add(1);
        let this_object = self.objects_read;
        let mut count = 0;
        // The tree node of the last key read in this object that the tree names.
        let mut previous = None;
        loop {
            self.take(b'"')?;
            let hint_slot = match previous {
                Some(previous) => Some(2 * previous + 1),
                None => node.map(|node| 2 * node),
            };
            let text: &'a str = self.text;
            let predicted = hint_slot.and_then(|slot| self.key_hints.get(slot)).filter(|&&hint| hint != NO_HINT);
            let (key, mut child) = match predicted.map(|&hint| hint as usize).filter(|&hint| self.key_is_next(&self.tree.nodes[hint].name)) {
                Some(hint) => {
                    let end = self.at + self.tree.nodes[hint].name.len();
                    let key = text.get(self.at..end)?;
                    self.at = end + 1;
                    (key, Some(hint))
                }
                None => {
                    let (end, escaped) = self.string_end()?;
                    let key = text.get(self.at..end)?;
                    // A key with escapes or a dot: the general path words those. (A key the
                    // tree names has no dot: only the others are searched for one, below.)
                    if escaped {
                        return None;
                    }
                    self.at = end + 1;
                    (key, None)
                }
            };
            self.take(b':')?;
            let mut special = false;
            if top_level {
                match key {
                    "type" if self.kind.is_none() => {
                        self.take(b'"')?;
                        self.kind = Some(self.string()?);
                        special = true;
                    }
                    "date" if self.date.is_none() => {
                        self.skip_whitespace();
                        self.date = Some(match self.byte()? {
                            b'"' => {
                                self.at += 1;
                                Leaf::Str(self.string()?)
                            }
                            _ => self.number()?,
                        });
                        special = true;
                    }
                    // Twice, or maybe an API response or element.
                    "type" | "date" | "data" | "attributes" => return None,
                    _ => {}
                }
            }
            if !special {
                count += 1;
                if child.is_none() {
                    child = node.and_then(|node| self.tree.nodes[node].children.get(key).copied());
                    if child.is_none() {
                        child = node.and_then(|node| self.learn(node, key));
                    }
                    if let (Some(slot), Some(found)) = (hint_slot, child) {
                        if let Some(hint) = self.key_hints.get_mut(slot) {
                            *hint = found as u32;
                        }
                    }
                }
                // Past a key the tree does not name (when it is full), the next is predicted
                // from the last it names.
                if child.is_some() {
                    previous = child;
                }
                if child.is_none() && memchr::memchr(b'.', key.as_bytes()).is_some() {
                    return None;
                }
                match child {
                    Some(child) => {
                        let seen_in = self.node_seen_in.get_mut(child)?;
                        if *seen_in == this_object {
                            return None; // a key twice: the general path keeps the last copy only
                        }
                        *seen_in = this_object;
                    }
                    None => self.level_keys.push(key),
                }
                self.path.push(key);
                match child {
                    Some(child) if top_level => self.top_level_value(child)?,
                    _ => self.value(child)?,
                }
                self.path.pop();
            }
            self.skip_whitespace();
            match self.byte()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    break;
                }
                _ => return None,
            }
        }
        // A key twice in one object: the general path keeps the last copy only. (Keys the tree
        // names were checked as they came.)
        let keys = &mut self.level_keys[keys_base..];
        if !keys.windows(2).all(|pair| pair[0] < pair[1]) {
            keys.sort_unstable();
            if keys.windows(2).any(|pair| pair[0] == pair[1]) {
                return None;
            }
        }
        self.level_keys.truncate(keys_base);
        Some(count)
    }
}

/// `a == b` for slices of one length, without a call to `memcmp`: keys are a few bytes, and
/// the call cost more than the comparison (callgrind).
fn same_short_bytes(a: &[u8], b: &[u8]) -> bool {
    let mut a_words = a.chunks_exact(8);
    let mut b_words = b.chunks_exact(8);
    for (a_word, b_word) in a_words.by_ref().zip(b_words.by_ref()) {
        let (Ok(a_word), Ok(b_word)) = (<[u8; 8]>::try_from(a_word), <[u8; 8]>::try_from(b_word)) else { return false };
        if u64::from_ne_bytes(a_word) != u64::from_ne_bytes(b_word) {
            return false;
        }
    }
    a.len() == b.len() && a_words.remainder().iter().zip(b_words.remainder()).all(|(a, b)| a == b)
}

/// The event time from `date`, as the general path reads it.
fn date_ms(date: &Leaf<'_>) -> Option<i64> {
    let value = match date {
        Leaf::Int(v) => serde_json::Value::from(*v),
        Leaf::Float(v) => serde_json::Value::from(*v),
        Leaf::Str(text) => serde_json::Value::String(text.to_string()),
        Leaf::Bool(_) => return None,
    };
    event_time_ms(&value).ok()
}

/// The reader's lists, kept by each parser thread from one record to the next: their room is
/// allocated once, not per record.
#[derive(Default)]
struct Scratch {
    /// This thread's copy of the key tree, made on its first record.
    tree: Option<KeyTree>,
    leaves: Vec<(LeafKey, Leaf<'static>)>,
    path: Vec<&'static str>,
    paths: String,
    level_keys: Vec<&'static str>,
    node_seen_in: Vec<u32>,
    objects_read: u32,
    key_hints: Vec<u32>,
    object_cache: Vec<ObjectCache>,
    fields: Vec<DirectField<'static>>,
    prepare: FieldScratch,
}

thread_local! {
    static SCRATCH: Cell<Scratch> = Cell::new(Scratch::default());
}

/// One record's text to its prepared row; None when it needs the general path.
pub fn prepare_record(bytes: &[u8]) -> Option<PreparedEvent> {
    SCRATCH.with(|cell| {
        let mut scratch = cell.take();
        let row = prepare_record_with(bytes, &mut scratch);
        cell.set(scratch);
        row
    })
}

fn prepare_record_with(bytes: &[u8], scratch: &mut Scratch) -> Option<PreparedEvent> {
    // SIMD: the standard library's check was 1.5% of an import's instructions.
    let text = simdutf8::basic::from_utf8(bytes).ok()?;
    let mut reader = Reader {
        tree: scratch.tree.take().unwrap_or_else(|| key_tree().clone()),
        text,
        at: 0,
        leaves: recycle_vec(std::mem::take(&mut scratch.leaves)),
        path: recycle_vec(std::mem::take(&mut scratch.path)),
        paths: std::mem::take(&mut scratch.paths),
        level_keys: recycle_vec(std::mem::take(&mut scratch.level_keys)),
        node_seen_in: std::mem::take(&mut scratch.node_seen_in),
        objects_read: scratch.objects_read,
        key_hints: std::mem::take(&mut scratch.key_hints),
        kind: None,
        date: None,
        object_cache: std::mem::take(&mut scratch.object_cache),
    };
    reader.paths.clear();
    // Zeroed before the count could pass u32::MAX in this record (an object takes two bytes at
    // least), so no old mark meets a new object's number.
    let room = u64::from(u32::MAX - reader.objects_read);
    if reader.node_seen_in.len() != reader.tree.nodes.len() || room <= text.len() as u64 {
        reader.node_seen_in.clear();
        reader.node_seen_in.resize(reader.tree.nodes.len(), 0);
        reader.objects_read = 0;
    }
    if reader.key_hints.len() != 2 * reader.tree.nodes.len() {
        reader.key_hints.clear();
        reader.key_hints.resize(2 * reader.tree.nodes.len(), NO_HINT);
    }
    let mut fields = recycle_vec(std::mem::take(&mut scratch.fields));
    let row = read_row(&mut reader, &mut fields, &mut scratch.prepare);
    scratch.fields = recycle_vec(fields);
    scratch.leaves = recycle_vec(reader.leaves);
    scratch.level_keys = recycle_vec(reader.level_keys);
    scratch.path = recycle_vec(reader.path);
    scratch.paths = reader.paths;
    scratch.node_seen_in = reader.node_seen_in;
    scratch.objects_read = reader.objects_read;
    scratch.key_hints = reader.key_hints;
    scratch.object_cache = reader.object_cache;
    scratch.tree = Some(reader.tree);
    row
}

fn read_row<'r>(reader: &'r mut Reader<'_>, fields: &mut Vec<DirectField<'r>>, prepare: &mut FieldScratch) -> Option<PreparedEvent> {
    reader.take(b'{')?;
    let read = reader.object(Some(0), true)?;
    reader.skip_whitespace();
    if reader.at != reader.text.len() || read == 0 {
        return None; // more after the object; or no keys but `type` and `date`, kept as `{}` there
    }
    let kind = match reader.kind.take()? {
        Cow::Borrowed("view_update") => Cow::Borrowed("view"),
        kind if !kind.is_empty() && kind != "view_update" => kind_name(&kind),
        _ => return None,
    };
    let time_ms = date_ms(reader.date.as_ref()?)?;
    let reader: &'r Reader<'_> = reader;
    let tree = &reader.tree;
    for (key, leaf) in &reader.leaves {
        let (key, info) = match *key {
            LeafKey::Entry(entry) if renames_on(entry, &kind) => (KEY_MAP[entry].1, tree.infos[entry].0),
            LeafKey::Entry(entry) => (KEY_MAP[entry].0, tree.infos[entry].1),
            LeafKey::Node(node) => {
                let node = &tree.nodes[node];
                if node.reserved {
                    return None;
                }
                (&*node.dotted, node.info)
            }
            LeafKey::Path(start, end) => {
                let key = &reader.paths[start..end];
                if tree.reserved.contains(key) {
                    return None;
                }
                (key, key_info(key))
            }
        };
        fields.push(DirectField { key, value: leaf.as_value_ref(), info });
    }
    prepare_fields_with(kind, time_ms, fields, prepare)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::datadog::{convert, fast_convert};
    use crate::store::writer::prepare;

    /// The general path's row for a record.
    fn general_row(text: &str) -> Option<PreparedEvent> {
        let event = match fast_convert(text.as_bytes()) {
            Some(event) => event,
            None => convert(serde_json::from_str(text).ok()?).ok()?,
        };
        prepare(event).ok()
    }

    /// Whether the direct path took the record; when it did, its row is the general path's.
    fn took_the_same_row(text: &str) -> bool {
        let Some(direct) = prepare_record(text.as_bytes()) else { return false };
        let general = general_row(text).unwrap_or_else(|| panic!("the general path skips what the direct one took: {text}"));
        assert!(direct.same_row_as(&general), "{text}\ndirect:  {direct:?}\ngeneral: {general:?}");
        true
    }

    #[test]
    fn generated_events_take_the_direct_path_with_the_same_rows() {
        let mut rng = crate::generate::Rng::new(11);
        let mut checked = 0;
        for _ in 0..30 {
            for event in crate::generate::session_events(&mut rng) {
                let version = (event.kind == "view").then_some(5);
                let text = crate::generate::to_datadog_json(&event, version).to_string();
                assert!(took_the_same_row(&text), "not taken: {text}");
                checked += 1;
            }
        }
        assert!(checked > 300, "{checked}");
    }

    const SESSION: &str = r#""session":{"id":"s1","type":"user"}"#;

    #[test]
    fn odd_but_common_shapes_take_the_direct_path_with_the_same_rows() {
        let records = [
            // Keys out of order at every level, as real exports have them.
            format!(r#"{{"view":{{"url":"https://a.example/p?q=1","id":"v1","loading_time":5}},"type":"view","date":1700000000000,{SESSION},"usr":{{"name":"N","id":"u"}}}}"#),
            // Escapes in values, arrays, an empty object, null, a float, a big number, a bool.
            format!(r#"{{"type":"error","date":1700000000001,{SESSION},"error":{{"message":"a \"quoted\" \u00e9 \\ line\n","causes":[{{"m":1.50}},null,"x"],"source":"console"}},"context":{{"empty":{{}},"gone":null,"ratio":0.1,"huge":18446744073709551615,"flag":true,"list":[]}}}}"#),
            // No id: the identity is the content; kind-limited renames on another kind stay dotted.
            format!(r#"{{"type":"resource","date":1700000000002,{SESSION},"resource":{{"url":"https://a.example/api","duration":12,"status_code":"200"}},"action":{{"loading_time":7}},"view":{{"url":"https://a.example"}}}}"#),
            // A partial update, the document version, a number as text in a number column.
            format!(r#"{{"type":"view_update","date":"2024-01-02T03:04:05.678Z",{SESSION},"_dd":{{"document_version":3}},"view":{{"id":"v1","time_spent":"900","url":"/relative/path#x"}}}}"#),
            // A kind the explorer has no column set for; seconds for the date.
            format!(r#"{{"type":"vital","date":1700000000,{SESSION},"vital":{{"name":"x","value":2.5}},"display":{{"viewport":{{"width":3}}}}}}"#),
            // One name in several objects, known and unknown: not a key twice.
            format!(r#"{{"type":"action","date":1700000000007,{SESSION},"action":{{"id":"a","target":{{"name":"n"}}}},"view":{{"id":"v","name":"n"}},"context":{{"a":{{"k":1,"id":2}},"b":{{"k":2,"id":3}},"k":{{"k":4}}}}}}"#),
            // An event whose only other key is a session one.
            format!(r#"{{"type":"action","date":1700000000003,{SESSION}}}"#),
            // A number where text is kept, and a text column given a number.
            format!(r#"{{"type":"action","date":1700000000004,{SESSION},"action":{{"id":7,"target":{{"name":12.5}},"type":"click"}}}}"#),
        ];
        for text in &records {
            assert!(took_the_same_row(text), "not taken: {text}");
        }
    }

    /// Hits of this thread's object caches so far (see [`ObjectCache`]).
    fn object_cache_hits() -> u64 {
        SCRATCH.with(|cell| {
            let scratch = cell.take();
            let hits = scratch.object_cache.iter().flat_map(|cache| &cache.entries).map(|entry| entry.hits).sum();
            cell.set(scratch);
            hits
        })
    }

    /// A top-level object whose text was read before gives the leaves it gave then
    /// ([`ObjectCache`]): each record below, read twice in a row, gives the general path's row,
    /// whether its objects are found again or only start like one that was.
    #[test]
    fn objects_read_again_give_the_rows_the_general_path_gives() {
        let view = r#""view":{"id":"v1","url":"https://a.example/p","loading_time":5}"#;
        let usr = r#""usr":{"id":"u1","name":"A \"q\" \u00e9"}"#;
        let context = r#""connectivity":{"interfaces":["wifi","cellular"],"status":"connected"},"context":{"empty":{},"ratio":1.5,"flag":true,"gone":null}"#;
        let records = [
            format!(r#"{{"type":"action","date":1700000000001,{SESSION},{usr},{view},{context}}}"#),
            // The same objects; the view's keys renamed as a view's own.
            format!(r#"{{"type":"view","date":1700000000002,{SESSION},{usr},{view},{context}}}"#),
            // Objects that start as the ones read: one more key, and a longer value.
            format!(
                r#"{{"type":"action","date":1700000000003,{SESSION},"usr":{{"id":"u1","name":"A \"q\" \u00e9","email":"e"}},"view":{{"id":"v1","url":"https://a.example/p","loading_time":55}}}}"#
            ),
            // The same text under another key, and fewer keys than the one read.
            format!(r#"{{"type":"action","date":1700000000004,{SESSION},"usr":{{"id":"u1"}},"account":{{"id":"u1","name":"A \"q\" \u00e9"}}}}"#),
            // Another session, with the same user.
            format!(r#"{{"type":"error","date":1700000000005,"session":{{"id":"s2","type":"user"}},{usr},"error":{{"message":"m"}}}}"#),
        ];
        let hits_before = object_cache_hits();
        for text in &records {
            for _ in 0..2 {
                assert!(took_the_same_row(text), "not taken: {text}");
            }
        }
        // A key twice in an object is left to the general path, found again or not.
        let twice = format!(r#"{{"type":"action","date":1700000000006,{SESSION},"usr":{{"id":"u1","id":"u2"}}}}"#);
        assert!(!took_the_same_row(&twice) && !took_the_same_row(&twice));
        // Found again: the first record's five objects in its second reading; the second's
        // five in both; the session in both readings of the next two, and their other objects
        // (two each) in the second; in the fifth, the user in both and the session and the
        // error in the second; the session in both readings of the last.
        let hits = object_cache_hits() - hits_before;
        assert_eq!(hits, 5 + 10 + 4 + 4 + 4 + 2);
    }

    /// The key read last time in the same place is tried first (`Reader::key_hints`): a
    /// record whose keys differ from the prediction in any way is still read as it is written.
    #[test]
    fn keys_unlike_the_predicted_ones_are_read_as_written() {
        let warm = format!(r#"{{"type":"view","date":1,{SESSION},"view":{{"id":"v","url":"https://a.example/p","loading_time":5}},"usr":{{"id":"u"}}}}"#);
        let taken = [
            // The predicted key as the start of a longer one, known and unknown.
            format!(r#"{{"type":"view","date":1,{SESSION},"view":{{"id":"v","url_hash":"x","url":"https://a.example/q","loading_time_x":2}}}}"#),
            // Another order, keys left out, an unknown key between known ones.
            format!(r#"{{"type":"view","date":1,{SESSION},"usr":{{"id":"u"}},"view":{{"loading_time":7,"mine":1,"id":"v"}}}}"#),
            // A shorter key than the predicted one, and whitespace before a key.
            format!(r#"{{"type":"view","date":1,{SESSION},"view":{{ "i":"v", "id":"w"}}}}"#),
        ];
        let left = [
            // The predicted key, twice; and spelled with an escape.
            format!(r#"{{"type":"view","date":1,{SESSION},"view":{{"id":"v","url":"u","url":"w"}}}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"view":{{"id":"v","\u0075rl":"u"}}}}"#),
        ];
        for text in taken.iter().chain(&left) {
            assert!(took_the_same_row(&warm), "not taken: {warm}");
            assert!(took_the_same_row(&warm), "not taken the second time: {warm}");
            if left.contains(text) {
                assert!(prepare_record(text.as_bytes()).is_none(), "taken: {text}");
            } else {
                assert!(took_the_same_row(text), "not taken: {text}");
                assert!(took_the_same_row(text), "not taken the second time: {text}");
            }
        }
    }

    #[test]
    fn what_the_general_path_decides_is_left_to_it() {
        let records = [
            // A key twice in one object (the tree keeps the last), at the top and below.
            format!(r#"{{"type":"view","date":1,{SESSION},"env":"a","env":"b"}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"view":{{"id":"a"}},"view":{{"url":"b"}}}}"#),
            // Twice further down, apart: a key the tree names, and one it does not.
            format!(r#"{{"type":"view","date":1,{SESSION},"view":{{"id":"a","url":"u","loading_time":1,"id":"b"}}}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"context":{{"x":1,"y":{{"x":2}},"x":3}}}}"#),
            // A kept key with a renamed key's name; a dotted key; an escaped key.
            format!(r#"{{"type":"view","date":1,{SESSION},"userid":"x","usr":{{"id":"y"}}}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"view.id":"x"}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"k\u0065y":"x"}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"view_path":"/mine"}}"#),
            // Text where a number belongs (kept with a warning), no session, bad kind or date.
            format!(r#"{{"type":"view","date":1,{SESSION},"view":{{"loading_time":"slow"}}}}"#),
            r#"{"type":"view","date":1,"view":{"id":"v"}}"#.to_string(),
            format!(r#"{{"type":3,"date":1,{SESSION}}}"#),
            format!(r#"{{"type":"","date":1,{SESSION}}}"#),
            format!(r#"{{"type":"view","date":"soon",{SESSION}}}"#),
            format!(r#"{{"type":"view",{SESSION}}}"#),
            // The API shapes, arrays, an event with no other keys, broken JSON.
            r#"{"data":[{"type":"rum","attributes":{"attributes":{"type":"view"}}}]}"#.to_string(),
            r#"[{"type":"view","date":1}]"#.to_string(),
            r#"{"type":"view","date":1}"#.to_string(),
            format!(r#"{{"type":"view","date":1,{SESSION}"#),
        ];
        for text in &records {
            assert!(prepare_record(text.as_bytes()).is_none(), "taken: {text}");
        }
    }

    /// How many nodes this thread's key tree has (0 before its first record).
    fn key_nodes_on_this_thread() -> usize {
        SCRATCH.with(|cell| {
            let scratch = cell.take();
            let nodes = scratch.tree.as_ref().map_or(0, |tree| tree.nodes.len());
            cell.set(scratch);
            nodes
        })
    }

    /// Runs `check` on a thread of its own: a fresh key tree, which the test may fill.
    fn on_a_new_thread(check: impl FnOnce() + Send + 'static) {
        std::thread::spawn(check).join().expect("the check passed");
    }

    #[test]
    fn keys_learned_from_one_record_read_the_next_as_written() {
        on_a_new_thread(|| {
            let first = format!(r#"{{"type":"action","date":1,{SESSION},"sdk_name":"s","context":{{"a":1,"b":{{"c":"x"}}}},"_dd":{{"format_version":2}}}}"#);
            assert!(took_the_same_row(&first), "not taken: {first}");
            let learned = key_nodes_on_this_thread();
            assert!(learned > key_tree().nodes.len(), "{learned} nodes: nothing learned");
            assert!(took_the_same_row(&first), "not taken the second time: {first}");
            assert_eq!(key_nodes_on_this_thread(), learned, "the same keys learned again");
            let taken = [
                // A learned leaf now an object, a learned object now a leaf, a learned
                // name under another parent, and the learned keys in another order.
                format!(r#"{{"type":"action","date":1,{SESSION},"context":{{"b":"y","a":{{"d":2}}}},"_dd":{{"a":3}},"sdk_name":"t"}}"#),
                // A learned key as the start of a longer one, and a shorter one.
                format!(r#"{{"type":"action","date":1,{SESSION},"sdk_name_x":"u","context":{{"a":1,"b":{{"":4,"cc":5}}}}}}"#),
            ];
            for text in &taken {
                assert!(took_the_same_row(text), "not taken: {text}");
                assert!(took_the_same_row(text), "not taken the second time: {text}");
            }
            let left = [
                // A learned key twice in one object; a kept key's name; a dotted key.
                format!(r#"{{"type":"action","date":1,{SESSION},"context":{{"a":1,"b":2,"a":3}}}}"#),
                format!(r#"{{"type":"action","date":1,{SESSION},"userid":"x"}}"#),
                format!(r#"{{"type":"action","date":1,{SESSION},"context":{{"a.b":1}}}}"#),
            ];
            for text in &left {
                assert!(prepare_record(text.as_bytes()).is_none(), "taken: {text}");
                assert!(prepare_record(text.as_bytes()).is_none(), "taken the second time: {text}");
            }
        });
    }

    /// Past [`MAX_KEY_NODES`] the tree learns no more, and keys it does not have are read as
    /// they were before it learned any: the same rows, the same cases left to the general path.
    #[test]
    fn a_full_key_tree_reads_new_keys_as_written() {
        on_a_new_thread(|| {
            for batch in 0..=MAX_KEY_NODES / 100 {
                let keys: Vec<String> = (0..100).map(|i| format!(r#""k{batch}_{i}":{i}"#)).collect();
                let text = format!(r#"{{"type":"action","date":1,{SESSION},"context":{{{}}}}}"#, keys.join(","));
                assert!(took_the_same_row(&text), "not taken: {text}");
            }
            assert_eq!(key_nodes_on_this_thread(), MAX_KEY_NODES);
            odd_but_common_shapes_take_the_direct_path_with_the_same_rows();
            keys_unlike_the_predicted_ones_are_read_as_written();
            what_the_general_path_decides_is_left_to_it();
            the_reader_takes_every_valid_spelling_with_the_general_paths_values();
            generated_events_take_the_direct_path_with_the_same_rows();
            assert_eq!(key_nodes_on_this_thread(), MAX_KEY_NODES);
        });
    }

    #[test]
    fn the_reader_takes_every_valid_spelling_with_the_general_paths_values() {
        let records = [
            // Whitespace of every kind between every token.
            format!("{{ \"type\" :\t\"error\" ,\r\n \"date\" : 1700000000005 , {SESSION} , \"error\" : {{ \"id\" : \"e\" }} }}\r\n"),
            // Numbers at the edges of i64 and u64, -0, exponents and fractions.
            format!(r#"{{"type":"error","date":1.7e12,{SESSION},"n":{{"a":-0,"b":1e3,"c":1E-2,"d":-12,"e":0.5,"f":18446744073709551615,"g":-9223372036854775808,"h":-9223372036854775809,"i":9223372036854775807,"j":9223372036854775808,"k":123456789.123456789e-3}}}}"#),
            // Every escape, a surrogate pair, non-ASCII text, quotes at each offset of a word.
            format!(r#"{{"type":"error","date":"2024-05-06T07:08:09Z",{SESSION},"error":{{"message":"\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\","stack":"中文 ünïcödé ✓","source":"1234567\"","type":"12345678"}}}}"#),
            // Arrays with brackets and braces inside strings, nested arrays and objects.
            format!(r#"{{"type":"action","date":1700000000006,{SESSION},"action":{{"id":"a","frustration":{{"type":["]","{{\"}}",[1,[2,{{"a":"}}"}}]],true,null,-1.5e-7]}}}}}}"#),
        ];
        for text in &records {
            assert!(took_the_same_row(text), "not taken: {text}");
        }
    }

    /// Strings are scanned 16 and 8 bytes at a time: a quote, an escape or a control
    /// character at any offset of a long string is found, and other bytes are not taken for one.
    #[test]
    fn strings_end_and_escape_at_every_offset() {
        for offset in 0..40 {
            let before = "a".repeat(offset);
            for (inside, valid) in [
                ("", true),
                ("\\n", true),
                ("\\\"", true),
                ("\\u00e9", true),
                ("é✓", true),
                ("\u{7f} ~", true),
                ("\u{1}", false),
                ("\u{1f}", false),
                ("\t", false),
            ] {
                let text = format!(r#"{{"type":"error","date":1,{SESSION},"error":{{"message":"{before}{inside}bcdefghijklmnopqrstuvwxyz"}}}}"#);
                if valid {
                    assert!(took_the_same_row(&text), "not taken: {text:?}");
                } else {
                    assert!(prepare_record(text.as_bytes()).is_none(), "taken: {text:?}");
                }
            }
        }
    }

    #[test]
    fn the_reader_leaves_whatever_is_not_json_to_the_general_path() {
        let broken = [
            format!(r#"{{"type":"view","date":1,{SESSION},}}"#),
            format!(r#"{{"type":"view","date":01,{SESSION}}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"a":1.}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"a":-}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"a":1e}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"a":tru}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"a":nul}}"#),
            format!("{{\"type\":\"view\",\"date\":1,{SESSION},\"a\":\"raw \u{1} control\"}}"),
            format!(r#"{{"type":"view","date":1,{SESSION},"a":"bad \q escape"}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"a":"\ud800 lone"}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION}}} x"#),
            format!(r#"{{"type":"view","date":1,{SESSION}}}}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"a":[1,2}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"a":[1,]}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION} "a":1}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"a" 1}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"a":"unterminated}}"#),
            format!(r#"{{"type":"view","date":1,{SESSION},"a":+1}}"#),
            // Valid, but past u64: the general path decides.
            format!(r#"{{"type":"view","date":1,{SESSION},"a":99999999999999999999999}}"#),
        ];
        for text in &broken {
            assert!(prepare_record(text.as_bytes()).is_none(), "taken: {text}");
        }
        // What serde_json rejects the general path skips; the reader agrees on each of these.
        for text in broken.iter().take(broken.len() - 1) {
            assert!(serde_json::from_str::<serde_json::Value>(text).is_err(), "valid JSON: {text}");
        }
    }

    #[test]
    fn real_datadog_events_take_the_direct_path_with_the_same_rows() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/third_party/datadog-rum-events-format");
        let Ok(entries) = std::fs::read_dir(&folder) else {
            eprintln!("{} is missing: the third-party fixtures are not beside this clone; skipped", folder.display());
            return;
        };
        let mut taken = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            // Each file is one event, printed over many lines: the direct path reads it whole.
            if took_the_same_row(&text) {
                taken += 1;
            }
        }
        // The files with a session id (all but the stream and vital samples, which lack one).
        assert!(taken >= 8, "{taken} of the real events took the direct path");
    }
}
