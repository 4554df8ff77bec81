//! The Anthropic provider for Elelem: Claude through the native Messages API
//! (`POST https://api.anthropic.com/v1/messages`, key in `ANTHROPIC_API_KEY`
//! sent as `x-api-key`, with `anthropic-version: 2023-06-01`).
//!
//! Requests are mapped from the OpenAI shape:
//!
//! * system (and developer) messages become the top-level `system`;
//! * `max_tokens` is required: the request's, else the model's
//!   `default_params.max_tokens` in `models/anthropic.toml`, else 4096 (raised
//!   above `thinking.budget_tokens` when extended thinking asks for more);
//! * content parts become `text` and `image` blocks, assistant `tool_calls`
//!   become `tool_use` blocks, `tool` messages `tool_result` blocks; `tools`,
//!   `tool_choice` and `stop` are translated;
//! * extended thinking is asked with `.extra("thinking", json!({"type": "enabled",
//!   "budget_tokens": 2048}))`; `temperature` and `top_k` are then left out, as
//!   Anthropic refuses them with thinking;
//! * JSON mode is done by instructions (Anthropic has no `response_format`), with
//!   Elelem's local validation and retries as usual.
//!
//! Answers are mapped back to a `chat.completion`: `text` blocks are the content,
//! `thinking` blocks the reasoning (`reasoning_content`, exposed as
//! `response.elelem.reasoning`; the blocks with their signatures are kept in the
//! message's `thinking_blocks` and sent back when the message is reused),
//! `tool_use` blocks the `tool_calls`; `stop_reason` `end_turn`/`stop_sequence`
//! become `stop`, `max_tokens` `length`, `tool_use` `tool_calls`, `refusal`
//! `content_filter`. Usage: `prompt_tokens` = `input_tokens` +
//! `cache_creation_input_tokens` + `cache_read_input_tokens`; cache reads are
//! `cached_tokens` (billed at `cached_input`), cache writes `cache_write_tokens`
//! (billed at `cache_write_input`, the 5-minute write price).
//!
//! Streaming (`stream: true`) maps Anthropic's events to OpenAI chunks:
//! `text_delta` to `content`, `thinking_delta` to `reasoning_content`,
//! `tool_use` blocks and their `input_json_delta`s to `tool_calls` deltas,
//! `message_delta`'s `stop_reason` to the finish reason, and at `message_stop` a
//! final chunk carries the usage (mapped as above; `message_delta`'s
//! `output_tokens` is cumulative). An `error` event ends the stream with a
//! classified error (`overloaded_error` like a 529), and a body ending before
//! `message_stop` is an error, so the stream is recorded as interrupted.
//!
//! Errors: 529 `overloaded_error` is a server failure, retried like a 5xx; 429
//! `rate_limit_error` waits for `retry-after`.
//!
//! ```
//! use elelem_anthropic as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "anthropic");
//! assert!(plugin.is_some());
//! ```

mod convert;
mod stream;

use std::sync::Arc;

use serde_json::Value;

use elelem_core::provider::{
    Provider, ProviderError, ProviderPlugin, ProviderResponse, ProviderSettings, WireRequest,
};
use elelem_core::ElelemError;
use elelem_openai::native::provider_response;
use elelem_transport::{HttpClient, HttpReply, HttpRequest, Mapped, Mapping, SseFraming};

pub use convert::DEFAULT_MAX_TOKENS;

/// The Anthropic catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/anthropic.toml");

/// The API version sent in `anthropic-version`.
pub const API_VERSION: &str = "2023-06-01";

/// The Anthropic provider: one `POST {base}/messages` per attempt. It is a pure
/// translation ([`Mapping`]); `Mapped::new(anthropic)` is the [`Provider`].
///
/// ```
/// # use std::time::Duration;
/// let provider = elelem_anthropic::Anthropic::new(elelem_core::provider::ProviderSettings {
///     name: "anthropic".into(), base_url: "https://api.anthropic.com/v1".into(),
///     api_key: Some("sk-ant-test".into()), api_key_env: Some("ANTHROPIC_API_KEY".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// }).unwrap();
/// assert_eq!(provider.messages_url(), "https://api.anthropic.com/v1/messages");
/// ```
#[derive(Debug, Clone)]
pub struct Anthropic {
    http: HttpClient,
    messages_url: elelem_transport::Url,
}

impl Anthropic {
    /// A provider for these settings.
    pub fn new(settings: ProviderSettings) -> Result<Self, ElelemError> {
        let http = HttpClient::new(settings)?
            .with_key_header("x-api-key", "")?
            .with_header("anthropic-version", API_VERSION)?;
        Ok(Anthropic {
            messages_url: http.endpoint("/messages")?,
            http,
        })
    }

    /// The Messages URL (`{base}/messages`).
    pub fn messages_url(&self) -> &str {
        self.messages_url.as_str()
    }
}

/// Anthropic as a pure translation; [`Mapped`] does the I/O.
impl Mapping for Anthropic {
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
        let mut body = convert::messages_request(request);
        if let (true, Value::Object(fields)) = (stream, &mut body) {
            fields.insert("stream".into(), Value::Bool(true));
        }
        HttpRequest::json_to(&self.messages_url, &body).map_err(|e| {
            self.http
                .invalid_piece(format!("cannot encode the request: {e}"), "")
        })
    }

    fn chat_response(&self, reply: HttpReply) -> Result<ProviderResponse, ProviderError> {
        let message: Value = self.http.decode(&reply)?;
        if message.get("type").and_then(Value::as_str) != Some("message") {
            return Err(self.http.invalid_piece(
                "expected an object of type \"message\"",
                &String::from_utf8_lossy(&reply.body),
            ));
        }
        provider_response(&self.http, reply, convert::completion(&message))
    }

    fn stream(&self) -> (SseFraming, stream::Mapper) {
        (
            SseFraming::with_limit(self.http.settings().max_response_bytes),
            stream::Mapper::new(self.http.clone()),
        )
    }
}

/// Builds the `anthropic` provider.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "anthropic".into(), base_url: "https://api.anthropic.com/v1".into(),
///     api_key: Some("sk-ant-test".into()), api_key_env: Some("ANTHROPIC_API_KEY".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_anthropic::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    Ok(Arc::new(Mapped::new(Anthropic::new(settings)?)))
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: "anthropic", catalogue: CATALOGUE, build }
}
