//! The Ollama provider for Elelem: local models through Ollama's native
//! `POST /api/chat` at `http://localhost:11434` (no key needed).
//!
//! Requests are mapped from the OpenAI shape: `stream: false`; JSON mode becomes
//! `format: "json"`, a native JSON schema becomes `format: <schema>`;
//! `temperature`, `max_tokens` (as `num_predict`), `top_p`, `seed`, `stop`, ...
//! go into `options`; images (base64 data URLs) into `images`; `tools`,
//! `keep_alive` and `think` pass through. Answers are mapped back to a
//! `chat.completion`: `prompt_eval_count` / `eval_count` become the usage (a
//! count Ollama leaves out, as it does for a fully cached prompt, stays unknown),
//! `done_reason` the finish reason, `message.thinking` the reasoning, and the
//! timings (nanoseconds) are kept under `x_ollama`.
//!
//! Streaming sends `stream: true` and reads Ollama's newline-delimited JSON
//! records: `message.content` pieces become `content` deltas, `message.thinking`
//! `reasoning_content`, and the last record (`done: true`) gives the finish
//! reason and a final chunk with the usage. A body ending before that record is
//! an error, so the stream is recorded as interrupted.
//!
//! Any local model may be called (`ollama:mistral-nemo`): the provider allows
//! models that are not in the catalogue. Ollama models have **no price**: a local
//! model's cost (hardware, power) is not something Elelem can know, so every
//! Ollama call is recorded with an unknown cost and counted in
//! `Stats::unpriced_calls`. If you want them counted as free, give the model
//! `price = { input = "0", output = "0" }` in your models file.
//!
//! `Provider::list_models` answers the models pulled on the server
//! (`GET /api/tags`). A base URL ending in `/v1` or `/api` (Ollama's
//! OpenAI-compatible and native prefixes) is accepted and trimmed to the root.
//!
//! ```
//! use elelem_ollama as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "ollama");
//! assert!(plugin.is_some());
//! ```

mod convert;
mod embed;
mod stream;

use std::sync::Arc;

use serde_json::Value;

use elelem_core::provider::{
    EmbeddingReply, EmbeddingWireRequest, Provider, ProviderError, ProviderPlugin,
    ProviderResponse, ProviderSettings, WireRequest,
};
use elelem_core::{ElelemError, ModelInfo, ModelList};
use elelem_openai::native::provider_response;
use elelem_transport::{HttpClient, HttpReply, HttpRequest, Mapped, Mapping, NdjsonFraming};

/// The Ollama catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/ollama.toml");

/// Ollama's default address.
pub const DEFAULT_BASE_URL: &str = "http://localhost:11434";

/// The Ollama provider: one `POST /api/chat` per attempt. It is a pure
/// translation ([`Mapping`]); `Mapped::new(ollama)` is the [`Provider`].
///
/// ```
/// # use std::time::Duration;
/// let provider = elelem_ollama::Ollama::new(elelem_core::provider::ProviderSettings {
///     name: "ollama".into(), base_url: "http://127.0.0.1:11434/v1".into(),
///     api_key: None, api_key_env: None,
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// }).unwrap();
/// assert_eq!(provider.chat_url(), "http://127.0.0.1:11434/api/chat");
/// ```
#[derive(Debug, Clone)]
pub struct Ollama {
    http: HttpClient,
    root: String,
    chat_url: elelem_transport::Url,
}

impl Ollama {
    /// A provider for these settings. A key, when set, is sent as a bearer token
    /// (for an Ollama behind an authenticating proxy).
    pub fn new(settings: ProviderSettings) -> Result<Self, ElelemError> {
        let http = HttpClient::new(settings)?.with_key_header("authorization", "Bearer ")?;
        let mut root = http.base_url();
        for suffix in ["/v1", "/api"] {
            root = root.strip_suffix(suffix).unwrap_or(root);
        }
        let root = root.to_owned();
        let chat_url = elelem_transport::endpoint_url(http.name(), format!("{root}/api/chat"))?;
        Ok(Ollama {
            chat_url,
            root,
            http,
        })
    }

    /// The chat URL (`{root}/api/chat`).
    pub fn chat_url(&self) -> &str {
        self.chat_url.as_str()
    }
}

/// Ollama as a pure translation; [`Mapped`] does the I/O.
impl Mapping for Ollama {
    type Framing = NdjsonFraming;
    type Records = stream::Mapper;

    fn client(&self) -> &HttpClient {
        &self.http
    }

    fn chat_request(
        &self,
        request: &WireRequest,
        stream: bool,
    ) -> Result<HttpRequest, ProviderError> {
        let mut body = convert::chat_request(request);
        if let Value::Object(fields) = &mut body {
            fields.insert("stream".into(), Value::Bool(stream));
        }
        HttpRequest::json_to(&self.chat_url, &body).map_err(|e| {
            self.http
                .invalid_piece(format!("cannot encode the request: {e}"), "")
        })
    }

    fn chat_response(&self, reply: HttpReply) -> Result<ProviderResponse, ProviderError> {
        let answer: Value = self.http.decode(&reply)?;
        provider_response(&self.http, reply, convert::completion(&answer))
    }

    fn stream(&self) -> (NdjsonFraming, stream::Mapper) {
        (
            NdjsonFraming::with_limit(self.http.settings().max_response_bytes),
            stream::Mapper::new(self.http.clone()),
        )
    }

    fn embeddings_request(
        &self,
        request: &EmbeddingWireRequest,
    ) -> Result<HttpRequest, ProviderError> {
        HttpRequest::json(format!("{}/api/embed", self.root), &embed::body(request)).map_err(|e| {
            self.http
                .invalid_piece(format!("cannot encode the request: {e}"), "")
        })
    }

    fn embeddings_response(
        &self,
        _request: &EmbeddingWireRequest,
        reply: HttpReply,
    ) -> Result<EmbeddingReply, ProviderError> {
        embed::response(&self.http, reply)
    }

    fn models_url(&self) -> Option<String> {
        Some(format!("{}/api/tags", self.root))
    }

    fn models_response(&self, reply: HttpReply) -> Result<ModelList, ProviderError> {
        let tags: Value = self.http.decode(&reply)?;
        let provider = self.http.name();
        let mut data: Vec<ModelInfo> = tags
            .get("models")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|model| {
                let name = model
                    .get("name")
                    .or_else(|| model.get("model"))
                    .and_then(Value::as_str)?;
                Some(ModelInfo {
                    id: format!("{provider}:{name}"),
                    object: "model".into(),
                    created: model
                        .get("modified_at")
                        .and_then(Value::as_str)
                        .and_then(convert::unix_seconds)
                        .unwrap_or(0),
                    owned_by: provider.to_owned(),
                    available: true,
                })
            })
            .collect();
        data.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(ModelList {
            object: "list".into(),
            data,
        })
    }
}

/// Builds the `ollama` provider.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "ollama".into(), base_url: elelem_ollama::DEFAULT_BASE_URL.into(),
///     api_key: None, api_key_env: None,
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_ollama::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    Ok(Arc::new(Mapped::new(Ollama::new(settings)?)))
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: "ollama", catalogue: CATALOGUE, build }
}
