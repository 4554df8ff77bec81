//! What goes to a provider and what comes back.

use std::collections::BTreeMap;
use std::pin::Pin;

use bytes::Bytes;

use futures_core::Stream;

use super::{Liveness, ProviderError};
use crate::types::{ChatCompletion, ChatCompletionChunk, TextCompletion};

/// A provider's successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderResponse {
    /// The completion as the provider sent it. Boxed: a response is moved
    /// through several futures on its way to the pipeline (the provider's, the
    /// gate's, the attempt loop's), each a pointer's copy instead of the
    /// 800-byte completion's.
    pub completion: Box<ChatCompletion>,
    /// Response headers worth keeping (rate-limit state, request ids), lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The reply body as received, when [`Provider::decode_reply`](super::Provider::decode_reply)
    /// turns it into this same completion again. The client then keeps this
    /// refcounted body as its last response and decodes it only when asked,
    /// instead of copying every answer; `None` makes it keep a copy.
    pub body: Option<Bytes>,
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
            completion: Box::new(completion),
            headers: BTreeMap::new(),
            body: None,
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
    /// Beaten by the transport whenever the provider sends bytes (keep-alive
    /// comments and pings included), so the idle timeout waits for a slow model
    /// that keeps the connection alive. `Liveness::default()` for a stream
    /// with no such signal.
    pub alive: Liveness,
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
