//! Anthropic Messages API refusals: unknown top-level fields, a missing required field,
//! roles other than `user` and `assistant`, and a thinking budget out of range.

use serde_json::{json, Map, Value};

/// The top-level fields of a Messages request.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
];

/// Anthropic's 400 `invalid_request_error` with this message.
fn invalid(message: &str) -> Value {
    json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}})
}

pub(super) fn refusal(body: &[u8]) -> Option<Value> {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return Some(invalid(
            "There was an error parsing the body of your request: the body must be a JSON object.",
        ));
    };
    problem(&request).map(|message| invalid(&message))
}

fn problem(request: &Map<String, Value>) -> Option<String> {
    if let Some(extra) = request.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Some(format!("{extra}: Extra inputs are not permitted"));
    }
    for required in ["model", "messages", "max_tokens"] {
        if !request.contains_key(required) {
            return Some(format!("{required}: Field required"));
        }
    }
    let messages = request.get("messages").and_then(Value::as_array);
    for (i, message) in messages.into_iter().flatten().enumerate() {
        let role = message.get("role").and_then(Value::as_str);
        if !matches!(role, Some("user" | "assistant")) {
            return Some(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            ));
        }
    }
    thinking_problem(request)
}

/// `thinking.budget_tokens` must be at least 1024 and below `max_tokens`.
fn thinking_problem(request: &Map<String, Value>) -> Option<String> {
    let thinking = request.get("thinking")?;
    if thinking.get("type").and_then(Value::as_str) != Some("enabled") {
        return None;
    }
    let Some(budget) = thinking.get("budget_tokens").and_then(Value::as_u64) else {
        return Some("thinking.enabled.budget_tokens: Field required".to_owned());
    };
    if budget < 1024 {
        return Some(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
                .to_owned(),
        );
    }
    let max_tokens = request.get("max_tokens").and_then(Value::as_u64)?;
    (budget >= max_tokens).then(|| {
        "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our \
         documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &Value) -> Option<String> {
        let refused = refusal(body.to_string().as_bytes())?;
        assert_eq!(refused["type"], "error");
        assert_eq!(refused["error"]["type"], "invalid_request_error");
        refused["error"]["message"].as_str().map(str::to_owned)
    }

    #[test]
    fn a_valid_request_passes() {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 2048, "system": "s",
            "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "enabled", "budget_tokens": 1024}, "stream": true});
        assert_eq!(message(&body), None);
    }

    #[test]
    fn refusals_name_the_field() {
        let base = json!({"model": "m", "max_tokens": 10, "messages": []});
        let mut extra = base.clone();
        extra["stream_options"] = json!({"include_usage": true});
        assert_eq!(
            message(&extra).as_deref(),
            Some("stream_options: Extra inputs are not permitted")
        );
        let mut missing = base.clone();
        missing.as_object_mut().map(|o| o.remove("max_tokens"));
        assert_eq!(
            message(&missing).as_deref(),
            Some("max_tokens: Field required")
        );
        let mut system_role = base.clone();
        system_role["messages"] = json!([{"role": "system", "content": "x"}]);
        assert!(message(&system_role).is_some_and(|m| m.starts_with("messages.0.role")));
        let mut small = base.clone();
        small["thinking"] = json!({"type": "enabled", "budget_tokens": 512});
        assert!(message(&small).is_some_and(|m| m.contains("greater than or equal to 1024")));
        let mut too_big = base;
        too_big["thinking"] = json!({"type": "enabled", "budget_tokens": 2048});
        assert!(message(&too_big).is_some_and(|m| m.starts_with("`max_tokens` must be greater")));
    }
}
