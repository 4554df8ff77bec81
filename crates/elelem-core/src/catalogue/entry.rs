//! What the catalogue knows about a provider and a model.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::prices::Prices;

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
    /// An embedding model (`POST /embeddings`), not a chat model: model queries
    /// leave it out unless asked for with `ModelQuery::embeddings`.
    pub embedding: bool,
    /// Served by the OpenAI Responses API (`POST /responses`): only such
    /// models take `create_response`.
    pub responses: bool,
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
            embedding: false,
            responses: false,
        }
    }
}

/// What the catalogue says of an embedding model (`embeddings = {...}` in a
/// models file): the size of its vectors and how much one request may carry.
///
/// ```
/// use elelem_core::catalogue::EmbeddingSpec;
/// let spec: EmbeddingSpec = toml::from_str("dimensions = 1536\nmax_inputs = 2048").unwrap();
/// assert_eq!(spec.max_inputs, Some(2048));
/// assert_eq!(spec.max_request_tokens, None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingSpec {
    /// The size of its vectors by default.
    pub dimensions: Option<u32>,
    /// The most inputs one request may hold (OpenAI: 2,048; Gemini: 100).
    pub max_inputs: Option<u32>,
    /// The most input tokens one request may hold, all inputs together (OpenAI:
    /// 300,000).
    pub max_request_tokens: Option<u64>,
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
    /// Other names the provider's API accepts for this model (a dated snapshot,
    /// a `-latest` alias); `provider:alias` resolves to this entry.
    pub aliases: Vec<String>,
    /// Where the prices were read (a URL), when the catalogue says.
    pub price_source: Option<String>,
    /// When the prices were read, `YYYY-MM-DD`, when the catalogue says.
    pub price_date: Option<String>,
    /// Whether the prices were checked against `price_source` on `price_date`
    /// (`Some(true)`), are known not to have been (`Some(false)`: written from
    /// memory or a secondary table; verify before billing decisions rest on them),
    /// or the catalogue does not say (`None`).
    pub price_verified: Option<bool>,
    /// The date the provider retires (or retired) the model, `YYYY-MM-DD`, when known.
    pub deprecation_date: Option<String>,
    /// For an embedding model, its vector size and per-request limits.
    pub embeddings: Option<EmbeddingSpec>,
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
            aliases: Vec::new(),
            price_source: None,
            price_date: None,
            price_verified: None,
            deprecation_date: None,
            embeddings: None,
        }
    }
}
