//! The Gemini provider for Elelem: Google's native `generateContent` API
//! (`POST https://generativelanguage.googleapis.com/v1beta/models/{model}:generateContent`,
//! key in `GEMINI_API_KEY` sent as `x-goog-api-key`).
//!
//! Requests are mapped from the OpenAI shape: system messages become
//! `systemInstruction`, the conversation `contents` with roles `user` and
//! `model` (images as `inlineData` / `fileData`, tool calls and results as
//! `functionCall` / `functionResponse` parts); `temperature`, `max_tokens` (as
//! `maxOutputTokens`), `top_p`, `stop`, `seed` go into `generationConfig`. JSON
//! mode sets `responseMimeType: "application/json"`; a native JSON schema (models
//! with `json_schema` in the catalogue) is also sent as `responseSchema`, in
//! Gemini's schema dialect (the answer is still validated against your full
//! schema). `reasoning_effort` becomes a `thinkingConfig.thinkingBudget` as on
//! Google's OpenAI-compatible endpoint; a `generationConfig` object given with
//! `.extra(...)` is merged last (e.g. `{"thinkingConfig": {"includeThoughts":
//! true}}`).
//!
//! Answers are mapped back to a `chat.completion`: text parts are the content,
//! parts with `thought: true` the reasoning, `functionCall` parts the
//! `tool_calls`; `finishReason` `STOP` becomes `stop`, `MAX_TOKENS` `length`,
//! `SAFETY` and the other blocking reasons `content_filter`. Usage:
//! `promptTokenCount` (cached tokens included) is `prompt_tokens`,
//! `cachedContentTokenCount` `cached_tokens`, and thinking is billed as output:
//! `completion_tokens` = `candidatesTokenCount` + `thoughtsTokenCount`,
//! `reasoning_tokens` = `thoughtsTokenCount`.
//!
//! Streaming uses `:streamGenerateContent?alt=sse`: each event is a response
//! holding the next parts, mapped like a whole answer into a chunk (text to
//! `content`, thought parts to `reasoning_content`, `finishReason` to the finish
//! reason); after the last event a final chunk carries the last
//! `usageMetadata` as usage. A body ending before a response with a
//! `finishReason` is an error, so the stream is recorded as interrupted.
//!
//! A 429 `RESOURCE_EXHAUSTED` waits for the `retryDelay` of its `RetryInfo`
//! detail when there is one; a 503 `UNAVAILABLE` (model overloaded) is retried
//! like any 5xx.
//!
//! ```
//! use elelem_gemini as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "gemini");
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
use elelem_core::ElelemError;
use elelem_openai::native::provider_response;
use elelem_transport::{
    HttpClient, HttpReply, HttpRequest, Mapped, Mapping, ModelUrls, SseFraming,
};

/// The Gemini catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/gemini.toml");

/// The Gemini provider: one `POST {base}/models/{model}:generateContent` per
/// attempt. It is a pure translation ([`Mapping`]); `Mapped::new(gemini)` is the
/// [`Provider`].
///
/// ```
/// # use std::time::Duration;
/// let provider = elelem_gemini::Gemini::new(elelem_core::provider::ProviderSettings {
///     name: "gemini".into(), base_url: "https://generativelanguage.googleapis.com/v1beta".into(),
///     api_key: Some("AIza-test".into()), api_key_env: Some("GEMINI_API_KEY".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// }).unwrap();
/// assert_eq!(
///     provider.generate_url("gemini-2.5-flash"),
///     "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Gemini {
    http: HttpClient,
    /// `generateContent` and streaming URLs, parsed once per model.
    generate_urls: ModelUrls,
    stream_urls: ModelUrls,
}

impl Gemini {
    /// A provider for these settings.
    pub fn new(settings: ProviderSettings) -> Result<Self, ElelemError> {
        let http = HttpClient::new(settings)?.with_key_header("x-goog-api-key", "")?;
        Ok(Gemini {
            http,
            generate_urls: ModelUrls::default(),
            stream_urls: ModelUrls::default(),
        })
    }

    /// The `generateContent` URL of a model (a `models/` prefix is accepted).
    pub fn generate_url(&self, model: &str) -> String {
        let model = model.strip_prefix("models/").unwrap_or(model);
        format!("{}/models/{model}:generateContent", self.http.base_url())
    }

    /// The streaming URL of a model (`:streamGenerateContent?alt=sse`).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let provider = elelem_gemini::Gemini::new(elelem_core::provider::ProviderSettings {
    ///     name: "gemini".into(), base_url: "https://generativelanguage.googleapis.com/v1beta".into(),
    ///     api_key: Some("AIza-test".into()), api_key_env: Some("GEMINI_API_KEY".into()),
    ///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
    /// }).unwrap();
    /// assert_eq!(
    ///     provider.stream_url("models/gemini-2.5-flash"),
    ///     "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    /// );
    /// ```
    pub fn stream_url(&self, model: &str) -> String {
        let model = model.strip_prefix("models/").unwrap_or(model);
        format!(
            "{}/models/{model}:streamGenerateContent?alt=sse",
            self.http.base_url()
        )
    }
}

/// Gemini as a pure translation; [`Mapped`] does the I/O. Streaming is chosen by
/// the URL, never by a body field (Gemini refuses unknown fields such as `stream`).
impl Mapping for Gemini {
    type Framing = SseFraming;
    type Records = stream::Mapper;

    fn client(&self) -> &HttpClient {
        &self.http
    }

    fn chat_request(
        &self,
        request: &WireRequest,
        stream: bool,
    ) -> Result<HttpRequest, ProviderError> {
        let model = &request.model;
        let body = convert::generate_request(request);
        let request = if stream {
            self.stream_urls
                .json_request(model, || self.stream_url(model), &body)
        } else {
            self.generate_urls
                .json_request(model, || self.generate_url(model), &body)
        };
        request.map_err(|e| {
            self.http
                .invalid_piece(format!("cannot encode the request: {e}"), "")
        })
    }

    fn chat_response(&self, reply: HttpReply) -> Result<ProviderResponse, ProviderError> {
        let answer: Value = self.http.decode(&reply)?;
        provider_response(&self.http, reply, convert::completion(&answer))
    }

    fn stream(&self) -> (SseFraming, stream::Mapper) {
        (
            SseFraming::with_limit(self.http.settings().max_response_bytes),
            stream::Mapper::new(self.http.clone()),
        )
    }

    fn embeddings_request(
        &self,
        request: &EmbeddingWireRequest,
    ) -> Result<HttpRequest, ProviderError> {
        let model = embed::bare_model(&request.model);
        let url = format!("{}/models/{model}:batchEmbedContents", self.http.base_url());
        let named = format!("models/{model}");
        HttpRequest::json(url, &embed::body(request, &named)).map_err(|e| {
            self.http
                .invalid_piece(format!("cannot encode the request: {e}"), "")
        })
    }

    fn embeddings_response(
        &self,
        request: &EmbeddingWireRequest,
        reply: HttpReply,
    ) -> Result<EmbeddingReply, ProviderError> {
        embed::response(&self.http, request, reply)
    }

    fn error(&self, error: ProviderError) -> ProviderError {
        match error {
            ProviderError::Http(mut error) => {
                // Gemini says how long to wait in the body, not in a header.
                if error.retry_after.is_none() {
                    error.retry_after = error.error_object.as_ref().and_then(convert::retry_delay);
                }
                ProviderError::Http(error)
            }
            other => other,
        }
    }
}

/// Builds the `gemini` provider.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "gemini".into(), base_url: "https://generativelanguage.googleapis.com/v1beta".into(),
///     api_key: Some("AIza-test".into()), api_key_env: Some("GEMINI_API_KEY".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_gemini::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    Ok(Arc::new(Mapped::new(Gemini::new(settings)?)))
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: "gemini", catalogue: CATALOGUE, build }
}
