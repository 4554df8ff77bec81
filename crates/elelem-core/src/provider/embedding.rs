//! What goes to a provider for embeddings and what comes back.

use std::collections::BTreeMap;

use crate::types::{EmbeddingResponse, EncodingFormat};

/// One embeddings request as it goes to a provider: the upstream model id and
/// one batch of texts (within the model's per-request limits).
///
/// ```
/// use elelem_core::provider::EmbeddingWireRequest;
/// let request = EmbeddingWireRequest::new("text-embedding-3-small", vec!["a".into()]);
/// assert_eq!(request.input.len(), 1);
/// assert_eq!(request.dimensions, None);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct EmbeddingWireRequest {
    /// The upstream model id.
    pub model: String,
    /// The texts, in order.
    pub input: Vec<String>,
    /// The size of the vectors, when asked.
    pub dimensions: Option<u32>,
    /// How an OpenAI-compatible provider should encode the vectors.
    pub encoding_format: Option<EncodingFormat>,
    /// OpenAI's end-user id.
    pub user: Option<String>,
}

impl EmbeddingWireRequest {
    /// A request of `input` for the upstream `model`.
    pub fn new(model: impl Into<String>, input: Vec<String>) -> Self {
        EmbeddingWireRequest {
            model: model.into(),
            input,
            ..EmbeddingWireRequest::default()
        }
    }
}

/// A provider's embeddings, in OpenAI's shape (one vector per input, `index` in
/// input order), and the response headers worth keeping.
///
/// `response.usage` is what the provider reported; a provider that reports no
/// token counts (Gemini) says so with `usage_reported: false`, and the pipeline
/// bills its own estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingReply {
    /// The embeddings.
    pub response: EmbeddingResponse,
    /// Whether `response.usage` came from the provider.
    pub usage_reported: bool,
    /// Response headers worth keeping (rate-limit state, request ids), lower-case names.
    pub headers: BTreeMap<String, String>,
}

impl EmbeddingReply {
    /// A reply whose usage the provider reported, with no headers.
    ///
    /// ```
    /// let reply = elelem_core::provider::EmbeddingReply::new(
    ///     elelem_core::EmbeddingResponse::new("m", vec![vec![0.5]], 2),
    /// );
    /// assert!(reply.usage_reported);
    /// ```
    pub fn new(response: EmbeddingResponse) -> Self {
        EmbeddingReply {
            response,
            usage_reported: true,
            headers: BTreeMap::new(),
        }
    }
}
