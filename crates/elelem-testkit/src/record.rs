//! [`RecordedRequest`]: what the server saw of one incoming request.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::Value;

/// One request received by the [`TestServer`](crate::TestServer), in arrival order.
///
/// Every request is recorded, whatever its path and whatever the script does
/// with it (even [`drop_connection`](crate::ScriptedResponse::drop_connection)).
///
/// ```
/// use elelem_testkit::RecordedRequest;
///
/// let request = RecordedRequest::new("POST", "/v1/chat/completions", [("Authorization", "Bearer test")], r#"{"model":"m"}"#);
/// assert_eq!(request.header("authorization"), Some("Bearer test"));
/// assert_eq!(request.json().and_then(|v| v["model"].as_str().map(String::from)), Some("m".to_owned()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `"POST"`.
    pub method: String,
    /// Path of the request URI, without the query, e.g. `"/v1/chat/completions"`.
    pub path: String,
    /// Headers with lowercased names. Repeated headers are joined with `", "`;
    /// values that are not UTF-8 are converted lossily.
    pub headers: BTreeMap<String, String>,
    /// The raw request body.
    pub body: Bytes,
    /// The query of the request URI, without `?` (Azure's `api-version=...`).
    pub query: Option<String>,
}

impl RecordedRequest {
    /// Build a record by hand (header names are lowercased, repeated names joined
    /// with `", "`). Mostly useful to test code that inspects records.
    ///
    /// ```
    /// use elelem_testkit::RecordedRequest;
    ///
    /// let request = RecordedRequest::new("GET", "/v1/models", [("Accept", "a"), ("accept", "b")], "");
    /// assert_eq!(request.header("ACCEPT"), Some("a, b"));
    /// ```
    pub fn new<'a>(
        method: impl Into<String>,
        path: impl Into<String>,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: impl Into<Bytes>,
    ) -> Self {
        let mut map = BTreeMap::new();
        for (name, value) in headers {
            insert_header(&mut map, name, value);
        }
        Self {
            method: method.into(),
            path: path.into(),
            headers: map,
            body: body.into(),
            query: None,
        }
    }

    /// The body parsed as JSON, or `None` if it is not valid JSON.
    ///
    /// ```
    /// use elelem_testkit::RecordedRequest;
    ///
    /// let request = RecordedRequest::new("POST", "/", [], "not json");
    /// assert_eq!(request.json(), None);
    /// ```
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A header value, looked up case-insensitively.
    ///
    /// ```
    /// use elelem_testkit::RecordedRequest;
    ///
    /// let request = RecordedRequest::new("POST", "/", [("Content-Type", "application/json")], "");
    /// assert_eq!(request.header("content-type"), Some("application/json"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Insert a header under its lowercased name, joining repeated values with `", "`.
pub(crate) fn insert_header(map: &mut BTreeMap<String, String>, name: &str, value: &str) {
    map.entry(name.to_ascii_lowercase())
        .and_modify(|existing| {
            existing.push_str(", ");
            existing.push_str(value);
        })
        .or_insert_with(|| value.to_owned());
}
