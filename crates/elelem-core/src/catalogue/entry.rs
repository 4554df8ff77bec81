//! What the catalogue knows about a provider and a model.

use serde::Deserialize;
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
}

/// What a model can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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
    /// input x cached price + output (reasoning included) x output price.
    ///
    /// ```
    /// use elelem_core::catalogue::Prices;
    /// use elelem_core::{PricePerMillion, Usage, Usd};
    /// let prices = Prices {
    ///     input: "2.00".parse().unwrap(),
    ///     cached_input: "0.50".parse().unwrap(),
    ///     output: "8.00".parse().unwrap(),
    /// };
    /// let usage: Usage = serde_json::from_str(r#"{"prompt_tokens":1000000,"completion_tokens":1000000,
    ///     "prompt_tokens_details":{"cached_tokens":500000}}"#).unwrap();
    /// let cost = prices.cost(&usage);
    /// assert_eq!(cost.input, "1.25".parse::<Usd>().unwrap());
    /// assert_eq!(cost.total(), "9.25".parse::<Usd>().unwrap());
    /// ```
    pub fn cost(&self, usage: &Usage) -> CostBreakdown {
        let prompt = usage.prompt_tokens.unwrap_or(0);
        let cached = usage.cached_tokens().unwrap_or(0).min(prompt);
        let output = usage.completion_tokens.unwrap_or(0);
        let reasoning = usage.reasoning_tokens().unwrap_or(0);
        CostBreakdown {
            input: self.input.cost_of(prompt - cached) + self.cached_input.cost_of(cached),
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
}
