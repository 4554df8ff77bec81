//! The embeddings APIs' refusals of over-limit batches: OpenAI takes at most
//! 2,048 inputs a request and no empty text; Gemini's `batchEmbedContents` at
//! most 100 requests. Ollama's `/api/embed` takes any number.

use serde_json::{json, Value};

/// OpenAI's most inputs in one `/embeddings` request.
pub(crate) const OPENAI_MAX_INPUTS: usize = 2048;

/// Gemini's most requests in one `batchEmbedContents` batch.
pub(crate) const GEMINI_MAX_REQUESTS: usize = 100;

/// OpenAI's 400 for an invalid `input`.
fn openai_invalid(message: &str) -> Value {
    json!({"error": {
        "message": message,
        "type": "invalid_request_error",
        "param": null,
        "code": null
    }})
}

pub(super) fn openai_refusal(body: &[u8]) -> Option<Value> {
    let request: Value = serde_json::from_slice(body).ok()?;
    let inputs = match request.get("input")? {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    if inputs.len() > OPENAI_MAX_INPUTS {
        return Some(openai_invalid(&format!(
            "Too many inputs. The max number of inputs is {OPENAI_MAX_INPUTS}. We recommend sending fewer inputs per request."
        )));
    }
    if inputs.iter().any(|i| i.as_str() == Some("")) {
        return Some(openai_invalid(
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        ));
    }
    None
}

pub(super) fn gemini_refusal(body: &[u8]) -> Option<Value> {
    let request: Value = serde_json::from_slice(body).ok()?;
    let count = request.get("requests")?.as_array()?.len();
    (count > GEMINI_MAX_REQUESTS).then(|| {
        json!({"error": {
            "code": 400,
            "message": format!("* BatchEmbedContentsRequest.requests: at most {GEMINI_MAX_REQUESTS} requests can be in one batch\n"),
            "status": "INVALID_ARGUMENT"
        }})
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_limit_batches_are_refused() {
        let ok = json!({"model": "m", "input": vec!["x"; OPENAI_MAX_INPUTS]}).to_string();
        assert_eq!(openai_refusal(ok.as_bytes()), None);
        let many = json!({"model": "m", "input": vec!["x"; OPENAI_MAX_INPUTS + 1]}).to_string();
        assert!(openai_refusal(many.as_bytes()).is_some());
        assert!(openai_refusal(br#"{"model": "m", "input": ""}"#).is_some());
        let batch = |n: usize| json!({"requests": vec![json!({}); n]}).to_string();
        assert_eq!(gemini_refusal(batch(100).as_bytes()), None);
        let refused = gemini_refusal(batch(101).as_bytes()).unwrap_or_default();
        assert_eq!(refused["error"]["status"], "INVALID_ARGUMENT");
    }
}
