//! The Responses API's server side: the stored responses a
//! `previous_response_id` may continue, and the refusals of requests the real
//! API refuses (chat-only fields, an unknown `previous_response_id`).

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use serde_json::{json, Value};

use crate::ScriptedResponse;

/// The ids of the responses the server answered and stored.
#[derive(Debug, Default)]
pub(crate) struct Store {
    ids: Mutex<HashSet<String>>,
}

impl Store {
    /// Keeps the id of a successful answer to a request that did not say
    /// `store: false` (the id of a JSON response, or of a stream's
    /// `response.created` event).
    pub(crate) fn remember(&self, request: &[u8], answer: &ScriptedResponse) {
        let stores = serde_json::from_slice::<Value>(request)
            .ok()
            .and_then(|r| r.get("store").and_then(Value::as_bool))
            .unwrap_or(true);
        if !stores || answer.status() != Some(200) {
            return;
        }
        if let Some(id) = answer.body().and_then(|body| response_id(body)) {
            self.ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id);
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(id)
    }
}

/// The id of the response in an answer body: a JSON response's `id`, or the
/// `response.id` of the first SSE event carrying a response.
fn response_id(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return value.get("id")?.as_str().map(str::to_owned);
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find_map(|event| {
            event
                .get("response")?
                .get("id")?
                .as_str()
                .map(str::to_owned)
        })
}

/// OpenAI's 400 body.
fn invalid(message: String, param: &str, code: &str) -> Value {
    json!({"error": {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }})
}

/// Chat Completions fields the Responses API refuses, and where they moved.
const MOVED: [(&str, &str); 4] = [
    ("messages", "input"),
    ("response_format", "text.format"),
    ("max_tokens", "max_output_tokens"),
    ("max_completion_tokens", "max_output_tokens"),
];

/// The real API's refusal of a Responses request, if it has one.
pub(crate) fn refusal(store: &Store, body: &[u8]) -> Option<Value> {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Some(invalid(
            "We could not parse the JSON body of your request.".into(),
            "",
            "invalid_json",
        ));
    };
    for (field, moved) in MOVED {
        if request.get(field).is_some() {
            return Some(invalid(
                format!("Unsupported parameter: '{field}'. In the Responses API, this parameter has moved to '{moved}'. Try again with the new parameter."),
                field,
                "unsupported_parameter",
            ));
        }
    }
    if request.get("model").and_then(Value::as_str).is_none() {
        return Some(invalid(
            "Missing required parameter: 'model'.".into(),
            "model",
            "missing_required_parameter",
        ));
    }
    if let Some(previous) = request.get("previous_response_id").and_then(Value::as_str) {
        if !store.contains(previous) {
            return Some(invalid(
                format!("Previous response with id '{previous}' not found."),
                "previous_response_id",
                "previous_response_not_found",
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::wire::ResponseBody;

    #[test]
    fn chat_fields_and_unknown_previous_ids_are_refused() {
        let store = Store::default();
        let refused = refusal(&store, br#"{"model":"gpt-4.1","messages":[]}"#).unwrap();
        assert_eq!(refused["error"]["param"], "messages");
        let refused = refusal(
            &store,
            br#"{"model":"gpt-4.1","input":"x","previous_response_id":"resp_x"}"#,
        )
        .unwrap();
        assert_eq!(refused["error"]["param"], "previous_response_id");
        assert_eq!(refused["error"]["type"], "invalid_request_error");
        assert_eq!(refusal(&store, br#"{"model":"gpt-4.1","input":"x"}"#), None);
    }

    #[test]
    fn answered_responses_are_stored_unless_told_not_to() {
        let store = Store::default();
        let plain = ResponseBody::new("m", "a").id("resp_plain").into_response();
        store.remember(br#"{"input":"x"}"#, &plain);
        let streamed = ResponseBody::new("m", "a")
            .id("resp_streamed")
            .into_stream_response();
        store.remember(br#"{"input":"x","stream":true}"#, &streamed);
        let unstored = ResponseBody::new("m", "a")
            .id("resp_unstored")
            .into_response();
        store.remember(br#"{"input":"x","store":false}"#, &unstored);
        assert!(store.contains("resp_plain"));
        assert!(store.contains("resp_streamed"));
        assert!(!store.contains("resp_unstored"));
    }
}
