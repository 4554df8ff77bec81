//! What a provider returns for the Responses API, and the body it sends.

use std::collections::BTreeMap;
use std::pin::Pin;

use futures_core::Stream;
use serde_json::{Map, Value};

use super::{Liveness, ProviderError, WireRequest};
use crate::types::{Response, ResponseEvent, Usage};

/// A provider's answer to `POST /responses`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseReply {
    /// The response as the provider sent it.
    pub response: Response,
    /// Its usage as chat [`Usage`] (what the cost code reads), with the
    /// provider's quirks applied.
    pub usage: Option<Usage>,
    /// Response headers worth keeping, lower-case names.
    pub headers: BTreeMap<String, String>,
}

impl ResponseReply {
    /// A reply with the response's own usage and no headers.
    ///
    /// ```
    /// let response: elelem_core::Response = serde_json::from_str(r#"{"usage":{"input_tokens":2}}"#).unwrap();
    /// let reply = elelem_core::provider::ResponseReply::new(response);
    /// assert_eq!(reply.usage.unwrap().prompt_tokens, Some(2));
    /// ```
    pub fn new(response: Response) -> Self {
        let usage = response.usage.as_ref().map(|u| u.to_usage());
        ResponseReply {
            response,
            usage,
            headers: BTreeMap::new(),
        }
    }
}

/// Events of a streamed response, as a provider decodes them.
pub type ResponseEvents = Pin<Box<dyn Stream<Item = Result<ResponseEvent, ProviderError>> + Send>>;

/// A provider's streamed response: its events and the response headers.
pub struct ResponseEventStream {
    /// The events, ending after the one that ends the response.
    pub events: ResponseEvents,
    /// Response headers worth keeping, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// Beaten whenever the provider sends bytes (see [`super::ProviderStream`]).
    pub alive: Liveness,
}

impl std::fmt::Debug for ResponseEventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseEventStream")
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// The JSON body of `POST /responses` for a [`WireRequest`] built by the
/// Responses operation: every field as given, except that the answer's format
/// travels in `response_format` (so the retry ladder can see and drop it) and
/// is sent as `text.format`, next to any other `text` field.
///
/// ```
/// use elelem_core::provider::{responses_body, WireRequest};
/// use serde_json::json;
/// let mut request = WireRequest::default();
/// request.model = "gpt-4.1-mini".into();
/// request.set("input", json!("Hi"));
/// request.set("text", json!({"verbosity": "low"}));
/// request.response_format = Some(json!({"type": "json_object"}));
/// let body = responses_body(&request);
/// assert_eq!(body["text"], json!({"verbosity": "low", "format": {"type": "json_object"}}));
/// assert!(body.get("response_format").is_none());
/// assert!(body.get("messages").is_none());
/// ```
pub fn responses_body(request: &WireRequest) -> Map<String, Value> {
    let mut request = request.clone();
    let format = request.response_format.take();
    let mut body = match serde_json::to_value(&request) {
        Ok(Value::Object(body)) => body,
        _ => Map::new(),
    };
    if let Some(format) = format.filter(|f| !f.is_null()) {
        let text = body
            .entry("text")
            .or_insert_with(|| Value::Object(Map::new()));
        if !text.is_object() {
            *text = Value::Object(Map::new());
        }
        if let Value::Object(text) = text {
            text.insert("format".into(), format);
        }
    }
    body
}
