//! What goes to a provider and what comes back.

use std::collections::BTreeMap;
use std::pin::Pin;

use futures_core::Stream;
use serde_json::{Map, Value};

use super::ProviderError;
use crate::types::{ChatCompletion, ChatCompletionChunk, TextCompletion};

/// One request as it goes on the wire: the OpenAI chat completion body, with the
/// upstream model id in `model`, every parameter already adjusted for the model.
///
/// ```
/// let request = elelem_core::provider::WireRequest::new(serde_json::json!({"model": "m"}).as_object().unwrap().clone());
/// assert_eq!(request.body["model"], "m");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WireRequest {
    /// The JSON body.
    pub body: Map<String, Value>,
}

impl WireRequest {
    /// A request with this body.
    pub fn new(body: Map<String, Value>) -> Self {
        WireRequest { body }
    }

    /// Whether the request asks the provider for a `response_format` (JSON mode or
    /// a JSON schema), so the pipeline knows whether a retry can drop it.
    ///
    /// ```
    /// use elelem_core::provider::WireRequest;
    /// let plain = WireRequest::new(serde_json::Map::new());
    /// assert!(!plain.sends_response_format());
    /// let json = serde_json::json!({"response_format": {"type": "json_object"}});
    /// assert!(WireRequest::new(json.as_object().cloned().unwrap_or_default()).sends_response_format());
    /// ```
    pub fn sends_response_format(&self) -> bool {
        self.body
            .get("response_format")
            .is_some_and(|format| !format.is_null())
    }
}

/// A provider's successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderResponse {
    /// The completion as the provider sent it.
    pub completion: ChatCompletion,
    /// Response headers worth keeping (rate-limit state, request ids), lower-case names.
    pub headers: BTreeMap<String, String>,
}

impl ProviderResponse {
    /// A response with no headers.
    ///
    /// ```
    /// let completion: elelem_core::ChatCompletion = serde_json::from_str(r#"{"choices":[]}"#).unwrap();
    /// let response = elelem_core::provider::ProviderResponse::new(completion);
    /// assert!(response.headers.is_empty());
    /// ```
    pub fn new(completion: ChatCompletion) -> Self {
        ProviderResponse {
            completion,
            headers: BTreeMap::new(),
        }
    }
}

/// Chunks of a streamed completion, as a provider decodes them.
pub type ChunkStream =
    Pin<Box<dyn Stream<Item = Result<ChatCompletionChunk, ProviderError>> + Send>>;

/// A provider's streamed answer: its chunks and the response headers.
pub struct ProviderStream {
    /// The chunks, ending after the provider's end marker (`data: [DONE]`).
    pub chunks: ChunkStream,
    /// Response headers worth keeping, lower-case names.
    pub headers: BTreeMap<String, String>,
}

impl std::fmt::Debug for ProviderStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderStream")
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// A provider's answer to a legacy `/completions` request.
#[derive(Debug, Clone, PartialEq)]
pub struct TextCompletionResponse {
    /// The completion as the provider sent it.
    pub completion: TextCompletion,
    /// Response headers worth keeping, lower-case names.
    pub headers: BTreeMap<String, String>,
}
