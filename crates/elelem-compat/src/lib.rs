//! The `openai-compatible` provider plugin for Elelem: any server that speaks the
//! OpenAI chat completions protocol at a base URL you give (vLLM, the llama.cpp
//! server, LM Studio, a LiteLLM proxy, a company gateway).
//!
//! The plugin has no models and no fixed endpoint. You name a provider, point it
//! at your server, and call any model on it:
//!
//! ```no_run
//! # async fn demo() -> Result<(), elelem_core::ElelemError> {
//! use elelem_core::{ChatRequest, Elelem, Message};
//! use elelem_compat as _; // links the plugin (the `compat` feature of `elelem`)
//!
//! let elelem = Elelem::builder()
//!     .openai_compatible("local", "http://127.0.0.1:8000/v1", None)
//!     .build()?;
//! let answer = elelem
//!     .create_chat_completion(ChatRequest::new("local:llama-3.1-8b", vec![Message::user("Hi")]))
//!     .await?;
//! # let _ = answer;
//! # Ok(()) }
//! ```
//!
//! or, equivalently, in a models file:
//!
//! ```toml
//! [[providers]]
//! name = "local"
//! kind = "openai-compatible"          # served by this plugin
//! base_url = "http://127.0.0.1:8000/v1"
//! api_key_env = "LOCAL_API_KEY"       # optional: a key in this variable is sent
//! allow_unknown_models = true         # any model id is accepted
//!
//! [[models]]                          # optional: prices and capabilities
//! id = "local:llama-3.1-8b"
//! upstream = "meta-llama/Llama-3.1-8B-Instruct"
//! price = { input = "0", output = "0" }
//! ```
//!
//! A model that is not listed gets default capabilities (`json_mode` on) and no
//! price: its cost is recorded as unknown (`UsageRecord::price_known` is false,
//! the cost zero) and `Stats::unpriced_calls` counts it. If your server rejects
//! `response_format`, list the model with `capabilities = { json_mode = false }`
//! and Elelem asks for JSON in the instructions instead.
//!
//! The key is optional: with none, no `Authorization` header is sent.
//!
//! ```
//! use elelem_compat as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "openai-compatible");
//! assert!(plugin.is_some());
//! ```

use std::sync::Arc;

use elelem_core::provider::{Provider, ProviderPlugin, ProviderSettings};
use elelem_core::ElelemError;
use elelem_openai::{NoQuirks, OpenAiCompatible};

/// The plugin's name, used as `kind` by the providers it serves.
pub const KIND: &str = "openai-compatible";

/// The plugin's own catalogue: a provider entry with no models. Its base URL is a
/// placeholder (a local vLLM's default port); real servers are separate providers
/// with `kind = "openai-compatible"`.
pub const CATALOGUE: &str = r#"
[provider]
name = "openai-compatible"
base_url = "http://127.0.0.1:8000/v1"
allow_unknown_models = true
"#;

/// Builds an OpenAI-protocol provider for these settings (any name, any base URL,
/// an optional key).
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "local".into(), base_url: "http://127.0.0.1:8000/v1".into(),
///     api_key: None, api_key_env: None,
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_compat::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    OpenAiCompatible::provider(settings, Arc::new(NoQuirks))
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: KIND, catalogue: CATALOGUE, build }
}
