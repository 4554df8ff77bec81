//! A provider plugin's models, read when something first needs them.
//!
//! Building a client reads every linked plugin's catalogue: about 150 KB of TOML
//! for all the plugins, most of them models of providers a program never calls.
//! So the builder reads only the head of a plugin's catalogue (its `[provider]`
//! table) and keeps the text of its `[[models]]` until a lookup names the
//! provider (a model id, a listing, a price). A user file touching the provider
//! (its table or one of its models) has it read at once, so such files merge
//! and fail exactly as before. Every built-in catalogue is tested to resolve
//! (`tests/catalogue_deferred.rs`), so deferring hides no error of ours; a
//! plugin whose models fail to read anyway has none, and says why wherever the
//! known models are listed ([`Catalogue::model_ids_of`](super::Catalogue::model_ids_of)).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use super::entry::ModelEntry;
use super::file::RawCatalogue;
use super::one_entry::Entries;
use super::{lookup, resolve_model, ProviderDefaults};
use crate::error::ElelemError;

/// Splits a plugin catalogue into its head and its models: the text from its
/// first table header to the first `[[models]]` line (the comment lines before
/// that header are left out: they need no reading) and the text from that line
/// on. `None` when the models are not the whole rest of the text (another table
/// header follows them, or a line the split cannot vouch for starts with `[`):
/// the text is then read at once.
///
/// ```text
/// # Comments            <- left out
/// [provider]            <- head
/// name = "p"
/// [[models]]            <- models, to the end
/// id = "p:m"
/// [models.price]
/// ```
pub(super) fn split(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let mut first_header = None;
    let mut models = None;
    // Only lines starting with `[` matter: find them through the `[`s.
    for at in memchr::memchr_iter(b'[', bytes) {
        let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |n| n + 1);
        if !bytes[line_start..at]
            .iter()
            .all(|&b| b == b' ' || b == b'\t')
        {
            continue;
        }
        let line_end = memchr::memchr(b'\n', &bytes[at..]).map_or(text.len(), |n| at + n);
        let header = text.get(line_start..line_end)?.trim();
        first_header.get_or_insert(line_start);
        match models {
            None if header == "[[models]]" => models = Some(line_start),
            None => {}
            Some(_) if header == "[[models]]" || is_models_subtable(header) => {}
            Some(_) => return None,
        }
    }
    let models = models?;
    let head_start = first_header
        .filter(|&start| {
            let mut line_start = 0;
            memchr::memchr_iter(b'\n', &bytes[..start]).all(|end| {
                let line = bytes[line_start..end].trim_ascii_start();
                line_start = end + 1;
                line.is_empty() || line[0] == b'#'
            })
        })
        .unwrap_or(0);
    Some((text.get(head_start..models)?, text.get(models..)?))
}

/// `[models.price]` and the like: a table of the last `[[models]]` entry.
fn is_models_subtable(header: &str) -> bool {
    header.strip_prefix("[models.").is_some_and(|rest| {
        rest.strip_suffix(']').is_some_and(|key| {
            !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        })
    })
}

/// One provider's models and their aliases, resolved.
#[derive(Debug, Clone, Default)]
pub(super) struct ProviderModels {
    /// By `provider:model` id; shared, so a call holds its model without copying it.
    pub models: BTreeMap<String, Arc<ModelEntry>>,
    /// Entries under their aliases' ids (`openai:gpt-4o-2024-08-06`).
    pub aliases: BTreeMap<String, Arc<ModelEntry>>,
    /// Why a deferred catalogue could not be read (its models are then none).
    pub problem: Option<String>,
}

impl ProviderModels {
    /// The models of one provider, aliases added.
    pub fn new(models: BTreeMap<String, Arc<ModelEntry>>) -> Result<Self, ElelemError> {
        let aliases = lookup::alias_entries(&models)?;
        Ok(ProviderModels {
            models,
            aliases,
            problem: None,
        })
    }

    /// A model by id or alias id.
    pub fn get(&self, id: &str) -> Option<&Arc<ModelEntry>> {
        self.models.get(id).or_else(|| self.aliases.get(id))
    }
}

/// The text of a plugin's `[[models]]` and what resolving it needs.
#[derive(Debug, Clone)]
struct Pending {
    source_name: String,
    provider: String,
    text: &'static str,
    defaults: ProviderDefaults,
    /// Micro-dollars per unit of each currency.
    rates: Arc<BTreeMap<String, i64>>,
    /// Entries read alone, before (or instead of) the whole text.
    entries: Entries,
}

impl Pending {
    fn resolve(&self) -> Result<ProviderModels, ElelemError> {
        let mut raw = RawCatalogue::default();
        raw.merge_text(&self.source_name, self.text)?;
        let mut models = BTreeMap::new();
        for (id, table) in raw.models {
            let entry = self.resolve_entry(&id, table)?;
            models.insert(id, Arc::new(entry));
        }
        ProviderModels::new(models)
    }

    fn resolve_entry(&self, id: &str, table: toml::Table) -> Result<ModelEntry, ElelemError> {
        resolve_model(id, table, &self.source_name, &self.rates, |p| {
            (p == self.provider).then_some(&self.defaults)
        })
    }
}

/// A provider's models: resolved already, or resolved once on first use.
#[derive(Debug, Clone, Default)]
pub(super) struct ModelsCell {
    pending: Option<Pending>,
    models: OnceLock<ProviderModels>,
}

impl ModelsCell {
    /// Models resolved already.
    pub fn ready(models: ProviderModels) -> Self {
        ModelsCell {
            pending: None,
            models: OnceLock::from(models),
        }
    }

    /// Models of `provider` to resolve from `text` when first needed.
    pub fn deferred(
        source_name: String,
        provider: String,
        text: &'static str,
        defaults: ProviderDefaults,
        rates: Arc<BTreeMap<String, i64>>,
    ) -> Self {
        ModelsCell {
            pending: Some(Pending {
                source_name,
                provider,
                text,
                defaults,
                rates,
                entries: Entries::default(),
            }),
            models: OnceLock::new(),
        }
    }

    /// Whether the models wait to be read.
    pub fn is_deferred(&self) -> bool {
        self.pending.is_some() && self.models.get().is_none()
    }

    /// A model by id or alias id: read alone while the rest waits, when it can
    /// be (see `one_entry.rs`), else from all the models.
    pub fn entry(&self, id: &str) -> Option<&Arc<ModelEntry>> {
        if let (Some(pending), None) = (&self.pending, self.models.get()) {
            let alone =
                pending
                    .entries
                    .find(pending.text, &pending.source_name, id, |id, table| {
                        pending.resolve_entry(id, table).ok()
                    });
            if alone.is_some() {
                return alone;
            }
        }
        self.get().get(id)
    }

    /// The models, resolving them on the first call.
    pub fn get(&self) -> &ProviderModels {
        self.models.get_or_init(|| {
            let Some(pending) = &self.pending else {
                return ProviderModels::default();
            };
            pending.resolve().unwrap_or_else(|error| {
                tracing::error!(provider = %pending.provider, %error, "a provider plugin's catalogue does not resolve; it has no models");
                ProviderModels {
                    problem: Some(error.to_string()),
                    ..ProviderModels::default()
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_models_are_split_off_where_nothing_else_follows_them() {
        let text = "# p\n[provider]\nname = 'p'\n\n[[models]]\nid = 'p:a'\n[models.price]\ninput = '1'\n  [[models]]\nid = 'p:b'\n";
        let (head, models) = split(text).unwrap();
        assert_eq!(head, "[provider]\nname = 'p'\n\n");
        assert!(models.starts_with("[[models]]\nid = 'p:a'"));
        assert!(models.ends_with("id = 'p:b'\n"));
        for unsafe_text in [
            "[provider]\nname='p'\n[[models]]\nid='p:a'\n[[virtual_models]]\nid='virtual:v'\n",
            "[provider]\nname='p'\n[[models]]\nid='p:a'\n[currencies]\nEUR='1'\n",
            "[provider]\nname='p'\n[[models]]\nid='p:a'\n[models . price]\ninput='1'\n",
            "[provider]\nname='p'\n[[models]]\nid='p:a'\nx = [\n[1],\n]\n",
            "[provider]\nname='p'\n",
        ] {
            assert_eq!(split(unsafe_text), None, "{unsafe_text}");
        }
        // Top-level keys before the first table stay in the head.
        let (head, _) = split("x = 1\n[provider]\nname='p'\n[[models]]\nid='p:a'\n").unwrap();
        assert_eq!(head, "x = 1\n[provider]\nname='p'\n");
        // A `[` inside a line is no header.
        let text =
            "# see [docs]\n[provider]\nname = 'p' # [x]\n[[models]]\nid='p:a'\naliases = ['b']\n";
        assert_eq!(split(text).unwrap().0, "[provider]\nname = 'p' # [x]\n");
        let indented = "[provider]\nname='p'\n[[models]]\nid='p:a'\n\t[provider]\n";
        assert_eq!(split(indented), None);
    }

    /// Every built-in catalogue file (`models/*.toml`), as a plugin holds it.
    fn built_in_catalogues() -> Vec<(String, &'static str)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
        let mut files: Vec<(String, &'static str)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "toml"))
            .filter(|path| !path.ends_with("currencies.toml"))
            .map(|path| {
                let text = std::fs::read_to_string(&path).unwrap();
                (
                    path.display().to_string(),
                    &*Box::leak(text.into_boxed_str()),
                )
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_built_in_model_is_read_alone_as_the_whole_file_reads_it() {
        let files = built_in_catalogues();
        assert!(files.len() >= 20, "{}", files.len());
        let mut sources = super::super::CatalogueSources::new().unwrap();
        for (name, text) in &files {
            sources.add_plugin(name, text).unwrap();
        }
        let deferred = sources.resolve().unwrap();
        let eager =
            super::super::Catalogue::from_sources(files.iter().map(|(n, t)| (n.as_str(), *t)))
                .unwrap();
        let mut count = 0;
        for model in eager.models() {
            count += 1;
            assert_eq!(deferred.model(&model.id), Some(model), "{}", model.id);
            let cell = &deferred.models[&model.provider];
            assert!(cell.is_deferred(), "{} was not read alone", model.id);
        }
        assert!(count > 250, "{count}");
        // An alias needs the whole file, and finds the same entry.
        let alias = eager.models().find(|m| !m.aliases.is_empty()).unwrap();
        let id = format!("{}:{}", alias.provider, alias.aliases[0]);
        assert_eq!(deferred.model(&id), eager.model(&id));
        assert!(!deferred.models[&alias.provider].is_deferred());
    }

    #[test]
    fn a_deferred_catalogue_that_does_not_resolve_has_no_models_and_says_why() {
        let defaults = ProviderDefaults {
            currency: "USD".into(),
            ..ProviderDefaults::default()
        };
        let cell = ModelsCell::deferred(
            "plugin p".into(),
            "p".into(),
            "[[models]]\nid = 'p:a'\nprice = { input = '1' }\n",
            defaults,
            Arc::new(BTreeMap::from([("USD".to_owned(), 1_000_000)])),
        );
        assert!(cell.is_deferred());
        assert!(cell.entry("p:a").is_none());
        let models = cell.get();
        assert!(models.models.is_empty());
        assert!(models
            .problem
            .as_deref()
            .unwrap()
            .contains("needs `output`"));
        assert!(!cell.is_deferred());
    }
}
