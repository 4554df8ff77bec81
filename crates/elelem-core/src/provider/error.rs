//! Provider failures, classified so the retry policy can decide what to do.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The most characters of a response body kept in an error.
pub const MAX_ERROR_BODY_CHARS: usize = 2_000;

/// What kind of failure an HTTP error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProviderErrorKind {
    /// 429: too many requests; wait and retry.
    RateLimited,
    /// 429 `insufficient_quota`: billing is exhausted; never retried.
    QuotaExhausted,
    /// The provider's own JSON validation of the generated answer failed (GROQ's 400
    /// `json_validate_failed`); retried like an invalid JSON answer.
    ApiJsonValidation,
    /// 401 or 403: the key is wrong or lacks access.
    Authentication,
    /// 404: unknown model or endpoint.
    NotFound,
    /// 408, 409, 5xx (529 overloaded included): a transient server failure.
    Server,
    /// Any other 4xx: the request itself is wrong.
    BadRequest,
    /// The provider's content filter refused the prompt (Azure OpenAI's 400
    /// `content_filter`): the same prompt is refused again, so never retried.
    ContentFilter,
}

impl ProviderErrorKind {
    /// The default classification of an HTTP status and OpenAI error code.
    ///
    /// ```
    /// use elelem_core::provider::ProviderErrorKind as K;
    /// assert_eq!(K::classify(429, Some("insufficient_quota")), K::QuotaExhausted);
    /// assert_eq!(K::classify(429, None), K::RateLimited);
    /// assert_eq!(K::classify(502, None), K::Server);
    /// assert_eq!(K::classify(400, None), K::BadRequest);
    /// ```
    pub fn classify(status: u16, code: Option<&str>) -> ProviderErrorKind {
        match (status, code) {
            (429, Some("insufficient_quota")) => ProviderErrorKind::QuotaExhausted,
            (429, _) => ProviderErrorKind::RateLimited,
            (401 | 403, _) => ProviderErrorKind::Authentication,
            (404, _) => ProviderErrorKind::NotFound,
            (408 | 409, _) => ProviderErrorKind::Server,
            (s, _) if s >= 500 => ProviderErrorKind::Server,
            _ => ProviderErrorKind::BadRequest,
        }
    }

    /// Whether a failure of this kind is worth retrying by default.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ProviderErrorKind::RateLimited
                | ProviderErrorKind::Server
                | ProviderErrorKind::ApiJsonValidation
        )
    }
}

/// An HTTP error answer from a provider: status, the headers that matter, the raw
/// body (truncated) and what the body says.
#[derive(Clone, PartialEq)]
pub struct HttpError {
    /// The provider's name.
    pub provider: String,
    /// The HTTP status.
    pub status: u16,
    /// The classification.
    pub kind: ProviderErrorKind,
    /// `error.message` from the body, when it is OpenAI-shaped JSON.
    pub message: Option<String>,
    /// `error.code` from the body.
    pub code: Option<String>,
    /// `error.type` from the body.
    pub error_type: Option<String>,
    /// The delay the server asked for (`retry-after-ms`, `retry-after`).
    pub retry_after: Option<Duration>,
    /// The server's `x-should-retry` verdict, when it sent one.
    pub should_retry: Option<bool>,
    /// Headers worth keeping (`retry-after*`, `x-ratelimit-*`, `x-request-id`,
    /// `content-type`), lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The body as received, at most [`MAX_ERROR_BODY_CHARS`] characters.
    pub body: String,
    /// The body's `error` object in full (not truncated), when the body is JSON.
    /// GROQ's `failed_generation` lives here.
    pub error_object: Option<serde_json::Value>,
}

impl HttpError {
    /// An error of `status` with OpenAI error `code`, classified by default and
    /// with nothing else known (no body, headers or delay): for providers that
    /// build their own errors, and for tests.
    ///
    /// ```
    /// use elelem_core::provider::{HttpError, ProviderErrorKind};
    /// let e = HttpError::from_status("demo", 429, Some("insufficient_quota"));
    /// assert_eq!(e.kind, ProviderErrorKind::QuotaExhausted);
    /// assert!(!e.is_retryable());
    /// ```
    pub fn from_status(provider: &str, status: u16, code: Option<&str>) -> HttpError {
        HttpError {
            provider: provider.to_owned(),
            status,
            kind: ProviderErrorKind::classify(status, code),
            message: None,
            code: code.map(str::to_owned),
            error_type: None,
            retry_after: None,
            should_retry: None,
            headers: BTreeMap::new(),
            body: String::new(),
            error_object: None,
        }
    }

    /// Whether this error is worth retrying: the server's `x-should-retry` if sent,
    /// else the kind's default.
    pub fn is_retryable(&self) -> bool {
        match (self.kind, self.should_retry) {
            // Billing exhaustion, bad keys and filtered prompts do not heal by waiting.
            (
                ProviderErrorKind::QuotaExhausted
                | ProviderErrorKind::Authentication
                | ProviderErrorKind::ContentFilter,
                _,
            ) => false,
            (_, Some(verdict)) => verdict,
            (kind, None) => kind.is_retryable(),
        }
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpError")
            .field("provider", &self.provider)
            .field("status", &self.status)
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("code", &self.code)
            .field("retry_after", &self.retry_after)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered HTTP {}", self.provider, self.status)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        match &self.message {
            Some(message) => write!(f, ": {message}")?,
            None if !self.body.is_empty() => write!(f, "; body: {}", snippet(&self.body, 200))?,
            None => {}
        }
        match self.kind {
            ProviderErrorKind::Authentication => {
                f.write_str(" — check the provider's API key and its access to this model")
            }
            ProviderErrorKind::QuotaExhausted => {
                f.write_str(" — the account's quota is used up; add credit, retrying will not help")
            }
            ProviderErrorKind::NotFound => {
                f.write_str(" — check the model id and the provider's base URL")
            }
            ProviderErrorKind::ContentFilter => f.write_str(
                " — the provider's content filter refused the prompt; rephrase it, retrying will not help",
            ),
            _ => Ok(()),
        }
    }
}

/// Why a provider call failed.
///
/// ```
/// use elelem_core::provider::ProviderError;
/// let e = ProviderError::invalid_body("groq", "expected value at line 1", "<html>502 Bad Gateway</html>");
/// assert!(e.is_retryable());
/// assert!(e.to_string().contains("<html>"));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The provider answered with an HTTP error status.
    #[error("{0}")]
    Http(Box<HttpError>),
    /// The connection failed or was dropped (before or during the response).
    #[error("connection to {provider} failed: {message}")]
    Connection {
        /// The provider's name.
        provider: String,
        /// What went wrong.
        message: String,
    },
    /// A success status whose body was cut mid-way (the connection closed or
    /// reset before its end). The provider took the request and may have billed
    /// it, so the attempt is recorded with an unknown cost and charged its worst
    /// case. Retried like a connection failure.
    ///
    /// ```
    /// use elelem_core::provider::ProviderError;
    /// let e = ProviderError::BodyCut { provider: "groq".into(), message: "unexpected end of file".into() };
    /// assert!(e.is_retryable());
    /// assert!(e.to_string().contains("cut mid-way"));
    /// ```
    #[error("{provider}'s answer was cut mid-way: {message}")]
    BodyCut {
        /// The provider's name.
        provider: String,
        /// What went wrong.
        message: String,
    },
    /// No complete answer within the time limit.
    #[error("{provider} did not answer within {after:?}; raise the timeout if the model is slow")]
    Timeout {
        /// The provider's name.
        provider: String,
        /// The time limit.
        after: Duration,
    },
    /// The provider does not offer this operation.
    #[error("this provider does not support {operation}")]
    Unsupported {
        /// What was asked for (`streaming`, `legacy completions`, `model listing`).
        operation: &'static str,
    },
    /// The response body was larger than the configured limit.
    #[error("{provider} sent a response body larger than the limit of {limit} bytes; raise `max_response_bytes` if this is expected")]
    BodyTooLarge {
        /// The provider's name.
        provider: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The provider answered with a redirect to another origin (scheme, host or
    /// port). It is not followed, so the API key, whatever header carries it, never
    /// goes to a server it was not meant for. Not retried.
    ///
    /// ```
    /// use elelem_core::provider::ProviderError;
    /// let e = ProviderError::Redirected { provider: "anthropic".into(), target: "https://evil.example/v1/messages".into() };
    /// assert!(!e.is_retryable());
    /// assert!(e.to_string().contains("https://evil.example/v1/messages"));
    /// ```
    #[error("{provider} redirected the request to another origin, {target}; it was not followed so that the API key is not sent there: check the provider's base URL")]
    Redirected {
        /// The provider's name.
        provider: String,
        /// Where the redirect pointed.
        target: String,
    },
    /// A success status with a body that is not a chat completion (HTML, truncated
    /// JSON, another shape).
    #[error("{provider} sent a body that is not a chat completion ({reason}); it starts with: {snippet}")]
    InvalidBody {
        /// The provider's name.
        provider: String,
        /// The parse error.
        reason: String,
        /// The start of the body.
        snippet: String,
    },
    /// The provider is in a cool-down after failing again and again (5xx,
    /// connection failures, timeouts): the attempt was refused and nothing was
    /// sent. Not retried by the default policy; see
    /// [`CooldownPolicy`](crate::gate::CooldownPolicy).
    ///
    /// ```
    /// use std::time::Duration;
    /// use elelem_core::provider::ProviderError;
    /// let e = ProviderError::CoolingDown { provider: "groq".into(), remaining: Duration::from_secs(12), failures: 5 };
    /// assert!(!e.is_retryable());
    /// assert_eq!(e.retry_after(), Some(Duration::from_secs(12)));
    /// assert!(e.to_string().contains("nothing was sent"));
    /// ```
    #[error("{provider} is cooling down for another {remaining:.1?} after {failures} failures in a row (5xx, connection or timeout), so nothing was sent; use another provider, wait, or change the cool-down with `ElelemBuilder::provider_cooldown`")]
    CoolingDown {
        /// The provider's name.
        provider: String,
        /// What is left of the cool-down.
        remaining: Duration,
        /// The failures in a row that started it.
        failures: u32,
    },
    /// The provider's credentials are missing or could not be turned into a
    /// token (a service-account key that does not parse, a token endpoint that
    /// refused the grant): nothing was sent to the model. Not retried.
    ///
    /// ```
    /// use elelem_core::provider::ProviderError;
    /// let e = ProviderError::Credentials { provider: "vertex".into(), reason: "set GOOGLE_APPLICATION_CREDENTIALS".into() };
    /// assert!(!e.is_retryable());
    /// assert!(e.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"));
    /// ```
    #[error("{provider} has no usable credentials: {reason}")]
    Credentials {
        /// The provider's name.
        provider: String,
        /// What is missing or wrong, and what to do.
        reason: String,
    },

    /// The provider's rate limit (configured, or learnt from its `x-ratelimit-*`
    /// or `retry-after` headers) has no room for longer than this call may wait
    /// (the retry policy's [`max_server_delay`](crate::retry::RetryPolicy::max_server_delay),
    /// or a virtual model's candidate deadline): the attempt was refused at once
    /// and nothing was sent. A rate limit like a 429 ([`ProviderError::kind`] is
    /// `RateLimited`): the default policy retries it only when `resets_in` is within
    /// `max_server_delay`, and a virtual model moves to its next candidate.
    ///
    /// ```
    /// use std::time::Duration;
    /// use elelem_core::provider::{ProviderError, ProviderErrorKind};
    /// let e = ProviderError::RateLimitWait { provider: "groq".into(), resets_in: Duration::from_secs(3600), bound: Duration::from_secs(120) };
    /// assert_eq!(e.kind(), Some(ProviderErrorKind::RateLimited));
    /// assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
    /// assert!(e.to_string().contains("nothing was sent"));
    /// ```
    #[error("{provider}'s rate limit has no room for another {resets_in:.1?}, longer than this call may wait ({bound:.1?}), so nothing was sent; use another provider, wait, or raise `max_server_delay`")]
    RateLimitWait {
        /// The provider's name.
        provider: String,
        /// When the rate limit has room again, from now.
        resets_in: Duration,
        /// The longest this call could wait.
        bound: Duration,
    },
}

impl ProviderError {
    /// An [`ProviderError::InvalidBody`] with the body cut to a snippet.
    pub fn invalid_body(
        provider: impl Into<String>,
        reason: impl Into<String>,
        body: &str,
    ) -> ProviderError {
        ProviderError::InvalidBody {
            provider: provider.into(),
            reason: reason.into(),
            snippet: snippet(body, 300),
        }
    }

    /// The HTTP error kind, for HTTP errors.
    pub fn kind(&self) -> Option<ProviderErrorKind> {
        match self {
            ProviderError::Http(http) => Some(http.kind),
            ProviderError::RateLimitWait { .. } => Some(ProviderErrorKind::RateLimited),
            _ => None,
        }
    }

    /// Whether retrying the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Http(http) => http.is_retryable(),
            ProviderError::Connection { .. }
            | ProviderError::BodyCut { .. }
            | ProviderError::Timeout { .. }
            | ProviderError::InvalidBody { .. }
            | ProviderError::RateLimitWait { .. } => true,
            ProviderError::BodyTooLarge { .. }
            | ProviderError::Redirected { .. }
            | ProviderError::Unsupported { .. }
            | ProviderError::CoolingDown { .. }
            | ProviderError::Credentials { .. } => false,
        }
    }

    /// The delay the server asked for, if any (for a cool-down, what is left of it).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::Http(http) => http.retry_after,
            ProviderError::CoolingDown { remaining, .. } => Some(*remaining),
            ProviderError::RateLimitWait { resets_in, .. } => Some(*resets_in),
            _ => None,
        }
    }
}

/// The first `max_chars` characters of `text`, marked when cut.
pub(crate) fn snippet(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}… [truncated]", &text[..cut]),
        None => text.to_owned(),
    }
}
