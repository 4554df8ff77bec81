//! The model catalogue: providers, models, prices and capabilities, compiled in by
//! the provider crates and extended by user files.

mod deferred;
mod entry;
mod file;
mod lookup;
mod one_entry;
mod prices;
mod query;
mod variant;
mod virtual_model;

pub use entry::{Capabilities, EmbeddingSpec, ModelEntry, ProviderEntry};
pub use lookup::did_you_mean;
pub(crate) use lookup::did_you_mean_hint;
pub use prices::{CostBreakdown, LongContextRates, PriceTiers, Prices, Rates};
pub use query::{ModelComparison, ModelFacts, ModelQuery};
pub use virtual_model::{
    is_virtual, Candidate, VirtualModel, DEFAULT_CANDIDATE_TIMEOUT, VIRTUAL_PREFIX,
};

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value as JsonValue};
use toml::{Table, Value};

use crate::error::ElelemError;
use crate::money::parse_scaled_decimal;
use deferred::{ModelsCell, ProviderModels};
use file::{parse_document, touched_providers, RawCatalogue};
use prices::parse_prices;

/// The built-in currency table: the one place rates live.
const CURRENCIES_TOML: &str = include_str!("../../../../models/currencies.toml");

/// Splits a `provider:model` string at its first `:`.
///
/// ```
/// use elelem_core::catalogue::split_model_id;
/// assert_eq!(split_model_id("groq:openai/gpt-oss-20b").unwrap(), ("groq", "openai/gpt-oss-20b"));
/// assert!(split_model_id("gpt-4.1").is_err());
/// assert!(split_model_id(":x").is_err());
/// assert!(split_model_id(" \u{3000}:x").is_err(), "whitespace alone is no name");
/// assert_eq!(split_model_id(" p:a:b").unwrap(), (" p", "a:b"));
/// ```
pub fn split_model_id(id: &str) -> Result<(&str, &str), ElelemError> {
    match id.split_once(':') {
        Some((provider, model)) if !provider.trim().is_empty() && !model.trim().is_empty() => {
            Ok((provider, model))
        }
        _ => Err(ElelemError::MalformedModel {
            input: id.to_owned(),
        }),
    }
}

/// The resolved catalogue.
///
/// ```
/// let catalogue = elelem_core::catalogue::Catalogue::from_sources([("demo", r#"
///     [provider]
///     name = "demo"
///     base_url = "http://127.0.0.1:1/v1"
///     [[models]]
///     id = "demo:small"
///     price = { input = "0.10", output = "0.40" }
/// "#)]).unwrap();
/// let model = catalogue.model("demo:small").unwrap();
/// assert_eq!(model.upstream, "small");
/// assert!(model.capabilities.json_mode);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    providers: BTreeMap<String, ProviderEntry>,
    /// Each provider's models and aliases, by provider name; a plugin's are read
    /// when first needed (see `deferred.rs`).
    models: BTreeMap<String, ModelsCell>,
    virtual_models: BTreeMap<String, VirtualModel>,
}

/// The builder-side view of the catalogue before resolution.
#[derive(Debug, Clone, Default)]
pub struct CatalogueSources {
    raw: RawCatalogue,
    /// Plugin catalogues' `[[models]]` text not read yet, by provider: (source
    /// name, text).
    deferred: BTreeMap<String, (String, &'static str)>,
}

impl CatalogueSources {
    /// Starts with the built-in currency table.
    pub fn new() -> Result<Self, ElelemError> {
        let mut raw = RawCatalogue::default();
        raw.merge_text("models/currencies.toml", CURRENCIES_TOML)?;
        Ok(CatalogueSources {
            raw,
            deferred: BTreeMap::new(),
        })
    }

    /// Merges a TOML document (a provider's catalogue or a user file), checking
    /// it now.
    pub fn add(&mut self, source_name: &str, text: &str) -> Result<(), ElelemError> {
        let document = parse_document(source_name, text)?;
        // What it changes merges over the deferred models it names, in order.
        for provider in touched_providers(&document) {
            if let Some((source, models)) = self.deferred.remove(&provider) {
                self.raw.merge_text(&source, models)?;
            }
        }
        self.raw.merge_document(source_name, document)
    }

    /// Merges a provider plugin's compiled-in catalogue: its head (the
    /// `[provider]` table) now, its `[[models]]` when something first needs that
    /// provider's models, or now when another source names the provider. The
    /// resolved catalogue is the same as with [`CatalogueSources::add`]; only
    /// errors in the models show later (a plugin tests its catalogue resolves).
    ///
    /// ```
    /// use elelem_core::catalogue::CatalogueSources;
    /// let mut sources = CatalogueSources::new().unwrap();
    /// sources.add_plugin("plugin p", "[provider]\nname = 'p'\nbase_url = 'http://x'\n\n[[models]]\nid = 'p:m'\n").unwrap();
    /// let catalogue = sources.resolve().unwrap();
    /// assert_eq!(catalogue.model("p:m").unwrap().upstream, "m");
    /// ```
    pub fn add_plugin(&mut self, source_name: &str, text: &'static str) -> Result<(), ElelemError> {
        match self.deferrable(source_name, text) {
            Some((provider, head, models)) => {
                self.raw.merge_document(source_name, head)?;
                self.deferred
                    .insert(provider, (source_name.to_owned(), models));
                Ok(())
            }
            None => self.add(source_name, text),
        }
    }

    /// The provider whose models `text` may defer, its parsed head and its models'
    /// text: the head parses, names one provider that nothing merged so far
    /// names, and holds no models.
    fn deferrable(
        &self,
        source_name: &str,
        text: &'static str,
    ) -> Option<(String, Table, &'static str)> {
        let (head, models) = deferred::split(text)?;
        let document = parse_document(source_name, head).ok()?;
        let [provider] = <[String; 1]>::try_from(touched_providers(&document)).ok()?;
        let lone = !document.contains_key("models")
            && !self.raw.mentions(&provider)
            && !self.deferred.contains_key(&provider);
        lone.then_some((provider, document, models))
    }

    /// The providers whose models wait to be read (see
    /// [`CatalogueSources::add_plugin`]), sorted.
    ///
    /// ```
    /// use elelem_core::catalogue::CatalogueSources;
    /// let mut sources = CatalogueSources::new().unwrap();
    /// sources.add_plugin("plugin p", "[provider]\nname = 'p'\nbase_url = 'http://x'\n[[models]]\nid = 'p:m'\n").unwrap();
    /// assert_eq!(sources.deferred_providers().collect::<Vec<_>>(), ["p"]);
    /// // A user file naming the provider has its models read first.
    /// sources.add("user", "[[models]]\nid = 'p:m'\nnotes = 'mine'").unwrap();
    /// assert_eq!(sources.deferred_providers().count(), 0);
    /// ```
    pub fn deferred_providers(&self) -> impl Iterator<Item = &str> {
        self.deferred.keys().map(String::as_str)
    }

    /// Resolves prices, currencies and defaults, checking every entry (a
    /// plugin's deferred models when first needed).
    pub fn resolve(self) -> Result<Catalogue, ElelemError> {
        Catalogue::resolve(self.raw, self.deferred)
    }
}

/// What a provider's models inherit from its table.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProviderDefaults {
    /// The currency of prices that name none.
    pub currency: String,
    pub price_source: Option<String>,
    pub price_date: Option<String>,
    pub price_verified: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderFields {
    name: String,
    base_url: String,
    #[serde(default)]
    api_key_env: Option<String>,
    #[serde(default)]
    fallback_model: Option<String>,
    #[serde(default = "usd")]
    currency: String,
    #[serde(default)]
    default_params: Map<String, JsonValue>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    allow_unknown_models: bool,
    #[serde(default)]
    price_source: Option<String>,
    #[serde(default)]
    price_date: Option<String>,
    #[serde(default)]
    price_verified: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFields {
    id: String,
    #[serde(default)]
    upstream: Option<String>,
    #[serde(default)]
    context_window: Option<u64>,
    #[serde(default)]
    max_output: Option<u64>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    price: Option<Table>,
    #[serde(default)]
    capabilities: Capabilities,
    #[serde(default)]
    max_tokens_field: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    default_params: Map<String, JsonValue>,
    #[serde(default)]
    deprecated: bool,
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    release_date: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    price_source: Option<String>,
    #[serde(default)]
    price_date: Option<String>,
    #[serde(default)]
    price_verified: Option<bool>,
    #[serde(default)]
    deprecation_date: Option<String>,
    #[serde(default)]
    embeddings: Option<EmbeddingSpec>,
}

fn usd() -> String {
    "USD".to_owned()
}

/// Whether `text` is a plausible `YYYY-MM-DD` date.
fn is_iso_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let number = |part: &str, len: usize, max: u32| {
        part.len() == len
            && part.bytes().all(|b| b.is_ascii_digit())
            && part.parse::<u32>().is_ok_and(|n| (1..=max).contains(&n))
    };
    matches!(parts.as_slice(), [y, m, d] if number(y, 4, 9999) && number(m, 2, 12) && number(d, 2, 31))
}

fn error(source_name: &str, reason: impl Into<String>) -> ElelemError {
    ElelemError::Catalogue {
        source_name: source_name.to_owned(),
        reason: reason.into(),
    }
}

/// Resolves one model's merged table from `source`: its provider's defaults
/// (`defaults_of`), its prices in US dollars at `rates`, its dates and aliases
/// checked.
fn resolve_model<'d>(
    id: &str,
    table: Table,
    source: &str,
    rates: &BTreeMap<String, i64>,
    defaults_of: impl Fn(&str) -> Option<&'d ProviderDefaults>,
) -> Result<ModelEntry, ElelemError> {
    let fields: ModelFields = Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| error(source, format!("{id}: {}", e.message())))?;
    let (provider, model_name) =
        split_model_id(&fields.id).map_err(|e| error(source, e.to_string()))?;
    let Some(defaults) = defaults_of(provider) else {
        return Err(error(
            source,
            format!("{id}: provider {provider:?} has no [provider] entry"),
        ));
    };
    let currency = fields.currency.unwrap_or_else(|| defaults.currency.clone());
    let Some(&rate) = rates.get(&currency) else {
        return Err(error(
            source,
            format!("{id}: unknown currency {currency:?}; add it to [currencies]"),
        ));
    };
    let prices = match fields.price {
        None => None,
        Some(price) => Some(parse_prices(source, id, &price, rate)?),
    };
    let price_source = fields
        .price_source
        .or_else(|| defaults.price_source.clone());
    let price_date = fields.price_date.or_else(|| defaults.price_date.clone());
    let price_verified = fields.price_verified.or(defaults.price_verified);
    for (field, date) in [
        ("release_date", &fields.release_date),
        ("price_date", &price_date),
        ("deprecation_date", &fields.deprecation_date),
    ] {
        if let Some(date) = date {
            if !is_iso_date(date) {
                return Err(error(
                    source,
                    format!("{id}: {field} {date:?} must be a date written YYYY-MM-DD"),
                ));
            }
        }
    }
    if let Some(alias) = fields
        .aliases
        .iter()
        .find(|a| a.trim().is_empty() || a.contains(':'))
    {
        return Err(error(
            source,
            format!("{id}: alias {alias:?} must be a model name without the provider (no `:`)"),
        ));
    }
    let max_tokens_field = fields
        .max_tokens_field
        .unwrap_or_else(|| "max_tokens".to_owned());
    Ok(ModelEntry {
        provider: provider.to_owned(),
        upstream: fields.upstream.unwrap_or_else(|| model_name.to_owned()),
        id: fields.id.clone(),
        prices,
        currency,
        context_window: fields.context_window,
        max_output: fields.max_output,
        capabilities: fields.capabilities,
        max_tokens_field,
        default_params: fields.default_params,
        notes: fields.notes,
        deprecated: fields.deprecated,
        tier: fields.tier,
        release_date: fields.release_date,
        aliases: fields.aliases,
        price_source,
        price_date,
        price_verified,
        deprecation_date: fields.deprecation_date,
        embeddings: fields.embeddings,
    })
}

impl Catalogue {
    /// A catalogue from TOML documents, merged in order, with the built-in currencies.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Catalogue, ElelemError> {
        let mut builder = CatalogueSources::new()?;
        for (name, text) in sources {
            builder.add(name, text)?;
        }
        builder.resolve()
    }

    fn resolve(
        raw: RawCatalogue,
        deferred: BTreeMap<String, (String, &'static str)>,
    ) -> Result<Catalogue, ElelemError> {
        let mut rates = BTreeMap::new();
        for (code, rate) in &raw.currencies {
            let micros = parse_scaled_decimal(rate, 6)
                .ok()
                .and_then(|m| i64::try_from(m).ok())
                .filter(|m| *m > 0)
                .ok_or_else(|| {
                    error("currencies", format!("rate of {code} ({rate:?}) must be a positive decimal with at most 6 decimals"))
                })?;
            rates.insert(code.clone(), micros);
        }
        let rates = Arc::new(rates);

        let mut providers = BTreeMap::new();
        let mut defaults = BTreeMap::new();
        for (name, table) in raw.providers {
            let source = format!("provider {name}");
            let fields: ProviderFields = Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| error(&source, e.message().to_owned()))?;
            defaults.insert(
                name.clone(),
                ProviderDefaults {
                    currency: fields.currency,
                    price_source: fields.price_source,
                    price_date: fields.price_date,
                    price_verified: fields.price_verified,
                },
            );
            providers.insert(
                name,
                ProviderEntry {
                    name: fields.name,
                    base_url: fields.base_url,
                    api_key_env: fields.api_key_env,
                    fallback_model: fields.fallback_model,
                    default_params: fields.default_params,
                    kind: fields.kind,
                    allow_unknown_models: fields.allow_unknown_models,
                },
            );
        }

        let mut by_provider: BTreeMap<String, BTreeMap<String, Arc<ModelEntry>>> = BTreeMap::new();
        for (id, table) in raw.models {
            let source = raw
                .model_sources
                .get(&id)
                .cloned()
                .unwrap_or_else(|| id.clone());
            let entry = resolve_model(&id, table, &source, &rates, |p| defaults.get(p))?;
            by_provider
                .entry(entry.provider.clone())
                .or_default()
                .insert(id, Arc::new(entry));
        }
        let mut models = BTreeMap::new();
        for (provider, entries) in by_provider {
            models.insert(provider, ModelsCell::ready(ProviderModels::new(entries)?));
        }
        for (provider, (source, text)) in deferred {
            let Some(provider_defaults) = defaults.get(&provider) else {
                return Err(error(
                    &source,
                    format!("provider {provider:?} has no [provider] entry"),
                ));
            };
            let cell = ModelsCell::deferred(
                source,
                provider.clone(),
                text,
                provider_defaults.clone(),
                Arc::clone(&rates),
            );
            models.insert(provider, cell);
        }

        let mut catalogue = Catalogue {
            providers,
            models,
            virtual_models: BTreeMap::new(),
        };
        catalogue.check_fallbacks()?;
        let virtual_models = virtual_model::resolve_virtual_models(
            &catalogue,
            raw.virtual_models.into_iter().collect(),
        )?;
        catalogue.virtual_models = virtual_models
            .into_iter()
            .map(|v| (v.id.clone(), v))
            .collect();
        Ok(catalogue)
    }

    /// Every fallback model of a provider whose models are read names a model of
    /// the catalogue. (A plugin whose models wait to be read is tested to.)
    fn check_fallbacks(&self) -> Result<(), ElelemError> {
        for provider in self.providers.values() {
            if self
                .models
                .get(&provider.name)
                .is_some_and(ModelsCell::is_deferred)
            {
                continue;
            }
            if let Some(fallback) = &provider.fallback_model {
                let listed = split_model_id(fallback)
                    .ok()
                    .and_then(|(p, _)| self.models_of(p))
                    .is_some_and(|m| m.models.contains_key(fallback));
                if !listed {
                    return Err(error(
                        &format!("provider {}", provider.name),
                        format!("fallback model {fallback:?} is not in the catalogue"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A provider's models, read on first use.
    fn models_of(&self, provider: &str) -> Option<&ProviderModels> {
        self.models.get(provider).map(ModelsCell::get)
    }

    /// A model by its `provider:model` id, or by one of its aliases (the entry
    /// then carries the alias as its id and upstream name).
    ///
    /// ```
    /// let catalogue = elelem_core::catalogue::Catalogue::from_sources([("demo", r#"
    ///     [provider]
    ///     name = "demo"
    ///     base_url = "http://127.0.0.1:1/v1"
    ///     [[models]]
    ///     id = "demo:small-latest"
    ///     aliases = ["small-2025-01-01"]
    /// "#)]).unwrap();
    /// let snapshot = catalogue.model("demo:small-2025-01-01").unwrap();
    /// assert_eq!(snapshot.upstream, "small-2025-01-01");
    /// assert_eq!(snapshot.aliases, ["small-2025-01-01"]);
    /// assert_eq!(catalogue.models().count(), 1);
    /// ```
    pub fn model(&self, id: &str) -> Option<&ModelEntry> {
        self.listed(id).map(|m| &**m)
    }

    /// A model the catalogue lists, by id or alias id.
    fn listed(&self, id: &str) -> Option<&Arc<ModelEntry>> {
        let provider = id.get(..memchr::memchr(b':', id.as_bytes())?)?;
        self.models.get(provider)?.entry(id)
    }

    /// The entry to call a `provider:model` id with: the catalogue's, or, for a
    /// provider with `allow_unknown_models`, an [`ModelEntry::unlisted`] one.
    ///
    /// ```
    /// let catalogue = elelem_core::catalogue::Catalogue::from_sources([("local", r#"
    ///     [provider]
    ///     name = "local"
    ///     base_url = "http://127.0.0.1:8000/v1"
    ///     allow_unknown_models = true
    /// "#)]).unwrap();
    /// let model = catalogue.callable_model("local:llama-3.1-8b").unwrap();
    /// assert_eq!(model.upstream, "llama-3.1-8b");
    /// assert!(model.prices.is_none());
    /// assert!(catalogue.callable_model("other:x").is_none());
    /// ```
    pub fn callable_model(&self, id: &str) -> Option<ModelEntry> {
        self.callable(id).map(Arc::unwrap_or_clone)
    }

    /// [`callable_model`](Self::callable_model), shared rather than copied.
    pub(crate) fn callable(&self, id: &str) -> Option<Arc<ModelEntry>> {
        if let Some(model) = self.listed(id) {
            return Some(Arc::clone(model));
        }
        if id.contains('?') {
            return self.callable_variant(id);
        }
        let (provider, model) = split_model_id(id).ok()?;
        self.providers
            .get(provider)
            .filter(|p| p.allow_unknown_models)
            .map(|_| Arc::new(ModelEntry::unlisted(provider, model)))
    }

    /// A virtual model by its `virtual:name` id.
    ///
    /// ```
    /// let catalogue = elelem_core::catalogue::Catalogue::from_sources([]).unwrap();
    /// assert!(catalogue.virtual_model("virtual:none").is_none());
    /// ```
    pub fn virtual_model(&self, id: &str) -> Option<&VirtualModel> {
        self.virtual_models.get(id)
    }

    /// Every virtual model, sorted by id.
    pub fn virtual_models(&self) -> impl Iterator<Item = &VirtualModel> {
        self.virtual_models.values()
    }

    /// A provider by name.
    pub fn provider(&self, name: &str) -> Option<&ProviderEntry> {
        self.providers.get(name)
    }

    /// Every model, sorted by id (every plugin's models read).
    pub fn models(&self) -> impl Iterator<Item = &ModelEntry> {
        let mut all: Vec<&ModelEntry> = self
            .models
            .values()
            .flat_map(|cell| cell.get().models.values().map(|m| &**m))
            .collect();
        all.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        all.into_iter()
    }

    /// Every provider, sorted by name.
    pub fn providers(&self) -> impl Iterator<Item = &ProviderEntry> {
        self.providers.values()
    }

    /// The ids of a provider's models and their aliases, sorted and
    /// comma-separated (for error messages).
    pub fn model_ids_of(&self, provider: &str) -> String {
        let Some(models) = self.models_of(provider) else {
            return "none".to_owned();
        };
        if let Some(problem) = &models.problem {
            return format!("none (its catalogue does not resolve: {problem})");
        }
        let mut ids: Vec<&str> = models
            .models
            .values()
            .chain(models.aliases.values())
            .map(|m| m.id.as_str())
            .collect();
        ids.sort_unstable();
        if ids.is_empty() {
            "none".to_owned()
        } else {
            ids.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = r#"
        [provider]
        name = "eu"
        base_url = "http://x"
        currency = "EUR"
        fallback_model = "eu:b"
        [[models]]
        id = "eu:a"
        price = { input = "0.15", output = 0.60 }
        [[models]]
        id = "eu:b"
        upstream = "vendor/b"
        currency = "USD"
        price = { input = "1", output = "2", cached_input = "0.5" }
    "#;

    #[test]
    fn eur_prices_are_converted_once_at_the_table_rate() {
        let c = Catalogue::from_sources([("demo", DEMO)]).unwrap();
        let a = c.model("eu:a").unwrap();
        assert_eq!(a.currency, "EUR");
        let prices = a.prices.unwrap();
        // 0.15 EUR x 1.16 = 0.174 USD; 0.60 x 1.16 = 0.696.
        assert_eq!(prices.input.to_string(), "0.174");
        assert_eq!(prices.output.to_string(), "0.696");
        assert_eq!(prices.cached_input, prices.input);
        let b = c.model("eu:b").unwrap();
        assert_eq!(b.upstream, "vendor/b");
        assert_eq!(b.prices.unwrap().cached_input.to_string(), "0.5");
        assert_eq!(b.prices.unwrap().cache_write_input, b.prices.unwrap().input);
    }

    #[test]
    fn cache_writes_have_their_own_price_and_kinds_are_read() {
        let c = Catalogue::from_sources([(
            "t",
            r#"
            [provider]
            name = "local"
            base_url = "http://x"
            kind = "openai-compatible"
            allow_unknown_models = true
            [[models]]
            id = "local:m"
            price = { input = "3", output = "15", cached_input = "0.30", cache_write_input = "3.75" }
            "#,
        )])
        .unwrap();
        let provider = c.provider("local").unwrap();
        assert_eq!(provider.kind.as_deref(), Some("openai-compatible"));
        assert!(provider.allow_unknown_models);
        let prices = c.model("local:m").unwrap().prices.unwrap();
        assert_eq!(prices.cache_write_input.to_string(), "3.75");
        // A file that does not say whether its prices were checked leaves it unknown.
        assert_eq!(c.model("local:m").unwrap().price_verified, None);
        assert_eq!(c.callable_model("local:m").unwrap().prices, Some(prices));
        assert_eq!(c.callable_model("local:other").unwrap().prices, None);
    }

    #[test]
    fn aliases_resolve_and_price_origins_default_to_the_providers() {
        let c = Catalogue::from_sources([(
            "t",
            r#"
            [provider]
            name = "p"
            base_url = "http://x"
            price_source = "https://p.example/pricing"
            price_date = "2026-11-30"
            price_verified = false
            [[models]]
            id = "p:m-latest"
            aliases = ["m-2025-01-01", "m-real"]
            [[models]]
            id = "p:m-real"
            price_source = "https://p.example/other"
            price_verified = true
            "#,
        )])
        .unwrap();
        let snapshot = c.callable_model("p:m-2025-01-01").unwrap();
        assert_eq!(snapshot.id, "p:m-2025-01-01");
        assert_eq!(snapshot.upstream, "m-2025-01-01");
        assert_eq!(
            snapshot.price_source.as_deref(),
            Some("https://p.example/pricing")
        );
        assert_eq!(snapshot.price_date.as_deref(), Some("2026-11-30"));
        assert_eq!(snapshot.price_verified, Some(false));
        // A real entry wins over an alias of the same id.
        let real = c.model("p:m-real").unwrap();
        assert_eq!(
            real.price_source.as_deref(),
            Some("https://p.example/other")
        );
        assert_eq!(real.price_verified, Some(true));
        assert!(real.aliases.is_empty());
        assert_eq!(c.models().count(), 2);
        assert_eq!(c.model_ids_of("p"), "p:m-2025-01-01, p:m-latest, p:m-real");
        let error = ElelemError::UnknownModel {
            model: "p:M-Latest".to_owned(),
            provider: "p".to_owned(),
            known: c.model_ids_of("p"),
        };
        assert!(
            error.to_string().contains("did you mean \"p:m-latest\"?"),
            "{error}"
        );
    }

    #[test]
    fn user_rates_override_the_table() {
        let c = Catalogue::from_sources([("demo", DEMO), ("user", "[currencies]\nEUR = \"2\"")])
            .unwrap();
        assert_eq!(
            c.model("eu:a").unwrap().prices.unwrap().input.to_string(),
            "0.3"
        );
    }

    #[test]
    fn broken_entries_are_refused_with_the_reason() {
        let cases = [
            ("[provider]\nname='p'\nbase_url='u'\nfallback_model='p:nope'", "fallback model"),
            ("[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\ncurrency='XYZ'\nprice={input='1',output='1'}", "unknown currency"),
            ("[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\nprice={input='-1',output='1'}", "negative"),
            ("[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\nprice={output='1'}", "needs `input`"),
            ("[[models]]\nid='q:m'", "no [provider] entry"),
            ("[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='nocolon'", "malformed"),
            ("[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\ncapabilities={telepathy=true}", "telepathy"),
            ("[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\nrelease_date='2025-4-1'", "YYYY-MM-DD"),
            ("[provider]\nname='p'\nbase_url='u'\nprice_date='2025'\n[[models]]\nid='p:m'", "price_date"),
            ("[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\ndeprecation_date='soon'", "deprecation_date"),
            ("[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\nprice_verified='yes'", "expected a boolean"),
            ("[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\naliases=['p:x']", "without the provider"),
            ("[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:a'\naliases=['x']\n[[models]]\nid='p:b'\naliases=['x']", "claimed by both"),
        ];
        for (text, expected) in cases {
            let e = Catalogue::from_sources([("t", text)])
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected), "{text}\n=> {e}");
        }
    }
}
