//! A JSON-over-HTTP client for providers with their own protocol (Anthropic's
//! Messages API, Gemini's `generateContent`, Ollama's `/api/chat`): the same
//! timeouts, body limit, key redaction and error classification as the OpenAI
//! transport, without the OpenAI request and response shapes.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LOCATION,
};
use http::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::proxy::matcher::Matcher;
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Serialize;

use elelem_core::provider::{ProviderError, ProviderSettings};
use elelem_core::ElelemError;

use crate::error::{http_error, kept_success_headers, redact, ErrorHook};
use crate::redirect::{next_hop, Hop};
use crate::send::{is_timeout, Backend, ResponseBody};

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
    http: Backend,
    hook: Option<ErrorHook>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("name", &self.settings.name)
            .field("base_url", &self.base_url)
            .field("proxied", &self.http.is_proxied())
            .finish_non_exhaustive()
    }
}

fn config_error(reason: String) -> ElelemError {
    ElelemError::Config { reason }
}

impl HttpClient {
    /// A client for these settings, classifying HTTP errors by default. It
    /// goes through the proxy the environment names for the base URL's host,
    /// if any (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, less `NO_PROXY`).
    pub fn new(settings: ProviderSettings) -> Result<Self, ElelemError> {
        Self::with_proxies(settings, &Matcher::from_env(), None)
    }

    /// [`new`](HttpClient::new), with the proxies `proxies` names (`given` to
    /// reqwest, when not the environment's).
    pub(crate) fn with_proxies(
        settings: ProviderSettings,
        proxies: &Matcher,
        given: Option<reqwest::Proxy>,
    ) -> Result<Self, ElelemError> {
        let base_url = settings.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(config_error(format!(
                "base URL of {} must start with http:// or https://, got {:?}",
                settings.name, settings.base_url
            )));
        }
        // No whole-request limit on the connections: plain requests get one
        // each, and streams are bounded by the pipeline's idle timeout instead.
        let connect_timeout = settings.timeout.min(Duration::from_secs(30));
        let http = Backend::new(&base_url, connect_timeout, proxies, given).map_err(|e| {
            config_error(format!(
                "cannot build the HTTP client for {}: {e}",
                settings.name
            ))
        })?;
        if http.is_proxied() {
            tracing::debug!(provider = %settings.name, "requests go through a proxy");
        }
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
    /// bytes) as JSON to `url` (a `&str`, a `String` or a parsed [`Url`]) and
    /// reads the whole reply within the client's timeout.
    pub async fn post_json<T: Serialize + ?Sized>(
        &self,
        url: impl AsRef<str>,
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
        url: impl AsRef<str>,
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
        url: impl AsRef<str>,
        payload: Vec<u8>,
        extra: &[(String, String)],
    ) -> Result<HttpReply, ProviderError> {
        self.post(url.as_ref(), payload, extra).await
    }

    /// A JSON `POST` of `payload` to `url` with the client's headers and
    /// `extra` (marked sensitive), its redirects followed and its reply read
    /// whole, all within the client's timeout.
    pub(crate) async fn post(
        &self,
        url: &str,
        payload: Vec<u8>,
        extra: &[(String, String)],
    ) -> Result<HttpReply, ProviderError> {
        self.fetch(Method::POST, url, payload.into(), extra).await
    }

    /// Sends a request (its redirects followed) and reads the whole reply, all
    /// within the client's timeout: plain `POST`s and `GET`s.
    async fn fetch(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
        extra: &[(String, String)],
    ) -> Result<HttpReply, ProviderError> {
        let exchange = async {
            let response = self.exchange(method, url, body, extra).await?;
            self.reply(response).await
        };
        tokio::time::timeout(self.settings.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(ProviderError::Timeout {
                    provider: self.name().to_owned(),
                    after: self.settings.timeout,
                })
            })
    }

    /// Sends a request of `method` with `body` (JSON when not empty) to `url`
    /// and follows its redirects: the answer, its body unread.
    async fn exchange(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
        extra: &[(String, String)],
    ) -> Result<Response<ResponseBody>, ProviderError> {
        let request = self.request(method.clone(), url, body.clone(), extra, false)?;
        let response = self.send(request).await?;
        if !response.status().is_redirection() {
            return Ok(response);
        }
        // Rare, and boxed: the common future stays small.
        Box::pin(self.follow(response, method, url, body, extra)).await
    }

    /// Follows redirects from `response` (to a request of `method` with `body`
    /// to `first`) under the policy of [`crate::redirect`].
    async fn follow(
        &self,
        mut response: Response<ResponseBody>,
        mut method: Method,
        first: &str,
        mut body: Bytes,
        extra: &[(String, String)],
    ) -> Result<Response<ResponseBody>, ProviderError> {
        let keyed = self.settings.api_key.is_some();
        let mut current = first.to_owned();
        let (mut hops, mut bare) = (0, false);
        loop {
            let location = response.headers().get(LOCATION);
            let hop = next_hop(
                response.status(),
                location,
                &method,
                (first, &current),
                hops,
                keyed,
            );
            match hop {
                Hop::Stay => return Ok(response),
                Hop::Refused { target } => {
                    return Err(ProviderError::Redirected {
                        provider: self.name().to_owned(),
                        target: redact(&target, self.settings.api_key.as_ref()),
                    })
                }
                Hop::TooMany => {
                    return Err(ProviderError::Connection {
                        provider: self.name().to_owned(),
                        message: redact(
                            &format!("too many redirects, starting from {first}"),
                            self.settings.api_key.as_ref(),
                        ),
                    })
                }
                Hop::Follow {
                    url,
                    to_get,
                    cross_origin,
                } => {
                    if to_get {
                        method = Method::GET;
                        body = Bytes::new();
                    }
                    bare |= cross_origin;
                    hops += 1;
                    current = url;
                    tracing::debug!(provider = self.name(), hops, "following a redirect");
                    let request =
                        self.request(method.clone(), &current, body.clone(), extra, bare)?;
                    response = self.send(request).await?;
                }
            }
        }
    }

    /// Sends one request; the answer's body is left to be read.
    async fn send(&self, request: Request<Bytes>) -> Result<Response<ResponseBody>, ProviderError> {
        self.http
            .send(request)
            .await
            .map_err(|e| self.connection_error(&*e))
    }

    /// A request of `method` with `body` to `url`: the client's headers and
    /// `extra` (marked sensitive; none of the sensitive ones when `bare`),
    /// `Content-Type: application/json` when there is a body. A URL that does
    /// not parse fails as sending it would have.
    fn request(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
        extra: &[(String, String)],
        bare: bool,
    ) -> Result<Request<Bytes>, ProviderError> {
        let uri = self.uri(url)?;
        let headers = self.request_headers(extra, !body.is_empty(), bare)?;
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(request)
    }

    /// `url` as a request target. A URL written loosely (a host in capitals,
    /// spaces in the path) is read as a browser would, once.
    fn uri(&self, url: &str) -> Result<Uri, ProviderError> {
        if let Ok(uri) = Uri::try_from(url) {
            if uri.scheme().is_some() && uri.host().is_some() {
                return Ok(uri);
            }
        }
        Url::parse(url)
            .map_err(|e| e.to_string())
            .and_then(|parsed| Uri::try_from(parsed.as_str()).map_err(|e| e.to_string()))
            .map_err(|e| ProviderError::Connection {
                provider: self.name().to_owned(),
                message: redact(
                    &format!("cannot send to {url:?}, which is not a URL ({e})"),
                    self.settings.api_key.as_ref(),
                ),
            })
    }

    /// The client's headers, `extra` (marked sensitive; each replaces a client
    /// header of its name), `Accept: */*` and, for a body, `Content-Type:
    /// application/json`, in one new map; without the sensitive ones when
    /// `bare` (after a redirect to another origin).
    fn request_headers(
        &self,
        extra: &[(String, String)],
        json: bool,
        bare: bool,
    ) -> Result<HeaderMap, ProviderError> {
        let mut headers = HeaderMap::with_capacity(self.headers.len() + extra.len() + 2);
        for (name, value) in &self.headers {
            if !(bare && value.is_sensitive()) {
                headers.append(name, value.clone());
            }
        }
        for (name, value) in extra.iter().filter(|_| !bare) {
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
        if !headers.contains_key(ACCEPT) {
            headers.append(ACCEPT, HeaderValue::from_static("*/*"));
        }
        if json {
            headers.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
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
        url: impl AsRef<str>,
        body: &T,
    ) -> Result<HttpStream, ProviderError> {
        let payload = self.encode(body)?;
        self.post_bytes_stream(url, payload).await
    }

    /// [`post_json_stream`](HttpClient::post_json_stream) for an already
    /// serialized JSON body.
    pub async fn post_bytes_stream(
        &self,
        url: impl AsRef<str>,
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
        url: impl AsRef<str>,
        payload: Vec<u8>,
        extra: &[(String, String)],
    ) -> Result<HttpStream, ProviderError> {
        let response = self
            .exchange(Method::POST, url.as_ref(), payload.into(), extra)
            .await?;
        let (head, body) = response.into_parts();
        if !head.status.is_success() {
            return Err(self.failure(head.status, head.headers, body).await);
        }
        tracing::debug!(
            provider = self.name(),
            status = head.status.as_u16(),
            "stream opened"
        );
        Ok(HttpStream {
            headers: kept_success_headers(&head.headers),
            body,
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

    /// `GET`s `url` (its redirects followed), within the client's timeout.
    pub async fn get(&self, url: &str) -> Result<HttpReply, ProviderError> {
        self.fetch(Method::GET, url, Bytes::new(), &[]).await
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

    /// Reads an answer whole: the reply, or the classified error of a
    /// non-success status (boxed: it is rare, and large).
    async fn reply(&self, response: Response<ResponseBody>) -> Result<HttpReply, ProviderError> {
        let (head, mut body) = response.into_parts();
        let status = head.status;
        if !status.is_success() {
            return Err(Box::pin(self.failure(status, head.headers, body)).await);
        }
        // A success keeps only the headers worth keeping, without copying the rest.
        let headers = kept_success_headers(&head.headers);
        let body = self
            .read_body(&head.headers, &mut body)
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
    async fn failure(
        &self,
        status: StatusCode,
        headers: HeaderMap,
        mut body: ResponseBody,
    ) -> ProviderError {
        let body = match self.read_body(&headers, &mut body).await {
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

    fn received(&self, status: StatusCode, body: &[u8]) {
        tracing::debug!(
            provider = self.name(),
            status = status.as_u16(),
            bytes = body.len(),
            "response received"
        );
    }

    fn connection_error(&self, error: &(dyn std::error::Error + 'static)) -> ProviderError {
        if is_timeout(error) {
            return ProviderError::Timeout {
                provider: self.name().to_owned(),
                after: self.settings.timeout,
            };
        }
        let mut message = error.to_string();
        let mut source = error.source();
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
    async fn read_body(
        &self,
        headers: &HeaderMap,
        response: &mut ResponseBody,
    ) -> Result<Bytes, ProviderError> {
        let limit = self.settings.max_response_bytes;
        let too_large = || ProviderError::BodyTooLarge {
            provider: self.name().to_owned(),
            limit,
        };
        let expected = headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        if expected > limit as u64 {
            return Err(too_large());
        }
        let mut body = BodyPieces::default();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.connection_error(&*e))?
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
    body: ResponseBody,
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
        self.body
            .chunk()
            .await
            .map_err(|e| self.client.connection_error(&*e))
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

    /// A proxy that answers every request itself with `{"via":"proxy"}` and
    /// hands back each request's head.
    async fn fake_proxy() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (heads, received) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let _ = heads.send(String::from_utf8_lossy(&request).into_owned());
                let body = br#"{"via":"proxy"}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body).await;
            }
        });
        (port, received)
    }

    #[tokio::test]
    async fn a_host_the_environment_proxies_is_reached_through_its_proxy_with_credentials() {
        let (port, mut heads) = fake_proxy().await;
        let proxy = format!("http://user:pa55@127.0.0.1:{port}");
        let proxies = Matcher::builder().http(proxy.clone()).build();
        let settings = ProviderSettings {
            name: "acme".into(),
            // Not a host this machine can reach: only the proxy can answer.
            base_url: "http://api.acme.invalid/v1".into(),
            api_key: Some("sk-acme-123".into()),
            api_key_env: None,
            timeout: Duration::from_secs(10),
            max_response_bytes: 1 << 20,
        };
        let given = reqwest::Proxy::http(proxy).unwrap();
        let client = HttpClient::with_proxies(settings, &proxies, Some(given))
            .unwrap()
            .with_key_header("authorization", "Bearer ")
            .unwrap();
        assert!(format!("{client:?}").contains("proxied: true"));
        let reply = client
            .post_json(
                "http://api.acme.invalid/v1/chat/completions",
                &serde_json::json!({"a": 1}),
            )
            .await
            .unwrap();
        assert_eq!(&reply.body[..], br#"{"via":"proxy"}"#);
        let head = heads.recv().await.unwrap().to_lowercase();
        assert!(
            head.starts_with("post http://api.acme.invalid/v1/chat/completions http/1.1"),
            "{head}"
        );
        // "user:pa55", base64.
        assert!(
            head.contains("proxy-authorization: basic dxnlcjpwytu1"),
            "{head}"
        );
        assert!(head.contains("authorization: bearer sk-acme-123"), "{head}");
    }

    #[tokio::test]
    async fn without_a_proxy_a_request_goes_straight_to_the_host() {
        let (port, mut heads) = fake_proxy().await;
        let settings = ProviderSettings {
            name: "acme".into(),
            base_url: format!("http://127.0.0.1:{port}/v1"),
            api_key: None,
            api_key_env: None,
            timeout: Duration::from_secs(10),
            max_response_bytes: 1 << 20,
        };
        let client = HttpClient::with_proxies(settings, &Matcher::builder().build(), None).unwrap();
        assert!(format!("{client:?}").contains("proxied: false"));
        let reply = client
            .get(&format!("http://127.0.0.1:{port}/v1/models"))
            .await
            .unwrap();
        assert_eq!(&reply.body[..], br#"{"via":"proxy"}"#);
        let head = heads.recv().await.unwrap().to_lowercase();
        assert!(head.starts_with("get /v1/models http/1.1"), "{head}");
        assert!(head.contains("accept: */*"), "{head}");
        assert!(!head.contains("content-type"), "a GET has no body: {head}");
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
