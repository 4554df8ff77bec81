//! A JSON-over-HTTP client for providers with their own protocol (Anthropic's
//! Messages API, Gemini's `generateContent`, Ollama's `/api/chat`): the same
//! timeouts, body limit, key redaction and error classification as the OpenAI
//! transport, without the OpenAI request and response shapes.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Serialize;

use elelem_core::provider::{ProviderError, ProviderSettings};
use elelem_core::ElelemError;

use crate::error::{http_error, kept_success_headers, redact, ErrorHook};

/// A successful HTTP answer: the kept headers (rate limits, request ids) and the
/// body.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// Response headers worth keeping, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The body as received.
    pub body: Bytes,
}

/// A JSON-over-HTTP client bound to one provider's settings, for every
/// protocol. Non-success statuses become classified [`ProviderError::Http`]
/// errors (the provider's [`ErrorHook`] first, when it has one, then the default
/// classification); the key never appears in errors or logs, and a redirect to
/// another origin is refused while a key is set.
///
/// ```
/// use std::time::Duration;
/// use elelem_core::provider::ProviderSettings;
/// use elelem_transport::HttpClient;
///
/// let client = HttpClient::new(ProviderSettings {
///     name: "acme".into(),
///     base_url: "http://127.0.0.1:9/api/".into(),
///     api_key: Some("k-123".into()),
///     api_key_env: Some("ACME_API_KEY".into()),
///     timeout: Duration::from_secs(30),
///     max_response_bytes: 1 << 20,
/// })
/// .unwrap()
/// .with_key_header("x-api-key", "")
/// .unwrap()
/// .with_header("acme-version", "2024-01-01")
/// .unwrap();
/// assert_eq!(client.base_url(), "http://127.0.0.1:9/api");
/// assert!(!format!("{client:?}").contains("k-123"));
/// ```
#[derive(Clone)]
pub struct HttpClient {
    settings: ProviderSettings,
    base_url: String,
    headers: HeaderMap,
    http: reqwest::Client,
    hook: Option<ErrorHook>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("name", &self.settings.name)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn config_error(reason: String) -> ElelemError {
    ElelemError::Config { reason }
}

impl HttpClient {
    /// A client for these settings, classifying HTTP errors by default.
    pub fn new(settings: ProviderSettings) -> Result<Self, ElelemError> {
        let base_url = settings.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(config_error(format!(
                "base URL of {} must start with http:// or https://, got {:?}",
                settings.name, settings.base_url
            )));
        }
        // No whole-request limit on the client: plain requests get one each, and
        // streams are bounded by the pipeline's idle timeout instead.
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(Duration::from_secs(30)))
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(crate::redirect::policy(settings.api_key.is_some()))
            .build()
            .map_err(|e| {
                config_error(format!(
                    "cannot build the HTTP client for {}: {e}",
                    settings.name
                ))
            })?;
        Ok(HttpClient {
            settings,
            base_url,
            headers: HeaderMap::new(),
            http,
            hook: None,
        })
    }

    /// Classifies HTTP errors with `hook` first (the default classification
    /// applies where it answers `None`).
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration};
    /// # use elelem_core::provider::{ProviderErrorKind, ProviderSettings};
    /// # let settings = ProviderSettings {
    /// #     name: "acme".into(), base_url: "http://127.0.0.1:9".into(), api_key: None,
    /// #     api_key_env: None, timeout: Duration::from_secs(5), max_response_bytes: 1 << 20,
    /// # };
    /// let client = elelem_transport::HttpClient::new(settings)
    ///     .unwrap()
    ///     .with_error_hook(Arc::new(|status, _| (status == 499).then_some(ProviderErrorKind::Server)));
    /// assert_eq!(client.stream_error(499, b"{}").kind(), Some(ProviderErrorKind::Server));
    /// ```
    pub fn with_error_hook(mut self, hook: ErrorHook) -> Self {
        self.hook = Some(hook);
        self
    }

    fn insert(mut self, name: &str, value: &str, sensitive: bool) -> Result<Self, ElelemError> {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| config_error(format!("{name:?} is not a valid HTTP header name")))?;
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            config_error(format!(
                "the value of header {name} for {} contains characters not allowed in an HTTP header",
                self.settings.name
            ))
        })?;
        value.set_sensitive(sensitive);
        self.headers.insert(header, value);
        Ok(self)
    }

    /// Sends this header with every request.
    pub fn with_header(self, name: &str, value: &str) -> Result<Self, ElelemError> {
        self.insert(name, value, false)
    }

    /// Sends the API key, after `prefix` (`"Bearer "`, or `""`), in header `name`
    /// with every request, when a key is set. The header is marked sensitive.
    pub fn with_key_header(self, name: &str, prefix: &str) -> Result<Self, ElelemError> {
        match self.settings.api_key.clone() {
            Some(key) => self.insert(name, &format!("{prefix}{}", key.expose()), true),
            None => Ok(self),
        }
    }

    /// The base URL without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The endpoint `{base_url}{path}`, parsed once (a mapping keeps it and
    /// builds its requests with [`HttpRequest::json_to`](crate::HttpRequest::json_to),
    /// so no call parses it again). A base URL that gives no URL is a
    /// configuration error naming the provider.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let client = elelem_transport::HttpClient::new(elelem_core::provider::ProviderSettings {
    ///     name: "local".into(), base_url: "http://127.0.0.1:9/v1/".into(),
    ///     api_key: None, api_key_env: None,
    ///     timeout: Duration::from_secs(5), max_response_bytes: 1 << 20,
    /// }).unwrap();
    /// assert_eq!(client.endpoint("/chat/completions").unwrap().as_str(), "http://127.0.0.1:9/v1/chat/completions");
    /// ```
    pub fn endpoint(&self, path: &str) -> Result<Url, ElelemError> {
        endpoint_url(&self.settings.name, format!("{}{path}", self.base_url))
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// The settings the client was built from.
    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// `POST`s `body` (anything serializable: a typed request goes straight to
    /// bytes) as JSON to `url` (a `&str`, or a parsed [`reqwest::Url`], which saves
    /// parsing it again on every call).
    pub async fn post_json<T: Serialize + ?Sized>(
        &self,
        url: impl reqwest::IntoUrl,
        body: &T,
    ) -> Result<HttpReply, ProviderError> {
        let payload = self.encode(body)?;
        self.post_bytes(url, payload).await
    }

    /// Serializes a request body.
    fn encode<T: Serialize + ?Sized>(&self, body: &T) -> Result<Vec<u8>, ProviderError> {
        serde_json::to_vec(body).map_err(|e| {
            ProviderError::invalid_body(self.name(), format!("cannot encode the request: {e}"), "")
        })
    }

    /// `POST`s an already serialized JSON body to `url`.
    pub async fn post_bytes(
        &self,
        url: impl reqwest::IntoUrl,
        payload: Vec<u8>,
    ) -> Result<HttpReply, ProviderError> {
        self.post_bytes_with(url, payload, &[]).await
    }

    /// [`post_bytes`](HttpClient::post_bytes) with headers made for this one
    /// request (a signature over it), marked sensitive, besides the client's own.
    ///
    /// ```no_run
    /// # async fn demo(client: elelem_transport::HttpClient) -> Result<(), elelem_core::provider::ProviderError> {
    /// let signed = [("authorization".to_owned(), "AWS4-HMAC-SHA256 ...".to_owned())];
    /// client.post_bytes_with("http://127.0.0.1:9/converse", b"{}".to_vec(), &signed).await?;
    /// # Ok(()) }
    /// ```
    pub async fn post_bytes_with(
        &self,
        url: impl reqwest::IntoUrl,
        payload: Vec<u8>,
        extra: &[(String, String)],
    ) -> Result<HttpReply, ProviderError> {
        let request = self.post_request(url, payload, extra)?;
        self.receive(request.send()).await
    }

    /// A JSON `POST` of `payload` to `url` with the client's headers, `extra`
    /// (marked sensitive) and its timeout: what
    /// [`post_bytes_with`](HttpClient::post_bytes_with) sends, for a caller
    /// that sends it and awaits [`receive`](HttpClient::receive) in its own
    /// future (with no `async` layer holding the URL and the body in between).
    pub(crate) fn post_request(
        &self,
        url: impl reqwest::IntoUrl,
        payload: Vec<u8>,
        extra: &[(String, String)],
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        self.json_post(url, payload, extra, Some(self.settings.timeout))
    }

    /// A JSON `POST` of `payload` to `url` with the client's headers, `extra`
    /// (marked sensitive) and `Content-Type: application/json`, and `timeout`.
    /// The request is filled in place, not through the builder's methods (each
    /// of which moves the whole request, and `headers` merges a copy of the map
    /// into an empty one): about 1.5k instructions a call.
    fn json_post(
        &self,
        url: impl reqwest::IntoUrl,
        payload: Vec<u8>,
        extra: &[(String, String)],
        timeout: Option<Duration>,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        let headers = self.json_headers(extra)?;
        let (client, built) = self.http.post(url).build_split();
        // A URL reqwest refuses fails as sending it would have.
        let mut request = built.map_err(|e| self.connection_error(&e))?;
        *request.headers_mut() = headers;
        *request.timeout_mut() = timeout;
        *request.body_mut() = Some(payload.into());
        Ok(reqwest::RequestBuilder::from_parts(client, request))
    }

    /// The client's headers, `extra` (marked sensitive; each replaces a client
    /// header of its name) and `Content-Type: application/json`, in one new map
    /// with room for the headers reqwest adds (`Accept`, ...): a clone has no
    /// spare room, and growing a `HeaderMap` costs more than filling a new one.
    fn json_headers(&self, extra: &[(String, String)]) -> Result<HeaderMap, ProviderError> {
        let mut headers = HeaderMap::with_capacity(self.headers.len() + extra.len() + 4);
        for (name, value) in &self.headers {
            headers.append(name, value.clone());
        }
        for (name, value) in extra {
            let header = HeaderName::from_bytes(name.as_bytes());
            let value = HeaderValue::from_str(value);
            let (Ok(header), Ok(mut value)) = (header, value) else {
                return Err(ProviderError::invalid_body(
                    self.name(),
                    format!("the request header {name:?} is not a valid HTTP header"),
                    "",
                ));
            };
            value.set_sensitive(true);
            headers.insert(header, value);
        }
        headers.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(headers)
    }

    /// `POST`s `body` as JSON to `url` for a streamed answer: on a success status
    /// the body is left unread, to be taken piece by piece with
    /// [`HttpStream::next_bytes`]; an error status is classified as usual. No
    /// whole-answer time limit applies (a long stream is legitimate); the
    /// pipeline ends a stream that stays silent too long.
    ///
    /// ```no_run
    /// # async fn demo(client: elelem_transport::HttpClient) -> Result<(), elelem_core::provider::ProviderError> {
    /// let mut stream = client
    ///     .post_json_stream("http://127.0.0.1:9/stream", &serde_json::json!({"stream": true}))
    ///     .await?;
    /// while let Some(bytes) = stream.next_bytes().await? {
    ///     println!("{} bytes", bytes.len());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn post_json_stream<T: Serialize + ?Sized>(
        &self,
        url: impl reqwest::IntoUrl,
        body: &T,
    ) -> Result<HttpStream, ProviderError> {
        let payload = self.encode(body)?;
        self.post_bytes_stream(url, payload).await
    }

    /// [`post_json_stream`](HttpClient::post_json_stream) for an already
    /// serialized JSON body.
    pub async fn post_bytes_stream(
        &self,
        url: impl reqwest::IntoUrl,
        payload: Vec<u8>,
    ) -> Result<HttpStream, ProviderError> {
        self.post_bytes_stream_with(url, payload, &[]).await
    }

    /// [`post_bytes_stream`](HttpClient::post_bytes_stream) with headers made
    /// for this one request (a signature over it), marked sensitive.
    ///
    /// ```no_run
    /// # async fn demo(client: elelem_transport::HttpClient) -> Result<(), elelem_core::provider::ProviderError> {
    /// let signed = [("authorization".to_owned(), "AWS4-HMAC-SHA256 ...".to_owned())];
    /// let stream = client.post_bytes_stream_with("http://127.0.0.1:9/converse-stream", b"{}".to_vec(), &signed).await?;
    /// # let _ = stream; Ok(()) }
    /// ```
    pub async fn post_bytes_stream_with(
        &self,
        url: impl reqwest::IntoUrl,
        payload: Vec<u8>,
        extra: &[(String, String)],
    ) -> Result<HttpStream, ProviderError> {
        let response = self
            .json_post(url, payload, extra, None)?
            .send()
            .await
            .map_err(|e| self.connection_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.failure(response).await);
        }
        tracing::debug!(
            provider = self.name(),
            status = status.as_u16(),
            "stream opened"
        );
        Ok(HttpStream {
            headers: kept_success_headers(response.headers()),
            response,
            client: self.clone(),
        })
    }

    /// The classified [`ProviderError::Http`] for an error a provider reports
    /// inside a successful stream (Anthropic's `error` event), as if it had
    /// answered `status` with `body`.
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration};
    /// # use elelem_core::provider::{ProviderErrorKind, ProviderSettings};
    /// # let client = elelem_transport::HttpClient::new(ProviderSettings {
    /// #     name: "acme".into(), base_url: "http://127.0.0.1:9".into(), api_key: None,
    /// #     api_key_env: None, timeout: Duration::from_secs(5), max_response_bytes: 1 << 20,
    /// # }).unwrap();
    /// let error = client.stream_error(529, br#"{"error":{"type":"overloaded_error","message":"Overloaded"}}"#);
    /// assert_eq!(error.kind(), Some(ProviderErrorKind::Server));
    /// ```
    pub fn stream_error(&self, status: u16, body: &[u8]) -> ProviderError {
        ProviderError::Http(Box::new(http_error(
            self.name(),
            status,
            &HeaderMap::new(),
            body,
            self.settings.api_key.as_ref(),
            self.hook.as_ref(),
        )))
    }

    /// An [`ProviderError::InvalidBody`] for a piece of a stream that is not
    /// what was expected, with the key redacted from the snippet.
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration};
    /// # use elelem_core::provider::{ProviderError, ProviderSettings};
    /// # let client = elelem_transport::HttpClient::new(ProviderSettings {
    /// #     name: "acme".into(), base_url: "http://127.0.0.1:9".into(), api_key: None,
    /// #     api_key_env: None, timeout: Duration::from_secs(5), max_response_bytes: 1 << 20,
    /// # }).unwrap();
    /// let error = client.invalid_piece("expected an object", "[1]");
    /// assert!(matches!(error, ProviderError::InvalidBody { .. }));
    /// ```
    pub fn invalid_piece(&self, reason: impl Into<String>, piece: &str) -> ProviderError {
        let key = self.settings.api_key.as_ref();
        ProviderError::invalid_body(
            self.name(),
            redact(&reason.into(), key),
            &redact(piece, key),
        )
    }

    /// A [`ProviderError::Connection`] for a stream that ended early: `message`
    /// says what was missing.
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration};
    /// # use elelem_core::provider::{ProviderError, ProviderSettings};
    /// # let client = elelem_transport::HttpClient::new(ProviderSettings {
    /// #     name: "acme".into(), base_url: "http://127.0.0.1:9".into(), api_key: None,
    /// #     api_key_env: None, timeout: Duration::from_secs(5), max_response_bytes: 1 << 20,
    /// # }).unwrap();
    /// let error = client.stream_cut("the stream ended before `message_stop`");
    /// assert!(matches!(error, ProviderError::Connection { .. }));
    /// ```
    pub fn stream_cut(&self, message: impl Into<String>) -> ProviderError {
        ProviderError::Connection {
            provider: self.name().to_owned(),
            message: message.into(),
        }
    }

    /// `GET`s `url`.
    pub async fn get(&self, url: &str) -> Result<HttpReply, ProviderError> {
        let pending = self
            .http
            .get(url)
            .timeout(self.settings.timeout)
            .headers(self.headers.clone())
            .send();
        self.receive(pending).await
    }

    /// Decodes a reply's JSON body, or explains why it is not the expected shape
    /// (with the key redacted from the body snippet).
    pub fn decode<T: DeserializeOwned>(&self, reply: &HttpReply) -> Result<T, ProviderError> {
        self.decode_with(reply, decode_json)
    }

    /// Decodes a reply's JSON body with `read` (a reader of the provider's own,
    /// such as [`ChatCompletion::from_json_boxed`](elelem_core::ChatCompletion::from_json_boxed)),
    /// its error explained as [`decode`](HttpClient::decode) explains one.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use elelem_core::provider::{ProviderError, ProviderSettings};
    /// # let client = elelem_transport::HttpClient::new(ProviderSettings {
    /// #     name: "acme".into(), base_url: "http://127.0.0.1:9".into(), api_key: None,
    /// #     api_key_env: None, timeout: Duration::from_secs(5), max_response_bytes: 1 << 20,
    /// # }).unwrap();
    /// let reply = elelem_transport::HttpReply { headers: Default::default(), body: br#"{"choices":[]}"#.to_vec().into() };
    /// let completion = client.decode_with(&reply, elelem_core::ChatCompletion::from_json_boxed).unwrap();
    /// assert!(completion.choices.is_empty());
    /// let broken = elelem_transport::HttpReply { headers: Default::default(), body: b"{".to_vec().into() };
    /// let error = client.decode_with(&broken, elelem_core::ChatCompletion::from_json_boxed).unwrap_err();
    /// assert!(matches!(error, ProviderError::InvalidBody { .. }));
    /// ```
    pub fn decode_with<T>(
        &self,
        reply: &HttpReply,
        read: impl FnOnce(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<T, ProviderError> {
        read(&reply.body).map_err(|e| {
            ProviderError::invalid_body(
                self.name(),
                e.to_string(),
                &redact(
                    &String::from_utf8_lossy(&reply.body),
                    self.settings.api_key.as_ref(),
                ),
            )
        })
    }

    /// Awaits a sent request's answer and reads the whole reply. Its future is
    /// small: the request was sent (and dropped) before, the response is read
    /// in place, and an error's reading is boxed (it is rare, and large).
    pub(crate) async fn receive(
        &self,
        pending: impl Future<Output = reqwest::Result<reqwest::Response>>,
    ) -> Result<HttpReply, ProviderError> {
        let mut response = pending.await.map_err(|e| self.connection_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(Box::pin(self.failure(response)).await);
        }
        // A success keeps only the headers worth keeping, without copying the rest.
        let headers = kept_success_headers(response.headers());
        let body = self
            .read_body(&mut response)
            .await
            .map_err(|error| match error {
                // A success cut mid-way: the provider took the request.
                ProviderError::Connection { provider, message } => {
                    ProviderError::BodyCut { provider, message }
                }
                other => other,
            })?;
        self.received(status, &body);
        Ok(HttpReply { headers, body })
    }

    /// The classified error of a non-success answer (read with every header:
    /// `retry-after` and the provider's hook may need any of them).
    async fn failure(&self, mut response: reqwest::Response) -> ProviderError {
        let status = response.status();
        let headers = response.headers().clone();
        let body = match self.read_body(&mut response).await {
            Ok(body) => body,
            Err(error) => return error,
        };
        self.received(status, &body);
        ProviderError::Http(Box::new(http_error(
            self.name(),
            status.as_u16(),
            &headers,
            &body,
            self.settings.api_key.as_ref(),
            self.hook.as_ref(),
        )))
    }

    fn received(&self, status: reqwest::StatusCode, body: &[u8]) {
        tracing::debug!(
            provider = self.name(),
            status = status.as_u16(),
            bytes = body.len(),
            "response received"
        );
    }

    fn connection_error(&self, error: &reqwest::Error) -> ProviderError {
        if let Some(target) = crate::redirect::refused_target(error) {
            return ProviderError::Redirected {
                provider: self.name().to_owned(),
                target: redact(&target, self.settings.api_key.as_ref()),
            };
        }
        if error.is_timeout() {
            return ProviderError::Timeout {
                provider: self.name().to_owned(),
                after: self.settings.timeout,
            };
        }
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        ProviderError::Connection {
            provider: self.name().to_owned(),
            message: redact(&message, self.settings.api_key.as_ref()),
        }
    }

    /// Reads the body, refusing more than the configured limit. A body that
    /// arrives in one piece (the usual answer) is kept as received, not copied.
    async fn read_body(&self, response: &mut reqwest::Response) -> Result<Bytes, ProviderError> {
        let limit = self.settings.max_response_bytes;
        let too_large = || ProviderError::BodyTooLarge {
            provider: self.name().to_owned(),
            limit,
        };
        let expected = response.content_length().unwrap_or(0);
        if expected > limit as u64 {
            return Err(too_large());
        }
        let mut body = BodyPieces::default();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.connection_error(&e))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.push(chunk, expected as usize);
        }
        Ok(body.into_bytes())
    }
}

/// A body read piece by piece: the first piece as received, joined into one
/// buffer only when a second one comes.
#[derive(Default)]
struct BodyPieces {
    first: Bytes,
    joined: Option<BytesMut>,
}

impl BodyPieces {
    fn len(&self) -> usize {
        self.joined.as_ref().map_or(self.first.len(), BytesMut::len)
    }

    /// Adds `piece`; `expected` is the announced length (0 when unknown).
    fn push(&mut self, piece: Bytes, expected: usize) {
        match &mut self.joined {
            Some(joined) => joined.extend_from_slice(&piece),
            None if self.first.is_empty() => self.first = piece,
            None => {
                let len = self.first.len() + piece.len();
                let mut joined = BytesMut::with_capacity(expected.max(len));
                joined.extend_from_slice(&self.first);
                joined.extend_from_slice(&piece);
                self.first = Bytes::new();
                self.joined = Some(joined);
            }
        }
    }

    fn into_bytes(self) -> Bytes {
        match self.joined {
            Some(joined) => joined.freeze(),
            None => self.first,
        }
    }
}

/// Decodes JSON `bytes`. A body that is valid UTF-8 (every real answer) is
/// checked once as a whole and read as text, rather than having serde_json
/// check every string again; any other body is read as bytes, so its error is
/// serde_json's usual one.
pub(crate) fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// A streamed answer being received (from [`HttpClient::post_json_stream`]).
pub struct HttpStream {
    /// Response headers worth keeping, lower-case names.
    pub headers: BTreeMap<String, String>,
    response: reqwest::Response,
    client: HttpClient,
}

impl std::fmt::Debug for HttpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpStream")
            .field("provider", &self.client.name())
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl HttpStream {
    /// The next bytes of the body as they arrive (split anywhere), `None` at its
    /// end; a broken connection or a timeout is an error.
    ///
    /// ```no_run
    /// # async fn demo(mut stream: elelem_transport::HttpStream) -> Result<(), elelem_core::provider::ProviderError> {
    /// while let Some(bytes) = stream.next_bytes().await? {
    ///     println!("{} bytes", bytes.len());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn next_bytes(&mut self) -> Result<Option<Bytes>, ProviderError> {
        self.response
            .chunk()
            .await
            .map_err(|e| self.client.connection_error(&e))
    }

    /// The client that opened the stream (its name, error helpers).
    ///
    /// ```no_run
    /// # fn demo(stream: &elelem_transport::HttpStream) {
    /// println!("streaming from {}", stream.client().name());
    /// # }
    /// ```
    pub fn client(&self) -> &HttpClient {
        &self.client
    }
}

/// `url` parsed, for a provider's endpoint; a URL that does not parse is a
/// configuration error naming `provider` and saying to fix its base URL.
///
/// ```
/// assert!(elelem_transport::endpoint_url("ollama", "http://127.0.0.1:11434/api/chat".into()).is_ok());
/// let error = elelem_transport::endpoint_url("ollama", "http://[::1/api/chat".into()).unwrap_err();
/// assert!(error.to_string().contains("fix base_url"));
/// ```
pub fn endpoint_url(provider: &str, url: String) -> Result<Url, ElelemError> {
    Url::parse(&url).map_err(|e| ElelemError::Config {
        reason: format!(
            "the base URL of {provider} gives the endpoint {url:?}, which is not a URL ({e}); fix base_url"
        ),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn joined(pieces: &[&[u8]], expected: usize) -> Bytes {
        let mut body = BodyPieces::default();
        let mut len = 0;
        for piece in pieces {
            body.push(Bytes::copy_from_slice(piece), expected);
            len += piece.len();
            assert_eq!(body.len(), len);
        }
        body.into_bytes()
    }

    #[test]
    fn a_body_in_pieces_is_joined_in_order_and_one_piece_is_kept_as_is() {
        let one = Bytes::from_static(b"{\"a\":1}");
        let mut body = BodyPieces::default();
        body.push(one.clone(), 7);
        let kept = body.into_bytes();
        assert_eq!(kept, one);
        assert_eq!(kept.as_ptr(), one.as_ptr(), "one piece is not copied");
        assert_eq!(joined(&[b"{\"a\"", b":", b"1}"], 0), &b"{\"a\":1}"[..]);
        assert_eq!(joined(&[b"", b"ab", b"", b"c"], 3), &b"abc"[..]);
        assert_eq!(joined(&[], 0), &b""[..]);
    }

    #[test]
    fn json_decodes_as_from_slice_did_including_its_errors() {
        let bodies: [&[u8]; 6] = [
            br#"{"a":"Gr\u00fc\u00dfe \ud83c\udf89","b":[1,2.5,null]}"#,
            "{\"a\":\"Grüße 世界\"}".as_bytes(),
            b"{\"a\":\"\xff\"}",
            b"\xEF\xBB\xBF{}",
            br#"{"a":"\ud800"}"#,
            b"{\"a\":1,}",
        ];
        for body in bodies {
            let new = decode_json::<serde_json::Value>(body);
            let old = serde_json::from_slice::<serde_json::Value>(body);
            assert_eq!(
                new.as_ref().map_err(ToString::to_string),
                old.as_ref().map_err(ToString::to_string),
                "{body:?}"
            );
        }
    }
}
