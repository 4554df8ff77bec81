//! The typed events of a streamed response.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::response::{OutputItem, Response};

/// One event of a streamed response (the SSE `event:` name is the `type`).
/// Events Elelem does not type (`response.in_progress`,
/// `response.output_text.done`, ...) are kept as [`ResponseEvent::Other`].
///
/// ```
/// use elelem_core::ResponseEvent;
/// let delta = ResponseEvent::parse(r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hel"}"#).unwrap();
/// assert!(matches!(&delta, ResponseEvent::OutputTextDelta { delta, .. } if delta == "Hel"));
/// assert_eq!(delta.kind(), "response.output_text.delta");
/// let other = ResponseEvent::parse(r#"{"type":"response.in_progress","response":{}}"#).unwrap();
/// assert_eq!(other.kind(), "response.in_progress");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum ResponseEvent {
    /// The response was created (status `in_progress`).
    #[serde(rename = "response.created")]
    Created {
        /// The response so far.
        response: Response,
    },
    /// A piece of output text.
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        /// The message item's id.
        #[serde(default)]
        item_id: String,
        /// The item's place in `output`.
        #[serde(default)]
        output_index: u64,
        /// The part's place in the item's `content`.
        #[serde(default)]
        content_index: u64,
        /// The text.
        delta: String,
    },
    /// An output item started.
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded {
        /// The item's place in `output`.
        #[serde(default)]
        output_index: u64,
        /// The item so far.
        item: OutputItem,
    },
    /// An output item is complete.
    #[serde(rename = "response.output_item.done")]
    OutputItemDone {
        /// The item's place in `output`.
        #[serde(default)]
        output_index: u64,
        /// The whole item.
        item: OutputItem,
    },
    /// A piece of a function call's arguments.
    #[serde(rename = "response.function_call_arguments.delta")]
    FunctionCallArgumentsDelta {
        /// The function call item's id.
        #[serde(default)]
        item_id: String,
        /// The item's place in `output`.
        #[serde(default)]
        output_index: u64,
        /// The piece of the arguments.
        delta: String,
    },
    /// The response is complete: it carries the whole response with its usage.
    #[serde(rename = "response.completed")]
    Completed {
        /// The whole response.
        response: Response,
    },
    /// The response stopped early (the output limit): whole response and usage.
    #[serde(rename = "response.incomplete")]
    Incomplete {
        /// The whole response.
        response: Response,
    },
    /// The response failed; its `error` says why.
    #[serde(rename = "response.failed")]
    Failed {
        /// The response, with its `error` and any usage.
        response: Response,
    },
    /// The stream failed.
    #[serde(rename = "error")]
    Error {
        /// The error code.
        #[serde(default)]
        code: Option<String>,
        /// What went wrong.
        #[serde(default)]
        message: String,
        /// The parameter at fault.
        #[serde(default)]
        param: Option<String>,
    },
    /// Any other event, kept as sent.
    #[serde(untagged)]
    Other(Value),
}

impl ResponseEvent {
    /// Reads one event's `data`. Unknown event types become
    /// [`ResponseEvent::Other`]; only data that is not JSON is an error.
    pub fn parse(data: &str) -> Result<ResponseEvent, serde_json::Error> {
        serde_json::from_str(data)
    }

    /// The event's type (its SSE `event:` name).
    pub fn kind(&self) -> &str {
        match self {
            ResponseEvent::Created { .. } => "response.created",
            ResponseEvent::OutputTextDelta { .. } => "response.output_text.delta",
            ResponseEvent::OutputItemAdded { .. } => "response.output_item.added",
            ResponseEvent::OutputItemDone { .. } => "response.output_item.done",
            ResponseEvent::FunctionCallArgumentsDelta { .. } => {
                "response.function_call_arguments.delta"
            }
            ResponseEvent::Completed { .. } => "response.completed",
            ResponseEvent::Incomplete { .. } => "response.incomplete",
            ResponseEvent::Failed { .. } => "response.failed",
            ResponseEvent::Error { .. } => "error",
            ResponseEvent::Other(value) => value.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// The whole response an event ending the stream carries
    /// (`response.completed`, `response.incomplete`, `response.failed`).
    pub fn final_response(&self) -> Option<&Response> {
        match self {
            ResponseEvent::Completed { response }
            | ResponseEvent::Incomplete { response }
            | ResponseEvent::Failed { response } => Some(response),
            _ => None,
        }
    }

    /// Whether the event ends the stream (a final response, or `error`).
    pub fn is_terminal(&self) -> bool {
        self.final_response().is_some() || matches!(self, ResponseEvent::Error { .. })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_completed_event_carries_the_usage() {
        let event = ResponseEvent::parse(
            r#"{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","status":"completed",
                "output":[],"usage":{"input_tokens":10,"output_tokens":4,"total_tokens":14}}}"#,
        )
        .unwrap();
        let response = event.final_response().unwrap();
        assert_eq!(response.usage.as_ref().unwrap().output_tokens, Some(4));
        assert!(event.is_terminal());
    }

    #[test]
    fn typed_events_read_their_fields() {
        let added = ResponseEvent::parse(r#"{"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","name":"f","arguments":""}}"#).unwrap();
        assert!(
            matches!(&added, ResponseEvent::OutputItemAdded { output_index: 1, item } if item.name.as_deref() == Some("f"))
        );
        let args = ResponseEvent::parse(r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":1,"delta":"{\"a\""}"#).unwrap();
        assert!(
            matches!(args, ResponseEvent::FunctionCallArgumentsDelta { delta, .. } if delta == "{\"a\"")
        );
        let error = ResponseEvent::parse(
            r#"{"type":"error","code":"server_error","message":"boom","param":null}"#,
        )
        .unwrap();
        assert!(matches!(&error, ResponseEvent::Error { message, .. } if message == "boom"));
        assert!(error.is_terminal());
        let failed = ResponseEvent::parse(r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"x"}}}"#).unwrap();
        assert!(failed.final_response().unwrap().failure().is_some());
    }

    #[test]
    fn unknown_or_odd_events_are_kept_and_never_panic() {
        for data in [
            r#"{"type":"response.reasoning_summary_text.delta","delta":"hm"}"#,
            r#"{"no_type":true}"#,
            r#"[1,2]"#,
            r#""text""#,
            r#"{"type":"response.output_text.delta"}"#,
            r#"{"type":"response.completed","response":"not an object"}"#,
        ] {
            let event = ResponseEvent::parse(data).unwrap();
            assert!(matches!(event, ResponseEvent::Other(_)), "{data}");
            assert!(!event.is_terminal());
        }
        assert!(ResponseEvent::parse("not json").is_err());
        let other = ResponseEvent::parse(r#"{"type":"response.in_progress"}"#).unwrap();
        assert_eq!(
            serde_json::to_value(&other).unwrap(),
            serde_json::json!({"type":"response.in_progress"})
        );
        let delta =
            ResponseEvent::parse(r#"{"type":"response.output_text.delta","delta":"x"}"#).unwrap();
        assert_eq!(
            serde_json::to_value(&delta).unwrap()["type"],
            "response.output_text.delta"
        );
    }
}
