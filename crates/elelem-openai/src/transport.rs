//! The OpenAI-protocol transport: one HTTP round trip per attempt, over the
//! shared [`HttpClient`].

use std::sync::Arc;

use async_trait::async_trait;

use elelem_core::provider::{
    EmbeddingReply, EmbeddingWireRequest, Provider, ProviderError, ProviderResponse,
    ProviderSettings, ProviderStream, TextCompletionResponse, WireRequest,
};
use elelem_core::{ChatCompletion, ElelemError};

use crate::{HttpClient, Quirks};

/// A provider that speaks the OpenAI chat completions protocol at a base URL.
/// GROQ, DeepInfra, Scaleway and OpenAI itself are this with different [`Quirks`].
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use elelem_core::provider::ProviderSettings;
/// use elelem_openai::{NoQuirks, OpenAiCompatible};
///
/// let provider = OpenAiCompatible::new(ProviderSettings {
///     name: "local".into(),
///     base_url: "http://127.0.0.1:8000/v1".into(),
///     api_key: None,
///     api_key_env: None,
///     timeout: Duration::from_secs(30),
///     max_response_bytes: 1 << 20,
/// }, Arc::new(NoQuirks)).unwrap();
/// assert_eq!(provider.chat_url(), "http://127.0.0.1:8000/v1/chat/completions");
/// ```
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    client: HttpClient,
    /// Parsed once: reqwest would parse a string again on every call.
    chat_url: reqwest::Url,
    quirks: Arc<dyn Quirks>,
}

impl OpenAiCompatible {
    /// A transport for these settings: the key goes as `Authorization: Bearer`.
    pub fn new(settings: ProviderSettings, quirks: Arc<dyn Quirks>) -> Result<Self, ElelemError> {
        let hook_quirks = quirks.clone();
        let client = HttpClient::new(settings)?
            .with_error_hook(Arc::new(move |status, error| {
                hook_quirks.classify_error(status, error)
            }))
            .with_key_header("authorization", "Bearer ")?;
        let chat_url = format!("{}/chat/completions", client.base_url());
        let chat_url = reqwest::Url::parse(&chat_url).map_err(|e| ElelemError::Config {
            reason: format!("the base URL of {} gives the chat URL {chat_url:?}, which is not a URL ({e}); fix base_url", client.name()),
        })?;
        Ok(OpenAiCompatible {
            client,
            chat_url,
            quirks,
        })
    }

    /// The chat completions URL.
    pub fn chat_url(&self) -> &str {
        self.chat_url.as_str()
    }

    /// The chat completions URL, parsed.
    pub(crate) fn parsed_chat_url(&self) -> &reqwest::Url {
        &self.chat_url
    }

    /// The HTTP client (settings, key headers, error classification).
    pub(crate) fn client(&self) -> &HttpClient {
        &self.client
    }

    /// The quirks in use.
    pub(crate) fn quirks(&self) -> &Arc<dyn Quirks> {
        &self.quirks
    }

    /// The request after the provider's quirks.
    pub(crate) fn adapted(&self, mut request: WireRequest) -> WireRequest {
        self.quirks.adapt_request(&mut request);
        request
    }
}

#[async_trait]
impl Provider for OpenAiCompatible {
    async fn chat_completion_stream(
        &self,
        request: WireRequest,
    ) -> Result<ProviderStream, ProviderError> {
        crate::stream::open(self, request).await
    }

    async fn completion(
        &self,
        request: WireRequest,
    ) -> Result<TextCompletionResponse, ProviderError> {
        self.legacy_completion(request).await
    }

    async fn embeddings(
        &self,
        request: EmbeddingWireRequest,
    ) -> Result<EmbeddingReply, ProviderError> {
        self.create_embeddings(request).await
    }

    async fn list_models(&self) -> Result<elelem_core::ModelList, ProviderError> {
        self.live_models().await
    }

    async fn create_response(
        &self,
        request: WireRequest,
    ) -> Result<elelem_core::provider::ResponseReply, ProviderError> {
        self.response(request).await
    }

    async fn create_response_stream(
        &self,
        request: WireRequest,
    ) -> Result<elelem_core::provider::ResponseEventStream, ProviderError> {
        self.response_stream(request).await
    }

    async fn chat_completion(
        &self,
        request: WireRequest,
    ) -> Result<ProviderResponse, ProviderError> {
        let reply = self
            .client
            .post_json(self.chat_url.clone(), &self.adapted(request))
            .await?;
        let mut completion: ChatCompletion = self.client.decode(&reply)?;
        if let Some(usage) = completion.usage.as_mut() {
            self.quirks.adapt_usage(usage);
        }
        Ok(ProviderResponse {
            completion,
            headers: reply.headers,
        })
    }

    fn reported_cost(&self, usage: &elelem_core::Usage) -> Option<elelem_core::Usd> {
        self.quirks.reported_cost(usage)
    }
}
