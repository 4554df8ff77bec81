//! OpenAI's refusals of parameters its reasoning models (o-series, gpt-5) do not take.

use serde_json::{json, Value};

/// Whether OpenAI restricts this model's sampling parameters (o1, o3, o4-mini, gpt-5, ...).
fn is_reasoning_model(model: &str) -> bool {
    let mut chars = model.chars();
    let o_series = chars.next() == Some('o') && chars.next().is_some_and(|c| c.is_ascii_digit());
    o_series || model.starts_with("gpt-5")
}

/// OpenAI's 400 for a parameter this model does not support.
fn unsupported(param: &str, hint: &str) -> Value {
    json!({"error": {
        "message": format!("Unsupported parameter: '{param}' is not supported with this model.{hint}"),
        "type": "invalid_request_error",
        "param": param,
        "code": "unsupported_parameter"
    }})
}

pub(super) fn refusal(body: &[u8]) -> Option<Value> {
    let request: Value = serde_json::from_slice(body).ok()?;
    let model = request.get("model")?.as_str()?;
    if !is_reasoning_model(model) {
        return None;
    }
    if request.get("max_tokens").is_some() {
        return Some(unsupported(
            "max_tokens",
            " Use 'max_completion_tokens' instead.",
        ));
    }
    if request.get("temperature").is_some() {
        return Some(unsupported("temperature", ""));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reasoning_models_are_restricted() {
        let body = br#"{"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 5}"#;
        assert_eq!(refusal(body), None);
        let refused = refusal(br#"{"model": "o3-mini", "temperature": 0.2}"#);
        assert_eq!(
            refused.as_ref().map(|v| v["error"]["param"].clone()),
            Some(json!("temperature"))
        );
        let refused = refusal(br#"{"model": "gpt-5", "max_tokens": 5}"#).unwrap_or_default();
        assert_eq!(refused["error"]["code"], "unsupported_parameter");
        assert!(refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("Use 'max_completion_tokens' instead.")));
        assert_eq!(
            refusal(br#"{"model": "gpt-5", "max_completion_tokens": 5}"#),
            None
        );
        assert_eq!(
            refusal(br#"{"model": "openai/gpt-5", "temperature": 1}"#),
            None
        );
    }
}
