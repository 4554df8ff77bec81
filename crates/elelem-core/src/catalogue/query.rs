//! Queries over the catalogue: filter models by what they can do and cost, compare
//! them side by side, and find the cheapest one that fits.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::{Capabilities, Catalogue, ModelEntry};
use crate::error::ElelemError;
use crate::money::PricePerMillion;

type Predicate<'a> = Box<dyn Fn(&ModelEntry) -> bool + 'a>;

/// A filter over the catalogue's models, built step by step; every step narrows it.
/// Results are sorted by model id.
///
/// ```
/// use elelem_core::catalogue::Catalogue;
/// let catalogue = Catalogue::from_sources([("demo", r#"
///     [provider]
///     name = "demo"
///     base_url = "http://127.0.0.1:1/v1"
///     [[models]]
///     id = "demo:small"
///     context_window = 8192
///     price = { input = "0.10", output = "0.40" }
///     [[models]]
///     id = "demo:big"
///     context_window = 131072
///     price = { input = "1.00", output = "4.00" }
///     capabilities = { json_schema = true }
///     [[models]]
///     id = "demo:old"
///     context_window = 131072
///     price = { input = "0.05", output = "0.05" }
///     capabilities = { json_schema = true }
///     deprecated = true
/// "#)]).unwrap();
/// let ids = catalogue.query().min_context(100_000).json_schema().exclude_deprecated().ids();
/// assert_eq!(ids, ["demo:big"]);
/// assert_eq!(catalogue.query().min_context(100_000).cheapest().unwrap().id, "demo:old");
/// assert_eq!(catalogue.query().max_output_price("1".parse().unwrap()).ids(), ["demo:old", "demo:small"]);
/// ```
#[must_use]
pub struct ModelQuery<'a> {
    models: Vec<&'a ModelEntry>,
    ready: Option<BTreeSet<String>>,
    predicates: Vec<Predicate<'a>>,
    /// Whether the query is over embedding models rather than chat models.
    embeddings: bool,
}

impl fmt::Debug for ModelQuery<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelQuery")
            .field("models", &self.models.len())
            .field("filters", &self.predicates.len())
            .finish()
    }
}

impl<'a> ModelQuery<'a> {
    /// Every model of `catalogue`; `ready` names the providers a client can call
    /// (for [`ModelQuery::available_only`]).
    pub(crate) fn new(catalogue: &'a Catalogue, ready: Option<BTreeSet<String>>) -> Self {
        ModelQuery {
            models: catalogue.models().collect(),
            ready,
            predicates: Vec::new(),
            embeddings: false,
        }
    }

    /// Keeps models matching `predicate`.
    pub fn filter(mut self, predicate: impl Fn(&ModelEntry) -> bool + 'a) -> Self {
        self.predicates.push(Box::new(predicate));
        self
    }

    /// Keeps the models of one provider.
    pub fn provider(self, provider: impl Into<String>) -> Self {
        let provider = provider.into();
        self.filter(move |m| m.provider == provider)
    }

    /// Keeps models whose context window is known and at least `tokens`.
    pub fn min_context(self, tokens: u64) -> Self {
        self.filter(move |m| m.context_window.is_some_and(|w| w >= tokens))
    }

    /// Keeps models whose output limit is known and at least `tokens`.
    pub fn min_output(self, tokens: u64) -> Self {
        self.filter(move |m| m.max_output.is_some_and(|w| w >= tokens))
    }

    /// Keeps models having every capability set in `needed` (`json_mode`,
    /// `json_schema`, `tools`, `vision`, `reasoning`, `system_role`, `temperature`).
    /// Capabilities left `false` in `needed` do not matter.
    ///
    /// ```
    /// use elelem_core::catalogue::{Capabilities, Catalogue};
    /// let needed = Capabilities { json_mode: false, temperature: false, system_role: false, tools: true, vision: true, ..Default::default() };
    /// let c = Catalogue::from_sources([("t", "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:a'\ncapabilities={tools=true,vision=true}\n[[models]]\nid='p:b'\ncapabilities={tools=true}")]).unwrap();
    /// assert_eq!(c.query().capabilities(needed).ids(), ["p:a"]);
    /// ```
    pub fn capabilities(self, needed: Capabilities) -> Self {
        self.filter(move |m| {
            let has = m.capabilities;
            (!needed.json_mode || has.json_mode)
                && (!needed.json_schema || has.json_schema)
                && (!needed.temperature || has.temperature)
                && (!needed.system_role || has.system_role)
                && (!needed.tools || has.tools)
                && (!needed.vision || has.vision)
                && (!needed.reasoning || has.reasoning)
        })
    }

    /// Keeps models accepting a native `json_schema` response format.
    pub fn json_schema(self) -> Self {
        self.filter(|m| m.capabilities.json_schema)
    }

    /// Keeps models supporting tool calls.
    pub fn tools(self) -> Self {
        self.filter(|m| m.capabilities.tools)
    }

    /// Keeps models accepting images.
    pub fn vision(self) -> Self {
        self.filter(|m| m.capabilities.vision)
    }

    /// Keeps reasoning models.
    pub fn reasoning(self) -> Self {
        self.filter(|m| m.capabilities.reasoning)
    }

    /// Keeps models whose uncached input price (USD per 1M tokens) is known and at
    /// most `price`.
    pub fn max_input_price(self, price: PricePerMillion) -> Self {
        self.filter(move |m| m.prices.is_some_and(|p| p.input <= price))
    }

    /// Keeps models whose output price (USD per 1M tokens) is known and at most
    /// `price`.
    pub fn max_output_price(self, price: PricePerMillion) -> Self {
        self.filter(move |m| m.prices.is_some_and(|p| p.output <= price))
    }

    /// Keeps models whose price is known.
    pub fn priced(self) -> Self {
        self.filter(|m| m.prices.is_some())
    }

    /// Drops models marked `deprecated` in the catalogue.
    pub fn exclude_deprecated(self) -> Self {
        self.filter(|m| !m.deprecated)
    }

    /// Keeps models of a given tier.
    pub fn tier(self, tier: impl Into<String>) -> Self {
        let tier = tier.into();
        self.filter(move |m| m.tier.as_deref() == Some(tier.as_str()))
    }

    /// Keeps models the client can call (provider linked and key set). No effect on
    /// a query made from a bare [`Catalogue`].
    pub fn available_only(self) -> Self {
        match self.ready.clone() {
            Some(ready) => self.filter(move |m| ready.contains(&m.provider)),
            None => self,
        }
    }

    /// Queries embedding models instead of chat models (which a query covers by
    /// default).
    ///
    /// ```
    /// let c = elelem_core::catalogue::Catalogue::from_sources([("t", "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:chat'\n[[models]]\nid='p:embed'\ncapabilities={embedding=true}")]).unwrap();
    /// assert_eq!(c.query().ids(), ["p:chat"]);
    /// assert_eq!(c.query().embeddings().ids(), ["p:embed"]);
    /// ```
    pub fn embeddings(mut self) -> Self {
        self.embeddings = true;
        self
    }

    /// The matching models, sorted by id.
    pub fn list(self) -> Vec<&'a ModelEntry> {
        let ModelQuery {
            models,
            predicates,
            embeddings,
            ..
        } = self;
        models
            .into_iter()
            .filter(|m| m.capabilities.embedding == embeddings)
            .filter(|m| predicates.iter().all(|p| p(m)))
            .collect()
    }

    /// The ids of the matching models, sorted.
    pub fn ids(self) -> Vec<String> {
        self.list().into_iter().map(|m| m.id.clone()).collect()
    }

    /// The matching model that would answer `input_tokens` in and `output_tokens`
    /// out most cheaply (ties: the first id); models without a price are skipped.
    pub fn cheapest_for(self, input_tokens: u64, output_tokens: u64) -> Option<&'a ModelEntry> {
        self.list()
            .into_iter()
            .filter_map(|m| {
                let p = m.prices?;
                Some((
                    p.input.cost_of(input_tokens) + p.output.cost_of(output_tokens),
                    m,
                ))
            })
            .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)))
            .map(|(_, m)| m)
    }

    /// The matching model with the lowest input price + output price per 1M tokens
    /// (see [`ModelQuery::cheapest_for`] for a given token mix).
    pub fn cheapest(self) -> Option<&'a ModelEntry> {
        self.cheapest_for(1_000_000, 1_000_000)
    }
}

/// One model's facts, as [`Catalogue::compare`] lists them. Prices are exact
/// decimal strings of USD per 1M tokens (converted from the catalogue's currency).
///
/// ```
/// let c = elelem_core::catalogue::Catalogue::from_sources([("t",
///     "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\nprice={input='0.5',output='2'}\nrelease_date='2025-01-31'")]).unwrap();
/// let facts = elelem_core::catalogue::ModelFacts::of(c.model("p:m").unwrap());
/// assert_eq!(facts.output_price.as_deref(), Some("2"));
/// assert_eq!(facts.release_date.as_deref(), Some("2025-01-31"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFacts {
    /// The `provider:model` id.
    pub id: String,
    /// The provider.
    pub provider: String,
    /// The id the provider's API expects.
    pub upstream: String,
    /// Context window in tokens.
    pub context_window: Option<u64>,
    /// Output token limit.
    pub max_output: Option<u64>,
    /// Uncached input price.
    pub input_price: Option<String>,
    /// Cached input price.
    pub cached_input_price: Option<String>,
    /// Output price.
    pub output_price: Option<String>,
    /// The currency the catalogue lists the prices in.
    pub currency: String,
    /// What the model can do.
    pub capabilities: Capabilities,
    /// Whether the model is deprecated.
    pub deprecated: bool,
    /// Its tier, when known.
    pub tier: Option<String>,
    /// Its release date, when known.
    pub release_date: Option<String>,
    /// Free-text notes.
    pub notes: Option<String>,
}

impl ModelFacts {
    /// The facts of a catalogue entry.
    pub fn of(model: &ModelEntry) -> Self {
        ModelFacts {
            id: model.id.clone(),
            provider: model.provider.clone(),
            upstream: model.upstream.clone(),
            context_window: model.context_window,
            max_output: model.max_output,
            input_price: model.prices.map(|p| p.input.to_string()),
            cached_input_price: model.prices.map(|p| p.cached_input.to_string()),
            output_price: model.prices.map(|p| p.output.to_string()),
            currency: model.currency.clone(),
            capabilities: model.capabilities,
            deprecated: model.deprecated,
            tier: model.tier.clone(),
            release_date: model.release_date.clone(),
            notes: model.notes.clone(),
        }
    }
}

/// Models side by side (see [`Catalogue::compare`]). Serializes as
/// `{"models": [...]}`; [`ModelComparison::to_markdown`] renders a table with one
/// column per model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelComparison {
    /// The models, in the order asked for.
    pub models: Vec<ModelFacts>,
}

impl ModelComparison {
    /// A Markdown table: one row per fact, one column per model.
    ///
    /// ```
    /// let c = elelem_core::catalogue::Catalogue::from_sources([("t",
    ///     "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:a'\n[[models]]\nid='p:b'\ncontext_window=8192")]).unwrap();
    /// let table = c.compare(&["p:a", "p:b"]).unwrap().to_markdown();
    /// assert!(table.starts_with("| | p:a | p:b |"));
    /// assert!(table.contains("| context window | - | 8192 |"));
    /// ```
    pub fn to_markdown(&self) -> String {
        let columns: Vec<Vec<(&str, String)>> = self.models.iter().map(ModelFacts::cells).collect();
        let mut out = String::from("| |");
        for m in &self.models {
            out.push_str(&format!(" {} |", m.id));
        }
        out.push_str("\n|---|");
        for _ in &self.models {
            out.push_str("---|");
        }
        let rows = columns.first().map_or(0, Vec::len);
        for row in 0..rows {
            let name = columns.first().and_then(|c| c.get(row)).map_or("", |c| c.0);
            out.push_str(&format!("\n| {name} |"));
            for column in &columns {
                let cell = column.get(row).map_or("", |c| c.1.as_str());
                out.push_str(&format!(" {cell} |"));
            }
        }
        out.push('\n');
        out
    }
}

impl ModelFacts {
    /// The facts as (row name, cell text), in table order.
    fn cells(&self) -> Vec<(&'static str, String)> {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
        let yes = |b: bool| if b { "yes" } else { "no" }.to_owned();
        let caps = self.capabilities;
        vec![
            ("provider", self.provider.clone()),
            ("upstream", self.upstream.clone()),
            (
                "context window",
                opt(self.context_window.map(|n| n.to_string())),
            ),
            ("max output", opt(self.max_output.map(|n| n.to_string()))),
            ("input $/1M", opt(self.input_price.clone())),
            ("cached input $/1M", opt(self.cached_input_price.clone())),
            ("output $/1M", opt(self.output_price.clone())),
            ("json_schema", yes(caps.json_schema)),
            ("tools", yes(caps.tools)),
            ("vision", yes(caps.vision)),
            ("reasoning", yes(caps.reasoning)),
            ("deprecated", yes(self.deprecated)),
            ("tier", opt(self.tier.clone())),
            ("release date", opt(self.release_date.clone())),
        ]
    }
}

impl Catalogue {
    /// A query over every model (see [`ModelQuery`]).
    ///
    /// ```
    /// let c = elelem_core::catalogue::Catalogue::from_sources([("t", "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'")]).unwrap();
    /// assert_eq!(c.query().ids(), ["p:m"]);
    /// ```
    pub fn query(&self) -> ModelQuery<'_> {
        ModelQuery::new(self, None)
    }

    /// The facts of `ids`, side by side, in the order given.
    ///
    /// # Errors
    ///
    /// [`ElelemError::UnknownModel`] (or `MalformedModel`) for an id not in the
    /// catalogue.
    ///
    /// ```
    /// let c = elelem_core::catalogue::Catalogue::from_sources([("t", "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'")]).unwrap();
    /// let table = c.compare(&["p:m"]).unwrap();
    /// assert_eq!(serde_json::to_value(&table).unwrap()["models"][0]["id"], "p:m");
    /// assert!(c.compare(&["p:nope"]).is_err());
    /// ```
    pub fn compare(&self, ids: &[&str]) -> Result<ModelComparison, ElelemError> {
        let models = ids
            .iter()
            .map(|id| {
                let (provider, _) = super::split_model_id(id)?;
                self.model(id)
                    .map(ModelFacts::of)
                    .ok_or_else(|| ElelemError::UnknownModel {
                        model: (*id).to_owned(),
                        provider: provider.to_owned(),
                        known: self.model_ids_of(provider),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(ModelComparison { models })
    }
}
