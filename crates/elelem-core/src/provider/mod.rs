//! The provider plugin contract: the [`Provider`] trait, what it is given and what it
//! returns, and how a provider crate registers itself.

mod body_writer;
mod credentials;
mod embedding;
mod error;
mod liveness;
mod registration;
mod request;
mod responses;
mod wire;

pub(crate) use body_writer::EscapedText;
pub use credentials::{Configured, CredentialedPlugin, EnvAccess};
pub use embedding::{EmbeddingReply, EmbeddingWireRequest};
pub use error::{HttpError, ProviderError, ProviderErrorKind, MAX_ERROR_BODY_CHARS};
pub use liveness::Liveness;
pub use registration::{ProviderPlugin, ProviderSettings};
pub use request::WireRequest;
pub use responses::{responses_body, ResponseEventStream, ResponseEvents, ResponseReply};
pub use wire::{ChunkStream, ProviderResponse, ProviderStream, TextCompletionResponse};

use async_trait::async_trait;

use crate::types::ModelList;

/// A provider: something that turns a [`WireRequest`] into a completion.
///
/// Implementations do one HTTP round trip (or the equivalent) and classify failures
/// into [`ProviderError`]s; retries, JSON repair and cost accounting are the
/// pipeline's job, not the provider's.
///
/// ```
/// use async_trait::async_trait;
/// use elelem_core::provider::{Provider, ProviderError, ProviderResponse, WireRequest};
/// use elelem_core::ChatCompletion;
///
/// #[derive(Debug)]
/// struct Echo;
///
/// #[async_trait]
/// impl Provider for Echo {
///     async fn chat_completion(&self, request: WireRequest) -> Result<ProviderResponse, ProviderError> {
///         let text = request.messages.last().map(|m| m.text()).unwrap_or_default();
///         let completion: ChatCompletion = serde_json::from_value(serde_json::json!({
///             "choices": [{"message": {"content": text}, "finish_reason": "stop"}]
///         })).map_err(|e| ProviderError::invalid_body("echo", e.to_string(), ""))?;
///         Ok(ProviderResponse::new(completion))
///     }
/// }
/// ```
#[async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// Sends one chat completion request.
    async fn chat_completion(
        &self,
        request: WireRequest,
    ) -> Result<ProviderResponse, ProviderError>;

    /// Sends one streaming chat completion request (`stream: true` is already in the
    /// body). The default answers [`ProviderError::Unsupported`].
    async fn chat_completion_stream(
        &self,
        _request: WireRequest,
    ) -> Result<ProviderStream, ProviderError> {
        Err(ProviderError::Unsupported {
            operation: "streaming",
        })
    }

    /// Sends one legacy `/completions` request. The default answers
    /// [`ProviderError::Unsupported`].
    async fn completion(
        &self,
        _request: WireRequest,
    ) -> Result<TextCompletionResponse, ProviderError> {
        Err(ProviderError::Unsupported {
            operation: "legacy completions",
        })
    }

    /// Sends one Responses API request (`POST /responses`; the body is
    /// [`responses_body`] of `request`). The default answers
    /// [`ProviderError::Unsupported`]: only providers speaking the Responses API
    /// implement it.
    async fn create_response(&self, _request: WireRequest) -> Result<ResponseReply, ProviderError> {
        Err(ProviderError::Unsupported {
            operation: "the Responses API",
        })
    }

    /// Opens one streamed Responses API request (`stream: true` is already in
    /// the body). The default answers [`ProviderError::Unsupported`].
    async fn create_response_stream(
        &self,
        _request: WireRequest,
    ) -> Result<ResponseEventStream, ProviderError> {
        Err(ProviderError::Unsupported {
            operation: "the streamed Responses API",
        })
    }

    /// Sends one embeddings request (one batch, within the model's limits). The
    /// default answers [`ProviderError::Unsupported`]: the provider has no
    /// embeddings.
    ///
    /// ```
    /// # use async_trait::async_trait;
    /// # use elelem_core::provider::{EmbeddingWireRequest, Provider, ProviderError, ProviderResponse, WireRequest};
    /// # #[derive(Debug)] struct ChatOnly;
    /// # #[async_trait] impl Provider for ChatOnly {
    /// #     async fn chat_completion(&self, _r: WireRequest) -> Result<ProviderResponse, ProviderError> {
    /// #         Err(ProviderError::Unsupported { operation: "chat" })
    /// #     }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let refused = ChatOnly.embeddings(EmbeddingWireRequest::new("m", vec!["x".into()])).await;
    /// assert!(matches!(refused, Err(ProviderError::Unsupported { operation: "embeddings" })));
    /// # });
    /// ```
    async fn embeddings(
        &self,
        _request: EmbeddingWireRequest,
    ) -> Result<EmbeddingReply, ProviderError> {
        Err(ProviderError::Unsupported {
            operation: "embeddings",
        })
    }

    /// The cost the provider itself reported in `usage` (OpenRouter's
    /// `usage.cost`, xAI's `cost_in_usd_ticks`), which then replaces the
    /// price-table cost. The pipeline asks it for a plain answer's usage and for a
    /// stream's final usage alike. The default reports none.
    ///
    /// ```
    /// # use async_trait::async_trait;
    /// # use elelem_core::provider::{Provider, ProviderError, ProviderResponse, WireRequest};
    /// # #[derive(Debug)] struct Quiet;
    /// # #[async_trait] impl Provider for Quiet {
    /// #     async fn chat_completion(&self, _r: WireRequest) -> Result<ProviderResponse, ProviderError> {
    /// #         Err(ProviderError::Unsupported { operation: "chat" })
    /// #     }
    /// # }
    /// let usage: elelem_core::Usage = serde_json::from_str(r#"{"prompt_tokens":1,"cost":0.5}"#).unwrap();
    /// assert_eq!(Quiet.reported_cost(&usage), None);
    /// ```
    fn reported_cost(&self, _usage: &crate::types::Usage) -> Option<crate::money::Usd> {
        None
    }

    /// The completion in a reply `body` this provider returned in
    /// [`ProviderResponse::body`], decoded again (for
    /// [`Elelem::last_response`](crate::Elelem::last_response), which keeps the
    /// body rather than a copy of every answer). It must give the completion
    /// the first decoding gave. The default decodes nothing.
    ///
    /// ```
    /// # use async_trait::async_trait;
    /// # use elelem_core::provider::{Provider, ProviderError, ProviderResponse, WireRequest};
    /// # #[derive(Debug)] struct Quiet;
    /// # #[async_trait] impl Provider for Quiet {
    /// #     async fn chat_completion(&self, _r: WireRequest) -> Result<ProviderResponse, ProviderError> {
    /// #         Err(ProviderError::Unsupported { operation: "chat" })
    /// #     }
    /// # }
    /// assert!(Quiet.decode_reply(&bytes::Bytes::from_static(b"{}")).is_none());
    /// ```
    fn decode_reply(&self, _body: &bytes::Bytes) -> Option<crate::types::ChatCompletion> {
        None
    }

    /// Lists the models the provider serves right now (Ollama's `GET /api/tags`),
    /// as `provider:model` ids. The default answers
    /// [`ProviderError::Unsupported`].
    async fn list_models(&self) -> Result<ModelList, ProviderError> {
        Err(ProviderError::Unsupported {
            operation: "model listing",
        })
    }
}
