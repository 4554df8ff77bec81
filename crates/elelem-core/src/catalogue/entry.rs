//! What the catalogue knows about a provider and a model.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::money::{PricePerMillion, Usd};
use crate::types::Usage;

/// A provider's catalogue entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEntry {
    /// The provider's name.
    pub name: String,
    /// Base URL of its OpenAI-compatible API.
    pub base_url: String,
    /// The environment variable holding its key (`None`: no key needed).
    pub api_key_env: Option<String>,
    /// The model tried after JSON retries fail.
    pub fallback_model: Option<String>,
    /// Parameters sent with every request.
    pub default_params: Map<String, Value>,
    /// The plugin that serves this provider when it is not the one of the same
    /// name (`"openai-compatible"` for a user's vLLM server named `local`).
    pub kind: Option<String>,
    /// Whether model ids missing from the catalogue may be called (local servers,
    /// gateways): they get default capabilities and no price.
    pub allow_unknown_models: bool,
}

/// What a model can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Capabilities {
    /// Accepts `response_format: {"type": "json_object"}`.
    pub json_mode: bool,
    /// Accepts `response_format: {"type": "json_schema", ...}`.
    pub json_schema: bool,
    /// Accepts `temperature`.
    pub temperature: bool,
    /// Accepts `system` messages.
    pub system_role: bool,
    /// Supports tool calls.
    pub tools: bool,
    /// Accepts images.
    pub vision: bool,
    /// Produces reasoning (hidden tokens or `<think>` blocks).
    pub reasoning: bool,
    /// Accepts `reasoning_effort` (removed from requests to other models).
    pub reasoning_effort: bool,
    /// Accepts `top_k` (not an OpenAI field; removed from requests to models
    /// that say `top_k = false`).
    pub top_k: bool,
    /// Offers constrained decoding as vLLM's `structured_outputs` field.
    pub structured_outputs: bool,
    /// Offers constrained decoding as vLLM's older `guided_*` fields.
    pub guided_decoding: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            json_mode: true,
            json_schema: false,
            temperature: true,
            system_role: true,
            tools: false,
            vision: false,
            reasoning: false,
            reasoning_effort: false,
            top_k: true,
            structured_outputs: false,
            guided_decoding: false,
        }
    }
}

/// A model's prices in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices {
    /// Uncached input.
    pub input: PricePerMillion,
    /// Cached input (the input price when the provider has no discount).
    pub cached_input: PricePerMillion,
    /// Output, reasoning included.
    pub output: PricePerMillion,
    /// Input written to the provider's prompt cache (Anthropic's cache writes; the
    /// input price when the provider charges nothing extra).
    pub cache_write_input: PricePerMillion,
}

/// The exact cost of one response, split as the stats report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostBreakdown {
    /// Input cost (cached and uncached).
    pub input: Usd,
    /// Output cost (reasoning included).
    pub output: Usd,
    /// The part of `output` spent on reasoning tokens.
    pub reasoning: Usd,
}

impl CostBreakdown {
    /// Input plus output.
    pub fn total(&self) -> Usd {
        self.input + self.output
    }
}

impl Prices {
    /// The exact cost of a response's usage: uncached input x input price + cached
    /// input x cached price + input written to the cache x cache-write price +
    /// output (reasoning included) x output price.
    ///
    /// ```
    /// use elelem_core::catalogue::Prices;
    /// use elelem_core::{PricePerMillion, Usage, Usd};
    /// let prices = Prices {
    ///     input: "2.00".parse().unwrap(),
    ///     cached_input: "0.50".parse().unwrap(),
    ///     output: "8.00".parse().unwrap(),
    ///     cache_write_input: "2.50".parse().unwrap(),
    /// };
    /// let usage: Usage = serde_json::from_str(r#"{"prompt_tokens":1000000,"completion_tokens":1000000,
    ///     "prompt_tokens_details":{"cached_tokens":500000}}"#).unwrap();
    /// let cost = prices.cost(&usage);
    /// assert_eq!(cost.input, "1.25".parse::<Usd>().unwrap());
    /// assert_eq!(cost.total(), "9.25".parse::<Usd>().unwrap());
    /// // 200k of the uncached input were written to the cache, at 2.50.
    /// let usage: Usage = serde_json::from_str(r#"{"prompt_tokens":1000000,"completion_tokens":0,
    ///     "prompt_tokens_details":{"cached_tokens":500000,"cache_write_tokens":200000}}"#).unwrap();
    /// assert_eq!(prices.cost(&usage).input, "1.35".parse::<Usd>().unwrap());
    /// ```
    pub fn cost(&self, usage: &Usage) -> CostBreakdown {
        let prompt = usage.prompt_tokens.unwrap_or(0);
        let cached = usage.cached_tokens().unwrap_or(0).min(prompt);
        let written = usage.cache_write_tokens().unwrap_or(0).min(prompt - cached);
        let output = usage.completion_tokens.unwrap_or(0);
        let reasoning = usage.reasoning_tokens().unwrap_or(0);
        CostBreakdown {
            input: self.input.cost_of(prompt - cached - written)
                + self.cached_input.cost_of(cached)
                + self.cache_write_input.cost_of(written),
            output: self.output.cost_of(output),
            reasoning: self.output.cost_of(reasoning),
        }
    }
}

/// A model's catalogue entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelEntry {
    /// The `provider:model` id.
    pub id: String,
    /// The provider's name.
    pub provider: String,
    /// The id the provider's API expects.
    pub upstream: String,
    /// Prices in USD (converted from the catalogue's currency), when known.
    pub prices: Option<Prices>,
    /// The currency the catalogue lists the prices in.
    pub currency: String,
    /// Context window in tokens.
    pub context_window: Option<u64>,
    /// Output token limit.
    pub max_output: Option<u64>,
    /// What the model can do.
    pub capabilities: Capabilities,
    /// The request field for the output token limit (`max_tokens` or `max_completion_tokens`).
    pub max_tokens_field: String,
    /// Parameters sent with every request to this model.
    pub default_params: Map<String, Value>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Whether the provider has deprecated the model (it may stop working).
    pub deprecated: bool,
    /// A free-form tier (`flagship`, `mini`, `reasoning`, ...), when known.
    pub tier: Option<String>,
    /// The release date, `YYYY-MM-DD`, when known.
    pub release_date: Option<String>,
}

impl ModelEntry {
    /// The entry of a model the catalogue does not list, on a provider that allows
    /// unknown models: the upstream id is the part after the `:`, the capabilities
    /// are the defaults and the price is unknown.
    ///
    /// ```
    /// let m = elelem_core::catalogue::ModelEntry::unlisted("local", "llama-3.1-8b");
    /// assert_eq!(m.id, "local:llama-3.1-8b");
    /// assert_eq!(m.upstream, "llama-3.1-8b");
    /// assert!(m.prices.is_none());
    /// ```
    pub fn unlisted(provider: &str, model: &str) -> ModelEntry {
        ModelEntry {
            id: format!("{provider}:{model}"),
            provider: provider.to_owned(),
            upstream: model.to_owned(),
            prices: None,
            currency: "USD".to_owned(),
            context_window: None,
            max_output: None,
            capabilities: Capabilities::default(),
            max_tokens_field: "max_tokens".to_owned(),
            default_params: Map::new(),
            notes: None,
            deprecated: false,
            tier: None,
            release_date: None,
        }
    }
}
