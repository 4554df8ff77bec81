//! Providers as pure translations: a [`Mapping`] says how a request becomes an
//! HTTP request, how the reply becomes a response and how stream records become
//! chunks; [`Mapped`] does the I/O for every mapping, once.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;

use elelem_core::provider::{
    EmbeddingReply, EmbeddingWireRequest, Provider, ProviderError, ProviderResponse,
    ProviderStream, ResponseEventStream, ResponseReply, TextCompletionResponse, WireRequest,
};
use elelem_core::{ChatCompletion, ModelList, Usage, Usd};

use crate::{decode_stream, Framing, HttpClient, HttpReply, RecordMapper};

/// One HTTP request to send: a JSON `POST` of `body` to `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Where to send it.
    pub url: String,
    /// The serialized JSON body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request posting `body` as JSON.
    ///
    /// ```
    /// let request = elelem_transport::HttpRequest::json("http://127.0.0.1:9/x", &serde_json::json!({"a": 1})).unwrap();
    /// assert_eq!(request.body, br#"{"a":1}"#);
    /// ```
    pub fn json<T: Serialize + ?Sized>(
        url: impl Into<String>,
        body: &T,
    ) -> Result<HttpRequest, serde_json::Error> {
        Ok(HttpRequest {
            url: url.into(),
            body: serde_json::to_vec(body)?,
        })
    }

    /// A request posting `body` as JSON to a URL the mapping parsed (and so
    /// checked) once, at construction.
    ///
    /// ```
    /// let url = reqwest::Url::parse("http://127.0.0.1:9/x").unwrap();
    /// let request = elelem_transport::HttpRequest::json_to(&url, &serde_json::json!({"a": 1})).unwrap();
    /// assert_eq!(request.url, "http://127.0.0.1:9/x");
    /// assert_eq!(request, elelem_transport::HttpRequest::json(url.as_str(), &serde_json::json!({"a": 1})).unwrap());
    /// ```
    pub fn json_to<T: Serialize + ?Sized>(
        url: &reqwest::Url,
        body: &T,
    ) -> Result<HttpRequest, serde_json::Error> {
        Ok(HttpRequest {
            url: url.as_str().to_owned(),
            body: serde_json::to_vec(body)?,
        })
    }

    /// A request posting `body`, JSON already written (by
    /// [`WireRequest::to_bytes`], say), to a URL the mapping parsed once.
    ///
    /// ```
    /// let url = reqwest::Url::parse("http://127.0.0.1:9/x").unwrap();
    /// let request = elelem_transport::HttpRequest::bytes_to(&url, br#"{"a":1}"#.to_vec());
    /// assert_eq!(request, elelem_transport::HttpRequest::json_to(&url, &serde_json::json!({"a": 1})).unwrap());
    /// ```
    pub fn bytes_to(url: &reqwest::Url, body: Vec<u8>) -> HttpRequest {
        HttpRequest {
            url: url.as_str().to_owned(),
            body,
        }
    }
}

/// A provider as a pure translation, with no I/O of its own: request -> HTTP
/// request, HTTP reply -> response, stream records -> chunks. Error bodies are
/// classified by the client's [`ErrorHook`](crate::ErrorHook), and
/// [`error`](Mapping::error) may add what only the provider knows. Wrap it in
/// [`Mapped`] to get a [`Provider`].
///
/// ```
/// use elelem_core::provider::{ProviderError, ProviderResponse, WireRequest};
/// use elelem_transport::{HttpClient, HttpReply, HttpRequest, Mapping, SseFraming, RecordMapper};
/// # use elelem_core::ChatCompletionChunk;
/// # struct Chunks;
/// # impl RecordMapper for Chunks {
/// #     fn record(&mut self, _: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError> { Ok(vec![]) }
/// #     fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> { Ok(vec![]) }
/// # }
///
/// /// OpenAI's protocol at `{base}/chat/completions`, as a mapping.
/// #[derive(Debug)]
/// struct Chat { http: HttpClient }
///
/// impl Mapping for Chat {
///     type Framing = SseFraming;
///     type Records = Chunks;
///     fn client(&self) -> &HttpClient { &self.http }
///     fn chat_request(&self, request: &WireRequest, _stream: bool) -> Result<HttpRequest, ProviderError> {
///         HttpRequest::json(format!("{}/chat/completions", self.http.base_url()), request)
///             .map_err(|e| ProviderError::invalid_body(self.http.name(), e.to_string(), ""))
///     }
///     fn chat_response(&self, reply: HttpReply) -> Result<ProviderResponse, ProviderError> {
///         Ok(ProviderResponse::new(self.http.decode(&reply)?))
///     }
///     fn stream(&self) -> (SseFraming, Chunks) { (SseFraming::default(), Chunks) }
/// }
/// ```
pub trait Mapping: Send + Sync + std::fmt::Debug + 'static {
    /// How the streamed body is cut into records.
    type Framing: Framing;
    /// How the records become chunks.
    type Records: RecordMapper;

    /// The HTTP client (endpoint, key headers, limits, error classification).
    fn client(&self) -> &HttpClient;

    /// The HTTP request for a chat request (`stream`: for a streamed answer).
    fn chat_request(
        &self,
        request: &WireRequest,
        stream: bool,
    ) -> Result<HttpRequest, ProviderError>;

    /// [`chat_request`](Mapping::chat_request) for a request the mapping may
    /// consume: [`Mapped`] calls this one, so a mapping that rewrites the typed
    /// request in place (OpenAI's quirks) overrides it and saves a copy. The
    /// default borrows the request for `chat_request`.
    fn chat_request_owned(
        &self,
        request: WireRequest,
        stream: bool,
    ) -> Result<HttpRequest, ProviderError> {
        self.chat_request(&request, stream)
    }

    /// The response for a successful reply.
    fn chat_response(&self, reply: HttpReply) -> Result<ProviderResponse, ProviderError>;

    /// A fresh framing and record mapper for one stream.
    fn stream(&self) -> (Self::Framing, Self::Records);

    /// Headers made for this one request, sent besides the client's own: a
    /// signature over its URL and body (AWS SigV4). The default adds none.
    fn request_headers(
        &self,
        _request: &HttpRequest,
    ) -> Result<Vec<(String, String)>, ProviderError> {
        Ok(Vec::new())
    }

    /// Adds what only the provider knows to an error (a delay given in the body).
    fn error(&self, error: ProviderError) -> ProviderError {
        error
    }

    /// The URL of the provider's OpenAI Responses API (`{base}/responses`),
    /// when it has one; the default has none (the call is refused as
    /// unsupported).
    fn responses_url(&self) -> Option<String> {
        None
    }

    /// How the provider's usage corrections apply to a Responses API usage
    /// (plain and streamed alike); the default has none.
    fn responses_usage(&self) -> Option<crate::UsageAdapter> {
        None
    }

    /// The cost the provider reported in `usage`, when it reports one (see
    /// [`Provider::reported_cost`]). The default reports none.
    fn reported_cost(&self, _usage: &Usage) -> Option<Usd> {
        None
    }

    /// The HTTP request for a legacy `/completions` request. The default answers
    /// [`ProviderError::Unsupported`].
    fn completion_request(&self, _request: WireRequest) -> Result<HttpRequest, ProviderError> {
        Err(ProviderError::Unsupported {
            operation: "legacy completions",
        })
    }

    /// The legacy completion for a successful reply to
    /// [`completion_request`](Mapping::completion_request).
    fn completion_response(
        &self,
        _reply: HttpReply,
    ) -> Result<TextCompletionResponse, ProviderError> {
        Err(ProviderError::Unsupported {
            operation: "legacy completions",
        })
    }

    /// The URL listing the models served right now (`GET`), when there is one.
    fn models_url(&self) -> Option<String> {
        None
    }

    /// The HTTP request for one batch of embeddings. The default answers
    /// [`ProviderError::Unsupported`]: the provider has no embeddings.
    fn embeddings_request(
        &self,
        _request: &EmbeddingWireRequest,
    ) -> Result<HttpRequest, ProviderError> {
        Err(ProviderError::Unsupported {
            operation: "embeddings",
        })
    }

    /// The embeddings, in OpenAI's shape, for a successful reply to `request`.
    fn embeddings_response(
        &self,
        _request: &EmbeddingWireRequest,
        _reply: HttpReply,
    ) -> Result<EmbeddingReply, ProviderError> {
        Err(ProviderError::Unsupported {
            operation: "embeddings",
        })
    }

    /// The model list (`provider:model` ids) for a successful listing reply.
    fn models_response(&self, _reply: HttpReply) -> Result<ModelList, ProviderError> {
        Err(ProviderError::Unsupported {
            operation: "model listing",
        })
    }
}

/// The [`Provider`] for a [`Mapping`]: the one implementation doing the I/O.
///
/// ```no_run
/// # fn demo<M: elelem_transport::Mapping>(mapping: M) {
/// let provider: std::sync::Arc<dyn elelem_core::provider::Provider> =
///     std::sync::Arc::new(elelem_transport::Mapped::new(mapping));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Mapped<M>(M);

impl<M: Mapping> Mapped<M> {
    /// The provider for `mapping`.
    pub fn new(mapping: M) -> Self {
        Mapped(mapping)
    }

    /// The mapping.
    pub fn mapping(&self) -> &M {
        &self.0
    }

    /// Sends `http` and reads the whole reply; an error gets what only the
    /// mapping knows. The request is signed when the future is made (its
    /// caller is a future being polled); the body moves into the HTTP request
    /// without a copy.
    fn send(
        &self,
        http: HttpRequest,
    ) -> impl Future<Output = Result<HttpReply, ProviderError>> + Send + '_ {
        let mapping = &self.0;
        // A request the mapping cannot sign fails as is; any other error gets
        // what the mapping adds.
        let signed = mapping.request_headers(&http);
        async move {
            let signed = signed?;
            mapping
                .client()
                .post(&http.url, http.body, &signed)
                .await
                .map_err(|e| mapping.error(e))
        }
    }
}

#[async_trait]
impl<M: Mapping> Provider for Mapped<M> {
    /// Written out (not `async`): the request is translated when the future is
    /// made, so the boxed future holds the HTTP request (its bytes) and the
    /// client's answer, not the typed request besides (half its size, and a
    /// box small enough for the allocator's per-thread cache). The engine makes
    /// it inside the attempt's span, just before the gate.
    fn chat_completion<'life0, 'async_trait>(
        &'life0 self,
        request: WireRequest,
    ) -> Pin<Box<dyn Future<Output = Result<ProviderResponse, ProviderError>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let http = self.0.chat_request_owned(request, false);
        Box::pin(async move {
            let http = http?;
            let reply = self.send(http).await?;
            self.0.chat_response(reply)
        })
    }

    async fn chat_completion_stream(
        &self,
        request: WireRequest,
    ) -> Result<ProviderStream, ProviderError> {
        let mapping = &self.0;
        let http = mapping.chat_request_owned(request, true)?;
        let signed = mapping.request_headers(&http)?;
        let client = mapping.client();
        let opened = client
            .post_bytes_stream_with(&http.url, http.body, &signed)
            .await
            .map_err(|e| mapping.error(e))?;
        let (framing, records) = mapping.stream();
        Ok(decode_stream(opened, framing, records))
    }

    async fn create_response(&self, request: WireRequest) -> Result<ResponseReply, ProviderError> {
        let mapping = &self.0;
        let url = mapping.responses_url().ok_or(ProviderError::Unsupported {
            operation: "the Responses API",
        })?;
        let adapter = mapping.responses_usage();
        crate::send_response(mapping.client(), &url, &request, adapter.as_ref())
            .await
            .map_err(|e| mapping.error(e))
    }

    async fn create_response_stream(
        &self,
        request: WireRequest,
    ) -> Result<ResponseEventStream, ProviderError> {
        let mapping = &self.0;
        let url = mapping.responses_url().ok_or(ProviderError::Unsupported {
            operation: "the streamed Responses API",
        })?;
        crate::open_response_stream(mapping.client(), &url, &request, mapping.responses_usage())
            .await
            .map_err(|e| mapping.error(e))
    }

    async fn embeddings(
        &self,
        request: EmbeddingWireRequest,
    ) -> Result<EmbeddingReply, ProviderError> {
        let mapping = &self.0;
        let http = mapping.embeddings_request(&request)?;
        let reply = self.send(http).await?;
        mapping.embeddings_response(&request, reply)
    }

    async fn completion(
        &self,
        request: WireRequest,
    ) -> Result<TextCompletionResponse, ProviderError> {
        let http = self.0.completion_request(request)?;
        let reply = self.send(http).await?;
        self.0.completion_response(reply)
    }

    fn reported_cost(&self, usage: &Usage) -> Option<Usd> {
        self.0.reported_cost(usage)
    }

    fn decode_reply(&self, body: &Bytes) -> Option<ChatCompletion> {
        let reply = HttpReply {
            headers: BTreeMap::new(),
            body: body.clone(),
        };
        self.0.chat_response(reply).ok().map(|r| *r.completion)
    }

    async fn list_models(&self) -> Result<ModelList, ProviderError> {
        let mapping = &self.0;
        let Some(url) = mapping.models_url() else {
            return Err(ProviderError::Unsupported {
                operation: "model listing",
            });
        };
        let reply = mapping.client().get(&url).await?;
        mapping.models_response(reply)
    }
}
