//! Bedrock Converse refusals (`ValidationException`): unknown top-level or
//! `inferenceConfig` fields, no messages, a conversation not starting with
//! `user` or whose roles do not alternate, and empty content.

use serde_json::{json, Map, Value};

/// The top-level fields of a Converse request (the model id is in the path).
const FIELDS: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
];

/// The fields of `inferenceConfig`.
const INFERENCE: &[&str] = &["maxTokens", "temperature", "topP", "stopSequences"];

/// Bedrock's 400 body (the test server sends it without `x-amzn-errortype`).
fn invalid(message: &str) -> Value {
    json!({"message": message})
}

pub(super) fn refusal(body: &[u8]) -> Option<Value> {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return Some(invalid(
            "Malformed input request, please reformat your input and try again.",
        ));
    };
    problem(&request).map(|message| invalid(&message))
}

fn problem(request: &Map<String, Value>) -> Option<String> {
    let extraneous = |key: &str| {
        format!("Malformed input request: extraneous key [{key}] is not permitted, please reformat your input and try again.")
    };
    if let Some(key) = request.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Some(extraneous(key));
    }
    if let Some(Value::Object(config)) = request.get("inferenceConfig") {
        if let Some(key) = config.keys().find(|k| !INFERENCE.contains(&k.as_str())) {
            return Some(extraneous(key));
        }
    }
    let messages = request.get("messages").and_then(Value::as_array)?;
    if messages.is_empty() {
        return Some("A conversation must start with a user message. Try again with a conversation that starts with a user message.".into());
    }
    let mut expected = "user";
    for message in messages {
        if message.get("role").and_then(Value::as_str) != Some(expected) {
            return Some(
                if expected == "user" && std::ptr::eq(message, &messages[0]) {
                    "A conversation must start with a user message. Try again with a conversation that starts with a user message.".into()
                } else {
                    "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.".into()
                },
            );
        }
        let empty = match message.get("content") {
            Some(Value::Array(content)) => content.is_empty(),
            _ => true,
        };
        if empty {
            return Some("The content field in the Message object is empty. Add a ContentBlock object to the content field and try again.".into());
        }
        expected = if expected == "user" {
            "assistant"
        } else {
            "user"
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: Value) -> Option<String> {
        refusal(body.to_string().as_bytes()).and_then(|v| v["message"].as_str().map(str::to_owned))
    }

    #[test]
    fn converse_requests_are_checked_like_bedrock() {
        let user = json!({"role": "user", "content": [{"text": "hi"}]});
        assert_eq!(
            check(json!({"messages": [user.clone()], "inferenceConfig": {"maxTokens": 5}})),
            None
        );
        assert!(check(json!({"messages": [user.clone()], "model": "m"}))
            .unwrap()
            .contains("[model]"));
        assert!(
            check(json!({"messages": [user.clone()], "inferenceConfig": {"seed": 1}}))
                .unwrap()
                .contains("[seed]")
        );
        assert!(check(json!({"messages": [user.clone(), user.clone()]}))
            .unwrap()
            .contains("alternate"));
        assert!(
            check(json!({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}))
                .unwrap()
                .contains("start with a user")
        );
        assert!(
            check(json!({"messages": [{"role": "user", "content": []}]}))
                .unwrap()
                .contains("empty")
        );
    }
}
