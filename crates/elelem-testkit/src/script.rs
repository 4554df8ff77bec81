//! [`ScriptedResponse`]: what the server answers to one request.

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

/// One scripted answer of the [`TestServer`](crate::TestServer).
///
/// Build it with [`json`](Self::json), [`raw`](Self::raw),
/// [`drop_connection`](Self::drop_connection) or
/// [`truncated_body`](Self::truncated_body), refine it with
/// [`header`](Self::header) and [`delay`](Self::delay), then hand it to
/// [`TestServer::push`](crate::TestServer::push). The [`wire`](crate::wire)
/// module builds the exact answers of real providers.
///
/// ```
/// use std::time::Duration;
/// use elelem_testkit::ScriptedResponse;
/// use serde_json::json;
///
/// let answer = ScriptedResponse::json(200, json!({"ok": true}))
///     .header("x-request-id", "req_1")
///     .delay(Duration::from_millis(5));
/// assert_eq!(answer.status(), Some(200));
/// assert_eq!(answer.header_value("X-Request-Id"), Some("req_1"));
/// assert_eq!(answer.json_body(), Some(json!({"ok": true})));
/// ```
#[derive(Debug, Clone)]
pub struct ScriptedResponse {
    pub(crate) action: Action,
    pub(crate) delay: Option<Duration>,
}

/// What the server does once the optional delay is over.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Write an HTTP response (possibly cut short).
    Reply(Reply),
    /// Close the connection without writing anything.
    Drop,
}

/// An HTTP response to write.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
    /// When set, only this many body bytes are written before the connection
    /// is aborted, while `content-length` announces the full body.
    pub(crate) cut_at: Option<usize>,
    /// When set, the body is sent without a length, then nothing more for this
    /// long, then the connection is aborted (a provider that stalls mid-stream).
    pub(crate) stall: Option<Duration>,
    /// When set, the body is these parts, each sent after this pause (a slow
    /// provider, or one that sends keep-alive comments while the model thinks).
    pub(crate) drip: Option<(Vec<Bytes>, Duration)>,
}

impl ScriptedResponse {
    /// A JSON answer with the given status and `content-type: application/json`.
    ///
    /// ```
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// let answer = ScriptedResponse::json(201, serde_json::json!({"id": 1}));
    /// assert_eq!(answer.header_value("content-type"), Some("application/json"));
    /// assert_eq!(answer.body().map(|b| b.as_ref()), Some(&br#"{"id":1}"#[..]));
    /// ```
    pub fn json(status: u16, body: Value) -> Self {
        Self::raw(status, "application/json", body.to_string())
    }

    /// An answer with any status, content type and body bytes.
    ///
    /// ```
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// let answer = ScriptedResponse::raw(503, "text/plain", "try later");
    /// assert_eq!(answer.status(), Some(503));
    /// assert_eq!(answer.header_value("content-type"), Some("text/plain"));
    /// ```
    pub fn raw(status: u16, content_type: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self::reply(Reply {
            status,
            headers: vec![("content-type".to_owned(), content_type.into())],
            body: body.into(),
            cut_at: None,
            stall: None,
            drip: None,
        })
    }

    /// Send the body as `parts`, pausing `every` before each one (no
    /// `content-length`): a slow drip of tokens, or keep-alive comments
    /// (`": keep-alive\n\n"`) before the answer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// let answer = ScriptedResponse::drip(200, "text/event-stream", [": keep-alive\n\n", "data: [DONE]\n\n"], Duration::from_millis(20));
    /// assert_eq!(answer.body().map(|b| b.len()), Some(28));
    /// ```
    pub fn drip<P: Into<Bytes>>(
        status: u16,
        content_type: impl Into<String>,
        parts: impl IntoIterator<Item = P>,
        every: Duration,
    ) -> Self {
        let parts: Vec<Bytes> = parts.into_iter().map(Into::into).collect();
        let whole: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        Self::reply(Reply {
            status,
            headers: vec![("content-type".to_owned(), content_type.into())],
            body: Bytes::from(whole),
            cut_at: None,
            stall: None,
            drip: Some((parts, every)),
        })
    }

    /// Close the connection without sending any HTTP response.
    ///
    /// The request is still recorded. The client sees a transport error
    /// (connection closed before a response arrived).
    ///
    /// ```
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// let answer = ScriptedResponse::drop_connection();
    /// assert!(answer.is_drop());
    /// assert_eq!(answer.status(), None);
    /// ```
    pub fn drop_connection() -> Self {
        Self {
            action: Action::Drop,
            delay: None,
        }
    }

    /// Announce `full_body` with its full `content-length`, send only its first
    /// `cut_at` bytes, then abort the connection: the client gets the status
    /// and headers but fails while reading the body.
    ///
    /// The content type is `application/json` (change it with
    /// [`header`](Self::header)). `cut_at` is clamped below the body length, so
    /// a non-empty body is always incomplete.
    ///
    /// ```
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// let answer = ScriptedResponse::truncated_body(200, r#"{"id":"chatcmpl-1"}"#, 5);
    /// assert_eq!(answer.status(), Some(200));
    /// assert_eq!(answer.body().map(|b| b.len()), Some(19));
    /// ```
    pub fn truncated_body(status: u16, full_body: impl Into<Bytes>, cut_at: usize) -> Self {
        let body: Bytes = full_body.into();
        let cut_at = cut_at.min(body.len().saturating_sub(1));
        Self::reply(Reply {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body,
            cut_at: Some(cut_at),
            stall: None,
            drip: None,
        })
    }

    /// Send `first_part` (no `content-length`), then stall: nothing more for
    /// `stall`, then abort the connection. Emulates a provider that stops
    /// sending in the middle of a stream.
    ///
    /// ```
    /// use std::time::Duration;
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// let answer = ScriptedResponse::stalled_body(200, "text/event-stream", "data: {}\n\n", Duration::from_secs(5));
    /// assert_eq!(answer.header_value("content-type"), Some("text/event-stream"));
    /// ```
    pub fn stalled_body(
        status: u16,
        content_type: impl Into<String>,
        first_part: impl Into<Bytes>,
        stall: Duration,
    ) -> Self {
        Self::reply(Reply {
            status,
            headers: vec![("content-type".to_owned(), content_type.into())],
            body: first_part.into(),
            cut_at: None,
            stall: Some(stall),
            drip: None,
        })
    }

    /// Set a response header, replacing any header of the same name
    /// (compared case-insensitively). Ignored by
    /// [`drop_connection`](Self::drop_connection) answers.
    ///
    /// ```
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// let answer = ScriptedResponse::raw(200, "text/plain", "hi")
    ///     .header("Content-Type", "text/event-stream")
    ///     .header("retry-after", "2");
    /// assert_eq!(answer.header_value("content-type"), Some("text/event-stream"));
    /// assert_eq!(answer.header_value("Retry-After"), Some("2"));
    /// ```
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Action::Reply(reply) = &mut self.action {
            let name = name.into();
            reply
                .headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            reply.headers.push((name, value.into()));
        }
        self
    }

    /// Wait this long before answering (or before dropping the connection).
    ///
    /// ```
    /// use std::time::Duration;
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// let slow = ScriptedResponse::drop_connection().delay(Duration::from_secs(1));
    /// assert_eq!(slow.delay_duration(), Some(Duration::from_secs(1)));
    /// ```
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The HTTP status, or `None` for a [`drop_connection`](Self::drop_connection) answer.
    ///
    /// ```
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// assert_eq!(ScriptedResponse::raw(418, "text/plain", "").status(), Some(418));
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.as_reply().map(|r| r.status)
    }

    /// The full body bytes, or `None` for a [`drop_connection`](Self::drop_connection) answer.
    ///
    /// ```
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// let answer = ScriptedResponse::raw(200, "text/plain", "hello");
    /// assert_eq!(answer.body().map(|b| b.as_ref()), Some(&b"hello"[..]));
    /// ```
    pub fn body(&self) -> Option<&bytes::Bytes> {
        self.as_reply().map(|r| &r.body)
    }

    /// The full body parsed as JSON, if it is JSON.
    ///
    /// ```
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// assert_eq!(ScriptedResponse::raw(200, "text/plain", "nope").json_body(), None);
    /// ```
    pub fn json_body(&self) -> Option<Value> {
        self.body().and_then(|b| serde_json::from_slice(b).ok())
    }

    /// The value of a response header (name compared case-insensitively).
    ///
    /// ```
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// let answer = ScriptedResponse::json(200, serde_json::json!({}));
    /// assert_eq!(answer.header_value("Content-Type"), Some("application/json"));
    /// assert_eq!(answer.header_value("retry-after"), None);
    /// ```
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.as_reply()?
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this answer closes the connection without any response.
    ///
    /// ```
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// assert!(!ScriptedResponse::raw(200, "text/plain", "").is_drop());
    /// ```
    pub fn is_drop(&self) -> bool {
        matches!(self.action, Action::Drop)
    }

    /// The delay set with [`delay`](Self::delay), if any.
    ///
    /// ```
    /// use elelem_testkit::ScriptedResponse;
    ///
    /// assert_eq!(ScriptedResponse::drop_connection().delay_duration(), None);
    /// ```
    pub fn delay_duration(&self) -> Option<Duration> {
        self.delay
    }

    fn reply(reply: Reply) -> Self {
        Self {
            action: Action::Reply(reply),
            delay: None,
        }
    }

    fn as_reply(&self) -> Option<&Reply> {
        match &self.action {
            Action::Reply(reply) => Some(reply),
            Action::Drop => None,
        }
    }
}
