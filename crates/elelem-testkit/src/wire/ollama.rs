//! Ollama's native `POST /api/chat` (with `"stream": false`): answers and errors.

use serde_json::{json, Map, Value};

use crate::ScriptedResponse;

/// A successful Ollama chat answer (HTTP 200, one object with `"done": true`),
/// 10 prompt and 5 eval tokens, `done_reason` `"stop"`. Use [`OllamaChat`] to
/// change anything.
///
/// ```
/// use elelem_testkit::wire;
///
/// let body = wire::ollama_chat("llama3.2", "Hi").json_body().unwrap_or_default();
/// assert_eq!(body["message"], serde_json::json!({"role": "assistant", "content": "Hi"}));
/// assert_eq!(body["done"], true);
/// assert_eq!(body["prompt_eval_count"], 10);
/// assert_eq!(body["eval_count"], 5);
/// ```
pub fn ollama_chat(model: &str, content: &str) -> ScriptedResponse {
    OllamaChat::new(model, content).into_response()
}

/// Builder of Ollama's final chat record, in its field order: `model`,
/// `created_at` (RFC 3339, nanoseconds), `message {role, content, thinking?,
/// tool_calls?}`, `done_reason`, `done`, `total_duration`, `load_duration`,
/// `prompt_eval_count`, `prompt_eval_duration`, `eval_count`, `eval_duration`
/// (durations in nanoseconds).
///
/// ```
/// use elelem_testkit::wire::OllamaChat;
///
/// let body = OllamaChat::new("qwen3:8b", "{}").counts(120, 40).thinking("Okay.").to_json();
/// assert_eq!(body["message"]["thinking"], "Okay.");
/// assert_eq!(body["prompt_eval_count"], 120);
/// assert!(body["total_duration"].as_u64().is_some());
/// ```
#[derive(Debug, Clone)]
pub struct OllamaChat {
    model: String,
    content: String,
    thinking: Option<String>,
    tool_calls: Vec<Value>,
    done_reason: String,
    prompt_eval_count: Option<u64>,
    eval_count: u64,
}

impl OllamaChat {
    /// An answer of `model` whose message content is `content`.
    ///
    /// ```
    /// use elelem_testkit::wire::OllamaChat;
    ///
    /// assert_eq!(OllamaChat::new("llama3.2", "x").to_json()["model"], "llama3.2");
    /// ```
    pub fn new(model: &str, content: &str) -> Self {
        OllamaChat {
            model: model.to_owned(),
            content: content.to_owned(),
            thinking: None,
            tool_calls: Vec::new(),
            done_reason: "stop".to_owned(),
            prompt_eval_count: Some(10),
            eval_count: 5,
        }
    }

    /// `prompt_eval_count` and `eval_count`.
    ///
    /// ```
    /// use elelem_testkit::wire::OllamaChat;
    ///
    /// assert_eq!(OllamaChat::new("m", "x").counts(1, 2).to_json()["eval_count"], 2);
    /// ```
    #[must_use]
    pub fn counts(mut self, prompt_eval_count: u64, eval_count: u64) -> Self {
        self.prompt_eval_count = Some(prompt_eval_count);
        self.eval_count = eval_count;
        self
    }

    /// Leave `prompt_eval_count` out, as Ollama does when the whole prompt came
    /// from its cache.
    ///
    /// ```
    /// use elelem_testkit::wire::OllamaChat;
    ///
    /// assert!(OllamaChat::new("m", "x").without_prompt_count().to_json().get("prompt_eval_count").is_none());
    /// ```
    #[must_use]
    pub fn without_prompt_count(mut self) -> Self {
        self.prompt_eval_count = None;
        self
    }

    /// `message.thinking`, as thinking models answer with `"think": true`.
    ///
    /// ```
    /// use elelem_testkit::wire::OllamaChat;
    ///
    /// assert_eq!(OllamaChat::new("m", "x").thinking("t").to_json()["message"]["thinking"], "t");
    /// ```
    #[must_use]
    pub fn thinking(mut self, thinking: &str) -> Self {
        self.thinking = Some(thinking.to_owned());
        self
    }

    /// A `message.tool_calls` entry `{"function": {"name", "arguments"}}`
    /// (arguments as an object, not a string).
    ///
    /// ```
    /// use elelem_testkit::wire::OllamaChat;
    /// use serde_json::json;
    ///
    /// let body = OllamaChat::new("m", "").tool_call("get_weather", json!({"city": "Paris"})).to_json();
    /// assert_eq!(body["message"]["tool_calls"][0]["function"]["arguments"]["city"], "Paris");
    /// ```
    #[must_use]
    pub fn tool_call(mut self, name: &str, arguments: Value) -> Self {
        self.tool_calls
            .push(json!({"function": {"name": name, "arguments": arguments}}));
        self
    }

    /// `done_reason` (`"stop"` by default; `"length"`, `"load"`, ...).
    ///
    /// ```
    /// use elelem_testkit::wire::OllamaChat;
    ///
    /// assert_eq!(OllamaChat::new("m", "x").done_reason("length").to_json()["done_reason"], "length");
    /// ```
    #[must_use]
    pub fn done_reason(mut self, done_reason: &str) -> Self {
        done_reason.clone_into(&mut self.done_reason);
        self
    }

    /// The response body as JSON.
    ///
    /// ```
    /// use elelem_testkit::wire::OllamaChat;
    ///
    /// assert_eq!(OllamaChat::new("m", "x").to_json()["created_at"], "2025-10-17T23:14:07.414671Z");
    /// ```
    pub fn to_json(&self) -> Value {
        let mut message = Map::new();
        message.insert("role".to_owned(), json!("assistant"));
        message.insert("content".to_owned(), json!(self.content));
        if let Some(thinking) = &self.thinking {
            message.insert("thinking".to_owned(), json!(thinking));
        }
        if !self.tool_calls.is_empty() {
            message.insert("tool_calls".to_owned(), json!(self.tool_calls));
        }
        let mut body = Map::new();
        body.insert("model".to_owned(), json!(self.model));
        body.insert(
            "created_at".to_owned(),
            json!("2025-10-17T23:14:07.414671Z"),
        );
        body.insert("message".to_owned(), Value::Object(message));
        body.insert("done_reason".to_owned(), json!(self.done_reason));
        body.insert("done".to_owned(), json!(true));
        body.insert("total_duration".to_owned(), json!(5_191_566_416_u64));
        body.insert("load_duration".to_owned(), json!(2_154_458_u64));
        if let Some(count) = self.prompt_eval_count {
            body.insert("prompt_eval_count".to_owned(), json!(count));
            body.insert("prompt_eval_duration".to_owned(), json!(383_809_000_u64));
        }
        body.insert("eval_count".to_owned(), json!(self.eval_count));
        body.insert("eval_duration".to_owned(), json!(4_799_921_000_u64));
        Value::Object(body)
    }

    /// The answer to push onto a [`TestServer`](crate::TestServer).
    ///
    /// ```
    /// use elelem_testkit::wire::OllamaChat;
    ///
    /// assert_eq!(OllamaChat::new("m", "x").into_response().status(), Some(200));
    /// ```
    pub fn into_response(self) -> ScriptedResponse {
        ScriptedResponse::json(200, self.to_json())
    }
}

impl From<OllamaChat> for ScriptedResponse {
    fn from(chat: OllamaChat) -> Self {
        chat.into_response()
    }
}

/// Ollama's error answer `{"error": "…"}` with the given status (404 for a model
/// that is not pulled, 500 for a runner failure, 503 when its queue is full).
///
/// ```
/// use elelem_testkit::wire;
///
/// let answer = wire::ollama_error(404, "model \"llama9\" not found, try pulling it first");
/// assert_eq!(answer.status(), Some(404));
/// assert_eq!(answer.json_body().unwrap_or_default()["error"], "model \"llama9\" not found, try pulling it first");
/// ```
pub fn ollama_error(status: u16, message: &str) -> ScriptedResponse {
    ScriptedResponse::json(status, json!({"error": message}))
}
