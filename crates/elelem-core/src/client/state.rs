//! The [`Elelem`] methods over the client's state: request counts, the last
//! response, presets, and queries over the catalogue.

use std::collections::{BTreeMap, BTreeSet};

use super::elelem::Elelem;
use super::parts::ProviderSlot;
use crate::catalogue::{split_model_id, ModelComparison, ModelQuery};
use crate::error::ElelemError;
use crate::presets::Preset;
use crate::tokens::{estimate_tokens, TokenEstimate};
use crate::types::{ChatCompletion, ChatRequest, Message};

impl Elelem {
    /// How many requests this client sent to `provider` (every attempt, retries
    /// included; cache hits send none).
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// assert_eq!(elelem.request_count("groq"), 0);
    /// ```
    pub fn request_count(&self, provider: &str) -> u64 {
        self.inner.accounting.request_count(provider)
    }

    /// Requests sent per provider (see [`Elelem::request_count`]).
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// assert!(elelem.request_counts().is_empty());
    /// ```
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.inner.accounting.request_counts()
    }

    /// The last completion a provider sent, exactly as received (before think
    /// blocks are removed and JSON extracted, and whether or not it was accepted),
    /// for debugging.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// assert!(elelem.last_response().is_none());
    /// ```
    pub fn last_response(&self) -> Option<ChatCompletion> {
        self.inner.accounting.last_response()
    }

    /// The request template of a named preset: its model and settings; add the
    /// messages and send it. The template is a value of its own: updating the preset
    /// later does not change it.
    ///
    /// ```
    /// use elelem_core::{Elelem, Message, Preset};
    /// let mut summarizer = Preset::new("demo:small");
    /// summarizer.temperature = Some(0.3);
    /// let elelem = Elelem::builder()
    ///     .models_toml("demo", "[provider]\nname = 'demo'\nbase_url = 'http://127.0.0.1:9/v1'\n[[models]]\nid = 'demo:small'")
    ///     .preset("summarizer", summarizer)
    ///     .build()
    ///     .unwrap();
    /// let request = elelem.preset("summarizer").unwrap().message(Message::user("Summarize: ..."));
    /// assert_eq!(request.temperature, Some(0.3));
    /// assert!(elelem.preset("nope").is_err());
    /// ```
    pub fn preset(&self, name: &str) -> Result<ChatRequest, ElelemError> {
        Ok(self.inner.presets.get(name)?.request())
    }

    /// A preset's settings.
    ///
    /// ```
    /// use elelem_core::{Elelem, Preset};
    /// let elelem = Elelem::builder()
    ///     .models_toml("demo", "[provider]\nname = 'demo'\nbase_url = 'http://127.0.0.1:9/v1'\n[[models]]\nid = 'demo:small'")
    ///     .preset("p", Preset::new("demo:small"))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(elelem.preset_settings("p").unwrap().model, "demo:small");
    /// ```
    pub fn preset_settings(&self, name: &str) -> Result<Preset, ElelemError> {
        let preset = self.inner.presets.get(name)?;
        Ok(Preset::clone(&preset))
    }

    /// The names of the presets, sorted.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// assert!(elelem.preset_names().is_empty());
    /// ```
    pub fn preset_names(&self) -> Vec<String> {
        self.inner.presets.names()
    }

    /// Adds or replaces a preset at run time. Calls already made from the old
    /// settings keep them.
    ///
    /// ```
    /// use elelem_core::{Elelem, Preset};
    /// let elelem = Elelem::builder()
    ///     .models_toml("demo", "[provider]\nname = 'demo'\nbase_url = 'http://127.0.0.1:9/v1'\n[[models]]\nid = 'demo:small'")
    ///     .build()
    ///     .unwrap();
    /// elelem.update_preset("fast", Preset::new("demo:small")).unwrap();
    /// assert_eq!(elelem.preset_names(), ["fast"]);
    /// assert!(elelem.update_preset("bad", Preset::new("nocolon")).is_err());
    /// ```
    pub fn update_preset(
        &self,
        name: impl Into<String>,
        preset: Preset,
    ) -> Result<(), ElelemError> {
        let name = name.into();
        preset.check(&name, &self.inner.catalogue)?;
        self.inner.presets.update(name, preset);
        Ok(())
    }

    /// Removes a preset; whether it existed.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// assert!(!elelem.remove_preset("none"));
    /// ```
    pub fn remove_preset(&self, name: &str) -> bool {
        self.inner.presets.remove(name)
    }

    /// Reads the presets files again and replaces every preset with their content
    /// (and the presets given to the builder); presets added with
    /// [`Elelem::update_preset`] are dropped. On error nothing changes.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// elelem.reload_presets().unwrap();
    /// ```
    pub fn reload_presets(&self) -> Result<(), ElelemError> {
        self.inner.presets.reload(&self.inner.catalogue)
    }

    /// A query over the catalogue's models: filter by provider, context window,
    /// capabilities, price, deprecation; find the cheapest. See [`ModelQuery`].
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// let big_schema_models = elelem.models().json_schema().min_context(100_000).exclude_deprecated().ids();
    /// # let _ = big_schema_models;
    /// ```
    pub fn models(&self) -> ModelQuery<'_> {
        let ready: BTreeSet<String> = self
            .inner
            .providers
            .slots
            .iter()
            .filter(|(_, slot)| matches!(slot, ProviderSlot::Ready(_)))
            .map(|(name, _)| name.clone())
            .collect();
        ModelQuery::new(&self.inner.catalogue, Some(ready))
    }

    /// The facts of several models side by side (see [`Catalogue::compare`]).
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// assert!(elelem.compare(&["nobody:nothing"]).is_err());
    /// ```
    pub fn compare(&self, ids: &[&str]) -> Result<ModelComparison, ElelemError> {
        self.inner.catalogue.compare(ids)
    }

    /// The estimated prompt tokens of `messages` for a catalogued model (see
    /// [`estimate_tokens`](crate::estimate_tokens)).
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder()
    ///     .models_toml("t", "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:gpt-4.1'")
    ///     .build().unwrap();
    /// let estimate = elelem.estimate_tokens(&[elelem_core::Message::user("Hello world")], "p:gpt-4.1").unwrap();
    /// assert_eq!(estimate.tokens, 8);
    /// ```
    pub fn estimate_tokens(
        &self,
        messages: &[Message],
        model: &str,
    ) -> Result<TokenEstimate, ElelemError> {
        let (provider, _) = split_model_id(model)?;
        let entry = self
            .inner
            .catalogue
            .model(model)
            .ok_or_else(|| ElelemError::UnknownModel {
                model: model.to_owned(),
                provider: provider.to_owned(),
                known: self.inner.catalogue.model_ids_of(provider),
            })?;
        Ok(estimate_tokens(messages, entry))
    }
}
