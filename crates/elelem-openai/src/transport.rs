//! The OpenAI protocol as a [`Mapping`]: one `POST {base}/chat/completions` per
//! attempt, with the provider's [`Quirks`] applied to the request, the usage and
//! every streamed chunk; [`Mapped`] does the I/O.

use std::sync::Arc;

use elelem_core::provider::{
    EmbeddingReply, EmbeddingWireRequest, Provider, ProviderError, ProviderResponse,
    ProviderSettings, WireRequest,
};
use elelem_core::{ChatCompletion, ElelemError, Usage, Usd};
use elelem_transport::{HttpReply, HttpRequest, Mapped, Mapping, SseFraming};

use crate::stream::Chunks;
use crate::{HttpClient, Quirks};

/// A provider that speaks the OpenAI chat completions protocol at a base URL.
/// GROQ, DeepInfra, Scaleway and OpenAI itself are this with different [`Quirks`].
/// It is a pure translation ([`Mapping`]); [`OpenAiCompatible::provider`] (or
/// `Mapped::new(mapping)`) is the [`Provider`].
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
    /// Parsed once, at construction (not on every call).
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
        let chat_url = client.endpoint("/chat/completions")?;
        Ok(OpenAiCompatible {
            client,
            chat_url,
            quirks,
        })
    }

    /// The [`Provider`] for these settings and quirks: the mapping served by
    /// [`Mapped`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// let provider = elelem_openai::OpenAiCompatible::provider(
    ///     elelem_core::provider::ProviderSettings {
    ///         name: "local".into(), base_url: "http://127.0.0.1:8000/v1".into(),
    ///         api_key: None, api_key_env: None,
    ///         timeout: Duration::from_secs(30), max_response_bytes: 1 << 20,
    ///     },
    ///     std::sync::Arc::new(elelem_openai::NoQuirks),
    /// );
    /// assert!(provider.is_ok());
    /// ```
    pub fn provider(
        settings: ProviderSettings,
        quirks: Arc<dyn Quirks>,
    ) -> Result<Arc<dyn Provider>, ElelemError> {
        Ok(Arc::new(Mapped::new(OpenAiCompatible::new(
            settings, quirks,
        )?)))
    }

    /// The chat completions URL.
    pub fn chat_url(&self) -> &str {
        self.chat_url.as_str()
    }

    /// The quirks in use.
    pub fn quirks(&self) -> &Arc<dyn Quirks> {
        &self.quirks
    }

    /// The request after the provider's quirks.
    pub(crate) fn adapted(&self, mut request: WireRequest) -> WireRequest {
        self.quirks.adapt_request(&mut request);
        request
    }

    /// A `POST` of `request`, serialized straight to bytes, to `url`.
    pub(crate) fn post(
        &self,
        url: String,
        request: &WireRequest,
    ) -> Result<HttpRequest, ProviderError> {
        HttpRequest::json(url, request).map_err(|e| self.unencodable(e))
    }

    /// The error of a request that cannot be serialized.
    fn unencodable(&self, error: serde_json::Error) -> ProviderError {
        ProviderError::invalid_body(
            self.client.name(),
            format!("cannot encode the request: {error}"),
            "",
        )
    }
}

/// The OpenAI protocol as a pure translation; [`Mapped`] does the I/O.
impl Mapping for OpenAiCompatible {
    type Framing = SseFraming;
    type Records = Chunks;

    fn client(&self) -> &HttpClient {
        &self.client
    }

    fn chat_request(
        &self,
        request: &WireRequest,
        stream: bool,
    ) -> Result<HttpRequest, ProviderError> {
        self.chat_request_owned(request.clone(), stream)
    }

    fn responses_url(&self) -> Option<String> {
        Some(format!("{}/responses", self.client.base_url()))
    }

    fn responses_usage(&self) -> Option<elelem_transport::UsageAdapter> {
        Some(crate::responses::adapter(self.quirks.clone()))
    }

    fn embeddings_request(
        &self,
        request: &EmbeddingWireRequest,
    ) -> Result<HttpRequest, ProviderError> {
        let url = format!("{}/embeddings", self.client.base_url());
        HttpRequest::json(url, &crate::embeddings::body(request)).map_err(|e| {
            self.client
                .invalid_piece(format!("cannot encode the request: {e}"), "")
        })
    }

    fn embeddings_response(
        &self,
        _request: &EmbeddingWireRequest,
        reply: HttpReply,
    ) -> Result<EmbeddingReply, ProviderError> {
        crate::embeddings::response(&self.client, reply)
    }

    fn chat_request_owned(
        &self,
        request: WireRequest,
        stream: bool,
    ) -> Result<HttpRequest, ProviderError> {
        let mut body = self.adapted(request);
        if stream {
            body.stream = Some(true);
            let given = body.stream_options.is_some() || body.extra.contains_key("stream_options");
            if self.quirks.stream_usage() && !given {
                body.stream_options = Some(serde_json::json!({"include_usage": true}));
            }
        }
        // Written by hand (the same bytes as serde_json's): faster, see
        // `WireRequest::to_bytes`.
        let bytes = body.to_bytes().map_err(|e| self.unencodable(e))?;
        Ok(HttpRequest::bytes_to(&self.chat_url, bytes))
    }

    /// The completion as decoded, with the quirks' usage corrections; the body
    /// goes with it (a reference count), since decoding it again gives the same
    /// completion.
    fn chat_response(&self, reply: HttpReply) -> Result<ProviderResponse, ProviderError> {
        let mut completion = self
            .client
            .decode_with(&reply, ChatCompletion::from_json_boxed)?;
        if let Some(usage) = completion.usage.as_mut() {
            self.quirks.adapt_usage(usage);
        }
        Ok(ProviderResponse {
            completion,
            headers: reply.headers,
            body: Some(reply.body),
        })
    }

    fn stream(&self) -> (SseFraming, Chunks) {
        (
            SseFraming::with_limit(self.client.settings().max_response_bytes),
            Chunks::new(self.client.clone(), self.quirks.clone()),
        )
    }

    fn reported_cost(&self, usage: &Usage) -> Option<Usd> {
        self.quirks.reported_cost(usage)
    }

    fn completion_request(&self, request: WireRequest) -> Result<HttpRequest, ProviderError> {
        self.post(self.completions_url(), &self.adapted(request))
    }

    fn completion_response(
        &self,
        reply: HttpReply,
    ) -> Result<elelem_core::provider::TextCompletionResponse, ProviderError> {
        self.text_completion(reply)
    }

    fn models_url(&self) -> Option<String> {
        Some(self.models_list_url())
    }

    fn models_response(&self, reply: HttpReply) -> Result<elelem_core::ModelList, ProviderError> {
        self.model_list(reply)
    }
}
