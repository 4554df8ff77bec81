//! One model's entry read out of a deferred plugin catalogue, without the rest.
//!
//! A call names one model: reading that model's `[[models]]` entry alone costs a
//! thirtieth of reading its provider's whole catalogue. The entry is found by its
//! `id = "provider:model"` line, which must occur once; anything else (an alias,
//! an id written another way, an entry that does not read alone) leaves the
//! lookup to the whole catalogue, which gives the same entry (tested for every
//! built-in model in `tests/catalogue_deferred.rs`).

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

/// The entries of a deferred `[[models]]` text, each read on its own on demand.
#[derive(Debug, Clone, Default)]
pub(super) struct Entries {
    chunks: OnceLock<Vec<Chunk>>,
}

/// Whether `text[at..]` starts a line holding only `token` (and blanks).
fn alone_on_its_line(text: &str, at: usize, token: &str) -> bool {
    let bytes = text.as_bytes();
    let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |n| n + 1);
    let line_end = memchr::memchr(b'\n', &bytes[at..]).map_or(text.len(), |n| at + n);
    bytes[line_start..line_end].trim_ascii() == token.as_bytes()
}

impl Entries {
    fn chunks(&self, text: &str) -> &[Chunk] {
        self.chunks.get_or_init(|| {
            let starts: Vec<usize> = memchr::memmem::find_iter(text.as_bytes(), "[[models]]")
                .filter(|&at| alone_on_its_line(text, at, "[[models]]"))
                .collect();
            let ends = starts.iter().skip(1).copied().chain([text.len()]);
            starts
                .iter()
                .zip(ends)
                .map(|(&start, end)| Chunk {
                    start,
                    end,
                    entry: OnceLock::new(),
                })
                .collect()
        })
    }

    /// The entry of `id` read alone from `text`, with `resolve` turning its
    /// merged table into an entry; `None` when it cannot be read alone.
    pub fn find(
        &self,
        text: &str,
        source_name: &str,
        id: &str,
        resolve: impl FnOnce(&str, toml::Table) -> Option<ModelEntry>,
    ) -> Option<&Arc<ModelEntry>> {
        if id.contains(['"', '\\', '\n']) {
            return None;
        }
        let needle = format!("id = \"{id}\"");
        let mut lines = memchr::memmem::find_iter(text.as_bytes(), &needle)
            .filter(|&at| alone_on_its_line(text, at, &needle));
        let (Some(at), None) = (lines.next(), lines.next()) else {
            return None;
        };
        let chunks = self.chunks(text);
        let index = chunks.partition_point(|c| c.start <= at).checked_sub(1)?;
        let chunk = &chunks[index];
        let entry = chunk.entry.get_or_init(|| {
            let mut raw = RawCatalogue::default();
            raw.merge_text(source_name, &text[chunk.start..chunk.end])
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
        assert_eq!(entries.chunks(TEXT).len(), 4);
        // Only b's chunk was read.
        let read: Vec<bool> = entries
            .chunks(TEXT)
            .iter()
            .map(|c| c.entry.get().is_some())
            .collect();
        assert_eq!(read, [false, true, false, false]);
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
