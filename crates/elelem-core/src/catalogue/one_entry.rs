//! One model's entry read out of a deferred plugin catalogue, without the rest.
//!
//! A call names one model: reading that model's `[[models]]` entry alone costs a
//! thirtieth of reading its provider's whole catalogue. Entries are indexed once
//! by their `id = "provider:model"` line (an id on two entries is left out), so
//! every later call finds its entry with one map lookup; anything else (an alias,
//! an id written another way, an entry that does not read alone) leaves the
//! lookup to the whole catalogue, which gives the same entry (tested for every
//! built-in model in `deferred.rs`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::entry::ModelEntry;
use super::file::RawCatalogue;

/// One `[[models]]` entry of a deferred text: where it is, and the entry once read
/// (`None`: it does not read alone).
#[derive(Debug, Clone)]
struct Chunk {
    start: usize,
    end: usize,
    entry: OnceLock<Option<Arc<ModelEntry>>>,
}

/// The entries of a deferred text and the index of their id lines.
#[derive(Debug, Clone, Default)]
struct Index {
    chunks: Vec<Chunk>,
    /// The chunk of each id written `id = "..."` on a line of its own in exactly
    /// one chunk.
    by_id: BTreeMap<String, usize>,
}

/// The entries of a deferred `[[models]]` text, each read on its own on demand.
#[derive(Debug, Default)]
pub(super) struct Entries {
    index: OnceLock<Index>,
    /// The chunk the last lookup found: a program calls the same model again
    /// and again, and this spares the id's map lookup on every call.
    last: AtomicUsize,
}

impl Clone for Entries {
    fn clone(&self) -> Self {
        Entries {
            index: self.index.clone(),
            last: AtomicUsize::new(self.last.load(Ordering::Relaxed)),
        }
    }
}

/// The line around `text[at]`, trimmed.
fn line_at(text: &str, at: usize) -> &[u8] {
    let bytes = text.as_bytes();
    let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |n| n + 1);
    let line_end = memchr::memchr(b'\n', &bytes[at..]).map_or(text.len(), |n| at + n);
    bytes[line_start..line_end].trim_ascii()
}

/// The id of an `id = "provider:model"` line, when it is one (no escapes).
fn id_of_line(line: &[u8]) -> Option<&str> {
    let id = line.strip_prefix(b"id = \"")?.strip_suffix(b"\"")?;
    let id = std::str::from_utf8(id).ok()?;
    (!id.contains(['"', '\\'])).then_some(id)
}

impl Index {
    fn new(text: &str) -> Index {
        let starts: Vec<usize> = memchr::memmem::find_iter(text.as_bytes(), "[[models]]")
            .filter(|&at| line_at(text, at) == b"[[models]]")
            .collect();
        let ends = starts.iter().skip(1).copied().chain([text.len()]);
        let chunks: Vec<Chunk> = starts
            .iter()
            .zip(ends)
            .map(|(&start, end)| Chunk {
                start,
                end,
                entry: OnceLock::new(),
            })
            .collect();
        let mut by_id = BTreeMap::new();
        let mut twice = Vec::new();
        for at in memchr::memmem::find_iter(text.as_bytes(), "id = \"") {
            let Some(id) = id_of_line(line_at(text, at)) else {
                continue;
            };
            let Some(chunk) = chunks.partition_point(|c| c.start <= at).checked_sub(1) else {
                continue;
            };
            if by_id.insert(id.to_owned(), chunk).is_some() {
                twice.push(id);
            }
        }
        for id in twice {
            by_id.remove(id);
        }
        Index { chunks, by_id }
    }
}

impl Entries {
    /// The entry of `id` read alone from `text`, with `resolve` turning its
    /// merged table into an entry; `None` when it cannot be read alone.
    pub fn find(
        &self,
        text: &str,
        source_name: &str,
        id: &str,
        resolve: impl FnOnce(&str, toml::Table) -> Option<ModelEntry>,
    ) -> Option<&Arc<ModelEntry>> {
        let index = self.index.get_or_init(|| Index::new(text));
        let last = index.chunks.get(self.last.load(Ordering::Relaxed));
        if let Some(Some(entry)) = last.and_then(|c| c.entry.get()) {
            if entry.id == id {
                return Some(entry);
            }
        }
        let at = *index.by_id.get(id)?;
        self.last.store(at, Ordering::Relaxed);
        let chunk = index.chunks.get(at)?;
        let entry = chunk.entry.get_or_init(|| {
            let mut raw = RawCatalogue::default();
            raw.merge_text(source_name, text.get(chunk.start..chunk.end)?)
                .ok()?;
            let table = raw.models.remove(id)?;
            let alone = raw.models.is_empty()
                && raw.providers.is_empty()
                && raw.virtual_models.is_empty()
                && raw.currencies.is_empty();
            alone.then(|| resolve(id, table)).flatten().map(Arc::new)
        });
        entry.as_ref().filter(|e| e.id == id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TEXT: &str = "[[models]]\nid = \"p:a\"\nnotes = 'id = \"p:b\"'\n[models.price]\ninput = '1'\n\n[[models]]\nid = \"p:b\"\n[[models]]\nid = \"p:c\"\n[[models]]\nid = \"p:c\"\n";

    fn find<'e>(entries: &'e Entries, id: &str) -> Option<&'e Arc<ModelEntry>> {
        entries.find(TEXT, "t", id, |id, table| {
            let (provider, model) = id.split_once(':').unwrap();
            let mut entry = ModelEntry::unlisted(provider, model);
            entry.notes = table
                .get("notes")
                .and_then(|n| n.as_str())
                .map(str::to_owned);
            Some(entry)
        })
    }

    #[test]
    fn an_entry_is_read_alone_by_its_id_line() {
        let entries = Entries::default();
        let b = find(&entries, "p:b").unwrap();
        assert_eq!(b.id, "p:b");
        let index = entries.index.get().unwrap();
        assert_eq!(index.chunks.len(), 4);
        // p:c is on two entries: not indexed.
        assert_eq!(index.by_id.keys().collect::<Vec<_>>(), ["p:a", "p:b"]);
        // Only b's chunk was read.
        let read: Vec<bool> = index
            .chunks
            .iter()
            .map(|c| c.entry.get().is_some())
            .collect();
        assert_eq!(read, [false, true, false, false]);
        // The last entry found is tried first; another id still finds its own.
        assert_eq!(find(&entries, "p:a").unwrap().id, "p:a");
        assert_eq!(find(&entries, "p:b").unwrap().id, "p:b");
        assert_eq!(find(&entries, "p:b").unwrap().id, "p:b");
        assert!(find(&entries, "p:c").is_none());
        assert_eq!(find(&entries, "p:a").unwrap().id, "p:a");
    }

    #[test]
    fn ids_not_found_once_are_left_to_the_whole_catalogue() {
        let entries = Entries::default();
        // Listed twice: the whole catalogue reports it.
        assert!(find(&entries, "p:c").is_none());
        assert!(find(&entries, "p:nope").is_none());
        assert!(find(&entries, "p:\"a").is_none());
    }
}
