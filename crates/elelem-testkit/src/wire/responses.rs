//! The OpenAI Responses API's answers (`POST /v1/responses`): a whole
//! `response` object and its streamed form, with the real `event:` names.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{next_id, unix_now};
use crate::ScriptedResponse;

/// What the response holds.
#[derive(Debug, Clone)]
enum Output {
    /// A message with this text.
    Text(String),
    /// A function call: name and arguments.
    Call(String, String),
}

/// A Responses API answer in OpenAI's exact shape, with 10 input and 5 output
/// tokens unless told otherwise.
///
/// ```
/// use elelem_testkit::wire::ResponseBody;
/// let body = ResponseBody::new("gpt-4.1-mini", "Hello").usage(20, 7).cached(5).reasoning(3).to_json();
/// assert_eq!(body["object"], "response");
/// assert_eq!(body["output"][0]["content"][0]["text"], "Hello");
/// assert_eq!(body["usage"]["input_tokens_details"]["cached_tokens"], 5);
/// assert_eq!(body["usage"]["output_tokens_details"]["reasoning_tokens"], 3);
/// assert_eq!(body["usage"]["total_tokens"], 27);
/// ```
#[derive(Debug, Clone)]
pub struct ResponseBody {
    id: String,
    model: String,
    output: Output,
    usage: Option<(u64, u64)>,
    cached: u64,
    reasoning: u64,
    status: String,
    error: Option<Value>,
}

impl ResponseBody {
    /// A completed response whose message says `text`.
    pub fn new(model: &str, text: &str) -> Self {
        ResponseBody {
            id: format!("resp_{:016x}", next_id()),
            model: model.to_owned(),
            output: Output::Text(text.to_owned()),
            usage: Some((10, 5)),
            cached: 0,
            reasoning: 0,
            status: "completed".into(),
            error: None,
        }
    }

    /// A completed response calling the function `name` with `arguments`.
    ///
    /// ```
    /// let body = elelem_testkit::wire::ResponseBody::function_call("gpt-4.1", "lookup", r#"{"q":"x"}"#).to_json();
    /// assert_eq!(body["output"][0]["type"], "function_call");
    /// ```
    pub fn function_call(model: &str, name: &str, arguments: &str) -> Self {
        let mut body = ResponseBody::new(model, "");
        body.output = Output::Call(name.to_owned(), arguments.to_owned());
        body
    }

    /// A failed response (`status: "failed"`) with this error.
    ///
    /// ```
    /// let body = elelem_testkit::wire::ResponseBody::failed("gpt-4.1", "server_error", "The server had an error").to_json();
    /// assert_eq!(body["status"], "failed");
    /// assert_eq!(body["error"]["code"], "server_error");
    /// ```
    pub fn failed(model: &str, code: &str, message: &str) -> Self {
        let mut body = ResponseBody::new(model, "");
        body.status = "failed".into();
        body.error = Some(json!({"code": code, "message": message}));
        body.usage = Some((10, 0));
        body
    }

    /// Sets the response id (`resp_...`).
    #[must_use]
    pub fn id(mut self, id: &str) -> Self {
        self.id = id.to_owned();
        self
    }

    /// Sets the input and output tokens.
    #[must_use]
    pub fn usage(mut self, input_tokens: u64, output_tokens: u64) -> Self {
        self.usage = Some((input_tokens, output_tokens));
        self
    }

    /// Sets the cached input tokens (part of the input).
    #[must_use]
    pub fn cached(mut self, tokens: u64) -> Self {
        self.cached = tokens;
        self
    }

    /// Sets the reasoning tokens (part of the output).
    #[must_use]
    pub fn reasoning(mut self, tokens: u64) -> Self {
        self.reasoning = tokens;
        self
    }

    /// The response's id.
    pub fn response_id(&self) -> &str {
        &self.id
    }

    fn usage_json(&self) -> Value {
        match self.usage {
            None => Value::Null,
            Some((input, output)) => json!({
                "input_tokens": input,
                "input_tokens_details": {"cached_tokens": self.cached},
                "output_tokens": output,
                "output_tokens_details": {"reasoning_tokens": self.reasoning},
                "total_tokens": input + output,
            }),
        }
    }

    /// The output item, complete.
    fn item(&self) -> Option<Value> {
        if self.status == "failed" {
            return None;
        }
        Some(match &self.output {
            Output::Text(text) => json!({
                "type": "message",
                "id": format!("msg_{}", self.id),
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }),
            Output::Call(name, arguments) => json!({
                "type": "function_call",
                "id": format!("fc_{}", self.id),
                "status": "completed",
                "name": name,
                "arguments": arguments,
                "call_id": format!("call_{}", self.id),
            }),
        })
    }

    /// The response object with `status`, `output` and `usage` as given.
    fn object(&self, status: &str, output: Vec<Value>, usage: Value) -> Value {
        json!({
            "id": self.id,
            "object": "response",
            "created_at": unix_now(),
            "status": status,
            "error": if status == "failed" { self.error.clone().unwrap_or(Value::Null) } else { Value::Null },
            "incomplete_details": null,
            "instructions": null,
            "max_output_tokens": null,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": true,
            "previous_response_id": null,
            "reasoning": {"effort": null, "summary": null},
            "store": true,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": null,
            "metadata": {},
        })
    }

    /// The whole response object.
    pub fn to_json(&self) -> Value {
        self.object(
            &self.status,
            self.item().into_iter().collect(),
            self.usage_json(),
        )
    }

    /// The answer (HTTP 200, JSON).
    pub fn into_response(self) -> ScriptedResponse {
        ScriptedResponse::json(200, self.to_json())
    }

    /// The streamed form, as OpenAI sends it with `stream: true`: `event:` and
    /// `data:` lines, `response.created`, `response.in_progress`, the item's
    /// events (text deltas word by word, or function-call argument deltas),
    /// then `response.completed` (or `response.failed`) carrying the whole
    /// response with its usage. There is no `[DONE]`.
    ///
    /// ```
    /// let bytes = elelem_testkit::wire::ResponseBody::new("gpt-4.1-mini", "Hi there").to_stream_bytes();
    /// let text = String::from_utf8(bytes.to_vec()).unwrap();
    /// assert!(text.starts_with("event: response.created\ndata: {"));
    /// assert!(text.contains("event: response.output_text.delta\n"));
    /// assert!(text.trim_end().split("\n\n").last().unwrap().starts_with("event: response.completed"));
    /// ```
    pub fn to_stream_bytes(&self) -> Bytes {
        let mut events = Events::default();
        let empty = self.object("in_progress", Vec::new(), Value::Null);
        events.push("response.created", json!({"response": empty}));
        events.push("response.in_progress", json!({"response": empty}));
        if let Some(item) = self.item() {
            let item_id = item["id"].clone();
            let mut started = item.clone();
            started["status"] = json!("in_progress");
            match &self.output {
                Output::Text(text) => {
                    started["content"] = json!([]);
                    events.push(
                        "response.output_item.added",
                        json!({"output_index": 0, "item": started}),
                    );
                    let part = json!({"type": "output_text", "text": "", "annotations": []});
                    events.push("response.content_part.added", json!({"item_id": item_id, "output_index": 0, "content_index": 0, "part": part}));
                    for piece in text.split_inclusive(' ') {
                        events.push("response.output_text.delta", json!({"item_id": item_id, "output_index": 0, "content_index": 0, "delta": piece}));
                    }
                    events.push("response.output_text.done", json!({"item_id": item_id, "output_index": 0, "content_index": 0, "text": text}));
                    events.push("response.content_part.done", json!({"item_id": item_id, "output_index": 0, "content_index": 0, "part": item["content"][0]}));
                }
                Output::Call(_, arguments) => {
                    started["arguments"] = json!("");
                    events.push(
                        "response.output_item.added",
                        json!({"output_index": 0, "item": started}),
                    );
                    let middle = (0..=arguments.len() / 2)
                        .rev()
                        .find(|i| arguments.is_char_boundary(*i))
                        .unwrap_or(0);
                    for piece in [&arguments[..middle], &arguments[middle..]] {
                        events.push(
                            "response.function_call_arguments.delta",
                            json!({"item_id": item_id, "output_index": 0, "delta": piece}),
                        );
                    }
                    events.push(
                        "response.function_call_arguments.done",
                        json!({"item_id": item_id, "output_index": 0, "arguments": arguments}),
                    );
                }
            }
            events.push(
                "response.output_item.done",
                json!({"output_index": 0, "item": item}),
            );
        }
        let end = if self.status == "failed" {
            "response.failed"
        } else {
            "response.completed"
        };
        events.push(end, json!({"response": self.to_json()}));
        Bytes::from(events.body)
    }

    /// The streamed answer (HTTP 200, `text/event-stream`).
    pub fn into_stream_response(self) -> ScriptedResponse {
        ScriptedResponse::raw(200, "text/event-stream", self.to_stream_bytes())
    }
}

/// A successful Responses API answer saying `text` (10 input, 5 output tokens).
///
/// ```
/// let answer = elelem_testkit::wire::response("gpt-4.1-mini", "Hi");
/// assert_eq!(answer.json_body().unwrap()["output"][0]["content"][0]["text"], "Hi");
/// ```
pub fn response(model: &str, text: &str) -> ScriptedResponse {
    ResponseBody::new(model, text).into_response()
}

/// Server-sent events with their `event:` names and sequence numbers.
#[derive(Default)]
struct Events {
    body: String,
    sequence: u64,
}

impl Events {
    fn push(&mut self, name: &str, mut data: Value) {
        data["type"] = json!(name);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        self.body.push_str("event: ");
        self.body.push_str(name);
        self.body.push_str("\ndata: ");
        self.body.push_str(&data.to_string());
        self.body.push_str("\n\n");
    }
}
